/* Unit tests of the pure parts of src/fetch/: address classes, URL policy, thumbnails. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "check.h"
#include "core/alloc.h"
#include "fetch/fetch.h"

static enum itx_fetch_addr_class
cls(const char *text, struct itx_fetch_addr_verdict *v)
{
    uint8_t b[16];

    if (inet_pton(AF_INET, text, b) == 1)
        return itx_fetch_addr_classify(AF_INET, b, 4, v);
    if (inet_pton(AF_INET6, text, b) == 1)
        return itx_fetch_addr_classify(AF_INET6, b, 16, v);
    return ITX_ADDR_INVALID;
}

#define CHECK_CLS(text, want)                                                                      \
    do {                                                                                           \
        enum itx_fetch_addr_class got_ = cls(text, NULL);                                          \
        CHECK_MSG(got_ == (want), "%s: %s, want %s", text, itx_fetch_addr_class_str(got_),         \
                  itx_fetch_addr_class_str(want));                                                 \
    } while (0)

static void
test_classify_v4(void)
{
    CHECK_CLS("8.8.8.8", ITX_ADDR_PUBLIC);
    CHECK_CLS("47.246.1.1", ITX_ADDR_PUBLIC);
    CHECK_CLS("1.1.1.1", ITX_ADDR_PUBLIC);
    CHECK_CLS("127.0.0.1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("127.255.255.254", ITX_ADDR_LOOPBACK);
    CHECK_CLS("0.0.0.0", ITX_ADDR_UNSPECIFIED);
    CHECK_CLS("0.1.2.3", ITX_ADDR_UNSPECIFIED);
    CHECK_CLS("10.0.0.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("172.16.0.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("172.31.255.255", ITX_ADDR_PRIVATE);
    CHECK_CLS("172.32.0.1", ITX_ADDR_PUBLIC);
    CHECK_CLS("172.15.255.255", ITX_ADDR_PUBLIC);
    CHECK_CLS("192.168.1.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("100.64.0.1", ITX_ADDR_CGNAT);
    CHECK_CLS("100.127.255.255", ITX_ADDR_CGNAT);
    CHECK_CLS("100.128.0.0", ITX_ADDR_PUBLIC);
    CHECK_CLS("100.63.255.255", ITX_ADDR_PUBLIC);
    CHECK_CLS("169.254.169.254", ITX_ADDR_LINK_LOCAL);
    CHECK_CLS("224.0.0.1", ITX_ADDR_MULTICAST);
    CHECK_CLS("239.255.255.250", ITX_ADDR_MULTICAST);
    CHECK_CLS("240.0.0.1", ITX_ADDR_RESERVED);
    CHECK_CLS("255.255.255.254", ITX_ADDR_RESERVED);
    CHECK_CLS("255.255.255.255", ITX_ADDR_BROADCAST);
    CHECK_CLS("192.0.0.8", ITX_ADDR_RESERVED);
    CHECK_CLS("192.88.99.1", ITX_ADDR_RESERVED);
    CHECK_CLS("198.18.0.1", ITX_ADDR_BENCHMARKING);
    CHECK_CLS("198.19.255.255", ITX_ADDR_BENCHMARKING);
    CHECK_CLS("198.20.0.0", ITX_ADDR_PUBLIC);
    CHECK_CLS("192.0.2.1", ITX_ADDR_DOCUMENTATION);
    CHECK_CLS("198.51.100.7", ITX_ADDR_DOCUMENTATION);
    CHECK_CLS("203.0.113.9", ITX_ADDR_DOCUMENTATION);
}

static void
test_classify_v6(void)
{
    struct itx_fetch_addr_verdict v;

    CHECK_CLS("2a00:1450:4001:80b::200e", ITX_ADDR_PUBLIC);
    CHECK_CLS("2400:3200::1", ITX_ADDR_PUBLIC);
    CHECK_CLS("::1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("::", ITX_ADDR_UNSPECIFIED);
    CHECK_CLS("fc00::1", ITX_ADDR_UNIQUE_LOCAL);
    CHECK_CLS("fd12:3456::1", ITX_ADDR_UNIQUE_LOCAL);
    CHECK_CLS("fec0::1", ITX_ADDR_UNIQUE_LOCAL);
    CHECK_CLS("fe80::1", ITX_ADDR_LINK_LOCAL);
    CHECK_CLS("febf::1", ITX_ADDR_LINK_LOCAL);
    CHECK_CLS("ff02::1", ITX_ADDR_MULTICAST);
    CHECK_CLS("2001:db8::1", ITX_ADDR_DOCUMENTATION);
    CHECK_CLS("3fff::1", ITX_ADDR_DOCUMENTATION);
    CHECK_CLS("2001:2::1", ITX_ADDR_BENCHMARKING);
    CHECK_CLS("100::1", ITX_ADDR_RESERVED);
    CHECK_CLS("4000::1", ITX_ADDR_RESERVED);
    CHECK_CLS("5f00::1", ITX_ADDR_RESERVED);
    CHECK_CLS("2001:10::1", ITX_ADDR_RESERVED);

    /* IPv4 embedded in IPv6: the embedded address decides. */
    CHECK_CLS("::ffff:127.0.0.1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("::ffff:7f00:1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("::ffff:10.0.0.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("::ffff:169.254.169.254", ITX_ADDR_LINK_LOCAL);
    CHECK_CLS("::ffff:8.8.8.8", ITX_ADDR_PUBLIC);
    CHECK_CLS("::ffff:0:127.0.0.1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("::127.0.0.1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("::10.0.0.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("64:ff9b::10.0.0.1", ITX_ADDR_PRIVATE);
    CHECK_CLS("64:ff9b::127.0.0.1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("64:ff9b::a9fe:a9fe", ITX_ADDR_LINK_LOCAL);
    CHECK_CLS("64:ff9b::8.8.8.8", ITX_ADDR_PUBLIC);
    /* local-use NAT64 (RFC 8215) is refused whatever it embeds */
    CHECK_CLS("64:ff9b:1:808:8:800::", ITX_ADDR_PRIVATE);
    CHECK_CLS("64:ff9b:1:7f00:0:100::", ITX_ADDR_LOOPBACK);
    CHECK_CLS("2002:7f00:1::1", ITX_ADDR_LOOPBACK);
    CHECK_CLS("2002:c0a8:101::", ITX_ADDR_PRIVATE);
    CHECK_CLS("2002:808:808::1", ITX_ADDR_PUBLIC);
    /* Teredo: client 127.0.0.1 stored as XOR 0xff = 80ff:fffe; server 65.54.227.120 */
    CHECK_CLS("2001:0:4136:e378:8000:63bf:80ff:fffe", ITX_ADDR_LOOPBACK);
    CHECK_CLS("2001:0:4136:e378:8000:63bf:f5ff:fffe", ITX_ADDR_PRIVATE);       /* 10.0.0.1 */
    CHECK_CLS("2001:0:4136:e378:8000:63bf:f7f7:f7f7", ITX_ADDR_PUBLIC);        /* 8.8.8.8 */
    CHECK_CLS("2001:0:4136:e378:8000:63bf:3fff:fdd2", ITX_ADDR_DOCUMENTATION); /* RFC 4380 */
    /* a Teredo address whose server is private is refused too */
    CHECK_CLS("2001:0:a00:1:8000:63bf:f7f7:f7f7", ITX_ADDR_PRIVATE);

    CHECK(cls("::ffff:169.254.169.254", &v) == ITX_ADDR_LINK_LOCAL);
    CHECK(v.via && strcmp(v.via, "ipv4-mapped") == 0);
    CHECK(v.v4[0] == 169 && v.v4[3] == 254);
    CHECK(cls("2001:0:4136:e378:8000:63bf:80ff:fffe", &v) == ITX_ADDR_LOOPBACK);
    CHECK(v.via && strcmp(v.via, "teredo") == 0);
    CHECK(v.v4[0] == 127 && v.v4[3] == 1);

    CHECK(itx_fetch_addr_classify(AF_INET, (const uint8_t *)"abcd", 3, NULL) == ITX_ADDR_INVALID);
    CHECK(itx_fetch_addr_classify(AF_UNIX, (const uint8_t *)"abcd", 4, NULL) == ITX_ADDR_INVALID);
    CHECK(itx_fetch_addr_classify(AF_INET, NULL, 4, NULL) == ITX_ADDR_INVALID);
}

static void
test_host_match(void)
{
    CHECK(itx_fetch_host_match("*.alicdn.com", "img.alicdn.com"));
    CHECK(itx_fetch_host_match("*.alicdn.com", "cbu01.alicdn.com"));
    CHECK(itx_fetch_host_match("*.alicdn.com", "a.b.alicdn.com"));
    CHECK(itx_fetch_host_match("*.alicdn.com", "IMG.AliCDN.com"));
    CHECK(itx_fetch_host_match("*.alicdn.com", "img.alicdn.com."));
    CHECK(!itx_fetch_host_match("*.alicdn.com", "alicdn.com"));
    CHECK(!itx_fetch_host_match("*.alicdn.com", "alicdn.com.evil.com"));
    CHECK(!itx_fetch_host_match("*.alicdn.com", "img.alicdn.com.evil.com"));
    CHECK(!itx_fetch_host_match("*.alicdn.com", "evilalicdn.com"));
    CHECK(!itx_fetch_host_match("*.alicdn.com", ".alicdn.com"));
    CHECK(itx_fetch_host_match("example.com", "example.com"));
    CHECK(!itx_fetch_host_match("example.com", "www.example.com"));
    CHECK(!itx_fetch_host_match("example.com", "example.co"));
    CHECK(!itx_fetch_host_match("example.com", "example.com.au"));
    CHECK(!itx_fetch_host_match("*", "example.com"));
    CHECK(!itx_fetch_host_match("*.", "example.com"));
    CHECK(!itx_fetch_host_match("", "example.com"));
}

static void
test_url_check(void)
{
    static const char *const allow[] = {"*.alicdn.com", "images.example.com"};
    char host[256];
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK(itx_fetch_url_check("https://img.alicdn.com/a.jpg", allow, 2, host, sizeof host, &d) ==
          ITX_OK);
    CHECK_STR(host, "img.alicdn.com");
    CHECK(itx_fetch_url_check("http://IMAGES.example.com:8080/x", allow, 2, host, sizeof host,
                              &d) == ITX_OK);
    CHECK_STR(host, "images.example.com");

    CHECK(itx_fetch_url_check("https://alicdn.com.evil.com/a.jpg", allow, 2, host, sizeof host,
                              &d) == ITX_ERR_FORBIDDEN);
    CHECK(strstr(d.msg, "alicdn.com.evil.com") && strstr(d.msg, "allow-list"));
    /* userinfo tricks: the real host is after '@' */
    CHECK(itx_fetch_url_check("https://img.alicdn.com@evil.com/a.jpg", allow, 2, host, sizeof host,
                              &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "credentials") != NULL);
    CHECK(itx_fetch_url_check("https://u:p@img.alicdn.com/a.jpg", NULL, 0, host, sizeof host, &d) ==
          ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("https://evil.com#@img.alicdn.com/a.jpg", allow, 2, host, sizeof host,
                              &d) == ITX_ERR_FORBIDDEN);
    CHECK(itx_fetch_url_check("https://evil.com\\@img.alicdn.com/", allow, 2, host, sizeof host,
                              &d) != ITX_OK);
    CHECK(itx_fetch_url_check("ftp://img.alicdn.com/a.jpg", NULL, 0, host, sizeof host, &d) ==
          ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "scheme 'ftp'") != NULL);
    CHECK(itx_fetch_url_check("file:///etc/passwd", NULL, 0, host, sizeof host, &d) ==
          ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("gopher://x/", NULL, 0, host, sizeof host, &d) == ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("img.alicdn.com/a.jpg", NULL, 0, host, sizeof host, &d) ==
          ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("http://a b/", NULL, 0, host, sizeof host, &d) == ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("http://:80/x", NULL, 0, host, sizeof host, &d) == ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("", NULL, 0, host, sizeof host, &d) == ITX_ERR_INVALID);
    CHECK(itx_fetch_url_check("http://[::1]/", allow, 2, host, sizeof host, &d) ==
          ITX_ERR_FORBIDDEN);
}

static void
check_rewrite(const char *in, const char *want)
{
    char *got = itx_fetch_alicdn_original(in);

    if (!want) {
        CHECK_MSG(got == NULL, "%s rewritten to %s", in, got ? got : "");
    } else {
        CHECK_MSG(got && strcmp(got, want) == 0, "%s -> %s, want %s", in, got ? got : "(null)",
                  want);
    }
    itx_free(got);
}

static void
test_alicdn_rewrite(void)
{
    check_rewrite("https://cbu01.alicdn.com/img/ibank/O1CN01abc_!!2212.jpg_400x400.jpg",
                  "https://cbu01.alicdn.com/img/ibank/O1CN01abc_!!2212.jpg");
    check_rewrite("https://img.alicdn.com/imgextra/i4/2212/O1CN01x_!!2212.jpg_.webp",
                  "https://img.alicdn.com/imgextra/i4/2212/O1CN01x_!!2212.jpg");
    check_rewrite("https://gw.alicdn.com/bao/uploaded/i1/O1CN01y.png_Q90.jpg_.webp",
                  "https://gw.alicdn.com/bao/uploaded/i1/O1CN01y.png");
    check_rewrite("https://img.alicdn.com/i1/a.jpeg_220x220q75.jpg_.webp?x=1",
                  "https://img.alicdn.com/i1/a.jpeg");
    /* already an original, other hosts, lookalike hosts: unchanged */
    check_rewrite("https://img.alicdn.com/i1/O1CN01z_!!1.jpg", NULL);
    check_rewrite("https://example.com/a.jpg_400x400.jpg", NULL);
    check_rewrite("https://alicdn.com.evil.com/a.jpg_400x400.jpg", NULL);
    check_rewrite("https://img.alicdn.com/dir.jpg_x/a.png", NULL);
    check_rewrite("https://img.alicdn.com/.jpg_400x400.jpg", NULL);
    check_rewrite("not a url", NULL);
}

static void
test_config(void)
{
    struct itx_fetch_allow_list l;
    struct itx_fetch_opts o;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK(itx_fetch_allow_list_parse(&l, " *.AliCDN.com ,img.example.com,, ", &d) == ITX_OK);
    CHECK_INT(l.n_hosts, 2);
    if (l.n_hosts == 2) {
        CHECK_STR(l.hosts[0], "*.alicdn.com");
        CHECK_STR(l.hosts[1], "img.example.com");
    }
    itx_fetch_allow_list_release(&l);
    static const char *const bad[] = {"*",   "*.",      "a..b",    "http://x.com", "x.com/a",
                                      "a b", "*.*.com", "a@b.com", ".x.com",       "x.com:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(itx_fetch_allow_list_parse(&l, bad[i], &d) == ITX_ERR_INVALID, "'%s' accepted",
                  bad[i]);
        itx_fetch_allow_list_release(&l);
    }

    setenv("ITX_FETCH_ALLOW_HOSTS", "*.alicdn.com", 1);
    setenv("ITX_FETCH_MAX_BYTES", "1048576", 1);
    setenv("ITX_FETCH_REWRITE_ALICDN", "1", 1);
    CHECK(itx_fetch_opts_from_env(&o, &l, &d) == ITX_OK);
    CHECK_INT(o.max_bytes, 1048576);
    CHECK(o.rewrite_alicdn_thumbnails);
    CHECK_INT(o.n_allow_hosts, 1);
    CHECK_INT(o.total_timeout_ms, ITX_FETCH_DEFAULT_TOTAL_MS);
    itx_fetch_allow_list_release(&l);
    setenv("ITX_FETCH_MAX_BYTES", "0", 1);
    CHECK(itx_fetch_opts_from_env(&o, &l, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "ITX_FETCH_MAX_BYTES") != NULL);
    itx_fetch_allow_list_release(&l);
    unsetenv("ITX_FETCH_MAX_BYTES");
    setenv("ITX_FETCH_ALLOW_HOSTS", "*.alicdn.com,evil/x", 1);
    CHECK(itx_fetch_opts_from_env(&o, &l, &d) == ITX_ERR_INVALID);
    CHECK_MSG(strstr(d.msg, "ITX_FETCH_ALLOW_HOSTS") && strstr(d.msg, "evil/x"), "%s", d.msg);
    itx_fetch_allow_list_release(&l);
    unsetenv("ITX_FETCH_ALLOW_HOSTS");
    unsetenv("ITX_FETCH_REWRITE_ALICDN");
    CHECK(itx_fetch_opts_from_env(&o, &l, &d) == ITX_OK);
    CHECK(o.allow_hosts == NULL || o.n_allow_hosts == 0);
    itx_fetch_allow_list_release(&l);
}

int
main(void)
{
    test_config();
    test_classify_v4();
    test_classify_v6();
    test_host_match();
    test_url_check();
    test_alicdn_rewrite();
    return check_summary();
}
