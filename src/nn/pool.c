/* pool.c: a fork/join of two parts, part 0 on the calling thread and part 1 on one worker thread.
 *
 * The worker spins for a short while after each task (the next one usually follows within
 * microseconds: the parts of one training step), then sleeps on a condition variable, so an idle
 * model costs no CPU. Every signal is blocked in the worker: signals go to the caller's threads.
 * A child process forked after the pool was created has no worker: there the pool runs both parts
 * on the caller and its free skips the join. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
