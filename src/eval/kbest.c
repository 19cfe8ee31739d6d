/* kbest.c: the bounded (distance, index) max-heap of kbest.h. */
#include "eval/kbest.h"

static void swap_pairs(ima_kbest_pair *a, ima_kbest_pair *b) {
    ima_kbest_pair t = *a;
    *a = *b;
    *b = t;
}

void ima_kbest_sift_down(ima_kbest_pair *h, size_t n, size_t at) {
    for (;;) {
        size_t l = 2 * at + 1, r = l + 1, m = at;
        if (l < n && ima_kbest_worse(h[l], h[m])) m = l;
        if (r < n && ima_kbest_worse(h[r], h[m])) m = r;
        if (m == at) return;
        swap_pairs(&h[m], &h[at]);
        at = m;
    }
}

void ima_kbest_offer(ima_kbest_pair *h, size_t *n, size_t K, ima_kbest_pair c) {
    if (*n < K) {
        size_t at = (*n)++;
        h[at] = c;
        while (at > 0 && ima_kbest_worse(h[at], h[(at - 1) / 2])) {
            swap_pairs(&h[at], &h[(at - 1) / 2]);
            at = (at - 1) / 2;
        }
    } else if (ima_kbest_worse(h[0], c)) {
        h[0] = c;
        ima_kbest_sift_down(h, *n, 0);
    }
}
