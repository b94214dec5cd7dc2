/*
 * Integration tests of the server over real HTTP on 127.0.0.1: tests/server/test-server
 * (the server library with a test pipeline) in child processes with ephemeral ports.
 * argv[1] is the test-server binary.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"

#define KEY1 "key-one-0123456789abcdef"
#define KEY2 "key-two-0123456789abcdef"
#define AUTH1 "Authorization: Bearer " KEY1
#define AUTH2 "Authorization: Bearer " KEY2
#define JSON_CT "Content-Type: application/json"

static const char *bin;
static char tmp[256];
static char gate[300], io_gate[300], warm_gate[300], down_file[300], files_dir[300];

static const char *const jh[] = {AUTH1, JSON_CT, NULL};

/* A PNG signature and a few bytes: enough for the type sniffing the parser does. */
static const char png_b64[] = "iVBORw0KGgoAAAANSUhEUg=="; /* 89 50 4e 47 0d 0a 1a 0a + IHDR */

static json_t *
parse(const struct resp *r)
{
    return json_loads(r->body, 0, NULL);
}

static const char *
jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Checks a problem document: status, content type, code, and that detail contains want. */
static void
check_problem(const struct resp *r, long status, const char *code, const char *want)
{
    char ct[128] = "";
    json_t *j = parse(r);

    CHECK_MSG(r->status == status, "status %ld, want %ld (body %s)", r->status, status, r->body);
    resp_header(r, "Content-Type", ct, sizeof(ct));
    CHECK_STR(ct, "application/problem+json");
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(jstr(j, "code"), code);
        CHECK_INT(json_integer_value(json_object_get(j, "status")), status);
        CHECK_MSG(strstr(jstr(j, "detail"), want) != NULL, "detail '%s' lacks '%s'",
                  jstr(j, "detail"), want);
        CHECK(jstr(j, "request_id")[0] != '\0');
        CHECK(jstr(j, "title")[0] != '\0');
    }
    json_decref(j);
}

static long
post_json(unsigned port, const char *path, const char *body, struct resp *r)
{
    http(port, "POST", path, jh, body, strlen(body), r);
    return r->status;
}

/* ---- threads issuing one request each -------------------------------------------- */

struct call {
    unsigned port;
    const char *body;
    struct resp r;
    pthread_t th;
};

static void *
call_main(void *arg)
{
    struct call *c = arg;
    post_json(c->port, "/v1/translate", c->body, &c->r);
    return NULL;
}

static void
call_start(struct call *c, unsigned port, const char *body)
{
    memset(c, 0, sizeof(*c));
    c->port = port;
    c->body = body;
    pthread_create(&c->th, NULL, call_main, c);
}

static long
call_join(struct call *c)
{
    long st;
    pthread_join(c->th, NULL);
    st = c->r.status;
    return st;
}

/* ---- server A: everything but deadlines and shutdown ------------------------------- */

static void
t_startup(struct srv *s)
{
    struct resp r;

    /* The warm-up waits for its gate: not ready, but alive. */
    http(s->port, "GET", "/readyz", NULL, NULL, 0, &r);
    check_problem(&r, 503, "not_ready", "warming up");
    resp_free(&r);
    http(s->port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"status\":\"ok\"}");
    resp_free(&r);
    {
        char v[80];
        const char *h[] = {"X-Request-Id: bad id with spaces", NULL};
        http(s->port, "HEAD", "/healthz", h, NULL, 0, &r);
        CHECK_INT(r.status, 200);
        CHECK(resp_header(&r, "Cache-Control", v, sizeof(v)) && strcmp(v, "no-cache") == 0);
        /* an unusable X-Request-Id is replaced by a generated one */
        CHECK(resp_header(&r, "X-Request-Id", v, sizeof(v)) && strlen(v) == 32);
        resp_free(&r);
        http(s->port, "POST", "/healthz", jh, "{}", 2, &r);
        check_problem(&r, 405, "method_not_allowed", "GET");
        CHECK(resp_header(&r, "Allow", v, sizeof(v)) && strcmp(v, "GET, HEAD") == 0);
        resp_free(&r);
    }
    write_file(warm_gate, "", 0);
    CHECK(metric_wait(s->port, "itx_stage_duration_seconds_count{stage=\"warmup\"}", 1, 10000));
    for (int i = 0; i < 1000; i++) {
        http(s->port, "GET", "/readyz", NULL, NULL, 0, &r);
        if (r.status == 200)
            break;
        resp_free(&r);
        ms_sleep(10);
    }
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

static long
readyz_until(struct srv *s, long want, struct resp *r)
{
    for (int i = 0; i < 1000; i++) {
        http(s->port, "GET", "/readyz", NULL, NULL, 0, r);
        if (r->status == want)
            return want;
        resp_free(r);
        ms_sleep(10);
    }
    http(s->port, "GET", "/readyz", NULL, NULL, 0, r);
    return r->status;
}

static void
t_ready_checks(struct srv *s)
{
    struct resp r;

    write_file(down_file, "", 0);
    CHECK_INT(readyz_until(s, 503, &r), 503);
    check_problem(&r, 503, "not_ready", "check 'dependency' failed: the test dependency is down");
    resp_free(&r);
    unlink(down_file);
    CHECK_INT(readyz_until(s, 200, &r), 200);
    resp_free(&r);
}

static void
t_openapi(struct srv *s)
{
    struct resp r;
    json_t *j, *paths;

    http(s->port, "GET", "/openapi.json", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    j = parse(&r);
    CHECK(j != NULL);
    paths = json_object_get(j, "paths");
    CHECK_STR(jstr(j, "openapi"), "3.1.0");
    CHECK(json_object_get(paths, "/v1/translate") != NULL);
    CHECK(json_object_get(paths, "/v1/jobs") != NULL);
    CHECK(json_object_get(paths, "/v1/jobs/{id}") != NULL);
    CHECK(json_object_get(paths, "/v1/jobs/{id}:cancel") != NULL);
    CHECK(json_object_get(paths, "/v1/render") != NULL);
    CHECK(json_object_get(json_object_get(json_object_get(j, "components"), "schemas"),
                          "Problem") != NULL);
    json_decref(j);
    resp_free(&r);
}

static void
t_files(struct srv *s)
{
    char path[512], v[128], etag[128] = "";
    struct resp r;
    static const char *const bad[] = {
        "/files/../CMakeLists.txt",
        "/files/%2e%2e/secret.txt",
        "/files/sub/../a.png",
        "/files/sub/%2e%2e/%2e%2e/secret.txt",
        "/files/link.png",
        "/files/linkdir/b.json",
        "/files/.hidden",
        "/files/a.png%00.txt",
        "/files//a.png",
        "/files/sub",
        "/files/sub/",
        "/files/",
        "/files/nope.png",
        "/files/a.png/x",
        "/files/%2fetc%2fpasswd",
        "/files/..%2fsecret.txt",
        "/files/fifo",
    };

    http(s->port, "GET", "/files/a.png", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body_len, 12);
    CHECK(memcmp(r.body, "\x89PNG\r\n\x1a\nabcd", 12) == 0);
    CHECK(resp_header(&r, "Content-Type", v, sizeof(v)) && strcmp(v, "image/png") == 0);
    CHECK(resp_header(&r, "Content-Length", v, sizeof(v)) && strcmp(v, "12") == 0);
    CHECK(resp_header(&r, "ETag", etag, sizeof(etag)));
    CHECK(resp_header(&r, "Last-Modified", v, sizeof(v)) && strstr(v, "GMT"));
    resp_free(&r);

    http(s->port, "HEAD", "/files/sub/b.json", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body_len, 0);
    CHECK(resp_header(&r, "Content-Type", v, sizeof(v)) && strcmp(v, "application/json") == 0);
    CHECK(resp_header(&r, "Content-Length", v, sizeof(v)) && strcmp(v, "2") == 0);
    resp_free(&r);

    {
        char inm[200];
        const char *h[] = {inm, NULL};
        snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
        http(s->port, "GET", "/files/a.png", h, NULL, 0, &r);
        CHECK_INT(r.status, 304);
        CHECK_INT(r.body_len, 0);
        resp_free(&r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_ex(s->port, "GET", bad[i], NULL, NULL, 0, false, true, &r);
        CHECK_MSG(r.status == 404, "%s gave %ld", bad[i], r.status);
        CHECK_MSG(!strstr(r.body, "top secret"), "%s leaked the file", bad[i]);
        resp_free(&r);
    }
    http(s->port, "POST", "/files/a.png", jh, "{}", 2, &r);
    CHECK_INT(r.status, 405);
    resp_free(&r);
    snprintf(path, sizeof(path), "%s/secret.txt", tmp);
    CHECK(access(path, F_OK) == 0); /* the target of the attempts exists */
}

static void
t_auth(struct srv *s)
{
    static const char body[] = "{\"images\":[{\"url\":\"https://example.com/a.png\"}],"
                               "\"target_lang\":\"en\"}";
    const char *none[] = {JSON_CT, NULL};
    const char *wrong[] = {"Authorization: Bearer key-one-0123456789abcdeX", JSON_CT, NULL};
    const char *scheme[] = {"Authorization: Basic " KEY1, JSON_CT, NULL};
    const char *two[] = {AUTH2, JSON_CT, NULL};
    struct resp r;
    char v[128];

    http(s->port, "POST", "/v1/translate", none, body, strlen(body), &r);
    check_problem(&r, 401, "unauthorized", "API key");
    CHECK(resp_header(&r, "WWW-Authenticate", v, sizeof(v)) && strstr(v, "Bearer"));
    resp_free(&r);
    http(s->port, "POST", "/v1/translate", wrong, body, strlen(body), &r);
    check_problem(&r, 401, "unauthorized", "API key");
    resp_free(&r);
    http(s->port, "POST", "/v1/translate", scheme, body, strlen(body), &r);
    CHECK_INT(r.status, 401);
    resp_free(&r);
    http(s->port, "GET", "/v1/jobs/abc", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 401);
    resp_free(&r);
    /* Both keys work (rotation). */
    CHECK_INT(post_json(s->port, "/v1/translate", body, &r), 200);
    resp_free(&r);
    http(s->port, "POST", "/v1/translate", two, body, strlen(body), &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

static void
t_translate(struct srv *s)
{
    char body[512];
    struct resp r;
    json_t *j, *imgs;

    snprintf(body, sizeof(body),
             "{\"images\":[{\"url\":\"https://example.com/a.png\",\"group\":\"p1\"},"
             "{\"data\":\"%s\",\"name\":\"b.png\"}],\"source_lang\":\"zh-Hans\","
             "\"target_lang\":\"en\",\"provider\":\"echo\","
             "\"glossary\":[{\"source\":\"包邮\",\"target\":\"Free shipping\"},"
             "{\"source\":\"小米\"}],"
             "\"options\":{\"output_format\":\"png\",\"jpeg_quality\":80,\"qa\":false}}",
             png_b64);
    CHECK_INT(post_json(s->port, "/v1/translate", body, &r), 200);
    j = parse(&r);
    imgs = json_object_get(j, "images");
    CHECK_INT(json_integer_value(json_object_get(j, "n_images")), 2);
    CHECK_INT(json_integer_value(json_object_get(j, "n_glossary")), 2);
    CHECK_STR(jstr(j, "source_lang"), "zh-Hans");
    CHECK_STR(jstr(j, "target_lang"), "en");
    CHECK_STR(jstr(json_array_get(imgs, 0), "url"), "https://example.com/a.png");
    CHECK_STR(jstr(json_array_get(imgs, 1), "type"), "image/png");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(imgs, 1), "size")), 16);
    CHECK_STR(jstr(json_array_get(imgs, 1), "name"), "b.png");
    json_decref(j);
    resp_free(&r);

    /* multipart: a JSON part with one URL image, then two uploaded files */
    {
        static const char mp[] =
            "--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\n"
            "Content-Type: application/json\r\n\r\n"
            "{\"images\":[{\"url\":\"http://example.com/x.jpg\"}],\"target_lang\":\"de\"}\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"one.gif\"\r\n"
            "Content-Type: image/gif\r\n\r\nGIF89a-----\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"two.jpg\"\r\n"
            "\r\n\xff\xd8\xff\xe0jpegbytes\r\n"
            "--XyZ--\r\n";
        const char *h[] = {AUTH1, "Content-Type: multipart/form-data; boundary=XyZ", NULL};
        http(s->port, "POST", "/v1/translate", h, mp, sizeof(mp) - 1, &r);
        CHECK_INT(r.status, 200);
        j = parse(&r);
        imgs = json_object_get(j, "images");
        CHECK_INT(json_integer_value(json_object_get(j, "n_images")), 3);
        CHECK_STR(jstr(j, "target_lang"), "de");
        CHECK_STR(jstr(json_array_get(imgs, 1), "type"), "image/gif");
        CHECK_STR(jstr(json_array_get(imgs, 1), "name"), "one.gif");
        CHECK_INT(json_integer_value(json_object_get(json_array_get(imgs, 1), "size")), 11);
        CHECK_STR(jstr(json_array_get(imgs, 2), "type"), "image/jpeg");
        json_decref(j);
        resp_free(&r);
    }
}

static void
t_errors(struct srv *s)
{
    static const struct {
        const char *body;
        long status;
        const char *code, *detail;
    } cases[] = {
        {"{\"images\":[", 400, "invalid", "invalid JSON at line 1"},
        {"", 400, "invalid", "empty"},
        {"[1,2]", 400, "invalid", "must be a JSON object"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":5}", 400, "invalid",
         "'target_lang' must be a string, not a number"},
        {"{\"images\":{},\"target_lang\":\"en\"}", 400, "invalid", "'images' must be an array"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":\"en\",\"colour\":1}",
         400, "invalid", "unknown member 'colour'"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\",\"size\":3}],\"target_lang\":\"en\"}", 400,
         "invalid", "unknown member 'size' in images[0]"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":\"en\","
         "\"options\":{\"qa\":\"yes\"}}",
         400, "invalid", "'options.qa' must be a boolean"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}]}", 400, "invalid",
         "'target_lang' is required"},
        {"{\"images\":[],\"target_lang\":\"en\"}", 400, "invalid", "must not be empty"},
        {"{\"images\":[{\"url\":\"ftp://e.com/a.png\"}],\"target_lang\":\"en\"}", 400, "invalid",
         "'images[0].url' must be an http or https URL"},
        {"{\"images\":[{\"url\":\"https://e.com/1\"},{\"url\":\"https://e.com/2\"},"
         "{\"url\":\"https://e.com/3\"},{\"url\":\"https://e.com/4\"}],\"target_lang\":\"en\"}",
         413, "too_large", "too many images: 4, the limit is 3"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"},{\"data\":\"iVBORw0K*goAAAANSUhEUg==\"}"
         "],\"target_lang\":\"en\"}",
         400, "invalid", "image 1: invalid base64 in 'images[1].data' at offset 8"},
        {"{\"images\":[{\"data\":\"aGVsbG8gd29ybGQ=\"}],\"target_lang\":\"en\"}", 415,
         "unsupported", "image 0 is not a PNG, JPEG, WebP or GIF picture"},
        {"{\"images\":[{\"url\":\"https://e.com/a\",\"data\":\"aGVsbG8gd29ybGQ=\"}],"
         "\"target_lang\":\"en\"}",
         400, "invalid", "exactly one of 'url' or 'data'"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":\"en\","
         "\"provider\":\"fail-upstream\"}",
         502, "upstream", "the test pipeline failed as asked"},
        {"{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":\"en\","
         "\"webhook_url\":\"https://e.com/h\"}",
         400, "invalid", "unknown member 'webhook_url'"},
    };
    struct resp r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        post_json(s->port, "/v1/translate", cases[i].body, &r);
        check_problem(&r, cases[i].status, cases[i].code, cases[i].detail);
        resp_free(&r);
    }
    /* An image over the per-image limit (2048 bytes decoded). */
    {
        size_t n = 4000;
        char *big = malloc(n + 100), *b64 = malloc(n + 1);
        memcpy(b64, png_b64, 12); /* the PNG signature, then filler */
        memset(b64 + 12, 'A', n - 12);
        b64[n] = '\0';
        snprintf(big, n + 100, "{\"images\":[{\"data\":\"%s\"}],\"target_lang\":\"en\"}", b64);
        post_json(s->port, "/v1/translate", big, &r);
        check_problem(&r, 413, "too_large", "image 0 is over the 2048-byte image limit");
        resp_free(&r);
        free(big);
        free(b64);
    }
    /* Bodies over ITX_MAX_JSON_BYTES (8192): announced, and streamed without a length. */
    {
        size_t n = 20000;
        char *big = malloc(n + 1);
        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        big[n] = '\0';
        post_json(s->port, "/v1/translate", big, &r);
        check_problem(&r, 413, "too_large", "the limit is 8192");
        resp_free(&r);
        http_ex(s->port, "POST", "/v1/translate", jh, big, n, true, false, &r);
        check_problem(&r, 413, "too_large", "over the 8192-byte limit");
        resp_free(&r);
        free(big);
    }
    {
        const char *h[] = {AUTH1, "Content-Type: text/plain", NULL};
        http(s->port, "POST", "/v1/translate", h, "{}", 2, &r);
        check_problem(&r, 415, "unsupported_media_type", "application/json");
        resp_free(&r);
    }
    {
        const char *h[] = {AUTH1, "Content-Type: multipart/form-data", NULL};
        http(s->port, "POST", "/v1/translate", h, "--x\r\n", 5, &r);
        check_problem(&r, 400, "invalid", "boundary");
        resp_free(&r);
    }
    {
        static const char mp[] = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
                                 "x\r\n--B--\r\n";
        const char *h[] = {AUTH1, "Content-Type: multipart/form-data; boundary=B", NULL};
        http(s->port, "POST", "/v1/translate", h, mp, sizeof(mp) - 1, &r);
        check_problem(&r, 400, "invalid", "unknown multipart part 'file'");
        resp_free(&r);
    }
    http(s->port, "GET", "/v1/translate", jh, NULL, 0, &r);
    check_problem(&r, 405, "method_not_allowed", "POST");
    resp_free(&r);
    http(s->port, "GET", "/nope", NULL, NULL, 0, &r);
    check_problem(&r, 404, "not_found", "no such route");
    resp_free(&r);
    /* ... and the server still serves. */
    http(s->port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(post_json(s->port, "/v1/translate",
                        "{\"images\":[{\"url\":\"https://e.com/a.png\"}],\"target_lang\":\"en\"}",
                        &r),
              200);
    resp_free(&r);
}

static void
t_jobs(struct srv *s)
{
    static const char body[] =
        "{\"images\":[{\"url\":\"https://e.com/1\"},{\"url\":\"https://e.com/2\"}],"
        "\"target_lang\":\"en\",\"webhook_url\":\"https://hooks.example/x\"}";
    const char *h[] = {AUTH1, JSON_CT, "Idempotency-Key: 7c1b7a2e-batch", NULL};
    struct resp r;
    char v[128];
    json_t *j;

    http(s->port, "POST", "/v1/jobs", h, body, strlen(body), &r);
    CHECK_INT(r.status, 202);
    CHECK(resp_header(&r, "Location", v, sizeof(v)) && strncmp(v, "/v1/jobs/job-", 13) == 0);
    j = parse(&r);
    CHECK_STR(jstr(j, "idempotency_key"), "7c1b7a2e-batch");
    CHECK_INT(json_integer_value(json_object_get(j, "n_images")), 2);
    json_decref(j);
    resp_free(&r);
    {
        const char *bad[] = {AUTH1, JSON_CT, "Idempotency-Key: has space", NULL};
        http(s->port, "POST", "/v1/jobs", bad, body, strlen(body), &r);
        check_problem(&r, 400, "invalid", "Idempotency-Key");
        resp_free(&r);
    }
    {
        char many[1024] = "{\"images\":[";
        for (int i = 0; i < 6; i++)
            snprintf(many + strlen(many), sizeof(many) - strlen(many),
                     "%s{\"url\":\"https://e.com/%d\"}", i ? "," : "", i);
        strcat(many, "],\"target_lang\":\"en\"}");
        post_json(s->port, "/v1/jobs", many, &r);
        check_problem(&r, 413, "too_large", "too many images: 6, the limit is 5");
        resp_free(&r);
    }
    http(s->port, "GET", "/v1/jobs/abc-1", jh, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "\"state\":\"queued\"") != NULL);
    resp_free(&r);
    http(s->port, "GET", "/v1/jobs/missing", jh, NULL, 0, &r);
    check_problem(&r, 404, "not_found", "no job 'missing'");
    resp_free(&r);
    http(s->port, "POST", "/v1/jobs/abc-1:cancel", jh, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "\"state\":\"cancelled\"") != NULL);
    resp_free(&r);
    http(s->port, "GET", "/v1/jobs/a%20b", jh, NULL, 0, &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

static void
t_concurrency(struct srv *s)
{
    static const char body[] = "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\","
                               "\"provider\":\"sleep-150\"}";
    struct call c[4];
    struct resp r;
    double before =
        metric_now(s->port, "itx_http_requests_total{route=\"translate\",code=\"200\"}");

    for (int i = 0; i < 4; i++)
        call_start(&c[i], s->port, body);
    /* Health stays answerable while the workers are busy. */
    http(s->port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(call_join(&c[i]), 200);
        CHECK_STR(c[i].r.body, "{\"slept_ms\":150}");
        resp_free(&c[i].r);
    }
    /* the request counter moves after the answer is sent: wait for it */
    CHECK_MSG(metric_wait(s->port, "itx_http_requests_total{route=\"translate\",code=\"200\"}",
                          before + 4, 5000),
              "translate 200 count is %g, expected %g",
              metric_now(s->port, "itx_http_requests_total{route=\"translate\",code=\"200\"}"),
              before + 4);
}

static void
t_overload(struct srv *s)
{
    static const char body[] = "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\","
                               "\"provider\":\"gate\"}";
    struct call c[6];
    struct resp r;
    char v[32];

    unlink(gate);
    /* Two running (both workers), then four waiting (the whole queue). */
    for (int i = 0; i < 2; i++)
        call_start(&c[i], s->port, body);
    CHECK(metric_wait(s->port, "itx_workers_busy", 2, 10000));
    for (int i = 2; i < 6; i++)
        call_start(&c[i], s->port, body);
    CHECK(metric_wait(s->port, "itx_queue_depth", 4, 10000));
    post_json(s->port, "/v1/translate", body, &r);
    check_problem(&r, 429, "overloaded", "queue is full");
    CHECK(resp_header(&r, "Retry-After", v, sizeof(v)) && strcmp(v, "1") == 0);
    resp_free(&r);
    CHECK_INT(metric_now(s->port, "itx_work_rejected_total{reason=\"queue_full\"}"), 1);
    /* Health is not queued behind work. */
    http(s->port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    write_file(gate, "", 0);
    for (int i = 0; i < 6; i++) {
        CHECK_INT(call_join(&c[i]), 200);
        resp_free(&c[i].r);
    }
    unlink(gate);
    CHECK(metric_wait(s->port, "itx_queue_depth", 0, 5000));
    CHECK(metric_wait(s->port, "itx_workers_busy", 0, 5000));
}

static void
t_io_handoff(struct srv *s)
{
    static const char wait_body[] = "{\"images\":[{\"url\":\"https://e.com/a\"}],"
                                    "\"target_lang\":\"en\",\"provider\":\"io-gate\"}";
    struct call c[2];
    struct resp r;

    unlink(io_gate);
    for (int i = 0; i < 2; i++)
        call_start(&c[i], s->port, wait_body);
    CHECK(metric_wait(s->port, "itx_requests_in_flight", 2, 10000));
    CHECK(metric_wait(s->port, "itx_workers_busy", 0, 10000));
    /* Both requests wait on I/O but no worker is held: other work still runs. */
    CHECK_INT(post_json(s->port, "/v1/translate",
                        "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\"}", &r),
              200);
    resp_free(&r);
    write_file(io_gate, "", 0);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(call_join(&c[i]), 200);
        CHECK_STR(c[i].r.body, "{\"io\":\"done\"}");
        resp_free(&c[i].r);
    }
    unlink(io_gate);
}

static void
t_logs(struct srv *s)
{
    const char *h[] = {AUTH1,
                       JSON_CT,
                       "X-Request-Id: test-req-42",
                       "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "User-Agent: itx-test/1",
                       NULL};
    static const char body[] =
        "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\"}";
    struct resp r;
    char v[64], *log, *line, *save = NULL;
    int lines = 0, bad = 0, found = 0;

    http(s->port, "POST", "/v1/translate", h, body, strlen(body), &r);
    CHECK_INT(r.status, 200);
    CHECK(resp_header(&r, "X-Request-Id", v, sizeof(v)) && strcmp(v, "test-req-42") == 0);
    resp_free(&r);
    ms_sleep(100); /* the access log line is written when the connection completes */
    log = srv_log(s);
    CHECK(strstr(log, KEY1) == NULL);
    CHECK(strstr(log, KEY2) == NULL);
    for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL), *hr;
        lines++;
        if (!j || !json_object_get(j, "severity") || !json_object_get(j, "time") ||
            !json_object_get(j, "message")) {
            bad++;
            fprintf(stderr, "bad log line: %s\n", line);
            json_decref(j);
            continue;
        }
        hr = json_object_get(j, "httpRequest");
        if (strcmp(jstr(j, "request_id"), "test-req-42") == 0 && !hr) {
            /* the pipeline's progress line for the same request */
            found++;
            CHECK_STR(jstr(j, "stage"), "echo");
            CHECK_STR(jstr(j, "message"), "echoed 1 images");
            CHECK_STR(jstr(j, "logging.googleapis.com/trace"),
                      "projects/proj-x/traces/4bf92f3577b34da6a3ce929d0e0e4736");
        } else if (strcmp(jstr(j, "request_id"), "test-req-42") == 0) {
            found++;
            CHECK_STR(jstr(j, "severity"), "INFO");
            CHECK_STR(jstr(j, "logging.googleapis.com/trace"),
                      "projects/proj-x/traces/4bf92f3577b34da6a3ce929d0e0e4736");
            CHECK_STR(jstr(j, "logging.googleapis.com/spanId"), "00f067aa0ba902b7");
            CHECK(json_is_true(json_object_get(j, "logging.googleapis.com/trace_sampled")));
            CHECK_STR(jstr(hr, "requestMethod"), "POST");
            CHECK_STR(jstr(hr, "requestUrl"), "/v1/translate");
            CHECK_INT(json_integer_value(json_object_get(hr, "status")), 200);
            CHECK_STR(jstr(hr, "userAgent"), "itx-test/1");
            CHECK_STR(jstr(hr, "remoteIp"), "127.0.0.1");
            CHECK(strstr(jstr(hr, "latency"), "s") != NULL);
            CHECK(jstr(hr, "responseSize")[0] != '\0');
        }
        json_decref(j);
    }
    CHECK(lines > 10);
    CHECK_INT(bad, 0);
    CHECK_INT(found, 2);
    free(log);
    /* X-Cloud-Trace-Context is read too. */
    {
        const char *h2[] = {"X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1",
                            "X-Request-Id: test-req-43", NULL};
        http(s->port, "GET", "/nope", h2, NULL, 0, &r);
        resp_free(&r);
        ms_sleep(100);
        log = srv_log(s);
        line = strstr(log, "\"request_id\":\"test-req-43\"");
        CHECK(line != NULL);
        if (line)
            CHECK(strstr(line, "projects/proj-x/traces/105445aa7843bc8bf206b12000100000") != NULL);
        free(log);
    }
}

static void
t_metrics(struct srv *s)
{
    struct resp r;
    char *save = NULL, *line, *text;
    int samples = 0, bad = 0;
    char v[128];

    http(s->port, "GET", "/metrics", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(resp_header(&r, "Content-Type", v, sizeof(v)) && strstr(v, "version=0.0.4"));
    text = strdup(r.body);
    /* Every sample belongs to a family announced with HELP and TYPE before it. */
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        size_t n = strcspn(line, "{ ");
        if (line[0] == '#') {
            CHECK(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            continue;
        }
        samples++;
        snprintf(name, sizeof(name), "%.*s", (int)n, line);
        {
            char type_line[200], base[128];
            snprintf(base, sizeof(base), "%s", name);
            for (const char *suf = NULL; !suf;) {
                static const char *const sufs[] = {"_bucket", "_sum", "_count"};
                suf = "";
                for (int k = 0; k < 3; k++) {
                    size_t bl = strlen(base), sl = strlen(sufs[k]);
                    char cand[200];
                    if (bl > sl && strcmp(base + bl - sl, sufs[k]) == 0) {
                        snprintf(cand, sizeof(cand), "# TYPE %.*s histogram", (int)(bl - sl), base);
                        if (strstr(r.body, cand))
                            base[bl - sl] = '\0';
                    }
                }
            }
            snprintf(type_line, sizeof(type_line), "# TYPE %s ", base);
            if (!strstr(r.body, type_line)) {
                bad++;
                fprintf(stderr, "no TYPE for %s\n", line);
            }
        }
        {
            const char *sp = strrchr(line, ' ');
            char *end;
            if (!sp || (strtod(sp + 1, &end), *end != '\0' && strcmp(sp + 1, "+Inf") != 0)) {
                bad++;
                fprintf(stderr, "bad sample: %s\n", line);
            }
        }
    }
    free(text);
    CHECK(samples > 20);
    CHECK_INT(bad, 0);
    CHECK(strstr(r.body, "# TYPE itx_http_requests_total counter\n") != NULL);
    CHECK(strstr(r.body, "# TYPE itx_http_request_duration_seconds histogram\n") != NULL);
    CHECK(strstr(r.body, "# TYPE itx_stage_duration_seconds histogram\n") != NULL);
    CHECK(strstr(r.body, "# TYPE itx_queue_depth gauge\n") != NULL);
    CHECK_INT(metric(r.body, "itx_build_info{version=\"test\"}"), 1);
    CHECK_INT(metric(r.body, "itx_workers"), 2);
    /* What this test did: 4 + 6 + 2 + ... translate 200s; exactly one 429, two 401s ... */
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"translate\",code=\"429\"}"), 1);
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"translate\",code=\"401\"}"), 3);
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"translate\",code=\"415\"}"), 2);
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"job_get\",code=\"401\"}"), 1);
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"jobs\",code=\"202\"}"), 1);
    CHECK_INT(metric(r.body, "itx_http_requests_total{route=\"translate\",code=\"502\"}"), 1);
    /* Histogram counts equal the counter, and +Inf equals _count. */
    {
        double c = metric(r.body, "itx_http_requests_total{route=\"translate\",code=\"200\"}");
        CHECK(c >= 15);
        CHECK_INT(metric(r.body, "itx_http_request_duration_seconds_count{route=\"translate\","
                                 "code=\"200\"}"),
                  c);
        CHECK_INT(metric(r.body, "itx_http_request_duration_seconds_bucket{route=\"translate\","
                                 "code=\"200\",le=\"+Inf\"}"),
                  c);
        CHECK(metric(r.body, "itx_stage_duration_seconds_count{stage=\"queue\"}") >= c);
    }
    resp_free(&r);
}

static void
setup_files(void)
{
    char p[512];

    snprintf(files_dir, sizeof(files_dir), "%s/files", tmp);
    mkdir(files_dir, 0755);
    snprintf(p, sizeof(p), "%s/a.png", files_dir);
    write_file(p, "\x89PNG\r\n\x1a\nabcd", 12);
    snprintf(p, sizeof(p), "%s/sub", files_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/sub/b.json", files_dir);
    write_file(p, "{}", 2);
    snprintf(p, sizeof(p), "%s/.hidden", files_dir);
    write_file(p, "top secret", 10);
    snprintf(p, sizeof(p), "%s/secret.txt", tmp);
    write_file(p, "top secret", 10);
    {
        char target[512];
        snprintf(target, sizeof(target), "%s/secret.txt", tmp);
        snprintf(p, sizeof(p), "%s/link.png", files_dir);
        CHECK(symlink(target, p) == 0);
        snprintf(p, sizeof(p), "%s/linkdir", files_dir);
        CHECK(symlink(tmp, p) == 0);
        snprintf(p, sizeof(p), "%s/fifo", files_dir);
        CHECK(mkfifo(p, 0644) == 0);
    }
}

static void
server_a(void)
{
    struct srv s;
    char e_gate[320], e_io[320], e_warm[320], e_down[320], e_files[320];
    const char *argv[] = {bin, "--workers", "2", "--queue", "4", NULL};
    const char *env[] = {"ITX_API_KEYS=" KEY1 "," KEY2,
                         "ITX_READY_INTERVAL_MS=20",
                         "ITX_MAX_IMAGES=3",
                         "ITX_MAX_JOB_IMAGES=5",
                         "ITX_MAX_JSON_BYTES=8192",
                         "ITX_MAX_IMAGE_BYTES=2048",
                         "ITX_MAX_UPLOAD_BYTES=16384",
                         "GOOGLE_CLOUD_PROJECT=proj-x",
                         e_gate,
                         e_io,
                         e_warm,
                         e_down,
                         e_files,
                         NULL};

    snprintf(e_gate, sizeof(e_gate), "TEST_GATE=%s", gate);
    snprintf(e_io, sizeof(e_io), "TEST_IO_GATE=%s", io_gate);
    snprintf(e_warm, sizeof(e_warm), "TEST_WARMUP_GATE=%s", warm_gate);
    snprintf(e_down, sizeof(e_down), "TEST_DOWN_FILE=%s", down_file);
    snprintf(e_files, sizeof(e_files), "ITX_STORE_DIR=%s", files_dir);
    if (srv_start(&s, argv, env) != 0) {
        CHECK_MSG(0, "cannot start %s", bin);
        srv_free(&s);
        return;
    }
    t_startup(&s);
    t_ready_checks(&s);
    t_openapi(&s);
    t_files(&s);
    t_auth(&s);
    t_translate(&s);
    t_errors(&s);
    t_jobs(&s);
    t_concurrency(&s);
    t_overload(&s);
    t_io_handoff(&s);
    t_logs(&s);
    t_metrics(&s);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);
}

/* ---- slow clients ------------------------------------------------------------------ */

static int
connect_raw(unsigned port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Whether the server closes fd (EOF or reset) within ms, draining anything it sends. */
static bool
closed_within(int fd, long ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char buf[4096];
    for (long waited = 0; waited < ms; waited += 100) {
        if (poll(&p, 1, 100) > 0) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0)
                return true;
        }
    }
    return false;
}

/* A client that stops in the middle of its headers is cut off after the idle timeout; one
 * that drips its body a byte at a time is cut off after the read timeout, although each
 * byte keeps the connection from being idle. Generous bounds: this checks that they are
 * closed at all, not how fast. */
static void
t_slow_clients(struct srv *s)
{
    int fd = connect_raw(s->port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(send(fd, "GET /healthz HTTP/1.1\r\nHo", 25, MSG_NOSIGNAL) == 25);
        CHECK(closed_within(fd, 15000));
        close(fd);
    }
    fd = connect_raw(s->port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        static const char head[] = "POST /v1/translate HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: 1000\r\n\r\n";
        bool closed = false;
        CHECK(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(head) - 1));
        for (int i = 0; i < 200 && !closed; i++) {
            if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
                closed = true;
            else
                closed = closed_within(fd, 100);
        }
        CHECK_MSG(closed, "a body dripping for 20 s was not cut off");
        close(fd);
    }
}

/* ---- server B: deadlines ------------------------------------------------------------ */

static void
server_b(void)
{
    struct srv s;
    const char *argv[] = {
        bin, "--workers=1", "--deadline-ms=600", "--idle-timeout-s=1", "--read-timeout-ms=1000",
        NULL};
    const char *env[] = {"ITX_STORE_DIR=", NULL};
    struct resp r;

    if (srv_start(&s, argv, env) != 0) {
        CHECK_MSG(0, "cannot start %s", bin);
        srv_free(&s);
        return;
    }
    post_json(s.port, "/v1/translate",
              "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\","
              "\"provider\":\"spin\"}",
              &r);
    check_problem(&r, 504, "deadline_exceeded", "600 ms deadline");
    resp_free(&r);
    /* The only worker is free again: the spin saw its cancellation. */
    CHECK(metric_wait(s.port, "itx_workers_busy", 0, 5000));
    CHECK_INT(post_json(s.port, "/v1/translate",
                        "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\"}", &r),
              200);
    resp_free(&r);
    CHECK(metric_wait(s.port, "itx_work_cancelled_total{reason=\"deadline\"}", 1, 5000));
    CHECK(
        metric_wait(s.port, "itx_http_requests_total{route=\"translate\",code=\"504\"}", 1, 5000));
    /* No files directory configured: /files/ is not a route. */
    http(s.port, "GET", "/files/a.png", NULL, NULL, 0, &r);
    check_problem(&r, 404, "not_found", "no such route");
    resp_free(&r);
    t_slow_clients(&s);
    http(s.port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(srv_signal_wait(&s, SIGINT), 0);
    srv_free(&s);
}

/* ---- server C: SIGTERM with requests in flight ------------------------------------------- */

static void
server_c(void)
{
    struct srv s;
    const char *argv[] = {bin, "--workers", "2", "--grace-ms", "10000", NULL};
    struct call c[3];
    struct resp r;
    static const char slow[] = "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\","
                               "\"provider\":\"sleep-1500\"}";

    if (srv_start(&s, argv, NULL) != 0) {
        CHECK_MSG(0, "cannot start %s", bin);
        srv_free(&s);
        return;
    }
    for (int i = 0; i < 3; i++)
        call_start(&c[i], s.port, slow);
    CHECK(metric_wait(s.port, "itx_requests_in_flight", 3, 10000));
    kill(s.pid, SIGTERM);
    /* Readiness turns 503 at once; new work is refused; liveness stays. */
    CHECK_INT(readyz_until(&s, 503, &r), 503);
    check_problem(&r, 503, "draining", "shutting down");
    CHECK(resp_header(&r, "Retry-After", (char[16]){0}, 16));
    resp_free(&r);
    post_json(s.port, "/v1/translate",
              "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\"}", &r);
    check_problem(&r, 503, "draining", "shutting down");
    resp_free(&r);
    /* The requests in flight finish normally. */
    for (int i = 0; i < 3; i++) {
        CHECK_INT(call_join(&c[i]), 200);
        CHECK_STR(c[i].r.body, "{\"slept_ms\":1500}");
        resp_free(&c[i].r);
    }
    CHECK_INT(srv_signal_wait(&s, 0), 0); /* signal 0: just wait for the exit */
    {
        char *log = srv_log(&s);
        CHECK(strstr(log, "received SIGTERM") != NULL);
        CHECK(strstr(log, "(0 requests cut)") != NULL);
        free(log);
    }
    srv_free(&s);
    /* After exit, nothing listens. */
    CHECK(http(s.port, "GET", "/healthz", NULL, NULL, 0, &r) != 0);
    resp_free(&r);
}

/* ---- server D: the grace period runs out ----------------------------------------------- */

static void
server_d(void)
{
    struct srv s;
    const char *argv[] = {bin, "--workers", "1", "--grace-ms", "300", NULL};
    struct call c;

    if (srv_start(&s, argv, NULL) != 0) {
        CHECK_MSG(0, "cannot start %s", bin);
        srv_free(&s);
        return;
    }
    call_start(&c, s.port,
               "{\"images\":[{\"url\":\"https://e.com/a\"}],\"target_lang\":\"en\","
               "\"provider\":\"spin\"}");
    CHECK(metric_wait(s.port, "itx_workers_busy", 1, 10000));
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    call_join(&c);
    check_problem(&c.r, 503, "draining", "shutting down");
    resp_free(&c.r);
    {
        char *log = srv_log(&s);
        CHECK(strstr(log, "(1 requests cut)") != NULL);
        free(log);
    }
    srv_free(&s);
}

/* ---- bad settings stop start-up ---------------------------------------------------------- */

static void
bad_settings(void)
{
    static const struct {
        const char *env, *want;
    } cases[] = {
        {"ITX_WORKERS=0", "ITX_WORKERS: '0' is not an integer in 1..256"},
        {"PORT=70000", "PORT: '70000' is not an integer in 0..65535"},
        {"ITX_DEADLINE_MS=soon", "ITX_DEADLINE_MS: 'soon' is not an integer in 100..3600000"},
        {"ITX_BIND=localhost", "ITX_BIND: 'localhost' is not an IPv4 or IPv6 address literal"},
        {"ITX_API_KEYS=short", "ITX_API_KEYS: API key 1 is 5 characters, valid 16..128"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct srv s;
        const char *argv[] = {bin, NULL};
        const char *env[] = {cases[i].env, NULL};
        char *log;
        CHECK(srv_start(&s, argv, env) != 0); /* exits before listening */
        ms_sleep(50);
        log = srv_log(&s);
        CHECK_MSG(strstr(log, cases[i].want) != NULL, "log '%s' lacks '%s'", log, cases[i].want);
        free(log);
        srv_free(&s);
    }
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_server_http <test-server>\n");
        return 2;
    }
    bin = argv[1];
    snprintf(tmp, sizeof(tmp), "/tmp/itx-server-test-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    snprintf(gate, sizeof(gate), "%s/gate", tmp);
    snprintf(io_gate, sizeof(io_gate), "%s/io-gate", tmp);
    snprintf(warm_gate, sizeof(warm_gate), "%s/warm-gate", tmp);
    snprintf(down_file, sizeof(down_file), "%s/down", tmp);
    setup_files();
    bad_settings();
    server_a();
    server_b();
    server_c();
    server_d();
    {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmp);
    }
    return check_summary();
}
