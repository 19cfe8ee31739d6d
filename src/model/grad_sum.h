/* grad_sum.h: the gradient's sum over the ranks, overlapped with the backward pass (collective.h,
 * docs/scaling.md).
 *
 * A stage's backward pass finishes its networks in a fixed order (stage 1: every decoder G_j, then
 * every encoder E_j; stage 2: every importance net I_j), and each network's gradient is one contiguous
 * range ("bucket") of the model's one gradient buffer (model.h: [E_0 G_0 E_1 G_1 ... | I_0 I_1 ...]).
 * When the collective offers overlap, the sum of a bucket over the ranks starts (coll->isum_float) as
 * soon as the bucket is final on every part of the two-thread row split (parallel.c: part 1's share,
 * in grads2, is added to grads for that range first), while the earlier networks are still being
 * differentiated; the caller waits for every bucket (ima_collective_wait) before the optimizer step.
 * Buckets start in the same order on every rank, whatever the split and the timing; only the calling
 * thread (part 0) calls the collective. Without overlap, end() adds part 1's gradient over the whole
 * range, as before, and the caller sums the range in one call.
 *
 * Use: begin; add every network in the order the backward pass finishes them; each part calls done(p)
 * after each network (every network, in that order, even one it skips); after the parts have joined,
 * end (also on a path that ran no backward at all: it starts every bucket not started yet). */
#ifndef IMA_GRAD_SUM_H
#define IMA_GRAD_SUM_H

#include <stdatomic.h>
#include <stddef.h>

#include "ima/collective.h"
#include "ima/model.h"

#define IMA_GRAD_SUM_MAX_BUCKETS (2 * IMA_MAX_MODALITIES)

typedef struct {
    ima_model *m;
    const ima_collective *coll; // overlapping collective, or NULL: end() only adds part 1's gradient
    int parts;                  // 1, or 2: part 1's gradient is in grads2 until end() / a bucket adds it
    size_t lo, n;               // the stage's range of the gradient buffer
    int n_buckets;
    size_t at[IMA_GRAD_SUM_MAX_BUCKETS], len[IMA_GRAD_SUM_MAX_BUCKETS]; // ranges, in the order they finish
    int done0;                                                          // buckets part 0 has finished (part 0 only)
    atomic_int done1; // buckets part 1 has finished (written by part 1, read by part 0)
    int started;      // buckets whose sums have started (part 0 only)
} ima_grad_sum;

/* the stage's gradient range [lo, lo + n) of m, split into parts; coll is used only when it overlaps */
void ima_grad_sum_begin(ima_grad_sum *g, ima_model *m, const ima_collective *coll, int parts, size_t lo, size_t n);
/* the next bucket: net's parameter range (net bound to m's buffers) */
void ima_grad_sum_add(ima_grad_sum *g, const ima_mlp *net);
/* part p has finished its next bucket; part 0 starts every bucket now final on both parts */
void ima_grad_sum_done(ima_grad_sum *g, int p);
/* after the parts joined: grads += grads2 over the range (two parts) and, overlapping, every bucket's sum
 * started; the caller waits (ima_collective_wait) or, not overlapping, sums [lo, lo + n) itself */
void ima_grad_sum_end(ima_grad_sum *g);

#endif
