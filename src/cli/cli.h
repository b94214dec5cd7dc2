/*
 * The itx command line: one binary, sub-commands in a table (main.c). Each sub-command is
 * a function taking argc/argv (argv[0] is the sub-command's name) and returning the
 * process exit status: 0 success, 1 the work failed, 2 bad usage.
 */
#ifndef ITX_CLI_CLI_H
#define ITX_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct itx_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Sub-commands; add one line here and one to the table in main.c. */
int itx_cli_version(int argc, char **argv);
int itx_cli_models(int argc, char **argv);
int itx_cli_doctor(int argc, char **argv);
int itx_cli_nn(int argc, char **argv);
int itx_cli_ocr(int argc, char **argv);
int itx_cli_translate_text(int argc, char **argv);
int itx_cli_translate(int argc, char **argv);
int itx_cli_render(int argc, char **argv);
int itx_cli_serve(int argc, char **argv);
int itx_cli_batch(int argc, char **argv);

/* itx serve's POST /v1/render (serve-web.c): sets p->render and p->render_ud, frees its
 * state through itx_server_add_cleanup; on allocation failure the route stays off. */
struct itx_server;
struct itx_server_pipeline;
struct itx_store;
void itx_cli_serve_web_plug(struct itx_server_pipeline *p, struct itx_server *srv,
                            struct itx_store *store);

/* models.c: the model files of scripts/models.sha256 (compiled in) and the state of one of
 * them in dir. path gets the file's path, hex its SHA-256 when it could be read, d the reason
 * when it could not; *name and *expected are the manifest's name and SHA-256. */
enum itx_cli_model_state {
    ITX_CLI_MODEL_OK,
    ITX_CLI_MODEL_MISSING,
    ITX_CLI_MODEL_UNREADABLE,
    ITX_CLI_MODEL_WRONG,
};
struct itx_diag;
size_t itx_cli_model_count(void);
enum itx_cli_model_state itx_cli_model_check(const char *dir, size_t i, char *path,
                                             size_t path_size, char hex[65], const char **name,
                                             const char **expected, struct itx_diag *d);

/* engine.c: hex SHA-256 over the sources and data that decide what itx makes of a picture
 * (cmake/engine-hash.cmake). Result keys include it, so a build whose code or data differ
 * never answers from results an older build stored. */
const char *itx_cli_engine(void);

/* common.c: the job store's URL as itx serve opens it: ITX_DATABASE_URL (checked), else
 * "sqlite:<dir>/itx-jobs.db" next to the local store's directory files_dir (never inside it,
 * it is served at /files/), or in ITX_DATA_DIR ("data") when files_dir is NULL or "" (the
 * store is not local); that directory is created when missing. */
enum itx_status itx_cli_jobs_url(const char *files_dir, char *out, size_t out_size,
                                 struct itx_diag *d);

/* common.c: url for logs and messages, any password replaced by "***" ("user:pw@",
 * "password=pw"). */
void itx_cli_redact_url(const char *url, char *out, size_t out_size);

/* Returns true when argv has -h or --help anywhere before "--". */
int itx_cli_wants_help(int argc, char **argv);

/* common.c: the picture options itx translate and itx batch share. */
struct itx_pipeline_opts;
struct itx_glossary;
struct itx_cli_picture_opts {
    struct itx_pipeline_opts *o; /* --to, --format, --quality, --min-score, --no-qa */
    const char *glossary;        /* --glossary FILE */
    const char *models_dir;      /* --models DIR */
};
/* Takes argv[*i] when it is one of those options (and *i past its value): 1; 0 when it is not
 * one of them or its value is missing; -1 after printing "itx CMD: --opt 'value': want ...". */
int itx_cli_picture_option(const char *cmd, int argc, char **argv, int *i,
                           struct itx_cli_picture_opts *po);
/* Loads a glossary file into a new *out; false after printing "itx CMD: <why>" (*out may then
 * be set, to free). */
bool itx_cli_glossary_load(const char *cmd, const char *path, struct itx_glossary **out);

#endif
