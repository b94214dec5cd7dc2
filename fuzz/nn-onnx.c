/*
 * libFuzzer target: the ONNX loader and optimiser on arbitrary bytes, with low limits, and
 * when a model loads, a plan and a run on a small input of the declared rank (exercising
 * shape inference, constant folding and the planner with both backends).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_nn_limits lim;
    struct itx_nn_model *m = NULL;
    struct itx_diag d;

    itx_nn_limits_default(&lim);
    lim.max_file_size = 1 << 20;
    lim.max_nodes = 2000;
    lim.max_tensor_elems = 1 << 16;
    lim.max_arena_bytes = 16 << 20;
    itx_diag_init(&d);
    if (itx_nn_model_load_buffer(data, size, "fuzz.onnx", &lim, &m, &d) != ITX_OK)
        return 0;
    int rank = itx_nn_model_input_rank(m);
    if (rank >= 1 && rank <= 4) {
        int64_t shape[4] = {1, 3, 8, 8};
        float *x = calloc(256, sizeof(float));
        for (int b = 0; b < 2 && x; b++) {
            struct itx_nn_session_opts o;
            struct itx_nn_session *s = NULL;
            itx_nn_session_opts_default(&o);
            o.backend = b ? ITX_NN_BACKEND_REF : ITX_NN_BACKEND_DNNL;
            if (itx_nn_session_new(m, &o, &s, &d) == ITX_OK)
                itx_nn_session_run(s, x, shape + (4 - rank), rank, &d);
            itx_nn_session_free(s);
        }
        free(x);
    }
    itx_nn_model_free(m);
    return 0;
}
