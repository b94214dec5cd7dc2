/*
 * The pipeline: decode, OCR, selection, one translation call, erase, draw, read-back check
 * with one retry, encode. docs/pipeline.md explains the choices.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "fetch/fetch.h"
#include "pipeline/pipeline-impl.h"

struct itx_pipeline {
    struct itx_ocr_engine *engine;
    struct itx_translator *tr;
    struct itx_glossary *glossary; /* the translator's keep terms, for selection */
    struct itx_fetch_opts fetch;
    char provider[16];
    int ocr_threads;
};

struct itx_pipeline_ctx {
    struct itx_pipeline *p;
    struct itx_ocr_ctx *ocr;
    struct itx_render_ctx *rc;
};

/* Lines whose text has at most this many characters can be list items. */
#define LIST_ITEM_MAX_CHARS 8

void
itx_pipeline_opts_default(struct itx_pipeline_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->target = "en";
    o->min_score = 0.6f;
}

enum itx_status
itx_pipeline_new(const struct itx_pipeline_config *cfg, struct itx_pipeline **out,
                 struct itx_diag *d)
{
    struct itx_pipeline *p = itx_calloc(1, sizeof(*p));
    enum itx_status st;

    if (!p)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    if (cfg->fetch)
        p->fetch = *cfg->fetch;
    else
        itx_fetch_opts_init(&p->fetch);
    p->ocr_threads = cfg->ocr_threads > 0 ? cfg->ocr_threads : 1;
    snprintf(p->provider, sizeof(p->provider), "%s", itx_tr_provider_str(cfg->tr.provider));
    st = itx_ocr_engine_new(cfg->models_dir, NULL, &p->engine, d);
    if (st != ITX_OK)
        goto fail;
    st = itx_translator_new(&cfg->tr, &p->tr, d);
    if (st != ITX_OK)
        goto fail;
    /* the same keep terms the translator protects, so skipped lines are never erased */
    p->glossary = itx_glossary_new();
    if (!p->glossary) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!cfg->tr.no_builtin_glossary &&
        (st = itx_glossary_add_builtin_en(p->glossary, d)) != ITX_OK)
        goto fail;
    if (cfg->tr.glossary_path &&
        (st = itx_glossary_load_file(p->glossary, cfg->tr.glossary_path, d)) != ITX_OK)
        goto fail;
    *out = p;
    return ITX_OK;
fail:
    itx_pipeline_free(p);
    return st;
}

void
itx_pipeline_free(struct itx_pipeline *p)
{
    if (!p)
        return;
    itx_ocr_engine_free(p->engine);
    itx_translator_free(p->tr);
    itx_glossary_free(p->glossary);
    itx_free(p);
}

enum itx_status
itx_pipeline_ctx_new(struct itx_pipeline *p, struct itx_pipeline_ctx **out, struct itx_diag *d)
{
    struct itx_pipeline_ctx *c = itx_calloc(1, sizeof(*c));
    enum itx_status st;

    if (!c)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    c->p = p;
    st = itx_ocr_ctx_new(p->engine, p->ocr_threads, &c->ocr, d);
    if (st == ITX_OK)
        st = itx_render_ctx_new(&c->rc, d);
    if (st != ITX_OK) {
        itx_pipeline_ctx_free(c);
        return st;
    }
    *out = c;
    return ITX_OK;
}

enum itx_status
itx_pipeline_ctx_warmup(struct itx_pipeline_ctx *c, struct itx_diag *d)
{
    struct itx_render_layout_opts lo = {.min_size = 9, .max_size = 24};
    struct itx_render_layout lay;
    enum itx_status st;

    if ((st = itx_ocr_ctx_warmup(c->ocr, NULL, d)))
        return st;
    /* The first layout loads the font files and builds the font map's caches. */
    if ((st = itx_render_layout_fit(c->rc, "Warm-up 0123", 240, 32, &lo, &lay, d))) {
        itx_diag_prefix(d, "text layout warm-up");
        return st;
    }
    itx_render_layout_release(&lay);
    return ITX_OK;
}

void
itx_pipeline_ctx_free(struct itx_pipeline_ctx *c)
{
    if (!c)
        return;
    itx_ocr_ctx_free(c->ocr);
    itx_render_ctx_free(c->rc);
    itx_free(c);
}

void
itx_pipeline_result_release(struct itx_pipeline_result *r)
{
    itx_free(r->image);
    itx_free(r->background);
    itx_free(r->regions_json);
    itx_free(r->overlay);
    itx_free(r->mask);
    memset(r, 0, sizeof(*r));
}

/* ---- per-picture state -------------------------------------------------------------------- */

static void
pic_release(struct pl_pic *p)
{
    size_t nb = p->blocks ? p->blocks->n_blocks : 0;
    for (size_t b = 0; b < nb; b++) {
        if (p->source)
            itx_free(p->source[b]);
        if (p->translation)
            itx_free(p->translation[b]);
        if (p->readback)
            itx_free(p->readback[b]);
    }
    itx_free(p->fetched);
    itx_image_free(p->img);
    itx_ocr_result_free(p->ocr);
    itx_free(p->line_skip);
    itx_free(p->keep);
    itx_free(p->lines);
    itx_free(p->styles);
    itx_render_blocks_free(p->blocks);
    itx_free(p->is_list);
    itx_free(p->seg_first);
    itx_free(p->n_seg);
    itx_free(p->source);
    itx_free(p->translation);
    itx_free(p->tr_flags);
    itx_free(p->block_skip);
    itx_image_free(p->bg);
    itx_inpaint_report_free(p->er);
    itx_image_free(p->out);
    itx_render_report_free(p->rr);
    itx_free(p->qa);
    itx_free(p->readback);
    memset(p, 0, sizeof(*p));
}

static enum itx_status
check_cancel(const struct itx_pipeline_opts *o, const char *stage, struct itx_diag *d)
{
    if (o->cancelled && o->cancelled(o->cancel_arg)) {
        enum itx_status st = o->cancel_status ? o->cancel_status(o->cancel_arg) : ITX_ERR_CANCELLED;
        if (st == ITX_OK)
            st = ITX_ERR_CANCELLED;
        return itx_diag_set(d, st, "cancelled before %s", stage);
    }
    return ITX_OK;
}

static const char *
src_name(const struct itx_pipeline_source *s)
{
    return s->name ? s->name : s->url ? s->url : "picture";
}

/* Number of UTF-8 code points. */
static size_t
n_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static float
dist(float x0, float y0, float x1, float y1)
{
    return hypotf(x1 - x0, y1 - y0);
}

/* Fetch and decode, OCR, selection and grouping. */
static enum itx_status
stage_read(struct itx_pipeline_ctx *c, struct pl_pic *p, const struct itx_pipeline_opts *o,
           struct itx_diag *d)
{
    const uint8_t *data = p->src->data;
    size_t len = p->src->len;
    struct itx_ocr_opts oo;
    enum itx_status st;
    double t;

    if (p->src->url) {
        struct itx_fetch_result fr = {0};
        t = itx_now_ms();
        st = itx_fetch(&c->p->fetch, p->src->url, &fr, d);
        p->ms.fetch = itx_now_ms() - t;
        if (st != ITX_OK)
            return st;
        p->fetched = fr.data;
        p->fetched_len = fr.len;
        fr.data = NULL;
        itx_fetch_result_release(&fr);
        data = p->fetched;
        len = p->fetched_len;
    }
    t = itx_now_ms();
    st = itx_image_decode(data, len, o->limits, &p->img, &p->info, d);
    p->ms.decode = itx_now_ms() - t;
    if (st != ITX_OK)
        return itx_diag_prefix(d, "'%s'", src_name(p->src));
    if ((st = check_cancel(o, "ocr", d)) != ITX_OK)
        return st;

    t = itx_now_ms();
    itx_ocr_opts_default(&oo);
    st = itx_ocr_run(c->ocr, p->img, &oo, &p->ocr, d);
    p->ms.ocr = itx_now_ms() - t;
    if (st != ITX_OK)
        return itx_diag_prefix(d, "'%s'", src_name(p->src));

    /* selection: Chinese lines read with enough confidence, nothing that needs no translation */
    size_t n = p->ocr->n_lines;
    p->line_skip = itx_calloc(n + 1, sizeof(*p->line_skip));
    p->keep = itx_calloc(n + 1, sizeof(*p->keep));
    p->lines = itx_calloc(n + 1, sizeof(*p->lines));
    p->styles = itx_calloc(n + 1, sizeof(*p->styles));
    if (!p->line_skip || !p->keep || !p->lines || !p->styles)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct itx_ocr_line *l = &p->ocr->lines[i];
        enum itx_tr_skip sk = itx_tr_protect(l->text, c->p->glossary, o->glossary);
        if (sk == ITX_TR_SKIP_NONE && !(l->flags & ITX_OCR_HAN))
            sk = ITX_TR_SKIP_LATIN_ONLY;
        if (sk == ITX_TR_SKIP_NONE && l->score < o->min_score)
            sk = ITX_TR_SKIP_LOW_CONFIDENCE;
        p->line_skip[i] = sk;
        if (sk != ITX_TR_SKIP_NONE)
            continue;
        struct itx_render_line *rl = &p->lines[p->n_keep];
        memcpy(rl->quad, l->box, sizeof(rl->quad));
        rl->text = l->text;
        rl->vertical = (l->flags & ITX_OCR_VERTICAL) != 0;
        if (itx_render_line_style(p->img, rl->quad, rl->vertical, &p->styles[p->n_keep]) != ITX_OK)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory estimating the style of a line");
        p->keep[p->n_keep++] = i;
    }
    st = itx_render_blocks_group(p->lines, p->styles, p->n_keep, p->img->w, p->img->h, NULL,
                                 &p->blocks, d);
    if (st != ITX_OK)
        return st;

    /* the source text of each block: a list item per line, or one paragraph */
    size_t nb = p->blocks->n_blocks;
    p->is_list = itx_calloc(nb + 1, sizeof(*p->is_list));
    p->seg_first = itx_calloc(nb + 1, sizeof(*p->seg_first));
    p->n_seg = itx_calloc(nb + 1, sizeof(*p->n_seg));
    p->source = itx_calloc(nb + 1, sizeof(*p->source));
    p->translation = itx_calloc(nb + 1, sizeof(*p->translation));
    p->tr_flags = itx_calloc(nb + 1, sizeof(*p->tr_flags));
    p->block_skip = itx_calloc(nb + 1, sizeof(*p->block_skip));
    p->qa = itx_calloc(nb + 1, sizeof(*p->qa));
    p->readback = itx_calloc(nb + 1, sizeof(*p->readback));
    if (!p->is_list || !p->seg_first || !p->n_seg || !p->source || !p->translation ||
        !p->tr_flags || !p->block_skip || !p->qa || !p->readback)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (size_t b = 0; b < nb; b++) {
        const struct itx_render_block *bk = &p->blocks->blocks[b];
        bool short_items = true, ragged = false, list;
        size_t total = 0;
        struct itx_buf s;
        for (size_t k = 0; k < bk->n_lines; k++) {
            const struct itx_render_line *rl = &p->lines[p->blocks->line_idx[bk->first + k]];
            float row = dist(rl->quad[0], rl->quad[1], rl->quad[2], rl->quad[3]);
            short_items = short_items && n_chars(rl->text) <= LIST_ITEM_MAX_CHARS;
            total += strlen(rl->text);
            /* a wrapped paragraph fills every row but the last; ragged rows are items */
            ragged = ragged || (k + 1 < bk->n_lines && row < 0.85f * bk->w);
        }
        list = !bk->vertical && bk->n_lines >= 2 && (short_items || ragged);
        /* a paragraph too long for one segment goes row by row */
        list = list || (bk->n_lines >= 2 && total > ITX_TR_MAX_SEGMENT_BYTES);
        p->is_list[b] = list;
        itx_buf_init(&s, ITX_TR_MAX_SEGMENT_BYTES * 64);
        for (size_t k = 0; k < bk->n_lines; k++) {
            const struct itx_render_line *rl = &p->lines[p->blocks->line_idx[bk->first + k]];
            if (k && list)
                st = itx_buf_putc(&s, '\n');
            if (st == ITX_OK)
                st = itx_buf_puts(&s, rl->text);
            if (st != ITX_OK) {
                itx_buf_release(&s);
                return itx_diag_set(d, st, "block text too long");
            }
        }
        p->source[b] = itx_buf_take(&s, NULL);
        if (!p->source[b])
            p->source[b] = itx_strdup("");
        if (!p->source[b])
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        p->n_seg[b] = list ? bk->n_lines : 1;
    }
    return ITX_OK;
}

/* One provider call for the blocks of every picture. */
static enum itx_status
stage_translate(struct itx_pipeline *pl, struct pl_pic *pics, size_t n,
                const struct itx_pipeline_opts *o, struct itx_diag *d)
{
    size_t n_seg = 0, k = 0;
    struct itx_tr_segment *segs = NULL;
    struct itx_tr_result *res = NULL;
    char **texts = NULL;
    enum itx_status st = ITX_OK;
    bool have_res = false;
    double t = itx_now_ms();

    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < pics[i].blocks->n_blocks; b++)
            n_seg += pics[i].n_seg[b];
    if (n_seg > ITX_TR_MAX_SEGMENTS)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "%zu text segments, over the %u limit of one call", n_seg,
                            ITX_TR_MAX_SEGMENTS);
    segs = itx_calloc(n_seg + 1, sizeof(*segs));
    res = itx_calloc(n_seg + 1, sizeof(*res));
    texts = itx_calloc(n_seg + 1, sizeof(*texts));
    if (!segs || !res || !texts) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct pl_pic *p = &pics[i];
        for (size_t b = 0; b < p->blocks->n_blocks; b++) {
            const struct itx_render_block *bk = &p->blocks->blocks[b];
            p->seg_first[b] = k;
            if (p->is_list[b]) {
                for (size_t j = 0; j < bk->n_lines; j++, k++) {
                    segs[k].id = (int)k + 1;
                    segs[k].text = p->lines[p->blocks->line_idx[bk->first + j]].text;
                }
            } else {
                segs[k].id = (int)k + 1;
                segs[k].text = p->source[b];
                k++;
            }
        }
    }
    if (n_seg) {
        struct itx_tr_request req = {.target = o->target ? o->target : "en",
                                     .segments = segs,
                                     .n_segments = n_seg,
                                     .glossary = o->glossary};
        st = itx_translate(pl->tr, &req, res, NULL, d);
        if (st != ITX_OK)
            goto out;
        have_res = true;
    }
    for (size_t i = 0; i < n; i++) {
        struct pl_pic *p = &pics[i];
        for (size_t b = 0; b < p->blocks->n_blocks; b++) {
            struct itx_buf s;
            bool all_skipped = true;
            itx_buf_init(&s, (size_t)1 << 20);
            for (size_t j = 0; j < p->n_seg[b]; j++) {
                const struct itx_tr_result *r = &res[p->seg_first[b] + j];
                if (j)
                    itx_buf_putc(&s, '\n');
                itx_buf_puts(&s, r->text ? r->text : "");
                p->tr_flags[b] |= r->flags;
                all_skipped = all_skipped && r->skip != ITX_TR_SKIP_NONE;
                if (r->skip != ITX_TR_SKIP_NONE)
                    p->block_skip[b] = r->skip;
            }
            if (!all_skipped)
                p->block_skip[b] = ITX_TR_SKIP_NONE;
            /* a segment left out for memory fails the picture; past the 1 MiB ceiling the
               text is cut below anyway */
            if (itx_buf_error(&s) == ITX_ERR_NOMEM) {
                itx_buf_release(&s);
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory joining a translation");
                goto out;
            }
            /* the renderer draws at most ITX_RENDER_MAX_TEXT bytes: cut longer
               translations at a character boundary rather than fail the picture */
            if (s.len > ITX_RENDER_MAX_TEXT) {
                size_t cut = ITX_RENDER_MAX_TEXT;
                while (cut > 0 && ((unsigned char)s.data[cut] & 0xc0) == 0x80)
                    cut--;
                s.len = cut;
                s.data[cut] = '\0';
            }
            p->translation[b] = itx_buf_take(&s, NULL);
            if (!p->translation[b] && !(p->translation[b] = itx_strdup(""))) {
                st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
    }
out:
    if (have_res)
        itx_tr_results_release(res, n_seg);
    itx_free(res);
    itx_free(segs);
    itx_free(texts);
    for (size_t i = 0; i < n; i++)
        pics[i].ms.translate = (itx_now_ms() - t) / (double)n;
    return st;
}

/*
 * Whether a region needs a person's look: Chinese left, overflow, too small, or low contrast
 * that no outline made up for.
 */
static bool
needs_review(unsigned f)
{
    if (f &
        (ITX_PIPELINE_HAN_LEFT | ITX_RENDER_OVERFLOW | ITX_RENDER_TOO_SMALL | ITX_PIPELINE_OVERLAP))
        return true;
    return (f & ITX_RENDER_LOW_CONTRAST) && !(f & ITX_RENDER_OUTLINED);
}

static void
bbox_of(const float q[8], float bb[4])
{
    bb[0] = bb[2] = q[0];
    bb[1] = bb[3] = q[1];
    for (int k = 1; k < 4; k++) {
        bb[0] = fminf(bb[0], q[2 * k]);
        bb[2] = fmaxf(bb[2], q[2 * k]);
        bb[1] = fminf(bb[1], q[2 * k + 1]);
        bb[3] = fmaxf(bb[3], q[2 * k + 1]);
    }
}

/* How a retry draws: as first, with more growth (overflow), without growth (overlaps). */
enum draw_mode { DRAW_DEFAULT, DRAW_LOOSER, DRAW_NO_GROWTH };

/*
 * Flags drawn texts whose ink boxes overlap (growth avoids the other blocks' source boxes,
 * not what they grew into). Columns and text turned more than 5 degrees are left out: their
 * axis-aligned boxes say little.
 * Returns whether any overlap.
 */
static bool
mark_overlaps(struct pl_pic *p)
{
    size_t nb = p->blocks->n_blocks;
    bool any = false;
    for (size_t a = 0; a < nb; a++)
        for (size_t b = a + 1; b < nb; b++) {
            const struct itx_render_region *ra = &p->rr->regions[a], *rb = &p->rr->regions[b];
            const struct itx_render_block *ba = &p->blocks->blocks[a], *bb = &p->blocks->blocks[b];
            if (ra->size <= 0 || rb->size <= 0 || ba->vertical || bb->vertical ||
                fabsf(ba->angle) > 5 || fabsf(bb->angle) > 5)
                continue;
            float w = fminf(ra->ink[0] + ra->ink[2], rb->ink[0] + rb->ink[2]) -
                      fmaxf(ra->ink[0], rb->ink[0]);
            float h = fminf(ra->ink[1] + ra->ink[3], rb->ink[1] + rb->ink[3]) -
                      fmaxf(ra->ink[1], rb->ink[1]);
            if (w > 2 && h > 2) {
                p->qa[a] |= ITX_PIPELINE_OVERLAP;
                p->qa[b] |= ITX_PIPELINE_OVERLAP;
                any = true;
            }
        }
    return any;
}

/* Erase (with stronger settings on a retry) and draw. */
static enum itx_status
erase_draw(struct itx_pipeline_ctx *c, struct pl_pic *p, const struct itx_pipeline_opts *o,
           bool erase_harder, enum draw_mode mode, struct itx_diag *d)
{
    struct itx_inpaint_opts io;
    struct itx_render_opts ro;
    struct itx_render_item *items = NULL;
    size_t nb = p->blocks->n_blocks;
    enum itx_status st;
    double t = itx_now_ms();

    if (erase_harder || !p->bg) {
        itx_inpaint_opts_default(&io);
        if (erase_harder) {
            io.max_passes = 4;
            io.margin *= 2;
            io.ring *= 1.5f;
        }
        itx_image_free(p->bg);
        itx_inpaint_report_free(p->er);
        p->bg = NULL;
        p->er = NULL;
        st = itx_inpaint_erase(p->img, p->lines, p->n_keep, p->blocks, &io, &p->bg, &p->er, d);
        p->ms.erase += itx_now_ms() - t;
        if (st != ITX_OK)
            return st;
    }
    t = itx_now_ms();
    itx_render_opts_default(&ro);
    if (mode == DRAW_LOOSER) {
        ro.grow *= 2;
        ro.min_size = fmaxf(7, ro.min_size - 2);
    }
    items = itx_calloc(nb + 1, sizeof(*items));
    if (!items)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (size_t b = 0; b < nb; b++) {
        const struct itx_inpaint_block_report *eb = &p->er->blocks[b];
        bool later = mode == DRAW_NO_GROWTH && (p->qa[b] & ITX_PIPELINE_OVERLAP);
        items[b].block = b;
        items[b].text = later ? "" : p->translation[b];
        items[b].lang = o->target;
        memcpy(items[b].color,
               eb->fill != ITX_INPAINT_FILL_NONE ? eb->text : p->blocks->blocks[b].style.color, 3);
        items[b].has_outline = eb->has_outline;
        memcpy(items[b].outline, eb->outline, 3);
    }
    itx_image_free(p->out);
    itx_render_report_free(p->rr);
    p->out = NULL;
    p->rr = NULL;
    st = itx_render_draw(c->rc, p->bg, p->blocks, items, nb, &ro, &p->out, &p->rr, d);
    if (st == ITX_OK && mode == DRAW_NO_GROWTH) {
        /*
         * The overlapping blocks are drawn afterwards, without growth, over the others (so
         * the rest keep the size they had); their regions replace the empty ones.
         */
        struct itx_image *out2 = NULL;
        struct itx_render_report *rr2 = NULL;
        for (size_t b = 0; b < nb; b++)
            items[b].text = (p->qa[b] & ITX_PIPELINE_OVERLAP) ? p->translation[b] : "";
        ro.grow = 0;
        ro.min_size = fmaxf(7, ro.min_size - 2);
        st = itx_render_draw(c->rc, p->out, p->blocks, items, nb, &ro, &out2, &rr2, d);
        if (st == ITX_OK) {
            for (size_t b = 0; b < nb; b++)
                if (p->qa[b] & ITX_PIPELINE_OVERLAP)
                    p->rr->regions[b] = rr2->regions[b];
            p->rr->layout_ms += rr2->layout_ms;
            p->rr->draw_ms += rr2->draw_ms;
            itx_image_free(p->out);
            p->out = out2;
        }
        itx_render_report_free(rr2);
    }
    itx_free(items);
    p->ms.render += itx_now_ms() - t;
    return st;
}

/*
 * Reads the drawn picture: a block whose area holds a line with Chinese is flagged
 * HAN_LEFT; the other lines in it are its read-back text. Returns whether any block needs
 * erasing again (*han) or drawing looser (*overflow).
 */
static enum itx_status
qa_check(struct itx_pipeline_ctx *c, struct pl_pic *p, bool *han, bool *overflow,
         struct itx_diag *d)
{
    struct itx_ocr_result *r = NULL;
    size_t nb = p->blocks->n_blocks;
    double t = itx_now_ms();
    enum itx_status st = itx_ocr_run(c->ocr, p->out, NULL, &r, d);

    p->ms.qa += itx_now_ms() - t;
    if (st != ITX_OK)
        return st;
    *han = *overflow = false;
    for (size_t b = 0; b < nb; b++) {
        const struct itx_render_region *rg = &p->rr->regions[b];
        float a[4], q[4];
        struct itx_buf s;
        unsigned keep = p->qa[b] & ITX_PIPELINE_RETRIED;
        bbox_of(p->blocks->blocks[b].quad, a);
        bbox_of(rg->quad, q);
        a[0] = fminf(a[0], q[0]), a[1] = fminf(a[1], q[1]);
        a[2] = fmaxf(a[2], q[2]), a[3] = fmaxf(a[3], q[3]);
        p->qa[b] = keep | (rg->flags & (ITX_RENDER_OVERFLOW | ITX_RENDER_TOO_SMALL |
                                        ITX_RENDER_LOW_CONTRAST | ITX_RENDER_OUTLINED));
        itx_buf_init(&s, ITX_RENDER_MAX_TEXT);
        for (size_t i = 0; i < r->n_lines; i++) {
            const struct itx_ocr_line *l = &r->lines[i];
            float cx = (l->box[0] + l->box[2] + l->box[4] + l->box[6]) / 4;
            float cy = (l->box[1] + l->box[3] + l->box[5] + l->box[7]) / 4;
            if (cx < a[0] || cx > a[2] || cy < a[1] || cy > a[3])
                continue;
            if (l->flags & ITX_OCR_HAN) {
                p->qa[b] |= ITX_PIPELINE_HAN_LEFT;
                continue;
            }
            if (s.len)
                itx_buf_putc(&s, '\n');
            itx_buf_puts(&s, l->text);
        }
        /* a line left out for memory would let a check pass on less than was drawn; past
           the ITX_RENDER_MAX_TEXT ceiling the read-back is cut, as before */
        if (itx_buf_error(&s) == ITX_ERR_NOMEM) {
            itx_buf_release(&s);
            itx_ocr_result_free(r);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading back the drawn text");
        }
        itx_free(p->readback[b]);
        p->readback[b] = itx_buf_take(&s, NULL);
        if (p->translation[b][0] == '\0' || p->block_skip[b] != ITX_TR_SKIP_NONE)
            p->qa[b] &= ~ITX_PIPELINE_HAN_LEFT; /* nothing was meant to replace it */
        *han = *han || (p->qa[b] & ITX_PIPELINE_HAN_LEFT);
        *overflow = *overflow || (p->qa[b] & ITX_RENDER_OVERFLOW);
    }
    itx_ocr_result_free(r);
    return ITX_OK;
}

/* Tints the mask red and outlines boxes: green translated, blue skipped, red flagged. */
static void
overlay_line(struct itx_image *img, float x0, float y0, float x1, float y1, const uint8_t rgb[3])
{
    int n = (int)fmaxf(1, fmaxf(fabsf(x1 - x0), fabsf(y1 - y0)));
    if (n > 100000)
        return;
    for (int i = 0; i <= n; i++) {
        float t = (float)i / (float)n;
        int x = (int)lroundf(x0 + (x1 - x0) * t), y = (int)lroundf(y0 + (y1 - y0) * t);
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++)
                if (x + dx >= 0 && y + dy >= 0 && x + dx < img->w && y + dy < img->h)
                    memcpy(itx_image_at(img, x + dx, y + dy), rgb, 3);
    }
}

static void
overlay_quad(struct itx_image *img, const float q[8], const uint8_t rgb[3])
{
    for (int k = 0; k < 4; k++)
        overlay_line(img, q[2 * k], q[2 * k + 1], q[(2 * k + 2) % 8], q[(2 * k + 3) % 8], rgb);
}

static enum itx_status
make_overlay(const struct pl_pic *p, uint8_t **out, size_t *len, struct itx_diag *d)
{
    static const uint8_t green[3] = {0, 200, 0}, blue[3] = {30, 90, 255}, red[3] = {255, 0, 0},
                         orange[3] = {255, 160, 0};
    struct itx_image *img = itx_image_clone(p->out);
    enum itx_status st;

    if (!img)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    if (p->er && p->er->mask)
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++)
                if (*itx_image_at(p->er->mask, x, y)) {
                    uint8_t *px = itx_image_at(img, x, y);
                    px[0] = (uint8_t)((px[0] + 255) / 2);
                    px[1] = (uint8_t)(px[1] / 2);
                    px[2] = (uint8_t)(px[2] / 2);
                }
    for (size_t i = 0; i < p->ocr->n_lines; i++)
        if (p->line_skip[i] != ITX_TR_SKIP_NONE)
            overlay_quad(img, p->ocr->lines[i].box, blue);
    for (size_t b = 0; b < p->blocks->n_blocks; b++) {
        unsigned f = p->qa[b];
        bool bad = f & (ITX_PIPELINE_HAN_LEFT | ITX_RENDER_OVERFLOW | ITX_PIPELINE_OVERLAP);
        bool warn = needs_review(f);
        overlay_quad(img, p->blocks->blocks[b].quad, green);
        if (p->rr)
            overlay_quad(img, p->rr->regions[b].quad, bad ? red : warn ? orange : green);
    }
    st = itx_image_encode(img, ITX_IMAGE_FORMAT_PNG, 0, out, len, d);
    itx_image_free(img);
    return st;
}

static enum itx_status
stage_finish(struct itx_pipeline_ctx *c, struct pl_pic *p, const struct itx_pipeline_opts *o,
             struct itx_pipeline_result *res, struct itx_diag *d)
{
    struct itx_pipeline_result r = {0};
    struct itx_buf js;
    bool han = false, overflow = false;
    enum itx_status st;
    double t;
    size_t nb = p->blocks->n_blocks;

    if ((st = check_cancel(o, "erase", d)) != ITX_OK)
        return st;
    if ((st = erase_draw(c, p, o, false, DRAW_DEFAULT, d)) != ITX_OK)
        return st;
    if (!o->no_qa && nb) {
        bool overlap;
        if ((st = check_cancel(o, "qa", d)) != ITX_OK)
            return st;
        if ((st = qa_check(c, p, &han, &overflow, d)) != ITX_OK)
            return st;
        overlap = mark_overlaps(p);
        if (han || overflow || overlap) {
            for (size_t b = 0; b < nb; b++)
                if (p->qa[b] & (ITX_PIPELINE_HAN_LEFT | ITX_RENDER_OVERFLOW | ITX_PIPELINE_OVERLAP))
                    p->qa[b] |= ITX_PIPELINE_RETRIED;
            if ((st = erase_draw(c, p, o, han,
                                 overlap    ? DRAW_NO_GROWTH
                                 : overflow ? DRAW_LOOSER
                                            : DRAW_DEFAULT,
                                 d)) != ITX_OK)
                return st;
            if ((st = qa_check(c, p, &han, &overflow, d)) != ITX_OK)
                return st;
            mark_overlaps(p);
        }
    } else {
        for (size_t b = 0; b < nb; b++)
            p->qa[b] = p->rr->regions[b].flags & (ITX_RENDER_OVERFLOW | ITX_RENDER_TOO_SMALL |
                                                  ITX_RENDER_LOW_CONTRAST | ITX_RENDER_OUTLINED);
        mark_overlaps(p);
    }
    if ((st = check_cancel(o, "encode", d)) != ITX_OK)
        return st;

    t = itx_now_ms();
    r.format =
        o->format != ITX_IMAGE_FORMAT_UNKNOWN ? o->format : itx_image_output_format(p->info.format);
    st = itx_image_encode(p->out, r.format, o->quality, &r.image, &r.image_len, d);
    if (st == ITX_OK)
        st = itx_image_encode(p->bg, ITX_IMAGE_FORMAT_PNG, 0, &r.background, &r.background_len, d);
    if (st == ITX_OK && o->debug)
        st = make_overlay(p, &r.overlay, &r.overlay_len, d);
    if (st == ITX_OK && o->debug && p->er && p->er->mask)
        st = itx_image_encode(p->er->mask, ITX_IMAGE_FORMAT_PNG, 0, &r.mask, &r.mask_len, d);
    else if (st == ITX_OK && o->debug) {
        /* nothing was erased: an all-zero mask */
        struct itx_image *z = itx_image_new(p->img->w, p->img->h, 1);
        st = z ? itx_image_encode(z, ITX_IMAGE_FORMAT_PNG, 0, &r.mask, &r.mask_len, d)
               : itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        itx_image_free(z);
    }
    p->ms.encode = itx_now_ms() - t;
    if (st != ITX_OK)
        goto fail;
    r.width = p->img->w;
    r.height = p->img->h;
    for (size_t i = 0; i < p->ocr->n_lines; i++)
        r.n_skipped += p->line_skip[i] != ITX_TR_SKIP_NONE;
    for (size_t b = 0; b < nb; b++) {
        if (p->block_skip[b] != ITX_TR_SKIP_NONE)
            r.n_skipped++;
        else
            r.n_translated++;
        r.n_flagged += needs_review(p->qa[b]);
    }
    r.n_regions = r.n_translated + r.n_skipped;
    r.ms = p->ms;
    itx_buf_init(&js, (size_t)64 << 20);
    st = itx_pl_regions_json(p, o, c->p->provider, &js, d);
    if (st != ITX_OK) {
        itx_buf_release(&js);
        goto fail;
    }
    r.regions_json = itx_buf_take(&js, &r.regions_len);
    *res = r;
    return ITX_OK;
fail:
    itx_pipeline_result_release(&r);
    return st;
}

/* ---- the phases -------------------------------------------------------------------------- */

/* Pictures between itx_pipeline_begin and itx_pipeline_finish: owns everything they point
 * into (sources copied, images, OCR results, texts), nothing of a context. */
struct itx_pipeline_state {
    struct itx_pipeline *p;
    size_t n;
    struct itx_pipeline_source src[ITX_PIPELINE_MAX_GROUP];
    struct pl_pic pics[ITX_PIPELINE_MAX_GROUP];
    double t0;
    bool translated;
};

void
itx_pipeline_state_free(struct itx_pipeline_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        pic_release(&s->pics[i]);
    itx_free(s);
}

enum itx_status
itx_pipeline_begin(struct itx_pipeline_ctx *c, const struct itx_pipeline_source *src, size_t n,
                   const struct itx_pipeline_opts *o, struct itx_pipeline_state **out,
                   struct itx_diag *d)
{
    struct itx_pipeline_opts def;
    struct itx_pipeline_state *s;
    enum itx_status st = ITX_OK;

    *out = NULL;
    if (!o) {
        itx_pipeline_opts_default(&def);
        o = &def;
    }
    if (n == 0 || n > ITX_PIPELINE_MAX_GROUP)
        return itx_diag_set(d, ITX_ERR_INVALID, "%zu pictures in a group, allowed 1 to %d", n,
                            ITX_PIPELINE_MAX_GROUP);
    for (size_t i = 0; i < n; i++)
        if (!src[i].url && !src[i].data)
            return itx_diag_set(d, ITX_ERR_INVALID, "source %zu has neither data nor a URL", i);
    if (!(s = itx_calloc(1, sizeof(*s))))
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    s->p = c->p;
    s->n = n;
    s->t0 = itx_now_ms();
    for (size_t i = 0; i < n && st == ITX_OK; i++) {
        s->src[i] = src[i];
        s->pics[i].src = &s->src[i];
        if ((st = check_cancel(o, "decode", d)) == ITX_OK)
            st = stage_read(c, &s->pics[i], o, d);
    }
    if (st != ITX_OK) {
        itx_pipeline_state_free(s);
        return st;
    }
    *out = s;
    return ITX_OK;
}

bool
itx_pipeline_translate_waits(const struct itx_pipeline *p)
{
    return strcmp(p->provider, itx_tr_provider_str(ITX_TR_DICT)) != 0;
}

enum itx_status
itx_pipeline_translate(struct itx_pipeline *p, struct itx_pipeline_state *s,
                       const struct itx_pipeline_opts *o, struct itx_diag *d)
{
    struct itx_pipeline_opts def;
    enum itx_status st;

    if (!o) {
        itx_pipeline_opts_default(&def);
        o = &def;
    }
    if (s->translated || s->p != p)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s",
                            s->translated ? "translated already" : "state of another pipeline");
    if ((st = check_cancel(o, "translate", d)) != ITX_OK)
        return st;
    if ((st = stage_translate(p, s->pics, s->n, o, d)) != ITX_OK)
        return st;
    s->translated = true;
    return ITX_OK;
}

enum itx_status
itx_pipeline_finish(struct itx_pipeline_ctx *c, struct itx_pipeline_state *s,
                    const struct itx_pipeline_opts *o, struct itx_pipeline_result *res,
                    struct itx_diag *d)
{
    struct itx_pipeline_result tmp[ITX_PIPELINE_MAX_GROUP];
    struct itx_pipeline_opts def;
    enum itx_status st = ITX_OK;
    size_t done;

    if (!o) {
        itx_pipeline_opts_default(&def);
        o = &def;
    }
    if (!s->translated || s->p != c->p)
        return itx_diag_set(d, ITX_ERR_INVALID, "%s",
                            !s->translated ? "not translated yet" : "state of another pipeline");
    memset(tmp, 0, sizeof(tmp));
    for (done = 0; done < s->n && st == ITX_OK; done++)
        st = stage_finish(c, &s->pics[done], o, &tmp[done], d);
    if (st != ITX_OK) {
        for (size_t i = 0; i < done; i++)
            itx_pipeline_result_release(&tmp[i]);
        return st;
    }
    double total = itx_now_ms() - s->t0;
    for (size_t i = 0; i < s->n; i++) {
        tmp[i].ms.total = total / (double)s->n;
        res[i] = tmp[i];
    }
    return ITX_OK;
}

enum itx_status
itx_pipeline_run_group(struct itx_pipeline_ctx *c, const struct itx_pipeline_source *src, size_t n,
                       const struct itx_pipeline_opts *o, struct itx_pipeline_result *res,
                       struct itx_diag *d)
{
    struct itx_pipeline_state *s = NULL;
    enum itx_status st = itx_pipeline_begin(c, src, n, o, &s, d);

    if (st == ITX_OK)
        st = itx_pipeline_translate(c->p, s, o, d);
    if (st == ITX_OK)
        st = itx_pipeline_finish(c, s, o, res, d);
    itx_pipeline_state_free(s);
    return st;
}

enum itx_status
itx_pipeline_run(struct itx_pipeline_ctx *c, const struct itx_pipeline_source *src,
                 const struct itx_pipeline_opts *o, struct itx_pipeline_result *res,
                 struct itx_diag *d)
{
    return itx_pipeline_run_group(c, src, 1, o, res, d);
}
