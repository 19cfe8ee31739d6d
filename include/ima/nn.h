/* nn.h: neural-network building blocks with hand-written forward and backward passes.
 *
 * Dimensions: B batch rows, I layer input width, O layer output width, n element count.
 * Every matrix is row-major. A dense layer's weight is W (O, I), as PyTorch's nn.Linear,
 * so out = in W^T + b; all matrix products go through OpenBLAS (cblas_sgemm).
 *
 * Conventions (llm.c): outputs first, const inputs, dimensions last.
 * Backward passes ACCUMULATE (+=), llm.c's convention: into parameter gradients and into the
 * gradient with respect to their input alike, so that a tensor feeding several consumers (the fused
 * z of IMA feeds every decoder and the alignment terms) sums their contributions without a copy.
 * Zeroing gradients is the caller's own call, once per step. */
#ifndef IMA_NN_H
#define IMA_NN_H

#include <stddef.h>

#include "ima/rng.h"

/* ---- kernels ---------------------------------------------------------------- */

/* out (B,O) = in (B,I) W^T (O,I) + b (O) */
void ima_dense_forward(float *out, const float *in, const float *W, const float *b, size_t B, size_t I, size_t O);
/* dW (O,I) += dout^T in; db (O) += colsum(dout); din (B,I) += dout W  (din may be NULL) */
void ima_dense_backward(float *din, float *dW, float *db, const float *dout, const float *in, const float *W, size_t B,
                        size_t I, size_t O);

void ima_relu_forward(float *out, const float *in, size_t n);
/* din = dout * (out > 0); din may alias dout (element-wise activations transform a gradient in place:
 * the one exception to the += rule) */
void ima_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* numerically stable: 1/(1+exp(-x)) for x>=0, exp(x)/(1+exp(x)) otherwise */
float ima_sigmoid(float x);
void ima_sigmoid_forward(float *out, const float *in, size_t n);
/* din = dout * out * (1 - out); din may alias dout */
void ima_sigmoid_backward(float *din, const float *dout, const float *out, size_t n);

/* Binary cross-entropy from logits, summed over D per row, stable form
 *   l = max(a,0) - a*x + log1p(exp(-|a|)).
 * loss_rows (B) = per-row sums (double accumulation). Reference kernels (libm). */
void ima_bce_logits_forward(float *loss_rows, const float *logits, const float *target, size_t B, size_t D);
/* dlogits (B,D) += scale[i] * (sigmoid(a) - x); scale (B) per row (e.g. lambda * mask / B) */
void ima_bce_logits_backward(float *dlogits, const float *logits, const float *target, const float *scale, size_t B,
                             size_t D);

/* The same pair vectorised (exp and log1p by polynomials, ~2 ulp; the per-row sum a float reduction):
 * agrees with the reference kernels to ~1e-6 relative (tests/test_kernels.c). IMA's stage 1 uses it. */
void ima_bce_logits_forward_fast(float *loss_rows, const float *logits, const float *target, size_t B, size_t D);
void ima_bce_logits_backward_fast(float *dlogits, const float *logits, const float *target, const float *scale,
                                  size_t B, size_t D);

/* Sum of squared errors per row: loss_rows (B) = sum_d (pred - target)^2 */
void ima_sse_forward(float *loss_rows, const float *pred, const float *target, size_t B, size_t D);
/* dpred (B,D) += scale[i] * 2 (pred - target) */
void ima_sse_backward(float *dpred, const float *pred, const float *target, const float *scale, size_t B, size_t D);

/* ---- initialisation ------------------------------------------------------------ */

/* PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(I), 1/sqrt(I)), drawn from rng in order W then b. */
void ima_dense_init(float *W, float *b, size_t I, size_t O, ima_rng *rng);

/* ---- optimizers -------------------------------------------------------------------- */

typedef struct {
    float lr;           // learning rate (paper: Adam 1e-3)
    float beta1, beta2; // moment decay rates (0.9, 0.999)
    float eps;          // denominator guard (1e-8)
    float weight_decay; // L2 added to the gradient (0)
} ima_adam_config;

ima_adam_config ima_adam_defaults(void);
/* One Adam step (PyTorch semantics, bias-corrected), t = step number starting at 1. */
void ima_adam_update(float *params, const float *grads, float *m, float *v, size_t n, const ima_adam_config *cfg,
                     long t);
/* params -= lr * grads */
void ima_sgd_update(float *params, const float *grads, size_t n, float lr);

/* ---- multilayer perceptron: a stack of dense layers, ReLU between them ------------- */

#define IMA_MLP_MAX_LAYERS 8

typedef struct {
    int n_layers;                         // number of dense layers L
    size_t width[IMA_MLP_MAX_LAYERS + 1]; // width[0] input ... width[L] output
    float *W[IMA_MLP_MAX_LAYERS];         // (width[l+1], width[l]) views into a params buffer
    float *b[IMA_MLP_MAX_LAYERS];         // (width[l+1])
    float *dW[IMA_MLP_MAX_LAYERS];        // views into a grads buffer (same offsets)
    float *db[IMA_MLP_MAX_LAYERS];
} ima_mlp;

/* Activations of one MLP for up to max_batch rows: views into an activation buffer. */
typedef struct {
    float *out[IMA_MLP_MAX_LAYERS]; // (B, width[l+1]); ReLU applied for l < L-1, raw for the last layer
} ima_mlp_acts;

/* Describe the MLP; returns its parameter count, or 0 (mlp zeroed, with an error) when n_layers is
 * outside 1..IMA_MLP_MAX_LAYERS. */
size_t ima_mlp_setup(ima_mlp *mlp, int n_layers, const size_t *width);
/* Bind views: params and grads point at this MLP's first parameter (layer 0 W, b, layer 1 W, b, ...). */
void ima_mlp_bind(ima_mlp *mlp, float *params, float *grads);
/* floats of activation storage for max_batch rows */
size_t ima_mlp_acts_size(const ima_mlp *mlp, size_t max_batch);
void ima_mlp_acts_bind(ima_mlp_acts *acts, const ima_mlp *mlp, float *buf, size_t max_batch);
/* view (rows r0 ..) of acts: the activations of a batch's rows from r0 on, as a batch of its own */
void ima_mlp_acts_rows(ima_mlp_acts *view, const ima_mlp *mlp, const ima_mlp_acts *acts, size_t r0);
/* floats of scratch needed by ima_mlp_backward for max_batch rows */
size_t ima_mlp_scratch_size(const ima_mlp *mlp, size_t max_batch);
void ima_mlp_init(ima_mlp *mlp, ima_rng *rng);

/* Forward: x (B, width[0]) -> acts->out[L-1] (B, width[L]) (no output activation). */
void ima_mlp_forward(const ima_mlp *mlp, ima_mlp_acts *acts, const float *x, size_t B);
/* A named view of one parameter tensor and its gradient (checkpoints, golden files). */
typedef struct {
    char name[96];
    float *data;
    float *grad;
    int ndim;
    size_t shape[2];
    size_t count;
} ima_param_view;
/* Appends the views "<prefix>.<layer>.<weight|bias>" of one MLP at views[n], W (O, I) then b (O) per
 * layer; views past cap are counted but not written. Returns the new count (shared by the IMA model
 * and the baselines). */
size_t ima_mlp_param_views(const ima_mlp *mlp, const char *prefix, ima_param_view *views, size_t n, size_t cap);

/* Backward from dout (B, width[L]) (gradient w.r.t. the raw output): accumulates dW, db, and
 * dx (B, width[0]) += dL/dx if dx != NULL. scratch: ima_mlp_scratch_size floats. */
void ima_mlp_backward(const ima_mlp *mlp, const ima_mlp_acts *acts, float *dx, const float *dout, const float *x,
                      size_t B, float *scratch);

/* ---- a fork/join of two parts (src/nn/pool.c) ---------------------------------------------------------
 * Part 0 runs on the calling thread, part 1 on the pool's one worker thread; ima_pool_run2 returns when
 * both have finished. The worker polls for ~0.2 ms after a task, then sleeps. */
typedef struct ima_pool ima_pool;
/* NULL when the thread cannot be created (callers then run serially) */
ima_pool *ima_pool_create(void);
void ima_pool_free(ima_pool *p); /* NULL is fine */
/* fn(ctx, 0) here and fn(ctx, 1) on the worker; with p == NULL both here, in order */
void ima_pool_run2(ima_pool *p, void (*fn)(void *ctx, int part), void *ctx);
/* the same with OpenBLAS on one thread meanwhile (its count restored after): the two parts' products each
 * on its own core, never waiting for the other's */
void ima_pool_run2_blas1(ima_pool *p, void (*fn)(void *ctx, int part), void *ctx);

/* Element-wise passes over n floats, in two chunks (part 1 on the worker) when p != NULL and
 * n >= IMA_POOL_MIN_FLOATS, else on the caller; the results do not depend on the split.
 *   ima_pool_sum         a += b
 *   ima_pool_all_finite  1 when no element of x is Inf or NaN
 *   ima_pool_adam        one ima_adam_update step */
#define IMA_POOL_MIN_FLOATS 65536
void ima_pool_sum(ima_pool *p, float *a, const float *b, size_t n);
int ima_pool_all_finite(ima_pool *p, const float *x, size_t n);
void ima_pool_adam(ima_pool *p, float *params, const float *grads, float *m, float *v, size_t n,
                   const ima_adam_config *cfg, long t);

#endif
