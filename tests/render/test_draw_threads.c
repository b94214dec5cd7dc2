/*
 * itx_render_draw on several threads at once, each with its own render context: drawing
 * takes no lock (each thread rasterises on its own Pango font map), so every thread must
 * produce exactly the pictures one thread produces alone, in any order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image/image.h"
#include "render/render.h"

/* LeakSanitizer: fontconfig, Pango and HarfBuzz keep process-lifetime caches. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libglib\nleak:libgobject\n"
           "leak:libcairo\nleak:libpixman\n";
}

#define N_TEXTS 4
#define N_THREADS 4
#define ROUNDS 3

static const struct {
    const char *text, *lang;
} texts[N_TEXTS] = {
    {"Free shipping & returns <today>", NULL},
    {"Large capacity\nNatural organic", NULL},
    {"包邮 七天无理由", "zh"},
    {"تخفيضات كبيرة", "ar"},
};

static struct itx_image *bg;
static struct itx_render_blocks *blocks;
static struct itx_image *reference[N_TEXTS];

static enum itx_status
draw(struct itx_render_ctx *c, int k, struct itx_image **out)
{
    struct itx_render_item it = {0, texts[k].text, texts[k].lang, {20, 20, 20}, false, {0, 0, 0}};
    struct itx_render_report *rep = NULL;
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    st = itx_render_draw(c, bg, blocks, &it, 1, NULL, out, &rep, &d);
    if (st != ITX_OK)
        fprintf(stderr, "draw %d: %s\n", k, d.msg);
    itx_render_report_free(rep);
    return st;
}

static void *
worker(void *arg)
{
    int id = (int)(size_t)arg, *bad = calloc(1, sizeof(int));
    struct itx_render_ctx *c = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    if (itx_render_ctx_new(&c, &d) != ITX_OK) {
        *bad = 1000;
        return bad;
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int j = 0; j < N_TEXTS; j++) {
            int k = (j + id + r) % N_TEXTS;
            struct itx_image *o = NULL;
            if (draw(c, k, &o) != ITX_OK || !reference[k] ||
                memcmp(o->px, reference[k]->px, o->stride * (size_t)o->h) != 0)
                (*bad)++;
            itx_image_free(o);
        }
    itx_render_ctx_free(c);
    return bad;
}

int
main(void)
{
    struct itx_render_line line = {{30, 40, 570, 40, 570, 160, 30, 160}, "x", false};
    struct itx_render_style st = {44, {0, 0, 0}, {255, 255, 255}, false};
    struct itx_render_ctx *c = NULL;
    pthread_t th[N_THREADS];
    struct itx_diag d;

    itx_diag_init(&d);
    bg = itx_image_new(600, 200, 3);
    memset(bg->px, 250, bg->stride * 200);
    CHECK_INT(itx_render_blocks_group(&line, &st, 1, 600, 200, NULL, &blocks, &d), ITX_OK);
    CHECK_INT(itx_render_ctx_new(&c, &d), ITX_OK);
    for (int k = 0; k < N_TEXTS && blocks && c; k++) {
        CHECK_INT(draw(c, k, &reference[k]), ITX_OK);
        if (reference[k]) {
            /* something was drawn: the picture is not the background any more */
            CHECK(memcmp(reference[k]->px, bg->px, bg->stride * 200) != 0);
        }
    }
    itx_render_ctx_free(c);
    for (int t = 0; t < N_THREADS && blocks; t++)
        CHECK(pthread_create(&th[t], NULL, worker, (void *)(size_t)t) == 0);
    for (int t = 0; t < N_THREADS && blocks; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        CHECK_MSG(r && *(int *)r == 0, "thread %d: %d pictures differ from one thread's", t,
                  r ? *(int *)r : -1);
        free(r);
    }
    for (int k = 0; k < N_TEXTS; k++)
        itx_image_free(reference[k]);
    itx_render_blocks_free(blocks);
    itx_image_free(bg);
    return check_summary();
}
