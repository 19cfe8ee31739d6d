/* forward.c: encoders, importance networks and importance-weighted fusion.
 * M modalities j, B rows i, D_j input, d latent. mask (B, M), 1 = present. */
#include <math.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"

/* fusion weights below this are raised to it so that sum_j m_ij y_ij never underflows to 0 */
#define IMA_MIN_FUSION_WEIGHT 1e-6f

static inline int present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }

static void center_input(ima_modality *md, const float *x, size_t B, size_t D) {
    for (size_t i = 0; i < B; i++) {
        const float *xi = x + i * D;
        float *o = md->xc + i * D;
        for (size_t c = 0; c < D; c++) o[c] = xi[c] - md->center[c];
    }
}

void ima_model_importance(ima_model *m, const ima_batch *b) {
    IMA_ASSERT(b->B <= m->max_batch);
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        ima_modality *md = &m->mod[j];
        size_t D = m->cfg.mod[j].input_width;
        center_input(md, b->x[j], b->B, D);
        ima_mlp_forward(&md->imp, &md->imp_acts, md->xc, b->B);
        const float *logit = md->imp_acts.out[2]; /* (B, 1) */
        for (size_t i = 0; i < b->B; i++) {
            md->y_imp[i] = ima_sigmoid(logit[i]);
            md->y_comp[i] = ima_sigmoid(-logit[i]); /* 1 - y without cancellation */
        }
    }
}

void ima_model_fuse(ima_model *m, const ima_batch *b, ima_weights weights) {
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        for (size_t i = 0; i < B; i++) {
            float y = weights == IMA_WEIGHTS_IMPORTANCE ? fmaxf(md->y_imp[i], IMA_MIN_FUSION_WEIGHT) : 1.0f;
            md->y[i] = present(b, M, i, j) ? y : 0.0f;
        }
    }
    /* z_i = sum_j m_ij y_ij u_ij / sum_j m_ij y_ij */
    memset(m->z, 0, B * d * sizeof(float));
    for (size_t i = 0; i < B; i++) {
        float S = 0.0f, *zi = m->z + i * d;
        for (int j = 0; j < M; j++) S += m->mod[j].y[i];
        IMA_ASSERT(S > 0.0f); /* the data loader refuses rows with every modality missing */
        for (int j = 0; j < M; j++) {
            float a = m->mod[j].y[i] / S;
            if (a == 0.0f) continue;
            const float *u = ima_model_u(m, j) + i * d;
            for (size_t k = 0; k < d; k++) zi[k] += a * u[k];
        }
    }
}

void ima_model_encode(ima_model *m, const ima_batch *b, ima_weights weights) {
    IMA_ASSERT(b->B <= m->max_batch);
    if (weights == IMA_WEIGHTS_IMPORTANCE) ima_model_importance(m, b);
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        ima_modality *md = &m->mod[j];
        center_input(md, b->x[j], b->B, m->cfg.mod[j].input_width);
        ima_mlp_forward(&md->enc, &md->enc_acts, md->xc, b->B);
    }
    ima_model_fuse(m, b, weights);
}

double ima_model_dead_fraction(const ima_model *m, int j, size_t B) {
    const ima_modality *md = &m->mod[j];
    size_t H = md->enc.width[1], dead = 0;
    const float *h = md->enc_acts.out[0];
    for (size_t c = 0; c < H; c++) {
        int alive = 0;
        for (size_t i = 0; i < B && !alive; i++) alive = h[i * H + c] > 0.0f;
        dead += !alive;
    }
    return (double)dead / (double)H;
}
