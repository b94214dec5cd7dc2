/* itx ocr: reads the text in pictures (src/ocr/), as text or one JSON object per picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"
#include "image/image.h"
#include "ocr/ocr.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: itx ocr [options] IMAGE...\n\n"
            "Finds and reads the text lines of each picture (PP-OCR: detection, orientation\n"
            "classifier, recognition). Prints the lines with their boxes, or with --json one\n"
            "JSON object per picture per line (see docs/ocr.md).\n\n"
            "options:\n"
            "  --json             one JSON object per picture\n"
            "  --threads N        threads per inference (default 1)\n"
            "  --limit-side N     detector long side in pixels (default 960)\n"
            "  --drop-score X     drop lines read with a confidence under X (default 0.5)\n"
            "  --no-cls           skip the 180-degree orientation classifier\n"
            "  --no-slice         do not cut tall pictures into slices (PaddleOCR does not)\n"
            "  --no-price-sign    keep a \"?\" read before a digit (PaddleOCR does)\n"
            "  --rec-batch N      lines per recognizer run (default 1)\n"
            "  --paddle           PaddleOCR's own choices, for comparisons: no slices, no\n"
            "                     price-sign reading, exact detector sizes, batches\n"
            "                     of 6 at exact widths\n"
            "  --det-plans N      detector shapes kept planned (default 3, ~92 MiB each at 960)\n"
            "  --models DIR       model directory (default $ITX_MODELS_DIR or the installed one)\n"
            "  --max-pixels N     refuse pictures with more pixels (default 40000000)\n"
            "  --max-side N       refuse pictures with a longer side (default 30000)\n"
            "  --repeat K         read each picture K times (benchmarking; output once)\n"
            "  --warmup           plan every model shape before the first picture\n"
            "  --timing           per-picture milliseconds and a summary (CPU time, peak RSS)\n"
            "                     as JSON lines on stderr\n");
}

static double
cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
           (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

static void
put_num(struct itx_buf *b, float v)
{
    if (v == (float)(long)v)
        itx_buf_printf(b, "%ld", (long)v);
    else
        itx_buf_printf(b, "%.2f", (double)v);
}

static enum itx_status
print_json(const char *path, const struct itx_ocr_result *r)
{
    struct itx_buf b;
    enum itx_status st = ITX_OK;

    itx_buf_init(&b, (size_t)256 << 20);
    itx_buf_puts(&b, "{\"image\":");
    itx_buf_json_str(&b, path);
    itx_buf_printf(&b, ",\"width\":%d,\"height\":%d,\"lines\":[", r->width, r->height);
    for (size_t i = 0; i < r->n_lines; i++) {
        const struct itx_ocr_line *l = &r->lines[i];
        itx_buf_puts(&b, i ? ",{\"box\":[" : "{\"box\":[");
        for (int k = 0; k < 8; k++) {
            if (k)
                itx_buf_putc(&b, ',');
            put_num(&b, l->box[k]);
        }
        itx_buf_puts(&b, "],\"text\":");
        itx_buf_json_str(&b, l->text);
        st = itx_buf_printf(&b, ",\"score\":%.4f,\"han\":%s,\"vertical\":%s}", (double)l->score,
                            l->flags & ITX_OCR_HAN ? "true" : "false",
                            l->flags & ITX_OCR_VERTICAL ? "true" : "false");
    }
    st = itx_buf_puts(&b, "]}\n");
    if (!st)
        fwrite(b.data, 1, b.len, stdout);
    itx_buf_release(&b);
    return st;
}

static void
print_text(const char *path, const struct itx_ocr_result *r)
{
    printf("%s: %dx%d, %zu line%s\n", path, r->width, r->height, r->n_lines,
           r->n_lines == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_lines; i++) {
        const struct itx_ocr_line *l = &r->lines[i];
        float x0 = l->box[0], y0 = l->box[1], x1 = l->box[0], y1 = l->box[1];
        for (int k = 2; k < 8; k += 2) {
            x0 = l->box[k] < x0 ? l->box[k] : x0;
            x1 = l->box[k] > x1 ? l->box[k] : x1;
            y0 = l->box[k + 1] < y0 ? l->box[k + 1] : y0;
            y1 = l->box[k + 1] > y1 ? l->box[k + 1] : y1;
        }
        printf("  [%4.0f,%4.0f %4.0fx%-4.0f] %.2f %s%s%s%s %s\n", (double)x0, (double)y0,
               (double)(x1 - x0), (double)(y1 - y0), (double)l->score,
               l->flags & ITX_OCR_HAN ? "H" : "-", l->flags & ITX_OCR_LATIN_ONLY ? "L" : "-",
               l->flags & ITX_OCR_PRICE ? "P" : "-", l->flags & ITX_OCR_VERTICAL ? "V" : "-",
               l->text);
    }
}

static void
print_error_json(const char *path, const struct itx_diag *d)
{
    struct itx_buf b;
    itx_buf_init(&b, 1 << 16);
    itx_buf_puts(&b, "{\"image\":");
    itx_buf_json_str(&b, path);
    itx_buf_printf(&b, ",\"error\":{\"code\":\"%s\",\"message\":", itx_err_str(d->code));
    itx_buf_json_str(&b, d->msg);
    if (!itx_buf_puts(&b, "}}\n"))
        fwrite(b.data, 1, b.len, stdout);
    itx_buf_release(&b);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
itx_cli_ocr(int argc, char **argv)
{
    struct itx_ocr_engine_opts eo;
    struct itx_ocr_opts o;
    struct itx_image_limits lim;
    struct itx_ocr_engine *e = NULL;
    struct itx_ocr_ctx *c = NULL;
    struct itx_diag d;
    const char *models = NULL;
    bool json = false, warmup = false, timing = false;
    long long v, repeat = 1;
    double *times = NULL, cpu_total = 0;
    size_t n_times = 0;
    int first = 0, rc = 0;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    itx_ocr_engine_opts_default(&eo);
    itx_ocr_opts_default(&o);
    itx_image_limits_default(&lim);
    itx_diag_init(&d);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            first = i + 1;
            break;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--no-cls") == 0) {
            o.use_cls = false;
        } else if (strcmp(a, "--paddle") == 0) {
            o.tall_ratio = 0;
            o.price_sign = false;
            o.rec_batch = 6;
            o.rec_exact_width = true;
            o.det_exact_size = true;
        } else if (strcmp(a, "--rec-batch") == 0 && val && itx_parse_int(val, 1, 64, &v)) {
            o.rec_batch = (int)v;
            i++;
        } else if (strcmp(a, "--det-plans") == 0 && val && itx_parse_int(val, 1, 64, &v)) {
            eo.det_max_plans = (int)v;
            i++;
        } else if (strcmp(a, "--no-price-sign") == 0) {
            o.price_sign = false;
        } else if (strcmp(a, "--no-slice") == 0) {
            o.tall_ratio = 0;
        } else if (strcmp(a, "--warmup") == 0) {
            warmup = true;
        } else if (strcmp(a, "--timing") == 0) {
            timing = true;
        } else if (strcmp(a, "--models") == 0 && val) {
            models = val;
            i++;
        } else if (strcmp(a, "--threads") == 0 && val && itx_parse_int(val, 1, 256, &v)) {
            eo.threads = (int)v;
            i++;
        } else if (strcmp(a, "--limit-side") == 0 && val && itx_parse_int(val, 32, 4096, &v)) {
            o.limit_side = (int)v;
            i++;
        } else if (strcmp(a, "--max-pixels") == 0 && val &&
                   itx_parse_int(val, 64, 1000000000, &v)) {
            lim.max_pixels = (uint64_t)v;
            i++;
        } else if (strcmp(a, "--max-side") == 0 && val && itx_parse_int(val, 8, 1000000, &v)) {
            lim.max_side = (int)v;
            i++;
        } else if (strcmp(a, "--repeat") == 0 && val && itx_parse_int(val, 1, 1000, &v)) {
            repeat = v;
            i++;
        } else if (strcmp(a, "--drop-score") == 0 && val) {
            char *end;
            double x = strtod(val, &end);
            if (end == val || *end || !(x >= 0 && x <= 1)) {
                fprintf(stderr, "itx ocr: --drop-score '%s' is not a number in 0..1\n", val);
                return 2;
            }
            o.drop_score = (float)x;
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "itx ocr: unknown option or bad value '%s'; see 'itx ocr --help'\n", a);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    if (!first || first >= argc) {
        fprintf(stderr, "itx ocr: no pictures given; see 'itx ocr --help'\n");
        return 2;
    }
    if (itx_image_init(&d) || itx_ocr_engine_new(models, &eo, &e, &d) ||
        itx_ocr_ctx_new(e, 0, &c, &d)) {
        fprintf(stderr, "itx ocr: %s\n", d.msg);
        rc = 1;
        goto out;
    }
    if (warmup) {
        double t = itx_now_ms();
        if (itx_ocr_ctx_warmup(c, &o, &d)) {
            fprintf(stderr, "itx ocr: %s\n", d.msg);
            rc = 1;
            goto out;
        }
        if (timing)
            fprintf(stderr, "{\"warmup_ms\":%.1f}\n", itx_now_ms() - t);
    }
    times = itx_malloc_array((size_t)(argc - first) * (size_t)repeat, sizeof(double));
    if (!times) {
        fprintf(stderr, "itx ocr: out of memory\n");
        rc = 1;
        goto out;
    }
    for (int i = first; i < argc; i++) {
        struct itx_image *img = NULL;
        struct itx_ocr_result *r = NULL;
        double t0 = itx_now_ms(), c0 = cpu_ms();
        enum itx_status st;

        itx_diag_init(&d);
        st = itx_image_load_file(argv[i], &lim, &img, NULL, &d);
        for (long long k = 0; !st && k < repeat; k++) {
            if (k) {
                itx_ocr_result_free(r);
                r = NULL;
                t0 = itx_now_ms();
                c0 = cpu_ms();
            }
            st = itx_ocr_run(c, img, &o, &r, &d);
            if (!st) {
                double ms = itx_now_ms() - t0, cms = cpu_ms() - c0;
                times[n_times++] = ms;
                cpu_total += cms;
                if (timing)
                    fprintf(stderr,
                            "{\"image\":\"%s\",\"ms\":%.1f,\"cpu_ms\":%.1f,\"det_ms\":%.1f,"
                            "\"cls_ms\":%.1f,\"rec_ms\":%.1f,\"boxes\":%zu,\"lines\":%zu}\n",
                            argv[i], ms, cms, r->det_ms, r->cls_ms, r->rec_ms, r->n_detected,
                            r->n_lines);
            }
        }
        if (st && d.code == ITX_OK)
            itx_diag_set(&d, st, "failed");
        if (st) {
            if (!strstr(d.msg, argv[i]))
                itx_diag_prefix(&d, "'%s'", argv[i]);
            fprintf(stderr, "itx ocr: %s\n", d.msg);
            if (json)
                print_error_json(argv[i], &d);
            rc = 1;
        } else if (json) {
            if (print_json(argv[i], r)) {
                fprintf(stderr, "itx ocr: '%s': output over the size limit\n", argv[i]);
                rc = 1;
            }
        } else {
            print_text(argv[i], r);
        }
        fflush(stdout);
        itx_ocr_result_free(r);
        itx_image_free(img);
    }
    if (timing) {
        struct rusage ru;
        double med = 0;
        getrusage(RUSAGE_SELF, &ru);
        if (n_times) {
            qsort(times, n_times, sizeof(double), cmp_double);
            med = n_times % 2 ? times[n_times / 2]
                              : (times[n_times / 2 - 1] + times[n_times / 2]) / 2;
        }
        fprintf(stderr,
                "{\"summary\":true,\"images\":%zu,\"threads\":%d,\"median_ms\":%.1f,"
                "\"cpu_ms_per_image\":%.1f,\"peak_rss_mb\":%.1f}\n",
                n_times, eo.threads, med, n_times ? cpu_total / (double)n_times : 0.0,
                (double)ru.ru_maxrss / 1024.0);
    }
out:
    itx_free(times);
    itx_ocr_ctx_free(c);
    itx_ocr_engine_free(e);
    return rc;
}
