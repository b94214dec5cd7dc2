/*
 * libFuzzer target: OpenAI-compatible chat completion response bodies (success, error objects,
 * refusals, cut-off answers) and the model answer inside them.
 */
#include "translate-llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_llm_response(itx_tr_openai_parse, data, size);
}
