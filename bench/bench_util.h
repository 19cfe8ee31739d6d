/* bench_util.h: timing helpers shared by the benchmarks (each bench_*.c is its own program). */
#ifndef IMA_BENCH_UTIL_H
#define IMA_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* CPU seconds of the whole process (every thread): other processes sharing the machine inflate
 * wall time but not this, so comparisons on a shared machine can quote samples per CPU second */
static inline double bench_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of v[0..n) (sorts v) */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
