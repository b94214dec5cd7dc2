/*
 * Copies between struct itx_image and VipsImage, for the development tools that draw the
 * synthetic test pictures with libvips (tools/testset) and for tests that make their inputs
 * with libvips's savers. Built as its own library, itx_image_vips, which the itx binary
 * never links (docs/image.md).
 */
#include <string.h>

#include <vips/vips.h>

#include "image/image.h"

static enum itx_status
vips_fail(struct itx_diag *d, enum itx_status code, const char *what)
{
    enum itx_status st = itx_diag_set(d, code, "%s: %s", what, vips_error_buffer());
    vips_error_clear();
    return st;
}

/* Pulls every pixel of an 8-bit image, top to bottom, into img (same size and bands). */
static int
compute_into(VipsImage *x, struct itx_image *img)
{
    VipsRegion *reg = vips_region_new(x);
    const int step = 16;
    int r = 0;

    if (!reg)
        return -1;
    for (int y = 0; y < img->h && r == 0; y += step) {
        VipsRect rect = {0, y, img->w, VIPS_MIN(step, img->h - y)};
        r = vips_region_prepare(reg, &rect);
        for (int k = 0; r == 0 && k < rect.height; k++)
            memcpy(img->px + (size_t)(y + k) * img->stride, VIPS_REGION_ADDR(reg, 0, y + k),
                   img->stride);
    }
    g_object_unref(reg);
    return r;
}

enum itx_status
itx_image_to_vips(const struct itx_image *img, VipsImage **out, struct itx_diag *d)
{
    size_t row = (size_t)img->w * (size_t)img->channels;
    VipsImage *v;

    if (VIPS_INIT("itx"))
        return vips_fail(d, ITX_ERR_INTERNAL, "cannot start libvips");
    v = vips_image_new_memory();
    if (!v)
        return vips_fail(d, ITX_ERR_NOMEM, "cannot make a libvips image");
    vips_image_init_fields(v, img->w, img->h, img->channels, VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
                           img->channels >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W,
                           1.0, 1.0);
    if (vips_image_write_prepare(v)) {
        g_object_unref(v);
        return vips_fail(d, ITX_ERR_NOMEM, "cannot make a libvips image");
    }
    for (int y = 0; y < img->h; y++)
        memcpy(VIPS_IMAGE_ADDR(v, 0, y), img->px + (size_t)y * img->stride, row);
    *out = v;
    return ITX_OK;
}

enum itx_status
itx_image_from_vips(VipsImage *in, struct itx_image **out, struct itx_diag *d)
{
    VipsImage *u = NULL;
    struct itx_image *img = NULL;
    enum itx_status st = ITX_OK;

    if (in->Bands < 1 || in->Bands > 4)
        return itx_diag_set(d, ITX_ERR_INVALID, "a libvips image with %d bands cannot be copied",
                            in->Bands);
    if (vips_image_get_format(in) != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(in, &u, NULL))
            return vips_fail(d, ITX_ERR_INTERNAL, "cannot cast to 8 bits");
    } else {
        u = in;
        g_object_ref(u);
    }
    img = itx_image_new(u->Xsize, u->Ysize, u->Bands);
    if (!img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", u->Xsize, u->Ysize);
        goto out;
    }
    if (compute_into(u, img)) {
        st = vips_fail(d, ITX_ERR_INTERNAL, "cannot compute a libvips image");
        goto out;
    }
    *out = img;
    img = NULL;
out:
    itx_image_free(img);
    g_object_unref(u);
    return st;
}
