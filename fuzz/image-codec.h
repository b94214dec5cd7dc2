/*
 * The body shared by the per-format image fuzz targets (image-jpeg.c, image-png.c,
 * image-webp.c, image-gif.c): one format decoder called directly, without the magic-byte
 * sniffing and the header peek of itx_image_decode in front, so the fuzzer reaches each
 * library's own header checks (the second line of defence) and its pixel decoding. Low
 * limits: 2 MP, 4000 px a side. Whatever the input: a status with a message, or a
 * 3-channel image inside the limits.
 */
#ifndef ITX_FUZZ_IMAGE_CODEC_H
#define ITX_FUZZ_IMAGE_CODEC_H

#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "image/image-impl.h"

typedef enum itx_status (*codec_fn)(const uint8_t *, size_t, const struct itx_image_limits *,
                                    struct itx_image **, struct itx_image_info *,
                                    struct itx_image_meta *, struct itx_diag *);

static int
fuzz_codec(codec_fn decode, const uint8_t *data, size_t size)
{
    struct itx_image_limits lim;
    struct itx_image *img = NULL;
    struct itx_image_info info = {0};
    struct itx_image_meta meta = {NULL, 0, 1};
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    itx_image_limits_default(&lim);
    lim.max_pixels = 2000000;
    lim.max_side = 4000;
    st = decode(data, size, &lim, &img, &info, &meta, &d);
    if (st == ITX_OK) {
        unsigned sum = 0;
        ITX_ASSERT(img && img->channels == 3 && img->stride == (size_t)img->w * 3);
        ITX_ASSERT((uint64_t)img->w * (uint64_t)img->h <= lim.max_pixels);
        ITX_ASSERT(img->w <= lim.max_side && img->h <= lim.max_side);
        ITX_ASSERT(meta.orientation >= 1 && meta.orientation <= 8);
        ITX_ASSERT(meta.icc_len <= ITX_IMAGE_MAX_ICC);
        for (size_t i = 0; i < (size_t)img->h * img->stride; i++)
            sum += img->px[i];
        (void)sum;
        if (meta.icc)
            itx_image_icc_to_srgb(img, meta.icc, meta.icc_len);
    } else {
        ITX_ASSERT(img == NULL);
        ITX_ASSERT(d.code == st && d.msg[0] != '\0');
    }
    itx_free(meta.icc);
    itx_image_free(img);
    return 0;
}

#endif
