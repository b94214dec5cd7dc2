/*
 * PNG decoding on libpng: palette, grey and low bit depths expanded to 8-bit RGB, 16-bit
 * samples cut to their high byte, transparency (alpha channel or tRNS) flattened on white.
 * libpng's errors longjmp back into run(); as in decode-jpeg.c every resource lives in a
 * struct owned by the caller.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "core/alloc.h"
#include "image/image-impl.h"

/* Ceiling on the memory libpng may give one ancillary chunk (iCCP, text, eXIf). */
#define MAX_CHUNK_ALLOC (8u << 20)

struct pdec {
    png_structp png;
    png_infop pinfo;
    const uint8_t *data;
    size_t len, pos;
    char msg[200];
    struct itx_image *img;
    uint8_t *tmp;    /* RGBA rows: one, or the whole picture when interlaced */
    png_bytep *rows; /* row pointers for an interlaced picture */
};

static void
on_error(png_structp png, png_const_charp msg)
{
    struct pdec *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof(s->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

static void
on_read(png_structp png, png_bytep out, size_t n)
{
    struct pdec *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "truncated PNG data");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

/*
 * The EXIF orientation from an eXIf chunk, found by walking the chunk list ourselves: libpng
 * would allocate the length an eXIf chunk declares before reading it (1.7 GB for a crafted
 * 657-byte file), so it is told to skip the chunk.
 */
static int
exif_orientation(const uint8_t *p, size_t len)
{
    size_t i = 8;

    while (i + 12 <= len) {
        uint32_t n =
            (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
        const uint8_t *type = p + i + 4;
        if (n > len - i - 12)
            return 1;
        if (!memcmp(type, "eXIf", 4))
            return itx_image_exif_orientation(p + i + 8, n);
        if (!memcmp(type, "IEND", 4))
            return 1;
        i += 12 + (size_t)n;
    }
    return 1;
}

static enum itx_status
run(struct pdec *s, const struct itx_image_limits *lim, struct itx_image_info *info,
    struct itx_image_meta *meta, struct itx_diag *d)
{
    png_uint_32 w, h;
    int depth, type, interlace, passes, ch;
    png_charp name;
    int comp;
    png_bytep prof;
    png_uint_32 prof_len;
    enum itx_status st;

    if (setjmp(png_jmpbuf(s->png)))
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", s->msg);
    png_set_read_fn(s->png, s, on_read);
    /* our own limits decide; libpng's default 1000000 px a side would refuse first */
    png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(s->png, MAX_CHUNK_ALLOC);
    png_set_keep_unknown_chunks(s->png, PNG_HANDLE_CHUNK_NEVER, (png_const_bytep) "eXIf", 1);
    png_read_info(s->png, s->pinfo);
    png_get_IHDR(s->png, s->pinfo, &w, &h, &depth, &type, &interlace, NULL, NULL);
    if ((st = itx_image_check_dims(w, h, lim, d)) != ITX_OK)
        return st;
    info->src_w = (int)w, info->src_h = (int)h;
    info->bits = depth == 16 ? 16 : 8;
    info->n_pages = 1;
    info->had_alpha =
        (type & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(s->png, s->pinfo, PNG_INFO_tRNS);
    info->src_bands = type == PNG_COLOR_TYPE_PALETTE ? 3 : (type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    info->src_bands += info->had_alpha;
    if (png_get_iCCP(s->png, s->pinfo, &name, &comp, &prof, &prof_len) &&
        prof_len <= ITX_IMAGE_MAX_ICC) {
        meta->icc = itx_malloc(prof_len ? prof_len : 1);
        if (meta->icc) {
            memcpy(meta->icc, prof, prof_len);
            meta->icc_len = prof_len;
        }
    }
    meta->orientation = exif_orientation(s->data, s->len);

    png_set_expand(s->png);
    png_set_strip_16(s->png);
    png_set_gray_to_rgb(s->png);
    passes = png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->pinfo);
    ch = png_get_channels(s->png, s->pinfo);
    if (ch != 3 && ch != 4)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "unexpected %d channels", ch);
    s->img = itx_image_new((int)w, (int)h, 3);
    if (!s->img)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %ux%u image", w, h);
    if (passes > 1) {
        /* interlaced: every pass revisits every row, so all rows stay in memory */
        s->rows = itx_malloc_array(h, sizeof(*s->rows));
        if (ch == 4)
            s->tmp = itx_malloc_array((size_t)w * 4, h);
        if (!s->rows || (ch == 4 && !s->tmp))
            return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate an interlaced %ux%u image", w,
                                h);
        for (png_uint_32 y = 0; y < h; y++)
            s->rows[y] = ch == 4 ? s->tmp + (size_t)y * w * 4 : s->img->px + y * s->img->stride;
        png_read_image(s->png, s->rows);
        if (ch == 4)
            for (png_uint_32 y = 0; y < h; y++)
                itx_image_flatten_row(s->rows[y], s->img->px + y * s->img->stride, (int)w);
        return ITX_OK;
    }
    if (ch == 4 && !(s->tmp = itx_malloc_array(w, 4)))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) {
        uint8_t *o = s->img->px + y * s->img->stride;
        png_read_row(s->png, ch == 4 ? s->tmp : o, NULL);
        if (ch == 4)
            itx_image_flatten_row(s->tmp, o, (int)w);
    }
    return ITX_OK;
}

enum itx_status
itx_image_decode_png(const uint8_t *data, size_t len, const struct itx_image_limits *lim,
                     struct itx_image **out, struct itx_image_info *info,
                     struct itx_image_meta *meta, struct itx_diag *d)
{
    struct pdec *s = itx_calloc(1, sizeof(*s));
    enum itx_status st;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    s->data = data, s->len = len;
    s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
    if (s->png)
        s->pinfo = png_create_info_struct(s->png);
    if (!s->png || !s->pinfo)
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot start libpng");
    else
        st = run(s, lim, info, meta, d);
    if (s->png)
        png_destroy_read_struct(&s->png, s->pinfo ? &s->pinfo : NULL, NULL);
    if (st == ITX_OK) {
        *out = s->img;
        s->img = NULL;
    }
    itx_image_free(s->img);
    itx_free(s->tmp);
    itx_free(s->rows);
    itx_free(s);
    return st;
}
