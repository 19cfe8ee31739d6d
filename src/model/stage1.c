/* stage1.c: the autoencoder loss (SPEC section 2) and its hand-written gradient, as named terms.
 *   L_auto = mean_i [ l_glob ||z_i||^2 + sum_j m_ij ( l_rec_j Rec_j(x_ij, G_j(z_i)) + l_align_j ||z_i - u_ij||^2 ) ]
 * Each term is a forward / backward pair that a test checks alone by finite differences
 * (tests/test_gradcheck.c): ima_glob_*, ima_align_*, ima_rec_*. Backward passes accumulate (+=) into
 * the gradients of their inputs (nn.h), so dz collects the glob, alignment and every decoder's share
 * in place; ima_stage1_zero_grad clears them once per step.
 * Fusion weights y are constants. M modalities j, B rows i, D_j input, d latent. */
#include <math.h>
#include <string.h>

#include "ima/collective.h"
#include "ima/common.h"
#include "ima/model.h"

static inline int present(const uint8_t *mask, int M, size_t i, int j) {
    return !mask || mask[i * (size_t)M + (size_t)j];
}

/* ---- the terms ------------------------------------------------------------------------------------- */

double ima_glob_forward(const float *z, size_t B, size_t d) {
    double glob = 0.0;
    for (size_t k = 0; k < B * d; k++) glob += (double)z[k] * (double)z[k];
    return glob / (double)B;
}

void ima_glob_backward(float *dz, const float *z, float s, size_t B, size_t d) {
    for (size_t k = 0; k < B * d; k++) dz[k] += s * z[k];
}

double ima_align_forward(const float *z, const float *u, const uint8_t *mask, int M, int j, size_t B, size_t d) {
    double align = 0.0;
    for (size_t i = 0; i < B; i++) {
        if (!present(mask, M, i, j)) continue;
        const float *zi = z + i * d, *ui = u + i * d;
        double a = 0.0;
        for (size_t k = 0; k < d; k++) {
            float diff = zi[k] - ui[k];
            a += (double)diff * diff;
        }
        align += a;
    }
    return align;
}

void ima_align_backward(float *dz, float *du, const float *z, const float *u, const uint8_t *mask, int M, int j,
                        float s, size_t B, size_t d) {
    for (size_t i = 0; i < B; i++) {
        if (!present(mask, M, i, j)) continue;
        const float *zi = z + i * d, *ui = u + i * d;
        float *dzi = dz + i * d, *dui = du + i * d;
        for (size_t k = 0; k < d; k++) {
            float diff = zi[k] - ui[k];
            dzi[k] += s * diff;
            dui[k] += -s * diff;
        }
    }
}

void ima_rec_forward(float *loss_rows, const float *out, const float *x, ima_loss_kind kind, size_t B, size_t D) {
    if (kind == IMA_LOSS_BCE) ima_bce_logits_forward_fast(loss_rows, out, x, B, D);
    else ima_sse_forward(loss_rows, out, x, B, D);
}

void ima_rec_backward(float *dout, const float *out, const float *x, const float *scale, ima_loss_kind kind, size_t B,
                      size_t D) {
    if (kind == IMA_LOSS_BCE) ima_bce_logits_backward_fast(dout, out, x, scale, B, D);
    else ima_sse_backward(dout, out, x, scale, B, D);
}

/* ---- the stage ------------------------------------------------------------------------------------- */

void ima_stage1_zero_grad(ima_model *m) {
    size_t Bd = m->max_batch * m->cfg.latent_width;
    memset(m->grads, 0, m->n_params_ae * sizeof(float));
    memset(m->dz, 0, Bd * sizeof(float));
    for (int j = 0; j < m->cfg.n_modalities; j++) memset(m->mod[j].du, 0, Bd * sizeof(float));
}

/* rows the means divide by: the global batch's in data-parallel training (collective.h) */
static size_t batch_rows(const ima_batch *b) { return b->coll && b->B_total ? b->B_total : b->B; }

/* data-parallel: every rank's terms are its rows' sums / B_total; their sum over the ranks is the loss */
static void sum_terms(const ima_model *m, const ima_batch *b, ima_stage1_terms *terms) {
    if (ima_collective_is_single(b->coll)) return;
    int M = m->cfg.n_modalities;
    double v[1 + 2 * IMA_MAX_MODALITIES];
    v[0] = terms->glob;
    for (int j = 0; j < M; j++) v[1 + j] = terms->rec[j], v[1 + M + j] = terms->align[j];
    /* a failed collective leaves the group unusable: the gradient sum that follows reports it */
    if (ima_collective_sum(b->coll, v, 1 + 2 * (size_t)M)) v[0] = NAN;
    terms->glob = v[0];
    terms->total = m->cfg.lambda_glob * terms->glob;
    for (int j = 0; j < M; j++) {
        terms->rec[j] = v[1 + j], terms->align[j] = v[1 + M + j];
        terms->total += m->cfg.mod[j].lambda_rec * terms->rec[j] + m->cfg.mod[j].lambda_align * terms->align[j];
    }
}

void ima_stage1_forward(ima_model *m, const ima_batch *b, ima_weights weights, ima_stage1_terms *terms) {
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    double nb = (double)batch_rows(b);
    memset(terms, 0, sizeof *terms);
    if (B == 0) { /* a rank with no row of a short global batch: it adds nothing */
        sum_terms(m, b, terms);
        return;
    }
    ima_model_encode(m, b, weights);
    terms->glob = ima_glob_forward(m->z, B, d) * ((double)B / nb);
    terms->total = m->cfg.lambda_glob * terms->glob;
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        /* decoder output: a logit (bce) or the value (sse); row_loss (B) per-row Rec_j */
        ima_mlp_forward(&md->dec, &md->dec_acts, m->z, B);
        ima_rec_forward(m->row_loss, md->dec_acts.out[2], b->x[j], c->loss, B, c->input_width);
        double rec = 0.0;
        for (size_t i = 0; i < B; i++)
            if (present(b->mask, M, i, j)) rec += m->row_loss[i];
        terms->rec[j] = rec / nb;
        terms->align[j] = ima_align_forward(m->z, ima_model_u(m, j), b->mask, M, j, B, d) / nb;
        terms->total += c->lambda_rec * terms->rec[j] + c->lambda_align * terms->align[j];
    }
    sum_terms(m, b, terms);
}

void ima_stage1_backward(ima_model *m, const ima_batch *b) {
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    if (B == 0) return;
    float invB = 1.0f / (float)batch_rows(b);
    ima_glob_backward(m->dz, m->z, 2.0f * m->cfg.lambda_glob * invB, B, d);
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        size_t D = c->input_width;
        ima_align_backward(m->dz, md->du, m->z, ima_model_u(m, j), b->mask, M, j, 2.0f * c->lambda_align * invB, B, d);
        /* reconstruction: per-row scale l_rec m_ij / B, dlogits into tmp, then back through G_j into dz */
        float *rows = m->row_scale, *dout = m->tmp;
        for (size_t i = 0; i < B; i++) rows[i] = present(b->mask, M, i, j) ? c->lambda_rec * invB : 0.0f;
        memset(dout, 0, B * D * sizeof(float));
        ima_rec_backward(dout, md->dec_acts.out[2], b->x[j], rows, c->loss, B, D);
        ima_mlp_backward(&md->dec, &md->dec_acts, m->dz, dout, m->z, B, m->scratch);
    }
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

void ima_stage1_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                 ima_stage1_terms *terms) {
    if (grad) ima_stage1_zero_grad(m);
    ima_stage1_forward(m, b, weights, terms);
    if (grad) ima_stage1_backward(m, b);
}

void ima_stage1_step(ima_model *m, const ima_adam_config *cfg) {
    m->step_ae++;
    ima_adam_update(m->params, m->grads, m->adam_m, m->adam_v, m->n_params_ae, cfg, m->step_ae);
}
