#include "node_proc.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
node_proc_start(struct node_proc *p, const char *const *argv)
{
    int fds[2];
    char buf[256];
    size_t n = 0;
    const char *args[16];
    size_t k = 0;

    if (pipe(fds) != 0)
        return -1;
    args[k++] = "node";
    for (size_t i = 0; argv[i] && k < 15; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("node", (char *const *)args);
        _exit(127);
    }
    close(fds[1]);
    /* Wait up to 30 s for "PORT n". */
    for (;;) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        ssize_t r;
        char *nl;
        if (poll(&pf, 1, 30000) <= 0)
            break;
        r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if ((nl = strchr(buf, '\n')) != NULL) {
            unsigned port;
            if (sscanf(buf, "PORT %u", &port) == 1) {
                p->port = port;
                close(fds[0]);
                return 0;
            }
            break;
        }
    }
    close(fds[0]);
    node_proc_stop(p);
    return -1;
}

void
node_proc_stop(struct node_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

struct sink {
    char *out;
    size_t size, len;
};

static size_t
sink_cb(char *ptr, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    for (size_t i = 0; i < len && s->len + 1 < s->size; i++)
        s->out[s->len++] = ptr[i];
    if (s->size)
        s->out[s->len] = '\0';
    return len;
}

long
node_proc_http(unsigned port, const char *method, const char *path, char *out, size_t out_size)
{
    CURL *c = curl_easy_init();
    char url[1024];
    struct sink s = {out, out_size, 0};
    long code = 0;

    if (!c)
        return -1;
    if (out_size)
        out[0] = '\0';
    if (strncmp(path, "http", 4) == 0)
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}
