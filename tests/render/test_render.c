/*
 * Tests for src/render: grouping of the synthetic set's lines against its ground-truth
 * blocks, layout rules (never overflowing at the chosen size, minimum size, no breaks inside
 * words unless a word alone cannot fit, white space), right-to-left Arabic, one size per
 * group, and drawing on the erased pictures. With ITX_RENDER_DEMO_DIR set it also writes
 * before/after pictures there (docs/img).
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
           "leak:libdav1d\nleak:libde265\nleak:libaom\nleak:libcairo\nleak:libglib\n"
           "leak:libgobject\n";
}

static struct itx_render_ctx *ctx;

static void
test_layout_rules(void)
{
    struct itx_render_layout_opts o = {"Noto Sans", false, 9, 40, 0, 0, false};
    struct itx_render_layout l;
    struct itx_diag d;
    itx_diag_init(&d);

    /* fits on one line at max size in a wide box */
    CHECK_INT(itx_render_layout_fit(ctx, "Sale", 400, 60, &o, &l, &d), ITX_OK);
    CHECK(l.size == 40 && l.n_lines == 1 && !l.overflow);
    CHECK(l.width <= 400 && l.height <= 60);
    itx_render_layout_release(&l);

    /* wraps at word boundaries, never inside a word */
    CHECK_INT(itx_render_layout_fit(ctx, "Breathable running shoes for men and women", 160, 200,
                                    &o, &l, &d),
              ITX_OK);
    CHECK(l.n_lines >= 2 && !l.overflow && !l.broke_word);
    CHECK(l.width <= 160 && l.height <= 200);
    {
        /* every line break replaced a space */
        const char *src = "Breathable running shoes for men and women";
        size_t k = 0;
        bool same = strlen(l.text) == strlen(src);
        for (; same && src[k]; k++)
            same = l.text[k] == src[k] || (l.text[k] == '\n' && src[k] == ' ');
        CHECK_MSG(same, "layout '%s' is not the source with spaces turned to breaks", l.text);
    }
    itx_render_layout_release(&l);

    /* a word alone too wide at the minimum size is broken, and flagged */
    CHECK_INT(itx_render_layout_fit(ctx, "Supercalifragilisticexpialidocious", 60, 200, &o, &l,
                                    &d),
              ITX_OK);
    CHECK(l.broke_word && l.size == 9);
    CHECK_MSG(l.width <= 60, "width %g", (double)l.width);
    itx_render_layout_release(&l);

    /* cannot fit at all: minimum size, overflow flagged */
    CHECK_INT(itx_render_layout_fit(ctx, "A long sentence that cannot possibly fit here", 30, 10,
                                    &o, &l, &d),
              ITX_OK);
    CHECK(l.overflow && l.size == 9);
    itx_render_layout_release(&l);

    /* white space collapsed, control characters dropped */
    CHECK_INT(itx_render_layout_fit(ctx, "  two \t words\x01 ", 400, 60, &o, &l, &d), ITX_OK);
    CHECK_STR(l.text, "two words");
    itx_render_layout_release(&l);

    /* line breaks in the text are kept (list items), however wide the box */
    CHECK_INT(itx_render_layout_fit(ctx, "Breathable \n\n Waterproof\n", 600, 200, &o, &l, &d),
              ITX_OK);
    CHECK_STR(l.text, "Breathable\nWaterproof");
    CHECK(l.n_lines == 2 && !l.overflow);
    itx_render_layout_release(&l);

    /* errors */
    CHECK_INT(itx_render_layout_fit(ctx, "\xff\xfe", 100, 100, &o, &l, &d), ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "UTF-8") != NULL);
    CHECK_INT(itx_render_layout_fit(ctx, "x", NAN, 100, &o, &l, &d), ITX_ERR_INVALID);
    o.min_size = 50;
    CHECK_INT(itx_render_layout_fit(ctx, "x", 100, 100, &o, &l, &d), ITX_ERR_INVALID);
    o.min_size = 9;
    {
        char *big = malloc(ITX_RENDER_MAX_TEXT + 10);
        memset(big, 'a', ITX_RENDER_MAX_TEXT + 9);
        big[ITX_RENDER_MAX_TEXT + 9] = 0;
        CHECK_INT(itx_render_layout_fit(ctx, big, 100, 100, &o, &l, &d), ITX_ERR_TOO_LARGE);
        free(big);
    }

    /* sizes: monotone in the box, across many boxes never over the box */
    {
        float prev = 0;
        bool mono = true, inside = true;
        for (int w = 40; w <= 400; w += 20) {
            CHECK_INT(itx_render_layout_fit(ctx, "Quick dry fabric, machine washable", (float)w,
                                            80, &o, &l, &d),
                      ITX_OK);
            mono = mono && l.size + 0.5f >= prev;
            prev = l.size;
            inside = inside && (l.overflow || (l.width <= (float)w && l.height <= 80));
            itx_render_layout_release(&l);
        }
        CHECK(mono);
        CHECK(inside);
    }
}

static void
test_scripts(void)
{
    struct itx_render_layout_opts o = {itx_render_font_for_lang("ar"), false, 9, 40, 0, 0, false};
    struct itx_render_layout l;
    struct itx_diag d;
    itx_diag_init(&d);
    CHECK_STR(itx_render_font_for_lang("ar"), "Noto Sans Arabic");
    CHECK_STR(itx_render_font_for_lang("ja-JP"), "Noto Sans CJK JP");
    CHECK_STR(itx_render_font_for_lang("th"), "Noto Sans Thai");
    CHECK_STR(itx_render_font_for_lang("ru"), "Noto Sans");
    CHECK(itx_render_lang_rtl("ar") && !itx_render_lang_rtl("en"));
    CHECK_INT(itx_render_layout_fit(ctx, "حذاء رياضي للرجال والنساء", 120, 120, &o, &l, &d), ITX_OK);
    CHECK(!l.overflow && l.n_lines >= 2 && l.width <= 120);
    itx_render_layout_release(&l);
    /* Thai has no spaces: Pango's dictionary breaks still let it wrap without breaking words */
    o.font = itx_render_font_for_lang("th");
    CHECK_INT(itx_render_layout_fit(ctx, "รองเท้าวิ่งระบายอากาศสำหรับผู้ชาย", 120, 200, &o, &l, &d),
              ITX_OK);
    CHECK(!l.overflow && l.n_lines >= 2 && !l.broke_word);
    itx_render_layout_release(&l);
}

/* Draws Arabic on a flat picture: ink appears in the right-aligned box, inside it. */
static void
test_draw_rtl(void)
{
    struct itx_image *bg = itx_image_new(300, 100, 3), *out = NULL;
    struct itx_render_line line = {{20, 30, 280, 30, 280, 70, 20, 70}, "x", false};
    struct itx_render_style st = {40, {0, 0, 0}, {255, 255, 255}, false};
    struct itx_render_blocks *blocks = NULL;
    struct itx_render_report *rep = NULL;
    struct itx_render_item it = {0, "تخفيضات كبيرة", "ar", {10, 10, 10}, false, {0, 0, 0}};
    struct itx_diag d;
    size_t ink = 0, outside = 0;
    itx_diag_init(&d);
    memset(bg->px, 255, 300 * 100 * 3);
    CHECK_INT(itx_render_blocks_group(&line, &st, 1, 1000, 100, NULL, &blocks, &d), ITX_OK);
    CHECK_INT(itx_render_draw(ctx, bg, blocks, &it, 1, NULL, &out, &rep, &d), ITX_OK);
    if (!out) {
        itx_render_blocks_free(blocks);
        itx_image_free(bg);
        return;
    }
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 300; x++)
            if (itx_image_at(out, x, y)[0] < 128) {
                ink++;
                outside += x < 19 || x > 281 || y < 29 || y > 71;
            }
    CHECK(ink > 100);
    CHECK_INT(outside, 0);
    CHECK(!(rep->regions[0].flags & ITX_RENDER_OVERFLOW));
    CHECK(!(rep->regions[0].flags & ITX_RENDER_OUTLINED)); /* near-black on white */
    CHECK_MSG(rep->regions[0].ink[0] + rep->regions[0].ink[2] > 270,
              "RTL text is right-aligned (ink ends at %g)",
              (double)(rep->regions[0].ink[0] + rep->regions[0].ink[2]));
    itx_image_free(out);
    itx_render_report_free(rep);
    /* white on white: an outline is added */
    memset(it.color, 250, 3);
    CHECK_INT(itx_render_draw(ctx, bg, blocks, &it, 1, NULL, &out, &rep, &d), ITX_OK);
    CHECK(rep && (rep->regions[0].flags & ITX_RENDER_LOW_CONTRAST) &&
          (rep->regions[0].flags & ITX_RENDER_OUTLINED));
    itx_image_free(out);
    itx_render_report_free(rep);
    itx_render_blocks_free(blocks);
    itx_image_free(bg);
}

/* Every allocation of a layout and a drawing fails in turn: NOMEM, never a crash. */
static void
test_alloc_failures(void)
{
    struct itx_image *bg = itx_image_new(200, 80, 3), *out = NULL;
    struct itx_render_line line = {{20, 20, 180, 20, 180, 60, 20, 60}, "x", false};
    struct itx_render_style st = {30, {0, 0, 0}, {255, 255, 255}, true};
    struct itx_render_blocks *blocks = NULL;
    struct itx_render_item it = {0, "Fast & light <shoes>", "en", {250, 250, 250}, false, {0}};
    struct itx_diag d;
    int n_nomem = 0, n_ok = 0;
    itx_diag_init(&d);
    memset(bg->px, 240, 200 * 80 * 3);
    CHECK_INT(itx_render_blocks_group(&line, &st, 1, 200, 80, NULL, &blocks, &d), ITX_OK);
    for (unsigned long n = 1; n < 2000; n++) {
        struct itx_render_report *rep = NULL;
        enum itx_status s;
        out = NULL;
        itx_alloc_fail_at(n, false);
        s = itx_render_draw(ctx, bg, blocks, &it, 1, NULL, &out, &rep, &d);
        itx_alloc_fail_at(0, false);
        if (s == ITX_OK) {
            n_ok++;
            CHECK(rep->regions[0].flags & ITX_RENDER_OUTLINED); /* near-white on near-white */
            itx_image_free(out);
            itx_render_report_free(rep);
            break;
        }
        CHECK_MSG(s == ITX_ERR_NOMEM, "allocation %lu: %s", n, d.msg);
        CHECK(out == NULL && rep == NULL);
        n_nomem++;
    }
    CHECK(n_nomem > 5 && n_ok == 1);
    itx_render_blocks_free(blocks);
    itx_image_free(bg);
}

/* A tiny word-for-word placeholder translation of the test set's phrases. */
static const char *const dict[][2] = {
    {"包邮", "Free shipping"},       {"新品", "New"},          {"热卖", "Hot sale"},
    {"爆款", "Best seller"},         {"正品", "Genuine"},      {"特价", "Special price"},
    {"限时", "Limited time"},        {"男女同款", "Unisex"},   {"运动鞋", "Sneakers"},
    {"儿童", "Kids"},                {"卫衣", "hoodie"},       {"尺码表", "Size chart"},
    {"礼盒", "gift box"},            {"坚果", "Nuts"},         {"红茶", "Black tea"},
    {"一键连接", "One-tap pairing"}, {"钓鱼竿", "Fishing rod"}, {"防水", "Waterproof"},
    {"透气", "Breathable"},          {"舒适", "Comfortable"},  {"耐磨", "Durable"},
    {"大容量", "Large capacity"},    {"保温", "Insulated"},    {"轻便", "Lightweight"},
    {"品质", "Quality"},             {"保证", "guaranteed"},   {"官方", "Official"},
    {"旗舰店", "flagship store"},    {"买一送一", "Buy one get one"},
    {"四件套", "4-piece set"},       {"医用口罩", "Medical masks"}, {"学生用品", "School supplies"},
    {"笔记本", "Notebook"},          {"独立包装", "Individually wrapped"}, {"电热水壶", "Electric kettle"},
    {"手工制作", "Handmade"},        {"手机壳", "phone case"}, {"当季水果", "Seasonal fruit"},
    {"新款上市", "New arrival"},     {"尺寸", "Size"},         {"当天发货", "Ships today"},
    {"生日礼物", "Birthday gift"},   {"登山包", "Hiking backpack"}, {"无毒无味", "Non-toxic, odourless"},
    {"产地直发", "Direct from origin"}, {"加绒加厚", "Fleece-lined, thick"}, {"尺码", "Size"},
    {"到手价", "Now"},               {"券后价", "With coupon"}, {"销量", "Sales"},
};

static char *
translate(const char *src)
{
    char *out = itx_calloc(1, 1024);
    size_t n = 0;
    const char *p = src;
    bool any = false;
    while (*p && n < 900) {
        bool hit = false;
        for (size_t k = 0; k < sizeof(dict) / sizeof(dict[0]); k++) {
            size_t l = strlen(dict[k][0]);
            if (!strncmp(p, dict[k][0], l)) {
                n += (size_t)snprintf(out + n, 1024 - n, "%s%s", n ? " " : "", dict[k][1]);
                p += l;
                hit = any = true;
                break;
            }
        }
        if (!hit) {
            unsigned char c = (unsigned char)*p;
            size_t cl = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
            if (c < 0x80 || !strncmp(p, "¥", 2) || !strncmp(p, "￥", 3)) {
                /* a space between a translated word and a following number or word */
                if (n > 0 && c < 0x80 && c != ' ' && p > src && (unsigned char)p[-1] >= 0x80 &&
                    ((out[n - 1] >= 'a' && out[n - 1] <= 'z') ||
                     (out[n - 1] >= 'A' && out[n - 1] <= 'Z')))
                    out[n++] = ' ';
                memcpy(out + n, p, cl);
                n += cl;
            }
            p += cl;
        }
    }
    if (!any && strspn(out, " ,.") < n) /* prices, model numbers: kept as they are */
        return out;
    if (!any) /* phrases outside the list: a generic selling point */
        snprintf(out, 1024, "%s", strlen(src) > 12 ? "Premium quality, fast delivery" : "Top pick");
    return out;
}

static void
test_testset(void)
{
    const char *dir = gt_dir(16);
    const char *demo = getenv("ITX_RENDER_DEMO_DIR");
    int blocks_ok = 0, blocks_n = 0, n_pics = 0;
    double erase_ms = 0, render_ms = 0;

    CHECK_MSG(dir != NULL, "cannot make the synthetic set");
    if (!dir)
        return;
    for (int i = 0; i < 16; i++) {
        struct gt_pic p;
        struct itx_render_style *styles;
        struct itx_render_blocks *blocks = NULL;
        struct itx_image *bg = NULL, *out = NULL;
        struct itx_inpaint_report *er = NULL;
        struct itx_render_report *rr = NULL;
        struct itx_render_item *items;
        char **texts;
        struct itx_diag d;
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
        /* a ground-truth block is found when one of our blocks holds exactly its lines */
        for (size_t b = 0; b < blocks->n_blocks; b++) {
            const struct itx_render_block *bk = &blocks->blocks[b];
            int id = p.block[blocks->line_idx[bk->first]];
            size_t n_gt = 0;
            bool same = true;
            for (size_t k = 0; k < bk->n_lines; k++)
                same = same && p.block[blocks->line_idx[bk->first + k]] == id;
            for (size_t k = 0; k < p.n_lines; k++)
                n_gt += p.block[k] == id;
            blocks_ok += same && n_gt == bk->n_lines;
        }
        {
            int maxb = -1;
            for (size_t k = 0; k < p.n_lines; k++)
                maxb = p.block[k] > maxb ? p.block[k] : maxb;
            blocks_n += maxb + 1;
        }
        CHECK_INT(itx_inpaint_erase(p.img, p.lines, p.n_lines, blocks, NULL, &bg, &er, &d), ITX_OK);
        items = itx_calloc(blocks->n_blocks + 1, sizeof(*items));
        texts = itx_calloc(blocks->n_blocks + 1, sizeof(*texts));
        for (size_t b = 0; b < blocks->n_blocks; b++) {
            const struct itx_render_block *bk = &blocks->blocks[b];
            char src[1024] = "";
            bool list = bk->n_lines > 1;
            for (size_t k = 0; k < bk->n_lines; k++)
                list = list && strlen(p.texts[blocks->line_idx[bk->first + k]]) <= 5 * 3;
            if (list) {
                /* short lines of one block are list items: one translated item per line */
                char joined[2048] = "";
                for (size_t k = 0; k < bk->n_lines; k++) {
                    char *t = translate(p.texts[blocks->line_idx[bk->first + k]]);
                    if (k)
                        strncat(joined, "\n", sizeof(joined) - strlen(joined) - 1);
                    strncat(joined, t, sizeof(joined) - strlen(joined) - 1);
                    itx_free(t);
                }
                texts[b] = itx_strdup(joined);
            } else {
                for (size_t k = 0; k < bk->n_lines; k++)
                    strncat(src, p.texts[blocks->line_idx[bk->first + k]],
                            sizeof(src) - strlen(src) - 1);
                texts[b] = translate(src);
            }
            items[b].block = b;
            items[b].text = texts[b];
            items[b].lang = "en";
            memcpy(items[b].color, er->blocks[b].fill ? er->blocks[b].text : bk->style.color, 3);
            items[b].has_outline = er->blocks[b].has_outline;
            memcpy(items[b].outline, er->blocks[b].outline, 3);
        }
        {
            enum itx_status st =
                itx_render_draw(ctx, bg, blocks, items, blocks->n_blocks, NULL, &out, &rr, &d);
            CHECK_MSG(st == ITX_OK, "%s: draw failed: %s", p.name, d.msg);
        }
        if (rr) {
            erase_ms += er->ms;
            render_ms += rr->layout_ms + rr->draw_ms;
            for (size_t r = 0; r < rr->n_regions; r++) {
                const struct itx_render_region *rg = &rr->regions[r];
                /* the minimum size is respected */
                CHECK(rg->size == 0 || rg->size >= 9); /* 0: nothing to draw */
                /* the ink stays in its box unless flagged */
                if (!(rg->flags & ITX_RENDER_OVERFLOW) && !(rg->flags & ITX_RENDER_ROTATED)) {
                    float bb[4] = {1e9f, 1e9f, -1e9f, -1e9f};
                    for (int k = 0; k < 4; k++) {
                        bb[0] = fminf(bb[0], rg->quad[2 * k]), bb[2] = fmaxf(bb[2], rg->quad[2 * k]);
                        bb[1] = fminf(bb[1], rg->quad[2 * k + 1]),
                        bb[3] = fmaxf(bb[3], rg->quad[2 * k + 1]);
                    }
                    /* the outline, and a pixel of anti-aliasing, may pass the box */
                    float tol = 2 + ceilf(rg->outline_width);
                    CHECK_MSG(rg->ink[0] >= bb[0] - tol && rg->ink[1] >= bb[1] - tol &&
                                  rg->ink[0] + rg->ink[2] <= bb[2] + tol &&
                                  rg->ink[1] + rg->ink[3] <= bb[3] + tol,
                              "%s block %zu: ink %g,%g %gx%g outside its box %g,%g..%g,%g "
                              "(flags %x, outline %g)",
                              p.name, r, (double)rg->ink[0], (double)rg->ink[1],
                              (double)rg->ink[2], (double)rg->ink[3], (double)bb[0],
                              (double)bb[1], (double)bb[2], (double)bb[3], rg->flags,
                              (double)rg->outline_width);
                }
                /* one size per group */
                for (size_t s = 0; s < rr->n_regions; s++)
                    if (rr->regions[s].size > 0 && rg->size > 0 &&
                        blocks->blocks[rr->regions[s].block].group ==
                            blocks->blocks[rg->block].group)
                        CHECK_MSG(fabsf(rr->regions[s].size - rg->size) < 0.01f,
                                  "%s: sizes %g and %g in one group", p.name,
                                  (double)rr->regions[s].size, (double)rg->size);
            }
        }
        if (rr)
            printf("%-20s %4dx%-4d erase %6.1f ms  layout %6.1f ms  draw %6.1f ms\n", p.name,
                   p.img->w, p.img->h, er->ms, rr->layout_ms, rr->draw_ms);
        if (getenv("ITX_RENDER_VERBOSE") && rr)
            for (size_t r = 0; r < rr->n_regions; r++)
                printf("%s block %zu group %d: '%s' size %.1f lines %d flags %x src %.1f box "
                       "%.0fx%.0f\n",
                       p.name, r, blocks->blocks[r].group, texts[r], (double)rr->regions[r].size,
                       rr->regions[r].n_lines, rr->regions[r].flags,
                       (double)blocks->blocks[r].style.size, (double)blocks->blocks[r].w,
                       (double)blocks->blocks[r].h);
        if (demo && out && (i == 0 || i == 1 || i == 3 || i == 5 || i == 9)) {
            char path[1200];
            snprintf(path, sizeof(path), "%s/%s.before.jpg", demo, p.name);
            itx_image_save_file(p.img, path, ITX_IMAGE_FORMAT_JPEG, 80, &d);
            snprintf(path, sizeof(path), "%s/%s.erased.jpg", demo, p.name);
            itx_image_save_file(bg, path, ITX_IMAGE_FORMAT_JPEG, 80, &d);
            snprintf(path, sizeof(path), "%s/%s.after.jpg", demo, p.name);
            itx_image_save_file(out, path, ITX_IMAGE_FORMAT_JPEG, 80, &d);
        }
        n_pics++;
        for (size_t b = 0; b < blocks->n_blocks; b++)
            itx_free(texts[b]);
        itx_free(texts);
        itx_free(items);
        itx_image_free(out);
        itx_image_free(bg);
        itx_render_report_free(rr);
        itx_inpaint_report_free(er);
        itx_render_blocks_free(blocks);
        itx_free(styles);
        gt_free(&p);
    }
    printf("ground-truth blocks found exactly: %d of %d; per picture: erase %.1f ms, layout + "
           "draw %.1f ms\n",
           blocks_ok, blocks_n, erase_ms / fmax(1, n_pics), render_ms / fmax(1, n_pics));
    CHECK_MSG(blocks_ok * 10 >= blocks_n * 8, "only %d of %d blocks found", blocks_ok, blocks_n);
}

int
main(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_image_init(&d) != ITX_OK || itx_render_ctx_new(&ctx, &d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    test_layout_rules();
    test_scripts();
    test_draw_rtl();
    test_alloc_failures();
    test_testset();
    itx_render_ctx_free(ctx);
    return check_summary();
}
