/*
 * Allocation-failure driver (SQLite-style out-of-memory testing across modules): each
 * operation below runs once per allocation N = 1, 2, 3, ... with allocation N failing
 * (first alone, then sticky: N and every later one), until a run completes without
 * reaching N. Every run must end in a clean way: ITX_OK when the failure was absorbed (a
 * fallback, a skipped cache write) or an error with a message, never a crash; under the
 * asan preset LeakSanitizer checks at exit that nothing leaked on any of the paths. The
 * pipeline has no such fallback, so a pipeline run may not absorb a failure.
 *
 * Operations (argv[1], or all):
 *   pipeline   itx_pipeline_run of one synthetic product picture (decode, OCR, dictionary
 *              translation, erase, render, read-back QA, encode) with a warm pipeline
 *   load       itx_pipeline_new + itx_pipeline_ctx_new (models, key list, glossary, index)
 *   dict       a dictionary translation of shop phrases with a per-request glossary
 *   openai     an LLM translation against the fake OpenAI server (fallback on)
 *   gemini     the same against the fake Gemini server
 *   parse      the API request parser on a JSON body (base64 picture, glossary) and on a
 *              multipart body
 *   serve      one POST /v1/translate through the real server library (HTTP thread, parser,
 *              admission queue, worker, reply) into the real pipeline, over 127.0.0.1
 *
 * The default run is bounded: each operation is swept with a stride so that it takes at
 * most ITX_ALLOC_RUNS runs per mode (default 12). ITX_ALLOC_FULL=1 sweeps every N (the
 * figures in docs/hardening.md come from that). ITX_ALLOC_SHARD=k/m runs only the N with
 * N mod m = k (0 <= k < m), so m processes started with k = 0 .. m-1 share one full sweep;
 * each ends at its own first run that completes, so their failed and absorbed counts add
 * up to one unsharded sweep's and their runs to that plus m - 1. ITX_ALLOC_MODE=once or
 * sticky runs only that mode (default both).
 */
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "server/proc.h"
#include "server/server.h"
#include "translate/fake-llm.h"
#include "translate/translate.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    /* Process-lifetime caches of the font and codec libraries (not itx allocations). */
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libglib\nleak:libgobject\n"
           "leak:libx265\nleak:libheif\nleak:libdav1d\nleak:libde265\nleak:libaom\n"
           "leak:libgomp\nleak:libvips\n";
}

static bool verbose;                       /* ITX_ALLOC_VERBOSE=1: one line per run */
static unsigned long shard_k, shard_m = 1; /* ITX_ALLOC_SHARD=k/m */
static int mode_first, mode_last = 1;      /* ITX_ALLOC_MODE: 0 once, 1 sticky */
static uint8_t *picture;
static size_t picture_len;
static struct itx_pipeline *pipe_shared;
static struct itx_pipeline_ctx *pipe_ctx;
static struct fake_llm fake;
static char fake_base[128];

/* ---- the operations ------------------------------------------------------------------ */

/* Each returns the status of the operation; d holds the message when it failed. */

static enum itx_status
op_pipeline(struct itx_diag *d)
{
    struct itx_pipeline_source src = {.data = picture, .len = picture_len, .name = "p.png"};
    struct itx_pipeline_opts o;
    struct itx_pipeline_result r;
    enum itx_status s;

    itx_pipeline_opts_default(&o);
    o.target = "en";
    memset(&r, 0, sizeof(r));
    s = itx_pipeline_run(pipe_ctx, &src, &o, &r, d);
    if (s == ITX_OK) {
        json_t *j = r.regions_json ? json_loadb(r.regions_json, r.regions_len, 0, NULL) : NULL;
        if (!r.image || r.image_len == 0 || !j)
            s = itx_diag_set(d, ITX_ERR_INTERNAL, "pipeline succeeded with a damaged output");
        json_decref(j);
        itx_pipeline_result_release(&r);
    }
    return s;
}

static enum itx_status
op_load(struct itx_diag *d)
{
    struct itx_pipeline_config cfg = {.tr = {.provider = ITX_TR_DICT}, .ocr_threads = 1};
    struct itx_pipeline *p = NULL;
    struct itx_pipeline_ctx *c = NULL;
    enum itx_status s = itx_pipeline_new(&cfg, &p, d);
    if (s == ITX_OK)
        s = itx_pipeline_ctx_new(p, &c, d);
    itx_pipeline_ctx_free(c);
    itx_pipeline_free(p);
    return s;
}

static const struct itx_tr_segment segs[] = {
    {1, "包邮"},  {2, "满199减30 纯棉T恤"}, {3, "Nike 运动鞋 男款"},        {4, "质量很好"},
    {5, "¥39.9"}, {6, "加厚保暖 防风防水"}, {7, "正品保证 七天无理由退换"},
};
#define N_SEGS (sizeof(segs) / sizeof(segs[0]))

static enum itx_status
translate_with(const struct itx_tr_config *cfg, struct itx_diag *d)
{
    struct itx_translator *t = NULL;
    struct itx_glossary *g = itx_glossary_new();
    struct itx_tr_request req = {.target = "en", .segments = segs, .n_segments = N_SEGS};
    struct itx_tr_result r[N_SEGS];
    enum itx_status s;

    if (!g)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the glossary");
    s = itx_glossary_add(g, "包邮", "free shipping", d);
    if (s == ITX_OK)
        s = itx_translator_new(cfg, &t, d);
    req.glossary = g;
    if (s == ITX_OK)
        s = itx_translate(t, &req, r, NULL, d);
    if (s == ITX_OK) {
        for (size_t i = 0; i < N_SEGS; i++)
            if (!r[i].text)
                s = itx_diag_set(d, ITX_ERR_INTERNAL, "segment %zu has no text", i);
        itx_tr_results_release(r, N_SEGS);
    }
    itx_translator_free(t);
    itx_glossary_free(g);
    return s;
}

static enum itx_status
op_dict(struct itx_diag *d)
{
    struct itx_tr_config cfg = {.provider = ITX_TR_DICT};
    return translate_with(&cfg, d);
}

static enum itx_status
op_llm(enum itx_tr_provider provider, struct itx_diag *d)
{
    struct itx_tr_config cfg = {.provider = provider,
                                .model = provider == ITX_TR_OPENAI ? "gpt-test" : "gemini-test",
                                .base_url = fake_base,
                                .api_key = "sk-test",
                                .max_attempts = 1,
                                .timeout_ms = 10000};
    return translate_with(&cfg, d);
}

static enum itx_status
op_openai(struct itx_diag *d)
{
    return op_llm(ITX_TR_OPENAI, d);
}

static enum itx_status
op_gemini(struct itx_diag *d)
{
    return op_llm(ITX_TR_GEMINI, d);
}

/* A 1x1 PNG, base64. */
static const char png_b64[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4"
                              "z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

static enum itx_status
op_parse(struct itx_diag *d)
{
    char json[1024], mp[2048];
    struct itx_api_limits lim = {.max_images = 16,
                                 .max_image_bytes = 1 << 20,
                                 .max_body_bytes = 1 << 20,
                                 .max_glossary = 100};
    struct itx_api_request *r = NULL;
    enum itx_status s;
    int n;

    snprintf(json, sizeof(json),
             "{\"images\":[{\"data\":\"%s\",\"name\":\"a.png\",\"group\":\"g1\"},"
             "{\"url\":\"https://example.com/b.jpg\"}],\"target_lang\":\"en\","
             "\"source_lang\":\"zh\",\"provider\":\"dict\",\"glossary\":[{\"source\":"
             "\"包邮\",\"target\":\"free shipping\"},{\"source\":\"Nike\",\"target\":null}],"
             "\"options\":{\"output_format\":\"png\",\"jpeg_quality\":80,\"qa\":false}}",
             png_b64);
    s = itx_api_parse_json(json, strlen(json), ITX_API_TRANSLATE, &lim, &r, d);
    itx_api_request_free(r);
    r = NULL;
    if (s != ITX_OK)
        return s;
    n = snprintf(mp, sizeof(mp),
                 "--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\n"
                 "Content-Type: application/json\r\n\r\n{\"target_lang\":\"en\"}\r\n"
                 "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                 "Content-Type: image/png\r\n\r\n");
    {
        uint8_t *png = NULL;
        size_t png_len = 0, bad;
        if (!itx_api_base64_decode(png_b64, strlen(png_b64), &png, &png_len, &bad))
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory decoding the test picture");
        memcpy(mp + n, png, png_len);
        n += (int)png_len;
        itx_free(png);
    }
    n += snprintf(mp + n, sizeof(mp) - (size_t)n, "\r\n--XyZ--\r\n");
    s = itx_api_parse_multipart(mp, (size_t)n, "multipart/form-data; boundary=XyZ",
                                ITX_API_TRANSLATE, &lim, &r, d);
    itx_api_request_free(r);
    return s;
}

/* ---- the server plug: /v1/translate runs the real pipeline on the first image ---------- */

struct plug_work {
    struct itx_server_work w; /* first member: the server's part */
    struct itx_api_request *req;
};

static enum itx_server_step
plug_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct plug_work *p = (struct plug_work *)w;
    struct itx_pipeline_source src = {0};
    struct itx_pipeline_opts o;
    struct itx_pipeline_result r;

    if (itx_cancel_requested(c))
        return ITX_SERVER_STEP_DONE;
    if (p->req->n_images == 0 || !p->req->images[0].data) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID, "this test server takes one uploaded picture");
        return ITX_SERVER_STEP_DONE;
    }
    src.data = p->req->images[0].data;
    src.len = p->req->images[0].size;
    src.name = "upload";
    itx_pipeline_opts_default(&o);
    o.target = p->req->target_lang;
    o.no_qa = !p->req->qa;
    memset(&r, 0, sizeof(r));
    /* One worker, so the one pipeline context is never shared. */
    if (itx_pipeline_run(pipe_ctx, &src, &o, &r, &w->diag) != ITX_OK)
        return ITX_SERVER_STEP_DONE;
    if (itx_buf_printf(&w->reply, "{\"regions\":%u,\"bytes\":%zu}", r.n_regions, r.image_len) !=
        ITX_OK)
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory for the reply");
    itx_pipeline_result_release(&r);
    return ITX_SERVER_STEP_DONE;
}

static void
plug_destroy(struct itx_server_work *w)
{
    struct plug_work *p = (struct plug_work *)w;
    itx_api_request_free(p->req);
    itx_free(p);
}

static enum itx_status
plug_translate(void *ud, struct itx_api_request *req, struct itx_server_work **out,
               struct itx_diag *d)
{
    struct plug_work *p = itx_calloc(1, sizeof(*p));
    (void)ud;
    if (!p) {
        itx_api_request_free(req);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the work item");
    }
    itx_server_work_init(&p->w, plug_run, plug_destroy);
    p->req = req;
    *out = &p->w;
    return ITX_OK;
}

static struct itx_server *server;
static char *serve_body;
static size_t serve_body_len;
static int serve_dropped, serve_5xx, serve_5xx_bare;

static enum itx_status
op_serve(struct itx_diag *d)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    struct resp r;
    enum itx_status s = ITX_OK;
    if (http(itx_server_port(server), "POST", "/v1/translate", hdr, serve_body, serve_body_len,
             &r) != 0) {
        /* The server closed the connection without an answer: counted, and the health
         * check after the run makes sure it still serves. */
        resp_free(&r); /* proc.c leaves empty strings even then */
        serve_dropped++;
        return itx_diag_set(d, ITX_ERR_IO, "connection closed without an answer");
    }
    if (r.status == 200) {
        if (!strstr(r.body, "\"regions\":"))
            s = itx_diag_set(d, ITX_ERR_INTERNAL, "200 without the reply: %s", r.body);
    } else if (r.status >= 500 && r.status <= 503 && strstr(r.body, "\"title\"")) {
        serve_5xx++;
        s = itx_diag_set(d, ITX_ERR_NOMEM, "HTTP %ld (problem document)", r.status);
    } else {
        /* Anything else is wrong: a 5xx that says nothing (the server builds even its
         * out-of-memory problem document without allocating), or a status that blames the
         * client or asks it to retry for what was the server's own memory. */
        if (r.status >= 500 && r.status <= 503)
            serve_5xx_bare++;
        CHECK_MSG(false, "serve: HTTP %ld without a 5xx problem document: %.200s", r.status,
                  r.body);
        s = itx_diag_set(d, ITX_ERR_INTERNAL, "unexpected HTTP %ld: %.200s", r.status, r.body);
    }
    resp_free(&r);
    return s;
}

/* ---- the sweep ------------------------------------------------------------------------ */

struct op {
    const char *name;
    enum itx_status (*fn)(struct itx_diag *d);
    bool nomem_only; /* failures must be ITX_ERR_NOMEM (not merely some clean error) */
    bool no_absorb;  /* no fallback: a run whose allocation failed must not end in ITX_OK */
};

static unsigned long
count_allocations(const struct op *op)
{
    struct itx_diag d;
    enum itx_status s;
    itx_diag_init(&d);
    itx_alloc_fail_at(ULONG_MAX, false);
    s = op->fn(&d);
    unsigned long n = itx_alloc_fail_at(0, false);
    CHECK_MSG(s == ITX_OK, "%s without injection: %s: %s", op->name, itx_err_str(s), d.msg);
    return n;
}

static bool
server_healthy(void)
{
    struct resp r;
    bool ok =
        http(itx_server_port(server), "GET", "/healthz", NULL, NULL, 0, &r) == 0 && r.status == 200;
    resp_free(&r); /* after a failed request too: proc.c leaves empty strings */
    return ok;
}

static void
sweep(const struct op *op, unsigned long max_runs, bool full)
{
    unsigned long total = count_allocations(op);
    unsigned long stride = full || total <= max_runs ? 1 : (total + max_runs - 1) / max_runs;
    unsigned long first = 1;

    /* A shard runs every m-th N of the sweep it belongs to, starting at the first N that is
     * k modulo m. */
    if (shard_m > 1) {
        stride *= shard_m;
        first = shard_k == 0 ? shard_m : shard_k;
    }
    for (int sticky = mode_first; sticky <= mode_last; sticky++) {
        unsigned long n, runs = 0, absorbed = 0, errors = 0;
        double t0 = itx_now_ms();
        for (n = first; n < total * 4 + 1000; n += stride) {
            struct itx_diag d;
            enum itx_status s;
            bool injected;
            itx_diag_init(&d);
            itx_alloc_fail_at(n, sticky != 0);
            s = op->fn(&d);
            injected = itx_alloc_injected();
            itx_alloc_fail_at(0, false);
            runs++;
            if (verbose)
                fprintf(stderr, "%s N=%lu sticky=%d: %s %s\n", op->name, n, sticky, itx_err_str(s),
                        d.msg);
            if (!injected) {
                CHECK_MSG(s == ITX_OK, "%s: completed run without injection gave %s: %s", op->name,
                          itx_err_str(s), d.msg);
                break;
            }
            if (s == ITX_OK) {
                absorbed++;
                CHECK_MSG(!op->no_absorb, "%s: N=%lu sticky=%d: the failed allocation was ignored",
                          op->name, n, sticky);
            } else {
                errors++;
                CHECK_MSG(d.msg[0] != '\0', "%s: N=%lu sticky=%d: %s without a message", op->name,
                          n, sticky, itx_err_str(s));
                CHECK_MSG(!op->nomem_only || s == ITX_ERR_NOMEM,
                          "%s: N=%lu sticky=%d: %s: %s (expected out of memory)", op->name, n,
                          sticky, itx_err_str(s), d.msg);
            }
            if (server && op->fn == op_serve) {
                CHECK_MSG(server_healthy(), "serve: N=%lu: the server no longer answers", n);
                /* The next run starts with the worker idle (and its pipeline context free). */
                CHECK_MSG(metric_wait(itx_server_port(server), "itx_workers_busy", 0, 120000),
                          "serve: N=%lu: the worker never finished", n);
            }
        }
        CHECK_MSG(n < total * 4 + 1000, "%s: never completed", op->name);
        printf("%-8s %-6s allocations=%lu stride=%lu shard=%lu/%lu runs=%lu failed_cleanly=%lu "
               "absorbed=%lu wall_s=%.0f\n",
               op->name, sticky ? "sticky" : "once", total, stride, shard_k, shard_m, runs, errors,
               absorbed, (itx_now_ms() - t0) / 1000.0);
        fflush(stdout);
    }
}

/* ITX_ALLOC_SHARD=k/m: both decimal, 1 <= m <= 1000, 0 <= k < m. */
static bool
parse_shard(const char *v, struct itx_diag *d)
{
    unsigned long k, m;
    int used = 0;
    if (!v || !*v)
        return true;
    if (sscanf(v, "%lu/%lu%n", &k, &m, &used) != 2 || v[used] != '\0' || v[0] == '-' || m < 1 ||
        m > 1000 || k >= m) {
        itx_diag_set(d, ITX_ERR_INVALID,
                     "ITX_ALLOC_SHARD='%s' is not k/m with 0 <= k < m <= 1000 (e.g. 0/2, 1/2)", v);
        return false;
    }
    shard_k = k;
    shard_m = m;
    return true;
}

static bool
wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

static bool
need_pipeline(int argc, char **argv)
{
    return wanted(argc, argv, "pipeline") || wanted(argc, argv, "serve");
}

static bool
start_server(void)
{
    struct itx_server_config c;
    struct itx_server_pipeline plug = {.translate = plug_translate};
    struct itx_diag d;
    char *b64 = NULL;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0, cap = (picture_len + 2) / 3 * 4 + 256;

    itx_diag_init(&d);
    itx_server_config_init(&c);
    snprintf(c.bind, sizeof(c.bind), "127.0.0.1");
    c.port = 0;
    c.workers = 1;
    c.http_threads = 1;
    c.queue = 4;
    c.ready_interval_ms = 3600000;
    if (itx_server_new(&c, &server, &d) != ITX_OK) {
        fprintf(stderr, "server: %s\n", d.msg);
        return false;
    }
    itx_server_set_pipeline(server, &plug);
    if (itx_server_start(server, &d) != ITX_OK) {
        fprintf(stderr, "server start: %s\n", d.msg);
        return false;
    }
    /* The request body, built once (plain malloc: not part of what is counted). */
    b64 = malloc(cap);
    serve_body = malloc(cap + 128);
    if (!b64 || !serve_body)
        return false;
    for (size_t i = 0; i < picture_len; i += 3) {
        unsigned v = (unsigned)picture[i] << 16;
        size_t k = picture_len - i;
        if (k > 1)
            v |= (unsigned)picture[i + 1] << 8;
        if (k > 2)
            v |= picture[i + 2];
        b64[n++] = tbl[(v >> 18) & 63];
        b64[n++] = tbl[(v >> 12) & 63];
        b64[n++] = k > 1 ? tbl[(v >> 6) & 63] : '=';
        b64[n++] = k > 2 ? tbl[v & 63] : '=';
    }
    b64[n] = '\0';
    serve_body_len = (size_t)snprintf(
        serve_body, cap + 128, "{\"images\":[{\"data\":\"%s\"}],\"target_lang\":\"en\"}", b64);
    free(b64);
    return true;
}

int
main(int argc, char **argv)
{
    const char *build = getenv("ITX_BUILD_DIR");
    const char *full_env = getenv("ITX_ALLOC_FULL");
    bool full = full_env && !strcmp(full_env, "1");
    const char *verbose_env = getenv("ITX_ALLOC_VERBOSE");
    unsigned long max_runs = 12;
    char dir[] = "/tmp/itx-alloc-fail-XXXXXX", cmd[2048], path[1100];
    struct itx_diag d;
    long long runs_env = 0;

    verbose = verbose_env && !strcmp(verbose_env, "1");
    itx_diag_init(&d);
    itx_log_init();
    /* Thousands of runs end in logged errors; only the driver's own lines matter here. */
    itx_log_set_level(ITX_LOG_ERROR);
    if (itx_env_int("ITX_ALLOC_RUNS", 12, 1, 1000000, &runs_env, &d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 2;
    }
    if (runs_env > 0)
        max_runs = (unsigned long)runs_env;
    {
        const char *mode = getenv("ITX_ALLOC_MODE");
        if (mode && !strcmp(mode, "once")) {
            mode_last = 0;
        } else if (mode && !strcmp(mode, "sticky")) {
            mode_first = 1;
        } else if (mode && *mode && strcmp(mode, "both")) {
            fprintf(stderr, "ITX_ALLOC_MODE='%s' is not once, sticky or both\n", mode);
            return 2;
        }
    }
    if (!parse_shard(getenv("ITX_ALLOC_SHARD"), &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 2;
    }
    if (itx_image_init(&d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }

    if (need_pipeline(argc, argv)) {
        struct itx_pipeline_config cfg = {.tr = {.provider = ITX_TR_DICT}, .ocr_threads = 1};
        if (!mkdtemp(dir))
            return 1;
        snprintf(cmd, sizeof(cmd),
                 "'%s/tools/testset/itx-testset' -o '%s' --count 3 --seed 1 >/dev/null",
                 build ? build : ".", dir);
        CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
        snprintf(path, sizeof(path), "%s/p0002-mixed.png", dir);
        CHECK_MSG(itx_file_read(path, 16 << 20, &picture, &picture_len, &d) == ITX_OK, "%s", d.msg);
        CHECK_MSG(itx_pipeline_new(&cfg, &pipe_shared, &d) == ITX_OK, "%s", d.msg);
        if (pipe_shared)
            CHECK_MSG(itx_pipeline_ctx_new(pipe_shared, &pipe_ctx, &d) == ITX_OK, "%s", d.msg);
        if (!picture || !pipe_ctx)
            return check_summary();
        /* A first run plans the shapes this picture needs, as a warm server would have. */
        {
            static const struct op warm = {"warm-up", op_pipeline, false, false};
            count_allocations(&warm);
        }
    }

    if (wanted(argc, argv, "parse")) {
        static const struct op op = {"parse", op_parse, true, false};
        sweep(&op, max_runs, full);
    }
    if (wanted(argc, argv, "dict")) {
        static const struct op op = {"dict", op_dict, true, false};
        sweep(&op, max_runs, full);
    }
    if (wanted(argc, argv, "openai") || wanted(argc, argv, "gemini")) {
        for (int v = 0; v < 2; v++) {
            static const struct op ops[2] = {{"openai", op_openai, true, false},
                                             {"gemini", op_gemini, true, false}};
            if (!wanted(argc, argv, ops[v].name))
                continue;
            memset(&fake, 0, sizeof(fake));
            fake.vendor = v == 0 ? FAKE_OPENAI : FAKE_GEMINI;
            fake.model = v == 0 ? "gpt-test" : "gemini-test";
            fake.key = "sk-test";
            fake.replies[0].kind = FAKE_AUTO;
            fake.n_replies = 1;
            if (!fake_llm_start(&fake)) {
                CHECK_MSG(false, "cannot start the fake %s server", ops[v].name);
                continue;
            }
            snprintf(fake_base, sizeof(fake_base), "http://127.0.0.1:%d%s", fake.port,
                     v == 0 ? "/v1" : "/v1beta");
            sweep(&ops[v], max_runs, full);
            fake_llm_stop(&fake);
            CHECK_MSG(!fake.error[0], "%s: request shape: %s", ops[v].name, fake.error);
        }
    }
    if (wanted(argc, argv, "pipeline")) {
        /* The pipeline has no fallback for memory: a failure it absorbed would be a result
         * with a piece missing (a dropped append, a default style), as the sweeps found. */
        static const struct op op = {"pipeline", op_pipeline, true, true};
        sweep(&op, max_runs, full);
    }
    if (wanted(argc, argv, "serve")) {
        static const struct op op = {"serve", op_serve, false, false};
        if (start_server()) {
            sweep(&op, max_runs, full);
            printf("serve: %d answers were 5xx problem documents, %d were 5xx without one, %d "
                   "connections dropped\n",
                   serve_5xx, serve_5xx_bare, serve_dropped);
        } else {
            CHECK_MSG(false, "cannot start the server");
        }
        if (server) {
            itx_server_stop(server);
            itx_server_free(server);
        }
        free(serve_body);
    }
    if (wanted(argc, argv, "load")) {
        static const struct op op = {"load", op_load, true, false};
        sweep(&op, max_runs, full);
    }

    itx_pipeline_ctx_free(pipe_ctx);
    itx_pipeline_free(pipe_shared);
    itx_free(picture);
    if (dir[sizeof(dir) - 7] != 'X') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return check_summary();
}
