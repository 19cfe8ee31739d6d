/* epoch.h: the one epoch/batch driver of every training loop (IMA's two stages, the baselines, the
 * downstream classifier): shuffle the row order, cut it into batches, run a step per batch.
 * N rows, B <= Bmax rows per batch (the last one may be shorter), nb = ceil(N / Bmax) batches. */
#ifndef IMA_EPOCH_H
#define IMA_EPOCH_H

#include <stddef.h>

#include "ima/rng.h"

/* One batch: rows idx[0..B) of the data, batch b (0-based) of nb. Returns 0 to go on; non-zero stops
 * the epoch and is returned by ima_epoch_run. */
typedef int (*ima_batch_fn)(void *ctx, const size_t *idx, size_t B, size_t b, size_t nb);

/* order (N): with reset, first set to 0..N-1; then shuffled by rng (Fisher-Yates, ima_rng_shuffle), and
 * step runs on the batches in turn. The step may draw from the same rng (after the shuffle). */
int ima_epoch_run(size_t *order, size_t N, size_t Bmax, int reset, ima_rng *rng, ima_batch_fn step, void *ctx);

#endif
