/*
 * JSON helpers shared by the request parsers of this module (request.c for /v1/translate and
 * /v1/ocr, web.c for /v1/render): loading a body, naming a value's type in an error, and a
 * printable copy of untrusted text for a message.
 */
#include <jansson.h>
#include <string.h>

#include "server/server-impl.h"

const char *
api_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

enum itx_status
api_json_type_error(struct itx_diag *d, const char *path, const char *want, const json_t *got)
{
    return itx_diag_set(d, ITX_ERR_INVALID, "'%s' must be %s, not %s", path, want,
                        api_json_type_name(got));
}

void
api_json_quote(char out[72], const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 64; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 64) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

enum itx_status
api_json_load(const void *body, size_t len, json_t **out, struct itx_diag *d)
{
    json_error_t je;
    json_t *root;

    if (len == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "the request body is empty (expected JSON)");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return itx_diag_set(d, ITX_ERR_INVALID, "invalid JSON at line %d, column %d: %s", je.line,
                            je.column, je.text);
    *out = root;
    return ITX_OK;
}
