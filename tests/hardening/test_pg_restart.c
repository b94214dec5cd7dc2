/*
 * PostgreSQL restarted under load (the jobs library, a throwaway cluster from
 * tests/jobs/pg-test-cluster.sh): worker threads, each with its own store handle (one
 * connection), claim, heartbeat and complete items while a producer keeps creating jobs; the
 * server is restarted (fast shutdown: connections cut) twice in the middle.
 *
 * Calls made while the server is down fail with ITX_ERR_UNAVAILABLE, as they must. Of the
 * calls started while the server is up, each thread may see one fail per restart (the call
 * that finds its connection cut), never two in a row: the next call reconnects. Every failure
 * is ITX_ERR_UNAVAILABLE. Afterwards every job has succeeded and every item was completed
 * exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "jobs/jobs.h"

#define N_WORKERS 4
#define N_JOBS 120
#define N_ITEMS 3

static char dir[64] = "/tmp/itx-pg-restart-XXXXXX", script[1024], url[512];
static atomic_bool stop_workers;
static atomic_bool server_down; /* set before a restart starts, cleared once it is back */
static atomic_int n_created, n_completed;
static char ids[N_JOBS][33];

struct worker {
    int id;
    int failures_down;                    /* calls started while the server was down */
    int failures, max_in_a_row, in_a_row; /* calls started while it was up */
    int unclean;                          /* failures other than ITX_ERR_UNAVAILABLE */
    char last_error[600];
};

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* was_down: whether the server was down when the call started. */
static void
note(struct worker *w, bool was_down, enum itx_status st, const struct itx_diag *d)
{
    if (st == ITX_OK) {
        w->in_a_row = 0;
        return;
    }
    if (st != ITX_ERR_UNAVAILABLE)
        w->unclean++;
    snprintf(w->last_error, sizeof(w->last_error), "%s: %s", itx_err_str(st), d->msg);
    if (was_down || atomic_load(&server_down)) {
        w->failures_down++;
        return;
    }
    w->failures++;
    if (++w->in_a_row > w->max_in_a_row)
        w->max_in_a_row = w->in_a_row;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct itx_jobs_opts o = {.pool_size = 1, .backoff_base_ms = 50, .backoff_max_ms = 200};
    struct itx_jobs *s = NULL;
    struct itx_diag d;
    char name[16];

    itx_diag_init(&d);
    snprintf(name, sizeof(name), "w%d", w->id);
    if (itx_jobs_open(url, &o, &s, &d) != ITX_OK) {
        snprintf(w->last_error, sizeof(w->last_error), "open: %s", d.msg);
        w->failures = 1000;
        return NULL;
    }
    while (!atomic_load(&stop_workers)) {
        struct itx_jobs_item *it = NULL;
        bool down = atomic_load(&server_down);
        enum itx_status st = itx_jobs_claim(s, name, 2, &it, &d);
        note(w, down, st, &d);
        if (st != ITX_OK || !it) {
            sleep_ms(st == ITX_OK ? 5 : 20);
            continue;
        }
        down = atomic_load(&server_down);
        st = itx_jobs_heartbeat(s, it, 2, "work", 0.5, &d);
        note(w, down, st, &d);
        if (st == ITX_OK) {
            enum itx_jobs_outcome out;
            sleep_ms(2);
            down = atomic_load(&server_down);
            st = itx_jobs_complete(s, it, "{\"ok\":true}", &out, &d);
            note(w, down, st, &d);
            if (st == ITX_OK && out == ITX_JOBS_APPLIED)
                atomic_fetch_add(&n_completed, 1);
        }
        /* A claim whose heartbeat or completion failed is taken again once its 2 s lease
         * has run out. */
        itx_jobs_item_free(it);
    }
    itx_jobs_close(s);
    return NULL;
}

static void *
producer_main(void *arg)
{
    struct worker *w = arg;
    struct itx_jobs_opts o = {.pool_size = 1};
    struct itx_jobs *s = NULL;
    struct itx_diag d;
    struct itx_jobs_new_item items[N_ITEMS] = {{"https://example.com/a.jpg", NULL},
                                               {"https://example.com/b.jpg", NULL},
                                               {"https://example.com/c.jpg", NULL}};

    itx_diag_init(&d);
    if (itx_jobs_open(url, &o, &s, &d) != ITX_OK) {
        w->failures = 1000;
        return NULL;
    }
    for (int i = 0; i < N_JOBS;) {
        char key[32];
        struct itx_jobs_new job = {.items = items, .n_items = N_ITEMS, .idempotency_key = key};
        enum itx_status st;
        bool down = atomic_load(&server_down);
        /* An idempotency key per job: a create whose answer was lost in a restart is sent
         * again and returns the same job, not a second one. */
        snprintf(key, sizeof(key), "job-%d", i);
        st = itx_jobs_create(s, &job, ids[i], NULL, &d);
        note(w, down, st, &d);
        if (st == ITX_OK) {
            i++;
            atomic_fetch_add(&n_created, 1);
        }
        sleep_ms(st == ITX_OK ? 15 : 20);
    }
    itx_jobs_close(s);
    return NULL;
}

static bool
cluster(const char *what)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' %s '%s' >/dev/null", script, what, dir);
    return system(cmd) == 0;
}

int
main(void)
{
    const char *src = getenv("ITX_SOURCE_DIR");
    struct worker w[N_WORKERS + 1];
    pthread_t th[N_WORKERS + 1];
    struct itx_jobs *s = NULL;
    struct itx_diag d;
    char cmd[2200];
    FILE *p;
    int succeeded = 0;

    itx_diag_init(&d);
    snprintf(script, sizeof(script), "%s/tests/jobs/pg-test-cluster.sh", src ? src : ".");
    if (!mkdtemp(dir) || chmod(dir, 0755) != 0)
        return 2;
    snprintf(cmd, sizeof(cmd), "'%s' start '%s/pg'", script, dir);
    strcat(dir, "/pg");
    p = popen(cmd, "r");
    if (!p || !fgets(url, sizeof(url), p)) {
        if (p)
            pclose(p);
        CHECK_MSG(0, "no PostgreSQL cluster (Debian 'postgresql': scripts/setup.sh --dev)");
        return check_summary();
    }
    url[strcspn(url, "\n")] = '\0';
    if (pclose(p) != 0) {
        CHECK_MSG(0, "pg-test-cluster.sh start failed");
        return check_summary();
    }
    /* Create the schema once, before the threads race to. */
    CHECK_MSG(itx_jobs_open(url, NULL, &s, &d) == ITX_OK, "%s", d.msg);
    itx_jobs_close(s);
    s = NULL;

    memset(w, 0, sizeof(w));
    for (int i = 0; i <= N_WORKERS; i++) {
        w[i].id = i;
        pthread_create(&th[i], NULL, i == N_WORKERS ? producer_main : worker_main, &w[i]);
    }
    /* Two restarts while jobs are being created and worked on. */
    for (int r = 0; r < 2; r++) {
        sleep_ms(700);
        atomic_store(&server_down, true);
        CHECK_MSG(cluster("restart"), "restart %d failed", r + 1);
        atomic_store(&server_down, false); /* pg_ctl -w: it accepts connections again */
        printf("restart %d: %d jobs created, %d items completed so far\n", r + 1,
               atomic_load(&n_created), atomic_load(&n_completed));
    }
    pthread_join(th[N_WORKERS], NULL);
    /* Until nothing is queued or running (an item whose completion answer was lost in a
     * restart was still completed, or is claimed again when its lease runs out). */
    CHECK_MSG(itx_jobs_open(url, NULL, &s, &d) == ITX_OK, "%s", d.msg);
    for (int i = 0; s && i < 600; i++) {
        uint64_t queued = 1, running = 1;
        if (itx_jobs_counts(s, &queued, &running, &d) == ITX_OK && queued == 0 && running == 0)
            break;
        sleep_ms(100);
    }
    atomic_store(&stop_workers, true);
    for (int i = 0; i < N_WORKERS; i++)
        pthread_join(th[i], NULL);

    for (int i = 0; i <= N_WORKERS; i++) {
        printf("%s %d: %d calls failed while the server was down; while it was up %d failed, "
               "at most %d in a row%s%s\n",
               i == N_WORKERS ? "producer" : "worker", i, w[i].failures_down, w[i].failures,
               w[i].max_in_a_row, w[i].last_error[0] ? "; last error: " : "", w[i].last_error);
        CHECK_MSG(w[i].unclean == 0, "thread %d: %d failures were not 'unavailable': %s", i,
                  w[i].unclean, w[i].last_error);
        CHECK_MSG(w[i].max_in_a_row <= 1, "thread %d failed %d calls in a row: %s", i,
                  w[i].max_in_a_row, w[i].last_error);
        CHECK_MSG(w[i].failures <= 2, "thread %d failed %d calls over two restarts", i,
                  w[i].failures);
    }
    CHECK_INT(atomic_load(&n_created), N_JOBS);
    /* Completions this side saw applied; one whose answer a restart cut is not counted. */
    CHECK(atomic_load(&n_completed) <= N_JOBS * N_ITEMS);
    for (int i = 0; s && i < N_JOBS; i++) {
        struct itx_job *j = NULL;
        if (itx_jobs_get(s, ids[i], &j, &d) == ITX_OK && j->state == ITX_JOB_SUCCEEDED)
            succeeded++;
        itx_job_free(j);
    }
    itx_jobs_close(s);
    printf("after two restarts under load: %d of %d jobs succeeded (%d item completions "
           "answered as applied)\n",
           succeeded, N_JOBS, atomic_load(&n_completed));
    CHECK_INT(succeeded, N_JOBS);
    cluster("stop");
    dir[strlen(dir) - 3] = '\0';
    rmdir(dir);
    return check_summary();
}
