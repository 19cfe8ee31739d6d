/* error.c: the thread-local last-error message and the assert handler. */
#include "ima/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];
static _Thread_local int last_error_oom; /* the last error came from an allocation (oom below) */

int ima_error(const char *fmt, ...) {
    last_error_oom = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return IMA_ERR;
}

int ima_error_prefix(const char *fmt, ...) {
    char prefix[256], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%.255s: %.760s", prefix, old);
    return IMA_ERR;
}

const char *ima_last_error(void) { return last_error; }
int ima_error_is_oom(void) { return last_error_oom; }
void ima_clear_error(void) {
    last_error[0] = '\0';
    last_error_oom = 0;
}

void ima_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "%s:%d: internal error: assertion failed: %s\n", file, line, expr);
    abort();
}

/* ima_malloc / ima_calloc end the process when memory runs out. They are kept ONLY for sizes the code
 * itself fixes, small and independent of any input (a struct of a fixed size, a table of
 * compile-time length): running out there means the machine is already failing. A size that a
 * file, a data set, a command line or a library caller chooses -- a count of rows, points, tokens,
 * recordings, a width, a path length -- goes through ima_try_malloc / ima_try_calloc /
 * ima_try_realloc and an error returned up the call chain. No site in src/ calls these two any more
 * (docs/verification.md, the grep); they stay for callers of the installed API. */
void *ima_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ima: out of memory (asked for %zu bytes)\n", n);
        abort();
    }
    return p;
}

void *ima_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "ima: out of memory (asked for %zu x %zu bytes)\n", count, size);
        abort();
    }
    return p;
}

static void *oom(size_t count, size_t size) {
    size_t n;
    if (ima_mul_overflows(count, size, &n))
        ima_error("out of memory: cannot allocate %zu x %zu bytes (the size overflows)", count, size);
    else ima_error("out of memory: cannot allocate %zu bytes (%zu x %zu)", n, count, size);
    last_error_oom = 1;
    return NULL;
}

void *ima_try_malloc(size_t count, size_t size) {
    size_t n;
    if (ima_mul_overflows(count, size, &n)) return oom(count, size);
    void *p = malloc(n ? n : 1);
    return p ? p : oom(count, size);
}

void *ima_try_calloc(size_t count, size_t size) {
    size_t n;
    if (ima_mul_overflows(count, size, &n)) return oom(count, size);
    void *p = calloc(count ? count : 1, size ? size : 1);
    return p ? p : oom(count, size);
}

void *ima_try_realloc(void *p, size_t count, size_t size) {
    size_t n;
    if (ima_mul_overflows(count, size, &n)) return oom(count, size);
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(count, size);
}

char *ima_try_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) return oom(n, 1);
    return memcpy(p, s, n);
}

int ima_mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}
