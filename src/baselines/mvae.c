/* mvae.c: MVAE (Wu & Goodman 2018): Gaussian experts, a N(0, I) prior expert, product of experts,
 * an ELBO per subset term (joint, each single modality, k random subsets for M > 2).
 * M modalities j, B rows i, d latent (index k), S terms (index s). Expert output st_j (B, 2d) = [mu_j | logvar_j].
 *
 *   P_j = exp(-logvar_j),  T = 1 + sum_{j in s, present} P_j,  mu = sum P_j mu_j / T,  var = 1 / T
 *   z = mu + eps / sqrt(T),  KL(q || N(0,I)) = 0.5 sum_k (1/T + mu^2 - 1 + log T)
 *   L = (1/B) sum_s sum_i [ sum_{j in s, present} l_rec_j Rec_j(x_ij, G_j(z_si)) + beta [row active] KL_si ]
 * A row is active in term s when one of its present modalities is in s; an inactive row adds nothing.
 *
 * In log space: the product keeps lT = log T = logsumexp(0, -logvar_j) and the experts' weights
 * w_j = P_j / T = exp(-logvar_j - lT) in [0, 1], never P_j or T themselves: P_j overflows float32 once an
 * expert's logvar is below -88.7, which an expert reaches on an extreme input (the MELD corpus's
 * standardized acoustic outliers, |x| up to 273, drove one to -323; docs/baselines.md), and inf / inf made
 * the loss NaN. With lT the same quantities stay finite: var = exp(-lT) (0 when it underflows), z, the KL
 * and every gradient below are bounded by the experts' outputs. */
#include <math.h>
#include <string.h>

#include "baselines/internal.h"
#include "ima/common.h"

/* ---- noise: the random subsets, then eps (S, B, d) row-major ------------------------------------ */

static void sample_noise(ima_baseline *bl, size_t B, ima_rng *rng) {
    int M = bl->cfg.n_modalities, S = 0;
    size_t d = bl->cfg.latent_width;
    memset(bl->term_set, 0, sizeof bl->term_set);
    for (int j = 0; j < M; j++) bl->term_set[S][j] = 1; /* the joint term */
    S++;
    if (M > 1)
        for (int j = 0; j < M; j++) bl->term_set[S++][j] = 1; /* each single modality */
    if (M > 2)
        for (int t = 0; t < bl->cfg.mvae_subsets; t++, S++) {
            int n; /* uniform over the subsets with 2 <= size <= M-1, by rejection */
            do {
                n = 0;
                for (int j = 0; j < M; j++) n += (bl->term_set[S][j] = (uint8_t)ima_rng_below(rng, 2));
            } while (n < 2 || n > M - 1);
        }
    bl->n_terms = S;
    for (size_t k = 0; k < (size_t)S * B * d; k++) bl->eps[k] = (float)ima_rng_normal(rng);
}

/* ---- the product of the experts in `set` (NULL: all) present in each row -------------------------- */

/* Fills mu (B, d) (stride mu_stride), lT (B, d) = log T and, if active != NULL, active (B) in {0, 1}:
 * lT = m + log(exp(-m) + sum_j exp(a_j - m)) with a_j = -logvar_j, m = max(0, a_j), so no exp overflows. */
static void product(ima_baseline *bl, const ima_batch *b, const uint8_t *set, float *mu, size_t mu_stride, float *lT,
                    float *active) {
    int M = bl->cfg.n_modalities;
    size_t B = b->B, d = bl->cfg.latent_width;
    const float *st[IMA_MAX_MODALITIES]; /* the experts in the product for this row (2d floats each), NULL if not */
    for (size_t i = 0; i < B; i++) {
        int act = 0;
        for (int j = 0; j < M; j++) {
            int in = (!set || set[j]) && bl_present(b, M, i, j);
            st[j] = in ? bl->mod[j].enc_acts.out[2] + i * 2 * d : NULL;
            act |= in;
        }
        if (active) active[i] = (float)act;
        for (size_t k = 0; k < d; k++) {
            float m = 0.0f; /* the prior expert's a = 0 */
            for (int j = 0; j < M; j++)
                if (st[j] && -st[j][d + k] > m) m = -st[j][d + k];
            float s = expf(-m), n = 0.0f;
            for (int j = 0; j < M; j++) {
                if (!st[j]) continue;
                float e = expf(-st[j][d + k] - m);
                s += e;
                n += e * st[j][k];
            }
            lT[i * d + k] = m + logf(s);
            mu[i * mu_stride + k] = n / s;
        }
    }
}

/* ---- loss and gradient ------------------------------------------------------------------------------ */

/* rows of a batch of bl_loss_rows(b) rows (split.c) */
static void loss_grad_rows(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    int M = bl->cfg.n_modalities;
    size_t B = b->B, d = bl->cfg.latent_width, Bn = bl_loss_rows(b);
    float invB = 1.0f / (float)Bn, beta = bl->cfg.beta;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        ima_mlp_forward(&md->enc, &md->enc_acts, b->x[j], B);
        if (grad) memset(md->dstat, 0, B * 2 * d * sizeof(float));
    }
    /* lT (B, d) = log T in bl->T; dstat (B, 2d) is free: use its first B floats */
    float *mu = bl->stat, *lT = bl->T, *active = bl->dstat;
    for (int s = 0; s < bl->n_terms; s++) {
        const uint8_t *set = bl->term_set[s];
        const float *eps = bl->eps + (size_t)s * bl->noise_B * d; /* (S, noise_B, d) */
        product(bl, b, set, mu, d, lT, active);
        double kl = 0.0;
        for (size_t i = 0; i < B; i++) {
            double kr = 0.0;
            for (size_t k = 0; k < d; k++) {
                float l = lT[i * d + k], m = mu[i * d + k];
                bl->z[i * d + k] = m + eps[i * d + k] * expf(-0.5f * l);
                kr += 0.5 * (exp(-(double)l) + (double)m * m - 1.0 + l);
            }
            if (active[i] != 0.0f) kl += kr;
        }
        terms->kl += kl / (double)Bn;
        terms->total += beta * kl / (double)Bn;

        /* reconstruction of the term's modalities from z_s */
        memset(bl->dz, 0, B * d * sizeof(float));
        for (int j = 0; j < M; j++) {
            if (!set[j]) continue;
            for (size_t i = 0; i < B; i++) bl->row_w[i] = (float)bl_present(b, M, i, j);
            double rec = bl_reconstruct(bl, j, b, bl->row_w, grad) / (double)Bn;
            terms->rec[j] += rec;
            terms->total += bl->cfg.mod[j].lambda_rec * rec;
        }
        if (!grad) continue;

        /* back through the sample, the KL and the product into each expert's (mu_j, logvar_j):
         *   dmu = dz + kw mu,  dlT = -0.5 dz eps exp(-lT/2) + kw 0.5 (1 - exp(-lT)),  w_j = exp(-logvar_j - lT),
         *   dmu_j = w_j dmu,  dlogvar_j = -w_j (dmu (mu_j - mu) + dlT)   (kw = beta / B on an active row) */
        for (size_t i = 0; i < B; i++) {
            float kw = active[i] != 0.0f ? beta * invB : 0.0f;
            for (size_t k = 0; k < d; k++) {
                float l = lT[i * d + k], m = mu[i * d + k], e = eps[i * d + k], g = bl->dz[i * d + k];
                float dmu = g + kw * m;
                float dl = -0.5f * g * e * expf(-0.5f * l) + kw * 0.5f * (1.0f - expf(-l));
                for (int j = 0; j < M; j++) {
                    if (!set[j] || !bl_present(b, M, i, j)) continue;
                    const float *st = bl->mod[j].enc_acts.out[2] + i * 2 * d;
                    float *dst = bl->mod[j].dstat + i * 2 * d;
                    float w = expf(-st[d + k] - l); /* <= 1: lT >= -logvar_j */
                    dst[k] += w * dmu;
                    dst[d + k] += -w * (dmu * (st[k] - m) + dl);
                }
            }
        }
    }
    if (!grad) return;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        ima_mlp_backward(&md->enc, &md->enc_acts, NULL, md->dstat, b->x[j], B, bl->scratch);
    }
}

/* ---- representation: posterior mean of the product over the present modalities ------------------- */

static void represent_rows(ima_baseline *bl, const ima_batch *b, float *z) {
    int M = bl->cfg.n_modalities;
    for (int j = 0; j < M; j++) ima_mlp_forward(&bl->mod[j].enc, &bl->mod[j].enc_acts, b->x[j], b->B);
    product(bl, b, NULL, z, bl->cfg.latent_width, bl->T, NULL);
}

static void loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    bl_split_loss_grad(bl, b, grad, terms, loss_grad_rows);
}
static void represent(ima_baseline *bl, const ima_batch *b, float *z) { bl_split_represent(bl, b, z, represent_rows); }

const bl_kind bl_kind_mvae = {"mvae", sample_noise, loss_grad, represent};
