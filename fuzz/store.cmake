# Fuzz targets of src/store/ (parsers of remote answers and key files).
itx_add_fuzz(store-s3-error SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/store-s3-error.c LIBS itx_store)
itx_add_fuzz(store-gcs-json SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/store-gcs-json.c LIBS itx_store)
