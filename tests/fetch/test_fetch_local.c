/*
 * src/fetch/ against a real HTTP server on 127.0.0.1, through the test build of the module
 * (ITX_FETCH_TESTING) with the loopback switch set for that server's port only: pictures,
 * redirect limits, redirects to private addresses, size caps, endless and slow bodies,
 * retries, and no decompression. A canary on another loopback port must stay untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "check.h"
#include "fetch/fetch.h"
#include "http_server.h"

static struct test_server srv;
static struct canary can;

static enum itx_status
get(const struct itx_fetch_opts *o, const char *path, struct itx_fetch_result *r,
    struct itx_diag *d)
{
    char url[2300];

    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", srv.port, path);
    itx_diag_init(d);
    return itx_fetch(o, url, r, d);
}

static void
opts(struct itx_fetch_opts *o)
{
    itx_fetch_opts_init(o);
    o->test_loopback_port = srv.port;
    o->retry_backoff_ms = 10;
}

static long
max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void
test_switch_needs_env(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;

    /* Port set but no environment variable: loopback stays refused. */
    opts(&o);
    unsetenv(ITX_FETCH_TEST_LOOPBACK_ENV);
    CHECK(get(&o, "/image", &r, &d) == ITX_ERR_FORBIDDEN);
    CHECK(strstr(d.msg, "loopback") != NULL);
    /* A value other than 1 is an error, not a yes. */
    setenv(ITX_FETCH_TEST_LOOPBACK_ENV, "yes", 1);
    CHECK(get(&o, "/image", &r, &d) == ITX_ERR_INVALID);
    setenv(ITX_FETCH_TEST_LOOPBACK_ENV, "1", 1);
    /* Environment set but no port: refused. */
    o.test_loopback_port = 0;
    CHECK(get(&o, "/image", &r, &d) == ITX_ERR_FORBIDDEN);
    CHECK_INT(atomic_load(&srv.n_requests), 0);
}

static void
test_image(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;

    opts(&o);
    CHECK(get(&o, "/image", &r, &d) == ITX_OK);
    CHECK_INT(r.len, test_png_len);
    CHECK(r.data && memcmp(r.data, test_png, test_png_len) == 0);
    CHECK(r.content_type && strcmp(r.content_type, "image/png") == 0);
    CHECK_INT(r.http_status, 200);
    CHECK_INT(r.n_redirects, 0);
    itx_fetch_result_release(&r);

    CHECK(get(&o, "/missing", &r, &d) == ITX_ERR_NOT_FOUND);
    CHECK(strstr(d.msg, "404") != NULL);
}

static void
test_redirects(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;

    opts(&o);
    CHECK(get(&o, "/chain/5", &r, &d) == ITX_OK);
    CHECK_INT(r.n_redirects, 5);
    CHECK_INT(r.len, test_png_len);
    CHECK(r.final_url && strstr(r.final_url, "/chain/0") != NULL);
    itx_fetch_result_release(&r);

    CHECK(get(&o, "/chain/6", &r, &d) == ITX_ERR_UPSTREAM);
    CHECK_MSG(strstr(d.msg, "too many redirects") && strstr(d.msg, "limit 5"), "%s", d.msg);

    o.max_redirects = 2;
    CHECK(get(&o, "/chain/3", &r, &d) == ITX_ERR_UPSTREAM);
    CHECK(get(&o, "/chain/2", &r, &d) == ITX_OK);
    itx_fetch_result_release(&r);
}

static void
test_redirect_to_private(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;
    char path[512], r1[128];
    const char *resolve[1];
    static const char *const targets[] = {
        "http://127.0.0.1:%u/",
        "http://127.0.0.2:%u/",
        "http://0x7f.1:%u/",
        "http://2130706433:%u/",
        "http://017700000001:%u/",
        "http://localhost:%u/",
        "http://[::1]:%u/",
        "http://[::ffff:127.0.0.1]:%u/",
        "http://[64:ff9b::10.0.0.1]:%u/",
        "http://[64:ff9b::127.0.0.1]:%u/",
        "http://[2002:7f00:1::]:%u/",
        "http://169.254.169.254:%u/latest/meta-data/",
        "http://10.0.0.1:%u/",
        "http://[fd00::1]:%u/",
        "http://0.0.0.0:%u/",
        "http://internal.example:%u/",
    };

    opts(&o);
    /* The canary is on 127.0.0.1 too, but on another port than the one the switch
     * allows, and exact 127.0.0.1 is the only loopback form the switch ever allows. */
    snprintf(r1, sizeof r1, "internal.example:%u:127.0.0.1", can.port);
    resolve[0] = r1;
    o.resolve = resolve;
    o.n_resolve = 1;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char target[256];
        with_port(target, sizeof target, targets[i], can.port);
        snprintf(path, sizeof path, "/to/%s", target);
        CHECK_MSG(get(&o, path, &r, &d) == ITX_ERR_FORBIDDEN, "%s: %s", target, d.msg);
        CHECK_MSG(strstr(d.msg, "refusing to connect") != NULL, "%s: %s", target, d.msg);
    }
    /* The switch's own port, but through an embedded or other loopback form: refused. */
    {
        static const char *const forms[] = {"http://[::ffff:127.0.0.1]:%u/image",
                                            "http://127.0.0.2:%u/image", "http://0.0.0.0:%u/image"};
        for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
            char target[256];
            with_port(target, sizeof target, forms[i], srv.port);
            snprintf(path, sizeof path, "/to/%s", target);
            CHECK_MSG(get(&o, path, &r, &d) == ITX_ERR_FORBIDDEN, "%s: %s", target, d.msg);
        }
    }
    /* Scheme of redirect targets. */
    CHECK(get(&o, "/to/file:///etc/passwd", &r, &d) == ITX_ERR_INVALID);
    CHECK_MSG(strstr(d.msg, "redirect 1") && strstr(d.msg, "scheme 'file'"), "%s", d.msg);
    CHECK(get(&o, "/to/ftp://127.0.0.1/x", &r, &d) == ITX_ERR_INVALID);
    CHECK(get(&o, "/to/gopher://127.0.0.1:70/x", &r, &d) == ITX_ERR_INVALID);
    /* Allow-list re-checked on redirects: 127.0.0.1 allowed, the target is not. */
    {
        static const char *const allow[] = {"127.0.0.1"};
        o.allow_hosts = allow;
        o.n_allow_hosts = 1;
        CHECK(get(&o, "/to/http://img.alicdn.com.example/x.jpg", &r, &d) == ITX_ERR_FORBIDDEN);
        CHECK(strstr(d.msg, "allow-list") != NULL);
        CHECK(get(&o, "/chain/1", &r, &d) == ITX_OK);
        itx_fetch_result_release(&r);
        o.allow_hosts = NULL;
        o.n_allow_hosts = 0;
    }
    itx_fetch_result_release(&r);
}

static void
test_size_caps(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;
    long rss0, rss1;

    opts(&o);
    o.max_bytes = 1024 * 1024;
    srv.big_len = o.max_bytes;
    CHECK(get(&o, "/big", &r, &d) == ITX_ERR_TOO_LARGE);
    CHECK_MSG(strstr(d.msg, "announces 1048577 bytes") && strstr(d.msg, "1048576-byte limit"), "%s",
              d.msg);

    rss0 = max_rss_kib();
    atomic_store(&srv.bytes_sent, 0);
    CHECK(get(&o, "/endless", &r, &d) == ITX_ERR_TOO_LARGE);
    CHECK_MSG(strstr(d.msg, "more than the 1048576-byte limit") != NULL, "%s", d.msg);
    CHECK(get(&o, "/nolength", &r, &d) == ITX_ERR_TOO_LARGE);
    rss1 = max_rss_kib();
    /* Memory stays near the cap: the body buffer has a 1 MiB ceiling. */
    CHECK_MSG(rss1 - rss0 < 16 * 1024, "peak RSS grew by %ld KiB", rss1 - rss0);

    /* The same cap through the default: exactly at the cap is fine. */
    o.max_bytes = test_png_len;
    CHECK(get(&o, "/image", &r, &d) == ITX_OK);
    itx_fetch_result_release(&r);
    o.max_bytes = test_png_len - 1;
    CHECK(get(&o, "/image", &r, &d) == ITX_ERR_TOO_LARGE);
}

static void
test_slow_drip(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;

    /* 100 bytes/s against a 1 KiB/s floor, over a 1 s window instead of 5. */
    opts(&o);
    o.low_speed_time_s = 1;
    o.max_retries = 0;
    atomic_store(&srv.bytes_sent, 0);
    CHECK(get(&o, "/drip", &r, &d) == ITX_ERR_TIMEOUT);
    CHECK_MSG(strstr(d.msg, "timed out") != NULL, "%s", d.msg);
    CHECK(atomic_load(&srv.bytes_sent) < 100000);

    /* The overall deadline bounds retries of timeouts as well. */
    o.max_retries = 100;
    o.total_timeout_ms = 2500;
    CHECK(get(&o, "/drip", &r, &d) == ITX_ERR_TIMEOUT);
}

static void
test_retry(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;
    int before;

    opts(&o);
    atomic_store(&srv.n_flaky, 0);
    CHECK(get(&o, "/flaky", &r, &d) == ITX_OK);
    CHECK_INT(r.n_attempts, 2);
    CHECK_INT(r.len, test_png_len);
    itx_fetch_result_release(&r);

    o.max_retries = 0;
    atomic_store(&srv.n_flaky, 0);
    CHECK(get(&o, "/flaky", &r, &d) == ITX_ERR_UPSTREAM);
    CHECK(strstr(d.msg, "503") != NULL);

    o.max_retries = 3;
    before = atomic_load(&srv.n_requests);
    CHECK(get(&o, "/always503", &r, &d) == ITX_ERR_UPSTREAM);
    CHECK_MSG(strstr(d.msg, "after 4 attempts") != NULL, "%s", d.msg);
    CHECK_INT(atomic_load(&srv.n_requests) - before, 4);

    /* 404 is not retried */
    before = atomic_load(&srv.n_requests);
    CHECK(get(&o, "/nothing", &r, &d) == ITX_ERR_NOT_FOUND);
    CHECK_INT(atomic_load(&srv.n_requests) - before, 1);
}

static void
test_no_decompression(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;

    opts(&o);
    CHECK(get(&o, "/gzip", &r, &d) == ITX_OK);
    CHECK_INT(r.len, test_gzip_len);
    CHECK(r.data && memcmp(r.data, test_gzip, test_gzip_len) == 0);
    itx_fetch_result_release(&r);
}

static void
test_rewrite_and_allow_list(void)
{
    struct itx_fetch_opts o;
    struct itx_fetch_result r = {0};
    struct itx_diag d;
    char res[128], url[256];
    const char *resolve[1];
    static const char *const allow[] = {"*.alicdn.com"};

    /* A thumbnail URL on a (pinned) alicdn name is fetched as the original. The pinned
     * address is 127.0.0.1 on the server's port, which the switch allows. */
    opts(&o);
    snprintf(res, sizeof res, "img.alicdn.com:%u:127.0.0.1", srv.port);
    resolve[0] = res;
    o.resolve = resolve;
    o.n_resolve = 1;
    o.allow_hosts = allow;
    o.n_allow_hosts = 1;
    o.rewrite_alicdn_thumbnails = true;
    snprintf(url, sizeof url, "http://img.alicdn.com:%u/image.jpg_400x400.jpg", srv.port);
    itx_diag_init(&d);
    /* /image.jpg is not a route: the server answers 404 for the original, which shows the
     * suffix was removed (the thumbnail path would also be a 404, so look at the URL). */
    CHECK(itx_fetch(&o, url, &r, &d) == ITX_ERR_NOT_FOUND);
    CHECK_MSG(strstr(d.msg, "/image.jpg'") != NULL, "%s", d.msg);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/image", srv.port);
    CHECK(itx_fetch(&o, url, &r, &d) == ITX_ERR_FORBIDDEN);
    CHECK(strstr(d.msg, "allow-list") != NULL);
    itx_fetch_result_release(&r);
}

int
main(void)
{
    int n;

    if (test_server_start(&srv) != 0 || canary_open(&can) != 0) {
        fprintf(stderr, "cannot start the local servers\n");
        return 1;
    }
    test_switch_needs_env();
    setenv(ITX_FETCH_TEST_LOOPBACK_ENV, "1", 1);
    test_image();
    test_redirects();
    test_redirect_to_private();
    test_size_caps();
    test_slow_drip();
    test_retry();
    test_no_decompression();
    test_rewrite_and_allow_list();
    test_server_stop(&srv);
    n = canary_close_count(&can);
    CHECK_MSG(n == 0, "the canary received %d connection(s)", n);
    return check_summary();
}
