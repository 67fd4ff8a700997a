"""Fuzzing the C kernels under AddressSanitizer + UBSan without touching the working tree.

``make sanitize`` rebuilds segtool/_kernels*.so in place for the whole suite; a fuzz run
must not (other processes use that file). Instead ``python -m fuzz all --asan`` builds a
sanitized copy in a temporary folder and tells each child where it is (``FUZZ_KERNELS``),
with the sanitizer runtimes preloaded; the child loads that copy as ``segtool._kernels``
before anything imports segtool. A read or write out of bounds then aborts the child,
which the parent reports as a crash with the input that caused it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = "FUZZ_KERNELS"


def build(dest: Path) -> dict[str, str]:
    """Compile segtool/_kernels.c with ASan + UBSan into ``dest``; the environment a child
    needs to use it. Raises CalledProcessError when gcc fails."""
    so = dest / ("_kernels" + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    flags = ["-shared", "-fPIC", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    flags += ["-fno-omit-frame-pointer", f"-I{include}"]
    subprocess.run(["gcc", *flags, str(ROOT / "segtool" / "_kernels.c"), "-o", str(so)], check=True)

    def runtime(name: str) -> str:
        return subprocess.run(
            ["gcc", f"-print-file-name={name}"], capture_output=True, text=True, check=True
        ).stdout.strip()

    return {
        ENV: str(so),
        "LD_PRELOAD": f"{runtime('libasan.so')} {runtime('libubsan.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }


def use_kernels_from_env() -> None:
    """Load ``$FUZZ_KERNELS`` as ``segtool._kernels`` (call before importing segtool)."""
    path = os.environ.get(ENV)
    if not path:
        return
    if "segtool" in sys.modules:
        raise RuntimeError("segtool was imported before the sanitized kernels were loaded")
    spec = importlib.util.spec_from_file_location("segtool._kernels", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["segtool._kernels"] = module
    spec.loader.exec_module(module)
