/*
 * Regression test (found by the allocation-failure driver under ASan): a worker whose work
 * ignores its cancellation for longer than the stop's wait is left running, and
 * itx_server_free must then leave the server alone instead of freeing memory that worker
 * still uses when its work returns (was a heap-use-after-free in the worker loop). The
 * server is then deliberately not freed (server.h), so LeakSanitizer is told about it below.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/alloc.h"
#include "server/proc.h"
#include "server/server.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    /* The server a stuck worker still uses is left allocated on purpose (itx_server_free). */
    return "leak:itx_server_new\nleak:pool_start\nleak:itx_metrics_add\nleak:itx_metric_series\n";
}

const char *__tsan_default_suppressions(void);
const char *
__tsan_default_suppressions(void)
{
    /* The worker left running is never joined, by design (itx_server_free leaves the server
     * and its worker alone): under ThreadSanitizer that is a thread leak at exit, reported for
     * this test only. */
    return "thread:pool_start\n";
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Work that does not look at its cancellation for 4 s. */
static enum itx_server_step
stuck_run(struct itx_server_work *w, const struct itx_cancel *c)
{
    (void)c;
    sleep_ms(4000);
    itx_buf_puts(&w->reply, "{}");
    return ITX_SERVER_STEP_DONE;
}

static void
stuck_destroy(struct itx_server_work *w)
{
    itx_free(w);
}

static enum itx_status
stuck_translate(void *ud, struct itx_api_request *req, struct itx_server_work **out,
                struct itx_diag *d)
{
    struct itx_server_work *w = itx_calloc(1, sizeof(*w));
    (void)ud;
    itx_api_request_free(req);
    if (!w)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    itx_server_work_init(w, stuck_run, stuck_destroy);
    *out = w;
    return ITX_OK;
}

static unsigned port;

static void *
client(void *arg)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    static const char body[] =
        "{\"target_lang\":\"en\",\"images\":[{\"url\":\"https://a.example/x.jpg\"}]}";
    struct resp r;
    (void)arg;
    http(port, "POST", "/v1/translate", h, body, sizeof(body) - 1, &r);
    resp_free(&r); /* answered or not: proc.c leaves strings either way */
    return NULL;
}

int
main(void)
{
    struct itx_server_config c;
    struct itx_server_pipeline plug = {.translate = stuck_translate};
    struct itx_server *s = NULL;
    struct itx_diag d;
    pthread_t t;

    itx_diag_init(&d);
    itx_server_config_init(&c);
    snprintf(c.bind, sizeof(c.bind), "127.0.0.1");
    c.port = 0;
    c.workers = 1;
    c.http_threads = 1;
    c.grace_ms = 100;
    CHECK_MSG(itx_server_new(&c, &s, &d) == ITX_OK, "%s", d.msg);
    if (!s)
        return check_summary();
    itx_server_set_pipeline(s, &plug);
    CHECK_MSG(itx_server_start(s, &d) == ITX_OK, "%s", d.msg);
    port = itx_server_port(s);
    pthread_create(&t, NULL, client, NULL);
    CHECK(metric_wait(port, "itx_workers_busy", 1, 10000));
    /* Stop gives the worker 1 s, free another; the work still runs for about 2 s more. */
    itx_server_stop(s);
    itx_server_free(s);
    pthread_join(t, NULL);
    sleep_ms(3000); /* the worker returns from its work and must find its server intact */
    CHECK(1);
    return check_summary();
}
