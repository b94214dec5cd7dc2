/*
 * UTF-8 decoding and per-line text flags (Han, Latin-only, price-like).
 */
#include <string.h>

#include "ocr/ocr-impl.h"

size_t
itx_ocr_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        len = 2;
        c = u[0] & 0x1fu;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3;
        c = u[0] & 0x0fu;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4;
        c = u[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3fu);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

bool
itx_ocr_is_han(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) ||   /* CJK Unified Ideographs */
           (c >= 0x3400 && c <= 0x4dbf) ||   /* Extension A */
           (c >= 0xf900 && c <= 0xfaff) ||   /* Compatibility Ideographs */
           (c >= 0x20000 && c <= 0x2ebef) || /* Extensions B-F */
           (c >= 0x2f800 && c <= 0x2fa1f) || /* Compatibility Supplement */
           (c >= 0x30000 && c <= 0x323af) || /* Extensions G-H */
           c == 0x3007;                      /* ideographic number zero */
}

static bool
is_latin_letter(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= 0xc0 && c <= 0x24f && c != 0xd7 && c != 0xf7) || (c >= 0xff21 && c <= 0xff3a) ||
           (c >= 0xff41 && c <= 0xff5a); /* fullwidth */
}

static bool
is_digit(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 0xff10 && c <= 0xff19);
}

/* Kana, hangul and other scripts that make a line not Latin-only. */
static bool
is_other_script(uint32_t c)
{
    return (c >= 0x3040 && c <= 0x30ff) || (c >= 0xac00 && c <= 0xd7af) ||
           (c >= 0x1100 && c <= 0x11ff) || (c >= 0x0370 && c <= 0x052f) ||
           (c >= 0x0590 && c <= 0x0dff);
}

/* Characters that may surround the digits of a price: currency signs, separators, signs. */
static bool
is_price_mark(uint32_t c)
{
    switch (c) {
    case '$':
    case '.':
    case ',':
    case '-':
    case '+':
    case '~':
    case '%':
    case ' ':
    case ':':
    case '/':
    case 0xa5:   /* ¥ */
    case 0xffe5: /* ￥ */
    case 0xff04: /* ＄ */
    case 0xff0c: /* ， */
    case 0xff0e: /* ． */
    case 0x3002: /* 。 */
    case 0xff5e: /* ～ */
    case 0xff05: /* ％ */
    case 0xff0b: /* ＋ */
    case 0xff0d: /* － */
    case 0x20ac: /* € */
    case 0xa3:   /* £ */
    case 0x3000: /* ideographic space */
        return true;
    default:
        return false;
    }
}

unsigned
itx_ocr_text_flags(const char *text)
{
    size_t n = strlen(text);
    bool han = false, latin = false, other = false, digit = false, price = true;

    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t nb = itx_ocr_utf8_next(text + i, n - i, &c);
        if (nb == 0) {
            other = true;
            price = false;
            i++;
            continue;
        }
        i += nb;
        if (itx_ocr_is_han(c))
            han = true;
        else if (is_latin_letter(c))
            latin = true;
        else if (is_other_script(c))
            other = true;
        if (is_digit(c))
            digit = true;
        else if (!is_price_mark(c))
            price = false;
    }
    return (han ? ITX_OCR_HAN : 0u) | (latin && !han && !other ? ITX_OCR_LATIN_ONLY : 0u) |
           (price && digit ? ITX_OCR_PRICE : 0u);
}
