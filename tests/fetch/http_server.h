/*
 * A small HTTP/1.1 origin on 127.0.0.1 for the fetch tests: one thread, one connection at
 * a time, "Connection: close". Routes:
 *   /image            a PNG picture
 *   /chain/N          N redirects (302, relative Location) ending at /image
 *   /to/<url>         302 to <url> verbatim
 *   /big              Content-Length one byte over big_len, no body
 *   /endless          a chunked body that never ends
 *   /nolength         a body without Content-Length that never ends
 *   /drip             Content-Length 100000, then 10 bytes every 100 ms
 *   /flaky            503 on the first request, 200 with the picture afterwards
 *   /always503        503 every time
 *   /gzip             a gzip-encoded body with Content-Encoding: gzip
 *   anything else     404
 * Plus a canary: listening sockets on 127.0.0.1 and ::1 that nobody accepts from; the
 * kernel queues every connection made to them, and canary_count() drains and counts them.
 */
#ifndef ITX_TESTS_FETCH_HTTP_SERVER_H
#define ITX_TESTS_FETCH_HTTP_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct test_server {
    int fd;
    unsigned port;
    pthread_t thread;
    atomic_int stop;
    atomic_int n_requests;
    atomic_int n_flaky;
    atomic_llong bytes_sent; /* body bytes written by streaming routes */
    size_t big_len;
};

int test_server_start(struct test_server *s);
void test_server_stop(struct test_server *s);

extern const uint8_t test_png[];
extern const size_t test_png_len;
extern const uint8_t test_gzip[];
extern const size_t test_gzip_len;

struct canary {
    int fd4, fd6;
    unsigned port; /* same port on both */
};

int canary_open(struct canary *c);
/* Accepts and counts every connection queued so far, then closes the sockets. */
int canary_close_count(struct canary *c);

/* Copies tmpl to out, replacing each "%u" with port (templates are data, not formats). */
void with_port(char *out, size_t out_size, const char *tmpl, unsigned port);

#endif
