/* dense.c: fully connected layer, forward and backward, through OpenBLAS.
 * B batch, I input width, O output width. W (O, I) row-major as nn.Linear. */
#include "core/blas.h"
#include <math.h>

#include "ima/nn.h"

void ima_dense_forward(float *out, const float *in, const float *W, const float *b, size_t B, size_t I, size_t O) {
    /* out = broadcast(b), then out += in W^T: the bias costs one pass that GEMM reads anyway */
    for (size_t r = 0; r < B; r++) {
        float *o = out + r * O;
        for (size_t c = 0; c < O; c++) o[c] = b[c];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)O, (int)I, 1.0f, in, (int)I, W, (int)I, 1.0f, out,
                (int)O);
}

void ima_dense_backward(float *din, float *dW, float *db, const float *dout, const float *in, const float *W, size_t B,
                        size_t I, size_t O) {
    /* dW (O,I) += dout^T (O,B) in (B,I) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)I, (int)B, 1.0f, dout, (int)O, in, (int)I, 1.0f,
                dW, (int)I);
    for (size_t r = 0; r < B; r++) {
        const float *g = dout + r * O;
        for (size_t c = 0; c < O; c++) db[c] += g[c];
    }
    /* din (B,I) += dout (B,O) W (O,I) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)I, (int)O, 1.0f, dout, (int)O, W, (int)I,
                    1.0f, din, (int)I);
}

void ima_dense_init(float *W, float *b, size_t I, size_t O, ima_rng *rng) {
    double bound = 1.0 / sqrt((double)I);
    for (size_t k = 0; k < O * I; k++) W[k] = (float)((2.0 * ima_rng_uniform(rng) - 1.0) * bound);
    for (size_t k = 0; k < O; k++) b[k] = (float)((2.0 * ima_rng_uniform(rng) - 1.0) * bound);
}
