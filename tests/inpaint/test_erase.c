/*
 * Tests for src/inpaint on the synthetic product pictures (tools/testset): only masked
 * pixels change (exactly, on PNG), our mask covers the known text mask, and inside the known
 * mask the erased picture is within MAE 6 of the known clean background on flat and
 * gradient backgrounds. Noisy, photo and texture backgrounds are measured and printed.
 * Blocks come from the ground-truth quads, grouped by itx_render_blocks_group.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image.h"
#include "inpaint/inpaint.h"
#include "inpaint/testset-gt.h"
#include "render/render.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libx265\nleak:libheif\n"
           "leak:libdav1d\nleak:libde265\nleak:libaom\n";
}

#define N_PICS 16

struct kind_stat {
    const char *kind;
    double err;
    size_t n;
};

static void
test_errors(void)
{
    struct itx_image *g = itx_image_new(16, 16, 1), *bg = NULL;
    struct itx_inpaint_report *rep = NULL;
    struct itx_render_blocks blocks = {0};
    struct itx_inpaint_opts o;
    struct itx_diag d;
    itx_diag_init(&d);
    CHECK_INT(itx_inpaint_erase(g, NULL, 0, &blocks, NULL, &bg, &rep, &d), ITX_ERR_INVALID);
    CHECK(bg == NULL && rep == NULL);
    itx_image_free(g);
    g = itx_image_new(16, 16, 3);
    itx_inpaint_opts_default(&o);
    o.max_passes = 9;
    CHECK_INT(itx_inpaint_erase(g, NULL, 0, &blocks, &o, &bg, &rep, &d), ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "options") != NULL);
    /* no blocks: the picture comes back unchanged */
    CHECK_INT(itx_inpaint_erase(g, NULL, 0, &blocks, NULL, &bg, &rep, &d), ITX_OK);
    CHECK(bg && !memcmp(bg->px, g->px, 16 * 16 * 3));
    itx_image_free(bg);
    itx_inpaint_report_free(rep);
    itx_image_free(g);
}

/* A flat picture with one dark bar "stroke": erased exactly back to the flat colour. */
static void
test_flat_bar(void)
{
    struct itx_image *img = itx_image_new(120, 60, 3), *bg = NULL;
    struct itx_render_line line = {{30, 20, 90, 20, 90, 40, 30, 40}, "x", false};
    struct itx_render_style st;
    struct itx_render_blocks *blocks = NULL;
    struct itx_inpaint_report *rep = NULL;
    struct itx_diag d;
    size_t changed_outside = 0, wrong_inside = 0;
    itx_diag_init(&d);
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 120; x++) {
            uint8_t *p = itx_image_at(img, x, y);
            bool ink = x >= 35 && x < 85 && ((y >= 24 && y < 28) || (x % 10 < 3 && y >= 22 && y < 38));
            p[0] = ink ? 20 : 200, p[1] = ink ? 30 : 180, p[2] = ink ? 40 : 160;
        }
    itx_render_line_style(img, line.quad, false, &st);
    CHECK_MSG(st.color[0] < 40 && st.bg[0] == 200, "style colour %d bg %d", st.color[0], st.bg[0]);
    CHECK_INT(itx_render_blocks_group(&line, &st, 1, 120, 60, NULL, &blocks, &d), ITX_OK);
    CHECK_INT(itx_inpaint_erase(img, &line, 1, blocks, NULL, &bg, &rep, &d), ITX_OK);
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 120; x++) {
            const uint8_t *p = itx_image_at(bg, x, y), *q = itx_image_at(img, x, y);
            if (!rep->mask->px[(size_t)y * 120 + (size_t)x])
                changed_outside += memcmp(p, q, 3) != 0;
            else
                wrong_inside += abs(p[0] - 200) > 2 || abs(p[1] - 180) > 2 || abs(p[2] - 160) > 2;
        }
    CHECK_INT(changed_outside, 0);
    CHECK_INT(wrong_inside, 0);
    CHECK_INT(rep->blocks[0].fill, ITX_INPAINT_FILL_MODEL);
    CHECK_MSG(rep->blocks[0].text[0] < 40, "text colour %d", rep->blocks[0].text[0]);
    CHECK_MSG(fabsf(rep->blocks[0].stroke_width - 3.5f) < 2.0f, "stroke %g",
              (double)rep->blocks[0].stroke_width);
    itx_image_free(bg);
    itx_image_free(img);
    itx_inpaint_report_free(rep);
    itx_render_blocks_free(blocks);
}

/* Every allocation of an erase fails in turn: NOMEM with untouched outputs, never a crash. */
static void
test_alloc_failures(void)
{
    struct itx_image *img = itx_image_new(100, 60, 3), *bg = NULL;
    struct itx_render_line lines[2] = {{{10, 10, 90, 10, 90, 26, 10, 26}, "a", false},
                                       {{10, 32, 70, 32, 70, 48, 10, 48}, "b", false}};
    struct itx_render_style st[2];
    struct itx_render_blocks *blocks = NULL;
    struct itx_diag d;
    int n_nomem = 0, n_ok = 0;
    itx_diag_init(&d);
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 100; x++) {
            uint8_t *p = itx_image_at(img, x, y);
            bool ink = (y % 22 > 12 && y % 22 < 16 && x > 14 && x < 80) || (x % 9 == 0 && y > 12);
            p[0] = ink ? 250 : (uint8_t)(40 + x), p[1] = ink ? 250 : 60, p[2] = ink ? 250 : 90;
        }
    for (int k = 0; k < 2; k++)
        itx_render_line_style(img, lines[k].quad, false, &st[k]);
    CHECK_INT(itx_render_blocks_group(lines, st, 2, 100, 60, NULL, &blocks, &d), ITX_OK);
    for (unsigned long n = 1; n < 500; n++) {
        struct itx_inpaint_report *rep = NULL;
        enum itx_status s;
        bg = NULL;
        itx_alloc_fail_at(n, false);
        s = itx_inpaint_erase(img, lines, 2, blocks, NULL, &bg, &rep, &d);
        itx_alloc_fail_at(0, false);
        if (s == ITX_OK) {
            n_ok++;
            itx_image_free(bg);
            itx_inpaint_report_free(rep);
            break;
        }
        CHECK_INT(s, ITX_ERR_NOMEM);
        CHECK(bg == NULL && rep == NULL);
        n_nomem++;
    }
    CHECK(n_nomem > 3 && n_ok == 1);
    itx_render_blocks_free(blocks);
    itx_image_free(img);
}

static void
test_testset(void)
{
    const char *dir = gt_dir(N_PICS);
    struct kind_stat ks[8] = {{"flat", 0, 0},  {"gradient", 0, 0}, {"noisy", 0, 0},
                              {"photo", 0, 0}, {"texture", 0, 0},  {"mixed", 0, 0}};
    double total_ms = 0, recall_hit = 0, recall_n = 0, mask_px = 0, gt_px = 0;
    int n_pics = 0;

    CHECK_MSG(dir != NULL, "cannot make the synthetic set");
    if (!dir)
        return;
    for (int i = 0; i < N_PICS; i++) {
        struct gt_pic p;
        struct itx_render_style *styles;
        struct itx_render_blocks *blocks = NULL;
        struct itx_image *bg = NULL;
        struct itx_inpaint_report *rep = NULL;
        struct itx_diag d;
        size_t changed_outside = 0;
        double err = 0, n = 0;
        if (!gt_load(dir, i, &p)) {
            gt_free(&p);
            continue;
        }
        itx_diag_init(&d);
        styles = itx_calloc(p.n_lines + 1, sizeof(*styles));
        for (size_t k = 0; k < p.n_lines; k++)
            itx_render_line_style(p.img, p.lines[k].quad, p.lines[k].vertical, &styles[k]);
        CHECK_INT(itx_render_blocks_group(p.lines, styles, p.n_lines, p.img->w, p.img->h, NULL,
                                          &blocks, &d),
                  ITX_OK);
        CHECK_INT(itx_inpaint_erase(p.img, p.lines, p.n_lines, blocks, NULL, &bg, &rep, &d), ITX_OK);
        if (!bg) {
            itx_free(styles);
            itx_render_blocks_free(blocks);
            gt_free(&p);
            continue;
        }
        total_ms += rep->ms;
        for (int y = 0; y < p.img->h; y++)
            for (int x = 0; x < p.img->w; x++) {
                size_t gi = (size_t)y * (size_t)p.img->w + (size_t)x;
                const uint8_t *o = itx_image_at(bg, x, y), *s = itx_image_at(p.img, x, y),
                              *c = itx_image_at(p.bg, x, y);
                bool ours = rep->mask->px[gi] != 0, gt = p.mask->px[gi] != 0;
                if (!ours)
                    changed_outside += memcmp(o, s, 3) != 0;
                mask_px += ours, gt_px += gt;
                if (gt) {
                    recall_n++, recall_hit += ours;
                    for (int k = 0; k < 3; k++)
                        err += abs(o[k] - c[k]);
                    n += 3;
                }
            }
        CHECK_MSG(changed_outside == 0, "%s: %zu pixels changed outside the mask", p.name,
                  changed_outside);
        for (int k = 0; k < 8; k++)
            if (ks[k].kind && (!strcmp(ks[k].kind, p.kind))) {
                ks[k].err += err, ks[k].n += (size_t)n;
            }
        printf("%-20s %-8s blocks %2zu  mae %6.2f  %.1f ms\n", p.name, p.kind, blocks->n_blocks,
               n ? err / n : 0, rep->ms);
        if (!strcmp(p.kind, "flat") || !strcmp(p.kind, "gradient"))
            CHECK_MSG(n == 0 || err / n <= 6.0, "%s (%s): MAE %.2f inside the mask, over 6",
                      p.name, p.kind, err / n);
        n_pics++;
        itx_image_free(bg);
        itx_inpaint_report_free(rep);
        itx_render_blocks_free(blocks);
        itx_free(styles);
        gt_free(&p);
    }
    CHECK(n_pics >= N_PICS / 2);
    for (int k = 0; k < 8; k++)
        if (ks[k].kind && ks[k].n)
            printf("MAE %-8s %6.2f over %zu samples\n", ks[k].kind, ks[k].err / (double)ks[k].n,
                   ks[k].n);
    printf("mask recall %.4f (known text pixels inside our mask), our mask / known mask %.2f, "
           "erase %.1f ms per picture\n",
           recall_hit / fmax(1, recall_n), mask_px / fmax(1, gt_px), total_ms / fmax(1, n_pics));
    CHECK_MSG(recall_hit / fmax(1, recall_n) > 0.97, "mask recall %.4f",
              recall_hit / fmax(1, recall_n));
}

int
main(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_image_init(&d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    test_errors();
    test_flat_bar();
    test_alloc_failures();
    test_testset();
    return check_summary();
}
