/*
 * The whole job of itx on one picture (or the pictures of one product): decode, OCR, choose
 * what to translate, translate every block in one provider call, erase, lay out and draw,
 * check the result by reading it again, encode (docs/pipeline.md).
 *
 * Invariants:
 * - Only Chinese lines are translated. Every other recognised line is kept, untouched, with
 *   a skip reason (latin_only, price, number, keep_term, low_confidence, ...), and appears in
 *   the regions JSON all the same.
 * - Pixels change only inside the erase mask and where English is drawn.
 * - The output picture is in the input's format (itx_image_output_format) unless the
 *   options ask for another; no metadata is carried along.
 *
 * Thread-safety: a struct itx_pipeline (OCR engine, translator, glossary) is read-only after
 * itx_pipeline_new and shared by any number of threads. Each worker thread runs pictures
 * through its own struct itx_pipeline_ctx (OCR sessions, render font map).
 */
#ifndef ITX_PIPELINE_PIPELINE_H
#define ITX_PIPELINE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "image/image.h"
#include "translate/translate.h"

struct itx_fetch_opts;

/* Shared settings, read once by itx_pipeline_new. Zero or NULL means the default given. */
struct itx_pipeline_config {
    const char *models_dir;             /* NULL: itx_models_dir() */
    struct itx_tr_config tr;            /* translator (provider, keys, glossary file, cache) */
    const struct itx_fetch_opts *fetch; /* for URL sources; NULL: itx_fetch_opts_init */
    int ocr_threads;                    /* OpenMP threads per inference (1) */
};

struct itx_pipeline;
struct itx_pipeline_ctx;

/*
 * Loads the OCR models and creates the translator. On success *out is new
 * (itx_pipeline_free). Errors: those of itx_ocr_engine_new and itx_translator_new,
 * ITX_ERR_NOMEM. Call itx_image_init first.
 */
enum itx_status itx_pipeline_new(const struct itx_pipeline_config *cfg, struct itx_pipeline **out,
                                 struct itx_diag *d);
/* Frees the pipeline; every context must be freed first. NULL is a no-op. */
void itx_pipeline_free(struct itx_pipeline *p);

/* A per-thread context (OCR sessions, render context). Errors: ITX_ERR_NOMEM, ITX_ERR_INTERNAL. */
enum itx_status itx_pipeline_ctx_new(struct itx_pipeline *p, struct itx_pipeline_ctx **out,
                                     struct itx_diag *d);
void itx_pipeline_ctx_free(struct itx_pipeline_ctx *c);

/*
 * Prepares a context for requests so that none pays for a first time: plans the OCR models
 * at every shape the context keeps and runs each once (itx_ocr_ctx_warmup), and lays out a
 * line of text, which loads the fonts. A server calls it on each context before it reports
 * ready (contexts may warm in parallel, one thread each). Memory: a context holds one
 * activation arena (about 70 MiB, the detector at 960x960) besides the shared models; see
 * docs/pipeline.md. Errors: those of the OCR runner and of the layout.
 */
enum itx_status itx_pipeline_ctx_warmup(struct itx_pipeline_ctx *c, struct itx_diag *d);

/* Per-picture settings. */
struct itx_pipeline_opts {
    const char *target;                    /* language code ("en") */
    const struct itx_glossary *glossary;   /* per-request glossary, borrowed, may be NULL */
    enum itx_image_format format;          /* output format; UNKNOWN: from the input */
    int quality;                           /* JPEG/WebP quality; 0: ITX_IMAGE_QUALITY_DEFAULT */
    float min_score;                       /* lines read with less confidence are skipped (0.6) */
    bool no_qa;                            /* skip the read-back check and its retry */
    bool debug;                            /* also make the overlay picture */
    const struct itx_image_limits *limits; /* NULL: the defaults */
    /* Polled between stages; when it returns true the run stops with ITX_ERR_CANCELLED
     * (or whatever status cancel_status returns, when set). NULL: never cancelled. */
    bool (*cancelled)(void *arg);
    enum itx_status (*cancel_status)(void *arg);
    void *cancel_arg;
};

void itx_pipeline_opts_default(struct itx_pipeline_opts *o);

/* A source: bytes in memory, or a URL fetched with the pipeline's fetch settings. */
struct itx_pipeline_source {
    const uint8_t *data; /* borrowed; NULL when url is set */
    size_t len;
    const char *url;
    const char *name; /* for messages (a file name or the URL); may be NULL */
};

/* Milliseconds spent in each stage (wall time). */
struct itx_pipeline_timings {
    double fetch, decode, ocr, translate, erase, render, qa, encode, total;
};

/* QA flags of a region, besides the render flags (enum itx_render_flag) it carries. */
#define ITX_PIPELINE_HAN_LEFT (1u << 16) /* Chinese read back inside the region */
#define ITX_PIPELINE_RETRIED (1u << 17)  /* the region was erased or drawn again */
#define ITX_PIPELINE_OVERLAP (1u << 18)  /* its drawn text overlaps another region's */

struct itx_pipeline_result {
    uint8_t *image; /* the translated picture, encoded (itx_free) */
    size_t image_len;
    enum itx_image_format format;
    uint8_t *background; /* the text-free background as PNG (itx_free) */
    size_t background_len;
    char *regions_json; /* NUL-terminated (itx_free); see docs/pipeline.md */
    size_t regions_len;
    uint8_t *overlay; /* PNG with boxes, masks and flags, only with opts.debug (itx_free) */
    size_t overlay_len;
    uint8_t *mask; /* PNG, 255 where the erase may have changed a pixel; only with opts.debug */
    size_t mask_len;
    int width, height;
    /* regions (translated blocks plus skipped lines); flagged: Chinese left, overflow, too
       small, or low contrast without an outline */
    unsigned n_regions, n_translated, n_skipped, n_flagged;
    struct itx_pipeline_timings ms;
};

void itx_pipeline_result_release(struct itx_pipeline_result *r);

/*
 * Runs one picture. On success *res is filled (release with itx_pipeline_result_release).
 * Errors: those of fetching, decoding (ITX_ERR_UNSUPPORTED, ITX_ERR_TOO_LARGE,
 * ITX_ERR_UNDECODABLE), OCR, translation, erase and drawing; ITX_ERR_CANCELLED (or the
 * cancel status) when cancelled. Not thread-safe on one context.
 */
enum itx_status itx_pipeline_run(struct itx_pipeline_ctx *c, const struct itx_pipeline_source *src,
                                 const struct itx_pipeline_opts *o, struct itx_pipeline_result *res,
                                 struct itx_diag *d);

/*
 * Runs the n pictures of one product together: the blocks of all of them go to the
 * translator in one call. res has n entries, all written only on success (n at most 64).
 */
#define ITX_PIPELINE_MAX_GROUP 64
enum itx_status itx_pipeline_run_group(struct itx_pipeline_ctx *c,
                                       const struct itx_pipeline_source *src, size_t n,
                                       const struct itx_pipeline_opts *o,
                                       struct itx_pipeline_result *res, struct itx_diag *d);

/*
 * The same run in three phases, so that a server can give its context back while the
 * provider call waits on the network (docs/pipeline.md, "Phases"):
 *
 * - itx_pipeline_begin (needs a context): fetch and decode, OCR, selection and grouping of
 *   the n pictures (1 to ITX_PIPELINE_MAX_GROUP). On success *out is a new state, which owns
 *   every picture, OCR result and text it made; it points into no context. The sources are
 *   copied, but what they point to (data, url, name) is borrowed until
 *   itx_pipeline_state_free. Errors: those of itx_pipeline_run_group up to the OCR.
 * - itx_pipeline_translate (holds no context; any thread): the one provider call for the
 *   blocks of every picture. It blocks for as long as the provider takes: seconds for gemini
 *   and openai (network), well under a millisecond of CPU for dict;
 *   itx_pipeline_translate_waits says which. p must be the pipeline the state was begun on.
 *   Errors: those of itx_translate, ITX_ERR_TOO_LARGE (too many segments for one call), the
 *   cancel status.
 * - itx_pipeline_finish (needs a context, which may be another one than begin's, of the same
 *   pipeline): erase, draw, read-back check, encode; fills res[0..n) on success only.
 *
 * The cancellation polls are those of itx_pipeline_run_group, in the same order (decode and
 * ocr per picture in begin, translate at the start of the translate phase, erase, qa and
 * encode per picture in finish). After an error the state can only be freed. One state is
 * used by one thread at a time. ms.total of each result is the wall time from begin to the
 * end of finish (waits included), divided by n.
 */
struct itx_pipeline_state;
enum itx_status itx_pipeline_begin(struct itx_pipeline_ctx *c,
                                   const struct itx_pipeline_source *src, size_t n,
                                   const struct itx_pipeline_opts *o,
                                   struct itx_pipeline_state **out, struct itx_diag *d);
enum itx_status itx_pipeline_translate(struct itx_pipeline *p, struct itx_pipeline_state *s,
                                       const struct itx_pipeline_opts *o, struct itx_diag *d);
enum itx_status itx_pipeline_finish(struct itx_pipeline_ctx *c, struct itx_pipeline_state *s,
                                    const struct itx_pipeline_opts *o,
                                    struct itx_pipeline_result *res, struct itx_diag *d);
/* NULL is a no-op. */
void itx_pipeline_state_free(struct itx_pipeline_state *s);
/* Whether the translate phase waits on the network (gemini, openai): true for every
 * provider but dict. */
bool itx_pipeline_translate_waits(const struct itx_pipeline *p);

/*
 * Redraws a picture from its text-free background and a regions JSON (as written by
 * itx_pipeline_run, perhaps edited: translation, color, font_size), without OCR: returns
 * the new picture in *out (itx_image_free). rc is the caller's render context
 * (itx_render_ctx_new); no OCR model is needed. Errors: ITX_ERR_INVALID naming the bad field,
 * ITX_ERR_TOO_LARGE (over 16 MiB of JSON or 10000 regions), and the drawing errors.
 */
#define ITX_PIPELINE_MAX_REGIONS_JSON ((size_t)16 << 20)
#define ITX_PIPELINE_MAX_REGIONS 10000
struct itx_render_ctx;
enum itx_status itx_pipeline_redraw(struct itx_render_ctx *rc, const struct itx_image *bg,
                                    const char *json, size_t json_len, struct itx_image **out,
                                    struct itx_diag *d);

#endif
