/*
 * The API request parser on untrusted bodies. The first byte picks the parser: even, JSON
 * (bit 1: the jobs schema); odd, multipart, whose Content-Type boundary is the text up to
 * the first newline and whose body is the rest. Every success must produce a request that
 * keeps the parser's promises (counts within limits, images with bytes or a URL, types
 * sniffed); every failure must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct itx_api_request *r, const struct itx_api_limits *lim)
{
    if (r->n_images == 0 || r->n_images > lim->max_images || !r->target_lang || !r->source_lang)
        abort();
    for (size_t i = 0; i < r->n_images; i++) {
        const struct itx_api_image *im = &r->images[i];
        if (!im->url == !im->data)
            abort();
        if (im->data && (im->size == 0 || im->size > lim->max_image_bytes || !im->type ||
                         itx_api_sniff_image(im->data, im->size) != im->type))
            abort();
    }
    if (r->n_glossary > lim->max_glossary)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_api_limits lim = {8, 4096, 65536, 16};
    struct itx_api_request *r = NULL;
    struct itx_diag d;
    enum itx_status st;

    if (size < 1)
        return 0;
    itx_diag_init(&d);
    if ((data[0] & 1) == 0) {
        enum itx_api_kind kind = (data[0] & 2) ? ITX_API_JOB : ITX_API_TRANSLATE;
        st = itx_api_parse_json(data + 1, size - 1, kind, &lim, &r, &d);
    } else {
        const uint8_t *nl = memchr(data + 1, '\n', size - 1);
        size_t blen = nl ? (size_t)(nl - (data + 1)) : 0;
        char ct[160];
        if (blen > 100)
            blen = 100;
        memcpy(ct, "multipart/form-data; boundary=", 30);
        memcpy(ct + 30, data + 1, blen);
        ct[30 + blen] = '\0';
        {
            const uint8_t *body = nl ? nl + 1 : data + size;
            st = itx_api_parse_multipart(body, (size_t)(data + size - body), ct,
                                         (data[0] & 2) ? ITX_API_JOB : ITX_API_TRANSLATE, &lim, &r,
                                         &d);
        }
    }
    if (st == ITX_OK) {
        if (!r)
            abort();
        check(r, &lim);
    } else if (r || d.msg[0] == '\0') {
        abort();
    }
    itx_api_request_free(r);

    /* The decoder on its own, any bytes. */
    {
        uint8_t *out = NULL;
        size_t n = 0, bad = 0;
        if (itx_api_base64_decode((const char *)data, size, &out, &n, &bad)) {
            if (n > size / 4 * 3)
                abort();
            itx_free(out);
        } else if (out || (bad > size && bad != SIZE_MAX)) {
            abort();
        }
    }
    return 0;
}
