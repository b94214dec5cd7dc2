/*
 * Helpers for the server integration tests: start a server process on 127.0.0.1 with an
 * ephemeral port (PORT=0; the port is read from its JSON "listening" log line), keep its
 * log lines, and make HTTP requests with libcurl.
 */
#ifndef ITX_TESTS_SERVER_PROC_H
#define ITX_TESTS_SERVER_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct srv {
    pid_t pid;
    unsigned port;
    int log_fd;
    pthread_t reader;
    pthread_mutex_t mu;
    char *log; /* everything the server wrote to stderr so far */
    size_t log_len;
    bool log_eof; /* the reader saw the end of the server's stderr */
};

/* Starts argv[0] with argv and extra environment "K=V" strings (NULL-terminated), with
 * PORT=0, ITX_BIND=127.0.0.1 and ITX_LOG_FORMAT=json. 0 on success; -1 when it exits or has
 * not logged its port within test_ms(20000). */
int srv_start(struct srv *s, const char *const *argv, const char *const *env);
/* Sends sig and waits; returns the exit status (or 128+signal), -1 after test_ms(20000). After an
 * exit, srv_log has everything the server wrote (its last lines included). */
int srv_signal_wait(struct srv *s, int sig);
void srv_free(struct srv *s);
/* Copy of the log so far (free()). */
char *srv_log(struct srv *s);

struct resp {
    long status;
    char *body; /* NUL-terminated */
    size_t body_len;
    char *headers;
};

/* One request; headers NULL-terminated "Name: value" list (may be NULL); body may be NULL.
 * path_as_is keeps ".." segments. Returns 0 when a response came back within test_ms(30000). */
int http(unsigned port, const char *method, const char *path, const char *const *headers,
         const void *body, size_t body_len, struct resp *r);
int http_ex(unsigned port, const char *method, const char *path, const char *const *headers,
            const void *body, size_t body_len, bool chunked, bool path_as_is, struct resp *r);
void resp_free(struct resp *r);
/* Value of a response header (case-insensitive), copied into out; false when absent. */
bool resp_header(const struct resp *r, const char *name, char *out, size_t out_size);

/* The value of one sample in a Prometheus text exposition, e.g.
 * metric(text, "itx_http_requests_total{route=\"healthz\",code=\"200\"}"); -1 when absent. */
double metric(const char *text, const char *series);
/* Fetches /metrics and returns metric(); -1 on failure. */
double metric_now(unsigned port, const char *series);
/* Polls until metric_now(series) == want or test_ms(timeout_ms) passes; true when reached. */
bool metric_wait(unsigned port, const char *series, double want, long timeout_ms);
/* Polls GET /readyz every 10 ms until it answers 200 or test_ms(timeout_ms) passes; true when
 * ready. */
bool srv_wait_ready(unsigned port, long timeout_ms);

/* The time scale of this test run: ITX_TEST_TIME_SCALE, an integer from 1 to 100 (1 when
 * unset). The sanitizer runs set it (make test-tsan, make test-asan), because their builds run
 * many times slower. Nothing here is a timing assertion: every wait these helpers and the
 * server tests bound by a time (the HTTP client's timeout, start-up, stop, metric and
 * readiness polls, the deadlines and provider holds the tests give) exists so that a hung
 * test fails instead of hanging, and is multiplied by the scale. A value that is set but not
 * such an integer ends the test with exit status 2 and a message naming it. */
long test_time_scale(void);
/* ms times test_time_scale(). */
long test_ms(long ms);

void ms_sleep(long ms);
/* Writes a file (for gates); returns 0. */
int write_file(const char *path, const void *data, size_t len);
/* A whole file in a malloc'd buffer (free), its length in *len; NULL when unreadable or empty. */
char *read_all(const char *path, size_t *len);
/* Standard base64 of in[0..n) into out (room for 4 * ((n + 2) / 3) + 1 bytes). */
void b64(const unsigned char *in, size_t n, char *out);
/* A whole file as a malloc'd base64 string (free); NULL when unreadable or empty. */
char *b64_file(const char *path);

#endif
