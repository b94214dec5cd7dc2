/* Internals of src/server/; only files of this module include this header. */
#ifndef ITX_SERVER_SERVER_IMPL_H
#define ITX_SERVER_SERVER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "server/server.h"

struct MHD_Daemon;

struct check {
    char name[48];
    itx_server_check_fn fn;
    void *ud;
};

#define MAX_CHECKS 16

struct itx_server {
    struct itx_server_config cfg;
    struct itx_server_pipeline pipeline;
    bool have_pipeline;
    struct MHD_Daemon *daemon;
    unsigned port;
    double created_ms;

    /* Worker pool and admission queue; mu guards the queue, the deadline list and counts. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* workers wait for work */
    pthread_cond_t reaper_cv; /* the reaper waits for the next deadline */
    struct itx_server_work *q_head, *q_tail;
    size_t q_waiting; /* admitted items that have not started: what the capacity limits */
    struct itx_server_work *active; /* admitted items with a pending deadline */
    bool stopping;                  /* workers and reaper exit */
    pthread_t *workers;
    size_t n_workers;
    pthread_t reaper;
    bool reaper_started;
    atomic_int busy;
    atomic_uint inflight; /* admitted requests whose connection is not finished */

    /* Readiness. */
    struct check warmups[MAX_CHECKS];
    size_t n_warmups;
    struct check ready_checks[MAX_CHECKS];
    size_t n_ready_checks;
    pthread_t monitor;
    bool monitor_started;
    pthread_mutex_t ready_mu; /* guards ready_reason and the monitor's sleep */
    pthread_cond_t ready_cv;
    bool monitor_stop;
    char ready_reason[ITX_DIAG_MSG_SIZE + 64]; /* "" when ready */
    atomic_bool warmed;
    atomic_bool ready;
    atomic_bool draining;

    /* Clean-ups of the pipeline plugs, run by itx_server_free in reverse order. */
    struct {
        void (*fn)(void *ud);
        void *ud;
    } cleanups[MAX_CHECKS];
    size_t n_cleanups;

    /* Metrics. */
    struct itx_metrics *metrics;
    struct itx_metric *m_requests, *m_latency, *m_stage, *m_rejected, *m_cancelled;
    struct itx_metric_series *m_queue_depth, *m_busy, *m_inflight;

    /* The embedded OpenAPI document. */
    const char *openapi;
    size_t openapi_len;
};

/* pool.c */
enum itx_status pool_start(struct itx_server *s, struct itx_diag *d);
/* Stops the workers and the reaper; waits up to wait_ms for busy workers. */
void pool_stop(struct itx_server *s, long wait_ms);
/* Admits w (the pool takes a reference): ITX_OK, ITX_ERR_OVERLOADED or
 * ITX_ERR_UNAVAILABLE (draining). */
enum itx_status pool_admit(struct itx_server *s, struct itx_server_work *w);
/* Answers every admitted, unanswered request with `why` and cancels its work. */
void pool_force_all(struct itx_server *s, enum itx_status why);
/* Drops one reference; the last one destroys the work. */
void work_release(struct itx_server_work *w);

/* http.c: wakes the connection of w so its answer is sent (called once per request). */
void http_answer_ready(struct itx_server_work *w);

/* files.c: the answer to GET/HEAD /files/<rel> from the local store directory; *resp and
 * *status (200 or 304) and *size (bytes of the body) are written on ITX_OK, else d says why
 * (ITX_ERR_NOT_FOUND). */
struct MHD_Connection;
struct MHD_Response;
enum itx_status files_serve(struct itx_server *s, struct MHD_Connection *c, const char *rel,
                            struct MHD_Response **resp, unsigned *status, size_t *size,
                            struct itx_diag *d);

/* openapi.c (generated) */
extern const char itx_server_openapi_json[];
extern const size_t itx_server_openapi_json_len;

/* json-util.c: shared by the request parsers (request.c, web.c). */
struct json_t;
/* "an object", "a string", ... for "'path' must be X, not <this>". */
const char *api_json_type_name(const struct json_t *v);
/* ITX_ERR_INVALID: "'path' must be <want>, not <got's type>". */
enum itx_status api_json_type_error(struct itx_diag *d, const char *path, const char *want,
                                    const struct json_t *got);
/* A printable copy of untrusted text for a message: at most 64 bytes, others as '?', "..." after.
 */
void api_json_quote(char out[72], const char *s, size_t n);
/* Parses a request body (not empty, no duplicate keys); the error names line and column. */
enum itx_status api_json_load(const void *body, size_t len, struct json_t **out,
                              struct itx_diag *d);

#endif
