#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* A 2x2 RGB PNG. */
const uint8_t test_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd,
    0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
    0xcf, 0xc0, 0x00, 0x44, 0x60, 0xe2, 0x3f, 0x03, 0x00, 0x1d, 0xf0, 0x03, 0xfd, 0xa0, 0x33,
    0x09, 0x89, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
const size_t test_png_len = sizeof test_png;

/* gzip of "not a picture, compressed on the wire\n" x 4. */
const uint8_t test_gzip[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0xcb, 0x2f, 0x51, 0x48, 0x54,
    0x28, 0xc8, 0x4c, 0x2e, 0x29, 0x2d, 0x4a, 0xd5, 0x51, 0x48, 0xce, 0xcf, 0x2d, 0x28, 0x4a, 0x2d,
    0x2e, 0x4e, 0x4d, 0x51, 0xc8, 0xcf, 0x53, 0x28, 0xc9, 0x48, 0x55, 0x28, 0xcf, 0x2c, 0x4a, 0xe5,
    0xca, 0xa3, 0xbb, 0x2a, 0x00, 0x87, 0x07, 0x1d, 0x5d, 0x98, 0x00, 0x00, 0x00};
const size_t test_gzip_len = sizeof test_gzip;

static int
send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void
send_body(int fd, const char *status, const char *ctype, const char *extra, const void *body,
          size_t n)
{
    char head[512];

    snprintf(head, sizeof head,
             "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
             "close\r\n\r\n",
             status, ctype, n, extra ? extra : "");
    if (send_str(fd, head) == 0 && n)
        send_all(fd, body, n);
}

static void
serve(struct test_server *s, int fd)
{
    char req[4096], path[2048];
    size_t n = 0;
    char chunk[16384];

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&p, 1, 2000) <= 0)
            return;
        r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
        if (n == sizeof req - 1)
            return;
    }
    if (sscanf(req, "GET %2047s HTTP/1.1", path) != 1) {
        send_body(fd, "400 Bad Request", "text/plain", NULL, "bad\n", 4);
        return;
    }
    atomic_fetch_add(&s->n_requests, 1);
    memset(chunk, 'x', sizeof chunk);

    if (strcmp(path, "/image") == 0) {
        send_body(fd, "200 OK", "image/png", NULL, test_png, test_png_len);
    } else if (strncmp(path, "/chain/", 7) == 0) {
        int k = atoi(path + 7);
        if (k <= 0) {
            send_body(fd, "200 OK", "image/png", NULL, test_png, test_png_len);
        } else {
            char loc[64];
            snprintf(loc, sizeof loc, "Location: /chain/%d\r\n", k - 1);
            send_body(fd, "302 Found", "text/plain", loc, "moved\n", 6);
        }
    } else if (strncmp(path, "/to/", 4) == 0) {
        char loc[2100];
        snprintf(loc, sizeof loc, "Location: %s\r\n", path + 4);
        send_body(fd, "302 Found", "text/plain", loc, "moved\n", 6);
    } else if (strcmp(path, "/big") == 0) {
        char head[256];
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 s->big_len + 1);
        send_str(fd, head);
    } else if (strcmp(path, "/endless") == 0 || strcmp(path, "/nolength") == 0) {
        bool chunked = path[1] == 'e';
        send_str(fd, chunked ? "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                             : "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                               "Connection: close\r\n\r\n");
        while (!atomic_load(&s->stop)) {
            if (chunked && send_str(fd, "4000\r\n") != 0)
                break;
            if (send_all(fd, chunk, sizeof chunk) != 0)
                break;
            if (chunked && send_str(fd, "\r\n") != 0)
                break;
            atomic_fetch_add(&s->bytes_sent, (long long)sizeof chunk);
        }
    } else if (strcmp(path, "/drip") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n"
                     "Connection: close\r\n\r\n");
        for (int i = 0; i < 10000 && !atomic_load(&s->stop); i++) {
            if (send_all(fd, chunk, 10) != 0)
                break;
            atomic_fetch_add(&s->bytes_sent, 10);
            sleep_ms(100);
        }
    } else if (strcmp(path, "/flaky") == 0) {
        if (atomic_fetch_add(&s->n_flaky, 1) == 0)
            send_body(fd, "503 Service Unavailable", "text/plain", "Retry-After: 0\r\n", "busy\n",
                      5);
        else
            send_body(fd, "200 OK", "image/png", NULL, test_png, test_png_len);
    } else if (strcmp(path, "/always503") == 0) {
        send_body(fd, "503 Service Unavailable", "text/plain", NULL, "busy\n", 5);
    } else if (strcmp(path, "/gzip") == 0) {
        send_body(fd, "200 OK", "text/plain", "Content-Encoding: gzip\r\n", test_gzip,
                  test_gzip_len);
    } else {
        send_body(fd, "404 Not Found", "text/plain", NULL, "no\n", 3);
    }
}

static void *
server_main(void *arg)
{
    struct test_server *s = arg;

    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int c;
        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        {
            struct timeval tv = {2, 0};
            setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        serve(s, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

static int
listen_on(int family, unsigned port, unsigned *out_port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_storage ss;
    socklen_t len;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 256) != 0) {
        close(fd);
        return -1;
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *out_port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                  : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

int
test_server_start(struct test_server *s)
{
    atomic_store(&s->stop, 0);
    atomic_store(&s->n_requests, 0);
    atomic_store(&s->n_flaky, 0);
    atomic_store(&s->bytes_sent, 0);
    s->fd = listen_on(AF_INET, 0, &s->port);
    if (s->fd < 0)
        return -1;
    return pthread_create(&s->thread, NULL, server_main, s) == 0 ? 0 : -1;
}

void
test_server_stop(struct test_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

int
canary_open(struct canary *c)
{
    /* Find a port free on both families: bind v4 on an ephemeral port, then v6 on it. */
    for (int tries = 0; tries < 20; tries++) {
        unsigned p6;
        c->fd4 = listen_on(AF_INET, 0, &c->port);
        if (c->fd4 < 0)
            return -1;
        c->fd6 = listen_on(AF_INET6, c->port, &p6);
        if (c->fd6 >= 0)
            return 0;
        close(c->fd4);
    }
    return -1;
}

static int
drain(int fd)
{
    int n = 0, c;

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        n++;
        close(c);
    }
    return n;
}

int
canary_close_count(struct canary *c)
{
    int n = drain(c->fd4) + drain(c->fd6);
    close(c->fd4);
    close(c->fd6);
    return n;
}

void
with_port(char *out, size_t out_size, const char *tmpl, unsigned port)
{
    size_t o = 0;

    for (const char *t = tmpl; *t && o + 1 < out_size; t++) {
        if (t[0] == '%' && t[1] == 'u') {
            int w = snprintf(out + o, out_size - o, "%u", port);
            if (w < 0 || (size_t)w >= out_size - o)
                break;
            o += (size_t)w;
            t++;
        } else {
            out[o++] = *t;
        }
    }
    out[o < out_size ? o : out_size - 1] = '\0';
}
