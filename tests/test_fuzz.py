"""The fuzz harness (fuzz/, see fuzz/README.md) run briefly, and checks of the harness itself.

Each target runs in a child process (``python -m fuzz hypothesis TARGET --examples N``):
derandomized, so every machine runs the same inputs; a crash or a hang in the child fails
that one test instead of ending the suite; the failure message is the child's report,
with hypothesis' minimal failing input as a bytes literal (also saved under fuzz/crashes/;
``python -m fuzz repro TARGET FILE`` replays it). ``make fuzz`` runs the same targets for
longer, under atheris when it installs. ``FUZZ_EXAMPLES`` changes the budget here.

The harness tests check the references the targets compare against (a PNG filter
decoder, an RLE string encoder) against Pillow and pycocotools, and that a contract
violation, a hang and a crash are each reported, not swallowed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

# the harness fuzzes the C kernels themselves: nothing to run where the extension is not built
pytest.importorskip("segtool._kernels", reason="the C extension segtool._kernels is not built")

from fuzz import contract, seeds
from fuzz.__main__ import NAMES
from fuzz.target_kernels import unfilter_reference
from fuzz.target_png import chunks
from fuzz.target_rle import rle_to_string
from fuzz.targets import TARGETS
from segtool.errors import SegtoolError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))


def _fuzz(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzz", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize("name", NAMES)
def test_target_holds_its_contract(name: str) -> None:
    proc = _fuzz("hypothesis", name, "--examples", str(EXAMPLES))
    report = "\n".join((proc.stdout + proc.stderr).splitlines()[-80:])
    assert proc.returncode == 0, f"fuzz target {name!r} broke its contract (exit {proc.returncode}):\n{report}"
    assert f"{EXAMPLES} inputs" in proc.stdout or "inputs, contract held" in proc.stdout


@pytest.mark.parametrize("name", NAMES)
def test_seed_inputs_hold(name: str) -> None:
    """Every atheris seed input runs through its target (and so decodes as intended)."""
    target = TARGETS[name]
    for data in target.corpus():
        target.fn(data)


def test_registry_matches_the_command_line() -> None:
    assert tuple(TARGETS) == NAMES


def test_unfilter_reference_agrees_with_pillow() -> None:
    """The per-byte PNG filter decoder the kernel target trusts gives Pillow's pixels on
    PNGs using all five filter types."""
    checked = 0
    for blob in seeds.pngs():
        parts = chunks(blob)
        w, h, depth, color = np.frombuffer(parts[0][1][:8], ">u4").tolist() + list(parts[0][1][8:10])
        if depth != 8 or parts[0][0] != b"IHDR":
            continue
        bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
        raw = zlib.decompress(b"".join(b for t, b in parts if t == b"IDAT"))
        ours = unfilter_reference(raw, h, w * bpp, bpp)
        ref = np.asarray(Image.open(io.BytesIO(blob)))
        assert ours is not None and np.array_equal(ours, ref.reshape(h, w * bpp))
        checked += 1
    assert checked >= 8


def test_rle_encoder_agrees_with_pycocotools() -> None:
    """The RLE string writer the RLE target builds inputs with is pycocotools' own encoding."""
    rng = np.random.default_rng(3)
    for h, w, p in ((1, 1, 0.5), (7, 5, 0.3), (40, 33, 0.5), (64, 64, 0.02), (3, 900, 0.9)):
        m = np.asfortranarray((rng.random((h, w)) < p).astype(np.uint8))
        counts = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], m.T.ravel(), [2]])) != 0), prepend=0).tolist()
        text = rle_to_string(counts if counts[-1] else counts[:-1])
        assert text == mask_utils.encode(m)["counts"].decode("ascii")


def test_call_lets_only_the_allowed_errors_through() -> None:
    def raises(exc: BaseException) -> None:
        raise exc

    assert contract.call(raises, ValueError("x")) is None
    assert contract.call(raises, SegtoolError("x")) is None
    with pytest.raises(ValueError):
        contract.call(raises, ValueError("x"), allowed=contract.READER)
    with pytest.raises(TypeError):
        contract.call(raises, TypeError("x"))


def test_call_fails_on_a_warning_a_user_would_see() -> None:
    """A warning is text on stderr: a failure, unless Python hides it by default."""
    import warnings

    with pytest.raises(AssertionError, match="RuntimeWarning: overflow"):
        contract.call(warnings.warn, "overflow", RuntimeWarning)
    assert contract.call(warnings.warn, "old", DeprecationWarning) is None


def test_watchdog_ends_a_hang_in_c_code() -> None:
    """A loop that never returns to Python (here a blocking read) still ends the process."""
    code = "import os, fuzz.contract as c\nwith c.watchdog(0.5):\n    os.read(os.pipe()[0], 1)\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Timeout" in proc.stderr


def test_a_contract_violation_is_reported_with_its_input(tmp_path: Path) -> None:
    """The hypothesis engine fails on a target that raises TypeError for some inputs, prints
    the minimal one and saves it; ``repro`` replays the saved file and fails the same way."""
    code = (
        "import sys, fuzz.targets as t, fuzz.engines as e\n"
        "def broken(data):\n"
        "    if len(data) > 3 and data[2] > 100:\n"
        "        raise TypeError('a contract violation')\n"
        "t.TARGETS['rle'] = t.TARGETS['rle']._replace(fn=broken)\n"
        "sys.exit(e.run_hypothesis('rle', 1, 300) if sys.argv[1] == 'run' else e.repro('rle', e.Path(sys.argv[1])))\n"
    )
    env = os.environ | {"FUZZ_CRASHES": str(tmp_path)}

    def child(arg: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", code, arg]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    proc = child("run")
    assert proc.returncode == 1 and "TypeError: a contract violation" in proc.stderr
    minimal = b"\x00\x00e" + bytes(61)  # the engine draws 64 bytes at least
    assert f"minimal failing input: {minimal!r}" in proc.stdout
    saved = list(tmp_path.glob("rle-fail-*"))
    assert len(saved) == 1 and saved[0].read_bytes() == minimal
    replay = child(str(saved[0]))
    assert replay.returncode == 1 and "TypeError: a contract violation" in replay.stderr
