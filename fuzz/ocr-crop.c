/*
 * Fuzz target: perspective crops and line tensors.
 * Input: image width and height (1..32), 8 quad coordinates as signed 16-bit values / 4,
 * then pixels. Checks that a crop succeeds or fails cleanly and that the line tensor of a
 * crop is finite.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ocr/ocr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *img, *crop = NULL;
    float q[8], *t;
    int w, h, cw, ch;
    bool rot;
    struct itx_diag d;
    enum itx_status st;

    if (size < 18)
        return 0;
    w = data[0] % 32 + 1;
    h = data[1] % 32 + 1;
    for (int i = 0; i < 8; i++)
        q[i] = (float)(int16_t)(data[2 + 2 * i] | data[3 + 2 * i] << 8) / 4.0f;
    data += 18;
    size -= 18;
    img = calloc((size_t)w * (size_t)h, 3);
    if (!img)
        return 0;
    memcpy(img, data, size < (size_t)w * (size_t)h * 3 ? size : (size_t)w * (size_t)h * 3);
    itx_diag_init(&d);
    st = itx_ocr_crop_quad(img, w, h, (size_t)w * 3, q, 1 << 16, &crop, &cw, &ch, &rot, &d);
    if (st == ITX_OK) {
        int tw = itx_ocr_rec_batch_width((double)cw / ch, 640);
        t = malloc(sizeof(float) * 3 * 48 * (size_t)tw);
        if (t) {
            itx_ocr_line_tensor(crop, cw, ch, (size_t)cw * 3, tw, 48, t);
            for (size_t i = 0; i < 3 * 48 * (size_t)tw; i++)
                if (!isfinite(t[i]) || t[i] < -1 || t[i] > 1)
                    abort();
            free(t);
        }
        itx_ocr_rgb_rotate180(crop, cw, ch, (size_t)cw * 3);
        itx_free(crop);
    } else if (st != ITX_ERR_INVALID && st != ITX_ERR_TOO_LARGE) {
        abort();
    }
    free(img);
    return 0;
}
