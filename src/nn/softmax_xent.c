/* softmax_xent.c: softmax cross-entropy, forward and backward (see loss_xent.h).
 * B batch rows, C classes. Sums over a row accumulate in double. */
#include <math.h>

#include "ima/common.h"
#include "ima/loss_xent.h"

double ima_softmax_xent_forward(float *loss_rows, float *probs, const float *logits, const int64_t *targets, size_t B,
                                size_t C) {
    double total = 0.0;
    for (size_t r = 0; r < B; r++) {
        const float *a = logits + r * C; // (C)
        float *p = probs + r * C;        // (C)
        int64_t t = targets[r];
        if (t < 0 || (uint64_t)t >= C) { /* not a class: a NaN row (the caller's non-finite check sees it) */
            for (size_t c = 0; c < C; c++) p[c] = NAN;
            loss_rows[r] = NAN;
            total = NAN;
            continue;
        }
        float amax = a[0];
        for (size_t c = 1; c < C; c++) amax = a[c] > amax ? a[c] : amax;
        double s = 0.0;
        for (size_t c = 0; c < C; c++) s += exp((double)a[c] - (double)amax);
        double lse = (double)amax + log(s);
        for (size_t c = 0; c < C; c++) p[c] = (float)exp((double)a[c] - lse);
        double l = lse - (double)a[t];
        loss_rows[r] = (float)l;
        total += l;
    }
    return B ? total / (double)B : 0.0;
}

void ima_softmax_xent_backward(float *dlogits, const float *probs, const int64_t *targets, float scale, size_t B,
                               size_t C) {
    for (size_t r = 0; r < B; r++) {
        const float *p = probs + r * C;
        float *g = dlogits + r * C;
        for (size_t c = 0; c < C; c++) g[c] = scale * p[c];
        if (targets[r] >= 0 && (uint64_t)targets[r] < C) g[targets[r]] -= scale;
        else
            for (size_t c = 0; c < C; c++) g[c] = NAN; /* not a class (the forward's row is NaN too) */
    }
}
