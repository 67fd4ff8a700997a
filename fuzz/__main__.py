"""``python -m fuzz``: run the fuzz targets.

    python -m fuzz list
    python -m fuzz all [--seconds N] [--engine auto|atheris|hypothesis] [--asan] [TARGET ...]
    python -m fuzz hypothesis TARGET [--examples N] [--seconds N]
    python -m fuzz atheris TARGET [--seconds N]
    python -m fuzz survey TARGET [--count N] [--seed S]
    python -m fuzz repro TARGET FILE

``all`` runs each target in its own process, one after another, so a crash (a signal) or a
hang fails that target only, and the input that caused it is saved under fuzz/crashes/.
Exit status: 0 when every target held its contract, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import asan
from .store import current_file, save_crash

HERE = Path(__file__).resolve().parent
NAMES = ("png", "kernels", "rle", "polygon", "json")


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def run_one(name: str, engine: str, seconds: float, examples: int | None, env: dict[str, str]) -> tuple[bool, str]:
    """Run one target in a child process; (held its contract, last lines of output)."""
    cmd = [sys.executable, "-m", "fuzz", engine, name, "--seconds", str(seconds)]
    if examples:
        cmd += ["--examples", str(examples)]
    current = current_file(name)
    current.unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=HERE.parent, env=os.environ | env, capture_output=True, text=True, errors="replace", check=False
    )
    took = time.monotonic() - started
    output = proc.stdout + proc.stderr
    ok = proc.returncode == 0
    if not ok and current.exists():  # killed mid-input: the input is what it was running
        saved = save_crash(name, current.read_bytes(), "killed" if proc.returncode < 0 else "hang")
        output += f"\nthe input running when it stopped: {saved}\n"
    current.unlink(missing_ok=True)
    status = "ok" if ok else f"FAILED (exit {proc.returncode})"
    runs = re.search(r"number_of_executed_units: (\d+)|(\d+) inputs, contract held", output)
    count = f", {runs.group(1) or runs.group(2)} inputs" if runs else ""
    return ok, f"{name}: {engine}, {took:.0f} s{count}: {status}\n" + ("" if ok else _tail(output))


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) + "\n"


def cmd_all(args: argparse.Namespace) -> int:
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "hypothesis"
        if engine == "hypothesis":
            print("note: atheris is not installed here; fuzzing with hypothesis for the same time instead")
    names = args.targets or list(NAMES)
    with tempfile.TemporaryDirectory(prefix="segtool-fuzz-asan-") as tmp:
        env = asan.build(Path(tmp)) if args.asan else {}
        if args.asan:
            print("the C kernels are built with AddressSanitizer + UBSan for this run")
        failed = []
        for name in names:
            ok, report = run_one(name, engine, args.seconds, args.examples, env)
            print(report, end="", flush=True)
            if not ok:
                failed.append(name)
    print(
        f"{len(names) - len(failed)} of {len(names)} target(s) held their contract; failed: {', '.join(failed) or 'none'}"
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the targets and what each checks")
    p_all = sub.add_parser("all", help="every target (or those named), each in its own process")
    p_all.add_argument("targets", nargs="*", metavar="TARGET", help=f"some of: {', '.join(NAMES)}")
    p_all.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    p_all.add_argument("--asan", action="store_true", help="the C kernels built with ASan + UBSan (needs gcc)")
    for p in (p_all, sub.add_parser("hypothesis"), sub.add_parser("atheris")):
        if p is not p_all:
            p.add_argument("target", choices=NAMES)
        p.add_argument("--seconds", type=float, default=60.0, help="time budget per target (default 60)")
        p.add_argument("--examples", type=int, default=None, help="hypothesis: one reproducible run of N examples")
    p_survey = sub.add_parser("survey", help="many random inputs, every distinct failure listed")
    p_survey.add_argument("target", choices=NAMES)
    p_survey.add_argument("--count", type=int, default=2000)
    p_survey.add_argument("--seed", type=int, default=0)
    p_repro = sub.add_parser("repro", help="run one target on one saved input, traceback shown")
    p_repro.add_argument("target", choices=NAMES)
    p_repro.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "all":
        unknown = [t for t in args.targets if t not in NAMES]
        if unknown:
            parser.error(f"unknown target(s) {', '.join(unknown)}; targets: {', '.join(NAMES)}")
        return cmd_all(args)
    asan.use_kernels_from_env()  # before anything imports segtool
    from . import engines

    if args.command == "list":
        from .targets import TARGETS

        for name, t in TARGETS.items():
            print(f"{name:8} {t.what}")
        return 0
    if args.command == "survey":
        return engines.survey(args.target, args.count, args.seed)
    if args.command == "repro":
        return engines.repro(args.target, args.file)
    if args.command == "hypothesis":
        return engines.run_hypothesis(args.target, args.seconds, args.examples)
    return engines.run_atheris(args.target, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
