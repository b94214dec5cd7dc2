/*
 * Colour management of decoded pictures with lcms2: embedded RGB profiles (Display P3,
 * Adobe RGB, ...) to sRGB, and CMYK to sRGB through the picture's profile or, without one,
 * the naive formula. Transforms are made per picture on lcms2's default context, which is
 * safe to use from several threads for distinct transforms.
 */
#include <string.h>

#include <lcms2.h>

#include "core/alloc.h"
#include "image/image-impl.h"

/* Whether the profile says it is sRGB (then the pixels are used as they are). */
static bool
is_srgb(cmsHPROFILE p)
{
    char desc[256];

    if (cmsGetProfileInfoASCII(p, cmsInfoDescription, "en", "US", desc, sizeof(desc)) == 0)
        return false;
    desc[sizeof(desc) - 1] = '\0';
    return strstr(desc, "sRGB") != NULL || strstr(desc, "srgb") != NULL;
}

void
itx_image_icc_to_srgb(struct itx_image *img, const uint8_t *icc, size_t icc_len)
{
    cmsHPROFILE in = NULL, out = NULL;
    cmsHTRANSFORM t = NULL;

    if (!icc || icc_len < 128 || icc_len > ITX_IMAGE_MAX_ICC || img->channels != 3)
        return;
    in = cmsOpenProfileFromMem(icc, (cmsUInt32Number)icc_len);
    if (!in || cmsGetColorSpace(in) != cmsSigRgbData || is_srgb(in))
        goto out;
    out = cmsCreate_sRGBProfile();
    if (!out)
        goto out;
    t = cmsCreateTransform(in, TYPE_RGB_8, out, TYPE_RGB_8, INTENT_RELATIVE_COLORIMETRIC, 0);
    if (!t)
        goto out;
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->px + (size_t)y * img->stride;
        cmsDoTransform(t, row, row, (cmsUInt32Number)img->w);
    }
out:
    if (t)
        cmsDeleteTransform(t);
    if (out)
        cmsCloseProfile(out);
    if (in)
        cmsCloseProfile(in);
}

struct itx_image_cmyk {
    cmsHTRANSFORM t; /* NULL: naive conversion */
    bool inverted;
};

struct itx_image_cmyk *
itx_image_cmyk_new(const uint8_t *icc, size_t icc_len, bool inverted)
{
    struct itx_image_cmyk *c = itx_calloc(1, sizeof(*c));
    cmsHPROFILE in = NULL, out = NULL;

    if (!c)
        return NULL;
    c->inverted = inverted;
    if (icc && icc_len >= 128 && icc_len <= ITX_IMAGE_MAX_ICC) {
        in = cmsOpenProfileFromMem(icc, (cmsUInt32Number)icc_len);
        if (in && cmsGetColorSpace(in) == cmsSigCmykData && (out = cmsCreate_sRGBProfile()))
            c->t = cmsCreateTransform(in, inverted ? TYPE_CMYK_8_REV : TYPE_CMYK_8, out, TYPE_RGB_8,
                                      INTENT_RELATIVE_COLORIMETRIC, 0);
        if (out)
            cmsCloseProfile(out);
        if (in)
            cmsCloseProfile(in);
    }
    return c;
}

void
itx_image_cmyk_row(struct itx_image_cmyk *c, const uint8_t *cmyk, uint8_t *rgb, int w)
{
    if (c->t) {
        cmsDoTransform(c->t, cmyk, rgb, (cmsUInt32Number)w);
        return;
    }
    for (int x = 0; x < w; x++, cmyk += 4, rgb += 3) {
        /* ink amounts 0..255; inverted files store 255 - ink */
        unsigned k = c->inverted ? cmyk[3] : 255u - cmyk[3];
        for (int i = 0; i < 3; i++) {
            unsigned v = c->inverted ? cmyk[i] : 255u - cmyk[i];
            rgb[i] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

void
itx_image_cmyk_free(struct itx_image_cmyk *c)
{
    if (!c)
        return;
    if (c->t)
        cmsDeleteTransform(c->t);
    itx_free(c);
}
