/* The API request parser: base64, type sniffing, JSON strictness, limits, multipart. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "server/server.h"

static struct itx_api_limits lim = {3, 64, 4096, 2};

static enum itx_status
pj(const char *json, struct itx_api_request **r, struct itx_diag *d)
{
    itx_diag_init(d);
    *r = NULL;
    return itx_api_parse_json(json, strlen(json), ITX_API_TRANSLATE, &lim, r, d);
}

static void
expect(const char *json, enum itx_status want, const char *msg)
{
    struct itx_api_request *r = NULL;
    struct itx_diag d;
    enum itx_status st = pj(json, &r, &d);
    CHECK_MSG(st == want, "%s: got %s (%s)", json, itx_err_str(st), d.msg);
    CHECK_MSG(strstr(d.msg, msg) != NULL, "%s: message '%s' lacks '%s'", json, d.msg, msg);
    CHECK(r == NULL);
    itx_api_request_free(r);
}

static void
t_base64(void)
{
    static const struct {
        const char *in, *out;
    } ok[] = {{"", ""},
              {"Zg==", "f"},
              {"Zm8=", "fo"},
              {"Zm9v", "foo"},
              {"Zm9vYg==", "foob"},
              {"Zm9vYmE=", "fooba"},
              {"Zm9vYmFy", "foobar"},
              {"+/+/", "\xfb\xff\xbf"}};
    static const struct {
        const char *in;
        size_t at;
    } bad[] = {{"Zg=", 3},  {"Zg=a", 2},     {"Z===", 1}, {"Zm9v\n", 5},  {"Zm 9", 2},
               {"=Zm9", 0}, {"Zg==Zg==", 2}, {"Zm-_", 2}, {"Zm9v Zm9", 4}};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint8_t *o = NULL;
        size_t n = 99, at = 0;
        CHECK(itx_api_base64_decode(ok[i].in, strlen(ok[i].in), &o, &n, &at));
        CHECK_INT(n, strlen(ok[i].out));
        CHECK(o && memcmp(o, ok[i].out, n) == 0);
        itx_free(o);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *o = NULL;
        size_t n = 0, at = 0;
        CHECK_MSG(!itx_api_base64_decode(bad[i].in, strlen(bad[i].in), &o, &n, &at), "%s",
                  bad[i].in);
        CHECK_MSG(at == bad[i].at, "'%s': bad at %zu, want %zu", bad[i].in, at, bad[i].at);
        CHECK(o == NULL);
    }
}

static void
t_sniff(void)
{
    CHECK_STR(itx_api_sniff_image((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), "image/png");
    CHECK_STR(itx_api_sniff_image((const uint8_t *)"\xff\xd8\xff\xdb", 4), "image/jpeg");
    CHECK_STR(itx_api_sniff_image((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), "image/webp");
    CHECK_STR(itx_api_sniff_image((const uint8_t *)"GIF87a", 6), "image/gif");
    CHECK(itx_api_sniff_image((const uint8_t *)"\x89PNG\r\n\x1a", 7) == NULL);
    CHECK(itx_api_sniff_image((const uint8_t *)"<svg xmlns=", 11) == NULL);
    CHECK(itx_api_sniff_image((const uint8_t *)"BM", 2) == NULL);
}

static void
t_json_ok(void)
{
    struct itx_api_request *r;
    struct itx_diag d;

    CHECK_INT(pj("{\"images\":[{\"url\":\"https://e.com/a.jpg\"},{\"data\":\"R0lGODlhAQ==\","
                 "\"name\":\"x.gif\",\"group\":\"g1\"}],\"target_lang\":\"en-GB\","
                 "\"provider\":\"gemini\",\"glossary\":[{\"source\":\"a\",\"target\":null}],"
                 "\"options\":{\"output_format\":\"webp\",\"background\":false,"
                 "\"regions\":false,\"jpeg_quality\":77}}",
                 &r, &d),
              ITX_OK);
    if (!r)
        return;
    CHECK_INT(r->n_images, 2);
    CHECK_STR(r->images[0].url, "https://e.com/a.jpg");
    CHECK(r->images[0].data == NULL);
    CHECK_STR(r->images[1].type, "image/gif");
    CHECK_INT(r->images[1].size, 7);
    CHECK_STR(r->images[1].name, "x.gif");
    CHECK_STR(r->images[1].group, "g1");
    CHECK_STR(r->source_lang, "zh");
    CHECK_STR(r->target_lang, "en-GB");
    CHECK_STR(r->provider, "gemini");
    CHECK_INT(r->n_glossary, 1);
    CHECK(r->glossary[0].target == NULL);
    CHECK_STR(r->output_format, "webp");
    CHECK(!r->background && !r->regions && r->qa);
    CHECK_INT(r->jpeg_quality, 77);
    itx_api_request_free(r);
}

static void
t_json_bad(void)
{
    expect("{", ITX_ERR_INVALID, "invalid JSON at line 1");
    expect("{\"target_lang\":\"en\",\"target_lang\":\"de\",\"images\":[]}", ITX_ERR_INVALID,
           "invalid JSON");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"e\"}", ITX_ERR_INVALID,
           "'target_lang' must be a language tag");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"provider\":\"Big\"}",
           ITX_ERR_INVALID, "'provider' must be lowercase");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"glossary\":[{}]}",
           ITX_ERR_INVALID, "glossary[0] has no 'source'");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"glossary\":"
           "[{\"source\":\"a\"},{\"source\":\"b\"},{\"source\":\"c\"}]}",
           ITX_ERR_TOO_LARGE, "glossary has 3 entries, the limit is 2");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"options\":"
           "{\"jpeg_quality\":101}}",
           ITX_ERR_INVALID, "'options.jpeg_quality' must be in 1..100");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"options\":"
           "{\"output_format\":\"bmp\"}}",
           ITX_ERR_INVALID, "'options.output_format' must be same, png, jpeg or webp");
    expect("{\"images\":[{\"url\":\"http://a b\"}],\"target_lang\":\"en\"}", ITX_ERR_INVALID,
           "has a space");
    expect("{\"images\":[{\"url\":\"\"}],\"target_lang\":\"en\"}", ITX_ERR_INVALID,
           "'images[0].url' is empty");
    expect("{\"images\":[\"http://a\"],\"target_lang\":\"en\"}", ITX_ERR_INVALID,
           "'images[0]' must be an object");
    expect("{\"images\":[{\"data\":\"\"}],\"target_lang\":\"en\"}", ITX_ERR_INVALID,
           "'images[0].data' is empty");
    /* 72 decoded bytes of a PNG: over the 64-byte limit of this test */
    expect("{\"images\":[{\"data\":\"iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}],\"target_lang\":\"en\"}",
           ITX_ERR_TOO_LARGE, "over the 64-byte image limit");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"x\":{\"\\u0000\":1}}",
           ITX_ERR_INVALID, "invalid JSON");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"x\":1}", ITX_ERR_INVALID,
           "unknown member 'x'");
    /* a member name is shown printable (control bytes and non-ASCII as '?'), at most 64 bytes */
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"a\\nb\\u001b[2J\":1}",
           ITX_ERR_INVALID, "unknown member 'a?b?[2J'");
    expect(
        "{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\",\"options\":{\"\u00e9\":1}}",
        ITX_ERR_INVALID, "unknown member '?\?' in options");
    expect("{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"e\\u0000n\"}", ITX_ERR_INVALID,
           "invalid JSON");
    expect("{\"images\":[{\"url\":\"http://a\\u0001\"}],\"target_lang\":\"en\"}", ITX_ERR_INVALID,
           "control character");
    {
        struct itx_api_request *r = NULL;
        struct itx_diag d;
        char *big = malloc(5000);
        memset(big, ' ', 5000);
        itx_diag_init(&d);
        CHECK_INT(itx_api_parse_json(big, 5000, ITX_API_TRANSLATE, &lim, &r, &d),
                  ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "the limit is 4096") != NULL);
        free(big);
    }
    /* jobs take a webhook; translate does not */
    {
        static const char j[] = "{\"images\":[{\"url\":\"http://a\"}],\"target_lang\":\"en\","
                                "\"webhook_url\":\"https://h/x\"}";
        struct itx_api_request *r = NULL;
        struct itx_diag d;
        itx_diag_init(&d);
        CHECK_INT(itx_api_parse_json(j, strlen(j), ITX_API_JOB, &lim, &r, &d), ITX_OK);
        CHECK(r && r->webhook_url && strcmp(r->webhook_url, "https://h/x") == 0);
        itx_api_request_free(r);
        expect(j, ITX_ERR_INVALID, "unknown member 'webhook_url'");
    }
}

static enum itx_status
pm(const char *body, size_t n, const char *ct, struct itx_api_request **r, struct itx_diag *d)
{
    itx_diag_init(d);
    *r = NULL;
    return itx_api_parse_multipart(body, n, ct, ITX_API_TRANSLATE, &lim, r, d);
}

static void
t_multipart(void)
{
    static const char ok[] =
        "preamble\r\n--b1\r\n"
        "Content-Disposition: form-data; name=\"request\"\r\n\r\n"
        "{\"target_lang\":\"fr\"}\r\n"
        "--b1\r\ncontent-disposition: form-data; name=image; filename=a.png\r\n"
        "\r\n\x89PNG\r\n\x1a\n--b1x\r\n"
        "--b1--";
    static const struct {
        const char *body, *ct, *msg;
        enum itx_status st;
    } bad[] = {
        {"--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b", "no Content-Disposition",
         ITX_ERR_INVALID},
        {"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nxx",
         "multipart/form-data; boundary=b", "no closing boundary", ITX_ERR_INVALID},
        {"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{\"target_lang\":\"en\"}"
         "\r\n--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nBM\r\n--b--",
         "multipart/form-data; boundary=b", "image 0 is not a PNG", ITX_ERR_UNSUPPORTED},
        {"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\r\n--b--",
         "multipart/form-data; boundary=b", "target_lang", ITX_ERR_INVALID},
        {"--b--", "multipart/form-data", "boundary", ITX_ERR_INVALID},
        {"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{\r\n--b--",
         "multipart/form-data; boundary=\"b\"", "multipart part 'request': invalid JSON",
         ITX_ERR_INVALID},
        {"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{}\r\n"
         "--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{}\r\n--b--",
         "multipart/form-data; boundary=b", "two 'request' parts", ITX_ERR_INVALID},
        {"nothing here", "multipart/form-data; boundary=b", "no boundary line", ITX_ERR_INVALID},
    };
    struct itx_api_request *r;
    struct itx_diag d;

    CHECK_INT(pm(ok, sizeof(ok) - 1, "multipart/form-data; boundary=b1", &r, &d), ITX_OK);
    if (r) {
        CHECK_INT(r->n_images, 1);
        CHECK_STR(r->target_lang, "fr");
        CHECK_STR(r->images[0].type, "image/png");
        CHECK_INT(r->images[0].size, 13); /* "--b1x" inside the data is not a delimiter */
        CHECK_STR(r->images[0].name, "a.png");
        itx_api_request_free(r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum itx_status st = pm(bad[i].body, strlen(bad[i].body), bad[i].ct, &r, &d);
        CHECK_MSG(st == bad[i].st, "case %zu: %s (%s)", i, itx_err_str(st), d.msg);
        CHECK_MSG(strstr(d.msg, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, d.msg,
                  bad[i].msg);
        CHECK(r == NULL);
    }
    /* four uploads over the limit of three images */
    {
        char body[1024] = "";
        for (int i = 0; i < 4; i++)
            strcat(body, "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nGIF89a\r\n");
        strcat(body, "--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                     "{\"target_lang\":\"en\"}\r\n--b--\r\n");
        CHECK_INT(pm(body, strlen(body), "multipart/form-data; boundary=b", &r, &d),
                  ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "too many images: 4, the limit is 3") != NULL);
    }
}

/* Every allocation failure is reported as such, never a crash or a leak. */
static void
t_alloc_failures(void)
{
    static const char j[] =
        "{\"images\":[{\"url\":\"https://e.com/a.jpg\"},{\"data\":\"R0lGODlhAQ==\","
        "\"name\":\"x.gif\"}],\"target_lang\":\"en\",\"glossary\":"
        "[{\"source\":\"a\",\"target\":\"b\"}],\"options\":{\"output_format\":\"png\"}}";
    int failures = 0;
    for (unsigned long n = 1; n < 200; n++) {
        struct itx_api_request *r = NULL;
        struct itx_diag d;
        enum itx_status st;
        itx_diag_init(&d);
        itx_alloc_fail_at(n, false);
        st = itx_api_parse_json(j, strlen(j), ITX_API_TRANSLATE, &lim, &r, &d);
        itx_alloc_fail_at(0, false);
        if (st == ITX_OK) {
            itx_api_request_free(r);
            break;
        }
        failures++;
        CHECK_MSG(st == ITX_ERR_NOMEM, "failure %lu gave %s (%s)", n, itx_err_str(st), d.msg);
    }
    CHECK(failures > 5);
}

int
main(void)
{
    t_base64();
    t_sniff();
    t_json_ok();
    t_json_bad();
    t_multipart();
    t_alloc_failures();
    return check_summary();
}
