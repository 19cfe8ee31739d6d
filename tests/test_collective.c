/* test_collective.c: data-parallel sums without MPI. P threads stand for P ranks (a collective over
 * a pthread barrier, the same contract as src/dist/mpi.c); each holds its own copy of one model and
 * takes its share of one global batch, and the loss terms and gradients of stage 1 and of stage 2
 * (the paper's objective and local-ev) must equal one process's on the whole batch. Also: the share
 * of rows, the one-process collective, and ima_dataset_map against ima_dataset_load.
 * Overlap (collective.h's isum_float / wait, src/model/grad_sum.c): the collective can also start sums;
 * it copies each started range at once and sums the copies at the wait, so a range written after its
 * sum started (part 1's rows of the two-thread split not yet added, say) gives a wrong gradient, and is
 * counted. With it, the gradients must equal the blocking sum's bit for bit, with and without the split.
 * NB rows (NS with the split), P ranks, M = 2 modalities. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/collective.h"
#include "ima/common.h"
#include "ima/npy.h"
#include "ima/rng.h"
#include "ima/train.h"
#include "testutil.h"

#define NB 23
#define DA 7
#define DB 5
#define PMAX 4
#define NS 96 /* rows of the two-thread test: 48 per rank of 2, enough for the row split */
#define MAX_STARTED 64

/* ---- a collective of P threads --------------------------------------------------------------- */

typedef struct {
    pthread_barrier_t bar;
    int P;
    double *slot[PMAX]; // each rank's buffer during a sum
    float *fslot[PMAX];
} group;

typedef struct {
    float *buf, *copy; // a started sum: the caller's range and its contents at the start
    size_t n;
} started_sum;

typedef struct {
    group *g;
    int rank;
    started_sum st[MAX_STARTED]; // overlap: sums started, not yet waited for
    int n_started;
    size_t floats; // floats of every started sum
    int touched;   // started ranges written before the wait
    int overflow;  // more than MAX_STARTED sums started
} member;

static int t_sum_double(void *ctx, double *buf, size_t n) {
    member *me = ctx;
    group *g = me->g;
    g->slot[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    double *acc = malloc(n * sizeof *acc);
    for (size_t k = 0; k < n; k++) {
        acc[k] = 0.0;
        for (int r = 0; r < g->P; r++) acc[k] += g->slot[r][k];
    }
    pthread_barrier_wait(&g->bar); /* every rank has read every slot */
    memcpy(buf, acc, n * sizeof *acc);
    free(acc);
    return IMA_OK;
}

static int t_sum_float(void *ctx, float *buf, size_t n) {
    member *me = ctx;
    group *g = me->g;
    g->fslot[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    float *acc = malloc(n * sizeof *acc);
    for (size_t k = 0; k < n; k++) {
        acc[k] = 0.0f;
        for (int r = 0; r < g->P; r++) acc[k] += g->fslot[r][k];
    }
    pthread_barrier_wait(&g->bar);
    memcpy(buf, acc, n * sizeof *acc);
    free(acc);
    return IMA_OK;
}

static int t_gather(void *ctx, float *buf, const size_t *counts) {
    member *me = ctx;
    group *g = me->g;
    g->fslot[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    size_t at = 0, total = 0;
    for (int r = 0; r < g->P; r++) total += counts[r];
    float *all = malloc(total * sizeof *all);
    for (int r = 0; r < g->P; r++) {
        memcpy(all + at, g->fslot[r] + at, counts[r] * sizeof(float));
        at += counts[r];
    }
    pthread_barrier_wait(&g->bar);
    memcpy(buf, all, total * sizeof *all);
    free(all);
    return IMA_OK;
}

static int t_barrier(void *ctx) {
    member *me = ctx;
    pthread_barrier_wait(&me->g->bar);
    return IMA_OK;
}

/* overlap: a started sum is a copy of the range now; the wait sums the copies, oldest first */
static int t_isum(void *ctx, float *buf, size_t n) {
    member *me = ctx;
    if (me->n_started == MAX_STARTED) return me->overflow = 1, ima_error("test collective: too many sums");
    float *copy = malloc(n * sizeof *copy);
    if (!copy) return ima_error("test collective: out of memory");
    memcpy(copy, buf, n * sizeof *copy);
    me->st[me->n_started++] = (started_sum){buf, copy, n};
    me->floats += n;
    return IMA_OK;
}

static int t_progress(void *ctx) { return (void)ctx, IMA_OK; }

static int t_wait(void *ctx) {
    member *me = ctx;
    for (int k = 0; k < me->n_started; k++) {
        started_sum *s = &me->st[k];
        me->touched += memcmp(s->buf, s->copy, s->n * sizeof(float)) != 0;
        t_sum_float(ctx, s->copy, s->n);
        memcpy(s->buf, s->copy, s->n * sizeof(float));
        free(s->copy);
    }
    me->n_started = 0;
    return IMA_OK;
}

/* P ranks of one group: member r and its collective (with overlap: isum_float, progress, wait) */
static void group_open(group *g, int P, member *mem, ima_collective *coll, int overlap) {
    g->P = P;
    pthread_barrier_init(&g->bar, NULL, (unsigned)P);
    for (int r = 0; r < P; r++) {
        mem[r] = (member){.g = g, .rank = r};
        coll[r] = (ima_collective){&mem[r], r, P, t_sum_float, t_sum_double, t_gather, t_barrier, NULL, NULL, NULL};
        if (overlap) coll[r].isum_float = t_isum, coll[r].progress = t_progress, coll[r].wait = t_wait;
    }
}

/* ---- one rank's work: the terms and gradients of one batch -------------------------------------- */

typedef struct {
    const ima_config *cfg;
    const float *x[2];   // (B, D_j)
    const uint8_t *mask; // (B, 2)
    const float *target; // (B, 2) local-ev targets
    int stage;           // 1 or 2
    ima_weights weights;
    const ima_collective *coll; // NULL: the whole batch
    size_t nb;                  // rows of the global batch
    int threads;                // the model's (2: the row split)
    double terms[8];            // total, then per-stage terms
    float *grads;               // (n_params) summed over the ranks
    size_t n_params;
    size_t stage_params; // the stage's range, which an overlapped sum must cover
    int ok;
} job;

static void *run_job(void *arg) {
    job *jb = arg;
    ima_model *m;
    if (ima_model_init(&m, jb->cfg, jb->nb, 11)) return NULL;
    m->threads = jb->threads;
    size_t lo = 0, hi = jb->nb;
    if (jb->coll) ima_collective_share(jb->nb, jb->coll->rank, jb->coll->size, &lo, &hi);
    ima_batch b = {.B = hi - lo, .mask = jb->mask + 2 * lo, .target = jb->target ? jb->target + 2 * lo : NULL};
    b.x[0] = jb->x[0] + lo * DA;
    b.x[1] = jb->x[1] + lo * DB;
    b.coll = jb->coll;
    b.B_total = jb->nb;
    if (jb->weights == IMA_WEIGHTS_IMPORTANCE && b.B) ima_model_importance(m, &b);
    if (jb->stage == 1) {
        ima_stage1_terms t;
        ima_stage1_forward_backward(m, &b, jb->weights, 1, &t);
        double v[8] = {t.total, t.glob, t.rec[0], t.rec[1], t.align[0], t.align[1], 0, 0};
        memcpy(jb->terms, v, sizeof v);
    } else {
        ima_stage2_terms t;
        ima_stage2_forward_backward(m, &b, jb->weights, 1, &t);
        double v[8] = {t.total, t.corr[0], t.corr[1], t.local[0], t.local[1], t.teach[0], t.teach[1], t.ybar[1]};
        memcpy(jb->terms, v, sizeof v);
    }
    jb->n_params = m->n_params;
    jb->stage_params = jb->stage == 1 ? m->n_params_ae : m->n_params_imp;
    /* overlapping, the pass has started the sums of its stage's range (the other range is zero) */
    if (ima_collective_overlaps(jb->coll)) ima_collective_wait(jb->coll);
    jb->grads = malloc(m->n_params * sizeof(float));
    memcpy(jb->grads, m->grads, m->n_params * sizeof(float));
    if (jb->coll && !ima_collective_overlaps(jb->coll)) ima_collective_sum_float(jb->coll, jb->grads, m->n_params);
    ima_model_free(m);
    jb->ok = 1;
    return NULL;
}

/* P ranks (with overlap or not) on the global batch of `one`, which has run; worst term / gradient
 * difference against it (relative, absolute) and the largest gradient; overlap checked on the way */
static void run_ranks(const char *what, const job *one, int P, int overlap, job *jobs, double *wt, double *wg,
                      double *gmax) {
    group g;
    member mem[PMAX];
    ima_collective coll[PMAX];
    group_open(&g, P, mem, coll, overlap);
    pthread_t th[PMAX];
    for (int r = 0; r < P; r++) {
        jobs[r] = *one;
        jobs[r].coll = &coll[r];
        jobs[r].grads = NULL;
        jobs[r].ok = 0;
        pthread_create(&th[r], NULL, run_job, &jobs[r]);
    }
    for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.bar);
    *wt = *wg = *gmax = 0.0;
    for (int r = 0; r < P; r++) {
        CHECK(jobs[r].ok, "%s: rank %d failed", what, r);
        if (!jobs[r].ok) continue;
        if (overlap) {
            CHECK(!mem[r].overflow && mem[r].n_started == 0, "%s: rank %d left sums not waited for", what, r);
            CHECK(mem[r].touched == 0, "%s, P = %d, overlap: %d gradient ranges written after their sums started", what,
                  P, mem[r].touched);
            CHECK(mem[r].floats == jobs[r].stage_params,
                  "%s, P = %d, overlap: the started sums cover %zu floats, the stage has %zu", what, P, mem[r].floats,
                  jobs[r].stage_params);
        }
        for (int k = 0; k < 8; k++)
            *wt = fmax(*wt, fabs(jobs[r].terms[k] - one->terms[k]) / fmax(fabs(one->terms[k]), 1e-6));
        for (size_t k = 0; k < one->n_params; k++) {
            *wg = fmax(*wg, fabs((double)jobs[r].grads[k] - one->grads[k]));
            *gmax = fmax(*gmax, fabs(one->grads[k]));
        }
    }
}

static void compare(const char *what, int P, int stage, ima_importance_objective obj, ima_weights w) {
    ima_config cfg = tu_small_config(DA, DB);
    cfg.importance_objective = obj;
    ima_rng rng;
    ima_rng_init(&rng, 3);
    float xa[NB * DA], xb[NB * DB], tgt[NB * 2];
    uint8_t mask[NB * 2];
    for (size_t k = 0; k < NB * DA; k++) xa[k] = ima_rng_uniform(&rng);
    for (size_t k = 0; k < NB * DB; k++) xb[k] = 2.0f * ima_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < NB; i++) {
        mask[2 * i] = ima_rng_uniform(&rng) < 0.7;
        mask[2 * i + 1] = !mask[2 * i] || ima_rng_uniform(&rng) < 0.5;
        tgt[2 * i] = ima_rng_uniform(&rng) < 0.2 ? NAN : ima_rng_uniform(&rng);
        tgt[2 * i + 1] = ima_rng_uniform(&rng);
    }
    job one = {.cfg = &cfg,
               .x = {xa, xb},
               .mask = mask,
               .target = obj == IMA_IMPORTANCE_LOCAL_EV ? tgt : NULL,
               .stage = stage,
               .weights = w,
               .nb = NB,
               .threads = 1};
    run_job(&one);
    job jobs[2][PMAX];
    for (int ov = 0; ov < 2; ov++) {
        double wt, wg, gmax;
        run_ranks(what, &one, P, ov, jobs[ov], &wt, &wg, &gmax);
        CHECK(gmax > 0, "%s: the gradient is all zero", what);
        CHECK(wt < 1e-5, "%s, P = %d%s: loss terms differ by %.3g (relative)", what, P, ov ? ", overlap" : "", wt);
        CHECK(wg < 1e-5 * gmax, "%s, P = %d%s: gradients differ by %.3g (largest %.3g)", what, P, ov ? ", overlap" : "",
              wg, gmax);
        printf("%-34s P = %d%s: worst term difference %.2e, gradient %.2e of %.2e\n", what, P, ov ? ", overlap" : "",
               wt, wg, gmax);
    }
    /* overlap changes when each range is summed, not what is added: the same bits */
    for (int r = 0; r < P; r++) {
        if (jobs[0][r].ok && jobs[1][r].ok)
            CHECK(!memcmp(jobs[0][r].grads, jobs[1][r].grads, one.n_params * sizeof(float)),
                  "%s, P = %d, rank %d: overlapped gradient sums differ from the blocking sum", what, P, r);
        free(jobs[0][r].grads), free(jobs[1][r].grads);
    }
    free(one.grads);
}

/* the two-thread row split (parallel.c) on each of 2 ranks: a bucket's sum may start only once part 1's
 * rows are added; overlapped sums give the blocking sum's gradient bit for bit */
static void compare_split(const char *what, int stage, ima_importance_objective obj) {
    ima_config cfg = tu_small_config(DA, DB);
    cfg.importance_objective = obj;
    ima_rng rng;
    ima_rng_init(&rng, 4);
    float *xa = malloc(NS * DA * sizeof *xa), *xb = malloc(NS * DB * sizeof *xb);
    uint8_t mask[NS * 2];
    for (size_t k = 0; k < NS * DA; k++) xa[k] = ima_rng_uniform(&rng);
    for (size_t k = 0; k < NS * DB; k++) xb[k] = 2.0f * ima_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < NS; i++) {
        mask[2 * i] = ima_rng_uniform(&rng) < 0.7;
        mask[2 * i + 1] = !mask[2 * i] || ima_rng_uniform(&rng) < 0.5;
    }
    job one =
        {.cfg = &cfg, .x = {xa, xb}, .mask = mask, .stage = stage, .weights = IMA_WEIGHTS_ONE, .nb = NS, .threads = 2};
    run_job(&one);
    job jobs[2][PMAX];
    double wt[2], wg[2], gmax[2];
    for (int ov = 0; ov < 2; ov++) run_ranks(what, &one, 2, ov, jobs[ov], &wt[ov], &wg[ov], &gmax[ov]);
    CHECK(gmax[0] > 0 && wg[0] < 1e-5 * gmax[0], "%s: 2 ranks differ from one process by %.3g", what, wg[0]);
    for (int r = 0; r < 2; r++) {
        if (jobs[0][r].ok && jobs[1][r].ok) {
            CHECK(!memcmp(jobs[0][r].grads, jobs[1][r].grads, one.n_params * sizeof(float)),
                  "%s, rank %d: overlapped gradient sums differ from the blocking sum", what, r);
            CHECK(!memcmp(jobs[0][r].terms, jobs[1][r].terms, sizeof jobs[0][r].terms),
                  "%s, rank %d: overlap changed the loss terms", what, r);
        }
        free(jobs[0][r].grads), free(jobs[1][r].grads);
    }
    printf("%-34s P = 2 x 2 threads: overlap = blocking sum bit for bit; vs one process %.2e of %.2e\n", what, wg[1],
           gmax[1]);
    free(one.grads);
    free(xa), free(xb);
}

/* ---- local-ev targets on every rank ---------------------------------------------------- */

#define NT 90

typedef struct {
    const ima_config *cfg;
    const ima_dataset *ds;
    const ima_collective *coll;
    float *target; // (NT, 2)
    int rc;
} targets_job;

static void *run_targets(void *arg) {
    targets_job *tj = arg;
    ima_model *m;
    tj->rc = IMA_ERR;
    if (ima_model_init(&m, tj->cfg, 32, 5)) return NULL;
    tj->rc = ima_local_ev_targets_shared(tj->target, m, tj->ds, tj->coll);
    ima_model_free(m);
    return NULL;
}

static void test_targets(int P) {
    ima_config cfg = tu_small_config(DA, DB);
    cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    cfg.local_ev_k = 8;
    float xa[NT * DA], xb[NT * DB];
    uint8_t mask[NT * 2];
    ima_rng rng;
    ima_rng_init(&rng, 9);
    for (size_t k = 0; k < NT * DA; k++) xa[k] = ima_rng_uniform(&rng);
    for (size_t k = 0; k < NT * DB; k++) xb[k] = ima_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < NT; i++) mask[2 * i] = 1, mask[2 * i + 1] = ima_rng_uniform(&rng) < 0.8;
    ima_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = NT, ds.n_modalities = 2, ds.width[0] = DA, ds.width[1] = DB, ds.x[0] = xa, ds.x[1] = xb, ds.mask = mask;
    float one[NT * 2], part[PMAX][NT * 2];
    targets_job j1 = {&cfg, &ds, NULL, one, IMA_ERR};
    run_targets(&j1);
    CHECK(j1.rc == IMA_OK, "local-ev targets (one process): %s", ima_last_error());
    group g;
    member mem[PMAX];
    ima_collective coll[PMAX];
    group_open(&g, P, mem, coll, 0);
    targets_job jobs[PMAX];
    pthread_t th[PMAX];
    for (int r = 0; r < P; r++) {
        jobs[r] = (targets_job){&cfg, &ds, &coll[r], part[r], IMA_ERR};
        pthread_create(&th[r], NULL, run_targets, &jobs[r]);
    }
    for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&g.bar);
    size_t finite = 0;
    double worst = 0.0;
    for (int r = 0; r < P; r++) {
        CHECK(jobs[r].rc == IMA_OK, "local-ev targets, rank %d of %d failed", r, P);
        for (size_t k = 0; k < NT * 2; k++) {
            int same_nan = isnan(one[k]) && isnan(part[r][k]);
            CHECK(same_nan || !isnan(part[r][k]), "target %zu: NaN on rank %d only", k, r);
            if (!same_nan) worst = fmax(worst, fabs(one[k] - part[r][k])), finite += r == 0;
        }
    }
    CHECK(finite > NT, "too few targets (%zu) to compare", finite);
    CHECK(worst < 1e-4, "local-ev targets on %d ranks differ from one process's by %.3g", P, worst);
    printf("%-34s P = %d: %zu targets, worst difference %.2e\n", "local-ev targets", P, finite, worst);
}

/* ---- the rest ------------------------------------------------------------------------------------ */

static void test_share(void) {
    for (size_t n = 0; n < 20; n++)
        for (int P = 1; P <= 5; P++) {
            size_t next = 0;
            for (int r = 0; r < P; r++) {
                size_t lo, hi;
                ima_collective_share(n, r, P, &lo, &hi);
                CHECK(lo == next && hi >= lo && hi - lo <= n / (size_t)P + 1, "share of %zu rows, rank %d of %d", n, r,
                      P);
                next = hi;
            }
            CHECK(next == n, "the shares of %zu rows over %d ranks do not cover them", n, P);
        }
    const ima_collective *one = ima_collective_single();
    double v = 2.5;
    CHECK(one->size == 1 && one->rank == 0 && ima_collective_sum(one, &v, 1) == IMA_OK && v == 2.5,
          "the one-process collective changed its buffer");
}

static void test_map(const char *dir) {
    char *pa = tu_path(dir, "a.npy"), *pb = tu_path(dir, "b.npy"), *pn = tu_path(dir, "nan.npy");
    float a[6 * 3], b[6 * 2];
    for (int k = 0; k < 18; k++) a[k] = (float)k / 18.0f;
    for (int k = 0; k < 12; k++) b[k] = (float)k - 6.0f;
    ima_npy_write_f32(pa, 6, 3, a);
    ima_npy_write_f32(pb, 6, 2, b);
    const char *paths[2] = {pa, pb};
    ima_dataset l, m;
    CHECK(ima_dataset_load(&l, 2, paths, NULL) == IMA_OK, "load: %s", ima_last_error());
    CHECK(ima_dataset_map(&m, 2, paths, NULL) == IMA_OK, "map: %s", ima_last_error());
    CHECK(m.map[0] && m.map[1] && !l.map[0], "the float32 files were not mapped");
    CHECK(m.n == 6 && m.width[0] == 3 && m.width[1] == 2, "mapped shape");
    CHECK(!memcmp(m.x[0], l.x[0], sizeof a) && !memcmp(m.x[1], l.x[1], sizeof b), "mapped rows differ from read ones");
    ima_dataset_free(&m);
    ima_dataset_free(&l);
    a[7] = NAN;
    ima_npy_write_f32(pn, 6, 3, a);
    const char *bad[2] = {pn, pb};
    int rc = ima_dataset_map(&m, 2, bad, NULL);
    CHECK_ERR(rc, pn, "row 2, column 1");
    free(pa), free(pb), free(pn);
}

int main(void) {
    char *dir = tu_tmpdir();
    test_share();
    test_map(dir);
    for (int P = 2; P <= PMAX; P += 2) {
        compare("stage 1, y = 1", P, 1, IMA_IMPORTANCE_PAPER, IMA_WEIGHTS_ONE);
        compare("stage 1, y = importance", P, 1, IMA_IMPORTANCE_PAPER, IMA_WEIGHTS_IMPORTANCE);
        compare("stage 2, paper", P, 2, IMA_IMPORTANCE_PAPER, IMA_WEIGHTS_ONE);
        compare("stage 2, paper, y = importance", P, 2, IMA_IMPORTANCE_PAPER, IMA_WEIGHTS_IMPORTANCE);
        compare("stage 2, local-ev", P, 2, IMA_IMPORTANCE_LOCAL_EV, IMA_WEIGHTS_ONE);
        test_targets(P);
    }
    compare_split("stage 1, row split", 1, IMA_IMPORTANCE_PAPER);
    compare_split("stage 2, paper, row split", 2, IMA_IMPORTANCE_PAPER);
    if (tu_failed == 0) tu_remove_dir(dir);
    free(dir);
    return tu_finish("test_collective");
}
