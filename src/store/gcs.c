/*
 * The Google Cloud Storage backend (JSON API).
 *
 * Tokens: from a service-account key file, a JWT (RS256, signed with OpenSSL) exchanged at
 * the key's token_uri (RFC 7523 jwt-bearer grant); otherwise from the metadata server with
 * "Metadata-Flavor: Google" (Cloud Run, GKE, GCE). A token is cached, under a mutex, until
 * 60 s before it expires; a 401 from storage drops it and retries once.
 *
 * Objects: media upload (POST /upload/storage/v1/b/B/o?uploadType=media&name=N, create-only
 * with ifGenerationMatch=0), metadata GET (/storage/v1/b/B/o/N) and download (?alt=media).
 * Signed URLs are V4 (GOOG4-RSA-SHA256) and need the key file.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/util.h"
#include "store/store-impl.h"

#define KEY_FILE_MAX (64 * 1024)
#define TOKEN_MAX 4096
#define SCOPE "https://www.googleapis.com/auth/devstorage.read_write"

/* ---- JSON answers ---- */

static json_t *
load(const char *json, size_t len, const char *what, struct itx_diag *d)
{
    json_error_t err;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);

    if (!j) {
        itx_diag_set(d, ITX_ERR_UPSTREAM, "%s is not valid JSON: %s at line %d", what, err.text,
                     err.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        itx_diag_set(d, ITX_ERR_UPSTREAM, "%s is not a JSON object", what);
        return NULL;
    }
    return j;
}

enum itx_status
gcs_parse_token(const char *json, size_t len, char **token, long *expires_in, struct itx_diag *d)
{
    json_t *j = load(json, len, "token answer", d), *t, *e, *ty;
    enum itx_status st = ITX_OK;
    const char *tok;

    if (!j)
        return ITX_ERR_UPSTREAM;
    t = json_object_get(j, "access_token");
    e = json_object_get(j, "expires_in");
    ty = json_object_get(j, "token_type");
    if (!json_is_string(t) || !*(tok = json_string_value(t))) {
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "token answer has no access_token string");
        goto out;
    }
    if (strlen(tok) > TOKEN_MAX) {
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "access_token is over %d bytes", TOKEN_MAX);
        goto out;
    }
    for (const char *p = tok; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            st = itx_diag_set(d, ITX_ERR_UPSTREAM,
                              "access_token has a byte not allowed in a header");
            goto out;
        }
    }
    if (!json_is_integer(e) || json_integer_value(e) <= 0 || json_integer_value(e) > 86400) {
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "token answer has no expires_in in [1, 86400]");
        goto out;
    }
    if (ty && (!json_is_string(ty) || strcasecmp(json_string_value(ty), "Bearer") != 0)) {
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "token_type is not Bearer");
        goto out;
    }
    *token = itx_strdup(tok);
    if (!*token) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    *expires_in = (long)json_integer_value(e);
out:
    json_decref(j);
    return st;
}

void
gcs_key_release(struct gcs_key *k)
{
    itx_free(k->client_email);
    if (k->private_key) {
        OPENSSL_cleanse(k->private_key, strlen(k->private_key));
        itx_free(k->private_key);
    }
    itx_free(k->token_uri);
    memset(k, 0, sizeof *k);
}

static const char *
str_member(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

enum itx_status
gcs_parse_key(const char *json, size_t len, struct gcs_key *k, struct itx_diag *d)
{
    json_t *j = load(json, len, "service-account key", d);
    const char *type, *email, *pk, *uri;
    struct gcs_key out = {0};
    enum itx_status st = ITX_OK;

    if (!j) {
        if (d)
            d->code = ITX_ERR_INVALID;
        return ITX_ERR_INVALID;
    }
    type = str_member(j, "type");
    email = str_member(j, "client_email");
    pk = str_member(j, "private_key");
    uri = str_member(j, "token_uri");
    if (!type || strcmp(type, "service_account") != 0) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "key file is not a service_account key (type '%s')",
                          type ? type : "");
        goto out;
    }
    if (!email || !pk || !uri) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "service-account key lacks %s",
                          !email ? "client_email"
                          : !pk  ? "private_key"
                                 : "token_uri");
        goto out;
    }
    if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "token_uri '%.100s' is not an http(s) url", uri);
        goto out;
    }
    out.client_email = itx_strdup(email);
    out.private_key = itx_strdup(pk);
    out.token_uri = itx_strdup(uri);
    if (!out.client_email || !out.private_key || !out.token_uri) {
        gcs_key_release(&out);
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    *k = out;
out:
    json_decref(j);
    return st;
}

enum itx_status
gcs_parse_object(const char *json, size_t len, size_t *size, struct itx_diag *d)
{
    json_t *j = load(json, len, "object resource", d), *v;
    long long n;
    enum itx_status st = ITX_OK;

    if (!j)
        return ITX_ERR_UPSTREAM;
    v = json_object_get(j, "size");
    /* The JSON API sends uint64 values as decimal strings. */
    if (!json_is_string(v) || !itx_parse_int(json_string_value(v), 0, (long long)1 << 62, &n))
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "object resource has no valid \"size\"");
    else
        *size = (size_t)n;
    json_decref(j);
    return st;
}

bool
gcs_parse_error(const char *json, size_t len, char *msg, size_t msg_size)
{
    json_t *j, *e, *m;
    bool ok = false;

    if (msg_size == 0)
        return false;
    j = json_loadb(json, len, 0, NULL);
    if (!j)
        return false;
    e = json_object_get(j, "error");
    m = json_is_object(e) ? json_object_get(e, "message") : NULL;
    if (json_is_string(m)) {
        size_t o = 0;
        for (const char *p = json_string_value(m); *p && o + 1 < msg_size; p++)
            msg[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
        msg[o] = '\0';
        ok = true;
    } else if (json_is_string(e)) {
        /* OAuth errors: {"error": "invalid_grant", "error_description": "..."} */
        const char *desc = str_member(j, "error_description");
        snprintf(msg, msg_size, "%s%s%s", json_string_value(e), desc ? ": " : "", desc ? desc : "");
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        ok = true;
    }
    json_decref(j);
    return ok;
}

enum itx_status
store_base64url(struct itx_buf *b, const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *s = p;
    enum itx_status st = ITX_OK;
    size_t i = 0;

    for (; i + 3 <= n && !st; i += 3) {
        char o[4] = {tbl[s[i] >> 2], tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tbl[s[i + 2] & 63]};
        st = itx_buf_append(b, o, 4);
    }
    if (!st && n - i == 1) {
        char o[2] = {tbl[s[i] >> 2], tbl[(s[i] & 3) << 4]};
        st = itx_buf_append(b, o, 2);
    } else if (!st && n - i == 2) {
        char o[3] = {tbl[s[i] >> 2], tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tbl[(s[i + 1] & 15) << 2]};
        st = itx_buf_append(b, o, 3);
    }
    return st;
}

/* ---- signing with the key ---- */

static enum itx_status
rsa_sign(const char *pem, const void *msg, size_t len, unsigned char **sig, size_t *sig_len,
         struct itx_diag *d)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *out = NULL;
    size_t n = 0;
    enum itx_status st = ITX_OK;

    if (!bio || !(pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL))) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "service-account private_key is not a PEM key");
        goto out;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "service-account private_key is not an RSA key");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSign(md, NULL, &n, msg, len) != 1 || !(out = itx_malloc(n)) ||
        EVP_DigestSign(md, out, &n, msg, len) != 1) {
        st = itx_diag_set(d, ITX_ERR_INTERNAL, "RS256 signing failed");
        goto out;
    }
    *sig = out;
    *sig_len = n;
    out = NULL;
out:
    itx_free(out);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return st;
}

static enum itx_status
make_jwt(const struct gcs_key *k, long long now, struct itx_buf *jwt, struct itx_diag *d)
{
    struct itx_buf claims;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    enum itx_status st;
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

    itx_buf_init(&claims, 8192);
    st = itx_buf_puts(&claims, "{\"iss\":");
    if (!st)
        st = itx_buf_json_str(&claims, k->client_email);
    if (!st)
        st = itx_buf_puts(&claims, ",\"scope\":\"" SCOPE "\",\"aud\":");
    if (!st)
        st = itx_buf_json_str(&claims, k->token_uri);
    if (!st)
        st = itx_buf_printf(&claims, ",\"iat\":%lld,\"exp\":%lld}", now, now + 3600);
    if (!st)
        st = store_base64url(jwt, header, strlen(header));
    if (!st)
        st = itx_buf_putc(jwt, '.');
    if (!st)
        st = store_base64url(jwt, claims.data, claims.len);
    if (st) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory building a JWT");
        goto out;
    }
    st = rsa_sign(k->private_key, jwt->data, jwt->len, &sig, &sig_len, d);
    if (st)
        goto out;
    if (itx_buf_putc(jwt, '.') || store_base64url(jwt, sig, sig_len))
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory building a JWT");
out:
    itx_free(sig);
    itx_buf_release(&claims);
    return st;
}

/* ---- tokens ---- */

static enum itx_status
fetch_token(struct itx_store *s, char **token, long *expires_in, struct itx_diag *d)
{
    struct store_http_resp r;
    struct curl_slist *h = NULL;
    struct itx_buf jwt, body;
    enum itx_status st;
    const char *url;
    char emsg[300] = "";

    store_http_resp_init(&r, 65536);
    itx_buf_init(&jwt, 16384);
    itx_buf_init(&body, 16384);
    if (s->have_key) {
        url = s->key.token_uri;
        st = make_jwt(&s->key, (long long)time(NULL), &jwt, d);
        if (st)
            goto out;
        if (itx_buf_puts(&body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-"
                                "bearer&assertion=") ||
            itx_buf_append(&body, jwt.data, jwt.len)) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
        h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    } else {
        url = s->metadata_url;
        h = curl_slist_append(NULL, "Metadata-Flavor: Google");
    }
    if (!h) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    {
        struct store_http_req q = {s->have_key ? "POST" : "GET", url, h, body.data, body.len};
        long backoff = s->cfg.retry_backoff_ms;
        for (int attempt = 0;; attempt++) {
            struct itx_diag td;
            itx_diag_init(&td);
            st = store_http_do(s, &q, &r, &td);
            if (!st && r.status == 200)
                break;
            if (attempt < s->cfg.max_retries && store_http_retryable(st, r.status, NULL)) {
                store_sleep_ms(backoff);
                backoff *= 2;
                continue;
            }
            if (st) {
                st = itx_diag_set(d, st, "cannot get a gcs token from '%.150s': %s", url, td.msg);
                goto out;
            }
            gcs_parse_error(r.body.data, r.body.len, emsg, sizeof emsg);
            st = itx_diag_set(d,
                              r.status == 400 || r.status == 401 || r.status == 403
                                  ? ITX_ERR_AUTH
                                  : ITX_ERR_UPSTREAM,
                              "token endpoint '%.150s' answered HTTP %ld%s%s", url, r.status,
                              emsg[0] ? ": " : "", emsg);
            goto out;
        }
    }
    st = gcs_parse_token(r.body.data, r.body.len, token, expires_in, d);
out:
    curl_slist_free_all(h);
    if (jwt.data)
        OPENSSL_cleanse(jwt.data, jwt.len);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    itx_buf_release(&jwt);
    itx_buf_release(&body);
    store_http_resp_release(&r);
    return st;
}

/* A copy of a valid token (free with itx_free), fetched when the cache is empty or stale. */
static enum itx_status
get_token(struct itx_store *s, char **out, struct itx_diag *d)
{
    enum itx_status st = ITX_OK;

    pthread_mutex_lock(&s->token_lock);
    if (!s->token || itx_now_ms() >= s->token_expires_ms) {
        char *tok = NULL;
        long exp = 0;
        st = fetch_token(s, &tok, &exp, d);
        if (!st) {
            itx_free(s->token);
            s->token = tok;
            /* Renew a minute early, or at half-life for very short tokens. */
            s->token_expires_ms = itx_now_ms() + 1000.0 * (double)(exp > 120 ? exp - 60 : exp / 2);
            s->n_token_fetches++;
        }
    }
    if (!st) {
        *out = itx_strdup(s->token);
        if (!*out)
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&s->token_lock);
    return st;
}

static void
drop_token(struct itx_store *s, const char *tok)
{
    pthread_mutex_lock(&s->token_lock);
    if (s->token && strcmp(s->token, tok) == 0) {
        itx_free(s->token);
        s->token = NULL;
    }
    pthread_mutex_unlock(&s->token_lock);
}

/* ---- requests ---- */

static enum itx_status
gcs_request(struct itx_store *s, const char *method, const char *url, const char *key,
            const void *body, size_t len, const char *content_type, struct store_http_resp *r,
            struct itx_diag *d)
{
    long backoff = s->cfg.retry_backoff_ms;
    bool reauth = false;
    enum itx_status st;

    for (int attempt = 0;; attempt++) {
        char *tok = NULL, auth[TOKEN_MAX + 32], ct[160], emsg[300] = "";
        struct curl_slist *h = NULL, *n;
        struct itx_diag td;

        st = get_token(s, &tok, d);
        if (st)
            return st;
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        h = curl_slist_append(NULL, auth);
        if (h && content_type) {
            snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
            n = curl_slist_append(h, ct);
            h = n ? n : (curl_slist_free_all(h), NULL);
        }
        if (h) {
            n = curl_slist_append(h, "Expect:");
            h = n ? n : (curl_slist_free_all(h), NULL);
        }
        OPENSSL_cleanse(auth, sizeof auth);
        if (!h) {
            itx_free(tok);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        }
        {
            struct store_http_req q = {method, url, h, body, len};
            itx_diag_init(&td);
            st = store_http_do(s, &q, r, &td);
        }
        curl_slist_free_all(h);
        if (!st && r->status == 401 && !reauth) {
            /* Revoked or expired early: fetch a new token once. */
            drop_token(s, tok);
            itx_free(tok);
            reauth = true;
            attempt--;
            continue;
        }
        itx_free(tok);
        if (!st && r->status < 300)
            return ITX_OK;
        if (attempt < s->cfg.max_retries && store_http_retryable(st, r->status, NULL)) {
            store_sleep_ms(backoff);
            backoff *= 2;
            continue;
        }
        if (st)
            return itx_diag_set(d, st, "gcs %s '%s' (%d attempt%s): %s", method, key, attempt + 1,
                                attempt ? "s" : "", td.msg);
        if (r->status == 404)
            return itx_diag_set(d, ITX_ERR_NOT_FOUND, "object '%s' does not exist", key);
        if (r->status == 412)
            return itx_diag_set(d, ITX_ERR_CONFLICT, "object '%s' already exists", key);
        gcs_parse_error(r->body.data, r->body.len, emsg, sizeof emsg);
        return itx_diag_set(d,
                            r->status == 401   ? ITX_ERR_AUTH
                            : r->status == 403 ? ITX_ERR_FORBIDDEN
                            : r->status == 400 ? ITX_ERR_INVALID
                                               : ITX_ERR_UPSTREAM,
                            "gcs %s '%s': HTTP %ld%s%s", method, key, r->status,
                            emsg[0] ? ": " : "", emsg);
    }
}

static enum itx_status
object_url(const struct itx_store *s, struct itx_buf *b, const char *key, bool upload)
{
    enum itx_status st;

    if (upload) {
        st = itx_buf_printf(b, "%s/upload/storage/v1/b/", s->gcs_endpoint);
        if (!st)
            st = store_uri_encode(b, s->bucket, false);
        if (!st)
            st = itx_buf_puts(b, "/o?uploadType=media&ifGenerationMatch=0&name=");
        if (!st)
            st = store_uri_encode(b, key, false);
        return st;
    }
    st = itx_buf_printf(b, "%s/storage/v1/b/", s->gcs_endpoint);
    if (!st)
        st = store_uri_encode(b, s->bucket, false);
    if (!st)
        st = itx_buf_puts(b, "/o/");
    if (!st)
        st = store_uri_encode(b, key, false); /* '/' in names is %2F in the JSON API */
    return st;
}

static enum itx_status
gcs_put(struct itx_store *s, const char *key, const void *data, size_t len,
        const char *content_type, struct itx_diag *d)
{
    struct store_http_resp r;
    struct itx_buf url;
    enum itx_status st;

    store_http_resp_init(&r, 1u << 20);
    itx_buf_init(&url, 8192);
    if (object_url(s, &url, key, true)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    } else {
        st = gcs_request(s, "POST", url.data, key, data, len, content_type, &r, d);
    }
    itx_buf_release(&url);
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
gcs_head(struct itx_store *s, const char *key, bool *exists, size_t *size, struct itx_diag *d)
{
    struct store_http_resp r;
    struct itx_buf url;
    enum itx_status st;
    struct itx_diag td;
    size_t n = 0;

    store_http_resp_init(&r, 1u << 20);
    itx_buf_init(&url, 8192);
    itx_diag_init(&td);
    if (object_url(s, &url, key, false)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = gcs_request(s, "GET", url.data, key, NULL, 0, NULL, &r, &td);
    if (st == ITX_ERR_NOT_FOUND) {
        *exists = false;
        if (size)
            *size = 0;
        st = ITX_OK;
        goto out;
    }
    if (!st)
        st = gcs_parse_object(r.body.data, r.body.len, &n, &td);
    if (st) {
        itx_diag_set(d, st, "%s", td.msg);
        goto out;
    }
    *exists = true;
    if (size)
        *size = n;
out:
    itx_buf_release(&url);
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
gcs_get(struct itx_store *s, const char *key, uint8_t **data, size_t *len, struct itx_diag *d)
{
    struct store_http_resp r;
    struct itx_buf url;
    enum itx_status st;

    store_http_resp_init(&r, s->cfg.max_object_size);
    itx_buf_init(&url, 8192);
    if (object_url(s, &url, key, false) || itx_buf_puts(&url, "?alt=media")) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    } else {
        st = gcs_request(s, "GET", url.data, key, NULL, 0, NULL, &r, d);
        if (!st) {
            *data = (uint8_t *)itx_buf_take(&r.body, len);
            if (!*data)
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        }
    }
    itx_buf_release(&url);
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
gcs_url(struct itx_store *s, const char *key, long ttl_s, long long now, char **url,
        struct itx_diag *d)
{
    struct itx_buf path, out, creq, sh, sts, qs;
    char date[17], cred[600], ttl[24], hash[65], *host = NULL, *hostport = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    enum itx_status st = ITX_OK;
    CURLU *u = NULL;

    itx_buf_init(&path, 4096);
    itx_buf_init(&out, 16384);
    itx_buf_init(&creq, 65536);
    itx_buf_init(&sh, 256);
    itx_buf_init(&sts, 4096);
    itx_buf_init(&qs, 8192);
    if (itx_buf_putc(&path, '/') || store_uri_encode(&path, s->bucket, false) ||
        itx_buf_putc(&path, '/') || store_uri_encode(&path, key, true)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!s->cfg.signed_urls) {
        if (itx_buf_printf(&out, "%s%s", s->gcs_public_base, path.data))
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        else
            *url = itx_buf_take(&out, NULL);
        goto out;
    }
    if (!s->have_key) {
        st = itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                          "signed gcs urls need a service-account key file "
                          "(GOOGLE_APPLICATION_CREDENTIALS); metadata-server credentials "
                          "cannot sign here");
        goto out;
    }
    u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, s->gcs_public_base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "invalid gcs public base url '%.100s'",
                          s->gcs_public_base);
        goto out;
    }
    {
        /* The signed Host value carries the port when the base URL names one. */
        char *port = NULL;
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port) {
            size_t hl = strlen(host), pl = strlen(port);
            char *hp = itx_malloc(hl + pl + 2);
            if (!hp) {
                curl_free(port);
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
                goto out;
            }
            memcpy(hp, host, hl);
            hp[hl] = ':';
            memcpy(hp + hl + 1, port, pl + 1);
            curl_free(host);
            host = NULL;
            hostport = hp;
        }
        curl_free(port);
    }
    {
        time_t t = now ? (time_t)now : time(NULL);
        struct tm tm;
        struct sigv4_kv q[5], h[1];
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(cred, sizeof cred, "%s/%.8s/auto/storage/goog4_request", s->key.client_email,
                 date);
        snprintf(ttl, sizeof ttl, "%ld", ttl_s);
        q[0] = (struct sigv4_kv){"X-Goog-Algorithm", "GOOG4-RSA-SHA256"};
        q[1] = (struct sigv4_kv){"X-Goog-Credential", cred};
        q[2] = (struct sigv4_kv){"X-Goog-Date", date};
        q[3] = (struct sigv4_kv){"X-Goog-Expires", ttl};
        q[4] = (struct sigv4_kv){"X-Goog-SignedHeaders", "host"};
        h[0] = (struct sigv4_kv){"host", hostport ? hostport : host};
        st = sigv4_canonical_request(&creq, "GET", path.data, q, 5, h, 1, "UNSIGNED-PAYLOAD", &sh);
    }
    if (st) {
        st = itx_diag_set(d, st, "cannot build a signed url for '%s'", key);
        goto out;
    }
    itx_sha256_hex(creq.data, creq.len, hash);
    if (itx_buf_printf(&sts, "GOOG4-RSA-SHA256\n%s\n%.8s/auto/storage/goog4_request\n%s", date,
                       date, hash)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = rsa_sign(s->key.private_key, sts.data, sts.len, &sig, &sig_len, d);
    if (st)
        goto out;
    {
        const char *l2 = strchr(creq.data, '\n');
        const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
        const char *e3 = l3 ? strchr(l3 + 1, '\n') : NULL;
        char hex[1100];
        if (sig_len > 512 || !e3) {
            st = itx_diag_set(d, ITX_ERR_INTERNAL, "unexpected signature size %zu", sig_len);
            goto out;
        }
        for (size_t i = 0; i < sig_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", sig[i]);
        if (itx_buf_append(&qs, l3 + 1, (size_t)(e3 - l3 - 1)) ||
            itx_buf_printf(&out, "%s%s?%s&X-Goog-Signature=%s", s->gcs_public_base, path.data,
                           qs.data, hex)) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    *url = itx_buf_take(&out, NULL);
out:
    itx_free(sig);
    itx_free(hostport);
    curl_free(host);
    curl_url_cleanup(u);
    itx_buf_release(&path);
    itx_buf_release(&out);
    itx_buf_release(&creq);
    itx_buf_release(&sh);
    itx_buf_release(&sts);
    itx_buf_release(&qs);
    return st;
}

static void
gcs_release(struct itx_store *s)
{
    gcs_key_release(&s->key);
    if (s->token) {
        OPENSSL_cleanse(s->token, strlen(s->token));
        itx_free(s->token);
    }
    pthread_mutex_destroy(&s->token_lock);
}

static const struct store_ops gcs_ops = {gcs_put, gcs_head, gcs_get, gcs_url, gcs_release};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum itx_status
store_gcs_open(struct itx_store *s, struct itx_diag *d)
{
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_init(&s->token_lock, NULL);
    s->ops = &gcs_ops;
    if (!s->bucket || !*s->bucket)
        return itx_diag_set(d, ITX_ERR_INVALID, "gcs store needs a bucket (ITX_GCS_BUCKET)");
    if (s->credentials_file) {
        uint8_t *data = NULL;
        size_t len = 0;
        enum itx_status st = itx_file_read(s->credentials_file, KEY_FILE_MAX, &data, &len, d);
        if (st)
            return itx_diag_prefix(d, "gcs credentials");
        st = gcs_parse_key((const char *)data, len, &s->key, d);
        OPENSSL_cleanse(data, len);
        itx_free(data);
        if (st)
            return itx_diag_prefix(d, "'%s'", s->credentials_file);
        s->have_key = true;
    }
    return ITX_OK;
}
