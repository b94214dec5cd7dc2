/* Tests of src/ocr/dbpost.c on hand-made probability maps. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/alloc.h"
#include "ocr/ocr.h"

struct map {
    int w, h;
    float *p;
};

static struct map
map_new(int w, int h, float v)
{
    struct map m = {w, h, malloc(sizeof(float) * (size_t)w * (size_t)h)};
    for (int i = 0; i < w * h; i++)
        m.p[i] = v;
    return m;
}

static void
fill(struct map *m, int x0, int y0, int x1, int y1, float v)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            m->p[y * m->w + x] = v;
}

static size_t
run(const struct map *m, int img_w, int img_h, const struct itx_ocr_db_params *p,
    struct itx_ocr_quad **q)
{
    struct itx_diag d;
    size_t n = 99;
    enum itx_status st;

    itx_diag_init(&d);
    *q = NULL;
    st = itx_ocr_db_boxes(m->p, m->w, m->h, img_w, img_h, p, q, &n, &d);
    CHECK_MSG(st == ITX_OK, "%s", d.msg);
    return st == ITX_OK ? n : 0;
}

static bool
quad_is(const struct itx_ocr_quad *q, float x1, float y1, float x2, float y2, float x3, float y3,
        float x4, float y4)
{
    float e[8] = {x1, y1, x2, y2, x3, y3, x4, y4};
    for (int i = 0; i < 8; i++)
        if (q->pt[i] != e[i]) {
            fprintf(stderr, "quad %g,%g %g,%g %g,%g %g,%g\n", (double)q->pt[0], (double)q->pt[1],
                    (double)q->pt[2], (double)q->pt[3], (double)q->pt[4], (double)q->pt[5],
                    (double)q->pt[6], (double)q->pt[7]);
            return false;
        }
    return true;
}

static void
test_empty_and_full(void)
{
    struct map m = map_new(64, 48, 0);
    struct itx_ocr_quad *q;

    CHECK_INT(run(&m, 64, 48, NULL, &q), 0);
    CHECK(q == NULL);
    /* Everything is text: one box, unclipped past the edges and clipped back to the image. */
    fill(&m, 0, 0, 63, 47, 1.0f);
    CHECK_INT(run(&m, 128, 96, NULL, &q), 1);
    CHECK(q && quad_is(&q[0], 0, 0, 127, 0, 127, 95, 0, 95));
    CHECK(q && q[0].score == 1.0f);
    itx_free(q);
    free(m.p);
}

static void
test_rectangle(void)
{
    struct map m = map_new(100, 100, 0.05f);
    struct itx_ocr_quad *q;

    /* Pixel centres 20..79 x 10..19: a 59 x 9 rectangle, unclip distance
     * 59 * 9 * 1.5 / 136 = 5.86, so 14..85 x 4..25, scaled by 2. */
    fill(&m, 20, 10, 79, 19, 0.9f);
    CHECK_INT(run(&m, 200, 200, NULL, &q), 1);
    CHECK(q && quad_is(&q[0], 28, 8, 170, 8, 170, 50, 28, 50));
    CHECK(q && fabsf(q[0].score - 0.9f) < 1e-6f);
    itx_free(q);
    /* A box scoring under box_thresh is dropped, and kept when the threshold is lower. */
    fill(&m, 20, 10, 79, 19, 0.5f);
    CHECK_INT(run(&m, 200, 200, NULL, &q), 0);
    {
        struct itx_ocr_db_params p;
        itx_ocr_db_params_default(&p);
        p.box_thresh = 0.4f;
        CHECK_INT(run(&m, 200, 200, &p, &q), 1);
        itx_free(q);
        /* And a higher binarisation threshold leaves nothing. */
        p.thresh = 0.5f;
        CHECK_INT(run(&m, 200, 200, &p, &q), 0);
    }
    free(m.p);
}

static void
test_small_and_thin(void)
{
    struct map m = map_new(80, 80, 0);
    struct itx_ocr_quad *q;

    fill(&m, 5, 5, 60, 5, 0.9f);    /* a one-pixel line: short side 0 */
    fill(&m, 5, 20, 5, 70, 0.9f);   /* a one-pixel column */
    fill(&m, 30, 30, 32, 32, 0.9f); /* 3x3 pixels: short side 2 < 3 */
    fill(&m, 50, 50, 50, 50, 0.9f); /* a single pixel */
    CHECK_INT(run(&m, 80, 80, NULL, &q), 0);
    /* Four pixels apart (short side 3): kept, and grown by the unclip. */
    fill(&m, 40, 60, 60, 63, 0.9f);
    CHECK_INT(run(&m, 80, 80, NULL, &q), 1);
    itx_free(q);
    free(m.p);
}

static void
test_touching_blobs(void)
{
    struct map m = map_new(100, 60, 0);
    struct itx_ocr_quad *q;
    struct itx_ocr_db_params p;

    /* Two rectangles touching at one corner are one 8-connected region, whose rectangle
     * is half empty: it scores under 0.6, and is kept with a lower box threshold. */
    itx_ocr_db_params_default(&p);
    fill(&m, 10, 10, 39, 19, 0.9f);
    fill(&m, 40, 20, 69, 29, 0.9f);
    CHECK_INT(run(&m, 100, 60, NULL, &q), 0);
    p.box_thresh = 0.3f;
    CHECK_INT(run(&m, 100, 60, &p, &q), 1);
    itx_free(q);
    /* One pixel apart: two regions, two boxes (and a third one below). */
    fill(&m, 40, 20, 69, 29, 0.0f);
    fill(&m, 41, 20, 70, 29, 0.9f);
    fill(&m, 10, 40, 80, 50, 0.9f);
    CHECK_INT(run(&m, 100, 60, NULL, &q), 3);
    itx_free(q);
    free(m.p);
}

static void
test_holes(void)
{
    struct map m = map_new(60, 60, 0);
    struct itx_ocr_quad *q;

    /* A ring: the hole's border box covers mostly hole, so it scores low; one box, the
     * outer one, grown by 39 * 39 * 1.5 / 156 = 14.6 past the edges and clipped. */
    fill(&m, 10, 10, 49, 49, 0.9f);
    fill(&m, 20, 20, 39, 39, 0.0f);
    CHECK_INT(run(&m, 60, 60, NULL, &q), 1);
    CHECK(q && quad_is(&q[0], 0, 0, 59, 0, 59, 59, 0, 59));
    itx_free(q);
    /* A small hole of values just under the threshold: its border (RETR_LIST returns
     * hole borders too) scores (20 * 0.9 + 16 * 0.29) / 36 = 0.63 and gives a second,
     * nested box, as PaddleOCR does. */
    fill(&m, 10, 10, 49, 49, 0.9f);
    fill(&m, 28, 28, 31, 31, 0.29f);
    CHECK_INT(run(&m, 60, 60, NULL, &q), 2);
    if (q) {
        int inner = q[0].pt[0] > q[1].pt[0] ? 0 : 1;
        CHECK(q[inner].pt[0] > 15 && q[inner].pt[4] < 45);
        CHECK(q[inner].score < q[1 - inner].score);
    }
    itx_free(q);
    free(m.p);
}

static void
test_rotated(void)
{
    struct map m = map_new(200, 200, 0);
    struct itx_ocr_quad *q;
    double ang = 20 * M_PI / 180, cs = cos(ang), sn = sin(ang);

    /* A 100 x 16 bar rotated by 20 degrees around (100, 100). */
    for (int y = 0; y < 200; y++) {
        for (int x = 0; x < 200; x++) {
            double u = (x - 100) * cs + (y - 100) * sn, v = -(x - 100) * sn + (y - 100) * cs;
            if (fabs(u) <= 50 && fabs(v) <= 8)
                m.p[y * 200 + x] = 0.8f;
        }
    }
    CHECK_INT(run(&m, 200, 200, NULL, &q), 1);
    if (q) {
        double top = atan2(q[0].pt[3] - q[0].pt[1], q[0].pt[2] - q[0].pt[0]) * 180 / M_PI;
        double wd = hypot(q[0].pt[2] - q[0].pt[0], q[0].pt[3] - q[0].pt[1]);
        double ht = hypot(q[0].pt[6] - q[0].pt[0], q[0].pt[7] - q[0].pt[1]);
        /* distance = 100 * 16 * 1.5 / 232 = 10.3, so about 121 x 37 */
        CHECK_MSG(fabs(top - 20) < 1.5, "angle %g", top);
        CHECK_MSG(fabs(wd - 121) < 3 && fabs(ht - 37) < 3, "%g x %g", wd, ht);
        CHECK(q[0].pt[0] < q[0].pt[2] && q[0].pt[5] > q[0].pt[1]); /* clockwise from TL */
        CHECK(q[0].score > 0.6f);
    }
    itx_free(q);
    free(m.p);
}

static void
test_nan(void)
{
    struct map m = map_new(50, 40, NAN);
    struct itx_ocr_quad *q;

    CHECK_INT(run(&m, 50, 40, NULL, &q), 0);
    fill(&m, 10, 10, 40, 20, 0.95f);
    m.p[15 * 50 + 20] = NAN; /* a NaN hole inside: ignored by the score */
    m.p[0] = INFINITY;
    m.p[1] = -INFINITY;
    CHECK_INT(run(&m, 50, 40, NULL, &q), 1);
    CHECK(q && isfinite(q[0].score) && q[0].score <= 1.0f);
    itx_free(q);
    free(m.p);
}

static void
test_candidates_and_limits(void)
{
    struct map m = map_new(100, 100, 0);
    struct itx_ocr_quad *q;
    struct itx_ocr_db_params p;
    struct itx_diag d;
    size_t n;

    fill(&m, 10, 10, 80, 20, 0.9f);
    fill(&m, 10, 40, 80, 50, 0.9f);
    fill(&m, 10, 70, 80, 80, 0.9f);
    itx_ocr_db_params_default(&p);
    p.max_candidates = 2;
    CHECK_INT(run(&m, 100, 100, &p, &q), 2);
    CHECK(q && q[0].pt[1] < 40 && q[1].pt[1] < 70); /* the first two in raster order */
    itx_free(q);
    p.max_candidates = 0;
    CHECK_INT(run(&m, 100, 100, &p, &q), 0);

    itx_diag_init(&d);
    CHECK(itx_ocr_db_boxes(m.p, 0, 100, 100, 100, NULL, &q, &n, &d) == ITX_ERR_INVALID);
    CHECK(itx_ocr_db_boxes(m.p, 100, 100, 100, -1, NULL, &q, &n, &d) == ITX_ERR_INVALID);
    itx_ocr_db_params_default(&p);
    p.max_pixels = 5000;
    CHECK(itx_ocr_db_boxes(m.p, 100, 100, 100, 100, &p, &q, &n, &d) == ITX_ERR_TOO_LARGE);
    CHECK_MSG(strstr(d.msg, "5000-pixel limit") != NULL, "%s", d.msg);
    itx_ocr_db_params_default(&p);
    p.thresh = NAN;
    CHECK(itx_ocr_db_boxes(m.p, 100, 100, 100, 100, &p, &q, &n, &d) == ITX_ERR_INVALID);
    free(m.p);
}

/* Every allocation failure is reported as ITX_ERR_NOMEM and leaks nothing. */
static void
test_alloc_failures(void)
{
    struct map m = map_new(60, 60, 0);
    struct itx_ocr_quad *q = NULL;
    struct itx_diag d;
    size_t n;
    int failures = 0;

    fill(&m, 10, 10, 49, 49, 0.9f);
    fill(&m, 28, 28, 31, 31, 0.29f);
    fill(&m, 5, 55, 50, 58, 0.9f);
    for (unsigned long k = 1; k < 200; k++) {
        enum itx_status st;
        itx_diag_init(&d);
        itx_alloc_fail_at(k, false);
        st = itx_ocr_db_boxes(m.p, 60, 60, 60, 60, NULL, &q, &n, &d);
        itx_alloc_fail_at(0, false);
        if (st == ITX_OK) {
            CHECK_INT(n, 3);
            itx_free(q);
            break;
        }
        CHECK_MSG(st == ITX_ERR_NOMEM, "%s", d.msg);
        failures++;
    }
    CHECK(failures > 5);
    free(m.p);
}

int
main(void)
{
    test_empty_and_full();
    test_rectangle();
    test_small_and_thin();
    test_touching_blobs();
    test_holes();
    test_rotated();
    test_nan();
    test_candidates_and_limits();
    test_alloc_failures();
    return check_summary();
}
