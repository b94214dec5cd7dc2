/* Server settings: defaults, environment, flags (which win), validation messages, --help. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "server/server.h"

static enum itx_status
load(struct itx_server_config *c, int argc, char **argv, struct itx_diag *d)
{
    itx_server_config_init(c);
    itx_diag_init(d);
    return itx_server_config_load(c, argc, argv, d);
}

static void
bad(const char *env, const char *val, const char *msg)
{
    struct itx_server_config c;
    struct itx_diag d;
    char *argv[] = {"serve", NULL};
    setenv(env, val, 1);
    CHECK_MSG(load(&c, 1, argv, &d) == ITX_ERR_INVALID, "%s=%s accepted", env, val);
    CHECK_MSG(strstr(d.msg, msg) != NULL, "'%s' lacks '%s'", d.msg, msg);
    unsetenv(env);
}

int
main(void)
{
    struct itx_server_config c;
    struct itx_diag d;
    char *none[] = {"serve", NULL};

    unsetenv("PORT");
    CHECK_INT(load(&c, 1, none, &d), ITX_OK);
    CHECK_INT(c.port, 8080);
    CHECK_STR(c.bind, "0.0.0.0");
    CHECK(c.workers >= 1);
    CHECK_INT(c.queue, 2 * c.workers);
    CHECK_INT(c.deadline_ms, 60000);
    CHECK_INT(c.max_json_bytes, 1 << 20);
    CHECK_INT(c.max_upload_bytes, 25 << 20);
    CHECK_INT(c.max_job_images, 100);
    CHECK_INT(c.grace_ms, 8000);
    CHECK_INT(c.n_api_keys, 0);

    setenv("PORT", "9090", 1);
    setenv("ITX_WORKERS", "3", 1);
    setenv("ITX_API_KEYS", "aaaaaaaaaaaaaaaa,,bbbbbbbbbbbbbbbbbbbb,", 1);
    {
        char *argv[] = {"serve", "--workers", "5", "--grace-ms=100", "--bind", "::1", NULL};
        CHECK_INT(load(&c, 6, argv, &d), ITX_OK);
    }
    CHECK_INT(c.port, 9090);
    CHECK_INT(c.workers, 5); /* the flag wins */
    CHECK_INT(c.queue, 10);
    CHECK_INT(c.grace_ms, 100);
    CHECK_STR(c.bind, "::1");
    CHECK_INT(c.n_api_keys, 2);
    CHECK_STR(c.api_keys[1], "bbbbbbbbbbbbbbbbbbbb");
    unsetenv("PORT");
    unsetenv("ITX_WORKERS");
    unsetenv("ITX_API_KEYS");

    bad("ITX_WORKERS", "0", "ITX_WORKERS: '0' is not an integer in 1..256");
    bad("ITX_QUEUE", "-1", "ITX_QUEUE: '-1' is not an integer in 1..100000");
    bad("ITX_DEADLINE_MS", "1e3", "ITX_DEADLINE_MS: '1e3' is not an integer");
    bad("PORT", "http", "PORT: 'http' is not an integer in 0..65535");
    bad("ITX_BIND", "example.com", "ITX_BIND: 'example.com' is not an IPv4 or IPv6");
    bad("ITX_API_KEYS", "tooshort", "API key 1 is 8 characters, valid 16..128");
    bad("ITX_API_KEYS", "aaaaaaaaaaaaaaaa,bbbbbbbb bbbbbbbbb", "API key 2 has a character");
    bad("ITX_MAX_IMAGE_BYTES", "30000000",
        "ITX_MAX_IMAGE_BYTES (30000000) is larger than ITX_MAX_UPLOAD_BYTES");
    {
        /* Messages about keys never echo the key. */
        struct itx_server_config k;
        char *argv[] = {"serve", NULL};
        setenv("ITX_API_KEYS", "secret-key-value", 1);
        setenv("ITX_API_KEYS", "secret-key-value,secret", 1);
        CHECK_INT(load(&k, 1, argv, &d), ITX_ERR_INVALID);
        CHECK(strstr(d.msg, "secret") == NULL);
        unsetenv("ITX_API_KEYS");
    }
    {
        char *argv[] = {"serve", "--wrokers", "2", NULL};
        CHECK_INT(load(&c, 3, argv, &d), ITX_ERR_INVALID);
        CHECK_STR(d.msg, "unknown option '--wrokers'");
    }
    {
        char *argv[] = {"serve", "--port", NULL};
        CHECK_INT(load(&c, 2, argv, &d), ITX_ERR_INVALID);
        CHECK_STR(d.msg, "option '--port' needs a value");
    }
    {
        char *argv[] = {"serve", "--port", "-5", NULL};
        CHECK_INT(load(&c, 3, argv, &d), ITX_ERR_INVALID);
        CHECK_STR(d.msg, "--port: '-5' is not an integer in 0..65535");
    }
    {
        struct itx_buf b;
        static const char *const names[] = {"PORT",
                                            "ITX_BIND",
                                            "ITX_WORKERS",
                                            "ITX_QUEUE",
                                            "ITX_DEADLINE_MS",
                                            "ITX_MAX_JSON_BYTES",
                                            "ITX_MAX_UPLOAD_BYTES",
                                            "ITX_MAX_HEADER_BYTES",
                                            "ITX_MAX_CONNECTIONS",
                                            "ITX_IDLE_TIMEOUT_S",
                                            "ITX_READ_TIMEOUT_MS",
                                            "ITX_GRACE_MS",
                                            "ITX_API_KEYS",
                                            "--grace-ms",
                                            "default 8000",
                                            "default 60000"};
        itx_buf_init(&b, 1 << 16);
        itx_server_config_help(&b);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            CHECK_MSG(strstr(b.data, names[i]) != NULL, "--help lacks %s", names[i]);
        itx_buf_release(&b);
    }
    return check_summary();
}
