/*
 * The SSRF matrix against the production build of src/fetch/ (the library linked into
 * itx): every address form of loopback and private networks, literal and through names,
 * is refused with a clear error, and a canary listening on 127.0.0.1 and ::1 receives no
 * connection at all. Also: the test-only loopback switch is refused by this build.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fetch/fetch.h"
#include "http_server.h"

static void
expect_refused(const struct itx_fetch_opts *o, const char *url, const char *why)
{
    struct itx_fetch_result r = {0};
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    st = itx_fetch(o, url, &r, &d);
    CHECK_MSG(st == ITX_ERR_FORBIDDEN, "%s: status %s (%s)", url, itx_err_str(st), d.msg);
    CHECK_MSG(strstr(d.msg, "refusing to connect") && strstr(d.msg, why), "%s: message '%s'", url,
              d.msg);
    itx_fetch_result_release(&r);
}

int
main(void)
{
    struct canary can;
    struct itx_fetch_opts o;
    char url[256], r1[128], r2[128], r3[128], r4[128], r5[128], r6[128];
    const char *resolve[6];
    unsigned p;
    int n;

    if (canary_open(&can) != 0) {
        fprintf(stderr, "cannot open the canary listeners\n");
        return 1;
    }
    p = can.port;
    itx_fetch_opts_init(&o);
    o.max_retries = 0;

    /* Literal addresses, in every spelling that reaches loopback or a private network. */
    static const struct {
        const char *fmt;
        const char *why;
    } literal[] = {
        {"http://127.0.0.1:%u/", "loopback"},
        {"http://127.0.0.2:%u/", "loopback"},
        {"http://0x7f.1:%u/", "loopback"},
        {"http://0x7f000001:%u/", "loopback"},
        {"http://2130706433:%u/", "loopback"},
        {"http://017700000001:%u/", "loopback"},
        {"http://0177.0.0.1:%u/", "loopback"},
        {"http://127.1:%u/", "loopback"},
        {"http://localhost:%u/", "loopback"},
        {"https://localhost:%u/", "loopback"},
        {"http://[::1]:%u/", "loopback"},
        {"http://[::ffff:127.0.0.1]:%u/", "loopback, ipv4-mapped 127.0.0.1"},
        {"http://[::ffff:7f00:1]:%u/", "loopback, ipv4-mapped"},
        {"http://[0:0:0:0:0:ffff:127.0.0.1]:%u/", "ipv4-mapped"},
        {"http://[::127.0.0.1]:%u/", "loopback, ipv4-compatible"},
        {"http://[::ffff:0:127.0.0.1]:%u/", "loopback, ipv4-translated"},
        {"http://[64:ff9b::127.0.0.1]:%u/", "loopback, nat64"},
        {"http://[64:ff9b::10.0.0.1]:%u/", "private, nat64 10.0.0.1"},
        {"http://[64:ff9b:1:7f00:0:100::]:%u/", "nat64-local"},
        {"http://[2002:7f00:1::1]:%u/", "loopback, 6to4"},
        {"http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:%u/", "loopback, teredo 127.0.0.1"},
        {"http://0.0.0.0:%u/", "unspecified"},
        {"http://0:%u/", "unspecified"},
        {"http://[::]:%u/", "unspecified"},
        {"http://10.0.0.1:%u/", "private"},
        {"http://172.16.5.4:%u/", "private"},
        {"http://192.168.0.1:%u/", "private"},
        {"http://100.64.0.1:%u/", "carrier-grade NAT"},
        {"http://169.254.169.254:%u/latest/meta-data/", "link-local"},
        {"http://[::ffff:169.254.169.254]:%u/", "link-local, ipv4-mapped"},
        {"http://[::ffff:a9fe:a9fe]:%u/", "link-local"},
        {"http://224.0.0.1:%u/", "multicast"},
        {"http://255.255.255.255:%u/", "broadcast"},
        {"http://240.0.0.1:%u/", "reserved"},
        {"http://198.18.0.1:%u/", "benchmarking"},
        {"http://192.0.2.1:%u/", "documentation"},
        {"http://[fc00::1]:%u/", "unique-local"},
        {"http://[fd00:ec2::254]:%u/", "unique-local"},
        {"http://[fe80::1]:%u/", "link-local"},
        {"http://[ff02::1]:%u/", "multicast"},
        {"http://[2001:db8::1]:%u/", "documentation"},
    };
    for (size_t i = 0; i < sizeof literal / sizeof literal[0]; i++) {
        with_port(url, sizeof url, literal[i].fmt, p);
        expect_refused(&o, url, literal[i].why);
    }

    /* Host names that resolve to private addresses (pinned through the resolve hook). */
    snprintf(r1, sizeof r1, "internal.example:%u:127.0.0.1", p);
    snprintf(r2, sizeof r2, "metadata.example:%u:169.254.169.254", p);
    snprintf(r3, sizeof r3, "corp.example:%u:10.1.2.3", p);
    snprintf(r4, sizeof r4, "six.example:%u:[::1]", p);
    snprintf(r5, sizeof r5, "mapped.example:%u:[::ffff:127.0.0.1]", p);
    /* several addresses, all of them private: every one is refused */
    snprintf(r6, sizeof r6, "multi.example:%u:10.0.0.1,127.0.0.1,[::1]", p);
    resolve[0] = r1;
    resolve[1] = r2;
    resolve[2] = r3;
    resolve[3] = r4;
    resolve[4] = r5;
    resolve[5] = r6;
    o.resolve = resolve;
    o.n_resolve = 6;
    static const struct {
        const char *host;
        const char *why;
    } names[] = {
        {"internal.example", "loopback"},  {"metadata.example", "link-local"},
        {"corp.example", "private"},       {"six.example", "loopback"},
        {"mapped.example", "ipv4-mapped"}, {"multi.example", "refusing"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(url, sizeof url, "http://%s:%u/picture.jpg", names[i].host, p);
        expect_refused(&o, url, names[i].why);
    }
    o.resolve = NULL;
    o.n_resolve = 0;

    /* The production build refuses the test switch, either half of it. */
    {
        struct itx_fetch_result r = {0};
        struct itx_diag d;

        itx_diag_init(&d);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", p);
        o.test_loopback_port = p;
        CHECK(itx_fetch(&o, url, &r, &d) == ITX_ERR_FORBIDDEN);
        CHECK(strstr(d.msg, "does not support it") != NULL);
        o.test_loopback_port = 0;
        setenv(ITX_FETCH_TEST_LOOPBACK_ENV, "1", 1);
        CHECK(itx_fetch(&o, "http://img.alicdn.com/a.jpg", &r, &d) == ITX_ERR_FORBIDDEN);
        CHECK(strstr(d.msg, ITX_FETCH_TEST_LOOPBACK_ENV) != NULL);
        o.test_loopback_port = p;
        CHECK(itx_fetch(&o, url, &r, &d) == ITX_ERR_FORBIDDEN);
        unsetenv(ITX_FETCH_TEST_LOOPBACK_ENV);
        o.test_loopback_port = 0;
        itx_fetch_result_release(&r);
    }

    n = canary_close_count(&can);
    CHECK_MSG(n == 0, "the canary received %d connection(s)", n);
    return check_summary();
}
