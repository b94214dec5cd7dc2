/*
 * DB post-processing: probability map -> text quads, following PaddleOCR's DBPostProcess
 * (score_mode "fast", box_type "quad") and predict_det's filter_tag_det_res.
 *
 * PaddleOCR finds contours with cv2.findContours(RETR_LIST), which returns the outer border
 * of every 8-connected foreground region and the border around every hole (4-connected
 * background region not touching the image edge), and then only ever uses the convex hull
 * of each border (cv2.minAreaRect). The hull of an outer border is the hull of the whole
 * region, and that of a hole border the hull of the foreground pixels 4-adjacent to the
 * hole, so here regions are labelled by flood fill and each contributes only the end
 * pixels of its runs in each row: no border following is needed.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "ocr/ocr-impl.h"

#define DEFAULT_MAX_PIXELS ((size_t)64 << 20)

void
itx_ocr_db_params_default(struct itx_ocr_db_params *p)
{
    p->thresh = 0.3f;
    p->box_thresh = 0.6f;
    p->unclip_ratio = 1.5f;
    p->min_size = 3;
    p->max_candidates = 1000;
    p->max_pixels = DEFAULT_MAX_PIXELS;
}

struct region {
    size_t first;   /* raster index of the first pixel */
    size_t n_pts;   /* hull candidate points */
    size_t off;     /* into the point array */
    int32_t id;     /* label: > 0 foreground, < 0 background */
    bool border;    /* background region touching the image edge (not a hole) */
    bool candidate; /* among the first max_candidates borders */
};

struct ctx {
    const float *prob;
    float thresh;
    int w, h;
    int32_t *label;
    int32_t *stack;
    struct region *reg;
    size_t n_reg, cap_reg;
    int32_t *reg_of_fg; /* label id -> region index, foreground */
    int32_t *reg_of_bg; /* label id -> region index, background */
    struct itx_ocr_pt *pts;
};

static bool
is_fg(const struct ctx *c, size_t i)
{
    return c->prob[i] > c->thresh; /* NaN is background */
}

/* Flood-fills the region containing pixel start with label id; 8-connected for foreground,
 * 4-connected for background, as OpenCV's border following treats them. */
static bool
flood(struct ctx *c, size_t start, int32_t id, bool fg)
{
    size_t top = 0;
    bool border = false;
    int w = c->w, h = c->h;

    c->label[start] = id;
    c->stack[top++] = (int32_t)start;
    while (top > 0) {
        size_t i = (size_t)c->stack[--top];
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
            border = true;
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx, ny = y + dy;
                size_t j;
                if ((dx == 0 && dy == 0) || (!fg && dx != 0 && dy != 0))
                    continue;
                if (nx < 0 || ny < 0 || nx >= w || ny >= h)
                    continue;
                j = (size_t)ny * (size_t)w + (size_t)nx;
                if (c->label[j] != 0 || is_fg(c, j) != fg)
                    continue;
                c->label[j] = id;
                c->stack[top++] = (int32_t)j;
            }
        }
    }
    return border;
}

static enum itx_status
label_regions(struct ctx *c, struct itx_diag *d)
{
    size_t n = (size_t)c->w * (size_t)c->h;
    int32_t n_fg = 0, n_bg = 0;

    for (size_t i = 0; i < n; i++) {
        bool fg;
        struct region *r;
        if (c->label[i] != 0)
            continue;
        fg = is_fg(c, i);
        if (c->n_reg == c->cap_reg) {
            size_t cap = c->cap_reg ? c->cap_reg * 2 : 256;
            struct region *nr = itx_realloc_array(c->reg, cap, sizeof(*nr));
            if (!nr)
                return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory labelling text regions");
            c->reg = nr;
            c->cap_reg = cap;
        }
        r = &c->reg[c->n_reg++];
        memset(r, 0, sizeof(*r));
        r->first = i;
        r->id = fg ? ++n_fg : -(++n_bg);
        r->border = flood(c, i, r->id, fg);
    }
    return ITX_OK;
}

static void
add_pt(struct ctx *c, struct region *r, int x, int y, bool fill)
{
    if (fill) {
        c->pts[r->off + r->n_pts].x = x;
        c->pts[r->off + r->n_pts].y = y;
    }
    r->n_pts++;
}

/* Adds the left- and rightmost foreground pixels of row y within [x0, x1]. */
static void
add_row_extremes(struct ctx *c, struct region *r, int x0, int x1, int y, bool fill)
{
    const int32_t *row = c->label + (size_t)y * (size_t)c->w;
    int a = x0, b = x1;

    while (a <= x1 && row[a] <= 0)
        a++;
    if (a > x1)
        return;
    while (row[b] <= 0)
        b--;
    add_pt(c, r, a, y, fill);
    if (b != a)
        add_pt(c, r, b, y, fill);
}

/* Walks the runs of every row and adds each candidate's hull points (count or fill). */
static void
collect_points(struct ctx *c, bool fill)
{
    int w = c->w;

    for (int y = 0; y < c->h; y++) {
        const int32_t *row = c->label + (size_t)y * (size_t)w;
        for (int x0 = 0; x0 < w;) {
            int32_t id = row[x0];
            int x1 = x0;
            struct region *r;
            while (x1 + 1 < w && row[x1 + 1] == id)
                x1++;
            r = &c->reg[id > 0 ? c->reg_of_fg[id] : c->reg_of_bg[-id]];
            if (r->candidate) {
                if (id > 0) {
                    add_pt(c, r, x0, y, fill);
                    if (x1 != x0)
                        add_pt(c, r, x1, y, fill);
                } else {
                    /* A hole never touches the edge, so all these pixels exist. */
                    add_pt(c, r, x0 - 1, y, fill);
                    add_pt(c, r, x1 + 1, y, fill);
                    add_row_extremes(c, r, x0, x1, y - 1, fill);
                    add_row_extremes(c, r, x0, x1, y + 1, fill);
                }
            }
            x0 = x1 + 1;
        }
    }
}

/*
 * Mean of prob over the pixels cv2.fillPoly would set for the quad (PaddleOCR
 * box_score_fast): corners are taken relative to the clipped bounding box and truncated
 * to integers; a row covers the interior and the pixels of each edge's line. Values are
 * clamped to [0, 1] and NaN counts as 0, so the score is always a probability.
 */
static double
box_score(const struct ctx *c, const struct itx_ocr_pt q[4])
{
    double minx = q[0].x, maxx = q[0].x, miny = q[0].y, maxy = q[0].y, sum = 0;
    int xmin, xmax, ymin, ymax;
    size_t count = 0;
    struct itx_ocr_pt v[4];

    for (int i = 1; i < 4; i++) {
        minx = fmin(minx, q[i].x);
        maxx = fmax(maxx, q[i].x);
        miny = fmin(miny, q[i].y);
        maxy = fmax(maxy, q[i].y);
    }
    xmin = (int)fmin(fmax(floor(minx), 0), c->w - 1);
    xmax = (int)fmin(fmax(ceil(maxx), 0), c->w - 1);
    ymin = (int)fmin(fmax(floor(miny), 0), c->h - 1);
    ymax = (int)fmin(fmax(ceil(maxy), 0), c->h - 1);
    for (int i = 0; i < 4; i++) {
        v[i].x = trunc(q[i].x - xmin);
        v[i].y = trunc(q[i].y - ymin);
    }
    for (int y = 0; y <= ymax - ymin; y++) {
        double lo = (double)INFINITY, hi = -(double)INFINITY;
        int a, b;
        for (int i = 0; i < 4; i++) {
            struct itx_ocr_pt p = v[i], n = v[(i + 1) % 4];
            double y0 = fmin(p.y, n.y), y1 = fmax(p.y, n.y), ya, yb;
            /* The part of the edge whose line pixels fall on this row. */
            ya = fmax(y0, y - 0.5);
            yb = fmin(y1, y + 0.499);
            if (ya > yb)
                continue;
            if (p.y == n.y) {
                lo = fmin(lo, fmin(p.x, n.x));
                hi = fmax(hi, fmax(p.x, n.x));
            } else {
                double xa = p.x + (ya - p.y) * (n.x - p.x) / (n.y - p.y);
                double xb = p.x + (yb - p.y) * (n.x - p.x) / (n.y - p.y);
                lo = fmin(lo, floor(fmin(xa, xb) + 0.5));
                hi = fmax(hi, floor(fmax(xa, xb) + 0.5));
            }
        }
        if (lo > hi)
            continue;
        a = (int)fmax(lo, 0);
        b = (int)fmin(hi, xmax - xmin);
        for (int x = a; x <= b; x++) {
            float f = c->prob[(size_t)(y + ymin) * (size_t)c->w + (size_t)(x + xmin)];
            /* A model's map is a probability: anything else (NaN, inf) is clamped. */
            sum += !(f > 0.0f) ? 0.0 : f > 1.0f ? 1.0 : (double)f;
            count++;
        }
    }
    return count ? sum / (double)count : 0.0;
}

/* Minimum-area rectangle of a point set (sorted in place); false when empty. */
static bool
mini_box(struct itx_ocr_pt *pts, size_t n, struct itx_ocr_pt *hull, struct itx_ocr_pt q[4],
         double *sside)
{
    double a, b;
    size_t nh = itx_ocr_hull(pts, n, hull);

    if (nh == 0)
        return false;
    itx_ocr_min_area_rect(hull, nh, q, &a, &b);
    *sside = fmin(a, b);
    return true;
}

static double
clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Unclip, re-box, scale and filter one candidate; true when it yields a quad. */
static bool
finish_box(const struct ctx *c, const struct itx_ocr_db_params *p, struct itx_ocr_pt q[4],
           int img_w, int img_h, struct itx_ocr_quad *out, bool *nomem)
{
    double per = itx_ocr_poly_perimeter(q, 4), dist, sside;
    struct itx_ocr_pt *ex = NULL, *hull = NULL, r[4];
    size_t n_ex = 0;
    bool ok = false;

    if (!(per > 0))
        return false;
    dist = itx_ocr_poly_area(q, 4) * (double)p->unclip_ratio / per;
    if (dist > 0) {
        if (!itx_ocr_offset_round(q, 4, dist, &ex, &n_ex)) {
            *nomem = true;
            return false;
        }
        if (!ex)
            return false; /* Clipper gives nothing for a degenerate path: no box */
    } else {
        /* unclip_ratio 0: keep the box as it is. */
        ex = itx_malloc_array(4, sizeof(*ex));
        if (!ex) {
            *nomem = true;
            return false;
        }
        memcpy(ex, q, 4 * sizeof(*ex));
        n_ex = 4;
    }
    hull = itx_malloc_array(n_ex + 1, sizeof(*hull));
    if (!hull) {
        *nomem = true;
        goto out;
    }
    if (!mini_box(ex, n_ex, hull, r, &sside) || sside < p->min_size + 2)
        goto out;
    for (int i = 0; i < 4; i++) {
        r[i].x = clampd(itx_ocr_round_even(r[i].x / c->w * img_w), 0, img_w);
        r[i].y = clampd(itx_ocr_round_even(r[i].y / c->h * img_h), 0, img_h);
    }
    itx_ocr_order_clockwise(r);
    for (int i = 0; i < 4; i++) {
        /* filter_tag_det_res clips to the last pixel with int() */
        r[i].x = trunc(clampd(r[i].x, 0, img_w - 1));
        r[i].y = trunc(clampd(r[i].y, 0, img_h - 1));
    }
    if (trunc(hypot(r[0].x - r[1].x, r[0].y - r[1].y)) <= 3 ||
        trunc(hypot(r[0].x - r[3].x, r[0].y - r[3].y)) <= 3)
        goto out;
    for (int i = 0; i < 4; i++) {
        out->pt[2 * i] = (float)r[i].x;
        out->pt[2 * i + 1] = (float)r[i].y;
    }
    ok = true;
out:
    itx_free(ex);
    itx_free(hull);
    return ok;
}

static enum itx_status
check_params(const struct itx_ocr_db_params *p, struct itx_diag *d)
{
    if (!(p->thresh >= 0 && p->thresh <= 1))
        return itx_diag_set(d, ITX_ERR_INVALID, "detection threshold %g is outside [0, 1]",
                            (double)p->thresh);
    if (!(p->box_thresh >= 0 && p->box_thresh <= 1))
        return itx_diag_set(d, ITX_ERR_INVALID, "box threshold %g is outside [0, 1]",
                            (double)p->box_thresh);
    if (!(p->unclip_ratio >= 0 && p->unclip_ratio <= 10))
        return itx_diag_set(d, ITX_ERR_INVALID, "unclip ratio %g is outside [0, 10]",
                            (double)p->unclip_ratio);
    if (p->min_size < 0 || p->min_size > 1000)
        return itx_diag_set(d, ITX_ERR_INVALID, "minimum box size %d is outside [0, 1000]",
                            p->min_size);
    if (p->max_candidates < 0)
        return itx_diag_set(d, ITX_ERR_INVALID, "maximum candidates %d is negative",
                            p->max_candidates);
    return ITX_OK;
}

enum itx_status
itx_ocr_db_boxes(const float *prob, int map_w, int map_h, int img_w, int img_h,
                 const struct itx_ocr_db_params *params, struct itx_ocr_quad **quads,
                 size_t *n_quads, struct itx_diag *d)
{
    struct itx_ocr_db_params p;
    struct ctx c = {0};
    struct itx_ocr_quad *res = NULL;
    struct itx_ocr_pt *hull = NULL;
    size_t n, max_pixels, n_res = 0, n_cand = 0, total = 0, max_pts = 0;
    enum itx_status st = ITX_OK;

    if (params)
        p = *params;
    else
        itx_ocr_db_params_default(&p);
    if ((st = check_params(&p, d)) != ITX_OK)
        return st;
    max_pixels = p.max_pixels ? p.max_pixels : DEFAULT_MAX_PIXELS;
    if (map_w < 1 || map_h < 1 || img_w < 1 || img_h < 1)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "probability map %dx%d or image %dx%d has an empty side", map_w, map_h,
                            img_w, img_h);
    if (!itx_mul_size((size_t)map_w, (size_t)map_h, &n) || n > max_pixels || n > INT32_MAX)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "probability map %dx%d is over the %zu-pixel limit", map_w, map_h,
                            max_pixels);
    c.prob = prob;
    c.thresh = p.thresh;
    c.w = map_w;
    c.h = map_h;
    c.label = itx_calloc(n, sizeof(*c.label));
    c.stack = itx_malloc_array(n, sizeof(*c.stack));
    if (!c.label || !c.stack) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a %dx%d probability map", map_w,
                          map_h);
        goto out;
    }
    if ((st = label_regions(&c, d)) != ITX_OK)
        goto out;
    itx_free(c.stack);
    c.stack = NULL;
    c.reg_of_fg = itx_malloc_array(c.n_reg + 1, sizeof(*c.reg_of_fg));
    c.reg_of_bg = itx_malloc_array(c.n_reg + 1, sizeof(*c.reg_of_bg));
    if (!c.reg_of_fg || !c.reg_of_bg)
        goto nomem;
    for (size_t i = 0; i < c.n_reg; i++) {
        struct region *r = &c.reg[i];
        if (r->id > 0)
            c.reg_of_fg[r->id] = (int32_t)i;
        else
            c.reg_of_bg[-r->id] = (int32_t)i;
        /* Every foreground region has an outer border; holes have a hole border. */
        if ((r->id > 0 || !r->border) && n_cand < (size_t)p.max_candidates) {
            r->candidate = true;
            n_cand++;
        }
    }
    if (n_cand == 0)
        goto done;
    collect_points(&c, false);
    for (size_t i = 0; i < c.n_reg; i++) {
        c.reg[i].off = total;
        total += c.reg[i].n_pts;
        if (c.reg[i].n_pts > max_pts)
            max_pts = c.reg[i].n_pts;
        c.reg[i].n_pts = 0;
    }
    c.pts = itx_malloc_array(total ? total : 1, sizeof(*c.pts));
    hull = itx_malloc_array(max_pts + 1, sizeof(*hull));
    res = itx_malloc_array(n_cand, sizeof(*res));
    if (!c.pts || !hull || !res)
        goto nomem;
    collect_points(&c, true);
    for (size_t i = 0; i < c.n_reg; i++) {
        struct region *r = &c.reg[i];
        struct itx_ocr_pt q[4];
        double sside, score;
        bool nomem = false;
        if (!r->candidate || !mini_box(c.pts + r->off, r->n_pts, hull, q, &sside))
            continue;
        if (sside < p.min_size)
            continue;
        score = box_score(&c, q);
        if ((double)p.box_thresh > score)
            continue;
        if (finish_box(&c, &p, q, img_w, img_h, &res[n_res], &nomem)) {
            res[n_res++].score = (float)score;
        } else if (nomem) {
            goto nomem;
        }
    }
done:
    if (n_res == 0) {
        itx_free(res);
        res = NULL;
    }
    *quads = res;
    *n_quads = n_res;
    res = NULL;
    goto out;
nomem:
    st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory post-processing a %dx%d map", map_w, map_h);
out:
    itx_free(res);
    itx_free(hull);
    itx_free(c.pts);
    itx_free(c.reg_of_fg);
    itx_free(c.reg_of_bg);
    itx_free(c.reg);
    itx_free(c.stack);
    itx_free(c.label);
    return st;
}
