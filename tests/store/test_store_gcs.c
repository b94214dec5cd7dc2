/*
 * The GCS backend against tests/store/fake-gcs.js on 127.0.0.1, which implements the
 * documented token, metadata and JSON API endpoints and checks the bearer token, the JWT
 * (shape, claims, RS256 signature) and V4 signed URLs. Also the JSON parsers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "node_proc.h"
#include "store/store-impl.h"
#include "store/store.h"

/* A string literal and its length. */
#define L(s) s, sizeof(s) - 1

static struct node_proc srv;

static long
stat_of(const char *name)
{
    char body[1024], key[64];
    const char *p;

    if (node_proc_http(srv.port, "GET", "/__fake/stats", body, sizeof body) != 200)
        return -1;
    snprintf(key, sizeof key, "\"%s\":", name);
    p = strstr(body, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void
test_parsers(void)
{
    char *tok = NULL, msg[128];
    long exp = 0;
    size_t size = 0;
    struct gcs_key k = {0};
    struct itx_diag d;
    static const char good[] = "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,"
                               "\"token_type\":\"Bearer\"}";

    itx_diag_init(&d);
    CHECK(gcs_parse_token(good, sizeof good - 1, &tok, &exp, &d) == ITX_OK);
    CHECK_STR(tok ? tok : "", "ya29.abc");
    CHECK_INT(exp, 3599);
    itx_free(tok);
    CHECK(gcs_parse_token(L("{\"access_token\":\"a b\",\"expires_in\":1}"), &tok, &exp, &d) ==
          ITX_ERR_UPSTREAM);
    CHECK(gcs_parse_token(L("{\"access_token\":\"a\"}"), &tok, &exp, &d) == ITX_ERR_UPSTREAM);
    CHECK(strstr(d.msg, "expires_in") != NULL);
    CHECK(gcs_parse_token(L("[1]"), &tok, &exp, &d) == ITX_ERR_UPSTREAM);
    CHECK(gcs_parse_token(L("{\"access_token\":\"a\",\"access_token\":\"b\",\"expires_in\":5}"),
                          &tok, &exp, &d) == ITX_ERR_UPSTREAM);
    CHECK(gcs_parse_object(L("{\"size\":\"123\"}"), &size, &d) == ITX_OK);
    CHECK_INT(size, 123);
    CHECK(gcs_parse_object(L("{\"size\":123}"), &size, &d) == ITX_ERR_UPSTREAM);
    CHECK(gcs_parse_object(L("{\"size\":\"-1\"}"), &size, &d) == ITX_ERR_UPSTREAM);
    CHECK(gcs_parse_error(L("{\"error\":{\"code\":404,\"message\":\"No such object: b/x\"}}"), msg,
                          sizeof msg));
    CHECK_STR(msg, "No such object: b/x");
    CHECK(gcs_parse_error(L("{\"error\":\"invalid_grant\",\"error_description\":\"bad\"}"), msg,
                          sizeof msg));
    CHECK_STR(msg, "invalid_grant: bad");
    CHECK(!gcs_parse_error(L("<html>"), msg, sizeof msg));
    CHECK(gcs_parse_key(L("{\"type\":\"authorized_user\"}"), &k, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "service_account") != NULL);
    CHECK(gcs_parse_key(L("{\"type\":\"service_account\",\"client_email\":\"a@b\"}"), &k, &d) ==
          ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "private_key") != NULL);
    CHECK(gcs_parse_key(L("nope"), &k, &d) == ITX_ERR_INVALID);
    {
        struct itx_buf b;
        itx_buf_init(&b, 64);
        CHECK(store_base64url(&b, "\xfb\xff\xfe", 3) == ITX_OK);
        CHECK(store_base64url(&b, "ab", 2) == ITX_OK);
        CHECK_STR(b.data, "-__-YWI");
        itx_buf_release(&b);
    }
}

static struct itx_store *
open_gcs(const char *key_file, bool signed_urls, struct itx_diag *d)
{
    static char endpoint[128], meta[256];
    struct itx_store_config c;
    struct itx_store *s = NULL;

    itx_store_config_init(&c);
    c.kind = ITX_STORE_GCS;
    c.bucket = "itx-bucket";
    c.credentials_file = key_file;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", srv.port);
    snprintf(meta, sizeof meta,
             "http://127.0.0.1:%u/computeMetadata/v1/instance/service-accounts/default/token",
             srv.port);
    c.gcs_endpoint = endpoint;
    c.gcs_public_base = endpoint;
    c.metadata_url = meta;
    c.signed_urls = signed_urls;
    c.retry_backoff_ms = 10;
    itx_diag_init(d);
    if (itx_store_open(&c, &s, d) != ITX_OK)
        return NULL;
    return s;
}

static void
test_key_file(const char *key_file)
{
    struct itx_diag d;
    struct itx_store *s = open_gcs(key_file, true, &d);
    static const char img[] = "GIF89a\x01\x00\x01\x00 binary \x00\xff";
    uint8_t *data = NULL;
    size_t len = 0, size = 0;
    bool exists = true;
    char *url = NULL, body[256];
    long code, tokens0;

    CHECK_MSG(s != NULL, "%s", d.msg);
    if (!s)
        return;
    tokens0 = stat_of("token_requests");
    CHECK(itx_store_head(s, "ab/cd/x.gif", &exists, &size, &d) == ITX_OK);
    CHECK(!exists);
    CHECK_MSG(itx_store_put(s, "ab/cd/x.gif", img, sizeof img - 1, "image/gif", &d) == ITX_OK, "%s",
              d.msg);
    CHECK(itx_store_head(s, "ab/cd/x.gif", &exists, &size, &d) == ITX_OK);
    CHECK(exists);
    CHECK_INT(size, sizeof img - 1);
    CHECK(itx_store_get(s, "ab/cd/x.gif", &data, &len, &d) == ITX_OK);
    CHECK(len == sizeof img - 1 && data && memcmp(data, img, len) == 0);
    itx_free(data);
    CHECK(itx_store_put(s, "ab/cd/x.gif", "x", 1, "image/gif", &d) == ITX_ERR_CONFLICT);
    CHECK(itx_store_get(s, "ab/none.gif", &data, &len, &d) == ITX_ERR_NOT_FOUND);
    /* Six calls, one token: it is cached. */
    CHECK_INT(stat_of("token_requests") - tokens0, 1);

    /* Tokens revoked on the server: a 401, one new token, and the call succeeds. */
    CHECK(node_proc_http(srv.port, "POST", "/__fake/expire", body, sizeof body) == 200);
    CHECK_MSG(itx_store_put(s, "ab/cd/y.gif", img, 4, "image/gif", &d) == ITX_OK, "%s", d.msg);
    CHECK_INT(stat_of("token_requests") - tokens0, 2);

    /* 503 twice, then success (retries); 503 four times: reported. */
    CHECK(node_proc_http(srv.port, "POST", "/__fake/fail?count=2&status=503", body, sizeof body) ==
          200);
    CHECK_MSG(itx_store_put(s, "ab/cd/z.gif", img, 4, "image/gif", &d) == ITX_OK, "%s", d.msg);
    CHECK(node_proc_http(srv.port, "POST", "/__fake/fail?count=4&status=503", body, sizeof body) ==
          200);
    CHECK(itx_store_put(s, "ab/cd/w.gif", img, 4, "image/gif", &d) == ITX_ERR_UPSTREAM);
    CHECK_MSG(strstr(d.msg, "HTTP 503") && strstr(d.msg, "injected failure"), "%s", d.msg);

    /* V4 signed URL, verified by the fake with the public key; tampering is refused. */
    CHECK(itx_store_url(s, "ab/cd/x.gif", 600, 0, &url, &d) == ITX_OK);
    if (url) {
        code = node_proc_http(srv.port, "GET", url, body, sizeof body);
        CHECK_MSG(code == 200 && memcmp(body, "GIF89a", 6) == 0, "signed GET: %ld %s", code, body);
        char *p = strstr(url, "X-Goog-Expires=600");
        if (p) {
            p[15] = '7';
            code = node_proc_http(srv.port, "GET", url, body, sizeof body);
            CHECK_MSG(code == 403, "tampered signed GET: %ld", code);
        }
        itx_free(url);
    }
    CHECK_INT(stat_of("signed_ok"), 1);
    CHECK_INT(stat_of("signed_refused"), 1);
    itx_store_free(s);
}

struct worker {
    struct itx_store *s;
    int id;
    enum itx_status st;
};

static void *
worker_put(void *arg)
{
    struct worker *w = arg;
    char name[64];

    snprintf(name, sizeof name, "threads/%d.png", w->id);
    w->st = itx_store_put(w->s, name, "png", 3, "image/png", NULL);
    return NULL;
}

/* Eight threads on one store with no cached token: one token fetch serves them all. */
static void
test_threads(const char *key_file)
{
    struct itx_diag d;
    struct itx_store *s = open_gcs(key_file, false, &d);
    struct worker w[8];
    pthread_t th[8];
    long tokens0 = stat_of("token_requests");

    CHECK(s != NULL);
    if (!s)
        return;
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){s, i, ITX_OK};
        pthread_create(&th[i], NULL, worker_put, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(w[i].st, ITX_OK);
    }
    CHECK_INT(stat_of("token_requests") - tokens0, 1);
    itx_store_free(s);
}

static void
test_bad_key(const char *bad_key_file)
{
    struct itx_diag d;
    struct itx_store *s = open_gcs(bad_key_file, false, &d);
    long refused0 = stat_of("jwt_refused");

    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(itx_store_put(s, "bad/x.png", "x", 1, "image/png", &d) == ITX_ERR_AUTH);
    CHECK_MSG(strstr(d.msg, "invalid_grant") && strstr(d.msg, "Invalid JWT Signature"), "%s",
              d.msg);
    CHECK_INT(stat_of("jwt_refused") - refused0, 1);
    itx_store_free(s);
}

static void
test_metadata(void)
{
    struct itx_diag d;
    struct itx_store *s = open_gcs(NULL, false, &d);
    long meta0 = stat_of("metadata_requests");
    bool exists = false;
    char *url = NULL;

    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_MSG(itx_store_put(s, "meta/x.png", "png", 3, "image/png", &d) == ITX_OK, "%s", d.msg);
    CHECK(itx_store_head(s, "meta/x.png", &exists, NULL, &d) == ITX_OK);
    CHECK(exists);
    CHECK_INT(stat_of("metadata_requests") - meta0, 1);
    CHECK(itx_store_url(s, "meta/x.png", 0, 0, &url, &d) == ITX_OK);
    CHECK(url && strstr(url, "/itx-bucket/meta/x.png") != NULL);
    itx_free(url);
    url = NULL;
    s->cfg.signed_urls = true;
    CHECK(itx_store_url(s, "meta/x.png", 0, 0, &url, &d) == ITX_ERR_UNSUPPORTED);
    CHECK(strstr(d.msg, "key file") != NULL);
    itx_store_free(s);

    /* Without a reachable metadata server: a clear upstream error. */
    {
        struct itx_store_config c;
        itx_store_config_init(&c);
        c.kind = ITX_STORE_GCS;
        c.bucket = "itx-bucket";
        c.metadata_url = "http://127.0.0.1:1/token";
        c.gcs_endpoint = "http://127.0.0.1:1";
        c.max_retries = 0;
        CHECK(itx_store_open(&c, &s, &d) == ITX_OK);
        CHECK(itx_store_put(s, "x", "x", 1, NULL, &d) == ITX_ERR_UPSTREAM);
        CHECK_MSG(strstr(d.msg, "cannot get a gcs token") != NULL, "%s", d.msg);
        itx_store_free(s);
    }
}

int
main(void)
{
    char dir[] = "/tmp/itx-gcs-XXXXXX", script[1024], key[256], bad[256], cmd[300];
    const char *src = getenv("ITX_SOURCE_DIR");
    const char *argv[5];

    test_parsers();
    if (!mkdtemp(dir)) {
        CHECK(0);
        return check_summary();
    }
    snprintf(script, sizeof script, "%s/tests/store/fake-gcs.js", src ? src : ".");
    snprintf(key, sizeof key, "%s/key.json", dir);
    snprintf(bad, sizeof bad, "%s/bad-key.json", dir);
    argv[0] = script;
    argv[1] = key;
    argv[2] = bad;
    argv[3] = "itx-bucket";
    argv[4] = NULL;
    if (node_proc_start(&srv, argv) != 0) {
        fprintf(stderr, "cannot start %s\n", script);
        CHECK(0);
        return check_summary();
    }
    test_key_file(key);
    test_threads(key);
    test_bad_key(bad);
    test_metadata();
    node_proc_stop(&srv);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_summary();
}
