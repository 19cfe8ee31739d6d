/* collective.h: what data-parallel training needs from a group of P processes ("ranks"), as a table of
 * functions. libima never depends on a transport: the caller passes a collective to ima_train (through
 * ima_train_callbacks.coll) and the library calls only these. The `ima` executable implements them over
 * MPI (src/dist/mpi.c, built when CMake finds MPI); NULL, or ima_collective_single(), is one process.
 *
 * Every rank must make the same calls in the same order with the same counts (the collectives are
 * matched by order, as in MPI). A function returns IMA_OK, or IMA_ERR with ima_error set (a rank died,
 * a collective did not complete in time, ...); after an error the group is unusable and the caller stops.
 *
 * Data-parallel training (docs/scaling.md): every rank draws the same global batch of B rows (the same
 * shuffling stream), takes rows [B r / P, B (r+1) / P) of it, and every statistic of the loss that is a
 * sum over rows (gradients, loss terms, stage 2's weighted means and covariance, the prior's batch mean)
 * is summed over the ranks before it is used, so P ranks give one process's result to float rounding.
 *
 * Overlap (optional: a transport that offers isum_float): the backward pass of a stage, given a batch
 * whose coll offers it, starts the sum of each network's gradient range as soon as that range is final
 * (src/model/grad_sum.c), so the sums run while the earlier networks' gradients are computed; the
 * caller then waits (ima_collective_wait) before it reads the gradient. Without it, the caller sums the
 * stage's whole range after the backward pass (ima_collective_sum_float). Both give the same sum. */
#ifndef IMA_COLLECTIVE_H
#define IMA_COLLECTIVE_H

#include <stddef.h>

typedef struct ima_collective {
    void *ctx; // the transport's state, passed to every function
    int rank;  // this process, 0..size-1
    int size;  // P >= 1
    /* buf (n) = the element-wise sum of every rank's buf (n), in place */
    int (*allreduce_float)(void *ctx, float *buf, size_t n);
    int (*allreduce_double)(void *ctx, double *buf, size_t n);
    /* buf (sum_r counts[r]): rank r's part, counts[r] values from offset sum_{q<r} counts[q], is filled
     * by rank r; afterwards every rank holds every part (in place) */
    int (*allgather_float)(void *ctx, float *buf, const size_t *counts);
    /* returns when every rank has called it */
    int (*barrier)(void *ctx);
    /* Optional (NULL: no overlap). isum_float starts buf (n) = the sum over the ranks, in place, and
     * returns at once; buf must not be read or written until wait returns. progress lets the transport
     * advance the started sums (called between networks: Open MPI moves a non-blocking collective only
     * inside MPI calls). wait returns when every started sum is complete, or IMA_ERR (the same timeout as
     * a blocking sum). Started sums count as collectives: every rank starts the same ranges in the same
     * order, and a blocking call made before wait is matched after them. */
    int (*isum_float)(void *ctx, float *buf, size_t n);
    int (*progress)(void *ctx);
    int (*wait)(void *ctx);
} ima_collective;

/* The collective of one process (rank 0 of 1): every function returns IMA_OK at once. */
const ima_collective *ima_collective_single(void);

/* 1 when c is NULL or holds one rank */
static inline int ima_collective_is_single(const ima_collective *c) { return !c || c->size <= 1; }

/* Rows [lo, hi) of a global batch (or any range) of n rows that rank r of P owns: lo = n r / P. */
static inline void ima_collective_share(size_t n, int r, int P, size_t *lo, size_t *hi) {
    *lo = n * (size_t)r / (size_t)P;
    *hi = n * (size_t)(r + 1) / (size_t)P;
}

/* Sums buf (n) over the ranks of c (nothing to do for NULL or one rank). */
int ima_collective_sum(const ima_collective *c, double *buf, size_t n);
int ima_collective_sum_float(const ima_collective *c, float *buf, size_t n);

/* 1 when c has several ranks and offers overlap (isum_float, progress, wait) */
static inline int ima_collective_overlaps(const ima_collective *c) {
    return !ima_collective_is_single(c) && c->isum_float && c->progress && c->wait;
}
/* isum_float, progress and wait of c; IMA_OK at once when c does not overlap */
int ima_collective_start_sum_float(const ima_collective *c, float *buf, size_t n);
int ima_collective_progress(const ima_collective *c);
int ima_collective_wait(const ima_collective *c);

#endif
