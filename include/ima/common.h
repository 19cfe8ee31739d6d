/* common.h: error channels, shared by every layer of libima.
 *
 * Two channels (STYLE.md):
 *  - IMA_ASSERT(cond): programmer errors. Prints file:line and aborts.
 *  - ima_status return values with a message: anything a user or a file can cause.
 *    A failing function calls ima_error("%s: ...", __func__, ...) and returns IMA_ERR;
 *    the caller may add context; only main() turns it into an exit code.
 */
#ifndef IMA_COMMON_H
#define IMA_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IMA_OK = 0,
    IMA_ERR = -1,
} ima_status;

/* Sets the thread's last error message (printf-style) and returns IMA_ERR. */
int ima_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends "context: " to the last error message; returns IMA_ERR. */
int ima_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The thread's last error message ("" if none). */
const char *ima_last_error(void);
/* 1 when the last error is an allocation that failed (ima_try_*; ima_error_prefix keeps it), so that
 * a caller that skips bad inputs does not skip one for want of memory. */
int ima_error_is_oom(void);
void ima_clear_error(void);

void ima_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define IMA_ASSERT(cond) ((cond) ? (void)0 : ima_assert_fail(#cond, __FILE__, __LINE__))

/* Allocations whose size a caller or a file chose: count x size bytes, or NULL with an error
 * ("out of memory: cannot allocate N bytes (count x size)") when the product overflows or memory
 * runs out. They never end the process; the caller returns IMA_ERR (ima_error_prefix adds context).
 * ima_try_calloc zeroes the memory; ima_try_realloc keeps p valid when it fails. */
void *ima_try_malloc(size_t count, size_t size);
void *ima_try_calloc(size_t count, size_t size);
void *ima_try_realloc(void *p, size_t count, size_t size);
/* A copy of s, or NULL with the same error. */
char *ima_try_strdup(const char *s);
/* malloc/calloc that abort on failure with a message naming the size: ONLY for small sizes fixed
 * by the code itself (a struct of fixed size, a table of compile-time length), never for a size a
 * caller, a file, a data set or a command line chose, nor for a path (see error.c). */
void *ima_malloc(size_t n);
void *ima_calloc(size_t count, size_t size);
/* Seconds on a monotonic wall clock (CLOCK_MONOTONIC), for durations (src/core/clock.c). */
double ima_wall_seconds(void);
/* *out = a * b and 0, or 1 (and *out untouched, no error set) when the product overflows size_t. */
int ima_mul_overflows(size_t a, size_t b, size_t *out);

#endif
