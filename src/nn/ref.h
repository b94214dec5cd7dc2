/*
 * Plain-C reference kernels for every ONNX operator the PP-OCR models use.
 *
 * These are the ground truth that the fast (oneDNN) path is tested against, and the
 * fallback for operators with no fast path. They favour clarity over speed but must not be
 * absurdly slow: the full models run through them in tests (a 960x960 detection through
 * the reference path may take tens of seconds, not hours).
 *
 * Conventions:
 * - Tensors are dense, row-major (the last dimension varies fastest), float32 unless the
 *   name says otherwise. Shapes are arrays of int64_t with an explicit rank (<= ITX_NN_MAX_RANK).
 * - Callers have validated shapes (output shapes come from the planner's shape inference);
 *   kernels do not check input and never allocate: scratch, when needed, is passed in.
 * - Semantics follow the ONNX operator specification for the opset noted per function.
 * - Kernels are pure functions: thread-safe, no globals.
 */
#ifndef ITX_NN_REF_H
#define ITX_NN_REF_H

#include <stddef.h>
#include <stdint.h>

#define ITX_NN_MAX_RANK 8

/* Number of elements of a shape (1 for rank 0). */
int64_t itx_nn_shape_numel(const int64_t *shape, int rank);

/* Conv and ConvTranspose geometry (2-D, NCHW). pads are {top, left, bottom, right}. */
struct itx_nn_conv_params {
    int64_t kernel[2];
    int64_t stride[2];
    int64_t dilation[2];
    int64_t pad[4];
    int64_t group;
    int64_t output_padding[2]; /* ConvTranspose only */
};

/*
 * Conv (opset 11): x [N,C,H,W], w [M, C/group, kh, kw], bias [M] or NULL, y [N,M,OH,OW].
 * Sums accumulate in float, per output row, in the order channel, kernel row, kernel column.
 * y must not alias x.
 */
void itx_nn_ref_conv2d(const float *x, const int64_t xshape[4], const float *w,
                       const int64_t wshape[4], const float *bias,
                       const struct itx_nn_conv_params *p, float *y, const int64_t yshape[4]);

/*
 * ConvTranspose (opset 11): x [N,C,H,W], w [C, M/group, kh, kw], bias [M] or NULL,
 * y [N,M,OH,OW] with OH = stride*(H-1) + output_padding + ((kh-1)*dilation+1) - pad_top - pad_bottom.
 */
void itx_nn_ref_conv_transpose2d(const float *x, const int64_t xshape[4], const float *w,
                                 const int64_t wshape[4], const float *bias,
                                 const struct itx_nn_conv_params *p, float *y,
                                 const int64_t yshape[4]);

/*
 * BatchNormalization, inference mode (opset 9): x [N,C,...] of the given rank,
 * y = scale * (x - mean) / sqrt(var + eps) + bias per channel (axis 1).
 */
void itx_nn_ref_batchnorm(const float *x, const int64_t *shape, int rank, const float *scale,
                          const float *bias, const float *mean, const float *var, float eps,
                          float *y);

enum itx_nn_binary_op {
    ITX_NN_ADD,
    ITX_NN_SUB,
    ITX_NN_MUL,
    ITX_NN_DIV,
    ITX_NN_POW,
};

/*
 * Add, Sub, Mul, Div, Pow with multidirectional (numpy) broadcasting: shapes are aligned at
 * their last dimension; a dimension of 1 (or a missing leading dimension) broadcasts.
 * y has the broadcast shape yshape/yrank. y may alias a or b when it has the same shape.
 */
void itx_nn_ref_binary(enum itx_nn_binary_op op, const float *a, const int64_t *ashape,
                       int arank, const float *b, const int64_t *bshape, int brank, float *y,
                       const int64_t *yshape, int yrank);

enum itx_nn_unary_op {
    ITX_NN_RELU,
    ITX_NN_SIGMOID,
    ITX_NN_SQRT,
    ITX_NN_CLIP,         /* min(max(x, alpha), beta) */
    ITX_NN_HARD_SIGMOID, /* max(0, min(1, alpha*x + beta)) */
    ITX_NN_HARD_SWISH,   /* x * max(0, min(1, x/6 + 1/2)) */
    ITX_NN_LINEAR,       /* alpha*x + beta */
    ITX_NN_IDENTITY,
    ITX_NN_SWISH,        /* x * sigmoid(alpha*x) */
};

/* Element-wise unary op over n floats; y may alias x. alpha/beta as noted per op. */
void itx_nn_ref_unary(enum itx_nn_unary_op op, const float *x, int64_t n, float alpha,
                      float beta, float *y);

/*
 * Softmax (opset 9/11 semantics): the input is coerced to 2-D [prod(shape[0..axis-1]),
 * prod(shape[axis..])] and the softmax is taken over each row. axis is already normalised
 * to [0, rank). Numerically stable (subtracts the row maximum).
 */
void itx_nn_ref_softmax(const float *x, const int64_t *shape, int rank, int axis, float *y);

/*
 * MatMul (numpy matmul semantics): a [..., M, K], b [..., K, N] with broadcasting of the
 * batch dimensions; rank-1 operands are promoted as numpy does. y [..., M, N].
 */
void itx_nn_ref_matmul(const float *a, const int64_t *ashape, int arank, const float *b,
                       const int64_t *bshape, int brank, float *y, const int64_t *yshape,
                       int yrank);

/* GlobalAveragePool: x [N,C,H,W] -> y [N,C,1,1]. */
void itx_nn_ref_global_avg_pool(const float *x, const int64_t xshape[4], float *y);

/* AveragePool / MaxPool (2-D, NCHW). For MaxPool count_include_pad is ignored and padded
 * positions never win. With count_include_pad the divisor counts the window's positions
 * inside the padded input (so a ceil_mode window overhanging the pads is not divided by the
 * full kernel area, as in ONNX Runtime); without it, only positions inside the input. */
struct itx_nn_pool_params {
    int64_t kernel[2];
    int64_t stride[2];
    int64_t pad[4]; /* top, left, bottom, right */
    int count_include_pad;
};
void itx_nn_ref_avg_pool(const float *x, const int64_t xshape[4],
                         const struct itx_nn_pool_params *p, float *y, const int64_t yshape[4]);
void itx_nn_ref_max_pool(const float *x, const int64_t xshape[4],
                         const struct itx_nn_pool_params *p, float *y, const int64_t yshape[4]);

enum itx_nn_coord_mode {
    ITX_NN_COORD_HALF_PIXEL,
    ITX_NN_COORD_ASYMMETRIC,
    ITX_NN_COORD_ALIGN_CORNERS,
    ITX_NN_COORD_PYTORCH_HALF_PIXEL,
};
enum itx_nn_nearest_mode {
    ITX_NN_NEAREST_ROUND_PREFER_FLOOR,
    ITX_NN_NEAREST_ROUND_PREFER_CEIL,
    ITX_NN_NEAREST_FLOOR,
    ITX_NN_NEAREST_CEIL,
};
/*
 * Resize (opset 11), mode "nearest" or "linear" (linear = bilinear over the last two axes),
 * on 4-D NCHW tensors; the scales of the N and C axes must be 1. scale_h/scale_w are the
 * ONNX scales (output/input); when the output size came from "sizes" pass yshape[2]/xshape[2].
 */
void itx_nn_ref_resize(const float *x, const int64_t xshape[4], float *y, const int64_t yshape[4],
                       float scale_h, float scale_w, int linear, enum itx_nn_coord_mode coord,
                       enum itx_nn_nearest_mode nearest);

/*
 * Concat along axis (already normalised): n inputs with shapes equal except on axis.
 * Element size in bytes lets the same kernel serve float and int64 tensors.
 */
void itx_nn_ref_concat(const void *const *xs, const int64_t *const *shapes, int n, int rank,
                       int axis, size_t elem_size, void *y);

/* Transpose with permutation perm (y dim i = x dim perm[i]); any element size. */
void itx_nn_ref_transpose(const void *x, const int64_t *xshape, int rank, const int64_t *perm,
                          size_t elem_size, void *y);

/*
 * Slice: for each axis, elements starts[a], starts[a]+steps[a], ... (already clamped and
 * normalised by the caller so that they are in range, as ONNX specifies); yshape gives the
 * resulting extent per axis. Any element size.
 */
void itx_nn_ref_slice(const void *x, const int64_t *xshape, int rank, const int64_t *starts,
                      const int64_t *steps, size_t elem_size, void *y, const int64_t *yshape);

/*
 * ReduceMean over the axes flagged in reduce[0..rank-1] (non-zero = reduced). y has the
 * shape of x with the reduced axes set to 1 (keepdims layout; without keepdims the same
 * data is simply viewed with those axes dropped).
 */
void itx_nn_ref_reduce_mean(const float *x, const int64_t *xshape, int rank, const int *reduce,
                            float *y);

#endif
