/*
 * Fuzz target: slice planning for tall pictures and the merge of the slices' quads.
 * Input: picture width and height (2 bytes each, little-endian, 1..65536), limit side
 * (1 byte * 8 + 32), then 9 bytes per quad: 8 coordinates (b * w / 255 across, anywhere in
 * the picture down) and the slice it came from. Checks that the slices cover the picture
 * from top to bottom with overlaps and that the merge keeps a subset of the quads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ocr/ocr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_ocr_slice s[256];
    struct itx_ocr_quad *q = NULL;
    size_t *slice_of = NULL, n_slices, n = 0, n_out = 0;
    struct itx_diag d;
    int w, h, limit;

    if (size < 5)
        return 0;
    w = (data[0] | data[1] << 8) + 1;
    h = (data[2] | data[3] << 8) + 1;
    limit = data[4] * 8 + 32;
    data += 5;
    size -= 5;
    n_slices = itx_ocr_slices_plan(w, h, limit, 2.5, NULL, 0);
    if (n_slices < 1)
        abort();
    if (n_slices > sizeof(s) / sizeof(s[0]))
        return 0;
    if (itx_ocr_slices_plan(w, h, limit, 2.5, s, n_slices) != n_slices)
        abort();
    if (s[0].y != 0 || s[n_slices - 1].y + s[n_slices - 1].h != h)
        abort();
    for (size_t i = 0; i < n_slices; i++) {
        if (s[i].h < 1 || s[i].y < 0 || s[i].y + s[i].h > h)
            abort();
        if (i && s[i].y > s[i - 1].y + s[i - 1].h)
            abort(); /* a gap between slices */
    }

    n = size / 9;
    if (n) {
        q = itx_calloc(n, sizeof(*q));
        slice_of = itx_calloc(n, sizeof(*slice_of));
        if (!q || !slice_of)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = data + 9 * i;
        size_t k = b[8] % n_slices;
        for (int j = 0; j < 8; j += 2) {
            q[i].pt[j] = (float)b[j] * (float)w / 255.0f;
            q[i].pt[j + 1] = (float)s[k].y + (float)b[j + 1] * (float)s[k].h / 255.0f;
        }
        q[i].score = 0.7f;
        slice_of[i] = k;
    }
    itx_diag_init(&d);
    if (itx_ocr_quads_merge(q, n, slice_of, s, n_slices, &n_out, &d) == ITX_OK && n_out > n)
        abort();
out:
    itx_free(q);
    itx_free(slice_of);
    return 0;
}
