/*
 * The one EXIF field itx needs, the orientation, read from IFD0 of the TIFF structure with
 * every offset bounded by the block's length (fuzz/image-exif.c).
 */
#include <string.h>

#include "image/image-impl.h"

static unsigned
rd16(const uint8_t *p, bool le)
{
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t
rd32(const uint8_t *p, bool le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
itx_image_exif_orientation(const uint8_t *p, size_t len)
{
    bool le;
    uint32_t ifd;
    unsigned n;

    if (len >= 6 && memcmp(p, "Exif\0\0", 6) == 0)
        p += 6, len -= 6;
    if (len < 8)
        return 1;
    if (p[0] == 'I' && p[1] == 'I')
        le = true;
    else if (p[0] == 'M' && p[1] == 'M')
        le = false;
    else
        return 1;
    if (rd16(p + 2, le) != 42)
        return 1;
    ifd = rd32(p + 4, le);
    if (ifd < 8 || ifd > len - 2)
        return 1;
    n = rd16(p + ifd, le);
    for (unsigned i = 0; i < n; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        unsigned type, v;
        if (e + 12 > len)
            break;
        if (rd16(p + e, le) != 0x0112)
            continue;
        /* SHORT, count >= 1: the value sits in the first two bytes of the value field */
        type = rd16(p + e + 2, le);
        if (type != 3 || rd32(p + e + 4, le) < 1)
            return 1;
        v = rd16(p + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}
