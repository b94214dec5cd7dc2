/*
 * Fuzz target for the SSRF address classifier: the first byte picks the family and the
 * length, the rest are the address bytes. Checks invariants that must hold for any input:
 * a class in range, and an embedded-IPv4 verdict only for IPv6.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fetch/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_fetch_addr_verdict v;
    enum itx_fetch_addr_class c;
    int family;

    if (size < 1)
        return 0;
    family = data[0] & 1 ? AF_INET6 : AF_INET;
    c = itx_fetch_addr_classify(family, data + 1, size - 1, &v);
    if ((unsigned)c >= ITX_ADDR_CLASS_COUNT || v.cls != c)
        abort();
    if (v.via && family != AF_INET6)
        abort();
    if (c == ITX_ADDR_INVALID && (size - 1 == (family == AF_INET ? 4u : 16u)))
        abort();
    if (!itx_fetch_addr_class_str(c)[0])
        abort();
    return 0;
}
