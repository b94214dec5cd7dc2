/*
 * Provider calls do not hold a worker: the real `itx serve` (argv[1]) with one worker, the
 * openai provider pointed at the fake LLM on 127.0.0.1 (which holds every answer a few
 * seconds), and three distinct synthetic pictures from itx-testset (argv[2]) sent at once.
 * Checks that the fake saw at least two calls in flight together although there is one
 * worker, that /metrics shows no worker busy while all three calls are pending, and that
 * every answer carries the fake's translations. Then, on a server with a short deadline,
 * a deadline that passes during the provider wait gets 504, and the server goes on
 * serving (the next request, with a prompt fake, gets 200). Last, a job of three pictures
 * on one worker: its provider calls overlap too.
 */
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../translate/fake-llm.h"
#include "check.h"
#include "proc.h"

#define N_REQ 3
/* Long enough for the OCR of the three pictures on one worker of a loaded machine to end
 * while the first call is still held; the deadline part holds past its deadline. All three,
 * and every other wait here, are multiplied by the run's time scale (test_ms, proc.h), so a
 * sanitizer build keeps the same order of events; none is a timing assertion. */
#define HOLD_MS 8000
#define DEADLINE_MS 8000
#define HOLD_PAST_MS 11000
/* The server's per-request deadline and provider timeout where the test does not test them. */
#define LONG_MS 60000

/* The request body for the first testset picture made with seed; NULL on failure. */
static char *
make_body(const char *testset, const char *dir, int seed)
{
    char cmd[1024], sub[400];
    DIR *d;
    struct dirent *e;
    char *img = NULL, *body = NULL;
    size_t len = 0;

    snprintf(sub, sizeof(sub), "%s/ts%d", dir, seed);
    snprintf(cmd, sizeof(cmd), "%s -o %s --count 1 --seed %d >/dev/null", testset, sub, seed);
    if (system(cmd) != 0 || !(d = opendir(sub)))
        return NULL;
    while ((e = readdir(d)) != NULL && !img) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".jpg") == 0) {
            char path[700];
            snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
            img = read_all(path, &len);
        }
    }
    closedir(d);
    if (!img)
        return NULL;
    body = malloc(len * 2 + 256);
    if (body) {
        strcpy(body, "{\"target_lang\":\"en\",\"provider\":\"openai\",\"images\":[{\"data\":\"");
        b64((const unsigned char *)img, len, body + strlen(body));
        strcat(body, "\"}]}");
    }
    free(img);
    return body;
}

/* A job body with the images of the single-image bodies b[0..n). */
static char *
job_body(char *const *b, int n)
{
    size_t cap = 128;
    char *out;

    for (int i = 0; i < n; i++)
        cap += strlen(b[i]);
    if (!(out = malloc(cap)))
        return NULL;
    strcpy(out, "{\"target_lang\":\"en\",\"provider\":\"openai\",\"images\":[");
    for (int i = 0; i < n; i++) {
        const char *a = strstr(b[i], "[{"), *e = strrchr(b[i], ']');
        if (i)
            strcat(out, ",");
        strncat(out, a + 1, (size_t)(e - a - 1));
    }
    strcat(out, "]}");
    return out;
}

static json_t *
job_call(unsigned port, const char *method, const char *path, const char *body, long *status)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct resp r;
    json_t *j = NULL;

    *status = -1;
    if (http(port, method, path, body ? h : NULL, body, body ? strlen(body) : 0, &r) == 0) {
        *status = r.status;
        j = json_loads(r.body, 0, NULL);
        resp_free(&r);
    }
    return j;
}

struct call {
    unsigned port;
    const char *body;
    long status;
    json_t *answer;
    pthread_t th;
};

static void *
call_main(void *arg)
{
    struct call *c = arg;
    const char *h[] = {"Content-Type: application/json", NULL};
    struct resp r;

    c->status = -1;
    if (http(c->port, "POST", "/v1/translate", h, c->body, strlen(c->body), &r) == 0) {
        c->status = r.status;
        c->answer = json_loads(r.body, 0, NULL);
        if (r.status != 200)
            fprintf(stderr, "answer %ld: %s\n", r.status, r.body);
        resp_free(&r);
    }
    return NULL;
}

static int
fake_in_flight(struct fake_llm *f)
{
    int n;
    pthread_mutex_lock(&f->mu);
    n = f->in_flight;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static bool
start_server(struct srv *s, const char *itx, const char *dir, const char *name, int llm_port,
             long deadline_ms)
{
    static const char supp[] = "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\n"
                               "leak:libcairo\nleak:libglib\nleak:libgobject\n";
    char store[200], env_store[300], env_data[300], env_base[128], lsan[300], cmd[500];
    char deadline[64], provider_timeout[64];
    const char *args[] = {itx, "serve", "--workers", "1", NULL};
    const char *env[] = {env_store,
                         env_data,
                         "ITX_STORE=local",
                         "ITX_QUEUE=16",
                         "ITX_TRANSLATE_PROVIDER=openai",
                         "OPENAI_API_KEY=sk-test",
                         "ITX_OPENAI_MODEL=gpt-test",
                         env_base,
                         lsan,
                         deadline,
                         provider_timeout,
                         NULL};

    snprintf(deadline, sizeof(deadline), "ITX_DEADLINE_MS=%ld", test_ms(deadline_ms));
    snprintf(provider_timeout, sizeof(provider_timeout), "ITX_TRANSLATE_TIMEOUT_MS=%ld",
             test_ms(LONG_MS));
    snprintf(store, sizeof(store), "%s/%s", dir, name);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/files %s/data", store, store);
    if (system(cmd) != 0)
        return false;
    snprintf(env_store, sizeof(env_store), "ITX_STORE_DIR=%s/files", store);
    snprintf(env_data, sizeof(env_data), "ITX_DATA_DIR=%s/data", store);
    snprintf(env_base, sizeof(env_base), "ITX_OPENAI_BASE_URL=http://127.0.0.1:%d/v1", llm_port);
    snprintf(lsan, sizeof(lsan), "%s/lsan.supp", dir);
    write_file(lsan, supp, sizeof(supp) - 1);
    snprintf(lsan, sizeof(lsan), "LSAN_OPTIONS=suppressions=%s/lsan.supp", dir);
    return srv_start(s, args, env) == 0 && srv_wait_ready(s->port, 30000);
}

/* Whether the answer has one image with a stored result and a translation from the fake. */
static bool
translated_by_fake(json_t *j)
{
    json_t *im = json_array_get(json_object_get(j, "images"), 0);
    json_t *regs = json_object_get(im, "regions");

    if (!json_is_string(json_object_get(im, "url")))
        return false;
    for (size_t i = 0; i < json_array_size(regs); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(regs, i), "translation"));
        if (t && strncmp(t, "translation", 11) == 0)
            return true;
    }
    return false;
}

int
main(int argc, char **argv)
{
    char dir[64] = "/tmp/itx-serve-async-XXXXXX", cmd[128];
    char *bodies[N_REQ + 1] = {0};
    static struct fake_llm fake = {.vendor = FAKE_OPENAI, .model = "gpt-test", .key = "sk-test"};
    struct fake_reply hold = {.kind = FAKE_AUTO, .delay_ms = (int)test_ms(HOLD_MS)};
    struct fake_reply prompt = {.kind = FAKE_AUTO};
    struct fake_reply past = {.kind = FAKE_AUTO, .delay_ms = (int)test_ms(HOLD_PAST_MS)};
    struct call calls[N_REQ];
    struct srv s;
    int port;
    bool seen_all = false;
    double busy_all = -1;

    if (argc < 3 || !mkdtemp(dir))
        return 2;
    for (int i = 0; i <= N_REQ; i++) {
        bodies[i] = make_body(argv[2], dir, 11 + i);
        CHECK_MSG(bodies[i] != NULL, "itx-testset wrote no picture");
        if (!bodies[i])
            return check_summary();
    }
    port = fake_llm_start(&fake);
    CHECK(port > 0);
    if (port <= 0)
        return check_summary();
    fake_llm_script(&fake, &hold, 1);

    /* one worker, three requests at once: the calls wait on the fake together */
    if (!start_server(&s, argv[1], dir, "a", port, LONG_MS)) {
        CHECK_MSG(0, "itx serve did not become ready");
        srv_free(&s);
        return check_summary();
    }
    for (int i = 0; i < N_REQ; i++) {
        calls[i] = (struct call){.port = s.port, .body = bodies[i]};
        pthread_create(&calls[i].th, NULL, call_main, &calls[i]);
    }
    /* while all three calls are pending, no worker is busy */
    for (long i = 0; i < test_ms(30000) / 5 && !seen_all; i++) {
        if (fake_in_flight(&fake) == N_REQ) {
            seen_all = true;
            busy_all = metric_now(s.port, "itx_workers_busy");
        } else {
            ms_sleep(5);
        }
    }
    for (int i = 0; i < N_REQ; i++)
        pthread_join(calls[i].th, NULL);
    pthread_mutex_lock(&fake.mu);
    fprintf(stderr, "fake LLM: %d requests, at most %d in flight; workers busy then: %g\n",
            fake.n_requests, fake.max_in_flight, busy_all);
    CHECK_MSG(fake.max_in_flight >= 2, "the provider calls did not overlap on one worker");
    CHECK_INT(fake.n_requests, N_REQ);
    CHECK_STR(fake.error, "");
    pthread_mutex_unlock(&fake.mu);
    CHECK_MSG(seen_all, "the three provider calls were never pending together");
    CHECK_MSG(busy_all == 0, "a worker was busy while every provider call was pending");
    for (int i = 0; i < N_REQ; i++) {
        CHECK_INT(calls[i].status, 200);
        CHECK_MSG(translated_by_fake(calls[i].answer), "an answer lacks the fake's translation");
        json_decref(calls[i].answer);
    }
    CHECK(metric_now(s.port, "itx_images_total{result=\"translated\"}") == N_REQ);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);

    /* a deadline that passes while the provider call waits: 504, and the server goes on */
    fake_llm_script(&fake, &past, 1);
    if (!start_server(&s, argv[1], dir, "b", port, DEADLINE_MS)) {
        CHECK_MSG(0, "itx serve did not become ready");
        srv_free(&s);
        fake_llm_stop(&fake);
        return check_summary();
    }
    calls[0] = (struct call){.port = s.port, .body = bodies[N_REQ]};
    call_main(&calls[0]);
    CHECK_INT(calls[0].status, 504);
    json_decref(calls[0].answer);
    pthread_mutex_lock(&fake.mu);
    CHECK_MSG(fake.n_requests == 1, "the deadline did not pass during the provider call");
    pthread_mutex_unlock(&fake.mu);
    /* the held call ends; then a prompt provider gets the same picture through */
    for (long i = 0; i < test_ms(20000) / 5 && fake_in_flight(&fake) > 0; i++)
        ms_sleep(5);
    fake_llm_script(&fake, &prompt, 1);
    {
        /* without the read-back check, to keep within the deadline in sanitizer builds */
        const char *at = strstr(bodies[N_REQ], ",\"images\"");
        size_t len = strlen(bodies[N_REQ]);
        char *nq = malloc(len + 32);
        if (nq && at) {
            memcpy(nq, bodies[N_REQ], (size_t)(at - bodies[N_REQ]));
            strcpy(nq + (at - bodies[N_REQ]), ",\"options\":{\"qa\":false}");
            strcat(nq, at);
            free(bodies[N_REQ]);
            bodies[N_REQ] = nq;
        } else {
            free(nq);
        }
    }
    calls[0] = (struct call){.port = s.port, .body = bodies[N_REQ]};
    call_main(&calls[0]);
    CHECK_INT(calls[0].status, 200);
    CHECK(translated_by_fake(calls[0].answer));
    json_decref(calls[0].answer);
    CHECK(metric_now(s.port, "itx_http_requests_total{route=\"translate\",code=\"504\"}") == 1);
    CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    srv_free(&s);

    /* a job of three pictures on one worker: the runners give the context back during the
     * provider calls, so two calls (two runners per context) wait together */
    fake_llm_script(&fake, &hold, 1);
    if (!start_server(&s, argv[1], dir, "c", port, LONG_MS)) {
        CHECK_MSG(0, "itx serve did not become ready");
    } else {
        char *jb = job_body(bodies, N_REQ), path[200], *id = NULL;
        const char *state = NULL;
        long status;
        json_t *j = job_call(s.port, "POST", "/v1/jobs", jb, &status);
        CHECK_INT(status, 202);
        if (json_is_string(json_object_get(j, "id")))
            id = strdup(json_string_value(json_object_get(j, "id")));
        json_decref(j);
        j = NULL;
        for (long i = 0; id && i < test_ms(120000) / 100; i++) {
            json_decref(j);
            snprintf(path, sizeof(path), "/v1/jobs/%s", id);
            j = job_call(s.port, "GET", path, NULL, &status);
            state = json_string_value(json_object_get(j, "state"));
            if (state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                          strcmp(state, "partially_failed") == 0))
                break;
            ms_sleep(100);
        }
        CHECK_STR(state ? state : "(none)", "succeeded");
        json_decref(j);
        pthread_mutex_lock(&fake.mu);
        fprintf(stderr, "job: fake LLM saw %d requests, at most %d in flight\n", fake.n_requests,
                fake.max_in_flight);
        CHECK_MSG(fake.max_in_flight >= 2, "the job's provider calls did not overlap");
        CHECK_INT(fake.n_requests, N_REQ);
        pthread_mutex_unlock(&fake.mu);
        free(id);
        free(jb);
        CHECK_INT(srv_signal_wait(&s, SIGTERM), 0);
    }
    srv_free(&s);

    fake_llm_stop(&fake);
    for (int i = 0; i <= N_REQ; i++)
        free(bodies[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    return check_summary();
}
