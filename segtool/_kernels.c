/*
 * segtool._kernels: the few loops that whole-array numpy cannot express.
 *
 * - unfilter: PNG row filters (Sub, Up, Average, Paeth) are sequential within a row by
 *   definition, so numpy has no whole-array form for them. Inflating is left to libdeflate
 *   (the `deflate` package); this file only undoes the filters, ~0.4 ms for 640x480 RGB.
 * - pair_counts: the (ground-truth segment, predicted segment) pixel table of PQ, read
 *   straight from two RGB buffers: one pass, ids looked up only where a run changes.
 * - pack_rgb: RGB bytes -> uint32 ids (R + 256 G + 65536 B).
 * - joint_hist8: the joint histogram of two 8-bit label maps (mIoU's confusion matrix).
 * - rle_areas, rle_iou, coco_match: COCO mask AP's per-image work (decoding compressed RLE
 *   strings, safely; mask IoU; COCOeval's greedy matching). pycocotools runs the first two in
 *   C behind per-call Python conversions and the third in Python loops.
 * - scan_results: a COCO results list's plain records straight into columns (no dict each).
 * - cvat_polygons: a CVAT <image> of plain polygons from its bytes to columns (no expat).
 * - coco_bootstrap: compare's AP bootstrap, COCOeval's accumulation weighted per sample.
 *
 * Plain CPython with the buffer protocol (no numpy C API), so one build serves numpy 1 and 2.
 * Every size is checked against the buffers before a byte is read or written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Built for the stable ABI (one abi3 wheel for CPython 3.11 and later: setup.py defines
 * Py_LIMITED_API there), where a sequence's items are reached through calls, not macros. */
#ifdef Py_LIMITED_API
#define SEQ_SIZE(s) PySequence_Size(s)
#define SEQ_ITEM(s, i) PySequence_GetItem((s), (i)) /* a new reference, NULL on error */
#define SEQ_ITEM_DONE(o) Py_DECREF(o)
#else
#define SEQ_SIZE(s) PySequence_Fast_GET_SIZE(s)
#define SEQ_ITEM(s, i) PySequence_Fast_GET_ITEM((s), (i)) /* borrowed */
#define SEQ_ITEM_DONE(o) ((void)0)
#endif

#if defined(_MSC_VER)
#define ALWAYS_INLINE __forceinline
#define NOINLINE __declspec(noinline)
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#else
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif

/* ------------------------------------------------------------- argument checks
 *
 * Every buffer is taken with its format, and refused (ValueError) unless its elements are
 * the type the kernel reads: a byte length that happens to match is not enough (an int32
 * array where int64 ranks are expected has half as many elements). Every size product is
 * computed without overflow. Python ints too large for a size are a ValueError as well. */

typedef enum { U8, U32, I64, F64 } Elem;

static const char *const elem_names[] = {"uint8", "uint32", "int64", "float64"};

/* Does a buffer format (struct syntax, one item) name `elem` in native byte order? */
static int format_is(const char *fmt, Py_ssize_t itemsize, Elem elem)
{
    const char native = PY_LITTLE_ENDIAN ? '<' : '>';
    const char *f = fmt != NULL ? fmt : "B"; /* NULL means unsigned bytes */
    if (*f == '@' || *f == '=' || *f == native)
        f++;
    if (f[0] == '\0' || f[1] != '\0')
        return 0;
    switch (elem) {
    case U8:
        return f[0] == 'B' && itemsize == 1;
    case U32:
        return (f[0] == 'I' || f[0] == 'L') && itemsize == 4;
    case I64:
        return (f[0] == 'q' || f[0] == 'l') && itemsize == 8;
    case F64:
        return f[0] == 'd' && itemsize == 8;
    }
    return 0;
}

/* The buffers of one call, released together whatever happened. */
#define MAX_BUFS 9
typedef struct {
    Py_buffer b[MAX_BUFS];
    int n;
} Bufs;

/* Take obj's buffer, C-contiguous, of element type `elem` (writable if asked) into bs;
 * returns a pointer to it, or NULL with ValueError (TypeError for a non-buffer). */
static Py_buffer *take(Bufs *bs, PyObject *obj, Elem elem, int writable, const char *name)
{
    Py_buffer *v = &bs->b[bs->n];
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, v, flags) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s: not a contiguous%s buffer", name, writable ? " writable" : "");
        }
        return NULL;
    }
    bs->n++;
    if (!format_is(v->format, v->itemsize, elem)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %s elements, got format '%s' of %zd bytes", name,
                     elem_names[elem], v->format != NULL ? v->format : "B", v->itemsize);
        return NULL;
    }
    return v;
}

static void release(Bufs *bs)
{
    for (int i = 0; i < bs->n; i++)
        PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* Elements of a taken buffer. */
static inline Py_ssize_t count(const Py_buffer *v) { return v->len / v->itemsize; }

/* a * b into *out, or 0 when either is negative or the product overflows. */
static int mul_ok(Py_ssize_t a, Py_ssize_t b, Py_ssize_t *out)
{
    if (a < 0 || b < 0 || (a != 0 && b > PY_SSIZE_T_MAX / a))
        return 0;
    *out = a * b;
    return 1;
}

/* PyArg_ParseTuple's OverflowError for a size argument (beyond 2^63) as ValueError. */
static PyObject *parse_failed(void)
{
    if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "a size argument is out of range");
    }
    return NULL;
}

/* The Paeth predictor, written as selects (no branches): a if pa <= min(pb, pc), else b if
 * pb <= pc, else c; the same choices as the PNG specification's if-chain. */
static ALWAYS_INLINE int paeth(int a, int b, int c)
{
    const int p = b - c, q = a - c;
    const int pa = abs(p), pb = abs(q), pc = abs(p + q);
    const int bc = pb <= pc ? b : c;
    const int m = pb <= pc ? pb : pc;
    return pa <= m ? a : bc;
}

/* Segment maps are mostly runs of one colour: a Sub or Paeth row is then mostly zero
 * residuals, which the byte-serial loops below would still walk one dependent add at a time
 * (Paeth: 20% of the rows and most of the time, 640x480 RGB panoptic PNGs). RUN_PIXELS
 * pixels whose residuals are all zero are tested in 8-byte words and written as copies of
 * the pixel to the left; the result is the same bytes. */
#define RUN_PIXELS 8

/* The RUN_PIXELS * bpp bytes at s (8 * bpp: bpp words) are all zero. */
static ALWAYS_INLINE int zero_bytes(const uint8_t *s, const int bpp)
{
    uint64_t any = 0;
    for (int k = 0; k < bpp; k++) {
        uint64_t w;
        memcpy(&w, s + 8 * k, 8);
        any |= w;
    }
    return any == 0;
}

/* RUN_PIXELS copies of the pixel `left` (bpp channels) at d. */
static ALWAYS_INLINE void fill_run(uint8_t *d, const int *left, const int bpp)
{
    for (int k = 0; k < RUN_PIXELS; k++)
        for (int c = 0; c < bpp; c++)
            d[k * bpp + c] = (uint8_t)left[c];
}

/* Undo the filters of `height` rows of `rb` bytes each (src rows carry a leading filter
 * byte). The left and upper-left pixels live in registers (`left`, `ul`), not re-read from
 * the row just written: store-to-load forwarding would serialise every byte. The first
 * pixel sees left = upper-left = 0 and the first row an all-zero row above, which is how
 * the PNG specification defines the edges, so no filter needs an edge case. Inlined once
 * per bpp, so the channel loops unroll. Returns the first bad filter byte's row, or -1. */
static ALWAYS_INLINE Py_ssize_t unfilter_bpp(const uint8_t *src, uint8_t *dst, const uint8_t *zero, Py_ssize_t height,
                                             Py_ssize_t rb, const int bpp)
{
    for (Py_ssize_t y = 0; y < height; y++) {
        const uint8_t *s = src + y * (rb + 1);
        const uint8_t f = *s++;
        uint8_t *d = dst + y * rb;
        const uint8_t *u = y > 0 ? d - rb : zero; /* the row above, already unfiltered */
        int left[8] = {0}, ul[8] = {0};
        Py_ssize_t i;
        int c;
        switch (f) {
        case 0:
            memcpy(d, s, (size_t)rb);
            break;
        case 1:
            for (i = 0; i < rb;) {
                /* RUN_PIXELS zero residuals: the pixel to the left, repeated */
                if (i >= bpp && i + RUN_PIXELS * bpp <= rb && zero_bytes(s + i, bpp)) {
                    fill_run(d + i, left, bpp);
                    i += RUN_PIXELS * bpp;
                    continue;
                }
                const Py_ssize_t end = i + RUN_PIXELS * bpp < rb ? i + RUN_PIXELS * bpp : rb;
                for (; i < end; i += bpp)
                    for (c = 0; c < bpp; c++)
                        d[i + c] = (uint8_t)(left[c] = (uint8_t)(s[i + c] + left[c]));
            }
            break;
        case 2:
            for (i = 0; i < rb; i++)
                d[i] = (uint8_t)(s[i] + u[i]);
            break;
        case 3:
            for (i = 0; i < rb; i += bpp)
                for (c = 0; c < bpp; c++)
                    d[i + c] = (uint8_t)(left[c] = (uint8_t)(s[i + c] + ((left[c] + u[i + c]) >> 1)));
            break;
        case 4:
            for (i = 0; i < rb;) {
                /* RUN_PIXELS zero residuals under a row above that repeats its pixel there
                 * (up == upper-left throughout): Paeth picks left each time, so the pixel to
                 * the left repeats, and upper-left stays what it was (the row above repeats). */
                if (i >= bpp && i + RUN_PIXELS * bpp <= rb && zero_bytes(s + i, bpp) &&
                    memcmp(u + i, u + i - bpp, (size_t)(RUN_PIXELS * bpp)) == 0) {
                    fill_run(d + i, left, bpp);
                    i += RUN_PIXELS * bpp;
                    continue;
                }
                const Py_ssize_t end = i + RUN_PIXELS * bpp < rb ? i + RUN_PIXELS * bpp : rb;
                for (; i < end; i += bpp)
                    for (c = 0; c < bpp; c++) {
                        const int up = u[i + c];
                        /* up == upper-left (vertical continuity, most of a segment map): Paeth
                         * picks left. The test reads only the row above, so the branch is
                         * predicted and the chain through `left` is one add, not the predictor. */
                        if (LIKELY(up == ul[c]))
                            left[c] = (uint8_t)(s[i + c] + left[c]);
                        else
                            left[c] = (uint8_t)(s[i + c] + paeth(left[c], up, ul[c]));
                        d[i + c] = (uint8_t)left[c];
                        ul[c] = up;
                    }
            }
            break;
        default:
            return y;
        }
    }
    return -1;
}

/* Not inlined into its Python wrapper: inlined there, GCC 12 lays out the Paeth loop ~50%
 * slower (measured, 640x480 RGB: 2.5 ms vs 1.6 ms). */
static NOINLINE Py_ssize_t unfilter_rows(const uint8_t *src, uint8_t *dst, const uint8_t *zero, Py_ssize_t height,
                                         Py_ssize_t rb, int bpp)
{
    switch (bpp) {
    case 1:
        return unfilter_bpp(src, dst, zero, height, rb, 1);
    case 2:
        return unfilter_bpp(src, dst, zero, height, rb, 2);
    case 3:
        return unfilter_bpp(src, dst, zero, height, rb, 3);
    case 4:
        return unfilter_bpp(src, dst, zero, height, rb, 4);
    default:
        return unfilter_bpp(src, dst, zero, height, rb, bpp);
    }
}

static PyObject *unfilter(PyObject *self, PyObject *args)
{
    PyObject *src_obj, *dst_obj;
    Py_ssize_t height, rb;
    int bpp;
    if (!PyArg_ParseTuple(args, "OOnni", &src_obj, &dst_obj, &height, &rb, &bpp))
        return parse_failed();
    Bufs bs = {0};
    PyObject *result = NULL;
    uint8_t *zero = NULL;
    const Py_buffer *src = NULL, *dst = NULL;
    if ((src = take(&bs, src_obj, U8, 0, "src")) == NULL || (dst = take(&bs, dst_obj, U8, 1, "dst")) == NULL) {
        /* the error is set */
    } else if (height < 0 || rb < 1 || bpp < 1 || bpp > 8 || rb % bpp)
        PyErr_SetString(PyExc_ValueError, "bad image geometry");
    /* height * (rb + 1) <= src.len and height * rb <= dst.len, by division (no overflow) */
    else if (height > 0 && (rb >= src->len || height > src->len / (rb + 1)))
        PyErr_SetString(PyExc_ValueError, "image data is truncated");
    else if (height > 0 && height > dst->len / rb)
        PyErr_SetString(PyExc_ValueError, "output buffer is too small");
    else if (height == 0)
        result = Py_NewRef(Py_None);
    else if ((zero = calloc((size_t)rb, 1)) == NULL)
        PyErr_NoMemory();
    else {
        Py_ssize_t bad;
        Py_BEGIN_ALLOW_THREADS
        bad = unfilter_rows((const uint8_t *)src->buf, (uint8_t *)dst->buf, zero, height, rb, bpp);
        Py_END_ALLOW_THREADS
        if (bad >= 0)
            PyErr_Format(PyExc_ValueError, "invalid filter type in row %zd", bad);
        else
            result = Py_NewRef(Py_None);
    }
    free(zero);
    release(&bs);
    return result;
}

/* Segment id -> table index: an open-addressing hash table (linear probing, load <= 1/4).
 * Looked up where a run of pixels changes (tens of thousands of times per image), where a
 * binary search's unpredictable branches cost more than the counting itself. Key 0 marks an
 * empty slot: id 0 is void and never stored. */
typedef struct {
    uint32_t *keys;
    int64_t *vals;
    uint32_t shift, mask;
} IdMap;

static int idmap_init(IdMap *map, const uint32_t *ids, const int64_t *rank, Py_ssize_t n)
{
    uint32_t bits = 6;
    while (((Py_ssize_t)1 << bits) < 4 * n)
        bits++;
    if (bits > 30)
        return -1;
    const size_t size = (size_t)1 << bits;
    map->keys = calloc(size, sizeof(uint32_t));
    map->vals = malloc(size * sizeof(int64_t));
    if (map->keys == NULL || map->vals == NULL)
        return -1; /* the caller's idmap_free releases what was allocated */
    map->shift = 32 - bits;
    map->mask = (uint32_t)size - 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (ids[k] == 0)
            continue;
        uint32_t h = (ids[k] * 0x9E3779B1u) >> map->shift;
        while (map->keys[h] != 0 && map->keys[h] != ids[k])
            h = (h + 1) & map->mask;
        map->keys[h] = ids[k];
        map->vals[h] = rank[k];
    }
    return 0;
}

static inline int64_t idmap_get(const IdMap *map, uint32_t id)
{
    if (id == 0)
        return 0;
    uint32_t h = (id * 0x9E3779B1u) >> map->shift;
    for (;;) {
        const uint32_t key = map->keys[h];
        if (key == id)
            return map->vals[h];
        if (key == 0)
            return -1;
        h = (h + 1) & map->mask;
    }
}

static void idmap_free(IdMap *map)
{
    free(map->keys), free(map->vals);
    map->keys = NULL, map->vals = NULL;
}

#define RUN_STEP 8

/* Add the pixel count of every (ground truth, prediction) id pair of two RGB buffers into
 * the table t (rows: gmap's indices, columns: pmap's). Returns 0, or the side (1 or 2) of
 * the first id its map lacks, stored in *bad (the table then holds a partial count). */
static NOINLINE int count_pairs(const uint8_t *g, const uint8_t *p, Py_ssize_t npix, const IdMap *gmap, const IdMap *pmap,
                       int64_t *t, Py_ssize_t width, uint32_t *bad)
{
    uint32_t last_g = 0, last_p = 0; /* id 0 (void) has index 0 on both sides */
    int64_t row = 0, col = 0, run = 0;
    Py_ssize_t k = 0;
    while (k < npix) {
        /* 8 pixels equal to the one before them, in both images: the run goes on. Most
         * pixels lie inside long runs, and a 24-byte compare skips them 8 at a time. */
        if (k >= 1 && k + RUN_STEP <= npix && memcmp(g + 3 * k, g + 3 * k - 3, 3 * RUN_STEP) == 0 &&
            memcmp(p + 3 * k, p + 3 * k - 3, 3 * RUN_STEP) == 0) {
            run += RUN_STEP;
            k += RUN_STEP;
            continue;
        }
        const Py_ssize_t end = k + RUN_STEP < npix ? k + RUN_STEP : npix;
        for (; k < end; k++) {
            const uint32_t a = g[3 * k] | ((uint32_t)g[3 * k + 1] << 8) | ((uint32_t)g[3 * k + 2] << 16);
            const uint32_t b = p[3 * k] | ((uint32_t)p[3 * k + 1] << 8) | ((uint32_t)p[3 * k + 2] << 16);
            if (a == last_g && b == last_p) {
                run++;
                continue;
            }
            t[row * width + col] += run;
            run = 1;
            if (a != last_g) {
                if ((row = idmap_get(gmap, a)) < 0) {
                    *bad = a;
                    return 1;
                }
                last_g = a;
            }
            if (b != last_p) {
                if ((col = idmap_get(pmap, b)) < 0) {
                    *bad = b;
                    return 2;
                }
                last_p = b;
            }
        }
    }
    t[row * width + col] += run;
    return 0;
}

/* Ranks index the table's rows (columns): each must lie in 1..n, or a hostile rank would
 * send count_pairs' additions anywhere in memory. One pass over the ids, not the pixels. */
static int ranks_ok(const int64_t *rank, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++)
        if (rank[k] < 1 || rank[k] > n)
            return 0;
    return 1;
}

static PyObject *pair_counts(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    if (!PyArg_ParseTuple(args, "OOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    IdMap gmap = {0}, pmap = {0};
    const Py_buffer *gt = NULL, *pr = NULL, *gids = NULL, *grank = NULL, *pids = NULL, *prank = NULL, *table = NULL;
    Py_ssize_t cells = 0;
    if ((gt = take(&bs, o[0], U8, 0, "gt_rgb")) == NULL || (pr = take(&bs, o[1], U8, 0, "pred_rgb")) == NULL ||
        (gids = take(&bs, o[2], U32, 0, "gt_ids")) == NULL || (grank = take(&bs, o[3], I64, 0, "gt_rank")) == NULL ||
        (pids = take(&bs, o[4], U32, 0, "pred_ids")) == NULL ||
        (prank = take(&bs, o[5], I64, 0, "pred_rank")) == NULL || (table = take(&bs, o[6], I64, 1, "table")) == NULL) {
        /* the error is set */
    } else if (gt->len != pr->len || gt->len % 3)
        PyErr_SetString(PyExc_ValueError, "the two RGB buffers differ in size");
    else if (count(grank) != count(gids) || count(prank) != count(pids))
        PyErr_SetString(PyExc_ValueError, "ids and ranks differ in length");
    else if (!mul_ok(count(gids) + 1, count(pids) + 1, &cells) || count(table) != cells)
        PyErr_SetString(PyExc_ValueError, "table has the wrong size");
    else if (!ranks_ok(grank->buf, count(grank)) || !ranks_ok(prank->buf, count(prank)))
        PyErr_SetString(PyExc_ValueError, "a rank lies outside 1..len(ids)");
    else if (idmap_init(&gmap, gids->buf, grank->buf, count(gids)) < 0 ||
             idmap_init(&pmap, pids->buf, prank->buf, count(pids)) < 0)
        PyErr_NoMemory();
    else {
        uint32_t bad = 0;
        int side;
        Py_BEGIN_ALLOW_THREADS
        side = count_pairs(gt->buf, pr->buf, gt->len / 3, &gmap, &pmap, table->buf, count(pids) + 1, &bad);
        Py_END_ALLOW_THREADS
        result = side ? Py_BuildValue("(iI)", side, bad) : Py_NewRef(Py_None);
    }
    idmap_free(&gmap);
    idmap_free(&pmap);
    release(&bs);
    return result;
}

/* The joint histogram of two 8-bit label maps: out[256 * a + b] counts the pixels labelled
 * a in the first and b in the second (mIoU's confusion before classes are mapped). Runs of
 * one pair are counted first and added once: label maps are mostly long runs, and adding to
 * the same bin pixel after pixel would wait on the store before each add. */
/* The end of the run of (a, b) pairs that starts before e: eight pairs a step where the
 * compiler gives the lowest differing byte (label maps are mostly long runs), else one. */
static Py_ssize_t run_end8(const uint8_t *g, const uint8_t *p, Py_ssize_t e, Py_ssize_t n, uint8_t a, uint8_t b)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t wa = 0x0101010101010101ULL * a, wb = 0x0101010101010101ULL * b;
    while (n - e >= 8) {
        uint64_t x, y;
        memcpy(&x, g + e, 8);
        memcpy(&y, p + e, 8);
        const uint64_t differ = (x ^ wa) | (y ^ wb);
        if (differ)
            return e + __builtin_ctzll(differ) / 8;
        e += 8;
    }
#endif
    while (e < n && g[e] == a && p[e] == b)
        e++;
    return e;
}

static PyObject *joint_hist8(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    const Py_buffer *ga = NULL, *pa = NULL, *out = NULL;
    if ((ga = take(&bs, o[0], U8, 0, "a")) == NULL || (pa = take(&bs, o[1], U8, 0, "b")) == NULL ||
        (out = take(&bs, o[2], I64, 1, "out")) == NULL) {
        /* the error is set */
    } else if (ga->len != pa->len)
        PyErr_SetString(PyExc_ValueError, "the two label maps differ in size");
    else if (count(out) != 65536)
        PyErr_SetString(PyExc_ValueError, "out must hold 65536 int64 counts");
    else {
        const uint8_t *g = ga->buf, *p = pa->buf;
        int64_t *h = out->buf;
        const Py_ssize_t n = ga->len;
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t k = 0;
        while (k < n) {
            const uint8_t a = g[k], b = p[k];
            const Py_ssize_t e = run_end8(g, p, k + 1, n, a, b);
            h[256 * a + b] += e - k;
            k = e;
        }
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    release(&bs);
    return result;
}

static PyObject *pack_rgb(PyObject *self, PyObject *args)
{
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    const Py_buffer *rgb = NULL, *out = NULL;
    if ((rgb = take(&bs, o[0], U8, 0, "rgb")) == NULL || (out = take(&bs, o[1], U32, 1, "out")) == NULL) {
        /* the error is set */
    } else if (rgb->len % 3 || count(out) != rgb->len / 3)
        PyErr_SetString(PyExc_ValueError, "output must hold one uint32 per RGB pixel");
    else {
        const uint8_t *s = rgb->buf;
        uint32_t *d = out->buf;
        const Py_ssize_t npix = rgb->len / 3;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < npix; k++)
            d[k] = s[3 * k] | ((uint32_t)s[3 * k + 1] << 8) | ((uint32_t)s[3 * k + 2] << 16);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    release(&bs);
    return result;
}

/* ---------------------------------------------------------------- COCO RLE */

/* One decoded RLE: counts (alternating runs of 0s and 1s, column-major), its area and the
 * range of columns it spans, for the test that skips most pairs. */
typedef struct {
    int64_t *cnts;
    Py_ssize_t m;
    int ok;         /* decoded and valid */
    int inner_zero; /* a zero-length run after the first count: see rle_iou_as_pycocotools */
    int64_t area;
    int64_t x0, x1; /* columns of the first and last pixel; x0 > x1 when the mask is empty */
    int64_t y0, y1; /* its box's top and bottom rows, once rle_rows measured them (rows: 1) */
    int rows;
} Rle;

/* pycocotools' rleFrString, strict: 5 bits per character ('0' + value), a set 0x20 bit
 * continues the value, the last character's 0x10 bit sign-extends it; from the third value
 * on each count is stored relative to the count two before. The string is bad (returns -1)
 * when a character lies outside '0'..'o', it ends inside a value, a count is negative or
 * beyond h*w, or the counts do not add up to h*w: pycocotools would loop forever, or read
 * or write out of bounds, on such a string.
 *
 * Also bad: what pycocotools decodes differently from its own definition. It shifts each
 * 5-bit group as a 32-bit int, so a 7th group keeps only its low bit right (bit 30) and an
 * 8th is lost, and it sign-extends a 7-character value by `-1 << 35`, undefined behaviour
 * (on x86 it sets bits 3..63 and garbles the value: checked). So a 7th group may only be 0
 * or 1 and end the value or continue it, an 8th only 0 and end it, and no value has more.
 * pycocotools itself writes at most 7 characters, and a 7th only for a step below -2^29 or
 * above 2^30: counts of images under 2^29 pixels never need one. */
static int rle_decode(const uint8_t *s, Py_ssize_t len, int64_t h, int64_t w, Rle *r)
{
    const int64_t total = h * w;
    r->cnts = malloc(sizeof(int64_t) * (size_t)(len > 0 ? len : 1));
    if (r->cnts == NULL)
        return -2;
    Py_ssize_t m = 0, p = 0;
    int64_t sum = 0, area = 0, first = -1, last = -1;
    int inner_zero = 0;
    while (p < len) {
        int64_t x;
        /* Most values are one or two characters (small steps between the column runs of
         * a mask): both read at once and one chosen without a branch, which the mix of the
         * two lengths would mispredict. c1 is 64 (no value) past the end. */
        const uint32_t c0 = (uint32_t)s[p] - 48u, c1 = p + 1 < len ? (uint32_t)s[p + 1] - 48u : 64u;
        const uint32_t two = (c0 >> 5) & 1; /* 1: c0 continues into c1, which must end the value */
        /* else decoded below: c0 outside '0'..'o', or c1 when c0 continues and c1 does not
         * end the value (or is missing, or outside the alphabet); written without && or ||,
         * which would branch on the length */
        const uint32_t other = (c0 >> 6) | ((c1 & (0u - two)) >> 5);
        if (LIKELY(other == 0)) {
            const int64_t one_char = (int64_t)(c0 & 0x1f) - (int64_t)((c0 & 0x10) << 1);
            const int64_t two_chars = (int64_t)((c0 & 0x1f) | ((c1 & 0x1f) << 5)) - (int64_t)((c1 & 0x10) << 6);
            x = one_char ^ ((one_char ^ two_chars) & -(int64_t)two);
            p += 1 + (Py_ssize_t)two;
        } else {
            uint64_t bits = 0; /* unsigned: shifts never overflow; 8 characters (40 bits) at most */
            int k = 0, more = 1;
            while (more) {
                if (p >= len || k >= 8)
                    return -1;
                const int c = (int)s[p] - 48;
                if (c < 0 || c > 63)
                    return -1;
                bits |= (uint64_t)(c & 0x1f) << (5 * k);
                more = c & 0x20;
                p++, k++;
                if (!more && (c & 0x10))
                    bits |= ~(uint64_t)0 << (5 * k); /* sign-extend the last group */
            }
            /* see above: a 7th group of 0 or 1 (so no sign either), an 8th of 0 (checked on
             * the characters, rarely: a value of 7 or 8 characters) */
            if (UNLIKELY(k > 6) && (((s[p - k + 6] - 48) & 0x1f) > 1 || (k == 8 && s[p - 1] != '0')))
                return -1;
            x = (int64_t)bits;
        }
        if (m > 2)
            x += r->cnts[m - 2];
        if (x < 0 || x > total)
            return -1;
        inner_zero |= (x == 0) & (m > 0);
        /* area, and the first and last pixel (their columns: two divisions per mask, not
         * per run): runs of 1s are the odd counts */
        if ((m & 1) && x > 0) {
            if (first < 0)
                first = sum;
            last = sum + x - 1;
            area += x;
        }
        r->cnts[m++] = x;
        sum += x;
        if (sum > total)
            return -1;
    }
    if (sum != total)
        return -1;
    r->m = m;
    r->inner_zero = inner_zero;
    r->x0 = first < 0 ? 1 : first / h;
    r->x1 = first < 0 ? 0 : last / h;
    r->area = area;
    r->ok = 1;
    return 0;
}

static void rle_free_all(Rle *rles, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        free(rles[i].cnts);
    free(rles);
}

/* ------------------------------------------------ decoded strings, remembered
 *
 * Mask AP decodes each image's strings twice: once where they are read (rle_areas: the
 * strict check, the detections' areas), once more for the IoUs (rle_iou), the next moment.
 * Decoding was most of rle_iou's time, so rle_areas keeps what it decoded, and rle_iou
 * copies it from here instead of decoding again (a copy of ~100 counts: a tenth of a
 * decode). An entry is keyed by the object itself (held, so its address cannot be reused)
 * and the image size: only exact str and bytes are kept, which cannot change. Direct-mapped
 * by address, RLE_CACHE entries, RLE_CACHE_BYTES at most; a collision or a miss only
 * means decoding again. Only rle_areas writes, under the GIL; free-threaded builds keep none. */
#define RLE_CACHE_BITS 12
#define RLE_CACHE (1 << RLE_CACHE_BITS) /* entries: well above one image's strings */

#define RLE_CACHE_BYTES ((size_t)32 << 20) /* counts and texts held, at most */

typedef struct {
    PyObject *key; /* a strong reference, or NULL */
    int64_t h, w;
    size_t bytes; /* its share of rle_cache_bytes */
    Rle rle;
} CacheEntry;

static size_t rle_cache_bytes;

#ifdef Py_GIL_DISABLED
static int cacheable(PyObject *o) { (void)o; return 0; }
static CacheEntry *cache_slot(PyObject *o) { (void)o; return NULL; }
#else
static CacheEntry rle_cache[RLE_CACHE];

static int cacheable(PyObject *o) { return PyUnicode_CheckExact(o) || PyBytes_CheckExact(o); }

static CacheEntry *cache_slot(PyObject *o)
{
    const uint64_t a = (uint64_t)(uintptr_t)o >> 4;
    return &rle_cache[(a * 0x9E3779B97F4A7C15ull) >> (64 - RLE_CACHE_BITS)];
}
#endif

/* The decoded copy of o (h x w) from the cache into *r, or 0 when it is not there (or no
 * memory for the copy: the caller then decodes). */
static int cache_get(PyObject *o, int64_t h, int64_t w, Rle *r)
{
    CacheEntry *e = cacheable(o) ? cache_slot(o) : NULL;
    if (e == NULL || e->key != o || e->h != h || e->w != w)
        return 0;
    int64_t *cnts = malloc(sizeof(int64_t) * (size_t)(e->rle.m > 0 ? e->rle.m : 1));
    if (cnts == NULL)
        return 0;
    if (e->rle.m > 0)
        memcpy(cnts, e->rle.cnts, sizeof(int64_t) * (size_t)e->rle.m);
    *r = e->rle;
    r->cnts = cnts;
    return 1;
}

/* Remember a valid decoded r of o (h x w, `len` bytes of text), replacing what its slot
 * held, unless that would take the cache past RLE_CACHE_BYTES: r's counts are the cache's
 * from then on (r->cnts is NULL after). */
static void cache_put(PyObject *o, Py_ssize_t len, int64_t h, int64_t w, Rle *r)
{
    CacheEntry *e = cacheable(o) ? cache_slot(o) : NULL;
    if (e == NULL || !r->ok)
        return;
    const size_t bytes = sizeof(int64_t) * (size_t)r->m + (size_t)len; /* the counts, and the text held */
    if (rle_cache_bytes - e->bytes + bytes > RLE_CACHE_BYTES)
        return;
    int64_t *cnts = realloc(r->cnts, sizeof(int64_t) * (size_t)(r->m > 0 ? r->m : 1)); /* sized to the counts */
    if (cnts != NULL)
        r->cnts = cnts;
    PyObject *old = e->key;
    free(e->rle.cnts);
    rle_cache_bytes += bytes - e->bytes;
    e->rle = *r;
    e->h = h, e->w = w, e->bytes = bytes;
    e->key = Py_NewRef(o);
    r->cnts = NULL;
    Py_XDECREF(old); /* a str or bytes: freeing it runs no Python code */
}

/* One string of rle_decode_all: held (a strong reference, its buffer) while it is decoded. */
typedef struct {
    PyObject *item;
    Py_buffer b;
    const char *text;
    Py_ssize_t len;
    int cached, status;
} RleText;

/* A hash of a string's bytes, 8 at a time (for rle_decode_texts' table only). */
static uint64_t text_hash(const char *p, Py_ssize_t len)
{
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
    Py_ssize_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        x = (x ^ v) * 0xFF51AFD7ED558CCDull;
        x ^= x >> 32;
    }
    for (; i < len; i++)
        x = (x ^ (uint8_t)p[i]) * 0x100000001B3ull;
    return x ^ (x >> 29);
}

/* Decode the strings not found in the cache (no Python: run without the GIL). A string equal
 * to an earlier one of the same call is decoded once, its counts copied: a model that gives
 * one mask to several categories repeats its string (the LVIS benchmark's detections: 60% of
 * each image's strings). Without memory for the table, each is decoded. */
static void rle_decode_texts(RleText *texts, Py_ssize_t count, int64_t h, int64_t w, Rle *rles)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)count)
        cap *= 2;
    Py_ssize_t *table = count > 1 ? malloc(cap * sizeof(Py_ssize_t)) : NULL;
    uint64_t *hashes = table != NULL ? malloc((size_t)count * sizeof(uint64_t)) : NULL;
    if (table != NULL)
        memset(table, 0xFF, cap * sizeof(Py_ssize_t)); /* -1: empty */
    for (Py_ssize_t i = 0; i < count; i++) {
        RleText *t = &texts[i];
        if (t->cached)
            continue;
        Py_ssize_t same = -1;
        size_t slot = 0;
        if (hashes != NULL) {
            hashes[i] = text_hash(t->text, t->len);
            for (slot = hashes[i] & (cap - 1); table[slot] >= 0; slot = (slot + 1) & (cap - 1)) {
                const Py_ssize_t j = table[slot];
                if (hashes[j] == hashes[i] && texts[j].len == t->len && memcmp(texts[j].text, t->text, (size_t)t->len) == 0) {
                    same = j;
                    break;
                }
            }
        }
        if (same < 0) {
            t->status = rle_decode((const uint8_t *)t->text, t->len, h, w, &rles[i]);
            if (hashes != NULL)
                table[slot] = i;
            continue;
        }
        t->status = texts[same].status; /* the same bytes: the same result */
        if (t->status != 0)
            continue; /* undecodable (or no memory): rles[i] stays as calloc left it, not ok */
        rles[i] = rles[same];
        rles[i].cnts = malloc(sizeof(int64_t) * (size_t)(rles[same].m > 0 ? rles[same].m : 1));
        if (rles[i].cnts == NULL) {
            rles[i].ok = 0, t->status = -2;
            continue;
        }
        if (rles[same].m > 0)
            memcpy(rles[i].cnts, rles[same].cnts, sizeof(int64_t) * (size_t)rles[same].m);
    }
    free(hashes);
    free(table);
}

/* Decode every string of a Python sequence of str or bytes-like objects (all h x w). On a bad one,
 * *bad is its index; on a Python error (not bytes, no memory) returns -1. The strings are taken
 * with the GIL (each held, so the sequence may change meanwhile), decoded without it (another
 * thread runs Python meanwhile: eval instance scores two images at once), and remembered with
 * it again. */
static int rle_decode_all(PyObject *seq, int64_t h, int64_t w, Rle **out, Py_ssize_t *n, Py_ssize_t *bad,
                          int remember)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of RLE strings");
    if (fast == NULL)
        return -1;
    const Py_ssize_t count = SEQ_SIZE(fast);
    if (count < 0) {
        Py_DECREF(fast);
        return -1;
    }
    Rle *rles = calloc((size_t)(count > 0 ? count : 1), sizeof(Rle));
    RleText *texts = calloc((size_t)(count > 0 ? count : 1), sizeof(RleText));
    if (rles == NULL || texts == NULL) {
        free(rles);
        free(texts);
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t taken = 0;
    int failed = 0;
    for (; taken < count; taken++) { /* with the GIL: each string's bytes */
        RleText *t = &texts[taken];
        PyObject *item = SEQ_ITEM(fast, taken);
        if (item == NULL) {
            failed = 1;
            break;
        }
#ifndef Py_LIMITED_API
        Py_INCREF(item); /* SEQ_ITEM lent it: held from here */
#endif
        t->item = item;
        if (!remember && cache_get(item, h, w, &rles[taken])) {
            t->cached = 1;
            continue;
        }
        /* str (as JSON gives it; an ASCII str's UTF-8 is its own storage, no copy) or bytes */
        if (PyUnicode_Check(item))
            t->text = PyUnicode_AsUTF8AndSize(item, &t->len);
        else if (PyObject_GetBuffer(item, &t->b, PyBUF_SIMPLE) == 0)
            t->text = t->b.buf, t->len = t->b.len;
        if (t->text == NULL) {
            failed = 1, taken++;
            break;
        }
    }
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
        rle_decode_texts(texts, count, h, w, rles);
        Py_END_ALLOW_THREADS
    }
    *bad = -1;
    for (Py_ssize_t i = 0; i < taken; i++) { /* with the GIL again */
        RleText *t = &texts[i];
        if (!failed && t->status == -2)
            failed = 1, PyErr_NoMemory();
        if (!failed && remember && !t->cached && t->status == 0)
            cache_put(t->item, t->len, h, w, &rles[i]);
        if (t->status < 0 && *bad < 0)
            *bad = i;
        if (t->b.obj != NULL)
            PyBuffer_Release(&t->b);
        Py_DECREF(t->item);
    }
    free(texts);
    Py_DECREF(fast);
    if (failed) {
        rle_free_all(rles, count);
        return -1;
    }
    *out = rles;
    *n = count;
    return 0;
}

/* Image sizes the RLE kernels take: h * w must not overflow (pycocotools' own limits are
 * the callers' to check). */
static int rle_size_ok(long long h, long long w)
{
    if (h < 0 || w < 0 || h > (1LL << 31) || w > (1LL << 31)) {
        PyErr_SetString(PyExc_ValueError, "bad image size");
        return 0;
    }
    return 1;
}

static PyObject *rle_areas(PyObject *self, PyObject *args)
{
    PyObject *seq, *areas_obj;
    long long h, w;
    if (!PyArg_ParseTuple(args, "OLLO", &seq, &h, &w, &areas_obj))
        return parse_failed();
    Bufs bs = {0};
    Rle *rles = NULL;
    Py_ssize_t n = 0, bad = -1;
    PyObject *result = NULL;
    const Py_buffer *areas = NULL;
    const Py_ssize_t items = PySequence_Size(seq);
    if (items < 0 || (areas = take(&bs, areas_obj, I64, 1, "areas")) == NULL || !rle_size_ok(h, w)) {
        /* the error is set */
    } else if (count(areas) != items)
        PyErr_SetString(PyExc_ValueError, "areas must hold one int64 per RLE");
    else if (rle_decode_all(seq, h, w, &rles, &n, &bad, 1) == 0) {
        if (count(areas) != n) /* the sequence changed size while it was read */
            PyErr_SetString(PyExc_ValueError, "areas must hold one int64 per RLE");
        else {
            int64_t *a = areas->buf;
            for (Py_ssize_t i = 0; i < n; i++)
                a[i] = rles[i].ok ? rles[i].area : -1;
            result = PyLong_FromSsize_t(bad);
        }
        rle_free_all(rles, n);
    }
    release(&bs);
    return result;
}

/* Pixels in both of two RLEs: a merge of their run lists (pycocotools' rleIou loop, for
 * RLEs without zero-length runs, where it and this agree), up to the end of the column where
 * the first of them ends (h rows a column): past it, no pixel is in both. */
static int64_t rle_intersection(const Rle *a, const Rle *b, int64_t h)
{
    if (a->m == 0 || b->m == 0)
        return 0;
    Py_ssize_t ia = 0, ib = 0;
    int64_t ea = a->cnts[0], eb = b->cnts[0], pos = 0, inter = 0; /* ends of the current runs */
    const int64_t stop = ((a->x1 < b->x1 ? a->x1 : b->x1) + 1) * h;
    while (ia < a->m && ib < b->m && pos < stop) {
        const int64_t end = ea < eb ? ea : eb;
        if ((ia & 1) && (ib & 1))
            inter += end - pos;
        pos = end;
        if (ea == end && ++ia < a->m)
            ea += a->cnts[ia];
        if (eb == end && ++ib < b->m)
            eb += b->cnts[ib];
    }
    return inter;
}

/* pycocotools' rleIou loop, step for step: each side moves on by at most one count per step,
 * and the loop stops as soon as both sides' current counts are 0. A zero-length run in the
 * middle of an RLE (legal: uncompressed counts like [0, 3, 0, 2, ...] keep them) can stop it
 * early, and then intersection and union are those of the pixels before that point: what
 * COCOeval computes, so what segtool must compute. *inter and *uni as pycocotools' i and u. */
static void rle_iou_as_pycocotools(const Rle *a, const Rle *b, int64_t *inter, int64_t *uni)
{
    int64_t ca = a->cnts[0], cb = b->cnts[0], i = 0, u = 0, ct = 1;
    Py_ssize_t ia = 1, ib = 1;
    int va = 0, vb = 0;
    while (ct > 0) {
        const int64_t c = ca < cb ? ca : cb;
        if (va || vb) {
            u += c;
            if (va && vb)
                i += c;
        }
        ct = 0;
        ca -= c;
        if (!ca && ia < a->m)
            ca = a->cnts[ia++], va = !va;
        ct += ca;
        cb -= c;
        if (!cb && ib < b->m)
            cb = b->cnts[ib++], vb = !vb;
        ct += cb;
    }
    *inter = i, *uni = u;
}

/* The top and bottom rows of r's pixels (h rows an image), measured when first wanted:
 * a division per run of 1s, so only for the masks of pairs that share a column. A run that
 * goes on into the next column covers its first row and its last: every row. */
static void rle_rows(Rle *r, int64_t h)
{
    int64_t pos = 0, y0 = h, y1 = -1;
    for (Py_ssize_t j = 0; j < r->m; pos += r->cnts[j++]) {
        if (!(j & 1) || r->cnts[j] == 0)
            continue;
        const int64_t top = pos % h, bottom = top + r->cnts[j] - 1;
        if (bottom >= h) {
            y0 = 0, y1 = h - 1;
            break;
        }
        y0 = top < y0 ? top : y0;
        y1 = bottom > y1 ? bottom : y1;
    }
    r->y0 = y0, r->y1 = y1, r->rows = 1;
}

/* pycocotools' IoU of two decoded RLEs (crowd: over the detection's area); 0 when they share
 * no column, or with `rows` no row (pycocotools' box test says the same: no common pixel, so
 * i is 0 and so is the IoU, whichever loop counts it). The rows are measured on the first
 * pair that needs them (a and b are rle_iou's own copies). */
static double rle_pair_iou(Rle *a, Rle *b, int crowd, int64_t h, int rows)
{
    if (a->x0 > b->x1 || b->x0 > a->x1 || a->m == 0 || b->m == 0)
        return 0.0; /* no common column: no common pixel */
    if (rows) {
        if (!a->rows)
            rle_rows(a, h);
        if (!b->rows)
            rle_rows(b, h);
        if (a->y0 > b->y1 || b->y0 > a->y1)
            return 0.0; /* no common row */
    }
    int64_t i, u;
    if (a->inner_zero || b->inner_zero)
        rle_iou_as_pycocotools(a, b, &i, &u);
    else
        i = rle_intersection(a, b, h), u = a->area + b->area - i;
    /* as pycocotools: i / u as doubles; crowd: u is the detection's area */
    if (i == 0)
        u = 1;
    else if (crowd)
        u = a->area;
    return (double)i / (double)u;
}

static PyObject *rle_iou(PyObject *self, PyObject *args)
{
    PyObject *dseq, *gseq, *o[4];
    long long h, w;
    if (!PyArg_ParseTuple(args, "OOLLOOOO", &dseq, &gseq, &h, &w, &o[0], &o[1], &o[2], &o[3]))
        return parse_failed();
    Bufs bs = {0};
    Rle *dt = NULL, *gt = NULL;
    Py_ssize_t nd = 0, ng = 0, dbad = -1, gbad = -1, cells = 0;
    PyObject *result = NULL;
    const Py_buffer *dcat = NULL, *gcat = NULL, *crowd = NULL, *out = NULL;
    if ((dcat = take(&bs, o[0], I64, 0, "dt_cat")) == NULL ||
        (gcat = take(&bs, o[1], I64, 0, "gt_cat")) == NULL || (crowd = take(&bs, o[2], U8, 0, "crowd")) == NULL ||
        (out = take(&bs, o[3], F64, 1, "out")) == NULL || !rle_size_ok(h, w)) {
        /* the error is set */
    } else if (rle_decode_all(dseq, h, w, &dt, &nd, &dbad, 0) == 0) {
        if (rle_decode_all(gseq, h, w, &gt, &ng, &gbad, 0) == 0) {
            if (dbad >= 0 || gbad >= 0)
                PyErr_Format(PyExc_ValueError, "undecodable RLE: %s #%zd", dbad >= 0 ? "detection" : "ground truth",
                             dbad >= 0 ? dbad : gbad);
            else if (count(dcat) != nd || count(gcat) != ng || count(crowd) != ng || !mul_ok(nd, ng, &cells) ||
                     count(out) != cells)
                PyErr_SetString(PyExc_ValueError, "array sizes do not match the RLE lists");
            else {
                const int64_t *dc = dcat->buf, *gc = gcat->buf;
                const uint8_t *cr = crowd->buf;
                double *res = out->buf;
                /* the rows are tested when every pair is asked for (one category: TIDE's rows of
                 * unmatched detections), half of which share columns and not rows; a mask's
                 * few pairs of its own category rarely lie apart, and measuring costs more */
                int rows = nd > 0;
                for (Py_ssize_t k = 1; k < nd && rows; k++)
                    rows = dc[k] == dc[0];
                for (Py_ssize_t k = 0; k < ng && rows; k++)
                    rows = gc[k] == dc[0];
                Py_BEGIN_ALLOW_THREADS /* the buffers are held: their memory stays */
                for (Py_ssize_t d = 0; d < nd; d++)
                    for (Py_ssize_t g = 0; g < ng; g++) /* another category: never a match */
                        res[d * ng + g] = dc[d] != gc[g] ? -1.0 : rle_pair_iou(&dt[d], &gt[g], cr[g], h, rows);
                Py_END_ALLOW_THREADS
                result = Py_NewRef(Py_None);
            }
            rle_free_all(gt, ng);
        }
        rle_free_all(dt, nd);
    }
    release(&bs);
    return result;
}

/* coco_match's arrays agree: ious (D, G); dt_cat (D); gt_cat, gt_ids, crowd (G); ignore
 * (A, G); thrs (T); match and match_ig (A, T, D). Products checked for overflow. */
static int match_sizes(const Py_buffer *ious, const Py_buffer *dcat, const Py_buffer *gcat, const Py_buffer *gids,
                       const Py_buffer *crowd, const Py_buffer *ignore, const Py_buffer *thrs, const Py_buffer *match,
                       const Py_buffer *match_ig, Py_ssize_t *nd, Py_ssize_t *ng, Py_ssize_t *nt, Py_ssize_t *na)
{
    Py_ssize_t pairs, lanes, cells;
    *nd = count(dcat), *ng = count(gcat), *nt = count(thrs);
    *na = *ng > 0 ? count(ignore) / *ng : 0;
    if (!mul_ok(*nd, *ng, &pairs) || !mul_ok(*na, *nt, &lanes) || !mul_ok(lanes, *nd, &cells))
        return 0;
    return count(ious) == pairs && count(gids) == *ng && count(crowd) == *ng && count(ignore) == *na * *ng &&
           count(match) == cells && count(match_ig) == cells;
}

/* The ground truth each detection can match in some lane, in ascending order: of its
 * category, and an IoU not below the lowest threshold (any other fails `row[g] < bar` in
 * every lane, as the bar starts at a threshold and only rises). The candidates of
 * detection d are cand[first[d] .. first[d + 1]); NULL when out of memory. Most pairs of
 * an image are of other categories or do not overlap: the lanes then look at a few. */
static Py_ssize_t *match_candidates(const double *iou, const int64_t *dc, const int64_t *gc, const double *thr,
                                    Py_ssize_t nd, Py_ssize_t ng, Py_ssize_t nt, Py_ssize_t *first)
{
    double low = nt > 0 ? thr[0] : 0.0;
    for (Py_ssize_t t = 1; t < nt; t++)
        low = thr[t] < low ? thr[t] : low;
    Py_ssize_t n = 0;
    for (Py_ssize_t d = 0; d < nd; d++)
        for (Py_ssize_t g = 0; g < ng; g++)
            n += gc[g] == dc[d] && !(iou[d * ng + g] < low);
    Py_ssize_t *cand = malloc(sizeof(Py_ssize_t) * (size_t)(n > 0 ? n : 1));
    if (cand == NULL)
        return NULL;
    n = 0;
    for (Py_ssize_t d = 0; d < nd; d++) {
        first[d] = n;
        for (Py_ssize_t g = 0; g < ng; g++)
            if (gc[g] == dc[d] && !(iou[d * ng + g] < low))
                cand[n++] = g;
    }
    first[nd] = n;
    return cand;
}

/* coco_match's lanes: for each (area range a, threshold t), the greedy matching of the
 * detections (candidates from match_candidates) to the ground truth; `taken` holds ng bytes.
 * Also the fused coco_images kernel's (no Python: runs without the GIL). */
static void match_lanes(const double *iou, const int64_t *gid, const uint8_t *cr, const uint8_t *ig,
                        const double *thr, const Py_ssize_t *first, const Py_ssize_t *cand, uint8_t *taken,
                        Py_ssize_t nd, Py_ssize_t ng, Py_ssize_t nt, Py_ssize_t na, int64_t *mt, uint8_t *mi)
{
    for (Py_ssize_t a = 0; a < na; a++) {
        const uint8_t *iga = ig + a * ng;
        for (Py_ssize_t t = 0; t < nt; t++) {
            int64_t *mrow = mt + (a * nt + t) * nd;
            uint8_t *irow = mi + (a * nt + t) * nd;
            memset(taken, 0, (size_t)ng);
            for (Py_ssize_t d = 0; d < nd; d++) {
                const double *row = iou + d * ng;
                Py_ssize_t best = -1;
                for (int pass = 0; pass < 2 && best < 0; pass++) {
                    double bar = thr[t];
                    for (Py_ssize_t k = first[d]; k < first[d + 1]; k++) {
                        const Py_ssize_t g = cand[k];
                        if (iga[g] != pass || (taken[g] && !cr[g]) || row[g] < bar)
                            continue;
                        bar = row[g];
                        best = g;
                    }
                }
                mrow[d] = best >= 0 ? gid[best] : 0;
                irow[d] = best >= 0 ? iga[best] : 0;
                if (best >= 0)
                    taken[best] = 1;
            }
        }
    }
}

/* COCOeval.evaluateImg's greedy matching, for every lane (area range a, IoU threshold t) of
 * one image at once. Detections come sorted by category, then score; for each, the ground
 * truth of its category is searched non-ignored first, then ignored (pycocotools sorts it
 * so and breaks at the first ignored one once it holds a non-ignored match); the last of
 * equal best IoUs wins (pycocotools replaces on `>=`); a matched non-crowd ground truth is
 * taken. Writes the matched ground-truth id (0: none) and whether it is ignored. */
static PyObject *coco_match(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    uint8_t *taken = NULL;
    Py_ssize_t *first = NULL, *cand = NULL;
    const Py_buffer *ious = NULL, *dcat = NULL, *gcat = NULL, *gids = NULL, *crowd = NULL, *ignore = NULL,
                    *thrs = NULL, *match = NULL, *match_ig = NULL;
    Py_ssize_t nd = 0, ng = 0, nt = 0, na = 0;
    if ((ious = take(&bs, o[0], F64, 0, "ious")) == NULL || (dcat = take(&bs, o[1], I64, 0, "dt_cat")) == NULL ||
        (gcat = take(&bs, o[2], I64, 0, "gt_cat")) == NULL || (gids = take(&bs, o[3], I64, 0, "gt_ids")) == NULL ||
        (crowd = take(&bs, o[4], U8, 0, "crowd")) == NULL || (ignore = take(&bs, o[5], U8, 0, "ignore")) == NULL ||
        (thrs = take(&bs, o[6], F64, 0, "thrs")) == NULL || (match = take(&bs, o[7], I64, 1, "match")) == NULL ||
        (match_ig = take(&bs, o[8], U8, 1, "match_ig")) == NULL) {
        /* the error is set */
    } else if (!match_sizes(ious, dcat, gcat, gids, crowd, ignore, thrs, match, match_ig, &nd, &ng, &nt, &na))
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
    else if ((taken = malloc((size_t)(ng > 0 ? ng : 1))) == NULL ||
             (first = malloc(sizeof(Py_ssize_t) * (size_t)(nd + 1))) == NULL)
        PyErr_NoMemory();
    else if ((cand = match_candidates(ious->buf, dcat->buf, gcat->buf, thrs->buf, nd, ng, nt, first)) == NULL)
        PyErr_NoMemory();
    else {
        match_lanes(ious->buf, gids->buf, crowd->buf, ignore->buf, thrs->buf, first, cand, taken, nd, ng, nt, na,
                    match->buf, match_ig->buf);
        result = Py_NewRef(Py_None);
    }
    free(taken);
    free(first);
    free(cand);
    release(&bs);
    return result;
}

/* coco_accumulate's arrays agree: npig (A); rec_thrs (R); recall (A, T); matched and
 * ignored (A, T, N); precision (A, T, R). Products checked for overflow. */
static int accumulate_sizes(const Py_buffer *matched, const Py_buffer *ignored, const Py_buffer *npig,
                            const Py_buffer *rec, const Py_buffer *precision, const Py_buffer *recall, Py_ssize_t *na,
                            Py_ssize_t *nt, Py_ssize_t *nr, Py_ssize_t *n)
{
    Py_ssize_t cells, samples;
    *na = count(npig), *nr = count(rec);
    *nt = *na > 0 ? count(recall) / *na : 0;
    const Py_ssize_t lanes = *na * *nt; /* <= count(recall) */
    *n = lanes > 0 ? count(matched) / lanes : 0;
    if (!mul_ok(lanes, *n, &cells) || !mul_ok(lanes, *nr, &samples))
        return 0;
    return count(matched) == cells && count(ignored) == cells && count(precision) == samples &&
           count(recall) == lanes;
}

/* COCOeval.accumulate for one category and maxDets: detections already in score order
 * (mergesort of -score), (A, T, N) matched / ignored flags. Per lane: cumulative TP and FP
 * as doubles, recall tp / npig, precision tp / (fp + tp + eps) made non-increasing from the
 * right, sampled at the first detection whose recall reaches each threshold (0 past the
 * last), exactly pycocotools' operations in its order. Lanes whose area range has no
 * non-ignored ground truth are left as they are (-1). */
static PyObject *coco_accumulate(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    if (!PyArg_ParseTuple(args, "OOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    double *pr = NULL, *rc = NULL;
    const Py_buffer *matched = NULL, *ignored = NULL, *npig = NULL, *rec = NULL, *precision = NULL, *recall = NULL;
    Py_ssize_t na = 0, nr = 0, nt = 0, n = 0;
    if ((matched = take(&bs, o[0], U8, 0, "matched")) == NULL ||
        (ignored = take(&bs, o[1], U8, 0, "ignored")) == NULL || (npig = take(&bs, o[2], I64, 0, "npig")) == NULL ||
        (rec = take(&bs, o[3], F64, 0, "rec_thrs")) == NULL ||
        (precision = take(&bs, o[4], F64, 1, "precision")) == NULL ||
        (recall = take(&bs, o[5], F64, 1, "recall")) == NULL) {
        /* the error is set */
    } else if (!accumulate_sizes(matched, ignored, npig, rec, precision, recall, &na, &nt, &nr, &n))
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
    else if ((pr = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1))) == NULL ||
             (rc = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1))) == NULL)
        PyErr_NoMemory();
    else {
        const uint8_t *dtm = matched->buf, *dtig = ignored->buf;
        const int64_t *np_ = npig->buf;
        const double *thr = rec->buf, eps = 2.220446049250313e-16; /* np.spacing(1) */
        double *prec = precision->buf, *reca = recall->buf;
        Py_BEGIN_ALLOW_THREADS /* the buffers are held: mask AP accumulates two categories at once */
        for (Py_ssize_t a = 0; a < na; a++) {
            if (np_[a] <= 0)
                continue;
            for (Py_ssize_t t = 0; t < nt; t++) {
                const Py_ssize_t lane = a * nt + t;
                const uint8_t *m = dtm + lane * n, *ig = dtig + lane * n;
                double tp = 0.0, fp = 0.0;
                for (Py_ssize_t i = 0; i < n; i++) {
                    if (!ig[i]) {
                        if (m[i])
                            tp += 1.0;
                        else
                            fp += 1.0;
                    }
                    rc[i] = tp / (double)np_[a];
                    pr[i] = tp / (fp + tp + eps);
                }
                reca[lane] = n > 0 ? rc[n - 1] : 0.0;
                for (Py_ssize_t i = n - 1; i > 0; i--)
                    if (pr[i] > pr[i - 1])
                        pr[i - 1] = pr[i];
                double *q = prec + lane * nr;
                Py_ssize_t i = 0;
                for (Py_ssize_t r = 0; r < nr; r++) {
                    while (i < n && rc[i] < thr[r]) /* searchsorted(rc, thr, 'left'): thr ascending */
                        i++;
                    q[r] = i < n ? pr[i] : 0.0;
                }
            }
        }
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    free(pr);
    free(rc);
    release(&bs);
    return result;
}

/* ------------------------------------------------------------- COCO results, scanned
 *
 * scan_results: the records of a COCO results list (detectron2's and mmdetection's output:
 * {"image_id", "category_id", "score", "bbox", "segmentation": {"size", "counts"}}) straight
 * into columns, without a dict per record: parsing the list with a JSON parser and walking
 * its dicts was most of reading a results file. Only the plain case is read here; anything
 * else (an escape or a byte past ASCII in a string, an integer of more than 15 digits, a
 * number token of more than 64 characters or beyond a double, a key twice, a value of another type, a missing
 * field, polygons, a syntax error) stops the scan at that record ("bail"), and the caller
 * reads from there with the JSON parser, whose checks and messages then apply. What the scan
 * accepts is valid JSON, and reads as the json module and ijson read it: integers exact,
 * other numbers by PyOS_string_to_double (Python's float()). */
enum { SCAN_MORE = 0, SCAN_END = 1, SCAN_NEED = 2, SCAN_BAIL = 3, SCAN_OK = 4 };
#define SCAN_DEPTH 64     /* nesting of a skipped value, at most */
#define SCAN_TOKEN 64     /* characters of a number token, at most */
#define SCAN_INT_DIGITS 15 /* digits of an integer token, at most (exact as a double too) */

typedef struct {
    const unsigned char *s;
    Py_ssize_t n, i; /* the text's length, the cursor */
} Txt;

/* The next non-blank byte (the cursor on it), or -1 at the end of the text. */
static ALWAYS_INLINE int scan_peek(Txt *t)
{
    while (t->i < t->n) {
        const unsigned char c = t->s[t->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return c;
        t->i++;
    }
    return -1;
}

/* A string at the cursor (on its quote): its bytes [*a, *b) as written, the cursor after it.
 * Only bytes 0x20..0x7f: what reads the same in every parser. Escapes by `kind`: none in a
 * key (KEY_TEXT), \\ \/ \" in RLE counts (COUNTS_TEXT: what json.dumps writes of them; *escaped
 * says if there is one), those and \b \f \n \r \t in a value passed over (ANY_TEXT). */
enum { KEY_TEXT, COUNTS_TEXT, ANY_TEXT };

/* Whether 8 bytes hold a quote, a backslash, a byte below 0x20 or one from 0x80 (the bit
 * tricks of "Bit Twiddling Hacks": exact as a yes/no for the whole word). */
static ALWAYS_INLINE int special8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t v;
    memcpy(&v, p, 8);
    const uint64_t q = v ^ (ones * 0x22), b = v ^ (ones * 0x5C);
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v) | v) & high ? 1 : 0;
}

static int scan_string(Txt *t, Py_ssize_t *a, Py_ssize_t *b, int kind, int *escaped)
{
    const unsigned char *s = t->s;
    int esc = 0;
    Py_ssize_t j = t->i + 1;
    while (j < t->n) {
        if (j + 8 <= t->n && !special8(s + j)) { /* most of a counts string: 8 plain bytes */
            j += 8;
            continue;
        }
        const unsigned char c = s[j];
        if (c == '"') {
            *a = t->i + 1, *b = j;
            t->i = j + 1;
            if (escaped != NULL)
                *escaped = esc;
            return SCAN_OK;
        }
        if (c < 0x20 || c >= 0x80)
            return SCAN_BAIL;
        if (c == '\\') {
            if (kind == KEY_TEXT)
                return SCAN_BAIL;
            if (++j >= t->n)
                return SCAN_NEED;
            const unsigned char e = s[j];
            if (e != '\\' && e != '/' && e != '"' &&
                (kind == COUNTS_TEXT || (e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')))
                return SCAN_BAIL;
            esc = 1;
        }
        j++;
    }
    return SCAN_NEED;
}

/* RLE counts [a, b) (escapes as COUNTS_TEXT allows) as a str. */
static PyObject *counts_text(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, int escaped)
{
    if (!escaped)
        return PyUnicode_DecodeASCII((const char *)s + a, b - a, NULL);
    char *out = malloc((size_t)(b - a) + 1);
    if (out == NULL)
        return PyErr_NoMemory();
    Py_ssize_t k = 0;
    for (Py_ssize_t j = a; j < b; j++)
        out[k++] = (char)(s[j] == '\\' ? s[++j] : s[j]); /* \\ \/ \": the byte after */
    PyObject *text = PyUnicode_DecodeASCII(out, k, NULL);
    free(out);
    return text;
}

static ALWAYS_INLINE int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Whether a number token with an exponent (len <= SCAN_TOKEN) is beyond a double: yajl
 * refuses it (ijson: "numeric (floating point) overflow") where the json module reads inf,
 * so the scan leaves it to the parser. Without an exponent, 64 characters cannot overflow. */
static int too_large(const unsigned char *p, Py_ssize_t len)
{
    char token[SCAN_TOKEN + 1];
    memcpy(token, p, (size_t)len);
    token[len] = '\0';
    const double d = PyOS_string_to_double(token, NULL, NULL); /* overflow: +-inf, no error */
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    return isinf(d);
}

/* A number at the cursor (JSON's grammar): its token [*a, the cursor), whether it is an
 * integer token and, if so, its value. A token that reaches the end of the text may go on:
 * NEED (in a record, a number is always followed by something). */
static int scan_number(Txt *t, Py_ssize_t *a, int *integer, int64_t *value)
{
    const unsigned char *s = t->s;
    const Py_ssize_t n = t->n;
    Py_ssize_t j = t->i;
    const int neg = j < n && s[j] == '-';
    j += neg;
    if (j >= n)
        return SCAN_NEED;
    const Py_ssize_t d0 = j;
    int64_t v = 0;
    if (s[j] == '0')
        j++;
    else if (s[j] >= '1' && s[j] <= '9') {
        while (j < n && is_digit(s[j]) && j - d0 < SCAN_INT_DIGITS)
            v = v * 10 + (s[j++] - '0');
    } else
        return SCAN_BAIL;
    if (j < n && is_digit(s[j]))
        return SCAN_BAIL; /* 16 digits or more (or a leading zero: not JSON) */
    *integer = 1;
    if (j < n && s[j] == '.') {
        *integer = 0;
        if (++j >= n)
            return SCAN_NEED;
        if (!is_digit(s[j]))
            return SCAN_BAIL;
        while (j < n && is_digit(s[j]))
            j++;
    }
    int exponent = 0;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        *integer = 0, exponent = 1;
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n)
            return SCAN_NEED;
        if (!is_digit(s[j]))
            return SCAN_BAIL;
        while (j < n && is_digit(s[j]))
            j++;
    }
    if (j >= n)
        return SCAN_NEED;
    if (j - t->i > SCAN_TOKEN)
        return SCAN_BAIL;
    if (exponent && too_large(s + t->i, j - t->i))
        return SCAN_BAIL;
    *a = t->i;
    *value = neg ? -v : v;
    t->i = j;
    return SCAN_OK;
}

/* An integer field (a token without fraction or exponent). */
static int scan_int(Txt *t, int64_t *out)
{
    Py_ssize_t a;
    int integer;
    const int st = scan_number(t, &a, &integer, out);
    return st != SCAN_OK ? st : integer ? SCAN_OK : SCAN_BAIL;
}

/* A number field as a double: an integer token exactly (then rounded, as float(int)), any
 * other as float() reads its text. */
static int scan_double(Txt *t, double *out)
{
    Py_ssize_t a;
    int integer;
    int64_t v;
    const int st = scan_number(t, &a, &integer, &v);
    if (st != SCAN_OK)
        return st;
    if (integer) {
        *out = (double)v;
        return SCAN_OK;
    }
    char token[SCAN_TOKEN + 1];
    const Py_ssize_t len = t->i - a;
    memcpy(token, t->s + a, (size_t)len);
    token[len] = '\0';
    char *end = NULL;
    const double d = PyOS_string_to_double(token, &end, NULL); /* overflow: +-inf, no error */
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return SCAN_BAIL;
    }
    if (end != token + len)
        return SCAN_BAIL;
    *out = d;
    return SCAN_OK;
}

/* The cursor's byte is `c` (after blanks): then past it. */
static ALWAYS_INLINE int scan_char(Txt *t, int c)
{
    const int got = scan_peek(t);
    if (got == c) {
        t->i++;
        return SCAN_OK;
    }
    return got < 0 ? SCAN_NEED : SCAN_BAIL;
}

/* After an item of an object or array: ',' (more: 1) or `close` (the end: 0), else the
 * status (NEED, BAIL) negated. */
static ALWAYS_INLINE int scan_next(Txt *t, int close)
{
    const int c = scan_peek(t);
    if (c == ',' || c == close) {
        t->i++;
        return c == ',';
    }
    return c < 0 ? -SCAN_NEED : -SCAN_BAIL;
}

/* A key and its colon: the key's bytes [*a, *b). */
static int scan_key(Txt *t, Py_ssize_t *a, Py_ssize_t *b)
{
    const int c = scan_peek(t);
    if (c != '"')
        return c < 0 ? SCAN_NEED : SCAN_BAIL;
    const int st = scan_string(t, a, b, KEY_TEXT, NULL);
    return st != SCAN_OK ? st : scan_char(t, ':');
}

/* Any JSON value (of the kinds above), passed over. */
static int scan_skip(Txt *t, int depth)
{
    const int c = scan_peek(t);
    Py_ssize_t a, b;
    if (c < 0)
        return SCAN_NEED;
    if (c == '"')
        return scan_string(t, &a, &b, ANY_TEXT, NULL);
    if (c == '-' || is_digit((unsigned char)c)) {
        int integer;
        int64_t v;
        return scan_number(t, &a, &integer, &v);
    }
    if (c == 't' || c == 'f' || c == 'n') {
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        const Py_ssize_t len = (Py_ssize_t)strlen(word);
        const Py_ssize_t have = t->n - t->i < len ? t->n - t->i : len;
        if (memcmp(t->s + t->i, word, (size_t)have) != 0)
            return SCAN_BAIL;
        if (have < len)
            return SCAN_NEED;
        t->i += len;
        return SCAN_OK;
    }
    if ((c != '{' && c != '[') || depth >= SCAN_DEPTH)
        return SCAN_BAIL;
    const int close = c == '{' ? '}' : ']';
    t->i++;
    const int first = scan_peek(t);
    if (first == close) {
        t->i++;
        return SCAN_OK;
    }
    for (;;) {
        int st = c == '{' ? scan_key(t, &a, &b) : SCAN_OK;
        if (st == SCAN_OK)
            st = scan_skip(t, depth + 1);
        if (st != SCAN_OK)
            return st;
        const int more = scan_next(t, close);
        if (more <= 0)
            return -more == 0 ? SCAN_OK : -more;
    }
}

typedef struct {
    int64_t ints[5];   /* image_id, category_id, the segmentation's height and width, where it starts */
    double doubles[5]; /* score, bbox */
    unsigned char flags; /* 1: a bbox, 2: a segmentation */
    Py_ssize_t ca, cb;   /* the counts string's bytes */
    int escaped;         /* ... with an escape */
} ScanRec;

static ALWAYS_INLINE int key_is(const Txt *t, Py_ssize_t a, Py_ssize_t b, const char *name, size_t len)
{
    return (size_t)(b - a) == len && memcmp(t->s + a, name, len) == 0;
}
#define KEY_IS(t, a, b, lit) key_is((t), (a), (b), (lit), sizeof(lit) - 1)

/* After a record's field (its bit, 0 for a key passed over; the status of reading its
 * value): a key twice bails, then the value's own status; then the ',' after it (MORE) or
 * the '}' (END). */
static int field_next(Txt *t, int st, int bit, int *seen)
{
    if (*seen & bit)
        return SCAN_BAIL; /* a key twice */
    *seen |= bit;
    if (st != SCAN_OK)
        return st;
    const int more = scan_next(t, '}');
    return more < 0 ? -more : more ? SCAN_MORE : SCAN_END;
}

/* "bbox": four numbers. */
static int scan_box(Txt *t, double *box)
{
    int st = scan_char(t, '[');
    for (int k = 0; k < 4 && st == SCAN_OK; k++) {
        if (scan_peek(t) < 0)
            return SCAN_NEED;
        st = scan_double(t, &box[k]);
        if (st == SCAN_OK)
            st = scan_char(t, k < 3 ? ',' : ']');
    }
    return st;
}

/* "segmentation": {"size": [h, w], "counts": "..."} (other keys passed over). */
static int scan_segm(Txt *t, ScanRec *r)
{
    int st = scan_char(t, '{'), seen = 0;
    if (st != SCAN_OK)
        return st;
    for (;;) {
        Py_ssize_t a, b;
        if ((st = scan_key(t, &a, &b)) != SCAN_OK)
            return st;
        if (scan_peek(t) < 0)
            return SCAN_NEED;
        if (KEY_IS(t, a, b, "size")) {
            if (seen & 1)
                return SCAN_BAIL;
            seen |= 1;
            st = scan_char(t, '[');
            if (st == SCAN_OK && scan_peek(t) < 0)
                st = SCAN_NEED;
            if (st == SCAN_OK)
                st = scan_int(t, &r->ints[2]);
            if (st == SCAN_OK)
                st = scan_char(t, ',');
            if (st == SCAN_OK && scan_peek(t) < 0)
                st = SCAN_NEED;
            if (st == SCAN_OK)
                st = scan_int(t, &r->ints[3]);
            if (st == SCAN_OK)
                st = scan_char(t, ']');
        } else if (KEY_IS(t, a, b, "counts")) {
            if (seen & 2)
                return SCAN_BAIL;
            seen |= 2;
            const int c = scan_peek(t);
            st = c == '"' ? scan_string(t, &r->ca, &r->cb, COUNTS_TEXT, &r->escaped) : c < 0 ? SCAN_NEED : SCAN_BAIL;
        } else
            st = scan_skip(t, 2);
        if (st != SCAN_OK)
            return st;
        const int more = scan_next(t, '}');
        if (more < 0)
            return -more;
        if (more == 0)
            return seen == 3 ? SCAN_OK : SCAN_BAIL;
    }
}

/* One record at the cursor into *r. */
static int scan_record(Txt *t, ScanRec *r)
{
    int st = scan_char(t, '{'), seen = 0;
    if (st != SCAN_OK)
        return st;
    r->flags = 0;
    r->ints[2] = r->ints[3] = 0;
    for (int k = 1; k < 5; k++)
        r->doubles[k] = 0.0;
    r->ca = r->cb = 0;
    r->escaped = 0;
    if (scan_peek(t) == '}')
        return SCAN_BAIL; /* {}: no image_id */
    for (;;) {
        Py_ssize_t a, b;
        if ((st = scan_key(t, &a, &b)) != SCAN_OK)
            return st;
        if (scan_peek(t) < 0)
            return SCAN_NEED;
        int bit = 0;
        if (KEY_IS(t, a, b, "image_id"))
            bit = 1, st = scan_int(t, &r->ints[0]);
        else if (KEY_IS(t, a, b, "category_id"))
            bit = 2, st = scan_int(t, &r->ints[1]);
        else if (KEY_IS(t, a, b, "score"))
            bit = 4, st = scan_double(t, &r->doubles[0]);
        else if (KEY_IS(t, a, b, "bbox"))
            bit = 8, st = scan_box(t, &r->doubles[1]);
        else if (KEY_IS(t, a, b, "segmentation"))
            bit = 16, st = scan_segm(t, r);
        else
            st = scan_skip(t, 1);
        if ((st = field_next(t, st, bit, &seen)) == SCAN_END)
            break;
        if (st != SCAN_MORE)
            return st;
    }
    if ((seen & 7) != 7)
        return SCAN_BAIL;
    r->flags = (unsigned char)(((seen & 8) ? 1 : 0) | ((seen & 16) ? 2 : 0));
    return SCAN_OK;
}

/* Growable columns of the records scanned. */
typedef struct {
    int64_t *ints;
    double *doubles;
    unsigned char *flags;
    Py_ssize_t n, cap;
} ScanCols;

static int scan_grow(ScanCols *c)
{
    const Py_ssize_t cap = c->cap ? 2 * c->cap : 256;
    int64_t *ints = realloc(c->ints, sizeof(int64_t) * 5 * (size_t)cap);
    if (ints != NULL)
        c->ints = ints;
    double *doubles = realloc(c->doubles, sizeof(double) * 5 * (size_t)cap);
    if (doubles != NULL)
        c->doubles = doubles;
    unsigned char *flags = realloc(c->flags, (size_t)cap);
    if (flags != NULL)
        c->flags = flags;
    if (ints == NULL || doubles == NULL || flags == NULL)
        return -1;
    c->cap = cap;
    return 0;
}

/* What every list scan (scan_results, scan_annotations, scan_panoptic) shares: its
 * arguments (data, pos, first, final, most), checked; the text from pos; the list's status. */
typedef struct {
    Bufs bs;
    Txt t;
    int final, status;
    Py_ssize_t most;
} ListScan;

/* Parse and check the arguments; an empty list at pos (first) is the END. 0, or -1 with the
 * error set (nothing to release). */
static int list_open(PyObject *args, ListScan *ls)
{
    PyObject *data_obj;
    Py_ssize_t pos;
    int first;
    memset(ls, 0, sizeof *ls);
    if (!PyArg_ParseTuple(args, "Onppn", &data_obj, &pos, &first, &ls->final, &ls->most)) {
        parse_failed();
        return -1;
    }
    const Py_buffer *data = take(&ls->bs, data_obj, U8, 0, "data");
    if (data == NULL) {
        release(&ls->bs);
        return -1;
    }
    if (pos < 0 || pos > data->len || ls->most < 1) {
        release(&ls->bs);
        PyErr_SetString(PyExc_ValueError, pos < 0 || pos > data->len ? "pos is out of range" : "most must be >= 1");
        return -1;
    }
    ls->t = (Txt){data->buf, data->len, pos};
    ls->status = SCAN_MORE;
    if (first && scan_peek(&ls->t) == ']') {
        ls->t.i++;
        ls->status = SCAN_END;
    }
    return 0;
}

/* After an item scanned from `start` with status `st`: the ',' or ']' after it. 1 when the
 * item counts (*more: a ',' followed); else 0, the cursor back at `start` and the list's
 * status NEED (more text may come) or BAIL. */
static int list_item(ListScan *ls, int st, Py_ssize_t start, int *more)
{
    *more = 0;
    if (st == SCAN_OK) {
        *more = scan_next(&ls->t, ']');
        if (*more < 0)
            st = -*more;
    }
    if (st == SCAN_OK)
        return 1;
    ls->status = st == SCAN_NEED && !ls->final ? SCAN_NEED : SCAN_BAIL;
    ls->t.i = start;
    return 0;
}

static PyObject *scan_results(PyObject *self, PyObject *args)
{
    (void)self;
    ListScan ls;
    if (list_open(args, &ls) < 0)
        return NULL;
    ScanCols c = {0};
    PyObject *counts = PyList_New(0), *result = NULL;
    int failed = counts == NULL, more;
    while (!failed && ls.status == SCAN_MORE && c.n < ls.most) {
        const Py_ssize_t start = ls.t.i;
        ScanRec r;
        if (!list_item(&ls, scan_record(&ls.t, &r), start, &more))
            break;
        if (c.n == c.cap && scan_grow(&c) < 0) {
            PyErr_NoMemory();
            failed = 1;
            break;
        }
        r.ints[4] = start;
        memcpy(c.ints + 5 * c.n, r.ints, sizeof r.ints);
        memcpy(c.doubles + 5 * c.n, r.doubles, sizeof r.doubles);
        c.flags[c.n] = r.flags;
        PyObject *line = (r.flags & 2) ? counts_text(ls.t.s, r.ca, r.cb, r.escaped) : Py_NewRef(Py_None);
        failed = line == NULL || PyList_Append(counts, line) < 0;
        Py_XDECREF(line);
        c.n++;
        if (!more)
            ls.status = SCAN_END;
    }
    if (!failed)
        result = Py_BuildValue("(innNNNO)", ls.status, ls.t.i, c.n,
                               PyBytes_FromStringAndSize((const char *)c.ints, (Py_ssize_t)sizeof(int64_t) * 5 * c.n),
                               PyBytes_FromStringAndSize((const char *)c.doubles, (Py_ssize_t)sizeof(double) * 5 * c.n),
                               PyBytes_FromStringAndSize((const char *)c.flags, c.n), counts);
    free(c.ints);
    free(c.doubles);
    free(c.flags);
    Py_XDECREF(counts);
    release(&ls.bs);
    return result;
}

/* ======================================================= polygon areas (issue 12, CVAT speed)
 *
 * poly_areas: pycocotools' area and toBbox of merge(frPyObjects(polygons, h, w)) for every
 * group of polygons of one image, without building an RLE. rleFrPoly scales each vertex by
 * 5 and rounds it ((int)(5 x + .5)), walks every edge one scaled step at a time, and keeps,
 * where the walk crosses into another scaled column whose centre is a pixel column, one
 * "y-boundary" point per crossing; the sorted positions (x * h + y, column-major) of those
 * points toggle the mask on and off. Here the same arithmetic gives the same points (the
 * steps inside an edge that runs along x are visited only where a pixel column lies, every
 * fifth), sorted by column (a counting sort; a column holds a few), read as runs of 1s;
 * a group's runs are joined as pycocotools' merge joins masks (a union, touching runs one).
 * The area is the sum of the runs, the box rleToBbox's (a run over two columns spans the
 * full height). A cast of NaN or of a value beyond int is x86's (INT_MIN), as pycocotools'
 * build computes it: a repeated vertex walks an edge of length 0 with slope 0/0.
 *
 * The limits segtool.cocopoly.polygon_problem sets are checked first, per group; a group
 * they might refuse (a coordinate not finite or beyond one image size outside the image or
 * beyond 2^27, or edges within 1e-6 of the longest allowed) is not measured: its area is -1,
 * its box zeros, and the first such group's index is returned (-1: none) for Python to say
 * why. */

#include <math.h>

typedef struct {
    int64_t *p;
    Py_ssize_t n, cap;
} Vec64;

static NOINLINE int vec_grow(Vec64 *v)
{
    const Py_ssize_t cap = v->cap ? 2 * v->cap : 1024;
    int64_t *p = realloc(v->p, sizeof(int64_t) * (size_t)cap);
    if (p == NULL)
        return -1;
    v->p = p, v->cap = cap;
    return 0;
}

static ALWAYS_INLINE int vec_push(Vec64 *v, int64_t x)
{
    if (UNLIKELY(v->n == v->cap) && vec_grow(v) < 0)
        return -1;
    v->p[v->n++] = x;
    return 0;
}

/* (int)v as x86's cvttsd2si computes it: NaN and values beyond int give INT_MIN. */
static ALWAYS_INLINE int x86_int(double v) { return (v > -2147483649.0 && v < 2147483648.0) ? (int)v : INT32_MIN; }

typedef struct {
    Vec64 *out; /* toggles: column << 32 | row */
    int64_t h, w;
    int failed;
    int64_t lo, hi; /* the least and greatest column of a toggle (for the sort) */
} Walk;

/* One y-boundary point of rleFrPoly at the pixel column of scaled column uu (when there is
 * one) and the scaled rows va, vb of the two walk points (their lower one counts). */
/* The boundary point of pixel column x (0..w-1) whose lower scaled row is vm: yd =
 * (vm + .5) / 5 - .5 clamped to 0..h and rounded up is (vm - 2) / 5 exactly (whole when 5
 * divides vm - 2, else at least 0.2 from a whole number: rounding cannot cross it). */
static ALWAYS_INLINE void emit(Walk *k, int64_t x, int64_t vm)
{
    const int64_t y = vm <= 2 ? 0 : ((vm + 2) / 5 < k->h ? (vm + 2) / 5 : k->h);
    k->lo = x < k->lo ? x : k->lo, k->hi = x > k->hi ? x : k->hi;
    if (vec_push(k->out, x << 32 | y) < 0)
        k->failed = 1;
}

static ALWAYS_INLINE void boundary(Walk *k, int64_t uu, int va, int vb)
{
    /* pycocotools: xd = (uu + .5) / 5 - .5, kept when whole and in 0..w-1; whole exactly
     * when uu = 5 n + 2 (then xd = n), as doubles compute it for |uu| < 2^31 */
    if (uu < 2 || (uu - 2) % 5 != 0)
        return;
    const int64_t x = (uu - 2) / 5;
    if (x > k->w - 1)
        return;
    emit(k, x, va < vb ? va : vb);
}

/* Two consecutive walk points: a boundary point where the scaled column changes. */
static ALWAYS_INLINE void step(Walk *k, int up, int vp, int uc, int vc)
{
    if (uc != up)
        boundary(k, uc < up ? (int64_t)uc : (int64_t)uc - 1, vp, vc);
}

/* The column u(t) = (int)(xs + s t + .5) of the steps t = 0..dy of an edge that runs along
 * y (|s| < 1: u moves by at most one a step, monotonically; ua = u(0) != ub = u(dy)), at
 * row ys + t. Where it moves between columns c and c + 1, the boundary point has column c
 * and the lower row: only c = 5 n + 2 counts, so each such c is visited, its step found from
 * an estimate corrected by stepping (u is checked, not trusted to the estimate). For
 * dy < 2^20 the rounding of u's doubles (< 4e-7 a step, coordinates below 2^30) stays far
 * below 1 - |s| >= 1 / dy: u never moves by 2. */
static void y_edge(Walk *k, int xs, int ys, int dy, double s, int ua, int ub)
{
    const int up = ub > ua;
    int64_t lo = up ? ua : ub, hi = (up ? ub : ua) - 1; /* c in lo..hi: both c, c + 1 reached */
    if (lo < 2)
        lo = 2;
    if (hi > 5 * (k->w - 1) + 2)
        hi = 5 * (k->w - 1) + 2;
    lo += ((2 - lo) % 5 + 5) % 5;
    const double inv = 1 / s; /* (an estimate: each step is checked below) */
    for (int64_t c = lo; c <= hi; c += 5) {
        /* the first t with u(t) >= c + 1 (rising) or u(t) <= c (falling), t in 1..dy */
        double guess = ceil(((double)c + .5 - xs) * inv); /* (most often the step itself) */
        int64_t t = guess < 1 ? 1 : guess > dy ? dy : (int64_t)guess;
#define PAST(t) (up ? (int)(xs + s * (int)(t) + .5) >= c + 1 : (int)(xs + s * (int)(t) + .5) <= c) /* s finite */
        while (t > 1 && PAST(t - 1))
            t--;
        while (t < dy && !PAST(t))
            t++;
#undef PAST
        boundary(k, c, ys + (int)t - 1, ys + (int)t - 1); /* min(u) = c, min(v) = ys + t - 1 */
    }
}

/* rleFrPoly's walk of polygon xy (n vertices, coordinates checked: |5 v| < 2^30), its
 * boundary points appended to k->out. */
static void walk_polygon(const double *xy, Py_ssize_t n, Walk *k)
{
    const int x0 = (int)(5.0 * xy[0] + .5), y0 = (int)(5.0 * xy[1] + .5);
    int xa = x0, ya = y0, pu = 0, pv = 0, have = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        const int xb = j + 1 < n ? (int)(5.0 * xy[2 * j + 2] + .5) : x0;
        const int yb = j + 1 < n ? (int)(5.0 * xy[2 * j + 3] + .5) : y0;
        int xs = xa, xe = xb, ys = ya, ye = yb;
        const int dx = abs(xe - xs), dy = abs(ys - ye);
        const int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            int t = xs;
            xs = xe, xe = t, t = ys, ys = ye, ye = t;
        }
        if (dx >= dy) {
            const double s = (double)(ye - ys) / dx; /* 0/0 = NaN for a repeated vertex */
            const int t0 = flip ? dx : 0, t1 = flip ? 0 : dx;
            const int u0 = t0 + xs, v0 = x86_int(ys + s * t0 + .5);
            if (have)
                step(k, pu, pv, u0, v0);
            /* the steps inside: t' -> t' + 1 (either way) crosses at scaled column xs + t' */
            int64_t lo = 2 - (int64_t)xs > 0 ? 2 - (int64_t)xs : 0;
            const int64_t last = 5 * (k->w - 1) + 2 - (int64_t)xs, hi = dx - 1 < last ? dx - 1 : last;
            const int64_t r = (((int64_t)xs + lo - 2) % 5 + 5) % 5;
            int64_t t = lo + (r ? 5 - r : 0), x = ((int64_t)xs + t - 2) / 5; /* (xs + t - 2 >= 0) */
            for (; t <= hi; t += 5, x++) { /* (dx > 0: s finite, no NaN; x within 0..w-1) */
                const int va = (int)(ys + s * (double)t + .5), vb = (int)(ys + s * (double)(t + 1) + .5);
                emit(k, x, va < vb ? va : vb);
            }
            pu = t1 + xs, pv = x86_int(ys + s * t1 + .5), have = 1;
        } else {
            const double s = (double)(xe - xs) / dy;
            const int ua = x86_int(xs + s * 0 + .5), ub = x86_int(xs + s * dy + .5);
            const int u0 = flip ? ub : ua, u1 = flip ? ua : ub;
            if (have)
                step(k, pu, pv, u0, flip ? ye : ys);
            if (ua != ub && dy < (1 << 20))
                y_edge(k, xs, ys, dy, s, ua, ub);
            else if (ua != ub) /* longer: u(t) may move by 2 in a step (rounding): every step */
                for (int d = 1, up_ = u0, vp_ = flip ? ye : ys; d <= dy; d++) {
                    const int t = flip ? dy - d : d, u = x86_int(xs + s * t + .5);
                    step(k, up_, vp_, u, t + ys);
                    up_ = u, vp_ = t + ys;
                }
            pu = u1, pv = flip ? ys : ye, have = 1;
        }
        xa = xb, ya = yb;
    }
}

/* Sort toggles[0..n) (column << 32 | row, columns within [lo, hi]) by column, then row:
 * counting sort over the columns, each placed among its column's few rows by insertion
 * (within the column only); *out: the sorted toggles (t itself, or in scratch). */
static int sort_toggles(int64_t *t, Py_ssize_t n, int64_t lo, int64_t hi, Vec64 *scratch, int64_t **out)
{
    *out = t;
    if (n < 2)
        return 0;
    const Py_ssize_t cols = (Py_ssize_t)(hi - lo + 1), need = 2 * cols + 1 + n;
    if (scratch->cap < need) {
        int64_t *p = realloc(scratch->p, sizeof(int64_t) * (size_t)need);
        if (p == NULL)
            return -1;
        scratch->p = p, scratch->cap = need;
    }
    int64_t *start = scratch->p, *fill = scratch->p + cols + 1, *sorted = scratch->p + 2 * cols + 1;
    memset(start, 0, sizeof(int64_t) * (size_t)(cols + 1));
    for (Py_ssize_t i = 0; i < n; i++)
        start[(t[i] >> 32) - lo + 1]++;
    for (Py_ssize_t c = 0; c < cols; c++)
        start[c + 1] += start[c];
    memcpy(fill, start, sizeof(int64_t) * (size_t)cols);
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t v = t[i], c = (v >> 32) - lo, first = start[c];
        int64_t j = fill[c]++;
        while (j > first && sorted[j - 1] > v)
            sorted[j] = sorted[j - 1], j--;
        sorted[j] = v;
    }
    *out = sorted;
    return 0;
}

/* Runs of 1s given in order of their starts, joined where they overlap or touch, summed and
 * boxed as rleToBbox boxes them. Positions are column-major; (c, r) their column and row. */
typedef struct {
    int64_t h, area, s, e, sc, sr, ec, er; /* the open run [s, e): its first and last pixel */
    int64_t xs, xe, ys, ye;
    int open, failed;
    Vec64 *counts; /* when not NULL: the RLE's counts, 0s first (a first run of 0s may be empty) */
    int64_t end;   /* where the last closed run ended */
} Runs;

static ALWAYS_INLINE void runs_close(Runs *R)
{
    if (!R->open)
        return;
    if (R->counts != NULL && (vec_push(R->counts, R->s - R->end) < 0 || vec_push(R->counts, R->e - R->s) < 0))
        R->failed = 1;
    R->end = R->e;
    R->area += R->e - R->s;
    if (R->sc < R->xs)
        R->xs = R->sc;
    if (R->ec > R->xe)
        R->xe = R->ec;
    if (R->sc < R->ec) /* over two columns: every row */
        R->ys = 0, R->ye = R->h - 1;
    const int64_t r0 = R->sr < R->er ? R->sr : R->er, r1 = R->sr > R->er ? R->sr : R->er;
    if (r0 < R->ys)
        R->ys = r0;
    if (r1 > R->ye)
        R->ye = r1;
    R->open = 0;
}

/* The run [s, e) (s < e), its first pixel at (sc, sr) and its last at (ec, er). */
static ALWAYS_INLINE void runs_add(Runs *R, int64_t s, int64_t e, int64_t sc, int64_t sr, int64_t ec, int64_t er)
{
    if (R->open && s <= R->e) {
        if (e > R->e)
            R->e = e, R->ec = ec, R->er = er;
        return;
    }
    runs_close(R);
    R->s = s, R->e = e, R->sc = sc, R->sr = sr, R->ec = ec, R->er = er, R->open = 1;
}

/* The run between toggles a and b (column << 32 | row; b < 0: the image's end). */
static ALWAYS_INLINE void runs_toggles(Runs *R, int64_t a, int64_t b, int64_t w)
{
    const int64_t h = R->h;
    int64_t sc = a >> 32, sr = a & 0xffffffff, ec, er;
    const int64_t s = sc * h + sr;
    int64_t e;
    if (b < 0)
        e = h * w, ec = w - 1, er = h - 1;
    else {
        ec = b >> 32, er = b & 0xffffffff;
        e = ec * h + er;
        if (er == 0) /* the last pixel is the previous column's bottom */
            ec--, er = h - 1;
        else
            er--;
    }
    if (e <= s)
        return;
    if (sr == h) /* a row of h: the next column's top */
        sc++, sr = 0;
    runs_add(R, s, e, sc, sr, ec, er);
}

static int cmp_pair(const void *a, const void *b)
{
    const int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return x > y ? 1 : x < y ? -1 : 0;
}

/* Would polygon_problem doubt this group (see the section's comment)? */
static int group_doubted(const double *xy, const int64_t *ends, Py_ssize_t p0, Py_ssize_t p1, int64_t h, int64_t w)
{
    const double W = (double)w, H = (double)h, most = (double)(128 * (h + w) < (1 << 20) ? 128 * (h + w) : (1 << 20));
    const double lim = 134217728.0; /* 2^27 */
    double length = 0;
    for (Py_ssize_t p = p0; p < p1; p++) {
        const Py_ssize_t a = p > 0 ? (Py_ssize_t)ends[p - 1] : 0, b = (Py_ssize_t)ends[p];
        for (Py_ssize_t i = a; i < b; i++) {
            const double x = xy[2 * i], y = xy[2 * i + 1];
            if (!(x >= -W && x <= 2 * W && y >= -H && y <= 2 * H && x >= -lim && x <= lim && y >= -lim && y <= lim))
                return 1; /* (NaN fails every comparison) */
            const Py_ssize_t j = i + 1 < b ? i + 1 : a;
            const double ddx = fabs(xy[2 * j] - x), ddy = fabs(xy[2 * j + 1] - y);
            length += ddx > ddy ? ddx : ddy;
        }
    }
    return !(length <= most * (1 - 1e-6));
}

/* Group g's area and box (and, with counts, its RLE's counts) into R; 0, or -1 out of memory. */
static int measure_group(const double *xy, const int64_t *ends, Py_ssize_t p0, Py_ssize_t p1, int64_t h, int64_t w,
                         Runs *R, Vec64 *tog, Vec64 *scratch, Vec64 *pairs)
{
    pairs->n = 0;
    for (Py_ssize_t p = p0; p < p1; p++) {
        const Py_ssize_t a = p ? (Py_ssize_t)ends[p - 1] : 0, b = (Py_ssize_t)ends[p];
        Walk k = {tog, h, w, 0, w, -1};
        int64_t *sorted;
        tog->n = 0;
        walk_polygon(xy + 2 * a, b - a, &k);
        if (k.failed || sort_toggles(tog->p, tog->n, k.lo, k.hi, scratch, &sorted) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < tog->n; i += 2) {
            const int64_t lo = sorted[i], hi = i + 1 < tog->n ? sorted[i + 1] : -1;
            if (p1 - p0 == 1) /* one polygon: its runs in order */
                runs_toggles(R, lo, hi, w);
            else if (vec_push(pairs, lo) < 0 || vec_push(pairs, hi) < 0)
                return -1;
        }
    }
    if (p1 - p0 > 1) { /* a union: every polygon's runs by their start */
        const Py_ssize_t n = pairs->n / 2;
        int64_t *q = pairs->p;
        for (Py_ssize_t i = 0; i < n; i++) /* starts as positions, to sort by */
            q[2 * i] = (q[2 * i] >> 32) * h + (q[2 * i] & 0xffffffff);
        if (n > 1)
            qsort(q, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
        for (Py_ssize_t i = 0; i < n; i++) {
            const int64_t s = q[2 * i];
            runs_toggles(R, (s / h) << 32 | (s % h), q[2 * i + 1], w);
        }
    }
    runs_close(R);
    if (R->counts != NULL && !R->failed && (R->end < h * w || R->counts->n == 0)) /* the last 0s */
        R->failed = vec_push(R->counts, h * w - R->end) < 0;
    return R->failed ? -1 : 0;
}

/* pycocotools' rleToString of counts[0..m) into out (6 characters a count at most). */
static Py_ssize_t rle_string(const int64_t *c, Py_ssize_t m, char *out)
{
    Py_ssize_t p = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t x = c[i] - (i > 2 ? c[i - 2] : 0);
        if (x >= -16 && x < 16) { /* one character (5 bits, the sign in its 0x10 bit) */
            out[p++] = (char)((x & 0x1f) + 48);
            continue;
        }
        int more = 1;
        while (more) {
            char ch = (char)(x & 0x1f);
            x >>= 5; /* arithmetic, as pycocotools' long */
            more = (ch & 0x10) ? x != -1 : x != 0;
            if (more)
                ch |= 0x20;
            out[p++] = (char)(ch + 48);
        }
    }
    return p;
}

/* poly_areas and poly_rles: the arguments checked, every group measured; with `strings`, a
 * list of each group's RLE string (None for a doubted group). */
static PyObject *measure_groups(PyObject *args, int strings)
{
    PyObject *xy_obj, *ends_obj, *groups_obj, *areas_obj, *boxes_obj;
    long long h, w;
    if (!PyArg_ParseTuple(args, "OOOLLOO", &xy_obj, &ends_obj, &groups_obj, &h, &w, &areas_obj, &boxes_obj))
        return parse_failed();
    Bufs bs = {0};
    PyObject *result = NULL, *list = NULL;
    const Py_buffer *xyb, *eb, *gb, *ab, *bb;
    if ((xyb = take(&bs, xy_obj, F64, 0, "xy")) == NULL || (eb = take(&bs, ends_obj, I64, 0, "ends")) == NULL ||
        (gb = take(&bs, groups_obj, I64, 0, "groups")) == NULL || (ab = take(&bs, areas_obj, I64, 1, "areas")) == NULL ||
        (bb = take(&bs, boxes_obj, F64, 1, "boxes")) == NULL) {
        release(&bs);
        return NULL;
    }
    const double *xy = xyb->buf;
    const int64_t *ends = eb->buf, *groups = gb->buf;
    int64_t *areas = ab->buf;
    double *boxes = bb->buf;
    const Py_ssize_t nc = count(xyb), np_ = count(eb), ng = count(gb);
    int ok = h >= 1 && w >= 1 && h <= 2147483647LL && w <= 2147483647LL && h * w <= 2147483647LL;
    if (!ok)
        PyErr_SetString(PyExc_ValueError, "image size: two positive integers, fewer than 2^31 pixels");
    else if (count(ab) != ng || count(bb) != 4 * ng || nc % 2 || (np_ ? ends[np_ - 1] : 0) != nc / 2 ||
             (ng ? groups[ng - 1] : 0) != np_) {
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
        ok = 0;
    } else {
        for (Py_ssize_t p = 0; ok && p < np_; p++)
            ok = ends[p] - (p ? ends[p - 1] : 0) >= 3;
        for (Py_ssize_t g = 0; ok && g < ng; g++)
            ok = groups[g] - (g ? groups[g - 1] : 0) >= 1;
        if (!ok)
            PyErr_SetString(PyExc_ValueError, "each polygon needs at least 3 points, each group a polygon");
    }
    if (ok && strings && (list = PyList_New(ng)) == NULL)
        ok = 0;
    Vec64 tog = {0}, scratch = {0}, pairs = {0}, counts = {0};
    char *text = NULL;
    Py_ssize_t first = -1, room = 0;
    for (Py_ssize_t g = 0; ok && g < ng; g++) {
        const Py_ssize_t p0 = g ? (Py_ssize_t)groups[g - 1] : 0, p1 = (Py_ssize_t)groups[g];
        double *box = boxes + 4 * g;
        box[0] = box[1] = box[2] = box[3] = 0;
        if (group_doubted(xy, ends, p0, p1, h, w)) {
            areas[g] = -1;
            first = first < 0 ? g : first;
            if (list != NULL)
                PyList_SetItem(list, g, Py_NewRef(Py_None));
            continue;
        }
        Runs R = {.h = h, .xs = w, .xe = 0, .ys = h, .ye = 0, .counts = strings ? &counts : NULL};
        counts.n = 0;
        if (measure_group(xy, ends, p0, p1, h, w, &R, &tog, &scratch, &pairs) < 0) {
            PyErr_NoMemory();
            ok = 0;
            break;
        }
        areas[g] = R.area;
        if (R.area > 0)
            box[0] = (double)R.xs, box[1] = (double)R.ys, box[2] = (double)(R.xe - R.xs + 1),
            box[3] = (double)(R.ye - R.ys + 1);
        if (list != NULL) {
            if (room < 7 * counts.n + 1) {
                char *t = realloc(text, (size_t)(7 * counts.n + 1));
                if (t == NULL) {
                    PyErr_NoMemory();
                    ok = 0;
                    break;
                }
                text = t, room = 7 * counts.n + 1;
            }
            PyObject *str = PyUnicode_FromStringAndSize(text, rle_string(counts.p, counts.n, text));
            if (str == NULL) {
                ok = 0;
                break;
            }
            PyList_SetItem(list, g, str);
        }
    }
    if (ok)
        result = list != NULL ? Py_BuildValue("(nO)", first, list) : PyLong_FromSsize_t(first);
    Py_XDECREF(list);
    free(tog.p);
    free(scratch.p);
    free(pairs.p);
    free(counts.p);
    free(text);
    release(&bs);
    return result;
}

static PyObject *poly_areas(PyObject *self, PyObject *args)
{
    (void)self;
    return measure_groups(args, 0);
}

static PyObject *poly_rles(PyObject *self, PyObject *args)
{
    (void)self;
    return measure_groups(args, 1);
}

/* parse_points: CVAT's points attributes of one image ("x1,y1;x2,y2;..." each, joined by
 * '|') into doubles, while they are plain: each number -?[0-9]+(.[0-9]+)? (not -0), each
 * shape 3 to 2^20 points. Python's float() reads these to the correctly rounded double, and
 * so does this: an integer of at most 19 digits below 2^53 divided by an exact power of ten
 * up to 10^22 is one correctly rounded division (Clinger's fast path); any other number goes
 * through strtod (correctly rounded too), checked to read it whole. Anything else: -1 (the
 * outputs zeroed), and the caller reads the shapes one by one (and says what is wrong). */

static const double exact_tens[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One number at s[*p..n): its value in *v; 0, or -1 when it is not plain. */
static int plain_number(const uint8_t *s, Py_ssize_t n, Py_ssize_t *p, double *v)
{
    Py_ssize_t i = *p;
    const int neg = i < n && s[i] == '-';
    i += neg;
    uint64_t m = 0;
    int digits = 0, frac = 0;
    const Py_ssize_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        m = m * 10 + (uint64_t)(s[i++] - '0'), digits++;
    if (i == d0)
        return -1;
    if (i < n && s[i] == '.') {
        const Py_ssize_t f0 = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            m = m * 10 + (uint64_t)(s[i++] - '0'), digits++, frac++;
        if (i == f0)
            return -1;
    }
    double x;
    if (digits <= 19 && m < ((uint64_t)1 << 53) && frac <= 22)
        x = (double)m / exact_tens[frac];
    else {
        char buf[64]; /* the digits (the sign is applied below) */
        const Py_ssize_t len = i - d0;
        if (len >= (Py_ssize_t)sizeof buf)
            return -1;
        memcpy(buf, s + d0, (size_t)len);
        buf[len] = '\0';
        char *end = NULL;
        x = strtod(buf, &end);
        if (end != buf + len) /* (a locale whose decimal point is not '.') */
            return -1;
    }
    if (neg) {
        if (x == 0)
            return -1; /* -0: float() keeps its sign; left to it */
        x = -x;
    }
    *v = x, *p = i;
    return 0;
}

static PyObject *parse_points(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *text_obj, *xy_obj, *ends_obj, *boxes_obj;
    if (!PyArg_ParseTuple(args, "OOOO", &text_obj, &xy_obj, &ends_obj, &boxes_obj))
        return NULL;
    Bufs bs = {0};
    const Py_buffer *tb, *xb, *eb, *bb;
    if ((tb = take(&bs, text_obj, U8, 0, "text")) == NULL || (xb = take(&bs, xy_obj, F64, 1, "xy")) == NULL ||
        (eb = take(&bs, ends_obj, I64, 1, "ends")) == NULL || (bb = take(&bs, boxes_obj, F64, 1, "boxes")) == NULL) {
        release(&bs);
        return NULL;
    }
    const uint8_t *s = tb->buf;
    const Py_ssize_t n = tb->len, shapes = count(eb);
    if (count(xb) < n / 2 + 1 || count(bb) != 4 * shapes) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "xy must hold len(text) // 2 + 1 values, boxes 4 per shape");
        return NULL;
    }
    double *xy = xb->buf, *box = bb->buf;
    int64_t *ends = eb->buf;
    Py_ssize_t p = 0, values = 0, shape = 0, points = 0;
    int ok = shapes > 0 || n == 0;
    while (ok && shapes > 0) { /* one shape */
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        for (;;) { /* one point */
            double x, y;
            if (plain_number(s, n, &p, &x) < 0 || p >= n || s[p++] != ',' || plain_number(s, n, &p, &y) < 0) {
                ok = 0;
                break;
            }
            if (points == 0 || x < x0)
                x0 = x;
            if (points == 0 || x > x1)
                x1 = x;
            if (points == 0 || y < y0)
                y0 = y;
            if (points == 0 || y > y1)
                y1 = y;
            xy[values++] = x, xy[values++] = y, points++;
            if (p < n && s[p] == ';') {
                p++;
                continue;
            }
            break;
        }
        if (!ok || points < 3 || points > (1 << 20))
            break;
        ends[shape] = values / 2;
        box[4 * shape] = x0, box[4 * shape + 1] = y0, box[4 * shape + 2] = x1, box[4 * shape + 3] = y1;
        shape++, points = 0;
        if (p == n || shape == shapes || s[p] != '|')
            break;
        p++;
    }
    ok = ok && shape == shapes && p == n;
    if (!ok) { /* what was written is no result: zeros, as the twin leaves */
        memset(xy, 0, sizeof(double) * (size_t)count(xb));
        memset(ends, 0, sizeof(int64_t) * (size_t)shapes);
        memset(box, 0, sizeof(double) * (size_t)(4 * shapes));
    }
    release(&bs);
    return PyLong_FromSsize_t(ok ? values : -1);
}

/* ================================================== end of polygon areas (issue 12, CVAT speed) */

/* ================================================== CVAT image, fused (issue 12, CVAT speed)
 *
 * cvat_polygons: one CVAT <image> element's bytes as the file holds them (from "<image" to
 * its end tag, excluded) straight to polygon columns: each polygon's label (its index among
 * the names given, sorted), its points (parse_points' numbers, each shape's end and extent),
 * while the element is plain, as CVAT writes it:
 *
 *   data    := "<image" (WS ATTR)* WS? ">" (WS | polygon)*
 *   polygon := "<polygon" (WS ATTR)* WS? ("/>" | ">" WS? "</polygon" WS? ">")
 *   ATTR    := NAME WS? "=" WS? ('"' VALUE '"' | "'" VALUE "'")     WS := [ \t\r\n]+
 *   NAME    := [A-Za-z_][A-Za-z0-9_.-]*, not starting with "xml" in any case, at most 16
 *              distinct ones an element
 *   VALUE   := UTF-8 (valid, XML characters) without '<', '&', the quote or a byte below
 *              0x20 (so no entity, no character reference, no whitespace expat would
 *              normalise: the bytes are the value)
 *
 * and every polygon has a label among the names (found as bisect_left finds it), points
 * parse_points reads (3 to 2^20 plain numbers), z_order absent or -8..63 written as str()
 * writes it, group_id absent or "0"; its other attributes are not read. Such an element
 * parses (expat, namespaces on) to these polygons and values, nothing else. Anything else,
 * at least one polygon missing included: -1, the outputs zeroed, and the caller reads the
 * element by the general path (which names any problem). Returns the number of polygons. */

#define CVAT_ATTRS 16

typedef struct {
    Py_ssize_t name, name_len, value, value_len;
} CvatAttr;

static ALWAYS_INLINE int xml_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static ALWAYS_INLINE int xml_name0(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static ALWAYS_INLINE int xml_name1(uint8_t c) { return xml_name0(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

/* The length of the UTF-8 character at s[i..n) that is an XML character (not a surrogate,
 * not U+FFFE or U+FFFF, at most U+10FFFF, shortest form), or 0. */
static int utf8_char(const uint8_t *s, Py_ssize_t i, Py_ssize_t n)
{
    const uint8_t c = s[i];
    int len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n - i < len)
        return 0;
    for (int k = 1; k < len; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp == 0xfffe || cp == 0xffff)
        return 0;
    return len;
}

/* The bytes a value's loop looks at: below 0x20, '"', '&', '\'', '<', and 0x80 up. */
#define CVAT_ONES 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define CVAT_ZEROS 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
static const uint8_t value_special[256] = {
    CVAT_ONES,  CVAT_ONES,                                           /* 0x00-0x1f */
    0,          0,         1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20-0x2f: '"' '&' '\'' */
    0,          0,         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x30-0x3f: '<' */
    CVAT_ZEROS, CVAT_ZEROS, CVAT_ZEROS, CVAT_ZEROS,                  /* 0x40-0x7f */
    CVAT_ONES,  CVAT_ONES,  CVAT_ONES,  CVAT_ONES,                   /* 0x80-0xff */
    CVAT_ONES,  CVAT_ONES,  CVAT_ONES,  CVAT_ONES,
};
#undef CVAT_ONES
#undef CVAT_ZEROS

/* One start tag's attributes from s[*p..n) (just after its name) to its ">" or "/>" into
 * a; their number (*closed: 1 for "/>"), or -1 when the tag is not plain. */
static int cvat_attrs(const uint8_t *s, Py_ssize_t n, Py_ssize_t *p, CvatAttr *a, int *closed)
{
    Py_ssize_t i = *p;
    int k = 0;
    for (;;) {
        const Py_ssize_t w0 = i;
        while (i < n && xml_ws(s[i]))
            i++;
        if (i >= n)
            return -1;
        if (s[i] == '>' || s[i] == '/') {
            if (s[i] == '/' && (i + 1 >= n || s[i + 1] != '>'))
                return -1;
            *closed = s[i] == '/';
            i += 1 + *closed;
            break;
        }
        if (i == w0 || !xml_name0(s[i]) || k == CVAT_ATTRS)
            return -1;
        const Py_ssize_t n0 = i;
        while (i < n && xml_name1(s[i]))
            i++;
        const Py_ssize_t nl = i - n0;
        if (nl >= 3 && (s[n0] | 0x20) == 'x' && (s[n0 + 1] | 0x20) == 'm' && (s[n0 + 2] | 0x20) == 'l')
            return -1; /* xmlns and the reserved names: expat's to read */
        while (i < n && xml_ws(s[i]))
            i++;
        if (i >= n || s[i] != '=')
            return -1;
        i++;
        while (i < n && xml_ws(s[i]))
            i++;
        if (i >= n || (s[i] != '"' && s[i] != '\''))
            return -1;
        const uint8_t q = s[i++];
        const Py_ssize_t v0 = i;
        for (;;) { /* ordinary bytes by a table; a quote, '<', '&', a control or UTF-8 apart */
            while (i < n && !value_special[s[i]])
                i++;
            if (i >= n || s[i] == q)
                break;
            const uint8_t c = s[i];
            if (c < 0x80) {
                if (c < 0x20 || c == '<' || c == '&')
                    return -1;
                i++; /* (the other quote) */
            } else {
                const int len = utf8_char(s, i, n);
                if (len == 0)
                    return -1;
                i += len;
            }
        }
        if (i >= n)
            return -1;
        for (int j = 0; j < k; j++)
            if (a[j].name_len == nl && memcmp(s + a[j].name, s + n0, (size_t)nl) == 0)
                return -1; /* (not well-formed) */
        a[k].name = n0, a[k].name_len = nl, a[k].value = v0, a[k].value_len = i - v0;
        k++, i++;
    }
    *p = i;
    return k;
}

static ALWAYS_INLINE int attr_is(const uint8_t *s, const CvatAttr *a, const char *name, Py_ssize_t len)
{
    return a->name_len == len && memcmp(s + a->name, name, (size_t)len) == 0;
}

/* A z_order as the general path's table reads it: -8..63 written as str() writes it. */
static int small_z(const uint8_t *v, Py_ssize_t n)
{
    const int neg = n > 0 && v[0] == '-';
    v += neg, n -= neg;
    if (n < 1 || n > 2 || v[0] < '0' || v[0] > '9' || (n == 2 && (v[0] == '0' || v[1] < '0' || v[1] > '9')))
        return 0;
    const int z = n == 1 ? v[0] - '0' : 10 * (v[0] - '0') + (v[1] - '0');
    return neg ? z >= 1 && z <= 8 : z <= 63;
}

/* bisect_left of the value among the k names (names[starts[j]..starts[j + 1])); its index
 * when the name there is the value, else -1. */
static Py_ssize_t label_index(const uint8_t *v, Py_ssize_t len, const uint8_t *names, const int64_t *starts,
                              Py_ssize_t k)
{
    Py_ssize_t lo = 0, hi = k;
    while (lo < hi) {
        const Py_ssize_t mid = (lo + hi) / 2, ml = (Py_ssize_t)(starts[mid + 1] - starts[mid]);
        const int c = memcmp(names + starts[mid], v, (size_t)(ml < len ? ml : len));
        if (c < 0 || (c == 0 && ml < len))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < k && starts[lo + 1] - starts[lo] == len && memcmp(names + starts[lo], v, (size_t)len) == 0)
        return lo;
    return -1;
}

/* One polygon's points value s[p..e) into xy from xy[*values] (its extent into box); 0, or
 * -1 when parse_points would refuse it. */
static int cvat_points(const uint8_t *s, Py_ssize_t p, Py_ssize_t e, double *xy, Py_ssize_t *values, double *box)
{
    Py_ssize_t points = 0, v = *values;
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    for (;;) {
        double x, y;
        if (plain_number(s, e, &p, &x) < 0 || p >= e || s[p++] != ',' || plain_number(s, e, &p, &y) < 0)
            return -1;
        if (points == 0 || x < x0)
            x0 = x;
        if (points == 0 || x > x1)
            x1 = x;
        if (points == 0 || y < y0)
            y0 = y;
        if (points == 0 || y > y1)
            y1 = y;
        xy[v++] = x, xy[v++] = y, points++;
        if (p < e && s[p] == ';') {
            p++;
            continue;
        }
        break;
    }
    if (p != e || points < 3 || points > (1 << 20))
        return -1;
    box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
    *values = v;
    return 0;
}

/* One polygon's attributes a[0..k) into the columns of shape `shape`; 0 or -1 (not plain). */
static int cvat_polygon(const uint8_t *s, const CvatAttr *a, int k, const uint8_t *names, const int64_t *starts,
                        Py_ssize_t nnames, Py_ssize_t shape, int64_t *labels, double *xy, Py_ssize_t *values,
                        int64_t *ends, double *box)
{
    const CvatAttr *label = NULL, *points = NULL;
    for (int j = 0; j < k; j++) {
        const uint8_t *v = s + a[j].value;
        if (attr_is(s, a + j, "label", 5))
            label = a + j;
        else if (attr_is(s, a + j, "points", 6))
            points = a + j;
        else if (attr_is(s, a + j, "z_order", 7)) {
            if (!small_z(v, a[j].value_len))
                return -1;
        } else if (attr_is(s, a + j, "group_id", 8) && !(a[j].value_len == 1 && v[0] == '0'))
            return -1;
    }
    if (label == NULL || points == NULL)
        return -1;
    const Py_ssize_t li = label_index(s + label->value, label->value_len, names, starts, nnames);
    if (li < 0 || cvat_points(s, points->value, points->value + points->value_len, xy, values, box + 4 * shape) < 0)
        return -1;
    labels[shape] = li, ends[shape] = *values / 2;
    return 0;
}

/* The element's polygons into the columns (see the section's comment): their number, or -1. */
static Py_ssize_t cvat_image(const uint8_t *s, Py_ssize_t n, const uint8_t *names, const int64_t *starts,
                             Py_ssize_t nnames, int64_t *labels, double *xy, int64_t *ends, double *box,
                             Py_ssize_t most)
{
    CvatAttr a[CVAT_ATTRS];
    int closed = 0;
    Py_ssize_t p = 6, shape = 0, values = 0;
    if (n < 6 || memcmp(s, "<image", 6) != 0 || cvat_attrs(s, n, &p, a, &closed) < 0 || closed)
        return -1;
    for (;;) {
        while (p < n && xml_ws(s[p]))
            p++;
        if (p == n)
            break;
        if (n - p < 9 || memcmp(s + p, "<polygon", 8) != 0 || !(xml_ws(s[p + 8]) || s[p + 8] == '>' || s[p + 8] == '/'))
            return -1;
        p += 8;
        const int k = cvat_attrs(s, n, &p, a, &closed);
        if (k < 0 || shape == most)
            return -1;
        if (!closed) {
            while (p < n && xml_ws(s[p]))
                p++;
            if (n - p < 9 || memcmp(s + p, "</polygon", 9) != 0)
                return -1;
            p += 9;
            while (p < n && xml_ws(s[p]))
                p++;
            if (p >= n || s[p] != '>')
                return -1;
            p++;
        }
        if (cvat_polygon(s, a, k, names, starts, nnames, shape, labels, xy, &values, ends, box) < 0)
            return -1;
        shape++;
    }
    return shape > 0 ? shape : -1;
}

static PyObject *cvat_polygons(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *data_obj, *names_obj, *starts_obj, *labels_obj, *xy_obj, *ends_obj, *boxes_obj;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &data_obj, &names_obj, &starts_obj, &labels_obj, &xy_obj, &ends_obj,
                          &boxes_obj))
        return NULL;
    Bufs bs = {0};
    const Py_buffer *db, *nb, *sb, *lb, *xb, *eb, *bb;
    if ((db = take(&bs, data_obj, U8, 0, "data")) == NULL || (nb = take(&bs, names_obj, U8, 0, "names")) == NULL ||
        (sb = take(&bs, starts_obj, I64, 0, "starts")) == NULL ||
        (lb = take(&bs, labels_obj, I64, 1, "labels")) == NULL || (xb = take(&bs, xy_obj, F64, 1, "xy")) == NULL ||
        (eb = take(&bs, ends_obj, I64, 1, "ends")) == NULL || (bb = take(&bs, boxes_obj, F64, 1, "boxes")) == NULL) {
        release(&bs);
        return NULL;
    }
    const int64_t *starts = sb->buf;
    const Py_ssize_t n = db->len, nnames = count(sb) - 1, most = count(lb);
    int ok = nnames >= 0 && starts[0] == 0 && starts[nnames] <= nb->len;
    for (Py_ssize_t j = 0; ok && j < nnames; j++)
        ok = starts[j + 1] >= starts[j];
    if (!ok) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "starts: offsets into names, from 0, never decreasing");
        return NULL;
    }
    if (count(xb) < n / 2 + 1 || count(eb) != most || count(bb) != 4 * most) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "xy must hold len(data) // 2 + 1 values, ends as many as labels, boxes 4 each");
        return NULL;
    }
    const Py_ssize_t shapes = cvat_image(db->buf, n, nb->buf, starts, nnames, lb->buf, xb->buf, eb->buf, bb->buf, most);
    if (shapes < 0) { /* what was written is no result: zeros, as the twin leaves */
        memset(lb->buf, 0, (size_t)lb->len);
        memset(xb->buf, 0, (size_t)xb->len);
        memset(eb->buf, 0, (size_t)eb->len);
        memset(bb->buf, 0, (size_t)bb->len);
    }
    release(&bs);
    return PyLong_FromSsize_t(shapes);
}

/* ================================================== end of CVAT image, fused */

/* ======================================== weighted COCO accumulation (issue 14, compare's bootstrap)
 *
 * coco_bootstrap: COCOeval.accumulate of one category (area range "all", the last maxDets)
 * on many bootstrap samples at once, each detection weighted by its image's count in the
 * sample, and per sample and IoU threshold the sum over the recall thresholds of the
 * interpolated precision (what AP averages). segtool/metrics/bootstrap_ap.py says why this
 * equals COCOeval on the resampled dataset; the numpy twin (segtool/_purekernels/bootstrap.py)
 * does the same operations on whole arrays.
 *
 * Only the ends of each threshold's runs of TPs are points of the curve (within a run the
 * precision never falls, so its end holds the run's interpolated precision and every recall
 * threshold the run reaches): they are found once per call from the flags. Then per block
 * of BOOT_LANES samples (lanes, the inner loops): the weight seen up to each detection, the
 * ignored detections' weight, each run end's cumulated TP weight and precision, the
 * precision made non-increasing from the right, the recall thresholds each run end reaches
 * first (a table per ground-truth count), and the products summed in run order. Integers
 * stay integers (int64: at most 2^31 detections of weight < 2^32), so every double is the
 * one the twin computes. */

#define BOOT_LANES 8
#define BOOT_TABLE_MAX 65536      /* a count's table covers TP weights 0..min(npig, this) */
#define BOOT_TABLES_MAX (1 << 22) /* entries of all tables of one call; past it: a search */

/* The run ends of every threshold, stacked: e1 / b1 index the weight seen (S) just after the
 * run's last TP / after the last FP before the run (0: none); ige / igb the ignored weight
 * (IG) seen at those places; threshold t's runs are run_at[t] .. run_at[t + 1]; its ignored
 * detections ig[ig_at[t] .. ig_at[t + 1]]. */
typedef struct {
    Py_ssize_t *e1, *b1, *ige, *igb, *run_at, *ig, *ig_at;
    Py_ssize_t runs_max, ig_max;
} BootRuns;

static void boot_runs_free(BootRuns *R)
{
    free(R->e1), free(R->b1), free(R->ige), free(R->igb), free(R->run_at), free(R->ig), free(R->ig_at);
}

/* Runs of the (T, D) flags: a TP (tp set, ignored not) ends a run when the next detection
 * that is not ignored is an FP, or none follows. 0, or -1 out of memory. */
static int boot_runs(const uint8_t *tp, const uint8_t *ignored, Py_ssize_t T, Py_ssize_t D, BootRuns *R)
{
    const size_t cells = (size_t)(T * D > 0 ? T * D : 1);
    memset(R, 0, sizeof(*R));
    R->e1 = malloc(sizeof(Py_ssize_t) * cells), R->b1 = malloc(sizeof(Py_ssize_t) * cells);
    R->ige = malloc(sizeof(Py_ssize_t) * cells), R->igb = malloc(sizeof(Py_ssize_t) * cells);
    R->ig = malloc(sizeof(Py_ssize_t) * cells);
    R->run_at = malloc(sizeof(Py_ssize_t) * (size_t)(T + 1)), R->ig_at = malloc(sizeof(Py_ssize_t) * (size_t)(T + 1));
    if (!R->e1 || !R->b1 || !R->ige || !R->igb || !R->ig || !R->run_at || !R->ig_at)
        return -1;
    Py_ssize_t runs = 0, igs = 0;
    for (Py_ssize_t t = 0; t < T; t++) {
        const uint8_t *m = tp + t * D, *ig = ignored + t * D;
        Py_ssize_t last_fp = -1, ig_fp = 0, pending = -1, ig_pending = 0, n_ig = 0;
        R->run_at[t] = runs, R->ig_at[t] = igs;
        for (Py_ssize_t i = 0; i <= D; i++) {
            const int end = i == D, fp = !end && !ig[i] && !m[i];
            if (!end && ig[i]) {
                R->ig[igs++] = i, n_ig++;
                continue;
            }
            if ((end || fp) && pending >= 0) {
                R->e1[runs] = pending + 1, R->b1[runs] = last_fp + 1;
                R->ige[runs] = ig_pending, R->igb[runs] = ig_fp;
                runs++, pending = -1;
            }
            if (fp)
                last_fp = i, ig_fp = n_ig;
            else if (!end)
                pending = i, ig_pending = n_ig;
        }
        if (runs - R->run_at[t] > R->runs_max)
            R->runs_max = runs - R->run_at[t];
        if (n_ig > R->ig_max)
            R->ig_max = n_ig;
    }
    R->run_at[T] = runs, R->ig_at[T] = igs;
    return 0;
}

/* How many recall thresholds (ascending) a TP weight tp reaches out of v ground truth:
 * thr[r] <= tp / v, COCOeval's searchsorted(rc, recThrs, 'left') seen from the other side. */
static Py_ssize_t boot_search(int64_t tp, int64_t v, const double *thr, Py_ssize_t nr)
{
    const double rc = (double)tp / (double)v;
    Py_ssize_t lo = 0, hi = nr;
    while (lo < hi) {
        const Py_ssize_t mid = lo + (hi - lo) / 2;
        if (thr[mid] <= rc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_int64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Each sample's table of boot_search answers for TP weights 0 .. len - 1 (len 0 for a sample
 * without ground truth, or once the tables would grow past BOOT_TABLES_MAX): one table per
 * distinct count. Fills off / len per sample; returns the tables, or NULL out of memory. */
static int32_t *boot_tables(const int64_t *npig, Py_ssize_t B, const double *thr, Py_ssize_t nr, Py_ssize_t *off,
                            Py_ssize_t *len)
{
    int64_t *vs = malloc(sizeof(int64_t) * (size_t)(B > 0 ? B : 1));
    Py_ssize_t *voff = malloc(sizeof(Py_ssize_t) * (size_t)(B > 0 ? B : 1));
    Py_ssize_t *vlen = malloc(sizeof(Py_ssize_t) * (size_t)(B > 0 ? B : 1));
    int32_t *tab = NULL;
    Py_ssize_t nv = 0, total = 0;
    if (vs == NULL || voff == NULL || vlen == NULL)
        goto done;
    for (Py_ssize_t b = 0; b < B; b++)
        if (npig[b] > 0)
            vs[nv++] = npig[b];
    qsort(vs, (size_t)nv, sizeof(int64_t), cmp_int64);
    Py_ssize_t u = 0;
    for (Py_ssize_t k = 0; k < nv; k++) /* distinct counts, each its table's place */
        if (k == 0 || vs[k] != vs[u - 1]) {
            const Py_ssize_t n = (Py_ssize_t)(vs[k] < BOOT_TABLE_MAX ? vs[k] : BOOT_TABLE_MAX) + 1;
            vs[u] = vs[k], voff[u] = total, vlen[u] = total + n <= BOOT_TABLES_MAX ? n : 0;
            total += vlen[u++];
        }
    if ((tab = malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1))) == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < u; k++) {
        Py_ssize_t r = 0;
        for (Py_ssize_t tp = 0; tp < vlen[k]; tp++) {
            const double rc = (double)tp / (double)vs[k];
            while (r < nr && thr[r] <= rc)
                r++;
            tab[voff[k] + tp] = (int32_t)r;
        }
    }
    for (Py_ssize_t b = 0; b < B; b++) {
        off[b] = 0, len[b] = 0;
        if (npig[b] <= 0)
            continue;
        Py_ssize_t lo = 0, hi = u - 1;
        while (lo < hi) { /* npig[b] is among vs[0 .. u - 1] */
            const Py_ssize_t mid = lo + (hi - lo) / 2;
            if (vs[mid] < npig[b])
                lo = mid + 1;
            else
                hi = mid;
        }
        off[b] = voff[lo], len[b] = vlen[lo];
    }
done:
    free(vs), free(voff), free(vlen);
    return tab;
}

#if defined(_MSC_VER)
#define BOOT_RESTRICT __restrict
#else
#define BOOT_RESTRICT restrict
#endif
#define BL BOOT_LANES
#define BOOT_2_52 4503599627370496.0 /* 2^52 */

/* Per lane of one block of BL samples, one threshold: the sum over recall thresholds of the
 * interpolated precision into s (a threshold without ignored detections does not read IGS).
 * `small`: every weight seen is below 2^52, so an int64 is made a double by its bits (2^52 + x, less 2^52: exact, the same double as a cast, and a
 * loop the compiler vectorises; SSE2 has no int64 -> double). GCC may not fuse the products
 * into the sums (an FMA rounds once: another double than the twin's multiply, then add). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
static void
boot_threshold(const BootRuns *R, Py_ssize_t t, const int64_t *BOOT_RESTRICT S, const int64_t *BOOT_RESTRICT IGS,
               int small, const int64_t *v, const int32_t *tab, const Py_ssize_t *off, const Py_ssize_t *len,
               const double *thr, Py_ssize_t nr, int64_t *BOOT_RESTRICT TPC, double *BOOT_RESTRICT PR,
               int32_t *BOOT_RESTRICT FIRST, double *BOOT_RESTRICT s)
{
    const double eps = 2.220446049250313e-16; /* np.spacing(1) */
    const Py_ssize_t r0 = R->run_at[t], n = R->run_at[t + 1] - r0;
    int64_t tpc[BL] = {0};
    const int none_ignored = R->ig_at[t + 1] == R->ig_at[t]; /* IGS is all 0: not read */
    for (Py_ssize_t r = 0; r < n; r++) { /* each run end's TP weight, cumulated, and precision */
        const int64_t *BOOT_RESTRICT se = S + R->e1[r0 + r] * BL, *BOOT_RESTRICT sb = S + R->b1[r0 + r] * BL;
        const int64_t *BOOT_RESTRICT ie = IGS + R->ige[r0 + r] * BL, *BOOT_RESTRICT ib = IGS + R->igb[r0 + r] * BL;
        int64_t *BOOT_RESTRICT tp_out = TPC + r * BL;
        double *BOOT_RESTRICT pr_out = PR + r * BL;
        if (small && none_ignored)
            for (int l = 0; l < BL; l++) {
                tpc[l] += se[l] - sb[l];
                tp_out[l] = tpc[l];
                const uint64_t num_bits = (uint64_t)tpc[l] | 0x4330000000000000ULL;
                const uint64_t den_bits = (uint64_t)se[l] | 0x4330000000000000ULL;
                double num, den;
                memcpy(&num, &num_bits, sizeof num), memcpy(&den, &den_bits, sizeof den);
                pr_out[l] = (num - BOOT_2_52) / ((den - BOOT_2_52) + eps);
            }
        else if (small)
            for (int l = 0; l < BL; l++) {
                const int64_t at_end = se[l] - ie[l];
                tpc[l] += at_end - (sb[l] - ib[l]);
                tp_out[l] = tpc[l];
                const uint64_t num_bits = (uint64_t)tpc[l] | 0x4330000000000000ULL;
                const uint64_t den_bits = (uint64_t)at_end | 0x4330000000000000ULL;
                double num, den;
                memcpy(&num, &num_bits, sizeof num), memcpy(&den, &den_bits, sizeof den);
                pr_out[l] = (num - BOOT_2_52) / ((den - BOOT_2_52) + eps);
            }
        else
            for (int l = 0; l < BL; l++) {
                const int64_t at_end = se[l] - ie[l];
                tpc[l] += at_end - (sb[l] - ib[l]);
                tp_out[l] = tpc[l];
                pr_out[l] = (double)tpc[l] / ((double)at_end + eps);
            }
    }
    const int32_t *table[BL]; /* the recall thresholds each run end reaches first */
    int64_t fits[BL];         /* TP weights below this are in the lane's table */
    int32_t prev[BL] = {0};
    for (int l = 0; l < BL; l++) /* a lane without ground truth (or past the samples): 0s, not written */
        table[l] = v[l] > 0 ? tab + off[l] : tab, fits[l] = v[l] > 0 ? len[l] : 0;
    for (Py_ssize_t r = 0; r < n; r++) {
        const int64_t *tp = TPC + r * BL;
        int32_t *first = FIRST + r * BL;
        for (int l = 0; l < BL; l++) {
            int32_t reached = 0;
            if (LIKELY(tp[l] < fits[l]))
                reached = table[l][tp[l]];
            else if (v[l] > 0)
                reached = (int32_t)boot_search(tp[l], v[l], thr, nr);
            first[l] = reached - prev[l];
            prev[l] = reached;
        }
    }
    for (Py_ssize_t r = n - 2; r >= 0; r--) /* the precision made non-increasing from the right */
        for (int l = 0; l < BL; l++) {
            const double here = PR[r * BL + l], next = PR[(r + 1) * BL + l];
            PR[r * BL + l] = next > here ? next : here;
        }
    for (int l = 0; l < BL; l++)
        s[l] = 0.0;
    for (Py_ssize_t r = 0; r < n; r++)
        for (int l = 0; l < BL; l++) {
            const double term = PR[r * BL + l] * (double)FIRST[r * BL + l];
            s[l] += term;
        }
}

/* coco_bootstrap's arrays agree: npig (B), weights (N, B), image (D < 2^31), sums (B, T),
 * tp and ignored (T, D), rec_thrs (< 2^31); T from sums, or from tp when there is no sample. */
static int bootstrap_sizes(const Py_buffer *weights, const Py_buffer *image, const Py_buffer *tp,
                           const Py_buffer *ignored, const Py_buffer *npig, const Py_buffer *rec,
                           const Py_buffer *sums, Py_ssize_t *B, Py_ssize_t *N, Py_ssize_t *T, Py_ssize_t *D)
{
    Py_ssize_t cells, flags, out;
    *B = count(npig), *D = count(image);
    *N = *B > 0 ? count(weights) / *B : 0;
    *T = *B > 0 ? count(sums) / *B : (*D > 0 ? count(tp) / *D : 0);
    if (!mul_ok(*N, *B, &cells) || !mul_ok(*T, *D, &flags) || !mul_ok(*B, *T, &out))
        return 0;
    return *D < ((Py_ssize_t)1 << 31) && count(rec) < ((Py_ssize_t)1 << 31) && count(weights) == cells && count(sums) == out && count(tp) == flags &&
           count(ignored) == flags;
}

/* The work of coco_bootstrap once its arguments are checked (without the GIL), BL samples
 * at a time (the last block's missing lanes read zero weights from `pad`). 0, or -1 out of
 * memory. */
static int bootstrap_run(const uint32_t *w, const int64_t *image, const uint8_t *tp, const uint8_t *ignored,
                         const int64_t *npig, const double *thr, double *sums, Py_ssize_t B, Py_ssize_t N,
                         Py_ssize_t T, Py_ssize_t D, Py_ssize_t nr)
{
    BootRuns R;
    int32_t *tab = NULL, *FIRST = NULL;
    int64_t *S = NULL, *IGS = NULL, *TPC = NULL;
    uint32_t *pad = NULL;
    double *PR = NULL;
    Py_ssize_t *off = calloc((size_t)(B + BL), sizeof(Py_ssize_t)); /* the last block's lanes past B: 0 */
    Py_ssize_t *len = calloc((size_t)(B + BL), sizeof(Py_ssize_t));
    int status = -1;
    if (boot_runs(tp, ignored, T, D, &R) < 0 || off == NULL || len == NULL)
        goto done;
    const Py_ssize_t rows = R.runs_max > 0 ? R.runs_max : 1;
    S = malloc(sizeof(int64_t) * (size_t)((D + 1) * BL));
    IGS = malloc(sizeof(int64_t) * (size_t)((R.ig_max + 1) * BL));
    TPC = malloc(sizeof(int64_t) * (size_t)(rows * BL));
    PR = malloc(sizeof(double) * (size_t)(rows * BL));
    FIRST = malloc(sizeof(int32_t) * (size_t)(rows * BL));
    pad = calloc((size_t)(N > 0 ? N : 1) * BL, sizeof(uint32_t));
    if (!S || !IGS || !TPC || !PR || !FIRST || !pad || (tab = boot_tables(npig, B, thr, nr, off, len)) == NULL)
        goto done;
    for (Py_ssize_t b0 = 0; b0 < B; b0 += BL) {
        const Py_ssize_t L = B - b0 < BL ? B - b0 : BL;
        int64_t v[BL];
        int any = 0;
        for (int l = 0; l < BL; l++) {
            v[l] = l < L ? npig[b0 + l] : 0;
            any |= v[l] > 0;
        }
        if (!any)
            continue;
        const uint32_t *rows_of = w + b0; /* image k's weights: rows_of[k * stride ..] */
        Py_ssize_t stride = B;
        if (L < BL) {
            for (Py_ssize_t k = 0; k < N; k++)
                for (Py_ssize_t l = 0; l < L; l++)
                    pad[k * BL + l] = w[k * B + b0 + l];
            rows_of = pad, stride = BL;
        }
        for (int l = 0; l < BL; l++) /* the weight seen up to each detection */
            S[l] = 0;
        for (Py_ssize_t i = 0; i < D && R.run_at[T] > 0; i++) {
            const uint32_t *BOOT_RESTRICT wr = rows_of + image[i] * stride;
            int64_t *BOOT_RESTRICT next = S + (i + 1) * BL;
            const int64_t *BOOT_RESTRICT here = S + i * BL;
            for (int l = 0; l < BL; l++)
                next[l] = here[l] + wr[l];
        }
        int small = 1;
        for (int l = 0; l < BL; l++)
            small &= D == 0 || R.run_at[T] == 0 || S[D * BL + l] < ((int64_t)1 << 52);
        for (Py_ssize_t t = 0; t < T; t++) {
            double s[BL];
            const Py_ssize_t *ig = R.ig + R.ig_at[t], m = R.ig_at[t + 1] - R.ig_at[t];
            for (int l = 0; l < BL; l++)
                IGS[l] = 0;
            for (Py_ssize_t j = 0; j < m; j++) {
                const uint32_t *BOOT_RESTRICT wr = rows_of + image[ig[j]] * stride;
                int64_t *BOOT_RESTRICT next = IGS + (j + 1) * BL;
                const int64_t *BOOT_RESTRICT here = IGS + j * BL;
                for (int l = 0; l < BL; l++)
                    next[l] = here[l] + wr[l];
            }
            boot_threshold(&R, t, S, IGS, small, v, tab, off + b0, len + b0, thr, nr, TPC, PR, FIRST, s);
            for (Py_ssize_t l = 0; l < L; l++)
                if (v[l] > 0)
                    sums[(b0 + l) * T + t] += s[l];
        }
    }
    status = 0;
done:
    boot_runs_free(&R);
    free(tab), free(FIRST), free(S), free(IGS), free(TPC), free(PR), free(pad), free(off), free(len);
    return status;
}

/* coco_bootstrap(weights, image, tp, ignored, npig, rec_thrs, sums): see segtool/_kernels.pyi. */
static PyObject *coco_bootstrap(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *o[7];
    if (!PyArg_ParseTuple(args, "OOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6]))
        return NULL;
    Bufs bs = {0};
    PyObject *result = NULL;
    const Py_buffer *weights, *image, *tp, *ignored, *npig, *rec, *sums;
    Py_ssize_t B = 0, N = 0, T = 0, D = 0;
    if ((weights = take(&bs, o[0], U32, 0, "weights")) == NULL || (image = take(&bs, o[1], I64, 0, "image")) == NULL ||
        (tp = take(&bs, o[2], U8, 0, "tp")) == NULL || (ignored = take(&bs, o[3], U8, 0, "ignored")) == NULL ||
        (npig = take(&bs, o[4], I64, 0, "npig")) == NULL || (rec = take(&bs, o[5], F64, 0, "rec_thrs")) == NULL ||
        (sums = take(&bs, o[6], F64, 1, "sums")) == NULL) {
        release(&bs);
        return NULL;
    }
    const int64_t *img = image->buf;
    const double *thr = rec->buf;
    const Py_ssize_t nr = count(rec);
    int ok = bootstrap_sizes(weights, image, tp, ignored, npig, rec, sums, &B, &N, &T, &D), status = 0;
    if (!ok)
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
    for (Py_ssize_t i = 0; ok && B > 0 && i < D; i++) /* no sample: no weight is read */
        if (img[i] < 0 || img[i] >= N) {
            PyErr_SetString(PyExc_ValueError, "image: an index is out of range");
            ok = 0;
        }
    for (Py_ssize_t r = 0; ok && r < nr; r++)
        if (thr[r] != thr[r] || (r > 0 && !(thr[r - 1] <= thr[r]))) {
            PyErr_SetString(PyExc_ValueError, "rec_thrs: not ascending");
            ok = 0;
        }
    if (ok && B > 0 && T > 0) {
        Py_BEGIN_ALLOW_THREADS /* the buffers are held: their memory stays */
        status = bootstrap_run(weights->buf, img, tp->buf, ignored->buf, npig->buf, thr, sums->buf, B, N, T, D, nr);
        Py_END_ALLOW_THREADS
    }
    if (ok && status < 0)
        PyErr_NoMemory();
    else if (ok)
        result = Py_NewRef(Py_None);
    release(&bs);
    return result;
}

/* ================================== end of weighted COCO accumulation (issue 14, compare's bootstrap) */

/* ================================================== ground-truth annotations (issue 15, per-core speed)
 *
 * scan_annotations: the records of a COCO instance file's "annotations" list ({"id",
 * "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd"}) straight into
 * columns, as scan_results reads a results list (its helpers, its rules: only the plain case,
 * anything else stops the scan at that record, "bail", and the caller reads the file with the
 * JSON parser instead). Parsing the list with ijson and walking a dict per annotation was
 * most of reading a ground truth for mask AP (~0.6 s of ~2.6 s CPU at 5,000 images).
 *
 * A record is plain when image_id and category_id are integers, bbox is four numbers, id
 * (0 when absent) and iscrowd (0 when absent) are integers, area (0 when absent) a number,
 * and there is no score. Its segmentation is either a compressed RLE ({"size": [h, w],
 * "counts": "..."}, other keys passed over: flag 1, the counts as a str), or any other value
 * passed over and given as its JSON text (flag 2: polygons, uncompressed RLE; the caller
 * parses that one value), or absent (flag 0). */
typedef struct {
    int64_t ints[7];   /* id, image_id, category_id, iscrowd, the RLE's height and width, where it starts */
    double doubles[5]; /* area, bbox */
    unsigned char flags; /* 1: an RLE's counts at [ca, cb); 2: another segmentation, its text at [ca, cb) */
    Py_ssize_t ca, cb;
    int escaped;
} AnnRec;

/* "segmentation": a compressed RLE, else the value passed over (its text kept). */
static int scan_ann_segm(Txt *t, AnnRec *r)
{
    const Py_ssize_t at = t->i;
    if (scan_peek(t) == '{') {
        ScanRec rle;
        rle.ints[2] = rle.ints[3] = 0;
        rle.ca = rle.cb = 0;
        rle.escaped = 0;
        const int st = scan_segm(t, &rle);
        if (st != SCAN_BAIL) {
            if (st == SCAN_OK) {
                r->ints[4] = rle.ints[2], r->ints[5] = rle.ints[3];
                r->ca = rle.ca, r->cb = rle.cb, r->escaped = rle.escaped, r->flags = 1;
            }
            return st;
        }
        t->i = at; /* not a plain RLE: passed over whole below */
    }
    if (scan_peek(t) < 0)
        return SCAN_NEED;
    r->ca = t->i;
    const int st = scan_skip(t, 1);
    r->cb = t->i, r->flags = 2;
    return st;
}

/* One annotation at the cursor into *r. */
static int scan_annotation(Txt *t, AnnRec *r)
{
    int st = scan_char(t, '{'), seen = 0;
    if (st != SCAN_OK)
        return st;
    memset(r, 0, sizeof *r);
    if (scan_peek(t) == '}')
        return SCAN_BAIL;
    for (;;) {
        Py_ssize_t a, b;
        if ((st = scan_key(t, &a, &b)) != SCAN_OK)
            return st;
        if (scan_peek(t) < 0)
            return SCAN_NEED;
        int bit = 0;
        if (KEY_IS(t, a, b, "image_id"))
            bit = 1, st = scan_int(t, &r->ints[1]);
        else if (KEY_IS(t, a, b, "category_id"))
            bit = 2, st = scan_int(t, &r->ints[2]);
        else if (KEY_IS(t, a, b, "bbox"))
            bit = 4, st = scan_box(t, &r->doubles[1]);
        else if (KEY_IS(t, a, b, "id"))
            bit = 8, st = scan_int(t, &r->ints[0]);
        else if (KEY_IS(t, a, b, "area"))
            bit = 16, st = scan_double(t, &r->doubles[0]);
        else if (KEY_IS(t, a, b, "iscrowd")) {
            int64_t v = 0;
            bit = 32, st = scan_int(t, &v);
            r->ints[3] = v != 0;
        } else if (KEY_IS(t, a, b, "segmentation"))
            bit = 64, st = scan_ann_segm(t, r);
        else if (KEY_IS(t, a, b, "score"))
            return SCAN_BAIL; /* a score is the reader's to check */
        else
            st = scan_skip(t, 1);
        if ((st = field_next(t, st, bit, &seen)) == SCAN_END)
            break;
        if (st != SCAN_MORE)
            return st;
    }
    return (seen & 7) == 7 ? SCAN_OK : SCAN_BAIL;
}

static PyObject *scan_annotations(PyObject *self, PyObject *args)
{
    (void)self;
    ListScan ls;
    if (list_open(args, &ls) < 0)
        return NULL;
    int64_t *ints = NULL;
    double *doubles = NULL;
    unsigned char *flags = NULL;
    Py_ssize_t n = 0, cap = 0;
    PyObject *lines = PyList_New(0), *result = NULL;
    int failed = lines == NULL, more;
    while (!failed && ls.status == SCAN_MORE && n < ls.most) {
        const Py_ssize_t start = ls.t.i;
        AnnRec r;
        if (!list_item(&ls, scan_annotation(&ls.t, &r), start, &more))
            break;
        if (n == cap) {
            const Py_ssize_t grown = cap ? 2 * cap : 256;
            int64_t *i2 = realloc(ints, sizeof(int64_t) * 7 * (size_t)grown);
            if (i2 != NULL)
                ints = i2;
            double *d2 = realloc(doubles, sizeof(double) * 5 * (size_t)grown);
            if (d2 != NULL)
                doubles = d2;
            unsigned char *f2 = realloc(flags, (size_t)grown);
            if (f2 != NULL)
                flags = f2;
            if (i2 == NULL || d2 == NULL || f2 == NULL) {
                PyErr_NoMemory();
                failed = 1;
                break;
            }
            cap = grown;
        }
        r.ints[6] = start;
        memcpy(ints + 7 * n, r.ints, sizeof r.ints);
        memcpy(doubles + 5 * n, r.doubles, sizeof r.doubles);
        flags[n] = r.flags;
        PyObject *line = r.flags == 1   ? counts_text(ls.t.s, r.ca, r.cb, r.escaped)
                         : r.flags == 2 ? PyUnicode_DecodeASCII((const char *)ls.t.s + r.ca, r.cb - r.ca, NULL)
                                        : Py_NewRef(Py_None);
        failed = line == NULL || PyList_Append(lines, line) < 0;
        Py_XDECREF(line);
        n++;
        if (!more)
            ls.status = SCAN_END;
    }
    if (!failed)
        result = Py_BuildValue("(innNNNO)", ls.status, ls.t.i, n,
                               PyBytes_FromStringAndSize((const char *)ints, (Py_ssize_t)sizeof(int64_t) * 7 * n),
                               PyBytes_FromStringAndSize((const char *)doubles, (Py_ssize_t)sizeof(double) * 5 * n),
                               PyBytes_FromStringAndSize((const char *)flags, n), lines);
    free(ints);
    free(doubles);
    free(flags);
    Py_XDECREF(lines);
    release(&ls.bs);
    return result;
}

/* ================================================== end of ground-truth annotations (issue 15, per-core speed) */

/* ================================================== panoptic records (issue 15, PQ wall-clock)
 *
 * scan_panoptic: the records of a COCO panoptic annotation list ({"image_id", "file_name",
 * "segments_info": [...]}) as their image id, the number of items in segments_info and where
 * each record lies in the text, with its file name as a str. That is all the stream's first
 * pass needs (every image id, before any image is paired) and its second (each record's text,
 * parsed by the worker that loads its PNG): ijson built a dict per record and per segment,
 * twice, in the one process that reads both files while the workers waited for their first
 * images. scan_results' rules: only the plain case, anything else bails and the caller reads
 * the file with the JSON parser. A record is plain when image_id is an integer token,
 * file_name a string without escapes (bytes 0x20..0x7f), segments_info a list (its items
 * passed over and counted), each once; other keys are passed over. */
typedef struct {
    int64_t ints[3];   /* image_id, items in segments_info, the record's end */
    Py_ssize_t na, nb; /* the file name's bytes */
} PanRec;

/* "segments_info": a list, its items passed over and counted. */
static int scan_segments_info(Txt *t, int64_t *count)
{
    int st = scan_char(t, '[');
    if (st != SCAN_OK)
        return st;
    const int c = scan_peek(t);
    if (c < 0)
        return SCAN_NEED;
    if (c == ']') {
        t->i++;
        return SCAN_OK;
    }
    for (;;) {
        if ((st = scan_skip(t, 2)) != SCAN_OK)
            return st;
        ++*count;
        const int more = scan_next(t, ']');
        if (more <= 0)
            return -more == 0 ? SCAN_OK : -more;
    }
}

/* One record at the cursor into *r. */
static int scan_pan_record(Txt *t, PanRec *r)
{
    int st = scan_char(t, '{'), seen = 0;
    if (st != SCAN_OK)
        return st;
    memset(r, 0, sizeof *r);
    for (;;) {
        Py_ssize_t a, b;
        if ((st = scan_key(t, &a, &b)) != SCAN_OK)
            return st; /* {} bails here: no image_id */
        const int c = scan_peek(t);
        if (c < 0)
            return SCAN_NEED;
        int bit = 0;
        if (KEY_IS(t, a, b, "image_id"))
            bit = 1, st = scan_int(t, &r->ints[0]);
        else if (KEY_IS(t, a, b, "file_name"))
            bit = 2, st = c == '"' ? scan_string(t, &r->na, &r->nb, KEY_TEXT, NULL) : SCAN_BAIL;
        else if (KEY_IS(t, a, b, "segments_info"))
            bit = 4, st = scan_segments_info(t, &r->ints[1]);
        else
            st = scan_skip(t, 1);
        if ((st = field_next(t, st, bit, &seen)) == SCAN_END)
            break;
        if (st != SCAN_MORE)
            return st;
    }
    r->ints[2] = t->i;
    return seen == 7 ? SCAN_OK : SCAN_BAIL;
}

static PyObject *scan_panoptic(PyObject *self, PyObject *args)
{
    (void)self;
    ListScan ls;
    if (list_open(args, &ls) < 0)
        return NULL;
    Vec64 ints = {0};
    PyObject *names = PyList_New(0), *result = NULL;
    int failed = names == NULL, more;
    Py_ssize_t n = 0;
    while (!failed && ls.status == SCAN_MORE && n < ls.most) {
        const Py_ssize_t start = ls.t.i;
        PanRec r;
        if (!list_item(&ls, scan_pan_record(&ls.t, &r), start, &more))
            break;
        PyObject *name = PyUnicode_DecodeASCII((const char *)ls.t.s + r.na, r.nb - r.na, NULL);
        failed = name == NULL || PyList_Append(names, name) < 0;
        Py_XDECREF(name);
        if (!failed && (vec_push(&ints, r.ints[0]) < 0 || vec_push(&ints, r.ints[1]) < 0 ||
                        vec_push(&ints, r.ints[2]) < 0 || vec_push(&ints, start) < 0)) {
            PyErr_NoMemory();
            failed = 1;
        }
        n++;
        if (!more)
            ls.status = SCAN_END;
    }
    if (!failed)
        result = Py_BuildValue("(innNO)", ls.status, ls.t.i, n,
                               PyBytes_FromStringAndSize((const char *)ints.p, (Py_ssize_t)sizeof(int64_t) * 4 * n),
                               names);
    free(ints.p);
    Py_XDECREF(names);
    release(&ls.bs);
    return result;
}

/* ================================================== end of panoptic records (issue 15, PQ wall-clock) */

/* ================================================== fused mask AP per image (issue 15, mask AP wall-clock) */

/* One image of COCOeval (segm, COCO parameters) in one call, without the GIL: what
 * metrics.instances.evaluate_image does with rle_areas, rle_iou and coco_match, from the
 * counts strings of the ground truth and of the detections ('\n' between masks), so that
 * two threads score two images at once and no per-image Python is left but the call. */

/* idx[0..n) stably sorted by category, then score descending (score NULL: category
 * only): np.lexsort((-score, cat)) for finite scores (-a < -b exactly when b < a). */
static int before(const int64_t *cat, const double *score, Py_ssize_t a, Py_ssize_t b)
{
    if (cat[a] != cat[b])
        return cat[a] < cat[b];
    return score != NULL && score[a] > score[b];
}

static void stable_order(Py_ssize_t *idx, Py_ssize_t *tmp, Py_ssize_t n, const int64_t *cat, const double *score)
{
    for (Py_ssize_t i = 0; i < n; i++)
        idx[i] = i;
    for (Py_ssize_t width = 1; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            const Py_ssize_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            Py_ssize_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) /* the right one first only when strictly before: stable */
                tmp[k++] = before(cat, score, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, sizeof(Py_ssize_t) * (size_t)n);
    }
}

/* The n lines of text ('\n' between them) as RleTexts; 0 when it has another number.
 * memchr finds the ends (a byte loop was 7% of the kernel). */
static int split_lines(const char *text, Py_ssize_t len, RleText *out, Py_ssize_t n)
{
    if (n == 0)
        return len == 0;
    const char *p = text, *end = text + len;
    for (Py_ssize_t k = 0; k < n; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if ((nl == NULL) != (k == n - 1))
            return 0; /* a line too many, or too few */
        const char *stop = nl != NULL ? nl : end;
        out[k].text = p, out[k].len = stop - p;
        p = stop + 1;
    }
    return 1;
}

typedef struct {
    const char *gtext, *dtext;
    Py_ssize_t glen, dlen, ng, nd, na, nt, max_det;
    int64_t h, w;
    const int64_t *gcat, *gid, *dcat;
    const uint8_t *crowd;
    const double *garea, *dscore, *bounds, *thr;
    int64_t *rows, *rank, *npig;
    uint8_t *flags;
    int masks;
} ImageJob;

/* The work of coco_image: the kept detections' count, -1 for an undecodable (or missing)
 * mask, -2 without memory. */
static Py_ssize_t image_eval(ImageJob *j)
{
    const Py_ssize_t ng = j->ng, nd = j->nd, na = j->na, nt = j->nt, lanes = na * nt;
    Py_ssize_t kept = 0, status = -2;
    Rle *g = calloc((size_t)(ng > 0 ? ng : 1), sizeof(Rle)), *d = calloc((size_t)(nd > 0 ? nd : 1), sizeof(Rle));
    RleText *gt = calloc((size_t)(ng > 0 ? ng : 1), sizeof(RleText));
    RleText *dt = calloc((size_t)(nd > 0 ? nd : 1), sizeof(RleText));
    const Py_ssize_t most = nd > ng ? nd : ng;
    Py_ssize_t *order = malloc(sizeof(Py_ssize_t) * (size_t)(most + 1)), *tmp = malloc(sizeof(Py_ssize_t) * (size_t)(most + 1));
    Py_ssize_t *keep = malloc(sizeof(Py_ssize_t) * (size_t)(nd + 1)), *first = malloc(sizeof(Py_ssize_t) * (size_t)(nd + 1));
    int64_t *kcat = malloc(sizeof(int64_t) * (size_t)(nd + 1)), *match = NULL;
    uint8_t *ignore = malloc((size_t)(na * ng + 1)), *taken = malloc((size_t)(ng + 1)), *match_ig = NULL;
    double *iou = NULL;
    Py_ssize_t *cand = NULL;
    if (!g || !d || !gt || !dt || !order || !tmp || !keep || !first || !kcat || !ignore || !taken)
        goto done;
    status = -1;
    if (!split_lines(j->gtext, j->glen, gt, ng) || !split_lines(j->dtext, j->dlen, dt, nd))
        goto done;
    rle_decode_texts(gt, ng, j->h, j->w, g);
    rle_decode_texts(dt, nd, j->h, j->w, d);
    for (Py_ssize_t i = 0; i < ng; i++)
        if (gt[i].status != 0) {
            status = gt[i].status == -2 ? -2 : -1;
            goto done;
        }
    for (Py_ssize_t i = 0; i < nd; i++)
        if (dt[i].status != 0) {
            status = dt[i].status == -2 ? -2 : -1;
            goto done;
        }
    /* ranked: by category, then score; at most max_det a category */
    stable_order(order, tmp, nd, j->dcat, j->dscore);
    for (Py_ssize_t i = 0, place = 0; i < nd; i++) {
        place = i > 0 && j->dcat[order[i]] == j->dcat[order[i - 1]] ? place + 1 : 0;
        if (place >= j->max_det && nd > j->max_det)
            continue;
        j->rows[kept] = order[i], j->rank[kept] = place, keep[kept] = order[i], kcat[kept] = j->dcat[order[i]];
        kept++;
    }
    /* ground truth ignored per area range: crowd, or its JSON area outside the range */
    const double *lo = j->bounds, *hi = j->bounds + na;
    for (Py_ssize_t a = 0; a < na; a++)
        for (Py_ssize_t i = 0; i < ng; i++)
            ignore[a * ng + i] = j->crowd[i] || j->garea[i] < lo[a] || j->garea[i] > hi[a];
    /* non-ignored ground truth of each one's category, per area range */
    stable_order(order, tmp, ng, j->gcat, NULL);
    for (Py_ssize_t s = 0; s < ng;) {
        Py_ssize_t e = s;
        while (e < ng && j->gcat[order[e]] == j->gcat[order[s]])
            e++;
        for (Py_ssize_t a = 0; a < na; a++) {
            int64_t c = 0;
            for (Py_ssize_t k = s; k < e; k++)
                c += !ignore[a * ng + order[k]];
            for (Py_ssize_t k = s; k < e; k++)
                j->npig[order[k] * na + a] = c;
        }
        s = e;
    }
    j->masks = ng == 0;
    for (Py_ssize_t i = 0; i < ng; i++)
        j->masks |= g[i].m != 1;
    memset(j->flags, 0, (size_t)(kept * 2 * lanes));
    if (kept == 0) {
        status = 0;
        goto done;
    }
    if (ng > 0) {
        Py_ssize_t cells;
        if (!mul_ok(kept, ng, &cells) || !mul_ok(lanes, kept, &cells) ||
            (iou = malloc(sizeof(double) * (size_t)(kept * ng))) == NULL ||
            (match = malloc(sizeof(int64_t) * (size_t)(lanes * kept + 1))) == NULL ||
            (match_ig = malloc((size_t)(lanes * kept + 1))) == NULL) {
            status = -2;
            goto done;
        }
        int rows = 1; /* as rle_iou: rows tested when every pair is of one category */
        for (Py_ssize_t k = 1; k < kept && rows; k++)
            rows = kcat[k] == kcat[0];
        for (Py_ssize_t k = 0; k < ng && rows; k++)
            rows = j->gcat[k] == kcat[0];
        for (Py_ssize_t k = 0; k < kept; k++)
            for (Py_ssize_t i = 0; i < ng; i++)
                iou[k * ng + i] =
                    kcat[k] != j->gcat[i] ? -1.0 : rle_pair_iou(&d[keep[k]], &g[i], j->crowd[i], j->h, rows);
        if ((cand = match_candidates(iou, kcat, j->gcat, j->thr, kept, ng, nt, first)) == NULL) {
            status = -2;
            goto done;
        }
        match_lanes(iou, j->gid, j->crowd, ignore, j->thr, first, cand, taken, kept, ng, nt, na, match, match_ig);
    }
    /* per kept detection: matched bits of its lanes, then ignored bits (unmatched and
     * outside the area range: its pixel area) */
    for (Py_ssize_t k = 0; k < kept; k++) {
        uint8_t *row = j->flags + k * 2 * lanes;
        const double area = (double)d[keep[k]].area;
        for (Py_ssize_t a = 0; a < na; a++) {
            const int out = area < lo[a] || area > hi[a];
            for (Py_ssize_t t = 0; t < nt; t++) {
                const Py_ssize_t cell = (a * nt + t) * kept + k;
                const int hit = ng > 0 && match[cell] != 0;
                row[a * nt + t] = (uint8_t)hit;
                row[lanes + a * nt + t] = (uint8_t)(ng > 0 && match_ig[cell] ? 1 : (!hit && out));
            }
        }
    }
    status = kept;
done:
    if (g)
        rle_free_all(g, ng);
    if (d)
        rle_free_all(d, nd);
    free(gt), free(dt), free(order), free(tmp), free(keep), free(first), free(kcat), free(ignore), free(taken);
    free(iou), free(match), free(match_ig), free(cand);
    return status;
}

/* A str's UTF-8 (its own storage when ASCII), or NULL with ValueError. */
static const char *text_of(PyObject *o, Py_ssize_t *len, const char *name)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a str", name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(o, len);
}

static PyObject *coco_image(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *gtext, *dtext, *o[12];
    long long h, w, max_det;
    if (!PyArg_ParseTuple(args, "OOLLOOOOOOOOLOOOO", &gtext, &dtext, &h, &w, &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &max_det, &o[8], &o[9], &o[10], &o[11]))
        return parse_failed();
    static const Elem elems[12] = {I64, I64, U8, F64, I64, F64, F64, F64, I64, I64, U8, I64};
    static const char *const names[12] = {"gt_cat", "gt_ids", "crowd", "gt_area", "dt_cat", "dt_score",
                                          "bounds", "thrs",   "rows",  "rank",    "flags",  "npig"};
    Bufs bs[2];
    memset(bs, 0, sizeof bs);
    const Py_buffer *b[12];
    PyObject *result = NULL;
    ImageJob j = {0};
    int ok = (j.gtext = text_of(gtext, &j.glen, "gt")) != NULL && (j.dtext = text_of(dtext, &j.dlen, "dt")) != NULL;
    for (int i = 0; i < 12 && ok; i++)
        ok = (b[i] = take(&bs[i / 6], o[i], elems[i], i >= 8, names[i])) != NULL;
    if (ok && (!rle_size_ok(h, w) || max_det < 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "max_det must not be negative");
        ok = 0;
    }
    if (ok) {
        Py_ssize_t lanes, cells, gcells;
        j.ng = count(b[0]), j.nd = count(b[4]), j.na = count(b[6]) / 2, j.nt = count(b[7]);
        if (count(b[1]) != j.ng || count(b[2]) != j.ng || count(b[3]) != j.ng || count(b[5]) != j.nd ||
            count(b[6]) != 2 * j.na || count(b[8]) != j.nd || count(b[9]) != j.nd || !mul_ok(j.na, j.nt, &lanes) ||
            !mul_ok(2 * lanes, j.nd, &cells) || count(b[10]) != cells || !mul_ok(j.ng, j.na, &gcells) ||
            count(b[11]) != gcells) {
            PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
            ok = 0;
        }
        for (Py_ssize_t i = 0; ok && i < j.nd; i++)
            if (!isfinite(((const double *)b[5]->buf)[i])) {
                PyErr_SetString(PyExc_ValueError, "scores must be finite");
                ok = 0;
            }
    }
    if (ok) {
        j.h = h, j.w = w, j.max_det = (Py_ssize_t)(max_det < PY_SSIZE_T_MAX ? max_det : PY_SSIZE_T_MAX);
        j.gcat = b[0]->buf, j.gid = b[1]->buf, j.crowd = b[2]->buf, j.garea = b[3]->buf;
        j.dcat = b[4]->buf, j.dscore = b[5]->buf, j.bounds = b[6]->buf, j.thr = b[7]->buf;
        j.rows = b[8]->buf, j.rank = b[9]->buf, j.flags = b[10]->buf, j.npig = b[11]->buf;
        Py_ssize_t kept;
        Py_BEGIN_ALLOW_THREADS /* the strings and buffers are held: their memory stays */
        kept = image_eval(&j);
        Py_END_ALLOW_THREADS
        if (kept == -2)
            PyErr_NoMemory();
        else
            result = Py_BuildValue("(nO)", kept, j.masks ? Py_True : Py_False);
    }
    release(&bs[0]);
    release(&bs[1]);
    return result;
}

/* ================================================== end of fused mask AP per image */

static PyMethodDef methods[] = {
    {"unfilter", unfilter, METH_VARARGS,
     "unfilter(src, dst, height, rowbytes, bpp): undo PNG row filters of inflated scanlines into dst."},
    {"pair_counts", pair_counts, METH_VARARGS,
     "pair_counts(gt_rgb, pred_rgb, gt_ids, gt_rank, pred_ids, pred_rank, table): add (gt, pred) "
     "pixel counts into an int64 table; returns None, or (1|2, id) for an id absent from its list."},
    {"pack_rgb", pack_rgb, METH_VARARGS, "pack_rgb(rgb, out): RGB bytes -> uint32 R + 256 G + 65536 B."},
    {"joint_hist8", joint_hist8, METH_VARARGS,
     "joint_hist8(a, b, out): add the joint histogram of two 8-bit label maps into out (65536 int64)."},
    {"rle_areas", rle_areas, METH_VARARGS,
     "rle_areas(strings, h, w, areas): decode compressed COCO RLE strings, write each area (int64; -1 "
     "for an undecodable one); returns the index of the first undecodable one, or -1."},
    {"rle_iou", rle_iou, METH_VARARGS,
     "rle_iou(dt, gt, h, w, dt_cat, gt_cat, crowd, out): pycocotools' mask IoU of every (dt, gt) pair "
     "into a float64 (D, G) buffer; -1 across categories."},
    {"coco_match", coco_match, METH_VARARGS,
     "coco_match(ious, dt_cat, gt_cat, gt_ids, crowd, ignore, thrs, match, match_ig): COCOeval's greedy "
     "matching for every (area range, IoU threshold) lane."},
    {"coco_accumulate", coco_accumulate, METH_VARARGS,
     "coco_accumulate(matched, ignored, npig, rec_thrs, precision, recall): COCOeval.accumulate's "
     "precision (A, T, R) and recall (A, T) of one category and maxDets, detections in score order."},
    {"scan_results", scan_results, METH_VARARGS,
     "scan_results(data, pos, first, final, most): up to `most` plain records of a COCO results list "
     "from data[pos:] as columns: (status, pos, n, ints, doubles, flags, counts)."},
    {"poly_areas", poly_areas, METH_VARARGS,
     "poly_areas(xy, ends, groups, h, w, areas, boxes): pycocotools' area and toBbox of each group's "
     "merged polygons (frPyObjects' arithmetic, no RLE); returns the first group the limits doubt, or -1."},
    {"poly_rles", poly_rles, METH_VARARGS,
     "poly_rles(xy, ends, groups, h, w, areas, boxes): poly_areas, and each group's compressed RLE string as "
     "pycocotools writes merge(frPyObjects(...)); returns (the first group the limits doubt or -1, strings)."},
    {"parse_points", parse_points, METH_VARARGS,
     "parse_points(text, xy, ends, boxes): CVAT points attributes joined by '|' into doubles, each shape's "
     "end and extent; the number of values, or -1 when one is not plain."},
    {"cvat_polygons", cvat_polygons, METH_VARARGS,
     "cvat_polygons(data, names, starts, labels, xy, ends, boxes): a CVAT <image> element's bytes of plain "
     "polygons into columns (label index, points, ends, extents); the number of polygons, or -1 (not plain)."},
    {"coco_bootstrap", coco_bootstrap, METH_VARARGS,
     "coco_bootstrap(weights, image, tp, ignored, npig, rec_thrs, sums): add, per bootstrap sample and IoU "
     "threshold, the summed interpolated precision of one category's detections weighted by image counts."},
    {"scan_annotations", scan_annotations, METH_VARARGS,
     "scan_annotations(data, pos, first, final, most): up to `most` plain annotations of a COCO instance "
     "file's list from data[pos:] as columns: (status, pos, n, ints, doubles, flags, lines)."},
    {"scan_panoptic", scan_panoptic, METH_VARARGS,
     "scan_panoptic(data, pos, first, final, most): up to `most` plain records of a COCO panoptic annotation "
     "list from data[pos:]: (status, pos, n, ints, names), ints (image_id, segments, end, start) per record."},
    {"coco_image", coco_image, METH_VARARGS,
     "coco_image(gt_text, dt_text, h, w, gt_cat, gt_ids, crowd, gt_area, dt_cat, dt_score, bounds, thrs, max_det, "
     "rows, rank, flags, npig): COCOeval of one image's masks (counts strings, one a line); returns (kept "
     "detections or -1 for an undecodable mask, whether the ground truth has a mask)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "segtool's compiled loops.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
