/*
 * libFuzzer target: OpenAI-compatible chat completion response bodies (success, error objects,
 * refusals, cut-off answers) and the model answer inside them.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "translate/translate-impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_buf content;
    struct tr_llm_error err = {.retry_delay_ms = -1};
    struct itx_diag d;
    struct tr_answer_item *items = NULL;
    size_t n = 0;

    itx_diag_init(&d);
    itx_buf_init(&content, (size_t)8 << 20);
    if (itx_tr_openai_parse((const char *)data, size, &content, &err, &d) == ITX_OK &&
        itx_tr_parse_answer(content.data, content.len, &items, &n, &d) == ITX_OK)
        itx_tr_answer_free(items, n);
    itx_buf_release(&content);
    return 0;
}
