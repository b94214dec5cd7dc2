/*
 * Tests for src/image without libvips: itx's own encoders against its own decoders for every
 * channel count, the alpha and grey rules, JPEG quality, the EXIF orientation parser (and
 * its use in a JPEG), truncated data in every format, and HEIF/AVIF refused by name.
 */
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image-impl.h"

static struct itx_image *
pattern(int w, int h, int ch)
{
    struct itx_image *img = itx_image_new(w, h, ch);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = itx_image_at(img, x, y);
            for (int c = 0; c < ch; c++)
                p[c] = (uint8_t)(x * 7 + y * 3 + c * 60);
            if (ch == 2 || ch == 4)
                p[ch - 1] = x < w / 2 ? 255 : (x < 3 * w / 4 ? 128 : 0);
        }
    return img;
}

static enum itx_status
roundtrip(const struct itx_image *img, enum itx_image_format f, int q, struct itx_image **out,
          struct itx_image_info *info, size_t *n_bytes)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct itx_diag d;
    enum itx_status st;

    itx_diag_init(&d);
    *out = NULL;
    st = itx_image_encode(img, f, q, &buf, &len, &d);
    CHECK_MSG(st == ITX_OK, "encode %s: %s", itx_image_format_name(f), d.msg);
    if (st != ITX_OK)
        return st;
    CHECK(itx_image_sniff(buf, len, NULL) == f);
    CHECK(memmem(buf, len, "Exif", 4) == NULL && memmem(buf, len, "EXIF", 4) == NULL);
    if (n_bytes)
        *n_bytes = len;
    st = itx_image_decode(buf, len, NULL, out, info, &d);
    CHECK_MSG(st == ITX_OK, "decode %s: %s", itx_image_format_name(f), d.msg);
    itx_free(buf);
    return st;
}

/* Expected RGB of a source pixel after decoding: grey expanded, alpha flattened on white. */
static void
expect(const struct itx_image *src, int x, int y, int rgb[3])
{
    const uint8_t *p = itx_image_at(src, x, y);
    int ch = src->channels, a = (ch == 2 || ch == 4) ? p[ch - 1] : 255;
    for (int c = 0; c < 3; c++) {
        int v = ch <= 2 ? p[0] : p[c];
        rgb[c] = (v * a + 255 * (255 - a) + 127) / 255;
    }
}

static void
test_png_lossless(void)
{
    for (int ch = 1; ch <= 4; ch++) {
        struct itx_image *src = pattern(40, 24, ch), *img;
        struct itx_image_info info;
        int bad = 0;
        if (roundtrip(src, ITX_IMAGE_FORMAT_PNG, 0, &img, &info, NULL) == ITX_OK) {
            CHECK_INT(img->channels, 3);
            CHECK_INT(info.src_bands, ch);
            CHECK_INT(info.had_alpha, ch == 2 || ch == 4);
            for (int y = 0; y < 24; y++)
                for (int x = 0; x < 40; x++) {
                    int e[3];
                    const uint8_t *p = itx_image_at(img, x, y);
                    expect(src, x, y, e);
                    for (int c = 0; c < 3; c++)
                        bad += abs(p[c] - e[c]) > 1;
                }
            CHECK_MSG(bad == 0, "%d samples differ for %d channels", bad, ch);
            itx_image_free(img);
        }
        itx_image_free(src);
    }
}

static void
test_lossy(void)
{
    struct itx_image *src = pattern(64, 48, 3), *img;
    struct itx_image_info info;
    size_t small = 0, large = 0;

    /* quality means what it means to libjpeg: lower is smaller and further off */
    long err[2] = {0, 0};
    size_t bytes[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        if (roundtrip(src, ITX_IMAGE_FORMAT_JPEG, k ? 95 : 20, &img, &info, &bytes[k]) == ITX_OK) {
            for (size_t i = 0; i < (size_t)64 * 48 * 3; i++)
                err[k] += abs(img->px[i] - src->px[i]);
            itx_image_free(img);
        }
    CHECK_MSG(bytes[0] < bytes[1] && err[0] > err[1],
              "quality 20: %zu bytes, error %ld; 95: %zu, %ld", bytes[0], err[0], bytes[1], err[1]);
    if (roundtrip(src, ITX_IMAGE_FORMAT_WEBP, 20, &img, &info, &small) == ITX_OK)
        itx_image_free(img);
    if (roundtrip(src, ITX_IMAGE_FORMAT_WEBP, 95, &img, &info, &large) == ITX_OK)
        itx_image_free(img);
    CHECK_MSG(small < large, "webp quality 20 gave %zu bytes, 95 gave %zu", small, large);

    /* grey JPEG, RGBA WebP (alpha flattened on white) */
    itx_image_free(src);
    src = pattern(64, 48, 1);
    if (roundtrip(src, ITX_IMAGE_FORMAT_JPEG, 95, &img, &info, NULL) == ITX_OK) {
        const uint8_t *p = itx_image_at(img, 10, 10);
        CHECK(p[0] == p[1] && p[1] == p[2]);
        CHECK_INT(info.src_bands, 1);
        itx_image_free(img);
    }
    itx_image_free(src);
    src = pattern(64, 48, 4);
    if (roundtrip(src, ITX_IMAGE_FORMAT_WEBP, 90, &img, &info, NULL) == ITX_OK) {
        const uint8_t *p = itx_image_at(img, 60, 20);
        CHECK(info.had_alpha);
        CHECK_MSG(p[0] >= 250 && p[1] >= 250 && p[2] >= 250, "transparent came out %d,%d,%d", p[0],
                  p[1], p[2]);
        itx_image_free(img);
    }
    itx_image_free(src);
}

/* A TIFF block with IFD0 holding one SHORT entry. */
static size_t
tiff(uint8_t *b, bool le, unsigned tag, unsigned type, unsigned value)
{
#define W16(p, v)                                                                                  \
    (le ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8))                                    \
        : ((p)[1] = (uint8_t)(v), (p)[0] = (uint8_t)((v) >> 8)))
    memset(b, 0, 26);
    b[0] = b[1] = le ? 'I' : 'M';
    W16(b + 2, 42);
    W16(b + (le ? 4 : 6), 8); /* IFD0 at offset 8 */
    W16(b + 8, 1);            /* one entry */
    W16(b + 10, tag);
    W16(b + 12, type);
    W16(b + (le ? 14 : 16), 1); /* count 1 */
    W16(b + 18, value);
    return 26;
#undef W16
}

static void
test_exif(void)
{
    uint8_t b[64];
    size_t n;

    n = tiff(b, true, 0x0112, 3, 6);
    CHECK_INT(itx_image_exif_orientation(b, n), 6);
    n = tiff(b, false, 0x0112, 3, 8);
    CHECK_INT(itx_image_exif_orientation(b, n), 8);
    memmove(b + 6, b, n);
    memcpy(b, "Exif\0\0", 6);
    CHECK_INT(itx_image_exif_orientation(b, n + 6), 8);
    n = tiff(b, true, 0x0112, 3, 9); /* out of range */
    CHECK_INT(itx_image_exif_orientation(b, n), 1);
    n = tiff(b, true, 0x0112, 4, 6); /* LONG: not the documented type */
    CHECK_INT(itx_image_exif_orientation(b, n), 1);
    n = tiff(b, true, 0x0110, 3, 6); /* another tag */
    CHECK_INT(itx_image_exif_orientation(b, n), 1);
    n = tiff(b, true, 0x0112, 3, 6);
    CHECK_INT(itx_image_exif_orientation(b, n - 4), 6); /* no next-IFD offset: not needed */
    CHECK_INT(itx_image_exif_orientation(b, n - 5), 1); /* entry cut short */
    b[4] = 0xf0;                                        /* IFD0 offset past the end */
    CHECK_INT(itx_image_exif_orientation(b, n), 1);
    CHECK_INT(itx_image_exif_orientation(b, 3), 1);
    CHECK_INT(itx_image_exif_orientation((const uint8_t *)"Exif\0\0", 6), 1);
}

/* An itx-encoded JPEG with an APP1 Exif segment (orientation o) put after SOI. */
static void
test_jpeg_orientation(void)
{
    struct itx_image *src = itx_image_new(40, 20, 3), *img = NULL;
    struct itx_image_info info;
    struct itx_diag d;
    uint8_t *jpg = NULL, *withexif;
    uint8_t t[26];
    size_t len = 0, tn = tiff(t, false, 0x0112, 3, 6), seg = 2 + 6 + tn;

    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++)
            memcpy(itx_image_at(src, x, y), x < 20 ? "\xdc\x14\x14" : "\x14\x14\xdc", 3);
    itx_diag_init(&d);
    CHECK_INT(itx_image_encode(src, ITX_IMAGE_FORMAT_JPEG, 95, &jpg, &len, &d), ITX_OK);
    withexif = itx_malloc(len + 2 + seg);
    memcpy(withexif, jpg, 2);
    withexif[2] = 0xff, withexif[3] = 0xe1;
    withexif[4] = (uint8_t)(seg >> 8), withexif[5] = (uint8_t)seg;
    memcpy(withexif + 6, "Exif\0\0", 6);
    memcpy(withexif + 12, t, tn);
    memcpy(withexif + 12 + tn, jpg + 2, len - 2);
    CHECK_INT(itx_image_decode(withexif, len + 2 + seg, NULL, &img, &info, &d), ITX_OK);
    if (img) {
        const uint8_t *top = itx_image_at(img, 10, 8), *bottom = itx_image_at(img, 10, 32);
        CHECK_INT(info.orientation, 6);
        CHECK(img->w == 20 && img->h == 40);
        CHECK_MSG(top[0] > 180 && bottom[2] > 180, "top %d,%d,%d bottom %d,%d,%d", top[0], top[1],
                  top[2], bottom[0], bottom[1], bottom[2]);
        itx_image_free(img);
    }
    itx_free(withexif);
    itx_free(jpg);
    itx_image_free(src);
}

static uint32_t
crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

/*
 * An itx-encoded PNG with an eXIf chunk (orientation 6) put after IHDR; then the same chunk
 * declaring 1.7 GB, which must fail as truncated data, not be allocated.
 */
static void
test_png_orientation(void)
{
    struct itx_image *src = itx_image_new(40, 20, 3), *img = NULL;
    struct itx_image_info info;
    struct itx_diag d;
    uint8_t *png = NULL, *x;
    uint8_t t[26];
    size_t len = 0, tn = tiff(t, true, 0x0112, 3, 6), at = 8 + 25, n;

    for (int y = 0; y < 20; y++)
        for (int xx = 0; xx < 40; xx++)
            memcpy(itx_image_at(src, xx, y), xx < 20 ? "\xdc\x14\x14" : "\x14\x14\xdc", 3);
    itx_diag_init(&d);
    CHECK_INT(itx_image_encode(src, ITX_IMAGE_FORMAT_PNG, 0, &png, &len, &d), ITX_OK);
    n = len + 12 + tn;
    x = itx_malloc(n);
    memcpy(x, png, at);
    x[at] = 0, x[at + 1] = 0, x[at + 2] = 0, x[at + 3] = (uint8_t)tn;
    memcpy(x + at + 4, "eXIf", 4);
    memcpy(x + at + 8, t, tn);
    {
        uint32_t c = crc32_of(x + at + 4, 4 + tn);
        uint8_t *q = x + at + 8 + tn;
        q[0] = (uint8_t)(c >> 24), q[1] = (uint8_t)(c >> 16), q[2] = (uint8_t)(c >> 8),
        q[3] = (uint8_t)c;
    }
    memcpy(x + at + 12 + tn, png + at, len - at);
    CHECK_MSG(itx_image_decode(x, n, NULL, &img, &info, &d) == ITX_OK, "%s", d.msg);
    if (img) {
        CHECK_INT(info.orientation, 6);
        CHECK(img->w == 20 && img->h == 40);
        CHECK(itx_image_at(img, 10, 8)[0] == 0xdc && itx_image_at(img, 10, 32)[2] == 0xdc);
        itx_image_free(img);
        img = NULL;
    }
    x[at] = 0x6b, x[at + 3] = 0xb4; /* declares 0x6b0000b4 bytes */
    CHECK_INT(itx_image_decode(x, n, NULL, &img, &info, &d), ITX_ERR_UNDECODABLE);
    CHECK(img == NULL);
    itx_free(x);
    itx_free(png);
    itx_image_free(src);
}

static void
test_truncated(void)
{
    static const enum itx_image_format fmts[3] = {ITX_IMAGE_FORMAT_JPEG, ITX_IMAGE_FORMAT_PNG,
                                                  ITX_IMAGE_FORMAT_WEBP};
    struct itx_image *src = itx_image_new(120, 90, 3);
    struct itx_diag d;

    srand(3);
    for (size_t i = 0; i < (size_t)120 * 90 * 3; i++)
        src->px[i] = (uint8_t)(rand() >> 5);
    for (int f = 0; f < 3; f++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        itx_diag_init(&d);
        CHECK_INT(itx_image_encode(src, fmts[f], 90, &buf, &len, &d), ITX_OK);
        for (int k = 1; k < 8; k++) {
            struct itx_image *img = NULL;
            enum itx_status st = itx_image_decode(buf, len * (size_t)k / 8, NULL, &img, NULL, &d);
            CHECK_MSG(st == ITX_ERR_UNDECODABLE && img == NULL && strstr(d.msg, "cannot decode"),
                      "%s cut to %d/8: status %d, '%s'", itx_image_format_name(fmts[f]), k, st,
                      d.msg);
            itx_image_free(img);
        }
        itx_free(buf);
    }
    itx_image_free(src);
}

static void
test_heif_refused(void)
{
    static const uint8_t heic[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c'};
    static const uint8_t avif[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f'};
    struct itx_image *img = NULL;
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK_INT(itx_image_decode(heic, sizeof(heic), NULL, &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "a HEIF image") && strstr(d.msg, "does not read"), "%s", d.msg);
    CHECK_INT(itx_image_decode(avif, sizeof(avif), NULL, &img, NULL, &d), ITX_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(d.msg, "an AVIF image"), "%s", d.msg);
    CHECK(img == NULL);
}

/* A two-frame animated WebP (red, then blue) made with libwebpmux: the first frame only. */
static void
test_webp_animation(void)
{
    WebPAnimEncoderOptions eo;
    WebPAnimEncoder *enc;
    WebPConfig cfg;
    WebPPicture pic;
    WebPData out;
    struct itx_image *img = NULL;
    struct itx_image_info info;
    struct itx_diag d;

    CHECK(WebPAnimEncoderOptionsInit(&eo) && WebPConfigInit(&cfg) && WebPPictureInit(&pic));
    cfg.lossless = 1;
    pic.width = 32, pic.height = 24, pic.use_argb = 1;
    CHECK(WebPPictureAlloc(&pic));
    enc = WebPAnimEncoderNew(32, 24, &eo);
    CHECK(enc != NULL);
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < 32 * 24; i++)
            pic.argb[i] = f == 0 ? 0xffdc1414u : 0xff1414dcu;
        CHECK(WebPAnimEncoderAdd(enc, &pic, f * 100, &cfg));
    }
    CHECK(WebPAnimEncoderAdd(enc, NULL, 200, NULL));
    WebPDataInit(&out);
    CHECK(WebPAnimEncoderAssemble(enc, &out));
    itx_diag_init(&d);
    CHECK_MSG(itx_image_decode(out.bytes, out.size, NULL, &img, &info, &d) == ITX_OK, "%s", d.msg);
    if (img) {
        const uint8_t *p = itx_image_at(img, 16, 12);
        CHECK_INT(info.n_pages, 2);
        CHECK(img->w == 32 && img->h == 24);
        CHECK_MSG(p[0] == 0xdc && p[1] == 0x14 && p[2] == 0x14, "first frame is %d,%d,%d", p[0],
                  p[1], p[2]);
        itx_image_free(img);
    }
    /* cut short: an error, not a crash */
    img = NULL;
    CHECK_INT(itx_image_decode(out.bytes, out.size - 10, NULL, &img, &info, &d),
              ITX_ERR_UNDECODABLE);
    CHECK(img == NULL);
    WebPDataClear(&out);
    WebPAnimEncoderDelete(enc);
    WebPPictureFree(&pic);
}

/* Saves an lcms2 profile into a new itx_malloc'd buffer. */
static uint8_t *
profile_bytes(cmsHPROFILE p, size_t *len)
{
    cmsUInt32Number n = 0;
    uint8_t *b;
    cmsSaveProfileToMem(p, NULL, &n);
    b = itx_malloc(n);
    cmsSaveProfileToMem(p, b, &n);
    *len = n;
    return b;
}

static void
test_icc(void)
{
    /* Display P3: DCI-P3 primaries, D65 white, the sRGB tone curve */
    cmsCIExyY white = {0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE prim = {{0.680, 0.320, 1.0}, {0.265, 0.690, 1.0}, {0.150, 0.060, 1.0}};
    cmsFloat64Number params[5] = {2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045};
    cmsToneCurve *curve = cmsBuildParametricToneCurve(NULL, 4, params);
    cmsToneCurve *curves[3] = {curve, curve, curve};
    cmsHPROFILE p3 = cmsCreateRGBProfile(&white, &prim, curves), srgb = cmsCreate_sRGBProfile();
    struct itx_image *img = itx_image_new(8, 8, 3);
    uint8_t *b;
    size_t n;

    cmsFreeToneCurve(curve);
    /* an sRGB profile changes nothing */
    memset(img->px, 0, 8 * 8 * 3);
    for (int i = 0; i < 64; i++)
        memcpy(img->px + i * 3, "\xc8\x64\x32", 3);
    b = profile_bytes(srgb, &n);
    itx_image_icc_to_srgb(img, b, n);
    CHECK(img->px[0] == 200 && img->px[1] == 100 && img->px[2] == 50);
    itx_free(b);
    /* garbage is ignored */
    {
        uint8_t junk[256];
        memset(junk, 'x', sizeof(junk));
        itx_image_icc_to_srgb(img, junk, sizeof(junk));
    }
    CHECK(img->px[0] == 200 && img->px[1] == 100 && img->px[2] == 50);
    /* P3 to sRGB: the same numbers mean a more saturated colour, so red grows, green drops */
    b = profile_bytes(p3, &n);
    itx_image_icc_to_srgb(img, b, n);
    CHECK_MSG(img->px[0] > 205 && img->px[1] < 98, "P3 200,100,50 became %d,%d,%d", img->px[0],
              img->px[1], img->px[2]);
    itx_free(b);
    itx_image_free(img);
    cmsCloseProfile(p3);
    cmsCloseProfile(srgb);
}

int
main(void)
{
    test_webp_animation();
    test_icc();
    test_png_lossless();
    test_lossy();
    test_exif();
    test_jpeg_orientation();
    test_png_orientation();
    test_truncated();
    test_heif_refused();
    return check_summary();
}
