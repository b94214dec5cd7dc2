/*
 * Internals of the neural runner; only src/nn/ includes this.
 *
 * A model is a list of values (tensors: graph input, constants, intermediates) and a list
 * of nodes in topological order. Loading turns every ONNX Constant node and initializer into
 * a constant value, folds nodes whose inputs are all constant, folds batch-norm and affine
 * Mul/Add into convolutions and fuses activations into `post` ops of the node before them.
 * Shapes of non-constant values are only known per plan (input shape), see plan.c.
 */
#ifndef ITX_NN_IMPL_H
#define ITX_NN_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"
#include "nn/ref.h"

enum itx_nn_dtype {
    ITX_NN_UNDEF = 0,
    ITX_NN_F32 = 1,
    ITX_NN_I32 = 6,
    ITX_NN_I64 = 7,
};

size_t itx_nn_dtype_size(enum itx_nn_dtype t);

enum itx_nn_op {
    NN_OP_CONV,
    NN_OP_CONV_T,
    NN_OP_BN,
    NN_OP_ADD,
    NN_OP_SUB,
    NN_OP_MUL,
    NN_OP_DIV,
    NN_OP_POW,
    NN_OP_UNARY, /* Relu, Sigmoid, Sqrt, Clip, HardSigmoid and fused forms: attr.unary */
    NN_OP_SOFTMAX,
    NN_OP_MATMUL,
    NN_OP_GAP,
    NN_OP_AVGPOOL,
    NN_OP_MAXPOOL,
    NN_OP_RESIZE,
    NN_OP_CONCAT,
    NN_OP_RESHAPE,
    NN_OP_FLATTEN,
    NN_OP_TRANSPOSE,
    NN_OP_SQUEEZE,
    NN_OP_UNSQUEEZE,
    NN_OP_SLICE,
    NN_OP_SHAPE,
    NN_OP_CAST,
    NN_OP_REDUCEMEAN,
    NN_OP_IDENTITY,
    NN_OP_DEPTH_TO_SPACE, /* DCR mode: channel (a*bs + b)*C + c -> (c, y*bs + a, x*bs + b) */
    NN_OP_COUNT
};

const char *itx_nn_op_name(enum itx_nn_op op);

/* A value's role. */
#define NN_VAL_CONST 1u
#define NN_VAL_INPUT 2u
#define NN_VAL_OUTPUT 4u

struct itx_nn_value {
    char *name;
    enum itx_nn_dtype dtype;
    int rank;                       /* known for constants and the declared input */
    int64_t shape[ITX_NN_MAX_DIMS]; /* -1 for dynamic dims of the declared input */
    void *data;                     /* constants: owned, 64-byte aligned */
    unsigned flags;
    int producer; /* node index, -1 for constants and inputs */
    int n_uses;   /* live consumer count after optimisation */
};

/* An operation fused after a node's main computation, applied in order to its output. */
enum itx_nn_post_kind {
    NN_POST_UNARY, /* unary op with alpha/beta */
    NN_POST_ADD,   /* + value (same shape as the output) */
};

struct itx_nn_post {
    enum itx_nn_post_kind kind;
    enum itx_nn_unary_op unary;
    float alpha, beta;
    int value;
};

#define NN_MAX_POST 6

struct itx_nn_attr {
    struct itx_nn_conv_params conv;
    struct itx_nn_pool_params pool;
    int64_t axis;
    int64_t perm[ITX_NN_MAX_DIMS];
    int n_perm;
    int64_t axes[ITX_NN_MAX_DIMS];
    int n_axes;
    int64_t starts[ITX_NN_MAX_DIMS], ends[ITX_NN_MAX_DIMS]; /* Slice opset < 10 */
    int keepdims;
    enum itx_nn_unary_op unary;
    float alpha, beta, eps;
    int resize_linear;
    enum itx_nn_coord_mode coord;
    enum itx_nn_nearest_mode nearest;
    enum itx_nn_dtype cast_to;
    int64_t block; /* DepthToSpace block size */
    int scales_in; /* Resize: index of the scales input (1 before opset 11, else 2) */
};

struct itx_nn_node {
    enum itx_nn_op op;
    char *name;
    int n_in;
    int *in; /* value indices; -1 for an omitted optional input */
    int out;
    struct itx_nn_attr attr;
    int n_post;
    struct itx_nn_post post[NN_MAX_POST];
    bool dead;
};

struct itx_nn_model {
    atomic_int refs;
    char *name;
    int opset;
    struct itx_nn_value *values;
    size_t n_values, cap_values;
    struct itx_nn_node *nodes;
    size_t n_nodes, cap_nodes;
    int input;    /* value index of the graph input */
    int *outputs; /* value indices of graph outputs */
    int n_outputs;
    struct itx_nn_limits lim;
    struct itx_nn_name_index *ix; /* name lookup, only while loading */
    /* Convolution weights reordered for oneDNN, shared by all sessions of the model (plan.c).
     * The only part of a loaded model that changes: filled while planning, under wmu. */
    pthread_mutex_t wmu;
    struct itx_nn_wcache *wcache;
};

/* plan.c: frees the reordered-weight cache. NULL is a no-op. */
void itx_nn_wcache_free(struct itx_nn_wcache *c);

/* onnx.c: parse a model file into m (values, nodes, input, outputs). */
enum itx_status itx_nn_onnx_parse(struct itx_nn_model *m, const uint8_t *data, size_t len,
                                  struct itx_diag *d);

/* model.c */
int itx_nn_model_add_value(struct itx_nn_model *m, const char *name, size_t name_len);
int itx_nn_model_find_value(const struct itx_nn_model *m, const char *name, size_t name_len);
/* Allocates aligned constant storage for value v with the given dtype/shape. */
enum itx_status itx_nn_value_alloc(struct itx_nn_model *m, int v, enum itx_nn_dtype t, int rank,
                                   const int64_t *shape, struct itx_diag *d);
int64_t itx_nn_value_numel(const struct itx_nn_value *v);

/* graph.c: load-time optimisation passes. */
enum itx_status itx_nn_graph_optimize(struct itx_nn_model *m, struct itx_diag *d);
/* Number of elements (at most 1 for rank 0) and whether the constant is one scalar. */
bool itx_nn_const_scalar(const struct itx_nn_model *m, int v, float *out);

/* Shape inference of one node given input shapes/consts (shared by plan and graph folding). */
struct itx_nn_tinfo {
    enum itx_nn_dtype dtype;
    int rank;
    int64_t shape[ITX_NN_MAX_DIMS];
    const void *data; /* non-NULL when the value is known (constant) */
};
enum itx_status itx_nn_infer_node(const struct itx_nn_model *m, const struct itx_nn_node *n,
                                  const struct itx_nn_tinfo *in, struct itx_nn_tinfo *out,
                                  struct itx_diag *d);
/* Evaluates node n on plain row-major inputs with the reference kernels (post ops included). */
void itx_nn_eval_ref(const struct itx_nn_node *n, const struct itx_nn_tinfo *in,
                     const struct itx_nn_tinfo *out, void *y, void *const *post_data);

#endif
