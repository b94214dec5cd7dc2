#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong alloc_count;
static atomic_ulong alloc_fail_n;
static atomic_bool alloc_fail_sticky;
static atomic_bool alloc_fired;

static bool
should_fail(void)
{
    unsigned long n = atomic_load_explicit(&alloc_fail_n, memory_order_relaxed);
    unsigned long c;

    if (n == 0)
        return false;
    c = atomic_fetch_add(&alloc_count, 1) + 1;
    if (c == n || (c > n && atomic_load(&alloc_fail_sticky))) {
        atomic_store(&alloc_fired, true);
        return true;
    }
    return false;
}

unsigned long
itx_alloc_fail_at(unsigned long n, bool sticky)
{
    unsigned long prev = atomic_exchange(&alloc_count, 0);
    atomic_store(&alloc_fail_sticky, sticky);
    atomic_store(&alloc_fired, false);
    atomic_store(&alloc_fail_n, n);
    return prev;
}

bool
itx_alloc_injected(void)
{
    return atomic_load(&alloc_fired);
}

void
itx_alloc_init_from_env(void)
{
    const char *s = getenv("ITX_ALLOC_FAIL_AT");
    if (s && *s) {
        char *end;
        unsigned long n = strtoul(s, &end, 10);
        if (*end == '\0')
            itx_alloc_fail_at(n, getenv("ITX_ALLOC_FAIL_STICKY") != NULL);
    }
}

bool
itx_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool
itx_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}

void *
itx_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *
itx_calloc(size_t n, size_t size)
{
    size_t total;
    if (!itx_mul_size(n, size, &total) || should_fail())
        return NULL;
    return calloc(total ? n : 1, total ? size : 1);
}

void *
itx_realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

void *
itx_realloc_array(void *p, size_t n, size_t size)
{
    size_t total;
    if (!itx_mul_size(n, size, &total))
        return NULL;
    return itx_realloc(p, total);
}

void *
itx_malloc_array(size_t n, size_t size)
{
    size_t total;
    if (!itx_mul_size(n, size, &total))
        return NULL;
    return itx_malloc(total);
}

void
itx_free(void *p)
{
    free(p);
}

char *
itx_strdup(const char *s)
{
    return itx_strndup(s, strlen(s));
}

char *
itx_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *r = itx_malloc(len + 1);
    if (!r)
        return NULL;
    memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

void *
itx_malloc_aligned(size_t size)
{
    size_t rounded;
    if (!itx_add_size(size, 63, &rounded) || should_fail())
        return NULL;
    rounded &= ~(size_t)63;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void *
itx_malloc_align(size_t size, size_t align)
{
    size_t rounded;
    if (!itx_add_size(size, align - 1, &rounded) || should_fail())
        return NULL;
    rounded &= ~(align - 1);
    return aligned_alloc(align, rounded ? rounded : align);
}

void
itx_free_aligned(void *p)
{
    free(p);
}
