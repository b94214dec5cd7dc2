/*
 * itx doctor: checks what a deployment needs (models, dictionary index, fonts, result store,
 * job store, translation provider) and prints, for each, ok / missing / wrong and the
 * command that fixes it. Exits 1 when anything is missing or wrong, 2 on bad usage.
 * Secrets (API keys, database passwords) are never printed.
 */
#include <ctype.h>
#include <pango/pangocairo.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "translate/translate.h"

enum check { CHECK_MODELS, CHECK_DICT, CHECK_FONTS, CHECK_STORAGE, CHECK_JOBS, CHECK_PROVIDER };

static const char *const check_names[] = {"models", "dict", "fonts", "storage", "jobs", "provider"};
#define N_CHECKS (sizeof(check_names) / sizeof(check_names[0]))

struct doctor {
    int n_bad;
    char setup_cmd[1100]; /* the set-up command, with ITX_MODELS_DIR when it is set */
};

/* One result line: state (ok, missing, wrong), what was checked, detail, and a fix. */
static void report(struct doctor *doc, const char *state, const char *check, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
report(struct doctor *doc, const char *state, const char *check, const char *fix, const char *fmt,
       ...)
{
    va_list ap;

    printf("%-8s %-9s ", state, check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (strcmp(state, "ok") != 0) {
        doc->n_bad++;
        if (fix)
            printf("%-8s %-9s fix: %s\n", "", "", fix);
    }
}

static void
check_models(struct doctor *doc)
{
    const char *dir = itx_models_dir();

    for (size_t i = 0; i < itx_cli_model_count(); i++) {
        char path[4096], hex[65];
        const char *name, *expected;
        struct itx_diag d;

        itx_diag_init(&d);
        switch (itx_cli_model_check(dir, i, path, sizeof(path), hex, &name, &expected, &d)) {
        case ITX_CLI_MODEL_OK:
            report(doc, "ok", "models", NULL, "%s", path);
            break;
        case ITX_CLI_MODEL_MISSING:
            report(doc, "missing", "models", doc->setup_cmd, "%s", path);
            break;
        case ITX_CLI_MODEL_UNREADABLE:
            report(doc, "wrong", "models", doc->setup_cmd, "%s: %s", path, d.msg);
            break;
        case ITX_CLI_MODEL_WRONG:
            report(doc, "wrong", "models", doc->setup_cmd, "%s: sha256 %s, expected %s", path, hex,
                   expected);
            break;
        }
    }
}

static void
check_dict(struct doctor *doc)
{
    char path[4096], fix[8192];
    struct itx_dict *dict = NULL;
    struct itx_diag d;
    enum itx_status s;

    itx_diag_init(&d);
    snprintf(path, sizeof(path), "%s/cedict.idx", itx_models_dir());
    s = itx_dict_open(path, &dict, &d);
    snprintf(fix, sizeof(fix), "rm -f '%s' && %s", path, doc->setup_cmd);
    if (s == ITX_ERR_NOT_FOUND)
        report(doc, "missing", "dict", doc->setup_cmd, "%s", path);
    else if (s != ITX_OK)
        report(doc, "wrong", "dict", fix, "%s: %s", path, d.msg);
    else
        report(doc, "ok", "dict", NULL, "%s (%zu entries)", path, itx_dict_count(dict));
    itx_dict_free(dict);
}

/* Whether fontconfig, through Pango, resolves family to a face of that very family. */
static void
check_font(struct doctor *doc, PangoContext *ctx, const char *family, const char *package)
{
    PangoFontDescription *want = pango_font_description_new();
    PangoFontDescription *got = NULL;
    PangoFont *font = NULL;
    const char *got_family = NULL;
    char fix[128];

    pango_font_description_set_family(want, family);
    pango_font_description_set_absolute_size(want, 16 * PANGO_SCALE);
    font = pango_context_load_font(ctx, want);
    if (font) {
        got = pango_font_describe(font);
        got_family = pango_font_description_get_family(got);
    }
    snprintf(fix, sizeof(fix), "sudo apt-get install --no-install-recommends %s fontconfig",
             package);
    if (!got_family)
        report(doc, "missing", "fonts", fix, "'%s': fontconfig has no font at all", family);
    else if (strcasecmp(got_family, family) != 0)
        report(doc, "missing", "fonts", fix, "'%s': fontconfig substitutes '%s'", family,
               got_family);
    else
        report(doc, "ok", "fonts", NULL, "'%s'", family);
    if (got)
        pango_font_description_free(got);
    if (font)
        g_object_unref(font);
    pango_font_description_free(want);
}

static void
check_fonts(struct doctor *doc)
{
    PangoFontMap *map = pango_cairo_font_map_new();
    PangoContext *ctx = pango_font_map_create_context(map);

    check_font(doc, ctx, "Noto Sans", "fonts-noto-core");
    check_font(doc, ctx, "Noto Sans CJK SC", "fonts-noto-cjk");
    g_object_unref(ctx);
    g_object_unref(map);
}

static void
check_storage(struct doctor *doc)
{
    static const char probe[] = "itx doctor write probe\n";
    struct itx_store_config c;
    struct itx_store *st = NULL;
    struct itx_diag d;
    uint8_t *back = NULL;
    size_t n_back = 0;
    char where[1024], fix[1200];
    enum itx_status s;

    itx_diag_init(&d);
    itx_store_config_init(&c);
    if (itx_store_config_from_env(&c, &d) != ITX_OK) {
        report(doc, "wrong", "storage", "fix the variable named (docs/store.md)", "%s", d.msg);
        return;
    }
    switch (c.kind) {
    case ITX_STORE_LOCAL:
        snprintf(where, sizeof(where), "local '%s'", c.dir ? c.dir : "data/files");
        snprintf(fix, sizeof(fix),
                 "mkdir -p '%s' and make it writable by this user (or set ITX_STORE_DIR)",
                 c.dir ? c.dir : "data/files");
        break;
    case ITX_STORE_S3:
        snprintf(where, sizeof(where), "s3 bucket '%s'", c.bucket ? c.bucket : "");
        snprintf(fix, sizeof(fix),
                 "check ITX_S3_BUCKET, ITX_S3_ENDPOINT, ITX_S3_REGION and AWS_ACCESS_KEY_ID / "
                 "AWS_SECRET_ACCESS_KEY (docs/store.md)");
        break;
    case ITX_STORE_GCS:
    default:
        snprintf(where, sizeof(where), "gcs bucket '%s'", c.bucket ? c.bucket : "");
        snprintf(fix, sizeof(fix),
                 "gcloud storage buckets add-iam-policy-binding gs://%s "
                 "--member=serviceAccount:SERVICE_ACCOUNT --role=roles/storage.objectAdmin "
                 "(docs/deploy.md)",
                 c.bucket ? c.bucket : "BUCKET");
        break;
    }
    s = itx_store_open(&c, &st, &d);
    /* Create-only put of a fixed object: a conflict means it is already there, which still
     * proves the store answers and accepts our credentials. Then read it back. */
    if (s == ITX_OK) {
        s = itx_store_put(st, "itx-doctor/probe.txt", probe, sizeof(probe) - 1, "text/plain", &d);
        if (s == ITX_ERR_CONFLICT) {
            itx_diag_init(&d);
            s = ITX_OK;
        }
    }
    if (s == ITX_OK)
        s = itx_store_get(st, "itx-doctor/probe.txt", &back, &n_back, &d);
    if (s == ITX_OK && (n_back != sizeof(probe) - 1 || memcmp(back, probe, n_back) != 0))
        s = itx_diag_set(&d, ITX_ERR_IO,
                         "object 'itx-doctor/probe.txt' reads back different "
                         "bytes (%zu)",
                         n_back);
    if (s == ITX_OK)
        report(doc, "ok", "storage", NULL, "%s (wrote and read itx-doctor/probe.txt)", where);
    else
        report(doc, "wrong", "storage", fix, "%s: %s", where, d.msg);
    itx_free(back);
    itx_store_free(st);
}

static void
check_jobs(struct doctor *doc)
{
    struct itx_store_config c;
    struct itx_jobs *jobs = NULL;
    struct itx_diag d;
    char url[1024], shown[1024];

    itx_diag_init(&d);
    itx_store_config_init(&c);
    /* the database itx serve would open: ITX_DATABASE_URL, else SQLite next to the local
     * store's directory (or in ITX_DATA_DIR) */
    if (itx_store_config_from_env(&c, &d) != ITX_OK ||
        itx_cli_jobs_url(c.kind == ITX_STORE_LOCAL ? (c.dir ? c.dir : "data/files") : NULL, url,
                         sizeof(url), &d) != ITX_OK) {
        report(doc, "wrong", "jobs", "fix the variable named (docs/jobs.md)", "%s", d.msg);
        return;
    }
    itx_cli_redact_url(url, shown, sizeof(shown));
    if (itx_jobs_open(url, NULL, &jobs, &d) != ITX_OK) {
        bool sqlite = strncmp(url, "sqlite:", 7) == 0;
        report(doc, "wrong", "jobs",
               sqlite ? "make the database file's folder writable, or set ITX_DATABASE_URL "
                        "(docs/jobs.md)"
                      : "pg_isready -d \"$ITX_DATABASE_URL\"; check the host, database, user "
                        "and password in ITX_DATABASE_URL (docs/jobs.md)",
               "%s: %s", shown, d.msg);
        return;
    }
    report(doc, "ok", "jobs", NULL, "%s (%s)", shown, itx_jobs_backend(jobs));
    itx_jobs_close(jobs);
}

static void
check_provider(struct doctor *doc)
{
    struct itx_tr_config c;
    struct itx_diag d;

    memset(&c, 0, sizeof(c));
    itx_diag_init(&d);
    if (itx_tr_config_from_env(&c, &d) != ITX_OK) {
        report(doc, "wrong", "provider", "fix the variable named (docs/translate.md)", "%s", d.msg);
        return;
    }
    switch (c.provider) {
    case ITX_TR_GEMINI:
        if (c.api_key && *c.api_key)
            report(doc, "ok", "provider", NULL, "gemini (GEMINI_API_KEY is set; not shown)");
        else
            report(doc, "missing", "provider",
                   "export GEMINI_API_KEY=... (Cloud Run: --set-secrets "
                   "GEMINI_API_KEY=gemini-api-key:latest)",
                   "gemini: GEMINI_API_KEY is not set");
        break;
    case ITX_TR_OPENAI:
        if (c.api_key && *c.api_key)
            report(doc, "ok", "provider", NULL, "openai (OPENAI_API_KEY is set; not shown)");
        else if (c.base_url && *c.base_url && strcmp(c.base_url, "https://api.openai.com/v1") != 0)
            report(doc, "ok", "provider", NULL,
                   "openai at '%s' (no key, allowed off api.openai.com)", c.base_url);
        else
            report(doc, "missing", "provider",
                   "export OPENAI_API_KEY=... (or ITX_OPENAI_BASE_URL for a local server)",
                   "openai: OPENAI_API_KEY is not set");
        break;
    case ITX_TR_DICT:
    default:
        report(doc, "ok", "provider", NULL, "dict (offline; uses the dictionary index)");
        break;
    }
}

static int
usage(FILE *f, int status)
{
    fprintf(f, "usage: itx doctor [--only CHECK[,CHECK...]]\n\n"
               "Checks what itx needs and prints, for each, ok, missing or wrong, and the command\n"
               "that fixes it. Checks: models (SHA-256 of each model in $ITX_MODELS_DIR), dict\n"
               "(the CC-CEDICT index), fonts (fontconfig finds Noto Sans and Noto Sans CJK),\n"
               "storage (the ITX_STORE result store is reachable and writable: it writes\n"
               "itx-doctor/probe.txt), jobs (opens ITX_DATABASE_URL or the SQLite default),\n"
               "provider (ITX_TRANSLATE_PROVIDER and its key; keys are never printed).\n"
               "Exits 1 when anything is missing or wrong.\n");
    return status;
}

int
itx_cli_doctor(int argc, char **argv)
{
    bool want[N_CHECKS];
    struct doctor doc = {0};

    if (itx_cli_wants_help(argc, argv))
        return usage(stdout, 0);
    for (size_t i = 0; i < N_CHECKS; i++)
        want[i] = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            char list[256];
            char *save = NULL;

            for (size_t k = 0; k < N_CHECKS; k++)
                want[k] = false;
            snprintf(list, sizeof(list), "%s", argv[++i]);
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t k = 0;
                while (k < N_CHECKS && strcmp(t, check_names[k]) != 0)
                    k++;
                if (k == N_CHECKS) {
                    fprintf(stderr,
                            "itx doctor: unknown check '%s'; expected models, dict, fonts, "
                            "storage, jobs or provider\n",
                            t);
                    return 2;
                }
                want[k] = true;
            }
        } else {
            fprintf(stderr, "itx doctor: unexpected argument '%s'\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    {
        const char *env_dir = getenv("ITX_MODELS_DIR");
        if (env_dir && *env_dir)
            snprintf(doc.setup_cmd, sizeof(doc.setup_cmd), "ITX_MODELS_DIR='%s' scripts/setup.sh",
                     env_dir);
        else
            snprintf(doc.setup_cmd, sizeof(doc.setup_cmd), "scripts/setup.sh");
    }
    printf("models folder: %s\n", itx_models_dir());
    if (want[CHECK_MODELS])
        check_models(&doc);
    if (want[CHECK_DICT])
        check_dict(&doc);
    if (want[CHECK_FONTS])
        check_fonts(&doc);
    if (want[CHECK_STORAGE])
        check_storage(&doc);
    if (want[CHECK_JOBS])
        check_jobs(&doc);
    if (want[CHECK_PROVIDER])
        check_provider(&doc);
    fflush(stdout);
    if (doc.n_bad) {
        printf("%d problem(s); run the fix line under each\n", doc.n_bad);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
