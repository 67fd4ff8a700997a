"""Where the reference tools' sources are, for the parity tests that load one file of theirs.

labelme (GPL-3.0, imports Qt), Ultralytics (imports torch) and label-studio-converter are
references whose packages cannot be imported here, so their tests compile single files of
their source. ``make test-venv`` unpacks them with ``pip install --no-deps --target
<venv>/refs``: never on the import path, where label-studio-converter's top-level ``tests``
package would hide ours. An installed package is used first.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def package_folder(name: str) -> Path | None:
    """The source folder of package ``name``: installed, else under $SEGTOOL_REFS (default
    ``<venv>/refs``); None when neither has it (its tests then skip and say why)."""
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    folder = Path(os.environ.get("SEGTOOL_REFS", Path(sys.prefix) / "refs")) / name
    return folder if folder.is_dir() else None
