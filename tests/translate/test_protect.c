/* Protection reasons, output checks and the model-answer parser (src/translate/protect.c). */
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "translate/translate-impl.h"
#include "translate/translate.h"

static void
skip(const char *text, const char *want, const struct itx_glossary *g)
{
    const char *got = itx_tr_skip_str(itx_tr_protect(text, g, NULL));
    CHECK_MSG(strcmp(got, want) == 0, "'%s' -> '%s', expected '%s'", text, got, want);
}

int
main(void)
{
    struct itx_glossary *g = itx_glossary_new();
    struct itx_diag d;
    struct tr_answer_item *items = NULL;
    size_t n = 0;
    const char *ans;

    itx_diag_init(&d);
    CHECK_INT(itx_glossary_add(g, "华为", NULL, &d), ITX_OK);
    CHECK_INT(itx_glossary_add(g, "Nike", NULL, &d), ITX_OK);
    skip("包邮", "", g);
    skip("  ", "empty", g);
    skip("Nike", "keep_term", g);
    skip("华为", "keep_term", g);
    skip("华为手机", "", g);
    skip("Hello world", "latin_only", g);
    /* Three or more sizes run together go to the translator, which spaces them. */
    skip("SMLXL", "", g);
    skip(" XSSMLXLXXL ", "", g);
    skip("S M L XL", "latin_only", g);
    skip("ML", "latin_only", g);
    skip("SLM", "latin_only", g);
    skip("SMALL", "latin_only", g);
    {
        char out[64];
        CHECK_INT(itx_tr_split_sizes("SMLXL", 5, out, sizeof(out)), 8);
        CHECK_STR(out, "S M L XL");
        CHECK_INT(itx_tr_split_sizes("SMLXL", 5, out, 6), 0);
    }
    skip("https://shop.example.com/x", "url", g);
    skip("www.taobao.com", "url", g);
    skip("shop123.taobao.com", "url", g);
    skip("¥39.9", "price", g);
    skip("$12.50", "price", g);
    skip("RMB 39", "price", g);
    skip("2024", "number", g);
    skip("50%", "number", g);
    skip("XR-2000", "model_number", g);
    skip("A2023", "model_number", g);
    skip("Size M 2024", "latin_only", g);

    CHECK(itx_tr_check_output("包邮", "Free shipping", "en", g, NULL) == NULL);
    CHECK(itx_tr_check_output("包邮", "", "en", g, NULL) != NULL);
    CHECK(itx_tr_check_output("包邮", "包邮 free", "en", g, NULL) != NULL);
    CHECK(itx_tr_check_output("华为手机", "华为 phone", "en", g, NULL) == NULL);
    CHECK(itx_tr_check_output("包邮", "Бесплатная доставка", "ru", g, NULL) == NULL);
    CHECK(itx_tr_check_output("包邮", "Free shipping", "ru", g, NULL) != NULL);
    CHECK(itx_tr_check_output("包邮", "送料無料", "ja", g, NULL) == NULL);
    CHECK(itx_tr_check_output("包邮", "무료 배송", "ko", g, NULL) == NULL);
    CHECK(itx_tr_check_output("包邮", "Бесплатная", "en", g, NULL) != NULL);
    ans =
        itx_tr_check_output("包邮", "free free free free free free free free free", "en", g, NULL);
    CHECK(ans && strstr(ans, "repetition"));
    CHECK(itx_tr_check_output("包邮", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "en", g, NULL) != NULL);
    CHECK(itx_tr_check_output("10000毫安", "10000 mAh", "en", g, NULL) == NULL);

    ans = "```json\n{\"translations\":[{\"id\":1,\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b\"},"
          "{\"id\":3},{\"text\":\"x\"}]}\n```";
    CHECK_INT(itx_tr_parse_answer(ans, strlen(ans), &items, &n, &d), ITX_OK);
    CHECK_INT(n, 2);
    CHECK(n == 2 && items[1].id == 2 && strcmp(items[1].text, "b") == 0);
    itx_tr_answer_free(items, n);
    ans = "[{\"id\":1,\"text\":\"a\"}]";
    CHECK_INT(itx_tr_parse_answer(ans, strlen(ans), &items, &n, &d), ITX_OK);
    CHECK_INT(n, 1);
    itx_tr_answer_free(items, n);
    ans = "{\"result\":1}";
    CHECK_INT(itx_tr_parse_answer(ans, strlen(ans), &items, &n, &d), ITX_ERR_UNDECODABLE);
    CHECK_INT(itx_tr_parse_answer("nope", 4, &items, &n, &d), ITX_ERR_UNDECODABLE);
    itx_glossary_free(g);
    return check_summary();
}
