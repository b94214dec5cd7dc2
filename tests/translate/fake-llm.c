/* The fake LLM vendor of fake-llm.h. */
#include "fake-llm.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

/* Records the first violation: what was wrong, and the offending value when there is one. */
static void
fail(struct fake_llm *f, const char *what, const char *arg)
{
    if (!f->error[0])
        snprintf(f->error, sizeof(f->error), "%s%s%s", what, arg ? ": " : "", arg ? arg : "");
}

static void
send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static const char *
header(const char *head, const char *name, char *out, size_t size)
{
    const char *p = head;
    size_t k = strlen(name);
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1, *e = strstr(v, "\r\n");
            size_t n;
            while (*v == ' ')
                v++;
            n = e ? (size_t)(e - v) : strlen(v);
            if (n >= size)
                n = size - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static const char *
str(json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

/* Checks the documented request shape; returns the user text (borrowed from root). */
static const char *
check_request(struct fake_llm *f, const char *method, const char *path, const char *head,
              json_t *root)
{
    char want[512], v[512];
    const char *user = NULL;

    if (strcmp(method, "POST") != 0)
        fail(f, "method is not POST", method);
    if (!header(head, "Content-Type", v, sizeof(v)) || strncmp(v, "application/json", 16) != 0)
        fail(f, "Content-Type is not application/json", NULL);
    if (!root) {
        fail(f, "body is not JSON", NULL);
        return NULL;
    }
    if (f->vendor == FAKE_GEMINI) {
        json_t *gc = json_object_get(root, "generationConfig");
        json_t *schema = json_object_get(gc, "responseSchema");
        snprintf(want, sizeof(want), "/v1beta/models/%s:generateContent", f->model);
        if (strcmp(path, want) != 0)
            fail(f, "unexpected path", path);
        if (!header(head, "x-goog-api-key", v, sizeof(v)) || strcmp(v, f->key) != 0)
            fail(f, "x-goog-api-key is missing or wrong", NULL);
        if (header(head, "Authorization", v, sizeof(v)))
            fail(f, "gemini request carries an Authorization header", NULL);
        if (!json_is_string(json_object_get(
                json_array_get(json_object_get(json_object_get(root, "systemInstruction"), "parts"),
                               0),
                "text")))
            fail(f, "systemInstruction.parts[0].text missing", NULL);
        user = json_string_value(json_object_get(
            json_array_get(
                json_object_get(json_array_get(json_object_get(root, "contents"), 0), "parts"), 0),
            "text"));
        if (!json_is_number(json_object_get(gc, "temperature")) ||
            json_number_value(json_object_get(gc, "temperature")) != 0.0)
            fail(f, "generationConfig.temperature is not 0", NULL);
        if (!json_is_string(json_object_get(gc, "responseMimeType")) ||
            strcmp(json_string_value(json_object_get(gc, "responseMimeType")), "application/json"))
            fail(f, "responseMimeType is not application/json", NULL);
        if (!json_is_string(json_object_get(schema, "type")) ||
            strcmp(json_string_value(json_object_get(schema, "type")), "OBJECT") ||
            !json_is_object(json_object_get(json_object_get(schema, "properties"), "translations")))
            fail(f, "responseSchema is not the translations object", NULL);
    } else {
        json_t *msgs = json_object_get(root, "messages");
        json_t *rf = json_object_get(root, "response_format");
        if (strcmp(path, "/v1/chat/completions") != 0)
            fail(f, "unexpected path", path);
        if (f->key) {
            snprintf(want, sizeof(want), "Bearer %s", f->key);
            if (!header(head, "Authorization", v, sizeof(v)) || strcmp(v, want) != 0)
                fail(f, "Authorization is missing or wrong", NULL);
        } else if (header(head, "Authorization", v, sizeof(v))) {
            fail(f, "Authorization sent without a key", NULL);
        }
        if (!json_is_string(json_object_get(root, "model")) ||
            strcmp(json_string_value(json_object_get(root, "model")), f->model))
            fail(f, "unexpected model", json_string_value(json_object_get(root, "model")));
        if (json_array_size(msgs) != 2 ||
            strcmp(str(json_object_get(json_array_get(msgs, 0), "role")), "system") ||
            strcmp(str(json_object_get(json_array_get(msgs, 1), "role")), "user"))
            fail(f, "messages are not [system, user]", NULL);
        user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
        if (!json_is_number(json_object_get(root, "temperature")) ||
            json_number_value(json_object_get(root, "temperature")) != 0.0)
            fail(f, "temperature is not 0", NULL);
        if (!json_is_string(json_object_get(rf, "type")) ||
            strcmp(json_string_value(json_object_get(rf, "type")), "json_object"))
            fail(f, "response_format.type is not json_object", NULL);
    }
    if (!user || !strstr(user, "Segments:\n"))
        fail(f, "user text has no segments", NULL);
    return user;
}

/* The model's answer for the segments in the user text. */
static char *
auto_answer(struct fake_llm *f, const char *user, enum fake_kind kind)
{
    const char *seg = user ? strstr(user, "Segments:\n") : NULL;
    json_t *arr = seg ? json_loads(seg + 10, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    json_t *out = json_array(), *it;
    size_t i, n = json_array_size(arr);
    char *s;

    json_array_foreach(arr, i, it)
    {
        char text[128];
        json_int_t id = json_integer_value(json_object_get(it, "id"));
        if (kind == FAKE_AUTO_DROP_LAST && i + 1 == n)
            break;
        if (kind == FAKE_AUTO_CHINESE && id == 1)
            snprintf(text, sizeof(text), "包邮");
        else if (f->cyrillic)
            snprintf(text, sizeof(text), "перевод %lld", (long long)id);
        else
            snprintf(text, sizeof(text), "translation %lld", (long long)id);
        json_array_append_new(out, json_pack("{s:I, s:s}", "id", id, "text", text));
    }
    {
        json_t *root = json_pack("{s:o}", "translations", out);
        s = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    }
    json_decref(arr);
    return s;
}

static char *
wrap(struct fake_llm *f, const char *answer)
{
    json_t *j;
    if (f->vendor == FAKE_GEMINI)
        j = json_pack("{s:[{s:{s:[{s:s}], s:s}, s:s, s:i}], s:{s:i, s:i}, s:s}", "candidates",
                      "content", "parts", "text", answer, "role", "model", "finishReason", "STOP",
                      "index", 0, "usageMetadata", "promptTokenCount", 10, "candidatesTokenCount",
                      10, "modelVersion", f->model);
    else
        j = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "id", "chatcmpl-1",
                      "object", "chat.completion", "created", 1700000000, "model", f->model,
                      "choices", "index", 0, "message", "role", "assistant", "content", answer,
                      "finish_reason", "stop");
    {
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return s;
    }
}

static void
serve(struct fake_llm *f, int c)
{
    char buf[65536], method[16] = "", path[512] = "", cl[32];
    size_t len = 0, body_len = 0;
    char *end = NULL;
    json_t *root;
    const char *user;
    struct fake_reply r;
    char *answer = NULL, *body = NULL, head[1024];
    int idx;

    while (len + 1 < sizeof(buf)) {
        ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            body_len = header(buf, "Content-Length", cl, sizeof(cl)) ? (size_t)atol(cl) : 0;
        }
        if (end && len >= (size_t)(end + 4 - buf) + body_len)
            break;
    }
    if (!end)
        return;
    *end = '\0';
    sscanf(buf, "%15s %511s", method, path);
    /* In flight from the whole request read until just before the first byte of the reply:
     * a window inside the client's own (it holds its slot from before connecting until the
     * whole reply is in), so max_in_flight never counts a slot the client already freed. */
    pthread_mutex_lock(&f->mu);
    if (++f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    idx = f->n_requests < FAKE_MAX ? f->n_requests : FAKE_MAX - 1;
    f->at_ms[idx] = itx_now_ms();
    f->n_requests++;
    r = f->replies[idx < f->n_replies ? idx : f->n_replies - 1];
    root = json_loadb(end + 4, body_len, 0, NULL);
    user = check_request(f, method, path, buf, root);
    if (user)
        snprintf(f->last_user, sizeof(f->last_user), "%s", user);
    pthread_mutex_unlock(&f->mu);
    if (r.delay_ms > 0) {
        struct timespec ts = {r.delay_ms / 1000, (r.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (r.kind == FAKE_RAW) {
        body = strdup(r.body ? r.body : "");
    } else {
        answer = auto_answer(f, user, r.kind);
        body = wrap(f, answer);
        r.status = 200;
    }
    pthread_mutex_lock(&f->mu);
    f->in_flight--;
    pthread_mutex_unlock(&f->mu);
    if (r.kind == FAKE_TRUNCATED) {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 strlen(body));
        send_all(c, head, strlen(head));
        send_all(c, body, strlen(body) / 2);
    } else {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n%s\r\n",
                 r.status, strlen(body), r.headers ? r.headers : "");
        send_all(c, head, strlen(head));
        send_all(c, body, strlen(body));
    }
    json_decref(root);
    free(answer);
    free(body);
}

struct conn {
    struct fake_llm *f;
    int fd;
};

/* One thread per connection, so the server sees how many requests a client has in flight. */
static void *
handle(void *arg)
{
    struct conn *cn = arg;
    struct fake_llm *f = cn->f;

    serve(f, cn->fd);
    shutdown(cn->fd, SHUT_WR);
    close(cn->fd);
    pthread_mutex_lock(&f->mu);
    f->handlers--;
    pthread_cond_broadcast(&f->idle);
    pthread_mutex_unlock(&f->mu);
    free(cn);
    return NULL;
}

static void *
run(void *arg)
{
    struct fake_llm *f = arg;
    for (;;) {
        pthread_t th;
        struct conn *cn;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        cn = malloc(sizeof(*cn));
        if (!cn) {
            close(c);
            continue;
        }
        cn->f = f;
        cn->fd = c;
        pthread_mutex_lock(&f->mu);
        f->handlers++;
        pthread_mutex_unlock(&f->mu);
        if (pthread_create(&th, NULL, handle, cn) != 0) {
            close(c);
            free(cn);
            pthread_mutex_lock(&f->mu);
            f->handlers--;
            pthread_mutex_unlock(&f->mu);
            continue;
        }
        pthread_detach(th);
    }
    return NULL;
}

int
fake_llm_start(struct fake_llm *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int one = 1;

    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->idle, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->fd < 0)
        return 0;
    setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->fd, 16) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &al) != 0)
        return 0;
    f->port = ntohs(a.sin_port);
    if (pthread_create(&f->thread, NULL, run, f) != 0)
        return 0;
    return f->port;
}

void
fake_llm_stop(struct fake_llm *f)
{
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->thread, NULL);
    pthread_mutex_lock(&f->mu);
    while (f->handlers > 0)
        pthread_cond_wait(&f->idle, &f->mu);
    pthread_mutex_unlock(&f->mu);
    pthread_cond_destroy(&f->idle);
    pthread_mutex_destroy(&f->mu);
}

void
fake_llm_script(struct fake_llm *f, const struct fake_reply *r, int n)
{
    pthread_mutex_lock(&f->mu);
    memcpy(f->replies, r, (size_t)n * sizeof(*r));
    f->n_replies = n;
    f->n_requests = 0;
    f->max_in_flight = 0;
    f->error[0] = '\0';
    pthread_mutex_unlock(&f->mu);
}
