/*
 * Redrawing translated text: grouping recognised lines into blocks, fitting a translation
 * into a block's area, and drawing it on the text-free background (docs/render.md).
 *
 * Invariants:
 * - Geometry is in pixels of the original picture. A quad is 4 corners x1,y1..x4,y4,
 *   clockwise from the text's own top-left (as itx_ocr_line.box). Angles are degrees,
 *   counter-clockwise on screen, of the text's reading direction (0: left to right).
 * - Blocks never own the text of their lines: they hold indices into the caller's array.
 * - Layout never overflows silently: either the laid-out text fits its box at the chosen
 *   size, or the result carries ITX_RENDER_OVERFLOW.
 * - Font sizes are pixels (Pango points at 72 dpi).
 *
 * Thread-safety: the grouping and style functions are pure and thread-safe. A struct
 * itx_render_ctx (font map, measurement cache) serves one thread at a time; make one per
 * worker thread. Drawing rasterises with pangocairo on the calling thread's own font map
 * (Pango keeps one per thread), so threads draw in parallel without a lock.
 */
#ifndef ITX_RENDER_RENDER_H
#define ITX_RENDER_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct itx_image;

/* ---- lines and their style ----------------------------------------------------------- */

/* One recognised line as the grouping sees it. */
struct itx_render_line {
    float quad[8];    /* clockwise from the text's top-left */
    const char *text; /* UTF-8, borrowed (may be NULL: not used by grouping) */
    bool vertical;    /* a column read top to bottom (itx_ocr ITX_OCR_VERTICAL) */
};

/* What the pixels say about a line (or, averaged, a block). */
struct itx_render_style {
    float size;       /* font size estimate, px: ink height across the text / 0.88 */
    uint8_t color[3]; /* text colour, sRGB */
    uint8_t bg[3];    /* background colour around the line, sRGB */
    bool bold;        /* strokes thicker than 9% of the size */
};

/*
 * Estimates a line's style from the picture (3 channels): the background is the median of
 * a 2-pixel ring around the quad's bounding box, ink is what differs from it, the colour is
 * the mean of the most distant ink, the size comes from the ink's extent across the text
 * direction (so it does not depend on how much the detector padded the quad). A quad that
 * lies outside the picture or holds no ink gets size = the quad's height and colour = the
 * ring's complement. Pure. Fails only with ITX_ERR_NOMEM when the ring cannot be allocated;
 * *out is then that default style, which a caller should not draw with.
 */
enum itx_status itx_render_line_style(const struct itx_image *img, const float quad[8],
                                      bool vertical, struct itx_render_style *out);

/* ---- blocks -------------------------------------------------------------------------- */

enum itx_render_align {
    ITX_RENDER_ALIGN_LEFT = 0,
    ITX_RENDER_ALIGN_CENTRE,
    ITX_RENDER_ALIGN_RIGHT,
};

/* A paragraph, list or column group: lines drawn and translated as one unit. */
struct itx_render_block {
    size_t first, n_lines; /* line indices are blocks->line_idx[first .. first+n_lines) */
    bool vertical;         /* a group of vertical columns */
    float angle;           /* reading direction of the lines (0 for vertical columns) */
    float cx, cy;          /* centre of the block's box */
    float w, h;            /* box size along and across the reading direction (vertical
                              blocks: w is the horizontal extent, h the vertical one) */
    float quad[8];         /* the box as a quad, clockwise from its top-left */
    enum itx_render_align align;
    struct itx_render_style style; /* mean over the lines */
    int group; /* blocks of one group share a font size; groups are numbered from 0 */
};

struct itx_render_blocks {
    size_t n_blocks;
    struct itx_render_block *blocks; /* in reading order (top to bottom, left to right) */
    size_t *line_idx;                /* each block's lines in reading order */
    int n_groups;
};

/*
 * Grouping thresholds. Defaults (itx_render_group_opts_default) suit product pictures.
 */
struct itx_render_group_opts {
    float max_angle_diff;   /* degrees between lines of one block (3) */
    float min_size_ratio;   /* smaller / larger size within a block (0.8) */
    float max_color_dist;   /* RGB distance between text colours of a block (60) */
    float max_line_gap;     /* gap between rows (or columns), in sizes (1.0) */
    float align_tol;        /* edge or centre alignment tolerance, in sizes (0.75) */
    float group_size_ratio; /* blocks whose sizes are within this ratio ... (0.88) */
    float group_color_dist; /* ... and colours within this distance share a size (40) */
};

void itx_render_group_opts_default(struct itx_render_group_opts *o);

/*
 * Groups n lines (with their styles, styles[i] for lines[i]) of a picture img_w x img_h
 * into blocks: two lines join when they have the same kind (horizontal or vertical),
 * angles within max_angle_diff, sizes and colours alike, lie on neighbouring rows (columns
 * for vertical text) no further apart than max_line_gap sizes, overlap along the reading
 * direction and share a left edge, centre or right edge (top edge for columns). Lines on
 * one row never join: phrases set apart by a gap stay apart. Alignment comes from the rows'
 * edges (single lines: centred when the line sits on the picture's vertical centre line,
 * else left). o may be NULL for the defaults. On success *out is new
 * (itx_render_blocks_free). Errors: ITX_ERR_INVALID (non-finite quads, n over 100000),
 * ITX_ERR_NOMEM.
 */
enum itx_status itx_render_blocks_group(const struct itx_render_line *lines,
                                        const struct itx_render_style *styles, size_t n, int img_w,
                                        int img_h, const struct itx_render_group_opts *o,
                                        struct itx_render_blocks **out, struct itx_diag *d);
void itx_render_blocks_free(struct itx_render_blocks *b);

/* ---- layout -------------------------------------------------------------------------- */

struct itx_render_ctx;

/*
 * A per-thread context: its own Pango font map (72 dpi, metrics unhinted so widths scale
 * linearly with size) and a cache of text-segment widths measured once per font at a
 * reference size. Errors: ITX_ERR_INTERNAL (no Pango), ITX_ERR_NOMEM.
 */
enum itx_status itx_render_ctx_new(struct itx_render_ctx **out, struct itx_diag *d);
void itx_render_ctx_free(struct itx_render_ctx *c);

/*
 * Font family for a target language (BCP 47 tag, only the primary subtag matters):
 * "Noto Sans CJK JP" for ja, "Noto Sans CJK KR" for ko, "Noto Sans CJK SC" for zh,
 * "Noto Sans Thai" for th, "Noto Sans Arabic" for ar, fa and ur, "Noto Sans" for anything
 * else (Latin, Cyrillic, Greek) and for NULL. Pango falls back per character through
 * fontconfig for scripts the family lacks.
 */
const char *itx_render_font_for_lang(const char *lang);
/* Whether the language is written right to left (ar, fa, ur, he). */
bool itx_render_lang_rtl(const char *lang);

#define ITX_RENDER_MAX_TEXT 4096 /* bytes of one translation */
#define ITX_RENDER_MAX_SIZE 400  /* px, largest font size considered */

struct itx_render_layout_opts {
    const char *font; /* family, e.g. "Noto Sans" (NULL: "Noto Sans") */
    bool bold;
    float min_size;     /* smallest size tried, px (9) */
    float max_size;     /* largest, px (the block's source size) */
    float line_spacing; /* baseline-to-baseline distance in sizes; 0: the font's own */
    float line_pitch;   /* px between baselines whatever the size (a list keeping its
                           source rows); 0: line_spacing decides */
    bool estimate_only; /* skip the whole-text Pango measurement: widths and height are the
                           cached estimates (for comparing candidate boxes cheaply) */
};

/*
 * A laid-out text: the lines as they will be drawn (joined with '\n' in text) at size px.
 * width and height are the measured extents of the whole layout at that size.
 */
struct itx_render_layout {
    float size;
    int n_lines;
    float width, height;
    float line_height;         /* px from one line to the next */
    float natural_line_height; /* the font's own line height at size, px */
    bool overflow;             /* does not fit even at min_size; drawn at min_size anyway */
    bool broke_word;           /* a word alone wider than the box was broken between characters */
    char *text;                /* NUL-terminated UTF-8 with '\n' at the breaks (itx_free) */
};

void itx_render_layout_release(struct itx_render_layout *l);

/*
 * Fits text into a box_w x box_h box: binary search of the size between min_size and
 * max_size (to 0.25 px) for the largest at which greedy wrapping at Pango's line-break
 * opportunities (word boundaries; every character in CJK and Thai runs) fits. Words are
 * never broken unless one alone is wider than the box at min_size. Widths come from the
 * context's cache (each segment is measured once per font by Pango at 100 px and scaled),
 * and the chosen layout is then measured whole by Pango with its real shaping; when that
 * is wider than the estimate the size steps down until it fits. Leading, trailing and
 * repeated white space is collapsed; control characters are dropped.
 * Errors: ITX_ERR_INVALID (not UTF-8, box or sizes not positive and finite, min over max),
 * ITX_ERR_TOO_LARGE (text over ITX_RENDER_MAX_TEXT bytes), ITX_ERR_NOMEM. On success *out
 * holds a new text (itx_render_layout_release).
 */
enum itx_status itx_render_layout_fit(struct itx_render_ctx *c, const char *text, float box_w,
                                      float box_h, const struct itx_render_layout_opts *o,
                                      struct itx_render_layout *out, struct itx_diag *d);

/*
 * Lays text out at a fixed size (wrapping as itx_render_layout_fit does) without a size
 * search; overflow says whether it fits box_w x box_h.
 */
enum itx_status itx_render_layout_at(struct itx_render_ctx *c, const char *text, float size,
                                     float box_w, float box_h,
                                     const struct itx_render_layout_opts *o,
                                     struct itx_render_layout *out, struct itx_diag *d);

/* ---- drawing ------------------------------------------------------------------------- */

/* One translation to draw into a block. */
struct itx_render_item {
    size_t block;     /* index into blocks->blocks */
    const char *text; /* translation, UTF-8, borrowed */
    const char *lang; /* target language tag for the font (NULL: Latin) */
    uint8_t color[3]; /* text colour (from the erase report, or the block's style) */
    bool has_outline; /* the source text had an outline of outline[] */
    uint8_t outline[3];
};

struct itx_render_opts {
    float min_size;           /* smallest size drawn, px (9) */
    float readable_size;      /* under this the region is flagged too_small, px (12) */
    float max_scale;          /* largest size as a multiple of the block's source size (1.0) */
    float grow;               /* growth into free background: the box may become up to 1 + grow
                                 times as long (and, failing that, as tall) (1.0); tried at
                                 grow, grow/2, grow/4; only where no other block's box is, the
                                 background is like the box's, and 2% off the picture's edges */
    float min_contrast;       /* WCAG contrast under which an outline is added (4.5) */
    bool same_size_per_group; /* one size per block group (true) */
};

void itx_render_opts_default(struct itx_render_opts *o);

enum itx_render_flag {
    ITX_RENDER_OVERFLOW = 1 << 0,     /* the text does not fit even at min_size */
    ITX_RENDER_TOO_SMALL = 1 << 1,    /* drawn under readable_size */
    ITX_RENDER_LOW_CONTRAST = 1 << 2, /* text against background under min_contrast */
    ITX_RENDER_OUTLINED = 1 << 3,     /* an outline was drawn (source outline or contrast) */
    ITX_RENDER_ROTATED = 1 << 4,      /* drawn along a rotated baseline (incl. columns) */
    ITX_RENDER_GREW = 1 << 5,         /* the box grew into free background */
    ITX_RENDER_BROKE_WORD = 1 << 6,   /* a word was broken between characters */
};

/* What was drawn for one item. */
struct itx_render_region {
    size_t block;
    float size; /* font size, px */
    int n_lines;
    float quad[8];       /* the area the text was fitted into (after growth) */
    float ink[4];        /* x, y, w, h: the drawn ink's bounding box in the picture */
    uint8_t color[3];    /* drawn text colour */
    uint8_t outline[3];  /* drawn outline colour (when OUTLINED) */
    float outline_width; /* px, 0 when none */
    float contrast;      /* WCAG ratio of text colour against the background under it */
    unsigned flags;      /* enum itx_render_flag bits */
    const char *font;    /* family used (static string) */
};

struct itx_render_report {
    size_t n_regions; /* one per item, in item order */
    struct itx_render_region *regions;
    double layout_ms, draw_ms;
};

void itx_render_report_free(struct itx_render_report *r);

/*
 * Draws translations on a copy of bg (3 channels; the erased picture). For each item: the
 * block's box (grown as opts.grow says, keeping its aligned edge, when the text does not
 * fit at 85% of its source size), the layout by
 * itx_render_layout_fit with the block's alignment, then one size per block group (the
 * smallest of the group's fitted sizes) unless opts says otherwise. Horizontal blocks are
 * drawn along their own angle; a vertical column group is drawn as horizontal text in the
 * columns' area, or turned 90 degrees clockwise along the columns when that allows a size
 * over 1.3 times larger. Text is rasterised with pangocairo (markup escaped, 72 dpi) and is
 * composited with the item's colour; when the WCAG contrast of that colour against the
 * background under the box is below min_contrast, or the source had an outline, an outline
 * of the more contrasting of black and white (or the source's outline colour) is drawn
 * under it, size/12 px wide. Items with NULL or empty text are skipped (a region with size
 * 0). On success *out is a new image and *report a new report (itx_render_report_free).
 * Errors: ITX_ERR_INVALID (bg not 3 channels, an item's block out of range, bad text),
 * ITX_ERR_TOO_LARGE (text over cairo's 32767-pixel surfaces), ITX_ERR_NOMEM,
 * ITX_ERR_INTERNAL (Pango or cairo).
 */
enum itx_status itx_render_draw(struct itx_render_ctx *c, const struct itx_image *bg,
                                const struct itx_render_blocks *blocks,
                                const struct itx_render_item *items, size_t n_items,
                                const struct itx_render_opts *opts, struct itx_image **out,
                                struct itx_render_report **report, struct itx_diag *d);

/* ---- colour -------------------------------------------------------------------------- */

/* WCAG 2 relative luminance of an sRGB colour (0..1). */
double itx_render_luminance(const uint8_t rgb[3]);
/* WCAG 2 contrast ratio of two colours (1..21). */
double itx_render_contrast(const uint8_t a[3], const uint8_t b[3]);

#endif
