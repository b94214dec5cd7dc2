/*
 * The worker pool, the bounded admission queue and the deadline reaper.
 *
 * A work item has two owners: the connection (until its answer is sent) and the pool
 * (from admission until run returns DONE). Whoever answers first, the worker with the reply
 * or the reaper with a 504, sets `answered` under the item's mutex and wakes the connection;
 * the other one only drops its reference.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "server/server-impl.h"

bool
itx_cancel_requested(const struct itx_cancel *c)
{
    return atomic_load_explicit(&c->reason, memory_order_acquire) != ITX_OK;
}

enum itx_status
itx_cancel_reason(const struct itx_cancel *c)
{
    return (enum itx_status)atomic_load_explicit(&c->reason, memory_order_acquire);
}

static void
cancel_set(struct itx_cancel *c, enum itx_status why)
{
    int expect = ITX_OK;
    atomic_compare_exchange_strong(&c->reason, &expect, (int)why);
}

void
itx_server_work_init(struct itx_server_work *w,
                     enum itx_server_step (*run)(struct itx_server_work *,
                                                 const struct itx_cancel *),
                     void (*destroy)(struct itx_server_work *))
{
    memset(w, 0, sizeof(*w));
    w->run = run;
    w->destroy = destroy;
    w->status = 200;
    itx_buf_init(&w->reply, 64u << 20);
    itx_diag_init(&w->diag);
    atomic_init(&w->cancel.reason, ITX_OK);
    pthread_mutex_init(&w->mu, NULL);
    w->refs = 1;
    w->forced = ITX_OK;
}

void
work_release(struct itx_server_work *w)
{
    int left;

    pthread_mutex_lock(&w->mu);
    left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left > 0)
        return;
    pthread_mutex_destroy(&w->mu);
    itx_buf_release(&w->reply);
    if (w->destroy)
        w->destroy(w);
}

/* Caller holds s->mu. */
static void
active_remove(struct itx_server *s, struct itx_server_work *w)
{
    if (!w->active)
        return;
    if (w->aprev)
        w->aprev->anext = w->anext;
    else
        s->active = w->anext;
    if (w->anext)
        w->anext->aprev = w->aprev;
    w->aprev = w->anext = NULL;
    w->active = false;
}

/* Caller holds s->mu. */
static void
queue_push(struct itx_server *s, struct itx_server_work *w)
{
    w->qnext = NULL;
    if (s->q_tail)
        s->q_tail->qnext = w;
    else
        s->q_head = w;
    s->q_tail = w;
    pthread_cond_signal(&s->work_cv);
}

static void
update_gauges(struct itx_server *s)
{
    itx_metric_set(s->m_queue_depth, (double)s->q_waiting);
}

enum itx_status
pool_admit(struct itx_server *s, struct itx_server_work *w)
{
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->draining) || s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return ITX_ERR_UNAVAILABLE;
    }
    if (s->q_waiting >= (size_t)s->cfg.queue) {
        pthread_mutex_unlock(&s->mu);
        return ITX_ERR_OVERLOADED;
    }
    pthread_mutex_lock(&w->mu);
    w->refs++;
    pthread_mutex_unlock(&w->mu);
    w->srv = s;
    w->enqueued_ms = itx_now_ms();
    w->deadline_ms = w->enqueued_ms + (double)s->cfg.deadline_ms;
    w->active = true;
    w->aprev = NULL;
    w->anext = s->active;
    if (s->active)
        s->active->aprev = w;
    s->active = w;
    s->q_waiting++;
    atomic_fetch_add(&s->inflight, 1);
    queue_push(s, w);
    update_gauges(s);
    pthread_cond_signal(&s->reaper_cv);
    pthread_mutex_unlock(&s->mu);
    itx_metric_set(s->m_inflight, (double)atomic_load(&s->inflight));
    return ITX_OK;
}

void
itx_server_work_wake(struct itx_server_work *w)
{
    struct itx_server *s = w->srv;

    pthread_mutex_lock(&s->mu);
    queue_push(s, w);
    pthread_mutex_unlock(&s->mu);
}

/* Gives the connection of w its answer unless someone already did. forced: ITX_OK to send
 * the reply, else the status to answer with instead. */
static void
answer(struct itx_server_work *w, enum itx_status forced)
{
    bool wake = false;

    pthread_mutex_lock(&w->mu);
    if (!w->answered && w->conn) {
        w->answered = true;
        w->forced = forced;
        wake = true;
    }
    pthread_mutex_unlock(&w->mu);
    if (wake)
        http_answer_ready(w);
}

static void *
worker_main(void *arg)
{
    struct itx_server *s = arg;

    for (;;) {
        struct itx_server_work *w;
        enum itx_server_step step = ITX_SERVER_STEP_DONE;
        bool first;

        pthread_mutex_lock(&s->mu);
        while (!s->q_head && !s->stopping)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->q_head) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        w = s->q_head;
        s->q_head = w->qnext;
        if (!s->q_head)
            s->q_tail = NULL;
        first = !w->started;
        if (first) {
            s->q_waiting--;
            w->started = true;
        }
        update_gauges(s);
        pthread_mutex_unlock(&s->mu);

        /* Work cancelled before it ever started has nothing to release: skip run. */
        if (!(first && itx_cancel_requested(&w->cancel))) {
            atomic_fetch_add(&s->busy, 1);
            itx_metric_add(s->m_busy, 1);
            if (first)
                itx_server_observe_stage(s, "queue", (itx_now_ms() - w->enqueued_ms) / 1000.0);
            step = w->run(w, &w->cancel);
            itx_metric_add(s->m_busy, -1);
            atomic_fetch_sub(&s->busy, 1);
        }
        if (step == ITX_SERVER_STEP_WAIT)
            continue; /* the I/O side holds the pool's reference until it wakes w */

        pthread_mutex_lock(&s->mu);
        active_remove(s, w);
        pthread_mutex_unlock(&s->mu);
        /* Work cancelled by its deadline or the shutdown is answered by whoever cancelled it,
         * with that reason; the worker, racing it, gives the same answer, so the client sees
         * 504 deadline_exceeded (or 503 draining) whichever thread gets there first. */
        answer(w, itx_cancel_reason(&w->cancel));
        work_release(w);
    }
    return NULL;
}

static void *
reaper_main(void *arg)
{
    struct itx_server *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        double now = itx_now_ms(), next = now + 1000.0;
        struct itx_server_work *w = s->active, *expired = NULL;
        struct timespec ts;

        while (w) {
            struct itx_server_work *n = w->anext;
            if (w->deadline_ms <= now) {
                active_remove(s, w);
                cancel_set(&w->cancel, ITX_ERR_TIMEOUT);
                /* Keep w alive while it is answered outside the lock. */
                pthread_mutex_lock(&w->mu);
                w->refs++;
                pthread_mutex_unlock(&w->mu);
                w->aprev = expired; /* a private singly linked list */
                expired = w;
            } else if (w->deadline_ms < next) {
                next = w->deadline_ms;
            }
            w = n;
        }
        if (expired) {
            pthread_mutex_unlock(&s->mu);
            while (expired) {
                struct itx_server_work *e = expired;
                expired = e->aprev;
                e->aprev = NULL;
                itx_metric_add(itx_metric_series(s->m_cancelled, (const char *[]){"deadline"}), 1);
                answer(e, ITX_ERR_TIMEOUT);
                work_release(e);
            }
            pthread_mutex_lock(&s->mu);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        {
            double wait_ms = next - now;
            long long ns = (long long)ts.tv_nsec + (long long)(wait_ms * 1e6);
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
        }
        pthread_cond_timedwait(&s->reaper_cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void
pool_force_all(struct itx_server *s, enum itx_status why)
{
    for (;;) {
        struct itx_server_work *w;

        pthread_mutex_lock(&s->mu);
        w = s->active;
        if (!w) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        active_remove(s, w);
        cancel_set(&w->cancel, why);
        pthread_mutex_lock(&w->mu);
        w->refs++;
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_unlock(&s->mu);
        itx_metric_add(itx_metric_series(s->m_cancelled, (const char *[]){"shutdown"}), 1);
        answer(w, why);
        work_release(w);
    }
}

enum itx_status
pool_start(struct itx_server *s, struct itx_diag *d)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->reaper_cv, &ca);
    pthread_condattr_destroy(&ca);

    s->workers = itx_calloc((size_t)s->cfg.workers, sizeof(*s->workers));
    if (!s->workers)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate %ld workers", s->cfg.workers);
    for (long i = 0; i < s->cfg.workers; i++) {
        int e = pthread_create(&s->workers[i], NULL, worker_main, s);
        if (e != 0)
            return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start worker thread: %s", strerror(e));
        s->n_workers++;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start the deadline thread");
    s->reaper_started = true;
    return ITX_OK;
}

void
pool_stop(struct itx_server *s, long wait_ms)
{
    double until = itx_now_ms() + (double)wait_ms;

    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_cond_broadcast(&s->reaper_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->reaper_started) {
        pthread_join(s->reaper, NULL);
        s->reaper_started = false;
    }
    /* Workers finish their current item; work that ignores its cancellation past wait_ms is
     * left running (the process is about to exit) rather than hanging the shutdown. Such
     * workers stay in s->workers (joinable, so a later stop can join them), and n_workers
     * stays non-zero, which keeps itx_server_free from freeing what they still use. */
    size_t n_left = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        struct timespec ts;
        double left = until - itx_now_ms();
        if (left < 0)
            left = 0;
        clock_gettime(CLOCK_REALTIME, &ts);
        {
            long long ns = (long long)ts.tv_nsec + (long long)(left * 1e6);
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
        }
        if (pthread_timedjoin_np(s->workers[i], NULL, &ts) != 0) {
            itx_log_warn("worker %zu did not stop within %ld ms; leaving it", i, wait_ms);
            s->workers[n_left++] = s->workers[i];
        }
    }
    s->n_workers = n_left;
}
