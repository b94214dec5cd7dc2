/*
 * Internals shared by the files of src/image/; no other module includes this (the module's
 * own tests and fuzz targets do, to reach the EXIF parser).
 */
#ifndef ITX_IMAGE_IMAGE_IMPL_H
#define ITX_IMAGE_IMAGE_IMPL_H

#include "image/image.h"

/* Largest embedded ICC profile that is looked at; bigger ones are ignored. */
#define ITX_IMAGE_MAX_ICC (4u << 20)

/*
 * What a format decoder hands back besides the pixels: the embedded ICC profile (owned,
 * itx_malloc'd, NULL when none or when the decoder already applied it) and the EXIF
 * orientation (1..8).
 */
struct itx_image_meta {
    uint8_t *icc;
    size_t icc_len;
    int orientation;
};

/*
 * The format decoders. Each checks the dimensions it reads from the header against lim
 * (itx_image_check_dims) before allocating pixels, decodes the first frame into a new
 * 3-channel 8-bit image with alpha flattened on white, fills the fields of info it knows
 * (src_w, src_h, n_pages, src_bands, bits, had_alpha, cmyk) and meta. Errors carry a
 * reason without the "cannot decode ..." prefix that itx_image_decode adds.
 */
enum itx_status itx_image_decode_jpeg(const uint8_t *data, size_t len,
                                      const struct itx_image_limits *lim, struct itx_image **out,
                                      struct itx_image_info *info, struct itx_image_meta *meta,
                                      struct itx_diag *d);
enum itx_status itx_image_decode_png(const uint8_t *data, size_t len,
                                     const struct itx_image_limits *lim, struct itx_image **out,
                                     struct itx_image_info *info, struct itx_image_meta *meta,
                                     struct itx_diag *d);
enum itx_status itx_image_decode_webp(const uint8_t *data, size_t len,
                                      const struct itx_image_limits *lim, struct itx_image **out,
                                      struct itx_image_info *info, struct itx_image_meta *meta,
                                      struct itx_diag *d);
enum itx_status itx_image_decode_gif(const uint8_t *data, size_t len,
                                     const struct itx_image_limits *lim, struct itx_image **out,
                                     struct itx_image_info *info, struct itx_image_meta *meta,
                                     struct itx_diag *d);

/*
 * Checks declared dimensions against the limits: ITX_ERR_TOO_LARGE over max_side or
 * max_pixels, ITX_ERR_UNDECODABLE for a zero side or a side under min_side.
 */
enum itx_status itx_image_check_dims(uint64_t w, uint64_t h, const struct itx_image_limits *lim,
                                     struct itx_diag *d);

/* Composites one RGBA row (straight alpha) on white into an RGB row. */
void itx_image_flatten_row(const uint8_t *rgba, uint8_t *rgb, int w);

/*
 * The EXIF orientation (1..8) in an EXIF block: the TIFF structure, with or without the
 * "Exif\0\0" prefix of a JPEG APP1 segment. Only IFD0 is read; every offset is checked
 * against len. 1 when the block is malformed or has no valid Orientation tag.
 */
int itx_image_exif_orientation(const uint8_t *p, size_t len);

/*
 * Converts an RGB image in place from an embedded ICC profile to sRGB (lcms2, relative
 * colorimetric). Nothing happens for profiles that are not RGB, that describe themselves as
 * sRGB, or that lcms2 cannot parse (the pixels are then taken as sRGB, as browsers do).
 * ITX_ERR_NOMEM when the transform cannot be made for lack of memory is not distinguished:
 * a failed transform leaves the pixels as they are.
 */
void itx_image_icc_to_srgb(struct itx_image *img, const uint8_t *icc, size_t icc_len);

/*
 * A CMYK to sRGB converter for one picture: through the embedded profile when it is a CMYK
 * one lcms2 can use, else the naive formula R = (1 - C)(1 - K) on each channel. inverted
 * says the samples are stored inverted (Adobe APP14 JPEGs). Free with itx_image_cmyk_free.
 */
struct itx_image_cmyk;
struct itx_image_cmyk *itx_image_cmyk_new(const uint8_t *icc, size_t icc_len, bool inverted);
void itx_image_cmyk_row(struct itx_image_cmyk *c, const uint8_t *cmyk, uint8_t *rgb, int w);
void itx_image_cmyk_free(struct itx_image_cmyk *c);

/*
 * Applies an EXIF orientation (1..8) to src into a new image; 1 gives a copy. Returns NULL
 * on allocation failure.
 */
struct itx_image *itx_image_orient(const struct itx_image *src, int orientation);

#endif
