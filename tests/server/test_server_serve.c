/*
 * `itx serve` itself (argv[1] is the itx binary): --help, bad settings, the endpoints that
 * exist without the pipeline, an unknown route (404) and the /v1 routes answering, the local
 * store under /files/, API keys, and SIGTERM.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"

static const char *itx;

static int
run_capture(const char *cmd, char *out, size_t out_size)
{
    FILE *p = popen(cmd, "r");
    size_t n;
    if (!p)
        return -1;
    n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    return WEXITSTATUS(pclose(p));
}

int
main(int argc, char **argv)
{
    static char out[65536];
    char cmd[1024], dir[64] = "/tmp/itx-serve-test-XXXXXX", path[256], env_dir[300], env_db[300];
    struct srv s;
    struct resp r;

    if (argc < 2)
        return 2;
    itx = argv[1];
    if (!mkdtemp(dir))
        return 1;

    snprintf(cmd, sizeof(cmd), "%s serve --help", itx);
    CHECK_INT(run_capture(cmd, out, sizeof(out)), 0);
    CHECK(strstr(out, "PORT") && strstr(out, "ITX_WORKERS") && strstr(out, "ITX_API_KEYS") &&
          strstr(out, "ITX_GRACE_MS") && strstr(out, "default 8080"));
    snprintf(cmd, sizeof(cmd), "ITX_QUEUE=lots %s serve 2>&1", itx);
    CHECK_INT(run_capture(cmd, out, sizeof(out)), 2);
    CHECK(strstr(out, "ITX_QUEUE: 'lots' is not an integer in 1..100000") != NULL);
    snprintf(cmd, sizeof(cmd), "%s serve --port 1 --nope 2>&1", itx);
    CHECK_INT(run_capture(cmd, out, sizeof(out)), 2);
    CHECK(strstr(out, "unknown option '--nope'") != NULL);
    snprintf(cmd, sizeof(cmd), "ITX_STORE=ftp %s serve 2>&1", itx);
    CHECK_INT(run_capture(cmd, out, sizeof(out)), 2);
    CHECK(strstr(out, "ITX_STORE must be local, s3 or gcs") != NULL);

    snprintf(path, sizeof(path), "%s/res.png", dir);
    write_file(path, "\x89PNG\r\n\x1a\n", 8);
    snprintf(env_dir, sizeof(env_dir), "ITX_STORE_DIR=%s", dir);
    /* its own job store: the default, next to the store's directory, is /tmp/itx-jobs.db,
     * which other builds' tests would share (and could migrate to a newer schema) */
    snprintf(env_db, sizeof(env_db), "ITX_DATABASE_URL=sqlite:%s/.jobs.db", dir);
    {
        const char *args[] = {itx, "serve", "--workers", "1", NULL};
        const char *env[] = {env_dir, env_db, "ITX_API_KEYS=serve-test-key-0123456789", NULL};
        if (srv_start(&s, args, env) != 0) {
            CHECK_MSG(0, "itx serve did not start");
            srv_free(&s);
            return check_summary();
        }
    }
    http(s.port, "GET", "/healthz", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    /* ready once warm-up ends (bounded by 30 s times the run's time scale, proc.h) */
    CHECK(srv_wait_ready(s.port, 30000));
    http(s.port, "GET", "/openapi.json", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    {
        json_t *j = json_loads(r.body, 0, NULL);
        CHECK(j && strcmp(json_string_value(json_object_get(j, "openapi")), "3.1.0") == 0);
        json_decref(j);
    }
    resp_free(&r);
    http(s.port, "GET", "/files/res.png", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body_len, 8);
    resp_free(&r);
    /* /v1/translate and /v1/jobs are plugged in (tests/server/test_serve_translate.c and
     * tests/jobs/test_jobs_serve.c drive them): a body without images is a 400 on both. */
    {
        const char *h[] = {"Authorization: Bearer serve-test-key-0123456789",
                           "Content-Type: application/json", NULL};
        http(s.port, "POST", "/v1/translate", h, "{}", 2, &r);
        CHECK_INT(r.status, 400);
        CHECK(strstr(r.body, "\"code\":\"invalid\"") != NULL);
        resp_free(&r);
        http(s.port, "POST", "/v1/jobs", h, "{}", 2, &r);
        CHECK_INT(r.status, 400);
        resp_free(&r);
        http(s.port, "GET", "/v1/nothing-here", h, NULL, 0, &r);
        CHECK_INT(r.status, 404);
        resp_free(&r);
    }
    /* A request is counted when its connection completes, just after the client has the
     * answer: wait (bounded) for the counts rather than read them at once. */
    CHECK(metric_wait(s.port, "itx_http_requests_total{route=\"jobs\",code=\"400\"}", 1, 10000));
    CHECK(metric_wait(s.port, "itx_http_requests_total{route=\"other\",code=\"404\"}", 1, 10000));
    CHECK(metric_wait(s.port, "itx_http_requests_total{route=\"files\",code=\"200\"}", 1, 10000));
    http(s.port, "GET", "/metrics", NULL, NULL, 0, &r);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "itx_build_info{version=\"") != NULL);
    resp_free(&r);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    {
        char *log = srv_log(&s);
        CHECK(strstr(log, "serve-test-key") == NULL);
        CHECK(strstr(log, "\"startup_ms\":") != NULL);
        free(log);
    }
    srv_free(&s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    return check_summary();
}
