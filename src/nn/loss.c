/* loss.c: reconstruction losses. B rows, D features per row. Per-row sums accumulate in double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ima/nn.h"

void ima_bce_logits_forward(float *loss_rows, const float *logits, const float *target, size_t B, size_t D) {
    for (size_t r = 0; r < B; r++) {
        const float *a = logits + r * D, *x = target + r * D;
        double s = 0.0;
        for (size_t c = 0; c < D; c++) {
            /* max(a,0) - a x + log(1 + exp(-|a|)): finite for any finite a */
            float v = a[c];
            s += (double)(fmaxf(v, 0.0f) - v * x[c] + log1pf(expf(-fabsf(v))));
        }
        loss_rows[r] = (float)s;
    }
}

void ima_bce_logits_backward(float *dlogits, const float *logits, const float *target, const float *scale, size_t B,
                             size_t D) {
    for (size_t r = 0; r < B; r++) {
        const float *a = logits + r * D, *x = target + r * D;
        float *g = dlogits + r * D, s = scale[r];
        for (size_t c = 0; c < D; c++) g[c] += s * (ima_sigmoid(a[c]) - x[c]);
    }
}

void ima_sse_forward(float *loss_rows, const float *pred, const float *target, size_t B, size_t D) {
    for (size_t r = 0; r < B; r++) {
        const float *p = pred + r * D, *x = target + r * D;
        double s = 0.0;
        for (size_t c = 0; c < D; c++) {
            double d = (double)p[c] - (double)x[c];
            s += d * d;
        }
        loss_rows[r] = (float)s;
    }
}

void ima_sse_backward(float *dpred, const float *pred, const float *target, const float *scale, size_t B, size_t D) {
    for (size_t r = 0; r < B; r++) {
        const float *p = pred + r * D, *x = target + r * D;
        float *g = dpred + r * D, s = 2.0f * scale[r];
        for (size_t c = 0; c < D; c++) g[c] += s * (p[c] - x[c]);
    }
}

/* ---- fused BCE: loss rows and gradient in one vectorisable pass ---------------------
 * The reference kernels above call expf, log1pf and ima_sigmoid per element, which the compiler
 * cannot vectorise; this pass computes e = exp(-|a|) once per element with the polynomial below and
 * derives both the loss term max(a,0) - a x + log1p(e) and sigmoid(a) = (a >= 0 ? 1 : e) / (1 + e)
 * from it. Accuracy against the reference: tests/test_kernels.c. */

/* exp(x) for x <= 0: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (the
 * Cephes expf coefficients), scaled by 2^n through the exponent bits. Relative error ~2 ulp; inputs
 * below -87 return exp(-87) (1.6e-38, the loss and gradient terms then round to their limits); NaN
 * stays NaN. No calls and no branches, so that the loop around it vectorises. */
static inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    float nk = n == n ? n : 0.0f;  /* NaN: p is NaN already; keep the conversion defined */
    int32_t k = (int32_t)nk + 127; /* n in [-126, 0]: a normal float 2^n */
    k = k < 1 ? 1 : k;
    union {
        uint32_t u;
        float f;
    } scale = {.u = (uint32_t)k << 23}; /* 2^n: a register reinterpretation, no memory */
    return p * scale.f;
}

/* log1p(e) for e in [0, 1]: for e > sqrt(2) - 1, log1p(e) = ln2 + log1p((e - 1) / 2), so the
 * argument f of the polynomial stays in [-0.293, 0.415] and is formed without rounding 1 + e
 * (small e keep their full relative precision). log1p(f) = f - f^2/2 + f^3 P(f), P of degree 8
 * (the Cephes logf coefficients). */
static inline float log1p_unit(float e) {
    int hi = e > 0.41421356f;
    float f = hi ? (e - 1.0f) * 0.5f : e;
    float f2 = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float l = f + (p * f * f2 - 0.5f * f2);
    return (hi ? 0.693147180559945309f : 0.0f) + l;
}

/* one row of the loss: a float reduction in vector lanes (omp simd allows the reordering), ~1e-7
 * relative */
static inline float bce_row_loss(const float *restrict a, const float *restrict x, size_t D) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < D; c++) {
        float v = a[c], t = x[c];
        float e = exp_nonpos(-fabsf(v));
        sum += (v > 0.0f ? v : 0.0f) - v * t + log1p_unit(e);
    }
    return sum;
}

void ima_bce_logits_forward_fast(float *loss_rows, const float *logits, const float *target, size_t B, size_t D) {
    for (size_t r = 0; r < B; r++) loss_rows[r] = bce_row_loss(logits + r * D, target + r * D, D);
}

/* sigmoid(a) = (a >= 0 ? 1 : e) / (1 + e) from the same e = exp(-|a|) as the loss */
void ima_bce_logits_backward_fast(float *dlogits, const float *logits, const float *target, const float *scale,
                                  size_t B, size_t D) {
    for (size_t r = 0; r < B; r++) {
        const float *restrict a = logits + r * D, *restrict x = target + r * D;
        float *restrict g = dlogits + r * D, s = scale[r];
#pragma omp simd
        for (size_t c = 0; c < D; c++) {
            float v = a[c], e = exp_nonpos(-fabsf(v));
            g[c] += s * ((v >= 0.0f ? 1.0f : e) / (1.0f + e) - x[c]);
        }
    }
}
