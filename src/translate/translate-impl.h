/*
 * Internals shared by the files of src/translate/ (only they include this header).
 */
#ifndef ITX_TRANSLATE_IMPL_H
#define ITX_TRANSLATE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one UTF-8 code point at s[0..len) (len > 0). Returns its byte length and writes
 * *cp; returns 0 for an invalid or truncated sequence (overlongs and surrogates included).
 */
size_t itx_tr_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Whether s[0..len) is valid UTF-8. */
bool itx_tr_utf8_valid(const char *s, size_t len);

/* CJK ideographs (the scripts the source text is written in). */
bool itx_tr_is_han(uint32_t cp);

/* Whether the text holds at least one Han character. */
bool itx_tr_has_han(const char *s, size_t len);

struct itx_glossary;

enum itx_tr_script {
    ITX_TR_SCRIPT_NONE,
    ITX_TR_SCRIPT_LATIN,
    ITX_TR_SCRIPT_CYRILLIC,
    ITX_TR_SCRIPT_JAPANESE, /* kana; Han also accepted */
    ITX_TR_SCRIPT_HANGUL,
    ITX_TR_SCRIPT_THAI,
    ITX_TR_SCRIPT_ARABIC,
    ITX_TR_SCRIPT_HAN,
};

/* English name of a supported language code ("French"), NULL when unsupported. */
const char *itx_tr_language_name(const char *code);
enum itx_tr_script itx_tr_language_script(const char *code);

/*
 * Checks one LLM translation of source into target: not empty, valid UTF-8, in the target
 * script, no Chinese left (keep-as-is glossary terms excepted), no runaway repetition, not
 * absurdly long. Returns NULL when fine, else a short reason.
 */
const char *itx_tr_check_output(const char *source, const char *out, const char *target,
                                const struct itx_glossary *glossary,
                                const struct itx_glossary *req_glossary);

/*
 * Letter sizes run together ("SMLXLXXL", "2XL3XL"): when s is two or more size codes in
 * increasing order, writes them spaced ("S M L XL XXL") into out and returns the length
 * written; 0 when s is not that or out is too small.
 */
size_t itx_tr_split_sizes(const char *s, size_t n, char *out, size_t out_size);

/*
 * Template entries of a glossary: terms holding {N}/{M} (numbers) or {A} (a Latin run),
 * e.g. "满{N}减{M}" -> "¥{M} off orders over ¥{N}"; the translation may use {OFF}, the
 * discount percentage of a 折 number. g may be NULL (no templates).
 */
size_t itx_tr_glossary_n_templates(const struct itx_glossary *g);
void itx_tr_glossary_template(const struct itx_glossary *g, size_t i, const char **term,
                              const char **translation);

/* ---- translator internals -------------------------------------------------------------- */

#include <pthread.h>

#include "core/buf.h"
#include "translate/translate.h"

#define ITX_TR_PROMPT_VERSION "itx-prompt-1"

struct curl_slist;

/* A provider failure as the vendor described it. */
struct tr_llm_error {
    long http_status;    /* 0 for network errors */
    long retry_delay_ms; /* the vendor's RetryInfo / Retry-After, -1 when none */
    bool no_retry;       /* per-day quota, billing, insufficient_quota, ... */
    char message[320];   /* vendor status and message, never the key */
};

/* How one LLM vendor builds requests and reads answers. */
struct tr_llm_ops {
    const char *name;
    /* URL, headers (the key goes here only) and JSON body of a request. */
    enum itx_status (*build)(const struct itx_translator *t, const char *system, const char *user,
                             struct itx_buf *url, struct curl_slist **headers, struct itx_buf *body,
                             struct itx_diag *d);
    /*
     * Reads a response body: ITX_OK with the model's text in content; ITX_ERR_UPSTREAM with
     * err filled for a vendor error object (or a refused/truncated answer);
     * ITX_ERR_UNDECODABLE for a body that is not the documented JSON.
     */
    enum itx_status (*parse)(const char *body, size_t len, struct itx_buf *content,
                             struct tr_llm_error *err, struct itx_diag *d);
};

extern const struct tr_llm_ops itx_tr_gemini_ops;
extern const struct tr_llm_ops itx_tr_openai_ops;

/* The documented response parsers (exposed for tests and fuzzing). */
enum itx_status itx_tr_gemini_parse(const char *body, size_t len, struct itx_buf *content,
                                    struct tr_llm_error *err, struct itx_diag *d);
enum itx_status itx_tr_openai_parse(const char *body, size_t len, struct itx_buf *content,
                                    struct tr_llm_error *err, struct itx_diag *d);

/* One segment of a model answer. */
struct tr_answer_item {
    long id;
    char *text;
};

/*
 * Parses the model's JSON answer {"translations":[{"id":N,"text":"..."}]} (also a bare
 * array, and tolerating a ```json fence). Items are written to a new array (free with
 * itx_tr_answer_free). ITX_ERR_UNDECODABLE when it is not that shape.
 */
enum itx_status itx_tr_parse_answer(const char *content, size_t len, struct tr_answer_item **items,
                                    size_t *n_items, struct itx_diag *d);
void itx_tr_answer_free(struct tr_answer_item *items, size_t n);

struct itx_translator {
    enum itx_tr_provider provider;
    const struct tr_llm_ops *ops; /* NULL for dict */
    char *model, *base_url, *api_key;
    long connect_timeout_ms, timeout_ms, base_delay_ms, max_delay_ms;
    int max_attempts;
    double temperature;
    bool fallback;
    struct itx_glossary *glossary; /* built-in + server file */
    char glossary_version[65];
    struct itx_dict *dict;      /* may be NULL for LLM providers */
    struct itx_tr_cache *cache; /* borrowed */
    /* Per-provider concurrency limit. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_flight, max_in_flight;
};

/*
 * Sends one prompt to the translator's LLM with retries (exponential backoff with jitter,
 * honouring the vendor's retry delay) and returns the model's text in content.
 * Counts attempts and delays in stats. Errors name the provider and the cause.
 */
enum itx_status itx_tr_llm_complete(struct itx_translator *t, const char *system, const char *user,
                                    struct itx_buf *content, struct itx_tr_stats *stats,
                                    struct itx_diag *d);

#endif
