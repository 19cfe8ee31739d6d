/* grad_sum.c: a stage's gradient summed over the ranks bucket by bucket while the backward pass runs
 * (grad_sum.h). Errors of a started sum are the transport's to keep: the group is unusable after one,
 * and the caller's ima_collective_wait reports it. */
#include "model/grad_sum.h"

#include "ima/common.h"

static size_t net_params(const ima_mlp *net) {
    size_t c = 0;
    for (int l = 0; l < net->n_layers; l++) c += net->width[l + 1] * net->width[l] + net->width[l + 1];
    return c;
}

void ima_grad_sum_begin(ima_grad_sum *g, ima_model *m, const ima_collective *coll, int parts, size_t lo, size_t n) {
    g->m = m;
    g->coll = ima_collective_overlaps(coll) ? coll : NULL;
    g->parts = parts;
    g->lo = lo, g->n = n;
    g->n_buckets = 0;
    g->done0 = 0;
    atomic_init(&g->done1, 0);
    g->started = 0;
}

void ima_grad_sum_add(ima_grad_sum *g, const ima_mlp *net) {
    IMA_ASSERT(g->n_buckets < IMA_GRAD_SUM_MAX_BUCKETS);
    size_t at = (size_t)(net->dW[0] - g->m->grads), len = net_params(net);
    IMA_ASSERT(at >= g->lo && at + len <= g->lo + g->n);
    g->at[g->n_buckets] = at;
    g->len[g->n_buckets] = len;
    g->n_buckets++;
}

/* bucket k is final on every part: add part 1's share (one thread: part 1 may still run) and start its sum */
static void start(ima_grad_sum *g, int k, int two_threads) {
    if (g->parts > 1) {
        if (two_threads) {
            ima_model_reduce_grads(g->m, g->at[k], g->len[k]);
        } else {
            float *restrict a = g->m->grads + g->at[k];
            const float *restrict b = g->m->grads2 + g->at[k];
            for (size_t i = 0; i < g->len[k]; i++) a[i] += b[i];
        }
    }
    (void)ima_collective_start_sum_float(g->coll, g->m->grads + g->at[k], g->len[k]);
}

void ima_grad_sum_done(ima_grad_sum *g, int p) {
    if (!g->coll) return;
    if (p == 1) {
        atomic_fetch_add_explicit(&g->done1, 1, memory_order_release); /* publishes part 1's writes */
        return;
    }
    g->done0++;
    int ready = g->done0;
    if (g->parts > 1) {
        int d1 = atomic_load_explicit(&g->done1, memory_order_acquire);
        if (d1 < ready) ready = d1;
    }
    while (g->started < ready) start(g, g->started++, 0);
    (void)ima_collective_progress(g->coll);
}

void ima_grad_sum_end(ima_grad_sum *g) {
    if (!g->coll) {
        if (g->parts > 1) ima_model_reduce_grads(g->m, g->lo, g->n);
        return;
    }
    size_t covered = 0;
    for (int k = 0; k < g->n_buckets; k++) covered += g->len[k];
    IMA_ASSERT(covered == g->n); /* the buckets tile the stage's range */
    while (g->started < g->n_buckets) start(g, g->started++, 1);
    (void)ima_collective_progress(g->coll);
}
