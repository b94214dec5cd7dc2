#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void
itx_buf_init(struct itx_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->err = ITX_OK;
}

void
itx_buf_release(struct itx_buf *b)
{
    itx_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = ITX_OK;
}

void
itx_buf_reset(struct itx_buf *b)
{
    b->len = 0;
    b->err = ITX_OK;
    if (b->data)
        b->data[0] = '\0';
}

/* Remembers the first failure; returns s. */
static enum itx_status
fail(struct itx_buf *b, enum itx_status s)
{
    if (!b->err)
        b->err = s;
    return s;
}

static enum itx_status
reserve(struct itx_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return fail(b, ITX_ERR_TOO_LARGE);
    need = b->len + extra + 1;
    if (need <= b->cap)
        return ITX_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = itx_realloc(b->data, cap);
    if (!p)
        return fail(b, ITX_ERR_NOMEM);
    b->data = p;
    b->cap = cap;
    return ITX_OK;
}

enum itx_status
itx_buf_append(struct itx_buf *b, const void *p, size_t n)
{
    enum itx_status s = reserve(b, n);
    if (s)
        return s;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ITX_OK;
}

enum itx_status
itx_buf_puts(struct itx_buf *b, const char *s)
{
    return itx_buf_append(b, s, strlen(s));
}

enum itx_status
itx_buf_putc(struct itx_buf *b, char c)
{
    return itx_buf_append(b, &c, 1);
}

enum itx_status
itx_buf_vprintf(struct itx_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    enum itx_status s;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return fail(b, ITX_ERR_INVALID);
    s = reserve(b, (size_t)n);
    if (s)
        return s;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ITX_OK;
}

enum itx_status
itx_buf_printf(struct itx_buf *b, const char *fmt, ...)
{
    va_list ap;
    enum itx_status s;
    va_start(ap, fmt);
    s = itx_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return s;
}

enum itx_status
itx_buf_json_str(struct itx_buf *b, const char *s)
{
    enum itx_status st = itx_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;

    for (; !st && *p; p++) {
        switch (*p) {
        case '"':
            st = itx_buf_puts(b, "\\\"");
            break;
        case '\\':
            st = itx_buf_puts(b, "\\\\");
            break;
        case '\n':
            st = itx_buf_puts(b, "\\n");
            break;
        case '\r':
            st = itx_buf_puts(b, "\\r");
            break;
        case '\t':
            st = itx_buf_puts(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                st = itx_buf_printf(b, "\\u%04x", *p);
            else
                st = itx_buf_putc(b, (char)*p);
        }
    }
    return st ? st : itx_buf_putc(b, '"');
}

enum itx_status
itx_buf_error(const struct itx_buf *b)
{
    return b->err;
}

char *
itx_buf_take(struct itx_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = ITX_OK;
    return p;
}
