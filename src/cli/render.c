/*
 * itx render: redraws a picture from its text-free background and an (edited) regions
 * file written by itx translate, without OCR or translation.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/util.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "render/render.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: itx render BACKGROUND REGIONS.json -o OUT [--quality N]\n\n"
               "Draws the translations of REGIONS.json (as written by itx translate, perhaps\n"
               "edited: translation, color, source_outline, font_size, box) on BACKGROUND and\n"
               "writes OUT, whose extension (.jpg, .png, .webp) chooses the format. No OCR.\n");
}

int
itx_cli_render(int argc, char **argv)
{
    const char *bg_path = NULL, *json_path = NULL, *out_path = NULL;
    struct itx_image *bg = NULL, *out = NULL;
    struct itx_render_ctx *rc = NULL;
    uint8_t *json = NULL;
    size_t json_len = 0;
    struct itx_diag d;
    long long quality = 0;
    int ret = 1;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    itx_diag_init(&d);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && val) {
            out_path = argv[++i];
        } else if (strcmp(a, "--quality") == 0 && val && itx_parse_int(val, 1, 100, &quality)) {
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "itx render: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        } else if (!bg_path) {
            bg_path = a;
        } else if (!json_path) {
            json_path = a;
        } else {
            fprintf(stderr, "itx render: one background and one regions file, got '%s' too\n", a);
            return 2;
        }
    }
    if (!bg_path || !json_path || !out_path) {
        usage(stderr);
        return 2;
    }
    if (itx_image_format_from_path(out_path) == ITX_IMAGE_FORMAT_UNKNOWN) {
        fprintf(stderr, "itx render: '%s': name the output .jpg, .png or .webp\n", out_path);
        return 2;
    }
    if (itx_image_init(&d) != ITX_OK ||
        itx_image_load_file(bg_path, NULL, &bg, NULL, &d) != ITX_OK ||
        itx_file_read(json_path, ITX_PIPELINE_MAX_REGIONS_JSON, &json, &json_len, &d) != ITX_OK ||
        itx_render_ctx_new(&rc, &d) != ITX_OK)
        goto fail;
    if (itx_pipeline_redraw(rc, bg, (const char *)json, json_len, &out, &d) != ITX_OK) {
        itx_diag_prefix(&d, "'%s'", json_path);
        goto fail;
    }
    if (itx_image_save_file(out, out_path, ITX_IMAGE_FORMAT_UNKNOWN, (int)quality, &d) != ITX_OK)
        goto fail;
    ret = 0;
    goto out;
fail:
    fprintf(stderr, "itx render: %s\n", d.msg);
out:
    itx_image_free(bg);
    itx_image_free(out);
    itx_render_ctx_free(rc);
    itx_free(json);
    return ret;
}
