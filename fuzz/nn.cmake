itx_add_fuzz(nn-onnx SOURCE ${CMAKE_SOURCE_DIR}/fuzz/nn-onnx.c LIBS itx_nn)
