/*
 * The ONNX loader and the planner on malformed, hostile and mismatched input: every case
 * must end in a clear error (status and message), never a crash or a huge allocation.
 * Models are written here with a tiny protobuf encoder.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "nn/nn.h"

static void
pb_varint(struct itx_buf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        itx_buf_putc(b, (char)c);
    } while (v);
}

static void
pb_key(struct itx_buf *b, unsigned field, unsigned wt)
{
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void
pb_bytes(struct itx_buf *b, unsigned field, const void *p, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    itx_buf_append(b, p, n);
}

static void
pb_str(struct itx_buf *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

static void
pb_int(struct itx_buf *b, unsigned field, int64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

static void
pb_msg(struct itx_buf *b, unsigned field, struct itx_buf *m)
{
    pb_bytes(b, field, m->data ? m->data : "", m->len);
    itx_buf_release(m);
}

/* A float tensor (dims, raw data of n floats = value). */
static void
tensor(struct itx_buf *t, const char *name, const int64_t *dims, int rank, size_t n, float value)
{
    itx_buf_init(t, 1 << 24);
    for (int i = 0; i < rank; i++)
        pb_int(t, 1, dims[i]);
    pb_int(t, 2, 1);
    if (name)
        pb_str(t, 8, name);
    float *raw = calloc(n ? n : 1, sizeof(float));
    for (size_t i = 0; i < n; i++)
        raw[i] = value;
    pb_bytes(t, 9, raw, n * sizeof(float));
    free(raw);
}

static void
value_info(struct itx_buf *g, unsigned field, const char *name, const int64_t *dims, int rank)
{
    struct itx_buf vi, ty, tt, sh;
    itx_buf_init(&vi, 1 << 20);
    itx_buf_init(&ty, 1 << 20);
    itx_buf_init(&tt, 1 << 20);
    itx_buf_init(&sh, 1 << 20);
    for (int i = 0; i < rank; i++) {
        struct itx_buf dim;
        itx_buf_init(&dim, 64);
        if (dims[i] > 0)
            pb_int(&dim, 1, dims[i]);
        else
            pb_str(&dim, 2, "dyn");
        pb_msg(&sh, 1, &dim);
    }
    pb_int(&tt, 1, 1);
    pb_msg(&tt, 2, &sh);
    pb_msg(&ty, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &ty);
    pb_msg(g, field, &vi);
}

/* node with op type, inputs and one output */
static void
node(struct itx_buf *g, const char *op, const char *const *ins, int n_in, const char *out)
{
    struct itx_buf nd;
    itx_buf_init(&nd, 1 << 20);
    for (int i = 0; i < n_in; i++)
        pb_str(&nd, 1, ins[i]);
    pb_str(&nd, 2, out);
    pb_str(&nd, 3, out);
    pb_str(&nd, 4, op);
    pb_msg(g, 1, &nd);
}

static void
model(struct itx_buf *out, struct itx_buf *graph, int opset)
{
    struct itx_buf os;
    itx_buf_init(out, 1 << 24);
    itx_buf_init(&os, 64);
    pb_int(out, 1, 8);
    pb_msg(out, 7, graph);
    pb_int(&os, 2, opset);
    pb_msg(out, 8, &os);
}

static enum itx_status
load(struct itx_buf *m, struct itx_diag *d)
{
    struct itx_nn_model *nm = NULL;
    struct itx_nn_limits lim;
    enum itx_status s;
    itx_nn_limits_default(&lim);
    lim.max_tensor_elems = (size_t)1 << 24;
    itx_diag_init(d);
    s = itx_nn_model_load_buffer((const uint8_t *)(m->data ? m->data : ""), m->len, "t.onnx", &lim,
                                 &nm, d);
    itx_nn_model_free(nm);
    return s;
}

static void
expect_model_error(struct itx_buf *m, const char *needle)
{
    struct itx_diag d;
    enum itx_status s = load(m, &d);
    CHECK_MSG(s == ITX_ERR_MODEL || s == ITX_ERR_TOO_LARGE, "status %d for '%s'", (int)s, needle);
    CHECK_MSG(strstr(d.msg, needle) != NULL, "message '%s' lacks '%s'", d.msg, needle);
    CHECK_MSG(strstr(d.msg, "t.onnx") != NULL, "message '%s' lacks the file name", d.msg);
}

static const int64_t in_dims[4] = {1, 2, -1, -1};

/* x -> Relu -> y, plus whatever the caller adds first */
static void
simple_graph(struct itx_buf *g)
{
    static const char *const x[] = {"x"};
    itx_buf_init(g, 1 << 24);
    node(g, "Relu", x, 1, "y");
    value_info(g, 11, "x", in_dims, 4);
    value_info(g, 12, "y", in_dims, 4);
}

static void
test_malformed(void)
{
    struct itx_buf m, g;
    struct itx_diag d;
    uint8_t junk[4096];

    itx_buf_init(&m, 16);
    expect_model_error(&m, "no graph");
    itx_buf_release(&m);

    /* random bytes: any clean error */
    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(junk));
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand();
        itx_buf_init(&m, sizeof(junk));
        itx_buf_append(&m, junk, n);
        CHECK(load(&m, &d) != ITX_OK);
        itx_buf_release(&m);
    }

    /* a valid model, then every truncation of it */
    simple_graph(&g);
    model(&m, &g, 11);
    CHECK(load(&m, &d) == ITX_OK);
    for (size_t cut = 0; cut + 1 < m.len; cut++) {
        struct itx_buf t;
        itx_buf_init(&t, m.len);
        itx_buf_append(&t, m.data, cut);
        enum itx_status s = load(&t, &d);
        CHECK_MSG(s != ITX_OK || cut == 0, "truncated at %zu loaded", cut);
        itx_buf_release(&t);
    }
    itx_buf_release(&m);
}

static void
test_hostile(void)
{
    struct itx_buf m, g, t, nd;
    static const char *const xw[] = {"x", "w"};
    static const char *const x[] = {"x"};

    /* unsupported operator */
    itx_buf_init(&g, 1 << 20);
    node(&g, "LSTM", x, 1, "y");
    value_info(&g, 11, "x", in_dims, 4);
    value_info(&g, 12, "y", in_dims, 4);
    model(&m, &g, 11);
    expect_model_error(&m, "unsupported operator");
    itx_buf_release(&m);

    /* huge dimension in a constant: refused before allocating */
    {
        int64_t dims[2] = {(int64_t)1 << 40, (int64_t)1 << 20};
        itx_buf_init(&g, 1 << 20);
        tensor(&t, "w", dims, 2, 0, 0);
        pb_msg(&g, 5, &t);
        node(&g, "Add", xw, 2, "y");
        value_info(&g, 11, "x", in_dims, 4);
        value_info(&g, 12, "y", in_dims, 4);
        model(&m, &g, 11);
        expect_model_error(&m, "elements");
        itx_buf_release(&m);
    }
    /* negative dimension */
    {
        int64_t dims[1] = {-5};
        itx_buf_init(&g, 1 << 20);
        tensor(&t, "w", dims, 1, 0, 0);
        pb_msg(&g, 5, &t);
        node(&g, "Add", xw, 2, "y");
        value_info(&g, 11, "x", in_dims, 4);
        value_info(&g, 12, "y", in_dims, 4);
        model(&m, &g, 11);
        expect_model_error(&m, "negative dimension");
        itx_buf_release(&m);
    }
    /* raw data shorter than the dims say */
    {
        int64_t dims[1] = {100};
        itx_buf_init(&g, 1 << 20);
        tensor(&t, "w", dims, 1, 10, 1.0f);
        pb_msg(&g, 5, &t);
        node(&g, "Add", xw, 2, "y");
        value_info(&g, 11, "x", in_dims, 4);
        value_info(&g, 12, "y", in_dims, 4);
        model(&m, &g, 11);
        expect_model_error(&m, "does not match");
        itx_buf_release(&m);
    }
    /* missing initializer */
    itx_buf_init(&g, 1 << 20);
    node(&g, "Conv", xw, 2, "y");
    value_info(&g, 11, "x", in_dims, 4);
    value_info(&g, 12, "y", in_dims, 4);
    model(&m, &g, 11);
    expect_model_error(&m, "not defined before use");
    itx_buf_release(&m);

    /* a cycle: a = Relu(b), b = Relu(a) */
    {
        static const char *const b[] = {"b"}, *const a[] = {"a"};
        itx_buf_init(&g, 1 << 20);
        node(&g, "Relu", b, 1, "a");
        node(&g, "Relu", a, 1, "b");
        value_info(&g, 11, "x", in_dims, 4);
        value_info(&g, 12, "b", in_dims, 4);
        model(&m, &g, 11);
        expect_model_error(&m, "not defined before use");
        itx_buf_release(&m);
    }
    /* an output defined twice */
    itx_buf_init(&g, 1 << 20);
    node(&g, "Relu", x, 1, "y");
    node(&g, "Relu", x, 1, "y");
    value_info(&g, 11, "x", in_dims, 4);
    value_info(&g, 12, "y", in_dims, 4);
    model(&m, &g, 11);
    expect_model_error(&m, "defined twice");
    itx_buf_release(&m);

    /* unsupported opset */
    simple_graph(&g);
    model(&m, &g, 99);
    expect_model_error(&m, "opset 99");
    itx_buf_release(&m);

    /* a node from another domain */
    itx_buf_init(&g, 1 << 20);
    itx_buf_init(&nd, 1 << 10);
    pb_str(&nd, 1, "x");
    pb_str(&nd, 2, "y");
    pb_str(&nd, 4, "Relu");
    pb_str(&nd, 7, "com.microsoft");
    pb_msg(&g, 1, &nd);
    value_info(&g, 11, "x", in_dims, 4);
    value_info(&g, 12, "y", in_dims, 4);
    model(&m, &g, 11);
    expect_model_error(&m, "domain");
    itx_buf_release(&m);
}

static void
test_real_models(void)
{
    char path[4096];
    struct itx_nn_model *m = NULL;
    struct itx_nn_session *s = NULL;
    struct itx_diag d;
    float *x;

    snprintf(path, sizeof(path), "%s/ch_PP-OCRv4_det_infer.onnx", itx_models_dir());
    itx_diag_init(&d);
    CHECK_MSG(itx_nn_model_load(path, NULL, &m, &d) == ITX_OK, "%s", d.msg);
    if (!m)
        return;
    CHECK(itx_nn_model_n_outputs(m) == 1);
    CHECK(itx_nn_model_input_rank(m) == 4);
    CHECK(itx_nn_session_new(m, NULL, &s, &d) == ITX_OK);
    x = calloc(4 * 64 * 64, sizeof(float));
    {
        /* 4 channels: the first convolution wants 3 */
        int64_t shape[4] = {1, 4, 64, 64};
        CHECK(itx_nn_session_run(s, x, shape, 4, &d) == ITX_ERR_INVALID);
        CHECK_MSG(strstr(d.msg, "dimension 1 must be 3") != NULL, "%s", d.msg);
    }
    {
        /* wrong rank */
        int64_t shape[3] = {3, 64, 64};
        CHECK(itx_nn_session_run(s, x, shape, 3, &d) == ITX_ERR_INVALID);
        CHECK_MSG(strstr(d.msg, "rank-4") != NULL, "%s", d.msg);
    }
    {
        /* not a multiple of 32: the feature pyramid's shapes stop matching */
        int64_t shape[4] = {1, 3, 40, 40};
        enum itx_status st = itx_nn_session_run(s, x, shape, 4, &d);
        CHECK_MSG(st == ITX_ERR_INVALID, "status %d: %s", (int)st, d.msg);
        CHECK_MSG(strstr(d.msg, "do not broadcast") != NULL && strstr(d.msg, "node '") != NULL,
                  "%s", d.msg);
    }
    {
        /* a plan that would be over the arena limit is refused */
        int64_t shape[4] = {1, 3, 64, 64};
        CHECK(itx_nn_session_run(s, x, shape, 4, &d) == ITX_OK);
        int64_t oshape[8];
        int rank = 0;
        const float *y = itx_nn_session_output(s, 0, oshape, &rank);
        CHECK(y != NULL && rank == 4 && oshape[1] == 1 && oshape[2] == 64 && oshape[3] == 64);
        /* The hot path allocates nothing: with every allocation failing, a run of a planned
         * shape still succeeds, and the heap in use is the same before and after runs. */
        struct mallinfo2 before = mallinfo2();
        itx_alloc_fail_at(1, true);
        for (int r = 0; r < 3; r++)
            CHECK(itx_nn_session_run(s, x, shape, 4, &d) == ITX_OK);
        CHECK(!itx_alloc_injected());
        itx_alloc_fail_at(0, false);
        struct mallinfo2 after = mallinfo2();
        CHECK_MSG(before.uordblks == after.uordblks, "heap in use %zu -> %zu", before.uordblks,
                  after.uordblks);
    }
    itx_nn_session_free(s);
    s = NULL;
    /* One session, several shapes: the shared arena grows and older plans are rebased; every
     * run must equal a fresh session's. */
    {
        static const int64_t sizes[][2] = {{32, 32}, {96, 64}, {32, 32}, {64, 96}, {96, 64}};
        struct itx_nn_session *fresh = NULL;
        float *pat = malloc(sizeof(float) * 3 * 96 * 96);
        for (int i = 0; i < 3 * 96 * 96; i++)
            pat[i] = (float)((i * 7919) % 255) / 128.0f - 1.0f;
        CHECK(itx_nn_session_new(m, NULL, &s, &d) == ITX_OK);
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            int64_t shape[4] = {1, 3, sizes[k][0], sizes[k][1]}, os1[8], os2[8];
            int r1 = 0, r2 = 0;
            CHECK(itx_nn_session_new(m, NULL, &fresh, &d) == ITX_OK);
            CHECK(itx_nn_session_run(s, pat, shape, 4, &d) == ITX_OK);
            CHECK(itx_nn_session_run(fresh, pat, shape, 4, &d) == ITX_OK);
            const float *y1 = itx_nn_session_output(s, 0, os1, &r1);
            const float *y2 = itx_nn_session_output(fresh, 0, os2, &r2);
            CHECK(y1 && y2 && r1 == 4 && r2 == 4 && os1[2] == sizes[k][0] && os1[3] == sizes[k][1]);
            if (y1 && y2)
                CHECK_MSG(memcmp(y1, y2, sizeof(float) * (size_t)(sizes[k][0] * sizes[k][1])) == 0,
                          "shape %lldx%lld differs after other shapes", (long long)sizes[k][0],
                          (long long)sizes[k][1]);
            itx_nn_session_free(fresh);
            fresh = NULL;
        }
        free(pat);
        itx_nn_session_free(s);
        s = NULL;
    }
    {
        struct itx_nn_limits lim;
        itx_nn_limits_default(&lim);
        lim.max_arena_bytes = 1 << 20;
        itx_nn_model_free(m);
        m = NULL;
        CHECK(itx_nn_model_load(path, &lim, &m, &d) == ITX_OK);
        CHECK(itx_nn_session_new(m, NULL, &s, &d) == ITX_OK);
        int64_t shape[4] = {1, 3, 256, 256};
        CHECK(itx_nn_session_run(s, x, shape, 4, &d) == ITX_ERR_TOO_LARGE);
        CHECK_MSG(strstr(d.msg, "byte limit") != NULL, "%s", d.msg);
    }
    free(x);
    itx_nn_session_free(s);
    itx_nn_model_free(m);

    /* a file over the size limit */
    {
        struct itx_nn_limits lim;
        itx_nn_limits_default(&lim);
        lim.max_file_size = 1000;
        CHECK(itx_nn_model_load(path, &lim, &m, &d) == ITX_ERR_TOO_LARGE);
        CHECK(itx_nn_model_load("/nonexistent.onnx", NULL, &m, &d) == ITX_ERR_NOT_FOUND);
    }
}

/* Runs s on x with shape 1x3xHxW and copies output 0 into a new array (*n floats). */
static float *
run_copy(struct itx_nn_session *s, const float *x, int64_t h, int64_t w, size_t *n)
{
    int64_t shape[4] = {1, 3, h, w}, os[8];
    int rank = 0;
    struct itx_diag d;
    const float *y;
    float *out;

    itx_diag_init(&d);
    if (itx_nn_session_run(s, x, shape, 4, &d) != ITX_OK)
        return NULL;
    y = itx_nn_session_output(s, 0, os, &rank);
    *n = 1;
    for (int i = 0; i < rank; i++)
        *n *= (size_t)os[i];
    out = malloc(*n * sizeof(float));
    memcpy(out, y, *n * sizeof(float));
    return out;
}

/*
 * Sessions of two models sharing one arena (as an OCR context's do), interleaved: every
 * output equals that of a session with an arena of its own, and the arena holds the larger
 * plan, not the sum. Inputs written in place (itx_nn_session_prepare) give the same
 * outputs, and a failed growth of the shared arena leaves both sessions usable.
 */
static void
test_shared_arena(void)
{
    char det_path[4096], cls_path[4096];
    struct itx_nn_model *det = NULL, *cls = NULL;
    struct itx_nn_session *ds = NULL, *cs = NULL, *alone = NULL;
    struct itx_nn_session_opts so;
    struct itx_nn_arena *a = NULL;
    struct itx_diag d;
    float *pat = malloc(sizeof(float) * 3 * 96 * 192);
    float *ref_det = NULL, *ref_det2 = NULL, *ref_cls = NULL;
    size_t n_det = 0, n_det2 = 0, n_cls = 0, det_bytes = 0, cls_bytes = 0;

    for (int i = 0; i < 3 * 96 * 192; i++)
        pat[i] = (float)((i * 7919) % 255) / 128.0f - 1.0f;
    snprintf(det_path, sizeof(det_path), "%s/ch_PP-OCRv4_det_infer.onnx", itx_models_dir());
    snprintf(cls_path, sizeof(cls_path), "%s/ch_ppocr_mobile_v2.0_cls_infer.onnx",
             itx_models_dir());
    itx_diag_init(&d);
    CHECK_MSG(itx_nn_model_load(det_path, NULL, &det, &d) == ITX_OK, "%s", d.msg);
    CHECK_MSG(itx_nn_model_load(cls_path, NULL, &cls, &d) == ITX_OK, "%s", d.msg);
    if (!det || !cls)
        goto out;

    /* References: each model in a session of its own. */
    CHECK(itx_nn_session_new(det, NULL, &alone, &d) == ITX_OK);
    ref_det = run_copy(alone, pat, 64, 96, &n_det);
    det_bytes = itx_nn_session_arena_bytes(alone);
    ref_det2 = run_copy(alone, pat, 96, 64, &n_det2);
    if (itx_nn_session_arena_bytes(alone) > det_bytes)
        det_bytes = itx_nn_session_arena_bytes(alone);
    itx_nn_session_free(alone);
    CHECK(itx_nn_session_new(cls, NULL, &alone, &d) == ITX_OK);
    ref_cls = run_copy(alone, pat, 48, 192, &n_cls);
    cls_bytes = itx_nn_session_arena_bytes(alone);
    itx_nn_session_free(alone);
    CHECK(ref_det && ref_det2 && ref_cls && det_bytes > 0 && cls_bytes > 0);
    if (!ref_det || !ref_det2 || !ref_cls)
        goto out;

    CHECK(itx_nn_arena_new(&a, &d) == ITX_OK);
    CHECK(itx_nn_arena_bytes(a) == 0);
    itx_nn_session_opts_default(&so);
    so.arena = a;
    CHECK(itx_nn_session_new(cls, &so, &cs, &d) == ITX_OK);
    CHECK(itx_nn_session_new(det, &so, &ds, &d) == ITX_OK);
    itx_nn_arena_free(a); /* the sessions hold their own references */
    for (int round = 0; round < 2; round++) {
        size_t n = 0;
        float *y = run_copy(cs, pat, 48, 192, &n);
        CHECK(y && n == n_cls && memcmp(y, ref_cls, n * sizeof(float)) == 0);
        free(y);
        y = run_copy(ds, pat, 64, 96, &n);
        CHECK(y && n == n_det && memcmp(y, ref_det, n * sizeof(float)) == 0);
        free(y);
        y = run_copy(ds, pat, 96, 64, &n);
        CHECK(y && n == n_det2 && memcmp(y, ref_det2, n * sizeof(float)) == 0);
        free(y);
    }
    CHECK_MSG(itx_nn_arena_bytes(a) == (det_bytes > cls_bytes ? det_bytes : cls_bytes),
              "shared arena %zu bytes, detector alone %zu, classifier alone %zu",
              itx_nn_arena_bytes(a), det_bytes, cls_bytes);

    /* The input written in place. */
    {
        int64_t shape[4] = {1, 3, 48, 192}, os[8];
        int rank = 0;
        float *in = NULL;
        CHECK(itx_nn_session_prepare(cs, shape, 4, &in, &d) == ITX_OK);
        if (in) {
            memcpy(in, pat, sizeof(float) * 3 * 48 * 192);
            CHECK(itx_nn_session_run(cs, NULL, shape, 4, &d) == ITX_OK);
            const float *y = itx_nn_session_output(cs, 0, os, &rank);
            CHECK(y && memcmp(y, ref_cls, n_cls * sizeof(float)) == 0);
        }
    }

    /* A larger detector shape whose arena cannot be had: a clean error, then both sessions
     * still run (the arena is allocated again at the size each plan needs). */
    {
        int64_t shape[4] = {1, 3, 160, 160};
        float *big = calloc(3 * 160 * 160, sizeof(float));
        enum itx_status st = ITX_OK;
        unsigned long k = 1;
        for (; k < 100000; k++) {
            itx_alloc_fail_at(k, true);
            st = itx_nn_session_run(ds, big, shape, 4, &d);
            bool fired = itx_alloc_injected();
            itx_alloc_fail_at(0, false);
            if (st == ITX_OK) {
                CHECK(!fired);
                break;
            }
            CHECK_MSG(st == ITX_ERR_NOMEM, "allocation %lu: status %d (%s)", k, (int)st, d.msg);
            size_t n = 0;
            float *y = run_copy(cs, pat, 48, 192, &n);
            CHECK_MSG(y && memcmp(y, ref_cls, n_cls * sizeof(float)) == 0,
                      "classifier after failure %lu", k);
            free(y);
            if (!y)
                break;
        }
        CHECK(st == ITX_OK);
        CHECK_MSG(k > 20, "planning made only %lu allocations", k - 1);
        free(big);
        size_t n = 0;
        float *y = run_copy(ds, pat, 64, 96, &n);
        CHECK(y && memcmp(y, ref_det, n_det * sizeof(float)) == 0);
        free(y);
    }
out:
    free(pat);
    free(ref_det);
    free(ref_det2);
    free(ref_cls);
    itx_nn_session_free(ds);
    itx_nn_session_free(cs);
    itx_nn_model_free(det);
    itx_nn_model_free(cls);
}

/* Allocation failure at every point of a small load: clean errors, no leaks (ASan). */
static void
test_alloc_failures(void)
{
    struct itx_buf m, g;
    struct itx_diag d;
    simple_graph(&g);
    model(&m, &g, 11);
    for (unsigned long n = 1; n < 200; n++) {
        struct itx_nn_model *nm = NULL;
        itx_diag_init(&d);
        itx_alloc_fail_at(n, true);
        enum itx_status s =
            itx_nn_model_load_buffer((const uint8_t *)m.data, m.len, "t.onnx", NULL, &nm, &d);
        bool fired = itx_alloc_injected();
        itx_alloc_fail_at(0, false);
        if (s == ITX_OK) {
            itx_nn_model_free(nm);
            CHECK(!fired);
            break;
        }
        CHECK_MSG(s == ITX_ERR_NOMEM, "allocation %lu: status %d (%s)", n, (int)s, d.msg);
    }
    itx_buf_release(&m);
}

int
main(void)
{
    test_malformed();
    test_hostile();
    test_real_models();
    test_shared_arena();
    test_alloc_failures();
    return check_summary();
}
