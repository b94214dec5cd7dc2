/*
 * The gemini provider and the translator's request flow against a local fake of Google's
 * generateContent API: request shape, retries and their delays, giving up, error messages,
 * validation with one retry, dictionary fallback flags and cache hits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake-llm.h"
#include "translate/translate.h"

static struct fake_llm fake = {.vendor = FAKE_GEMINI, .model = "gemini-test", .key = "k-123"};
static char base[128];

static struct itx_translator *
make(int attempts, long timeout_ms, struct itx_tr_cache *cache, bool no_fallback)
{
    struct itx_tr_config c = {.provider = ITX_TR_GEMINI,
                              .model = "gemini-test",
                              .base_url = base,
                              .api_key = "k-123",
                              .max_attempts = attempts,
                              .timeout_ms = timeout_ms,
                              .connect_timeout_ms = 1000,
                              .base_delay_ms = 10,
                              .max_delay_ms = 5000,
                              .cache = cache,
                              .no_fallback = no_fallback};
    struct itx_translator *t = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_translator_new(&c, &t, &d) != ITX_OK)
        fprintf(stderr, "translator: %s\n", d.msg);
    return t;
}

static const struct itx_tr_segment segs[] = {
    {10, "包邮"}, {11, "Nike"}, {12, "纯棉T恤"}, {13, "¥39.9"}, {14, "限时特价"}};
#define N_SEGS 5

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

static void
test_success(void)
{
    struct itx_translator *t = make(3, 5000, NULL, false);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    SCRIPT({.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_STR(fake.error, "");
    CHECK_INT(fake.n_requests, 1);
    CHECK_INT(st.provider_calls, 1);
    /* Protected segments are not sent and carry their reason. */
    CHECK_STR(r[1].text, "Nike");
    CHECK_STR(itx_tr_skip_str(r[1].skip), "latin_only");
    CHECK_STR(itx_tr_skip_str(r[3].skip), "price");
    CHECK(strstr(fake.last_user, "Nike") == NULL);
    /* The three Chinese segments went as ids 1..3, in order. */
    CHECK_STR(r[0].text, "translation 1");
    CHECK_STR(r[2].text, "translation 2");
    CHECK_STR(r[4].text, "translation 3");
    CHECK_INT(r[0].flags, 0);
    /* Glossary terms that occur in the segments go into the prompt. */
    CHECK(strstr(fake.last_user, "包邮 => free shipping") != NULL);
    CHECK(strstr(fake.last_user, "售罄") == NULL);
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
}

static void
test_cache(void)
{
    struct itx_tr_cache *cache = NULL;
    struct itx_translator *t;
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;
    char path[] = "/tmp/itx-test-cache-XXXXXX";
    uint64_t hits, misses;
    int fd = mkstemp(path);

    close(fd);
    itx_diag_init(&d);
    CHECK_INT(itx_tr_cache_open_sqlite(path, &cache, &d), ITX_OK);
    t = make(3, 5000, cache, false);
    SCRIPT({.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 1);
    CHECK_INT(st.cache_misses, 3);
    itx_tr_results_release(r, N_SEGS);
    /* Same request again: every segment from the cache, no provider call. */
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 1);
    CHECK_INT(st.provider_calls, 0);
    CHECK_INT(st.cache_hits, 3);
    CHECK(r[0].flags & ITX_TR_FLAG_CACHED);
    CHECK_STR(r[4].text, "translation 3");
    itx_tr_cache_counters(cache, &hits, &misses);
    CHECK_INT(hits, 3);
    CHECK_INT(misses, 3);
    itx_tr_results_release(r, N_SEGS);
    /* Another target language is another key. */
    CHECK_INT(run(t, "fr", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
    itx_tr_cache_free(cache);
    remove(path);
}

static const char quota_day[] =
    "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota.\",\"status\":"
    "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/"
    "google.rpc.QuotaFailure\","
    "\"violations\":[{\"quotaMetric\":\"generativelanguage.googleapis.com/"
    "generate_content_free_tier_requests\","
    "\"quotaId\":\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\"}]},"
    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"1s\"}]}}";
static const char rate_limited[] =
    "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted (e.g. check quota).\","
    "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
    "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"0.300s\"}]}}";
static const char too_long[] =
    "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\","
    "\"details\":[{\"@type\":\"type.googleapis.com/"
    "google.rpc.RetryInfo\",\"retryDelay\":\"120s\"}]}}";
static const char internal[] = "{\"error\":{\"code\":500,\"message\":\"An internal error has "
                               "occurred.\",\"status\":\"INTERNAL\"}}";
static const char unavailable[] =
    "{\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\","
    "\"status\":\"UNAVAILABLE\"}}";
static const char bad_request[] =
    "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\","
    "\"status\":\"INVALID_ARGUMENT\"}}";
static const char denied[] =
    "{\"error\":{\"code\":403,\"message\":\"Method doesn't allow unregistered callers.\","
    "\"status\":\"PERMISSION_DENIED\"}}";

static void
test_retry_info(void)
{
    struct itx_translator *t = make(3, 5000, NULL, false);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    SCRIPT({.kind = FAKE_RAW, .status = 429, .body = rate_limited}, {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_STR(fake.error, "");
    CHECK_INT(fake.n_requests, 2);
    CHECK_INT(st.retries, 1);
    /* RetryInfo is a lower bound on the wait: planned, and seen by the server. */
    CHECK_INT(st.n_delays, 1);
    CHECK(st.delays_ms[0] >= 300);
    CHECK_MSG(fake.at_ms[1] - fake.at_ms[0] >= 300.0, "second attempt after %.0f ms",
              fake.at_ms[1] - fake.at_ms[0]);
    CHECK_STR(r[0].text, "translation 1");
    CHECK_INT(r[0].flags, 0);
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
}

static void
test_server_errors_retried(void)
{
    struct itx_translator *t = make(4, 5000, NULL, false);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    SCRIPT({.kind = FAKE_RAW, .status = 500, .body = internal},
           {.kind = FAKE_RAW, .status = 503, .body = unavailable},
           {.kind = FAKE_RAW, .status = 504, .body = ""}, {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 4);
    CHECK_INT(st.n_delays, 3);
    /* Exponential backoff with jitter: base 10 ms, then 20, then 40, each at least half. */
    CHECK(st.delays_ms[0] >= 5 && st.delays_ms[0] <= 10);
    CHECK(st.delays_ms[1] >= 10 && st.delays_ms[1] <= 20);
    CHECK(st.delays_ms[2] >= 20 && st.delays_ms[2] <= 40);
    CHECK_STR(r[4].text, "translation 3");
    itx_tr_results_release(r, N_SEGS);

    /* Every attempt fails: give up after max_attempts and fall back to the dictionary. */
    SCRIPT({.kind = FAKE_RAW, .status = 503, .body = unavailable});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 4);
    CHECK(strstr(st.provider_error, "gemini") != NULL);
    CHECK(strstr(st.provider_error, "HTTP 503") != NULL);
    CHECK(strstr(st.provider_error, "overloaded") != NULL);
    CHECK(strstr(st.provider_error, "gave up after 4 attempts") != NULL);
    CHECK_INT(st.n_fallback, 3);
    CHECK(r[0].flags & ITX_TR_FLAG_FALLBACK_DICT);
    CHECK_STR(r[0].text, "Free shipping");
    CHECK_STR(r[1].text, "Nike");
    CHECK(!(r[1].flags & ITX_TR_FLAG_FALLBACK_DICT));
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
}

static void
test_not_retried(void)
{
    struct itx_translator *t = make(4, 5000, NULL, false), *strict = make(4, 5000, NULL, true);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    /* A per-day quota is not retried, even with a RetryInfo. */
    SCRIPT({.kind = FAKE_RAW, .status = 429, .body = quota_day});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 1);
    CHECK(strstr(st.provider_error, "per-day quota") != NULL);
    CHECK(strstr(st.provider_error, "not retried") != NULL);
    CHECK(r[2].flags & ITX_TR_FLAG_FALLBACK_DICT);
    itx_tr_results_release(r, N_SEGS);

    /* 400: not retried; without fallback the error reaches the caller. */
    SCRIPT({.kind = FAKE_RAW, .status = 400, .body = bad_request});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_UPSTREAM);
    CHECK_INT(fake.n_requests, 1);
    CHECK(strstr(d.msg, "gemini: HTTP 400: INVALID_ARGUMENT: API key not valid") != NULL);
    CHECK(strstr(d.msg, "k-123") == NULL);

    SCRIPT({.kind = FAKE_RAW, .status = 403, .body = denied});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_AUTH);
    CHECK_INT(fake.n_requests, 1);

    SCRIPT({.kind = FAKE_RAW,
            .status = 404,
            .body = "{\"error\":{\"code\":404,\"message\":"
                    "\"models/x is not found\",\"status\":\"NOT_FOUND\"}}"});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_NOT_FOUND);
    CHECK_INT(fake.n_requests, 1);

    /* A server asking for a longer wait than allowed: give up at once. */
    SCRIPT({.kind = FAKE_RAW, .status = 429, .body = too_long});
    CHECK_INT(run(strict, "en", r, &st, &d), ITX_ERR_OVERLOADED);
    CHECK_INT(fake.n_requests, 1);
    CHECK(strstr(d.msg, "retry after 120000 ms, over the 5000 ms limit") != NULL);
    itx_translator_free(t);
    itx_translator_free(strict);
}

static void
test_bad_answers(void)
{
    struct itx_translator *t = make(2, 5000, NULL, false);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    /* Malformed JSON, then a truncated body: both retried, then a good answer. */
    t = (itx_translator_free(t), make(3, 5000, NULL, false));
    SCRIPT({.kind = FAKE_RAW, .status = 200, .body = "{\"candidates\": [ {\"content\""},
           {.kind = FAKE_TRUNCATED}, {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 3);
    CHECK_INT(r[0].flags, 0);
    CHECK_STR(r[0].text, "translation 1");
    itx_tr_results_release(r, N_SEGS);

    /* Wrong segment count: the missing segment is asked for again, alone. */
    SCRIPT({.kind = FAKE_AUTO_DROP_LAST}, {.kind = FAKE_AUTO});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    CHECK_STR(r[0].text, "translation 1");
    CHECK_INT(r[0].flags, 0);
    CHECK(r[4].flags & ITX_TR_FLAG_RETRIED);
    CHECK_STR(r[4].text, "translation 1"); /* the retry held only this segment, as id 1 */
    CHECK(strstr(fake.last_user, "限时特价") != NULL && strstr(fake.last_user, "纯棉") == NULL);
    itx_tr_results_release(r, N_SEGS);

    /* Chinese left in the answer twice: that segment falls back to the dictionary. */
    SCRIPT({.kind = FAKE_AUTO_CHINESE});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(fake.n_requests, 2);
    CHECK(r[0].flags & ITX_TR_FLAG_FALLBACK_DICT);
    CHECK_STR(r[0].text, "Free shipping");
    CHECK_STR(r[2].text, "translation 2");
    CHECK(!(r[2].flags & ITX_TR_FLAG_FALLBACK_DICT));
    CHECK_INT(st.n_fallback, 1);
    itx_tr_results_release(r, N_SEGS);

    /* Not in the target language's script (Latin answers for Russian), and no fallback. */
    SCRIPT({.kind = FAKE_AUTO});
    CHECK_INT(run(t, "ru", r, &st, &d), ITX_ERR_UPSTREAM);
    CHECK(strstr(d.msg, "no valid translation") != NULL);
    fake.cyrillic = true;
    CHECK_INT(run(t, "ru", r, &st, &d), ITX_OK);
    CHECK_STR(r[0].text, "перевод 1");
    fake.cyrillic = false;
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
}

static void
test_timeout(void)
{
    struct itx_translator *t = make(2, 300, NULL, false);
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_diag d;

    SCRIPT({.kind = FAKE_AUTO, .delay_ms = 1500});
    CHECK_INT(run(t, "en", r, &st, &d), ITX_OK);
    CHECK_INT(st.provider_calls, 2);
    CHECK(strstr(st.provider_error, "gemini: no complete answer within 300 ms") != NULL);
    CHECK(r[0].flags & ITX_TR_FLAG_FALLBACK_DICT);
    itx_tr_results_release(r, N_SEGS);
    itx_translator_free(t);
}

static void
test_config(void)
{
    struct itx_tr_config c = {.provider = ITX_TR_GEMINI, .base_url = base};
    struct itx_translator *t = NULL;
    struct itx_diag d;
    struct itx_tr_result r[N_SEGS];

    itx_diag_init(&d);
    unsetenv("GEMINI_API_KEY");
    CHECK_INT(itx_translator_new(&c, &t, &d), ITX_ERR_AUTH);
    CHECK(strstr(d.msg, "GEMINI_API_KEY") != NULL);
    t = make(1, 1000, NULL, false);
    CHECK_INT(run(t, "xx", r, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK(strstr(d.msg, "'xx'") != NULL);
    itx_translator_free(t);
}

int
main(void)
{
    if (!fake_llm_start(&fake)) {
        fprintf(stderr, "cannot start the fake server\n");
        return 1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/v1beta/", fake.port);
    setenv("ITX_LOG_LEVEL", "error", 1);
    test_success();
    test_cache();
    test_retry_info();
    test_server_errors_retried();
    test_not_retried();
    test_bad_answers();
    test_timeout();
    test_config();
    fake_llm_stop(&fake);
    return check_summary();
}
