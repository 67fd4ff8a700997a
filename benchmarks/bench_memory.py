"""Peak memory and input-JSON opens of every segtool command, at 1,000 vs 4,000 images.

Usage: python benchmarks/bench_memory.py [--out bench_out/memory] [--sizes 1000,4000]
       [--only TEXT] [--json FILE] [--strict]

Each command runs with ``--jobs 1`` (no worker processes: the number is the whole command)
in a fresh process: this script started again as ``--_run``, which installs an audit hook
that counts every ``open`` of a ``.json`` file, calls ``segtool.cli:main`` as the ``segtool``
script does, and reports its own peak resident memory (``VmHWM``, see common.PEAK_KB for
why not ``ru_maxrss``). The datasets are small images (64x48) so that the images are cheap
and what grows with their number shows: records, indexes, whole-file JSON parses.

Goal (issue: memory flat in the number of images): every command's peak grows at most
1.25x from 1,000 to 4,000 images, and opens each input JSON at most twice. Each row prints
PASS or FAIL; ``--strict`` exits 1 when any row fails (a command that did not run fails).
Datasets are generated once under ``--out`` (``n<size>/``) and reused while ``ready.json``
is there. The children import segtool as the environment finds it: to measure another copy
(a clean checkout beside a working tree under edit, say), put it first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEIGHT, WIDTH = 48, 64
CROWD_EVERY = 10  # about one thing segment in ten becomes a crowd region
MAX_RATIO = 1.25
MAX_OPENS = 2
PREVIEW_SAMPLE = 20
DATA_VERSION = 1  # bump when the generated data changes: cached sets are then regenerated
TIMEOUT = 900  # seconds for one command: a hang must not stall the whole run

# ---------------------------------------------------------------------------------------
# The child: one segtool command in this process, measured.
# ---------------------------------------------------------------------------------------

_CHILD_EVENTS = ("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen")


def _run_child(result_path: str, argv: list[str]) -> None:
    """Run ``segtool ARGV`` in this process and write its peak memory and JSON opens.

    Only the standard library is imported before segtool, and this script's folder is taken
    off ``sys.path``: the process then holds what the ``segtool`` command would, plus an
    audit hook. Opens are counted per resolved path; file descriptors (``os.fdopen``) are not
    paths and are skipped, which counts ``os.open`` + ``os.fdopen`` once.
    """
    opens: dict[str, int] = {}
    spawned: list[str] = []
    counting = [True]

    def hook(event: str, args: tuple) -> None:
        if not counting[0]:
            return
        if event == "open":
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            try:
                name = os.fsdecode(path)
            except TypeError:
                return
            if name.endswith(".json"):
                real = os.path.realpath(name)
                opens[real] = opens.get(real, 0) + 1
        elif event in _CHILD_EVENTS:
            spawned.append(event)

    sys.addaudithook(hook)
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        sys.path.pop(0)  # as the console script: benchmarks/ is not importable there
    sys.argv = ["segtool", *argv]
    start = time.perf_counter()
    from segtool.cli import main

    try:
        main()
        code: int = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    seconds = time.perf_counter() - start
    counting[0] = False
    result = {"rc": code, "peak_kb": _peak_kb(), "opens": opens, "spawned": spawned, "seconds": seconds}
    Path(result_path).write_text(json.dumps(result))


def _peak_kb() -> int:
    """This process's peak resident memory in kB: ``VmHWM``, as common.PEAK_KB reads it (not
    ``ru_maxrss``, which Linux carries over from the parent through fork and exec). Kept here
    rather than imported from common: that module imports numpy and Pillow, and the child
    must import nothing beyond what the ``segtool`` command does."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


# ---------------------------------------------------------------------------------------
# The data: one folder per size, generated once.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """The files of one generated size: paths only, so a row can name its inputs."""

    root: Path

    @property
    def panoptic(self) -> Path:
        return self.root / "panoptic.json"

    @property
    def pred(self) -> Path:
        return self.root / "pred.json"

    @property
    def instance(self) -> Path:
        return self.root / "instances.json"

    @property
    def semantic(self) -> Path:
        return self.root / "semantic_gt"

    @property
    def semantic_pred(self) -> Path:
        return self.root / "semantic_pred"

    @property
    def instance_gt(self) -> Path:
        return self.root / "instances_gt.json"

    @property
    def detections(self) -> Path:
        return self.root / "detections.json"

    @property
    def stamp(self) -> Path:
        return self.root / "ready.json"


def mark_crowd(panoptic_json: Path) -> None:
    """Make about one thing segment in ten a crowd region (the common generator makes none),
    chosen from the ids so that running it twice changes nothing."""
    data = json.loads(panoptic_json.read_text())
    things = {c["id"] for c in data["categories"] if c["isthing"]}
    for ann in data["annotations"]:
        for s in ann["segments_info"]:
            s["iscrowd"] = int(s["category_id"] in things and (s["id"] * 7 + ann["image_id"]) % CROWD_EVERY == 0)
    panoptic_json.write_text(json.dumps(data))


def segtool_cli(*args: str) -> None:
    """Run ``segtool ARGS`` (the command as users run it), failing loudly."""
    res = subprocess.run([sys.executable, "-m", "segtool", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"segtool {' '.join(args)} exited {res.returncode}: {res.stderr.strip()[-2000:]}")


def generate(root: Path, n: int) -> Data:
    """Every input of the measured commands for ``n`` images, reusing a complete earlier set.

    The panoptic set, the predictions, the detections and the semantic folders come from the
    other benchmarks' generators (imported, not copied); crowd marks are added before
    anything is derived from the ground truth, and the coco-instance JSON is made with
    ``segtool convert --to coco-instance``. ``ready.json`` is written last: a set without it
    was interrupted and is made again from scratch.
    """
    data = Data(root.resolve())
    if data.stamp.exists():
        stamp = json.loads(data.stamp.read_text())
        if stamp.get("version") == DATA_VERSION and stamp.get("images") == n:
            return data
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from bench_eval import make_detections, make_predictions, make_semantic
    from common import make_panoptic

    t = time.perf_counter()
    make_panoptic(root, n, h=HEIGHT, w=WIDTH, seed=0)
    mark_crowd(data.panoptic)
    make_predictions(data.panoptic)
    make_detections(data.panoptic, data.pred)
    make_semantic(data.panoptic)
    segtool_cli("convert", str(data.panoptic), str(data.instance), "--to", "coco-instance", "--jobs", "2")
    pan = json.loads(data.panoptic.read_text())
    segs = [s for a in pan["annotations"] for s in a["segments_info"]]
    things = {c["id"] for c in pan["categories"] if c["isthing"]}
    stats = {
        "version": DATA_VERSION,
        "images": n,
        "size": [WIDTH, HEIGHT],
        "segments": len(segs),
        "things": sum(s["category_id"] in things for s in segs),
        "crowd": sum(s["iscrowd"] for s in segs),
        "detections": len(json.loads(data.detections.read_text())),
    }
    data.stamp.write_text(json.dumps(stats))
    print(f"generated {n} images under {root} in {time.perf_counter() - t:.1f} s", flush=True)
    return data


# ---------------------------------------------------------------------------------------
# The commands measured.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: a segtool command line for a dataset, and the input JSONs it is given.

    ``argv`` gets the dataset and a fresh scratch folder for outputs; ``inputs`` names the
    JSON files whose opens are counted (a semantic folder's JSON files included).
    ``ok`` are the exit codes of a run that worked (validate exits 1 on error findings).
    """

    command: str
    fmt: str
    argv: Callable[[Data, Path], list[str]]
    inputs: Callable[[Data], list[Path]]
    ok: tuple[int, ...] = (0,)

    @property
    def name(self) -> str:
        return f"{self.command} {self.fmt}"


def _folder_jsons(folder: Path) -> list[Path]:
    """The JSON files of a semantic folder (categories.json, images.json): inputs too."""
    return sorted(folder.glob("*.json"))


def source(d: Data, fmt: str) -> Path:
    """The path given to segtool for format ``fmt`` of a size."""
    return {"coco-panoptic": d.panoptic, "coco-instance": d.instance, "semantic": d.semantic}[fmt]


def input_jsons(d: Data, fmt: str) -> list[Path]:
    """The JSON files segtool is given for format ``fmt``: the file itself, or those of the
    semantic folder."""
    return _folder_jsons(d.semantic) if fmt == "semantic" else [source(d, fmt)]


def cases() -> list[Case]:
    """Every measured command line, in the order of the table."""
    jobs = ["--jobs", "1"]
    rows: list[Case] = []
    formats = ("coco-panoptic", "coco-instance", "semantic")
    for fmt in formats:
        rows.append(
            Case(
                "info",
                fmt,
                lambda d, o, fmt=fmt: ["info", str(source(d, fmt)), *jobs],
                lambda d, fmt=fmt: input_jsons(d, fmt),
            )
        )
    for fmt in formats:
        rows.append(
            Case(
                "validate",
                fmt,
                lambda d, o, fmt=fmt: ["validate", str(source(d, fmt)), *jobs],
                lambda d, fmt=fmt: input_jsons(d, fmt),
                ok=(0, 1),
            )
        )
    conversions = [
        ("coco-panoptic", "coco-instance", "out.json", []),
        ("coco-instance", "coco-panoptic", "out.json", []),
        ("coco-panoptic", "semantic", "out", []),
        # a semantic map carries no instances: one per connected component of a thing class
        ("semantic", "coco-panoptic", "out.json", ["--split-things"]),
    ]
    short = {"coco-panoptic": "panoptic", "coco-instance": "instance", "semantic": "semantic"}
    for a, b, dst, extra in conversions:
        rows.append(
            Case(
                "convert",
                f"{short[a]}->{short[b]}",
                lambda d, o, a=a, b=b, dst=dst, extra=extra: [
                    "convert",
                    str(source(d, a)),
                    str(o / dst),
                    "--to",
                    b,
                    *extra,
                    *jobs,
                ],
                lambda d, a=a: input_jsons(d, a),
            )
        )
    rows.append(
        Case(
            "eval panoptic",
            "coco-panoptic",
            lambda d, o: ["eval", "panoptic", str(d.panoptic), str(d.pred), *jobs],
            lambda d: [d.panoptic, d.pred],
        )
    )
    rows.append(
        Case(
            "eval instance",
            "coco-instance+results",
            lambda d, o: ["eval", "instance", str(d.instance_gt), str(d.detections), *jobs],
            lambda d: [d.instance_gt, d.detections],
        )
    )
    rows.append(
        Case(
            "eval semantic",
            "semantic",
            lambda d, o: ["eval", "semantic", str(d.semantic), str(d.semantic_pred), *jobs],
            lambda d: _folder_jsons(d.semantic) + _folder_jsons(d.semantic_pred),
        )
    )
    for fmt in formats:
        rows.append(
            Case(
                "preview",
                f"{fmt} (sample {PREVIEW_SAMPLE})",
                lambda d, o, fmt=fmt: [
                    "preview",
                    str(source(d, fmt)),
                    str(o / "out"),
                    "--sample",
                    str(PREVIEW_SAMPLE),
                    *jobs,
                ],
                lambda d, fmt=fmt: input_jsons(d, fmt),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------
# Measuring and reporting.
# ---------------------------------------------------------------------------------------


@dataclass
class Run:
    """One command at one size: what the child reported, or why there is nothing."""

    peak_mb: float | None
    opens: dict[str, int]  # per input JSON (by its path relative to the size's folder)
    other_json: dict[str, int]  # JSON files opened that are not inputs (outputs, say)
    seconds: float
    rc: int | None
    spawned: int
    error: str | None


def measure(case: Case, data: Data, scratch: Path) -> Run:
    """Run ``case`` on ``data`` in a fresh process (this script, ``--_run``) and collect."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    result = scratch.parent / "result.txt"
    result.unlink(missing_ok=True)
    inputs = [p.resolve() for p in case.inputs(data)]
    if len(set(inputs)) != len(inputs):  # its opens would be one count for two inputs
        print(f"warning: {case.name} is given the same JSON twice; its opens are counted together")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_run", str(result), "--", *case.argv(data, scratch)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        shutil.rmtree(scratch, ignore_errors=True)
        return Run(None, {}, {}, time.perf_counter() - t, None, 0, f"timed out after {TIMEOUT} s")
    shutil.rmtree(scratch, ignore_errors=True)
    if not result.exists():
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return Run(None, {}, {}, time.perf_counter() - t, proc.returncode, 0, f"runner died: {tail[0]}")
    r = json.loads(result.read_text())
    opened: dict[str, int] = r["opens"]
    counts = {str(p.relative_to(data.root.resolve())): opened.get(str(p), 0) for p in inputs}
    others = {k: v for k, v in opened.items() if Path(k) not in inputs}
    error = None
    if r["rc"] not in case.ok:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        error = f"exit {r['rc']}: {lines[-1] if lines else 'no message'}"
    return Run(r["peak_kb"] / 1024, counts, others, r["seconds"], r["rc"], len(r["spawned"]), error)


def verdict(runs: list[Run], max_ratio: float, max_opens: int) -> tuple[float | None, bool]:
    """The ratio of the last size's peak to the first's, and whether the row meets the goal."""
    if any(r.peak_mb is None or r.error for r in runs):
        return None, False
    first, last = runs[0].peak_mb, runs[-1].peak_mb
    assert first is not None and last is not None
    ratio = last / first
    opens_ok = all(n <= max_opens for r in runs for n in r.opens.values())
    return ratio, ratio <= max_ratio and opens_ok


def opens_text(runs: list[Run]) -> str:
    """``name N`` per input JSON, a folder's files grouped (``folder/{a N, b M}``, without
    ``.json``); ``N/M`` when the sizes disagree (they should not)."""
    names = list(dict.fromkeys(k for r in runs for k in r.opens))
    groups: dict[str, list[str]] = {}
    for name in names:
        values = [str(r.opens.get(name, "?")) for r in runs]
        shown = values[0] if len(set(values)) == 1 else "/".join(values)
        folder, _, file = name.rpartition("/")
        groups.setdefault(folder, []).append(f"{file.removesuffix('.json') if folder else file} {shown}")
    parts = [f"{folder}/{{{', '.join(items)}}}" if folder else ", ".join(items) for folder, items in groups.items()]
    return ", ".join(parts) or "-"


def main() -> None:
    """Generate (or reuse) the datasets, measure every selected row, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench_out/memory"), help="datasets and scratch space")
    ap.add_argument("--sizes", default="1000,4000", help="image counts, comma-separated (ratio: last / first)")
    ap.add_argument("--only", help="run only the rows whose 'command format' contains this text")
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    ap.add_argument("--strict", action="store_true", help="exit 1 when any row fails")
    ap.add_argument("--max-ratio", type=float, default=MAX_RATIO, help="goal: peak growth, last size / first")
    ap.add_argument("--max-opens", type=int, default=MAX_OPENS, help="goal: opens of each input JSON")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if len(sizes) < 2 or sizes != sorted(set(sizes)):
        ap.error("--sizes needs at least two increasing counts")
    rows = [c for c in cases() if args.only is None or args.only in c.name]
    if not rows:
        ap.error(f"no row matches --only {args.only!r}; rows: " + ", ".join(c.name for c in cases()))

    t0 = time.perf_counter()
    datasets = {n: generate(args.out / f"n{n}", n) for n in sizes}
    t_gen = time.perf_counter() - t0
    stats = {n: json.loads(d.stamp.read_text()) for n, d in datasets.items()}
    for n, s in stats.items():
        print(
            f"{n} images {WIDTH}x{HEIGHT}: {s['segments']} segments ({s['things']} things, {s['crowd']} crowd, "
            f"{s['segments'] - s['things']} stuff), {s['detections']} detections"
        )
    print(
        f"peak RSS = VmHWM of one fresh process running the command with --jobs 1 (no worker "
        f"processes, so it is the whole command); preview renders --sample {PREVIEW_SAMPLE}."
    )
    print(f"goal: RSS@{sizes[-1]} / RSS@{sizes[0]} <= {args.max_ratio}, each input JSON opened <= {args.max_opens}x\n")

    size_cols = "".join(f"{'RSS@' + str(n) + ' MB':>14}" for n in sizes)
    first = datasets[sizes[0]]
    # the opens column fits the widest text expected (3-digit counts), up to 60 characters
    probe = [
        Run(None, {str(p.relative_to(first.root)): 999 for p in c.inputs(first)}, {}, 0, None, 0, None) for c in rows
    ]
    width = 2 + min(60, max(len("opens (per input JSON)"), *(len(opens_text([r])) for r in probe)))
    header = f"{'command':<15}{'format':<30}{size_cols}{'ratio':>7}  {'opens (per input JSON)':<{width - 2}}  result"
    print(header)
    print("-" * len(header))
    scratch = args.out / "scratch" / "run"
    report = []
    failed = []
    for case in rows:
        runs = [measure(case, datasets[n], scratch) for n in sizes]
        ratio, ok = verdict(runs, args.max_ratio, args.max_opens)
        cols = "".join(f"{r.peak_mb:>14.1f}" if r.peak_mb is not None else f"{'-':>14}" for r in runs)
        ratio_text = f"{ratio:>7.2f}" if ratio is not None else f"{'-':>7}"
        errors = [f"@{n}: {r.error}" for n, r in zip(sizes, runs, strict=True) if r.error]
        result = "PASS" if ok else ("ERROR" if errors else "FAIL")
        notes = []
        if any(r.spawned for r in runs):
            notes.append("started processes: their memory is not counted")
        if any(r.rc == 1 for r in runs) and case.command == "validate":
            notes.append("exit 1: error findings")
        line = f"{case.command:<15}{case.fmt:<30}{cols}{ratio_text}  {opens_text(runs):<{width - 2}}  {result}"
        print(line + (f"  ({'; '.join(notes)})" if notes else ""), flush=True)
        for e in errors:
            print(f"    {e}", flush=True)
        if not ok:
            failed.append(case.name)
        report.append(
            {
                "command": case.command,
                "format": case.fmt,
                "argv": case.argv(datasets[sizes[0]], scratch),
                "rss_mb": {str(n): r.peak_mb for n, r in zip(sizes, runs, strict=True)},
                "ratio": ratio,
                "opens": {str(n): r.opens for n, r in zip(sizes, runs, strict=True)},
                "other_json_opens": {str(n): r.other_json for n, r in zip(sizes, runs, strict=True)},
                "seconds": {str(n): round(r.seconds, 3) for n, r in zip(sizes, runs, strict=True)},
                "exit_code": {str(n): r.rc for n, r in zip(sizes, runs, strict=True)},
                "processes_started": {str(n): r.spawned for n, r in zip(sizes, runs, strict=True)},
                "errors": errors,
                "result": result,
            }
        )
    shutil.rmtree(scratch.parent, ignore_errors=True)
    total = time.perf_counter() - t0
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} rows pass; {total:.0f} s "
        f"(data generation {t_gen:.0f} s, measuring {total - t_gen:.0f} s)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "sizes": sizes,
                    "image_size": [WIDTH, HEIGHT],
                    "datasets": {str(n): s for n, s in stats.items()},
                    "goal": {"max_ratio": args.max_ratio, "max_opens": args.max_opens},
                    "jobs": 1,
                    "rows": report,
                    "seconds": round(total, 1),
                },
                indent=2,
            )
        )
    if args.strict and failed:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--_run":
        rest = sys.argv[3:]
        _run_child(sys.argv[2], rest[1:] if rest[:1] == ["--"] else rest)
    else:
        main()
