/*
 * itx serve: POST /v1/render, the glue behind the web page's "re-render" (docs/web.md).
 *
 * A render names a stored result (the key in its url) and edits some of its regions. On a
 * worker it reads the result's regions file from the store, applies the edits, and looks the
 * edited result up by its own content-addressed key (the edited regions, the key it came
 * from, the format and quality); when it is not there yet it reads the text-free
 * background, redraws it with itx_pipeline_redraw (no OCR, no translation), encodes and
 * stores the picture, the background and the regions under the new key, so an edited result
 * can itself be edited again. The answer has the new picture's URL and the merged regions.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve-impl.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "render/render.h"
#include "server/server.h"
#include "store/store.h"

/* A free render context: created on a worker when none is free, kept for the next render,
 * so there are never more than the workers that rendered at the same time. */
struct rc_slot {
    struct itx_render_ctx *rc;
    struct rc_slot *next;
};

struct web_glue {
    struct itx_server *srv;
    struct itx_store *store;
    pthread_mutex_t mu;
    struct rc_slot *free_rc;
    struct itx_metric *m_renders; /* itx_renders_total{result} */
};

struct render_work {
    struct itx_server_work w; /* first */
    struct web_glue *g;
    struct itx_api_render_request *req;
};

static struct rc_slot *
rc_take(struct web_glue *g, struct itx_diag *d)
{
    struct rc_slot *s;

    pthread_mutex_lock(&g->mu);
    s = g->free_rc;
    if (s)
        g->free_rc = s->next;
    pthread_mutex_unlock(&g->mu);
    if (s)
        return s;
    s = itx_calloc(1, sizeof(*s));
    if (!s) {
        itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a render context");
        return NULL;
    }
    if (itx_render_ctx_new(&s->rc, d) != ITX_OK) {
        itx_free(s);
        return NULL;
    }
    return s;
}

static void
rc_give(struct web_glue *g, struct rc_slot *s)
{
    pthread_mutex_lock(&g->mu);
    s->next = g->free_rc;
    g->free_rc = s;
    pthread_mutex_unlock(&g->mu);
}

static void
glue_free(void *ud)
{
    struct web_glue *g = ud;
    while (g->free_rc) {
        struct rc_slot *s = g->free_rc;
        g->free_rc = s->next;
        itx_render_ctx_free(s->rc);
        itx_free(s);
    }
    pthread_mutex_destroy(&g->mu);
    itx_free(g);
}

static const char *
ext_of(const char *format)
{
    return strcmp(format, "jpeg") == 0 ? "jpg" : format;
}

/* Applies the edits to the stored regions (root is the stored regions JSON). */
static enum itx_status
apply_edits(json_t *root, const struct itx_api_render_request *r, struct itx_diag *d)
{
    json_t *regions = json_object_get(root, "regions");
    json_t **by_id = NULL;
    enum itx_status st = ITX_OK;
    size_t n;

    if (!json_is_array(regions))
        return itx_diag_set(d, ITX_ERR_INTERNAL, "the stored regions of %.12s have no array",
                            r->background);
    /* ids are below ITX_API_RENDER_MAX_EDITS (the parser checks edits; the pipeline writes
     * at most that many regions): an index makes each edit one lookup */
    by_id = itx_calloc(ITX_API_RENDER_MAX_EDITS, sizeof(*by_id));
    if (!by_id)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the regions index");
    n = json_array_size(regions);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(regions, i), *id = json_object_get(x, "id");
        if (json_is_integer(id) && json_integer_value(id) >= 0 &&
            json_integer_value(id) < ITX_API_RENDER_MAX_EDITS)
            by_id[json_integer_value(id)] = x;
    }
    for (size_t e = 0; e < r->n_edits && st == ITX_OK; e++) {
        const struct itx_api_region_edit *ed = &r->edits[e];
        json_t *reg = by_id[ed->id], *blk;
        if (!reg) {
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "regions[%zu]: the result has no region with id %ld (it has %zu "
                              "regions)",
                              e, ed->id, n);
            break;
        }
        blk = json_object_get(reg, "block");
        if (!json_is_integer(blk) || json_integer_value(blk) < 0) {
            const char *why = json_string_value(json_object_get(reg, "skip"));
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "regions[%zu]: region %ld was not translated (skipped: %s), so "
                              "it is not drawn and cannot be edited",
                              e, ed->id, why && why[0] ? why : "unknown");
            break;
        }
        if ((ed->translation &&
             json_object_set_new(reg, "translation", json_string(ed->translation)) != 0) ||
            (ed->color[0] && json_object_set_new(reg, "color", json_string(ed->color)) != 0) ||
            (ed->font_size >= 0 &&
             json_object_set_new(reg, "font_size", json_real(ed->font_size)) != 0))
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory editing region %ld", ed->id);
    }
    itx_free(by_id);
    return st;
}

/* The work proper; returns with w->reply or w->diag set. */
static void
render(struct render_work *m, const struct itx_cancel *c)
{
    struct itx_server_work *w = &m->w;
    struct itx_diag *d = &w->diag;
    struct web_glue *g = m->g;
    const struct itx_api_render_request *r = m->req;
    uint8_t *stored = NULL, *bg_png = NULL, *pic = NULL;
    size_t stored_len = 0, bg_len = 0, pic_len = 0;
    json_t *root = NULL;
    json_error_t je;
    char *merged = NULL, *arr = NULL;
    char obj[320], leaf[32], key[65], q[16];
    const char *fmt;
    struct itx_image *bg = NULL, *out = NULL;
    struct rc_slot *slot = NULL;
    enum itx_image_format f;
    bool exists = false;
    double t0 = itx_now_ms();

    if (itx_store_cache_name(r->background, "regions.json", obj, sizeof(obj), d) != ITX_OK)
        goto out;
    if (itx_store_get(g->store, obj, &stored, &stored_len, d) != ITX_OK) {
        if (d->code == ITX_ERR_NOT_FOUND)
            itx_diag_set(d, ITX_ERR_NOT_FOUND,
                         "no stored result with key %.12s...: translate the picture first (or "
                         "it was removed from the store)",
                         r->background);
        goto out;
    }
    root = json_loadb((const char *)stored, stored_len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_string(json_object_get(root, "format"))) {
        itx_diag_set(d, ITX_ERR_INTERNAL, "the stored regions of %.12s are not valid",
                     r->background);
        goto out;
    }
    if (apply_edits(root, r, d) != ITX_OK)
        goto out;
    fmt = r->output_format ? r->output_format : json_string_value(json_object_get(root, "format"));
    f = itx_image_format_parse(fmt);
    if (f == ITX_IMAGE_FORMAT_UNKNOWN) {
        itx_diag_set(d, ITX_ERR_INTERNAL, "the stored result %.12s has an unknown format '%s'",
                     r->background, fmt);
        goto out;
    }
    if (json_object_set_new(root, "format", json_string(itx_image_format_name(f))) != 0 ||
        !(merged = json_dumps(root, JSON_COMPACT))) {
        itx_diag_set(d, ITX_ERR_NOMEM, "out of memory writing the edited regions");
        goto out;
    }
    fmt = itx_image_format_name(f);
    snprintf(q, sizeof(q), "%ld", r->jpeg_quality);
    {
        const struct itx_store_setting set[] = {{"v", "render-1"},
                                                {"engine", itx_cli_engine()},
                                                {"from", r->background},
                                                {"format", fmt},
                                                {"quality", q}};
        if (itx_store_cache_key(merged, strlen(merged), set, sizeof(set) / sizeof(set[0]), key,
                                d) != ITX_OK)
            goto out;
    }
    snprintf(leaf, sizeof(leaf), "final.%s", ext_of(fmt));
    if (itx_store_cache_name(key, "regions.json", obj, sizeof(obj), d) != ITX_OK ||
        itx_store_head(g->store, obj, &exists, NULL, d) != ITX_OK)
        goto out;
    if (!exists) {
        if (itx_cancel_requested(c))
            goto cancelled;
        if (itx_store_cache_name(r->background, "background.png", obj, sizeof(obj), d) != ITX_OK)
            goto out;
        if (itx_store_get(g->store, obj, &bg_png, &bg_len, d) != ITX_OK) {
            if (d->code == ITX_ERR_NOT_FOUND)
                itx_diag_set(d, ITX_ERR_NOT_FOUND,
                             "the result %.12s... has no stored background (it was translated "
                             "with options.background false)",
                             r->background);
            goto out;
        }
        if (itx_image_decode(bg_png, bg_len, NULL, &bg, NULL, d) != ITX_OK)
            goto out;
        if (itx_cancel_requested(c))
            goto cancelled;
        if (!(slot = rc_take(g, d)))
            goto out;
        if (itx_pipeline_redraw(slot->rc, bg, merged, strlen(merged), &out, d) != ITX_OK) {
            itx_diag_prefix(d, "edited regions");
            goto out;
        }
        rc_give(g, slot);
        slot = NULL;
        itx_server_observe_stage(g->srv, "redraw", (itx_now_ms() - t0) / 1000.0);
        if (itx_cancel_requested(c))
            goto cancelled;
        t0 = itx_now_ms();
        if (itx_image_encode(out, f, (int)r->jpeg_quality, &pic, &pic_len, d) != ITX_OK)
            goto out;
        itx_server_observe_stage(g->srv, "encode", (itx_now_ms() - t0) / 1000.0);
        /* the regions file last: its presence says the whole result is stored */
        if (itx_store_cache_name(key, leaf, obj, sizeof(obj), d) != ITX_OK ||
            serve_put_once(g->store, obj, pic, pic_len, itx_image_format_mime(f), d) != ITX_OK ||
            itx_store_cache_name(key, "background.png", obj, sizeof(obj), d) != ITX_OK ||
            serve_put_once(g->store, obj, bg_png, bg_len, "image/png", d) != ITX_OK ||
            itx_store_cache_name(key, "regions.json", obj, sizeof(obj), d) != ITX_OK ||
            serve_put_once(g->store, obj, merged, strlen(merged), "application/json", d) != ITX_OK)
            goto out;
    }
    itx_buf_puts(&w->reply, "{\"request_id\":");
    itx_buf_json_str(&w->reply, w->request_id);
    itx_buf_printf(&w->reply, ",\"key\":\"%s\",\"source_key\":\"%s\"", key, r->background);
    if (serve_append_url(g->store, key, leaf, "url", &w->reply, d) != ITX_OK ||
        serve_append_url(g->store, key, "background.png", "background_url", &w->reply, d) != ITX_OK)
        goto out;
    itx_buf_printf(&w->reply, ",\"format\":\"%s\",\"width\":%lld,\"height\":%lld,\"cached\":%s",
                   fmt, (long long)json_integer_value(json_object_get(root, "width")),
                   (long long)json_integer_value(json_object_get(root, "height")),
                   exists ? "true" : "false");
    if (!(arr = json_dumps(json_object_get(root, "regions"), JSON_COMPACT))) {
        itx_diag_set(d, ITX_ERR_NOMEM, "out of memory writing the regions");
        goto out;
    }
    itx_buf_puts(&w->reply, ",\"regions\":");
    itx_buf_puts(&w->reply, arr);
    if (itx_buf_puts(&w->reply, "}") != ITX_OK)
        itx_diag_set(d, ITX_ERR_TOO_LARGE, "the answer is over its 64 MiB limit");
    itx_metric_add(
        itx_metric_series(g->m_renders, (const char *const[]){exists ? "cached" : "rendered"}), 1);
    goto out;
cancelled:
    itx_diag_set(d, itx_cancel_reason(c) ? itx_cancel_reason(c) : ITX_ERR_CANCELLED, "cancelled");
out:
    if (slot)
        rc_give(g, slot);
    if (d->code != ITX_OK) {
        struct itx_log_ctx lc = {
            .request_id = w->request_id, .trace = w->trace[0] ? w->trace : NULL, .image = -1};
        itx_metric_add(itx_metric_series(g->m_renders, (const char *const[]){"failed"}), 1);
        itx_log(ITX_LOG_WARNING, &lc, NULL, "render failed: %s", d->msg);
    }
    free(arr);
    free(merged);
    json_decref(root);
    itx_image_free(bg);
    itx_image_free(out);
    itx_free(stored);
    itx_free(bg_png);
    itx_free(pic);
}

static enum itx_server_step
render_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    if (itx_cancel_requested(c))
        itx_diag_set(&w->diag, itx_cancel_reason(c) ? itx_cancel_reason(c) : ITX_ERR_CANCELLED,
                     "cancelled");
    else
        render((struct render_work *)w, c);
    return ITX_SERVER_STEP_DONE;
}

static void
render_destroy(struct itx_server_work *w)
{
    struct render_work *m = (struct render_work *)w;
    itx_api_render_request_free(m->req);
    itx_free(m);
}

/* On an HTTP thread: only builds the work item. */
static enum itx_status
render_new(void *ud, struct itx_api_render_request *req, struct itx_server_work **out,
           struct itx_diag *d)
{
    struct render_work *m = itx_calloc(1, sizeof(*m));

    if (!m) {
        itx_api_render_request_free(req);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the request");
    }
    itx_server_work_init(&m->w, render_run, render_destroy);
    m->g = ud;
    m->req = req;
    *out = &m->w;
    return ITX_OK;
}

void
itx_cli_serve_web_plug(struct itx_server_pipeline *p, struct itx_server *srv,
                       struct itx_store *store)
{
    struct web_glue *g = itx_calloc(1, sizeof(*g));

    if (!g) {
        itx_log_error("out of memory: POST /v1/render is off");
        return;
    }
    g->srv = srv;
    g->store = store;
    pthread_mutex_init(&g->mu, NULL);
    g->m_renders = itx_metrics_add(itx_server_metrics(srv), ITX_METRIC_COUNTER, "itx_renders_total",
                                   "POST /v1/render answers, by result (rendered, cached, failed)",
                                   "result", NULL, 0);
    itx_server_add_cleanup(srv, glue_free, g);
    p->render_ud = g;
    p->render = render_new;
}
