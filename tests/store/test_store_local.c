/*
 * The local backend and the store front end: name rules, cache keys, create-only puts,
 * symlinks planted in the directory, and a full disk (a 64 KiB tmpfs when this runs as
 * root and may mount; RLIMIT_FSIZE otherwise, and always as well) -> a clear error and no
 * file left behind, neither under the name nor as a temporary.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "store/store.h"

static void
test_names(void)
{
    static const char *const good[] = {"a", "a.png", "ab/cd/ef.png", "x-y_z.0/1",
                                       "0123456789abcdef/final.webp"};
    static const char *const bad[] = {"",       "/abs",   "a//b",  "a/",      "..",
                                      "../etc", "a/../b", "a/./b", ".hidden", "a/.tmp-1",
                                      "a b",    "a\\b",   "a%2fb", "é.png",   "a\n"};
    struct itx_diag d;
    char longname[600];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(itx_store_name_check(good[i], NULL) == ITX_OK, "'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(itx_store_name_check(bad[i], NULL) == ITX_ERR_INVALID, "'%s' accepted", bad[i]);
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    itx_diag_init(&d);
    CHECK(itx_store_name_check(longname, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "512-byte limit") != NULL);
}

static void
test_cache_key(void)
{
    struct itx_store_setting a[] = {{"target_lang", "en"}, {"font", "Noto Sans"}, {"v", "3"}};
    struct itx_store_setting b[] = {{"v", "3"}, {"target_lang", "en"}, {"font", "Noto Sans"}};
    struct itx_store_setting c[] = {{"target_lang", "de"}, {"font", "Noto Sans"}, {"v", "3"}};
    /* Length prefixes: moving bytes between key and value changes the key. */
    struct itx_store_setting e1[] = {{"ab", "c"}};
    struct itx_store_setting e2[] = {{"a", "bc"}};
    struct itx_store_setting dup[] = {{"v", "1"}, {"v", "2"}};
    char k1[65], k2[65], k3[65], k4[65], k5[65], k6[65];
    struct itx_diag d;

    itx_diag_init(&d);
    CHECK(itx_store_cache_key("pixels", 6, a, 3, k1, &d) == ITX_OK);
    CHECK(itx_store_cache_key("pixels", 6, b, 3, k2, &d) == ITX_OK);
    CHECK_STR(k1, k2); /* order of settings does not matter */
    CHECK(itx_store_cache_key("pixels", 6, c, 3, k3, &d) == ITX_OK);
    CHECK(strcmp(k1, k3) != 0);
    CHECK(itx_store_cache_key("pixelz", 6, a, 3, k4, &d) == ITX_OK);
    CHECK(strcmp(k1, k4) != 0);
    CHECK(itx_store_cache_key("x", 1, e1, 1, k5, &d) == ITX_OK);
    CHECK(itx_store_cache_key("x", 1, e2, 1, k6, &d) == ITX_OK);
    CHECK(strcmp(k5, k6) != 0);
    CHECK_INT(strlen(k1), 64);
    CHECK(itx_store_name_check(k1, NULL) == ITX_OK);
    CHECK(itx_store_cache_key("x", 1, dup, 2, k5, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "'v' given twice") != NULL);
    /* A fixed input gives a fixed key: the cache survives restarts and versions. */
    CHECK(itx_store_cache_key("", 0, NULL, 0, k6, &d) == ITX_OK);
    CHECK_STR(k6, "0ecdcd4bd44231dd6893cf1daa7b82b0e17c989725ce47f0ac4139e5f03fb0df");
    {
        char name[200], tiny[10];
        CHECK(itx_store_cache_name(k6, "final.png", name, sizeof name, &d) == ITX_OK);
        CHECK_STR(name, "0e/0ecdcd4bd44231dd6893cf1daa7b82b0e17c989725ce47f0ac4139e5f03fb0df/"
                        "final.png");
        CHECK(itx_store_name_check(name, NULL) == ITX_OK);
        CHECK(itx_store_cache_name("0ECD", "final.png", name, sizeof name, &d) == ITX_ERR_INVALID);
        CHECK(itx_store_cache_name(k6, "../x", name, sizeof name, &d) == ITX_ERR_INVALID);
        CHECK(itx_store_cache_name(k6, "a/b", name, sizeof name, &d) == ITX_ERR_INVALID);
        CHECK(itx_store_cache_name(k6, "x", tiny, sizeof tiny, &d) == ITX_ERR_INVALID);
    }
}

static int
count_entries(const char *dir, const char *prefix)
{
    DIR *dh = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!dh)
        return -1;
    while ((e = readdir(dh)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    }
    closedir(dh);
    return n;
}

static int
put_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, len, f);
    return fclose(f);
}

/* Temporary files in the store's <dir>/.tmp (-1 when that directory is missing). */
static int
tmp_left(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/.tmp", dir);
    return count_entries(path, ".tmp-");
}

static struct itx_store *
open_local(const char *dir)
{
    struct itx_store_config c;
    struct itx_store *s = NULL;
    struct itx_diag d;

    itx_store_config_init(&c);
    c.dir = dir;
    itx_diag_init(&d);
    if (itx_store_open(&c, &s, &d) != ITX_OK)
        fprintf(stderr, "open: %s\n", d.msg);
    return s;
}

static void
test_local_basics(const char *root)
{
    char dir[512], path[700];
    struct itx_store *s;
    struct itx_diag d;
    uint8_t *data = NULL;
    size_t len = 0, size = 0;
    bool exists = true;
    char *url = NULL;

    snprintf(dir, sizeof dir, "%s/files", root);
    s = open_local(dir);
    CHECK(s != NULL);
    if (!s)
        return;
    itx_diag_init(&d);
    CHECK(itx_store_head(s, "ab/cd/x.png", &exists, &size, &d) == ITX_OK);
    CHECK(!exists);
    CHECK(itx_store_put(s, "ab/cd/x.png", "hello", 5, "image/png", &d) == ITX_OK);
    CHECK(itx_store_head(s, "ab/cd/x.png", &exists, &size, &d) == ITX_OK);
    CHECK(exists);
    CHECK_INT(size, 5);
    CHECK(itx_store_get(s, "ab/cd/x.png", &data, &len, &d) == ITX_OK);
    CHECK(len == 5 && data && memcmp(data, "hello", 5) == 0);
    itx_free(data);
    snprintf(path, sizeof path, "%s/ab/cd/x.png", dir);
    CHECK(access(path, F_OK) == 0);
    /* create-only */
    CHECK(itx_store_put(s, "ab/cd/x.png", "other", 5, "image/png", &d) == ITX_ERR_CONFLICT);
    CHECK(strstr(d.msg, "already exists") != NULL);
    CHECK(itx_store_get(s, "ab/cd/x.png", &data, &len, &d) == ITX_OK);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0);
    itx_free(data);
    snprintf(path, sizeof path, "%s/ab/cd", dir);
    CHECK_INT(tmp_left(dir), 0);
    /* empty object */
    CHECK(itx_store_put(s, "empty", "", 0, NULL, &d) == ITX_OK);
    CHECK(itx_store_get(s, "empty", &data, &len, &d) == ITX_OK);
    CHECK_INT(len, 0);
    itx_free(data);
    CHECK(itx_store_get(s, "nothing.png", &data, &len, &d) == ITX_ERR_NOT_FOUND);
    CHECK(strstr(d.msg, "'nothing.png'") != NULL);
    /* traversal never reaches the backend */
    CHECK(itx_store_put(s, "../escape.png", "x", 1, NULL, &d) == ITX_ERR_INVALID);
    CHECK(itx_store_get(s, "ab/../../etc/passwd", &data, &len, &d) == ITX_ERR_INVALID);
    snprintf(path, sizeof path, "%s/escape.png", root);
    CHECK(access(path, F_OK) != 0);
    /* URL under /files/ */
    CHECK(itx_store_url(s, "ab/cd/x.png", 0, 0, &url, &d) == ITX_OK);
    CHECK_STR(url ? url : "", "/files/ab/cd/x.png");
    itx_free(url);

    /* A symlink planted in the store (dir or file) is not followed. */
    snprintf(path, sizeof path, "%s/link", dir);
    CHECK(symlink(root, path) == 0);
    CHECK(itx_store_put(s, "link/planted.png", "x", 1, NULL, &d) != ITX_OK);
    snprintf(path, sizeof path, "%s/planted.png", root);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/secret", root);
    {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs("secret", f);
            fclose(f);
        }
    }
    {
        char lnk[700];
        snprintf(lnk, sizeof lnk, "%s/filelink", dir);
        CHECK(symlink(path, lnk) == 0);
    }
    CHECK(itx_store_get(s, "filelink", &data, &len, &d) == ITX_ERR_NOT_FOUND);
    itx_store_free(s);
}

/* Fills a store until a put fails; checks the error and that nothing partial remains. */
static void
fill_until_full(struct itx_store *s, const char *dir, size_t chunk, const char *what)
{
    char *buf = malloc(chunk);
    struct itx_diag d;
    enum itx_status st = ITX_OK;
    int i, n_files;
    char name[64], path[700];

    if (!buf)
        return;
    memset(buf, 'x', chunk);
    itx_diag_init(&d);
    for (i = 0; i < 1000 && st == ITX_OK; i++) {
        snprintf(name, sizeof name, "full/obj-%d.bin", i);
        st = itx_store_put(s, name, buf, chunk, "application/octet-stream", &d);
    }
    CHECK_MSG(st == ITX_ERR_IO, "%s: %s", what, d.msg);
    CHECK_MSG(strstr(d.msg, "full") && strstr(d.msg, name), "%s: %s", what, d.msg);
    printf("%s: put %d failed as expected: %s\n", what, i - 1, d.msg);
    /* The failed object does not exist under its name, and no temporary is left. */
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_MSG(access(path, F_OK) != 0, "%s: half-written '%s' left", what, path);
    snprintf(path, sizeof path, "%s/full", dir);
    CHECK_INT(tmp_left(dir), 0);
    n_files = count_entries(path, "obj-");
    CHECK_INT(n_files, i - 1);
    /* Earlier objects are intact. */
    {
        uint8_t *data = NULL;
        size_t len = 0;
        if (i > 1) {
            CHECK(itx_store_get(s, "full/obj-0.bin", &data, &len, &d) == ITX_OK);
            CHECK_INT(len, chunk);
            itx_free(data);
        }
    }
    free(buf);
}

static void
test_full_disk_tmpfs(const char *root)
{
    char mnt[512];
    struct itx_store *s;

    snprintf(mnt, sizeof mnt, "%s/tmpfs", root);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        printf("tmpfs full-disk test skipped: mount: %s (RLIMIT_FSIZE test still runs)\n",
               strerror(errno));
        return;
    }
    s = open_local(mnt);
    CHECK(s != NULL);
    if (s) {
        fill_until_full(s, mnt, 10000, "tmpfs 64k");
        itx_store_free(s);
    }
    umount2(mnt, MNT_DETACH);
}

static void
test_full_disk_rlimit(const char *root)
{
    char dir[512];
    struct rlimit old, lim;
    struct itx_store *s;

    snprintf(dir, sizeof dir, "%s/rlimit", root);
    s = open_local(dir);
    CHECK(s != NULL);
    if (!s)
        return;
    /* Files may grow to 25000 bytes: the third 10000-byte object fails part-way. */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 25000;
    setrlimit(RLIMIT_FSIZE, &lim);
    {
        /* One object of 30000 bytes: write fails with EFBIG after 25000 bytes. */
        struct itx_diag d;
        char *buf = calloc(1, 30000), path[700];
        itx_diag_init(&d);
        CHECK(itx_store_put(s, "full/big.bin", buf, 30000, NULL, &d) == ITX_ERR_IO);
        CHECK_MSG(strstr(d.msg, "File too large") && strstr(d.msg, "30000 bytes"), "%s", d.msg);
        printf("RLIMIT_FSIZE: %s\n", d.msg);
        snprintf(path, sizeof path, "%s/full/big.bin", dir);
        CHECK(access(path, F_OK) != 0);
        snprintf(path, sizeof path, "%s/full", dir);
        CHECK_INT(tmp_left(dir), 0);
        CHECK(itx_store_put(s, "full/small.bin", buf, 20000, NULL, &d) == ITX_OK);
        free(buf);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    itx_store_free(s);
}

struct race {
    struct itx_store *s;
    int id;
    enum itx_status st;
};

static void *
race_put(void *arg)
{
    struct race *r = arg;
    char body[4096];

    /* Each thread writes different bytes under the same name. */
    memset(body, 'a' + r->id, sizeof body);
    r->st = itx_store_put(r->s, "race/same.bin", body, sizeof body, NULL, NULL);
    return NULL;
}

/* Create-only under contention: exactly one writer wins, the object is whole. */
static void
test_local_race(const char *root)
{
    char dir[512], path[700];
    struct itx_store *s;
    struct race r[8];
    pthread_t th[8];
    int ok = 0, conflict = 0;
    uint8_t *data = NULL;
    size_t len = 0;

    snprintf(dir, sizeof dir, "%s/race", root);
    s = open_local(dir);
    CHECK(s != NULL);
    if (!s)
        return;
    for (int i = 0; i < 8; i++) {
        r[i] = (struct race){s, i, ITX_OK};
        pthread_create(&th[i], NULL, race_put, &r[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].st == ITX_OK;
        conflict += r[i].st == ITX_ERR_CONFLICT;
    }
    CHECK_INT(ok, 1);
    CHECK_INT(conflict, 7);
    CHECK(itx_store_get(s, "race/same.bin", &data, &len, NULL) == ITX_OK);
    CHECK_INT(len, 4096);
    if (data && len == 4096) {
        bool uniform = true;
        for (size_t i = 1; i < len; i++)
            uniform = uniform && data[i] == data[0];
        CHECK(uniform);
    }
    itx_free(data);
    snprintf(path, sizeof path, "%s/race", dir);
    CHECK_INT(tmp_left(dir), 0);
    itx_store_free(s);
}

/* A process killed mid-put leaves its temporary file; the next open removes those older
 * than 15 minutes and keeps younger ones (another process may be writing them). */
static void
test_local_stale_tmp(const char *root)
{
    char dir[512], path[700];
    struct itx_store *s;
    struct itx_store_config c;
    struct itx_diag d;
    struct timespec old[2];

    snprintf(dir, sizeof dir, "%s/stale", root);
    s = open_local(dir);
    CHECK(s != NULL);
    itx_store_free(s);
    snprintf(path, sizeof path, "%s/.tmp/.tmp-999999-1", dir);
    CHECK(put_file(path, "half", 4) == 0);
    clock_gettime(CLOCK_REALTIME, &old[0]);
    old[0].tv_sec -= 3600;
    old[1] = old[0];
    CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
    snprintf(path, sizeof path, "%s/.tmp/.tmp-999999-2", dir);
    CHECK(put_file(path, "busy", 4) == 0);
    snprintf(path, sizeof path, "%s/.tmp/not-a-temp", dir);
    CHECK(put_file(path, "other", 5) == 0);
    CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
    CHECK_INT(tmp_left(dir), 2);
    s = open_local(dir);
    CHECK(s != NULL);
    CHECK_INT(tmp_left(dir), 1); /* the hour-old one is gone, the young one stays */
    snprintf(path, sizeof path, "%s/.tmp/.tmp-999999-2", dir);
    CHECK(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/.tmp/not-a-temp", dir);
    CHECK(access(path, F_OK) == 0);
    itx_diag_init(&d);
    CHECK(s && itx_store_put(s, "a/b.png", "x", 1, NULL, &d) == ITX_OK);
    CHECK_INT(tmp_left(dir), 1);
    itx_store_free(s);
    /* A symlink planted as .tmp is not followed: the store does not open. */
    snprintf(dir, sizeof dir, "%s/planted", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/.tmp", dir);
    CHECK(symlink("/tmp", path) == 0);
    itx_store_config_init(&c);
    c.dir = dir;
    s = NULL;
    CHECK(itx_store_open(&c, &s, &d) == ITX_ERR_IO);
    CHECK_MSG(strstr(d.msg, "/.tmp") != NULL, "%s", d.msg);
    itx_store_free(s);
}

static void
test_config_env(void)
{
    struct itx_store_config c;
    struct itx_diag d;

    itx_diag_init(&d);
    setenv("ITX_STORE", "s3", 1);
    setenv("ITX_S3_BUCKET", "b", 1);
    setenv("ITX_S3_PATH_STYLE", "1", 1);
    CHECK(itx_store_config_from_env(&c, &d) == ITX_OK);
    CHECK(c.kind == ITX_STORE_S3 && c.path_style && strcmp(c.bucket, "b") == 0);
    setenv("ITX_STORE", "ftp", 1);
    CHECK(itx_store_config_from_env(&c, &d) == ITX_ERR_INVALID);
    CHECK(strstr(d.msg, "ITX_STORE") != NULL);
    setenv("ITX_STORE", "local", 1);
    setenv("ITX_S3_PATH_STYLE", "yes", 1);
    CHECK(itx_store_config_from_env(&c, &d) == ITX_ERR_INVALID);
    unsetenv("ITX_STORE");
    unsetenv("ITX_S3_BUCKET");
    unsetenv("ITX_S3_PATH_STYLE");
    CHECK(itx_store_config_from_env(&c, &d) == ITX_OK);
    CHECK(c.kind == ITX_STORE_LOCAL);
}

int
main(void)
{
    char root[] = "/tmp/itx-store-XXXXXX", cmd[128];

    test_names();
    test_cache_key();
    test_config_env();
    if (!mkdtemp(root)) {
        CHECK(0);
        return check_summary();
    }
    test_local_basics(root);
    test_local_race(root);
    test_local_stale_tmp(root);
    test_full_disk_tmpfs(root);
    test_full_disk_rlimit(root);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
    return check_summary();
}
