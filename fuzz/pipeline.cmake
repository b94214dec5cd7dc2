# Fuzz target of src/pipeline: the regions JSON read by itx render (itx_pipeline_redraw).
itx_add_fuzz(pipeline-regions SOURCE ${CMAKE_CURRENT_LIST_DIR}/pipeline-regions.c
  LIBS itx_pipeline itx_render itx_image itx_core)
