# Fuzz targets of src/ocr: DB post-processing on random probability maps, CTC decoding (and
# key-list parsing) on random matrices, perspective crops of random quads, slice plans and
# the merge of slice quads.
foreach(t db ctc crop slice)
  itx_add_fuzz(ocr-${t} SOURCE ${CMAKE_CURRENT_LIST_DIR}/ocr-${t}.c LIBS itx_ocr itx_core m)
endforeach()
