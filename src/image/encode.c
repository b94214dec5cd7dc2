/*
 * Encoding to JPEG, PNG and WebP in memory and to files, with no metadata.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "image/image-impl.h"

static uint32_t
rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
wr_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/*
 * libvips 8.14's webpsave writes an EXIF chunk (resolution, orientation) even with "strip",
 * so the metadata chunks are removed here: EXIF, XMP and ICCP are dropped from the RIFF
 * container and their flags cleared in the VP8X header. Works in place; returns the new
 * length (the input length when the data is not a well-formed WebP).
 */
static size_t
strip_webp_metadata(uint8_t *p, size_t len)
{
    size_t in = 12, out = 12;

    if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WEBP", 4))
        return len;
    while (in + 8 <= len) {
        size_t n = rd_le32(p + in + 4), whole = 8 + n + (n & 1);
        if (whole > len - in)
            return len;
        if (!memcmp(p + in, "EXIF", 4) || !memcmp(p + in, "XMP ", 4) ||
            !memcmp(p + in, "ICCP", 4)) {
            in += whole;
            continue;
        }
        if (!memcmp(p + in, "VP8X", 4) && n >= 1)
            p[in + 8] &= (uint8_t) ~(0x20 | 0x08 | 0x04);
        memmove(p + out, p + in, whole);
        in += whole;
        out += whole;
    }
    wr_le32(p + 4, (uint32_t)(out - 8));
    return out;
}

enum itx_status
itx_image_encode(const struct itx_image *img, enum itx_image_format format, int quality,
                 uint8_t **out, size_t *out_len, struct itx_diag *d)
{
    VipsImage *v = NULL;
    void *buf = NULL;
    size_t size = 0;
    int r = -1;
    enum itx_status st;

    if (quality == 0)
        quality = ITX_IMAGE_QUALITY_DEFAULT;
    if (quality < 1 || quality > 100)
        return itx_diag_set(d, ITX_ERR_INVALID, "quality %d is outside 1..100", quality);
    if (format != ITX_IMAGE_FORMAT_JPEG && format != ITX_IMAGE_FORMAT_PNG &&
        format != ITX_IMAGE_FORMAT_WEBP)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "cannot encode '%s': itx writes jpeg, png and webp",
                            itx_image_format_name(format));
    if (format == ITX_IMAGE_FORMAT_JPEG && (img->channels == 2 || img->channels == 4))
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED, "JPEG has no alpha channel (%d channels)",
                            img->channels);
    if ((st = itx_image_to_vips(img, &v, d)) != ITX_OK)
        return st;
    switch (format) {
    case ITX_IMAGE_FORMAT_JPEG:
        r = vips_jpegsave_buffer(v, &buf, &size, "Q", quality, "strip", TRUE, "optimize_coding",
                                 TRUE, NULL);
        break;
    case ITX_IMAGE_FORMAT_PNG:
        r = vips_pngsave_buffer(v, &buf, &size, "compression", 6, "strip", TRUE, NULL);
        break;
    default:
        r = vips_webpsave_buffer(v, &buf, &size, "Q", quality, "strip", TRUE, NULL);
        break;
    }
    g_object_unref(v);
    if (r) {
        char what[48];
        snprintf(what, sizeof(what), "cannot encode %s", itx_image_format_name(format));
        return itx_image_vips_fail(d, ITX_ERR_INTERNAL, what);
    }
    *out = itx_malloc(size ? size : 1);
    if (!*out) {
        g_free(buf);
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate %zu bytes", size);
    }
    memcpy(*out, buf, size);
    if (format == ITX_IMAGE_FORMAT_WEBP)
        size = strip_webp_metadata(*out, size);
    *out_len = size;
    g_free(buf);
    return ITX_OK;
}

enum itx_status
itx_image_save_file(const struct itx_image *img, const char *path, enum itx_image_format format,
                    int quality, struct itx_diag *d)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char *tmp = NULL;
    FILE *f = NULL;
    int fd = -1;
    enum itx_status st;

    if (format == ITX_IMAGE_FORMAT_UNKNOWN)
        format = itx_image_format_from_path(path);
    if (format == ITX_IMAGE_FORMAT_UNKNOWN)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "cannot tell the format of '%s' from its name (.jpg, .png, .webp)",
                            path);
    if ((st = itx_image_encode(img, format, quality, &data, &len, d)) != ITX_OK)
        return itx_diag_prefix(d, "'%s'", path);
    tmp = itx_malloc(strlen(path) + 8);
    if (!tmp) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    strcpy(tmp, path);
    strcat(tmp, ".XXXXXX");
    fd = mkstemp(tmp);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
        st = itx_diag_set(d, ITX_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        goto out;
    }
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        st = itx_diag_set(d, ITX_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = itx_diag_set(d, ITX_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path,
                          strerror(errno));
        unlink(tmp);
        goto out;
    }
out:
    itx_free(tmp);
    itx_free(data);
    return st;
}
