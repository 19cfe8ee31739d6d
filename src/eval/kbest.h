/* kbest.h (internal): the K nearest candidates of one query as a bounded max-heap of
 * (distance, index) pairs, ordered lexicographically so that ties go to the smaller index.
 * Shared by the GEMM k-NN of retrieval.c and the vantage-point tree of tsne.c.
 * K heap capacity, n entries held. */
#ifndef IMA_EVAL_KBEST_H
#define IMA_EVAL_KBEST_H

#include <stddef.h>

typedef struct {
    double d; // distance (or squared distance: only the order matters)
    size_t i; // sample index
} ima_kbest_pair;

/* a is "worse" (farther, or as far with a larger index) than b */
static inline int ima_kbest_worse(ima_kbest_pair a, ima_kbest_pair b) { return a.d > b.d || (a.d == b.d && a.i > b.i); }

/* Restores the heap order below h[at] in h[0..n). */
void ima_kbest_sift_down(ima_kbest_pair *h, size_t n, size_t at);
/* Offers c to a heap h holding *n <= K entries: kept if there is room or it beats the worst. */
void ima_kbest_offer(ima_kbest_pair *h, size_t *n, size_t K, ima_kbest_pair c);

#endif
