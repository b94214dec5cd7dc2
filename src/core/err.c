#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} status_table[ITX_STATUS_COUNT] = {
    [ITX_OK] = {"ok", 200},
    [ITX_ERR_INVALID] = {"invalid", 400},
    [ITX_ERR_AUTH] = {"unauthorized", 401},
    [ITX_ERR_FORBIDDEN] = {"forbidden", 403},
    [ITX_ERR_NOT_FOUND] = {"not_found", 404},
    [ITX_ERR_CONFLICT] = {"conflict", 422},
    [ITX_ERR_TOO_LARGE] = {"too_large", 413},
    [ITX_ERR_UNSUPPORTED] = {"unsupported", 415},
    [ITX_ERR_UNDECODABLE] = {"undecodable", 422},
    [ITX_ERR_OVERLOADED] = {"overloaded", 429},
    [ITX_ERR_UPSTREAM] = {"upstream", 502},
    [ITX_ERR_UNAVAILABLE] = {"unavailable", 503},
    [ITX_ERR_TIMEOUT] = {"timeout", 504},
    [ITX_ERR_CANCELLED] = {"cancelled", 499},
    [ITX_ERR_NOMEM] = {"out_of_memory", 500},
    [ITX_ERR_IO] = {"io", 500},
    [ITX_ERR_MODEL] = {"bad_model", 500},
    [ITX_ERR_INTERNAL] = {"internal", 500},
};

const char *
itx_err_str(enum itx_status s)
{
    if ((unsigned)s >= ITX_STATUS_COUNT)
        return "unknown";
    return status_table[s].name;
}

int
itx_err_http_status(enum itx_status s)
{
    if ((unsigned)s >= ITX_STATUS_COUNT)
        return 500;
    return status_table[s].http;
}

void
itx_diag_init(struct itx_diag *d)
{
    d->code = ITX_OK;
    d->msg[0] = '\0';
}

enum itx_status
itx_diag_vset(struct itx_diag *d, enum itx_status code, const char *fmt, va_list ap)
{
    if (d) {
        d->code = code;
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    }
    return code;
}

enum itx_status
itx_diag_set(struct itx_diag *d, enum itx_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    itx_diag_vset(d, code, fmt, ap);
    va_end(ap);
    return code;
}

enum itx_status
itx_diag_prefix(struct itx_diag *d, const char *fmt, ...)
{
    char pre[ITX_DIAG_MSG_SIZE], old[ITX_DIAG_MSG_SIZE];
    va_list ap;

    if (!d || d->code == ITX_OK)
        return d ? d->code : ITX_OK;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, d->msg, sizeof(old));
    {
        size_t n = strlen(pre);
        if (n > sizeof(d->msg) - 3)
            n = sizeof(d->msg) - 3;
        memcpy(d->msg, pre, n);
        memcpy(d->msg + n, ": ", 2);
        n += 2;
        size_t m = strlen(old);
        if (m > sizeof(d->msg) - 1 - n)
            m = sizeof(d->msg) - 1 - n;
        memcpy(d->msg + n, old, m);
        d->msg[n + m] = '\0';
    }
    return d->code;
}

void
itx_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "itx: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
