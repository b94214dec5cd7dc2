/*
 * itx serve: /v1/jobs (docs/jobs.md). A job is a durable list of items in the job store
 * (src/jobs: SQLite by default, PostgreSQL to share the queue between instances); one item is
 * one picture, or the pictures of one group (they share a translation call, so they are
 * worked on together). HTTP threads only parse; the database work of a submit, a GET or a
 * cancel runs on the worker pool as a short work item, and a submit's uploads are stored by
 * an I/O thread when the store is s3 or gcs. Runner threads (one per worker) claim
 * items when a pipeline context is free, fetch the pictures before taking one, run the same
 * per-picture code as /v1/translate (serve.c), and complete the item first-wins. A heartbeat
 * thread keeps their leases alive and publishes the stage; a killed instance's items are
 * claimed again when their lease runs out.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve-impl.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"
#include "translate/translate.h"

/* One runner thread and the item it works on. */
struct runner {
    struct serve_jobs *sj;
    size_t i;
    pthread_t th;
    bool started;
    char worker_id[160];
    pthread_mutex_t mu; /* guards the members below */
    struct itx_jobs_item *it;
    const char *stage;
    double progress;
    bool dirty;
    double last_hb;
    struct itx_cancel cancel;
    atomic_bool lost; /* the heartbeat found the job cancelled or the item taken over */
};

struct serve_jobs {
    struct glue *g;
    struct itx_jobs *db;
    struct itx_tr_cache *tr_cache;
    struct itx_webhooks *wh;
    char instance[128];  /* host:pid, the owner of this instance's webhook claims */
    atomic_int wh_held;  /* webhook notices this instance claimed and has not finished */
    char url_shown[512]; /* the database URL without its password */
    unsigned lease_s;
    long hb_ms, poll_ms;
    long wh_sweep_ms; /* how often the keeper looks for webhooks waiting for an owner */
    long retention_days;
    size_t n_runners;
    struct runner *runners;
    pthread_t keeper;
    bool keeper_started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a job was submitted here, or stopping */
    atomic_bool stop_claims, stop, cancel_all;
    atomic_int busy;
    struct itx_metric_series *m_submitted, *m_queue, *m_running, *m_busy;
    struct itx_metric *m_items, *m_items_failed, *m_webhooks;
};

/* ---- settings ------------------------------------------------------------------------- */

void
serve_jobs_help(struct itx_buf *out)
{
    itx_buf_puts(
        out, "\nJobs (/v1/jobs; environment only):\n"
             "  ITX_DATABASE_URL        job store: sqlite:PATH or postgres://user@host:port/db\n"
             "                          (default: sqlite: itx-jobs.db next to the local store's\n"
             "                          directory, else in ITX_DATA_DIR, default 'data')\n"
             "  ITX_DATA_DIR            where the default SQLite job store lives (default data)\n"
             "  ITX_JOB_LEASE_S         lease of a claimed item, s (3..3600, default 30);\n"
             "                          heartbeats every third of it\n"
             "  ITX_JOB_POLL_MS         idle wait between claims when the queue is empty\n"
             "                          (20..60000, default 500)\n"
             "  ITX_JOB_MAX_ATTEMPTS    claims of one item before it fails (1..20, default 5)\n"
             "  ITX_JOB_RETENTION_DAYS  finished jobs are deleted after this (0 = keep; 0..3650,\n"
             "                          default 7)\n"
             "  ITX_WEBHOOK_ATTEMPTS    attempts per webhook (1..20, default 6)\n"
             "  ITX_WEBHOOK_BACKOFF_MS  wait after the first failed attempt, doubled each time\n"
             "                          with jitter (10..600000, default 1000)\n"
             "  ITX_WEBHOOK_TIMEOUT_MS  one webhook attempt (100..120000, default 10000)\n");
}

static enum itx_status
env_long(const char *name, long def, long min, long max, long *out, struct itx_diag *d)
{
    long long v;
    enum itx_status st = itx_env_int(name, def, min, max, &v, d);
    if (st == ITX_OK)
        *out = (long)v;
    return st;
}

/* Readiness: the job store answers. */
static enum itx_status
jobs_ready(void *ud, struct itx_diag *d)
{
    struct serve_jobs *sj = ud;
    int64_t now;
    enum itx_status st = itx_jobs_now_ms(sj->db, &now, d);
    if (st != ITX_OK)
        itx_diag_prefix(d, "job store %s", sj->url_shown);
    return st;
}

static void
webhook_done(void *arg, const char *id, bool delivered, unsigned attempts, const char *msg)
{
    struct serve_jobs *sj = arg;
    struct itx_log_ctx lc = {.job_id = id, .image = -1, .stage = "webhook"};
    struct itx_diag d;

    itx_diag_init(&d);
    itx_metric_add(itx_metric_series(sj->m_webhooks,
                                     (const char *const[]){delivered ? "delivered" : "failed"}),
                   1);
    itx_log(delivered ? ITX_LOG_INFO : ITX_LOG_WARNING, &lc, NULL,
            delivered ? "webhook delivered after %u attempt(s)"
                      : "webhook failed after %u attempt(s): %s",
            attempts, msg ? msg : "");
    if (itx_jobs_webhook_done(sj->db, id, sj->instance, delivered ? "delivered" : "failed", &d) !=
        ITX_OK)
        itx_log(ITX_LOG_WARNING, &lc, NULL, "cannot record the webhook outcome: %s", d.msg);
    atomic_fetch_sub(&sj->wh_held, 1);
}

enum itx_status
serve_jobs_new(struct glue *g, const char *files_dir, long workers, struct serve_jobs **out,
               struct itx_diag *d)
{
    struct serve_jobs *sj = itx_calloc(1, sizeof(*sj));
    struct itx_jobs_opts jo = {0};
    struct itx_webhook_opts wo = {0};
    char url[1100];
    long lease = 0, attempts = 0, wh_attempts = 0, wh_backoff = 0, wh_timeout = 0;
    enum itx_status st;

    if (!sj)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the job runner");
    sj->g = g;
    pthread_mutex_init(&sj->mu, NULL);
    pthread_cond_init(&sj->cv, NULL);
    if ((st = env_long("ITX_JOB_LEASE_S", 30, 3, 3600, &lease, d)) != ITX_OK ||
        (st = env_long("ITX_JOB_POLL_MS", 500, 20, 60000, &sj->poll_ms, d)) != ITX_OK ||
        (st = env_long("ITX_JOB_MAX_ATTEMPTS", 5, 1, 20, &attempts, d)) != ITX_OK ||
        (st = env_long("ITX_JOB_RETENTION_DAYS", 7, 0, 3650, &sj->retention_days, d)) != ITX_OK ||
        (st = env_long("ITX_WEBHOOK_ATTEMPTS", 6, 1, 20, &wh_attempts, d)) != ITX_OK ||
        (st = env_long("ITX_WEBHOOK_BACKOFF_MS", 1000, 10, 600000, &wh_backoff, d)) != ITX_OK ||
        (st = env_long("ITX_WEBHOOK_TIMEOUT_MS", 10000, 100, 120000, &wh_timeout, d)) != ITX_OK)
        goto fail;
    sj->lease_s = (unsigned)lease;
    sj->hb_ms = lease * 1000 / 3;
    sj->wh_sweep_ms = sj->poll_ms > 1000 ? sj->poll_ms : 1000;
    {
        char host[64] = "itx";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(sj->instance, sizeof(sj->instance), "%s:%ld", host, (long)getpid());
    }
    if ((st = itx_cli_jobs_url(files_dir, url, sizeof(url), d)) != ITX_OK)
        goto fail;
    itx_cli_redact_url(url, sj->url_shown, sizeof(sj->url_shown));
    /* connections: the runners (up to twice the workers), the heartbeat thread and the
     * short requests of as many workers, at most 64 (the store's limit) */
    jo.pool_size = (unsigned)(workers > 0 && workers < 20 ? 3 * workers + 4 : 64);
    jo.max_attempts = (unsigned)attempts;
    st = itx_jobs_open(url, &jo, &sj->db, d);
    if (st != ITX_OK) {
        itx_diag_prefix(d, "cannot open the job store %s (ITX_DATABASE_URL)", sj->url_shown);
        goto fail;
    }
    if ((st = itx_jobs_tr_cache_new(sj->db, &sj->tr_cache, d)) != ITX_OK)
        goto fail;
    wo.max_attempts = (unsigned)wh_attempts;
    wo.backoff_base_ms = (unsigned)wh_backoff;
    wo.timeout_ms = wh_timeout;
    wo.done = webhook_done;
    wo.done_arg = sj;
    if ((st = itx_webhooks_new(&wo, &sj->wh, d)) != ITX_OK)
        goto fail;
    itx_log_info("job store: %s (%s), lease %u s", sj->url_shown, itx_jobs_backend(sj->db),
                 sj->lease_s);
    *out = sj;
    return ITX_OK;
fail:
    serve_jobs_free(sj);
    return st;
}

struct itx_tr_cache *
serve_jobs_tr_cache(struct serve_jobs *j)
{
    return j ? j->tr_cache : NULL;
}

/* ---- job documents -------------------------------------------------------------------- */

/* A job's settings, read back from its JSON (strings point into root). */
struct job_settings {
    json_t *root;
    struct tr_settings set;
    struct itx_api_glossary_entry *gl;
};

static void
job_settings_release(struct job_settings *js)
{
    json_decref(js->root);
    itx_free(js->gl);
    memset(js, 0, sizeof(*js));
}

static enum itx_status
job_settings_parse(const char *text, struct job_settings *js, struct itx_diag *d)
{
    json_t *gl;

    memset(js, 0, sizeof(*js));
    js->root = json_loads(text ? text : "{}", 0, NULL);
    if (!json_is_object(js->root))
        return itx_diag_set(d, ITX_ERR_INTERNAL, "the job's settings are not a JSON object");
    js->set.source_lang = json_string_value(json_object_get(js->root, "source_lang"));
    js->set.target_lang = json_string_value(json_object_get(js->root, "target_lang"));
    js->set.provider = json_string_value(json_object_get(js->root, "provider"));
    js->set.output_format = json_string_value(json_object_get(js->root, "output_format"));
    js->set.jpeg_quality = (long)json_integer_value(json_object_get(js->root, "jpeg_quality"));
    js->set.background = json_is_true(json_object_get(js->root, "background"));
    js->set.regions = json_is_true(json_object_get(js->root, "regions"));
    js->set.qa = json_is_true(json_object_get(js->root, "qa"));
    gl = json_object_get(js->root, "glossary");
    if (json_array_size(gl)) {
        js->gl = itx_calloc(json_array_size(gl), sizeof(*js->gl));
        if (!js->gl)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the glossary");
        for (size_t i = 0; i < json_array_size(gl); i++) {
            json_t *e = json_array_get(gl, i);
            js->gl[i].source = (char *)json_string_value(json_object_get(e, "source"));
            js->gl[i].target = (char *)json_string_value(json_object_get(e, "target"));
            if (!js->gl[i].source)
                return itx_diag_set(d, ITX_ERR_INTERNAL, "glossary entry %zu has no source", i);
        }
        js->set.glossary = js->gl;
        js->set.n_glossary = json_array_size(gl);
    }
    return ITX_OK;
}

static void
put_opt_str(struct itx_buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    itx_buf_printf(b, ",\"%s\":", key);
    itx_buf_json_str(b, v);
}

/* The settings JSON of a request (what the runner reads back). */
static void
job_settings_write(const struct itx_api_request *r, struct itx_buf *b)
{
    itx_buf_printf(b, "{\"jpeg_quality\":%ld,\"background\":%s,\"regions\":%s,\"qa\":%s",
                   r->jpeg_quality, r->background ? "true" : "false", r->regions ? "true" : "false",
                   r->qa ? "true" : "false");
    put_opt_str(b, "source_lang", r->source_lang);
    put_opt_str(b, "target_lang", r->target_lang);
    put_opt_str(b, "provider", r->provider);
    put_opt_str(b, "output_format", r->output_format);
    if (r->n_glossary) {
        itx_buf_puts(b, ",\"glossary\":[");
        for (size_t i = 0; i < r->n_glossary; i++) {
            itx_buf_puts(b, i ? ",{\"source\":" : "{\"source\":");
            itx_buf_json_str(b, r->glossary[i].source);
            itx_buf_puts(b, ",\"target\":");
            if (r->glossary[i].target)
                itx_buf_json_str(b, r->glossary[i].target);
            else
                itx_buf_puts(b, "null");
            itx_buf_puts(b, "}");
        }
        itx_buf_puts(b, "]");
    }
    itx_buf_puts(b, "}");
}

/* One picture's entry in GET, indexed by its position in the job. */
struct img_view {
    const struct itx_job_item *item;
    json_t *src;    /* the picture in the item's options */
    json_t *result; /* its entry in the item's result, or NULL */
};

static const char *
view_state(const struct img_view *v)
{
    if (v->item->state == ITX_JOB_SUCCEEDED && json_object_get(v->result, "error"))
        return "failed";
    if (v->item->state == ITX_JOB_SUCCEEDED && !v->result)
        return "failed";
    return itx_job_state_str(v->item->state);
}

/*
 * The job document of GET, of a submit and of the webhook: state, counts per image state,
 * and per image its state, stage, progress, attempts, error or result (the same members as
 * /v1/translate's images).
 */
static enum itx_status
job_json(struct serve_jobs *sj, const struct itx_job *j, struct itx_buf *out, struct itx_diag *d)
{
    struct job_settings js;
    json_t **opts = NULL, **res = NULL;
    struct img_view *v = NULL;
    size_t n = 0, counts[6] = {0};
    const char *state = itx_job_state_str(j->state);
    char *wh_state = NULL;
    enum itx_status st;

    if ((st = job_settings_parse(j->settings, &js, d)) != ITX_OK)
        goto out;
    opts = itx_calloc(j->n_items ? j->n_items : 1, sizeof(*opts));
    res = itx_calloc(j->n_items ? j->n_items : 1, sizeof(*res));
    if (!opts || !res) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for job '%s'", j->id);
        goto out;
    }
    for (size_t i = 0; i < j->n_items; i++) {
        opts[i] = json_loads(j->items[i].options ? j->items[i].options : "{}", 0, NULL);
        res[i] = j->items[i].result ? json_loads(j->items[i].result, 0, NULL) : NULL;
        n += json_array_size(json_object_get(opts[i], "images"));
    }
    if (!(v = itx_calloc(n ? n : 1, sizeof(*v)))) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for job '%s'", j->id);
        goto out;
    }
    for (size_t i = 0; i < j->n_items; i++) {
        json_t *ims = json_object_get(opts[i], "images");
        for (size_t k = 0; k < json_array_size(ims); k++) {
            json_t *im = json_array_get(ims, k);
            json_int_t idx = json_integer_value(json_object_get(im, "index"));
            if (idx < 0 || (size_t)idx >= n || v[idx].item)
                continue;
            v[idx].item = &j->items[i];
            v[idx].src = im;
            for (size_t r = 0; r < json_array_size(res[i]); r++) {
                json_t *e = json_array_get(res[i], r);
                if (json_integer_value(json_object_get(e, "index")) == idx)
                    v[idx].result = e;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        enum itx_job_state s;
        if (v[i].item && itx_job_state_parse(view_state(&v[i]), &s))
            counts[s]++;
    }
    /* the store's state counts items; a group that succeeded with a failed picture in it
     * makes the job partially failed */
    if (j->state == ITX_JOB_SUCCEEDED && counts[ITX_JOB_FAILED])
        state = counts[ITX_JOB_SUCCEEDED] ? "partially_failed" : "failed";
    itx_buf_puts(out, "{\"id\":");
    itx_buf_json_str(out, j->id);
    itx_buf_printf(out, ",\"state\":\"%s\",\"created_ms\":%lld,\"updated_ms\":%lld", state,
                   (long long)j->created_ms, (long long)j->updated_ms);
    if (j->finished_ms)
        itx_buf_printf(out, ",\"finished_ms\":%lld", (long long)j->finished_ms);
    itx_buf_printf(out,
                   ",\"counts\":{\"images\":%zu,\"queued\":%zu,\"running\":%zu,\"succeeded\":%zu,"
                   "\"failed\":%zu,\"cancelled\":%zu}",
                   n, counts[ITX_JOB_QUEUED], counts[ITX_JOB_RUNNING], counts[ITX_JOB_SUCCEEDED],
                   counts[ITX_JOB_FAILED], counts[ITX_JOB_CANCELLED]);
    if (j->webhook_url) {
        struct itx_diag wd;
        itx_diag_init(&wd);
        itx_jobs_webhook_state(sj->db, j->id, &wh_state, &wd);
        itx_buf_puts(out, ",\"webhook\":{\"url\":");
        itx_buf_json_str(out, j->webhook_url);
        itx_buf_puts(out, ",\"state\":");
        itx_buf_json_str(out, wh_state ? wh_state : "pending");
        itx_buf_puts(out, "}");
    }
    itx_buf_puts(out, ",\"images\":[");
    for (size_t i = 0; i < n; i++) {
        const struct itx_job_item *it = v[i].item;
        const char *name = json_string_value(json_object_get(v[i].src, "name"));
        const char *group = json_string_value(json_object_get(v[i].src, "group"));
        const char *vs;
        itx_buf_printf(out, "%s{\"index\":%zu", i ? "," : "", i);
        if (!it) {
            serve_image_error(out, ITX_ERR_INTERNAL, "the job has no item for this image");
            itx_buf_puts(out, "}");
            continue;
        }
        vs = view_state(&v[i]);
        put_opt_str(out, "name", name);
        put_opt_str(out, "group", group);
        itx_buf_printf(out, ",\"state\":\"%s\"", vs);
        put_opt_str(out, "stage", it->stage);
        itx_buf_printf(out, ",\"progress\":%.3f,\"attempts\":%u", it->progress, it->attempts);
        if (strcmp(vs, "succeeded") == 0) {
            struct itx_diag ad;
            const char *key = json_string_value(json_object_get(v[i].result, "key"));
            size_t mark = out->len;
            itx_diag_init(&ad);
            itx_buf_printf(out, ",\"cached\":%s,\"pipeline_ms\":%.1f",
                           json_is_true(json_object_get(v[i].result, "hit")) ? "true" : "false",
                           json_number_value(json_object_get(v[i].result, "ms")));
            if (!key || serve_answer(sj->g, &js.set, key, v[i].result, out, &ad) != ITX_OK) {
                out->len = mark;
                serve_image_error(out, key ? ad.code : ITX_ERR_INTERNAL,
                                  key ? ad.msg : "the stored result has no key");
            }
        } else if (json_object_get(v[i].result, "error")) {
            json_t *e = json_object_get(v[i].result, "error");
            char *txt = json_dumps(e, JSON_COMPACT);
            if (txt) {
                itx_buf_puts(out, ",\"error\":");
                itx_buf_puts(out, txt);
                free(txt);
            }
        } else if (it->error_code && (it->state == ITX_JOB_FAILED || it->state == ITX_JOB_QUEUED ||
                                      strcmp(vs, "failed") == 0)) {
            enum itx_status es = ITX_ERR_INTERNAL;
            for (int c = 1; c < ITX_STATUS_COUNT; c++)
                if (strcmp(itx_err_str((enum itx_status)c), it->error_code) == 0)
                    es = (enum itx_status)c;
            /* a queued item with an error is waiting to be tried again: the last error */
            serve_image_error(out, es, it->error_msg);
        }
        itx_buf_puts(out, "}");
    }
    if (itx_buf_puts(out, "]}") != ITX_OK)
        st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "the job document is over its limit");
out:
    for (size_t i = 0; opts && i < j->n_items; i++) {
        json_decref(opts[i]);
        if (res)
            json_decref(res[i]);
    }
    itx_free(opts);
    itx_free(res);
    itx_free(v);
    itx_free(wh_state);
    job_settings_release(&js);
    return st;
}

/* Sends a finished job's webhook when this instance claims it (the store's claim: one
 * instance at a time; another takes it over when this one dies before the outcome). */
static void
notify(struct serve_jobs *sj, const char *job_id)
{
    struct itx_log_ctx lc = {.job_id = job_id, .image = -1, .stage = "webhook"};
    struct itx_job *j = NULL;
    struct itx_buf b;
    struct itx_diag d;
    bool claimed = false;

    itx_diag_init(&d);
    if (itx_jobs_webhook_claim(sj->db, job_id, sj->instance, sj->lease_s, &claimed, &d) != ITX_OK ||
        !claimed) {
        if (d.code != ITX_OK)
            itx_log(ITX_LOG_WARNING, &lc, NULL, "cannot claim the webhook: %s", d.msg);
        return;
    }
    atomic_fetch_add(&sj->wh_held, 1);
    itx_buf_init(&b, 64u << 20);
    if (itx_jobs_get(sj->db, job_id, &j, &d) == ITX_OK && j->webhook_url &&
        job_json(sj, j, &b, &d) == ITX_OK)
        itx_webhooks_send(sj->wh, job_id, j->webhook_url, b.data, b.len, &d);
    if (d.code != ITX_OK) {
        struct itx_diag dd;
        itx_diag_init(&dd);
        itx_log(ITX_LOG_WARNING, &lc, NULL, "webhook not sent: %s", d.msg);
        itx_jobs_webhook_done(sj->db, job_id, sj->instance, "failed", &dd);
        atomic_fetch_sub(&sj->wh_held, 1);
    }
    itx_job_free(j);
    itx_buf_release(&b);
}

/* ---- POST /v1/jobs -------------------------------------------------------------------- */

/*
 * A submit runs in two steps on a worker: check the request and name its pictures, then
 * (once the uploads are stored) create the job and answer. The uploads' puts between them
 * are inline with a local store and on an I/O thread with s3 or gcs, so no worker waits on
 * the store; the job exists only once every upload is stored, so an accepted job never
 * lacks a picture.
 */
enum submit_phase { SUBMIT_CHECK, SUBMIT_CREATE };

struct submit_work {
    struct itx_server_work w; /* first */
    struct serve_jobs *sj;
    struct itx_api_request *req;
    char *idem;
    enum submit_phase phase;
    char **src; /* per picture: its URL, or "upload:" and its name in the store */
    const struct itx_cancel *c;
    struct serve_io io;
    enum itx_status put_st; /* the uploads' outcome, with put_d */
    struct itx_diag put_d;
};

static const char *
upload_ext(const char *type)
{
    if (type && strcmp(type, "image/jpeg") == 0)
        return "jpg";
    if (type && strcmp(type, "image/webp") == 0)
        return "webp";
    if (type && strcmp(type, "image/gif") == 0)
        return "gif";
    return "png";
}

/* The source of picture i: its URL (checked now, so a bad one is a 400), or the name its
 * bytes are stored under as an upload (content-addressed, create-only; stored by
 * submit_puts). */
static enum itx_status
image_source(struct serve_jobs *sj, const struct itx_api_image *im, size_t i, char **out,
             struct itx_diag *d)
{
    struct glue *g = sj->g;
    char host[256], h[65], name[320];

    if (im->url) {
        if (itx_fetch_url_check(im->url, g->fetch.allow_hosts, g->fetch.n_allow_hosts, host,
                                sizeof(host), d) != ITX_OK)
            return itx_diag_prefix(d, "images[%zu]", i);
        if (!(*out = itx_strdup(im->url)))
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        return ITX_OK;
    }
    itx_sha256_hex(im->data, im->size, h);
    snprintf(name, sizeof(name), "upload:uploads/%.2s/%s.%s", h, h, upload_ext(im->type));
    if (!(*out = itx_strdup(name)))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    return ITX_OK;
}

/* Stores the uploaded pictures; the first failure is kept in put_st and put_d. */
static void
submit_puts(struct submit_work *m, bool stop)
{
    const struct itx_api_request *r = m->req;
    struct itx_store *store = m->sj->g->store;

    m->put_st = ITX_OK;
    itx_diag_init(&m->put_d);
    for (size_t i = 0; i < r->n_images && m->put_st == ITX_OK; i++) {
        const struct itx_api_image *im = &r->images[i];
        if (im->url)
            continue;
        if (stop || itx_cancel_requested(m->c)) {
            m->put_st = itx_diag_set(&m->put_d, ITX_ERR_UNAVAILABLE, "images[%zu] not stored: %s",
                                     i, stop ? "the server is shutting down" : "cancelled");
            break;
        }
        m->put_st = serve_put_once(store, m->src[i] + 7, im->data, im->size,
                                   im->type ? im->type : "image/png", &m->put_d);
        if (m->put_st != ITX_OK)
            itx_diag_prefix(&m->put_d, "storing images[%zu]", i);
    }
}

static void
submit_io_run(struct serve_io *io, bool stop)
{
    submit_puts((struct submit_work *)((char *)io - offsetof(struct submit_work, io)), stop);
}

/* The first step: checks what the parser cannot and names every picture's source. false
 * with w->diag set when the request is refused. */
static bool
submit_check(struct submit_work *m)
{
    struct itx_server_work *w = &m->w;
    struct serve_jobs *sj = m->sj;
    const struct itx_api_request *r = m->req;
    struct tr_settings set;
    size_t n = r->n_images;

    serve_settings_from_request(&set, r);
    if (serve_settings_check(sj->g, &set, &w->diag) != ITX_OK)
        return false;
    if (n == 0) {
        itx_diag_set(&w->diag, ITX_ERR_INVALID, "the request has no images");
        return false;
    }
    if (r->webhook_url) {
        char host[256];
        if (itx_fetch_url_check(r->webhook_url, NULL, 0, host, sizeof(host), &w->diag) != ITX_OK) {
            itx_diag_prefix(&w->diag, "webhook_url");
            return false;
        }
    }
    if (!(m->src = itx_calloc(n, sizeof(*m->src)))) {
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory for %zu images", n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (image_source(sj, &r->images[i], i, &m->src[i], &w->diag) != ITX_OK)
            return false;
    return true;
}

/* The second step: the job from the stored pictures, and the answer. */
static void
submit_create(struct submit_work *m)
{
    struct itx_server_work *w = &m->w;
    struct serve_jobs *sj = m->sj;
    const struct itx_api_request *r = m->req;
    char **src = m->src;
    struct itx_buf settings, canon;
    struct itx_buf *opt = NULL;
    struct itx_jobs_new_item *items = NULL;
    size_t *item_of = NULL, n_items = 0, n = r->n_images;
    struct itx_job *j = NULL;
    char id[33], hash[65];
    bool replayed = false;
    struct itx_log_ctx lc = {.request_id = w->request_id, .image = -1};

    itx_buf_init(&settings, ITX_JOBS_MAX_JSON);
    itx_buf_init(&canon, 64u << 20);
    item_of = itx_calloc(n, sizeof(*item_of));
    opt = itx_calloc(n, sizeof(*opt));
    items = itx_calloc(n, sizeof(*items));
    if (!item_of || !opt || !items) {
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory for %zu images", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        itx_buf_init(&opt[i], ITX_JOBS_MAX_JSON);
    /* one item per picture, or per group of pictures (they share a translation call) */
    for (size_t i = 0; i < n; i++) {
        const char *grp = r->images[i].group;
        size_t k = n_items;
        for (size_t p = 0; grp && p < i; p++) {
            if (r->images[p].group && strcmp(r->images[p].group, grp) == 0) {
                k = item_of[p];
                break;
            }
        }
        if (k == n_items) {
            items[n_items].source = src[i];
            n_items++;
            itx_buf_puts(&opt[k], "{\"images\":[");
        } else {
            itx_buf_puts(&opt[k], ",");
        }
        item_of[i] = k;
        itx_buf_printf(&opt[k], "{\"index\":%zu,\"source\":", i);
        itx_buf_json_str(&opt[k], src[i]);
        put_opt_str(&opt[k], "name", r->images[i].name);
        put_opt_str(&opt[k], "group", r->images[i].group);
        itx_buf_puts(&opt[k], "}");
    }
    for (size_t k = 0; k < n_items; k++) {
        if (itx_buf_puts(&opt[k], "]}") != ITX_OK || !opt[k].data) {
            itx_diag_set(&w->diag, ITX_ERR_TOO_LARGE,
                         "the group of images[%zu] is over the %d-byte limit of one item", k,
                         ITX_JOBS_MAX_JSON);
            goto out;
        }
        items[k].options = opt[k].data;
    }
    /* a group over the pipeline's limit cannot share one call */
    for (size_t k = 0; k < n_items; k++) {
        size_t members = 0, first = n;
        for (size_t i = 0; i < n; i++) {
            if (item_of[i] == k) {
                members++;
                first = first < i ? first : i;
            }
        }
        if (members > ITX_PIPELINE_MAX_GROUP) {
            itx_diag_set(&w->diag, ITX_ERR_TOO_LARGE,
                         "group '%.60s' has %zu images, over the %d of one group",
                         r->images[first].group, members, ITX_PIPELINE_MAX_GROUP);
            goto out;
        }
    }
    job_settings_write(r, &settings);
    /* the body hash: what the job would do, so an identical request replays the job */
    itx_buf_puts(&canon, settings.data);
    for (size_t i = 0; i < n; i++) {
        itx_buf_puts(&canon, "\n");
        itx_buf_json_str(&canon, src[i]);
        itx_buf_json_str(&canon, r->images[i].name ? r->images[i].name : "");
        itx_buf_json_str(&canon, r->images[i].group ? r->images[i].group : "");
    }
    itx_buf_puts(&canon, "\nwebhook=");
    itx_buf_json_str(&canon, r->webhook_url ? r->webhook_url : "");
    if (!canon.data || !settings.data) {
        itx_diag_set(&w->diag, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    itx_sha256_hex(canon.data, canon.len, hash);
    {
        struct itx_jobs_new nj = {.items = items,
                                  .n_items = n_items,
                                  .settings = settings.data,
                                  .webhook_url = r->webhook_url,
                                  .idempotency_key = m->idem,
                                  .body_hash = hash};
        if (itx_jobs_create(sj->db, &nj, id, &replayed, &w->diag) != ITX_OK) {
            if (w->diag.code == ITX_ERR_CONFLICT)
                snprintf(w->code, sizeof(w->code), "idempotency_key_reused");
            goto out;
        }
    }
    lc.job_id = id;
    if (replayed) {
        itx_log(ITX_LOG_INFO, &lc, NULL, "idempotency key replayed: the same job");
    } else {
        itx_metric_add(sj->m_submitted, 1);
        itx_log(ITX_LOG_INFO, &lc, NULL, "job queued: %zu images in %zu items", n, n_items);
        pthread_mutex_lock(&sj->mu);
        pthread_cond_broadcast(&sj->cv);
        pthread_mutex_unlock(&sj->mu);
    }
    if (itx_jobs_get(sj->db, id, &j, &w->diag) != ITX_OK ||
        job_json(sj, j, &w->reply, &w->diag) != ITX_OK)
        goto out;
    w->status = replayed ? 200 : 202;
    snprintf(w->location, sizeof(w->location), "/v1/jobs/%s", id);
out:
    for (size_t i = 0; opt && i < n; i++)
        itx_buf_release(&opt[i]);
    itx_free(item_of);
    itx_free(opt);
    itx_free(items);
    itx_job_free(j);
    itx_buf_release(&settings);
    itx_buf_release(&canon);
}

static enum itx_server_step
submit_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct submit_work *m = (struct submit_work *)w;
    const struct itx_api_request *r = m->req;
    bool uploads = false;

    m->c = c;
    if (itx_cancel_requested(c)) {
        itx_diag_set(&w->diag, ITX_ERR_CANCELLED, "cancelled");
        return ITX_SERVER_STEP_DONE;
    }
    if (m->phase == SUBMIT_CHECK) {
        if (!submit_check(m))
            return ITX_SERVER_STEP_DONE;
        m->phase = SUBMIT_CREATE;
        for (size_t i = 0; i < r->n_images; i++)
            uploads |= r->images[i].url == NULL;
        if (uploads && serve_store_waits(m->sj->g)) {
            m->io.run = submit_io_run;
            m->io.w = w;
            serve_io_push(m->sj->g, &m->io);
            return ITX_SERVER_STEP_WAIT; /* m is not touched again until the wake */
        }
        if (uploads)
            submit_puts(m, false);
    }
    if (m->put_st != ITX_OK) {
        w->diag = m->put_d;
        return ITX_SERVER_STEP_DONE;
    }
    submit_create(m);
    return ITX_SERVER_STEP_DONE;
}

static void
submit_destroy(struct itx_server_work *w)
{
    struct submit_work *m = (struct submit_work *)w;
    for (size_t i = 0; m->src && i < m->req->n_images; i++)
        itx_free(m->src[i]);
    itx_free(m->src);
    itx_api_request_free(m->req);
    itx_free(m->idem);
    itx_free(m);
}

static enum itx_status
submit_new(void *ud, struct itx_api_request *req, const char *idempotency_key,
           struct itx_server_work **out, struct itx_diag *d)
{
    struct submit_work *m = itx_calloc(1, sizeof(*m));

    if (!m || (idempotency_key && !(m->idem = itx_strdup(idempotency_key)))) {
        itx_free(m);
        itx_api_request_free(req);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the request");
    }
    if (idempotency_key &&
        (strlen(idempotency_key) == 0 || strlen(idempotency_key) > ITX_JOBS_MAX_KEY)) {
        itx_free(m->idem);
        itx_free(m);
        itx_api_request_free(req);
        return itx_diag_set(d, ITX_ERR_INVALID, "Idempotency-Key must be 1..%d bytes",
                            ITX_JOBS_MAX_KEY);
    }
    itx_server_work_init(&m->w, submit_run, submit_destroy);
    m->sj = ((struct glue *)ud)->jobs;
    m->req = req;
    *out = &m->w;
    return ITX_OK;
}

/* ---- GET /v1/jobs/{id} and POST /v1/jobs/{id}:cancel ----------------------------------- */

struct read_work {
    struct itx_server_work w; /* first */
    struct serve_jobs *sj;
    bool cancel;
    char id[72];
};

static enum itx_server_step
read_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct read_work *m = (struct read_work *)w;
    struct itx_job *j = NULL;
    (void)c;

    if (m->cancel) {
        enum itx_job_state before;
        struct itx_log_ctx lc = {.request_id = w->request_id, .job_id = m->id, .image = -1};
        if (itx_jobs_cancel(m->sj->db, m->id, &before, &w->diag) != ITX_OK)
            return ITX_SERVER_STEP_DONE;
        itx_log(ITX_LOG_INFO, &lc, NULL, "cancel: the job is %s", itx_job_state_str(before));
        notify(m->sj, m->id);
    }
    if (itx_jobs_get(m->sj->db, m->id, &j, &w->diag) == ITX_OK)
        job_json(m->sj, j, &w->reply, &w->diag);
    itx_job_free(j);
    return ITX_SERVER_STEP_DONE;
}

static void
read_destroy(struct itx_server_work *w)
{
    itx_free(w);
}

static enum itx_status
read_new(struct serve_jobs *sj, const char *id, bool cancel, struct itx_server_work **out,
         struct itx_diag *d)
{
    struct read_work *m = itx_calloc(1, sizeof(*m));

    if (!m)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for the request");
    if (strlen(id) >= sizeof(m->id)) {
        itx_free(m);
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id);
    }
    itx_server_work_init(&m->w, read_run, read_destroy);
    m->sj = sj;
    m->cancel = cancel;
    snprintf(m->id, sizeof(m->id), "%s", id);
    *out = &m->w;
    return ITX_OK;
}

static enum itx_status
get_new(void *ud, const char *id, struct itx_server_work **out, struct itx_diag *d)
{
    return read_new(((struct glue *)ud)->jobs, id, false, out, d);
}

static enum itx_status
cancel_new(void *ud, const char *id, struct itx_server_work **out, struct itx_diag *d)
{
    return read_new(((struct glue *)ud)->jobs, id, true, out, d);
}

void
serve_jobs_routes(struct serve_jobs *j, struct itx_server_pipeline *p)
{
    struct itx_metrics *reg = itx_server_metrics(j->g->srv);

    p->job_submit = submit_new;
    p->job_get = get_new;
    p->job_cancel = cancel_new;
    /* the routes' ud is the glue (the translate route's too); they find j in glue->jobs */
    j->m_submitted =
        itx_metric_series(itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_jobs_submitted_total",
                                          "Jobs created (replays not counted)", NULL, NULL, 0),
                          NULL);
    j->m_items = itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_job_items_total",
                                 "Job items finished by this instance, by result (succeeded, "
                                 "failed, retried, abandoned, lost)",
                                 "result", NULL, 0);
    j->m_items_failed =
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_job_items_failed_total",
                        "Job item failures (retried or final), by error code", "reason", NULL, 0);
    j->m_queue = itx_metric_series(itx_metrics_add(reg, ITX_METRIC_GAUGE, "itx_job_queue_depth",
                                                   "Job items queued in the store (all instances)",
                                                   NULL, NULL, 0),
                                   NULL);
    j->m_running = itx_metric_series(
        itx_metrics_add(reg, ITX_METRIC_GAUGE, "itx_job_items_running",
                        "Job items leased to a runner in the store (all instances)", NULL, NULL, 0),
        NULL);
    j->m_busy = itx_metric_series(itx_metrics_add(reg, ITX_METRIC_GAUGE, "itx_job_runners_busy",
                                                  "Runner threads of this instance working "
                                                  "on an item",
                                                  NULL, NULL, 0),
                                  NULL);
    j->m_webhooks =
        itx_metrics_add(reg, ITX_METRIC_COUNTER, "itx_webhooks_total",
                        "Job webhooks by outcome (delivered, failed)", "result", NULL, 0);
    itx_server_add_ready_check(j->g->srv, "job-store", jobs_ready, j);
}

/* ---- the runner ------------------------------------------------------------------------ */

static void
runner_stage(void *arg, const char *stage, double progress)
{
    struct runner *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->stage != stage) {
        r->stage = stage;
        r->dirty = true;
    }
    r->progress = progress;
    pthread_mutex_unlock(&r->mu);
}

static void
count_item(struct serve_jobs *sj, const char *result)
{
    itx_metric_add(itx_metric_series(sj->m_items, (const char *const[]){result}), 1);
}

/* The bytes of picture p from its source: a stored upload, or a fetch. */
static void
load_source(struct serve_jobs *sj, struct pic *p, const char *source)
{
    struct glue *g = sj->g;
    double t0 = itx_now_ms();

    if (strncmp(source, "upload:", 7) == 0) {
        p->st = itx_store_get(g->store, source + 7, &p->owned, &p->len, &p->d);
        p->data = p->owned;
        if (p->st == ITX_ERR_NOT_FOUND)
            itx_diag_prefix(&p->d, "the uploaded picture is gone from the store");
        return;
    }
    p->st = itx_fetch(&g->fetch, source, &p->fr, &p->d);
    itx_server_observe_stage(g->srv, "fetch", (itx_now_ms() - t0) / 1000.0);
    p->data = p->fr.data;
    p->len = p->fr.len;
}

/* The item's result: per picture its key and regions document, or its error. */
static enum itx_status
item_result(struct batch *b, struct itx_buf *out, struct itx_diag *d)
{
    itx_buf_puts(out, "[");
    for (size_t i = 0; i < b->n; i++) {
        struct pic *p = &b->p[i];
        json_t *doc = NULL;
        itx_buf_printf(out, "%s{\"index\":%zu", i ? "," : "", p->index);
        if (p->st == ITX_OK && p->regions)
            doc = json_loadb(p->regions, p->regions_len, 0, NULL);
        if (doc && json_is_string(json_object_get(doc, "format"))) {
            char *regs = json_dumps(json_object_get(doc, "regions"), JSON_COMPACT);
            itx_buf_puts(out, ",\"key\":");
            itx_buf_json_str(out, p->key);
            itx_buf_printf(
                out,
                ",\"hit\":%s,\"ms\":%.1f,\"format\":\"%s\",\"width\":%lld,"
                "\"height\":%lld,\"regions\":%s",
                p->hit ? "true" : "false", p->ms, json_string_value(json_object_get(doc, "format")),
                (long long)json_integer_value(json_object_get(doc, "width")),
                (long long)json_integer_value(json_object_get(doc, "height")), regs ? regs : "[]");
            free(regs);
        } else {
            serve_image_error(out, p->st != ITX_OK ? p->st : ITX_ERR_INTERNAL,
                              p->st != ITX_OK ? p->d.msg : "the result has no regions");
        }
        json_decref(doc);
        itx_buf_puts(out, "}");
    }
    if (itx_buf_puts(out, "]") != ITX_OK || !out->data)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "the item's result is over %d bytes",
                            ITX_JOBS_MAX_JSON);
    return ITX_OK;
}

/*
 * Works on one claimed item. When the run is cancelled (the job was cancelled, another worker
 * took the item over, or the grace period of a shutdown ran out) nothing is written: the
 * item is final already, or its lease runs out and someone claims it again.
 */
static void
run_item(struct runner *r, struct itx_jobs_item *it)
{
    struct serve_jobs *sj = r->sj;
    struct glue *g = sj->g;
    struct job_settings js;
    struct batch b = {.g = g, .set = &js.set, .c = &r->cancel};
    json_t *opts = NULL, *ims;
    struct itx_pipeline_ctx *ctx;
    struct itx_buf res;
    struct itx_diag d;
    enum itx_status fail_st = ITX_OK;
    const char *fail_msg = NULL;
    bool retry = false, any_ok = false, no_ctx = false;
    size_t slot = 0;
    enum itx_jobs_outcome outcome = ITX_JOBS_APPLIED;

    itx_diag_init(&d);
    itx_buf_init(&res, ITX_JOBS_MAX_JSON);
    b.lc = (struct itx_log_ctx){.job_id = it->job_id, .image = -1};
    b.stage = runner_stage;
    b.stage_arg = r;
    runner_stage(r, "fetch", 0);
    if (job_settings_parse(it->settings, &js, &d) != ITX_OK ||
        serve_settings_check(g, &js.set, &d) != ITX_OK) {
        fail_st = d.code;
        fail_msg = d.msg;
        goto decide;
    }
    opts = json_loads(it->options ? it->options : "{}", 0, NULL);
    ims = json_object_get(opts, "images");
    if (!json_array_size(ims) || json_array_size(ims) > ITX_PIPELINE_MAX_GROUP) {
        fail_st = itx_diag_set(&d, ITX_ERR_INTERNAL, "item %u of job %s lists no pictures", it->idx,
                               it->job_id);
        fail_msg = d.msg;
        goto decide;
    }
    b.n = json_array_size(ims);
    if (!(b.p = serve_pics_new(b.n))) {
        fail_st = itx_diag_set(&d, ITX_ERR_NOMEM, "out of memory for %zu pictures", b.n);
        fail_msg = d.msg;
        goto decide;
    }
    /* network waits first, before a context is taken */
    for (size_t i = 0; i < b.n && !itx_cancel_requested(&r->cancel); i++) {
        json_t *im = json_array_get(ims, i);
        const char *source = json_string_value(json_object_get(im, "source"));
        struct pic *p = &b.p[i];
        p->index = (size_t)json_integer_value(json_object_get(im, "index"));
        p->group = json_string_value(json_object_get(im, "group"));
        p->name = json_string_value(json_object_get(im, "name"));
        if (!p->name)
            p->name = source;
        if (!source)
            p->st = itx_diag_set(&p->d, ITX_ERR_INTERNAL, "picture %zu has no source", p->index);
        else
            load_source(sj, p, source);
    }
    serve_batch_keys(&b);
    serve_batch_lookup(&b);
    if (serve_batch_pending(&b) && !itx_cancel_requested(&r->cancel)) {
        ctx = serve_ctx_take(g, CTX_JOB, &r->cancel, &slot);
        if (ctx) {
            serve_batch_begin(&b, ctx);
            if (serve_batch_translate_waits(&b)) {
                /* the provider call waits on the network: the context works for others
                 * meanwhile, and the finish takes whichever is free */
                serve_ctx_give(g, slot);
                serve_batch_translate(&b);
                ctx = serve_batch_begun(&b) && !itx_cancel_requested(&r->cancel)
                          ? serve_ctx_take(g, CTX_JOB, &r->cancel, &slot)
                          : NULL;
                no_ctx = serve_batch_begun(&b) && !ctx;
            } else {
                serve_batch_translate(&b);
            }
            if (ctx) {
                serve_batch_finish(&b, ctx);
                serve_ctx_give(g, slot);
            }
            serve_batch_store(&b);
        } else {
            no_ctx = true; /* shutting down */
        }
    }
    if (no_ctx || itx_cancel_requested(&r->cancel)) {
        itx_log(ITX_LOG_NOTICE, &b.lc, NULL, "item %u stopped: %s", it->idx,
                atomic_load(&r->lost) ? "the job was cancelled or the item taken over"
                                      : "shutting down (left to lease expiry)");
        count_item(sj, atomic_load(&r->lost) ? "lost" : "abandoned");
        goto out;
    }
    /* a retryable failure of any picture retries the whole item (a group goes together);
     * permanent failures are the pictures' results */
    for (size_t i = 0; i < b.n; i++) {
        struct pic *p = &b.p[i];
        if (p->st == ITX_OK && p->regions) {
            any_ok = true;
        } else if (fail_st == ITX_OK || (serve_retryable(p->st) && !retry)) {
            fail_st = p->st != ITX_OK ? p->st : ITX_ERR_INTERNAL;
            fail_msg = p->d.msg;
            retry = serve_retryable(fail_st);
        }
    }
    if (fail_st == ITX_OK || (any_ok && !retry)) {
        fail_st = ITX_OK;
        if (item_result(&b, &res, &d) == ITX_OK)
            itx_jobs_complete(sj->db, it, res.data, &outcome, &d);
        if (d.code != ITX_OK) {
            fail_st = d.code;
            fail_msg = d.msg;
            retry = serve_retryable(d.code);
        } else {
            serve_batch_account(&b);
            count_item(sj, outcome == ITX_JOBS_APPLIED ? "succeeded" : "duplicate");
        }
    }
decide:
    if (fail_st != ITX_OK) {
        struct itx_diag fd;
        char msg[ITX_DIAG_MSG_SIZE];
        snprintf(msg, sizeof(msg), "%s", fail_msg && fail_msg[0] ? fail_msg : "failed");
        itx_diag_init(&fd);
        itx_metric_add(
            itx_metric_series(sj->m_items_failed, (const char *const[]){itx_err_str(fail_st)}), 1);
        if (itx_jobs_fail(sj->db, it, itx_err_str(fail_st), msg, retry, &outcome, &fd) != ITX_OK) {
            itx_log(ITX_LOG_WARNING, &b.lc, NULL, "cannot record the failure of item %u: %s",
                    it->idx, fd.msg);
            goto out;
        }
        itx_log(ITX_LOG_WARNING, &b.lc, NULL, "item %u (attempt %u) failed%s: %s", it->idx,
                it->attempt, retry ? ", will retry" : "", msg);
        count_item(sj, retry ? "retried" : "failed");
        if (b.p && !retry) /* the pictures' final answers */
            serve_batch_account(&b);
    }
    if (outcome == ITX_JOBS_APPLIED && it->webhook_url)
        notify(sj, it->job_id);
out:
    json_decref(opts);
    job_settings_release(&js);
    serve_batch_release(&b);
    itx_buf_release(&res);
}

static void *
runner_main(void *arg)
{
    struct runner *r = arg;
    struct serve_jobs *sj = r->sj;
    unsigned warned = 0;

    while (!atomic_load(&sj->stop_claims)) {
        struct itx_jobs_item *it = NULL;
        struct itx_diag d;

        /* claim only when a context is free: the item's CPU work can start once fetched */
        if (!serve_ctx_wait_free(sj->g, sj->poll_ms) || atomic_load(&sj->stop_claims))
            continue;
        itx_diag_init(&d);
        if (itx_jobs_claim(sj->db, r->worker_id, sj->lease_s, &it, &d) != ITX_OK) {
            if (warned++ % 20 == 0)
                itx_log_warn("job runner %zu cannot claim: %s", r->i, d.msg);
        } else if (it) {
            warned = 0;
            pthread_mutex_lock(&r->mu);
            r->it = it;
            r->stage = "fetch";
            r->progress = 0;
            r->dirty = false;
            r->last_hb = itx_now_ms();
            atomic_store(&r->cancel.reason, ITX_OK);
            atomic_store(&r->lost, false);
            if (atomic_load(&sj->cancel_all)) /* the grace period ended as this was claimed */
                atomic_store(&r->cancel.reason, ITX_ERR_UNAVAILABLE);
            pthread_mutex_unlock(&r->mu);
            atomic_fetch_add(&sj->busy, 1);
            itx_metric_add(sj->m_busy, 1);
            run_item(r, it);
            itx_metric_add(sj->m_busy, -1);
            atomic_fetch_sub(&sj->busy, 1);
            pthread_mutex_lock(&r->mu);
            r->it = NULL;
            pthread_mutex_unlock(&r->mu);
            itx_jobs_item_free(it);
            continue;
        }
        /* nothing ready: wait for a submit here, or poll again (other instances) */
        pthread_mutex_lock(&sj->mu);
        if (!atomic_load(&sj->stop_claims))
            itx_cond_wait_ms(&sj->cv, &sj->mu, sj->poll_ms / 2 + rand() % (sj->poll_ms / 2 + 1));
        pthread_mutex_unlock(&sj->mu);
    }
    return NULL;
}

/*
 * Keeps the leases of the items in flight (a heartbeat every third of the lease, and at once
 * when the stage changes, so GET shows it), stops a run whose job was cancelled or whose item
 * was taken over, publishes the queue depth, and applies retention.
 */
static void *
keeper_main(void *arg)
{
    struct serve_jobs *sj = arg;
    double last_counts = 0, last_purge = 0, last_renew = 0, last_sweep = 0;

    while (!atomic_load(&sj->stop)) {
        double now = itx_now_ms();
        for (size_t i = 0; i < sj->n_runners; i++) {
            struct runner *r = &sj->runners[i];
            struct itx_jobs_item id = {0};
            const char *stage;
            double progress;
            struct itx_diag d;
            enum itx_status st;

            pthread_mutex_lock(&r->mu);
            if (!r->it || (!r->dirty && now - r->last_hb < (double)sj->hb_ms)) {
                pthread_mutex_unlock(&r->mu);
                continue;
            }
            memcpy(id.job_id, r->it->job_id, sizeof(id.job_id));
            id.idx = r->it->idx;
            id.lease_token = r->it->lease_token;
            stage = r->stage;
            progress = r->progress;
            r->dirty = false;
            r->last_hb = now;
            pthread_mutex_unlock(&r->mu);
            itx_diag_init(&d);
            st = itx_jobs_heartbeat(sj->db, &id, sj->lease_s, stage, progress, &d);
            if (st == ITX_ERR_CANCELLED || st == ITX_ERR_CONFLICT) {
                pthread_mutex_lock(&r->mu);
                if (r->it && r->it->lease_token == id.lease_token &&
                    strcmp(r->it->job_id, id.job_id) == 0 && r->it->idx == id.idx) {
                    atomic_store(&r->lost, true);
                    atomic_store(&r->cancel.reason, ITX_ERR_CANCELLED);
                }
                pthread_mutex_unlock(&r->mu);
            } else if (st != ITX_OK) {
                itx_log_warn("heartbeat of item %u of job %s: %s", id.idx, id.job_id, d.msg);
            }
        }
        if (now - last_counts >= 1000) {
            uint64_t queued = 0, running = 0;
            struct itx_diag d;
            itx_diag_init(&d);
            if (itx_jobs_counts(sj->db, &queued, &running, &d) == ITX_OK) {
                itx_metric_set(sj->m_queue, (double)queued);
                itx_metric_set(sj->m_running, (double)running);
            }
            last_counts = now;
        }
        /* the webhooks this instance holds keep their lease while they are delivered */
        if (atomic_load(&sj->wh_held) > 0 && now - last_renew >= (double)sj->hb_ms) {
            struct itx_diag d;
            itx_diag_init(&d);
            if (itx_jobs_webhook_renew(sj->db, sj->instance, sj->lease_s, NULL, &d) != ITX_OK)
                itx_log_warn("webhook leases: %s", d.msg);
            last_renew = now;
        }
        /* webhooks waiting for an owner: their instance died between the job's end and the
         * outcome of the delivery (or before it claimed the notice) */
        if (!atomic_load(&sj->stop_claims) && now - last_sweep >= (double)sj->wh_sweep_ms) {
            char ids[8][65];
            size_t n = 0;
            struct itx_diag d;
            itx_diag_init(&d);
            if (itx_jobs_webhook_due(sj->db, ids, 8, &n, &d) != ITX_OK)
                itx_log_warn("webhooks waiting for an owner: %s", d.msg);
            for (size_t i = 0; i < n && !atomic_load(&sj->stop_claims); i++)
                notify(sj, ids[i]);
            last_sweep = now;
        }
        if (sj->retention_days > 0 && now - last_purge >= 3600e3) {
            size_t n = 0;
            struct itx_diag d;
            itx_diag_init(&d);
            if (itx_jobs_purge_older(sj->db, (unsigned)sj->retention_days, &n, &d) != ITX_OK)
                itx_log_warn("job retention: %s", d.msg);
            else if (n)
                itx_log_info("job retention: %zu finished jobs deleted", n);
            last_purge = now;
        }
        {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

enum itx_status
serve_jobs_start(struct serve_jobs *j, struct itx_diag *d)
{
    char host[64] = "itx";

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    /* with a provider or a store that waits on the network, twice as many runners as
     * contexts, so the contexts keep working while some runners wait on a provider call, a
     * fetch or the store (a runner holds a context only for the CPU stages, so pictures in
     * CPU stages never exceed the workers) */
    j->n_runners =
        j->g->n_ctx * (itx_pipeline_translate_waits(j->g->pl) || serve_store_waits(j->g) ? 2 : 1);
    j->runners = itx_calloc(j->n_runners, sizeof(*j->runners));
    if (!j->runners)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for %zu job runners", j->n_runners);
    for (size_t i = 0; i < j->n_runners; i++) {
        struct runner *r = &j->runners[i];
        r->sj = j;
        r->i = i;
        pthread_mutex_init(&r->mu, NULL);
        snprintf(r->worker_id, sizeof(r->worker_id), "%s:%ld:%zu", host, (long)getpid(), i);
    }
    if (pthread_create(&j->keeper, NULL, keeper_main, j) != 0)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start the job heartbeat thread");
    j->keeper_started = true;
    for (size_t i = 0; i < j->n_runners; i++) {
        if (pthread_create(&j->runners[i].th, NULL, runner_main, &j->runners[i]) != 0)
            return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start job runner %zu", i);
        j->runners[i].started = true;
    }
    return ITX_OK;
}

void
serve_jobs_stop_claiming(struct serve_jobs *j)
{
    atomic_store(&j->stop_claims, true);
    pthread_mutex_lock(&j->mu);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void
serve_jobs_stop(struct serve_jobs *j, double deadline_ms)
{
    unsigned left;

    serve_jobs_stop_claiming(j);
    while (atomic_load(&j->busy) > 0 && itx_now_ms() < deadline_ms) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    left = (unsigned)atomic_load(&j->busy);
    if (left)
        itx_log(ITX_LOG_NOTICE, NULL, NULL,
                "%u job item(s) unfinished after the grace period: left to lease expiry", left);
    atomic_store(&j->cancel_all, true);
    for (size_t i = 0; j->runners && i < j->n_runners; i++)
        atomic_store(&j->runners[i].cancel.reason, ITX_ERR_UNAVAILABLE);
    for (size_t i = 0; j->runners && i < j->n_runners; i++) {
        if (j->runners[i].started)
            pthread_join(j->runners[i].th, NULL);
        j->runners[i].started = false;
    }
    atomic_store(&j->stop, true);
    if (j->keeper_started)
        pthread_join(j->keeper, NULL);
    j->keeper_started = false;
}

void
serve_jobs_free(struct serve_jobs *j)
{
    if (!j)
        return;
    if (j->keeper_started || j->runners)
        serve_jobs_stop(j, itx_now_ms());
    for (size_t i = 0; j->runners && i < j->n_runners; i++)
        pthread_mutex_destroy(&j->runners[i].mu);
    itx_free(j->runners);
    itx_webhooks_free(j->wh);
    itx_tr_cache_free(j->tr_cache);
    itx_jobs_close(j->db);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    itx_free(j);
}
