/*
 * Text erasing (docs/inpaint.md): ring model, ink mask, refill or inpaint, leftover check.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "image/image.h"
#include "inpaint/inpaint.h"

#define N_TERMS 6 /* 1, x, y, x^2, xy, y^2 */

void
itx_inpaint_opts_default(struct itx_inpaint_opts *o)
{
    o->max_passes = 2;
    o->flat_rms = 12.0f;
    o->margin = 0.15f;
    o->ring = 0.3f;
    o->radius = 0;
}

const char *
itx_inpaint_fill_name(enum itx_inpaint_fill f)
{
    switch (f) {
    case ITX_INPAINT_FILL_MODEL:
        return "model";
    case ITX_INPAINT_FILL_NOISE:
        return "noise";
    case ITX_INPAINT_FILL_TEXTURE:
        return "texture";
    default:
        return "none";
    }
}

void
itx_inpaint_report_free(struct itx_inpaint_report *r)
{
    if (!r)
        return;
    itx_free(r->blocks);
    itx_image_free(r->mask);
    itx_free(r);
}

/* ---- geometry --------------------------------------------------------------------------- */

/* A quad grown outwards by g pixels along its own axes. */
static void
grow_quad(const float qf[8], double g, double out[8])
{
    double q[8];
    for (int i = 0; i < 8; i++)
        q[i] = (double)qf[i];
    double cx = (q[0] + q[2] + q[4] + q[6]) / 4.0, cy = (q[1] + q[3] + q[5] + q[7]) / 4.0;
    double ux = (q[2] - q[0] + q[4] - q[6]) / 2.0, uy = (q[3] - q[1] + q[5] - q[7]) / 2.0;
    double vx = (q[6] - q[0] + q[4] - q[2]) / 2.0, vy = (q[7] - q[1] + q[5] - q[3]) / 2.0;
    double lu = sqrt(ux * ux + uy * uy), lv = sqrt(vx * vx + vy * vy);
    static const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
    if (lu < 1e-6)
        ux = 1, uy = 0, lu = 1e-6;
    if (lv < 1e-6)
        vx = 0, vy = 1, lv = 1e-6;
    for (int i = 0; i < 4; i++) {
        double a = (lu / 2 + g) / lu, b = (lv / 2 + g) / lv;
        out[2 * i] = cx + su[i] * a * ux + sv[i] * b * vx;
        out[2 * i + 1] = cy + su[i] * a * uy + sv[i] * b * vy;
    }
}

static bool
in_quad(const double q[8], double x, double y)
{
    bool pos = false, neg = false;
    for (int i = 0; i < 4; i++) {
        int j = (i + 1) % 4;
        double c = (q[2 * j] - q[2 * i]) * (y - q[2 * i + 1]) - (q[2 * j + 1] - q[2 * i + 1]) * (x - q[2 * i]);
        if (c > 0)
            pos = true;
        else if (c < 0)
            neg = true;
    }
    return !(pos && neg);
}

struct rect {
    int x0, y0, x1, y1; /* inclusive */
};

static void
quad_rect(const double q[8], int w, int h, struct rect *r)
{
    double minx = q[0], maxx = q[0], miny = q[1], maxy = q[1];
    for (int i = 1; i < 4; i++) {
        minx = fmin(minx, q[2 * i]), maxx = fmax(maxx, q[2 * i]);
        miny = fmin(miny, q[2 * i + 1]), maxy = fmax(maxy, q[2 * i + 1]);
    }
    r->x0 = (int)fmax(0, floor(minx)), r->y0 = (int)fmax(0, floor(miny));
    r->x1 = (int)fmin(w - 1, ceil(maxx)), r->y1 = (int)fmin(h - 1, ceil(maxy));
}

/* ---- surface model ---------------------------------------------------------------------- */

struct model {
    double c[3][N_TERMS];
    int n_terms;
    double ox, oy, s; /* coordinates are normalised: ((x - ox) / s, (y - oy) / s) */
};

static void
terms(const struct model *m, double x, double y, double t[N_TERMS])
{
    double u = (x - m->ox) / m->s, v = (y - m->oy) / m->s;
    t[0] = 1, t[1] = u, t[2] = v, t[3] = u * u, t[4] = u * v, t[5] = v * v;
}

static void
model_at(const struct model *m, double x, double y, double out[3])
{
    double t[N_TERMS];
    terms(m, x, y, t);
    for (int c = 0; c < 3; c++) {
        double v = 0;
        for (int k = 0; k < m->n_terms; k++)
            v += m->c[c][k] * t[k];
        out[c] = v;
    }
}

/* Solves the n x n system a x = b in place (Gaussian elimination, partial pivoting). */
static bool
solve(double a[N_TERMS][N_TERMS], double b[3][N_TERMS], int n)
{
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(a[r][col]) > fabs(a[piv][col]))
                piv = r;
        if (fabs(a[piv][col]) < 1e-9)
            return false;
        if (piv != col) {
            for (int k = 0; k < n; k++) {
                double t = a[col][k];
                a[col][k] = a[piv][k], a[piv][k] = t;
            }
            for (int c = 0; c < 3; c++) {
                double t = b[c][col];
                b[c][col] = b[c][piv], b[c][piv] = t;
            }
        }
        for (int r = 0; r < n; r++) {
            double f;
            if (r == col)
                continue;
            f = a[r][col] / a[col][col];
            for (int k = col; k < n; k++)
                a[r][k] -= f * a[col][k];
            for (int c = 0; c < 3; c++)
                b[c][r] -= f * b[c][col];
        }
    }
    for (int r = 0; r < n; r++)
        for (int c = 0; c < 3; c++)
            b[c][r] /= a[r][r];
    return true;
}

/* Least-squares fit over the ring pixels (coordinates in xs/ys); returns the RMS residual. */
static double
fit_model(const struct itx_image *img, const int *xs, const int *ys, size_t n, struct model *m)
{
    double a[N_TERMS][N_TERMS], b[3][N_TERMS], mean[3] = {0, 0, 0}, minx = 1e30, maxx = -1e30,
                                                     miny = 1e30, maxy = -1e30;
    double rss = 0;

    memset(m, 0, sizeof(*m));
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        minx = fmin(minx, xs[i]), maxx = fmax(maxx, xs[i]);
        miny = fmin(miny, ys[i]), maxy = fmax(maxy, ys[i]);
    }
    m->ox = (minx + maxx) / 2, m->oy = (miny + maxy) / 2;
    m->s = fmax(1, fmax(maxx - minx, maxy - miny) / 2);
    m->n_terms = n >= 24 ? N_TERMS : n >= 6 ? 3 : 1;
    for (;;) {
        memset(a, 0, sizeof(a));
        memset(b, 0, sizeof(b));
        for (size_t i = 0; i < n; i++) {
            double t[N_TERMS];
            const uint8_t *p = itx_image_at(img, xs[i], ys[i]);
            terms(m, xs[i], ys[i], t);
            for (int r = 0; r < m->n_terms; r++) {
                for (int k = 0; k < m->n_terms; k++)
                    a[r][k] += t[r] * t[k];
                for (int c = 0; c < 3; c++)
                    b[c][r] += t[r] * p[c];
            }
        }
        if (solve(a, b, m->n_terms) || m->n_terms == 1)
            break;
        m->n_terms = m->n_terms == N_TERMS ? 3 : 1;
    }
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < m->n_terms; k++)
            m->c[c][k] = b[c][k];
    if (m->n_terms == 1 && fabs(m->c[0][0]) < 1e-12) {
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                mean[c] += itx_image_at(img, xs[i], ys[i])[c];
        for (int c = 0; c < 3; c++)
            m->c[c][0] = mean[c] / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        double v[3];
        const uint8_t *p = itx_image_at(img, xs[i], ys[i]);
        model_at(m, xs[i], ys[i], v);
        for (int c = 0; c < 3; c++)
            rss += (p[c] - v[c]) * (p[c] - v[c]);
    }
    return sqrt(rss / (3.0 * (double)n));
}

static double
dist3(const uint8_t *p, const double v[3])
{
    double s = 0;
    for (int c = 0; c < 3; c++)
        s += (p[c] - v[c]) * (p[c] - v[c]);
    return sqrt(s);
}

static uint8_t
clamp8(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
}

/* Deterministic noise in [-1, 1) * sqrt(3) (unit variance) from a pixel position. */
static double
hash_noise(int x, int y, int c)
{
    uint32_t h = (uint32_t)x * 73856093u ^ (uint32_t)y * 19349663u ^ (uint32_t)c * 83492791u;
    h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
    return ((double)(h & 0xffff) / 32768.0 - 1.0) * 1.7320508;
}

/* Distance of colour p from the segment a..b in RGB (anti-aliased edges lie near it). */
static double
seg_dist(const uint8_t *p, const double a[3], const uint8_t bq[3])
{
    double ab[3], ap[3], l2 = 0, t = 0, q[3];
    for (int c = 0; c < 3; c++) {
        ab[c] = bq[c] - a[c], ap[c] = p[c] - a[c];
        l2 += ab[c] * ab[c], t += ab[c] * ap[c];
    }
    t = l2 > 0 ? fmin(1, fmax(0, t / l2)) : 0;
    for (int c = 0; c < 3; c++)
        q[c] = a[c] + t * ab[c];
    return dist3(p, q);
}

/* ---- fast marching inpainting (Telea 2004, without the gradient term) ------------------- */

struct heap_item {
    float t;
    int idx;
};

struct heap {
    struct heap_item *v;
    size_t n, cap;
};

static bool
heap_push(struct heap *h, float t, int idx)
{
    size_t i;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        struct heap_item *nv = itx_realloc_array(h->v, nc, sizeof(*nv));
        if (!nv)
            return false;
        h->v = nv, h->cap = nc;
    }
    i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].t <= t)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i].t = t, h->v[i].idx = idx;
    return true;
}

static struct heap_item
heap_pop(struct heap *h)
{
    struct heap_item top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float mt = last.t;
        if (l < h->n && h->v[l].t < mt)
            m = l, mt = h->v[l].t;
        if (r < h->n && h->v[r].t < mt)
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

enum { KNOWN = 0, BAND = 1, INSIDE = 2 };

/*
 * Inpaints the pixels of out where unknown[] (window-sized, row-major over rect r) is set,
 * marching inwards from the known edge; each pixel is the weighted mean of known pixels
 * within radius, weighted by nearness, by alignment with the marching direction and by
 * similar arrival time.
 */
static bool
telea(struct itx_image *out, const struct rect *r, const uint8_t *unknown, int radius)
{
    int ww = r->x1 - r->x0 + 1, wh = r->y1 - r->y0 + 1;
    size_t n = (size_t)ww * (size_t)wh;
    uint8_t *flag = itx_malloc(n);
    float *t = itx_malloc_array(n, sizeof(float));
    struct heap h = {0};
    bool ok = flag && t;
    static const int dx4[4] = {1, -1, 0, 0}, dy4[4] = {0, 0, 1, -1};

    if (!ok)
        goto out;
    for (size_t i = 0; i < n; i++) {
        flag[i] = unknown[i] ? INSIDE : KNOWN;
        t[i] = unknown[i] ? 1e6f : 0.0f;
    }
    for (int y = 0; y < wh && ok; y++)
        for (int x = 0; x < ww && ok; x++) {
            int i = y * ww + x;
            if (flag[i] != INSIDE)
                continue;
            for (int k = 0; k < 4; k++) {
                int xx = x + dx4[k], yy = y + dy4[k];
                if (xx >= 0 && yy >= 0 && xx < ww && yy < wh && flag[yy * ww + xx] == KNOWN) {
                    flag[i] = BAND;
                    t[i] = 1.0f;
                    ok = heap_push(&h, 1.0f, i);
                    break;
                }
            }
        }
    while (ok && h.n) {
        struct heap_item it = heap_pop(&h);
        int i = it.idx, x = i % ww, y = i / ww;
        double gx, gy, sum[3] = {0, 0, 0}, wsum = 0;
        if (flag[i] == KNOWN)
            continue;
        /* marching direction: gradient of arrival time */
        {
            float tl = x > 0 && flag[i - 1] != INSIDE ? t[i - 1] : t[i];
            float tr = x < ww - 1 && flag[i + 1] != INSIDE ? t[i + 1] : t[i];
            float tu = y > 0 && flag[i - ww] != INSIDE ? t[i - ww] : t[i];
            float td = y < wh - 1 && flag[i + ww] != INSIDE ? t[i + ww] : t[i];
            gx = (double)(tr - tl) / 2, gy = (double)(td - tu) / 2;
        }
        for (int dy = -radius; dy <= radius; dy++) {
            int yy = y + dy;
            if (yy < 0 || yy >= wh)
                continue;
            for (int dx = -radius; dx <= radius; dx++) {
                int xx = x + dx, j;
                double d2, dir, lev, wgt;
                const uint8_t *q;
                if (xx < 0 || xx >= ww || (dx == 0 && dy == 0))
                    continue;
                j = yy * ww + xx;
                if (flag[j] != KNOWN)
                    continue;
                d2 = dx * dx + dy * dy;
                if (d2 > radius * radius)
                    continue;
                dir = fabs(-dx * gx - dy * gy) / sqrt(d2);
                lev = 1.0 / (1.0 + fabs((double)(t[j] - t[i])));
                wgt = (dir + 0.05) * lev / d2;
                q = itx_image_at(out, r->x0 + xx, r->y0 + yy);
                for (int c = 0; c < 3; c++)
                    sum[c] += wgt * q[c];
                wsum += wgt;
            }
        }
        if (wsum > 0) {
            uint8_t *p = itx_image_at(out, r->x0 + x, r->y0 + y);
            for (int c = 0; c < 3; c++)
                p[c] = clamp8(sum[c] / wsum);
        }
        flag[i] = KNOWN;
        for (int k = 0; k < 4 && ok; k++) {
            int xx = x + dx4[k], yy = y + dy4[k], j;
            float nt;
            if (xx < 0 || yy < 0 || xx >= ww || yy >= wh)
                continue;
            j = yy * ww + xx;
            if (flag[j] == KNOWN)
                continue;
            nt = t[i] + 1.0f;
            if (nt < t[j]) {
                t[j] = nt;
                flag[j] = BAND;
                ok = heap_push(&h, nt, j);
            }
        }
    }
out:
    itx_free(flag);
    itx_free(t);
    itx_free(h.v);
    return ok;
}

/* ---- one block -------------------------------------------------------------------------- */

struct work {
    const struct itx_image *img;
    struct itx_image *out;
    uint8_t *owner;  /* per pixel: 0 free, 1 inside some block's search area */
    uint8_t *mask;   /* per pixel: 255 changed (the report's mask) */
    int *xs, *ys;    /* ring scratch */
    size_t ring_cap;
    uint8_t *win;    /* window scratch */
    size_t win_cap;
    float *mv;       /* the surface over the window, 3 per pixel */
    size_t mv_cap;
};

static bool
ensure(void **p, size_t *cap, size_t n, size_t el)
{
    void *np;
    if (n <= *cap)
        return true;
    np = itx_realloc_array(*p, n, el);
    if (!np)
        return false;
    *p = np, *cap = n;
    return true;
}

/* The surface at window pixel (x, y) into double v[3]. */
#define MODEL(x, y, v)                                                                     \
    do {                                                                                   \
        const float *mp_ = w->mv + 3 * ((size_t)(y) * (size_t)ww + (size_t)(x));           \
        (v)[0] = (double)mp_[0], (v)[1] = (double)mp_[1], (v)[2] = (double)mp_[2];         \
    } while (0)

static enum itx_status
erase_block(struct work *w, const struct itx_render_line *lines, const struct itx_render_blocks *bl,
            size_t bi, const struct itx_inpaint_opts *o, struct itx_inpaint_block_report *rep,
            struct itx_diag *d)
{
    const struct itx_render_block *b = &bl->blocks[bi];
    const struct itx_image *img = w->img;
    double size = fmax(4.0, (double)b->style.size);
    double margin = fmax(2.0, (double)o->margin * size), ring = fmax(3.0, (double)o->ring * size);
    struct rect r = {img->w, img->h, -1, -1};
    size_t n_ring = 0, n_cap_x, n_cap_y;
    struct model m;
    double rms, thr;
    int ww, wh;
    size_t n_win;
    uint8_t *ink, *reg;
    int dil;
    double sw;

    /* window: all grown-by-(margin + ring) quads */
    for (size_t k = 0; k < b->n_lines; k++) {
        double q[8];
        struct rect qr;
        grow_quad(lines[bl->line_idx[b->first + k]].quad, margin + ring, q);
        quad_rect(q, img->w, img->h, &qr);
        r.x0 = qr.x0 < r.x0 ? qr.x0 : r.x0, r.y0 = qr.y0 < r.y0 ? qr.y0 : r.y0;
        r.x1 = qr.x1 > r.x1 ? qr.x1 : r.x1, r.y1 = qr.y1 > r.y1 ? qr.y1 : r.y1;
    }
    if (r.x1 < r.x0 || r.y1 < r.y0)
        return ITX_OK;
    ww = r.x1 - r.x0 + 1, wh = r.y1 - r.y0 + 1;
    n_win = (size_t)ww * (size_t)wh;
    if (!ensure((void **)&w->win, &w->win_cap, 3 * n_win, 1))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory erasing a block");
    ink = w->win, reg = w->win + n_win;
    memset(w->win, 0, 3 * n_win);
    /* reg: 1 search area (grown by margin), 2 ring */
    for (size_t k = 0; k < b->n_lines; k++) {
        double qs[8], qr8[8];
        const float *q = lines[bl->line_idx[b->first + k]].quad;
        struct rect lr;
        grow_quad(q, margin, qs);
        grow_quad(q, margin + ring, qr8);
        quad_rect(qr8, img->w, img->h, &lr);
        for (int y = lr.y0; y <= lr.y1; y++)
            for (int x = lr.x0; x <= lr.x1; x++) {
                size_t i = (size_t)(y - r.y0) * (size_t)ww + (size_t)(x - r.x0);
                if (reg[i] == 1)
                    continue;
                if (in_quad(qs, x + 0.5, y + 0.5))
                    reg[i] = 1;
                else if (!reg[i] && in_quad(qr8, x + 0.5, y + 0.5))
                    reg[i] = 2;
            }
    }
    n_cap_x = n_cap_y = w->ring_cap;
    if (!ensure((void **)&w->xs, &n_cap_x, n_win, sizeof(int)) ||
        !ensure((void **)&w->ys, &n_cap_y, n_win, sizeof(int)))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory erasing a block");
    w->ring_cap = n_cap_x < n_cap_y ? n_cap_x : n_cap_y;
    for (int y = r.y0; y <= r.y1; y++)
        for (int x = r.x0; x <= r.x1; x++) {
            size_t i = (size_t)(y - r.y0) * (size_t)ww + (size_t)(x - r.x0);
            if (reg[i] == 2 && !w->owner[(size_t)y * (size_t)img->w + (size_t)x]) {
                w->xs[n_ring] = x, w->ys[n_ring] = y;
                n_ring++;
            }
        }
    if (n_ring < 8) /* no free ring (a block inside another): use the search area's edge */
        for (int y = r.y0; y <= r.y1; y++)
            for (int x = r.x0; x <= r.x1; x++) {
                size_t i = (size_t)(y - r.y0) * (size_t)ww + (size_t)(x - r.x0);
                if (reg[i] == 2) {
                    w->xs[n_ring] = x, w->ys[n_ring] = y;
                    n_ring++;
                }
            }
    if (n_ring > 3000) {
        /* an even subsample bounds the fit's cost on big blocks */
        size_t step = n_ring / 3000 + 1, k = 0;
        for (size_t i = 0; i < n_ring; i += step, k++)
            w->xs[k] = w->xs[i], w->ys[k] = w->ys[i];
        n_ring = k;
    }
    rms = fit_model(img, w->xs, w->ys, n_ring, &m);
    if (!ensure((void **)&w->mv, &w->mv_cap, 3 * n_win, sizeof(float)))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory erasing a block");
    for (int y = 0; y < wh; y++) {
        /* along a row the surface is a quadratic in u: three coefficients per channel */
        double v = (r.y0 + y - m.oy) / m.s, q[3][3];
        for (int c = 0; c < 3; c++) {
            const double *k = m.c[c];
            q[c][0] = k[0] + (m.n_terms > 1 ? k[2] * v : 0) + (m.n_terms > 3 ? k[5] * v * v : 0);
            q[c][1] = m.n_terms > 1 ? k[1] + (m.n_terms > 3 ? k[4] * v : 0) : 0;
            q[c][2] = m.n_terms > 3 ? k[3] : 0;
        }
        for (int x = 0; x < ww; x++) {
            double u = (r.x0 + x - m.ox) / m.s;
            float *mp = w->mv + 3 * ((size_t)y * (size_t)ww + (size_t)x);
            for (int c = 0; c < 3; c++)
                mp[c] = (float)(q[c][0] + u * (q[c][1] + u * q[c][2]));
        }
    }
    rep->fit_rms = (float)rms;
    thr = fmin(60.0, fmax(18.0, 2.5 * rms));

    /* ink: far from the surface inside the search area */
    double tc0[3] = {b->style.color[0], b->style.color[1], b->style.color[2]};
    double bg0[3] = {b->style.bg[0], b->style.bg[1], b->style.bg[2]};
    /* only where the ring fits badly (it crosses a badge or a shape's edge): on a well
       fitting ring, distance alone also catches shadows and glows */
    bool use_tc = dist3(b->style.color, bg0) > 60 && rms > (double)o->flat_rms;
    (void)tc0;
    {
        size_t area = 0, edge = 0, n_ink = 0;
        double acc[3] = {0, 0, 0}, bgacc[3] = {0, 0, 0}, nacc = 0, maxd = 0;
        for (int y = r.y0; y <= r.y1; y++)
            for (int x = r.x0; x <= r.x1; x++) {
                size_t i = (size_t)(y - r.y0) * (size_t)ww + (size_t)(x - r.x0);
                double v[3], dd;
                if (reg[i] != 1)
                    continue;
                MODEL(x - r.x0, y - r.y0, v);
                dd = dist3(itx_image_at(img, x, y), v);
                /* with a known text colour, ink must also be nearer to it than to the
                   background: a badge's edge under a poorly fitting surface is not ink */
                if (dd > thr && (!use_tc || dist3(itx_image_at(img, x, y), tc0) < dd)) {
                    ink[i] = 1;
                    n_ink++;
                    maxd = fmax(maxd, dd);
                }
                for (int c = 0; c < 3; c++)
                    bgacc[c] += v[c];
                area++;
            }
        for (int c = 0; c < 3; c++)
            rep->bg[c] = clamp8(area ? bgacc[c] / (double)area : 0);
        if (n_ink == 0) {
            rep->fill = ITX_INPAINT_FILL_NONE;
            return ITX_OK;
        }
        /* stroke width and colour from the core of the strokes */
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++) {
                size_t i = (size_t)y * (size_t)ww + (size_t)x;
                double v[3];
                const uint8_t *p;
                if (!ink[i])
                    continue;
                if (x == 0 || y == 0 || x == ww - 1 || y == wh - 1 || !ink[i - 1] ||
                    !ink[i + 1] || !ink[i - (size_t)ww] || !ink[i + (size_t)ww])
                    edge++;
                p = itx_image_at(img, r.x0 + x, r.y0 + y);
                MODEL(x, y, v);
                if (dist3(p, v) >= 0.7 * maxd) {
                    for (int c = 0; c < 3; c++)
                        acc[c] += p[c];
                    nacc++;
                }
            }
        sw = edge ? 2.0 * (double)n_ink / (double)edge : 1.0;
        rep->stroke_width = (float)sw;
        for (int c = 0; c < 3; c++)
            rep->text[c] = clamp8(acc[c] / fmax(1, nacc));
        /* outline: a rim of ink clearly unlike the core colour */
        {
            double racc[3] = {0, 0, 0}, nr = 0;
            for (int y = 1; y < wh - 1; y++)
                for (int x = 1; x < ww - 1; x++) {
                    size_t i = (size_t)y * (size_t)ww + (size_t)x;
                    const uint8_t *p;
                    double tc[3];
                    if (!ink[i] || (ink[i - 1] && ink[i + 1] && ink[i - (size_t)ww] &&
                                    ink[i + (size_t)ww]))
                        continue;
                    p = itx_image_at(img, r.x0 + x, r.y0 + y);
                    for (int c = 0; c < 3; c++)
                        tc[c] = rep->text[c];
                    if (dist3(p, tc) > 100 && seg_dist(p, tc, rep->bg) > 60) {
                        for (int c = 0; c < 3; c++)
                            racc[c] += p[c];
                        nr++;
                    }
                }
            if (nr > 0.4 * (double)edge && sw >= 3) {
                rep->has_outline = true;
                for (int c = 0; c < 3; c++)
                    rep->outline[c] = clamp8(racc[c] / nr);
            }
            (void)area;
        }
    }
    dil = (int)ceil(1.0 + sw / 4.0);
    dil = dil > 8 ? 8 : dil;

    for (int pass = 1;; pass++) {
        uint8_t *msk = reg + n_win; /* third plane: the dilated mask of this pass */
        size_t n_mask = 0, n_left = 0;
        enum itx_inpaint_fill fill;
        memset(msk, 0, n_win);
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++) {
                if (!ink[(size_t)y * (size_t)ww + (size_t)x])
                    continue;
                for (int dy = -dil; dy <= dil; dy++)
                    for (int dx = -dil; dx <= dil; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= ww || yy >= wh || dx * dx + dy * dy > dil * dil + dil)
                            continue;
                        msk[(size_t)yy * (size_t)ww + (size_t)xx] = 1;
                    }
            }
        /* restore the window from the original, then fill the mask */
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++) {
                size_t i = (size_t)y * (size_t)ww + (size_t)x;
                size_t gi = (size_t)(r.y0 + y) * (size_t)img->w + (size_t)(r.x0 + x);
                if (msk[i]) {
                    memcpy(itx_image_at(w->out, r.x0 + x, r.y0 + y),
                           itx_image_at(img, r.x0 + x, r.y0 + y), 3);
                    w->mask[gi] = 255;
                    n_mask++;
                }
            }
        if (rms <= (double)o->flat_rms) {
            fill = rms > 2.5 ? ITX_INPAINT_FILL_NOISE : ITX_INPAINT_FILL_MODEL;
            for (int y = 0; y < wh; y++)
                for (int x = 0; x < ww; x++) {
                    double v[3];
                    uint8_t *p;
                    if (!msk[(size_t)y * (size_t)ww + (size_t)x])
                        continue;
                    MODEL(x, y, v);
                    p = itx_image_at(w->out, r.x0 + x, r.y0 + y);
                    for (int c = 0; c < 3; c++)
                        p[c] = clamp8(v[c] + (fill == ITX_INPAINT_FILL_NOISE
                                                  ? rms * hash_noise(r.x0 + x, r.y0 + y, c)
                                                  : 0));
                }
        } else {
            int rad = o->radius > 0 ? o->radius : (int)fmin(6, fmax(3, sw / 2 + 2));
            fill = ITX_INPAINT_FILL_TEXTURE;
            if (!telea(w->out, &r, msk, rad))
                return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory inpainting a block");
        }
        /* feather: the mask's outermost pixels keep half of the original */
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++) {
                size_t i = (size_t)y * (size_t)ww + (size_t)x;
                bool rim;
                if (!msk[i])
                    continue;
                rim = x == 0 || y == 0 || x == ww - 1 || y == wh - 1 || !msk[i - 1] ||
                      !msk[i + 1] || !msk[i - (size_t)ww] || !msk[i + (size_t)ww];
                if (rim) {
                    uint8_t *p = itx_image_at(w->out, r.x0 + x, r.y0 + y);
                    const uint8_t *q = itx_image_at(img, r.x0 + x, r.y0 + y);
                    for (int c = 0; c < 3; c++)
                        p[c] = (uint8_t)((p[c] + q[c] + 1) / 2);
                }
            }
        /* leftover ink: next to the mask, far from the surface, nearer the text colour */
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++) {
                size_t i = (size_t)y * (size_t)ww + (size_t)x;
                double v[3], tc[3];
                const uint8_t *p;
                bool near = false;
                if (msk[i] || !reg[i])
                    continue;
                for (int k = 0; k < 4 && !near; k++) {
                    int xx = x + (k == 0) - (k == 1), yy = y + (k == 2) - (k == 3);
                    near = xx >= 0 && yy >= 0 && xx < ww && yy < wh &&
                           msk[(size_t)yy * (size_t)ww + (size_t)xx];
                }
                if (!near)
                    continue;
                p = itx_image_at(img, r.x0 + x, r.y0 + y);
                MODEL(x, y, v);
                for (int c = 0; c < 3; c++)
                    tc[c] = rep->text[c];
                if (dist3(p, v) > 0.5 * thr && dist3(p, tc) < dist3(p, v)) {
                    ink[i] = 1;
                    n_left++;
                }
            }
        rep->fill = fill;
        rep->passes = pass;
        rep->n_mask = n_mask;
        rep->n_leftover = n_left;
        if (n_left == 0 || pass >= o->max_passes)
            break;
    }
    return ITX_OK;
}

enum itx_status
itx_inpaint_erase(const struct itx_image *img, const struct itx_render_line *lines,
                  size_t n_lines, const struct itx_render_blocks *blocks,
                  const struct itx_inpaint_opts *o, struct itx_image **background,
                  struct itx_inpaint_report **report, struct itx_diag *d)
{
    struct itx_inpaint_opts def;
    struct work w;
    struct itx_inpaint_report *rep = NULL;
    enum itx_status st = ITX_OK;
    double t0 = itx_now_ms();
    size_t npx;

    if (!o) {
        itx_inpaint_opts_default(&def);
        o = &def;
    }
    memset(&w, 0, sizeof(w));
    if (img->channels != 3)
        return itx_diag_set(d, ITX_ERR_INVALID, "picture has %d channels, not 3", img->channels);
    if (o->max_passes < 1 || o->max_passes > 4 || !(o->flat_rms >= 0 && o->flat_rms <= 255) ||
        !(o->margin >= 0 && o->margin <= 2) || !(o->ring > 0 && o->ring <= 4) || o->radius < 0 ||
        o->radius > 32)
        return itx_diag_set(d, ITX_ERR_INVALID, "erase options out of range");
    for (size_t k = 0; k < blocks->n_blocks; k++) {
        const struct itx_render_block *b = &blocks->blocks[k];
        for (size_t j = 0; j < b->n_lines; j++) {
            size_t li = blocks->line_idx[b->first + j];
            if (li >= n_lines)
                return itx_diag_set(d, ITX_ERR_INVALID, "block %zu names line %zu of %zu", k, li,
                                    n_lines);
            for (int c = 0; c < 8; c++)
                if (!isfinite(lines[li].quad[c]) || fabsf(lines[li].quad[c]) > 1e7f)
                    return itx_diag_set(d, ITX_ERR_INVALID, "line %zu has a non-finite quad", li);
        }
    }
    npx = (size_t)img->w * (size_t)img->h;
    w.img = img;
    w.out = itx_image_clone(img);
    w.owner = itx_calloc(npx, 1);
    rep = itx_calloc(1, sizeof(*rep));
    if (rep) {
        rep->mask = itx_image_new(img->w, img->h, 1);
        rep->blocks = itx_calloc(blocks->n_blocks ? blocks->n_blocks : 1, sizeof(*rep->blocks));
    }
    if (!w.out || !w.owner || !rep || !rep->mask || !rep->blocks) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory erasing text");
        goto out;
    }
    w.mask = rep->mask->px;
    rep->n_blocks = blocks->n_blocks;
    /* every block's search area is left out of the other blocks' rings */
    for (size_t k = 0; k < blocks->n_blocks; k++) {
        const struct itx_render_block *b = &blocks->blocks[k];
        double margin = fmax(2.0, (double)o->margin * fmax(4.0, (double)b->style.size));
        for (size_t j = 0; j < b->n_lines; j++) {
            double q[8];
            struct rect r;
            grow_quad(lines[blocks->line_idx[b->first + j]].quad, margin, q);
            quad_rect(q, img->w, img->h, &r);
            for (int y = r.y0; y <= r.y1; y++)
                for (int x = r.x0; x <= r.x1; x++)
                    if (in_quad(q, x + 0.5, y + 0.5))
                        w.owner[(size_t)y * (size_t)img->w + (size_t)x] = 1;
        }
    }
    for (size_t k = 0; k < blocks->n_blocks && st == ITX_OK; k++)
        st = erase_block(&w, lines, blocks, k, o, &rep->blocks[k], d);
    if (st != ITX_OK)
        goto out;
    rep->ms = itx_now_ms() - t0;
    *background = w.out;
    *report = rep;
    w.out = NULL;
    rep = NULL;
out:
    itx_image_free(w.out);
    itx_free(w.owner);
    itx_free(w.xs);
    itx_free(w.ys);
    itx_free(w.win);
    itx_free(w.mv);
    itx_inpaint_report_free(rep);
    return st;
}
