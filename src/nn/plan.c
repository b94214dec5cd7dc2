/*
 * Plans and the executor. A plan is built once per (session, input shape):
 *   1. shapes are inferred node by node; nodes whose inputs are all known (constants,
 *      Shape of a known shape, ...) are evaluated right away with the reference kernels,
 *      which folds the recognition model's Shape/Cast/Slice/Concat chains;
 *   2. every remaining node becomes a step. With the oneDNN backend, 4-D activations from
 *      convolutions onwards are kept in oneDNN's blocked nChw8c (AVX2) or nChw16c (AVX-512)
 *      layout, channels padded to the block; element-wise, channel-broadcast, global pooling,
 * nearest resize and channel concat steps work on that layout directly, and reorder steps convert
 * at the boundaries with plain-layout operators;
 *   3. lifetimes are computed and every activation gets an offset in one arena (greedy
 *      first fit), so running a plan allocates nothing;
 *   4. oneDNN primitives, their weights (reordered once) and memory objects are created.
 */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "core/alloc.h"
#include "core/util.h"
#include "nn/nn-impl.h"

enum { LAYOUT_PLAIN = 0, LAYOUT_BLK = 1 };

/*
 * Channel block of the blocked layout: 16 (nChw16c) where oneDNN runs AVX-512 kernels, 8
 * (nChw8c) on AVX2 machines. Chosen once per process when the first session is created
 * (ITX_NN_BLOCK=8|16 overrides it, for tests); read-only afterwards.
 */
#define BLK_MAX 16
static int64_t blk_value = 8;
static pthread_once_t blk_once = PTHREAD_ONCE_INIT;

static void
blk_init(void)
{
    const char *e = getenv("ITX_NN_BLOCK");
    if (e && (strcmp(e, "8") == 0 || strcmp(e, "16") == 0))
        blk_value = atoi(e);
    else
        blk_value = dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core ? 16 : 8;
}

#define BLK blk_value

struct pval {
    struct itx_nn_tinfo t;
    int layout;
    size_t bytes;
    int64_t off; /* arena offset, -1 when not in the arena */
    void *own;   /* plan-owned data (folded values, reordered weights) */
    bool known;  /* data known at plan time */
    int first, last;
    int plain_copy, blk_copy; /* derived pvals, -1 when none */
    int alias;                /* computed in place: the pval whose memory it takes, or -1 */
    dnnl_memory_t mem;
};

enum step_kind {
    ST_REF,
    ST_CONV,    /* Conv / ConvTranspose through oneDNN */
    ST_MATMUL,  /* MatMul with constant B through oneDNN */
    ST_REORDER, /* plain <-> blocked */
    ST_UNARY,   /* element-wise over the whole buffer */
    ST_BINARY,  /* full (+ scalar or channel vector) operands, any layout */
    ST_GAP_BLK,
    ST_RESIZE_BLK,
    ST_CONCAT_BLK,
    ST_D2S_BLK,
};

enum operand_kind { OPK_FULL, OPK_SCALAR, OPK_CHAN };

struct step {
    enum step_kind kind;
    int node;
    int out;
    int n_in;
    int in[64];
    /* ST_BINARY */
    enum itx_nn_binary_op bop;
    enum operand_kind opk[2];
    int64_t chan_stride_n[2]; /* CHAN: stride between batch entries (0 = broadcast) */
    /* ST_UNARY */
    enum itx_nn_unary_op uop;
    float alpha, beta;
    /* ST_RESIZE_BLK */
    int64_t *map_h, *map_w;
    /* oneDNN */
    dnnl_primitive_t prim;
    int post_first; /* ST_CONV/ST_MATMUL: first post op oneDNN did not fuse (run after) */
    int n_args;
    dnnl_exec_arg_t args[12];
    dnnl_memory_t wmem, bmem;
    int n_extra_mem;
    dnnl_memory_t extra_mem[4];
};

struct plan {
    int64_t in_shape[ITX_NN_MAX_DIMS];
    int in_rank;
    struct pval *pv;
    int n_pv, cap_pv;
    struct step *steps;
    int n_steps, cap_steps;
    uint8_t *arena;
    size_t arena_size;
    void *scratch;
    size_t scratch_size;
    dnnl_memory_t scratch_mem;
    int *out_pv; /* per graph output */
    uint64_t last_used;
};

/* A convolution's weights in the layout one primitive wants, shared by the plans of every
 * session of the model (plans for other input shapes usually pick the same layout). */
struct wentry {
    int node;
    dnnl_memory_desc_t md;
    void *data;
};

struct itx_nn_wcache {
    struct wentry *e;
    int n, cap;
};

void
itx_nn_wcache_free(struct itx_nn_wcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        itx_free_aligned(c->e[i].data);
    itx_free(c->e);
    itx_free(c);
}

/*
 * Activation memory: one arena for all plans of a session (a session runs one plan at a
 * time), and for all sessions that share it (they run one at a time too). It only grows;
 * plans built against an older buffer are rebased before they run.
 */
struct itx_nn_arena {
    atomic_int refs;
    uint8_t *data;
    size_t cap;
};

struct itx_nn_session {
    struct itx_nn_model *m;
    struct itx_nn_arena *arena;
    struct itx_nn_session_opts o;
    struct plan **plans;
    int n_plans;
    struct plan *cur;
    struct plan *ready; /* the plan of the last itx_nn_session_prepare, until the next run */
    uint64_t clock;
    bool profile; /* ITX_NN_PROFILE=1: time per step kind, printed when the session ends */
    double prof_ms[16];
    int prof_n[16];
    bool trace;  /* ITX_NN_TRACE=1: print a checksum of every step's output (debugging) */
    int memstat; /* ITX_NN_MEMSTAT=1|2: print the memory of every new plan (2: and its peak) */
    dnnl_engine_t eng;
    dnnl_stream_t stream;
};

/* ---- helpers ------------------------------------------------------------------------- */

static int64_t
padb(int64_t c)
{
    return (c + BLK - 1) / BLK * BLK;
}

static size_t
pval_bytes(const struct itx_nn_tinfo *t, int layout)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (layout == LAYOUT_BLK && i == 1) ? padb(t->shape[i]) : t->shape[i];
    return (size_t)n * itx_nn_dtype_size(t->dtype);
}

static enum itx_status
nomem(struct itx_diag *d)
{
    return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory planning an inference");
}

static enum itx_status
dnnl_fail(struct itx_diag *d, const char *what, dnnl_status_t st, const char *node)
{
    return itx_diag_set(d, ITX_ERR_INTERNAL, "oneDNN %s failed (status %d) at node '%s'", what,
                        (int)st, node);
}

static int
new_pval(struct plan *p)
{
    if (p->n_pv == p->cap_pv) {
        int cap = p->cap_pv ? p->cap_pv * 2 : 256;
        struct pval *n = itx_realloc_array(p->pv, (size_t)cap, sizeof(*n));
        if (!n)
            return -1;
        p->pv = n;
        p->cap_pv = cap;
    }
    memset(&p->pv[p->n_pv], 0, sizeof(struct pval));
    p->pv[p->n_pv].off = -1;
    p->pv[p->n_pv].plain_copy = p->pv[p->n_pv].blk_copy = -1;
    p->pv[p->n_pv].first = p->pv[p->n_pv].last = -1;
    p->pv[p->n_pv].alias = -1;
    return p->n_pv++;
}

static struct step *
new_step(struct plan *p, enum step_kind kind, int node, int out)
{
    if (p->n_steps == p->cap_steps) {
        int cap = p->cap_steps ? p->cap_steps * 2 : 256;
        struct step *n = itx_realloc_array(p->steps, (size_t)cap, sizeof(*n));
        if (!n)
            return NULL;
        p->steps = n;
        p->cap_steps = cap;
    }
    struct step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->node = node;
    s->out = out;
    return s;
}

/* Returns the pval holding value v in the wanted layout, adding a reorder step if needed. */
static int
in_layout(struct plan *p, int v, int layout)
{
    struct pval *x = &p->pv[v];
    int *slot;
    if (x->layout == layout || x->t.rank != 4 || x->t.dtype != ITX_NN_F32)
        return v;
    slot = layout == LAYOUT_PLAIN ? &x->plain_copy : &x->blk_copy;
    if (*slot >= 0)
        return *slot;
    int c = new_pval(p);
    if (c < 0)
        return -1;
    x = &p->pv[v];
    p->pv[c].t = x->t;
    p->pv[c].t.data = NULL;
    p->pv[c].layout = layout;
    p->pv[c].bytes = pval_bytes(&x->t, layout);
    struct step *s = new_step(p, ST_REORDER, -1, c);
    if (!s)
        return -1;
    s->n_in = 1;
    s->in[0] = v;
    p->pv[v].plain_copy = layout == LAYOUT_PLAIN ? c : p->pv[v].plain_copy;
    p->pv[v].blk_copy = layout == LAYOUT_BLK ? c : p->pv[v].blk_copy;
    return c;
}

static enum operand_kind
classify(const struct itx_nn_tinfo *o, const struct itx_nn_tinfo *t, bool *ok)
{
    int64_t n = itx_nn_shape_numel(t->shape, t->rank);
    *ok = true;
    if (t->rank == o->rank && memcmp(t->shape, o->shape, sizeof(int64_t) * (size_t)o->rank) == 0)
        return OPK_FULL;
    if (n == 1)
        return OPK_SCALAR;
    if (o->rank == 4 && n == o->shape[1] &&
        ((t->rank == 3 && t->shape[0] == o->shape[1]) ||
         (t->rank == 4 && t->shape[0] == 1 && t->shape[1] == o->shape[1])))
        return OPK_CHAN;
    if (o->rank == 4 && t->rank == 4 && t->shape[0] == o->shape[0] && t->shape[1] == o->shape[1] &&
        t->shape[2] == 1 && t->shape[3] == 1)
        return OPK_CHAN;
    *ok = false;
    return OPK_FULL;
}

/* ---- plan building -------------------------------------------------------------------- */

static enum itx_status
plan_node(struct itx_nn_session *ss, struct plan *p, int ni, struct itx_diag *d)
{
    const struct itx_nn_model *m = ss->m;
    const struct itx_nn_node *n = &m->nodes[ni];
    struct itx_nn_tinfo in[64], out;
    bool all_known = n->n_in > 0;
    bool dnnl = ss->o.backend == ITX_NN_BACKEND_DNNL;
    enum itx_status s;
    int o = n->out;

    if (n->n_in > 64)
        return itx_diag_set(d, ITX_ERR_MODEL, "model '%s': node '%s' has too many inputs", m->name,
                            n->name);
    for (int k = 0; k < n->n_in; k++) {
        memset(&in[k], 0, sizeof(in[k]));
        if (n->in[k] < 0)
            continue;
        in[k] = p->pv[n->in[k]].t;
        if (!p->pv[n->in[k]].known)
            all_known = false;
    }
    for (int k = 0; k < n->n_post; k++)
        if (n->post[k].kind == NN_POST_ADD && !p->pv[n->post[k].value].known)
            all_known = false;
    if ((s = itx_nn_infer_node(m, n, in, &out, d)))
        return s;
    {
        size_t elems = (size_t)itx_nn_shape_numel(out.shape, out.rank);
        if (elems > m->lim.max_tensor_elems)
            return itx_diag_set(
                d, ITX_ERR_TOO_LARGE,
                "model '%s': node '%s': output has %zu elements, over the %zu limit", m->name,
                n->name, elems, m->lim.max_tensor_elems);
    }
    p->pv[o].t = out;
    p->pv[o].t.data = NULL;
    p->pv[o].layout = LAYOUT_PLAIN;

    if (all_known || n->op == NN_OP_SHAPE) {
        void *post[NN_MAX_POST] = {0};
        size_t bytes = pval_bytes(&out, LAYOUT_PLAIN);
        p->pv[o].own = itx_malloc_aligned(bytes ? bytes : 1);
        if (!p->pv[o].own)
            return nomem(d);
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].kind == NN_POST_ADD)
                post[k] = (void *)p->pv[n->post[k].value].t.data;
        itx_nn_eval_ref(n, in, &out, p->pv[o].own, post);
        p->pv[o].known = true;
        p->pv[o].t.data = p->pv[o].own;
        p->pv[o].bytes = bytes;
        return ITX_OK;
    }

    struct step *st = NULL;
    bool is4 = out.rank == 4 && out.dtype == ITX_NN_F32;
    if (dnnl && (n->op == NN_OP_CONV || n->op == NN_OP_CONV_T) && is4 &&
        !(n->op == NN_OP_CONV_T &&
          (n->attr.conv.output_padding[0] || n->attr.conv.output_padding[1]))) {
        int adds[NN_MAX_POST], n_adds = 0;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].kind == NN_POST_ADD &&
                (adds[n_adds++] = in_layout(p, n->post[k].value, LAYOUT_BLK)) < 0)
                return nomem(d);
        /* oneDNN's fast kernels read plain NCHW only for the first layer (few channels). */
        int x = in[0].shape[1] > 4 ? in_layout(p, n->in[0], LAYOUT_BLK) : n->in[0];
        if (x < 0)
            return nomem(d);
        p->pv[o].layout = LAYOUT_BLK;
        if (!(st = new_step(p, ST_CONV, ni, o)))
            return nomem(d);
        st->n_in = 1 + n_adds;
        st->in[0] = x;
        memcpy(st->in + 1, adds, sizeof(int) * (size_t)n_adds);
    } else if (dnnl && n->op == NN_OP_MATMUL && n->in[1] >= 0 && p->pv[n->in[1]].known &&
               in[1].rank == 2 && in[0].rank >= 2) {
        int x = in_layout(p, n->in[0], LAYOUT_PLAIN);
        if (x < 0 || !(st = new_step(p, ST_MATMUL, ni, o)))
            return nomem(d);
        st->n_in = 1;
        st->in[0] = x;
    } else if (dnnl && n->op == NN_OP_UNARY && in[0].dtype == ITX_NN_F32 && n->n_post == 0) {
        p->pv[o].layout = p->pv[n->in[0]].layout;
        if (!(st = new_step(p, ST_UNARY, ni, o)))
            return nomem(d);
        st->n_in = 1;
        st->in[0] = n->in[0];
        st->uop = n->attr.unary;
        st->alpha = n->attr.alpha;
        st->beta = n->attr.beta;
    } else if (dnnl && n->op >= NN_OP_ADD && n->op <= NN_OP_POW && is4 && n->n_post == 0 &&
               in[0].dtype == ITX_NN_F32) {
        bool ok0, ok1;
        enum operand_kind k0 = classify(&out, &in[0], &ok0), k1 = classify(&out, &in[1], &ok1);
        if (!ok0 || !ok1 || (k0 != OPK_FULL && k1 != OPK_FULL))
            goto ref;
        int lay = LAYOUT_PLAIN;
        if ((k0 == OPK_FULL && p->pv[n->in[0]].layout == LAYOUT_BLK) ||
            (k1 == OPK_FULL && p->pv[n->in[1]].layout == LAYOUT_BLK))
            lay = LAYOUT_BLK;
        int a = k0 == OPK_FULL ? in_layout(p, n->in[0], lay) : n->in[0];
        int b = k1 == OPK_FULL ? in_layout(p, n->in[1], lay) : n->in[1];
        if (a < 0 || b < 0 || !(st = new_step(p, ST_BINARY, ni, o)))
            return nomem(d);
        p->pv[o].layout = lay;
        static const enum itx_nn_binary_op map[] = {[NN_OP_ADD] = ITX_NN_ADD,
                                                    [NN_OP_SUB] = ITX_NN_SUB,
                                                    [NN_OP_MUL] = ITX_NN_MUL,
                                                    [NN_OP_DIV] = ITX_NN_DIV,
                                                    [NN_OP_POW] = ITX_NN_POW};
        st->bop = map[n->op];
        st->n_in = 2;
        st->in[0] = a;
        st->in[1] = b;
        st->opk[0] = k0;
        st->opk[1] = k1;
        for (int k = 0; k < 2; k++) {
            const struct pval *pv = &p->pv[st->in[k]];
            if (st->opk[k] != OPK_CHAN)
                continue;
            if (pv->t.rank == 4 && pv->t.shape[0] == out.shape[0] && out.shape[0] > 1)
                st->chan_stride_n[k] = pv->layout == LAYOUT_BLK ? padb(out.shape[1]) : out.shape[1];
        }
    } else if (dnnl && n->op == NN_OP_GAP && p->pv[n->in[0]].layout == LAYOUT_BLK) {
        p->pv[o].layout = LAYOUT_BLK;
        if (!(st = new_step(p, ST_GAP_BLK, ni, o)))
            return nomem(d);
        st->n_in = 1;
        st->in[0] = n->in[0];
    } else if (dnnl && n->op == NN_OP_RESIZE && !n->attr.resize_linear &&
               p->pv[n->in[0]].layout == LAYOUT_BLK) {
        p->pv[o].layout = LAYOUT_BLK;
        if (!(st = new_step(p, ST_RESIZE_BLK, ni, o)))
            return nomem(d);
        st->n_in = 1;
        st->in[0] = n->in[0];
    } else if (dnnl && n->op == NN_OP_DEPTH_TO_SPACE && p->pv[n->in[0]].layout == LAYOUT_BLK) {
        /* Fewer channels than a block (the detector's 1-channel map at full resolution) are
         * written plain: blocked, that map would be 16 times its size (56 of the 70 MiB
         * of activations at 960x960) and need a reorder after. */
        p->pv[o].layout = out.shape[1] < BLK ? LAYOUT_PLAIN : LAYOUT_BLK;
        if (!(st = new_step(p, ST_D2S_BLK, ni, o)))
            return nomem(d);
        st->n_in = 1;
        st->in[0] = n->in[0];
    } else if (dnnl && n->op == NN_OP_CONCAT && is4 && (n->attr.axis == 1 || n->attr.axis == -3)) {
        bool all8 = true, anyblk = false;
        for (int k = 0; k < n->n_in; k++) {
            all8 = all8 && in[k].shape[1] % BLK == 0; /* whole blocks */
            anyblk = anyblk || p->pv[n->in[k]].layout == LAYOUT_BLK;
        }
        if (!all8 || !anyblk)
            goto ref;
        p->pv[o].layout = LAYOUT_BLK;
        int tmp[64];
        for (int k = 0; k < n->n_in; k++)
            if ((tmp[k] = in_layout(p, n->in[k], LAYOUT_BLK)) < 0)
                return nomem(d);
        if (!(st = new_step(p, ST_CONCAT_BLK, ni, o)))
            return nomem(d);
        st->n_in = n->n_in;
        memcpy(st->in, tmp, sizeof(int) * (size_t)n->n_in);
    } else {
    ref:;
        int tmp[64];
        for (int k = 0; k < n->n_in; k++) {
            tmp[k] = n->in[k] < 0 ? -1 : in_layout(p, n->in[k], LAYOUT_PLAIN);
            if (n->in[k] >= 0 && tmp[k] < 0)
                return nomem(d);
        }
        int posts[NN_MAX_POST];
        for (int k = 0; k < n->n_post; k++) {
            posts[k] = -1;
            if (n->post[k].kind == NN_POST_ADD &&
                (posts[k] = in_layout(p, n->post[k].value, LAYOUT_PLAIN)) < 0)
                return nomem(d);
        }
        p->pv[o].layout = LAYOUT_PLAIN;
        if (!(st = new_step(p, ST_REF, ni, o)))
            return nomem(d);
        st->n_in = n->n_in;
        memcpy(st->in, tmp, sizeof(int) * (size_t)n->n_in);
        for (int k = 0; k < n->n_post; k++)
            if (posts[k] >= 0)
                st->in[st->n_in++] = posts[k];
    }
    p->pv[o].bytes = pval_bytes(&out, p->pv[o].layout);
    return ITX_OK;
}

/* ---- oneDNN primitives -------------------------------------------------------------- */

static void
md_of(const struct pval *v, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims;
    for (int i = 0; i < v->t.rank; i++)
        dims[i] = v->t.shape[i];
    if (v->t.rank == 4)
        dnnl_memory_desc_init_by_tag(
            md, 4, dims, dnnl_f32,
            v->layout == LAYOUT_BLK ? (BLK == 16 ? dnnl_nChw16c : dnnl_nChw8c) : dnnl_nchw);
    else
        dnnl_memory_desc_init_by_tag(md, v->t.rank, dims, dnnl_f32,
                                     v->t.rank == 1 ? dnnl_a
                                                    : (v->t.rank == 2 ? dnnl_ab : dnnl_abc));
}

static dnnl_status_t
mem_of(struct itx_nn_session *ss, struct plan *p, int v)
{
    struct pval *x = &p->pv[v];
    dnnl_memory_desc_t md;
    if (x->mem)
        return dnnl_success;
    md_of(x, &md);
    return dnnl_memory_create(&x->mem, &md, ss->eng,
                              x->off >= 0 ? (void *)(p->arena + x->off)
                                          : (void *)(uintptr_t)x->t.data);
}

static void
add_arg(struct step *st, int arg, dnnl_memory_t mem)
{
    st->args[st->n_args].arg = arg;
    st->args[st->n_args].memory = mem;
    st->n_args++;
}

/* Appends the node's post ops from index k0 to po; returns the index of the first post op
 * that could not be expressed, n_post when all could. oneDNN 2.6's AVX2 kernels computed
 * wrong results with three or more eltwise post ops in one chain (seen with hardswish +
 * linear + linear and linear + clip + linear), so a chain stops at two eltwise entries. */
#define MAX_ELTWISE_POSTS 2
static int
append_posts(const struct itx_nn_node *n, int k0, dnnl_post_ops_t po, const struct plan *p,
             const struct step *st, int *n_po, int *bin_po_index)
{
    int add = 0, eltwise = 0;
    for (int k = k0; k < n->n_post; k++) {
        const struct itx_nn_post *q = &n->post[k];
        dnnl_status_t r = dnnl_success;
        if (q->kind == NN_POST_UNARY &&
            eltwise + (q->unary == ITX_NN_HARD_SIGMOID ? 2 : 1) > MAX_ELTWISE_POSTS)
            return k;
        if (q->kind == NN_POST_UNARY)
            eltwise += q->unary == ITX_NN_HARD_SIGMOID ? 2 : 1;
        if (q->kind == NN_POST_ADD) {
            dnnl_memory_desc_t md;
            md_of(&p->pv[st->in[1 + add]], &md);
            r = dnnl_post_ops_append_binary(po, dnnl_binary_add, &md);
            bin_po_index[add++] = *n_po;
            (*n_po)++;
        } else {
            switch (q->unary) {
            case ITX_NN_RELU:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
                break;
            case ITX_NN_SIGMOID:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_logistic, 0.0f, 0.0f);
                break;
            case ITX_NN_CLIP:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip_v2, q->alpha, q->beta);
                break;
            case ITX_NN_LINEAR:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, q->alpha, q->beta);
                break;
            case ITX_NN_HARD_SWISH:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_hardswish, 0.0f, 0.0f);
                break;
            case ITX_NN_SWISH:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, q->alpha, 0.0f);
                break;
            case ITX_NN_SQRT:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_sqrt, 0.0f, 0.0f);
                break;
            case ITX_NN_HARD_SIGMOID:
                r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, q->alpha, q->beta);
                if (r == dnnl_success) {
                    (*n_po)++;
                    r = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip_v2, 0.0f, 1.0f);
                }
                break;
            default:
                return k;
            }
            (*n_po)++;
        }
        if (r != dnnl_success)
            return k;
    }
    return n->n_post;
}

static enum itx_status
reorder_into(struct itx_nn_session *ss, const dnnl_memory_desc_t *src_md, void *src,
             const dnnl_memory_desc_t *dst_md, void *dst, const char *node, struct itx_diag *d)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_status_t r;
    enum itx_status s = ITX_OK;

    if ((r = dnnl_reorder_primitive_desc_create(&pd, src_md, ss->eng, dst_md, ss->eng, NULL)) ||
        (r = dnnl_primitive_create(&prim, pd)) ||
        (r = dnnl_memory_create(&ms, src_md, ss->eng, src)) ||
        (r = dnnl_memory_create(&md, dst_md, ss->eng, dst))) {
        s = dnnl_fail(d, "reorder", r, node);
    } else {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        if ((r = dnnl_primitive_execute(prim, ss->stream, 2, args)) ||
            (r = dnnl_stream_wait(ss->stream)))
            s = dnnl_fail(d, "reorder", r, node);
    }
    dnnl_memory_destroy(ms);
    dnnl_memory_destroy(md);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/*
 * The weights of node for a primitive that wants them as wmd: from the model's cache, or
 * reordered from the model's constant once and added to it. Sessions of one model plan in
 * parallel (a server warms its workers at once), so the cache is locked meanwhile.
 */
static enum itx_status
shared_weights(struct itx_nn_session *ss, int node, const dnnl_memory_desc_t *w_user, const void *w,
               const dnnl_memory_desc_t *wmd, void **out, struct itx_diag *d)
{
    struct itx_nn_model *m = ss->m;
    struct itx_nn_wcache *c;
    size_t wsize = dnnl_memory_desc_get_size(wmd);
    void *wdata = NULL;
    enum itx_status s = ITX_OK;

    pthread_mutex_lock(&m->wmu);
    if (!m->wcache && !(m->wcache = itx_calloc(1, sizeof(*m->wcache)))) {
        s = nomem(d);
        goto out;
    }
    c = m->wcache;
    for (int k = 0; k < c->n && !wdata; k++)
        if (c->e[k].node == node && dnnl_memory_desc_equal(&c->e[k].md, wmd))
            wdata = c->e[k].data;
    if (wdata)
        goto out;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 64;
        struct wentry *nw = itx_realloc_array(c->e, (size_t)cap, sizeof(*nw));
        if (!nw) {
            s = nomem(d);
            goto out;
        }
        c->e = nw;
        c->cap = cap;
    }
    wdata = itx_malloc_aligned(wsize ? wsize : 64);
    if (!wdata) {
        s = nomem(d);
        goto out;
    }
    if ((s = reorder_into(ss, w_user, (void *)(uintptr_t)w, wmd, wdata, m->nodes[node].name, d))) {
        itx_free_aligned(wdata);
        wdata = NULL;
        goto out;
    }
    c->e[c->n++] = (struct wentry){node, *wmd, wdata};
out:
    pthread_mutex_unlock(&m->wmu);
    if (!s)
        *out = wdata;
    return s;
}

static enum itx_status
make_conv(struct itx_nn_session *ss, struct plan *p, struct step *st, struct itx_diag *d)
{
    const struct itx_nn_model *m = ss->m;
    const struct itx_nn_node *n = &m->nodes[st->node];
    const struct itx_nn_value *w = &m->values[n->in[1]];
    const struct itx_nn_conv_params *cp = &n->attr.conv;
    bool has_bias = n->n_in > 2 && n->in[2] >= 0;
    bool deconv = n->op == NN_OP_CONV_T;
    int64_t g = cp->group;
    dnnl_memory_desc_t src_md, dst_md, w_any, b_md, w_user;
    dnnl_dims_t strides = {cp->stride[0], cp->stride[1]};
    dnnl_dims_t dil = {cp->dilation[0] - 1, cp->dilation[1] - 1};
    dnnl_dims_t pl = {cp->pad[0], cp->pad[1]}, pr = {cp->pad[2], cp->pad[3]};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t r;
    enum itx_status s = ITX_OK;
    int bin_idx[NN_MAX_POST];

    md_of(&p->pv[st->in[0]], &src_md);
    md_of(&p->pv[st->out], &dst_md);
    {
        dnnl_dims_t wd;
        int wnd;
        int64_t oc = deconv ? w->shape[1] * g : w->shape[0];
        int64_t ic = deconv ? w->shape[0] : w->shape[1] * g;
        if (g == 1) {
            wnd = 4;
            wd[0] = oc;
            wd[1] = ic;
            wd[2] = w->shape[2];
            wd[3] = w->shape[3];
        } else {
            wnd = 5;
            wd[0] = g;
            wd[1] = oc / g;
            wd[2] = ic / g;
            wd[3] = w->shape[2];
            wd[4] = w->shape[3];
        }
        dnnl_memory_desc_init_by_tag(&w_any, wnd, wd, dnnl_f32, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&w_user, wnd, wd, dnnl_f32,
                                     deconv ? (g == 1 ? dnnl_iohw : dnnl_giohw)
                                            : (g == 1 ? dnnl_oihw : dnnl_goihw));
        dnnl_dims_t bd = {oc};
        dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        union {
            dnnl_convolution_desc_t c;
            dnnl_deconvolution_desc_t dc;
        } desc;
        int n_po = 0;
        dnnl_primitive_attr_destroy(attr);
        dnnl_post_ops_destroy(po);
        attr = NULL;
        po = NULL;
        if ((r = dnnl_primitive_attr_create(&attr)) || (r = dnnl_post_ops_create(&po)))
            return dnnl_fail(d, "attribute", r, n->name);
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
        st->post_first = attempt == 0 && !getenv("ITX_NN_NOFUSE")
                             ? append_posts(n, 0, po, p, st, &n_po, bin_idx)
                             : 0;
        if (attempt == 1 || st->post_first < n->n_post) {
            /* partial chains are not worth the complexity: run all post ops separately */
            dnnl_post_ops_destroy(po);
            dnnl_post_ops_create(&po);
            st->post_first = 0;
        }
        dnnl_primitive_attr_set_post_ops(attr, po);
        if (deconv)
            r = dnnl_dilated_deconvolution_forward_desc_init(
                &desc.dc, dnnl_forward_inference, dnnl_deconvolution_direct, &src_md, &w_any,
                has_bias ? &b_md : NULL, &dst_md, strides, dil, pl, pr);
        else
            r = dnnl_dilated_convolution_forward_desc_init(
                &desc.c, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_any,
                has_bias ? &b_md : NULL, &dst_md, strides, dil, pl, pr);
        if (r)
            return dnnl_fail(d, "convolution descriptor", r, n->name);
        r = dnnl_primitive_desc_create(&pd, &desc, attr, ss->eng, NULL);
        if (r == dnnl_success)
            break;
        pd = NULL;
        if (attempt == 1) {
            s = dnnl_fail(d, "convolution", r, n->name);
            goto out;
        }
    }
    {
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *smd =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t ssize = smd ? dnnl_memory_desc_get_size(smd) : 0;
        void *wdata = NULL;
        if ((s = shared_weights(ss, st->node, &w_user, w->data, wmd, &wdata, d)))
            goto out;
        if (ssize > p->scratch_size)
            p->scratch_size = ssize;
        if ((r = dnnl_primitive_create(&st->prim, pd)) ||
            (r = dnnl_memory_create(&st->wmem, wmd, ss->eng, wdata)) ||
            (has_bias &&
             (r = dnnl_memory_create(&st->bmem, &b_md, ss->eng, m->values[n->in[2]].data))) ||
            (r = mem_of(ss, p, st->in[0])) || (r = mem_of(ss, p, st->out))) {
            s = dnnl_fail(d, "convolution set-up", r, n->name);
            goto out;
        }
        add_arg(st, DNNL_ARG_SRC, p->pv[st->in[0]].mem);
        add_arg(st, DNNL_ARG_WEIGHTS, st->wmem);
        if (has_bias)
            add_arg(st, DNNL_ARG_BIAS, st->bmem);
        add_arg(st, DNNL_ARG_DST, p->pv[st->out].mem);
        if (st->post_first == n->n_post) {
            for (int k = 0; k < st->n_in - 1; k++) {
                if ((r = mem_of(ss, p, st->in[1 + k]))) {
                    s = dnnl_fail(d, "post-op memory", r, n->name);
                    goto out;
                }
                add_arg(st, DNNL_ARG_ATTR_MULTIPLE_POST_OP(bin_idx[k]) | DNNL_ARG_SRC_1,
                        p->pv[st->in[1 + k]].mem);
            }
        }
    }
out:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(po);
    return s;
}

static enum itx_status
make_matmul(struct itx_nn_session *ss, struct plan *p, struct step *st, struct itx_diag *d)
{
    const struct itx_nn_model *m = ss->m;
    const struct itx_nn_node *n = &m->nodes[st->node];
    const struct pval *a = &p->pv[st->in[0]], *b = &p->pv[n->in[1]];
    int64_t K = a->t.shape[a->t.rank - 1], N = b->t.shape[1];
    int64_t M = itx_nn_shape_numel(a->t.shape, a->t.rank) / K;
    dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N}, biasd = {1, N};
    dnnl_memory_desc_t amd, bmd, cmd, biasmd;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_memory_t am = NULL, cm = NULL;
    dnnl_status_t r;
    enum itx_status s = ITX_OK;
    bool has_bias = n->n_in > 2 && n->in[2] >= 0;
    int n_po = 0, bin[NN_MAX_POST];

    dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&biasmd, 2, biasd, dnnl_f32, dnnl_ab);
    if ((r = dnnl_primitive_attr_create(&attr)) || (r = dnnl_post_ops_create(&po)))
        return dnnl_fail(d, "attribute", r, n->name);
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    st->post_first = append_posts(n, 0, po, p, st, &n_po, bin);
    if (st->post_first < n->n_post) {
        dnnl_post_ops_destroy(po);
        dnnl_post_ops_create(&po);
        st->post_first = 0;
    }
    dnnl_primitive_attr_set_post_ops(attr, po);
    if ((r = dnnl_matmul_desc_init(&desc, &amd, &bmd, has_bias ? &biasmd : NULL, &cmd)) ||
        (r = dnnl_primitive_desc_create(&pd, &desc, attr, ss->eng, NULL)) ||
        (r = dnnl_primitive_create(&st->prim, pd))) {
        s = dnnl_fail(d, "matmul", r, n->name);
        goto out;
    }
    {
        const dnnl_memory_desc_t *smd =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t ssize = smd ? dnnl_memory_desc_get_size(smd) : 0;
        if (ssize > p->scratch_size)
            p->scratch_size = ssize;
    }
    if ((r = dnnl_memory_create(&am, &amd, ss->eng, p->arena + a->off)) ||
        (r = dnnl_memory_create(&cm, &cmd, ss->eng, p->arena + p->pv[st->out].off)) ||
        (r = dnnl_memory_create(&st->wmem, &bmd, ss->eng, (void *)(uintptr_t)b->t.data)) ||
        (has_bias &&
         (r = dnnl_memory_create(&st->bmem, &biasmd, ss->eng, m->values[n->in[2]].data)))) {
        s = dnnl_fail(d, "matmul memory", r, n->name);
        goto out;
    }
    st->extra_mem[st->n_extra_mem++] = am;
    st->extra_mem[st->n_extra_mem++] = cm;
    am = cm = NULL;
    add_arg(st, DNNL_ARG_SRC, st->extra_mem[0]);
    add_arg(st, DNNL_ARG_WEIGHTS, st->wmem);
    if (has_bias)
        add_arg(st, DNNL_ARG_BIAS, st->bmem);
    add_arg(st, DNNL_ARG_DST, st->extra_mem[1]);
out:
    dnnl_memory_destroy(am);
    dnnl_memory_destroy(cm);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(po);
    return s;
}

static enum itx_status
make_reorder(struct itx_nn_session *ss, struct plan *p, struct step *st, struct itx_diag *d)
{
    dnnl_memory_desc_t smd, dmd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t r;
    md_of(&p->pv[st->in[0]], &smd);
    md_of(&p->pv[st->out], &dmd);
    if ((r = dnnl_reorder_primitive_desc_create(&pd, &smd, ss->eng, &dmd, ss->eng, NULL)) ||
        (r = dnnl_primitive_create(&st->prim, pd)) || (r = mem_of(ss, p, st->in[0])) ||
        (r = mem_of(ss, p, st->out))) {
        dnnl_primitive_desc_destroy(pd);
        return dnnl_fail(d, "reorder", r, "layout change");
    }
    dnnl_primitive_desc_destroy(pd);
    add_arg(st, DNNL_ARG_FROM, p->pv[st->in[0]].mem);
    add_arg(st, DNNL_ARG_TO, p->pv[st->out].mem);
    return ITX_OK;
}

/* ---- own kernels (plain or blocked layouts) ------------------------------------------ */

static float *
ptr_of(const struct plan *p, int v)
{
    const struct pval *x = &p->pv[v];
    return x->off >= 0 ? (float *)(p->arena + x->off) : (float *)x->t.data;
}

static void
run_unary(enum itx_nn_unary_op op, float *x, int64_t n, float alpha, float beta, int nt)
{
    int64_t chunk = 1 << 14, nch = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t c = 0; c < nch; c++) {
        int64_t b = c * chunk, e = b + chunk < n ? b + chunk : n;
        itx_nn_ref_unary(op, x + b, e - b, alpha, beta, x + b);
    }
}

/* y = a op b over n elements, where a or b may repeat with period `per` (0 = full; n is a
 * multiple of the period). The operator is switched outside the loops so each loop
 * vectorises. */
#define BIN_LOOP(EXPR)                                                                             \
    do {                                                                                           \
        if (pa == 0 && pb == 0)                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float u = a[i], v = b[i];                                                          \
                y[i] = EXPR;                                                                       \
            }                                                                                      \
        else if (pb)                                                                               \
            for (int64_t i0 = 0; i0 < n; i0 += pb)                                                 \
                for (int64_t j = 0; j < pb; j++) {                                                 \
                    float u = a[i0 + j], v = b[j];                                                 \
                    y[i0 + j] = EXPR;                                                              \
                }                                                                                  \
        else                                                                                       \
            for (int64_t i0 = 0; i0 < n; i0 += pa)                                                 \
                for (int64_t j = 0; j < pa; j++) {                                                 \
                    float u = a[j], v = b[i0 + j];                                                 \
                    y[i0 + j] = EXPR;                                                              \
                }                                                                                  \
    } while (0)

static void
bin_span(enum itx_nn_binary_op op, const float *a, int64_t pa, const float *b, int64_t pb, float *y,
         int64_t n)
{
    switch (op) {
    case ITX_NN_ADD:
        BIN_LOOP(u + v);
        break;
    case ITX_NN_SUB:
        BIN_LOOP(u - v);
        break;
    case ITX_NN_MUL:
        BIN_LOOP(u * v);
        break;
    case ITX_NN_DIV:
        BIN_LOOP(u / v);
        break;
    default:
        BIN_LOOP(powf(u, v));
        break;
    }
}

static void
run_binary(const struct plan *p, const struct step *st, int nt)
{
    const struct pval *o = &p->pv[st->out];
    float *y = ptr_of(p, st->out);
    const float *src[2] = {ptr_of(p, st->in[0]), ptr_of(p, st->in[1])};
    bool blk = o->layout == LAYOUT_BLK;
    int64_t N = o->t.shape[0], C = o->t.shape[1], HW = o->t.shape[2] * o->t.shape[3];
    int64_t Cp = blk ? padb(C) : C;
    int64_t outer = blk ? Cp / BLK : C, inner = blk ? HW * BLK : HW;

#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
    for (int64_t nn = 0; nn < N; nn++) {
        for (int64_t cb = 0; cb < outer; cb++) {
            int64_t base = (nn * outer + cb) * inner;
            float cv[2][BLK_MAX];
            const float *ops[2];
            int64_t per[2] = {0, 0};
            for (int k = 0; k < 2; k++) {
                ops[k] = src[k] + base;
                if (st->opk[k] == OPK_FULL)
                    continue;
                for (int j = 0; j < BLK; j++) {
                    int64_t c = blk ? cb * BLK + j : cb;
                    if (st->opk[k] == OPK_SCALAR)
                        cv[k][j] = src[k][0];
                    else
                        cv[k][j] = c < C ? src[k][nn * st->chan_stride_n[k] + c] : 0.0f;
                }
                ops[k] = cv[k];
                per[k] = blk ? BLK : 1;
            }
            bin_span(st->bop, ops[0], per[0], ops[1], per[1], y + base, inner);
        }
    }
}

static void
run_gap_blk(const struct plan *p, const struct step *st, int nt)
{
    const struct pval *x = &p->pv[st->in[0]];
    const float *src = ptr_of(p, st->in[0]);
    float *y = ptr_of(p, st->out);
    int64_t N = x->t.shape[0], CB = padb(x->t.shape[1]) / BLK;
    int64_t HW = x->t.shape[2] * x->t.shape[3];
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t cb = 0; cb < CB; cb++) {
            const float *s = src + (n * CB + cb) * HW * BLK;
            float acc[BLK_MAX] = {0};
            for (int64_t i = 0; i < HW; i++)
                for (int j = 0; j < BLK; j++)
                    acc[j] += s[i * BLK + j];
            for (int j = 0; j < BLK; j++)
                y[(n * CB + cb) * BLK + j] = acc[j] / (float)HW;
        }
}

/* Source index of output coordinate o for nearest resize (ONNX Resize-11 semantics). */
static int64_t
nearest_src(int64_t o, int64_t in, int64_t out, enum itx_nn_coord_mode cm,
            enum itx_nn_nearest_mode nm)
{
    double scale = (double)out / (double)in, x;
    switch (cm) {
    case ITX_NN_COORD_ASYMMETRIC:
        x = (double)o / scale;
        break;
    case ITX_NN_COORD_ALIGN_CORNERS:
        x = out > 1 ? (double)o * (double)(in - 1) / (double)(out - 1) : 0.0;
        break;
    case ITX_NN_COORD_PYTORCH_HALF_PIXEL:
        x = out > 1 ? ((double)o + 0.5) / scale - 0.5 : 0.0;
        break;
    default:
        x = ((double)o + 0.5) / scale - 0.5;
        break;
    }
    int64_t i;
    switch (nm) {
    case ITX_NN_NEAREST_FLOOR:
        i = (int64_t)floor(x);
        break;
    case ITX_NN_NEAREST_CEIL:
        i = (int64_t)ceil(x);
        break;
    case ITX_NN_NEAREST_ROUND_PREFER_CEIL:
        i = (int64_t)floor(x + 0.5);
        break;
    default:
        i = (x - floor(x) == 0.5) ? (int64_t)floor(x) : (int64_t)floor(x + 0.5);
        break;
    }
    return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

static void
run_resize_blk(const struct plan *p, const struct step *st, int nt)
{
    const struct pval *x = &p->pv[st->in[0]], *o = &p->pv[st->out];
    const float *src = ptr_of(p, st->in[0]);
    float *y = ptr_of(p, st->out);
    int64_t N = x->t.shape[0], CB = padb(x->t.shape[1]) / BLK;
    int64_t H = x->t.shape[2], W = x->t.shape[3], OH = o->t.shape[2], OW = o->t.shape[3];
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
    for (int64_t nc = 0; nc < N * CB; nc++)
        for (int64_t oy = 0; oy < OH; oy++) {
            const float *row = src + (nc * H + st->map_h[oy]) * W * BLK;
            float *yr = y + (nc * OH + oy) * OW * BLK;
            for (int64_t ox = 0; ox < OW; ox++)
                memcpy(yr + ox * BLK, row + st->map_w[ox] * BLK, sizeof(float) * BLK);
        }
}

static void
run_concat_blk(const struct plan *p, const struct step *st)
{
    const struct pval *o = &p->pv[st->out];
    float *y = ptr_of(p, st->out);
    int64_t N = o->t.shape[0], HW = o->t.shape[2] * o->t.shape[3];
    for (int64_t n = 0; n < N; n++)
        for (int k = 0; k < st->n_in; k++) {
            const struct pval *x = &p->pv[st->in[k]];
            size_t chunk = (size_t)(padb(x->t.shape[1]) * HW);
            memcpy(y, ptr_of(p, st->in[k]) + (size_t)n * chunk, chunk * sizeof(float));
            y += chunk;
        }
}

static void
run_d2s_blk(const struct itx_nn_model *m, const struct plan *p, const struct step *st, int nt)
{
    const struct pval *x = &p->pv[st->in[0]], *o = &p->pv[st->out];
    const float *src = ptr_of(p, st->in[0]);
    float *y = ptr_of(p, st->out);
    int64_t b = m->nodes[st->node].attr.block, N = o->t.shape[0], C = o->t.shape[1];
    int64_t OH = o->t.shape[2], OW = o->t.shape[3], H = x->t.shape[2], W = x->t.shape[3];
    int64_t CB = padb(C) / BLK, CBin = padb(x->t.shape[1]) / BLK;
    if (o->layout == LAYOUT_PLAIN) {
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
        for (int64_t nc = 0; nc < N * C; nc++)
            for (int64_t yy = 0; yy < OH; yy++) {
                int64_t nn = nc / C, c = nc % C;
                float *yr = y + (nc * OH + yy) * OW;
                for (int64_t xx = 0; xx < OW; xx++) {
                    int64_t ci = ((yy % b) * b + xx % b) * C + c;
                    yr[xx] =
                        src[(((nn * CBin + ci / BLK) * H + yy / b) * W + xx / b) * BLK + ci % BLK];
                }
            }
        return;
    }
#pragma omp parallel for num_threads(nt) collapse(2) schedule(static)
    for (int64_t ncb = 0; ncb < N * CB; ncb++)
        for (int64_t yy = 0; yy < OH; yy++) {
            int64_t nn = ncb / CB, cb = ncb % CB;
            float *yr = y + (ncb * OH + yy) * OW * BLK;
            for (int64_t xx = 0; xx < OW; xx++) {
                int64_t base = ((yy % b) * b + xx % b) * C;
                if (C % BLK == 0) { /* the block's channels are one block of the source */
                    int64_t ci = base + cb * BLK;
                    memcpy(yr + xx * BLK,
                           src + (((nn * CBin + ci / BLK) * H + yy / b) * W + xx / b) * BLK,
                           sizeof(float) * BLK);
                    continue;
                }
                for (int j = 0; j < BLK; j++) {
                    int64_t c = cb * BLK + j, ci = base + c;
                    yr[xx * BLK + j] =
                        c < C ? src[(((nn * CBin + ci / BLK) * H + yy / b) * W + xx / b) * BLK +
                                    ci % BLK]
                              : 0.0f;
                }
            }
        }
}

/* Post ops of a node that oneDNN could not fuse, applied in place on its output. */
static void
run_posts(const struct itx_nn_model *m, const struct plan *p, const struct step *st, int nt)
{
    const struct itx_nn_node *n = &m->nodes[st->node];
    float *y = ptr_of(p, st->out);
    int64_t cnt = (int64_t)(p->pv[st->out].bytes / sizeof(float));
    int add = 0;
    for (int k = 0; k < n->n_post; k++) {
        const struct itx_nn_post *q = &n->post[k];
        if (q->kind == NN_POST_ADD) {
            const float *a = ptr_of(p, st->in[1 + add++]);
            if (k < st->post_first)
                continue;
            for (int64_t i = 0; i < cnt; i++)
                y[i] += a[i];
        } else if (k >= st->post_first) {
            run_unary(q->unary, y, cnt, q->alpha, q->beta, nt);
        }
    }
}

static void
run_ref(const struct itx_nn_model *m, const struct plan *p, const struct step *st)
{
    const struct itx_nn_node *n = &m->nodes[st->node];
    struct itx_nn_tinfo in[64], out = p->pv[st->out].t;
    void *post[NN_MAX_POST] = {0};
    int add = 0;
    for (int k = 0; k < n->n_in; k++) {
        memset(&in[k], 0, sizeof(in[k]));
        if (st->in[k] < 0)
            continue;
        in[k] = p->pv[st->in[k]].t;
        in[k].data = ptr_of(p, st->in[k]);
    }
    for (int k = 0; k < n->n_post; k++)
        if (n->post[k].kind == NN_POST_ADD)
            post[k] = ptr_of(p, st->in[n->n_in + add++]);
    itx_nn_eval_ref(n, in, &out, ptr_of(p, st->out), post);
}

/* ---- arena -------------------------------------------------------------------------- */

struct block {
    size_t off, size;
    int last; /* first fit: last step of the value */
    int v;    /* greedy by size: the value */
};

/*
 * Offsets in the arena. Values live from their first to their last step (inclusive); a value
 * never shares memory with another live value. Two greedy placements are tried and the
 * smaller arena wins:
 *   - first fit in step order (each value at the lowest gap among the values live then);
 *   - greedy by size (largest values first, each in the smallest gap left by the already
 *     placed values whose lifetimes overlap it), which packs the big early activations of
 *     a detector tightly: 960x960 needs 72 MiB instead of first fit's 87 (the peak of live
 *     bytes, a lower bound, is 70).
 */
static size_t
vbytes(const struct pval *x)
{
    size_t size = (x->bytes + 63) & ~(size_t)63;
    return size ? size : 64;
}

/* Whether the value gets a place of its own in the arena (aliases take their root's). */
static bool
in_arena(const struct pval *x)
{
    return !x->known && x->last >= 0 && x->alias < 0;
}

/*
 * In place: an element-wise step (unary, or binary with a same-shaped operand) whose input
 * dies at that step writes its output over the input. At 960x960 this lets the detector's
 * top-down pyramid (upsampled level + lateral level, 21 MiB each) add without a third
 * buffer. Run after lifetimes are known and before offsets are assigned.
 */
static void
plan_in_place(struct plan *p, int graph_input)
{
    for (int i = 0; i < p->n_steps; i++) {
        struct step *st = &p->steps[i];
        struct pval *o = &p->pv[st->out];
        if ((st->kind != ST_BINARY && st->kind != ST_UNARY) || !in_arena(o))
            continue;
        for (int k = 0; k < st->n_in; k++) {
            int v = st->in[k], r = v;
            const struct pval *x = &p->pv[v];
            if (st->kind == ST_BINARY && st->opk[k] != OPK_FULL)
                continue;
            if (v == graph_input || x->known || x->last != i || x->bytes != o->bytes ||
                x->layout != o->layout || (st->n_in == 2 && st->in[0] == st->in[1]))
                continue;
            while (p->pv[r].alias >= 0)
                r = p->pv[r].alias;
            if (p->pv[r].last != i)
                continue;
            o->alias = r;
            p->pv[r].last = o->last;
            break;
        }
    }
}

static void
first_fit(struct plan *p, struct block *live, int64_t *off, size_t *total)
{
    int n_live = 0;
    size_t top = 0;
    for (int s = -1; s < p->n_steps; s++) {
        /* release values whose last use was before this step */
        for (int i = 0; i < n_live;) {
            if (live[i].last < s) {
                live[i] = live[--n_live];
            } else {
                i++;
            }
        }
        for (int v = 0; v < p->n_pv; v++) {
            struct pval *x = &p->pv[v];
            if (x->first != s || !in_arena(x))
                continue;
            size_t size = vbytes(x);
            /* sort live blocks by offset (insertion sort; few blocks) and find a gap */
            for (int i = 1; i < n_live; i++) {
                struct block b = live[i];
                int j = i - 1;
                while (j >= 0 && live[j].off > b.off) {
                    live[j + 1] = live[j];
                    j--;
                }
                live[j + 1] = b;
            }
            size_t o = 0;
            for (int i = 0; i < n_live; i++) {
                if (live[i].off >= o + size)
                    break;
                if (live[i].off + live[i].size > o)
                    o = live[i].off + live[i].size;
            }
            off[v] = (int64_t)o;
            live[n_live++] = (struct block){o, size, x->last, v};
            if (o + size > top)
                top = o + size;
        }
    }
    *total = top;
}

/* A value to place, for sorting. */
struct placing {
    size_t size;
    int first, v;
};

static int
cmp_size_desc(const void *a, const void *b)
{
    const struct placing *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->v - y->v;
}

static void
by_size(struct plan *p, struct block *placed, struct placing *order, int64_t *off, size_t *total)
{
    int n = 0, n_placed = 0;
    size_t top = 0;
    for (int v = 0; v < p->n_pv; v++)
        if (in_arena(&p->pv[v]))
            order[n++] = (struct placing){vbytes(&p->pv[v]), p->pv[v].first, v};
    qsort(order, (size_t)n, sizeof(*order), cmp_size_desc);
    for (int k = 0; k < n; k++) {
        int v = order[k].v;
        const struct pval *x = &p->pv[v];
        size_t size = order[k].size, o = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
        /* placed blocks are kept sorted by offset */
        for (int i = 0; i < n_placed; i++) {
            const struct pval *y = &p->pv[placed[i].v];
            if (y->last < x->first || y->first > x->last)
                continue; /* lifetimes do not overlap */
            if (placed[i].off >= o + size && placed[i].off - o < best_gap) {
                best = o;
                best_gap = placed[i].off - o;
            }
            if (placed[i].off + placed[i].size > o)
                o = placed[i].off + placed[i].size;
        }
        if (best == SIZE_MAX)
            best = o;
        off[v] = (int64_t)best;
        int j = n_placed++;
        while (j > 0 && placed[j - 1].off > best) {
            placed[j] = placed[j - 1];
            j--;
        }
        placed[j] = (struct block){best, size, x->last, v};
        if (best + size > top)
            top = best + size;
    }
    *total = top;
}

static bool
assign_offsets(struct plan *p, size_t *total)
{
    size_t n = (size_t)p->n_pv + 1, t1 = 0, t2 = 0;
    struct block *blocks = itx_calloc(n, sizeof(*blocks));
    int64_t *off1 = itx_calloc(n, sizeof(*off1)), *off2 = itx_calloc(n, sizeof(*off2));
    struct placing *order = itx_calloc(n, sizeof(*order));
    bool ok = blocks && off1 && off2 && order;

    if (ok) {
        first_fit(p, blocks, off1, &t1);
        by_size(p, blocks, order, off2, &t2);
        const int64_t *off = t2 < t1 ? off2 : off1;
        for (int v = 0; v < p->n_pv; v++)
            if (in_arena(&p->pv[v]))
                p->pv[v].off = off[v];
        for (int v = 0; v < p->n_pv; v++) {
            int r = v;
            while (p->pv[r].alias >= 0)
                r = p->pv[r].alias;
            if (r != v)
                p->pv[v].off = p->pv[r].off;
        }
        *total = t2 < t1 ? t2 : t1;
    }
    itx_free(blocks);
    itx_free(off1);
    itx_free(off2);
    itx_free(order);
    return ok;
}

/*
 * The arena: for large plans, 2 MiB aligned and marked for transparent huge pages, which
 * cuts the page faults of the first run (the first touch of every activation) by up to 512x.
 */
#define HUGE_PAGE ((size_t)2 << 20)

static uint8_t *
arena_alloc(size_t size)
{
    uint8_t *a;
    if (size < 4 * HUGE_PAGE)
        return itx_malloc_aligned(size ? size : 64);
    a = itx_malloc_align(size, HUGE_PAGE);
    if (a)
        madvise(a, (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
    return a;
}

/*
 * Makes the arena hold at least size bytes. Its contents are not kept (a run's outputs are
 * gone once another run starts), so the old buffer goes first: growing never holds both.
 */
static bool
arena_reserve(struct itx_nn_arena *a, size_t size)
{
    if (a->data && size <= a->cap)
        return true;
    itx_free_aligned(a->data);
    a->cap = 0;
    a->data = arena_alloc(size);
    if (!a->data)
        return false;
    a->cap = size;
    return true;
}

enum itx_status
itx_nn_arena_new(struct itx_nn_arena **out, struct itx_diag *d)
{
    struct itx_nn_arena *a = itx_calloc(1, sizeof(*a));
    if (!a)
        return nomem(d);
    atomic_init(&a->refs, 1);
    *out = a;
    return ITX_OK;
}

struct itx_nn_arena *
itx_nn_arena_ref(struct itx_nn_arena *a)
{
    atomic_fetch_add(&a->refs, 1);
    return a;
}

void
itx_nn_arena_free(struct itx_nn_arena *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    itx_free_aligned(a->data);
    itx_free(a);
}

size_t
itx_nn_arena_bytes(const struct itx_nn_arena *a)
{
    return a->cap;
}

static void
plan_free(struct plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_steps; i++) {
        struct step *st = &p->steps[i];
        dnnl_primitive_destroy(st->prim);
        dnnl_memory_destroy(st->wmem);
        dnnl_memory_destroy(st->bmem);
        for (int k = 0; k < st->n_extra_mem; k++)
            dnnl_memory_destroy(st->extra_mem[k]);
        itx_free(st->map_h);
        itx_free(st->map_w);
    }
    for (int i = 0; i < p->n_pv; i++) {
        dnnl_memory_destroy(p->pv[i].mem);
        itx_free_aligned(p->pv[i].own);
    }
    dnnl_memory_destroy(p->scratch_mem);
    itx_free_aligned(p->scratch);
    itx_free(p->steps);
    itx_free(p->pv);
    itx_free(p->out_pv);
    itx_free(p);
}

/*
 * ITX_NN_MEMSTAT=1: one line per new plan with its arena, the peak of live activation bytes
 * (a lower bound for any arena), the session's shared arena and the model's reordered
 * weights, to see where the memory goes.
 */
static void
print_memstat(const struct itx_nn_session *ss, const struct plan *p, const char *shape)
{
    size_t peak = 0, wbytes = 0;
    int peak_step = -1;
    for (int t = -1; t < p->n_steps; t++) {
        size_t live = 0;
        for (int v = 0; v < p->n_pv; v++) {
            const struct pval *x = &p->pv[v];
            if (in_arena(x) && x->first <= t && x->last >= t)
                live += vbytes(x);
        }
        if (live > peak)
            peak_step = t;
        peak = live > peak ? live : peak;
    }
    pthread_mutex_lock(&ss->m->wmu);
    for (int i = 0; ss->m->wcache && i < ss->m->wcache->n; i++)
        wbytes += dnnl_memory_desc_get_size(&ss->m->wcache->e[i].md);
    pthread_mutex_unlock(&ss->m->wmu);
    fprintf(stderr,
            "nn memstat: model '%s' input %s: arena %.1f MiB (live peak %.1f), scratchpad "
            "%.1f MiB, shared arena %.1f MiB, reordered weights %.1f MiB\n",
            ss->m->name, shape, (double)p->arena_size / 1048576.0, (double)peak / 1048576.0,
            (double)p->scratch_size / 1048576.0, (double)ss->arena->cap / 1048576.0,
            (double)wbytes / 1048576.0);
    if (ss->memstat < 2)
        return;
    /* ITX_NN_MEMSTAT=2: what is alive at the peak, the activations to work on. */
    for (int v = 0; v < p->n_pv; v++) {
        const struct pval *x = &p->pv[v];
        if (!in_arena(x) || x->first > peak_step || x->last < peak_step)
            continue;
        const struct step *st = x->first >= 0 ? &p->steps[x->first] : NULL;
        fprintf(stderr, "nn memstat:   at step %d: %s output, %s layout, %.1f MiB, steps %d..%d\n",
                peak_step,
                !st             ? "input"
                : st->node >= 0 ? ss->m->nodes[st->node].name
                                : "reorder",
                x->layout == LAYOUT_BLK ? "blocked" : "plain", (double)vbytes(x) / 1048576.0,
                x->first, x->last);
    }
}

static enum itx_status
plan_build(struct itx_nn_session *ss, const int64_t *shape, int rank, struct plan **out,
           struct itx_diag *d)
{
    const struct itx_nn_model *m = ss->m;
    const struct itx_nn_value *iv = &m->values[m->input];
    struct plan *p = itx_calloc(1, sizeof(*p));
    enum itx_status s = ITX_OK;
    char sh[160] = "";

    for (int i = 0, o = 0; i < rank && o < (int)sizeof(sh) - 24; i++)
        o += snprintf(sh + o, sizeof(sh) - (size_t)o, "%s%lld", i ? "x" : "", (long long)shape[i]);
    if (!p)
        return nomem(d);
    if (rank != iv->rank) {
        s = itx_diag_set(d, ITX_ERR_INVALID, "model '%s' takes a rank-%d input, not %s", m->name,
                         iv->rank, sh);
        goto fail;
    }
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 1 || (iv->shape[i] > 0 && shape[i] != iv->shape[i])) {
            s = itx_diag_set(d, ITX_ERR_INVALID,
                             "input shape %s does not fit model '%s' (dimension %d must be %lld)",
                             sh, m->name, i, (long long)iv->shape[i]);
            goto fail;
        }
    }
    p->in_rank = rank;
    memcpy(p->in_shape, shape, sizeof(int64_t) * (size_t)rank);
    for (size_t v = 0; v < m->n_values; v++) {
        int k = new_pval(p);
        if (k < 0) {
            s = nomem(d);
            goto fail;
        }
        const struct itx_nn_value *mv = &m->values[v];
        p->pv[k].t.dtype = mv->dtype;
        p->pv[k].t.rank = mv->rank;
        memcpy(p->pv[k].t.shape, mv->shape, sizeof(mv->shape));
        if (mv->flags & NN_VAL_CONST) {
            p->pv[k].known = true;
            p->pv[k].t.data = mv->data;
        }
    }
    {
        struct pval *x = &p->pv[m->input];
        memcpy(x->t.shape, shape, sizeof(int64_t) * (size_t)rank);
        x->bytes = pval_bytes(&x->t, LAYOUT_PLAIN);
        if (x->bytes / 4 > m->lim.max_tensor_elems) {
            s = itx_diag_set(d, ITX_ERR_TOO_LARGE, "input %s is over the %zu-element limit", sh,
                             m->lim.max_tensor_elems);
            goto fail;
        }
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        if (!m->nodes[i].dead && (s = plan_node(ss, p, (int)i, d)))
            goto fail;
    /* Graph outputs in plain layout. */
    p->out_pv = itx_calloc((size_t)m->n_outputs, sizeof(int));
    if (!p->out_pv) {
        s = nomem(d);
        goto fail;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        int v = in_layout(p, m->outputs[i], LAYOUT_PLAIN);
        if (v < 0) {
            s = nomem(d);
            goto fail;
        }
        p->out_pv[i] = v;
    }
    /* Lifetimes. */
    p->pv[m->input].first = -1;
    p->pv[m->input].last = -1;
    for (int i = 0; i < p->n_steps; i++) {
        struct step *st = &p->steps[i];
        if (p->pv[st->out].first < 0 || p->pv[st->out].first > i)
            p->pv[st->out].first = i;
        if (p->pv[st->out].last < i)
            p->pv[st->out].last = i;
        for (int k = 0; k < st->n_in; k++)
            if (st->in[k] >= 0 && p->pv[st->in[k]].last < i)
                p->pv[st->in[k]].last = i;
    }
    for (int i = 0; i < m->n_outputs; i++)
        if (!p->pv[p->out_pv[i]].known)
            p->pv[p->out_pv[i]].last = p->n_steps;
    if (p->pv[m->input].last < 0)
        p->pv[m->input].last = 0;
    p->pv[m->input].first = -1;
    plan_in_place(p, m->input);
    if (!assign_offsets(p, &p->arena_size)) {
        s = nomem(d);
        goto fail;
    }
    if (p->arena_size > m->lim.max_arena_bytes) {
        s = itx_diag_set(d, ITX_ERR_TOO_LARGE,
                         "input %s needs %zu bytes of activations, over the %zu-byte limit", sh,
                         p->arena_size, m->lim.max_arena_bytes);
        goto fail;
    }
    if (!arena_reserve(ss->arena, p->arena_size)) {
        s = nomem(d);
        goto fail;
    }
    p->arena = ss->arena->data;
    /* Primitives and per-step tables. */
    for (int i = 0; i < p->n_steps; i++) {
        struct step *st = &p->steps[i];
        if (st->kind == ST_CONV)
            s = make_conv(ss, p, st, d);
        else if (st->kind == ST_MATMUL)
            s = make_matmul(ss, p, st, d);
        else if (st->kind == ST_REORDER)
            s = make_reorder(ss, p, st, d);
        else if (st->kind == ST_RESIZE_BLK) {
            const struct itx_nn_node *n = &m->nodes[st->node];
            const struct pval *x = &p->pv[st->in[0]], *o = &p->pv[st->out];
            st->map_h = itx_malloc_array((size_t)o->t.shape[2], sizeof(int64_t));
            st->map_w = itx_malloc_array((size_t)o->t.shape[3], sizeof(int64_t));
            if (!st->map_h || !st->map_w) {
                s = nomem(d);
                goto fail;
            }
            for (int64_t k = 0; k < o->t.shape[2]; k++)
                st->map_h[k] =
                    nearest_src(k, x->t.shape[2], o->t.shape[2], n->attr.coord, n->attr.nearest);
            for (int64_t k = 0; k < o->t.shape[3]; k++)
                st->map_w[k] =
                    nearest_src(k, x->t.shape[3], o->t.shape[3], n->attr.coord, n->attr.nearest);
        }
        if (s)
            goto fail;
    }
    if (p->scratch_size) {
        dnnl_memory_desc_t smd;
        dnnl_dims_t sd = {(dnnl_dim_t)p->scratch_size};
        dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a);
        p->scratch = itx_malloc_aligned(p->scratch_size);
        if (!p->scratch || dnnl_memory_create(&p->scratch_mem, &smd, ss->eng, p->scratch)) {
            s = nomem(d);
            goto fail;
        }
        for (int i = 0; i < p->n_steps; i++)
            if (p->steps[i].kind == ST_CONV || p->steps[i].kind == ST_MATMUL)
                add_arg(&p->steps[i], DNNL_ARG_SCRATCHPAD, p->scratch_mem);
    }
    if (ss->memstat)
        print_memstat(ss, p, sh);
    *out = p;
    return ITX_OK;
fail:
    plan_free(p);
    return s;
}

/* ---- session ------------------------------------------------------------------------ */

void
itx_nn_session_opts_default(struct itx_nn_session_opts *o)
{
    o->threads = 1;
    o->backend = ITX_NN_BACKEND_DNNL;
    o->max_plans = 8;
    o->arena = NULL;
}

enum itx_status
itx_nn_session_new(struct itx_nn_model *m, const struct itx_nn_session_opts *o,
                   struct itx_nn_session **out, struct itx_diag *d)
{
    struct itx_nn_session *s = itx_calloc(1, sizeof(*s));
    dnnl_status_t r;
    if (!s)
        return nomem(d);
    pthread_once(&blk_once, blk_init);
    if (o)
        s->o = *o;
    else
        itx_nn_session_opts_default(&s->o);
    if (s->o.threads < 1)
        s->o.threads = 1;
    if (s->o.max_plans < 1)
        s->o.max_plans = 8;
    s->plans = itx_calloc((size_t)s->o.max_plans, sizeof(*s->plans));
    if (s->plans && s->o.arena)
        s->arena = itx_nn_arena_ref(s->o.arena);
    else if (s->plans && itx_nn_arena_new(&s->arena, d))
        s->arena = NULL;
    s->o.arena = NULL; /* the session holds its reference in s->arena */
    if (!s->plans || !s->arena) {
        itx_free(s->plans);
        itx_free(s);
        return nomem(d);
    }
    if ((r = dnnl_engine_create(&s->eng, dnnl_cpu, 0)) ||
        (r = dnnl_stream_create(&s->stream, s->eng, dnnl_stream_default_flags))) {
        dnnl_engine_destroy(s->eng);
        itx_nn_arena_free(s->arena);
        itx_free(s->plans);
        itx_free(s);
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start oneDNN (status %d)", (int)r);
    }
    s->m = itx_nn_model_ref(m);
    s->trace = getenv("ITX_NN_TRACE") != NULL;
    s->profile = getenv("ITX_NN_PROFILE") != NULL;
    s->memstat = getenv("ITX_NN_MEMSTAT") ? atoi(getenv("ITX_NN_MEMSTAT")) : 0;
    *out = s;
    return ITX_OK;
}

void
itx_nn_session_free(struct itx_nn_session *s)
{
    if (!s)
        return;
    if (s->profile) {
        static const char *const kinds[] = {"ref",    "conv", "matmul", "reorder", "unary",
                                            "binary", "gap",  "resize", "concat",  "d2s"};
        for (int k = 0; k < 10; k++)
            if (s->prof_n[k])
                fprintf(stderr, "profile %-8s %5d steps %10.2f ms\n", kinds[k], s->prof_n[k],
                        s->prof_ms[k]);
    }
    for (int i = 0; i < s->n_plans; i++)
        plan_free(s->plans[i]);
    itx_free(s->plans);
    itx_nn_arena_free(s->arena);
    dnnl_stream_destroy(s->stream);
    dnnl_engine_destroy(s->eng);
    itx_nn_model_free(s->m);
    itx_free(s);
}

static double
thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sum of the real (unpadded) elements of a value, for ITX_NN_TRACE. */
static double
trace_sum(const struct plan *p, int v)
{
    const struct pval *x = &p->pv[v];
    const float *f = ptr_of(p, v);
    double sum = 0;
    if (x->t.dtype != ITX_NN_F32)
        return 0;
    if (x->layout == LAYOUT_BLK) {
        int64_t N = x->t.shape[0], C = x->t.shape[1], HW = x->t.shape[2] * x->t.shape[3];
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < HW; i++)
                    sum += (double)f[((n * (padb(C) / BLK) + c / BLK) * HW + i) * BLK + c % BLK];
    } else {
        for (int64_t i = 0; i < itx_nn_shape_numel(x->t.shape, x->t.rank); i++)
            sum += (double)f[i];
    }
    return sum;
}

static enum itx_status
execute(struct itx_nn_session *ss, struct plan *p, struct itx_diag *d)
{
    int nt = ss->o.threads;
    double t0 = ss->profile ? thread_cpu_ms() : 0.0;
    for (int i = 0; i < p->n_steps; i++) {
        struct step *st = &p->steps[i];
        if (ss->profile && i > 0) {
            double t = thread_cpu_ms();
            ss->prof_ms[p->steps[i - 1].kind] += t - t0;
            ss->prof_n[p->steps[i - 1].kind]++;
            t0 = t;
        }
        if (i > 0 && ss->trace && p->steps[i - 1].node >= 0)
            fprintf(stderr, "trace %s kind=%d sum=%.6g\n", ss->m->nodes[p->steps[i - 1].node].name,
                    (int)p->steps[i - 1].kind, trace_sum(p, p->steps[i - 1].out));
        switch (st->kind) {
        case ST_CONV:
        case ST_MATMUL:
        case ST_REORDER: {
            dnnl_status_t r = dnnl_primitive_execute(st->prim, ss->stream, st->n_args, st->args);
            if (r == dnnl_success)
                r = dnnl_stream_wait(ss->stream);
            if (r != dnnl_success)
                return dnnl_fail(d, "execution", r,
                                 st->node >= 0 ? ss->m->nodes[st->node].name : "reorder");
            if (st->kind != ST_REORDER && st->post_first < ss->m->nodes[st->node].n_post)
                run_posts(ss->m, p, st, nt);
            break;
        }
        case ST_UNARY: {
            const struct pval *x = &p->pv[st->in[0]];
            float *y = ptr_of(p, st->out);
            if (y != ptr_of(p, st->in[0]))
                memcpy(y, ptr_of(p, st->in[0]), x->bytes);
            run_unary(st->uop, y, (int64_t)(x->bytes / sizeof(float)), st->alpha, st->beta, nt);
            break;
        }
        case ST_BINARY:
            run_binary(p, st, nt);
            break;
        case ST_GAP_BLK:
            run_gap_blk(p, st, nt);
            break;
        case ST_RESIZE_BLK:
            run_resize_blk(p, st, nt);
            break;
        case ST_CONCAT_BLK:
            run_concat_blk(p, st);
            break;
        case ST_D2S_BLK:
            run_d2s_blk(ss->m, p, st, nt);
            break;
        case ST_REF:
            run_ref(ss->m, p, st);
            break;
        }
    }
    return ITX_OK;
}

/* Points a plan built against an older (smaller) arena at the session's current one. */
static enum itx_status
rebase(struct plan *p, uint8_t *arena, struct itx_diag *d)
{
    dnnl_status_t r = dnnl_success;
    for (int i = 0; i < p->n_pv && !r; i++)
        if (p->pv[i].mem && p->pv[i].off >= 0)
            r = dnnl_memory_set_data_handle(p->pv[i].mem, arena + p->pv[i].off);
    for (int i = 0; i < p->n_steps && !r; i++) {
        struct step *st = &p->steps[i];
        if (st->kind != ST_MATMUL)
            continue;
        r = dnnl_memory_set_data_handle(st->extra_mem[0], arena + p->pv[st->in[0]].off);
        if (!r)
            r = dnnl_memory_set_data_handle(st->extra_mem[1], arena + p->pv[st->out].off);
    }
    if (r)
        return dnnl_fail(d, "memory rebase", r, "arena");
    p->arena = arena;
    return ITX_OK;
}

/* Finds or builds the plan for shape and points it at the arena; *out is the plan. */
static enum itx_status
prepare(struct itx_nn_session *s, const int64_t *shape, int rank, struct plan **out,
        struct itx_diag *d)
{
    struct plan *p = NULL;
    enum itx_status st;
    int victim = 0;

    s->cur = NULL; /* outputs of the last run are gone: planning may replace the arena */
    if (rank < 0 || rank > ITX_NN_MAX_DIMS)
        return itx_diag_set(d, ITX_ERR_INVALID, "input rank %d is out of range", rank);
    for (int i = 0; i < s->n_plans; i++) {
        if (s->plans[i]->in_rank == rank &&
            memcmp(s->plans[i]->in_shape, shape, sizeof(int64_t) * (size_t)rank) == 0) {
            p = s->plans[i];
            break;
        }
        if (s->plans[i]->last_used < s->plans[victim]->last_used)
            victim = i;
    }
    /* Before planning too: oneDNN reorders weights while planning, and an OpenMP team
     * started with the default size would keep an idle spinning thread afterwards. */
    omp_set_num_threads(s->o.threads);
    if (!p) {
        if ((st = plan_build(s, shape, rank, &p, d)))
            return st;
        if (s->n_plans < s->o.max_plans) {
            s->plans[s->n_plans++] = p;
        } else {
            plan_free(s->plans[victim]);
            s->plans[victim] = p;
        }
    }
    p->last_used = ++s->clock;
    /* Another session sharing the arena may have grown it (or failed to). */
    if (!arena_reserve(s->arena, p->arena_size))
        return nomem(d);
    if (p->arena != s->arena->data && (st = rebase(p, s->arena->data, d)))
        return st;
    *out = p;
    return ITX_OK;
}

enum itx_status
itx_nn_session_prepare(struct itx_nn_session *s, const int64_t *shape, int rank, float **input,
                       struct itx_diag *d)
{
    struct plan *p;
    enum itx_status st;

    if ((st = prepare(s, shape, rank, &p, d)))
        return st;
    s->ready = p;
    *input = (float *)(void *)(p->arena + p->pv[s->m->input].off);
    return ITX_OK;
}

enum itx_status
itx_nn_session_run(struct itx_nn_session *s, const float *input, const int64_t *shape, int rank,
                   struct itx_diag *d)
{
    struct plan *p, *ready = s->ready;
    enum itx_status st;

    s->ready = NULL;
    if ((st = prepare(s, shape, rank, &p, d)))
        return st;
    if (input)
        memcpy(p->arena + p->pv[s->m->input].off, input, p->pv[s->m->input].bytes);
    else
        ITX_ASSERT(p == ready); /* the input was written where itx_nn_session_prepare said */
    if ((st = execute(s, p, d)))
        return st;
    s->cur = p;
    return ITX_OK;
}

const float *
itx_nn_session_output(const struct itx_nn_session *s, int k, int64_t shape[ITX_NN_MAX_DIMS],
                      int *rank)
{
    const struct plan *p = s->cur;
    if (!p || k < 0 || k >= s->m->n_outputs)
        return NULL;
    const struct pval *x = &p->pv[p->out_pv[k]];
    *rank = x->t.rank;
    memcpy(shape, x->t.shape, sizeof(int64_t) * (size_t)x->t.rank);
    return ptr_of(p, p->out_pv[k]);
}

size_t
itx_nn_session_arena_bytes(const struct itx_nn_session *s)
{
    return s->cur ? s->cur->arena_size : 0;
}
