/*
 * Tests of src/jobs/ against a real backend: `test_jobs sqlite` uses SQLite files in a
 * temporary directory; `test_jobs postgres` starts its own PostgreSQL cluster with
 * tests/jobs/pg-test-cluster.sh (127.0.0.1, a free port) and a fresh database per case.
 * The same cases run on both; the server-restart case runs on PostgreSQL only.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "translate/translate.h"

static bool use_pg;
static char tmp_dir[256];
static char pg_dir[300];
static char pg_base_url[256];
static char script[1024];
static int n_dbs;

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void
stop_cluster(void)
{
    char cmd[2048];
    if (!pg_base_url[0])
        return;
    snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", script, pg_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the test cluster in %s\n", pg_dir);
    pg_base_url[0] = '\0';
}

static void
remove_tmp(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

/*
 * If this process dies without running atexit (a crash, ctest's timeout kill), a watchdog
 * process still stops the cluster: it waits for the end of a pipe whose only writer is us.
 */
static void
start_watchdog(void)
{
    int fds[2];
    pid_t pid;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char c, cmd[2048];
        int null = open("/dev/null", O_RDWR);
        close(fds[1]);
        dup2(null, 1);
        dup2(null, 2);
        while (read(fds[0], &c, 1) > 0 || errno == EINTR)
            ;
        snprintf(cmd, sizeof(cmd), "'%s' stop '%s'; rm -rf '%s'", script, pg_dir, tmp_dir);
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    close(fds[0]); /* fds[1] stays open until we exit */
}

static bool
start_cluster(void)
{
    const char *src = getenv("ITX_SOURCE_DIR");
    char cmd[2048];
    FILE *p;

    snprintf(script, sizeof(script), "%s/tests/jobs/pg-test-cluster.sh", src ? src : ".");
    snprintf(pg_dir, sizeof(pg_dir), "%s/pg", tmp_dir);
    snprintf(cmd, sizeof(cmd), "'%s' start '%s'", script, pg_dir);
    p = popen(cmd, "r");
    if (!p)
        return false;
    if (!fgets(pg_base_url, sizeof(pg_base_url), p))
        pg_base_url[0] = '\0';
    pg_base_url[strcspn(pg_base_url, "\n")] = '\0';
    if (pclose(p) != 0 || strncmp(pg_base_url, "postgres://", 11) != 0) {
        pg_base_url[0] = '\0';
        return false;
    }
    atexit(stop_cluster);
    start_watchdog();
    return true;
}

/* restart, down or up (see pg-test-cluster.sh). */
static void
cluster(const char *what)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' %s '%s'", script, what, pg_dir);
    CHECK_MSG(system(cmd) == 0, "pg-test-cluster.sh %s failed", what);
}

/* A URL naming a new, empty database for one test case. */
static void
fresh_url(char *out, size_t n)
{
    int k = ++n_dbs;
    if (!use_pg) {
        snprintf(out, n, "sqlite:%s/case%d.db", tmp_dir, k);
        return;
    }
    {
        char sql[64];
        PGconn *c = PQconnectdb(pg_base_url);
        PGresult *r;
        snprintf(sql, sizeof(sql), "CREATE DATABASE case%d", k);
        r = PQexec(c, sql);
        CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        snprintf(out, n, "%.*s/case%d", (int)(strrchr(pg_base_url, '/') - pg_base_url), pg_base_url,
                 k);
    }
}

static struct itx_jobs *
open_store(const char *url, const struct itx_jobs_opts *opts)
{
    struct itx_diag d;
    struct itx_jobs *s = NULL;
    itx_diag_init(&d);
    if (itx_jobs_open(url, opts, &s, &d) != ITX_OK) {
        fprintf(stderr, "cannot open '%s': %s\n", url, d.msg);
        exit(1);
    }
    return s;
}

static void
make_items(struct itx_jobs_new_item *items, char (*src)[64], size_t n, const char *tag)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(src[i], 64, "https://img.alicdn.com/%s/%zu.jpg", tag, i);
        items[i].source = src[i];
        items[i].options = NULL;
    }
}

static void
create_job(struct itx_jobs *s, size_t n, const char *tag, char id[33])
{
    struct itx_jobs_new_item *items = calloc(n, sizeof(*items));
    char(*src)[64] = calloc(n, 64);
    struct itx_jobs_new job = {.items = items, .n_items = n, .settings = "{\"lang\":\"en\"}"};
    struct itx_diag d;
    itx_diag_init(&d);
    make_items(items, src, n, tag);
    CHECK_MSG(itx_jobs_create(s, &job, id, NULL, &d) == ITX_OK, "%s", d.msg);
    free(items);
    free(src);
}

static enum itx_job_state
job_state(struct itx_jobs *s, const char *id)
{
    struct itx_job *j = NULL;
    struct itx_diag d;
    enum itx_job_state st = ITX_JOB_QUEUED;
    itx_diag_init(&d);
    if (itx_jobs_get(s, id, &j, &d) == ITX_OK)
        st = j->state;
    else
        CHECK_MSG(0, "get %s: %s", id, d.msg);
    itx_job_free(j);
    return st;
}

/* Claims, polling every 20 ms for up to timeout_ms. */
static struct itx_jobs_item *
claim_wait(struct itx_jobs *s, const char *worker, unsigned lease, unsigned timeout_ms)
{
    struct itx_jobs_item *it = NULL;
    struct itx_diag d;
    for (unsigned waited = 0;; waited += 20) {
        itx_diag_init(&d);
        if (itx_jobs_claim(s, worker, lease, &it, &d) != ITX_OK) {
            CHECK_MSG(0, "claim: %s", d.msg);
            return NULL;
        }
        if (it || waited >= timeout_ms)
            return it;
        sleep_ms(20);
    }
}

/* ---- cases ------------------------------------------------------------------------------- */

static void
test_create_get(void)
{
    char url[512], id[33], id2[33], id3[33];
    struct itx_jobs_new_item items[3] = {{"https://a.example/1.jpg", "{\"ocr\":true}"},
                                         {"upload:abc123", NULL},
                                         {"https://a.example/3.jpg", "{}"}};
    struct itx_jobs_new job = {.items = items,
                               .n_items = 3,
                               .settings = "{\"to\":\"en\"}",
                               .webhook_url = "https://hook.example/x",
                               .idempotency_key = "key-1",
                               .body_hash = "hash-a"};
    struct itx_diag d;
    struct itx_job *j = NULL;
    bool replayed = true;
    struct itx_jobs *s;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    CHECK_STR(itx_jobs_backend(s), use_pg ? "postgres" : "sqlite");
    itx_diag_init(&d);
    CHECK_MSG(itx_jobs_create(s, &job, id, &replayed, &d) == ITX_OK, "%s", d.msg);
    CHECK(!replayed);
    CHECK_INT(strlen(id), 32);
    CHECK_MSG(itx_jobs_get(s, id, &j, &d) == ITX_OK, "%s", d.msg);
    if (j) {
        CHECK_STR(j->id, id);
        CHECK(j->state == ITX_JOB_QUEUED);
        CHECK_STR(j->settings, "{\"to\":\"en\"}");
        CHECK_STR(j->webhook_url, "https://hook.example/x");
        CHECK_STR(j->idempotency_key, "key-1");
        CHECK(j->created_ms > 1600000000000LL);
        CHECK_INT(j->finished_ms, 0);
        CHECK_INT(j->n_items, 3);
        CHECK_INT(j->n_state[ITX_JOB_QUEUED], 3);
        if (j->n_items == 3) {
            CHECK_INT(j->items[1].idx, 1);
            CHECK_STR(j->items[0].options, "{\"ocr\":true}");
            CHECK_STR(j->items[1].source, "upload:abc123");
            CHECK_STR(j->items[1].options, "{}");
            CHECK(j->items[2].result == NULL);
            CHECK_INT(j->items[2].attempts, 0);
        }
    }
    itx_job_free(j);

    /* Same key, same body: the same job. */
    CHECK(itx_jobs_create(s, &job, id2, &replayed, &d) == ITX_OK);
    CHECK(replayed);
    CHECK_STR(id2, id);
    /* Same key, another body: a conflict that names the key. */
    job.body_hash = "hash-b";
    CHECK(itx_jobs_create(s, &job, id2, &replayed, &d) == ITX_ERR_CONFLICT);
    CHECK(strstr(d.msg, "key-1") != NULL);
    /* No body hash: computed from the content, so a replay still matches... */
    job.idempotency_key = "key-2";
    job.body_hash = NULL;
    CHECK(itx_jobs_create(s, &job, id2, &replayed, &d) == ITX_OK && !replayed);
    CHECK(itx_jobs_create(s, &job, id3, &replayed, &d) == ITX_OK && replayed);
    CHECK_STR(id3, id2);
    /* ...and another item list is a conflict. */
    job.n_items = 2;
    CHECK(itx_jobs_create(s, &job, id3, &replayed, &d) == ITX_ERR_CONFLICT);
    /* No key: a new job every time. */
    job.idempotency_key = NULL;
    CHECK(itx_jobs_create(s, &job, id2, NULL, &d) == ITX_OK);
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_OK);
    CHECK(strcmp(id2, id3) != 0);

    /* Bad input gets a clear error. */
    job.n_items = 0;
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_ERR_INVALID);
    job.n_items = 3;
    job.settings = "[1]";
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "settings") != NULL);
    job.settings = NULL;
    items[2].options = "{\"a\":";
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "item 2") != NULL);
    items[2].options = NULL;
    items[1].source = "";
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_ERR_INVALID);
    items[1].source = "x";
    job.n_items = ITX_JOBS_MAX_ITEMS + 1;
    CHECK(itx_jobs_create(s, &job, id3, NULL, &d) == ITX_ERR_TOO_LARGE);
    CHECK(strstr(d.msg, "10000") != NULL);
    CHECK(itx_jobs_get(s, "0123456789abcdef0123456789abcdef", &j, &d) == ITX_ERR_NOT_FOUND);
    CHECK(itx_jobs_get(s, "x'; DROP TABLE itx_jobs; --", &j, &d) == ITX_ERR_NOT_FOUND);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    itx_job_free(j);
    itx_jobs_close(s);

    /* Reopening runs no migration twice and keeps the data. */
    s = open_store(url, NULL);
    CHECK(job_state(s, id) == ITX_JOB_QUEUED);
    itx_jobs_close(s);

    /* URLs naming no backend, or an unreachable server. */
    CHECK(itx_jobs_open("mysql://u:secret@x/y", NULL, &s, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "'mysql'") != NULL);
    CHECK(strstr(d.msg, "secret") == NULL);
    CHECK(itx_jobs_open("sqlite:", NULL, &s, &d) == ITX_ERR_INVALID);
    if (use_pg)
        CHECK(itx_jobs_open("postgres://itx@127.0.0.1:1/x", NULL, &s, &d) == ITX_ERR_UNAVAILABLE);
    else
        CHECK(itx_jobs_open("sqlite:/nonexistent-dir/x.db", NULL, &s, &d) == ITX_ERR_IO);
}

static void
test_claim_complete_fail(void)
{
    char url[512], id[33];
    struct itx_jobs *s;
    struct itx_jobs_item *it = NULL, *it2 = NULL;
    struct itx_job *j = NULL;
    enum itx_jobs_outcome oc = ITX_JOBS_LEASE_LOST;
    struct itx_diag d;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_diag_init(&d);
    create_job(s, 2, "cc", id);
    CHECK(itx_jobs_claim(s, "w1", 60, &it, &d) == ITX_OK && it);
    if (!it)
        goto out;
    CHECK_STR(it->job_id, id);
    CHECK_INT(it->idx, 0);
    CHECK_INT(it->attempt, 1);
    CHECK_STR(it->settings, "{\"lang\":\"en\"}");
    CHECK_STR(it->source, "https://img.alicdn.com/cc/0.jpg");
    CHECK(job_state(s, id) == ITX_JOB_RUNNING);
    CHECK_MSG(itx_jobs_heartbeat(s, it, 60, "ocr", 0.5, &d) == ITX_OK, "%s", d.msg);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK_STR(j->items[0].stage ? j->items[0].stage : "", "ocr");
        CHECK(j->items[0].progress > 0.49 && j->items[0].progress < 0.51);
        CHECK(j->items[0].state == ITX_JOB_RUNNING);
    }
    itx_job_free(j);
    CHECK(itx_jobs_complete(s, it, "not json", &oc, &d) == ITX_ERR_INVALID);
    CHECK(itx_jobs_complete(s, it, "{\"url\":\"a\"}", &oc, &d) == ITX_OK);
    CHECK(oc == ITX_JOBS_APPLIED);
    /* A second completion is a no-op reported to the caller, the first result stays. */
    CHECK(itx_jobs_complete(s, it, "{\"url\":\"b\"}", &oc, &d) == ITX_OK);
    CHECK(oc == ITX_JOBS_ALREADY_DONE);
    CHECK(itx_jobs_heartbeat(s, it, 60, NULL, 1, &d) == ITX_ERR_CONFLICT);
    CHECK(itx_jobs_fail(s, it, "io", "late", true, &oc, &d) == ITX_OK);
    CHECK(oc == ITX_JOBS_ALREADY_DONE);

    CHECK(itx_jobs_claim(s, "w2", 60, &it2, &d) == ITX_OK && it2);
    if (it2) {
        CHECK_INT(it2->idx, 1);
        CHECK(itx_jobs_fail(s, it2, "undecodable", "cannot decode '1.jpg': truncated", false, &oc,
                            &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_APPLIED);
    }
    itx_jobs_item_free(it2);
    it2 = NULL;
    CHECK(itx_jobs_claim(s, "w2", 60, &it2, &d) == ITX_OK && !it2);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK(j->state == ITX_JOB_PARTIALLY_FAILED);
        CHECK(j->finished_ms >= j->created_ms);
        CHECK_STR(j->items[0].result, "{\"url\":\"a\"}");
        CHECK(j->items[0].state == ITX_JOB_SUCCEEDED);
        CHECK(j->items[1].state == ITX_JOB_FAILED);
        CHECK_STR(j->items[1].error_code, "undecodable");
        CHECK_STR(j->items[1].error_msg, "cannot decode '1.jpg': truncated");
        CHECK(j->items[1].result == NULL);
    }
    itx_job_free(j);
    /* All items succeeded, all failed. */
    create_job(s, 1, "ok", id);
    itx_jobs_item_free(it);
    CHECK(itx_jobs_claim(s, "w1", 60, &it, &d) == ITX_OK && it);
    if (it)
        CHECK(itx_jobs_complete(s, it, "[]", NULL, &d) == ITX_OK);
    CHECK(job_state(s, id) == ITX_JOB_SUCCEEDED);
    create_job(s, 1, "bad", id);
    itx_jobs_item_free(it);
    CHECK(itx_jobs_claim(s, "w1", 60, &it, &d) == ITX_OK && it);
    if (it)
        CHECK(itx_jobs_fail(s, it, "forbidden", "private address", false, NULL, &d) == ITX_OK);
    CHECK(job_state(s, id) == ITX_JOB_FAILED);
    CHECK(itx_jobs_claim(s, "", 60, &it2, &d) == ITX_ERR_INVALID);
    CHECK(itx_jobs_claim(s, "w", 0, &it2, &d) == ITX_ERR_INVALID);
out:
    itx_jobs_item_free(it);
    itx_jobs_close(s);
}

static void
test_retry_backoff(void)
{
    char url[512], id[33];
    struct itx_jobs_opts slow = {.max_attempts = 3, .backoff_base_ms = 1500};
    struct itx_jobs_opts fast = {.max_attempts = 3, .backoff_base_ms = 40, .backoff_max_ms = 80};
    struct itx_jobs *s, *f;
    struct itx_jobs_item *it = NULL;
    struct itx_job *j = NULL;
    enum itx_jobs_outcome oc = ITX_JOBS_LEASE_LOST;
    struct itx_diag d;
    unsigned claims = 0;

    fresh_url(url, sizeof(url));
    s = open_store(url, &slow);
    f = open_store(url, &fast);
    itx_diag_init(&d);

    /* A retryable failure queues the item again, not before its backoff. */
    create_job(s, 1, "retry", id);
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && it);
    if (it)
        CHECK(itx_jobs_fail(s, it, "upstream", "HTTP 503 from the CDN", true, &oc, &d) == ITX_OK);
    CHECK(oc == ITX_JOBS_APPLIED);
    CHECK(job_state(s, id) == ITX_JOB_RUNNING);
    itx_jobs_item_free(it);
    it = NULL;
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && !it);
    it = claim_wait(s, "w", 60, 10000);
    CHECK(it != NULL);
    if (it) {
        CHECK_INT(it->attempt, 2);
        CHECK(itx_jobs_complete(s, it, "{\"n\":2}", &oc, &d) == ITX_OK && oc == ITX_JOBS_APPLIED);
    }
    itx_jobs_item_free(it);
    it = NULL;
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK(j->state == ITX_JOB_SUCCEEDED);
        CHECK_INT(j->items[0].attempts, 2);
        CHECK_STR(j->items[0].error_code, "upstream"); /* the last error is kept */
    }
    itx_job_free(j);

    /* After max_attempts claims the item fails with its last error. */
    create_job(f, 1, "max", id);
    while ((it = claim_wait(f, "w", 60, 5000)) != NULL) {
        char msg[64];
        claims++;
        snprintf(msg, sizeof(msg), "timeout on attempt %u", it->attempt);
        CHECK(itx_jobs_fail(f, it, "timeout", msg, true, &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_APPLIED);
        itx_jobs_item_free(it);
        if (claims > 5 || itx_job_state_final(job_state(f, id)))
            break;
    }
    CHECK_INT(claims, 3);
    CHECK(itx_jobs_claim(f, "w", 60, &it, &d) == ITX_OK && !it);
    CHECK(itx_jobs_get(f, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK(j->state == ITX_JOB_FAILED);
        CHECK(j->items[0].state == ITX_JOB_FAILED);
        CHECK_INT(j->items[0].attempts, 3);
        CHECK_STR(j->items[0].error_msg, "timeout on attempt 3");
    }
    itx_job_free(j);
    itx_jobs_close(s);
    itx_jobs_close(f);
}

static void
test_lease_rescue(void)
{
    char url[512], id[33];
    struct itx_jobs_opts one = {.max_attempts = 1};
    struct itx_jobs *s, *s1;
    struct itx_jobs_item *a = NULL, *b = NULL;
    struct itx_job *j = NULL;
    enum itx_jobs_outcome oc = ITX_JOBS_APPLIED;
    struct itx_diag d;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_diag_init(&d);

    /* A dead worker: claims with a 1 s lease and never heartbeats. */
    create_job(s, 1, "lease", id);
    CHECK(itx_jobs_claim(s, "dead", 1, &a, &d) == ITX_OK && a);
    CHECK(itx_jobs_claim(s, "alive", 30, &b, &d) == ITX_OK && !b);
    b = claim_wait(s, "alive", 30, 10000);
    CHECK(b != NULL);
    if (a && b) {
        CHECK_INT(b->attempt, 2);
        CHECK(b->lease_token > a->lease_token);
        /* The old claim learns it lost the lease and cannot fail the item. */
        CHECK(itx_jobs_heartbeat(s, a, 30, NULL, 0, &d) == ITX_ERR_CONFLICT);
        CHECK(itx_jobs_fail(s, a, "x", "y", true, &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_LEASE_LOST);
        CHECK(itx_jobs_heartbeat(s, b, 30, "render", 0.9, &d) == ITX_OK);
        CHECK(itx_jobs_complete(s, b, "{\"by\":\"alive\"}", &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_APPLIED);
        CHECK(itx_jobs_complete(s, a, "{\"by\":\"dead\"}", &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_ALREADY_DONE);
    }
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK_STR(j->items[0].result, "{\"by\":\"alive\"}");
        CHECK(j->state == ITX_JOB_SUCCEEDED);
    }
    itx_job_free(j);
    itx_jobs_item_free(a);
    itx_jobs_item_free(b);
    a = b = NULL;

    /* A slow (not dead) worker completes first after its lease was taken: first wins. */
    create_job(s, 1, "slow", id);
    CHECK(itx_jobs_claim(s, "slow", 1, &a, &d) == ITX_OK && a);
    b = claim_wait(s, "thief", 30, 10000);
    CHECK(b != NULL);
    if (a && b) {
        CHECK(itx_jobs_complete(s, a, "{\"by\":\"slow\"}", &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_APPLIED);
        CHECK(itx_jobs_complete(s, b, "{\"by\":\"thief\"}", &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_ALREADY_DONE);
        CHECK(itx_jobs_heartbeat(s, b, 30, NULL, 0, &d) == ITX_ERR_CONFLICT);
    }
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j)
        CHECK_STR(j->items[0].result, "{\"by\":\"slow\"}");
    itx_job_free(j);
    itx_jobs_item_free(a);
    itx_jobs_item_free(b);
    a = b = NULL;

    /* A lease that expires on the last allowed attempt fails the item. */
    s1 = open_store(url, &one);
    create_job(s1, 1, "last", id);
    CHECK(itx_jobs_claim(s1, "dead", 1, &a, &d) == ITX_OK && a);
    for (int i = 0; i < 200 && job_state(s1, id) == ITX_JOB_RUNNING; i++) {
        CHECK(itx_jobs_claim(s1, "alive", 30, &b, &d) == ITX_OK && !b);
        sleep_ms(25);
    }
    CHECK(itx_jobs_get(s1, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK(j->state == ITX_JOB_FAILED);
        CHECK_STR(j->items[0].error_code, "timeout");
        CHECK(strstr(j->items[0].error_msg, "lease expired") != NULL);
    }
    itx_job_free(j);
    itx_jobs_item_free(a);
    itx_jobs_close(s1);
    itx_jobs_close(s);
}

static void
test_cancel(void)
{
    char url[512], id[33];
    struct itx_jobs *s;
    struct itx_jobs_item *it = NULL, *it2 = NULL;
    struct itx_job *j = NULL;
    enum itx_job_state st = ITX_JOB_QUEUED;
    enum itx_jobs_outcome oc = ITX_JOBS_APPLIED;
    struct itx_diag d;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_diag_init(&d);
    create_job(s, 3, "cancel", id);
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && it);
    CHECK(itx_jobs_cancel(s, id, &st, &d) == ITX_OK);
    CHECK(st == ITX_JOB_CANCELLED);
    if (it) {
        CHECK(itx_jobs_heartbeat(s, it, 60, NULL, 0, &d) == ITX_ERR_CANCELLED);
        CHECK(itx_jobs_complete(s, it, "{}", &oc, &d) == ITX_OK);
        CHECK(oc == ITX_JOBS_ALREADY_DONE);
    }
    CHECK(itx_jobs_claim(s, "w", 60, &it2, &d) == ITX_OK && !it2);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j) {
        CHECK(j->state == ITX_JOB_CANCELLED);
        CHECK_INT(j->n_state[ITX_JOB_CANCELLED], 3);
        CHECK(j->finished_ms > 0);
    }
    itx_job_free(j);
    /* Cancelling a final job changes nothing. */
    CHECK(itx_jobs_cancel(s, id, &st, &d) == ITX_OK && st == ITX_JOB_CANCELLED);
    CHECK(itx_jobs_cancel(s, "nope", &st, &d) == ITX_ERR_NOT_FOUND);
    itx_jobs_item_free(it);
    itx_jobs_close(s);
}

/*
 * Lock waits end with a clean error: another connection holds the database (SQLite: an
 * exclusive transaction; PostgreSQL: an exclusive table lock) past the store's timeout.
 */
static void
test_timeouts(void)
{
    char url[512], id[33];
    struct itx_jobs_opts o = {.busy_timeout_ms = 100, .statement_timeout_ms = 300};
    struct itx_jobs *s;
    struct itx_jobs_item *it = NULL;
    struct itx_diag d;
    enum itx_status st;
    sqlite3 *db = NULL;
    PGconn *pg = NULL;

    fresh_url(url, sizeof(url));
    s = open_store(url, &o);
    create_job(s, 1, "timeout", id);
    if (use_pg) {
        PGresult *r;
        pg = PQconnectdb(url);
        r = PQexec(pg, "BEGIN; LOCK TABLE itx_job_items IN ACCESS EXCLUSIVE MODE");
        CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    } else {
        CHECK(sqlite3_open(url + 7, &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    }
    itx_diag_init(&d);
    st = itx_jobs_claim(s, "w", 60, &it, &d);
    CHECK_MSG(st == (use_pg ? ITX_ERR_TIMEOUT : ITX_ERR_UNAVAILABLE), "%s: %s", itx_err_str(st),
              d.msg);
    CHECK(it == NULL);
    printf("claim while the database is locked: %s: %s\n", itx_err_str(st), d.msg);
    if (use_pg) {
        PQclear(PQexec(pg, "ROLLBACK"));
        PQfinish(pg);
    } else {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    /* Once the lock is gone the same store works. */
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && it);
    itx_jobs_item_free(it);
    itx_jobs_close(s);
}

/* ---- concurrency ------------------------------------------------------------------------- */

#define BATCH 200

struct worker_arg {
    struct itx_jobs *s;
    char name[32];
    atomic_int *holding; /* per item: claims currently held */
    atomic_int *claims;  /* per item: claims ever */
    atomic_int *applied; /* per item: applied completions */
    atomic_int *overlap; /* claims of an item already held by another */
    int errors;
};

static void *
worker_main(void *p)
{
    struct worker_arg *w = p;
    struct itx_diag d;
    for (;;) {
        struct itx_jobs_item *it = NULL;
        enum itx_jobs_outcome oc = ITX_JOBS_LEASE_LOST;
        char res[64];
        itx_diag_init(&d);
        if (itx_jobs_claim(w->s, w->name, 120, &it, &d) != ITX_OK) {
            fprintf(stderr, "%s: claim: %s\n", w->name, d.msg);
            w->errors++;
            break;
        }
        if (!it)
            break;
        if (atomic_fetch_add(&w->holding[it->idx], 1) != 0)
            atomic_fetch_add(w->overlap, 1);
        atomic_fetch_add(&w->claims[it->idx], 1);
        snprintf(res, sizeof(res), "{\"idx\":%u}", it->idx);
        atomic_fetch_sub(&w->holding[it->idx], 1);
        if (itx_jobs_complete(w->s, it, res, &oc, &d) != ITX_OK) {
            fprintf(stderr, "%s: complete: %s\n", w->name, d.msg);
            w->errors++;
        } else if (oc == ITX_JOBS_APPLIED) {
            atomic_fetch_add(&w->applied[it->idx], 1);
        }
        itx_jobs_item_free(it);
    }
    return NULL;
}

static void
check_batch_results(struct itx_jobs *s, const char *id)
{
    struct itx_job *j = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (!j)
        return;
    CHECK(j->state == ITX_JOB_SUCCEEDED);
    CHECK_INT(j->n_state[ITX_JOB_SUCCEEDED], BATCH);
    for (size_t i = 0; i < j->n_items; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"idx\":%zu", i);
        CHECK_MSG(j->items[i].result && strstr(j->items[i].result, want), "item %zu: %s", i,
                  j->items[i].result ? j->items[i].result : "(null)");
    }
    itx_job_free(j);
}

static void
test_threads(void)
{
    enum { N_THREADS = 4 };
    char url[512], id[33];
    struct itx_jobs_opts o = {.pool_size = 3}; /* fewer connections than threads */
    struct itx_jobs *s, *s2;
    atomic_int holding[BATCH], claims[BATCH], applied[BATCH], overlap;
    struct worker_arg w[N_THREADS];
    pthread_t th[N_THREADS];
    int once = 0;

    fresh_url(url, sizeof(url));
    s = open_store(url, &o);
    s2 = open_store(url, &o); /* two handles: like two instances in one process */
    create_job(s, BATCH, "threads", id);
    for (int i = 0; i < BATCH; i++) {
        atomic_init(&holding[i], 0);
        atomic_init(&claims[i], 0);
        atomic_init(&applied[i], 0);
    }
    atomic_init(&overlap, 0);
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (struct worker_arg){.s = t % 2 ? s2 : s,
                                   .holding = holding,
                                   .claims = claims,
                                   .applied = applied,
                                   .overlap = &overlap};
        snprintf(w[t].name, sizeof(w[t].name), "thread-%d", t);
        pthread_create(&th[t], NULL, worker_main, &w[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(w[t].errors, 0);
    }
    for (int i = 0; i < BATCH; i++)
        once += atomic_load(&claims[i]) == 1 && atomic_load(&applied[i]) == 1;
    CHECK_INT(once, BATCH);
    CHECK_INT(atomic_load(&overlap), 0);
    check_batch_results(s, id);
    printf("threads: %d items, each claimed and completed once by %d threads\n", once, N_THREADS);
    itx_jobs_close(s2);
    itx_jobs_close(s);
}

/* Child processes report through a pipe: 'c' claimed idx, 'd' completed (applied) idx. */
struct msg {
    char kind;
    int idx;
    int pid;
};

/* A worker process: opens its own store, works until no item is ready. hang_at >= 0: after
 * that many completions it claims one more item and then hangs (killed by the parent). */
static _Noreturn void
child_worker(const char *url, int fd, int hang_at, unsigned lease)
{
    struct itx_jobs *s = NULL;
    struct itx_diag d;
    int done = 0;
    char name[32];

    itx_diag_init(&d);
    snprintf(name, sizeof(name), "pid-%d", (int)getpid());
    if (itx_jobs_open(url, NULL, &s, &d) != ITX_OK) {
        fprintf(stderr, "child: %s\n", d.msg);
        _exit(2);
    }
    for (;;) {
        struct itx_jobs_item *it = NULL;
        enum itx_jobs_outcome oc = ITX_JOBS_LEASE_LOST;
        struct msg m = {'c', 0, (int)getpid()};
        char res[64];
        if (itx_jobs_claim(s, name, lease, &it, &d) != ITX_OK) {
            fprintf(stderr, "child claim: %s\n", d.msg);
            _exit(3);
        }
        if (!it)
            break;
        m.idx = (int)it->idx;
        if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
            _exit(4);
        if (hang_at >= 0 && done == hang_at)
            for (;;)
                pause(); /* "processing" forever: the parent kills us here */
        sleep_ms(2);     /* some work, so concurrent workers really interleave */
        snprintf(res, sizeof(res), "{\"idx\":%u,\"by\":%d}", it->idx, (int)getpid());
        if (itx_jobs_complete(s, it, res, &oc, &d) != ITX_OK) {
            fprintf(stderr, "child complete: %s\n", d.msg);
            _exit(5);
        }
        if (oc == ITX_JOBS_APPLIED) {
            m.kind = 'd';
            if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
                _exit(4);
            done++;
        }
        itx_jobs_item_free(it);
    }
    /* No itx_jobs_close, no atexit handlers: they belong to the parent. */
    _exit(0);
}

static void
test_processes(void)
{
    char url[512], id[33];
    struct itx_jobs *s;
    int fds[2], completed[BATCH] = {0}, claimed[BATCH] = {0}, by_child[2] = {0}, once = 0;
    pid_t pids[2];
    struct msg m;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    create_job(s, BATCH, "procs", id);
    itx_jobs_close(s); /* nothing of the store crosses fork() */
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    for (int k = 0; k < 2; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            close(fds[0]);
            child_worker(url, fds[1], -1, 120);
        }
    }
    close(fds[1]);
    while (read(fds[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
        if (m.kind == 'c' && m.idx >= 0 && m.idx < BATCH)
            claimed[m.idx]++;
        if (m.kind == 'd' && m.idx >= 0 && m.idx < BATCH) {
            completed[m.idx]++;
            by_child[m.pid == pids[0] ? 0 : 1]++;
        }
    }
    close(fds[0]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        waitpid(pids[k], &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", k, status);
    }
    for (int i = 0; i < BATCH; i++)
        once += completed[i] == 1 && claimed[i] == 1;
    CHECK_INT(once, BATCH);
    s = open_store(url, NULL);
    check_batch_results(s, id);
    itx_jobs_close(s);
    printf("processes: %d items claimed and completed once; split %d / %d\n", once, by_child[0],
           by_child[1]);
}

static void
test_kill9_resume(void)
{
    char url[512], id[33];
    struct itx_jobs *s;
    struct itx_job *j = NULL;
    struct itx_diag d;
    int fds[2], completed[BATCH] = {0}, once = 0, hung_idx = -1, resumed = 0;
    pid_t pid;
    struct msg m;
    int status = 0;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    create_job(s, BATCH, "kill", id);
    itx_jobs_close(s);
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_worker(url, fds[1], 60, 2);
    }
    close(fds[1]);
    /* Read until the child has claimed the item it will never finish, then kill -9 it. */
    while (read(fds[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
        if (m.kind == 'd')
            completed[m.idx]++;
        else if (m.kind == 'c' && m.idx >= 0 && completed[m.idx] == 0 && hung_idx < 0) {
            int n_done = 0;
            for (int i = 0; i < BATCH; i++)
                n_done += completed[i];
            if (n_done == 60) {
                hung_idx = m.idx;
                kill(pid, SIGKILL);
                break;
            }
        }
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(hung_idx >= 0);

    /* Resume: a new instance works until the job is final, rescuing the dead claim. */
    s = open_store(url, NULL);
    itx_diag_init(&d);
    for (int rounds = 0; rounds < 2000 && job_state(s, id) == ITX_JOB_RUNNING; rounds++) {
        struct itx_jobs_item *it = claim_wait(s, "resumer", 30, 200);
        enum itx_jobs_outcome oc = ITX_JOBS_LEASE_LOST;
        char res[64];
        if (!it)
            continue;
        snprintf(res, sizeof(res), "{\"idx\":%u,\"by\":0}", it->idx);
        CHECK(itx_jobs_complete(s, it, res, &oc, &d) == ITX_OK);
        if (oc == ITX_JOBS_APPLIED) {
            completed[it->idx]++;
            resumed++;
            if ((int)it->idx == hung_idx)
                CHECK_INT(it->attempt, 2);
        }
        itx_jobs_item_free(it);
    }
    for (int i = 0; i < BATCH; i++)
        once += completed[i] == 1;
    CHECK_INT(once, BATCH);
    CHECK_INT(resumed, BATCH - 60);
    check_batch_results(s, id);
    CHECK(itx_jobs_get(s, id, &j, &d) == ITX_OK);
    if (j && hung_idx >= 0)
        CHECK_INT(j->items[hung_idx].attempts, 2);
    itx_job_free(j);
    itx_jobs_close(s);
    printf("kill -9: child completed 60, killed holding item %d; resume completed %d; "
           "%d items exactly once\n",
           hung_idx, resumed, once);
}

/* ---- webhook claims ------------------------------------------------------------------------ */

/* A one-item job with a webhook, finished (its item claimed and completed). */
static void
finished_webhook_job(struct itx_jobs *s, const char *tag, char id[33])
{
    char src[64];
    struct itx_jobs_new_item item = {.source = src};
    struct itx_jobs_new job = {
        .items = &item, .n_items = 1, .settings = "{}", .webhook_url = "https://hook.example/done"};
    struct itx_jobs_item *it;
    struct itx_diag d;

    snprintf(src, sizeof(src), "https://img.alicdn.com/%s/1.jpg", tag);
    itx_diag_init(&d);
    CHECK_MSG(itx_jobs_create(s, &job, id, NULL, &d) == ITX_OK, "%s", d.msg);
    it = claim_wait(s, "w", 60, 2000);
    CHECK(it != NULL);
    if (it)
        CHECK(itx_jobs_complete(s, it, "{}", NULL, &d) == ITX_OK);
    itx_jobs_item_free(it);
    CHECK(job_state(s, id) == ITX_JOB_SUCCEEDED);
}

static bool
webhook_claim(struct itx_jobs *s, const char *id, const char *owner, unsigned lease_s)
{
    struct itx_diag d;
    bool claimed = false;
    itx_diag_init(&d);
    CHECK_MSG(itx_jobs_webhook_claim(s, id, owner, lease_s, &claimed, &d) == ITX_OK, "%s", d.msg);
    return claimed;
}

/* Whether id is among the notices waiting for an owner. */
static bool
webhook_due(struct itx_jobs *s, const char *id, size_t *n_due)
{
    char due[8][65];
    size_t n = 0;
    struct itx_diag d;
    bool found = false;

    itx_diag_init(&d);
    CHECK_MSG(itx_jobs_webhook_due(s, due, 8, &n, &d) == ITX_OK, "%s", d.msg);
    for (size_t i = 0; i < n; i++)
        found |= strcmp(due[i], id) == 0;
    if (n_due)
        *n_due = n;
    return found;
}

/*
 * A finished job's notice has one owner at a time: a second claim fails while the lease
 * lives, renewals keep it, only the owner's outcome counts. An owner killed -9 while it
 * holds the notice loses it when its lease runs out: the notice is due again, another
 * instance claims it, and the dead owner's claim no longer counts.
 */
static void
test_webhook_claims(void)
{
    char url[512], id[33], id2[33], *ws = NULL, c = 0;
    struct itx_jobs *s;
    struct itx_diag d;
    size_t n = 0;
    int fds[2], status = 0;
    pid_t pid;
    bool due = false;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_diag_init(&d);
    finished_webhook_job(s, "wh1", id);
    CHECK(webhook_due(s, id, &n) && n == 1);
    CHECK(webhook_claim(s, id, "a", 60));
    CHECK(!webhook_claim(s, id, "b", 60));
    CHECK(!webhook_due(s, id, &n) && n == 0);
    CHECK(itx_jobs_webhook_renew(s, "a", 60, &n, &d) == ITX_OK && n == 1);
    CHECK(itx_jobs_webhook_renew(s, "b", 60, &n, &d) == ITX_OK && n == 0);
    CHECK_INT(itx_jobs_webhook_done(s, id, "b", "delivered", &d), ITX_ERR_CONFLICT);
    itx_diag_init(&d);
    CHECK(itx_jobs_webhook_done(s, id, "a", "delivered", &d) == ITX_OK);
    CHECK(itx_jobs_webhook_state(s, id, &ws, &d) == ITX_OK && ws && !strcmp(ws, "delivered"));
    itx_free(ws);
    CHECK(!webhook_claim(s, id, "b", 60));
    CHECK(!webhook_due(s, id, NULL));

    /* the owner dies holding the notice */
    finished_webhook_job(s, "wh2", id2);
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        struct itx_jobs *cs = open_store(url, NULL);
        bool claimed = false;
        struct itx_diag cd;
        close(fds[0]);
        itx_diag_init(&cd);
        c = itx_jobs_webhook_claim(cs, id2, "child", 3, &claimed, &cd) == ITX_OK && claimed ? 'c'
                                                                                            : 'x';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause(); /* killed -9 here, holding the claim */
    }
    close(fds[1]);
    CHECK(read(fds[0], &c, 1) == 1 && c == 'c');
    close(fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* due again once the 3 s lease has run out (the bound only ends a broken run) */
    for (int i = 0; i < 300 && !due; i++) {
        due = webhook_due(s, id2, NULL);
        if (!due)
            sleep_ms(100);
    }
    CHECK_MSG(due, "the dead owner's notice never became due again");
    CHECK(webhook_claim(s, id2, "resumer", 60));
    CHECK_INT(itx_jobs_webhook_done(s, id2, "child", "delivered", &d), ITX_ERR_CONFLICT);
    itx_diag_init(&d);
    CHECK(itx_jobs_webhook_done(s, id2, "resumer", "delivered", &d) == ITX_OK);
    CHECK(!webhook_due(s, id2, NULL));
    itx_jobs_close(s);
}

/* ---- server restart, retention, caches --------------------------------------------------- */

static void
test_pg_restart(void)
{
    char url[512], id[33];
    struct itx_jobs *s;
    struct itx_job *j = NULL;
    struct itx_diag d;
    enum itx_status st;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    create_job(s, 2, "restart", id);
    CHECK(job_state(s, id) == ITX_JOB_QUEUED);
    cluster("restart");
    /* The next call reconnects (or, at worst, fails cleanly); the one after must work. */
    itx_diag_init(&d);
    st = itx_jobs_get(s, id, &j, &d);
    CHECK_MSG(st == ITX_OK || st == ITX_ERR_UNAVAILABLE, "%s", d.msg);
    printf("first call after a server restart: %s%s%s\n", itx_err_str(st), st ? ": " : "",
           st ? d.msg : "");
    itx_job_free(j);
    j = NULL;
    CHECK_MSG(itx_jobs_get(s, id, &j, &d) == ITX_OK, "%s", d.msg);
    itx_job_free(j);
    j = NULL;
    create_job(s, 1, "after", id);

    /* While the server is down calls fail cleanly; when it is back they work again. */
    cluster("down");
    st = itx_jobs_get(s, id, &j, &d);
    CHECK_MSG(st == ITX_ERR_UNAVAILABLE, "%s: %s", itx_err_str(st), d.msg);
    printf("call while the server is down: %s: %s\n", itx_err_str(st), d.msg);
    itx_job_free(j);
    j = NULL;
    cluster("up");
    CHECK_MSG(itx_jobs_get(s, id, &j, &d) == ITX_OK, "%s", d.msg);
    itx_job_free(j);
    itx_jobs_close(s);
}

static void
test_retention(void)
{
    char url[512], a[33], b[33], c[33];
    struct itx_jobs *s;
    struct itx_jobs_item *it = NULL;
    struct itx_job *ja = NULL, *j = NULL;
    struct itx_diag d;
    size_t n = 99;
    int64_t now = 0;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_diag_init(&d);
    /* a is the only job when the claim runs: claims order by ready time, then job id (random),
     * so with b and c already there the claim could take one of theirs. */
    create_job(s, 1, "a", a);
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && it);
    if (it)
        CHECK(itx_jobs_complete(s, it, "{}", NULL, &d) == ITX_OK);
    itx_jobs_item_free(it);
    create_job(s, 1, "b", b);
    create_job(s, 1, "c", c);
    CHECK(itx_jobs_get(s, a, &ja, &d) == ITX_OK);
    CHECK(ja && ja->state == ITX_JOB_SUCCEEDED);
    sleep_ms(30);
    CHECK(itx_jobs_cancel(s, b, NULL, &d) == ITX_OK);
    /* Finished before a's finish + 1 ms: only a. c is not finished at all. */
    CHECK(itx_jobs_purge(s, ja ? ja->finished_ms + 1 : 0, &n, &d) == ITX_OK);
    CHECK_INT(n, 1);
    CHECK(itx_jobs_get(s, a, &j, &d) == ITX_ERR_NOT_FOUND);
    CHECK(itx_jobs_get(s, b, &j, &d) == ITX_OK);
    itx_job_free(j);
    CHECK(itx_jobs_now_ms(s, &now, &d) == ITX_OK);
    CHECK(now >= (ja ? ja->finished_ms : 0));
    CHECK(itx_jobs_purge(s, now + 1000, &n, &d) == ITX_OK);
    CHECK_INT(n, 1);
    CHECK(itx_jobs_get(s, b, &j, &d) == ITX_ERR_NOT_FOUND);
    CHECK(job_state(s, c) == ITX_JOB_QUEUED);
    /* By age in days: c, cancelled just now, is younger than a day. */
    CHECK(itx_jobs_cancel(s, c, NULL, &d) == ITX_OK);
    CHECK(itx_jobs_purge_older(s, 1, &n, &d) == ITX_OK);
    CHECK_INT(n, 0);
    CHECK(job_state(s, c) == ITX_JOB_CANCELLED);
    sleep_ms(5);
    CHECK(itx_jobs_purge_older(s, 0, &n, &d) == ITX_OK);
    CHECK_INT(n, 1);
    itx_job_free(ja);
    itx_jobs_close(s);
}

static void
test_caches(void)
{
    char url[512], key[65];
    struct itx_jobs *s, *s2;
    struct itx_tr_cache *tc = NULL;
    struct itx_diag d;
    char *v = NULL;
    uint64_t e = 0, h = 0, m = 0;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    s2 = open_store(url, NULL);
    itx_diag_init(&d);
    CHECK(itx_jobs_result_get(s, "sha256:aa", &v, &d) == ITX_ERR_NOT_FOUND);
    CHECK(itx_jobs_result_put(s, "sha256:aa", "{\"url\":\"first\"}", &d) == ITX_OK);
    CHECK(itx_jobs_result_put(s2, "sha256:aa", "{\"url\":\"second\"}", &d) == ITX_OK);
    CHECK(itx_jobs_result_get(s2, "sha256:aa", &v, &d) == ITX_OK);
    CHECK_STR(v ? v : "", "{\"url\":\"first\"}");
    itx_free(v);
    v = NULL;
    CHECK(itx_jobs_result_get(s, "", &v, &d) == ITX_ERR_INVALID);

    /* The store as src/translate's cache backend, shared by two handles. */
    CHECK(itx_jobs_tr_cache_new(s, &tc, &d) == ITX_OK);
    itx_tr_cache_key("gemini", "m", "1", "zh", "en", "g1", "包邮", key);
    CHECK(itx_tr_cache_get(tc, key, &v, &d) == ITX_ERR_NOT_FOUND);
    CHECK(itx_tr_cache_put(tc, key, "Free shipping", &d) == ITX_OK);
    CHECK(itx_tr_cache_get(tc, key, &v, &d) == ITX_OK);
    CHECK_STR(v ? v : "", "Free shipping");
    itx_free(v);
    v = NULL;
    CHECK(itx_jobs_tr_get(s2, key, &v, &d) == ITX_OK);
    itx_free(v);
    v = NULL;
    itx_tr_cache_counters(tc, &h, &m);
    CHECK_INT(h, 1);
    CHECK_INT(m, 1);
    CHECK(itx_jobs_tr_stats(s2, &e, &h, &m, &d) == ITX_OK);
    CHECK_INT(e, 1);
    CHECK_INT(h, 2);
    CHECK_INT(m, 1);
    itx_tr_cache_free(tc);
    itx_jobs_close(s2);
    itx_jobs_close(s);
}

/* A database written by a newer build is refused, not corrupted. */
static void
test_newer_schema(void)
{
    char url[512];
    struct itx_jobs *s;
    struct itx_diag d;

    fresh_url(url, sizeof(url));
    s = open_store(url, NULL);
    itx_jobs_close(s);
    if (use_pg) {
        PGconn *c = PQconnectdb(url);
        PGresult *r = PQexec(c, "INSERT INTO itx_schema_migrations VALUES (99, 0)");
        CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_open(url + 7, &db) == SQLITE_OK);
        /* The store left the file in WAL mode (a property of the file, not the connection). */
        CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        CHECK(sqlite3_exec(db, "INSERT INTO itx_schema_migrations VALUES (99, 0)", NULL, NULL,
                           NULL) == SQLITE_OK);
        sqlite3_close(db);
    }
    itx_diag_init(&d);
    CHECK(itx_jobs_open(url, NULL, &s, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "99") != NULL);
}

/* Runs one case and prints how long it took (information only, never asserted). */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        double t0_ = itx_now_ms();                                                                 \
        fn();                                                                                      \
        printf("%-28s %7.0f ms\n", #fn, itx_now_ms() - t0_);                                       \
        fflush(stdout);                                                                            \
    } while (0)

int
main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "sqlite";

    use_pg = strcmp(backend, "postgres") == 0;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/itx-jobs-test-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(remove_tmp);
    /* As root the server runs as another user, who must be able to reach its directory. */
    chmod(tmp_dir, 0755);
    if (use_pg && !start_cluster()) {
        fprintf(stderr, "cannot start a PostgreSQL test cluster with %s\n", script);
        return 1;
    }
    RUN(test_create_get);
    RUN(test_claim_complete_fail);
    RUN(test_retry_backoff);
    RUN(test_lease_rescue);
    RUN(test_cancel);
    RUN(test_timeouts);
    RUN(test_threads);
    RUN(test_processes);
    RUN(test_kill9_resume);
    RUN(test_webhook_claims);
    RUN(test_retention);
    RUN(test_caches);
    RUN(test_newer_schema);
    if (use_pg)
        RUN(test_pg_restart);
    return check_summary();
}
