/*
 * Text detection and recognition (PP-OCR), public interface.
 *
 * This header holds the model-free stages of the pipeline, which work on plain arrays so
 * they can be tested and fuzzed without a model:
 *   - DB post-processing: probability map -> text quads (itx_ocr_db_boxes);
 *   - reading order of quads (itx_ocr_quads_sort);
 *   - pre-processing: detector input size and tensor, perspective crops of quads, the
 *     recognizer and orientation-classifier tensors;
 *   - CTC greedy decoding over the key list (itx_ocr_dict, itx_ocr_ctc_decode);
 *   - per-line flags (Han, Latin-only, price-like).
 * Each follows PaddleOCR's defaults (tools/infer/predict_system.py and friends) unless the
 * comment says otherwise; docs/ocr.md lists every known difference.
 *
 * Conventions: coordinates are in pixels with (0, 0) the centre of the top-left pixel, x to
 * the right and y down. A quad is 8 floats x1,y1..x4,y4, clockwise on screen from the
 * top-left corner. Pixel buffers are 8-bit RGB, 3 bytes a pixel, rows `stride` bytes apart.
 * Tensors are float32, channels-first, in PaddleOCR's channel order B, G, R (the models
 * were trained on OpenCV's BGR images).
 *
 * Thread-safety: every function is reentrant; struct itx_ocr_dict is read-only after
 * loading and may be shared between threads.
 */
#ifndef ITX_OCR_OCR_H
#define ITX_OCR_OCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- detection post-processing ---------------------------------------------------------- */

/* One detected text region. */
struct itx_ocr_quad {
    float pt[8]; /* x1,y1,x2,y2,x3,y3,x4,y4 clockwise from top-left, original-image pixels */
    float score; /* mean probability inside the box on the map (0..1) */
};

struct itx_ocr_db_params {
    float thresh;       /* binarisation threshold on the probability map (0.3) */
    float box_thresh;   /* minimum box score to keep (0.6) */
    float unclip_ratio; /* unclip distance = area * ratio / perimeter (1.5) */
    int min_size;       /* minimum short side in map pixels, before unclip (3) */
    int max_candidates; /* contours considered, in raster order of discovery (1000) */
    size_t max_pixels;  /* refuse larger maps (ITX_ERR_TOO_LARGE); 0 = 64 Mi */
};

/* Fills PaddleOCR's defaults. */
void itx_ocr_db_params_default(struct itx_ocr_db_params *p);

/*
 * DB post-processing (PaddleOCR DBPostProcess, score_mode "fast", box_type "quad", plus
 * predict_det's filter_tag_det_res): binarises prob (map_w x map_h, row-major) at
 * p->thresh, follows the outer and hole borders of the 8-connected regions, and for each
 * takes the minimum-area rectangle, drops it when its short side is under p->min_size,
 * scores it (mean of prob inside), drops it under p->box_thresh, offsets it outward with
 * round joins by area*unclip_ratio/perimeter, takes the minimum-area rectangle again,
 * drops it when its short side is under min_size + 2, scales it to img_w x img_h, rounds
 * and clips to the image, orders the corners clockwise from top-left and drops quads
 * whose sides are 3 pixels or less. NaN probabilities count as 0.
 *
 * On success *quads is a new array (itx_free) of *n_quads entries in discovery order (use
 * itx_ocr_quads_sort for reading order); NULL when none. p may be NULL for the defaults.
 * Errors: ITX_ERR_INVALID (bad sizes or params), ITX_ERR_TOO_LARGE (over max_pixels),
 * ITX_ERR_NOMEM.
 */
enum itx_status itx_ocr_db_boxes(const float *prob, int map_w, int map_h, int img_w, int img_h,
                                 const struct itx_ocr_db_params *p, struct itx_ocr_quad **quads,
                                 size_t *n_quads, struct itx_diag *d);

/*
 * Sorts quads into reading order: top-to-bottom by the top-left corner, then, as
 * PaddleOCR's sorted_boxes does, swaps neighbours that are on the same line (top-left y
 * within the tolerance) but out of left-to-right order. PaddleOCR's tolerance is a fixed
 * 10 pixels; here it is half the smaller of the two boxes' heights, so it scales with the
 * picture (for 20-pixel lines it is the same 10 pixels).
 */
void itx_ocr_quads_sort(struct itx_ocr_quad *q, size_t n);

/* ---- tall pictures -------------------------------------------------------------------------- */

/* Rows [y, y + h) of the picture, detected on their own. */
struct itx_ocr_slice {
    int y, h;
};

/*
 * Plans detection slices for a w x h picture. When h <= max_aspect * w (2.5 is a good value)
 * the whole picture is one slice. Otherwise it is cut into slices of height
 * max(limit_side, w) (at most h) overlapping by a quarter of that, spread evenly from top
 * to bottom, so that a detail strip of width <= limit_side is detected at full resolution
 * and every text line shorter than the overlap lies whole in some slice. Writes at most cap
 * slices and returns how many the picture needs (call with cap 0 to size the array).
 */
size_t itx_ocr_slices_plan(int w, int h, int limit_side, double max_aspect, struct itx_ocr_slice *s,
                           size_t cap);

/*
 * Merges the quads detected in overlapping slices, already shifted to picture coordinates;
 * slice_of[i] is the slice quad i came from. A quad touching a cut edge of its slice (the
 * top of any slice but the first, the bottom of any but the last) loses to an overlapping
 * whole one; of two quads whose bounding boxes overlap by more than half of the smaller,
 * the larger stays. Compacts q in place, keeping the order, and writes the new count.
 * Errors: ITX_ERR_NOMEM.
 */
enum itx_status itx_ocr_quads_merge(struct itx_ocr_quad *q, size_t n, const size_t *slice_of,
                                    const struct itx_ocr_slice *s, size_t n_slices, size_t *n_out,
                                    struct itx_diag *d);

/* ---- pre-processing ---------------------------------------------------------------------- */

/*
 * Detector input size (PaddleOCR DetResizeForTest, limit_type "max"): when the long side
 * is over limit_side, scale so it is limit_side; then round each side to the nearest
 * multiple of 32 (ties to even, as Python's round), at least 32.
 */
void itx_ocr_det_size(int w, int h, int limit_side, int *out_w, int *out_h);

/*
 * Detector tensor: bilinear resize (OpenCV INTER_LINEAR, half-pixel centres) of the RGB
 * image to out_w x out_h and ImageNet normalisation ((v/255 - mean) / std) with PaddleOCR's
 * channel order, into out[3 * out_h * out_w] (channel 0 is blue, normalised with the first
 * mean/std value 0.485/0.229, as PaddleOCR does to OpenCV's BGR images).
 */
void itx_ocr_det_tensor(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h,
                        float *out);

/*
 * Perspective crop of quad pt (PaddleOCR get_rotate_crop_image): the crop is
 * int(longest horizontal edge) x int(longest vertical edge) pixels; each output pixel
 * (x, y) samples the homography that maps the crop's corners (0,0) (W,0) (W,H) (0,H) to the
 * quad's, bilinearly, with edge pixels replicated (PaddleOCR samples bicubically). When
 * H / W >= 1.5 the crop is turned 90 degrees anticlockwise (np.rot90) and *rotated is set.
 * On success *out is a new packed RGB buffer (itx_free), *out_w x *out_h.
 * Errors: ITX_ERR_INVALID (non-finite corners, an empty crop), ITX_ERR_TOO_LARGE (crop over
 * max_pixels; 0 means ITX_OCR_CROP_MAX_PIXELS), ITX_ERR_NOMEM.
 */
#define ITX_OCR_CROP_MAX_PIXELS ((size_t)16 << 20)
enum itx_status itx_ocr_crop_quad(const uint8_t *px, int w, int h, size_t stride, const float pt[8],
                                  size_t max_pixels, uint8_t **out, int *out_w, int *out_h,
                                  bool *rotated, struct itx_diag *d);

/* Turns a packed or strided RGB image by 180 degrees in place. */
void itx_ocr_rgb_rotate180(uint8_t *px, int w, int h, size_t stride);

#define ITX_OCR_REC_HEIGHT 48
#define ITX_OCR_REC_WIDTH 320 /* PaddleOCR's rec_image_shape width: the narrowest batch */
#define ITX_OCR_CLS_HEIGHT 48
#define ITX_OCR_CLS_WIDTH 192

/*
 * Tensor width for a recognition batch whose widest crop has aspect ratio max_ratio
 * (w / h): PaddleOCR's int(48 * max(320/48, max_ratio)), capped at max_width (>= 320).
 */
int itx_ocr_rec_batch_width(double max_ratio, int max_width);

/*
 * Recognizer / classifier line tensor (PaddleOCR resize_norm_img): resizes the RGB crop to
 * height out_h and width min(ceil(out_h * w / h), out_w) (OpenCV bilinear), maps v to
 * (v/255 - 0.5) / 0.5 in B, G, R channel order, and pads on the right with zeros, into
 * out[3 * out_h * out_w]. Use out_h 48 with itx_ocr_rec_batch_width for recognition and
 * 48 x 192 for the 180-degree classifier.
 */
void itx_ocr_line_tensor(const uint8_t *px, int w, int h, size_t stride, int out_w, int out_h,
                         float *out);

/* ---- CTC decoding -------------------------------------------------------------------------- */

/* Character list of the recognizer: class 0 is the CTC blank, class i the key on line i. */
struct itx_ocr_dict;

#define ITX_OCR_DICT_MAX_SIZE ((size_t)4 << 20) /* bytes of the key file */
#define ITX_OCR_DICT_MAX_KEY 64                 /* bytes of one key */
#define ITX_OCR_DICT_MAX_KEYS 100000

/*
 * Parses a key list (one key per line, UTF-8, "\n" or "\r\n" line ends, PaddleOCR's
 * character_dict_path format). With use_space a space is appended as the last key (PaddleOCR
 * use_space_char). Errors name the line: ITX_ERR_INVALID (invalid UTF-8, a key over
 * ITX_OCR_DICT_MAX_KEY bytes, no keys), ITX_ERR_TOO_LARGE (over the size or key-count
 * limits), ITX_ERR_NOMEM.
 */
enum itx_status itx_ocr_dict_parse(const char *data, size_t size, bool use_space,
                                   struct itx_ocr_dict **out, struct itx_diag *d);
/* Reads and parses a key file (at most ITX_OCR_DICT_MAX_SIZE bytes). */
enum itx_status itx_ocr_dict_load(const char *path, bool use_space, struct itx_ocr_dict **out,
                                  struct itx_diag *d);
void itx_ocr_dict_free(struct itx_ocr_dict *dict);
/* Number of classes a matching model outputs: keys + 1 (blank). */
size_t itx_ocr_dict_n_classes(const struct itx_ocr_dict *dict);
/* Key of class i (1 .. n_classes-1); NULL for the blank or out of range. */
const char *itx_ocr_dict_key(const struct itx_ocr_dict *dict, size_t i);

/*
 * CTC greedy decoding (PaddleOCR CTCLabelDecode): argmax per time step (first maximum;
 * NaN never wins), collapse repeats, drop blanks, map classes to keys. *score is the mean of
 * the winning probabilities of the kept steps (0 when none). probs is n_steps x n_classes,
 * row-major, already soft-maxed. On success *text is a new NUL-terminated UTF-8 string
 * (itx_free). Errors: ITX_ERR_MODEL (n_classes differs from the dictionary's),
 * ITX_ERR_NOMEM.
 */
enum itx_status itx_ocr_ctc_decode(const float *probs, size_t n_steps, size_t n_classes,
                                   const struct itx_ocr_dict *dict, char **text, float *score,
                                   struct itx_diag *d);

/* ---- per-line flags -------------------------------------------------------------------------- */

enum itx_ocr_flag {
    ITX_OCR_HAN = 1 << 0,        /* contains a Han character (CJK ideographs, Ext A-F, compat) */
    ITX_OCR_LATIN_ONLY = 1 << 1, /* has Latin letters and no Han, kana or hangul */
    ITX_OCR_PRICE = 1 << 2,      /* digits with only currency signs, separators, % and spaces */
    ITX_OCR_VERTICAL = 1 << 3,   /* set by the caller: the crop was turned (vertical text) */
};

/* Flags of a UTF-8 line (ITX_OCR_HAN | ITX_OCR_LATIN_ONLY | ITX_OCR_PRICE); invalid bytes
 * count as unknown characters. */
unsigned itx_ocr_text_flags(const char *text);

/* Whether code point c is a Han ideograph (the ranges ITX_OCR_HAN uses). */
bool itx_ocr_is_han(uint32_t c);

/* ---- the engine: models, per-thread contexts, the whole pipeline ----------------------- */

/*
 * The model-running pipeline (ocr.c). An engine holds the three PP-OCR models and the key
 * list, loaded once, read-only and reference-counted: any number of threads share one.
 * Each thread runs pictures through its own context, which holds the neural-runner
 * sessions (execution plans and their activation memory) and scratch buffers.
 *
 * Shape buckets: the runner builds a plan per exact input shape (tens to hundreds of ms the
 * first time), so the pipeline feeds it a small set of shapes. The detector input (the
 * picture resized as PaddleOCR does, long side at most limit_side, sides multiples of 32)
 * is padded with zeros (the mean colour after normalisation) on the right and bottom up to
 * the next multiple of ITX_OCR_DET_BUCKET on each side, and the map is read back over the
 * unpadded part only. Text lines are recognised one at a time by default (batches buy
 * nothing on a CPU here: 6 lines at once cost 6 times one), each at the smallest width of
 * ITX_OCR_REC_BUCKETS that holds PaddleOCR's width for it, int(48 * max(320/48, w/h)),
 * zero-padded as PaddleOCR pads its batches. The buckets are few because each plan costs
 * planning time (oneDNN primitives), though little memory: a context's three sessions share
 * one activation arena, as large as its largest plan (49 MiB for the detector at 960x960),
 * and the reordered weights are shared by every context of the engine. itx_ocr_opts can ask
 * for PaddleOCR's exact shapes and batches instead (for comparisons: a plan per shape).
 */
struct itx_image;
struct itx_ocr_engine;
struct itx_ocr_ctx;

#define ITX_OCR_DET_BUCKET 160
/* Recognizer widths; a wider line is squeezed into the last one. */
#define ITX_OCR_REC_BUCKETS 320, 640, 1280, 2560
#define ITX_OCR_N_REC_BUCKETS 4
#define ITX_OCR_REC_MAX_EXACT_WIDTH 8192

/* Model and key file names inside the models directory. */
#define ITX_OCR_DET_MODEL "ch_PP-OCRv4_det_infer.onnx"
#define ITX_OCR_REC_MODEL "ch_PP-OCRv4_rec_infer.onnx"
#define ITX_OCR_CLS_MODEL "ch_ppocr_mobile_v2.0_cls_infer.onnx"
#define ITX_OCR_KEYS_FILE "ppocr_keys_v1.txt"

struct itx_ocr_engine_opts {
    int threads;       /* OpenMP threads per inference of each context (1) */
    int det_max_plans; /* detector shapes a context keeps planned (3; each under 1 MiB of
                          steps and primitives: the activations are in the shared arena) */
    int rec_max_plans; /* recognizer widths a context keeps planned (ITX_OCR_N_REC_BUCKETS) */
};

void itx_ocr_engine_opts_default(struct itx_ocr_engine_opts *o);

/* Per-picture settings; all have PaddleOCR's defaults unless said otherwise. */
struct itx_ocr_opts {
    int limit_side;              /* detector long side (960), 32 .. 4096 */
    struct itx_ocr_db_params db; /* DB post-processing (0.3 / 0.6 / unclip 1.5) */
    bool use_cls;                /* run the 180-degree classifier (true; PaddleOCR: off) */
    float cls_thresh;            /* flip when the "180" class wins with more than this (0.9) */
    float drop_score;            /* drop lines whose confidence is under this (0.5) */
    double tall_ratio;           /* slice pictures taller than this times their width (2.5,
                                    itx only); 0 never slices */
    size_t max_lines;            /* refuse pictures with more detected lines (5000) */
    bool price_sign;             /* read "?" before a digit as a yen sign when the model hesitates
                                    between them (true; itx only, see docs/ocr.md) */
    int rec_batch;        /* lines per recognizer run, sorted by aspect ratio (1; PaddleOCR 6) */
    bool det_exact_size;  /* run the detector at PaddleOCR's exact input size instead of
                             padding it to a bucket (false; for checks against PaddleOCR) */
    bool rec_exact_width; /* run each batch at PaddleOCR's exact width for its widest line
                             (up to ITX_OCR_REC_MAX_EXACT_WIDTH) instead of a bucket width:
                             a plan per width, for checks against PaddleOCR (false) */
};

void itx_ocr_opts_default(struct itx_ocr_opts *o);

/* One recognised line. */
struct itx_ocr_line {
    float box[8];    /* x1,y1..x4,y4 clockwise from top-left, original-image pixels */
    char *text;      /* UTF-8, NUL-terminated, owned by the result */
    float score;     /* recognition confidence: mean of the per-character maxima */
    float det_score; /* detector box score */
    unsigned flags;  /* enum itx_ocr_flag bits */
};

struct itx_ocr_result {
    int width, height; /* of the picture */
    size_t n_lines;    /* lines kept, in reading order */
    struct itx_ocr_line *lines;
    size_t n_detected;             /* boxes found before recognition and the score filter */
    int n_slices;                  /* detector passes (1 unless the picture was sliced) */
    double det_ms, cls_ms, rec_ms; /* wall time of each stage */
};

void itx_ocr_result_free(struct itx_ocr_result *r);

/*
 * Loads the detector, recognizer and classifier models and the key list from models_dir
 * (NULL: itx_models_dir()) and checks that the recognizer's classes match the keys plus a
 * space. o may be NULL for the defaults. On success *out holds one reference.
 * Errors: ITX_ERR_NOT_FOUND, ITX_ERR_MODEL, ITX_ERR_INVALID (bad opts), ITX_ERR_NOMEM.
 * Thread-safe.
 */
enum itx_status itx_ocr_engine_new(const char *models_dir, const struct itx_ocr_engine_opts *o,
                                   struct itx_ocr_engine **out, struct itx_diag *d);
/* Adds a reference (thread-safe) and returns e. */
struct itx_ocr_engine *itx_ocr_engine_ref(struct itx_ocr_engine *e);
/* Drops a reference; frees with the last one (contexts hold their own). NULL is a no-op. */
void itx_ocr_engine_free(struct itx_ocr_engine *e);

/*
 * A context for one thread at a time: the three sessions with threads OpenMP threads per
 * inference (0: the engine's default), sharing one activation arena (they run one after
 * another), and the scratch for the detector's map. Takes its own reference on e. Errors:
 * ITX_ERR_NOMEM, ITX_ERR_INVALID.
 */
enum itx_status itx_ocr_ctx_new(struct itx_ocr_engine *e, int threads, struct itx_ocr_ctx **out,
                                struct itx_diag *d);
void itx_ocr_ctx_free(struct itx_ocr_ctx *c);

/*
 * Plans every shape a context keeps: the detector at the det_max_plans most common picture
 * shapes (960x960, 800x800, 800x960, 960x800, 640x640, ... for limit side 960: square
 * product pictures, 3:4 pictures, detail-strip slices), every recognizer width that fits in
 * rec_max_plans, and the classifier; and runs each model once (the detector at its largest
 * shape, which touches the whole arena). A server calls it on each context before it
 * reports ready, so no request pays for planning. o may be NULL for the defaults.
 */
enum itx_status itx_ocr_ctx_warmup(struct itx_ocr_ctx *c, const struct itx_ocr_opts *o,
                                   struct itx_diag *d);

/*
 * Reads the text of a 3-channel picture: detection (sliced for tall pictures), reading
 * order, perspective crops, 90-degree turn of tall crops (ITX_OCR_VERTICAL), orientation
 * classifier, recognition, CTC decoding, lines under drop_score dropped, flags. o may be
 * NULL for the defaults. A line whose crop is empty or over ITX_OCR_CROP_MAX_PIXELS is
 * skipped. On success *out is a new result (itx_ocr_result_free). Errors: ITX_ERR_INVALID
 * (not 3 channels, bad opts), ITX_ERR_TOO_LARGE (over max_lines or a runner limit),
 * ITX_ERR_NOMEM, ITX_ERR_MODEL / ITX_ERR_INTERNAL from the runner. Not thread-safe on one
 * context; contexts of one engine run in parallel.
 */
enum itx_status itx_ocr_run(struct itx_ocr_ctx *c, const struct itx_image *img,
                            const struct itx_ocr_opts *o, struct itx_ocr_result **out,
                            struct itx_diag *d);

#endif
