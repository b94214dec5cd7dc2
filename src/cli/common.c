/*
 * What several sub-commands share: the picture options and loading the --glossary file
 * (itx translate, itx batch), redacting a URL's password for output, and the job database's
 * URL with its default beside the files directory (itx serve, itx doctor).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/util.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "translate/translate.h"

int
itx_cli_picture_option(const char *cmd, int argc, char **argv, int *i,
                       struct itx_cli_picture_opts *po)
{
    const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    long long v;

    if (!val && strcmp(a, "--no-qa") != 0)
        return 0;
    if (strcmp(a, "--to") == 0) {
        po->o->target = val;
    } else if (strcmp(a, "--glossary") == 0) {
        po->glossary = val;
    } else if (strcmp(a, "--models") == 0) {
        po->models_dir = val;
    } else if (strcmp(a, "--format") == 0) {
        po->o->format = itx_image_format_parse(val);
        if (po->o->format == ITX_IMAGE_FORMAT_UNKNOWN) {
            fprintf(stderr, "itx %s: --format '%s': use jpeg, png or webp\n", cmd, val);
            return -1;
        }
    } else if (strcmp(a, "--quality") == 0) {
        if (!itx_parse_int(val, 1, 100, &v)) {
            fprintf(stderr, "itx %s: --quality '%s': want an integer in 1..100\n", cmd, val);
            return -1;
        }
        po->o->quality = (int)v;
    } else if (strcmp(a, "--min-score") == 0) {
        char *end;
        double x = strtod(val, &end);
        if (*end || !(x >= 0 && x <= 1)) {
            fprintf(stderr, "itx %s: --min-score '%s': want a number 0..1\n", cmd, val);
            return -1;
        }
        po->o->min_score = (float)x;
    } else if (strcmp(a, "--no-qa") == 0) {
        po->o->no_qa = true;
        return 1;
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

bool
itx_cli_glossary_load(const char *cmd, const char *path, struct itx_glossary **out)
{
    struct itx_diag d;

    itx_diag_init(&d);
    *out = itx_glossary_new();
    if (!*out || itx_glossary_load_file(*out, path, &d) != ITX_OK) {
        fprintf(stderr, "itx %s: %s\n", cmd, *out ? d.msg : "out of memory");
        return false;
    }
    return true;
}

/* ---- the job store's address (itx serve, itx doctor) -------------------------------- */

/* Copies url into out with any password replaced by "***" ("user:pw@", "password=pw"). */
void
itx_cli_redact_url(const char *url, char *out, size_t out_size)
{
    const char *scheme = strstr(url, "://");
    size_t o = 0;

    for (const char *p = url; *p && o + 4 < out_size;) {
        if (scheme && p == scheme + 3) {
            const char *at = strchr(p, '@'), *slash = strchr(p, '/');
            const char *colon = strchr(p, ':');
            if (at && (!slash || at < slash) && colon && colon < at) {
                while (p < colon && o + 4 < out_size)
                    out[o++] = *p++;
                memcpy(out + o, ":***", 4);
                o += 4;
                p = at;
                continue;
            }
        }
        if (strncasecmp(p, "password=", 9) == 0 && o + 12 < out_size) {
            memcpy(out + o, "password=***", 12);
            o += 12;
            p += 9;
            while (*p && *p != '&' && !isspace((unsigned char)*p))
                p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

/* The default database: next to the local store's directory (never inside it, which is
 * served at /files/), else in ITX_DATA_DIR. The directory is created when missing. */
static enum itx_status
default_url(const char *files_dir, char *out, size_t out_size, struct itx_diag *d)
{
    char dir[1024];
    const char *data = getenv("ITX_DATA_DIR");

    if (files_dir && files_dir[0]) {
        char *slash;
        snprintf(dir, sizeof(dir), "%s", files_dir);
        while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
            dir[strlen(dir) - 1] = '\0';
        slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof(dir), ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
    } else {
        snprintf(dir, sizeof(dir), "%s", data && data[0] ? data : "data");
    }
    if (mkdir(dir, 0750) != 0 && access(dir, W_OK) != 0)
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "cannot use '%s' for the job store (set ITX_DATABASE_URL or "
                            "ITX_DATA_DIR)",
                            dir);
    if ((size_t)snprintf(out, out_size, "sqlite:%s/itx-jobs.db", dir) >= out_size)
        return itx_diag_set(d, ITX_ERR_INVALID, "the job store path '%s' is too long", dir);
    return ITX_OK;
}

enum itx_status
itx_cli_jobs_url(const char *files_dir, char *out, size_t out_size, struct itx_diag *d)
{
    const char *env = getenv("ITX_DATABASE_URL");

    if (!env || !env[0])
        return default_url(files_dir, out, out_size, d);
    if (strncmp(env, "sqlite:", 7) != 0 && strncmp(env, "postgres://", 11) != 0 &&
        strncmp(env, "postgresql://", 13) != 0) {
        char shown[512];
        itx_cli_redact_url(env, shown, sizeof(shown));
        return itx_diag_set(d, ITX_ERR_INVALID,
                            "ITX_DATABASE_URL '%.200s' is neither sqlite:PATH nor "
                            "postgres://user@host:port/db",
                            shown);
    }
    if (strlen(env) >= out_size)
        return itx_diag_set(d, ITX_ERR_INVALID, "ITX_DATABASE_URL is over %zu bytes", out_size - 1);
    snprintf(out, out_size, "%s", env);
    return ITX_OK;
}
