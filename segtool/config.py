"""Defaults for the command line from a config file: ``[tool.segtool]`` in a pyproject.toml,
or a segtool.toml whose top level is that table.

The file is found by :func:`find_config`, from a folder upward to the filesystem root or to
the first folder holding ``.git`` (a repository's root), whichever comes first; in one
folder a segtool.toml wins over a pyproject.toml, and a pyproject.toml without a
``[tool.segtool]`` table is passed over. Keys at the top level are shared by every command;
a table per command (``[tool.segtool.validate]``, ``[tool.segtool.eval]``,
``[tool.segtool.eval.panoptic]``) holds that command's, the more specific winning.

This module only finds, parses and layers the file: which keys are options, and of which
type, is the command line's to say (``segtool.cli.configure``), and it prints nothing.

Example:
    >>> from segtool.config import Config
    >>> c = Config("pyproject.toml", {"jobs": 2, "eval": {"jobs": 1, "panoptic": {"fail-under": ["PQ=0.5"]}}}, True)
    >>> [(c.table_name(*keys), table) for keys, table in c.layers(["eval", "panoptic"])]
    [('[tool.segtool]', {'jobs': 2}), ('[tool.segtool.eval]', {'jobs': 1}), ('[tool.segtool.eval.panoptic]', {'fail-under': ['PQ=0.5']})]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SegtoolError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "segtool.toml"
PYPROJECT = "pyproject.toml"


class ConfigError(SegtoolError):
    """A config file that cannot be read or holds what segtool does not take; ``path`` is the file."""


def normalise(key: str) -> str:
    """A key as the command line's option names are compared: ``fail-on`` and ``fail_on`` are one key."""
    return key.replace("-", "_")


@dataclass(frozen=True)
class Config:
    """The settings of one config file: ``data`` is the ``[tool.segtool]`` table of a
    pyproject.toml (``in_pyproject``), or the whole of a segtool.toml."""

    path: Path | str
    data: dict[str, Any]
    in_pyproject: bool

    @property
    def folder(self) -> Path:
        """The file's folder: relative paths in the file are relative to it."""
        return Path(self.path).resolve().parent

    def table_name(self, *keys: str) -> str:
        """``[tool.segtool.eval]`` (pyproject.toml), ``[eval]`` (segtool.toml), for messages;
        empty for a segtool.toml's top level."""
        parts = (["tool", "segtool"] if self.in_pyproject else []) + list(keys)
        return f"[{'.'.join(parts)}]" if parts else ""

    def describe(self) -> str:
        """``/repo/pyproject.toml [tool.segtool]``: which file (and table) the settings came from."""
        return f"{self.path} [tool.segtool]" if self.in_pyproject else str(self.path)

    def table(self, keys: Sequence[str]) -> dict[str, Any]:
        """The table at ``keys`` (``()``: the top level); empty when there is none."""
        node: Any = self.data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def layers(self, command: Sequence[str]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """The settings that apply to ``command`` (``["eval", "panoptic"]``), most general first:
        the top level's keys, then each table along the command's path; tables within a table
        (another command's) are left out. Each layer is (its table's keys, its settings)."""
        out = []
        for depth in range(len(command) + 1):
            keys = tuple(command[:depth])
            settings = {k: v for k, v in self.table(keys).items() if not isinstance(v, dict)}
            out.append((keys, settings))
        return out


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text, as TOML must be", str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror or exc})", str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", str(path)) from None


def _segtool_table(data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("segtool") if isinstance(tool, dict) else None


def read_config(path: Path | str) -> Config:
    """The settings of the file at ``path``: a file named pyproject.toml gives its
    ``[tool.segtool]`` table (which it must have), any other file its whole content."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such config file", str(path))
    data = _parse(path)
    if path.name != PYPROJECT:
        return Config(path, data, False)
    table = _segtool_table(data)
    if table is None:
        raise ConfigError("has no [tool.segtool] table", str(path))
    if not isinstance(table, dict):
        raise ConfigError("tool.segtool must be a table", str(path))
    return Config(path, table, True)


def _pyproject_has_table(path: Path) -> bool:
    """Whether a pyproject.toml met on the way up has segtool settings. One that cannot be
    read or parsed is passed over, unless its text names segtool (then it was meant for it)."""
    try:
        text = path.read_bytes()
    except OSError:
        return False
    try:
        return _segtool_table(tomllib.loads(text.decode("utf-8"))) is not None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        if b"segtool" in text:
            _parse(path)  # raises the parser's message, with the file's name
        return False


def find_config(start: Path | str | None = None) -> Path | None:
    """The config file that applies in the folder ``start`` (default: the current one):
    the nearest segtool.toml, or pyproject.toml with a ``[tool.segtool]`` table, from
    ``start`` up to the filesystem root or the first folder holding ``.git``."""
    folder = Path.cwd() if start is None else Path(start)
    folder = folder.resolve()
    for here in (folder, *folder.parents):
        candidate = here / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = here / PYPROJECT
        if pyproject.is_file() and _pyproject_has_table(pyproject):
            return pyproject
        if (here / ".git").exists():
            return None
    return None


def discover(start: Path | str | None = None) -> Config | None:
    """The settings of :func:`find_config`'s file, or None when there is none."""
    found = find_config(start)
    return None if found is None else read_config(found)
