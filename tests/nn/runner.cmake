# The runner (loader, optimiser, planner, oneDNN and reference backends) end to end.
itx_add_test(test_nn_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_load.c LIBS itx_nn)
itx_add_script_test(test_nn_opcases
  COMMAND node ${CMAKE_CURRENT_SOURCE_DIR}/opcases.mjs $<TARGET_FILE:itx>
          ${CMAKE_CURRENT_BINARY_DIR}/opcases
  TIMEOUT 600)
itx_add_script_test(test_nn_parity
  COMMAND node ${CMAKE_CURRENT_SOURCE_DIR}/parity.mjs $<TARGET_FILE:itx>
          ${ITX_TEST_MODELS_DIR} ${CMAKE_CURRENT_BINARY_DIR}/parity
  TIMEOUT 900)
