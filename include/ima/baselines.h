/* baselines.h: the models IMA is compared against (SPEC.md section 6), trained and queried through one
 * small API so that a trainer can treat every kind alike:
 *
 *   ima_baseline_init(&bl, &cfg, max_batch, seed)       allocate, seeded init
 *   ima_baseline_sample_noise(bl, B, &rng)              draw the batch's noise (epsilon, subsets, dropout)
 *   ima_baseline_loss_grad(bl, &batch, grad, &terms)    loss of that batch with that noise, and its gradient
 *   ima_baseline_step(bl, &adam)                        one Adam step on every parameter
 *   ima_baseline_represent(bl, &batch, z)               representation (B, d) with any modalities present
 *
 * The noise is drawn by a separate call and kept in the model, so the loss is a deterministic function
 * of the parameters between draws (finite-difference checks, golden files); a trainer draws it before
 * every step.
 *
 * Dimensions: M modalities (j), B batch rows (i), D_j input width, H_j hidden width, d latent width,
 * Dc = sum_j D_j (concatenated input), Hc the joint hidden width (default sum_j H_j), S MVAE ELBO terms.
 *
 *   MVAE (Wu & Goodman 2018)
 *     expert E_j     D_j -> H_j -> H_j -> 2d   (mu_j, logvar_j), ReLU hidden
 *     prior expert   N(0, I)
 *     product        T = 1 + sum_{j in s} exp(-logvar_j),  mu = sum_{j in s} exp(-logvar_j) mu_j / T, var = 1/T
 *     decoder G_j    d -> H_j -> H_j -> D_j (2 D_j with a Gaussian log-variance head)
 *     loss           sum over terms s of [ sum_{j in s} Rec_j(x_j, G_j(z_s)) + beta KL(q_s || N(0,I)) ],
 *                    z_s = mu_s + eps_s / sqrt(T_s); terms: the joint, each single modality, and for M > 2
 *                    k random subsets (2 <= |s| <= M-1) drawn with the noise (the paper's subsampling).
 *     representation posterior mean of the product over the present modalities
 *   JMVAE-KL (Suzuki et al. 2016)
 *     joint encoder  Dc -> Hc -> Hc -> 2d on the concatenated inputs (a missing modality enters as zeros)
 *     experts E_j    D_j -> H_j -> H_j -> 2d
 *     decoder G_j    as MVAE
 *     loss           sum_j Rec_j(x_j, G_j(z)) + beta KL(q(z|x) || N(0,I)) + alpha sum_j KL(q(z|x) || q(z|x_j))
 *     representation joint posterior mean when every modality is present; otherwise the product of the present
 *                    unimodal posteriors (no prior), i.e. the unimodal mean when one is present
 *   Multimodal denoising autoencoder
 *     encoder        Dc -> Hc -> Hc -> d on the corrupted concatenated inputs
 *     decoder G_j    d -> H_j -> H_j -> D_j
 *     corruption     whole modalities dropped with probability p_mod (at least one kept), then each remaining
 *                    feature zeroed with probability p_feat (masking noise, no rescaling)
 *     loss           sum_j Rec_j(x_j, G_j(h)), every present modality reconstructed from the corrupted input
 *     representation h of the uncorrupted input (missing modalities as zeros)
 *
 * Every loss is a mean over the batch rows of per-row sums; only present modalities (mask) contribute.
 * Memory: parameters, gradients, Adam moments and activations each live in ONE buffer. Parameter order:
 * [experts E_0..E_{M-1} | joint encoder | decoders G_0..G_{M-1}] (absent parts take no space). */
#ifndef IMA_BASELINES_H
#define IMA_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#include "ima/model.h" /* IMA_MAX_MODALITIES, IMA_NAME_MAX, ima_loss_kind, ima_batch, ima_param_view */
#include "ima/nn.h"
#include "ima/rng.h"

typedef enum {
    IMA_BASELINE_MVAE = 0,  /* product-of-experts multimodal VAE */
    IMA_BASELINE_JMVAE = 1, /* JMVAE-KL */
    IMA_BASELINE_DAE = 2,   /* multimodal denoising autoencoder */
} ima_baseline_kind;

typedef struct {
    char name[IMA_NAME_MAX]; // [A-Za-z0-9_-], names the tensors
    size_t input_width;      // D_j
    size_t hidden_width;     // H_j
    ima_loss_kind loss;      // bce: sigmoid decoder, BCE; sse: linear decoder, SSE (or Gaussian NLL, below)
    int gaussian_logvar;     // sse only: 1 = the decoder also outputs a per-feature log-variance (2 D_j outputs)
                             // and Rec is the Gaussian NLL 0.5 sum (lv + (x-mu)^2 e^-lv + log 2pi)
    float lambda_rec;        // weight of Rec_j (1)
} ima_baseline_modality;

typedef struct {
    ima_baseline_kind kind;
    int n_modalities;        // M >= 1 (JMVAE and DAE: M >= 1 too; JMVAE with M = 1 is a VAE plus a copy)
    size_t latent_width;     // d
    size_t joint_hidden;     // Hc, JMVAE joint encoder / DAE encoder hidden width; 0 = sum_j H_j
    float beta;              // MVAE, JMVAE: weight of KL(q || N(0,I)) (1)
    float alpha;             // JMVAE: weight of sum_j KL(q(z|x) || q(z|x_j)) (0.01, docs/baselines.md)
    int mvae_subsets;        // MVAE, M > 2: k random subset ELBO terms per batch (0..16)
    float dae_feature_drop;  // DAE: feature masking probability (0.3)
    float dae_modality_drop; // DAE: whole-modality drop probability per row (0.3)
    ima_baseline_modality mod[IMA_MAX_MODALITIES];
} ima_baseline_config;

/* The digits configuration (image 784/500 bce, speech 696/100 bce, latent d) for a kind, defaults above. */
ima_baseline_config ima_baseline_config_digits(ima_baseline_kind kind, size_t latent);
/* The library's defaults (the CLI's too): the digits scalars (latent 50, beta 1, alpha 0.01, no MVAE
 * subsets, DAE drops 0.3, joint_hidden 0) and, for every mod[] entry, hidden 100, bce, lambda_rec 1,
 * an empty name and input width 0 (the caller names the modalities and sets their widths). */
ima_baseline_config ima_baseline_config_defaults(ima_baseline_kind kind);
/* The architecture that reproduces the paper's Table 4 counts: the same, with Gaussian (mean, log-variance)
 * decoder heads on both modalities (sse + gaussian_logvar). See docs/baselines.md. */
ima_baseline_config ima_baseline_config_digits_table4(ima_baseline_kind kind, size_t latent);
int ima_baseline_config_validate(const ima_baseline_config *cfg);
const char *ima_baseline_kind_name(ima_baseline_kind kind); /* "mvae", "jmvae", "dae" */
/* Parses "mvae" / "jmvae" / "dae"; an unknown name is an error. */
int ima_baseline_kind_parse(ima_baseline_kind *kind, const char *name);

#define IMA_BASELINE_MAX_SUBSETS 16
#define IMA_BASELINE_MAX_TERMS (1 + IMA_MAX_MODALITIES + IMA_BASELINE_MAX_SUBSETS)

/* Activation views of one modality (valid for the last forward pass). */
typedef struct {
    ima_mlp enc, dec; // expert (MVAE, JMVAE; enc.n_layers = 0 for DAE) and decoder
    ima_mlp_acts enc_acts, dec_acts;
    float *dstat; // (B, 2d) gradient w.r.t. the expert's (mu, logvar) output
    float *dout;  // (B, Dout) gradient w.r.t. the decoder output
} ima_baseline_modality_state;

typedef struct {
    ima_baseline_config cfg;
    size_t max_batch;
    size_t concat_width; // Dc
    ima_baseline_modality_state mod[IMA_MAX_MODALITIES];
    ima_mlp joint; // JMVAE joint encoder (Dc->Hc->Hc->2d), DAE encoder (Dc->Hc->Hc->d)
    ima_mlp_acts joint_acts;

    size_t n_params;
    size_t n_params_experts, n_params_joint, n_params_dec; // the three parts, in buffer order
    float *params;                                         // (n_params)
    float *grads;                                          // (n_params)
    float *adam_m, *adam_v;                                // (n_params) each
    long step;                                             // Adam steps taken

    /* noise for the next loss, drawn by ima_baseline_sample_noise for noise_B rows */
    size_t noise_B;
    int n_terms;                                                  // MVAE: ELBO terms S; JMVAE: 1; DAE: 0
    uint8_t term_set[IMA_BASELINE_MAX_TERMS][IMA_MAX_MODALITIES]; // MVAE: modality j in term s
    float *eps;                                                   // (S, B, d) MVAE, (B, d) JMVAE, standard normal
    float *keep;                                                  // (B, Dc) DAE: 1 keep, 0 dropped

    size_t n_acts;
    float *acts;     // every activation, one buffer
    float *xcat;     // (B, Dc) concatenated (and for the DAE corrupted) input
    float *stat;     // (B, 2d) posterior (mu, logvar) of the current term / joint posterior
    float *dstat;    // (B, 2d) its gradient
    float *T;        // (B, d) MVAE: log of the product precision (log T, mvae.c)
    float *z;        // (B, d) sample (or DAE code)
    float *dz;       // (B, d) gradient w.r.t. z
    float *dz_dec;   // (B, d) one decoder's share of dz
    float *row_w;    // (B) per-row weights
    float *rec_rows; // (B) per-row reconstruction loss, then its gradient scale
    float *scratch;  // MLP backward scratch

    /* threads (src/baselines/split.c): a batch's rows in two parts, one thread each, as IMA's
     * (src/model/parallel.c); results equal one thread's to float rounding */
    int threads;    // 0: OpenBLAS's thread count at each call (openblas_set_num_threads); 2: the row split (opt-in, split.c); else OpenBLAS alone
    ima_pool *pool; // the worker thread, created at the first split (NULL: none / not yet)
    float *grads2;  // (n_params) part 1's parameter gradients, allocated at the first split of a training step
} ima_baseline;

typedef struct {
    double rec[IMA_MAX_MODALITIES]; // sum over terms of sum_i m_ij Rec_ij / B (unweighted by lambda)
    double kl;                      // sum over terms of KL(q || N(0,I)), mean over rows
    double kl_uni;                  // JMVAE: sum_j KL(q(z|x) || q(z|x_j)), mean over rows
    double total;                   // the loss with lambda_rec, beta, alpha
} ima_baseline_terms;

/* Allocates and initialises (seeded; PyTorch nn.Linear init in buffer order) a model for max_batch rows. */
int ima_baseline_init(ima_baseline **out, const ima_baseline_config *cfg, size_t max_batch, uint64_t seed);
void ima_baseline_free(ima_baseline *bl); /* NULL is fine */
/* Parameter counts: unimodal experts, joint (multimodal) encoder, decoders; returns the total. Any may be NULL. */
size_t ima_baseline_param_counts(const ima_baseline *bl, size_t *experts, size_t *joint, size_t *decoders);
/* The same counts from a configuration alone (no allocation); 0 if the configuration is invalid. */
size_t ima_baseline_config_param_counts(const ima_baseline_config *cfg, size_t *experts, size_t *joint,
                                        size_t *decoders);
/* Named views of every parameter tensor in buffer order: "<modality>.expert.<l>.<weight|bias>",
 * "joint.<l>.<weight|bias>", "<modality>.decoder.<l>.<weight|bias>". Returns the count. */
size_t ima_baseline_param_views(const ima_baseline *bl, ima_param_view *views, size_t cap);

/* sample_noise, loss_grad and represent return IMA_ERR with a message naming the function for a batch of 0
 * or more than max_batch rows,
 * a NULL input, a row with every modality masked, or (loss) a batch whose B differs from the noise's;
 * nothing is computed then. */
/* Draws the noise of the next loss for B rows from rng (MVAE: random subsets then eps per term; JMVAE: eps;
 * DAE: modality then feature drops). */
int ima_baseline_sample_noise(ima_baseline *bl, size_t B, ima_rng *rng);
/* Loss of the batch with the current noise (b->B must equal the noise's B; every row needs a modality
 * present) and, when grad != 0, its gradient: zeroes then fills bl->grads. */
int ima_baseline_loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms);
/* One Adam step on every parameter. */
void ima_baseline_step(ima_baseline *bl, const ima_adam_config *cfg);
/* Representation z (B, d) of a batch (deterministic: posterior means, no corruption). */
int ima_baseline_represent(ima_baseline *bl, const ima_batch *b, float *z);

#endif
