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
 *
 * Plain CPython with the buffer protocol (no numpy C API), so one build serves numpy 1 and 2.
 * Every size is checked against the buffers before a byte is read or written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(_MSC_VER)
#define ALWAYS_INLINE __forceinline
#define LIKELY(x) (x)
#else
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#endif

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
            for (i = 0; i < rb; i += bpp)
                for (c = 0; c < bpp; c++)
                    d[i + c] = (uint8_t)(left[c] = (uint8_t)(s[i + c] + left[c]));
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
            for (i = 0; i < rb; i += bpp)
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
            break;
        default:
            return y;
        }
    }
    return -1;
}

static Py_ssize_t unfilter_rows(const uint8_t *src, uint8_t *dst, const uint8_t *zero, Py_ssize_t height,
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
    Py_buffer src, dst;
    Py_ssize_t height, rb;
    int bpp;
    if (!PyArg_ParseTuple(args, "y*w*nni", &src, &dst, &height, &rb, &bpp))
        return NULL;
    PyObject *result = NULL;
    uint8_t *zero = NULL;
    if (height < 0 || rb < 1 || bpp < 1 || bpp > 8 || rb % bpp)
        PyErr_SetString(PyExc_ValueError, "bad image geometry");
    else if (src.len < height * (rb + 1))
        PyErr_SetString(PyExc_ValueError, "image data is truncated");
    else if (dst.len < height * rb)
        PyErr_SetString(PyExc_ValueError, "output buffer is too small");
    else if ((zero = calloc((size_t)rb, 1)) == NULL)
        PyErr_NoMemory();
    else {
        Py_ssize_t bad;
        Py_BEGIN_ALLOW_THREADS
        bad = unfilter_rows((const uint8_t *)src.buf, (uint8_t *)dst.buf, zero, height, rb, bpp);
        Py_END_ALLOW_THREADS
        if (bad >= 0)
            PyErr_Format(PyExc_ValueError, "invalid filter type in row %zd", bad);
        else
            result = Py_NewRef(Py_None);
    }
    free(zero);
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
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
static int count_pairs(const uint8_t *g, const uint8_t *p, Py_ssize_t npix, const IdMap *gmap, const IdMap *pmap,
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

static PyObject *pair_counts(PyObject *self, PyObject *args)
{
    Py_buffer gt, pr, gids, grank, pids, prank, table;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*w*", &gt, &pr, &gids, &grank, &pids, &prank, &table))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = gids.len / 4, m = pids.len / 4;
    IdMap gmap = {0}, pmap = {0};
    if (gt.len != pr.len || gt.len % 3)
        PyErr_SetString(PyExc_ValueError, "the two RGB buffers differ in size");
    else if (grank.len != n * 8 || prank.len != m * 8)
        PyErr_SetString(PyExc_ValueError, "ids and ranks differ in length");
    else if (table.len != (n + 1) * (m + 1) * 8)
        PyErr_SetString(PyExc_ValueError, "table has the wrong size");
    else if (idmap_init(&gmap, gids.buf, grank.buf, n) < 0 || idmap_init(&pmap, pids.buf, prank.buf, m) < 0)
        PyErr_NoMemory();
    else {
        uint32_t bad = 0;
        int side;
        Py_BEGIN_ALLOW_THREADS
        side = count_pairs(gt.buf, pr.buf, gt.len / 3, &gmap, &pmap, table.buf, m + 1, &bad);
        Py_END_ALLOW_THREADS
        result = side ? Py_BuildValue("(iI)", side, bad) : Py_NewRef(Py_None);
    }
    idmap_free(&gmap);
    idmap_free(&pmap);
    PyBuffer_Release(&gt);
    PyBuffer_Release(&pr);
    PyBuffer_Release(&gids);
    PyBuffer_Release(&grank);
    PyBuffer_Release(&pids);
    PyBuffer_Release(&prank);
    PyBuffer_Release(&table);
    return result;
}

/* The joint histogram of two 8-bit label maps: out[256 * a + b] counts the pixels labelled
 * a in the first and b in the second (mIoU's confusion before classes are mapped). Runs of
 * one pair are counted first and added once: label maps are mostly long runs, and adding to
 * the same bin pixel after pixel would wait on the store before each add. */
static PyObject *joint_hist8(PyObject *self, PyObject *args)
{
    Py_buffer ga, pa, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &ga, &pa, &out))
        return NULL;
    PyObject *result = NULL;
    if (ga.len != pa.len)
        PyErr_SetString(PyExc_ValueError, "the two label maps differ in size");
    else if (out.len != 65536 * 8)
        PyErr_SetString(PyExc_ValueError, "out must hold 65536 int64 counts");
    else {
        const uint8_t *g = ga.buf, *p = pa.buf;
        int64_t *h = out.buf;
        const Py_ssize_t n = ga.len;
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t k = 0;
        while (k < n) {
            const uint8_t a = g[k], b = p[k];
            Py_ssize_t e = k + 1;
            while (e < n && g[e] == a && p[e] == b)
                e++;
            h[256 * a + b] += e - k;
            k = e;
        }
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&ga);
    PyBuffer_Release(&pa);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *pack_rgb(PyObject *self, PyObject *args)
{
    Py_buffer rgb, out;
    if (!PyArg_ParseTuple(args, "y*w*", &rgb, &out))
        return NULL;
    PyObject *result = NULL;
    if (rgb.len % 3 || out.len != rgb.len / 3 * 4)
        PyErr_SetString(PyExc_ValueError, "output must hold one uint32 per RGB pixel");
    else {
        const uint8_t *s = rgb.buf;
        uint32_t *d = out.buf;
        const Py_ssize_t npix = rgb.len / 3;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < npix; k++)
            d[k] = s[3 * k] | ((uint32_t)s[3 * k + 1] << 8) | ((uint32_t)s[3 * k + 2] << 16);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&rgb);
    PyBuffer_Release(&out);
    return result;
}

/* ---------------------------------------------------------------- COCO RLE */

/* One decoded RLE: counts (alternating runs of 0s and 1s, column-major), its area and the
 * range of columns it spans, for the test that skips most pairs. */
typedef struct {
    int64_t *cnts;
    Py_ssize_t m;
    int ok; /* decoded and valid */
    int64_t area;
    int64_t x0, x1; /* columns of the first and last pixel; x0 > x1 when the mask is empty */
} Rle;

/* pycocotools' rleFrString, strict: 5 bits per character ('0' + value), a set 0x20 bit
 * continues the value, the last character's 0x10 bit sign-extends it; from the third value
 * on each count is stored relative to the count two before. The string is bad (returns -1)
 * when a character lies outside '0'..'o', it ends inside a value, a value takes more than
 * 8 characters (pycocotools writes at most 7 for any 32-bit count), a count is negative or
 * beyond h*w, or the counts do not add up to h*w: pycocotools would loop forever, or read
 * or write out of bounds, on such a string. */
static int rle_decode(const uint8_t *s, Py_ssize_t len, int64_t h, int64_t w, Rle *r)
{
    const int64_t total = h * w;
    r->cnts = malloc(sizeof(int64_t) * (size_t)(len > 0 ? len : 1));
    if (r->cnts == NULL)
        return -2;
    Py_ssize_t m = 0, p = 0;
    int64_t sum = 0, area = 0;
    while (p < len) {
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
        int64_t x = (int64_t)bits;
        if (m > 2)
            x += r->cnts[m - 2];
        if (x < 0 || x > total)
            return -1;
        r->cnts[m++] = x;
        sum += x;
        if (sum > total)
            return -1;
    }
    if (sum != total)
        return -1;
    r->m = m;
    /* area, and the columns of the first and last pixel (two divisions per mask, not per
     * run): runs of 1s are the odd counts */
    int64_t pos = 0, first = -1, last = -1;
    for (Py_ssize_t j = 0; j < m; j++) {
        const int64_t c = r->cnts[j];
        if ((j & 1) && c > 0) {
            if (first < 0)
                first = pos;
            last = pos + c - 1;
            area += c;
        }
        pos += c;
    }
    r->x0 = first < 0 ? 1 : first / h;
    r->x1 = first < 0 ? 0 : last / h;
    r->area = area;
    r->ok = 1;
    return 0;
}

/* Decode every string of a Python sequence of str or bytes-like objects (all h x w). On a bad one,
 * *bad is its index; on a Python error (not bytes, no memory) returns -1. */
static int rle_decode_all(PyObject *seq, int64_t h, int64_t w, Rle **out, Py_ssize_t *n, Py_ssize_t *bad)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of RLE strings");
    if (fast == NULL)
        return -1;
    const Py_ssize_t count = PySequence_Fast_GET_SIZE(fast);
    Rle *rles = calloc((size_t)(count > 0 ? count : 1), sizeof(Rle));
    if (rles == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    *bad = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        /* str (as JSON gives it; an ASCII str's UTF-8 is its own storage, no copy) or bytes */
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        Py_buffer b = {0};
        const char *text = NULL;
        Py_ssize_t len = 0;
        if (PyUnicode_Check(item))
            text = PyUnicode_AsUTF8AndSize(item, &len);
        else if (PyObject_GetBuffer(item, &b, PyBUF_SIMPLE) == 0)
            text = b.buf, len = b.len;
        if (text == NULL) {
            for (Py_ssize_t j = 0; j <= i; j++)
                free(rles[j].cnts);
            free(rles);
            Py_DECREF(fast);
            return -1;
        }
        const int status = rle_decode((const uint8_t *)text, len, h, w, &rles[i]);
        if (b.obj != NULL)
            PyBuffer_Release(&b);
        if (status == -2) {
            for (Py_ssize_t j = 0; j <= i; j++)
                free(rles[j].cnts);
            free(rles);
            Py_DECREF(fast);
            PyErr_NoMemory();
            return -1;
        }
        if (status < 0 && *bad < 0)
            *bad = i;
    }
    Py_DECREF(fast);
    *out = rles;
    *n = count;
    return 0;
}

static void rle_free_all(Rle *rles, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        free(rles[i].cnts);
    free(rles);
}

static PyObject *rle_areas(PyObject *self, PyObject *args)
{
    PyObject *seq;
    long long h, w;
    Py_buffer areas;
    if (!PyArg_ParseTuple(args, "OLLw*", &seq, &h, &w, &areas))
        return NULL;
    Rle *rles = NULL;
    Py_ssize_t n = 0, bad = -1;
    PyObject *result = NULL;
    if (h < 0 || w < 0 || h > (1LL << 31) || w > (1LL << 31))
        PyErr_SetString(PyExc_ValueError, "bad image size");
    else if (rle_decode_all(seq, h, w, &rles, &n, &bad) == 0) {
        if (areas.len != n * 8)
            PyErr_SetString(PyExc_ValueError, "areas must hold one int64 per RLE");
        else {
            int64_t *a = areas.buf;
            for (Py_ssize_t i = 0; i < n; i++)
                a[i] = rles[i].ok ? rles[i].area : -1;
            result = PyLong_FromSsize_t(bad);
        }
        rle_free_all(rles, n);
    }
    PyBuffer_Release(&areas);
    return result;
}

/* Pixels in both of two RLEs: a merge of their run lists (pycocotools' rleIou loop). */
static int64_t rle_intersection(const Rle *a, const Rle *b)
{
    if (a->m == 0 || b->m == 0)
        return 0;
    Py_ssize_t ia = 0, ib = 0;
    int64_t ea = a->cnts[0], eb = b->cnts[0], pos = 0, inter = 0; /* ends of the current runs */
    while (ia < a->m && ib < b->m) {
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

static PyObject *rle_iou(PyObject *self, PyObject *args)
{
    PyObject *dseq, *gseq;
    long long h, w;
    Py_buffer dcat, gcat, crowd, out;
    if (!PyArg_ParseTuple(args, "OOLLy*y*y*w*", &dseq, &gseq, &h, &w, &dcat, &gcat, &crowd, &out))
        return NULL;
    Rle *dt = NULL, *gt = NULL;
    Py_ssize_t nd = 0, ng = 0, dbad = -1, gbad = -1;
    PyObject *result = NULL;
    if (h < 0 || w < 0 || h > (1LL << 31) || w > (1LL << 31))
        PyErr_SetString(PyExc_ValueError, "bad image size");
    else if (rle_decode_all(dseq, h, w, &dt, &nd, &dbad) == 0) {
        if (rle_decode_all(gseq, h, w, &gt, &ng, &gbad) == 0) {
            if (dbad >= 0 || gbad >= 0)
                PyErr_Format(PyExc_ValueError, "undecodable RLE: %s #%zd", dbad >= 0 ? "detection" : "ground truth",
                             dbad >= 0 ? dbad : gbad);
            else if (dcat.len != nd * 8 || gcat.len != ng * 8 || crowd.len != ng || out.len != nd * ng * 8)
                PyErr_SetString(PyExc_ValueError, "array sizes do not match the RLE lists");
            else {
                const int64_t *dc = dcat.buf, *gc = gcat.buf;
                const uint8_t *cr = crowd.buf;
                double *o = out.buf;
                for (Py_ssize_t d = 0; d < nd; d++)
                    for (Py_ssize_t g = 0; g < ng; g++) {
                        double v;
                        const Rle *a = &dt[d], *b = &gt[g];
                        if (dc[d] != gc[g])
                            v = -1.0; /* another category: never a match */
                        else if (a->x0 > b->x1 || b->x0 > a->x1)
                            v = 0.0; /* no common column: no common pixel */
                        else {
                            /* as pycocotools: i / u as doubles; crowd: u is the detection's area */
                            const int64_t i = rle_intersection(a, b);
                            const int64_t u = i == 0 ? 1 : (cr[g] ? a->area : a->area + b->area - i);
                            v = (double)i / (double)u;
                        }
                        o[d * ng + g] = v;
                    }
                result = Py_NewRef(Py_None);
            }
            rle_free_all(gt, ng);
        }
        rle_free_all(dt, nd);
    }
    PyBuffer_Release(&dcat);
    PyBuffer_Release(&gcat);
    PyBuffer_Release(&crowd);
    PyBuffer_Release(&out);
    return result;
}

/* COCOeval.evaluateImg's greedy matching, for every lane (area range a, IoU threshold t) of
 * one image at once. Detections come sorted by category, then score; for each, the ground
 * truth of its category is searched non-ignored first, then ignored (pycocotools sorts it
 * so and breaks at the first ignored one once it holds a non-ignored match); the last of
 * equal best IoUs wins (pycocotools replaces on `>=`); a matched non-crowd ground truth is
 * taken. Writes the matched ground-truth id (0: none) and whether it is ignored. */
static PyObject *coco_match(PyObject *self, PyObject *args)
{
    Py_buffer ious, dcat, gcat, gids, crowd, ignore, thrs, match, match_ig;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*w*w*", &ious, &dcat, &gcat, &gids, &crowd, &ignore, &thrs, &match,
                          &match_ig))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t nd = dcat.len / 8, ng = gcat.len / 8, nt = thrs.len / 8;
    const Py_ssize_t na = ng > 0 ? ignore.len / ng : 0;
    uint8_t *taken = malloc((size_t)(ng > 0 ? ng : 1));
    if (taken == NULL)
        PyErr_NoMemory();
    else if (ious.len != nd * ng * 8 || gids.len != ng * 8 || crowd.len != ng || (ng > 0 && ignore.len != na * ng) ||
             match.len != na * nt * nd * 8 || match_ig.len != na * nt * nd)
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
    else {
        const double *iou = ious.buf, *thr = thrs.buf;
        const int64_t *dc = dcat.buf, *gc = gcat.buf, *gid = gids.buf;
        const uint8_t *cr = crowd.buf, *ig = ignore.buf;
        int64_t *mt = match.buf;
        uint8_t *mi = match_ig.buf;
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
                        for (Py_ssize_t g = 0; g < ng; g++) {
                            if (gc[g] != dc[d] || iga[g] != pass || (taken[g] && !cr[g]) || row[g] < bar)
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
        result = Py_NewRef(Py_None);
    }
    free(taken);
    PyBuffer_Release(&ious);
    PyBuffer_Release(&dcat);
    PyBuffer_Release(&gcat);
    PyBuffer_Release(&gids);
    PyBuffer_Release(&crowd);
    PyBuffer_Release(&ignore);
    PyBuffer_Release(&thrs);
    PyBuffer_Release(&match);
    PyBuffer_Release(&match_ig);
    return result;
}

/* COCOeval.accumulate for one category and maxDets: detections already in score order
 * (mergesort of -score), (A, T, N) matched / ignored flags. Per lane: cumulative TP and FP
 * as doubles, recall tp / npig, precision tp / (fp + tp + eps) made non-increasing from the
 * right, sampled at the first detection whose recall reaches each threshold (0 past the
 * last), exactly pycocotools' operations in its order. Lanes whose area range has no
 * non-ignored ground truth are left as they are (-1). */
static PyObject *coco_accumulate(PyObject *self, PyObject *args)
{
    Py_buffer matched, ignored, npig, rec, precision, recall;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*", &matched, &ignored, &npig, &rec, &precision, &recall))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t na = npig.len / 8, nr = rec.len / 8;
    const Py_ssize_t nt = na > 0 ? recall.len / 8 / na : 0;
    const Py_ssize_t lanes = na * nt, n = lanes > 0 ? matched.len / lanes : 0;
    double *pr = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1)), *rc = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (pr == NULL || rc == NULL)
        PyErr_NoMemory();
    else if (matched.len != lanes * n || ignored.len != lanes * n || precision.len != lanes * nr * 8 ||
             recall.len != lanes * 8)
        PyErr_SetString(PyExc_ValueError, "array sizes do not agree");
    else {
        const uint8_t *dtm = matched.buf, *dtig = ignored.buf;
        const int64_t *np_ = npig.buf;
        const double *thr = rec.buf, eps = 2.220446049250313e-16; /* np.spacing(1) */
        double *prec = precision.buf, *reca = recall.buf;
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
        result = Py_NewRef(Py_None);
    }
    free(pr);
    free(rc);
    PyBuffer_Release(&matched);
    PyBuffer_Release(&ignored);
    PyBuffer_Release(&npig);
    PyBuffer_Release(&rec);
    PyBuffer_Release(&precision);
    PyBuffer_Release(&recall);
    return result;
}

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
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "segtool's compiled loops.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
