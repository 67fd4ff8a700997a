"""The overhead of the storage layer: eval panoptic on local files and on s3:// in the same run.

Usage: python benchmarks/bench_storage.py [--images 200] [--data bench_out/data200] [--repeat 3]

The ground truth and prediction are bench_eval's (640x480, 20-40 things and 3-5 stuff bands
per image, the prediction shifted and perturbed). The same files are uploaded to a bucket of
a local S3 server (moto in server mode on 127.0.0.1, started here and stopped after), and
`segtool eval panoptic` scores them from the local paths and from the s3:// URLs, the report
(--json) written locally or to s3:// likewise. Each command is the CLI in a fresh process,
start-up included; rounds are interleaved and each time is the best of --repeat. Prints both
times, the overhead (s3 / local) and the download rate, and checks the two reports are
byte-identical. moto keeps its objects in memory and answers over loopback HTTP: this
measures segtool's staging (listing, downloading, uploading a report) and s3fs, not a real
network; on a real store the transfer is bound by its bandwidth (docs/storage.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_eval import make_predictions
from common import make_panoptic

BIN = Path(sys.executable).parent
BUCKET = "segtool-bench"


def run(gt: str, pred: str, out: str, env: dict[str, str]) -> float:
    """Seconds of one `segtool eval panoptic` run, its --json written to ``out``."""
    cmd = [BIN / "segtool", "eval", "panoptic", gt, pred, "--json", out, "--overwrite", "-q", "--jobs", "1"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200, help="images generated")
    ap.add_argument("--data", type=Path, default=Path("bench_out/data200"))
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each time is the best of them")
    args = ap.parse_args()
    gt = make_panoptic(args.data, args.images)
    pred = make_predictions(gt)
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}", **creds}
        os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", *creds)})
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(BUCKET)
        t = time.perf_counter()
        for path in (gt, pred):
            fs.put(str(path), f"{BUCKET}/{path.name}")
            fs.put(str(path.with_suffix("")), f"{BUCKET}/{path.stem}", recursive=True)
        print(f"uploaded the inputs in {time.perf_counter() - t:.1f} s")
        ways = {
            "local files": (str(gt), str(pred), str(args.data / "storage_local.json")),
            "s3:// (moto)": (f"s3://{BUCKET}/{gt.name}", f"s3://{BUCKET}/{pred.name}", f"s3://{BUCKET}/report.json"),
        }
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(args.repeat):
            for name, how in ways.items():
                best[name] = min(best[name], run(*how, env))
        same = fs.cat(f"{BUCKET}/report.json") == (args.data / "storage_local.json").read_bytes()
    finally:
        server.stop()
    mb = sum(size_of(p.with_suffix("")) + p.stat().st_size for p in (gt, pred)) / 1e6
    local, remote = best["local files"], best["s3:// (moto)"]
    print(f"eval panoptic --jobs 1, {args.images} images 640x480 ({mb:.1f} MB of inputs), best of {args.repeat}")
    print(
        f"interleaved rounds, CLI start-up included; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"{'how':<16}{'seconds':>9}")
    for name, seconds in best.items():
        print(f"{name:<16}{seconds:>9.2f}")
    extra = remote - local
    print(f"overhead: x{remote / local:.2f} (+{extra:.2f} s for {mb:.1f} MB staged, the s3fs import included)")
    print("reports identical:", "yes" if same else "NO")


if __name__ == "__main__":
    main()
