# Fuzz targets of src/image, with low limits so the fuzzer explores the parsers rather than
# spending its time decoding large pictures: the whole decoder (sniffing, header peek, the
# format decoders, ICC, orientation), each format decoder on its own (image-codec.h), and
# the EXIF orientation parser.
itx_add_fuzz(image-decode SOURCE ${CMAKE_CURRENT_LIST_DIR}/image-decode.c LIBS itx_image)
foreach(f jpeg png webp gif)
  itx_add_fuzz(image-${f} SOURCE ${CMAKE_CURRENT_LIST_DIR}/image-${f}.c LIBS itx_image)
endforeach()
itx_add_fuzz(image-exif SOURCE ${CMAKE_CURRENT_LIST_DIR}/image-exif.c LIBS itx_image)
