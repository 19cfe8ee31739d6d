/* dae.c: multimodal denoising autoencoder: one encoder on the corrupted concatenated inputs, a shared code h,
 * one decoder per modality reconstructing the clean input.
 * M modalities j, B rows i, Dc concatenated width, d code width.
 *
 *   corruption   keep (B, Dc): per row, each modality dropped with probability p_mod (if every one is, one
 *                chosen uniformly is kept), then every feature of a kept modality zeroed with probability p_feat
 *   h = E(xcat * keep),  L = (1/B) sum_i sum_{j present} l_rec_j Rec_j(x_ij, G_j(h_i)) */
#include <string.h>

#include "baselines/internal.h"
#include "ima/common.h"

/* per row: M uniforms for the modality drops (and one below(M) when all are dropped), then one uniform per
 * feature in concatenated order (drawn for dropped modalities too, so the stream does not depend on them) */
static void sample_noise(ima_baseline *bl, size_t B, ima_rng *rng) {
    int M = bl->cfg.n_modalities;
    size_t Dc = bl->concat_width;
    double pm = bl->cfg.dae_modality_drop, pf = bl->cfg.dae_feature_drop;
    bl->n_terms = 0;
    for (size_t i = 0; i < B; i++) {
        int drop[IMA_MAX_MODALITIES], n = 0;
        for (int j = 0; j < M; j++) n += (drop[j] = ima_rng_uniform(rng) < pm);
        if (n == M) drop[ima_rng_below(rng, (uint64_t)M)] = 0;
        size_t off = 0;
        for (int j = 0; j < M; j++) {
            size_t D = bl->cfg.mod[j].input_width;
            for (size_t c = 0; c < D; c++) {
                int keep = ima_rng_uniform(rng) >= pf;
                bl->keep[i * Dc + off + c] = (float)(keep && !drop[j]);
            }
            off += D;
        }
    }
}

/* rows of a batch of bl_loss_rows(b) rows (split.c) */
static void loss_grad_rows(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    int M = bl->cfg.n_modalities;
    size_t B = b->B, d = bl->cfg.latent_width, Dc = bl->concat_width, Bn = bl_loss_rows(b);
    bl_concat(bl, b, bl->xcat);
    for (size_t k = 0; k < B * Dc; k++) bl->xcat[k] *= bl->keep[k];
    ima_mlp_forward(&bl->joint, &bl->joint_acts, bl->xcat, B);
    memcpy(bl->z, bl->joint_acts.out[2], B * d * sizeof(float));
    memset(bl->dz, 0, B * d * sizeof(float));
    for (int j = 0; j < M; j++) {
        for (size_t i = 0; i < B; i++) bl->row_w[i] = (float)bl_present(b, M, i, j);
        double rec = bl_reconstruct(bl, j, b, bl->row_w, grad) / (double)Bn;
        terms->rec[j] = rec;
        terms->total += bl->cfg.mod[j].lambda_rec * rec;
    }
    if (grad) ima_mlp_backward(&bl->joint, &bl->joint_acts, NULL, bl->dz, bl->xcat, B, bl->scratch);
}

static void represent_rows(ima_baseline *bl, const ima_batch *b, float *z) {
    size_t B = b->B, d = bl->cfg.latent_width;
    bl_concat(bl, b, bl->xcat);
    ima_mlp_forward(&bl->joint, &bl->joint_acts, bl->xcat, B);
    memcpy(z, bl->joint_acts.out[2], B * d * sizeof(float));
}

static void loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    bl_split_loss_grad(bl, b, grad, terms, loss_grad_rows);
}
static void represent(ima_baseline *bl, const ima_batch *b, float *z) { bl_split_represent(bl, b, z, represent_rows); }

const bl_kind bl_kind_dae = {"dae", sample_noise, loss_grad, represent};
