/*
 * Allocation-failure injection (the SQLite habit) over the store's and fetch's code paths
 * that need no network: for n = 1, 2, ... the n-th allocation fails; every call must
 * return ITX_OK or ITX_ERR_NOMEM, never crash, and (under ASan) never leak. The loop ends
 * when a run completes without the injected failure firing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "fetch/fetch.h"
#include "store/store-impl.h"
#include "store/store.h"

static char root[] = "/tmp/itx-store-oom-XXXXXX";
static int run_no;

static bool
ok_or_nomem(enum itx_status st)
{
    return st == ITX_OK || st == ITX_ERR_NOMEM;
}

/* One pass over the code under test; returns false on a wrong status. */
static bool
exercise(void)
{
    struct itx_store_setting set[] = {{"lang", "en"}, {"font", "Noto"}};
    char key[65], dir[300], name[64], *url = NULL, sig[65];
    struct itx_store_config c;
    struct itx_store *s = NULL;
    struct itx_buf creq, sh;
    struct sigv4_kv h[] = {{"Host", "b.s3.amazonaws.com"}, {"x-amz-date", "20130524T000000Z"}};
    struct sigv4_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    uint8_t *data = NULL;
    size_t len = 0;
    bool good = true;
    enum itx_status st;
    char *tok = NULL;
    long exp;
    struct gcs_key k = {0};
    struct itx_fetch_allow_list al;
    char *orig;

    good &= ok_or_nomem(itx_store_cache_key("src", 3, set, 2, key, NULL));

    itx_buf_init(&creq, 1 << 16);
    itx_buf_init(&sh, 1024);
    st = sigv4_canonical_request(&creq, "GET", "/", q, 2, h, 2, "UNSIGNED-PAYLOAD", &sh);
    good &= ok_or_nomem(st);
    if (!st)
        good &= ok_or_nomem(
            sigv4_signature("secret", "20130524T000000Z", "us-east-1", "s3", creq.data, sig));
    itx_buf_release(&creq);
    itx_buf_release(&sh);

    /* local store: open, put, get, url, free */
    snprintf(dir, sizeof dir, "%s/files", root);
    snprintf(name, sizeof name, "run%d/a/b.png", run_no);
    itx_store_config_init(&c);
    c.dir = dir;
    c.prefix = "pre/";
    st = itx_store_open(&c, &s, NULL);
    good &= ok_or_nomem(st);
    if (!st) {
        st = itx_store_put(s, name, "data", 4, "image/png", NULL);
        good &= ok_or_nomem(st);
        st = itx_store_get(s, name, &data, &len, NULL);
        good &= ok_or_nomem(st) || st == ITX_ERR_NOT_FOUND;
        itx_free(data);
        data = NULL;
        good &= ok_or_nomem(itx_store_url(s, name, 0, 0, &url, NULL));
        itx_free(url);
        url = NULL;
        itx_store_free(s);
        s = NULL;
    }

    /* s3 store: presigned URL */
    itx_store_config_init(&c);
    c.kind = ITX_STORE_S3;
    c.bucket = "b";
    c.access_key = "AK";
    c.secret_key = "SK";
    c.session_token = "token";
    c.signed_urls = true;
    st = itx_store_open(&c, &s, NULL);
    good &= ok_or_nomem(st);
    if (!st) {
        good &= ok_or_nomem(itx_store_url(s, "x/y.png", 60, 1369353600LL, &url, NULL));
        itx_free(url);
        url = NULL;
        itx_store_free(s);
        s = NULL;
    }

    /* gcs parsers */
    st = gcs_parse_token("{\"access_token\":\"t\",\"expires_in\":5}", 35, &tok, &exp, NULL);
    good &= ok_or_nomem(st);
    itx_free(tok);
    tok = NULL;
    st = gcs_parse_key("{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":"
                       "\"k\",\"token_uri\":\"https://t/\"}",
                       90, &k, NULL);
    good &= ok_or_nomem(st) || st == ITX_ERR_INVALID;
    gcs_key_release(&k);

    /* fetch helpers */
    st = itx_fetch_allow_list_parse(&al, "*.alicdn.com,a.example", NULL);
    good &= ok_or_nomem(st);
    itx_fetch_allow_list_release(&al);
    orig = itx_fetch_alicdn_original("https://img.alicdn.com/a.jpg_400x400.jpg");
    itx_free(orig);
    return good;
}

int
main(void)
{
    char cmd[128];
    unsigned long n;

    if (!mkdtemp(root)) {
        CHECK(0);
        return check_summary();
    }
    /* A clean pass first: the code under test works without injection. */
    CHECK(exercise());
    for (n = 1; n < 5000; n++) {
        bool good, fired;
        run_no = (int)n;
        itx_alloc_fail_at(n, false);
        good = exercise();
        fired = itx_alloc_injected();
        itx_alloc_fail_at(0, false);
        CHECK_MSG(good, "allocation %lu failing gave a status other than OK or NOMEM", n);
        if (!fired)
            break;
    }
    printf("failure injected at each of %lu allocations\n", n - 1);
    CHECK(n > 10 && n < 5000);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
    return check_summary();
}
