/* Tests of src/ocr/slice.c: slices of tall pictures and the merge of their quads. */
#include "check.h"
#include "core/alloc.h"
#include "ocr/ocr.h"

static void
test_plan(void)
{
    struct itx_ocr_slice s[16];
    size_t n;

    CHECK_INT(itx_ocr_slices_plan(800, 800, 960, 2.5, s, 16), 1);
    CHECK(s[0].y == 0 && s[0].h == 800);
    CHECK_INT(itx_ocr_slices_plan(800, 2000, 960, 2.5, s, 16), 1); /* aspect 2.5: not tall */
    /* A 790 x 6000 detail strip: 960-row slices overlapping by at least 240. */
    n = itx_ocr_slices_plan(790, 6000, 960, 2.5, s, 16);
    CHECK_INT(n, 8);
    CHECK(s[0].y == 0 && s[n - 1].y + s[n - 1].h == 6000);
    for (size_t k = 0; k < n; k++) {
        CHECK(s[k].h == 960);
        if (k > 0)
            CHECK_MSG(s[k - 1].y + s[k - 1].h - s[k].y >= 240, "overlap %d",
                      s[k - 1].y + s[k - 1].h - s[k].y);
    }
    CHECK_INT(itx_ocr_slices_plan(790, 6000, 960, 2.5, NULL, 0), 8);
    /* Wide and tall: slices as tall as the picture is wide. */
    n = itx_ocr_slices_plan(1500, 4000, 960, 2.5, s, 16);
    CHECK(n >= 3 && s[0].h == 1500);
    /* Narrow: never shorter than the picture allows. */
    n = itx_ocr_slices_plan(100, 900, 960, 2.5, s, 16);
    CHECK(n == 1 && s[0].h == 900);
}

static struct itx_ocr_quad
box(float x, float y, float w, float h)
{
    struct itx_ocr_quad q = {{x, y, x + w, y, x + w, y + h, x, y + h}, 0.9f};
    return q;
}

static void
test_merge(void)
{
    struct itx_ocr_slice s[2] = {{0, 960}, {720, 960}};
    /* Slice 0: a line cut by its bottom edge (930..959) and a line inside the overlap
     * (800..840). Slice 1: the same two lines whole, and one only it sees. */
    struct itx_ocr_quad q[6] = {
        box(10, 100, 300, 40), box(10, 930, 300, 29), box(10, 800, 300, 40),
        box(10, 800, 301, 41), box(10, 930, 300, 50), box(10, 1500, 200, 40),
    };
    size_t slice_of[6] = {0, 0, 0, 1, 1, 1}, n = 0;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK(itx_ocr_quads_merge(q, 6, slice_of, s, 2, &n, &d) == ITX_OK);
    CHECK_INT(n, 4);
    CHECK(q[0].pt[1] == 100);
    CHECK(q[1].pt[1] == 800 && q[1].pt[2] == 311); /* the larger duplicate */
    CHECK(q[2].pt[1] == 930 && q[2].pt[5] == 980); /* the whole line, not the cut one */
    CHECK(q[3].pt[1] == 1500);
    /* Side by side lines do not merge. */
    {
        struct itx_ocr_quad r[2] = {box(0, 0, 100, 20), box(110, 0, 100, 20)};
        size_t so[2] = {0, 0};
        struct itx_ocr_slice one = {0, 100};
        CHECK(itx_ocr_quads_merge(r, 2, so, &one, 1, &n, &d) == ITX_OK);
        CHECK_INT(n, 2);
    }
    CHECK(itx_ocr_quads_merge(q, 0, slice_of, s, 2, &n, &d) == ITX_OK && n == 0);
    itx_alloc_fail_at(1, false);
    CHECK(itx_ocr_quads_merge(q, 2, slice_of, s, 2, &n, &d) == ITX_ERR_NOMEM);
    itx_alloc_fail_at(0, false);
}

int
main(void)
{
    test_plan();
    test_merge();
    return check_summary();
}
