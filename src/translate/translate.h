/*
 * Translation of the short texts found on product pictures.
 *
 * Three providers sit behind one interface (struct itx_translator):
 *   - dict: the embedded default, no key and no network. CC-CEDICT compiled at set-up into
 *     $ITX_MODELS_DIR/cedict.idx (scripts/setup.d/20-dict.sh), mapped read-only, plus the
 *     project's e-commerce glossary (data/glossary-en.tsv and data/glossary-en.d/), which
 *     wins in segmentation. English only.
 *   - gemini: Google's generateContent API with a JSON response schema, temperature 0.
 *   - openai: any OpenAI-compatible chat completions endpoint with JSON output.
 *
 * All text blocks of one picture (or of several pictures of one product) go to the
 * provider in one call as numbered segments. Segments that need no translation (Latin-only
 * text, URLs, prices, numbers, model numbers, keep-as-is glossary terms) are protected: they
 * are returned untouched with a skip reason and never sent. LLM answers are validated per
 * segment (ids, count, target script, no Chinese left, no runaway repetition, no empty
 * output); failed segments are retried once and then translated by the dictionary, flagged
 * ITX_TR_FLAG_FALLBACK_DICT.
 *
 * Thread-safety: a translator, a dictionary and a glossary are read-only after creation and
 * may be shared by any number of threads; the cache and the per-provider concurrency limit
 * are internally synchronised. Results are owned by the caller.
 */
#ifndef ITX_TRANSLATE_TRANSLATE_H
#define ITX_TRANSLATE_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- glossary ---------------------------------------------------------------------- */

/*
 * A glossary maps source terms to forced translations, or marks them keep-as-is (brand
 * names, model names). Files are UTF-8 TSV: "term<TAB>translation" per line, translation "="
 * for keep-as-is, '#' starts a comment line. A glossary is built once and then read-only.
 */
struct itx_glossary;

/* Limits on glossaries, safe for untrusted per-request input. */
#define ITX_GLOSSARY_MAX_FILE (4u << 20)
#define ITX_GLOSSARY_MAX_TERM 256u
#define ITX_GLOSSARY_MAX_ENTRIES 200000u

/* New empty glossary; NULL when out of memory. */
struct itx_glossary *itx_glossary_new(void);
void itx_glossary_free(struct itx_glossary *g);

/*
 * Adds one entry; translation NULL means keep-as-is. A later entry for the same term
 * replaces the earlier one. ITX_ERR_INVALID for an empty term, a term or translation that
 * is not UTF-8 or holds a tab or newline; ITX_ERR_TOO_LARGE past the limits above.
 */
enum itx_status itx_glossary_add(struct itx_glossary *g, const char *term, const char *translation,
                                 struct itx_diag *d);

/* Parses TSV text (see above); name is used in messages ("file.tsv:12: ..."). */
enum itx_status itx_glossary_parse(struct itx_glossary *g, const char *text, size_t len,
                                   const char *name, struct itx_diag *d);

/* Reads and parses a TSV file (at most ITX_GLOSSARY_MAX_FILE bytes). */
enum itx_status itx_glossary_load_file(struct itx_glossary *g, const char *path,
                                       struct itx_diag *d);

/*
 * Adds the project's built-in English e-commerce glossary (data/glossary-en.tsv, then
 * the .tsv files of data/glossary-en.d/ in name order, compiled into the binary) to g.
 */
enum itx_status itx_glossary_add_builtin_en(struct itx_glossary *g, struct itx_diag *d);

/* Number of entries. */
size_t itx_glossary_count(const struct itx_glossary *g);

/*
 * Version of the content: hex SHA-256 over the sorted entries (65 bytes with NUL). Two
 * glossaries with the same entries have the same version. g may be NULL ("" version).
 */
void itx_glossary_version(const struct itx_glossary *g, char out[65]);

/*
 * Longest entry that is a prefix of s[0..len). Returns its term length in bytes (0 when
 * none) and sets *translation (NULL for keep-as-is). g may be NULL.
 */
size_t itx_glossary_match(const struct itx_glossary *g, const char *s, size_t len,
                          const char **translation);

/* Entry for exactly this term; returns false when absent. */
bool itx_glossary_lookup(const struct itx_glossary *g, const char *term, size_t len,
                         const char **translation);

/* Calls fn for each entry in term order (for prompts); stops when fn returns false. */
void itx_glossary_each(const struct itx_glossary *g,
                       bool (*fn)(const char *term, const char *translation, void *arg), void *arg);

/* ---- dictionary ------------------------------------------------------------------------ */

/* The CC-CEDICT index mapped read-only, shared by all threads. */
struct itx_dict;

/*
 * Maps the index at path (NULL: $ITX_MODELS_DIR/cedict.idx). A missing index fails with
 * ITX_ERR_NOT_FOUND and a message naming the set-up command that builds it; a corrupt one
 * with ITX_ERR_MODEL.
 */
enum itx_status itx_dict_open(const char *path, struct itx_dict **out, struct itx_diag *d);
void itx_dict_free(struct itx_dict *dict);

/* Number of keys in the index. */
size_t itx_dict_count(const struct itx_dict *dict);

/*
 * Raw CEDICT senses of an exact key, as stored ("C"/"P" groups joined by '|'), or NULL.
 * *len receives the length. The pointer stays valid until itx_dict_free.
 */
const char *itx_dict_lookup(const struct itx_dict *dict, const char *key, size_t key_len,
                            size_t *len);

/*
 * Picks the sense of a CEDICT entry to use on a product picture: short and plain, never a
 * pinyin reference, "variant of", "surname", "old name for", "CL:" or similar. Appends it
 * to out. Returns false (appending nothing) when no sense is usable.
 */
bool itx_dict_pick_sense(const char *senses, size_t len, struct itx_buf *out);

/* Per-call statistics of a dictionary translation. */
struct itx_dict_stats {
    unsigned n_tokens;   /* words and numbers produced */
    unsigned n_glossary; /* of them from a glossary */
    unsigned n_unknown;  /* characters left in Chinese (no entry) */
};

/*
 * Translates one text into English with maximum-match segmentation (glossary entries first:
 * req_glossary, then glossary, then CEDICT), number/price/unit rules (¥39.9 stays, 3件 ->
 * 3 pcs, 5折 -> 50% off, 满199减30 -> ¥30 off orders over ¥199) and English spacing and
 * capitalisation. Appends to out. Either glossary may be NULL. stats may be NULL.
 * Thread-safe.
 */
enum itx_status itx_dict_translate(const struct itx_dict *dict, const struct itx_glossary *glossary,
                                   const struct itx_glossary *req_glossary, const char *text,
                                   struct itx_buf *out, struct itx_dict_stats *stats,
                                   struct itx_diag *d);

/* ---- protection ------------------------------------------------------------------------ */

/* Why a segment was left untranslated (ITX_TR_SKIP_NONE: it was translated). */
enum itx_tr_skip {
    ITX_TR_SKIP_NONE = 0,
    ITX_TR_SKIP_EMPTY,          /* nothing but spaces */
    ITX_TR_SKIP_LATIN_ONLY,     /* no Chinese: already readable */
    ITX_TR_SKIP_URL,            /* a web or shop address */
    ITX_TR_SKIP_PRICE,          /* a price such as ¥39.9 or $12 */
    ITX_TR_SKIP_NUMBER,         /* digits and signs only */
    ITX_TR_SKIP_MODEL_NUMBER,   /* letters with digits, e.g. XR-2000 */
    ITX_TR_SKIP_KEEP_TERM,      /* a glossary keep-as-is term (brand) */
    ITX_TR_SKIP_LOW_CONFIDENCE, /* set by the caller for OCR results it does not trust */
    ITX_TR_SKIP_COUNT
};

/* Stable lowercase name of a skip reason ("latin_only", "price", ...); "" for NONE. */
const char *itx_tr_skip_str(enum itx_tr_skip s);

/*
 * Classifies one segment: the reason it must be left untouched, or ITX_TR_SKIP_NONE when it
 * holds Chinese to translate. Keep-as-is terms come from either glossary (both may be NULL).
 */
enum itx_tr_skip itx_tr_protect(const char *text, const struct itx_glossary *glossary,
                                const struct itx_glossary *req_glossary);

/* Whether a target language code is supported by the LLM providers (en, es, fr, ...). */
bool itx_tr_language_supported(const char *code);

/* ---- cache ----------------------------------------------------------------------------- */

/*
 * Translation cache behind a small table of operations, so a shared backend (PostgreSQL)
 * can sit next to the embedded SQLite one. Keys are hex SHA-256 strings built by
 * itx_tr_cache_key; values are translations. Implementations must be thread-safe.
 */
struct itx_tr_cache_ops {
    /* ITX_OK and *value (free with itx_free) on a hit, ITX_ERR_NOT_FOUND on a miss. */
    enum itx_status (*get)(void *impl, const char *key, char **value, struct itx_diag *d);
    enum itx_status (*put)(void *impl, const char *key, const char *value, struct itx_diag *d);
    void (*close)(void *impl);
};

struct itx_tr_cache;

/* Wraps a backend; the cache takes ownership of impl (closed by itx_tr_cache_free). */
struct itx_tr_cache *itx_tr_cache_new(const struct itx_tr_cache_ops *ops, void *impl);
void itx_tr_cache_free(struct itx_tr_cache *c);

/*
 * Opens (creating when needed) the SQLite cache at path, in WAL mode. ITX_ERR_IO with the
 * SQLite message when the file cannot be opened or is not a cache.
 */
enum itx_status itx_tr_cache_open_sqlite(const char *path, struct itx_tr_cache **out,
                                         struct itx_diag *d);

/*
 * The cache key: hex SHA-256 over provider, model, prompt version, source and target
 * language, glossary version and the normalised source text (spaces collapsed and trimmed).
 */
void itx_tr_cache_key(const char *provider, const char *model, const char *prompt_version,
                      const char *source_lang, const char *target_lang,
                      const char *glossary_version, const char *text, char out[65]);

/* Lookup and store that count hits and misses. get: ITX_ERR_NOT_FOUND on a miss. */
enum itx_status itx_tr_cache_get(struct itx_tr_cache *c, const char *key, char **value,
                                 struct itx_diag *d);
enum itx_status itx_tr_cache_put(struct itx_tr_cache *c, const char *key, const char *value,
                                 struct itx_diag *d);

/* Hit and miss counters since the cache was opened (for metrics). */
void itx_tr_cache_counters(const struct itx_tr_cache *c, uint64_t *hits, uint64_t *misses);

/* ---- translator ------------------------------------------------------------------------ */

enum itx_tr_provider { ITX_TR_DICT, ITX_TR_GEMINI, ITX_TR_OPENAI };

/* "dict", "gemini", "openai". */
const char *itx_tr_provider_str(enum itx_tr_provider p);
/* Parses a provider name; false when unknown. */
bool itx_tr_provider_parse(const char *name, enum itx_tr_provider *out);

/*
 * Translator settings. Strings are borrowed for the duration of itx_translator_new (the
 * translator copies them). Zero or NULL means the default given.
 */
struct itx_tr_config {
    enum itx_tr_provider provider; /* default dict */
    const char *model;             /* gemini: gemini-2.5-flash, openai: gpt-4o-mini */
    const char *base_url;          /* gemini: https://generativelanguage.googleapis.com/v1beta,
                                      openai: https://api.openai.com/v1 */
    const char *api_key;           /* never logged */
    long connect_timeout_ms;       /* 5000 */
    long timeout_ms;               /* 30000, whole request */
    int max_attempts;              /* 4 attempts per call, first one included */
    long base_delay_ms;            /* 500: first backoff, doubled each retry, with jitter */
    long max_delay_ms;             /* 30000: longest wait; a server asking more gives up */
    int concurrency;               /* 4 calls in flight per translator */
    double temperature;            /* 0: deterministic, so results are cached */
    const char *glossary_path;     /* server glossary file, added after the built-in one */
    bool no_builtin_glossary;      /* leave the built-in glossary out */
    const char *dict_path;         /* NULL: $ITX_MODELS_DIR/cedict.idx */
    struct itx_tr_cache *cache;    /* borrowed, may be NULL; must outlive the translator */
    bool no_fallback;              /* do not fall back to the dictionary on LLM failure */
};

/*
 * Fills c from the environment: ITX_TRANSLATE_PROVIDER, GEMINI_API_KEY, ITX_GEMINI_MODEL,
 * ITX_GEMINI_BASE_URL, OPENAI_API_KEY, ITX_OPENAI_MODEL, ITX_OPENAI_BASE_URL,
 * ITX_TRANSLATE_CONNECT_TIMEOUT_MS, ITX_TRANSLATE_TIMEOUT_MS, ITX_TRANSLATE_MAX_ATTEMPTS,
 * ITX_TRANSLATE_CONCURRENCY, ITX_GLOSSARY_FILE. The strings point into the environment.
 * ITX_ERR_INVALID naming the variable when a value is out of range. Settings already in c
 * (non-zero) are kept.
 */
enum itx_status itx_tr_config_from_env(struct itx_tr_config *c, struct itx_diag *d);

struct itx_translator;

/*
 * Creates a translator: loads the glossaries and maps the dictionary (needed by dict, and
 * by the LLM providers for their English fallback; an LLM translator without an index works
 * but cannot fall back). ITX_ERR_AUTH when an LLM provider has no key (openai accepts none
 * with a non-default base URL, for local servers).
 */
enum itx_status itx_translator_new(const struct itx_tr_config *cfg, struct itx_translator **out,
                                   struct itx_diag *d);
void itx_translator_free(struct itx_translator *t);

/* Result flags. */
#define ITX_TR_FLAG_FALLBACK_DICT 0x1u /* the LLM failed this segment: dictionary used */
#define ITX_TR_FLAG_CACHED 0x2u        /* from the cache, no provider call */
#define ITX_TR_FLAG_RETRIED 0x4u       /* the first answer failed validation, retried */
#define ITX_TR_FLAG_PARTIAL 0x8u       /* some Chinese has no dictionary entry and is left */

struct itx_tr_segment {
    int id;           /* unique within the request */
    const char *text; /* UTF-8 */
};

struct itx_tr_result {
    char *text;            /* translation, or the source when skipped; owned by the caller */
    unsigned flags;        /* ITX_TR_FLAG_* */
    enum itx_tr_skip skip; /* why it is untranslated, NONE when translated */
};

struct itx_tr_request {
    const char *target; /* language code, default "en" */
    const struct itx_tr_segment *segments;
    size_t n_segments;                   /* at most ITX_TR_MAX_SEGMENTS */
    const struct itx_glossary *glossary; /* per-request entries, may be NULL */
};

#define ITX_TR_MAX_SEGMENTS 512u
#define ITX_TR_MAX_SEGMENT_BYTES 4096u

/* What one itx_translate call did. */
struct itx_tr_stats {
    unsigned provider_calls; /* HTTP requests sent (attempts, retries included) */
    unsigned retries;        /* of them, retries after an error */
    unsigned cache_hits, cache_misses;
    unsigned n_fallback; /* segments translated by the dictionary as a fallback */
    unsigned n_delays;
    long delays_ms[8];                      /* backoff waits before each retry, in order */
    char provider_error[ITX_DIAG_MSG_SIZE]; /* last provider failure, "" when none */
};

/*
 * Translates the segments of one request (one picture, or the pictures of one product) in
 * one provider call, writing results[i] for segments[i] (n_segments entries). Protected
 * segments are not sent. LLM answers are validated per segment; failed segments are sent
 * once more and then translated by the dictionary (English only) with
 * ITX_TR_FLAG_FALLBACK_DICT; when the provider fails outright the same fallback applies and
 * stats->provider_error says why. Errors: ITX_ERR_INVALID (bad request: ids, UTF-8, sizes),
 * ITX_ERR_UNSUPPORTED (language), or the provider's error when no fallback is possible.
 * results are written only on success; release them with itx_tr_results_release.
 * Thread-safe. stats may be NULL.
 */
enum itx_status itx_translate(struct itx_translator *t, const struct itx_tr_request *req,
                              struct itx_tr_result *results, struct itx_tr_stats *stats,
                              struct itx_diag *d);

void itx_tr_results_release(struct itx_tr_result *results, size_t n);

#endif
