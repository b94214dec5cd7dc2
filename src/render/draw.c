/*
 * Drawing translations into blocks: box choice (growth, vertical columns), size per group,
 * text rendering with pangocairo, outline for contrast, compositing along the block's angle.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "image/image.h"
#include "render/render.h"

void
itx_render_opts_default(struct itx_render_opts *o)
{
    o->min_size = 9;
    o->readable_size = 12;
    o->max_scale = 1.0f;
    o->grow = 1.0f;
    o->min_contrast = 4.5f;
    o->same_size_per_group = true;
}

void
itx_render_report_free(struct itx_render_report *r)
{
    if (!r)
        return;
    itx_free(r->regions);
    itx_free(r);
}

/* The box one item is fitted into: centre, size along/across the text, angle. */
struct box {
    float cx, cy, w, h, angle;
};

struct plan {
    struct box box;
    struct itx_render_layout lay;
    enum itx_render_align align;
    const char *font;
    bool bold, active;
    unsigned flags;
    float pitch; /* fixed line pitch of a list, px (0: natural) */
};

static void
box_quad(const struct box *b, float q[8])
{
    double r = (double)b->angle * M_PI / 180.0, ca = cos(r), sa = sin(r);
    static const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
    for (int i = 0; i < 4; i++) {
        double u = su[i] * (double)b->w / 2, v = sv[i] * (double)b->h / 2;
        q[2 * i] = (float)((double)b->cx + u * ca + v * sa);
        q[2 * i + 1] = (float)((double)b->cy - u * sa + v * ca);
    }
}

static void
quad_bbox(const float q[8], float bb[4])
{
    bb[0] = bb[2] = q[0], bb[1] = bb[3] = q[1];
    for (int i = 1; i < 4; i++) {
        bb[0] = fminf(bb[0], q[2 * i]), bb[2] = fmaxf(bb[2], q[2 * i]);
        bb[1] = fminf(bb[1], q[2 * i + 1]), bb[3] = fmaxf(bb[3], q[2 * i + 1]);
    }
}

/* Mean colour of bg over the axis-aligned rectangle bb (sampled on a grid). */
static void
rect_mean(const struct itx_image *bg, const float bb[4], double mean[3])
{
    int x0 = (int)fmaxf(0, bb[0]), y0 = (int)fmaxf(0, bb[1]);
    int x1 = (int)fminf((float)bg->w - 1, bb[2]), y1 = (int)fminf((float)bg->h - 1, bb[3]);
    double n = 0;
    mean[0] = mean[1] = mean[2] = 0;
    /* A rectangle wholly off the picture on one axis has no samples (and, unclamped, a
     * negative extent that would make the step negative). */
    if (x1 < x0 || y1 < y0)
        return;
    int step = (x1 - x0 + y1 - y0) / 120 + 1;
    for (int y = y0; y <= y1; y += step)
        for (int x = x0; x <= x1; x += step) {
            const uint8_t *p = itx_image_at(bg, x, y);
            for (int k = 0; k < 3; k++)
                mean[k] += p[k];
            n++;
        }
    for (int k = 0; k < 3; k++)
        mean[k] /= n > 0 ? n : 1;
}

/*
 * Whether box b, grown from orig, stays in the picture, clear of every other block's box,
 * and on background like the original box's: nine in ten samples of the added area within
 * 40 of the original area's mean colour (text must not spill off a badge or a tag).
 */
static bool
box_free(const struct itx_image *bg, const struct box *orig, const struct box *b,
         const struct itx_render_blocks *blocks, size_t self, int w, int h)
{
    float q[8], bb[4], oq[8], ob[4];
    double mean[3];
    int n = 0, close = 0, step;
    box_quad(b, q);
    quad_bbox(q, bb);
    /* a margin of 2% of the picture's shorter side keeps grown text off the edges */
    float edge = 0.02f * (float)(w < h ? w : h);
    if (bb[0] < edge || bb[1] < edge || bb[2] > (float)w - edge || bb[3] > (float)h - edge)
        return false;
    box_quad(orig, oq);
    quad_bbox(oq, ob);
    rect_mean(bg, ob, mean);
    step = (int)((bb[2] - bb[0] + bb[3] - bb[1]) / 150) + 1;
    for (int y = (int)bb[1]; y < (int)bb[3]; y += step)
        for (int x = (int)bb[0]; x < (int)bb[2]; x += step) {
            const uint8_t *p;
            double dd = 0;
            if ((float)x >= ob[0] && (float)x <= ob[2] && (float)y >= ob[1] && (float)y <= ob[3])
                continue;
            p = itx_image_at(bg, x, y);
            for (int k = 0; k < 3; k++)
                dd += (p[k] - mean[k]) * (p[k] - mean[k]);
            n++;
            close += dd < 40.0 * 40.0;
        }
    if (n > 0 && close * 10 < n * 9)
        return false;
    for (size_t k = 0; k < blocks->n_blocks; k++) {
        float kb[4];
        if (k == self)
            continue;
        quad_bbox(blocks->blocks[k].quad, kb);
        if (bb[0] < kb[2] && kb[0] < bb[2] && bb[1] < kb[3] && kb[1] < bb[3])
            return false;
    }
    return true;
}

static enum itx_status
fit(struct itx_render_ctx *c, const char *text, const struct box *b, const char *font, bool bold,
    float min_size, float max_size, float pitch, struct itx_render_layout *lay, struct itx_diag *d)
{
    struct itx_render_layout_opts lo = {font, bold, min_size, max_size, 0, pitch, true};
    memset(lay, 0, sizeof(*lay));
    return itx_render_layout_fit(c, text, b->w, b->h, &lo, lay, d);
}

/* Mean colour and contrast of colour against the background under a box (worst of mean,
 * darkest and lightest tenth). */
static double
box_contrast(const struct itx_image *bg, const struct box *b, const uint8_t color[3])
{
    float q[8], bb[4];
    int x0, y0, x1, y1, step;
    double sum[3] = {0, 0, 0}, n = 0;
    int hist[256] = {0};
    uint8_t mean[3], lo[3], hi[3];
    double worst;
    int n_hist = 0, acc = 0, lo_v = 0, hi_v = 255;

    box_quad(b, q);
    quad_bbox(q, bb);
    x0 = (int)fmaxf(0, bb[0]), y0 = (int)fmaxf(0, bb[1]);
    x1 = (int)fminf((float)bg->w - 1, bb[2]), y1 = (int)fminf((float)bg->h - 1, bb[3]);
    if (x1 < x0 || y1 < y0)
        return 21;
    step = (x1 - x0 + y1 - y0) / 200 + 1;
    for (int y = y0; y <= y1; y += step)
        for (int x = x0; x <= x1; x += step) {
            const uint8_t *p = itx_image_at(bg, x, y);
            int l = (p[0] * 54 + p[1] * 183 + p[2] * 19) >> 8;
            for (int k = 0; k < 3; k++)
                sum[k] += p[k];
            hist[l]++;
            n_hist++;
            n++;
        }
    for (int k = 0; k < 3; k++)
        mean[k] = (uint8_t)lrint(sum[k] / n);
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (acc * 10 < n_hist)
            lo_v = v + 1;
    }
    acc = 0;
    for (int v = 255; v >= 0; v--) {
        acc += hist[v];
        if (acc * 10 < n_hist)
            hi_v = v - 1;
    }
    for (int k = 0; k < 3; k++)
        lo[k] = (uint8_t)(lo_v < 0     ? 0
                          : lo_v > 255 ? 255
                                       : lo_v),
        hi[k] = (uint8_t)(hi_v < 0     ? 0
                          : hi_v > 255 ? 255
                                       : hi_v);
    worst = itx_render_contrast(color, mean);
    worst = fmin(worst, itx_render_contrast(color, lo));
    worst = fmin(worst, itx_render_contrast(color, hi));
    return worst;
}

/* Escapes text for Pango markup. */
static enum itx_status
escape(const char *s, struct itx_buf *b)
{
    enum itx_status st = ITX_OK;
    for (; *s && st == ITX_OK; s++) {
        if (*s == '&')
            st = itx_buf_puts(b, "&amp;");
        else if (*s == '<')
            st = itx_buf_puts(b, "&lt;");
        else if (*s == '>')
            st = itx_buf_puts(b, "&gt;");
        else
            st = itx_buf_putc(b, *s);
    }
    return st;
}

/*
 * Rasterises Pango markup into a coverage mask (1 channel) the size of its ink. The
 * settings are the ones libvips's vips_text used, so that text looks as it did: the
 * thread's default pangocairo font map (Pango keeps one per thread, so threads never
 * share or lock it) at 72 dpi, a fresh context with default font options, the font from
 * its description string, spacing in whole pixels, drawn into an ARGB32 surface whose
 * alpha is the coverage. *out is NULL when nothing is inked.
 */
static enum itx_status
rasterise(const char *markup, const char *desc, PangoAlignment align, int spacing,
          struct itx_image **out, struct itx_diag *d)
{
    PangoFontMap *fm = pango_cairo_font_map_get_default();
    PangoContext *pc = NULL;
    PangoLayout *pl = NULL;
    PangoFontDescription *fd = NULL;
    PangoRectangle ink, logical;
    cairo_surface_t *surf = NULL;
    cairo_t *cr = NULL;
    struct itx_image *m = NULL;
    enum itx_status st = ITX_OK;

    *out = NULL;
    if (!fm)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot get a Pango font map");
    pango_cairo_font_map_set_resolution(PANGO_CAIRO_FONT_MAP(fm), 72.0);
    pc = pango_font_map_create_context(fm);
    pl = pc ? pango_layout_new(pc) : NULL;
    fd = pango_font_description_from_string(desc);
    if (!pl || !fd) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory laying out text");
        goto out;
    }
    if (!pango_parse_markup(markup, -1, 0, NULL, NULL, NULL, NULL)) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "text is not valid UTF-8");
        goto out;
    }
    pango_layout_set_markup(pl, markup, -1);
    pango_layout_set_font_description(pl, fd);
    if (spacing > 0)
        pango_layout_set_spacing(pl, spacing * PANGO_SCALE);
    pango_layout_set_alignment(pl, align);
    pango_layout_get_pixel_extents(pl, &ink, &logical);
    if (ink.width <= 0 || ink.height <= 0)
        goto out;
    /* cairo's image surfaces stop at 32767 pixels a side */
    if (ink.width >= 32768 || ink.height >= 32768) {
        st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "text of %dx%d px is over the 32767-pixel limit",
                          ink.width, ink.height);
        goto out;
    }
    surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, ink.width, ink.height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot make a %dx%d text surface", ink.width,
                          ink.height);
        goto out;
    }
    cr = cairo_create(surf);
    cairo_translate(cr, -ink.x, -ink.y);
    pango_cairo_show_layout(cr, pl);
    cairo_surface_flush(surf);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        st = itx_diag_set(d, ITX_ERR_INTERNAL, "cannot draw text: %s",
                          cairo_status_to_string(cairo_status(cr)));
        goto out;
    }
    m = itx_image_new(ink.width, ink.height, 1);
    if (!m) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory rendering text");
        goto out;
    }
    {
        const uint8_t *px = cairo_image_surface_get_data(surf);
        size_t stride = (size_t)cairo_image_surface_get_stride(surf);
        for (int y = 0; y < m->h; y++) {
            /* ARGB32 is one native-endian 32-bit word per pixel, alpha in the top byte */
            const uint32_t *r = (const uint32_t *)(const void *)(px + (size_t)y * stride);
            for (int x = 0; x < m->w; x++)
                m->px[(size_t)y * m->stride + (size_t)x] = (uint8_t)(r[x] >> 24);
        }
    }
    *out = m;
out:
    if (cr)
        cairo_destroy(cr);
    if (surf)
        cairo_surface_destroy(surf);
    if (fd)
        pango_font_description_free(fd);
    if (pl)
        g_object_unref(pl);
    if (pc)
        g_object_unref(pc);
    return st;
}

/*
 * Renders a layout into a coverage mask (1 channel) cropped to its ink, with a margin of
 * pad pixels all round. *out is NULL (and ITX_OK returned) when nothing is inked.
 */
static enum itx_status
render_mask(const struct plan *p, int pad, struct itx_image **out, struct itx_diag *d)
{
    struct itx_buf mk;
    char desc[160];
    struct itx_image *m = NULL, *o = NULL;
    enum itx_status st;
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = -1, y1 = -1, spacing;
    PangoAlignment al = p->align == ITX_RENDER_ALIGN_CENTRE  ? PANGO_ALIGN_CENTER
                        : p->align == ITX_RENDER_ALIGN_RIGHT ? PANGO_ALIGN_RIGHT
                                                             : PANGO_ALIGN_LEFT;

    *out = NULL;
    if (!p->lay.text || !p->lay.text[0]) /* nothing left after white space clean-up */
        return ITX_OK;
    itx_buf_init(&mk, 6 * ITX_RENDER_MAX_TEXT + 64);
    st = escape(p->lay.text, &mk);
    if (st != ITX_OK) {
        itx_buf_release(&mk);
        return itx_diag_set(d, st, "out of memory escaping text");
    }
    snprintf(desc, sizeof(desc), "%s%s %.2f", p->font, p->bold ? " Bold" : "", (double)p->lay.size);
    /* a fixed pitch wider than the font's own line is extra spacing, in whole pixels */
    spacing = p->lay.n_lines > 1 && p->lay.line_height > p->lay.natural_line_height
                  ? (int)lrintf(p->lay.line_height - p->lay.natural_line_height)
                  : 0;
    st = rasterise(mk.data ? mk.data : "", desc, al, spacing, &m, d);
    itx_buf_release(&mk);
    if (st != ITX_OK || !m)
        return st;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            if (m->px[(size_t)y * m->stride + (size_t)x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 >= 0) {
        o = itx_image_new(x1 - x0 + 1 + 2 * pad, y1 - y0 + 1 + 2 * pad, 1);
        if (!o) {
            itx_image_free(m);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory rendering text");
        }
        for (int y = y0; y <= y1; y++)
            memcpy(o->px + (size_t)(y - y0 + pad) * o->stride + pad,
                   m->px + (size_t)y * m->stride + (size_t)x0, (size_t)(x1 - x0 + 1));
    }
    itx_image_free(m);
    *out = o;
    return ITX_OK;
}

/* Dilates coverage by a disc of radius r (max filter), into a new mask. */
static struct itx_image *
dilate(const struct itx_image *m, float r)
{
    struct itx_image *o = itx_image_new(m->w, m->h, 1);
    int ri = (int)ceilf(r), n_off = 0;
    int *off_x = NULL, *off_y = NULL, *off_w = NULL; /* the disc, rim weights in 1/256 */
    size_t cap = (size_t)(2 * ri + 1) * (size_t)(2 * ri + 1);
    if (!o)
        return NULL;
    off_x = itx_malloc_array(cap, sizeof(int));
    off_y = itx_malloc_array(cap, sizeof(int));
    off_w = itx_malloc_array(cap, sizeof(int));
    if (!off_x || !off_y || !off_w) {
        itx_image_free(o);
        o = NULL;
        goto out;
    }
    for (int dy = -ri; dy <= ri; dy++)
        for (int dx = -ri; dx <= ri; dx++) {
            float dd = sqrtf((float)(dx * dx + dy * dy));
            if (dd > r + 0.5f)
                continue;
            off_x[n_off] = dx, off_y[n_off] = dy;
            /* anti-aliased rim */
            off_w[n_off] = dd > r - 0.5f ? (int)(256.0f * (r + 0.5f - dd)) : 256;
            n_off++;
        }
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            int best = 0;
            bool inner = x >= ri && y >= ri && x < m->w - ri && y < m->h - ri;
            for (int k = 0; k < n_off && best < 255; k++) {
                int xx = x + off_x[k], yy = y + off_y[k], v;
                if (!inner && (xx < 0 || yy < 0 || xx >= m->w || yy >= m->h))
                    continue;
                v = m->px[(size_t)yy * m->stride + (size_t)xx];
                if (v == 0)
                    continue;
                v = (v * off_w[k]) >> 8;
                best = v > best ? v : best;
            }
            o->px[(size_t)y * o->stride + (size_t)x] = (uint8_t)best;
        }
out:
    itx_free(off_x);
    itx_free(off_y);
    itx_free(off_w);
    return o;
}

static float
sample(const struct itx_image *m, float x, float y)
{
    int ix = (int)floorf(x), iy = (int)floorf(y);
    float fx = x - (float)ix, fy = y - (float)iy, v = 0;
    for (int k = 0; k < 4; k++) {
        int xx = ix + (k & 1), yy = iy + (k >> 1);
        float wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        if (xx >= 0 && yy >= 0 && xx < m->w && yy < m->h && wgt > 0)
            v += wgt * m->px[(size_t)yy * m->stride + (size_t)xx];
    }
    return v / 255.0f;
}

/*
 * Composites the text (and outline) masks into img: mask pixel (mx, my) lands at box-local
 * (u0 + mx, v0 + my), rotated by the box's angle about its centre. ink receives the
 * bounding box touched.
 */
static void
composite(struct itx_image *img, const struct box *b, const struct itx_image *text,
          const struct itx_image *outline, float u0, float v0, const uint8_t color[3],
          const uint8_t ocolor[3], float ink[4])
{
    double r = (double)b->angle * M_PI / 180.0, ca = cos(r), sa = sin(r);
    float corners[8], bb[4];
    float us[4] = {u0, u0 + (float)text->w, u0 + (float)text->w, u0};
    float vs[4] = {v0, v0, v0 + (float)text->h, v0 + (float)text->h};
    int x0, y0, x1, y1;
    float ix0 = 1e30f, iy0 = 1e30f, ix1 = -1e30f, iy1 = -1e30f;
    bool axis = fabs(b->angle) < 1e-3;

    for (int i = 0; i < 4; i++) {
        corners[2 * i] = (float)((double)b->cx + (double)us[i] * ca + (double)vs[i] * sa);
        corners[2 * i + 1] = (float)((double)b->cy - (double)us[i] * sa + (double)vs[i] * ca);
    }
    quad_bbox(corners, bb);
    x0 = (int)floorf(bb[0]) - 1, y0 = (int)floorf(bb[1]) - 1;
    x1 = (int)ceilf(bb[2]) + 1, y1 = (int)ceilf(bb[3]) + 1;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 >= img->w ? img->w - 1 : x1, y1 = y1 >= img->h ? img->h - 1 : y1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double dx = x + 0.5 - (double)b->cx, dy = y + 0.5 - (double)b->cy;
            float u = (float)(dx * ca - dy * sa) - u0 - 0.5f;
            float v = (float)(dx * sa + dy * ca) - v0 - 0.5f;
            float a, ao;
            uint8_t *p;
            if (axis) {
                u = floorf(u + 0.5f), v = floorf(v + 0.5f);
            }
            if (u < -1 || v < -1 || u > (float)text->w || v > (float)text->h)
                continue;
            a = sample(text, u, v);
            ao = outline ? sample(outline, u, v) : 0;
            if (a <= 0 && ao <= 0)
                continue;
            p = itx_image_at(img, x, y);
            for (int k = 0; k < 3; k++) {
                float vv = p[k];
                vv = vv * (1 - ao) + ocolor[k] * ao;
                vv = vv * (1 - a) + color[k] * a;
                p[k] = (uint8_t)lrintf(vv < 0 ? 0 : vv > 255 ? 255 : vv);
            }
            ix0 = fminf(ix0, (float)x), iy0 = fminf(iy0, (float)y);
            ix1 = fmaxf(ix1, (float)x), iy1 = fmaxf(iy1, (float)y);
        }
    if (ix1 >= ix0) {
        ink[0] = ix0, ink[1] = iy0, ink[2] = ix1 - ix0 + 1, ink[3] = iy1 - iy0 + 1;
    }
}

/* Plans one item: box (vertical choice, growth) and fitted layout. */
static enum itx_status
plan_item(struct itx_render_ctx *c, const struct itx_image *bg,
          const struct itx_render_blocks *blocks, const struct itx_render_item *it,
          const struct itx_render_opts *o, struct plan *p, struct itx_diag *d)
{
    const struct itx_render_block *blk = &blocks->blocks[it->block];
    float max_size =
        fminf((float)ITX_RENDER_MAX_SIZE, fmaxf(o->min_size, blk->style.size * o->max_scale));
    enum itx_status st;
    struct box b = {blk->cx, blk->cy, fmaxf(1, blk->w), fmaxf(1, blk->h), blk->angle};

    p->font = itx_render_font_for_lang(it->lang);
    if (!blk->vertical && blk->n_lines >= 2) {
        /* a translation with one line per source line (a list) keeps the source's rows */
        size_t n_breaks = 0;
        for (const char *q = it->text; *q; q++)
            n_breaks += *q == '\n';
        if (n_breaks + 1 == blk->n_lines)
            p->pitch = fmaxf(0, (blk->h - blk->style.size * 0.88f) / (float)(blk->n_lines - 1));
    }
    p->bold = blk->style.bold;
    p->align = blk->align;
    if (itx_render_lang_rtl(it->lang) && p->align == ITX_RENDER_ALIGN_LEFT)
        p->align = ITX_RENDER_ALIGN_RIGHT;
    if (blk->vertical) {
        /* horizontal text in the columns' area, or turned along the columns */
        struct box br = {blk->cx, blk->cy, fmaxf(1, blk->h), fmaxf(1, blk->w), -90.0f};
        struct itx_render_layout lr;
        p->align = ITX_RENDER_ALIGN_CENTRE;
        st = fit(c, it->text, &b, p->font, p->bold, o->min_size, max_size, p->pitch, &p->lay, d);
        if (st != ITX_OK)
            return st;
        st = fit(c, it->text, &br, p->font, p->bold, o->min_size, max_size, p->pitch, &lr, d);
        if (st != ITX_OK)
            return st;
        /* horizontal text in a wider area beside the columns reads best: try it first */
        for (int k = 0; k < 4 && p->lay.size < 0.7f * max_size; k++) {
            static const float mult[4] = {4.0f, 3.0f, 2.0f, 1.5f};
            struct box wb = b;
            struct itx_render_layout wl;
            wb.w = fminf(b.w * mult[k], fmaxf(b.w, b.h * 1.2f));
            {
                /* shifted sideways to stay 2% inside the picture */
                float edge = 0.02f * (float)(bg->w < bg->h ? bg->w : bg->h);
                if (wb.cx - wb.w / 2 < edge)
                    wb.cx = edge + wb.w / 2;
                if (wb.cx + wb.w / 2 > (float)bg->w - edge)
                    wb.cx = (float)bg->w - edge - wb.w / 2;
            }
            if (wb.w <= b.w + 1 || !box_free(bg, &b, &wb, blocks, it->block, bg->w, bg->h))
                continue;
            st = fit(c, it->text, &wb, p->font, p->bold, o->min_size, max_size, p->pitch, &wl, d);
            if (st != ITX_OK) {
                itx_render_layout_release(&lr);
                return st;
            }
            if (!wl.overflow && wl.size > p->lay.size) {
                itx_render_layout_release(&p->lay);
                p->lay = wl;
                b = wb;
                p->flags |= ITX_RENDER_GREW;
                break;
            }
            itx_render_layout_release(&wl);
        }
        /* turned along the columns only when horizontal text would be much smaller */
        if ((lr.size > 1.5f * p->lay.size && p->lay.size < 0.5f * max_size && !lr.overflow) ||
            (p->lay.overflow && !lr.overflow)) {
            itx_render_layout_release(&p->lay);
            p->lay = lr;
            b = br;
            p->flags |= ITX_RENDER_ROTATED;
        } else {
            itx_render_layout_release(&lr);
        }
    } else {
        st = fit(c, it->text, &b, p->font, p->bold, o->min_size, max_size, p->pitch, &p->lay, d);
        if (st != ITX_OK)
            return st;
        if (fabsf(b.angle) > 0.5f)
            p->flags |= ITX_RENDER_ROTATED;
    }
    if (o->grow > 0 && (p->lay.size < 0.85f * max_size || p->lay.overflow)) {
        /* grow into free background: along the text first, then across too; the aligned
           edge stays where it is (left-aligned text grows to the right), else the box
           grows about its centre, else from the other edge */
        for (int k = 0; k < 18; k++) {
            static const float level[3] = {1.0f, 0.5f, 0.25f};
            float g = o->grow * level[k / 6] / 2;
            int anchor = (k / 2) % 3; /* 0 aligned edge, 1 centre, 2 other edge */
            struct box gb = b;
            struct itx_render_layout gl;
            double r = (double)b.angle * M_PI / 180.0, shift, half;
            int side;
            gb.w = b.w * (1 + 2 * g);
            if (k % 2 == 1)
                gb.h = b.h * (1 + 2 * g);
            half = (double)(gb.w - b.w) / 2;
            side = p->align == ITX_RENDER_ALIGN_LEFT    ? 1
                   : p->align == ITX_RENDER_ALIGN_RIGHT ? -1
                                                        : 0;
            if (side == 0 && anchor != 1)
                side = anchor == 0 ? 1 : -1;
            shift = anchor == 1 ? 0 : anchor == 0 ? side * half : -side * half;
            gb.cx = (float)((double)b.cx + shift * cos(r));
            gb.cy = (float)((double)b.cy - shift * sin(r));
            if (!box_free(bg, &b, &gb, blocks, it->block, bg->w, bg->h))
                continue;
            st = fit(c, it->text, &gb, p->font, p->bold, o->min_size, max_size, p->pitch, &gl, d);
            if (st != ITX_OK)
                return st;
            if ((gl.size > p->lay.size * 1.05f && !gl.overflow) ||
                (p->lay.overflow && !gl.overflow)) {
                itx_render_layout_release(&p->lay);
                p->lay = gl;
                b = gb;
                p->flags |= ITX_RENDER_GREW;
                /* text grown off its anchor is centred in the new box */
                if (anchor != 0)
                    p->align = ITX_RENDER_ALIGN_CENTRE;
                break;
            }
            itx_render_layout_release(&gl);
        }
    }
    {
        /* candidates were compared on estimates; the chosen box gets the real measurement */
        struct itx_render_layout_opts lo = {p->font, p->bold,  o->min_size, max_size,
                                            0,       p->pitch, false};
        struct itx_render_layout fl;
        memset(&fl, 0, sizeof(fl));
        st = itx_render_layout_fit(c, it->text, b.w, b.h, &lo, &fl, d);
        if (st != ITX_OK)
            return st;
        itx_render_layout_release(&p->lay);
        p->lay = fl;
    }
    p->box = b;
    return ITX_OK;
}

enum itx_status
itx_render_draw(struct itx_render_ctx *c, const struct itx_image *bg,
                const struct itx_render_blocks *blocks, const struct itx_render_item *items,
                size_t n_items, const struct itx_render_opts *opts, struct itx_image **out,
                struct itx_render_report **report, struct itx_diag *d)
{
    struct itx_render_opts def;
    struct plan *plans = NULL;
    struct itx_image *img = NULL;
    struct itx_render_report *rep = NULL;
    enum itx_status st = ITX_OK;
    double t0 = itx_now_ms(), t1;

    if (!opts) {
        itx_render_opts_default(&def);
        opts = &def;
    }
    if (bg->channels != 3)
        return itx_diag_set(d, ITX_ERR_INVALID, "background has %d channels, not 3", bg->channels);
    if (!(opts->min_size >= 1 && opts->min_size <= ITX_RENDER_MAX_SIZE) ||
        !(opts->max_scale > 0 && opts->max_scale <= 10) || !(opts->grow >= 0 && opts->grow <= 2))
        return itx_diag_set(d, ITX_ERR_INVALID, "render options out of range");
    for (size_t i = 0; i < n_items; i++)
        if (items[i].block >= blocks->n_blocks)
            return itx_diag_set(d, ITX_ERR_INVALID, "item %zu names block %zu of %zu", i,
                                items[i].block, blocks->n_blocks);
    plans = itx_calloc(n_items ? n_items : 1, sizeof(*plans));
    rep = itx_calloc(1, sizeof(*rep));
    img = itx_image_clone(bg);
    if (!plans || !rep || !img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory drawing text");
        goto out;
    }
    rep->regions = itx_calloc(n_items ? n_items : 1, sizeof(*rep->regions));
    if (!rep->regions) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory drawing text");
        goto out;
    }
    rep->n_regions = n_items;
    for (size_t i = 0; i < n_items; i++) {
        rep->regions[i].block = items[i].block;
        if (!items[i].text || !items[i].text[0])
            continue;
        st = plan_item(c, bg, blocks, &items[i], opts, &plans[i], d);
        if (st != ITX_OK) {
            itx_diag_prefix(d, "block %zu", items[i].block);
            goto out;
        }
        plans[i].active = true;
    }
    /* one size per group: the smallest fitted size of the group's items */
    if (opts->same_size_per_group)
        for (size_t i = 0; i < n_items; i++) {
            int g;
            float s;
            if (!plans[i].active)
                continue;
            g = blocks->blocks[items[i].block].group;
            s = plans[i].lay.size;
            for (size_t j = 0; j < n_items; j++)
                if (plans[j].active && blocks->blocks[items[j].block].group == g)
                    s = fminf(s, plans[j].lay.size);
            if (s < plans[i].lay.size) {
                struct itx_render_layout l2;
                struct itx_render_layout_opts lo = {
                    plans[i].font, plans[i].bold, opts->min_size, s, 0, plans[i].pitch, false};
                memset(&l2, 0, sizeof(l2));
                st = itx_render_layout_at(c, items[i].text, s, plans[i].box.w, plans[i].box.h, &lo,
                                          &l2, d);
                if (st != ITX_OK)
                    goto out;
                itx_render_layout_release(&plans[i].lay);
                plans[i].lay = l2;
            }
        }
    t1 = itx_now_ms();
    rep->layout_ms = t1 - t0;
    for (size_t i = 0; i < n_items; i++) {
        struct plan *p = &plans[i];
        struct itx_render_region *rg = &rep->regions[i];
        struct itx_image *tm = NULL, *om = NULL;
        float ow = 0, u0, v0;
        int pad;
        double contrast;
        if (!p->active)
            continue;
        memcpy(rg->color, items[i].color, 3);
        contrast = box_contrast(bg, &p->box, items[i].color);
        rg->contrast = (float)contrast;
        rg->flags = p->flags;
        if (contrast < (double)opts->min_contrast)
            rg->flags |= ITX_RENDER_LOW_CONTRAST;
        if (items[i].has_outline || contrast < (double)opts->min_contrast) {
            static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
            ow = fmaxf(1.0f, p->lay.size / 12.0f);
            if (items[i].has_outline)
                memcpy(rg->outline, items[i].outline, 3);
            else
                memcpy(rg->outline,
                       itx_render_contrast(items[i].color, black) >
                               itx_render_contrast(items[i].color, white)
                           ? black
                           : white,
                       3);
            rg->flags |= ITX_RENDER_OUTLINED;
        }
        pad = (int)ceilf(ow) + 1;
        st = render_mask(p, pad, &tm, d);
        if (st != ITX_OK)
            goto out;
        if (!tm)
            continue;
        if (ow > 0) {
            om = dilate(tm, ow);
            if (!om) {
                itx_image_free(tm);
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory drawing an outline");
                goto out;
            }
        }
        {
            float iw = (float)(tm->w - 2 * pad), ih = (float)(tm->h - 2 * pad);
            if (p->align == ITX_RENDER_ALIGN_LEFT && iw <= p->box.w)
                u0 = -p->box.w / 2;
            else if (p->align == ITX_RENDER_ALIGN_RIGHT && iw <= p->box.w)
                u0 = p->box.w / 2 - iw;
            else
                u0 = -iw / 2;
            v0 = -ih / 2;
            u0 = roundf(u0 + p->box.cx) - p->box.cx - (float)pad;
            v0 = roundf(v0 + p->box.cy) - p->box.cy - (float)pad;
            if (iw > p->box.w + 0.5f || ih > p->box.h + 0.5f)
                p->lay.overflow = true;
        }
        composite(img, &p->box, tm, om, u0, v0, items[i].color, rg->outline, rg->ink);
        itx_image_free(tm);
        itx_image_free(om);
        rg->size = p->lay.size;
        rg->n_lines = p->lay.n_lines;
        rg->outline_width = ow;
        rg->font = p->font;
        box_quad(&p->box, rg->quad);
        if (p->lay.overflow)
            rg->flags |= ITX_RENDER_OVERFLOW;
        if (p->lay.broke_word)
            rg->flags |= ITX_RENDER_BROKE_WORD;
        if (p->lay.size < opts->readable_size)
            rg->flags |= ITX_RENDER_TOO_SMALL;
    }
    rep->draw_ms = itx_now_ms() - t1;
    *out = img;
    *report = rep;
    img = NULL;
    rep = NULL;
out:
    if (plans)
        for (size_t i = 0; i < n_items; i++)
            itx_render_layout_release(&plans[i].lay);
    itx_free(plans);
    itx_image_free(img);
    itx_render_report_free(rep);
    return st;
}
