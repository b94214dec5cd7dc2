#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/log.h"

/*
 * LeakSanitizer's default suppressions, used only by sanitizer builds (LSan calls this hook
 * when it exists; other builds never do). The font and codec libraries under libvips, and
 * libgomp, keep caches for the life of the process that LSan reports at exit; they are not
 * leaks of ours, and every test that runs the itx binary under ASan would otherwise need its
 * own suppression file.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\nleak:libpango\nleak:libharfbuzz\nleak:libcairo\n"
           "leak:libglib\nleak:libgobject\nleak:libx265\nleak:libheif\nleak:libdav1d\n"
           "leak:libde265\nleak:libaom\nleak:libgomp\n";
}

static const struct itx_cli_command commands[] = {
    {"batch", "translate a list of pictures (Cloud Run Jobs, cron): --input LIST", itx_cli_batch},
    {"doctor", "check models, dictionary, fonts, storage, job store and provider", itx_cli_doctor},
    {"models", "check the installed OCR models (models verify)", itx_cli_models},
    {"nn", "run an ONNX model on the neural runner (benchmarking, debugging)", itx_cli_nn},
    {"ocr", "read the text lines of pictures (--json for one object per picture)", itx_cli_ocr},
    {"render", "redraw a picture from its background and an edited regions file", itx_cli_render},
    {"serve", "run the HTTP service (itx serve --help lists the settings)", itx_cli_serve},
    {"translate", "translate the text in pictures: IMAGE|URL... -o DIR", itx_cli_translate},
    {"translate-text", "translate texts (dict, gemini or openai)", itx_cli_translate_text},
    {"version", "print the version", itx_cli_version},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: itx <command> [options]\n\n"
               "itx translates the Chinese text inside product pictures.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'itx <command> --help' describes a command.\n");
}

int
itx_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int
itx_cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("itx %s (engine %.12s)\n", ITX_VERSION, itx_cli_engine());
    return 0;
}

int
main(int argc, char **argv)
{
    itx_alloc_init_from_env();
    itx_log_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return itx_cli_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "itx: '%s' is not an itx command; see 'itx --help'\n", argv[1]);
    return 2;
}
