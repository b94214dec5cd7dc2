/*
 * itx translate: the whole job on pictures (src/pipeline/): writes the translated picture,
 * its text-free background and the regions JSON of each, with a progress bar on a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "fetch/fetch.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

static void
usage(FILE *f)
{
    fprintf(
        f, "usage: itx translate [options] IMAGE|URL... -o DIR\n\n"
           "Reads the Chinese text of each picture, translates it, erases it and draws the\n"
           "translation in its place (docs/pipeline.md). For each input NAME writes into DIR:\n"
           "  NAME.EXT            the translated picture (the input's format unless --format)\n"
           "  NAME.bg.png         the text-free background\n"
           "  NAME.regions.json   every region: source, translation, box, colours, font size,\n"
           "                      skip reason, QA flags (edit it and run itx render)\n"
           "  NAME.debug.png      with --debug: boxes (green translated, blue skipped, red\n"
           "                      flagged) and the erase mask in red\n"
           "  NAME.mask.png       with --debug: the erase mask (255 where pixels may change)\n"
           "URL inputs are named by a content hash of the picture and the settings.\n\n"
           "options:\n"
           "  -o, --output DIR     output directory (made when missing)\n"
           "  --to LANG            target language (default en)\n"
           "  --provider NAME      dict (default), gemini or openai (keys from the environment)\n"
           "  --glossary FILE      extra glossary (TSV: term<TAB>translation, '=' keeps a term)\n"
           "  --format FMT         output format: jpeg, png or webp\n"
           "  --quality N          JPEG/WebP quality 1..100 (default 90)\n"
           "  --min-score X        skip lines read with less confidence (default 0.6)\n"
           "  --no-qa              do not read the result back (no retry, no han_left flag)\n"
           "  --models DIR         model directory (default $ITX_MODELS_DIR or the installed one)\n"
           "  --debug              also write the overlay picture\n"
           "  --json               one JSON line per picture on stdout (files, counts, timings)\n"
           "  --quiet              no progress bar or summary\n"
           "exit status: 0 all pictures done, 1 some failed, 2 bad usage\n");
}

static bool
is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The file name's stem: no directories, no extension, only safe characters. */
static void
stem_of(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    size_t n = 0;
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char ch = (unsigned char)base[i];
        out[n++] =
            (char)(ch >= 0x80 || ch == '-' || ch == '_' || ch == '.' || (ch >= '0' && ch <= '9') ||
                           ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
                       ? ch
                       : '_');
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "picture");
}

static enum itx_status
write_file(const char *path, const void *data, size_t len, struct itx_diag *d)
{
    char tmp[4200];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f)
        return itx_diag_set(d, ITX_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        if (f)
            fclose(f);
        remove(tmp);
        return itx_diag_set(d, ITX_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return itx_diag_set(d, ITX_ERR_IO, "cannot rename to '%s': %s", path, strerror(errno));
    }
    return ITX_OK;
}

static void
progress(int done, int total, double t0, const char *name)
{
    int width = 30, fill = total ? done * width / total : width;
    double el = (itx_now_ms() - t0) / 1000.0;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d  %.1fs  %-30.30s", done, total, el, name ? name : "");
    fflush(stderr);
}

static const char *
ext_of(enum itx_image_format f)
{
    return f == ITX_IMAGE_FORMAT_JPEG ? "jpg" : itx_image_format_name(f);
}

int
itx_cli_translate(int argc, char **argv)
{
    struct itx_pipeline_config cfg = {0};
    struct itx_pipeline_opts o;
    struct itx_pipeline *p = NULL;
    struct itx_pipeline_ctx *c = NULL;
    struct itx_glossary *gl = NULL;
    struct itx_fetch_opts fo;
    struct itx_diag d;
    struct itx_cli_picture_opts po = {.o = &o};
    const char *outdir = NULL, *provider = "dict";
    const char **inputs = NULL;
    int n_inputs = 0, n_failed = 0, rc = 0;
    bool json = false, quiet = false, tty;
    unsigned tot_tr = 0, tot_skip = 0, tot_flag = 0;
    double t0;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    itx_diag_init(&d);
    itx_pipeline_opts_default(&o);
    inputs = itx_calloc((size_t)argc + 1, sizeof(*inputs));
    if (!inputs)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int took = itx_cli_picture_option("translate", argc, argv, &i, &po);
        if (took < 0) {
            rc = 2;
            goto out;
        } else if (took) {
            continue;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && val) {
            outdir = val;
            i++;
        } else if (strcmp(a, "--provider") == 0 && val) {
            provider = val;
            i++;
        } else if (strcmp(a, "--debug") == 0) {
            o.debug = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "itx translate: unknown option or missing value: %s\n", a);
            usage(stderr);
            rc = 2;
            goto out;
        } else {
            inputs[n_inputs++] = a;
        }
    }
    cfg.models_dir = po.models_dir;
    if (!outdir || n_inputs == 0) {
        fprintf(stderr, "itx translate: %s\n",
                !outdir ? "-o DIR is required" : "no input pictures");
        usage(stderr);
        rc = 2;
        goto out;
    }
    if (!itx_tr_provider_parse(provider, &cfg.tr.provider)) {
        fprintf(stderr, "itx translate: unknown provider '%s' (dict, gemini or openai)\n",
                provider);
        rc = 2;
        goto out;
    }
    if (cfg.tr.provider != ITX_TR_DICT && !itx_tr_language_supported(o.target)) {
        fprintf(stderr, "itx translate: unsupported target language '%s'\n", o.target);
        rc = 2;
        goto out;
    }
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "itx translate: cannot make '%s': %s\n", outdir, strerror(errno));
        rc = 1;
        goto out;
    }
    if (itx_tr_config_from_env(&cfg.tr, &d) != ITX_OK || itx_image_init(&d) != ITX_OK ||
        itx_fetch_global_init(&d) != ITX_OK) {
        fprintf(stderr, "itx translate: %s\n", d.msg);
        rc = 1;
        goto out;
    }
    if (po.glossary) {
        if (!itx_cli_glossary_load("translate", po.glossary, &gl)) {
            rc = 1;
            goto out;
        }
        o.glossary = gl;
    }
    itx_fetch_opts_init(&fo);
    cfg.fetch = &fo;
    if (itx_pipeline_new(&cfg, &p, &d) != ITX_OK || itx_pipeline_ctx_new(p, &c, &d) != ITX_OK) {
        fprintf(stderr, "itx translate: %s\n", d.msg);
        rc = 1;
        goto out;
    }

    tty = !quiet && isatty(2);
    t0 = itx_now_ms();
    for (int i = 0; i < n_inputs; i++) {
        struct itx_pipeline_source src = {.name = inputs[i]};
        struct itx_pipeline_result res = {0};
        struct itx_fetch_result fr = {0};
        uint8_t *data = NULL;
        size_t len = 0;
        char name[256], path[4400];
        enum itx_status st;

        if (tty)
            progress(i, n_inputs, t0, inputs[i]);
        itx_diag_init(&d);
        if (is_url(inputs[i])) {
            struct itx_store_setting set[3] = {{"to", o.target},
                                               {"provider", provider},
                                               {"glossary", po.glossary ? po.glossary : ""}};
            char key[65];
            st = itx_fetch(&fo, inputs[i], &fr, &d);
            if (st == ITX_OK)
                st = itx_store_cache_key(fr.data, fr.len, set, 3, key, &d);
            if (st == ITX_OK)
                snprintf(name, sizeof(name), "%.16s", key);
            src.data = fr.data;
            src.len = fr.len;
        } else {
            struct itx_image_limits lim;
            itx_image_limits_default(&lim);
            st = itx_file_read(inputs[i], lim.max_bytes, &data, &len, &d);
            stem_of(inputs[i], name, sizeof(name));
            /* a.png and a.jpg (or dir1/a.png and dir2/a.png) must not share outputs */
            for (int j = 0; j < i; j++) {
                char other[256];
                if (is_url(inputs[j]))
                    continue;
                stem_of(inputs[j], other, sizeof(other));
                if (strcmp(other, name) == 0) {
                    size_t nl = strlen(name);
                    snprintf(name + nl, sizeof(name) - nl, "-%d", i + 1);
                    break;
                }
            }
            src.data = data;
            src.len = len;
        }
        if (st == ITX_OK)
            st = itx_pipeline_run(c, &src, &o, &res, &d);
        if (st == ITX_OK) {
            snprintf(path, sizeof(path), "%s/%s.%s", outdir, name, ext_of(res.format));
            st = write_file(path, res.image, res.image_len, &d);
            snprintf(path, sizeof(path), "%s/%s.bg.png", outdir, name);
            if (st == ITX_OK)
                st = write_file(path, res.background, res.background_len, &d);
            snprintf(path, sizeof(path), "%s/%s.regions.json", outdir, name);
            if (st == ITX_OK)
                st = write_file(path, res.regions_json, res.regions_len, &d);
            snprintf(path, sizeof(path), "%s/%s.debug.png", outdir, name);
            if (st == ITX_OK && res.overlay)
                st = write_file(path, res.overlay, res.overlay_len, &d);
            snprintf(path, sizeof(path), "%s/%s.mask.png", outdir, name);
            if (st == ITX_OK && res.mask)
                st = write_file(path, res.mask, res.mask_len, &d);
        }
        if (st != ITX_OK) {
            n_failed++;
            if (tty)
                fputc('\n', stderr);
            /* most messages already name the input; the others get it in front */
            if (strstr(d.msg, inputs[i]))
                fprintf(stderr, "itx translate: %s\n", d.msg);
            else
                fprintf(stderr, "itx translate: %s: %s\n", inputs[i], d.msg);
        } else {
            tot_tr += res.n_translated;
            tot_skip += res.n_skipped;
            tot_flag += res.n_flagged;
        }
        if (json) {
            struct itx_buf b;
            itx_buf_init(&b, 1 << 20);
            itx_buf_puts(&b, "{\"input\":");
            itx_buf_json_str(&b, inputs[i]);
            if (st == ITX_OK) {
                itx_buf_puts(&b, ",\"name\":");
                itx_buf_json_str(&b, name);
                itx_buf_printf(&b,
                               ",\"format\":\"%s\",\"width\":%d,\"height\":%d,\"regions\":%u,"
                               "\"translated\":%u,\"skipped\":%u,\"flagged\":%u,\"ms\":{"
                               "\"fetch\":%.1f,\"decode\":%.1f,\"ocr\":%.1f,\"translate\":%.1f,"
                               "\"erase\":%.1f,\"render\":%.1f,\"qa\":%.1f,\"encode\":%.1f,"
                               "\"total\":%.1f}}\n",
                               itx_image_format_name(res.format), res.width, res.height,
                               res.n_regions, res.n_translated, res.n_skipped, res.n_flagged,
                               res.ms.fetch, res.ms.decode, res.ms.ocr, res.ms.translate,
                               res.ms.erase, res.ms.render, res.ms.qa, res.ms.encode, res.ms.total);
            } else {
                itx_buf_printf(&b, ",\"error\":{\"code\":\"%s\",\"message\":", itx_err_str(st));
                itx_buf_json_str(&b, d.msg);
                itx_buf_puts(&b, "}}\n");
            }
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            itx_buf_release(&b);
        }
        itx_pipeline_result_release(&res);
        itx_fetch_result_release(&fr);
        itx_free(data);
    }
    if (tty)
        progress(n_inputs, n_inputs, t0, "");
    if (!quiet)
        fprintf(stderr,
                "%s%d picture%s (%d failed): %u regions translated, %u skipped, %u flagged, "
                "%.1f s\n",
                tty ? "\n" : "", n_inputs, n_inputs == 1 ? "" : "s", n_failed, tot_tr, tot_skip,
                tot_flag, (itx_now_ms() - t0) / 1000.0);
    rc = n_failed ? 1 : 0;
out:
    itx_pipeline_ctx_free(c);
    itx_pipeline_free(p);
    itx_glossary_free(gl);
    itx_free(inputs);
    return rc;
}
