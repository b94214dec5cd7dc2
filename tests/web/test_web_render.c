/*
 * The parser of POST /v1/render (src/server/web.c): a good request, then bad JSON, a missing
 * or malformed background key (path traversal attempts among them), too many regions,
 * duplicate ids, unknown members, bad values; and the embedded page's files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "core/alloc.h"
#include "server/server.h"

#define KEY "dd101bed3d4560514684bfdc0498f52fecca548f86cf14e55d57640789fd8b9c"

/* Parses body; on success frees the request. Returns the status, the message in d. */
static enum itx_status
parse(const char *body, size_t max_edits, struct itx_diag *d)
{
    struct itx_api_render_request *r = NULL;
    enum itx_status st;

    itx_diag_init(d);
    st = itx_api_parse_render(body, strlen(body), 1u << 20, max_edits, &r, d);
    if (st == ITX_OK)
        CHECK(r != NULL);
    else
        CHECK(r == NULL && d->msg[0] != '\0');
    itx_api_render_request_free(r);
    return st;
}

static void
expect(const char *body, enum itx_status want, const char *needle)
{
    struct itx_diag d;
    enum itx_status st = parse(body, ITX_API_RENDER_MAX_EDITS, &d);
    CHECK_MSG(st == want, "%s: status %d, want %d (%s)", body, (int)st, (int)want, d.msg);
    if (needle)
        CHECK_MSG(strstr(d.msg, needle) != NULL, "%s: message '%s' lacks '%s'", body, d.msg,
                  needle);
}

static void
test_good(void)
{
    const char *body =
        "{\"background\":\"" KEY "\",\"regions\":[{\"id\":3,\"translation\":\"ZEBRA\"},"
        "{\"id\":0,\"translation\":\"two\\nlines\",\"color\":\"#A0b1C2\",\"font_size\":0},"
        "{\"id\":7,\"font_size\":24.5}],\"options\":{\"output_format\":\"jpeg\","
        "\"jpeg_quality\":80}}";
    struct itx_api_render_request *r = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK_INT(itx_api_parse_render(body, strlen(body), 1u << 20, 100, &r, &d), ITX_OK);
    if (!r)
        return;
    CHECK_STR(r->background, KEY);
    CHECK_INT(r->n_edits, 3);
    CHECK_INT(r->edits[0].id, 3);
    CHECK_STR(r->edits[0].translation, "ZEBRA");
    CHECK_STR(r->edits[0].color, "");
    CHECK(r->edits[0].font_size < 0);
    CHECK_STR(r->edits[1].translation, "two\nlines");
    CHECK_STR(r->edits[1].color, "#a0b1c2");
    CHECK(r->edits[1].font_size == 0);
    CHECK(r->edits[2].translation == NULL);
    CHECK(r->edits[2].font_size == 24.5);
    CHECK_STR(r->output_format, "jpeg");
    CHECK_INT(r->jpeg_quality, 80);
    itx_api_render_request_free(r);

    /* no edits is a plain redraw; "same" keeps the stored format; defaults */
    r = NULL;
    body = "{\"regions\":[],\"background\":\"" KEY "\",\"options\":{\"output_format\":\"same\"}}";
    CHECK_INT(itx_api_parse_render(body, strlen(body), 1u << 20, 100, &r, &d), ITX_OK);
    if (r) {
        CHECK_INT(r->n_edits, 0);
        CHECK(r->output_format == NULL);
        CHECK_INT(r->jpeg_quality, 90);
    }
    itx_api_render_request_free(r);
    itx_api_render_request_free(NULL);
}

static void
test_bad_json(void)
{
    expect("", ITX_ERR_INVALID, "empty");
    expect("not json", ITX_ERR_INVALID, "invalid JSON at line 1");
    expect("{\"background\":", ITX_ERR_INVALID, "invalid JSON");
    expect("[1,2]", ITX_ERR_INVALID, "must be a JSON object, not an array");
    expect("{\"background\":\"" KEY "\",\"background\":\"" KEY "\",\"regions\":[]}",
           ITX_ERR_INVALID, "duplicate");
    expect("{\"background\":\"" KEY "\",\"regions\":[],\"url\":\"x\"}", ITX_ERR_INVALID,
           "unknown member 'url'");
    expect("{\"background\":\"" KEY "\",\"regions\":{}}", ITX_ERR_INVALID,
           "'regions' must be an array, not an object");
    expect("{\"background\":\"" KEY "\"}", ITX_ERR_INVALID, "'regions' is required");
    /* a NUL inside a string is refused by the JSON reader itself */
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"translation\":\"a\\u0000b\"}]}",
           ITX_ERR_INVALID, "invalid JSON");
    {
        /* over the body limit */
        struct itx_api_render_request *r = NULL;
        struct itx_diag d;
        itx_diag_init(&d);
        CHECK_INT(itx_api_parse_render("{\"regions\":[]}", 14, 10, 100, &r, &d), ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "the limit is 10") != NULL);
    }
}

static void
test_keys(void)
{
    static const char *const bad[] = {
        "../../../etc/passwd",
        "..",
        "",
        "dd/" KEY,
        KEY "/../x",
        KEY "0",
        "DD101BED3D4560514684BFDC0498F52FECCA548F86CF14E55D57640789FD8B9C",
        "dd101bed3d4560514684bfdc0498f52fecca548f86cf14e55d57640789fd8b9./",
        "%2e%2e%2fdd101bed3d4560514684bfdc0498f52fecca548f86cf14e55d57640789",
        "dd101bed3d4560514684bfdc0498f52fecca548f86cf14e55d57640789fd8b9\\",
    };
    char body[512];

    expect("{\"regions\":[]}", ITX_ERR_INVALID, "'background' is required");
    expect("{\"background\":null,\"regions\":[]}", ITX_ERR_INVALID, "must be a string");
    expect("{\"background\":42,\"regions\":[]}", ITX_ERR_INVALID, "not a number");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct itx_diag d;
        snprintf(body, sizeof(body), "{\"background\":\"%s\",\"regions\":[]}", bad[i]);
        for (char *p = body; *p; p++) /* JSON-escape the backslash case */
            if (*p == '\\' && p[1] == '"') {
                memmove(p + 1, p, strlen(p) + 1);
                p++;
            }
        CHECK_MSG(parse(body, 10, &d) == ITX_ERR_INVALID, "key '%s' accepted", bad[i]);
        CHECK_MSG(strstr(d.msg, "64 lowercase hex digits") != NULL, "'%s': %s", bad[i], d.msg);
        /* the message quotes the key printable and bounded */
        for (const char *p = d.msg; *p; p++)
            CHECK((unsigned char)*p >= 0x20);
    }
}

static void
test_regions(void)
{
    char *big;
    size_t n = ITX_API_RENDER_MAX_EDITS + 1, len = 0;
    struct itx_diag d;

    /* too many regions: one over the limit given, and one over the hard limit */
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1},{\"id\":2},{\"id\":3}]}", ITX_OK,
           NULL);
    CHECK_INT(
        parse("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1},{\"id\":2},{\"id\":3}]}", 2, &d),
        ITX_ERR_TOO_LARGE);
    CHECK(strstr(d.msg, "too many regions: 3, the limit is 2") != NULL);
    big = malloc(n * 16 + 256);
    len = (size_t)sprintf(big, "{\"background\":\"" KEY "\",\"regions\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(big + len, "%s{\"id\":%zu}", i ? "," : "", i % 9999);
    strcpy(big + len, "]}");
    CHECK_INT(parse(big, SIZE_MAX, &d), ITX_ERR_TOO_LARGE);
    CHECK(strstr(d.msg, "too many regions: 10001, the limit is 10000") != NULL);
    free(big);

    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1},{\"id\":1}]}", ITX_ERR_INVALID,
           "'regions[1].id' 1 is edited twice");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"translation\":\"x\"}]}", ITX_ERR_INVALID,
           "'regions[0].id' is required");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":-1}]}", ITX_ERR_INVALID,
           "outside 0..9999");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":10000}]}", ITX_ERR_INVALID,
           "outside 0..9999");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1.5}]}", ITX_ERR_INVALID,
           "must be an integer");
    expect("{\"background\":\"" KEY "\",\"regions\":[7]}", ITX_ERR_INVALID,
           "'regions[0]' must be an object");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"box\":{\"cx\":1}}]}",
           ITX_ERR_INVALID, "unknown member 'box' in regions[0]");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"translation\":5}]}",
           ITX_ERR_INVALID, "'regions[0].translation' must be a string");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"translation\":\"a\\tb\"}]}",
           ITX_ERR_INVALID, "control character");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"color\":\"red\"}]}",
           ITX_ERR_INVALID, "colour like");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"color\":\"#12345g\"}]}",
           ITX_ERR_INVALID, "colour like");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"font_size\":401}]}",
           ITX_ERR_INVALID, "outside 0..400");
    expect("{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,\"font_size\":\"9\"}]}",
           ITX_ERR_INVALID, "must be a number");
    expect("{\"background\":\"" KEY "\",\"regions\":[],\"options\":{\"output_format\":\"gif\"}}",
           ITX_ERR_INVALID, "same, png, jpeg or webp");
    expect("{\"background\":\"" KEY "\",\"regions\":[],\"options\":{\"jpeg_quality\":0}}",
           ITX_ERR_INVALID, "1..100");
    expect("{\"background\":\"" KEY "\",\"regions\":[],\"options\":{\"qa\":true}}", ITX_ERR_INVALID,
           "unknown member 'qa' in options");
    {
        /* a translation over the limit, and one just at it */
        size_t cap = ITX_API_RENDER_MAX_TEXT;
        char *b = malloc(cap + 256);
        size_t k = (size_t)sprintf(b, "{\"background\":\"" KEY "\",\"regions\":[{\"id\":1,"
                                      "\"translation\":\"");
        memset(b + k, 'a', cap + 1);
        strcpy(b + k + cap + 1, "\"}]}");
        CHECK_INT(parse(b, 10, &d), ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "is 4097 bytes, the limit is 4096") != NULL);
        strcpy(b + k + cap, "\"}]}");
        CHECK_INT(parse(b, 10, &d), ITX_OK);
        free(b);
    }
}

static void
test_assets(void)
{
    struct itx_web_asset a;

    CHECK(itx_web_asset_find("/", &a));
    CHECK(strstr(a.content_type, "text/html") != NULL);
    CHECK(a.len > 100 && strlen(a.data) == a.len && strstr(a.data, "/app.js") != NULL);
    CHECK(a.etag[0] == '"' && strlen(a.etag) == 66);
    CHECK(itx_web_asset_find("/index.html", &a));
    CHECK(itx_web_asset_find("/app.css", &a) && strstr(a.content_type, "text/css"));
    CHECK(itx_web_asset_find("/app.js", &a) && strstr(a.content_type, "javascript"));
    CHECK(!itx_web_asset_find("/app.js/", &a));
    CHECK(!itx_web_asset_find("/../app.js", &a));
    CHECK(!itx_web_asset_find("/favicon.ico", &a));
}

int
main(void)
{
    test_good();
    test_bad_json();
    test_keys();
    test_regions();
    test_assets();
    return check_summary();
}
