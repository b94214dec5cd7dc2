/*
 * Webhook delivery: a POST of a JSON document to a user's URL, retried with exponential
 * backoff and jitter a bounded number of times, on one background thread (never on a worker
 * that runs pictures). docs/jobs.md describes how itx serve uses it.
 *
 * Invariants:
 * - Each attempt is itx_fetch_post, so the SSRF rules are src/fetch's own: http and https
 *   only, no credentials in the URL, the resolved address of every connection checked when
 *   its socket is opened (loopback, private, link-local, metadata ... refused:
 *   itx_fetch_addr_classify), redirects not followed, proxies from the environment ignored,
 *   the answer body capped and discarded.
 * - The loopback test switch is honoured only by the test build of src/fetch
 *   (ITX_FETCH_TESTING=1, the target itx_fetch_testing that only tests link) together with
 *   the environment variable ITX_UNSAFE_TEST_ONLY_ALLOW_LOOPBACK_FETCH=1 and
 *   test_loopback_port; in a normal build either of them makes every delivery fail
 *   (docs/fetch.md).
 * - A 2xx answer is delivered. 408, 425, 429, 5xx, timeouts and connection failures are
 *   retried; other answers and refused addresses fail at once.
 *
 * Thread-safety: itx_webhooks_send may be called from any thread.
 */
#ifndef ITX_JOBS_WEBHOOK_H
#define ITX_JOBS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct itx_webhook_opts {
    unsigned max_attempts;       /* attempts per notice, first included; 0: 6 */
    unsigned backoff_base_ms;    /* wait after the first failed attempt; 0: 1000 */
    unsigned backoff_max_ms;     /* ceiling of the doubling wait; 0: 60000 */
    long timeout_ms;             /* one attempt, connect included; 0: 10000 */
    size_t max_queue;            /* notices waiting; 0: 1000 (more: ITX_ERR_OVERLOADED) */
    unsigned test_loopback_port; /* test build only, see above; 0 in production */
    /* Called on the delivery thread when a notice is delivered or given up. May be NULL. */
    void (*done)(void *arg, const char *id, bool delivered, unsigned attempts, const char *msg);
    void *done_arg;
};

/*
 * One attempt: POSTs body (Content-Type: application/json) to url. *http_status gets the
 * answer's status (0 when none came). ITX_OK on 2xx; ITX_ERR_INVALID (bad URL),
 * ITX_ERR_FORBIDDEN (refused address or test switch), ITX_ERR_TIMEOUT, ITX_ERR_UPSTREAM
 * (connection failure or a non-2xx answer).
 */
enum itx_status itx_webhook_post(const struct itx_webhook_opts *o, const char *url,
                                 const char *body, size_t len, long *http_status,
                                 struct itx_diag *d);
/* Whether a failed attempt may be retried (its status and the answer's HTTP status). */
bool itx_webhook_retryable(enum itx_status st, long http_status);
/* The wait before attempt n + 1 (n >= 1 attempts made): base * 2^(n-1), capped, with "equal
 * jitter" (a random point in the upper half), so instances that failed together spread. */
unsigned itx_webhook_backoff_ms(const struct itx_webhook_opts *o, unsigned n);

struct itx_webhooks;

/* Starts the delivery thread. opts is copied. */
enum itx_status itx_webhooks_new(const struct itx_webhook_opts *o, struct itx_webhooks **out,
                                 struct itx_diag *d);
/* Queues a notice (id names it in the done callback and in logs; url and body are copied). */
enum itx_status itx_webhooks_send(struct itx_webhooks *w, const char *id, const char *url,
                                  const char *body, size_t len, struct itx_diag *d);
/* Notices queued or being delivered. */
size_t itx_webhooks_pending(struct itx_webhooks *w);
/* Stops the thread: an attempt in progress finishes, notices still waiting are dropped (and
 * logged). NULL is a no-op. */
void itx_webhooks_free(struct itx_webhooks *w);

#endif
