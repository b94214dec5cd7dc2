/*
 * The HTTP helper of the remote backends. Endpoints here are operator settings (a bucket
 * endpoint, the metadata server), not user input, so unlike src/fetch/ there is no address
 * policy (an operator may point it at MinIO on localhost); there are size and time
 * limits, no redirects and no decompression. curl's usual proxy variables apply, since a
 * deployment may need them to reach its bucket.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "store/store-impl.h"

void
store_http_resp_init(struct store_http_resp *r, size_t max)
{
    memset(r, 0, sizeof *r);
    itx_buf_init(&r->body, max);
    r->content_length = -1;
}

void
store_http_resp_release(struct store_http_resp *r)
{
    itx_buf_release(&r->body);
}

struct ctx {
    struct store_http_resp *r;
    const uint8_t *up;
    size_t up_left;
    bool too_large;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *clientp)
{
    struct ctx *c = clientp;
    size_t len = size * n;

    if (itx_buf_append(&c->r->body, p, len) != ITX_OK) {
        c->too_large = true;
        return 0;
    }
    return len;
}

static size_t
read_cb(char *p, size_t size, size_t n, void *clientp)
{
    struct ctx *c = clientp;
    size_t len = size * n;

    if (len > c->up_left)
        len = c->up_left;
    memcpy(p, c->up, len);
    c->up += len;
    c->up_left -= len;
    return len;
}

enum itx_status
store_http_do(const struct itx_store *s, const struct store_http_req *q, struct store_http_resp *r,
              struct itx_diag *d)
{
    CURL *c = curl_easy_init();
    struct curl_slist *resolve = NULL;
    struct ctx cx = {r, q->body, q->body_len, false};
    char errbuf[CURL_ERROR_SIZE] = "";
    enum itx_status st = ITX_OK;
    CURLcode rc;
    char *ct = NULL;
    curl_off_t cl = -1;

    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot create a curl handle");
    for (size_t i = 0; i < s->cfg.n_resolve; i++) {
        struct curl_slist *n = curl_slist_append(resolve, s->cfg.resolve[i]);
        if (!n) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
        resolve = n;
    }
    itx_buf_reset(&r->body);
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->cfg.timeout_ms > 0 ? s->cfg.timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cx);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "itx/0.1");
    if (q->headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, q->headers);
    if (resolve)
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(q->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &cx);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
    } else if (strcmp(q->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    } else if (strcmp(q->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    }
    rc = curl_easy_perform(c);
    if (cx.too_large) {
        st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "answer to %s %.200s is over the %zu-byte limit",
                          q->method, q->url, r->body.max);
        goto out;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = itx_diag_set(d, ITX_ERR_TIMEOUT, "%s %.200s timed out: %s", q->method, q->url,
                          errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto out;
    }
    if (rc != CURLE_OK) {
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "%s %.200s failed: %s", q->method, q->url,
                          errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(r->content_type, sizeof r->content_type, "%s", ct);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
        r->content_length = cl;
    if (!r->body.data && itx_buf_append(&r->body, "", 0) != ITX_OK)
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
out:
    curl_slist_free_all(resolve);
    curl_easy_cleanup(c);
    return st;
}

bool
store_http_retryable(enum itx_status st, long status, const char *s3_code)
{
    if (st == ITX_ERR_TIMEOUT || st == ITX_ERR_UPSTREAM)
        return true;
    if (st != ITX_OK)
        return false;
    if (status >= 500 || status == 429)
        return true;
    return s3_code && (strcmp(s3_code, "SlowDown") == 0 || strcmp(s3_code, "RequestTimeout") == 0 ||
                       strcmp(s3_code, "InternalError") == 0);
}

void
store_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

enum itx_status
store_uri_encode(struct itx_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    enum itx_status st = ITX_OK;

    for (const unsigned char *p = (const unsigned char *)s; *p && !st; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            st = itx_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            st = itx_buf_append(b, e, 3);
        }
    }
    return st;
}
