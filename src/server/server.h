/*
 * The itx HTTP service (libmicrohttpd): settings, the worker pool that runs request work,
 * readiness and warm-up hooks, the metrics registry, and the API request parser.
 *
 * Invariants:
 * - HTTP threads only parse, validate, enqueue and answer. Work (the CPU stages of the
 *   pipeline) runs on a fixed pool of worker threads behind a bounded admission queue; a
 *   full queue answers 429 with Retry-After. A connection that waits for work is suspended
 *   (MHD_suspend_connection), so it never holds an HTTP thread.
 * - Every request has a deadline. When it passes, the request's cancellation flag is set
 *   (work checks it between stages) and the client gets 504 at once, whether or not the
 *   work has stopped yet.
 * - A network wait never holds a worker: work returns ITX_SERVER_STEP_WAIT after handing
 *   the wait to an I/O thread, which calls itx_server_work_wake when it is done; the work
 *   then runs again on a worker.
 * - /readyz is 200 only when every warm-up function has finished, every registered
 *   readiness check passed on its last run, and the server is not draining.
 * - On SIGTERM or SIGINT the server drains: /readyz turns 503 at once, new work is refused
 *   with 503, in-flight work gets the grace period to finish, then the server stops.
 *
 * docs/server.md has the routes, the error mapping, the settings and the metrics.
 *
 * Thread-safety: functions taking a struct itx_server may be called from any thread once
 * itx_server_start returned, except where noted; registration functions (pipeline,
 * warm-ups, readiness checks) are for start-up, before itx_server_start.
 */
#ifndef ITX_SERVER_SERVER_H
#define ITX_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- settings --------------------------------------------------------------------- */

#define ITX_SERVER_MAX_API_KEYS 8

struct itx_server_config {
    char bind[64];          /* ITX_BIND, default "0.0.0.0" */
    long port;              /* PORT, default 8080; 0 lets the kernel pick one */
    long http_threads;      /* ITX_HTTP_THREADS, default 2 */
    long workers;           /* ITX_WORKERS, default the number of cores */
    long queue;             /* ITX_QUEUE, default 2 x workers: work waiting for a worker */
    long deadline_ms;       /* ITX_DEADLINE_MS, default 60000 */
    long max_json_bytes;    /* ITX_MAX_JSON_BYTES, default 1 MiB */
    long max_upload_bytes;  /* ITX_MAX_UPLOAD_BYTES, default 25 MiB (multipart bodies) */
    long max_image_bytes;   /* ITX_MAX_IMAGE_BYTES, default 20 MiB per decoded image */
    long max_images;        /* ITX_MAX_IMAGES, default 16 per /v1/translate */
    long max_job_images;    /* ITX_MAX_JOB_IMAGES, default 100 per /v1/jobs */
    long max_header_bytes;  /* ITX_MAX_HEADER_BYTES, default 16 KiB */
    long max_connections;   /* ITX_MAX_CONNECTIONS, default 1024 */
    long max_per_ip;        /* ITX_MAX_CONNECTIONS_PER_IP, default 64 */
    long idle_timeout_s;    /* ITX_IDLE_TIMEOUT_S, default 10 */
    long read_timeout_ms;   /* ITX_READ_TIMEOUT_MS, default 30000: reading a whole body */
    long grace_ms;          /* ITX_GRACE_MS, default 8000 */
    long ready_interval_ms; /* ITX_READY_INTERVAL_MS, default 5000 */
    long retry_after_s;     /* ITX_RETRY_AFTER_S, default 1 */
    char files_dir[1024];   /* ITX_STORE_DIR (local store), served at /files/; "" = off */
    char project[128];      /* GOOGLE_CLOUD_PROJECT, for trace names; "" = unknown */
    char version[32];       /* build version for itx_build_info */
    size_t n_api_keys;      /* ITX_API_KEYS, comma-separated; none = no authentication */
    char api_keys[ITX_SERVER_MAX_API_KEYS][129];
};

/* Fills c with the defaults (workers = cores, nothing read from the environment). */
void itx_server_config_init(struct itx_server_config *c);

/*
 * Reads the settings from the environment and then from argv (flags like --port 8080 or
 * --port=8080; see itx_server_config_help), validating each against its range. A bad value
 * fails with ITX_ERR_INVALID and a message naming the setting, the value and the valid
 * range. argv[0] is skipped; an unknown flag is an error too. The API keys are copied and
 * never appear in messages.
 */
enum itx_status itx_server_config_load(struct itx_server_config *c, int argc, char **argv,
                                       struct itx_diag *d);

/* Writes the --help text listing every setting with its variable, flag, default and range. */
void itx_server_config_help(struct itx_buf *out);

/* ---- cancellation and work --------------------------------------------------------- */

/* A cooperative cancellation flag; work checks it between stages. */
struct itx_cancel {
    atomic_int reason; /* ITX_OK while not cancelled, else ITX_ERR_TIMEOUT / _UNAVAILABLE */
};

/* Whether the work should stop; thread-safe. */
bool itx_cancel_requested(const struct itx_cancel *c);
/* Why it was cancelled (ITX_OK when it was not). */
enum itx_status itx_cancel_reason(const struct itx_cancel *c);

enum itx_server_step {
    ITX_SERVER_STEP_DONE, /* the reply (or w->diag) is final */
    ITX_SERVER_STEP_WAIT, /* a network wait was handed off; itx_server_work_wake follows */
};

struct itx_server;

/*
 * One unit of request work. The creator (a pipeline callback, on an HTTP thread) allocates
 * a struct that embeds this one, calls itx_server_work_init and hands it to the server,
 * which owns it from then on and calls destroy exactly once when both the connection and
 * the worker are done with it.
 *
 * run is called on a worker thread. It does CPU work, checking itx_cancel_requested between
 * stages, and returns:
 * - ITX_SERVER_STEP_DONE with the reply in status/reply/location, or with diag.code set to
 *   an error (the client gets a problem document with itx_err_http_status(diag.code));
 * - ITX_SERVER_STEP_WAIT after starting a network wait elsewhere (an I/O thread, libcurl
 *   multi); that code must call itx_server_work_wake(w) exactly once when the wait is over
 *   (or when it sees the cancellation), and run is then called again on a worker.
 * The wake may come before run has returned WAIT, so run must not touch w after handing the
 * wait off. After the deadline the client has already had its 504; run is still called (so
 * it can release what it holds) and should return DONE quickly.
 */
struct itx_server_work {
    enum itx_server_step (*run)(struct itx_server_work *w, const struct itx_cancel *c);
    void (*destroy)(struct itx_server_work *w);

    /* The reply, written by run. */
    int status;           /* HTTP status when diag.code is ITX_OK; default 200 */
    struct itx_buf reply; /* application/json body, ceiling 64 MiB */
    char location[256];   /* Location header when not empty */
    struct itx_diag diag;
    char code[48]; /* optional stable problem code overriding itx_err_str(diag.code) */

    /* Request context for logs (struct itx_log_ctx), copied in by the server before run:
     * the request id and the Cloud Logging trace name ("" when none). */
    char request_id[72];
    char trace[200];

    /* Private to the server (server-impl.h); creators leave these alone. */
    struct itx_cancel cancel;
    pthread_mutex_t mu;
    int refs;               /* the connection's and the pool's */
    bool started;           /* run was called at least once */
    bool answered;          /* the connection has its answer (reply or forced) */
    bool active;            /* on the server's deadline list */
    enum itx_status forced; /* answer given without the reply: timeout, shutdown */
    double deadline_ms;
    double enqueued_ms;
    void *conn;
    struct itx_server *srv;
    struct itx_server_work *qnext, *aprev, *anext;
};

/* Initialises the common part of a work item (call before handing it to the server). */
void itx_server_work_init(struct itx_server_work *w,
                          enum itx_server_step (*run)(struct itx_server_work *,
                                                      const struct itx_cancel *),
                          void (*destroy)(struct itx_server_work *));

/* Puts a waiting work item back on the worker queue (any thread; exactly once per WAIT). */
void itx_server_work_wake(struct itx_server_work *w);

/* ---- the API request model and parser ----------------------------------------------- */

struct itx_api_image {
    char *url;     /* http(s) source, or NULL */
    uint8_t *data; /* decoded bytes (base64 or multipart part), or NULL */
    size_t size;
    const char *type; /* sniffed: "image/png", "image/jpeg", "image/webp", "image/gif" */
    char *name;       /* client's name for the image (file name or "name"), may be NULL */
    char *group;      /* images sharing a group share one translation call; may be NULL */
};

struct itx_api_glossary_entry {
    char *source;
    char *target; /* NULL: keep the source term untranslated */
};

enum itx_api_kind { ITX_API_TRANSLATE, ITX_API_JOB };

struct itx_api_request {
    enum itx_api_kind kind;
    struct itx_api_image *images;
    size_t n_images;
    char *source_lang; /* default "zh" */
    char *target_lang; /* required, e.g. "en" */
    char *provider;    /* "dict", "gemini", "openai", ...; NULL: the server's default */
    struct itx_api_glossary_entry *glossary;
    size_t n_glossary;
    /* options */
    char *output_format; /* "same" (default), "png", "jpeg", "webp" */
    long jpeg_quality;   /* 1..100, default 90 */
    bool background;     /* also store the text-free background (default true) */
    bool regions;        /* return per-region JSON (default true) */
    bool qa;             /* re-OCR check (default true) */
    char *webhook_url;   /* jobs only; may be NULL */
};

/* Limits for the parser; itx_api_limits_from_config derives them from the settings. */
struct itx_api_limits {
    size_t max_images;
    size_t max_image_bytes;
    size_t max_body_bytes;
    size_t max_glossary; /* entries */
};

void itx_api_limits_from_config(struct itx_api_limits *l, const struct itx_server_config *c,
                                enum itx_api_kind kind);

/*
 * Parses a JSON body (strict: unknown members are errors naming them, wrong types name the
 * member and the expected type, bad base64 names the image index). Images given as data
 * are decoded and their type sniffed from the magic bytes (PNG, JPEG, WebP, GIF; others:
 * ITX_ERR_UNSUPPORTED). Errors: ITX_ERR_INVALID, ITX_ERR_TOO_LARGE (too many images, an
 * image over the limit), ITX_ERR_UNSUPPORTED, ITX_ERR_NOMEM. *out only on success; free it
 * with itx_api_request_free.
 */
enum itx_status itx_api_parse_json(const void *body, size_t len, enum itx_api_kind kind,
                                   const struct itx_api_limits *lim, struct itx_api_request **out,
                                   struct itx_diag *d);

/*
 * Parses a multipart/form-data body (content_type is the whole Content-Type header, which
 * carries the boundary). An optional part named "request" holds the JSON settings (same
 * schema; it may list URL images too); every part named "image" is one uploaded picture,
 * in order after the JSON's images. Other part names are errors.
 */
enum itx_status itx_api_parse_multipart(const void *body, size_t len, const char *content_type,
                                        enum itx_api_kind kind, const struct itx_api_limits *lim,
                                        struct itx_api_request **out, struct itx_diag *d);

void itx_api_request_free(struct itx_api_request *r);

/*
 * Strict standard base64 (RFC 4648 section 4, padding required, no whitespace) into a new
 * buffer (free with itx_free). Returns false and the offset of the first bad character in
 * *bad_at on malformed input, or on allocation failure (*bad_at = SIZE_MAX).
 */
bool itx_api_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len, size_t *bad_at);

/* Image type from magic bytes, or NULL. */
const char *itx_api_sniff_image(const uint8_t *p, size_t n);

/* ---- POST /v1/render: a stored result redrawn with edited regions ---------------- */

#define ITX_API_RENDER_MAX_EDITS 10000 /* edited regions per request (the regions limit) */
#define ITX_API_RENDER_MAX_TEXT 4096   /* bytes of one edited translation */
#define ITX_API_RENDER_MAX_FONT 400.0  /* largest font_size cap, in pixels */

/* One edited region: its id in the stored regions JSON and the members that change. */
struct itx_api_region_edit {
    long id;           /* 0..ITX_API_RENDER_MAX_EDITS-1; unique in a request */
    char *translation; /* the new text (may be ""), or NULL: unchanged */
    char color[8];     /* "#rrggbb" (lowercase), or "": unchanged */
    double font_size;  /* < 0: unchanged; 0: fit automatically; > 0: cap, in pixels */
};

struct itx_api_render_request {
    char background[65]; /* the result key (64 lowercase hex) whose background is redrawn */
    struct itx_api_region_edit *edits;
    size_t n_edits;
    char *output_format; /* "png", "jpeg", "webp", or NULL: the stored result's format */
    long jpeg_quality;   /* 1..100, default 90 */
};

/*
 * Parses the JSON body of POST /v1/render (docs/web.md):
 *   {"background": KEY, "regions": [{"id": N, "translation": S, "color": "#rrggbb",
 *    "font_size": X}, ...], "options": {"output_format": F, "jpeg_quality": Q}}
 * KEY is the 64-hex result key that appears in a /v1/translate answer's url and
 * background_url; anything else (a path, "..", a slash, upper case) is ITX_ERR_INVALID, so a
 * key can never name an object outside the result's own folder. Strict like
 * itx_api_parse_json: unknown members, wrong types, duplicate ids, control characters in a
 * translation (other than newline) are errors naming the region index and member. Errors:
 * ITX_ERR_INVALID, ITX_ERR_TOO_LARGE (body over max_body_bytes, more than max_edits regions,
 * a translation over ITX_API_RENDER_MAX_TEXT bytes), ITX_ERR_NOMEM. *out only on success;
 * free it with itx_api_render_request_free.
 */
enum itx_status itx_api_parse_render(const void *body, size_t len, size_t max_body_bytes,
                                     size_t max_edits, struct itx_api_render_request **out,
                                     struct itx_diag *d);
void itx_api_render_request_free(struct itx_api_render_request *r);

/* ---- the web page ------------------------------------------------------------------ */

/* One embedded file of the web page (web/ in the source tree, embedded at build time). */
struct itx_web_asset {
    const char *path;         /* "/", "/app.css", "/app.js" */
    const char *content_type; /* with charset */
    const char *data;
    size_t len;
    const char *etag; /* a quoted strong ETag: the file's SHA-256 in hex, from the build */
};

/* Fills *out with the asset served at path ("/index.html" is "/" too); false when none. */
bool itx_web_asset_find(const char *path, struct itx_web_asset *out);

/* The Content-Security-Policy of the page: scripts and styles only from the server itself,
 * no inline code, no frames, API calls to the same origin; pictures also from https:
 * (a remote store's URLs), data: and blob: (previews of dropped files). */
#define ITX_WEB_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: "         \
    "https:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

/* ---- the pipeline plug ------------------------------------------------------------- */

/*
 * What the pipeline provides. Each callback runs on an HTTP thread, so it must only build
 * a work item (no CPU stages, no network I/O), and returns ITX_OK with *out set, or an
 * error with d set (answered as a problem document). A NULL callback leaves its route
 * unregistered (404). The request is handed over (_take): the callback owns it and must
 * free it with itx_api_request_free, normally from the work's destroy.
 *
 * Routes: POST /v1/translate -> translate; POST /v1/jobs -> job_submit (idempotency_key is
 * the Idempotency-Key header or NULL); GET /v1/jobs/{id} -> job_get;
 * POST /v1/jobs/{id}:cancel -> job_cancel; POST /v1/render -> render. Ids are checked to be
 * [A-Za-z0-9_-]{1,64}.
 */
struct itx_server_pipeline {
    void *ud;
    enum itx_status (*translate)(void *ud, struct itx_api_request *req,
                                 struct itx_server_work **out, struct itx_diag *d);
    enum itx_status (*job_submit)(void *ud, struct itx_api_request *req,
                                  const char *idempotency_key, struct itx_server_work **out,
                                  struct itx_diag *d);
    enum itx_status (*job_get)(void *ud, const char *id, struct itx_server_work **out,
                               struct itx_diag *d);
    enum itx_status (*job_cancel)(void *ud, const char *id, struct itx_server_work **out,
                                  struct itx_diag *d);
    /* POST /v1/render -> render, called with render_ud (not ud); the request is handed over
     * like the others (free it with itx_api_render_request_free). */
    void *render_ud;
    enum itx_status (*render)(void *render_ud, struct itx_api_render_request *req,
                              struct itx_server_work **out, struct itx_diag *d);
};

/* ---- metrics --------------------------------------------------------------------------- */

/*
 * A Prometheus registry: families of counters, gauges and histograms with up to four label
 * names each. Updates are lock-free atomics on a series; finding a series by label values
 * takes a short lock, so hot paths keep the series pointer. A family holds at most 256
 * series; past that, updates are dropped (a guard against unbounded label values: use
 * stable labels like a route name, never a URL or an id).
 */
enum itx_metric_type { ITX_METRIC_COUNTER, ITX_METRIC_GAUGE, ITX_METRIC_HISTOGRAM };

struct itx_metrics;
struct itx_metric;        /* a family */
struct itx_metric_series; /* one label-value combination */

struct itx_metrics *itx_metrics_new(void);
void itx_metrics_free(struct itx_metrics *m);

/*
 * Adds a family (or returns the existing one of the same name and type). labels is a
 * comma-separated list of label names ("route,code") or NULL; buckets are the histogram's
 * upper bounds, ascending (+Inf is implicit), ignored for other types (NULL: the default
 * latency buckets, 5 ms to 60 s). Names must match [a-zA-Z_:][a-zA-Z0-9_:]*. Returns NULL
 * on a bad name, a type clash or allocation failure.
 */
struct itx_metric *itx_metrics_add(struct itx_metrics *m, enum itx_metric_type type,
                                   const char *name, const char *help, const char *labels,
                                   const double *buckets, size_t n_buckets);
struct itx_metric *itx_metrics_find(struct itx_metrics *m, const char *name);

/* The series for label values (as many as the family has labels), created on first use;
 * NULL when the family is full or allocation fails. Thread-safe. */
struct itx_metric_series *itx_metric_series(struct itx_metric *f, const char *const *values);

/* Counter: add v >= 0. Gauge: add any v. Histogram: observe v. NULL series: no-op. */
void itx_metric_add(struct itx_metric_series *s, double v);
/* Gauge: set v. */
void itx_metric_set(struct itx_metric_series *s, double v);
void itx_metric_observe(struct itx_metric_series *s, double v);
/* The current value (counter/gauge) or count (histogram); for tests. */
double itx_metric_value(const struct itx_metric_series *s);

/* Appends the text exposition format (version 0.0.4) of every family. */
enum itx_status itx_metrics_render(struct itx_metrics *m, struct itx_buf *out);

/* ---- the server ---------------------------------------------------------------------- */

/* A warm-up or readiness function: ITX_OK, or an error with d set (shown by /readyz). */
typedef enum itx_status (*itx_server_check_fn)(void *ud, struct itx_diag *d);

/* Creates a server (no threads, no socket yet). The config is copied. */
enum itx_status itx_server_new(const struct itx_server_config *c, struct itx_server **out,
                               struct itx_diag *d);
void itx_server_free(struct itx_server *s);

/* Plugs in the pipeline (before start); copies p. */
void itx_server_set_pipeline(struct itx_server *s, const struct itx_server_pipeline *p);

/* Warm-up functions run once, on the worker pool, after the socket is bound; /readyz stays
 * 503 ("warming up") until all are done; a failing warm-up keeps it 503 with its message. */
void itx_server_add_warmup(struct itx_server *s, const char *name, itx_server_check_fn fn,
                           void *ud);

/* A clean-up function run by itx_server_free after the server has stopped (for state that
 * a pipeline plug allocated for the server's lifetime); the last added runs first. */
void itx_server_add_cleanup(struct itx_server *s, void (*fn)(void *ud), void *ud);

/* Readiness checks run after warm-up and then every ready_interval_ms on a monitor thread
 * (never on an HTTP thread); /readyz reports the last results. */
void itx_server_add_ready_check(struct itx_server *s, const char *name, itx_server_check_fn fn,
                                void *ud);

/* The registry; modules add their own families (before start) and update them anytime. */
struct itx_metrics *itx_server_metrics(struct itx_server *s);

/* Observes one stage duration in itx_stage_duration_seconds{stage}. */
void itx_server_observe_stage(struct itx_server *s, const char *stage, double seconds);

/* Binds and starts the HTTP threads, workers and monitor; logs the bound address. */
enum itx_status itx_server_start(struct itx_server *s, struct itx_diag *d);

/* The bound port (after start). */
unsigned itx_server_port(const struct itx_server *s);

/* Starts draining (what SIGTERM does): readiness off, new work refused. */
void itx_server_drain(struct itx_server *s);

/*
 * Drains and stops: waits up to the grace period for in-flight work, answers what is left
 * with 503, stops the HTTP threads and the workers. Returns the number of requests that
 * were still in flight when the grace period ended.
 */
unsigned itx_server_stop(struct itx_server *s);

/*
 * Blocks SIGTERM and SIGINT in the calling thread (call before itx_server_start so every
 * thread inherits the mask), waits for one, then stops the server. Returns 0.
 */
void itx_server_block_signals(void);
int itx_server_wait_for_signal(struct itx_server *s);

#endif
