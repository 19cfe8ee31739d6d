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
 * is summed over the ranks before it is used, so P ranks give one process's result to float rounding. */
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

#endif
