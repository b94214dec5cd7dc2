#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

/* Set once in itx_log_init before threads start; read-only afterwards. */
static enum itx_log_level log_level = ITX_LOG_INFO;
static enum itx_log_format log_format = ITX_LOG_JSON;

static const char *const level_names[] = {"DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"};

void
itx_log_init(void)
{
    const char *lvl = getenv("ITX_LOG_LEVEL");
    const char *fmt = getenv("ITX_LOG_FORMAT");

    if (lvl) {
        static const char *const names[] = {"debug", "info", "notice", "warning", "error"};
        for (int i = 0; i < 5; i++)
            if (strcmp(lvl, names[i]) == 0)
                log_level = (enum itx_log_level)i;
    }
    if (fmt && strcmp(fmt, "text") == 0)
        log_format = ITX_LOG_TEXT;
    else if (fmt && strcmp(fmt, "json") == 0)
        log_format = ITX_LOG_JSON;
    else
        log_format = isatty(STDERR_FILENO) ? ITX_LOG_TEXT : ITX_LOG_JSON;
}

void
itx_log_set_level(enum itx_log_level lvl)
{
    log_level = lvl;
}

void
itx_log_set_format(enum itx_log_format fmt)
{
    log_format = fmt;
}

int
itx_log_enabled(enum itx_log_level lvl)
{
    return lvl >= log_level;
}

static void
write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void
itx_log(enum itx_log_level lvl, const struct itx_log_ctx *ctx, const char *extra_json,
        const char *fmt, ...)
{
    char msg[2048], ts[40];
    struct itx_buf b;
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (lvl < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    itx_buf_init(&b, 16384);
    if (log_format == ITX_LOG_TEXT) {
        itx_buf_printf(&b, "%s.%03ldZ %s ", ts, now.tv_nsec / 1000000L, level_names[lvl]);
        if (ctx && ctx->request_id)
            itx_buf_printf(&b, "[req %s] ", ctx->request_id);
        if (ctx && ctx->job_id)
            itx_buf_printf(&b, "[job %s] ", ctx->job_id);
        if (ctx && ctx->image >= 0)
            itx_buf_printf(&b, "[image %d] ", ctx->image);
        itx_buf_printf(&b, "%s\n", msg);
    } else {
        itx_buf_printf(&b, "{\"severity\":\"%s\",\"time\":\"%s.%09ldZ\",\"message\":",
                       level_names[lvl], ts, now.tv_nsec);
        itx_buf_json_str(&b, msg);
        if (ctx) {
            if (ctx->request_id) {
                itx_buf_puts(&b, ",\"request_id\":");
                itx_buf_json_str(&b, ctx->request_id);
            }
            if (ctx->job_id) {
                itx_buf_puts(&b, ",\"job_id\":");
                itx_buf_json_str(&b, ctx->job_id);
            }
            if (ctx->trace) {
                itx_buf_puts(&b, ",\"logging.googleapis.com/trace\":");
                itx_buf_json_str(&b, ctx->trace);
            }
            if (ctx->stage) {
                itx_buf_puts(&b, ",\"stage\":");
                itx_buf_json_str(&b, ctx->stage);
            }
            if (ctx->image >= 0)
                itx_buf_printf(&b, ",\"image\":%d", ctx->image);
        }
        if (extra_json && *extra_json)
            itx_buf_printf(&b, ",%s", extra_json);
        itx_buf_puts(&b, "}\n");
    }
    if (b.data)
        write_all(b.data, b.len);
    itx_buf_release(&b);
}
