/*
 * The result cache and the translation cache in the job store, and the adapter that makes the
 * translation cache a backend of src/translate's struct itx_tr_cache. Both tables keep the
 * first value stored for a key, so instances racing on one key agree on one value.
 */
#include <string.h>

#include "core/alloc.h"
#include "jobs/jobs-impl.h"
#include "translate/translate.h"

static enum itx_status
check_entry(const char *what, const char *key, const char *value, struct itx_diag *d)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s key is empty", what);
    if (n > ITX_JOBS_MAX_KEY)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "%s key is %zu bytes, over the %d-byte limit",
                            what, n, ITX_JOBS_MAX_KEY);
    if (value && strlen(value) > ITX_JOBS_MAX_JSON)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "%s value is %zu bytes, over the %d-byte limit",
                            what, strlen(value), ITX_JOBS_MAX_JSON);
    return ITX_OK;
}

struct kv_ctx {
    const char *sql;
    const char *key;
    const char *value;
    char *out;
};

static enum itx_status
get_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct kv_ctx *x = ctx;
    struct db_param p[1] = {DBP_TEXT(x->key)};
    struct db_res r;
    enum itx_status s;

    itx_free(x->out);
    x->out = NULL;
    s = db_exec(c, x->sql, p, 1, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    if (r.n_rows == 0) {
        s = itx_diag_set(d, ITX_ERR_NOT_FOUND, "no cache entry for '%.80s'", x->key);
    } else {
        x->out = itx_strdup(db_cell(&r, 0, 0) ? db_cell(&r, 0, 0) : "");
        if (!x->out)
            s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading the cache");
    }
    db_res_release(&r);
    return s;
}

static enum itx_status
put_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct kv_ctx *x = ctx;
    struct db_param p[2] = {DBP_TEXT(x->key), DBP_TEXT(x->value)};
    return db_exec(c, x->sql, p, 2, NULL, NULL, d);
}

static enum itx_status
kv_get(struct itx_jobs *s, const char *what, const char *sql, const char *key, char **value,
       struct itx_diag *d)
{
    struct kv_ctx x = {.sql = sql, .key = key};
    enum itx_status st = check_entry(what, key, NULL, d);
    if (st != ITX_OK)
        return st;
    /*
     * A miss ends the transaction with ITX_ERR_NOT_FOUND, which rolls back nothing of value
     * (the hit counter only moves on a hit).
     */
    st = db_tx(s, true, get_tx, &x, d);
    if (st != ITX_OK) {
        itx_free(x.out);
        return st;
    }
    *value = x.out;
    return ITX_OK;
}

static enum itx_status
kv_put(struct itx_jobs *s, const char *what, const char *sql, const char *key, const char *value,
       struct itx_diag *d)
{
    struct kv_ctx x = {.sql = sql, .key = key, .value = value};
    enum itx_status st;
    if (!value)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s value is missing", what);
    if ((st = check_entry(what, key, value, d)) != ITX_OK)
        return st;
    return db_tx(s, true, put_tx, &x, d);
}

enum itx_status
itx_jobs_result_get(struct itx_jobs *s, const char *key, char **value, struct itx_diag *d)
{
    return kv_get(s, "result cache",
                  "UPDATE itx_result_cache SET hits = hits + 1 WHERE key = $1 RETURNING value", key,
                  value, d);
}

enum itx_status
itx_jobs_result_put(struct itx_jobs *s, const char *key, const char *value, struct itx_diag *d)
{
    return kv_put(s, "result cache",
                  "INSERT INTO itx_result_cache (key, value, created_ms) VALUES ($1, $2, {now})"
                  " ON CONFLICT (key) DO NOTHING",
                  key, value, d);
}

enum itx_status
itx_jobs_tr_get(struct itx_jobs *s, const char *key, char **value, struct itx_diag *d)
{
    return kv_get(s, "translation cache",
                  "UPDATE itx_tr_cache SET hits = hits + 1 WHERE key = $1 RETURNING value", key,
                  value, d);
}

enum itx_status
itx_jobs_tr_put(struct itx_jobs *s, const char *key, const char *value, struct itx_diag *d)
{
    /* A put follows a miss; when two instances missed the same key, both misses count. */
    return kv_put(s, "translation cache",
                  "INSERT INTO itx_tr_cache (key, value, created_ms, misses)"
                  " VALUES ($1, $2, {now}, 1)"
                  " ON CONFLICT (key) DO UPDATE SET misses = itx_tr_cache.misses + 1",
                  key, value, d);
}

struct stats_ctx {
    uint64_t v[3];
};

static enum itx_status
stats_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct stats_ctx *x = ctx;
    struct db_res r;
    enum itx_status s = db_exec(c,
                                "SELECT count(*), COALESCE(sum(hits), 0),"
                                " COALESCE(sum(misses), 0) FROM itx_tr_cache",
                                NULL, 0, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    for (size_t k = 0; k < 3 && r.n_rows; k++)
        x->v[k] = (uint64_t)db_int(db_cell(&r, 0, k));
    db_res_release(&r);
    return ITX_OK;
}

enum itx_status
itx_jobs_tr_stats(struct itx_jobs *s, uint64_t *entries, uint64_t *hits, uint64_t *misses,
                  struct itx_diag *d)
{
    struct stats_ctx x = {{0}};
    enum itx_status st = db_tx(s, false, stats_tx, &x, d);
    if (st != ITX_OK)
        return st;
    if (entries)
        *entries = x.v[0];
    if (hits)
        *hits = x.v[1];
    if (misses)
        *misses = x.v[2];
    return ITX_OK;
}

/* ---- adapter for src/translate ----------------------------------------------------------- */

static enum itx_status
tr_op_get(void *impl, const char *key, char **value, struct itx_diag *d)
{
    return itx_jobs_tr_get(impl, key, value, d);
}

static enum itx_status
tr_op_put(void *impl, const char *key, const char *value, struct itx_diag *d)
{
    return itx_jobs_tr_put(impl, key, value, d);
}

static void
tr_op_close(void *impl)
{
    (void)impl; /* the store is borrowed */
}

static const struct itx_tr_cache_ops tr_ops = {tr_op_get, tr_op_put, tr_op_close};

enum itx_status
itx_jobs_tr_cache_new(struct itx_jobs *s, struct itx_tr_cache **out, struct itx_diag *d)
{
    struct itx_tr_cache *c = itx_tr_cache_new(&tr_ops, s);
    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating the translation cache");
    *out = c;
    return ITX_OK;
}
