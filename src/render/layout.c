/*
 * Text measurement and fitting (docs/render.md). Each text is cut at Pango's line-break
 * opportunities into segments; each segment is measured once per font at REF_SIZE px with
 * unhinted metrics, so its width at any size is a multiplication. The size search and the
 * greedy wrap then run on numbers only; the chosen layout is measured whole once to catch
 * shaping across segments.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "render/render.h"

#define REF_SIZE 100.0
#define CACHE_SLOTS 8192 /* entries; cleared whole when three quarters full */

struct cache_entry {
    char *key; /* font description + '\1' + segment; NULL when empty */
    uint64_t hash;
    double width; /* logical width at REF_SIZE */
};

struct itx_render_ctx {
    PangoFontMap *fontmap;
    PangoContext *pctx;
    PangoLayout *layout;
    struct cache_entry *cache;
    size_t n_cache;
    /* the last text's segmentation: fits of one text into several boxes share it */
    char *memo_text;
    char memo_font[96];
    bool memo_bold;
    struct segs *memo;
};

enum itx_status
itx_render_ctx_new(struct itx_render_ctx **out, struct itx_diag *d)
{
    struct itx_render_ctx *c = itx_calloc(1, sizeof(*c));
    cairo_font_options_t *fo;

    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a render context");
    c->cache = itx_calloc(CACHE_SLOTS, sizeof(*c->cache));
    if (!c->cache) {
        itx_free(c);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory for a render context");
    }
    c->fontmap = pango_cairo_font_map_new();
    if (!c->fontmap) {
        itx_render_ctx_free(c);
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot create a Pango font map");
    }
    pango_cairo_font_map_set_resolution(PANGO_CAIRO_FONT_MAP(c->fontmap), 72.0);
    c->pctx = pango_font_map_create_context(c->fontmap);
    fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(c->pctx, fo);
    cairo_font_options_destroy(fo);
    c->layout = pango_layout_new(c->pctx);
    *out = c;
    return ITX_OK;
}

static void
cache_clear(struct itx_render_ctx *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        itx_free(c->cache[i].key);
        c->cache[i].key = NULL;
    }
    c->n_cache = 0;
}

static void memo_drop(struct itx_render_ctx *c);

void
itx_render_ctx_free(struct itx_render_ctx *c)
{
    if (!c)
        return;
    if (c->cache)
        cache_clear(c);
    itx_free(c->cache);
    memo_drop(c);
    if (c->layout)
        g_object_unref(c->layout);
    if (c->pctx)
        g_object_unref(c->pctx);
    if (c->fontmap)
        g_object_unref(c->fontmap);
    itx_free(c);
}

const char *
itx_render_font_for_lang(const char *lang)
{
    char p[4] = {0};
    if (!lang)
        return "Noto Sans";
    for (int i = 0; i < 3 && lang[i] && lang[i] != '-' && lang[i] != '_'; i++)
        p[i] = (char)(lang[i] | 0x20);
    if (!strcmp(p, "ja"))
        return "Noto Sans CJK JP";
    if (!strcmp(p, "ko"))
        return "Noto Sans CJK KR";
    if (!strcmp(p, "zh"))
        return "Noto Sans CJK SC";
    if (!strcmp(p, "th"))
        return "Noto Sans Thai";
    if (!strcmp(p, "ar") || !strcmp(p, "fa") || !strcmp(p, "ur"))
        return "Noto Sans Arabic";
    return "Noto Sans";
}

bool
itx_render_lang_rtl(const char *lang)
{
    char p[4] = {0};
    if (!lang)
        return false;
    for (int i = 0; i < 3 && lang[i] && lang[i] != '-' && lang[i] != '_'; i++)
        p[i] = (char)(lang[i] | 0x20);
    return !strcmp(p, "ar") || !strcmp(p, "fa") || !strcmp(p, "ur") || !strcmp(p, "he");
}

void
itx_render_layout_release(struct itx_render_layout *l)
{
    if (!l)
        return;
    itx_free(l->text);
    l->text = NULL;
}

/* ---- measurement ------------------------------------------------------------------------ */

static void
set_font(struct itx_render_ctx *c, const char *font, bool bold, double size)
{
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, font);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(c->layout, fd);
    pango_font_description_free(fd);
}

/* Logical and ink extents of text (may hold '\n') at size, in px. */
static void
measure(struct itx_render_ctx *c, const char *font, bool bold, double size, const char *text,
        size_t len, enum itx_render_align align, PangoRectangle *ink, PangoRectangle *logical)
{
    set_font(c, font, bold, size);
    pango_layout_set_alignment(c->layout, align == ITX_RENDER_ALIGN_CENTRE  ? PANGO_ALIGN_CENTER
                                          : align == ITX_RENDER_ALIGN_RIGHT ? PANGO_ALIGN_RIGHT
                                                                            : PANGO_ALIGN_LEFT);
    pango_layout_set_text(c->layout, text, (int)len);
    pango_layout_get_pixel_extents(c->layout, ink, logical);
}

static uint64_t
fnv(const char *a, size_t na, const char *b, size_t nb)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < na; i++)
        h = (h ^ (uint8_t)a[i]) * 1099511628211ULL;
    h = (h ^ 1u) * 1099511628211ULL;
    for (size_t i = 0; i < nb; i++)
        h = (h ^ (uint8_t)b[i]) * 1099511628211ULL;
    return h;
}

/* Width of a segment at REF_SIZE (logical), cached. Returns a negative value on NOMEM. */
static double
seg_width(struct itx_render_ctx *c, const char *fontkey, const char *font, bool bold,
          const char *s, size_t n)
{
    size_t nk = strlen(fontkey);
    uint64_t h = fnv(fontkey, nk, s, n);
    size_t slot = (size_t)(h % CACHE_SLOTS);
    PangoLayout *l = c->layout;
    int w, hh;

    for (;;) {
        struct cache_entry *e = &c->cache[slot];
        if (!e->key)
            break;
        if (e->hash == h && !memcmp(e->key, fontkey, nk) && e->key[nk] == '\1' &&
            !memcmp(e->key + nk + 1, s, n) && e->key[nk + 1 + n] == '\0')
            return e->width;
        slot = (slot + 1) % CACHE_SLOTS;
    }
    set_font(c, font, bold, REF_SIZE);
    pango_layout_set_alignment(l, PANGO_ALIGN_LEFT);
    pango_layout_set_text(l, s, (int)n);
    pango_layout_get_size(l, &w, &hh);
    {
        double width = (double)w / PANGO_SCALE;
        char *key;
        if (c->n_cache >= CACHE_SLOTS * 3 / 4) {
            cache_clear(c);
            slot = (size_t)(h % CACHE_SLOTS);
        }
        key = itx_malloc(nk + n + 2);
        if (!key)
            return -1;
        memcpy(key, fontkey, nk);
        key[nk] = '\1';
        memcpy(key + nk + 1, s, n);
        key[nk + 1 + n] = '\0';
        c->cache[slot].key = key;
        c->cache[slot].hash = h;
        c->cache[slot].width = width;
        c->n_cache++;
        return width;
    }
}

/* ---- text clean-up and segmentation ----------------------------------------------------- */

/* Collapses white space, drops control characters. New string in *out. */
static enum itx_status
clean_text(const char *text, char **out, struct itx_diag *d)
{
    size_t n = strlen(text), k = 0;
    char *s;
    bool space = false;

    if (n > ITX_RENDER_MAX_TEXT)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "text of %zu bytes, over the %d-byte limit", n,
                            ITX_RENDER_MAX_TEXT);
    if (!g_utf8_validate(text, (gssize)n, NULL))
        return itx_diag_set(d, ITX_ERR_INVALID, "text is not valid UTF-8");
    s = itx_malloc(n + 1);
    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char(p);
        size_t cl = (size_t)(g_utf8_next_char(p) - p);
        if (ch == '\n' && k > 0) {
            /* a line break the translation asks for (list items): kept, spaces around it
               dropped, runs of breaks made one */
            if (s[k - 1] != '\n')
                s[k++] = '\n';
            space = false;
            continue;
        }
        if (g_unichar_isspace(ch) || ch == 0x3000) {
            space = k > 0 && s[k - 1] != '\n';
            continue;
        }
        if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0) ||
            g_unichar_type(ch) == G_UNICODE_UNASSIGNED || g_unichar_type(ch) == G_UNICODE_FORMAT)
            continue;
        if (space)
            s[k++] = ' ';
        space = false;
        memcpy(s + k, p, cl);
        k += cl;
    }
    while (k > 0 && s[k - 1] == '\n')
        k--;
    s[k] = '\0';
    *out = s;
    return ITX_OK;
}

struct seg {
    size_t off, len;  /* bytes of the segment, trailing spaces excluded */
    size_t space_len; /* bytes of trailing spaces */
    bool hard;        /* ends with a line break the text asks for */
    double w;         /* width at REF_SIZE without the trailing spaces */
};

struct segs {
    struct seg *v;
    size_t n;
    double space_w; /* width of one space at REF_SIZE */
    double ink_h;   /* ink height of the whole text on one line, at REF_SIZE */
    double line_h;  /* logical height of one line at REF_SIZE */
    double ink_top; /* ink top below the logical top, at REF_SIZE */
};

/*
 * Cuts text at line-break opportunities (or at every character when chars is set) and
 * measures the segments.
 */
static enum itx_status
segment(struct itx_render_ctx *c, const char *text, const char *font, bool bold, bool chars,
        struct segs *sg, struct itx_diag *d)
{
    size_t n = strlen(text);
    glong n_chars = g_utf8_strlen(text, (gssize)n);
    PangoLogAttr *attrs = NULL;
    char fontkey[96];
    size_t start = 0;
    enum itx_status st = ITX_OK;
    const char *p = text;

    memset(sg, 0, sizeof(*sg));
    snprintf(fontkey, sizeof(fontkey), "%s%s", font, bold ? "|b" : "");
    attrs = itx_malloc_array((size_t)n_chars + 1, sizeof(*attrs));
    sg->v = itx_malloc_array((size_t)n_chars + 1, sizeof(*sg->v));
    if (!attrs || !sg->v) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory laying out text");
        goto out;
    }
    pango_get_log_attrs(text, (int)n, -1, pango_language_from_string("en"), attrs,
                        (int)n_chars + 1);
    for (glong i = 1; i <= n_chars; i++) {
        p = g_utf8_next_char(p);
        if (i == n_chars || (chars ? attrs[i].is_cursor_position : attrs[i].is_line_break)) {
            size_t end = (size_t)(p - text), len = end - start, sp = 0;
            bool hard = len > 0 && text[start + len - 1] == '\n';
            if (hard)
                len--;
            while (len > sp && text[start + len - 1 - sp] == ' ')
                sp++;
            sg->v[sg->n].hard = hard;
            sg->v[sg->n].off = start;
            sg->v[sg->n].len = len - sp;
            sg->v[sg->n].space_len = sp;
            sg->v[sg->n].w = len - sp ? seg_width(c, fontkey, font, bold, text + start, len - sp) : 0;
            if (sg->v[sg->n].w < 0) {
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory measuring text");
                goto out;
            }
            sg->n++;
            start = end;
        }
    }
    sg->space_w = seg_width(c, fontkey, font, bold, " ", 1);
    if (sg->space_w < 0) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory measuring text");
        goto out;
    }
    {
        /* one line's metrics: the text with its requested breaks turned into spaces */
        PangoRectangle ink, logical;
        char *one = itx_strdup(n ? text : "Hg");
        if (!one) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory measuring text");
            goto out;
        }
        for (char *q = one; *q; q++)
            if (*q == '\n')
                *q = ' ';
        measure(c, font, bold, REF_SIZE, one, strlen(one), ITX_RENDER_ALIGN_LEFT, &ink, &logical);
        itx_free(one);
        sg->line_h = logical.height;
        sg->ink_h = ink.height > 0 ? ink.height : logical.height;
        sg->ink_top = ink.y - logical.y;
    }
out:
    itx_free(attrs);
    if (st != ITX_OK) {
        itx_free(sg->v);
        sg->v = NULL;
    }
    return st;
}

static void
memo_drop(struct itx_render_ctx *c)
{
    if (c->memo)
        itx_free(c->memo->v);
    itx_free(c->memo);
    itx_free(c->memo_text);
    c->memo = NULL;
    c->memo_text = NULL;
}

/* The word segmentation of a cleaned text, from the memo or made (and memorised). */
static enum itx_status
segment_memo(struct itx_render_ctx *c, const char *clean, const char *font, bool bold,
             const struct segs **out, struct itx_diag *d)
{
    enum itx_status st;
    if (c->memo && c->memo_bold == bold && !strcmp(c->memo_font, font) &&
        !strcmp(c->memo_text, clean)) {
        *out = c->memo;
        return ITX_OK;
    }
    memo_drop(c);
    c->memo = itx_calloc(1, sizeof(*c->memo));
    c->memo_text = itx_strdup(clean);
    if (!c->memo || !c->memo_text) {
        memo_drop(c);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory laying out text");
    }
    st = segment(c, clean, font, bold, false, c->memo, d);
    if (st != ITX_OK) {
        memo_drop(c);
        return st;
    }
    snprintf(c->memo_font, sizeof(c->memo_font), "%s", font);
    c->memo_bold = bold;
    *out = c->memo;
    return ITX_OK;
}

/*
 * Greedy wrap at size: writes the line starts into brk (segment indices, brk[0] = 0) and
 * returns the line count; *max_w is the widest line, *too_wide whether a segment alone is
 * wider than box_w.
 */
/* Whether segment i starts after a requested break (no space before it then). */
static bool
chars_hard_fix(const struct segs *sg, size_t i)
{
    return i > 0 && sg->v[i - 1].hard;
}

static int
wrap(const struct segs *sg, double size, double box_w, size_t *brk, double *max_w, bool *too_wide)
{
    double k = size / REF_SIZE, line = 0, widest = 0;
    int n_lines = 1;
    *too_wide = false;
    if (brk)
        brk[0] = 0;
    for (size_t i = 0; i < sg->n; i++) {
        double w = sg->v[i].w * k;
        double sp = i > 0 ? (double)sg->v[i - 1].space_len * sg->space_w * k : 0;
        if (chars_hard_fix(sg, i))
            sp = 0;
        if (w > box_w)
            *too_wide = true;
        if (i > 0 && (sg->v[i - 1].hard || line + sp + w > box_w)) {
            widest = line > widest ? line : widest;
            if (brk)
                brk[n_lines] = i;
            n_lines++;
            line = w;
        } else {
            line += (i > 0 ? sp : 0) + w;
        }
    }
    widest = line > widest ? line : widest;
    *max_w = widest;
    return n_lines;
}

static double
est_height(const struct segs *sg, double size, int n_lines, double spacing)
{
    double k = size / REF_SIZE;
    /* a negative spacing is a fixed pitch in px */
    double step = spacing > 0 ? spacing * size : spacing < 0 ? -spacing : sg->line_h * k;
    return (n_lines - 1) * step + sg->ink_h * k;
}

static bool
fits(const struct segs *sg, double size, double box_w, double box_h, double spacing)
{
    double mw;
    bool too_wide;
    int nl = wrap(sg, size, box_w, NULL, &mw, &too_wide);
    return !too_wide && mw <= box_w && est_height(sg, size, nl, spacing) <= box_h;
}

/* Joins the segments with '\n' at the breaks into a new string. */
static enum itx_status
compose(const char *text, const struct segs *sg, const size_t *brk, int n_lines, char **out,
        struct itx_diag *d)
{
    size_t n = strlen(text), k = 0;
    char *s = itx_malloc(n + (size_t)n_lines + 1);
    int line = 1;
    if (!s)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory laying out text");
    for (size_t i = 0; i < sg->n; i++) {
        if (line < n_lines && brk[line] == i) {
            s[k++] = '\n';
            line++;
        } else if (i > 0) {
            memset(s + k, ' ', sg->v[i - 1].space_len);
            k += sg->v[i - 1].space_len;
        }
        memcpy(s + k, text + sg->v[i].off, sg->v[i].len);
        k += sg->v[i].len;
    }
    s[k] = '\0';
    *out = s;
    return ITX_OK;
}

static enum itx_status
check_opts(const char *text, float box_w, float box_h, const struct itx_render_layout_opts *o,
           struct itx_diag *d)
{
    if (!text)
        return itx_diag_set(d, ITX_ERR_INVALID, "no text to lay out");
    if (!isfinite(box_w) || !isfinite(box_h) || box_w < 1 || box_h < 1 || box_w > 1e6f ||
        box_h > 1e6f)
        return itx_diag_set(d, ITX_ERR_INVALID, "box %gx%g is not a positive size up to 1e6",
                            (double)box_w, (double)box_h);
    if (!isfinite(o->min_size) || !isfinite(o->max_size) || o->min_size < 1 ||
        o->max_size > ITX_RENDER_MAX_SIZE || o->min_size > o->max_size)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "font sizes %g..%g are not within 1..%d with min <= max",
                            (double)o->min_size, (double)o->max_size, ITX_RENDER_MAX_SIZE);
    if (!isfinite(o->line_spacing) || o->line_spacing < 0 || o->line_spacing > 10)
        return itx_diag_set(d, ITX_ERR_INVALID, "line spacing %g is not within 0..10",
                            (double)o->line_spacing);
    if (!isfinite(o->line_pitch) || o->line_pitch < 0 || o->line_pitch > 1e4f)
        return itx_diag_set(d, ITX_ERR_INVALID, "line pitch %g is not within 0..10000",
                            (double)o->line_pitch);
    return ITX_OK;
}

/*
 * Lays text out at size (search false) or searches the size (search true), then checks the
 * result with one whole Pango measurement, stepping the size down while it is too large.
 */
static enum itx_status
layout(struct itx_render_ctx *c, const char *text, float size, bool search, float box_w,
       float box_h, const struct itx_render_layout_opts *o, struct itx_render_layout *out,
       struct itx_diag *d)
{
    char *clean = NULL, *composed = NULL;
    struct segs sgc = {0};
    const struct segs *use, *word = NULL;
    size_t *brk = NULL;
    enum itx_status st;
    const char *font = o->font ? o->font : "Noto Sans";
    double lo = (double)o->min_size, hi = (double)o->max_size, s;
    double bw = (double)box_w, bh = (double)box_h;
    double mw, spacing;
    bool too_wide, broke = false, overflow = false;
    int nl;

    st = check_opts(text, box_w, box_h, o, d);
    if (st != ITX_OK)
        return st;
    spacing = o->line_pitch > 0 ? -(double)o->line_pitch : (double)o->line_spacing;
    st = clean_text(text, &clean, d);
    if (st != ITX_OK)
        return st;
    st = segment_memo(c, clean, font, o->bold, &word, d);
    if (st != ITX_OK)
        goto out;
    use = word;
    brk = itx_malloc_array(strlen(clean) + 2, sizeof(*brk));
    if (!brk) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory laying out text");
        goto out;
    }
    if (search) {
        /* the estimate keeps a 2% margin for kerning and shaping across segments */
        bw = (double)box_w * 0.98, bh = (double)box_h * 0.98;
        if (fits(use, hi, bw, bh, spacing)) {
            s = hi;
        } else if (!fits(use, lo, bw, bh, spacing)) {
            s = lo;
        } else {
            while (hi - lo > 0.25) {
                double mid = (lo + hi) / 2;
                if (fits(use, mid, bw, bh, spacing))
                    lo = mid;
                else
                    hi = mid;
            }
            s = lo;
        }
    } else {
        s = (double)size;
    }
    for (int tries = 0;; tries++) {
        PangoRectangle ink, logical;
        nl = wrap(use, s, bw, brk, &mw, &too_wide);
        if (too_wide && use == word && (!search || s <= (double)o->min_size + 1e-3)) {
            /* a word alone cannot fit even at the smallest size: break between characters */
            st = segment(c, clean, font, o->bold, true, &sgc, d);
            if (st != ITX_OK)
                goto out;
            use = &sgc;
            broke = true;
            nl = wrap(use, s, bw, brk, &mw, &too_wide);
        }
        itx_free(composed);
        composed = NULL;
        st = compose(clean, use, brk, nl, &composed, d);
        if (st != ITX_OK)
            goto out;
        if (o->estimate_only) {
            ink.width = (int)ceil(mw);
            ink.height = (int)ceil(est_height(use, s, nl, spacing));
        } else {
            measure(c, font, o->bold, s, composed, strlen(composed), ITX_RENDER_ALIGN_LEFT, &ink,
                    &logical);
        }
        {
            double h = spacing != 0 && nl > 1
                           ? fmax((double)ink.height, est_height(use, s, nl, spacing))
                           : (double)ink.height;
            double w = fmax((double)ink.width, mw);
            overflow = too_wide || w > (double)box_w || h > (double)box_h;
            out->width = (float)w;
            out->height = (float)h;
        }
        if (!overflow || !search || s <= (double)o->min_size + 1e-3 || tries >= 12)
            break;
        s = fmax((double)o->min_size, s * 0.96);
    }
    out->size = (float)s;
    out->n_lines = nl;
    out->natural_line_height = (float)(use->line_h * s / REF_SIZE);
    out->line_height = (float)(spacing > 0 ? spacing * s : spacing < 0 ? -spacing
                                                                       : use->line_h * s / REF_SIZE);
    out->overflow = overflow;
    out->broke_word = broke;
    out->text = composed;
    composed = NULL;
out:
    itx_free(clean);
    itx_free(composed);
    itx_free(sgc.v);
    itx_free(brk);
    return st;
}

enum itx_status
itx_render_layout_fit(struct itx_render_ctx *c, const char *text, float box_w, float box_h,
                      const struct itx_render_layout_opts *o, struct itx_render_layout *out,
                      struct itx_diag *d)
{
    return layout(c, text, 0, true, box_w, box_h, o, out, d);
}

enum itx_status
itx_render_layout_at(struct itx_render_ctx *c, const char *text, float size, float box_w,
                     float box_h, const struct itx_render_layout_opts *o,
                     struct itx_render_layout *out, struct itx_diag *d)
{
    if (!isfinite(size) || size < 1 || size > ITX_RENDER_MAX_SIZE)
        return itx_diag_set(d, ITX_ERR_INVALID, "font size %g is not within 1..%d", (double)size,
                            ITX_RENDER_MAX_SIZE);
    return layout(c, text, size, false, box_w, box_h, o, out, d);
}
