/*
 * libFuzzer target: the dictionary translator on untrusted input. The input is a
 * per-request glossary (TSV, untrusted in requests) and, after the first NUL byte, a text as
 * OCR would give it; both go through glossary parsing, protection, dictionary translation and
 * the output checks. Needs the CEDICT index ($ITX_MODELS_DIR/cedict.idx); without it the
 * target only parses glossaries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "translate/translate-impl.h"
#include "translate/translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct itx_dict *dict;
static struct itx_glossary *builtin;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t glen = nul ? (size_t)(nul - data) : size;
    struct itx_glossary *g = itx_glossary_new();
    struct itx_diag d;
    char *text;

    if (!ready) {
        ready = 1;
        itx_diag_init(&d);
        builtin = itx_glossary_new();
        if (builtin)
            itx_glossary_add_builtin_en(builtin, &d);
        if (itx_dict_open(NULL, &dict, &d) != ITX_OK)
            dict = NULL;
    }
    itx_diag_init(&d);
    if (!g)
        return 0;
    itx_glossary_parse(g, (const char *)data, glen, "fuzz.tsv", &d);
    text = itx_strndup(nul ? (const char *)nul + 1 : "", nul ? size - glen - 1 : 0);
    if (text) {
        struct itx_buf out;
        itx_tr_protect(text, builtin, g);
        itx_buf_init(&out, 1 << 20);
        if (dict && itx_dict_translate(dict, builtin, g, text, &out, NULL, &d) == ITX_OK &&
            out.data)
            itx_tr_check_output(text, out.data, "en", builtin, g);
        itx_buf_release(&out);
        itx_free(text);
    }
    itx_glossary_free(g);
    return 0;
}
