/* libFuzzer target: the png decoder of src/image called directly (see image-codec.h). */
#include "image-codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_codec(itx_image_decode_png, data, size);
}
