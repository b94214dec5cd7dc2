/*
 * The translator: configuration, the request flow (protection, cache, one batched provider
 * call, validation, one retry of failed segments, dictionary fallback) and the parser of
 * the models' JSON answers.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "translate/translate-impl.h"
#include "translate/translate.h"

#define GEMINI_DEFAULT_BASE "https://generativelanguage.googleapis.com/v1beta"
#define GEMINI_DEFAULT_MODEL "gemini-2.5-flash"
#define OPENAI_DEFAULT_BASE "https://api.openai.com/v1"
#define OPENAI_DEFAULT_MODEL "gpt-4o-mini"
#define MAX_PROMPT_BYTES ((size_t)4 << 20)

const char *
itx_tr_provider_str(enum itx_tr_provider p)
{
    switch (p) {
    case ITX_TR_GEMINI:
        return "gemini";
    case ITX_TR_OPENAI:
        return "openai";
    default:
        return "dict";
    }
}

bool
itx_tr_provider_parse(const char *name, enum itx_tr_provider *out)
{
    if (strcmp(name, "dict") == 0)
        *out = ITX_TR_DICT;
    else if (strcmp(name, "gemini") == 0)
        *out = ITX_TR_GEMINI;
    else if (strcmp(name, "openai") == 0)
        *out = ITX_TR_OPENAI;
    else
        return false;
    return true;
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

enum itx_status
itx_tr_config_from_env(struct itx_tr_config *c, struct itx_diag *d)
{
    const char *p = env("ITX_TRANSLATE_PROVIDER");
    long long v;
    enum itx_status s;

    if (p && c->provider == ITX_TR_DICT && !itx_tr_provider_parse(p, &c->provider))
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "ITX_TRANSLATE_PROVIDER is '%s'; expected dict, gemini or openai", p);
    if (c->provider == ITX_TR_GEMINI) {
        if (!c->api_key)
            c->api_key = env("GEMINI_API_KEY");
        if (!c->model)
            c->model = env("ITX_GEMINI_MODEL");
        if (!c->base_url)
            c->base_url = env("ITX_GEMINI_BASE_URL");
    } else if (c->provider == ITX_TR_OPENAI) {
        if (!c->api_key)
            c->api_key = env("OPENAI_API_KEY");
        if (!c->model)
            c->model = env("ITX_OPENAI_MODEL");
        if (!c->base_url)
            c->base_url = env("ITX_OPENAI_BASE_URL");
    }
    if (!c->glossary_path)
        c->glossary_path = env("ITX_GLOSSARY_FILE");
    if (!c->connect_timeout_ms) {
        if ((s = itx_env_int("ITX_TRANSLATE_CONNECT_TIMEOUT_MS", 5000, 1, 600000, &v, d)))
            return s;
        c->connect_timeout_ms = (long)v;
    }
    if (!c->timeout_ms) {
        if ((s = itx_env_int("ITX_TRANSLATE_TIMEOUT_MS", 30000, 1, 3600000, &v, d)))
            return s;
        c->timeout_ms = (long)v;
    }
    if (!c->max_attempts) {
        if ((s = itx_env_int("ITX_TRANSLATE_MAX_ATTEMPTS", 4, 1, 20, &v, d)))
            return s;
        c->max_attempts = (int)v;
    }
    if (!c->concurrency) {
        if ((s = itx_env_int("ITX_TRANSLATE_CONCURRENCY", 4, 1, 1024, &v, d)))
            return s;
        c->concurrency = (int)v;
    }
    return ITX_OK;
}

static char *
dup_or(const char *s, const char *def)
{
    return itx_strdup(s ? s : def);
}

enum itx_status
itx_translator_new(const struct itx_tr_config *cfg, struct itx_translator **out, struct itx_diag *d)
{
    struct itx_translator *t = itx_calloc(1, sizeof(*t));
    enum itx_status s = ITX_OK;
    bool gem = cfg->provider == ITX_TR_GEMINI;

    if (!t)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating a translator");
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->provider = cfg->provider;
    t->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    t->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 4;
    t->base_delay_ms = cfg->base_delay_ms > 0 ? cfg->base_delay_ms : 500;
    t->max_delay_ms = cfg->max_delay_ms > 0 ? cfg->max_delay_ms : 30000;
    t->max_in_flight = cfg->concurrency > 0 ? cfg->concurrency : 4;
    t->temperature = cfg->temperature;
    t->fallback = !cfg->no_fallback;
    t->cache = cfg->cache;
    if (cfg->provider != ITX_TR_DICT) {
        t->ops = gem ? &itx_tr_gemini_ops : &itx_tr_openai_ops;
        t->model = dup_or(cfg->model, gem ? GEMINI_DEFAULT_MODEL : OPENAI_DEFAULT_MODEL);
        t->base_url = dup_or(cfg->base_url, gem ? GEMINI_DEFAULT_BASE : OPENAI_DEFAULT_BASE);
        t->api_key = cfg->api_key ? itx_strdup(cfg->api_key) : NULL;
        if (!t->model || !t->base_url || (cfg->api_key && !t->api_key)) {
            s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating a translator");
            goto fail;
        }
        /* Trailing slashes would double in "{base}/models/...". */
        for (size_t n = strlen(t->base_url); n > 0 && t->base_url[n - 1] == '/'; n--)
            t->base_url[n - 1] = '\0';
        if (!t->api_key && (gem || strcmp(t->base_url, OPENAI_DEFAULT_BASE) == 0)) {
            s = itx_diag_set(d, ITX_ERR_AUTH, "%s: no API key; set %s", t->ops->name,
                             gem ? "GEMINI_API_KEY" : "OPENAI_API_KEY");
            goto fail;
        }
    } else {
        t->model = itx_strdup("cedict");
        if (!t->model) {
            s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating a translator");
            goto fail;
        }
    }
    t->glossary = itx_glossary_new();
    if (!t->glossary) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory creating a translator");
        goto fail;
    }
    if (!cfg->no_builtin_glossary && (s = itx_glossary_add_builtin_en(t->glossary, d)))
        goto fail;
    if (cfg->glossary_path && (s = itx_glossary_load_file(t->glossary, cfg->glossary_path, d)))
        goto fail;
    itx_glossary_version(t->glossary, t->glossary_version);
    s = itx_dict_open(cfg->dict_path, &t->dict, d);
    if (s && cfg->provider == ITX_TR_DICT)
        goto fail;
    if (s) {
        itx_log(ITX_LOG_WARNING, NULL, NULL, "%s translator without dictionary fallback: %s",
                t->ops->name, d ? d->msg : "");
        t->dict = NULL;
        if (d)
            itx_diag_init(d);
        s = ITX_OK;
    }
    *out = t;
    return ITX_OK;
fail:
    itx_translator_free(t);
    return s;
}

void
itx_translator_free(struct itx_translator *t)
{
    if (!t)
        return;
    itx_glossary_free(t->glossary);
    itx_dict_free(t->dict);
    itx_free(t->model);
    itx_free(t->base_url);
    if (t->api_key) {
        memset(t->api_key, 0, strlen(t->api_key));
        itx_free(t->api_key);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    itx_free(t);
}

void
itx_tr_results_release(struct itx_tr_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        itx_free(r[i].text);
        r[i].text = NULL;
    }
}

/* ---- model answers ---------------------------------------------------------------------- */

void
itx_tr_answer_free(struct tr_answer_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        itx_free(items[i].text);
    itx_free(items);
}

enum itx_status
itx_tr_parse_answer(const char *content, size_t len, struct tr_answer_item **items, size_t *n_items,
                    struct itx_diag *d)
{
    json_error_t je;
    json_t *root, *arr, *it;
    struct tr_answer_item *out = NULL;
    size_t i, n = 0;
    enum itx_status s = ITX_OK;

    /* Some models wrap JSON in a Markdown fence despite the JSON mode. */
    while (len && (*content == ' ' || *content == '\n' || *content == '\r' || *content == '\t')) {
        content++;
        len--;
    }
    if (len >= 3 && memcmp(content, "```", 3) == 0) {
        const char *nl = memchr(content, '\n', len);
        const char *end = NULL;
        if (nl) {
            len -= (size_t)(nl + 1 - content);
            content = nl + 1;
            for (size_t k = len; k >= 3; k--)
                if (memcmp(content + k - 3, "```", 3) == 0) {
                    end = content + k - 3;
                    break;
                }
            if (end)
                len = (size_t)(end - content);
        }
    }
    root = json_loadb(content, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "model answer is not JSON (%s)", je.text);
    arr = json_is_array(root) ? root : json_object_get(root, "translations");
    if (!json_is_array(arr)) {
        s = itx_diag_set(d, ITX_ERR_UNDECODABLE, "model answer has no 'translations' array");
        goto out;
    }
    if (json_array_size(arr) > ITX_TR_MAX_SEGMENTS * 2) {
        s = itx_diag_set(d, ITX_ERR_TOO_LARGE, "model answer has %zu items, over %u",
                         json_array_size(arr), ITX_TR_MAX_SEGMENTS * 2);
        goto out;
    }
    out = itx_calloc(json_array_size(arr) + 1, sizeof(*out));
    if (!out) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading a model answer");
        goto out;
    }
    json_array_foreach(arr, i, it)
    {
        json_t *id = json_object_get(it, "id"), *text = json_object_get(it, "text");
        long long v;
        if (json_is_integer(id))
            v = json_integer_value(id);
        else if (json_is_string(id) && itx_parse_int(json_string_value(id), 0, 1000000, &v))
            ;
        else
            continue; /* an item without a usable id cannot be placed */
        if (!json_is_string(text) || v < 0 || v > 1000000)
            continue;
        out[n].id = (long)v;
        out[n].text = itx_strndup(json_string_value(text), json_string_length(text));
        if (!out[n].text) {
            s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading a model answer");
            goto out;
        }
        n++;
    }
out:
    json_decref(root);
    if (s) {
        itx_tr_answer_free(out, n);
        return s;
    }
    *items = out;
    *n_items = n;
    return ITX_OK;
}

/* ---- the request flow ------------------------------------------------------------------ */

struct gl_prompt {
    struct itx_buf *b;
    const char *const *texts;
    size_t n;
    enum itx_status s;
};

static bool
add_glossary_line(const char *term, const char *tr, void *arg)
{
    struct gl_prompt *p = arg;
    if (strchr(term, '{'))
        return true; /* templates are for the dictionary */
    for (size_t i = 0; i < p->n; i++) {
        if (strstr(p->texts[i], term)) {
            p->s = itx_buf_printf(p->b, "%s => %s\n", term, tr ? tr : "(keep as is)");
            return p->s == ITX_OK;
        }
    }
    return true;
}

static enum itx_status
build_prompt(const struct itx_translator *t, const struct itx_glossary *rg, const char *target,
             const char *const *texts, size_t n, struct itx_buf *system, struct itx_buf *user,
             struct itx_diag *d)
{
    const char *lang = itx_tr_language_name(target);
    struct gl_prompt gp = {.b = user, .texts = texts, .n = n};
    json_t *arr = json_array();
    char *js = NULL;
    enum itx_status s;

    s = itx_buf_printf(
        system,
        "You translate short Chinese texts from product pictures of an online shop into %s. "
        "Each segment is one text block of a picture; translate each one on its own, briefly, "
        "in the style of e-commerce copy, as a native %s-speaking shop would write it. Keep "
        "brand names, model numbers, Latin text, URLs, numbers, prices and units exactly as "
        "they are. When a glossary is given, use its translations exactly and keep the "
        "terms marked 'keep as is' unchanged. Answer only with JSON of the form "
        "{\"translations\":[{\"id\":<segment id>,\"text\":\"<translation>\"}]} holding exactly "
        "one item for each segment, with the same ids.",
        lang, lang);
    if (s == ITX_OK)
        s = itx_buf_puts(user, "Glossary:\n");
    if (s == ITX_OK) {
        itx_glossary_each(rg, add_glossary_line, &gp);
        if (gp.s == ITX_OK)
            itx_glossary_each(t->glossary, add_glossary_line, &gp);
        s = gp.s;
    }
    for (size_t i = 0; i < n && arr && s == ITX_OK; i++)
        if (json_array_append_new(
                arr, json_pack("{s:I, s:s}", "id", (json_int_t)(i + 1), "text", texts[i])))
            s = ITX_ERR_NOMEM;
    if (s == ITX_OK && arr)
        js = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (s == ITX_OK && !js)
        s = ITX_ERR_NOMEM;
    if (s == ITX_OK)
        s = itx_buf_printf(user, "Segments:\n%s\n", js);
    free(js);
    if (s)
        return itx_diag_set(d, s, "%s: prompt over the %zu-byte limit", t->ops->name, user->max);
    return ITX_OK;
}

/* One provider round over the pending segments; fills done texts and leaves failures. */
static enum itx_status
llm_round(struct itx_translator *t, const struct itx_tr_request *req, const char *target,
          const size_t *pending, size_t n_pending, char **texts_out, struct itx_tr_stats *stats,
          struct itx_diag *d)
{
    struct itx_buf system, user, content;
    const char **texts = itx_calloc(n_pending + 1, sizeof(*texts));
    struct tr_answer_item *items = NULL;
    size_t n_items = 0;
    enum itx_status s;

    itx_buf_init(&system, 16384);
    itx_buf_init(&user, MAX_PROMPT_BYTES);
    itx_buf_init(&content, (size_t)8 << 20);
    if (!texts) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory building a prompt");
        goto out;
    }
    for (size_t i = 0; i < n_pending; i++)
        texts[i] = req->segments[pending[i]].text;
    s = build_prompt(t, req->glossary, target, texts, n_pending, &system, &user, d);
    if (s == ITX_OK)
        s = itx_tr_llm_complete(t, system.data, user.data, &content, stats, d);
    if (s)
        goto out;
    if (itx_tr_parse_answer(content.data, content.len, &items, &n_items, d) != ITX_OK) {
        /* Unreadable answer: every segment of this round failed; the caller retries. */
        itx_log(ITX_LOG_WARNING, NULL, NULL, "%s: %s", t->ops->name, d ? d->msg : "");
        if (d)
            itx_diag_init(d);
        goto out;
    }
    if (n_items != n_pending)
        itx_log(ITX_LOG_WARNING, NULL, NULL, "%s: answer has %zu segments, expected %zu",
                t->ops->name, n_items, n_pending);
    for (size_t k = 0; k < n_items; k++) {
        long id = items[k].id;
        const char *why;
        bool dup = false;
        if (id < 1 || (size_t)id > n_pending)
            continue;
        for (size_t j = 0; j < n_items; j++)
            dup |= j != k && items[j].id == id;
        if (dup)
            continue; /* two answers for one id: trust neither */
        why = itx_tr_check_output(texts[id - 1], items[k].text, target, t->glossary, req->glossary);
        if (why) {
            itx_log(ITX_LOG_WARNING, NULL, NULL, "%s: segment %ld rejected: %s", t->ops->name, id,
                    why);
            continue;
        }
        texts_out[id - 1] = items[k].text;
        items[k].text = NULL;
    }
out:
    itx_tr_answer_free(items, n_items);
    itx_free(texts);
    itx_buf_release(&system);
    itx_buf_release(&user);
    itx_buf_release(&content);
    return s;
}

static enum itx_status
check_request(const struct itx_translator *t, const struct itx_tr_request *req, const char *target,
              struct itx_diag *d)
{
    if (req->n_segments > ITX_TR_MAX_SEGMENTS)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "request has %zu segments, over the limit of %u",
                            req->n_segments, ITX_TR_MAX_SEGMENTS);
    if (t->provider == ITX_TR_DICT && strcmp(target, "en") != 0)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "the dict provider translates only into English, not '%s'; use the "
                            "gemini or openai provider for other languages",
                            target);
    if (!itx_tr_language_supported(target))
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "target language '%s' is not supported; use one of en, es, fr, de, "
                            "it, pt, ru, ja, ko, vi, th, ar, id, tr, pl",
                            target);
    for (size_t i = 0; i < req->n_segments; i++) {
        const char *s = req->segments[i].text;
        size_t n;
        if (!s)
            return itx_diag_set(d, ITX_ERR_INVALID, "segment %d has no text", req->segments[i].id);
        n = strlen(s);
        if (n > ITX_TR_MAX_SEGMENT_BYTES)
            return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                "segment %d is %zu bytes, over the %u-byte limit",
                                req->segments[i].id, n, ITX_TR_MAX_SEGMENT_BYTES);
        if (!itx_tr_utf8_valid(s, n))
            return itx_diag_set(d, ITX_ERR_INVALID, "segment %d is not valid UTF-8",
                                req->segments[i].id);
        for (size_t j = 0; j < i; j++)
            if (req->segments[j].id == req->segments[i].id)
                return itx_diag_set(d, ITX_ERR_INVALID, "segment id %d is used twice",
                                    req->segments[i].id);
    }
    return ITX_OK;
}

static enum itx_status
dict_one(struct itx_translator *t, const struct itx_tr_request *req, const char *text,
         struct itx_tr_result *r, struct itx_diag *d)
{
    struct itx_buf b;
    struct itx_dict_stats ds;
    enum itx_status s;

    itx_buf_init(&b, (size_t)64 << 10);
    s = itx_dict_translate(t->dict, t->glossary, req->glossary, text, &b, &ds, d);
    if (s == ITX_OK) {
        r->text = itx_buf_take(&b, NULL);
        if (!r->text)
            r->text = itx_strdup("");
        if (!r->text)
            s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory storing a translation");
        if (ds.n_unknown)
            r->flags |= ITX_TR_FLAG_PARTIAL;
    }
    itx_buf_release(&b);
    return s;
}

enum itx_status
itx_translate(struct itx_translator *t, const struct itx_tr_request *req,
              struct itx_tr_result *results, struct itx_tr_stats *stats, struct itx_diag *d)
{
    const char *target = req->target ? req->target : "en";
    struct itx_tr_result *res = NULL;
    size_t *pending = NULL, n_pending = 0, n = req->n_segments;
    char **got = NULL, (*keys)[65] = NULL, gver[65];
    struct itx_tr_stats st;
    enum itx_status s;
    bool cacheable = t->cache && t->provider != ITX_TR_DICT && t->temperature == 0.0;

    memset(&st, 0, sizeof(st));
    if ((s = check_request(t, req, target, d)))
        return s;
    res = itx_calloc(n + 1, sizeof(*res));
    pending = itx_calloc(n + 1, sizeof(*pending));
    got = itx_calloc(n + 1, sizeof(*got));
    keys = itx_calloc(n + 1, sizeof(*keys));
    if (!res || !pending || !got || !keys) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory translating %zu segments", n);
        goto out;
    }
    /* The glossary version of a request: the server's, combined with the request's. */
    if (req->glossary && itx_glossary_count(req->glossary)) {
        char rv[65], both[140];
        itx_glossary_version(req->glossary, rv);
        snprintf(both, sizeof(both), "%s+%s", t->glossary_version, rv);
        itx_sha256_hex(both, strlen(both), gver);
    } else {
        memcpy(gver, t->glossary_version, sizeof(gver));
    }
    for (size_t i = 0; i < n && s == ITX_OK; i++) {
        const char *text = req->segments[i].text;
        res[i].skip = itx_tr_protect(text, t->glossary, req->glossary);
        if (res[i].skip != ITX_TR_SKIP_NONE) {
            if (!(res[i].text = itx_strdup(text)))
                s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory storing a translation");
            continue;
        }
        if (t->provider == ITX_TR_DICT) {
            s = dict_one(t, req, text, &res[i], d);
            continue;
        }
        if (cacheable) {
            char *v = NULL;
            struct itx_diag cd;
            itx_diag_init(&cd);
            itx_tr_cache_key(itx_tr_provider_str(t->provider), t->model, ITX_TR_PROMPT_VERSION,
                             "zh", target, gver, text, keys[i]);
            enum itx_status cs = itx_tr_cache_get(t->cache, keys[i], &v, &cd);
            if (cs == ITX_OK) {
                res[i].text = v;
                res[i].flags |= ITX_TR_FLAG_CACHED;
                st.cache_hits++;
                continue;
            }
            if (cs != ITX_ERR_NOT_FOUND)
                itx_log(ITX_LOG_WARNING, NULL, NULL, "%s", cd.msg);
            st.cache_misses++;
        }
        pending[n_pending++] = i;
    }
    if (s)
        goto out;
    /* Two rounds: everything pending, then the segments whose answer failed validation. */
    for (int round = 0; round < 2 && n_pending; round++) {
        struct itx_diag ld;
        size_t w = 0;
        itx_diag_init(&ld);
        memset(got, 0, (n + 1) * sizeof(*got));
        s = llm_round(t, req, target, pending, n_pending, got, &st, &ld);
        for (size_t k = 0; k < n_pending; k++) {
            size_t i = pending[k];
            if (got[k]) {
                res[i].text = got[k];
                got[k] = NULL;
                if (round)
                    res[i].flags |= ITX_TR_FLAG_RETRIED;
                if (cacheable) {
                    struct itx_diag cd;
                    itx_diag_init(&cd);
                    if (itx_tr_cache_put(t->cache, keys[i], res[i].text, &cd))
                        itx_log(ITX_LOG_WARNING, NULL, NULL, "%s", cd.msg);
                }
            } else {
                pending[w++] = i;
            }
        }
        n_pending = w;
        if (s) {
            /* The provider failed outright (after its own retries): no second round. */
            snprintf(st.provider_error, sizeof(st.provider_error), "%s", ld.msg);
            if (d)
                *d = ld;
            break;
        }
    }
    if (n_pending) {
        if (!t->dict || !t->fallback || strcmp(target, "en") != 0) {
            if (s == ITX_OK)
                s = itx_diag_set(d, ITX_ERR_UPSTREAM,
                                 "%s: %zu segment%s had no valid translation after a retry",
                                 t->ops->name, n_pending, n_pending == 1 ? "" : "s");
            goto out;
        }
        if (d)
            itx_diag_init(d);
        s = ITX_OK;
        for (size_t k = 0; k < n_pending && s == ITX_OK; k++) {
            size_t i = pending[k];
            s = dict_one(t, req, req->segments[i].text, &res[i], d);
            res[i].flags |= ITX_TR_FLAG_FALLBACK_DICT;
            st.n_fallback++;
        }
    } else {
        s = ITX_OK;
        if (d)
            itx_diag_init(d);
    }
out:
    if (s == ITX_OK) {
        memcpy(results, res, n * sizeof(*res));
    } else {
        itx_tr_results_release(res, n);
    }
    for (size_t i = 0; got && i < n; i++)
        itx_free(got[i]);
    itx_free(got);
    itx_free(res);
    itx_free(pending);
    itx_free(keys);
    if (stats)
        *stats = st;
    return s;
}
