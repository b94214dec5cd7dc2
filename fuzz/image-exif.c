/*
 * libFuzzer target: the EXIF orientation parser of src/image on arbitrary bytes, with and
 * without the "Exif\0\0" prefix. It must read only inside the block and answer 1..8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "image/image-impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so a read one past the end is caught by the sanitizer */
    uint8_t *p = itx_malloc(size ? size : 1);
    int o;

    if (!p)
        return 0;
    memcpy(p, data, size);
    o = itx_image_exif_orientation(p, size);
    ITX_ASSERT(o >= 1 && o <= 8);
    itx_free(p);
    return 0;
}
