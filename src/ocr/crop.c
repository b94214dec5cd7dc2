/*
 * Pre-processing on 8-bit RGB buffers: detector input size and tensor, perspective crops of
 * quads, and the line tensors of the recognizer and the orientation classifier.
 *
 * Resizes follow OpenCV's INTER_LINEAR on 8-bit images (half-pixel centres, edge pixels
 * clamped, the result rounded to 8 bits before normalisation), because that is what
 * PaddleOCR's cv2.resize feeds the models.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "ocr/ocr-impl.h"

void
itx_ocr_det_size(int w, int h, int limit_side, int *out_w, int *out_h)
{
    double ratio = 1.0;
    int rw, rh;

    ITX_ASSERT(w > 0 && h > 0 && limit_side > 0);
    if ((w > h ? w : h) > limit_side)
        ratio = (double)limit_side / (h > w ? h : w);
    rw = (int)(w * ratio);
    rh = (int)(h * ratio);
    rw = (int)itx_ocr_round_even(rw / 32.0) * 32;
    rh = (int)itx_ocr_round_even(rh / 32.0) * 32;
    *out_w = rw < 32 ? 32 : rw;
    *out_h = rh < 32 ? 32 : rh;
}

/* Source position and weight of destination index i for OpenCV's bilinear resize. */
static void
src_pos(int i, double scale, int n, int *s0, int *s1, float *f)
{
    double fx = (i + 0.5) * scale - 0.5;
    int sx = (int)floor(fx);

    *f = (float)(fx - sx);
    if (sx < 0) {
        sx = 0;
        *f = 0;
    }
    if (sx >= n - 1) {
        sx = n - 1;
        *f = 0;
    }
    *s0 = sx;
    *s1 = sx + 1 < n ? sx + 1 : n - 1;
}

/* Bilinear sample of channel ch at (x0|x1, y0|y1), rounded to 8 bits. */
static float
lerp_px(const uint8_t *px, size_t stride, int x0, int x1, float fx, int y0, int y1, float fy,
        int ch)
{
    const uint8_t *r0 = px + (size_t)y0 * stride, *r1 = px + (size_t)y1 * stride;
    float top = r0[3 * x0 + ch] * (1 - fx) + r0[3 * x1 + ch] * fx;
    float bot = r1[3 * x0 + ch] * (1 - fx) + r1[3 * x1 + ch] * fx;

    return floorf(top * (1 - fy) + bot * fy + 0.5f);
}

void
itx_ocr_det_tensor(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h, float *out)
{
    itx_ocr_det_tensor_pad(px, w, h, stride, out_w, out_h, out_w, out_h, out);
}

void
itx_ocr_det_tensor_pad(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h,
                       int pad_w, int pad_h, float *out)
{
    /* ImageNet statistics in PaddleOCR's order, applied to B, G, R. */
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    double sx = (double)w / out_w, sy = (double)h / out_h;
    size_t plane = (size_t)pad_w * (size_t)pad_h;

    ITX_ASSERT(pad_w >= out_w && pad_h >= out_h);
    for (int y = 0; y < out_h; y++) {
        int y0, y1;
        float fy;
        src_pos(y, sy, h, &y0, &y1, &fy);
        for (int x = 0; x < out_w; x++) {
            int x0, x1;
            float fx;
            size_t o = (size_t)y * (size_t)pad_w + (size_t)x;
            src_pos(x, sx, w, &x0, &x1, &fx);
            for (int c = 0; c < 3; c++) {
                float v = lerp_px(px, stride, x0, x1, fx, y0, y1, fy, 2 - c);
                out[(size_t)c * plane + o] = (v * (1.0f / 255.0f) - mean[c]) / sd[c];
            }
        }
        for (int c = 0; c < 3 && pad_w > out_w; c++)
            memset(out + (size_t)c * plane + (size_t)y * (size_t)pad_w + (size_t)out_w, 0,
                   (size_t)(pad_w - out_w) * sizeof(float));
    }
    /* Zero is the mean colour after normalisation, which the detector reads as no text. */
    for (int c = 0; c < 3 && pad_h > out_h; c++)
        memset(out + (size_t)c * plane + (size_t)out_h * (size_t)pad_w, 0,
               (size_t)(pad_h - out_h) * (size_t)pad_w * sizeof(float));
}

static double
dist(struct itx_ocr_pt a, struct itx_ocr_pt b)
{
    return hypot(a.x - b.x, a.y - b.y);
}

enum itx_status
itx_ocr_crop_quad(const uint8_t *px, int w, int h, size_t stride, const float pt[8],
                  size_t max_pixels, uint8_t **out, int *out_w, int *out_h, bool *rotated,
                  struct itx_diag *d)
{
    struct itx_ocr_pt q[4];
    double m[9], cw, ch;
    int W, H;
    size_t n;
    uint8_t *img = NULL, *rot = NULL;

    ITX_ASSERT(w > 0 && h > 0);
    if (max_pixels == 0)
        max_pixels = ITX_OCR_CROP_MAX_PIXELS;
    for (int i = 0; i < 4; i++) {
        if (!isfinite(pt[2 * i]) || !isfinite(pt[2 * i + 1]))
            return itx_diag_set(d, ITX_ERR_INVALID, "text box corner %d is not a number", i + 1);
        q[i].x = (double)pt[2 * i];
        q[i].y = (double)pt[2 * i + 1];
    }
    cw = fmax(dist(q[0], q[1]), dist(q[2], q[3]));
    ch = fmax(dist(q[0], q[3]), dist(q[1], q[2]));
    if (cw < 1 || ch < 1)
        return itx_diag_set(d, ITX_ERR_INVALID, "text box %.0fx%.0f is empty", cw, ch);
    if (cw > 1e6 || ch > 1e6 || cw * ch > (double)max_pixels)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "text box crop %.0fx%.0f is over the %zu-pixel limit", cw, ch,
                            max_pixels);
    W = (int)cw;
    H = (int)ch;
    n = (size_t)W * (size_t)H;
    img = itx_malloc_array(n, 3);
    if (!img)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a %dx%d crop", W, H);
    itx_ocr_rect_to_quad(q, W, H, m);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            double den = m[6] * x + m[7] * y + m[8];
            double sxf = (m[0] * x + m[1] * y + m[2]) / den;
            double syf = (m[3] * x + m[4] * y + m[5]) / den;
            int x0, y0, x1, y1;
            float fx, fy;
            uint8_t *o = img + 3 * ((size_t)y * (size_t)W + (size_t)x);
            if (!isfinite(sxf) || !isfinite(syf))
                sxf = syf = 0;
            /* Edge pixels replicated (BORDER_REPLICATE). */
            sxf = fmin(fmax(sxf, -1.0), (double)w);
            syf = fmin(fmax(syf, -1.0), (double)h);
            x0 = (int)floor(sxf);
            y0 = (int)floor(syf);
            fx = (float)(sxf - x0);
            fy = (float)(syf - y0);
            x1 = x0 + 1 > w - 1 ? w - 1 : x0 + 1 < 0 ? 0 : x0 + 1;
            y1 = y0 + 1 > h - 1 ? h - 1 : y0 + 1 < 0 ? 0 : y0 + 1;
            x0 = x0 < 0 ? 0 : x0 > w - 1 ? w - 1 : x0;
            y0 = y0 < 0 ? 0 : y0 > h - 1 ? h - 1 : y0;
            for (int c = 0; c < 3; c++)
                o[c] = (uint8_t)lerp_px(px, stride, x0, x1, fx, y0, y1, fy, c);
        }
    }
    if ((double)H / W >= 1.5) {
        /* np.rot90: anticlockwise, out[i][j] = in[j][W - 1 - i], size H x W. */
        rot = itx_malloc_array(n, 3);
        if (!rot) {
            itx_free(img);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a %dx%d crop", W, H);
        }
        for (int i = 0; i < W; i++)
            for (int j = 0; j < H; j++)
                memcpy(rot + 3 * ((size_t)i * (size_t)H + (size_t)j),
                       img + 3 * ((size_t)j * (size_t)W + (size_t)(W - 1 - i)), 3);
        itx_free(img);
        *out = rot;
        *out_w = H;
        *out_h = W;
        *rotated = true;
        return ITX_OK;
    }
    *out = img;
    *out_w = W;
    *out_h = H;
    *rotated = false;
    return ITX_OK;
}

void
itx_ocr_rgb_rotate180(uint8_t *px, int w, int h, size_t stride)
{
    for (int y = 0; y < (h + 1) / 2; y++) {
        uint8_t *a = px + (size_t)y * stride, *b = px + (size_t)(h - 1 - y) * stride;
        int end = (y == h - 1 - y) ? w / 2 : w;
        for (int x = 0; x < end; x++) {
            uint8_t *p = a + 3 * x, *r = b + 3 * (w - 1 - x), t[3];
            memcpy(t, p, 3);
            memcpy(p, r, 3);
            memcpy(r, t, 3);
        }
    }
}

int
itx_ocr_rec_batch_width(double max_ratio, int max_width)
{
    double r = (double)ITX_OCR_REC_WIDTH / ITX_OCR_REC_HEIGHT;
    double wd;

    if (max_width < ITX_OCR_REC_WIDTH)
        max_width = ITX_OCR_REC_WIDTH;
    if (max_ratio > r) /* false for NaN */
        r = max_ratio;
    wd = ITX_OCR_REC_HEIGHT * r;
    return wd >= max_width ? max_width : (int)wd;
}

void
itx_ocr_line_tensor(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h,
                    float *out)
{
    double want = ceil(out_h * ((double)w / h));
    int rw = want > out_w ? out_w : (int)want;
    double sx, sy = (double)h / out_h;
    size_t plane = (size_t)out_w * (size_t)out_h;

    ITX_ASSERT(w > 0 && h > 0 && out_w > 0 && out_h > 0);
    if (rw < 1)
        rw = 1;
    sx = (double)w / rw;
    for (int y = 0; y < out_h; y++) {
        int y0, y1;
        float fy;
        src_pos(y, sy, h, &y0, &y1, &fy);
        for (int x = 0; x < out_w; x++) {
            size_t o = (size_t)y * (size_t)out_w + (size_t)x;
            int x0, x1;
            float fx;
            if (x >= rw) {
                for (int c = 0; c < 3; c++)
                    out[(size_t)c * plane + o] = 0.0f;
                continue;
            }
            src_pos(x, sx, w, &x0, &x1, &fx);
            for (int c = 0; c < 3; c++) {
                float v = lerp_px(px, stride, x0, x1, fx, y0, y1, fy, 2 - c);
                out[(size_t)c * plane + o] = (v / 255.0f - 0.5f) / 0.5f;
            }
        }
    }
}
