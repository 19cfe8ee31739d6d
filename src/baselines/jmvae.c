/* jmvae.c: JMVAE-KL (Suzuki et al. 2016): a joint encoder on the concatenated inputs, one Gaussian
 * expert per modality, decoders from the joint sample.
 * M modalities j, B rows i, d latent (index k), Dc concatenated width. Joint output st (B, 2d) = [mu | lv],
 * expert output st_j (B, 2d) = [mu_j | lv_j], v = exp(lv).
 *
 *   z = mu + exp(lv / 2) eps
 *   L = (1/B) sum_i [ sum_{j present} l_rec_j Rec_j(x_ij, G_j(z_i)) + beta KL(q || N(0,I))
 *                     + alpha sum_{j present} KL(q(z|x) || q(z|x_j)) ]
 *   KL(q || N(0,I))  = 0.5 sum_k (v + mu^2 - 1 - lv)
 *   KL(q || q_j)     = 0.5 sum_k (lv_j - lv + (v + (mu - mu_j)^2) / v_j - 1)
 * A missing modality enters the joint encoder as zeros (the paper's model is trained on complete pairs). */
#include <math.h>
#include <string.h>

#include "baselines/internal.h"
#include "ima/common.h"

static void sample_noise(ima_baseline *bl, size_t B, ima_rng *rng) {
    bl->n_terms = 1;
    for (size_t k = 0; k < B * bl->cfg.latent_width; k++) bl->eps[k] = (float)ima_rng_normal(rng);
}

/* rows of a batch of bl_loss_rows(b) rows (split.c) */
static void loss_grad_rows(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    int M = bl->cfg.n_modalities;
    size_t B = b->B, d = bl->cfg.latent_width, Bn = bl_loss_rows(b);
    float invB = 1.0f / (float)Bn, beta = bl->cfg.beta, alpha = bl->cfg.alpha;

    /* joint posterior and its sample */
    bl_concat(bl, b, bl->xcat);
    ima_mlp_forward(&bl->joint, &bl->joint_acts, bl->xcat, B);
    const float *st = bl->joint_acts.out[2];
    double kl = 0.0;
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < d; k++) {
            float m = st[i * 2 * d + k], lv = st[i * 2 * d + d + k];
            bl->z[i * d + k] = m + expf(0.5f * lv) * bl->eps[i * d + k];
            kl += 0.5 * (exp((double)lv) + (double)m * m - 1.0 - lv);
        }
    terms->kl = kl / (double)Bn;
    terms->total = beta * terms->kl;

    /* reconstruction of every present modality from z */
    memset(bl->dz, 0, B * d * sizeof(float));
    for (int j = 0; j < M; j++) {
        for (size_t i = 0; i < B; i++) bl->row_w[i] = (float)bl_present(b, M, i, j);
        double rec = bl_reconstruct(bl, j, b, bl->row_w, grad) / (double)Bn;
        terms->rec[j] = rec;
        terms->total += bl->cfg.mod[j].lambda_rec * rec;
    }

    /* the experts and KL(q(z|x) || q(z|x_j)) */
    double klu = 0.0;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        ima_mlp_forward(&md->enc, &md->enc_acts, b->x[j], B);
        const float *sj = md->enc_acts.out[2];
        for (size_t i = 0; i < B; i++) {
            if (!bl_present(b, M, i, j)) continue;
            for (size_t k = 0; k < d; k++) {
                double m = st[i * 2 * d + k], lv = st[i * 2 * d + d + k];
                double mj = sj[i * 2 * d + k], lvj = sj[i * 2 * d + d + k], r = m - mj;
                klu += 0.5 * (lvj - lv + (exp(lv) + r * r) * exp(-lvj) - 1.0);
            }
        }
    }
    terms->kl_uni = klu / (double)Bn;
    terms->total += alpha * terms->kl_uni;
    if (!grad) return;

    /* gradient w.r.t. the joint (mu, lv): sample, prior KL, then the alpha terms with the experts' share */
    float *dst = bl->dstat;
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < d; k++) {
            float m = st[i * 2 * d + k], lv = st[i * 2 * d + d + k], g = bl->dz[i * d + k], sd = expf(0.5f * lv);
            dst[i * 2 * d + k] = g + beta * invB * m;
            dst[i * 2 * d + d + k] = 0.5f * g * bl->eps[i * d + k] * sd + beta * invB * 0.5f * (sd * sd - 1.0f);
        }
    float a = alpha * invB;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        const float *sj = md->enc_acts.out[2];
        memset(md->dstat, 0, B * 2 * d * sizeof(float));
        for (size_t i = 0; i < B; i++) {
            if (!bl_present(b, M, i, j)) continue;
            for (size_t k = 0; k < d; k++) {
                float m = st[i * 2 * d + k], lv = st[i * 2 * d + d + k];
                float mj = sj[i * 2 * d + k], lvj = sj[i * 2 * d + d + k], r = m - mj;
                float ivj = expf(-lvj), v = expf(lv);
                dst[i * 2 * d + k] += a * r * ivj;
                dst[i * 2 * d + d + k] += a * 0.5f * (v * ivj - 1.0f);
                md->dstat[i * 2 * d + k] = -a * r * ivj;
                md->dstat[i * 2 * d + d + k] = a * 0.5f * (1.0f - (v + r * r) * ivj);
            }
        }
        ima_mlp_backward(&md->enc, &md->enc_acts, NULL, md->dstat, b->x[j], B, bl->scratch);
    }
    ima_mlp_backward(&bl->joint, &bl->joint_acts, NULL, dst, bl->xcat, B, bl->scratch);
}

/* Joint posterior mean where every modality is present; elsewhere the precision-weighted product of the
 * present experts (without the prior), which is the expert's own mean when one modality is present. */
static void represent_rows(ima_baseline *bl, const ima_batch *b, float *z) {
    int M = bl->cfg.n_modalities;
    size_t B = b->B, d = bl->cfg.latent_width;
    bl_concat(bl, b, bl->xcat);
    ima_mlp_forward(&bl->joint, &bl->joint_acts, bl->xcat, B);
    for (int j = 0; j < M; j++) ima_mlp_forward(&bl->mod[j].enc, &bl->mod[j].enc_acts, b->x[j], B);
    const float *st = bl->joint_acts.out[2];
    for (size_t i = 0; i < B; i++) {
        int all = 1, any = 0;
        for (int j = 0; j < M; j++) {
            all &= bl_present(b, M, i, j);
            any |= bl_present(b, M, i, j);
        }
        IMA_ASSERT(any); /* ima_baseline_represent refused the batch otherwise (check_batch) */
        for (size_t k = 0; k < d; k++) {
            if (all) {
                z[i * d + k] = st[i * 2 * d + k];
                continue;
            }
            double t = 0.0, n = 0.0;
            for (int j = 0; j < M; j++) {
                if (!bl_present(b, M, i, j)) continue;
                const float *sj = bl->mod[j].enc_acts.out[2] + i * 2 * d;
                double p = exp(-(double)sj[d + k]);
                t += p;
                n += p * sj[k];
            }
            z[i * d + k] = (float)(n / t);
        }
    }
}

static void loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    bl_split_loss_grad(bl, b, grad, terms, loss_grad_rows);
}
static void represent(ima_baseline *bl, const ima_batch *b, float *z) { bl_split_represent(bl, b, z, represent_rows); }

const bl_kind bl_kind_jmvae = {"jmvae", sample_noise, loss_grad, represent};
