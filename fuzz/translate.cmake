# Translation: the two LLM vendors' response parsers (with the model-answer parser behind them).
itx_add_fuzz(translate-gemini SOURCE ${CMAKE_SOURCE_DIR}/fuzz/translate-gemini.c LIBS itx_translate)
itx_add_fuzz(translate-openai SOURCE ${CMAKE_SOURCE_DIR}/fuzz/translate-openai.c LIBS itx_translate)
# The dictionary translator with a per-request glossary (both untrusted in requests).
itx_add_fuzz(translate-dict SOURCE ${CMAKE_SOURCE_DIR}/fuzz/translate-dict.c LIBS itx_translate)
