/* importance.h: the "local-ev" importance objective (beyond the paper; docs/importance.md).
 *
 * For modality j, over the training rows where j and at least one other modality are present:
 *   p_i   = the partner code of row i: the mean of u_k over the other present modalities k != j
 *           (fusion with y = 1, so the statistic does not depend on the importances being learnt);
 *   N_k(i)= the k nearest other rows by u_j (Euclidean, exact GEMM k-NN);
 *   ms_i  = || mean_{l in N_k(i)} p_l - pbar ||^2,  pbar = the mean of p over the rows;
 *   sp_i  = sum over dimensions of the unbiased variance of p_l over N_k(i);
 *   T_i   = k ms_i / sp_i   (about 1 where u_j says nothing about the other modalities; large where it does).
 * Calibration: a three-component Gaussian mixture on log T fitted by EM: the lowest component is the
 * null ("unimportant"), the two others model the (skewed) important rows. rho_j is the prior mean of
 * the share of important rows, worth 1% of the rows as Dirichlet pseudo-counts. The target t_i = the
 * posterior probability of the important components, made monotone in T. Stage 2 then trains I_j by BCE(y, t).
 *
 * Dimensions: N rows, M modalities, d latent width, k neighbours. */
#ifndef IMA_IMPORTANCE_H
#define IMA_IMPORTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "ima/model.h"
#include "ima/train.h"

/* T (n) for n rows: u (n, du) codes of the modality, p (n, dp) partner codes. k <= n - 1. */
int ima_local_ev_stat(float *T, const float *u, size_t du, const float *p, size_t dp, size_t n, size_t k);

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
    double seconds;
} ima_local_ev_report;

/* Targets (n, M) for every row of ds (NaN where a row has no target: modality absent, or no other
 * modality present). Runs the encoders over ds in batches of m->max_batch (overwrites activations).
 * T_out (n, M) or NULL: the statistic itself (NaN where none). rep may be NULL. */
/* The same from given codes: U (M, N, d) (row i of modality j at U + (j N + i) d; absent rows are not
 * read), mask (N, M) 1 = present, k neighbours, rho (M). */
int ima_local_ev_targets_from_codes(float *target, float *T_out, const float *U, const uint8_t *mask, size_t N, int M,
                                    size_t d, size_t k, const float *rho, ima_local_ev_report *rep);
int ima_local_ev_targets(float *target, float *T_out, ima_model *m, const ima_dataset *ds, ima_local_ev_report *rep);

#endif
