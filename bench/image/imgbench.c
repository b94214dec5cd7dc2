/*
 * itx-imgbench: times src/image's decode -> resize -> encode on picture files, for
 * bench/bench-image.mjs, which runs sharp (libvips) on the same files and compares.
 *   itx-imgbench [--repeat N] [--scale F] [--quality Q] FILE...
 * For each file: read once, then N times decode, resize by F (area filter) and encode in
 * the input's output format (itx_image_output_format) at quality Q. Prints one JSON line
 * per file with the median milliseconds of each step and the output size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "image/image.h"

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    int repeat = 5, quality = 90, i = 1;
    double scale = 0.5;

    for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (i + 1 >= argc)
            break;
        if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--scale"))
            scale = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--quality"))
            quality = atoi(argv[i + 1]);
    }
    if (i >= argc || repeat < 1 || repeat > 1000 || !(scale > 0 && scale <= 1)) {
        fprintf(stderr, "usage: itx-imgbench [--repeat N] [--scale F] [--quality Q] FILE...\n");
        return 2;
    }
    for (; i < argc; i++) {
        uint8_t *data = NULL;
        size_t len = 0, out_len = 0;
        double *t = calloc((size_t)repeat * 3, sizeof(double));
        struct itx_diag d;
        int w = 0, h = 0;
        const char *fmt = "";

        itx_diag_init(&d);
        if (!t || itx_file_read(argv[i], 64u << 20, &data, &len, &d) != ITX_OK) {
            fprintf(stderr, "itx-imgbench: %s: %s\n", argv[i], d.msg);
            return 1;
        }
        for (int r = 0; r < repeat; r++) {
            struct itx_image *img = NULL, *small = NULL;
            struct itx_image_info info;
            uint8_t *out = NULL;
            double t0 = itx_now_ms(), t1, t2;
            if (itx_image_decode(data, len, NULL, &img, &info, &d) != ITX_OK) {
                fprintf(stderr, "itx-imgbench: %s: %s\n", argv[i], d.msg);
                return 1;
            }
            t1 = itx_now_ms();
            w = (int)(img->w * scale + 0.5), h = (int)(img->h * scale + 0.5);
            if (itx_image_resize(img, w, h, ITX_IMAGE_FILTER_AREA, &small, &d) != ITX_OK)
                return 1;
            t2 = itx_now_ms();
            fmt = itx_image_format_name(itx_image_output_format(info.format));
            if (itx_image_encode(small, itx_image_output_format(info.format), quality, &out,
                                 &out_len, &d) != ITX_OK) {
                fprintf(stderr, "itx-imgbench: %s: %s\n", argv[i], d.msg);
                return 1;
            }
            t[r] = t1 - t0, t[repeat + r] = t2 - t1, t[2 * repeat + r] = itx_now_ms() - t2;
            itx_free(out);
            itx_image_free(small);
            itx_image_free(img);
        }
        printf("{\"file\":\"%s\",\"out\":\"%s\",\"w\":%d,\"h\":%d,\"decode_ms\":%.3f,"
               "\"resize_ms\":%.3f,\"encode_ms\":%.3f,\"bytes\":%zu}\n",
               argv[i], fmt, w, h, median(t, repeat), median(t + repeat, repeat),
               median(t + 2 * repeat, repeat), out_len);
        free(t);
        itx_free(data);
    }
    return 0;
}
