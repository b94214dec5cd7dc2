/*
 * itx serve: the HTTP service (src/server/, docs/server.md). Settings come from ITX_*
 * variables (and PORT) or flags, all validated before anything starts; the result store
 * from ITX_STORE* (docs/store.md), whose reachability is a readiness check; the translator
 * from ITX_TRANSLATE_* (docs/translate.md); the job store from ITX_DATABASE_URL
 * (docs/jobs.md). POST /v1/translate runs the pipeline (docs/pipeline.md) on the worker
 * pool and answers from the store when the same picture with the same settings was done
 * before; /v1/jobs (serve-jobs.c) runs the same per-picture code from a durable queue.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/serve-impl.h"
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

/* ---- the pool of pipeline contexts ---------------------------------------------------- */

static const char *const stage_names[] = {"fetch", "decode", "ocr", "translate",
                                          "erase", "render", "qa",  "encode"};

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
    pthread_t th;
    bool started;
    enum itx_status st;
    struct itx_diag d;
};

static void *
warm_thread(void *arg)
{
    struct warm_one *w = arg;

    itx_diag_init(&w->d);
    w->st = itx_pipeline_ctx_new(w->g->pl, &w->g->ctx[w->i], &w->d);
    if (w->st == ITX_OK)
        w->st = itx_pipeline_ctx_warmup(w->g->ctx[w->i], &w->d);
    return NULL;
}

/*
 * Creates the worker contexts and warms each (itx_pipeline_ctx_warmup: every OCR shape
 * bucket planned, each model run once, fonts loaded), so no request pays for a first time.
 */
static enum itx_status
warm_pool(void *ud, struct itx_diag *d)
{
    struct glue *g = ud;
    struct warm_one *w = NULL;
    enum itx_status st = ITX_OK;
    double t0 = itx_now_ms();

    if (!(w = itx_calloc(g->n_ctx, sizeof(*w))))
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the warm-up");
    for (size_t i = 0; st == ITX_OK && i < g->n_ctx; i++) {
        w[i] = (struct warm_one){.g = g, .i = i};
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
    if (st != ITX_OK)
        return st;
    pthread_mutex_lock(&g->mu);
    g->ready = true;
    g->n_free = g->n_ctx;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    itx_log_info("pipeline: %zu contexts warmed in %.0f ms", g->n_ctx, itx_now_ms() - t0);
    return ITX_OK;
}

static void
deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

struct itx_pipeline_ctx *
serve_ctx_take(struct glue *g, enum ctx_prio prio, const struct itx_cancel *c, size_t *slot)
{
    struct itx_pipeline_ctx *ctx = NULL;

    pthread_mutex_lock(&g->mu);
    if (prio == CTX_SYNC && !g->ready) {
        pthread_mutex_unlock(&g->mu);
        return NULL;
    }
    if (prio == CTX_SYNC)
        g->sync_waiting++;
    for (;;) {
        bool mine = g->ready && g->n_free > 0 && (prio == CTX_SYNC || g->sync_waiting == 0);
        if (mine) {
            for (size_t i = 0; i < g->n_ctx; i++) {
                if (!g->busy[i] && g->ctx[i]) {
                    g->busy[i] = true;
                    g->n_free--;
                    ctx = g->ctx[i];
                    *slot = i;
                    break;
                }
            }
            break;
        }
        if (g->stopping || (c && itx_cancel_requested(c)))
            break;
        /* a timed wait: cancellation flags are atomics, not signalled through cv */
        itx_cond_wait_ms(&g->cv, &g->mu, 50);
    }
    if (prio == CTX_SYNC) {
        g->sync_waiting--;
        if (g->sync_waiting == 0)
            pthread_cond_broadcast(&g->cv); /* job runners may go now */
    }
    pthread_mutex_unlock(&g->mu);
    return ctx;
}

void
serve_ctx_give(struct glue *g, size_t slot)
{
    pthread_mutex_lock(&g->mu);
    g->busy[slot] = false;
    g->n_free++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

bool
serve_ctx_wait_free(struct glue *g, long ms)
{
    struct timespec ts;
    bool free_now;

    deadline_in(&ts, ms);
    pthread_mutex_lock(&g->mu);
    while (!(free_now = g->ready && g->n_free > 0 && g->sync_waiting == 0) && !g->stopping) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
            break;
    }
    free_now = g->ready && g->n_free > 0 && g->sync_waiting == 0 && !g->stopping;
    pthread_mutex_unlock(&g->mu);
    return free_now;
}

/* ---- settings -------------------------------------------------------------------------- */

void
serve_settings_from_request(struct tr_settings *s, const struct itx_api_request *r)
{
    *s = (struct tr_settings){
        .source_lang = r->source_lang,
        .target_lang = r->target_lang,
        .provider = r->provider,
        .output_format = r->output_format,
        .jpeg_quality = r->jpeg_quality,
        .background = r->background,
        .regions = r->regions,
        .qa = r->qa,
        .glossary = r->glossary,
        .n_glossary = r->n_glossary,
    };
}

enum itx_status
serve_settings_check(const struct glue *g, const struct tr_settings *s, struct itx_diag *d)
{
    if (s->provider && strcmp(s->provider, g->provider) != 0)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "provider '%s' is not configured on this server (it uses '%s'; set "
                            "ITX_TRANSLATE_PROVIDER)",
                            s->provider, g->provider);
    if (s->output_format && strcmp(s->output_format, "same") != 0 &&
        itx_image_format_parse(s->output_format) == ITX_IMAGE_FORMAT_UNKNOWN)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "output_format '%s' is not one of same, png, jpeg, webp",
                            s->output_format);
    return ITX_OK;
}

bool
serve_retryable(enum itx_status st)
{
    switch (st) {
    case ITX_ERR_UPSTREAM:
    case ITX_ERR_UNAVAILABLE:
    case ITX_ERR_TIMEOUT:
    case ITX_ERR_OVERLOADED:
    case ITX_ERR_NOMEM:
    case ITX_ERR_IO:
        return true;
    default:
        return false;
    }
}

/* ---- the per-picture work shared by /v1/translate and the job runner ------------------ */

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
enum itx_status
serve_put_once(struct itx_store *s, const char *name, const void *data, size_t len,
               const char *type, struct itx_diag *d)
{
    enum itx_status st = itx_store_put(s, name, data, len, type, d);
    if (st == ITX_ERR_CONFLICT) {
        itx_diag_init(d);
        return ITX_OK;
    }
    return st;
}

enum itx_status
serve_append_url(struct itx_store *store, const char *key, const char *leaf, const char *member,
                 struct itx_buf *out, struct itx_diag *d)
{
    char obj[320];
    char *url = NULL;
    enum itx_status st = itx_store_cache_name(key, leaf, obj, sizeof(obj), d);

    if (st == ITX_OK)
        st = itx_store_url(store, obj, 0, 0, &url, d);
    if (st == ITX_OK) {
        itx_buf_printf(out, ",\"%s\":", member);
        itx_buf_json_str(out, url);
        itx_free(url);
    }
    return st;
}

enum itx_status
serve_answer(struct glue *g, const struct tr_settings *set, const char *key, json_t *doc,
             struct itx_buf *out, struct itx_diag *d)
{
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    char leaf[32];
    enum itx_status st;

    if (!fmt || itx_image_format_parse(fmt) == ITX_IMAGE_FORMAT_UNKNOWN)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "stored regions of %.16s are not valid", key);
    snprintf(leaf, sizeof(leaf), "final.%s", ext_of(fmt));
    itx_buf_puts(out, ",\"key\":");
    itx_buf_json_str(out, key);
    st = serve_append_url(g->store, key, leaf, "url", out, d);
    if (st == ITX_OK && set->background)
        st = serve_append_url(g->store, key, "background.png", "background_url", out, d);
    if (st != ITX_OK)
        return st;
    itx_buf_printf(out, ",\"format\":\"%s\",\"width\":%lld,\"height\":%lld", fmt,
                   (long long)json_integer_value(json_object_get(doc, "width")),
                   (long long)json_integer_value(json_object_get(doc, "height")));
    if (set->regions) {
        char *arr = json_dumps(json_object_get(doc, "regions"), JSON_COMPACT);
        if (!arr)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory writing regions");
        itx_buf_puts(out, ",\"regions\":");
        itx_buf_puts(out, arr);
        free(arr);
    }
    return ITX_OK;
}

void
serve_image_error(struct itx_buf *out, enum itx_status st, const char *msg)
{
    int status = itx_err_http_status(st);
    itx_buf_printf(out,
                   ",\"error\":{\"type\":\"https://itx.invalid/problems/%s\",\"title\":\"%s\","
                   "\"status\":%d,\"code\":\"%s\",\"detail\":",
                   itx_err_str(st), itx_err_str(st), status, itx_err_str(st));
    itx_buf_json_str(out, msg && msg[0] ? msg : itx_err_str(st));
    itx_buf_puts(out, "}");
}

/*
 * The cache key: the picture's bytes and every setting that changes the result. group is ""
 * for a picture translated alone, else the plain keys of every picture of its group (they
 * share one translation call, so each one's result depends on the others). The server
 * glossary (ITX_GLOSSARY_FILE) joins by the hash of its file, only when there is one. The
 * engine hash changes with any change of itx's code or data, so a new build never answers
 * from an older build's results.
 */
static enum itx_status
result_key(const struct batch *b, const uint8_t *data, size_t len, const char *group, char key[65],
           struct itx_diag *d)
{
    const struct tr_settings *r = b->set;
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
            {"provider", b->g->provider},
            /* which build made it (its code and data) and, for an LLM, which model */
            {"engine", itx_cli_engine()},
            {"model", b->g->model},
            {"format", r->output_format ? r->output_format : "same"},
            {"quality", q},
            {"qa", r->qa ? "1" : "0"},
            {"glossary", gl.data ? gl.data : ""},
            {"group", group},
            /* itx batch's encoding (batch.c, key_settings), so the two share results */
            {"server_glossary", b->g->server_gloss},
        };
        size_t n_set = sizeof(set) / sizeof(set[0]) - (b->g->server_gloss[0] ? 0 : 1);
        st = itx_store_cache_key(data, len, set, n_set, key, d);
    }
    itx_buf_release(&gl);
    return st;
}

static void units_free(struct batch *b);

struct pic *
serve_pics_new(size_t n)
{
    struct pic *p = itx_calloc(n ? n : 1, sizeof(*p));
    for (size_t i = 0; p && i < n; i++)
        itx_diag_init(&p[i].d);
    return p;
}

void
serve_batch_release(struct batch *b)
{
    for (size_t i = 0; b->p && i < b->n; i++) {
        itx_fetch_result_release(&b->p[i].fr);
        itx_free(b->p[i].owned);
        itx_free(b->p[i].regions);
        if (b->p[i].have_res)
            itx_pipeline_result_release(&b->p[i].res);
    }
    itx_free(b->p);
    b->p = NULL;
    units_free(b);
}

static void
progress(struct batch *b, const char *stage, double frac)
{
    if (b->stage)
        b->stage(b->stage_arg, stage, frac);
}

void
serve_batch_keys(struct batch *b)
{
    size_t n = b->n;

    for (size_t i = 0; i < n; i++) {
        struct pic *p = &b->p[i];
        if (p->st == ITX_OK)
            p->st = result_key(b, p->data, p->len, "", p->plain, &p->d);
        memcpy(p->key, p->plain, sizeof(p->key));
        p->done = p->st != ITX_OK;
    }
    /* the keys of grouped pictures take their whole group in */
    for (size_t i = 0; i < n && !itx_cancel_requested(b->c); i++) {
        const char *grp = b->p[i].group;
        struct itx_buf keys;
        size_t members = 0;

        if (!grp || b->p[i].st != ITX_OK)
            continue;
        itx_buf_init(&keys, 1u << 20);
        for (size_t k = 0; k < n; k++) {
            const char *gk = b->p[k].group;
            if (gk && strcmp(gk, grp) == 0 && b->p[k].st == ITX_OK) {
                itx_buf_puts(&keys, b->p[k].plain);
                members++;
            }
        }
        if (members > 1) {
            struct pic *p = &b->p[i];
            p->st = result_key(b, p->data, p->len, keys.data, p->key, &p->d);
            p->done = p->st != ITX_OK;
        }
        itx_buf_release(&keys);
    }
}

/* Picture p from the store when its result is there (the regions file is stored last, so
 * its presence says the whole result is). */
static void
lookup_one(struct batch *b, struct pic *p)
{
    char obj[320];
    bool exists = false;
    uint8_t *regions = NULL;
    size_t rlen = 0;

    p->st = itx_store_cache_name(p->key, "regions.json", obj, sizeof(obj), &p->d);
    if (p->st == ITX_OK)
        p->st = itx_store_head(b->g->store, obj, &exists, NULL, &p->d);
    if (p->st == ITX_OK && exists) {
        p->st = itx_store_get(b->g->store, obj, &regions, &rlen, &p->d);
        if (p->st == ITX_OK) {
            p->regions = (char *)regions;
            p->regions_len = rlen;
            p->hit = true;
        }
    }
    p->done = p->st != ITX_OK || exists;
}

void
serve_batch_lookup(struct batch *b)
{
    for (size_t i = 0; i < b->n && !itx_cancel_requested(b->c); i++)
        if (!b->p[i].done)
            lookup_one(b, &b->p[i]);
}

bool
serve_batch_pending(const struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (!b->p[i].done)
            return true;
    return false;
}

/*
 * Progress inside one pipeline run, from its cancellation polls. The pipeline polls before
 * each stage in a fixed order (docs/pipeline.md): decode and ocr for each picture, translate
 * once, then erase, qa (only with the check on) and encode for each picture. The stage shown
 * is the one the poll opens; render is drawn together with the erase, so the poll after it
 * (qa, when on) is shown as render.
 */
struct run_poll {
    struct batch *b;
    const struct itx_cancel *c;
    size_t n;       /* pictures in this run */
    size_t done;    /* pictures of the batch finished before this run */
    unsigned polls; /* polls so far */
    bool qa;
};

static bool
run_polled(void *arg)
{
    struct run_poll *rp = arg;
    size_t k = rp->polls++, n = rp->n, per = rp->qa ? 3 : 2;
    size_t total = 2 * n + 1 + per * n;
    const char *stage;

    if (k < 2 * n)
        stage = k % 2 == 0 ? "decode" : "ocr";
    else if (k == 2 * n)
        stage = "translate";
    else {
        size_t j = (k - 2 * n - 1) % per;
        stage = j == 0 ? "erase" : (j == 1 && rp->qa) ? "render" : "encode";
    }
    if (k > total)
        k = total;
    progress(rp->b, stage,
             ((double)rp->done + (double)n * (double)k / (double)(total + 1)) /
                 (double)(rp->b->n + 1));
    return itx_cancel_requested(rp->c);
}

/* The cancel status of the pipeline's polls, for run_polled. */
static enum itx_status
run_cancel_status(void *arg)
{
    struct run_poll *rp = arg;
    return cancel_status((void *)rp->c);
}

static struct itx_glossary *
batch_glossary(const struct tr_settings *r, struct itx_diag *d)
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

/* Pictures run together (one translation call), between serve_batch_begin and
 * serve_batch_finish. */
struct unit {
    size_t idx[ITX_PIPELINE_MAX_GROUP];
    size_t n;
    struct run_poll rp; /* the pipeline's cancel_arg */
    struct itx_pipeline_opts o;
    struct itx_pipeline_state *s; /* NULL once failed or finished */
};

struct batch_units {
    struct itx_glossary *gl; /* the request's glossary, borrowed by every o */
    size_t n;
    struct unit u[];
};

static void
units_free(struct batch *b)
{
    struct batch_units *us = b->units;

    if (!us)
        return;
    for (size_t i = 0; i < us->n; i++)
        itx_pipeline_state_free(us->u[i].s);
    itx_glossary_free(us->gl);
    itx_free(us);
    b->units = NULL;
}

/* Marks the pictures of u failed and drops its state. */
static void
unit_fail(struct batch *b, struct unit *u, const struct itx_diag *d)
{
    for (size_t k = 0; k < u->n; k++) {
        struct pic *p = &b->p[u->idx[k]];
        p->done = true;
        p->st = d->code;
        p->d = *d;
    }
    itx_pipeline_state_free(u->s);
    u->s = NULL;
}

static void
unit_opts(struct batch *b, struct unit *u, size_t done, struct itx_glossary *gl)
{
    const struct tr_settings *r = b->set;

    u->rp = (struct run_poll){.b = b, .c = b->c, .n = u->n, .done = done, .qa = r->qa};
    itx_pipeline_opts_default(&u->o);
    u->o.target = r->target_lang ? r->target_lang : "en";
    u->o.glossary = gl;
    if (r->output_format && strcmp(r->output_format, "same") != 0)
        u->o.format = itx_image_format_parse(r->output_format);
    u->o.quality = (int)r->jpeg_quality;
    u->o.no_qa = !r->qa;
    u->o.cancelled = run_polled;
    u->o.cancel_status = run_cancel_status;
    u->o.cancel_arg = &u->rp;
}

void
serve_batch_begin(struct batch *b, struct itx_pipeline_ctx *ctx)
{
    struct itx_glossary *gl = NULL;
    struct batch_units *us;
    struct itx_diag d;
    size_t done = 0;

    units_free(b);
    itx_diag_init(&d);
    if (b->set->n_glossary && !(gl = batch_glossary(b->set, &d))) {
        for (size_t i = 0; i < b->n; i++) {
            if (!b->p[i].done) {
                b->p[i].st = d.code;
                b->p[i].d = d;
                b->p[i].done = true;
            }
        }
        return;
    }
    us = itx_calloc(1, sizeof(*us) + b->n * sizeof(us->u[0]));
    if (!us) {
        itx_glossary_free(gl);
        itx_diag_set(&d, ITX_ERR_NOMEM, "out of memory for %zu pictures", b->n);
        for (size_t i = 0; i < b->n; i++) {
            if (!b->p[i].done) {
                b->p[i].st = d.code;
                b->p[i].d = d;
                b->p[i].done = true;
            }
        }
        return;
    }
    us->gl = gl;
    b->units = us;
    /* what the store did not have: alone, or with the rest of its group in one call */
    for (size_t i = 0; i < b->n && !itx_cancel_requested(b->c); i++) {
        const char *grp = b->p[i].group;
        struct itx_pipeline_source src[ITX_PIPELINE_MAX_GROUP];
        bool taken = false;
        struct unit *u;

        if (b->p[i].done)
            continue;
        for (size_t j = 0; j < us->n && !taken; j++)
            for (size_t k = 0; k < us->u[j].n && !taken; k++)
                taken = us->u[j].idx[k] == i;
        if (taken)
            continue;
        u = &us->u[us->n++];
        u->idx[u->n++] = i;
        for (size_t j = i + 1; grp && j < b->n && u->n < ITX_PIPELINE_MAX_GROUP; j++) {
            const char *gj = b->p[j].group;
            if (!b->p[j].done && gj && strcmp(gj, grp) == 0)
                u->idx[u->n++] = j;
        }
        unit_opts(b, u, done, gl);
        done += u->n;
        for (size_t k = 0; k < u->n; k++) {
            const struct pic *p = &b->p[u->idx[k]];
            src[k] = (struct itx_pipeline_source){.data = p->data, .len = p->len, .name = p->name};
        }
        itx_diag_init(&d);
        if (itx_pipeline_begin(ctx, src, u->n, &u->o, &u->s, &d) != ITX_OK)
            unit_fail(b, u, &d);
    }
}

bool
serve_batch_translate_waits(const struct batch *b)
{
    if (!b->units || !itx_pipeline_translate_waits(b->g->pl))
        return false;
    for (size_t i = 0; i < b->units->n; i++)
        if (b->units->u[i].s)
            return true;
    return false;
}

void
serve_batch_translate(struct batch *b)
{
    for (size_t i = 0; b->units && i < b->units->n; i++) {
        struct unit *u = &b->units->u[i];
        struct itx_diag d;
        if (!u->s)
            continue;
        itx_diag_init(&d);
        if (itx_pipeline_translate(b->g->pl, u->s, &u->o, &d) != ITX_OK)
            unit_fail(b, u, &d);
    }
}

void
serve_batch_abandon(struct batch *b, enum itx_status st, const char *why)
{
    struct itx_diag d;

    itx_diag_init(&d);
    itx_diag_set(&d, st, "%s", why);
    for (size_t i = 0; b->units && i < b->units->n; i++)
        if (b->units->u[i].s)
            unit_fail(b, &b->units->u[i], &d);
    units_free(b);
}

bool
serve_batch_begun(const struct batch *b)
{
    for (size_t i = 0; b->units && i < b->units->n; i++)
        if (b->units->u[i].s)
            return true;
    return false;
}

void
serve_batch_finish(struct batch *b, struct itx_pipeline_ctx *ctx)
{
    for (size_t i = 0; b->units && i < b->units->n; i++) {
        struct unit *u = &b->units->u[i];
        struct itx_pipeline_result res[ITX_PIPELINE_MAX_GROUP];
        struct itx_diag d;

        if (!u->s)
            continue;
        memset(res, 0, sizeof(res));
        itx_diag_init(&d);
        if (itx_pipeline_finish(ctx, u->s, &u->o, res, &d) != ITX_OK) {
            unit_fail(b, u, &d);
            continue;
        }
        itx_pipeline_state_free(u->s);
        u->s = NULL;
        itx_metric_add(b->g->m_translated, 1);
        for (size_t k = 0; k < u->n; k++) {
            struct pic *p = &b->p[u->idx[k]];
            struct itx_log_ctx lc = b->lc;
            p->done = true;
            p->res = res[k];
            p->have_res = true;
            p->ms = res[k].ms.total;
            lc.image = (int)p->index;
            lc.stage = "ocr";
            itx_log(ITX_LOG_INFO, &lc, NULL, "OCR done: %u regions, %u Chinese to translate",
                    res[k].n_regions, res[k].n_translated);
            lc.stage = "translate";
            itx_log(ITX_LOG_INFO, &lc, NULL, "translated %u regions", res[k].n_translated);
            lc.stage = "render";
            itx_log(ITX_LOG_INFO, &lc, NULL, "rendered");
        }
    }
    units_free(b);
}

void
serve_batch_run(struct batch *b, struct itx_pipeline_ctx *ctx)
{
    serve_batch_begin(b, ctx);
    serve_batch_translate(b);
    serve_batch_finish(b, ctx);
}

bool
serve_store_waits(const struct glue *g)
{
    return itx_store_kind(g->store) != ITX_STORE_LOCAL;
}

/* Stores one pipeline result under its key. */
static enum itx_status
store_one(struct batch *b, struct pic *p)
{
    const struct itx_pipeline_result *res = &p->res;
    const char *fmt = itx_image_format_name(res->format);
    struct itx_diag *d = &p->d;
    char obj[320], leaf[32];
    enum itx_status st;

    {
        const double *ms = &res->ms.fetch;
        for (size_t i = 1; i < sizeof(stage_names) / sizeof(stage_names[0]); i++)
            itx_server_observe_stage(b->g->srv, stage_names[i], ms[i] / 1000.0);
    }
    snprintf(leaf, sizeof(leaf), "final.%s", ext_of(fmt));
    st = itx_store_cache_name(p->key, leaf, obj, sizeof(obj), d);
    if (st == ITX_OK)
        st = serve_put_once(b->g->store, obj, res->image, res->image_len, mime_of(fmt), d);
    if (st == ITX_OK &&
        (st = itx_store_cache_name(p->key, "background.png", obj, sizeof(obj), d)) == ITX_OK)
        st = serve_put_once(b->g->store, obj, res->background, res->background_len, "image/png", d);
    /* the regions file last: its presence says the whole result is stored */
    if (st == ITX_OK &&
        (st = itx_store_cache_name(p->key, "regions.json", obj, sizeof(obj), d)) == ITX_OK)
        st = serve_put_once(b->g->store, obj, res->regions_json, res->regions_len,
                            "application/json", d);
    if (st == ITX_OK) {
        p->regions = res->regions_json;
        p->regions_len = res->regions_len;
        ((struct itx_pipeline_result *)res)->regions_json = NULL;
        {
            struct itx_log_ctx lc = b->lc;
            lc.image = (int)p->index;
            lc.stage = "store";
            itx_log(ITX_LOG_INFO, &lc, NULL, "stored");
        }
    }
    return st;
}

void
serve_batch_store(struct batch *b)
{
    bool any = false;

    for (size_t i = 0; i < b->n; i++)
        any |= b->p[i].have_res;
    if (any)
        progress(b, "store", (double)b->n / (double)(b->n + 1));
    for (size_t i = 0; i < b->n; i++) {
        struct pic *p = &b->p[i];
        if (!p->have_res)
            continue;
        p->st = store_one(b, p);
        itx_pipeline_result_release(&p->res);
        p->have_res = false;
    }
}

void
serve_batch_account(struct batch *b)
{
    struct glue *g = b->g;

    for (size_t i = 0; i < b->n; i++) {
        struct pic *p = &b->p[i];
        struct itx_log_ctx lc = b->lc;
        lc.image = (int)p->index;
        if (p->st != ITX_OK || !p->regions) {
            enum itx_status st = p->st != ITX_OK ? p->st : ITX_ERR_INTERNAL;
            itx_metric_add(itx_metric_series(g->m_failed, (const char *const[]){itx_err_str(st)}),
                           1);
            itx_log(ITX_LOG_WARNING, &lc, NULL, "image %zu failed: %s", p->index, p->d.msg);
        } else {
            itx_metric_add(
                itx_metric_series(g->m_images,
                                  (const char *const[]){p->hit ? "cached" : "translated"}),
                1);
            itx_metric_add(p->hit ? g->m_hits : g->m_misses, 1);
            itx_log(ITX_LOG_INFO, &lc, NULL,
                    p->hit ? "answered from the store" : "translated and stored");
        }
    }
}

/* ---- POST /v1/translate ---------------------------------------------------------------- */

/*
 * The steps of a request; an arrow with "I/O" is a wait on an I/O thread (the work returns
 * ITX_SERVER_STEP_WAIT and holds no worker and no context meanwhile):
 *   LOAD -(I/O: fetch URL pictures)-> KEYS [hashes] -(I/O: s3/gcs look-ups)->
 *        BEGIN [context: decode, OCR] -(I/O: provider call, gemini/openai)->
 *        FINISH [context: erase, draw, encode] -(I/O: s3/gcs puts)-> ANSWER
 * With dict the context is kept from begin to finish; with a local store the look-ups and
 * the puts are inline.
 */
enum tr_phase { TR_LOAD, TR_KEYS, TR_BEGIN, TR_FINISH, TR_STORE, TR_ANSWER };

/* What an I/O thread does for a request. */
enum tr_io { TR_IO_FETCH, TR_IO_LOOKUP, TR_IO_TRANSLATE, TR_IO_STORE };

struct tr_work {
    struct itx_server_work w; /* first */
    struct glue *g;
    struct itx_api_request *req;
    struct tr_settings set;
    struct batch b;
    enum tr_phase phase; /* what the next run does */
    enum tr_io io_what;  /* what the I/O thread does before it */
    struct serve_io io;
};

/* Writes the answer of picture p: its result members or its error. */
static void
answer_pic(struct batch *b, const struct pic *p, struct itx_buf *out)
{
    struct itx_diag d;
    json_t *doc;

    itx_diag_init(&d);
    if (p->st != ITX_OK || !p->regions) {
        serve_image_error(out, p->st != ITX_OK ? p->st : ITX_ERR_INTERNAL, p->d.msg);
        return;
    }
    doc = json_loadb(p->regions, p->regions_len, 0, NULL);
    if (!doc || serve_answer(b->g, b->set, p->key, doc, out, &d) != ITX_OK)
        serve_image_error(out, doc ? d.code : ITX_ERR_INTERNAL,
                          doc ? d.msg : "the stored regions are not valid JSON");
    json_decref(doc);
}

/* ---- the I/O threads ------------------------------------------------------------------- */

/* Marks the pictures that are not done failed: the wait they needed was not done. */
static void
tr_fail_pending(struct batch *b, const char *what, const char *why)
{
    for (size_t i = 0; i < b->n; i++) {
        struct pic *p = &b->p[i];
        if (p->done)
            continue;
        p->st = itx_diag_set(&p->d, ITX_ERR_UNAVAILABLE, "%s: %s", what, why);
        p->done = true;
    }
}

/* The network wait that m's next phase needs (an I/O thread's run). */
static void
tr_io_run(struct serve_io *io, bool stop)
{
    struct tr_work *m = (struct tr_work *)((char *)io - offsetof(struct tr_work, io));
    struct glue *g = m->g;
    bool cancelled = itx_cancel_requested(m->b.c);
    const char *why = stop ? "the server is shutting down" : "cancelled";

    switch (m->io_what) {
    case TR_IO_TRANSLATE:
        pthread_mutex_lock(&g->io_mu);
        g->n_tr_waits--;
        pthread_mutex_unlock(&g->io_mu);
        /* the provider calls; a cancelled request is woken at once and answers */
        if (stop || cancelled)
            serve_batch_abandon(&m->b, ITX_ERR_UNAVAILABLE,
                                stop ? "not translated: the server "
                                       "is shutting down"
                                     : "not translated: cancelled");
        else
            serve_batch_translate(&m->b);
        return;
    case TR_IO_STORE:
        if (stop || cancelled) {
            for (size_t i = 0; i < m->b.n; i++) {
                struct pic *p = &m->b.p[i];
                if (!p->have_res)
                    continue;
                p->st = itx_diag_set(&p->d, ITX_ERR_UNAVAILABLE, "not stored: %s", why);
                itx_pipeline_result_release(&p->res);
                p->have_res = false;
            }
        } else {
            serve_batch_store(&m->b);
        }
        return;
    case TR_IO_LOOKUP:
        /* a HEAD and perhaps a GET of each picture's regions file */
        if (stop || cancelled)
            tr_fail_pending(&m->b, "not looked up in the store", why);
        else
            serve_batch_lookup(&m->b);
        return;
    case TR_IO_FETCH:
        break;
    }
    for (size_t i = 0; i < m->b.n; i++) {
        const struct itx_api_image *im = &m->req->images[i];
        struct pic *p = &m->b.p[i];
        double t0;
        if (!im->url)
            continue;
        if (stop || cancelled) {
            p->st = itx_diag_set(&p->d, ITX_ERR_UNAVAILABLE, "not fetched: %s", why);
            continue;
        }
        t0 = itx_now_ms();
        p->st = itx_fetch(&g->fetch, im->url, &p->fr, &p->d);
        itx_server_observe_stage(g->srv, "fetch", (itx_now_ms() - t0) / 1000.0);
        p->data = p->fr.data;
        p->len = p->fr.len;
    }
}

static void *
io_main(void *arg)
{
    struct glue *g = arg;

    for (;;) {
        struct serve_io *io;
        struct itx_server_work *w;
        bool stop;

        pthread_mutex_lock(&g->io_mu);
        while (!g->io_head && !g->io_stop)
            pthread_cond_wait(&g->io_cv, &g->io_mu);
        io = g->io_head;
        if (!io) {
            pthread_mutex_unlock(&g->io_mu);
            break;
        }
        g->io_head = io->next;
        if (!g->io_head)
            g->io_tail = NULL;
        stop = g->io_stop;
        pthread_mutex_unlock(&g->io_mu);
        w = io->w;
        io->run(io, stop);
        itx_server_work_wake(w); /* w (and io in it) is the server's again */
    }
    return NULL;
}

void
serve_io_push(struct glue *g, struct serve_io *io)
{
    pthread_mutex_lock(&g->io_mu);
    io->next = NULL;
    if (g->io_tail)
        g->io_tail->next = io;
    else
        g->io_head = io;
    g->io_tail = io;
    pthread_cond_signal(&g->io_cv);
    pthread_mutex_unlock(&g->io_mu);
}

static enum itx_status
io_start(struct glue *g, struct itx_diag *d)
{
    for (; g->n_io < SERVE_IO_THREADS; g->n_io++)
        if (pthread_create(&g->io_th[g->n_io], NULL, io_main, g) != 0)
            return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start the I/O threads");
    return ITX_OK;
}

/* Stops the I/O threads: what is queued is woken without its wait; a wait in progress gets
 * a moment to end (each is bounded: ITX_FETCH_TOTAL_MS, the store's and the provider's
 * timeouts), then is left behind. */
static void
io_stop(struct glue *g)
{
    pthread_mutex_lock(&g->io_mu);
    g->io_stop = true;
    pthread_cond_broadcast(&g->io_cv);
    pthread_mutex_unlock(&g->io_mu);
    for (size_t i = 0; i < g->n_io; i++) {
        struct timespec ts;
        deadline_in(&ts, 2000);
        if (pthread_timedjoin_np(g->io_th[i], NULL, &ts) != 0)
            pthread_detach(g->io_th[i]);
    }
    g->n_io = 0;
}

/* ---- POST /v1/translate ---------------------------------------------------------------- */

/* Hands a network wait to an I/O thread; next is the phase run once it is over. */
static enum itx_server_step
tr_wait(struct tr_work *m, enum tr_io what, enum tr_phase next)
{
    m->phase = next;
    m->io_what = what;
    m->io.run = tr_io_run;
    m->io.w = &m->w;
    serve_io_push(m->g, &m->io);
    return ITX_SERVER_STEP_WAIT; /* m is not touched again until the wake */
}

/* Whether one more request may wait for its provider call on an I/O thread (counted until
 * tr_io_run runs it). */
static bool
tr_wait_reserve(struct glue *g)
{
    bool ok;
    pthread_mutex_lock(&g->io_mu);
    ok = g->n_tr_waits < SERVE_MAX_TR_WAITS;
    g->n_tr_waits += ok;
    pthread_mutex_unlock(&g->io_mu);
    return ok;
}

/* Takes a context for m; NULL (with w->diag set unless cancelled) when none can be had. */
static struct itx_pipeline_ctx *
tr_ctx(struct tr_work *m, const struct itx_cancel *c, size_t *slot)
{
    struct itx_pipeline_ctx *ctx = serve_ctx_take(m->g, CTX_SYNC, c, slot);
    if (!ctx && !itx_cancel_requested(c))
        itx_diag_set(&m->w.diag, ITX_ERR_UNAVAILABLE, "the server is shutting down");
    return ctx;
}

/* The first step: checks the request and lists its pictures. */
static bool
tr_load(struct tr_work *m, const struct itx_cancel *c, bool *any_url)
{
    struct itx_server_work *w = &m->w;
    struct glue *g = m->g;
    struct batch *b = &m->b;
    size_t n = m->req->n_images;
    bool ready;

    serve_settings_from_request(&m->set, m->req);
    *b = (struct batch){.g = g, .set = &m->set, .c = c};
    b->lc = (struct itx_log_ctx){
        .request_id = w->request_id, .trace = w->trace[0] ? w->trace : NULL, .image = -1};
    if (serve_settings_check(g, &m->set, &w->diag) != ITX_OK)
        return false;
    if (n == 0) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID, "the request has no images");
        return false;
    }
    pthread_mutex_lock(&g->mu);
    ready = g->ready;
    pthread_mutex_unlock(&g->mu);
    if (!ready) {
        itx_diag_set(&w->diag, ITX_ERR_UNAVAILABLE, "the OCR models are still warming up");
        return false;
    }
    if (!(b->p = serve_pics_new(n))) {
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory for %zu images", n);
        return false;
    }
    b->n = n;
    *any_url = false;
    for (size_t i = 0; i < n; i++) {
        const struct itx_api_image *im = &m->req->images[i];
        struct pic *p = &b->p[i];
        p->index = i;
        p->name = im->name ? im->name : im->url;
        p->group = im->group;
        p->data = im->data;
        p->len = im->size;
        *any_url |= im->url != NULL;
    }
    return true;
}

/*
 * Runs phase by phase (enum tr_phase); each network wait goes to an I/O thread and the run
 * returns ITX_SERVER_STEP_WAIT, to be called again, on any worker, once it is over. A
 * context is held only for the CPU stages.
 */
static enum itx_server_step
tr_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct tr_work *m = (struct tr_work *)w;
    struct glue *g = m->g;
    struct batch *b = &m->b;
    struct itx_pipeline_ctx *ctx = NULL;
    size_t slot = 0, n = m->req->n_images;

    b->c = c;
    if (itx_cancel_requested(c)) {
        itx_diag_set(&w->diag, cancel_status((void *)c), "cancelled");
        return ITX_SERVER_STEP_DONE;
    }
    if (m->phase == TR_LOAD) {
        bool any_url = false;
        if (!tr_load(m, c, &any_url))
            return ITX_SERVER_STEP_DONE;
        if (any_url)
            return tr_wait(m, TR_IO_FETCH, TR_KEYS);
        m->phase = TR_KEYS;
    }
    if (m->phase == TR_KEYS) {
        m->phase = TR_BEGIN;
        serve_batch_keys(b);
        if (serve_batch_pending(b) && serve_store_waits(g))
            return tr_wait(m, TR_IO_LOOKUP, TR_BEGIN);
        serve_batch_lookup(b);
    }
    if (m->phase == TR_BEGIN) {
        m->phase = TR_STORE;
        if (serve_batch_pending(b) && !itx_cancel_requested(c) && (ctx = tr_ctx(m, c, &slot))) {
            serve_batch_begin(b, ctx);
            if (serve_batch_translate_waits(b) && tr_wait_reserve(g)) {
                serve_ctx_give(g, slot);
                return tr_wait(m, TR_IO_TRANSLATE, TR_FINISH);
            }
            serve_batch_translate(b);
            serve_batch_finish(b, ctx);
            serve_ctx_give(g, slot);
        }
    }
    if (m->phase == TR_FINISH) {
        m->phase = TR_STORE;
        if (serve_batch_begun(b) && (ctx = tr_ctx(m, c, &slot))) {
            serve_batch_finish(b, ctx);
            serve_ctx_give(g, slot);
        }
    }
    if (m->phase == TR_STORE && w->diag.code == ITX_OK && !itx_cancel_requested(c)) {
        bool any = false;
        m->phase = TR_ANSWER;
        for (size_t i = 0; i < n; i++)
            any |= b->p[i].have_res;
        if (any && serve_store_waits(g))
            return tr_wait(m, TR_IO_STORE, TR_ANSWER);
        serve_batch_store(b);
    }
    if (itx_cancel_requested(c)) {
        itx_diag_set(&w->diag, cancel_status((void *)c), "cancelled");
    } else if (w->diag.code == ITX_OK) {
        serve_batch_account(b);
        itx_buf_puts(&w->reply, "{\"request_id\":");
        itx_buf_json_str(&w->reply, w->request_id);
        itx_buf_puts(&w->reply, ",\"images\":[");
        for (size_t i = 0; i < n; i++) {
            itx_buf_printf(&w->reply, "%s{\"index\":%zu", i ? "," : "", i);
            answer_pic(b, &b->p[i], &w->reply);
            itx_buf_puts(&w->reply, "}");
        }
        if (itx_buf_puts(&w->reply, "]}") != ITX_OK)
            itx_diag_set(&w->diag, ITX_ERR_TOO_LARGE, "the answer is over its 64 MiB limit");
    }
    return ITX_SERVER_STEP_DONE;
}

static void
tr_destroy(struct itx_server_work *w)
{
    struct tr_work *m = (struct tr_work *)w;
    serve_batch_release(&m->b);
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
    serve_jobs_help(&b);
    fprintf(f,
            "usage: itx serve [--setting value]...\n\n"
            "Runs the HTTP service: /healthz, /readyz, /metrics, /openapi.json, /files/ (local\n"
            "store), POST /v1/translate (the translation pipeline on the worker pool; results\n"
            "are stored content-addressed, so a repeated picture is answered from the store)\n"
            "and /v1/jobs (batches in a durable queue, ITX_DATABASE_URL; docs/jobs.md).\n"
            "/readyz turns 200 once the OCR models are loaded, every worker's context is warm\n"
            "and the result and job stores answer.\n"
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

    g->m_images =
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_images_total",
                        "Pictures answered, by result (translated, cached)", "result", NULL, 0);
    g->m_failed =
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_images_failed_total",
                        "Pictures answered with an error, by error code", "reason", NULL, 0);
    g->m_hits =
        itx_metric_series(itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_cache_hits_total",
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

/* Waits for SIGTERM or SIGINT, then: no new claims and readiness off at once, in-flight
 * requests and job items get the grace period, then everything stops. */
static void
wait_and_stop(struct glue *g, struct itx_server *srv, long grace_ms)
{
    sigset_t set;
    int sig = 0;
    double deadline;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (sigwait(&set, &sig) != 0)
        ;
    itx_log(ITX_LOG_NOTICE, NULL, NULL, "received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    deadline = itx_now_ms() + (double)grace_ms;
    if (g->jobs)
        serve_jobs_stop_claiming(g->jobs);
    itx_server_drain(srv);
    itx_server_stop(srv);
    io_stop(g);
    if (g->jobs)
        serve_jobs_stop(g->jobs, deadline);
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int
itx_cli_serve(int argc, char **argv)
{
    struct itx_server_config cfg;
    struct itx_store_config sc;
    struct itx_pipeline_config pc = {0};
    struct itx_fetch_allow_list allow = {0};
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
    snprintf(cfg.version, sizeof(cfg.version), "%s+%.12s", ITX_VERSION, itx_cli_engine());
    if (itx_server_config_load(&cfg, argc, argv, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_log_error("bad setting: %s", d.msg);
        return 2;
    }
    if (itx_store_config_from_env(&sc, &d) != ITX_OK ||
        itx_tr_config_from_env(&pc.tr, &d) != ITX_OK ||
        itx_fetch_opts_from_env(&g.fetch, &allow, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_fetch_allow_list_release(&allow);
        return 2;
    }
    if (pc.tr.glossary_path) {
        /* results depend on the server glossary: its hash joins the result key */
        char h[65];
        if (itx_sha256_file(pc.tr.glossary_path, h, &d) != ITX_OK) {
            fprintf(stderr, "itx serve: ITX_GLOSSARY_FILE: %s\n", d.msg);
            itx_fetch_allow_list_release(&allow);
            return 2;
        }
        snprintf(g.server_gloss, sizeof(g.server_gloss), "sha256:%s", h);
    }
    if (sc.kind != ITX_STORE_LOCAL)
        cfg.files_dir[0] = '\0';
    else
        sc.dir = cfg.files_dir; /* --files-dir and ITX_STORE_DIR name the same directory */
    if (itx_store_open(&sc, &store, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_fetch_allow_list_release(&allow);
        return 2;
    }
    g.store = store;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    pthread_mutex_init(&g.io_mu, NULL);
    pthread_cond_init(&g.io_cv, NULL);
    /* the job store before the pipeline: the translator keeps its cache there */
    if (serve_jobs_new(&g, cfg.files_dir, cfg.workers, &g.jobs, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        rc = 2;
        goto out;
    }
    pc.tr.cache = serve_jobs_tr_cache(g.jobs);
    /* the models and the translator: a missing model or key stops start-up */
    pc.fetch = &g.fetch;
    pc.ocr_threads = 1;
    if (itx_image_init(&d) != ITX_OK || itx_fetch_global_init(&d) != ITX_OK ||
        itx_pipeline_new(&pc, &g.pl, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        rc = 2;
        goto out;
    }
    g.provider = itx_tr_provider_str(pc.tr.provider);
    g.model = pc.tr.model && pc.tr.model[0] ? pc.tr.model : "default";
    g.n_ctx = (size_t)cfg.workers;
    g.ctx = itx_calloc(g.n_ctx, sizeof(*g.ctx));
    g.busy = itx_calloc(g.n_ctx, sizeof(*g.busy));
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
        serve_jobs_routes(g.jobs, &p);
        itx_cli_serve_web_plug(&p, srv, store);
        itx_server_set_pipeline(srv, &p);
    }
    itx_server_add_warmup(srv, "ocr-models", warm_pool, &g);
    itx_server_add_ready_check(srv, "storage", store_ready, store);
    if (io_start(&g, &d) != ITX_OK || itx_server_start(srv, &d) != ITX_OK ||
        serve_jobs_start(g.jobs, &d) != ITX_OK)
        goto out;
    wait_and_stop(&g, srv, cfg.grace_ms);
    rc = 0;
out:
    if (rc == 1)
        itx_log_error("itx serve: %s", d.msg);
    if (rc != 0 && g.jobs)
        serve_jobs_stop(g.jobs, itx_now_ms());
    if (rc != 0)
        io_stop(&g);
    itx_server_free(srv);
    for (size_t i = 0; g.ctx && i < g.n_ctx; i++)
        itx_pipeline_ctx_free(g.ctx[i]);
    itx_free(g.ctx);
    itx_free(g.busy);
    itx_pipeline_free(g.pl); /* before the job store: the translator borrows its cache */
    serve_jobs_free(g.jobs);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.io_cv);
    pthread_mutex_destroy(&g.io_mu);
    itx_store_free(store);
    itx_fetch_allow_list_release(&allow);
    return rc;
}
