/* Tests of src/ocr/text.c: UTF-8 decoding and line flags. */
#include "check.h"
#include "ocr/ocr-impl.h"

static void
test_utf8(void)
{
    uint32_t c = 0;

    CHECK(itx_ocr_utf8_next("A", 1, &c) == 1 && c == 'A');
    CHECK(itx_ocr_utf8_next("\xc2\xa5", 2, &c) == 2 && c == 0xa5);
    CHECK(itx_ocr_utf8_next("\xe4\xbd\xa0", 3, &c) == 3 && c == 0x4f60);
    CHECK(itx_ocr_utf8_next("\xf0\xa0\x80\x80", 4, &c) == 4 && c == 0x20000);
    CHECK(itx_ocr_utf8_next("\xe4\xbd", 2, &c) == 0);         /* truncated */
    CHECK(itx_ocr_utf8_next("\xc0\x80", 2, &c) == 0);         /* overlong */
    CHECK(itx_ocr_utf8_next("\xe0\x80\x80", 3, &c) == 0);     /* overlong */
    CHECK(itx_ocr_utf8_next("\xed\xa0\x80", 3, &c) == 0);     /* surrogate */
    CHECK(itx_ocr_utf8_next("\xf4\x90\x80\x80", 4, &c) == 0); /* past U+10FFFF */
    CHECK(itx_ocr_utf8_next("\x80", 1, &c) == 0);
    CHECK(itx_ocr_utf8_next("", 0, &c) == 0);
}

static void
test_flags(void)
{
    CHECK_INT(itx_ocr_text_flags("\xe4\xbd\xa0\xe5\xa5\xbd"), ITX_OCR_HAN); /* 你好 */
    CHECK_INT(itx_ocr_text_flags("99\xe5\x85\x83"), ITX_OCR_HAN);           /* 99元 */
    CHECK_INT(itx_ocr_text_flags("\xe3\x90\x80"), ITX_OCR_HAN);             /* Ext A */
    CHECK_INT(itx_ocr_text_flags("\xef\xa4\x80"), ITX_OCR_HAN);             /* compat */
    CHECK_INT(itx_ocr_text_flags("\xf0\xa0\x80\x80"), ITX_OCR_HAN);         /* Ext B */
    CHECK_INT(itx_ocr_text_flags("Hello World!"), ITX_OCR_LATIN_ONLY);
    CHECK_INT(itx_ocr_text_flags("iPhone 15 Pro"), ITX_OCR_LATIN_ONLY);
    CHECK_INT(itx_ocr_text_flags("Caf\xc3\xa9"), ITX_OCR_LATIN_ONLY);
    CHECK_INT(itx_ocr_text_flags("Nike\xe8\x80\x90\xe5\x85\x8b"), ITX_OCR_HAN); /* Nike耐克 */
    CHECK_INT(itx_ocr_text_flags("\xe3\x81\x82"
                                 "abc"),
              0); /* kana */
    CHECK_INT(itx_ocr_text_flags("\xc2\xa5"
                                 "99.90"),
              ITX_OCR_PRICE); /* ¥99.90 */
    CHECK_INT(itx_ocr_text_flags("\xef\xbf\xa5"
                                 "1,299"),
              ITX_OCR_PRICE); /* ￥1,299 */
    CHECK_INT(itx_ocr_text_flags("$19.99"), ITX_OCR_PRICE);
    CHECK_INT(itx_ocr_text_flags("50%"), ITX_OCR_PRICE);
    CHECK_INT(itx_ocr_text_flags("2024"), ITX_OCR_PRICE);
    CHECK_INT(itx_ocr_text_flags("$"), 0); /* no digit */
    CHECK_INT(itx_ocr_text_flags("USB3.0"), ITX_OCR_LATIN_ONLY);
    CHECK_INT(itx_ocr_text_flags(""), 0);
    CHECK_INT(itx_ocr_text_flags("\xff\xfe"), 0);
    CHECK_INT(itx_ocr_text_flags("\xff"
                                 "12"),
              0);
    CHECK(itx_ocr_is_han(0x4e00) && itx_ocr_is_han(0x9fa5) && !itx_ocr_is_han(0x3001));
}

int
main(void)
{
    test_utf8();
    test_flags();
    return check_summary();
}
