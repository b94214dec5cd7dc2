/*
 * Structured logging: one JSON object per line on stderr, with the fields Google Cloud
 * Logging reads (severity, message, time, logging.googleapis.com/trace) plus itx's own
 * context (request id, job id, image index, stage). On a terminal, or with
 * ITX_LOG_FORMAT=text, lines are plain text instead.
 *
 * Each line is written with a single write(2) so lines from concurrent threads never
 * interleave. Never log secrets: callers pass only values that are safe to show.
 */
#ifndef ITX_CORE_LOG_H
#define ITX_CORE_LOG_H

enum itx_log_level {
    ITX_LOG_DEBUG,
    ITX_LOG_INFO,
    ITX_LOG_NOTICE,
    ITX_LOG_WARNING,
    ITX_LOG_ERROR,
};

enum itx_log_format { ITX_LOG_JSON, ITX_LOG_TEXT };

/* Optional context attached to a line; any member may be NULL / negative. */
struct itx_log_ctx {
    const char *request_id;
    const char *job_id;
    const char *trace; /* full Cloud Logging trace name, "projects/P/traces/T" */
    const char *stage;
    int image; /* image index within a request or job, -1 when none */
};

/*
 * Configures the logger; call once at start-up before threads start. Reads
 * ITX_LOG_LEVEL (debug|info|notice|warning|error) and ITX_LOG_FORMAT (json|text);
 * without ITX_LOG_FORMAT the format is text on a terminal and JSON otherwise.
 */
void itx_log_init(void);
void itx_log_set_level(enum itx_log_level lvl);
void itx_log_set_format(enum itx_log_format fmt);
int itx_log_enabled(enum itx_log_level lvl);

/*
 * Logs a line. extra_json, when not NULL, is a fragment of JSON members without braces
 * (e.g. "\"ms\":12,\"regions\":5") appended to the object; it is ignored in text format.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void itx_log(enum itx_log_level lvl, const struct itx_log_ctx *ctx, const char *extra_json,
             const char *fmt, ...);

#define itx_log_info(...) itx_log(ITX_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define itx_log_warn(...) itx_log(ITX_LOG_WARNING, NULL, NULL, __VA_ARGS__)
#define itx_log_error(...) itx_log(ITX_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define itx_log_debug(...) itx_log(ITX_LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif
