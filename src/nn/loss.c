/* loss.c: reconstruction losses. B rows, D features per row. Per-row sums accumulate in double. */
#include <math.h>

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
        for (size_t c = 0; c < D; c++) g[c] = s * (ima_sigmoid(a[c]) - x[c]);
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
        for (size_t c = 0; c < D; c++) g[c] = s * (p[c] - x[c]);
    }
}
