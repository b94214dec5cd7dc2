/*
 * JPEG decoding on libjpeg-turbo. libjpeg reports fatal errors through error_exit, which
 * by default calls exit(): ours copies the message and longjmps back. The setjmp lives in
 * run(), and every resource is held in a struct owned by the caller, so nothing the jump
 * skips over is lost and no local of the jumping frame is read after it.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/alloc.h"
#include "image/image-impl.h"

/* Progressive files with more scans than this are refused: each scan is a full pass. */
#define MAX_SCANS 500

struct jdec {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr err;
    struct jpeg_progress_mgr prog;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    bool created;
    struct itx_image *img;
    uint8_t *row; /* one CMYK row */
    struct itx_image_cmyk *cmyk;
};

static void
on_error(j_common_ptr ci)
{
    struct jdec *s = ci->client_data;
    ci->err->format_message(ci, s->msg);
    longjmp(s->jb, 1);
}

/* Warnings are dropped, except running out of data: a truncated file is an error. */
static void
on_message(j_common_ptr ci, int level)
{
    if (level < 0 && ci->err->msg_code == JWRN_JPEG_EOF)
        on_error(ci);
}

static void
on_output(j_common_ptr ci)
{
    (void)ci;
}

static void
on_progress(j_common_ptr ci)
{
    struct jdec *s = ci->client_data;
    if (s->ci.input_scan_number > MAX_SCANS) {
        snprintf(s->msg, sizeof(s->msg), "over %d progressive scans", MAX_SCANS);
        longjmp(s->jb, 1);
    }
}

static enum itx_status
run(struct jdec *s, const uint8_t *data, size_t len, const struct itx_image_limits *lim,
    struct itx_image_info *info, struct itx_image_meta *meta, struct itx_diag *d)
{
    enum itx_status st;
    bool cmyk;
    JOCTET *icc = NULL;
    unsigned int icc_len = 0;

    if (setjmp(s->jb))
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", s->msg);
    s->ci.err = jpeg_std_error(&s->err);
    s->err.error_exit = on_error;
    s->err.emit_message = on_message;
    s->err.output_message = on_output;
    jpeg_create_decompress(&s->ci);
    s->created = true;
    s->ci.client_data = s;
    s->prog.progress_monitor = on_progress;
    s->ci.progress = &s->prog;
    jpeg_mem_src(&s->ci, data, (unsigned long)len);
    jpeg_save_markers(&s->ci, JPEG_APP0 + 1, 0xffff);
    jpeg_save_markers(&s->ci, JPEG_APP0 + 2, 0xffff);
    jpeg_read_header(&s->ci, TRUE);
    if ((st = itx_image_check_dims(s->ci.image_width, s->ci.image_height, lim, d)) != ITX_OK)
        return st;
    info->src_w = (int)s->ci.image_width;
    info->src_h = (int)s->ci.image_height;
    info->src_bands = s->ci.num_components;
    info->bits = s->ci.data_precision > 8 ? 16 : 8;
    info->n_pages = 1;
    cmyk = s->ci.jpeg_color_space == JCS_CMYK || s->ci.jpeg_color_space == JCS_YCCK;
    info->cmyk = cmyk;
    s->ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;

    for (jpeg_saved_marker_ptr m = s->ci.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
            meta->orientation = itx_image_exif_orientation(m->data, m->data_length);
            break;
        }
    if (jpeg_read_icc_profile(&s->ci, &icc, &icc_len) && icc_len <= ITX_IMAGE_MAX_ICC) {
        meta->icc = itx_malloc(icc_len);
        if (meta->icc) {
            memcpy(meta->icc, icc, icc_len);
            meta->icc_len = icc_len;
        }
    }
    free(icc); /* libjpeg allocates it with malloc() */

    jpeg_start_decompress(&s->ci);
    s->img = itx_image_new((int)s->ci.output_width, (int)s->ci.output_height, 3);
    if (!s->img)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %ux%u image", s->ci.output_width,
                            s->ci.output_height);
    if (cmyk) {
        s->row = itx_malloc_array(s->ci.output_width, 4);
        /* Adobe's APP14 marks the usual inverted CMYK; the profile is applied here */
        s->cmyk = itx_image_cmyk_new(meta->icc, meta->icc_len, s->ci.saw_Adobe_marker);
        if (!s->row || !s->cmyk)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory converting CMYK");
        itx_free(meta->icc);
        meta->icc = NULL, meta->icc_len = 0;
    }
    while (s->ci.output_scanline < s->ci.output_height) {
        JDIMENSION y = s->ci.output_scanline;
        JSAMPROW r = cmyk ? s->row : s->img->px + (size_t)y * s->img->stride;
        if (jpeg_read_scanlines(&s->ci, &r, 1) != 1)
            return itx_diag_set(d, ITX_ERR_UNDECODABLE, "no data for row %u", y);
        if (cmyk)
            itx_image_cmyk_row(s->cmyk, s->row, s->img->px + (size_t)y * s->img->stride, s->img->w);
    }
    return ITX_OK;
}

enum itx_status
itx_image_decode_jpeg(const uint8_t *data, size_t len, const struct itx_image_limits *lim,
                      struct itx_image **out, struct itx_image_info *info,
                      struct itx_image_meta *meta, struct itx_diag *d)
{
    struct jdec *s = itx_calloc(1, sizeof(*s));
    enum itx_status st;

    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    st = run(s, data, len, lim, info, meta, d);
    if (s->created)
        jpeg_destroy_decompress(&s->ci);
    if (st == ITX_OK) {
        *out = s->img;
        s->img = NULL;
    }
    itx_image_free(s->img);
    itx_free(s->row);
    itx_image_cmyk_free(s->cmyk);
    itx_free(s);
    return st;
}
