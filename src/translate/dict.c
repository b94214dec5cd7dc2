/*
 * The dict provider: CC-CEDICT index lookup, sense selection, and the dictionary
 * translator (segmentation, number rules, English spacing).
 *
 * The index (layout in scripts/setup.d/20-dict.sh) is mapped read-only and checked once at
 * open: header, sizes and every offset, so lookups can trust the bounds. Segmentation is a
 * maximum-match by dynamic programming over the code points of the text: each position
 * offers candidates (glossary templates with numbers, glossary terms, CEDICT words, runs of
 * Latin letters and digits, punctuation, and as a last resort a single unknown character),
 * and the path with the fewest weighted tokens wins. Glossary candidates weigh less than
 * CEDICT ones, so the project's e-commerce phrasing has priority.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/util.h"
#include "translate/translate-impl.h"
#include "translate/translate.h"

#define IDX_MAGIC "ITXCED01"
#define IDX_HEADER 80u
#define MAX_WORD_CP 12      /* longest CEDICT key tried, in code points */
#define MAX_GLOSSARY_CP 24  /* longest glossary term tried, in code points */
#define MAX_TEXT_BYTES 8192 /* one segment of picture text */

struct itx_dict {
    void *map;
    size_t map_size;
    uint32_t n;
    const uint32_t *off; /* n + 1 offsets into text */
    const char *text;
};

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum itx_status
itx_dict_open(const char *path, struct itx_dict **out, struct itx_diag *d)
{
    char def[4096];
    struct itx_dict *dict = NULL;
    struct stat st;
    const unsigned char *m;
    uint32_t n, text_size;
    size_t need;
    int fd;

    if (!path) {
        snprintf(def, sizeof(def), "%s/cedict.idx", itx_models_dir());
        path = def;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND,
                            "dictionary index '%s' is missing; run 'scripts/setup.sh' (or "
                            "'make setup') to compile it from CC-CEDICT",
                            path);
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)IDX_HEADER) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_MODEL,
                            "dictionary index '%s' is truncated; rerun 'scripts/setup.sh'", path);
    }
    dict = itx_calloc(1, sizeof(*dict));
    if (!dict) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    dict->map_size = (size_t)st.st_size;
    dict->map = mmap(NULL, dict->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (dict->map == MAP_FAILED) {
        itx_free(dict);
        return itx_diag_set(d, ITX_ERR_IO, "cannot map dictionary index '%s'", path);
    }
    m = dict->map;
    n = rd32(m + 8);
    text_size = rd32(m + 12);
    need = IDX_HEADER + ((size_t)n + 1) * 4 + text_size;
    if (memcmp(m, IDX_MAGIC, 8) != 0 || n == 0 || need != dict->map_size)
        goto corrupt;
    dict->n = n;
    dict->off = (const uint32_t *)(const void *)(m + IDX_HEADER);
    dict->text = (const char *)m + IDX_HEADER + ((size_t)n + 1) * 4;
    if (dict->off[0] != 0 || dict->off[n] != text_size)
        goto corrupt;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = dict->off[i], b = dict->off[i + 1];
        if (b <= a + 2 || b > text_size || dict->text[b - 1] != '\n' ||
            !memchr(dict->text + a, '\t', b - a))
            goto corrupt;
    }
    *out = dict;
    return ITX_OK;
corrupt:
    itx_dict_free(dict);
    return itx_diag_set(d, ITX_ERR_MODEL,
                        "dictionary index '%s' is corrupt; delete it and rerun 'scripts/setup.sh'",
                        path);
}

void
itx_dict_free(struct itx_dict *dict)
{
    if (!dict)
        return;
    if (dict->map && dict->map != MAP_FAILED)
        munmap(dict->map, dict->map_size);
    itx_free(dict);
}

size_t
itx_dict_count(const struct itx_dict *dict)
{
    return dict ? dict->n : 0;
}

const char *
itx_dict_lookup(const struct itx_dict *dict, const char *key, size_t key_len, size_t *len)
{
    size_t lo = 0, hi = dict->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *e = dict->text + dict->off[mid];
        size_t elen = dict->off[mid + 1] - dict->off[mid];
        const char *tab = memchr(e, '\t', elen);
        size_t klen = (size_t)(tab - e);
        int c = memcmp(e, key, klen < key_len ? klen : key_len);
        if (c == 0)
            c = klen < key_len ? -1 : klen > key_len;
        if (c == 0) {
            *len = elen - klen - 2; /* without the tab and the newline */
            return tab + 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- sense selection ------------------------------------------------------------------ */

static bool
starts_with(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

static bool
contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

/* Senses that are never a translation: cross-references, names, grammar notes. */
static bool
sense_rejected(const char *s, size_t n)
{
    static const char *const bad_prefix[] = {
        "variant of",
        "old variant",
        "Japanese variant",
        "archaic variant",
        "surname",
        "old name for",
        "CL:",
        "see ",
        "used in",
        "also written",
        "also pr.",
        "abbr. for",
        "(old)",
        "(archaic)",
        "(literary)",
        "(classical)",
        "(dialect)",
        "(Cantonese)",
        "(Tw)",
        "(onom.)",
        "lit. ",
        "classifier",
        "(slang)",
        "(Internet slang)",
        "pr. ",
        "(honorific)",
        "(euphemism)",
        "(vulgar)",
        "(loanword)",
        "(Buddhism)",
        "(Taiwan)",
        "unofficial variant",
        "erhua variant",
        "(coll.) variant",
        "radical",
        "(used in",
        "(Chinese medicine)",
        "(TCM)",
        "(dated)",
        "(obsolete)",
    };
    static const char *const bad_inner[] = {"variant of", "surname ", "classifier for",
                                            "old name for", "(used as"};
    if (n == 0)
        return true;
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++)
        if (starts_with(s, n, bad_prefix[i]))
            return true;
    for (size_t i = 0; i < sizeof(bad_inner) / sizeof(bad_inner[0]); i++)
        if (contains(s, n, bad_inner[i]))
            return true;
    return false;
}

/*
 * Cleans one sense into out: drops parenthesised notes, a leading "to " of verbs, "; ..."
 * alternatives, and surrounding spaces. Returns the cleaned length.
 */
static size_t
clean_sense(const char *s, size_t n, char *out, size_t out_size)
{
    size_t w = 0;
    int depth = 0;

    for (size_t i = 0; i < n && w + 1 < out_size; i++) {
        char c = s[i];
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            if (depth)
                depth--;
            continue;
        }
        if (depth)
            continue;
        /* Keep the first alternative; drop asides (", esp. ...", ", abbr. 浙", ", capital ..."). */
        if (c == ';' || (c == ',' && (itx_tr_has_han(s + i, n - i) || memchr(s + i, '[', n - i) ||
                                      (i + 5 < n && memcmp(s + i, ", esp", 5) == 0))))
            break;
        /* An aside after a name: "Auricularia auricula-judae, an edible fungus". */
        if (c == ',' && w > 0 &&
            ((i + 4 < n && memcmp(s + i, ", a ", 4) == 0) ||
             (i + 5 < n && memcmp(s + i, ", an ", 5) == 0)))
            break;
        if (c == ' ' && (w == 0 || out[w - 1] == ' '))
            continue;
        out[w++] = c;
    }
    while (w && (out[w - 1] == ' ' || out[w - 1] == ','))
        w--;
    out[w] = '\0';
    /* Dictionary placeholders read badly on a picture: "not easy to do sth" -> "not easy". */
    {
        static const char *const drop[] = {" to do sth", " to sb", " to sth",  " sth",
                                           " sb",        " etc",   " oneself", " one's"};
        for (size_t k = 0; k < sizeof(drop) / sizeof(drop[0]); k++) {
            size_t dl = strlen(drop[k]);
            char *p;
            while ((p = strstr(out, drop[k])) != NULL && (p[dl] == '\0' || p[dl] == ' ')) {
                memmove(p, p + dl, strlen(p + dl) + 1);
                w -= dl;
            }
        }
    }
    {
        static const char *const lead[] = {"to ", "a ", "an ", "be ", "the "};
        for (size_t k = 0; k < sizeof(lead) / sizeof(lead[0]); k++) {
            size_t ll = strlen(lead[k]);
            if (w > ll && memcmp(out, lead[k], ll) == 0) {
                memmove(out, out + ll, w - ll + 1);
                w -= ll;
            }
        }
    }
    /* One of two names: "chopping board or block" -> "chopping board". */
    {
        char *p = strstr(out, " or ");
        if (p && memchr(out, ' ', (size_t)(p - out))) {
            *p = '\0';
            w = (size_t)(p - out);
        }
    }
    /* A place says its name only: "Guangdong province in south China" -> "Guangdong". */
    if (w && out[0] >= 'A' && out[0] <= 'Z') {
        static const char *const place[] = {" province", " municipality", " county",
                                            " city ",    " prefecture",   " autonomous region"};
        for (size_t k = 0; k < sizeof(place) / sizeof(place[0]); k++) {
            char *p = strstr(out, place[k]);
            if (p && p > out) {
                *p = '\0';
                w = (size_t)(p - out);
            }
        }
    }
    /* Pinyin or Han references ("see 鞦韆[qiu1 qian1]") are not translations. */
    if (memchr(out, '[', w) || itx_tr_has_han(out, w))
        return 0;
    return w;
}

/* Words in a sense. */
static unsigned
words(const char *s, size_t n)
{
    unsigned k = n > 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == ' ';
    return k;
}

/*
 * Whether a later one-word, non-verb sense should replace a verb sense: when the verb is a
 * phrase ("guard against theft" -> "anti-theft", "climb a mountain" -> "climbing"), or when
 * the later sense is the verb's own -ing form ("moisturize" -> "moisturizing").
 */
static bool
better_modifier(const char *verb, size_t vn, const char *cand, size_t cn)
{
    size_t stem = vn;

    if (memchr(cand, ' ', cn) || cn < 3 || (cand[0] >= 'A' && cand[0] <= 'Z'))
        return false; /* a name ("Thermos") is not a modifier */
    if (memchr(verb, ' ', vn))
        return true;
    if (stem > 1 && verb[stem - 1] == 'e')
        stem--;
    return cn == stem + 3 && memcmp(cand, verb, stem) == 0 && memcmp(cand + stem, "ing", 3) == 0;
}

/* Whether s (n bytes) is one of the words of list; fold: ignoring ASCII case. */
static bool
word_in(const char *const *list, size_t n_list, const char *s, size_t n, bool fold)
{
    for (size_t k = 0; k < n_list; k++)
        if (strlen(list[k]) == n &&
            (fold ? strncasecmp(s, list[k], n) : memcmp(s, list[k], n)) == 0)
            return true;
    return false;
}
#define WORD_IN(list, s, n, fold)                                                                  \
    word_in((list), sizeof(list) / sizeof((list)[0]), (s), (n), (fold))

/*
 * English nouns of product pictures: among the senses of a word, one of these is the one a
 * product means (网 "net; network; mesh" -> "mesh", 膏 "ointment; paste; cream" -> "cream").
 * Sorted, for bsearch.
 */
static const char *const domain_word[] = {
    "apron",    "backpack", "bag",     "ball",     "band",     "basin",    "basket",   "bead",
    "bed",      "bell",     "belt",    "bench",    "bib",      "bin",      "blade",    "blanket",
    "blender",  "board",    "boots",   "bottle",   "bowl",     "box",      "bra",      "bracelet",
    "brush",    "bucket",   "buckle",  "button",   "cabinet",  "cable",    "cap",      "case",
    "chain",    "chair",    "charger", "clip",     "cloth",    "clothes",  "clothing", "coat",
    "collar",   "comb",     "cord",    "cover",    "cream",    "cup",      "curtain",  "cushion",
    "desk",     "dress",    "drill",   "earrings", "fabric",   "fan",      "film",     "filter",
    "foam",     "fork",     "frame",   "gel",      "glass",    "gloves",   "glue",     "hammer",
    "handle",   "hanger",   "hat",     "heel",     "holder",   "hood",     "hook",     "hose",
    "jacket",   "jar",      "kettle",  "knife",    "lamp",     "lens",     "lid",      "light",
    "liner",    "lining",   "lock",    "lotion",   "mask",     "mat",      "mattress", "mesh",
    "mirror",   "mop",      "mug",     "nail",     "necklace", "nozzle",   "oil",      "pad",
    "pan",      "pants",    "paper",   "paste",    "patch",    "pen",      "pendant",  "pillow",
    "plate",    "plug",     "pocket",  "pot",      "pouch",    "powder",   "pump",     "quilt",
    "rack",     "ring",     "rope",    "rug",      "scarf",    "scissors", "screen",   "seat",
    "serum",    "set",      "shelf",   "shirt",    "shoes",    "shorts",   "skirt",    "sleeve",
    "slippers", "soap",     "socket",  "socks",    "sofa",     "sole",     "sponge",   "spoon",
    "spray",    "stand",    "stick",   "sticker",  "stool",    "strap",    "straw",    "stud",
    "suit",     "table",    "tape",    "tent",     "thread",   "tie",      "tile",     "towel",
    "toy",      "tray",     "tube",    "umbrella", "vest",     "wallet",   "watch",    "wax",
    "wheel",    "wipes",    "wire",    "zipper",
};

static int
cmp_domain(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

static bool
is_domain(const char *s, size_t n)
{
    char w[16];
    if (n == 0 || n >= sizeof(w) || memchr(s, ' ', n))
        return false;
    for (size_t i = 0; i < n; i++)
        w[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    w[n] = '\0';
    return bsearch(w, domain_word, sizeof(domain_word) / sizeof(domain_word[0]),
                   sizeof(domain_word[0]), cmp_domain) != NULL;
}

/*
 * Sense selection into a fixed buffer (no allocation); returns its length, 0 for none.
 * *verb (when not NULL) says whether the chosen sense is a verb ("to ..." in CEDICT).
 */
static size_t
pick_sense_verb(const char *senses, size_t len, char best[128], bool *verb)
{
    char cand[128];
    size_t best_len = 0, first_len = 0, pos = 0;
    bool have = false, best_verb = false;

    /*
     * Groups: 'C' common readings, then 'P' proper nouns (used only when no common reading
     * has a usable sense). A character with several readings has one group each; the reading
     * with the most usable senses is the everyday one (约 "about, to arrange ..." rather than
     * "to weigh"), so it wins, the first one on a tie.
     */
    for (int pass = 0; pass < 2 && !have; pass++) {
        unsigned best_count = 0;
        bool best_domain = false;
        pos = 0;
        while (pos < len) {
            const char *g = senses + pos, *bar = memchr(g, '|', len - pos);
            size_t glen = bar ? (size_t)(bar - g) : len - pos, spos = 1;
            char gbest[128];
            size_t gbest_len = 0, gfirst_len = 0;
            unsigned count = 0;
            bool gbest_verb = false, gbest_domain = false;
            pos += glen + 1;
            if (glen < 2 || g[0] != (pass == 0 ? 'C' : 'P'))
                continue;
            while (spos < glen) {
                const char *sn = g + spos, *sl = memchr(sn, '/', glen - spos);
                size_t slen = sl ? (size_t)(sl - sn) : glen - spos, c;
                spos += slen + 1;
                if (sense_rejected(sn, slen))
                    continue;
                c = clean_sense(sn, slen, cand, sizeof(cand));
                if (c == 0)
                    continue;
                if (count == 0) {
                    memcpy(gbest, cand, c + 1);
                    gbest_len = gfirst_len = c;
                    gbest_verb = starts_with(sn, slen, "to ");
                    gbest_domain = !gbest_verb && is_domain(cand, c);
                } else if (!gbest_domain && !starts_with(sn, slen, "to ") && is_domain(cand, c)) {
                    /* A product noun among the senses is what a product picture means. */
                    memcpy(gbest, cand, c + 1);
                    gbest_len = c;
                    gbest_verb = false;
                    gbest_domain = true;
                } else if ((gfirst_len > 24 || words(gbest, gbest_len) >= 3) && c < gbest_len &&
                           words(cand, c) <= 2) {
                    /* The first sense is a long explanation: a short later one reads better. */
                    memcpy(gbest, cand, c + 1);
                    gbest_len = c;
                } else if (gbest_verb && !starts_with(sn, slen, "to ") &&
                           better_modifier(gbest, gbest_len, cand, c)) {
                    /*
                     * Picture text uses words as modifiers: "climbing shoes", "anti-theft
                     * backpack", "moisturizing cream", not "climb a mountain shoes".
                     */
                    memcpy(gbest, cand, c + 1);
                    gbest_len = c;
                    gbest_verb = false;
                }
                count++;
            }
            /* A reading with a product noun wins; else the one with the most senses. */
            if (count > 0 && ((gbest_domain && !best_domain) ||
                              (gbest_domain == best_domain && count > best_count))) {
                memcpy(best, gbest, gbest_len + 1);
                best_len = gbest_len;
                best_count = count;
                best_verb = gbest_verb;
                best_domain = gbest_domain;
                have = true;
            }
        }
    }
    (void)first_len;
    if (verb)
        *verb = have && best_verb;
    return have ? best_len : 0;
}

/*
 * The first verb sense ("to expose to the sun" -> "expose to the sun") of a common reading,
 * for a word said after "do not" or "please"; 0 when the word has none.
 */
static size_t
pick_verb_sense(const char *senses, size_t len, char best[128])
{
    size_t pos = 0;

    while (pos < len) {
        const char *g = senses + pos, *bar = memchr(g, '|', len - pos);
        size_t glen = bar ? (size_t)(bar - g) : len - pos, spos = 1;
        pos += glen + 1;
        if (glen < 2 || g[0] != 'C')
            continue;
        while (spos < glen) {
            const char *sn = g + spos, *sl = memchr(sn, '/', glen - spos);
            size_t slen = sl ? (size_t)(sl - sn) : glen - spos, c;
            spos += slen + 1;
            if (!starts_with(sn, slen, "to ") || sense_rejected(sn, slen))
                continue;
            c = clean_sense(sn, slen, best, 128);
            if (c > 0 && words(best, c) <= 4)
                return c;
        }
    }
    return 0;
}

static size_t
pick_sense(const char *senses, size_t len, char best[128])
{
    return pick_sense_verb(senses, len, best, NULL);
}

bool
itx_dict_pick_sense(const char *senses, size_t len, struct itx_buf *out)
{
    char best[128];
    size_t n = pick_sense(senses, len, best);
    return n > 0 && itx_buf_append(out, best, n) == ITX_OK;
}

/* ---- the translator -------------------------------------------------------------------- */

enum tok_kind {
    TK_WORD,  /* spaced on both sides */
    TK_CLOSE, /* no space before: , . ! ? : ; ) ] % */
    TK_OPEN,  /* no space after: ( [ */
    TK_JOIN,  /* no space either side: / - ~ · */
    TK_SPACE, /* a space in the source */
    TK_DROP,  /* nothing (particles) */
};

struct cp {
    uint32_t c;
    size_t at, len; /* byte range in the normalised text */
};

struct cand {
    double cost;
    unsigned len; /* code points */
    int type; /* 0 template, 1 glossary, 2 cedict, 3 latin, 4 punct, 5 unknown, 6 drop, 7 number */
    const char *tr; /* glossary translation (NULL keep), or CEDICT senses */
    size_t tr_len;
    const struct itx_glossary *g; /* for templates */
    size_t tmpl;
};

struct ctx {
    const struct itx_dict *dict;
    const struct itx_glossary *gl[2]; /* request first, then server */
    const char *s;                    /* normalised text */
    size_t s_len;
    const struct cp *cps;
    size_t n;
};

static bool
is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static bool
is_latin(uint32_t c)
{
    return c < 0x80 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c));
}

/* Characters that continue a Latin/number run: 3.5, X-200, 100ml/瓶, C++, 5%, 1,000. */
static bool
is_latin_inner(uint32_t c)
{
    return c == '.' || c == '-' || c == '/' || c == '+' || c == '%' || c == '#' || c == '&' ||
           c == '_' || c == '\'' || c == '*' || c == ',' || c == ':' || c == 0xb7 || c == '$' ||
           c == 0xa5 || c == 0xb0 || c == 0x2103 || c == 0x33a1 /* ㎡ */;
}

static int
han_digit(uint32_t c)
{
    switch (c) {
    case 0x96f6:
        return 0; /* 零 */
    case 0x4e00:
        return 1; /* 一 */
    case 0x4e8c:
        return 2; /* 二 */
    case 0x4e24:
        return 2; /* 两 */
    case 0x4e09:
        return 3; /* 三 */
    case 0x56db:
        return 4; /* 四 */
    case 0x4e94:
        return 5; /* 五 */
    case 0x516d:
        return 6; /* 六 */
    case 0x4e03:
        return 7; /* 七 */
    case 0x516b:
        return 8; /* 八 */
    case 0x4e5d:
        return 9; /* 九 */
    default:
        return -1;
    }
}

static int
han_unit(uint32_t c)
{
    switch (c) {
    case 0x5341:
        return 10; /* 十 */
    case 0x767e:
        return 100; /* 百 */
    case 0x5343:
        return 1000; /* 千 */
    case 0x4e07:
        return 10000; /* 万 */
    default:
        return 0;
    }
}

/*
 * Writes a whole number with thousands commas ("15,000"); a number with a fraction is written
 * with at most two decimals.
 */
static void
format_thousands(double v, char *out, size_t size)
{
    char digits[32];
    size_t n, w = 0;

    if (v < 0 || v >= 1e15 || v != (double)(long long)v) {
        snprintf(out, size, "%.2f", v);
        return;
    }
    n = (size_t)snprintf(digits, sizeof(digits), "%lld", (long long)v);
    for (size_t i = 0; i < n && w + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && n > 4)
            out[w++] = ',';
        out[w++] = digits[i];
    }
    out[w] = '\0';
}

/*
 * Parses a number at cps[i]: Arabic digits with an optional decimal part, thousands commas
 * and a range ("3-5", "3~5"), optionally times 万 ("1.5万" 15,000), or Chinese numerals up
 * to 万. Writes its text (Arabic) into num and returns the number of code points, 0 when
 * there is none. *value gets its value (the first of a range).
 */
static unsigned
parse_number(const struct ctx *x, size_t i, char *num, size_t num_size, double *value)
{
    size_t j = i, w = 0;

    if (i >= x->n)
        return 0;
    if (is_digit(x->cps[i].c)) {
        for (int part = 0; part < 2; part++) {
            size_t start = j;
            bool dot = false;
            while (j < x->n && w + 2 < num_size) {
                uint32_t c = x->cps[j].c;
                if (is_digit(c)) {
                    num[w++] = (char)c;
                } else if (c == '.' && !dot && j + 1 < x->n && is_digit(x->cps[j + 1].c)) {
                    dot = true;
                    num[w++] = '.';
                } else if (c == ',' && !dot && j + 3 < x->n && is_digit(x->cps[j + 1].c) &&
                           is_digit(x->cps[j + 2].c) && is_digit(x->cps[j + 3].c)) {
                    num[w++] = ',';
                } else {
                    break;
                }
                j++;
            }
            if (part == 0) {
                num[w] = '\0';
                *value = strtod(num, NULL);
            }
            (void)start;
            if (part == 0 && j + 1 < x->n &&
                (x->cps[j].c == '-' || x->cps[j].c == '~' || x->cps[j].c == 0x5230 /* 到 */ ||
                 x->cps[j].c == 0x81f3 /* 至 */) &&
                is_digit(x->cps[j + 1].c) && w + 2 < num_size) {
                num[w++] = '-';
                j++;
                continue;
            }
            break;
        }
        num[w] = '\0';
        /* 1.5万 "15,000": a number of ten thousands, as picture text writes large counts. */
        if (j < x->n && x->cps[j].c == 0x4e07 /* 万 */ && !strchr(num, '-') && !strchr(num, ',') &&
            *value < 1e9) {
            *value *= 10000;
            format_thousands(*value, num, num_size);
            j++;
        }
        return (unsigned)(j - i);
    }
    {
        long total = 0, section = 0, digit = -1;
        while (j < x->n && j - i < 8) {
            int dg = han_digit(x->cps[j].c), u = han_unit(x->cps[j].c);
            if (dg >= 0) {
                if (digit >= 0 && !(x->cps[j].c == 0x96f6))
                    break; /* "三四" is not a number we read */
                digit = dg;
            } else if (u) {
                if (u == 10000) {
                    section += digit >= 0 ? digit : 0;
                    total += (section ? section : 1) * 10000;
                    section = 0;
                } else {
                    section += (digit >= 0 ? digit : 1) * u;
                }
                digit = -1;
            } else {
                break;
            }
            j++;
        }
        if (j == i)
            return 0;
        total += section + (digit >= 0 ? digit : 0);
        format_thousands((double)total, num, num_size);
        *value = (double)total;
        return (unsigned)(j - i);
    }
}

/* Latin run at i (letters, digits and inner marks, not ending in a mark). */
static unsigned
latin_run(const struct ctx *x, size_t i)
{
    size_t j = i, last = i;
    if (i >= x->n ||
        !(is_latin(x->cps[i].c) || x->cps[i].c == '$' || x->cps[i].c == 0xa5 || x->cps[i].c == '#'))
        return 0;
    while (j < x->n && (is_latin(x->cps[j].c) || is_latin_inner(x->cps[j].c))) {
        if (is_latin(x->cps[j].c) || x->cps[j].c == '%' || x->cps[j].c == 0xb0 ||
            x->cps[j].c == 0x2103 || x->cps[j].c == 0x33a1 || x->cps[j].c == '+')
            last = j + 1;
        j++;
    }
    return (unsigned)(last > i ? last - i : 1);
}

struct tmpl_match {
    unsigned len;
    char n1[48], n2[48], a[64];
    double v1, v2;
};

/*
 * Matches a glossary template ("满{N}减{M}", "{N}件", "{A}码") at cps[i]. {N} and {M} are
 * numbers, {A} a Latin run.
 */
static bool
match_template(const struct ctx *x, size_t i, const char *t, size_t tlen, struct tmpl_match *m)
{
    size_t j = i, k = 0;
    double v = 0;

    m->n1[0] = m->n2[0] = m->a[0] = '\0';
    m->v1 = m->v2 = 0;
    while (k < tlen) {
        if (t[k] == '{' && k + 2 < tlen && t[k + 2] == '}') {
            char ph = t[k + 1];
            unsigned l;
            if (ph == 'N' || ph == 'M') {
                char *dst = ph == 'N' ? m->n1 : m->n2;
                l = parse_number(x, j, dst, sizeof(m->n1), &v);
                if (ph == 'N')
                    m->v1 = v;
                else
                    m->v2 = v;
            } else if (ph == 'A') {
                size_t w = 0;
                l = 0;
                while (j + l < x->n && (is_latin(x->cps[j + l].c)) && w + 1 < sizeof(m->a))
                    m->a[w++] = (char)x->cps[j + l++].c;
                m->a[w] = '\0';
            } else {
                return false;
            }
            if (l == 0)
                return false;
            j += l;
            k += 3;
            continue;
        }
        {
            uint32_t tc;
            size_t tn = itx_tr_utf8_decode(t + k, tlen - k, &tc);
            if (tn == 0 || j >= x->n || x->cps[j].c != tc)
                return false;
            k += tn;
            j++;
        }
    }
    m->len = (unsigned)(j - i);
    return m->len > 0;
}

/* Drop-in particles that carry no meaning in English picture text. */
static bool
is_particle(uint32_t c)
{
    switch (c) {
    case 0x7684: /* 的 */
    case 0x4e86: /* 了 */
    case 0x5566: /* 啦 */
    case 0x5440: /* 呀 */
    case 0x54e6: /* 哦 */
    case 0x54df: /* 哟 */
    case 0x5427: /* 吧 */
    case 0x561b: /* 嘛 */
    case 0x5462: /* 呢 */
    case 0x54d2: /* 哒 */
    case 0x5594: /* 喔 */
    case 0x54c8: /* 哈 */
    case 0x4e4b: /* 之 */
        return true;
    default:
        return false;
    }
}

/* English for one punctuation code point, and how it spaces; NULL when not punctuation. */
static const char *
punct(uint32_t c, enum tok_kind *kind)
{
    *kind = TK_CLOSE;
    switch (c) {
    case ',':
    case 0xff0c:
    case 0x3001:
        return ",";
    case '.':
    case 0x3002:
        return ".";
    case '!':
    case 0xff01:
        return "!";
    case '?':
    case 0xff1f:
        return "?";
    case ':':
    case 0xff1a:
        return ":";
    case ';':
    case 0xff1b:
        return ";";
    case ')':
    case 0xff09:
        return ")";
    case ']':
    case 0x3011:
    case 0x300b:
    case 0x300d:
    case 0x300f:
        return "]";
    case 0x2026:
        return "...";
    default:
        break;
    }
    *kind = TK_OPEN;
    switch (c) {
    case '(':
    case 0xff08:
        return "(";
    case '[':
    case 0x3010:
    case 0x300a:
    case 0x300c:
    case 0x300e:
        return "[";
    default:
        break;
    }
    *kind = TK_JOIN;
    switch (c) {
    case '/':
        return "/";
    case 0xd7: /* × between dimensions: 40×30cm */
        return "\xc3\x97";
    case '-':
    case 0x2014:
    case 0x2013:
        return "-";
    case '~':
    case 0xff5e:
        return "~";
    case '|':
        return "|";
    case '*':
    case 0x2605:
    case 0x2606:
    case 0xb7:
    case 0x2022:
        return " ";
    case '"':
    case 0x201c:
    case 0x201d:
        return "\"";
    case '\'':
    case 0x2018:
    case 0x2019:
        return "'";
    default:
        break;
    }
    return NULL;
}

/*
 * The length in code points of a word of prohibition at cps[i] (请勿, 切勿, 勿, 不要,
 * 请不要, 千万不要, 严禁, 禁止, 不可, 不能, 不得), 0 when there is none.
 */
static unsigned
negation_at(const struct ctx *x, size_t i)
{
    static const uint32_t word[][4] = {
        {0x8bf7, 0x52ff},                 /* 请勿 */
        {0x5207, 0x52ff},                 /* 切勿 */
        {0x52ff},                         /* 勿 */
        {0x4e0d, 0x8981},                 /* 不要 */
        {0x8bf7, 0x4e0d, 0x8981},         /* 请不要 */
        {0x5343, 0x4e07, 0x4e0d, 0x8981}, /* 千万不要 */
        {0x4e25, 0x7981},                 /* 严禁 */
        {0x7981, 0x6b62},                 /* 禁止 */
        {0x4e0d, 0x53ef},                 /* 不可 */
        {0x4e0d, 0x80fd},                 /* 不能 */
        {0x4e0d, 0x5f97},                 /* 不得 */
    };
    unsigned best = 0;

    for (size_t k = 0; k < sizeof(word) / sizeof(word[0]); k++) {
        unsigned l = 0;
        while (l < 4 && word[k][l] && i + l < x->n && x->cps[i + l].c == word[k][l])
            l++;
        if (l > best && (l == 4 || !word[k][l]))
            best = l;
    }
    return best;
}

/* Best candidate starting at i, given best[] costs of the suffixes after it. */
static void
best_at(const struct ctx *x, size_t i, const double *best, struct cand *out)
{
    struct cand c;
    enum tok_kind k;
    uint32_t cp = x->cps[i].c;
    const char *tr;
    size_t trl;

    out->cost = 1e30;
    out->len = 0;
#define CONSIDER(cand_)                                                                            \
    do {                                                                                           \
        double total_ = (cand_).cost + best[i + (cand_).len];                                      \
        if (total_ < out->cost - 1e-9 || (total_ < out->cost + 1e-9 && (cand_).len > out->len)) {  \
            *out = (cand_);                                                                        \
            out->cost = total_;                                                                    \
        }                                                                                          \
    } while (0)

    /* Glossary templates, then glossary terms (request glossary first). */
    for (int gi = 0; gi < 2; gi++) {
        const struct itx_glossary *g = x->gl[gi];
        size_t nt = itx_tr_glossary_n_templates(g);
        for (size_t t = 0; t < nt; t++) {
            const char *term, *ttr;
            struct tmpl_match m;
            itx_tr_glossary_template(g, t, &term, &ttr);
            if (match_template(x, i, term, strlen(term), &m)) {
                c = (struct cand){
                    .cost = 0.5 + 0.01 * gi, .len = m.len, .type = 0, .g = g, .tmpl = t};
                CONSIDER(c);
            }
        }
        /*
         * Every glossary term that starts here, not only the longest: 防烫+手柄 "anti-scald
         * handle" needs 防烫 although 防烫手 is a term too.
         */
        for (unsigned l = 1; l <= MAX_GLOSSARY_CP && i + l <= x->n; l++) {
            size_t from = x->cps[i].at, to = x->cps[i + l - 1].at + x->cps[i + l - 1].len;
            if (to - from > ITX_GLOSSARY_MAX_TERM)
                break;
            if (!itx_glossary_lookup(g, x->s + from, to - from, &tr))
                continue;
            /*
             * Glossary words weigh less than CEDICT ones, so two of them beat one longer
             * CEDICT word (休闲+鞋 "casual shoes", not 休闲鞋 "leisure shoes"); single
             * characters do not, or 男+女 would beat 男女.
             */
            c = (struct cand){.cost = (l == 1 ? 0.95 : 0.45) + 0.01 * gi,
                              .len = l,
                              .type = 1,
                              .tr = tr,
                              .tr_len = tr ? strlen(tr) : 0};
            CONSIDER(c);
        }
    }
    /*
     * A prohibition (请勿, 切勿, 不要, 禁止, 不可 ...) and the verb it forbids: the glossary
     * keeps one entry per verb, keyed with 勿 (勿暴晒 "do not expose to the sun"), whichever
     * word of prohibition the text uses.
     */
    {
        unsigned ml = negation_at(x, i);
        char key[ITX_GLOSSARY_MAX_TERM + 1];
        for (unsigned l = 1; ml && l + ml <= MAX_GLOSSARY_CP && i + ml + l <= x->n; l++) {
            size_t from = x->cps[i + ml].at,
                   to = x->cps[i + ml + l - 1].at + x->cps[i + ml + l - 1].len;
            if (to - from + 3 > ITX_GLOSSARY_MAX_TERM)
                break;
            memcpy(key, "\xe5\x8b\xbf", 3); /* 勿 */
            memcpy(key + 3, x->s + from, to - from);
            for (int gi = 0; gi < 2; gi++) {
                if (!itx_glossary_lookup(x->gl[gi], key, to - from + 3, &tr) || !tr)
                    continue;
                c = (struct cand){.cost = 0.45 + 0.01 * gi,
                                  .len = ml + l,
                                  .type = 1,
                                  .tr = tr,
                                  .tr_len = strlen(tr)};
                CONSIDER(c);
            }
        }
    }
    /* CEDICT words of 1..MAX_WORD_CP code points (single Latin letters only with Han). */
    for (unsigned l = 1; l <= MAX_WORD_CP && i + l <= x->n; l++) {
        size_t from = x->cps[i].at, to = x->cps[i + l - 1].at + x->cps[i + l - 1].len;
        if (!itx_tr_is_han(x->cps[i + l - 1].c) && !(is_latin(x->cps[i + l - 1].c)))
            break;
        if (l == 1 && !itx_tr_is_han(cp))
            continue;
        tr = itx_dict_lookup(x->dict, x->s + from, to - from, &trl);
        if (tr) {
            char sense[128];
            if (pick_sense(tr, trl, sense) > 0) {
                c = (struct cand){
                    .cost = l == 1 ? 1.15 : 1.0, .len = l, .type = 2, .tr = tr, .tr_len = trl};
                CONSIDER(c);
            }
        }
    }
    /* A number with 万 ("1.5万", 十万) is said in figures: "15,000". */
    if (is_digit(cp) || han_digit(cp) >= 0 || cp == 0x5341 /* 十; not 千万 "must" */) {
        char num[48];
        double v;
        unsigned l = parse_number(x, i, num, sizeof(num), &v);
        if (l > 1 && x->cps[i + l - 1].c == 0x4e07 /* 万 */) {
            c = (struct cand){.cost = 0.5, .len = l, .type = 7};
            CONSIDER(c);
        }
    }
    if (is_particle(cp)) {
        c = (struct cand){.cost = 0.9, .len = 1, .type = 6};
        CONSIDER(c);
    }
    {
        unsigned l = latin_run(x, i);
        if (l) {
            c = (struct cand){.cost = 1.0, .len = l, .type = 3};
            CONSIDER(c);
        }
    }
    if (punct(cp, &k) || cp == ' ') {
        c = (struct cand){.cost = 0.0, .len = 1, .type = 4};
        CONSIDER(c);
    }
    if (out->len == 0) {
        c = (struct cand){.cost = 3.0, .len = 1, .type = 5};
        CONSIDER(c);
    }
#undef CONSIDER
}

struct writer {
    struct itx_buf *out;
    size_t start;       /* where this translation starts in out */
    enum tok_kind prev; /* kind of the previous token */
    bool cap_next;      /* capitalise the next word */
    bool any;
    size_t word_at; /* where the previous word starts in out, for postposed adjectives */
    bool have_word;
};

static enum itx_status emit(struct writer *w, const char *s, size_t n, enum tok_kind kind,
                            bool capitalise);

/*
 * Says the word s before what was written since out[at] (a word or a whole group): "for" in
 * 宝宝专用 "for baby", an adjective Chinese puts after its noun. The moved text loses its
 * capital when it no longer starts the translation (unless it is an acronym).
 */
static enum itx_status
emit_before(struct writer *w, size_t at, const char *s, size_t n, bool capitalise)
{
    size_t tail;
    char *moved;
    enum itx_status st;

    if (at < w->start || at >= w->out->len)
        return emit(w, s, n, TK_WORD, capitalise);
    tail = w->out->len - at;
    moved = itx_malloc(tail + 1);
    if (!moved)
        return ITX_ERR_NOMEM;
    memcpy(moved, w->out->data + at, tail);
    /* The space before the moved text goes too: emit puts one back. */
    while (at > w->start && w->out->data[at - 1] == ' ')
        at--;
    w->out->len = at;
    w->out->data[at] = '\0';
    if (at == w->start)
        w->cap_next = true;
    w->any = at > w->start;
    w->prev = TK_SPACE;
    st = emit(w, s, n, TK_WORD, capitalise);
    if (st == ITX_OK && moved[0] >= 'A' && moved[0] <= 'Z' && at == w->start &&
        !(tail > 1 && moved[1] >= 'A' && moved[1] <= 'Z'))
        moved[0] = (char)(moved[0] - 'A' + 'a');
    if (st == ITX_OK)
        st = itx_buf_putc(w->out, ' ');
    if (st == ITX_OK)
        st = itx_buf_append(w->out, moved, tail);
    itx_free(moved);
    w->prev = TK_WORD;
    return st;
}

static enum itx_status
emit(struct writer *w, const char *s, size_t n, enum tok_kind kind, bool capitalise)
{
    enum itx_status st = ITX_OK;

    if (kind == TK_DROP || n == 0)
        return ITX_OK;
    if (kind == TK_SPACE) {
        w->prev = TK_SPACE;
        return ITX_OK;
    }
    /*
     * A glossary translation starting with '<' is an adjective that Chinese puts after its
     * noun (质量很好 "quality very good"): English wants it before the previous word.
     */
    if (n > 1 && s[0] == '<') {
        s++;
        n--;
        if (w->have_word && kind == TK_WORD)
            return emit_before(w, w->word_at, s, n, capitalise);
    }
    /*
     * "Baby" + "baby's feeding bottle" (宝宝+奶瓶): when a phrase starts with the word just
     * said, the earlier one goes.
     */
    if (kind == TK_WORD && w->prev == TK_WORD && memchr(s, ' ', n) && w->out->len > w->start) {
        size_t ls = w->out->len, fn = (size_t)((const char *)memchr(s, ' ', n) - s);
        while (ls > w->start && w->out->data[ls - 1] != ' ')
            ls--;
        if (fn > 2 && memcmp(s + fn - 2, "'s", 2) == 0)
            fn -= 2;
        else if (fn > 1 && s[fn - 1] == '\'')
            fn--;
        if (w->out->len - ls == fn && strncasecmp(w->out->data + ls, s, fn) == 0) {
            w->out->len = ls > w->start ? ls - 1 : ls;
            w->out->data[w->out->len] = '\0';
            if (w->out->len == w->start) {
                w->any = false;
                w->cap_next = true;
            }
            w->prev = TK_SPACE;
            w->have_word = false;
        }
    }
    /* "欧美风" gives "European and American style" + "style": say a word only once. */
    if (kind == TK_WORD && w->prev == TK_WORD && !memchr(s, ' ', n) &&
        w->out->len >= w->start + n) {
        const char *tail = w->out->data + w->out->len - n;
        if (strncasecmp(tail, s, n) == 0 && (w->out->len == n + w->start || tail[-1] == ' '))
            return ITX_OK;
    }
    if (w->any && kind != TK_CLOSE && kind != TK_JOIN && w->prev != TK_OPEN && w->prev != TK_JOIN)
        st = itx_buf_putc(w->out, ' ');
    if (st == ITX_OK && kind == TK_JOIN && w->prev == TK_SPACE && w->any && n == 1 && s[0] == ' ')
        return ITX_OK;
    if (st == ITX_OK) {
        size_t at = w->out->len;
        if (kind == TK_WORD) {
            w->word_at = at;
            w->have_word = true;
        } else if (kind != TK_JOIN) {
            w->have_word = false;
        }
        st = itx_buf_append(w->out, s, n);
        if (st == ITX_OK && capitalise && w->cap_next && w->out->data[at] >= 'a' &&
            w->out->data[at] <= 'z')
            w->out->data[at] = (char)(w->out->data[at] - 'a' + 'A');
    }
    if (kind == TK_WORD)
        w->cap_next = false;
    if (kind == TK_CLOSE && n == 1 && (s[0] == '.' || s[0] == '!' || s[0] == '?'))
        w->cap_next = true;
    w->prev = kind;
    w->any = true;
    return st;
}

/* Makes "1 pcs" read "1 pc" and similar after a template substitution. */
static void
singularise(char *s)
{
    static const char *const pl[][2] = {
        {"pcs", "pc"},         {"pairs", "pair"},        {"sets", "set"},
        {"days", "day"},       {"years", "year"},        {"hours", "hour"},
        {"packs", "pack"},     {"boxes", "box"},         {"bottles", "bottle"},
        {"bags", "bag"},       {"pieces", "piece"},      {"months", "month"},
        {"colours", "colour"}, {"cases", "case"},        {"sizes", "size"},
        {"items", "item"},     {"rolls", "roll"},        {"sheets", "sheet"},
        {"metres", "metre"},   {"minutes", "minute"},    {"seconds", "second"},
        {"weeks", "week"},     {"people", "person"},     {"servings", "serving"},
        {"layers", "layer"},   {"batteries", "battery"},
    };
    char *p = strstr(s, "1 ");
    while (p) {
        if (p == s || !(p[-1] >= '0' && p[-1] <= '9')) {
            if (p == s || p[-1] != '.') {
                char *q = p + 2, *u = q;
                /* "1 AA batteries": a size in capitals may stand between. */
                while (*u >= 'A' && *u <= 'Z')
                    u++;
                if (u > q && *u == ' ')
                    q = u + 1;
                for (size_t i = 0; i < sizeof(pl) / sizeof(pl[0]); i++) {
                    size_t k = strlen(pl[i][0]);
                    if (strncmp(q, pl[i][0], k) == 0 && !(q[k] >= 'a' && q[k] <= 'z')) {
                        memcpy(q, pl[i][1], strlen(pl[i][1]));
                        memmove(q + strlen(pl[i][1]), q + k, strlen(q + k) + 1);
                        break;
                    }
                }
            }
        }
        p = strstr(p + 1, "1 ");
    }
}

static void
format_off(double v, char *out, size_t size)
{
    /* 5折 pays 50%: 50% off; 8.5折 -> 15% off; 85折 (two digits) -> 15% off. */
    double pay = v < 10 ? v * 10 : v;
    double off = 100 - pay;
    if (off < 0)
        off = 0;
    if (off == (double)(long)off)
        snprintf(out, size, "%ld", (long)off);
    else
        snprintf(out, size, "%.1f", off);
}

/*
 * An ordinal (第3件 "third item"): words up to tenth, then 11th, 21st, 102nd ...; the
 * number as written when it is not a whole number.
 */
static void
format_ordinal(double v, const char *num, char *out, size_t size)
{
    static const char *const word[] = {"first", "second",  "third",  "fourth", "fifth",
                                       "sixth", "seventh", "eighth", "ninth",  "tenth"};
    long n = (long)v;

    if (v != (double)n || n < 1 || strchr(num, '-')) {
        snprintf(out, size, "%s", num);
        return;
    }
    if (n <= 10) {
        snprintf(out, size, "%s", word[n - 1]);
        return;
    }
    snprintf(out, size, "%ld%s", n,
             n % 100 >= 11 && n % 100 <= 13 ? "th"
             : n % 10 == 1                  ? "st"
             : n % 10 == 2                  ? "nd"
             : n % 10 == 3                  ? "rd"
                                            : "th");
}

/*
 * A duration or size said before a noun is one hyphenated modifier: "24 hours" + "online
 * customer service" -> "24-hour online customer service", 七天退换 "7-day returns".
 */
static void
count_as_modifier(char *s)
{
    static const char *const unit[][2] = {
        {"hours", "hour"},    {"days", "day"},       {"years", "year"},     {"months", "month"},
        {"weeks", "week"},    {"minutes", "minute"}, {"seconds", "second"}, {"inches", "inch"},
        {"hour", "hour"},     {"day", "day"},        {"year", "year"},      {"month", "month"},
        {"people", "person"}, {"layers", "layer"},   {"doors", "door"},     {"colours", "colour"},
        {"colors", "color"},
    };
    char *sp = strchr(s, ' ');

    /* 3岁宝宝 "3-year-old baby". */
    if (sp && sp > s && sp[-1] >= '0' && sp[-1] <= '9' &&
        (strcmp(sp + 1, "years old") == 0 || strcmp(sp + 1, "year old") == 0)) {
        memcpy(sp, "-year-old", 10);
        return;
    }
    if (!sp || sp == s || !(sp[-1] >= '0' && sp[-1] <= '9') || strchr(sp + 1, ' '))
        return;
    for (const char *p = s; p < sp; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return;
    for (size_t k = 0; k < sizeof(unit) / sizeof(unit[0]); k++) {
        if (strcmp(sp + 1, unit[k][0]) == 0) {
            *sp = '-';
            memcpy(sp + 1, unit[k][1], strlen(unit[k][1]) + 1);
            return;
        }
    }
}

static enum itx_status
emit_template(struct writer *w, const struct cand *c, const struct ctx *x, size_t i, bool modifier)
{
    const char *term, *tr;
    struct tmpl_match m;
    char text[512];
    size_t o = 0;

    itx_tr_glossary_template(c->g, c->tmpl, &term, &tr);
    if (!match_template(x, i, term, strlen(term), &m))
        return ITX_ERR_INTERNAL;
    if (!tr) {
        size_t from = x->cps[i].at, to = x->cps[i + m.len - 1].at + x->cps[i + m.len - 1].len;
        return emit(w, x->s + from, to - from, TK_WORD, false);
    }
    for (size_t k = 0; tr[k] && o + 64 < sizeof(text);) {
        if (tr[k] == '{') {
            const char *v = NULL;
            char off[64];
            if (strncmp(tr + k, "{N}", 3) == 0)
                v = m.n1;
            else if (strncmp(tr + k, "{M}", 3) == 0)
                v = m.n2;
            else if (strncmp(tr + k, "{A}", 3) == 0)
                v = m.a;
            else if (strncmp(tr + k, "{OFF}", 5) == 0) {
                format_off(m.v1, off, sizeof(off));
                v = off;
                k += 2;
            } else if (strncmp(tr + k, "{MOFF}", 6) == 0) {
                format_off(m.v2, off, sizeof(off));
                v = off;
                k += 3;
            } else if (strncmp(tr + k, "{MON}", 5) == 0 || strncmp(tr + k, "{MMON}", 6) == 0) {
                /* 3月15日 "March 15": the name of the month numbered {N} (or {M}). */
                static const char *const month[] = {
                    "January", "February", "March",     "April",   "May",      "June",
                    "July",    "August",   "September", "October", "November", "December"};
                bool second = tr[k + 1] == 'M' && tr[k + 2] == 'M';
                double mv = second ? m.v2 : m.v1;
                const char *mn = second ? m.n2 : m.n1;
                if (mv >= 1 && mv <= 12 && mv == (double)(long)mv && !strchr(mn, '-'))
                    snprintf(off, sizeof(off), "%s", month[(long)mv - 1]);
                else
                    snprintf(off, sizeof(off), "%s", mn);
                v = off;
                k += second ? 3 : 2;
            } else if (strncmp(tr + k, "{NTH}", 5) == 0) {
                format_ordinal(m.v1, m.n1, off, sizeof(off));
                v = off;
                k += 2;
            }
            if (v) {
                size_t vl = strlen(v);
                if (o + vl + 64 >= sizeof(text))
                    break;
                memcpy(text + o, v, vl);
                o += vl;
                k += 3;
                continue;
            }
        }
        text[o++] = tr[k++];
    }
    text[o] = '\0';
    /* 2024年 is the year 2024, not a count of 2024 years. */
    if (m.v1 >= 1900 && m.v1 <= 2100 && strlen(m.n1) == 4 && strcmp(text + 4, " years") == 0 &&
        strncmp(text, m.n1, 4) == 0)
        text[4] = '\0';
    singularise(text);
    if (modifier)
        count_as_modifier(text);
    return emit(w, text, strlen(text), TK_WORD, true);
}

/* Whether a template's translation is a count: "{N} " and a unit, nothing else. */
static const char *
count_unit(const struct cand *c)
{
    const char *term, *tr;

    itx_tr_glossary_template(c->g, c->tmpl, &term, &tr);
    if (!tr || strncmp(tr, "{N} ", 4) != 0 || strchr(tr + 4, '{') || strchr(tr + 4, ' ') ||
        strncmp(term, "{N}", 3) != 0)
        return NULL;
    return tr + 4;
}

/*
 * Whether the count at i is one of a container ("1 box", from 一盒) followed at once by
 * another count (at j) of what it holds: then unit gets the container, singular ("box").
 */
static bool
per_unit(const struct ctx *x, const struct cand *c, size_t i, const struct cand *next, char *unit,
         size_t unit_size)
{
    const char *term, *tr, *u = count_unit(c);
    struct tmpl_match m;
    char text[80];

    if (!u || !count_unit(next))
        return false;
    itx_tr_glossary_template(c->g, c->tmpl, &term, &tr);
    if (!match_template(x, i, term, strlen(term), &m) || m.v1 != 1.0 || strchr(m.n1, '-'))
        return false;
    if (strlen(u) + 3 > sizeof(text) || strlen(u) + 1 > unit_size)
        return false;
    text[0] = '1';
    text[1] = ' ';
    memcpy(text + 2, u, strlen(u) + 1);
    singularise(text);
    memcpy(unit, text + 2, strlen(text + 2) + 1);
    return true;
}

/* Normalises fullwidth ASCII and ideographic spaces; collapses whitespace. */
static enum itx_status
normalise(const char *text, struct itx_buf *b, struct itx_diag *d)
{
    size_t i = 0, len = strlen(text);
    enum itx_status s = ITX_OK;

    if (len > MAX_TEXT_BYTES)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "text is %zu bytes, over the %u-byte limit", len,
                            MAX_TEXT_BYTES);
    if (!itx_tr_utf8_valid(text, len))
        return itx_diag_set(d, ITX_ERR_INVALID, "text is not valid UTF-8");
    while (i < len && s == ITX_OK) {
        uint32_t c;
        size_t n = itx_tr_utf8_decode(text + i, len - i, &c);
        if (c >= 0xff01 && c <= 0xff5e && c != 0xff0c && c != 0xff08 && c != 0xff09)
            c -= 0xfee0;
        else if (c == 0xffe5)
            c = 0xa5;
        if (c == 0x3000 || c == '\t' || c == '\n' || c == '\r')
            c = ' ';
        if (c == ' ' && (b->len == 0 || b->data[b->len - 1] == ' ')) {
            i += n;
            continue;
        }
        if (c < 0x80)
            s = itx_buf_putc(b, (char)c);
        else if (c == 0xa5)
            s = itx_buf_puts(b, "\xc2\xa5");
        else
            s = itx_buf_append(b, text + i, n);
        i += n;
    }
    while (s == ITX_OK && b->len && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
    if (s)
        return itx_diag_set(d, s, "out of memory normalising text");
    return ITX_OK;
}

/*
 * The English one token of a chosen path says (glossary or CEDICT), or 0 for none; *verb
 * (when not NULL) says whether it is a CEDICT verb sense (glossary entries never are).
 */
static size_t
token_english_verb(const struct cand *c, char buf[128], bool *verb)
{
    size_t n = 0;

    if (verb)
        *verb = false;
    if (c->type == 1 && c->tr && c->tr[0] != '<' && c->tr_len < 128) {
        memcpy(buf, c->tr, c->tr_len);
        n = c->tr_len;
        buf[n] = '\0';
    } else if (c->type == 2) {
        n = pick_sense_verb(c->tr, c->tr_len, buf, verb);
    }
    return n;
}

static size_t
token_english(const struct cand *c, char buf[128])
{
    return token_english_verb(c, buf, NULL);
}

/*
 * Whether one English word (hyphenated compounds included) is an adjective that a product
 * picture strings with another: 舒适透气 "comfortable and breathable". Known by its ending
 * or from a short list of common ones; nouns and phrases are never joined.
 */
static bool
is_adjective(const char *s, size_t n)
{
    static const char *const suffix[] = {"able",      "ible", "ful",      "ous",       "proof",
                                         "resistant", "free", "friendly", "absorbent", "-dry",
                                         "-drying",   "less", "ish",      "ive"};
    static const char *const word[] = {
        "warm",        "soft",         "light",           "thin",       "thick",
        "thickened",   "safe",         "simple",          "elegant",    "stylish",
        "lightweight", "smooth",       "strong",          "sturdy",     "trendy",
        "cute",        "cool",         "fresh",           "clean",      "non-slip",
        "anti-slip",   "minimalist",   "healthy",         "natural",    "delicate",
        "exquisite",   "practical",    "convenient",      "sleek",      "slim",
        "compact",     "silent",       "quiet",           "gentle",     "mild",
        "bright",      "classic",      "versatile",       "high-end",   "classy",
        "generous",    "moisturizing", "hydrating",       "nourishing", "fashionable",
        "luxurious",   "elastic",      "stretchy",        "firm",       "stable",
        "solid",       "tender",       "crispy",          "crunchy",    "sweet",
        "delicious",   "nutritious",   "dense",           "fluffy",     "loose",
        "tight",       "fitted",       "relaxed",         "casual",     "formal",
        "chic",        "modern",       "vintage",         "retro",      "cozy",
        "windproof",   "padded",       "secure",          "quick-dry",  "hygienic",
        "odorless",    "odourless",    "flexible",        "efficient",  "powerful",
        "reliable",    "accurate",     "precise",         "bold",       "tasty",
        "refreshing",  "soothing",     "silky",           "glossy",     "shiny",
        "matte",       "unique",       "novel",           "vivid",      "fine",
        "excellent",   "rich",         "clear",           "affordable", "reasonable",
        "plump",       "tender",       "juicy",           "fragrant",   "mellow",
        "pure",        "premium",      "superior",        "exquisite",  "neat",
        "even",        "sharp",        "bright-coloured", "slimming",   "bright-colored",
    };
    if (n == 0 || n > 40 || memchr(s, ' ', n))
        return false;
    if (WORD_IN(word, s, n, true))
        return true;
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        size_t k = strlen(suffix[i]);
        if (n > k + 2 && strncasecmp(s + n - k, suffix[i], k) == 0)
            return true;
    }
    return false;
}

/*
 * Whether a glossary translation is a modifier rather than a verb: one word that is an
 * adjective or a participle ("frozen", "heating", "reusable"), which "do not" cannot take.
 */
static bool
is_modifier_form(const char *s, size_t n)
{
    static const char *const end[] = {"ing", "ed", "en"};

    if (memchr(s, ' ', n))
        return false;
    if (is_adjective(s, n))
        return true;
    for (size_t k = 0; k < sizeof(end) / sizeof(end[0]); k++) {
        size_t l = strlen(end[k]);
        if (n > l + 2 && memcmp(s + n - l, end[k], l) == 0)
            return true;
    }
    return false;
}

/*
 * Whether a token says "do not", "please" or "never": the word after it is a verb
 * (请勿挤压 "do not squeeze", not "do not extrusion").
 */
static bool
says_imperative(const struct cand *c)
{
    static const char *const word[] = {"do not", "please", "never", "don't", "please do not"};
    char e[128];
    size_t en = token_english(c, e);

    return WORD_IN(word, e, en, true);
}

/*
 * Whether the word at cps[i] (len code points) is a verdict that Chinese says before what it
 * judges and English after it: 支持, 建议, 不支持, 不建议, 仅限 (仅限今日 "today only").
 */
static bool
said_after(const struct cp *cps, size_t i, unsigned len)
{
    if (len == 3 && cps[i].c == 0x4e0d /* 不 */) {
        i++;
        len--;
    }
    return len == 2 && ((cps[i].c == 0x652f && cps[i + 1].c == 0x6301) || /* 支持 */
                        (cps[i].c == 0x5efa && cps[i + 1].c == 0x8bae) || /* 建议 */
                        (cps[i].c == 0x4ec5 && cps[i + 1].c == 0x9650));  /* 仅限 */
}

/* Whether a path token is Han text translated by the glossary or CEDICT (a "word"). */
static bool
is_han_word(const struct cand *c)
{
    return c->type == 1 || c->type == 2;
}

/*
 * Single-character qualities that close a Chinese phrase after their noun (噪音低, 容量大,
 * 速度快) and go before it in English.
 */
static bool
is_postposed(const char *s, size_t n)
{
    static const char *const word[] = {"low",  "high", "big",  "large",  "small", "long", "short",
                                       "fast", "slow", "good", "strong", "soft",  "rapid"};
    return WORD_IN(word, s, n, false);
}

/*
 * A plural product noun said as a modifier of the next word is singular: "shoes" in "shoe
 * cabinet", "strawberries" in "strawberry cake" (the last word of a phrase: "potato chip
 * bag"). Returns the length of the form to say; *s may then point into buf.
 */
static size_t
modifier_form(const char **s, size_t n, char buf[128])
{
    static const char *const plural[] = {
        "shoes",    "socks", "toys",      "earphones", "headphones", "snacks",    "slippers",
        "sneakers", "boots", "sandals",   "nuts",      "chips",      "dumplings", "noodles",
        "candles",  "pets",  "beginners", "students",  "adults"};
    const char *p = *s, *last = p;
    size_t ln;

    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == ' ')
            last = p + i + 1;
    ln = n - (size_t)(last - p);
    for (size_t i = 0; i < sizeof(plural) / sizeof(plural[0]); i++)
        if (strlen(plural[i]) == ln && strncasecmp(last, plural[i], ln) == 0)
            return n - 1;
    /* berries, cherries, batteries, accessories: -ies is -y. */
    if (ln > 5 && n < 128 && strncmp(last + ln - 3, "ies", 3) == 0) {
        memcpy(buf, p, n - 3);
        buf[n - 3] = 'y';
        buf[n - 2] = '\0';
        *s = buf;
        return n - 2;
    }
    return n;
}

/* Whether the token at i ends a group of words: text end, space or punctuation. */
static bool
is_bound(const struct cand *choice, size_t n, size_t i)
{
    return i >= n || choice[i].type == 4;
}

/*
 * Whether the rest of a group, from token i, holds a number (建议身高165cm "recommended
 * height 165cm" is a specification, not a verdict).
 */
static bool
group_has_number(const struct cand *choice, size_t n, size_t i)
{
    for (; !is_bound(choice, n, i); i += choice[i].len)
        if (choice[i].type == 0 || choice[i].type == 3 || choice[i].type == 7)
            return true;
    return false;
}

/*
 * At token i, which follows a text edge, a space or punctuation: when a run of two or three
 * adjective words starts there and stands on its own, joins[] gets the token positions
 * before which "and" (and, for three, a comma) go. Returns how many positions, 0 for none.
 */
static unsigned
adjective_run(const struct cand *choice, size_t n, size_t i, size_t joins[2])
{
    size_t at[4];
    unsigned k = 0;
    size_t j = i;
    char e[128];

    while (j < n && k < 4 && is_han_word(&choice[j]) && choice[j].len >= 2) {
        size_t en = token_english(&choice[j], e);
        if (!is_adjective(e, en))
            return 0;
        at[k++] = j;
        j += choice[j].len;
    }
    if (k < 2 || k > 3 || !is_bound(choice, n, j))
        return 0;
    joins[0] = at[1];
    joins[1] = k == 3 ? at[2] : (size_t)-1;
    return k - 1;
}

/*
 * Nouns for a quality of a product, which Chinese states first and then judges (设计独特,
 * 面料柔软, 口感细腻): the judgement goes before them in English.
 */
static bool
is_attribute(const char *s, size_t n)
{
    static const char *const word[] = {
        "design",        "fabric",
        "material",      "materials",
        "colour",        "color",
        "colours",       "texture",
        "taste",         "flavour",
        "flavor",        "quality",
        "workmanship",   "craftsmanship",
        "style",         "fit",
        "cut",           "size",
        "capacity",      "sound",
        "sound quality", "picture quality",
        "performance",   "structure",
        "shape",         "surface",
        "feel",          "lines",
        "stitching",     "finish",
        "price",         "smell",
        "scent",         "fragrance",
        "texture",       "touch",
        "look",          "appearance",
        "interior",      "sole",
        "lining",        "filling",
        "stitches",      "print",
        "pattern",       "handle",
        "grip",          "battery life",
        "noise",         "speed",
        "signal",        "light",
        "screen",        "volume",
        "weight",        "packaging",
        "service",       "quality control",
        "tailoring",     "cutting",
        "upper",         "insole",
        "collar",        "hem",
        "cuffs",         "zipper",
        "buttons",       "edges",
        "details",       "detail",
        "effect",        "texture",
    };
    return WORD_IN(word, s, n, true);
}

/*
 * Whether the word at i, of English e, is an adjective closing a two-word group after its
 * noun (设计独特 "design unique", 面料柔软 "fabric soft"), which English puts first. Not
 * when the first word is itself an adjective or a verb (注意防潮), nor inside a run of
 * adjectives joined with "and".
 */
static bool
postposed_adjective(const struct cand *choice, size_t n, size_t i, size_t group, size_t prev_tok,
                    const char *e, size_t en, const size_t joins[2])
{
    char pe[128];
    size_t pn;
    bool verb;

    if (choice[i].len < 2 || prev_tok != group || prev_tok >= i || !is_adjective(e, en) ||
        !is_bound(choice, n, i + choice[i].len) || joins[0] != (size_t)-1 ||
        !is_han_word(&choice[prev_tok]) || choice[prev_tok].len < 2)
        return false;
    pn = token_english_verb(&choice[prev_tok], pe, &verb);
    return pn > 0 && !verb && is_attribute(pe, pn);
}

/*
 * A group of words says a noun once: 送男友礼物 "gift for boyfriend" + "gift", 户外防水冲锋衣
 * "outdoor waterproof" + "outdoor jacket". When the word about to be said (a single word,
 * or the first word of a phrase) is already a word of the group's English since out[from],
 * it is left out (*s, *n shortened; a single word becomes empty).
 */
static void
said_again(const struct itx_buf *out, size_t from, const char **s, size_t *n)
{
    const char *sp = memchr(*s, ' ', *n);
    size_t wl = sp ? (size_t)(sp - *s) : *n;

    if (wl < 3 || from >= out->len)
        return;
    for (size_t i = from; i + wl <= out->len; i++) {
        const char *p = out->data + i;
        if ((i == from || p[-1] == ' ') && (i + wl == out->len || p[wl] == ' ') &&
            strncasecmp(p, *s, wl) == 0) {
            *s += sp ? wl + 1 : wl;
            *n -= sp ? wl + 1 : wl;
            return;
        }
    }
}

/* Whether s is one plain English word: letters only (no space, hyphen or digit). */
static bool
is_plain_word(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

/*
 * 免打孔毛巾架 "no-drill towel rack": "no X needed" (免X) before a noun is a modifier, "no-V"
 * for a few verbs said so on product listings, "X-free" for another one-word X
 * ("installation-free"). Returns the length written to buf, 0 when s is no such phrase.
 */
static size_t
free_modifier(const char *s, size_t n, char buf[128])
{
    static const char *const verb[][2] = {
        {"drilling", "drill"}, {"ironing", "iron"}, {"washing", "wash"}, {"rinsing", "rinse"},
        {"punching", "punch"}, {"cooking", "cook"}, {"nailing", "nail"}, {"baking", "bake"}};
    const char *x = s + 3;
    size_t xn;
    int k;

    if (n < 6 || !starts_with(s, n, "no "))
        return 0;
    if (n > 10 && memcmp(s + n - 7, " needed", 7) == 0)
        xn = n - 10;
    else if (n > 12 && memcmp(s + n - 9, " required", 9) == 0)
        xn = n - 12;
    else
        xn = n - 3; /* 免熨 "no ironing" */
    if (!is_plain_word(x, xn) || xn + 6 >= 128)
        return 0;
    for (size_t i = 0; i < sizeof(verb) / sizeof(verb[0]); i++)
        if (strlen(verb[i][0]) == xn && memcmp(x, verb[i][0], xn) == 0) {
            k = snprintf(buf, 128, "no-%s", verb[i][1]);
            return k > 0 ? (size_t)k : 0;
        }
    /* Another verb, or a bare "no X", keeps its words ("no charging needed"). */
    if (xn == n - 3 || (xn > 3 && memcmp(x + xn - 3, "ing", 3) == 0))
        return 0;
    if (xn > 3 && x[xn - 1] == 's' && x[xn - 2] != 's')
        xn--; /* nails-free is nail-free */
    k = snprintf(buf, 128, "%.*s-free", (int)xn, x);
    return k > 0 ? (size_t)k : 0;
}

static bool head_noun(const char *e, size_t en, bool strict);
static bool takes_object(const char *s, size_t n);

/*
 * 电脑椅办公椅 "computer chair office chair": a title that names its head noun in two words
 * says the head once, after all their modifiers ("computer office chair"). When s, the word
 * closing a group, ends with a noun already said in the group since out[from], that earlier
 * noun is taken out, so the closing word keeps it. Positions after it (*second) move back.
 * Returns whether it did.
 */
static bool
merge_head(struct writer *w, size_t from, const char *s, size_t n, size_t *second)
{
    struct itx_buf *out = w->out;
    const char *last = s;
    size_t ln;

    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ' ')
            last = s + i + 1;
    ln = n - (size_t)(last - s);
    if (ln < 3 || from >= out->len || !is_plain_word(last, ln) || !head_noun(last, ln, false) ||
        takes_object(s, n))
        return false; /* not an instruction: 手洗不可机洗 "hand wash, do not machine wash" */
    for (size_t i = out->len; i-- > from;) {
        char *p = out->data + i;
        size_t cut, at;
        if (!((i == from || p[-1] == ' ') && i + ln <= out->len &&
              (i + ln == out->len || p[ln] == ' ') && strncasecmp(p, last, ln) == 0))
            continue;
        /* Only a head that some word of the group qualifies, not the group's first word. */
        if (i == from || i == w->start)
            return false;
        at = i - 1; /* the space before it goes too */
        cut = ln + 1;
        memmove(out->data + at, out->data + at + cut, out->len - at - cut + 1);
        out->len -= cut;
        if (w->word_at > at)
            w->word_at = w->word_at >= at + cut ? w->word_at - cut : at;
        if (*second != (size_t)-1 && *second > at)
            *second = *second >= at + cut ? *second - cut : at;
        return true;
    }
    return false;
}

/*
 * The English of the Han word at i when it can take an affix ("fog" in 防雾 "anti-fog",
 * "sugar" in 无糖 "sugar-free"): one plain word, a noun rather than a verb or an adjective.
 * Returns its length, 0 when it cannot.
 */
static size_t
affixable_noun(const struct cand *choice, size_t n, size_t i, char e[128])
{
    bool verb;
    size_t en;

    if (i >= n || !is_han_word(&choice[i]))
        return 0;
    en = token_english_verb(&choice[i], e, &verb);
    if (verb || !is_plain_word(e, en) || is_adjective(e, en) || (e[0] >= 'A' && e[0] <= 'Z'))
        return 0;
    return en;
}

/* Words that say whom a product is for, which a Chinese title may put last (卫衣男). */
static bool
is_audience(const char *s, size_t n)
{
    static const char *const word[] = {"men's",  "women's", "children's", "kids'",   "boys'",
                                       "girls'", "baby",    "unisex",     "babies'", "household"};
    return WORD_IN(word, s, n, false);
}

static bool takes_object(const char *s, size_t n);

/*
 * At the start of a group of words (after a text edge, space or punctuation): when the group
 * is two or more Han words and its last one says whom the product is for (运动套装男
 * "sports set men's"), returns where that last token starts, so it is said first; else -1.
 * *repeat is set when the first word already says it (男士卫衣男): the last one is dropped.
 */
static size_t
audience_last(const struct cand *choice, size_t n, size_t i, bool *repeat)
{
    size_t j = i, last = (size_t)-1;
    unsigned k = 0;
    char e[128];
    size_t en;

    while (j < n && !is_bound(choice, n, j)) {
        if (!is_han_word(&choice[j]))
            return (size_t)-1;
        last = j;
        k++;
        j += choice[j].len;
    }
    if (k < 2)
        return (size_t)-1;
    en = token_english(&choice[last], e);
    if (!is_audience(e, en))
        return (size_t)-1;
    {
        bool verb;
        en = token_english_verb(&choice[i], e, &verb);
        /* 适合男士 "suitable for men", 远离儿童: the group is a phrase, not a title. */
        if (verb || takes_object(e, en))
            return (size_t)-1;
    }
    *repeat = is_audience(e, en);
    return last;
}

/*
 * Whether an English word or phrase wants an object after it: a preposition closing it
 * ("suitable for", "keep away from") or an instruction ("do not", "avoid", "please").
 */
static bool
takes_object(const char *s, size_t n)
{
    static const char *const tail[] = {" for", " from", " to", " with", " of"};
    static const char *const head[] = {"do not", "not ", "avoid", "please", "keep", "no "};

    for (size_t k = 0; k < sizeof(tail) / sizeof(tail[0]); k++) {
        size_t l = strlen(tail[k]);
        if (n > l && strncasecmp(s + n - l, tail[k], l) == 0)
            return true;
    }
    for (size_t k = 0; k < sizeof(head) / sizeof(head[0]); k++)
        if (starts_with(s, n, head[k]))
            return true;
    return false;
}

/*
 * The plain noun of a possessive audience word ("children's" -> "children") for where it is
 * not a modifier: closing a group (不适合儿童 "not suitable for children") or before a
 * predicate (儿童慎用 "children use with caution"). NULL when s is not one.
 */
static const char *
audience_plain(const char *s, size_t n)
{
    static const char *const word[][2] = {
        {"children's", "children"}, {"kids'", "kids"},     {"men's", "men"},
        {"women's", "women"},       {"boys'", "boys"},     {"girls'", "girls"},
        {"babies'", "babies"},      {"ladies'", "ladies"}, {"students'", "students"},
    };
    for (size_t i = 0; i < sizeof(word) / sizeof(word[0]); i++)
        if (strlen(word[i][0]) == n && strncasecmp(s, word[i][0], n) == 0)
            return word[i][1];
    return NULL;
}

/*
 * A possessive audience word at i that modifies nothing (it closes its group, or the next
 * word is a predicate such as "not suitable", "use with caution") says its plain noun.
 */
static void
plain_if_not_modifier(const struct cand *choice, size_t n, size_t i, const char **s, size_t *len)
{
    const char *p = audience_plain(*s, *len);
    size_t j = i + choice[i].len;
    char e[128];
    size_t en;

    if (!p)
        return;
    if (!is_bound(choice, n, j)) {
        bool verb;
        if (!is_han_word(&choice[j]))
            return;
        en = token_english_verb(&choice[j], e, &verb);
        if (!verb && !takes_object(e, en) && !starts_with(e, en, "use"))
            return;
    }
    *s = p;
    *len = strlen(p);
}

/*
 * Words and phrases a product title adds after its head noun (哑铃家用 "dumbbell household",
 * 头盔骑行 "helmet cycling"): scenes, seasons, users, materials said as modifiers.
 */
static bool
is_scene(const char *s, size_t n)
{
    static const char *const word[] = {
        "office",
        "outdoor",
        "outdoors",
        "indoor",
        "home",
        "household",
        "sports",
        "sport",
        "fitness",
        "travel",
        "student",
        "students",
        "beginner",
        "beginners",
        "adult",
        "adults",
        "elderly",
        "kids",
        "car",
        "business",
        "summer",
        "winter",
        "spring",
        "autumn",
        "autumn and winter",
        "spring and autumn",
        "spring/autumn",
        "autumn/winter",
        "spring and summer",
        "school",
        "exam",
        "daily",
        "large capacity",
        "genuine leather",
        "stainless steel",
        "whole body",
        "full body",
        "premium grade",
        "desktop",
        "desk",
        "kitchen",
        "bathroom",
        "bedroom",
        "baby",
        "pet",
        "industrial",
        "professional",
        "mini",
        "British style",
        "Korean style",
        "sun protection",
        "primary school students",
        "women's",
        "men's",
        "children's",
        "kids'",
        "boys'",
        "girls'",
        "unisex",
        "couple",
        "couples",
        "maternity",
        "pregnant women",
        "lifetime",
        "running",
        "cycling",
        "camping",
        "fishing",
        "hiking",
        "swimming",
        "climbing",
        "riding",
        "skiing",
        "driving",
        "jogging",
        "training",
        "yoga",
        "gym",
        "travelling",
        "traveling",
        "living room",
        "bedroom",
        "dining room",
        "courtyard",
        "garden",
        "balcony",
        "entrance",
        "doorway",
        "car interior",
        "laser",
        "karaoke",
        "live stream",
        "live streaming",
        "smart",
        "all seasons",
        "bedside",
        "sleep",
        "writing",
        "counting",
        "art",
        "electrician",
        "small apartment",
    };
    return WORD_IN(word, s, n, true);
}

/*
 * Whether one English word only qualifies a noun: an adjective by list or by form and, unless
 * strict, a scene, a user or a material (which may also start a head noun: kitchen knife).
 */
static bool
modifier_word(const char *e, size_t en, bool strict)
{
    static const char *const plain[] = {
        "transparent", "clear",    "portable",   "wireless", "electric", "automatic", "manual",
        "large",       "small",    "big",        "round",    "square",   "flat",      "long",
        "short",       "wide",     "narrow",     "high",     "low",      "hard",      "new",
        "black",       "white",    "red",        "blue",     "green",    "pink",      "grey",
        "gray",        "brown",    "yellow",     "purple",   "beige",    "navy",      "khaki",
        "silver",      "gold",     "thin",       "thick",    "loose",    "slim",      "extra",
        "super",       "ultra",    "custom",     "blackout", "instant",  "crossbody", "sonic",
        "lazy",        "external", "drawstring", "full",     "HD",       "built-in"};
    /* Materials qualify a noun after it in a title, but may also start a head (silk scarf). */
    static const char *const material[] = {
        "cotton", "leather", "wooden", "metal", "plastic", "silicone", "glass",    "ceramic",
        "canvas", "wool",    "linen",  "silk",  "nylon",   "bamboo",   "aluminum", "stainless"};
    static const char *const end[] = {"ic", "al", "ly"};

    if (is_adjective(e, en) || ((is_scene(e, en) || is_audience(e, en)) && !strict))
        return true;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (strlen(plain[i]) == en && strncasecmp(e, plain[i], en) == 0)
            return true;
    for (size_t i = 0; i < sizeof(material) / sizeof(material[0]) && !strict; i++)
        if (strlen(material[i]) == en && strncasecmp(e, material[i], en) == 0)
            return true;
    /* non-slip, wear-resistant, high-top; not T-shirt */
    if (memchr(e, '-', en)) {
        const char *last = (const char *)memrchr(e, '-', en) + 1;
        /* Chanel-style, Korean-style */
        if (en > 6 && memcmp(e + en - 6, "-style", 6) == 0)
            return true;
        /* 3-in-1 */
        if (e[0] >= '0' && e[0] <= '9' && en < 12 && contains(e, en, "-in-"))
            return true;
        return e[0] >= 'a' && e[0] <= 'z' && !is_domain(last, en - (size_t)(last - e));
    }
    /* electronic, digital, fully; not a product noun (metal is listed, pedal is not) */
    for (size_t i = 0; i < sizeof(end) / sizeof(end[0]); i++) {
        size_t l = strlen(end[i]);
        if (en > l + 3 && memcmp(e + en - l, end[i], l) == 0 && !is_domain(e, en) &&
            !is_attribute(e, en)) /* not material */
            return true;
    }
    return false;
}

/*
 * Whether English is an adjective and the part of a product it describes, which English
 * joins into one modifier before a noun: "soft sole" (软底), "pointed toe", "high waist",
 * "low noise" ("soft-sole sandals"). Returns the length of the adjective, 0 if not.
 */
static size_t
compound_modifier(const char *e, size_t en)
{
    static const char *const adj[] = {
        "soft",  "hard", "high",  "low",   "wide", "round",    "flat",    "square", "pointed",
        "thick", "thin", "long",  "short", "half", "full",     "double",  "single", "deep",
        "large", "big",  "small", "open",  "slim", "straight", "stiletto"};
    static const char *const part[] = {
        "sole",   "toe",    "heel",  "waist",   "leg",      "sleeve",      "sleeves",  "neck",
        "collar", "top",    "head",  "tip",     "mouth",    "brim",        "edge",     "handle",
        "finger", "power",  "noise", "suction", "pressure", "speed",       "capacity", "rise",
        "layer",  "bottom", "cuff",  "back",    "frame",    "temperature", "carbon"};
    static const char *const resist[] = {"resistant", "proof", "free", "friendly"};
    const char *sp = memchr(e, ' ', en);
    size_t al, pl;
    bool ok = false;

    if (!sp || memchr(sp + 1, ' ', en - (size_t)(sp + 1 - e)))
        return 0;
    al = (size_t)(sp - e);
    pl = en - al - 1;
    ok = WORD_IN(adj, e, al, true);
    for (size_t k = 0; k < sizeof(part) / sizeof(part[0]) && ok; k++)
        if (strlen(part[k]) == pl && strncmp(sp + 1, part[k], pl) == 0)
            return al;
    /* heat resistant, water proof, BPA free: a noun and an adjective of what it resists */
    for (size_t k = 0; k < sizeof(resist) / sizeof(resist[0]); k++)
        if (strlen(resist[k]) == pl && strncmp(sp + 1, resist[k], pl) == 0 &&
            is_plain_word(e, al) && e[0] >= 'a' && e[0] <= 'z')
            return al;
    return 0;
}

/*
 * Whether a title word after a head noun only qualifies it (see is_scene): every word of its
 * English is a modifier word ("small household", "fully automatic"), or it is an adjective
 * and a part ("soft sole").
 */
static bool is_material(const char *e, size_t en);
static bool is_season(const char *e, size_t en);

/*
 * 春秋款 "spring/autumn style", 新款 "new style": a kind of style that qualifies a title
 * head is said without "style" before it ("women's spring/autumn knit cardigan"). Returns the
 * length to say, 0 when e is no such phrase.
 */
static size_t
style_qualifier(const char *e, size_t en)
{
    static const char *const word[] = {"new",   "couple",    "classic",
                                       "basic", "versatile", "trending"};
    size_t pn = en - 6;

    if (en < 8 || memcmp(e + en - 6, " style", 6) != 0)
        return 0;
    if (is_season(e, pn))
        return pn;
    if (WORD_IN(word, e, pn, true))
        return pn;
    return 0;
}

static bool
title_modifier(const struct cand *c)
{
    char e[128];
    size_t en, at = 0;
    bool verb;

    if (!is_han_word(c))
        return false; /* not numbers or Latin: 衣长70cm is a label and its value */
    en = token_english_verb(c, e, &verb);
    if (en == 0)
        return false;
    if (is_audience(e, en))
        return true; /* 登山鞋男 "men's hiking shoes" */
    if (c->len < 2)
        return false;
    if (is_scene(e, en) || compound_modifier(e, en) || is_material(e, en) || style_qualifier(e, en))
        return true;
    while (at < en) {
        const char *sp = memchr(e + at, ' ', en - at);
        size_t wl = sp ? (size_t)(sp - (e + at)) : en - at;
        if (!(wl == 3 && memcmp(e + at, "and", 3) == 0) && !modifier_word(e + at, wl, false))
            return false;
        at += wl + 1;
    }
    return true;
}

/*
 * Whether English with a hyphen still ends in a product noun: "T-shirt" (one letter and a
 * noun), "no-show socks" (a last word without one). Not "non-slip", "ultra-light".
 */
static bool
hyphen_noun(const char *e, size_t en)
{
    const char *last = e, *h;

    for (size_t k = 0; k + 1 < en; k++)
        if (e[k] == ' ')
            last = e + k + 1;
    h = memrchr(last, '-', en - (size_t)(last - e));
    if (h && h != last + 1)
        return false; /* ultra-light, high-top */
    if (h)
        last = h + 1;
    return is_domain(last, en - (size_t)(last - e));
}

/*
 * An adjective and a part said before a noun are one modifier: "soft sole" becomes
 * "soft-sole" when a head noun is owed at the end of the group or the next word of the group
 * is Han text (软底凉鞋 "soft-sole sandals"). *t may then point into buf.
 */
static void
joined_modifier(const struct cand *choice, size_t n, size_t i, bool head_pending, const char **t,
                size_t tl, char buf[128])
{
    size_t al = compound_modifier(*t, tl);

    if (al == 0 || tl >= 128 ||
        !(head_pending ||
          (!is_bound(choice, n, i + choice[i].len) && is_han_word(&choice[i + choice[i].len]))))
        return;
    memmove(buf, *t, tl);
    buf[al] = '-';
    buf[tl] = '\0';
    *t = buf;
}

static int is_scene_or_audience(const struct cand *c);

/* Whether English or its last word names a material: "pure copper" is no product. */
static bool
material_word(const char *e, size_t en)
{
    static const char *const word[] = {"copper", "cotton",   "steel",    "leather",  "silk",
                                       "wool",   "linen",    "nylon",    "alloy",    "titanium",
                                       "brass",  "silicone", "aluminum", "aluminium"};
    const char *last = e;
    size_t ln;

    for (size_t k = 0; k + 1 < en; k++)
        if (e[k] == ' ')
            last = e + k + 1;
    ln = en - (size_t)(last - e);
    if (WORD_IN(word, last, ln, true))
        return true; /* not glass or iron, which are products too */
    return is_material(e, en);
}

/* Whether a Han word's English names a season (秋冬 "autumn and winter"). */
static bool
season_token(const struct cand *c)
{
    char e[128];
    size_t en = is_han_word(c) ? token_english(c, e) : 0;

    return en && is_season(e, en);
}

/* Whether a Han word's English names a material (冰丝 "ice silk"). */
static bool
material_token(const struct cand *c)
{
    char e[128];
    size_t en = is_han_word(c) ? token_english(c, e) : 0;

    return en && material_word(e, en);
}

/*
 * Whether a title word names a use or activity (运动 "sports", 骑行 "cycling"), which English
 * says right before the product noun: "waterproof cycling backpack".
 */
static bool
is_use(const struct cand *c)
{
    static const char *const word[] = {
        "sports",  "sport",    "fitness",  "travel",   "running",    "cycling",   "camping",
        "fishing", "hiking",   "swimming", "climbing", "riding",     "skiing",    "driving",
        "jogging", "training", "yoga",     "gym",      "travelling", "traveling", "office",
        "school",  "exam",     "business", "karaoke",  "outdoor",    "indoor",    "sleep",
        "writing", "counting", "art"};
    char e[128];
    size_t en = is_han_word(c) ? token_english(c, e) : 0;

    return en && WORD_IN(word, e, en, true);
}

/* Whether English names a season or seasons ("summer", "autumn and winter"). */
static bool
is_season(const char *e, size_t en)
{
    static const char *const word[] = {"summer",
                                       "winter",
                                       "spring",
                                       "autumn",
                                       "autumn and winter",
                                       "spring and autumn",
                                       "spring/autumn",
                                       "autumn/winter",
                                       "spring and summer",
                                       "spring/summer"};
    return WORD_IN(word, e, en, true);
}

/* Whether English names a material ("stainless steel", "cotton", "genuine leather"). */
static bool
is_material(const char *e, size_t en)
{
    static const char *const word[] = {
        "cotton", "leather", "wooden",     "metal",       "plastic",         "silicone",
        "glass",  "ceramic", "canvas",     "wool",        "linen",           "silk",
        "nylon",  "bamboo",  "aluminum",   "aluminium",   "stainless steel", "genuine leather",
        "alloy",  "wood",    "solid wood", "100% cotton", "pure cotton",     "titanium",
        "copper", "brass",   "iron",       "cast iron",   "carbon steel",    "porcelain"};
    return WORD_IN(word, e, en, true);
}

/*
 * Scene words that English says before a material, like a quality ("large capacity canvas
 * tote bag", "winter cotton slippers"); not a use, which stays next to the noun ("cotton
 * running socks").
 */
static bool
said_before_material(const char *e, size_t en)
{
    static const char *const word[] = {"large capacity",
                                       "outdoor",
                                       "indoor",
                                       "household",
                                       "home",
                                       "mini",
                                       "premium grade",
                                       "summer",
                                       "winter",
                                       "spring",
                                       "autumn",
                                       "daily",
                                       "all seasons",
                                       "smart",
                                       "professional",
                                       "autumn and winter",
                                       "spring and autumn",
                                       "spring/autumn",
                                       "autumn/winter",
                                       "spring and summer"};
    return WORD_IN(word, e, en, true);
}

/*
 * Whether the word at j is 防/抗/耐/无 before a noun that has no word of its own, which are
 * said as one modifier (防噪音 "anti-noise", 无漆 "paint-free"; see itx_dict_translate).
 */
static bool
affix_pair(const struct cand *choice, const struct cp *cps, size_t n, size_t j)
{
    char e[128];

    return choice[j].len == 1 && is_han_word(&choice[j]) && !is_bound(choice, n, j + 1) &&
           (cps[j].c == 0x9632 /* 防 */ || cps[j].c == 0x6297 /* 抗 */ ||
            cps[j].c == 0x8010 /* 耐 */ || cps[j].c == 0x65e0 /* 无 */) &&
           affixable_noun(choice, n, j + 1, e) != 0;
}

/*
 * Whether the title word at i is a material followed, to the end of its group, only by
 * qualities and shapes (not scenes, users or other materials), which English says before
 * the material: "long-handle stainless steel spoon".
 */
static bool
material_last(const struct cand *choice, const struct cp *cps, size_t n, size_t i)
{
    char e[128];
    size_t en = is_han_word(&choice[i]) ? token_english(&choice[i], e) : 0;

    if (!en || !is_material(e, en) || is_bound(choice, n, i + choice[i].len))
        return false;
    for (size_t j = i + choice[i].len; !is_bound(choice, n, j); j += choice[j].len) {
        if (affix_pair(choice, cps, n, j)) {
            j += choice[j].len; /* 实木无漆 "paint-free solid wood" */
            continue;
        }
        en = is_han_word(&choice[j]) ? token_english(&choice[j], e) : 0;
        if (!en || !title_modifier(&choice[j]) || is_material(e, en) ||
            (is_scene_or_audience(&choice[j]) && !said_before_material(e, en)))
            return false;
    }
    return true;
}

/*
 * Nouns of a quantity or quality that an adjective before them makes a modifier phrase
 * rather than a product (low fat, high quality, big suction), besides is_attribute's.
 */
static bool
quality_noun(const char *s, size_t n)
{
    static const char *const word[] = {
        "fat",   "sugar",    "salt",       "calorie", "calories",   "noise",      "power",
        "price", "pressure", "speed",      "quality", "suction",    "brightness", "density",
        "count", "strength", "elasticity", "output",  "efficiency", "precision",  "grade"};
    if (WORD_IN(word, s, n, true))
        return true;
    return is_attribute(s, n);
}

/*
 * Whether the English of a title's first word can be its head noun: not a modifier by its
 * form (an adjective's ending, a hyphenated compound, a first word that is an adjective), not
 * a quality noun (size, fit, design), not a name, not a phrase with a preposition. strict: nor
 * a phrase whose first word is a modifier (low fat, kitchen knife).
 */
static bool
head_noun(const char *e, size_t en, bool strict)
{
    static const char *const adj_end[] = {
        "al",   "ic", "ent", "ant", "ive", "ous", "ful", "less", "able", "ible", "proof",
        "free", "ed", "ing", "ish", "cy",  "ky",  "py",  "fy",   "sy",   "zy",   "ary"};
    static const char *const prep[] = {" with ", " for ", " of ", " to ", " on ", " in ", " and "};
    const char *sp = memchr(e, ' ', en), *last = e;
    char first[64];
    size_t ln, fl = sp ? (size_t)(sp - e) : en;

    if (en == 0 || (memchr(e, '-', en) && !hyphen_noun(e, en)) ||
        (e[0] >= 'A' && e[0] <= 'Z' && !(e[1] == '-' && hyphen_noun(e, en)) &&
         !(memchr(e, ' ', en) && !memchr(e, '-', en) && hyphen_noun(e, en))) ||
        strpbrk(e, "0123456789%'/"))
        return false;
    for (size_t k = 0; k < sizeof(prep) / sizeof(prep[0]); k++)
        if (strstr(e, prep[k]))
            return false;
    for (size_t k = 0; k + 1 < en; k++)
        if (e[k] == ' ')
            last = e + k + 1;
    ln = en - (size_t)(last - e);
    for (size_t k = 0; k < sizeof(adj_end) / sizeof(adj_end[0]); k++) {
        size_t l = strlen(adj_end[k]);
        if (ln > l + 2 && memcmp(last + ln - l, adj_end[k], l) == 0 && !is_domain(last, ln))
            return false;
    }
    /* 吊灯 "pendant light" names a product; 光线 "light" alone or "soft light" do not */
    if ((is_attribute(last, ln) &&
         !(last > e && is_domain(last, ln) && !modifier_word(e, fl, true))) ||
        is_scene(e, en) || is_adjective(e, en))
        return false;
    if (strict && sp && fl < sizeof(first)) {
        memcpy(first, e, fl);
        first[fl] = '\0';
        if (modifier_word(first, fl, true) && !(memchr(first, '-', fl) && hyphen_noun(e, en)) &&
            (quality_noun(last, ln) || compound_modifier(e, en)))
            return false; /* low fat, high power; not electric toothbrush, no-show socks */
    }
    return true;
}

/* Whether a title word names whom a product is for (2) or a scene or season (1); 0 if not. */
static int
is_scene_or_audience(const struct cand *c)
{
    char e[128];
    size_t en = is_han_word(c) ? token_english(c, e) : 0;

    if (en && is_audience(e, en))
        return 2;
    return en && is_scene(e, en) ? 1 : 0;
}

/*
 * Whether the words from i to the end of the group only qualify what comes before them (棉拖鞋
 * 女冬季室内 "women's cotton slippers, winter, indoor"): a noun before them is no modifier and
 * keeps its plural.
 */
static bool
qualifies_after(const struct cand *choice, size_t n, size_t i)
{
    if (is_bound(choice, n, i))
        return false;
    for (; !is_bound(choice, n, i); i += choice[i].len)
        if (!title_modifier(&choice[i]))
            return false;
    return true;
}

/*
 * Whether a title word names a part a product comes with (夹子 "clip", 自动扣 "automatic
 * buckle"), which a title closes with and English says after "with".
 */
static bool
is_feature(const struct cand *c)
{
    static const char *const part[] = {"clip",   "clips",  "buckle", "lid",    "hook",
                                       "hooks",  "strap",  "wheels", "pocket", "pockets",
                                       "zipper", "mirror", "handle", "cover",  "remote control"};
    char e[128];
    size_t en = is_han_word(c) ? token_english(c, e) : 0;
    const char *last = e;

    if (en == 0 || c->len < 2 || title_modifier(c) || takes_object(e, en))
        return false;
    for (size_t k = 0; k + 1 < en; k++)
        if (e[k] == ' ')
            last = e + k + 1;
    if (last > e && memchr(e, ' ', (size_t)(last - e) - 1))
        return false; /* two words at most */
    for (size_t k = 0; k < sizeof(part) / sizeof(part[0]); k++)
        if (strlen(part[k]) == en - (size_t)(last - e) && strcmp(last, part[k]) == 0)
            return true;
    return en == 14 && strcmp(e, "remote control") == 0;
}

static bool size_label(const struct cand *c);

/* Whether a word from i to the end of its group says whom a title is for. */
static bool
title_has_audience(const struct cand *choice, size_t n, size_t i)
{
    for (; !is_bound(choice, n, i); i += choice[i].len)
        if (is_scene_or_audience(&choice[i]) == 2)
            return true;
    return false;
}

/*
 * At the start of a group: whether it is a product title that names its head noun first and
 * then only qualifies it (头盔骑行 "helmet cycling", 订书机办公 "stapler office"), which
 * English says the other way round ("cycling helmet", "office stapler"). Returns 1 for such a
 * title, 2 when its last word names the head again (the head is then not said), 0 otherwise.
 */
static int
head_first(const struct cand *choice, const struct cp *cps, size_t n, size_t i, size_t *head_at,
           size_t *head_end, size_t *noun_at_out)
{
    const struct cand *h;
    char e[128];
    size_t en, j, start = i, lead, noun_at = (size_t)-1, material_at = (size_t)-1;
    unsigned k = 0, nh = 1;
    bool verb, audience = false, scene_head = false;

    /*
     * 儿童凉鞋防滑 "children's non-slip sandals": whom it is for may open the title, then the
     * head and its qualifiers; it stays first.
     */
    while (!is_bound(choice, n, start) && is_scene_or_audience(&choice[start]) == 2) {
        en = token_english(&choice[start], e);
        if (e[en - 1] != '\'' && !(en > 2 && e[en - 2] == '\'' && e[en - 1] == 's')) {
            /* 婴儿浴盆可折叠 "foldable baby bathtub": "baby" starts the head noun. */
            if (en == 4 && memcmp(e, "baby", 4) == 0 && noun_at == (size_t)-1)
                noun_at = start;
            else
                break;
        }
        start += choice[start].len;
    }
    if (start > i && is_bound(choice, n, start))
        return 0;
    audience = start > i;
    h = &choice[start];
    lead = start;
    /*
     * 轻薄羽绒服女短款 "women's short lightweight down jacket": the head may open with
     * modifier words when whom it is for follows or opens it.
     */
    while (!is_bound(choice, n, lead) && is_han_word(&choice[lead]) && choice[lead].len >= 2 &&
           (title_modifier(&choice[lead]) || material_token(&choice[lead])) &&
           (!is_scene_or_audience(&choice[lead]) || material_token(&choice[lead]) ||
            season_token(&choice[lead]))) {
        /* 冰丝阔腿裤 "ice silk": a material just before the head is said with it */
        material_at = material_token(&choice[lead]) ? lead : (size_t)-1;
        lead += choice[lead].len;
    }
    if (lead > start && !is_bound(choice, n, lead))
        h = &choice[lead];
    else
        lead = start;
    j = lead + h->len;
    if (!is_han_word(h) || (h->type == 1 && h->tr && h->tr[0] == '<'))
        return 0;
    en = token_english_verb(h, e, &verb);
    /* 陶瓷碗大号 "large ceramic bowl": one character is a head after modifiers only */
    if (h->len < 2 && !(lead > start && en && is_domain(e, en)))
        return 0;
    /* 运动腰包跑步 "running sports waist bag": a scene word may open a head of nouns */
    if (en && is_scene_or_audience(h) == 1 && !is_season(e, en) && !is_bound(choice, n, j) &&
        is_han_word(&choice[j]) && choice[j].len >= 2 && !title_modifier(&choice[j])) {
        char t[128];
        size_t tn = token_english_verb(&choice[j], t, &verb);
        const char *lw = t;
        for (size_t q = 0; q + 1 < tn; q++)
            if (t[q] == ' ')
                lw = t + q + 1;
        if (tn && !verb && head_noun(t, tn, true) && is_domain(lw, tn - (size_t)(lw - t)))
            scene_head = true;
    }
    /* 跳绳 "jump rope": a verb and its object that English also uses as a product noun */
    if (verb && memchr(e, ' ', en)) {
        const char *lw = (const char *)memrchr(e, ' ', en) + 1;
        verb = !is_domain(lw, en - (size_t)(lw - e));
    }
    if (en == 0 || verb || (title_modifier(h) && !scene_head) || takes_object(e, en) ||
        is_audience(e, en) || (!head_noun(e, en, false) && !scene_head) || material_word(e, en))
        return 0;
    /* 电脑音箱桌面 "desktop computer speaker": a head of up to three nouns. */
    /* 化妆刷 "makeup" + 刷 "brush": a product noun of one character joins it too. */
    while (nh < 3 && !is_bound(choice, n, j) && is_han_word(&choice[j]) &&
           !title_modifier(&choice[j]) && !is_bound(choice, n, j + choice[j].len)) {
        char t[128];
        size_t tn = token_english_verb(&choice[j], t, &verb);
        const char *lw = t;
        for (size_t q = 0; q + 1 < tn; q++)
            if (t[q] == ' ')
                lw = t + q + 1;
        /* Only a product noun joins the head (刀具套装 "knife set"), not a material. */
        if (tn == 0 || verb || !head_noun(t, tn, false) || !is_domain(lw, tn - (size_t)(lw - t)))
            break;
        j += choice[j].len;
        nh++;
    }
    *noun_at_out = lead;
    *head_at = noun_at != (size_t)-1 && lead == start ? noun_at : lead;
    if (material_at != (size_t)-1 && lead > start)
        *head_at = material_at;
    /*
     * 无线鼠标静音 "silent wireless mouse": for no one in particular, the modifiers a head
     * opens with name its kind and stay next to it.
     */
    if (lead > start && !audience && !title_has_audience(choice, n, j))
        *head_at = start;
    *head_end = j;
    for (; !is_bound(choice, n, j); j += choice[j].len, k++) {
        if (title_modifier(&choice[j])) {
            audience |= is_scene_or_audience(&choice[j]) == 2;
            continue;
        }
        /* 耳塞防噪音 "anti-noise earplugs": 防/抗/耐/无 and a noun said as one modifier */
        if (affix_pair(choice, cps, n, j)) {
            j += choice[j].len;
            continue;
        }
        /* 运动鞋男42码: a size label closing the title is said after the head */
        if (is_bound(choice, n, j + choice[j].len) && size_label(&choice[j]) && k >= 1)
            continue;
        /* 阅读灯夹子 "reading light with clip": a part closing the title is a feature */
        if (is_bound(choice, n, j + choice[j].len) && is_feature(&choice[j]) && hyphen_noun(e, en))
            continue;
        if (lead > start)
            return 0;
        /* 半身裙女a字裙 "skirt women's A-line skirt": the last word names the head again. */
        if (nh == 1 && is_bound(choice, n, j + choice[j].len)) {
            char t[128];
            size_t tn = token_english(&choice[j], t), hl = en, tl = tn;
            const char *hw = e, *tw = t;
            for (size_t q = 0; q + 1 < en; q++)
                if (e[q] == ' ')
                    hw = e + q + 1;
            for (size_t q = 0; q + 1 < tn; q++)
                if (t[q] == ' ')
                    tw = t + q + 1;
            hl = en - (size_t)(hw - e);
            tl = tn - (size_t)(tw - t);
            if (hl >= 3 && tl >= hl && tl <= hl + 1 && strncasecmp(hw, tw, hl) == 0 &&
                (tl == hl || tw[hl] == 's') && !takes_object(t, tn)) {
                *head_at = lead; /* "baby" is said, the head is not */
                return 2;
            }
        }
        return 0;
    }
    return k >= 1 && (head_noun(e, en, true) || scene_head);
}

/*
 * At the start of a group: whether it opens with a room (厨房 "kitchen") and then only states
 * qualities before a head noun closing the group (卫生间防水置物架); English says the room
 * right before that noun ("waterproof bathroom storage rack"). Returns where the head noun
 * starts, or (size_t)-1.
 */
static size_t
room_first(const struct cand *choice, size_t n, size_t i)
{
    static const char *const room[] = {"kitchen", "bathroom", "bedroom", "living room",
                                       "dining room"};
    char e[128];
    size_t en = is_han_word(&choice[i]) ? token_english(&choice[i], e) : 0, j, k = 0;
    bool ok = false, verb;

    for (size_t q = 0; q < sizeof(room) / sizeof(room[0]) && en; q++)
        ok = ok || (strlen(room[q]) == en && strncasecmp(e, room[q], en) == 0);
    if (!ok)
        return (size_t)-1;
    for (j = i + choice[i].len; !is_bound(choice, n, j) && !is_bound(choice, n, j + choice[j].len);
         j += choice[j].len, k++) {
        en = is_han_word(&choice[j]) ? token_english(&choice[j], e) : 0;
        if (!en ||
            !(title_modifier(&choice[j]) || (en > 6 && memcmp(e + en - 6, " style", 6) == 0)) ||
            is_scene_or_audience(&choice[j]))
            return (size_t)-1;
    }
    if (k == 0 || is_bound(choice, n, j) || !is_han_word(&choice[j]) || choice[j].len < 2)
        return (size_t)-1;
    en = token_english_verb(&choice[j], e, &verb);
    if (!en || verb || title_modifier(&choice[j]) || !head_noun(e, en, false))
        return (size_t)-1;
    return j;
}

/*
 * Whether the word at cps[i] (len code points) marks whom or what a product is for:
 * 专用/适用/可用 (1) or a single 用 (2, "use"); 0 otherwise.
 */
static int
use_marker(const struct cp *cps, size_t i, unsigned len)
{
    if (len == 1 && cps[i].c == 0x7528 /* 用 */)
        return 2;
    if (len == 2 && cps[i + 1].c == 0x7528 &&
        (cps[i].c == 0x4e13 /* 专 */ || cps[i].c == 0x9002 /* 适 */ || cps[i].c == 0x53ef /* 可 */))
        return 1;
    return 0;
}

/* The symbol of a metric unit word at cps[i] (len code points): 米 "m", 毫升 "ml"; or NULL. */
static const char *
unit_symbol(const struct cp *cps, size_t i, unsigned len)
{
    static const struct {
        uint32_t c[2];
        const char *sym;
    } unit[] = {
        {{0x7c73, 0}, "m"},        /* 米 */
        {{0x5398, 0x7c73}, "cm"},  /* 厘米 */
        {{0x6beb, 0x7c73}, "mm"},  /* 毫米 */
        {{0x516c, 0x5206}, "cm"},  /* 公分 */
        {{0x514b, 0}, "g"},        /* 克 */
        {{0x5343, 0x514b}, "kg"},  /* 千克 */
        {{0x516c, 0x65a4}, "kg"},  /* 公斤 */
        {{0x6beb, 0x5347}, "ml"},  /* 毫升 */
        {{0x5347, 0}, "L"},        /* 升 */
        {{0x74e6, 0}, "W"},        /* 瓦 */
        {{0x4f0f, 0}, "V"},        /* 伏 */
        {{0x6beb, 0x5b89}, "mAh"}, /* 毫安 */
    };
    for (size_t k = 0; k < sizeof(unit) / sizeof(unit[0]); k++) {
        unsigned ul = unit[k].c[1] ? 2 : 1;
        if (ul == len && cps[i].c == unit[k].c[0] && (ul == 1 || cps[i + 1].c == unit[k].c[1]))
            return unit[k].sym;
    }
    return NULL;
}

/*
 * The -ing form of the first word of an English verb phrase into out ("use" -> "using",
 * "drive a car" -> "driving a car", "put" -> "putting"); returns its length, 0 when it does
 * not fit.
 */
static size_t
gerund(const char *s, size_t n, char *out, size_t size)
{
    const char *sp = memchr(s, ' ', n);
    size_t fw = sp ? (size_t)(sp - s) : n, w = fw;

    if (fw == 0 || n + 5 > size)
        return 0;
    memcpy(out, s, fw);
    if (fw > 2 && s[fw - 1] == 'e' && s[fw - 2] != 'e') {
        w--; /* use -> using */
    } else if (fw >= 3 && fw <= 4 && !strchr("aeiouwxy", s[fw - 1]) && strchr("aeiou", s[fw - 2]) &&
               !strchr("aeiou", s[fw - 3])) {
        out[w++] = s[fw - 1]; /* put -> putting, run -> running */
    }
    memcpy(out + w, "ing", 3);
    w += 3;
    memcpy(out + w, s + fw, n - fw);
    w += n - fw;
    out[w] = '\0';
    return w;
}

/* Whether cps[i..i+1] says "easy": 方便, 简单, 容易, 轻松. */
static bool
is_easy(const struct cp *cps, size_t i)
{
    static const uint32_t word[][2] = {
        {0x65b9, 0x4fbf}, /* 方便 */
        {0x7b80, 0x5355}, /* 简单 */
        {0x5bb9, 0x6613}, /* 容易 */
        {0x8f7b, 0x677e}, /* 轻松 */
    };
    for (size_t k = 0; k < sizeof(word) / sizeof(word[0]); k++)
        if (cps[i].c == word[k][0] && cps[i + 1].c == word[k][1])
            return true;
    return false;
}

/*
 * The comparative of a short English adjective ("safe" -> "safer", "big" -> "bigger",
 * "tasty" -> "tastier", "good" -> "better") into out; false when English says "more X".
 */
static bool
comparative(const char *s, size_t n, char *out, size_t size)
{
    static const char *const irregular[][2] = {{"good", "better"}, {"bad", "worse"}};
    static const char *const word[] = {
        "safe",   "light",  "large",  "big",    "small", "soft",  "warm",   "thin",  "thick",
        "strong", "fast",   "quick",  "long",   "short", "wide",  "bright", "clean", "cool",
        "fresh",  "high",   "low",    "smooth", "tight", "loose", "quiet",  "sweet", "deep",
        "dry",    "firm",   "fine",   "cheap",  "dense", "hard",  "heavy",  "hot",   "mild",
        "new",    "pure",   "rich",   "sharp",  "slim",  "tall",  "tough",  "easy",  "healthy",
        "tasty",  "sturdy", "pretty", "cozy",   "close", "calm",  "flat",   "full",  "great"};
    bool known = false;
    size_t w;

    for (size_t i = 0; i < sizeof(irregular) / sizeof(irregular[0]); i++)
        if (strlen(irregular[i][0]) == n && memcmp(s, irregular[i][0], n) == 0) {
            snprintf(out, size, "%s", irregular[i][1]);
            return true;
        }
    for (size_t i = 0; i < sizeof(word) / sizeof(word[0]) && !known; i++)
        known = strlen(word[i]) == n && memcmp(s, word[i], n) == 0;
    if (!known || n + 4 > size)
        return false;
    memcpy(out, s, n);
    w = n;
    if (s[n - 1] == 'e') {
        out[w++] = 'r';
    } else if (s[n - 1] == 'y' && n > 2 && !strchr("aeiou", s[n - 2])) {
        out[w - 1] = 'i';
        out[w++] = 'e';
        out[w++] = 'r';
    } else {
        /* big, thin, hot, slim, flat: one vowel between consonants doubles the last one. */
        if (n >= 3 && !strchr("aeiouwy", s[n - 1]) && strchr("aeiou", s[n - 2]) &&
            !strchr("aeiou", s[n - 3]))
            out[w++] = s[n - 1];
        out[w++] = 'e';
        out[w++] = 'r';
    }
    out[w] = '\0';
    return true;
}

/*
 * CEDICT's verb sense of the word at cps[i] (len code points) of the normalised text s,
 * whatever the path translated it with (清洗 "to clean" -> "clean"); 0 when it has none.
 */
static size_t
word_verb(const struct itx_dict *dict, const char *s, const struct cp *cps, size_t i, unsigned len,
          char buf[128])
{
    size_t from = cps[i].at, to = cps[i + len - 1].at + cps[i + len - 1].len, sl;
    const char *senses = itx_dict_lookup(dict, s + from, to - from, &sl);

    return senses ? pick_verb_sense(senses, sl, buf) : 0;
}

/*
 * The verb a token says, for where English wants one: its glossary translation when that is
 * not a modifier form (取出 "take out"), else CEDICT's verb sense of its text; 0 for none.
 */
static size_t
token_verb(const struct itx_dict *dict, const char *s, const struct cp *cps, const struct cand *c,
           size_t i, char buf[128])
{
    if (c->type == 1 && c->tr && c->tr[0] != '<' && c->tr_len < 128 &&
        !is_modifier_form(c->tr, c->tr_len) && word_verb(dict, s, cps, i, c->len, buf) > 0) {
        memcpy(buf, c->tr, c->tr_len);
        buf[c->tr_len] = '\0';
        return c->tr_len;
    }
    return word_verb(dict, s, cps, i, c->len, buf);
}

/*
 * 闹钟学生专用 "alarm clock for students", 适合大人 "suitable for adults": whom a product is
 * for, said after "for" closing a group, is plural when it counts people or animals. When out
 * ends with "for" and one such word, the word becomes its plural. Returns a status.
 */
static enum itx_status
plural_after_for(struct itx_buf *out, size_t start)
{
    static const char *const word[][2] = {
        {"adult", "adults"},     {"student", "students"},   {"beginner", "beginners"},
        {"dog", "dogs"},         {"cat", "cats"},           {"kid", "kids"},
        {"child", "children"},   {"baby", "babies"},        {"pet", "pets"},
        {"man", "men"},          {"woman", "women"},        {"girl", "girls"},
        {"boy", "boys"},         {"teenager", "teenagers"}, {"senior", "seniors"},
        {"toddler", "toddlers"}, {"infant", "infants"},     {"puppy", "puppies"},
        {"kitten", "kittens"},   {"newborn", "newborns"},   {"athlete", "athletes"},
        {"couple", "couples"},   {"elder", "elders"},       {"pupil", "pupils"}};
    size_t end = out->len, w0 = end;

    while (w0 > start && out->data[w0 - 1] != ' ')
        w0--;
    if (w0 < start + 4 || strncasecmp(out->data + w0 - 4, "for ", 4) != 0 ||
        (w0 > start + 4 && out->data[w0 - 5] != ' '))
        return ITX_OK;
    for (size_t k = 0; k < sizeof(word) / sizeof(word[0]); k++)
        if (strlen(word[k][0]) == end - w0 && memcmp(out->data + w0, word[k][0], end - w0) == 0) {
            out->len = w0;
            out->data[w0] = '\0';
            return itx_buf_append(out, word[k][1], strlen(word[k][1]));
        }
    return ITX_OK;
}

/* Whether a template token is a size label: N码 "size {N}" or N号 "No. {N}", nothing else. */
static bool
size_label(const struct cand *c)
{
    const char *term, *tr;

    if (c->type != 0 || !c->g)
        return false;
    itx_tr_glossary_template(c->g, c->tmpl, &term, &tr);
    return tr && (strcmp(tr, "size {N}") == 0 || strcmp(tr, "No. {N}") == 0);
}

/* Whether English ends in a word for footwear, whose N号 is a size. */
static bool
footwear(const char *e, size_t en)
{
    static const char *const word[] = {"shoes",   "shoe",     "boots",  "boot",    "slippers",
                                       "sandals", "sneakers", "heels",  "loafers", "clogs",
                                       "flats",   "slipper",  "sandal", "sneaker"};
    const char *last = e;

    for (size_t k = 0; k + 1 < en; k++)
        if (e[k] == ' ')
            last = e + k + 1;
    for (size_t k = 0; k < sizeof(word) / sizeof(word[0]); k++)
        if (strlen(word[k]) == en - (size_t)(last - e) &&
            strncmp(last, word[k], strlen(word[k])) == 0)
            return true;
    return false;
}

/* English for a container said after 每 ("per bag"), or NULL. */
static const char *
per_container(uint32_t c)
{
    switch (c) {
    case 0x888b: /* 袋 */
        return "bag";
    case 0x76d2: /* 盒 */
        return "box";
    case 0x5305: /* 包 */
        return "pack";
    case 0x74f6: /* 瓶 */
        return "bottle";
    case 0x7bb1: /* 箱 */
        return "case";
    case 0x5957: /* 套 */
        return "set";
    case 0x7f50: /* 罐 */
        return "can";
    case 0x5377: /* 卷 */
        return "roll";
    case 0x6392: /* 排 */
        return "row";
    case 0x5c42: /* 层 */
        return "layer";
    case 0x4eba: /* 人 */
        return "person";
    case 0x5929: /* 天 */
        return "day";
    case 0x4ef6: /* 件 */
        return "item";
    default:
        return NULL;
    }
}

enum itx_status
itx_dict_translate(const struct itx_dict *dict, const struct itx_glossary *glossary,
                   const struct itx_glossary *req_glossary, const char *text, struct itx_buf *out,
                   struct itx_dict_stats *stats, struct itx_diag *d)
{
    struct itx_buf norm;
    char sense[128];
    size_t sense_len;
    struct cp *cps = NULL;
    double *best = NULL;
    struct cand *choice = NULL;
    struct ctx x;
    struct writer w = {.out = out, .start = out->len, .prev = TK_SPACE, .cap_next = true};
    struct itx_dict_stats st = {0};
    enum itx_status s;
    size_t n = 0;
    bool choice_prev_bound = true;
    size_t prev_tok = (size_t)-1; /* where the previous token of the path starts */
    char say_last[128];           /* owed at the end of the group ("storewide") */
    size_t say_last_len = 0;
    size_t group = 0;               /* where the current group of words starts */
    size_t group_out = out->len;    /* where its English starts in out */
    size_t said_first = (size_t)-1; /* a closing audience word already said first */
    size_t season = (size_t)-1;     /* a closing season word, said at season_at */
    size_t say_head = 0;            /* where the head noun proper starts in say_last */
    size_t feature = (size_t)-1;    /* a part said after "with" at the end of the group */
    char restate[128];              /* a restated head's modifiers, said before restate_tok */
    size_t restate_len = 0, restate_tok = (size_t)-1;
    size_t season_at = (size_t)-1;
    size_t room = (size_t)-1, room_at = (size_t)-1; /* an opening room, said at room_at */
    size_t skip_at = (size_t)-1; /* tokens skip_at..skip_end were said already (用温水清洗) */
    size_t skip_end = 0;
    bool head_pending = false;      /* a title's head noun is owed at the end of the group */
    size_t second_out = (size_t)-1; /* where the group's second word starts in out */

    ITX_ASSERT(dict && text && out);
    itx_buf_init(&norm, MAX_TEXT_BYTES * 2);
    s = normalise(text, &norm, d);
    if (s)
        goto out;
    cps = itx_malloc_array(norm.len + 1, sizeof(*cps));
    best = itx_malloc_array(norm.len + 2, sizeof(*best));
    choice = itx_malloc_array(norm.len + 1, sizeof(*choice));
    if (!cps || !best || !choice) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory translating text");
        goto out;
    }
    for (size_t i = 0; i < norm.len;) {
        uint32_t c;
        size_t k = itx_tr_utf8_decode(norm.data + i, norm.len - i, &c);
        cps[n++] = (struct cp){.c = c, .at = i, .len = k};
        i += k;
    }
    x = (struct ctx){.dict = dict,
                     .gl = {req_glossary, glossary},
                     .s = norm.data ? norm.data : "",
                     .s_len = norm.len,
                     .cps = cps,
                     .n = n};
    best[n] = 0;
    for (size_t i = n; i-- > 0;) {
        best_at(&x, i, best, &choice[i]);
        best[i] = choice[i].cost;
    }
    for (size_t i = 0, joins[2] = {(size_t)-1, (size_t)-1}; i < n && s == ITX_OK;) {
        const struct cand *c = &choice[i];
        size_t from = cps[i].at, to = cps[i + c->len - 1].at + cps[i + c->len - 1].len;
        enum tok_kind k;
        const char *p;
        int um;
        char mod[128];

        if (say_last_len && c->type == 4) {
            s = emit(&w, say_last, say_last_len, TK_WORD, true);
            say_last_len = 0;
            head_pending = false;
            if (s)
                break;
        }
        if (room_at != (size_t)-1 && i > room_at) {
            /* a word joined with the next one went past the head: say the room now */
            size_t en = token_english(&choice[room], sense);
            s = emit(&w, sense, en, TK_WORD, true);
            room_at = room = (size_t)-1;
            if (s)
                break;
        }
        if (i == 0 || choice_prev_bound) {
            group = i;
            group_out = out->len;
            second_out = (size_t)-1;
            if (adjective_run(choice, n, i, joins) == 0)
                joins[0] = joins[1] = (size_t)-1;
            /* 运动套装男 "men's sports set": whom it is for goes first. */
            bool repeat = false;
            size_t head_at = i, head_end = i, head_noun_at = i;
            said_first = say_last_len == 0 && head_first(choice, cps, n, i, &head_at, &head_end,
                                                         &head_noun_at) != 0
                             ? (size_t)-1
                             : audience_last(choice, n, i, &repeat);
            if (said_first != (size_t)-1 && !repeat) {
                size_t en = token_english(&choice[said_first], sense);
                s = emit(&w, sense, en, TK_WORD, true);
                if (s)
                    break;
            }
            /* 头盔骑行 "cycling helmet": a head noun said first in a title goes last. */
            int hf = said_first == (size_t)-1 && say_last_len == 0
                         ? head_first(choice, cps, n, i, &head_at, &head_end, &head_noun_at)
                         : 0;
            if (hf) {
                size_t en = 0;
                /*
                 * The head's words, all but the last as modifiers ("computer speaker"); the
                 * modifiers it opens with are said first (轻薄羽绒服女短款 "women's
                 * lightweight short down jacket").
                 */
                for (size_t j = head_at; j < head_end; j += choice[j].len) {
                    char t[128], m[128];
                    if (j == head_noun_at)
                        say_head = en + (en > 0);
                    const char *tp = t;
                    size_t tn = token_english(&choice[j], t);
                    if (j + choice[j].len < head_end) {
                        /* 宝宝奶瓶 "baby" + "baby bottle": a word the next one starts with */
                        size_t nn = token_english(&choice[j + choice[j].len], m);
                        const char *tl = t, *ml = m;
                        if (nn > tn && m[tn] == ' ' && strncasecmp(m, t, tn) == 0)
                            continue;
                        /* 电风扇落地扇 "electric fan" + "floor fan": the noun is said once */
                        for (size_t q = 0; q + 1 < tn; q++)
                            if (t[q] == ' ')
                                tl = t + q + 1;
                        for (size_t q = 0; q + 1 < nn; q++)
                            if (m[q] == ' ')
                                ml = m + q + 1;
                        if (ml > m && strlen(tl) == strlen(ml) && strcasecmp(tl, ml) == 0) {
                            if (tl == t)
                                continue;
                            tn = (size_t)(tl - t) - 1;
                            t[tn] = '\0';
                        }
                        tn = modifier_form(&tp, tn, m);
                    }
                    if (en + tn + 2 > sizeof(say_last)) {
                        en = 0;
                        break;
                    }
                    if (en)
                        say_last[en++] = ' ';
                    memcpy(say_last + en, tp, tn);
                    en += tn;
                    say_last[en] = '\0';
                }
                /* 真皮腰带男自动扣 "... belt with automatic buckle" */
                for (size_t j = head_end; en && hf == 1 && !is_bound(choice, n, j);
                     j += choice[j].len) {
                    char t[128];
                    size_t tn;
                    if (!is_bound(choice, n, j + choice[j].len) || title_modifier(&choice[j]) ||
                        !is_feature(&choice[j]))
                        continue;
                    tn = token_english(&choice[j], t);
                    if (en + tn + 7 < sizeof(say_last)) {
                        memcpy(say_last + en, " with ", 6);
                        memcpy(say_last + en + 6, t, tn + 1);
                        en += tn + 6;
                        feature = j;
                    }
                }
                /*
                 * 切尔西靴男短靴 "Chelsea boots" + "ankle boots": a head named again by the
                 * last word keeps its modifiers, said before that word ("Chelsea ankle boots").
                 */
                restate_tok = (size_t)-1;
                if (en && hf == 2 && memchr(say_last, ' ', en)) {
                    size_t q = en;
                    while (q > 0 && say_last[q - 1] != ' ')
                        q--;
                    restate_len = q - 1;
                    memcpy(restate, say_last, restate_len);
                    for (size_t j = head_end; !is_bound(choice, n, j); j += choice[j].len)
                        restate_tok = j;
                }
                if (en) {
                    say_last_len = hf == 1 ? en : 0;
                    head_pending = hf == 1;
                    skip_at = head_at;
                    skip_end = head_end;
                    /* 剃须刀电动男士 "men's electric shaver": whom it is for goes first. */
                    for (size_t j = head_end; !is_bound(choice, n, j); j += choice[j].len) {
                        char ae[128];
                        size_t an = token_english(&choice[j], ae);
                        if ((j > head_end || head_at > i) && is_audience(ae, an)) {
                            s = emit(&w, ae, an, TK_WORD, true);
                            said_first = j;
                            break;
                        }
                    }
                    if (s)
                        break;
                    /*
                     * 卫衣男加厚冬季 "men's winter thickened sweatshirt": a season closing a
                     * title for someone is said right after whom it is for.
                     */
                    bool someone = false;
                    season_at = season = (size_t)-1;
                    for (size_t j = i; !is_bound(choice, n, j); j += choice[j].len) {
                        char ae[128];
                        size_t an = is_han_word(&choice[j]) ? token_english(&choice[j], ae) : 0;
                        someone |= an && is_audience(ae, an);
                        if (j >= head_end && an && is_season(ae, an) && season == (size_t)-1)
                            season = j;
                    }
                    season_at = i;
                    while (season_at < head_at && is_scene_or_audience(&choice[season_at]) == 2)
                        season_at += choice[season_at].len;
                    /* the audience said right after the head goes first too */
                    if (said_first == (size_t)-1 && head_at == i &&
                        is_scene_or_audience(&choice[head_end]) == 2)
                        season_at = head_end + choice[head_end].len;
                    if (!someone || season == (size_t)-1 || season_at == season)
                        season_at = season = (size_t)-1; /* for no one in particular */
                }
            }
            /*
             * 真皮腰带男自动扣 "men's genuine leather belt automatic buckle": whom a title is
             * for, said after its head noun and before more words, goes first too.
             */
            if (!hf && said_first == (size_t)-1 && say_last_len == 0) {
                size_t j = i, mid = (size_t)-1, prev = (size_t)-1;
                bool ok = true, verb;
                char ae[128];
                size_t an = token_english_verb(&choice[i], ae, &verb);
                if (!is_han_word(&choice[i]) || verb || takes_object(ae, an))
                    ok = false;
                for (; ok && !is_bound(choice, n, j); prev = j, j += choice[j].len) {
                    if (!is_han_word(&choice[j])) {
                        ok = false;
                    } else if (mid == (size_t)-1 && j > i && prev != (size_t)-1 &&
                               !is_bound(choice, n, j + choice[j].len)) {
                        size_t pn;
                        char pe[128];
                        an = token_english(&choice[j], ae);
                        pn = token_english(&choice[prev], pe);
                        /* not 新生儿婴儿帽, whose audience starts the noun 婴儿帽 */
                        if (is_audience(ae, an) && choice[prev].len >= 2 && pn &&
                            choice[j + choice[j].len].len >= 2 && !title_modifier(&choice[prev]) &&
                            head_noun(pe, pn, false))
                            mid = j;
                    }
                }
                if (ok && mid != (size_t)-1) {
                    an = token_english(&choice[mid], ae);
                    s = emit(&w, ae, an, TK_WORD, true);
                    said_first = mid;
                    if (s)
                        break;
                }
            }
            /*
             * 卫生间防水置物架 "waterproof bathroom storage rack": a room opening a title
             * before qualities of its head noun is said right before that noun.
             */
            room_at = !hf && said_first == (size_t)-1 && say_last_len == 0
                          ? room_first(choice, n, i)
                          : (size_t)-1;
            room = room_at != (size_t)-1 ? i : (size_t)-1;
        }
        if (i > group && prev_tok == group && second_out == (size_t)-1)
            second_out = out->len;
        if (i == room_at) {
            size_t en = token_english(&choice[room], sense);
            s = emit(&w, sense, en, TK_WORD, true);
            room_at = room = (size_t)-1;
            if (s)
                break;
        }
        if (i == season_at) {
            size_t en = token_english(&choice[season], sense);
            s = emit(&w, sense, en, TK_WORD, true);
            season_at = (size_t)-1;
            if (s)
                break;
        }
        if (i == restate_tok) {
            /* only the words the last one does not say itself ("hair" of "hair clipper") */
            char t[128], kept[128];
            size_t tn = is_han_word(c) ? token_english(c, t) : 0, kn = 0;
            restate_tok = (size_t)-1;
            for (size_t a = 0; a < restate_len;) {
                size_t b = a;
                bool in = false;
                while (b < restate_len && restate[b] != ' ')
                    b++;
                for (size_t q = 0; q + (b - a) <= tn && !in; q++)
                    in = (q == 0 || t[q - 1] == ' ') && (q + b - a == tn || t[q + b - a] == ' ') &&
                         strncasecmp(t + q, restate + a, b - a) == 0;
                if (!in) {
                    if (kn)
                        kept[kn++] = ' ';
                    memcpy(kept + kn, restate + a, b - a);
                    kn += b - a;
                }
                a = b + 1;
            }
            s = emit(&w, kept, kn, TK_WORD, true);
            if (s)
                break;
        }
        if (i == feature) {
            feature = (size_t)-1;
            choice_prev_bound = false;
            prev_tok = i;
            i += c->len;
            continue;
        }
        if (i == season || (i == room && room_at != (size_t)-1)) {
            season = i == season ? (size_t)-1 : season;
            choice_prev_bound = false;
            prev_tok = i;
            i += c->len;
            continue;
        }
        if (i >= skip_at && i < skip_end) {
            choice_prev_bound = false; /* the group goes on */
            prev_tok = i;
            i += c->len;
            continue;
        }
        /*
         * 勺子不锈钢长柄 "long-handle stainless steel spoon": a material qualifying a head
         * owed at the end goes right before it when only shapes and qualities follow it.
         */
        /*
         * 运动鞋男42号 "men's sneakers size 42": a size label closing a title follows its
         * head; after footwear, N号 is a size, not a number.
         */
        if (c->type == 0 && i > group && is_bound(choice, n, i + c->len) && size_label(c)) {
            char pe[128];
            size_t pn = 0, at;
            if (head_pending && say_last_len) {
                pn = say_last_len < sizeof(pe) ? say_last_len : 0;
                memcpy(pe, say_last, pn);
                s = emit(&w, say_last, say_last_len, TK_WORD, true);
                say_last_len = 0;
                head_pending = false;
            } else if (prev_tok != (size_t)-1 && prev_tok >= group && prev_tok < i &&
                       is_han_word(&choice[prev_tok])) {
                pn = token_english(&choice[prev_tok], pe);
            }
            at = out->len;
            if (s == ITX_OK)
                s = emit_template(&w, c, &x, i, false);
            while (at < out->len && out->data[at] == ' ')
                at++;
            if (s == ITX_OK && footwear(pe, pn) && out->len - at > 4 &&
                memcmp(out->data + at, "No. ", 4) == 0) {
                s = itx_buf_append(out, " ", 1); /* room for "size" */
                if (s == ITX_OK) {
                    memmove(out->data + at + 5, out->data + at + 4, out->len - at - 5);
                    memcpy(out->data + at, "size ", 5);
                }
            }
            st.n_tokens++;
            st.n_glossary++;
            choice_prev_bound = false;
            prev_tok = i;
            i += c->len;
            if (s)
                break;
            continue;
        }
        /*
         * 防水背包骑行 "waterproof cycling backpack": a use qualifying a head owed at the end
         * goes right before the head noun proper.
         */
        if (head_pending && i >= skip_end && (material_last(choice, cps, n, i) || is_use(c))) {
            char t[128];
            size_t tn = token_english(&choice[i], t), at = is_use(c) ? say_head : 0;
            bool again = false; /* 登山包徒步: "hiking backpack" says "hiking" already */
            for (size_t q = 0; q + tn <= say_last_len && !again; q++)
                again = (q == 0 || say_last[q - 1] == ' ') &&
                        (q + tn == say_last_len || say_last[q + tn] == ' ') &&
                        strncasecmp(say_last + q, t, tn) == 0;
            if (again || (tn + 1 + say_last_len < sizeof(say_last) && at <= say_last_len)) {
                if (!again) {
                    memmove(say_last + at + tn + 1, say_last + at, say_last_len - at + 1);
                    memcpy(say_last + at, t, tn);
                    say_last[at + tn] = ' ';
                    say_last_len += tn + 1;
                    say_head += tn + 1; /* a later use goes after this one */
                }
                choice_prev_bound = false;
                prev_tok = i;
                i += c->len;
                continue;
            }
        }
        /*
         * 请将电池取出 "please take out battery": 将/把 marks the object, which English says
         * after its verb.
         */
        if (c->len == 1 && is_han_word(c) &&
            (cps[i].c == 0x5c06 /* 将 */ || cps[i].c == 0x628a /* 把 */) && i + 1 < n &&
            is_han_word(&choice[i + 1]) && i + 1 + choice[i + 1].len < n &&
            is_han_word(&choice[i + 1 + choice[i + 1].len])) {
            size_t j = i + 1, vk = j + choice[j].len;
            char v[128], e[128];
            size_t vn = choice[vk].len >= 2 ? token_verb(dict, norm.data, cps, &choice[vk], vk, v)
                                            : 0,
                   en = token_english(&choice[j], e);
            if (vn && en) {
                s = emit(&w, v, vn, TK_WORD, true);
                if (s == ITX_OK)
                    s = emit(&w, e, en, TK_WORD, true);
                st.n_tokens += 3;
                prev_tok = vk;
                i = vk + choice[vk].len;
                continue;
            }
        }
        /*
         * 用温水清洗 "wash with warm water": 用 opening an instruction, a verb closing it; the
         * verb goes first and what it is done with after "with".
         */
        if (c->len == 1 && is_han_word(c) && cps[i].c == 0x7528 /* 用 */ &&
            (i == group || (prev_tok < i && prev_tok >= group && is_han_word(&choice[prev_tok]) &&
                            says_imperative(&choice[prev_tok])))) {
            size_t j = i + 1, last = (size_t)-1;
            unsigned nw = 0;
            char v[128];
            size_t vn = 0;
            while (j < n && !is_bound(choice, n, j) && is_han_word(&choice[j])) {
                last = j;
                nw++;
                j += choice[j].len;
            }
            if (nw >= 2 && is_bound(choice, n, j) && choice[last].len >= 2)
                vn = token_verb(dict, norm.data, cps, &choice[last], last, v);
            if (vn) {
                s = emit(&w, v, vn, TK_WORD, true);
                if (s == ITX_OK)
                    s = emit(&w, "with", 4, TK_WORD, false);
                skip_at = last;
                skip_end = last + choice[last].len;
                st.n_tokens++;
                prev_tok = i;
                i += c->len;
                continue;
            }
        }
        if (i == said_first) {
            choice_prev_bound = false;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /* 全场7折起 "everything up to 30% off": "storewide" goes last in its group. */
        if (i == group && c->len == 2 && is_han_word(c) && cps[i + 1].c == 0x573a /* 场 */ &&
            (cps[i].c == 0x5168 /* 全 */) && !is_bound(choice, n, i + 2)) {
            memcpy(say_last, "storewide", 10);
            say_last_len = 9;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /*
         * 洗涤时请翻面 "turn inside out when washing": a group opening with "X时" says "when
         * X-ing" last (or alone, when nothing follows).
         */
        if (i == group && is_han_word(c) && i + c->len < n && choice[i + c->len].len == 1 &&
            cps[i + c->len].c == 0x65f6 /* 时 */ && is_han_word(&choice[i + c->len])) {
            char e[128], v[128];
            size_t en = token_english(c, e), vn = 0, j = i + c->len + 1;
            if (en && !(en > 3 && memcmp(e + en - 3, "ing", 3) == 0)) {
                vn = word_verb(dict, norm.data, cps, i, c->len, v);
                if (vn)
                    en = gerund(v, vn, e, sizeof(e));
            }
            if (en && en + 6 < sizeof(say_last)) {
                memcpy(say_last, "when ", 5);
                memcpy(say_last + 5, e, en + 1);
                if (is_bound(choice, n, j)) {
                    s = emit(&w, say_last, en + 5, TK_WORD, true);
                } else {
                    say_last_len = en + 5;
                }
                st.n_tokens += 2;
                prev_tok = i + c->len;
                i = j;
                continue;
            }
        }
        /*
         * 使用前请阅读说明书 "read the instructions before use": the time goes last; so does a
         * verdict (支持快充 "fast charging supported", 不建议机洗 "machine wash not recommended").
         */
        if (i == group && c->type == 1 && c->len >= 2 && c->tr && c->tr_len < sizeof(say_last) &&
            (starts_with(c->tr, c->tr_len, "before ") || starts_with(c->tr, c->tr_len, "after ") ||
             (said_after(cps, i, c->len) && !group_has_number(choice, n, i + c->len))) &&
            !is_bound(choice, n, i + c->len)) {
            memcpy(say_last, c->tr, c->tr_len);
            say_last[c->tr_len] = '\0';
            say_last_len = c->tr_len;
            prev_tok = i;
            i += c->len;
            continue;
        }
        if (i == joins[1] || (i == joins[0] && joins[1] == (size_t)-1))
            s = emit(&w, "and", 3, TK_WORD, false);
        else if (i == joins[0])
            s = emit(&w, ",", 1, TK_CLOSE, false);
        if (s)
            break;
        choice_prev_bound = c->type == 4;
        if (c->len == 1 && is_han_word(c) && i + 1 < n) {
            size_t j = i + 1, en;
            char e[128], aff[160];
            const char *per;
            /* 防雾 "anti-fog", 抗皱 "anti-wrinkle": 防/抗 and a noun that has no word. */
            if ((cps[i].c == 0x9632 /* 防 */ || cps[i].c == 0x6297 /* 抗 */) &&
                (en = affixable_noun(choice, n, j, e)) != 0) {
                snprintf(aff, sizeof(aff), "anti-%.*s", (int)en, e);
                s = emit(&w, aff, strlen(aff), TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = j;
                i = j + choice[j].len;
                continue;
            }
            /* 耐油 "oil-resistant": 耐 and a noun that has no word. */
            if (cps[i].c == 0x8010 /* 耐 */ && (en = affixable_noun(choice, n, j, e)) != 0) {
                snprintf(aff, sizeof(aff), "%.*s-resistant", (int)en, e);
                s = emit(&w, aff, strlen(aff), TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = j;
                i = j + choice[j].len;
                continue;
            }
            /* 无糖 "sugar-free", 无铅 "lead-free": 无 and a noun that has no word. */
            if (cps[i].c == 0x65e0 /* 无 */ && (en = affixable_noun(choice, n, j, e)) != 0) {
                snprintf(aff, sizeof(aff), "%.*s-free", (int)en, e);
                s = emit(&w, aff, strlen(aff), TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = j;
                i = j + choice[j].len;
                continue;
            }
            /* 每袋20包 "20 packs per bag": the count first, then what it is per. */
            if (cps[i].c == 0x6bcf /* 每 */ && choice[j].len == 1 &&
                (per = per_container(cps[j].c)) != NULL && j + 1 < n && choice[j + 1].type == 0) {
                s = emit_template(&w, &choice[j + 1], &x, j + 1, false);
                if (s == ITX_OK)
                    s = emit(&w, "per", 3, TK_WORD, false);
                if (s == ITX_OK)
                    s = emit(&w, per, strlen(per), TK_WORD, false);
                st.n_tokens += 3;
                st.n_glossary++;
                prev_tok = j + 1;
                i = j + 1 + choice[j + 1].len;
                continue;
            }
        }
        /* The same when the glossary has the container word: 每箱 "per case" + 24瓶. */
        if (c->type == 1 && c->len == 2 && cps[i].c == 0x6bcf /* 每 */ && c->tr &&
            starts_with(c->tr, c->tr_len, "per ") && i + 2 < n && choice[i + 2].type == 0) {
            s = emit_template(&w, &choice[i + 2], &x, i + 2, false);
            if (s == ITX_OK)
                s = emit(&w, c->tr, c->tr_len, TK_WORD, false);
            st.n_tokens += 2;
            st.n_glossary += 2;
            prev_tok = i + 2;
            i += 2 + choice[i + 2].len;
            continue;
        }
        /*
         * 自行车带辅助轮 "bicycle with training wheels": 带 and a noun says "with" it, after
         * the noun it describes; when more words follow (带遥控器台灯), "with X" waits for
         * the end of the group ("desk lamp with remote control").
         */
        if (c->len == 1 && is_han_word(c) && cps[i].c == 0x5e26 /* 带 */ && i + 1 < n &&
            is_han_word(&choice[i + 1]) &&
            !(prev_tok < i && prev_tok >= group && is_han_word(&choice[prev_tok]) &&
              says_imperative(&choice[prev_tok]))) {
            size_t j = i + 1, en;
            char e[128];
            bool verb;
            en = token_english_verb(&choice[j], e, &verb);
            if (en && !verb && !is_adjective(e, en) && !takes_object(e, en) &&
                !(choice[j].type == 1 && choice[j].tr && choice[j].tr[0] == '<')) {
                if (is_bound(choice, n, j + choice[j].len)) {
                    s = emit(&w, "with", 4, TK_WORD, true);
                    st.n_tokens++;
                    prev_tok = i;
                    i += c->len;
                    continue;
                }
                /* Only before a product noun: the rest of the group is words of 2+ characters. */
                bool noun_after = true;
                size_t q = j + choice[j].len, last = q;
                for (; !is_bound(choice, n, q); q += choice[q].len) {
                    if (!is_han_word(&choice[q]) || choice[q].len < 2)
                        noun_after = false;
                    last = q;
                }
                if (noun_after) {
                    char t[128];
                    size_t tn = token_english_verb(&choice[last], t, &verb);
                    noun_after = tn && !verb && head_noun(t, tn, false);
                }
                if (noun_after && say_last_len == 0 && en + 6 < sizeof(say_last)) {
                    memcpy(say_last, "with ", 5);
                    memcpy(say_last + 5, e, en + 1);
                    say_last_len = en + 5;
                    st.n_tokens += 2;
                    prev_tok = j;
                    i = j + choice[j].len;
                    continue;
                }
            }
        }
        /*
         * 宝宝专用 "for baby", 3岁以上适用 "for ages 3+", 宿舍用 "for dorm use": a word of use
         * closing a group puts "for" before the whole group; inside a group, before the noun
         * it qualifies, it says nothing (狗狗专用梳子 "dog comb", 实验室用椅子 "laboratory chair").
         */
        if (is_han_word(c) && (um = use_marker(cps, i, c->len)) != 0 && prev_tok < i &&
            prev_tok >= group && (is_han_word(&choice[prev_tok]) || choice[prev_tok].type == 0) &&
            !(is_han_word(&choice[prev_tok]) && says_imperative(&choice[prev_tok])) &&
            (is_bound(choice, n, i + c->len) || is_han_word(&choice[i + c->len]))) {
            if (is_bound(choice, n, i + c->len)) {
                /* 闹钟学生专用 "alarm clock for student": after a head noun, before the rest. */
                char he[128];
                size_t hn = token_english(&choice[group], he), at = group_out;
                if (second_out != (size_t)-1 && second_out < out->len && hn &&
                    is_han_word(&choice[group]) && head_noun(he, hn, true) &&
                    !title_modifier(&choice[group])) {
                    at = second_out;
                    while (at < out->len && out->data[at] == ' ')
                        at++;
                }
                /*
                 * 婴儿洗衣液专用 "laundry detergent for babies": whom a product noun is for,
                 * said before it, goes after "for" when the group closes with a word of use.
                 */
                char ae[128], pe[128], moved[160];
                size_t an = is_han_word(&choice[group]) ? token_english(&choice[group], ae) : 0,
                       pn = is_han_word(&choice[prev_tok]) ? token_english(&choice[prev_tok], pe)
                                                           : 0,
                       hs = second_out;
                while (hs < out->len && out->data[hs] == ' ')
                    hs++;
                if (an && is_audience(ae, an) && strcmp(ae, "household") != 0 &&
                    group + choice[group].len == prev_tok && second_out != (size_t)-1 &&
                    hs < out->len && out->len - hs + 5 < sizeof(moved) && pn &&
                    !is_adjective(pe, pn) && !takes_object(pe, pn) &&
                    !title_modifier(&choice[prev_tok])) {
                    const char *pl = audience_plain(ae, an);
                    size_t ml = out->len - hs, al;
                    memcpy(moved, out->data + hs, ml);
                    memcpy(moved + ml, " for", 4);
                    out->len = second_out;
                    while (out->len > w.start && out->data[out->len - 1] == ' ')
                        out->len--;
                    out->data[out->len] = '\0';
                    w.prev = TK_WORD;
                    w.have_word = false;
                    at = group_out;
                    while (at < out->len && out->data[at] == ' ')
                        at++;
                    s = emit_before(&w, at, moved, ml + 4, true);
                    if (!pl && strcmp(ae, "baby") == 0)
                        pl = "babies";
                    al = strlen(ae);
                    if (s == ITX_OK && pl && out->len >= al &&
                        strncasecmp(out->data + out->len - al, ae, al) == 0) {
                        out->len -= al;
                        s = itx_buf_append(out, pl, strlen(pl));
                    }
                } else {
                    s = emit_before(&w, at, "for", 3, true);
                    if (s == ITX_OK)
                        s = plural_after_for(out, w.start);
                }
                if (s == ITX_OK && um == 2)
                    s = emit(&w, "use", 3, TK_WORD, false);
            }
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /*
         * 通用型 "universal", 挂式 "hanging": a single 型 or 式 after a word only says that the
         * word is a kind; English says the word alone.
         */
        if (c->len == 1 && is_han_word(c) &&
            (cps[i].c == 0x578b /* 型 */ || cps[i].c == 0x5f0f /* 式 */) && prev_tok < i &&
            prev_tok >= group && is_han_word(&choice[prev_tok])) {
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /*
         * 宽1.2米 "width 1.2m": a unit left after a template that took its number stays
         * against the number, as a symbol.
         */
        if (is_han_word(c) && i > 0 && is_digit(cps[i - 1].c) && out->len > w.start &&
            out->data[out->len - 1] >= '0' && out->data[out->len - 1] <= '9' &&
            (p = unit_symbol(cps, i, c->len)) != NULL) {
            s = emit(&w, p, strlen(p), TK_CLOSE, false);
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /* 让生活更美好 "make life more beautiful": 让 X 更 Y is "make", not "let". */
        if (c->len == 1 && is_han_word(c) && cps[i].c == 0x8ba9 /* 让 */ && i + 1 < n &&
            is_han_word(&choice[i + 1]) && i + 1 + choice[i + 1].len < n &&
            cps[i + 1 + choice[i + 1].len].c == 0x66f4 /* 更 */) {
            s = emit(&w, "make", 4, TK_WORD, true);
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /* 更安全 "safer", 更舒适 "more comfortable": 更 and a short adjective is one word. */
        if (c->len == 1 && is_han_word(c) && cps[i].c == 0x66f4 /* 更 */ && i + 1 < n &&
            is_han_word(&choice[i + 1])) {
            char e[128], cmp[140];
            size_t en = token_english(&choice[i + 1], e);
            const struct cand *nx = &choice[i + 1];
            if (nx->type == 1 && nx->tr && nx->tr[0] == '<' && nx->tr_len < sizeof(e)) {
                en = nx->tr_len - 1; /* 更好: "<good" is still "good" */
                memcpy(e, nx->tr + 1, en);
                e[en] = '\0';
            }
            /* 更大容量 "larger capacity": the first word of a phrase takes the comparative. */
            size_t fw = en && memchr(e, ' ', en) ? (size_t)((char *)memchr(e, ' ', en) - e) : en;
            if (fw && comparative(e, fw, cmp + 1, sizeof(cmp) - 1 - (en - fw))) {
                size_t cl = strlen(cmp + 1);
                memcpy(cmp + 1 + cl, e + fw, en - fw + 1);
                /* 质量更好 "better quality": after a quality noun it goes before it. */
                char pe[128];
                size_t pn = prev_tok < i && prev_tok >= group && is_han_word(&choice[prev_tok])
                                ? token_english(&choice[prev_tok], pe)
                                : 0;
                bool before = pn && is_attribute(pe, pn) && is_bound(choice, n, i + 1 + nx->len);
                cmp[0] = '<';
                s = emit(&w, before ? cmp : cmp + 1, strlen(cmp) - !before, TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = i + 1;
                i += 1 + choice[i + 1].len;
                continue;
            }
        }
        /*
         * 易上色 "easy to colour", 不易断裂 "does not break easily": 易/不易 and a word that
         * CEDICT has as a verb.
         */
        if (is_han_word(c) && cps[i + c->len - 1].c == 0x6613 /* 易 */ &&
            (c->len == 1 || (c->len == 2 && cps[i].c == 0x4e0d /* 不 */)) && i + c->len < n &&
            is_han_word(&choice[i + c->len]) && choice[i + c->len].len >= 2) {
            char v[128], phrase[160];
            size_t j = i + c->len, vn = word_verb(dict, norm.data, cps, j, choice[j].len, v);
            if (vn) {
                snprintf(phrase, sizeof(phrase),
                         c->len == 1 ? "easy to %.*s" : "does not %.*s easily", (int)vn, v);
                s = emit(&w, phrase, strlen(phrase), TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = j;
                i = j + choice[j].len;
                continue;
            }
        }
        /* 清洗方便 "easy to clean": a verb and a closing 方便/简单/容易/轻松. */
        if (is_han_word(c) && c->len >= 2 && i + c->len < n && choice[i + c->len].len == 2 &&
            is_han_word(&choice[i + c->len]) && is_bound(choice, n, i + c->len + 2) &&
            is_easy(cps, i + c->len)) {
            char v[128], phrase[160];
            size_t vn = word_verb(dict, norm.data, cps, i, c->len, v);
            if (vn && !memchr(v, ' ', vn) && !(vn > 2 && memcmp(v + vn - 2, "ed", 2) == 0)) {
                snprintf(phrase, sizeof(phrase), "easy to %.*s", (int)vn, v);
                s = emit(&w, phrase, strlen(phrase), TK_WORD, true);
                st.n_tokens += 2;
                prev_tok = i + c->len;
                i += c->len + 2;
                continue;
            }
        }
        /* 保暖又时尚 "warm and stylish": 又 or 且 between two words joins them. */
        if (c->len == 1 && is_han_word(c) &&
            (cps[i].c == 0x53c8 /* 又 */ || cps[i].c == 0x4e14 /* 且 */) && prev_tok < i &&
            prev_tok >= group && is_han_word(&choice[prev_tok]) && i + 1 < n &&
            is_han_word(&choice[i + 1])) {
            s = emit(&w, "and", 3, TK_WORD, false);
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }
        /* 抢购中 "sale in progress": a closing 中 says nothing a picture needs. */
        if (c->len == 1 && cps[i].c == 0x4e2d /* 中 */ && is_han_word(c) && prev_tok < i &&
            is_han_word(&choice[prev_tok]) && choice[prev_tok].len >= 2 &&
            is_bound(choice, n, i + 1)) {
            st.n_tokens++;
            prev_tok = i;
            i += c->len;
            continue;
        }

        /*
         * 折叠伞三折 "tri-fold umbrella": N折 in a group about an umbrella or folding is how
         * many folds, not a discount; it goes first and stands for "folding".
         */
        if (c->type == 0 && c->len >= 2 && cps[i + c->len - 1].c == 0x6298 /* 折 */) {
            bool folds = false, umbrella = false;
            size_t ge = i;
            double v = 0;
            char num[48], fold[64];
            while (!is_bound(choice, n, ge))
                ge += choice[ge].len;
            for (size_t q = group; q < ge; q++) {
                umbrella |= cps[q].c == 0x4f1e /* 伞 */;
                folds |= q + 1 < ge && cps[q].c == 0x6298 && cps[q + 1].c == 0x53e0 /* 折叠 */;
            }
            /*
             * A folding chair at 20% off (折叠椅8折) is a discount: two or three folds, or an
             * umbrella's five in words (五折伞), not 5折 in figures ("50% off").
             */
            if ((umbrella || folds) && parse_number(&x, i, num, sizeof(num), &v) == c->len - 1 &&
                v >= 2 && v <= (umbrella && han_digit(cps[i].c) >= 0 ? 5 : 3) &&
                v == (double)(int)v) {
                static const char *const fold_name[] = {"bi-fold", "tri-fold"};
                size_t at = group_out, fl;
                if (v <= 3)
                    snprintf(fold, sizeof(fold), "%s", fold_name[(int)v - 2]);
                else
                    snprintf(fold, sizeof(fold), "%d-fold", (int)v);
                /* "folding" says the same again. */
                for (size_t q = group_out; q + 7 <= out->len; q++)
                    if (strncasecmp(out->data + q, "folding", 7) == 0 &&
                        (q == group_out || out->data[q - 1] == ' ') &&
                        (q + 7 == out->len || out->data[q + 7] == ' ')) {
                        size_t cut = q + 7 < out->len ? 8 : 7;
                        memmove(out->data + q, out->data + q + cut, out->len - q - cut + 1);
                        out->len -= cut;
                        while (out->len > w.start && out->data[out->len - 1] == ' ')
                            out->data[--out->len] = '\0';
                        w.have_word = false;
                        break;
                    }
                while (at < out->len && out->data[at] == ' ')
                    at++;
                fl = strlen(fold);
                s = emit_before(&w, at, fold, fl, true);
                st.n_tokens++;
                prev_tok = i;
                i += c->len;
                continue;
            }
        }
        switch (c->type) {
        case 0: {
            char unit[64];
            size_t j = i + c->len;
            /* 一盒12支 "1 box 12 pcs": "12 pcs per box". */
            if (j < n && choice[j].type == 0 &&
                per_unit(&x, c, i, &choice[j], unit, sizeof(unit))) {
                s = emit_template(&w, &choice[j], &x, j, false);
                if (s == ITX_OK)
                    s = emit(&w, "per", 3, TK_WORD, false);
                if (s == ITX_OK)
                    s = emit(&w, unit, strlen(unit), TK_WORD, false);
                st.n_tokens += 2;
                st.n_glossary += 2;
                prev_tok = j;
                i = j + choice[j].len;
                continue;
            }
            s = emit_template(&w, c, &x, i, j < n && is_han_word(&choice[j]));
            st.n_tokens++;
            st.n_glossary++;
            break;
        }
        case 1:
            if (c->tr && c->len == 1 && prev_tok < i && is_han_word(&choice[prev_tok]) &&
                choice[prev_tok].len >= 2 && is_bound(choice, n, i + 1) &&
                is_postposed(c->tr, c->tr_len)) {
                char moved[130];
                moved[0] = '<';
                memcpy(moved + 1, c->tr, c->tr_len);
                s = emit(&w, moved, c->tr_len + 1, TK_WORD, true);
            } else if (c->tr && postposed_adjective(choice, n, i, group, prev_tok, c->tr, c->tr_len,
                                                    joins)) {
                char moved[130];
                moved[0] = '<';
                memcpy(moved + 1, c->tr, c->tr_len);
                s = emit(&w, moved, c->tr_len + 1, TK_WORD, true);
            } else if (c->tr) {
                size_t tl = c->tr_len;
                const char *t = c->tr;
                const char *senses;
                size_t senses_len;
                /*
                 * After "do not" or "please" a word is a verb: 冷冻 is "frozen" in a title
                 * but 请勿冷冻 is "do not freeze", CEDICT's verb.
                 */
                if (c->len >= 2 && prev_tok < i && is_han_word(&choice[prev_tok]) &&
                    says_imperative(&choice[prev_tok]) && is_modifier_form(t, tl) &&
                    (senses = itx_dict_lookup(dict, norm.data + from, to - from, &senses_len)) &&
                    (sense_len = pick_verb_sense(senses, senses_len, sense)) > 0) {
                    t = sense;
                    tl = sense_len;
                }
                /* 圣诞树装饰 "Christmas tree decoration": closing a phrase it is the noun. */
                if (tl == 10 && memcmp(t, "decorative", 10) == 0 &&
                    is_bound(choice, n, i + c->len) && prev_tok < i && prev_tok >= group &&
                    is_han_word(&choice[prev_tok])) {
                    t = "decoration";
                } else if (i + c->len < n && is_han_word(&choice[i + c->len]) &&
                           (sense_len = free_modifier(t, tl, sense)) > 0) {
                    t = sense;
                    tl = sense_len;
                }
                /* A noun modifying the next one is singular: 鞋柜 "shoe cabinet". */
                if ((i + c->len < n && is_han_word(&choice[i + c->len]) &&
                     !qualifies_after(choice, n, i + c->len)) ||
                    (head_pending && is_bound(choice, n, i + c->len)))
                    tl = modifier_form(&t, tl, mod);
                if (!(i > group && is_bound(choice, n, i + c->len) &&
                      merge_head(&w, group_out, t, tl, &second_out)))
                    said_again(out, group_out, &t, &tl);
                if (!head_pending)
                    plain_if_not_modifier(choice, n, i, &t, &tl);
                joined_modifier(choice, n, i, head_pending, &t, tl, mod);
                if (head_pending && style_qualifier(t, tl))
                    tl = style_qualifier(t, tl);
                s = emit(&w, t, tl, TK_WORD, true);
                if (s == ITX_OK && is_bound(choice, n, i + c->len))
                    s = plural_after_for(out, w.start);
            } else
                s = emit(&w, norm.data + from, to - from, TK_WORD, false);
            st.n_tokens++;
            st.n_glossary++;
            break;
        case 2:
            sense_len = 0;
            if (prev_tok < i && is_han_word(&choice[prev_tok]) &&
                says_imperative(&choice[prev_tok]))
                sense_len = pick_verb_sense(c->tr, c->tr_len, sense);
            if (sense_len == 0)
                sense_len = pick_sense(c->tr, c->tr_len, sense);
            if (sense_len && c->len == 1 && prev_tok < i && is_han_word(&choice[prev_tok]) &&
                choice[prev_tok].len >= 2 && is_bound(choice, n, i + 1) &&
                is_postposed(sense, sense_len)) {
                /* 噪音低 "noise low": a closing quality goes before its noun, "low noise". */
                char moved[130];
                moved[0] = '<';
                memcpy(moved + 1, sense, sense_len + 1);
                s = emit(&w, moved, sense_len + 1, TK_WORD, true);
            } else if (sense_len && postposed_adjective(choice, n, i, group, prev_tok, sense,
                                                        sense_len, joins)) {
                char moved[130];
                moved[0] = '<';
                memcpy(moved + 1, sense, sense_len + 1);
                s = emit(&w, moved, sense_len + 1, TK_WORD, true);
            } else if (sense_len) {
                const char *t = sense;
                if ((i + c->len < n && is_han_word(&choice[i + c->len]) &&
                     !qualifies_after(choice, n, i + c->len)) ||
                    (head_pending && is_bound(choice, n, i + c->len)))
                    sense_len = modifier_form(&t, sense_len, mod);
                if (!(i > group && is_bound(choice, n, i + c->len) &&
                      merge_head(&w, group_out, t, sense_len, &second_out)))
                    said_again(out, group_out, &t, &sense_len);
                if (!head_pending)
                    plain_if_not_modifier(choice, n, i, &t, &sense_len);
                joined_modifier(choice, n, i, head_pending, &t, sense_len, mod);
                if (head_pending && style_qualifier(t, sense_len))
                    sense_len = style_qualifier(t, sense_len);
                s = emit(&w, t, sense_len, TK_WORD, true);
                if (s == ITX_OK && is_bound(choice, n, i + c->len))
                    s = plural_after_for(out, w.start);
            }
            st.n_tokens++;
            break;
        case 3: {
            char sizes[64];
            size_t sl = itx_tr_split_sizes(norm.data + from, to - from, sizes, sizeof(sizes));
            /* A unit written against its number stays there: 约1kg "about 1kg". */
            if (sl)
                s = emit(&w, sizes, sl, TK_WORD, false);
            else if (i > 0 && is_digit(cps[i - 1].c) && !is_digit(cps[i].c) && w.prev == TK_WORD &&
                     out->len > w.start && out->data[out->len - 1] >= '0' &&
                     out->data[out->len - 1] <= '9')
                s = emit(&w, norm.data + from, to - from, TK_CLOSE, false);
            else
                s = emit(&w, norm.data + from, to - from, TK_WORD, false);
            st.n_tokens++;
            break;
        }
        case 4:
            if (cps[i].c == ' ') {
                s = emit(&w, " ", 1, TK_SPACE, false);
            } else if ((p = punct(cps[i].c, &k)) != NULL) {
                if (k == TK_JOIN && p[0] == ' ')
                    s = emit(&w, " ", 1, TK_SPACE, false);
                else
                    s = emit(&w, p, strlen(p), k, false);
            }
            break;
        case 5:
            /* "10万+", "500+": a plus after a number stays against it. */
            if (cps[i].c == '+' && w.prev == TK_WORD && out->len > w.start &&
                out->data[out->len - 1] >= '0' && out->data[out->len - 1] <= '9') {
                s = emit(&w, "+", 1, TK_CLOSE, false);
                break;
            }
            s = emit(&w, norm.data + from, to - from, TK_WORD, false);
            if (itx_tr_is_han(cps[i].c))
                st.n_unknown++;
            break;
        case 7: {
            char num[48];
            double v;
            parse_number(&x, i, num, sizeof(num), &v);
            s = emit(&w, num, strlen(num), TK_WORD, false);
            st.n_tokens++;
            break;
        }
        default:
            break;
        }
        /*
         * 纯棉四件套 "100% cotton 4-piece bedding set", 餐具四件套 "4-piece tableware set": an
         * N-piece set is bedding when its group names a bed or a bedding fabric.
         */
        if (s == ITX_OK && (c->type == 0 || c->type == 1) && out->len >= w.start + 10 &&
            strcmp(out->data + out->len - 10, "-piece set") == 0) {
            bool bed = false, mat = false;
            for (size_t q = group; q < n && !is_bound(choice, n, q); q++) {
                uint32_t ch = cps[q].c;
                bed |= ch == 0x5e8a /* 床 */ || ch == 0x68c9 /* 棉 */ || ch == 0x88ab /* 被 */ ||
                       ch == 0x7ed2 /* 绒 */ || ch == 0x4e1d /* 丝 */ || ch == 0x9ebb /* 麻 */;
                mat |= ch == 0x5e2d /* 席 */ || ch == 0x57ab /* 垫 */;
            }
            /* 四件套 with nothing but qualifiers (磨毛四件套秋冬) is bedding too. */
            if (!bed && cps[i].c == 0x56db /* 四 */) {
                bed = true;
                for (size_t q = group; !is_bound(choice, n, q); q += choice[q].len) {
                    char qe[128];
                    size_t qn = token_english(&choice[q], qe);
                    if (q != i && !title_modifier(&choice[q]) &&
                        !(qn > 4 && memcmp(qe + qn - 2, "ed", 2) == 0)) /* brushed, washed */
                        bed = false;
                }
            }
            for (size_t q = group_out; bed && q + 7 <= out->len; q++)
                if (strncasecmp(out->data + q, "bedding", 7) == 0)
                    bed = false; /* 床品三件套: said already */
            if (bed && !mat) {
                out->len -= 3;
                out->data[out->len] = '\0';
                s = itx_buf_append(out, "bedding set", 11);
            }
        }
        prev_tok = i;
        i += c->len;
    }
    if (s == ITX_OK && say_last_len)
        s = emit(&w, say_last, say_last_len, TK_WORD, true);
    if (s)
        s = itx_diag_set(d, s, "translation is over the output limit of %zu bytes", out->max);
    else if (stats)
        *stats = st;
out:
    itx_free(cps);
    itx_free(best);
    itx_free(choice);
    itx_buf_release(&norm);
    return s;
}
