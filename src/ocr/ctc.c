/*
 * Recognizer key list and CTC greedy decoding (PaddleOCR CTCLabelDecode).
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "ocr/ocr-impl.h"

struct itx_ocr_dict {
    size_t n_keys;
    size_t *off; /* n_keys offsets into blob, each key NUL-terminated */
    char *blob;
};

void
itx_ocr_dict_free(struct itx_ocr_dict *dict)
{
    if (!dict)
        return;
    itx_free(dict->off);
    itx_free(dict->blob);
    itx_free(dict);
}

size_t
itx_ocr_dict_n_classes(const struct itx_ocr_dict *dict)
{
    return dict->n_keys + 1;
}

const char *
itx_ocr_dict_key(const struct itx_ocr_dict *dict, size_t i)
{
    if (i == 0 || i > dict->n_keys)
        return NULL;
    return dict->blob + dict->off[i - 1];
}

enum itx_status
itx_ocr_dict_parse(const char *data, size_t size, bool use_space, struct itx_ocr_dict **out,
                   struct itx_diag *d)
{
    struct itx_ocr_dict *dict = NULL;
    size_t n_lines = 0, blob_size, pos = 0, at = 0;
    enum itx_status st = ITX_OK;

    if (size > ITX_OCR_DICT_MAX_SIZE)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "key list is %zu bytes, over the %zu-byte limit",
                            size, ITX_OCR_DICT_MAX_SIZE);
    /* Lines as Python's readlines() sees them: a final line end adds no empty line. */
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n_lines++;
    if (size > 0 && data[size - 1] != '\n')
        n_lines++;
    if (n_lines + (use_space ? 1 : 0) == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "key list is empty");
    if (n_lines + (use_space ? 1 : 0) > ITX_OCR_DICT_MAX_KEYS)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "key list has %zu keys, over the %d-key limit",
                            n_lines + (use_space ? 1 : 0), ITX_OCR_DICT_MAX_KEYS);
    blob_size = size + n_lines + 3;
    dict = itx_calloc(1, sizeof(*dict));
    if (!dict)
        goto nomem;
    dict->off = itx_malloc_array(n_lines + 1, sizeof(*dict->off));
    dict->blob = itx_malloc(blob_size);
    if (!dict->off || !dict->blob)
        goto nomem;
    for (size_t line = 1; pos < size; line++) {
        const char *s = data + pos, *nl = memchr(s, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - s) : size - pos;
        pos += len + (nl ? 1 : 0);
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (len > ITX_OCR_DICT_MAX_KEY) {
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "key list line %zu is %zu bytes, over the %d-byte limit", line, len,
                              ITX_OCR_DICT_MAX_KEY);
            goto out;
        }
        for (size_t k = 0; k < len;) {
            uint32_t cp;
            size_t nb = itx_ocr_utf8_next(s + k, len - k, &cp);
            if (nb == 0 || cp == 0) {
                st = itx_diag_set(d, ITX_ERR_INVALID, "key list line %zu is not valid UTF-8", line);
                goto out;
            }
            k += nb;
        }
        dict->off[dict->n_keys++] = at;
        memcpy(dict->blob + at, s, len);
        at += len;
        dict->blob[at++] = '\0';
    }
    if (use_space) {
        dict->off[dict->n_keys++] = at;
        dict->blob[at++] = ' ';
        dict->blob[at++] = '\0';
    }
    ITX_ASSERT(at <= blob_size && dict->n_keys <= n_lines + 1);
    *out = dict;
    dict = NULL;
    goto out;
nomem:
    st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory loading the key list");
out:
    itx_ocr_dict_free(dict);
    return st;
}

enum itx_status
itx_ocr_dict_load(const char *path, bool use_space, struct itx_ocr_dict **out, struct itx_diag *d)
{
    uint8_t *data = NULL;
    size_t len = 0;
    enum itx_status st = itx_file_read(path, ITX_OCR_DICT_MAX_SIZE, &data, &len, d);

    if (st == ITX_OK)
        st = itx_ocr_dict_parse((const char *)data, len, use_space, out, d);
    itx_free(data);
    if (st != ITX_OK)
        itx_diag_prefix(d, "'%s'", path);
    return st;
}

enum itx_status
itx_ocr_ctc_decode(const float *probs, size_t n_steps, size_t n_classes,
                   const struct itx_ocr_dict *dict, char **text, float *score, struct itx_diag *d)
{
    size_t *best = NULL, len = 0, prev = (size_t)-1, kept = 0;
    double sum = 0;
    char *s = NULL;

    if (n_classes != itx_ocr_dict_n_classes(dict))
        return itx_diag_set(d, ITX_ERR_MODEL,
                            "recognizer has %zu classes but the key list gives %zu", n_classes,
                            itx_ocr_dict_n_classes(dict));
    best = itx_malloc_array(n_steps ? n_steps : 1, sizeof(*best));
    if (!best)
        goto nomem;
    for (size_t t = 0; t < n_steps; t++) {
        const float *row = probs + t * n_classes;
        size_t arg = 0;
        float m = row[0];
        for (size_t c = 1; c < n_classes; c++) {
            /* The first maximum wins (numpy argmax); NaN never does. */
            if (row[c] > m || (isnan(m) && !isnan(row[c]))) {
                m = row[c];
                arg = c;
            }
        }
        best[t] = arg;
        if (arg != 0 && arg != prev) {
            len += strlen(itx_ocr_dict_key(dict, arg));
            if (isfinite(m))
                sum += (double)m;
            kept++;
        }
        prev = arg;
    }
    s = itx_malloc(len + 1);
    if (!s)
        goto nomem;
    len = 0;
    prev = (size_t)-1;
    for (size_t t = 0; t < n_steps; t++) {
        if (best[t] != 0 && best[t] != prev) {
            const char *k = itx_ocr_dict_key(dict, best[t]);
            size_t kl = strlen(k);
            memcpy(s + len, k, kl);
            len += kl;
        }
        prev = best[t];
    }
    s[len] = '\0';
    itx_free(best);
    *text = s;
    *score = kept ? (float)(sum / (double)kept) : 0.0f;
    return ITX_OK;
nomem:
    itx_free(best);
    return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory decoding a text line");
}
