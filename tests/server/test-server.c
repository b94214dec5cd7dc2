/*
 * test-server: the real server library with a test pipeline plugged in, so the integration
 * test can drive concurrency, admission, deadlines, hand-offs to I/O and draining over real
 * HTTP before the image pipeline exists. Settings are read exactly as `itx serve` reads
 * them. The test pipeline picks its behaviour from the request's "provider":
 *
 *   echo (or none)  answer with what the parser produced (counts, types, sizes, names)
 *   sleep-<ms>      sleep in 10 ms steps, checking the cancellation flag between steps
 *   spin            run until cancelled (the deadline test)
 *   gate            run until the file $TEST_GATE exists (the overload test)
 *   io-gate         hand a wait to an I/O thread that wakes the work when $TEST_IO_GATE
 *                   exists; the worker is free meanwhile
 *   fail-<status>   fail with that itx status name (e.g. fail-upstream)
 *
 * Jobs: POST /v1/jobs echoes the Idempotency-Key and answers 202 with a Location;
 * GET /v1/jobs/missing is 404; other ids answer a queued job; :cancel answers cancelled.
 * Warm-up waits for $TEST_WARMUP_GATE to exist when set; the readiness check "dependency"
 * fails while $TEST_DOWN_FILE exists.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "server/server.h"

struct test_work {
    struct itx_server_work w; /* first member: the server's part */
    struct itx_api_request *req;
    char job_id[72];
    char idem[256];
    int kind; /* 0 translate, 1 submit, 2 get, 3 cancel */
    bool waited;
};

static atomic_int job_counter;

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool
file_exists(const char *env)
{
    const char *p = getenv(env);
    return p && access(p, F_OK) == 0;
}

static void
destroy(struct itx_server_work *w)
{
    struct test_work *t = (struct test_work *)w;
    itx_api_request_free(t->req);
    itx_free(t);
}

static void *
io_thread(void *arg)
{
    struct test_work *t = arg;
    /* A stand-in for a download or an LLM call: wait for the gate or the cancellation. */
    while (!file_exists("TEST_IO_GATE") && !itx_cancel_requested(&t->w.cancel))
        sleep_ms(5);
    itx_server_work_wake(&t->w);
    return NULL;
}

static enum itx_server_step
echo(struct test_work *t)
{
    struct itx_buf *b = &t->w.reply;
    const struct itx_api_request *r = t->req;

    itx_buf_printf(b, "{\"n_images\":%zu,\"source_lang\":", r->n_images);
    itx_buf_json_str(b, r->source_lang);
    itx_buf_puts(b, ",\"target_lang\":");
    itx_buf_json_str(b, r->target_lang);
    itx_buf_printf(b, ",\"n_glossary\":%zu,\"images\":[", r->n_glossary);
    for (size_t i = 0; i < r->n_images; i++) {
        const struct itx_api_image *im = &r->images[i];
        itx_buf_printf(b, "%s{\"size\":%zu,\"type\":", i ? "," : "", im->size);
        itx_buf_json_str(b, im->type ? im->type : "");
        itx_buf_puts(b, ",\"url\":");
        itx_buf_json_str(b, im->url ? im->url : "");
        itx_buf_puts(b, ",\"name\":");
        itx_buf_json_str(b, im->name ? im->name : "");
        itx_buf_puts(b, "}");
    }
    itx_buf_puts(b, "]}");
    {
        /* A progress line as the pipeline will write them, tied to the request. */
        struct itx_log_ctx ctx = {.request_id = t->w.request_id,
                                  .trace = t->w.trace[0] ? t->w.trace : NULL,
                                  .stage = "echo",
                                  .image = -1};
        itx_log(ITX_LOG_INFO, &ctx, NULL, "echoed %zu images", r->n_images);
    }
    return ITX_SERVER_STEP_DONE;
}

static enum itx_server_step
run_translate(struct test_work *t, const struct itx_cancel *c)
{
    const char *p = t->req->provider ? t->req->provider : "echo";

    if (strcmp(p, "echo") == 0)
        return echo(t);
    if (strncmp(p, "sleep-", 6) == 0) {
        long ms = atol(p + 6);
        for (long done = 0; done < ms; done += 10) {
            if (itx_cancel_requested(c)) {
                itx_diag_set(&t->w.diag, itx_cancel_reason(c), "cancelled");
                return ITX_SERVER_STEP_DONE;
            }
            sleep_ms(10);
        }
        itx_buf_printf(&t->w.reply, "{\"slept_ms\":%ld}", ms);
        return ITX_SERVER_STEP_DONE;
    }
    if (strcmp(p, "spin") == 0 || strcmp(p, "gate") == 0) {
        bool gate = p[0] == 'g';
        while (!itx_cancel_requested(c) && !(gate && file_exists("TEST_GATE")))
            sleep_ms(2);
        if (itx_cancel_requested(c))
            itx_diag_set(&t->w.diag, itx_cancel_reason(c), "cancelled");
        else
            itx_buf_puts(&t->w.reply, "{\"gate\":\"open\"}");
        return ITX_SERVER_STEP_DONE;
    }
    if (strcmp(p, "io-gate") == 0) {
        pthread_t th;
        if (t->waited) {
            itx_buf_puts(&t->w.reply, "{\"io\":\"done\"}");
            return ITX_SERVER_STEP_DONE;
        }
        t->waited = true;
        if (pthread_create(&th, NULL, io_thread, t) != 0) {
            itx_diag_set(&t->w.diag, ITX_ERR_INTERNAL, "cannot start the I/O thread");
            return ITX_SERVER_STEP_DONE;
        }
        pthread_detach(th);
        return ITX_SERVER_STEP_WAIT;
    }
    if (strncmp(p, "fail-", 5) == 0) {
        for (int s = 1; s < ITX_STATUS_COUNT; s++)
            if (strcmp(itx_err_str((enum itx_status)s), p + 5) == 0) {
                itx_diag_set(&t->w.diag, (enum itx_status)s, "the test pipeline failed as asked");
                return ITX_SERVER_STEP_DONE;
            }
    }
    itx_diag_set(&t->w.diag, ITX_ERR_INVALID, "unknown provider '%s'", p);
    return ITX_SERVER_STEP_DONE;
}

static enum itx_server_step
run(struct itx_server_work *w, const struct itx_cancel *c)
{
    struct test_work *t = (struct test_work *)w;

    switch (t->kind) {
    case 0:
        return run_translate(t, c);
    case 1:
        t->w.status = 202;
        snprintf(t->w.location, sizeof(t->w.location), "/v1/jobs/%s", t->job_id);
        itx_buf_printf(&t->w.reply,
                       "{\"id\":\"%s\",\"state\":\"queued\",\"n_images\":%zu,"
                       "\"idempotency_key\":",
                       t->job_id, t->req->n_images);
        itx_buf_json_str(&t->w.reply, t->idem);
        itx_buf_puts(&t->w.reply, "}");
        return ITX_SERVER_STEP_DONE;
    case 2:
        if (strcmp(t->job_id, "missing") == 0) {
            itx_diag_set(&t->w.diag, ITX_ERR_NOT_FOUND, "no job '%s'", t->job_id);
            return ITX_SERVER_STEP_DONE;
        }
        itx_buf_printf(&t->w.reply, "{\"id\":\"%s\",\"state\":\"queued\"}", t->job_id);
        return ITX_SERVER_STEP_DONE;
    default:
        itx_buf_printf(&t->w.reply, "{\"id\":\"%s\",\"state\":\"cancelled\"}", t->job_id);
        return ITX_SERVER_STEP_DONE;
    }
}

static enum itx_status
make(int kind, struct itx_api_request *req, const char *id, const char *idem,
     struct itx_server_work **out, struct itx_diag *d)
{
    struct test_work *t = itx_calloc(1, sizeof(*t));
    if (!t) {
        itx_api_request_free(req);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    }
    itx_server_work_init(&t->w, run, destroy);
    t->kind = kind;
    t->req = req;
    if (id)
        snprintf(t->job_id, sizeof(t->job_id), "%s", id);
    if (idem)
        snprintf(t->idem, sizeof(t->idem), "%s", idem);
    *out = &t->w;
    return ITX_OK;
}

static enum itx_status
p_translate(void *ud, struct itx_api_request *req, struct itx_server_work **out, struct itx_diag *d)
{
    (void)ud;
    return make(0, req, NULL, NULL, out, d);
}

static enum itx_status
p_submit(void *ud, struct itx_api_request *req, const char *idem, struct itx_server_work **out,
         struct itx_diag *d)
{
    char id[32];
    (void)ud;
    snprintf(id, sizeof(id), "job-%d", atomic_fetch_add(&job_counter, 1) + 1);
    return make(1, req, id, idem, out, d);
}

static enum itx_status
p_get(void *ud, const char *id, struct itx_server_work **out, struct itx_diag *d)
{
    (void)ud;
    return make(2, NULL, id, NULL, out, d);
}

static enum itx_status
p_cancel(void *ud, const char *id, struct itx_server_work **out, struct itx_diag *d)
{
    (void)ud;
    return make(3, NULL, id, NULL, out, d);
}

static enum itx_status
warmup(void *ud, struct itx_diag *d)
{
    (void)ud;
    (void)d;
    while (getenv("TEST_WARMUP_GATE") && !file_exists("TEST_WARMUP_GATE"))
        sleep_ms(5);
    return ITX_OK;
}

static enum itx_status
dependency(void *ud, struct itx_diag *d)
{
    (void)ud;
    if (file_exists("TEST_DOWN_FILE"))
        return itx_diag_set(d, ITX_ERR_UNAVAILABLE, "the test dependency is down");
    return ITX_OK;
}

int
main(int argc, char **argv)
{
    struct itx_server_config cfg;
    struct itx_server *srv = NULL;
    struct itx_diag d;
    const struct itx_server_pipeline pipe = {
        .translate = p_translate, .job_submit = p_submit, .job_get = p_get, .job_cancel = p_cancel};

    itx_log_init();
    itx_diag_init(&d);
    itx_server_config_init(&cfg);
    snprintf(cfg.version, sizeof(cfg.version), "test");
    if (itx_server_config_load(&cfg, argc, argv, &d) != ITX_OK) {
        fprintf(stderr, "test-server: %s\n", d.msg);
        return 2;
    }
    itx_server_block_signals();
    if (itx_server_new(&cfg, &srv, &d) != ITX_OK) {
        fprintf(stderr, "test-server: %s\n", d.msg);
        return 1;
    }
    itx_server_set_pipeline(srv, &pipe);
    itx_server_add_warmup(srv, "test-gate", warmup, NULL);
    itx_server_add_ready_check(srv, "dependency", dependency, NULL);
    if (itx_server_start(srv, &d) != ITX_OK) {
        fprintf(stderr, "test-server: %s\n", d.msg);
        itx_server_free(srv);
        return 1;
    }
    itx_server_wait_for_signal(srv);
    itx_server_free(srv);
    return 0;
}
