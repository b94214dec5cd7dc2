#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "nn/nn-impl.h"

/* Name lookup: an open-addressing hash table of value indices, rebuilt as it grows. */
struct itx_nn_name_index {
    int *slots; /* value index + 1; 0 = empty */
    size_t cap;
};

static uint64_t
hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool
index_insert(struct itx_nn_model *m, struct itx_nn_name_index *ix, int vi)
{
    if ((m->n_values + 1) * 2 > ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 1024;
        int *slots = itx_calloc(cap, sizeof(int));
        if (!slots)
            return false;
        for (size_t i = 0; i < ix->cap; i++) {
            if (!ix->slots[i])
                continue;
            const char *nm = m->values[ix->slots[i] - 1].name;
            size_t h = (size_t)hash_name(nm, strlen(nm)) & (cap - 1);
            while (slots[h])
                h = (h + 1) & (cap - 1);
            slots[h] = ix->slots[i];
        }
        itx_free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
    }
    const char *nm = m->values[vi].name;
    size_t h = (size_t)hash_name(nm, strlen(nm)) & (ix->cap - 1);
    while (ix->slots[h])
        h = (h + 1) & (ix->cap - 1);
    ix->slots[h] = vi + 1;
    return true;
}

int
itx_nn_model_find_value(const struct itx_nn_model *m, const char *name, size_t name_len)
{
    struct itx_nn_name_index *ix = m->ix;
    if (ix && ix->cap) {
        size_t h = (size_t)hash_name(name, name_len) & (ix->cap - 1);
        while (ix->slots[h]) {
            const char *nm = m->values[ix->slots[h] - 1].name;
            if (strlen(nm) == name_len && memcmp(nm, name, name_len) == 0)
                return ix->slots[h] - 1;
            h = (h + 1) & (ix->cap - 1);
        }
        return -1;
    }
    for (size_t i = 0; i < m->n_values; i++)
        if (strlen(m->values[i].name) == name_len && memcmp(m->values[i].name, name, name_len) == 0)
            return (int)i;
    return -1;
}

int
itx_nn_model_add_value(struct itx_nn_model *m, const char *name, size_t name_len)
{
    struct itx_nn_value *v;
    if (m->n_values >= 4 * m->lim.max_nodes + 16)
        return -1;
    if (m->n_values == m->cap_values) {
        size_t cap = m->cap_values ? m->cap_values * 2 : 512;
        struct itx_nn_value *nv = itx_realloc_array(m->values, cap, sizeof(*nv));
        if (!nv)
            return -1;
        m->values = nv;
        m->cap_values = cap;
    }
    v = &m->values[m->n_values];
    memset(v, 0, sizeof(*v));
    v->producer = -1;
    v->name = itx_strndup(name, name_len);
    if (!v->name)
        return -1;
    m->n_values++;
    if (m->ix && !index_insert(m, m->ix, (int)m->n_values - 1))
        return -1;
    return (int)m->n_values - 1;
}

size_t
itx_nn_dtype_size(enum itx_nn_dtype t)
{
    switch (t) {
    case ITX_NN_F32:
    case ITX_NN_I32:
        return 4;
    case ITX_NN_I64:
        return 8;
    default:
        return 0;
    }
}

int64_t
itx_nn_value_numel(const struct itx_nn_value *v)
{
    return itx_nn_shape_numel(v->shape, v->rank);
}

enum itx_status
itx_nn_value_alloc(struct itx_nn_model *m, int vi, enum itx_nn_dtype t, int rank,
                   const int64_t *shape, struct itx_diag *d)
{
    struct itx_nn_value *v = &m->values[vi];
    size_t n = 1, bytes;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || !itx_mul_size(n, (size_t)shape[i], &n) || n > m->lim.max_tensor_elems)
            return itx_diag_set(d, ITX_ERR_MODEL,
                                "model '%s': tensor '%s' is over the %zu-element limit", m->name,
                                v->name, m->lim.max_tensor_elems);
    }
    if (!itx_mul_size(n, itx_nn_dtype_size(t), &bytes))
        return itx_diag_set(d, ITX_ERR_MODEL, "model '%s': tensor '%s' is too large", m->name,
                            v->name);
    itx_free_aligned(v->data);
    v->data = itx_malloc_aligned(bytes ? bytes : 1);
    if (!v->data)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory loading '%s'", m->name);
    memset(v->data, 0, bytes);
    v->dtype = t;
    v->rank = rank;
    if (rank)
        memcpy(v->shape, shape, sizeof(int64_t) * (size_t)rank);
    return ITX_OK;
}

void
itx_nn_limits_default(struct itx_nn_limits *lim)
{
    lim->max_file_size = 256u << 20;
    lim->max_nodes = 100000;
    lim->max_tensor_elems = (size_t)1 << 28;
    lim->max_arena_bytes = (size_t)4 << 30;
}

static void
model_destroy(struct itx_nn_model *m)
{
    for (size_t i = 0; i < m->n_values; i++) {
        itx_free(m->values[i].name);
        itx_free_aligned(m->values[i].data);
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        itx_free(m->nodes[i].name);
        itx_free(m->nodes[i].in);
    }
    itx_free(m->values);
    itx_free(m->nodes);
    itx_free(m->outputs);
    itx_free(m->name);
    itx_nn_wcache_free(m->wcache);
    pthread_mutex_destroy(&m->wmu);
    itx_free(m);
}

enum itx_status
itx_nn_model_load_buffer(const uint8_t *data, size_t len, const char *name,
                         const struct itx_nn_limits *lim, struct itx_nn_model **out,
                         struct itx_diag *d)
{
    struct itx_nn_model *m = itx_calloc(1, sizeof(*m));
    struct itx_nn_name_index ix = {NULL, 0};
    enum itx_status s;

    if (!m)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory loading '%s'", name);
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->wmu, NULL);
    m->input = -1;
    if (lim)
        m->lim = *lim;
    else
        itx_nn_limits_default(&m->lim);
    m->name = itx_strdup(name);
    if (!m->name) {
        pthread_mutex_destroy(&m->wmu);
        itx_free(m);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory loading '%s'", name);
    }
    if (len > m->lim.max_file_size) {
        s = itx_diag_set(d, ITX_ERR_TOO_LARGE, "model '%s' is %zu bytes, over the %zu-byte limit",
                         name, len, m->lim.max_file_size);
        goto fail;
    }
    m->ix = &ix;
    s = itx_nn_onnx_parse(m, data, len, d);
    m->ix = NULL;
    itx_free(ix.slots);
    if (s)
        goto fail;
    if ((s = itx_nn_graph_optimize(m, d)))
        goto fail;
    *out = m;
    return ITX_OK;
fail:
    model_destroy(m);
    return s;
}

enum itx_status
itx_nn_model_load(const char *path, const struct itx_nn_limits *lim, struct itx_nn_model **out,
                  struct itx_diag *d)
{
    struct itx_nn_limits l;
    uint8_t *data = NULL;
    size_t len = 0;
    enum itx_status s;

    if (!lim) {
        itx_nn_limits_default(&l);
        lim = &l;
    }
    if ((s = itx_file_read(path, lim->max_file_size, &data, &len, d)))
        return s;
    s = itx_nn_model_load_buffer(data, len, path, lim, out, d);
    itx_free(data);
    return s;
}

struct itx_nn_model *
itx_nn_model_ref(struct itx_nn_model *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void
itx_nn_model_free(struct itx_nn_model *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        model_destroy(m);
}

const char *
itx_nn_model_input_name(const struct itx_nn_model *m)
{
    return m->values[m->input].name;
}

int
itx_nn_model_input_rank(const struct itx_nn_model *m)
{
    return m->values[m->input].rank;
}

int
itx_nn_model_n_outputs(const struct itx_nn_model *m)
{
    return m->n_outputs;
}

size_t
itx_nn_model_n_nodes(const struct itx_nn_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_nodes; i++)
        n += !m->nodes[i].dead;
    return n;
}

const char *
itx_nn_op_name(enum itx_nn_op op)
{
    static const char *const names[NN_OP_COUNT] = {
        "Conv",        "ConvTranspose", "BatchNormalization",
        "Add",         "Sub",           "Mul",
        "Div",         "Pow",           "Unary",
        "Softmax",     "MatMul",        "GlobalAveragePool",
        "AveragePool", "MaxPool",       "Resize",
        "Concat",      "Reshape",       "Flatten",
        "Transpose",   "Squeeze",       "Unsqueeze",
        "Slice",       "Shape",         "Cast",
        "ReduceMean",  "Identity",      "DepthToSpace"};
    return (unsigned)op < NN_OP_COUNT ? names[op] : "?";
}
