/*
 * Bounded growable byte buffers (after curl's dynbuf): every buffer has a ceiling set at
 * init, and appending past it fails with ITX_ERR_TOO_LARGE instead of growing without end.
 * The data is always NUL-terminated (the terminator is not counted in len), so a buffer
 * holding text can be passed to C string functions.
 *
 * A failed append changes nothing, and a later one may still succeed, which would leave a gap
 * in the text. So the buffer also remembers its first failure (itx_buf_error): code that
 * builds a document from many appends can check once, before it takes the result, instead of
 * after every append.
 */
#ifndef ITX_CORE_BUF_H
#define ITX_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct itx_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;          /* ceiling on len */
    enum itx_status err; /* the first failed append's status since init or reset; ITX_OK */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void itx_buf_init(struct itx_buf *b, size_t max);
/* Frees the memory; the buffer may be reused after itx_buf_init. */
void itx_buf_release(struct itx_buf *b);
/* Empties the buffer, keeping its memory, and forgets any failed append. */
void itx_buf_reset(struct itx_buf *b);

/* Appends n bytes. ITX_ERR_TOO_LARGE past the ceiling, ITX_ERR_NOMEM on allocation; on
 * failure nothing is appended and the first failure is remembered (itx_buf_error). The same
 * holds for every append below. */
enum itx_status itx_buf_append(struct itx_buf *b, const void *p, size_t n);
enum itx_status itx_buf_puts(struct itx_buf *b, const char *s);
enum itx_status itx_buf_putc(struct itx_buf *b, char c);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
enum itx_status
itx_buf_printf(struct itx_buf *b, const char *fmt, ...);
enum itx_status itx_buf_vprintf(struct itx_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
enum itx_status itx_buf_json_str(struct itx_buf *b, const char *s);

/* ITX_OK when every append since itx_buf_init or itx_buf_reset succeeded; otherwise the
 * status of the first that failed (ITX_ERR_NOMEM, ITX_ERR_TOO_LARGE, ITX_ERR_INVALID for a
 * bad format), so the data may lack a piece. Ask before itx_buf_take or itx_buf_release,
 * which forget it. */
enum itx_status itx_buf_error(const struct itx_buf *b);

/* Hands the data to the caller (free with itx_free) and leaves the buffer empty, with no
 * failure remembered. */
char *itx_buf_take(struct itx_buf *b, size_t *len);

#endif
