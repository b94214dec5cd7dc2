#include "stall-proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 65536
#define MAX_SEEN 16

struct conn {
    struct stall_proxy *p;
    int fd;
    pthread_t th;
    struct conn *next;
};

struct stall_proxy {
    int lfd;
    unsigned port, upstream;
    pthread_t th;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    char method[16], needle[256];
    int left;     /* requests still to hold under the current rule */
    int held;     /* held right now */
    unsigned gen; /* bumped by each release */
    /* the targets held since the last release (distinct ones counted) */
    char seen[MAX_SEEN][2048]; /* as long as a target may be */
    int n_seen;
    bool stop;
    struct conn *conns;
};

static bool
stopping(struct stall_proxy *p)
{
    bool s;
    pthread_mutex_lock(&p->mu);
    s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static bool
send_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the end of the request head; the bytes read (head and perhaps some body) in
 * buf, the head's length (with its blank line) in *head_len. false on EOF or stop. */
static bool
read_head(struct stall_proxy *p, int fd, char *buf, size_t *len, size_t *head_len)
{
    *len = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        char *end;
        ssize_t r;
        if (stopping(p))
            return false;
        if (poll(&pf, 1, 100) <= 0)
            continue;
        r = recv(fd, buf + *len, HEAD_MAX - 1 - *len, 0);
        if (r <= 0)
            return false;
        *len += (size_t)r;
        buf[*len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            *head_len = (size_t)(end - buf) + 4;
            return true;
        }
        if (*len >= HEAD_MAX - 1)
            return false;
    }
}

static int
connect_upstream(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Holds the request when the rule says so, until the next release. */
static void
maybe_hold(struct stall_proxy *p, const char *method, const char *target)
{
    pthread_mutex_lock(&p->mu);
    if (p->left > 0 && strcmp(method, p->method) == 0 && strstr(target, p->needle)) {
        unsigned gen = p->gen;
        p->left--;
        fprintf(stderr, "proxy: holding %s %s\n", method, target);
        if (p->n_seen < MAX_SEEN)
            snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", target);
        p->held++;
        pthread_cond_broadcast(&p->cv);
        while (p->gen == gen && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        p->held--;
    }
    pthread_mutex_unlock(&p->mu);
}

/* The head with any Connection header dropped and "Connection: close" added. */
static bool
send_head(int up, const char *head, size_t head_len)
{
    const char *line = strstr(head, "\r\n") + 2, *end = head + head_len - 2;

    if (!send_all(up, head, (size_t)(line - head)))
        return false;
    while (line < end) {
        const char *next = strstr(line, "\r\n") + 2;
        if (strncasecmp(line, "connection:", 11) != 0 && !send_all(up, line, (size_t)(next - line)))
            return false;
        line = next;
    }
    return send_all(up, "Connection: close\r\n\r\n", 21);
}

/* Copies both ways until the peer closes (it does after its answer). */
static void
pump(struct stall_proxy *p, int cfd, int up)
{
    char buf[16384];
    bool client_open = true;

    while (!stopping(p)) {
        struct pollfd pf[2] = {{.fd = up, .events = POLLIN}, {.fd = cfd, .events = POLLIN}};
        ssize_t r;
        if (poll(pf, client_open ? 2 : 1, 100) <= 0)
            continue;
        if (pf[0].revents) {
            r = recv(up, buf, sizeof(buf), 0);
            if (r <= 0 || !send_all(cfd, buf, (size_t)r))
                return;
        }
        if (client_open && pf[1].revents) {
            r = recv(cfd, buf, sizeof(buf), 0);
            if (r <= 0)
                client_open = false;
            else if (!send_all(up, buf, (size_t)r))
                return;
        }
    }
}

static void *
conn_main(void *arg)
{
    struct conn *c = arg;
    struct stall_proxy *p = c->p;
    char *buf = malloc(HEAD_MAX);
    size_t len = 0, head_len = 0;
    char method[16] = "", target[2048] = "";
    int up = -1;

    if (!buf || !read_head(p, c->fd, buf, &len, &head_len))
        goto out;
    if (sscanf(buf, "%15s %2047s", method, target) != 2)
        goto out;
    maybe_hold(p, method, target);
    if (stopping(p) || (up = connect_upstream(p->upstream)) < 0)
        goto out;
    if (!send_head(up, buf, head_len) ||
        (len > head_len && !send_all(up, buf + head_len, len - head_len)))
        goto out;
    pump(p, c->fd, up);
out:
    if (up >= 0)
        close(up);
    close(c->fd);
    free(buf);
    return NULL;
}

static void *
accept_main(void *arg)
{
    struct stall_proxy *p = arg;

    while (!stopping(p)) {
        struct pollfd pf = {.fd = p->lfd, .events = POLLIN};
        struct conn *c;
        int fd;
        if (poll(&pf, 1, 100) <= 0)
            continue;
        if ((fd = accept(p->lfd, NULL, NULL)) < 0)
            continue;
        if (!(c = calloc(1, sizeof(*c)))) {
            close(fd);
            continue;
        }
        c->p = p;
        c->fd = fd;
        if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        c->next = p->conns;
        p->conns = c;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

struct stall_proxy *
stall_proxy_start(unsigned upstream_port)
{
    struct stall_proxy *p = calloc(1, sizeof(*p));
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    if (!p)
        return NULL;
    p->upstream = upstream_port;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(p->lfd, 64) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &alen) != 0 ||
        pthread_create(&p->th, NULL, accept_main, p) != 0) {
        if (p->lfd >= 0)
            close(p->lfd);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    return p;
}

unsigned
stall_proxy_port(const struct stall_proxy *p)
{
    return p->port;
}

void
stall_proxy_hold(struct stall_proxy *p, const char *method, const char *needle, int max_held)
{
    pthread_mutex_lock(&p->mu);
    snprintf(p->method, sizeof(p->method), "%s", method);
    snprintf(p->needle, sizeof(p->needle), "%s", needle);
    p->left = max_held;
    pthread_mutex_unlock(&p->mu);
}

int
stall_proxy_held(struct stall_proxy *p)
{
    int n;
    pthread_mutex_lock(&p->mu);
    n = p->held;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int
stall_proxy_wait_held(struct stall_proxy *p, int n, long timeout_ms)
{
    struct timespec step = {0, 5 * 1000000L};
    int held = stall_proxy_held(p);

    for (long waited = 0; held < n && waited < timeout_ms; waited += 5) {
        nanosleep(&step, NULL);
        held = stall_proxy_held(p);
    }
    return held;
}

int
stall_proxy_held_distinct(struct stall_proxy *p)
{
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n_seen; i++) {
        bool dup = false;
        for (int k = 0; k < i && !dup; k++)
            dup = strcmp(p->seen[i], p->seen[k]) == 0;
        n += !dup;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

void
stall_proxy_release(struct stall_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->n_seen = 0;
    p->left = 0;
    p->gen++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void
stall_proxy_stop(struct stall_proxy *p)
{
    struct conn *c;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    close(p->lfd);
    c = p->conns;
    while (c) {
        struct conn *next = c->next;
        pthread_join(c->th, NULL);
        free(c);
        c = next;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
