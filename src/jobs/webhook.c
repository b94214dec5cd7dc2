/*
 * Webhook delivery (webhook.h): one POST per attempt through src/fetch (its URL and address
 * rules on every connection), and a delivery thread that retries with backoff.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "fetch/fetch.h"
#include "jobs/webhook.h"

static void
opts_fill(const struct itx_webhook_opts *in, struct itx_webhook_opts *o)
{
    *o = in ? *in : (struct itx_webhook_opts){0};
    if (!o->max_attempts)
        o->max_attempts = 6;
    if (!o->backoff_base_ms)
        o->backoff_base_ms = 1000;
    if (!o->backoff_max_ms)
        o->backoff_max_ms = 60000;
    if (o->timeout_ms <= 0)
        o->timeout_ms = 10000;
    if (!o->max_queue)
        o->max_queue = 1000;
}

enum itx_status
itx_webhook_post(const struct itx_webhook_opts *in, const char *url, const char *body, size_t len,
                 long *http_status, struct itx_diag *d)
{
    struct itx_webhook_opts o;
    struct itx_fetch_opts f;

    opts_fill(in, &o);
    itx_fetch_opts_init(&f);
    f.total_timeout_ms = o.timeout_ms;
    f.connect_timeout_ms = o.timeout_ms < 5000 ? o.timeout_ms : 5000L;
    f.user_agent = "itx-webhook/0.1";
    f.test_loopback_port = o.test_loopback_port;
    return itx_fetch_post(&f, "webhook", url, "application/json", body, len, http_status, d);
}

bool
itx_webhook_retryable(enum itx_status st, long http_status)
{
    if (st == ITX_ERR_TIMEOUT)
        return true;
    if (st != ITX_ERR_UPSTREAM)
        return false;
    return http_status == 0 || http_status == 408 || http_status == 425 || http_status == 429 ||
           http_status >= 500;
}

unsigned
itx_webhook_backoff_ms(const struct itx_webhook_opts *in, unsigned n)
{
    struct itx_webhook_opts o;
    unsigned long long ms;
    unsigned half;

    opts_fill(in, &o);
    ms = o.backoff_base_ms;
    for (unsigned i = 1; i < n && ms < o.backoff_max_ms; i++)
        ms *= 2;
    if (ms > o.backoff_max_ms)
        ms = o.backoff_max_ms;
    half = (unsigned)(ms / 2);
    {
        /* jitter from the clock and a counter: spreading, not secrecy */
        static _Atomic unsigned long seq;
        unsigned long r = (unsigned long)(itx_now_ms() * 1000.0) ^ (seq++ * 2654435761ul);
        return half + (unsigned)(r % (half + 1ul));
    }
}

/* ---- the delivery thread --------------------------------------------------------------- */

struct notice {
    char *id, *url, *body;
    size_t len;
    unsigned attempts;
    double due_ms;
    struct notice *next;
};

struct itx_webhooks {
    struct itx_webhook_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct notice *head; /* waiting, any order */
    size_t n;
    bool stop;
    pthread_t th;
};

static void
notice_free(struct notice *n)
{
    if (!n)
        return;
    itx_free(n->id);
    itx_free(n->url);
    itx_free(n->body);
    itx_free(n);
}

static void *
deliver_main(void *arg)
{
    struct itx_webhooks *w = arg;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct notice **pp, **best = NULL, *n;
        double now = itx_now_ms(), wait_ms = 1000;
        struct itx_diag d;
        long status = 0;
        enum itx_status st;

        for (pp = &w->head; *pp; pp = &(*pp)->next)
            if (!best || (*pp)->due_ms < (*best)->due_ms)
                best = pp;
        if (best && (*best)->due_ms <= now) {
            n = *best;
            *best = n->next;
            pthread_mutex_unlock(&w->mu);
            itx_diag_init(&d);
            n->attempts++;
            st = itx_webhook_post(&w->o, n->url, n->body, n->len, &status, &d);
            pthread_mutex_lock(&w->mu);
            if (st != ITX_OK && itx_webhook_retryable(st, status) &&
                n->attempts < w->o.max_attempts && !w->stop) {
                unsigned b = itx_webhook_backoff_ms(&w->o, n->attempts);
                itx_log(ITX_LOG_NOTICE, &(struct itx_log_ctx){.job_id = n->id, .image = -1}, NULL,
                        "webhook attempt %u failed (%s), next in %u ms", n->attempts, d.msg, b);
                n->due_ms = itx_now_ms() + b;
                n->next = w->head;
                w->head = n;
                continue;
            }
            w->n--;
            pthread_mutex_unlock(&w->mu);
            if (w->o.done)
                w->o.done(w->o.done_arg, n->id, st == ITX_OK, n->attempts,
                          st == ITX_OK ? NULL : d.msg);
            notice_free(n);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (best)
            wait_ms = (*best)->due_ms - now;
        itx_cond_wait_ms(&w->cv, &w->mu, (long)(wait_ms < 1000 ? wait_ms : 1000) + 1);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

enum itx_status
itx_webhooks_new(const struct itx_webhook_opts *o, struct itx_webhooks **out, struct itx_diag *d)
{
    struct itx_webhooks *w = itx_calloc(1, sizeof(*w));

    if (!w)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for webhooks");
    opts_fill(o, &w->o);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, deliver_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        itx_free(w);
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start the webhook thread");
    }
    *out = w;
    return ITX_OK;
}

enum itx_status
itx_webhooks_send(struct itx_webhooks *w, const char *id, const char *url, const char *body,
                  size_t len, struct itx_diag *d)
{
    struct notice *n = itx_calloc(1, sizeof(*n));

    if (!n || !(n->id = itx_strdup(id ? id : "")) || !(n->url = itx_strdup(url)) ||
        !(n->body = itx_malloc(len + 1))) {
        notice_free(n);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a webhook");
    }
    memcpy(n->body, body, len);
    n->body[len] = '\0';
    n->len = len;
    n->due_ms = itx_now_ms();
    pthread_mutex_lock(&w->mu);
    if (w->n >= w->o.max_queue) {
        pthread_mutex_unlock(&w->mu);
        notice_free(n);
        return itx_diag_set(d, ITX_ERR_OVERLOADED, "over %zu webhooks are waiting", w->o.max_queue);
    }
    n->next = w->head;
    w->head = n;
    w->n++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return ITX_OK;
}

size_t
itx_webhooks_pending(struct itx_webhooks *w)
{
    size_t n;
    pthread_mutex_lock(&w->mu);
    n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void
itx_webhooks_free(struct itx_webhooks *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    while (w->head) {
        struct notice *n = w->head;
        w->head = n->next;
        itx_log(ITX_LOG_WARNING, &(struct itx_log_ctx){.job_id = n->id, .image = -1}, NULL,
                "webhook dropped at shutdown after %u attempt(s)", n->attempts);
        notice_free(n);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    itx_free(w);
}
