/*
 * The HTTP front: libmicrohttpd daemon, routes, authentication, problem documents, access
 * logs, readiness, start-up and shutdown.
 *
 * A request that needs work is parsed and validated here, turned into a work item by the
 * pipeline, admitted to the pool and its connection suspended. The worker (or the deadline
 * reaper) resumes it, and the access handler, called again, sends the answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "server/server-impl.h"

enum route {
    R_NONE,
    R_HEALTHZ,
    R_READYZ,
    R_METRICS,
    R_OPENAPI,
    R_FILES,
    R_TRANSLATE,
    R_JOBS,
    R_JOB_GET,
    R_JOB_CANCEL,
    R_WEB,
    R_RENDER,
};

static const char *const route_names[] = {
    [R_NONE] = "other",
    [R_HEALTHZ] = "healthz",
    [R_READYZ] = "readyz",
    [R_METRICS] = "metrics",
    [R_OPENAPI] = "openapi",
    [R_FILES] = "files",
    [R_TRANSLATE] = "translate",
    [R_JOBS] = "jobs",
    [R_JOB_GET] = "job_get",
    [R_JOB_CANCEL] = "job_cancel",
    [R_WEB] = "web",
    [R_RENDER] = "render",
};

struct conn {
    struct itx_server *s;
    double start_ms;
    enum route route;
    char method[12];
    char url[512];
    char request_id[72];
    char trace[200];   /* projects/P/traces/T, or "" */
    char trace_id[40]; /* T, or "" */
    char span_id[24];
    bool sampled;
    char user_agent[256];
    char remote_ip[64];
    char job_id[72];
    char idem_key[256];
    bool have_idem;
    bool multipart;
    char content_type[256];
    struct itx_buf body;
    bool headers_done;
    bool too_large;
    size_t discarded;
    bool admitted;
    bool responded;
    struct itx_server_work *work;
    unsigned status;
    size_t response_size;
    char code[48]; /* problem code, for the log */
};

/* ---- small helpers ---------------------------------------------------------------- */

static void
copy_str(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    if (src)
        for (; src[n] && n + 1 < size; n++)
            dst[n] = ((unsigned char)src[n] < 0x20 || src[n] == 0x7f) ? '?' : src[n];
    dst[n] = '\0';
}

static bool
is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

static bool
is_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void
new_request_id(char out[33])
{
    unsigned char r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* Not secret: uniqueness is all a request id needs. */
        uint64_t t = itx_now_ns();
        memcpy(r, &t, 8);
        memcpy(r + 8, &t, 8);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Trace context: W3C traceparent first, then Google's X-Cloud-Trace-Context. */
static void
parse_trace(struct conn *cn, struct MHD_Connection *c)
{
    const char *tp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
    const char *xc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Cloud-Trace-Context");

    if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' && is_hex(tp, 2) &&
        is_hex(tp + 3, 32) && is_hex(tp + 36, 16) && is_hex(tp + 53, 2)) {
        memcpy(cn->trace_id, tp + 3, 32);
        cn->trace_id[32] = '\0';
        memcpy(cn->span_id, tp + 36, 16);
        cn->span_id[16] = '\0';
        cn->sampled = (strtol(tp + 53, NULL, 16) & 1) != 0;
    } else if (xc && strlen(xc) >= 32 && is_hex(xc, 32) && (xc[32] == '/' || xc[32] == '\0')) {
        memcpy(cn->trace_id, xc, 32);
        cn->trace_id[32] = '\0';
        if (xc[32] == '/') {
            size_t n = 0;
            const char *p = xc + 33;
            while (p[n] >= '0' && p[n] <= '9' && n < 20)
                n++;
            if (n > 0) {
                unsigned long long span = strtoull(p, NULL, 10);
                snprintf(cn->span_id, sizeof(cn->span_id), "%016llx", span);
            }
            cn->sampled = strstr(xc, ";o=1") != NULL;
        }
    }
    for (char *p = cn->trace_id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (cn->trace_id[0] && cn->s->cfg.project[0])
        snprintf(cn->trace, sizeof(cn->trace), "projects/%s/traces/%s", cn->s->cfg.project,
                 cn->trace_id);
}

static void
remote_ip(struct conn *cn, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    cn->remote_ip[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, cn->remote_ip,
                  sizeof(cn->remote_ip));
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
                  cn->remote_ip, sizeof(cn->remote_ip));
}

/* ---- responses -------------------------------------------------------------------- */

static enum MHD_Result
respond(struct conn *cn, struct MHD_Connection *c, unsigned status, const char *ctype,
        const void *body, size_t len, const char *cache)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, "X-Request-Id", cn->request_id);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache ? cache : "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 429 || status == 503) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", cn->s->cfg.retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"itx\"");
    if (status == 405) {
        const char *allow = "GET, HEAD";
        if (cn->route == R_TRANSLATE || cn->route == R_JOBS || cn->route == R_JOB_CANCEL ||
            cn->route == R_RENDER)
            allow = "POST";
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (cn->work && cn->work->location[0] && status < 300)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, cn->work->location);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cn->status = status;
    cn->response_size = len;
    cn->responded = true;
    return ret;
}

static const char *
status_title(unsigned st)
{
    switch (st) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 499:
        return "Client Closed Request";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Internal Server Error";
    }
}

/* An RFC 9457 problem document; code is the stable machine-readable reason. */
static enum MHD_Result
problem(struct conn *cn, struct MHD_Connection *c, unsigned status, const char *code,
        const char *detail)
{
    struct itx_buf b;
    enum MHD_Result ret;
    char fallback[512];
    bool ok;

    itx_buf_init(&b, 8192);
    ok = itx_buf_printf(&b,
                        "{\"type\":\"https://itx.invalid/problems/%s\",\"title\":\"%s\","
                        "\"status\":%u,\"code\":",
                        code, status_title(status), status) == ITX_OK;
    ok = ok && itx_buf_json_str(&b, code) == ITX_OK;
    ok = ok && itx_buf_puts(&b, ",\"detail\":") == ITX_OK;
    ok = ok && itx_buf_json_str(&b, detail) == ITX_OK;
    ok = ok && itx_buf_puts(&b, ",\"request_id\":") == ITX_OK;
    ok = ok && itx_buf_json_str(&b, cn->request_id) == ITX_OK;
    ok = ok && itx_buf_puts(&b, "}") == ITX_OK;
    copy_str(cn->code, sizeof(cn->code), code);
    if (!ok) {
        /* Out of memory: the same document without the detail, in a stack buffer. code is a
         * constant of the server's and the request id passed is_id(), so neither needs
         * escaping. */
        int n = snprintf(fallback, sizeof(fallback),
                         "{\"type\":\"https://itx.invalid/problems/%s\",\"title\":\"%s\","
                         "\"status\":%u,\"code\":\"%s\",\"detail\":\"the server ran out of "
                         "memory writing this error\",\"request_id\":\"%s\"}",
                         code, status_title(status), status, code, cn->request_id);
        ret = respond(cn, c, status, "application/problem+json", fallback,
                      n > 0 && (size_t)n < sizeof(fallback) ? (size_t)n : 0, NULL);
    } else {
        ret = respond(cn, c, status, "application/problem+json", b.data, b.len, NULL);
    }
    itx_buf_release(&b);
    return ret;
}

static enum MHD_Result
problem_status(struct conn *cn, struct MHD_Connection *c, enum itx_status st, const char *code,
               const char *detail)
{
    return problem(cn, c, (unsigned)itx_err_http_status(st), code ? code : itx_err_str(st), detail);
}

/* ---- authentication ----------------------------------------------------------------- */

static bool
authorized(const struct itx_server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char got[65];
    unsigned ok = 0;

    if (s->cfg.n_api_keys == 0)
        return true;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    /* Compare digests, in constant time, against every key: the time taken says nothing
     * about which key, how much of it, or its length matched. */
    itx_sha256_hex(h + 7, strlen(h + 7), got);
    for (size_t k = 0; k < s->cfg.n_api_keys; k++) {
        char want[65];
        unsigned diff = 0;
        itx_sha256_hex(s->cfg.api_keys[k], strlen(s->cfg.api_keys[k]), want);
        for (size_t i = 0; i < 64; i++)
            diff |= (unsigned)(got[i] ^ want[i]);
        ok |= (diff == 0);
    }
    return ok != 0;
}

/* ---- routes ---------------------------------------------------------------------- */

static enum route
match(const struct itx_server *s, const char *url, struct conn *cn)
{
    const struct itx_server_pipeline *p = &s->pipeline;

    if (strcmp(url, "/healthz") == 0)
        return R_HEALTHZ;
    if (strcmp(url, "/readyz") == 0)
        return R_READYZ;
    if (strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(url, "/openapi.json") == 0)
        return R_OPENAPI;
    if (strncmp(url, "/files/", 7) == 0 && s->cfg.files_dir[0])
        return R_FILES;
    if (strcmp(url, "/v1/translate") == 0 && p->translate)
        return R_TRANSLATE;
    if (strcmp(url, "/v1/render") == 0 && p->render)
        return R_RENDER;
    {
        struct itx_web_asset a;
        if (itx_web_asset_find(url, &a))
            return R_WEB;
    }
    if (strcmp(url, "/v1/jobs") == 0 && p->job_submit)
        return R_JOBS;
    if (strncmp(url, "/v1/jobs/", 9) == 0) {
        const char *id = url + 9;
        size_t n = strlen(id);
        if (n > 7 && strcmp(id + n - 7, ":cancel") == 0 && p->job_cancel) {
            copy_str(cn->job_id, sizeof(cn->job_id), id);
            if (n - 7 < sizeof(cn->job_id))
                cn->job_id[n - 7] = '\0';
            return R_JOB_CANCEL;
        }
        if (p->job_get && !strchr(id, ':')) {
            copy_str(cn->job_id, sizeof(cn->job_id), id);
            return R_JOB_GET;
        }
    }
    return R_NONE;
}

static bool
is_get(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static enum MHD_Result
serve_readyz(struct conn *cn, struct MHD_Connection *c)
{
    struct itx_server *s = cn->s;
    char reason[sizeof(s->ready_reason)];

    if (atomic_load(&s->draining))
        return problem(cn, c, 503, "draining", "the server is shutting down");
    pthread_mutex_lock(&s->ready_mu);
    memcpy(reason, s->ready_reason, sizeof(reason));
    pthread_mutex_unlock(&s->ready_mu);
    if (!atomic_load(&s->ready))
        return problem(cn, c, 503, "not_ready", reason[0] ? reason : "starting");
    return respond(cn, c, 200, "application/json", "{\"status\":\"ready\"}", 18, "no-cache");
}

static enum MHD_Result
serve_metrics(struct conn *cn, struct MHD_Connection *c)
{
    struct itx_buf b;
    enum MHD_Result ret;

    itx_buf_init(&b, 8u << 20);
    if (itx_metrics_render(cn->s->metrics, &b) != ITX_OK || !b.data) {
        itx_buf_release(&b);
        return problem(cn, c, 500, "internal", "cannot render the metrics");
    }
    ret =
        respond(cn, c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, "no-cache");
    itx_buf_release(&b);
    return ret;
}

static enum MHD_Result
serve_files(struct conn *cn, struct MHD_Connection *c, const char *url)
{
    struct MHD_Response *r = NULL;
    unsigned status = 0;
    size_t size = 0;
    struct itx_diag d;
    enum MHD_Result ret;

    itx_diag_init(&d);
    if (files_serve(cn->s, c, url + 7, &r, &status, &size, &d) != ITX_OK)
        return problem_status(cn, c, d.code, NULL, d.msg);
    MHD_add_response_header(r, "X-Request-Id", cn->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(c, status, r);
    cn->status = status;
    cn->response_size = strcmp(cn->method, "HEAD") == 0 ? 0 : size;
    MHD_destroy_response(r);
    cn->responded = true;
    return ret;
}

/* GET / and the page's files: revalidated on every use (no-cache with a strong ETag, so an
 * unchanged file costs a 304), under a Content-Security-Policy that allows no inline code. */
static enum MHD_Result
serve_web(struct conn *cn, struct MHD_Connection *c, const char *url)
{
    struct itx_web_asset a;
    struct MHD_Response *r;
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    unsigned status = 200;
    enum MHD_Result ret;

    if (!itx_web_asset_find(url, &a))
        return problem(cn, c, 404, "not_found", "no such route");
    if (inm && (strstr(inm, a.etag) || strcmp(inm, "*") == 0))
        status = 304;
    r = MHD_create_response_from_buffer(status == 304 ? 0 : a.len, (void *)a.data,
                                        MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a.etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy", ITX_WEB_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Request-Id", cn->request_id);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cn->status = status;
    cn->response_size = status == 304 || strcmp(cn->method, "HEAD") == 0 ? 0 : a.len;
    cn->responded = true;
    return ret;
}

/* Hands the parsed request to the pipeline and admits the work. */
static enum MHD_Result
start_work(struct conn *cn, struct MHD_Connection *c)
{
    struct itx_server *s = cn->s;
    const struct itx_server_pipeline *p = &s->pipeline;
    struct itx_api_request *req = NULL;
    struct itx_server_work *w = NULL;
    struct itx_diag d;
    enum itx_status st = ITX_OK;

    itx_diag_init(&d);
    if (cn->route == R_RENDER) {
        struct itx_api_render_request *rr = NULL;
        st = itx_api_parse_render(cn->body.data ? cn->body.data : "", cn->body.len,
                                  (size_t)s->cfg.max_json_bytes, ITX_API_RENDER_MAX_EDITS, &rr, &d);
        itx_buf_release(&cn->body);
        if (st != ITX_OK)
            return problem_status(cn, c, st, NULL, d.msg);
        st = p->render(p->render_ud, rr, &w, &d);
    } else if (cn->route == R_TRANSLATE || cn->route == R_JOBS) {
        enum itx_api_kind kind = cn->route == R_JOBS ? ITX_API_JOB : ITX_API_TRANSLATE;
        struct itx_api_limits lim;
        itx_api_limits_from_config(&lim, &s->cfg, kind);
        if (cn->multipart)
            st = itx_api_parse_multipart(cn->body.data ? cn->body.data : "", cn->body.len,
                                         cn->content_type, kind, &lim, &req, &d);
        else
            st = itx_api_parse_json(cn->body.data ? cn->body.data : "", cn->body.len, kind, &lim,
                                    &req, &d);
        itx_buf_release(&cn->body);
        if (st != ITX_OK)
            return problem_status(cn, c, st, NULL, d.msg);
        if (cn->route == R_TRANSLATE)
            st = p->translate(p->ud, req, &w, &d);
        else
            st = p->job_submit(p->ud, req, cn->have_idem ? cn->idem_key : NULL, &w, &d);
    } else {
        if (!is_id(cn->job_id, 64))
            return problem(cn, c, 404, "not_found", "job ids are 1..64 of [A-Za-z0-9._-]");
        if (cn->route == R_JOB_GET)
            st = p->job_get(p->ud, cn->job_id, &w, &d);
        else
            st = p->job_cancel(p->ud, cn->job_id, &w, &d);
    }
    if (st != ITX_OK)
        return problem_status(cn, c, st, NULL, d.msg[0] ? d.msg : itx_err_str(st));
    ITX_ASSERT(w != NULL);
    memcpy(w->request_id, cn->request_id, sizeof(w->request_id));
    memcpy(w->trace, cn->trace, sizeof(w->trace));
    w->conn = c;
    cn->work = w;
    MHD_suspend_connection(c);
    st = pool_admit(s, w);
    if (st == ITX_OK) {
        cn->admitted = true;
        return MHD_YES;
    }
    /* Refused: answer at once through the same resume path. */
    itx_metric_add(
        itx_metric_series(s->m_rejected,
                          (const char *[]){st == ITX_ERR_OVERLOADED ? "queue_full" : "draining"}),
        1);
    pthread_mutex_lock(&w->mu);
    w->answered = true;
    w->forced = st;
    pthread_mutex_unlock(&w->mu);
    MHD_resume_connection(c);
    return MHD_YES;
}

void
http_answer_ready(struct itx_server_work *w)
{
    MHD_resume_connection((struct MHD_Connection *)w->conn);
}

static enum MHD_Result
send_work_answer(struct conn *cn, struct MHD_Connection *c)
{
    struct itx_server_work *w = cn->work;
    enum itx_status forced;

    pthread_mutex_lock(&w->mu);
    forced = w->forced;
    pthread_mutex_unlock(&w->mu);
    switch (forced) {
    case ITX_OK:
        break;
    case ITX_ERR_OVERLOADED:
        return problem(cn, c, 429, "overloaded",
                       "the server is busy: the work queue is full, retry later");
    case ITX_ERR_TIMEOUT: {
        char msg[128];
        snprintf(msg, sizeof(msg), "the request did not finish within its %ld ms deadline",
                 cn->s->cfg.deadline_ms);
        return problem(cn, c, 504, "deadline_exceeded", msg);
    }
    default:
        return problem(cn, c, 503, "draining", "the server is shutting down; retry elsewhere");
    }
    if (w->diag.code != ITX_OK)
        return problem_status(cn, c, w->diag.code, w->code[0] ? w->code : NULL,
                              w->diag.msg[0] ? w->diag.msg : itx_err_str(w->diag.code));
    return respond(cn, c, (unsigned)w->status, "application/json",
                   w->reply.data ? w->reply.data : "{}", w->reply.data ? w->reply.len : 2, NULL);
}

static bool
content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* First call for a request: everything that can be decided from the headers. Returns
 * MHD_YES with cn->responded set when it answered. */
static enum MHD_Result
on_headers(struct conn *cn, struct MHD_Connection *c, const char *url, const char *method)
{
    struct itx_server *s = cn->s;
    const char *h;
    bool body_route;

    cn->route = match(s, url, cn);
    body_route = cn->route == R_TRANSLATE || cn->route == R_JOBS || cn->route == R_JOB_CANCEL ||
                 cn->route == R_RENDER;
    switch (cn->route) {
    case R_NONE:
        return problem(cn, c, 404, "not_found", "no such route");
    case R_HEALTHZ:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET");
        return respond(cn, c, 200, "application/json", "{\"status\":\"ok\"}", 15, "no-cache");
    case R_READYZ:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET");
        return serve_readyz(cn, c);
    case R_METRICS:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET");
        return serve_metrics(cn, c);
    case R_OPENAPI:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET");
        return respond(cn, c, 200, "application/json", itx_server_openapi_json,
                       itx_server_openapi_json_len, "no-cache");
    case R_FILES:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET or HEAD");
        return serve_files(cn, c, url);
    case R_WEB:
        if (!is_get(method))
            return problem(cn, c, 405, "method_not_allowed", "use GET or HEAD");
        return serve_web(cn, c, url);
    default:
        break;
    }
    if (body_route ? strcmp(method, "POST") != 0 : !is_get(method))
        return problem(cn, c, 405, "method_not_allowed", body_route ? "use POST" : "use GET");
    if (!authorized(s, c))
        return problem(cn, c, 401, "unauthorized",
                       "missing or wrong API key (send Authorization: Bearer <key>)");
    if (atomic_load(&s->draining))
        return problem(cn, c, 503, "draining", "the server is shutting down; retry elsewhere");
    if (cn->route == R_JOBS) {
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
        if (h) {
            size_t n = strlen(h);
            if (n == 0 || n > 255)
                return problem(cn, c, 400, "invalid", "Idempotency-Key must be 1..255 characters");
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)h[i] < 0x21 || (unsigned char)h[i] > 0x7e)
                    return problem(cn, c, 400, "invalid",
                                   "Idempotency-Key must be printable ASCII without spaces");
            copy_str(cn->idem_key, sizeof(cn->idem_key), h);
            cn->have_idem = true;
        }
    }
    if (cn->route == R_RENDER) {
        long limit = s->cfg.max_json_bytes;
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!content_type_is(h, "application/json"))
            return problem(cn, c, 415, "unsupported_media_type", "send application/json");
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (h) {
            long long n;
            if (!itx_parse_int(h, 0, (long long)1 << 50, &n))
                return problem(cn, c, 400, "invalid", "bad Content-Length");
            if (n > limit) {
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "the body is %lld bytes, the limit is %ld (ITX_MAX_JSON_BYTES)", n, limit);
                return problem(cn, c, 413, "too_large", msg);
            }
        }
        itx_buf_init(&cn->body, (size_t)limit);
    } else if (cn->route == R_TRANSLATE || cn->route == R_JOBS) {
        long limit;
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (content_type_is(h, "application/json")) {
            limit = s->cfg.max_json_bytes;
        } else if (content_type_is(h, "multipart/form-data")) {
            cn->multipart = true;
            limit = s->cfg.max_upload_bytes;
            copy_str(cn->content_type, sizeof(cn->content_type), h);
        } else {
            return problem(cn, c, 415, "unsupported_media_type",
                           "send application/json or multipart/form-data");
        }
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (h) {
            long long n;
            if (!itx_parse_int(h, 0, (long long)1 << 50, &n))
                return problem(cn, c, 400, "invalid", "bad Content-Length");
            if (n > limit) {
                char msg[160];
                snprintf(msg, sizeof(msg), "the body is %lld bytes, the limit is %ld (%s)", n,
                         limit, cn->multipart ? "ITX_MAX_UPLOAD_BYTES" : "ITX_MAX_JSON_BYTES");
                return problem(cn, c, 413, "too_large", msg);
            }
        }
        itx_buf_init(&cn->body, (size_t)limit);
    } else {
        itx_buf_init(&cn->body, 4096); /* job get/cancel: any body is ignored, but bounded */
    }
    return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    struct itx_server *s = cls;
    struct conn *cn = *con_cls;
    (void)version;

    if (!cn) {
        const char *rid;
        cn = itx_calloc(1, sizeof(*cn));
        if (!cn)
            return MHD_NO;
        *con_cls = cn;
        cn->s = s;
        cn->start_ms = itx_now_ms();
        copy_str(cn->method, sizeof(cn->method), method);
        copy_str(cn->url, sizeof(cn->url), url);
        rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && is_id(rid, 64))
            copy_str(cn->request_id, sizeof(cn->request_id), rid);
        else
            new_request_id(cn->request_id);
        copy_str(cn->user_agent, sizeof(cn->user_agent),
                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT));
        remote_ip(cn, c);
        parse_trace(cn, c);
        /* Requests without a body are answered on the second call, as libmicrohttpd
         * expects; an answer queued on the first call costs the keep-alive connection. */
        if (is_get(method))
            return MHD_YES;
        cn->headers_done = true;
        return on_headers(cn, c, url, method);
    }
    if (!cn->headers_done) {
        enum MHD_Result ret;
        cn->headers_done = true;
        ret = on_headers(cn, c, url, method);
        if (ret != MHD_YES || cn->responded)
            return ret;
    }
    if (cn->responded) {
        *upload_data_size = 0; /* answered early (413, 401, ...): discard the body */
        return MHD_YES;
    }
    if (cn->work) {
        bool answered;
        pthread_mutex_lock(&cn->work->mu);
        answered = cn->work->answered;
        pthread_mutex_unlock(&cn->work->mu);
        if (!answered)
            return MHD_YES; /* spurious call while the work runs */
        return send_work_answer(cn, c);
    }
    if (*upload_data_size > 0) {
        if (itx_now_ms() - cn->start_ms > (double)s->cfg.read_timeout_ms) {
            itx_log_warn("closing a connection from %s: the body took over %ld ms", cn->remote_ip,
                         s->cfg.read_timeout_ms);
            return MHD_NO;
        }
        if (cn->too_large) {
            /* libmicrohttpd cannot answer in the middle of a body: discard the rest, up to
             * twice the limit plus 1 MiB in all, and answer 413 at its end; past that, hang
             * up without an answer. */
            cn->discarded += *upload_data_size;
            *upload_data_size = 0;
            return cn->discarded > 2 * cn->body.max + (1u << 20) ? MHD_NO : MHD_YES;
        }
        if (itx_buf_append(&cn->body, upload_data, *upload_data_size) != ITX_OK) {
            if (cn->body.len + *upload_data_size <= cn->body.max)
                return MHD_NO; /* out of memory */
            cn->too_large = true;
            cn->discarded = cn->body.len + *upload_data_size;
            itx_free(cn->body.data);
            cn->body.data = NULL;
            cn->body.len = cn->body.cap = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (cn->too_large) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the body is over the %zu-byte limit", cn->body.max);
        return problem(cn, c, 413, "too_large", msg);
    }
    return start_work(cn, c);
}

static void
log_request(struct conn *cn, enum MHD_RequestTerminationCode toe)
{
    struct itx_buf x;
    struct itx_log_ctx ctx = {
        .request_id = cn->request_id, .trace = cn->trace[0] ? cn->trace : NULL, .image = -1};
    double ms = itx_now_ms() - cn->start_ms;
    enum itx_log_level lvl = ITX_LOG_INFO;
    bool probe = cn->route == R_HEALTHZ || cn->route == R_READYZ || cn->route == R_METRICS;

    if (cn->status >= 500)
        lvl = ITX_LOG_WARNING;
    else if (probe && cn->status < 400)
        lvl = ITX_LOG_DEBUG;
    if (!itx_log_enabled(lvl))
        return;
    itx_buf_init(&x, 8192);
    itx_buf_puts(&x, "\"httpRequest\":{\"requestMethod\":");
    itx_buf_json_str(&x, cn->method);
    itx_buf_puts(&x, ",\"requestUrl\":");
    itx_buf_json_str(&x, cn->url);
    itx_buf_printf(&x, ",\"status\":%u,\"responseSize\":\"%zu\",\"latency\":\"%.6fs\"", cn->status,
                   cn->response_size, ms / 1000.0);
    if (cn->user_agent[0]) {
        itx_buf_puts(&x, ",\"userAgent\":");
        itx_buf_json_str(&x, cn->user_agent);
    }
    if (cn->remote_ip[0]) {
        itx_buf_puts(&x, ",\"remoteIp\":");
        itx_buf_json_str(&x, cn->remote_ip);
    }
    itx_buf_puts(&x, ",\"protocol\":\"HTTP/1.1\"}");
    if (cn->trace_id[0] && !cn->trace[0])
        itx_buf_printf(&x, ",\"trace_id\":\"%s\"", cn->trace_id);
    if (cn->span_id[0])
        itx_buf_printf(&x, ",\"logging.googleapis.com/spanId\":\"%s\"", cn->span_id);
    if (cn->trace_id[0])
        itx_buf_printf(&x, ",\"logging.googleapis.com/trace_sampled\":%s",
                       cn->sampled ? "true" : "false");
    if (cn->code[0]) {
        itx_buf_puts(&x, ",\"code\":");
        itx_buf_json_str(&x, cn->code);
    }
    itx_buf_printf(&x, ",\"route\":\"%s\"", route_names[cn->route]);
    if (cn->status == 0)
        itx_buf_printf(&x, ",\"termination\":%d", (int)toe);
    itx_log(lvl, &ctx, x.data, "%s %s %u", cn->method, cn->url, cn->status);
    itx_buf_release(&x);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct itx_server *s = cls;
    struct conn *cn = *con_cls;
    char code[8];
    const char *labels[2];
    (void)c;

    if (!cn)
        return;
    *con_cls = NULL;
    snprintf(code, sizeof(code), "%u", cn->status);
    labels[0] = route_names[cn->route];
    labels[1] = code;
    itx_metric_add(itx_metric_series(s->m_requests, labels), 1);
    itx_metric_observe(itx_metric_series(s->m_latency, labels),
                       (itx_now_ms() - cn->start_ms) / 1000.0);
    log_request(cn, toe);
    if (cn->work) {
        struct itx_server_work *w = cn->work;
        pthread_mutex_lock(&w->mu);
        w->conn = NULL;
        w->answered = true;
        pthread_mutex_unlock(&w->mu);
        work_release(w);
    }
    if (cn->admitted) {
        atomic_fetch_sub(&s->inflight, 1);
        itx_metric_set(s->m_inflight, (double)atomic_load(&s->inflight));
    }
    itx_buf_release(&cn->body);
    itx_free(cn);
}

/* Percent-decoding that can never produce a NUL: %00 becomes 0x01, which every path check
 * rejects, instead of silently cutting the path short. */
static size_t
unescape(void *cls, struct MHD_Connection *c, char *str)
{
    char *r = str, *w = str;
    (void)cls;
    (void)c;
    while (*r) {
        if (r[0] == '%' && is_hex(r + 1, 1) && r[1] && is_hex(r + 2, 1) && r[2]) {
            char hex[3] = {r[1], r[2], 0};
            long v = strtol(hex, NULL, 16);
            *w++ = v == 0 ? '\x01' : (char)v;
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - str);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    itx_log(ITX_LOG_DEBUG, NULL, NULL, "libmicrohttpd: %s", msg);
}

/* ---- readiness ------------------------------------------------------------------------ */

static void
set_reason(struct itx_server *s, const char *name, const char *failure)
{
    pthread_mutex_lock(&s->ready_mu);
    if (failure)
        snprintf(s->ready_reason, sizeof(s->ready_reason), "warm-up '%s' failed: %s", name,
                 failure);
    else
        snprintf(s->ready_reason, sizeof(s->ready_reason), "warming up: %s", name);
    pthread_mutex_unlock(&s->ready_mu);
}

/* Milliseconds since the process was exec'ed (from /proc), or -1. */
static double
ms_since_exec(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n;
    const char *p;
    unsigned long long start = 0;
    struct timespec now;
    long hz = sysconf(_SC_CLK_TCK);

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p || hz <= 0)
        return -1;
    p += 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p || sscanf(p, "%llu", &start) != 1)
        return -1;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return ((double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6) -
           (double)start * 1000.0 / (double)hz;
}

static void *
monitor_main(void *arg)
{
    struct itx_server *s = arg;
    struct itx_diag d;
    double t0 = itx_now_ms();

    for (size_t i = 0; i < s->n_warmups; i++) {
        double t = itx_now_ms();
        enum itx_status st;
        itx_diag_init(&d);
        set_reason(s, s->warmups[i].name, NULL);
        st = s->warmups[i].fn(s->warmups[i].ud, &d);
        if (st != ITX_OK) {
            set_reason(s, s->warmups[i].name, d.msg[0] ? d.msg : itx_err_str(st));
            itx_log_error("warm-up '%s' failed: %s", s->warmups[i].name, d.msg);
            return NULL;
        }
        itx_log(ITX_LOG_INFO, NULL, NULL, "warm-up '%s' done in %.1f ms", s->warmups[i].name,
                itx_now_ms() - t);
        itx_server_observe_stage(s, "warmup", (itx_now_ms() - t) / 1000.0);
    }
    atomic_store(&s->warmed, true);
    {
        char extra[128];
        double since_exec = ms_since_exec();
        snprintf(extra, sizeof(extra), "\"warmup_ms\":%.1f,\"startup_ms\":%.1f", itx_now_ms() - t0,
                 since_exec >= 0 ? since_exec : itx_now_ms() - s->created_ms);
        itx_log(ITX_LOG_INFO, NULL, extra, "warm-up done in %.1f ms, %.0f ms after exec",
                itx_now_ms() - t0, since_exec);
    }
    pthread_mutex_lock(&s->ready_mu);
    while (!s->monitor_stop) {
        bool ok = true;
        char reason[sizeof(s->ready_reason)] = "";
        pthread_mutex_unlock(&s->ready_mu);
        for (size_t i = 0; i < s->n_ready_checks && ok; i++) {
            itx_diag_init(&d);
            if (s->ready_checks[i].fn(s->ready_checks[i].ud, &d) != ITX_OK) {
                ok = false;
                snprintf(reason, sizeof(reason), "check '%s' failed: %s", s->ready_checks[i].name,
                         d.msg[0] ? d.msg : itx_err_str(d.code));
            }
        }
        pthread_mutex_lock(&s->ready_mu);
        if (ok != atomic_load(&s->ready)) {
            if (ok)
                itx_log_info("ready");
            else
                itx_log_warn("not ready: %s", reason);
        }
        memcpy(s->ready_reason, reason, sizeof(reason));
        atomic_store(&s->ready, ok);
        if (s->monitor_stop)
            break;
        {
            struct timespec ts;
            long long ns;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ns = (long long)ts.tv_nsec + (long long)s->cfg.ready_interval_ms * 1000000LL;
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&s->ready_cv, &s->ready_mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->ready_mu);
    return NULL;
}

/* ---- life cycle --------------------------------------------------------------------- */

static const double stage_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                      0.5,   1,      2.5,   5,    10,    30,   60};

enum itx_status
itx_server_new(const struct itx_server_config *c, struct itx_server **out, struct itx_diag *d)
{
    struct itx_server *s = itx_calloc(1, sizeof(*s));
    struct itx_metric *bi;
    pthread_condattr_t ca;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    s->cfg = *c;
    if (s->cfg.queue <= 0)
        s->cfg.queue = 2 * s->cfg.workers;
    s->created_ms = itx_now_ms();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_mutex_init(&s->ready_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->ready_cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(s->ready_reason, sizeof(s->ready_reason), "starting");
    atomic_init(&s->busy, 0);
    atomic_init(&s->inflight, 0);

    s->metrics = itx_metrics_new();
    if (!s->metrics)
        goto nomem;
    s->m_requests =
        itx_metrics_add(s->metrics, ITX_METRIC_COUNTER, "itx_http_requests_total",
                        "HTTP requests answered, by route and status code", "route,code", NULL, 0);
    s->m_latency = itx_metrics_add(
        s->metrics, ITX_METRIC_HISTOGRAM, "itx_http_request_duration_seconds",
        "Time from the request headers to the end of the answer", "route,code", NULL, 0);
    s->m_stage =
        itx_metrics_add(s->metrics, ITX_METRIC_HISTOGRAM, "itx_stage_duration_seconds",
                        "Duration of one pipeline stage (queue: waiting for a worker)", "stage",
                        stage_bounds, sizeof(stage_bounds) / sizeof(stage_bounds[0]));
    s->m_rejected = itx_metrics_add(s->metrics, ITX_METRIC_COUNTER, "itx_work_rejected_total",
                                    "Requests refused at admission", "reason", NULL, 0);
    s->m_cancelled =
        itx_metrics_add(s->metrics, ITX_METRIC_COUNTER, "itx_work_cancelled_total",
                        "Admitted requests answered before their work finished", "reason", NULL, 0);
    s->m_queue_depth =
        itx_metric_series(itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_queue_depth",
                                          "Admitted requests waiting for a worker", NULL, NULL, 0),
                          NULL);
    s->m_busy = itx_metric_series(itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_workers_busy",
                                                  "Workers running work now", NULL, NULL, 0),
                                  NULL);
    s->m_inflight = itx_metric_series(
        itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_requests_in_flight",
                        "Admitted requests not yet answered and sent", NULL, NULL, 0),
        NULL);
    itx_metric_set(itx_metric_series(itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_workers",
                                                     "Size of the worker pool", NULL, NULL, 0),
                                     NULL),
                   (double)s->cfg.workers);
    itx_metric_set(
        itx_metric_series(itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_queue_capacity",
                                          "Admission queue capacity", NULL, NULL, 0),
                          NULL),
        (double)s->cfg.queue);
    {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        itx_metric_set(itx_metric_series(itx_metrics_add(s->metrics, ITX_METRIC_GAUGE,
                                                         "process_start_time_seconds",
                                                         "Start time of the process since the "
                                                         "Unix epoch in seconds",
                                                         NULL, NULL, 0),
                                         NULL),
                       (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    }
    bi = itx_metrics_add(s->metrics, ITX_METRIC_GAUGE, "itx_build_info",
                         "Build information; the value is always 1", "version", NULL, 0);
    itx_metric_set(itx_metric_series(bi, (const char *[]){s->cfg.version}), 1);
    if (!s->m_requests || !s->m_latency || !s->m_stage || !s->m_rejected || !s->m_cancelled ||
        !s->m_queue_depth || !s->m_busy || !s->m_inflight || !bi)
        goto nomem;
    *out = s;
    return ITX_OK;
nomem:
    itx_server_free(s);
    return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating the server");
}

void
itx_server_free(struct itx_server *s)
{
    if (!s)
        return;
    if (s->daemon || s->n_workers || s->monitor_started)
        itx_server_stop(s);
    if (s->n_workers) /* a worker would not stop: it may still use s */
        return;
    while (s->n_cleanups > 0) {
        s->n_cleanups--;
        s->cleanups[s->n_cleanups].fn(s->cleanups[s->n_cleanups].ud);
    }
    itx_metrics_free(s->metrics);
    itx_free(s->workers);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->reaper_cv);
    pthread_mutex_destroy(&s->ready_mu);
    pthread_cond_destroy(&s->ready_cv);
    itx_free(s);
}

void
itx_server_set_pipeline(struct itx_server *s, const struct itx_server_pipeline *p)
{
    s->pipeline = *p;
    s->have_pipeline = true;
}

static void
add_check(struct check *list, size_t *n, const char *name, itx_server_check_fn fn, void *ud)
{
    ITX_ASSERT(*n < MAX_CHECKS);
    copy_str(list[*n].name, sizeof(list[*n].name), name);
    list[*n].fn = fn;
    list[*n].ud = ud;
    (*n)++;
}

void
itx_server_add_cleanup(struct itx_server *s, void (*fn)(void *ud), void *ud)
{
    ITX_ASSERT(s->n_cleanups < MAX_CHECKS);
    s->cleanups[s->n_cleanups].fn = fn;
    s->cleanups[s->n_cleanups].ud = ud;
    s->n_cleanups++;
}

void
itx_server_add_warmup(struct itx_server *s, const char *name, itx_server_check_fn fn, void *ud)
{
    add_check(s->warmups, &s->n_warmups, name, fn, ud);
}

void
itx_server_add_ready_check(struct itx_server *s, const char *name, itx_server_check_fn fn, void *ud)
{
    add_check(s->ready_checks, &s->n_ready_checks, name, fn, ud);
}

struct itx_metrics *
itx_server_metrics(struct itx_server *s)
{
    return s->metrics;
}

void
itx_server_observe_stage(struct itx_server *s, const char *stage, double seconds)
{
    itx_metric_observe(itx_metric_series(s->m_stage, &stage), seconds);
}

unsigned
itx_server_port(const struct itx_server *s)
{
    return s->port;
}

enum itx_status
itx_server_start(struct itx_server *s, struct itx_diag *d)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    enum itx_status st;
    char extra[160];

    memset(&ss, 0, sizeof(ss));
    if (strchr(s->cfg.bind, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)s->cfg.port);
        inet_pton(AF_INET6, s->cfg.bind, &a->sin6_addr);
        sl = sizeof(*a);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)s->cfg.port);
        inet_pton(AF_INET, s->cfg.bind, &a->sin_addr);
        sl = sizeof(*a);
    }
    (void)sl;
    if ((st = pool_start(s, d)) != ITX_OK)
        return st;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)s->cfg.http_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->cfg.max_header_bytes + 16384,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        pool_stop(s, 0);
        return itx_diag_set(d, ITX_ERR_IO, "cannot listen on %s port %ld: %s", s->cfg.bind,
                            s->cfg.port, e ? strerror(e) : "libmicrohttpd refused the settings");
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (unsigned)s->cfg.port;
    if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start the readiness thread");
    s->monitor_started = true;
    snprintf(extra, sizeof(extra),
             "\"port\":%u,\"bind\":\"%s\",\"workers\":%ld,\"http_threads\":%ld,\"queue\":%ld",
             s->port, s->cfg.bind, s->cfg.workers, s->cfg.http_threads, s->cfg.queue);
    itx_log(ITX_LOG_INFO, NULL, extra, "listening on %s port %u (%ld workers, queue %ld)",
            s->cfg.bind, s->port, s->cfg.workers, s->cfg.queue);
    return ITX_OK;
}

void
itx_server_drain(struct itx_server *s)
{
    if (atomic_exchange(&s->draining, true))
        return;
    atomic_store(&s->ready, false);
    itx_log(ITX_LOG_NOTICE, NULL, NULL, "draining: %u requests in flight, grace %ld ms",
            atomic_load(&s->inflight), s->cfg.grace_ms);
}

static void
wait_inflight(struct itx_server *s, double until_ms)
{
    while (atomic_load(&s->inflight) > 0 && itx_now_ms() < until_ms) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

unsigned
itx_server_stop(struct itx_server *s)
{
    unsigned left;
    double t0 = itx_now_ms();

    itx_server_drain(s);
    wait_inflight(s, t0 + (double)s->cfg.grace_ms);
    left = atomic_load(&s->inflight);
    if (left > 0) {
        itx_log_warn("grace period over: answering %u requests with 503", left);
        pool_force_all(s, ITX_ERR_UNAVAILABLE);
        wait_inflight(s, itx_now_ms() + 2000.0);
    }
    if (s->daemon) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    pool_stop(s, 1000);
    if (s->monitor_started) {
        pthread_mutex_lock(&s->ready_mu);
        s->monitor_stop = true;
        pthread_cond_broadcast(&s->ready_cv);
        pthread_mutex_unlock(&s->ready_mu);
        pthread_join(s->monitor, NULL);
        s->monitor_started = false;
    }
    itx_log(ITX_LOG_NOTICE, NULL, NULL, "stopped after %.0f ms of draining (%u requests cut)",
            itx_now_ms() - t0, left);
    return left;
}

void
itx_server_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
itx_server_wait_for_signal(struct itx_server *s)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (sigwait(&set, &sig) != 0)
        ;
    itx_log(ITX_LOG_NOTICE, NULL, NULL, "received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    itx_server_stop(s);
    return 0;
}
