/*
 * The openai provider (OpenAI-compatible chat completions) against a local fake: request
 * shape, Bearer key (and none for local servers), Retry-After, insufficient_quota, 5xx.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake-llm.h"
#include "translate/translate.h"

static struct fake_llm fake = {.vendor = FAKE_OPENAI, .model = "gpt-test", .key = "sk-test"};
static char base[128];

static struct itx_translator *
make(const char *key, bool no_fallback)
{
    struct itx_tr_config c = {.provider = ITX_TR_OPENAI,
                              .model = "gpt-test",
                              .base_url = base,
                              .api_key = key,
                              .max_attempts = 3,
                              .timeout_ms = 5000,
                              .base_delay_ms = 10,
                              .max_delay_ms = 5000,
                              .no_fallback = no_fallback};
    struct itx_translator *t = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_translator_new(&c, &t, &d) != ITX_OK)
        fprintf(stderr, "translator: %s\n", d.msg);
    return t;
}

static const struct itx_tr_segment segs[] = {{1, "加厚保暖"}, {2, "XL"}, {3, "买一送一"}};
#define N_SEGS 3

static enum itx_status
run(struct itx_translator *t, const char *target, struct itx_tr_result *r, struct itx_tr_stats *st,
    struct itx_diag *d)
{
    struct itx_tr_request req = {.target = target, .segments = segs, .n_segments = N_SEGS};
    itx_diag_init(d);
    return itx_translate(t, &req, r, st, d);
}

#define SCRIPT(...)                                                                                \
    do {                                                                                           \
        const struct fake_reply r_[] = {__VA_ARGS__};                                              \
        fake_llm_script(&fake, r_, (int)(sizeof(r_) / sizeof(r_[0])));                             \
    } while (0)

static const char insufficient[] =
    "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan and "
    "billing details.\",\"type\":\"insufficient_quota\",\"param\":null,\"code\":"
    "\"insufficient_quota\"}}";
static const char rate[] =
    "{\"error\":{\"message\":\"Rate limit reached for gpt-test on requests per min (RPM).\","
    "\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
static const char overloaded[] =
    "{\"error\":{\"message\":\"The server is overloaded or not ready yet.\",\"type\":"
    "\"server_error\",\"param\":null,\"code\":null}}";
static const char unauthorized[] =
    "{\"error\":{\"message\":\"Incorrect API key provided: sk-wrong.\",\"type\":"
    "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";

static void
test_openai(void)
{
    struct itx_translator *t = make("sk-test", false), *strict = make("sk-test", true);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    SCRIPT({.kind = FAKE_AUTO});
    CHECK_INT(run(t, "de", r, &st, &d), ITX_OK);
    CHECK_STR(fake.error, "");
    CHECK_INT(fake.n_requests, 1);
    CHECK_STR(r[0].text, "translation 1");
    CHECK_STR(r[1].text, "XL");
    CHECK_STR(itx_tr_skip_str(r[1].skip), "latin_only");
    CHECK_STR(r[2].text, "translation 2");
    itx_tr_results_release(r, N_SEGS);

    /* Retry-After (seconds) is honoured as a lower bound. */
    SCRIPT({.kind = FAKE_RAW, .status = 429, .headers = "Retry-After: 1\r\n", .body = rate},
           {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    CHECK_INT(st.n_delays, 1);
    CHECK(st.delays_ms[0] >= 1000);
    CHECK(fake.at_ms[1] - fake.at_ms[0] >= 1000.0);
    itx_tr_results_release(r, N_SEGS);

    /* 503 then success. */
    SCRIPT({.kind = FAKE_RAW, .status = 503, .body = overloaded}, {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    CHECK_INT(r[0].flags, 0);
    itx_tr_results_release(r, N_SEGS);

    /* insufficient_quota is a 429 that must never be retried. */
    SCRIPT({.kind = FAKE_RAW, .status = 429, .body = insufficient});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_OVERLOADED);
    CHECK_INT(fake.n_requests, 1);
    CHECK(strstr(d.msg, "openai: HTTP 429: insufficient_quota") != NULL);
    CHECK(strstr(d.msg, "not retried") != NULL);
    /* ... and with fallback the segments come from the dictionary, flagged. */
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    CHECK_STR(r[2].text, "Buy one get one free");
    CHECK(r[2].flags & ITX_TR_FLAG_FALLBACK_DICT);
    CHECK(strstr(st.provider_error, "insufficient_quota") != NULL);
    itx_tr_results_release(r, N_SEGS);
    /* Fallback is English only: other languages get the error. */
    CHECK_INT(run(t, "fr", r, &st, &d), ITX_ERR_OVERLOADED);

    SCRIPT({.kind = FAKE_RAW, .status = 401, .body = unauthorized});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_AUTH);
    CHECK_INT(fake.n_requests, 1);
    CHECK(strstr(d.msg, "invalid_api_key") != NULL);
    CHECK(strstr(d.msg, "sk-test") == NULL);

    /* A refusal and a length cut-off are failures, not translations. */
    SCRIPT({.kind = FAKE_RAW,
            .status = 200,
            .body =
                "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                "\"{\\\"translations\\\":[{\\\"id\\\":1,\\\"text\\\":\\\"Thi\",\"refusal\":null},"
                "\"finish_reason\":\"length\"}]}"});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_UPSTREAM);
    CHECK(strstr(d.msg, "stopped early: length") != NULL);
    itx_translator_free(t);
    itx_translator_free(strict);
}

static void
test_local_server_without_key(void)
{
    struct itx_translator *t;
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    fake.key = NULL;
    t = make(NULL, true);
    CHECK(t != NULL);
    SCRIPT({.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_STR(fake.error, "");
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
    fake.key = "sk-test";
}

struct job {
    struct itx_translator *t;
    enum itx_status s;
};

static void *
job_run(void *arg)
{
    struct job *j = arg;
    struct itx_tr_result r[N_SEGS];
    struct itx_diag d;
    j->s = run(j->t, "en", r, NULL, &d);
    if (j->s == ITX_OK)
        itx_tr_results_release(r, N_SEGS);
    return NULL;
}

/* Six threads share a translator limited to two requests in flight. */
static void
test_concurrency_limit(void)
{
    struct itx_tr_config c = {.provider = ITX_TR_OPENAI,
                              .model = "gpt-test",
                              .base_url = base,
                              .api_key = "sk-test",
                              .concurrency = 2,
                              .no_fallback = true};
    struct itx_translator *t = NULL;
    struct job jobs[6];
    pthread_t th[6];
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK_INT(itx_translator_new(&c, &t, &d), ITX_OK);
    SCRIPT({.kind = FAKE_AUTO, .delay_ms = 150});
    for (int i = 0; i < 6; i++) {
        jobs[i].t = t;
        pthread_create(&th[i], NULL, job_run, &jobs[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(jobs[i].s, ITX_OK);
    }
    CHECK_INT(fake.n_requests, 6);
    CHECK_MSG(fake.max_in_flight >= 1 && fake.max_in_flight <= 2, "%d requests in flight",
              fake.max_in_flight);
    itx_translator_free(t);
}

int
main(void)
{
    if (!fake_llm_start(&fake)) {
        fprintf(stderr, "cannot start the fake server\n");
        return 1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/v1", fake.port);
    test_openai();
    test_local_server_without_key();
    test_concurrency_limit();
    fake_llm_stop(&fake);
    return check_summary();
}
