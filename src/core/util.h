/*
 * Small shared helpers: whole-file reads with a ceiling, SHA-256, monotonic time, and
 * validated environment settings.
 */
#ifndef ITX_CORE_UTIL_H
#define ITX_CORE_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/*
 * Reads a whole file into a new buffer (NUL-terminated, free with itx_free). Fails with
 * ITX_ERR_TOO_LARGE when the file is larger than max bytes, ITX_ERR_NOT_FOUND when it does
 * not exist, ITX_ERR_IO otherwise. *data and *len are written only on success.
 */
enum itx_status itx_file_read(const char *path, size_t max, uint8_t **data, size_t *len,
                              struct itx_diag *d);

/* Writes hex SHA-256 (64 chars + NUL) of a memory block. */
void itx_sha256_hex(const void *p, size_t n, char out[65]);
/* Same for a file, streamed. */
enum itx_status itx_sha256_file(const char *path, char out[65], struct itx_diag *d);

/* Monotonic clock in nanoseconds / milliseconds (as double). */
uint64_t itx_now_ns(void);
double itx_now_ms(void);

/*
 * Waits on cv (mu held, as pthread_cond_wait) for at most ms milliseconds from now; for
 * waiters that also poll something no one signals (a flag set by a signal handler, an
 * atomic cancellation). cv must use the default clock (CLOCK_REALTIME). Returns 0 when
 * woken (or spuriously) and ETIMEDOUT when the time ran out, as pthread_cond_timedwait.
 */
int itx_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

/*
 * Reads an integer environment setting. Unset or empty: *out = def and ITX_OK. Set to
 * something that is not an integer in [min, max]: ITX_ERR_INVALID with a message naming
 * the variable, the value and the range.
 */
enum itx_status itx_env_int(const char *name, long long def, long long min, long long max,
                            long long *out, struct itx_diag *d);

/* Parses a whole decimal integer in [min, max]; false on any junk. */
bool itx_parse_int(const char *s, long long min, long long max, long long *out);

/* Directory holding the models: $ITX_MODELS_DIR, else "models" next to the build, else ./models. */
const char *itx_models_dir(void);

#endif
