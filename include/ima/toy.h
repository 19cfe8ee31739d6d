/* toy.h: a small two-modality example data set that the project makes itself (no downloads).
 * Each sample has a class c in 0..K-1 and a 2-D latent position around class centre c.
 * Modality "a" (D=24, values in [0,1], bce): sigmoid of a fixed random projection of the latent.
 * Modality "b" (D=16, real values, sse): another fixed projection plus Gaussian noise.
 * A fraction R/(1+R) of the samples of each modality is replaced by uncorrelated noise, as in
 * the paper's noise factor; flags record which. */
#ifndef IMA_TOY_H
#define IMA_TOY_H

#include <stddef.h>
#include <stdint.h>

/* Writes DIR/{train,test}/{a,b,label,a_noise,b_noise}.npy; DIR is created. */
int ima_toy_write(const char *dir, size_t n_train, size_t n_test, double noise_factor, uint64_t seed);

#endif
