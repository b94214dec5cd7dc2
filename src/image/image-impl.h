/*
 * Internals shared by the files of src/image/; no other module includes this.
 */
#ifndef ITX_IMAGE_IMAGE_IMPL_H
#define ITX_IMAGE_IMAGE_IMPL_H

#include <vips/vips.h>

#include "image/image.h"

/*
 * Moves libvips's process-wide error text into d as "<what>: <reason>" (lines joined with
 * "; "), clears libvips's buffer and returns code.
 */
enum itx_status itx_image_vips_fail(struct itx_diag *d, enum itx_status code, const char *what);

/*
 * Applies an EXIF orientation (1..8) to src into a new image; 1 gives a copy. Returns NULL
 * on allocation failure.
 */
struct itx_image *itx_image_orient(const struct itx_image *src, int orientation);

#endif
