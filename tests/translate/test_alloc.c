/*
 * Allocation-failure injection over the dictionary path (glossary load, index open,
 * translator, a request): every N-th allocation fails in turn, once and then sticky, and
 * each run must end in ITX_OK or ITX_ERR_NOMEM with nothing leaked (run it under ASan).
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "translate/translate.h"

static const struct itx_tr_segment segs[] = {
    {1, "包邮"}, {2, "满199减30 纯棉T恤"}, {3, "Nike"}, {4, "质量很好"}, {5, "¥39.9"}};

static enum itx_status
once(void)
{
    struct itx_tr_config cfg = {.provider = ITX_TR_DICT};
    struct itx_translator *t = NULL;
    struct itx_glossary *g = itx_glossary_new();
    struct itx_tr_request req = {.segments = segs, .n_segments = 5};
    struct itx_tr_result r[5];
    struct itx_diag d;
    enum itx_status s;

    itx_diag_init(&d);
    if (!g)
        return ITX_ERR_NOMEM;
    s = itx_glossary_add(g, "包邮", "shipping included", &d);
    if (s == ITX_OK)
        s = itx_translator_new(&cfg, &t, &d);
    req.glossary = g;
    if (s == ITX_OK)
        s = itx_translate(t, &req, r, NULL, &d);
    if (s == ITX_OK) {
        CHECK_STR(r[0].text, "Shipping included");
        itx_tr_results_release(r, 5);
    }
    itx_translator_free(t);
    itx_glossary_free(g);
    return s;
}

int
main(void)
{
    CHECK_INT(once(), ITX_OK);
    for (int sticky = 0; sticky < 2; sticky++) {
        unsigned long n;
        for (n = 1; n < 100000; n++) {
            enum itx_status s;
            itx_alloc_fail_at(n, sticky != 0);
            s = once();
            if (!itx_alloc_injected()) {
                itx_alloc_fail_at(0, false);
                CHECK_INT(s, ITX_OK);
                break;
            }
            itx_alloc_fail_at(0, false);
            CHECK_MSG(s == ITX_ERR_NOMEM, "failing allocation %lu (sticky %d) gave %s", n, sticky,
                      itx_err_str(s));
        }
        CHECK(n > 10);
    }
    return check_summary();
}
