/*
 * The S3 backend: the SigV4 signer against AWS's published examples, then a real
 * S3-protocol server (npm s3rver, behind tests/store/s3rver-run.js which verifies SigV4)
 * on 127.0.0.1: put/head/get, create-only puts, path-style and virtual-hosted
 * addressing, presigned URLs, a wrong secret refused, retries on SlowDown and 503, and S3
 * XML errors turned into messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "node_proc.h"
#include "store/store-impl.h"
#include "store/store.h"

#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
check_vector(const char *method, const char *uri, const struct sigv4_kv *q, size_t nq,
             const struct sigv4_kv *h, size_t nh, const char *payload, const char *want_signed,
             const char *want_sig)
{
    struct itx_buf creq, sh;
    char sig[65] = "";

    itx_buf_init(&creq, 1 << 16);
    itx_buf_init(&sh, 1024);
    CHECK(sigv4_canonical_request(&creq, method, uri, q, nq, h, nh, payload, &sh) == ITX_OK);
    CHECK(sigv4_signature(AWS_SECRET, "20130524T000000Z", "us-east-1", "s3", creq.data, sig) ==
          ITX_OK);
    CHECK_STR(sh.data, want_signed);
    CHECK_STR(sig, want_sig);
    itx_buf_release(&creq);
    itx_buf_release(&sh);
}

/* Examples from "Signature Calculations for the Authorization Header" and "Authenticating
 * Requests: Using Query Parameters" of the Amazon S3 API reference. */
static void
test_sigv4_vectors(void)
{
    static const struct sigv4_kv get_h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                            {"Range", "bytes=0-9"},
                                            {"x-amz-content-sha256", EMPTY},
                                            {"x-amz-date", "20130524T000000Z"}};
    static const struct sigv4_kv put_h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256",
         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}};
    static const struct sigv4_kv list_q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    static const struct sigv4_kv list_h[] = {{"host", "examplebucket.s3.amazonaws.com"},
                                             {"x-amz-date", "20130524T000000Z"},
                                             {"x-amz-content-sha256", EMPTY}};
    static const struct sigv4_kv pre_q[] = {
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
        {"X-Amz-Date", "20130524T000000Z"},
        {"X-Amz-Expires", "86400"},
        {"X-Amz-SignedHeaders", "host"}};
    static const struct sigv4_kv pre_h[] = {{"host", "examplebucket.s3.amazonaws.com"}};
    struct itx_buf b;
    char hash[65];

    check_vector("GET", "/test.txt", NULL, 0, get_h, 4, EMPTY,
                 "host;range;x-amz-content-sha256;x-amz-date",
                 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    itx_buf_init(&b, 256);
    CHECK(store_uri_encode(&b, "/test$file.text", true) == ITX_OK);
    CHECK_STR(b.data, "/test%24file.text");
    itx_sha256_hex("Welcome to Amazon S3.", 21, hash);
    CHECK_STR(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    check_vector("PUT", b.data, NULL, 0, put_h, 5, hash,
                 "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                 "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    itx_buf_release(&b);
    check_vector("GET", "/", list_q, 2, list_h, 3, EMPTY, "host;x-amz-content-sha256;x-amz-date",
                 "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    check_vector("GET", "/test.txt", pre_q, 5, pre_h, 1, "UNSIGNED-PAYLOAD", "host",
                 "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

static void
test_presign_format(void)
{
    struct itx_store_config c;
    struct itx_store *s = NULL;
    struct itx_diag d;
    char *url = NULL;

    /* The AWS example again, through the backend's URL builder (virtual-hosted). */
    itx_store_config_init(&c);
    c.kind = ITX_STORE_S3;
    c.bucket = "examplebucket";
    c.endpoint = "https://s3.amazonaws.com";
    c.access_key = "AKIAIOSFODNN7EXAMPLE";
    c.secret_key = AWS_SECRET;
    c.signed_urls = true;
    itx_diag_init(&d);
    CHECK(itx_store_open(&c, &s, &d) == ITX_OK);
    /* 2013-05-24T00:00:00Z */
    CHECK(s && itx_store_url(s, "test.txt", 86400, 1369353600LL, &url, &d) == ITX_OK);
    CHECK_STR(url ? url : "",
              "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    itx_free(url);
    CHECK(itx_store_url(s, "test.txt", 604801, 0, &url, &d) == ITX_ERR_INVALID);
    itx_store_free(s);

    /* Settings are checked at open. */
    c.bucket = "Bad_Bucket";
    CHECK(itx_store_open(&c, &s, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "Bad_Bucket") != NULL);
    c.bucket = "examplebucket";
    c.secret_key = NULL;
    CHECK(itx_store_open(&c, &s, &d) == ITX_ERR_AUTH);
}

static void
test_error_parser(void)
{
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
        "<Message>The resource &lt;x&gt; &amp; more</Message><Key>a</Key></Error>";
    char code[64], msg[128];

    CHECK(s3_parse_error(doc, sizeof doc - 1, code, sizeof code, msg, sizeof msg));
    CHECK_STR(code, "NoSuchKey");
    CHECK_STR(msg, "The resource <x> & more");
    CHECK(!s3_parse_error("<html>oops</html>", 17, code, sizeof code, msg, sizeof msg));
    CHECK(!s3_parse_error("<Error><Code>x", 14, code, sizeof code, msg, sizeof msg));
    CHECK(s3_parse_error(doc, sizeof doc - 1, code, 5, msg, 8));
    CHECK_STR(code, "NoSu");
}

static struct itx_store *
open_s3(unsigned port, bool path_style, const char *secret, struct itx_diag *d)
{
    static char endpoint[128], res[128];
    static const char *resolve[1];
    struct itx_store_config c;
    struct itx_store *s = NULL;

    itx_store_config_init(&c);
    c.kind = ITX_STORE_S3;
    c.bucket = "itx-test";
    c.region = "us-east-1";
    c.access_key = "S3RVER";
    c.secret_key = secret;
    c.path_style = path_style;
    c.retry_backoff_ms = 10;
    c.timeout_ms = 10000;
    if (path_style) {
        snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", port);
    } else {
        /* Virtual-hosted: itx-test.s3.test must reach the server, pinned, no DNS. */
        snprintf(endpoint, sizeof endpoint, "http://s3.test:%u", port);
        snprintf(res, sizeof res, "itx-test.s3.test:%u:127.0.0.1", port);
        resolve[0] = res;
        c.resolve = resolve;
        c.n_resolve = 1;
    }
    c.endpoint = endpoint;
    itx_diag_init(d);
    if (itx_store_open(&c, &s, d) != ITX_OK)
        return NULL;
    return s;
}

static void
test_against_s3rver(struct node_proc *srv, bool path_style)
{
    struct itx_store *s;
    struct itx_diag d;
    static const char img[] = "\x89PNG\r\n\x1a\n not really a png but binary \x00\x01\x02";
    uint8_t *data = NULL;
    size_t len = 0, size = 0;
    bool exists = true;
    char *url = NULL, body[256], name[64];
    long code;

    s = open_s3(srv->port, path_style, "S3RVER", &d);
    CHECK_MSG(s != NULL, "%s", d.msg);
    if (!s)
        return;
    snprintf(name, sizeof name, "%s/ab/cd/result.png", path_style ? "path" : "vhost");
    CHECK(itx_store_head(s, name, &exists, &size, &d) == ITX_OK);
    CHECK(!exists);
    CHECK_MSG(itx_store_put(s, name, img, sizeof img - 1, "image/png", &d) == ITX_OK, "%s", d.msg);
    CHECK(itx_store_head(s, name, &exists, &size, &d) == ITX_OK);
    CHECK(exists);
    CHECK_INT(size, sizeof img - 1);
    CHECK(itx_store_get(s, name, &data, &len, &d) == ITX_OK);
    CHECK_INT(len, sizeof img - 1);
    CHECK(data && memcmp(data, img, len) == 0);
    itx_free(data);
    data = NULL;

    /* Create-only. */
    CHECK(itx_store_put(s, name, "other", 5, "image/png", &d) == ITX_ERR_CONFLICT);
    CHECK(strstr(d.msg, "already exists") != NULL);
    CHECK(itx_store_get(s, "path/none.png", &data, &len, &d) == ITX_ERR_NOT_FOUND);
    CHECK_MSG(strstr(d.msg, "NoSuchKey") != NULL, "%s", d.msg);

    /* Public URL, then a presigned URL that the verifying front end accepts. */
    CHECK(itx_store_url(s, name, 0, 0, &url, &d) == ITX_OK);
    CHECK(url && strstr(url, name) && !strstr(url, "X-Amz-Signature"));
    itx_free(url);
    url = NULL;
    if (path_style) {
        s->cfg.signed_urls = true;
        CHECK(itx_store_url(s, name, 600, 0, &url, &d) == ITX_OK);
        code = node_proc_http(srv->port, "GET", url, body, sizeof body);
        CHECK_MSG(code == 200, "presigned GET answered %ld: %s", code, body);
        CHECK(memcmp(body, img, 8) == 0);
        /* Tampering with the URL breaks the signature. */
        {
            char *p = strstr(url, "X-Amz-Expires=600");
            if (p) {
                p[15] = '9';
                code = node_proc_http(srv->port, "GET", url, body, sizeof body);
                CHECK_MSG(code == 403 && strstr(body, "SignatureDoesNotMatch"), "%ld %s", code,
                          body);
            }
        }
        itx_free(url);
        url = NULL;
    }
    itx_store_free(s);

    /* A wrong secret is refused by the server, and the error document reaches the user. */
    s = open_s3(srv->port, path_style, "not-the-secret", &d);
    CHECK(s != NULL);
    if (s) {
        CHECK(itx_store_put(s, "path/wrong.png", img, 4, "image/png", &d) == ITX_ERR_AUTH);
        CHECK_MSG(strstr(d.msg, "HTTP 403 SignatureDoesNotMatch") != NULL, "%s", d.msg);
        CHECK(itx_store_get(s, name, &data, &len, &d) == ITX_ERR_AUTH);
        itx_store_free(s);
    }
}

static void
test_retries(struct node_proc *srv)
{
    struct itx_diag d;
    struct itx_store *s = open_s3(srv->port, true, "S3RVER", &d);
    char out[256];

    if (!s) {
        CHECK(s != NULL);
        return;
    }
    itx_diag_init(&d);
    /* Two SlowDown answers, then success (max_retries is 3). */
    CHECK(node_proc_http(srv->port, "POST", "/__itx/fail?count=2&status=503&code=SlowDown", out,
                         sizeof out) == 200);
    CHECK_MSG(itx_store_put(s, "retry/a.png", "abc", 3, "image/png", &d) == ITX_OK, "%s", d.msg);
    /* 500 InternalError four times: retries exhausted, the last error is reported. */
    CHECK(node_proc_http(srv->port, "POST", "/__itx/fail?count=4&status=500&code=InternalError",
                         out, sizeof out) == 200);
    CHECK(itx_store_put(s, "retry/b.png", "abc", 3, "image/png", &d) == ITX_ERR_UPSTREAM);
    CHECK_MSG(strstr(d.msg, "HTTP 500 InternalError") != NULL, "%s", d.msg);
    /* Not retried: 403. */
    CHECK(node_proc_http(srv->port, "POST", "/__itx/fail?count=1&status=403&code=AccessDenied", out,
                         sizeof out) == 200);
    CHECK(itx_store_put(s, "retry/c.png", "abc", 3, "image/png", &d) == ITX_ERR_FORBIDDEN);
    CHECK(strstr(d.msg, "AccessDenied") != NULL);
    CHECK_MSG(itx_store_put(s, "retry/c.png", "abc", 3, "image/png", &d) == ITX_OK, "%s", d.msg);
    itx_store_free(s);
}

int
main(void)
{
    struct node_proc srv = {0};
    char dir[] = "/tmp/itx-s3rver-XXXXXX", script[1024];
    const char *src = getenv("ITX_SOURCE_DIR");
    const char *argv[4];

    test_sigv4_vectors();
    test_presign_format();
    test_error_parser();

    if (!mkdtemp(dir)) {
        CHECK(0);
        return check_summary();
    }
    snprintf(script, sizeof script, "%s/tests/store/s3rver-run.js", src ? src : ".");
    argv[0] = script;
    argv[1] = dir;
    argv[2] = "itx-test";
    argv[3] = NULL;
    if (node_proc_start(&srv, argv) != 0) {
        fprintf(stderr, "cannot start s3rver (%s)\n", script);
        CHECK(0);
        return check_summary();
    }
    test_against_s3rver(&srv, true);
    test_against_s3rver(&srv, false);
    test_retries(&srv);
    node_proc_stop(&srv);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
    return check_summary();
}
