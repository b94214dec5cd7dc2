/*
 * Tests for src/image: decoding every supported format (inputs made at test time with
 * libvips's savers, an encoder independent of the decoders under test), the bad inputs of
 * issue 3, encoding, files, geometry and tensors.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vips/vips.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image.h"

/*
 * LeakSanitizer: codec libraries under libvips/libheif leak on some corrupt streams or keep
 * process-lifetime pools (dav1d, libde265, aom, x265) and font caches (fontconfig, Pango);
 * those are not ours.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libx265\nleak:libheif\n"
           "leak:libdav1d\nleak:libde265\nleak:libaom\n";
}

/* ---- helpers ---------------------------------------------------------------------------- */

static long
maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A w x h picture in four quadrants: red, green / blue, white. */
static struct itx_image *
quadrants(int w, int h)
{
    static const uint8_t col[4][3] = {{230, 20, 20}, {20, 200, 40}, {30, 40, 220}, {255, 255, 255}};
    struct itx_image *img = itx_image_new(w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(itx_image_at(img, x, y), col[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    return img;
}

static bool
near_px(const struct itx_image *img, int x, int y, int r, int g, int b, int tol)
{
    const uint8_t *p = itx_image_at(img, x, y);
    bool ok = abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
    if (!ok)
        fprintf(stderr, "  pixel (%d,%d) is %d,%d,%d, expected %d,%d,%d +-%d\n", x, y, p[0], p[1],
                p[2], r, g, b, tol);
    return ok;
}

static bool
check_quadrants(const struct itx_image *img, int tol)
{
    int qx = img->w / 4, qy = img->h / 4;
    return near_px(img, qx, qy, 230, 20, 20, tol) && near_px(img, 3 * qx, qy, 20, 200, 40, tol) &&
           near_px(img, qx, 3 * qy, 30, 40, 220, tol) &&
           near_px(img, 3 * qx, 3 * qy, 255, 255, 255, tol);
}

/* Saves a VipsImage with the named saver ("png", "jpeg", ...) into a g_malloc'd buffer. */
static uint8_t *
vsave(VipsImage *v, const char *suffix, size_t *len)
{
    void *buf = NULL;
    if (vips_image_write_to_buffer(v, suffix, &buf, len, NULL)) {
        fprintf(stderr, "  cannot save %s: %s\n", suffix, vips_error_buffer());
        vips_error_clear();
        return NULL;
    }
    return buf;
}

static uint8_t *
save_quadrants(int w, int h, const char *suffix, size_t *len)
{
    struct itx_image *img = quadrants(w, h);
    VipsImage *v = NULL;
    uint8_t *buf;
    itx_image_to_vips(img, &v, NULL);
    buf = vsave(v, suffix, len);
    g_object_unref(v);
    itx_image_free(img);
    return buf;
}

static enum itx_status
decode(const void *data, size_t len, struct itx_image **out, struct itx_image_info *info,
       struct itx_diag *d)
{
    itx_diag_init(d);
    *out = NULL;
    return itx_image_decode(data, len, NULL, out, info, d);
}

static uint32_t
crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* A PNG signature, an IHDR declaring w x h RGB 8-bit, and an empty IEND. */
static size_t
craft_png(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *p = buf;
    memcpy(p, sig, 8), p += 8;
    put_be32(p, 13), memcpy(p + 4, "IHDR", 4);
    put_be32(p + 8, w), put_be32(p + 12, h);
    p[16] = 8, p[17] = 2, p[18] = 0, p[19] = 0, p[20] = 0;
    put_be32(p + 21, crc32_bytes(p + 4, 17)), p += 25;
    put_be32(p, 0), memcpy(p + 4, "IEND", 4), put_be32(p + 8, crc32_bytes(p + 4, 4)), p += 12;
    return (size_t)(p - buf);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Runs first, so the peak-RSS high-water mark is still low. */
static void
test_big_headers(void)
{
    uint8_t png[64];
    size_t n = craft_png(png, 100000, 100000), len = 0;
    struct itx_image *img;
    struct itx_diag d;
    long before = maxrss_kb();

    CHECK_INT(decode(png, n, &img, NULL, &d), ITX_ERR_TOO_LARGE);
    CHECK(img == NULL);
    CHECK_MSG(strstr(d.msg, "100000x100000") && strstr(d.msg, "30000"), "%s", d.msg);

    /* inside the side limit but over 40 MP: refused from the header as well */
    n = craft_png(png, 20000, 20000);
    CHECK_INT(decode(png, n, &img, NULL, &d), ITX_ERR_TOO_LARGE);
    CHECK_MSG(strstr(d.msg, "400.0 MP") && strstr(d.msg, "40.0 MP"), "%s", d.msg);

    /* a real JPEG whose SOF is patched to declare 29000x29000 */
    uint8_t *jpg = save_quadrants(16, 16, ".jpg", &len);
    CHECK(jpg != NULL);
    if (jpg) {
        for (size_t i = 2; i + 9 < len; i++) {
            if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2)) {
                jpg[i + 5] = 29000 >> 8, jpg[i + 6] = 29000 & 0xff;
                jpg[i + 7] = 29000 >> 8, jpg[i + 8] = 29000 & 0xff;
                break;
            }
        }
        CHECK_INT(decode(jpg, len, &img, NULL, &d), ITX_ERR_TOO_LARGE);
        CHECK_MSG(strstr(d.msg, "29000x29000"), "%s", d.msg);
        g_free(jpg);
    }

    /* 60000x200: 12 MP, so under the pixel limit, but over the side limit */
    {
        VipsImage *b = NULL;
        vips_black(&b, 60000, 200, "bands", 3, NULL);
        uint8_t *strip = vsave(b, ".png", &len);
        g_object_unref(b);
        CHECK(strip != NULL);
        if (strip) {
            CHECK_INT(decode(strip, len, &img, NULL, &d), ITX_ERR_TOO_LARGE);
            CHECK_MSG(strstr(d.msg, "60000x200") && strstr(d.msg, "30000-pixel"), "%s", d.msg);
            g_free(strip);
        }
    }
    /* generous bound: nothing near the 30 GB those headers declare was touched (ThreadSanitizer
     * keeps shadow and history memory of its own, 239 MB here, so its build gets 512 MB) */
#if defined(__SANITIZE_THREAD__)
    const long bound_kb = 512 * 1024;
#else
    const long bound_kb = 64 * 1024;
#endif
    CHECK_MSG(maxrss_kb() - before < bound_kb, "peak RSS grew by %ld kB", maxrss_kb() - before);
}

static void
test_bad_inputs(void)
{
    static const char html[] = "<!DOCTYPE html>\n<html><head><title>404</title></head></html>";
    static const char svg[] =
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"100\" height=\"100\"><rect width=\"100\" height=\"100\"/></svg>";
    uint8_t rnd[4096];
    struct itx_image *img;
    struct itx_diag d;
    size_t len;

    CHECK_INT(decode("", 0, &img, NULL, &d), ITX_ERR_UNDECODABLE);
    CHECK_MSG(strstr(d.msg, "empty"), "%s", d.msg);

    srand(7);
    for (size_t i = 0; i < sizeof(rnd); i++)
        rnd[i] = (uint8_t)(rand() >> 7);
    rnd[0] = 0x13; /* no accidental magic */
    CHECK_INT(decode(rnd, sizeof(rnd), &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "unrecognised binary data"), "%s", d.msg);
    /* random bytes behind a JPEG magic reach the loader, which must refuse them */
    rnd[0] = 0xff, rnd[1] = 0xd8, rnd[2] = 0xff;
    CHECK_INT(decode(rnd, sizeof(rnd), &img, NULL, &d), ITX_ERR_UNDECODABLE);
    CHECK(img == NULL);

    CHECK_INT(decode(html, strlen(html), &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "an HTML page"), "%s", d.msg);
    CHECK_INT(decode(svg, strlen(svg), &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "an SVG image"), "%s", d.msg);
    CHECK_INT(decode("%PDF-1.7\n", 9, &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "a PDF document"), "%s", d.msg);
    CHECK_INT(decode("II*\0\x08\0\0\0", 8, &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "a TIFF image"), "%s", d.msg);

    /* truncated JPEG: an error, not a half-grey picture */
    {
        struct itx_image *noise = itx_image_new(300, 300, 3);
        VipsImage *v = NULL;
        for (size_t i = 0; i < (size_t)300 * 300 * 3; i++)
            noise->px[i] = (uint8_t)(rand() >> 5);
        itx_image_to_vips(noise, &v, NULL);
        uint8_t *jpg = vsave(v, ".jpg[Q=90]", &len);
        g_object_unref(v);
        itx_image_free(noise);
        CHECK(jpg != NULL);
        if (jpg) {
            CHECK_INT(decode(jpg, len, &img, NULL, &d), ITX_OK);
            itx_image_free(img);
            CHECK_INT(decode(jpg, len / 2, &img, NULL, &d), ITX_ERR_UNDECODABLE);
            CHECK(img == NULL);
            CHECK_MSG(strstr(d.msg, "cannot decode a JPEG image"), "%s", d.msg);
            g_free(jpg);
        }
    }
    /* truncated PNG */
    {
        uint8_t *png = save_quadrants(300, 300, ".png", &len);
        CHECK_INT(decode(png, len - 20, &img, NULL, &d), ITX_ERR_UNDECODABLE);
        g_free(png);
    }
    /* 1x1 and 4x100: under the minimum side */
    {
        uint8_t *png = save_quadrants(1, 1, ".png", &len);
        CHECK_INT(decode(png, len, &img, NULL, &d), ITX_ERR_UNDECODABLE);
        CHECK_MSG(strstr(d.msg, "1x1") && strstr(d.msg, "8-pixel minimum"), "%s", d.msg);
        g_free(png);
        png = save_quadrants(4, 100, ".webp", &len);
        CHECK_INT(decode(png, len, &img, NULL, &d), ITX_ERR_UNDECODABLE);
        CHECK_MSG(strstr(d.msg, "4x100"), "%s", d.msg);
        g_free(png);
    }
    /* over max_bytes */
    {
        struct itx_image_limits lim;
        uint8_t *png = save_quadrants(64, 64, ".png", &len);
        itx_image_limits_default(&lim);
        lim.max_bytes = 10;
        itx_diag_init(&d);
        CHECK_INT(itx_image_decode(png, len, &lim, &img, NULL, &d), ITX_ERR_TOO_LARGE);
        CHECK_MSG(strstr(d.msg, "10-byte limit"), "%s", d.msg);
        g_free(png);
    }
}

static void
test_formats(void)
{
    static const struct {
        const char *suffix;
        enum itx_image_format f;
        int tol;
    } cases[] = {
        {".png", ITX_IMAGE_FORMAT_PNG, 0},
        {".jpg[Q=95]", ITX_IMAGE_FORMAT_JPEG, 12},
        {".webp[lossless]", ITX_IMAGE_FORMAT_WEBP, 0},
        {".webp[Q=90]", ITX_IMAGE_FORMAT_WEBP, 16},
        {".gif", ITX_IMAGE_FORMAT_GIF, 16},
        {".jpg[interlace]", ITX_IMAGE_FORMAT_JPEG, 12},
    };
    struct itx_image *img;
    struct itx_image_info info;
    struct itx_diag d;
    size_t len;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *buf = save_quadrants(64, 48, cases[i].suffix, &len);
        CHECK(buf != NULL);
        if (!buf)
            continue;
        CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s: %s", cases[i].suffix, d.msg);
        if (img) {
            CHECK_INT(info.format, cases[i].f);
            CHECK_INT(img->w, 64);
            CHECK_INT(img->h, 48);
            CHECK_INT(img->channels, 3);
            CHECK_MSG(check_quadrants(img, cases[i].tol), "%s", cases[i].suffix);
            itx_image_free(img);
        }
        g_free(buf);
    }

    /* HEIF and AVIF, when this libvips/libheif can write them: refused with their name */
    static const struct {
        const char *suffix;
        enum itx_image_format f;
    } heif[] = {{".avif[Q=90]", ITX_IMAGE_FORMAT_AVIF}, {".heic[Q=90]", ITX_IMAGE_FORMAT_HEIF}};
    for (size_t i = 0; i < 2; i++) {
        struct itx_image *q = quadrants(64, 48);
        VipsImage *v = NULL;
        void *buf = NULL;
        itx_image_to_vips(q, &v, NULL);
        if (vips_image_write_to_buffer(v, heif[i].suffix, &buf, &len, NULL) == 0) {
            /* recognised, and refused by name: itx has no HEIF/AVIF decoder */
            CHECK_INT(decode(buf, len, &img, &info, &d), ITX_ERR_UNSUPPORTED);
            CHECK(img == NULL);
            CHECK_MSG(strstr(d.msg, "does not read") &&
                          (strstr(d.msg, "HEIF") || strstr(d.msg, "AVIF")),
                      "%s: %s", heif[i].suffix, d.msg);
            g_free(buf);
        } else {
            printf("note: this libvips cannot write %s, not tested\n", heif[i].suffix);
            vips_error_clear();
        }
        g_object_unref(v);
        itx_image_free(q);
    }

    /* a 790x8000 detail strip passes the default limits */
    {
        uint8_t *buf = save_quadrants(790, 8000, ".jpg", &len);
        CHECK_INT(decode(buf, len, &img, &info, &d), ITX_OK);
        if (img) {
            CHECK(img->w == 790 && img->h == 8000);
            CHECK(check_quadrants(img, 12));
            itx_image_free(img);
        }
        g_free(buf);
    }
}

static void
test_conversions(void)
{
    struct itx_image *img;
    struct itx_image_info info;
    struct itx_diag d;
    size_t len;

    /* CMYK JPEG: pure cyan must come out cyan-ish, pure magenta magenta-ish */
    {
        VipsImage *c = NULL, *m = NULL, *j = NULL, *cm = NULL;
        VipsArrayDouble *cyan = NULL;
        double cyan_v[4] = {255, 0, 0, 0}, mag_v[4] = {0, 255, 0, 0};
        vips_black(&c, 32, 32, "bands", 4, NULL);
        vips_linear(c, &m, (double[]){0, 0, 0, 0}, cyan_v, 4, "uchar", TRUE, NULL);
        vips_linear(c, &j, (double[]){0, 0, 0, 0}, mag_v, 4, "uchar", TRUE, NULL);
        VipsImage *row = NULL;
        vips_join(m, j, &row, VIPS_DIRECTION_HORIZONTAL, NULL);
        vips_copy(row, &cm, "interpretation", VIPS_INTERPRETATION_CMYK, NULL);
        (void)cyan;
        uint8_t *buf = vsave(cm, ".jpg[Q=95]", &len);
        CHECK(buf != NULL);
        if (buf) {
            CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s", d.msg);
            if (img) {
                const uint8_t *p = itx_image_at(img, 16, 16), *q = itx_image_at(img, 48, 16);
                CHECK(info.cmyk);
                CHECK_MSG(p[0] < 90 && p[1] > 120 && p[2] > 180, "cyan came out %d,%d,%d", p[0],
                          p[1], p[2]);
                CHECK_MSG(q[0] > 180 && q[1] < 90 && q[2] > 80, "magenta came out %d,%d,%d", q[0],
                          q[1], q[2]);
                itx_image_free(img);
            }
            g_free(buf);
        }
        g_object_unref(c), g_object_unref(m), g_object_unref(j), g_object_unref(row),
            g_object_unref(cm);
    }

    /* 16-bit PNG: 0xABCD becomes 0xAB (libvips shifts) */
    {
        VipsImage *b = NULL, *l = NULL, *t = NULL;
        double a[3] = {0, 0, 0}, v[3] = {0xABCD, 0x1234, 0xFFFF};
        vips_black(&b, 16, 16, "bands", 3, NULL);
        vips_linear(b, &l, a, v, 3, NULL);
        VipsImage *u = NULL;
        vips_cast(l, &u, VIPS_FORMAT_USHORT, NULL);
        vips_copy(u, &t, "interpretation", VIPS_INTERPRETATION_RGB16, NULL);
        uint8_t *buf = vsave(t, ".png[bitdepth=16]", &len);
        CHECK(buf != NULL);
        if (buf) {
            CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s", d.msg);
            if (img) {
                CHECK_INT(info.bits, 16);
                CHECK(near_px(img, 5, 5, 0xAB, 0x12, 0xFF, 1));
                itx_image_free(img);
            }
            g_free(buf);
        }
        g_object_unref(b), g_object_unref(l), g_object_unref(u), g_object_unref(t);
    }

    /* palette PNG with alpha: transparent pixels become white, opaque red stays red */
    {
        struct itx_image *rgba = itx_image_new(32, 32, 4);
        VipsImage *v = NULL;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                uint8_t *p = itx_image_at(rgba, x, y);
                p[0] = 220, p[1] = 10, p[2] = 10, p[3] = x < 16 ? 255 : 0;
            }
        itx_image_to_vips(rgba, &v, NULL);
        uint8_t *buf = vsave(v, ".png[palette]", &len);
        CHECK(buf != NULL && len > 25 && buf[25] == 3); /* IHDR colour type 3 = palette */
        if (buf) {
            CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s", d.msg);
            if (img) {
                CHECK(info.had_alpha);
                CHECK(near_px(img, 4, 4, 220, 10, 10, 6));
                CHECK(near_px(img, 28, 4, 255, 255, 255, 0));
                itx_image_free(img);
            }
            g_free(buf);
        }
        g_object_unref(v);
        itx_image_free(rgba);
    }

    /* grey PNG becomes 3 equal channels */
    {
        struct itx_image *g = itx_image_new(16, 16, 1);
        VipsImage *v = NULL;
        memset(g->px, 77, 256);
        itx_image_to_vips(g, &v, NULL);
        uint8_t *buf = vsave(v, ".png", &len);
        CHECK_INT(decode(buf, len, &img, &info, &d), ITX_OK);
        if (img) {
            CHECK(near_px(img, 3, 3, 77, 77, 77, 0));
            itx_image_free(img);
        }
        g_free(buf);
        g_object_unref(v);
        itx_image_free(g);
    }

    /* EXIF orientation 6: stored 40x20, left red / right blue; shown 20x40, red on top */
    {
        struct itx_image *s = itx_image_new(40, 20, 3);
        VipsImage *v = NULL, *o = NULL;
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++)
                memcpy(itx_image_at(s, x, y), x < 20 ? "\xdc\x14\x14" : "\x14\x14\xdc", 3);
        itx_image_to_vips(s, &v, NULL);
        vips_copy(v, &o, NULL);
        vips_image_set_int(o, VIPS_META_ORIENTATION, 6);
        uint8_t *buf = vsave(o, ".jpg[Q=95]", &len);
        CHECK(buf != NULL);
        if (buf) {
            CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s", d.msg);
            if (img) {
                CHECK_INT(info.orientation, 6);
                CHECK_INT(info.src_w, 40);
                CHECK(img->w == 20 && img->h == 40);
                CHECK(near_px(img, 10, 8, 220, 20, 20, 16));
                CHECK(near_px(img, 10, 32, 20, 20, 220, 16));
                itx_image_free(img);
            }
            g_free(buf);
        }
        g_object_unref(v), g_object_unref(o);
        itx_image_free(s);
    }

    /* animated GIF: first frame only */
    {
        VipsImage *a = NULL, *b = NULL, *ab = NULL, *anim = NULL, *bl = NULL;
        vips_black(&bl, 32, 32, "bands", 3, NULL);
        vips_linear(bl, &a, (double[]){1, 1, 1}, (double[]){250, 0, 0}, 3, "uchar", TRUE, NULL);
        vips_linear(bl, &b, (double[]){1, 1, 1}, (double[]){0, 0, 250}, 3, "uchar", TRUE, NULL);
        vips_join(a, b, &ab, VIPS_DIRECTION_VERTICAL, NULL);
        vips_copy(ab, &anim, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
        vips_image_set_int(anim, VIPS_META_PAGE_HEIGHT, 32);
        vips_image_set_int(anim, VIPS_META_N_PAGES, 2);
        uint8_t *buf = vsave(anim, ".gif", &len);
        CHECK(buf != NULL);
        if (buf) {
            CHECK_MSG(decode(buf, len, &img, &info, &d) == ITX_OK, "%s", d.msg);
            if (img) {
                CHECK_INT(info.n_pages, 2);
                CHECK(img->w == 32 && img->h == 32);
                CHECK(near_px(img, 16, 16, 250, 0, 0, 16));
                itx_image_free(img);
            }
            g_free(buf);
        }
        g_object_unref(a), g_object_unref(b), g_object_unref(ab), g_object_unref(anim),
            g_object_unref(bl);
    }
}

static void
test_encode_and_files(void)
{
    struct itx_image *q = quadrants(80, 60), *img = NULL;
    struct itx_image_info info;
    struct itx_diag d;
    uint8_t *buf = NULL;
    size_t len = 0;
    static const enum itx_image_format fmts[] = {ITX_IMAGE_FORMAT_PNG, ITX_IMAGE_FORMAT_JPEG,
                                                 ITX_IMAGE_FORMAT_WEBP};

    for (size_t i = 0; i < 3; i++) {
        itx_diag_init(&d);
        CHECK_MSG(itx_image_encode(q, fmts[i], 0, &buf, &len, &d) == ITX_OK, "%s", d.msg);
        CHECK(itx_image_sniff(buf, len, NULL) == fmts[i]);
        CHECK(memmem(buf, len, "Exif", 4) == NULL && memmem(buf, len, "EXIF", 4) == NULL);
        CHECK_INT(decode(buf, len, &img, &info, &d), ITX_OK);
        if (img) {
            if (fmts[i] == ITX_IMAGE_FORMAT_PNG)
                CHECK(memcmp(img->px, q->px, (size_t)80 * 60 * 3) == 0);
            else
                CHECK(check_quadrants(img, 16));
            itx_image_free(img);
        }
        itx_free(buf);
    }
    CHECK_INT(itx_image_encode(q, ITX_IMAGE_FORMAT_GIF, 0, &buf, &len, &d), ITX_ERR_UNSUPPORTED);
    CHECK_INT(itx_image_encode(q, ITX_IMAGE_FORMAT_JPEG, 101, &buf, &len, &d), ITX_ERR_INVALID);
    CHECK_INT(itx_image_output_format(ITX_IMAGE_FORMAT_GIF), ITX_IMAGE_FORMAT_PNG);
    CHECK_INT(itx_image_output_format(ITX_IMAGE_FORMAT_AVIF), ITX_IMAGE_FORMAT_JPEG);

    /* files */
    {
        char dir[] = "/tmp/itx-test-image-XXXXXX", path[128];
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/a.png", dir);
        itx_diag_init(&d);
        CHECK_MSG(itx_image_save_file(q, path, ITX_IMAGE_FORMAT_UNKNOWN, 0, &d) == ITX_OK, "%s",
                  d.msg);
        CHECK_INT(itx_image_load_file(path, NULL, &img, &info, &d), ITX_OK);
        if (img) {
            CHECK(memcmp(img->px, q->px, (size_t)80 * 60 * 3) == 0);
            itx_image_free(img);
        }
        unlink(path);
        CHECK_INT(itx_image_load_file(path, NULL, &img, &info, &d), ITX_ERR_NOT_FOUND);
        CHECK_MSG(strstr(d.msg, "a.png"), "%s", d.msg);
        snprintf(path, sizeof(path), "%s/a.bmp", dir);
        CHECK_INT(itx_image_save_file(q, path, ITX_IMAGE_FORMAT_UNKNOWN, 0, &d), ITX_ERR_INVALID);
        rmdir(dir);
    }
    itx_image_free(q);
}

static void
test_sniff(void)
{
    const char *w;
    CHECK_INT(itx_image_sniff((const uint8_t *)"\0\0\0\x1c"
                                               "ftypavif",
                              12, &w),
              ITX_IMAGE_FORMAT_AVIF);
    CHECK_INT(itx_image_sniff((const uint8_t *)"\0\0\0\x18"
                                               "ftypheic",
                              12, &w),
              ITX_IMAGE_FORMAT_HEIF);
    CHECK_INT(itx_image_sniff((const uint8_t *)"\0\0\0\x18"
                                               "ftypisom",
                              12, &w),
              ITX_IMAGE_FORMAT_UNKNOWN);
    CHECK_STR(w, "an MP4 or other ISO media file");
    itx_image_sniff((const uint8_t *)"  <HTML>", 8, &w);
    CHECK_STR(w, "an HTML page");
    itx_image_sniff((const uint8_t *)"{\"a\":1}", 7, &w);
    CHECK_STR(w, "JSON text");
    itx_image_sniff((const uint8_t *)"BM\x36\0", 4, &w);
    CHECK_STR(w, "a BMP image");
    CHECK_INT(itx_image_format_parse("JPG"), ITX_IMAGE_FORMAT_JPEG);
    CHECK_INT(itx_image_format_from_path("x/y.webp"), ITX_IMAGE_FORMAT_WEBP);
    CHECK_INT(itx_image_format_from_path("x.d/y"), ITX_IMAGE_FORMAT_UNKNOWN);
}

static void
test_geometry(void)
{
    struct itx_image *q = quadrants(8, 6), *r = NULL, *c = NULL;
    struct itx_diag d;

    /* rotate: one CCW quarter turn puts the top-right (green) at the top-left */
    CHECK_INT(itx_image_rotate90(q, 1, &r, &d), ITX_OK);
    CHECK(r->w == 6 && r->h == 8);
    CHECK(near_px(r, 0, 0, 20, 200, 40, 0));
    CHECK(near_px(r, 5, 7, 30, 40, 220, 0));
    itx_image_free(r);
    CHECK_INT(itx_image_rotate90(q, -1, &r, &d), ITX_OK); /* clockwise: blue on top-left */
    CHECK(near_px(r, 0, 0, 30, 40, 220, 0));
    itx_image_free(r);
    CHECK_INT(itx_image_rotate90(q, 2, &r, &d), ITX_OK);
    CHECK(near_px(r, 0, 0, 255, 255, 255, 0));
    itx_image_free(r);

    CHECK_INT(itx_image_crop(q, 4, 3, 4, 3, &c, &d), ITX_OK);
    CHECK(c->w == 4 && c->h == 3 && near_px(c, 0, 0, 255, 255, 255, 0));
    itx_image_free(c);
    CHECK_INT(itx_image_crop(q, 5, 3, 4, 3, &c, &d), ITX_ERR_INVALID);
    CHECK_MSG(strstr(d.msg, "8x6"), "%s", d.msg);

    /* bilinear 2x1 -> 4x1 on pixel centres: 0,255 -> 0, 64, 191, 255 (as OpenCV) */
    {
        struct itx_image *g = itx_image_new(2, 1, 1), *o = NULL;
        g->px[0] = 0, g->px[1] = 255;
        CHECK_INT(itx_image_resize(g, 4, 1, ITX_IMAGE_FILTER_BILINEAR, &o, &d), ITX_OK);
        CHECK(o->px[0] == 0 && o->px[1] == 64 && o->px[2] == 191 && o->px[3] == 255);
        itx_image_free(o);
        itx_image_free(g);
    }
    /* area 4x4 -> 2x2 averages blocks; bilinear halving samples between pixels */
    {
        struct itx_image *g = itx_image_new(4, 4, 1), *o = NULL;
        for (int i = 0; i < 16; i++)
            g->px[i] = (uint8_t)(i * 10);
        CHECK_INT(itx_image_resize(g, 2, 2, ITX_IMAGE_FILTER_AREA, &o, &d), ITX_OK);
        CHECK_INT(o->px[0], (0 + 10 + 40 + 50) / 4);
        CHECK_INT(o->px[3], (100 + 110 + 140 + 150) / 4);
        itx_image_free(o);
        CHECK_INT(itx_image_resize(g, 3, 3, ITX_IMAGE_FILTER_AREA, &o, &d), ITX_OK);
        CHECK_INT(o->px[4], 75); /* centre: 4/9 each of 50, 60, 90, 100, over 16/9 */
        itx_image_free(o);
        CHECK_INT(itx_image_resize(g, 0, 3, ITX_IMAGE_FILTER_AREA, &o, &d), ITX_ERR_INVALID);
        itx_image_free(g);
    }
    itx_image_free(q);
}

static void
test_tensor(void)
{
    struct itx_image *img = itx_image_new(2, 1, 3);
    float t[3 * 2 * 3];
    /* pixel 0 = (R 255, G 0, B 51) */
    img->px[0] = 255, img->px[1] = 0, img->px[2] = 51;
    itx_image_to_tensor(img, &itx_image_norm_ppocr_det, t, 3, 2, -9.f);
    /* plane 0 is B with mean 0.485, std 0.229 */
    CHECK(fabsf(t[0] - (51.f / 255.f - 0.485f) / 0.229f) < 1e-5f);
    CHECK(fabsf(t[6] - (0.f - 0.456f) / 0.224f) < 1e-5f);
    CHECK(fabsf(t[12] - (1.f - 0.406f) / 0.225f) < 1e-5f);
    CHECK(t[2] == -9.f && t[3] == -9.f && t[5] == -9.f); /* padding: column 2 and row 1 */
    itx_image_to_tensor(img, &itx_image_norm_ppocr_rec, t, 2, 1, 0.f);
    CHECK(fabsf(t[0] - (51.f / 255.f - 0.5f) / 0.5f) < 1e-5f);
    CHECK(fabsf(t[4] - 1.f) < 1e-5f);
    itx_image_free(img);
}

/* Every allocation of decode, encode, resize and rotate failing in turn: a clean NOMEM. */
static void
test_alloc_failures(void)
{
    size_t len;
    uint8_t *png = save_quadrants(40, 30, ".png", &len);
    struct itx_image *q = quadrants(40, 30);
    int failures = 0;

    for (unsigned long n = 1; n < 40; n++) {
        struct itx_image *img = NULL, *r = NULL;
        struct itx_diag d;
        uint8_t *out = NULL;
        size_t out_len;
        enum itx_status st[4];

        itx_diag_init(&d);
        itx_alloc_fail_at(n, false);
        st[0] = itx_image_decode(png, len, NULL, &img, NULL, &d);
        st[1] = itx_image_encode(q, ITX_IMAGE_FORMAT_PNG, 0, &out, &out_len, &d);
        st[2] = itx_image_resize(q, 17, 11, ITX_IMAGE_FILTER_AREA, &r, &d);
        itx_image_free(r);
        r = NULL;
        st[3] = itx_image_rotate90(q, 1, &r, &d);
        bool fired = itx_alloc_injected();
        itx_alloc_fail_at(0, false);
        for (int i = 0; i < 4; i++) {
            CHECK_MSG(st[i] == ITX_OK || st[i] == ITX_ERR_NOMEM, "n=%lu call %d: %s", n, i,
                      itx_err_str(st[i]));
            failures += st[i] == ITX_ERR_NOMEM;
        }
        CHECK(st[0] != ITX_OK || (img && check_quadrants(img, 0)));
        CHECK(st[0] == ITX_OK || img == NULL);
        itx_image_free(img);
        itx_image_free(r);
        itx_free(out);
        if (!fired)
            break;
    }
    CHECK(failures > 3);
    itx_image_free(q);
    g_free(png);
}

static void *
decode_thread(void *arg)
{
    size_t len;
    uint8_t *buf = save_quadrants(120, 90, (const char *)arg, &len);
    int ok = 1;
    for (int i = 0; i < 20 && buf; i++) {
        struct itx_image *img = NULL;
        struct itx_diag d;
        itx_diag_init(&d);
        if (itx_image_decode(buf, len, NULL, &img, NULL, &d) != ITX_OK || !check_quadrants(img, 16))
            ok = 0;
        itx_image_free(img);
    }
    g_free(buf);
    return ok && buf ? arg : NULL;
}

static void
test_threads(void)
{
    static const char *suffix[4] = {".png", ".jpg", ".webp", ".gif"};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, decode_thread, (void *)suffix[i]);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        CHECK_MSG(r != NULL, "thread decoding %s failed", suffix[i]);
    }
}

int
main(void)
{
    struct itx_diag d;
    itx_diag_init(&d);
    CHECK_INT(itx_image_init(&d), ITX_OK);
    CHECK_INT(itx_image_init(&d), ITX_OK); /* idempotent */
    test_big_headers();
    test_bad_inputs();
    test_formats();
    test_conversions();
    test_encode_and_files();
    test_sniff();
    test_geometry();
    test_tensor();
    test_alloc_failures();
    test_threads();
    itx_image_shutdown();
    return check_summary();
}
