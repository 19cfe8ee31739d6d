/* model.h: the Importance-based Multimodal Autoencoder (SPEC.md sections 1-3).
 *
 * Dimensions: M modalities (index j), B batch rows (index i), D_j input width, H_j hidden width,
 * d shared latent width.
 *
 *   encoder E_j     D_j -> H_j -> H_j -> d      (ReLU, ReLU, linear)  u_j
 *   decoder G_j     d   -> H_j -> H_j -> D_j    (ReLU, ReLU, sigmoid for bce / linear for sse)
 *   importance I_j  D_j -> H_j -> H_j -> 1      (ReLU, ReLU, sigmoid) y_j
 *   fusion          z_i = sum_j m_ij y_ij u_ij / sum_j m_ij y_ij
 *
 * Memory: parameters, gradients, Adam moments (m, v) and activations each live in ONE buffer.
 * Parameters are ordered [autoencoder: E_0 G_0 E_1 G_1 ... | importance: I_0 I_1 ...] so that each
 * training stage updates one contiguous range. Within an MLP: layer 0 W (O,I), b (O), layer 1 ...
 * Optional input centring (SPEC section 8): the training mean of each modality is subtracted at the
 * encoder and importance-net inputs (not at the decoder targets); it is a buffer, not a parameter. */
#ifndef IMA_MODEL_H
#define IMA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ima/nn.h"

#define IMA_MAX_MODALITIES 16
#define IMA_NAME_MAX 32

typedef enum {
    IMA_LOSS_BCE = 0, /* inputs in [0,1], decoder ends in a sigmoid, BCE summed over features */
    IMA_LOSS_SSE = 1, /* real inputs, linear decoder output, sum of squared errors */
} ima_loss_kind;

typedef struct {
    char name[IMA_NAME_MAX]; // unique, [A-Za-z0-9_-], e.g. "image"; names the checkpoint tensors
    size_t input_width;      // D_j
    size_t hidden_width;     // H_j
    ima_loss_kind loss;      // reconstruction loss and decoder output
    float lambda_rec;        // weight of Rec_j in L_auto (1)
    float lambda_align;      // weight of ||z - u_j||^2 in L_auto (1)
    float lambda_local;      // weight of KL(Bern(ybar) || Bern(rho)) in L_imp (1)
    float lambda_corr;       // weight of ||C_j||_F^2 in L_imp (1)
    float rho;               // importance prior rho_j in (0,1)
} ima_modality_config;

/* Which stage-2 objective trains the importance nets (docs/importance.md). */
typedef enum {
    IMA_IMPORTANCE_PAPER = 0,    /* the paper's: weighted cross-covariance + Bernoulli KL to rho (SPEC 2) */
    IMA_IMPORTANCE_LOCAL_EV = 1, /* beyond the paper: BCE to calibrated local explained-variance targets */
} ima_importance_objective;
#define IMA_N_IMPORTANCE_OBJECTIVES 2
#define IMA_LOCAL_EV_DEFAULT_K 50

/* "paper" / "local-ev"; NULL for a value out of range */
const char *ima_importance_objective_name(ima_importance_objective o);
/* Parses a name; an unknown name is an error listing the known ones. */
int ima_importance_objective_parse(const char *name, ima_importance_objective *out);

typedef struct {
    int n_modalities;                              // M >= 1
    size_t latent_width;                           // d
    float lambda_glob;                             // weight of ||z||^2 in L_auto (1)
    int center_inputs;                             // 1: subtract the training mean at encoder / importance inputs
    ima_importance_objective importance_objective; // stage-2 objective (paper)
    size_t local_ev_k;                             // local-ev: neighbours per sample (0 = IMA_LOCAL_EV_DEFAULT_K)
    float fusion_sharpness; // k: the representations' fusion weight sigmoid(k logit y) (training fuses with y);
                            // 0 or 1: w = y, the paper's fusion (0); k > 1 (at most IMA_MAX_FUSION_SHARPNESS):
                            // beyond the paper, docs/importance.md
    ima_modality_config mod[IMA_MAX_MODALITIES];
} ima_config;
#define IMA_MAX_FUSION_SHARPNESS 1000.0f
/* a valid ima_config.fusion_sharpness: 0 or 1 (the paper's fusion) or a value in (1, IMA_MAX_FUSION_SHARPNESS] */
static inline int ima_fusion_sharpness_valid(double k) { return k == 0 || (k >= 1 && k <= IMA_MAX_FUSION_SHARPNESS); }

/* The library's defaults, the one set (the CLI reads its defaults from here): latent 50, lambda_glob 1,
 * centring on, n_modalities 0; every mod[] entry hidden 100, bce, every lambda 1, rho 0.5, with an
 * empty name and input width 0 (the caller names the modalities and sets the widths). */
ima_config ima_config_defaults(void);
/* The paper's digits configuration: image 784/500/bce (rho 0.8), speech 696/100/bce (rho 0.3), d = latent. */
ima_config ima_config_digits(size_t latent);
/* Checks widths, names, lambdas, rho; an error names the field. */
int ima_config_validate(const ima_config *cfg);

/* Which fusion weights stage 1 (and the z of stage 2) use. */
typedef enum {
    IMA_WEIGHTS_ONE = 0,        /* y = 1: plain mean of the present modalities (round 1) */
    IMA_WEIGHTS_IMPORTANCE = 1, /* y = I_j(x_j), treated as constants */
} ima_weights;

/* One modality's networks and its activation views (valid for the last forward pass). */
typedef struct {
    ima_mlp enc, dec, imp;
    ima_mlp_acts enc_acts, dec_acts, imp_acts;
    float *center; // (D) training mean, zeros when centring is off      [buffers]
    float *xc;     // (B, D) centred input                                 [activations]
    float *y;      // (B) fusion weight used in the last forward (1 or I_j(x))
    float *y_imp;  // (B) sigmoid of the importance logit (after ima_model_importance)
    float *y_comp; // (B) 1 - y_imp computed as sigmoid(-logit)
    float *du;     // (B, d) gradient w.r.t. u_j
} ima_modality;

typedef struct {
    ima_config cfg;
    size_t max_batch; // activation buffers hold this many rows
    ima_modality mod[IMA_MAX_MODALITIES];

    size_t n_params;        // all parameters
    size_t n_params_ae;     // encoders + decoders: params[0 .. n_params_ae)
    size_t n_params_imp;    // importance nets: params[n_params_ae .. n_params)
    float *params;          // (n_params)
    float *grads;           // (n_params)
    float *adam_m, *adam_v; // (n_params) each
    long step_ae, step_imp; // Adam steps taken by each stage
    size_t n_buffers;
    float *buffers; // (sum D_j) centring means

    size_t n_acts;
    float *acts;      // every activation, one buffer
    float *z;         // (B, d) fused representation
    float *dz;        // (B, d) gradient w.r.t. z (glob, alignment and every decoder add to it)
    float *tmp;       // (B, max(d, D_j)) scratch: a decoder's output gradient
    float *scratch;   // MLP backward scratch
    float *row_scale; // (B)
    float *row_loss;  // (B) per-row reconstruction loss
    double *work;     // (d*d + 3d + 3B) stage-2 work in double: C, T, mu_z, mu_u, dy, dlogit, row selection
    float *dlogits;   // (M, B) stage 2: each importance net's output gradient

    /* threads (src/model/parallel.c): a batch's rows in two parts, one thread each */
    int threads;    // 0: OpenBLAS's thread count at each call (openblas_set_num_threads); 2: split; else OpenBLAS alone
    ima_pool *pool; // the worker thread of the split, created at the first split (NULL: none / not yet)
    float *grads2;  // (n_params) part 1's parameter gradients, allocated at the first split of a training step
} ima_model;

/* Largest max_batch a model (and a checkpoint's train_state) accepts. */
#define IMA_MAX_BATCH (1 << 24)
/* Allocates and initialises (seeded) a model able to process max_batch rows at a time. When memory
 * runs out it returns IMA_ERR with a message naming the size (it never ends the process). */
int ima_model_init(ima_model **out, const ima_config *cfg, size_t max_batch, uint64_t seed);
void ima_model_free(ima_model *m); /* NULL is fine */
/* Parameter counts of the three network kinds summed over modalities (SPEC section 1). */
void ima_model_param_counts(const ima_model *m, size_t *encoders, size_t *decoders, size_t *importance);

/* Named views of every parameter tensor, in buffer order (for checkpoints and golden files):
 * "<modality>.<encoder|decoder|importance>.<layer>.<weight|bias>". Returns the count. (ima_param_view
 * and the per-MLP ima_mlp_param_views: nn.h) */
size_t ima_model_param_views(const ima_model *m, ima_param_view *views, size_t cap);

/* A batch: x[j] (B, D_j) rows; mask (B, M), 1 = present, NULL = all present.
 * Every row must have at least one modality present (checked by the data loader). */
typedef struct {
    size_t B;
    const float *x[IMA_MAX_MODALITIES];
    const uint8_t *mask;
    const float *target; // (B, M) local-ev importance targets in [0,1], NaN = none; NULL for the paper's objective
    /* data-parallel training (collective.h): these B rows are one rank's share of a global batch of
     * B_total rows, and the losses' row sums are summed over coll. NULL / 0: the batch is whole. */
    const struct ima_collective *coll;
    size_t B_total;
} ima_batch;

/* The passes below check their batch first (ima_model_check_batch) and return IMA_ERR, with a message
 * naming the function and the row, for a batch larger than the model's max_batch, a NULL input or a row
 * with every modality masked; nothing is computed then. IMA_OK otherwise. */
int ima_model_check_batch(const ima_model *m, const ima_batch *b, const char *fn);
/* The checks both IMA's and the baselines' passes make of a batch's inputs (none when B = 0): no NULL input of
 * M modalities (names[j] names modality j in the message), no row with every modality masked. */
int ima_batch_check_inputs(const ima_batch *b, int M, const char *const *names, const char *fn);
/* Forward through encoders and fusion: fills u_j (mod[j].enc_acts.out[2]), y, z. The representation entries
 * (this one, ima_model_fuse and ima_model_encode_rows) fuse IMPORTANCE weights through cfg.fusion_sharpness;
 * the training passes (ima_model_encode_importance, ima_model_encode_rows_checked) fuse with y itself. */
int ima_model_encode(ima_model *m, const ima_batch *b, ima_weights weights);
/* Fusion only, from the u_j (and, for IMPORTANCE, the y_imp) of the last forward pass of the same
 * batch: refills y and z without running any network (e.g. both fusions of one encoding). */
int ima_model_fuse(ima_model *m, const ima_batch *b, ima_weights weights);
/* The fusion weight of an importance y (y_comp = 1 - y, computed without cancellation) under sharpness k
 * (ima_config.fusion_sharpness): max(y, 1e-6) for k 0 or 1; max(sigmoid(k logit y), 1e-6) otherwise.
 * It keeps the order of the y and the threshold 0.5. */
float ima_fusion_weight(float y, float y_comp, float sharpness);
/* Importance nets: fills mod[j].y_imp and y_comp for every row. */
int ima_model_importance(ima_model *m, const ima_batch *b);
/* Encoders, importance nets and fusion in one pass (stage 2 needs both under either weights); fusion weights y. */
int ima_model_encode_importance(ima_model *m, const ima_batch *b, ima_weights weights);
/* Rows [r0, r1) of the pass: centring, importance nets (importance != 0), encoders, fusion. */
int ima_model_encode_rows(ima_model *m, const ima_batch *b, ima_weights weights, int importance, size_t r0,
                          size_t r1);
/* The same without the checks, for the library's own row parts of a batch already checked (a row with
 * every modality masked gets z = 0 there). */
void ima_model_encode_rows_checked(ima_model *m, const ima_batch *b, ima_weights weights, int importance, size_t r0,
                                  size_t r1);
static inline const float *ima_model_u(const ima_model *m, int j) { return m->mod[j].enc_acts.out[2]; }

/* ---- losses (SPEC section 2) -------------------------------------------------------- */

typedef struct {
    double glob;                      // mean_i ||z_i||^2
    double rec[IMA_MAX_MODALITIES];   // sum_i m_ij Rec_ij / B
    double align[IMA_MAX_MODALITIES]; // sum_i m_ij ||z_i - u_ij||^2 / B
    double total;                     // L_auto with the lambdas
} ima_stage1_terms;

typedef struct {
    double teach[IMA_MAX_MODALITIES]; // local-ev: mean BCE of y_j to its targets
    double corr[IMA_MAX_MODALITIES];  // ||C_j||_F^2
    double local[IMA_MAX_MODALITIES]; // KL(Bern(ybar_j) || Bern(rho_j))
    double ybar[IMA_MAX_MODALITIES];  // mean importance over present rows
    double total;                     // L_imp with the lambdas
} ima_stage2_terms;

/* Stage 1, term by term (src/model/stage1.c). Each term is a forward / backward pair; the backward
 * passes ACCUMULATE into the gradients of their inputs (nn.h); s is the term's weight times the
 * d(mean over rows) factor, e.g. 2 lambda / B.
 *   glob    mean_i ||z_i||^2                          dz += s z
 *   align   sum_{i present} ||z_i - u_i||^2            dz += s (z - u), du += -s (z - u)   (mask (B, M) column j)
 *   rec     per-row Rec(x_i, out_i): bce from logits   dout += scale_i dRec/dout
 *           (vectorised kernels) or sse                (scale (B): l_rec m_ij / B) */
double ima_glob_forward(const float *z, size_t B, size_t d);
void ima_glob_backward(float *dz, const float *z, float s, size_t B, size_t d);
double ima_align_forward(const float *z, const float *u, const uint8_t *mask, int M, int j, size_t B, size_t d);
void ima_align_backward(float *dz, float *du, const float *z, const float *u, const uint8_t *mask, int M, int j,
                        float s, size_t B, size_t d);
void ima_rec_forward(float *loss_rows, const float *out, const float *x, ima_loss_kind kind, size_t B, size_t D);
void ima_rec_backward(float *dout, const float *out, const float *x, const float *scale, ima_loss_kind kind, size_t B,
                      size_t D);
/* Zeroes the stage-1 gradients: grads[0 .. n_params_ae), dz and every du_j. */
void ima_stage1_zero_grad(ima_model *m);
/* The loss L_auto of a batch (encodes it first). */
int ima_stage1_forward(ima_model *m, const ima_batch *b, ima_weights weights, ima_stage1_terms *terms);
/* Its gradient, accumulated into grads[0 .. n_params_ae), from the last ima_stage1_forward of b. */
int ima_stage1_backward(ima_model *m, const ima_batch *b);
/* The three above in order: zero_grad, forward, and (when grad != 0) backward. */
int ima_stage1_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                ima_stage1_terms *terms);
/* Loss of stage 2 and, when grad != 0, its gradient: zeroes then fills grads[n_params_ae .. n_params).
 * z and u come from ima_model_encode(weights) and are constants. */
int ima_stage2_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                ima_stage2_terms *terms);

/* ---- the stage-2 loss terms as forward / backward pairs (stage2.c) -----------------------------
 * n rows; sel (n) nonzero = the row takes part (modality present, and for BCE a finite target).
 * Backward functions ACCUMULATE (+=) into their gradient outputs, scaled by dout. */

/* Weighted cross-covariance: w_i = yc_i / sum_sel yc, C = sum_i w_i (z_i - mu_z)(u_i - mu_u)^T,
 * returns ||C||_F^2. C (d, d), muz, muu (d) are written (double work space for the backward).
 * z, u (n, d); yc (n) = 1 - y. */
double ima_wcov_forward(double *C, double *muz, double *muu, const float *z, const float *u, const float *yc,
                        const uint8_t *sel, size_t n, size_t d);
/* dyc (n) += dout * d||C||^2 / d yc_i; T (d) scratch; C, muz, muu from the forward. */
void ima_wcov_backward(double *dyc, double dout, const double *C, const double *muz, const double *muu, const float *z,
                       const float *u, const float *yc, const uint8_t *sel, size_t n, size_t d, double *T);
/* KL(Bern(ybar) || Bern(rho)), ybar = mean_sel y (1 - ybar from yc, no cancellation). */
double ima_bern_kl_forward(const float *y, const float *yc, const uint8_t *sel, size_t n, double rho);
/* dy (n) += dout * dKL/dy_i (y as the free variable; yc follows as 1 - y). */
void ima_bern_kl_backward(double *dy, double dout, const float *y, const float *yc, const uint8_t *sel, size_t n,
                          double rho);
/* Mean over sel of BCE(sigmoid(logit_i), t_i) = softplus(l) - t l, stable for any logit. */
double ima_teach_bce_forward(const float *logit, const float *t, const uint8_t *sel, size_t n);
/* dlogit (n) += dout * (sigmoid(l_i) - t_i) / n_sel. */
void ima_teach_bce_backward(double *dlogit, double dout, const float *logit, const float *t, const uint8_t *sel,
                            size_t n);
/* One Adam step on the autoencoder (stage 1) or importance (stage 2) parameter range. */
void ima_stage1_step(ima_model *m, const ima_adam_config *cfg);
void ima_stage2_step(ima_model *m, const ima_adam_config *cfg);

/* ---- threads (parallel.c): a batch's rows in two parts ------------------------------------------------
 * Results equal a one-thread pass's to float rounding (parameter gradients are the sum of the two parts',
 * part 1's in grads2). */
int ima_model_threads(const ima_model *m); /* m->threads, or OpenBLAS's count when 0 */
/* 2 when a batch of B rows is split (exactly 2 threads, B >= 32, the worker and, with grads, grads2 available) */
int ima_model_parts(ima_model *m, size_t B, int grads);
/* rows [r0, r1) of part p of `parts` */
void ima_model_part_rows(size_t B, int parts, int p, size_t *r0, size_t *r1);
/* fn(ctx, p) for each part, in parallel when parts == 2 (OpenBLAS on one thread meanwhile) */
void ima_model_run_parts(ima_model *m, int parts, void (*fn)(void *ctx, int part), void *ctx);
/* MLP backward scratch for the part whose rows start at r0 */
float *ima_model_part_scratch(const ima_model *m, size_t r0);
/* m->tmp for the part whose rows start at r0 (a block of (r1 - r0) rows of any width up to max(d, D_j)) */
float *ima_model_part_tmp(const ima_model *m, size_t r0);
/* *out = *mlp, with the gradient views moved to grads2 for part 1 */
void ima_model_part_mlp(ima_mlp *out, const ima_model *m, const ima_mlp *mlp, int p);
/* on two threads when enabled: grads[lo, lo+n) += grads2[...]; all finite?; one Adam step */
void ima_model_reduce_grads(ima_model *m, size_t lo, size_t n);
int ima_model_grads_finite(ima_model *m, size_t lo, size_t n);
void ima_model_adam(ima_model *m, size_t lo, size_t n, const ima_adam_config *cfg, long t);

/* Fraction of first-layer encoder units (per modality) that output zero for every row of the
 * last forward pass ("dead" ReLU units, SPEC section 8). */
double ima_model_dead_fraction(const ima_model *m, int j, size_t B);

#endif
