/*
 * itx serve: the HTTP service (src/server/, docs/server.md). Settings come from ITX_*
 * variables (and PORT) or flags, all validated before anything starts; the result store
 * from ITX_STORE* (docs/store.md), whose reachability is a readiness check; the translator
 * from ITX_TRANSLATE_* (docs/translate.md). POST /v1/translate runs the pipeline
 * (docs/pipeline.md) on the worker pool and answers from the store when the same picture
 * with the same settings was done before. /v1/jobs is not plugged in yet (404).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "fetch/fetch.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "store/store.h"
#include "translate/translate.h"

/* Readiness: the result store answers (a HEAD of a probe name; absent is fine). */
static enum itx_status
store_ready(void *ud, struct itx_diag *d)
{
    bool exists;
    return itx_store_head(ud, "itx-readyz-probe", &exists, NULL, d);
}

/* ---- the translation pipeline behind POST /v1/translate ------------------------------ */

/*
 * Shared by every worker: the pipeline (models, translator), the store, and a pool of
 * per-worker pipeline contexts created and warmed by the warm-up "ocr-models" (a worker
 * takes a free context for one request and gives it back; there are as many contexts as
 * workers, so a worker never waits for one).
 */
struct glue {
    struct itx_server *srv;
    struct itx_store *store;
    struct itx_pipeline *pl;
    const char *provider; /* the configured provider's name */
    struct itx_fetch_opts fetch;
    pthread_mutex_t mu;
    struct itx_pipeline_ctx **ctx;
    bool *busy;
    size_t n_ctx;
    bool ready; /* the pool exists (warm-up done) */
    struct itx_metric *m_images; /* itx_images_total{result} */
    struct itx_metric *m_failed; /* itx_images_failed_total{reason} */
    struct itx_metric_series *m_hits, *m_misses, *m_translated;
};

struct tr_work {
    struct itx_server_work w; /* first */
    struct glue *g;
    struct itx_api_request *req;
};

static const char *const stage_names[] = {"fetch", "decode", "ocr", "translate",
                                          "erase", "render", "qa",  "encode"};

static bool
cancel_polled(void *arg)
{
    return itx_cancel_requested(arg);
}

static enum itx_status
cancel_status(void *arg)
{
    enum itx_status st = itx_cancel_reason(arg);
    return st == ITX_OK ? ITX_ERR_CANCELLED : st;
}

/* One context's warm-up, on its own thread so the contexts warm in parallel. */
struct warm_one {
    struct glue *g;
    size_t i;
    const uint8_t *png;
    size_t png_len;
    pthread_t th;
    bool started;
    enum itx_status st;
    struct itx_diag d;
};

static void *
warm_thread(void *arg)
{
    struct warm_one *w = arg;
    struct itx_pipeline_source src = {.data = w->png, .len = w->png_len, .name = "warm-up"};
    struct itx_pipeline_result res = {0};
    struct itx_pipeline_opts o;

    itx_diag_init(&w->d);
    w->st = itx_pipeline_ctx_new(w->g->pl, &w->g->ctx[w->i], &w->d);
    if (w->st != ITX_OK)
        return NULL;
    itx_pipeline_opts_default(&o);
    o.no_qa = true;
    w->st = itx_pipeline_run(w->g->ctx[w->i], &src, &o, &res, &w->d);
    itx_pipeline_result_release(&res);
    return NULL;
}

/*
 * Creates the worker contexts and runs a blank 960x960 PNG through each: that creates what
 * each context makes lazily (render font map) and plans the detector at the most common
 * shape. (The recognizer widths are planned on first use: the pipeline has no per-context
 * itx_ocr_ctx_warmup yet.)
 */
static enum itx_status
warm_pool(void *ud, struct itx_diag *d)
{
    struct glue *g = ud;
    struct itx_image *img = itx_image_new(960, 960, 3);
    struct warm_one *w = NULL;
    uint8_t *png = NULL;
    size_t png_len = 0;
    enum itx_status st;
    double t0 = itx_now_ms();

    if (!img)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory making the warm-up picture");
    memset(img->px, 0xff, img->stride * (size_t)img->h);
    st = itx_image_encode(img, ITX_IMAGE_FORMAT_PNG, 0, &png, &png_len, d);
    itx_image_free(img);
    if (st == ITX_OK && !(w = itx_calloc(g->n_ctx, sizeof(*w))))
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the warm-up");
    for (size_t i = 0; st == ITX_OK && i < g->n_ctx; i++) {
        w[i] = (struct warm_one){.g = g, .i = i, .png = png, .png_len = png_len};
        w[i].started = pthread_create(&w[i].th, NULL, warm_thread, &w[i]) == 0;
        if (!w[i].started)
            warm_thread(&w[i]); /* no thread: warm it here */
    }
    for (size_t i = 0; w && i < g->n_ctx; i++) {
        if (w[i].started)
            pthread_join(w[i].th, NULL);
        if (st == ITX_OK && w[i].st != ITX_OK) {
            st = w[i].st;
            *d = w[i].d;
        }
    }
    itx_free(w);
    itx_free(png);
    if (st != ITX_OK)
        return st;
    pthread_mutex_lock(&g->mu);
    g->ready = true;
    pthread_mutex_unlock(&g->mu);
    itx_log_info("pipeline: %zu contexts warmed in %.0f ms", g->n_ctx, itx_now_ms() - t0);
    return ITX_OK;
}

static struct itx_pipeline_ctx *
ctx_take(struct glue *g, size_t *slot)
{
    struct itx_pipeline_ctx *c = NULL;

    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; g->ready && i < g->n_ctx; i++) {
        if (!g->busy[i] && g->ctx[i]) {
            g->busy[i] = true;
            c = g->ctx[i];
            *slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return c;
}

static void
ctx_give(struct glue *g, size_t slot)
{
    pthread_mutex_lock(&g->mu);
    g->busy[slot] = false;
    pthread_mutex_unlock(&g->mu);
}

static const char *
ext_of(const char *format)
{
    return strcmp(format, "jpeg") == 0 ? "jpg" : format;
}

static const char *
mime_of(const char *format)
{
    if (strcmp(format, "jpeg") == 0)
        return "image/jpeg";
    if (strcmp(format, "webp") == 0)
        return "image/webp";
    return "image/png";
}

/* Stores one object; an object already there (a concurrent request for the same picture
 * stored it first) is fine, since names are content-addressed. */
static enum itx_status
put_once(struct itx_store *s, const char *name, const void *data, size_t len, const char *type,
         struct itx_diag *d)
{
    enum itx_status st = itx_store_put(s, name, data, len, type, d);
    if (st == ITX_ERR_CONFLICT) {
        itx_diag_init(d);
        return ITX_OK;
    }
    return st;
}

/* Appends ,"url":...,"background_url":...,"width":..,"height":..,"regions":[...] for the
 * regions JSON of a stored result. */
static enum itx_status
answer_from_regions(struct tr_work *m, const char *key, const char *regions, size_t len,
                    struct itx_buf *out, struct itx_diag *d)
{
    json_error_t je;
    json_t *root = json_loadb(regions, len, 0, &je);
    const char *fmt;
    char name[256];
    char *url = NULL;
    enum itx_status st;

    if (!root || !json_is_string(json_object_get(root, "format"))) {
        json_decref(root);
        return itx_diag_set(d, ITX_ERR_INTERNAL, "stored regions of %.16s are not valid", key);
    }
    fmt = json_string_value(json_object_get(root, "format"));
    snprintf(name, sizeof(name), "final.%s", ext_of(fmt));
    {
        char obj[320];
        st = itx_store_cache_name(key, name, obj, sizeof(obj), d);
        if (st == ITX_OK)
            st = itx_store_url(m->g->store, obj, 0, 0, &url, d);
    }
    if (st == ITX_OK) {
        itx_buf_puts(out, ",\"url\":");
        itx_buf_json_str(out, url);
        itx_free(url);
        url = NULL;
    }
    if (st == ITX_OK && m->req->background) {
        char obj[320];
        st = itx_store_cache_name(key, "background.png", obj, sizeof(obj), d);
        if (st == ITX_OK)
            st = itx_store_url(m->g->store, obj, 0, 0, &url, d);
        if (st == ITX_OK) {
            itx_buf_puts(out, ",\"background_url\":");
            itx_buf_json_str(out, url);
            itx_free(url);
        }
    }
    if (st == ITX_OK) {
        itx_buf_printf(out, ",\"format\":\"%s\",\"width\":%lld,\"height\":%lld", fmt,
                       (long long)json_integer_value(json_object_get(root, "width")),
                       (long long)json_integer_value(json_object_get(root, "height")));
        if (m->req->regions) {
            char *arr = json_dumps(json_object_get(root, "regions"), JSON_COMPACT);
            if (!arr)
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory writing regions");
            else {
                itx_buf_puts(out, ",\"regions\":");
                itx_buf_puts(out, arr);
                free(arr);
            }
        }
    }
    json_decref(root);
    return st;
}

/*
 * The cache key: the picture's bytes and every setting that changes the result. group is ""
 * for a picture translated alone, else the plain keys of every picture of its group (they
 * share one translation call, so each one's result depends on the others).
 */
static enum itx_status
result_key(struct tr_work *m, const uint8_t *data, size_t len, const char *group, char key[65],
           struct itx_diag *d)
{
    const struct itx_api_request *r = m->req;
    struct itx_buf gl;
    char q[16];
    enum itx_status st;

    itx_buf_init(&gl, 1u << 20);
    for (size_t i = 0; i < r->n_glossary; i++) {
        itx_buf_json_str(&gl, r->glossary[i].source);
        itx_buf_puts(&gl, "=");
        if (r->glossary[i].target)
            itx_buf_json_str(&gl, r->glossary[i].target);
        itx_buf_puts(&gl, ";");
    }
    snprintf(q, sizeof(q), "%ld", r->jpeg_quality);
    {
        struct itx_store_setting set[] = {
            {"v", "serve-1"},
            {"from", r->source_lang ? r->source_lang : "zh"},
            {"to", r->target_lang ? r->target_lang : "en"},
            {"provider", m->g->provider},
            {"format", r->output_format ? r->output_format : "same"},
            {"quality", q},
            {"qa", r->qa ? "1" : "0"},
            {"glossary", gl.data ? gl.data : ""},
            {"group", group},
        };
        st = itx_store_cache_key(data, len, set, sizeof(set) / sizeof(set[0]), key, d);
    }
    itx_buf_release(&gl);
    return st;
}

/* Where one picture of a request stands. */
struct img_state {
    struct itx_fetch_result fr;
    const uint8_t *data;
    size_t len;
    char plain[65]; /* the key of the picture alone */
    char key[65];   /* the key of its result (with its group) */
    enum itx_status st;
    struct itx_diag d;
    bool done; /* answered (ans) or failed (st) */
    bool hit;
    struct itx_buf ans; /* members after "index" */
};

/* Stores one pipeline result under its key and writes its answer. */
static enum itx_status
store_result(struct tr_work *m, struct img_state *is, const struct itx_pipeline_result *res)
{
    struct itx_diag *d = &is->d;
    const char *fmt = itx_image_format_name(res->format);
    char obj[320], leaf[32];
    enum itx_status st;

    {
        const double *ms = &res->ms.fetch;
        for (size_t i = 1; i < sizeof(stage_names) / sizeof(stage_names[0]); i++)
            itx_server_observe_stage(m->g->srv, stage_names[i], ms[i] / 1000.0);
    }
    snprintf(leaf, sizeof(leaf), "final.%s", ext_of(fmt));
    st = itx_store_cache_name(is->key, leaf, obj, sizeof(obj), d);
    if (st == ITX_OK)
        st = put_once(m->g->store, obj, res->image, res->image_len, mime_of(fmt), d);
    if (st == ITX_OK &&
        (st = itx_store_cache_name(is->key, "background.png", obj, sizeof(obj), d)) == ITX_OK)
        st = put_once(m->g->store, obj, res->background, res->background_len, "image/png", d);
    /* the regions file last: its presence says the whole result is stored */
    if (st == ITX_OK &&
        (st = itx_store_cache_name(is->key, "regions.json", obj, sizeof(obj), d)) == ITX_OK)
        st = put_once(m->g->store, obj, res->regions_json, res->regions_len, "application/json",
                      d);
    if (st == ITX_OK)
        st = answer_from_regions(m, is->key, res->regions_json, res->regions_len, &is->ans, d);
    return st;
}

/* Runs the pipeline on the pictures idx[0..n) together (one translation call when n > 1). */
static void
run_pictures(struct tr_work *m, struct img_state *is, const size_t *idx, size_t n,
             struct itx_pipeline_ctx *ctx, const struct itx_cancel *c, struct itx_glossary *gl)
{
    const struct itx_api_request *r = m->req;
    struct itx_pipeline_source src[ITX_PIPELINE_MAX_GROUP];
    struct itx_pipeline_result res[ITX_PIPELINE_MAX_GROUP];
    struct itx_pipeline_opts o;
    struct itx_diag d;
    enum itx_status st;

    itx_pipeline_opts_default(&o);
    o.target = r->target_lang ? r->target_lang : "en";
    o.glossary = gl;
    if (r->output_format && strcmp(r->output_format, "same") != 0)
        o.format = itx_image_format_parse(r->output_format);
    o.quality = (int)r->jpeg_quality;
    o.no_qa = !r->qa;
    o.cancelled = cancel_polled;
    o.cancel_status = cancel_status;
    o.cancel_arg = (void *)c;
    memset(res, 0, sizeof(res));
    for (size_t k = 0; k < n; k++) {
        const struct itx_api_image *im = &r->images[idx[k]];
        src[k] = (struct itx_pipeline_source){.data = is[idx[k]].data, .len = is[idx[k]].len,
                                              .name = im->name ? im->name : im->url};
    }
    itx_diag_init(&d);
    st = n == 1 ? itx_pipeline_run(ctx, src, &o, res, &d)
                : itx_pipeline_run_group(ctx, src, n, &o, res, &d);
    if (st == ITX_OK)
        itx_metric_add(m->g->m_translated, 1);
    for (size_t k = 0; k < n; k++) {
        struct img_state *s = &is[idx[k]];
        s->done = true;
        if (st != ITX_OK) {
            s->st = st;
            s->d = d;
        } else {
            s->st = store_result(m, s, &res[k]);
        }
        itx_pipeline_result_release(&res[k]);
    }
}

/* The bytes of picture i (data, or a fetch), its plain key. */
static void
load_picture(struct tr_work *m, size_t i, struct img_state *is)
{
    const struct itx_api_image *im = &m->req->images[i];

    is->data = im->data;
    is->len = im->size;
    if (im->url) {
        double t0 = itx_now_ms();
        is->st = itx_fetch(&m->g->fetch, im->url, &is->fr, &is->d);
        itx_server_observe_stage(m->g->srv, "fetch", (itx_now_ms() - t0) / 1000.0);
        is->data = is->fr.data;
        is->len = is->fr.len;
    }
    if (is->st == ITX_OK)
        is->st = result_key(m, is->data, is->len, "", is->plain, &is->d);
    memcpy(is->key, is->plain, sizeof(is->key));
    is->done = is->st != ITX_OK;
}

/* Answers picture i from the store when its result is there. */
static void
lookup_picture(struct tr_work *m, struct img_state *is)
{
    char obj[320];
    bool exists = false;
    uint8_t *regions = NULL;
    size_t rlen = 0;

    is->st = itx_store_cache_name(is->key, "regions.json", obj, sizeof(obj), &is->d);
    if (is->st == ITX_OK)
        is->st = itx_store_head(m->g->store, obj, &exists, NULL, &is->d);
    if (is->st == ITX_OK && exists) {
        is->st = itx_store_get(m->g->store, obj, &regions, &rlen, &is->d);
        if (is->st == ITX_OK)
            is->st = answer_from_regions(m, is->key, (const char *)regions, rlen, &is->ans,
                                         &is->d);
        itx_free(regions);
        is->hit = is->st == ITX_OK;
    }
    is->done = is->st != ITX_OK || exists;
}

static struct itx_glossary *
request_glossary(const struct itx_api_request *r, struct itx_diag *d)
{
    struct itx_glossary *g;

    if (r->n_glossary == 0)
        return NULL;
    g = itx_glossary_new();
    if (!g) {
        itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the glossary");
        return NULL;
    }
    for (size_t i = 0; i < r->n_glossary; i++) {
        if (itx_glossary_add(g, r->glossary[i].source, r->glossary[i].target, d) != ITX_OK) {
            itx_glossary_free(g);
            return NULL;
        }
    }
    return g;
}

/* A per-image problem document (the fields of application/problem+json). */
static void
image_error(struct itx_buf *out, enum itx_status st, const struct itx_diag *d)
{
    int status = itx_err_http_status(st);
    itx_buf_printf(out,
                   ",\"error\":{\"type\":\"https://itx.invalid/problems/%s\",\"title\":\"%s\","
                   "\"status\":%d,\"code\":\"%s\",\"detail\":",
                   itx_err_str(st), itx_err_str(st), status, itx_err_str(st));
    itx_buf_json_str(out, d->msg[0] ? d->msg : itx_err_str(st));
    itx_buf_puts(out, "}");
}

static enum itx_server_step
tr_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct tr_work *m = (struct tr_work *)w;
    struct glue *g = m->g;
    struct itx_log_ctx lc = {.request_id = w->request_id, .trace = w->trace[0] ? w->trace : NULL,
                             .image = -1};
    struct itx_pipeline_ctx *ctx;
    struct itx_glossary *gl = NULL;
    struct img_state *is;
    size_t slot = 0, n = m->req->n_images;

    if (itx_cancel_requested(c)) {
        itx_diag_set(&w->diag, cancel_status((void *)c), "cancelled");
        return ITX_SERVER_STEP_DONE;
    }
    if (m->req->provider && strcmp(m->req->provider, g->provider) != 0) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID,
                     "provider '%s' is not configured on this server (it uses '%s'; set "
                     "ITX_TRANSLATE_PROVIDER)",
                     m->req->provider, g->provider);
        return ITX_SERVER_STEP_DONE;
    }
    if (m->req->output_format && strcmp(m->req->output_format, "same") != 0 &&
        itx_image_format_parse(m->req->output_format) == ITX_IMAGE_FORMAT_UNKNOWN) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID, "output_format '%s' is not one of same, png, "
                     "jpeg, webp", m->req->output_format);
        return ITX_SERVER_STEP_DONE;
    }
    if (n == 0) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID, "the request has no images");
        return ITX_SERVER_STEP_DONE;
    }
    ctx = ctx_take(g, &slot);
    if (!ctx) {
        itx_diag_set(&w->diag, ITX_ERR_UNAVAILABLE, "the OCR models are still warming up");
        return ITX_SERVER_STEP_DONE;
    }
    if (m->req->n_glossary && !(gl = request_glossary(m->req, &w->diag))) {
        ctx_give(g, slot);
        return ITX_SERVER_STEP_DONE;
    }
    is = itx_calloc(m->req->n_images, sizeof(*is));
    if (!is) {
        ctx_give(g, slot);
        itx_glossary_free(gl);
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory for %zu images", m->req->n_images);
        return ITX_SERVER_STEP_DONE;
    }
    for (size_t i = 0; i < n; i++) {
        itx_diag_init(&is[i].d);
        itx_buf_init(&is[i].ans, 64u << 20);
    }
    /* bytes and plain keys; then the keys of grouped pictures take their group in */
    for (size_t i = 0; i < n && !itx_cancel_requested(c); i++)
        load_picture(m, i, &is[i]);
    for (size_t i = 0; i < n && !itx_cancel_requested(c); i++) {
        const char *grp = m->req->images[i].group;
        struct itx_buf keys;
        size_t members = 0;

        if (!grp || is[i].st != ITX_OK)
            continue;
        itx_buf_init(&keys, 1u << 20);
        for (size_t k = 0; k < n; k++) {
            const char *gk = m->req->images[k].group;
            if (gk && strcmp(gk, grp) == 0 && is[k].st == ITX_OK) {
                itx_buf_puts(&keys, is[k].plain);
                members++;
            }
        }
        if (members > 1) {
            is[i].st = result_key(m, is[i].data, is[i].len, keys.data, is[i].key, &is[i].d);
            is[i].done = is[i].st != ITX_OK;
        }
        itx_buf_release(&keys);
    }
    for (size_t i = 0; i < n && !itx_cancel_requested(c); i++) {
        if (!is[i].done)
            lookup_picture(m, &is[i]);
    }
    /* what the store did not have: alone, or with the rest of its group in one call */
    for (size_t i = 0; i < n && !itx_cancel_requested(c); i++) {
        const char *grp = m->req->images[i].group;
        size_t idx[ITX_PIPELINE_MAX_GROUP], k = 0;

        if (is[i].done)
            continue;
        idx[k++] = i;
        for (size_t j = i + 1; grp && j < n && k < ITX_PIPELINE_MAX_GROUP; j++) {
            const char *gj = m->req->images[j].group;
            if (!is[j].done && gj && strcmp(gj, grp) == 0)
                idx[k++] = j;
        }
        run_pictures(m, is, idx, k, ctx, c, gl);
    }
    ctx_give(g, slot);
    itx_glossary_free(gl);

    if (itx_cancel_requested(c)) {
        itx_diag_set(&w->diag, cancel_status((void *)c), "cancelled");
    } else {
        itx_buf_puts(&w->reply, "{\"request_id\":");
        itx_buf_json_str(&w->reply, w->request_id);
        itx_buf_puts(&w->reply, ",\"images\":[");
        for (size_t i = 0; i < n; i++) {
            lc.image = (int)i;
            itx_buf_printf(&w->reply, "%s{\"index\":%zu", i ? "," : "", i);
            if (is[i].st != ITX_OK || !is[i].done) {
                enum itx_status st = is[i].st != ITX_OK ? is[i].st : ITX_ERR_INTERNAL;
                image_error(&w->reply, st, &is[i].d);
                itx_metric_add(
                    itx_metric_series(g->m_failed, (const char *const[]){itx_err_str(st)}), 1);
                itx_log(ITX_LOG_WARNING, &lc, NULL, "image %zu failed: %s", i, is[i].d.msg);
            } else {
                if (is[i].ans.data)
                    itx_buf_append(&w->reply, is[i].ans.data, is[i].ans.len);
                itx_metric_add(itx_metric_series(g->m_images,
                                                 (const char *const[]){
                                                     is[i].hit ? "cached" : "translated"}),
                               1);
                itx_metric_add(is[i].hit ? g->m_hits : g->m_misses, 1);
                itx_log(ITX_LOG_INFO, &lc, NULL,
                        is[i].hit ? "answered from the store" : "translated and stored");
            }
            itx_buf_puts(&w->reply, "}");
        }
        if (itx_buf_puts(&w->reply, "]}") != ITX_OK)
            itx_diag_set(&w->diag, ITX_ERR_TOO_LARGE, "the answer is over its 64 MiB limit");
    }
    for (size_t i = 0; i < n; i++) {
        itx_fetch_result_release(&is[i].fr);
        itx_buf_release(&is[i].ans);
    }
    itx_free(is);
    return ITX_SERVER_STEP_DONE;
}

static void
tr_destroy(struct itx_server_work *w)
{
    struct tr_work *m = (struct tr_work *)w;
    itx_api_request_free(m->req);
    itx_free(m);
}

/* On an HTTP thread: only builds the work item. */
static enum itx_status
tr_new(void *ud, struct itx_api_request *req, struct itx_server_work **out, struct itx_diag *d)
{
    struct tr_work *m = itx_calloc(1, sizeof(*m));

    if (!m) {
        itx_api_request_free(req);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the request");
    }
    itx_server_work_init(&m->w, tr_run, tr_destroy);
    m->g = ud;
    m->req = req;
    *out = &m->w;
    return ITX_OK;
}

static void
usage(FILE *f)
{
    struct itx_buf b;

    itx_buf_init(&b, 1u << 20);
    itx_server_config_help(&b);
    fprintf(f,
            "usage: itx serve [--setting value]...\n\n"
            "Runs the HTTP service: /healthz, /readyz, /metrics, /openapi.json, /files/ (local\n"
            "store) and POST /v1/translate (the translation pipeline on the worker pool; results\n"
            "are stored content-addressed, so a repeated picture is answered from the store).\n"
            "/readyz turns 200 once the OCR models are loaded and every worker's context is warm.\n"
            "The translator is set by ITX_TRANSLATE_PROVIDER (dict|gemini|openai, default dict)\n"
            "and friends (docs/translate.md); the models come from ITX_MODELS_DIR.\n"
            "Every setting is an environment variable or a flag; a flag wins. A bad value stops\n"
            "start-up with a message naming it. SIGTERM or SIGINT drains and exits 0.\n"
            "The result store is set by ITX_STORE (local|s3|gcs) and friends (docs/store.md);\n"
            "/files/ serves ITX_STORE_DIR only when the store is local.\n\n%s",
            b.data ? b.data : "");
    itx_buf_release(&b);
}

/* Registers the pipeline's metric families (before start). */
static void
glue_metrics(struct glue *g)
{
    struct itx_metrics *reg = itx_server_metrics(g->srv);

    g->m_images = itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_images_total",
                                  "Pictures answered, by result (translated, cached)", "result",
                                  NULL, 0);
    g->m_failed = itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_images_failed_total",
                                  "Pictures answered with an error, by error code", "reason",
                                  NULL, 0);
    g->m_hits = itx_metric_series(
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_cache_hits_total",
                        "Pictures answered from the result store", NULL, NULL, 0),
        NULL);
    g->m_misses = itx_metric_series(
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_cache_misses_total",
                        "Pictures run through the pipeline (not in the store)", NULL, NULL, 0),
        NULL);
    g->m_translated = itx_metric_series(
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_translate_calls_total",
                        "Pictures whose blocks were sent to the translator", "provider", NULL, 0),
        (const char *const[]){g->provider});
}

int
itx_cli_serve(int argc, char **argv)
{
    struct itx_server_config cfg;
    struct itx_store_config sc;
    struct itx_pipeline_config pc = {0};
    struct itx_store *store = NULL;
    struct itx_server *srv = NULL;
    struct glue g = {0};
    struct itx_diag d;
    int rc = 1;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    itx_diag_init(&d);
    itx_server_config_init(&cfg);
    snprintf(cfg.version, sizeof(cfg.version), "%s", ITX_VERSION);
    if (itx_server_config_load(&cfg, argc, argv, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_log_error("bad setting: %s", d.msg);
        return 2;
    }
    if (itx_store_config_from_env(&sc, &d) != ITX_OK ||
        itx_tr_config_from_env(&pc.tr, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        return 2;
    }
    if (sc.kind != ITX_STORE_LOCAL)
        cfg.files_dir[0] = '\0';
    else
        sc.dir = cfg.files_dir; /* --files-dir and ITX_STORE_DIR name the same directory */
    if (itx_store_open(&sc, &store, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        return 2;
    }
    /* the models and the translator: a missing model or key stops start-up */
    itx_fetch_opts_init(&g.fetch);
    pc.fetch = &g.fetch;
    pc.ocr_threads = 1;
    if (itx_image_init(&d) != ITX_OK || itx_fetch_global_init(&d) != ITX_OK ||
        itx_pipeline_new(&pc, &g.pl, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_store_free(store);
        return 2;
    }
    g.store = store;
    g.provider = itx_tr_provider_str(pc.tr.provider);
    g.n_ctx = (size_t)cfg.workers;
    g.ctx = itx_calloc(g.n_ctx, sizeof(*g.ctx));
    g.busy = itx_calloc(g.n_ctx, sizeof(*g.busy));
    pthread_mutex_init(&g.mu, NULL);
    if (!g.ctx || !g.busy) {
        itx_diag_set(&d, ITX_ERR_NOMEM, "out of memory for %zu worker contexts", g.n_ctx);
        goto out;
    }
    itx_server_block_signals();
    if (itx_server_new(&cfg, &srv, &d) != ITX_OK)
        goto out;
    g.srv = srv;
    glue_metrics(&g);
    {
        struct itx_server_pipeline p = {.ud = &g, .translate = tr_new};
        itx_server_set_pipeline(srv, &p);
    }
    itx_server_add_warmup(srv, "ocr-models", warm_pool, &g);
    itx_server_add_ready_check(srv, "storage", store_ready, store);
    if (itx_server_start(srv, &d) != ITX_OK)
        goto out;
    rc = itx_server_wait_for_signal(srv);
out:
    if (rc != 0)
        itx_log_error("itx serve: %s", d.msg);
    itx_server_free(srv);
    for (size_t i = 0; g.ctx && i < g.n_ctx; i++)
        itx_pipeline_ctx_free(g.ctx[i]);
    itx_free(g.ctx);
    itx_free(g.busy);
    pthread_mutex_destroy(&g.mu);
    itx_pipeline_free(g.pl);
    itx_store_free(store);
    return rc;
}
