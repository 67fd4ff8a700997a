"""``--config FILE`` and ``--no-config`` on every command: defaults from a config file
(:mod:`segtool.config`) become click's ``default_map``, so the command line always wins and
every option a command has can be set, the ones added later included.

A key is an option's long name without its dashes (``fail-on`` or ``fail_on``, ``from``,
``images``); a path is relative to the config file's folder. The whole file is checked on
every run, against every command: an unknown key or a value of the wrong type is one line
``Error: <file>: [table] key: what is wrong`` and exit 2, whichever command runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..config import Config, ConfigError, discover, normalise, read_config
from ..storage import is_url

# What a config file may not set: the options of one run's outputs (a config naming a
# --json file or --overwrite would write or replace files on every run, unasked).
PER_RUN = frozenset({"help", "config", "no_config", "json", "csv", "overwrite", "fix"})

_STATE = "segtool.config"  # ctx.meta: what this run's config options said, and what was used


def leaves(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command that runs (not a group), with its path of names (``("eval", "panoptic")``)."""
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from leaves(sub, (*path, name))
    else:
        yield path, command


def option_keys(command: click.Command) -> dict[str, click.Option]:
    """A command's options by config key: each long name, dashes as underscores."""
    out: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        for name in param.opts:
            key = normalise(name[2:]) if name.startswith("--") else None
            if key and key not in PER_RUN:
                out[key] = param
    return out


class _Checker:
    """Checks a whole config against a command tree, and gives each command its defaults."""

    def __init__(self, config: Config, root: click.Command) -> None:
        self.config = config
        self.commands = dict(leaves(root))

    def fail(self, keys: tuple[str, ...], key: str, problem: str) -> ConfigError:
        table = self.config.table_name(*keys)
        return ConfigError(f"{table + ' ' if table else ''}{key}: {problem}", str(self.config.path))

    def under(self, keys: tuple[str, ...]) -> dict[tuple[str, ...], click.Command]:
        """The commands a table at ``keys`` applies to."""
        return {path: cmd for path, cmd in self.commands.items() if path[: len(keys)] == keys}

    def check(self, keys: tuple[str, ...] = ()) -> None:
        """Every key of the table at ``keys`` (and of the tables in it): an option of a
        command it applies to, with a value that option takes."""
        table = self.config.table(keys)
        seen: dict[str, str] = {}
        commands = self.under(keys)
        for key, value in table.items():
            if isinstance(value, dict):
                if not any(len(path) > len(keys) and path[len(keys)] == key for path in commands):
                    raise self.fail(keys, key, f"unknown command table; commands: {self.names(keys)}")
                self.check((*keys, key))
                continue
            norm = normalise(key)
            if norm in seen:
                raise self.fail(keys, key, f"given twice (as {seen[norm]!r} too)")
            seen[norm] = key
            having = {path: option_keys(cmd)[norm] for path, cmd in commands.items() if norm in option_keys(cmd)}
            if not having:
                raise self.fail(keys, key, self.unknown(norm, commands))
            problems = {}
            for path, param in having.items():
                try:
                    value_for(param, value, self.config.folder)
                except click.BadParameter as exc:
                    problems[path] = exc.message.rstrip(".")
            if problems:  # naming the commands that refuse it, when others take it
                some = "" if len(problems) == len(having) else f" (for {', '.join(' '.join(p) for p in problems)})"
                raise self.fail(keys, key, next(iter(problems.values())) + some)

    def names(self, keys: tuple[str, ...]) -> str:
        return ", ".join(sorted({path[len(keys)] for path in self.under(keys) if len(path) > len(keys)})) or "none"

    def unknown(self, key: str, commands: dict[tuple[str, ...], click.Command]) -> str:
        if key in PER_RUN:
            return "is given on the command line only (it names an output of one run)"
        known = sorted({k.replace("_", "-") for cmd in commands.values() for k in option_keys(cmd)})
        return f"unknown option; known here: {', '.join(known)}"

    def defaults(self, path: tuple[str, ...]) -> dict[str, Any]:
        """The default_map of the command at ``path``: the values of every layer that
        applies to it, the more specific winning, keyed by parameter name."""
        keys = option_keys(self.commands[path])
        out: dict[str, Any] = {}
        for _, table in self.config.layers(path):
            for key, value in table.items():
                param = keys.get(normalise(key))
                if param is not None and param.name is not None:
                    out[param.name] = value_for(param, value, self.config.folder)
        return out


def value_for(param: click.Option, value: Any, folder: Path) -> Any:
    """``value`` from a config file as the option ``param`` takes it (a list for a repeatable
    option), or ``click.BadParameter`` saying why not. TOML's types are kept strict: a string
    is not a number, a number is not a flag. An option that takes text takes a number as its
    text (``tolerance = 0``) and a list joined by commas (``select = ["a", "b"]``); a relative
    path is made relative to the config file's ``folder``."""
    if param.multiple:
        items = value if isinstance(value, list) else [value]
        return [_scalar(param, item, folder) for item in items]
    return _scalar(param, value, folder)


def _scalar(param: click.Option, value: Any, folder: Path) -> Any:
    kind = param.type
    if isinstance(kind, click.types.BoolParamType) or param.is_flag:
        if not isinstance(value, bool):
            raise click.BadParameter(f"expected true or false, not {value!r}")
        return value
    if isinstance(value, bool):
        raise click.BadParameter(f"expected {_what(kind)}, not {value!r}")
    if isinstance(kind, click.types.IntParamType) and not isinstance(value, int):
        raise click.BadParameter(f"expected an integer, not {value!r}")
    if isinstance(kind, click.types.FloatParamType) and not isinstance(value, int | float):
        raise click.BadParameter(f"expected a number, not {value!r}")
    if isinstance(kind, click.types.StringParamType) and isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise click.BadParameter(f"expected a string or a list of strings, not {value!r}")
        value = ",".join(str(v) for v in value)
    elif isinstance(kind, click.types.StringParamType) and isinstance(value, int | float):
        value = str(value)  # text that is a number (tolerance = 0)
    if isinstance(kind, click.Path | click.Choice | click.types.StringParamType) and not isinstance(value, str):
        raise click.BadParameter(f"expected {_what(kind)}, not {value!r}")
    kind.convert(value, param, None)  # click converts the default again; this only checks it
    if isinstance(kind, click.Path) and not is_url(value):  # a URL is staged as on the command line
        return str(folder / Path(value))  # an absolute path stays itself
    return value


def _what(kind: Any) -> str:
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(repr(str(c)) for c in kind.choices)
    if isinstance(kind, click.Path):
        return "a path (a string)"
    if isinstance(kind, click.types.IntParamType):
        return "an integer"
    if isinstance(kind, click.types.FloatParamType):
        return "a number"
    return "a string"


def command_path(ctx: click.Context) -> tuple[str, ...]:
    """``("eval", "panoptic")``: the names from the root command down to ``ctx``'s."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


def _option_seen(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Callback of ``--config`` and ``--no-config`` (both eager, declared first, so run
    before any other option takes its default): once both are known, read the config and
    make it this command's default_map."""
    state = ctx.meta.setdefault(_STATE, {})
    state[param.name] = value
    if "config" in state and "no_config" in state:
        _load(ctx, state["config"], state["no_config"])


def _load(ctx: click.Context, file: Path | None, off: bool) -> None:
    state = ctx.meta[_STATE]
    if file is not None and off:
        raise click.UsageError("--config names a config file and --no-config reads none: pass one")
    if off:
        _debug(ctx, "config: none read (--no-config)")
        return
    config = read_config(file) if file is not None else discover()
    if config is None:
        _debug(ctx, "config: none found (segtool.toml, or pyproject.toml with [tool.segtool])")
        return
    checker = _Checker(config, ctx.find_root().command)
    checker.check()
    defaults = checker.defaults(command_path(ctx))
    ctx.default_map = {**defaults, **(ctx.default_map or {})}
    state["used"] = f"config: {config.describe()}"
    _debug(ctx, state["used"])


def _debug(ctx: click.Context, line: str) -> None:
    """With ``--debug``, which config file this run read (or why none) on stderr."""
    if ctx.meta.get("segtool.debug"):
        click.echo(line, err=True)


def used(ctx: click.Context) -> str | None:
    """``config: FILE`` when this run took defaults from a config file (``-v`` says so)."""
    found = ctx.meta.get(_STATE, {}).get("used")
    return None if found is None else str(found)


def _options() -> list[click.Option]:
    return [
        click.Option(
            ["--config", "config"],
            type=click.Path(path_type=Path, dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_option_seen,
            help="Defaults from this TOML file (default: the nearest segtool.toml, or pyproject.toml with "
            "[tool.segtool], from here up to the repository's root); the command line wins. See docs/config.md.",
        ),
        click.Option(
            ["--no-config", "no_config"],
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_option_seen,
            help="Read no config file.",
        ),
    ]


def install(root: click.Command) -> None:
    """Give every command under ``root`` ``--config`` and ``--no-config``, first among its
    options: eager options run in declaration order, so the defaults are in place before
    any other option (``-q`` and ``--limit`` are eager too) looks for its own."""
    for _, command in leaves(root):
        if not any(p.name == "config" for p in command.params):
            command.params[:0] = _options()
