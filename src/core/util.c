#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

enum itx_status
itx_file_read(const char *path, size_t max, uint8_t **data, size_t *len, struct itx_diag *d)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    enum itx_status s = ITX_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return itx_diag_set(d, errno == ENOENT ? ITX_ERR_NOT_FOUND : ITX_ERR_IO,
                            "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = itx_diag_set(d, ITX_ERR_IO, "cannot read '%s': not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        s = itx_diag_set(d, ITX_ERR_TOO_LARGE, "file '%s' is %lld bytes, over the %zu-byte limit",
                         path, (long long)st.st_size, max);
        goto out;
    }
    buf = itx_malloc((size_t)st.st_size + 1);
    if (!buf) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            s = itx_diag_set(d, ITX_ERR_IO, "cannot read '%s': %s", path,
                             r < 0 ? strerror(errno) : "file shrank while reading");
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = 0;
    *data = buf;
    *len = got;
    buf = NULL;
out:
    itx_free(buf);
    close(fd);
    return s;
}

static void
to_hex(const unsigned char *md, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}

void
itx_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, out);
}

enum itx_status
itx_sha256_file(const char *path, char out[65], struct itx_diag *d)
{
    unsigned char md[32], chunk[65536];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = NULL;
    enum itx_status s = ITX_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return itx_diag_set(d, errno == ENOENT ? ITX_ERR_NOT_FOUND : ITX_ERR_IO,
                            "cannot open '%s': %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        s = itx_diag_set(d, ITX_ERR_NOMEM, "cannot hash '%s'", path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s = itx_diag_set(d, ITX_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(ctx, chunk, (size_t)r);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    to_hex(md, out);
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return s;
}

uint64_t
itx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double
itx_now_ms(void)
{
    return (double)itx_now_ns() / 1e6;
}

int
itx_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts;

    if (ms < 0)
        ms = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(cv, mu, &ts);
}

bool
itx_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

enum itx_status
itx_env_int(const char *name, long long def, long long min, long long max, long long *out,
            struct itx_diag *d)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        *out = def;
        return ITX_OK;
    }
    if (!itx_parse_int(s, min, max, out))
        return itx_diag_set(d, ITX_ERR_INVALID, "%s='%s' is not an integer in [%lld, %lld]",
                            name, s, min, max);
    return ITX_OK;
}

const char *
itx_models_dir(void)
{
    const char *s = getenv("ITX_MODELS_DIR");
    if (s && *s)
        return s;
#ifdef ITX_DEFAULT_MODELS_DIR
    if (access(ITX_DEFAULT_MODELS_DIR, R_OK) == 0)
        return ITX_DEFAULT_MODELS_DIR;
#endif
    return "models";
}
