/*
 * Allocation-failure injection over the job store (SQLite): a fixed sequence of calls runs
 * once per allocation, with that allocation failing. Every call must then succeed or fail
 * cleanly with ITX_ERR_NOMEM, and nothing may leak (run under the asan preset) or crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "jobs/jobs.h"

static int unclean;

static void
expect(enum itx_status s, const char *what, const struct itx_diag *d)
{
    if (s != ITX_OK && s != ITX_ERR_NOMEM && s != ITX_ERR_NOT_FOUND) {
        unclean++;
        fprintf(stderr, "%s: %s: %s\n", what, itx_err_str(s), d->msg);
    }
}

/* The sequence; returns after the first failure, like a caller would. */
static void
run(const char *url)
{
    struct itx_jobs_new_item items[3] = {
        {"https://a/1.jpg", "{\"x\":1}"}, {"upload:k", NULL}, {"https://a/3.jpg", NULL}};
    struct itx_jobs_new job = {.items = items,
                               .n_items = 3,
                               .settings = "{}",
                               .idempotency_key = "k1",
                               .webhook_url = "https://hook.example/done"};
    struct itx_jobs *s = NULL;
    struct itx_jobs_item *it = NULL;
    struct itx_job *j = NULL;
    struct itx_diag d;
    char id[33], *v = NULL;
    enum itx_status st;

    itx_diag_init(&d);
    st = itx_jobs_open(url, NULL, &s, &d);
    expect(st, "open", &d);
    if (st != ITX_OK)
        return;
    if ((st = itx_jobs_create(s, &job, id, NULL, &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_get(s, id, &j, &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_claim(s, "w", 60, &it, &d)) != ITX_OK || !it)
        goto out;
    if ((st = itx_jobs_heartbeat(s, it, 60, "ocr", 0.5, &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_complete(s, it, "{\"r\":1}", NULL, &d)) != ITX_OK)
        goto out;
    itx_jobs_item_free(it);
    it = NULL;
    if ((st = itx_jobs_claim(s, "w", 60, &it, &d)) != ITX_OK || !it)
        goto out;
    if ((st = itx_jobs_fail(s, it, "io", "disk", true, NULL, &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_result_put(s, "k", "{}", &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_result_get(s, "k", &v, &d)) != ITX_OK)
        goto out;
    if ((st = itx_jobs_cancel(s, id, NULL, &d)) != ITX_OK)
        goto out;
    {
        uint64_t q, r;
        bool claimed = false;
        char *ws = NULL, due[4][65];
        size_t n_due;
        if ((st = itx_jobs_counts(s, &q, &r, &d)) != ITX_OK ||
            (st = itx_jobs_webhook_due(s, due, 4, &n_due, &d)) != ITX_OK ||
            (st = itx_jobs_webhook_claim(s, id, "i1", 60, &claimed, &d)) != ITX_OK ||
            (st = itx_jobs_webhook_renew(s, "i1", 60, NULL, &d)) != ITX_OK ||
            (claimed && (st = itx_jobs_webhook_done(s, id, "i1", "delivered", &d)) != ITX_OK))
            goto out;
        st = itx_jobs_webhook_state(s, id, &ws, &d);
        itx_free(ws);
    }
out:
    expect(st, "call", &d);
    itx_free(v);
    itx_jobs_item_free(it);
    itx_job_free(j);
    itx_jobs_close(s);
}

int
main(void)
{
    /* On tmpfs when there is one: the runs are many and each commit is an fsync. */
    char dir[64], url[128], cmd[160];
    unsigned long n, runs = 0;

    snprintf(dir, sizeof(dir), "%s/itx-jobs-alloc-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    /* First only allocation n fails, then every allocation from n on (sticky). */
    for (int sticky = 0; sticky < 2; sticky++) {
        for (n = 1; n < 5000; n++) {
            bool injected;
            snprintf(url, sizeof(url), "sqlite:%s/db%d-%lu.db", dir, sticky, n);
            itx_alloc_fail_at(n, sticky);
            run(url);
            injected = itx_alloc_injected();
            itx_alloc_fail_at(0, false);
            runs++;
            if (!injected)
                break; /* the whole sequence ran without reaching allocation n */
        }
        CHECK_MSG(n < 5000, "the sequence never finished without an injected failure");
    }
    CHECK_INT(unclean, 0);
    printf("%lu runs, each with allocation failures injected\n", runs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
