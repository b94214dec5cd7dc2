/*
 * The neural runner: loads ONNX models (the PP-OCR detection, recognition and orientation
 * models) and runs them on oneDNN primitives, with plain-C reference kernels (ref.h) for
 * every operator as the ground truth.
 *
 * Model objects are immutable after loading (but for a lock-protected cache of weights
 * reordered for oneDNN, filled by the first session that plans them and shared by all) and
 * reference-counted: any number of threads may share one model. Each thread runs inferences
 * through its own session, which owns the execution state: per input shape a plan (shape
 * inference, folded shape arithmetic, tensor layouts, oneDNN primitives) is built once and
 * cached, and all plans use one arena for their activations (which sessions that run one
 * at a time may share, struct itx_nn_arena), so the hot path allocates nothing.
 *
 * Threads: oneDNN here is built with OpenMP. A session runs its primitives and its own
 * kernels with `threads` OpenMP threads; a worker pool of P workers each with a 1-thread
 * session keeps P cores busy without oversubscription (see docs/nn.md).
 *
 * Untrusted model files: the loader checks every length, count and dimension against
 * struct itx_nn_limits and refuses malformed files with a message naming the file, the node
 * and the reason. It never aborts on input.
 */
#ifndef ITX_NN_NN_H
#define ITX_NN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ITX_NN_MAX_DIMS 8

struct itx_nn_model;
struct itx_nn_session;
struct itx_nn_arena;

struct itx_nn_limits {
    size_t max_file_size;    /* bytes of the .onnx file */
    size_t max_nodes;        /* nodes in the graph */
    size_t max_tensor_elems; /* elements of any one tensor (constants and activations) */
    size_t max_arena_bytes;  /* activation memory of one plan */
};

/* Safe defaults for untrusted files: 256 MiB files, 100k nodes, 2^28 elements, 4 GiB arena. */
void itx_nn_limits_default(struct itx_nn_limits *lim);

/*
 * Loads and optimises a model (constant folding, batch-norm and affine folding into
 * convolutions, activation fusion). lim may be NULL for the defaults. On success *out holds
 * one reference. Errors: ITX_ERR_NOT_FOUND, ITX_ERR_TOO_LARGE, ITX_ERR_MODEL (malformed or
 * unsupported, message names the node), ITX_ERR_NOMEM.
 */
enum itx_status itx_nn_model_load(const char *path, const struct itx_nn_limits *lim,
                                  struct itx_nn_model **out, struct itx_diag *d);

/* Same from memory; name is used in messages. The buffer is not kept. */
enum itx_status itx_nn_model_load_buffer(const uint8_t *data, size_t len, const char *name,
                                         const struct itx_nn_limits *lim, struct itx_nn_model **out,
                                         struct itx_diag *d);

/* Adds a reference (thread-safe) and returns m. */
struct itx_nn_model *itx_nn_model_ref(struct itx_nn_model *m);
/* Drops a reference; frees the model with the last one. NULL is a no-op. */
void itx_nn_model_free(struct itx_nn_model *m);

/* Name of the model's (single) graph input and its declared rank; output count. */
const char *itx_nn_model_input_name(const struct itx_nn_model *m);
int itx_nn_model_input_rank(const struct itx_nn_model *m);
int itx_nn_model_n_outputs(const struct itx_nn_model *m);
/* Number of nodes left after optimisation (for diagnostics). */
size_t itx_nn_model_n_nodes(const struct itx_nn_model *m);

enum itx_nn_backend {
    ITX_NN_BACKEND_DNNL, /* oneDNN primitives, blocked layouts, fused post-ops */
    ITX_NN_BACKEND_REF,  /* plain-C reference kernels only */
};

/*
 * Activation memory that several sessions share. Every session has one arena for all its
 * plans, grown to the largest; sessions that never run at the same time (the detector,
 * classifier and recognizer sessions of one OCR context, which run one after another on
 * one thread) can share one, so they hold the largest of their plans' activations instead
 * of the sum. Reference-counted: each session sharing it holds a reference. Not
 * thread-safe: only one of the sessions sharing an arena may run at a time, and a run
 * of any of them ends the validity of the others' outputs.
 */
enum itx_status itx_nn_arena_new(struct itx_nn_arena **out, struct itx_diag *d);
/* Adds a reference and returns a. */
struct itx_nn_arena *itx_nn_arena_ref(struct itx_nn_arena *a);
/* Drops a reference; frees with the last one. NULL is a no-op. */
void itx_nn_arena_free(struct itx_nn_arena *a);
/* Bytes the arena holds now (0 before the first plan). */
size_t itx_nn_arena_bytes(const struct itx_nn_arena *a);

struct itx_nn_session_opts {
    int threads;                 /* OpenMP threads per inference, >= 1 */
    enum itx_nn_backend backend; /* default ITX_NN_BACKEND_DNNL */
    int max_plans;               /* cached input shapes (LRU), default 8 */
    struct itx_nn_arena *arena;  /* shared activation memory (the session takes a reference);
                                    NULL: a new one of its own (default) */
};

void itx_nn_session_opts_default(struct itx_nn_session_opts *o);

/* Creates a session on m (takes its own reference, and one on o->arena when set). Not
 * thread-safe: one thread at a time. */
enum itx_status itx_nn_session_new(struct itx_nn_model *m, const struct itx_nn_session_opts *o,
                                   struct itx_nn_session **out, struct itx_diag *d);
void itx_nn_session_free(struct itx_nn_session *s);

/*
 * Runs the model on one float32 input (row-major, shape[0..rank-1]). The first run with a
 * new shape builds and caches its plan; later runs with that shape allocate nothing.
 * input may be NULL right after itx_nn_session_prepare with the same shape, when the caller
 * has written the input where that said. Errors: ITX_ERR_INVALID when the shape does not
 * fit the model (message says why), ITX_ERR_TOO_LARGE over limits, ITX_ERR_NOMEM,
 * ITX_ERR_INTERNAL for library failures.
 */
enum itx_status itx_nn_session_run(struct itx_nn_session *s, const float *input,
                                   const int64_t *shape, int rank, struct itx_diag *d);

/*
 * Builds (or finds) the plan for an input shape without running it, and sets *input to
 * where the input tensor goes, inside the arena: a caller that writes its tensor there and
 * then calls itx_nn_session_run(s, NULL, shape, rank, d) needs no buffer of its own and
 * saves a copy. *input is valid until the next prepare or run of this session or of another
 * sharing its arena. A server plans its shapes this way before it reports ready. Errors as
 * itx_nn_session_run.
 */
enum itx_status itx_nn_session_prepare(struct itx_nn_session *s, const int64_t *shape, int rank,
                                       float **input, struct itx_diag *d);

/*
 * Output k of the last successful run: data (row-major float32) valid until the next run
 * of this session or of another one sharing its arena, or until the session is freed;
 * shape written to shape[0..*rank-1].
 */
const float *itx_nn_session_output(const struct itx_nn_session *s, int k,
                                   int64_t shape[ITX_NN_MAX_DIMS], int *rank);

/* Bytes of activation memory of the plan used by the last run. */
size_t itx_nn_session_arena_bytes(const struct itx_nn_session *s);

#endif
