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

/*
 * Template entries of a glossary: terms holding {N}/{M} (numbers) or {A} (a Latin run),
 * e.g. "满{N}减{M}" -> "¥{M} off orders over ¥{N}"; the translation may use {OFF}, the
 * discount percentage of a 折 number. g may be NULL (no templates).
 */
size_t itx_tr_glossary_n_templates(const struct itx_glossary *g);
void itx_tr_glossary_template(const struct itx_glossary *g, size_t i, const char **term,
                              const char **translation);

#endif
