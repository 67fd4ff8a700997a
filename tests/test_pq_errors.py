"""``eval panoptic --errors``: each cause alone on a hand-built image (one row of pixels,
so every area is a count), the PQ gains worked out by hand in each docstring from the
definitions of docs/metrics/pq-errors.md; a combined case over three images; invariants
on random images (every unmatched segment gets one cause; with every error fixed FP and
FN vanish, RQ = 1 and PQ = SQ <= 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtool import evaluate_panoptic
from segtool.metrics.panoptic import Positions, table_stat
from segtool.metrics.panoptic_result import PanopticResult
from segtool.metrics.pq_errors import CAUSES, AnalysedStat, PQAnalyses, deltas, fixed
from segtool.model import Category, Segments
from tests.conftest import CATEGORIES, ids_of, panoptic_segments, write_panoptic

PERSON, CAR, DOG, SKY = 1, 2, 7, 200


def strip(*runs: tuple[int, int]) -> np.ndarray:
    """A one-row id map from (id, length) runs; id 0 is void."""
    return np.array([[i for i, n in runs for _ in range(n)]], np.uint32)


def analyse(tmp_path, gts, preds, crowd=frozenset()):
    """gts/preds: per image (id map, {id: category}); the PQ result and the analysis."""
    gt = write_panoptic(tmp_path / "gt.json", [m for m, _ in gts], [panoptic_segments(m, c, crowd) for m, c in gts])
    pred = write_panoptic(tmp_path / "pred.json", [m for m, _ in preds], [panoptic_segments(m, c) for m, c in preds])
    a = PQAnalyses(errors=True, confusion=True)
    result = evaluate_panoptic(gt, pred, analyses=a)
    return result, a.to_dict(result)


def counts(e, side):
    return {k: v for k, v in e[side].items() if v}


def test_wrong_class(tmp_path):
    """GT person A [0,10), car B [10,20); prediction car [0,8), car [10,20).

    car [0,8): IoU with A = 8 / (8 + 10 - 8) = 0.8 > 0.5, another class: cls (FN A, FP car).
    Base: person TP0 FP0 FN1 -> 0; car TP1 (IoU 1) FP1 -> 1 / 1.5 = 2/3; PQ = 1/3.
    cls fixed: person TP1 IoU 0.8 -> 0.8; car FP0 -> 1; PQ = 0.9, gain 0.9 - 1/3.
    """
    g = strip((1, 10), (2, 10))
    p = strip((5, 8), (0, 2), (6, 10))
    result, out = analyse(tmp_path, [(g, {1: PERSON, 2: CAR})], [(p, {5: CAR, 6: CAR})])
    e = out["pq_errors"]
    assert result.average(None)[0]["pq"] == pytest.approx(1 / 3)
    assert counts(e, "false_negatives") == {"cls": 1} and counts(e, "false_positives") == {"cls": 1}
    assert e["gain"]["All"]["cls"] == pytest.approx(0.9 - 1 / 3)
    assert e["per_class"][PERSON]["gain"]["cls"] == pytest.approx(0.8)
    assert e["per_class"][CAR]["gain"]["cls"] == pytest.approx(1 - 2 / 3)
    assert all(e["gain"]["All"][k] == 0 for k in CAUSES if k != "cls")
    m = out["confusion"]
    assert m["matrix"][0][1] == 1 and m["matrix"][1][1] == 1  # person -> car; car -> car
    assert sum(map(sum, m["matrix"])) == 2


def test_merge_false_positive(tmp_path):
    """GT person [0,6), person [6,12), car [12,16); prediction person [1,11), car [12,16).

    person [1,11) (10 px) meets each person on 5 px: IoU 5 / (10 + 6 - 5) = 5/11 (no
    match), and holds 5 of each one's 6 px (> half): it covers both, a merge. FN 2, FP 1.
    Base: person 0, car 1: PQ 0.5. Merge fixed: the FP removed, each person matched with
    IoU 5/6: person 2 * 5/6 / 2 = 5/6; PQ (5/6 + 1) / 2 = 11/12; gain 11/12 - 1/2 = 5/12.
    """
    g = strip((1, 6), (2, 6), (3, 4))
    p = strip((0, 1), (5, 10), (0, 1), (6, 4))
    _, out = analyse(tmp_path, [(g, {1: PERSON, 2: PERSON, 3: CAR})], [(p, {5: PERSON, 6: CAR})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {"merge": 2} and counts(e, "false_positives") == {"merge": 1}
    assert e["gain"]["All"]["merge"] == pytest.approx(5 / 12)
    assert e["per_class"][PERSON]["gain"]["merge"] == pytest.approx(5 / 6)


def test_merge_with_a_match(tmp_path):
    """GT person [0,8), person [8,10); prediction person [0,10).

    IoU with the first: 8 / 10 = 0.8, a match; the second (2 px) is covered whole by the
    same prediction, which covers two: a merge FN, no FP. Base: TP1 IoU 0.8 FN1 ->
    0.8 / 1.5 = 8/15. Fixed: the second matched with IoU 2/2 = 1 -> 1.8 / 2 = 0.9.
    """
    g = strip((1, 8), (2, 2))
    p = strip((5, 10))
    _, out = analyse(tmp_path, [(g, {1: PERSON, 2: PERSON})], [(p, {5: PERSON})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {"merge": 1} and counts(e, "false_positives") == {}
    assert e["gain"]["All"]["merge"] == pytest.approx(0.9 - 8 / 15)


def test_split(tmp_path):
    """GT car [0,10), person [10,14); prediction car [0,4), car [4,8), person [10,14).

    Each car part has IoU 4/10 (no match) and lies whole inside the car: two parts, a split
    (FN 1, FP 2). Base: car 0, person 1: PQ 0.5. Fixed: the parts joined, IoU
    8 / (8 + 10 - 8) = 0.8, the FPs gone: car 0.8, PQ 0.9, gain 0.4.
    """
    g = strip((1, 10), (2, 4))
    p = strip((5, 4), (6, 4), (0, 2), (7, 4))
    _, out = analyse(tmp_path, [(g, {1: CAR, 2: PERSON})], [(p, {5: CAR, 6: CAR, 7: PERSON})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {"split": 1} and counts(e, "false_positives") == {"split": 2}
    assert e["gain"]["All"]["split"] == pytest.approx(0.4)


def test_split_with_a_match(tmp_path):
    """GT car [0,10); prediction car [0,7) (IoU 0.7, a match), car [7,9) (FP, inside the car).

    Two parts in one car: the FP is a split. Base: 0.7 / 1.5 = 7/15; fixed: 0.7; gain 7/30.
    """
    g = strip((1, 10))
    p = strip((5, 7), (6, 2), (0, 1))
    _, out = analyse(tmp_path, [(g, {1: CAR})], [(p, {5: CAR, 6: CAR})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {} and counts(e, "false_positives") == {"split": 1}
    assert e["gain"]["All"]["split"] == pytest.approx(7 / 30)


def test_localization(tmp_path):
    """GT person [0,4), sky [4,20); prediction person [0,10), sky [10,20).

    person [0,10) covers the person (4 of 4 px) with IoU 4/10 = 0.4: loc (FN 1, FP 1); its
    6 px on the sky give IoU 6 / (10 + 16 - 6) = 0.3 there, no cls. Sky: IoU 10/16.
    Base: person 0, sky 0.625: PQ 0.3125. Fixed: person matched with IoU 0.4: PQ
    (0.4 + 0.625) / 2 = 0.5125, gain 0.2.
    """
    g = strip((1, 4), (2, 16))
    p = strip((5, 10), (6, 10))
    _, out = analyse(tmp_path, [(g, {1: PERSON, 2: SKY})], [(p, {5: PERSON, 6: SKY})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {"loc": 1} and counts(e, "false_positives") == {"loc": 1}
    assert e["gain"]["All"]["loc"] == pytest.approx(0.2)


def test_missed(tmp_path):
    """GT person [0,5), car [5,10); prediction car [5,10) only.

    Base: person FN1 -> 0, car 1: PQ 0.5. Fixed (the FN removed): person has nothing left
    and leaves the average: PQ 1, gain 0.5; its own gain is null (no PQ left).
    """
    g = strip((1, 5), (2, 5))
    p = strip((0, 5), (6, 5))
    _, out = analyse(tmp_path, [(g, {1: PERSON, 2: CAR})], [(p, {6: CAR})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {"missed": 1} and counts(e, "false_positives") == {}
    assert e["gain"]["All"]["missed"] == pytest.approx(0.5)
    assert e["per_class"][PERSON]["gain"]["missed"] is None
    assert e["per_class"][CAR]["gain"]["missed"] == 0


def test_hallucinated(tmp_path):
    """GT car [0,5), void [5,8), sky [8,20); prediction car [0,5), person [6,12), sky [12,20).

    person [6,12): 2 of 6 px on void (not over half: counted), IoU with the sky
    4 / (6 + 12 - 4 - 2) = 1/3: bkg. Sky IoU 8/12. Base: (1 + 0 + 2/3) / 3 = 5/9. Fixed:
    person leaves the average: (1 + 2/3) / 2 = 5/6; gain 5/18.
    """
    g = strip((1, 5), (0, 3), (2, 12))
    p = strip((5, 5), (0, 1), (6, 6), (7, 8))
    _, out = analyse(tmp_path, [(g, {1: CAR, 2: SKY})], [(p, {5: CAR, 6: PERSON, 7: SKY})])
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {} and counts(e, "false_positives") == {"bkg": 1}
    assert e["gain"]["All"]["bkg"] == pytest.approx(5 / 18)
    assert out["confusion"]["matrix"][-1][0] == 1  # background -> person


def test_crowd_and_void_are_not_errors(tmp_path):
    """GT person crowd [0,6), car [6,10); prediction person [0,5) (on its crowd: ignored, as
    panopticapi), car [6,10), dog [10,14) (on void: ignored). No error, no cell for them."""
    g = strip((1, 6), (2, 4), (0, 4))
    p = strip((5, 5), (0, 1), (6, 4), (7, 4))
    _, out = analyse(tmp_path, [(g, {1: PERSON, 2: CAR})], [(p, {5: PERSON, 6: CAR, 7: DOG})], crowd={1})
    e = out["pq_errors"]
    assert counts(e, "false_negatives") == {} and counts(e, "false_positives") == {}
    assert e["gain"]["All"]["all"] == 0
    assert sum(map(sum, out["confusion"]["matrix"])) == 1


def test_combined(tmp_path):
    """Three images: the cls case, the missed case and the merge case together.

    Totals: person TP0 FP1 FN4 -> 0; car TP3 (IoU 3) FP1 -> 3 / 3.5 = 6/7; PQ 3/7.
    cls: person TP1 IoU 0.8, FP1, FN3 -> 0.8 / 3; car 1; PQ (4/15 + 1) / 2 = 19/30.
    missed: person FN3 still 0, gain 0. merge: person TP2 IoU 5/3, FN2 -> (5/3) / 3 = 5/9;
    PQ (5/9 + 6/7) / 2 = 89/126. all: person TP3 IoU 0.8 + 5/3 -> 37/45; car 1; PQ 41/45.
    """
    images = [
        (strip((1, 10), (2, 10)), {1: PERSON, 2: CAR}),
        (strip((1, 5), (2, 5)), {1: PERSON, 2: CAR}),
        (strip((1, 6), (2, 6), (3, 4)), {1: PERSON, 2: PERSON, 3: CAR}),
    ]
    preds = [
        (strip((5, 8), (0, 2), (6, 10)), {5: CAR, 6: CAR}),
        (strip((0, 5), (6, 5)), {6: CAR}),
        (strip((0, 1), (5, 10), (0, 1), (6, 4)), {5: PERSON, 6: CAR}),
    ]
    result, out = analyse(tmp_path, images, preds)
    e = out["pq_errors"]
    assert result.average(None)[0]["pq"] == pytest.approx(3 / 7)
    expected = {"cls": 19 / 30 - 3 / 7, "merge": 89 / 126 - 3 / 7, "missed": 0, "all": 41 / 45 - 3 / 7}
    for k, v in expected.items():
        assert e["gain"]["All"][k] == pytest.approx(v), k
    assert counts(e, "false_negatives") == {"cls": 1, "missed": 1, "merge": 2}
    assert counts(e, "false_positives") == {"cls": 1, "merge": 1}
    assert e["gain"]["Stuff"]["all"] == 0


def test_cli(tmp_path, runner):
    """--errors and --confusion-csv through the CLI: the JSON keys, the CSV's cells."""
    from tests.helpers import invoke

    g = strip((1, 10), (2, 10))
    p = strip((5, 8), (0, 2), (6, 10))
    gt = write_panoptic(tmp_path / "gt.json", [g], [panoptic_segments(g, {1: PERSON, 2: CAR})])
    pred = write_panoptic(tmp_path / "pred.json", [p], [panoptic_segments(p, {5: CAR, 6: CAR})])
    csv_path = tmp_path / "confusion.csv"
    r = invoke(runner, "eval", "panoptic", gt, pred, "--errors", "--confusion-csv", csv_path, "--json", "-")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["pq_errors"]["false_negatives"]["cls"] == 1 and "confusion" in data
    lines = csv_path.read_text().splitlines()
    assert lines[1] == "person,0,1,0,0,0,0" and lines[2] == "car,0,1,0,0,0,0"
    table = invoke(runner, "eval", "panoptic", gt, pred, "--errors")
    assert "PQ errors" in table.output and "0.5667" in table.output
    rows = invoke(runner, "eval", "panoptic", gt, pred, "--errors", "--per-class").output
    person = next(line for line in rows.splitlines() if "person" in line and "0.8000" in line)
    assert person.split("│")[3].strip() == "0.8000"  # person's own PQ gained by the cls fix
    bad = invoke(runner, "eval", "panoptic", gt, pred, "--errors", "--boundary")
    assert bad.exit_code == 2 and "Boundary PQ" in bad.output


CATS = tuple(Category(c["id"], c["name"], bool(c["isthing"])) for c in CATEGORIES[:3])


def _random_image(draw, n_max):
    """A small random id map, 2 rows of 12 pixels: runs of 1 to 8 pixels of random ids
    (0 = void), so that segments are large enough to merge, split and cover each other."""
    runs = draw(st.lists(st.tuples(st.integers(0, n_max), st.integers(1, 8)), min_size=3, max_size=24))
    values = [i for i, n in runs for _ in range(n)][:24]
    values += [0] * (24 - len(values))
    return np.array(values, np.int64).reshape(2, 12)


@st.composite
def images(draw):
    g, p = _random_image(draw, 5), _random_image(draw, 6)
    gids, pids = np.unique(g[g > 0]), np.unique(p[p > 0])
    gcat = draw(st.lists(st.sampled_from([1, 2, 7]), min_size=len(gids), max_size=len(gids)))
    pcat = draw(st.lists(st.sampled_from([1, 2, 7]), min_size=len(pids), max_size=len(pids)))
    crowd = draw(st.lists(st.booleans(), min_size=len(gids), max_size=len(gids)))
    return g, p, gids, pids, gcat, pcat, crowd


@settings(max_examples=300, deadline=None)
@given(images())
def test_invariants(case):
    """Every FN and FP gets exactly one cause; with every cause fixed, FP = FN = 0 in every
    category, RQ = 1 and PQ = SQ <= 1 (the documented bound); the confusion matrix counts
    every non-crowd ground-truth segment once and every counted prediction once."""
    g, p, gids, pids, gcat, pcat, crowd = case
    gseg = Segments.build(gids, gcat, crowd, [(g == i).sum() for i in gids])
    pseg = Segments.build(pids, pcat, None, [(p == i).sum() for i in pids])
    grow = np.searchsorted(gids, g) + 1
    grow[g == 0] = 0
    prow = np.searchsorted(pids, p) + 1
    prow[p == 0] = 0
    table = np.zeros((len(gids) + 1, len(pids) + 1), np.int64)
    np.add.at(table, (grow.ravel(), prow.ravel()), 1)
    position = Positions.of(CATS)
    a = PQAnalyses(errors=True, confusion=True)
    stat = table_stat(gseg, pseg, table, position, analyses=a)
    assert isinstance(stat, AnalysedStat) and stat.record is not None
    rec = stat.record
    assert (rec.rows[:, 1] == 0).sum() == stat.fn.sum() and (rec.rows[:, 1] == 1).sum() == stat.fp.sum()
    c, iou = deltas([rec], len(CATS))
    after = fixed(stat, c.sum(axis=0), iou.sum(axis=0))
    assert not after.fp.any() and not after.fn.any() and (after.tp >= 0).all()
    avg = PanopticResult(CATS, after, 1).average(None)[0]
    if avg["n"]:
        assert avg["rq"] == pytest.approx(1) and avg["pq"] == pytest.approx(avg["sq"]) and avg["pq"] <= 1 + 1e-12
    cells = rec.cells
    assert (cells[:, 0] >= 0).sum() == (~gseg.iscrowd).sum()
    assert (cells[:, 1] >= 0).sum() == stat.tp.sum() + stat.fp.sum()


def _reference(g, p, gcat, pcat, crowd):
    """The causes of docs/metrics/pq-errors.md written out pixel by pixel in plain Python,
    independently of segtool's arrays: sorted (cause, side, category id, dTP, dFP, dFN, dIoU)."""
    gids = sorted(set(g.ravel().tolist()) - {0})
    pids = sorted(set(p.ravel().tolist()) - {0})
    gc, pc = dict(zip(gids, gcat, strict=True)), dict(zip(pids, pcat, strict=True))
    cr = dict(zip(gids, crowd, strict=True))
    inter: dict[tuple[int, int], int] = {}
    ag = {i: 0 for i in gids}
    ap = {i: 0 for i in pids}
    vp = {i: 0 for i in pids}
    for a, b in zip(g.ravel().tolist(), p.ravel().tolist(), strict=True):
        ag[a] = ag.get(a, 0) + 1
        if b:
            ap[b] += 1
            if a:
                inter[a, b] = inter.get((a, b), 0) + 1
            else:
                vp[b] += 1

    def iou(a, b):
        i = inter.get((a, b), 0)
        return i / (ap[b] + ag[a] - i - vp[b])

    tp = {(a, b) for (a, b) in inter if gc[a] == pc[b] and not cr[a] and iou(a, b) > 0.5}
    mg, mp = {a for a, _ in tp}, {b for _, b in tp}
    fn = [a for a in gids if a not in mg and not cr[a]]
    fp = []
    for b in pids:
        if b in mp:
            continue
        crowd_of = [a for a in gids if cr[a] and gc[a] == pc[b]]
        on = vp[b] + (inter.get((crowd_of[-1], b), 0) if crowd_of else 0)
        if on / ap[b] <= 0.5:
            fp.append(b)
    counted = mp | set(fp)
    gcause: dict[int, str] = {}
    pcause: dict[int, str] = {}
    out = []

    def same(a, b):
        return not cr[a] and b in counted and gc[a] == pc[b]

    def covers(a, b):
        return same(a, b) and 2 * inter.get((a, b), 0) > ag[a]

    def lies(a, b):
        return same(a, b) and 2 * inter.get((a, b), 0) > ap[b] - vp[b]

    def pairs(ok, cause):
        cands = sorted(((a, b) for a in fn for b in fp if ok(a, b)), key=lambda ab: -iou(*ab))
        for a, b in cands:
            if a not in gcause and b not in pcause:
                gcause[a], pcause[b] = cause, cause
                out.append((cause, 0, gc[a], 1, 0, -1, iou(a, b)))
                out.append((cause, 1, pc[b], 0, -1, 0, 0.0))

    pairs(lambda a, b: gc[a] != pc[b] and iou(a, b) > 0.5, "cls")
    merging = [b for b in counted if sum(covers(a, b) for a in gids) >= 2]
    for b in merging:
        if b in fp and b not in pcause:
            pcause[b] = "merge"
            out.append(("merge", 1, pc[b], 0, -1, 0, 0.0))
        for a in gids:
            if covers(a, b) and a in fn and a not in gcause:
                gcause[a] = "merge"
                out.append(("merge", 0, gc[a], 1, 0, -1, inter[a, b] / ag[a]))
    for a in gids:
        parts = [b for b in pids if lies(a, b) and b not in pcause]
        if len(parts) < 2:
            continue
        for b in parts:
            if b in fp:
                pcause[b] = "split"
                out.append(("split", 1, pc[b], 0, -1, 0, 0.0))
        if a in fn and a not in gcause:
            gcause[a] = "split"
            i = sum(inter[a, b] for b in parts)
            out.append(("split", 0, gc[a], 1, 0, -1, i / (sum(ap[b] - vp[b] for b in parts) + ag[a] - i)))
    pairs(lambda a, b: covers(a, b) or lies(a, b), "loc")
    out += [("missed", 0, gc[a], 0, 0, -1, 0.0) for a in fn if a not in gcause]
    out += [("bkg", 1, pc[b], 0, -1, 0, 0.0) for b in fp if b not in pcause]
    return sorted((c, s, k, t, f, n, round(v, 9)) for c, s, k, t, f, n, v in out)


@settings(max_examples=300, deadline=None)
@given(images())
def test_equals_reference(case):
    """The record equals the definitions written out pixel by pixel, from the dense table
    and from the sparse pairs (:class:`Pairs`, the path of large images) alike."""
    from segtool.metrics.panoptic import Pairs

    g, p, gids, pids, gcat, pcat, crowd = case
    gseg = Segments.build(gids, gcat, crowd, [(g == i).sum() for i in gids])
    pseg = Segments.build(pids, pcat, None, [(p == i).sum() for i in pids])
    table = np.zeros((len(gids) + 1, len(pids) + 1), np.int64)
    grow = np.where(g > 0, np.searchsorted(gids, g) + 1, 0)
    prow = np.where(p > 0, np.searchsorted(pids, p) + 1, 0)
    np.add.at(table, (grow.ravel(), prow.ravel()), 1)
    expected = _reference(g, p, gcat, pcat, crowd)
    cats = np.array([c.id for c in CATS])
    for t in (table, Pairs.of_table(table)):
        stat = table_stat(gseg, pseg, t, Positions.of(CATS), analyses=PQAnalyses(errors=True))
        rec = stat.record
        got = sorted(
            (CAUSES[r[0]], int(r[1]), int(cats[r[2]]), int(r[3]), int(r[4]), int(r[5]), round(float(v), 9))
            for r, v in zip(rec.rows, rec.iou, strict=True)
        )
        assert got == expected


REAL = Path(__file__).resolve().parents[1].parent / "shared/data/real/panopticapi/coco_panoptic/sample_data"


def test_real_image(tmp_path):
    """panopticapi's real COCO image 439180 (its JSON areas equal its PNG's, README), with a
    prediction made from its ground truth: truck 4587520 (1,680 px) labelled car (3); horses
    2505 + 2742 + 1904 px drawn as one (IoU 2742/7151 < 0.5 with each: a merge FP and three
    merge FNs); horses 573 + 96 px as one (IoU 573/669 with the first, a match; the second a
    merge FN); person 5777861 (496 px) left void (missed); the rest, crowd included, as is.

    person 12 TP, 1 FN -> 12/12.5; truck 1 TP, 1 FN -> 1/1.5; car 1 FP -> 0; horse 7 TP
    (IoU 6 + 573/669), FP 1, FN 4 -> /9.5; 4 stuff classes 1: PQ over 8 classes.
    """
    if not REAL.exists():
        pytest.skip("the real fixtures (../shared) are absent")
    data = json.loads((REAL / "panoptic_examples.json").read_text())
    ann = next(a for a in data["annotations"] if a["image_id"] == 439180)
    ids = ids_of(REAL / "panoptic_examples" / ann["file_name"]).astype(np.int64)
    area = {s["id"]: s["area"] for s in ann["segments_info"]}
    by_area = {a: i for i, a in area.items()}  # the horses named by their (unique) areas
    pred = ids.copy()
    pred[ids == 5777861] = 0
    for src, dst in ((2742, 2505), (1904, 2505), (96, 573)):
        pred[ids == by_area[src]] = by_area[dst]
    cats = {s["id"]: s["category_id"] for s in ann["segments_info"]}
    cats[4587520] = 3
    gt = write_panoptic(tmp_path / "gt.json", [ids], [ann["segments_info"]], data["categories"])
    pr = write_panoptic(tmp_path / "pred.json", [pred], [panoptic_segments(pred, cats)], data["categories"])
    a = PQAnalyses(errors=True, confusion=True)
    result = evaluate_panoptic(gt, pr, analyses=a)
    e = a.to_dict(result)["pq_errors"]
    h = 6 + 573 / 669
    person, truck, horse_pq = 12 / 12.5, 1 / 1.5, h / 9.5
    base = (person + truck + 0 + horse_pq + 4) / 8
    assert result.average(None)[0]["pq"] == pytest.approx(base)
    assert counts(e, "false_negatives") == {"cls": 1, "merge": 4, "missed": 1}
    assert counts(e, "false_positives") == {"cls": 1, "merge": 1}
    assert e["gain"]["All"]["cls"] == pytest.approx((person + 1 + horse_pq + 4) / 7 - base)
    assert e["gain"]["All"]["merge"] == pytest.approx((person + truck + 0 + (h + 4) / 11 + 4) / 8 - base)
    assert e["gain"]["All"]["missed"] == pytest.approx((1 + truck + 0 + horse_pq + 4) / 8 - base)
    assert e["gain"]["All"]["all"] == pytest.approx((1 + 1 + (h + 4) / 11 + 4) / 7 - base)
