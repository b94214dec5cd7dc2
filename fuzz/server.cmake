# Fuzz targets of src/server/: the API request parser (JSON and multipart bodies).
itx_add_fuzz(server-request SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/server-request.c LIBS itx_server)
