/* Internals shared by pipeline.c and regions.c; no other module includes this. */
#ifndef ITX_PIPELINE_PIPELINE_IMPL_H
#define ITX_PIPELINE_PIPELINE_IMPL_H

#include "core/buf.h"
#include "inpaint/inpaint.h"
#include "ocr/ocr.h"
#include "pipeline/pipeline.h"
#include "render/render.h"

/* One picture on its way through the stages. */
struct pl_pic {
    const struct itx_pipeline_source *src;
    uint8_t *fetched; /* owned copy of a fetched body */
    size_t fetched_len;
    struct itx_image *img;
    struct itx_image_info info;
    struct itx_ocr_result *ocr;
    enum itx_tr_skip *line_skip; /* per OCR line */
    size_t n_keep;               /* lines kept for translation */
    size_t *keep;                /* OCR line index of each kept line */
    struct itx_render_line *lines;
    struct itx_render_style *styles;
    struct itx_render_blocks *blocks;
    bool *is_list;                /* per block: one segment per line, joined with '\n' */
    size_t *seg_first;            /* per block: index of its first segment in the request */
    size_t *n_seg;                /* per block */
    char **source;                /* per block: the source text as sent ('\n' between list items) */
    char **translation;           /* per block */
    unsigned *tr_flags;           /* per block, ITX_TR_FLAG_* ORed over its segments */
    enum itx_tr_skip *block_skip; /* per block: what the translator said when all skipped */
    struct itx_image *bg;
    struct itx_inpaint_report *er;
    struct itx_image *out;
    struct itx_render_report *rr;
    unsigned *qa;    /* per block, ITX_PIPELINE_* and render flags */
    char **readback; /* per block: what OCR read in the drawn area */
    struct itx_pipeline_timings ms;
};

/* Writes the regions JSON of a finished picture (docs/pipeline.md). */
enum itx_status itx_pl_regions_json(const struct pl_pic *p, const struct itx_pipeline_opts *o,
                                    const char *provider, struct itx_buf *out, struct itx_diag *d);

#endif
