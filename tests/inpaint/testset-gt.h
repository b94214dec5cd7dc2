/*
 * Test helper shared by tests/inpaint and tests/render: generates a small synthetic set with
 * itx-testset (once per build directory) and loads one picture's ground truth as render
 * lines (quad, text, vertical flag), with the known clean background and text mask.
 */
#ifndef ITX_TESTS_TESTSET_GT_H
#define ITX_TESTS_TESTSET_GT_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "image/image.h"
#include "render/render.h"

struct gt_pic {
    char name[64];
    char kind[32];  /* background kind */
    char scene[32];
    struct itx_image *img, *bg, *mask;
    size_t n_lines;
    struct itx_render_line *lines;
    char **texts;
    int *block; /* ground-truth block ids */
    json_t *root;
};

/* Directory of the set (made on first use); NULL when it cannot be made. */
static const char *
gt_dir(int count)
{
    static char dir[1024];
    char cmd[2300], probe[1100];
    const char *b = getenv("ITX_BUILD_DIR");
    struct stat st;
    if (!b)
        return NULL;
    snprintf(dir, sizeof(dir), "%s/testset-render-%d", b, count);
    snprintf(probe, sizeof(probe), "%s/index.json", dir);
    if (stat(probe, &st) == 0)
        return dir;
    snprintf(cmd, sizeof(cmd), "%s/tools/testset/itx-testset -o %s --count %d --seed 7 > /dev/null",
             b, dir, count);
    if (system(cmd) != 0)
        return NULL;
    return dir;
}

static void
gt_free(struct gt_pic *p)
{
    itx_image_free(p->img);
    itx_image_free(p->bg);
    itx_image_free(p->mask);
    itx_free(p->lines);
    itx_free(p->texts);
    itx_free(p->block);
    if (p->root)
        json_decref(p->root);
    memset(p, 0, sizeof(*p));
}

static struct itx_image *
gt_load_png(const char *dir, const char *file, int channels)
{
    char path[1400];
    struct itx_image *img = NULL, *g = NULL;
    struct itx_diag d;
    itx_diag_init(&d);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (itx_image_load_file(path, NULL, &img, NULL, &d) != ITX_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, d.msg);
        return NULL;
    }
    if (channels == 1) {
        g = itx_image_new(img->w, img->h, 1);
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++)
                g->px[(size_t)y * g->stride + (size_t)x] = itx_image_at(img, x, y)[0];
        itx_image_free(img);
        return g;
    }
    return img;
}

/* Loads picture number i of the set (0-based); false when there is no such picture. */
static bool
gt_load(const char *dir, int i, struct gt_pic *p)
{
    char path[1400];
    json_t *idx, *pics, *pic, *lines;
    json_error_t err;
    memset(p, 0, sizeof(*p));
    snprintf(path, sizeof(path), "%s/index.json", dir);
    idx = json_load_file(path, 0, &err);
    if (!idx)
        return false;
    pics = json_object_get(idx, "pictures");
    pic = json_array_get(pics, (size_t)i);
    if (!pic) {
        json_decref(idx);
        return false;
    }
    snprintf(p->name, sizeof(p->name), "%s", json_string_value(json_object_get(pic, "name")));
    json_decref(idx);
    snprintf(path, sizeof(path), "%s/%s.json", dir, p->name);
    p->root = json_load_file(path, 0, &err);
    if (!p->root)
        return false;
    snprintf(p->kind, sizeof(p->kind), "%s",
             json_string_value(json_object_get(p->root, "background_kind")));
    snprintf(p->scene, sizeof(p->scene), "%s", json_string_value(json_object_get(p->root, "scene")));
    lines = json_object_get(p->root, "lines");
    p->n_lines = json_array_size(lines);
    p->lines = itx_calloc(p->n_lines + 1, sizeof(*p->lines));
    p->texts = itx_calloc(p->n_lines + 1, sizeof(*p->texts));
    p->block = itx_calloc(p->n_lines + 1, sizeof(*p->block));
    for (size_t k = 0; k < p->n_lines; k++) {
        json_t *l = json_array_get(lines, k), *box = json_object_get(l, "box");
        for (int c = 0; c < 8; c++)
            p->lines[k].quad[c] = (float)json_number_value(json_array_get(box, (size_t)c));
        p->texts[k] = (char *)json_string_value(json_object_get(l, "text"));
        p->lines[k].text = p->texts[k];
        p->lines[k].vertical =
            !strcmp(json_string_value(json_object_get(l, "orientation")), "vertical");
        p->block[k] = (int)json_integer_value(json_object_get(l, "block"));
    }
    snprintf(path, sizeof(path), "%s.png", p->name);
    p->img = gt_load_png(dir, path, 3);
    snprintf(path, sizeof(path), "%s.bg.png", p->name);
    p->bg = gt_load_png(dir, path, 3);
    snprintf(path, sizeof(path), "%s.mask.png", p->name);
    p->mask = gt_load_png(dir, path, 1);
    return p->img && p->bg && p->mask;
}

#endif
