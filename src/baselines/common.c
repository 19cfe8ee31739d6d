/* common.c: the pieces every baseline kind shares (concatenated inputs, the Gaussian NLL head, the
 * reconstruction step). Depends on nothing else in src/baselines: mvae.c, jmvae.c and dae.c use it,
 * baseline.c reaches them through the kind table (internal.h), so there is no cycle.
 * M modalities j, B rows i, D_j input, Dout_j decoder output, Dc = sum D_j, d latent. */
#include <math.h>
#include <string.h>

#include "baselines/internal.h"
#include "ima/common.h"

/* ---- shared pieces -------------------------------------------------------------------------- */

void bl_concat(const ima_baseline *bl, const ima_batch *b, float *xcat) {
    int M = bl->cfg.n_modalities;
    size_t Dc = bl->concat_width;
    for (size_t i = 0; i < b->B; i++) {
        size_t off = 0;
        for (int j = 0; j < M; j++) {
            size_t D = bl->cfg.mod[j].input_width;
            float *dst = xcat + i * Dc + off;
            if (bl_present(b, M, i, j)) memcpy(dst, b->x[j] + i * D, D * sizeof(float));
            else memset(dst, 0, D * sizeof(float));
            off += D;
        }
    }
}

void bl_gauss_nll_forward(float *rows, const float *out, const float *x, size_t B, size_t D) {
    const double half_log_2pi = 0.91893853320467274178;
    for (size_t i = 0; i < B; i++) {
        const float *mu = out + i * 2 * D, *lv = mu + D, *xi = x + i * D;
        double s = 0.0;
        for (size_t c = 0; c < D; c++) {
            double r = (double)xi[c] - (double)mu[c];
            s += 0.5 * ((double)lv[c] + r * r * exp(-(double)lv[c])) + half_log_2pi;
        }
        rows[i] = (float)s;
    }
}

void bl_gauss_nll_backward(float *dout, const float *out, const float *x, const float *scale, size_t B, size_t D) {
    for (size_t i = 0; i < B; i++) {
        const float *mu = out + i * 2 * D, *lv = mu + D, *xi = x + i * D;
        float *dmu = dout + i * 2 * D, *dlv = dmu + D, s = scale[i];
        for (size_t c = 0; c < D; c++) {
            float r = xi[c] - mu[c], p = expf(-lv[c]);
            dmu[c] = -s * r * p;
            dlv[c] = s * 0.5f * (1.0f - r * r * p);
        }
    }
}

double bl_reconstruct(ima_baseline *bl, int j, const ima_batch *b, const float *w, int grad) {
    ima_baseline_modality_state *md = &bl->mod[j];
    const ima_baseline_modality *c = &bl->cfg.mod[j];
    size_t B = b->B, D = c->input_width, d = bl->cfg.latent_width;
    ima_mlp_forward(&md->dec, &md->dec_acts, bl->z, B);
    const float *out = md->dec_acts.out[2];
    float *rows = bl->rec_rows; /* per-row loss, then per-row gradient scale */
    if (c->gaussian_logvar) bl_gauss_nll_forward(rows, out, b->x[j], B, D);
    else if (c->loss == IMA_LOSS_BCE) ima_bce_logits_forward(rows, out, b->x[j], B, D);
    else ima_sse_forward(rows, out, b->x[j], B, D);
    double rec = 0.0;
    for (size_t i = 0; i < B; i++) {
        if (w[i] != 0.0f) rec += (double)w[i] * rows[i];
        rows[i] = c->lambda_rec * w[i] / (float)bl_loss_rows(b);
    }
    if (!grad) return rec;
    memset(md->dout, 0, B * (c->gaussian_logvar ? 2 * D : D) * sizeof(float)); /* the backward passes accumulate */
    if (c->gaussian_logvar) bl_gauss_nll_backward(md->dout, out, b->x[j], rows, B, D);
    else if (c->loss == IMA_LOSS_BCE) ima_bce_logits_backward(md->dout, out, b->x[j], rows, B, D);
    else ima_sse_backward(md->dout, out, b->x[j], rows, B, D);
    memset(bl->dz_dec, 0, B * d * sizeof(float));
    ima_mlp_backward(&md->dec, &md->dec_acts, bl->dz_dec, md->dout, bl->z, B, bl->scratch);
    for (size_t k = 0; k < B * d; k++) bl->dz[k] += bl->dz_dec[k];
    return rec;
}
