/*
 * The regions JSON: written after a run, read back (perhaps edited) by itx_pipeline_redraw.
 * The format is in docs/pipeline.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "pipeline/pipeline-impl.h"

static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {
    {ITX_RENDER_OVERFLOW, "overflow"},         {ITX_RENDER_TOO_SMALL, "too_small"},
    {ITX_RENDER_LOW_CONTRAST, "low_contrast"}, {ITX_RENDER_OUTLINED, "outlined"},
    {ITX_RENDER_ROTATED, "rotated"},           {ITX_RENDER_GREW, "grew"},
    {ITX_RENDER_BROKE_WORD, "broke_word"},     {ITX_PIPELINE_HAN_LEFT, "han_left"},
    {ITX_PIPELINE_RETRIED, "retried"},         {ITX_PIPELINE_OVERLAP, "overlap"},
};

static const struct {
    unsigned bit;
    const char *name;
} tr_flag_names[] = {
    {ITX_TR_FLAG_FALLBACK_DICT, "fallback_dict"},
    {ITX_TR_FLAG_CACHED, "cached"},
    {ITX_TR_FLAG_RETRIED, "retried"},
    {ITX_TR_FLAG_PARTIAL, "partial"},
};

static const char *const align_names[] = {"left", "centre", "right"};

static void
put_f(struct itx_buf *b, double v)
{
    if (!isfinite(v))
        v = 0;
    if (v == (double)(long)v)
        itx_buf_printf(b, "%ld", (long)v);
    else
        itx_buf_printf(b, "%.2f", v);
}

static void
put_quad(struct itx_buf *b, const float q[8])
{
    itx_buf_putc(b, '[');
    for (int k = 0; k < 8; k++) {
        if (k)
            itx_buf_puts(b, ", ");
        put_f(b, (double)q[k]);
    }
    itx_buf_putc(b, ']');
}

static void
put_rgb(struct itx_buf *b, const uint8_t c[3])
{
    itx_buf_printf(b, "\"#%02x%02x%02x\"", c[0], c[1], c[2]);
}

enum itx_status
itx_pl_regions_json(const struct pl_pic *p, const struct itx_pipeline_opts *o, const char *provider,
                    struct itx_buf *b, struct itx_diag *d)
{
    const struct itx_render_blocks *bl = p->blocks;
    bool first = true;
    enum itx_status st;
    json_t *check;
    json_error_t jerr;

    itx_buf_printf(b, "{\n  \"version\": 1,\n  \"width\": %d,\n  \"height\": %d,\n", p->img->w,
                   p->img->h);
    itx_buf_printf(b,
                   "  \"format\": \"%s\",\n  \"target\": ", itx_image_format_name(p->info.format));
    itx_buf_json_str(b, o->target ? o->target : "en");
    itx_buf_puts(b, ",\n  \"provider\": ");
    itx_buf_json_str(b, provider);
    itx_buf_puts(b, ",\n  \"timings_ms\": {");
    itx_buf_printf(b,
                   "\"fetch\": %.1f, \"decode\": %.1f, \"ocr\": %.1f, \"translate\": %.1f, "
                   "\"erase\": %.1f, \"render\": %.1f, \"qa\": %.1f, \"encode\": %.1f",
                   p->ms.fetch, p->ms.decode, p->ms.ocr, p->ms.translate, p->ms.erase, p->ms.render,
                   p->ms.qa, p->ms.encode);
    itx_buf_puts(b, "},\n  \"regions\": [");
    for (size_t i = 0; i < bl->n_blocks; i++) {
        const struct itx_render_block *bk = &bl->blocks[i];
        const struct itx_inpaint_block_report *eb = &p->er->blocks[i];
        const struct itx_render_region *rg = &p->rr->regions[i];
        unsigned f = p->qa[i] | rg->flags;
        bool ff = true;
        itx_buf_printf(b, "%s\n    {\"id\": %zu, \"block\": %zu, \"group\": %d, \"source\": ",
                       first ? "" : ",", i, i, bk->group);
        first = false;
        itx_buf_json_str(b, p->source[i]);
        itx_buf_puts(b, ", \"translation\": ");
        itx_buf_json_str(b, p->translation[i]);
        itx_buf_printf(b, ", \"skip\": \"%s\", \"list\": %s,\n     \"quad\": ",
                       itx_tr_skip_str(p->block_skip[i]), p->is_list[i] ? "true" : "false");
        put_quad(b, bk->quad);
        itx_buf_puts(b, ", \"draw_quad\": ");
        put_quad(b, rg->quad);
        itx_buf_puts(b, ", \"ink\": [");
        for (int k = 0; k < 4; k++) {
            if (k)
                itx_buf_puts(b, ", ");
            put_f(b, (double)rg->ink[k]);
        }
        itx_buf_printf(b, "], \"outline_width\": ");
        put_f(b, (double)rg->outline_width);
        itx_buf_puts(b, ",\n     \"box\": {\"cx\": ");
        put_f(b, (double)bk->cx);
        itx_buf_puts(b, ", \"cy\": ");
        put_f(b, (double)bk->cy);
        itx_buf_puts(b, ", \"w\": ");
        put_f(b, (double)bk->w);
        itx_buf_puts(b, ", \"h\": ");
        put_f(b, (double)bk->h);
        itx_buf_puts(b, ", \"angle\": ");
        put_f(b, (double)bk->angle);
        itx_buf_printf(b, "}, \"vertical\": %s, \"align\": \"%s\", \"n_lines\": %zu,\n",
                       bk->vertical ? "true" : "false", align_names[bk->align], bk->n_lines);
        itx_buf_puts(b, "     \"lines\": [");
        for (size_t k = 0; k < bk->n_lines; k++) {
            size_t li = bl->line_idx[bk->first + k];
            const struct itx_ocr_line *ol = &p->ocr->lines[p->keep[li]];
            itx_buf_printf(b, "%s{\"text\": ", k ? ", " : "");
            itx_buf_json_str(b, ol->text);
            itx_buf_puts(b, ", \"quad\": ");
            put_quad(b, ol->box);
            itx_buf_printf(b, ", \"score\": %.3f}", (double)ol->score);
        }
        itx_buf_puts(b, "],\n     \"color\": ");
        put_rgb(b, rg->color);
        itx_buf_puts(b, ", \"outline\": ");
        if (rg->flags & ITX_RENDER_OUTLINED)
            put_rgb(b, rg->outline);
        else
            itx_buf_puts(b, "null");
        itx_buf_puts(b, ", \"background\": ");
        put_rgb(b, eb->fill != ITX_INPAINT_FILL_NONE ? eb->bg : bk->style.bg);
        itx_buf_puts(b, ", \"source_outline\": ");
        if (eb->has_outline)
            put_rgb(b, eb->outline);
        else
            itx_buf_puts(b, "null");
        itx_buf_puts(b, ",\n     \"font\": ");
        itx_buf_json_str(b, rg->font ? rg->font : "");
        itx_buf_puts(b, ", \"font_size\": ");
        put_f(b, (double)rg->size);
        itx_buf_puts(b, ", \"source_size\": ");
        put_f(b, (double)bk->style.size);
        itx_buf_printf(b, ", \"bold\": %s, \"n_drawn_lines\": %d, \"contrast\": ",
                       bk->style.bold ? "true" : "false", rg->n_lines);
        put_f(b, (double)rg->contrast);
        itx_buf_printf(b, ", \"fill\": \"%s\", \"mask_pixels\": %zu, \"leftover_pixels\": %zu,\n",
                       itx_inpaint_fill_name(eb->fill), eb->n_mask, eb->n_leftover);
        itx_buf_puts(b, "     \"flags\": [");
        for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
            if (f & flag_names[k].bit) {
                itx_buf_printf(b, "%s\"%s\"", ff ? "" : ", ", flag_names[k].name);
                ff = false;
            }
        itx_buf_puts(b, "], \"tr_flags\": [");
        ff = true;
        for (size_t k = 0; k < sizeof(tr_flag_names) / sizeof(tr_flag_names[0]); k++)
            if (p->tr_flags[i] & tr_flag_names[k].bit) {
                itx_buf_printf(b, "%s\"%s\"", ff ? "" : ", ", tr_flag_names[k].name);
                ff = false;
            }
        itx_buf_puts(b, "], \"readback\": ");
        if (p->readback[i])
            itx_buf_json_str(b, p->readback[i]);
        else
            itx_buf_puts(b, "null");
        itx_buf_puts(b, "}");
    }
    for (size_t i = 0; i < p->ocr->n_lines; i++) {
        const struct itx_ocr_line *ol = &p->ocr->lines[i];
        if (p->line_skip[i] == ITX_TR_SKIP_NONE)
            continue;
        itx_buf_printf(b, "%s\n    {\"id\": %zu, \"block\": -1, \"source\": ", first ? "" : ",",
                       bl->n_blocks + i);
        first = false;
        itx_buf_json_str(b, ol->text);
        itx_buf_puts(b, ", \"translation\": ");
        itx_buf_json_str(b, ol->text);
        itx_buf_printf(b, ", \"skip\": \"%s\", \"quad\": ", itx_tr_skip_str(p->line_skip[i]));
        put_quad(b, ol->box);
        itx_buf_printf(b, ", \"score\": %.3f, \"flags\": []}", (double)ol->score);
    }
    itx_buf_puts(b, "\n  ]\n}\n");
    /* The appends above are not checked one by one: the buffer remembers the first that
     * failed, which left a piece out even when the later ones succeeded. */
    st = itx_buf_error(b);
    if (st == ITX_ERR_TOO_LARGE)
        return itx_diag_set(d, st, "regions JSON over %zu bytes", b->max);
    if (st == ITX_ERR_NOMEM)
        return itx_diag_set(d, st, "out of memory writing the regions JSON");
    if (st != ITX_OK)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot write the regions JSON: %s",
                            itx_err_str(st));
    /* What is read back must parse: a writer bug (or text that is not UTF-8) stops here. */
    if ((check = json_loadb(b->data, b->len, 0, &jerr)) == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory checking the regions JSON");
        return itx_diag_set(d, ITX_ERR_INTERNAL, "the regions JSON does not parse: %s (byte %d)",
                            jerr.text, jerr.position);
    }
    json_decref(check);
    return ITX_OK;
}

/* ---- redraw ------------------------------------------------------------------------------ */

static enum itx_status
get_num(json_t *obj, const char *key, float lo, float hi, float *out, size_t id, struct itx_diag *d)
{
    json_t *v = json_object_get(obj, key);
    double x;
    if (!json_is_number(v))
        return itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"%s\" is missing or not a number", id,
                            key);
    x = json_number_value(v);
    if (!isfinite(x) || x < (double)lo || x > (double)hi)
        return itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"%s\" is %g, outside %g..%g", id, key,
                            x, (double)lo, (double)hi);
    *out = (float)x;
    return ITX_OK;
}

static enum itx_status
get_rgb(json_t *obj, const char *key, uint8_t out[3], bool *present, size_t id, struct itx_diag *d)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    unsigned r, g, bl;
    char end;
    if (present)
        *present = false;
    if (!v || json_is_null(v)) {
        if (present)
            return ITX_OK;
        return itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"%s\" is missing", id, key);
    }
    s = json_string_value(v);
    if (!s || strlen(s) != 7 || sscanf(s, "#%2x%2x%2x%c", &r, &g, &bl, &end) != 3)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "region %zu: \"%s\" must be a colour like \"#1a2b3c\"", id, key);
    out[0] = (uint8_t)r;
    out[1] = (uint8_t)g;
    out[2] = (uint8_t)bl;
    if (present)
        *present = true;
    return ITX_OK;
}

enum itx_status
itx_pipeline_redraw(struct itx_render_ctx *rc, const struct itx_image *bg, const char *json,
                    size_t json_len, struct itx_image **out, struct itx_diag *d)
{
    json_t *root = NULL, *regions;
    json_error_t je;
    struct itx_render_blocks blocks = {0};
    struct itx_render_item *items = NULL;
    struct itx_render_report *rr = NULL;
    enum itx_status st = ITX_OK;
    size_t n = 0, nr;
    float lim = (float)(4 * (bg->w > bg->h ? bg->w : bg->h)) + 1000;

    if (json_len > ITX_PIPELINE_MAX_REGIONS_JSON)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "regions JSON is %zu bytes, over the %zu limit",
                            json_len, ITX_PIPELINE_MAX_REGIONS_JSON);
    root = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return itx_diag_set(d, ITX_ERR_INVALID, "regions JSON, line %d: %s", je.line, je.text);
    regions = json_object_get(root, "regions");
    if (!json_is_array(regions)) {
        st = itx_diag_set(d, ITX_ERR_INVALID, "regions JSON has no \"regions\" array");
        goto out;
    }
    nr = json_array_size(regions);
    if (nr > ITX_PIPELINE_MAX_REGIONS) {
        st = itx_diag_set(d, ITX_ERR_TOO_LARGE, "%zu regions, over the %d limit", nr,
                          ITX_PIPELINE_MAX_REGIONS);
        goto out;
    }
    blocks.blocks = itx_calloc(nr + 1, sizeof(*blocks.blocks));
    /* every block points at line 0: drawing reads only the blocks' own fields */
    blocks.line_idx = itx_calloc(10001, sizeof(*blocks.line_idx));
    items = itx_calloc(nr + 1, sizeof(*items));
    if (!blocks.blocks || !blocks.line_idx || !items) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nr; i++) {
        json_t *r = json_array_get(regions, i), *v, *box, *quad;
        struct itx_render_block *bk = &blocks.blocks[n];
        struct itx_render_item *it = &items[n];
        float size, nl = 1, grp = 0;
        const char *al;
        if (!json_is_object(r)) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "region %zu is not an object", i);
            goto out;
        }
        v = json_object_get(r, "block");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            continue; /* a skipped line: nothing to draw */
        v = json_object_get(r, "translation");
        if (!json_is_string(v)) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"translation\" is not a string", i);
            goto out;
        }
        if (json_string_length(v) > ITX_RENDER_MAX_TEXT) {
            st = itx_diag_set(d, ITX_ERR_TOO_LARGE,
                              "region %zu: translation is %zu bytes, over the %d limit", i,
                              json_string_length(v), ITX_RENDER_MAX_TEXT);
            goto out;
        }
        it->text = json_string_value(v);
        box = json_object_get(r, "box");
        quad = json_object_get(r, "quad");
        if (!json_is_object(box)) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"box\" is not an object", i);
            goto out;
        }
        if ((st = get_num(box, "cx", -lim, lim, &bk->cx, i, d)) ||
            (st = get_num(box, "cy", -lim, lim, &bk->cy, i, d)) ||
            (st = get_num(box, "w", 0, lim, &bk->w, i, d)) ||
            (st = get_num(box, "h", 0, lim, &bk->h, i, d)) ||
            (st = get_num(box, "angle", -360, 360, &bk->angle, i, d)) ||
            (st = get_num(r, "source_size", 1, ITX_RENDER_MAX_SIZE, &bk->style.size, i, d)) ||
            (st = get_num(r, "font_size", 0, ITX_RENDER_MAX_SIZE, &size, i, d)))
            goto out;
        /* the text is drawn about the box's centre, which must lie on the background */
        if (bk->cx < 0 || bk->cy < 0 || bk->cx > (float)(bg->w - 1) ||
            bk->cy > (float)(bg->h - 1)) {
            st = itx_diag_set(d, ITX_ERR_INVALID,
                              "region %zu: box centre (%g, %g) outside the %dx%d background", i,
                              (double)bk->cx, (double)bk->cy, bg->w, bg->h);
            goto out;
        }
        if (json_object_get(r, "n_lines") &&
            (st = get_num(r, "n_lines", 1, 10000, &nl, i, d)) != ITX_OK)
            goto out;
        if (json_object_get(r, "group") &&
            (st = get_num(r, "group", 0, 1e6f, &grp, i, d)) != ITX_OK)
            goto out;
        if (!json_is_array(quad) || json_array_size(quad) != 8) {
            st = itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"quad\" is not 8 numbers", i);
            goto out;
        }
        for (size_t k = 0; k < 8; k++) {
            json_t *q = json_array_get(quad, k);
            double x = json_number_value(q);
            if (!json_is_number(q) || !isfinite(x) || fabs(x) > (double)lim) {
                st = itx_diag_set(d, ITX_ERR_INVALID, "region %zu: \"quad\" is not 8 numbers", i);
                goto out;
            }
            bk->quad[k] = (float)x;
        }
        /* an edited font size caps the size drawn */
        if (size > 0)
            bk->style.size = size;
        bk->n_lines = (size_t)nl;
        bk->first = 0;
        bk->group = (int)grp;
        bk->vertical = json_is_true(json_object_get(r, "vertical"));
        bk->style.bold = json_is_true(json_object_get(r, "bold"));
        al = json_string_value(json_object_get(r, "align"));
        bk->align = !al || !strcmp(al, "left") ? ITX_RENDER_ALIGN_LEFT
                    : !strcmp(al, "right")     ? ITX_RENDER_ALIGN_RIGHT
                                               : ITX_RENDER_ALIGN_CENTRE;
        if ((st = get_rgb(r, "color", it->color, NULL, i, d)) != ITX_OK ||
            (st = get_rgb(r, "background", bk->style.bg, NULL, i, d)) != ITX_OK ||
            (st = get_rgb(r, "source_outline", it->outline, &it->has_outline, i, d)) != ITX_OK)
            goto out;
        memcpy(bk->style.color, it->color, 3);
        it->block = n;
        it->lang = json_string_value(json_object_get(root, "target"));
        n++;
    }
    blocks.n_blocks = n;
    for (size_t b = 0; b < n; b++)
        blocks.n_groups = blocks.blocks[b].group + 1 > blocks.n_groups ? blocks.blocks[b].group + 1
                                                                       : blocks.n_groups;
    /* the sizes were already settled per group; keep each region's own */
    {
        struct itx_render_opts ro;
        itx_render_opts_default(&ro);
        ro.same_size_per_group = false;
        st = itx_render_draw(rc, bg, &blocks, items, n, &ro, out, &rr, d);
    }
out:
    itx_render_report_free(rr);
    itx_free(blocks.blocks);
    itx_free(blocks.line_idx);
    itx_free(items);
    json_decref(root);
    return st;
}
