/*
 * The database layer of src/jobs/: one statement runner over SQLite and libpq, the
 * connection pool, the transaction runner with its retry rules, and schema migrations.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "jobs/jobs-impl.h"

/* PostgreSQL type OIDs (pg_type.h) for the parameters we send. */
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701

#define SQL_MAX 16384

void
db_res_release(struct db_res *r)
{
    if (!r || !r->cells)
        return;
    for (size_t i = 0; i < r->n_rows * r->n_cols; i++)
        itx_free(r->cells[i]);
    itx_free(r->cells);
    r->cells = NULL;
    r->n_rows = r->n_cols = 0;
}

int64_t
db_int(const char *cell)
{
    return cell ? (int64_t)strtoll(cell, NULL, 10) : 0;
}

/* Replaces {now} and {lock} for the backend. The SQL texts are constants of this module. */
static enum itx_status
expand(enum db_kind kind, const char *sql, struct itx_buf *out, struct itx_diag *d)
{
    const char *now = kind == DB_PG
                          ? "(floor(extract(epoch from clock_timestamp()) * 1000))::bigint"
                          : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    const char *lock = kind == DB_PG ? " FOR UPDATE SKIP LOCKED" : "";
    enum itx_status s = ITX_OK;

    for (const char *p = sql; *p && s == ITX_OK; p++) {
        if (strncmp(p, "{now}", 5) == 0) {
            s = itx_buf_puts(out, now);
            p += 4;
        } else if (strncmp(p, "{lock}", 6) == 0) {
            s = itx_buf_puts(out, lock);
            p += 5;
        } else {
            s = itx_buf_putc(out, *p);
        }
    }
    if (s != ITX_OK)
        return itx_diag_set(d, s, "cannot prepare a statement: out of memory");
    return ITX_OK;
}

static bool
res_alloc(struct db_res *res, size_t n_rows, size_t n_cols)
{
    size_t n;
    res->n_rows = 0;
    res->n_cols = n_cols;
    res->cells = NULL;
    if (!itx_mul_size(n_rows ? n_rows : 1, n_cols ? n_cols : 1, &n))
        return false;
    res->cells = itx_calloc(n, sizeof(char *));
    return res->cells != NULL;
}

/* ---- SQLite ------------------------------------------------------------------------------ */

static enum itx_status
sqlite_fail(struct db_conn *c, int rc, const char *what, struct itx_diag *d)
{
    sqlite3 *db = c->handle;
    int base = rc & 0xff;
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED) {
        c->transient = true;
        return itx_diag_set(d, ITX_ERR_UNAVAILABLE, "sqlite: %s: database is busy: %s", what,
                            sqlite3_errmsg(db));
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        c->transient = true;
    if (base == SQLITE_NOMEM)
        return itx_diag_set(d, ITX_ERR_NOMEM, "sqlite: %s: out of memory", what);
    return itx_diag_set(d, ITX_ERR_IO, "sqlite: %s: %s", what, sqlite3_errmsg(db));
}

static enum itx_status
sqlite_exec(struct db_conn *c, const char *sql, const struct db_param *params, int n_params,
            struct db_res *res, size_t *n_changed, struct itx_diag *d)
{
    sqlite3 *db = c->handle;
    sqlite3_stmt *st = NULL;
    enum itx_status s = ITX_OK;
    size_t cap = 0, n_rows = 0;
    int rc;

    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(c, rc, "prepare", d);
    for (int i = 0; i < n_params; i++) {
        char name[16];
        int at;
        snprintf(name, sizeof(name), "$%d", i + 1);
        at = sqlite3_bind_parameter_index(st, name);
        if (at == 0)
            continue;
        switch (params[i].t) {
        case DB_NULL:
            rc = sqlite3_bind_null(st, at);
            break;
        case DB_TEXT:
            rc = sqlite3_bind_text(st, at, params[i].s, -1, SQLITE_STATIC);
            break;
        case DB_INT:
            rc = sqlite3_bind_int64(st, at, params[i].i);
            break;
        case DB_REAL:
            rc = sqlite3_bind_double(st, at, params[i].r);
            break;
        }
        if (rc != SQLITE_OK) {
            s = sqlite_fail(c, rc, "bind", d);
            goto out;
        }
    }
    if (res) {
        size_t n_cols = (size_t)sqlite3_column_count(st);
        cap = 16;
        if (!res_alloc(res, cap, n_cols)) {
            s = itx_diag_set(d, ITX_ERR_NOMEM, "sqlite: out of memory for a result");
            goto out;
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!res)
            continue;
        if (n_rows == cap) {
            char **grown = NULL;
            size_t n;
            if (itx_mul_size(cap * 2, res->n_cols ? res->n_cols : 1, &n))
                grown = itx_realloc_array(res->cells, n, sizeof(char *));
            if (!grown) {
                s = itx_diag_set(d, ITX_ERR_NOMEM, "sqlite: out of memory for a result");
                goto out;
            }
            memset(grown + cap * res->n_cols, 0, (n - cap * res->n_cols) * sizeof(char *));
            res->cells = grown;
            cap *= 2;
        }
        for (size_t k = 0; k < res->n_cols; k++) {
            const unsigned char *v = sqlite3_column_text(st, (int)k);
            if (!v)
                continue;
            res->cells[n_rows * res->n_cols + k] = itx_strdup((const char *)v);
            if (!res->cells[n_rows * res->n_cols + k]) {
                s = itx_diag_set(d, ITX_ERR_NOMEM, "sqlite: out of memory for a result");
                goto out;
            }
        }
        res->n_rows = ++n_rows;
    }
    if (rc != SQLITE_DONE) {
        s = sqlite_fail(c, rc, "step", d);
        goto out;
    }
    if (n_changed)
        *n_changed = (size_t)sqlite3_changes(db);
out:
    sqlite3_finalize(st);
    if (s != ITX_OK && res) {
        res->n_rows = cap; /* release every allocated slot */
        db_res_release(res);
    }
    return s;
}

static enum itx_status
sqlite_connect(struct itx_jobs *s, struct db_conn *c, struct itx_diag *d)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc;

    rc = sqlite3_open_v2(s->target, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        enum itx_status st = itx_diag_set(d, ITX_ERR_IO, "cannot open database '%s': %s", s->target,
                                          db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, (int)s->opts.busy_timeout_ms);
    /*
     * synchronous=FULL: in WAL mode NORMAL may lose the last transactions on power loss; a
     * queue that acknowledged a job or a completion must not forget it, and the extra fsync
     * per commit is small next to the work each item costs.
     */
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        enum itx_status st = itx_diag_set(d, ITX_ERR_IO, "cannot set up database '%s': %s",
                                          s->target, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        sqlite3_close(db);
        return st;
    }
    c->handle = db;
    return ITX_OK;
}

/* ---- PostgreSQL -------------------------------------------------------------------------- */

static void
pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static enum itx_status
pg_connect(struct itx_jobs *s, struct db_conn *c, struct itx_diag *d)
{
    char timeout[16], options[128];
    const char *keys[] = {"dbname",           "connect_timeout", "options",
                          "application_name", "client_encoding", NULL};
    const char *vals[] = {s->target, timeout, options, "itx", "UTF8", NULL};
    PGconn *pg;

    snprintf(timeout, sizeof(timeout), "%u", s->opts.connect_timeout_s);
    snprintf(options, sizeof(options), "-c statement_timeout=%u -c lock_timeout=%u",
             s->opts.statement_timeout_ms, s->opts.statement_timeout_ms);
    pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return itx_diag_set(d, ITX_ERR_NOMEM, "postgres: out of memory connecting");
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(pg);
        c->transient = true;
        return itx_diag_set(d, ITX_ERR_UNAVAILABLE, "cannot connect to postgres: %s", msg);
    }
    PQsetNoticeProcessor(pg, pg_quiet, NULL);
    c->handle = pg;
    c->broken = false;
    return ITX_OK;
}

static enum itx_status
pg_exec(struct db_conn *c, const char *sql, const struct db_param *params, int n_params,
        struct db_res *res, size_t *n_changed, struct itx_diag *d)
{
    PGconn *pg = c->handle;
    Oid types[16];
    const char *values[16];
    char nums[16][32];
    PGresult *r;
    ExecStatusType est;
    enum itx_status s = ITX_OK;

    ITX_ASSERT(n_params <= 16);
    for (int i = 0; i < n_params; i++) {
        switch (params[i].t) {
        case DB_NULL:
            types[i] = 0;
            values[i] = NULL;
            break;
        case DB_TEXT:
            types[i] = OID_TEXT;
            values[i] = params[i].s;
            break;
        case DB_INT:
            types[i] = OID_INT8;
            snprintf(nums[i], sizeof(nums[i]), "%lld", params[i].i);
            values[i] = nums[i];
            break;
        case DB_REAL:
            types[i] = OID_FLOAT8;
            snprintf(nums[i], sizeof(nums[i]), "%.17g", params[i].r);
            values[i] = nums[i];
            break;
        }
    }
    r = PQexecParams(pg, sql, n_params, types, values, NULL, NULL, 0);
    est = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        if (PQstatus(pg) != CONNECTION_OK) {
            c->broken = true;
            c->transient = true;
            s = itx_diag_set(d, ITX_ERR_UNAVAILABLE, "postgres: connection lost: %s", msg);
        } else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                             strcmp(state, "23505") == 0)) {
            c->transient = true;
            s = itx_diag_set(d, ITX_ERR_UNAVAILABLE, "postgres: %s (%s)", msg, state);
        } else if (state && (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)) {
            s = itx_diag_set(d, ITX_ERR_TIMEOUT, "postgres: %s (%s)", msg, state);
        } else if (state && strncmp(state, "57P", 3) == 0) {
            /* The server is shutting down or restarting: the connection is gone. */
            c->broken = true;
            c->transient = true;
            s = itx_diag_set(d, ITX_ERR_UNAVAILABLE, "postgres: %s (%s)", msg, state);
        } else {
            s = itx_diag_set(d, ITX_ERR_IO, "postgres: %s (%s)", msg, state ? state : "-");
        }
        PQclear(r);
        return s;
    }
    if (res) {
        size_t n_rows = (size_t)PQntuples(r), n_cols = (size_t)PQnfields(r);
        if (!res_alloc(res, n_rows, n_cols)) {
            PQclear(r);
            return itx_diag_set(d, ITX_ERR_NOMEM, "postgres: out of memory for a result");
        }
        res->n_rows = n_rows;
        for (size_t i = 0; i < n_rows && s == ITX_OK; i++) {
            for (size_t k = 0; k < n_cols; k++) {
                if (PQgetisnull(r, (int)i, (int)k))
                    continue;
                res->cells[i * n_cols + k] = itx_strdup(PQgetvalue(r, (int)i, (int)k));
                if (!res->cells[i * n_cols + k]) {
                    s = itx_diag_set(d, ITX_ERR_NOMEM, "postgres: out of memory for a result");
                    break;
                }
            }
        }
        if (s != ITX_OK)
            db_res_release(res);
    }
    if (n_changed) {
        const char *t = PQcmdTuples(r);
        *n_changed = t && *t ? (size_t)strtoull(t, NULL, 10) : 0;
    }
    PQclear(r);
    return s;
}

/* ---- common ------------------------------------------------------------------------------ */

enum itx_status
db_exec(struct db_conn *c, const char *sql, const struct db_param *params, int n_params,
        struct db_res *res, size_t *n_changed, struct itx_diag *d)
{
    struct itx_buf b;
    enum itx_status s;

    if (res)
        *res = (struct db_res){0};
    itx_buf_init(&b, SQL_MAX);
    s = expand(c->kind, sql, &b, d);
    if (s == ITX_OK && !b.data)
        s = itx_diag_set(d, ITX_ERR_INTERNAL, "empty statement");
    if (s == ITX_OK) {
        if (c->kind == DB_SQLITE)
            s = sqlite_exec(c, b.data, params, n_params, res, n_changed, d);
        else
            s = pg_exec(c, b.data, params, n_params, res, n_changed, d);
    }
    itx_buf_release(&b);
    return s;
}

static void
conn_close(struct db_conn *c)
{
    if (!c->handle)
        return;
    if (c->kind == DB_SQLITE)
        sqlite3_close(c->handle);
    else
        PQfinish(c->handle);
    c->handle = NULL;
}

/* Makes sure c holds a live connection, opening or re-opening it. */
static enum itx_status
conn_ready(struct itx_jobs *s, struct db_conn *c, struct itx_diag *d)
{
    if (c->handle && c->kind == DB_PG && (c->broken || PQstatus(c->handle) != CONNECTION_OK)) {
        PQreset(c->handle);
        if (PQstatus(c->handle) == CONNECTION_OK) {
            c->broken = false;
            return ITX_OK;
        }
        conn_close(c);
    }
    if (c->handle)
        return ITX_OK;
    c->kind = s->kind;
    return s->kind == DB_SQLITE ? sqlite_connect(s, c, d) : pg_connect(s, c, d);
}

static struct db_conn *
pool_take(struct itx_jobs *s)
{
    struct db_conn *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (unsigned i = 0; i < s->opts.pool_size; i++) {
            if (!s->busy[i]) {
                s->busy[i] = true;
                c = &s->conns[i];
                break;
            }
        }
        if (c)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void
pool_give(struct itx_jobs *s, struct db_conn *c)
{
    pthread_mutex_lock(&s->mu);
    s->busy[c - s->conns] = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

enum itx_status
db_tx(struct itx_jobs *s, bool write, db_tx_fn fn, void *ctx, struct itx_diag *d)
{
    enum { ATTEMPTS = 6 };
    struct db_conn *c = pool_take(s);
    enum itx_status st = ITX_OK;

    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        /*
         * SQLite: writers take the write lock up front, so two never both read and then fail
         * to upgrade. PostgreSQL: readers see one snapshot across their statements.
         */
        const char *begin =
            s->kind == DB_SQLITE
                ? (write ? "BEGIN IMMEDIATE" : "BEGIN")
                : (write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        c->transient = false;
        c->in_commit = false;
        st = conn_ready(s, c, d);
        if (st == ITX_OK)
            st = db_exec(c, begin, NULL, 0, NULL, NULL, d);
        if (st == ITX_OK)
            st = fn(c, ctx, d);
        if (st == ITX_OK) {
            c->in_commit = true;
            st = db_exec(c, "COMMIT", NULL, 0, NULL, NULL, d);
            if (st == ITX_OK)
                break;
        } else if (c->handle && !c->broken) {
            struct itx_diag ignored;
            itx_diag_init(&ignored);
            db_exec(c, "ROLLBACK", NULL, 0, NULL, NULL, &ignored);
        }
        /*
         * A lost commit has an unknown outcome: running the transaction again could apply it
         * twice, so the caller hears about it instead.
         */
        if (!c->transient || (c->broken && c->in_commit))
            break;
        sleep_ms(5u * (1u << attempt) + (unsigned)(rand() % 5));
    }
    pool_give(s, c);
    return st;
}

/* ---- schema ------------------------------------------------------------------------------ */

/* Each migration is a list of statements run in one transaction; append, never edit. */
static const char *const migration_1[] = {
    "CREATE TABLE itx_jobs ("
    " id TEXT PRIMARY KEY,"
    " idem_key TEXT UNIQUE,"
    " body_hash TEXT,"
    " settings TEXT NOT NULL,"
    " webhook_url TEXT,"
    " state TEXT NOT NULL,"
    " n_items INTEGER NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " finished_ms BIGINT)",
    "CREATE INDEX itx_jobs_finished ON itx_jobs (finished_ms)",
    "CREATE TABLE itx_job_items ("
    " job_id TEXT NOT NULL,"
    " idx INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " options TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " stage TEXT,"
    " progress DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL,"
    " next_attempt_ms BIGINT NOT NULL,"
    " lease_owner TEXT,"
    " lease_until_ms BIGINT,"
    " lease_token BIGINT NOT NULL DEFAULT 0,"
    " error_code TEXT,"
    " error_msg TEXT,"
    " result TEXT,"
    " updated_ms BIGINT NOT NULL,"
    " PRIMARY KEY (job_id, idx))",
    "CREATE INDEX itx_job_items_ready ON itx_job_items (state, next_attempt_ms)",
    "CREATE TABLE itx_result_cache ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " hits BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE itx_tr_cache ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " hits BIGINT NOT NULL DEFAULT 0,"
    " misses BIGINT NOT NULL DEFAULT 0)",
    NULL,
};

/* Who sends a finished job's webhook: claimed once (itx_jobs_webhook_claim), then the
 * outcome of the delivery. */
static const char *const migration_2[] = {
    "ALTER TABLE itx_jobs ADD COLUMN webhook_state TEXT",
    NULL,
};

/* Webhook claims with a lease, so a notice whose owner died is taken over (at least once):
 * who holds it and until when; the partial index serves itx_jobs_webhook_due. */
static const char *const migration_3[] = {
    "ALTER TABLE itx_jobs ADD COLUMN webhook_owner TEXT",
    "ALTER TABLE itx_jobs ADD COLUMN webhook_until_ms BIGINT",
    "CREATE INDEX itx_jobs_webhook_due ON itx_jobs (finished_ms)"
    " WHERE webhook_url IS NOT NULL AND (webhook_state IS NULL OR webhook_state = 'claimed')",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2, migration_3};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static enum itx_status
migrate_tx(struct db_conn *c, void *ctx, struct itx_diag *d)
{
    struct db_res r = {0};
    enum itx_status s;
    int have;

    (void)ctx;
    /* Instances starting together take turns; SQLite's BEGIN IMMEDIATE already does. */
    if (c->kind == DB_PG) {
        s = db_exec(c, "SELECT pg_advisory_xact_lock(7375836)", NULL, 0, NULL, NULL, d);
        if (s != ITX_OK)
            return s;
    }
    s = db_exec(c,
                "CREATE TABLE IF NOT EXISTS itx_schema_migrations ("
                " version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
                NULL, 0, NULL, NULL, d);
    if (s == ITX_OK)
        s = db_exec(c, "SELECT max(version) FROM itx_schema_migrations", NULL, 0, &r, NULL, d);
    if (s != ITX_OK)
        return s;
    have = r.n_rows ? (int)db_int(db_cell(&r, 0, 0)) : 0;
    db_res_release(&r);
    if (have > N_MIGRATIONS)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "database schema version %d is newer than this build knows (%d)", have,
                            N_MIGRATIONS);
    for (int v = have + 1; v <= N_MIGRATIONS && s == ITX_OK; v++) {
        struct db_param p[1] = {DBP_INT(v)};
        for (const char *const *q = migrations[v - 1]; *q && s == ITX_OK; q++)
            s = db_exec(c, *q, NULL, 0, NULL, NULL, d);
        if (s == ITX_OK)
            s = db_exec(c,
                        "INSERT INTO itx_schema_migrations (version, applied_ms) "
                        "VALUES ($1, {now})",
                        p, 1, NULL, NULL, d);
        if (s != ITX_OK)
            itx_diag_prefix(d, "schema migration %d", v);
    }
    return s;
}

static enum itx_status
parse_url(struct itx_jobs *s, const char *url, struct itx_diag *d)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2; /* sqlite:///abs/path and sqlite://rel/path */
        if (!*path)
            return itx_diag_set(d, ITX_ERR_INVALID, "database URL '%s' has no file path", url);
        s->kind = DB_SQLITE;
        s->target = itx_strdup(path);
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        s->kind = DB_PG;
        s->target = itx_strdup(url);
    } else {
        /* Only the scheme is quoted: the rest may hold a password. */
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "database URL scheme '%.*s' is neither sqlite:PATH nor "
                            "postgres://...",
                            (int)strcspn(url, ":/@"), url);
    }
    if (!s->target)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening the job store");
    return ITX_OK;
}

enum itx_status
db_open(struct itx_jobs *s, const char *url, struct itx_diag *d)
{
    enum itx_status st = parse_url(s, url, d);
    if (st != ITX_OK)
        return st;
    s->conns = itx_calloc(s->opts.pool_size, sizeof(*s->conns));
    s->busy = itx_calloc(s->opts.pool_size, sizeof(*s->busy));
    if (!s->conns || !s->busy)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening the job store");
    for (unsigned i = 0; i < s->opts.pool_size; i++)
        s->conns[i].kind = s->kind;
    return db_tx(s, true, migrate_tx, NULL, d);
}

void
db_close(struct itx_jobs *s)
{
    if (s->conns) {
        for (unsigned i = 0; i < s->opts.pool_size; i++)
            conn_close(&s->conns[i]);
    }
    itx_free(s->conns);
    itx_free(s->busy);
    itx_free(s->target);
}
