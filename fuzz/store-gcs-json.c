/*
 * Fuzz target for the JSON parsers of the gcs store: token answers (from the token
 * endpoint or the metadata server), service-account key files, object resources and
 * error answers. The first byte picks the parser. Invariants: an accepted token is
 * non-empty, printable ASCII without spaces (it goes into a header) with a positive
 * lifetime; accepted keys have all three fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "store/store-impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json;
    size_t len;
    struct itx_diag d;

    if (size < 1)
        return 0;
    json = (const char *)data + 1;
    len = size - 1;
    itx_diag_init(&d);
    switch (data[0] % 4) {
    case 0: {
        char *tok = NULL;
        long exp = 0;
        if (gcs_parse_token(json, len, &tok, &exp, &d) == ITX_OK) {
            if (!tok || !*tok || exp <= 0)
                abort();
            for (const char *p = tok; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                    abort();
            itx_free(tok);
        } else if (!d.msg[0]) {
            abort();
        }
        break;
    }
    case 1: {
        struct gcs_key k = {0};
        if (gcs_parse_key(json, len, &k, &d) == ITX_OK) {
            if (!k.client_email || !k.private_key || !k.token_uri)
                abort();
            gcs_key_release(&k);
        }
        break;
    }
    case 2: {
        size_t n = 0;
        gcs_parse_object(json, len, &n, &d);
        break;
    }
    default: {
        char msg[64];
        if (gcs_parse_error(json, len, msg, sizeof msg)) {
            if (strnlen(msg, sizeof msg) == sizeof msg)
                abort();
        }
        break;
    }
    }
    return 0;
}
