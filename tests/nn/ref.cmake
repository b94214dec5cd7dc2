# Reference kernels (src/nn/ref.c), checked against hand values and second formulations.
itx_add_test(test_nn_ref SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ref.c LIBS itx_nn)
