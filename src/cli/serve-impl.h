/*
 * Internals of itx serve shared by its two files: serve.c (settings, the pool of pipeline
 * contexts, the per-picture work shared by POST /v1/translate and the job runner, the
 * synchronous route) and serve-jobs.c (the job store, POST/GET /v1/jobs, the runner, the
 * webhooks).
 *
 * Invariants:
 * - CPU stages run only while a pipeline context is held, and there are as many contexts
 *   as workers, so /v1/translate requests and job items together never run more pictures at
 *   once than there are workers. Taking a context waits; synchronous requests go first.
 * - Results are content-addressed objects in the store (itx_store_cache_key over the bytes
 *   and every setting that changes the output), so a picture done before, by any request,
 *   job or instance, is answered from the store without OCR or a translation call.
 */
#ifndef ITX_CLI_SERVE_IMPL_H
#define ITX_CLI_SERVE_IMPL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "fetch/fetch.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "store/store.h"

struct serve_jobs;
struct batch_units;

/* Threads that do the network waits of requests (URL fetches, provider calls, s3/gcs
 * look-ups and puts, the uploads of POST /v1/jobs), so no worker waits on the network (the
 * work returns ITX_SERVER_STEP_WAIT and is woken when the wait is over). */
#define SERVE_IO_THREADS 8
/* Requests at most that wait for their provider call with begun pictures (decoded, read)
 * in memory; past it a request translates on its worker, holding its context, as a run in
 * one go does (the memory of waiting requests stays bounded). */
#define SERVE_MAX_TR_WAITS (4 * SERVE_IO_THREADS)

/* Shared by every worker and runner thread. */
struct glue {
    struct itx_server *srv;
    struct itx_store *store;
    struct itx_pipeline *pl;
    const char *provider; /* the configured provider's name */
    struct itx_fetch_opts fetch;
    /* the context pool: mu guards everything below it */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a context was given back, warm-up finished, or stopping */
    struct itx_pipeline_ctx **ctx;
    bool *busy;
    size_t n_ctx, n_free;
    unsigned sync_waiting;       /* /v1/translate requests waiting for a context */
    bool ready;                  /* the contexts exist (warm-up done) */
    bool stopping;               /* shutting down: waits for a context give up */
    struct itx_metric *m_images; /* itx_images_total{result} */
    struct itx_metric *m_failed; /* itx_images_failed_total{reason} */
    struct itx_metric_series *m_hits, *m_misses, *m_translated;
    struct serve_jobs *jobs; /* NULL when jobs are off */
    char server_gloss[80];   /* "sha256:<hex>" of ITX_GLOSSARY_FILE, "" when none */
    const char *model;       /* the provider's model for result keys ("default": its own) */
    /* the I/O threads; io_mu guards the queue and io_stop */
    pthread_mutex_t io_mu;
    pthread_cond_t io_cv;
    struct serve_io *io_head, *io_tail;
    bool io_stop;
    size_t n_tr_waits; /* requests handed to the I/O threads for their provider call */
    pthread_t io_th[SERVE_IO_THREADS];
    size_t n_io;
};

/*
 * A network wait of a request's work, for the I/O threads: the work fills run and w, calls
 * serve_io_push and returns ITX_SERVER_STEP_WAIT without touching w again. An I/O thread
 * calls run(io, stop) and then itx_server_work_wake(w). stop is true when the server is
 * shutting down: run must not start the wait then, only record why it was not done (so
 * the woken work answers quickly). run checks the request's cancellation itself.
 */
struct serve_io {
    void (*run)(struct serve_io *io, bool stop);
    struct itx_server_work *w;
    struct serve_io *next; /* the queue's */
};

void serve_io_push(struct glue *g, struct serve_io *io);

/* Who wants a context: synchronous requests are served first. */
enum ctx_prio { CTX_SYNC, CTX_JOB };

/*
 * Takes a free context, waiting for one. CTX_SYNC fails at once before the warm-up is done
 * (NULL); CTX_JOB waits for it. Both give up (NULL) when c is cancelled or the glue stops.
 */
struct itx_pipeline_ctx *serve_ctx_take(struct glue *g, enum ctx_prio prio,
                                        const struct itx_cancel *c, size_t *slot);
void serve_ctx_give(struct glue *g, size_t slot);
/* Waits up to ms for a moment when a context is free and no synchronous request waits;
 * true then (nothing is taken). */
bool serve_ctx_wait_free(struct glue *g, long ms);

/* The settings of a request or a job that change its results (strings borrowed). */
struct tr_settings {
    const char *source_lang, *target_lang, *provider, *output_format;
    long jpeg_quality;
    bool background, regions, qa;
    const struct itx_api_glossary_entry *glossary;
    size_t n_glossary;
};

void serve_settings_from_request(struct tr_settings *s, const struct itx_api_request *r);
/* Checks what the parser cannot: the provider is the configured one, the output format is
 * known. ITX_ERR_INVALID with a message naming the value. */
enum itx_status serve_settings_check(const struct glue *g, const struct tr_settings *s,
                                     struct itx_diag *d);

/* One picture of a batch. */
struct pic {
    size_t index;        /* in its request or job */
    const char *name;    /* for messages; may be NULL */
    const char *group;   /* may be NULL */
    const uint8_t *data; /* its bytes: borrowed, or fr.data / owned */
    size_t len;
    struct itx_fetch_result fr;
    uint8_t *owned;
    char plain[65]; /* the key of the picture alone */
    char key[65];   /* the key of its result (with its group) */
    enum itx_status st;
    struct itx_diag d;
    bool done;     /* answered (ans) or failed (st) */
    bool hit;      /* from the store */
    char *regions; /* the result's regions JSON (itx_free) once known */
    size_t regions_len;
    struct itx_pipeline_result res; /* between run and store */
    bool have_res;
    double ms; /* pipeline time of a picture translated here (0 for a hit) */
};

/*
 * Pictures worked on together: grouped pictures (same group string) share one translation
 * call. The caller fills p[i].index/name/group and data/len (or st on a failed load), then:
 * serve_batch_keys, serve_batch_lookup, and when serve_batch_pending: take a context,
 * serve_batch_run, give it back, serve_batch_store.
 */
struct batch {
    struct glue *g;
    const struct tr_settings *set;
    struct pic *p;
    size_t n;
    const struct itx_cancel *c;
    struct itx_log_ctx lc; /* request or job id; image set per line */
    /* Progress: called with a stage name (decode, ocr, translate, erase, render, encode,
     * store) as the work reaches it, and a fraction 0..1 of the batch. May be NULL. */
    void (*stage)(void *arg, const char *stage, double progress);
    void *stage_arg;
    struct batch_units *units; /* between serve_batch_begin and serve_batch_finish */
};

/* Allocates n pictures (NULL on allocation failure); serve_batch_release frees them. */
struct pic *serve_pics_new(size_t n);
void serve_batch_release(struct batch *b);
void serve_batch_keys(struct batch *b);
void serve_batch_lookup(struct batch *b);
bool serve_batch_pending(const struct batch *b);
/* serve_batch_begin, serve_batch_translate and serve_batch_finish on one context. */
void serve_batch_run(struct batch *b, struct itx_pipeline_ctx *ctx);
/*
 * The same in phases, so that no context is held while the provider waits on the network
 * (docs/server.md, "Never blocked"): begin (context held: decode, OCR, selection of every
 * pending picture, grouped pictures together), translate (no context, any thread: the
 * provider calls), finish (a context, perhaps another: erase, draw, check, encode). A
 * picture whose phase fails is marked done with its error. serve_batch_translate_waits says
 * whether the translate phase will wait on the network (gemini, openai; not dict) so a
 * caller hands it to another thread; serve_batch_begun whether anything awaits translate or
 * finish; serve_batch_abandon fails what was begun (shutdown while waiting).
 */
void serve_batch_begin(struct batch *b, struct itx_pipeline_ctx *ctx);
bool serve_batch_translate_waits(const struct batch *b);
void serve_batch_translate(struct batch *b);
void serve_batch_finish(struct batch *b, struct itx_pipeline_ctx *ctx);
bool serve_batch_begun(const struct batch *b);
void serve_batch_abandon(struct batch *b, enum itx_status st, const char *why);
/* Whether the store's look-ups and puts wait on the network (s3, gcs), so that a request
 * hands them to an I/O thread; local ones (a stat, a read, a write and an fsync) are done
 * inline. The one place that decides it. */
bool serve_store_waits(const struct glue *g);
void serve_batch_store(struct batch *b);
/* Counts and logs each picture's outcome (metrics itx_images_total / _failed_total). */
void serve_batch_account(struct batch *b);

/* Whether a failure may succeed when tried again (network, store, overload). */
bool serve_retryable(enum itx_status st);

/*
 * Appends ,"key":..,"url":...,"background_url":...,"format":..,"width":..,"height":..,
 * "regions":[...] for a stored result: key, and its regions document (an object with
 * format, width, height, regions).
 */
enum itx_status serve_answer(struct glue *g, const struct tr_settings *set, const char *key,
                             json_t *doc, struct itx_buf *out, struct itx_diag *d);
/* Appends ,"error":{problem document members} for a failed picture. */
void serve_image_error(struct itx_buf *out, enum itx_status st, const char *msg);

/* ---- jobs (serve-jobs.c) -------------------------------------------------------------- */

/*
 * Reads the job settings (ITX_DATABASE_URL and ITX_JOB_*), opens the job store and
 * registers the /v1/jobs routes' metrics and readiness check. files_dir is the local
 * store's directory or "" (it places the default database next to it); workers sizes the
 * connection pool. ITX_ERR_INVALID names a bad setting; a store that cannot be opened stops
 * start-up.
 */
enum itx_status serve_jobs_new(struct glue *g, const char *files_dir, long workers,
                               struct serve_jobs **out, struct itx_diag *d);
/* The translation cache kept in the job store (shared by every instance on it). */
struct itx_tr_cache *serve_jobs_tr_cache(struct serve_jobs *j);
/* Fills the job routes of p. */
void serve_jobs_routes(struct serve_jobs *j, struct itx_server_pipeline *p);
/* Starts the runner, heartbeat and webhook threads (after itx_server_start). */
enum itx_status serve_jobs_start(struct serve_jobs *j, struct itx_diag *d);
/* Stops claiming at once (SIGTERM). */
void serve_jobs_stop_claiming(struct serve_jobs *j);
/* Waits until deadline_ms (itx_now_ms clock) for items in flight, cancels the rest (left
 * to lease expiry) and joins the threads. */
void serve_jobs_stop(struct serve_jobs *j, double deadline_ms);
void serve_jobs_free(struct serve_jobs *j);
/* The help text of the job settings. */
void serve_jobs_help(struct itx_buf *out);

/* Stores one object of a content-addressed result; "already there" is success (the same
 * bytes: a concurrent request stored them first). */
enum itx_status serve_put_once(struct itx_store *s, const char *name, const void *data, size_t len,
                               const char *type, struct itx_diag *d);
/* Appends ,"member":"URL" for the object leaf of the result key. */
enum itx_status serve_append_url(struct itx_store *store, const char *key, const char *leaf,
                                 const char *member, struct itx_buf *out, struct itx_diag *d);

#endif
