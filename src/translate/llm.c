/*
 * The HTTP side of the LLM providers: one libcurl easy handle per attempt, a per-translator
 * concurrency limit, and the retry policy shared by every vendor:
 *   - retry on network errors and timeouts, and on HTTP 429, 500, 503 and 504;
 *   - wait base * 2^k with jitter (a uniform draw in [1/2, 1] of it), but never less than
 *     the vendor's RetryInfo retryDelay / Retry-After; give up when the vendor asks for more
 *     than max_delay_ms;
 *   - never retry per-day quota, billing or insufficient_quota errors, nor 400/401/403/404.
 * The API key travels only in a request header and is never written to a message or log.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "translate/translate-impl.h"

#define MAX_RESPONSE_BYTES ((size_t)8 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct resp {
    struct itx_buf body;
    long retry_after_ms;
    bool too_large;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    if (itx_buf_append(&r->body, p, len) != ITX_OK) {
        r->too_large = true;
        return 0;
    }
    return len;
}

static bool
header_is(const char *h, size_t len, const char *name)
{
    size_t k = strlen(name);
    return len > k + 1 && strncasecmp(h, name, k) == 0 && h[k] == ':';
}

static size_t
on_header(char *h, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    char v[64];
    long long x;

    if (header_is(h, len, "retry-after-ms") || header_is(h, len, "retry-after")) {
        bool ms = header_is(h, len, "retry-after-ms");
        const char *colon = memchr(h, ':', len);
        size_t vl = len - (size_t)(colon + 1 - h);
        if (vl >= sizeof(v))
            vl = sizeof(v) - 1;
        memcpy(v, colon + 1, vl);
        v[vl] = '\0';
        {
            char *s = v, *e = v + strlen(v);
            while (*s == ' ')
                s++;
            while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
                *--e = '\0';
            /* Seconds (or ms) as an integer; an HTTP date is not used by these vendors. */
            if (itx_parse_int(s, 0, 86400000, &x) && (ms || x <= 86400))
                r->retry_after_ms = ms ? (long)x : (long)x * 1000;
        }
    }
    return len;
}

static void
limit_acquire(struct itx_translator *t)
{
    pthread_mutex_lock(&t->mu);
    while (t->in_flight >= t->max_in_flight)
        pthread_cond_wait(&t->cv, &t->mu);
    t->in_flight++;
    pthread_mutex_unlock(&t->mu);
}

static void
limit_release(struct itx_translator *t)
{
    pthread_mutex_lock(&t->mu);
    t->in_flight--;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Jitter source: a per-call xorshift seeded from the clock and the stack address. */
static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static bool
retryable_status(long st)
{
    return st == 429 || st == 500 || st == 503 || st == 504;
}

enum itx_status
itx_tr_llm_complete(struct itx_translator *t, const char *system, const char *user,
                    struct itx_buf *content, struct itx_tr_stats *stats, struct itx_diag *d)
{
    struct itx_buf url, body;
    struct curl_slist *headers = NULL;
    struct tr_llm_error err;
    enum itx_status s, fail = ITX_ERR_UPSTREAM;
    uint64_t seed = itx_now_ns() ^ (uint64_t)(uintptr_t)&seed;
    const char *name = t->ops->name;
    char why[ITX_DIAG_MSG_SIZE] = "";
    int attempt;

    pthread_once(&curl_once, curl_init_once);
    itx_buf_init(&url, 4096);
    itx_buf_init(&body, MAX_RESPONSE_BYTES);
    s = t->ops->build(t, system, user, &url, &headers, &body, d);
    if (s)
        goto out;
    if (!seed)
        seed = 0x9e3779b97f4a7c15ull;
    for (attempt = 1; attempt <= t->max_attempts; attempt++) {
        struct resp r = {.retry_after_ms = -1};
        char cerr[CURL_ERROR_SIZE] = "";
        CURL *c = curl_easy_init();
        CURLcode cc;
        long status = 0, delay;
        bool retry = false;

        if (!c) {
            s = itx_diag_set(d, ITX_ERR_NOMEM, "%s: cannot create an HTTP handle", name);
            goto out;
        }
        itx_buf_init(&r.body, MAX_RESPONSE_BYTES);
        curl_easy_setopt(c, CURLOPT_URL, url.data);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_USERAGENT, "itx");

        limit_acquire(t);
        cc = curl_easy_perform(c);
        limit_release(t);
        if (stats) {
            stats->provider_calls++;
            if (attempt > 1)
                stats->retries++;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        memset(&err, 0, sizeof(err));
        err.retry_delay_ms = -1;

        if (cc != CURLE_OK) {
            retry = true;
            fail = cc == CURLE_OPERATION_TIMEDOUT ? ITX_ERR_TIMEOUT : ITX_ERR_UPSTREAM;
            if (r.too_large)
                snprintf(why, sizeof(why), "response over the %zu-byte limit", MAX_RESPONSE_BYTES);
            else if (cc == CURLE_OPERATION_TIMEDOUT)
                snprintf(why, sizeof(why), "no complete answer within %ld ms (%.300s)",
                         t->timeout_ms, cerr[0] ? cerr : curl_easy_strerror(cc));
            else
                snprintf(why, sizeof(why), "network error: %.300s",
                         cerr[0] ? cerr : curl_easy_strerror(cc));
        } else {
            struct itx_diag pd;
            itx_diag_init(&pd);
            s = t->ops->parse(r.body.data ? r.body.data : "", r.body.len, content, &err, &pd);
            if (status == 200 && s == ITX_OK) {
                itx_buf_release(&r.body);
                goto out;
            }
            if (status == 200) {
                /* A documented-looking success that we cannot read: malformed or truncated. */
                retry = !err.no_retry;
                fail = ITX_ERR_UPSTREAM;
                snprintf(why, sizeof(why), "invalid answer: %.400s",
                         s == ITX_ERR_UPSTREAM && err.message[0] ? err.message : pd.msg);
            } else {
                retry = retryable_status(status) && !err.no_retry;
                fail = status == 401 || status == 403 ? ITX_ERR_AUTH
                       : status == 429                ? ITX_ERR_OVERLOADED
                       : status == 404                ? ITX_ERR_NOT_FOUND
                                                      : ITX_ERR_UPSTREAM;
                snprintf(why, sizeof(why), "HTTP %ld: %.400s", status,
                         err.message[0] ? err.message : "no error details in the answer");
            }
            if (err.retry_delay_ms < 0)
                err.retry_delay_ms = r.retry_after_ms;
        }
        itx_buf_release(&r.body);
        itx_buf_reset(content);
        if (!retry) {
            s = itx_diag_set(d, fail, "%s: %s (not retried)", name, why);
            goto out;
        }
        if (attempt == t->max_attempts)
            break;
        delay = t->base_delay_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
        if (delay > t->max_delay_ms)
            delay = t->max_delay_ms;
        delay = delay / 2 + (long)(xorshift(&seed) % (uint64_t)(delay / 2 + 1));
        if (err.retry_delay_ms >= 0) {
            if (err.retry_delay_ms > t->max_delay_ms) {
                s = itx_diag_set(d, fail,
                                 "%s: %s; the server asks to retry after %ld ms, over the "
                                 "%ld ms limit (gave up after %d attempt%s)",
                                 name, why, err.retry_delay_ms, t->max_delay_ms, attempt,
                                 attempt == 1 ? "" : "s");
                goto out;
            }
            if (delay < err.retry_delay_ms)
                delay = err.retry_delay_ms;
        }
        if (stats && stats->n_delays < sizeof(stats->delays_ms) / sizeof(stats->delays_ms[0]))
            stats->delays_ms[stats->n_delays++] = delay;
        itx_log(ITX_LOG_WARNING, NULL, NULL, "%s: %s; retrying in %ld ms (attempt %d of %d)", name,
                why, delay, attempt + 1, t->max_attempts);
        sleep_ms(delay);
    }
    s = itx_diag_set(d, fail, "%s: %s (gave up after %d attempts)", name, why, t->max_attempts);
out:
    curl_slist_free_all(headers);
    itx_buf_release(&url);
    itx_buf_release(&body);
    return s;
}
