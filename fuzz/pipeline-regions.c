/*
 * libFuzzer target: itx_pipeline_redraw on arbitrary bytes as a regions JSON (the file a
 * user edits and hands to itx render, and later a request body), drawn on a small plain
 * background. Whatever the input, the call returns a picture of the background's size or a
 * status with a message; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LeakSanitizer: fontconfig, Pango, HarfBuzz, cairo and GLib keep process-lifetime caches. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libcairo\nleak:libglib\n"
           "leak:libgobject\nleak:libfreetype\nleak:libthai\nleak:libvips\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct itx_render_ctx *ctx;
    static struct itx_image *bg;
    struct itx_image *out = NULL;
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    if (!ctx) {
        if (itx_image_init(&d) != ITX_OK || itx_render_ctx_new(&ctx, &d) != ITX_OK)
            abort();
        bg = itx_image_new(256, 256, 3);
        if (!bg)
            abort();
        memset(bg->px, 200, bg->stride * (size_t)bg->h);
    }
    st = itx_pipeline_redraw(ctx, bg, (const char *)data, size, &out, &d);
    if (st == ITX_OK) {
        ITX_ASSERT(out && out->w == bg->w && out->h == bg->h && out->channels == 3);
        itx_image_free(out);
    } else {
        ITX_ASSERT(d.code == st && d.msg[0] != '\0' && out == NULL);
    }
    return 0;
}
