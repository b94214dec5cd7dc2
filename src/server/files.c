/*
 * GET/HEAD /files/<path>: the local store directory.
 *
 * Safety: the path must be components of [A-Za-z0-9._-] that do not start with '.' (so no
 * "..", no hidden or temporary files); the file is reached by opening each directory
 * component with O_NOFOLLOW | O_DIRECTORY relative to the previous one and the file itself
 * with O_NOFOLLOW, so no symlink anywhere below the store root is followed; only regular
 * files are served. Anything else is 404, without saying which rule refused it.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server-impl.h"

#define MAX_DEPTH 16

static bool
valid_component(const char *p, size_t n)
{
    if (n == 0 || n > 255 || p[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static const char *
mime_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".webp", "image/webp"},
        {".gif", "image/gif"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcasecmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

enum itx_status
files_serve(struct itx_server *s, struct MHD_Connection *c, const char *rel,
            struct MHD_Response **resp, unsigned *status, size_t *size, struct itx_diag *d)
{
    int dir = -1, fd = -1;
    const char *p = rel, *last = rel;
    struct stat st;
    char etag[64], lm[64];
    const char *inm;
    struct tm tm;
    struct MHD_Response *r;
    size_t depth = 0;

    dir = open(s->cfg.files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no such file");
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char comp[256];

        if (!valid_component(p, n) || ++depth > MAX_DEPTH)
            goto notfound;
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (!slash) {
            fd = openat(dir, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            last = p;
            break;
        }
        {
            int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            dir = next;
        }
        if (dir < 0)
            goto notfound;
        p = slash + 1;
    }
    close(dir);
    dir = -1;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto notfound;
    /* The store is content-addressed and create-only, so size and mtime identify the bytes. */
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec);
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        *status = 304;
        *size = 0;
    } else {
        r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* takes fd */
        *status = 200;
        *size = (size_t)st.st_size;
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime_type(last));
    }
    if (!r) {
        if (*status == 200)
            close(fd);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=86400");
    *resp = r;
    return ITX_OK;
notfound:
    if (dir >= 0)
        close(dir);
    if (fd >= 0)
        close(fd);
    (void)errno;
    return itx_diag_set(d, ITX_ERR_NOT_FOUND, "no such file");
}
