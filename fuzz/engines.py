"""The two engines a target runs under, each in a process of its own (see ``__main__``).

- hypothesis: ``st.binary()`` inputs, shrunk to a minimal failing bytes literal. With
  ``examples`` it is one derandomized run (``make test``: the same inputs on every machine);
  without, rounds of fresh random inputs until the time budget is spent (``make fuzz``
  where atheris is missing).
- atheris (libFuzzer, coverage-guided over segtool's Python code): seeds from the
  target's corpus, written to a temporary folder; crashes, hangs (``-timeout``) and memory
  blow-ups (``-rss_limit_mb``) saved under fuzz/crashes/ by libFuzzer itself.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from .contract import HANG_SECONDS, fuzz_limits, watchdog
from .store import CRASHES, current_file, save_crash

MAX_INPUT = 1024  # bytes: enough for a raw PNG or JSON seed plus its decisions
MIN_INPUT = 64  # hypothesis draws short binaries (median 4 bytes): too few decisions to reach deep
RSS_LIMIT_MB = 3072


def _limit_memory() -> None:
    """Cap the address space, so a memory blow-up is a MemoryError (or a failed malloc)
    here, not the machine swapping. Not under AddressSanitizer, which reserves terabytes."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    cap = RSS_LIMIT_MB * 2**20 + 2**30  # headroom for the interpreter and numpy's mappings
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_hypothesis(name: str, seconds: float, examples: int | None) -> int:
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    fuzz_limits()
    _limit_memory()
    from .targets import TARGETS

    target = TARGETS[name].fn
    CRASHES.mkdir(exist_ok=True)
    current = current_file(name)
    runs = 0
    failing: dict[str, bytes] = {}  # per distinct failure, the last input: hypothesis replays the minimal one last

    def one(data: bytes) -> None:
        nonlocal runs
        runs += 1
        current.write_bytes(data)
        try:
            with watchdog():
                target(data)
        except Exception as exc:
            failing[_signature(exc)] = data
            raise

    def round_(n: int, derandomize: bool, rng_seed: int | None) -> None:
        test = given(st.binary(min_size=MIN_INPUT, max_size=MAX_INPUT))(one)
        test = settings(
            max_examples=n,
            deadline=None,
            derandomize=derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )(test)
        if rng_seed is not None:
            test = seed(rng_seed)(test)
        test()

    started, rounds = time.monotonic(), 0
    try:
        if examples:
            round_(examples, True, None)
            rounds = 1
        else:
            while time.monotonic() - started < seconds:
                round_(200, False, int.from_bytes(os.urandom(4), "little"))
                rounds += 1
    except BaseException:
        traceback.print_exc()
        _report(name, failing, TARGETS[name].describe)
        current.unlink(missing_ok=True)
        return 1
    current.unlink(missing_ok=True)
    print(f"{name}: {rounds} round(s), {time.monotonic() - started:.1f} s, {runs} inputs, contract held")
    return 0


def run_atheris(name: str, seconds: float) -> int:
    import atheris

    fuzz_limits()
    with atheris.instrument_imports(include=["segtool", "fuzz"]):
        from .targets import TARGETS
    target = TARGETS[name]
    corpus = Path(tempfile.mkdtemp(prefix=f"segtool-fuzz-{name}-"))
    try:
        for i, data in enumerate(target.corpus()):
            (corpus / f"seed-{i:03d}").write_bytes(data)
        CRASHES.mkdir(exist_ok=True)
        argv = [
            sys.argv[0],
            str(corpus),
            f"-max_total_time={max(1, int(seconds))}",
            f"-timeout={int(HANG_SECONDS)}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={MAX_INPUT}",
            f"-artifact_prefix={CRASHES}/{name}-",
            "-print_final_stats=1",
        ]
        atheris.Setup(argv, target.fn)
        atheris.Fuzz()  # exits the process: 0 when the time ran out, non-zero on a finding
    finally:
        shutil.rmtree(corpus, ignore_errors=True)
    return 0


def repro(name: str, path: Path) -> int:
    """Run a target once on a saved input; the traceback shows what broke."""
    fuzz_limits()
    from .targets import TARGETS

    data = path.read_bytes()
    print(f"input: {data!r}")
    if TARGETS[name].describe is not None:
        print(f"stands for: {TARGETS[name].describe(data)}")
    try:
        with watchdog():
            TARGETS[name].fn(data)
    except Exception:
        traceback.print_exc()
        return 1
    print("the contract held on this input")
    return 0


def _report(name: str, failing: dict[str, bytes], describe: Any) -> None:
    """Each distinct failure with its minimal input (and what that input stands for), saved."""
    for sig, data in failing.items():
        print(f"failure: {sig}\n  minimal failing input: {data!r}")
        if describe is not None:
            print(f"  stands for: {describe(data)}")
        print(f"  saved: {save_crash(name, data, 'fail')}")


def _signature(exc: BaseException) -> str:
    """Exception type and the deepest frame in segtool (or the assertion's message)."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "/segtool/" in f.filename] or frames[-1:]
    where = f"{Path(inner[-1].filename).name}:{inner[-1].lineno}" if inner else "?"
    what = str(exc).splitlines()[0][:70] if isinstance(exc, AssertionError) else ""
    return f"{type(exc).__name__} at {where} {what}".rstrip()


def survey(name: str, count: int, seed: int) -> int:
    """Run ``count`` random inputs (no stop at the first failure) and list each distinct
    failure with the shortest input that shows it: a map of what is still broken. A crash
    or hang still ends the process (the watchdog's traceback names it)."""
    import random

    fuzz_limits()
    _limit_memory()
    from .targets import TARGETS

    target, rng = TARGETS[name], random.Random(seed)
    seeds = target.corpus()
    found: dict[str, bytes] = {}
    for i in range(count):
        base = seeds[i % len(seeds)] if i % 2 else b""
        data = base + rng.randbytes(rng.randrange(MAX_INPUT // 2))
        if i % 4 == 1:
            data = bytes(b ^ (rng.randrange(256) if rng.random() < 0.05 else 0) for b in base)
        try:
            with watchdog():
                target.fn(data)
        except Exception as exc:
            sig = _signature(exc)
            if sig not in found or len(data) < len(found[sig]):
                found[sig] = data
    for sig, data in sorted(found.items()):
        print(f"failure: {sig}\n  input: {data!r}")
        if target.describe is not None:
            print(f"  stands for: {target.describe(data)}")
        print(f"  saved: {save_crash(name, data, 'survey')}")
    print(f"{name}: {count} inputs, {len(found)} distinct failure(s)")
    return 1 if found else 0
