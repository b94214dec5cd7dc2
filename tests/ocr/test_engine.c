/*
 * The OCR engine API (src/ocr/ocr.c) on the real models: errors for bad models directories,
 * options and pictures; a blank picture has no lines; a generated product picture is read
 * with its known text; two threads sharing one engine, each with its own context, read the
 * same lines as one thread alone; warm-up; the engine outlives its creator's reference.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image.h"
#include "ocr/ocr.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libglib\n";
}

static struct itx_ocr_engine *engine;
static struct itx_image *picture;

/* All lines joined by '|', into a new string. */
static char *
joined(const struct itx_ocr_result *r)
{
    size_t n = 1;
    for (size_t i = 0; i < r->n_lines; i++)
        n += strlen(r->lines[i].text) + 1;
    char *s = itx_malloc(n);
    if (!s)
        return NULL;
    s[0] = 0;
    for (size_t i = 0; i < r->n_lines; i++) {
        if (i)
            strcat(s, "|");
        strcat(s, r->lines[i].text);
    }
    return s;
}

/* Drops spaces and writes the full-width yen sign as the half-width one, in place. */
static void
normalise(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == ' ')
            continue;
        if (!strncmp(p, "\xef\xbf\xa5", 3)) {
            *o++ = '\xc2';
            *o++ = '\xa5';
            p += 2;
            continue;
        }
        *o++ = *p;
    }
    *o = 0;
}

struct job {
    char *text[3];
    int failed;
};

static void *
worker(void *arg)
{
    struct job *j = arg;
    struct itx_ocr_ctx *c = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    if (itx_ocr_ctx_new(engine, 1, &c, &d)) {
        j->failed = 1;
        return NULL;
    }
    for (int k = 0; k < 3; k++) {
        struct itx_ocr_result *r = NULL;
        if (itx_ocr_run(c, picture, NULL, &r, &d)) {
            j->failed = 1;
            break;
        }
        j->text[k] = joined(r);
        itx_ocr_result_free(r);
    }
    itx_ocr_ctx_free(c);
    return NULL;
}

int
main(void)
{
    struct itx_diag d;
    struct itx_ocr_ctx *c = NULL;
    struct itx_ocr_result *r = NULL;
    struct itx_ocr_opts o;
    struct itx_ocr_engine_opts eo;
    struct itx_ocr_engine *e = NULL;
    char dir[] = "/tmp/itx-ocr-engine-XXXXXX", cmd[1024], path[512], *alone = NULL;
    const char *build = getenv("ITX_BUILD_DIR");

    itx_diag_init(&d);
    CHECK_INT(itx_image_init(&d), ITX_OK);

    /* a models directory without models */
    CHECK_INT(itx_ocr_engine_new("/nonexistent-itx-models", NULL, &e, &d), ITX_ERR_NOT_FOUND);
    CHECK_MSG(strstr(d.msg, "nonexistent-itx-models") != NULL, "%s", d.msg);
    CHECK(e == NULL);
    itx_ocr_engine_opts_default(&eo);
    eo.threads = 0;
    CHECK_INT(itx_ocr_engine_new(NULL, &eo, &e, &d), ITX_ERR_INVALID);

    CHECK_MSG(itx_ocr_engine_new(NULL, NULL, &engine, &d) == ITX_OK, "%s", d.msg);
    if (!engine)
        return check_summary();
    CHECK_INT(itx_ocr_ctx_new(engine, 300, &c, &d), ITX_ERR_INVALID);
    CHECK_MSG(itx_ocr_ctx_new(engine, 0, &c, &d) == ITX_OK, "%s", d.msg);

    /* bad options and pictures */
    struct itx_image *blank = itx_image_new(320, 200, 3), *rgba = itx_image_new(64, 64, 4);
    memset(blank->px, 255, blank->stride * (size_t)blank->h);
    itx_ocr_opts_default(&o);
    o.limit_side = 16;
    CHECK_INT(itx_ocr_run(c, blank, &o, &r, &d), ITX_ERR_INVALID);
    CHECK_MSG(strstr(d.msg, "limit side 16") != NULL, "%s", d.msg);
    itx_ocr_opts_default(&o);
    o.drop_score = 2;
    CHECK_INT(itx_ocr_run(c, blank, &o, &r, &d), ITX_ERR_INVALID);
    itx_ocr_opts_default(&o);
    o.rec_batch = 0;
    CHECK_INT(itx_ocr_run(c, blank, &o, &r, &d), ITX_ERR_INVALID);
    CHECK_INT(itx_ocr_run(c, rgba, NULL, &r, &d), ITX_ERR_INVALID);
    CHECK_MSG(strstr(d.msg, "4 channels") != NULL, "%s", d.msg);
    CHECK(r == NULL);

    /* a white picture has no text */
    CHECK_MSG(itx_ocr_run(c, blank, NULL, &r, &d) == ITX_OK, "%s", d.msg);
    if (r) {
        CHECK_INT(r->n_lines, 0);
        CHECK_INT(r->width, 320);
        CHECK_INT(r->n_slices, 1);
        itx_ocr_result_free(r);
        r = NULL;
    }

    /* a product picture with known text */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd),
             "'%s/tools/testset/itx-testset' -o '%s' --count 3 --seed 1 >/dev/null",
             build ? build : ".", dir);
    CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    snprintf(path, sizeof(path), "%s/p0002-mixed.png", dir);
    CHECK_MSG(itx_image_load_file(path, NULL, &picture, NULL, &d) == ITX_OK, "%s", d.msg);
    if (picture) {
        CHECK_MSG(itx_ocr_run(c, picture, NULL, &r, &d) == ITX_OK, "%s", d.msg);
        if (r) {
            alone = joined(r);
            printf("  read: %s\n", alone);
            /* most lines are found verbatim in the ground truth (tools/testset JSON) */
            snprintf(path, sizeof(path), "%s/p0002-mixed.json", dir);
            FILE *f = fopen(path, "rb");
            static char truth[1 << 16];
            size_t n_truth = f ? fread(truth, 1, sizeof(truth) - 1, f) : 0, found = 0;
            truth[n_truth] = 0;
            normalise(truth);
            if (f)
                fclose(f);
            for (size_t i = 0; i < r->n_lines; i++) {
                char want[256];
                snprintf(want, sizeof(want), "\"%s\"", r->lines[i].text);
                normalise(want);
                found += strstr(truth, want) != NULL;
            }
            CHECK_MSG(r->n_lines >= 5 && found == r->n_lines, "%zu of %zu lines in %s", found,
                      r->n_lines, path);
            for (size_t i = 0; i < r->n_lines; i++) {
                const struct itx_ocr_line *l = &r->lines[i];
                CHECK(l->score >= 0.5f && l->score <= 1.0f);
                /* clockwise from top-left: x1 < x2, y2 < y3 */
                CHECK(l->box[0] < l->box[2] && l->box[3] < l->box[5]);
                if (!strcmp(l->text, "iPhone 15"))
                    CHECK(l->flags & ITX_OCR_LATIN_ONLY);
                if (!strcmp(l->text, "无毒无味"))
                    CHECK(l->flags & ITX_OCR_HAN);
            }
            itx_ocr_result_free(r);
            r = NULL;
        }

        /*
         * Allocation failures: with the plans of this picture built, fail the k-th
         * allocation of a run, for every k, until a run succeeds; each failing run must say
         * ITX_ERR_NOMEM, and the run that succeeds reads the same lines.
         */
        int failures = 0;
        for (unsigned long k = 1; k < 100000; k++) {
            itx_alloc_fail_at(k, false);
            enum itx_status st = itx_ocr_run(c, picture, NULL, &r, &d);
            bool injected = itx_alloc_injected();
            itx_alloc_fail_at(0, false);
            if (st == ITX_OK) {
                char *s = joined(r);
                CHECK_MSG(s && alone && !strcmp(s, alone), "after %lu failures: %s", k - 1, s);
                itx_free(s);
                itx_ocr_result_free(r);
                r = NULL;
                if (!injected)
                    break;
                continue;
            }
            CHECK_MSG(st == ITX_ERR_NOMEM, "allocation %lu: %s", k, d.msg);
            CHECK(r == NULL);
            failures++;
        }
        printf("  %d allocation failures injected, each reported\n", failures);
        CHECK(failures > 20);

        /* PaddleOCR's shapes and batches read the same text here */
        itx_ocr_opts_default(&o);
        o.rec_batch = 6;
        o.rec_exact_width = true;
        o.det_exact_size = true;
        CHECK_MSG(itx_ocr_run(c, picture, &o, &r, &d) == ITX_OK, "%s", d.msg);
        if (r && alone) {
            char *s = joined(r);
            CHECK_MSG(s && !strcmp(s, alone), "%s vs %s", s, alone);
            itx_free(s);
        }
        itx_ocr_result_free(r);
        r = NULL;

        /* two threads on one engine read what one thread read */
        pthread_t t[2];
        struct job jobs[2];
        memset(jobs, 0, sizeof(jobs));
        for (int i = 0; i < 2; i++)
            CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0);
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            CHECK(!jobs[i].failed);
            for (int k = 0; k < 3; k++) {
                CHECK_MSG(jobs[i].text[k] && alone && !strcmp(jobs[i].text[k], alone),
                          "thread %d run %d: %s", i, k, jobs[i].text[k]);
                itx_free(jobs[i].text[k]);
            }
        }
    }

    /* warm-up plans the kept shapes; a context keeps the engine alive */
    eo.threads = 1;
    eo.det_max_plans = 1;
    eo.rec_max_plans = 2;
    CHECK_MSG(itx_ocr_engine_new(NULL, &eo, &e, &d) == ITX_OK, "%s", d.msg);
    if (e) {
        struct itx_ocr_ctx *c2 = NULL;
        CHECK_MSG(itx_ocr_ctx_new(e, 0, &c2, &d) == ITX_OK, "%s", d.msg);
        itx_ocr_engine_free(e);
        if (c2) {
            CHECK_MSG(itx_ocr_ctx_warmup(c2, NULL, &d) == ITX_OK, "%s", d.msg);
            CHECK_MSG(itx_ocr_run(c2, blank, NULL, &r, &d) == ITX_OK, "%s", d.msg);
            itx_ocr_result_free(r);
            r = NULL;
        }
        itx_ocr_ctx_free(c2);
    }

    itx_free(alone);
    itx_image_free(picture);
    itx_image_free(blank);
    itx_image_free(rgba);
    itx_ocr_ctx_free(c);
    itx_ocr_engine_free(engine);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_summary();
}
