/*
 * Internals of src/jobs/: a thin database layer that runs the same parameterised SQL on
 * SQLite and PostgreSQL, a connection pool, and a transaction runner with retries.
 *
 * SQL texts are constants written once for both backends. Parameters are $1, $2, ... (SQLite
 * reads them as named parameters "$1"...). Two tokens are replaced per backend before a
 * statement runs: {now} (the database clock in Unix ms) and {lock} (" FOR UPDATE SKIP LOCKED"
 * on PostgreSQL, nothing on SQLite, where BEGIN IMMEDIATE already serialises writers). No SQL
 * is ever built from input.
 */
#ifndef ITX_JOBS_IMPL_H
#define ITX_JOBS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobs/jobs.h"

enum db_kind { DB_SQLITE, DB_PG };

struct db_conn {
    enum db_kind kind;
    void *handle;   /* sqlite3 * or PGconn * */
    bool broken;    /* PostgreSQL: the connection was lost */
    bool transient; /* the last failure may succeed when the transaction is retried */
    bool in_commit; /* the last failure came while committing */
};

enum db_ptype { DB_NULL, DB_TEXT, DB_INT, DB_REAL };

struct db_param {
    enum db_ptype t;
    const char *s;
    long long i;
    double r;
};

#define DBP_TEXT(x) ((struct db_param){(x) ? DB_TEXT : DB_NULL, (x), 0, 0.0})
#define DBP_INT(x) ((struct db_param){DB_INT, NULL, (long long)(x), 0.0})
#define DBP_REAL(x) ((struct db_param){DB_REAL, NULL, 0, (double)(x)})

/* A whole result as text cells, row-major; NULL cells are SQL NULL. */
struct db_res {
    size_t n_rows, n_cols;
    char **cells;
};

static inline const char *
db_cell(const struct db_res *r, size_t row, size_t col)
{
    return r->cells[row * r->n_cols + col];
}

void db_res_release(struct db_res *r);

struct itx_jobs {
    enum db_kind kind;
    char *target; /* SQLite path or PostgreSQL URL */
    struct itx_jobs_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct db_conn *conns; /* pool; handle NULL until first use */
    bool *busy;
};

/*
 * Runs one statement. res (may be NULL) receives the rows; *n_changed (may be NULL) the
 * number of rows inserted, updated or deleted. Failures set c->transient / c->broken.
 */
enum itx_status db_exec(struct db_conn *c, const char *sql, const struct db_param *params,
                        int n_params, struct db_res *res, size_t *n_changed, struct itx_diag *d);

/* Parses a decimal cell; 0 for NULL. */
int64_t db_int(const char *cell);

typedef enum itx_status (*db_tx_fn)(struct db_conn *c, void *ctx, struct itx_diag *d);

/*
 * Borrows a connection, runs fn inside a transaction (BEGIN IMMEDIATE on SQLite when write is
 * set) and commits; rolls back when fn fails. Retries the whole transaction on deadlocks,
 * serialisation failures, unique-key races and lost connections (reconnecting), a few times.
 */
enum itx_status db_tx(struct itx_jobs *s, bool write, db_tx_fn fn, void *ctx, struct itx_diag *d);

/* Opens the pool and migrates the schema (db.c). */
enum itx_status db_open(struct itx_jobs *s, const char *url, struct itx_diag *d);
void db_close(struct itx_jobs *s);

#endif
