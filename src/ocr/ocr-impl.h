/*
 * Internals of src/ocr/: plane geometry used by DB post-processing and crops. Only files of
 * this module (and its tests) include it.
 */
#ifndef ITX_OCR_OCR_IMPL_H
#define ITX_OCR_OCR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocr/ocr.h"

struct itx_ocr_pt {
    double x, y;
};

/*
 * Convex hull (Andrew's monotone chain) of pts[0..n); pts is sorted in place. Writes the
 * hull, without collinear or repeated points, counter-clockwise in a y-up frame (clockwise
 * on screen), into hull (capacity n + 1) and returns its size (1 or 2 for degenerate input,
 * 0 for none).
 */
size_t itx_ocr_hull(struct itx_ocr_pt *pts, size_t n, struct itx_ocr_pt *hull);

/*
 * Minimum-area enclosing rectangle of a convex hull (as from itx_ocr_hull), tried against
 * every hull edge (rotating calipers). Writes its corners in order around the rectangle and
 * its side lengths (*side_a along corner 0 -> 1, *side_b along 1 -> 2). n == 1 gives a
 * point, n == 2 a segment (one side 0).
 */
void itx_ocr_min_area_rect(const struct itx_ocr_pt *hull, size_t n, struct itx_ocr_pt c[4],
                           double *side_a, double *side_b);

/* Polygon area (absolute) and perimeter, as shapely's Polygon.area and .length. */
double itx_ocr_poly_area(const struct itx_ocr_pt *p, size_t n);
double itx_ocr_poly_perimeter(const struct itx_ocr_pt *p, size_t n);

/*
 * Outward offset of a closed polygon with round joins, as Clipper's ClipperOffset with
 * jtRound, etClosedPolygon and the default arc tolerance 0.25 does it (pyclipper in
 * PaddleOCR's unclip): input vertices are truncated to integers, arcs are approximated
 * with vertices on the circle, and output vertices are rounded to integers. *poly is a
 * new array (itx_free) of *n_out vertices, or NULL with 0 when the offset is empty (delta
 * not positive, or fewer than 3 distinct integer vertices). Returns false when out of memory.
 */
bool itx_ocr_offset_round(const struct itx_ocr_pt *p, size_t n, double delta,
                          struct itx_ocr_pt **poly, size_t *n_out);

/*
 * Orders 4 points clockwise on screen from the top-left, as PaddleOCR's
 * order_points_clockwise: top-left has the smallest x + y, bottom-right the largest, of the
 * other two top-right has the smaller y - x.
 */
void itx_ocr_order_clockwise(struct itx_ocr_pt p[4]);

/* Homography mapping the rectangle (0,0) (w,0) (w,h) (0,h) onto quad q[0..3]: m is
 * row-major 3x3, x' = (m0 x + m1 y + m2) / (m6 x + m7 y + m8). */
void itx_ocr_rect_to_quad(const struct itx_ocr_pt q[4], double w, double h, double m[9]);

/*
 * Decodes one UTF-8 sequence of s[0..n): writes the code point and returns its length, or
 * 0 when the bytes are not valid UTF-8 (overlong, surrogate, truncated, past U+10FFFF).
 */
size_t itx_ocr_utf8_next(const char *s, size_t n, uint32_t *cp);

/* Round half to even, as numpy.round and Python's round. */
double itx_ocr_round_even(double v);

/*
 * itx_ocr_det_tensor into planes of pad_w x pad_h (pad_w >= out_w, pad_h >= out_h): the
 * out_w x out_h picture at the top left of each plane, zeros right and below, so the
 * detector's padded input is written in one pass where the runner wants it.
 */
void itx_ocr_det_tensor_pad(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h,
                            int pad_w, int pad_h, float *out);

#endif
