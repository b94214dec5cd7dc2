/*
 * Translation of the short texts found on product pictures.
 *
 * Three providers sit behind one interface (struct itx_translator):
 *   - dict: the embedded default, no key and no network. CC-CEDICT compiled at set-up into
 *     $ITX_MODELS_DIR/cedict.idx (scripts/setup.d/20-dict.sh), mapped read-only, plus the
 *     project's e-commerce glossary (data/glossary-en.tsv), which wins in segmentation.
 *     English only.
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
enum itx_status itx_glossary_add(struct itx_glossary *g, const char *term,
                                 const char *translation, struct itx_diag *d);

/* Parses TSV text (see above); name is used in messages ("file.tsv:12: ..."). */
enum itx_status itx_glossary_parse(struct itx_glossary *g, const char *text, size_t len,
                                   const char *name, struct itx_diag *d);

/* Reads and parses a TSV file (at most ITX_GLOSSARY_MAX_FILE bytes). */
enum itx_status itx_glossary_load_file(struct itx_glossary *g, const char *path,
                                       struct itx_diag *d);

/*
 * Adds the project's built-in English e-commerce glossary (data/glossary-en.tsv, compiled
 * into the binary) to g.
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
                       bool (*fn)(const char *term, const char *translation, void *arg),
                       void *arg);

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
    unsigned n_tokens;    /* words and numbers produced */
    unsigned n_glossary;  /* of them from a glossary */
    unsigned n_unknown;   /* characters left in Chinese (no entry) */
};

/*
 * Translates one text into English with maximum-match segmentation (glossary entries first:
 * req_glossary, then glossary, then CEDICT), number/price/unit rules (¥39.9 stays, 3件 ->
 * 3 pcs, 5折 -> 50% off, 满199减30 -> ¥30 off orders over ¥199) and English spacing and
 * capitalisation. Appends to out. Either glossary may be NULL. stats may be NULL.
 * Thread-safe.
 */
enum itx_status itx_dict_translate(const struct itx_dict *dict,
                                   const struct itx_glossary *glossary,
                                   const struct itx_glossary *req_glossary, const char *text,
                                   struct itx_buf *out, struct itx_dict_stats *stats,
                                   struct itx_diag *d);

#endif
