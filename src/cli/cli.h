/*
 * The itx command line: one binary, sub-commands in a table (main.c). Each sub-command is
 * a function taking argc/argv (argv[0] is the sub-command's name) and returning the
 * process exit status: 0 success, 1 the work failed, 2 bad usage.
 */
#ifndef ITX_CLI_CLI_H
#define ITX_CLI_CLI_H

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

/* Returns true when argv has -h or --help anywhere before "--". */
int itx_cli_wants_help(int argc, char **argv);

#endif
