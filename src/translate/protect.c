/*
 * Protection rules (what must not be translated) and checks of translated text (target
 * script, leftover Chinese, runaway repetition).
 */
#include <string.h>

#include "translate/translate-impl.h"
#include "translate/translate.h"

static const char *const skip_names[ITX_TR_SKIP_COUNT] = {
    "",          "empty",          "latin_only", "url", "price", "number", "model_number",
    "keep_term", "low_confidence",
};

const char *
itx_tr_skip_str(enum itx_tr_skip s)
{
    return (unsigned)s < ITX_TR_SKIP_COUNT ? skip_names[s] : "";
}

static const struct {
    const char *code, *name;
    enum itx_tr_script script;
} languages[] = {
    {"en", "English", ITX_TR_SCRIPT_LATIN},    {"es", "Spanish", ITX_TR_SCRIPT_LATIN},
    {"fr", "French", ITX_TR_SCRIPT_LATIN},     {"de", "German", ITX_TR_SCRIPT_LATIN},
    {"it", "Italian", ITX_TR_SCRIPT_LATIN},    {"pt", "Portuguese", ITX_TR_SCRIPT_LATIN},
    {"ru", "Russian", ITX_TR_SCRIPT_CYRILLIC}, {"ja", "Japanese", ITX_TR_SCRIPT_JAPANESE},
    {"ko", "Korean", ITX_TR_SCRIPT_HANGUL},    {"vi", "Vietnamese", ITX_TR_SCRIPT_LATIN},
    {"th", "Thai", ITX_TR_SCRIPT_THAI},        {"ar", "Arabic", ITX_TR_SCRIPT_ARABIC},
    {"id", "Indonesian", ITX_TR_SCRIPT_LATIN}, {"tr", "Turkish", ITX_TR_SCRIPT_LATIN},
    {"pl", "Polish", ITX_TR_SCRIPT_LATIN},
};

bool
itx_tr_language_supported(const char *code)
{
    return itx_tr_language_name(code) != NULL;
}

const char *
itx_tr_language_name(const char *code)
{
    for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
        if (code && strcmp(code, languages[i].code) == 0)
            return languages[i].name;
    return NULL;
}

enum itx_tr_script
itx_tr_language_script(const char *code)
{
    for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
        if (code && strcmp(code, languages[i].code) == 0)
            return languages[i].script;
    return ITX_TR_SCRIPT_LATIN;
}

static bool
is_keep(const struct itx_glossary *g, const char *s, size_t n)
{
    const char *tr = NULL;
    return itx_glossary_lookup(g, s, n, &tr) && tr == NULL;
}

static bool
is_url(const char *s, size_t n)
{
    static const char *const tlds[] = {".com",   ".cn", ".net", ".org", ".shop",
                                       ".store", ".co", ".io",  ".tw",  ".hk"};
    if (memchr(s, ' ', n))
        return false;
    if ((n > 7 && strncmp(s, "http://", 7) == 0) || (n > 8 && strncmp(s, "https://", 8) == 0) ||
        (n > 4 && strncmp(s, "www.", 4) == 0))
        return true;
    for (size_t i = 0; i < sizeof(tlds) / sizeof(tlds[0]); i++) {
        size_t k = strlen(tlds[i]);
        if (n > k + 1 && memcmp(s + n - k, tlds[i], k) == 0)
            return true;
        if (n > k + 1) {
            const char *p = memmem(s, n, tlds[i], k);
            if (p && p > s && (size_t)(p - s) + k < n && p[k] == '/')
                return true;
        }
    }
    return false;
}

/*
 * Letter sizes run together by OCR or by the writer ("SMLXLXXL", "SM LXLXXL"): a run of
 * capitals and digits that reads as two or more sizes in increasing order is written with
 * spaces ("S M L XL XXL"). Returns the length written to out, 0 when the run is not that.
 */
size_t
itx_tr_split_sizes(const char *s, size_t n, char *out, size_t out_size)
{
    static const char *const code[] = {"XXXL", "XXL", "XXS", "2XL", "3XL", "4XL", "5XL",
                                       "6XL",  "XL",  "XS",  "S",   "M",   "L"};
    static const int rank[] = {7, 6, 0, 6, 7, 8, 9, 10, 5, 1, 2, 3, 4};
    size_t i = 0, w = 0;
    int last = -1;
    unsigned k = 0;

    while (i < n) {
        size_t c = 0;
        for (; c < sizeof(code) / sizeof(code[0]); c++) {
            size_t cl = strlen(code[c]);
            if (cl <= n - i && memcmp(s + i, code[c], cl) == 0)
                break;
        }
        if (c == sizeof(code) / sizeof(code[0]) || rank[c] <= last)
            return 0;
        if (w + strlen(code[c]) + 2 > out_size)
            return 0;
        if (w)
            out[w++] = ' ';
        memcpy(out + w, code[c], strlen(code[c]));
        w += strlen(code[c]);
        i += strlen(code[c]);
        last = rank[c];
        k++;
    }
    if (k < 2)
        return 0;
    out[w] = '\0';
    return w;
}

enum itx_tr_skip
itx_tr_protect(const char *text, const struct itx_glossary *glossary,
               const struct itx_glossary *req_glossary)
{
    size_t n = strlen(text), i = 0, start;
    unsigned letters = 0, digits = 0, currency = 0, other = 0, spaces = 0;

    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n'))
        n--;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
        i++;
    start = i;
    if (start == n)
        return ITX_TR_SKIP_EMPTY;
    if (is_keep(req_glossary, text + start, n - start) ||
        is_keep(glossary, text + start, n - start))
        return ITX_TR_SKIP_KEEP_TERM;
    if (itx_tr_has_han(text + start, n - start))
        return ITX_TR_SKIP_NONE;
    if (is_url(text + start, n - start))
        return ITX_TR_SKIP_URL;
    {
        /*
         * Three or more letter sizes run together ("SMLXL") are not a name or a model: they
         * go to the translator, which spaces them ("S M L XL").
         */
        char sizes[64];
        size_t sl = itx_tr_split_sizes(text + start, n - start, sizes, sizeof(sizes));
        if (sl && memchr(sizes, ' ', sl) != memrchr(sizes, ' ', sl))
            return ITX_TR_SKIP_NONE;
    }
    for (i = start; i < n;) {
        uint32_t c;
        size_t k = itx_tr_utf8_decode(text + i, n - i, &c);
        if (k == 0)
            return ITX_TR_SKIP_LATIN_ONLY; /* not text we can read: leave it */
        i += k;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            letters++;
        else if ((c >= '0' && c <= '9') || (c >= 0xff10 && c <= 0xff19))
            digits++;
        else if (c == '$' || c == 0xa5 || c == 0xffe5 || c == 0x20ac || c == 0xa3)
            currency++;
        else if (c == ' ')
            spaces++;
        else
            other++;
    }
    {
        static const char *const codes[] = {"RMB", "CNY", "USD", "EUR", "GBP", "HKD"};
        for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
            if (letters == 3 && memmem(text + start, n - start, codes[k], 3))
                currency++;
    }
    if (digits && currency && letters <= 3) /* ¥39.9, $12, 99 USD, RMB 39 */
        return ITX_TR_SKIP_PRICE;
    if (digits && !letters)
        return ITX_TR_SKIP_NUMBER;
    if (digits && letters && spaces == 0)
        return ITX_TR_SKIP_MODEL_NUMBER;
    return ITX_TR_SKIP_LATIN_ONLY;
}

static enum itx_tr_script
script_of(uint32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0x24f) ||
        (c >= 0x1e00 && c <= 0x1eff))
        return ITX_TR_SCRIPT_LATIN;
    if (c >= 0x400 && c <= 0x52f)
        return ITX_TR_SCRIPT_CYRILLIC;
    if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x31f0 && c <= 0x31ff))
        return ITX_TR_SCRIPT_JAPANESE;
    if ((c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff) ||
        (c >= 0x3130 && c <= 0x318f))
        return ITX_TR_SCRIPT_HANGUL;
    if (c >= 0xe00 && c <= 0xe7f)
        return ITX_TR_SCRIPT_THAI;
    if ((c >= 0x600 && c <= 0x6ff) || (c >= 0x750 && c <= 0x77f) || (c >= 0xfb50 && c <= 0xfdff) ||
        (c >= 0xfe70 && c <= 0xfeff))
        return ITX_TR_SCRIPT_ARABIC;
    if (itx_tr_is_han(c))
        return ITX_TR_SCRIPT_HAN;
    return ITX_TR_SCRIPT_NONE;
}

/* Detects a unit of 1..12 code points repeated 8 or more times in a row. */
static bool
runaway(const uint32_t *cp, size_t n)
{
    for (size_t unit = 1; unit <= 12; unit++) {
        size_t run = 0;
        for (size_t i = unit; i < n; i++) {
            if (cp[i] == cp[i - unit]) {
                run++;
                if (run >= unit * 7 && (unit > 1 || cp[i] != ' ') &&
                    !(cp[i] >= '0' && cp[i] <= '9'))
                    return true;
            } else {
                run = 0;
            }
        }
    }
    return false;
}

const char *
itx_tr_check_output(const char *source, const char *out, const char *target,
                    const struct itx_glossary *glossary, const struct itx_glossary *req_glossary)
{
    enum itx_tr_script want = itx_tr_language_script(target);
    size_t n = strlen(out), slen = strlen(source), m = 0, i = 0;
    unsigned in_script = 0, letters = 0, han = 0;
    uint32_t cps[1024];

    if (n == 0 || strspn(out, " \t\n") == n)
        return "empty translation";
    if (!itx_tr_utf8_valid(out, n))
        return "translation is not valid UTF-8";
    if (n > 16 * slen + 256)
        return "translation is far longer than its source";
    while (i < n) {
        uint32_t c;
        size_t k = itx_tr_utf8_decode(out + i, n - i, &c);
        enum itx_tr_script s = script_of(c);
        if (m < sizeof(cps) / sizeof(cps[0]))
            cps[m++] = c;
        if (s == ITX_TR_SCRIPT_HAN) {
            /* Han in the answer is fine only inside a keep-as-is term (or for Japanese). */
            const char *tr = NULL;
            size_t kl = itx_glossary_match(req_glossary, out + i, n - i, &tr);
            if (!(kl && !tr)) {
                kl = itx_glossary_match(glossary, out + i, n - i, &tr);
                if (!(kl && !tr))
                    kl = 0;
            }
            if (kl) {
                i += kl;
                continue;
            }
            han++;
        }
        if (s != ITX_TR_SCRIPT_NONE) {
            letters++;
            if (s == want || (want == ITX_TR_SCRIPT_JAPANESE && s == ITX_TR_SCRIPT_HAN))
                in_script++;
        }
        i += k;
    }
    if (han && want != ITX_TR_SCRIPT_JAPANESE)
        return "Chinese left in the translation";
    /*
     * Latin words (brands, sizes) are normal in any language, but a segment that held
     * Chinese must come back with some text in the target's own script.
     */
    if (letters && want != ITX_TR_SCRIPT_LATIN && in_script == 0)
        return "translation is not in the target script";
    if (letters && want == ITX_TR_SCRIPT_LATIN && in_script * 2 < letters)
        return "translation is not in the target script";
    if (runaway(cps, m))
        return "runaway repetition in the translation";
    return NULL;
}
