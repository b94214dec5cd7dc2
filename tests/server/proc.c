#include "proc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long
test_time_scale(void)
{
    const char *v = getenv("ITX_TEST_TIME_SCALE");
    char *end;
    long n;

    if (!v)
        return 1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 100) {
        fprintf(stderr, "ITX_TEST_TIME_SCALE='%s': not an integer from 1 to 100\n", v);
        exit(2);
    }
    return n;
}

long
test_ms(long ms)
{
    return ms * test_time_scale();
}

void
ms_sleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, len, f);
    return fclose(f);
}

static void *
reader_main(void *arg)
{
    struct srv *s = arg;
    char buf[4096];
    ssize_t n;

    while ((n = read(s->log_fd, buf, sizeof(buf))) > 0) {
        pthread_mutex_lock(&s->mu);
        s->log = realloc(s->log, s->log_len + (size_t)n + 1);
        memcpy(s->log + s->log_len, buf, (size_t)n);
        s->log_len += (size_t)n;
        s->log[s->log_len] = '\0';
        pthread_mutex_unlock(&s->mu);
        if (getenv("TEST_SERVER_ECHO"))
            fwrite(buf, 1, (size_t)n, stderr);
    }
    pthread_mutex_lock(&s->mu);
    s->log_eof = true;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

char *
srv_log(struct srv *s)
{
    char *c;
    pthread_mutex_lock(&s->mu);
    c = strdup(s->log ? s->log : "");
    pthread_mutex_unlock(&s->mu);
    return c;
}

int
srv_start(struct srv *s, const char *const *argv, const char *const *env)
{
    int fds[2];
    double until = now_ms() + (double)test_ms(20000);

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    if (pipe(fds) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        setenv("PORT", "0", 1);
        setenv("ITX_BIND", "127.0.0.1", 1);
        setenv("ITX_LOG_FORMAT", "json", 1);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    s->log_fd = fds[0];
    pthread_create(&s->reader, NULL, reader_main, s);
    while (now_ms() < until) {
        char *log = srv_log(s), *p = strstr(log, "\"port\":");
        int status;
        if (p) {
            s->port = (unsigned)atoi(p + 7);
            free(log);
            return 0;
        }
        free(log);
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        ms_sleep(5);
    }
    return -1;
}

int
srv_signal_wait(struct srv *s, int sig)
{
    double until = now_ms() + (double)test_ms(20000);
    int status;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    while (now_ms() < until) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            /* The exit does not mean the reader has the last lines yet: wait for the end of
             * the pipe (bounded, in case something the server started still holds it). */
            while (now_ms() < until) {
                bool eof;
                pthread_mutex_lock(&s->mu);
                eof = s->log_eof;
                pthread_mutex_unlock(&s->mu);
                if (eof)
                    break;
                ms_sleep(2);
            }
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        ms_sleep(5);
    }
    return -1;
}

void
srv_free(struct srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->log_fd > 0) {
        pthread_join(s->reader, NULL);
        close(s->log_fd);
        s->log_fd = 0;
    }
    free(s->log);
    s->log = NULL;
    pthread_mutex_destroy(&s->mu);
}

struct sink {
    char *p;
    size_t n;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *k = ud;
    size_t n = size * nmemb;
    k->p = realloc(k->p, k->n + n + 1);
    memcpy(k->p + k->n, p, n);
    k->n += n;
    k->p[k->n] = '\0';
    return n;
}

struct src {
    const char *p;
    size_t n, off;
};

static size_t
on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct src *s = ud;
    size_t n = size * nmemb;
    if (n > s->n - s->off)
        n = s->n - s->off;
    memcpy(buf, s->p + s->off, n);
    s->off += n;
    return n;
}

int
http_ex(unsigned port, const char *method, const char *path, const char *const *headers,
        const void *body, size_t body_len, bool chunked, bool path_as_is, struct resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct sink b = {0}, h = {0};
    struct src src = {body, body_len, 0};
    char url[2048];
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L * test_time_scale());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (path_as_is)
        curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    if (body) {
        if (chunked) {
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &src);
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = b.p ? b.p : strdup("");
    r->body_len = b.n;
    r->headers = h.p ? h.p : strdup("");
    return rc == CURLE_OK ? 0 : -1;
}

int
http(unsigned port, const char *method, const char *path, const char *const *headers,
     const void *body, size_t body_len, struct resp *r)
{
    return http_ex(port, method, path, headers, body, body_len, false, false, r);
}

void
resp_free(struct resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

bool
resp_header(const struct resp *r, const char *name, char *out, size_t out_size)
{
    size_t n = strlen(name);
    const char *p = r->headers;

    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t len;
            while (*v == ' ')
                v++;
            len = eol ? (size_t)(eol - v) : strlen(v);
            if (len >= out_size)
                len = out_size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
        p = eol ? eol + 2 : NULL;
    }
    return false;
}

double
metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while (p && *p) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

double
metric_now(unsigned port, const char *series)
{
    struct resp r;
    double v = -1;
    if (http(port, "GET", "/metrics", NULL, NULL, 0, &r) == 0 && r.status == 200)
        v = metric(r.body, series);
    resp_free(&r);
    return v;
}

bool
metric_wait(unsigned port, const char *series, double want, long timeout_ms)
{
    double until = now_ms() + (double)test_ms(timeout_ms);
    while (now_ms() < until) {
        if (metric_now(port, series) == want)
            return true;
        ms_sleep(10);
    }
    return false;
}

bool
srv_wait_ready(unsigned port, long timeout_ms)
{
    double until = now_ms() + (double)test_ms(timeout_ms);
    while (now_ms() < until) {
        struct resp r;
        long st = -1;
        if (http(port, "GET", "/readyz", NULL, NULL, 0, &r) == 0) {
            st = r.status;
            resp_free(&r);
        }
        if (st == 200)
            return true;
        ms_sleep(10);
    }
    return false;
}

char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)n)) != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        *len = (size_t)n;
    fclose(f);
    return p;
}

void
b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

char *
b64_file(const char *path)
{
    size_t n = 0;
    char *in = read_all(path, &n), *out;

    if (!in)
        return NULL;
    out = malloc((n + 2) / 3 * 4 + 1);
    if (out)
        b64((const unsigned char *)in, n, out);
    free(in);
    return out;
}
