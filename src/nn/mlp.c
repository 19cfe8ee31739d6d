/* mlp.c: a stack of dense layers with ReLU between them (none after the last).
 * L layers, width[0] input .. width[L] output, B batch rows.
 * Parameters of layer l sit contiguously: W_l (width[l+1], width[l]) then b_l (width[l+1]). */
#include <stdio.h>
#include <string.h>

#include "core/blas.h"
#include "ima/common.h"
#include "ima/nn.h"

size_t ima_mlp_setup(ima_mlp *mlp, int n_layers, const size_t *width) {
    memset(mlp, 0, sizeof *mlp);
    if (n_layers < 1 || n_layers > IMA_MLP_MAX_LAYERS) {
        ima_error("mlp: %d layers: expected 1 to %d", n_layers, IMA_MLP_MAX_LAYERS);
        return 0;
    }
    mlp->n_layers = n_layers;
    size_t count = 0;
    for (int l = 0; l <= n_layers; l++) mlp->width[l] = width[l];
    for (int l = 0; l < n_layers; l++) count += width[l + 1] * width[l] + width[l + 1];
    return count;
}

void ima_mlp_bind(ima_mlp *mlp, float *params, float *grads) {
    size_t off = 0;
    for (int l = 0; l < mlp->n_layers; l++) {
        size_t I = mlp->width[l], O = mlp->width[l + 1];
        mlp->W[l] = params + off;
        mlp->dW[l] = grads ? grads + off : NULL;
        off += O * I;
        mlp->b[l] = params + off;
        mlp->db[l] = grads ? grads + off : NULL;
        off += O;
    }
}

size_t ima_mlp_acts_size(const ima_mlp *mlp, size_t max_batch) {
    size_t n = 0;
    for (int l = 0; l < mlp->n_layers; l++) n += max_batch * mlp->width[l + 1];
    return n;
}

void ima_mlp_acts_bind(ima_mlp_acts *acts, const ima_mlp *mlp, float *buf, size_t max_batch) {
    for (int l = 0; l < mlp->n_layers; l++) {
        acts->out[l] = buf;
        buf += max_batch * mlp->width[l + 1];
    }
}

void ima_mlp_acts_rows(ima_mlp_acts *view, const ima_mlp *mlp, const ima_mlp_acts *acts, size_t r0) {
    for (int l = 0; l < mlp->n_layers; l++) view->out[l] = acts->out[l] + r0 * mlp->width[l + 1];
}

size_t ima_mlp_scratch_size(const ima_mlp *mlp, size_t max_batch) {
    size_t w = 0;
    for (int l = 1; l < mlp->n_layers; l++)
        if (mlp->width[l] > w) w = mlp->width[l];
    return 2 * max_batch * w; /* two ping-pong buffers of hidden-layer gradients */
}

void ima_mlp_init(ima_mlp *mlp, ima_rng *rng) {
    for (int l = 0; l < mlp->n_layers; l++) ima_dense_init(mlp->W[l], mlp->b[l], mlp->width[l], mlp->width[l + 1], rng);
}

void ima_mlp_forward(const ima_mlp *mlp, ima_mlp_acts *acts, const float *x, size_t B) {
    const float *in = x;
    for (int l = 0; l < mlp->n_layers; l++) {
        size_t I = mlp->width[l], O = mlp->width[l + 1];
        ima_dense_forward(acts->out[l], in, mlp->W[l], mlp->b[l], B, I, O);
        if (l < mlp->n_layers - 1) ima_relu_forward(acts->out[l], acts->out[l], B * O);
        in = acts->out[l];
    }
}

/* din (B,O) = dout * (out > 0) in place, and db (O) += colsum(din): the ReLU backward of one layer
 * fused with the bias gradient of the layer below it (the same additions, in the same row order, as
 * ima_dense_backward's column sum) */
static void relu_backward_colsum(float *restrict g, float *restrict db, const float *restrict out, size_t B, size_t O) {
    for (size_t r = 0; r < B; r++) {
        float *gr = g + r * O;
        const float *o = out + r * O;
#pragma omp simd
        for (size_t c = 0; c < O; c++) {
            float v = o[c] > 0.0f ? gr[c] : 0.0f;
            gr[c] = v;
            db[c] += v;
        }
    }
}

void ima_mlp_backward(const ima_mlp *mlp, const ima_mlp_acts *acts, float *dx, const float *dout, const float *x,
                      size_t B, float *scratch) {
    int L = mlp->n_layers;
    size_t half = ima_mlp_scratch_size(mlp, B) / 2;
    float *buf[2] = {scratch, scratch + half};
    const float *g = dout; /* gradient w.r.t. the output of layer l (after its activation) */
    for (int l = L - 1; l >= 0; l--) {
        size_t I = mlp->width[l], O = mlp->width[l + 1];
        const float *in = l > 0 ? acts->out[l - 1] : x;
        /* dW (O,I) += g^T (O,B) in (B,I) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)I, (int)B, 1.0f, g, (int)O, in, (int)I, 1.0f,
                    mlp->dW[l], (int)I);
        if (l == L - 1) /* below the output layer, the fused ReLU pass sums db */
            for (size_t r = 0; r < B; r++)
                for (size_t c = 0; c < O; c++) mlp->db[l][c] += g[r * O + c];
        if (l == 0) {
            if (dx) /* dx (B,I) += g W: accumulates */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)I, (int)O, 1.0f, g, (int)O,
                            mlp->W[l], (int)I, 1.0f, dx, (int)I);
            break;
        }
        /* hidden layer: din (B,I) = g W, fresh (beta 0: OpenBLAS zeroes it, as a memset would), then
         * the ReLU mask of layer l-1 and its bias gradient in one pass */
        float *din = buf[l & 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)I, (int)O, 1.0f, g, (int)O, mlp->W[l],
                    (int)I, 0.0f, din, (int)I);
        relu_backward_colsum(din, mlp->db[l - 1], acts->out[l - 1], B, I);
        g = din;
    }
}

size_t ima_mlp_param_views(const ima_mlp *mlp, const char *prefix, ima_param_view *v, size_t n, size_t cap) {
    for (int l = 0; l < mlp->n_layers; l++) {
        for (int k = 0; k < 2; k++, n++) {
            if (n >= cap) continue;
            ima_param_view *p = &v[n];
            snprintf(p->name, sizeof p->name, "%s.%d.%s", prefix, l, k ? "bias" : "weight");
            p->data = k ? mlp->b[l] : mlp->W[l];
            p->grad = k ? mlp->db[l] : mlp->dW[l];
            p->ndim = k ? 1 : 2;
            p->shape[0] = mlp->width[l + 1];
            p->shape[1] = k ? 0 : mlp->width[l];
            p->count = k ? mlp->width[l + 1] : mlp->width[l + 1] * mlp->width[l];
        }
    }
    return n;
}
