/*
 * Allocation wrappers.
 *
 * All heap memory in itx goes through these so that (1) sizes computed from input are
 * overflow-checked in one place and (2) tests can make the N-th allocation fail
 * (itx_alloc_fail_at) to run every error path, as SQLite does. The functions return NULL
 * on failure and never abort; callers turn NULL into ITX_ERR_NOMEM.
 *
 * Thread-safety: all functions are thread-safe. The failure-injection counter is a
 * process-wide atomic meant for single-purpose test drivers.
 */
#ifndef ITX_CORE_ALLOC_H
#define ITX_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *itx_malloc(size_t size);
void *itx_calloc(size_t n, size_t size);
/* realloc; on failure the old block is left untouched. */
void *itx_realloc(void *p, size_t size);
/* realloc of an n-element array with overflow check. */
void *itx_realloc_array(void *p, size_t n, size_t size);
/* malloc of an n-element array with overflow check (memory is not cleared). */
void *itx_malloc_array(size_t n, size_t size);
void itx_free(void *p);
char *itx_strdup(const char *s);
char *itx_strndup(const char *s, size_t n);

/* 64-byte aligned allocation for tensors; free with itx_free_aligned. */
void *itx_malloc_aligned(size_t size);
/* Allocation aligned to `align` (a power of two, multiple of sizeof(void *)); size is rounded
 * up to a multiple of align. Free with itx_free_aligned. */
void *itx_malloc_align(size_t size, size_t align);
void itx_free_aligned(void *p);

/* a*b and a+b with overflow detection: return false on overflow. */
bool itx_mul_size(size_t a, size_t b, size_t *out);
bool itx_add_size(size_t a, size_t b, size_t *out);

/*
 * Failure injection: after this call, the n-th allocation (1-based) from now fails, and
 * so does every later one when `sticky` is true. n = 0 turns injection off. Returns the
 * number of allocations counted since the previous call.
 * ITX_ALLOC_FAIL_AT=<n> in the environment arms it at start-up (itx_alloc_init_from_env).
 */
unsigned long itx_alloc_fail_at(unsigned long n, bool sticky);
void itx_alloc_init_from_env(void);
/* Whether an injected failure has fired since injection was armed. */
bool itx_alloc_injected(void);

#endif
