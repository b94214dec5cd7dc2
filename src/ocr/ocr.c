/*
 * The OCR pipeline on the neural runner: engine (shared models and keys), per-thread
 * contexts (sessions and scratch tensors) and itx_ocr_run. The stages themselves live in
 * the model-free files of this module; this file feeds them, runs the models at a small set
 * of shapes (see ocr.h) and collects the lines. docs/ocr.md describes the whole flow.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "image/image.h"
#include "nn/nn.h"
#include "ocr/ocr-impl.h"
#include "ocr/ocr.h"

struct itx_ocr_engine {
    atomic_int refs;
    struct itx_nn_model *det, *rec, *cls;
    struct itx_ocr_dict *dict;
    struct itx_ocr_engine_opts o;
    /* Classes of the price-sign correction (see fix_price_sign); 0 when the keys lack one. */
    size_t cls_question, cls_yen, cls_yen_fw, cls_digit[10];
};

struct itx_ocr_ctx {
    struct itx_ocr_engine *e;
    /* The three sessions run one after another on the context's thread, so they share one
     * activation arena: it holds the largest plan (the detector's) instead of the sum. */
    struct itx_nn_arena *arena;
    struct itx_nn_session *det, *rec, *cls;
    /* Input tensors are written straight into the arena (itx_nn_session_prepare); the one
     * scratch buffer holds the detector's map cut to the picture and the price-sign copy of a
     * recognizer output. */
    float *tmp;
    size_t tmp_cap; /* floats */
};

static const int rec_buckets[ITX_OCR_N_REC_BUCKETS] = {ITX_OCR_REC_BUCKETS};

void
itx_ocr_engine_opts_default(struct itx_ocr_engine_opts *o)
{
    o->threads = 1;
    o->det_max_plans = 3;
    o->rec_max_plans = ITX_OCR_N_REC_BUCKETS;
}

void
itx_ocr_opts_default(struct itx_ocr_opts *o)
{
    o->limit_side = 960;
    itx_ocr_db_params_default(&o->db);
    o->use_cls = true;
    o->cls_thresh = 0.9f;
    o->drop_score = 0.5f;
    o->tall_ratio = 2.5;
    o->max_lines = 5000;
    o->price_sign = true;
    o->rec_batch = 1;
    o->rec_exact_width = false;
    o->det_exact_size = false;
}

static enum itx_status
check_opts(const struct itx_ocr_opts *o, struct itx_diag *d)
{
    if (o->limit_side < 32 || o->limit_side > 4096)
        return itx_diag_set(d, ITX_ERR_INVALID, "limit side %d is outside 32..4096", o->limit_side);
    if (!(o->drop_score >= 0.0f && o->drop_score <= 1.0f))
        return itx_diag_set(d, ITX_ERR_INVALID, "drop score %g is outside 0..1",
                            (double)o->drop_score);
    if (!(o->cls_thresh >= 0.0f && o->cls_thresh <= 1.0f))
        return itx_diag_set(d, ITX_ERR_INVALID, "classifier threshold %g is outside 0..1",
                            (double)o->cls_thresh);
    if (!(o->tall_ratio == 0.0 || (o->tall_ratio >= 1.0 && o->tall_ratio <= 1000.0)))
        return itx_diag_set(d, ITX_ERR_INVALID, "tall ratio %g is neither 0 nor in 1..1000",
                            o->tall_ratio);
    if (o->rec_batch < 1 || o->rec_batch > 64)
        return itx_diag_set(d, ITX_ERR_INVALID, "recognizer batch %d is outside 1..64",
                            o->rec_batch);
    if (o->max_lines < 1)
        return itx_diag_set(d, ITX_ERR_INVALID, "max lines must be at least 1");
    return ITX_OK;
}

/* ---- engine and contexts ---------------------------------------------------------------- */

static enum itx_status
load_model(const char *dir, const char *file, struct itx_nn_model **m, struct itx_diag *d)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return itx_diag_set(d, ITX_ERR_INVALID, "models directory path '%s' is too long", dir);
    return itx_nn_model_load(path, NULL, m, d);
}

enum itx_status
itx_ocr_engine_new(const char *models_dir, const struct itx_ocr_engine_opts *o,
                   struct itx_ocr_engine **out, struct itx_diag *d)
{
    struct itx_ocr_engine *e = NULL;
    enum itx_status st;
    char path[4096];

    if (!models_dir)
        models_dir = itx_models_dir();
    e = itx_calloc(1, sizeof(*e));
    if (!e)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the OCR engine");
    atomic_init(&e->refs, 1);
    if (o)
        e->o = *o;
    else
        itx_ocr_engine_opts_default(&e->o);
    if (e->o.threads < 1 || e->o.threads > 256 || e->o.det_max_plans < 1 ||
        e->o.det_max_plans > 64 || e->o.rec_max_plans < 1 || e->o.rec_max_plans > 64) {
        st = itx_diag_set(d, ITX_ERR_INVALID,
                          "OCR engine options out of range: threads %d (1..256), detector "
                          "plans %d (1..64), recognizer plans %d (1..64)",
                          e->o.threads, e->o.det_max_plans, e->o.rec_max_plans);
        goto fail;
    }
    if ((st = load_model(models_dir, ITX_OCR_DET_MODEL, &e->det, d)) ||
        (st = load_model(models_dir, ITX_OCR_REC_MODEL, &e->rec, d)) ||
        (st = load_model(models_dir, ITX_OCR_CLS_MODEL, &e->cls, d)))
        goto fail;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", models_dir, ITX_OCR_KEYS_FILE) >=
        sizeof(path)) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "models directory path '%s' is too long", models_dir);
        goto fail;
    }
    if ((st = itx_ocr_dict_load(path, true, &e->dict, d)))
        goto fail;
    for (size_t k = 1; k < itx_ocr_dict_n_classes(e->dict); k++) {
        const char *key = itx_ocr_dict_key(e->dict, k);
        if (!strcmp(key, "?"))
            e->cls_question = k;
        else if (!strcmp(key, "\u00a5"))
            e->cls_yen = k;
        else if (!strcmp(key, "\uffe5"))
            e->cls_yen_fw = k;
        else if (key[0] >= '0' && key[0] <= '9' && !key[1])
            e->cls_digit[key[0] - '0'] = k;
    }
    *out = e;
    return ITX_OK;
fail:
    itx_ocr_engine_free(e);
    return st;
}

struct itx_ocr_engine *
itx_ocr_engine_ref(struct itx_ocr_engine *e)
{
    atomic_fetch_add(&e->refs, 1);
    return e;
}

void
itx_ocr_engine_free(struct itx_ocr_engine *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    itx_nn_model_free(e->det);
    itx_nn_model_free(e->rec);
    itx_nn_model_free(e->cls);
    itx_ocr_dict_free(e->dict);
    itx_free(e);
}

enum itx_status
itx_ocr_ctx_new(struct itx_ocr_engine *e, int threads, struct itx_ocr_ctx **out, struct itx_diag *d)
{
    struct itx_ocr_ctx *c;
    struct itx_nn_session_opts so;
    enum itx_status st;

    if (threads == 0)
        threads = e->o.threads;
    if (threads < 1 || threads > 256)
        return itx_diag_set(d, ITX_ERR_INVALID, "%d threads per inference is outside 1..256",
                            threads);
    c = itx_calloc(1, sizeof(*c));
    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for an OCR context");
    c->e = itx_ocr_engine_ref(e);
    if ((st = itx_nn_arena_new(&c->arena, d)))
        goto fail;
    itx_nn_session_opts_default(&so);
    so.threads = threads;
    so.arena = c->arena;
    so.max_plans = e->o.det_max_plans;
    if ((st = itx_nn_session_new(e->det, &so, &c->det, d)))
        goto fail;
    so.max_plans = e->o.rec_max_plans;
    if ((st = itx_nn_session_new(e->rec, &so, &c->rec, d)))
        goto fail;
    so.max_plans = 1;
    if ((st = itx_nn_session_new(e->cls, &so, &c->cls, d)))
        goto fail;
    *out = c;
    return ITX_OK;
fail:
    itx_ocr_ctx_free(c);
    return st;
}

void
itx_ocr_ctx_free(struct itx_ocr_ctx *c)
{
    if (!c)
        return;
    itx_nn_session_free(c->det);
    itx_nn_session_free(c->rec);
    itx_nn_session_free(c->cls);
    itx_nn_arena_free(c->arena);
    itx_free_aligned(c->tmp);
    itx_ocr_engine_free(c->e);
    itx_free(c);
}

/* Makes *p hold at least n floats (contents not kept). */
static enum itx_status
reserve(float **p, size_t *cap, size_t n, struct itx_diag *d)
{
    size_t bytes;
    float *q;

    if (n <= *cap)
        return ITX_OK;
    if (!itx_mul_size(n, sizeof(float), &bytes))
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "tensor of %zu values overflows", n);
    q = itx_malloc_aligned(bytes);
    if (!q)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a %zu-byte tensor", bytes);
    itx_free_aligned(*p);
    *p = q;
    *cap = n;
    return ITX_OK;
}

/* ---- shapes ----------------------------------------------------------------------------- */

static int
det_bucket(int side)
{
    return (side + ITX_OCR_DET_BUCKET - 1) / ITX_OCR_DET_BUCKET * ITX_OCR_DET_BUCKET;
}

/* Index of the recognizer width for a crop of aspect ratio w / h. */
static int
rec_width(int w, int h)
{
    int want = itx_ocr_rec_batch_width((double)w / h, rec_buckets[ITX_OCR_N_REC_BUCKETS - 1]);
    for (int i = 0; i < ITX_OCR_N_REC_BUCKETS; i++)
        if (rec_buckets[i] >= want)
            return rec_buckets[i];
    return rec_buckets[ITX_OCR_N_REC_BUCKETS - 1];
}

/* ---- detection -------------------------------------------------------------------------- */

/*
 * Detects text in rows [y0, y0 + sh) of img and appends the quads, in picture coordinates,
 * to *q (grown as needed, up to max_quads).
 */
static enum itx_status
detect_slice(struct itx_ocr_ctx *c, const struct itx_image *img, int y0, int sh,
             const struct itx_ocr_opts *o, struct itx_ocr_quad **q, size_t *n, size_t *cap,
             size_t **slice_of, size_t slice, struct itx_diag *d)
{
    int rw, rh, bw, bh;
    int64_t shape[ITX_NN_MAX_DIMS] = {1, 3, 0, 0};
    int rank;
    const float *map;
    float *in;
    struct itx_ocr_quad *found = NULL;
    size_t n_found = 0;
    enum itx_status st;

    itx_ocr_det_size(img->w, sh, o->limit_side, &rw, &rh);
    bw = o->det_exact_size ? rw : det_bucket(rw);
    bh = o->det_exact_size ? rh : det_bucket(rh);
    shape[2] = bh;
    shape[3] = bw;
    if ((st = reserve(&c->tmp, &c->tmp_cap, (size_t)rw * (size_t)rh, d)))
        return st;
    if ((st = itx_nn_session_prepare(c->det, shape, 4, &in, d))) {
        itx_diag_prefix(d, "text detector");
        return st;
    }
    /* Padded right and bottom with 0: the mean colour, which the detector reads as no text. */
    itx_ocr_det_tensor_pad(img->px + (size_t)y0 * img->stride, img->w, sh, img->stride, rw, rh, bw,
                           bh, in);
    if ((st = itx_nn_session_run(c->det, NULL, shape, 4, d))) {
        itx_diag_prefix(d, "text detector");
        return st;
    }
    map = itx_nn_session_output(c->det, 0, shape, &rank);
    if (rank != 4 || shape[0] != 1 || shape[1] != 1 || shape[2] != bh || shape[3] != bw)
        return itx_diag_set(d, ITX_ERR_MODEL,
                            "text detector output is not a 1x1x%dx%d probability map", bh, bw);
    /* The map of the unpadded part, packed, into the scratch tensor. */
    for (int y = 0; y < rh; y++)
        memcpy(c->tmp + (size_t)y * (size_t)rw, map + (size_t)y * (size_t)bw,
               (size_t)rw * sizeof(float));
    if ((st = itx_ocr_db_boxes(c->tmp, rw, rh, img->w, sh, &o->db, &found, &n_found, d)))
        return st;
    if (*n + n_found > o->max_lines) {
        itx_free(found);
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "picture has over %zu text lines", o->max_lines);
    }
    if (*n + n_found > *cap) {
        size_t nc = *n + n_found + 64;
        struct itx_ocr_quad *nq = itx_realloc_array(*q, nc, sizeof(**q));
        size_t *ns;
        if (!nq) {
            itx_free(found);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu text boxes", nc);
        }
        *q = nq;
        ns = itx_realloc_array(*slice_of, nc, sizeof(**slice_of));
        if (!ns) {
            itx_free(found);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu text boxes", nc);
        }
        *slice_of = ns;
        *cap = nc;
    }
    for (size_t i = 0; i < n_found; i++) {
        for (int k = 1; k < 8; k += 2)
            found[i].pt[k] += (float)y0;
        (*q)[*n] = found[i];
        (*slice_of)[*n] = slice;
        (*n)++;
    }
    itx_free(found);
    return ITX_OK;
}

/* ---- recognition ------------------------------------------------------------------------ */

static size_t
argmax(const float *p, size_t n)
{
    size_t a = 0;
    for (size_t k = 1; k < n; k++)
        if (p[k] > p[a])
            a = k;
    return a;
}

/*
 * The recognizer often reads a yen sign in front of a price as "?": on the synthetic set
 * the question mark wins a step with about 0.52 against 0.40 + 0.07 for the two yen
 * signs, which are one character in two widths. A question mark directly before a digit is
 * rare in product pictures and a price sign there is common, so at a step where "?" wins,
 * the next character read is a digit and the two yen signs together hold at least 0.2, the
 * more likely yen sign takes the question mark's place (their probabilities are swapped,
 * so the line's confidence is unchanged). *out is the matrix to decode: probs itself, or
 * the corrected copy in c->tmp.
 */
static enum itx_status
fix_price_sign(struct itx_ocr_ctx *c, const float *probs, size_t n_steps, size_t n_classes,
               const float **out, struct itx_diag *d)
{
    enum itx_status st;
    const struct itx_ocr_engine *e = c->e;
    float *fixed = NULL;

    *out = probs;
    if (!e->cls_question || !e->cls_yen || !e->cls_yen_fw || n_classes <= e->cls_question ||
        n_classes <= e->cls_yen || n_classes <= e->cls_yen_fw)
        return ITX_OK;
    for (size_t t = 0; t < n_steps; t++) {
        const float *p = probs + t * n_classes;
        size_t next = 0, yen;
        bool digit = false;
        if (argmax(p, n_classes) != e->cls_question || p[e->cls_yen] + p[e->cls_yen_fw] < 0.2f)
            continue;
        for (size_t u = t + 1; u < n_steps; u++) {
            next = argmax(probs + u * n_classes, n_classes);
            if (next != 0 && next != e->cls_question)
                break;
            next = 0;
        }
        for (int k = 0; k < 10; k++)
            digit |= next && next == e->cls_digit[k];
        if (!digit)
            continue;
        if (!fixed) {
            if ((st = reserve(&c->tmp, &c->tmp_cap, n_steps * n_classes, d)))
                return st;
            memcpy(c->tmp, probs, n_steps * n_classes * sizeof(float));
            fixed = c->tmp;
        }
        float *q = fixed + t * n_classes, v = q[e->cls_question];
        yen = q[e->cls_yen_fw] >= q[e->cls_yen] ? e->cls_yen_fw : e->cls_yen;
        q[e->cls_question] = q[yen];
        q[yen] = v;
    }
    if (fixed)
        *out = fixed;
    return ITX_OK;
}

/* One text line on its way through classification and recognition. */
struct crop {
    uint8_t *px; /* packed RGB, w x h; NULL when the quad gave no crop */
    int w, h;
    bool rotated;
    double ratio; /* w / h */
    char *text;
    float score;
};

/* The 180-degree classifier on one crop, which is turned in place when it says so. */
static enum itx_status
classify(struct itx_ocr_ctx *c, struct crop *k, const struct itx_ocr_opts *o, struct itx_diag *d)
{
    int64_t shape[ITX_NN_MAX_DIMS] = {1, 3, ITX_OCR_CLS_HEIGHT, ITX_OCR_CLS_WIDTH};
    int rank;
    const float *out;
    float *in;
    enum itx_status st;

    if ((st = itx_nn_session_prepare(c->cls, shape, 4, &in, d))) {
        itx_diag_prefix(d, "orientation classifier");
        return st;
    }
    itx_ocr_line_tensor(k->px, k->w, k->h, (size_t)k->w * 3, ITX_OCR_CLS_WIDTH, ITX_OCR_CLS_HEIGHT,
                        in);
    if ((st = itx_nn_session_run(c->cls, NULL, shape, 4, d))) {
        itx_diag_prefix(d, "orientation classifier");
        return st;
    }
    out = itx_nn_session_output(c->cls, 0, shape, &rank);
    if (rank != 2 || shape[0] != 1 || shape[1] != 2)
        return itx_diag_set(d, ITX_ERR_MODEL, "orientation classifier output is not 1x2");
    if (out[1] > out[0] && out[1] > o->cls_thresh)
        itx_ocr_rgb_rotate180(k->px, k->w, k->h, (size_t)k->w * 3);
    return ITX_OK;
}

/* Recognises crops b[0..n) in one batch at tensor width rw. */
static enum itx_status
recognise(struct itx_ocr_ctx *c, struct crop **b, size_t n, int rw, const struct itx_ocr_opts *o,
          struct itx_diag *d)
{
    int64_t shape[ITX_NN_MAX_DIMS] = {(int64_t)n, 3, ITX_OCR_REC_HEIGHT, rw};
    size_t item = 3 * ITX_OCR_REC_HEIGHT * (size_t)rw, steps, classes;
    int rank;
    const float *out;
    float *in;
    enum itx_status st;

    if ((st = itx_nn_session_prepare(c->rec, shape, 4, &in, d))) {
        itx_diag_prefix(d, "text recognizer");
        return st;
    }
    for (size_t k = 0; k < n; k++)
        itx_ocr_line_tensor(b[k]->px, b[k]->w, b[k]->h, (size_t)b[k]->w * 3, rw, ITX_OCR_REC_HEIGHT,
                            in + k * item);
    if ((st = itx_nn_session_run(c->rec, NULL, shape, 4, d))) {
        itx_diag_prefix(d, "text recognizer");
        return st;
    }
    out = itx_nn_session_output(c->rec, 0, shape, &rank);
    if (rank != 3 || shape[0] != (int64_t)n || shape[1] < 1 || shape[2] < 1)
        return itx_diag_set(d, ITX_ERR_MODEL, "text recognizer output is not %zu x steps x classes",
                            n);
    steps = (size_t)shape[1];
    classes = (size_t)shape[2];
    for (size_t k = 0; k < n; k++) {
        const float *p = out + k * steps * classes;
        if (o->price_sign && (st = fix_price_sign(c, p, steps, classes, &p, d)))
            return st;
        if ((st = itx_ocr_ctc_decode(p, steps, classes, c->e->dict, &b[k]->text, &b[k]->score, d)))
            return st;
    }
    return ITX_OK;
}

static int
cmp_ratio(const void *a, const void *b)
{
    const struct crop *x = *(struct crop *const *)a, *y = *(struct crop *const *)b;
    return x->ratio < y->ratio ? -1 : x->ratio > y->ratio;
}

/*
 * Classifies and recognises every crop: sorted by aspect ratio, in batches of
 * o->rec_batch, each at the smallest bucket width that holds PaddleOCR's width for its
 * widest crop, or at exactly that width with o->rec_exact_width.
 */
static enum itx_status
read_lines(struct itx_ocr_ctx *c, struct crop *crops, size_t n, const struct itx_ocr_opts *o,
           struct itx_ocr_result *r, struct itx_diag *d)
{
    struct crop **order = NULL;
    size_t m = 0;
    enum itx_status st = ITX_OK;
    double t0 = itx_now_ms(), t1;

    if (!n)
        return ITX_OK;
    order = itx_malloc_array(n, sizeof(*order));
    if (!order)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu lines", n);
    for (size_t i = 0; i < n; i++) {
        if (!crops[i].px)
            continue;
        if (o->use_cls && (st = classify(c, &crops[i], o, d)))
            goto out;
        order[m++] = &crops[i];
    }
    t1 = itx_now_ms();
    r->cls_ms += t1 - t0;
    qsort(order, m, sizeof(*order), cmp_ratio);
    for (size_t i = 0; i < m; i += (size_t)o->rec_batch) {
        size_t nb = m - i < (size_t)o->rec_batch ? m - i : (size_t)o->rec_batch;
        int rw = 0;
        for (size_t k = i; k < i + nb; k++) {
            int w = o->rec_exact_width
                        ? itx_ocr_rec_batch_width(order[k]->ratio, ITX_OCR_REC_MAX_EXACT_WIDTH)
                        : rec_width(order[k]->w, order[k]->h);
            rw = w > rw ? w : rw;
        }
        if ((st = recognise(c, order + i, nb, rw, o, d)))
            goto out;
    }
    r->rec_ms += itx_now_ms() - t1;
out:
    itx_free(order);
    return st;
}

void
itx_ocr_result_free(struct itx_ocr_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_lines; i++)
        itx_free(r->lines[i].text);
    itx_free(r->lines);
    itx_free(r);
}

enum itx_status
itx_ocr_run(struct itx_ocr_ctx *c, const struct itx_image *img, const struct itx_ocr_opts *o,
            struct itx_ocr_result **out, struct itx_diag *d)
{
    struct itx_ocr_opts def;
    struct itx_ocr_result *r = NULL;
    struct itx_ocr_quad *q = NULL;
    size_t n = 0, cap = 0, *slice_of = NULL;
    struct itx_ocr_slice *slices = NULL;
    size_t n_slices = 1;
    struct crop *crops = NULL;
    enum itx_status st;
    double t0;

    if (!o) {
        itx_ocr_opts_default(&def);
        o = &def;
    }
    if ((st = check_opts(o, d)))
        return st;
    if (img->channels != 3 || img->w < 1 || img->h < 1 || img->stride < (size_t)img->w * 3)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "OCR needs a 3-channel picture, got %dx%d with %d channels", img->w,
                            img->h, img->channels);
    r = itx_calloc(1, sizeof(*r));
    if (!r)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for an OCR result");
    r->width = img->w;
    r->height = img->h;

    /*
     * Tall pictures are detected in overlapping slices at full resolution. The slice height
     * follows the width (at least 640 rows, so big headlines fit in the overlap, at most
     * the limit side), so a 790-wide detail strip is cut into 790x790 squares, which the
     * detector sees at 800x800 like an ordinary product picture.
     */
    t0 = itx_now_ms();
    if (o->tall_ratio > 0 && (double)img->h > o->tall_ratio * img->w) {
        int side = img->w < 640 ? 640 : img->w;
        if (side > o->limit_side)
            side = o->limit_side;
        n_slices = itx_ocr_slices_plan(img->w, img->h, side, o->tall_ratio, NULL, 0);
        slices = itx_malloc_array(n_slices, sizeof(*slices));
        if (!slices) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu slices", n_slices);
            goto out;
        }
        itx_ocr_slices_plan(img->w, img->h, side, o->tall_ratio, slices, n_slices);
        for (size_t i = 0; i < n_slices; i++)
            if ((st = detect_slice(c, img, slices[i].y, slices[i].h, o, &q, &n, &cap, &slice_of, i,
                                   d)))
                goto out;
        if ((st = itx_ocr_quads_merge(q, n, slice_of, slices, n_slices, &n, d)))
            goto out;
    } else if ((st = detect_slice(c, img, 0, img->h, o, &q, &n, &cap, &slice_of, 0, d))) {
        goto out;
    }
    r->n_slices = (int)n_slices;
    r->n_detected = n;
    itx_ocr_quads_sort(q, n);
    r->det_ms = itx_now_ms() - t0;

    if (n) {
        r->lines = itx_calloc(n, sizeof(*r->lines));
        if (!r->lines) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu lines", n);
            goto out;
        }
    }
    if (n) {
        crops = itx_calloc(n, sizeof(*crops));
        if (!crops) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu lines", n);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct itx_diag cd;
        struct crop *k = &crops[i];

        itx_diag_init(&cd);
        st = itx_ocr_crop_quad(img->px, img->w, img->h, img->stride, q[i].pt, 0, &k->px, &k->w,
                               &k->h, &k->rotated, &cd);
        if (st == ITX_ERR_INVALID || st == ITX_ERR_TOO_LARGE) {
            k->px = NULL; /* an empty or huge crop: no readable line there */
            continue;
        }
        if (st) {
            itx_diag_set(d, st, "%s", cd.msg);
            goto out;
        }
        k->ratio = (double)k->w / k->h;
    }
    if ((st = read_lines(c, crops, n, o, r, d)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct crop *k = &crops[i];
        if (!k->text || !(k->score >= o->drop_score) || !k->text[0])
            continue;
        struct itx_ocr_line *l = &r->lines[r->n_lines++];
        memcpy(l->box, q[i].pt, sizeof(l->box));
        l->text = k->text;
        k->text = NULL;
        l->score = k->score;
        l->det_score = q[i].score;
        l->flags = itx_ocr_text_flags(l->text) | (k->rotated ? (unsigned)ITX_OCR_VERTICAL : 0u);
    }
    *out = r;
    r = NULL;
    st = ITX_OK;
out:
    for (size_t i = 0; crops && i < n; i++) {
        itx_free(crops[i].px);
        itx_free(crops[i].text);
    }
    itx_free(crops);
    itx_free(q);
    itx_free(slice_of);
    itx_free(slices);
    itx_ocr_result_free(r);
    return st;
}

/* ---- warm-up ---------------------------------------------------------------------------- */

/* Plans a session for a 1x3xHxW shape and, when run is set, runs it once on zeros. */
static enum itx_status
warm(struct itx_nn_session *s, const int64_t shape[4], bool run, struct itx_diag *d)
{
    float *in;
    enum itx_status st;

    if ((st = itx_nn_session_prepare(s, shape, 4, &in, d)) || !run)
        return st;
    memset(in, 0, 3 * (size_t)shape[2] * (size_t)shape[3] * sizeof(float));
    return itx_nn_session_run(s, NULL, shape, 4, d);
}

enum itx_status
itx_ocr_ctx_warmup(struct itx_ocr_ctx *c, const struct itx_ocr_opts *o, struct itx_diag *d)
{
    struct itx_ocr_opts def;
    int64_t shape[4] = {1, 3, 0, 0};
    enum itx_status st;
    int lim, n_det = 0, cand[8][2];

    if (!o) {
        itx_ocr_opts_default(&def);
        o = &def;
    }
    if ((st = check_opts(o, d)))
        return st;
    /*
     * Most common shapes first: square pictures at the limit (1000x1000 and larger) and at
     * 800 (800x800, 750x750, detail-strip slices), then 3:4 and 4:3 pictures. The last one
     * warmed stays the most recently used, so warm in reverse order of importance.
     */
    lim = det_bucket(o->limit_side);
    int mid = det_bucket(o->limit_side * 5 / 6);
    int small = det_bucket(o->limit_side * 2 / 3);
    int list[8][2] = {{lim, lim},     {mid, mid},   {mid, lim},   {lim, mid},
                      {small, small}, {small, lim}, {lim, small}, {small, mid}};
    for (int i = 0; i < 8 && n_det < c->e->o.det_max_plans; i++) {
        bool dup = false;
        for (int k = 0; k < n_det; k++)
            dup |= cand[k][0] == list[i][0] && cand[k][1] == list[i][1];
        if (!dup) {
            cand[n_det][0] = list[i][0];
            cand[n_det][1] = list[i][1];
            n_det++;
        }
    }
    /* The detector runs once at the largest shape, which touches all of the arena; the
     * other shapes are planned only (a plan is ready to run once built). */
    for (int i = n_det - 1; i >= 0; i--) {
        shape[2] = cand[i][1];
        shape[3] = cand[i][0];
        if ((st = warm(c->det, shape, i == 0, d))) {
            itx_diag_prefix(d, "text detector warm-up");
            return st;
        }
    }
    int n_rec = c->e->o.rec_max_plans < ITX_OCR_N_REC_BUCKETS ? c->e->o.rec_max_plans
                                                              : ITX_OCR_N_REC_BUCKETS;
    for (int i = n_rec - 1; i >= 0; i--) {
        shape[2] = ITX_OCR_REC_HEIGHT;
        shape[3] = rec_buckets[i];
        if ((st = warm(c->rec, shape, i == 0, d))) {
            itx_diag_prefix(d, "text recognizer warm-up");
            return st;
        }
    }
    if (o->use_cls) {
        shape[2] = ITX_OCR_CLS_HEIGHT;
        shape[3] = ITX_OCR_CLS_WIDTH;
        if ((st = warm(c->cls, shape, true, d))) {
            itx_diag_prefix(d, "orientation classifier warm-up");
            return st;
        }
    }
    return ITX_OK;
}
