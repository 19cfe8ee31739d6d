/* toy.c: the small example data set (see toy.h). N rows, K classes, Da = 24, Db = 16. */
#include "ima/toy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "ima/npy.h"
#include "ima/rng.h"

#define TOY_K 5
#define TOY_DA 24
#define TOY_DB 16

static int write_split(const char *dir, const char *split, size_t n, double R, const float *Pa, const float *Pb,
                       ima_rng *rng) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, split);
    if (mkdir(path, 0777) && errno != EEXIST) return ima_error("%s: cannot create folder", path);
    /* n is the caller's: an error naming the size when it does not fit, not an abort */
    float *a = ima_try_malloc(n, TOY_DA * sizeof(float)), *b = ima_try_malloc(n, TOY_DB * sizeof(float));
    int64_t *label = ima_try_malloc(n, sizeof(int64_t));
    uint8_t *an = ima_try_malloc(n, 1), *bn = ima_try_malloc(n, 1);
    if (!a || !b || !label || !an || !bn) {
        free(a), free(b), free(label), free(an), free(bn);
        return ima_error_prefix("%s", path);
    }
    double p_noise = R / (1.0 + R);
    for (size_t i = 0; i < n; i++) {
        int c = (int)ima_rng_below(rng, TOY_K);
        double ang = 6.283185307179586 * c / TOY_K;
        double h[2] = {2.0 * cos(ang) + 0.35 * ima_rng_normal(rng), 2.0 * sin(ang) + 0.35 * ima_rng_normal(rng)};
        label[i] = c;
        /* at most one modality of a pair is noise, each in a fraction R/(1+R) of the pairs, as in the
         * paper's pairing (N R image-noise pairs, N R speech-noise pairs, N (1-R) clean pairs) */
        double r = ima_rng_uniform(rng);
        an[i] = r < p_noise ? 1 : 0;
        bn[i] = !an[i] && r < 2 * p_noise ? 1 : 0;
        for (int k = 0; k < TOY_DA; k++) {
            double v = Pa[k * 2] * h[0] + Pa[k * 2 + 1] * h[1];
            a[i * TOY_DA + k] = an[i] ? (float)ima_rng_uniform(rng) : (float)(1.0 / (1.0 + exp(-v)));
        }
        for (int k = 0; k < TOY_DB; k++) {
            double v = Pb[k * 2] * h[0] + Pb[k * 2 + 1] * h[1] + 0.1 * ima_rng_normal(rng);
            b[i * TOY_DB + k] = bn[i] ? (float)(1.5 * ima_rng_normal(rng)) : (float)v;
        }
    }
    int rc = IMA_OK;
    size_t shape[1] = {n};
    const char *names[5] = {"a", "b", "label", "a_noise", "b_noise"};
    for (int f = 0; f < 5 && rc == IMA_OK; f++) {
        snprintf(path, sizeof path, "%s/%s/%s.npy", dir, split, names[f]);
        if (f == 0) rc = ima_npy_write_f32(path, n, TOY_DA, a);
        if (f == 1) rc = ima_npy_write_f32(path, n, TOY_DB, b);
        if (f == 2) rc = ima_npy_write(path, IMA_DTYPE_I64, 1, shape, label);
        if (f == 3) rc = ima_npy_write(path, IMA_DTYPE_U8, 1, shape, an);
        if (f == 4) rc = ima_npy_write(path, IMA_DTYPE_U8, 1, shape, bn);
    }
    free(a), free(b), free(label), free(an), free(bn);
    return rc;
}

int ima_toy_write(const char *dir, size_t n_train, size_t n_test, double noise_factor, uint64_t seed) {
    if (n_train < 1 || n_test < 1) return ima_error("toy: every split needs at least one sample");
    if (!(noise_factor >= 0 && noise_factor <= 1)) return ima_error("toy: noise factor must be in [0, 1]");
    if (mkdir(dir, 0777) && errno != EEXIST) return ima_error("%s: cannot create folder (%s)", dir, strerror(errno));
    ima_rng rng;
    ima_rng_init(&rng, seed);
    float Pa[TOY_DA * 2], Pb[TOY_DB * 2];
    for (int k = 0; k < TOY_DA * 2; k++) Pa[k] = (float)(1.2 * ima_rng_normal(&rng));
    for (int k = 0; k < TOY_DB * 2; k++) Pb[k] = (float)ima_rng_normal(&rng);
    if (write_split(dir, "train", n_train, noise_factor, Pa, Pb, &rng)) return IMA_ERR;
    return write_split(dir, "test", n_test, noise_factor, Pa, Pb, &rng);
}
