/*
 * Fuzz target for the S3 XML error-document parser (answers of a remote server are
 * untrusted). Invariants: outputs are NUL-terminated within their buffers and contain no
 * control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char code[64], msg[300], small_code[2], small_msg[1];

    if (s3_parse_error((const char *)data, size, code, sizeof code, msg, sizeof msg)) {
        check_text(code, sizeof code);
        check_text(msg, sizeof msg);
    }
    if (s3_parse_error((const char *)data, size, small_code, sizeof small_code, small_msg,
                       sizeof small_msg)) {
        check_text(small_code, sizeof small_code);
        check_text(small_msg, sizeof small_msg);
    }
    return 0;
}
