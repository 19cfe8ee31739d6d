/* gradcheck_util.h: the finite-difference harness shared by test_gradcheck.c (nn kernels, IMA stage
 * losses) and test_baselines.c (MVAE, JMVAE-KL, DAE).
 *
 * Directional derivatives per tensor: for a unit direction v restricted to one tensor p (n floats),
 * v = unit(unit(g) + 0.5 unit(r)) with r ~ N(0, I), (L(p + e v) - L(p - e v)) / 2e must equal g . v.
 * Mostly along g, so the signal is large next to float32 rounding and ReLU kinks; the random part
 * catches a gradient that points the wrong way. The relative metric is
 * |fd - an| / max(|fd|, |an|, floor); an all-zero analytic gradient must fail (genann's guard). */
#ifndef IMA_GRADCHECK_UTIL_H
#define IMA_GRADCHECK_UTIL_H

#include <stddef.h>

#include "ima/rng.h"

/* the loss at the current parameters; must be deterministic */
typedef double (*gc_loss_fn)(void *ctx);

/* one directional probe */
typedef struct {
    double fd;          // central difference quotient (L(p + e v) - L(p - e v)) / 2e
    double an;          // analytic g . v
    double noise;       // float32 rounding of the loss moves fd by about this much
    double right, left; // one-sided quotients (L(p + e v) - L(p)) / e and (L(p) - L(p - e v)) / e
} gc_probe;

/* One probe of tensor p (n) with gradient g (n) at step eps; draws n normals from rng; p is restored. */
gc_probe gc_directional(gc_loss_fn f, void *ctx, float *p, const float *g, size_t n, ima_rng *rng, double eps);
/* |fd - an| / max(|fd|, |an|, floor_) */
double gc_rel(double fd, double an, double floor_);
/* 1 if any g[k] != 0 */
int gc_nonzero(const float *g, size_t n);

/* The check of one tensor: the best of three step sizes (1e-2, 1e-2/3, 1e-2/9: large steps cross ReLU
 * kinks, small ones meet float32 rounding; a wrong gradient is wrong at every step size) and of up to
 * three random directions (one may cross a kink at every step size; stops once below tol). The floor of
 * the metric is max(1e-6, noise / tol); at a ReLU kink (one-sided slopes that differ by more than tol)
 * the gradient may match either slope. Returns the relative difference of the best probe, whose fd and
 * an go to *fd and *an; *noise is the noise of the last probe. */
double gc_tensor(gc_loss_fn f, void *ctx, float *p, const float *g, size_t n, ima_rng *rng, double tol, double *fd,
                 double *an, double *noise);

#endif
