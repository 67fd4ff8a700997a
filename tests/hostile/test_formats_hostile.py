"""Class "formats": the twelve formats of issues 11/12 (cityscapes, voc, ade20k, labelme,
yolo-seg, sa1b, label-studio, mapillary, camvid, kitti, mots in both variants, cvat, masks)
under hostile input: each format's small valid tree (formats_build.py) changed in one way
(formats_variants.py: truncated, garbage, empty, a link out or a loop, deep nesting, a
hostile value at every JSON key / XML attribute / text token, label PNGs and photos of the
wrong depth, mode or declared size, links to /etc/passwd, /dev/zero and themselves;
formats_names.py: traversals, absolute paths and odd bytes in the names the data refers to
and on disk, links out of the tree and loops; formats_values.py: huge and zero image sizes,
RLE, brush and base64 garbage, YAML bombs, duplicated records).

Each (format, variant) runs three of the format's commands: info, validate, preview, eval
(against a prediction made from the valid tree) and convert to every writer; the variants
of one format take the commands in turn, so between them every command meets each kind of
variant (``SEGTOOL_HOSTILE_FULL=1``: every command on every variant, ~17,000 runs, ~4 min;
``SEGTOOL_HOSTILE_FORMATS_VALUES=1``: every hostile value at every JSON key, XML attribute
and text token, not 2 in turn).
Each base tree runs every command and must succeed (exit 0 or 1, but for the documented
refusals in ``REFUSED``): a variant then reaches past the reader.

Promises (the harness's): exit 0, 1 or 2, no traceback, a refusal on one ``Error:`` line,
no input changed, nothing written outside OUT, done within the time bound; and here: a
refusal names the file at fault (a path in the case's folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from . import formats_build as fb
from . import formats_names as fn
from . import formats_values as fvals
from . import formats_variants as fv
from .batch import FULL, Made, Spec, check_spec, run_specs, selected
from .commands import Cmd
from .harness import check

CLS = "formats"
WRITERS = (
    "coco-panoptic",
    "coco-instance",
    "semantic",
    "cityscapes",
    "labelme",
    "voc",
    "yolo-seg",
    "ade20k",
    "cvat",
    "camvid",
    "masks",
    "mapillary",
)
OVERLAPS = ("coco-instance", "labelme", "yolo-seg", "cvat", "masks")  # writers of overlapping instances
# documented refusals of a valid tree: Cityscapes and ADE20K names/ids, panoptic eval of
# formats whose converted prediction is not read as panoptic PNGs
REFUSED = {"convert-cityscapes", "convert-ade20k", "voc/eval", "kitti/eval", "mots/eval", "mots-txt/eval"}
READ_ONLY = ("sa1b", "label-studio", "kitti", "mots")
NAMES = ("info", "validate", "preview", "eval", *(f"convert-{t}" for t in WRITERS))
# SEGTOOL_HOSTILE_FORMATS_VALUES=1: every hostile value at every JSON key, XML attribute and
# text token (not 2 in turn)
EVERY_VALUE = bool(os.environ.get("SEGTOOL_HOSTILE_FORMATS_VALUES"))


def _per(values: Sequence[object]) -> int:
    """How many of ``values`` each key, attribute or token gets."""
    return len(values) if EVERY_VALUE else 2


_PRED: dict[str, Path] = {}  # format -> a prediction made once from its valid tree


def _prediction(fmt: str, base: fb.Base) -> Path:
    """A prediction eval can take, made (by segtool, once per format) from the valid tree:
    coco-panoptic, a COCO results list with scores, or a semantic folder."""
    if fmt not in _PRED:
        import segtool

        work = Path(tempfile.mkdtemp(prefix="segtool-formats-pred-"))
        valid = fb.BASES[fmt](work / "t")
        if valid.kind == "panoptic":
            segtool.convert(valid.src, work / "pred" / "p.json", "coco-panoptic")
        elif valid.kind == "semantic":
            segtool.convert(valid.src, work / "pred" / "sem", "semantic")
        else:
            segtool.convert(valid.src, work / "c.json", "coco-instance", overlap="keep")
            anns = json.loads((work / "c.json").read_text())["annotations"]
            (work / "pred").mkdir()
            (work / "pred" / "res.json").write_text(json.dumps([dict(a, score=0.9) for a in anns]))
        _PRED[fmt] = work / "pred"
    return _PRED[fmt]


def _pred_for(fmt: str, root: Path, base: fb.Base) -> Path:
    template = _prediction(fmt, base)
    dst = root / "in" / "pred"
    if not dst.exists():
        shutil.copytree(template, dst)
    return min(dst.iterdir(), key=lambda p: (p.suffix != ".json", p.name))


def command(name: str, fmt: str, base: fb.Base, root: Path) -> Cmd:
    """``name`` over ``base``; ``<name>-j2`` runs it on 2 worker processes (a refusal raised
    in a worker comes back through a pickle), ``<name>-from`` with ``--from`` the format (no
    detection: a file too broken to be detected still reaches the reader)."""
    out = root / "out" / "o"
    name, workers = name.removesuffix("-j2"), "2" if name.endswith("-j2") else "1"
    name, forced = name.removesuffix("-from"), name.endswith("-from")
    src, j = str(base.src), ["-j", workers, *(["--from", base.fmt] if forced else [])]
    if name in ("info", "validate"):
        return Cmd([name, src, *j])
    if name == "preview":
        return Cmd(["preview", src, str(out / "pv"), "--html", *j], [out])
    if name == "eval":
        return Cmd(["eval", base.kind, src, str(_pred_for(fmt, root, base)), *j])
    to = name.removeprefix("convert-")
    dst = out / ("c.json" if to.startswith("coco-") else "annotations.xml" if to == "cvat" else "d")
    extra = ["--overlap", "first"] if base.kind == "instance" and to not in OVERLAPS else []
    return Cmd(["convert", src, str(dst), "--to", to, *extra, *j], [out])


def spec(fmt: str, case: str, edit: fv.Edit | None, name: str, group: int) -> Spec:
    def make(root: Path) -> Made:
        base = fb.BASES[fmt](root)
        cmd = command(name, fmt, base, root)  # the prediction is made before the tree is changed
        if edit is not None:
            edit(root, base)
        return cmd, ()

    return Spec(CLS, f"{fmt}-{case}", name, make, timeout=30.0, group=group)


def variants(fmt: str) -> dict[str, fv.Edit]:
    """Every hostile variant of ``fmt``'s tree, by name."""
    probe = fb.BASES[fmt](Path(tempfile.mkdtemp(prefix="segtool-formats-probe-")))
    out: dict[str, fv.Edit] = {}
    for i, p in enumerate(probe.files.get("json", [])):
        doc = json.loads(p.read_text())
        out |= {f"json{i}-{k}": e for k, e in fv.json_variants(doc, i, _per(fv.VALUES)).items()}
    for p in probe.files.get("xml", []):
        out |= {f"xml-{k}": e for k, e in fv.xml_variants(p.read_text(), _per(fv.ATTRS)).items()}
    for i, p in enumerate(probe.files.get("txt", [])):
        out |= {f"txt{i}-{k}": e for k, e in fv.txt_variants(p.read_text(), i, _per(fv.TOKENS)).items()}
    for i, _ in enumerate(probe.files.get("png", [])):
        out |= {f"png{i}-{k}": e for k, e in fv.png_variants(i).items()}
    for i, _ in enumerate(probe.files.get("photo", [])):
        out |= {f"photo{i}-{k}": e for k, e in fv.png_variants(i, "photo").items()}
    out |= fn.name_variants(fmt)
    out |= {f"val-{k}": e for k, e in fvals.values(fmt).items()}
    shutil.rmtree(probe.src if probe.src.is_dir() else probe.src.parent, ignore_errors=True)
    return out


# on 2 workers: each base, and what breaks a file the workers read (a refusal from a worker)
WORKERS = ("validate-j2", "preview-j2", "convert-coco-instance-j2", "convert-voc-j2")
IN_WORKERS = ("png0-trunc", "png1-garbage", "photo0-garbage", "json0-trunc", "txt0-trunc", "xml-trunc")
# (format, variant) -> commands it always runs besides its share: what the full sweep found
# that the share does not reach (each a fix in segtool/formats)
ALSO = {
    ("mots", "stem-nonutf8"): ("convert-yolo-seg", "convert-voc", "convert-camvid", "convert-cvat"),
    ("masks", "png1-max-header"): ("info", "convert-labelme"),
    ("sa1b", "ref-hash"): ("convert-cvat",),
    ("yolo-seg", "val-yaml-bomb"): ("info", "validate", "preview"),
    ("kitti", "stem-dots"): ("preview",),  # preview --html saved an image named "..." 's thumbnail with no format
}


def all_specs() -> list[Spec]:
    specs = []
    for g, fmt in enumerate(fb.BASES):
        specs += [spec(fmt, "base", None, name, g % 2) for name in NAMES + WORKERS]
        for k, (case, edit) in enumerate(variants(fmt).items()):
            n = len(NAMES)
            chosen = NAMES if FULL else (NAMES[(k * 3 + g) % n], NAMES[k % 2], NAMES[(k * 7 + g + 5) % n])
            if k % 2:  # every other variant read as its format, past detection
                chosen = tuple(c if c == "eval" else f"{c}-from" for c in chosen)
            chosen += ALSO.get((fmt, case), ()) + (WORKERS if case in IN_WORKERS else ())
            specs += [spec(fmt, case, edit, name, g % 2) for name in dict.fromkeys(chosen)]
    return specs


def _safe(text: str) -> str:
    """A pytest id of only word characters and ``.=+-`` (a case named by an odd value)."""
    return re.sub(r"[^\w.=+-]", "_", text.encode("ascii", "backslashreplace").decode())


def _unique(specs: list[Spec]) -> dict[str, Spec]:
    """The specs by id, each case renamed to a safe one (``~n`` added where two collide)."""
    out: dict[str, Spec] = {}
    for s in specs:
        case, n = _safe(s.case), 1
        while replace(s, case=case).id in out:
            case, n = f"{_safe(s.case)}~{n}", n + 1
        out[replace(s, case=case).id] = replace(s, case=case)
    return out


SPECS = _unique(all_specs())


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request)], tmp_path_factory.mktemp(CLS))


@pytest.mark.parametrize(
    "spec_id",
    list(SPECS),
    ids=list(SPECS),
)
def test_format_hostile(request, outcomes, spec_id):
    ran = outcomes[spec_id]
    s = SPECS[spec_id]
    refused = s.command in REFUSED or f"{s.case.removesuffix('-base')}/{s.command}" in REFUSED
    if s.case.endswith("-base") and not ran.error and ran.out.exit not in (0, 1) and not refused:
        check(request, CLS, s.case, s.command, ran.out, [f"valid tree: exit {ran.out.exit}"])
    # eval panoptic of VOC/KITTI/MOTS ground truth is refused naming an image, not a file
    eval_refused = s.command == "eval" and f"{s.case.split('-')[0]}/eval" in REFUSED
    if not ran.error and ran.out.exit == 2 and not eval_refused and not _names_a_file(ran.out.stderr, ran.root):
        check(request, CLS, s.case, s.command, ran.out, ["refusal names no file"])
    check_spec(request, s, ran)


def _names_a_file(stderr: str, root: Path) -> bool:
    """A refusal names the file (or folder) at fault: a path inside the case's folder, or the
    link target a variant put there (/etc...)."""
    return str(root) in stderr or "/etc" in stderr


def test_read_only_targets_refused(request, tmp_path, monkeypatch):
    """convert --to a format segtool only reads: one line, exit 2 (not an internal error)."""
    from .harness import broken, case_root, run_inprocess

    for to in READ_ONLY:
        root = case_root(tmp_path / to)
        base = fb.cityscapes(root)
        c = Cmd(
            ["convert", str(base.src), str(root / "out" / "o" / "d"), "--to", to], [root / "out" / "o"], frozenset({2})
        )
        out = run_inprocess(c, root, monkeypatch)
        check(request, CLS, f"read-only-{to}", "convert", out, broken(out, c, root))
