/* Tests of src/ocr/crop.c: detector size and tensor, perspective crops, line tensors. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/alloc.h"
#include "ocr/ocr.h"

/* A gradient: R = x, G = y, B = (x + 2y) mod 256. */
static uint8_t *
gradient(int w, int h)
{
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 3 * ((size_t)y * (size_t)w + (size_t)x);
            p[0] = (uint8_t)x;
            p[1] = (uint8_t)y;
            p[2] = (uint8_t)((x + 2 * y) % 256);
        }
    return px;
}

static void
test_det_size(void)
{
    int w, h;

    itx_ocr_det_size(800, 800, 960, &w, &h);
    CHECK(w == 800 && h == 800);
    itx_ocr_det_size(1000, 500, 960, &w, &h);
    CHECK(w == 960 && h == 480);
    itx_ocr_det_size(790, 6000, 960, &w, &h); /* 126.4 -> 126 -> 3.94 -> 128 */
    CHECK_MSG(w == 128 && h == 960, "%dx%d", w, h);
    itx_ocr_det_size(10, 10, 960, &w, &h);
    CHECK(w == 32 && h == 32);
    /* Python's round: 1.5 -> 2 and 2.5 -> 2. */
    itx_ocr_det_size(48, 80, 960, &w, &h);
    CHECK_MSG(w == 64 && h == 64, "%dx%d", w, h);
    itx_ocr_det_size(112, 16, 960, &w, &h); /* 3.5 -> 4, 0.5 -> 0 -> 32 */
    CHECK_MSG(w == 128 && h == 32, "%dx%d", w, h);
}

static void
test_det_tensor(void)
{
    uint8_t px[4 * 2 * 3];
    float out[3 * 4 * 4];

    for (int i = 0; i < 8; i++) {
        px[3 * i] = 255;
        px[3 * i + 1] = 0;
        px[3 * i + 2] = 51;
    }
    itx_ocr_det_tensor(px, 4, 2, 12, 4, 4, out);
    /* channel 0 is blue (51/255 = 0.2) with mean 0.485 and std 0.229 */
    CHECK(fabsf(out[0] - (0.2f - 0.485f) / 0.229f) < 1e-5f);
    CHECK(fabsf(out[16 + 5] - (0.0f - 0.456f) / 0.224f) < 1e-5f);
    CHECK(fabsf(out[32 + 15] - (1.0f - 0.406f) / 0.225f) < 1e-5f);
    /* Downscaling a gradient by 2 samples between pixel pairs (OpenCV centres). */
    {
        uint8_t *g = gradient(64, 8);
        float t[3 * 4 * 32];
        itx_ocr_det_tensor(g, 64, 8, 64 * 3, 32, 4, t);
        /* R (channel 2) at x = 5 is the mean of x = 10 and 11: 10.5, rounded to 11 */
        CHECK_MSG(fabsf(t[2 * 128 + 5] - (11.0f / 255 - 0.406f) / 0.225f) < 1e-5f, "%g",
                  (double)t[2 * 128 + 5]);
        free(g);
    }
}

static void
test_crop_axis_aligned(void)
{
    uint8_t *g = gradient(200, 100), *out = NULL;
    float q[8] = {10, 20, 110, 20, 110, 50, 10, 50};
    int w, h;
    bool rot = true;
    struct itx_diag d;
    int bad = 0;

    itx_diag_init(&d);
    CHECK(itx_ocr_crop_quad(g, 200, 100, 600, q, 0, &out, &w, &h, &rot, &d) == ITX_OK);
    CHECK(w == 100 && h == 30 && !rot);
    for (int y = 0; out && y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = out + 3 * (y * w + x);
            if (p[0] != 10 + x || p[1] != 20 + y)
                bad++;
        }
    CHECK_INT(bad, 0);
    itx_free(out);
    free(g);
}

static void
test_crop_vertical(void)
{
    uint8_t *g = gradient(100, 100), *out = NULL;
    float q[8] = {10, 10, 30, 10, 30, 70, 10, 70};
    int w, h, bad = 0;
    bool rot = false;

    CHECK(itx_ocr_crop_quad(g, 100, 100, 300, q, 0, &out, &w, &h, &rot, NULL) == ITX_OK);
    /* 20 x 60 is tall: turned anticlockwise to 60 x 20; out(j, i) = in(W - 1 - i, j) */
    CHECK(w == 60 && h == 20 && rot);
    for (int i = 0; out && i < h; i++)
        for (int j = 0; j < w; j++) {
            const uint8_t *p = out + 3 * (i * w + j);
            if (p[0] != 10 + (19 - i) || p[1] != 10 + j)
                bad++;
        }
    CHECK_INT(bad, 0);
    itx_free(out);
    free(g);
}

static void
test_crop_rotated(void)
{
    uint8_t *g = gradient(200, 120), *out = NULL;
    /* A 60 x 20 box rotated by 30 degrees, corners from (50, 30). */
    double a = 30 * M_PI / 180, c = cos(a), s = sin(a);
    float q[8] = {50,
                  30,
                  (float)(50 + 60 * c),
                  (float)(30 + 60 * s),
                  (float)(50 + 60 * c - 20 * s),
                  (float)(30 + 60 * s + 20 * c),
                  (float)(50 - 20 * s),
                  (float)(30 + 20 * c)};
    int w, h, worst = 0;
    bool rot;

    CHECK(itx_ocr_crop_quad(g, 200, 120, 600, q, 0, &out, &w, &h, &rot, NULL) == ITX_OK);
    CHECK_MSG((w == 60 || w == 59) && (h == 20 || h == 19) && !rot, "%dx%d", w, h);
    /* R = x and G = y are linear, so bilinear sampling reproduces them up to rounding. */
    for (int y = 0; out && y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = out + 3 * (y * w + x);
            double ex = 50 + x * c - y * s, ey = 30 + x * s + y * c;
            int e = (int)fmax(fabs(p[0] - ex), fabs(p[1] - ey));
            worst = e > worst ? e : worst;
        }
    CHECK_MSG(worst <= 1, "worst error %d", worst);
    itx_free(out);
    free(g);
}

static void
test_crop_errors(void)
{
    uint8_t *g = gradient(50, 50), *out = NULL;
    float flat[8] = {10, 10, 40, 10, 40, 10.5f, 10, 10.5f};
    float nan[8] = {10, 10, NAN, 10, 40, 40, 10, 40};
    float big[8] = {0, 0, 3000, 0, 3000, 3000, 0, 3000};
    int w, h;
    bool rot;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK(itx_ocr_crop_quad(g, 50, 50, 150, flat, 0, &out, &w, &h, &rot, &d) == ITX_ERR_INVALID);
    CHECK(itx_ocr_crop_quad(g, 50, 50, 150, nan, 0, &out, &w, &h, &rot, &d) == ITX_ERR_INVALID);
    CHECK(itx_ocr_crop_quad(g, 50, 50, 150, big, 1000000, &out, &w, &h, &rot, &d) ==
          ITX_ERR_TOO_LARGE);
    CHECK_MSG(strstr(d.msg, "1000000-pixel limit") != NULL, "%s", d.msg);
    /* Corners outside the picture replicate its edge pixels. */
    {
        float off[8] = {-20, -20, 70, -20, 70, 10, -20, 10};
        CHECK(itx_ocr_crop_quad(g, 50, 50, 150, off, 0, &out, &w, &h, &rot, &d) == ITX_OK);
        CHECK(out && out[0] == 0 && out[1] == 0 && out[3 * (w - 1)] == 49);
        itx_free(out);
    }
    free(g);
}

static void
test_rotate180(void)
{
    uint8_t *g = gradient(5, 3);
    itx_ocr_rgb_rotate180(g, 5, 3, 15);
    CHECK(g[0] == 4 && g[1] == 2);
    CHECK(g[3 * 7] == 2 && g[3 * 7 + 1] == 1); /* the middle pixel stays */
    CHECK(g[3 * 14] == 0 && g[3 * 14 + 1] == 0);
    free(g);
}

static void
test_line_tensor(void)
{
    uint8_t px[96 * 24 * 3];
    float *t = malloc(sizeof(float) * 3 * 48 * 320);

    for (int i = 0; i < 96 * 24; i++) {
        px[3 * i] = 255;
        px[3 * i + 1] = 0;
        px[3 * i + 2] = 51;
    }
    CHECK_INT(itx_ocr_rec_batch_width(96.0 / 24, 3200), 320);
    CHECK_INT(itx_ocr_rec_batch_width(10, 3200), 480);
    CHECK_INT(itx_ocr_rec_batch_width(100, 1600), 1600);
    CHECK_INT(itx_ocr_rec_batch_width(NAN, 1600), 320);
    itx_ocr_line_tensor(px, 96, 24, 96 * 3, 320, 48, t);
    /* 96 x 24 -> 192 x 48, then zeros; channels B, G, R in (v/255 - 0.5) / 0.5 */
    CHECK(fabsf(t[0] - (0.2f - 0.5f) / 0.5f) < 1e-6f);
    CHECK(t[48 * 320 + 191] == -1.0f);
    CHECK(t[2 * 48 * 320 + 47 * 320 + 191] == 1.0f);
    CHECK(t[192] == 0.0f && t[2 * 48 * 320 + 319] == 0.0f);
    /* A very wide crop is squeezed into the tensor width. */
    itx_ocr_line_tensor(px, 96, 2, 96 * 3, 320, 48, t);
    CHECK(t[2 * 48 * 320 + 319] == 1.0f);
    free(t);
}

int
main(void)
{
    test_det_size();
    test_det_tensor();
    test_crop_axis_aligned();
    test_crop_vertical();
    test_crop_rotated();
    test_crop_errors();
    test_rotate180();
    test_line_tensor();
    return check_summary();
}
