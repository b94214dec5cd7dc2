/*
 * Fuzz target: key-list parsing and CTC greedy decoding.
 * Input: key-list length L, use-space flag, number of time steps, then L bytes of key list
 * (if it does not parse, a fixed list is used), then one byte per matrix cell (b / 255;
 * 255 is NaN). Checks that the text is valid UTF-8 made of keys and the score is finite.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ocr/ocr-impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed[] = "\xe4\xbd\xa0\n\xe5\xa5\xbd\na\n\xef\xbf\xa5\n1\n\xf0\xa0\x80\x80";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_ocr_dict *dict = NULL;
    struct itx_diag d;
    size_t len, steps, n_classes, cells;
    float *m;
    char *text = NULL;
    float score;

    if (size < 3)
        return 0;
    len = data[0];
    steps = data[2] % 80;
    data += 3;
    size -= 3;
    if (len > size)
        len = size;
    itx_diag_init(&d);
    if (itx_ocr_dict_parse((const char *)data, len, data[-2] & 1, &dict, &d) != ITX_OK ||
        itx_ocr_dict_n_classes(dict) > 64) {
        itx_ocr_dict_free(dict);
        dict = NULL;
        if (itx_ocr_dict_parse(fixed, strlen(fixed), true, &dict, &d) != ITX_OK)
            abort();
    }
    data += len;
    size -= len;
    n_classes = itx_ocr_dict_n_classes(dict);
    cells = steps * n_classes;
    m = malloc(sizeof(float) * (cells ? cells : 1));
    if (!m) {
        itx_ocr_dict_free(dict);
        return 0;
    }
    for (size_t i = 0; i < cells; i++)
        m[i] = i < size ? (data[i] == 255 ? NAN : data[i] / 255.0f) : 0.0f;
    if (itx_ocr_ctc_decode(m, steps, n_classes, dict, &text, &score, &d) != ITX_OK)
        abort();
    for (size_t i = 0, n = strlen(text); i < n;) {
        uint32_t c;
        size_t nb = itx_ocr_utf8_next(text + i, n - i, &c);
        if (nb == 0)
            abort();
        i += nb;
    }
    if (!isfinite(score) || score < 0 || score > 1)
        abort();
    (void)itx_ocr_text_flags(text);
    /* A mismatched class count is refused, not read past. */
    if (itx_ocr_ctc_decode(m, steps, n_classes + 1, dict, &text, &score, &d) != ITX_ERR_MODEL)
        abort();
    itx_free(text);
    free(m);
    itx_ocr_dict_free(dict);
    return 0;
}
