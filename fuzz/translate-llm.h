/*
 * The body of the LLM response fuzz targets (translate-gemini.c, translate-openai.c): one
 * vendor's response parser, then the model-answer parser on the content it extracted.
 */
#ifndef ITX_FUZZ_TRANSLATE_LLM_H
#define ITX_FUZZ_TRANSLATE_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "translate/translate-impl.h"

typedef enum itx_status (*fuzz_llm_parse_fn)(const char *body, size_t len, struct itx_buf *content,
                                             struct tr_llm_error *err, struct itx_diag *d);

static inline int
fuzz_llm_response(fuzz_llm_parse_fn parse, const uint8_t *data, size_t size)
{
    struct itx_buf content;
    struct tr_llm_error err = {.retry_delay_ms = -1};
    struct itx_diag d;
    struct tr_answer_item *items = NULL;
    size_t n = 0;

    itx_diag_init(&d);
    itx_buf_init(&content, (size_t)8 << 20);
    if (parse((const char *)data, size, &content, &err, &d) == ITX_OK &&
        itx_tr_parse_answer(content.data, content.len, &items, &n, &d) == ITX_OK)
        itx_tr_answer_free(items, n);
    itx_buf_release(&content);
    return 0;
}

#endif
