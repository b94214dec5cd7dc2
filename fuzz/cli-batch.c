/*
 * Fuzz target for itx batch's two text formats (src/cli/batch-list.c): the input list and
 * the resume journal. Invariants: every entry lies inside the input, in increasing line
 * order; a good entry (URL or path) has a non-empty NUL-terminated text no longer than the
 * line limit and free of blanks at its ends, a bad one carries an error; every journal record
 * taken has two 64-digit lower-case hex fields and a known extension, and formats back to
 * a line the parser takes again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/batch-list.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
check_done(const struct itx_batch_done *dn, void *arg)
{
    char line[200], text[300];
    size_t n, again = 0;
    (void)arg;
    if (strlen(dn->source_sha) != 64 || strlen(dn->key) != 64)
        abort();
    if (strcmp(dn->ext, "png") && strcmp(dn->ext, "jpg") && strcmp(dn->ext, "webp"))
        abort();
    n = itx_batch_state_line(dn, line, sizeof(line));
    memcpy(text, "itx-batch-state 1 0123456789abcdef\n", 35);
    memcpy(text + 35, line, n);
    itx_batch_state_parse(text, 35 + n, "0123456789abcdef", NULL, NULL, &again, NULL);
    if (again != 1)
        abort();
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct itx_batch_list l;
    struct itx_diag d;
    char *buf;

    if (size > 1 << 20)
        return 0;
    /* the journal reads the bytes as they are (a header for fingerprint 0123...) */
    itx_batch_state_parse((const char *)data, size, "0123456789abcdef", check_done, NULL, NULL,
                          NULL);

    buf = itx_malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    itx_diag_init(&d);
    if (itx_batch_list_parse(buf, size, &l, &d) == ITX_OK) {
        unsigned prev = 0;
        for (size_t i = 0; i < l.n_entries; i++) {
            const struct itx_batch_entry *e = &l.entries[i];
            size_t n = strlen(e->text);
            if (e->text < buf || e->text + n > buf + size || e->line <= prev || e->line > l.n_lines)
                abort();
            if (e->kind == ITX_BATCH_BAD ? !e->error : e->error != NULL)
                abort();
            /* a bad line's text may stop early at a NUL inside it; a good one is whole */
            if (e->kind != ITX_BATCH_BAD &&
                (n == 0 || n > ITX_BATCH_MAX_LINE || e->text[0] == ' ' || e->text[0] == '\t' ||
                 e->text[n - 1] == ' ' || e->text[n - 1] == '\r'))
                abort();
            prev = e->line;
        }
    }
    itx_batch_list_release(&l);
    itx_free(buf);
    return 0;
}
