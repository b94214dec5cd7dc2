/* Server settings: one table drives the environment, the flags, validation and --help. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "server/server-impl.h"

enum kind { K_INT, K_STR, K_KEYS };

struct setting {
    const char *env;
    const char *flag;
    enum kind kind;
    size_t off;  /* offset of the member in struct itx_server_config */
    size_t size; /* K_STR: member size */
    long long min, max;
    const char *help;
};

#define INT(env, flag, member, lo, hi, help)                                                       \
    {                                                                                              \
        env, flag, K_INT, offsetof(struct itx_server_config, member), 0, lo, hi, help              \
    }
#define STR(env, flag, member, help)                                                               \
    {                                                                                              \
        env, flag, K_STR, offsetof(struct itx_server_config, member),                              \
            sizeof(((struct itx_server_config *)0)->member), 0, 0, help                            \
    }

static const struct setting settings[] = {
    INT("PORT", "port", port, 0, 65535, "TCP port (0: any free port)"),
    STR("ITX_BIND", "bind", bind, "address to listen on (IPv4 or IPv6 literal)"),
    INT("ITX_HTTP_THREADS", "http-threads", http_threads, 1, 64,
        "HTTP threads (parse, validate, enqueue, answer)"),
    INT("ITX_WORKERS", "workers", workers, 1, 256, "worker threads for CPU stages"),
    INT("ITX_QUEUE", "queue", queue, 1, 100000,
        "requests waiting for a worker before 429 (default 2 x workers)"),
    INT("ITX_DEADLINE_MS", "deadline-ms", deadline_ms, 100, 3600000,
        "per-request deadline; work is cancelled and the client gets 504"),
    INT("ITX_MAX_JSON_BYTES", "max-json-bytes", max_json_bytes, 1024, 268435456,
        "largest JSON request body"),
    INT("ITX_MAX_UPLOAD_BYTES", "max-upload-bytes", max_upload_bytes, 1024, 268435456,
        "largest multipart upload body"),
    INT("ITX_MAX_IMAGE_BYTES", "max-image-bytes", max_image_bytes, 1024, 268435456,
        "largest single image (decoded base64 or uploaded part)"),
    INT("ITX_MAX_IMAGES", "max-images", max_images, 1, 1000, "images per /v1/translate"),
    INT("ITX_MAX_JOB_IMAGES", "max-job-images", max_job_images, 1, 100000,
        "images per /v1/jobs batch"),
    INT("ITX_MAX_HEADER_BYTES", "max-header-bytes", max_header_bytes, 4096, 1048576,
        "request line and headers of one request"),
    INT("ITX_MAX_CONNECTIONS", "max-connections", max_connections, 1, 100000, "open connections"),
    INT("ITX_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", max_per_ip, 0, 100000,
        "open connections from one address (0: no limit)"),
    INT("ITX_IDLE_TIMEOUT_S", "idle-timeout-s", idle_timeout_s, 1, 3600,
        "close a connection silent this long"),
    INT("ITX_READ_TIMEOUT_MS", "read-timeout-ms", read_timeout_ms, 100, 3600000,
        "time allowed to receive a whole request body"),
    INT("ITX_GRACE_MS", "grace-ms", grace_ms, 0, 3600000,
        "on SIGTERM, time in-flight requests get to finish"),
    INT("ITX_READY_INTERVAL_MS", "ready-interval-ms", ready_interval_ms, 10, 3600000,
        "how often readiness checks run"),
    INT("ITX_RETRY_AFTER_S", "retry-after-s", retry_after_s, 1, 3600,
        "Retry-After sent with 429 and 503"),
    STR("ITX_STORE_DIR", "files-dir", files_dir,
        "local store directory served at /files/ (empty: not served)"),
    STR("GOOGLE_CLOUD_PROJECT", "project", project,
        "Google Cloud project id, for trace names in logs"),
    {"ITX_API_KEYS", "api-keys", K_KEYS, 0, 0, 0, 0,
     "comma-separated API keys for Authorization: Bearer (empty: no authentication)"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static long
default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : n);
}

void
itx_server_config_init(struct itx_server_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->bind, sizeof(c->bind), "0.0.0.0");
    c->port = 8080;
    c->http_threads = 2;
    c->workers = default_workers();
    c->queue = 0; /* 2 x workers, resolved at load / new */
    c->deadline_ms = 60000;
    c->max_json_bytes = 1L << 20;
    c->max_upload_bytes = 25L << 20;
    c->max_image_bytes = 20L << 20;
    c->max_images = 16;
    c->max_job_images = 100;
    c->max_header_bytes = 16384;
    c->max_connections = 1024;
    c->max_per_ip = 64;
    c->idle_timeout_s = 10;
    c->read_timeout_ms = 30000;
    c->grace_ms = 8000;
    c->ready_interval_ms = 5000;
    c->retry_after_s = 1;
    snprintf(c->files_dir, sizeof(c->files_dir), "data/files");
    snprintf(c->version, sizeof(c->version), "unknown");
}

static enum itx_status
set_keys(struct itx_server_config *c, const char *v, const char *origin, struct itx_diag *d)
{
    size_t n = 0;
    const char *p = v;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            if (n == ITX_SERVER_MAX_API_KEYS)
                return itx_diag_set(d, ITX_ERR_INVALID, "%s: more than %d API keys", origin,
                                    ITX_SERVER_MAX_API_KEYS);
            if (len < 16 || len > 128)
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "%s: API key %zu is %zu characters, valid 16..128", origin,
                                    n + 1, len);
            for (size_t i = 0; i < len; i++)
                if (p[i] <= ' ' || p[i] > '~')
                    return itx_diag_set(d, ITX_ERR_INVALID,
                                        "%s: API key %zu has a character outside printable "
                                        "ASCII",
                                        origin, n + 1);
            memcpy(c->api_keys[n], p, len);
            c->api_keys[n][len] = '\0';
            n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    c->n_api_keys = n;
    return ITX_OK;
}

static enum itx_status
apply(struct itx_server_config *c, const struct setting *s, const char *v, const char *origin,
      struct itx_diag *d)
{
    char *base = (char *)c;

    switch (s->kind) {
    case K_INT: {
        long long x;
        if (!itx_parse_int(v, s->min, s->max, &x))
            return itx_diag_set(d, ITX_ERR_INVALID, "%s: '%.40s' is not an integer in %lld..%lld",
                                origin, v, s->min, s->max);
        *(long *)(base + s->off) = (long)x;
        return ITX_OK;
    }
    case K_STR:
        if (strlen(v) >= s->size)
            return itx_diag_set(d, ITX_ERR_INVALID, "%s: value is longer than %zu bytes", origin,
                                s->size - 1);
        memcpy(base + s->off, v, strlen(v) + 1);
        return ITX_OK;
    case K_KEYS:
        return set_keys(c, v, origin, d);
    }
    return ITX_ERR_INTERNAL;
}

static enum itx_status
check_bind(const struct itx_server_config *c, struct itx_diag *d)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (inet_pton(AF_INET, c->bind, &a4) == 1 || inet_pton(AF_INET6, c->bind, &a6) == 1)
        return ITX_OK;
    return itx_diag_set(d, ITX_ERR_INVALID,
                        "ITX_BIND: '%.40s' is not an IPv4 or IPv6 address literal", c->bind);
}

enum itx_status
itx_server_config_load(struct itx_server_config *c, int argc, char **argv, struct itx_diag *d)
{
    char origin[96];
    enum itx_status st;

    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (!v || (!*v && settings[i].kind == K_INT))
            continue;
        if ((st = apply(c, &settings[i], v, settings[i].env, d)) != ITX_OK)
            return st;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *v;
        size_t nlen;
        const struct setting *s = NULL;

        if (strncmp(a, "--", 2) != 0)
            return itx_diag_set(d, ITX_ERR_INVALID, "unexpected argument '%.60s'", a);
        a += 2;
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        for (size_t k = 0; k < N_SETTINGS; k++)
            if (strlen(settings[k].flag) == nlen && strncmp(settings[k].flag, a, nlen) == 0)
                s = &settings[k];
        if (!s)
            return itx_diag_set(d, ITX_ERR_INVALID, "unknown option '--%.*s'", (int)nlen, a);
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return itx_diag_set(d, ITX_ERR_INVALID, "option '--%s' needs a value", s->flag);
            v = argv[++i];
        }
        snprintf(origin, sizeof(origin), "--%s", s->flag);
        if ((st = apply(c, s, v, origin, d)) != ITX_OK)
            return st;
    }
    if ((st = check_bind(c, d)) != ITX_OK)
        return st;
    if (c->queue == 0)
        c->queue = 2 * c->workers;
    if (c->max_image_bytes > c->max_upload_bytes)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "ITX_MAX_IMAGE_BYTES (%ld) is larger than ITX_MAX_UPLOAD_BYTES (%ld)",
                            c->max_image_bytes, c->max_upload_bytes);
    return ITX_OK;
}

void
itx_server_config_help(struct itx_buf *out)
{
    struct itx_server_config def;

    itx_server_config_init(&def);
    itx_buf_puts(out, "settings (environment variable, flag, default, valid range):\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char dv[160];
        if (s->kind == K_INT) {
            long v = *(const long *)((const char *)&def + s->off);
            if (s->off == offsetof(struct itx_server_config, queue))
                snprintf(dv, sizeof(dv), "2 x workers");
            else if (s->off == offsetof(struct itx_server_config, workers))
                snprintf(dv, sizeof(dv), "%ld (cores)", v);
            else
                snprintf(dv, sizeof(dv), "%ld", v);
            itx_buf_printf(out, "  %-28s --%-24s default %s, %lld..%lld\n      %s\n", s->env,
                           s->flag, dv, s->min, s->max, s->help);
        } else {
            const char *v = s->kind == K_STR ? (const char *)&def + s->off : "";
            itx_buf_printf(out, "  %-28s --%-24s default \"%s\"\n      %s\n", s->env, s->flag, v,
                           s->help);
        }
    }
}
