/*
 * The S3 backend: AWS Signature Version 4 (header auth for requests, query auth for
 * presigned GET URLs), path-style or virtual-hosted addressing, retries on 5xx, 429 and
 * SlowDown with exponential backoff, and S3 XML error documents turned into messages.
 *
 * The Host header is set explicitly to the value that was signed, so what curl sends and
 * what the signature covers cannot drift apart.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/util.h"
#include "store/store-impl.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- SigV4 ---- */

struct kv_enc {
    char *name;
    char *value;
};

static int
cmp_kv(const void *a, const void *b)
{
    const struct kv_enc *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *
encode_dup(const char *s, bool keep_slash)
{
    struct itx_buf b;

    itx_buf_init(&b, 1u << 16);
    if (store_uri_encode(&b, s, keep_slash) != ITX_OK || itx_buf_append(&b, "", 0) != ITX_OK) {
        itx_buf_release(&b);
        return NULL;
    }
    return itx_buf_take(&b, NULL);
}

/* Lower-cased name and trimmed value with inner runs of spaces collapsed. */
static char *
header_value_trim(const char *v)
{
    size_t n = strlen(v), o = 0;
    char *r = itx_malloc(n + 1);
    bool space = false;

    if (!r)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (space && o)
            r[o++] = ' ';
        space = false;
        r[o++] = *v;
    }
    r[o] = '\0';
    return r;
}

enum itx_status
sigv4_canonical_request(struct itx_buf *out, const char *method, const char *canonical_uri,
                        const struct sigv4_kv *query, size_t n_query,
                        const struct sigv4_kv *headers, size_t n_headers, const char *payload_hash,
                        struct itx_buf *signed_headers)
{
    struct kv_enc *q = NULL, *h = NULL;
    enum itx_status st = ITX_ERR_NOMEM;

    q = itx_calloc(n_query ? n_query : 1, sizeof *q);
    h = itx_calloc(n_headers ? n_headers : 1, sizeof *h);
    if (!q || !h)
        goto out;
    for (size_t i = 0; i < n_query; i++) {
        q[i].name = encode_dup(query[i].name, false);
        q[i].value = encode_dup(query[i].value ? query[i].value : "", false);
        if (!q[i].name || !q[i].value)
            goto out;
    }
    for (size_t i = 0; i < n_headers; i++) {
        h[i].name = itx_strdup(headers[i].name);
        h[i].value = header_value_trim(headers[i].value);
        if (!h[i].name || !h[i].value)
            goto out;
        for (char *p = h[i].name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    qsort(q, n_query, sizeof *q, cmp_kv);
    qsort(h, n_headers, sizeof *h, cmp_kv);
    st = itx_buf_printf(out, "%s\n%s\n", method, canonical_uri);
    for (size_t i = 0; !st && i < n_query; i++)
        st = itx_buf_printf(out, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
    if (!st)
        st = itx_buf_putc(out, '\n');
    for (size_t i = 0; !st && i < n_headers; i++)
        st = itx_buf_printf(out, "%s:%s\n", h[i].name, h[i].value);
    if (!st)
        st = itx_buf_putc(out, '\n');
    for (size_t i = 0; !st && i < n_headers; i++) {
        st = itx_buf_printf(out, "%s%s", i ? ";" : "", h[i].name);
        if (!st)
            st = itx_buf_printf(signed_headers, "%s%s", i ? ";" : "", h[i].name);
    }
    if (!st)
        st = itx_buf_printf(out, "\n%s", payload_hash);
out:
    for (size_t i = 0; q && i < n_query; i++) {
        itx_free(q[i].name);
        itx_free(q[i].value);
    }
    for (size_t i = 0; h && i < n_headers; i++) {
        itx_free(h[i].name);
        itx_free(h[i].value);
    }
    itx_free(q);
    itx_free(h);
    return st;
}

static bool
hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
                &n) != NULL;
}

static void
to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

enum itx_status
sigv4_signature(const char *secret, const char *amz_date, const char *region, const char *service,
                const char *canonical_request, char sig[65])
{
    unsigned char k[32], tmp[32];
    char date[9], hash[65], scope[128];
    struct itx_buf sts, ks;
    enum itx_status st;

    if (strlen(amz_date) != 16)
        return ITX_ERR_INVALID;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    itx_sha256_hex(canonical_request, strlen(canonical_request), hash);
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
    itx_buf_init(&sts, 4096);
    itx_buf_init(&ks, 1024);
    st = itx_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
    if (!st)
        st = itx_buf_printf(&ks, "AWS4%s", secret);
    if (!st &&
        !(hmac(ks.data, ks.len, date, k) && hmac(k, 32, region, tmp) && hmac(tmp, 32, service, k) &&
          hmac(k, 32, "aws4_request", tmp) && hmac(tmp, 32, sts.data, k)))
        st = ITX_ERR_INTERNAL;
    if (!st)
        to_hex(k, 32, sig);
    if (ks.data)
        OPENSSL_cleanse(ks.data, ks.len);
    OPENSSL_cleanse(tmp, sizeof tmp);
    itx_buf_release(&ks);
    itx_buf_release(&sts);
    return st;
}

/* ---- XML error documents ---- */

static void
xml_text(const char *p, const char *end, char *out, size_t out_size)
{
    size_t o = 0;

    while (p < end && o + 1 < out_size) {
        if (*p == '&') {
            static const struct {
                const char *ent;
                char c;
            } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            bool done = false;
            for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
                size_t el = strlen(ents[i].ent);
                if ((size_t)(end - p) >= el && memcmp(p, ents[i].ent, el) == 0) {
                    out[o++] = ents[i].c;
                    p += el;
                    done = true;
                    break;
                }
            }
            if (done)
                continue;
        }
        /* Keep messages printable: control characters become spaces. */
        out[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
        p++;
    }
    out[o] = '\0';
}

static const char *
mem_find(const char *h, size_t hl, const char *needle)
{
    size_t nl = strlen(needle);

    if (nl > hl)
        return NULL;
    for (size_t i = 0; i + nl <= hl; i++) {
        if (memcmp(h + i, needle, nl) == 0)
            return h + i;
    }
    return NULL;
}

static bool
xml_element(const char *xml, size_t len, const char *name, char *out, size_t out_size)
{
    char open[64], close[64];
    const char *a, *b;

    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    a = mem_find(xml, len, open);
    if (!a)
        return false;
    a += strlen(open);
    b = mem_find(a, len - (size_t)(a - xml), close);
    if (!b)
        return false;
    xml_text(a, b, out, out_size);
    return true;
}

bool
s3_parse_error(const char *xml, size_t len, char *code, size_t code_size, char *msg,
               size_t msg_size)
{
    const char *root = mem_find(xml, len, "<Error>");

    if (!root || code_size == 0 || msg_size == 0)
        return false;
    len -= (size_t)(root - xml);
    if (!xml_element(root, len, "Code", code, code_size))
        return false;
    if (!xml_element(root, len, "Message", msg, msg_size))
        msg[0] = '\0';
    return true;
}

/* ---- requests ---- */

struct s3_target {
    char scheme[8];
    char host[300]; /* host[:port] as sent in Host */
    char base[400]; /* scheme://host[:port] */
};

static enum itx_status
s3_target(const struct itx_store *s, struct s3_target *t, struct itx_diag *d)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    enum itx_status st = ITX_OK;
    char def[256];
    const char *ep = s->endpoint;

    if (!u)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    if (!ep) {
        snprintf(def, sizeof def, "https://s3.%s.amazonaws.com", s->region);
        ep = def;
    }
    if (curl_url_set(u, CURLUPART_URL, ep, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "invalid s3 endpoint '%.200s'", ep);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    snprintf(t->scheme, sizeof t->scheme, "%s", scheme);
    {
        int n = snprintf(t->host, sizeof t->host, "%s%s%s%s%s", s->cfg.path_style ? "" : s->bucket,
                         s->cfg.path_style ? "" : ".", host, port ? ":" : "", port ? port : "");
        int m = n < 0 || (size_t)n >= sizeof t->host
                    ? -1
                    : snprintf(t->base, sizeof t->base, "%s://%s", scheme, t->host);
        if (m < 0 || (size_t)m >= sizeof t->base)
            st = itx_diag_set(d, ITX_ERR_INVALID, "s3 endpoint host '%.100s' is too long", host);
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return st;
}

/* Canonical (encoded) path of key. */
static enum itx_status
s3_path(const struct itx_store *s, const char *key, struct itx_buf *b)
{
    enum itx_status st = itx_buf_putc(b, '/');

    if (!st && s->cfg.path_style) {
        st = store_uri_encode(b, s->bucket, false);
        if (!st)
            st = itx_buf_putc(b, '/');
    }
    if (!st)
        st = store_uri_encode(b, key, true);
    return st;
}

static void
amz_now(long long now_unix, char out[17])
{
    time_t t = now_unix ? (time_t)now_unix : time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static enum itx_status
map_error(const char *op, const char *key, long status, const char *code, const char *msg,
          struct itx_diag *d)
{
    enum itx_status st;

    if (status == 404)
        st = ITX_ERR_NOT_FOUND;
    else if (status == 412)
        st = ITX_ERR_CONFLICT;
    else if (status == 401 || (code && (strcmp(code, "SignatureDoesNotMatch") == 0 ||
                                        strcmp(code, "InvalidAccessKeyId") == 0)))
        st = ITX_ERR_AUTH;
    else if (status == 403)
        st = ITX_ERR_FORBIDDEN;
    else if (status == 400)
        st = ITX_ERR_INVALID;
    else
        st = ITX_ERR_UPSTREAM;
    if (st == ITX_ERR_CONFLICT)
        return itx_diag_set(d, st, "object '%s' already exists", key);
    return itx_diag_set(d, st, "s3 %s '%s': HTTP %ld%s%s%s%s", op, key, status,
                        code && *code ? " " : "", code ? code : "", msg && *msg ? ": " : "",
                        msg ? msg : "");
}

/* Signs and performs one request with retries. r receives the last answer. */
static enum itx_status
s3_request(struct itx_store *s, const char *method, const char *key, const void *body,
           size_t body_len, const char *content_type, bool create_only, struct store_http_resp *r,
           struct itx_diag *d)
{
    struct s3_target t;
    struct itx_buf path, url, creq, signed_h, auth;
    char payload[65], date[17], sig[65], code[64] = "", msg[300] = "", hosth[320];
    long backoff = s->cfg.retry_backoff_ms;
    enum itx_status st;

    itx_buf_init(&path, 4096);
    itx_buf_init(&url, 4096);
    itx_buf_init(&creq, 1u << 16);
    itx_buf_init(&signed_h, 1024);
    itx_buf_init(&auth, 4096);
    st = s3_target(s, &t, d);
    if (st)
        goto out;
    if (s3_path(s, key, &path) || itx_buf_printf(&url, "%s%s", t.base, path.data)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (body_len)
        itx_sha256_hex(body, body_len, payload);
    else
        memcpy(payload, EMPTY_SHA256, 65);
    snprintf(hosth, sizeof hosth, "Host: %s", t.host);

    for (int attempt = 0;; attempt++) {
        struct sigv4_kv h[6];
        size_t nh = 0;
        struct curl_slist *hl = NULL, *n;
        struct store_http_req q = {method, url.data, NULL, body, body_len};
        char line[4200];
        struct itx_diag td;

        amz_now(0, date);
        h[nh++] = (struct sigv4_kv){"host", t.host};
        h[nh++] = (struct sigv4_kv){"x-amz-content-sha256", payload};
        h[nh++] = (struct sigv4_kv){"x-amz-date", date};
        if (s->session_token)
            h[nh++] = (struct sigv4_kv){"x-amz-security-token", s->session_token};
        if (content_type)
            h[nh++] = (struct sigv4_kv){"content-type", content_type};
        if (create_only)
            h[nh++] = (struct sigv4_kv){"if-none-match", "*"};
        itx_buf_reset(&creq);
        itx_buf_reset(&signed_h);
        itx_buf_reset(&auth);
        st = sigv4_canonical_request(&creq, method, path.data, NULL, 0, h, nh, payload, &signed_h);
        if (!st)
            st = sigv4_signature(s->secret_key, date, s->region, "s3", creq.data, sig);
        if (!st)
            st = itx_buf_printf(&auth,
                                "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/s3/"
                                "aws4_request, SignedHeaders=%s, Signature=%s",
                                s->access_key, date, s->region, signed_h.data, sig);
        if (st) {
            st = itx_diag_set(d, st, "cannot sign the s3 request for '%s'", key);
            goto out;
        }
        /* Build the header list; every header that was signed is sent as signed. */
        for (size_t i = 0; i < nh; i++) {
            if (strcmp(h[i].name, "host") == 0)
                snprintf(line, sizeof line, "%s", hosth);
            else
                snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
            n = curl_slist_append(hl, line);
            if (!n)
                break;
            hl = n;
        }
        n = hl ? curl_slist_append(hl, auth.data) : NULL;
        if (n)
            n = curl_slist_append(n, "Expect:");
        if (!n) {
            curl_slist_free_all(hl);
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
        hl = n;
        q.headers = hl;
        itx_diag_init(&td);
        st = store_http_do(s, &q, r, &td);
        curl_slist_free_all(hl);
        code[0] = msg[0] = '\0';
        if (!st && r->status >= 300 && r->body.len)
            s3_parse_error(r->body.data, r->body.len, code, sizeof code, msg, sizeof msg);
        if (st == ITX_OK && r->status < 300)
            break;
        if (attempt < s->cfg.max_retries && store_http_retryable(st, r->status, code)) {
            store_sleep_ms(backoff);
            backoff *= 2;
            continue;
        }
        if (st) {
            st = itx_diag_set(d, st, "s3 %s '%s' (%d attempt%s): %s", method, key, attempt + 1,
                              attempt ? "s" : "", td.msg);
            goto out;
        }
        st = map_error(method, key, r->status, code, msg, d);
        goto out;
    }
    st = ITX_OK;
out:
    itx_buf_release(&path);
    itx_buf_release(&url);
    itx_buf_release(&creq);
    itx_buf_release(&signed_h);
    itx_buf_release(&auth);
    return st;
}

static enum itx_status
s3_put(struct itx_store *s, const char *key, const void *data, size_t len, const char *content_type,
       struct itx_diag *d)
{
    struct store_http_resp r;
    enum itx_status st;

    store_http_resp_init(&r, 65536);
    st = s3_request(s, "PUT", key, data, len, content_type, true, &r, d);
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
s3_head(struct itx_store *s, const char *key, bool *exists, size_t *size, struct itx_diag *d)
{
    struct store_http_resp r;
    struct itx_diag td;
    enum itx_status st;

    store_http_resp_init(&r, 65536);
    itx_diag_init(&td);
    st = s3_request(s, "HEAD", key, NULL, 0, NULL, false, &r, &td);
    if (st == ITX_ERR_NOT_FOUND) {
        *exists = false;
        if (size)
            *size = 0;
        st = ITX_OK;
    } else if (st == ITX_OK) {
        *exists = true;
        if (size)
            *size = r.content_length > 0 ? (size_t)r.content_length : 0;
    } else {
        itx_diag_set(d, st, "%s", td.msg);
    }
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
s3_get(struct itx_store *s, const char *key, uint8_t **data, size_t *len, struct itx_diag *d)
{
    struct store_http_resp r;
    enum itx_status st;

    store_http_resp_init(&r, s->cfg.max_object_size);
    st = s3_request(s, "GET", key, NULL, 0, NULL, false, &r, d);
    if (!st) {
        *data = (uint8_t *)itx_buf_take(&r.body, len);
        if (!*data)
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    }
    store_http_resp_release(&r);
    return st;
}

static enum itx_status
s3_url(struct itx_store *s, const char *key, long ttl_s, long long now, char **url,
       struct itx_diag *d)
{
    struct s3_target t;
    struct itx_buf path, out, creq, signed_h, cred_q, qs;
    char date[17], sig[65], ttl[24], cred[300];
    struct sigv4_kv q[6], h[1];
    size_t nq = 0;
    enum itx_status st;

    itx_buf_init(&path, 4096);
    itx_buf_init(&out, 16384);
    itx_buf_init(&creq, 1u << 16);
    itx_buf_init(&signed_h, 256);
    itx_buf_init(&cred_q, 1024);
    itx_buf_init(&qs, 8192);
    st = s3_target(s, &t, d);
    if (st)
        goto out;
    if (s3_path(s, key, &path)) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!s->cfg.signed_urls) {
        if (itx_buf_printf(&out, "%s%s", t.base, path.data))
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        else
            *url = itx_buf_take(&out, NULL);
        goto out;
    }
    amz_now(now, date);
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    snprintf(cred, sizeof cred, "%s/%.8s/%s/s3/aws4_request", s->access_key, date, s->region);
    q[nq++] = (struct sigv4_kv){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    q[nq++] = (struct sigv4_kv){"X-Amz-Credential", cred};
    q[nq++] = (struct sigv4_kv){"X-Amz-Date", date};
    q[nq++] = (struct sigv4_kv){"X-Amz-Expires", ttl};
    q[nq++] = (struct sigv4_kv){"X-Amz-SignedHeaders", "host"};
    if (s->session_token)
        q[nq++] = (struct sigv4_kv){"X-Amz-Security-Token", s->session_token};
    h[0] = (struct sigv4_kv){"host", t.host};
    st = sigv4_canonical_request(&creq, "GET", path.data, q, nq, h, 1, "UNSIGNED-PAYLOAD",
                                 &signed_h);
    if (!st)
        st = sigv4_signature(s->secret_key, date, s->region, "s3", creq.data, sig);
    if (st) {
        st = itx_diag_set(d, st, "cannot sign a url for '%s'", key);
        goto out;
    }
    /* The query of the URL is the canonical query (line 3 of the canonical request). */
    {
        const char *l2 = strchr(creq.data, '\n');
        const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
        const char *e3 = l3 ? strchr(l3 + 1, '\n') : NULL;
        if (!e3 || itx_buf_append(&qs, l3 + 1, (size_t)(e3 - l3 - 1)) ||
            itx_buf_printf(&out, "%s%s?%s&X-Amz-Signature=%s", t.base, path.data, qs.data, sig)) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    *url = itx_buf_take(&out, NULL);
out:
    itx_buf_release(&path);
    itx_buf_release(&out);
    itx_buf_release(&creq);
    itx_buf_release(&signed_h);
    itx_buf_release(&cred_q);
    itx_buf_release(&qs);
    return st;
}

static const struct store_ops s3_ops = {s3_put, s3_head, s3_get, s3_url, NULL};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum itx_status
store_s3_open(struct itx_store *s, struct itx_diag *d)
{
    struct s3_target t;

    pthread_once(&curl_once, curl_init_once);
    s->ops = &s3_ops;
    if (!s->bucket || !*s->bucket)
        return itx_diag_set(d, ITX_ERR_INVALID, "s3 store needs a bucket (ITX_S3_BUCKET)");
    for (const char *p = s->bucket; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "s3 bucket name '%.64s' has a character outside [a-z0-9.-]",
                                s->bucket);
    }
    if (!s->access_key || !s->secret_key)
        return itx_diag_set(d, ITX_ERR_AUTH,
                            "s3 store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    for (const char *p = s->region; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            return itx_diag_set(d, ITX_ERR_INVALID, "s3 region '%.40s' is not a region name",
                                s->region);
    }
    return s3_target(s, &t, d);
}
