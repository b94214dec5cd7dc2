# Translation: the two LLM vendors' response parsers (with the model-answer parser behind them).
itx_add_fuzz(translate-gemini SOURCE ${CMAKE_SOURCE_DIR}/fuzz/translate-gemini.c LIBS itx_translate)
itx_add_fuzz(translate-openai SOURCE ${CMAKE_SOURCE_DIR}/fuzz/translate-openai.c LIBS itx_translate)
