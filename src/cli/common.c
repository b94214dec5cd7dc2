/*
 * What the picture sub-commands (itx translate, itx batch) share: their picture options and
 * loading the --glossary file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
