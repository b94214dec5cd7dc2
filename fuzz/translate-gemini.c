/*
 * libFuzzer target: Gemini generateContent response bodies (success, error objects with
 * RetryInfo / QuotaFailure details) and the model answer inside them.
 */
#include "translate-llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_llm_response(itx_tr_gemini_parse, data, size);
}
