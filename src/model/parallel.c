/* parallel.c: a batch's rows in two parts, one thread each, and the element-wise passes over the
 * parameter buffer (gradient sum, finiteness check, Adam) on both threads.
 *
 * Why split rows instead of letting OpenBLAS split each product: the layers are narrow (B rows of
 * 32..1024, widths 50..784), and OpenBLAS's two-thread split of such a product runs below twice its
 * one-thread rate, while two independent one-thread products on two cores run at twice it; the
 * element-wise work (centring, bias, ReLU, losses, fusion), single-threaded otherwise, splits with
 * the rows for free. During a split, OpenBLAS runs on one thread (openblas_set_num_threads(1), the
 * caller's count restored afterwards), so a product never waits for the other thread's core.
 *
 * Every per-row quantity lives at its row in the model's activation buffers, so the two parts write
 * disjoint rows of the same buffers. Parameter gradients are the exception: part 1 accumulates into
 * grads2 and ima_model_reduce_grads adds it into grads. Results equal the unsplit pass's to float
 * rounding: a parameter gradient is the sum of two partial sums over the rows, and OpenBLAS may order
 * a product's terms differently for another row count (tests/test_kernels.c checks both).
 * B rows, n parameters. */
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "ima/common.h"
#include "ima/model.h"

/* a part has at least this many rows: below it one thread does the batch */
#define IMA_SPLIT_MIN_ROWS 16

int ima_model_threads(const ima_model *m) {
    int t = m->threads > 0 ? m->threads : openblas_get_num_threads();
    return t < 1 ? 1 : t;
}

static int have_pool(ima_model *m) {
    if (!m->pool) m->pool = ima_pool_create();
    return m->pool != NULL;
}

int ima_model_parts(ima_model *m, size_t B, int grads) {
    /* exactly two threads: with more, OpenBLAS's own split of each product uses them all (the pool has one
     * worker, and two concurrent multi-threaded OpenBLAS calls would share one OpenBLAS thread pool) */
    if (B < 2 * IMA_SPLIT_MIN_ROWS || ima_model_threads(m) != 2 || !have_pool(m)) return 1;
    if (grads && !m->grads2) {
        size_t n = m->n_params * sizeof(float); /* no error message: without it the batch runs on one thread */
        if (!(m->grads2 = malloc(n ? n : 1))) return 1;
    }
    return 2;
}

void ima_model_part_rows(size_t B, int parts, int p, size_t *r0, size_t *r1) {
    size_t h = parts > 1 ? B / 2 : B;
    *r0 = p == 0 ? 0 : h;
    *r1 = p == 0 ? h : B;
}

void ima_model_run_parts(ima_model *m, int parts, void (*fn)(void *ctx, int part), void *ctx) {
    if (parts < 2) {
        fn(ctx, 0);
        return;
    }
    ima_pool_run2_blas1(m->pool, fn, ctx);
}

float *ima_model_part_scratch(const ima_model *m, size_t r0) {
    size_t w = 0; /* the widest scratch row of any MLP (ima_model_init sized scratch for max_batch of them) */
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const ima_mlp *nets[3] = {&m->mod[j].enc, &m->mod[j].dec, &m->mod[j].imp};
        for (int e = 0; e < 3; e++) {
            size_t s = ima_mlp_scratch_size(nets[e], 1);
            if (s > w) w = s;
        }
    }
    return m->scratch + r0 * w;
}

float *ima_model_part_tmp(const ima_model *m, size_t r0) {
    size_t w = m->cfg.latent_width; /* tmp is (max_batch, max(d, D_j)): a part's rows of every modality */
    for (int j = 0; j < m->cfg.n_modalities; j++)
        if (m->cfg.mod[j].input_width > w) w = m->cfg.mod[j].input_width;
    return m->tmp + r0 * w;
}

void ima_model_part_mlp(ima_mlp *out, const ima_model *m, const ima_mlp *mlp, int p) {
    *out = *mlp;
    if (p == 0) return;
    size_t off = (size_t)(mlp->W[0] - m->params);
    ima_mlp_bind(out, mlp->W[0], m->grads2 + off);
}

/* ---- element-wise passes over a parameter range, in two chunks (pool.c) ----------------------------- */

/* the pool for the element-wise passes: with two or more threads (created here if need be), else NULL */
static ima_pool *elementwise_pool(ima_model *m) { return ima_model_threads(m) >= 2 && have_pool(m) ? m->pool : NULL; }

void ima_model_reduce_grads(ima_model *m, size_t lo, size_t n) {
    ima_pool_sum(elementwise_pool(m), m->grads + lo, m->grads2 + lo, n);
}

int ima_model_grads_finite(ima_model *m, size_t lo, size_t n) {
    return ima_pool_all_finite(elementwise_pool(m), m->grads + lo, n);
}

void ima_model_adam(ima_model *m, size_t lo, size_t n, const ima_adam_config *cfg, long t) {
    ima_pool_adam(elementwise_pool(m), m->params + lo, m->grads + lo, m->adam_m + lo, m->adam_v + lo, n, cfg, t);
}
