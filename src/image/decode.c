/*
 * Decoding untrusted pictures on the format libraries directly (libjpeg-turbo, libpng,
 * libwebp, giflib; decode-*.c), colour management with lcms2 (icc.c).
 *
 * Order of defences: the size of the encoded data; the format from magic bytes (only four
 * decoders can ever run); the dimensions read by our own small header parsers (PNG IHDR, GIF
 * screen, WebP VP8/VP8L/VP8X, JPEG SOF) before any library sees the data; the dimensions
 * again from each library's header before it allocates pixels; and only then pixels,
 * decoded top to bottom into our own buffer.
 */
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/util.h"
#include "image/image-impl.h"

enum itx_status
itx_image_init(struct itx_diag *d)
{
    /* nothing to start: the format libraries keep no process-wide state that needs it */
    (void)d;
    return ITX_OK;
}

void
itx_image_shutdown(void)
{
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
 * when they cannot be found (the library's header check then decides).
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

enum itx_status
itx_image_check_dims(uint64_t w, uint64_t h, const struct itx_image_limits *lim, struct itx_diag *d)
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

void
itx_image_flatten_row(const uint8_t *rgba, uint8_t *rgb, int w)
{
    for (int x = 0; x < w; x++, rgba += 4, rgb += 3) {
        unsigned a = rgba[3], bg = 255u * (255u - a);
        for (int i = 0; i < 3; i++)
            rgb[i] = (uint8_t)((rgba[i] * a + bg + 127) / 255);
    }
}

enum itx_status
itx_image_decode(const uint8_t *data, size_t len, const struct itx_image_limits *lim_in,
                 struct itx_image **out, struct itx_image_info *info, struct itx_diag *d)
{
    struct itx_image_limits lim;
    struct itx_image_info inf = {0};
    struct itx_image_meta meta = {NULL, 0, 1};
    struct itx_image *img = NULL, *rot = NULL;
    const char *what = NULL;
    enum itx_status st = ITX_OK;
    uint64_t pw, ph;

    if (lim_in)
        lim = *lim_in;
    else
        itx_image_limits_default(&lim);
    if (len > lim.max_bytes)
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "image data is %zu bytes, over the %zu-byte limit", len, lim.max_bytes);
    inf.format = itx_image_sniff(data, len, &what);
    if (len == 0)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "image data is empty (0 bytes)");
    if (inf.format == ITX_IMAGE_FORMAT_UNKNOWN)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "unsupported image format: the data looks like %s (itx reads JPEG, "
                            "PNG, WebP and GIF)",
                            what);
    if (inf.format == ITX_IMAGE_FORMAT_HEIF || inf.format == ITX_IMAGE_FORMAT_AVIF)
        return itx_diag_set(d, ITX_ERR_UNSUPPORTED,
                            "unsupported image format: the data is %s, which itx does not read "
                            "(itx reads JPEG, PNG, WebP and GIF; convert it to JPEG or PNG)",
                            what);
    if (peek_dims(inf.format, data, len, &pw, &ph) &&
        (st = itx_image_check_dims(pw, ph, &lim, d)) != ITX_OK)
        return st;

    switch (inf.format) {
    case ITX_IMAGE_FORMAT_JPEG:
        st = itx_image_decode_jpeg(data, len, &lim, &img, &inf, &meta, d);
        break;
    case ITX_IMAGE_FORMAT_PNG:
        st = itx_image_decode_png(data, len, &lim, &img, &inf, &meta, d);
        break;
    case ITX_IMAGE_FORMAT_WEBP:
        st = itx_image_decode_webp(data, len, &lim, &img, &inf, &meta, d);
        break;
    default:
        st = itx_image_decode_gif(data, len, &lim, &img, &inf, &meta, d);
        break;
    }
    if (st != ITX_OK) {
        /* limit errors already name the size; decoder failures get what was decoded */
        if (st != ITX_ERR_TOO_LARGE &&
            !(st == ITX_ERR_UNDECODABLE && d && !strncmp(d->msg, "image ", 6)))
            itx_diag_prefix(d, "cannot decode %s", what);
        goto out;
    }
    if (meta.icc)
        itx_image_icc_to_srgb(img, meta.icc, meta.icc_len);
    inf.orientation = meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
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
    itx_free(meta.icc);
    itx_image_free(img);
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
