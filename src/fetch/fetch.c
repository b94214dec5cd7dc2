/*
 * The transfer loop: one curl easy handle per call, redirects followed here (so every hop
 * gets the URL policy), retries with exponential backoff inside one overall deadline, and
 * the address policy applied in the open-socket callback, the last point before connect(2)
 * where the resolved address is known.
 */
#include "fetch/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"

#ifndef ITX_FETCH_TESTING
#define ITX_FETCH_TESTING 0
#endif

#define HOST_MAX 256

#if ITX_FETCH_TESTING
/* tests/fetch/no-test-switch-in-itx.sh looks for this text to prove that the itx binary
 * does not contain the test build of this file (and that a test binary does). */
const char itx_fetch_testing_marker[] = "itx-fetch-testing-build: loopback switch compiled in";
#endif

void
itx_fetch_opts_init(struct itx_fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_bytes = ITX_FETCH_DEFAULT_MAX_BYTES;
    o->connect_timeout_ms = ITX_FETCH_DEFAULT_CONNECT_MS;
    o->total_timeout_ms = ITX_FETCH_DEFAULT_TOTAL_MS;
    o->low_speed_bytes = ITX_FETCH_DEFAULT_LOW_SPEED_BYTES;
    o->low_speed_time_s = ITX_FETCH_DEFAULT_LOW_SPEED_S;
    o->max_redirects = ITX_FETCH_DEFAULT_MAX_REDIRECTS;
    o->max_retries = ITX_FETCH_DEFAULT_MAX_RETRIES;
    o->retry_backoff_ms = ITX_FETCH_DEFAULT_BACKOFF_MS;
}

void
itx_fetch_result_release(struct itx_fetch_result *r)
{
    if (!r)
        return;
    itx_free(r->data);
    itx_free(r->content_type);
    itx_free(r->final_url);
    memset(r, 0, sizeof *r);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum itx_status
itx_fetch_global_init(struct itx_diag *d)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot initialise libcurl: %s",
                            curl_easy_strerror(global_rc));
    return ITX_OK;
}

/* Per-call state shared with the curl callbacks. */
struct xfer {
    const struct itx_fetch_opts *o;
    bool loopback_ok; /* test switch fully engaged (test build + env + port) */
    struct itx_buf body;
    /* Set by the open-socket callback when it refuses an address. */
    bool refused;
    char refused_addr[INET6_ADDRSTRLEN + 8];
    char refused_why[96];
    /* Set by the header/write callbacks when the cap is hit. */
    bool too_large;
    bool nomem;
    unsigned long long announced; /* Content-Length seen, 0 if none */
    size_t discarded;             /* itx_fetch_post: answer bytes read and dropped */
};

/* The test switch: a test build, the environment variable, and the port, all three. */
static bool
test_loopback_allowed(const struct xfer *x, int family, const uint8_t *addr, unsigned port)
{
    static const uint8_t v4_lo[4] = {127, 0, 0, 1};
    static const uint8_t v6_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    if (!x->loopback_ok || port != x->o->test_loopback_port)
        return false;
    /* Exactly 127.0.0.1 or ::1: never an embedded or other 127/8 form. */
    if (family == AF_INET)
        return memcmp(addr, v4_lo, 4) == 0;
    return memcmp(addr, v6_lo, 16) == 0;
}

static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = clientp;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    unsigned port = 0;
    struct itx_fetch_addr_verdict v;
    char text[INET6_ADDRSTRLEN] = "?";
    curl_socket_t s;

    if (purpose != CURLSOCKTYPE_IPCXN)
        goto refuse_other;
    if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&a->addr;
        bytes = (const uint8_t *)&sin->sin_addr;
        len = 4;
        port = ntohs(sin->sin_port);
    } else if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)&a->addr;
        bytes = (const uint8_t *)&sin6->sin6_addr;
        len = 16;
        port = ntohs(sin6->sin6_port);
    } else {
        goto refuse_other;
    }
    inet_ntop(a->family, bytes, text, sizeof text);
    if (itx_fetch_addr_classify(a->family, bytes, len, &v) != ITX_ADDR_PUBLIC &&
        !test_loopback_allowed(x, a->family, bytes, port)) {
        x->refused = true;
        snprintf(x->refused_addr, sizeof x->refused_addr, "%s", text);
        if (v.via)
            snprintf(x->refused_why, sizeof x->refused_why, "%s, %s %u.%u.%u.%u",
                     itx_fetch_addr_class_str(v.cls), v.via, v.v4[0], v.v4[1], v.v4[2], v.v4[3]);
        else
            snprintf(x->refused_why, sizeof x->refused_why, "%s", itx_fetch_addr_class_str(v.cls));
        return CURL_SOCKET_BAD;
    }
    s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    return s;

refuse_other:
    x->refused = true;
    snprintf(x->refused_addr, sizeof x->refused_addr, "family %d", a->family);
    snprintf(x->refused_why, sizeof x->refused_why, "not an internet address");
    return CURL_SOCKET_BAD;
}

static size_t
header_cb(char *p, size_t size, size_t n, void *clientp)
{
    struct xfer *x = clientp;
    size_t len = size * n;
    static const char cl[] = "content-length:";

    if (len > sizeof cl && strncasecmp(p, cl, sizeof cl - 1) == 0) {
        char num[32];
        size_t k = len - (sizeof cl - 1);
        const char *s = p + sizeof cl - 1;
        long long v;

        while (k && (*s == ' ' || *s == '\t')) {
            s++;
            k--;
        }
        while (k && (s[k - 1] == '\r' || s[k - 1] == '\n' || s[k - 1] == ' '))
            k--;
        if (k && k < sizeof num) {
            memcpy(num, s, k);
            num[k] = '\0';
            if (itx_parse_int(num, 0, (long long)1 << 62, &v)) {
                x->announced = (unsigned long long)v;
                if (x->announced > x->o->max_bytes) {
                    x->too_large = true;
                    return 0; /* abort before any body byte arrives */
                }
            }
        }
    }
    return len;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *clientp)
{
    struct xfer *x = clientp;
    size_t len = size * n;

    enum itx_status st = itx_buf_append(&x->body, p, len);

    if (st != ITX_OK) {
        if (st == ITX_ERR_TOO_LARGE)
            x->too_large = true;
        else
            x->nomem = true;
        return 0;
    }
    return len;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool
is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static bool
is_retryable_status(long code)
{
    return code == 500 || code == 502 || code == 503 || code == 504;
}

/* Checks the switch for this build; fills x->loopback_ok. */
static enum itx_status
check_test_switch(const struct itx_fetch_opts *o, struct xfer *x, const char *doing,
                  struct itx_diag *d)
{
    const char *env = getenv(ITX_FETCH_TEST_LOOPBACK_ENV);
    bool env_on = env && *env;

    if (!ITX_FETCH_TESTING) {
        if (env_on || o->test_loopback_port)
            return itx_diag_set(d, ITX_ERR_FORBIDDEN,
                                "refusing to %s: the test-only loopback switch (%s%s) is "
                                "set, and this build of itx does not support it",
                                doing, env_on ? ITX_FETCH_TEST_LOOPBACK_ENV : "test_loopback_port",
                                env_on && o->test_loopback_port ? " and test_loopback_port" : "");
        x->loopback_ok = false;
        return ITX_OK;
    }
    if (env_on && strcmp(env, "1") != 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s must be 1 or unset, not '%.40s'",
                            ITX_FETCH_TEST_LOOPBACK_ENV, env);
    x->loopback_ok = env_on && o->test_loopback_port > 0 && o->test_loopback_port < 65536;
    return ITX_OK;
}

/* Pinned resolutions (o->resolve) as a curl list in *out; NULL when there are none. */
static enum itx_status
resolve_list(const struct itx_fetch_opts *o, struct curl_slist **out, struct itx_diag *d)
{
    for (size_t i = 0; i < o->n_resolve; i++) {
        struct curl_slist *n = curl_slist_append(*out, o->resolve[i]);
        if (!n)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        *out = n;
    }
    return ITX_OK;
}

/*
 * A curl handle with the settings every transfer of this module shares: http and https only,
 * no redirects followed by curl, no proxy from the environment, and the address policy on
 * every socket it opens (open_socket_cb, with x). NULL when curl cannot make one.
 */
static CURL *
easy_new(struct xfer *x, char errbuf[CURL_ERROR_SIZE], struct curl_slist *resolve)
{
    CURL *c = curl_easy_init();

    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* ignore http_proxy & co. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_USERAGENT, x->o->user_agent ? x->o->user_agent : "itx/0.1");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (resolve)
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    errbuf[0] = '\0';
    return c;
}

enum itx_status
itx_fetch(const struct itx_fetch_opts *opts, const char *url_in, struct itx_fetch_result *out,
          struct itx_diag *d)
{
    struct itx_fetch_opts defaults;
    const struct itx_fetch_opts *o = opts;
    struct xfer x;
    CURL *c = NULL;
    struct curl_slist *resolve = NULL;
    char *url = NULL, *rewritten = NULL;
    char host[HOST_MAX];
    enum itx_status st;
    double start = itx_now_ms();
    int hops = 0, attempt = 0;
    long backoff, code = 0;
    char errbuf[CURL_ERROR_SIZE];

    if (!o) {
        itx_fetch_opts_init(&defaults);
        o = &defaults;
    }
    memset(&x, 0, sizeof x);
    x.o = o;
    itx_buf_init(&x.body, o->max_bytes);
    st = itx_fetch_global_init(d);
    if (st)
        goto out;
    st = check_test_switch(o, &x, "fetch", d);
    if (st)
        goto out;
    st = itx_fetch_url_check(url_in, o->allow_hosts, o->n_allow_hosts, host, sizeof host, d);
    if (st)
        goto out;
    if (o->rewrite_alicdn_thumbnails)
        rewritten = itx_fetch_alicdn_original(url_in);
    url = itx_strdup(rewritten ? rewritten : url_in);
    if (!url) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = resolve_list(o, &resolve, d);
    if (st)
        goto out;
    c = easy_new(&x, errbuf, resolve);
    if (!c) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot create a curl handle");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);

    backoff = o->retry_backoff_ms;
    for (;;) {
        long left = o->total_timeout_ms - (long)(itx_now_ms() - start);
        CURLcode rc;

        if (left <= 0) {
            st = itx_diag_set(d, ITX_ERR_TIMEOUT, "fetching '%.200s' took over the %ld ms limit",
                              url, o->total_timeout_ms);
            goto out;
        }
        attempt++;
        itx_buf_reset(&x.body);
        x.refused = x.too_large = x.nomem = false;
        x.announced = 0;
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         o->connect_timeout_ms < left ? o->connect_timeout_ms : left);
        rc = curl_easy_perform(c);
        code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);

        if (x.refused) {
            st = itx_diag_set(d, ITX_ERR_FORBIDDEN,
                              "refusing to connect to %s (%s address) for '%.200s'", x.refused_addr,
                              x.refused_why, url);
            goto out;
        }
        if (x.nomem) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory receiving '%.200s'", url);
            goto out;
        }
        if (x.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            if (x.announced > o->max_bytes)
                st = itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                  "'%.200s' announces %llu bytes, over the %zu-byte limit", url,
                                  x.announced, o->max_bytes);
            else
                st = itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                  "'%.200s' sent more than the %zu-byte limit", url, o->max_bytes);
            goto out;
        }
        if (rc == CURLE_OK && is_redirect(code)) {
            char *loc = NULL;
            struct itx_diag hd;

            curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) {
                st = itx_diag_set(d, ITX_ERR_UPSTREAM,
                                  "'%.200s' answered %ld without a Location header", url, code);
                goto out;
            }
            if (++hops > o->max_redirects) {
                st = itx_diag_set(d, ITX_ERR_UPSTREAM,
                                  "too many redirects fetching '%.200s' (limit %d)", url_in,
                                  o->max_redirects);
                goto out;
            }
            itx_diag_init(&hd);
            st = itx_fetch_url_check(loc, o->allow_hosts, o->n_allow_hosts, host, sizeof host, &hd);
            if (st) {
                st = itx_diag_set(d, st, "redirect %d from '%.150s': %s", hops, url, hd.msg);
                goto out;
            }
            itx_free(url);
            url = itx_strdup(loc);
            if (!url) {
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
                goto out;
            }
            attempt = 0;
            backoff = o->retry_backoff_ms;
            continue;
        }
        if (rc == CURLE_OK && code >= 200 && code < 300)
            break;

        /* A failure: retry 5xx and timeouts while attempts and time remain. */
        if ((rc == CURLE_OK && is_retryable_status(code)) || rc == CURLE_OPERATION_TIMEDOUT) {
            long after = o->total_timeout_ms - (long)(itx_now_ms() - start);
            if (attempt <= o->max_retries && after > backoff) {
                sleep_ms(backoff);
                backoff = backoff > 0 && backoff < 60000 ? backoff * 2 : backoff;
                continue;
            }
        }
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            st = itx_diag_set(d, ITX_ERR_TIMEOUT, "fetching '%.200s' timed out: %s", url,
                              errbuf[0] ? errbuf : curl_easy_strerror(rc));
        } else if (rc != CURLE_OK) {
            st = itx_diag_set(d, ITX_ERR_UPSTREAM, "cannot fetch '%.200s': %s", url,
                              errbuf[0] ? errbuf : curl_easy_strerror(rc));
        } else if (code == 404 || code == 410) {
            st = itx_diag_set(d, ITX_ERR_NOT_FOUND, "'%.200s' answered HTTP %ld", url, code);
        } else {
            st = itx_diag_set(d, ITX_ERR_UPSTREAM, "'%.200s' answered HTTP %ld after %d attempt%s",
                              url, code, attempt, attempt == 1 ? "" : "s");
        }
        goto out;
    }

    {
        char *ct = NULL;
        size_t len = 0;

        memset(out, 0, sizeof *out);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            out->content_type = itx_strdup(ct);
        if (!x.body.data && itx_buf_append(&x.body, "", 0) != ITX_OK) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
        out->data = (uint8_t *)itx_buf_take(&x.body, &len);
        out->len = len;
        out->final_url = url;
        url = NULL;
        out->http_status = code;
        out->n_redirects = hops;
        out->n_attempts = attempt;
        if (!out->data || (ct && !out->content_type)) {
            itx_fetch_result_release(out);
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    st = ITX_OK;
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    itx_buf_release(&x.body);
    itx_free(url);
    itx_free(rewritten);
    return st;
}

static size_t
discard_cb(char *p, size_t size, size_t n, void *clientp)
{
    struct xfer *x = clientp;
    (void)p;
    x->discarded += size * n;
    return x->discarded > (64u << 10) ? 0 : size * n; /* an answer over 64 KiB is cut */
}

enum itx_status
itx_fetch_post(const struct itx_fetch_opts *opts, const char *what, const char *url,
               const char *content_type, const void *body, size_t len, long *http_status,
               struct itx_diag *d)
{
    struct itx_fetch_opts defaults;
    const struct itx_fetch_opts *o = opts;
    struct xfer x;
    CURL *c = NULL;
    struct curl_slist *resolve = NULL, *h = NULL;
    char host[HOST_MAX], ct[160], errbuf[CURL_ERROR_SIZE];
    enum itx_status st;
    CURLcode rc;

    if (!o) {
        itx_fetch_opts_init(&defaults);
        o = &defaults;
    }
    *http_status = 0;
    memset(&x, 0, sizeof x);
    x.o = o;
    if ((st = itx_fetch_global_init(d)) != ITX_OK ||
        (st = check_test_switch(o, &x, "send a POST request", d)) != ITX_OK ||
        (st = itx_fetch_url_check(url, o->allow_hosts, o->n_allow_hosts, host, sizeof host, d)) !=
            ITX_OK ||
        (st = resolve_list(o, &resolve, d)) != ITX_OK)
        goto out;
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    if (!(h = curl_slist_append(NULL, ct)) || !curl_slist_append(h, "Expect:") ||
        !(c = easy_new(&x, errbuf, resolve))) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->total_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms < o->total_timeout_ms ? o->connect_timeout_ms
                                                                 : o->total_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
    if (x.refused)
        st = itx_diag_set(d, ITX_ERR_FORBIDDEN,
                          "%s '%.200s': address %s is %s, refused (only public addresses are "
                          "reached)",
                          what, url, x.refused_addr, x.refused_why);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        st = itx_diag_set(d, ITX_ERR_TIMEOUT, "%s '%.200s' took over %ld ms", what, url,
                          o->total_timeout_ms);
    else if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "%s '%.200s': %s", what, url,
                          errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (*http_status < 200 || *http_status > 299)
        st = itx_diag_set(d, ITX_ERR_UPSTREAM, "%s '%.200s' answered %ld", what, url, *http_status);
    else
        st = ITX_OK;
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    curl_slist_free_all(resolve);
    return st;
}
