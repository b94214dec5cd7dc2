/*
 * Fuzz target for the URL policy (scheme, credentials, allow-list on the host that
 * libcurl's parser extracts) and the alicdn thumbnail rewrite. Invariants: an accepted
 * URL has a non-empty host that matches the allow-list, and a rewritten URL is itself
 * accepted and never rewritten again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "fetch/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const allow[] = {"*.alicdn.com", "example.com"};
    char host[256];
    char *url, *orig;
    struct itx_diag d;

    if (size > 4096)
        return 0;
    url = itx_malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    itx_diag_init(&d);
    if (itx_fetch_url_check(url, allow, 2, host, sizeof host, &d) == ITX_OK) {
        if (!host[0] ||
            !(itx_fetch_host_match(allow[0], host) || itx_fetch_host_match(allow[1], host)))
            abort();
    }
    orig = itx_fetch_alicdn_original(url);
    if (orig) {
        char *again = itx_fetch_alicdn_original(orig);
        if (again && strcmp(again, orig) == 0)
            abort();
        itx_free(again);
        /* curl percent-encodes raw bytes, so the rewrite may grow, but boundedly. */
        if (strlen(orig) > 3 * strlen(url) + 16)
            abort();
    }
    itx_free(orig);
    itx_free(url);
    return 0;
}
