/*
 * Tests of the reference kernels (src/nn/ref.c). Expected values come either from hand
 * computation or from a second formulation written differently here (convolution as
 * im2col followed by a matrix product in double; ConvTranspose as the adjoint of Conv;
 * broadcasting by decoding every output index), never from the kernel itself.
 */
#include "check.h"
#include "nn/ref.h"

#include <stdint.h>
#include <stdlib.h>

/* Deterministic pseudo-random floats in [-1, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static float
rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *
rnd_array(int64_t n)
{
    float *a = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        a[i] = rnd();
    return a;
}

static double
max_abs_diff(const float *a, const double *b, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d)
            return HUGE_VAL;
        if (d > m)
            m = d;
    }
    return m;
}

static int
near(float got, double want)
{
    return fabs((double)got - want) <= 1e-5 * (1.0 + fabs(want));
}

/* ---- Conv ------------------------------------------------------------------------------ */

/* Output extent of a convolution along one axis, from the ONNX formula. */
static int64_t
conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

/*
 * Conv by im2col: build the matrix col[(c, i, j), (oh, ow)] of input samples (zero in the
 * padding) per group, then y = w_g * col in double precision.
 */
static void
conv_im2col(const float *x, const int64_t xs[4], const float *w, const int64_t ws[4],
            const float *bias, const struct itx_nn_conv_params *p, double *y, const int64_t ys[4])
{
    const int64_t g_n = p->group, cg = xs[1] / g_n, mg = ys[1] / g_n;
    const int64_t kh = ws[2], kw = ws[3], rows = cg * kh * kw, cols = ys[2] * ys[3];
    double *col = malloc((size_t)(rows * cols) * sizeof(double));
    for (int64_t n = 0; n < xs[0]; n++) {
        for (int64_t g = 0; g < g_n; g++) {
            for (int64_t c = 0; c < cg; c++)
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        for (int64_t oh = 0; oh < ys[2]; oh++)
                            for (int64_t ow = 0; ow < ys[3]; ow++) {
                                int64_t ih = oh * p->stride[0] - p->pad[0] + i * p->dilation[0];
                                int64_t iw = ow * p->stride[1] - p->pad[1] + j * p->dilation[1];
                                int64_t r = (c * kh + i) * kw + j, q = oh * ys[3] + ow;
                                int inside = ih >= 0 && ih < xs[2] && iw >= 0 && iw < xs[3];
                                int64_t src = ((n * xs[1] + g * cg + c) * xs[2] + ih) * xs[3] + iw;
                                col[r * cols + q] = inside ? (double)x[src] : 0.0;
                            }
            for (int64_t m = 0; m < mg; m++) {
                const int64_t mo = g * mg + m;
                for (int64_t q = 0; q < cols; q++) {
                    double s = bias ? (double)bias[mo] : 0.0;
                    for (int64_t r = 0; r < rows; r++)
                        s += (double)w[mo * rows + r] * col[r * cols + q];
                    y[(n * ys[1] + mo) * cols + q] = s;
                }
            }
        }
    }
    free(col);
}

struct conv_case {
    const char *name;
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

static const struct conv_case conv_cases[] = {
    {"plain 3x3 pad 1", 1, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"1x1 pointwise", 2, 5, 4, 3, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"stride 2 odd sizes", 1, 2, 9, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise 5x5 stride 2", 1, 6, 11, 9, 6, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 6},
    {"depthwise multiplier 2", 1, 3, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    {"grouped 2", 2, 4, 5, 6, 6, 3, 2, 1, 1, 1, 1, 1, 0, 1, 1, 2},
    {"dilation 2", 1, 2, 9, 8, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"dilation and stride", 1, 2, 10, 11, 3, 3, 2, 2, 3, 2, 3, 1, 2, 0, 1, 1},
    {"asymmetric pads", 1, 2, 5, 6, 2, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0, 1},
    {"1x1 spatial input", 1, 4, 1, 1, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"kernel larger than input", 1, 2, 2, 3, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1},
    {"stride larger than kernel", 1, 1, 8, 9, 2, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1},
    {"1 wide rows", 1, 3, 12, 1, 2, 3, 1, 2, 1, 1, 1, 1, 0, 1, 0, 1},
};

static void
test_conv(void)
{
    for (size_t t = 0; t < sizeof conv_cases / sizeof conv_cases[0]; t++) {
        const struct conv_case *k = &conv_cases[t];
        struct itx_nn_conv_params p = {.kernel = {k->kh, k->kw},
                                       .stride = {k->sh, k->sw},
                                       .dilation = {k->dh, k->dw},
                                       .pad = {k->pt, k->pl, k->pb, k->pr},
                                       .group = k->group};
        const int64_t xs[4] = {k->n, k->c, k->h, k->w};
        const int64_t ws[4] = {k->m, k->c / k->group, k->kh, k->kw};
        const int64_t ys[4] = {k->n, k->m, conv_out(k->h, k->kh, k->sh, k->dh, k->pt, k->pb),
                               conv_out(k->w, k->kw, k->sw, k->dw, k->pl, k->pr)};
        const int64_t nx = itx_nn_shape_numel(xs, 4), nw = itx_nn_shape_numel(ws, 4);
        const int64_t ny = itx_nn_shape_numel(ys, 4);
        float *x = rnd_array(nx), *w = rnd_array(nw), *b = rnd_array(k->m);
        float *y = malloc((size_t)ny * sizeof(float));
        double *want = malloc((size_t)ny * sizeof(double));
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            itx_nn_ref_conv2d(x, xs, w, ws, with_bias ? b : NULL, &p, y, ys);
            conv_im2col(x, xs, w, ws, with_bias ? b : NULL, &p, want, ys);
            double d = max_abs_diff(y, want, ny);
            CHECK_MSG(d < 1e-5, "conv '%s' bias=%d: max diff %g", k->name, with_bias, d);
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(want);
    }
}

/* A conv small enough to check by hand: 1x1x3x3 input, 2x2 kernel, stride 1, pad 0. */
static void
test_conv_hand(void)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float w[4] = {1, 0, 0, -1}; /* x[i][j] - x[i+1][j+1] = -4 everywhere */
    const float b[1] = {0.5f};
    const int64_t xs[4] = {1, 1, 3, 3}, ws[4] = {1, 1, 2, 2}, ys[4] = {1, 1, 2, 2};
    struct itx_nn_conv_params p = {{2, 2}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, {0, 0}};
    float y[4];
    itx_nn_ref_conv2d(x, xs, w, ws, b, &p, y, ys);
    for (int i = 0; i < 4; i++)
        CHECK(y[i] == -3.5f);
    /* With pad 1 on the top-left only, the top-left output sees just -x[0][0]. */
    const int64_t ys2[4] = {1, 1, 3, 3};
    struct itx_nn_conv_params p2 = {{2, 2}, {1, 1}, {1, 1}, {1, 1, 0, 0}, 1, {0, 0}};
    float y2[9];
    itx_nn_ref_conv2d(x, xs, w, ws, NULL, &p2, y2, ys2);
    CHECK(y2[0] == -1.0f);
    CHECK(y2[1] == -2.0f); /* 0*1 + ... - x[0][1] */
    CHECK(y2[4] == -4.0f);
    CHECK(y2[8] == 5.0f - 9.0f);
}

/* ---- ConvTranspose --------------------------------------------------------------------- */

/*
 * ConvTranspose with the weights of a Conv from C to M channels is the adjoint of that
 * Conv: <conv(x), u> = <x, convT(u)> for all x, u, when the output padding restores the
 * input size. That identity checks every index of the scatter independently of how the
 * kernel is written.
 */
static void
test_conv_transpose_adjoint(void)
{
    for (size_t t = 0; t < sizeof conv_cases / sizeof conv_cases[0]; t++) {
        const struct conv_case *k = &conv_cases[t];
        const int64_t xs[4] = {k->n, k->c, k->h, k->w};
        const int64_t ws[4] = {k->m, k->c / k->group, k->kh, k->kw};
        const int64_t ys[4] = {k->n, k->m, conv_out(k->h, k->kh, k->sh, k->dh, k->pt, k->pb),
                               conv_out(k->w, k->kw, k->sw, k->dw, k->pl, k->pr)};
        const int64_t eh = (k->kh - 1) * k->dh + 1, ew = (k->kw - 1) * k->dw + 1;
        struct itx_nn_conv_params p = {.kernel = {k->kh, k->kw},
                                       .stride = {k->sh, k->sw},
                                       .dilation = {k->dh, k->dw},
                                       .pad = {k->pt, k->pl, k->pb, k->pr},
                                       .group = k->group};
        p.output_padding[0] = k->h - (k->sh * (ys[2] - 1) + eh - k->pt - k->pb);
        p.output_padding[1] = k->w - (k->sw * (ys[3] - 1) + ew - k->pl - k->pr);
        const int64_t nx = itx_nn_shape_numel(xs, 4), nw = itx_nn_shape_numel(ws, 4);
        const int64_t ny = itx_nn_shape_numel(ys, 4);
        float *x = rnd_array(nx), *w = rnd_array(nw), *u = rnd_array(ny);
        float *cx = malloc((size_t)ny * sizeof(float)), *tu = malloc((size_t)nx * sizeof(float));
        itx_nn_ref_conv2d(x, xs, w, ws, NULL, &p, cx, ys);
        /* The transpose maps ys back to xs; its weight [M, C/group, kh, kw] is w itself. */
        itx_nn_ref_conv_transpose2d(u, ys, w, ws, NULL, &p, tu, xs);
        double lhs = 0.0, rhs = 0.0, scale = 0.0;
        for (int64_t i = 0; i < ny; i++) {
            lhs += (double)cx[i] * (double)u[i];
            scale += fabs((double)cx[i] * (double)u[i]);
        }
        for (int64_t i = 0; i < nx; i++)
            rhs += (double)x[i] * (double)tu[i];
        CHECK_MSG(fabs(lhs - rhs) <= 1e-5 * (1.0 + scale), "convT adjoint '%s': %g vs %g", k->name,
                  lhs, rhs);
        /* The bias is added once to every output element. */
        float *bias = rnd_array(k->c);
        float *tb = malloc((size_t)nx * sizeof(float));
        itx_nn_ref_conv_transpose2d(u, ys, w, ws, bias, &p, tb, xs);
        int ok = 1;
        for (int64_t i = 0; i < nx; i++) {
            int64_t c = (i / (k->h * k->w)) % k->c;
            ok &= fabsf(tb[i] - tu[i] - bias[c]) < 1e-5f;
        }
        CHECK_MSG(ok, "convT bias '%s'", k->name);
        free(bias);
        free(tb);
        free(x);
        free(w);
        free(u);
        free(cx);
        free(tu);
    }
}

/* The upsampling ConvTranspose of the DB head, by hand: stride 2, kernel 2, so each input
 * pixel paints a 2x2 block with the kernel scaled by its value. Two output channels. */
static void
test_conv_transpose_hand(void)
{
    const float x[4] = {1, 2, 3, 4};
    const float w[8] = {1, 2, 3, 4, /* channel 0 */ 0, 0, 0, 1 /* channel 1 */};
    const float b[2] = {0, 10};
    const int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {1, 2, 2, 2}, ys[4] = {1, 2, 4, 4};
    struct itx_nn_conv_params p = {{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1, {0, 0}};
    float y[32];
    itx_nn_ref_conv_transpose2d(x, xs, w, ws, b, &p, y, ys);
    const float want0[16] = {1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16};
    const float want1[16] = {10, 10, 10, 10, 10, 11, 10, 12, 10, 10, 10, 10, 10, 13, 10, 14};
    int ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= y[i] == want0[i] && y[16 + i] == want1[i];
    CHECK(ok);
    /* Stride 2, kernel 3, pad 1, output_padding 1: 2x2 -> 4x4 (as in 2x upsampling
     * decoders). Output (oh, ow) receives x[ih][iw]*w[oh-2ih+1][ow-2iw+1]; with an all-ones
     * kernel, the count of contributors. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, xo[4] = {1, 1, 1, 1};
    const int64_t ws3[4] = {1, 1, 3, 3}, ys3[4] = {1, 1, 4, 4};
    struct itx_nn_conv_params p3 = {{3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1, {1, 1}};
    float y3[16];
    itx_nn_ref_conv_transpose2d(xo, xs, ones, ws3, NULL, &p3, y3, ys3);
    /* Along one axis: out 0 <- in 0 (tap 1); out 1 <- in 0 (tap 2), in 1 (tap 0);
     * out 2 <- in 1 (tap 1); out 3 <- in 1 (tap 2). Counts 1,2,1,1. */
    const float cnt[4] = {1, 2, 1, 1};
    ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ok &= y3[i * 4 + j] == cnt[i] * cnt[j];
    CHECK(ok);
}

/* ---- BatchNormalization ---------------------------------------------------------------- */

static void
test_batchnorm(void)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [2, 2, 2] */
    const float scale[2] = {2, 0.5f}, bias[2] = {1, -1}, mean[2] = {1, 4}, var[2] = {3, 0};
    const int64_t shape[3] = {2, 2, 2};
    float y[8];
    itx_nn_ref_batchnorm(x, shape, 3, scale, bias, mean, var, 1.0f, y);
    /* channel 0: 2*(x-1)/2 + 1 = x; channel 1: 0.5*(x-4)/1 - 1 */
    const float want[8] = {1, 2, -1.5f, -1, 5, 6, 0.5f, 1};
    for (int i = 0; i < 8; i++)
        CHECK_MSG(near(y[i], want[i]), "bn[%d] = %g, want %g", i, (double)y[i], (double)want[i]);
}

/* ---- Broadcasting binary ops ----------------------------------------------------------- */

static double
apply_op(enum itx_nn_binary_op op, double a, double b)
{
    switch (op) {
    case ITX_NN_ADD:
        return a + b;
    case ITX_NN_SUB:
        return a - b;
    case ITX_NN_MUL:
        return a * b;
    case ITX_NN_DIV:
        return a / b;
    case ITX_NN_POW:
        return pow(a, b);
    }
    return 0.0;
}

/* The index of operand element for output index flat: decode the output coordinates, then
 * re-encode them in the operand's shape, where an extent-1 axis always reads index 0. */
static int64_t
bcast_index(int64_t flat, const int64_t *ys, int yr, const int64_t *s, int r)
{
    int64_t coord[ITX_NN_MAX_RANK];
    for (int i = yr - 1; i >= 0; i--) {
        coord[i] = flat % ys[i];
        flat /= ys[i];
    }
    int64_t idx = 0;
    for (int i = 0; i < r; i++) {
        int64_t c = s[i] == 1 ? 0 : coord[yr - r + i];
        idx = idx * s[i] + c;
    }
    return idx;
}

static void
check_binary(enum itx_nn_binary_op op, const int64_t *as, int ar, const int64_t *bs, int br,
             const int64_t *ys, int yr, int positive)
{
    const int64_t na = itx_nn_shape_numel(as, ar), nb = itx_nn_shape_numel(bs, br);
    const int64_t ny = itx_nn_shape_numel(ys, yr);
    float *a = rnd_array(na), *b = rnd_array(nb), *y = malloc((size_t)ny * sizeof(float));
    double *want = malloc((size_t)ny * sizeof(double));
    if (positive) /* Pow of a negative base to a fractional power is NaN */
        for (int64_t i = 0; i < na; i++)
            a[i] = fabsf(a[i]) + 0.25f;
    if (op == ITX_NN_DIV)
        for (int64_t i = 0; i < nb; i++)
            b[i] = b[i] < 0 ? b[i] - 0.5f : b[i] + 0.5f;
    itx_nn_ref_binary(op, a, as, ar, b, bs, br, y, ys, yr);
    for (int64_t i = 0; i < ny; i++)
        want[i] = apply_op(op, (double)a[bcast_index(i, ys, yr, as, ar)],
                           (double)b[bcast_index(i, ys, yr, bs, br)]);
    int ok = 1;
    for (int64_t i = 0; i < ny; i++)
        ok &= near(y[i], want[i]);
    CHECK_MSG(ok, "binary op %d a rank %d b rank %d y rank %d", (int)op, ar, br, yr);
    free(a);
    free(b);
    free(y);
    free(want);
}

static void
test_binary(void)
{
    const int64_t s234[3] = {2, 3, 4}, s31[2] = {3, 1}, s1[1] = {1}, s23[2] = {2, 3};
    const int64_t s214[3] = {2, 1, 4}, s314[3] = {3, 1, 4}, s2314[4] = {2, 3, 1, 4};
    const int64_t s2334[4] = {2, 3, 3, 4};
    const int64_t s4[1] = {4}, s1c11[4] = {1, 5, 1, 1}, s2c33[4] = {2, 5, 3, 3};
    const int64_t s234b[3] = {2, 3, 4}, s34[2] = {3, 4};
    for (int op = ITX_NN_ADD; op <= ITX_NN_POW; op++) {
        enum itx_nn_binary_op o = (enum itx_nn_binary_op)op;
        int pos = o == ITX_NN_POW;
        check_binary(o, s234, 3, s31, 2, s234, 3, pos);
        check_binary(o, s31, 2, s234, 3, s234, 3, pos);
        check_binary(o, s1, 1, s23, 2, s23, 2, pos);
        check_binary(o, s23, 2, s1, 1, s23, 2, pos);
        check_binary(o, s23, 2, NULL, 0, s23, 2, pos); /* rank-0 operand */
        check_binary(o, NULL, 0, s23, 2, s23, 2, pos);
        check_binary(o, NULL, 0, NULL, 0, NULL, 0, pos); /* rank-0 result */
        check_binary(o, s214, 3, s31, 2, s234, 3, pos);  /* both sides broadcast */
        check_binary(o, s314, 3, s2314, 4, s2334, 4, pos);
        check_binary(o, s2314, 4, s314, 3, s2334, 4, pos);
        check_binary(o, s4, 1, s234, 3, s234, 3, pos);
        check_binary(o, s2c33, 4, s1c11, 4, s2c33, 4, pos); /* per-channel scale */
        check_binary(o, s234b, 3, s34, 2, s234, 3, pos);
    }
    /* Pow with the exponents the LayerNorm pattern uses, by hand. */
    const float base[3] = {3, -2, 0.5f}, two[1] = {2};
    const int64_t s3[1] = {3};
    float out[3];
    itx_nn_ref_binary(ITX_NN_POW, base, s3, 1, two, NULL, 0, out, s3, 1);
    CHECK(out[0] == 9.0f && out[1] == 4.0f && out[2] == 0.25f);
    /* In-place: y aliases a. */
    float a[6] = {1, 2, 3, 4, 5, 6};
    const float col[2] = {10, 100};
    const int64_t s21[2] = {2, 1};
    itx_nn_ref_binary(ITX_NN_MUL, a, s23, 2, col, s21, 2, a, s23, 2);
    CHECK(a[0] == 10 && a[2] == 30 && a[3] == 400 && a[5] == 600);
}

/* ---- Unary ----------------------------------------------------------------------------- */

static void
test_unary(void)
{
    const float x[6] = {-7, -3, -0.5f, 0, 1.5f, 4};
    float y[6];
    itx_nn_ref_unary(ITX_NN_RELU, x, 6, 0, 0, y);
    CHECK(y[0] == 0 && y[2] == 0 && y[3] == 0 && y[4] == 1.5f && y[5] == 4);
    itx_nn_ref_unary(ITX_NN_SIGMOID, x, 6, 0, 0, y);
    CHECK(near(y[3], 0.5) && near(y[4], 1.0 / (1.0 + exp(-1.5))) &&
          near(y[0], 1.0 / (1.0 + exp(7))));
    const float big[2] = {-200, 200};
    float yb[2];
    itx_nn_ref_unary(ITX_NN_SIGMOID, big, 2, 0, 0, yb);
    CHECK(yb[0] == 0.0f && yb[1] == 1.0f);
    itx_nn_ref_unary(ITX_NN_CLIP, x, 6, 0, 6, y);
    CHECK(y[0] == 0 && y[4] == 1.5f && y[5] == 4);
    itx_nn_ref_unary(ITX_NN_CLIP, x, 6, -1, 1, y);
    CHECK(y[0] == -1 && y[2] == -0.5f && y[4] == 1 && y[5] == 1);
    /* HardSigmoid with PaddleOCR's alpha 0.2, beta 0.5. */
    itx_nn_ref_unary(ITX_NN_HARD_SIGMOID, x, 6, 0.2f, 0.5f, y);
    CHECK(y[0] == 0 && y[1] == 0 && near(y[2], 0.4) && near(y[3], 0.5) && near(y[4], 0.8) &&
          y[5] == 1);
    itx_nn_ref_unary(ITX_NN_HARD_SWISH, x, 6, 0, 0, y);
    CHECK(y[0] == 0 && y[1] == 0 && near(y[2], -0.5 * (2.5 / 6)) && y[3] == 0 &&
          near(y[4], 1.5 * 4.5 / 6) && y[5] == 4);
    itx_nn_ref_unary(ITX_NN_LINEAR, x, 6, 2, 1, y);
    CHECK(y[0] == -13 && y[3] == 1 && y[5] == 9);
    /* Swish with alpha 1 is x * sigmoid(x); with alpha 2, x * sigmoid(2x). */
    itx_nn_ref_unary(ITX_NN_SWISH, x, 6, 1, 0, y);
    CHECK(y[3] == 0 && near(y[4], 1.5 / (1.0 + exp(-1.5))) && near(y[1], -3.0 / (1.0 + exp(3.0))));
    itx_nn_ref_unary(ITX_NN_SWISH, x, 6, 2, 0, y);
    CHECK(near(y[4], 1.5 / (1.0 + exp(-3.0))) && near(y[2], -0.5 / (1.0 + exp(1.0))));
    const float sq[3] = {0, 4, 2};
    itx_nn_ref_unary(ITX_NN_SQRT, sq, 3, 0, 0, y);
    CHECK(y[0] == 0 && y[1] == 2 && near(y[2], sqrt(2.0)));
    float inplace[3] = {1, -1, 2};
    itx_nn_ref_unary(ITX_NN_IDENTITY, inplace, 3, 0, 0, y);
    CHECK(y[0] == 1 && y[1] == -1 && y[2] == 2);
    itx_nn_ref_unary(ITX_NN_RELU, inplace, 3, 0, 0, inplace);
    CHECK(inplace[0] == 1 && inplace[1] == 0 && inplace[2] == 2);
}

/* ---- Softmax --------------------------------------------------------------------------- */

static void
test_softmax(void)
{
    /* By hand: softmax(0, ln 2, ln 5) = (1, 2, 5) / 8. */
    const float x[3] = {0, 0.69314718f, 1.60943791f};
    const int64_t s3[1] = {3};
    float y[3];
    itx_nn_ref_softmax(x, s3, 1, 0, y);
    CHECK(near(y[0], 0.125) && near(y[1], 0.25) && near(y[2], 0.625));
    /* Large values: the row maximum is subtracted, so no overflow. */
    const float xl[2] = {1000, 1000};
    const int64_t s2[1] = {2};
    itx_nn_ref_softmax(xl, s2, 1, 0, y);
    CHECK(y[0] == 0.5f && y[1] == 0.5f);
    /* Opset < 13: [2,3,4] with axis 1 is coerced to [2, 12]; each run of 12 sums to 1 and
     * matches the softmax computed over those 12 values. */
    const int64_t s234[3] = {2, 3, 4};
    float *xr = rnd_array(24), yr[24];
    for (int i = 0; i < 24; i++)
        xr[i] *= 5.0f;
    itx_nn_ref_softmax(xr, s234, 3, 1, yr);
    for (int r = 0; r < 2; r++) {
        double z = 0.0, sum = 0.0;
        for (int k = 0; k < 12; k++)
            z += exp((double)xr[r * 12 + k]);
        int ok = 1;
        for (int k = 0; k < 12; k++) {
            sum += (double)yr[r * 12 + k];
            ok &= near(yr[r * 12 + k], exp((double)xr[r * 12 + k]) / z);
        }
        CHECK(ok);
        CHECK(fabs(sum - 1.0) < 1e-5);
    }
    /* axis 2 on the same data: rows of 4. */
    itx_nn_ref_softmax(xr, s234, 3, 2, yr);
    for (int r = 0; r < 6; r++) {
        double sum = 0.0;
        for (int k = 0; k < 4; k++)
            sum += (double)yr[r * 4 + k];
        CHECK(fabs(sum - 1.0) < 1e-5);
    }
    free(xr);
}

/* ---- MatMul ---------------------------------------------------------------------------- */

/* Naive numpy matmul on shapes already promoted to rank 4 by the test. */
static void
check_matmul(const int64_t *as, int ar, const int64_t *bs, int br, const int64_t *ys, int yr)
{
    const int64_t na = itx_nn_shape_numel(as, ar), nb = itx_nn_shape_numel(bs, br);
    const int64_t ny = itx_nn_shape_numel(ys, yr);
    float *a = rnd_array(na), *b = rnd_array(nb),
          *y = malloc((size_t)(ny ? ny : 1) * sizeof(float));
    double *want = malloc((size_t)(ny ? ny : 1) * sizeof(double));
    itx_nn_ref_matmul(a, as, ar, b, bs, br, y, ys, yr);
    /* Promote to [batch..., M, K] x [batch..., K, N] explicitly, as numpy documents. */
    int64_t pa[ITX_NN_MAX_RANK], pb[ITX_NN_MAX_RANK];
    int par = ar, pbr = br;
    if (ar == 1) {
        pa[0] = 1;
        pa[1] = as[0];
        par = 2;
    } else {
        memcpy(pa, as, sizeof(int64_t) * (size_t)ar);
    }
    if (br == 1) {
        pb[0] = bs[0];
        pb[1] = 1;
        pbr = 2;
    } else {
        memcpy(pb, bs, sizeof(int64_t) * (size_t)br);
    }
    const int64_t m = pa[par - 2], k = pa[par - 1], n = pb[pbr - 1];
    const int batch_rank = (par > pbr ? par : pbr) - 2;
    int64_t bshape[ITX_NN_MAX_RANK];
    for (int i = 0; i < batch_rank; i++) {
        int ia = i - (batch_rank - (par - 2)), ib = i - (batch_rank - (pbr - 2));
        int64_t da = ia >= 0 ? pa[ia] : 1, db = ib >= 0 ? pb[ib] : 1;
        bshape[i] = da > db ? da : db;
    }
    const int64_t nbatch = itx_nn_shape_numel(bshape, batch_rank);
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ai = bcast_index(bi, bshape, batch_rank, pa, par - 2);
        int64_t bj = bcast_index(bi, bshape, batch_rank, pb, pbr - 2);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0.0;
                for (int64_t q = 0; q < k; q++)
                    s += (double)a[ai * m * k + i * k + q] * (double)b[bj * k * n + q * n + j];
                want[bi * m * n + i * n + j] = s;
            }
    }
    CHECK_MSG(nbatch * m * n == ny, "matmul test shapes disagree");
    double d = max_abs_diff(y, want, ny);
    CHECK_MSG(d < 1e-5, "matmul a rank %d b rank %d: max diff %g", ar, br, d);
    free(a);
    free(b);
    free(y);
    free(want);
}

static void
test_matmul(void)
{
    /* By hand: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]. */
    const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    const int64_t s22[2] = {2, 2};
    float y[4];
    itx_nn_ref_matmul(a, s22, 2, b, s22, 2, y, s22, 2);
    CHECK(y[0] == 19 && y[1] == 22 && y[2] == 43 && y[3] == 50);

    const int64_t a2[2] = {3, 5}, b2[2] = {5, 4}, y2[2] = {3, 4};
    check_matmul(a2, 2, b2, 2, y2, 2);
    /* Batched 4-D attention-style: [1,8,40,15] x [1,8,15,40]. */
    const int64_t a4[4] = {1, 8, 40, 15}, b4[4] = {1, 8, 15, 40}, y4[4] = {1, 8, 40, 40};
    check_matmul(a4, 4, b4, 4, y4, 4);
    /* Batch broadcasting on both sides. */
    const int64_t a5[4] = {2, 1, 3, 4}, b5[4] = {1, 5, 4, 2}, y5[4] = {2, 5, 3, 2};
    check_matmul(a5, 4, b5, 4, y5, 4);
    /* A 3-D activation times a 2-D weight (the recognition model's linear layers). */
    const int64_t a6[3] = {2, 7, 6}, b6[2] = {6, 9}, y6[3] = {2, 7, 9};
    check_matmul(a6, 3, b6, 2, y6, 3);
    const int64_t a7[2] = {7, 6}, b7[3] = {3, 6, 2}, y7[3] = {3, 7, 2};
    check_matmul(a7, 2, b7, 3, y7, 3);
    /* Rank-1 operands. */
    const int64_t v6[1] = {6}, m63[2] = {6, 3}, v3[1] = {3}, m46[2] = {4, 6}, v4[1] = {4};
    check_matmul(v6, 1, m63, 2, v3, 1);
    check_matmul(m46, 2, v6, 1, v4, 1);
    check_matmul(v6, 1, v6, 1, NULL, 0);
    const int64_t b3[3] = {2, 6, 3}, y23[2] = {2, 3};
    check_matmul(v6, 1, b3, 3, y23, 2);
}

/* ---- Pools ----------------------------------------------------------------------------- */

static void
test_pools(void)
{
    /* x: 1x2x3x3, channel 0 = 1..9, channel 1 = -1..-9. */
    float x[18];
    for (int i = 0; i < 9; i++) {
        x[i] = (float)(i + 1);
        x[9 + i] = -(float)(i + 1);
    }
    const int64_t xs[4] = {1, 2, 3, 3};
    float g[2];
    itx_nn_ref_global_avg_pool(x, xs, g);
    CHECK(g[0] == 5.0f && g[1] == -5.0f);

    /* 2x2 kernel, stride 2, pads 0,0,1,1 ("same" on an odd size): output 2x2. */
    struct itx_nn_pool_params p = {{2, 2}, {2, 2}, {0, 0, 1, 1}, 0};
    const int64_t ys[4] = {1, 2, 2, 2};
    float y[8];
    itx_nn_ref_avg_pool(x, xs, &p, y, ys);
    /* windows: {1,2,4,5} {3,6} {7,8} {9} */
    CHECK(near(y[0], 3.0) && near(y[1], 4.5) && near(y[2], 7.5) && near(y[3], 9.0));
    p.count_include_pad = 1;
    itx_nn_ref_avg_pool(x, xs, &p, y, ys);
    CHECK(near(y[0], 3.0) && near(y[1], 9.0 / 4) && near(y[2], 15.0 / 4) && near(y[3], 9.0 / 4));
    CHECK(near(y[4], -3.0) && near(y[7], -9.0 / 4));
    itx_nn_ref_max_pool(x, xs, &p, y, ys);
    CHECK(y[0] == 5 && y[1] == 6 && y[2] == 8 && y[3] == 9);
    /* Negative inputs: the padded zeros must not win. */
    CHECK(y[4] == -1 && y[5] == -3 && y[6] == -7 && y[7] == -9);

    /* 3x3 kernel, stride 1, pads 1 all round: output 3x3, corners average 4 values. */
    struct itx_nn_pool_params q = {{3, 3}, {1, 1}, {1, 1, 1, 1}, 0};
    const int64_t ys3[4] = {1, 2, 3, 3};
    float y3[18];
    itx_nn_ref_avg_pool(x, xs, &q, y3, ys3);
    CHECK(near(y3[0], (1 + 2 + 4 + 5) / 4.0) && near(y3[4], 5.0) &&
          near(y3[1], (1 + 2 + 3 + 4 + 5 + 6) / 6.0));
    q.count_include_pad = 1;
    itx_nn_ref_avg_pool(x, xs, &q, y3, ys3);
    CHECK(near(y3[0], 12.0 / 9) && near(y3[4], 5.0) && near(y3[1], 21.0 / 9));
    itx_nn_ref_max_pool(x, xs, &q, y3, ys3);
    CHECK(y3[0] == 5 && y3[8] == 9 && y3[9] == -1 && y3[13] == -1 && y3[17] == -5);
}

/* ---- Resize ---------------------------------------------------------------------------- */

static void
test_resize(void)
{
    /* Nearest, asymmetric, floor, scale 2 (the detection FPN's upsampling). */
    const float x[4] = {1, 2, 3, 4};
    const int64_t xs[4] = {1, 1, 2, 2}, ys[4] = {1, 1, 4, 4};
    float y[16];
    itx_nn_ref_resize(x, xs, y, ys, 2, 2, 0, ITX_NN_COORD_ASYMMETRIC, ITX_NN_NEAREST_FLOOR);
    const float want_n[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    int ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= y[i] == want_n[i];
    CHECK(ok);

    /* Linear, half_pixel, 2x2 -> 4x4 (PyTorch's align_corners=False bilinear). */
    itx_nn_ref_resize(x, xs, y, ys, 2, 2, 1, ITX_NN_COORD_HALF_PIXEL, ITX_NN_NEAREST_FLOOR);
    const float want_l[16] = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                              2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= near(y[i], want_l[i]);
    CHECK(ok);
    itx_nn_ref_resize(x, xs, y, ys, 2, 2, 1, ITX_NN_COORD_PYTORCH_HALF_PIXEL, ITX_NN_NEAREST_FLOOR);
    ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= near(y[i], want_l[i]);
    CHECK(ok);

    /* Linear, align_corners, 2x2 -> 3x3. */
    const int64_t ys3[4] = {1, 1, 3, 3};
    float y3[9];
    itx_nn_ref_resize(x, xs, y3, ys3, 1.5f, 1.5f, 1, ITX_NN_COORD_ALIGN_CORNERS,
                      ITX_NN_NEAREST_FLOOR);
    const float want_ac[9] = {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4};
    ok = 1;
    for (int i = 0; i < 9; i++)
        ok &= near(y3[i], want_ac[i]);
    CHECK(ok);

    /* Nearest modes on a 1x4 -> 1x3 downscale with half_pixel: the input coordinates are
     * (o + 0.5) / 0.75 - 0.5 = 1/6, 1.5, 17/6, so the tie at 1.5 separates the modes. */
    const float row[4] = {10, 11, 12, 13};
    const int64_t rs[4] = {1, 1, 1, 4}, ros[4] = {1, 1, 1, 3};
    float r[3];
    struct {
        enum itx_nn_nearest_mode mode;
        float want[3];
    } modes[] = {
        {ITX_NN_NEAREST_ROUND_PREFER_FLOOR, {10, 11, 13}},
        {ITX_NN_NEAREST_ROUND_PREFER_CEIL, {10, 12, 13}},
        {ITX_NN_NEAREST_FLOOR, {10, 11, 12}},
        {ITX_NN_NEAREST_CEIL, {11, 12, 13}},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        itx_nn_ref_resize(row, rs, r, ros, 1, 0.75f, 0, ITX_NN_COORD_HALF_PIXEL, modes[i].mode);
        CHECK_MSG(r[0] == modes[i].want[0] && r[1] == modes[i].want[1] && r[2] == modes[i].want[2],
                  "nearest mode %d: %g %g %g", (int)modes[i].mode, (double)r[0], (double)r[1],
                  (double)r[2]);
    }
    /* align_corners nearest, 4 -> 3: coordinates 0, 1.5, 3. */
    itx_nn_ref_resize(row, rs, r, ros, 1, 0.75f, 0, ITX_NN_COORD_ALIGN_CORNERS,
                      ITX_NN_NEAREST_ROUND_PREFER_FLOOR);
    CHECK(r[0] == 10 && r[1] == 11 && r[2] == 13);
    /* Output of extent 1 with align_corners and pytorch_half_pixel reads coordinate 0. */
    const int64_t r1[4] = {1, 1, 1, 1};
    itx_nn_ref_resize(row, rs, r, r1, 1, 0.25f, 1, ITX_NN_COORD_PYTORCH_HALF_PIXEL,
                      ITX_NN_NEAREST_FLOOR);
    CHECK(r[0] == 10);
    /* pytorch_half_pixel with an output of extent 2 is half_pixel: coordinates 0.5, 2.5. */
    const int64_t r2[4] = {1, 1, 1, 2};
    itx_nn_ref_resize(row, rs, r, r2, 1, 0.5f, 1, ITX_NN_COORD_PYTORCH_HALF_PIXEL,
                      ITX_NN_NEAREST_FLOOR);
    CHECK(r[0] == 10.5f && r[1] == 12.5f);
    /* Two planes, nearest: the second plane is addressed independently. */
    const float two[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t ts[4] = {1, 2, 2, 2}, tys[4] = {1, 2, 4, 4};
    float ty[32];
    itx_nn_ref_resize(two, ts, ty, tys, 2, 2, 0, ITX_NN_COORD_ASYMMETRIC, ITX_NN_NEAREST_FLOOR);
    CHECK(ty[16] == 5 && ty[31] == 8 && ty[15] == 4);
}

/* ---- Data movement --------------------------------------------------------------------- */

static void
test_concat(void)
{
    /* float, axis 1: [2,1,2] ++ [2,2,2] -> [2,3,2] */
    const float a[4] = {1, 2, 3, 4}, b[8] = {5, 6, 7, 8, 9, 10, 11, 12};
    const int64_t sa[3] = {2, 1, 2}, sb[3] = {2, 2, 2};
    const void *xs[2] = {a, b};
    const int64_t *shapes[2] = {sa, sb};
    float y[12];
    itx_nn_ref_concat(xs, shapes, 2, 3, 1, sizeof(float), y);
    const float want[12] = {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12};
    CHECK(memcmp(y, want, sizeof want) == 0);
    /* int64, axis 0, three inputs (a shape being built from pieces). */
    const int64_t i0[1] = {1}, i1[2] = {-1, 64}, i2[1] = {5};
    const int64_t s1[1] = {1}, s2[1] = {2};
    const void *ixs[3] = {i0, i1, i2};
    const int64_t *ishapes[3] = {s1, s2, s1};
    int64_t iy[4];
    itx_nn_ref_concat(ixs, ishapes, 3, 1, 0, sizeof(int64_t), iy);
    CHECK(iy[0] == 1 && iy[1] == -1 && iy[2] == 64 && iy[3] == 5);
    /* last axis, float */
    const int64_t la[2] = {2, 1}, lb[2] = {2, 2};
    const float fa[2] = {1, 2}, fb[4] = {3, 4, 5, 6};
    const void *lxs[2] = {fa, fb};
    const int64_t *lshapes[2] = {la, lb};
    float ly[6];
    itx_nn_ref_concat(lxs, lshapes, 2, 2, 1, sizeof(float), ly);
    const float lwant[6] = {1, 3, 4, 2, 5, 6};
    CHECK(memcmp(ly, lwant, sizeof lwant) == 0);
}

/* Transposes by decoding each output index, for comparison. */
static void
check_transpose(const int64_t *xs, int rank, const int64_t *perm, size_t elem)
{
    const int64_t n = itx_nn_shape_numel(xs, rank);
    unsigned char *x = malloc((size_t)n * elem), *y = malloc((size_t)n * elem);
    for (size_t i = 0; i < (size_t)n * elem; i++)
        x[i] = (unsigned char)(i * 7 + 3);
    itx_nn_ref_transpose(x, xs, rank, perm, elem, y);
    int64_t ys[ITX_NN_MAX_RANK], xstr[ITX_NN_MAX_RANK];
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        xstr[i] = s;
        s *= xs[i];
    }
    for (int i = 0; i < rank; i++)
        ys[i] = xs[perm[i]];
    int ok = 1;
    for (int64_t f = 0; f < n; f++) {
        int64_t rem = f, src = 0;
        for (int i = rank - 1; i >= 0; i--) {
            src += (rem % ys[i]) * xstr[perm[i]];
            rem /= ys[i];
        }
        ok &= memcmp(y + (size_t)f * elem, x + (size_t)src * elem, elem) == 0;
    }
    CHECK_MSG(ok, "transpose rank %d elem %zu", rank, elem);
    free(x);
    free(y);
}

static void
test_transpose(void)
{
    /* By hand: [2,3] -> [3,2]. */
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t xs[2] = {2, 3}, perm[2] = {1, 0};
    float y[6];
    itx_nn_ref_transpose(x, xs, 2, perm, sizeof(float), y);
    const float want[6] = {1, 4, 2, 5, 3, 6};
    CHECK(memcmp(y, want, sizeof want) == 0);

    const int64_t s4[4] = {2, 3, 4, 5}, nhwc[4] = {0, 2, 3, 1}, rev[4] = {3, 2, 1, 0};
    const int64_t heads[4] = {0, 2, 1, 3}, id[4] = {0, 1, 2, 3};
    const size_t elems[4] = {1, 2, 4, 8};
    for (int e = 0; e < 4; e++) {
        check_transpose(s4, 4, nhwc, elems[e]);
        check_transpose(s4, 4, rev, elems[e]);
        check_transpose(s4, 4, heads, elems[e]);
        check_transpose(s4, 4, id, elems[e]);
    }
    const int64_t s5[5] = {3, 2, 4, 1, 3}, p5[5] = {2, 0, 4, 3, 1};
    check_transpose(s5, 5, p5, 4);
    check_transpose(s5, 5, p5, 3);
    const int64_t s1[1] = {7}, p1[1] = {0};
    check_transpose(s1, 1, p1, 4);
}

static void
test_slice(void)
{
    /* x: [3,4] = 0..11. */
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    const int64_t xs[2] = {3, 4};
    /* rows 1..2, columns 1..3 step 2 -> [[5,7],[9,11]] */
    const int64_t st1[2] = {1, 1}, sp1[2] = {1, 2}, ys1[2] = {2, 2};
    float y[12];
    itx_nn_ref_slice(x, xs, 2, st1, sp1, sizeof(float), y, ys1);
    CHECK(y[0] == 5 && y[1] == 7 && y[2] == 9 && y[3] == 11);
    /* Reversal of both axes (ends = INT_MIN, steps -1). */
    const int64_t st2[2] = {2, 3}, sp2[2] = {-1, -1}, ys2[2] = {3, 4};
    itx_nn_ref_slice(x, xs, 2, st2, sp2, sizeof(float), y, ys2);
    int ok = 1;
    for (int i = 0; i < 12; i++)
        ok &= y[i] == (float)(11 - i);
    CHECK(ok);
    /* Step -2 on columns from 3: columns 3, 1. */
    const int64_t st3[2] = {0, 3}, sp3[2] = {1, -2}, ys3[2] = {3, 2};
    itx_nn_ref_slice(x, xs, 2, st3, sp3, sizeof(float), y, ys3);
    CHECK(y[0] == 3 && y[1] == 1 && y[2] == 7 && y[3] == 5 && y[4] == 11 && y[5] == 9);
    /* int64 shape vector: Shape [1,3,48,320] sliced [2:4] -> [48,320]. */
    const int64_t shp[4] = {1, 3, 48, 320}, s4[1] = {4}, st4[1] = {2}, sp4[1] = {1};
    const int64_t ys4[1] = {2};
    int64_t iy[2];
    itx_nn_ref_slice(shp, s4, 1, st4, sp4, sizeof(int64_t), iy, ys4);
    CHECK(iy[0] == 48 && iy[1] == 320);
    /* Empty result. */
    const int64_t ys5[2] = {0, 4};
    y[0] = 42;
    itx_nn_ref_slice(x, xs, 2, st1, sp1, sizeof(float), y, ys5);
    CHECK(y[0] == 42);
}

static void
test_reduce_mean(void)
{
    /* x: [2,3,4] = 0..23 */
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    const int64_t xs[3] = {2, 3, 4};
    float y[24];
    const int last[3] = {0, 0, 1};
    itx_nn_ref_reduce_mean(x, xs, 3, last, y);
    int ok = 1;
    for (int r = 0; r < 6; r++)
        ok &= near(y[r], r * 4 + 1.5);
    CHECK(ok);
    const int mid[3] = {0, 1, 0};
    itx_nn_ref_reduce_mean(x, xs, 3, mid, y);
    /* y[n][0][k] = mean over c of n*12 + c*4 + k = n*12 + 4 + k */
    ok = 1;
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 4; k++)
            ok &= near(y[n * 4 + k], n * 12 + 4 + k);
    CHECK(ok);
    const int outer_inner[3] = {1, 0, 1};
    itx_nn_ref_reduce_mean(x, xs, 3, outer_inner, y);
    /* y[c] = mean of n*12 + c*4 + k over n, k = 6 + 4c + 1.5 */
    CHECK(near(y[0], 7.5) && near(y[1], 11.5) && near(y[2], 15.5));
    const int all[3] = {1, 1, 1};
    itx_nn_ref_reduce_mean(x, xs, 3, all, y);
    CHECK(near(y[0], 11.5));
    const int none[3] = {0, 0, 0};
    itx_nn_ref_reduce_mean(x, xs, 3, none, y);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

static void
test_numel(void)
{
    const int64_t s[3] = {2, 0, 5}, t[2] = {3, 7};
    CHECK_INT(itx_nn_shape_numel(NULL, 0), 1);
    CHECK_INT(itx_nn_shape_numel(s, 3), 0);
    CHECK_INT(itx_nn_shape_numel(t, 2), 21);
}

int
main(void)
{
    test_numel();
    test_conv_hand();
    test_conv();
    test_conv_transpose_hand();
    test_conv_transpose_adjoint();
    test_batchnorm();
    test_binary();
    test_unary();
    test_softmax();
    test_matmul();
    test_pools();
    test_resize();
    test_concat();
    test_transpose();
    test_slice();
    test_reduce_mean();
    return check_summary();
}
