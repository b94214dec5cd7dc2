/*
 * OpenAI-compatible chat completions (https://platform.openai.com/docs/api-reference/chat):
 * POST {base}/chat/completions with "Authorization: Bearer KEY" (left out when there is no
 * key, for local llama.cpp, vLLM or Ollama servers), system and user messages,
 * temperature 0 and response_format json_object. The same request works with DeepSeek and
 * Qwen's compatible mode. Errors: {"error":{"message","type","code"}}; insufficient_quota is
 * never retried; Retry-After (or retry-after-ms) headers give the delay.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "translate/translate-impl.h"

static enum itx_status
openai_build(const struct itx_translator *t, const char *system, const char *user,
             struct itx_buf *url, struct curl_slist **headers, struct itx_buf *body,
             struct itx_diag *d)
{
    json_t *req;
    char *js = NULL, hdr[1024];
    struct curl_slist *h = NULL, *h2;
    enum itx_status s;

    if (itx_buf_printf(url, "%s/chat/completions", t->base_url))
        return itx_diag_set(d, ITX_ERR_INVALID, "openai: base URL too long");
    req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:{s:s}}", "model", t->model,
                    "messages", "role", "system", "content", system, "role", "user", "content",
                    user, "temperature", t->temperature, "response_format", "type", "json_object");
    if (req)
        js = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!js)
        return itx_diag_set(d, ITX_ERR_NOMEM, "openai: cannot build the request");
    s = itx_buf_puts(body, js);
    free(js);
    if (s)
        return itx_diag_set(d, s, "openai: request over the size limit");
    h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h && t->api_key && t->api_key[0]) {
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", t->api_key);
        h2 = curl_slist_append(h, hdr);
        memset(hdr, 0, sizeof(hdr));
        if (!h2) {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    if (!h)
        return itx_diag_set(d, ITX_ERR_NOMEM, "openai: cannot build the request headers");
    *headers = h;
    return ITX_OK;
}

enum itx_status
itx_tr_openai_parse(const char *body, size_t len, struct itx_buf *content, struct tr_llm_error *err,
                    struct itx_diag *d)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *e, *choice, *msg, *c;
    const char *finish;
    enum itx_status s = ITX_OK;

    if (!root)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "openai: answer is not JSON (%s at byte %d)",
                            je.text, je.position);
    if (!json_is_object(root)) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "openai: answer is not a JSON object");
        goto out;
    }
    if ((e = json_object_get(root, "error")) != NULL && !json_is_null(e)) {
        const char *m = json_string_value(json_object_get(e, "message"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *code = json_string_value(json_object_get(e, "code"));
        if (json_is_string(e))
            m = json_string_value(e); /* some compatible servers answer {"error":"..."} */
        snprintf(err->message, sizeof(err->message), "%s%s%.250s", code ? code : (type ? type : ""),
                 code || type ? ": " : "", m ? m : "(no message)");
        if ((code && (strcmp(code, "insufficient_quota") == 0 ||
                      strcmp(code, "billing_hard_limit_reached") == 0)) ||
            (type && strcmp(type, "insufficient_quota") == 0))
            err->no_retry = true;
        s = itx_diag_set(d, ITX_ERR_UPSTREAM, "openai: %s", err->message);
        goto out;
    }
    choice = json_array_get(json_object_get(root, "choices"), 0);
    if (!json_is_object(choice)) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "openai: answer has no choices");
        goto out;
    }
    finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish && strcmp(finish, "stop") != 0) {
        snprintf(err->message, sizeof(err->message), "answer stopped early: %.100s", finish);
        err->no_retry = strcmp(finish, "content_filter") == 0;
        s = itx_diag_set(d, ITX_ERR_UPSTREAM, "openai: %s", err->message);
        goto out;
    }
    msg = json_object_get(choice, "message");
    if (json_is_string(json_object_get(msg, "refusal"))) {
        snprintf(err->message, sizeof(err->message), "model refused: %.200s",
                 json_string_value(json_object_get(msg, "refusal")));
        err->no_retry = true;
        s = itx_diag_set(d, ITX_ERR_UPSTREAM, "openai: %s", err->message);
        goto out;
    }
    c = json_object_get(msg, "content");
    if (!json_is_string(c) || json_string_length(c) == 0) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "openai: answer has no message content");
        goto out;
    }
    if ((s = itx_buf_append(content, json_string_value(c), json_string_length(c))))
        s = itx_diag_set(d, s, "openai: answer text over the size limit");
out:
    json_decref(root);
    return s;
}

const struct tr_llm_ops itx_tr_openai_ops = {"openai", openai_build, itx_tr_openai_parse};
