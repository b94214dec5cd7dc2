/* Tests of src/ocr/geom.c: hull, minimum-area rectangle, round offset, corner order. */
#include <math.h>

#include "check.h"
#include "core/alloc.h"
#include "ocr/ocr-impl.h"

static bool
near(double a, double b, double eps)
{
    return fabs(a - b) <= eps;
}

static void
test_round_even(void)
{
    CHECK(itx_ocr_round_even(0.5) == 0);
    CHECK(itx_ocr_round_even(1.5) == 2);
    CHECK(itx_ocr_round_even(2.5) == 2);
    CHECK(itx_ocr_round_even(-0.5) == 0);
    CHECK(itx_ocr_round_even(-1.5) == -2);
    CHECK(itx_ocr_round_even(2.4999) == 2);
    CHECK(itx_ocr_round_even(2.5001) == 3);
}

static void
test_hull(void)
{
    struct itx_ocr_pt pts[30], hull[31];
    size_t n = 0, nh;

    /* A 5x6 grid: the hull is its 4 corners, clockwise on screen from the smallest x. */
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 5; x++)
            pts[n++] = (struct itx_ocr_pt){x, y};
    nh = itx_ocr_hull(pts, n, hull);
    CHECK_INT(nh, 4);
    CHECK(itx_ocr_poly_area(hull, nh) == 20);
    CHECK(itx_ocr_poly_perimeter(hull, nh) == 18);
    {
        double a = 0;
        for (size_t i = 0; i < nh; i++) {
            struct itx_ocr_pt p = hull[i], q = hull[(i + 1) % nh];
            a += p.x * q.y - q.x * p.y;
        }
        CHECK(a > 0); /* positive shoelace: what the offset needs for outward normals */
    }
    /* Collinear and repeated points. */
    pts[0] = (struct itx_ocr_pt){1, 1};
    pts[1] = (struct itx_ocr_pt){3, 3};
    pts[2] = (struct itx_ocr_pt){2, 2};
    pts[3] = (struct itx_ocr_pt){3, 3};
    nh = itx_ocr_hull(pts, 4, hull);
    CHECK_INT(nh, 2);
    CHECK(hull[0].x == 1 && hull[1].x == 3);
    pts[0] = (struct itx_ocr_pt){7, 7};
    pts[1] = (struct itx_ocr_pt){7, 7};
    CHECK_INT(itx_ocr_hull(pts, 2, hull), 1);
    CHECK_INT(itx_ocr_hull(pts, 0, hull), 0);
}

static void
test_min_area_rect(void)
{
    struct itx_ocr_pt pts[400], hull[401], c[4];
    double a, b;
    size_t n = 0, nh;
    double ang = 30 * M_PI / 180, cs = cos(ang), sn = sin(ang);

    /* Points filling a 40 x 10 rectangle rotated by 30 degrees. */
    for (int i = 0; i <= 40; i += 2)
        for (int j = 0; j <= 10; j += 2)
            pts[n++] = (struct itx_ocr_pt){100 + i * cs - j * sn, 50 + i * sn + j * cs};
    nh = itx_ocr_hull(pts, n, hull);
    itx_ocr_min_area_rect(hull, nh, c, &a, &b);
    CHECK_MSG(near(fmax(a, b), 40, 1e-6) && near(fmin(a, b), 10, 1e-6), "%g x %g", a, b);
    CHECK(near(c[0].x + c[2].x, c[1].x + c[3].x, 1e-6)); /* a parallelogram */
    /* A diamond: the minimum rectangle is the diamond itself (area 2 * 10 * 10). */
    pts[0] = (struct itx_ocr_pt){10, 0};
    pts[1] = (struct itx_ocr_pt){20, 10};
    pts[2] = (struct itx_ocr_pt){10, 20};
    pts[3] = (struct itx_ocr_pt){0, 10};
    nh = itx_ocr_hull(pts, 4, hull);
    itx_ocr_min_area_rect(hull, nh, c, &a, &b);
    CHECK_MSG(near(a * b, 200, 1e-6), "area %g", a * b);
    /* A segment and a point. */
    pts[0] = (struct itx_ocr_pt){0, 0};
    pts[1] = (struct itx_ocr_pt){3, 4};
    nh = itx_ocr_hull(pts, 2, hull);
    itx_ocr_min_area_rect(hull, nh, c, &a, &b);
    CHECK(near(fmax(a, b), 5, 1e-9) && near(fmin(a, b), 0, 1e-9));
    itx_ocr_min_area_rect(hull, 1, c, &a, &b);
    CHECK(a == 0 && b == 0);
}

static void
rect_of(struct itx_ocr_pt *p, size_t n, double *a, double *b)
{
    struct itx_ocr_pt *hull = itx_malloc_array(n + 1, sizeof(*hull)), c[4];
    size_t nh = itx_ocr_hull(p, n, hull);

    itx_ocr_min_area_rect(hull, nh, c, a, b);
    itx_free(hull);
}

static void
test_offset(void)
{
    struct itx_ocr_pt r[4] = {{0, 0}, {100, 0}, {100, 20}, {0, 20}}, rev[4], *o = NULL;
    size_t n = 0;
    double a, b, dist = itx_ocr_poly_area(r, 4) * 1.5 / itx_ocr_poly_perimeter(r, 4);

    CHECK(near(dist, 12.5, 1e-12)); /* 2000 * 1.5 / 240 */
    CHECK(itx_ocr_offset_round(r, 4, dist, &o, &n));
    CHECK(o != NULL && n > 8);
    for (size_t i = 0; i < n; i++) {
        /* Every vertex is outside the rectangle, within dist (+ rounding) of it. */
        double dx = fmax(fmax(-o[i].x, o[i].x - 100), 0), dy = fmax(fmax(-o[i].y, o[i].y - 20), 0);
        CHECK_MSG(hypot(dx, dy) <= dist + 0.75 && (dx > 0 || dy > 0), "vertex %g,%g", o[i].x,
                  o[i].y);
        CHECK(o[i].x == floor(o[i].x) && o[i].y == floor(o[i].y));
    }
    rect_of(o, n, &a, &b);
    /* 100 + 2 * 12.5 = 125 and 20 + 25 = 45, up to the integer rounding of the ends. */
    CHECK_MSG(near(fmax(a, b), 125, 1.01) && near(fmin(a, b), 45, 1.01), "%g x %g", a, b);
    itx_free(o);
    /* Orientation does not matter. */
    for (int i = 0; i < 4; i++)
        rev[i] = r[3 - i];
    CHECK(itx_ocr_offset_round(rev, 4, dist, &o, &n));
    rect_of(o, n, &a, &b);
    CHECK_MSG(near(fmax(a, b), 125, 1.01) && near(fmin(a, b), 45, 1.01), "%g x %g", a, b);
    itx_free(o);
    /* Input is truncated to integers as pyclipper does: 0.9 -> 0. */
    r[1].x = 100.9;
    r[2].x = 100.9;
    CHECK(itx_ocr_offset_round(r, 4, 10, &o, &n));
    rect_of(o, n, &a, &b);
    CHECK_MSG(near(fmax(a, b), 120, 1.01), "%g", fmax(a, b));
    itx_free(o);
    /* Degenerate paths give nothing, without failing. */
    {
        /* Truncated to (0,0) (10,0) (5,8) (5,8): a triangle remains. */
        struct itx_ocr_pt s[4] = {{0, 0}, {10.5, 0}, {5, 8.9}, {5.2, 8.1}};
        CHECK(itx_ocr_offset_round(s, 4, 3, &o, &n));
        CHECK(o != NULL && n >= 6);
        itx_free(o);
        /* Truncated to (0,0) (0,0) (10,0) (10,0): a segment, which Clipper drops. */
        struct itx_ocr_pt t[4] = {{0, 0}, {0.5, 0.5}, {10, 0}, {10.2, 0.3}};
        CHECK(itx_ocr_offset_round(t, 4, 3, &o, &n));
        CHECK(o == NULL && n == 0);
        CHECK(itx_ocr_offset_round(r, 4, 0, &o, &n));
        CHECK(o == NULL && n == 0);
    }
}

static void
test_order(void)
{
    struct itx_ocr_pt p[4] = {{10, 30}, {50, 5}, {12, 8}, {48, 32}};

    itx_ocr_order_clockwise(p);
    CHECK(p[0].x == 12 && p[0].y == 8);  /* top-left */
    CHECK(p[1].x == 50 && p[1].y == 5);  /* top-right */
    CHECK(p[2].x == 48 && p[2].y == 32); /* bottom-right */
    CHECK(p[3].x == 10 && p[3].y == 30); /* bottom-left */
}

static void
test_homography(void)
{
    struct itx_ocr_pt q[4] = {{10, 20}, {90, 5}, {100, 60}, {5, 70}};
    double m[9];
    double corners[4][2] = {{0, 0}, {50, 0}, {50, 30}, {0, 30}};

    itx_ocr_rect_to_quad(q, 50, 30, m);
    for (int i = 0; i < 4; i++) {
        double x = corners[i][0], y = corners[i][1], w = m[6] * x + m[7] * y + m[8];
        double X = (m[0] * x + m[1] * y + m[2]) / w, Y = (m[3] * x + m[4] * y + m[5]) / w;
        CHECK_MSG(near(X, q[i].x, 1e-9) && near(Y, q[i].y, 1e-9), "corner %d -> %g,%g", i, X, Y);
    }
}

int
main(void)
{
    test_round_even();
    test_hull();
    test_min_area_rect();
    test_offset();
    test_order();
    test_homography();
    return check_summary();
}
