/*
 * A small, bounded reader of the ONNX protobuf wire format (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto). Only the fields itx needs are
 * read; unknown fields are skipped. Every length is checked against the enclosing message
 * and every count and dimension against the limits, so a hostile file yields a message,
 * never a crash or an unbounded allocation.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/nn-impl.h"

struct rd {
    const uint8_t *p, *end;
};

struct span {
    const uint8_t *p;
    size_t n;
};

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static bool
rd_varint(struct rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Reads one field header and its payload: varint/fixed values in *val, LEN data in *sp. */
static bool
rd_field(struct rd *r, uint32_t *field, int *wt, uint64_t *val, struct span *sp)
{
    uint64_t key, len;
    if (!rd_varint(r, &key))
        return false;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    if (*field == 0)
        return false;
    switch (*wt) {
    case WT_VARINT:
        return rd_varint(r, val);
    case WT_I64:
        if (r->end - r->p < 8)
            return false;
        memcpy(val, r->p, 8);
        r->p += 8;
        return true;
    case WT_I32: {
        uint32_t v32;
        if (r->end - r->p < 4)
            return false;
        memcpy(&v32, r->p, 4);
        r->p += 4;
        *val = v32;
        return true;
    }
    case WT_LEN:
        if (!rd_varint(r, &len) || len > (uint64_t)(r->end - r->p))
            return false;
        sp->p = r->p;
        sp->n = (size_t)len;
        r->p += len;
        return true;
    default:
        return false; /* groups (3, 4) are not used by ONNX */
    }
}

static bool
span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

struct parse {
    struct itx_nn_model *m;
    struct itx_diag *d;
    const char *node; /* current node name for messages */
};

static enum itx_status
bad(struct parse *ps, const char *what)
{
    if (ps->node)
        return itx_diag_set(ps->d, ITX_ERR_MODEL, "model '%s': node '%s': %s", ps->m->name,
                            ps->node, what);
    return itx_diag_set(ps->d, ITX_ERR_MODEL, "model '%s': %s", ps->m->name, what);
}

/* ---- TensorProto ------------------------------------------------------------------ */

/* Reads repeated int64 (packed or not) into out[cap]; *n counts. */
static bool
add_int(int64_t *out, int cap, int *n, uint64_t v)
{
    if (*n >= cap)
        return false;
    out[(*n)++] = (int64_t)v;
    return true;
}

static bool
read_ints(int wt, uint64_t val, struct span sp, int64_t *out, int cap, int *n)
{
    if (wt == WT_VARINT)
        return add_int(out, cap, n, val);
    if (wt != WT_LEN)
        return false;
    struct rd r = {sp.p, sp.p + sp.n};
    while (r.p < r.end) {
        uint64_t v;
        if (!rd_varint(&r, &v) || !add_int(out, cap, n, v))
            return false;
    }
    return true;
}

struct tensor_raw {
    int64_t dims[ITX_NN_MAX_DIMS];
    int rank;
    int dtype;
    struct span raw, floats, ints32, ints64;
    int n_float_fields; /* unpacked float_data entries are not supported beyond 1 */
    bool external;
};

static enum itx_status
parse_tensor(struct parse *ps, struct span msg, struct tensor_raw *t)
{
    struct rd r = {msg.p, msg.p + msg.n};
    memset(t, 0, sizeof(*t));
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct span sp = {0};
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(ps, "truncated or malformed tensor");
        switch (f) {
        case 1:
            if (!read_ints(wt, v, sp, t->dims, ITX_NN_MAX_DIMS, &t->rank))
                return bad(ps, "tensor has more than 8 dimensions or malformed dims");
            break;
        case 2:
            t->dtype = (int)v;
            break;
        case 4:
            if (wt != WT_LEN)
                return bad(ps, "unpacked float_data is not supported");
            t->floats = sp;
            break;
        case 5:
            if (wt != WT_LEN)
                return bad(ps, "unpacked int32_data is not supported");
            t->ints32 = sp;
            break;
        case 7:
            if (wt != WT_LEN)
                return bad(ps, "unpacked int64_data is not supported");
            t->ints64 = sp;
            break;
        case 9:
            if (wt != WT_LEN)
                return bad(ps, "malformed raw_data");
            t->raw = sp;
            break;
        case 14:
            if (v == 1)
                t->external = true;
            break;
        default:
            break;
        }
    }
    if (t->external)
        return bad(ps, "tensors with external data are not supported");
    return ITX_OK;
}

/* Creates constant value number vi from a parsed tensor. */
static enum itx_status
tensor_to_value(struct parse *ps, const struct tensor_raw *t, int vi)
{
    struct itx_nn_model *m = ps->m;
    enum itx_nn_dtype dt;
    int64_t numel = 1;
    enum itx_status s;

    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return bad(ps, "tensor has a negative dimension");
        if (t->dims[i] > 0 && numel > (int64_t)m->lim.max_tensor_elems / t->dims[i])
            return itx_diag_set(ps->d, ITX_ERR_MODEL,
                                "model '%s': node '%s': tensor has more than %zu elements", m->name,
                                ps->node ? ps->node : "?", m->lim.max_tensor_elems);
        numel *= t->dims[i];
    }
    if (numel > (int64_t)m->lim.max_tensor_elems)
        return bad(ps, "tensor is over the element limit");
    switch (t->dtype) {
    case 1:
        dt = ITX_NN_F32;
        break;
    case 6:
    case 7:
        dt = ITX_NN_I64; /* int32 tensors are widened: they only ever hold shapes here */
        break;
    default: {
        char msg[96];
        snprintf(msg, sizeof(msg), "tensor data type %d is not supported", t->dtype);
        return bad(ps, msg);
    }
    }
    s = itx_nn_value_alloc(m, vi, dt, t->rank, t->dims, ps->d);
    if (s)
        return s;
    void *dst = m->values[vi].data;
    size_t n = (size_t)numel;

    if (t->raw.p) {
        size_t esz = t->dtype == 6 ? 4 : (t->dtype == 7 ? 8 : 4);
        if (t->raw.n != n * esz)
            return bad(ps, "tensor raw_data length does not match its dimensions");
        if (t->dtype == 6) {
            for (size_t i = 0; i < n; i++) {
                int32_t x;
                memcpy(&x, t->raw.p + 4 * i, 4);
                ((int64_t *)dst)[i] = x;
            }
        } else {
            memcpy(dst, t->raw.p, t->raw.n);
        }
    } else if (dt == ITX_NN_F32) {
        if (t->floats.n != n * 4)
            return bad(ps, "tensor float_data length does not match its dimensions");
        if (t->floats.n)
            memcpy(dst, t->floats.p, t->floats.n);
    } else {
        struct span sp = t->dtype == 6 ? t->ints32 : t->ints64;
        struct rd r = {sp.p, sp.p + sp.n};
        size_t i = 0;
        while (r.p < r.end) {
            uint64_t v;
            if (!rd_varint(&r, &v) || i >= n)
                return bad(ps, "tensor integer data does not match its dimensions");
            ((int64_t *)dst)[i++] = t->dtype == 6 ? (int64_t)(int32_t)v : (int64_t)v;
        }
        if (i != n)
            return bad(ps, "tensor integer data does not match its dimensions");
    }
    if (dt == ITX_NN_F32) {
        const float *fp = dst;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(fp[i]) && !isinf(fp[i]))
                return bad(ps, "tensor holds NaN values");
    }
    m->values[vi].flags |= NN_VAL_CONST;
    return ITX_OK;
}

/* ---- AttributeProto ----------------------------------------------------------------- */

#define MAX_ATTR_INTS 16

struct attr {
    struct span name;
    float f;
    int64_t i;
    struct span s;
    struct span t;
    int64_t ints[MAX_ATTR_INTS];
    int n_ints;
    float floats[MAX_ATTR_INTS];
    int n_floats;
    bool has_f, has_i, has_s, has_t, has_ints, has_floats;
};

static enum itx_status
parse_attr(struct parse *ps, struct span msg, struct attr *a)
{
    struct rd r = {msg.p, msg.p + msg.n};
    memset(a, 0, sizeof(*a));
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct span sp = {0};
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(ps, "truncated or malformed attribute");
        switch (f) {
        case 1:
            a->name = sp;
            break;
        case 2: {
            uint32_t u = (uint32_t)v;
            memcpy(&a->f, &u, 4);
            a->has_f = true;
            break;
        }
        case 3:
            a->i = (int64_t)v;
            a->has_i = true;
            break;
        case 4:
            a->s = sp;
            a->has_s = true;
            break;
        case 5:
            a->t = sp;
            a->has_t = true;
            break;
        case 6:
            return bad(ps, "graph-valued attributes (subgraphs) are not supported");
        case 7:
            a->has_floats = true;
            if (wt == WT_I32) {
                if (a->n_floats >= MAX_ATTR_INTS)
                    return bad(ps, "attribute has too many floats");
                uint32_t u = (uint32_t)v;
                memcpy(&a->floats[a->n_floats++], &u, 4);
            } else if (wt == WT_LEN) {
                if (sp.n % 4 || sp.n / 4 > MAX_ATTR_INTS - (size_t)a->n_floats)
                    return bad(ps, "attribute has too many floats");
                for (size_t k = 0; k < sp.n / 4; k++)
                    memcpy(&a->floats[a->n_floats++], sp.p + 4 * k, 4);
            }
            break;
        case 8:
            a->has_ints = true;
            if (!read_ints(wt, v, sp, a->ints, MAX_ATTR_INTS, &a->n_ints))
                return bad(ps, "attribute has too many ints");
            break;
        default:
            break;
        }
    }
    return ITX_OK;
}

static const struct attr *
find_attr(const struct attr *as, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (span_eq(as[i].name, name))
            return &as[i];
    return NULL;
}

static int64_t
attr_i(const struct attr *as, int n, const char *name, int64_t def)
{
    const struct attr *a = find_attr(as, n, name);
    return a && a->has_i ? a->i : def;
}

static float
attr_f(const struct attr *as, int n, const char *name, float def)
{
    const struct attr *a = find_attr(as, n, name);
    return a && a->has_f ? a->f : def;
}

/* ---- nodes ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    enum itx_nn_op op;
    int unary; /* for NN_OP_UNARY */
} op_table[] = {
    {"Conv", NN_OP_CONV, 0},
    {"ConvTranspose", NN_OP_CONV_T, 0},
    {"BatchNormalization", NN_OP_BN, 0},
    {"Add", NN_OP_ADD, 0},
    {"Sub", NN_OP_SUB, 0},
    {"Mul", NN_OP_MUL, 0},
    {"Div", NN_OP_DIV, 0},
    {"Pow", NN_OP_POW, 0},
    {"Relu", NN_OP_UNARY, ITX_NN_RELU},
    {"Sigmoid", NN_OP_UNARY, ITX_NN_SIGMOID},
    {"Sqrt", NN_OP_UNARY, ITX_NN_SQRT},
    {"Clip", NN_OP_UNARY, ITX_NN_CLIP},
    {"HardSigmoid", NN_OP_UNARY, ITX_NN_HARD_SIGMOID},
    {"HardSwish", NN_OP_UNARY, ITX_NN_HARD_SWISH},
    {"Softmax", NN_OP_SOFTMAX, 0},
    {"MatMul", NN_OP_MATMUL, 0},
    {"GlobalAveragePool", NN_OP_GAP, 0},
    {"AveragePool", NN_OP_AVGPOOL, 0},
    {"MaxPool", NN_OP_MAXPOOL, 0},
    {"Resize", NN_OP_RESIZE, 0},
    {"Concat", NN_OP_CONCAT, 0},
    {"Reshape", NN_OP_RESHAPE, 0},
    {"Flatten", NN_OP_FLATTEN, 0},
    {"Transpose", NN_OP_TRANSPOSE, 0},
    {"Squeeze", NN_OP_SQUEEZE, 0},
    {"Unsqueeze", NN_OP_UNSQUEEZE, 0},
    {"Slice", NN_OP_SLICE, 0},
    {"Shape", NN_OP_SHAPE, 0},
    {"Cast", NN_OP_CAST, 0},
    {"ReduceMean", NN_OP_REDUCEMEAN, 0},
    {"Identity", NN_OP_IDENTITY, 0},
    {"Dropout", NN_OP_IDENTITY, 0},
    {"DepthToSpace", NN_OP_DEPTH_TO_SPACE, 0},
};

static enum itx_status
set_ints(struct parse *ps, const struct attr *a, int64_t *dst, int want, const char *what)
{
    char msg[128];
    if (!a)
        return ITX_OK;
    if (a->n_ints != want) {
        snprintf(msg, sizeof(msg), "attribute '%s' has %d values, expected %d", what, a->n_ints,
                 want);
        return bad(ps, msg);
    }
    memcpy(dst, a->ints, sizeof(int64_t) * (size_t)want);
    return ITX_OK;
}

static enum itx_status
conv_attrs(struct parse *ps, const struct attr *as, int na, struct itx_nn_attr *at, bool pool)
{
    enum itx_status s;
    const struct attr *ap = find_attr(as, na, "auto_pad");
    if (ap && ap->has_s && !span_eq(ap->s, "NOTSET") && !span_eq(ap->s, "VALID"))
        return bad(ps, "auto_pad other than NOTSET/VALID is not supported");
    const struct attr *ks = find_attr(as, na, "kernel_shape");
    if (pool && !ks)
        return bad(ps, "pooling without kernel_shape");
    at->conv.stride[0] = at->conv.stride[1] = 1;
    at->conv.dilation[0] = at->conv.dilation[1] = 1;
    at->conv.group = attr_i(as, na, "group", 1);
    if (at->conv.group < 1 || at->conv.group > (1 << 20))
        return bad(ps, "group is out of range");
    if (ks && (s = set_ints(ps, ks, at->conv.kernel, 2, "kernel_shape")))
        return s;
    if ((s = set_ints(ps, find_attr(as, na, "strides"), at->conv.stride, 2, "strides")) ||
        (s = set_ints(ps, find_attr(as, na, "dilations"), at->conv.dilation, 2, "dilations")) ||
        (s = set_ints(ps, find_attr(as, na, "pads"), at->conv.pad, 4, "pads")) ||
        (s = set_ints(ps, find_attr(as, na, "output_padding"), at->conv.output_padding, 2,
                      "output_padding")))
        return s;
    if (find_attr(as, na, "output_shape"))
        return bad(ps, "ConvTranspose output_shape is not supported");
    for (int i = 0; i < 2; i++) {
        if (at->conv.stride[i] < 1 || at->conv.stride[i] > 1024 || at->conv.dilation[i] < 1 ||
            at->conv.dilation[i] > 1024 || at->conv.kernel[i] < 0 || at->conv.kernel[i] > 1024 ||
            at->conv.output_padding[i] < 0 ||
            at->conv.output_padding[i] >= at->conv.stride[i] + at->conv.dilation[i])
            return bad(ps, "stride, dilation, kernel or output_padding out of range");
    }
    for (int i = 0; i < 4; i++)
        if (at->conv.pad[i] < 0 || at->conv.pad[i] > 1024)
            return bad(ps, "pads out of range");
    if (pool) {
        if (attr_i(as, na, "ceil_mode", 0) != 0)
            return bad(ps, "ceil_mode pooling is not supported");
        if (find_attr(as, na, "dilations") &&
            (at->conv.dilation[0] != 1 || at->conv.dilation[1] != 1))
            return bad(ps, "dilated pooling is not supported");
        for (int i = 0; i < 2; i++) {
            at->pool.kernel[i] = at->conv.kernel[i];
            at->pool.stride[i] = at->conv.stride[i];
            if (at->pool.kernel[i] < 1)
                return bad(ps, "pooling kernel must be positive");
        }
        memcpy(at->pool.pad, at->conv.pad, sizeof(at->pool.pad));
        at->pool.count_include_pad = (int)attr_i(as, na, "count_include_pad", 0);
    }
    return ITX_OK;
}

static enum itx_status
node_attrs(struct parse *ps, struct itx_nn_node *n, const struct attr *as, int na)
{
    struct itx_nn_attr *at = &n->attr;
    const struct attr *a;

    switch (n->op) {
    case NN_OP_CONV:
    case NN_OP_CONV_T:
        return conv_attrs(ps, as, na, at, false);
    case NN_OP_AVGPOOL:
    case NN_OP_MAXPOOL:
        return conv_attrs(ps, as, na, at, true);
    case NN_OP_BN:
        at->eps = attr_f(as, na, "epsilon", 1e-5f);
        return ITX_OK;
    case NN_OP_UNARY:
        if (at->unary == ITX_NN_CLIP) {
            at->alpha = attr_f(as, na, "min", -INFINITY);
            at->beta = attr_f(as, na, "max", INFINITY);
        } else if (at->unary == ITX_NN_HARD_SIGMOID) {
            at->alpha = attr_f(as, na, "alpha", 0.2f);
            at->beta = attr_f(as, na, "beta", 0.5f);
        }
        return ITX_OK;
    case NN_OP_SOFTMAX:
        at->axis = attr_i(as, na, "axis", ps->m->opset >= 13 ? -1 : 1);
        if (ps->m->opset >= 13)
            return bad(ps, "Softmax of opset 13 and later is not supported");
        return ITX_OK;
    case NN_OP_CONCAT:
        if (!find_attr(as, na, "axis"))
            return bad(ps, "Concat without axis");
        at->axis = attr_i(as, na, "axis", 0);
        return ITX_OK;
    case NN_OP_FLATTEN:
        at->axis = attr_i(as, na, "axis", 1);
        return ITX_OK;
    case NN_OP_TRANSPOSE:
        a = find_attr(as, na, "perm");
        if (a) {
            if (a->n_ints > ITX_NN_MAX_DIMS)
                return bad(ps, "perm has too many entries");
            memcpy(at->perm, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
            at->n_perm = a->n_ints;
        } else {
            at->n_perm = -1; /* reverse */
        }
        return ITX_OK;
    case NN_OP_SQUEEZE:
    case NN_OP_UNSQUEEZE:
    case NN_OP_REDUCEMEAN:
        a = find_attr(as, na, "axes");
        at->n_axes = -1;
        if (a) {
            if (a->n_ints > ITX_NN_MAX_DIMS)
                return bad(ps, "axes has too many entries");
            memcpy(at->axes, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
            at->n_axes = a->n_ints;
        }
        at->keepdims = (int)attr_i(as, na, "keepdims", 1);
        return ITX_OK;
    case NN_OP_SLICE:
        at->n_axes = -1;
        if (ps->m->opset < 10) {
            const struct attr *st = find_attr(as, na, "starts"), *en = find_attr(as, na, "ends");
            if (!st || !en || st->n_ints != en->n_ints || st->n_ints > ITX_NN_MAX_DIMS)
                return bad(ps, "Slice needs starts and ends of equal length");
            memcpy(at->starts, st->ints, sizeof(int64_t) * (size_t)st->n_ints);
            memcpy(at->ends, en->ints, sizeof(int64_t) * (size_t)en->n_ints);
            at->n_perm = st->n_ints; /* count of starts/ends */
            a = find_attr(as, na, "axes");
            if (a) {
                if (a->n_ints != st->n_ints)
                    return bad(ps, "Slice axes and starts differ in length");
                memcpy(at->axes, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
                at->n_axes = a->n_ints;
            }
        }
        return ITX_OK;
    case NN_OP_DEPTH_TO_SPACE:
        a = find_attr(as, na, "mode");
        if (a && a->has_s && !span_eq(a->s, "DCR"))
            return bad(ps, "DepthToSpace mode other than DCR is not supported");
        at->block = attr_i(as, na, "blocksize", 0);
        if (at->block < 1 || at->block > 64)
            return bad(ps, "DepthToSpace blocksize out of range");
        return ITX_OK;
    case NN_OP_CAST:
        switch (attr_i(as, na, "to", 0)) {
        case 1:
            at->cast_to = ITX_NN_F32;
            return ITX_OK;
        case 6:
        case 7:
            at->cast_to = ITX_NN_I64;
            return ITX_OK;
        default:
            return bad(ps, "Cast to a type other than float, int32 or int64");
        }
    case NN_OP_RESIZE:
        a = find_attr(as, na, "mode");
        at->scales_in = ps->m->opset < 11 ? 1 : 2;
        at->resize_linear = 0;
        if (a && a->has_s) {
            if (span_eq(a->s, "linear") || span_eq(a->s, "bilinear"))
                at->resize_linear = 1;
            else if (!span_eq(a->s, "nearest"))
                return bad(ps, "Resize mode other than nearest or linear");
        }
        a = find_attr(as, na, "coordinate_transformation_mode");
        at->coord = ITX_NN_COORD_HALF_PIXEL;
        if (ps->m->opset < 11)
            at->coord = ITX_NN_COORD_ASYMMETRIC;
        if (a && a->has_s) {
            if (span_eq(a->s, "asymmetric"))
                at->coord = ITX_NN_COORD_ASYMMETRIC;
            else if (span_eq(a->s, "align_corners"))
                at->coord = ITX_NN_COORD_ALIGN_CORNERS;
            else if (span_eq(a->s, "pytorch_half_pixel"))
                at->coord = ITX_NN_COORD_PYTORCH_HALF_PIXEL;
            else if (!span_eq(a->s, "half_pixel"))
                return bad(ps, "unsupported Resize coordinate_transformation_mode");
        }
        a = find_attr(as, na, "nearest_mode");
        at->nearest = ps->m->opset < 11 ? ITX_NN_NEAREST_FLOOR : ITX_NN_NEAREST_ROUND_PREFER_FLOOR;
        if (a && a->has_s) {
            if (span_eq(a->s, "floor"))
                at->nearest = ITX_NN_NEAREST_FLOOR;
            else if (span_eq(a->s, "ceil"))
                at->nearest = ITX_NN_NEAREST_CEIL;
            else if (span_eq(a->s, "round_prefer_ceil"))
                at->nearest = ITX_NN_NEAREST_ROUND_PREFER_CEIL;
            else if (!span_eq(a->s, "round_prefer_floor"))
                return bad(ps, "unsupported Resize nearest_mode");
        }
        return ITX_OK;
    default:
        return ITX_OK;
    }
}

/* Constant node: the value attribute (tensor) or value_float(s)/value_int(s). */
static enum itx_status
constant_node(struct parse *ps, const struct attr *as, int na, int vi)
{
    const struct attr *a;
    struct tensor_raw t;
    enum itx_status s;

    if ((a = find_attr(as, na, "value")) && a->has_t) {
        if ((s = parse_tensor(ps, a->t, &t)))
            return s;
        return tensor_to_value(ps, &t, vi);
    }
    if ((a = find_attr(as, na, "value_float")) && a->has_f) {
        if ((s = itx_nn_value_alloc(ps->m, vi, ITX_NN_F32, 0, NULL, ps->d)))
            return s;
        *(float *)ps->m->values[vi].data = a->f;
    } else if ((a = find_attr(as, na, "value_int")) && a->has_i) {
        if ((s = itx_nn_value_alloc(ps->m, vi, ITX_NN_I64, 0, NULL, ps->d)))
            return s;
        *(int64_t *)ps->m->values[vi].data = a->i;
    } else if ((a = find_attr(as, na, "value_ints")) && a->has_ints) {
        int64_t dim = a->n_ints;
        if ((s = itx_nn_value_alloc(ps->m, vi, ITX_NN_I64, 1, &dim, ps->d)))
            return s;
        memcpy(ps->m->values[vi].data, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
    } else if ((a = find_attr(as, na, "value_floats")) && a->has_floats) {
        int64_t dim = a->n_floats;
        if ((s = itx_nn_value_alloc(ps->m, vi, ITX_NN_F32, 1, &dim, ps->d)))
            return s;
        memcpy(ps->m->values[vi].data, a->floats, sizeof(float) * (size_t)a->n_floats);
    } else {
        return bad(ps, "Constant without a supported value attribute");
    }
    ps->m->values[vi].flags |= NN_VAL_CONST;
    return ITX_OK;
}

#define MAX_NODE_IO 64
#define MAX_NODE_ATTRS 32

static enum itx_status
parse_node(struct parse *ps, struct span msg)
{
    struct itx_nn_model *m = ps->m;
    struct rd r = {msg.p, msg.p + msg.n};
    struct span ins[MAX_NODE_IO], outs[4], name = {0}, op = {0}, domain = {0};
    struct attr *as = NULL;
    int n_in = 0, n_out = 0, na = 0;
    char namebuf[128];
    enum itx_status s = ITX_OK;

    as = itx_calloc(MAX_NODE_ATTRS, sizeof(*as));
    if (!as)
        return itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct span sp = {0};
        if (!rd_field(&r, &f, &wt, &v, &sp) || (wt != WT_LEN && f >= 1 && f <= 5)) {
            s = bad(ps, "truncated or malformed node");
            goto out;
        }
        if (f == 1) {
            if (n_in >= MAX_NODE_IO) {
                s = bad(ps, "node has too many inputs");
                goto out;
            }
            ins[n_in++] = sp;
        } else if (f == 2) {
            if (n_out >= 4) {
                s = bad(ps, "node has too many outputs");
                goto out;
            }
            outs[n_out++] = sp;
        } else if (f == 3) {
            name = sp;
        } else if (f == 4) {
            op = sp;
        } else if (f == 5) {
            if (na >= MAX_NODE_ATTRS) {
                s = bad(ps, "node has too many attributes");
                goto out;
            }
            if ((s = parse_attr(ps, sp, &as[na++])))
                goto out;
        } else if (f == 7) {
            domain = sp;
        }
    }
    snprintf(namebuf, sizeof(namebuf), "%.*s (%.*s)", (int)(name.n > 60 ? 60 : name.n),
             name.p ? (const char *)name.p : "", (int)(op.n > 40 ? 40 : op.n),
             op.p ? (const char *)op.p : "");
    ps->node = namebuf;
    if (domain.n && !span_eq(domain, "ai.onnx")) {
        s = bad(ps, "operators outside the default ONNX domain are not supported");
        goto out;
    }
    if (n_out < 1) {
        s = bad(ps, "node has no output");
        goto out;
    }
    for (int i = 0; i < n_out; i++) {
        if (outs[i].n == 0)
            continue;
        if (itx_nn_model_find_value(m, (const char *)outs[i].p, outs[i].n) >= 0) {
            s = bad(ps, "output name is defined twice (the graph may have a cycle)");
            goto out;
        }
    }
    if (m->n_nodes >= m->lim.max_nodes) {
        s = itx_diag_set(ps->d, ITX_ERR_MODEL, "model '%s' has more than %zu nodes", m->name,
                         m->lim.max_nodes);
        goto out;
    }

    if (span_eq(op, "Constant")) {
        int vi = itx_nn_model_add_value(m, (const char *)outs[0].p, outs[0].n);
        if (vi < 0) {
            s = itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
            goto out;
        }
        s = constant_node(ps, as, na, vi);
        goto out;
    }

    {
        size_t k;
        struct itx_nn_node *n;
        for (k = 0; k < sizeof(op_table) / sizeof(op_table[0]); k++)
            if (span_eq(op, op_table[k].name))
                break;
        if (k == sizeof(op_table) / sizeof(op_table[0])) {
            s = bad(ps, "unsupported operator");
            goto out;
        }
        if (m->n_nodes == m->cap_nodes) {
            size_t cap = m->cap_nodes ? m->cap_nodes * 2 : 256;
            struct itx_nn_node *nn = itx_realloc_array(m->nodes, cap, sizeof(*nn));
            if (!nn) {
                s = itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
                goto out;
            }
            m->nodes = nn;
            m->cap_nodes = cap;
        }
        n = &m->nodes[m->n_nodes];
        memset(n, 0, sizeof(*n));
        n->op = op_table[k].op;
        n->attr.unary = (enum itx_nn_unary_op)op_table[k].unary;
        n->out = -1;
        n->name = itx_strndup(namebuf, sizeof(namebuf));
        n->in = itx_calloc((size_t)(n_in ? n_in : 1), sizeof(int));
        m->n_nodes++; /* owned by the model from here, freed with it */
        if (!n->name || !n->in) {
            s = itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
            goto out;
        }
        n->n_in = n_in;
        for (int i = 0; i < n_in; i++) {
            if (ins[i].n == 0) {
                n->in[i] = -1;
                continue;
            }
            n->in[i] = itx_nn_model_find_value(m, (const char *)ins[i].p, ins[i].n);
            if (n->in[i] < 0) {
                char why[200];
                snprintf(why, sizeof(why),
                         "input '%.*s' is not defined before use (missing initializer or cycle)",
                         (int)(ins[i].n > 80 ? 80 : ins[i].n), (const char *)ins[i].p);
                s = bad(ps, why);
                goto out;
            }
        }
        if ((s = node_attrs(ps, n, as, na)))
            goto out;
        /* Extra outputs (e.g. BatchNormalization's training outputs) must be unused. */
        n->out = itx_nn_model_add_value(m, (const char *)outs[0].p, outs[0].n);
        if (n->out < 0) {
            s = itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
            goto out;
        }
        m->values[n->out].producer = (int)(m->n_nodes - 1);
        if (n_out > 1 && n->op != NN_OP_BN && n->op != NN_OP_IDENTITY) {
            s = bad(ps, "nodes with several outputs are not supported");
            goto out;
        }
    }
out:
    ps->node = NULL;
    itx_free(as);
    return s;
}

/* ---- ValueInfoProto (graph input declarations) ------------------------------------ */

static enum itx_status
parse_value_info(struct parse *ps, struct span msg, struct span *name, int *elem, int *rank,
                 int64_t *dims)
{
    struct rd r = {msg.p, msg.p + msg.n};
    *rank = 0;
    *elem = 0;
    name->p = NULL;
    name->n = 0;
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        uint64_t v = 0;
        struct span sp = {0};
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(ps, "malformed value_info");
        if (f == 1 && wt == WT_LEN) {
            *name = sp;
        } else if (f == 2 && wt == WT_LEN) { /* TypeProto */
            struct rd t = {sp.p, sp.p + sp.n};
            while (t.p < t.end) {
                struct span tt = {0};
                if (!rd_field(&t, &f, &wt, &v, &tt))
                    return bad(ps, "malformed type");
                if (f != 1 || wt != WT_LEN)
                    continue;
                struct rd tr = {tt.p, tt.p + tt.n}; /* TypeProto.Tensor */
                while (tr.p < tr.end) {
                    struct span sh = {0};
                    if (!rd_field(&tr, &f, &wt, &v, &sh))
                        return bad(ps, "malformed tensor type");
                    if (f == 1 && wt == WT_VARINT)
                        *elem = (int)v;
                    if (f != 2 || wt != WT_LEN)
                        continue;
                    struct rd srd = {sh.p, sh.p + sh.n}; /* TensorShapeProto */
                    while (srd.p < srd.end) {
                        struct span dim = {0};
                        if (!rd_field(&srd, &f, &wt, &v, &dim))
                            return bad(ps, "malformed shape");
                        if (f != 1 || wt != WT_LEN)
                            continue;
                        if (*rank >= ITX_NN_MAX_DIMS)
                            return bad(ps, "graph input has more than 8 dimensions");
                        int64_t dv = -1;
                        struct rd dr = {dim.p, dim.p + dim.n};
                        while (dr.p < dr.end) {
                            struct span x = {0};
                            if (!rd_field(&dr, &f, &wt, &v, &x))
                                return bad(ps, "malformed dimension");
                            if (f == 1 && wt == WT_VARINT)
                                dv = (int64_t)v;
                        }
                        if (dv < -1 || dv > (int64_t)ps->m->lim.max_tensor_elems)
                            return bad(ps, "graph input dimension out of range");
                        dims[(*rank)++] = dv == 0 ? -1 : dv;
                    }
                }
            }
        }
    }
    return ITX_OK;
}

/* ---- GraphProto / ModelProto ------------------------------------------------------- */

static enum itx_status
parse_graph(struct parse *ps, struct span g)
{
    struct itx_nn_model *m = ps->m;
    struct rd r;
    uint32_t f;
    int wt;
    uint64_t v;
    struct span sp;
    enum itx_status s;
    int n_outputs = 0;

    /* Pass 1: initializers (constants), then graph inputs that are not initializers. */
    for (int pass = 0; pass < 2; pass++) {
        r = (struct rd){g.p, g.p + g.n};
        while (r.p < r.end) {
            if (!rd_field(&r, &f, &wt, &v, &sp))
                return bad(ps, "truncated or malformed graph");
            if (wt != WT_LEN)
                continue;
            if (pass == 0 && f == 5) {
                struct tensor_raw t;
                struct span name = {0};
                if ((s = parse_tensor(ps, sp, &t)))
                    return s;
                /* the tensor name (field 8) */
                struct rd tr = {sp.p, sp.p + sp.n};
                struct span x;
                while (tr.p < tr.end && rd_field(&tr, &f, &wt, &v, &x))
                    if (f == 8 && wt == WT_LEN)
                        name = x;
                if (!name.n)
                    return bad(ps, "initializer without a name");
                if (itx_nn_model_find_value(m, (const char *)name.p, name.n) >= 0)
                    return bad(ps, "initializer name defined twice");
                int vi = itx_nn_model_add_value(m, (const char *)name.p, name.n);
                if (vi < 0)
                    return itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'",
                                        m->name);
                if ((s = tensor_to_value(ps, &t, vi)))
                    return s;
            } else if (pass == 1 && f == 11) {
                struct span name;
                int elem, rank;
                int64_t dims[ITX_NN_MAX_DIMS];
                if ((s = parse_value_info(ps, sp, &name, &elem, &rank, dims)))
                    return s;
                if (!name.n)
                    return bad(ps, "graph input without a name");
                if (itx_nn_model_find_value(m, (const char *)name.p, name.n) >= 0)
                    continue; /* an initializer listed as input */
                if (m->input >= 0)
                    return bad(ps, "models with more than one input are not supported");
                if (elem != 1)
                    return bad(ps, "the graph input is not float32");
                int vi = itx_nn_model_add_value(m, (const char *)name.p, name.n);
                if (vi < 0)
                    return itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'",
                                        m->name);
                m->values[vi].flags |= NN_VAL_INPUT;
                m->values[vi].dtype = ITX_NN_F32;
                m->values[vi].rank = rank;
                memcpy(m->values[vi].shape, dims, sizeof(int64_t) * (size_t)rank);
                m->input = vi;
            }
        }
    }
    if (m->input < 0)
        return bad(ps, "the graph has no input");

    /* Pass 2: nodes in file order (ONNX requires topological order). */
    r = (struct rd){g.p, g.p + g.n};
    while (r.p < r.end) {
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(ps, "truncated or malformed graph");
        if (f == 1 && wt == WT_LEN && (s = parse_node(ps, sp)))
            return s;
        if (f == 12 && wt == WT_LEN)
            n_outputs++;
    }
    if (n_outputs == 0 || n_outputs > 16)
        return bad(ps, "the graph must have between 1 and 16 outputs");
    m->outputs = itx_calloc((size_t)n_outputs, sizeof(int));
    if (!m->outputs)
        return itx_diag_set(ps->d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);

    /* Pass 3: outputs. */
    r = (struct rd){g.p, g.p + g.n};
    while (r.p < r.end) {
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(ps, "truncated or malformed graph");
        if (f == 12 && wt == WT_LEN) {
            struct span name;
            int elem, rank;
            int64_t dims[ITX_NN_MAX_DIMS];
            if ((s = parse_value_info(ps, sp, &name, &elem, &rank, dims)))
                return s;
            int vi = itx_nn_model_find_value(m, (const char *)name.p, name.n);
            if (vi < 0)
                return bad(ps, "a graph output is not produced by any node");
            m->values[vi].flags |= NN_VAL_OUTPUT;
            m->outputs[m->n_outputs++] = vi;
        }
    }
    return ITX_OK;
}

enum itx_status
itx_nn_onnx_parse(struct itx_nn_model *m, const uint8_t *data, size_t len, struct itx_diag *d)
{
    struct parse ps = {m, d, NULL};
    struct rd r = {data, data + len};
    struct span graph = {0};
    bool have_graph = false;
    uint32_t f;
    int wt;
    uint64_t v;
    struct span sp;

    m->opset = 0;
    while (r.p < r.end) {
        if (!rd_field(&r, &f, &wt, &v, &sp))
            return bad(&ps, "not an ONNX model (truncated or malformed protobuf)");
        if (f == 7 && wt == WT_LEN) {
            graph = sp;
            have_graph = true;
        } else if (f == 8 && wt == WT_LEN) {
            struct rd o = {sp.p, sp.p + sp.n};
            struct span dom = {0};
            int64_t ver = 0;
            struct span x;
            while (o.p < o.end) {
                if (!rd_field(&o, &f, &wt, &v, &x))
                    return bad(&ps, "malformed opset_import");
                if (f == 1 && wt == WT_LEN)
                    dom = x;
                if (f == 2 && wt == WT_VARINT)
                    ver = (int64_t)v;
            }
            if (dom.n == 0 || span_eq(dom, "ai.onnx"))
                m->opset = (int)(ver > 1000 ? 1000 : ver);
        }
    }
    if (!have_graph)
        return bad(&ps, "not an ONNX model (no graph)");
    if (m->opset < 7 || m->opset > 17)
        return itx_diag_set(d, ITX_ERR_MODEL,
                            "model '%s': opset %d is not supported (supported: 7 to 17)", m->name,
                            m->opset);
    return parse_graph(&ps, graph);
}
