/* importance.h: the "local-ev" importance objective (beyond the paper; docs/importance.md).
 *
 * Features: f_ij = the projection of the centred input x_ij on the top P_j = min(IMA_LOCAL_EV_PCA, D_j)
 * principal axes of modality j (fitted over the rows where j is present): independent of the latent
 * width and of how well stage 1 trained.
 * For modality j, over the training rows where j and at least one other modality are present:
 *   N_k(i)= the k nearest other rows by f_j (Euclidean, exact GEMM k-NN);
 *   for each other modality o (a partner block, weights w_lo = m_lo v_l; v_l = 1 in pass 0, later the
 *   largest previous-pass target of row l's modalities other than j):
 *     ms_io = || weighted mean over N_k(i) of f_lo - fbar_o ||^2,  sp_io = the unbiased weighted variance
 *     (summed over dimensions), keff_io = W^2 / sum w^2, V_o = the total variance of f_o;
 *   T_i   = sum_o keff_io ms_io / V_o / sum_o sp_io / V_o
 *           (about 1 where f_j says nothing about the other modalities; large where it does).
 * Calibration: a three-component Gaussian mixture on log T fitted by EM: the lowest component is the
 * null ("unimportant"), the two others model the (skewed) important rows. rho_j is the prior mean of
 * the share of important rows, worth 1% of the rows as Dirichlet pseudo-counts. The target t_i = the
 * posterior probability of the important components, made monotone in T. Stage 2 then trains I_j by BCE(y, t).
 *
 * Dimensions: N rows, M modalities, d latent width, k neighbours, D_j input width, P_j features. */
#ifndef IMA_IMPORTANCE_H
#define IMA_IMPORTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "ima/model.h"
#include "ima/train.h"

/* T (n) for n rows with one partner block of unit weights: u (n, du) neighbour features of the
 * modality, p (n, dp) partner features. k <= n - 1. */
int ima_local_ev_stat(float *T, const float *u, size_t du, const float *p, size_t dp, size_t n, size_t k);

/* T (N) of modality j (M >= 2) with every partner block: neighbours by F[j] (N, width[j]) among the
 * rows where j and another modality are present (NaN elsewhere); partner modality o != j of row l weighs
 * mask[l][o] w[l] (w (N), or NULL: 1). k <= rows - 1. */
int ima_local_ev_stat_blocks(float *T, const float *const *F, const size_t *width, const uint8_t *mask, const float *w,
                             size_t N, int M, int j, size_t k);

/* Principal components of each modality's inputs used as the teacher's features. */
#define IMA_LOCAL_EV_PCA 50

/* F (N, P) = (x - mean) B: the centred inputs x (N, D) projected on their top P principal axes B (D, P)
 * (P = min(P, D), written to P_out; B's columns signed so that their largest entry is positive), mean
 * and covariance over the rows with mask[i * mstride] = 1 (mask NULL: all rows); absent rows get 0.
 * explained (or NULL): the share of the total variance on the P axes. Subspace iteration from a fixed
 * start (30 iterations, 10 extra vectors) and Rayleigh-Ritz with Jacobi rotations: deterministic. */
int ima_local_ev_pca(float *F, size_t *P_out, double *explained, const float *x, size_t D, const uint8_t *mask,
                     size_t mstride, size_t N, size_t P);

#define IMA_LOCAL_EV_COMPONENTS 3
typedef struct {
    double share; // fitted weight of the important components (1 - weight[0])
    double weight[IMA_LOCAL_EV_COMPONENTS];
    double mean[IMA_LOCAL_EV_COMPONENTS], sd[IMA_LOCAL_EV_COMPONENTS]; // of log T, ascending means: [0] unimportant
    double threshold; // T at which the target crosses 0.5 (0 when none)
    int iterations;   // EM iterations run
    int null_like;    // 1 when the lower component looks like the null (median T < IMA_LOCAL_EV_NULL_MAX)
} ima_mixture_fit;

/* Passes of the statistic: pass 0 weighs every partner 1, later passes weigh a partner row by its
 * other modalities' largest target of the previous pass. */
#define IMA_LOCAL_EV_PASSES 3

/* Lower component with a median T above this is not a null: every target is then 1. */
#define IMA_LOCAL_EV_NULL_MAX 4.0

/* target (n) in [0,1] from T (n > 0, finite); rho in (0,1). fit may be NULL. */
int ima_local_ev_calibrate(float *target, ima_mixture_fit *fit, const float *T, size_t n, double rho);

typedef struct {
    size_t rows[IMA_MAX_MODALITIES]; // rows that received a target
    double median_T[IMA_MAX_MODALITIES];
    double share_below[IMA_MAX_MODALITIES]; // share of targets < 0.5
    ima_mixture_fit fit[IMA_MAX_MODALITIES];
    size_t features[IMA_MAX_MODALITIES];   // P_j (ima_local_ev_targets only)
    double explained[IMA_MAX_MODALITIES];  // share of x_j's variance on them (ima_local_ev_targets only)
    double seconds;
} ima_local_ev_report;

/* Targets (N, M) from given features: F[j] (N, width[j]) (rows where j is absent are not read),
 * mask (N, M) 1 = present, k neighbours, rho (M). NaN where a row has no target (modality absent, or no
 * other modality present). T_out (N, M) or NULL: the statistic itself (NaN where none). rep may be NULL. */
int ima_local_ev_targets_from_features(float *target, float *T_out, const float *const *F, const size_t *width,
                                       const uint8_t *mask, size_t N, int M, size_t k, const float *rho,
                                       ima_local_ev_report *rep);
/* The same with every modality's features in one array: U (M, N, d), row i of modality j at U + (j N + i) d. */
int ima_local_ev_targets_from_codes(float *target, float *T_out, const float *U, const uint8_t *mask, size_t N, int M,
                                    size_t d, size_t k, const float *rho, ima_local_ev_report *rep);
/* The targets of the training set ds: features from ima_local_ev_pca of each modality's inputs (the
 * model is read for rho and k only). Builds a teacher, takes its targets, frees it. */
int ima_local_ev_targets(float *target, float *T_out, ima_model *m, const ima_dataset *ds, ima_local_ev_report *rep);

/* ---- the teacher, built once and reused for every rho ----------------------------------------
 * Everything the targets need besides rho: the features F[j] and, for each modality j, the rows that
 * get a target and their k nearest other rows by F[j]. None of it depends on rho or on the passes'
 * partner weights (those weigh partners inside fixed neighbourhoods), so the k-NN, the costly part,
 * runs once per training set: ima_train takes a teacher through ima_train_callbacks.teacher, and the
 * digits repro builds one per process for every training (latent 2 and 50, the rho sweep, the seeds).
 * ima_local_ev_targets* above are build + targets + free: one implementation. */
typedef struct {
    size_t n, k;  // rows of modality j that get a target (0: fewer than 6, none), neighbours of each
    size_t *rows; // (n) their row indices (j and another modality present)
    size_t *nbr;  // (n, k) their nearest other rows by F[j], as positions in rows, nearest first
} ima_local_ev_hood;

typedef struct ima_local_ev_teacher {
    size_t N;                               // rows
    int M;                                  // modalities
    size_t k;                               // neighbours asked for (a hood has min(k, n - 1))
    size_t input_width[IMA_MAX_MODALITIES]; // D_j of the data set it was built from (0: given features)
    uint64_t fingerprint;                   // of that data set's shape, inputs and masks
    const float *F[IMA_MAX_MODALITIES];     // (N, width[j]) features (rows where j is absent are 0 or unread)
    size_t width[IMA_MAX_MODALITIES];       // P_j
    double explained[IMA_MAX_MODALITIES];   // share of x_j's variance on the features
    uint8_t *mask;                          // (N, M) a copy of the masks
    ima_local_ev_hood hood[IMA_MAX_MODALITIES];
    float *own[IMA_MAX_MODALITIES];         // the features when the teacher owns them
    double seconds, cpu_seconds;            // wall and process CPU time of the build
} ima_local_ev_teacher;

/* Builds t from the training set ds (features by ima_local_ev_pca, then the k-NN of each modality;
 * k 0: IMA_LOCAL_EV_DEFAULT_K). On error t is left empty (safe to free). */
int ima_local_ev_teacher_build(ima_local_ev_teacher *t, const ima_dataset *ds, size_t k);
/* IMA_OK when t was built from ds with k neighbours (k 0: the default): the same rows, modalities,
 * widths and k, and the same inputs and masks (a fingerprint of their bits); an error saying which
 * differs otherwise. */
int ima_local_ev_teacher_check(const ima_local_ev_teacher *t, const ima_dataset *ds, size_t k);
/* target, T_out (N, M) (T_out may be NULL), rep (may be NULL): as ima_local_ev_targets, for the priors
 * rho (M): the passes of the statistic and the calibration over t's neighbourhoods (no k-NN). Equal,
 * bit for bit, to ima_local_ev_targets of the same data set, k and rho. */
int ima_local_ev_teacher_targets(float *target, float *T_out, const ima_local_ev_teacher *t, const float *rho,
                                 ima_local_ev_report *rep);
/* Frees what t holds (t may be empty or NULL) and empties it. */
void ima_local_ev_teacher_free(ima_local_ev_teacher *t);

#endif
