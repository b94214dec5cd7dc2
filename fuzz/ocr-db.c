/*
 * Fuzz target: DB post-processing on small random probability maps.
 * Input: map width, map height, image width/8, image height/8, threshold, box threshold,
 * unclip ratio, max candidates, then one byte per map pixel (b / 249; 250..254 are NaN,
 * +inf, -inf, 1e30 and -0). Checks that every quad lies in the image and has a finite score.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "ocr/ocr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static float
value(uint8_t b)
{
    switch (b) {
    case 250:
        return NAN;
    case 251:
        return INFINITY;
    case 252:
        return -INFINITY;
    case 253:
        return 1e30f;
    case 254:
        return -0.0f;
    default:
        return b / 249.0f;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_ocr_db_params p;
    struct itx_ocr_quad *q = NULL;
    struct itx_diag d;
    size_t n = 0;
    int w, h, iw, ih;
    float *map;

    if (size < 8)
        return 0;
    w = data[0] % 64 + 1;
    h = data[1] % 64 + 1;
    iw = data[2] * 8 + 1;
    ih = data[3] * 8 + 1;
    itx_ocr_db_params_default(&p);
    p.thresh = data[4] / 255.0f;
    p.box_thresh = data[5] / 255.0f;
    p.unclip_ratio = data[6] / 25.5f;
    p.max_candidates = data[7] % 2 ? 1000 : data[7] / 16;
    data += 8;
    size -= 8;
    map = malloc(sizeof(float) * (size_t)w * (size_t)h);
    if (!map)
        return 0;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        map[i] = i < size ? value(data[i]) : 0.0f;
    itx_diag_init(&d);
    if (itx_ocr_db_boxes(map, w, h, iw, ih, &p, &q, &n, &d) == ITX_OK) {
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < 4; k++)
                if (!(q[i].pt[2 * k] >= 0 && q[i].pt[2 * k] <= (float)(iw - 1) &&
                      q[i].pt[2 * k + 1] >= 0 && q[i].pt[2 * k + 1] <= (float)(ih - 1)))
                    abort();
            if (!isfinite(q[i].score))
                abort();
        }
        itx_ocr_quads_sort(q, n);
        itx_free(q);
    } else if (d.code != ITX_ERR_INVALID) {
        abort();
    }
    free(map);
    return 0;
}
