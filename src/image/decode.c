/*
 * Decoding untrusted pictures through libvips.
 *
 * Order of defences: the size of the encoded data; the format from magic bytes (only five
 * loaders can ever run); the dimensions read by our own small header parsers (PNG IHDR, GIF
 * screen, WebP VP8/VP8L/VP8X, JPEG SOF) before libvips sees the data; the dimensions again
 * from libvips's lazy header (HEIF/AVIF have no parser of ours); and only then pixels,
 * pulled top to bottom through a sequential pipeline into our own buffer, so peak memory
 * is the output plus a few strips of the library's.
 */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/util.h"
#include "image/image-impl.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed;

/*
 * libvips reports recoverable trouble ("error in tile", "ignoring nclx profile") as GLib
 * warnings on stderr. itx logs JSON lines, and the reason for a failure already reaches the
 * caller's diag through the error buffer, so these are dropped.
 */
static void
drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain, (void)level, (void)msg, (void)data;
}

static void
init_vips(void)
{
    if (VIPS_INIT("itx")) {
        init_failed = 1;
        vips_error_clear();
        return;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE);
    /* Every loader off, then on again only for the ones decode() calls by name. */
    vips_operation_block_set("VipsForeignLoad", TRUE);
    vips_operation_block_set("VipsForeignLoadJpegBuffer", FALSE);
    vips_operation_block_set("VipsForeignLoadPngBuffer", FALSE);
    vips_operation_block_set("VipsForeignLoadWebpBuffer", FALSE);
    vips_operation_block_set("VipsForeignLoadNsgifBuffer", FALSE);
    vips_operation_block_set("VipsForeignLoadHeifBuffer", FALSE);
}

enum itx_status
itx_image_init(struct itx_diag *d)
{
    pthread_once(&init_once, init_vips);
    if (init_failed)
        return itx_diag_set(d, ITX_ERR_INTERNAL, "cannot start libvips");
    return ITX_OK;
}

void
itx_image_shutdown(void)
{
    vips_shutdown();
}

enum itx_status
itx_image_vips_fail(struct itx_diag *d, enum itx_status code, const char *what)
{
    char *e = vips_error_buffer_copy(); /* also clears the buffer */
    char msg[ITX_DIAG_MSG_SIZE];
    size_t n = 0;

    for (const char *p = e ? e : ""; *p && n + 3 < sizeof(msg); p++) {
        if (*p == '\n') {
            if (p[1] && n > 0) {
                msg[n++] = ';';
                msg[n++] = ' ';
            }
        } else {
            msg[n++] = *p;
        }
    }
    msg[n] = '\0';
    g_free(e);
    return itx_diag_set(d, code, "%s: %s", what, n ? msg : "unknown libvips error");
}

/* ---- formats ---------------------------------------------------------------------------- */

const char *
itx_image_format_name(enum itx_image_format f)
{
    switch (f) {
    case ITX_IMAGE_FORMAT_JPEG:
        return "jpeg";
    case ITX_IMAGE_FORMAT_PNG:
        return "png";
    case ITX_IMAGE_FORMAT_WEBP:
        return "webp";
    case ITX_IMAGE_FORMAT_GIF:
        return "gif";
    case ITX_IMAGE_FORMAT_HEIF:
        return "heif";
    case ITX_IMAGE_FORMAT_AVIF:
        return "avif";
    default:
        return "unknown";
    }
}

const char *
itx_image_format_mime(enum itx_image_format f)
{
    switch (f) {
    case ITX_IMAGE_FORMAT_JPEG:
        return "image/jpeg";
    case ITX_IMAGE_FORMAT_PNG:
        return "image/png";
    case ITX_IMAGE_FORMAT_WEBP:
        return "image/webp";
    case ITX_IMAGE_FORMAT_GIF:
        return "image/gif";
    case ITX_IMAGE_FORMAT_HEIF:
        return "image/heif";
    case ITX_IMAGE_FORMAT_AVIF:
        return "image/avif";
    default:
        return "application/octet-stream";
    }
}

enum itx_image_format
itx_image_format_parse(const char *name)
{
    if (!strcasecmp(name, "jpeg") || !strcasecmp(name, "jpg"))
        return ITX_IMAGE_FORMAT_JPEG;
    if (!strcasecmp(name, "png"))
        return ITX_IMAGE_FORMAT_PNG;
    if (!strcasecmp(name, "webp"))
        return ITX_IMAGE_FORMAT_WEBP;
    return ITX_IMAGE_FORMAT_UNKNOWN;
}

enum itx_image_format
itx_image_format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

    if (!dot || (slash && dot < slash))
        return ITX_IMAGE_FORMAT_UNKNOWN;
    if (!strcasecmp(dot + 1, "jpe"))
        return ITX_IMAGE_FORMAT_JPEG;
    return itx_image_format_parse(dot + 1);
}

enum itx_image_format
itx_image_output_format(enum itx_image_format input)
{
    switch (input) {
    case ITX_IMAGE_FORMAT_PNG:
    case ITX_IMAGE_FORMAT_GIF:
        return ITX_IMAGE_FORMAT_PNG;
    case ITX_IMAGE_FORMAT_WEBP:
        return ITX_IMAGE_FORMAT_WEBP;
    default:
        return ITX_IMAGE_FORMAT_JPEG;
    }
}

static bool
starts(const uint8_t *p, size_t len, const void *magic, size_t n)
{
    return len >= n && memcmp(p, magic, n) == 0;
}

/* Case-insensitive search for a tag in the first bytes of a text-like document. */
static bool
text_has(const uint8_t *p, size_t len, const char *needle)
{
    size_t n = strlen(needle), lim = len < 4096 ? len : 4096;

    for (size_t i = 0; i + n <= lim; i++)
        if (strncasecmp((const char *)p + i, needle, n) == 0)
            return true;
    return false;
}

static bool
looks_like_text(const uint8_t *p, size_t len)
{
    size_t lim = len < 512 ? len : 512;

    for (size_t i = 0; i < lim; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
            return false;
    return true;
}

enum itx_image_format
itx_image_sniff(const uint8_t *p, size_t len, const char **what)
{
    const char *w = "unrecognised binary data";
    enum itx_image_format f = ITX_IMAGE_FORMAT_UNKNOWN;
    size_t skip = 0;

    if (len == 0) {
        w = "an empty file";
    } else if (starts(p, len, "\xff\xd8\xff", 3)) {
        f = ITX_IMAGE_FORMAT_JPEG, w = "a JPEG image";
    } else if (starts(p, len, "\x89PNG\r\n\x1a\n", 8)) {
        f = ITX_IMAGE_FORMAT_PNG, w = "a PNG image";
    } else if (starts(p, len, "GIF87a", 6) || starts(p, len, "GIF89a", 6)) {
        f = ITX_IMAGE_FORMAT_GIF, w = "a GIF image";
    } else if (starts(p, len, "RIFF", 4) && len >= 12) {
        if (!memcmp(p + 8, "WEBP", 4))
            f = ITX_IMAGE_FORMAT_WEBP, w = "a WebP image";
        else if (!memcmp(p + 8, "WAVE", 4))
            w = "a WAVE audio file";
        else if (!memcmp(p + 8, "AVI ", 4))
            w = "an AVI video";
        else
            w = "a RIFF file";
    } else if (len >= 12 && !memcmp(p + 4, "ftyp", 4)) {
        const uint8_t *b = p + 8;
        if (!memcmp(b, "avif", 4) || !memcmp(b, "avis", 4))
            f = ITX_IMAGE_FORMAT_AVIF, w = "an AVIF image";
        else if (!memcmp(b, "heic", 4) || !memcmp(b, "heix", 4) || !memcmp(b, "heim", 4) ||
                 !memcmp(b, "heis", 4) || !memcmp(b, "hevc", 4) || !memcmp(b, "hevx", 4) ||
                 !memcmp(b, "mif1", 4) || !memcmp(b, "msf1", 4))
            f = ITX_IMAGE_FORMAT_HEIF, w = "a HEIF image";
        else if (!memcmp(b, "qt  ", 4))
            w = "a QuickTime video";
        else
            w = "an MP4 or other ISO media file";
    } else if (starts(p, len, "%PDF-", 5)) {
        w = "a PDF document";
    } else if (starts(p, len, "II*\0", 4) || starts(p, len, "MM\0*", 4)) {
        w = "a TIFF image";
    } else if (starts(p, len, "BM", 2)) {
        w = "a BMP image";
    } else if (starts(p, len, "\0\0\1\0", 4)) {
        w = "an ICO icon";
    } else if (starts(p, len, "8BPS", 4)) {
        w = "a Photoshop document";
    } else if (starts(p, len, "\0\0\0\x0cjP  ", 8) || starts(p, len, "\xff\x4f\xff\x51", 4)) {
        w = "a JPEG 2000 image";
    } else if (starts(p, len, "\xff\x0a", 2) || starts(p, len, "\0\0\0\x0cJXL ", 8)) {
        w = "a JPEG XL image";
    } else if (starts(p, len, "PK\3\4", 4)) {
        w = "a ZIP archive";
    } else if (starts(p, len, "\x1f\x8b", 2)) {
        w = "gzip-compressed data";
    } else if (looks_like_text(p, len)) {
        if (starts(p, len, "\xef\xbb\xbf", 3))
            skip = 3;
        while (skip < len &&
               (p[skip] == ' ' || p[skip] == '\t' || p[skip] == '\r' || p[skip] == '\n'))
            skip++;
        if (text_has(p, len, "<svg"))
            w = "an SVG image";
        else if (text_has(p, len, "<html") || text_has(p, len, "<!doctype html") ||
                 text_has(p, len, "<head") || text_has(p, len, "<body"))
            w = "an HTML page";
        else if (skip < len && p[skip] == '<')
            w = "an XML document";
        else if (skip < len && (p[skip] == '{' || p[skip] == '['))
            w = "JSON text";
        else
            w = "plain text";
    }
    if (what)
        *what = w;
    return f;
}

/* ---- header dimensions ------------------------------------------------------------------ */

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t
le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/*
 * Reads the declared dimensions from the first bytes, without the library. Returns false
 * when they cannot be found (the libvips header check then decides).
 */
static bool
peek_dims(enum itx_image_format f, const uint8_t *p, size_t len, uint64_t *w, uint64_t *h)
{
    switch (f) {
    case ITX_IMAGE_FORMAT_PNG:
        if (len < 24 || memcmp(p + 12, "IHDR", 4))
            return false;
        *w = be32(p + 16), *h = be32(p + 20);
        return true;
    case ITX_IMAGE_FORMAT_GIF:
        if (len < 10)
            return false;
        *w = le16(p + 6), *h = le16(p + 8);
        return true;
    case ITX_IMAGE_FORMAT_WEBP:
        if (len >= 30 && !memcmp(p + 12, "VP8 ", 4) && !memcmp(p + 23, "\x9d\x01\x2a", 3)) {
            *w = le16(p + 26) & 0x3fff, *h = le16(p + 28) & 0x3fff;
            return true;
        }
        if (len >= 25 && !memcmp(p + 12, "VP8L", 4) && p[20] == 0x2f) {
            uint32_t bits = (uint32_t)p[21] | (uint32_t)p[22] << 8 | (uint32_t)p[23] << 16 |
                            (uint32_t)p[24] << 24;
            *w = (bits & 0x3fff) + 1, *h = ((bits >> 14) & 0x3fff) + 1;
            return true;
        }
        if (len >= 30 && !memcmp(p + 12, "VP8X", 4)) {
            *w = (uint64_t)le24(p + 24) + 1, *h = (uint64_t)le24(p + 27) + 1;
            return true;
        }
        return false;
    case ITX_IMAGE_FORMAT_JPEG: {
        size_t i = 2;
        while (i + 4 <= len) {
            uint8_t m;
            if (p[i] != 0xff)
                return false;
            while (i < len && p[i] == 0xff)
                i++;
            if (i >= len)
                return false;
            m = p[i++];
            if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
                continue; /* markers without a length */
            if (m == 0xd9 || m == 0xda || i + 2 > len)
                return false;
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                if (i + 7 > len)
                    return false;
                *h = be16(p + i + 3), *w = be16(p + i + 5);
                return *h != 0; /* 0 = height given later by a DNL marker */
            }
            i += be16(p + i);
        }
        return false;
    }
    default:
        return false;
    }
}

void
itx_image_limits_default(struct itx_image_limits *lim)
{
    lim->max_pixels = ITX_IMAGE_MAX_PIXELS_DEFAULT;
    lim->max_side = ITX_IMAGE_MAX_SIDE_DEFAULT;
    lim->min_side = ITX_IMAGE_MIN_SIDE_DEFAULT;
    lim->max_bytes = ITX_IMAGE_MAX_BYTES_DEFAULT;
}

static enum itx_status
check_dims(uint64_t w, uint64_t h, const struct itx_image_limits *lim, struct itx_diag *d)
{
    uint64_t longer = w > h ? w : h, shorter = w < h ? w : h;

    if (w == 0 || h == 0)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "image declares a size of %llux%llu",
                            (unsigned long long)w, (unsigned long long)h);
    if (longer > (uint64_t)lim->max_side)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "image is %llux%llu, over the %d-pixel limit on either side",
                            (unsigned long long)w, (unsigned long long)h, lim->max_side);
    if (w * h > lim->max_pixels)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "image is %llux%llu (%.1f MP), over the %.1f MP pixel limit",
                            (unsigned long long)w, (unsigned long long)h, (double)(w * h) / 1e6,
                            (double)lim->max_pixels / 1e6);
    if (shorter < (uint64_t)lim->min_side)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE,
                            "image is %llux%llu, under the %d-pixel minimum side",
                            (unsigned long long)w, (unsigned long long)h, lim->min_side);
    return ITX_OK;
}

/* ---- decoding --------------------------------------------------------------------------- */

/* Opens the header lazily with the one loader for f; no pixel is decoded here. */
static int
open_lazy(enum itx_image_format f, const uint8_t *data, size_t len, VipsImage **out)
{
    void *buf = (void *)data; /* the loaders take a non-const pointer but only read */
    const VipsAccess acc = VIPS_ACCESS_SEQUENTIAL;
    const VipsFailOn fail = VIPS_FAIL_ON_TRUNCATED;

    switch (f) {
    case ITX_IMAGE_FORMAT_JPEG:
        return vips_jpegload_buffer(buf, len, out, "access", acc, "fail_on", fail, NULL);
    case ITX_IMAGE_FORMAT_PNG:
        return vips_pngload_buffer(buf, len, out, "access", acc, "fail_on", fail, NULL);
    case ITX_IMAGE_FORMAT_WEBP:
        return vips_webpload_buffer(buf, len, out, "access", acc, "fail_on", fail, "n", 1, NULL);
    case ITX_IMAGE_FORMAT_GIF:
        return vips_gifload_buffer(buf, len, out, "access", acc, "fail_on", fail, "n", 1, NULL);
    case ITX_IMAGE_FORMAT_HEIF:
    case ITX_IMAGE_FORMAT_AVIF:
        return vips_heifload_buffer(buf, len, out, "access", acc, "fail_on", fail, "n", 1, NULL);
    default:
        return -1;
    }
}

/*
 * Builds the pipeline that turns the loaded picture into 8-bit sRGB, 3 bands, alpha
 * flattened on white. Every intermediate is kept in t[] for the caller to unref.
 */
static int
to_srgb8(VipsImage *in, VipsImage **t, VipsImage **out, bool *cmyk)
{
    VipsImage *x = in;
    int n = 0;
    VipsInterpretation interp = vips_image_get_interpretation(x);

    if (interp == VIPS_INTERPRETATION_CMYK) {
        *cmyk = true;
        /* The picture's own profile when it has one, else libvips's built-in CMYK one. */
        if (vips_icc_transform(x, &t[n], "srgb", "input_profile", "cmyk", "embedded", TRUE, NULL))
            return -1;
        x = t[n++];
    } else if (interp != VIPS_INTERPRETATION_sRGB ||
               vips_image_get_format(x) != VIPS_FORMAT_UCHAR || x->Bands < 3) {
        if (vips_colourspace(x, &t[n], VIPS_INTERPRETATION_sRGB, NULL))
            return -1;
        x = t[n++];
    }
    if (vips_image_hasalpha(x)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int r = vips_flatten(x, &t[n], "background", white, "max_alpha", 255.0, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (r)
            return -1;
        x = t[n++];
    }
    if (x->Bands > 3) {
        if (vips_extract_band(x, &t[n], 0, "n", 3, NULL))
            return -1;
        x = t[n++];
    }
    if (vips_image_get_format(x) != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(x, &t[n], NULL))
            return -1;
        x = t[n++];
    }
    *out = x;
    return 0;
}

/* Pulls every pixel of an 8-bit image, top to bottom, into img (same size and bands). */
static int
compute_into(VipsImage *x, struct itx_image *img)
{
    VipsRegion *reg = vips_region_new(x);
    const int step = 16;
    int r = 0;

    if (!reg)
        return -1;
    for (int y = 0; y < img->h && r == 0; y += step) {
        VipsRect rect = {0, y, img->w, VIPS_MIN(step, img->h - y)};
        r = vips_region_prepare(reg, &rect);
        for (int k = 0; r == 0 && k < rect.height; k++)
            memcpy(img->px + (size_t)(y + k) * img->stride, VIPS_REGION_ADDR(reg, 0, y + k),
                   img->stride);
    }
    g_object_unref(reg);
    return r;
}

enum itx_status
itx_image_decode(const uint8_t *data, size_t len, const struct itx_image_limits *lim_in,
                 struct itx_image **out, struct itx_image_info *info, struct itx_diag *d)
{
    struct itx_image_limits lim;
    struct itx_image_info inf = {0};
    struct itx_image *img = NULL, *rot = NULL;
    VipsImage *base = NULL, *t[8] = {0}, *x = NULL;
    const char *what = NULL;
    enum itx_status st = ITX_OK;
    uint64_t pw, ph;
    char label[64];

    if (lim_in)
        lim = *lim_in;
    else
        itx_image_limits_default(&lim);
    if ((st = itx_image_init(d)) != ITX_OK)
        return st;
    if (len > lim.max_bytes)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "image data is %zu bytes, over the %zu-byte limit", len, lim.max_bytes);
    inf.format = itx_image_sniff(data, len, &what);
    if (len == 0)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "image data is empty (0 bytes)");
    if (inf.format == ITX_IMAGE_FORMAT_UNKNOWN)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "unsupported image format: the data looks like %s (itx reads JPEG, "
                            "PNG, WebP, GIF, HEIF and AVIF)",
                            what);
    snprintf(label, sizeof(label), "cannot decode %s", what);
    if (peek_dims(inf.format, data, len, &pw, &ph) && (st = check_dims(pw, ph, &lim, d)))
        return st;

    if (open_lazy(inf.format, data, len, &base)) {
        st = itx_image_vips_fail(d, ITX_ERR_UNDECODABLE, label);
        goto out;
    }
    inf.src_w = vips_image_get_width(base);
    inf.src_h = vips_image_get_height(base);
    if ((st = check_dims((uint64_t)inf.src_w, (uint64_t)inf.src_h, &lim, d)))
        goto out;
    inf.orientation = vips_image_get_orientation(base);
    if (inf.orientation < 1 || inf.orientation > 8)
        inf.orientation = 1;
    inf.n_pages = vips_image_get_n_pages(base);
    inf.src_bands = base->Bands;
    inf.bits = vips_format_sizeof(vips_image_get_format(base)) >= 2 ? 16 : 8;
    inf.had_alpha = vips_image_hasalpha(base);

    if (to_srgb8(base, t, &x, &inf.cmyk)) {
        st = itx_image_vips_fail(d, ITX_ERR_UNDECODABLE, label);
        goto out;
    }
    img = itx_image_new(x->Xsize, x->Ysize, 3);
    if (!img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", x->Xsize, x->Ysize);
        goto out;
    }
    if (compute_into(x, img)) {
        st = itx_image_vips_fail(d, ITX_ERR_UNDECODABLE, label);
        goto out;
    }
    /*
     * Orientation is applied here rather than with vips_autorot: rotating inside libvips
     * needs random access, so the whole picture would be decoded into a second buffer (or a
     * temporary file past 100 MB); here the pixels are decoded once, sequentially.
     */
    if (inf.orientation != 1) {
        rot = itx_image_orient(img, inf.orientation);
        if (!rot) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a rotated %dx%d image", img->h,
                              img->w);
            goto out;
        }
        itx_image_free(img);
        img = rot;
    }
    *out = img;
    img = NULL;
    if (info)
        *info = inf;
out:
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i])
            g_object_unref(t[i]);
    if (base)
        g_object_unref(base);
    itx_image_free(img);
    vips_error_clear();
    return st;
}

enum itx_status
itx_image_load_file(const char *path, const struct itx_image_limits *lim_in, struct itx_image **out,
                    struct itx_image_info *info, struct itx_diag *d)
{
    struct itx_image_limits lim;
    uint8_t *data = NULL;
    size_t len = 0;
    enum itx_status st;

    if (lim_in)
        lim = *lim_in;
    else
        itx_image_limits_default(&lim);
    st = itx_file_read(path, lim.max_bytes, &data, &len, d);
    if (st == ITX_OK)
        st = itx_image_decode(data, len, &lim, out, info, d);
    if (st != ITX_OK)
        itx_diag_prefix(d, "'%s'", path);
    itx_free(data);
    return st;
}

/* ---- libvips bridge --------------------------------------------------------------------- */

enum itx_status
itx_image_to_vips(const struct itx_image *img, VipsImage **out, struct itx_diag *d)
{
    size_t row = (size_t)img->w * (size_t)img->channels, size = row * (size_t)img->h;
    VipsImage *v;
    enum itx_status st;

    if ((st = itx_image_init(d)) != ITX_OK)
        return st;
    if (img->stride == row) {
        v = vips_image_new_from_memory_copy(img->px, size, img->w, img->h, img->channels,
                                            VIPS_FORMAT_UCHAR);
    } else {
        v = vips_image_new_memory();
        if (v) {
            vips_image_init_fields(v, img->w, img->h, img->channels, VIPS_FORMAT_UCHAR,
                                   VIPS_CODING_NONE, VIPS_INTERPRETATION_sRGB, 1.0, 1.0);
            if (vips_image_write_prepare(v)) {
                g_object_unref(v);
                v = NULL;
            } else {
                for (int y = 0; y < img->h; y++)
                    memcpy(VIPS_IMAGE_ADDR(v, 0, y), img->px + (size_t)y * img->stride, row);
            }
        }
    }
    if (!v)
        return itx_image_vips_fail(d, ITX_ERR_NOMEM, "cannot make a libvips image");
    v->Type = img->channels >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    *out = v;
    return ITX_OK;
}

enum itx_status
itx_image_from_vips(VipsImage *in, struct itx_image **out, struct itx_diag *d)
{
    VipsImage *u = NULL;
    struct itx_image *img = NULL;
    enum itx_status st = ITX_OK;

    if (in->Bands < 1 || in->Bands > 4)
        return itx_diag_set(d, ITX_ERR_INVALID, "a libvips image with %d bands cannot be copied",
                            in->Bands);
    if (vips_image_get_format(in) != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(in, &u, NULL))
            return itx_image_vips_fail(d, ITX_ERR_INTERNAL, "cannot cast to 8 bits");
    } else {
        u = in;
        g_object_ref(u);
    }
    img = itx_image_new(u->Xsize, u->Ysize, u->Bands);
    if (!img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", u->Xsize, u->Ysize);
        goto out;
    }
    if (compute_into(u, img)) {
        st = itx_image_vips_fail(d, ITX_ERR_INTERNAL, "cannot compute a libvips image");
        goto out;
    }
    *out = img;
    img = NULL;
out:
    itx_image_free(img);
    g_object_unref(u);
    return st;
}
