/*
 * The translator with the dict provider (src/translate/translate.c): request checks, skip
 * reasons, per-request glossaries, and many threads sharing one translator.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "translate/translate.h"

static struct itx_translator *tr;
static int mismatches;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static const struct itx_tr_segment segs[] = {
    {1, "包邮"}, {2, "满199减30"}, {3, "Nike"}, {4, "纯棉T恤 加厚保暖"}, {5, ""}, {6, "¥39.9"}};
#define N_SEGS 6
static const char *const want[N_SEGS] = {
    "Free shipping", "¥30 off orders over ¥199", "Nike", "100% cotton T-shirt thick and warm", "",
    "¥39.9"};

static void *
worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        struct itx_tr_request req = {.segments = segs, .n_segments = N_SEGS};
        struct itx_tr_result r[N_SEGS];
        struct itx_diag d;
        int bad = 0;
        itx_diag_init(&d);
        if (itx_translate(tr, &req, r, NULL, &d) != ITX_OK) {
            bad = 1;
        } else {
            for (int k = 0; k < N_SEGS; k++)
                bad |= strcmp(r[k].text, want[k]) != 0;
            itx_tr_results_release(r, N_SEGS);
        }
        if (bad) {
            pthread_mutex_lock(&mu);
            mismatches++;
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

int
main(void)
{
    struct itx_tr_config cfg = {.provider = ITX_TR_DICT};
    struct itx_tr_request req = {.segments = segs, .n_segments = N_SEGS};
    struct itx_tr_result r[N_SEGS];
    struct itx_tr_stats st;
    struct itx_glossary *g;
    struct itx_diag d;
    pthread_t th[4];

    itx_diag_init(&d);
    if (itx_translator_new(&cfg, &tr, &d) != ITX_OK) {
        fprintf(stderr, "translator: %s\n", d.msg);
        return 1;
    }
    CHECK_INT(itx_translate(tr, &req, r, &st, &d), ITX_OK);
    for (int k = 0; k < N_SEGS; k++)
        CHECK_STR(r[k].text, want[k]);
    CHECK_STR(itx_tr_skip_str(r[2].skip), "latin_only");
    CHECK_STR(itx_tr_skip_str(r[4].skip), "empty");
    CHECK_STR(itx_tr_skip_str(r[5].skip), "price");
    CHECK_INT(r[0].skip, ITX_TR_SKIP_NONE);
    CHECK_INT(st.provider_calls, 0);
    itx_tr_results_release(r, N_SEGS);

    /* Per-request glossary: forced translation and a keep-as-is brand. */
    g = itx_glossary_new();
    CHECK_INT(itx_glossary_add(g, "包邮", "shipping included", &d), ITX_OK);
    CHECK_INT(itx_glossary_add(g, "Nike", NULL, &d), ITX_OK);
    req.glossary = g;
    CHECK_INT(itx_translate(tr, &req, r, &st, &d), ITX_OK);
    CHECK_STR(r[0].text, "Shipping included");
    CHECK_STR(itx_tr_skip_str(r[2].skip), "keep_term");
    itx_tr_results_release(r, N_SEGS);
    req.glossary = NULL;
    itx_glossary_free(g);

    /* Untranslatable characters are left and flagged. */
    {
        const struct itx_tr_segment odd[] = {{1, "包邮㐀"}};
        struct itx_tr_request q = {.segments = odd, .n_segments = 1};
        CHECK_INT(itx_translate(tr, &q, r, NULL, &d), ITX_OK);
        CHECK(r[0].flags & ITX_TR_FLAG_PARTIAL);
        itx_tr_results_release(r, 1);
    }

    /* Bad requests. */
    req.target = "fr";
    CHECK_INT(itx_translate(tr, &req, r, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK(strstr(d.msg, "gemini or openai") != NULL);
    req.target = NULL;
    {
        const struct itx_tr_segment dup[] = {{1, "包邮"}, {1, "纯棉"}};
        const struct itx_tr_segment bad[] = {{7, "\xe5\x8c"}};
        struct itx_tr_request q = {.segments = dup, .n_segments = 2};
        CHECK_INT(itx_translate(tr, &q, r, NULL, &d), ITX_ERR_INVALID);
        CHECK(strstr(d.msg, "id 1 is used twice") != NULL);
        q.segments = bad;
        q.n_segments = 1;
        CHECK_INT(itx_translate(tr, &q, r, NULL, &d), ITX_ERR_INVALID);
        CHECK(strstr(d.msg, "segment 7 is not valid UTF-8") != NULL);
        q.n_segments = ITX_TR_MAX_SEGMENTS + 1;
        CHECK_INT(itx_translate(tr, &q, r, NULL, &d), ITX_ERR_TOO_LARGE);
    }

    /* One translator, many threads: same answers everywhere. */
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(mismatches, 0);
    itx_translator_free(tr);
    return check_summary();
}
