/*
 * Status codes and per-context diagnostics.
 *
 * Every fallible function in itx returns an enum itx_status (ITX_OK is zero) and, when it
 * fails, writes a human-readable message into a caller-owned struct itx_diag. Messages
 * follow git's style: lowercase, no full stop, the subject quoted, and they name the limit
 * that was exceeded. There is no global error state: each request, job or thread passes
 * its own diag, so concurrent failures never mix their messages.
 *
 * Each status maps to exactly one HTTP status (itx_err_http_status) so the server can
 * answer without a second table.
 */
#ifndef ITX_CORE_ERR_H
#define ITX_CORE_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum itx_status {
    ITX_OK = 0,
    ITX_ERR_INVALID,      /* malformed or out-of-range input (400) */
    ITX_ERR_AUTH,         /* missing or wrong credentials (401) */
    ITX_ERR_FORBIDDEN,    /* refused by policy, e.g. a private address (403) */
    ITX_ERR_NOT_FOUND,    /* no such file, object or job (404) */
    ITX_ERR_CONFLICT,     /* idempotency key reused with another body (422) */
    ITX_ERR_TOO_LARGE,    /* over a size or count limit (413) */
    ITX_ERR_UNSUPPORTED,  /* unsupported format, op or language (415) */
    ITX_ERR_UNDECODABLE,  /* well-typed but cannot be decoded or processed (422) */
    ITX_ERR_OVERLOADED,   /* queue full, try later (429) */
    ITX_ERR_UPSTREAM,     /* a remote service failed (502) */
    ITX_ERR_UNAVAILABLE,  /* not ready or draining (503) */
    ITX_ERR_TIMEOUT,      /* deadline passed (504) */
    ITX_ERR_CANCELLED,    /* cancelled by the caller (499) */
    ITX_ERR_NOMEM,        /* allocation failed (500) */
    ITX_ERR_IO,           /* local I/O failed (500) */
    ITX_ERR_MODEL,        /* a model file is malformed or unsupported (500) */
    ITX_ERR_INTERNAL,     /* a bug or an unexpected library failure (500) */
    ITX_STATUS_COUNT
};

/* Short stable name of a status, e.g. "too_large"; never NULL. */
const char *itx_err_str(enum itx_status s);

/* HTTP status code for a status (200 for ITX_OK). */
int itx_err_http_status(enum itx_status s);

#define ITX_DIAG_MSG_SIZE 512

struct itx_diag {
    enum itx_status code;
    char msg[ITX_DIAG_MSG_SIZE];
};

/* Resets a diag to ITX_OK with an empty message. */
void itx_diag_init(struct itx_diag *d);

/*
 * Records a failure and returns code, so callers can write
 * `return itx_diag_set(d, ITX_ERR_TOO_LARGE, "image '%s' is %ux%u, over ...", ...)`.
 * d may be NULL (the message is dropped). Longer messages are truncated.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
enum itx_status itx_diag_set(struct itx_diag *d, enum itx_status code, const char *fmt, ...);

enum itx_status itx_diag_vset(struct itx_diag *d, enum itx_status code, const char *fmt,
                              va_list ap);

/*
 * Puts "prefix: " in front of the current message (for context added by a caller, e.g. the
 * file name). Does nothing when d is NULL or holds ITX_OK. Returns d->code.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
enum itx_status itx_diag_prefix(struct itx_diag *d, const char *fmt, ...);

/* Programmer errors abort, always (also in release builds). Never use it on input. */
#define ITX_ASSERT(cond)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            itx_assert_fail(#cond, __FILE__, __LINE__);                                    \
    } while (0)

_Noreturn void itx_assert_fail(const char *expr, const char *file, int line);

#endif
