/*
 * itx batch's input list and state journal (batch-list.h). Both are untrusted text: every
 * bound is checked before use and nothing here trusts a line it has not validated.
 */
#include "cli/batch-list.h"

#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "core/alloc.h"

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The error for a source line, or NULL when it is a usable URL or path. */
static const char *
classify(const char *s, size_t len, enum itx_batch_kind *kind)
{
    const char *colon;

    if (len > ITX_BATCH_MAX_LINE)
        return "line is longer than 8192 bytes (the limit for one source)";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return "line contains a NUL byte";
        if (c < 0x20 || c == 0x7f)
            return "line contains a control character";
    }
    *kind = ITX_BATCH_FILE;
    /* "scheme://": RFC 3986 scheme characters before "://"; anything else is a path */
    colon = memchr(s, ':', len);
    if (colon && (size_t)(colon - s) + 3 <= len && colon[1] == '/' && colon[2] == '/') {
        size_t n = (size_t)(colon - s);
        bool scheme = n > 0 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z');
        for (size_t i = 1; scheme && i < n; i++) {
            char c = s[i];
            scheme = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '-' || c == '.';
        }
        if (scheme) {
            if ((n == 4 && strncasecmp(s, "http", 4) == 0) ||
                (n == 5 && strncasecmp(s, "https", 5) == 0)) {
                *kind = ITX_BATCH_URL;
                return NULL;
            }
            if (n == 4 && strncasecmp(s, "file", 4) == 0)
                return "file:// URLs are not sources; write the plain path";
            return "unsupported URL scheme (only http and https, or a local file path)";
        }
    }
    return NULL;
}

enum itx_status
itx_batch_list_parse(char *buf, size_t len, struct itx_batch_list *out, struct itx_diag *d)
{
    size_t cap = 0, pos = 0;
    unsigned line = 0;

    memset(out, 0, sizeof(*out));
    if (len > ITX_BATCH_MAX_LIST_BYTES)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "the input list is %zu bytes, over the %zu-byte limit", len,
                            ITX_BATCH_MAX_LIST_BYTES);
    while (pos < len) {
        char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        struct itx_batch_entry *e;

        pos += n + (nl ? 1 : 0);
        line++;
        /* trim blanks on both sides (a '\r' of a CRLF line is a trailing blank) */
        while (n > 0 && is_blank(s[0])) {
            s++;
            n--;
        }
        while (n > 0 && is_blank(s[n - 1]))
            n--;
        if (n == 0 || s[0] == '#')
            continue;
        if (out->n_entries == ITX_BATCH_MAX_ENTRIES)
            return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                "the input list has more than %d sources (the limit), at line %u",
                                ITX_BATCH_MAX_ENTRIES, line);
        if (out->n_entries == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct itx_batch_entry *ne = itx_realloc_array(out->entries, ncap, sizeof(*ne));
            if (!ne)
                return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading the input list");
            out->entries = ne;
            cap = ncap;
        }
        e = &out->entries[out->n_entries++];
        e->line = line;
        e->kind = ITX_BATCH_BAD;
        e->error = classify(s, n, &e->kind);
        if (e->error)
            e->kind = ITX_BATCH_BAD;
        s[n] = '\0'; /* n < the line's length, or the line ended at '\n' or the end of buf */
        e->text = s;
    }
    out->n_lines = line;
    return ITX_OK;
}

void
itx_batch_list_release(struct itx_batch_list *l)
{
    if (!l)
        return;
    itx_free(l->entries);
    memset(l, 0, sizeof(*l));
}

static bool
take_hex(const char *s, size_t n, char out[65])
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    memcpy(out, s, 64);
    out[64] = '\0';
    return true;
}

/* "done <64 hex> <64 hex> <png|jpg|webp>" without its '\n'. */
static bool
parse_done(const char *s, size_t n, struct itx_batch_done *out)
{
    static const char *const exts[] = {"png", "jpg", "webp"};
    size_t ext_len;

    if (n < 5 + 64 + 1 + 64 + 1 || memcmp(s, "done ", 5) != 0 || s[69] != ' ' || s[134] != ' ')
        return false;
    if (!take_hex(s + 5, 64, out->source_sha) || !take_hex(s + 70, 64, out->key))
        return false;
    ext_len = n - 135;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (ext_len == strlen(exts[i]) && memcmp(s + 135, exts[i], ext_len) == 0) {
            memcpy(out->ext, exts[i], ext_len + 1);
            return true;
        }
    }
    return false;
}

void
itx_batch_state_parse(const char *buf, size_t len, const char *fp,
                      bool (*fn)(const struct itx_batch_done *done, void *arg), void *arg,
                      size_t *n_done, size_t *n_bad)
{
    size_t pos = 0, good = 0, bad = 0, magic = strlen(ITX_BATCH_STATE_MAGIC);
    const char *nl = memchr(buf, '\n', len);
    size_t fp_len = strlen(fp);

    /* the header must be complete and carry these settings */
    if (!nl || (size_t)(nl - buf) != magic + fp_len || memcmp(buf, ITX_BATCH_STATE_MAGIC, magic) ||
        memcmp(buf + magic, fp, fp_len)) {
        if (n_done)
            *n_done = 0;
        if (n_bad)
            *n_bad = len > 0;
        return;
    }
    pos = (size_t)(nl - buf) + 1;
    while (pos < len) {
        const char *s = buf + pos;
        struct itx_batch_done dn;
        nl = memchr(s, '\n', len - pos);
        if (!nl) { /* a torn last line: the crash came before its '\n' */
            bad++;
            break;
        }
        pos += (size_t)(nl - s) + 1;
        if (!parse_done(s, (size_t)(nl - s), &dn)) {
            bad++;
            continue;
        }
        good++;
        if (fn && !fn(&dn, arg))
            break;
    }
    if (n_done)
        *n_done = good;
    if (n_bad)
        *n_bad = bad;
}

size_t
itx_batch_state_line(const struct itx_batch_done *done, char *out, size_t out_size)
{
    int n = snprintf(out, out_size, "done %s %s %s\n", done->source_sha, done->key, done->ext);
    return n < 0 ? 0 : (size_t)n;
}
