/*
 * libFuzzer target: itx_render_layout_fit and itx_render_layout_at on arbitrary UTF-8 (or
 * not), box sizes, size ranges, fonts, weights and line pitches taken from the first bytes.
 * Whatever the input, the call returns a status with a message, or a layout whose size lies
 * in the asked range and which either fits its box or says it overflows; anything else
 * aborts.
 *
 * Input: byte 0 font, byte 1 flags (bit 0 bold, bit 1 fixed size, bit 2 pitch), bytes 2-3
 * box width, 4-5 box height, 6 min size, 7 max size, 8 pitch; the rest is the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LeakSanitizer: fontconfig, Pango, HarfBuzz, cairo and GLib keep process-lifetime caches. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libcairo\nleak:libglib\n"
           "leak:libgobject\nleak:libfreetype\nleak:libthai\n";
}

static const char *const fonts[] = {"Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK KR",
                                    "Noto Sans Thai", "Noto Sans Arabic", "No Such Font"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct itx_render_ctx *ctx;
    struct itx_render_layout_opts o;
    struct itx_render_layout l;
    struct itx_diag d;
    enum itx_status st;
    char *text;
    float bw, bh;

    itx_diag_init(&d);
    if (!ctx && itx_render_ctx_new(&ctx, &d) != ITX_OK)
        abort();
    if (size < 9)
        return 0;
    memset(&o, 0, sizeof(o));
    o.font = fonts[data[0] % (sizeof(fonts) / sizeof(fonts[0]))];
    o.bold = data[1] & 1;
    bw = (float)(data[2] | data[3] << 8) / 8.0f; /* 0 .. 8191 px, 0 invalid */
    bh = (float)(data[4] | data[5] << 8) / 8.0f;
    o.min_size = (float)data[6] / 2.0f;
    o.max_size = (float)data[7] * 2.0f;
    o.line_pitch = data[1] & 4 ? (float)data[8] : 0;
    text = itx_malloc(size - 9 + 1);
    if (!text)
        return 0;
    memcpy(text, data + 9, size - 9);
    text[size - 9] = '\0';
    memset(&l, 0, sizeof(l));
    if (data[1] & 2)
        st = itx_render_layout_at(ctx, text, o.max_size, bw, bh, &o, &l, &d);
    else
        st = itx_render_layout_fit(ctx, text, bw, bh, &o, &l, &d);
    if (st == ITX_OK) {
        ITX_ASSERT(l.text != NULL);
        ITX_ASSERT(l.n_lines >= 1);
        if (!(data[1] & 2)) {
            ITX_ASSERT(l.size >= o.min_size - 1e-3f && l.size <= o.max_size + 1e-3f);
            if (!l.overflow)
                ITX_ASSERT(l.width <= bw + 1e-3f && l.height <= bh + 1e-3f);
        }
        /* the laid-out text is the input's characters with breaks: valid UTF-8 */
        ITX_ASSERT(strlen(l.text) <= strlen(text) + (size_t)l.n_lines);
        itx_render_layout_release(&l);
    } else {
        ITX_ASSERT(d.code == st && d.msg[0] != '\0');
        ITX_ASSERT(l.text == NULL);
    }
    itx_free(text);
    return 0;
}
