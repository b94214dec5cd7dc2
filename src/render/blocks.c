/*
 * Line style estimates and grouping of lines into blocks (docs/render.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "image/image.h"
#include "render/render.h"

#define MAX_LINES 100000

/* ---- colour ----------------------------------------------------------------------------- */

static double
lin(double c)
{
    c /= 255.0;
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

double
itx_render_luminance(const uint8_t rgb[3])
{
    return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
}

double
itx_render_contrast(const uint8_t a[3], const uint8_t b[3])
{
    double la = itx_render_luminance(a), lb = itx_render_luminance(b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

static float
color_dist(const uint8_t a[3], const uint8_t b[3])
{
    float s = 0;
    for (int c = 0; c < 3; c++) {
        float t = (float)a[c] - (float)b[c];
        s += t * t;
    }
    return sqrtf(s);
}

/* ---- quad geometry ---------------------------------------------------------------------- */

struct frame {
    float cx, cy, w, h, angle; /* angle in degrees, counter-clockwise */
};

static float
dist2(float ax, float ay, float bx, float by)
{
    return sqrtf((ax - bx) * (ax - bx) + (ay - by) * (ay - by));
}

/* Centre, size and reading angle of a quad (vertical columns: angle 0, w across). */
static void
quad_frame(const float q[8], bool vertical, struct frame *f)
{
    f->cx = (q[0] + q[2] + q[4] + q[6]) / 4;
    f->cy = (q[1] + q[3] + q[5] + q[7]) / 4;
    f->w = (dist2(q[0], q[1], q[2], q[3]) + dist2(q[6], q[7], q[4], q[5])) / 2;
    f->h = (dist2(q[0], q[1], q[6], q[7]) + dist2(q[2], q[3], q[4], q[5])) / 2;
    /* screen y grows downwards; counter-clockwise angles are negative dy */
    f->angle = vertical ? 0.0f
                        : (float)(atan2(-(double)(q[3] - q[1] + q[5] - q[7]),
                                        (double)(q[2] - q[0] + q[4] - q[6])) *
                                  180.0 / M_PI);
}

/* Projects (x, y) onto the frame of angle a (degrees): u along the text, v across (down). */
static void
project(float a, float cx, float cy, float x, float y, float *u, float *v)
{
    double r = (double)a * M_PI / 180.0, ca = cos(r), sa = sin(r);
    double dx = (double)(x - cx), dy = (double)(y - cy);
    *u = (float)(dx * ca - dy * sa);
    *v = (float)(dx * sa + dy * ca);
}

static void
unproject(float a, float cx, float cy, float u, float v, float *x, float *y)
{
    double r = (double)a * M_PI / 180.0, ca = cos(r), sa = sin(r);
    *x = (float)((double)cx + (double)u * ca + (double)v * sa);
    *y = (float)((double)cy - (double)u * sa + (double)v * ca);
}

/* ---- style ------------------------------------------------------------------------------ */

static int
cmp_u8(const void *a, const void *b)
{
    return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

enum itx_status
itx_render_line_style(const struct itx_image *img, const float quad[8], bool vertical,
                      struct itx_render_style *out)
{
    struct frame f;
    float minx = quad[0], maxx = quad[0], miny = quad[1], maxy = quad[1];
    int x0, y0, x1, y1;
    size_t n_ring = 0, cap;
    uint8_t *ring[3] = {NULL, NULL, NULL};
    struct itx_render_style s;
    enum itx_status st = ITX_OK;

    quad_frame(quad, vertical, &f);
    memset(&s, 0, sizeof(s));
    s.size = vertical ? f.w : f.h;
    for (int i = 1; i < 4; i++) {
        minx = fminf(minx, quad[2 * i]), maxx = fmaxf(maxx, quad[2 * i]);
        miny = fminf(miny, quad[2 * i + 1]), maxy = fmaxf(maxy, quad[2 * i + 1]);
    }
    if (!(minx < img->w && miny < img->h && maxx >= 0 && maxy >= 0) || img->channels < 3) {
        *out = s;
        return ITX_OK;
    }
    x0 = (int)floorf(minx) - 2, y0 = (int)floorf(miny) - 2;
    x1 = (int)ceilf(maxx) + 2, y1 = (int)ceilf(maxy) + 2;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 >= img->w ? img->w - 1 : x1, y1 = y1 >= img->h ? img->h - 1 : y1;
    if (x1 <= x0 || y1 <= y0) {
        *out = s;
        return ITX_OK;
    }
    cap = 2 * (size_t)(x1 - x0 + 1) + 2 * (size_t)(y1 - y0 + 1);
    for (int c = 0; c < 3; c++)
        ring[c] = itx_malloc(cap);
    if (!ring[0] || !ring[1] || !ring[2]) {
        st = ITX_ERR_NOMEM; /* *out is the default style */
        goto out;
    }
    for (int x = x0; x <= x1; x++)
        for (int k = 0; k < 2; k++) {
            const uint8_t *p = itx_image_at(img, x, k ? y1 : y0);
            for (int c = 0; c < 3; c++)
                ring[c][n_ring] = p[c];
            n_ring++;
        }
    for (int y = y0 + 1; y < y1; y++)
        for (int k = 0; k < 2; k++) {
            const uint8_t *p = itx_image_at(img, k ? x1 : x0, y);
            for (int c = 0; c < 3; c++)
                ring[c][n_ring] = p[c];
            n_ring++;
        }
    for (int c = 0; c < 3; c++) {
        qsort(ring[c], n_ring, 1, cmp_u8);
        s.bg[c] = ring[c][n_ring / 2];
    }
    {
        /* ink: pixels far from the background; their extent across the text gives the size */
        double maxd = 0, acc[3] = {0, 0, 0}, nacc = 0;
        float vmin = 1e30f, vmax = -1e30f;
        size_t n_ink = 0, n_edge = 0;
        float thr;
        /* first pass: the largest distance */
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                float dd = color_dist(itx_image_at(img, x, y), s.bg);
                maxd = (double)dd > maxd ? (double)dd : maxd;
            }
        thr = (float)fmax(30.0, maxd * 0.45);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                const uint8_t *p = itx_image_at(img, x, y);
                float dd = color_dist(p, s.bg), u, v;
                if (dd < thr)
                    continue;
                project(f.angle, f.cx, f.cy, (float)x + 0.5f, (float)y + 0.5f, &u, &v);
                if (vertical) {
                    float t = u;
                    u = v, v = t;
                }
                if (fabsf(v) > (vertical ? f.w : f.h) / 2 + 1 ||
                    fabsf(u) > (vertical ? f.h : f.w) / 2 + 1)
                    continue;
                n_ink++;
                vmin = fminf(vmin, v), vmax = fmaxf(vmax, v);
                if (dd >= (float)maxd * 0.75f) {
                    for (int c = 0; c < 3; c++)
                        acc[c] += p[c];
                    nacc++;
                }
                /* an ink pixel with a non-ink 4-neighbour is on a stroke's edge */
                if (x > 0 && x < img->w - 1 && y > 0 && y < img->h - 1 &&
                    (color_dist(itx_image_at(img, x - 1, y), s.bg) < thr ||
                     color_dist(itx_image_at(img, x + 1, y), s.bg) < thr ||
                     color_dist(itx_image_at(img, x, y - 1), s.bg) < thr ||
                     color_dist(itx_image_at(img, x, y + 1), s.bg) < thr))
                    n_edge++;
            }
        if (n_ink > 4 && nacc > 0 && maxd >= 30) {
            float ink_h = vmax - vmin + 1;
            for (int c = 0; c < 3; c++)
                s.color[c] = (uint8_t)lrint(acc[c] / nacc);
            s.size = ink_h / 0.88f;
            /* stroke width ~ 2 * area / perimeter */
            if (n_edge > 0 && s.size > 0)
                s.bold = 2.0f * (float)n_ink / (float)n_edge / s.size > 0.09f;
        } else {
            for (int c = 0; c < 3; c++)
                s.color[c] = (uint8_t)(255 - s.bg[c]);
        }
    }
out:
    for (int c = 0; c < 3; c++)
        itx_free(ring[c]);
    *out = s;
    return st;
}

/* ---- grouping --------------------------------------------------------------------------- */

void
itx_render_group_opts_default(struct itx_render_group_opts *o)
{
    o->max_angle_diff = 3.0f;
    o->min_size_ratio = 0.8f;
    o->max_color_dist = 60.0f;
    o->max_line_gap = 1.0f;
    o->align_tol = 0.75f;
    o->group_size_ratio = 0.88f;
    o->group_color_dist = 40.0f;
}

static size_t
uf_find(size_t *p, size_t i)
{
    while (p[i] != i) {
        p[i] = p[p[i]];
        i = p[i];
    }
    return i;
}

static void
uf_union(size_t *p, size_t a, size_t b)
{
    a = uf_find(p, a), b = uf_find(p, b);
    if (a != b)
        p[a < b ? b : a] = a < b ? a : b;
}

static float
ratio(float a, float b)
{
    if (a <= 0 || b <= 0)
        return 0;
    return a < b ? a / b : b / a;
}

/* Whether lines i and j belong in one block. */
static bool
joinable(const struct itx_render_line *li, const struct frame *fi,
         const struct itx_render_style *si, const struct itx_render_line *lj,
         const struct frame *fj, const struct itx_render_style *sj,
         const struct itx_render_group_opts *o)
{
    float size = (si->size + sj->size) / 2;
    float ui, vi, uj, vj;
    float along_i, along_j, across_i, across_j;

    if (li->vertical != lj->vertical)
        return false;
    if (fabsf(fi->angle - fj->angle) > o->max_angle_diff)
        return false;
    if (ratio(si->size, sj->size) < o->min_size_ratio)
        return false;
    if (color_dist(si->color, sj->color) > o->max_color_dist)
        return false;
    /* both centres in line i's frame */
    project(fi->angle, fi->cx, fi->cy, fi->cx, fi->cy, &ui, &vi);
    project(fi->angle, fi->cx, fi->cy, fj->cx, fj->cy, &uj, &vj);
    if (li->vertical) {
        float t;
        t = ui, ui = vi, vi = t;
        t = uj, uj = vj, vj = t;
        along_i = fi->h, along_j = fj->h, across_i = fi->w, across_j = fj->w;
    } else {
        along_i = fi->w, along_j = fj->w, across_i = fi->h, across_j = fj->h;
    }
    {
        float dv = fabsf(vj - vi);
        float gap = dv - (across_i + across_j) / 2;
        float lo_i = ui - along_i / 2, hi_i = ui + along_i / 2;
        float lo_j = uj - along_j / 2, hi_j = uj + along_j / 2;
        float overlap = fminf(hi_i, hi_j) - fmaxf(lo_i, lo_j);
        float tol = o->align_tol * size;
        if (dv < 0.5f * size) /* the same row: separate phrases stay apart */
            return false;
        if (gap > o->max_line_gap * size)
            return false;
        if (overlap <= 0)
            return false;
        if (li->vertical) /* columns: tops aligned, or centres */
            return fabsf(lo_i - lo_j) <= tol || fabsf(ui - uj) <= tol || fabsf(hi_i - hi_j) <= tol;
        return fabsf(lo_i - lo_j) <= tol || fabsf(ui - uj) <= tol || fabsf(hi_i - hi_j) <= tol;
    }
}

struct sort_item {
    size_t idx;
    float key1, key2;
};

static int
cmp_sort_item(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    if (x->key1 != y->key1)
        return x->key1 < y->key1 ? -1 : 1;
    if (x->key2 != y->key2)
        return x->key2 < y->key2 ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void
itx_render_blocks_free(struct itx_render_blocks *b)
{
    if (!b)
        return;
    itx_free(b->blocks);
    itx_free(b->line_idx);
    itx_free(b);
}

static void
block_box(struct itx_render_block *b, const size_t *idx, const struct itx_render_line *lines,
          const struct frame *fr, const struct itx_render_style *styles, int img_w)
{
    float umin = 1e30f, umax = -1e30f, vmin = 1e30f, vmax = -1e30f;
    double ang = 0, size = 0, col[3] = {0, 0, 0}, bg[3] = {0, 0, 0};
    int n_bold = 0;
    float ox, oy;

    for (size_t k = 0; k < b->n_lines; k++) {
        size_t i = idx[b->first + k];
        ang += (double)fr[i].angle;
        size += (double)styles[i].size;
        n_bold += styles[i].bold;
        for (int c = 0; c < 3; c++)
            col[c] += styles[i].color[c], bg[c] += styles[i].bg[c];
    }
    b->angle = b->vertical ? 0.0f : (float)(ang / (double)b->n_lines);
    b->style.size = (float)(size / (double)b->n_lines);
    b->style.bold = n_bold * 2 >= (int)b->n_lines;
    for (int c = 0; c < 3; c++) {
        b->style.color[c] = (uint8_t)lrint(col[c] / (double)b->n_lines);
        b->style.bg[c] = (uint8_t)lrint(bg[c] / (double)b->n_lines);
    }
    ox = fr[idx[b->first]].cx, oy = fr[idx[b->first]].cy;
    for (size_t k = 0; k < b->n_lines; k++) {
        const float *q = lines[idx[b->first + k]].quad;
        for (int p = 0; p < 4; p++) {
            float u, v;
            project(b->angle, ox, oy, q[2 * p], q[2 * p + 1], &u, &v);
            umin = fminf(umin, u), umax = fmaxf(umax, u);
            vmin = fminf(vmin, v), vmax = fmaxf(vmax, v);
        }
    }
    unproject(b->angle, ox, oy, (umin + umax) / 2, (vmin + vmax) / 2, &b->cx, &b->cy);
    b->w = umax - umin, b->h = vmax - vmin;
    unproject(b->angle, ox, oy, umin, vmin, &b->quad[0], &b->quad[1]);
    unproject(b->angle, ox, oy, umax, vmin, &b->quad[2], &b->quad[3]);
    unproject(b->angle, ox, oy, umax, vmax, &b->quad[4], &b->quad[5]);
    unproject(b->angle, ox, oy, umin, vmax, &b->quad[6], &b->quad[7]);

    /* alignment from the rows' edges along the reading direction */
    b->align = ITX_RENDER_ALIGN_LEFT;
    if (b->vertical) {
        b->align = ITX_RENDER_ALIGN_CENTRE;
    } else if (b->n_lines >= 2) {
        float lmin = 1e30f, lmax = -1e30f, rmin = 1e30f, rmax = -1e30f, cmin = 1e30f, cmax = -1e30f;
        for (size_t k = 0; k < b->n_lines; k++) {
            const struct frame *f = &fr[idx[b->first + k]];
            float u, v;
            project(b->angle, ox, oy, f->cx, f->cy, &u, &v);
            lmin = fminf(lmin, u - f->w / 2), lmax = fmaxf(lmax, u - f->w / 2);
            rmin = fminf(rmin, u + f->w / 2), rmax = fmaxf(rmax, u + f->w / 2);
            cmin = fminf(cmin, u), cmax = fmaxf(cmax, u);
        }
        {
            float sl = lmax - lmin, sr = rmax - rmin, sc = cmax - cmin;
            float tol = 0.15f * b->style.size;
            if (sl <= tol || (sl <= sc && sl <= sr))
                b->align = ITX_RENDER_ALIGN_LEFT;
            else if (sc <= sr)
                b->align = ITX_RENDER_ALIGN_CENTRE;
            else
                b->align = ITX_RENDER_ALIGN_RIGHT;
        }
    } else if (fabsf(b->cx - (float)img_w / 2) < 0.03f * (float)img_w + 2) {
        b->align = ITX_RENDER_ALIGN_CENTRE;
    }
}

enum itx_status
itx_render_blocks_group(const struct itx_render_line *lines, const struct itx_render_style *styles,
                        size_t n, int img_w, int img_h, const struct itx_render_group_opts *o,
                        struct itx_render_blocks **out, struct itx_diag *d)
{
    struct itx_render_group_opts def;
    struct frame *fr = NULL;
    size_t *parent = NULL, *root_block = NULL;
    struct sort_item *order = NULL;
    struct itx_render_blocks *b = NULL;
    enum itx_status st = ITX_OK;
    (void)img_h;

    if (!o) {
        itx_render_group_opts_default(&def);
        o = &def;
    }
    if (n > MAX_LINES)
        return itx_diag_set(d, ITX_ERR_INVALID, "%zu lines to group, over the %d-line limit", n,
                            MAX_LINES);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            if (!isfinite(lines[i].quad[k]) || fabsf(lines[i].quad[k]) > 1e7f)
                return itx_diag_set(d, ITX_ERR_INVALID, "line %zu has a non-finite quad", i);
    b = itx_calloc(1, sizeof(*b));
    fr = itx_malloc_array(n ? n : 1, sizeof(*fr));
    parent = itx_malloc_array(n ? n : 1, sizeof(*parent));
    root_block = itx_malloc_array(n ? n : 1, sizeof(*root_block));
    order = itx_malloc_array(n ? n : 1, sizeof(*order));
    if (!b || !fr || !parent || !root_block || !order) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory grouping %zu lines", n);
        goto out;
    }
    b->blocks = itx_calloc(n ? n : 1, sizeof(*b->blocks));
    b->line_idx = itx_malloc_array(n ? n : 1, sizeof(*b->line_idx));
    if (!b->blocks || !b->line_idx) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory grouping %zu lines", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        quad_frame(lines[i].quad, lines[i].vertical, &fr[i]);
        parent[i] = i;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (joinable(&lines[i], &fr[i], &styles[i], &lines[j], &fr[j], &styles[j], o) &&
                joinable(&lines[j], &fr[j], &styles[j], &lines[i], &fr[i], &styles[i], o))
                uf_union(parent, i, j);

    /* blocks in order of their first line's position; lines in reading order */
    for (size_t i = 0; i < n; i++) {
        size_t r = uf_find(parent, i);
        order[i].idx = i;
        order[i].key1 = (float)r; /* group by root first */
        if (lines[i].vertical) {
            order[i].key2 = fr[i].cx; /* columns: left to right (as the test set draws) */
        } else {
            float u, v;
            project(fr[r].angle, fr[r].cx, fr[r].cy, fr[i].cx, fr[i].cy, &u, &v);
            order[i].key2 = v;
        }
    }
    qsort(order, n, sizeof(*order), cmp_sort_item);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k].idx, r = uf_find(parent, i);
        struct itx_render_block *blk;
        if (k == 0 || uf_find(parent, order[k - 1].idx) != r) {
            blk = &b->blocks[b->n_blocks++];
            blk->first = k;
            blk->vertical = lines[i].vertical;
        }
        blk = &b->blocks[b->n_blocks - 1];
        b->line_idx[k] = i;
        blk->n_lines++;
    }
    for (size_t k = 0; k < b->n_blocks; k++)
        block_box(&b->blocks[k], b->line_idx, lines, fr, styles, img_w);
    {
        /* reading order of blocks: by top edge, then left */
        struct itx_render_block *tmp =
            itx_malloc_array(b->n_blocks ? b->n_blocks : 1, sizeof(*tmp));
        if (!tmp) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory grouping %zu lines", n);
            goto out;
        }
        for (size_t k = 0; k < b->n_blocks; k++) {
            const float *q = b->blocks[k].quad;
            order[k].idx = k;
            order[k].key1 = floorf(fminf(fminf(q[1], q[3]), fminf(q[5], q[7])) / 8.0f);
            order[k].key2 = fminf(fminf(q[0], q[2]), fminf(q[4], q[6]));
        }
        qsort(order, b->n_blocks, sizeof(*order), cmp_sort_item);
        for (size_t k = 0; k < b->n_blocks; k++)
            tmp[k] = b->blocks[order[k].idx];
        memcpy(b->blocks, tmp, b->n_blocks * sizeof(*tmp));
        itx_free(tmp);
    }
    /* size groups: blocks of alike size, colour and kind */
    for (size_t k = 0; k < b->n_blocks; k++)
        b->blocks[k].group = -1;
    for (size_t k = 0; k < b->n_blocks; k++) {
        struct itx_render_block *bk = &b->blocks[k];
        if (bk->group >= 0)
            continue;
        bk->group = b->n_groups++;
        for (size_t j = k + 1; j < b->n_blocks; j++) {
            struct itx_render_block *bj = &b->blocks[j];
            if (bj->group < 0 && bj->vertical == bk->vertical &&
                ratio(bj->style.size, bk->style.size) >= o->group_size_ratio &&
                color_dist(bj->style.color, bk->style.color) <= o->group_color_dist &&
                bj->style.bold == bk->style.bold)
                bj->group = bk->group;
        }
    }
    *out = b;
    b = NULL;
out:
    itx_render_blocks_free(b);
    itx_free(fr);
    itx_free(parent);
    itx_free(root_block);
    itx_free(order);
    return st;
}
