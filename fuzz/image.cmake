# Fuzz target for image decoding (src/image), with low limits so the fuzzer explores the
# parsers rather than spending its time decoding large pictures.
itx_add_fuzz(image-decode SOURCE ${CMAKE_CURRENT_LIST_DIR}/image-decode.c LIBS itx_image)
