/*
 * Shape inference and reference evaluation of single nodes. Both work on struct
 * itx_nn_tinfo (dtype, shape and, for known values, data) so the same code folds constants
 * at load time, folds shape arithmetic per plan, and runs the reference backend.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn-impl.h"

static enum itx_status
fail(struct itx_diag *d, const struct itx_nn_model *m, const struct itx_nn_node *n,
     const char *why)
{
    return itx_diag_set(d, ITX_ERR_INVALID, "model '%s': node '%s': %s", m->name, n->name, why);
}

static void
shape_str(const struct itx_nn_tinfo *t, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->rank && o + 24 < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? "x" : "", (long long)t->shape[i]);
    if (t->rank == 0)
        snprintf(buf, size, "scalar");
}

static int
norm_axis(int64_t axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return (axis < 0 || axis >= (rank ? rank : 1)) ? -1 : (int)axis;
}

/* Multidirectional broadcast of a and b into out; false when incompatible. */
static bool
broadcast(const struct itx_nn_tinfo *a, const struct itx_nn_tinfo *b, struct itx_nn_tinfo *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        out->shape[i] = da == 1 ? db : da;
    }
    out->rank = r;
    return true;
}

static const int64_t *
ints_of(const struct itx_nn_tinfo *t)
{
    return t->dtype == ITX_NN_I64 ? (const int64_t *)t->data : NULL;
}

/* Normalised Slice parameters for the reference kernel. */
static bool
slice_params(const struct itx_nn_node *n,
             const struct itx_nn_tinfo *in, int64_t *starts, int64_t *steps, int64_t *yshape)
{
    const struct itx_nn_tinfo *x = &in[0];
    int64_t st[ITX_NN_MAX_DIMS], en[ITX_NN_MAX_DIMS], ax[ITX_NN_MAX_DIMS], sp[ITX_NN_MAX_DIMS];
    int cnt;

    if (n->attr.n_perm > 0) { /* opset < 10: attributes */
        cnt = n->attr.n_perm;
        memcpy(st, n->attr.starts, sizeof(st));
        memcpy(en, n->attr.ends, sizeof(en));
        for (int i = 0; i < cnt; i++) {
            ax[i] = n->attr.n_axes >= 0 ? n->attr.axes[i] : i;
            sp[i] = 1;
        }
    } else {
        if (n->n_in < 3)
            return false;
        const struct itx_nn_tinfo *ts = &in[1], *te = &in[2];
        if (!ints_of(ts) || !ints_of(te) || ts->rank != 1 || te->rank != 1 ||
            ts->shape[0] != te->shape[0] || ts->shape[0] > ITX_NN_MAX_DIMS)
            return false;
        cnt = (int)ts->shape[0];
        for (int i = 0; i < cnt; i++) {
            st[i] = ints_of(ts)[i];
            en[i] = ints_of(te)[i];
            ax[i] = i;
            sp[i] = 1;
        }
        if (n->n_in > 3 && n->in[3] >= 0) {
            if (!ints_of(&in[3]) || in[3].rank != 1 || in[3].shape[0] != cnt)
                return false;
            memcpy(ax, ints_of(&in[3]), sizeof(int64_t) * (size_t)cnt);
        }
        if (n->n_in > 4 && n->in[4] >= 0) {
            if (!ints_of(&in[4]) || in[4].rank != 1 || in[4].shape[0] != cnt)
                return false;
            memcpy(sp, ints_of(&in[4]), sizeof(int64_t) * (size_t)cnt);
        }
    }
    for (int i = 0; i < x->rank; i++) {
        starts[i] = 0;
        steps[i] = 1;
        yshape[i] = x->shape[i];
    }
    for (int i = 0; i < cnt; i++) {
        int a = norm_axis(ax[i], x->rank);
        int64_t dim, s, e, step = sp[i];
        if (a < 0 || step == 0)
            return false;
        dim = x->shape[a];
        s = st[i];
        e = en[i];
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            yshape[a] = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < 0 ? -1 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            yshape[a] = s > e ? (s - e + (-step) - 1) / (-step) : 0;
        }
        starts[a] = s;
        steps[a] = step;
    }
    return true;
}

/* Resize output scales from its inputs (opset 10: X, scales; 11+: X, roi, scales, sizes). */
static bool
resize_scales(const struct itx_nn_node *n, const struct itx_nn_tinfo *in, float sc[4],
              int64_t ysz[4])
{
    const struct itx_nn_tinfo *x = &in[0];
    int si = n->attr.scales_in;
    if (x->rank != 4)
        return false;
    if (n->n_in > si && n->in[si] >= 0 && in[si].dtype == ITX_NN_F32 && in[si].data &&
        in[si].rank == 1 && in[si].shape[0] == 4) {
        const float *s = in[si].data;
        for (int i = 0; i < 4; i++) {
            if (!(s[i] > 0.0f) || s[i] > 1024.0f)
                return false;
            sc[i] = s[i];
            ysz[i] = (int64_t)floor((double)x->shape[i] * (double)s[i]);
        }
    } else if (n->n_in > 3 && n->in[3] >= 0 && ints_of(&in[3]) && in[3].rank == 1 &&
               in[3].shape[0] == 4) {
        for (int i = 0; i < 4; i++) {
            ysz[i] = ints_of(&in[3])[i];
            if (ysz[i] < 1 || ysz[i] > (1 << 24))
                return false;
            sc[i] = (float)ysz[i] / (float)x->shape[i];
        }
    } else {
        return false;
    }
    return ysz[0] == x->shape[0] && ysz[1] == x->shape[1] && ysz[2] >= 1 && ysz[3] >= 1;
}

enum itx_status
itx_nn_infer_node(const struct itx_nn_model *m, const struct itx_nn_node *n,
                  const struct itx_nn_tinfo *in, struct itx_nn_tinfo *out, struct itx_diag *d)
{
    const struct itx_nn_tinfo *x = &in[0];
    char s1[128], s2[128], msg[400];

    out->dtype = x->dtype;
    out->rank = x->rank;
    out->data = NULL;
    memcpy(out->shape, x->shape, sizeof(out->shape));
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && in[i].dtype == ITX_NN_UNDEF)
            return fail(d, m, n, "input of unknown type");

    switch (n->op) {
    case NN_OP_CONV:
    case NN_OP_CONV_T: {
        const struct itx_nn_tinfo *w = &in[1];
        const struct itx_nn_conv_params *p = &n->attr.conv;
        int64_t g = p->group;
        if (x->rank != 4 || w->rank != 4 || x->dtype != ITX_NN_F32 || !w->data)
            return fail(d, m, n, "only 2-D float convolutions with constant weights are supported");
        if ((p->kernel[0] && p->kernel[0] != w->shape[2]) ||
            (p->kernel[1] && p->kernel[1] != w->shape[3]))
            return fail(d, m, n, "kernel_shape does not match the weights");
        if (n->n_in > 2 && n->in[2] >= 0 &&
            (!in[2].data || in[2].rank != 1 ||
             in[2].shape[0] != (n->op == NN_OP_CONV ? w->shape[0] : w->shape[1] * g)))
            return fail(d, m, n, "bias does not match the weights");
        for (int i = 0; i < 2; i++) {
            int64_t k = (w->shape[2 + i] - 1) * p->dilation[i] + 1;
            int64_t o;
            if (n->op == NN_OP_CONV)
                o = (x->shape[2 + i] + p->pad[i] + p->pad[i + 2] - k) / p->stride[i] + 1;
            else
                o = p->stride[i] * (x->shape[2 + i] - 1) + p->output_padding[i] + k - p->pad[i] -
                    p->pad[i + 2];
            if (x->shape[2 + i] + p->pad[i] + p->pad[i + 2] < k && n->op == NN_OP_CONV)
                o = 0;
            if (o < 1) {
                shape_str(x, s1, sizeof(s1));
                snprintf(msg, sizeof(msg), "input %s is too small for the kernel", s1);
                return fail(d, m, n, msg);
            }
            out->shape[2 + i] = o;
        }
        if (n->op == NN_OP_CONV) {
            if (x->shape[1] != w->shape[1] * g || w->shape[0] % g) {
                shape_str(x, s1, sizeof(s1));
                shape_str(w, s2, sizeof(s2));
                snprintf(msg, sizeof(msg), "input %s does not fit weights %s (group %lld)", s1, s2,
                         (long long)g);
                return fail(d, m, n, msg);
            }
            out->shape[1] = w->shape[0];
        } else {
            if (x->shape[1] != w->shape[0] || w->shape[0] % g)
                return fail(d, m, n, "input channels do not match the ConvTranspose weights");
            out->shape[1] = w->shape[1] * g;
        }
        return ITX_OK;
    }
    case NN_OP_BN:
        if (x->rank < 2 || x->dtype != ITX_NN_F32 || n->n_in < 5)
            return fail(d, m, n, "BatchNormalization needs a float input of rank >= 2");
        for (int i = 1; i < 5; i++)
            if (!in[i].data || in[i].rank != 1 || in[i].shape[0] != x->shape[1])
                return fail(d, m, n, "BatchNormalization parameters do not match the channels");
        return ITX_OK;
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_POW:
        if (n->n_in != 2 || in[1].dtype != x->dtype ||
            (x->dtype != ITX_NN_F32 && n->op == NN_OP_POW))
            return fail(d, m, n, "operands of different types");
        if (!broadcast(x, &in[1], out)) {
            shape_str(x, s1, sizeof(s1));
            shape_str(&in[1], s2, sizeof(s2));
            snprintf(msg, sizeof(msg), "shapes %s and %s do not broadcast", s1, s2);
            return fail(d, m, n, msg);
        }
        return ITX_OK;
    case NN_OP_UNARY:
    case NN_OP_SOFTMAX:
        if (x->dtype != ITX_NN_F32)
            return fail(d, m, n, "float input expected");
        if (n->op == NN_OP_SOFTMAX && norm_axis(n->attr.axis, x->rank) < 0)
            return fail(d, m, n, "Softmax axis out of range");
        return ITX_OK;
    case NN_OP_MATMUL: {
        const struct itx_nn_tinfo *b = &in[1];
        struct itx_nn_tinfo ba = *x, bb = *b;
        if (x->dtype != ITX_NN_F32 || b->dtype != ITX_NN_F32 || x->rank < 1 || b->rank < 1)
            return fail(d, m, n, "MatMul needs float operands");
        int64_t M = x->rank >= 2 ? x->shape[x->rank - 2] : 1, K = x->shape[x->rank - 1];
        int64_t K2 = b->rank >= 2 ? b->shape[b->rank - 2] : b->shape[0];
        int64_t N = b->rank >= 2 ? b->shape[b->rank - 1] : 1;
        if (K != K2) {
            shape_str(x, s1, sizeof(s1));
            shape_str(b, s2, sizeof(s2));
            snprintf(msg, sizeof(msg), "MatMul shapes %s and %s do not fit", s1, s2);
            return fail(d, m, n, msg);
        }
        ba.rank = x->rank > 2 ? x->rank - 2 : 0;
        bb.rank = b->rank > 2 ? b->rank - 2 : 0;
        if (!broadcast(&ba, &bb, out))
            return fail(d, m, n, "MatMul batch dimensions do not broadcast");
        if (x->rank >= 2)
            out->shape[out->rank++] = M;
        if (b->rank >= 2)
            out->shape[out->rank++] = N;
        return ITX_OK;
    }
    case NN_OP_GAP:
        if (x->rank != 4 || x->dtype != ITX_NN_F32)
            return fail(d, m, n, "GlobalAveragePool needs a 4-D float input");
        out->shape[2] = out->shape[3] = 1;
        return ITX_OK;
    case NN_OP_AVGPOOL:
    case NN_OP_MAXPOOL: {
        const struct itx_nn_pool_params *p = &n->attr.pool;
        if (x->rank != 4 || x->dtype != ITX_NN_F32)
            return fail(d, m, n, "pooling needs a 4-D float input");
        for (int i = 0; i < 2; i++) {
            int64_t span = x->shape[2 + i] + p->pad[i] + p->pad[i + 2] - p->kernel[i];
            if (span < 0 || p->kernel[i] <= p->pad[i] || p->kernel[i] <= p->pad[i + 2])
                return fail(d, m, n, "input is too small for the pooling window");
            out->shape[2 + i] = span / p->stride[i] + 1;
        }
        return ITX_OK;
    }
    case NN_OP_RESIZE: {
        float sc[4];
        int64_t ysz[4];
        if (x->dtype != ITX_NN_F32 || !resize_scales(n, in, sc, ysz))
            return fail(d, m, n, "Resize needs a 4-D input and constant scales or sizes that keep N and C");
        memcpy(out->shape, ysz, sizeof(ysz));
        return ITX_OK;
    }
    case NN_OP_CONCAT: {
        int a = norm_axis(n->attr.axis, x->rank);
        int64_t sum = 0;
        if (a < 0 || x->rank == 0)
            return fail(d, m, n, "Concat axis out of range");
        for (int i = 0; i < n->n_in; i++) {
            const struct itx_nn_tinfo *t = &in[i];
            if (n->in[i] < 0 || t->rank != x->rank || t->dtype != x->dtype)
                return fail(d, m, n, "Concat inputs differ in rank or type");
            for (int k = 0; k < x->rank; k++)
                if (k != a && t->shape[k] != x->shape[k])
                    return fail(d, m, n, "Concat inputs differ outside the axis");
            sum += t->shape[a];
        }
        out->shape[a] = sum;
        return ITX_OK;
    }
    case NN_OP_RESHAPE: {
        const struct itx_nn_tinfo *sh = &in[1];
        int64_t total = itx_nn_shape_numel(x->shape, x->rank), known = 1;
        int infer = -1;
        if (n->n_in < 2 || !ints_of(sh) || sh->rank != 1 || sh->shape[0] > ITX_NN_MAX_DIMS)
            return fail(d, m, n, "Reshape needs a known 1-D int64 shape");
        out->rank = (int)sh->shape[0];
        for (int i = 0; i < out->rank; i++) {
            int64_t v = ints_of(sh)[i];
            if (v == 0) {
                if (i >= x->rank)
                    return fail(d, m, n, "Reshape copies a dimension the input does not have");
                v = x->shape[i];
            }
            if (v == -1) {
                if (infer >= 0)
                    return fail(d, m, n, "Reshape has two -1 dimensions");
                infer = i;
                continue;
            }
            if (v < 0)
                return fail(d, m, n, "Reshape has a negative dimension");
            out->shape[i] = v;
            known *= v;
        }
        if (infer >= 0) {
            if (known == 0 || total % known)
                return fail(d, m, n, "Reshape cannot infer the -1 dimension");
            out->shape[infer] = total / known;
        } else if (known != total) {
            return fail(d, m, n, "Reshape changes the number of elements");
        }
        return ITX_OK;
    }
    case NN_OP_FLATTEN: {
        int a = n->attr.axis < 0 ? (int)n->attr.axis + x->rank : (int)n->attr.axis;
        if (a < 0 || a > x->rank)
            return fail(d, m, n, "Flatten axis out of range");
        out->rank = 2;
        out->shape[0] = itx_nn_shape_numel(x->shape, a);
        out->shape[1] = itx_nn_shape_numel(x->shape + a, x->rank - a);
        return ITX_OK;
    }
    case NN_OP_TRANSPOSE: {
        int seen[ITX_NN_MAX_DIMS] = {0};
        if (n->attr.n_perm >= 0 && n->attr.n_perm != x->rank)
            return fail(d, m, n, "Transpose perm does not match the rank");
        for (int i = 0; i < x->rank; i++) {
            int64_t p = n->attr.n_perm >= 0 ? n->attr.perm[i] : x->rank - 1 - i;
            if (p < 0 || p >= x->rank || seen[p]++)
                return fail(d, m, n, "Transpose perm is not a permutation");
            out->shape[i] = x->shape[p];
        }
        return ITX_OK;
    }
    case NN_OP_SQUEEZE:
    case NN_OP_UNSQUEEZE: {
        int64_t axes[ITX_NN_MAX_DIMS];
        int na = n->attr.n_axes;
        int flag[ITX_NN_MAX_DIMS * 2] = {0};
        memcpy(axes, n->attr.axes, sizeof(axes));
        if (na < 0 && n->n_in > 1 && n->in[1] >= 0) {
            if (!ints_of(&in[1]) || in[1].rank != 1 || in[1].shape[0] > ITX_NN_MAX_DIMS)
                return fail(d, m, n, "axes must be a known 1-D int64 tensor");
            na = (int)in[1].shape[0];
            memcpy(axes, ints_of(&in[1]), sizeof(int64_t) * (size_t)na);
        }
        if (n->op == NN_OP_SQUEEZE) {
            int r = 0;
            for (int i = 0; i < na; i++) {
                int a = norm_axis(axes[i], x->rank);
                if (a < 0 || x->shape[a] != 1)
                    return fail(d, m, n, "Squeeze axis out of range or not of size 1");
                flag[a] = 1;
            }
            for (int i = 0; i < x->rank; i++)
                if (!(na < 0 ? x->shape[i] == 1 : flag[i]))
                    out->shape[r++] = x->shape[i];
            out->rank = r;
        } else {
            int r = x->rank + (na < 0 ? 0 : na), k = 0;
            if (na < 0 || r > ITX_NN_MAX_DIMS)
                return fail(d, m, n, "Unsqueeze needs axes and at most 8 dimensions");
            for (int i = 0; i < na; i++) {
                int a = norm_axis(axes[i], r);
                if (a < 0 || flag[a]++)
                    return fail(d, m, n, "Unsqueeze axis out of range");
            }
            for (int i = 0; i < r; i++)
                out->shape[i] = flag[i] ? 1 : x->shape[k++];
            out->rank = r;
        }
        return ITX_OK;
    }
    case NN_OP_SLICE: {
        int64_t st[ITX_NN_MAX_DIMS], sp[ITX_NN_MAX_DIMS];
        if (!slice_params(n, in, st, sp, out->shape))
            return fail(d, m, n, "Slice needs known, valid starts, ends, axes and steps");
        return ITX_OK;
    }
    case NN_OP_SHAPE:
        out->dtype = ITX_NN_I64;
        out->rank = 1;
        out->shape[0] = x->rank;
        return ITX_OK;
    case NN_OP_CAST:
        out->dtype = n->attr.cast_to;
        return ITX_OK;
    case NN_OP_REDUCEMEAN: {
        if (x->dtype != ITX_NN_F32)
            return fail(d, m, n, "ReduceMean needs a float input");
        int flag[ITX_NN_MAX_DIMS] = {0}, r = 0;
        for (int i = 0; i < (n->attr.n_axes < 0 ? x->rank : n->attr.n_axes); i++) {
            int a = n->attr.n_axes < 0 ? i : norm_axis(n->attr.axes[i], x->rank);
            if (a < 0)
                return fail(d, m, n, "ReduceMean axis out of range");
            flag[a] = 1;
        }
        for (int i = 0; i < x->rank; i++) {
            if (!flag[i])
                out->shape[r++] = x->shape[i];
            else if (n->attr.keepdims)
                out->shape[r++] = 1;
        }
        out->rank = r;
        return ITX_OK;
    }
    case NN_OP_IDENTITY:
        return ITX_OK;
    case NN_OP_DEPTH_TO_SPACE: {
        int64_t b = n->attr.block;
        if (x->rank != 4 || x->dtype != ITX_NN_F32 || x->shape[1] % (b * b))
            return fail(d, m, n, "DepthToSpace needs a 4-D float input with channels divisible "
                                 "by blocksize squared");
        out->shape[1] = x->shape[1] / (b * b);
        out->shape[2] = x->shape[2] * b;
        out->shape[3] = x->shape[3] * b;
        return ITX_OK;
    }
    default:
        return fail(d, m, n, "unsupported operator");
    }
}

static void
cast_copy(const struct itx_nn_tinfo *x, enum itx_nn_dtype to, void *y)
{
    int64_t n = itx_nn_shape_numel(x->shape, x->rank);
    if (x->dtype == to) {
        memcpy(y, x->data, (size_t)n * itx_nn_dtype_size(to));
    } else if (to == ITX_NN_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)y)[i] = (float)((const int64_t *)x->data)[i];
    } else {
        for (int64_t i = 0; i < n; i++) {
            float f = ((const float *)x->data)[i];
            ((int64_t *)y)[i] = isfinite(f) && fabsf(f) < 9.2e18f ? (int64_t)f : 0;
        }
    }
}

static void
binary_int(enum itx_nn_op op, const struct itx_nn_tinfo *a, const struct itx_nn_tinfo *b,
           const struct itx_nn_tinfo *o, int64_t *y)
{
    int64_t n = itx_nn_shape_numel(o->shape, o->rank);
    int64_t na = itx_nn_shape_numel(a->shape, a->rank), nb = itx_nn_shape_numel(b->shape, b->rank);
    const int64_t *pa = a->data, *pb = b->data;
    /* Integer arithmetic only appears on shape vectors: same shape or a scalar operand. */
    for (int64_t i = 0; i < n; i++) {
        int64_t u = pa[na == n ? i : 0], v = pb[nb == n ? i : 0];
        switch (op) {
        case NN_OP_ADD:
            y[i] = u + v;
            break;
        case NN_OP_SUB:
            y[i] = u - v;
            break;
        case NN_OP_MUL:
            y[i] = u * v;
            break;
        default:
            y[i] = v ? u / v : 0;
            break;
        }
    }
}

void
itx_nn_eval_ref(const struct itx_nn_node *n, const struct itx_nn_tinfo *in,
                const struct itx_nn_tinfo *out, void *y, void *const *post_data)
{
    const struct itx_nn_tinfo *x = &in[0];
    int64_t ny = itx_nn_shape_numel(out->shape, out->rank);

    switch (n->op) {
    case NN_OP_CONV:
        itx_nn_ref_conv2d(x->data, x->shape, in[1].data, in[1].shape,
                          n->n_in > 2 && n->in[2] >= 0 ? in[2].data : NULL, &n->attr.conv, y,
                          out->shape);
        break;
    case NN_OP_CONV_T:
        itx_nn_ref_conv_transpose2d(x->data, x->shape, in[1].data, in[1].shape,
                                    n->n_in > 2 && n->in[2] >= 0 ? in[2].data : NULL,
                                    &n->attr.conv, y, out->shape);
        break;
    case NN_OP_BN:
        itx_nn_ref_batchnorm(x->data, x->shape, x->rank, in[1].data, in[2].data, in[3].data,
                             in[4].data, n->attr.eps, y);
        break;
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_POW:
        if (x->dtype == ITX_NN_I64) {
            binary_int(n->op, x, &in[1], out, y);
        } else {
            static const enum itx_nn_binary_op map[] = {
                [NN_OP_ADD] = ITX_NN_ADD, [NN_OP_SUB] = ITX_NN_SUB, [NN_OP_MUL] = ITX_NN_MUL,
                [NN_OP_DIV] = ITX_NN_DIV, [NN_OP_POW] = ITX_NN_POW};
            itx_nn_ref_binary(map[n->op], x->data, x->shape, x->rank, in[1].data, in[1].shape,
                              in[1].rank, y, out->shape, out->rank);
        }
        break;
    case NN_OP_UNARY:
        itx_nn_ref_unary(n->attr.unary, x->data, ny, n->attr.alpha, n->attr.beta, y);
        break;
    case NN_OP_SOFTMAX:
        itx_nn_ref_softmax(x->data, x->shape, x->rank, norm_axis(n->attr.axis, x->rank), y);
        break;
    case NN_OP_MATMUL:
        itx_nn_ref_matmul(x->data, x->shape, x->rank, in[1].data, in[1].shape, in[1].rank, y,
                          out->shape, out->rank);
        if (n->n_in > 2 && n->in[2] >= 0) { /* a bias folded in by the optimiser */
            int64_t cols = out->shape[out->rank - 1];
            const float *b = in[2].data;
            for (int64_t i = 0; i < ny; i++)
                ((float *)y)[i] += b[i % cols];
        }
        break;
    case NN_OP_GAP:
        itx_nn_ref_global_avg_pool(x->data, x->shape, y);
        break;
    case NN_OP_AVGPOOL:
        itx_nn_ref_avg_pool(x->data, x->shape, &n->attr.pool, y, out->shape);
        break;
    case NN_OP_MAXPOOL:
        itx_nn_ref_max_pool(x->data, x->shape, &n->attr.pool, y, out->shape);
        break;
    case NN_OP_RESIZE:
        itx_nn_ref_resize(x->data, x->shape, y, out->shape,
                          (float)out->shape[2] / (float)x->shape[2],
                          (float)out->shape[3] / (float)x->shape[3], n->attr.resize_linear,
                          n->attr.coord, n->attr.nearest);
        break;
    case NN_OP_CONCAT: {
        const void *xs[64];
        const int64_t *shapes[64];
        int cnt = n->n_in > 64 ? 64 : n->n_in;
        for (int i = 0; i < cnt; i++) {
            xs[i] = in[i].data;
            shapes[i] = in[i].shape;
        }
        itx_nn_ref_concat(xs, shapes, cnt, x->rank, norm_axis(n->attr.axis, x->rank),
                          itx_nn_dtype_size(x->dtype), y);
        break;
    }
    case NN_OP_RESHAPE:
    case NN_OP_FLATTEN:
    case NN_OP_SQUEEZE:
    case NN_OP_UNSQUEEZE:
    case NN_OP_IDENTITY:
        if (y != x->data)
            memcpy(y, x->data, (size_t)ny * itx_nn_dtype_size(x->dtype));
        break;
    case NN_OP_TRANSPOSE: {
        int64_t perm[ITX_NN_MAX_DIMS];
        for (int i = 0; i < x->rank; i++)
            perm[i] = n->attr.n_perm >= 0 ? n->attr.perm[i] : x->rank - 1 - i;
        itx_nn_ref_transpose(x->data, x->shape, x->rank, perm, itx_nn_dtype_size(x->dtype), y);
        break;
    }
    case NN_OP_SLICE: {
        int64_t st[ITX_NN_MAX_DIMS], sp[ITX_NN_MAX_DIMS], ys[ITX_NN_MAX_DIMS];
        if (slice_params(n, in, st, sp, ys))
            itx_nn_ref_slice(x->data, x->shape, x->rank, st, sp, itx_nn_dtype_size(x->dtype), y,
                             ys);
        break;
    }
    case NN_OP_DEPTH_TO_SPACE: {
        int64_t b = n->attr.block, N = out->shape[0], C = out->shape[1];
        int64_t H = x->shape[2], W = x->shape[3];
        const float *src = x->data;
        float *dst = y;
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t yy = 0; yy < H * b; yy++)
                    for (int64_t xx = 0; xx < W * b; xx++) {
                        int64_t ci = ((yy % b) * b + xx % b) * C + c;
                        dst[((nn * C + c) * H * b + yy) * W * b + xx] =
                            src[((nn * C * b * b + ci) * H + yy / b) * W + xx / b];
                    }
        break;
    }
    case NN_OP_SHAPE:
        for (int i = 0; i < x->rank; i++)
            ((int64_t *)y)[i] = x->shape[i];
        break;
    case NN_OP_CAST:
        cast_copy(x, out->dtype, y);
        break;
    case NN_OP_REDUCEMEAN: {
        int flag[ITX_NN_MAX_DIMS] = {0};
        for (int i = 0; i < (n->attr.n_axes < 0 ? x->rank : n->attr.n_axes); i++) {
            int a = n->attr.n_axes < 0 ? i : norm_axis(n->attr.axes[i], x->rank);
            if (a >= 0)
                flag[a] = 1;
        }
        itx_nn_ref_reduce_mean(x->data, x->shape, x->rank, flag, y);
        break;
    }
    default:
        break;
    }
    for (int k = 0; k < n->n_post; k++) {
        const struct itx_nn_post *p = &n->post[k];
        if (p->kind == NN_POST_UNARY)
            itx_nn_ref_unary(p->unary, y, ny, p->alpha, p->beta, y);
        else
            itx_nn_ref_binary(ITX_NN_ADD, y, out->shape, out->rank, post_data[k], out->shape,
                              out->rank, y, out->shape, out->rank);
    }
}
