/*
 * /v1/jobs through the real `itx serve` (argv[1]) on 127.0.0.1 with ephemeral ports, a
 * temporary local store, the dict provider and 50 distinct synthetic 320x240 pictures
 * (tests/jobs/make-pictures.mjs). Modes (argv[2]):
 *
 *   sqlite    kill -9 of the server in the middle of a 50-image job, a restart on the same
 *             database: the job completes, every image exactly once (one result per item,
 *             results that were there before the kill unchanged, one set of objects per
 *             picture in the store); then the same pictures again are answered from the
 *             store (cache hits, no new OCR, no translation call); idempotency replay and
 *             conflict, cancel, unknown id, too many images, bad bodies; a webhook to a
 *             loopback address is refused (a canary listener sees no connection); SIGTERM
 *             exits 0.
 *   postgres  the kill -9 case on a throwaway PostgreSQL (tests/jobs/pg-test-cluster.sh),
 *             then SIGTERM with items in flight (exit 0) and a restart that completes them.
 *   two       two instances sharing one PostgreSQL and one store split a 50-image job: both
 *             do some, no picture is translated twice, the job completes.
 *
 * Prints the job's wall time and the median pipeline time per picture.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "server/proc.h"

#define N_PICS 50

static const char *itx_bin;
static char tmp[64] = "/tmp/itx-jobs-serve-XXXXXX";
static char store_dir[256], lsan_env[300], pg_dir[300], pg_url[512];

static const char *
str_or(const char *s)
{
    return s ? s : "";
}

static double
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* A job body with n pictures made with seed (data images), plus extra members. */
static char *
job_body(int seed, int n, const char *extra)
{
    char dir[300], cmd[1200], path[400];
    size_t cap = 4096, len;
    char *body = malloc(cap);

    snprintf(dir, sizeof(dir), "%s/pics-%d", tmp, seed);
    snprintf(cmd, sizeof(cmd), "node '%s/tests/jobs/make-pictures.mjs' '%s' %d %d",
             getenv("ITX_SOURCE_DIR") ? getenv("ITX_SOURCE_DIR") : ".", dir, n, seed);
    if (access(dir, F_OK) != 0 && system(cmd) != 0) {
        CHECK_MSG(0, "make-pictures.mjs failed (node and sharp are needed)");
        free(body);
        return NULL;
    }
    snprintf(body, cap, "{\"target_lang\":\"en\",\"provider\":\"dict\"%s,\"images\":[",
             extra ? extra : "");
    for (int i = 0; i < n; i++) {
        size_t plen = 0;
        char *png;
        snprintf(path, sizeof(path), "%s/p%03d.png", dir, i);
        png = read_all(path, &plen);
        if (!png) {
            CHECK_MSG(0, "no picture %s", path);
            free(body);
            return NULL;
        }
        len = strlen(body);
        if (len + plen * 2 + 200 > cap) {
            cap = (len + plen * 2 + 200) * 2;
            body = realloc(body, cap);
        }
        snprintf(body + len, cap - len, "%s{\"name\":\"s%d-p%03d\",\"data\":\"", i ? "," : "", seed,
                 i);
        b64((unsigned char *)png, plen, body + strlen(body));
        strcat(body, "\"}");
        free(png);
    }
    strcat(body, "]}");
    return body;
}

static int
start(struct srv *s, const char *db_url)
{
    static char db_env[600], store_env[300];
    const char *args[] = {itx_bin, "serve", "--workers", "2", NULL};
    const char *env[] = {db_env,
                         store_env,
                         "ITX_STORE=local",
                         "ITX_TRANSLATE_PROVIDER=dict",
                         "ITX_JOB_LEASE_S=3",
                         "ITX_JOB_POLL_MS=100",
                         "ITX_MAX_JOB_IMAGES=60",
                         "ITX_WEBHOOK_BACKOFF_MS=50",
                         "ITX_WEBHOOK_ATTEMPTS=3",
                         lsan_env,
                         NULL};

    snprintf(db_env, sizeof(db_env), "ITX_DATABASE_URL=%s", db_url);
    snprintf(store_env, sizeof(store_env), "ITX_STORE_DIR=%s", store_dir);
    if (srv_start(s, args, env) != 0) {
        char *log = srv_log(s);
        fprintf(stderr, "itx serve did not start:\n%s\n", log);
        free(log);
        return -1;
    }
    /* 120 s: sanitizer builds warm up slowly */
    return srv_wait_ready(s->port, 120000) ? 0 : -1;
}

static json_t *
call(unsigned port, const char *method, const char *path, const char *body, const char *idem,
     long *status, char *location, size_t loc_size)
{
    char h_idem[300];
    const char *h[] = {"Content-Type: application/json", idem ? h_idem : NULL, NULL};
    struct resp r;
    json_t *j = NULL;

    snprintf(h_idem, sizeof(h_idem), "Idempotency-Key: %s", idem ? idem : "");
    *status = -1;
    if (http(port, method, path, h, body, body ? strlen(body) : 0, &r) == 0) {
        *status = r.status;
        j = json_loads(r.body, 0, NULL);
        if (location && !resp_header(&r, "Location", location, loc_size))
            location[0] = '\0';
        resp_free(&r);
    }
    return j;
}

static json_t *
get_job(unsigned port, const char *id)
{
    char path[200];
    long status;
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    return call(port, "GET", path, NULL, NULL, &status, NULL, 0);
}

static long
count(json_t *job, const char *what)
{
    return (long)json_integer_value(json_object_get(json_object_get(job, "counts"), what));
}

static bool
final_state(const char *s)
{
    return s && (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
                 strcmp(s, "partially_failed") == 0 || strcmp(s, "cancelled") == 0);
}

/* Polls until the job is final (or test_ms(timeout_ms): a bound on a hang, times the run's
 * time scale, tests/server/proc.h); returns it. */
static json_t *
wait_final(unsigned port, const char *id, long timeout_ms)
{
    double until = now_ms() + (double)test_ms(timeout_ms);
    json_t *j = NULL;

    while (now_ms() < until) {
        json_decref(j);
        j = get_job(port, id);
        if (final_state(json_string_value(json_object_get(j, "state"))))
            return j;
        ms_sleep(100);
    }
    return j;
}

static char *
submit(unsigned port, const char *body, const char *idem, long *status)
{
    char loc[256];
    json_t *j = call(port, "POST", "/v1/jobs", body, idem, status, loc, sizeof(loc));
    char *id = NULL;

    if (j && json_is_string(json_object_get(j, "id"))) {
        id = strdup(json_string_value(json_object_get(j, "id")));
        if (*status == 202) {
            char want[256];
            snprintf(want, sizeof(want), "/v1/jobs/%s", id);
            CHECK_STR(loc, want);
        }
    } else {
        fprintf(stderr, "submit answered %ld\n", *status);
    }
    json_decref(j);
    return id;
}

/* Counts files under dir whose name ends with suffix (recursively); tmp counts .tmp-*. */
static void
count_files(const char *dir, const char *suffix, int *n, int *tmp_files)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (strncmp(e->d_name, ".tmp-", 5) == 0)
            (*tmp_files)++;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            count_files(path, suffix, n, tmp_files);
        else if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0)
            (*n)++;
    }
    if (d)
        closedir(d);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Checks a finished 50-image job: every image succeeded with a URL, all URLs distinct. */
static void
check_complete(json_t *job, const char *label)
{
    json_t *ims = json_object_get(job, "images");
    double ms[N_PICS];
    size_t n_ms = 0;

    CHECK_MSG(json_is_string(json_object_get(job, "state")) &&
                  strcmp(json_string_value(json_object_get(job, "state")), "succeeded") == 0,
              "%s: job state %s", label, json_string_value(json_object_get(job, "state")));
    CHECK_INT(json_array_size(ims), N_PICS);
    CHECK_INT(count(job, "succeeded"), N_PICS);
    for (size_t i = 0; i < json_array_size(ims); i++) {
        json_t *im = json_array_get(ims, i);
        const char *url = json_string_value(json_object_get(im, "url"));
        CHECK_INT(json_integer_value(json_object_get(im, "index")), (long long)i);
        CHECK_MSG(url != NULL, "%s: image %zu has no url", label, i);
        for (size_t k = 0; url && k < i; k++) {
            const char *u2 = json_string_value(json_object_get(json_array_get(ims, k), "url"));
            CHECK_MSG(!u2 || strcmp(u2, url) != 0, "%s: images %zu and %zu share %s", label, k, i,
                      url);
        }
        CHECK(json_is_array(json_object_get(im, "regions")));
        if (json_number_value(json_object_get(im, "pipeline_ms")) > 0)
            ms[n_ms++] = json_number_value(json_object_get(im, "pipeline_ms"));
    }
    if (n_ms) {
        qsort(ms, n_ms, sizeof(ms[0]), cmp_double);
        printf("%s: median pipeline time per picture %.0f ms over %zu pictures\n", label,
               ms[n_ms / 2], n_ms);
    }
}

/* Waits until at least `at_least` images succeeded (or test_ms(timeout_ms)); returns the job
 * then. */
static json_t *
wait_some(unsigned port, const char *id, long at_least, long timeout_ms)
{
    double until = now_ms() + (double)test_ms(timeout_ms);
    json_t *j = NULL;

    while (now_ms() < until) {
        json_decref(j);
        j = get_job(port, id);
        if (count(j, "succeeded") >= at_least)
            return j;
        ms_sleep(30);
    }
    return j;
}

/*
 * kill -9 in the middle of a 50-image job, restart on the same database, completion with
 * every image exactly once. Returns the second server (still running) in *s2.
 */
static void
kill_and_resume(const char *db_url, int seed, struct srv *s2, const char *label)
{
    struct srv s1;
    char *body = job_body(seed, N_PICS, NULL), *id = NULL;
    json_t *before = NULL, *after = NULL;
    long status;
    double t0;
    int finals = 0, regions = 0, tmps = 0;

    if (!body || start(&s1, db_url) != 0) {
        CHECK_MSG(0, "%s: first server did not start", label);
        free(body);
        return;
    }
    t0 = now_ms();
    id = submit(s1.port, body, "kill-test", &status);
    CHECK_INT(status, 202);
    if (!id)
        goto out;
    /* GET shows the stage of running images (heartbeats publish it) */
    {
        static const char *const stages[] = {"fetch", "decode", "ocr",    "translate",
                                             "erase", "render", "encode", "store"};
        bool seen = false;
        double until = now_ms() + (double)test_ms(60000);
        while (!seen && now_ms() < until) {
            json_t *g = get_job(s1.port, id);
            json_t *ims = json_object_get(g, "images");
            for (size_t i = 0; i < json_array_size(ims) && !seen; i++) {
                json_t *im = json_array_get(ims, i);
                const char *st = json_string_value(json_object_get(im, "state"));
                const char *sg = json_string_value(json_object_get(im, "stage"));
                for (size_t k = 0; st && sg && strcmp(st, "running") == 0 && k < 8; k++)
                    seen |= strcmp(sg, stages[k]) == 0;
            }
            json_decref(g);
            if (!seen)
                ms_sleep(20);
        }
        CHECK_MSG(seen, "%s: no running image showed a stage", label);
    }
    before = wait_some(s1.port, id, 8, 120000);
    CHECK_MSG(count(before, "succeeded") >= 8 && count(before, "succeeded") < N_PICS,
              "%s: %ld images done before the kill (want some, not all)", label,
              count(before, "succeeded"));
    CHECK_INT(srv_signal_wait(&s1, SIGKILL), 128 + SIGKILL);
    printf("%s: killed with %ld of %d images done\n", label, count(before, "succeeded"), N_PICS);
    if (start(s2, db_url) != 0) {
        CHECK_MSG(0, "%s: the restarted server did not start", label);
        goto out;
    }
    /* the replay of the same submission names the same job */
    {
        char *again = submit(s2->port, body, "kill-test", &status);
        CHECK_INT(status, 200);
        CHECK(again && strcmp(again, id) == 0);
        free(again);
    }
    after = wait_final(s2->port, id, 180000);
    printf("%s: 50-image job done in %.1f s (kill and restart included)\n", label,
           (now_ms() - t0) / 1000.0);
    check_complete(after, label);
    /* what was done before the kill did not change */
    for (size_t i = 0; i < N_PICS; i++) {
        json_t *a = json_array_get(json_object_get(before, "images"), i);
        json_t *b = json_array_get(json_object_get(after, "images"), i);
        const char *ua = json_string_value(json_object_get(a, "url"));
        const char *ub = json_string_value(json_object_get(b, "url"));
        if (ua)
            CHECK_MSG(ub && strcmp(ua, ub) == 0, "%s: image %zu changed after the restart", label,
                      i);
    }
    {
        long resumed = 0;
        for (size_t i = 0; i < N_PICS; i++)
            if (json_integer_value(json_object_get(
                    json_array_get(json_object_get(after, "images"), i), "attempts")) > 1)
                resumed++;
        printf("%s: %ld image(s) claimed a second time after the kill\n", label, resumed);
    }
    /* one set of objects per picture, each whole: the URL of every image serves a PNG that
     * ends with its IEND chunk (a put cut by the kill may leave a .tmp- file, never a short
     * object under its name) */
    count_files(store_dir, "regions.json", &regions, &tmps);
    count_files(store_dir, "final.png", &finals, &tmps);
    CHECK_MSG(regions >= N_PICS && finals >= N_PICS, "%s: %d results stored", label, regions);
    if (tmps)
        printf("%s: %d temporary file(s) left by the killed server's puts\n", label, tmps);
    for (size_t i = 0; i < N_PICS; i++) {
        const char *url = json_string_value(
            json_object_get(json_array_get(json_object_get(after, "images"), i), "url"));
        struct resp r;
        if (!url || http(s2->port, "GET", url, NULL, NULL, 0, &r) != 0) {
            CHECK_MSG(0, "%s: image %zu cannot be fetched", label, i);
            continue;
        }
        CHECK_INT(r.status, 200);
        CHECK_MSG(r.body_len > 20 && memcmp(r.body, "\x89PNG", 4) == 0 &&
                      memcmp(r.body + r.body_len - 8, "IEND", 4) == 0,
                  "%s: image %zu is not a whole PNG", label, i);
        resp_free(&r);
    }
out:
    json_decref(before);
    json_decref(after);
    free(id);
    free(body);
    srv_free(&s1);
}

/* A listener on loopback that counts connections (the webhook must never reach it). */
static int
canary(unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void
api_cases(struct srv *s)
{
    char *body = job_body(2, 10, NULL), *b2 = job_body(2, 3, NULL), *id = NULL, *id2;
    long status;
    json_t *j;

    if (!body || !b2)
        goto out;
    /* idempotency: same key and body, the same job; another body, 422 */
    id = submit(s->port, body, "api-key-1", &status);
    CHECK_INT(status, 202);
    id2 = submit(s->port, body, "api-key-1", &status);
    CHECK_INT(status, 200);
    CHECK(id && id2 && strcmp(id, id2) == 0);
    free(id2);
    j = call(s->port, "POST", "/v1/jobs", b2, "api-key-1", &status, NULL, 0);
    CHECK_INT(status, 422);
    CHECK_STR(str_or(json_string_value(json_object_get(j, "code"))), "idempotency_key_reused");
    CHECK(strstr(str_or(json_string_value(json_object_get(j, "detail"))), "api-key-1") != NULL);
    json_decref(j);
    /* cancel: the items not started are cancelled, and the job with them */
    if (id) {
        char path[200];
        snprintf(path, sizeof(path), "/v1/jobs/%s:cancel", id);
        j = call(s->port, "POST", path, NULL, NULL, &status, NULL, 0);
        CHECK_INT(status, 200);
        CHECK_STR(str_or(json_string_value(json_object_get(j, "state"))), "cancelled");
        CHECK(count(j, "cancelled") >= 5);
        json_decref(j);
        j = wait_final(s->port, id, 30000);
        CHECK_STR(str_or(json_string_value(json_object_get(j, "state"))), "cancelled");
        json_decref(j);
    }
    /* multipart: the picture is stored as an upload (content-addressed) and translated */
    {
        char path[300], *png, *mp;
        size_t plen = 0, n = 0;
        snprintf(path, sizeof(path), "%s/pics-2/p001.png", tmp);
        png = read_all(path, &plen);
        CHECK(png != NULL);
        if (png) {
            static const char head[] =
                "--B0\r\nContent-Disposition: form-data; name=\"request\"\r\n"
                "Content-Type: application/json\r\n\r\n{\"target_lang\":\"en\"}\r\n"
                "--B0\r\nContent-Disposition: form-data; name=\"image\"; filename=\"up.png\"\r\n"
                "Content-Type: image/png\r\n\r\n";
            const char *h[] = {"Content-Type: multipart/form-data; boundary=B0", NULL};
            struct resp r;
            char sha_dir[300];
            int uploads = 0, t = 0;
            mp = malloc(sizeof(head) + plen + 16);
            memcpy(mp, head, sizeof(head) - 1);
            n = sizeof(head) - 1;
            memcpy(mp + n, png, plen);
            n += plen;
            memcpy(mp + n, "\r\n--B0--\r\n", 10);
            n += 10;
            CHECK(http(s->port, "POST", "/v1/jobs", h, mp, n, &r) == 0);
            CHECK_INT(r.status, 202);
            j = json_loads(r.body, 0, NULL);
            resp_free(&r);
            if (json_is_string(json_object_get(j, "id"))) {
                json_t *f = wait_final(s->port, json_string_value(json_object_get(j, "id")), 60000);
                json_t *im = json_array_get(json_object_get(f, "images"), 0);
                CHECK_STR(str_or(json_string_value(json_object_get(f, "state"))), "succeeded");
                CHECK_STR(str_or(json_string_value(json_object_get(im, "name"))), "up.png");
                CHECK(json_is_string(json_object_get(im, "url")));
                json_decref(f);
            }
            json_decref(j);
            snprintf(sha_dir, sizeof(sha_dir), "%s/uploads", store_dir);
            count_files(sha_dir, ".png", &uploads, &t);
            CHECK(uploads >= 1);
            free(mp);
            free(png);
        }
    }
    /* permanent failures are the pictures' answers: an undecodable picture and a refused
     * URL fail at once (one attempt), the good picture beside them succeeds */
    {
        char *gb = job_body(2, 1, NULL), *p, *fb, *fid;
        if (gb && (p = strstr(gb, "\"images\":[")) != NULL) {
            size_t pre = (size_t)(p - gb) + 10;
            fb = malloc(strlen(gb) + 300);
            memcpy(fb, gb, pre);
            /* PNG magic then garbage, base64 */
            sprintf(fb + pre,
                    "{\"data\":\"iVBORw0KGgpub3QgcmVhbGx5IGEgcGljdHVyZQ==\"},"
                    "{\"url\":\"http://127.0.0.1:9/x.png\"},%s",
                    gb + pre);
            fid = submit(s->port, fb, NULL, &status);
            CHECK_INT(status, 202);
            if (fid) {
                json_t *f = wait_final(s->port, fid, 60000);
                json_t *ims = json_object_get(f, "images");
                CHECK_STR(str_or(json_string_value(json_object_get(f, "state"))),
                          "partially_failed");
                CHECK_INT(count(f, "failed"), 2);
                CHECK_INT(count(f, "succeeded"), 1);
                CHECK_STR(str_or(json_string_value(json_object_get(
                              json_object_get(json_array_get(ims, 0), "error"), "code"))),
                          "undecodable");
                CHECK_STR(str_or(json_string_value(json_object_get(
                              json_object_get(json_array_get(ims, 1), "error"), "code"))),
                          "forbidden");
                for (size_t i = 0; i < 3; i++)
                    CHECK_INT(
                        json_integer_value(json_object_get(json_array_get(ims, i), "attempts")), 1);
                json_decref(f);
            }
            free(fid);
            free(fb);
        }
        free(gb);
    }
    /* unknown id, too many images, bad bodies */
    j = call(s->port, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", NULL, NULL, &status, NULL,
             0);
    CHECK_INT(status, 404);
    json_decref(j);
    j = call(s->port, "POST", "/v1/jobs", "{\"target_lang\":", NULL, &status, NULL, 0);
    CHECK_INT(status, 400);
    json_decref(j);
    j = call(s->port, "POST", "/v1/jobs", "{\"target_lang\":\"en\",\"images\":[]}", NULL, &status,
             NULL, 0);
    CHECK_INT(status, 400);
    json_decref(j);
    j = call(s->port, "POST", "/v1/jobs",
             "{\"target_lang\":\"en\",\"images\":[{\"url\":\"ftp://x.example/a.png\"}]}", NULL,
             &status, NULL, 0);
    CHECK_INT(status, 400);
    json_decref(j);
    {
        char *many = malloc(61 * 64 + 100);
        strcpy(many, "{\"target_lang\":\"en\",\"images\":[");
        for (int i = 0; i < 61; i++)
            sprintf(many + strlen(many), "%s{\"url\":\"https://img.example.com/%d.jpg\"}",
                    i ? "," : "", i);
        strcat(many, "]}");
        j = call(s->port, "POST", "/v1/jobs", many, NULL, &status, NULL, 0);
        CHECK_INT(status, 413);
        CHECK(strstr(str_or(json_string_value(json_object_get(j, "detail"))), "60") != NULL);
        json_decref(j);
        free(many);
    }
    /* /v1/translate with a URL picture: the fetch runs on an I/O thread (the work waits
     * without a worker) and is refused by the address check; the data picture beside it is
     * answered; the canary sees no connection */
    {
        unsigned cport = 0;
        int cfd = canary(&cport);
        char *tb = job_body(2, 1, NULL), *p;
        CHECK(cfd >= 0 && tb != NULL);
        if (tb && (p = strstr(tb, "\"images\":[")) != NULL) {
            char *t2 = malloc(strlen(tb) + 200);
            size_t pre = (size_t)(p - tb) + 10;
            memcpy(t2, tb, pre);
            sprintf(t2 + pre, "{\"url\":\"http://127.0.0.1:%u/a.png\"},%s", cport, tb + pre);
            j = call(s->port, "POST", "/v1/translate", t2, NULL, &status, NULL, 0);
            CHECK_INT(status, 200);
            CHECK_STR(str_or(json_string_value(json_object_get(
                          json_object_get(json_array_get(json_object_get(j, "images"), 0), "error"),
                          "code"))),
                      "forbidden");
            CHECK(json_is_string(
                json_object_get(json_array_get(json_object_get(j, "images"), 1), "url")));
            json_decref(j);
            free(t2);
        }
        CHECK_MSG(accept(cfd, NULL, NULL) < 0 && errno == EAGAIN,
                  "the canary listener got a connection");
        if (cfd >= 0)
            close(cfd);
        free(tb);
    }
    /* a webhook to loopback: refused by the address check, never connected */
    {
        unsigned cport = 0;
        int cfd = canary(&cport);
        char extra[200], *wb, *wid;
        CHECK(cfd >= 0);
        snprintf(extra, sizeof(extra), ",\"webhook_url\":\"http://127.0.0.1:%u/hook\"", cport);
        wb = job_body(2, 1, extra);
        wid = wb ? submit(s->port, wb, NULL, &status) : NULL;
        CHECK_INT(status, 202);
        if (wid) {
            double until = now_ms() + (double)test_ms(30000);
            const char *ws = "";
            j = wait_final(s->port, wid, 60000);
            while (now_ms() < until) {
                json_decref(j);
                j = get_job(s->port, wid);
                ws = str_or(
                    json_string_value(json_object_get(json_object_get(j, "webhook"), "state")));
                if (strcmp(ws, "failed") == 0 || strcmp(ws, "delivered") == 0)
                    break;
                ms_sleep(50);
            }
            CHECK_STR(ws, "failed");
            json_decref(j);
            CHECK_MSG(accept(cfd, NULL, NULL) < 0 && errno == EAGAIN,
                      "the canary listener got a connection");
            {
                /* the log line comes through a pipe the test reads on a thread: poll */
                bool seen = false;
                for (int k = 0; k < 200 && !seen; k++) {
                    char *log = srv_log(s);
                    seen = strstr(log, "is loopback, refused") != NULL;
                    free(log);
                    if (!seen)
                        ms_sleep(10);
                }
                CHECK_MSG(seen, "no log line says the webhook address was refused");
            }
        }
        free(wid);
        free(wb);
        if (cfd >= 0)
            close(cfd);
    }
out:
    free(id);
    free(body);
    free(b2);
}

/* The same 50 pictures again: answered from the store, no OCR, no translation call. */
static void
cache_case(struct srv *s, int seed)
{
    char *body = job_body(seed, N_PICS, NULL), *id;
    double ocr0, tr0, hits0, t0;
    long status;
    json_t *j;

    if (!body)
        return;
    ocr0 = metric_now(s->port, "itx_stage_duration_seconds_count{stage=\"ocr\"}");
    tr0 = metric_now(s->port, "itx_translate_calls_total{provider=\"dict\"}");
    hits0 = metric_now(s->port, "itx_cache_hits_total");
    t0 = now_ms();
    id = submit(s->port, body, NULL, &status);
    CHECK_INT(status, 202);
    j = id ? wait_final(s->port, id, 60000) : NULL;
    printf("cached job: 50 images answered from the store in %.2f s\n", (now_ms() - t0) / 1000.0);
    check_complete(j, "cached job");
    for (size_t i = 0; i < json_array_size(json_object_get(j, "images")); i++)
        CHECK(json_is_true(
            json_object_get(json_array_get(json_object_get(j, "images"), i), "cached")));
    CHECK(metric_now(s->port, "itx_stage_duration_seconds_count{stage=\"ocr\"}") == ocr0);
    CHECK(metric_now(s->port, "itx_translate_calls_total{provider=\"dict\"}") == tr0);
    CHECK(metric_now(s->port, "itx_cache_hits_total") - (hits0 < 0 ? 0 : hits0) == N_PICS);
    json_decref(j);
    free(id);
    free(body);
}

/*
 * SIGTERM with job items in flight: the server stops claiming, finishes or leaves what it
 * holds, exits 0; a restarted server completes the job.
 */
static void
sigterm_case(const char *db_url, struct srv *s)
{
    char *body = job_body(4, 10, NULL), *id = NULL;
    json_t *j = NULL;
    long status;

    if (!body)
        return;
    id = submit(s->port, body, NULL, &status);
    CHECK_INT(status, 202);
    if (id) {
        j = wait_some(s->port, id, 2, 60000);
        CHECK(count(j, "succeeded") >= 2);
        json_decref(j);
        j = NULL;
    }
    CHECK_INT(srv_signal_wait(s, SIGTERM), 0);
    srv_free(s);
    memset(s, 0, sizeof(*s));
    if (id && start(s, db_url) == 0) {
        j = wait_final(s->port, id, 120000);
        CHECK_STR(str_or(json_string_value(json_object_get(j, "state"))), "succeeded");
        CHECK_INT(count(j, "succeeded"), 10);
        CHECK_INT(srv_signal_wait(s, SIGTERM), 0);
    } else {
        CHECK_MSG(0, "the server did not start again after SIGTERM");
    }
    json_decref(j);
    free(id);
    free(body);
}

static bool
pg_start(void)
{
    char cmd[1200];
    FILE *p;

    snprintf(pg_dir, sizeof(pg_dir), "%s/pg", tmp);
    snprintf(cmd, sizeof(cmd), "'%s/tests/jobs/pg-test-cluster.sh' start '%s'",
             getenv("ITX_SOURCE_DIR") ? getenv("ITX_SOURCE_DIR") : ".", pg_dir);
    if (!(p = popen(cmd, "r")))
        return false;
    if (!fgets(pg_url, sizeof(pg_url), p))
        pg_url[0] = '\0';
    pg_url[strcspn(pg_url, "\n")] = '\0';
    return pclose(p) == 0 && strncmp(pg_url, "postgres://", 11) == 0;
}

static void
pg_stop(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "'%s/tests/jobs/pg-test-cluster.sh' stop '%s' >/dev/null 2>&1",
             getenv("ITX_SOURCE_DIR") ? getenv("ITX_SOURCE_DIR") : ".", pg_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg-test-cluster.sh stop failed\n");
}

static void
two_instances(void)
{
    struct srv a, b;
    char *body = job_body(5, N_PICS, NULL), *id = NULL;
    double t0, ta, tb, ca, cb;
    long status;
    json_t *j = NULL;

    if (!body || start(&a, pg_url) != 0 || start(&b, pg_url) != 0) {
        CHECK_MSG(0, "two servers did not start");
        free(body);
        return;
    }
    t0 = now_ms();
    id = submit(a.port, body, NULL, &status);
    CHECK_INT(status, 202);
    j = id ? wait_final(b.port, id, 180000) : NULL;
    printf("two instances: 50-image job done in %.1f s\n", (now_ms() - t0) / 1000.0);
    check_complete(j, "two instances");
    ta = metric_now(a.port, "itx_images_total{result=\"translated\"}");
    tb = metric_now(b.port, "itx_images_total{result=\"translated\"}");
    ca = metric_now(a.port, "itx_images_total{result=\"cached\"}");
    cb = metric_now(b.port, "itx_images_total{result=\"cached\"}");
    printf("two instances: translated %.0f + %.0f, cached %.0f + %.0f\n", ta, tb, ca, cb);
    CHECK_MSG(ta > 0 && tb > 0, "both instances did some (%.0f, %.0f)", ta, tb);
    CHECK(ta + tb == N_PICS);
    CHECK(ca <= 0 && cb <= 0); /* an image done twice would be a cache hit the second time */
    for (size_t i = 0; i < json_array_size(json_object_get(j, "images")); i++)
        CHECK_INT(json_integer_value(
                      json_object_get(json_array_get(json_object_get(j, "images"), i), "attempts")),
                  1);
    CHECK_INT(srv_signal_wait(&a, SIGTERM), 0);
    CHECK_INT(srv_signal_wait(&b, SIGTERM), 0);
    json_decref(j);
    free(id);
    free(body);
    srv_free(&a);
    srv_free(&b);
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 2 ? argv[2] : "sqlite";
    char cmd[400];

    if (argc < 3 || !mkdtemp(tmp))
        return 2;
    itx_bin = argv[1];
    chmod(tmp, 0755); /* the PostgreSQL server (another user when root) reaches pg/ */
    snprintf(store_dir, sizeof(store_dir), "%s/store", tmp);
    mkdir(store_dir, 0755);
    {
        static const char supp[] = "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\n"
                                   "leak:libcairo\nleak:libglib\nleak:libgobject\n";
        char path[128];
        snprintf(path, sizeof(path), "%s/lsan.supp", tmp);
        write_file(path, supp, sizeof(supp) - 1);
        snprintf(lsan_env, sizeof(lsan_env), "LSAN_OPTIONS=suppressions=%s", path);
    }
    if (strcmp(mode, "sqlite") == 0) {
        struct srv s2;
        char url[300];
        /* --help lists the job settings; a bad database URL stops start-up, named */
        {
            char c[600], out[8192] = "";
            FILE *p;
            size_t n;
            snprintf(c, sizeof(c), "%s serve --help", itx_bin);
            p = popen(c, "r");
            n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
            out[n] = '\0';
            CHECK(p && pclose(p) == 0);
            CHECK(strstr(out, "ITX_DATABASE_URL") && strstr(out, "ITX_JOB_LEASE_S"));
            snprintf(c, sizeof(c),
                     "ITX_DATABASE_URL=mysql://u:secret@db/x ITX_STORE_DIR=%s %s serve 2>&1",
                     store_dir, itx_bin);
            p = popen(c, "r");
            n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
            out[n] = '\0';
            CHECK(p && WEXITSTATUS(pclose(p)) == 2);
            CHECK_MSG(strstr(out, "ITX_DATABASE_URL 'mysql://u:***@db/x' is neither") != NULL, "%s",
                      out);
            CHECK(strstr(out, "secret") == NULL);
        }
        snprintf(url, sizeof(url), "sqlite:%s/jobs.db", tmp);
        memset(&s2, 0, sizeof(s2));
        kill_and_resume(url, 1, &s2, "sqlite");
        if (s2.pid > 0) {
            cache_case(&s2, 1);
            api_cases(&s2);
            CHECK_INT(srv_signal_wait(&s2, SIGTERM), 0);
        }
        srv_free(&s2);
    } else if (strcmp(mode, "postgres") == 0 || strcmp(mode, "two") == 0) {
        if (!pg_start()) {
            CHECK_MSG(0, "no PostgreSQL (tests/jobs/pg-test-cluster.sh start failed)");
            return check_summary();
        }
        if (strcmp(mode, "two") == 0) {
            two_instances();
        } else {
            struct srv s2;
            memset(&s2, 0, sizeof(s2));
            kill_and_resume(pg_url, 3, &s2, "postgres");
            if (s2.pid > 0)
                sigterm_case(pg_url, &s2);
            srv_free(&s2);
        }
        pg_stop();
    } else {
        return 2;
    }
    if (check_failed == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmp);
    }
    return check_summary();
}
