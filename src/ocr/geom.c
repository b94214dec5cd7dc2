/*
 * Plane geometry for DB post-processing: convex hull, minimum-area rectangle, polygon
 * offset with round joins, corner ordering and the rectangle-to-quad homography.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "ocr/ocr-impl.h"

double
itx_ocr_round_even(double v)
{
    double r = floor(v);
    double f = v - r;

    if (f > 0.5 || (f == 0.5 && fmod(r, 2.0) != 0.0))
        r += 1.0;
    return r;
}

static int
cmp_pt(const void *a, const void *b)
{
    const struct itx_ocr_pt *p = a, *q = b;

    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return 0;
}

static double
cross(struct itx_ocr_pt o, struct itx_ocr_pt a, struct itx_ocr_pt b)
{
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

size_t
itx_ocr_hull(struct itx_ocr_pt *pts, size_t n, struct itx_ocr_pt *hull)
{
    size_t k = 0, m = 0;

    if (n == 0)
        return 0;
    qsort(pts, n, sizeof(*pts), cmp_pt);
    /* Drop repeated points so degenerate input gives a 1- or 2-point hull. */
    for (size_t i = 0; i < n; i++)
        if (m == 0 || cmp_pt(&pts[m - 1], &pts[i]) != 0)
            pts[m++] = pts[i];
    if (m < 3) {
        for (size_t i = 0; i < m; i++)
            hull[i] = pts[i];
        return m;
    }
    for (size_t i = 0; i < m; i++) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    for (size_t i = m - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    k--; /* the last point repeats the first */
    if (k < 3) {
        /* All points collinear: the chain is the two ends. */
        hull[1] = pts[m - 1];
        hull[0] = pts[0];
        return 2;
    }
    return k;
}

void
itx_ocr_min_area_rect(const struct itx_ocr_pt *hull, size_t n, struct itx_ocr_pt c[4],
                      double *side_a, double *side_b)
{
    double best = DBL_MAX;

    ITX_ASSERT(n >= 1);
    if (n == 1) {
        c[0] = c[1] = c[2] = c[3] = hull[0];
        *side_a = *side_b = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct itx_ocr_pt a = hull[i], b = hull[(i + 1) % n];
        double dx = b.x - a.x, dy = b.y - a.y, len = sqrt(dx * dx + dy * dy);
        double ux, uy, vx, vy, umin = DBL_MAX, umax = -DBL_MAX, vmin = DBL_MAX, vmax = -DBL_MAX;

        if (len == 0)
            continue;
        ux = dx / len;
        uy = dy / len;
        vx = -uy;
        vy = ux;
        for (size_t j = 0; j < n; j++) {
            double px = hull[j].x - a.x, py = hull[j].y - a.y;
            double u = px * ux + py * uy, v = px * vx + py * vy;
            umin = fmin(umin, u);
            umax = fmax(umax, u);
            vmin = fmin(vmin, v);
            vmax = fmax(vmax, v);
        }
        if ((umax - umin) * (vmax - vmin) < best || best == DBL_MAX) {
            best = (umax - umin) * (vmax - vmin);
            c[0].x = a.x + umin * ux + vmin * vx;
            c[0].y = a.y + umin * uy + vmin * vy;
            c[1].x = a.x + umax * ux + vmin * vx;
            c[1].y = a.y + umax * uy + vmin * vy;
            c[2].x = a.x + umax * ux + vmax * vx;
            c[2].y = a.y + umax * uy + vmax * vy;
            c[3].x = a.x + umin * ux + vmax * vx;
            c[3].y = a.y + umin * uy + vmax * vy;
            *side_a = umax - umin;
            *side_b = vmax - vmin;
        }
    }
    if (best == DBL_MAX) {
        c[0] = c[1] = c[2] = c[3] = hull[0];
        *side_a = *side_b = 0;
    }
}

double
itx_ocr_poly_area(const struct itx_ocr_pt *p, size_t n)
{
    double a = 0;

    for (size_t i = 0; i < n; i++) {
        const struct itx_ocr_pt *q = &p[(i + 1) % n];
        a += p[i].x * q->y - q->x * p[i].y;
    }
    return fabs(a) / 2;
}

double
itx_ocr_poly_perimeter(const struct itx_ocr_pt *p, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++) {
        const struct itx_ocr_pt *q = &p[(i + 1) % n];
        s += hypot(q->x - p[i].x, q->y - p[i].y);
    }
    return s;
}

/* Clipper's Round: half away from zero. */
static double
round_away(double v)
{
    return v < 0 ? ceil(v - 0.5) : floor(v + 0.5);
}

bool
itx_ocr_offset_round(const struct itx_ocr_pt *p, size_t n, double delta, struct itx_ocr_pt **poly,
                     size_t *n_out)
{
    struct itx_ocr_pt *src = NULL, *nrm = NULL, *out = NULL;
    size_t m = 0, cap, k, len = 0;
    double tol, steps, sin_s, cos_s, steps_per_rad, area = 0;
    bool ok = false;

    *poly = NULL;
    *n_out = 0;
    if (n == 0 || !(delta > 0) || !isfinite(delta))
        return true;
    src = itx_malloc_array(n, sizeof(*src));
    nrm = itx_malloc_array(n, sizeof(*nrm));
    if (!src || !nrm)
        goto out;
    /* pyclipper converts coordinates to integers by truncation; repeated points go. */
    for (size_t i = 0; i < n; i++) {
        struct itx_ocr_pt q = {trunc(p[i].x), trunc(p[i].y)};
        if (m == 0 || q.x != src[m - 1].x || q.y != src[m - 1].y)
            src[m++] = q;
    }
    while (m > 1 && src[m - 1].x == src[0].x && src[m - 1].y == src[0].y)
        m--;
    if (m < 3) {
        ok = true; /* Clipper drops closed paths with under 3 distinct points */
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        const struct itx_ocr_pt *q = &src[(i + 1) % m];
        area += src[i].x * q->y - q->x * src[i].y;
    }
    if (area < 0) {
        /* Clipper offsets outward only for positive orientation: reverse the others. */
        for (size_t i = 0, j = m - 1; i < j; i++, j--) {
            struct itx_ocr_pt t = src[i];
            src[i] = src[j];
            src[j] = t;
        }
    }
    for (size_t i = 0; i < m; i++) {
        const struct itx_ocr_pt *q = &src[(i + 1) % m];
        double dx = q->x - src[i].x, dy = q->y - src[i].y, l = sqrt(dx * dx + dy * dy);
        nrm[i].x = l > 0 ? dy / l : 0;
        nrm[i].y = l > 0 ? -dx / l : 0;
    }
    /* Arc step as in ClipperOffset::DoOffset with arc tolerance 0.25. */
    tol = fmin(0.25, delta * 0.25);
    steps = M_PI / acos(1 - tol / delta);
    if (steps > delta * M_PI)
        steps = delta * M_PI;
    sin_s = sin(2 * M_PI / steps);
    cos_s = cos(2 * M_PI / steps);
    steps_per_rad = steps / (2 * M_PI);
    /* Each vertex gives at most 3 points or an arc of at most steps/2 + 1 points. */
    cap = m * ((size_t)(steps / 2) + 4);
    out = itx_malloc_array(cap, sizeof(*out));
    if (!out)
        goto out;
    k = m - 1;
    for (size_t j = 0; j < m; j++) {
        double sin_a = nrm[k].x * nrm[j].y - nrm[j].x * nrm[k].y;
        double cos_a = nrm[k].x * nrm[j].x + nrm[j].y * nrm[k].y;
        if (fabs(sin_a * delta) < 1.0 && cos_a > 0) {
            out[len].x = round_away(src[j].x + nrm[k].x * delta);
            out[len++].y = round_away(src[j].y + nrm[k].y * delta);
        } else {
            sin_a = fmax(-1.0, fmin(1.0, sin_a));
            if (sin_a * delta < 0) {
                out[len].x = round_away(src[j].x + nrm[k].x * delta);
                out[len++].y = round_away(src[j].y + nrm[k].y * delta);
                out[len++] = src[j];
                out[len].x = round_away(src[j].x + nrm[j].x * delta);
                out[len++].y = round_away(src[j].y + nrm[j].y * delta);
            } else {
                double a = atan2(sin_a, cos_a), x = nrm[k].x, y = nrm[k].y;
                size_t st = (size_t)fmax(round_away(steps_per_rad * fabs(a)), 1);
                if (len + st + 1 > cap)
                    st = cap - len - 1;
                for (size_t i = 0; i < st; i++) {
                    double x2 = x;
                    out[len].x = round_away(src[j].x + x * delta);
                    out[len++].y = round_away(src[j].y + y * delta);
                    x = x * cos_s - sin_s * y;
                    y = x2 * sin_s + y * cos_s;
                }
                out[len].x = round_away(src[j].x + nrm[j].x * delta);
                out[len++].y = round_away(src[j].y + nrm[j].y * delta);
            }
        }
        k = j;
    }
    *poly = out;
    *n_out = len;
    out = NULL;
    ok = true;
out:
    itx_free(src);
    itx_free(nrm);
    itx_free(out);
    return ok;
}

void
itx_ocr_order_clockwise(struct itx_ocr_pt p[4])
{
    struct itx_ocr_pt r[4], rest[2];
    size_t imin = 0, imax = 0, n = 0;

    for (size_t i = 1; i < 4; i++) {
        if (p[i].x + p[i].y < p[imin].x + p[imin].y)
            imin = i;
        if (p[i].x + p[i].y > p[imax].x + p[imax].y)
            imax = i;
    }
    if (imin == imax)
        imax = imin == 3 ? 0 : 3; /* all sums equal: a degenerate quad, keep it whole */
    r[0] = p[imin];
    r[2] = p[imax];
    for (size_t i = 0; i < 4; i++)
        if (i != imin && i != imax)
            rest[n++] = p[i];
    if (rest[1].y - rest[1].x < rest[0].y - rest[0].x) {
        r[1] = rest[1];
        r[3] = rest[0];
    } else {
        r[1] = rest[0];
        r[3] = rest[1];
    }
    for (size_t i = 0; i < 4; i++)
        p[i] = r[i];
}

void
itx_ocr_rect_to_quad(const struct itx_ocr_pt q[4], double w, double h, double m[9])
{
    /* Heckbert's unit-square-to-quad mapping, then scaled by 1/w, 1/h. */
    double sx = q[0].x - q[1].x + q[2].x - q[3].x, sy = q[0].y - q[1].y + q[2].y - q[3].y;
    double dx1 = q[1].x - q[2].x, dx2 = q[3].x - q[2].x;
    double dy1 = q[1].y - q[2].y, dy2 = q[3].y - q[2].y;
    double den = dx1 * dy2 - dx2 * dy1, g = 0, hh = 0;
    double a, b, c, dd, e, f;

    if (den != 0 && (sx != 0 || sy != 0)) {
        g = (sx * dy2 - dx2 * sy) / den;
        hh = (dx1 * sy - sx * dy1) / den;
    }
    a = q[1].x - q[0].x + g * q[1].x;
    b = q[3].x - q[0].x + hh * q[3].x;
    c = q[0].x;
    dd = q[1].y - q[0].y + g * q[1].y;
    e = q[3].y - q[0].y + hh * q[3].y;
    f = q[0].y;
    m[0] = a / w;
    m[1] = b / h;
    m[2] = c;
    m[3] = dd / w;
    m[4] = e / h;
    m[5] = f;
    m[6] = g / w;
    m[7] = hh / h;
    m[8] = 1;
}
