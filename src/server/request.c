/*
 * The API request parser: strict JSON (jansson) and multipart/form-data (our own, over the
 * whole buffered body, which the HTTP layer has already capped). Every message names the
 * member or the image index that was wrong, and the limit when one was exceeded.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "server/server-impl.h"

#define MAX_URL 2048
#define MAX_NAME 255
#define MAX_GROUP 64
#define MAX_TERM 256

void
itx_api_limits_from_config(struct itx_api_limits *l, const struct itx_server_config *c,
                           enum itx_api_kind kind)
{
    l->max_images = (size_t)(kind == ITX_API_JOB ? c->max_job_images : c->max_images);
    l->max_image_bytes = (size_t)c->max_image_bytes;
    l->max_body_bytes = (size_t)c->max_upload_bytes;
    l->max_glossary = 1000;
}

void
itx_api_request_free(struct itx_api_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_images; i++) {
        itx_free(r->images[i].url);
        itx_free(r->images[i].data);
        itx_free(r->images[i].name);
        itx_free(r->images[i].group);
    }
    itx_free(r->images);
    for (size_t i = 0; i < r->n_glossary; i++) {
        itx_free(r->glossary[i].source);
        itx_free(r->glossary[i].target);
    }
    itx_free(r->glossary);
    itx_free(r->source_lang);
    itx_free(r->target_lang);
    itx_free(r->provider);
    itx_free(r->output_format);
    itx_free(r->webhook_url);
    itx_free(r);
}

const char *
itx_api_sniff_image(const uint8_t *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return "image/jpeg";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "image/gif";
    return NULL;
}

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool
itx_api_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len, size_t *bad_at)
{
    uint8_t *buf;
    size_t o = 0;

    if (n % 4 != 0) {
        *bad_at = n;
        return false;
    }
    buf = itx_malloc(n / 4 * 3 + 1);
    if (!buf) {
        *bad_at = SIZE_MAX;
        return false;
    }
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                /* '=' only in the last two places of the last quantum, and "x=y" is bad */
                if (k == 2 && s[i + 3] != '=') {
                    *bad_at = i + k;
                    goto bad;
                }
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = b64_value(c);
            if (v[k] < 0) {
                *bad_at = i + k;
                goto bad;
            }
        }
        buf[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
        if (pad < 2)
            buf[o++] = (uint8_t)(((v[1] & 15) << 4) | (v[2] >> 2));
        if (pad < 1)
            buf[o++] = (uint8_t)(((v[2] & 3) << 6) | v[3]);
    }
    *out = buf;
    *out_len = o;
    return true;
bad:
    itx_free(buf);
    return false;
}

/* Copies a JSON string member (1..max bytes, no control characters). */
static enum itx_status
get_string(const json_t *v, const char *path, size_t max, char **out, struct itx_diag *d)
{
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return api_json_type_error(d, path, "a string", v);
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "'%s' is empty", path);
    if (n > max)
        return itx_diag_set(d, ITX_ERR_INVALID, "'%s' is %zu bytes, the limit is %zu", path, n,
                            max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return itx_diag_set(d, ITX_ERR_INVALID, "'%s' contains a control character", path);
    *out = itx_strndup(s, n);
    return *out ? ITX_OK : itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
}

static bool
is_lang(const char *s)
{
    /* BCP 47 shape: 2-3 letters, then -subtags of 1-8 letters or digits; at most 35. */
    size_t n = strlen(s), i = 0, run = 0;
    if (n > 35)
        return false;
    while (i < n && isalpha((unsigned char)s[i]))
        i++;
    if (i < 2 || i > 3)
        return false;
    for (; i < n; i++) {
        if (s[i] == '-') {
            if (run == 0 && i > 3)
                return false;
            if (i + 1 == n)
                return false;
            run = 0;
        } else if (isalnum((unsigned char)s[i])) {
            if (++run > 8)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static bool
is_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
              s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

static enum itx_status
check_url(const char *u, const char *path, struct itx_diag *d)
{
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "'%s' must be an http or https URL", path);
    for (const char *p = u; *p; p++)
        if (*p == ' ' || (unsigned char)*p > 0x7e)
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "'%s' has a space or a non-ASCII character (percent-encode it)",
                                path);
    return ITX_OK;
}

static enum itx_status
parse_image(const json_t *v, size_t idx, const struct itx_api_limits *lim,
            struct itx_api_image *img, struct itx_diag *d)
{
    const char *key;
    json_t *m;
    char path[64];
    enum itx_status st;

    snprintf(path, sizeof(path), "images[%zu]", idx);
    if (!json_is_object(v))
        return api_json_type_error(d, path, "an object with 'url' or 'data'", v);
    if (!json_object_get(v, "url") == !json_object_get(v, "data"))
        return itx_diag_set(d, ITX_ERR_INVALID, "images[%zu] needs exactly one of 'url' or 'data'",
                            idx);
    json_object_foreach((json_t *)v, key, m)
    {
        snprintf(path, sizeof(path), "images[%zu].%.20s", idx, key);
        if (strcmp(key, "url") == 0) {
            if ((st = get_string(m, path, MAX_URL, &img->url, d)) != ITX_OK)
                return st;
            if ((st = check_url(img->url, path, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "data") == 0) {
            const char *s;
            size_t n, bad;
            if (!json_is_string(m))
                return api_json_type_error(d, path, "a base64 string", m);
            s = json_string_value(m);
            n = json_string_length(m);
            if (n / 4 * 3 > lim->max_image_bytes + 2)
                return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                    "image %zu is over the %zu-byte image limit", idx,
                                    lim->max_image_bytes);
            if (!itx_api_base64_decode(s, n, &img->data, &img->size, &bad)) {
                if (bad == SIZE_MAX)
                    return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
                if (bad == n)
                    return itx_diag_set(d, ITX_ERR_INVALID,
                                        "image %zu: invalid base64 in '%s': length %zu is not "
                                        "a multiple of 4",
                                        idx, path, n);
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "image %zu: invalid base64 in '%s' at offset %zu", idx, path,
                                    bad);
            }
            if (img->size == 0)
                return itx_diag_set(d, ITX_ERR_INVALID, "image %zu: '%s' is empty", idx, path);
            if (img->size > lim->max_image_bytes)
                return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                    "image %zu is %zu bytes, over the %zu-byte image limit", idx,
                                    img->size, lim->max_image_bytes);
            img->type = itx_api_sniff_image(img->data, img->size);
            if (!img->type)
                return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                                    "image %zu is not a PNG, JPEG, WebP or GIF picture", idx);
        } else if (strcmp(key, "name") == 0) {
            if ((st = get_string(m, path, MAX_NAME, &img->name, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "group") == 0) {
            if ((st = get_string(m, path, MAX_GROUP, &img->group, d)) != ITX_OK)
                return st;
        } else {
            char q[72];
            api_json_quote(q, key, strlen(key));
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "unknown member '%s' in images[%zu] (allowed: url, data, "
                                "name, group)",
                                q, idx);
        }
    }
    return ITX_OK;
}

static enum itx_status
get_bool(const json_t *v, const char *path, bool *out, struct itx_diag *d)
{
    if (!json_is_boolean(v))
        return api_json_type_error(d, path, "a boolean", v);
    *out = json_is_true(v);
    return ITX_OK;
}

static enum itx_status
parse_options(const json_t *v, struct itx_api_request *r, struct itx_diag *d)
{
    const char *key;
    json_t *m;
    enum itx_status st;

    if (!json_is_object(v))
        return api_json_type_error(d, "options", "an object", v);
    json_object_foreach((json_t *)v, key, m)
    {
        if (strcmp(key, "output_format") == 0) {
            if ((st = get_string(m, "options.output_format", 8, &r->output_format, d)) != ITX_OK)
                return st;
            if (strcmp(r->output_format, "same") != 0 && strcmp(r->output_format, "png") != 0 &&
                strcmp(r->output_format, "jpeg") != 0 && strcmp(r->output_format, "webp") != 0)
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "'options.output_format' must be same, png, jpeg or webp");
        } else if (strcmp(key, "jpeg_quality") == 0) {
            if (!json_is_integer(m))
                return api_json_type_error(d, "options.jpeg_quality", "an integer", m);
            if (json_integer_value(m) < 1 || json_integer_value(m) > 100)
                return itx_diag_set(d, ITX_ERR_INVALID, "'options.jpeg_quality' must be in 1..100");
            r->jpeg_quality = (long)json_integer_value(m);
        } else if (strcmp(key, "background") == 0) {
            if ((st = get_bool(m, "options.background", &r->background, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "regions") == 0) {
            if ((st = get_bool(m, "options.regions", &r->regions, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "qa") == 0) {
            if ((st = get_bool(m, "options.qa", &r->qa, d)) != ITX_OK)
                return st;
        } else {
            char q[72];
            api_json_quote(q, key, strlen(key));
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "unknown member '%s' in options (allowed: output_format, "
                                "jpeg_quality, background, regions, qa)",
                                q);
        }
    }
    return ITX_OK;
}

static enum itx_status
parse_glossary(const json_t *v, const struct itx_api_limits *lim, struct itx_api_request *r,
               struct itx_diag *d)
{
    size_t n;

    if (!json_is_array(v))
        return api_json_type_error(d, "glossary", "an array", v);
    n = json_array_size(v);
    if (n > lim->max_glossary)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "glossary has %zu entries, the limit is %zu", n,
                            lim->max_glossary);
    if (n == 0)
        return ITX_OK;
    r->glossary = itx_calloc(n, sizeof(*r->glossary));
    if (!r->glossary)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const char *key;
        json_t *m;
        char path[64];
        enum itx_status st;

        r->n_glossary = i + 1;
        snprintf(path, sizeof(path), "glossary[%zu]", i);
        if (!json_is_object(e))
            return api_json_type_error(d, path, "an object", e);
        json_object_foreach((json_t *)e, key, m)
        {
            snprintf(path, sizeof(path), "glossary[%zu].%.20s", i, key);
            if (strcmp(key, "source") == 0)
                st = get_string(m, path, MAX_TERM, &r->glossary[i].source, d);
            else if (strcmp(key, "target") == 0)
                st = json_is_null(m) ? ITX_OK
                                     : get_string(m, path, MAX_TERM, &r->glossary[i].target, d);
            else {
                char q[72];
                api_json_quote(q, key, strlen(key));
                st = itx_diag_set(d, ITX_ERR_INVALID,
                                  "unknown member '%s' in glossary[%zu] (allowed: source, "
                                  "target)",
                                  q, i);
            }
            if (st != ITX_OK)
                return st;
        }
        if (!r->glossary[i].source)
            return itx_diag_set(d, ITX_ERR_INVALID, "glossary[%zu] has no 'source'", i);
    }
    return ITX_OK;
}

static struct itx_api_request *
request_new(enum itx_api_kind kind)
{
    struct itx_api_request *r = itx_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = kind;
    r->jpeg_quality = 90;
    r->background = true;
    r->regions = true;
    r->qa = true;
    return r;
}

/* Fills r from a parsed object; extra_images more images will be appended by the caller
 * (multipart), counted against the limit here. */
static enum itx_status
parse_object(const json_t *root, const struct itx_api_limits *lim, size_t extra_images,
             struct itx_api_request *r, struct itx_diag *d)
{
    const char *key;
    json_t *m, *images = NULL;
    enum itx_status st;
    size_t n;

    if (!json_is_object(root))
        return api_json_type_error(d, "request body", "a JSON object", root);
    json_object_foreach((json_t *)root, key, m)
    {
        if (strcmp(key, "images") == 0) {
            images = m;
        } else if (strcmp(key, "source_lang") == 0 || strcmp(key, "target_lang") == 0) {
            char **dst = key[0] == 's' ? &r->source_lang : &r->target_lang;
            if ((st = get_string(m, key, 35, dst, d)) != ITX_OK)
                return st;
            if (!is_lang(*dst))
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "'%s' must be a language tag like 'en' or 'zh-Hans'", key);
        } else if (strcmp(key, "provider") == 0) {
            if ((st = get_string(m, key, 32, &r->provider, d)) != ITX_OK)
                return st;
            if (!is_token(r->provider, 32))
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "'provider' must be lowercase letters, digits, '-', '_' or "
                                    "'.'");
        } else if (strcmp(key, "glossary") == 0) {
            if ((st = parse_glossary(m, lim, r, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "options") == 0) {
            if ((st = parse_options(m, r, d)) != ITX_OK)
                return st;
        } else if (strcmp(key, "webhook_url") == 0 && r->kind == ITX_API_JOB) {
            if ((st = get_string(m, key, MAX_URL, &r->webhook_url, d)) != ITX_OK)
                return st;
            if ((st = check_url(r->webhook_url, key, d)) != ITX_OK)
                return st;
        } else {
            char q[72];
            api_json_quote(q, key, strlen(key));
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "unknown member '%s' (allowed: images, source_lang, "
                                "target_lang, provider, glossary, options%s)",
                                q, r->kind == ITX_API_JOB ? ", webhook_url" : "");
        }
    }
    if (!r->target_lang)
        return itx_diag_set(d, ITX_ERR_INVALID, "'target_lang' is required");
    if (!r->source_lang && !(r->source_lang = itx_strdup("zh")))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    if (images && !json_is_array(images))
        return api_json_type_error(d, "images", "an array", images);
    n = images ? json_array_size(images) : 0;
    if (n + extra_images == 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "'images' is required and must not be empty");
    if (n + extra_images > lim->max_images)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "too many images: %zu, the limit is %zu",
                            n + extra_images, lim->max_images);
    r->images = itx_calloc(n + extra_images, sizeof(*r->images));
    if (!r->images)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r->n_images = i + 1;
        if ((st = parse_image(json_array_get(images, i), i, lim, &r->images[i], d)) != ITX_OK)
            return st;
    }
    return ITX_OK;
}

enum itx_status
itx_api_parse_json(const void *body, size_t len, enum itx_api_kind kind,
                   const struct itx_api_limits *lim, struct itx_api_request **out,
                   struct itx_diag *d)
{
    json_t *root = NULL;
    struct itx_api_request *r = NULL;
    enum itx_status st;

    if (len > lim->max_body_bytes)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "the body is %zu bytes, the limit is %zu", len,
                            lim->max_body_bytes);
    if ((st = api_json_load(body, len, &root, d)) != ITX_OK)
        goto out;
    if (!(r = request_new(kind))) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = parse_object(root, lim, 0, r, d)) != ITX_OK)
        goto out;
    *out = r;
    r = NULL;
out:
    json_decref(root);
    itx_api_request_free(r);
    return st;
}

/* ---- multipart/form-data ------------------------------------------------------------ */

struct part {
    const uint8_t *data;
    size_t len;
    char name[32];
    char filename[MAX_NAME + 1];
};

static const uint8_t *
find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    return m == 0 ? NULL : memmem(hay, n, needle, m);
}

/* Copies the value of param (name= or filename=) from a Content-Disposition line. */
static bool
disposition_param(const char *line, size_t n, const char *param, char *out, size_t out_size)
{
    size_t plen = strlen(param);

    for (size_t i = 0; i + plen + 1 < n; i++) {
        if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == ';') &&
            strncasecmp(line + i, param, plen) == 0 && line[i + plen] == '=') {
            size_t j = i + plen + 1, o = 0;
            bool quoted = j < n && line[j] == '"';
            if (quoted)
                j++;
            for (; j < n; j++) {
                char c = line[j];
                if (quoted ? c == '"' : (c == ';' || c == ' '))
                    break;
                if ((unsigned char)c < 0x20 || o + 1 >= out_size)
                    return false;
                out[o++] = c;
            }
            out[o] = '\0';
            return o > 0;
        }
    }
    return false;
}

static enum itx_status
part_headers(const uint8_t *h, size_t n, size_t idx, struct part *p, struct itx_diag *d)
{
    bool have = false;
    size_t i = 0;

    while (i < n) {
        const uint8_t *eol = find(h + i, n - i, "\r\n", 2);
        size_t len = eol ? (size_t)(eol - (h + i)) : n - i;
        const char *line = (const char *)h + i;
        if (len > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0) {
            if (!disposition_param(line + 20, len - 20, "name", p->name, sizeof(p->name)))
                return itx_diag_set(d, ITX_ERR_INVALID,
                                    "multipart part %zu: Content-Disposition has no usable name",
                                    idx);
            if (!disposition_param(line + 20, len - 20, "filename", p->filename,
                                   sizeof(p->filename)))
                p->filename[0] = '\0';
            have = true;
        }
        i += len + 2;
    }
    if (!have)
        return itx_diag_set(d, ITX_ERR_INVALID, "multipart part %zu has no Content-Disposition",
                            idx);
    return ITX_OK;
}

static bool
get_boundary(const char *ct, char *out, size_t out_size)
{
    const char *p = strcasestr(ct, "boundary=");
    size_t o = 0;
    bool quoted;

    if (!p)
        return false;
    p += 9;
    quoted = *p == '"';
    if (quoted)
        p++;
    for (; *p && (quoted ? *p != '"' : (*p != ';' && *p != ' ')); p++) {
        if (o + 1 >= out_size || (unsigned char)*p < 0x20)
            return false;
        out[o++] = *p;
    }
    out[o] = '\0';
    return o > 0;
}

#define MAX_PARTS 1002

enum itx_status
itx_api_parse_multipart(const void *body, size_t len, const char *content_type,
                        enum itx_api_kind kind, const struct itx_api_limits *lim,
                        struct itx_api_request **out, struct itx_diag *d)
{
    char boundary[80], delim[84];
    const uint8_t *b = body, *p, *end = (const uint8_t *)body + len;
    struct part *parts = NULL;
    size_t n_parts = 0, n_files = 0, dlen;
    const struct part *json_part = NULL;
    struct itx_api_request *r = NULL;
    json_t *root = NULL;
    enum itx_status st = ITX_OK;

    if (len > lim->max_body_bytes)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "the body is %zu bytes, the limit is %zu", len,
                            lim->max_body_bytes);
    if (!content_type || !get_boundary(content_type, boundary, sizeof(boundary)))
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "multipart Content-Type needs a boundary of 1..70 characters");
    dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    /* The first delimiter may start the body without the CRLF. */
    if (len >= dlen - 2 && memcmp(b, delim + 2, dlen - 2) == 0) {
        p = b + dlen - 2;
    } else {
        const uint8_t *f = find(b, len, delim, dlen);
        if (!f)
            return itx_diag_set(d, ITX_ERR_INVALID, "multipart body has no boundary line");
        p = f + dlen;
    }
    parts = itx_calloc(MAX_PARTS, sizeof(*parts));
    if (!parts)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (;;) {
        const uint8_t *hend, *next;
        struct part *pt;

        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* close delimiter */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            st = itx_diag_set(d, ITX_ERR_INVALID, "multipart boundary line is malformed");
            goto out;
        }
        p += 2;
        if (n_parts == MAX_PARTS) {
            st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "multipart body has over %d parts", MAX_PARTS);
            goto out;
        }
        pt = &parts[n_parts];
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p; /* no headers */
        } else {
            hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
            if (!hend || hend - p > 8192) {
                st = itx_diag_set(d, ITX_ERR_INVALID,
                                  "multipart part %zu: headers are unterminated or over 8 KiB",
                                  n_parts);
                goto out;
            }
            if ((st = part_headers(p, (size_t)(hend - p), n_parts, pt, d)) != ITX_OK)
                goto out;
            hend += 2;
        }
        if (hend == p) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "multipart part %zu has no Content-Disposition",
                              n_parts);
            goto out;
        }
        p = hend + 2;
        next = find(p, (size_t)(end - p), delim, dlen);
        if (!next) {
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "multipart body ends inside part %zu (no closing boundary)", n_parts);
            goto out;
        }
        pt->data = p;
        pt->len = (size_t)(next - p);
        n_parts++;
        p = next + dlen;
    }
    for (size_t i = 0; i < n_parts; i++) {
        if (strcmp(parts[i].name, "request") == 0) {
            if (json_part) {
                st = itx_diag_set(d, ITX_ERR_INVALID, "multipart body has two 'request' parts");
                goto out;
            }
            json_part = &parts[i];
        } else if (strcmp(parts[i].name, "image") == 0) {
            n_files++;
        } else {
            char q[72];
            api_json_quote(q, parts[i].name, strlen(parts[i].name));
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "unknown multipart part '%s' (allowed: request, image)", q);
            goto out;
        }
    }
    if (!(r = request_new(kind))) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (json_part) {
        if ((st = api_json_load(json_part->data, json_part->len, &root, d)) != ITX_OK) {
            itx_diag_prefix(d, "multipart part 'request'");
            goto out;
        }
    } else if (!(root = json_object())) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = parse_object(root, lim, n_files, r, d)) != ITX_OK)
        goto out;
    for (size_t i = 0; i < n_parts; i++) {
        struct itx_api_image *img;
        size_t idx = r->n_images;
        if (strcmp(parts[i].name, "image") != 0)
            continue;
        img = &r->images[idx];
        r->n_images++;
        if (parts[i].len == 0) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "image %zu (uploaded) is empty", idx);
            goto out;
        }
        if (parts[i].len > lim->max_image_bytes) {
            st = itx_diag_set(d, ITX_ERR_TOO_LARGE,
                              "image %zu is %zu bytes, over the %zu-byte image limit", idx,
                              parts[i].len, lim->max_image_bytes);
            goto out;
        }
        img->type = itx_api_sniff_image(parts[i].data, parts[i].len);
        if (!img->type) {
            st = itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                              "image %zu is not a PNG, JPEG, WebP or GIF picture", idx);
            goto out;
        }
        img->data = itx_malloc(parts[i].len);
        if (!img->data || (parts[i].filename[0] && !(img->name = itx_strdup(parts[i].filename)))) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(img->data, parts[i].data, parts[i].len);
        img->size = parts[i].len;
    }
    *out = r;
    r = NULL;
out:
    json_decref(root);
    itx_api_request_free(r);
    itx_free(parts);
    return st;
}
