# Fuzz target of src/render: text layout (size search, wrapping, fonts) on arbitrary input.
itx_add_fuzz(render-layout SOURCE ${CMAKE_CURRENT_LIST_DIR}/render-layout.c LIBS itx_render itx_core)
