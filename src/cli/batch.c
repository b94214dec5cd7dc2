/*
 * itx batch: a list of pictures (URLs or files) through the pipeline, for Cloud Run Jobs and
 * cron (docs/batch.md).
 *
 * - Sharding: source i of the list (0-based, comments and blanks not counted) belongs to
 *   shard i mod N, from --shard I/N or CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT.
 * - Results are content-addressed (the server's result key, itx_store_cache_key): with
 *   -o DIR a local store rooted at DIR, with --store the configured store (ITX_STORE ...).
 *   The regions file is written last, so its presence means the whole result is there.
 * - Resume: an fsync'd append-only journal per shard (batch-list.h) names the finished
 *   sources, so a restart skips them without reading or downloading them again; every
 *   other source is loaded, keyed and looked up in the store before any OCR is done.
 * - Threads: loaders read or download sources, key them and look them up; workers (one
 *   pipeline context each) run the pictures the loaders hand over through a bounded queue,
 *   so downloads overlap OCR. One mutex guards the queue, the counters, the journal and the
 *   progress output.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/batch-list.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "fetch/fetch.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

#define MAX_WORKERS 64
#define MAX_STATE_FILE ((size_t)256 << 20)
#define MAX_SHARDS 100000

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: itx batch --input LIST (-o DIR | --store) [options]\n\n"
        "Translates every picture of LIST (one http/https URL or file path a line; '#' starts\n"
        "a comment line; '-' reads stdin) and records each result in a manifest (docs/batch.md).\n"
        "Results are content-addressed: <k2>/<key>/final.EXT, background.png, regions.json,\n"
        "where key hashes the picture's bytes and the settings, so a picture done once (by\n"
        "itx batch or itx serve on the same store) is not done again.\n\n"
        "options:\n"
        "  --input LIST        the list of sources ('-' for stdin)\n"
        "  -o, --output DIR    write results under DIR; journal in DIR/.itx-batch/, manifest\n"
        "                      DIR/manifest.jsonl (DIR/manifest.shard-I-of-N.jsonl when sharded)\n"
        "  --store             write results to the configured store (ITX_STORE, docs/store.md);\n"
        "                      the manifest lists URLs and goes to stdout unless --manifest\n"
        "  --manifest FILE     where the manifest goes ('-' for stdout)\n"
        "  --state DIR         keep the resume journal in DIR (default DIR/.itx-batch with -o;\n"
        "                      with --store, none: finished pictures are found in the store)\n"
        "  --shard I/N         take sources i with i mod N = I (default CLOUD_RUN_TASK_INDEX /\n"
        "                      CLOUD_RUN_TASK_COUNT, else 0/1)\n"
        "  --workers N         pictures processed at once, one pipeline each (default: the\n"
        "                      cores this process may use, cgroup CPU quota included)\n"
        "  --to LANG           target language (default en)\n"
        "  --glossary FILE     extra glossary (TSV: term<TAB>translation, '=' keeps a term)\n"
        "  --format FMT        output format jpeg, png or webp (default: the input's)\n"
        "  --quality N         JPEG/WebP quality 1..100 (default 90)\n"
        "  --min-score X       skip lines read with less confidence (default 0.6)\n"
        "  --no-qa             do not read results back (no retry, no han_left flag)\n"
        "  --models DIR        model directory (default $ITX_MODELS_DIR or the installed one)\n"
        "  --quiet             no progress bar, per-picture lines or summary\n"
        "The provider comes from ITX_TRANSLATE_PROVIDER (dict, gemini, openai), URL limits from\n"
        "ITX_FETCH_* (docs/fetch.md).\n"
        "exit status: 0 all pictures done, 1 some failed (see the manifest), 2 bad usage or\n"
        "configuration\n");
}

/*
 * Set by SIGINT/SIGTERM (Cloud Run sends SIGTERM before it stops a task): loaders stop
 * taking sources and running pictures are cancelled between stages. A signal flag is the
 * one global a handler may write.
 */
static atomic_int stop_signal; /* read by the loader and worker threads: an atomic, not just
                                * a sig_atomic_t, which is safe only within one thread */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "a signal handler may only store to a lock-free atomic");

static void
on_signal(int sig)
{
    atomic_store_explicit(&stop_signal, sig, memory_order_relaxed);
}

static bool
stopping(void)
{
    return atomic_load_explicit(&stop_signal, memory_order_relaxed) != 0;
}

enum item_status { ITEM_PENDING, ITEM_DONE, ITEM_FAILED };

/* One source of this shard. */
struct item {
    const struct itx_batch_entry *e;
    char source_sha[65];
    const struct itx_batch_done *journal; /* finished in an earlier run, or NULL */
    /* loaded by a loader, owned until the picture is finished */
    uint8_t *data;
    size_t len;
    struct itx_fetch_result fr;
    char key[65];
    enum itx_image_format out_format;
    /* outcome */
    enum item_status status;
    const char *via; /* "pipeline", "store" (a result already there) or "journal" */
    enum itx_status st;
    char *error; /* NULL with ITEM_FAILED only when out of memory (item_error) */
    double ms;
    unsigned n_translated, n_skipped, n_flagged;
};

struct batch {
    /* settings, read-only once threads start */
    struct itx_pipeline *pl;
    struct itx_pipeline_opts o;
    struct itx_fetch_opts fo;
    struct itx_store *store;
    const char *outdir;               /* -o DIR, or NULL with --store */
    struct itx_store_setting set[14]; /* the result key's settings (key_settings) */
    size_t n_set;
    char quality[16], min_score[32], server_gloss[80];
    struct itx_buf gloss_key;
    size_t max_source_bytes;
    bool quiet, tty;

    struct item *items;
    size_t n_items;

    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
    size_t next_load; /* next item a loader takes */
    size_t *ready;    /* ring of loaded items waiting for a worker */
    size_t ready_cap, ready_head, ready_n;
    int loaders_left; /* loaders still running; workers stop when 0 and nothing is ready */
    int journal_fd;   /* -1: no journal */
    char journal_path[4200];
    bool journal_failed;
    /* counters */
    size_t n_done, n_failed, n_resumed, n_cached, n_run;
    double t0;
};

/* A failed item's message. */
static const char *
item_error(const struct item *it)
{
    return it->error ? it->error : "out of memory";
}

static const char *
ext_of(enum itx_image_format f)
{
    return f == ITX_IMAGE_FORMAT_JPEG ? "jpg" : itx_image_format_name(f);
}

static bool
cancelled(void *arg)
{
    (void)arg;
    return stopping();
}

/* ---- progress ------------------------------------------------------------------------- */

static void
progress_bar(struct batch *b)
{
    size_t total = b->n_items, fin = b->n_done + b->n_failed;
    int width = 24, fill = total ? (int)(fin * (size_t)width / total) : width;
    double el = (itx_now_ms() - b->t0) / 1000.0;
    /* the rate counts pictures run through the pipeline: failures, journal and store hits
     * take no time worth counting and would make the estimate far too hopeful */
    double rate = el > 0 ? (double)b->n_run / el : 0;
    char eta[32] = "--";

    if (rate > 0 && fin < total) {
        long s = (long)((double)(total - fin) / rate + 0.5);
        snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
    } else if (fin == total) {
        snprintf(eta, sizeof(eta), "0:00");
    }
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu done, %zu failed  %.2f pic/s  ETA %s   ", b->n_done, total,
            b->n_failed, rate, eta);
    fflush(stderr);
}

/* Reports one finished item: a line above the bar on a terminal, a JSON log line otherwise.
 * Called with b->mu held. */
static void
report(struct batch *b, const struct item *it)
{
    const struct itx_batch_entry *e = it->e;

    if (b->quiet)
        return;
    if (b->tty) {
        if (it->status == ITEM_FAILED)
            fprintf(stderr, "\r\033[Kitx batch: line %u: %s\n", e->line, item_error(it));
        progress_bar(b);
        return;
    }
    {
        struct itx_buf x;
        itx_buf_init(&x, 1 << 16);
        itx_buf_printf(&x, "\"line\":%u,\"source\":", e->line);
        itx_buf_json_str(&x, e->text);
        itx_buf_printf(&x, ",\"status\":\"%s\"", it->status == ITEM_DONE ? "done" : "failed");
        if (it->status == ITEM_DONE) {
            itx_buf_printf(&x, ",\"via\":\"%s\",\"key\":\"%s\"", it->via, it->key);
            if (strcmp(it->via, "pipeline") == 0)
                itx_buf_printf(&x, ",\"ms\":%.1f,\"translated\":%u,\"skipped\":%u,\"flagged\":%u",
                               it->ms, it->n_translated, it->n_skipped, it->n_flagged);
        } else {
            itx_buf_printf(&x, ",\"code\":\"%s\",\"error\":", itx_err_str(it->st));
            itx_buf_json_str(&x, item_error(it));
        }
        itx_buf_printf(&x, ",\"done\":%zu,\"failed\":%zu,\"total\":%zu", b->n_done, b->n_failed,
                       b->n_items);
        if (it->status == ITEM_FAILED)
            itx_log(ITX_LOG_ERROR, NULL, x.data, "line %u: %s", e->line, item_error(it));
        else if (strcmp(it->via, "journal") == 0)
            itx_log(ITX_LOG_INFO, NULL, x.data, "line %u: already done (journal), not redone",
                    e->line);
        else if (strcmp(it->via, "store") == 0)
            itx_log(ITX_LOG_INFO, NULL, x.data,
                    "line %u: already done (result in the store), not redone", e->line);
        else
            itx_log(ITX_LOG_INFO, NULL, x.data, "line %u: done in %.0f ms (%u regions translated)",
                    e->line, it->ms, it->n_translated);
        itx_buf_release(&x);
    }
}

/* ---- the journal ---------------------------------------------------------------------- */

/* Appends one line and makes it durable; the caller holds b->mu. A journal that cannot be
 * written costs only the resume: it is reported once and the batch goes on. */
static void
journal_append(struct batch *b, const struct item *it)
{
    struct itx_batch_done dn;
    char line[200];
    size_t n;

    if (b->journal_fd < 0 || b->journal_failed)
        return;
    memcpy(dn.source_sha, it->source_sha, sizeof(dn.source_sha));
    memcpy(dn.key, it->key, sizeof(dn.key));
    snprintf(dn.ext, sizeof(dn.ext), "%s", ext_of(it->out_format));
    n = itx_batch_state_line(&dn, line, sizeof(line));
    if (write(b->journal_fd, line, n) != (ssize_t)n || fsync(b->journal_fd) != 0) {
        b->journal_failed = true;
        itx_log_warn("cannot write the journal '%s': %s (the batch goes on; a restart will "
                     "find finished pictures in the store instead)",
                     b->journal_path, strerror(errno));
    }
}

/* Records an item's outcome (its status, via, error already set). Takes b->mu. */
static void
finish(struct batch *b, struct item *it)
{
    pthread_mutex_lock(&b->mu);
    if (it->status == ITEM_DONE) {
        b->n_done++;
        if (strcmp(it->via, "journal") == 0) {
            b->n_resumed++;
        } else {
            if (strcmp(it->via, "store") == 0)
                b->n_cached++;
            else
                b->n_run++;
            journal_append(b, it);
        }
    } else {
        b->n_failed++;
    }
    report(b, it);
    pthread_mutex_unlock(&b->mu);
    itx_free(it->data);
    it->data = NULL;
    itx_fetch_result_release(&it->fr);
}

static void
fail(struct batch *b, struct item *it, enum itx_status st, const char *msg)
{
    struct itx_buf x;
    itx_buf_init(&x, ITX_BATCH_MAX_LINE + ITX_DIAG_MSG_SIZE + 16);
    /* most messages name the source already; the others get it in front */
    if (strstr(msg, it->e->text))
        itx_buf_puts(&x, msg);
    else
        itx_buf_printf(&x, "'%s': %s", it->e->text, msg);
    it->error = itx_buf_take(&x, NULL);
    itx_buf_release(&x);
    it->status = ITEM_FAILED;
    it->st = st;
    finish(b, it);
}

/* ---- loaders -------------------------------------------------------------------------- */

/* Whether the result of key is complete in the store (its regions file is written last). */
static enum itx_status
result_present(struct batch *b, const char *key, bool *present, struct itx_diag *d)
{
    char obj[ITX_STORE_NAME_MAX + 1];
    enum itx_status st = itx_store_cache_name(key, "regions.json", obj, sizeof(obj), d);
    if (st == ITX_OK)
        st = itx_store_head(b->store, obj, present, NULL, d);
    return st;
}

/* Reads or downloads the source, keys it, and looks its result up. Returns true when the item
 * still needs the pipeline; otherwise it has been finished. */
static bool
load(struct batch *b, struct item *it)
{
    struct itx_diag d;
    enum itx_status st;
    bool present = false;
    const char *what = NULL;

    itx_diag_init(&d);
    if (it->e->kind == ITX_BATCH_BAD) {
        fail(b, it, ITX_ERR_INVALID, it->e->error);
        return false;
    }
    if (it->journal) {
        memcpy(it->key, it->journal->key, sizeof(it->key));
        st = result_present(b, it->key, &present, &d);
        if (st == ITX_OK && present) {
            it->out_format = itx_image_format_parse(it->journal->ext);
            it->status = ITEM_DONE;
            it->via = "journal";
            finish(b, it);
            return false;
        }
        /* the journal says done but the result is gone (or unreadable): do it again */
        itx_diag_init(&d);
    }
    if (it->e->kind == ITX_BATCH_URL) {
        st = itx_fetch(&b->fo, it->e->text, &it->fr, &d);
    } else {
        st = itx_file_read(it->e->text, b->max_source_bytes, &it->data, &it->len, &d);
    }
    if (st != ITX_OK) {
        fail(b, it, st, d.msg);
        return false;
    }
    {
        const uint8_t *p = it->data ? it->data : it->fr.data;
        size_t n = it->data ? it->len : it->fr.len;
        enum itx_image_format in = itx_image_sniff(p, n, &what);
        it->out_format =
            b->o.format != ITX_IMAGE_FORMAT_UNKNOWN ? b->o.format : itx_image_output_format(in);
        st = itx_store_cache_key(p, n, b->set, b->n_set, it->key, &d);
    }
    if (st == ITX_OK)
        st = result_present(b, it->key, &present, &d);
    if (st != ITX_OK) {
        fail(b, it, st, d.msg);
        return false;
    }
    if (present) {
        it->status = ITEM_DONE;
        it->via = "store";
        finish(b, it);
        return false;
    }
    return true;
}

/* Waits on cv for at most 200 ms: a signal handler cannot signal a condition variable, so
 * waiters look at stop_signal that often. */
static void
wait_briefly(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    itx_cond_wait_ms(cv, mu, 200);
}

static void *
loader_main(void *arg)
{
    struct batch *b = arg;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&b->mu);
        if (stopping() || b->next_load == b->n_items) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        i = b->next_load++;
        pthread_mutex_unlock(&b->mu);
        if (!load(b, &b->items[i]))
            continue;
        pthread_mutex_lock(&b->mu);
        while (b->ready_n == b->ready_cap && !stopping())
            wait_briefly(&b->cv_space, &b->mu);
        if (stopping()) {
            pthread_mutex_unlock(&b->mu);
            itx_free(b->items[i].data);
            b->items[i].data = NULL;
            itx_fetch_result_release(&b->items[i].fr);
            break;
        }
        b->ready[(b->ready_head + b->ready_n) % b->ready_cap] = i;
        b->ready_n++;
        pthread_cond_signal(&b->cv_ready);
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_lock(&b->mu);
    if (--b->loaders_left == 0)
        pthread_cond_broadcast(&b->cv_ready);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- workers -------------------------------------------------------------------------- */

/* Stores one object; one already there holds the same content-addressed result. */
static enum itx_status
put_once(struct itx_store *s, const char *key, const char *leaf, const void *data, size_t len,
         const char *type, struct itx_diag *d)
{
    char obj[ITX_STORE_NAME_MAX + 1];
    enum itx_status st = itx_store_cache_name(key, leaf, obj, sizeof(obj), d);
    if (st == ITX_OK)
        st = itx_store_put(s, obj, data, len, type, d);
    if (st == ITX_ERR_CONFLICT) {
        itx_diag_init(d);
        st = ITX_OK;
    }
    return st;
}

static void
run_item(struct batch *b, struct itx_pipeline_ctx *ctx, struct item *it)
{
    struct itx_pipeline_source src = {.name = it->e->text};
    struct itx_pipeline_result res = {0};
    struct itx_diag d;
    enum itx_status st;
    char leaf[32];

    itx_diag_init(&d);
    src.data = it->data ? it->data : it->fr.data;
    src.len = it->data ? it->len : it->fr.len;
    st = itx_pipeline_run(ctx, &src, &b->o, &res, &d);
    if (st == ITX_OK) {
        it->out_format = res.format;
        snprintf(leaf, sizeof(leaf), "final.%s", ext_of(res.format));
        st = put_once(b->store, it->key, leaf, res.image, res.image_len,
                      itx_image_format_mime(res.format), &d);
    }
    if (st == ITX_OK)
        st = put_once(b->store, it->key, "background.png", res.background, res.background_len,
                      "image/png", &d);
    /* the regions file last: its presence says the whole result is stored */
    if (st == ITX_OK)
        st = put_once(b->store, it->key, "regions.json", res.regions_json, res.regions_len,
                      "application/json", &d);
    if (st == ITX_OK) {
        it->ms = res.ms.total;
        it->n_translated = res.n_translated;
        it->n_skipped = res.n_skipped;
        it->n_flagged = res.n_flagged;
        it->status = ITEM_DONE;
        it->via = "pipeline";
        itx_pipeline_result_release(&res);
        finish(b, it);
        return;
    }
    itx_pipeline_result_release(&res);
    if (st == ITX_ERR_CANCELLED && stopping()) {
        /* not a failure of the picture: left pending for the next run */
        itx_free(it->data);
        it->data = NULL;
        itx_fetch_result_release(&it->fr);
        return;
    }
    fail(b, it, st, d.msg);
}

struct worker {
    struct batch *b;
    struct itx_pipeline_ctx *ctx;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct batch *b = w->b;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&b->mu);
        while (b->ready_n == 0 && b->loaders_left > 0 && !stopping())
            wait_briefly(&b->cv_ready, &b->mu);
        if (b->ready_n == 0 || stopping()) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        i = b->ready[b->ready_head];
        b->ready_head = (b->ready_head + 1) % b->ready_cap;
        b->ready_n--;
        pthread_cond_signal(&b->cv_space);
        pthread_mutex_unlock(&b->mu);
        run_item(b, w->ctx, &b->items[i]);
    }
    return NULL;
}

/* ---- set-up --------------------------------------------------------------------------- */

/* Parses "I/N" with 0 <= I < N <= MAX_SHARDS. */
static bool
parse_shard(const char *s, long long *index, long long *count)
{
    const char *slash = strchr(s, '/');
    char a[24];
    if (!slash || (size_t)(slash - s) >= sizeof(a))
        return false;
    memcpy(a, s, (size_t)(slash - s));
    a[slash - s] = '\0';
    return itx_parse_int(slash + 1, 1, MAX_SHARDS, count) && itx_parse_int(a, 0, *count - 1, index);
}

/* The shard from CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT; both or neither. */
static enum itx_status
shard_from_env(long long *index, long long *count, struct itx_diag *d)
{
    const char *si = getenv("CLOUD_RUN_TASK_INDEX"), *sc = getenv("CLOUD_RUN_TASK_COUNT");
    bool has_i = si && *si, has_c = sc && *sc;

    *index = 0;
    *count = 1;
    if (!has_i && !has_c)
        return ITX_OK;
    if (!has_c)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "CLOUD_RUN_TASK_INDEX is set but CLOUD_RUN_TASK_COUNT is not");
    if (!itx_parse_int(sc, 1, MAX_SHARDS, count))
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "CLOUD_RUN_TASK_COUNT is '%.40s'; expected an integer in 1..%d", sc,
                            MAX_SHARDS);
    if (!has_i)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "CLOUD_RUN_TASK_COUNT is set but CLOUD_RUN_TASK_INDEX is not");
    if (!itx_parse_int(si, 0, *count - 1, index))
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "CLOUD_RUN_TASK_INDEX is '%.40s'; expected an integer in 0..%lld "
                            "(CLOUD_RUN_TASK_COUNT is %lld)",
                            si, *count - 1, *count);
    return ITX_OK;
}

/* Reads the whole list (a file or stdin) under ITX_BATCH_MAX_LIST_BYTES. */
static enum itx_status
read_list(const char *path, char **out, size_t *len, struct itx_diag *d)
{
    struct itx_buf b;
    char chunk[65536];
    size_t n;

    if (strcmp(path, "-") != 0) {
        uint8_t *data;
        enum itx_status st = itx_file_read(path, ITX_BATCH_MAX_LIST_BYTES, &data, len, d);
        if (st == ITX_OK)
            *out = (char *)data;
        else
            itx_diag_prefix(d, "input list");
        return st;
    }
    itx_buf_init(&b, ITX_BATCH_MAX_LIST_BYTES);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (itx_buf_append(&b, chunk, n) != ITX_OK) {
            itx_buf_release(&b);
            return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                "the input list on stdin is over the %zu-byte limit",
                                ITX_BATCH_MAX_LIST_BYTES);
        }
    }
    if (ferror(stdin)) {
        itx_buf_release(&b);
        return itx_diag_set(d, ITX_ERR_IO, "cannot read the input list from stdin: %s",
                            strerror(errno));
    }
    if (itx_buf_putc(&b, '\0') != ITX_OK) {
        itx_buf_release(&b);
        return itx_diag_set(d, ITX_ERR_TOO_LARGE, "the input list on stdin is too large");
    }
    *len = b.len - 1;
    *out = itx_buf_take(&b, NULL);
    itx_buf_release(&b);
    return *out ? ITX_OK : itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
}

/* Done records read from every journal of these settings, sorted by source hash. */
struct journal_set {
    struct itx_batch_done *v;
    size_t n, cap;
    bool nomem;
};

static bool
journal_collect(const struct itx_batch_done *dn, void *arg)
{
    struct journal_set *j = arg;
    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 256;
        struct itx_batch_done *nv = itx_realloc_array(j->v, ncap, sizeof(*nv));
        if (!nv) {
            j->nomem = true;
            return false;
        }
        j->v = nv;
        j->cap = ncap;
    }
    j->v[j->n++] = *dn;
    return true;
}

static int
cmp_done(const void *a, const void *b)
{
    return strcmp(((const struct itx_batch_done *)a)->source_sha,
                  ((const struct itx_batch_done *)b)->source_sha);
}

/*
 * Reads every journal of these settings in dir (all shard layouts, so a batch re-run with
 * another task count still skips what is done), then opens this shard's journal for
 * appending under an exclusive lock. Configuration errors (a directory that cannot be made,
 * a journal held by another running batch) fail.
 */
static enum itx_status
journal_open(struct batch *b, const char *dir, const char *fp, long long si, long long sn,
             struct journal_set *j, struct itx_diag *d)
{
    DIR *dh;
    struct dirent *de;
    size_t fp_len = strlen(fp), n_bad = 0;
    struct stat sb;
    int fd;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return itx_diag_set(d, ITX_ERR_IO, "cannot make the journal directory '%s': %s", dir,
                            strerror(errno));
    dh = opendir(dir);
    if (!dh)
        return itx_diag_set(d, ITX_ERR_IO, "cannot read the journal directory '%s': %s", dir,
                            strerror(errno));
    while ((de = readdir(dh)) != NULL) {
        size_t nl = strlen(de->d_name);
        char path[4400];
        uint8_t *data;
        size_t len, nd, nb;
        struct itx_diag rd;
        if (nl < fp_len + 7 || strncmp(de->d_name, fp, fp_len) != 0 || de->d_name[fp_len] != '.' ||
            strcmp(de->d_name + nl - 6, ".state") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        itx_diag_init(&rd);
        if (itx_file_read(path, MAX_STATE_FILE, &data, &len, &rd) != ITX_OK) {
            itx_log_warn("journal '%s' not used: %s", path, rd.msg);
            continue;
        }
        itx_batch_state_parse((const char *)data, len, fp, journal_collect, j, &nd, &nb);
        itx_free(data);
        n_bad += nb;
        if (j->nomem) {
            closedir(dh);
            return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading the journal '%s'", path);
        }
    }
    closedir(dh);
    if (n_bad)
        itx_log_warn("%zu malformed journal line%s ignored in '%s' (a torn line after a crash)",
                     n_bad, n_bad == 1 ? "" : "s", dir);
    if (j->n > 1)
        qsort(j->v, j->n, sizeof(*j->v), cmp_done);

    snprintf(b->journal_path, sizeof(b->journal_path), "%s/%s.shard-%lld-of-%lld.state", dir, fp,
             si, sn);
    fd = open(b->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return itx_diag_set(d, ITX_ERR_IO, "cannot open the journal '%s': %s", b->journal_path,
                            strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_CONFLICT,
                            "another itx batch is running shard %lld/%lld with these settings "
                            "(the journal '%s' is locked)",
                            si, sn, b->journal_path);
    }
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_IO, "cannot stat the journal '%s': %s", b->journal_path,
                            strerror(errno));
    }
    {
        char head[64];
        int n = 0;
        if (sb.st_size == 0) {
            n = snprintf(head, sizeof(head), "%s%s\n", ITX_BATCH_STATE_MAGIC, fp);
        } else {
            /* end a torn last line, so the next record starts on a line of its own */
            char last;
            if (pread(fd, &last, 1, sb.st_size - 1) == 1 && last != '\n')
                n = snprintf(head, sizeof(head), "\n");
        }
        if (n > 0 && (write(fd, head, (size_t)n) != n || fsync(fd) != 0)) {
            int e = errno;
            close(fd);
            return itx_diag_set(d, ITX_ERR_IO, "cannot write the journal '%s': %s", b->journal_path,
                                strerror(e));
        }
        if (sb.st_size == 0) {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
        }
    }
    b->journal_fd = fd;
    return ITX_OK;
}

/* Serve's encoding of a glossary in its result key, so equal glossaries share results;
 * stops when the buffer's ceiling is reached. */
struct gloss_enc {
    struct itx_buf *b;
    bool full;
};

static bool
gloss_entry(const char *term, const char *translation, void *arg)
{
    struct gloss_enc *g = arg;
    g->full = itx_buf_json_str(g->b, term) != ITX_OK || itx_buf_puts(g->b, "=") != ITX_OK ||
              (translation && itx_buf_json_str(g->b, translation) != ITX_OK) ||
              itx_buf_puts(g->b, ";") != ITX_OK;
    return !g->full;
}

/*
 * The settings of the result key: itx serve's names and encodings (v=serve-1, from, to,
 * provider, format, quality, qa, glossary, group), so the two share results in one store.
 * Settings the server does not have join only when they are used, which keeps the default
 * key equal to the server's. Also the journal's fingerprint: the first 16 hex digits of the
 * key of an empty source, which depends on the settings alone.
 */
static enum itx_status
key_settings(struct batch *b, const struct itx_tr_config *tr, const struct itx_glossary *gl,
             char fp[17], struct itx_diag *d)
{
    struct itx_pipeline_opts def;
    char h[65];
    enum itx_status st;

    itx_pipeline_opts_default(&def);
    if (gl) {
        struct gloss_enc g = {.b = &b->gloss_key};
        itx_glossary_each(gl, gloss_entry, &g);
        if (g.full)
            return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                                "the glossary is over %zu bytes in the result key",
                                b->gloss_key.max);
    }
    if (tr->glossary_path) {
        if ((st = itx_sha256_file(tr->glossary_path, h, d)) != ITX_OK)
            return itx_diag_prefix(d, "ITX_GLOSSARY_FILE");
        snprintf(b->server_gloss, sizeof(b->server_gloss), "sha256:%s", h);
    }
    snprintf(b->quality, sizeof(b->quality), "%d", b->o.quality);
    b->n_set = 0;
    b->set[b->n_set++] = (struct itx_store_setting){"v", "serve-1"};
    b->set[b->n_set++] = (struct itx_store_setting){"from", "zh"};
    b->set[b->n_set++] = (struct itx_store_setting){"to", b->o.target};
    b->set[b->n_set++] = (struct itx_store_setting){"provider", itx_tr_provider_str(tr->provider)};
    b->set[b->n_set++] = (struct itx_store_setting){"engine", itx_cli_engine()};
    b->set[b->n_set++] =
        (struct itx_store_setting){"model", tr->model && tr->model[0] ? tr->model : "default"};
    b->set[b->n_set++] = (struct itx_store_setting){
        "format", b->o.format ? itx_image_format_name(b->o.format) : "same"};
    b->set[b->n_set++] = (struct itx_store_setting){"quality", b->quality};
    b->set[b->n_set++] = (struct itx_store_setting){"qa", b->o.no_qa ? "0" : "1"};
    b->set[b->n_set++] =
        (struct itx_store_setting){"glossary", b->gloss_key.data ? b->gloss_key.data : ""};
    b->set[b->n_set++] = (struct itx_store_setting){"group", ""};
    if (b->server_gloss[0])
        b->set[b->n_set++] = (struct itx_store_setting){"server_glossary", b->server_gloss};
    if (b->o.min_score != def.min_score) {
        snprintf(b->min_score, sizeof(b->min_score), "%.6g", (double)b->o.min_score);
        b->set[b->n_set++] = (struct itx_store_setting){"min_score", b->min_score};
    }
    ITX_ASSERT(b->n_set <= sizeof(b->set) / sizeof(b->set[0]));
    st = itx_store_cache_key("", 0, b->set, b->n_set, h, d);
    if (st == ITX_OK)
        snprintf(fp, 17, "%.16s", h);
    return st;
}

/* ---- the manifest --------------------------------------------------------------------- */

static enum itx_status
output_ref(struct batch *b, const char *key, const char *leaf, struct itx_buf *x,
           struct itx_diag *d)
{
    char obj[ITX_STORE_NAME_MAX + 1];
    enum itx_status st = itx_store_cache_name(key, leaf, obj, sizeof(obj), d);
    if (st != ITX_OK)
        return st;
    if (b->outdir) {
        char path[4800];
        snprintf(path, sizeof(path), "%s/%s", b->outdir, obj);
        return itx_buf_json_str(x, path);
    } else {
        char *url = NULL;
        st = itx_store_url(b->store, obj, 0, 0, &url, d);
        if (st == ITX_OK)
            st = itx_buf_json_str(x, url);
        itx_free(url);
        return st;
    }
}

/* One manifest line per item of the shard, in list order. */
static enum itx_status
manifest_text(struct batch *b, struct itx_buf *x, struct itx_diag *d)
{
    for (size_t i = 0; i < b->n_items; i++) {
        const struct item *it = &b->items[i];
        enum itx_status st = ITX_OK;
        itx_buf_printf(x, "{\"line\":%u,\"source\":", it->e->line);
        itx_buf_json_str(x, it->e->text);
        if (it->status == ITEM_DONE) {
            char leaf[32];
            snprintf(leaf, sizeof(leaf), "final.%s", ext_of(it->out_format));
            itx_buf_printf(x, ",\"status\":\"done\",\"via\":\"%s\",\"key\":\"%s\",", it->via,
                           it->key);
            itx_buf_puts(x, "\"outputs\":{\"image\":");
            st = output_ref(b, it->key, leaf, x, d);
            if (st == ITX_OK) {
                itx_buf_puts(x, ",\"background\":");
                st = output_ref(b, it->key, "background.png", x, d);
            }
            if (st == ITX_OK) {
                itx_buf_puts(x, ",\"regions\":");
                st = output_ref(b, it->key, "regions.json", x, d);
            }
            if (st != ITX_OK)
                return st;
            itx_buf_puts(x, "},\"error\":null");
            if (strcmp(it->via, "pipeline") == 0)
                itx_buf_printf(x, ",\"ms\":%.1f,\"translated\":%u,\"skipped\":%u,\"flagged\":%u",
                               it->ms, it->n_translated, it->n_skipped, it->n_flagged);
        } else if (it->status == ITEM_FAILED) {
            itx_buf_printf(x,
                           ",\"status\":\"failed\",\"outputs\":null,\"error\":{\"code\":\"%s\","
                           "\"message\":",
                           itx_err_str(it->st));
            itx_buf_json_str(x, item_error(it));
            itx_buf_puts(x, "}");
        } else {
            itx_buf_puts(x, ",\"status\":\"pending\",\"outputs\":null,\"error\":{\"code\":"
                            "\"cancelled\",\"message\":\"stopped by a signal before this picture "
                            "was finished; run the batch again to resume\"}");
        }
        if (itx_buf_puts(x, "}\n") != ITX_OK)
            return itx_diag_set(d, ITX_ERR_TOO_LARGE, "the manifest is over %zu bytes", x->max);
    }
    return ITX_OK;
}

/* Writes all of data to fd; false with errno set when a write fails. */
static bool
write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        off += (size_t)n;
    }
    return true;
}

/*
 * Writes the manifest to path ("-": stdout). A regular file (or a new one) is written through
 * a temporary file, fsync and rename, so a reader never sees half a manifest; anything else
 * that exists there (/dev/null, a FIFO, a terminal) is written in place, never replaced.
 */
static enum itx_status
manifest_write(const char *path, const struct itx_buf *x, struct itx_diag *d)
{
    char tmp[4200];
    struct stat st;
    int fd;

    if (strcmp(path, "-") == 0) {
        if (x->len && fwrite(x->data, 1, x->len, stdout) != x->len)
            return itx_diag_set(d, ITX_ERR_IO, "cannot write the manifest to stdout");
        fflush(stdout);
        return ITX_OK;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return itx_diag_set(d, ITX_ERR_INVALID, "the manifest '%s' is a directory", path);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || !write_all(fd, x->data ? x->data : "", x->len)) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return itx_diag_set(d, ITX_ERR_IO, "cannot write the manifest '%s': %s", path,
                                strerror(e));
        }
        close(fd);
        return ITX_OK;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return itx_diag_set(d, ITX_ERR_IO, "cannot write the manifest '%s': %s", tmp,
                            strerror(errno));
    if (!write_all(fd, x->data ? x->data : "", x->len) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return itx_diag_set(d, ITX_ERR_IO, "cannot write the manifest '%s': %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return itx_diag_set(d, ITX_ERR_IO, "cannot rename the manifest to '%s': %s", path,
                            strerror(e));
    }
    return ITX_OK;
}

/* ---- the command ---------------------------------------------------------------------- */

/*
 * The cores this process may use: the CPUs it may run on (sched_getaffinity, which honours
 * cpusets), capped by a cgroup v2 CPU quota (/sys/fs/cgroup/cpu.max, "QUOTA PERIOD"; Cloud
 * Run and Kubernetes limit CPU this way, and the online count would be the host's), rounded
 * up, in 1..MAX_WORKERS.
 */
static long long
usable_cores(void)
{
    cpu_set_t set;
    long long n = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        long long quota, period;
        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0 &&
            (quota + period - 1) / period < n)
            n = (quota + period - 1) / period;
        fclose(f); /* "max PERIOD" (no quota) fails the first conversion */
    }
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : n;
}

/*
 * Starts the workers, then the loaders, and waits for all of them. Returns false when no
 * worker could start (then nothing ran). A loader that cannot start is left out: the ones
 * running take the whole list.
 */
static bool
run_threads(struct batch *b, struct worker *workers, size_t n_workers, size_t n_loaders,
            pthread_t *threads)
{
    size_t n_threads = 0;

    /* workers first: loaders wait for them when the queue is full */
    for (size_t i = 0; i < n_workers; i++) {
        int e = pthread_create(&threads[n_threads], NULL, worker_main, &workers[i]);
        if (e != 0) {
            fprintf(stderr, "itx batch: cannot start worker %zu: %s\n", i, strerror(e));
            break;
        }
        n_threads++;
    }
    if (n_threads == 0)
        return false;
    for (size_t i = 0; i < n_loaders; i++) {
        int e = pthread_create(&threads[n_threads], NULL, loader_main, b);
        if (e != 0) {
            /* workers stop when every loader is done, so the ones never started must not
             * be counted */
            fprintf(stderr, "itx batch: cannot start loader %zu: %s\n", i, strerror(e));
            pthread_mutex_lock(&b->mu);
            b->loaders_left -= (int)(n_loaders - i);
            pthread_cond_broadcast(&b->cv_ready);
            pthread_mutex_unlock(&b->mu);
            break;
        }
        n_threads++;
    }
    for (size_t i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    return true;
}

int
itx_cli_batch(int argc, char **argv)
{
    struct itx_pipeline_config cfg = {0};
    struct itx_store_config sc;
    struct itx_fetch_allow_list allow = {0};
    struct itx_batch_list list = {0};
    struct journal_set journal = {0};
    struct batch b;
    struct itx_glossary *gl = NULL;
    struct itx_pipeline_ctx **ctx = NULL;
    struct worker *workers = NULL;
    pthread_t *threads = NULL;
    struct itx_buf man;
    struct itx_diag d;
    struct itx_cli_picture_opts po = {0};
    const char *input = NULL, *manifest = NULL, *state_dir = NULL;
    const char *shard_arg = NULL;
    char *list_text = NULL, *state_default = NULL, *manifest_default = NULL;
    char fp[17];
    long long workers_n = 0, si = 0, sn = 1;
    bool use_store = false, sync_ok = false;
    size_t n_workers = 0, n_loaders = 0, list_len = 0;
    int rc = 2;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    memset(&b, 0, sizeof(b));
    b.journal_fd = -1;
    itx_diag_init(&d);
    itx_buf_init(&b.gloss_key, 16u << 20);
    itx_buf_init(&man, (size_t)1 << 30);
    itx_pipeline_opts_default(&b.o);
    b.o.quality = ITX_IMAGE_QUALITY_DEFAULT;
    po.o = &b.o;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int took = itx_cli_picture_option("batch", argc, argv, &i, &po);
        if (took < 0) {
            goto out;
        } else if (took) {
            continue;
        } else if (strcmp(a, "--input") == 0 && val) {
            input = val;
            i++;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && val) {
            b.outdir = val;
            i++;
        } else if (strcmp(a, "--store") == 0) {
            use_store = true;
        } else if (strcmp(a, "--manifest") == 0 && val) {
            manifest = val;
            i++;
        } else if (strcmp(a, "--state") == 0 && val) {
            state_dir = val;
            i++;
        } else if (strcmp(a, "--shard") == 0 && val) {
            shard_arg = val;
            i++;
        } else if (strcmp(a, "--workers") == 0 && val) {
            if (!itx_parse_int(val, 1, MAX_WORKERS, &workers_n)) {
                fprintf(stderr, "itx batch: --workers '%s': want an integer in 1..%d\n", val,
                        MAX_WORKERS);
                goto out;
            }
            i++;
        } else if (strcmp(a, "--quiet") == 0) {
            b.quiet = true;
        } else {
            fprintf(stderr, "itx batch: unknown option or missing value: %s\n", a);
            usage(stderr);
            goto out;
        }
    }
    cfg.models_dir = po.models_dir;
    if (!input || (!b.outdir) == !use_store) {
        fprintf(stderr, "itx batch: %s\n",
                !input ? "--input LIST is required" : "give exactly one of -o DIR and --store");
        usage(stderr);
        goto out;
    }
    /* the shard: a flag wins over the environment, but a bad environment is an error all the
     * same (a task that silently ran the whole list would do the work N times) */
    if (shard_from_env(&si, &sn, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }
    if (shard_arg && !parse_shard(shard_arg, &si, &sn)) {
        fprintf(stderr,
                "itx batch: --shard '%s': want I/N with N in 1..%d and I in 0..N-1 (e.g. 0/3)\n",
                shard_arg, MAX_SHARDS);
        goto out;
    }
    /* configuration: translator, fetch limits, store; a bad setting is exit status 2 */
    if (itx_tr_config_from_env(&cfg.tr, &d) != ITX_OK ||
        itx_fetch_opts_from_env(&b.fo, &allow, &d) != ITX_OK ||
        itx_store_config_from_env(&sc, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }
    if (cfg.tr.provider != ITX_TR_DICT && !itx_tr_language_supported(b.o.target)) {
        fprintf(stderr, "itx batch: unsupported target language '%s'\n", b.o.target);
        goto out;
    }
    if (b.outdir) {
        itx_store_config_init(&sc);
        sc.kind = ITX_STORE_LOCAL;
        sc.dir = b.outdir;
    }
    if (itx_store_open(&sc, &b.store, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }
    /* one request before any work, so wrong credentials or an unreachable store are a
     * configuration error (exit 2) rather than the same failure on every picture; a GET,
     * not a HEAD, because only an answer with a body names the S3 or GCS error */
    {
        uint8_t *probe = NULL;
        size_t probe_len;
        enum itx_status st = itx_store_get(b.store, "itx-batch-probe", &probe, &probe_len, &d);
        itx_free(probe);
        if (st != ITX_OK && st != ITX_ERR_NOT_FOUND) {
            fprintf(stderr, "itx batch: the store is not usable: %s\n", d.msg);
            goto out;
        }
        itx_diag_init(&d);
    }
    if (po.glossary) {
        if (!itx_cli_glossary_load("batch", po.glossary, &gl))
            goto out;
        b.o.glossary = gl;
    }
    b.max_source_bytes = b.fo.max_bytes;
    {
        struct itx_image_limits lim;
        itx_image_limits_default(&lim);
        if (lim.max_bytes < b.max_source_bytes)
            b.max_source_bytes = lim.max_bytes;
    }

    if (key_settings(&b, &cfg.tr, gl, fp, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }

    /* the list and this shard's part of it */
    if (read_list(input, &list_text, &list_len, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }
    if (itx_batch_list_parse(list_text, list_len, &list, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: '%s': %s\n", input, d.msg);
        goto out;
    }
    b.items = itx_calloc(list.n_entries / (size_t)sn + 1, sizeof(*b.items));
    if (!b.items) {
        fprintf(stderr, "itx batch: out of memory for %zu sources\n", list.n_entries);
        goto out;
    }
    for (size_t i = (size_t)si; i < list.n_entries; i += (size_t)sn) {
        struct item *it = &b.items[b.n_items++];
        it->e = &list.entries[i];
        itx_sha256_hex(it->e->text, strlen(it->e->text), it->source_sha);
    }

    /* where things go */
    if (b.outdir) {
        size_t n = strlen(b.outdir) + 64;
        if (!state_dir) {
            state_default = itx_malloc(n);
            if (!state_default)
                goto out;
            snprintf(state_default, n, "%s/.itx-batch", b.outdir);
            state_dir = state_default;
        }
        if (!manifest) {
            manifest_default = itx_malloc(n);
            if (!manifest_default)
                goto out;
            if (sn == 1)
                snprintf(manifest_default, n, "%s/manifest.jsonl", b.outdir);
            else
                snprintf(manifest_default, n, "%s/manifest.shard-%lld-of-%lld.jsonl", b.outdir, si,
                         sn);
            manifest = manifest_default;
        }
    } else if (!manifest) {
        manifest = "-";
    }
    if (state_dir) {
        if (journal_open(&b, state_dir, fp, si, sn, &journal, &d) != ITX_OK) {
            fprintf(stderr, "itx batch: %s\n", d.msg);
            goto out;
        }
        for (size_t i = 0; i < b.n_items; i++) {
            struct itx_batch_done k;
            memcpy(k.source_sha, b.items[i].source_sha, sizeof(k.source_sha));
            b.items[i].journal =
                journal.n ? bsearch(&k, journal.v, journal.n, sizeof(*journal.v), cmp_done) : NULL;
        }
    }

    /* the pipeline: models, translator, one context per worker */
    if (workers_n == 0)
        workers_n = usable_cores();
    n_workers = (size_t)workers_n;
    if (n_workers > b.n_items)
        n_workers = b.n_items ? b.n_items : 1;
    n_loaders = n_workers + 1;
    cfg.fetch = &b.fo;
    cfg.ocr_threads = 1;
    if (itx_image_init(&d) != ITX_OK || itx_fetch_global_init(&d) != ITX_OK ||
        itx_pipeline_new(&cfg, &b.pl, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        goto out;
    }
    ctx = itx_calloc(n_workers, sizeof(*ctx));
    workers = itx_calloc(n_workers, sizeof(*workers));
    threads = itx_calloc(n_workers + n_loaders, sizeof(*threads));
    b.ready = itx_calloc(n_workers, sizeof(*b.ready));
    if (!ctx || !workers || !threads || !b.ready) {
        fprintf(stderr, "itx batch: out of memory for %zu workers\n", n_workers);
        goto out;
    }
    for (size_t i = 0; i < n_workers; i++) {
        if (itx_pipeline_ctx_new(b.pl, &ctx[i], &d) != ITX_OK) {
            fprintf(stderr, "itx batch: %s\n", d.msg);
            goto out;
        }
        workers[i] = (struct worker){.b = &b, .ctx = ctx[i]};
    }
    b.ready_cap = n_workers;
    b.o.cancelled = cancelled;

    /* run */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sa.sa_flags = (int)SA_RESETHAND; /* a second signal stops the process at once */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv_ready, NULL);
    pthread_cond_init(&b.cv_space, NULL);
    sync_ok = true;
    b.tty = !b.quiet && isatty(2);
    b.loaders_left = (int)n_loaders;
    b.t0 = itx_now_ms();
    if (!b.quiet)
        itx_log(ITX_LOG_INFO, NULL, NULL,
                "itx batch: %zu of %zu sources in shard %lld/%lld, %zu worker%s, results %s '%s'",
                b.n_items, list.n_entries, si, sn, n_workers, n_workers == 1 ? "" : "s",
                b.outdir ? "under" : "in store",
                b.outdir ? b.outdir
                         : (sc.kind == ITX_STORE_S3    ? "s3"
                            : sc.kind == ITX_STORE_GCS ? "gcs"
                                                       : "local"));
    if (b.tty) {
        pthread_mutex_lock(&b.mu);
        progress_bar(&b);
        pthread_mutex_unlock(&b.mu);
    }
    if (!run_threads(&b, workers, n_workers, n_loaders, threads)) {
        rc = 1;
        goto out;
    }
    if (b.tty)
        fputc('\n', stderr);

    /* the manifest, then the summary */
    if (manifest_text(&b, &man, &d) != ITX_OK || manifest_write(manifest, &man, &d) != ITX_OK) {
        fprintf(stderr, "itx batch: %s\n", d.msg);
        rc = 1;
        goto out;
    }
    {
        size_t pending = b.n_items - b.n_done - b.n_failed;
        double secs = (itx_now_ms() - b.t0) / 1000.0;
        const char *where = strcmp(manifest, "-") == 0 ? "stdout" : manifest;
        rc = b.n_failed || pending ? 1 : 0;
        if (!b.quiet || rc)
            itx_log(rc ? ITX_LOG_ERROR : ITX_LOG_NOTICE, NULL, NULL,
                    "itx batch: %zu pictures in shard %lld/%lld: %zu done (%zu now, %zu already "
                    "in the store, %zu from the journal), %zu failed, %zu not finished; "
                    "manifest: %s; %.1f s",
                    b.n_items, si, sn, b.n_done, b.n_run, b.n_cached, b.n_resumed, b.n_failed,
                    pending, where, secs);
        if (pending)
            itx_log(ITX_LOG_ERROR, NULL, NULL,
                    "itx batch: stopped by a signal with %zu pictures not finished; run the "
                    "same command again to resume",
                    pending);
    }
out:
    if (sync_ok) {
        pthread_cond_destroy(&b.cv_space);
        pthread_cond_destroy(&b.cv_ready);
        pthread_mutex_destroy(&b.mu);
    }
    if (b.journal_fd >= 0)
        close(b.journal_fd);
    for (size_t i = 0; ctx && i < n_workers; i++)
        itx_pipeline_ctx_free(ctx[i]);
    for (size_t i = 0; b.items && i < b.n_items; i++) {
        itx_free(b.items[i].data);
        itx_fetch_result_release(&b.items[i].fr);
        itx_free(b.items[i].error);
    }
    itx_free(ctx);
    itx_free(workers);
    itx_free(threads);
    itx_free(b.ready);
    itx_free(b.items);
    itx_pipeline_free(b.pl);
    itx_store_free(b.store);
    itx_glossary_free(gl);
    itx_fetch_allow_list_release(&allow);
    itx_batch_list_release(&list);
    itx_free(journal.v);
    itx_free(list_text);
    itx_free(state_default);
    itx_free(manifest_default);
    itx_buf_release(&b.gloss_key);
    itx_buf_release(&man);
    return rc;
}
