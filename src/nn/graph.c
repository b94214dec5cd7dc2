/*
 * Load-time graph optimisation:
 *   1. normalise operator forms (Clip bounds given as inputs become attributes);
 *   2. fold every node whose inputs are all constant (reference kernels);
 *   3. fold BatchNormalization and per-channel or scalar Mul/Add/Sub/Div that directly
 *      follow a Conv, ConvTranspose or MatMul into its weights and bias;
 *   4. fuse what follows such a node into post ops: Relu, Sigmoid, Clip, HardSigmoid, the
 *      HardSwish pattern x*Clip(x+3,0,6)/6, the Swish pattern x*Sigmoid(x), scalar affine
 *      Mul/Add, and a residual Add of a same-shaped tensor;
 *   5. remove nodes whose results nobody uses.
 * A fused node moves to the position of the last node it absorbed, which keeps the order
 * topological (everything it absorbed consumed only its own chain and earlier values).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/nn-impl.h"

#define NN_VAL_PRIVATE 8u /* a constant that only one node uses (safe to modify) */

static bool
is_const(const struct itx_nn_model *m, int v)
{
    return v >= 0 && (m->values[v].flags & NN_VAL_CONST);
}

bool
itx_nn_const_scalar(const struct itx_nn_model *m, int v, float *out)
{
    const struct itx_nn_value *val;
    if (!is_const(m, v))
        return false;
    val = &m->values[v];
    if (itx_nn_value_numel(val) != 1)
        return false;
    if (val->dtype == ITX_NN_F32)
        *out = *(const float *)val->data;
    else
        *out = (float)*(const int64_t *)val->data;
    return true;
}

static void
count_uses(struct itx_nn_model *m)
{
    for (size_t i = 0; i < m->n_values; i++)
        m->values[i].n_uses = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct itx_nn_node *n = &m->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                m->values[n->in[k]].n_uses++;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].kind == NN_POST_ADD)
                m->values[n->post[k].value].n_uses++;
    }
    for (int i = 0; i < m->n_outputs; i++)
        m->values[m->outputs[i]].n_uses++;
}

/* Live consumers of v after node index `from` (at most max), post-op addends included. */
static int
consumers(const struct itx_nn_model *m, int v, size_t from, int *out, int max)
{
    int n = 0;
    for (size_t i = from; i < m->n_nodes; i++) {
        const struct itx_nn_node *nd = &m->nodes[i];
        if (nd->dead)
            continue;
        bool uses = false;
        for (int k = 0; k < nd->n_in && !uses; k++)
            uses = nd->in[k] == v;
        /* a residual addend fused into another node's post ops is a use too */
        for (int k = 0; k < nd->n_post && !uses; k++)
            uses = nd->post[k].kind == NN_POST_ADD && nd->post[k].value == v;
        if (uses) {
            if (n < max)
                out[n] = (int)i;
            n++;
        }
    }
    return n;
}

static enum itx_status
normalise(struct itx_nn_model *m, struct itx_diag *d)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        struct itx_nn_node *n = &m->nodes[i];
        if (n->op == NN_OP_UNARY && n->attr.unary == ITX_NN_CLIP && n->n_in > 1) {
            float v;
            if (n->n_in > 1 && n->in[1] >= 0) {
                if (!itx_nn_const_scalar(m, n->in[1], &v))
                    return itx_diag_set(d, ITX_ERR_MODEL,
                                        "model '%s': node '%s': Clip bounds must be constant",
                                        m->name, n->name);
                n->attr.alpha = v;
            }
            if (n->n_in > 2 && n->in[2] >= 0) {
                if (!itx_nn_const_scalar(m, n->in[2], &v))
                    return itx_diag_set(d, ITX_ERR_MODEL,
                                        "model '%s': node '%s': Clip bounds must be constant",
                                        m->name, n->name);
                n->attr.beta = v;
            }
            n->n_in = 1;
        }
    }
    return ITX_OK;
}

static void
tinfo_of(const struct itx_nn_model *m, int v, struct itx_nn_tinfo *t)
{
    memset(t, 0, sizeof(*t));
    if (v < 0)
        return;
    t->dtype = m->values[v].dtype;
    t->rank = m->values[v].rank;
    memcpy(t->shape, m->values[v].shape, sizeof(t->shape));
    t->data = is_const(m, v) ? m->values[v].data : NULL;
}

/* Step 2: evaluate nodes whose inputs are all constant. */
static enum itx_status
fold_constants(struct itx_nn_model *m, struct itx_diag *d)
{
    struct itx_nn_tinfo *in = NULL;
    enum itx_status s = ITX_OK;
    int cap = 0;

    for (size_t i = 0; i < m->n_nodes; i++) {
        struct itx_nn_node *n = &m->nodes[i];
        struct itx_nn_tinfo out;
        bool all = true;
        if (n->dead || (m->values[n->out].flags & NN_VAL_OUTPUT))
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && !is_const(m, n->in[k]))
                all = false;
        if (!all || n->n_in == 0)
            continue;
        if (n->n_in > cap) {
            struct itx_nn_tinfo *t = itx_realloc_array(in, (size_t)n->n_in, sizeof(*t));
            if (!t) {
                s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
                goto out;
            }
            in = t;
            cap = n->n_in;
        }
        for (int k = 0; k < n->n_in; k++)
            tinfo_of(m, n->in[k], &in[k]);
        if ((s = itx_nn_infer_node(m, n, in, &out, d))) {
            s = itx_diag_set(d, ITX_ERR_MODEL, "%s", d ? d->msg : "invalid constant node");
            goto out;
        }
        if ((s = itx_nn_value_alloc(m, n->out, out.dtype, out.rank, out.shape, d)))
            goto out;
        itx_nn_eval_ref(n, in, &out, m->values[n->out].data, NULL);
        m->values[n->out].flags |= NN_VAL_CONST;
        m->values[n->out].producer = -1;
        n->dead = true;
    }
out:
    itx_free(in);
    return s;
}

/* Makes constant v private to one node (copying it when shared) and returns its index. */
static int
private_copy(struct itx_nn_model *m, int v)
{
    struct itx_nn_value *src = &m->values[v];
    int64_t shape[ITX_NN_MAX_DIMS];
    size_t bytes;
    int nv;

    if ((src->flags & NN_VAL_PRIVATE) || src->n_uses == 1) {
        src->flags |= NN_VAL_PRIVATE;
        return v;
    }
    memcpy(shape, src->shape, sizeof(shape));
    nv = itx_nn_model_add_value(m, src->name, strlen(src->name));
    if (nv < 0)
        return -1;
    src = &m->values[v]; /* values may have moved */
    if (itx_nn_value_alloc(m, nv, src->dtype, src->rank, shape, NULL))
        return -1;
    bytes = (size_t)itx_nn_value_numel(src) * itx_nn_dtype_size(src->dtype);
    memcpy(m->values[nv].data, src->data, bytes);
    m->values[nv].flags |= NN_VAL_CONST | NN_VAL_PRIVATE;
    src->n_uses--;
    m->values[nv].n_uses = 1;
    return nv;
}

/* Output channel count of a foldable node; 0 when it cannot take folded scales. */
static int64_t
out_channels(const struct itx_nn_model *m, const struct itx_nn_node *n)
{
    const struct itx_nn_value *w;
    if (n->n_in < 2 || !is_const(m, n->in[1]))
        return 0;
    w = &m->values[n->in[1]];
    if (n->op == NN_OP_CONV && w->rank == 4)
        return w->shape[0];
    if (n->op == NN_OP_CONV_T && w->rank == 4)
        return w->shape[1] * n->attr.conv.group;
    if (n->op == NN_OP_MATMUL && w->rank == 2)
        return w->shape[1];
    return 0;
}

/* Ensures the node has a private weight and a private bias; false on allocation failure. */
static bool
private_params(struct itx_nn_model *m, struct itx_nn_node *n, int64_t oc)
{
    int w = private_copy(m, n->in[1]);
    if (w < 0)
        return false;
    n->in[1] = w;
    if (n->n_in < 3 || n->in[2] < 0) {
        int *in = itx_realloc_array(n->in, 3, sizeof(int));
        int b;
        if (!in)
            return false;
        n->in = in;
        n->n_in = 3;
        b = itx_nn_model_add_value(m, "bias", 4);
        if (b < 0 || itx_nn_value_alloc(m, b, ITX_NN_F32, 1, &oc, NULL))
            return false;
        m->values[b].flags |= NN_VAL_CONST | NN_VAL_PRIVATE;
        m->values[b].n_uses = 1;
        n->in[2] = b;
    } else {
        int b = private_copy(m, n->in[2]);
        if (b < 0)
            return false;
        n->in[2] = b;
    }
    return true;
}

/* y = scale[c] * y + shift[c] folded into the weights and bias of n. */
static bool
fold_affine(struct itx_nn_model *m, struct itx_nn_node *n, const float *scale, int scale_n,
            const float *shift, int shift_n)
{
    int64_t oc = out_channels(m, n);
    if (!private_params(m, n, oc))
        return false;
    struct itx_nn_value *w = &m->values[n->in[1]];
    float *wd = w->data, *bd = m->values[n->in[2]].data;
    for (int64_t c = 0; c < oc; c++) {
        float s = scale ? scale[scale_n == 1 ? 0 : c] : 1.0f;
        float t = shift ? shift[shift_n == 1 ? 0 : c] : 0.0f;
        bd[c] = bd[c] * s + t;
    }
    if (!scale)
        return true;
    if (n->op == NN_OP_CONV) {
        int64_t per = itx_nn_value_numel(w) / oc;
        for (int64_t c = 0; c < oc; c++)
            for (int64_t k = 0; k < per; k++)
                wd[c * per + k] *= scale[scale_n == 1 ? 0 : c];
    } else if (n->op == NN_OP_CONV_T) {
        int64_t cin = w->shape[0], mg = w->shape[1], ks = w->shape[2] * w->shape[3];
        int64_t g = n->attr.conv.group, cpg = cin / g;
        for (int64_t c = 0; c < cin; c++)
            for (int64_t j = 0; j < mg; j++) {
                float s = scale[scale_n == 1 ? 0 : (c / cpg) * mg + j];
                for (int64_t k = 0; k < ks; k++)
                    wd[(c * mg + j) * ks + k] *= s;
            }
    } else { /* MatMul B [K, N] */
        int64_t K = w->shape[0];
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < oc; c++)
                wd[k * oc + c] *= scale[scale_n == 1 ? 0 : c];
    }
    return true;
}

/* Whether constant v is a scalar or a per-channel vector for a node with oc channels
 * (conv: [C,1,1] or [1,C,1,1]; matmul: [C]); *count gets 1 or oc. */
static bool
channel_const(const struct itx_nn_model *m, const struct itx_nn_node *n, int v, int64_t oc,
              int *count)
{
    const struct itx_nn_value *c;
    if (!is_const(m, v) || m->values[v].dtype != ITX_NN_F32)
        return false;
    c = &m->values[v];
    if (itx_nn_value_numel(c) == 1) {
        *count = 1;
        return c->rank <= (n->op == NN_OP_MATMUL ? 1 : 4);
    }
    if (n->op == NN_OP_MATMUL) {
        *count = (int)oc;
        return c->rank == 1 && c->shape[0] == oc;
    }
    if (c->rank == 3 && c->shape[0] == oc && c->shape[1] == 1 && c->shape[2] == 1) {
        *count = (int)oc;
        return true;
    }
    if (c->rank == 4 && c->shape[0] == 1 && c->shape[1] == oc && c->shape[2] == 1 &&
        c->shape[3] == 1) {
        *count = (int)oc;
        return true;
    }
    return false;
}

/* A BatchNormalization whose four parameters are constant float vectors of oc entries. */
static bool
bn_params_ok(const struct itx_nn_model *m, const struct itx_nn_node *u, int64_t oc)
{
    if (u->n_in != 5 || u->in[0] < 0)
        return false;
    for (int k = 1; k < 5; k++) {
        int v = u->in[k];
        if (!is_const(m, v) || m->values[v].dtype != ITX_NN_F32 || m->values[v].rank != 1 ||
            m->values[v].shape[0] != oc)
            return false;
    }
    return true;
}

/* The single live consumer of v after node `from`, or -1. */
static int
only_consumer(const struct itx_nn_model *m, int v, size_t from)
{
    int c[2];
    if (m->values[v].flags & NN_VAL_OUTPUT)
        return -1;
    return consumers(m, v, from, c, 2) == 1 ? c[0] : -1;
}

static bool
scalar_is(const struct itx_nn_model *m, int v, float want)
{
    float k;
    return itx_nn_const_scalar(m, v, &k) && fabsf(k - want) <= 1e-5f * fabsf(want) + 1e-7f;
}

/* v -> {Add(v,3) -> Clip(0,6) -> Mul(v, .) -> Div(., 6) | Mul(., 1/6)}. */
static bool
match_hardswish(const struct itx_nn_model *m, int v, const int cons[2], int chain[4], int *end_v)
{
    for (int i = 0; i < 2; i++) {
        const struct itx_nn_node *a = &m->nodes[cons[i]], *mu = &m->nodes[cons[1 - i]];
        if (a->op != NN_OP_ADD || a->n_in != 2 || mu->op != NN_OP_MUL || mu->n_in != 2)
            continue;
        int three = a->in[0] == v ? a->in[1] : a->in[0];
        if (!scalar_is(m, three, 3.0f))
            continue;
        int cl = only_consumer(m, a->out, (size_t)cons[i] + 1);
        if (cl < 0)
            continue;
        const struct itx_nn_node *c = &m->nodes[cl];
        if (c->op != NN_OP_UNARY || c->attr.unary != ITX_NN_CLIP || c->attr.alpha != 0.0f ||
            c->attr.beta != 6.0f)
            continue;
        if (only_consumer(m, c->out, (size_t)cl + 1) != cons[1 - i])
            continue;
        if (!((mu->in[0] == v && mu->in[1] == c->out) || (mu->in[1] == v && mu->in[0] == c->out)))
            continue;
        int dv = only_consumer(m, mu->out, (size_t)cons[1 - i] + 1);
        if (dv < 0)
            continue;
        const struct itx_nn_node *dn = &m->nodes[dv];
        if (dn->n_in != 2 || dn->in[0] != mu->out ||
            !((dn->op == NN_OP_DIV && scalar_is(m, dn->in[1], 6.0f)) ||
              (dn->op == NN_OP_MUL && scalar_is(m, dn->in[1], 1.0f / 6.0f))))
            continue;
        chain[0] = cons[i];
        chain[1] = cl;
        chain[2] = cons[1 - i];
        chain[3] = dv;
        *end_v = dn->out;
        return true;
    }
    return false;
}

/* v -> {Sigmoid(v) | Mul(v, k) -> Sigmoid} -> Mul(v, .): returns the chain length or 0. */
static int
match_swish(const struct itx_nn_model *m, int v, const int cons[2], int chain[3], int *end_v,
            float *alpha)
{
    for (int i = 0; i < 2; i++) {
        const struct itx_nn_node *s = &m->nodes[cons[i]], *mu = &m->nodes[cons[1 - i]];
        int n = 0, sg = cons[i];
        if (mu->op != NN_OP_MUL || mu->n_in != 2)
            continue;
        *alpha = 1.0f;
        if (s->op == NN_OP_MUL && s->n_in == 2) {
            int kv = s->in[0] == v ? s->in[1] : s->in[0];
            if (!itx_nn_const_scalar(m, kv, alpha))
                continue;
            chain[n++] = cons[i];
            sg = only_consumer(m, s->out, (size_t)cons[i] + 1);
            if (sg < 0)
                continue;
        }
        const struct itx_nn_node *g = &m->nodes[sg];
        if (g->op != NN_OP_UNARY || g->attr.unary != ITX_NN_SIGMOID)
            continue;
        if (only_consumer(m, g->out, (size_t)sg + 1) != cons[1 - i])
            continue;
        if (!((mu->in[0] == v && mu->in[1] == g->out) || (mu->in[1] == v && mu->in[0] == g->out)))
            continue;
        chain[n++] = sg;
        chain[n++] = cons[1 - i];
        *end_v = mu->out;
        return n;
    }
    return 0;
}

/* Tries to absorb the (single) consumer chain after node ci. Returns the index of the last
 * absorbed node, or -1 when nothing was absorbed. */
static int
fuse_after(struct itx_nn_model *m, int ci, bool *oom)
{
    struct itx_nn_node *c = &m->nodes[ci];
    int last = -1;
    int64_t oc = out_channels(m, c);

    for (;;) {
        int v = c->out, cons[3], nc;
        float k;
        if (m->values[v].flags & NN_VAL_OUTPUT || c->n_post >= NN_MAX_POST)
            break;
        nc = consumers(m, v, (size_t)ci + 1, cons, 3);
        if (nc == 1) {
            struct itx_nn_node *u = &m->nodes[cons[0]];
            int other = u->n_in == 2 ? (u->in[0] == v ? u->in[1] : u->in[0]) : -1;
            bool v_first = u->n_in >= 1 && u->in[0] == v;
            int cnt;

            if ((u->op == NN_OP_MUL || u->op == NN_OP_ADD || u->op == NN_OP_SUB ||
                 u->op == NN_OP_DIV) &&
                u->n_in == 2 && u->in[0] != u->in[1] && oc > 0 && c->n_post == 0 &&
                channel_const(m, c, other, oc, &cnt) &&
                (v_first || u->op == NN_OP_MUL || u->op == NN_OP_ADD)) {
                const float *p = m->values[other].data;
                float *tmp = itx_malloc_array((size_t)cnt, sizeof(float));
                bool ok;
                if (!tmp) {
                    *oom = true;
                    return last;
                }
                for (int i = 0; i < cnt; i++)
                    tmp[i] = u->op == NN_OP_SUB ? -p[i] : (u->op == NN_OP_DIV ? 1.0f / p[i] : p[i]);
                if (u->op == NN_OP_MUL || u->op == NN_OP_DIV)
                    ok = fold_affine(m, c, tmp, cnt, NULL, 0);
                else
                    ok = fold_affine(m, c, NULL, 0, tmp, cnt);
                itx_free(tmp);
                if (!ok) {
                    *oom = true;
                    return last;
                }
            } else if ((u->op == NN_OP_MUL || u->op == NN_OP_ADD || u->op == NN_OP_SUB ||
                        u->op == NN_OP_DIV) &&
                       u->n_in == 2 && u->in[0] != u->in[1] && itx_nn_const_scalar(m, other, &k) &&
                       m->values[other].rank <= 4 &&
                       (v_first || u->op == NN_OP_MUL || u->op == NN_OP_ADD)) {
                float a = u->op == NN_OP_MUL ? k : (u->op == NN_OP_DIV ? 1.0f / k : 1.0f);
                float b = u->op == NN_OP_ADD ? k : (u->op == NN_OP_SUB ? -k : 0.0f);
                struct itx_nn_post *p = c->n_post ? &c->post[c->n_post - 1] : NULL;
                if (p && p->kind == NN_POST_UNARY && p->unary == ITX_NN_LINEAR) {
                    /* merge: a*(alpha*x + beta) + b */
                    p->alpha *= a;
                    p->beta = a * p->beta + b;
                } else {
                    p = &c->post[c->n_post++];
                    p->kind = NN_POST_UNARY;
                    p->unary = ITX_NN_LINEAR;
                    p->alpha = a;
                    p->beta = b;
                }
            } else if (u->op == NN_OP_BN && oc > 0 && c->n_post == 0 && c->op != NN_OP_MATMUL &&
                       bn_params_ok(m, u, oc)) {
                const float *sc = m->values[u->in[1]].data, *bi = m->values[u->in[2]].data;
                const float *mu = m->values[u->in[3]].data, *va = m->values[u->in[4]].data;
                float *s = itx_malloc_array((size_t)oc, sizeof(float));
                float *t = itx_malloc_array((size_t)oc, sizeof(float));
                bool ok = s && t;
                for (int64_t i = 0; ok && i < oc; i++) {
                    s[i] = sc[i] / sqrtf(va[i] + u->attr.eps);
                    t[i] = bi[i] - mu[i] * s[i];
                }
                if (ok)
                    ok = fold_affine(m, c, s, (int)oc, t, (int)oc);
                itx_free(s);
                itx_free(t);
                if (!ok) {
                    if (!s || !t)
                        *oom = true;
                    break;
                }
            } else if (u->op == NN_OP_UNARY && u->n_in == 1) {
                struct itx_nn_post *p = &c->post[c->n_post++];
                p->kind = NN_POST_UNARY;
                p->unary = u->attr.unary;
                p->alpha = u->attr.alpha;
                p->beta = u->attr.beta;
            } else if (u->op == NN_OP_ADD && u->n_in == 2 && other >= 0 && other != v &&
                       !is_const(m, other) && c->op != NN_OP_MATMUL) {
                struct itx_nn_post *p = &c->post[c->n_post++];
                p->kind = NN_POST_ADD;
                p->value = other;
            } else {
                break;
            }
            c->out = u->out;
            m->values[u->out].producer = ci;
            m->nodes[cons[0]].dead = true;
            last = cons[0] > last ? cons[0] : last;
            continue;
        }
        if (nc == 2) {
            int chain[4], n_chain = 0, end_v = -1;
            enum itx_nn_unary_op uop;
            float alpha = 0.0f;
            if (match_hardswish(m, v, cons, chain, &end_v)) {
                n_chain = 4;
                uop = ITX_NN_HARD_SWISH;
            } else if ((n_chain = match_swish(m, v, cons, chain, &end_v, &alpha)) > 0) {
                uop = ITX_NN_SWISH;
            } else {
                break;
            }
            struct itx_nn_post *p = &c->post[c->n_post++];
            p->kind = NN_POST_UNARY;
            p->unary = uop;
            p->alpha = alpha;
            p->beta = 0.0f;
            c->out = end_v;
            m->values[end_v].producer = ci;
            for (int i = 0; i < n_chain; i++) {
                m->nodes[chain[i]].dead = true;
                last = chain[i] > last ? chain[i] : last;
            }
            continue;
        }
        break;
    }
    return last;
}

/* Moves node `from` into the slot `to` (a dead node's) and marks `from` dead. */
static void
move_node(struct itx_nn_model *m, int from, int to)
{
    struct itx_nn_node tmp = m->nodes[to];
    m->nodes[to] = m->nodes[from];
    m->nodes[from] = tmp;
    m->nodes[from].dead = true;
    m->values[m->nodes[to].out].producer = to;
}

/*
 * A ConvTranspose whose stride equals its kernel, without padding, dilation or groups,
 * writes disjoint k x k patches: it is a 1x1 Conv to k*k*M channels followed by a
 * DepthToSpace (DCR). oneDNN's 1x1 convolutions are far faster than its deconvolution, and
 * unary post ops commute with the shuffle. Node `i` becomes the Conv and a DepthToSpace is
 * inserted after it.
 */
static enum itx_status
rewrite_deconv(struct itx_nn_model *m, size_t i, struct itx_diag *d)
{
    struct itx_nn_node *n = &m->nodes[i];
    const struct itx_nn_conv_params *cp = &n->attr.conv;
    struct itx_nn_value *w = &m->values[n->in[1]];
    int64_t k = w->shape[2], C = w->shape[0], M = w->shape[1], shape[4];
    int nw, nb = -1, mid, out = n->out;
    char name[160];

    if (cp->group != 1 || w->rank != 4 || w->shape[3] != k || cp->stride[0] != k ||
        cp->stride[1] != k || cp->dilation[0] != 1 || cp->dilation[1] != 1 || cp->pad[0] ||
        cp->pad[1] || cp->pad[2] || cp->pad[3] || cp->output_padding[0] || cp->output_padding[1])
        return ITX_OK;
    for (int q = 0; q < n->n_post; q++)
        if (n->post[q].kind != NN_POST_UNARY)
            return ITX_OK;
    if (m->n_nodes == m->cap_nodes) {
        struct itx_nn_node *nn = itx_realloc_array(m->nodes, m->cap_nodes * 2, sizeof(*nn));
        if (!nn)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
        m->nodes = nn;
        m->cap_nodes *= 2;
        n = &m->nodes[i];
    }
    snprintf(name, sizeof(name), "%s.as_conv", m->values[out].name);
    shape[0] = k * k * M;
    shape[1] = C;
    shape[2] = shape[3] = 1;
    if ((nw = itx_nn_model_add_value(m, name, strlen(name))) < 0 ||
        itx_nn_value_alloc(m, nw, ITX_NN_F32, 4, shape, d))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
    w = &m->values[n->in[1]];
    {
        const float *src = w->data;
        float *dst = m->values[nw].data;
        for (int64_t c = 0; c < C; c++)
            for (int64_t mm = 0; mm < M; mm++)
                for (int64_t a = 0; a < k; a++)
                    for (int64_t b = 0; b < k; b++)
                        dst[((a * k + b) * M + mm) * C + c] = src[((c * M + mm) * k + a) * k + b];
    }
    m->values[nw].flags |= NN_VAL_CONST;
    if (n->n_in > 2 && n->in[2] >= 0) {
        int64_t bn = k * k * M;
        if ((nb = itx_nn_model_add_value(m, name, strlen(name))) < 0 ||
            itx_nn_value_alloc(m, nb, ITX_NN_F32, 1, &bn, d))
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
        const float *src = m->values[n->in[2]].data;
        float *dst = m->values[nb].data;
        for (int64_t q = 0; q < bn; q++)
            dst[q] = src[q % M];
        m->values[nb].flags |= NN_VAL_CONST;
    }
    snprintf(name, sizeof(name), "%s.before_shuffle", m->values[out].name);
    if ((mid = itx_nn_model_add_value(m, name, strlen(name))) < 0)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
    /* make room for the DepthToSpace right after node i */
    memmove(&m->nodes[i + 2], &m->nodes[i + 1], (m->n_nodes - i - 1) * sizeof(*m->nodes));
    m->n_nodes++;
    n = &m->nodes[i];
    struct itx_nn_node *s2 = &m->nodes[i + 1];
    memset(s2, 0, sizeof(*s2));
    s2->op = NN_OP_DEPTH_TO_SPACE;
    s2->attr.block = k;
    s2->name = itx_strdup(n->name);
    s2->in = itx_calloc(1, sizeof(int));
    if (!s2->name || !s2->in)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
    s2->n_in = 1;
    s2->in[0] = mid;
    s2->out = out;
    n->op = NN_OP_CONV;
    memset(&n->attr.conv, 0, sizeof(n->attr.conv));
    n->attr.conv.stride[0] = n->attr.conv.stride[1] = 1;
    n->attr.conv.dilation[0] = n->attr.conv.dilation[1] = 1;
    n->attr.conv.group = 1;
    n->attr.conv.kernel[0] = n->attr.conv.kernel[1] = 1;
    n->in[1] = nw;
    if (nb >= 0)
        n->in[2] = nb;
    n->out = mid;
    for (size_t j = 0; j < m->n_values; j++)
        m->values[j].producer = -1;
    for (size_t j = 0; j < m->n_nodes; j++)
        if (!m->nodes[j].dead)
            m->values[m->nodes[j].out].producer = (int)j;
    return ITX_OK;
}

/*
 * The residual squeeze-and-excitation of the detection neck, y = x + x*s with s a per-channel
 * gate computed by a convolution, becomes y = x*(s+1): the +1 is one more post op of the
 * convolution that computes s, and one pass over the large tensor x disappears.
 */
static void
fuse_se_residual(struct itx_nn_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        struct itx_nn_node *b = &m->nodes[i];
        if (b->dead || b->op != NN_OP_ADD || b->n_in != 2 || b->n_post)
            continue;
        for (int side = 0; side < 2; side++) {
            int x = b->in[side], a = b->in[1 - side];
            if (a < 0 || x < 0 || is_const(m, a) || (m->values[a].flags & NN_VAL_OUTPUT))
                continue;
            int ai = m->values[a].producer;
            if (ai < 0 || only_consumer(m, a, (size_t)ai + 1) != (int)i)
                continue;
            struct itx_nn_node *mu = &m->nodes[ai];
            if (mu->dead || mu->op != NN_OP_MUL || mu->n_in != 2 || mu->n_post)
                continue;
            int sv = mu->in[0] == x ? mu->in[1] : (mu->in[1] == x ? mu->in[0] : -1);
            if (sv < 0 || sv == x || is_const(m, sv) || (m->values[sv].flags & NN_VAL_OUTPUT))
                continue;
            int pi = m->values[sv].producer;
            if (pi < 0 || only_consumer(m, sv, (size_t)pi + 1) != ai)
                continue;
            struct itx_nn_node *pn = &m->nodes[pi];
            if (pn->dead || (pn->op != NN_OP_CONV && pn->op != NN_OP_CONV_T) ||
                pn->n_post >= NN_MAX_POST || pn->n_post == 0)
                continue;
            struct itx_nn_post *q = &pn->post[pn->n_post - 1];
            if (q->kind == NN_POST_UNARY && q->unary == ITX_NN_LINEAR) {
                q->beta += 1.0f;
            } else {
                q = &pn->post[pn->n_post++];
                q->kind = NN_POST_UNARY;
                q->unary = ITX_NN_LINEAR;
                q->alpha = 1.0f;
                q->beta = 1.0f;
            }
            b->op = NN_OP_MUL;
            b->in[0] = x;
            b->in[1] = sv;
            mu->dead = true;
            break;
        }
    }
}

enum itx_status
itx_nn_graph_optimize(struct itx_nn_model *m, struct itx_diag *d)
{
    enum itx_status s;

    if ((s = normalise(m, d)) || (s = fold_constants(m, d)))
        return s;
    count_uses(m);
    for (size_t i = 0; i < m->n_nodes; i++) {
        struct itx_nn_node *n = &m->nodes[i];
        bool oom = false;
        int last;
        if (n->dead || (n->op != NN_OP_CONV && n->op != NN_OP_CONV_T && n->op != NN_OP_MATMUL))
            continue;
        if (n->op == NN_OP_MATMUL && !is_const(m, n->in[1]))
            continue;
        last = fuse_after(m, (int)i, &oom);
        if (oom)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory optimising '%s'", m->name);
        if (last > (int)i)
            move_node(m, (int)i, last);
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        if (!m->nodes[i].dead && m->nodes[i].op == NN_OP_CONV_T && (s = rewrite_deconv(m, i, d)))
            return s;
    fuse_se_residual(m);
    /* Dead-code elimination, last to first. */
    count_uses(m);
    for (size_t i = m->n_nodes; i-- > 0;) {
        struct itx_nn_node *n = &m->nodes[i];
        if (n->dead || m->values[n->out].n_uses > 0)
            continue;
        n->dead = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                m->values[n->in[k]].n_uses--;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].kind == NN_POST_ADD)
                m->values[n->post[k].value].n_uses--;
    }
    for (int i = 0; i < m->n_outputs; i++)
        if (m->values[m->outputs[i]].producer < 0 && !is_const(m, m->outputs[i]))
            return itx_diag_set(d, ITX_ERR_MODEL, "model '%s': output '%s' is never computed",
                                m->name, m->values[m->outputs[i]].name);
    return ITX_OK;
}
