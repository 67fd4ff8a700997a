"""The documentation's examples run as written (doctest), from the repository root."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", ["docs/api.md"])
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(
        str(ROOT / page),
        module_relative=False,
        globs={"out": tmp_path},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 10
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page} failed (see the output above)"
    assert os.getcwd() == str(ROOT)
