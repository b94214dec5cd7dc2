# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake: writes a C file defining
# `const char NAME[]` (NUL-terminated) and `const size_t NAME_len` with the bytes of IN, and
# `const char NAME_etag[]`, a quoted strong HTTP ETag (the SHA-256 of the bytes in hex).
file(READ ${IN} hex HEX)
file(SHA256 ${IN} sha)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REGEX REPLACE "(('[^']+',){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* generated from ${IN} */\n#include <stddef.h>\n"
  "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
  "extern const char ${NAME}_etag[];\n"
  "const char ${NAME}[] = {\n${bytes}0};\nconst size_t ${NAME}_len = ${len};\n"
  "const char ${NAME}_etag[] = \"\\\"${sha}\\\"\";\n")
