/*
 * Store waits do not hold a worker: the real `itx serve` (argv[1]) with one worker, the dict
 * provider and the s3 store, whose S3 peer (s3rver behind tests/store/s3rver-run.js) sits
 * behind a proxy that holds chosen requests until the test lets them go (stall-proxy.c);
 * pictures from itx-testset (argv[2]). Nothing is timed: each part holds more store
 * requests at once than there are workers, which only I/O threads can do, checks that
 * /metrics shows no worker busy, and that a request that needs the worker completes while
 * they are held.
 *
 * 1. /v1/translate: the result look-ups (HEAD of regions.json) of three requests held; a
 *    fourth request is translated meanwhile; once released the three are answered.
 * 2. POST /v1/jobs: the uploads (PUT of uploads/...) of three submits held: no job exists
 *    yet (none counted as submitted); a /v1/translate and a GET of an unknown job are
 *    answered meanwhile; once released the three get 202 and their jobs succeed.
 * 3. The job runner: two jobs' look-ups held (two runners per context with a store that
 *    waits), and a /v1/translate of a new picture (it needs the context) is answered.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../store/node_proc.h"
#include "check.h"
#include "proc.h"
#include "stall-proxy.h"

#define N_PICS 7
/* A bound on waits that only a broken server reaches (not a timing assertion), and the
 * server's per-request deadline; both times the run's time scale (test_ms, proc.h). */
#define WAIT_MS 60000

static char *pic_b64[N_PICS];

/* Base64 of N_PICS testset pictures (<name>.png of each picture in index.json). */
static bool
make_pictures(const char *testset, const char *dir)
{
    char cmd[1024], path[700];
    json_t *idx, *pics;
    int k = 0;

    snprintf(cmd, sizeof(cmd), "%s -o %s/ts --count %d --seed 21 >/dev/null", testset, dir, N_PICS);
    if (system(cmd) != 0)
        return false;
    snprintf(path, sizeof(path), "%s/ts/index.json", dir);
    idx = json_load_file(path, 0, NULL);
    pics = json_object_get(idx, "pictures");
    for (size_t i = 0; i < json_array_size(pics) && k < N_PICS; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(pics, i), "name"));
        if (!name)
            continue;
        snprintf(path, sizeof(path), "%s/ts/%s.png", dir, name);
        pic_b64[k] = b64_file(path);
        k += pic_b64[k] != NULL;
    }
    json_decref(idx);
    return k == N_PICS;
}

static char *
body_of(int pic)
{
    size_t len = strlen(pic_b64[pic]) + 128;
    char *b = malloc(len);
    if (b)
        snprintf(b, len, "{\"target_lang\":\"en\",\"images\":[{\"data\":\"%s\"}]}", pic_b64[pic]);
    return b;
}

/* One request on its own thread. */
struct call {
    unsigned port;
    const char *path;
    int pic;
    long status;
    json_t *answer;
    atomic_bool done;
    pthread_t th;
};

static json_t *
call_now(unsigned port, const char *method, const char *path, int pic, long *status)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    char *body = pic >= 0 ? body_of(pic) : NULL;
    struct resp r;
    json_t *j = NULL;

    *status = -1;
    if (http(port, method, path, body ? h : NULL, body, body ? strlen(body) : 0, &r) == 0) {
        *status = r.status;
        j = json_loads(r.body, 0, NULL);
        if (r.status >= 300)
            fprintf(stderr, "%s %s: %ld %.300s\n", method, path, r.status, r.body);
    }
    resp_free(&r);
    free(body);
    return j;
}

static void *
call_main(void *arg)
{
    struct call *c = arg;
    c->answer = call_now(c->port, "POST", c->path, c->pic, &c->status);
    atomic_store(&c->done, true);
    return NULL;
}

static void
call_start(struct call *c, unsigned port, const char *path, int pic)
{
    c->port = port;
    c->path = path;
    c->pic = pic;
    c->status = -1;
    c->answer = NULL;
    atomic_store(&c->done, false);
    pthread_create(&c->th, NULL, call_main, c);
}

/* Whether a /v1/translate answer has a stored result for its one picture. */
static bool
translated(json_t *j)
{
    json_t *im = json_array_get(json_object_get(j, "images"), 0);
    const char *key = json_string_value(json_object_get(im, "key"));
    return json_is_string(json_object_get(im, "url")) && key && strlen(key) == 64;
}

/* Polls a job until it is final; its state. */
static char *
job_final_state(unsigned port, const char *id)
{
    char path[200], *state = NULL;

    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    for (long i = 0; i < test_ms(WAIT_MS) / 100 && !state; i++) {
        long status;
        json_t *j = call_now(port, "GET", path, -1, &status);
        const char *s = json_string_value(json_object_get(j, "state"));
        if (s && strcmp(s, "queued") != 0 && strcmp(s, "running") != 0)
            state = strdup(s);
        json_decref(j);
        if (!state)
            ms_sleep(100);
    }
    return state ? state : strdup("(not final)");
}

static bool
start_server(struct srv *s, const char *itx, const char *dir, unsigned proxy_port)
{
    static const char supp[] = "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\n"
                               "leak:libcairo\nleak:libglib\nleak:libgobject\n";
    char env_data[300], endpoint[128], lsan[300], deadline[64];
    const char *args[] = {itx, "serve", "--workers", "1", NULL};
    const char *env[] = {"ITX_STORE=s3",
                         "ITX_S3_BUCKET=itx-test",
                         endpoint,
                         "ITX_S3_PATH_STYLE=1",
                         "ITX_S3_REGION=us-east-1",
                         "AWS_ACCESS_KEY_ID=S3RVER",
                         "AWS_SECRET_ACCESS_KEY=S3RVER",
                         "ITX_TRANSLATE_PROVIDER=dict",
                         "ITX_JOB_POLL_MS=50",
                         "ITX_MAX_JSON_BYTES=8388608", /* the pictures are PNGs of ~1 MB */
                         env_data,
                         lsan,
                         deadline,
                         NULL};

    snprintf(env_data, sizeof(env_data), "ITX_DATA_DIR=%s/data", dir);
    snprintf(deadline, sizeof(deadline), "ITX_DEADLINE_MS=%ld", test_ms(WAIT_MS));
    snprintf(endpoint, sizeof(endpoint), "ITX_S3_ENDPOINT=http://127.0.0.1:%u", proxy_port);
    snprintf(lsan, sizeof(lsan), "%s/lsan.supp", dir);
    write_file(lsan, supp, sizeof(supp) - 1);
    snprintf(lsan, sizeof(lsan), "LSAN_OPTIONS=suppressions=%s/lsan.supp", dir);
    return srv_start(s, args, env) == 0 && srv_wait_ready(s->port, 30000);
}

/* Waits until n requests are held at the proxy, each for an object of its own, and checks
 * that no worker is busy meanwhile; what names the requests in messages. */
static void
expect_held(struct stall_proxy *px, unsigned port, int n, const char *what)
{
    int held = stall_proxy_wait_held(px, n, test_ms(WAIT_MS));
    fprintf(stderr, "%s: %d held at once on one worker\n", what, held);
    CHECK_MSG(held == n && stall_proxy_held_distinct(px) == n, "%s were not waiting together",
              what);
    CHECK_MSG(metric_now(port, "itx_workers_busy") == 0,
              "a worker was busy while %s waited on the store", what);
}

/* A picture that needs the worker is translated now (picture index i). */
static void
expect_translated_now(unsigned port, int i)
{
    long status;
    json_t *j = call_now(port, "POST", "/v1/translate", i, &status);
    CHECK_INT(status, 200);
    CHECK_MSG(translated(j), "picture %d has no stored result", i);
    json_decref(j);
}

/* The job a 202 answer names ends succeeded. */
static void
expect_job_succeeded(unsigned port, json_t *answer)
{
    const char *id = json_string_value(json_object_get(answer, "id"));
    CHECK(id != NULL);
    if (id) {
        char *state = job_final_state(port, id);
        CHECK_STR(state, "succeeded");
        free(state);
    }
}

/* 1: result look-ups of /v1/translate. */
static void
part_translate(unsigned port, struct stall_proxy *px)
{
    struct call c[3];

    stall_proxy_hold(px, "HEAD", "regions.json", 3);
    for (int i = 0; i < 3; i++)
        call_start(&c[i], port, "/v1/translate", i);
    expect_held(px, port, 3, "the look-ups of three translate requests");
    /* a fourth picture (its look-up passes) is translated meanwhile */
    expect_translated_now(port, 3);
    CHECK_INT(stall_proxy_held(px), 3);
    for (int i = 0; i < 3; i++)
        CHECK_MSG(!atomic_load(&c[i].done), "a held request was answered before its look-up");
    stall_proxy_release(px);
    for (int i = 0; i < 3; i++) {
        pthread_join(c[i].th, NULL);
        CHECK_INT(c[i].status, 200);
        CHECK_MSG(translated(c[i].answer), "a released request has no stored result");
        json_decref(c[i].answer);
    }
    CHECK(metric_now(port, "itx_images_total{result=\"translated\"}") == 4);
}

/* 2: the uploads of POST /v1/jobs. */
static void
part_submit(unsigned port, struct stall_proxy *px)
{
    struct call c[3];
    long status;

    stall_proxy_hold(px, "PUT", "uploads/", 3);
    for (int i = 0; i < 3; i++)
        call_start(&c[i], port, "/v1/jobs", i);
    expect_held(px, port, 3, "the uploads of three submits");
    CHECK_MSG(metric_now(port, "itx_jobs_submitted_total") == 0,
              "a job was created before its pictures were stored");
    /* requests that need the worker are answered meanwhile */
    expect_translated_now(port, 3);
    json_decref(call_now(port, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", -1, &status));
    CHECK_INT(status, 404);
    for (int i = 0; i < 3; i++)
        CHECK_MSG(!atomic_load(&c[i].done), "a submit was answered before its upload was stored");
    stall_proxy_release(px);
    for (int i = 0; i < 3; i++) {
        pthread_join(c[i].th, NULL);
        CHECK_INT(c[i].status, 202);
        expect_job_succeeded(port, c[i].answer);
        json_decref(c[i].answer);
    }
    CHECK(metric_now(port, "itx_jobs_submitted_total") == 3);
}

/* 3: the job runners' look-ups. */
static void
part_runner(unsigned port, struct stall_proxy *px)
{
    struct call c[2];

    stall_proxy_hold(px, "HEAD", "regions.json", 2);
    for (int i = 0; i < 2; i++) {
        call_start(&c[i], port, "/v1/jobs", 4 + i);
        pthread_join(c[i].th, NULL);
        CHECK_INT(c[i].status, 202);
    }
    expect_held(px, port, 2, "the runners' look-ups of two job items");
    /* a new picture needs the context: the waiting runners do not hold it */
    expect_translated_now(port, 6);
    CHECK_INT(stall_proxy_held(px), 2);
    stall_proxy_release(px);
    for (int i = 0; i < 2; i++) {
        expect_job_succeeded(port, c[i].answer);
        json_decref(c[i].answer);
    }
}

int
main(int argc, char **argv)
{
    char dir[64] = "/tmp/itx-serve-stall-XXXXXX", cmd[128], script[1024], s3dir[128];
    const char *src = getenv("ITX_SOURCE_DIR");
    const char *s3argv[] = {script, s3dir, "itx-test", NULL};
    struct node_proc s3 = {0};
    struct stall_proxy *px = NULL;
    struct srv s = {0};

    if (argc < 3 || !mkdtemp(dir))
        return 2;
    if (!make_pictures(argv[2], dir)) {
        CHECK_MSG(0, "itx-testset wrote no pictures");
        return check_summary();
    }
    snprintf(s3dir, sizeof(s3dir), "%s/s3", dir);
    mkdir(s3dir, 0755);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/data", dir);
    CHECK_INT(system(cmd), 0);
    snprintf(script, sizeof(script), "%s/tests/store/s3rver-run.js", src ? src : ".");
    if (node_proc_start(&s3, s3argv) != 0) {
        CHECK_MSG(0, "s3rver did not start (npm dev dependencies: scripts/setup.sh --dev)");
        return check_summary();
    }
    px = stall_proxy_start(s3.port);
    CHECK(px != NULL);
    if (px && start_server(&s, argv[1], dir, stall_proxy_port(px))) {
        part_translate(s.port, px);
        part_submit(s.port, px);
        part_runner(s.port, px);
        CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    } else {
        CHECK_MSG(0, "itx serve (s3 store behind the proxy) did not become ready");
    }
    srv_free(&s);
    stall_proxy_stop(px);
    node_proc_stop(&s3);
    for (int i = 0; i < N_PICS; i++)
        free(pic_b64[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    return check_summary();
}
