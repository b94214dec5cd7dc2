/*
 * Reading order of detected quads (PaddleOCR's sorted_boxes, with a tolerance relative to
 * the line height).
 */
#include <math.h>

#include "ocr/ocr.h"

static double
quad_height(const struct itx_ocr_quad *q)
{
    return hypot((double)q->pt[6] - (double)q->pt[0], (double)q->pt[7] - (double)q->pt[1]);
}

/* Sort key of sorted(): (top-left y, top-left x). */
static bool
before(const struct itx_ocr_quad *a, const struct itx_ocr_quad *b)
{
    if (a->pt[1] != b->pt[1])
        return a->pt[1] < b->pt[1];
    return a->pt[0] < b->pt[0];
}

void
itx_ocr_quads_sort(struct itx_ocr_quad *q, size_t n)
{
    /* Stable insertion sort: detection yields quads almost in this order already. */
    for (size_t i = 1; i < n; i++) {
        struct itx_ocr_quad t = q[i];
        size_t j = i;
        while (j > 0 && before(&t, &q[j - 1])) {
            q[j] = q[j - 1];
            j--;
        }
        q[j] = t;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        for (size_t j = i + 1; j-- > 0;) {
            double tol = 0.5 * fmin(quad_height(&q[j]), quad_height(&q[j + 1]));
            if (fabs((double)q[j + 1].pt[1] - (double)q[j].pt[1]) < tol &&
                q[j + 1].pt[0] < q[j].pt[0]) {
                struct itx_ocr_quad t = q[j];
                q[j] = q[j + 1];
                q[j + 1] = t;
            } else {
                break;
            }
        }
    }
}
