"""Object storage (``s3://``, ``gs://``, ``az://``, ``https://`` …) as inputs and outputs.

segtool's readers and writers work on local paths: every format, its sibling folders and its
checks are written for a file system. So a URL is not read in place; it is *staged*:

- an input URL (a file, or a prefix read as a folder) is downloaded with fsspec into a
  private temporary folder, under its own name (a coco-panoptic JSON with its sibling PNG
  prefix), and the command runs on that local copy;
- an output URL is written locally first (atomically, :mod:`segtool.atomic`), then
  :func:`publish` uploads it under a temporary prefix ``NAME.segtool-tmp-XXXXXXXX`` beside
  the destination and copies it into place: every object but the JSON files first, the
  nested JSON next, the top-level JSON (a format's index) last, so that a reader who finds
  the index finds everything it names. A failure or an interrupt at any point deletes the
  temporary prefix and every object this run had copied into place that was not there
  before; nothing of a failed run stays visible.

Credentials and endpoints come from the environment as each fsspec backend reads them
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` …, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_CONNECTION_STRING``), and from ``--storage-option KEY=VALUE``. Every failure
of the storage layer is a :class:`~segtool.errors.SegtoolError` naming the URL (exit 2).
See docs/storage.md.
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .atomic import inside
from .errors import OutputExistsError, SegtoolError, one_line
from .interrupts import deferred

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]+)://")
READ_ONLY = frozenset({"http", "https"})
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}
BATCH = 64  # files per transfer: an interrupt waits for at most one batch (see _batches)
TEMP_MARK = ".segtool-tmp-"
STALE_AFTER = 24 * 3600.0  # seconds after which a temporary prefix is a killed run's (see _sweep)


def is_url(text: object) -> bool:
    """Whether ``text`` is a URL (``scheme://…``) rather than a local path.

    A Windows drive (``C:\\data``) has a one-letter scheme and no ``//``: never a URL.

    Example:
        >>> is_url("s3://bucket/val.json"), is_url("data/val.json"), is_url("C:\\\\val.json")
        (True, False, False)
    """
    return isinstance(text, str) and bool(_URL.match(text))


def protocol(url: str) -> str:
    """``s3`` for ``s3://bucket/key``."""
    found = _URL.match(url)
    return found.group(1).lower() if found else "file"


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--storage-option``: VALUE parsed as JSON when it parses (numbers,
    ``true``, objects such as ``client_kwargs={"region_name": "eu-west-1"}``), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SegtoolError(f"--storage-option takes KEY=VALUE, not {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _reason(exc: BaseException) -> str:
    """The first line of a backend's error, without its class name when it says enough."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return f"not found ({text})" if text else "not found"
    if isinstance(exc, PermissionError):
        return f"access denied ({text})" if text else "access denied"
    return f"{kind}: {text}" if text else kind


@contextmanager
def storage_errors(url: str, doing: str) -> Iterator[None]:
    """Any failure of the storage layer (no credentials, no bucket, a missing key, an
    unreachable endpoint) as one line naming ``url``: the backends raise anything from
    ``FileNotFoundError`` to botocore's and aiohttp's own exceptions."""
    try:
        yield
    except SegtoolError:
        raise
    except Exception as exc:
        raise SegtoolError(one_line(f"cannot {doing}: {_reason(exc)}"), url) from None


class Storage:
    """The fsspec file systems of one run, one per protocol, made with the run's options."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        self._fs: dict[str, Any] = {}

    def fs(self, url: str) -> tuple[Any, str]:
        """The file system for ``url`` and the path within it (``bucket/key``, no slash at the end)."""
        name = protocol(url)
        if name not in self._fs:
            extra = EXTRAS.get(name)
            hint = f"pip install 'segtool[{extra}]'" if extra else "install the fsspec backend for it"
            try:
                fsspec = importlib.import_module("fsspec")  # optional (segtool[s3] ...), and untyped
            except ImportError:
                raise SegtoolError(f"{name}:// needs fsspec: {hint}", url) from None
            try:
                self._fs[name] = fsspec.filesystem(name, skip_instance_cache=True, **self.options)
            except ImportError:
                raise SegtoolError(f"{name}:// needs its fsspec backend: {hint}", url) from None
            except (ValueError, TypeError) as exc:
                raise SegtoolError(f"cannot open {name}:// with these storage options: {_reason(exc)}", url) from None
        fs = self._fs[name]
        return fs, fs._strip_protocol(url).rstrip("/")

    def kind(self, url: str) -> str | None:
        """``file``, ``directory`` (a prefix with objects under it) or None when nothing is there."""
        fs, path = self.fs(url)
        with storage_errors(url, "read"):
            fs.invalidate_cache()
            try:
                info = fs.info(path)
            except FileNotFoundError:
                return None
            return "directory" if info.get("type") == "directory" else "file"


def _batches(pairs: list[tuple[str, str]]) -> Iterator[tuple[list[str], list[str]]]:
    """``pairs`` in batches of :data:`BATCH`, each run with SIGINT/SIGTERM held back by the
    caller: fsspec transfers on its own event loop thread, and an interrupt raised in the
    middle of one would leave transfers running after the clean-up has listed what to delete."""
    for i in range(0, len(pairs), BATCH):
        chunk = pairs[i : i + BATCH]
        yield [a for a, _ in chunk], [b for _, b in chunk]


def stage(storage: Storage, url: str, folder: Path) -> Path:
    """Download ``url`` into ``folder`` under its own name and return the local path.

    A file comes with its sibling prefix named by its stem when it is a ``.json`` (a
    coco-panoptic JSON's PNG folder, as locally); a prefix comes as a folder of everything
    under it. Keys that would leave the folder (``..``) are refused, as a dataset's
    ``file_name`` is."""
    fs, path = storage.fs(url)
    name = path.rsplit("/", 1)[-1]
    if not name:
        raise SegtoolError("names a bucket or a root, not a file or a prefix under it", url)
    found = storage.kind(url)
    if found is None:
        raise SegtoolError("not found (no such key or prefix)", url)
    local = inside(folder, name, "URL")
    pairs: list[tuple[str, str]] = []
    if found == "file":
        pairs.append((path, str(local)))
        if name.lower().endswith(".json") and storage.kind(url.rstrip("/")[:-5]) == "directory":
            pairs += _tree(storage, url.rstrip("/")[:-5], inside(folder, name[:-5], "URL"))
    else:
        pairs += _tree(storage, url, local)
        local.mkdir(parents=True, exist_ok=True)
    with storage_errors(url, "download"):
        for remote, here in _batches(pairs):
            for p in here:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
            with deferred():
                fs.get(remote, here)
    return local


def _tree(storage: Storage, url: str, local: Path) -> list[tuple[str, str]]:
    """(key, local path) of every object under the prefix ``url``."""
    fs, path = storage.fs(url)
    with storage_errors(url, "list"):
        keys = fs.find(path)
    return [(k, str(inside(local, k[len(path) + 1 :], "key"))) for k in keys if k.startswith(path + "/")]


def check_output(storage: Storage, url: str, *, overwrite: bool) -> None:
    """Refuse before any work an output URL that cannot be written (``https://``, a bucket)
    or that exists without ``overwrite``."""
    if protocol(url) in READ_ONLY:
        raise SegtoolError(f"{protocol(url)}:// is for reading only; write to s3://, gs://, az:// or a local path", url)
    _, path = storage.fs(url)
    if "/" not in path:
        raise SegtoolError("names a bucket, not a key in it: give a key (s3://BUCKET/NAME)", url)
    if storage.kind(url) is not None and not overwrite:
        raise OutputExistsError("already exists (pass --overwrite to replace it)", url)
    bucket = url[: url.index("://") + 3] + path.split("/", 1)[0]
    try:
        missing = storage.kind(bucket) is None
    except SegtoolError:  # may write the key but not list the bucket: the upload will tell
        missing = False
    if missing:
        raise SegtoolError("no such bucket (or container): create it first", url)


def refuse_url_clashes(outputs: list[str], inputs: list[str]) -> None:
    """No output URL may be an input URL, hold one, or lie inside an input prefix, even with
    ``--overwrite`` (as :func:`segtool.atomic.refuse_inputs` for local paths)."""
    for out in outputs:
        o = out.rstrip("/")
        for given in inputs:
            i = given.rstrip("/")
            siblings = [i, i[:-5]] if i.lower().endswith(".json") else [i]
            for s in siblings:
                if o == s or s.startswith(o + "/") or o.startswith(s + "/"):
                    raise SegtoolError(f"the destination would replace or lie inside the input {given}", out)


def publish(storage: Storage, staged: Path, url: str, *, overwrite: bool) -> list[str]:
    """Upload what a command wrote into ``staged`` (the local parent of its output) beside
    ``url``, atomically for readers as far as object storage allows; return the URLs written.

    Upload under ``NAME.segtool-tmp-XXXXXXXX/``, then server-side copies into place (the
    top-level JSON last), then the objects of an overwritten output that the new one does
    not have are deleted. On any failure or interrupt the temporary prefix goes, and so does
    every object copied into place that did not exist before. Killed runs' temporaries on
    the same destination, a day old, are swept first (:func:`_sweep`)."""
    fs, path = storage.fs(url)
    parent, name = path.rsplit("/", 1)
    temp = f"{parent}/{name}{TEMP_MARK}{secrets.token_hex(4)}"
    files = sorted(p for p in staged.rglob("*") if p.is_file())
    rels = [p.relative_to(staged).as_posix() for p in files]
    tops = sorted({r.split("/", 1)[0] for r in rels})
    base = url.rstrip("/")[: -len(name)]
    old: set[str] = set()
    for top in tops:
        if storage.kind(base + top) is not None:
            if not overwrite:
                raise OutputExistsError("already exists (pass --overwrite to replace it)", base + top)
            with storage_errors(base + top, "list"):
                old.update(fs.find(f"{parent}/{top}") or [f"{parent}/{top}"])
    _sweep(fs, parent, name)
    placed: list[str] = []
    try:
        with storage_errors(url, "upload"):
            for here, there in _batches([(str(p), f"{temp}/{r}") for p, r in zip(files, rels, strict=True)]):
                with deferred():
                    fs.put(here, there)
        for phase in _phases(rels):
            with storage_errors(url, "copy into place"):
                for src, dst in _batches([(f"{temp}/{r}", f"{parent}/{r}") for r in phase]):
                    with deferred():
                        placed += dst
                        fs.copy(src, dst)
        stale = sorted(old - {f"{parent}/{r}" for r in rels})
        with storage_errors(url, "delete the replaced output's leftovers"), deferred():
            if stale:
                fs.rm(stale)
    except BaseException:
        with deferred():
            _quietly_remove(fs, [p for p in placed if p not in old])
        raise
    finally:
        with deferred():
            _quietly_remove(fs, [temp], recursive=True)
    return [base + t for t in tops]


def _sweep(fs: Any, parent: str, name: str) -> None:
    """Delete the temporary prefixes that killed runs (SIGKILL, a lost machine) left beside
    this destination, once every object in them is older than :data:`STALE_AFTER`: object
    storage has no lock to tell a dead run from one still uploading, so age must."""
    mark = re.compile(re.escape(name + TEMP_MARK) + "[0-9a-f]{8}")
    try:
        fs.invalidate_cache()
        found = fs.glob(f"{parent}/{name}{TEMP_MARK}*")
        for temp in {f"{parent}/{k[len(parent) + 1 :].split('/', 1)[0]}" for k in found}:
            if not mark.fullmatch(temp.rsplit("/", 1)[-1]):
                continue
            keys = fs.find(temp)
            if keys and all(time.time() - fs.modified(k).timestamp() > STALE_AFTER for k in keys):
                fs.rm(keys)
    except Exception:  # a sweep that cannot list or delete must not fail the run it precedes
        return


def _phases(rels: list[str]) -> list[list[str]]:
    """Objects in the order they go into place: everything but JSON, then nested JSON (a
    folder format's index), then the top-level files that are JSON (a JSON format's index)."""
    order: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for r in rels:
        if not r.lower().endswith(".json"):
            order[0].append(r)
        else:
            order[1 if "/" in r else 2].append(r)
    return [order[k] for k in (0, 1, 2) if order[k]]


def _quietly_remove(fs: Any, paths: list[str], *, recursive: bool = False) -> None:
    """Delete ``paths`` if they exist; a clean-up must not hide the error that caused it."""
    if not paths:
        return
    try:
        fs.rm(paths, recursive=recursive)
    except Exception:  # already gone, or the endpoint itself is what failed
        pass
