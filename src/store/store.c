/* Store front end: configuration, name rules, dispatch to a backend, cache keys. */
#include "store/store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "store/store-impl.h"

void
itx_store_config_init(struct itx_store_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = ITX_STORE_LOCAL;
    c->url_ttl_s = 3600;
    c->max_object_size = ITX_STORE_DEFAULT_MAX_OBJECT;
    c->max_retries = 3;
    c->retry_backoff_ms = 200;
    c->timeout_ms = 30000;
    c->dir = "data/files";
    c->public_base_url = "/files/";
    c->region = "us-east-1";
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static enum itx_status
env_bool(const char *name, bool *out, struct itx_diag *d)
{
    const char *v = env(name);

    if (!v)
        return ITX_OK;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = false;
    else
        return itx_diag_set(d, ITX_ERR_INVALID, "%s must be 0 or 1, not '%.40s'", name, v);
    return ITX_OK;
}

enum itx_status
itx_store_config_from_env(struct itx_store_config *c, struct itx_diag *d)
{
    const char *v;
    long long ttl;
    enum itx_status st;

    itx_store_config_init(c);
    v = env("ITX_STORE");
    if (!v || strcmp(v, "local") == 0)
        c->kind = ITX_STORE_LOCAL;
    else if (strcmp(v, "s3") == 0)
        c->kind = ITX_STORE_S3;
    else if (strcmp(v, "gcs") == 0)
        c->kind = ITX_STORE_GCS;
    else
        return itx_diag_set(d, ITX_ERR_INVALID, "ITX_STORE must be local, s3 or gcs, not '%.40s'",
                            v);
    if ((v = env("ITX_STORE_DIR")))
        c->dir = v;
    if ((v = env("ITX_STORE_PUBLIC_URL")))
        c->public_base_url = v;
    c->prefix = env("ITX_STORE_PREFIX");
    if ((st = env_bool("ITX_STORE_SIGNED_URLS", &c->signed_urls, d)))
        return st;
    if ((st = itx_env_int("ITX_STORE_URL_TTL", 3600, 1, 604800, &ttl, d)))
        return st;
    c->url_ttl_s = (long)ttl;
    c->bucket = env(c->kind == ITX_STORE_GCS ? "ITX_GCS_BUCKET" : "ITX_S3_BUCKET");
    if ((v = env("ITX_S3_REGION")))
        c->region = v;
    c->endpoint = env("ITX_S3_ENDPOINT");
    if ((st = env_bool("ITX_S3_PATH_STYLE", &c->path_style, d)))
        return st;
    c->access_key = env("AWS_ACCESS_KEY_ID");
    c->secret_key = env("AWS_SECRET_ACCESS_KEY");
    c->session_token = env("AWS_SESSION_TOKEN");
    c->credentials_file = env("GOOGLE_APPLICATION_CREDENTIALS");
    c->gcs_endpoint = env("ITX_GCS_ENDPOINT");
    c->metadata_url = env("ITX_GCS_METADATA_URL");
    return ITX_OK;
}

enum itx_status
itx_store_name_check(const char *name, struct itx_diag *d)
{
    size_t n, comp = 0;

    if (!name || !*name)
        return itx_diag_set(d, ITX_ERR_INVALID, "empty object name");
    n = strlen(name);
    if (n > ITX_STORE_NAME_MAX)
        return itx_diag_set(d, ITX_ERR_INVALID, "object name is %zu bytes, over the %d-byte limit",
                            n, ITX_STORE_NAME_MAX);
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        if (c == '/' || c == '\0') {
            if (comp == 0)
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "object name '%.100s' has an empty path component", name);
            if (name[i - comp] == '.')
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "object name '%.100s' has a component starting with '.'", name);
            comp = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "object name '%.100s' has a character outside [A-Za-z0-9._-/] "
                                "at offset %zu",
                                name, i);
        comp++;
    }
    return ITX_OK;
}

static char *
dup_or_null(const char *s, bool *fail)
{
    char *r;

    if (!s)
        return NULL;
    r = itx_strdup(s);
    if (!r)
        *fail = true;
    return r;
}

void
itx_store_free(struct itx_store *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->release)
        s->ops->release(s);
    itx_free(s->prefix);
    itx_free(s->dir);
    itx_free(s->public_base_url);
    itx_free(s->bucket);
    itx_free(s->region);
    itx_free(s->endpoint);
    itx_free(s->access_key);
    if (s->secret_key) {
        OPENSSL_cleanse(s->secret_key, strlen(s->secret_key));
        itx_free(s->secret_key);
    }
    itx_free(s->session_token);
    itx_free(s->credentials_file);
    itx_free(s->gcs_endpoint);
    itx_free(s->metadata_url);
    itx_free(s->gcs_public_base);
    for (size_t i = 0; s->resolve && i < s->cfg.n_resolve; i++)
        itx_free(s->resolve[i]);
    itx_free(s->resolve);
    itx_free(s);
}

enum itx_status
itx_store_open(const struct itx_store_config *c, struct itx_store **out, struct itx_diag *d)
{
    struct itx_store *s = itx_calloc(1, sizeof *s);
    enum itx_status st;
    bool fail = false;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    s->dir_fd = -1;
    s->tmp_fd = -1;
    s->cfg = *c;
    if (c->prefix && *c->prefix) {
        size_t pl = strlen(c->prefix);
        struct itx_diag pd;
        char tmp[ITX_STORE_NAME_MAX + 2];
        /* The prefix must itself be a valid name once its trailing '/' is dropped. */
        if (pl > ITX_STORE_NAME_MAX) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "store prefix is longer than %d bytes",
                              ITX_STORE_NAME_MAX);
            goto fail;
        }
        memcpy(tmp, c->prefix, pl + 1);
        if (tmp[pl - 1] == '/')
            tmp[pl - 1] = '\0';
        itx_diag_init(&pd);
        if (itx_store_name_check(tmp, &pd) != ITX_OK) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "store prefix: %s", pd.msg);
            goto fail;
        }
    }
    s->prefix = dup_or_null(c->prefix, &fail);
    s->dir = dup_or_null(c->dir, &fail);
    s->public_base_url = dup_or_null(c->public_base_url, &fail);
    s->bucket = dup_or_null(c->bucket, &fail);
    s->region = dup_or_null(c->region ? c->region : "us-east-1", &fail);
    s->endpoint = dup_or_null(c->endpoint, &fail);
    s->access_key = dup_or_null(c->access_key, &fail);
    s->secret_key = dup_or_null(c->secret_key, &fail);
    s->session_token = dup_or_null(c->session_token, &fail);
    s->credentials_file = dup_or_null(c->credentials_file, &fail);
    s->gcs_endpoint =
        dup_or_null(c->gcs_endpoint ? c->gcs_endpoint : "https://storage.googleapis.com", &fail);
    s->metadata_url =
        dup_or_null(c->metadata_url ? c->metadata_url
                                    : "http://metadata.google.internal/computeMetadata/v1/instance/"
                                      "service-accounts/default/token",
                    &fail);
    s->gcs_public_base = dup_or_null(
        c->gcs_public_base ? c->gcs_public_base : "https://storage.googleapis.com", &fail);
    if (c->n_resolve) {
        s->resolve = itx_calloc(c->n_resolve, sizeof *s->resolve);
        if (!s->resolve)
            fail = true;
        for (size_t i = 0; s->resolve && i < c->n_resolve; i++)
            s->resolve[i] = dup_or_null(c->resolve[i], &fail);
    }
    if (fail) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->cfg.resolve = (const char *const *)s->resolve;
    if (s->cfg.url_ttl_s <= 0)
        s->cfg.url_ttl_s = 3600;
    if (s->cfg.max_object_size == 0)
        s->cfg.max_object_size = ITX_STORE_DEFAULT_MAX_OBJECT;
    switch (c->kind) {
    case ITX_STORE_LOCAL:
        st = store_local_open(s, d);
        break;
    case ITX_STORE_S3:
        st = store_s3_open(s, d);
        break;
    case ITX_STORE_GCS:
        st = store_gcs_open(s, d);
        break;
    default:
        st = itx_diag_set(d, ITX_ERR_INVALID, "unknown store kind %d", (int)c->kind);
        break;
    }
    if (st)
        goto fail;
    *out = s;
    return ITX_OK;
fail:
    itx_store_free(s);
    return st;
}

enum itx_store_kind
itx_store_kind(const struct itx_store *s)
{
    return s->cfg.kind;
}

/* Checks name and builds prefix + name into key. */
static enum itx_status
full_key(const struct itx_store *s, const char *name, char *key, size_t key_size,
         struct itx_diag *d)
{
    enum itx_status st = itx_store_name_check(name, d);
    int n;

    if (st)
        return st;
    if (s->prefix && *s->prefix) {
        size_t pl = strlen(s->prefix);
        n = snprintf(key, key_size, "%s%s%s", s->prefix, s->prefix[pl - 1] == '/' ? "" : "/", name);
    } else {
        n = snprintf(key, key_size, "%s", name);
    }
    if (n < 0 || (size_t)n >= key_size)
        return itx_diag_set(d, ITX_ERR_INVALID, "object name '%.100s' is too long with the prefix",
                            name);
    return ITX_OK;
}

#define KEY_SIZE (2 * ITX_STORE_NAME_MAX + 4)

enum itx_status
itx_store_put(struct itx_store *s, const char *name, const void *data, size_t len,
              const char *content_type, struct itx_diag *d)
{
    char key[KEY_SIZE];
    enum itx_status st = full_key(s, name, key, sizeof key, d);

    if (st)
        return st;
    if (len > s->cfg.max_object_size)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "object '%s' is %zu bytes, over the %zu-byte store limit", name, len,
                            s->cfg.max_object_size);
    if (!content_type || !*content_type)
        content_type = "application/octet-stream";
    for (const char *p = content_type; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return itx_diag_set(d, ITX_ERR_INVALID, "content type of '%s' has a control character",
                                name);
    }
    if (strlen(content_type) > 100)
        return itx_diag_set(d, ITX_ERR_INVALID, "content type of '%s' is over 100 bytes", name);
    return s->ops->put(s, key, data, len, content_type, d);
}

enum itx_status
itx_store_head(struct itx_store *s, const char *name, bool *exists, size_t *size,
               struct itx_diag *d)
{
    char key[KEY_SIZE];
    enum itx_status st = full_key(s, name, key, sizeof key, d);

    if (st)
        return st;
    return s->ops->head(s, key, exists, size, d);
}

enum itx_status
itx_store_get(struct itx_store *s, const char *name, uint8_t **data, size_t *len,
              struct itx_diag *d)
{
    char key[KEY_SIZE];
    enum itx_status st = full_key(s, name, key, sizeof key, d);

    if (st)
        return st;
    return s->ops->get(s, key, data, len, d);
}

enum itx_status
itx_store_url(struct itx_store *s, const char *name, long ttl_s, long long now_unix, char **url,
              struct itx_diag *d)
{
    char key[KEY_SIZE];
    enum itx_status st = full_key(s, name, key, sizeof key, d);

    if (st)
        return st;
    if (ttl_s <= 0)
        ttl_s = s->cfg.url_ttl_s;
    if (ttl_s > 604800)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "signed url lifetime %ld s is over the 604800 s (7 day) limit", ttl_s);
    return s->ops->url(s, key, ttl_s, now_unix, url, d);
}

static int
cmp_setting(const void *a, const void *b)
{
    const struct itx_store_setting *x = *(const struct itx_store_setting *const *)a;
    const struct itx_store_setting *y = *(const struct itx_store_setting *const *)b;
    return strcmp(x->key, y->key);
}

enum itx_status
itx_store_cache_key(const void *src, size_t src_len, const struct itx_store_setting *settings,
                    size_t n_settings, char out[65], struct itx_diag *d)
{
    const struct itx_store_setting **sorted = NULL;
    struct itx_buf b;
    char src_hash[65];
    enum itx_status st = ITX_OK;

    itx_buf_init(&b, 1u << 20);
    if (n_settings) {
        sorted = itx_malloc_array(n_settings, sizeof *sorted);
        if (!sorted)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n_settings; i++) {
            if (!settings[i].key || !settings[i].value) {
                st = itx_diag_set(d, ITX_ERR_INVALID, "cache-key setting %zu has no key or value",
                                  i);
                goto out;
            }
            sorted[i] = &settings[i];
        }
        qsort(sorted, n_settings, sizeof *sorted, cmp_setting);
    }
    itx_sha256_hex(src, src_len, src_hash);
    st = itx_buf_printf(&b, "itx-cache-v1\nsrc=%s\n", src_hash);
    for (size_t i = 0; !st && i < n_settings; i++) {
        if (i && strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "cache-key setting '%s' given twice",
                              sorted[i]->key);
            goto out;
        }
        st = itx_buf_printf(&b, "%zu:%s=%zu:%s\n", strlen(sorted[i]->key), sorted[i]->key,
                            strlen(sorted[i]->value), sorted[i]->value);
    }
    if (st) {
        st = itx_diag_set(d, st, "cache-key settings are too large");
        goto out;
    }
    itx_sha256_hex(b.data, b.len, out);
out:
    itx_free(sorted);
    itx_buf_release(&b);
    return st;
}

enum itx_status
itx_store_cache_name(const char *key, const char *leaf, char *out, size_t out_size,
                     struct itx_diag *d)
{
    int n;

    if (!key || strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64)
        return itx_diag_set(d, ITX_ERR_INVALID, "cache key '%.70s' is not 64 hex digits",
                            key ? key : "");
    if (!leaf || !*leaf || strchr(leaf, '/') || itx_store_name_check(leaf, NULL) != ITX_OK)
        return itx_diag_set(d, ITX_ERR_INVALID, "cache object leaf '%.100s' is not a plain name",
                            leaf ? leaf : "");
    n = snprintf(out, out_size, "%.2s/%s/%s", key, key, leaf);
    if (n < 0 || (size_t)n >= out_size)
        return itx_diag_set(d, ITX_ERR_INVALID, "cache object name needs %d bytes, %zu given",
                            n + 1, out_size);
    return ITX_OK;
}
