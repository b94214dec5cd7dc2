/*
 * The POST /v1/render parser on untrusted bodies. Every success must keep the parser's
 * promises: a 64-hex key, ids in range and unique, bounded translations without control
 * characters other than newline, lowercase colours, font sizes in range; every failure must
 * say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct itx_api_render_request *r, size_t max_edits)
{
    if (strlen(r->background) != 64 || strspn(r->background, "0123456789abcdef") != 64)
        abort();
    if (r->n_edits > max_edits || r->jpeg_quality < 1 || r->jpeg_quality > 100)
        abort();
    for (size_t i = 0; i < r->n_edits; i++) {
        const struct itx_api_region_edit *e = &r->edits[i];
        if (e->id < 0 || e->id >= ITX_API_RENDER_MAX_EDITS)
            abort();
        for (size_t k = 0; k < i; k++)
            if (r->edits[k].id == e->id)
                abort();
        if (e->translation) {
            size_t n = strlen(e->translation);
            if (n > ITX_API_RENDER_MAX_TEXT)
                abort();
            for (size_t k = 0; k < n; k++)
                if ((unsigned char)e->translation[k] < 0x20 && e->translation[k] != '\n')
                    abort();
        }
        if (e->color[0] && (strlen(e->color) != 7 || e->color[0] != '#' ||
                            strspn(e->color + 1, "0123456789abcdef") != 6))
            abort();
        if (e->font_size > ITX_API_RENDER_MAX_FONT)
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_api_render_request *r = NULL;
    struct itx_diag d;
    size_t max_edits = 64;
    enum itx_status st;

    itx_diag_init(&d);
    st = itx_api_parse_render(data, size, 65536, max_edits, &r, &d);
    if (st == ITX_OK) {
        if (!r)
            abort();
        check(r, max_edits);
    } else if (r || d.msg[0] == '\0') {
        abort();
    }
    itx_api_render_request_free(r);
    return 0;
}
