/* noise.c: the uncorrelated noise samples of the digits corpus (SPEC section 4).
 * Dimensions: 784 pixels, 12,500 samples (1 s at 12.5 kHz), 696 MFCC values. */
#include <stdlib.h>

#include "ima/audio.h"
#include "ima/common.h"
#include "ima/digits.h"

void ima_image_noise(float *out, ima_rng *rng) {
    for (size_t i = 0; i < IMA_IMAGE_DIM; i++)
        out[i] = (float)(IMA_IMAGE_NOISE_MEAN + IMA_IMAGE_NOISE_SD * ima_rng_normal(rng));
    /* exactly round(K * 784) = 627 pixels to 0: a partial Fisher-Yates over pixel indices */
    size_t idx[IMA_IMAGE_DIM];
    for (size_t i = 0; i < IMA_IMAGE_DIM; i++) idx[i] = i;
    size_t zeros = (size_t)(IMA_IMAGE_NOISE_SPARSITY * IMA_IMAGE_DIM + 0.5);
    for (size_t i = 0; i < zeros; i++) {
        size_t j = i + (size_t)ima_rng_below(rng, IMA_IMAGE_DIM - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        out[idx[i]] = 0.0f;
    }
    for (size_t i = 0; i < IMA_IMAGE_DIM; i++) { /* negatives to 0 (SPEC); above 1 to 1 (bce inputs) */
        if (out[i] < 0.0f) out[i] = 0.0f;
        if (out[i] > 1.0f) out[i] = 1.0f;
    }
}

int ima_speech_noise(float *out, ima_mfcc *m, ima_rng *rng) {
    float wave[IMA_SPEECH_RATE]; // (12500) 1 s
    for (size_t i = 0; i < IMA_SPEECH_RATE; i++) wave[i] = (float)ima_rng_normal(rng);
    return ima_speech_features_wave(m, out, wave, IMA_SPEECH_RATE);
}
