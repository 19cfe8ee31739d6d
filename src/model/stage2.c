/* stage2.c: the importance-network loss (SPEC section 2) and its hand-written gradient.
 * For each modality j over the rows i where j is present (n_j of them):
 *   y_i = I_j(x_ij), y'_i = 1 - y_i = sigmoid(-logit_i), w_i = y'_i / S, S = sum_i y'_i
 *   C = sum_i w_i (z_i - mu_z)(u_ij - mu_u)^T,  L_corr = ||C||_F^2
 *   L_local = KL(Bern(ybar) || Bern(rho)),       ybar = sum_i y_i / n_j
 * z and u are constants; the gradient flows through y (and hence w) only.
 * The small d x d reductions run in double: they are cheap next to the networks.
 * M modalities, B rows, d latent. */
#include <math.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"

/* S = sum_i y'_i is raised to this when every importance saturates at 1 (collapse) */
#define IMA_MIN_WEIGHT_SUM 1e-12

static inline int present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }

/* x log(x / r), with 0 log 0 = 0 */
static double xlogx_over(double x, double r) { return x > 0.0 ? x * log(x / r) : 0.0; }

void ima_stage2_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                 ima_stage2_terms *terms) {
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    memset(terms, 0, sizeof *terms);
    ima_model_encode(m, b, weights);
    if (weights != IMA_WEIGHTS_IMPORTANCE) ima_model_importance(m, b);
    if (grad) memset(m->grads + m->n_params_ae, 0, m->n_params_imp * sizeof(float));

    /* double-precision work space from the model (no allocation per batch) */
    double *C = m->work, *T = C + d * d, *muz = T + d, *muu = muz + d, *g = muu + d; /* (d,d) (d) (d) (d) (B) */

    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        const float *u = ima_model_u(m, j), *y = md->y_imp, *yc = md->y_comp;
        float *dlogit = m->row_scale; /* (B, 1) */

        size_t n = 0;
        double S = 0.0, ysum = 0.0;
        for (size_t i = 0; i < B; i++) {
            if (!present(b, M, i, j)) continue;
            n++;
            S += yc[i];
            ysum += y[i];
        }
        if (n == 0) continue; /* no row of this modality in the batch: no term */
        double Sg = S > IMA_MIN_WEIGHT_SUM ? S : IMA_MIN_WEIGHT_SUM;

        /* weighted means and the weighted cross-covariance C (d x d) */
        memset(muz, 0, d * sizeof(double));
        memset(muu, 0, d * sizeof(double));
        for (size_t i = 0; i < B; i++) {
            if (!present(b, M, i, j)) continue;
            double w = yc[i] / Sg;
            for (size_t k = 0; k < d; k++) {
                muz[k] += w * m->z[i * d + k];
                muu[k] += w * u[i * d + k];
            }
        }
        memset(C, 0, d * d * sizeof(double));
        for (size_t i = 0; i < B; i++) {
            if (!present(b, M, i, j)) continue;
            double w = yc[i] / Sg;
            for (size_t a = 0; a < d; a++) {
                double za = w * (m->z[i * d + a] - muz[a]);
                double *Ca = C + a * d;
                for (size_t k = 0; k < d; k++) Ca[k] += za * (u[i * d + k] - muu[k]);
            }
        }
        double corr = 0.0;
        for (size_t k = 0; k < d * d; k++) corr += C[k] * C[k];

        /* KL(Bern(ybar) || Bern(rho)); 1 - ybar is the mean of y' (no cancellation) */
        double ybar = ysum / (double)n, ybarc = S / (double)n, rho = c->rho;
        double local = xlogx_over(ybar, rho) + xlogx_over(ybarc, 1.0 - rho);
        terms->corr[j] = corr;
        terms->local[j] = local;
        terms->ybar[j] = ybar;
        terms->total += c->lambda_local * local + c->lambda_corr * corr;
        if (!grad) continue;

        /* dL_corr/dw_i = g_i = 2 (z_i - mu_z)^T C (u_i - mu_u) */
        double gbar = 0.0;
        for (size_t i = 0; i < B; i++) {
            g[i] = 0.0;
            if (!present(b, M, i, j)) continue;
            for (size_t k = 0; k < d; k++) T[k] = 0.0;
            for (size_t a = 0; a < d; a++) {
                double za = m->z[i * d + a] - muz[a];
                const double *Ca = C + a * d;
                for (size_t k = 0; k < d; k++) T[k] += za * Ca[k];
            }
            double s = 0.0;
            for (size_t k = 0; k < d; k++) s += T[k] * (u[i * d + k] - muu[k]);
            g[i] = 2.0 * s;
            gbar += (yc[i] / Sg) * g[i];
        }
        /* w_i = y'_i / S  =>  dL/dy'_i = (g_i - gbar) / S;  y' = 1 - y;  dy/dlogit = y y' */
        const double eps = 1e-12;
        double dkl = log(fmax(ybar, eps) / rho) - log(fmax(ybarc, eps) / (1.0 - rho));
        for (size_t i = 0; i < B; i++) {
            if (!present(b, M, i, j)) {
                dlogit[i] = 0.0f;
                continue;
            }
            double dy = c->lambda_local * dkl / (double)n - c->lambda_corr * (g[i] - gbar) / Sg;
            dlogit[i] = (float)(dy * (double)y[i] * (double)yc[i]);
        }
        ima_mlp_backward(&md->imp, &md->imp_acts, NULL, dlogit, md->xc, B, m->scratch);
    }
}

void ima_stage2_step(ima_model *m, const ima_adam_config *cfg) {
    m->step_imp++;
    ima_adam_update(m->params + m->n_params_ae, m->grads + m->n_params_ae, m->adam_m + m->n_params_ae,
                    m->adam_v + m->n_params_ae, m->n_params_imp, cfg, m->step_imp);
}
