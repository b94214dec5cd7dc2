/* Fetch settings from text and from the environment. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "fetch/fetch.h"

#define MAX_ALLOW 64

void
itx_fetch_allow_list_release(struct itx_fetch_allow_list *l)
{
    if (!l)
        return;
    itx_free(l->buf);
    itx_free(l->hosts);
    memset(l, 0, sizeof *l);
}

static bool
valid_host(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '-' ||
        strstr(h, "..") != NULL)
        return false;
    for (const char *p = h; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
            return false;
    }
    return true;
}

enum itx_status
itx_fetch_allow_list_parse(struct itx_fetch_allow_list *l, const char *csv, struct itx_diag *d)
{
    char *save = NULL, *tok;

    memset(l, 0, sizeof *l);
    if (!csv)
        return ITX_OK;
    l->buf = itx_strdup(csv);
    l->hosts = itx_calloc(MAX_ALLOW, sizeof *l->hosts);
    if (!l->buf || !l->hosts)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    for (tok = strtok_r(l->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (!*tok)
            continue;
        for (char *p = tok; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!valid_host(tok[0] == '*' && tok[1] == '.' ? tok + 2 : tok))
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "fetch allow-list entry '%.100s' is not a host name or "
                                "'*.' and a host name",
                                tok);
        if (l->n_hosts == MAX_ALLOW)
            return itx_diag_set(d, ITX_ERR_INVALID, "fetch allow-list has over %d entries",
                                MAX_ALLOW);
        l->hosts[l->n_hosts++] = tok;
    }
    return ITX_OK;
}

static enum itx_status
env_long(const char *name, long def, long min, long max, long *out, struct itx_diag *d)
{
    long long v;
    enum itx_status st = itx_env_int(name, def, min, max, &v, d);

    if (!st)
        *out = (long)v;
    return st;
}

enum itx_status
itx_fetch_opts_from_env(struct itx_fetch_opts *o, struct itx_fetch_allow_list *l,
                        struct itx_diag *d)
{
    long v;
    enum itx_status st;
    const char *rw;

    itx_fetch_opts_init(o);
    memset(l, 0, sizeof *l);
    if ((st = env_long("ITX_FETCH_MAX_BYTES", (long)o->max_bytes, 1, 1L << 30, &v, d)))
        return st;
    o->max_bytes = (size_t)v;
    if ((st = env_long("ITX_FETCH_CONNECT_MS", o->connect_timeout_ms, 100, 60000,
                       &o->connect_timeout_ms, d)))
        return st;
    if ((st = env_long("ITX_FETCH_TOTAL_MS", o->total_timeout_ms, 100, 600000, &o->total_timeout_ms,
                       d)))
        return st;
    if ((st = env_long("ITX_FETCH_MAX_RETRIES", o->max_retries, 0, 10, &v, d)))
        return st;
    o->max_retries = (int)v;
    if ((st = env_long("ITX_FETCH_MAX_REDIRECTS", o->max_redirects, 0, 10, &v, d)))
        return st;
    o->max_redirects = (int)v;
    rw = getenv("ITX_FETCH_REWRITE_ALICDN");
    if (rw && *rw) {
        if (strcmp(rw, "0") != 0 && strcmp(rw, "1") != 0)
            return itx_diag_set(d, ITX_ERR_INVALID,
                                "ITX_FETCH_REWRITE_ALICDN must be 0 or 1, not '%.40s'", rw);
        o->rewrite_alicdn_thumbnails = rw[0] == '1';
    }
    st = itx_fetch_allow_list_parse(l, getenv("ITX_FETCH_ALLOW_HOSTS"), d);
    if (st) {
        itx_diag_prefix(d, "ITX_FETCH_ALLOW_HOSTS");
        return st;
    }
    o->allow_hosts = l->hosts;
    o->n_allow_hosts = l->n_hosts;
    return ITX_OK;
}
