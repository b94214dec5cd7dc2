/* Tests of src/ocr/order.c: reading order of quads. */
#include "check.h"
#include "ocr/ocr.h"

static struct itx_ocr_quad
box(float x, float y, float w, float h)
{
    struct itx_ocr_quad q = {{x, y, x + w, y, x + w, y + h, x, y + h}, 1};
    return q;
}

static void
test_lines(void)
{
    /* Two lines of 20-pixel text; the second word of each line sits a few pixels higher. */
    struct itx_ocr_quad q[5] = {
        box(300, 104, 80, 20), /* line 2, right */
        box(10, 10, 100, 20),  /* line 1, left */
        box(200, 4, 100, 20),  /* line 1, right, 6 px higher */
        box(10, 108, 80, 20),  /* line 2, left */
        box(10, 200, 50, 20),  /* line 3 */
    };
    itx_ocr_quads_sort(q, 5);
    CHECK(q[0].pt[0] == 10 && q[0].pt[1] == 10);
    CHECK(q[1].pt[0] == 200);
    CHECK(q[2].pt[0] == 10 && q[2].pt[1] == 108);
    CHECK(q[3].pt[0] == 300);
    CHECK(q[4].pt[1] == 200);
}

static void
test_tolerance_scales(void)
{
    /* 80-pixel headline words 25 px apart in y: one line (PaddleOCR's fixed 10 px would
     * split it); 10-pixel small print 6 px apart: two lines. */
    struct itx_ocr_quad big[2] = {box(400, 0, 300, 80), box(0, 25, 300, 80)};
    struct itx_ocr_quad small[2] = {box(100, 0, 40, 10), box(0, 6, 40, 10)};

    itx_ocr_quads_sort(big, 2);
    CHECK(big[0].pt[0] == 0);
    itx_ocr_quads_sort(small, 2);
    CHECK(small[0].pt[0] == 100);
    itx_ocr_quads_sort(small, 0);
}

int
main(void)
{
    test_lines();
    test_tolerance_scales();
    return check_summary();
}
