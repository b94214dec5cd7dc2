/* The translation cache (src/translate/cache.c): keys, SQLite persistence, threads, counters. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "translate/translate.h"

static struct itx_tr_cache *shared;
static int thread_errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *
worker(void *arg)
{
    int id = (int)(long)arg;
    for (int i = 0; i < 50; i++) {
        char key[65], text[64], *v = NULL;
        struct itx_diag d;
        itx_diag_init(&d);
        snprintf(text, sizeof(text), "%d-%d", id, i);
        itx_tr_cache_key("gemini", "m", "p1", "zh", "en", "g", text, key);
        if (itx_tr_cache_put(shared, key, text, &d) != ITX_OK ||
            itx_tr_cache_get(shared, key, &v, &d) != ITX_OK || strcmp(v, text) != 0) {
            pthread_mutex_lock(&mu);
            thread_errors++;
            pthread_mutex_unlock(&mu);
        }
        itx_free(v);
    }
    return NULL;
}

int
main(void)
{
    char path[] = "/tmp/itx-test-tcache-XXXXXX", wal[64], shm[64];
    char k1[65], k2[65], k3[65], *v = NULL;
    struct itx_tr_cache *c = NULL;
    struct itx_diag d;
    uint64_t hits, misses;
    pthread_t th[4];
    int fd = mkstemp(path);

    close(fd);
    itx_diag_init(&d);
    /* Keys: whitespace is normalised; every other field counts. */
    itx_tr_cache_key("gemini", "m", "p1", "zh", "en", "g1", "  包邮   纯棉 ", k1);
    itx_tr_cache_key("gemini", "m", "p1", "zh", "en", "g1", "包邮 纯棉", k2);
    CHECK_STR(k1, k2);
    itx_tr_cache_key("gemini", "m", "p1", "zh", "en", "g2", "包邮 纯棉", k3);
    CHECK(strcmp(k1, k3) != 0);
    itx_tr_cache_key("openai", "m", "p1", "zh", "en", "g1", "包邮 纯棉", k3);
    CHECK(strcmp(k1, k3) != 0);
    itx_tr_cache_key("gemini", "m", "p1", "zh", "fr", "g1", "包邮 纯棉", k3);
    CHECK(strcmp(k1, k3) != 0);
    itx_tr_cache_key("gemini", "m", "p2", "zh", "en", "g1", "包邮 纯棉", k3);
    CHECK(strcmp(k1, k3) != 0);
    /* Field boundaries are kept: ("ab","c") is not ("a","bc"). */
    itx_tr_cache_key("ab", "c", "p", "zh", "en", "g", "t", k2);
    itx_tr_cache_key("a", "bc", "p", "zh", "en", "g", "t", k3);
    CHECK(strcmp(k2, k3) != 0);

    CHECK_INT(itx_tr_cache_open_sqlite(path, &c, &d), ITX_OK);
    CHECK_INT(itx_tr_cache_get(c, k1, &v, &d), ITX_ERR_NOT_FOUND);
    CHECK_INT(itx_tr_cache_put(c, k1, "Free shipping, 100% cotton", &d), ITX_OK);
    CHECK_INT(itx_tr_cache_get(c, k1, &v, &d), ITX_OK);
    CHECK(v && strcmp(v, "Free shipping, 100% cotton") == 0);
    itx_free(v);
    itx_tr_cache_counters(c, &hits, &misses);
    CHECK_INT(hits, 1);
    CHECK_INT(misses, 1);
    itx_tr_cache_free(c);
    /* It survives a reopen. */
    c = NULL;
    CHECK_INT(itx_tr_cache_open_sqlite(path, &c, &d), ITX_OK);
    v = NULL;
    CHECK_INT(itx_tr_cache_get(c, k1, &v, &d), ITX_OK);
    itx_free(v);
    /* Many threads share one cache. */
    shared = c;
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(thread_errors, 0);
    itx_tr_cache_counters(c, &hits, &misses);
    CHECK_INT(hits, 201);
    itx_tr_cache_free(c);
    itx_tr_cache_free(NULL);
    /* A file that is not a database is refused with SQLite's reason. */
    {
        FILE *f = fopen(path, "wb");
        fputs("this is not a database, just text that is long enough to have a header", f);
        fclose(f);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        snprintf(shm, sizeof(shm), "%s-shm", path);
        remove(wal);
        remove(shm);
        c = NULL;
        CHECK_INT(itx_tr_cache_open_sqlite(path, &c, &d), ITX_ERR_IO);
        CHECK(strstr(d.msg, "cannot open translation cache") != NULL);
    }
    CHECK_INT(itx_tr_cache_open_sqlite("/nonexistent/dir/c.db", &c, &d), ITX_ERR_IO);
    remove(path);
    remove(wal);
    remove(shm);
    return check_summary();
}
