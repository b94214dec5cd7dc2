/*
 * The translation cache: a thin counting wrapper over a backend table of operations, and
 * the embedded SQLite backend (one table, WAL mode, a connection shared under SQLite's own
 * serialised mode so any thread may use it).
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "translate/translate.h"

struct itx_tr_cache {
    const struct itx_tr_cache_ops *ops;
    void *impl;
    atomic_uint_least64_t hits, misses;
};

struct itx_tr_cache *
itx_tr_cache_new(const struct itx_tr_cache_ops *ops, void *impl)
{
    struct itx_tr_cache *c = itx_calloc(1, sizeof(*c));
    if (!c) {
        ops->close(impl);
        return NULL;
    }
    c->ops = ops;
    c->impl = impl;
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    return c;
}

void
itx_tr_cache_free(struct itx_tr_cache *c)
{
    if (!c)
        return;
    c->ops->close(c->impl);
    itx_free(c);
}

enum itx_status
itx_tr_cache_get(struct itx_tr_cache *c, const char *key, char **value, struct itx_diag *d)
{
    enum itx_status s = c->ops->get(c->impl, key, value, d);
    if (s == ITX_OK)
        atomic_fetch_add(&c->hits, 1);
    else
        atomic_fetch_add(&c->misses, 1);
    return s;
}

enum itx_status
itx_tr_cache_put(struct itx_tr_cache *c, const char *key, const char *value, struct itx_diag *d)
{
    return c->ops->put(c->impl, key, value, d);
}

void
itx_tr_cache_counters(const struct itx_tr_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c ? atomic_load(&((struct itx_tr_cache *)c)->hits) : 0;
    *misses = c ? atomic_load(&((struct itx_tr_cache *)c)->misses) : 0;
}

void
itx_tr_cache_key(const char *provider, const char *model, const char *prompt_version,
                 const char *source_lang, const char *target_lang, const char *glossary_version,
                 const char *text, char out[65])
{
    const char *parts[6] = {provider,    model,       prompt_version,
                            source_lang, target_lang, glossary_version};
    struct itx_buf b;
    size_t i = 0, n = strlen(text);
    bool ok = true;

    itx_buf_init(&b, (size_t)1 << 20);
    ok = itx_buf_puts(&b, "itx-tr-key-1") == ITX_OK;
    for (int k = 0; k < 6 && ok; k++)
        ok = itx_buf_putc(&b, '\0') == ITX_OK &&
             itx_buf_puts(&b, parts[k] ? parts[k] : "") == ITX_OK;
    ok = ok && itx_buf_putc(&b, '\0') == ITX_OK;
    /* Normalised text: whitespace runs become one space, none at the ends. */
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    for (bool sp = false; i < n && ok; i++) {
        char ch = text[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            sp = true;
            continue;
        }
        if (sp)
            ok = itx_buf_putc(&b, ' ') == ITX_OK;
        sp = false;
        ok = ok && itx_buf_putc(&b, ch) == ITX_OK;
    }
    /* Out of memory: hash what we have plus the raw text, still a sound (if unusual) key. */
    if (!ok) {
        itx_sha256_hex(text, n, out);
    } else {
        itx_sha256_hex(b.data, b.len, out);
    }
    itx_buf_release(&b);
}

/* ---- SQLite backend ------------------------------------------------------------------- */

struct sqlite_cache {
    sqlite3 *db;
};

static enum itx_status
sq_get(void *impl, const char *key, char **value, struct itx_diag *d)
{
    struct sqlite_cache *c = impl;
    sqlite3_stmt *st = NULL;
    enum itx_status s = ITX_ERR_NOT_FOUND;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "SELECT value FROM translations WHERE key = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return itx_diag_set(d, ITX_ERR_IO, "translation cache: %s", sqlite3_errmsg(c->db));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        *value = itx_strdup(v ? (const char *)v : "");
        s = *value ? ITX_OK : itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading the cache");
    } else if (rc != SQLITE_DONE) {
        s = itx_diag_set(d, ITX_ERR_IO, "translation cache: %s", sqlite3_errmsg(c->db));
    }
    sqlite3_finalize(st);
    return s;
}

static enum itx_status
sq_put(void *impl, const char *key, const char *value, struct itx_diag *d)
{
    struct sqlite_cache *c = impl;
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(c->db,
                            "INSERT OR REPLACE INTO translations(key, value, created) "
                            "VALUES (?1, ?2, strftime('%s','now'))",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        return itx_diag_set(d, ITX_ERR_IO, "translation cache: %s", sqlite3_errmsg(c->db));
    return ITX_OK;
}

static void
sq_close(void *impl)
{
    struct sqlite_cache *c = impl;
    if (!c)
        return;
    sqlite3_close(c->db);
    itx_free(c);
}

static const struct itx_tr_cache_ops sqlite_ops = {sq_get, sq_put, sq_close};

enum itx_status
itx_tr_cache_open_sqlite(const char *path, struct itx_tr_cache **out, struct itx_diag *d)
{
    struct sqlite_cache *c = itx_calloc(1, sizeof(*c));
    struct itx_tr_cache *cache;
    char *err = NULL;
    int rc;

    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening the translation cache");
    rc = sqlite3_open_v2(path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, 5000);
        rc = sqlite3_exec(c->db,
                          "PRAGMA journal_mode=WAL;"
                          "CREATE TABLE IF NOT EXISTS translations("
                          " key TEXT PRIMARY KEY, value TEXT NOT NULL, created INTEGER)",
                          NULL, NULL, &err);
    }
    if (rc != SQLITE_OK) {
        enum itx_status s =
            itx_diag_set(d, ITX_ERR_IO, "cannot open translation cache '%s': %s", path,
                         err ? err : (c->db ? sqlite3_errmsg(c->db) : "out of memory"));
        sqlite3_free(err);
        sq_close(c);
        return s;
    }
    cache = itx_tr_cache_new(&sqlite_ops, c);
    if (!cache)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening the translation cache");
    *out = cache;
    return ITX_OK;
}
