/*
 * Pixel buffers, geometry and tensor conversion. Plain C on struct itx_image: these run on
 * every OCR crop, so they avoid libvips's per-call set-up and stay bit-exact across
 * versions of the library.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "image/image-impl.h"

struct itx_image *
itx_image_new(int w, int h, int channels)
{
    struct itx_image *img;
    size_t row, size;

    if (w <= 0 || h <= 0 || channels <= 0 || channels > 4)
        return NULL;
    if (!itx_mul_size((size_t)w, (size_t)channels, &row) || !itx_mul_size(row, (size_t)h, &size))
        return NULL;
    img = itx_calloc(1, sizeof(*img));
    if (!img)
        return NULL;
    img->px = itx_calloc(size, 1);
    if (!img->px) {
        itx_free(img);
        return NULL;
    }
    img->w = w;
    img->h = h;
    img->channels = channels;
    img->stride = row;
    return img;
}

struct itx_image *
itx_image_clone(const struct itx_image *img)
{
    struct itx_image *c = itx_image_new(img->w, img->h, img->channels);

    if (!c)
        return NULL;
    for (int y = 0; y < img->h; y++)
        memcpy(c->px + (size_t)y * c->stride, img->px + (size_t)y * img->stride, c->stride);
    return c;
}

void
itx_image_free(struct itx_image *img)
{
    if (!img)
        return;
    itx_free(img->px);
    itx_free(img);
}

/*
 * Maps a destination pixel to its source pixel for each EXIF orientation. For 5..8 the
 * destination is the source with width and height swapped.
 */
static inline void
orient_src(int o, int W, int H, int x, int y, int *sx, int *sy)
{
    switch (o) {
    case 2:
        *sx = W - 1 - x;
        *sy = y;
        break;
    case 3:
        *sx = W - 1 - x;
        *sy = H - 1 - y;
        break;
    case 4:
        *sx = x;
        *sy = H - 1 - y;
        break;
    case 5:
        *sx = y;
        *sy = x;
        break;
    case 6:
        *sx = y;
        *sy = H - 1 - x;
        break;
    case 7:
        *sx = W - 1 - y;
        *sy = H - 1 - x;
        break;
    case 8:
        *sx = W - 1 - y;
        *sy = x;
        break;
    default:
        *sx = x;
        *sy = y;
        break;
    }
}

struct itx_image *
itx_image_orient(const struct itx_image *src, int o)
{
    bool swap = o >= 5 && o <= 8;
    int dw = swap ? src->h : src->w, dh = swap ? src->w : src->h;
    size_t ch = (size_t)src->channels;
    struct itx_image *dst = itx_image_new(dw, dh, src->channels);

    if (!dst)
        return NULL;
    for (int y = 0; y < dh; y++) {
        uint8_t *d = dst->px + (size_t)y * dst->stride;
        for (int x = 0; x < dw; x++, d += ch) {
            int sx, sy;
            orient_src(o, src->w, src->h, x, y, &sx, &sy);
            memcpy(d, itx_image_at(src, sx, sy), ch);
        }
    }
    return dst;
}

enum itx_status
itx_image_rotate90(const struct itx_image *src, int quarter_turns, struct itx_image **out,
                   struct itx_diag *d)
{
    /* counter-clockwise quarter turns 0..3 -> the EXIF orientation doing the same */
    static const int orientation[4] = {1, 8, 3, 6};
    struct itx_image *r = itx_image_orient(src, orientation[((quarter_turns % 4) + 4) % 4]);

    if (!r)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", src->h, src->w);
    *out = r;
    return ITX_OK;
}

enum itx_status
itx_image_crop(const struct itx_image *src, int x, int y, int w, int h, struct itx_image **out,
               struct itx_diag *d)
{
    struct itx_image *c;

    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > src->w - w || y > src->h - h)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "crop %dx%d at (%d,%d) does not lie inside the %dx%d image", w, h, x, y,
                            src->w, src->h);
    c = itx_image_new(w, h, src->channels);
    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", w, h);
    for (int r = 0; r < h; r++)
        memcpy(c->px + (size_t)r * c->stride, itx_image_at(src, x, y + r), c->stride);
    *out = c;
    return ITX_OK;
}

/* Source coordinate and weight table for one axis of a bilinear resize. */
struct lin_tap {
    int i0, i1;
    float w1; /* weight of i1; i0 gets 1 - w1 */
};

static void
lin_taps(int src_n, int dst_n, struct lin_tap *taps)
{
    double scale = (double)src_n / (double)dst_n;

    for (int i = 0; i < dst_n; i++) {
        double s = ((double)i + 0.5) * scale - 0.5;
        int i0 = (int)floor(s);
        double f = s - (double)i0;
        if (i0 < 0) {
            i0 = 0;
            f = 0;
        }
        if (i0 >= src_n - 1) {
            i0 = src_n - 1;
            f = 0;
        }
        taps[i].i0 = i0;
        taps[i].i1 = i0 + 1 < src_n ? i0 + 1 : i0;
        taps[i].w1 = (float)f;
    }
}

static enum itx_status
resize_bilinear(const struct itx_image *src, struct itx_image *dst, struct itx_diag *d)
{
    size_t ch = (size_t)src->channels;
    struct lin_tap *tx = itx_malloc_array((size_t)dst->w, sizeof(*tx));
    struct lin_tap *ty = itx_malloc_array((size_t)dst->h, sizeof(*ty));
    enum itx_status st = ITX_OK;

    if (!tx || !ty) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate resize tables");
        goto out;
    }
    lin_taps(src->w, dst->w, tx);
    lin_taps(src->h, dst->h, ty);
    for (int y = 0; y < dst->h; y++) {
        const uint8_t *r0 = src->px + (size_t)ty[y].i0 * src->stride;
        const uint8_t *r1 = src->px + (size_t)ty[y].i1 * src->stride;
        float wy = ty[y].w1;
        uint8_t *o = dst->px + (size_t)y * dst->stride;
        for (int x = 0; x < dst->w; x++) {
            size_t a = (size_t)tx[x].i0 * ch, b = (size_t)tx[x].i1 * ch;
            float wx = tx[x].w1;
            for (size_t c = 0; c < ch; c++) {
                float top = (float)r0[a + c] + ((float)r0[b + c] - (float)r0[a + c]) * wx;
                float bot = (float)r1[a + c] + ((float)r1[b + c] - (float)r1[a + c]) * wx;
                float v = top + (bot - top) * wy;
                *o++ = (uint8_t)(v + 0.5f);
            }
        }
    }
out:
    itx_free(tx);
    itx_free(ty);
    return st;
}

/* The source span and overlap weights of one output column of an area resize. */
struct area_tap {
    int k0, n;  /* first source column, number of columns */
    size_t off; /* index of the first weight in the weight table */
};

/*
 * Box filter for shrinking: output pixel i covers source [i*scale, (i+1)*scale) and each
 * source pixel contributes the length of its overlap. Computed separably in float: each
 * source row is resampled horizontally once (with weights tabulated up front) and added to
 * the output rows it overlaps, so the cost is one pass over the source.
 */
static enum itx_status
resize_area(const struct itx_image *src, struct itx_image *dst, struct itx_diag *d)
{
    size_t ch = (size_t)src->channels, n_row, n_w = 0;
    float *row = NULL, *acc = NULL, *wts = NULL;
    struct area_tap *taps = NULL;
    double sx = (double)src->w / dst->w, sy = (double)src->h / dst->h;
    int row_r = -1; /* the source row held in row */
    enum itx_status st = ITX_OK;

    if (!itx_mul_size((size_t)dst->w, ch, &n_row)) {
        st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "resize row too large");
        goto out;
    }
    row = itx_malloc_array(n_row, sizeof(float));
    acc = itx_malloc_array(n_row, sizeof(float));
    taps = itx_malloc_array((size_t)dst->w, sizeof(*taps));
    /* each output column spans at most floor(sx) + 2 source columns */
    if (itx_mul_size((size_t)dst->w, (size_t)sx + 2, &n_w))
        wts = itx_malloc_array(n_w, sizeof(float));
    n_w = 0;
    if (!row || !acc || !taps || !wts) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate resize rows");
        goto out;
    }
    for (int x = 0; x < dst->w; x++) {
        double x0 = x * sx, x1 = (x + 1) * sx;
        taps[x].k0 = (int)x0, taps[x].n = 0, taps[x].off = n_w;
        for (int k = (int)x0; k < src->w && k < x1; k++) {
            wts[n_w++] = (float)(fmin(x1, k + 1.0) - fmax(x0, (double)k));
            taps[x].n++;
        }
    }
    for (int y = 0; y < dst->h; y++) {
        double y0 = y * sy, y1 = (y + 1) * sy;
        memset(acc, 0, n_row * sizeof(float));
        for (int r = (int)y0; r < src->h && r < y1; r++) {
            float wy = (float)(fmin(y1, r + 1.0) - fmax(y0, (double)r));
            if (wy <= 0)
                continue;
            if (r != row_r) {
                /* horizontal pass of one source row */
                const uint8_t *s = src->px + (size_t)r * src->stride;
                for (int x = 0; x < dst->w; x++) {
                    const float *w = wts + taps[x].off;
                    const uint8_t *p = s + (size_t)taps[x].k0 * ch;
                    float *o = row + (size_t)x * ch;
                    if (ch == 3) {
                        /* the common case, spelt out so the compiler keeps it in registers;
                           the same sums in the same order as the general loop */
                        float a0 = 0, a1 = 0, a2 = 0;
                        for (int k = 0; k < taps[x].n; k++, p += 3) {
                            a0 += w[k] * (float)p[0];
                            a1 += w[k] * (float)p[1];
                            a2 += w[k] * (float)p[2];
                        }
                        o[0] = a0, o[1] = a1, o[2] = a2;
                        continue;
                    }
                    for (size_t c = 0; c < ch; c++)
                        o[c] = 0;
                    for (int k = 0; k < taps[x].n; k++, p += ch)
                        for (size_t c = 0; c < ch; c++)
                            o[c] += w[k] * (float)p[c];
                }
                row_r = r;
            }
            for (size_t i = 0; i < n_row; i++)
                acc[i] += wy * row[i];
        }
        {
            float norm = (float)(1.0 / (sx * sy));
            uint8_t *o = dst->px + (size_t)y * dst->stride;
            for (size_t i = 0; i < n_row; i++) {
                float v = acc[i] * norm + 0.5f;
                o[i] = (uint8_t)(v > 255.f ? 255.f : v);
            }
        }
    }
out:
    itx_free(row);
    itx_free(acc);
    itx_free(taps);
    itx_free(wts);
    return st;
}

enum itx_status
itx_image_resize(const struct itx_image *src, int w, int h, enum itx_image_filter filter,
                 struct itx_image **out, struct itx_diag *d)
{
    struct itx_image *dst;
    enum itx_status st;

    if (w < 1 || h < 1)
        return itx_diag_set(d, ITX_ERR_INVALID, "cannot resize to %dx%d", w, h);
    dst = itx_image_new(w, h, src->channels);
    if (!dst)
        return itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", w, h);
    if (filter == ITX_IMAGE_FILTER_AREA && w <= src->w && h <= src->h)
        st = resize_area(src, dst, d);
    else
        st = resize_bilinear(src, dst, d);
    if (st != ITX_OK) {
        itx_image_free(dst);
        return st;
    }
    *out = dst;
    return ITX_OK;
}

const struct itx_image_norm itx_image_norm_ppocr_det = {
    .scale = 1.0f / 255.0f,
    .mean = {0.485f, 0.456f, 0.406f},
    .std = {0.229f, 0.224f, 0.225f},
    .bgr = true,
};

const struct itx_image_norm itx_image_norm_ppocr_rec = {
    .scale = 1.0f / 255.0f,
    .mean = {0.5f, 0.5f, 0.5f},
    .std = {0.5f, 0.5f, 0.5f},
    .bgr = true,
};

void
itx_image_to_tensor(const struct itx_image *img, const struct itx_image_norm *norm, float *dst,
                    int dst_w, int dst_h, float pad)
{
    size_t plane = (size_t)dst_w * (size_t)dst_h;

    ITX_ASSERT(img->channels == 3);
    ITX_ASSERT(img->w <= dst_w && img->h <= dst_h);
    for (int c = 0; c < 3; c++) {
        /* tensor plane c reads image channel src_c */
        int src_c = norm->bgr ? 2 - c : c;
        float mul = norm->scale / norm->std[c], add = -norm->mean[c] / norm->std[c];
        float lut[256];
        float *p = dst + (size_t)c * plane;
        for (int v = 0; v < 256; v++)
            lut[v] = (float)v * mul + add;
        for (int y = 0; y < dst_h; y++) {
            float *o = p + (size_t)y * (size_t)dst_w;
            int x = 0;
            if (y < img->h) {
                const uint8_t *s = img->px + (size_t)y * img->stride + src_c;
                for (; x < img->w; x++, s += 3)
                    o[x] = lut[*s];
            }
            for (; x < dst_w; x++)
                o[x] = pad;
        }
    }
}
