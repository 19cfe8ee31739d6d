/* internal.h: pieces shared by the baseline models (the files in src/baselines); not a public API.
 * M modalities j, B rows i, D_j input, Dout_j decoder output (D_j, or 2 D_j with a log-variance head),
 * Dc concatenated width, d latent. */
#ifndef IMA_BASELINES_INTERNAL_H
#define IMA_BASELINES_INTERNAL_H

#include "ima/baselines.h"

static inline int bl_present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }
/* rows the loss is a mean over: the whole batch's, also when b is a part of it (split.c) */
static inline size_t bl_loss_rows(const ima_batch *b) { return b->B_total ? b->B_total : b->B; }

/* ---- threads (split.c): the batch's rows in two parts, one thread each -------------------------------- */
typedef void (*bl_loss_fn)(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms);
typedef void (*bl_represent_fn)(ima_baseline *bl, const ima_batch *b, float *z);
/* loss(bl, b, grad, terms) over the batch's rows, in two parts on two threads when bl's threads are 2 (terms
 * and gradients summed over the parts); loss must treat b as rows of a batch of bl_loss_rows(b) rows */
void bl_split_loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms, bl_loss_fn loss);
void bl_split_represent(ima_baseline *bl, const ima_batch *b, float *z, bl_represent_fn represent);
/* the pool for element-wise passes over the parameters (Adam, the finiteness check): NULL below 2 threads */
ima_pool *bl_elementwise_pool(ima_baseline *bl);

/* xcat (B, Dc) = [x_0 | x_1 | ...] with the rows of missing modalities set to zero */
void bl_concat(const ima_baseline *bl, const ima_batch *b, float *xcat);

/* Decoder j on bl->z (B, d): returns sum_i w_i Rec_j(x_ij, G_j(z_i)) with w (B) per-row weights.
 * With grad: backward with row scale lambda_rec_j w_i / B, ACCUMULATES into bl->dz and the decoder grads. */
double bl_reconstruct(ima_baseline *bl, int j, const ima_batch *b, const float *w, int grad);

/* Gaussian NLL with a log-variance head: out (B, 2D) = [mu (D) | logvar (D)] per row.
 * rows (B) = 0.5 sum_c (lv + (x - mu)^2 exp(-lv) + log 2 pi). */
void bl_gauss_nll_forward(float *rows, const float *out, const float *x, size_t B, size_t D);
/* dout (B, 2D) = scale_i * d rows_i / d out */
void bl_gauss_nll_backward(float *dout, const float *out, const float *x, const float *scale, size_t B, size_t D);

/* One kind of baseline: its name and entry points. baseline.c dispatches through a table of these, in
 * ima_baseline_kind order; each kind's file defines its own. */
typedef struct {
    const char *name; // "mvae", as --model names it
    void (*sample_noise)(ima_baseline *bl, size_t B, ima_rng *rng);
    void (*loss_grad)(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms);
    void (*represent)(ima_baseline *bl, const ima_batch *b, float *z);
} bl_kind;
extern const bl_kind bl_kind_mvae, bl_kind_jmvae, bl_kind_dae; /* mvae.c, jmvae.c, dae.c */

#endif
