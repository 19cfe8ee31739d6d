/* optim.c: Adam (PyTorch semantics) and plain SGD over one contiguous parameter range. n parameters. */
#include <math.h>

#include "ima/nn.h"

ima_adam_config ima_adam_defaults(void) {
    ima_adam_config c = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};
    return c;
}

void ima_adam_update(float *params, const float *grads, float *m, float *v, size_t n, const ima_adam_config *cfg,
                     long t) {
    /* bias corrections computed once, in double, as torch.optim.Adam does */
    double bc1 = 1.0 - pow((double)cfg->beta1, (double)t);
    double bc2 = 1.0 - pow((double)cfg->beta2, (double)t);
    float step = (float)((double)cfg->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps, wd = cfg->weight_decay;
    for (size_t k = 0; k < n; k++) {
        float g = grads[k] + wd * params[k];
        m[k] = b1 * m[k] + (1.0f - b1) * g;
        v[k] = b2 * v[k] + (1.0f - b2) * g * g;
        params[k] -= step * m[k] / (sqrtf(v[k]) * inv_sqrt_bc2 + eps);
    }
}

void ima_sgd_update(float *params, const float *grads, size_t n, float lr) {
    for (size_t k = 0; k < n; k++) params[k] -= lr * grads[k];
}
