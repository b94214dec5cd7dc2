/*
 * libFuzzer target: itx_image_decode on arbitrary bytes with low limits (2 MP, 4000 px per
 * side, 4 MB of data). Whatever the input, decode must return a status with a message or
 * a well-formed 3-channel image inside the limits; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LeakSanitizer: lcms2 and fontconfig keep process-lifetime caches; those are not ours. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:liblcms2\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_image_limits lim;
    struct itx_image *img = NULL;
    struct itx_image_info info;
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    if (itx_image_init(&d) != ITX_OK)
        abort();
    itx_image_limits_default(&lim);
    lim.max_pixels = 2000000;
    lim.max_side = 4000;
    lim.max_bytes = 4u << 20;
    st = itx_image_decode(data, size, &lim, &img, &info, &d);
    if (st == ITX_OK) {
        ITX_ASSERT(img && img->channels == 3 && img->stride == (size_t)img->w * 3);
        ITX_ASSERT((uint64_t)img->w * (uint64_t)img->h <= lim.max_pixels);
        ITX_ASSERT(img->w >= lim.min_side && img->h >= lim.min_side);
        ITX_ASSERT(img->w <= lim.max_side && img->h <= lim.max_side);
        ITX_ASSERT(info.format != ITX_IMAGE_FORMAT_UNKNOWN);
        /* touch every pixel so sanitizers see any uninitialised or short buffer */
        {
            unsigned sum = 0;
            for (size_t i = 0; i < (size_t)img->h * img->stride; i++)
                sum += img->px[i];
            (void)sum;
        }
    } else {
        ITX_ASSERT(img == NULL);
        ITX_ASSERT(d.code == st && d.msg[0] != '\0');
    }
    itx_image_free(img);
    return 0;
}
