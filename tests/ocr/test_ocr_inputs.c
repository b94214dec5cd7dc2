/*
 * Bad and unusual input through `itx ocr --json`: each file gives a clear error or a
 * sensible result, never a crash, and the process stays under a memory bound far below
 * what decoding the declared sizes would take. Run as: test_ocr_inputs ITX_BIN.
 * The pictures are made here with libvips; one with text comes from itx-testset.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vips/vips.h>

#include "check.h"

/* No inference state is held at these sizes: the models, one plan and the picture. */
#define MEM_BOUND_MB 600

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libglib\nleak:libvips\n";
}

static char dir[] = "/tmp/itx-ocr-inputs-XXXXXX";
static const char *itx_bin;

static void
write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(p, 1, n, f) == n);
        fclose(f);
    }
}

static void
save(VipsImage *v, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK_MSG(vips_image_write_to_file(v, path, NULL) == 0, "cannot write %s: %s", name,
              vips_error_buffer());
    vips_error_clear();
}

static uint32_t
crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : (c >> 1);
    }
    return ~c;
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* A PNG signature and an IHDR chunk declaring w x h RGB, then a few bytes of IDAT. */
static void
png_header(const char *name, uint32_t w, uint32_t h)
{
    uint8_t b[8 + 25 + 20] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *c = b + 8;
    put32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put32(c + 8, w);
    put32(c + 12, h);
    c[16] = 8, c[17] = 2, c[18] = 0, c[19] = 0, c[20] = 0;
    put32(c + 21, crc32_of(c + 4, 17));
    c = b + 33;
    put32(c, 8);
    memcpy(c + 4, "IDAT\x78\x9c\x00\x00\x00\x00", 10);
    write_file(name, b, sizeof(b));
}

struct outcome {
    int status;     /* exit status, -signal when killed */
    long rss_mb;    /* peak resident memory */
    char out[8192]; /* stdout */
};

static void
run_ocr(const char *name, struct outcome *o)
{
    char path[512], out_path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(out_path, sizeof(out_path), "%s/%s.out", dir, name);
    memset(o, 0, sizeof(*o));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout))
            _exit(127);
        execl(itx_bin, itx_bin, "ocr", "--json", path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    CHECK(wait4(pid, &st, 0, &ru) == pid);
    o->status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    o->rss_mb = ru.ru_maxrss / 1024;
    FILE *f = fopen(out_path, "r");
    if (f) {
        size_t n = fread(o->out, 1, sizeof(o->out) - 1, f);
        o->out[n] = 0;
        fclose(f);
    }
}

/* An error with this code, a message, no crash, under the bound. */
static void
expect_error(const char *name, const char *code, const char *in_message)
{
    struct outcome o;
    char want[64];
    run_ocr(name, &o);
    snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
    CHECK_MSG(o.status == 1, "%s: exit status %d, want 1", name, o.status);
    CHECK_MSG(strstr(o.out, want) != NULL, "%s: want %s in %s", name, want, o.out);
    CHECK_MSG(!in_message || strstr(o.out, in_message), "%s: want '%s' in %s", name, in_message,
              o.out);
    CHECK_MSG(o.rss_mb < MEM_BOUND_MB, "%s: peak RSS %ld MB over %d MB", name, o.rss_mb,
              MEM_BOUND_MB);
    printf("  %-14s -> %s (%ld MB)\n", name, code, o.rss_mb);
}

/* A result with at least min_lines lines. */
static void
expect_lines(const char *name, int min_lines, const char *size)
{
    struct outcome o;
    int n = 0;
    run_ocr(name, &o);
    for (const char *p = o.out; (p = strstr(p, "\"box\":")); p++)
        n++;
    CHECK_MSG(o.status == 0, "%s: exit status %d: %s", name, o.status, o.out);
    CHECK_MSG(strstr(o.out, size) != NULL, "%s: want %s in %s", name, size, o.out);
    CHECK_MSG(n >= min_lines, "%s: %d lines, want at least %d: %s", name, n, min_lines, o.out);
    CHECK_MSG(o.rss_mb < MEM_BOUND_MB, "%s: peak RSS %ld MB over %d MB", name, o.rss_mb,
              MEM_BOUND_MB);
    printf("  %-14s -> %d lines (%ld MB)\n", name, n, o.rss_mb);
}

int
main(int argc, char **argv)
{
    char cmd[1024], path[512];
    VipsImage *pic = NULL, *inv = NULL, *k = NULL, *cmyk4 = NULL, *cmyk = NULL, *bl = NULL,
              *frames = NULL, *anim = NULL, *one = NULL, *wide = NULL;

    if (argc < 2) {
        fprintf(stderr, "usage: test_ocr_inputs ITX_BIN\n");
        return 2;
    }
    itx_bin = argv[1];
    if (VIPS_INIT(argv[0]) || !mkdtemp(dir))
        return 1;

    /* A product picture with text, from the synthetic generator. */
    const char *build = getenv("ITX_BUILD_DIR");
    snprintf(cmd, sizeof(cmd),
             "'%s/tools/testset/itx-testset' -o '%s' --count 1 --seed 5 >/dev/null",
             build ? build : ".", dir);
    CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    snprintf(path, sizeof(path), "%s/p0000-hero.png", dir);
    CHECK_MSG((pic = vips_image_new_from_file(path, "access", VIPS_ACCESS_RANDOM, NULL)) != NULL,
              "cannot read %s", path);
    if (!pic)
        return check_summary();

    write_file("empty.png", "", 0);
    {
        uint8_t r[4096];
        uint32_t s = 12345;
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
        write_file("random.jpg", r, sizeof(r));
    }
    static const char html[] = "<!DOCTYPE html>\n<html><head><title>404</title></head>"
                               "<body>not found</body></html>\n";
    write_file("page.png", html, strlen(html));
    static const char svg[] =
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"100\" height=\"100\"><text x=\"10\" y=\"50\">价格</text></svg>";
    write_file("image.svg", svg, strlen(svg));
    {
        void *buf = NULL;
        size_t len = 0;
        CHECK(vips_image_write_to_buffer(pic, ".jpg[Q=90]", &buf, &len, NULL) == 0);
        if (buf)
            write_file("truncated.jpg", buf, len / 2);
        g_free(buf);
    }
    png_header("huge.png", 100000, 100000);

    vips_black(&one, 1, 1, "bands", 3, NULL);
    save(one, "one.png");
    vips_black(&wide, 60000, 200, "bands", 3, NULL);
    save(wide, "strip.png");

    /* CMYK JPEG of the picture: C, M, Y = 255 - R, G, B and no black. */
    vips_invert(pic, &inv, NULL);
    vips_black(&k, pic->Xsize, pic->Ysize, NULL);
    vips_bandjoin2(inv, k, &cmyk4, NULL);
    vips_copy(cmyk4, &cmyk, "interpretation", VIPS_INTERPRETATION_CMYK, NULL);
    save(cmyk, "cmyk.jpg");

    /* Animated GIF: the picture, then a black frame; only the first is read. */
    vips_black(&bl, pic->Xsize, pic->Ysize, "bands", 3, NULL);
    vips_join(pic, bl, &frames, VIPS_DIRECTION_VERTICAL, NULL);
    vips_copy(frames, &anim, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
    vips_image_set_int(anim, VIPS_META_PAGE_HEIGHT, pic->Ysize);
    vips_image_set_int(anim, VIPS_META_N_PAGES, 2);
    save(anim, "anim.gif");

    expect_error("empty.png", "undecodable", "empty");
    expect_error("random.jpg", "unsupported", NULL);
    expect_error("page.png", "unsupported", "HTML");
    expect_error("image.svg", "unsupported", "SVG");
    expect_error("truncated.jpg", "undecodable", NULL);
    expect_error("huge.png", "too_large", "100000");
    expect_error("one.png", "undecodable", NULL);
    expect_error("strip.png", "too_large", "60000");
    expect_lines("cmyk.jpg", 3, "\"width\":800,\"height\":800");
    expect_lines("anim.gif", 3, "\"width\":800,\"height\":800");
    expect_lines("p0000-hero.png", 3, "\"width\":800,\"height\":800");

    g_object_unref(pic), g_object_unref(inv), g_object_unref(k), g_object_unref(cmyk4);
    g_object_unref(cmyk), g_object_unref(bl), g_object_unref(frames), g_object_unref(anim);
    g_object_unref(one), g_object_unref(wide);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_summary();
}
