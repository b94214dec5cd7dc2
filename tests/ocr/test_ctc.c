/* Tests of src/ocr/ctc.c: key lists and CTC greedy decoding. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/alloc.h"
#include "ocr/ocr.h"

static struct itx_ocr_dict *
parse(const char *s, bool space, enum itx_status want, const char *msg_part)
{
    struct itx_ocr_dict *dict = NULL;
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    st = itx_ocr_dict_parse(s, strlen(s), space, &dict, &d);
    CHECK_MSG(st == want, "'%s': %s", s, d.msg);
    if (msg_part)
        CHECK_MSG(strstr(d.msg, msg_part) != NULL, "%s", d.msg);
    return dict;
}

static void
test_dict(void)
{
    struct itx_ocr_dict *dict;
    char big[200];

    dict = parse("a\nb\nc", true, ITX_OK, NULL);
    CHECK_INT(itx_ocr_dict_n_classes(dict), 5);
    CHECK(itx_ocr_dict_key(dict, 0) == NULL);
    CHECK_STR(itx_ocr_dict_key(dict, 1), "a");
    CHECK_STR(itx_ocr_dict_key(dict, 3), "c");
    CHECK_STR(itx_ocr_dict_key(dict, 4), " ");
    CHECK(itx_ocr_dict_key(dict, 5) == NULL);
    itx_ocr_dict_free(dict);
    dict = parse("\xe4\xbd\xa0\r\n\xe5\xa5\xbd\r\n", false, ITX_OK, NULL);
    CHECK_INT(itx_ocr_dict_n_classes(dict), 3);
    CHECK_STR(itx_ocr_dict_key(dict, 2), "\xe5\xa5\xbd");
    itx_ocr_dict_free(dict);
    /* An empty line is a key, as in PaddleOCR. */
    dict = parse("a\n\nb\n", false, ITX_OK, NULL);
    CHECK_INT(itx_ocr_dict_n_classes(dict), 4);
    CHECK_STR(itx_ocr_dict_key(dict, 2), "");
    itx_ocr_dict_free(dict);
    parse("", false, ITX_ERR_INVALID, "empty");
    parse("a\n\xff\n", false, ITX_ERR_INVALID, "line 2");
    parse("a\n\xed\xa0\x80\n", false, ITX_ERR_INVALID, "UTF-8"); /* a surrogate */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    parse(big, false, ITX_ERR_INVALID, "64-byte limit");
    itx_ocr_dict_free(parse("", true, ITX_OK, NULL)); /* just the space */
}

static void
test_real_dict(void)
{
    char path[4096];
    const char *dir = getenv("ITX_MODELS_DIR");
    struct itx_ocr_dict *dict = NULL;
    struct itx_diag d;
    FILE *f;

    if (dir && *dir)
        snprintf(path, sizeof(path), "%s/ppocr_keys_v1.txt", dir);
    else
        snprintf(path, sizeof(path), "%s/models/ppocr_keys_v1.txt",
                 getenv("ITX_SOURCE_DIR") ? getenv("ITX_SOURCE_DIR") : ".");
    f = fopen(path, "rb");
    if (!f) {
        printf("skipping the real key list: no '%s' (run scripts/setup.sh)\n", path);
        return;
    }
    fclose(f);
    itx_diag_init(&d);
    CHECK_MSG(itx_ocr_dict_load(path, true, &dict, &d) == ITX_OK, "%s", d.msg);
    /* 6623 keys + space + blank: the PP-OCRv4 recognizer's 6625 outputs. */
    CHECK_INT(dict ? itx_ocr_dict_n_classes(dict) : 0, 6625);
    itx_ocr_dict_free(dict);
    CHECK(itx_ocr_dict_load("/nonexistent/keys.txt", true, &dict, &d) == ITX_ERR_NOT_FOUND);
    CHECK_MSG(strstr(d.msg, "/nonexistent/keys.txt") != NULL, "%s", d.msg);
}

static void
set_row(float *m, size_t t, size_t n_classes, size_t best, float p)
{
    for (size_t c = 0; c < n_classes; c++)
        m[t * n_classes + c] = (1 - p) / (float)(n_classes - 1);
    m[t * n_classes + best] = p;
}

static void
test_decode(void)
{
    struct itx_ocr_dict *dict = parse("a\nb\nc", true, ITX_OK, NULL);
    float m[8 * 5];
    size_t steps[8] = {1, 1, 0, 1, 2, 4, 4, 3};
    float ps[8] = {0.9f, 0.5f, 0.99f, 0.8f, 0.7f, 0.6f, 0.95f, 0.4f};
    char *text = NULL;
    float score = -1;
    struct itx_diag d;

    itx_diag_init(&d);
    for (size_t t = 0; t < 8; t++)
        set_row(m, t, 5, steps[t], ps[t]);
    /* a a(repeat) _ a b ' ' ' '(repeat) c -> "aab c", kept steps 0, 3, 4, 5, 7 */
    CHECK(itx_ocr_ctc_decode(m, 8, 5, dict, &text, &score, &d) == ITX_OK);
    CHECK_STR(text ? text : "", "aab c");
    CHECK_MSG(fabsf(score - (0.9f + 0.8f + 0.7f + 0.6f + 0.4f) / 5) < 1e-6f, "%g", (double)score);
    itx_free(text);
    /* Nothing but blanks: empty text, score 0 (PaddleOCR's mean of [0]). */
    for (size_t t = 0; t < 8; t++)
        set_row(m, t, 5, 0, 0.9f);
    CHECK(itx_ocr_ctc_decode(m, 8, 5, dict, &text, &score, &d) == ITX_OK);
    CHECK_STR(text, "");
    CHECK(score == 0);
    itx_free(text);
    CHECK(itx_ocr_ctc_decode(m, 0, 5, dict, &text, &score, &d) == ITX_OK);
    CHECK_STR(text, "");
    itx_free(text);
    /* NaN never wins; ties go to the first class. */
    for (size_t c = 0; c < 5; c++)
        m[c] = NAN;
    m[5 + 0] = NAN;
    m[5 + 1] = 0.2f;
    m[5 + 2] = 0.5f;
    m[5 + 3] = 0.5f;
    m[5 + 4] = 0.1f;
    CHECK(itx_ocr_ctc_decode(m, 2, 5, dict, &text, &score, &d) == ITX_OK);
    CHECK_STR(text, "b");
    CHECK(score == 0.5f);
    itx_free(text);
    /* The model's class count must match the key list. */
    CHECK(itx_ocr_ctc_decode(m, 8, 4, dict, &text, &score, &d) == ITX_ERR_MODEL);
    CHECK_MSG(strstr(d.msg, "4 classes") != NULL, "%s", d.msg);
    itx_ocr_dict_free(dict);
}

int
main(void)
{
    test_dict();
    test_real_dict();
    test_decode();
    return check_summary();
}
