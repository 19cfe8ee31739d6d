/* pool.c: a fork/join of two parts, part 0 on the calling thread and part 1 on one worker thread.
 *
 * The worker spins for a short while after each task (the next one usually follows within
 * microseconds: the parts of one training step), then sleeps on a condition variable, so an idle
 * model costs no CPU. Every signal is blocked in the worker: signals go to the caller's threads.
 * A child process forked after the pool was created has no worker: there the pool runs both parts
 * on the caller and its free skips the join.
 *
 * Below the pool: the element-wise passes over a parameter-sized buffer (a gradient sum, a finiteness
 * check, Adam) in two chunks, one per thread; IMA (src/model/parallel.c) and the baselines share them. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/blas.h"
#include "ima/nn.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* how long the worker polls for the next task before it sleeps */
#define IMA_POOL_SPIN_NS 200000L

struct ima_pool {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;  // task number, raised by the caller for each task
    atomic_uint done; // the last task number the worker finished
    atomic_int quit;
    void (*fn)(void *ctx, int part);
    void *ctx;
    pid_t pid; // the process that owns the worker
};

static long elapsed_ns(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* waits until p->gen differs from seen: polls, then sleeps */
static unsigned wait_task(ima_pool *p, unsigned seen) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned k = 1;; k++) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if (k % 64 == 0) {
            if (elapsed_ns(&t0) > IMA_POOL_SPIN_NS) break;
            sched_yield();
        }
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker(void *vp) {
    ima_pool *p = vp;
    unsigned seen = 0;
    for (;;) {
        seen = wait_task(p, seen);
        if (atomic_load(&p->quit)) return NULL;
        p->fn(p->ctx, 1);
        atomic_store_explicit(&p->done, seen, memory_order_release);
    }
}

ima_pool *ima_pool_create(void) {
    ima_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->gen, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->quit, 0);
    if (pthread_mutex_init(&p->mu, NULL)) return free(p), NULL;
    if (pthread_cond_init(&p->cv, NULL)) return pthread_mutex_destroy(&p->mu), free(p), NULL;
    p->pid = getpid();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

static void post(ima_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void ima_pool_free(ima_pool *p) {
    if (!p) return;
    if (p->pid != getpid()) { /* a forked child: the worker lives in the parent only */
        free(p);
        return;
    }
    atomic_store(&p->quit, 1);
    post(p);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void ima_pool_run2(ima_pool *p, void (*fn)(void *ctx, int part), void *ctx) {
    if (!p || p->pid != getpid()) {
        fn(ctx, 0);
        fn(ctx, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    post(p); /* the release of gen publishes fn and ctx */
    unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed);
    fn(ctx, 0);
    for (unsigned k = 1; atomic_load_explicit(&p->done, memory_order_acquire) != g; k++) {
        cpu_relax();
        if (k % 64 == 0) sched_yield();
    }
}

void ima_pool_run2_blas1(ima_pool *p, void (*fn)(void *ctx, int part), void *ctx) {
    int t = openblas_get_num_threads();
    openblas_set_num_threads(1);
    ima_pool_run2(p, fn, ctx);
    openblas_set_num_threads(t);
}

/* ---- element-wise passes over n floats, in two chunks ------------------------------------------------ */

typedef struct {
    size_t n, mid; // part 0 [0, mid), part 1 [mid, n)
    float *a;      // sum: a += b; adam: params
    const float *b;
    float *m, *v; // adam moments
    const ima_adam_config *cfg;
    long t;
    int bad[2];
} range_job;

static void chunk(const range_job *r, int p, size_t *a, size_t *b) {
    *a = p == 0 ? 0 : r->mid;
    *b = p == 0 ? r->mid : r->n;
}

static void run_range(ima_pool *p, range_job *r, void (*fn)(void *, int)) {
    size_t half = (r->n / 2 + 15) & ~(size_t)15; /* 64-byte aligned chunk boundary for aligned starts */
    int two = p && r->n >= IMA_POOL_MIN_FLOATS;
    r->mid = two ? (half < r->n ? half : r->n) : r->n;
    if (two) ima_pool_run2(p, fn, r);
    else fn(r, 0);
}

static void sum_part(void *vr, int p) {
    range_job *r = vr;
    size_t a, b;
    chunk(r, p, &a, &b);
    float *restrict g = r->a;
    const float *restrict g2 = r->b;
#pragma omp simd
    for (size_t k = a; k < b; k++) g[k] += g2[k];
}

void ima_pool_sum(ima_pool *p, float *a, const float *b, size_t n) {
    range_job r = {.n = n, .a = a, .b = b};
    run_range(p, &r, sum_part);
}

static void finite_part(void *vr, int p) {
    range_job *r = vr;
    size_t a, b;
    chunk(r, p, &a, &b);
    const float *g = r->b;
    /* exponent bits all ones = Inf or NaN; integer tests, so the loop vectorises */
    uint32_t bad = 0;
    for (size_t k = a; k < b; k++) {
        uint32_t u;
        memcpy(&u, g + k, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    r->bad[p] = bad != 0;
}

int ima_pool_all_finite(ima_pool *p, const float *x, size_t n) {
    range_job r = {.n = n, .b = x};
    run_range(p, &r, finite_part);
    return !r.bad[0] && !r.bad[1];
}

static void adam_part(void *vr, int p) {
    range_job *r = vr;
    size_t a, b;
    chunk(r, p, &a, &b);
    ima_adam_update(r->a + a, r->b + a, r->m + a, r->v + a, b - a, r->cfg, r->t);
}

void ima_pool_adam(ima_pool *p, float *params, const float *grads, float *m, float *v, size_t n,
                   const ima_adam_config *cfg, long t) {
    range_job r = {.n = n, .a = params, .b = grads, .m = m, .v = v, .cfg = cfg, .t = t};
    run_range(p, &r, adam_part);
}
