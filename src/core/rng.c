/* rng.c: xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "ima/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ima_rng_init(ima_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ima_rng_u64(ima_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ima_rng_uniform(ima_rng *rng) { return (double)(ima_rng_u64(rng) >> 11) * 0x1.0p-53; }

uint64_t ima_rng_below(ima_rng *rng, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t r;
    do r = ima_rng_u64(rng);
    while (r >= limit);
    return r % n;
}

double ima_rng_normal(ima_rng *rng) {
    double u1 = ima_rng_uniform(rng), u2 = ima_rng_uniform(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ima_rng_shuffle(ima_rng *rng, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ima_rng_below(rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
