/*
 * The two text formats of itx batch (docs/batch.md), kept apart from the command so they
 * can be fuzzed and unit-tested on their own:
 *
 * - the input list: one source per line (an http/https URL or a local file path); blank
 *   lines and lines whose first non-blank character is '#' are skipped; a bad line becomes
 *   an entry with an error naming its line number, so it never stops the batch;
 * - the state file: an append-only journal of finished pictures, one line each, which a
 *   restarted batch reads to skip what is done. A torn or malformed line (the tail of a
 *   crash) is ignored, never trusted.
 *
 * Both parsers take untrusted bytes, allocate through core/alloc.h and are pure apart from
 * that (no I/O). Thread-safety: none needed; they touch only what they are given.
 */
#ifndef ITX_CLI_BATCH_LIST_H
#define ITX_CLI_BATCH_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Limits, checked with an error that names them. */
#define ITX_BATCH_MAX_LIST_BYTES ((size_t)64 << 20) /* the whole list */
#define ITX_BATCH_MAX_LINE 8192                     /* one source, like a job's URL */
#define ITX_BATCH_MAX_ENTRIES 1000000               /* sources in one list */

enum itx_batch_kind { ITX_BATCH_URL, ITX_BATCH_FILE, ITX_BATCH_BAD };

struct itx_batch_entry {
    unsigned line;            /* 1-based line number in the list */
    enum itx_batch_kind kind; /* ITX_BATCH_BAD: error says why */
    const char *text;         /* the source, trimmed, NUL-terminated (points into the list) */
    const char *error;        /* static text for ITX_BATCH_BAD, else NULL */
};

struct itx_batch_list {
    struct itx_batch_entry *entries; /* one per source line (bad ones included), in order */
    size_t n_entries;
    unsigned n_lines; /* lines in the text, comments and blanks included */
};

/*
 * Parses the list in buf[0..len) in place: line ends and surrounding blanks become NUL,
 * and the entries point into buf, which must outlive the list. A '\r' before '\n' is
 * dropped. Per-line problems (longer than ITX_BATCH_MAX_LINE bytes, a NUL or other control
 * byte, a scheme other than http/https such as "ftp://" or "file://") make ITX_BATCH_BAD
 * entries. Errors for the whole list: ITX_ERR_TOO_LARGE (over ITX_BATCH_MAX_LIST_BYTES or
 * ITX_BATCH_MAX_ENTRIES), ITX_ERR_NOMEM. Release with itx_batch_list_release (also after a
 * failure).
 */
enum itx_status itx_batch_list_parse(char *buf, size_t len, struct itx_batch_list *out,
                                     struct itx_diag *d);
void itx_batch_list_release(struct itx_batch_list *l);

/* The state file's first line, then one line per finished picture:
 *   itx-batch-state 1 <settings fingerprint, 16 hex>\n
 *   done <sha256 hex of the source text> <result key, 64 hex> <output extension>\n   */
#define ITX_BATCH_STATE_MAGIC "itx-batch-state 1 "

/* One finished picture from a state file. */
struct itx_batch_done {
    char source_sha[65]; /* hex SHA-256 of the source line's text */
    char key[65];        /* itx_store_cache_key of the result */
    char ext[8];         /* "png", "jpg" or "webp" */
};

/*
 * Parses a state file's text. When its header does not carry fingerprint fp (another
 * run's settings), nothing is taken and *n_done is 0. Each well-formed "done" line is passed
 * to fn (stop early by returning false); malformed lines, a torn last line included, are
 * counted in *n_bad (may be NULL) and skipped. Never fails: the journal is only a hint
 * that saves work, and the content-addressed outputs are checked all the same.
 */
void itx_batch_state_parse(const char *buf, size_t len, const char *fp,
                           bool (*fn)(const struct itx_batch_done *done, void *arg), void *arg,
                           size_t *n_done, size_t *n_bad);

/* Formats one "done" line into out (at most 160 bytes with NUL); returns its length. */
size_t itx_batch_state_line(const struct itx_batch_done *done, char *out, size_t out_size);

#endif
