/*
 * Fault tests through the real `itx serve` (argv[1]) on 127.0.0.1, with synthetic pictures
 * from itx-testset (argv[2]):
 *
 *   llm    the OpenAI provider behind a fault-injecting proxy in front of the fake OpenAI
 *          server (tests/translate/fake-llm.c): answers pass through, then the proxy stalls
 *          (the provider times out), then it cuts the answer in the middle of the body with a
 *          TCP reset. Each picture must still complete (200, translated regions), degraded to
 *          the dictionary with the fallback_dict flag on its regions.
 *   disk   the local store on a small tmpfs that is then filled: the picture fails with a
 *          clear per-image error, no temporary or half-written object is left, no
 *          regions.json marks the failed result as done, the server keeps serving, and once
 *          there is room the same picture completes.
 *   s3     the S3 store (s3rver behind tests/store/s3rver-run.js): two 503 SlowDown answers
 *          are retried and the picture completes; 503 on every attempt fails the picture
 *          cleanly (502 problem), nothing is marked done, and it completes after the outage.
 *
 * argv[3..] picks scenarios (default all). The tmpfs needs root (mount); without it the disk
 * scenario is reported as skipped, and the test says so.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "server/proc.h"
#include "store/node_proc.h"
#include "translate/fake-llm.h"

static const char *itx_bin, *testset_bin;
static char tmp[64] = "/tmp/itx-faults-XXXXXX";
static char lsan_env[300];

/* ---- a fault-injecting HTTP proxy in front of the fake LLM ----------------------------- */

enum proxy_mode { PROXY_PASS, PROXY_STALL, PROXY_RESET };

struct proxy {
    int fd, port, upstream_port;
    atomic_int mode;
    atomic_int n_requests, n_faults;
    atomic_bool stop;
    pthread_t thread;
};

static struct proxy proxy;

/* Reads one HTTP request (headers and a Content-Length body) into buf; returns its length. */
static size_t
read_request(int c, char *buf, size_t cap)
{
    size_t n = 0, want = 0;
    while (n < cap - 1) {
        ssize_t r = recv(c, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && !want) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (want && n >= want)
            break;
    }
    return n;
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

static void *
proxy_conn(void *arg)
{
    int c = (int)(intptr_t)arg, u = -1;
    static char req[1 << 20];
    char *resp = malloc(1 << 20);
    size_t n, m = 0;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int mode = atomic_load(&proxy.mode);

    pthread_mutex_lock(&mu); /* one request at a time through the static buffer */
    n = read_request(c, req, sizeof(req));
    atomic_fetch_add(&proxy.n_requests, 1);
    if (mode == PROXY_STALL) {
        /* Never answer: hold the connection until the client gives up (or 60 s). */
        struct pollfd p = {.fd = c, .events = POLLIN};
        char b[256];
        atomic_fetch_add(&proxy.n_faults, 1);
        pthread_mutex_unlock(&mu);
        while (!atomic_load(&proxy.stop) && poll(&p, 1, 100) >= 0) {
            if (p.revents && recv(c, b, sizeof(b), 0) <= 0)
                break;
        }
        close(c);
        free(resp);
        return NULL;
    }
    {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)proxy.upstream_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        u = socket(AF_INET, SOCK_STREAM, 0);
        if (u >= 0 && connect(u, (struct sockaddr *)&a, sizeof(a)) == 0) {
            send_all(u, req, n);
            for (;;) {
                ssize_t r = recv(u, resp + m, (1 << 20) - m, 0);
                if (r <= 0)
                    break;
                m += (size_t)r;
            }
        }
        if (u >= 0)
            close(u);
    }
    pthread_mutex_unlock(&mu);
    if (mode == PROXY_RESET) {
        /* The headers and half of the body, then a reset (SO_LINGER 0 makes close send RST). */
        const char *body = strstr(resp, "\r\n\r\n");
        size_t cut = body ? (size_t)(body + 4 - resp) + (m - (size_t)(body + 4 - resp)) / 2 : m / 2;
        struct linger l = {1, 0};
        atomic_fetch_add(&proxy.n_faults, 1);
        send_all(c, resp, cut);
        usleep(50000);
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    } else {
        send_all(c, resp, m);
    }
    close(c);
    free(resp);
    return NULL;
}

static void *
proxy_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&proxy.stop)) {
        struct pollfd p = {.fd = proxy.fd, .events = POLLIN};
        pthread_t t;
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(proxy.fd, NULL, NULL);
        if (c < 0)
            continue;
        if (pthread_create(&t, NULL, proxy_conn, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
    return NULL;
}

static bool
proxy_start(int upstream_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    proxy.upstream_port = upstream_port;
    proxy.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (proxy.fd < 0 || bind(proxy.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(proxy.fd, 64) != 0 || getsockname(proxy.fd, (struct sockaddr *)&a, &len) != 0)
        return false;
    proxy.port = ntohs(a.sin_port);
    return pthread_create(&proxy.thread, NULL, proxy_main, NULL) == 0;
}

static void
proxy_stop(void)
{
    atomic_store(&proxy.stop, true);
    pthread_join(proxy.thread, NULL);
    close(proxy.fd);
    usleep(200000); /* stalled connections notice the stop flag */
}

/* ---- pictures, requests, the server ------------------------------------------------------ */

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define N_PICS 6
static char *pic_b64[N_PICS];

/* Distinct small pictures: the JPEG of itx-testset seeds 11.. (one picture each). */
static bool
make_pictures(void)
{
    for (int i = 0; i < N_PICS; i++) {
        char cmd[512], dir[128];
        DIR *d;
        struct dirent *e;
        snprintf(dir, sizeof(dir), "%s/ts%d", tmp, i);
        snprintf(cmd, sizeof(cmd), "'%s' -o %s --count 1 --seed %d >/dev/null", testset_bin, dir,
                 11 + i);
        if (system(cmd) != 0)
            return false;
        d = opendir(dir);
        while (d && (e = readdir(d)) != NULL && !pic_b64[i]) {
            size_t n = strlen(e->d_name);
            if (n > 4 && (!strcmp(e->d_name + n - 4, ".jpg") ||
                          (!strcmp(e->d_name + n - 4, ".png") && !strstr(e->d_name, ".bg.") &&
                           !strstr(e->d_name, ".mask.")))) {
                char path[400];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                pic_b64[i] = b64_file(path);
            }
        }
        if (d)
            closedir(d);
        if (!pic_b64[i])
            return false;
    }
    return true;
}

/* POST /v1/translate of picture i; returns the parsed answer (NULL when none). */
static json_t *
translate(unsigned port, int i, long *status, double *ms)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    size_t len = strlen(pic_b64[i]) + 128;
    char *body = malloc(len);
    struct resp r;
    json_t *j = NULL;
    double t0 = now_ms();

    snprintf(body, len, "{\"target_lang\":\"en\",\"images\":[{\"data\":\"%s\"}]}", pic_b64[i]);
    *status = -1;
    if (http(port, "POST", "/v1/translate", h, body, strlen(body), &r) == 0) {
        *status = r.status;
        j = json_loads(r.body, 0, NULL);
        if (!j)
            fprintf(stderr, "not JSON: %.300s\n", r.body);
    }
    resp_free(&r); /* after a failed request too: proc.c leaves empty strings */
    *ms = now_ms() - t0;
    free(body);
    return j;
}

/* The first image of an answer, or NULL. */
static json_t *
image0(json_t *j)
{
    return json_array_get(json_object_get(j, "images"), 0);
}

/* Regions with a translation, and how many of them carry a tr_flag named flag. */
static void
count_regions(json_t *im, const char *flag, int *translated, int *flagged)
{
    json_t *regs = json_object_get(im, "regions");
    *translated = *flagged = 0;
    for (size_t i = 0; i < json_array_size(regs); i++) {
        json_t *rg = json_array_get(regs, i), *fl = json_object_get(rg, "tr_flags");
        const char *t = json_string_value(json_object_get(rg, "translation"));
        if (t && t[0])
            (*translated)++;
        for (size_t k = 0; k < json_array_size(fl); k++)
            if (json_is_string(json_array_get(fl, k)) &&
                !strcmp(json_string_value(json_array_get(fl, k)), flag))
                (*flagged)++;
    }
}

static bool
start_serve(struct srv *s, const char *const *env_extra)
{
    const char *args[] = {itx_bin, "serve", "--workers", "1", NULL};
    const char *env[16];
    int n = 0;
    struct resp r;

    env[n++] = lsan_env;
    env[n++] = "ITX_READY_INTERVAL_MS=3600000";
    for (int i = 0; env_extra[i] && n < 15; i++)
        env[n++] = env_extra[i];
    env[n] = NULL;
    if (srv_start(s, args, env) != 0)
        return false;
    for (int i = 0; i < 6000; i++) { /* up to 60 s: model loading and warm-up under ASan */
        long st = http(s->port, "GET", "/readyz", NULL, NULL, 0, &r) == 0 ? r.status : 0;
        resp_free(&r);
        if (st == 200)
            return true;
        ms_sleep(10);
    }
    return false;
}

static bool
healthy(unsigned port)
{
    struct resp r;
    bool ok = http(port, "GET", "/healthz", NULL, NULL, 0, &r) == 0 && r.status == 200;
    resp_free(&r);
    return ok;
}

/* Walks dir: counts files whose name starts with ".tmp-" and result directories that hold a
 * regions.json, and finds empty files. */
static void
scan_store(const char *dir, int *tmp_files, int *empty_files, int *done_results)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            scan_store(path, tmp_files, empty_files, done_results);
            continue;
        }
        if (!strncmp(e->d_name, ".tmp-", 5))
            (*tmp_files)++;
        else if (st.st_size == 0)
            (*empty_files)++;
        if (!strcmp(e->d_name, "regions.json"))
            (*done_results)++;
    }
    if (d)
        closedir(d);
}

/* ---- scenarios ----------------------------------------------------------------------------- */

static void
scenario_llm(void)
{
    static struct fake_llm fake = {.vendor = FAKE_OPENAI, .model = "gpt-test", .key = "sk-test"};
    char base[128];
    struct srv s;
    json_t *j;
    long status;
    double ms;
    int tr, fb;

    fake.replies[0].kind = FAKE_AUTO;
    fake.n_replies = 1;
    if (!fake_llm_start(&fake) || !proxy_start(fake.port)) {
        CHECK_MSG(0, "cannot start the fake OpenAI server and its proxy");
        return;
    }
    snprintf(base, sizeof(base), "ITX_OPENAI_BASE_URL=http://127.0.0.1:%d/v1", proxy.port);
    {
        const char *env[] = {"ITX_TRANSLATE_PROVIDER=openai", "OPENAI_API_KEY=sk-test",
                             "ITX_OPENAI_MODEL=gpt-test", base,
                             /* two attempts of 1.5 s each: the stall costs 3 s, not minutes */
                             "ITX_TRANSLATE_TIMEOUT_MS=1500", "ITX_TRANSLATE_MAX_ATTEMPTS=2",
                             "ITX_STORE=local", NULL, NULL};
        static char store[200];
        snprintf(store, sizeof(store), "ITX_STORE_DIR=%s/llm-store", tmp);
        env[7] = store;
        if (!start_serve(&s, env)) {
            CHECK_MSG(0, "itx serve (openai) did not become ready");
            srv_free(&s);
            proxy_stop();
            fake_llm_stop(&fake);
            return;
        }
    }

    /* Healthy provider: translated by the LLM, no fallback. */
    atomic_store(&proxy.mode, PROXY_PASS);
    j = translate(s.port, 0, &status, &ms);
    CHECK_INT(status, 200);
    count_regions(image0(j), "fallback_dict", &tr, &fb);
    printf("llm pass: HTTP %ld in %.0f ms, %d regions translated, %d fallback_dict\n", status, ms,
           tr, fb);
    CHECK(tr > 0 && fb == 0);
    json_decref(j);

    /* The provider stalls: every attempt times out, the dictionary takes over. */
    atomic_store(&proxy.mode, PROXY_STALL);
    j = translate(s.port, 1, &status, &ms);
    CHECK_INT(status, 200);
    CHECK_MSG(json_is_string(json_object_get(image0(j), "url")), "no result url");
    count_regions(image0(j), "fallback_dict", &tr, &fb);
    printf("llm timeout: HTTP %ld in %.0f ms, %d regions translated, %d fallback_dict, %d "
           "stalled attempts\n",
           status, ms, tr, fb, atomic_load(&proxy.n_faults));
    CHECK(tr > 0 && fb == tr);
    CHECK(atomic_load(&proxy.n_faults) >= 1);
    json_decref(j);

    /* The answer is cut mid-body by a reset. */
    atomic_store(&proxy.n_faults, 0);
    atomic_store(&proxy.mode, PROXY_RESET);
    j = translate(s.port, 2, &status, &ms);
    CHECK_INT(status, 200);
    CHECK_MSG(json_is_string(json_object_get(image0(j), "url")), "no result url");
    count_regions(image0(j), "fallback_dict", &tr, &fb);
    printf("llm reset mid-body: HTTP %ld in %.0f ms, %d regions translated, %d fallback_dict, "
           "%d cut answers\n",
           status, ms, tr, fb, atomic_load(&proxy.n_faults));
    CHECK(tr > 0 && fb == tr);
    CHECK(atomic_load(&proxy.n_faults) >= 1);
    json_decref(j);

    /* And the provider is used again once it recovers. */
    atomic_store(&proxy.mode, PROXY_PASS);
    j = translate(s.port, 3, &status, &ms);
    CHECK_INT(status, 200);
    count_regions(image0(j), "fallback_dict", &tr, &fb);
    CHECK(tr > 0 && fb == 0);
    json_decref(j);

    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);
    proxy_stop();
    fake_llm_stop(&fake);
    CHECK_MSG(!fake.error[0], "request shape: %s", fake.error);
}

static void
scenario_disk(void)
{
    char mnt[128], env_dir[200], filler[200], cmd[600];
    const char *env[] = {"ITX_STORE=local", env_dir, "ITX_TRANSLATE_PROVIDER=dict", NULL};
    struct srv s;
    json_t *j;
    long status;
    double ms;
    int tmp_files = 0, empty = 0, done = 0, done_before = 0;

    snprintf(mnt, sizeof(mnt), "%s/small", tmp);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        printf("disk: SKIPPED (mount tmpfs: %s; needs root)\n", strerror(errno));
        return;
    }
    snprintf(env_dir, sizeof(env_dir), "ITX_STORE_DIR=%s", mnt);
    if (!start_serve(&s, env)) {
        CHECK_MSG(0, "itx serve (local store) did not become ready");
        srv_free(&s);
        umount(mnt);
        return;
    }
    j = translate(s.port, 0, &status, &ms);
    CHECK_INT(status, 200);
    CHECK(json_is_string(json_object_get(image0(j), "url")));
    json_decref(j);
    scan_store(mnt, &tmp_files, &empty, &done_before);
    CHECK_INT(done_before, 1);

    /* Fill the file system up to its last 16 KiB. */
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of=%s bs=4k 2>/dev/null; truncate -s -16k %s",
             filler, filler);
    CHECK_INT(system(cmd), 0);
    j = translate(s.port, 4, &status, &ms);
    {
        json_t *im = image0(j), *err = json_object_get(im, "error");
        char *e = err ? json_dumps(err, JSON_COMPACT) : NULL;
        printf("disk full: HTTP %ld, image error: %s\n", status, e ? e : "(none)");
        CHECK_MSG(e && (strstr(e, "space") || strstr(e, "full")),
                  "the error does not say the disk is full: %s", e);
        free(e);
        CHECK_MSG(status == 200 || status == 500 || status == 507, "HTTP %ld", status);
        CHECK_MSG(err != NULL || status >= 500, "a full disk gave no error");
        CHECK_MSG(!json_is_string(json_object_get(im, "url")), "a url for an unstored result");
    }
    json_decref(j);
    tmp_files = empty = done = 0;
    scan_store(mnt, &tmp_files, &empty, &done);
    printf("disk full: %d temporary files, %d empty files, %d complete results (was %d)\n",
           tmp_files, empty, done, done_before);
    CHECK_INT(tmp_files, 0);
    CHECK_INT(empty, 0);
    CHECK_INT(done, done_before);
    CHECK(healthy(s.port));

    /* Room again: the same picture completes. */
    unlink(filler);
    j = translate(s.port, 4, &status, &ms);
    CHECK_INT(status, 200);
    CHECK(json_is_string(json_object_get(image0(j), "url")));
    json_decref(j);
    tmp_files = empty = done = 0;
    scan_store(mnt, &tmp_files, &empty, &done);
    CHECK_INT(done, done_before + 1);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);
    CHECK_INT(umount(mnt), 0);
}

static void
scenario_s3(void)
{
    struct node_proc s3 = {0};
    char dir[128], script[1024], endpoint[128], out[256];
    const char *src = getenv("ITX_SOURCE_DIR");
    const char *argv[] = {script, dir, "itx-test", NULL};
    const char *env[] = {"ITX_STORE=s3",
                         "ITX_S3_BUCKET=itx-test",
                         endpoint,
                         "ITX_S3_PATH_STYLE=1",
                         "ITX_S3_REGION=us-east-1",
                         "AWS_ACCESS_KEY_ID=S3RVER",
                         "AWS_SECRET_ACCESS_KEY=S3RVER",
                         "ITX_TRANSLATE_PROVIDER=dict",
                         NULL};
    struct srv s;
    json_t *j, *stats;
    long status;
    double ms;

    snprintf(dir, sizeof(dir), "%s/s3", tmp);
    mkdir(dir, 0755);
    snprintf(script, sizeof(script), "%s/tests/store/s3rver-run.js", src ? src : ".");
    if (node_proc_start(&s3, argv) != 0) {
        CHECK_MSG(0, "s3rver did not start (npm dev dependencies: scripts/setup.sh --dev)");
        return;
    }
    snprintf(endpoint, sizeof(endpoint), "ITX_S3_ENDPOINT=http://127.0.0.1:%u", s3.port);
    if (!start_serve(&s, env)) {
        CHECK_MSG(0, "itx serve (s3 store) did not become ready");
        srv_free(&s);
        node_proc_stop(&s3);
        return;
    }

    /* Two 503 SlowDown answers: retried, and the picture completes. */
    CHECK(node_proc_http(s3.port, "POST", "/__itx/fail?count=2&status=503&code=SlowDown", out,
                         sizeof(out)) == 200);
    j = translate(s.port, 0, &status, &ms);
    CHECK_INT(status, 200);
    CHECK_MSG(json_is_string(json_object_get(image0(j), "url")), "no url after two 503s");
    printf("s3 503 x2: HTTP %ld in %.0f ms, url %s\n", status, ms,
           json_is_string(json_object_get(image0(j), "url")) ? "yes" : "no");
    json_decref(j);

    /* 503 on every attempt: the picture fails cleanly, nothing is marked done. */
    CHECK(node_proc_http(s3.port, "POST", "/__itx/fail?count=1000&status=503&code=SlowDown", out,
                         sizeof(out)) == 200);
    j = translate(s.port, 5, &status, &ms);
    {
        json_t *im = image0(j), *err = json_object_get(im, "error");
        char *e = err ? json_dumps(err, JSON_COMPACT) : NULL;
        printf("s3 503 always: HTTP %ld in %.0f ms, image error: %s\n", status, ms,
               e ? e : "(none)");
        CHECK_MSG(err != NULL || status >= 500, "an S3 outage gave no error");
        CHECK_MSG(!json_is_string(json_object_get(im, "url")), "a url for an unstored result");
        CHECK_MSG(e && strstr(e, "503"), "the error does not say what S3 answered: %s", e);
        free(e);
    }
    json_decref(j);
    CHECK(node_proc_http(s3.port, "GET", "/__itx/stats", out, sizeof(out)) == 200);
    stats = json_loads(out, 0, NULL);
    printf("s3 front end: %s\n", out);
    CHECK(json_integer_value(json_object_get(stats, "injected")) >= 4);
    json_decref(stats);
    CHECK(healthy(s.port));

    /* After the outage the same picture completes (its failed try left nothing behind that a
     * cache lookup would take for a result). */
    CHECK(node_proc_http(s3.port, "POST", "/__itx/fail?count=0", out, sizeof(out)) == 200);
    j = translate(s.port, 5, &status, &ms);
    CHECK_INT(status, 200);
    CHECK(json_is_string(json_object_get(image0(j), "url")));
    {
        int tr, fb;
        count_regions(image0(j), "fallback_dict", &tr, &fb);
        CHECK(tr > 0);
    }
    json_decref(j);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);
    node_proc_stop(&s3);
}

static bool
wanted(int argc, char **argv, const char *name)
{
    if (argc < 4)
        return true;
    for (int i = 3; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

int
main(int argc, char **argv)
{
    char cmd[128];
    if (argc < 3 || !mkdtemp(tmp))
        return 2;
    itx_bin = argv[1];
    testset_bin = argv[2];
    {
        /* Sanitizer builds: the font stack's process-lifetime caches are not itx leaks. */
        static const char supp[] = "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\n"
                                   "leak:libcairo\nleak:libglib\nleak:libgobject\n";
        char path[128];
        snprintf(path, sizeof(path), "%s/lsan.supp", tmp);
        write_file(path, supp, sizeof(supp) - 1);
        snprintf(lsan_env, sizeof(lsan_env), "LSAN_OPTIONS=suppressions=%s", path);
    }
    if (!make_pictures()) {
        CHECK_MSG(0, "itx-testset did not make the pictures");
        return check_summary();
    }
    if (wanted(argc, argv, "llm"))
        scenario_llm();
    if (wanted(argc, argv, "disk"))
        scenario_disk();
    if (wanted(argc, argv, "s3"))
        scenario_s3();
    for (int i = 0; i < N_PICS; i++)
        free(pic_b64[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary();
}
