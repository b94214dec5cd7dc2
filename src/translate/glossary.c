/*
 * Glossaries: a sorted array of (term, translation) pairs searched by binary search.
 * Entries are appended and then sorted once ("finished") so a large file loads in
 * O(n log n); after that the glossary is only read. Terms and translations are copied into
 * 64 KiB chunks owned by the glossary (not one allocation each): the built-in glossary's
 * ten thousand entries load with a few dozen allocations.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "translate/translate-impl.h"
#include "translate/translate.h"

#include "glossary-en.inc"

struct entry {
    char *term;
    char *translation; /* NULL: keep as is */
    size_t term_len;
    size_t seq; /* insertion order, so the later of two equal terms wins */
};

/* A chunk of the string pool: terms and translations, NUL-terminated, never moved. */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

#define CHUNK_SIZE ((size_t)64 << 10)

struct itx_glossary {
    struct entry *e;
    struct chunk *pool; /* newest first */
    size_t n, cap;
    size_t max_term_len;
    size_t seq;
    size_t *tmpl; /* indices of template entries ("满{N}减{M}") */
    size_t n_tmpl;
    char version[65];
};

struct itx_glossary *
itx_glossary_new(void)
{
    struct itx_glossary *g = itx_calloc(1, sizeof(*g));
    if (g)
        itx_sha256_hex("", 0, g->version);
    return g;
}

void
itx_glossary_free(struct itx_glossary *g)
{
    if (!g)
        return;
    while (g->pool) {
        struct chunk *next = g->pool->next;
        itx_free(g->pool);
        g->pool = next;
    }
    itx_free(g->e);
    itx_free(g->tmpl);
    itx_free(g);
}

static int
cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c)
        return c;
    return na < nb ? -1 : na > nb;
}

static int
cmp_entry(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    int c = cmp_bytes(a->term, a->term_len, b->term, b->term_len);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts, drops all but the last of equal terms, and recomputes the version. */
static enum itx_status
finish(struct itx_glossary *g, struct itx_diag *d)
{
    struct itx_buf b;
    size_t w = 0;
    enum itx_status s = ITX_OK;

    if (g->n > 1)
        qsort(g->e, g->n, sizeof(g->e[0]), cmp_entry);
    for (size_t i = 0; i < g->n; i++) {
        if (i + 1 < g->n && g->e[i].term_len == g->e[i + 1].term_len &&
            memcmp(g->e[i].term, g->e[i + 1].term, g->e[i].term_len) == 0)
            continue; /* its strings stay in the pool until the glossary is freed */
        g->e[w++] = g->e[i];
    }
    g->n = w;
    g->max_term_len = 0;
    itx_free(g->tmpl);
    g->tmpl = NULL;
    g->n_tmpl = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!memchr(g->e[i].term, '{', g->e[i].term_len))
            continue;
        if (!g->tmpl && !(g->tmpl = itx_malloc_array(g->n, sizeof(*g->tmpl))))
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory indexing glossary templates");
        g->tmpl[g->n_tmpl++] = i;
    }
    itx_buf_init(&b, (size_t)64 << 20);
    for (size_t i = 0; i < g->n && s == ITX_OK; i++) {
        if (g->e[i].term_len > g->max_term_len)
            g->max_term_len = g->e[i].term_len;
        s = itx_buf_printf(&b, "%s\t%s\n", g->e[i].term,
                           g->e[i].translation ? g->e[i].translation : "\x01");
    }
    if (s != ITX_OK) {
        itx_buf_release(&b);
        return itx_diag_set(d, s, "cannot compute the glossary version: out of memory");
    }
    itx_sha256_hex(b.data ? b.data : "", b.len, g->version);
    itx_buf_release(&b);
    return ITX_OK;
}

static bool
clean_field(const char *s, size_t n)
{
    if (!itx_tr_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\0')
            return false;
    return true;
}

/* Copies s[0..n) and a NUL into the pool; NULL when out of memory. */
static char *
pool_strndup(struct itx_glossary *g, const char *s, size_t n)
{
    struct chunk *c = g->pool;
    char *p;

    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK_SIZE ? n + 1 : CHUNK_SIZE;
        if (!(c = itx_malloc(sizeof(*c) + cap)))
            return NULL;
        c->next = g->pool;
        c->used = 0;
        c->cap = cap;
        g->pool = c;
    }
    p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

static enum itx_status
append(struct itx_glossary *g, const char *term, size_t term_len, const char *tr, size_t tr_len,
       struct itx_diag *d)
{
    struct entry *e;
    /* term is a slice of the input, not NUL-terminated: show at most 40 of its bytes. */
    int shown = (int)(term_len < 40 ? term_len : 40);

    if (term_len == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "glossary term is empty");
    if (term_len > ITX_GLOSSARY_MAX_TERM || (tr && tr_len > ITX_GLOSSARY_MAX_TERM))
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "glossary entry '%.*s' is longer than %u bytes",
                            shown, term, ITX_GLOSSARY_MAX_TERM);
    if (!clean_field(term, term_len) || (tr && !clean_field(tr, tr_len)))
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "glossary entry '%.*s' is not UTF-8 text on one line", shown, term);
    if (g->n >= ITX_GLOSSARY_MAX_ENTRIES)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "glossary has more than %u entries",
                            ITX_GLOSSARY_MAX_ENTRIES);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct entry *ne = itx_realloc_array(g->e, cap, sizeof(*ne));
        if (!ne)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory growing a glossary");
        g->e = ne;
        g->cap = cap;
    }
    e = &g->e[g->n];
    e->term = pool_strndup(g, term, term_len);
    e->translation = tr ? pool_strndup(g, tr, tr_len) : NULL;
    if (!e->term || (tr && !e->translation))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory adding a glossary entry");
    e->term_len = term_len;
    e->seq = g->seq++;
    g->n++;
    return ITX_OK;
}

enum itx_status
itx_glossary_add(struct itx_glossary *g, const char *term, const char *translation,
                 struct itx_diag *d)
{
    enum itx_status s;

    ITX_ASSERT(g && term);
    s = append(g, term, strlen(term), translation, translation ? strlen(translation) : 0, d);
    return s ? s : finish(g, d);
}

static size_t
trim(const char **s, size_t n)
{
    while (n && (**s == ' ')) {
        (*s)++;
        n--;
    }
    while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\r'))
        n--;
    return n;
}

enum itx_status
itx_glossary_parse(struct itx_glossary *g, const char *text, size_t len, const char *name,
                   struct itx_diag *d)
{
    size_t pos = 0, line = 0;
    enum itx_status s = ITX_OK;

    ITX_ASSERT(g && (text || len == 0));
    if (len > ITX_GLOSSARY_MAX_FILE)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "glossary '%s' is over the %u-byte limit", name,
                            ITX_GLOSSARY_MAX_FILE);
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len && s == ITX_OK) {
        const char *l = text + pos, *nl = memchr(l, '\n', len - pos), *tab, *tr;
        size_t n = nl ? (size_t)(nl - l) : len - pos, tn, trn;

        pos += n + 1;
        line++;
        n = trim(&l, n);
        if (n == 0 || l[0] == '#')
            continue;
        tab = memchr(l, '\t', n);
        if (!tab)
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "%s:%zu: expected 'term<TAB>translation' (or '=' to keep)", name,
                                line);
        tn = (size_t)(tab - l);
        tr = tab + 1;
        trn = n - tn - 1;
        tn = trim(&l, tn);
        trn = trim(&tr, trn);
        if (trn == 0)
            return itx_diag_set(d, ITX_ERR_INVALID, "%s:%zu: empty translation for '%.*s'", name,
                                line, (int)tn, l);
        if (trn == 1 && tr[0] == '=')
            tr = NULL;
        s = append(g, l, tn, tr, trn, d);
        if (s)
            return itx_diag_prefix(d, "%s:%zu", name, line);
    }
    return finish(g, d);
}

enum itx_status
itx_glossary_load_file(struct itx_glossary *g, const char *path, struct itx_diag *d)
{
    uint8_t *data = NULL;
    size_t len = 0;
    enum itx_status s = itx_file_read(path, ITX_GLOSSARY_MAX_FILE, &data, &len, d);

    if (s)
        return itx_diag_prefix(d, "cannot read glossary '%s'", path);
    s = itx_glossary_parse(g, (const char *)data, len, path, d);
    itx_free(data);
    return s;
}

enum itx_status
itx_glossary_add_builtin_en(struct itx_glossary *g, struct itx_diag *d)
{
    for (size_t i = 0; i < sizeof(glossary_en_files) / sizeof(glossary_en_files[0]); i++) {
        enum itx_status s =
            itx_glossary_parse(g, (const char *)glossary_en_files[i].data,
                               glossary_en_files[i].size, glossary_en_files[i].name, d);
        if (s)
            return s;
    }
    return ITX_OK;
}

size_t
itx_glossary_count(const struct itx_glossary *g)
{
    return g ? g->n : 0;
}

void
itx_glossary_version(const struct itx_glossary *g, char out[65])
{
    if (!g) {
        out[0] = '\0';
        return;
    }
    memcpy(out, g->version, 65);
}

static const struct entry *
find(const struct itx_glossary *g, const char *s, size_t len)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_bytes(g->e[mid].term, g->e[mid].term_len, s, len);
        if (c == 0)
            return &g->e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool
itx_glossary_lookup(const struct itx_glossary *g, const char *term, size_t len,
                    const char **translation)
{
    const struct entry *e;
    if (!g || g->n == 0)
        return false;
    e = find(g, term, len);
    if (!e)
        return false;
    *translation = e->translation;
    return true;
}

size_t
itx_glossary_match(const struct itx_glossary *g, const char *s, size_t len,
                   const char **translation)
{
    size_t limit, ends[ITX_GLOSSARY_MAX_TERM + 1], n_ends = 0, i = 0;

    if (!g || g->n == 0 || len == 0)
        return 0;
    limit = len < g->max_term_len ? len : g->max_term_len;
    while (i < limit) {
        uint32_t cp;
        size_t n = itx_tr_utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            n = 1;
        i += n;
        if (i <= limit)
            ends[n_ends++] = i;
    }
    while (n_ends) {
        const struct entry *e = find(g, s, ends[--n_ends]);
        if (e) {
            *translation = e->translation;
            return e->term_len;
        }
    }
    return 0;
}

void
itx_glossary_each(const struct itx_glossary *g,
                  bool (*fn)(const char *term, const char *translation, void *arg), void *arg)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        if (!fn(g->e[i].term, g->e[i].translation, arg))
            return;
}

size_t
itx_tr_glossary_n_templates(const struct itx_glossary *g)
{
    return g ? g->n_tmpl : 0;
}

void
itx_tr_glossary_template(const struct itx_glossary *g, size_t i, const char **term,
                         const char **translation)
{
    ITX_ASSERT(g && i < g->n_tmpl);
    *term = g->e[g->tmpl[i]].term;
    *translation = g->e[g->tmpl[i]].translation;
}
