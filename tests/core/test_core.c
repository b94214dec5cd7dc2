#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

static void
test_diag(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    CHECK(d.code == ITX_OK);
    CHECK(itx_diag_set(&d, ITX_ERR_TOO_LARGE, "image '%s' is %dx%d", "a.png", 3, 4) ==
          ITX_ERR_TOO_LARGE);
    CHECK_STR(d.msg, "image 'a.png' is 3x4");
    itx_diag_prefix(&d, "request %d", 7);
    CHECK_STR(d.msg, "request 7: image 'a.png' is 3x4");
    CHECK_INT(itx_err_http_status(ITX_ERR_TOO_LARGE), 413);
    CHECK_INT(itx_err_http_status(ITX_ERR_OVERLOADED), 429);
    CHECK_STR(itx_err_str(ITX_ERR_TIMEOUT), "timeout");
    CHECK_STR(itx_err_str((enum itx_status)999), "unknown");
    /* every status has a name and an HTTP status */
    for (int s = 0; s < ITX_STATUS_COUNT; s++) {
        CHECK(itx_err_str((enum itx_status)s) != NULL);
        CHECK(itx_err_http_status((enum itx_status)s) >= 200);
    }
}

static void
test_buf(void)
{
    struct itx_buf b;
    itx_buf_init(&b, 10);
    CHECK(itx_buf_puts(&b, "hello") == ITX_OK);
    CHECK(itx_buf_printf(&b, "%d", 1234) == ITX_OK);
    CHECK_STR(b.data, "hello1234");
    CHECK(itx_buf_puts(&b, "ab") == ITX_ERR_TOO_LARGE); /* 11 > 10 */
    CHECK_STR(b.data, "hello1234");                     /* unchanged on failure */
    CHECK(itx_buf_putc(&b, '!') == ITX_OK);
    CHECK_INT(b.len, 10);
    itx_buf_release(&b);

    itx_buf_init(&b, 100);
    itx_buf_json_str(&b, "a\"b\\c\n\x01");
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    itx_buf_release(&b);
}

/* A failed append is remembered until reset, even when later appends succeed. */
static void
test_buf_error(void)
{
    struct itx_buf b;
    char *p;
    size_t len;

    itx_buf_init(&b, 100);
    CHECK(itx_buf_error(&b) == ITX_OK);
    CHECK(itx_buf_puts(&b, "a") == ITX_OK);
    /* the buffer has 64 bytes: the first append past them must grow it, and that fails */
    itx_alloc_fail_at(1, false);
    CHECK(itx_buf_printf(&b, "%070d", 7) == ITX_ERR_NOMEM);
    itx_alloc_fail_at(0, false);
    CHECK(itx_buf_puts(&b, "b") == ITX_OK); /* succeeds, leaving a gap */
    CHECK_STR(b.data, "ab");
    CHECK(itx_buf_error(&b) == ITX_ERR_NOMEM);
    /* a later failure of another kind does not replace the first */
    CHECK(itx_buf_append(&b, "x", 200) == ITX_ERR_TOO_LARGE);
    CHECK(itx_buf_error(&b) == ITX_ERR_NOMEM);
    itx_buf_reset(&b);
    CHECK(itx_buf_error(&b) == ITX_OK);

    /* a JSON string cut short by a failed growth */
    CHECK(itx_buf_puts(&b, "0123456789012345678901234567890123456789012345678901234567") == ITX_OK);
    itx_alloc_fail_at(1, false);
    CHECK(itx_buf_json_str(&b, "\"\\\"\\\"\\") == ITX_ERR_NOMEM);
    itx_alloc_fail_at(0, false);
    CHECK(itx_buf_putc(&b, '}') == ITX_OK);
    CHECK(itx_buf_error(&b) == ITX_ERR_NOMEM);
    p = itx_buf_take(&b, &len);
    /* the opening quote and two escapes fit in the 64 bytes; the third escape needed more */
    CHECK(p != NULL && len == 58 + 1 + 4 + 1 && strcmp(p + 58, "\"\\\"\\\\}") == 0);
    itx_free(p);
    CHECK(itx_buf_error(&b) == ITX_OK); /* take leaves an empty buffer with nothing failed */

    /* past the ceiling */
    CHECK(itx_buf_printf(&b, "%0101d", 1) == ITX_ERR_TOO_LARGE);
    CHECK(itx_buf_error(&b) == ITX_ERR_TOO_LARGE);
    itx_buf_release(&b);
    itx_buf_init(&b, 100);
    CHECK(itx_buf_error(&b) == ITX_OK);
    itx_buf_release(&b);
}

static void
test_alloc(void)
{
    size_t out;
    void *p;

    CHECK(!itx_mul_size(SIZE_MAX / 2 + 1, 2, &out));
    CHECK(itx_mul_size(3, 4, &out) && out == 12);
    CHECK(!itx_add_size(SIZE_MAX, 1, &out));
    CHECK(itx_malloc_array(SIZE_MAX / 4, 8) == NULL);

    /* the 2nd allocation from now fails, the 3rd succeeds again */
    itx_alloc_fail_at(2, false);
    p = itx_malloc(8);
    CHECK(p != NULL);
    itx_free(p);
    CHECK(itx_malloc(8) == NULL);
    CHECK(itx_alloc_injected());
    p = itx_malloc(8);
    CHECK(p != NULL);
    itx_free(p);
    itx_alloc_fail_at(0, false);

    p = itx_malloc_aligned(100);
    CHECK(p != NULL && ((uintptr_t)p % 64) == 0);
    itx_free_aligned(p);
}

static void
test_util(void)
{
    char hex[65];
    long long v;
    struct itx_diag d;

    itx_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(itx_parse_int("42", 0, 100, &v) && v == 42);
    CHECK(!itx_parse_int("42x", 0, 100, &v));
    CHECK(!itx_parse_int("101", 0, 100, &v));
    CHECK(!itx_parse_int("", 0, 100, &v));

    itx_diag_init(&d);
    setenv("ITX_TEST_INT", "abc", 1);
    CHECK(itx_env_int("ITX_TEST_INT", 5, 1, 10, &v, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "ITX_TEST_INT='abc'") != NULL);
    unsetenv("ITX_TEST_INT");
    CHECK(itx_env_int("ITX_TEST_INT", 5, 1, 10, &v, &d) == ITX_OK && v == 5);

    {
        uint8_t *data = NULL;
        size_t len = 0;
        CHECK(itx_file_read("/nonexistent/x", 10, &data, &len, &d) == ITX_ERR_NOT_FOUND);
        CHECK(itx_file_read("/proc/self/exe", 10, &data, &len, &d) == ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "10-byte limit") != NULL);
    }
}

int
main(void)
{
    test_diag();
    test_buf();
    test_buf_error();
    test_alloc();
    test_util();
    return check_summary();
}
