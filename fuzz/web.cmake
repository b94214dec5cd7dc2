# Fuzz targets of the web page's API: the POST /v1/render request parser.
itx_add_fuzz(web-render SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/web-render.c LIBS itx_server)
