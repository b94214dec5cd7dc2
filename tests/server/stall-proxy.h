/*
 * A TCP proxy on 127.0.0.1 in front of a local HTTP peer (the S3 peer of the tests) that
 * holds chosen requests until the test lets them go: a store that stalls on demand, so a
 * test can check what the server does while it waits, without timing anything.
 *
 * Each request is read up to the end of its head; a held one waits there, before anything
 * is sent upstream. It is then forwarded with "Connection: close" added (a header no S3 or
 * GCS signature covers), on a connection of its own, and the answer is relayed until the
 * peer closes; the client's connection is closed after it.
 */
#ifndef ITX_TESTS_SERVER_STALL_PROXY_H
#define ITX_TESTS_SERVER_STALL_PROXY_H

struct stall_proxy;

/* Starts a proxy to 127.0.0.1:upstream_port; NULL on failure. */
struct stall_proxy *stall_proxy_start(unsigned upstream_port);
unsigned stall_proxy_port(const struct stall_proxy *p);
/*
 * From now on, holds the next max_held requests whose method is method and whose target
 * contains needle; later ones pass. Replaces the previous rule (what it holds stays held
 * until stall_proxy_release).
 */
void stall_proxy_hold(struct stall_proxy *p, const char *method, const char *needle, int max_held);
/* Requests held right now. */
int stall_proxy_held(struct stall_proxy *p);
/* Distinct targets among the requests held since the last release (a client that gave up
 * and retried is counted once). */
int stall_proxy_held_distinct(struct stall_proxy *p);
/* Waits until at least n requests are held or timeout_ms passes (a bound on a test that
 * fails, not a timing assertion); the number held then. */
int stall_proxy_wait_held(struct stall_proxy *p, int n, long timeout_ms);
/* Lets every held request go and holds nothing more until the next stall_proxy_hold. */
void stall_proxy_release(struct stall_proxy *p);
/* Releases everything, closes the listener and joins every connection's thread. */
void stall_proxy_stop(struct stall_proxy *p);

#endif
