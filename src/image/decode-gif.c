/*
 * GIF decoding on giflib: the first frame, placed on the logical screen, transparent and
 * uncovered pixels white. Later frames are only counted (their LZW data is skipped, not
 * decompressed), up to MAX_FRAMES: giflib keeps a descriptor per frame it has seen.
 */
#include <string.h>

#include <gif_lib.h>

#include "core/alloc.h"
#include "image/image-impl.h"

#define MAX_FRAMES 1000

struct gsrc {
    const uint8_t *data;
    size_t len, pos;
};

static int
on_read(GifFileType *g, GifByteType *out, int n)
{
    struct gsrc *s = g->UserData;
    size_t k = (size_t)(n < 0 ? 0 : n);

    if (k > s->len - s->pos)
        k = s->len - s->pos;
    memcpy(out, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

static const char *
gif_error(int code)
{
    const char *e = GifErrorString(code);
    return e ? e : "corrupt GIF data";
}

/* Decodes the frame just described by g->Image into img at its offset. */
static enum itx_status
first_frame(GifFileType *g, struct itx_image *img, int transparent,
            const struct itx_image_limits *lim, struct itx_diag *d)
{
    const GifImageDesc *fd = &g->Image;
    const ColorMapObject *cm = fd->ColorMap ? fd->ColorMap : g->SColorMap;
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    GifPixelType *line = NULL;
    enum itx_status st = ITX_OK;
    int n_pass = fd->Interlace ? 4 : 1;

    if (!cm)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "the first frame has no colour table");
    if (fd->Width <= 0 || fd->Height <= 0 || fd->Width > lim->max_side ||
        fd->Height > lim->max_side)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "the first frame is %dx%d", fd->Width,
                            fd->Height);
    line = itx_malloc((size_t)fd->Width);
    if (!line)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (int p = 0; p < n_pass && st == ITX_OK; p++)
        for (int r = fd->Interlace ? start[p] : 0; r < fd->Height;
             r += fd->Interlace ? step[p] : 1) {
            int y = fd->Top + r;
            if (DGifGetLine(g, line, fd->Width) != GIF_OK) {
                st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", gif_error(g->Error));
                break;
            }
            if (y < 0 || y >= img->h)
                continue;
            for (int x = 0; x < fd->Width; x++) {
                int cx = fd->Left + x;
                const GifColorType *c;
                uint8_t *o;
                if (cx < 0 || cx >= img->w || line[x] == transparent || line[x] >= cm->ColorCount)
                    continue;
                c = &cm->Colors[line[x]];
                o = itx_image_at(img, cx, y);
                o[0] = c->Red, o[1] = c->Green, o[2] = c->Blue;
            }
        }
    itx_free(line);
    return st;
}

enum itx_status
itx_image_decode_gif(const uint8_t *data, size_t len, const struct itx_image_limits *lim,
                     struct itx_image **out, struct itx_image_info *info,
                     struct itx_image_meta *meta, struct itx_diag *d)
{
    struct gsrc src = {data, len, 0};
    GifFileType *g;
    struct itx_image *img = NULL;
    enum itx_status st = ITX_OK;
    int err = 0, transparent = -1, n_frames = 0;
    GifRecordType type;

    (void)meta;
    g = DGifOpen(&src, on_read, &err);
    if (!g)
        return itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", gif_error(err));
    if ((st = itx_image_check_dims((uint64_t)g->SWidth, (uint64_t)g->SHeight, lim, d)) != ITX_OK)
        goto out;
    info->src_w = g->SWidth, info->src_h = g->SHeight;
    info->bits = 8;
    img = itx_image_new(g->SWidth, g->SHeight, 3);
    if (!img) {
        st = itx_diag_set(d, ITX_ERR_NOMEM, "cannot allocate a %dx%d image", g->SWidth, g->SHeight);
        goto out;
    }
    memset(img->px, 255, img->stride * (size_t)img->h);
    while (n_frames < MAX_FRAMES) {
        if (DGifGetRecordType(g, &type) != GIF_OK) {
            /* a damaged tail after the first frame costs only the frame count */
            if (n_frames == 0)
                st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", gif_error(g->Error));
            break;
        }
        if (type == TERMINATE_RECORD_TYPE)
            break;
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) != GIF_OK) {
                if (n_frames == 0)
                    st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", gif_error(g->Error));
                break;
            }
            if (code == GRAPHICS_EXT_FUNC_CODE && n_frames == 0 && ext && ext[0] >= 4) {
                GraphicsControlBlock gcb;
                if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK)
                    transparent = gcb.TransparentColor;
            }
            while (ext)
                if (DGifGetExtensionNext(g, &ext) != GIF_OK)
                    break;
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE)
            continue;
        if (DGifGetImageDesc(g) != GIF_OK) {
            if (n_frames == 0)
                st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "%s", gif_error(g->Error));
            break;
        }
        if (n_frames == 0) {
            if ((st = first_frame(g, img, transparent, lim, d)) != ITX_OK)
                break;
        } else {
            int size;
            GifByteType *block;
            if (DGifGetCode(g, &size, &block) != GIF_OK)
                break;
            while (block)
                if (DGifGetCodeNext(g, &block) != GIF_OK)
                    break;
            if (block)
                break;
        }
        n_frames++;
    }
    if (st == ITX_OK && n_frames == 0)
        st = itx_diag_set(d, ITX_ERR_UNDECODABLE, "the GIF has no frame");
    if (st != ITX_OK)
        goto out;
    info->n_pages = n_frames;
    info->had_alpha = transparent >= 0;
    info->src_bands = info->had_alpha ? 4 : 3;
    *out = img;
    img = NULL;
out:
    DGifCloseFile(g, &err);
    itx_image_free(img);
    return st;
}
