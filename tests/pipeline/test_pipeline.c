/*
 * The pipeline end to end on a synthetic set (itx-testset, known clean backgrounds): runs
 * `itx translate --provider dict --debug` on the pictures and checks, with its own OCR of
 * the outputs, that Chinese is gone from the translated regions, that the English reads
 * back, that nothing outside the erase mask and the drawn text changed, and that the erase
 * matches the clean background on flat and gradient pictures; then that `itx render` of an
 * edited regions file shows the edit. Also the library's error paths (bad data,
 * cancellation).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>

#include "../check.h"
#include "core/alloc.h"
#include "core/util.h"
#include "image/image.h"
#include "ocr/ocr.h"
#include "pipeline/pipeline.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libx265\nleak:libheif\n"
           "leak:libdav1d\nleak:libde265\nleak:libaom\nleak:libgomp\n";
}

#define N_PICS 8

static struct itx_ocr_ctx *ocr;
static char set_dir[1024], out_dir[1024];

struct totals {
    int regions, han_free;
    long chars, chars_ok;
    double mae_sum;
    long mae_n;
    int pics;
};

/*
 * The itx binary has no LeakSanitizer suppressions of its own; the font libraries keep
 * process-lifetime caches that LSan reports in sanitizer builds (not ours).
 */
static char lsan_env[1200];

static bool
run(const char *cmd)
{
    char full[10000];
    int rc;
    snprintf(full, sizeof(full), "%s %s", lsan_env, cmd);
    rc = system(full);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc == 0;
}

/* Lowercase letters and digits only: OCR drops spaces between words. */
static size_t
normalise(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

static size_t
levenshtein(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), *row = itx_calloc(nb + 1, sizeof(size_t)), r;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    r = row[nb];
    itx_free(row);
    return r;
}

static struct itx_image *
load(const char *dir, const char *name, const char *suffix)
{
    char path[2200];
    struct itx_image *img = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix);
    if (itx_image_load_file(path, NULL, &img, NULL, &d) != ITX_OK)
        fprintf(stderr, "%s\n", d.msg);
    return img;
}

static void
area_of(json_t *r, float a[4])
{
    const char *keys[2] = {"quad", "draw_quad"};
    a[0] = a[1] = 1e9f;
    a[2] = a[3] = -1e9f;
    for (int k = 0; k < 2; k++) {
        json_t *q = json_object_get(r, keys[k]);
        for (size_t i = 0; i < 8 && json_array_size(q) == 8; i += 2) {
            float x = (float)json_number_value(json_array_get(q, i));
            float y = (float)json_number_value(json_array_get(q, i + 1));
            a[0] = fminf(a[0], x), a[2] = fmaxf(a[2], x);
            a[1] = fminf(a[1], y), a[3] = fmaxf(a[3], y);
        }
    }
}

/* The OCR lines whose centre lies in area a: Chinese found, and the rest joined. */
static bool
read_area(const struct itx_ocr_result *r, const float a[4], char *text, size_t size)
{
    bool han = false;
    text[0] = '\0';
    for (size_t i = 0; i < r->n_lines; i++) {
        const struct itx_ocr_line *l = &r->lines[i];
        float cx = (l->box[0] + l->box[2] + l->box[4] + l->box[6]) / 4;
        float cy = (l->box[1] + l->box[3] + l->box[5] + l->box[7]) / 4;
        if (cx < a[0] || cx > a[2] || cy < a[1] || cy > a[3])
            continue;
        if (l->flags & ITX_OCR_HAN)
            han = true;
        else
            strncat(text, l->text, size - strlen(text) - 1);
    }
    return han;
}

/*
 * Pixels that may change: the erase mask, and the drawn ink boxes of the regions grown by
 * their outline and two pixels of anti-aliasing.
 */
static uint8_t *
allowed_map(const struct itx_image *mask, json_t *regions)
{
    uint8_t *m = itx_calloc((size_t)mask->w * (size_t)mask->h, 1);
    for (int y = 0; y < mask->h; y++)
        for (int x = 0; x < mask->w; x++)
            m[(size_t)y * (size_t)mask->w + (size_t)x] = *itx_image_at(mask, x, y) ? 1 : 0;
    for (size_t i = 0; i < json_array_size(regions); i++) {
        json_t *r = json_array_get(regions, i), *ink = json_object_get(r, "ink");
        float ow = (float)json_number_value(json_object_get(r, "outline_width"));
        if (json_array_size(ink) != 4)
            continue;
        float g = 3 + ceilf(ow);
        int x0 = (int)floorf((float)json_number_value(json_array_get(ink, 0)) - g);
        int y0 = (int)floorf((float)json_number_value(json_array_get(ink, 1)) - g);
        int x1 = (int)ceilf((float)json_number_value(json_array_get(ink, 0)) +
                            (float)json_number_value(json_array_get(ink, 2)) + g);
        int y1 = (int)ceilf((float)json_number_value(json_array_get(ink, 1)) +
                            (float)json_number_value(json_array_get(ink, 3)) + g);
        for (int y = y0 < 0 ? 0 : y0; y < y1 && y < mask->h; y++)
            for (int x = x0 < 0 ? 0 : x0; x < x1 && x < mask->w; x++)
                m[(size_t)y * (size_t)mask->w + (size_t)x] = 1;
    }
    return m;
}

static void
check_picture(json_t *pic, bool jpeg, struct totals *t)
{
    const char *name = json_string_value(json_object_get(pic, "name"));
    const char *kind = json_string_value(json_object_get(pic, "background_kind"));
    char oname[128], path[2200];
    struct itx_image *in = NULL, *out = NULL, *bg = NULL, *mask = NULL, *clean = NULL;
    struct itx_ocr_result *r = NULL;
    json_t *rj = NULL, *regions;
    json_error_t je;
    struct itx_diag d;
    uint8_t *allowed = NULL;

    itx_diag_init(&d);
    snprintf(oname, sizeof(oname), "%s%s", name, jpeg ? "-jpg" : "");
    in = load(set_dir, name, jpeg ? ".jpg" : ".png");
    out = load(out_dir, oname, jpeg ? ".jpg" : ".png");
    bg = load(out_dir, oname, ".bg.png");
    mask = load(out_dir, oname, ".mask.png");
    clean = load(set_dir, name, ".bg.png");
    snprintf(path, sizeof(path), "%s/%s.regions.json", out_dir, oname);
    rj = json_load_file(path, 0, &je);
    CHECK_MSG(in && out && bg && mask && clean && rj, "%s: missing outputs", oname);
    if (!in || !out || !bg || !mask || !clean || !rj)
        goto out;
    CHECK(out->w == in->w && out->h == in->h && bg->w == in->w && mask->w == in->w);
    regions = json_object_get(rj, "regions");
    CHECK(json_is_array(regions));

    /* OCR of the output: no Chinese left, the English reads back */
    CHECK_INT(itx_ocr_run(ocr, out, NULL, &r, &d), ITX_OK);
    for (size_t i = 0; r && i < json_array_size(regions); i++) {
        json_t *rg = json_array_get(regions, i);
        const char *tr = json_string_value(json_object_get(rg, "translation"));
        const char *skip = json_string_value(json_object_get(rg, "skip"));
        char text[4096], a[4096], b[4096];
        float area[4];
        bool han;
        size_t na, dist;
        if (json_integer_value(json_object_get(rg, "block")) < 0 || !tr || !*tr || (skip && *skip))
            continue;
        area_of(rg, area);
        han = read_area(r, area, text, sizeof(text));
        t->regions++;
        t->han_free += !han;
        na = normalise(tr, a, sizeof(a));
        normalise(text, b, sizeof(b));
        dist = levenshtein(a, b);
        t->chars += (long)na;
        t->chars_ok += (long)na - (long)(dist < na ? dist : na);
        if (han || dist * 4 > na)
            printf("  %s region %zu: '%s' read back as '%s'%s\n", oname, i, tr, text,
                   han ? " (Chinese left)" : "");
    }

    /* outside the mask the background is the input; outside mask and text, so is the output */
    allowed = allowed_map(mask, regions);
    {
        long bad_bg = 0, bad_out = 0, n_out = 0;
        double se = 0;
        for (int y = 0; y < in->h; y++)
            for (int x = 0; x < in->w; x++) {
                const uint8_t *pi = itx_image_at(in, x, y), *pb = itx_image_at(bg, x, y),
                              *po = itx_image_at(out, x, y);
                bool m = *itx_image_at(mask, x, y) != 0;
                if (!m && memcmp(pi, pb, 3) != 0)
                    bad_bg++;
                if (allowed[(size_t)y * (size_t)in->w + (size_t)x])
                    continue;
                n_out++;
                for (int c = 0; c < 3; c++)
                    se += (double)(pi[c] - po[c]) * (pi[c] - po[c]);
                bad_out += memcmp(pi, po, 3) != 0;
            }
        CHECK_MSG(bad_bg == 0, "%s: %ld background pixels changed outside the mask", oname, bad_bg);
        if (jpeg) {
            double mse = se / (3.0 * (double)(n_out ? n_out : 1));
            double psnr = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99;
            CHECK_MSG(psnr >= 40, "%s: PSNR %.1f dB outside the masks", oname, psnr);
        } else {
            CHECK_MSG(bad_out == 0, "%s: %ld output pixels changed outside mask and text", oname,
                      bad_out);
        }
    }

    /* inside the mask, the erase against the clean background (flat and gradient only) */
    if (!jpeg && kind && (strcmp(kind, "flat") == 0 || strcmp(kind, "gradient") == 0)) {
        double sum = 0;
        long n = 0;
        for (int y = 0; y < in->h; y++)
            for (int x = 0; x < in->w; x++) {
                if (!*itx_image_at(mask, x, y))
                    continue;
                const uint8_t *pb = itx_image_at(bg, x, y), *pc = itx_image_at(clean, x, y);
                for (int c = 0; c < 3; c++)
                    sum += fabs((double)pb[c] - (double)pc[c]);
                n += 3;
            }
        t->mae_sum += sum;
        t->mae_n += n;
        printf("  %s (%s): MAE inside the mask %.2f over %ld pixels\n", oname, kind,
               n ? sum / (double)n : 0.0, n / 3);
    }
    t->pics++;
out:
    itx_free(allowed);
    itx_ocr_result_free(r);
    if (rj)
        json_decref(rj);
    itx_image_free(in);
    itx_image_free(out);
    itx_image_free(bg);
    itx_image_free(mask);
    itx_image_free(clean);
}

static void
test_translate_set(const char *bin)
{
    char cmd[8192], path[2200];
    json_t *index;
    json_error_t je;
    struct totals t = {0};
    size_t n;

    snprintf(path, sizeof(path), "%s/index.json", set_dir);
    index = json_load_file(path, 0, &je);
    CHECK(index != NULL);
    if (!index)
        return;
    n = json_array_size(json_object_get(index, "pictures"));
    /* every PNG, and the JPEG copies under another name */
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/jpg && cd %s && for f in *.jpg; do cp \"$f\" "
             "\"jpg/${f%%.jpg}-jpg.jpg\"; done",
             set_dir, set_dir);
    CHECK(run(cmd));
    snprintf(cmd, sizeof(cmd),
             "cd %s && %s translate --provider dict --debug --quiet -o %s $(ls p*.png | grep -v "
             "'\\.bg\\.png\\|\\.mask\\.png') jpg/*.jpg",
             set_dir, bin, out_dir);
    CHECK(run(cmd));
    for (size_t i = 0; i < n; i++) {
        json_t *pic = json_array_get(json_object_get(index, "pictures"), i);
        const char *name = json_string_value(json_object_get(pic, "name"));
        struct stat st;
        check_picture(pic, false, &t);
        snprintf(path, sizeof(path), "%s/%s.jpg", set_dir, name);
        if (stat(path, &st) == 0)
            check_picture(pic, true, &t);
    }
    {
        double han_free = t.regions ? (double)t.han_free / t.regions : 0;
        double acc = t.chars ? (double)t.chars_ok / (double)t.chars : 0;
        double mae = t.mae_n ? t.mae_sum / (double)t.mae_n : 0;
        printf("%d pictures, %d translated regions: no Chinese left in %.1f%%, English read back "
               "%.1f%%, MAE in masks (flat/gradient) %.2f\n",
               t.pics, t.regions, 100 * han_free, 100 * acc, mae);
        CHECK(t.regions >= 10);
        CHECK_MSG(han_free >= 0.97, "Chinese left in %.1f%% of regions", 100 * (1 - han_free));
        CHECK_MSG(acc >= 0.90, "English read back at %.1f%%", 100 * acc);
        CHECK_MSG(t.mae_n > 0 && mae <= 6, "MAE inside masks %.2f", mae);
    }
    json_decref(index);
}

/* itx render of an edited regions file draws the edit. */
static void
test_render_edit(const char *bin)
{
    char path[2200], cmd[8192], text[4096], a[256];
    json_t *rj;
    json_error_t je;
    struct itx_image *img = NULL;
    struct itx_ocr_result *r = NULL;
    struct itx_diag d;
    size_t target = (size_t)-1;

    itx_diag_init(&d);
    snprintf(path, sizeof(path), "%s/p0002-mixed.regions.json", out_dir);
    rj = json_load_file(path, 0, &je);
    CHECK(rj != NULL);
    if (!rj)
        return;
    json_t *regions = json_object_get(rj, "regions");
    for (size_t i = 0; i < json_array_size(regions); i++) {
        json_t *rg = json_array_get(regions, i);
        if (json_integer_value(json_object_get(rg, "block")) >= 0 &&
            json_number_value(json_object_get(rg, "font_size")) >= 20 && target == (size_t)-1)
            target = i;
    }
    CHECK(target != (size_t)-1);
    if (target == (size_t)-1) {
        json_decref(rj);
        return;
    }
    json_object_set_new(json_array_get(regions, target), "translation", json_string("Zebra 42"));
    snprintf(path, sizeof(path), "%s/edited.json", out_dir);
    CHECK(json_dump_file(rj, path, 0) == 0);
    snprintf(cmd, sizeof(cmd), "%s render %s/p0002-mixed.bg.png %s -o %s/edited.png", bin, out_dir,
             path, out_dir);
    CHECK(run(cmd));
    img = load(out_dir, "edited", ".png");
    CHECK(img != NULL);
    if (img && itx_ocr_run(ocr, img, NULL, &r, &d) == ITX_OK) {
        float area[4];
        area_of(json_array_get(regions, target), area);
        read_area(r, area, text, sizeof(text));
        normalise(text, a, sizeof(a));
        CHECK_MSG(strstr(a, "zebra42") != NULL, "edited region reads '%s'", text);
    }
    /* a broken regions file is refused with the field named */
    snprintf(path, sizeof(path), "%s/broken.json", out_dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"regions\": [{\"block\": 0, \"translation\": \"x\", \"box\": {}}]}", f);
        fclose(f);
    }
    snprintf(cmd, sizeof(cmd), "%s render %s/p0002-mixed.bg.png %s -o %s/x.png 2>/dev/null", bin,
             out_dir, path, out_dir);
    {
        char full[10000];
        snprintf(full, sizeof(full), "%s %s", lsan_env, cmd);
        CHECK(system(full) != 0);
    }
    itx_ocr_result_free(r);
    itx_image_free(img);
    json_decref(rj);
}

static bool
cancel_now(void *arg)
{
    (void)arg;
    return true;
}

/* Two workers on one pipeline, each with its own context, at the same time. */
struct worker {
    struct itx_pipeline *p;
    const uint8_t *data;
    size_t len;
    bool warm; /* itx_pipeline_ctx_warmup before the run */
    struct itx_pipeline_result res;
    enum itx_status st;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct itx_pipeline_ctx *c = NULL;
    struct itx_pipeline_opts o;
    struct itx_pipeline_source s = {.data = w->data, .len = w->len, .name = "worker"};
    struct itx_diag d;
    itx_diag_init(&d);
    itx_pipeline_opts_default(&o);
    o.no_qa = true;
    w->st = itx_pipeline_ctx_new(w->p, &c, &d);
    if (w->st == ITX_OK && w->warm)
        w->st = itx_pipeline_ctx_warmup(c, &d);
    if (w->st == ITX_OK)
        w->st = itx_pipeline_run(c, &s, &o, &w->res, &d);
    itx_pipeline_ctx_free(c);
    return NULL;
}

/* The library: bad data is refused with a reason, cancellation stops the run. */
static void
test_library(void)
{
    struct itx_pipeline_config cfg = {0};
    struct itx_pipeline *p = NULL;
    struct itx_pipeline_ctx *c = NULL;
    struct itx_pipeline_opts o;
    struct itx_pipeline_result res = {0};
    struct itx_diag d;
    uint8_t *png = NULL;
    size_t len = 0;
    char path[2200];

    itx_diag_init(&d);
    CHECK_INT(itx_pipeline_new(&cfg, &p, &d), ITX_OK);
    if (!p) {
        fprintf(stderr, "%s\n", d.msg);
        return;
    }
    CHECK_INT(itx_pipeline_ctx_new(p, &c, &d), ITX_OK);
    itx_pipeline_opts_default(&o);
    {
        struct itx_pipeline_source s = {
            .data = (const uint8_t *)"<html></html>", .len = 13, .name = "page"};
        CHECK_INT(itx_pipeline_run(c, &s, &o, &res, &d), ITX_ERR_UNSUPPORTED);
        CHECK(strstr(d.msg, "HTML") != NULL || strstr(d.msg, "html") != NULL);
    }
    snprintf(path, sizeof(path), "%s/p0002-mixed.png", set_dir);
    CHECK_INT(itx_file_read(path, 1 << 26, &png, &len, &d), ITX_OK);
    {
        struct itx_pipeline_source s = {.data = png, .len = len, .name = "p0002"};
        struct itx_pipeline_source two[2] = {s, s};
        struct itx_pipeline_result rr[2] = {{0}};
        o.cancelled = cancel_now;
        CHECK_INT(itx_pipeline_run(c, &s, &o, &res, &d), ITX_ERR_CANCELLED);
        o.cancelled = NULL;
        o.format = ITX_IMAGE_FORMAT_JPEG;
        o.no_qa = true;
        /* two pictures of one product in one call */
        CHECK_INT(itx_pipeline_run_group(c, two, 2, &o, rr, &d), ITX_OK);
        CHECK(rr[0].format == ITX_IMAGE_FORMAT_JPEG && rr[0].image_len > 3 &&
              rr[0].image[0] == 0xff && rr[0].image[1] == 0xd8);
        CHECK(rr[0].n_translated > 0 && rr[0].n_translated == rr[1].n_translated);
        CHECK(rr[0].regions_json && strstr(rr[0].regions_json, "\"regions\"") != NULL);
        itx_pipeline_result_release(&rr[0]);
        itx_pipeline_result_release(&rr[1]);
    }
    {
        /* One context warmed up (every shape planned while the other plans its own, both
         * filling the models' shared weight cache), one not: the same picture comes out. */
        struct worker w[2] = {{.p = p, .data = png, .len = len, .warm = true},
                              {.p = p, .data = png, .len = len}};
        pthread_t th[2];
        bool started[2];
        for (int i = 0; i < 2; i++)
            started[i] = pthread_create(&th[i], NULL, worker_main, &w[i]) == 0;
        for (int i = 0; i < 2; i++)
            if (started[i])
                pthread_join(th[i], NULL);
        CHECK(started[0] && started[1]);
        CHECK_INT(w[0].st, ITX_OK);
        CHECK_INT(w[1].st, ITX_OK);
        CHECK(w[0].res.image_len == w[1].res.image_len && w[0].res.image && w[1].res.image &&
              memcmp(w[0].res.image, w[1].res.image, w[0].res.image_len) == 0);
        itx_pipeline_result_release(&w[0].res);
        itx_pipeline_result_release(&w[1].res);
    }
    itx_free(png);
    itx_pipeline_ctx_free(c);
    itx_pipeline_free(p);
}

int
main(void)
{
    const char *b = getenv("ITX_BUILD_DIR");
    char bin[1100], cmd[4400];
    struct itx_ocr_engine *e = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    if (!b || itx_image_init(&d) != ITX_OK) {
        fprintf(stderr, "ITX_BUILD_DIR unset or no libvips\n");
        return 1;
    }
    snprintf(bin, sizeof(bin), "%s/itx", b);
    snprintf(set_dir, sizeof(set_dir), "%s/testset-pipeline-%d", b, N_PICS);
    snprintf(out_dir, sizeof(out_dir), "%s/testset-pipeline-%d/out", b, N_PICS);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s && %s/tools/testset/itx-testset -o %s --count %d --seed 7 > /dev/null",
             set_dir, b, set_dir, N_PICS);
    if (!run(cmd))
        return 1;
    {
        char supp[1100];
        FILE *f;
        snprintf(supp, sizeof(supp), "%s/lsan.supp", set_dir);
        f = fopen(supp, "w");
        if (!f)
            return 1;
        fputs("leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libgomp\n", f);
        fclose(f);
        snprintf(lsan_env, sizeof(lsan_env), "export LSAN_OPTIONS=suppressions=%s;", supp);
    }
    if (itx_ocr_engine_new(NULL, NULL, &e, &d) != ITX_OK ||
        itx_ocr_ctx_new(e, 1, &ocr, &d) != ITX_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    test_translate_set(bin);
    test_render_edit(bin);
    test_library();
    itx_ocr_ctx_free(ocr);
    itx_ocr_engine_free(e);
    return check_summary();
}
