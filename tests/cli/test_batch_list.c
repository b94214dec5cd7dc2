/*
 * itx batch's input list and resume journal (src/cli/batch-list.c): line numbers, comments,
 * blanks and CRLF, per-line errors that do not stop the list, the limits, and a journal
 * whose torn or foreign lines are ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/batch-list.h"
#include "core/alloc.h"

static struct itx_batch_list
parse(char *text, enum itx_status *st)
{
    struct itx_batch_list l;
    struct itx_diag d;
    itx_diag_init(&d);
    *st = itx_batch_list_parse(text, strlen(text), &l, &d);
    return l;
}

static void
test_list(void)
{
    char text[] = "# pictures\n"
                  "\n"
                  "  https://img.alicdn.com/a.jpg  \r\n"
                  "pics/b.png\r\n"
                  "\t# indented comment\n"
                  "HTTP://Example.com/c.webp\n"
                  "ftp://example.com/d.png\n"
                  "file:///etc/passwd\n"
                  "C:/not/a/scheme.png\n"
                  "weird+scheme-1.x://host/e\n"
                  "bad\x01line\n"
                  "last-without-newline.jpg";
    enum itx_status st;
    struct itx_batch_list l = parse(text, &st);

    CHECK_INT(st, ITX_OK);
    CHECK_INT(l.n_entries, 9);
    CHECK_INT(l.n_lines, 12);
    if (l.n_entries == 9) {
        CHECK_INT(l.entries[0].line, 3);
        CHECK_STR(l.entries[0].text, "https://img.alicdn.com/a.jpg");
        CHECK_INT(l.entries[0].kind, ITX_BATCH_URL);
        CHECK_INT(l.entries[1].line, 4);
        CHECK_STR(l.entries[1].text, "pics/b.png");
        CHECK_INT(l.entries[1].kind, ITX_BATCH_FILE);
        CHECK_INT(l.entries[2].kind, ITX_BATCH_URL); /* scheme case does not matter */
        CHECK_INT(l.entries[3].kind, ITX_BATCH_BAD);
        CHECK_INT(l.entries[3].line, 7);
        CHECK(strstr(l.entries[3].error, "unsupported URL scheme") != NULL);
        CHECK_INT(l.entries[4].kind, ITX_BATCH_BAD);
        CHECK(strstr(l.entries[4].error, "plain path") != NULL);
        CHECK_INT(l.entries[5].kind, ITX_BATCH_FILE); /* "C:/" is not "scheme://" */
        CHECK_INT(l.entries[6].kind, ITX_BATCH_BAD);
        CHECK_INT(l.entries[7].kind, ITX_BATCH_BAD);
        CHECK(strstr(l.entries[7].error, "control character") != NULL);
        CHECK_INT(l.entries[8].line, 12);
        CHECK_STR(l.entries[8].text, "last-without-newline.jpg");
        CHECK_INT(l.entries[8].kind, ITX_BATCH_FILE);
    }
    itx_batch_list_release(&l);

    /* empty and comment-only lists are lists with no entries */
    {
        char e1[] = "", e2[] = "# nothing\n\n   \n";
        l = parse(e1, &st);
        CHECK_INT(st, ITX_OK);
        CHECK_INT(l.n_entries, 0);
        itx_batch_list_release(&l);
        l = parse(e2, &st);
        CHECK_INT(st, ITX_OK);
        CHECK_INT(l.n_entries, 0);
        CHECK_INT(l.n_lines, 3);
        itx_batch_list_release(&l);
    }
    /* a NUL inside a line is that line's error, not the end of the list */
    {
        char t[] = "a.png\nb\0c.png\nd.png\n";
        struct itx_diag d;
        itx_diag_init(&d);
        CHECK_INT(itx_batch_list_parse(t, sizeof(t) - 1, &l, &d), ITX_OK);
        CHECK_INT(l.n_entries, 3);
        if (l.n_entries == 3) {
            CHECK_INT(l.entries[1].kind, ITX_BATCH_BAD);
            CHECK(strstr(l.entries[1].error, "NUL") != NULL);
            CHECK_STR(l.entries[2].text, "d.png");
        }
        itx_batch_list_release(&l);
    }
}

static void
test_limits(void)
{
    size_t n = ITX_BATCH_MAX_LINE + 1;
    char *t = itx_malloc(n + 16);
    struct itx_batch_list l;
    struct itx_diag d;

    /* a line over the limit is a bad entry naming the limit; the next line still counts */
    memset(t, 'a', n);
    memcpy(t + n, "\nok.png\n", 9);
    itx_diag_init(&d);
    CHECK_INT(itx_batch_list_parse(t, strlen(t), &l, &d), ITX_OK);
    CHECK_INT(l.n_entries, 2);
    if (l.n_entries == 2) {
        CHECK_INT(l.entries[0].kind, ITX_BATCH_BAD);
        CHECK(strstr(l.entries[0].error, "8192 bytes") != NULL);
        CHECK_STR(l.entries[1].text, "ok.png");
        CHECK_INT(l.entries[1].line, 2);
    }
    itx_batch_list_release(&l);
    itx_free(t);

    /* the whole list over its limit is refused before anything is read */
    itx_diag_init(&d);
    CHECK_INT(itx_batch_list_parse((char *)"x", ITX_BATCH_MAX_LIST_BYTES + 1, &l, &d),
              ITX_ERR_TOO_LARGE);
    CHECK(strstr(d.msg, "byte limit") != NULL);
    itx_batch_list_release(&l);

    /* more sources than the limit */
    {
        size_t count = (size_t)ITX_BATCH_MAX_ENTRIES + 1;
        char *many = itx_malloc(count * 2 + 1);
        for (size_t i = 0; i < count; i++) {
            many[2 * i] = 'x';
            many[2 * i + 1] = '\n';
        }
        many[count * 2] = '\0';
        itx_diag_init(&d);
        CHECK_INT(itx_batch_list_parse(many, count * 2, &l, &d), ITX_ERR_TOO_LARGE);
        CHECK(strstr(d.msg, "1000000 sources") != NULL);
        itx_batch_list_release(&l);
        itx_free(many);
    }
}

struct collected {
    struct itx_batch_done v[8];
    size_t n;
};

static bool
collect(const struct itx_batch_done *dn, void *arg)
{
    struct collected *c = arg;
    if (c->n < 8)
        c->v[c->n++] = *dn;
    return true;
}

static void
test_journal(void)
{
    struct itx_batch_done a = {0}, b2 = {0};
    char line[200], text[2048];
    struct collected c = {0};
    size_t n_done = 99, n_bad = 99, len;

    memset(a.source_sha, 'a', 64);
    memset(a.key, '0', 64);
    strcpy(a.ext, "png");
    memset(b2.source_sha, 'b', 64);
    memset(b2.key, 'f', 64);
    strcpy(b2.ext, "jpg");
    len = itx_batch_state_line(&a, line, sizeof(line));
    CHECK_INT(len, strlen(line));
    CHECK_INT(line[len - 1], '\n');

    /* header, two good lines, a malformed one, a torn last line */
    snprintf(text, sizeof(text), "%s0123456789abcdef\n", ITX_BATCH_STATE_MAGIC);
    strcat(text, line);
    itx_batch_state_line(&b2, line, sizeof(line));
    strcat(text, line);
    strcat(text, "done zz\n");
    {
        size_t tl = strlen(text);
        memcpy(text + tl, line, 100); /* a torn last line: no '\n' */
        text[tl + 100] = '\0';
    }
    itx_batch_state_parse(text, strlen(text), "0123456789abcdef", collect, &c, &n_done, &n_bad);
    CHECK_INT(n_done, 2);
    CHECK_INT(n_bad, 2);
    CHECK_INT(c.n, 2);
    if (c.n == 2) {
        CHECK(memcmp(c.v[0].source_sha, a.source_sha, 65) == 0);
        CHECK_STR(c.v[1].ext, "jpg");
        CHECK_STR(c.v[1].key, b2.key);
    }
    /* another run's settings: nothing taken */
    c.n = 0;
    itx_batch_state_parse(text, strlen(text), "fedcba9876543210", collect, &c, &n_done, &n_bad);
    CHECK_INT(n_done, 0);
    CHECK_INT(c.n, 0);
    /* no complete header (a crash while writing it) */
    itx_batch_state_parse(text, 10, "0123456789abcdef", collect, &c, &n_done, &n_bad);
    CHECK_INT(n_done, 0);
    /* wrong extension, upper-case hex, extra field: all refused */
    {
        const char *bad[] = {"png ", "gif", "PNG", "png x"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            snprintf(text, sizeof(text), "%s0123456789abcdef\ndone %s %s %s\n",
                     ITX_BATCH_STATE_MAGIC, a.source_sha, a.key, bad[i]);
            itx_batch_state_parse(text, strlen(text), "0123456789abcdef", NULL, NULL, &n_done,
                                  &n_bad);
            CHECK_MSG(n_done == 0 && n_bad == 1, "ext '%s'", bad[i]);
        }
        a.key[3] = 'A';
        snprintf(text, sizeof(text), "%s0123456789abcdef\ndone %s %s png\n", ITX_BATCH_STATE_MAGIC,
                 a.source_sha, a.key);
        itx_batch_state_parse(text, strlen(text), "0123456789abcdef", NULL, NULL, &n_done, &n_bad);
        CHECK_INT(n_done, 0);
    }
}

int
main(void)
{
    test_list();
    test_limits();
    test_journal();
    return check_summary();
}
