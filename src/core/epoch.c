/* epoch.c: see epoch.h */
#include "ima/epoch.h"

int ima_epoch_run(size_t *order, size_t N, size_t Bmax, int reset, ima_rng *rng, ima_batch_fn step, void *ctx) {
    if (reset)
        for (size_t i = 0; i < N; i++) order[i] = i;
    ima_rng_shuffle(rng, order, N);
    size_t nb = (N + Bmax - 1) / Bmax;
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * Bmax, B = lo + Bmax <= N ? Bmax : N - lo;
        int rc = step(ctx, order + lo, B, b, nb);
        if (rc) return rc;
    }
    return 0;
}
