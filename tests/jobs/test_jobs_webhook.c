/*
 * Webhook delivery (src/jobs/webhook.c) against a small HTTP server on 127.0.0.1, through
 * the test build of the module (itx_webhook_testing, the only build that honours the
 * loopback switch, and only for the test server's port): a notice is POSTed as JSON; 503
 * and 429 answers are retried with growing, jittered waits until a 2xx; a 400 is not
 * retried; the attempts are bounded; other loopback ports and private addresses stay
 * refused with the switch on (a canary listener gets no connection); the backoff doubles
 * within its bounds. Then durability, with the job store (SQLite): the instance that claimed a
 * finished job's notice is killed -9 after a failed attempt, before its retry; a new
 * instance doing what itx serve's keeper does (itx_jobs_webhook_due, claim, send, done)
 * takes the notice over once the lease has run out, and the receiver gets it delivered
 * exactly once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include "check.h"
#include "core/alloc.h"
#include "fetch/fetch.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"

#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
    /* The kill -9 part forks a first instance while the fake receiver's thread runs, and that
     * child starts the webhook sender's threads, which ThreadSanitizer refuses by default
     * (die_after_fork). The child only claims, sends once and is killed; allow it for this
     * test only. TSAN_OPTIONS still sets everything else. */
    return "die_after_fork=0";
}
#endif

/* The server answers request k with statuses[k] (the last one repeats). */
struct hook_server {
    int fd;
    unsigned port;
    pthread_t th;
    atomic_int stop;
    int statuses[8];
    int n_statuses;
    atomic_int n_requests;
    double at_ms[16];
    char body[4096];
    char content_type[128];
    char method[8];
};

static double
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static void *
serve_main(void *arg)
{
    struct hook_server *s = arg;

    while (!atomic_load(&s->stop)) {
        char buf[8192];
        size_t got = 0;
        long clen = -1;
        char *hdr_end = NULL;
        int c = accept(s->fd, NULL, NULL), k, status;
        char reply[200];

        if (c < 0) {
            usleep(2000);
            continue;
        }
        {
            struct timeval tv = {2, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        }
        while (got < sizeof(buf) - 1) {
            ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n")) != NULL) {
                char *cl = strcasestr(buf, "\r\ncontent-length:");
                clen = cl ? strtol(cl + 17, NULL, 10) : 0;
            }
            if (hdr_end && (long)(got - (size_t)(hdr_end + 4 - buf)) >= clen)
                break;
        }
        k = atomic_fetch_add(&s->n_requests, 1);
        if (k < 16)
            s->at_ms[k] = now_ms();
        if (hdr_end) {
            char *ct = strcasestr(buf, "\r\ncontent-type:");
            sscanf(buf, "%7s", s->method);
            snprintf(s->body, sizeof(s->body), "%s", hdr_end + 4);
            if (ct)
                sscanf(ct + 15, " %127[^\r]", s->content_type);
        }
        status = s->statuses[k < s->n_statuses ? k : s->n_statuses - 1];
        snprintf(reply, sizeof(reply),
                 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
        if (write(c, reply, strlen(reply)) < 0)
            perror("write");
        close(c);
    }
    return NULL;
}

static int
listener(unsigned *port, bool nonblock)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)nonblock;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void
server_start(struct hook_server *s, const int *statuses, int n)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->statuses, statuses, (size_t)n * sizeof(int));
    s->n_statuses = n;
    s->fd = listener(&s->port, true);
    CHECK(s->fd >= 0);
    pthread_create(&s->th, NULL, serve_main, s);
}

static void
server_stop(struct hook_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->fd);
}

struct outcome {
    pthread_mutex_t mu;
    int n;
    bool delivered;
    unsigned attempts;
    char id[64];
    char msg[512];
};

static void
on_done(void *arg, const char *id, bool delivered, unsigned attempts, const char *msg)
{
    struct outcome *o = arg;
    pthread_mutex_lock(&o->mu);
    o->n++;
    o->delivered = delivered;
    o->attempts = attempts;
    snprintf(o->id, sizeof(o->id), "%s", id);
    snprintf(o->msg, sizeof(o->msg), "%s", msg ? msg : "");
    pthread_mutex_unlock(&o->mu);
}

static bool
wait_done(struct outcome *o, long ms)
{
    double until = now_ms() + (double)ms;
    while (now_ms() < until) {
        int n;
        pthread_mutex_lock(&o->mu);
        n = o->n;
        pthread_mutex_unlock(&o->mu);
        if (n)
            return true;
        usleep(5000);
    }
    return false;
}

/* Delivers one notice through a queue against a server answering statuses. */
static void
deliver(const int *statuses, int n, unsigned max_attempts, struct hook_server *s, struct outcome *o)
{
    struct itx_webhook_opts wo = {.max_attempts = max_attempts,
                                  .backoff_base_ms = 40,
                                  .backoff_max_ms = 1000,
                                  .timeout_ms = 3000};
    struct itx_webhooks *w = NULL;
    struct itx_diag d;
    char url[128];
    static const char body[] = "{\"id\":\"job-1\",\"state\":\"succeeded\"}";

    itx_diag_init(&d);
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mu, NULL);
    server_start(s, statuses, n);
    wo.test_loopback_port = s->port;
    wo.done = on_done;
    wo.done_arg = o;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", s->port);
    CHECK(itx_webhooks_new(&wo, &w, &d) == ITX_OK);
    CHECK(itx_webhooks_send(w, "job-1", url, body, sizeof(body) - 1, &d) == ITX_OK);
    CHECK(wait_done(o, 10000));
    itx_webhooks_free(w);
    server_stop(s);
}

/* A finished one-item job whose webhook is url. */
static void
finished_job(struct itx_jobs *s, const char *url, char id[33])
{
    struct itx_jobs_new_item item = {.source = "https://img.alicdn.com/a.jpg"};
    struct itx_jobs_new job = {.items = &item, .n_items = 1, .settings = "{}", .webhook_url = url};
    struct itx_jobs_item *it = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK_MSG(itx_jobs_create(s, &job, id, NULL, &d) == ITX_OK, "%s", d.msg);
    CHECK(itx_jobs_claim(s, "w", 60, &it, &d) == ITX_OK && it);
    if (it)
        CHECK(itx_jobs_complete(s, it, "{}", NULL, &d) == ITX_OK);
    itx_jobs_item_free(it);
}

static void
durable_takeover(void)
{
    static const int st[] = {503, 200};
    char dir[] = "/tmp/itx-webhook-durable-XXXXXX", db[128], hook[128], id[33], cmd[160];
    char due[4][65], *ws = NULL;
    struct hook_server s;
    struct itx_jobs *js = NULL;
    struct outcome o;
    struct itx_diag d;
    size_t n = 0;
    pid_t pid;
    int status = 0;
    bool taken = false;

    itx_diag_init(&d);
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    snprintf(db, sizeof(db), "sqlite:%s/jobs.db", dir);
    server_start(&s, st, 2);
    snprintf(hook, sizeof(hook), "http://127.0.0.1:%u/hook", s.port);
    CHECK(itx_jobs_open(db, NULL, &js, &d) == ITX_OK);
    finished_job(js, hook, id);
    itx_jobs_close(js);
    js = NULL;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* the first instance: claims, tries once (503) and waits a minute to retry */
        struct itx_webhook_opts wo = {.max_attempts = 5,
                                      .backoff_base_ms = 60000,
                                      .backoff_max_ms = 60000,
                                      .timeout_ms = 3000,
                                      .test_loopback_port = s.port};
        struct itx_webhooks *w = NULL;
        struct itx_jobs *cs = NULL;
        bool claimed = false;
        if (itx_jobs_open(db, NULL, &cs, &d) != ITX_OK ||
            itx_jobs_webhook_claim(cs, id, "first", 3, &claimed, &d) != ITX_OK || !claimed ||
            itx_webhooks_new(&wo, &w, &d) != ITX_OK ||
            itx_webhooks_send(w, id, hook, "{}", 2, &d) != ITX_OK)
            _exit(1);
        for (;;)
            pause(); /* killed -9 here */
    }
    for (int i = 0; i < 2000 && atomic_load(&s.n_requests) < 1; i++)
        usleep(10000);
    CHECK_INT(atomic_load(&s.n_requests), 1);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* the new instance: sweeps until the notice waits for an owner again (its lease of 3 s
     * has run out; the bound only ends a broken run) */
    memset(&o, 0, sizeof(o));
    pthread_mutex_init(&o.mu, NULL);
    CHECK(itx_jobs_open(db, NULL, &js, &d) == ITX_OK);
    for (int i = 0; js && i < 300 && !taken; i++) {
        bool claimed = false;
        CHECK(itx_jobs_webhook_due(js, due, 4, &n, &d) == ITX_OK);
        for (size_t k = 0; k < n && !taken; k++) {
            CHECK(itx_jobs_webhook_claim(js, due[k], "second", 30, &claimed, &d) == ITX_OK);
            taken = claimed && strcmp(due[k], id) == 0;
        }
        if (!taken)
            usleep(100000);
    }
    CHECK_MSG(taken, "the dead instance's notice was never taken over");
    if (taken) {
        struct itx_webhook_opts wo = {.max_attempts = 5,
                                      .backoff_base_ms = 40,
                                      .timeout_ms = 3000,
                                      .test_loopback_port = s.port,
                                      .done = on_done,
                                      .done_arg = &o};
        struct itx_webhooks *w = NULL;
        CHECK(itx_webhooks_new(&wo, &w, &d) == ITX_OK);
        CHECK(itx_webhooks_send(w, id, hook, "{}", 2, &d) == ITX_OK);
        CHECK(wait_done(&o, 10000));
        itx_webhooks_free(w);
        CHECK(o.delivered);
        CHECK(itx_jobs_webhook_done(js, id, "second", o.delivered ? "delivered" : "failed", &d) ==
              ITX_OK);
    }
    /* one failed attempt by the dead instance, one delivery */
    CHECK_INT(atomic_load(&s.n_requests), 2);
    if (js) {
        CHECK(itx_jobs_webhook_state(js, id, &ws, &d) == ITX_OK && ws &&
              strcmp(ws, "delivered") == 0);
        itx_free(ws);
        CHECK(itx_jobs_webhook_due(js, due, 4, &n, &d) == ITX_OK && n == 0);
        itx_jobs_close(js);
    }
    server_stop(&s);
    pthread_mutex_destroy(&o.mu);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

int
main(void)
{
    struct hook_server s;
    struct outcome o;
    struct itx_diag d;

    setenv(ITX_FETCH_TEST_LOOPBACK_ENV, "1", 1);
    itx_diag_init(&d);
    CHECK(itx_fetch_global_init(&d) == ITX_OK);

    /* 503, 429, then 200: three attempts, the waits growing */
    {
        const int st[] = {503, 429, 200};
        deliver(st, 3, 5, &s, &o);
        CHECK(o.delivered);
        CHECK_INT(o.attempts, 3);
        CHECK_INT(atomic_load(&s.n_requests), 3);
        CHECK_STR(o.id, "job-1");
        CHECK_STR(s.method, "POST");
        CHECK_STR(s.content_type, "application/json");
        CHECK_STR(s.body, "{\"id\":\"job-1\",\"state\":\"succeeded\"}");
        /* base 40 ms with jitter in the upper half: >= 20 ms, then >= 40 ms */
        CHECK_MSG(s.at_ms[1] - s.at_ms[0] >= 19, "first wait %.0f ms", s.at_ms[1] - s.at_ms[0]);
        CHECK_MSG(s.at_ms[2] - s.at_ms[1] >= 39, "second wait %.0f ms", s.at_ms[2] - s.at_ms[1]);
    }
    /* always 503: bounded attempts, then failed */
    {
        const int st[] = {503};
        deliver(st, 1, 3, &s, &o);
        CHECK(!o.delivered);
        CHECK_INT(o.attempts, 3);
        CHECK_INT(atomic_load(&s.n_requests), 3);
        CHECK(strstr(o.msg, "503") != NULL);
    }
    /* 400 is the receiver's final word: one attempt */
    {
        const int st[] = {400};
        deliver(st, 1, 5, &s, &o);
        CHECK(!o.delivered);
        CHECK_INT(o.attempts, 1);
    }
    /* with the switch on, only the test port opens: another loopback port and private
     * addresses stay refused, and are not retried */
    {
        unsigned cport = 0, sport = 0;
        int cfd = listener(&cport, true), sfd = listener(&sport, true);
        struct itx_webhook_opts wo = {.test_loopback_port = sport, .timeout_ms = 2000};
        char url[128];
        long http_status = -1;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", cport);
        itx_diag_init(&d);
        CHECK(itx_webhook_post(&wo, url, "{}", 2, &http_status, &d) == ITX_ERR_FORBIDDEN);
        CHECK(strstr(d.msg, "loopback") != NULL);
        CHECK(!itx_webhook_retryable(d.code, http_status));
        itx_diag_init(&d);
        CHECK(itx_webhook_post(&wo, "http://10.1.2.3/hook", "{}", 2, &http_status, &d) ==
              ITX_ERR_FORBIDDEN);
        itx_diag_init(&d);
        CHECK(itx_webhook_post(&wo, "http://169.254.169.254/latest", "{}", 2, &http_status, &d) ==
              ITX_ERR_FORBIDDEN);
        itx_diag_init(&d);
        CHECK(itx_webhook_post(&wo, "file:///etc/passwd", "{}", 2, &http_status, &d) ==
              ITX_ERR_INVALID);
        CHECK_MSG(accept(cfd, NULL, NULL) < 0 && errno == EAGAIN,
                  "the canary listener got a connection");
        close(cfd);
        close(sfd);
    }
    /* the backoff: doubling from the base, capped, jitter in the upper half */
    {
        struct itx_webhook_opts wo = {.backoff_base_ms = 1000, .backoff_max_ms = 5000};
        for (int i = 0; i < 20; i++) {
            unsigned b1 = itx_webhook_backoff_ms(&wo, 1), b3 = itx_webhook_backoff_ms(&wo, 3),
                     b9 = itx_webhook_backoff_ms(&wo, 9);
            CHECK(b1 >= 500 && b1 <= 1000);
            CHECK(b3 >= 2000 && b3 <= 4000);
            CHECK(b9 >= 2500 && b9 <= 5000);
        }
        CHECK(itx_webhook_retryable(ITX_ERR_UPSTREAM, 502));
        CHECK(itx_webhook_retryable(ITX_ERR_UPSTREAM, 0));
        CHECK(itx_webhook_retryable(ITX_ERR_TIMEOUT, 0));
        CHECK(!itx_webhook_retryable(ITX_ERR_UPSTREAM, 404));
    }
    durable_takeover();
    return check_summary();
}
