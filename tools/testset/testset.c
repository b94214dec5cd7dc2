/*
 * itx-testset: writes synthetic e-commerce product pictures with known Chinese text.
 *
 *   itx-testset -o DIR [--count N] [--seed S] [--phrases FILE]
 *
 * For each picture NAME it writes NAME.png (and for every third one NAME.jpg too),
 * NAME.bg.png (the same picture without any text: the reference for erase quality),
 * NAME.mask.png (255 wherever a text pixel, anti-aliased edge or shadow included, changed
 * the background; 0 elsewhere) and NAME.json (ground truth: every text line with its exact
 * string, quad, orientation, font, size and colour), plus DIR/index.json. The output depends
 * only on the seed, the count and the phrase list. See docs/image.md.
 *
 * Everything is drawn in plain C on struct itx_image, except the glyphs (libvips vips_text,
 * Pango, fontconfig, Noto CJK fonts) and the Perlin texture (vips_perlin).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vips/vips.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "image/image.h"

#ifndef ITX_TESTSET_PHRASES
#define ITX_TESTSET_PHRASES "tools/testset/phrases.txt"
#endif

#define MAX_LINES 96
#define MAX_PHRASES 4096

/*
 * LeakSanitizer: codec libraries under libvips/libheif leak on some corrupt streams or keep
 * process-lifetime pools (dav1d, libde265, aom, x265) and font caches (fontconfig, Pango);
 * those are not ours.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libx265\nleak:libheif\n"
           "leak:libdav1d\nleak:libde265\nleak:libaom\n";
}

/* ---- deterministic randomness ----------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

/* Uniform integer in [lo, hi]. */
static int
rng_int(struct rng *r, int lo, int hi)
{
    return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static double
rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static double
rng_gauss(struct rng *r)
{
    double u = rng_unit(r) + 1e-12, v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- colours ---------------------------------------------------------------------------- */

struct rgb {
    uint8_t r, g, b;
};

static const struct rgb light_bg[] = {
    {255, 255, 255}, {246, 246, 246}, {250, 243, 230}, {253, 236, 238}, {232, 242, 252},
    {230, 246, 238}, {255, 248, 225}, {240, 235, 250}, {236, 236, 228}, {252, 240, 228},
};
static const struct rgb dark_bg[] = {
    {20, 24, 38}, {12, 12, 12}, {120, 14, 20}, {16, 60, 40},
    {40, 30, 80}, {60, 40, 30}, {0, 70, 130},  {90, 10, 60},
};
static const struct rgb vivid_bg[] = {
    {226, 36, 36}, {255, 120, 20}, {250, 200, 30}, {230, 60, 120}, {20, 150, 220}, {40, 170, 90},
};
static const struct rgb text_cols[] = {
    {0, 0, 0},       {34, 34, 34},  {68, 68, 68},    {200, 20, 30},  {230, 60, 10},
    {20, 50, 130},   {120, 60, 20}, {255, 255, 255}, {255, 230, 90}, {255, 200, 40},
    {250, 250, 240}, {10, 110, 60}, {150, 20, 90},
};
static const struct rgb badge_cols[] = {
    {226, 30, 30}, {255, 90, 0}, {245, 60, 60}, {255, 130, 20}, {200, 0, 40}, {240, 40, 100},
};

static double
lin(double c)
{
    c /= 255.0;
    return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double
luminance(struct rgb c)
{
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
}

/* WCAG contrast ratio. */
static double
contrast(struct rgb a, struct rgb b)
{
    double la = luminance(a), lb = luminance(b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

static struct rgb
mix(struct rgb a, struct rgb b, double t)
{
    struct rgb c = {(uint8_t)lround(a.r + (b.r - a.r) * t), (uint8_t)lround(a.g + (b.g - a.g) * t),
                    (uint8_t)lround(a.b + (b.b - a.b) * t)};
    return c;
}

#define PICK(r, arr) (arr)[rng_int((r), 0, (int)(sizeof(arr) / sizeof((arr)[0])) - 1)]

/* ---- fonts ------------------------------------------------------------------------------ */

struct font {
    const char *family;
    const char *weight; /* "Regular" or "Bold" (Pango style word) */
};

/*
 * The Noto CJK faces Debian's fonts-noto-cjk ships (Regular and Bold; the Black, Light and
 * other weights are in fonts-noto-cjk-extra, not installed here).
 */
static const struct font fonts[] = {
    {"Noto Sans CJK SC", "Regular"},  {"Noto Sans CJK SC", "Bold"},
    {"Noto Sans CJK TC", "Regular"},  {"Noto Sans CJK TC", "Bold"},
    {"Noto Serif CJK SC", "Regular"}, {"Noto Serif CJK SC", "Bold"},
    {"Noto Serif CJK TC", "Bold"},
};

static const struct font *
font_bold(struct rng *r)
{
    static const int bold[] = {1, 1, 1, 3, 5, 6};
    return &fonts[PICK(r, bold)];
}

static const struct font *
font_any(struct rng *r)
{
    return &PICK(r, fonts);
}

/* ---- picture state ---------------------------------------------------------------------- */

struct line {
    char *text;
    double quad[8]; /* clockwise from the text's top-left */
    const char *orientation;
    double angle; /* degrees, counter-clockwise; 0 unless rotated */
    const struct font *font;
    int size; /* px (font size in points at 72 dpi) */
    struct rgb color;
    int block;
    bool shadow;
    bool on_badge;
};

struct rect {
    int x0, y0, x1, y1;
};

struct pic {
    int w, h;
    struct itx_image *bg;   /* background without text */
    struct itx_image *img;  /* with text; made from bg before the first line */
    struct itx_image *mask; /* 1 channel */
    struct line lines[MAX_LINES];
    int n_lines, n_blocks;
    struct rect used[MAX_LINES * 2];
    int n_used;
    const char *bg_kind;
    const char *scene;
};

struct phrases {
    char **s;
    int n;
};

static struct phrases phr;

static void
die(const char *what, struct itx_diag *d)
{
    fprintf(stderr, "itx-testset: %s%s%s\n", what, d ? ": " : "", d ? d->msg : "");
    exit(1);
}

static void
die_vips(const char *what)
{
    fprintf(stderr, "itx-testset: %s: %s\n", what, vips_error_buffer());
    exit(1);
}

static const char *
phrase(struct rng *r)
{
    return phr.s[rng_int(r, 0, phr.n - 1)];
}

/* A phrase of Han characters only (for vertical columns and paragraphs). */
static const char *
han_phrase(struct rng *r, int min_chars, int max_chars)
{
    for (;;) {
        const char *p = phrase(r);
        int n = 0;
        bool ok = true;
        for (const unsigned char *q = (const unsigned char *)p; *q; q++) {
            if (*q < 0x80) {
                ok = false;
                break;
            }
            if ((*q & 0xc0) != 0x80)
                n++;
        }
        if (ok && n >= min_chars && n <= max_chars)
            return p;
    }
}

static int
utf8_chars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if ((*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---- drawing ---------------------------------------------------------------------------- */

static void
gradient(struct itx_image *img, struct rgb a, struct rgb b, double angle, int y0, int y1)
{
    double ca = cos(angle), sa = sin(angle);
    double lo = 1e30, hi = -1e30;
    double cx[4] = {0, img->w, 0, img->w}, cy[4] = {y0, y0, y1, y1};
    for (int i = 0; i < 4; i++) {
        double t = cx[i] * ca + cy[i] * sa;
        lo = fmin(lo, t), hi = fmax(hi, t);
    }
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < img->w; x++) {
            struct rgb c = mix(a, b, ((x * ca + y * sa) - lo) / (hi - lo));
            uint8_t *p = itx_image_at(img, x, y);
            p[0] = c.r, p[1] = c.g, p[2] = c.b;
        }
}

/* Gaussian samples for pixel noise, drawn once: a table lookup per sample keeps big pictures fast.
 */
static double gauss_table[4096];

static void
add_noise(struct itx_image *img, struct rng *r, double sigma, int y0, int y1)
{
    if (gauss_table[0] == 0) {
        struct rng t = {12345};
        for (int i = 0; i < 4096; i++)
            gauss_table[i] = rng_gauss(&t);
    }
    for (int y = y0; y < y1; y++) {
        uint8_t *p = itx_image_at(img, 0, y);
        for (int x = 0; x < img->w; x++, p += 3) {
            /* luminance noise plus a little chroma: four samples from one random word */
            uint64_t bits = rng_next(r);
            double n = gauss_table[bits & 4095] * sigma;
            for (int c = 0; c < 3; c++) {
                double v = p[c] + n + gauss_table[(bits >> (12 * (c + 1))) & 4095] * sigma * 0.3;
                p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
            }
        }
    }
}

/* Coverage (0..1) of pixel (x, y) by a rounded rectangle, 4x4 supersampled. */
static double
rrect_cover(double x, double y, double x0, double y0, double x1, double y1, double rad)
{
    int in = 0;
    for (int sy = 0; sy < 4; sy++)
        for (int sx = 0; sx < 4; sx++) {
            double px = x + (sx + 0.5) / 4, py = y + (sy + 0.5) / 4;
            double cx = fmin(fmax(px, x0 + rad), x1 - rad), cy = fmin(fmax(py, y0 + rad), y1 - rad);
            if (px >= x0 && px <= x1 && py >= y0 && py <= y1 &&
                (px - cx) * (px - cx) + (py - cy) * (py - cy) <= rad * rad)
                in++;
        }
    return in / 16.0;
}

static void
blend_px(uint8_t *p, struct rgb c, double a)
{
    p[0] = (uint8_t)lround(p[0] + (c.r - p[0]) * a);
    p[1] = (uint8_t)lround(p[1] + (c.g - p[1]) * a);
    p[2] = (uint8_t)lround(p[2] + (c.b - p[2]) * a);
}

static void
draw_rrect(struct itx_image *img, double x0, double y0, double x1, double y1, double rad,
           struct rgb c, double alpha)
{
    for (int y = (int)fmax(0, floor(y0)); y < (int)fmin(img->h, ceil(y1)); y++)
        for (int x = (int)fmax(0, floor(x0)); x < (int)fmin(img->w, ceil(x1)); x++) {
            double a = rrect_cover(x, y, x0, y0, x1, y1, rad);
            if (a > 0)
                blend_px(itx_image_at(img, x, y), c, a * alpha);
        }
}

/* A rounded rectangle lit from the top-left: light to dark across the box. */
static void
draw_rrect_shaded(struct itx_image *img, double x0, double y0, double x1, double y1, double rad,
                  struct rgb light, struct rgb dark)
{
    for (int y = (int)fmax(0, floor(y0)); y < (int)fmin(img->h, ceil(y1)); y++)
        for (int x = (int)fmax(0, floor(x0)); x < (int)fmin(img->w, ceil(x1)); x++) {
            double a = rrect_cover(x, y, x0, y0, x1, y1, rad);
            double t = 0.65 * (y - y0) / (y1 - y0) + 0.35 * (x - x0) / (x1 - x0);
            if (a > 0)
                blend_px(itx_image_at(img, x, y), mix(light, dark, t), a);
        }
}

static void
draw_ellipse(struct itx_image *img, double cx, double cy, double rx, double ry, struct rgb c,
             struct rgb edge, double alpha)
{
    for (int y = (int)fmax(0, cy - ry - 1); y < (int)fmin(img->h, cy + ry + 1); y++)
        for (int x = (int)fmax(0, cx - rx - 1); x < (int)fmin(img->w, cx + rx + 1); x++) {
            double dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry, d = sqrt(dx * dx + dy * dy);
            double edge_px = (1 - d) * fmin(rx, ry);
            if (edge_px <= -1)
                continue;
            /* shaded like a lit object: the edge colour towards the rim */
            blend_px(itx_image_at(img, x, y), mix(c, edge, fmin(1, d * d)),
                     alpha * fmin(1, edge_px + 1) * (edge_px < 0 ? 1 + edge_px : 1));
        }
}

/* Fills a convex quad (x[4], y[4]), 2x2 supersampled. */
static void
draw_quad(struct itx_image *img, const double *q, struct rgb c)
{
    double minx = 1e9, maxx = -1e9, miny = 1e9, maxy = -1e9;
    for (int i = 0; i < 4; i++) {
        minx = fmin(minx, q[2 * i]), maxx = fmax(maxx, q[2 * i]);
        miny = fmin(miny, q[2 * i + 1]), maxy = fmax(maxy, q[2 * i + 1]);
    }
    for (int y = (int)fmax(0, miny); y < (int)fmin(img->h, maxy + 1); y++)
        for (int x = (int)fmax(0, minx); x < (int)fmin(img->w, maxx + 1); x++) {
            int in = 0;
            for (int s = 0; s < 4; s++) {
                double px = x + 0.25 + 0.5 * (s & 1), py = y + 0.25 + 0.5 * (s >> 1);
                int pos = 0, neg = 0;
                for (int i = 0; i < 4; i++) {
                    int j = (i + 1) % 4;
                    double cr = (q[2 * j] - q[2 * i]) * (py - q[2 * i + 1]) -
                                (q[2 * j + 1] - q[2 * i + 1]) * (px - q[2 * i]);
                    pos += cr >= 0, neg += cr <= 0;
                }
                in += pos == 4 || neg == 4;
            }
            if (in)
                blend_px(itx_image_at(img, x, y), c, in / 4.0);
        }
}

static struct rgb
mean_colour(const struct itx_image *img, int x0, int y0, int x1, int y1)
{
    double s[3] = {0, 0, 0};
    long n = 0;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > img->w ? img->w : x1, y1 = y1 > img->h ? img->h : y1;
    for (int y = y0; y < y1; y += 2)
        for (int x = x0; x < x1; x += 2) {
            const uint8_t *p = itx_image_at(img, x, y);
            s[0] += p[0], s[1] += p[1], s[2] += p[2], n++;
        }
    if (!n)
        return (struct rgb){128, 128, 128};
    return (struct rgb){(uint8_t)(s[0] / (double)n), (uint8_t)(s[1] / (double)n),
                        (uint8_t)(s[2] / (double)n)};
}

/* Worst contrast of c against the background of a region, sampled on a grid. */
static double
worst_contrast(const struct itx_image *img, struct rect r, struct rgb c)
{
    double worst = 100;
    int sx = (r.x1 - r.x0) / 6 + 1, sy = (r.y1 - r.y0) / 4 + 1;
    for (int y = r.y0; y < r.y1; y += sy)
        for (int x = r.x0; x < r.x1; x += sx) {
            struct rgb b = mean_colour(img, x - sx / 2, y - sy / 2, x + sx / 2 + 1, y + sy / 2 + 1);
            worst = fmin(worst, contrast(b, c));
        }
    return worst;
}

/* A text colour readable everywhere on the region: random among those with ratio >= 4.5. */
static struct rgb
text_colour_for(struct rng *r, const struct itx_image *bg, struct rect reg)
{
    struct rgb best = {0, 0, 0};
    double best_c = 0;
    int start = rng_int(r, 0, (int)(sizeof(text_cols) / sizeof(text_cols[0])) - 1);
    for (size_t i = 0; i < sizeof(text_cols) / sizeof(text_cols[0]); i++) {
        struct rgb c = text_cols[(start + i) % (sizeof(text_cols) / sizeof(text_cols[0]))];
        double k = worst_contrast(bg, reg, c);
        if (k >= 4.5)
            return c;
        if (k > best_c)
            best_c = k, best = c;
    }
    return best;
}

/* ---- glyphs ----------------------------------------------------------------------------- */

static void
markup_escape(struct itx_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            itx_buf_puts(b, "&amp;");
        else if (*s == '<')
            itx_buf_puts(b, "&lt;");
        else if (*s == '>')
            itx_buf_puts(b, "&gt;");
        else
            itx_buf_putc(b, *s);
    }
}

/*
 * Renders Pango markup with libvips into a 1-channel coverage mask cropped to the ink.
 * Vertical: one character per line, centred, as a column.
 */
static struct itx_image *
render(const char *markup, const struct font *f, int size, bool vertical)
{
    char desc[128];
    VipsImage *t = NULL;
    struct itx_image *m = NULL, *c = NULL;
    struct itx_diag d;
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = -1, y1 = -1;

    snprintf(desc, sizeof(desc), "%s %s %d", f->family, f->weight, size);
    if (vips_text(&t, markup, "font", desc, "dpi", 72, "align",
                  vertical ? VIPS_ALIGN_CENTRE : VIPS_ALIGN_LOW, "spacing",
                  vertical ? (int)(size * 0.12) : 0, NULL))
        die_vips("vips_text");
    itx_diag_init(&d);
    if (itx_image_from_vips(t, &m, &d))
        die("rendering text", &d);
    g_object_unref(t);
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            if (m->px[(size_t)y * m->stride + x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 < 0)
        die("text rendered no ink (missing font?)", NULL);
    if (itx_image_crop(m, x0, y0, x1 - x0 + 1, y1 - y0 + 1, &c, &d))
        die("cropping text", &d);
    itx_image_free(m);
    return c;
}

/*
 * Rotates a coverage mask by deg (counter-clockwise on screen) about its centre, bilinear,
 * into a new mask large enough for the result. quad receives where the mask's own corners
 * (top-left, top-right, bottom-right, bottom-left) land.
 */
static struct itx_image *
rotate_mask(const struct itx_image *m, double deg, double quad[8])
{
    double a = deg * M_PI / 180, ca = cos(a), sa = sin(a);
    double cx = m->w / 2.0, cy = m->h / 2.0;
    double px[4] = {0, m->w, m->w, 0}, py[4] = {0, 0, m->h, m->h};
    double minx = 1e9, miny = 1e9, maxx = -1e9, maxy = -1e9;
    struct itx_image *o;

    for (int i = 0; i < 4; i++) {
        double dx = px[i] - cx, dy = py[i] - cy;
        quad[2 * i] = dx * ca + dy * sa;
        quad[2 * i + 1] = -dx * sa + dy * ca;
        minx = fmin(minx, quad[2 * i]), maxx = fmax(maxx, quad[2 * i]);
        miny = fmin(miny, quad[2 * i + 1]), maxy = fmax(maxy, quad[2 * i + 1]);
    }
    o = itx_image_new((int)ceil(maxx - minx) + 2, (int)ceil(maxy - miny) + 2, 1);
    if (!o)
        die("out of memory", NULL);
    for (int i = 0; i < 4; i++)
        quad[2 * i] -= minx - 1, quad[2 * i + 1] -= miny - 1;
    for (int y = 0; y < o->h; y++)
        for (int x = 0; x < o->w; x++) {
            /* inverse rotation of the output pixel centre back into the source */
            double dx = x + 0.5 + minx - 1, dy = y + 0.5 + miny - 1;
            double sx = dx * ca - dy * sa + cx - 0.5, sy = dx * sa + dy * ca + cy - 0.5;
            int ix = (int)floor(sx), iy = (int)floor(sy);
            double fx = sx - ix, fy = sy - iy, v = 0;
            for (int k = 0; k < 4; k++) {
                int xx = ix + (k & 1), yy = iy + (k >> 1);
                double w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
                if (xx >= 0 && yy >= 0 && xx < m->w && yy < m->h)
                    v += w * m->px[(size_t)yy * m->stride + xx];
            }
            o->px[(size_t)y * o->stride + x] = (uint8_t)lround(fmin(255, v));
        }
    return o;
}

/* ---- placing lines ---------------------------------------------------------------------- */

static bool
overlaps(const struct pic *p, struct rect r, int margin)
{
    for (int i = 0; i < p->n_used; i++) {
        const struct rect *u = &p->used[i];
        if (r.x0 < u->x1 + margin && u->x0 < r.x1 + margin && r.y0 < u->y1 + margin &&
            u->y0 < r.y1 + margin)
            return true;
    }
    return false;
}

static void
reserve(struct pic *p, struct rect r)
{
    if (p->n_used < (int)(sizeof(p->used) / sizeof(p->used[0])))
        p->used[p->n_used++] = r;
}

/* Finds a free spot for a w x h box inside region; false after many tries. */
static bool
find_spot(struct pic *p, struct rng *r, struct rect region, int w, int h, int *x, int *y)
{
    if (region.x1 - region.x0 < w || region.y1 - region.y0 < h)
        return false;
    for (int t = 0; t < 300; t++) {
        struct rect c;
        c.x0 = rng_int(r, region.x0, region.x1 - w);
        c.y0 = rng_int(r, region.y0, region.y1 - h);
        c.x1 = c.x0 + w, c.y1 = c.y0 + h;
        if (!overlaps(p, c, 10)) {
            *x = c.x0, *y = c.y0;
            return true;
        }
    }
    return false;
}

/*
 * Composites coverage mask m at (x, y) in colour c onto the picture, records the text mask,
 * and, with shadow, first a soft dark copy offset down-right.
 */
static void
composite(struct pic *p, const struct itx_image *m, int x, int y, struct rgb c, bool shadow)
{
    int off = shadow ? 2 + m->h / 40 : 0;
    for (int pass = shadow ? 0 : 1; pass < 2; pass++) {
        int ox = x + (pass == 0 ? off : 0), oy = y + (pass == 0 ? off : 0);
        struct rgb col = pass == 0 ? (struct rgb){0, 0, 0} : c;
        double k = pass == 0 ? 0.45 : 1.0;
        for (int j = 0; j < m->h; j++) {
            int yy = oy + j;
            if (yy < 0 || yy >= p->h)
                continue;
            for (int i = 0; i < m->w; i++) {
                int xx = ox + i;
                uint8_t a = m->px[(size_t)j * m->stride + i];
                if (!a || xx < 0 || xx >= p->w)
                    continue;
                blend_px(itx_image_at(p->img, xx, yy), col, k * a / 255.0);
                p->mask->px[(size_t)yy * p->mask->stride + xx] = 255;
            }
        }
    }
}

static struct line *
record(struct pic *p, const char *text, const double *quad, const char *orient, double angle,
       const struct font *f, int size, struct rgb c, int block, bool shadow)
{
    struct line *l;
    if (p->n_lines >= MAX_LINES)
        return NULL;
    l = &p->lines[p->n_lines++];
    memset(l, 0, sizeof(*l));
    l->text = itx_strdup(text);
    memcpy(l->quad, quad, sizeof(l->quad));
    l->orientation = orient;
    l->angle = angle;
    l->font = f;
    l->size = size;
    l->color = c;
    l->block = block;
    l->shadow = shadow;
    return l;
}

struct text_opts {
    const struct font *font;
    int size;
    bool vertical;
    double angle; /* rotated when not 0 */
    bool shadow;
    bool has_colour; /* else chosen for contrast */
    struct rgb colour;
    int block;          /* -1: a new block */
    const char *markup; /* overrides the escaped text (mixed sizes in a price) */
};

/*
 * Renders and places one line somewhere inside region (at exactly (*x, *y) when fixed is
 * set). Returns the line, or NULL when it did not fit. *x, *y, *w, *h receive the box.
 */
static struct line *
put_text(struct pic *p, struct rng *r, const char *text, struct text_opts o, struct rect region,
         bool fixed, int *x, int *y, int *w, int *h)
{
    struct itx_buf mk;
    struct itx_image *m, *rm = NULL;
    double quad[8];
    int px, py;
    struct rect box;
    struct rgb c;
    struct line *l;

    itx_buf_init(&mk, 1 << 16);
    if (o.markup) {
        itx_buf_puts(&mk, o.markup);
    } else if (o.vertical) {
        /* one character per line */
        for (const char *s = text; *s;) {
            int n = 1;
            while ((s[n] & 0xc0) == 0x80)
                n++;
            if (s != text)
                itx_buf_putc(&mk, '\n');
            itx_buf_append(&mk, s, (size_t)n);
            s += n;
        }
    } else {
        markup_escape(&mk, text);
    }
    m = render(mk.data, o.font, o.size, o.vertical);
    itx_buf_release(&mk);
    if (o.angle != 0) {
        rm = rotate_mask(m, o.angle, quad);
        itx_image_free(m);
        m = rm;
    } else {
        double q[8] = {0, 0, m->w, 0, m->w, m->h, 0, m->h};
        memcpy(quad, q, sizeof(q));
    }
    if (fixed) {
        px = *x, py = *y;
        if (px < 0 || py < 0 || px + m->w > p->w || py + m->h > p->h) {
            itx_image_free(m);
            return NULL;
        }
    } else if (!find_spot(p, r, region, m->w, m->h, &px, &py)) {
        itx_image_free(m);
        return NULL;
    }
    box = (struct rect){px, py, px + m->w, py + m->h};
    c = o.has_colour ? o.colour : text_colour_for(r, p->bg, box);
    composite(p, m, px, py, c, o.shadow);
    reserve(p, box);
    for (int i = 0; i < 4; i++)
        quad[2 * i] += px, quad[2 * i + 1] += py;
    l = record(p, text, quad,
               o.vertical     ? "vertical"
               : o.angle != 0 ? "rotated"
                              : "horizontal",
               o.angle, o.font, o.size, c, o.block >= 0 ? o.block : p->n_blocks++, o.shadow);
    if (x)
        *x = px;
    if (y)
        *y = py;
    if (w)
        *w = m->w;
    if (h)
        *h = m->h;
    itx_image_free(m);
    return l;
}

static struct text_opts
opts(const struct font *f, int size)
{
    struct text_opts o = {0};
    o.font = f;
    o.size = size;
    o.block = -1;
    return o;
}

/* ---- backgrounds ------------------------------------------------------------------------ */

/* Soft blurred shapes on a base colour: out-of-focus studio or lifestyle photo. */
static void
bg_photo(struct pic *p, struct rng *r, int y0, int y1)
{
    int sw = p->w / 8 + 1, sh = (y1 - y0) / 8 + 1;
    struct itx_image *small = itx_image_new(sw, sh, 3), *big = NULL;
    struct rgb base = rng_unit(r) < 0.6 ? PICK(r, light_bg) : PICK(r, dark_bg);
    VipsImage *v = NULL, *b = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    gradient(small, base, mix(base, PICK(r, vivid_bg), 0.25), rng_range(r, 0, M_PI), 0, sh);
    for (int i = rng_int(r, 5, 12); i > 0; i--) {
        struct rgb c = rng_unit(r) < 0.5 ? PICK(r, vivid_bg) : PICK(r, light_bg);
        double rad = rng_range(r, sw * 0.08, sw * 0.35);
        if (rng_unit(r) < 0.6)
            draw_ellipse(small, rng_range(r, 0, sw), rng_range(r, 0, sh), rad,
                         rad * rng_range(r, 0.6, 1.4), c, mix(c, base, 0.5),
                         rng_range(r, 0.3, 0.8));
        else
            draw_rrect(small, rng_range(r, -sw * 0.1, sw), rng_range(r, -sh * 0.1, sh),
                       rng_range(r, 0, sw * 1.1), rng_range(r, 0, sh * 1.1), rad / 3, c,
                       rng_range(r, 0.2, 0.6));
    }
    if (itx_image_to_vips(small, &v, &d))
        die("blur", &d);
    if (vips_gaussblur(v, &b, rng_range(r, 1.5, 3.5), NULL))
        die_vips("gaussblur");
    itx_image_free(small);
    small = NULL;
    if (itx_image_from_vips(b, &small, &d) ||
        itx_image_resize(small, p->w, y1 - y0, ITX_IMAGE_FILTER_BILINEAR, &big, &d))
        die("blur", &d);
    for (int y = y0; y < y1; y++)
        memcpy(itx_image_at(p->bg, 0, y), itx_image_at(big, 0, y - y0), p->bg->stride);
    g_object_unref(v), g_object_unref(b);
    itx_image_free(small), itx_image_free(big);
    add_noise(p->bg, r, 2.5, y0, y1);
}

/* Perlin-noise texture between two colours: fabric, paper, wood-like. */
static void
bg_texture(struct pic *p, struct rng *r, int y0, int y1)
{
    VipsImage *pn = NULL;
    struct itx_image *t = NULL;
    struct itx_diag d;
    struct rgb a = rng_unit(r) < 0.6 ? PICK(r, light_bg) : PICK(r, dark_bg);
    struct rgb b = mix(a, rng_unit(r) < 0.5 ? (struct rgb){0, 0, 0} : PICK(r, vivid_bg),
                       rng_range(r, 0.15, 0.35));

    itx_diag_init(&d);
    if (vips_perlin(&pn, p->w, y1 - y0, "cell_size", rng_int(r, 24, 160), "uchar", TRUE, "seed",
                    (int)(rng_next(r) & 0x7fffffff), NULL))
        die_vips("perlin");
    if (itx_image_from_vips(pn, &t, &d))
        die("perlin", &d);
    g_object_unref(pn);
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < p->w; x++) {
            struct rgb c = mix(a, b, t->px[(size_t)(y - y0) * t->stride + x] / 255.0);
            uint8_t *q = itx_image_at(p->bg, x, y);
            q[0] = c.r, q[1] = c.g, q[2] = c.b;
        }
    itx_image_free(t);
    add_noise(p->bg, r, 3, y0, y1);
}

/* One of the five background kinds over rows [y0, y1); returns its name. */
static const char *
background(struct pic *p, struct rng *r, int kind, int y0, int y1)
{
    switch (kind) {
    case 0: {
        struct rgb c = rng_unit(r) < 0.7   ? PICK(r, light_bg)
                       : rng_unit(r) < 0.5 ? PICK(r, dark_bg)
                                           : PICK(r, vivid_bg);
        for (int y = y0; y < y1; y++)
            for (int x = 0; x < p->w; x++) {
                uint8_t *q = itx_image_at(p->bg, x, y);
                q[0] = c.r, q[1] = c.g, q[2] = c.b;
            }
        return "flat";
    }
    case 1: {
        struct rgb a = rng_unit(r) < 0.5 ? PICK(r, light_bg) : PICK(r, vivid_bg);
        struct rgb b = rng_unit(r) < 0.5 ? PICK(r, light_bg) : mix(a, PICK(r, dark_bg), 0.4);
        gradient(p->bg, a, b, rng_range(r, 0, 2 * M_PI), y0, y1);
        return "gradient";
    }
    case 2:
        background(p, r, rng_int(r, 0, 1), y0, y1);
        add_noise(p->bg, r, rng_range(r, 6, 14), y0, y1);
        return "noisy";
    case 3:
        bg_photo(p, r, y0, y1);
        return "photo";
    default:
        bg_texture(p, r, y0, y1);
        return "texture";
    }
}

/* A "product": a lit ellipse or box with a soft shadow, as on a studio shot. */
static void
draw_product(struct pic *p, struct rng *r, struct rect area)
{
    double cx = (area.x0 + area.x1) / 2.0, cy = (area.y0 + area.y1) / 2.0;
    double rx = (area.x1 - area.x0) / 2.0, ry = (area.y1 - area.y0) / 2.0;
    struct rgb c = rng_unit(r) < 0.5 ? PICK(r, vivid_bg) : PICK(r, dark_bg);
    draw_ellipse(p->bg, cx + rx * 0.08, cy + ry * 0.92, rx * 0.9, ry * 0.12, (struct rgb){0, 0, 0},
                 (struct rgb){0, 0, 0}, 0.25);
    if (rng_unit(r) < 0.5)
        draw_ellipse(p->bg, cx, cy, rx * 0.8, ry * 0.85, c, mix(c, (struct rgb){0, 0, 0}, 0.6), 1);
    else
        draw_rrect_shaded(p->bg, cx - rx * 0.6, cy - ry * 0.8, cx + rx * 0.6, cy + ry * 0.85,
                          rx * 0.12, mix(c, (struct rgb){255, 255, 255}, 0.3),
                          mix(c, (struct rgb){0, 0, 0}, 0.45));
    reserve(p, area);
}

/* ---- text content ----------------------------------------------------------------------- */

static void
price_text(struct rng *r, char *text, size_t n, char *markup, size_t mn, int size)
{
    static const char *prefix[] = {"", "", "到手价", "券后价", "活动价", "秒杀价", "原价", "特价"};
    const char *pre = PICK(r, prefix);
    /* both signs are common on real pictures: U+00A5 and the full-width U+FFE5 */
    const char *sign = rng_unit(r) < 0.5 ? "¥" : "￥";
    /* shop prices: 10..99 most often, then 100..999, and single digits always with cents */
    double kind = rng_unit(r);
    int whole = kind < 0.5    ? rng_int(r, 10, 99)
                : kind < 0.75 ? rng_int(r, 100, 999)
                              : rng_int(r, 1, 9);
    int cents = kind >= 0.75 || rng_unit(r) < 0.4 ? rng_int(r, 1, 9) : -1;
    char num[32];

    if (cents >= 0)
        snprintf(num, sizeof(num), "%d.%d", whole, cents);
    else
        snprintf(num, sizeof(num), "%d", whole);
    snprintf(text, n, "%s%s%s", pre, sign, num);
    if (rng_unit(r) < 0.35) /* the currency sign and prefix smaller, as shops draw them */
        snprintf(markup, mn, "<span size=\"%d\">%s%s</span>%s", size * 1024 * 65 / 100, pre, sign,
                 num);
    else
        snprintf(markup, mn, "%s%s%s", pre, sign, num);
}

/* Paragraph: phrases joined with full-width commas into lines of at most max_chars. */
static int
paragraph(struct rng *r, char lines[][160], int n_lines, int max_chars)
{
    for (int i = 0; i < n_lines; i++) {
        lines[i][0] = '\0';
        int chars = 0;
        for (;;) {
            const char *ph = han_phrase(r, 2, 6);
            int add = utf8_chars(ph) + (chars ? 1 : 0);
            if (chars && chars + add > max_chars)
                break;
            if (chars)
                strcat(lines[i], "，");
            strcat(lines[i], ph);
            chars += add;
            if (chars >= max_chars - 2)
                break;
        }
    }
    return n_lines;
}

/* ---- scenes ----------------------------------------------------------------------------- */

static struct rect
R(int x0, int y0, int x1, int y1) {
    return (struct rect){x0, y0, x1, y1};
}

/* A badge (rounded rectangle or circle) in a vivid colour with white or yellow text. */
static bool
badge(struct pic *p, struct rng *r, const char *text, const char *markup, struct rect region,
      int size, bool circle)
{
    struct text_opts o = opts(font_bold(r), size);
    struct rgb bc = PICK(r, badge_cols),
               tc = rng_unit(r) < 0.8 ? (struct rgb){255, 255, 255} : (struct rgb){255, 236, 120};
    struct itx_buf mk;
    struct itx_image *m;
    int pad = size / 2, bw, bh, x, y;

    itx_buf_init(&mk, 4096);
    if (markup)
        itx_buf_puts(&mk, markup);
    else
        markup_escape(&mk, text);
    m = render(mk.data, o.font, size, false);
    bw = m->w + 2 * pad, bh = m->h + pad * 6 / 5;
    if (circle)
        bw = bh = (int)(fmax(m->w, m->h) * 1.35) + pad;
    if (!find_spot(p, r, region, bw, bh, &x, &y)) {
        itx_image_free(m);
        itx_buf_release(&mk);
        return false;
    }
    if (circle)
        draw_ellipse(p->bg, x + bw / 2.0, y + bh / 2.0, bw / 2.0, bh / 2.0, bc, bc, 1);
    else
        draw_rrect(p->bg, x, y, x + bw, y + bh, rng_unit(r) < 0.5 ? bh / 2.0 : bh / 6.0, bc, 1);
    /* the badge is background: copy it into the picture too */
    for (int yy = y; yy < y + bh && yy < p->h; yy++)
        memcpy(itx_image_at(p->img, x, yy), itx_image_at(p->bg, x, yy),
               (size_t)(x + bw <= p->w ? bw : p->w - x) * 3);
    o.has_colour = true, o.colour = tc, o.markup = markup;
    {
        int tx = x + (bw - m->w) / 2, ty = y + (bh - m->h) / 2;
        struct line *l = put_text(p, r, text, o, region, true, &tx, &ty, NULL, NULL);
        if (l)
            l->on_badge = true;
    }
    itx_image_free(m);
    itx_buf_release(&mk);
    reserve(p, R(x, y, x + bw, y + bh));
    return true;
}

static void
price(struct pic *p, struct rng *r, struct rect region, int size)
{
    char text[96], markup[256];
    struct text_opts o = opts(font_bold(r), size);
    price_text(r, text, sizeof(text), markup, sizeof(markup), size);
    o.markup = markup;
    if (rng_unit(r) < 0.3 && badge(p, r, text, markup, region, size * 4 / 5, false))
        return;
    if (rng_unit(r) < 0.6) {
        o.has_colour = true;
        o.colour = rng_unit(r) < 0.6 ? (struct rgb){226, 20, 30} : (struct rgb){255, 80, 0};
        if (worst_contrast(p->bg, region, o.colour) < 3.0)
            o.has_colour = false;
    }
    put_text(p, r, text, o, region, false, NULL, NULL, NULL, NULL);
}

/* Hero shot: product in the middle, big title, subtitle, badge, price. */
static void
scene_hero(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h;
    struct text_opts o;
    char two[160];

    bool banner = rng_unit(r) < 0.4;
    int band = 0;

    p->bg_kind = background(p, r, rng_unit(r) < 0.5 ? 3 : rng_int(r, 0, 4), 0, H);
    draw_product(p, r, R(W / 4, H * 2 / 5, W * 3 / 4, H * 4 / 5));
    o = opts(font_bold(r), rng_int(r, 52, 84));
    if (banner) {
        /* a full-width red or orange band across the top with the title in white */
        band = o.size * 17 / 10;
        draw_rrect(p->bg, 0, 0, W, band, 0, PICK(r, badge_cols), 1);
        o.has_colour = true;
        o.colour = rng_unit(r) < 0.8 ? (struct rgb){255, 255, 255} : (struct rgb){255, 236, 120};
    }
    p->img = itx_image_clone(p->bg);
    o.shadow = !banner && strcmp(p->bg_kind, "photo") == 0 && rng_unit(r) < 0.5;
    {
        const char *title = phrase(r);
        struct line *l = put_text(p, r, title, o,
                                  banner ? R(W / 16, o.size / 3, W - W / 16, band - o.size / 5)
                                         : R(W / 16, H / 20, W - W / 16, H / 4),
                                  false, NULL, NULL, NULL, NULL);
        if (l && banner)
            l->on_badge = true;
        if (banner)
            reserve(p, R(0, 0, W, band));
    }
    o = opts(font_any(r), rng_int(r, 28, 40));
    snprintf(two, sizeof(two), "%s %s", han_phrase(r, 2, 5), han_phrase(r, 2, 5));
    put_text(p, r, two, o, R(W / 16, H / 5, W - W / 16, H * 2 / 5), false, NULL, NULL, NULL, NULL);
    badge(p, r, PICK(r, ((const char *[]){"包邮", "限时特价", "新品", "热卖", "买一送一", "爆款"})),
          NULL, R(0, H * 3 / 4, W, H), rng_int(r, 30, 44), rng_unit(r) < 0.3);
    price(p, r, R(W / 20, H * 3 / 4, W - W / 20, H - H / 40), rng_int(r, 48, 72));
    o = opts(font_any(r), rng_int(r, 22, 28));
    put_text(p, r, phrase(r), o, R(0, H / 2, W, H), false, NULL, NULL, NULL, NULL);
}

/* Selling points: a title and a list of 3..5 points in one size (one block). */
static void
scene_points(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h, size = rng_int(r, 30, 44), x = W / 8, y, block;
    const struct font *f = font_any(r);
    struct text_opts o;
    int n = rng_int(r, 3, 5), tw, th;

    p->bg_kind = background(p, r, rng_int(r, 0, 4), 0, H);
    p->img = itx_image_clone(p->bg);
    o = opts(font_bold(r), rng_int(r, 56, 80));
    put_text(p, r, phrase(r), o, R(W / 12, H / 24, W - W / 12, H / 5), false, NULL, NULL, NULL,
             NULL);
    y = H / 4 + rng_int(r, 0, H / 10);
    block = p->n_blocks++;
    struct rgb col = text_colour_for(r, p->bg, R(x, y, W - W / 10, y + n * size * 2));
    for (int i = 0; i < n; i++) {
        /*
         * A coloured dot as the list marker (background). Kept a character's width away from
         * the text: closer, the detector joins it to the line and it is read as "·".
         */
        draw_ellipse(p->bg, x - size * 1.1, y + size * 0.55, size * 0.22, size * 0.22, col, col, 1);
        draw_ellipse(p->img, x - size * 1.1, y + size * 0.55, size * 0.22, size * 0.22, col, col,
                     1);
        o = opts(f, size);
        o.block = block, o.has_colour = true, o.colour = col;
        int yy = y;
        if (!put_text(p, r, phrase(r), o, R(0, 0, W, H), true, &x, &yy, &tw, &th))
            break;
        y += size * 2;
    }
    price(p, r, R(W / 10, y + size, W - W / 10, H - H / 20), rng_int(r, 44, 64));
    badge(p, r, phrase(r), NULL, R(W / 20, y, W - W / 20, H - H / 40), rng_int(r, 26, 36), false);
}

/* Vertical columns beside a product, like poster titles. */
static void
scene_vertical(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h, cols = rng_int(r, 1, 3);
    int size = rng_int(r, 40, 64),
        x = rng_unit(r) < 0.5 ? W / 14 : W - W / 14 - cols * size * 3 / 2;
    const struct font *f = font_bold(r);

    p->bg_kind = background(p, r, rng_int(r, 0, 4), 0, H);
    draw_product(p, r, R(W / 3, H / 3, W * 5 / 6, H * 5 / 6));
    p->img = itx_image_clone(p->bg);
    int block = p->n_blocks++;
    for (int c = 0; c < cols; c++) {
        struct text_opts o = opts(f, size);
        int y = H / 12 + rng_int(r, 0, H / 12), cw;
        o.vertical = true, o.block = block;
        if (c == 0)
            o.colour = text_colour_for(r, p->bg, R(x, y, x + cols * size * 3 / 2, H - H / 12)),
            o.has_colour = true;
        else
            o.colour = p->lines[p->n_lines - 1].color, o.has_colour = true;
        if (!put_text(p, r, han_phrase(r, 3, 7), o, R(0, 0, W, H), true, &x, &y, &cw, NULL))
            break;
        x += cw + size / 2;
    }
    put_text(p, r, phrase(r), opts(font_any(r), rng_int(r, 30, 44)),
             R(W / 10, H * 5 / 6, W - W / 10, H - H / 40), false, NULL, NULL, NULL, NULL);
}

/* A tilted sticker and tilted slogans. */
static void
scene_rotated(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h;

    p->bg_kind = background(p, r, rng_int(r, 0, 4), 0, H);
    draw_product(p, r, R(W / 5, H / 3, W * 4 / 5, H * 4 / 5));
    p->img = itx_image_clone(p->bg);
    for (int i = 0, n = rng_int(r, 2, 3); i < n; i++) {
        struct text_opts o = opts(font_bold(r), rng_int(r, 36, 60));
        double a = rng_range(r, 3, 12) * (rng_unit(r) < 0.5 ? -1 : 1);
        o.angle = a;
        put_text(p, r, phrase(r), o, R(W / 20, H / 20, W - W / 20, H - H / 20), false, NULL, NULL,
                 NULL, NULL);
    }
    /* a rotated price tag on a tilted quad */
    {
        char text[96], markup[256];
        struct text_opts o = opts(font_bold(r), rng_int(r, 40, 56));
        double q[8], a = rng_range(r, 4, 10) * (rng_unit(r) < 0.5 ? -1 : 1);
        struct itx_image *m, *rm;
        int x, y;
        price_text(r, text, sizeof(text), markup, sizeof(markup), o.size);
        m = render(markup, o.font, o.size, false);
        /* the tag: the text box grown by a margin, rotated the same way */
        {
            int pad = o.size / 3;
            struct itx_image *box = itx_image_new(m->w + 2 * pad, m->h + 2 * pad, 1);
            memset(box->px, 255, (size_t)box->w * box->h);
            rm = rotate_mask(box, a, q);
            itx_image_free(box);
            if (find_spot(p, r, R(W / 20, H / 2, W - W / 20, H - H / 20), rm->w, rm->h, &x, &y)) {
                struct rgb bc = PICK(r, badge_cols);
                for (int i = 0; i < 4; i++)
                    q[2 * i] += x, q[2 * i + 1] += y;
                draw_quad(p->bg, q, bc);
                draw_quad(p->img, q, bc);
                /* text centred on the tag, rotated by the same angle */
                o.angle = a, o.markup = markup, o.has_colour = true,
                o.colour = (struct rgb){255, 255, 255};
                double tq[8];
                struct itx_image *tm = rotate_mask(m, a, tq);
                int tx = x + (rm->w - tm->w) / 2, ty = y + (rm->h - tm->h) / 2;
                itx_image_free(tm);
                struct line *l = put_text(p, r, text, o, R(0, 0, W, H), true, &tx, &ty, NULL, NULL);
                if (l)
                    l->on_badge = true;
                reserve(p, R(x, y, x + rm->w, y + rm->h));
            }
            itx_image_free(rm);
        }
        itx_image_free(m);
    }
}

/* A title and a multi-line paragraph (one block), plus a two-phrase row. */
static void
scene_paragraph(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h, size = rng_int(r, 26, 36), n = rng_int(r, 3, 5);
    char lines[6][160], two[200];
    const struct font *f = font_any(r);
    int x = W / 12, y, block;

    p->bg_kind = background(p, r, rng_int(r, 0, 2), 0, H);
    p->img = itx_image_clone(p->bg);
    put_text(p, r, phrase(r), opts(font_bold(r), rng_int(r, 50, 72)),
             R(W / 12, H / 20, W - W / 12, H / 5), false, NULL, NULL, NULL, NULL);
    paragraph(r, lines, n, (W - 2 * x) / size - 1);
    y = H / 4;
    block = p->n_blocks++;
    struct rgb col = text_colour_for(r, p->bg, R(x, y, W - x, y + n * size * 8 / 5));
    for (int i = 0; i < n; i++) {
        struct text_opts o = opts(f, size);
        int yy = y;
        o.block = block, o.has_colour = true, o.colour = col;
        put_text(p, r, lines[i], o, R(0, 0, W, H), true, &x, &yy, NULL, NULL);
        y += size * 8 / 5;
    }
    snprintf(two, sizeof(two), "%s %s", phrase(r), phrase(r));
    put_text(p, r, two, opts(font_bold(r), rng_int(r, 34, 46)),
             R(W / 16, y + size, W - W / 16, H - H / 20), false, NULL, NULL, NULL, NULL);
    price(p, r, R(W / 16, y + size, W - W / 16, H - H / 40), rng_int(r, 44, 60));
}

/* Latin and model numbers mixed with Chinese. */
static void
scene_mixed(struct pic *p, struct rng *r)
{
    static const char *latin[] = {"XL",  "iPhone 15", "Type-C", "5G",           "USB 3.0",    "LED",
                                  "NFC", "Wi-Fi 6",   "4K HDR", "S M L XL XXL", "100% Cotton"};
    int W = p->w, H = p->h;
    char model[64], buf[160];

    p->bg_kind = background(p, r, rng_int(r, 0, 4), 0, H);
    draw_product(p, r, R(W / 4, H / 4, W * 3 / 4, H * 3 / 4));
    p->img = itx_image_clone(p->bg);
    snprintf(model, sizeof(model), "型号%c-%04d", 'A' + rng_int(r, 0, 25), rng_int(r, 1000, 9999));
    put_text(p, r, model, opts(font_any(r), rng_int(r, 28, 40)),
             R(W / 20, H / 20, W - W / 20, H - H / 20), false, NULL, NULL, NULL, NULL);
    snprintf(buf, sizeof(buf), "%s %s", PICK(r, latin), han_phrase(r, 2, 5));
    put_text(p, r, buf, opts(font_bold(r), rng_int(r, 40, 64)),
             R(W / 20, H / 20, W - W / 20, H - H / 20), false, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++)
        put_text(p, r, phrase(r), opts(font_any(r), rng_int(r, 26, 48)),
                 R(W / 20, H / 20, W - W / 20, H - H / 20), false, NULL, NULL, NULL, NULL);
    badge(p, r, PICK(r, latin), NULL, R(0, 0, W, H), rng_int(r, 28, 40), rng_unit(r) < 0.4);
    price(p, r, R(W / 20, H / 2, W - W / 20, H - H / 20), rng_int(r, 44, 64));
}

/* A 790-wide detail page: stacked sections, each with its own background and content. */
static void
scene_strip(struct pic *p, struct rng *r)
{
    int W = p->w, H = p->h, y = 0;
    p->bg_kind = "mixed";
    /* backgrounds first (sections), then text, so the picture is cloned once */
    int ys[16], n = 0;
    while (y < H && n < 15) {
        int h = rng_int(r, 650, 1050);
        if (H - (y + h) < 500)
            h = H - y;
        ys[n++] = y;
        background(p, r, rng_int(r, 0, 4), y, y + h);
        y += h;
    }
    ys[n] = H;
    p->img = itx_image_clone(p->bg);
    for (int s = 0; s < n; s++) {
        int y0 = ys[s], y1 = ys[s + 1], size = rng_int(r, 26, 34), block, yy;
        char lines[6][160];
        int nl = rng_int(r, 2, 4), x = W / 12;
        put_text(p, r, phrase(r), opts(font_bold(r), rng_int(r, 48, 68)),
                 R(W / 14, y0 + 30, W - W / 14, y0 + 200), false, NULL, NULL, NULL, NULL);
        paragraph(r, lines, nl, (W - 2 * x) / size - 1);
        yy = y0 + 230;
        block = p->n_blocks++;
        struct rgb col = text_colour_for(r, p->bg, R(x, yy, W - x, yy + nl * size * 8 / 5));
        const struct font *f = font_any(r);
        for (int i = 0; i < nl; i++) {
            struct text_opts o = opts(f, size);
            int ly = yy;
            o.block = block, o.has_colour = true, o.colour = col;
            put_text(p, r, lines[i], o, R(0, 0, W, H), true, &x, &ly, NULL, NULL);
            yy += size * 8 / 5;
        }
        switch (s % 3) {
        case 0:
            price(p, r, R(W / 12, yy + 20, W - W / 12, y1 - 20), rng_int(r, 44, 64));
            break;
        case 1:
            badge(p, r, han_phrase(r, 2, 5), NULL, R(W / 12, yy + 20, W - W / 12, y1 - 20),
                  rng_int(r, 28, 40), false);
            break;
        default: {
            struct text_opts o = opts(font_bold(r), rng_int(r, 36, 52));
            o.vertical = true;
            put_text(p, r, han_phrase(r, 3, 6), o, R(W / 12, yy + 20, W - W / 12, y1 - 20), false,
                     NULL, NULL, NULL, NULL);
        }
        }
        put_text(p, r, phrase(r), opts(font_any(r), rng_int(r, 28, 40)),
                 R(W / 12, yy + 20, W - W / 12, y1 - 20), false, NULL, NULL, NULL, NULL);
    }
}

/* ---- output ----------------------------------------------------------------------------- */

static void
save_png(const struct itx_image *img, const char *path)
{
    VipsImage *v = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_image_to_vips(img, &v, &d))
        die(path, &d);
    if (vips_pngsave(v, path, "compression", 1, "strip", TRUE, NULL))
        die_vips(path);
    g_object_unref(v);
}

static void
json_colour(struct itx_buf *b, struct rgb c)
{
    itx_buf_printf(b, "\"#%02x%02x%02x\"", c.r, c.g, c.b);
}

static bool
has_han(const char *s)
{
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q >= 0xe3 && *q <= 0xe9)
            return true;
    return false;
}

static void
write_json(const struct pic *p, const char *dir, const char *name, bool jpeg, uint64_t seed)
{
    struct itx_buf b;
    char path[4096];
    FILE *f;

    itx_buf_init(&b, 1 << 22);
    itx_buf_printf(&b, "{\n  \"name\": \"%s\",\n  \"width\": %d,\n  \"height\": %d,\n", name, p->w,
                   p->h);
    itx_buf_printf(&b, "  \"image\": \"%s.png\",\n", name);
    if (jpeg)
        itx_buf_printf(&b, "  \"jpeg\": \"%s.jpg\",\n", name);
    itx_buf_printf(&b, "  \"background\": \"%s.bg.png\",\n  \"mask\": \"%s.mask.png\",\n", name,
                   name);
    itx_buf_printf(&b, "  \"background_kind\": \"%s\",\n  \"scene\": \"%s\",\n  \"seed\": %llu,\n",
                   p->bg_kind, p->scene, (unsigned long long)seed);
    itx_buf_printf(&b, "  \"lines\": [");
    for (int i = 0; i < p->n_lines; i++) {
        const struct line *l = &p->lines[i];
        itx_buf_printf(&b, "%s\n    {\"text\": ", i ? "," : "");
        itx_buf_json_str(&b, l->text);
        itx_buf_printf(&b, ", \"box\": [");
        for (int k = 0; k < 8; k++)
            itx_buf_printf(&b, "%s%.1f", k ? ", " : "", l->quad[k]);
        itx_buf_printf(&b,
                       "], \"orientation\": \"%s\", \"angle\": %.2f, \"font\": \"%s\", "
                       "\"weight\": \"%s\", \"size\": %d, \"color\": ",
                       l->orientation, l->angle, l->font->family,
                       strcmp(l->font->weight, "Bold") ? "regular" : "bold", l->size);
        json_colour(&b, l->color);
        itx_buf_printf(
            &b, ", \"block\": %d, \"han\": %s, \"price\": %s, \"badge\": %s, \"shadow\": %s}",
            l->block, has_han(l->text) ? "true" : "false",
            strstr(l->text, "¥") || strstr(l->text, "￥") ? "true" : "false",
            l->on_badge ? "true" : "false", l->shadow ? "true" : "false");
    }
    itx_buf_printf(&b, "\n  ]\n}\n");
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    f = fopen(path, "w");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
        die(path, NULL);
    itx_buf_release(&b);
}

static void
load_phrases(const char *path)
{
    uint8_t *data;
    size_t len;
    struct itx_diag d;
    char *save = NULL;

    itx_diag_init(&d);
    if (itx_file_read(path, 1 << 20, &data, &len, &d))
        die("cannot read the phrase list", &d);
    phr.s = itx_calloc(MAX_PHRASES, sizeof(char *));
    for (char *l = strtok_r((char *)data, "\n", &save); l && phr.n < MAX_PHRASES;
         l = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(l);
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
            l[--n] = '\0';
        if (n && l[0] != '#')
            phr.s[phr.n++] = l; /* points into data, kept for the whole run */
    }
    if (phr.n < 20)
        die("the phrase list has fewer than 20 phrases", NULL);
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: itx-testset -o DIR [--count N] [--seed S] [--phrases FILE]\n"
            "Writes synthetic product pictures with ground truth (see docs/image.md).\n"
            "  -o, --out DIR     output directory (created)\n"
            "  --count N         number of pictures (default 40)\n"
            "  --seed S          random seed (default 1)\n"
            "  --phrases FILE    phrase list (default %s)\n",
            ITX_TESTSET_PHRASES);
}

int
main(int argc, char **argv)
{
    const char *out = NULL, *phrases = ITX_TESTSET_PHRASES;
    long long count = 40, seed = 1;
    struct itx_diag d;
    struct itx_buf index;
    static const struct {
        void (*fn)(struct pic *, struct rng *);
        const char *name;
        int w, h;
    } scenes[10] = {
        {scene_hero, "hero", 800, 800},       {scene_points, "points", 750, 1000},
        {scene_mixed, "mixed", 800, 800},     {scene_vertical, "vertical", 1000, 1000},
        {scene_rotated, "rotated", 800, 800}, {scene_paragraph, "paragraph", 750, 1000},
        {scene_hero, "hero", 1000, 1000},     {scene_strip, "strip", 790, 6000},
        {scene_points, "points", 800, 800},   {scene_rotated, "rotated", 1000, 1000},
    };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(a, "--count") && i + 1 < argc) {
            if (!itx_parse_int(argv[++i], 1, 100000, &count)) {
                fprintf(stderr, "itx-testset: --count '%s' is not an integer in 1..100000\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (!itx_parse_int(argv[++i], 0, INT64_MAX, &seed)) {
                fprintf(stderr, "itx-testset: --seed '%s' is not a non-negative integer\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--phrases") && i + 1 < argc)
            phrases = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!out) {
        usage(stderr);
        return 2;
    }
    itx_diag_init(&d);
    if (itx_image_init(&d))
        die("libvips", &d);
    if (mkdir(out, 0777) && errno != EEXIST) {
        fprintf(stderr, "itx-testset: cannot create '%s': %s\n", out, strerror(errno));
        return 1;
    }
    load_phrases(phrases);
    itx_buf_init(&index, 1 << 24);
    itx_buf_printf(&index, "{\n  \"seed\": %lld,\n  \"count\": %lld,\n  \"pictures\": [", seed,
                   count);
    for (long long i = 0; i < count; i++) {
        struct rng r = {(uint64_t)seed * 0x100000001b3ULL + (uint64_t)i * 0x9e3779b97f4a7c15ULL};
        struct pic *p = itx_calloc(1, sizeof(*p));
        int k = (int)(i % 10);
        char name[32], path[4096];
        bool jpeg = i % 3 == 0;

        rng_next(&r);
        p->w = scenes[k].w, p->h = scenes[k].h;
        p->scene = scenes[k].name;
        p->bg = itx_image_new(p->w, p->h, 3);
        p->mask = itx_image_new(p->w, p->h, 1);
        if (!p->bg || !p->mask)
            die("out of memory", NULL);
        scenes[k].fn(p, &r);
        snprintf(name, sizeof(name), "p%04lld-%s", i, p->scene);
        snprintf(path, sizeof(path), "%s/%s.png", out, name);
        save_png(p->img, path);
        snprintf(path, sizeof(path), "%s/%s.bg.png", out, name);
        save_png(p->bg, path);
        snprintf(path, sizeof(path), "%s/%s.mask.png", out, name);
        save_png(p->mask, path);
        if (jpeg) {
            snprintf(path, sizeof(path), "%s/%s.jpg", out, name);
            if (itx_image_save_file(p->img, path, ITX_IMAGE_FORMAT_JPEG, 85 + (int)(i % 8), &d))
                die("saving", &d);
        }
        write_json(p, out, name, jpeg, (uint64_t)seed);
        itx_buf_printf(&index,
                       "%s\n    {\"name\": \"%s\", \"json\": \"%s.json\", \"width\": %d, "
                       "\"height\": %d, \"scene\": \"%s\", \"background_kind\": \"%s\", "
                       "\"lines\": %d}",
                       i ? "," : "", name, name, p->w, p->h, p->scene, p->bg_kind, p->n_lines);
        for (int l = 0; l < p->n_lines; l++)
            itx_free(p->lines[l].text);
        itx_image_free(p->bg), itx_image_free(p->img), itx_image_free(p->mask);
        itx_free(p);
    }
    itx_buf_printf(&index, "\n  ]\n}\n");
    {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof(path), "%s/index.json", out);
        f = fopen(path, "w");
        if (!f || fwrite(index.data, 1, index.len, f) != index.len || fclose(f))
            die(path, NULL);
    }
    itx_buf_release(&index);
    printf("wrote %lld pictures to %s\n", count, out);
    return 0;
}
