/* itx translate-text: translates texts given on the command line (one segment each). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "translate/translate.h"

static int
usage(FILE *f, int rc)
{
    fprintf(f, "usage: itx translate-text [--to LANG] [--provider dict] [--glossary FILE] "
               "[--json] TEXT...\n\n"
               "Translates each TEXT (one picture text block each) and prints one translation\n"
               "per line, or a JSON array with --json.\n");
    return rc;
}

int
itx_cli_translate_text(int argc, char **argv)
{
    const char *to = "en", *provider = "dict", *glossary_path = NULL;
    struct itx_glossary *g = NULL, *rg = NULL;
    struct itx_dict *dict = NULL;
    struct itx_diag d;
    struct itx_buf out;
    int json = 0, rc = 1, first = 1;

    if (itx_cli_wants_help(argc, argv))
        return usage(stdout, 0);
    itx_diag_init(&d);
    itx_buf_init(&out, 1 << 20);
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        const char *a = argv[first];
        if (strcmp(a, "--") == 0) {
            first++;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            first++;
            continue;
        }
        if (first + 1 >= argc)
            return usage(stderr, 2);
        if (strcmp(a, "--to") == 0)
            to = argv[first + 1];
        else if (strcmp(a, "--provider") == 0)
            provider = argv[first + 1];
        else if (strcmp(a, "--glossary") == 0)
            glossary_path = argv[first + 1];
        else
            return usage(stderr, 2);
        first += 2;
    }
    if (first >= argc)
        return usage(stderr, 2);
    if (strcmp(provider, "dict") != 0) {
        fprintf(stderr, "itx translate-text: unknown provider '%s'\n", provider);
        return 2;
    }
    if (strcmp(to, "en") != 0) {
        fprintf(stderr, "itx translate-text: the dict provider translates only into English, "
                        "not '%s'\n", to);
        return 2;
    }
    g = itx_glossary_new();
    if (!g || itx_glossary_add_builtin_en(g, &d) || itx_dict_open(NULL, &dict, &d))
        goto out;
    if (glossary_path) {
        rg = itx_glossary_new();
        if (!rg || itx_glossary_load_file(rg, glossary_path, &d))
            goto out;
    }
    if (json)
        printf("[");
    for (int i = first; i < argc; i++) {
        itx_buf_reset(&out);
        if (itx_dict_translate(dict, g, rg, argv[i], &out, NULL, &d))
            goto out;
        if (json) {
            struct itx_buf j;
            itx_buf_init(&j, 1 << 20);
            itx_buf_puts(&j, i > first ? ",{\"source\":" : "{\"source\":");
            itx_buf_json_str(&j, argv[i]);
            itx_buf_puts(&j, ",\"text\":");
            itx_buf_json_str(&j, out.data ? out.data : "");
            itx_buf_puts(&j, "}");
            fputs(j.data, stdout);
            itx_buf_release(&j);
        } else {
            printf("%s\n", out.data ? out.data : "");
        }
    }
    if (json)
        printf("]\n");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "itx translate-text: %s\n", d.msg);
    itx_buf_release(&out);
    itx_glossary_free(g);
    itx_glossary_free(rg);
    itx_dict_free(dict);
    return rc;
}
