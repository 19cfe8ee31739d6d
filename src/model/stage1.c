/* stage1.c: the autoencoder loss (SPEC section 2) and its hand-written gradient.
 *   L_auto = mean_i [ l_glob ||z_i||^2 + sum_j m_ij ( l_rec_j Rec_j(x_ij, G_j(z_i)) + l_align_j ||z_i - u_ij||^2 ) ]
 * Fusion weights y are constants. M modalities j, B rows i, D_j input, d latent. */
#include <math.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"

static inline int present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }

void ima_stage1_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                 ima_stage1_terms *terms) {
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    float invB = 1.0f / (float)B;
    memset(terms, 0, sizeof *terms);
    ima_model_encode(m, b, weights);
    if (grad) memset(m->grads, 0, m->n_params_ae * sizeof(float));

    /* global term: dz = 2 l_glob z / B */
    double glob = 0.0;
    for (size_t k = 0; k < B * d; k++) {
        glob += (double)m->z[k] * (double)m->z[k];
        m->dz[k] = 2.0f * m->cfg.lambda_glob * invB * m->z[k];
    }
    terms->glob = glob / (double)B;
    terms->total = m->cfg.lambda_glob * terms->glob;

    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        size_t D = c->input_width;
        const float *u = ima_model_u(m, j);

        /* reconstruction of x_j from z: decoder output is a logit (bce) or the value (sse).
         * rows: per-row gradient scale l_rec m_ij / B; rec_rows: per-row loss. For bce, loss and
         * dlogits (into tmp) come from one fused pass. */
        ima_mlp_forward(&md->dec, &md->dec_acts, m->z, B);
        const float *out = md->dec_acts.out[2];
        float *rows = m->row_scale, *rec_rows = m->row_loss, *dout = m->tmp;
        for (size_t i = 0; i < B; i++) rows[i] = present(b, M, i, j) ? c->lambda_rec * invB : 0.0f;
        if (c->loss == IMA_LOSS_BCE)
            ima_bce_logits_fused(rec_rows, grad ? dout : NULL, out, b->x[j], rows, B, D);
        else
            ima_sse_forward(rec_rows, out, b->x[j], B, D);
        double rec = 0.0, align = 0.0;
        for (size_t i = 0; i < B; i++)
            if (present(b, M, i, j)) rec += rec_rows[i];
        /* alignment ||z - u_j||^2 and its gradient (dz += g, du_j = -g) */
        for (size_t i = 0; i < B; i++) {
            const float *zi = m->z + i * d, *ui = u + i * d;
            float *dzi = m->dz + i * d, *dui = md->du + i * d;
            int p = present(b, M, i, j);
            float s = p ? 2.0f * c->lambda_align * invB : 0.0f;
            double a = 0.0;
            for (size_t k = 0; k < d; k++) {
                float diff = zi[k] - ui[k];
                a += (double)diff * diff;
                dzi[k] += s * diff;
                dui[k] = -s * diff;
            }
            if (p) align += a;
        }
        terms->rec[j] = rec / (double)B;
        terms->align[j] = align / (double)B;
        terms->total += c->lambda_rec * terms->rec[j] + c->lambda_align * terms->align[j];
        if (!grad) continue;

        /* backward through the decoder: dlogits in tmp, then dz += G_j^T(...) */
        if (c->loss == IMA_LOSS_SSE) ima_sse_backward(dout, out, b->x[j], rows, B, D);
        ima_mlp_backward(&md->dec, &md->dec_acts, m->dz_dec, dout, m->z, B, m->scratch);
        for (size_t k = 0; k < B * d; k++) m->dz[k] += m->dz_dec[k];
    }
    if (!grad) return;

    /* fusion: du_ij += (m_ij y_ij / S_i) dz_i, then back through each encoder */
    for (size_t i = 0; i < B; i++) {
        float S = 0.0f;
        for (int j = 0; j < M; j++) S += m->mod[j].y[i];
        for (int j = 0; j < M; j++) {
            float a = m->mod[j].y[i] / S;
            float *dui = m->mod[j].du + i * d;
            const float *dzi = m->dz + i * d;
            for (size_t k = 0; k < d; k++) dui[k] += a * dzi[k];
        }
    }
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        ima_mlp_backward(&md->enc, &md->enc_acts, NULL, md->du, md->xc, B, m->scratch);
    }
}

void ima_stage1_step(ima_model *m, const ima_adam_config *cfg) {
    m->step_ae++;
    ima_adam_update(m->params, m->grads, m->adam_m, m->adam_v, m->n_params_ae, cfg, m->step_ae);
}
