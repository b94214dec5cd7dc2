# Fuzz targets of src/cli/: itx batch's input list and resume journal. The parser is one
# file of the itx executable, so it gets a small library of its own here and in tests/cli.
if(NOT TARGET itx_cli_batch_list)
  add_library(itx_cli_batch_list STATIC ${CMAKE_SOURCE_DIR}/src/cli/batch-list.c)
  target_compile_options(itx_cli_batch_list PRIVATE ${ITX_WARNINGS})
  target_include_directories(itx_cli_batch_list PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(itx_cli_batch_list PUBLIC itx_core)
endif()
itx_add_fuzz(cli-batch SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/cli-batch.c LIBS itx_cli_batch_list)
