/* rng.h: explicit, seeded random number state (xoshiro256** seeded by splitmix64).
 * Threaded through initialisation, shuffling and sampling; there is no global RNG. */
#ifndef IMA_RNG_H
#define IMA_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} ima_rng;

void ima_rng_init(ima_rng *rng, uint64_t seed);
uint64_t ima_rng_u64(ima_rng *rng);
/* uniform in [0, 1) with 53 bits */
double ima_rng_uniform(ima_rng *rng);
/* uniform integer in [0, n), n > 0, without modulo bias */
uint64_t ima_rng_below(ima_rng *rng, uint64_t n);
/* standard normal (Box-Muller, no cached spare: state is the 4 words only) */
double ima_rng_normal(ima_rng *rng);
/* Fisher-Yates shuffle of idx[0..n) */
void ima_rng_shuffle(ima_rng *rng, size_t *idx, size_t n);

#endif
