/*
 * Google Gemini generateContent (https://ai.google.dev/api/generate-content):
 * POST {base}/models/{model}:generateContent with the key in x-goog-api-key, a system
 * instruction, the segments as user text, temperature 0 and a JSON response schema. Errors
 * follow google.rpc.Status: {"error":{"code","message","status","details":[...]}} where
 * details may carry RetryInfo {"retryDelay":"37s"} and QuotaFailure violations whose
 * quotaId names a per-day quota.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "translate/translate-impl.h"

static enum itx_status
gemini_build(const struct itx_translator *t, const char *system, const char *user,
             struct itx_buf *url, struct curl_slist **headers, struct itx_buf *body,
             struct itx_diag *d)
{
    json_t *req;
    char *js = NULL, hdr[1024];
    struct curl_slist *h = NULL, *h2;
    enum itx_status s = ITX_OK;

    if (itx_buf_printf(url, "%s/models/%s:generateContent", t->base_url, t->model))
        return itx_diag_set(d, ITX_ERR_INVALID, "gemini: base URL or model name too long");
    req = json_pack("{s:{s:[{s:s}]}, s:[{s:s, s:[{s:s}]}], s:{s:f, s:s, s:{s:s, s:{s:{s:s, s:{s:s, "
                    "s:{s:{s:s}, s:{s:s}}, s:[s, s]}}}, s:[s]}}}",
                    "systemInstruction", "parts", "text", system, "contents", "role", "user",
                    "parts", "text", user, "generationConfig", "temperature", t->temperature,
                    "responseMimeType", "application/json", "responseSchema", "type", "OBJECT",
                    "properties", "translations", "type", "ARRAY", "items", "type", "OBJECT",
                    "properties", "id", "type", "INTEGER", "text", "type", "STRING", "required",
                    "id", "text", "required", "translations");
    if (req)
        js = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!js)
        return itx_diag_set(d, ITX_ERR_NOMEM, "gemini: cannot build the request");
    s = itx_buf_puts(body, js);
    free(js);
    if (s)
        return itx_diag_set(d, s, "gemini: request over the size limit");
    snprintf(hdr, sizeof(hdr), "x-goog-api-key: %s", t->api_key ? t->api_key : "");
    h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h && (h2 = curl_slist_append(h, hdr)) != NULL)
        h = h2;
    else {
        curl_slist_free_all(h);
        h = NULL;
    }
    memset(hdr, 0, sizeof(hdr)); /* the key does not linger on the stack */
    if (!h)
        return itx_diag_set(d, ITX_ERR_NOMEM, "gemini: cannot build the request headers");
    *headers = h;
    return ITX_OK;
}

/* "37s", "0.250s" -> milliseconds; -1 when not a duration. */
static long
parse_duration_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != 's' || end[1] != '\0' || v < 0 || v > 86400)
        return -1;
    return (long)(v * 1000.0 + 0.5);
}

static void
read_error(json_t *e, struct tr_llm_error *err)
{
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *status = json_string_value(json_object_get(e, "status"));
    json_t *details = json_object_get(e, "details"), *it;
    size_t i;

    snprintf(err->message, sizeof(err->message), "%s%s%.250s", status ? status : "",
             status ? ": " : "", msg ? msg : "(no message)");
    if (msg && (strstr(msg, "billing") || strstr(msg, "Billing")))
        err->no_retry = true;
    if (status && strcmp(status, "FAILED_PRECONDITION") == 0)
        err->no_retry = true;
    json_array_foreach(details, i, it)
    {
        const char *type = json_string_value(json_object_get(it, "@type"));
        if (!type)
            continue;
        if (strstr(type, "google.rpc.RetryInfo")) {
            const char *rd = json_string_value(json_object_get(it, "retryDelay"));
            if (rd)
                err->retry_delay_ms = parse_duration_ms(rd);
        } else if (strstr(type, "google.rpc.QuotaFailure")) {
            json_t *v, *viol = json_object_get(it, "violations");
            size_t k;
            json_array_foreach(viol, k, v)
            {
                const char *id = json_string_value(json_object_get(v, "quotaId"));
                const char *metric = json_string_value(json_object_get(v, "quotaMetric"));
                if ((id && strstr(id, "PerDay")) || (metric && strstr(metric, "per_day"))) {
                    err->no_retry = true;
                    snprintf(err->message + strlen(err->message),
                             sizeof(err->message) - strlen(err->message), " [per-day quota]");
                    break;
                }
            }
        }
    }
}

enum itx_status
itx_tr_gemini_parse(const char *body, size_t len, struct itx_buf *content, struct tr_llm_error *err,
                    struct itx_diag *d)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *e, *cand, *parts, *p;
    const char *finish = NULL;
    enum itx_status s = ITX_OK;
    size_t i;

    if (!root)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: answer is not JSON (%s at byte %d)",
                            je.text, je.position);
    if (!json_is_object(root)) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: answer is not a JSON object");
        goto out;
    }
    if ((e = json_object_get(root, "error")) != NULL) {
        if (!json_is_object(e)) {
            s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: 'error' is not an object");
            goto out;
        }
        read_error(e, err);
        s = itx_diag_set(d, ITX_ERR_UPSTREAM, "gemini: %s", err->message);
        goto out;
    }
    cand = json_array_get(json_object_get(root, "candidates"), 0);
    if (!json_is_object(cand)) {
        const char *block = json_string_value(
            json_object_get(json_object_get(root, "promptFeedback"), "blockReason"));
        if (block) {
            snprintf(err->message, sizeof(err->message), "prompt blocked: %.100s", block);
            err->no_retry = true;
            s = itx_diag_set(d, ITX_ERR_UPSTREAM, "gemini: %s", err->message);
        } else {
            s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: answer has no candidates");
        }
        goto out;
    }
    finish = json_string_value(json_object_get(cand, "finishReason"));
    if (finish && strcmp(finish, "STOP") != 0) {
        snprintf(err->message, sizeof(err->message), "answer stopped early: %.100s", finish);
        err->no_retry = strcmp(finish, "SAFETY") == 0 || strcmp(finish, "PROHIBITED_CONTENT") == 0;
        s = itx_diag_set(d, ITX_ERR_UPSTREAM, "gemini: %s", err->message);
        goto out;
    }
    parts = json_object_get(json_object_get(cand, "content"), "parts");
    if (!json_is_array(parts) || json_array_size(parts) == 0) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: candidate has no content parts");
        goto out;
    }
    json_array_foreach(parts, i, p)
    {
        const char *txt = json_string_value(json_object_get(p, "text"));
        if (json_is_true(json_object_get(p, "thought")))
            continue; /* thinking models may return their reasoning as a separate part */
        if (txt &&
            (s = itx_buf_append(content, txt, json_string_length(json_object_get(p, "text")))))
            break;
    }
    if (s)
        s = itx_diag_set(d, s, "gemini: answer text over the size limit");
    else if (content->len == 0)
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "gemini: answer has no text");
out:
    json_decref(root);
    return s;
}

const struct tr_llm_ops itx_tr_gemini_ops = {"gemini", gemini_build, itx_tr_gemini_parse};
