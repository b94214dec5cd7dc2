# Fuzz targets of src/fetch/.
itx_add_fuzz(fetch-addr SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fetch-addr.c LIBS itx_fetch)
itx_add_fuzz(fetch-url SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fetch-url.c LIBS itx_fetch)
