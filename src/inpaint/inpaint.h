/*
 * Erasing text: a stroke-level mask per block, a background model from a ring around it,
 * analytic refill of flat, gradient and noisy backgrounds, fast-marching inpainting of
 * textured ones, and a leftover-ink check with a second pass (docs/inpaint.md).
 *
 * Invariants:
 * - Only pixels of the returned mask change; every other pixel of the background equals the
 *   input exactly.
 * - The mask is built from the pixels: ink is what differs from the local background model
 *   by more than a threshold scaled to the ring's noise, grown by a radius scaled to the
 *   stroke width; it is never a filled rectangle.
 *
 * Thread-safety: pure functions of their inputs; any number of threads may erase at once.
 */
#ifndef ITX_INPAINT_INPAINT_H
#define ITX_INPAINT_INPAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "render/render.h"

struct itx_image;

struct itx_inpaint_opts {
    int max_passes;     /* erase passes per block, 1..4 (2: one more after leftover ink) */
    float flat_rms;     /* ring residual (0-255) under which the model refill is used (7) */
    float margin;       /* search margin around line quads, in text sizes (0.15) */
    float ring;         /* ring width outside the margin, in text sizes (0.3, at least 3 px) */
    int radius;         /* inpainting neighbourhood radius, px (0: from the stroke width) */
};

void itx_inpaint_opts_default(struct itx_inpaint_opts *o);

enum itx_inpaint_fill {
    ITX_INPAINT_FILL_NONE = 0, /* no ink found: nothing changed */
    ITX_INPAINT_FILL_MODEL,    /* flat or gradient: the ring's fitted surface */
    ITX_INPAINT_FILL_NOISE,    /* the fitted surface plus noise of the ring's strength */
    ITX_INPAINT_FILL_TEXTURE,  /* fast-marching inpainting from the mask's edge */
};

/* Short name of a fill ("none", "model", "noise", "texture"). */
const char *itx_inpaint_fill_name(enum itx_inpaint_fill f);

struct itx_inpaint_block_report {
    enum itx_inpaint_fill fill;
    uint8_t text[3];     /* text colour: mean of the strokes' core */
    uint8_t outline[3];  /* outline colour when has_outline */
    bool has_outline;    /* the strokes have a distinct rim of another colour */
    uint8_t bg[3];       /* mean of the background model over the block */
    float stroke_width;  /* px, 2 * ink area / ink perimeter */
    float fit_rms;       /* residual of the ring against its fitted surface, 0-255 */
    size_t n_mask;       /* pixels changed */
    size_t n_leftover;   /* ink pixels found next to the mask after the last pass */
    int passes;
};

struct itx_inpaint_report {
    size_t n_blocks;
    struct itx_inpaint_block_report *blocks; /* one per block, in block order */
    struct itx_image *mask; /* 1 channel, picture-sized: 255 where a pixel may have changed */
    double ms;              /* wall time */
};

void itx_inpaint_report_free(struct itx_inpaint_report *r);

/*
 * Erases the text of every block (lines are the ones the blocks index, with their quads)
 * from a 3-channel picture into a new background image. Per block: the ring between the
 * line quads grown by margin and by margin + ring (other blocks' areas left out) gives a
 * per-channel quadratic surface (a plane with fewer than 24 ring pixels); pixels inside the
 * grown quads farther from the surface than max(18, 2.5 x the ring's residual) are ink;
 * the ink mask is dilated by 1 + stroke_width / 4 px; masked pixels are refilled from the
 * surface (residual under flat_rms; with matching noise above 2.5) or inpainted
 * Telea-style; the mask's outermost pixels are blended half with the original. Then ink
 * left next to the mask (pixels far from the surface and nearer the text colour) joins the
 * mask and the block is erased again from the original, up to max_passes.
 * o may be NULL for the defaults. On success *background and *report are new.
 * Errors: ITX_ERR_INVALID (not 3 channels, a line index out of range, non-finite quads,
 * bad opts), ITX_ERR_NOMEM.
 */
enum itx_status itx_inpaint_erase(const struct itx_image *img, const struct itx_render_line *lines,
                                  size_t n_lines, const struct itx_render_blocks *blocks,
                                  const struct itx_inpaint_opts *o, struct itx_image **background,
                                  struct itx_inpaint_report **report, struct itx_diag *d);

#endif
