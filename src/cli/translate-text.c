/*
 * itx translate-text: translates the texts given on the command line as the segments of one
 * picture, in one provider call, and prints one translation per line (or JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "translate/translate.h"

static int
usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: itx translate-text [--to LANG] [--provider dict|gemini|openai] [--model M]\n"
            "                          [--glossary FILE] [--cache FILE] [--json] TEXT...\n\n"
            "Translates each TEXT as one text block of a picture. All of them go to the provider\n"
            "in one call. dict (the default) needs no key or network and translates into English;\n"
            "gemini (GEMINI_API_KEY) and openai (OPENAI_API_KEY, ITX_OPENAI_BASE_URL) translate\n"
            "into en, es, fr, de, it, pt, ru, ja, ko, vi, th, ar, id, tr, pl.\n\n"
            "  --glossary FILE  per-request glossary: 'term<TAB>translation' lines, '=' keeps\n"
            "  --cache FILE     SQLite translation cache (default $ITX_TRANSLATE_CACHE)\n"
            "  --json           print [{\"id\",\"source\",\"text\",\"skip\",\"flags\"}, ...]\n");
    return rc;
}

static void
put_flags(struct itx_buf *j, unsigned f)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{ITX_TR_FLAG_FALLBACK_DICT, "fallback_dict"},
                 {ITX_TR_FLAG_CACHED, "cached"},
                 {ITX_TR_FLAG_RETRIED, "retried"},
                 {ITX_TR_FLAG_PARTIAL, "partial"}};
    int first = 1;
    itx_buf_putc(j, '[');
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & names[i].bit) {
            if (!first)
                itx_buf_putc(j, ',');
            itx_buf_json_str(j, names[i].name);
            first = 0;
        }
    itx_buf_putc(j, ']');
}

int
itx_cli_translate_text(int argc, char **argv)
{
    struct itx_tr_config cfg = {0};
    struct itx_tr_request req = {.target = "en"};
    struct itx_translator *t = NULL;
    struct itx_tr_cache *cache = NULL;
    struct itx_glossary *rg = NULL;
    struct itx_tr_segment *segs = NULL;
    struct itx_tr_result *res = NULL;
    struct itx_tr_stats st;
    struct itx_diag d;
    const char *glossary_path = NULL, *cache_path = getenv("ITX_TRANSLATE_CACHE");
    int json = 0, rc = 1, first = 1, n, provider_given = 0;

    if (itx_cli_wants_help(argc, argv))
        return usage(stdout, 0);
    itx_diag_init(&d);
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
        if (strcmp(a, "--to") == 0) {
            req.target = argv[first + 1];
        } else if (strcmp(a, "--provider") == 0) {
            provider_given = 1;
            if (!itx_tr_provider_parse(argv[first + 1], &cfg.provider)) {
                fprintf(stderr,
                        "itx translate-text: unknown provider '%s'; use dict, gemini "
                        "or openai\n",
                        argv[first + 1]);
                return 2;
            }
        } else if (strcmp(a, "--model") == 0) {
            cfg.model = argv[first + 1];
        } else if (strcmp(a, "--glossary") == 0) {
            glossary_path = argv[first + 1];
        } else if (strcmp(a, "--cache") == 0) {
            cache_path = argv[first + 1];
        } else {
            fprintf(stderr, "itx translate-text: unknown option '%s'\n", a);
            return usage(stderr, 2);
        }
        first += 2;
    }
    if (first >= argc)
        return usage(stderr, 2);
    n = argc - first;
    /* An explicit --provider wins over ITX_TRANSLATE_PROVIDER (also --provider dict). */
    if (provider_given)
        unsetenv("ITX_TRANSLATE_PROVIDER");
    if (itx_tr_config_from_env(&cfg, &d))
        goto out;
    if (cache_path && *cache_path && itx_tr_cache_open_sqlite(cache_path, &cache, &d))
        goto out;
    cfg.cache = cache;
    if (itx_translator_new(&cfg, &t, &d))
        goto out;
    if (glossary_path) {
        rg = itx_glossary_new();
        if (!rg || itx_glossary_load_file(rg, glossary_path, &d))
            goto out;
        req.glossary = rg;
    }
    segs = itx_calloc((size_t)n, sizeof(*segs));
    res = itx_calloc((size_t)n, sizeof(*res));
    if (!segs || !res) {
        itx_diag_set(&d, ITX_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        segs[i] = (struct itx_tr_segment){.id = i + 1, .text = argv[first + i]};
    req.segments = segs;
    req.n_segments = (size_t)n;
    if (itx_translate(t, &req, res, &st, &d))
        goto out;
    if (st.provider_error[0])
        fprintf(stderr, "itx translate-text: warning: %s; used the dictionary instead\n",
                st.provider_error);
    if (json) {
        struct itx_buf j;
        itx_buf_init(&j, (size_t)64 << 20);
        itx_buf_putc(&j, '[');
        for (int i = 0; i < n; i++) {
            itx_buf_printf(&j, "%s{\"id\":%d,\"source\":", i ? "," : "", i + 1);
            itx_buf_json_str(&j, segs[i].text);
            itx_buf_puts(&j, ",\"text\":");
            itx_buf_json_str(&j, res[i].text);
            itx_buf_puts(&j, ",\"skip\":");
            if (res[i].skip)
                itx_buf_json_str(&j, itx_tr_skip_str(res[i].skip));
            else
                itx_buf_puts(&j, "null");
            itx_buf_puts(&j, ",\"flags\":");
            put_flags(&j, res[i].flags);
            itx_buf_putc(&j, '}');
        }
        itx_buf_puts(&j, "]\n");
        fputs(j.data, stdout);
        itx_buf_release(&j);
    } else {
        for (int i = 0; i < n; i++)
            printf("%s\n", res[i].text);
    }
    itx_tr_results_release(res, (size_t)n);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "itx translate-text: %s\n", d.msg);
    itx_free(segs);
    itx_free(res);
    itx_glossary_free(rg);
    itx_translator_free(t);
    itx_tr_cache_free(cache);
    return rc;
}
