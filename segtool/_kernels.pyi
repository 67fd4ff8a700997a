"""Types of segtool._kernels (segtool/_kernels.c), the compiled loops.

Every buffer must be C-contiguous with exactly the element type named here (numpy dtype in
brackets, native byte order), writable where it is an output; a wrong element type, a size
that disagrees with the others, or a size argument out of range raises ``ValueError``
before any memory is touched. A non-buffer raises ``TypeError``.
"""

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer as _Buffer

Buffer = _Buffer | npt.NDArray[Any]  # numpy arrays are buffers (numpy's stubs say so only on Python >= 3.12)

def unfilter(src: Buffer, dst: Buffer, height: int, rowbytes: int, bpp: int) -> None:
    """Undo PNG row filters: ``src`` [uint8] holds ``height`` rows of 1 + ``rowbytes``
    bytes (filter byte first); ``dst`` [uint8, out] gets ``height * rowbytes`` bytes.
    ``bpp`` (bytes per pixel, 1..8) divides ``rowbytes``."""

def pair_counts(
    gt_rgb: Buffer,
    pred_rgb: Buffer,
    gt_ids: Buffer,
    gt_rank: Buffer,
    pred_ids: Buffer,
    pred_rank: Buffer,
    table: Buffer,
) -> tuple[int, int] | None:
    """Add the (ground truth, prediction) pixel counts of two RGB maps [uint8, same size]
    into ``table`` [int64, out, (len(gt_ids) + 1) x (len(pred_ids) + 1)]. Ids [uint32]
    map to table rows (columns) by their rank [int64, each in 1..len(ids)]. Returns None,
    or (1 or 2, id) for the first id of a side that its list lacks."""

def joint_hist8(a: Buffer, b: Buffer, out: Buffer) -> None:
    """Add the joint histogram of two label maps [uint8, same size] into ``out`` [int64,
    out, 65536]: ``out[256 * a + b]``."""

def pack_rgb(rgb: Buffer, out: Buffer) -> None:
    """RGB bytes [uint8, 3n] -> ``out`` [uint32, out, n] = R + 256 G + 65536 B."""

def rle_areas(strings: Sequence[str | Buffer], h: int, w: int, areas: Buffer) -> int:
    """Decode compressed COCO RLE strings of an ``h`` x ``w`` image (0 <= h, w <= 2^31),
    strictly (what pycocotools would read differently is undecodable), writing each area
    into ``areas`` [int64, out, len(strings)], -1 for an undecodable one. Returns the index
    of the first undecodable string, or -1."""

def rle_iou(
    dt: Sequence[str | Buffer],
    gt: Sequence[str | Buffer],
    h: int,
    w: int,
    dt_cat: Buffer,
    gt_cat: Buffer,
    crowd: Buffer,
    out: Buffer,
) -> None:
    """pycocotools' mask IoU of every (dt, gt) pair, the same doubles bit for bit, into
    ``out`` [float64, out, len(dt) x len(gt)]; -1 where the categories [int64] differ;
    ``crowd`` [uint8, len(gt)]: IoU over the detection's area. ``ValueError`` names the
    first undecodable string."""

def coco_image(
    gt_text: str,
    dt_text: str,
    h: int,
    w: int,
    gt_cat: Buffer,
    gt_ids: Buffer,
    crowd: Buffer,
    gt_area: Buffer,
    dt_cat: Buffer,
    dt_score: Buffer,
    bounds: Buffer,
    thrs: Buffer,
    max_det: int,
    rows: Buffer,
    rank: Buffer,
    flags: Buffer,
    npig: Buffer,
) -> tuple[int, bool]:
    """COCOeval (segm) of one image: ``gt_text`` and ``dt_text`` hold the compressed RLE
    counts of the ground truth and the detections, one a line ('\\n' between them), all h x w;
    ``gt_cat``, ``gt_ids`` [int64, G], ``crowd`` [uint8, G], ``gt_area`` [float64, G: the
    JSON areas], ``dt_cat`` [int64, N], ``dt_score`` [float64, N, finite], ``bounds``
    [float64, 2A: the area ranges' lower bounds, then upper], ``thrs`` [float64, T],
    ``max_det`` (per category). Ranks the detections (by category, then score; ties keep
    their order; at most max_det a category), measures pycocotools' mask IoUs, matches
    greedily in every (area range, threshold) lane, and writes for the K kept ones their
    rows into ``rows`` [int64, out, N], their places within their category into ``rank``
    [int64, out, N], their matched flags then ignored flags (lane a * T + t) into ``flags``
    [uint8, out, N x 2AT, the first K rows], and per ground truth its category's
    non-ignored count per area range into ``npig`` [int64, out, G x A]. Returns (K, whether
    a ground truth has a pixel-bearing mask), or (-1, False) when a line count is wrong or
    a mask is undecodable (as ``rle_areas`` judges it). Runs without the GIL."""

def coco_match(
    ious: Buffer,
    dt_cat: Buffer,
    gt_cat: Buffer,
    gt_ids: Buffer,
    crowd: Buffer,
    ignore: Buffer,
    thrs: Buffer,
    match: Buffer,
    match_ig: Buffer,
) -> None:
    """COCOeval's greedy matching for every (area range, IoU threshold) lane of one image:
    ``ious`` [float64, D x G], ``dt_cat`` [int64, D], ``gt_cat`` and ``gt_ids`` [int64, G],
    ``crowd`` [uint8, G], ``ignore`` [uint8, A x G], ``thrs`` [float64, T]; writes the
    matched ground-truth id into ``match`` [int64, out, A x T x D] (0: none) and whether it
    is ignored into ``match_ig`` [uint8, out, A x T x D]."""

def coco_accumulate(
    matched: Buffer, ignored: Buffer, npig: Buffer, rec_thrs: Buffer, precision: Buffer, recall: Buffer
) -> None:
    """COCOeval.accumulate for one category and maxDets: ``matched`` and ``ignored``
    [uint8, A x T x N] in score order, ``npig`` [int64, A], ``rec_thrs`` [float64, R];
    writes ``precision`` [float64, out, A x T x R] and ``recall`` [float64, out, A x T]
    (lanes of an area range without ground truth are left as they are)."""

def poly_areas(xy: Buffer, ends: Buffer, groups: Buffer, h: int, w: int, areas: Buffer, boxes: Buffer) -> int:
    """pycocotools' ``area`` and ``toBbox`` of ``merge(frPyObjects(polygons, h, w))`` for each
    group, without an RLE: ``xy`` [float64] the polygons' x, y pairs one after another,
    ``ends`` [int64] where each polygon's points end (each at least 3 points), ``groups``
    [int64] where each group's polygons end (each at least one); writes ``areas`` [int64,
    out, len(groups)] and ``boxes`` [float64, out, 4 per group]. A group that
    segtool.cocopoly.polygon_problem might refuse (coordinates not finite or beyond its
    limits, edges near the longest allowed) gets area -1 and a box of zeros; returns the
    first such group, or -1."""

def poly_rles(
    xy: Buffer, ends: Buffer, groups: Buffer, h: int, w: int, areas: Buffer, boxes: Buffer
) -> tuple[int, list[str | None]]:
    """``poly_areas``, and each group's compressed RLE string, the bytes pycocotools writes
    for ``merge(frPyObjects(polygons, h, w))`` (None for a group the limits doubt): returns
    (the first such group or -1, the strings)."""

def parse_points(text: Buffer, xy: Buffer, ends: Buffer, boxes: Buffer) -> int:
    """CVAT ``points`` attributes (``"x1,y1;x2,y2;..."``) of one image joined by ``|``, in
    ``text`` [uint8], read while plain: every number ``-?[0-9]+(.[0-9]+)?`` (not -0), every
    shape 3 to 2^20 points; the same doubles as ``float``. Writes the coordinates into ``xy``
    [float64, out, at least len(text) // 2 + 1], each shape's end (in points) into ``ends``
    [int64, out, one per shape] and its min x, min y, max x, max y into ``boxes`` [float64,
    out, 4 per shape]; returns the number of coordinates, or -1 (the outputs zeroed) when a
    shape is not plain or the shapes are not ``len(ends)``."""

def cvat_polygons(
    data: Buffer, names: Buffer, starts: Buffer, labels: Buffer, xy: Buffer, ends: Buffer, boxes: Buffer
) -> int:
    """One CVAT ``<image>`` element's bytes as the file holds them (``data`` [uint8], from
    ``<image`` to its end tag, excluded) read straight into polygon columns while it is plain
    as CVAT writes it: the start tags' attributes ``name="value"`` (either quote, whitespace
    around ``=``, names ``[A-Za-z_][A-Za-z0-9_.-]*`` not starting with ``xml``, at most 16,
    distinct; values valid UTF-8 of XML characters without ``<``, ``&`` or a byte below
    0x20), only ``<polygon>`` children (self-closed or with whitespace inside) and
    whitespace between them, at least one; each polygon's ``label`` one of the names,
    ``points`` what :func:`parse_points` reads, ``z_order`` absent or -8..63 as ``str``
    writes it, ``group_id`` absent or ``"0"``. The names are ``names`` [uint8] cut at
    ``starts`` [int64, from 0, never decreasing, one more than the names], found as
    ``bisect.bisect_left`` finds them (sorted: their index). Writes each polygon's name index
    into ``labels`` [int64, out], its coordinates into ``xy`` [float64, out, at least
    len(data) // 2 + 1], its end (in points) into ``ends`` [int64, out, as many as labels]
    and its min x, min y, max x, max y into ``boxes`` [float64, out, 4 per label]; returns
    the number of polygons, or -1 (the outputs zeroed) for anything else (more polygons than
    ``labels`` holds included): the general path reads that."""

def scan_annotations(
    data: Buffer, pos: int, first: bool, final: bool, most: int
) -> tuple[int, int, int, bytes, bytes, bytes, list[str | None]]:
    """Up to ``most`` annotations of a COCO instance file's ``annotations`` list (a JSON
    array) from ``data`` [uint8] at ``pos``, as :func:`scan_results` reads a results list
    (the same status, the same JSON rules), while each is plain: an object with integer
    ``image_id`` and ``category_id``, ``bbox`` (four numbers), optionally an integer ``id``
    and ``iscrowd``, a number ``area``, and a ``segmentation``; no ``score``; other keys
    passed over. Returns (status, pos, n, ints [int64 per record: id (0 when absent),
    image_id, category_id, iscrowd (0 or 1: whether it is non-zero), the RLE's h and w (0
    unless flag 1), the offset where the record starts], doubles [float64 per record: area
    (0 when absent) and the box], flags [uint8: 0 no segmentation, 1 a compressed RLE
    ``{"size": [h, w], "counts": str}``, 2 another segmentation], lines [the RLE's counts
    for flag 1, the segmentation's JSON text as written for flag 2, else None])."""

def scan_panoptic(
    data: Buffer, pos: int, first: bool, final: bool, most: int
) -> tuple[int, int, int, bytes, list[str]]:
    """Up to ``most`` records of a COCO panoptic ``annotations`` list (a JSON array) from
    ``data`` [uint8] at ``pos``, as :func:`scan_results` reads a results list (the same
    status, the same JSON rules), while each is plain: an object with an integer
    ``image_id``, a ``file_name`` string without escapes and a ``segments_info`` list, each
    once; other keys passed over. Returns (status, pos, n, ints [int64 per record: image_id,
    the number of items in segments_info, the offset just past the record, the offset where
    it starts], names [each record's file_name])."""

def scan_results(
    data: Buffer, pos: int, first: bool, final: bool, most: int
) -> tuple[int, int, int, bytes, bytes, bytes, list[str | None]]:
    """Up to ``most`` records of a COCO results list (a JSON array) from ``data`` [uint8]
    at ``pos`` (0 <= pos <= len(data); ``first``: just after its ``[``, so ``]`` may come
    instead), while each is plain: an object of ``image_id``, ``category_id`` (integers of at
    most 15 digits), ``score``, optionally ``bbox`` (four numbers) and ``segmentation``
    (``{"size": [h, w], "counts": str}``), other keys passed over. Returns (status, pos, n,
    ints [int64: image_id, category_id, h, w, and the offset in ``data`` where the record
    starts (after the comma before it), per record; h = w = 0 without a segmentation],
    doubles [float64: score and the box per record; a box of zeros without one], flags
    [uint8: 1 a box, 2 a segmentation], counts [each record's counts string, or None]).
    status 0: ``most`` read, the next record at pos; 1: the list ended (pos after its
    ``]``); 2: the record at pos goes past the end of ``data`` (not ``final``: read more);
    3: the record at pos is not plain (or not valid JSON): read on from there with a
    JSON parser."""

def coco_bootstrap(
    weights: Buffer, image: Buffer, tp: Buffer, ignored: Buffer, npig: Buffer, rec_thrs: Buffer, sums: Buffer
) -> None:
    """COCOeval.accumulate of one category (area range "all", the last maxDets) on ``B``
    bootstrap samples at once: ``weights`` [uint32, N x B] each image's count in each sample,
    ``image`` [int64, D] each detection's image (0..N-1), in COCOeval's order (score, then
    image), ``tp`` and ``ignored`` [uint8, T x D] its flags per IoU threshold (nonzero: a
    TP; ignored: neither TP nor FP, whatever ``tp`` says), ``npig`` [int64, B] each sample's
    non-ignored ground truth, ``rec_thrs`` [float64, R, ascending, no NaN]. For each sample
    with ``npig`` > 0 and each threshold, adds to ``sums`` [float64, out, B x T] the sum over
    the recall thresholds of the interpolated precision (COCOeval's ``q``, 0 past the last
    recall), the doubles COCOeval computes on the resampled dataset; other samples' rows are
    left as they are. ``ValueError`` for an image index out of range (when there are
    samples) or ``rec_thrs`` not ascending."""
