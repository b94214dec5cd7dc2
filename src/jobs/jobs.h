/*
 * Durable jobs: a queue of image jobs shared by any number of itx instances, plus the result
 * and translation caches, in one database.
 *
 * Two backends behind one interface, chosen by URL:
 *   sqlite:PATH              the embedded default (WAL, synchronous=FULL); many threads and
 *                            processes on one machine may share the file
 *   postgres://... (or postgresql://...)  a PostgreSQL server shared by many instances;
 *                            items are claimed with SELECT ... FOR UPDATE SKIP LOCKED
 * itx_jobs_default_url() reads ITX_DATABASE_URL.
 *
 * The model. A job is an ordered list of items (one picture each: a source URL or a stored
 * upload key, and per-item options JSON), job-level settings JSON, an optional webhook URL
 * and an optional idempotency key with the hash of the request body that created it. Workers
 * claim items one at a time with a lease (itx_jobs_claim), keep the lease alive with
 * itx_jobs_heartbeat, and finish with itx_jobs_complete or itx_jobs_fail. An item whose lease
 * ran out (its worker died, e.g. kill -9) may be claimed again by anyone: processing is
 * at-least-once. Completion is first-wins: the first itx_jobs_complete of an item stores its
 * result and every later one (a duplicate, or the loser after a lease was taken over) is a
 * no-op reported as ITX_JOBS_ALREADY_DONE, so an item never gets a second, different result.
 * A retryable failure puts the item back in the queue after a backoff; after max_attempts
 * claims the item fails with its last error. The job's state follows from its items.
 *
 * Invariants:
 *   - an item is in exactly one state; succeeded, failed and cancelled are final;
 *   - a succeeded item's result never changes;
 *   - a job's state is recomputed in the same transaction that finishes one of its items.
 *
 * Thread-safety: a struct itx_jobs is a small pool of database connections (pool_size,
 * default 4). Every function may be called from any number of threads at once on one store;
 * each call borrows a connection for one transaction and waits when all are in use. Objects
 * returned (struct itx_job, struct itx_jobs_item) are owned by the caller and not shared.
 * A store must not be used across fork(): a child opens its own.
 *
 * Connection loss (PostgreSQL): a call that finds its connection broken reconnects and runs
 * its transaction again, unless the failure came while committing (then the outcome is
 * unknown and the call fails with ITX_ERR_UNAVAILABLE). A server restart therefore costs at
 * most one failed call, never the process.
 */
#ifndef ITX_JOBS_JOBS_H
#define ITX_JOBS_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Limits on what one job may hold; over them is ITX_ERR_TOO_LARGE naming the limit. */
#define ITX_JOBS_MAX_ITEMS 10000
#define ITX_JOBS_MAX_SOURCE 8192       /* bytes of one source URL or key */
#define ITX_JOBS_MAX_JSON (256 * 1024) /* bytes of settings, options or one result */
#define ITX_JOBS_MAX_KEY 256           /* idempotency key, cache key, worker id */
#define ITX_JOBS_MAX_ERROR 1024        /* error messages are truncated to this */

enum itx_job_state {
    ITX_JOB_QUEUED,
    ITX_JOB_RUNNING,
    ITX_JOB_SUCCEEDED,
    ITX_JOB_FAILED,
    ITX_JOB_CANCELLED,
    ITX_JOB_PARTIALLY_FAILED,
};

/* Item states use the same names; partially_failed never applies to an item. */
const char *itx_job_state_str(enum itx_job_state s);
bool itx_job_state_parse(const char *s, enum itx_job_state *out);
bool itx_job_state_final(enum itx_job_state s);

struct itx_jobs_opts {
    unsigned pool_size;            /* connections; 0: 4 */
    unsigned busy_timeout_ms;      /* SQLite lock wait; 0: 5000 */
    unsigned statement_timeout_ms; /* PostgreSQL statement_timeout; 0: 10000 */
    unsigned connect_timeout_s;    /* PostgreSQL connect_timeout; 0: 5 */
    unsigned max_attempts;         /* claims of one item before it fails; 0: 5 */
    unsigned backoff_base_ms;      /* delay after the first retryable failure; 0: 2000 */
    unsigned backoff_max_ms;       /* ceiling of the doubling delay; 0: 300000 */
};

struct itx_jobs;

/* ITX_DATABASE_URL when set and not empty, else "sqlite:itx-jobs.db". Never NULL. */
const char *itx_jobs_default_url(void);

/*
 * Opens the store at url (see above), creating or migrating its schema. opts may be NULL for
 * the defaults. ITX_ERR_INVALID for a URL that names neither backend, ITX_ERR_UNAVAILABLE
 * when the server cannot be reached, ITX_ERR_IO for other database failures, ITX_ERR_INVALID
 * when the schema is newer than this build. *out is written only on success.
 */
enum itx_status itx_jobs_open(const char *url, const struct itx_jobs_opts *opts,
                              struct itx_jobs **out, struct itx_diag *d);
/* Closes every connection. All borrowed calls must have returned. NULL is a no-op. */
void itx_jobs_close(struct itx_jobs *s);

/* "sqlite" or "postgres". */
const char *itx_jobs_backend(const struct itx_jobs *s);

/* The database's clock in Unix milliseconds (the clock leases and timestamps use). */
enum itx_status itx_jobs_now_ms(struct itx_jobs *s, int64_t *out, struct itx_diag *d);

/* ---- creating and reading jobs ---------------------------------------------------------- */

struct itx_jobs_new_item {
    const char *source;  /* source URL or stored-upload key, required */
    const char *options; /* JSON object or NULL ("{}") */
};

struct itx_jobs_new {
    const struct itx_jobs_new_item *items; /* borrowed */
    size_t n_items;                        /* 1..ITX_JOBS_MAX_ITEMS */
    const char *settings;                  /* JSON object or NULL ("{}") */
    const char *webhook_url;               /* or NULL */
    const char *idempotency_key;           /* or NULL */
    /* Hash of the request body (hex); NULL: computed over items, settings and webhook. */
    const char *body_hash;
};

/*
 * Creates a job with all its items queued and writes its id (32 hex chars) to id_out. With an
 * idempotency key that already names a job: the same body hash returns that job's id and sets
 * *replayed (when not NULL); another body hash is ITX_ERR_CONFLICT. ITX_ERR_INVALID for a
 * missing source or JSON that is not an object, ITX_ERR_TOO_LARGE over the limits above.
 */
enum itx_status itx_jobs_create(struct itx_jobs *s, const struct itx_jobs_new *job, char id_out[33],
                                bool *replayed, struct itx_diag *d);

struct itx_job_item {
    unsigned idx;
    char *source;
    char *options;
    enum itx_job_state state;
    char *stage;     /* last stage reported by a heartbeat, or NULL */
    double progress; /* 0..1 */
    unsigned attempts;
    char *error_code; /* last error, or NULL */
    char *error_msg;
    char *result; /* JSON of a succeeded item, else NULL */
    int64_t updated_ms;
};

struct itx_job {
    char id[33];
    enum itx_job_state state;
    char *settings;
    char *webhook_url;     /* or NULL */
    char *idempotency_key; /* or NULL */
    int64_t created_ms, updated_ms;
    int64_t finished_ms; /* 0 while not final */
    size_t n_items;
    struct itx_job_item *items; /* in item order */
    size_t n_state[6];          /* items per enum itx_job_state */
};

/* Reads a job and its items. ITX_ERR_NOT_FOUND for an unknown id. Free with itx_job_free. */
enum itx_status itx_jobs_get(struct itx_jobs *s, const char *id, struct itx_job **out,
                             struct itx_diag *d);
void itx_job_free(struct itx_job *j);

/*
 * Cancels a job: its unfinished items become cancelled (a worker holding one learns it from
 * its next heartbeat, and its completion is then a no-op) and the job becomes cancelled. A
 * job already final is left as it is. *state_out (may be NULL) gets the job's state after the
 * call. ITX_ERR_NOT_FOUND for an unknown id.
 */
enum itx_status itx_jobs_cancel(struct itx_jobs *s, const char *id, enum itx_job_state *state_out,
                                struct itx_diag *d);

/* ---- workers ------------------------------------------------------------------------------ */

/* A claimed item; owned by the caller, free with itx_jobs_item_free. */
struct itx_jobs_item {
    char job_id[33];
    unsigned idx;
    char *source;
    char *options;
    char *settings;      /* the job's settings */
    char *webhook_url;   /* the job's webhook, or NULL */
    unsigned attempt;    /* 1 on the first claim */
    int64_t lease_token; /* identifies this claim; a later claim of the item has a larger one */
};
void itx_jobs_item_free(struct itx_jobs_item *it);

/*
 * Claims the next ready item: a queued item whose backoff has passed, or a running item whose
 * lease expired (its worker is presumed dead). The item is leased to worker_id for
 * lease_seconds (1..86400). *item is NULL when nothing is ready (ITX_OK). Items whose lease
 * expired on their last allowed attempt are failed here with their last error.
 * Concurrent claimers, in threads or processes or instances, never get the same item while
 * its lease runs.
 */
enum itx_status itx_jobs_claim(struct itx_jobs *s, const char *worker_id, unsigned lease_seconds,
                               struct itx_jobs_item **item, struct itx_diag *d);

/*
 * Extends the lease by lease_seconds from now and records progress (stage may be NULL to keep
 * the last one; progress in 0..1). ITX_ERR_CANCELLED when the job was cancelled,
 * ITX_ERR_CONFLICT when the item was claimed again by another worker or is already finished;
 * in both cases the worker should stop.
 */
enum itx_status itx_jobs_heartbeat(struct itx_jobs *s, const struct itx_jobs_item *it,
                                   unsigned lease_seconds, const char *stage, double progress,
                                   struct itx_diag *d);

enum itx_jobs_outcome {
    ITX_JOBS_APPLIED,      /* this call changed the item */
    ITX_JOBS_ALREADY_DONE, /* the item was already final (completed by someone else, failed or
                              cancelled); nothing changed */
    ITX_JOBS_LEASE_LOST,   /* (fail only) another claim holds the item; nothing changed */
};

/*
 * Stores the item's result (a JSON value) and marks it succeeded, if it is not final yet,
 * whoever holds the lease: the first completion wins. *outcome (may be NULL) says whether
 * this call did it.
 */
enum itx_status itx_jobs_complete(struct itx_jobs *s, const struct itx_jobs_item *it,
                                  const char *result_json, enum itx_jobs_outcome *outcome,
                                  struct itx_diag *d);

/*
 * Records a failure of this claim with an error code (e.g. itx_err_str of the status) and a
 * message. Retryable and attempts left: the item is queued again after
 * backoff_base_ms * 2^(attempt-1) (at most backoff_max_ms). Otherwise it fails for good. Only
 * the current claim may fail an item: a stale claim gets ITX_JOBS_LEASE_LOST.
 */
enum itx_status itx_jobs_fail(struct itx_jobs *s, const struct itx_jobs_item *it, const char *code,
                              const char *msg, bool retryable, enum itx_jobs_outcome *outcome,
                              struct itx_diag *d);

/*
 * Retention: deletes final jobs (and their items) that finished before finished_before_ms
 * (Unix ms on the database clock; e.g. now - days * 86400000). *n_deleted may be NULL.
 */
enum itx_status itx_jobs_purge(struct itx_jobs *s, int64_t finished_before_ms, size_t *n_deleted,
                               struct itx_diag *d);
/* The same for jobs that finished more than days days ago on the database clock. */
enum itx_status itx_jobs_purge_older(struct itx_jobs *s, unsigned days, size_t *n_deleted,
                                     struct itx_diag *d);

/*
 * Counts of items waiting (queued, whatever their backoff) and running over the whole store
 * (every job, every instance): the queue depth. Either pointer may be NULL.
 */
enum itx_status itx_jobs_counts(struct itx_jobs *s, uint64_t *queued, uint64_t *running,
                                struct itx_diag *d);

/*
 * Webhooks. A finished job with a webhook URL is notified at least once, by whichever
 * instance owns its notice. itx_jobs_webhook_claim gives the notice to owner (an instance's
 * name, 1..ITX_JOBS_MAX_KEY bytes) for lease_s seconds (1..86400) when it waits for one: the
 * job is final and the notice was never claimed, or its claim's lease ran out (the owner
 * died before recording an outcome). *claimed says whether owner has it now; a job not
 * final, without a webhook, or held by a live claim gives false. The owner keeps its claims
 * with itx_jobs_webhook_renew (all of them at once, from a heartbeat) while it delivers, and
 * records the outcome with itx_jobs_webhook_done ("delivered" or "failed", 1..32 bytes),
 * which GET shows; a done from an owner that no longer holds the claim is ITX_ERR_CONFLICT
 * and changes nothing. itx_jobs_webhook_due lists up to max jobs whose notice waits for an
 * owner, oldest first (a sweeper claims them one by one; a claim can still lose a race). A
 * notice delivered by an owner that died before recording it is sent again by the next.
 */
enum itx_status itx_jobs_webhook_claim(struct itx_jobs *s, const char *id, const char *owner,
                                       unsigned lease_s, bool *claimed, struct itx_diag *d);
enum itx_status itx_jobs_webhook_renew(struct itx_jobs *s, const char *owner, unsigned lease_s,
                                       size_t *n_renewed, struct itx_diag *d);
enum itx_status itx_jobs_webhook_done(struct itx_jobs *s, const char *id, const char *owner,
                                      const char *outcome, struct itx_diag *d);
enum itx_status itx_jobs_webhook_due(struct itx_jobs *s, char (*ids)[65], size_t max, size_t *n,
                                     struct itx_diag *d);
/* The webhook state of a job: NULL (not claimed yet) or a string to itx_free. */
enum itx_status itx_jobs_webhook_state(struct itx_jobs *s, const char *id, char **state,
                                       struct itx_diag *d);

/* ---- caches ------------------------------------------------------------------------------- */

/*
 * Result cache: content-hash key -> result JSON, shared by every instance on the store.
 * get: ITX_OK and *value (free with itx_free) on a hit, ITX_ERR_NOT_FOUND on a miss.
 * put: the first value stored for a key stays (a later put of the same key is a no-op), so
 * concurrent instances agree on one result.
 */
enum itx_status itx_jobs_result_get(struct itx_jobs *s, const char *key, char **value,
                                    struct itx_diag *d);
enum itx_status itx_jobs_result_put(struct itx_jobs *s, const char *key, const char *value,
                                    struct itx_diag *d);

/*
 * Translation cache: key (see itx_tr_cache_key) -> translation, with a hit counter per entry
 * and a miss counter (a put records the miss that led to it). First value wins, as above.
 */
enum itx_status itx_jobs_tr_get(struct itx_jobs *s, const char *key, char **value,
                                struct itx_diag *d);
enum itx_status itx_jobs_tr_put(struct itx_jobs *s, const char *key, const char *value,
                                struct itx_diag *d);
/* Totals over the whole table (all instances): entries, hits and recorded misses. */
enum itx_status itx_jobs_tr_stats(struct itx_jobs *s, uint64_t *entries, uint64_t *hits,
                                  uint64_t *misses, struct itx_diag *d);

/*
 * The translation cache as a backend of src/translate's struct itx_tr_cache, so a translator
 * shares its cache through this store. The store is borrowed and must outlive the cache.
 */
struct itx_tr_cache;
enum itx_status itx_jobs_tr_cache_new(struct itx_jobs *s, struct itx_tr_cache **out,
                                      struct itx_diag *d);

#endif
