/*
 * The local backend. Names are validated before they get here (no "..", no leading '.',
 * no empty components), and every path step is opened with O_NOFOLLOW relative to the
 * store's directory descriptor, so neither a crafted name nor a symlink planted inside the
 * directory can lead outside it.
 *
 * A put writes "<dir>/.tmp/.tmp-<pid>-<n>", fsyncs it, renames it into place with
 * RENAME_NOREPLACE (create-only), then fsyncs the target's directory. On any failure the
 * temporary file is removed, so a full disk leaves no partial object behind. A process killed
 * mid-put (kill -9, OOM) cannot remove its file; keeping them all in one directory lets the
 * next open of the store remove those older than ITX_STORE_TMP_STALE_S (no put takes that
 * long, and younger ones may belong to another process sharing the directory). Names never
 * start with '.', so ".tmp" can never be an object.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/store-impl.h"

static atomic_ulong tmp_counter;

/* A temporary file older than this is a leftover of a killed process. */
#define ITX_STORE_TMP_STALE_S (15 * 60)

static enum itx_status
io_error(struct itx_diag *d, int err, const char *what, const char *key)
{
    if (err == ENOSPC || err == EDQUOT)
        return itx_diag_set(d, ITX_ERR_IO, "cannot %s '%s': %s (the store directory is full)", what,
                            key, strerror(err));
    if (err == EFBIG)
        return itx_diag_set(d, ITX_ERR_IO, "cannot %s '%s': %s (over the process file-size limit)",
                            what, key, strerror(err));
    if (err == ENOENT)
        return itx_diag_set(d, ITX_ERR_NOT_FOUND, "object '%s' does not exist", key);
    return itx_diag_set(d, ITX_ERR_IO, "cannot %s '%s': %s", what, key, strerror(err));
}

/* Opens (creating when asked) the directory holding key; *base points at the last
 * component of key. Returns a descriptor or -1 with errno set. */
static int
open_parent(const struct itx_store *s, const char *key, bool create, const char **base)
{
    char comp[ITX_STORE_NAME_MAX + 1];
    const char *p = key, *slash;
    int fd = dup(s->dir_fd);

    while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
        size_t n = (size_t)(slash - p);
        int next;

        memcpy(comp, p, n);
        comp[n] = '\0';
        if (create && mkdirat(fd, comp, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        {
            int e = errno;
            close(fd);
            errno = e;
        }
        fd = next;
        p = slash + 1;
    }
    *base = p;
    return fd;
}

static enum itx_status
local_put(struct itx_store *s, const char *key, const void *data, size_t len,
          const char *content_type, struct itx_diag *d)
{
    const char *base;
    char tmp[64];
    int dfd, fd = -1, err = 0;
    const char *stage = "write";
    const char *p = data;
    size_t left = len;
    enum itx_status st = ITX_OK;

    (void)content_type; /* the server derives it from the extension */
    dfd = open_parent(s, key, true, &base);
    if (dfd < 0)
        return io_error(d, errno, "create the directory of", key);
    snprintf(tmp, sizeof tmp, ".tmp-%ld-%lu", (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1) + 1);
    fd = openat(s->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = io_error(d, errno, "create a temporary file for", key);
        close(dfd);
        return st;
    }
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    stage = "flush";
    if (fsync(fd) != 0) {
        err = errno;
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = errno;
        goto fail;
    }
    fd = -1;
    stage = "rename into place";
    if (renameat2(s->tmp_fd, tmp, dfd, base, RENAME_NOREPLACE) != 0) {
        err = errno;
        if (err == EINVAL || err == ENOSYS) {
            /* File systems without RENAME_NOREPLACE: link(2) is create-only too. */
            if (linkat(s->tmp_fd, tmp, dfd, base, 0) == 0) {
                unlinkat(s->tmp_fd, tmp, 0);
                err = 0;
            } else {
                err = errno;
            }
        }
        if (err == EEXIST) {
            unlinkat(s->tmp_fd, tmp, 0);
            close(dfd);
            return itx_diag_set(d, ITX_ERR_CONFLICT, "object '%s' already exists", key);
        }
        if (err)
            goto fail;
    }
    /* Make the new directory entry durable. */
    if (fsync(dfd) != 0 && errno != EINVAL) {
        st = io_error(d, errno, "flush the directory of", key);
        close(dfd);
        return st;
    }
    close(dfd);
    return ITX_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(s->tmp_fd, tmp, 0);
    close(dfd);
    st = io_error(d, err, stage, key);
    itx_diag_prefix(d, "local store (%zu bytes)", len);
    return st;
}

static int
open_object(const struct itx_store *s, const char *key, struct stat *stbuf)
{
    const char *base;
    int dfd = open_parent(s, key, false, &base), fd, e;

    if (dfd < 0)
        return -1;
    fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    e = errno;
    close(dfd);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    if (fstat(fd, stbuf) != 0 || !S_ISREG(stbuf->st_mode)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

static enum itx_status
local_head(struct itx_store *s, const char *key, bool *exists, size_t *size, struct itx_diag *d)
{
    struct stat stbuf;
    int fd = open_object(s, key, &stbuf);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            *exists = false;
            if (size)
                *size = 0;
            return ITX_OK;
        }
        return io_error(d, errno, "look up", key);
    }
    close(fd);
    *exists = true;
    if (size)
        *size = (size_t)stbuf.st_size;
    return ITX_OK;
}

static enum itx_status
local_get(struct itx_store *s, const char *key, uint8_t **data, size_t *len, struct itx_diag *d)
{
    struct stat stbuf;
    int fd = open_object(s, key, &stbuf);
    uint8_t *buf;
    size_t n, got = 0;

    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            errno = ENOENT;
        return io_error(d, errno, "read", key);
    }
    n = (size_t)stbuf.st_size;
    if (n > s->cfg.max_object_size) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_TOO_LARGE,
                            "object '%s' is %zu bytes, over the %zu-byte store limit", key, n,
                            s->cfg.max_object_size);
    }
    buf = itx_malloc(n + 1);
    if (!buf) {
        close(fd);
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading '%s'", key);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            itx_free(buf);
            close(fd);
            return io_error(d, e, "read", key);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return ITX_OK;
}

static enum itx_status
local_url(struct itx_store *s, const char *key, long ttl_s, long long now, char **url,
          struct itx_diag *d)
{
    const char *base = s->public_base_url ? s->public_base_url : "/files/";
    size_t bl = strlen(base), kl = strlen(key);
    char *u = itx_malloc(bl + kl + 2);

    (void)ttl_s;
    (void)now;
    if (!u)
        return itx_diag_set(d, ITX_ERR_NOMEM, "out of memory");
    memcpy(u, base, bl);
    if (!bl || base[bl - 1] != '/')
        u[bl++] = '/';
    memcpy(u + bl, key, kl + 1);
    *url = u;
    return ITX_OK;
}

static void
local_release(struct itx_store *s)
{
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    s->dir_fd = -1;
    if (s->tmp_fd >= 0)
        close(s->tmp_fd);
    s->tmp_fd = -1;
}

static const struct store_ops local_ops = {
    local_put, local_head, local_get, local_url, local_release,
};

/* Removes the temporary files older than ITX_STORE_TMP_STALE_S from <dir>/.tmp; returns how
 * many. Only regular files named ".tmp-*" are touched. */
static unsigned
sweep_stale(int tmp_fd)
{
    int fd = dup(tmp_fd);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    time_t now = time(NULL);
    unsigned n = 0;

    if (!dh) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((e = readdir(dh)) != NULL) {
        struct stat st;
        if (strncmp(e->d_name, ".tmp-", 5) != 0)
            continue;
        if (fstatat(tmp_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (now - st.st_mtime > ITX_STORE_TMP_STALE_S && unlinkat(tmp_fd, e->d_name, 0) == 0)
            n++;
    }
    closedir(dh);
    return n;
}

/* mkdir -p for the store directory itself (an operator setting, not user input). */
static int
mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            buf[i] = c;
        }
    }
    return 0;
}

enum itx_status
store_local_open(struct itx_store *s, struct itx_diag *d)
{
    s->ops = &local_ops;
    if (!s->dir || !*s->dir)
        return itx_diag_set(d, ITX_ERR_INVALID, "local store needs a directory (ITX_STORE_DIR)");
    if (mkdir_p(s->dir) != 0)
        return itx_diag_set(d, ITX_ERR_IO, "cannot create store directory '%s': %s", s->dir,
                            strerror(errno));
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0)
        return itx_diag_set(d, ITX_ERR_IO, "cannot open store directory '%s': %s", s->dir,
                            strerror(errno));
    if (mkdirat(s->dir_fd, ".tmp", 0755) != 0 && errno != EEXIST)
        return itx_diag_set(d, ITX_ERR_IO, "cannot create '%s/.tmp': %s", s->dir, strerror(errno));
    s->tmp_fd = openat(s->dir_fd, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->tmp_fd < 0)
        return itx_diag_set(d, ITX_ERR_IO,
                            "cannot open '%s/.tmp' (a directory for unfinished writes): %s", s->dir,
                            strerror(errno));
    {
        unsigned n = sweep_stale(s->tmp_fd);
        if (n)
            itx_log(ITX_LOG_NOTICE, NULL, NULL,
                    "local store: removed %u temporary files left by interrupted writes", n);
    }
    return ITX_OK;
}
