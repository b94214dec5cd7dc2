/*
 * Encoding to JPEG (libjpeg-turbo), PNG (libpng) and WebP (libwebp) in memory and to files,
 * with no metadata: none of the three writers adds any unless asked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "image/image-impl.h"

/*
 * PNG speed settings: zlib level 2 with the Sub filter on every row. On the synthetic
 * product pictures this writes about the bytes libvips's level 6 without filters wrote, in
 * a quarter of the time; libpng's adaptive filters at level 6 save 10% more for 5-8 times
 * the time.
 */
#define PNG_LEVEL 2
#define PNG_FILTERS PNG_FILTER_SUB

/* ---- JPEG ------------------------------------------------------------------------------- */

struct jenc {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    bool created;
    unsigned char *mem; /* libjpeg's output buffer (malloc) */
    unsigned long mem_len;
};

static void
jenc_error(j_common_ptr ci)
{
    struct jenc *s = ci->client_data;
    ci->err->format_message(ci, s->msg);
    longjmp(s->jb, 1);
}

static void
jenc_output(j_common_ptr ci)
{
    (void)ci;
}

static enum itx_status
jpeg_run(struct jenc *s, const struct itx_image *img, int quality, struct itx_diag *d)
{
    if (setjmp(s->jb))
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot encode jpeg: %s", s->msg);
    s->ci.err = jpeg_std_error(&s->err);
    s->err.error_exit = jenc_error;
    s->err.output_message = jenc_output;
    jpeg_create_compress(&s->ci);
    s->created = true;
    s->ci.client_data = s;
    jpeg_mem_dest(&s->ci, &s->mem, &s->mem_len);
    s->ci.image_width = (JDIMENSION)img->w;
    s->ci.image_height = (JDIMENSION)img->h;
    s->ci.input_components = img->channels;
    s->ci.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    /* baseline, Huffman tables not optimised (faster); chroma 4:2:0 under quality 90 and
       4:4:4 from 90 up, the rule libvips's jpegsave followed, so qualities mean the same */
    jpeg_set_defaults(&s->ci);
    jpeg_set_quality(&s->ci, quality, TRUE);
    if (img->channels == 3 && quality >= 90)
        s->ci.comp_info[0].h_samp_factor = s->ci.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&s->ci, TRUE);
    while (s->ci.next_scanline < s->ci.image_height) {
        JSAMPROW r = img->px + (size_t)s->ci.next_scanline * img->stride;
        jpeg_write_scanlines(&s->ci, &r, 1);
    }
    jpeg_finish_compress(&s->ci);
    return ITX_OK;
}

static enum itx_status
encode_jpeg(const struct itx_image *img, int quality, uint8_t **out, size_t *out_len,
            struct itx_diag *d)
{
    struct jenc *s = itx_calloc(1, sizeof(*s));
    enum itx_status st;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory encoding jpeg");
    st = jpeg_run(s, img, quality, d);
    if (s->created)
        jpeg_destroy_compress(&s->ci);
    if (st == ITX_OK) {
        *out = itx_malloc(s->mem_len ? s->mem_len : 1);
        if (!*out)
            st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate %lu bytes", s->mem_len);
        else
            memcpy(*out, s->mem, s->mem_len), *out_len = s->mem_len;
    }
    free(s->mem);
    itx_free(s);
    return st;
}

/* ---- PNG -------------------------------------------------------------------------------- */

struct penc {
    png_structp png;
    png_infop pinfo;
    struct itx_buf buf;
    enum itx_status write_st;
    char msg[200];
};

static void
penc_error(png_structp png, png_const_charp msg)
{
    struct penc *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof(s->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void
penc_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

static void
penc_write(png_structp png, png_bytep p, size_t n)
{
    struct penc *s = png_get_io_ptr(png);
    if ((s->write_st = itx_buf_append(&s->buf, p, n)) != ITX_OK)
        png_error(png, "out of memory");
}

static void
penc_flush(png_structp png)
{
    (void)png;
}

static enum itx_status
png_run(struct penc *s, const struct itx_image *img, struct itx_diag *d)
{
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};

    if (setjmp(png_jmpbuf(s->png)))
        return itx_diag_set(d, s->write_st ? s->write_st : ITX_ERR_INTERNAL,
                            "cannot encode png: %s", s->msg);
    png_set_write_fn(s->png, s, penc_write, penc_flush);
    png_set_compression_level(s->png, PNG_LEVEL);
    png_set_filter(s->png, 0, PNG_FILTERS);
    png_set_IHDR(s->png, s->pinfo, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(s->png, s->pinfo);
    for (int y = 0; y < img->h; y++)
        png_write_row(s->png, img->px + (size_t)y * img->stride);
    png_write_end(s->png, NULL);
    return ITX_OK;
}

static enum itx_status
encode_png(const struct itx_image *img, uint8_t **out, size_t *out_len, struct itx_diag *d)
{
    struct penc *s = itx_calloc(1, sizeof(*s));
    enum itx_status st;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory encoding png");
    /* ceiling: far above what zlib can make of the raw pixels */
    itx_buf_init(&s->buf, img->stride * (size_t)img->h * 2 + (1u << 20));
    s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, penc_error, penc_warning);
    if (s->png)
        s->pinfo = png_create_info_struct(s->png);
    if (!s->png || !s->pinfo)
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot start libpng");
    else
        st = png_run(s, img, d);
    if (s->png)
        png_destroy_write_struct(&s->png, s->pinfo ? &s->pinfo : NULL);
    if (st == ITX_OK) {
        *out = (uint8_t *)itx_buf_take(&s->buf, out_len);
        if (!*out)
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory encoding png");
    }
    itx_buf_release(&s->buf);
    itx_free(s);
    return st;
}

/* ---- WebP ------------------------------------------------------------------------------- */

static enum itx_status
encode_webp(const struct itx_image *img, int quality, uint8_t **out, size_t *out_len,
            struct itx_diag *d)
{
    const uint8_t *src = img->px;
    uint8_t *tmp = NULL, *enc = NULL;
    int stride = (int)img->stride, ch = img->channels;
    size_t n = 0;

    if (ch <= 2) {
        /* libwebp takes RGB(A): grey is expanded */
        int och = ch + 2;
        tmp = itx_malloc_array((size_t)img->w * (size_t)och, (size_t)img->h);
        if (!tmp)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory encoding webp");
        for (int y = 0; y < img->h; y++) {
            const uint8_t *s = img->px + (size_t)y * img->stride;
            uint8_t *o = tmp + (size_t)y * (size_t)img->w * (size_t)och;
            for (int x = 0; x < img->w; x++, s += ch, o += och) {
                o[0] = o[1] = o[2] = s[0];
                if (ch == 2)
                    o[3] = s[1];
            }
        }
        src = tmp, stride = img->w * och, ch = och;
    }
    if (ch == 4)
        n = WebPEncodeRGBA(src, img->w, img->h, stride, (float)quality, &enc);
    else
        n = WebPEncodeRGB(src, img->w, img->h, stride, (float)quality, &enc);
    itx_free(tmp);
    if (n == 0 || !enc) {
        WebPFree(enc);
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot encode webp (%dx%d)", img->w, img->h);
    }
    *out = itx_malloc(n);
    if (!*out) {
        WebPFree(enc);
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate %zu bytes", n);
    }
    memcpy(*out, enc, n);
    *out_len = n;
    WebPFree(enc);
    return ITX_OK;
}

enum itx_status
itx_image_encode(const struct itx_image *img, enum itx_image_format format, int quality,
                 uint8_t **out, size_t *out_len, struct itx_diag *d)
{
    int max_side;

    if (quality == 0)
        quality = ITX_IMAGE_QUALITY_DEFAULT;
    if (quality < 1 || quality > 100)
        return itx_diag_set(d, ITX_ERR_INVALID, "quality %d is outside 1..100", quality);
    if (format != ITX_IMAGE_FORMAT_JPEG && format != ITX_IMAGE_FORMAT_PNG &&
        format != ITX_IMAGE_FORMAT_WEBP)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "cannot encode '%s': itx writes jpeg, png and webp",
                            itx_image_format_name(format));
    /* the formats' own ceilings on a side: WebP 16383, JPEG 65500 (PNG's is far larger) */
    max_side = format == ITX_IMAGE_FORMAT_WEBP ? 16383 : 65500;
    if (img->w > max_side || img->h > max_side)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "cannot encode a %dx%d image as %s: over its %d-pixel limit on a side",
                            img->w, img->h, itx_image_format_name(format), max_side);
    if (format == ITX_IMAGE_FORMAT_JPEG && (img->channels == 2 || img->channels == 4))
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED, "JPEG has no alpha channel (%d channels)",
                            img->channels);
    switch (format) {
    case ITX_IMAGE_FORMAT_JPEG:
        return encode_jpeg(img, quality, out, out_len, d);
    case ITX_IMAGE_FORMAT_PNG:
        return encode_png(img, out, out_len, d);
    default:
        return encode_webp(img, quality, out, out_len, d);
    }
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
