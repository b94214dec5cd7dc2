/*
 * itx serve: the HTTP service (src/server/, docs/server.md). Settings come from ITX_*
 * variables (and PORT) or flags, all validated before anything starts; the result store
 * from ITX_STORE* (docs/store.md), whose reachability is a readiness check. The translation
 * routes appear once the pipeline plugs into the server; until then /v1/... answers 404.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "server/server.h"
#include "store/store.h"

/* Readiness: the result store answers (a HEAD of a probe name; absent is fine). */
static enum itx_status
store_ready(void *ud, struct itx_diag *d)
{
    bool exists;
    return itx_store_head(ud, "itx-readyz-probe", &exists, NULL, d);
}

static void
usage(FILE *f)
{
    struct itx_buf b;

    itx_buf_init(&b, 1u << 20);
    itx_server_config_help(&b);
    fprintf(f,
            "usage: itx serve [--setting value]...\n\n"
            "Runs the HTTP service: /healthz, /readyz, /metrics, /openapi.json, /files/ (local\n"
            "store) and, with the translation pipeline, /v1/translate and /v1/jobs.\n"
            "Every setting is an environment variable or a flag; a flag wins. A bad value stops\n"
            "start-up with a message naming it. SIGTERM or SIGINT drains and exits 0.\n"
            "The result store is set by ITX_STORE (local|s3|gcs) and friends (docs/store.md);\n"
            "/files/ serves ITX_STORE_DIR only when the store is local.\n\n%s",
            b.data ? b.data : "");
    itx_buf_release(&b);
}

int
itx_cli_serve(int argc, char **argv)
{
    struct itx_server_config cfg;
    struct itx_store_config sc;
    struct itx_store *store = NULL;
    struct itx_server *srv = NULL;
    struct itx_diag d;
    int rc = 1;

    if (itx_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    itx_diag_init(&d);
    itx_server_config_init(&cfg);
    snprintf(cfg.version, sizeof(cfg.version), "%s", ITX_VERSION);
    if (itx_server_config_load(&cfg, argc, argv, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        itx_log_error("bad setting: %s", d.msg);
        return 2;
    }
    if (itx_store_config_from_env(&sc, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        return 2;
    }
    if (sc.kind != ITX_STORE_LOCAL)
        cfg.files_dir[0] = '\0';
    else
        sc.dir = cfg.files_dir; /* --files-dir and ITX_STORE_DIR name the same directory */
    if (itx_store_open(&sc, &store, &d) != ITX_OK) {
        fprintf(stderr, "itx serve: %s\n", d.msg);
        return 2;
    }
    itx_server_block_signals();
    if (itx_server_new(&cfg, &srv, &d) != ITX_OK)
        goto out;
    itx_server_add_ready_check(srv, "storage", store_ready, store);
    if (itx_server_start(srv, &d) != ITX_OK)
        goto out;
    rc = itx_server_wait_for_signal(srv);
out:
    if (rc != 0)
        itx_log_error("itx serve: %s", d.msg);
    itx_server_free(srv);
    itx_store_free(store);
    return rc;
}
