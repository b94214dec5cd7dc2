/*
 * Pixel buffers, decoding and encoding of untrusted pictures, and the small geometric and
 * tensor helpers that the OCR, erase and render stages share.
 *
 * Invariants:
 * - A struct itx_image owns its pixels: 8-bit samples, interleaved, `channels` per pixel
 *   (3 = sRGB after decode, 1 = grey/mask, 4 = RGBA only when a caller makes one), rows
 *   `stride` bytes apart. Every image this module makes has stride == w * channels; functions
 *   that read an image accept any stride >= w * channels.
 * - Decoding never trusts the input: the format comes from magic bytes (never from a file
 *   name or a Content-Type), the dimensions are checked against struct itx_image_limits
 *   from the header before any pixel is decoded, and only the four decoders below
 *   (libjpeg-turbo, libpng, libwebp, giflib) ever see the data.
 * - Decoded images are always 3-channel 8-bit sRGB, upright (EXIF orientation applied),
 *   alpha flattened on white, first frame only, with no metadata carried along.
 *
 * Thread-safety: every function may be called from any thread; no function keeps state
 * between calls, and error messages go to the caller's diag only.
 */
#ifndef ITX_IMAGE_IMAGE_H
#define ITX_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct itx_image {
    int w, h, channels;
    size_t stride; /* bytes from one row to the next */
    uint8_t *px;
};

/*
 * A new image with zeroed pixels, or NULL when w, h or channels is not positive, channels
 * is over 4, the size overflows, or memory runs out. Free with itx_image_free.
 */
struct itx_image *itx_image_new(int w, int h, int channels);
/* A deep copy, or NULL on allocation failure. */
struct itx_image *itx_image_clone(const struct itx_image *img);
/* Frees the image and its pixels; NULL is a no-op. */
void itx_image_free(struct itx_image *img);

/* Address of pixel (x, y); no bounds check. */
static inline uint8_t *
itx_image_at(const struct itx_image *img, int x, int y)
{
    return img->px + (size_t)y * img->stride + (size_t)x * (size_t)img->channels;
}

/* ---- library life cycle ----------------------------------------------------------------- */

/*
 * Kept for callers that start the module explicitly: the format libraries need no
 * process-wide start, so this always returns ITX_OK. Idempotent and thread-safe.
 */
enum itx_status itx_image_init(struct itx_diag *d);
/* The counterpart of itx_image_init at process exit; nothing to release. */
void itx_image_shutdown(void);

/* ---- formats ---------------------------------------------------------------------------- */

enum itx_image_format {
    ITX_IMAGE_FORMAT_UNKNOWN = 0,
    ITX_IMAGE_FORMAT_JPEG,
    ITX_IMAGE_FORMAT_PNG,
    ITX_IMAGE_FORMAT_WEBP,
    ITX_IMAGE_FORMAT_GIF,
    ITX_IMAGE_FORMAT_HEIF,
    ITX_IMAGE_FORMAT_AVIF,
};

/* Lowercase name ("jpeg", "png", "webp", "gif", "heif", "avif", "unknown"); never NULL. */
const char *itx_image_format_name(enum itx_image_format f);
/* Parses "jpeg"/"jpg", "png", "webp" (case-insensitive); UNKNOWN for anything else. */
enum itx_image_format itx_image_format_parse(const char *name);
/* Format from a file name's extension; UNKNOWN when it has none or another one. */
enum itx_image_format itx_image_format_from_path(const char *path);
/* MIME type for a format ("image/jpeg", ...), "application/octet-stream" for UNKNOWN. */
const char *itx_image_format_mime(enum itx_image_format f);

/*
 * Identifies data by its magic bytes. Returns the format when it is one itx decodes;
 * otherwise UNKNOWN, and *what (when not NULL) describes what the data looks like, e.g.
 * "an HTML page", "an SVG image", "a PDF document", "a TIFF image", "an empty file" or
 * "unrecognised binary data". For decodable formats *what is a phrase like "a PNG image".
 */
enum itx_image_format itx_image_sniff(const uint8_t *data, size_t len, const char **what);

/*
 * The format an edited picture should be written in when the caller did not ask for one:
 * the input's own format for JPEG, PNG and WebP; PNG for GIF (lossless, no palette
 * limits); JPEG for HEIF and AVIF (which itx does not write).
 */
enum itx_image_format itx_image_output_format(enum itx_image_format input);

/* ---- decoding --------------------------------------------------------------------------- */

/* Defaults, safe for untrusted input. */
#define ITX_IMAGE_MAX_PIXELS_DEFAULT 40000000ULL /* 40 MP */
#define ITX_IMAGE_MAX_SIDE_DEFAULT 30000         /* px, lets 790x8000+ detail strips pass */
#define ITX_IMAGE_MIN_SIDE_DEFAULT 8             /* px */
#define ITX_IMAGE_MAX_BYTES_DEFAULT (64u << 20)  /* encoded input, bytes */

struct itx_image_limits {
    uint64_t max_pixels; /* width * height of the decoded picture */
    int max_side;        /* longest side */
    int min_side;        /* shortest side */
    size_t max_bytes;    /* size of the encoded data */
};

/* Fills in the defaults above. */
void itx_image_limits_default(struct itx_image_limits *lim);

/* What the decoder saw, for logs and for choosing the output format. */
struct itx_image_info {
    enum itx_image_format format;
    int src_w, src_h; /* as stored, before EXIF rotation */
    int orientation;  /* EXIF orientation 1..8 (1 when absent) */
    int n_pages;      /* frames in an animation, 1 otherwise; only the first is decoded */
    int src_bands;    /* bands as stored, alpha included */
    int bits;         /* bits per sample as stored: 8 or 16 */
    bool had_alpha;   /* an alpha channel was flattened on white */
    bool cmyk;        /* converted from CMYK */
};

/*
 * Decodes a picture held in memory into a new 3-channel sRGB image (*out, free with
 * itx_image_free) and fills *info (when not NULL). lim NULL means the defaults.
 * Errors (outputs untouched):
 * - ITX_ERR_UNSUPPORTED: not a JPEG, PNG, WebP or GIF; the message says what the data
 *   looks like ("an HTML page", "an SVG image", "a HEIF image", ...). HEIF and AVIF are
 *   recognised, to name them, but not decoded.
 * - ITX_ERR_TOO_LARGE: over max_bytes, max_pixels or max_side (decided from the header,
 *   before any pixel is decoded); the message has the size and the limit.
 * - ITX_ERR_UNDECODABLE: empty, a side under min_side, corrupt or truncated data (the
 *   message carries the format library's reason).
 * - ITX_ERR_NOMEM, ITX_ERR_INTERNAL.
 * Embedded ICC profiles other than sRGB are converted to sRGB (lcms2); CMYK JPEGs through
 * their profile, or the naive formula without one.
 * Peak memory is about the decoded picture (w * h * 3) plus the library's working set
 * (a w * h * 4 buffer for pictures with alpha that are interlaced PNGs or WebPs; the
 * coefficients of a progressive JPEG), twice the picture for EXIF-rotated ones.
 */
enum itx_status itx_image_decode(const uint8_t *data, size_t len,
                                 const struct itx_image_limits *lim, struct itx_image **out,
                                 struct itx_image_info *info, struct itx_diag *d);

/*
 * Reads a file (at most lim->max_bytes) and decodes it as itx_image_decode does. Messages
 * name the file. ITX_ERR_NOT_FOUND / ITX_ERR_IO for files that cannot be read.
 */
enum itx_status itx_image_load_file(const char *path, const struct itx_image_limits *lim,
                                    struct itx_image **out, struct itx_image_info *info,
                                    struct itx_diag *d);

/* ---- encoding --------------------------------------------------------------------------- */

#define ITX_IMAGE_QUALITY_DEFAULT 90

/*
 * Encodes an image (1, 3 or 4 channels) as JPEG, PNG or WebP into a new buffer (*out, free
 * with itx_free; *out_len bytes), with no metadata. quality 1..100 applies to JPEG (libjpeg
 * scale; chroma 4:2:0 under 90, 4:4:4 from 90) and lossy WebP (libwebp scale); 0 means
 * ITX_IMAGE_QUALITY_DEFAULT.
 * PNG is written for speed (zlib level 2, the Sub filter). ITX_ERR_UNSUPPORTED for other formats
 * (and for 4 channels as JPEG), ITX_ERR_INVALID for a bad quality.
 */
enum itx_status itx_image_encode(const struct itx_image *img, enum itx_image_format format,
                                 int quality, uint8_t **out, size_t *out_len, struct itx_diag *d);

/*
 * Encodes and writes to path (replaced atomically through a temporary file in the same
 * directory). format UNKNOWN means: from the file name's extension.
 */
enum itx_status itx_image_save_file(const struct itx_image *img, const char *path,
                                    enum itx_image_format format, int quality, struct itx_diag *d);

/* ---- geometry --------------------------------------------------------------------------- */

enum itx_image_filter {
    /*
     * Bilinear on pixel centres (as OpenCV's INTER_LINEAR: src = (dst + 0.5) * scale - 0.5,
     * edges clamped), without anti-aliasing: PaddleOCR resizes with cv2.resize's default,
     * so the OCR models expect this.
     */
    ITX_IMAGE_FILTER_BILINEAR,
    /* Area average when shrinking (each output pixel the mean of the source area it
     * covers, as INTER_AREA); bilinear when enlarging. Best for thumbnails and masks. */
    ITX_IMAGE_FILTER_AREA,
};

/* Resamples src to w x h into a new image. ITX_ERR_INVALID for sizes under 1. */
enum itx_status itx_image_resize(const struct itx_image *src, int w, int h,
                                 enum itx_image_filter filter, struct itx_image **out,
                                 struct itx_diag *d);

/* Copies the rectangle (x, y, w, h), which must lie inside src (else ITX_ERR_INVALID). */
enum itx_status itx_image_crop(const struct itx_image *src, int x, int y, int w, int h,
                               struct itx_image **out, struct itx_diag *d);

/*
 * Rotates by quarter_turns * 90 degrees counter-clockwise (any integer; 1 is what numpy's
 * rot90 does, which PaddleOCR applies to tall text-line crops).
 */
enum itx_status itx_image_rotate90(const struct itx_image *src, int quarter_turns,
                                   struct itx_image **out, struct itx_diag *d);

/* ---- tensors ---------------------------------------------------------------------------- */

/*
 * Per-channel normalisation into float planes: value = (sample * scale - mean[c]) / std[c],
 * where channel c of the tensor is R, G, B, or B, G, R when bgr is true.
 */
struct itx_image_norm {
    float scale;
    float mean[3];
    float std[3];
    bool bgr;
};

/*
 * PaddleOCR's preprocessing, as found in its sources (tools/infer/predict_det.py,
 * predict_rec.py, ppocr/data/imaug/operators.py NormalizeImage): pictures are read with
 * cv2.imread, so in BGR order, and NormalizeImage subtracts the listed means from the
 * channels in that order. The ImageNet RGB means are thus applied to B, G, R: tensor plane
 * 0 is B with mean 0.485 / std 0.229. The models were trained that way, so itx feeds BGR.
 * - det: scale 1/255, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), BGR.
 * - rec and cls: (x / 255 - 0.5) / 0.5, BGR; the width is padded with zeros (after
 *   normalisation) up to the batch width.
 */
extern const struct itx_image_norm itx_image_norm_ppocr_det;
extern const struct itx_image_norm itx_image_norm_ppocr_rec;

/*
 * Writes a 3-channel image as a planar float tensor of 3 planes of dst_h x dst_w (CHW, the
 * layout of one NCHW batch item): the image at the top-left, every element outside it set
 * to pad (PaddleOCR pads rec batches with 0). img must have 3 channels and fit
 * (w <= dst_w, h <= dst_h); both are programmer errors otherwise (asserted).
 */
void itx_image_to_tensor(const struct itx_image *img, const struct itx_image_norm *norm, float *dst,
                         int dst_w, int dst_h, float pad);

/* ---- libvips bridge (development tools only) -------------------------------------------- */

/*
 * These two live in the separate library itx_image_vips (src/image/vips-bridge.c), built
 * only when libvips-dev is installed, for the tools and tests that make pictures with
 * libvips (tools/testset). The itx binary does not link it, nor libvips.
 */
struct _VipsImage;

/*
 * Copies an image into a new in-memory VipsImage (unref with g_object_unref), interpreted
 * as sRGB (3/4 channels) or B_W (1/2 channels).
 */
enum itx_status itx_image_to_vips(const struct itx_image *img, struct _VipsImage **out,
                                  struct itx_diag *d);

/*
 * Computes a VipsImage (8-bit, 1 to 4 bands) into a new struct itx_image with the same
 * bands. Other formats are cast to 8 bits. The message of a failure is libvips's.
 */
enum itx_status itx_image_from_vips(struct _VipsImage *in, struct itx_image **out,
                                    struct itx_diag *d);

#endif
