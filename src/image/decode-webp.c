/*
 * WebP decoding on libwebp: still pictures (lossy, lossless, with or without alpha) with
 * the simple decoding API, animations through WebPAnimDecoder (first frame, composited on
 * the canvas), and the EXIF and ICCP chunks of the extended format through the demuxer.
 */
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "core/alloc.h"
#include "image/image-impl.h"

static const char *
status_text(VP8StatusCode c)
{
    switch (c) {
    case VP8_STATUS_OUT_OF_MEMORY:
        return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
        return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
        return "corrupt WebP bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return "unsupported WebP feature";
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return "truncated WebP data";
    default:
        return "WebP decoding failed";
    }
}

enum itx_status
itx_image_decode_webp(const uint8_t *data, size_t len, const struct itx_image_limits *lim,
                      struct itx_image **out, struct itx_image_info *info,
                      struct itx_image_meta *meta, struct itx_diag *d)
{
    WebPBitstreamFeatures f;
    WebPData wd = {data, len};
    WebPDemuxer *dmx = NULL;
    WebPAnimDecoder *anim = NULL;
    WebPChunkIterator ci;
    struct itx_image *img = NULL;
    uint8_t *rgba = NULL;
    enum itx_status st = ITX_OK;
    VP8StatusCode r;
    int w, h;

    if ((r = WebPGetFeatures(data, len, &f)) != VP8_STATUS_OK)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", status_text(r));
    w = f.width, h = f.height;
    if ((st = itx_image_check_dims((uint64_t)w, (uint64_t)h, lim, d)) != ITX_OK)
        return st;
    info->src_w = w, info->src_h = h;
    info->src_bands = f.has_alpha ? 4 : 3;
    info->bits = 8;
    info->had_alpha = f.has_alpha;
    info->n_pages = 1;

    dmx = WebPDemux(&wd);
    if (!dmx) {
        st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "corrupt or truncated WebP container");
        goto out;
    }
    info->n_pages = (int)WebPDemuxGetI(dmx, WEBP_FF_FRAME_COUNT);
    if (info->n_pages < 1)
        info->n_pages = 1;
    if (WebPDemuxGetChunk(dmx, "EXIF", 1, &ci)) {
        meta->orientation = itx_image_exif_orientation(ci.chunk.bytes, ci.chunk.size);
        WebPDemuxReleaseChunkIterator(&ci);
    }
    if (WebPDemuxGetChunk(dmx, "ICCP", 1, &ci)) {
        if (ci.chunk.size <= ITX_IMAGE_MAX_ICC && (meta->icc = itx_malloc(ci.chunk.size + 1))) {
            memcpy(meta->icc, ci.chunk.bytes, ci.chunk.size);
            meta->icc_len = ci.chunk.size;
        }
        WebPDemuxReleaseChunkIterator(&ci);
    }
    img = itx_image_new(w, h, 3);
    if (!img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", w, h);
        goto out;
    }
    if (f.has_animation) {
        WebPAnimDecoderOptions o;
        WebPAnimInfo ai;
        uint8_t *canvas = NULL;
        int ts = 0;
        if (!WebPAnimDecoderOptionsInit(&o)) {
            st = itx_diag_set(d, ITX_ERR_INTERNAL, "libwebp version mismatch");
            goto out;
        }
        o.color_mode = MODE_RGBA;
        o.use_threads = 0;
        anim = WebPAnimDecoderNew(&wd, &o);
        if (!anim || !WebPAnimDecoderGetInfo(anim, &ai) || (int)ai.canvas_width != w ||
            (int)ai.canvas_height != h || !WebPAnimDecoderGetNext(anim, &canvas, &ts)) {
            st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "corrupt or truncated WebP animation");
            goto out;
        }
        info->had_alpha = true; /* the canvas starts transparent */
        for (int y = 0; y < h; y++)
            itx_image_flatten_row(canvas + (size_t)y * (size_t)w * 4,
                                  img->px + (size_t)y * img->stride, w);
    } else if (f.has_alpha) {
        size_t size;
        if (!itx_mul_size((size_t)w * 4, (size_t)h, &size) || !(rgba = itx_malloc(size))) {
            st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d RGBA image", w, h);
            goto out;
        }
        if (!WebPDecodeRGBAInto(data, len, rgba, size, w * 4)) {
            st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "corrupt or truncated WebP data");
            goto out;
        }
        for (int y = 0; y < h; y++)
            itx_image_flatten_row(rgba + (size_t)y * (size_t)w * 4,
                                  img->px + (size_t)y * img->stride, w);
    } else {
        if (!WebPDecodeRGBInto(data, len, img->px, img->stride * (size_t)h, (int)img->stride)) {
            st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "corrupt or truncated WebP data");
            goto out;
        }
    }
    *out = img;
    img = NULL;
out:
    if (anim)
        WebPAnimDecoderDelete(anim);
    WebPDemuxDelete(dmx);
    itx_free(rgba);
    itx_image_free(img);
    return st;
}
