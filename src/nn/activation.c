/* activation.c: ReLU and sigmoid, forward and backward. n element count. */
#include <math.h>

#include "ima/nn.h"

void ima_relu_forward(float *out, const float *in, size_t n) {
    for (size_t k = 0; k < n; k++) out[k] = in[k] > 0.0f ? in[k] : 0.0f;
}

void ima_relu_backward(float *din, const float *dout, const float *out, size_t n) {
    for (size_t k = 0; k < n; k++) din[k] = out[k] > 0.0f ? dout[k] : 0.0f;
}

float ima_sigmoid(float x) {
    /* never exponentiate a large positive number */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void ima_sigmoid_forward(float *out, const float *in, size_t n) {
    for (size_t k = 0; k < n; k++) out[k] = ima_sigmoid(in[k]);
}

void ima_sigmoid_backward(float *din, const float *dout, const float *out, size_t n) {
    for (size_t k = 0; k < n; k++) din[k] = dout[k] * out[k] * (1.0f - out[k]);
}
