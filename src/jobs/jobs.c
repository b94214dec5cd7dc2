/*
 * Jobs, items and the work-claiming protocol (see jobs.h for the model). Each public call is
 * one transaction run by db_tx; lock order is always items first, then their job, so two
 * transactions never wait for each other in a cycle on PostgreSQL.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "jobs/jobs-impl.h"

static const char *const state_names[] = {"queued", "running",   "succeeded",
                                          "failed", "cancelled", "partially_failed"};

const char *
itx_job_state_str(enum itx_job_state s)
{
    return (unsigned)s < 6 ? state_names[s] : "unknown";
}

bool
itx_job_state_parse(const char *s, enum itx_job_state *out)
{
    for (int i = 0; s && i < 6; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum itx_job_state)i;
            return true;
        }
    }
    return false;
}

bool
itx_job_state_final(enum itx_job_state s)
{
    return s != ITX_JOB_QUEUED && s != ITX_JOB_RUNNING;
}

const char *
itx_jobs_default_url(void)
{
    const char *u = getenv("ITX_DATABASE_URL");
    return u && *u ? u : "sqlite:itx-jobs.db";
}

const char *
itx_jobs_backend(const struct itx_jobs *s)
{
    return s->kind == DB_PG ? "postgres" : "sqlite";
}

enum itx_status
itx_jobs_open(const char *url, const struct itx_jobs_opts *opts, struct itx_jobs **out,
              struct itx_diag *d)
{
    struct itx_jobs *s = itx_calloc(1, sizeof(*s));
    enum itx_status st;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening the job store");
    if (opts)
        s->opts = *opts;
    if (!s->opts.pool_size)
        s->opts.pool_size = 4;
    if (!s->opts.busy_timeout_ms)
        s->opts.busy_timeout_ms = 5000;
    if (!s->opts.statement_timeout_ms)
        s->opts.statement_timeout_ms = 10000;
    if (!s->opts.connect_timeout_s)
        s->opts.connect_timeout_s = 5;
    if (!s->opts.max_attempts)
        s->opts.max_attempts = 5;
    if (!s->opts.backoff_base_ms)
        s->opts.backoff_base_ms = 2000;
    if (!s->opts.backoff_max_ms)
        s->opts.backoff_max_ms = 300000;
    if (s->opts.pool_size > 64)
        s->opts.pool_size = 64;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    st = db_open(s, url ? url : itx_jobs_default_url(), d);
    if (st != ITX_OK) {
        itx_jobs_close(s);
        return st;
    }
    *out = s;
    return ITX_OK;
}

void
itx_jobs_close(struct itx_jobs *s)
{
    if (!s)
        return;
    db_close(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    itx_free(s);
}

static enum itx_status
now_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct db_res r;
    enum itx_status s = db_exec(c, "SELECT {now}", NULL, 0, &r, NULL, d);
    if (s == ITX_OK) {
        *(int64_t *)ctx = r.n_rows ? db_int(db_cell(&r, 0, 0)) : 0;
        db_res_release(&r);
    }
    return s;
}

enum itx_status
itx_jobs_now_ms(struct itx_jobs *s, int64_t *out, struct itx_diag *d)
{
    int64_t v = 0;
    enum itx_status st = db_tx(s, false, now_tx, &v, d);
    if (st == ITX_OK)
        *out = v;
    return st;
}

/* ---- input checks ------------------------------------------------------------------------ */

static enum itx_status
check_json(const char *what, const char *text, bool object, struct itx_diag *d)
{
    size_t n = strlen(text);
    json_error_t err;
    json_t *v;

    if (n > ITX_JOBS_MAX_JSON)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "%s is %zu bytes, over the %d-byte limit", what,
                            n, ITX_JOBS_MAX_JSON);
    v = json_loadb(text, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!v)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s is not valid JSON: %s", what, err.text);
    if (object && !json_is_object(v)) {
        json_decref(v);
        return itx_diag_set(d, ITX_ERR_INVALID, "%s must be a JSON object", what);
    }
    json_decref(v);
    return ITX_OK;
}

static enum itx_status
check_key(const char *what, const char *key, struct itx_diag *d)
{
    size_t n;
    if (!key || !*key)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s is empty", what);
    n = strlen(key);
    if (n > ITX_JOBS_MAX_KEY)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "%s is %zu bytes, over the %d-byte limit", what,
                            n, ITX_JOBS_MAX_KEY);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return itx_diag_set(d, ITX_ERR_INVALID, "%s contains a control character", what);
    }
    return ITX_OK;
}

/* Job ids are 128 random bits in hex. */
static enum itx_status
new_id(char out[33], struct itx_diag *d)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n <= 0)
            return itx_diag_set(d, ITX_ERR_INTERNAL, "getrandom failed");
        got += (size_t)n;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return ITX_OK;
}

static void
hash_part(EVP_MD_CTX *h, const char *s)
{
    EVP_DigestUpdate(h, s ? s : "", s ? strlen(s) + 1 : 1);
    EVP_DigestUpdate(h, s ? "v" : "n", 1);
}

/* The body hash when the caller gives none: SHA-256 over everything that defines the job. */
static enum itx_status
body_hash(const struct itx_jobs_new *job, char out[65], struct itx_diag *d)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned int n = 0;

    if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot hash the job: out of memory");
    }
    hash_part(h, "itx-job-1");
    hash_part(h, job->settings);
    hash_part(h, job->webhook_url);
    for (size_t i = 0; i < job->n_items; i++) {
        hash_part(h, job->items[i].source);
        hash_part(h, job->items[i].options);
    }
    EVP_DigestFinal_ex(h, md, &n);
    EVP_MD_CTX_free(h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return ITX_OK;
}

static enum itx_status
check_new(const struct itx_jobs_new *job, struct itx_diag *d)
{
    enum itx_status s = ITX_OK;
    if (job->n_items == 0 || !job->items)
        return itx_diag_set(d, ITX_ERR_INVALID, "a job needs at least one item");
    if (job->n_items > ITX_JOBS_MAX_ITEMS)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "a job of %zu items is over the %d-item limit",
                            job->n_items, ITX_JOBS_MAX_ITEMS);
    if (job->settings && (s = check_json("job settings", job->settings, true, d)) != ITX_OK)
        return s;
    if (job->webhook_url && strlen(job->webhook_url) > ITX_JOBS_MAX_SOURCE)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "webhook URL is over the %d-byte limit",
                            ITX_JOBS_MAX_SOURCE);
    if (job->idempotency_key && (s = check_key("idempotency key", job->idempotency_key, d)))
        return s;
    if (job->body_hash && (s = check_key("body hash", job->body_hash, d)))
        return s;
    for (size_t i = 0; i < job->n_items; i++) {
        const struct itx_jobs_new_item *it = &job->items[i];
        if (!it->source || !*it->source)
            return itx_diag_set(d, ITX_ERR_INVALID, "item %zu has no source", i);
        if (strlen(it->source) > ITX_JOBS_MAX_SOURCE)
            return itx_diag_set(d, ITX_ERR_TOO_LARGE, "item %zu source is over the %d-byte limit",
                                i, ITX_JOBS_MAX_SOURCE);
        if (it->options && (s = check_json("item options", it->options, true, d)) != ITX_OK)
            return itx_diag_prefix(d, "item %zu", i);
    }
    return ITX_OK;
}

/* ---- create ------------------------------------------------------------------------------ */

struct create_ctx {
    const struct itx_jobs_new *job;
    const char *hash;
    unsigned max_attempts;
    char id[33];
    bool replayed;
};

static enum itx_status
create_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct create_ctx *x = ctx;
    const struct itx_jobs_new *job = x->job;
    enum itx_status s;

    x->replayed = false;
    if (job->idempotency_key) {
        struct db_param p[1] = {DBP_TEXT(job->idempotency_key)};
        struct db_res r;
        s = db_exec(c, "SELECT id, body_hash FROM itx_jobs WHERE idem_key = $1", p, 1, &r, NULL, d);
        if (s != ITX_OK)
            return s;
        if (r.n_rows) {
            const char *id = db_cell(&r, 0, 0), *h = db_cell(&r, 0, 1);
            if (h && strcmp(h, x->hash) == 0) {
                snprintf(x->id, sizeof(x->id), "%s", id);
                x->replayed = true;
            } else {
                s = itx_diag_set(d, ITX_ERR_CONFLICT,
                                 "idempotency key '%s' was already used for job %s with another "
                                 "request body",
                                 job->idempotency_key, id);
            }
            db_res_release(&r);
            return s;
        }
        db_res_release(&r);
    }
    if ((s = new_id(x->id, d)) != ITX_OK)
        return s;
    {
        struct db_param p[6] = {DBP_TEXT(x->id),
                                DBP_TEXT(job->idempotency_key),
                                DBP_TEXT(x->hash),
                                DBP_TEXT(job->settings ? job->settings : "{}"),
                                DBP_TEXT(job->webhook_url),
                                DBP_INT(job->n_items)};
        s = db_exec(c,
                    "INSERT INTO itx_jobs (id, idem_key, body_hash, settings, webhook_url, state,"
                    " n_items, created_ms, updated_ms)"
                    " VALUES ($1, $2, $3, $4, $5, 'queued', $6, {now}, {now})",
                    p, 6, NULL, NULL, d);
    }
    for (size_t i = 0; i < job->n_items && s == ITX_OK; i++) {
        const struct itx_jobs_new_item *it = &job->items[i];
        struct db_param p[5] = {DBP_TEXT(x->id), DBP_INT(i), DBP_TEXT(it->source),
                                DBP_TEXT(it->options ? it->options : "{}"),
                                DBP_INT(x->max_attempts)};
        s = db_exec(c,
                    "INSERT INTO itx_job_items (job_id, idx, source, options, state, max_attempts,"
                    " next_attempt_ms, updated_ms)"
                    " VALUES ($1, $2, $3, $4, 'queued', $5, {now}, {now})",
                    p, 5, NULL, NULL, d);
    }
    return s;
}

enum itx_status
itx_jobs_create(struct itx_jobs *s, const struct itx_jobs_new *job, char id_out[33], bool *replayed,
                struct itx_diag *d)
{
    struct create_ctx x = {.job = job, .max_attempts = s->opts.max_attempts};
    char hash[65];
    enum itx_status st;

    if ((st = check_new(job, d)) != ITX_OK)
        return st;
    if (job->body_hash) {
        x.hash = job->body_hash;
    } else {
        if ((st = body_hash(job, hash, d)) != ITX_OK)
            return st;
        x.hash = hash;
    }
    st = db_tx(s, true, create_tx, &x, d);
    if (st != ITX_OK)
        return st;
    memcpy(id_out, x.id, 33);
    if (replayed)
        *replayed = x.replayed;
    return ITX_OK;
}

/* ---- get --------------------------------------------------------------------------------- */

static char *
dup_cell(const char *cell, bool *oom)
{
    char *p;
    if (!cell)
        return NULL;
    p = itx_strdup(cell);
    if (!p)
        *oom = true;
    return p;
}

void
itx_job_free(struct itx_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_items; i++) {
        struct itx_job_item *it = &j->items[i];
        itx_free(it->source);
        itx_free(it->options);
        itx_free(it->stage);
        itx_free(it->error_code);
        itx_free(it->error_msg);
        itx_free(it->result);
    }
    itx_free(j->items);
    itx_free(j->settings);
    itx_free(j->webhook_url);
    itx_free(j->idempotency_key);
    itx_free(j);
}

struct get_ctx {
    const char *id;
    struct itx_job *job;
};

static enum itx_status
get_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct get_ctx *x = ctx;
    struct db_param p[1] = {DBP_TEXT(x->id)};
    struct db_res jr = {0}, ir = {0};
    struct itx_job *j = NULL;
    bool oom = false;
    enum itx_status s;

    itx_job_free(x->job);
    x->job = NULL;
    s = db_exec(c,
                "SELECT id, state, settings, webhook_url, idem_key, created_ms, updated_ms,"
                " finished_ms FROM itx_jobs WHERE id = $1",
                p, 1, &jr, NULL, d);
    if (s != ITX_OK)
        goto out;
    if (jr.n_rows == 0) {
        s = itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", x->id);
        goto out;
    }
    s = db_exec(c,
                "SELECT idx, source, options, state, stage, progress, attempts, error_code,"
                " error_msg, result, updated_ms FROM itx_job_items WHERE job_id = $1"
                " ORDER BY idx",
                p, 1, &ir, NULL, d);
    if (s != ITX_OK)
        goto out;
    j = itx_calloc(1, sizeof(*j));
    if (!j || (ir.n_rows && !(j->items = itx_calloc(ir.n_rows, sizeof(*j->items))))) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading job '%s'", x->id);
        goto out;
    }
    snprintf(j->id, sizeof(j->id), "%s", db_cell(&jr, 0, 0));
    if (!itx_job_state_parse(db_cell(&jr, 0, 1), &j->state))
        j->state = ITX_JOB_FAILED;
    j->settings = dup_cell(db_cell(&jr, 0, 2), &oom);
    j->webhook_url = dup_cell(db_cell(&jr, 0, 3), &oom);
    j->idempotency_key = dup_cell(db_cell(&jr, 0, 4), &oom);
    j->created_ms = db_int(db_cell(&jr, 0, 5));
    j->updated_ms = db_int(db_cell(&jr, 0, 6));
    j->finished_ms = db_int(db_cell(&jr, 0, 7));
    j->n_items = ir.n_rows;
    for (size_t i = 0; i < ir.n_rows; i++) {
        struct itx_job_item *it = &j->items[i];
        const char *pr = db_cell(&ir, i, 5);
        it->idx = (unsigned)db_int(db_cell(&ir, i, 0));
        it->source = dup_cell(db_cell(&ir, i, 1), &oom);
        it->options = dup_cell(db_cell(&ir, i, 2), &oom);
        if (!itx_job_state_parse(db_cell(&ir, i, 3), &it->state))
            it->state = ITX_JOB_FAILED;
        j->n_state[it->state]++;
        it->stage = dup_cell(db_cell(&ir, i, 4), &oom);
        it->progress = pr ? strtod(pr, NULL) : 0.0;
        it->attempts = (unsigned)db_int(db_cell(&ir, i, 6));
        it->error_code = dup_cell(db_cell(&ir, i, 7), &oom);
        it->error_msg = dup_cell(db_cell(&ir, i, 8), &oom);
        it->result = dup_cell(db_cell(&ir, i, 9), &oom);
        it->updated_ms = db_int(db_cell(&ir, i, 10));
    }
    if (oom) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading job '%s'", x->id);
        goto out;
    }
    x->job = j;
    j = NULL;
out:
    itx_job_free(j);
    db_res_release(&jr);
    db_res_release(&ir);
    return s;
}

enum itx_status
itx_jobs_get(struct itx_jobs *s, const char *id, struct itx_job **out, struct itx_diag *d)
{
    struct get_ctx x = {.id = id};
    enum itx_status st;
    if (!id || strlen(id) > 64)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id ? id : "");
    st = db_tx(s, false, get_tx, &x, d);
    if (st != ITX_OK) {
        itx_job_free(x.job);
        return st;
    }
    *out = x.job;
    return ITX_OK;
}

/* ---- job state --------------------------------------------------------------------------- */

/*
 * Recomputes a job's state from its items. The first UPDATE locks the job row, so two
 * transactions finishing items of one job take turns and the second sees the first's item.
 */
static enum itx_status
update_job_state(struct db_conn *c, const char *job_id, struct itx_diag *d)
{
    struct db_param p[1] = {DBP_TEXT(job_id)};
    size_t n[6] = {0}, changed = 0;
    struct db_res r;
    enum itx_job_state st;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_jobs SET updated_ms = {now}"
                " WHERE id = $1 AND state IN ('queued', 'running')",
                p, 1, NULL, &changed, d);
    if (s != ITX_OK || changed == 0)
        return s;
    s = db_exec(c, "SELECT state, count(*) FROM itx_job_items WHERE job_id = $1 GROUP BY state", p,
                1, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    for (size_t i = 0; i < r.n_rows; i++) {
        enum itx_job_state is;
        if (itx_job_state_parse(db_cell(&r, i, 0), &is))
            n[is] += (size_t)db_int(db_cell(&r, i, 1));
    }
    db_res_release(&r);
    if (n[ITX_JOB_QUEUED] + n[ITX_JOB_RUNNING])
        st = ITX_JOB_RUNNING;
    else if (n[ITX_JOB_CANCELLED])
        st = ITX_JOB_CANCELLED;
    else if (n[ITX_JOB_FAILED] == 0)
        st = ITX_JOB_SUCCEEDED;
    else if (n[ITX_JOB_SUCCEEDED] == 0)
        st = ITX_JOB_FAILED;
    else
        st = ITX_JOB_PARTIALLY_FAILED;
    {
        struct db_param q[3] = {DBP_TEXT(job_id), DBP_TEXT(itx_job_state_str(st)),
                                DBP_INT(itx_job_state_final(st))};
        return db_exec(c,
                       "UPDATE itx_jobs SET state = $2,"
                       " finished_ms = CASE WHEN $3 = 1 THEN {now} ELSE NULL END"
                       " WHERE id = $1",
                       q, 3, NULL, NULL, d);
    }
}

/* ---- cancel ------------------------------------------------------------------------------ */

struct cancel_ctx {
    const char *id;
    enum itx_job_state state;
};

static enum itx_status
cancel_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct cancel_ctx *x = ctx;
    struct db_param p[1] = {DBP_TEXT(x->id)};
    struct db_res r;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_job_items SET state = 'cancelled', lease_owner = NULL,"
                " lease_until_ms = NULL, updated_ms = {now}"
                " WHERE job_id = $1 AND state IN ('queued', 'running')",
                p, 1, NULL, NULL, d);
    if (s == ITX_OK)
        s = db_exec(c,
                    "UPDATE itx_jobs SET state = 'cancelled', updated_ms = {now},"
                    " finished_ms = {now} WHERE id = $1 AND state IN ('queued', 'running')",
                    p, 1, NULL, NULL, d);
    if (s == ITX_OK)
        s = db_exec(c, "SELECT state FROM itx_jobs WHERE id = $1", p, 1, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    if (r.n_rows == 0)
        s = itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", x->id);
    else if (!itx_job_state_parse(db_cell(&r, 0, 0), &x->state))
        x->state = ITX_JOB_FAILED;
    db_res_release(&r);
    return s;
}

enum itx_status
itx_jobs_cancel(struct itx_jobs *s, const char *id, enum itx_job_state *state_out,
                struct itx_diag *d)
{
    struct cancel_ctx x = {.id = id};
    enum itx_status st;
    if (!id || strlen(id) > 64)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id ? id : "");
    st = db_tx(s, true, cancel_tx, &x, d);
    if (st == ITX_OK && state_out)
        *state_out = x.state;
    return st;
}

/* ---- claim ------------------------------------------------------------------------------- */

void
itx_jobs_item_free(struct itx_jobs_item *it)
{
    if (!it)
        return;
    itx_free(it->source);
    itx_free(it->options);
    itx_free(it->settings);
    itx_free(it->webhook_url);
    itx_free(it);
}

struct claim_ctx {
    const char *worker;
    long long lease_ms;
    struct itx_jobs_item *item;
};

/* Fails items whose lease ran out on their last allowed attempt, keeping their last error. */
static enum itx_status
expire_exhausted(struct db_conn *c, struct itx_diag *d)
{
    struct db_res r;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_job_items SET state = 'failed',"
                " error_code = COALESCE(error_code, 'timeout'),"
                " error_msg = COALESCE(error_msg, 'lease expired on the last attempt:"
                " the worker stopped sending heartbeats'),"
                " lease_owner = NULL, lease_until_ms = NULL, updated_ms = {now}"
                " WHERE (job_id, idx) IN (SELECT job_id, idx FROM itx_job_items"
                "  WHERE state = 'running' AND lease_until_ms < {now}"
                "  AND attempts >= max_attempts LIMIT 100{lock})"
                " RETURNING job_id",
                NULL, 0, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    for (size_t i = 0; i < r.n_rows && s == ITX_OK; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(db_cell(&r, k, 0), db_cell(&r, i, 0)) == 0;
        if (!seen)
            s = update_job_state(c, db_cell(&r, i, 0), d);
    }
    db_res_release(&r);
    return s;
}

static enum itx_status
claim_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct claim_ctx *x = ctx;
    struct db_param p[2] = {DBP_TEXT(x->worker), DBP_INT(x->lease_ms)};
    struct db_res r = {0}, jr = {0};
    struct itx_jobs_item *it = NULL;
    bool oom = false;
    enum itx_status s;

    itx_jobs_item_free(x->item);
    x->item = NULL;
    if ((s = expire_exhausted(c, d)) != ITX_OK)
        return s;
    s = db_exec(c,
                "UPDATE itx_job_items SET state = 'running', lease_owner = $1,"
                " lease_until_ms = {now} + $2, attempts = attempts + 1,"
                " lease_token = lease_token + 1, updated_ms = {now}"
                " WHERE (job_id, idx) = (SELECT job_id, idx FROM itx_job_items"
                "  WHERE (state = 'queued' AND next_attempt_ms <= {now})"
                "  OR (state = 'running' AND lease_until_ms < {now} AND attempts < max_attempts)"
                "  ORDER BY next_attempt_ms, job_id, idx LIMIT 1{lock})"
                " RETURNING job_id, idx, source, options, attempts, lease_token",
                p, 2, &r, NULL, d);
    if (s != ITX_OK || r.n_rows == 0)
        goto out;
    {
        struct db_param q[1] = {DBP_TEXT(db_cell(&r, 0, 0))};
        s = db_exec(c, "SELECT settings, webhook_url FROM itx_jobs WHERE id = $1", q, 1, &jr, NULL,
                    d);
        if (s == ITX_OK)
            s = db_exec(c,
                        "UPDATE itx_jobs SET state = 'running', updated_ms = {now}"
                        " WHERE id = $1 AND state = 'queued'",
                        q, 1, NULL, NULL, d);
        if (s != ITX_OK)
            goto out;
    }
    it = itx_calloc(1, sizeof(*it));
    if (!it) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory claiming an item");
        goto out;
    }
    snprintf(it->job_id, sizeof(it->job_id), "%s", db_cell(&r, 0, 0));
    it->idx = (unsigned)db_int(db_cell(&r, 0, 1));
    it->source = dup_cell(db_cell(&r, 0, 2), &oom);
    it->options = dup_cell(db_cell(&r, 0, 3), &oom);
    it->attempt = (unsigned)db_int(db_cell(&r, 0, 4));
    it->lease_token = db_int(db_cell(&r, 0, 5));
    if (jr.n_rows) {
        it->settings = dup_cell(db_cell(&jr, 0, 0), &oom);
        it->webhook_url = dup_cell(db_cell(&jr, 0, 1), &oom);
    }
    if (!it->settings && !oom)
        it->settings = dup_cell("{}", &oom);
    if (oom) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory claiming an item");
        goto out;
    }
    x->item = it;
    it = NULL;
out:
    itx_jobs_item_free(it);
    db_res_release(&r);
    db_res_release(&jr);
    return s;
}

enum itx_status
itx_jobs_claim(struct itx_jobs *s, const char *worker_id, unsigned lease_seconds,
               struct itx_jobs_item **item, struct itx_diag *d)
{
    struct claim_ctx x = {.worker = worker_id, .lease_ms = (long long)lease_seconds * 1000};
    enum itx_status st;

    if ((st = check_key("worker id", worker_id, d)) != ITX_OK)
        return st;
    if (lease_seconds < 1 || lease_seconds > 86400)
        return itx_diag_set(d, ITX_ERR_INVALID, "lease of %u s is outside 1..86400 s",
                            lease_seconds);
    st = db_tx(s, true, claim_tx, &x, d);
    if (st != ITX_OK) {
        itx_jobs_item_free(x.item);
        return st;
    }
    *item = x.item;
    return ITX_OK;
}

/* ---- heartbeat, complete, fail ----------------------------------------------------------- */

struct finish_ctx {
    const struct itx_jobs_item *it;
    const char *text; /* result JSON, or error message */
    const char *code; /* error code (fail) or stage (heartbeat) */
    long long num;    /* lease ms (heartbeat) or backoff ms (fail) */
    double progress;
    bool retryable;
    enum itx_jobs_outcome outcome;
};

/* State of an item the caller's statement did not change. */
static enum itx_status
item_state(struct db_conn *c, const struct itx_jobs_item *it, enum itx_job_state *st,
           struct itx_diag *d)
{
    struct db_param p[2] = {DBP_TEXT(it->job_id), DBP_INT(it->idx)};
    struct db_res r;
    enum itx_status s = db_exec(c, "SELECT state FROM itx_job_items WHERE job_id = $1 AND idx = $2",
                                p, 2, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    if (r.n_rows == 0)
        s = itx_diag_set(d, ITX_ERR_NOT_FOUND, "no item %u in job '%s' (purged?)", it->idx,
                         it->job_id);
    else if (!itx_job_state_parse(db_cell(&r, 0, 0), st))
        *st = ITX_JOB_FAILED;
    db_res_release(&r);
    return s;
}

static enum itx_status
heartbeat_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct finish_ctx *x = ctx;
    const struct itx_jobs_item *it = x->it;
    struct db_param p[6] = {DBP_TEXT(it->job_id), DBP_INT(it->idx),      DBP_INT(x->num),
                            DBP_TEXT(x->code),    DBP_REAL(x->progress), DBP_INT(it->lease_token)};
    enum itx_job_state st;
    size_t n = 0;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_job_items SET lease_until_ms = {now} + $3,"
                " stage = COALESCE($4, stage), progress = $5, updated_ms = {now}"
                " WHERE job_id = $1 AND idx = $2 AND state = 'running' AND lease_token = $6",
                p, 6, NULL, &n, d);
    if (s != ITX_OK || n == 1)
        return s;
    if ((s = item_state(c, it, &st, d)) != ITX_OK)
        return s;
    if (st == ITX_JOB_CANCELLED)
        return itx_diag_set(d, ITX_ERR_CANCELLED, "job '%s' was cancelled", it->job_id);
    return itx_diag_set(d, ITX_ERR_CONFLICT,
                        "lease on item %u of job '%s' was lost (the item is %s)", it->idx,
                        it->job_id, itx_job_state_str(st));
}

enum itx_status
itx_jobs_heartbeat(struct itx_jobs *s, const struct itx_jobs_item *it, unsigned lease_seconds,
                   const char *stage, double progress, struct itx_diag *d)
{
    struct finish_ctx x = {.it = it,
                           .code = stage,
                           .num = (long long)lease_seconds * 1000,
                           .progress = progress < 0   ? 0
                                       : progress > 1 ? 1
                                                      : progress};
    if (lease_seconds < 1 || lease_seconds > 86400)
        return itx_diag_set(d, ITX_ERR_INVALID, "lease of %u s is outside 1..86400 s",
                            lease_seconds);
    if (stage && strlen(stage) > ITX_JOBS_MAX_KEY)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "stage name is over the %d-byte limit",
                            ITX_JOBS_MAX_KEY);
    return db_tx(s, true, heartbeat_tx, &x, d);
}

static enum itx_status
complete_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct finish_ctx *x = ctx;
    const struct itx_jobs_item *it = x->it;
    struct db_param p[3] = {DBP_TEXT(it->job_id), DBP_INT(it->idx), DBP_TEXT(x->text)};
    enum itx_job_state st;
    size_t n = 0;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_job_items SET state = 'succeeded', result = $3, progress = 1,"
                " lease_owner = NULL, lease_until_ms = NULL, updated_ms = {now}"
                " WHERE job_id = $1 AND idx = $2 AND state IN ('queued', 'running')",
                p, 3, NULL, &n, d);
    if (s != ITX_OK)
        return s;
    if (n == 1) {
        x->outcome = ITX_JOBS_APPLIED;
        return update_job_state(c, it->job_id, d);
    }
    x->outcome = ITX_JOBS_ALREADY_DONE;
    return item_state(c, it, &st, d);
}

enum itx_status
itx_jobs_complete(struct itx_jobs *s, const struct itx_jobs_item *it, const char *result_json,
                  enum itx_jobs_outcome *outcome, struct itx_diag *d)
{
    struct finish_ctx x = {.it = it, .text = result_json};
    enum itx_status st;

    if (!result_json)
        return itx_diag_set(d, ITX_ERR_INVALID, "an item result is required");
    if ((st = check_json("item result", result_json, false, d)) != ITX_OK)
        return st;
    st = db_tx(s, true, complete_tx, &x, d);
    if (st == ITX_OK && outcome)
        *outcome = x.outcome;
    return st;
}

static enum itx_status
fail_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct finish_ctx *x = ctx;
    const struct itx_jobs_item *it = x->it;
    struct db_param p[7] = {DBP_TEXT(it->job_id),    DBP_INT(it->idx),      DBP_TEXT(x->code),
                            DBP_TEXT(x->text),       DBP_INT(x->retryable), DBP_INT(x->num),
                            DBP_INT(it->lease_token)};
    enum itx_job_state st;
    struct db_res r;
    enum itx_status s;

    s = db_exec(c,
                "UPDATE itx_job_items SET"
                " state = CASE WHEN $5 = 1 AND attempts < max_attempts THEN 'queued'"
                "  ELSE 'failed' END,"
                " next_attempt_ms = {now} + $6, error_code = $3, error_msg = $4,"
                " lease_owner = NULL, lease_until_ms = NULL, updated_ms = {now}"
                " WHERE job_id = $1 AND idx = $2 AND state = 'running' AND lease_token = $7"
                " RETURNING state",
                p, 7, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    if (r.n_rows == 1) {
        bool failed = strcmp(db_cell(&r, 0, 0), "failed") == 0;
        db_res_release(&r);
        x->outcome = ITX_JOBS_APPLIED;
        return failed ? update_job_state(c, it->job_id, d) : ITX_OK;
    }
    db_res_release(&r);
    if ((s = item_state(c, it, &st, d)) != ITX_OK)
        return s;
    x->outcome = itx_job_state_final(st) ? ITX_JOBS_ALREADY_DONE : ITX_JOBS_LEASE_LOST;
    return ITX_OK;
}

/* Drops a UTF-8 sequence that truncation cut in half at the end of s. */
static void
utf8_trim(char *s)
{
    size_t n = strlen(s), j = n, want;
    unsigned char lead;
    while (j > 0 && n - j < 4 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
        j--;
    if (j == 0)
        return;
    lead = (unsigned char)s[j - 1];
    want = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (j - 1 + want > n)
        s[j - 1] = '\0';
}

enum itx_status
itx_jobs_fail(struct itx_jobs *s, const struct itx_jobs_item *it, const char *code, const char *msg,
              bool retryable, enum itx_jobs_outcome *outcome, struct itx_diag *d)
{
    char code_buf[65], msg_buf[ITX_JOBS_MAX_ERROR + 1];
    struct finish_ctx x = {.it = it, .code = code_buf, .text = msg_buf, .retryable = retryable};
    unsigned shift = it->attempt > 1 ? it->attempt - 1 : 0;
    unsigned long long delay = s->opts.backoff_base_ms;
    enum itx_status st;

    /* Error texts come from anywhere (remote servers included): cut them, keep them valid. */
    snprintf(code_buf, sizeof(code_buf), "%s", code && *code ? code : "internal");
    snprintf(msg_buf, sizeof(msg_buf), "%s", msg ? msg : "");
    utf8_trim(msg_buf);
    for (unsigned i = 0; i < shift && delay < s->opts.backoff_max_ms; i++)
        delay *= 2;
    if (delay > s->opts.backoff_max_ms)
        delay = s->opts.backoff_max_ms;
    x.num = (long long)delay;
    st = db_tx(s, true, fail_tx, &x, d);
    if (st == ITX_OK && outcome)
        *outcome = x.outcome;
    return st;
}

/* ---- retention --------------------------------------------------------------------------- */

struct purge_ctx {
    int64_t before;
    size_t n;
};

static enum itx_status
purge_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct purge_ctx *x = ctx;
    struct db_param p[1] = {DBP_INT(x->before)};
    enum itx_status s;

    s = db_exec(c,
                "DELETE FROM itx_job_items WHERE job_id IN (SELECT id FROM itx_jobs"
                " WHERE finished_ms < $1 AND state NOT IN ('queued', 'running'))",
                p, 1, NULL, NULL, d);
    if (s == ITX_OK)
        s = db_exec(c,
                    "DELETE FROM itx_jobs WHERE finished_ms < $1"
                    " AND state NOT IN ('queued', 'running')",
                    p, 1, NULL, &x->n, d);
    return s;
}

enum itx_status
itx_jobs_purge(struct itx_jobs *s, int64_t finished_before_ms, size_t *n_deleted,
               struct itx_diag *d)
{
    struct purge_ctx x = {.before = finished_before_ms};
    enum itx_status st = db_tx(s, true, purge_tx, &x, d);
    if (st == ITX_OK && n_deleted)
        *n_deleted = x.n;
    return st;
}

enum itx_status
itx_jobs_purge_older(struct itx_jobs *s, unsigned days, size_t *n_deleted, struct itx_diag *d)
{
    int64_t now = 0;
    enum itx_status st = itx_jobs_now_ms(s, &now, d);
    if (st != ITX_OK)
        return st;
    return itx_jobs_purge(s, now - (int64_t)days * 86400000, n_deleted, d);
}

/* ---- queue depth and webhooks ---------------------------------------------------------- */

struct counts_ctx {
    uint64_t queued, running;
};

static enum itx_status
counts_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct counts_ctx *x = ctx;
    struct db_res r;
    enum itx_status s;

    s = db_exec(c,
                "SELECT state, count(*) FROM itx_job_items WHERE state IN ('queued', 'running')"
                " GROUP BY state",
                NULL, 0, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    x->queued = x->running = 0;
    for (size_t i = 0; i < r.n_rows; i++) {
        uint64_t n = (uint64_t)db_int(db_cell(&r, i, 1));
        if (strcmp(db_cell(&r, i, 0), "queued") == 0)
            x->queued = n;
        else
            x->running = n;
    }
    db_res_release(&r);
    return ITX_OK;
}

enum itx_status
itx_jobs_counts(struct itx_jobs *s, uint64_t *queued, uint64_t *running, struct itx_diag *d)
{
    struct counts_ctx x = {0};
    enum itx_status st = db_tx(s, false, counts_tx, &x, d);

    if (st == ITX_OK && queued)
        *queued = x.queued;
    if (st == ITX_OK && running)
        *running = x.running;
    return st;
}

struct webhook_ctx {
    const char *id;
    const char *owner;
    const char *outcome;
    int64_t lease_ms;
    size_t changed;
    char *state;
    char (*ids)[65];
    size_t max, n;
};

/* A notice waits for an owner: its job is final and it was never claimed, or its claim's
 * lease ran out (a claim from before leases, with none, counts as run out). */
#define WEBHOOK_WAITING                                                                            \
    "webhook_url IS NOT NULL AND finished_ms IS NOT NULL AND (webhook_state IS NULL OR"            \
    " (webhook_state = 'claimed' AND (webhook_until_ms IS NULL OR webhook_until_ms < {now})))"

static enum itx_status
webhook_claim_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct webhook_ctx *x = ctx;
    struct db_param p[3] = {DBP_TEXT(x->id), DBP_TEXT(x->owner), DBP_INT(x->lease_ms)};

    return db_exec(c,
                   "UPDATE itx_jobs SET webhook_state = 'claimed', webhook_owner = $2,"
                   " webhook_until_ms = {now} + $3 WHERE id = $1 AND " WEBHOOK_WAITING,
                   p, 3, NULL, &x->changed, d);
}

static enum itx_status
check_owner(const char *owner, unsigned lease_s, struct itx_diag *d)
{
    if (!owner || !owner[0] || strlen(owner) > ITX_JOBS_MAX_KEY)
        return itx_diag_set(d, ITX_ERR_INVALID, "a webhook owner is 1..%d bytes", ITX_JOBS_MAX_KEY);
    if (lease_s == 0 || lease_s > 86400)
        return itx_diag_set(d, ITX_ERR_INVALID, "a webhook lease is 1..86400 s, not %u", lease_s);
    return ITX_OK;
}

enum itx_status
itx_jobs_webhook_claim(struct itx_jobs *s, const char *id, const char *owner, unsigned lease_s,
                       bool *claimed, struct itx_diag *d)
{
    struct webhook_ctx x = {.id = id, .owner = owner, .lease_ms = (int64_t)lease_s * 1000};
    enum itx_status st;

    if (!id || strlen(id) > 64)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id ? id : "");
    if ((st = check_owner(owner, lease_s, d)) != ITX_OK)
        return st;
    st = db_tx(s, true, webhook_claim_tx, &x, d);
    if (st == ITX_OK)
        *claimed = x.changed == 1;
    return st;
}

static enum itx_status
webhook_renew_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct webhook_ctx *x = ctx;
    struct db_param p[2] = {DBP_TEXT(x->owner), DBP_INT(x->lease_ms)};

    return db_exec(c,
                   "UPDATE itx_jobs SET webhook_until_ms = {now} + $2"
                   " WHERE webhook_owner = $1 AND webhook_state = 'claimed'",
                   p, 2, NULL, &x->changed, d);
}

enum itx_status
itx_jobs_webhook_renew(struct itx_jobs *s, const char *owner, unsigned lease_s, size_t *n_renewed,
                       struct itx_diag *d)
{
    struct webhook_ctx x = {.owner = owner, .lease_ms = (int64_t)lease_s * 1000};
    enum itx_status st = check_owner(owner, lease_s, d);

    if (st == ITX_OK)
        st = db_tx(s, true, webhook_renew_tx, &x, d);
    if (st == ITX_OK && n_renewed)
        *n_renewed = x.changed;
    return st;
}

static enum itx_status
webhook_due_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct webhook_ctx *x = ctx;
    struct db_param p[1] = {DBP_INT((long long)x->max)};
    struct db_res r;
    enum itx_status s;

    x->n = 0;
    s = db_exec(c,
                "SELECT id FROM itx_jobs WHERE " WEBHOOK_WAITING " ORDER BY finished_ms LIMIT $1",
                p, 1, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    for (size_t i = 0; i < r.n_rows && x->n < x->max; i++) {
        const char *id = db_cell(&r, i, 0);
        if (id && strlen(id) < sizeof(x->ids[0]))
            snprintf(x->ids[x->n++], sizeof(x->ids[0]), "%s", id);
    }
    db_res_release(&r);
    return ITX_OK;
}

enum itx_status
itx_jobs_webhook_due(struct itx_jobs *s, char (*ids)[65], size_t max, size_t *n, struct itx_diag *d)
{
    struct webhook_ctx x = {.ids = ids, .max = max};
    enum itx_status st;

    *n = 0;
    if (max == 0)
        return ITX_OK;
    st = db_tx(s, false, webhook_due_tx, &x, d);
    if (st == ITX_OK)
        *n = x.n;
    return st;
}

static enum itx_status
webhook_done_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct webhook_ctx *x = ctx;
    struct db_param p[3] = {DBP_TEXT(x->id), DBP_TEXT(x->outcome), DBP_TEXT(x->owner)};

    return db_exec(c,
                   "UPDATE itx_jobs SET webhook_state = $2, webhook_until_ms = NULL"
                   " WHERE id = $1 AND webhook_owner = $3 AND webhook_state = 'claimed'",
                   p, 3, NULL, &x->changed, d);
}

enum itx_status
itx_jobs_webhook_done(struct itx_jobs *s, const char *id, const char *owner, const char *outcome,
                      struct itx_diag *d)
{
    struct webhook_ctx x = {.id = id, .owner = owner, .outcome = outcome};
    enum itx_status st;

    if (!outcome || !outcome[0] || strlen(outcome) > 32)
        return itx_diag_set(d, ITX_ERR_INVALID, "a webhook outcome is 1..32 bytes");
    if (!id || strlen(id) > 64)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id ? id : "");
    if ((st = check_owner(owner, 1, d)) != ITX_OK)
        return st;
    st = db_tx(s, true, webhook_done_tx, &x, d);
    if (st == ITX_OK && x.changed == 0)
        st = itx_diag_set(d, ITX_ERR_CONFLICT,
                          "the webhook of job '%.64s' is not held by '%s' (taken over, or no "
                          "such job)",
                          id, owner);
    return st;
}

static enum itx_status
webhook_state_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct webhook_ctx *x = ctx;
    struct db_param p[1] = {DBP_TEXT(x->id)};
    struct db_res r;
    enum itx_status s;
    bool oom = false;

    itx_free(x->state);
    x->state = NULL;
    s = db_exec(c, "SELECT webhook_state FROM itx_jobs WHERE id = $1", p, 1, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    if (r.n_rows == 0)
        s = itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", x->id);
    else
        x->state = dup_cell(db_cell(&r, 0, 0), &oom);
    db_res_release(&r);
    if (s == ITX_OK && oom)
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading job '%.64s'", x->id);
    return s;
}

enum itx_status
itx_jobs_webhook_state(struct itx_jobs *s, const char *id, char **state, struct itx_diag *d)
{
    struct webhook_ctx x = {.id = id};
    enum itx_status st;

    if (!id || strlen(id) > 64)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no job '%.64s'", id ? id : "");
    st = db_tx(s, false, webhook_state_tx, &x, d);
    if (st == ITX_OK)
        *state = x.state;
    else
        itx_free(x.state);
    return st;
}
