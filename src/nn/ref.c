/*
 * Plain-C reference kernels (see ref.h for the contract).
 *
 * The convolutions are written row-at-a-time: for one output row and one weight tap the
 * range of output columns whose input column is inside the image is computed once, so the
 * innermost loop is a branch-free multiply-add over contiguous (or strided) memory that the
 * compiler can vectorise. Sums of products accumulate in float, as oneDNN does; averages
 * over many elements (pools, ReduceMean) accumulate in double, as the exact value is what a
 * reference should give.
 */
#include "nn/ref.h"

#include <math.h>
#include <string.h>

int64_t
itx_nn_shape_numel(const int64_t *shape, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

/* Row-major strides of a shape, in elements. */
static void
shape_strides(const int64_t *shape, int rank, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t
max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * Output positions o in [0, n_out) with 0 <= o*stride + off < n_in form the range
 * [*lo, *hi) (empty when *lo >= *hi). stride is positive.
 */
static void
valid_range(int64_t n_out, int64_t n_in, int64_t stride, int64_t off, int64_t *lo, int64_t *hi)
{
    /* o*stride + off >= 0  <=>  o >= ceil(-off / stride) */
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    /* o*stride + off <= n_in - 1  <=>  o <= floor((n_in - 1 - off) / stride) */
    int64_t top = n_in - 1 - off;
    int64_t h = top < 0 ? 0 : min64(n_out, top / stride + 1);
    *lo = l;
    *hi = h;
}

void
itx_nn_ref_conv2d(const float *x, const int64_t xshape[4], const float *w, const int64_t wshape[4],
                  const float *bias, const struct itx_nn_conv_params *p, float *y,
                  const int64_t yshape[4])
{
    const int64_t n_batch = xshape[0], c_in = xshape[1], h_in = xshape[2], w_in = xshape[3];
    const int64_t m_out = yshape[1], h_out = yshape[2], w_out = yshape[3];
    const int64_t kh = wshape[2], kw = wshape[3];
    const int64_t group = p->group, cg = c_in / group, mg = m_out / group;
    const int64_t sh = p->stride[0], sw = p->stride[1], dh = p->dilation[0], dw = p->dilation[1];
    const int64_t pt = p->pad[0], pl = p->pad[1];
    const int64_t x_plane = h_in * w_in, y_plane = h_out * w_out;

    /* Per-tap column ranges depend only on kw; they are recomputed per row, which costs
     * nothing next to the row itself. */
    for (int64_t n = 0; n < n_batch; n++) {
        for (int64_t g = 0; g < group; g++) {
            const float *xg = x + (n * c_in + g * cg) * x_plane;
            for (int64_t oh = 0; oh < h_out; oh++) {
                const int64_t ih0 = oh * sh - pt;
                for (int64_t mi = 0; mi < mg; mi++) {
                    const int64_t m = g * mg + mi;
                    float *yrow = y + (n * m_out + m) * y_plane + oh * w_out;
                    const float b = bias ? bias[m] : 0.0f;
                    for (int64_t ow = 0; ow < w_out; ow++)
                        yrow[ow] = b;
                    const float *wm = w + m * cg * kh * kw;
                    for (int64_t c = 0; c < cg; c++) {
                        const float *xc = xg + c * x_plane;
                        const float *wc = wm + c * kh * kw;
                        for (int64_t i = 0; i < kh; i++) {
                            const int64_t ih = ih0 + i * dh;
                            if (ih < 0 || ih >= h_in)
                                continue;
                            const float *xrow = xc + ih * w_in;
                            for (int64_t j = 0; j < kw; j++) {
                                const float wv = wc[i * kw + j];
                                const int64_t off = j * dw - pl;
                                int64_t lo, hi;
                                valid_range(w_out, w_in, sw, off, &lo, &hi);
                                if (sw == 1) {
                                    /* Indexed, not an offset pointer: xrow + off may lie
                                     * before the array when off is negative. */
                                    for (int64_t ow = lo; ow < hi; ow++)
                                        yrow[ow] += wv * xrow[ow + off];
                                } else {
                                    for (int64_t ow = lo; ow < hi; ow++)
                                        yrow[ow] += wv * xrow[ow * sw + off];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

void
itx_nn_ref_conv_transpose2d(const float *x, const int64_t xshape[4], const float *w,
                            const int64_t wshape[4], const float *bias,
                            const struct itx_nn_conv_params *p, float *y, const int64_t yshape[4])
{
    const int64_t n_batch = xshape[0], c_in = xshape[1], h_in = xshape[2], w_in = xshape[3];
    const int64_t m_out = yshape[1], h_out = yshape[2], w_out = yshape[3];
    const int64_t kh = wshape[2], kw = wshape[3];
    const int64_t group = p->group, cg = c_in / group, mg = wshape[1];
    const int64_t sh = p->stride[0], sw = p->stride[1], dh = p->dilation[0], dw = p->dilation[1];
    const int64_t pt = p->pad[0], pl = p->pad[1];
    const int64_t x_plane = h_in * w_in, y_plane = h_out * w_out;

    /* Scatter form: input pixel (ih, iw) and tap (i, j) add into output pixel
     * (ih*sh + i*dh - pt, iw*sw + j*dw - pl). Each output plane is owned by one (n, m), so
     * the loops over it are written per plane. */
    for (int64_t n = 0; n < n_batch; n++) {
        for (int64_t g = 0; g < group; g++) {
            for (int64_t mi = 0; mi < mg; mi++) {
                const int64_t m = g * mg + mi;
                float *yp = y + (n * m_out + m) * y_plane;
                const float b = bias ? bias[m] : 0.0f;
                for (int64_t k = 0; k < y_plane; k++)
                    yp[k] = b;
                for (int64_t ci = 0; ci < cg; ci++) {
                    const int64_t c = g * cg + ci;
                    const float *xc = x + (n * c_in + c) * x_plane;
                    const float *wc = w + (c * mg + mi) * kh * kw;
                    for (int64_t i = 0; i < kh; i++) {
                        int64_t ih_lo, ih_hi;
                        /* rows ih with 0 <= ih*sh + (i*dh - pt) < h_out */
                        valid_range(h_in, h_out, sh, i * dh - pt, &ih_lo, &ih_hi);
                        for (int64_t j = 0; j < kw; j++) {
                            const float wv = wc[i * kw + j];
                            const int64_t off = j * dw - pl;
                            int64_t iw_lo, iw_hi;
                            valid_range(w_in, w_out, sw, off, &iw_lo, &iw_hi);
                            for (int64_t ih = ih_lo; ih < ih_hi; ih++) {
                                const float *xrow = xc + ih * w_in;
                                float *yrow = yp + (ih * sh + i * dh - pt) * w_out;
                                for (int64_t iw = iw_lo; iw < iw_hi; iw++)
                                    yrow[iw * sw + off] += wv * xrow[iw];
                            }
                        }
                    }
                }
            }
        }
    }
}

void
itx_nn_ref_batchnorm(const float *x, const int64_t *shape, int rank, const float *scale,
                     const float *bias, const float *mean, const float *var, float eps, float *y)
{
    const int64_t n_batch = shape[0], n_chan = rank > 1 ? shape[1] : 1;
    const int64_t inner = rank > 2 ? itx_nn_shape_numel(shape + 2, rank - 2) : 1;
    for (int64_t c = 0; c < n_chan; c++) {
        const float a = scale[c] / sqrtf(var[c] + eps);
        const float mu = mean[c], b = bias[c];
        for (int64_t n = 0; n < n_batch; n++) {
            const float *xs = x + (n * n_chan + c) * inner;
            float *ys = y + (n * n_chan + c) * inner;
            for (int64_t k = 0; k < inner; k++)
                ys[k] = (xs[k] - mu) * a + b;
        }
    }
}

static float
binary_apply(enum itx_nn_binary_op op, float a, float b)
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
        return powf(a, b);
    }
    return 0.0f;
}

/* y[k] = a[k*sa] op b[k*sb] for k < n; the op is hoisted out of the loop. */
static void
binary_row(enum itx_nn_binary_op op, const float *a, int64_t sa, const float *b, int64_t sb,
           float *y, int64_t n)
{
    switch (op) {
    case ITX_NN_ADD:
        for (int64_t k = 0; k < n; k++)
            y[k] = a[k * sa] + b[k * sb];
        break;
    case ITX_NN_SUB:
        for (int64_t k = 0; k < n; k++)
            y[k] = a[k * sa] - b[k * sb];
        break;
    case ITX_NN_MUL:
        for (int64_t k = 0; k < n; k++)
            y[k] = a[k * sa] * b[k * sb];
        break;
    case ITX_NN_DIV:
        for (int64_t k = 0; k < n; k++)
            y[k] = a[k * sa] / b[k * sb];
        break;
    case ITX_NN_POW:
        for (int64_t k = 0; k < n; k++)
            y[k] = binary_apply(op, a[k * sa], b[k * sb]);
        break;
    }
}

/*
 * Strides of an operand of rank r viewed in the output's rank yrank: leading missing axes
 * and axes of extent 1 get stride 0 so they broadcast.
 */
static void
broadcast_strides(const int64_t *shape, int r, int yrank, int64_t *bs)
{
    int64_t own[ITX_NN_MAX_RANK];
    shape_strides(shape, r, own);
    for (int i = 0; i < yrank; i++) {
        int k = i - (yrank - r);
        bs[i] = (k < 0 || shape[k] == 1) ? 0 : own[k];
    }
}

void
itx_nn_ref_binary(enum itx_nn_binary_op op, const float *a, const int64_t *ashape, int arank,
                  const float *b, const int64_t *bshape, int brank, float *y, const int64_t *yshape,
                  int yrank)
{
    const int64_t n = itx_nn_shape_numel(yshape, yrank);
    const int64_t na = itx_nn_shape_numel(ashape, arank);
    const int64_t nb = itx_nn_shape_numel(bshape, brank);
    /* Common cases first: equal sizes, or one side a single value. */
    if (na == n && nb == n) {
        binary_row(op, a, 1, b, 1, y, n);
        return;
    }
    if (na == n && nb == 1) {
        binary_row(op, a, 1, b, 0, y, n);
        return;
    }
    if (na == 1 && nb == n) {
        binary_row(op, a, 0, b, 1, y, n);
        return;
    }
    if (n == 0)
        return;

    int64_t sa[ITX_NN_MAX_RANK], sb[ITX_NN_MAX_RANK];
    broadcast_strides(ashape, arank, yrank, sa);
    broadcast_strides(bshape, brank, yrank, sb);
    /* Walk the output one innermost row at a time with an odometer over the outer axes. */
    const int last = yrank - 1;
    const int64_t row = yshape[last];
    int64_t idx[ITX_NN_MAX_RANK] = {0};
    int64_t oa = 0, ob = 0;
    for (int64_t done = 0; done < n; done += row) {
        binary_row(op, a + oa, sa[last], b + ob, sb[last], y + done, row);
        for (int d = last - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < yshape[d])
                break;
            oa -= sa[d] * idx[d];
            ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
}

void
itx_nn_ref_unary(enum itx_nn_unary_op op, const float *x, int64_t n, float alpha, float beta,
                 float *y)
{
    switch (op) {
    case ITX_NN_RELU:
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] > 0.0f ? x[k] : 0.0f;
        break;
    case ITX_NN_SIGMOID:
        for (int64_t k = 0; k < n; k++)
            y[k] = 1.0f / (1.0f + expf(-x[k]));
        break;
    case ITX_NN_SQRT:
        for (int64_t k = 0; k < n; k++)
            y[k] = sqrtf(x[k]);
        break;
    case ITX_NN_CLIP:
        for (int64_t k = 0; k < n; k++) {
            float v = x[k] < alpha ? alpha : x[k];
            y[k] = v > beta ? beta : v;
        }
        break;
    case ITX_NN_HARD_SIGMOID:
        for (int64_t k = 0; k < n; k++) {
            float v = alpha * x[k] + beta;
            v = v < 0.0f ? 0.0f : v;
            y[k] = v > 1.0f ? 1.0f : v;
        }
        break;
    case ITX_NN_HARD_SWISH:
        for (int64_t k = 0; k < n; k++) {
            float v = x[k] / 6.0f + 0.5f;
            v = v < 0.0f ? 0.0f : v;
            v = v > 1.0f ? 1.0f : v;
            y[k] = x[k] * v;
        }
        break;
    case ITX_NN_LINEAR:
        for (int64_t k = 0; k < n; k++)
            y[k] = alpha * x[k] + beta;
        break;
    case ITX_NN_IDENTITY:
        if (y != x)
            memmove(y, x, (size_t)n * sizeof(float));
        break;
    case ITX_NN_SWISH:
        for (int64_t k = 0; k < n; k++)
            y[k] = x[k] / (1.0f + expf(-alpha * x[k]));
        break;
    }
}

void
itx_nn_ref_softmax(const float *x, const int64_t *shape, int rank, int axis, float *y)
{
    const int64_t rows = itx_nn_shape_numel(shape, axis);
    const int64_t cols = itx_nn_shape_numel(shape + axis, rank - axis);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = -INFINITY;
        for (int64_t k = 0; k < cols; k++)
            mx = xr[k] > mx ? xr[k] : mx;
        float sum = 0.0f;
        for (int64_t k = 0; k < cols; k++) {
            yr[k] = expf(xr[k] - mx);
            sum += yr[k];
        }
        const float inv = 1.0f / sum;
        for (int64_t k = 0; k < cols; k++)
            yr[k] *= inv;
    }
}

void
itx_nn_ref_matmul(const float *a, const int64_t *ashape, int arank, const float *b,
                  const int64_t *bshape, int brank, float *y, const int64_t *yshape, int yrank)
{
    /* numpy promotion: a rank-1 a is [1, K], a rank-1 b is [K, 1]; the promoted axis is
     * absent from y, so y's batch axes are its leading (yrank - matrix axes) axes. */
    const int64_t m = arank >= 2 ? ashape[arank - 2] : 1;
    const int64_t k_dim = ashape[arank - 1];
    const int64_t n = brank >= 2 ? bshape[brank - 1] : 1;
    const int a_batch = arank > 2 ? arank - 2 : 0, b_batch = brank > 2 ? brank - 2 : 0;
    const int y_batch = yrank - (arank >= 2) - (brank >= 2);
    const int64_t a_mat = m * k_dim, b_mat = k_dim * n, y_mat = m * n;

    int64_t sa[ITX_NN_MAX_RANK] = {0}, sb[ITX_NN_MAX_RANK] = {0};
    /* Batch strides in units of whole matrices, aligned at the last batch axis. */
    if (y_batch > 0) {
        broadcast_strides(ashape, a_batch, y_batch, sa);
        broadcast_strides(bshape, b_batch, y_batch, sb);
    }
    const int64_t n_batch = itx_nn_shape_numel(yshape, y_batch);
    int64_t idx[ITX_NN_MAX_RANK] = {0};
    int64_t oa = 0, ob = 0;
    for (int64_t bi = 0; bi < n_batch; bi++) {
        const float *am = a + oa * a_mat;
        const float *bm = b + ob * b_mat;
        float *ym = y + bi * y_mat;
        for (int64_t i = 0; i < m; i++) {
            float *yr = ym + i * n;
            for (int64_t j = 0; j < n; j++)
                yr[j] = 0.0f;
            const float *ar = am + i * k_dim;
            for (int64_t k = 0; k < k_dim; k++) {
                const float av = ar[k];
                const float *br = bm + k * n;
                for (int64_t j = 0; j < n; j++)
                    yr[j] += av * br[j];
            }
        }
        for (int d = y_batch - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < yshape[d])
                break;
            oa -= sa[d] * idx[d];
            ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
}

void
itx_nn_ref_global_avg_pool(const float *x, const int64_t xshape[4], float *y)
{
    const int64_t planes = xshape[0] * xshape[1], plane = xshape[2] * xshape[3];
    for (int64_t c = 0; c < planes; c++) {
        const float *xp = x + c * plane;
        double sum = 0.0;
        for (int64_t k = 0; k < plane; k++)
            sum += (double)xp[k];
        y[c] = (float)(sum / (double)plane);
    }
}

/*
 * The window of output position o along one axis, in input coordinates: [*lo, *hi) is the
 * part inside the input, *n_pad the extent inside the padded input (input plus pads), which
 * is the divisor of an average that counts padding.
 */
static void
pool_window(int64_t o, int64_t stride, int64_t kernel, int64_t pad_lo, int64_t pad_hi, int64_t n_in,
            int64_t *lo, int64_t *hi, int64_t *n_pad)
{
    const int64_t start = o * stride - pad_lo, end = start + kernel;
    *n_pad = min64(end, n_in + pad_hi) - max64(start, -pad_lo);
    *lo = max64(start, 0);
    *hi = min64(end, n_in);
}

void
itx_nn_ref_avg_pool(const float *x, const int64_t xshape[4], const struct itx_nn_pool_params *p,
                    float *y, const int64_t yshape[4])
{
    const int64_t planes = xshape[0] * xshape[1], h_in = xshape[2], w_in = xshape[3];
    const int64_t h_out = yshape[2], w_out = yshape[3];
    for (int64_t c = 0; c < planes; c++) {
        const float *xp = x + c * h_in * w_in;
        float *yp = y + c * h_out * w_out;
        for (int64_t oh = 0; oh < h_out; oh++) {
            int64_t h0, h1, hpad;
            pool_window(oh, p->stride[0], p->kernel[0], p->pad[0], p->pad[2], h_in, &h0, &h1,
                        &hpad);
            for (int64_t ow = 0; ow < w_out; ow++) {
                int64_t w0, w1, wpad;
                pool_window(ow, p->stride[1], p->kernel[1], p->pad[1], p->pad[3], w_in, &w0, &w1,
                            &wpad);
                double sum = 0.0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        sum += (double)xp[ih * w_in + iw];
                const int64_t count =
                    p->count_include_pad ? hpad * wpad : max64(h1 - h0, 0) * max64(w1 - w0, 0);
                yp[oh * w_out + ow] = count > 0 ? (float)(sum / (double)count) : 0.0f;
            }
        }
    }
}

void
itx_nn_ref_max_pool(const float *x, const int64_t xshape[4], const struct itx_nn_pool_params *p,
                    float *y, const int64_t yshape[4])
{
    const int64_t planes = xshape[0] * xshape[1], h_in = xshape[2], w_in = xshape[3];
    const int64_t h_out = yshape[2], w_out = yshape[3];
    for (int64_t c = 0; c < planes; c++) {
        const float *xp = x + c * h_in * w_in;
        float *yp = y + c * h_out * w_out;
        for (int64_t oh = 0; oh < h_out; oh++) {
            int64_t h0, h1, hpad;
            pool_window(oh, p->stride[0], p->kernel[0], p->pad[0], p->pad[2], h_in, &h0, &h1,
                        &hpad);
            for (int64_t ow = 0; ow < w_out; ow++) {
                int64_t w0, w1, wpad;
                pool_window(ow, p->stride[1], p->kernel[1], p->pad[1], p->pad[3], w_in, &w0, &w1,
                            &wpad);
                float mx = -INFINITY;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        mx = xp[ih * w_in + iw] > mx ? xp[ih * w_in + iw] : mx;
                yp[oh * w_out + ow] = mx;
            }
        }
    }
}

/* The input coordinate of output coordinate o (ONNX Resize coordinate_transformation_mode).
 * Computed in float, as ONNX Runtime does, so that nearest rounding ties agree. */
static float
resize_coord(enum itx_nn_coord_mode mode, int64_t o, float scale, int64_t n_in, int64_t n_out)
{
    const float of = (float)o;
    switch (mode) {
    case ITX_NN_COORD_HALF_PIXEL:
        return (of + 0.5f) / scale - 0.5f;
    case ITX_NN_COORD_ASYMMETRIC:
        return of / scale;
    case ITX_NN_COORD_ALIGN_CORNERS:
        return n_out == 1 ? 0.0f : of * (float)(n_in - 1) / (float)(n_out - 1);
    case ITX_NN_COORD_PYTORCH_HALF_PIXEL:
        return n_out > 1 ? (of + 0.5f) / scale - 0.5f : 0.0f;
    }
    return 0.0f;
}

static int64_t
resize_nearest(enum itx_nn_nearest_mode mode, float c, int64_t n_in)
{
    float r;
    switch (mode) {
    case ITX_NN_NEAREST_ROUND_PREFER_FLOOR:
        r = (c == floorf(c) + 0.5f) ? floorf(c) : roundf(c);
        break;
    case ITX_NN_NEAREST_ROUND_PREFER_CEIL:
        r = (c == floorf(c) + 0.5f) ? ceilf(c) : roundf(c);
        break;
    case ITX_NN_NEAREST_FLOOR:
        r = floorf(c);
        break;
    case ITX_NN_NEAREST_CEIL:
    default:
        r = ceilf(c);
        break;
    }
    if (r < 0.0f)
        return 0;
    if (r > (float)(n_in - 1))
        return n_in - 1;
    return (int64_t)r;
}

/* Linear interpolation taps along one axis: the input coordinate is clamped to the input,
 * then split into two neighbours and their weights. */
static void
linear_taps(float c, int64_t n_in, int64_t *i0, int64_t *i1, float *w0, float *w1)
{
    if (c < 0.0f)
        c = 0.0f;
    if (c > (float)(n_in - 1))
        c = (float)(n_in - 1);
    int64_t f = (int64_t)c;
    *i0 = f;
    *i1 = min64(f + 1, n_in - 1);
    *w1 = c - (float)f;
    *w0 = 1.0f - *w1;
}

void
itx_nn_ref_resize(const float *x, const int64_t xshape[4], float *y, const int64_t yshape[4],
                  float scale_h, float scale_w, int linear, enum itx_nn_coord_mode coord,
                  enum itx_nn_nearest_mode nearest)
{
    const int64_t planes = xshape[0] * xshape[1], h_in = xshape[2], w_in = xshape[3];
    const int64_t h_out = yshape[2], w_out = yshape[3];
    for (int64_t c = 0; c < planes; c++) {
        const float *xp = x + c * h_in * w_in;
        float *yp = y + c * h_out * w_out;
        for (int64_t oh = 0; oh < h_out; oh++) {
            const float ch = resize_coord(coord, oh, scale_h, h_in, h_out);
            float *yrow = yp + oh * w_out;
            if (!linear) {
                const float *xrow = xp + resize_nearest(nearest, ch, h_in) * w_in;
                for (int64_t ow = 0; ow < w_out; ow++) {
                    const float cw = resize_coord(coord, ow, scale_w, w_in, w_out);
                    yrow[ow] = xrow[resize_nearest(nearest, cw, w_in)];
                }
                continue;
            }
            int64_t h0, h1;
            float wh0, wh1;
            linear_taps(ch, h_in, &h0, &h1, &wh0, &wh1);
            const float *r0 = xp + h0 * w_in, *r1 = xp + h1 * w_in;
            for (int64_t ow = 0; ow < w_out; ow++) {
                int64_t w0, w1;
                float ww0, ww1;
                linear_taps(resize_coord(coord, ow, scale_w, w_in, w_out), w_in, &w0, &w1, &ww0,
                            &ww1);
                yrow[ow] =
                    wh0 * (ww0 * r0[w0] + ww1 * r0[w1]) + wh1 * (ww0 * r1[w0] + ww1 * r1[w1]);
            }
        }
    }
}

void
itx_nn_ref_concat(const void *const *xs, const int64_t *const *shapes, int n, int rank, int axis,
                  size_t elem_size, void *y)
{
    const int64_t outer = itx_nn_shape_numel(shapes[0], axis);
    char *out = y;
    for (int64_t o = 0; o < outer; o++) {
        for (int i = 0; i < n; i++) {
            const size_t chunk =
                (size_t)itx_nn_shape_numel(shapes[i] + axis, rank - axis) * elem_size;
            memcpy(out, (const char *)xs[i] + (size_t)o * chunk, chunk);
            out += chunk;
        }
    }
}

/* Copies n elements from src (stride src_stride elements) to contiguous dst. */
static void
gather_row(const char *src, int64_t src_stride, size_t elem_size, char *dst, int64_t n)
{
    switch (elem_size) {
    case 4:
        for (int64_t k = 0; k < n; k++)
            memcpy(dst + k * 4, src + k * src_stride * 4, 4);
        break;
    case 8:
        for (int64_t k = 0; k < n; k++)
            memcpy(dst + k * 8, src + k * src_stride * 8, 8);
        break;
    default:
        for (int64_t k = 0; k < n; k++)
            memcpy(dst + (size_t)k * elem_size, src + k * src_stride * (int64_t)elem_size,
                   elem_size);
        break;
    }
}

/*
 * y[i0..i{r-1}] = x[base + sum i_d * strides[d]] over the output shape yshape, all in
 * elements; the shared walk behind Transpose and Slice.
 */
static void
strided_gather(const char *x, int64_t base, const int64_t *strides, int rank, size_t elem_size,
               char *y, const int64_t *yshape)
{
    const int64_t n = itx_nn_shape_numel(yshape, rank);
    if (n == 0)
        return;
    if (rank == 0) {
        memcpy(y, x + (size_t)base * elem_size, elem_size);
        return;
    }
    const int last = rank - 1;
    const int64_t row = yshape[last];
    int64_t idx[ITX_NN_MAX_RANK] = {0};
    int64_t off = base;
    for (int64_t done = 0; done < n; done += row) {
        gather_row(x + off * (int64_t)elem_size, strides[last], elem_size,
                   y + (size_t)done * elem_size, row);
        for (int d = last - 1; d >= 0; d--) {
            idx[d]++;
            off += strides[d];
            if (idx[d] < yshape[d])
                break;
            off -= strides[d] * idx[d];
            idx[d] = 0;
        }
    }
}

void
itx_nn_ref_transpose(const void *x, const int64_t *xshape, int rank, const int64_t *perm,
                     size_t elem_size, void *y)
{
    int64_t xs[ITX_NN_MAX_RANK], strides[ITX_NN_MAX_RANK], yshape[ITX_NN_MAX_RANK];
    shape_strides(xshape, rank, xs);
    for (int i = 0; i < rank; i++) {
        yshape[i] = xshape[perm[i]];
        strides[i] = xs[perm[i]];
    }
    strided_gather(x, 0, strides, rank, elem_size, y, yshape);
}

void
itx_nn_ref_slice(const void *x, const int64_t *xshape, int rank, const int64_t *starts,
                 const int64_t *steps, size_t elem_size, void *y, const int64_t *yshape)
{
    int64_t xs[ITX_NN_MAX_RANK], strides[ITX_NN_MAX_RANK];
    shape_strides(xshape, rank, xs);
    int64_t base = 0;
    for (int i = 0; i < rank; i++) {
        base += starts[i] * xs[i];
        strides[i] = steps[i] * xs[i];
    }
    strided_gather(x, base, strides, rank, elem_size, y, yshape);
}

void
itx_nn_ref_reduce_mean(const float *x, const int64_t *xshape, int rank, const int *reduce, float *y)
{
    int64_t xs[ITX_NN_MAX_RANK];
    int64_t kept_shape[ITX_NN_MAX_RANK], kept_stride[ITX_NN_MAX_RANK];
    int64_t red_shape[ITX_NN_MAX_RANK], red_stride[ITX_NN_MAX_RANK];
    int n_kept = 0, n_red = 0;
    shape_strides(xshape, rank, xs);
    for (int i = 0; i < rank; i++) {
        if (reduce[i]) {
            red_shape[n_red] = xshape[i];
            red_stride[n_red++] = xs[i];
        } else {
            kept_shape[n_kept] = xshape[i];
            kept_stride[n_kept++] = xs[i];
        }
    }
    const int64_t n_out = itx_nn_shape_numel(kept_shape, n_kept);
    const int64_t n_in = itx_nn_shape_numel(red_shape, n_red);
    int64_t kidx[ITX_NN_MAX_RANK] = {0};
    int64_t base = 0;
    for (int64_t o = 0; o < n_out; o++) {
        /* Sum the reduced sub-tensor at base with a second odometer. */
        int64_t ridx[ITX_NN_MAX_RANK] = {0};
        int64_t off = base;
        double sum = 0.0;
        for (int64_t r = 0; r < n_in; r++) {
            sum += (double)x[off];
            for (int d = n_red - 1; d >= 0; d--) {
                ridx[d]++;
                off += red_stride[d];
                if (ridx[d] < red_shape[d])
                    break;
                off -= red_stride[d] * ridx[d];
                ridx[d] = 0;
            }
        }
        y[o] = n_in > 0 ? (float)(sum / (double)n_in) : NAN;
        for (int d = n_kept - 1; d >= 0; d--) {
            kidx[d]++;
            base += kept_stride[d];
            if (kidx[d] < kept_shape[d])
                break;
            base -= kept_stride[d] * kidx[d];
            kidx[d] = 0;
        }
    }
}
