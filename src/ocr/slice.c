/*
 * Tall pictures (long product detail strips): overlapping detection slices and the merge of
 * their quads.
 */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "ocr/ocr.h"

size_t
itx_ocr_slices_plan(int w, int h, int limit_side, double max_aspect, struct itx_ocr_slice *s,
                    size_t cap)
{
    int sh, overlap, step;
    size_t n;

    ITX_ASSERT(w > 0 && h > 0 && limit_side > 0);
    if (!(h > max_aspect * w)) {
        if (cap > 0)
            s[0] = (struct itx_ocr_slice){0, h};
        return 1;
    }
    sh = w > limit_side ? w : limit_side;
    if (sh >= h) {
        if (cap > 0)
            s[0] = (struct itx_ocr_slice){0, h};
        return 1;
    }
    overlap = sh / 4 < 32 ? 32 : sh / 4;
    if (overlap > sh / 2)
        overlap = sh / 2; /* a slice of 32 to 63 rows: the 32-row minimum would leave no step */
    step = sh - overlap;
    n = 1 + (size_t)((h - sh + step - 1) / step);
    for (size_t k = 0; k < n && k < cap; k++) {
        /* Spread evenly so the overlaps are all at least `overlap`. */
        s[k].y = (int)(((long long)(h - sh) * (long long)k) / (long long)(n - 1));
        s[k].h = sh;
    }
    return n;
}

struct entry {
    size_t i;
    double x0, y0, x1, y1, area;
    bool cut;
};

static int
cmp_entry(const void *a, const void *b)
{
    const struct entry *p = a, *q = b;

    if (p->cut != q->cut)
        return p->cut ? 1 : -1;
    if (p->area != q->area)
        return p->area > q->area ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

enum itx_status
itx_ocr_quads_merge(struct itx_ocr_quad *q, size_t n, const size_t *slice_of,
                    const struct itx_ocr_slice *s, size_t n_slices, size_t *n_out,
                    struct itx_diag *d)
{
    struct entry *e = NULL;
    bool *keep = NULL;
    size_t m = 0;

    if (n == 0) {
        *n_out = 0;
        return ITX_OK;
    }
    e = itx_malloc_array(n, sizeof(*e));
    keep = itx_calloc(n, sizeof(*keep));
    if (!e || !keep) {
        itx_free(e);
        itx_free(keep);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory merging %zu text boxes", n);
    }
    for (size_t i = 0; i < n; i++) {
        const float *p = q[i].pt;
        size_t k = slice_of[i];
        e[i].i = i;
        e[i].x0 = e[i].x1 = (double)p[0];
        e[i].y0 = e[i].y1 = (double)p[1];
        for (int c = 1; c < 4; c++) {
            e[i].x0 = fmin(e[i].x0, (double)p[2 * c]);
            e[i].x1 = fmax(e[i].x1, (double)p[2 * c]);
            e[i].y0 = fmin(e[i].y0, (double)p[2 * c + 1]);
            e[i].y1 = fmax(e[i].y1, (double)p[2 * c + 1]);
        }
        e[i].area = (e[i].x1 - e[i].x0) * (e[i].y1 - e[i].y0);
        ITX_ASSERT(k < n_slices);
        e[i].cut = (k > 0 && e[i].y0 <= s[k].y + 1) ||
                   (k + 1 < n_slices && e[i].y1 >= s[k].y + s[k].h - 2);
    }
    qsort(e, n, sizeof(*e), cmp_entry);
    for (size_t a = 0; a < n; a++) {
        bool dup = false;
        for (size_t b = 0; b < a && !dup; b++) {
            double iw, ih, small;
            if (!keep[e[b].i])
                continue;
            iw = fmin(e[a].x1, e[b].x1) - fmax(e[a].x0, e[b].x0);
            ih = fmin(e[a].y1, e[b].y1) - fmax(e[a].y0, e[b].y0);
            small = fmin(e[a].area, e[b].area);
            dup = iw > 0 && ih > 0 && iw * ih > 0.5 * small;
        }
        keep[e[a].i] = !dup;
    }
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            q[m++] = q[i];
    itx_free(e);
    itx_free(keep);
    *n_out = m;
    return ITX_OK;
}
