# Reference kernels (src/nn/ref.c).
# test_nn_ref checks them against hand values and second formulations written in the test.
itx_add_test(test_nn_ref SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ref.c LIBS itx_nn)

# test_nn_ref_ort checks them against ONNX Runtime on every op case of gen_op_cases.py,
# calling them through ctypes from Debian's python3, so it needs a shared build of ref.c.
# That build is never sanitised: a sanitised library cannot be loaded into an
# uninstrumented interpreter. The sanitised presets still run ref.c through test_nn_ref.
add_library(itx_nn_ref_shared SHARED ${CMAKE_SOURCE_DIR}/src/nn/ref.c)
target_include_directories(itx_nn_ref_shared PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(itx_nn_ref_shared PRIVATE ${ITX_WARNINGS} -fno-sanitize=all)
target_link_options(itx_nn_ref_shared PRIVATE -fno-sanitize=all)
target_link_libraries(itx_nn_ref_shared PRIVATE m)
itx_add_script_test(test_nn_ref_ort
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/ref_vs_ort.py
          $<TARGET_FILE:itx_nn_ref_shared> ${CMAKE_CURRENT_BINARY_DIR}/ref_vs_ort
  TIMEOUT 300)
# The three real models through the reference kernels, against ONNX Runtime (~10 s).
itx_add_script_test(test_nn_ref_models
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/ref_vs_ort.py --models
          $<TARGET_FILE:itx_nn_ref_shared> ${CMAKE_CURRENT_BINARY_DIR}/ref_models
  LABELS integration slow TIMEOUT 600)
