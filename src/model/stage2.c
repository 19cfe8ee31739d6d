/* stage2.c: the importance-network losses and their hand-written gradients.
 *
 * Objective "paper" (SPEC section 2). For each modality j over the rows i where j is present:
 *   y_i = I_j(x_ij), y'_i = 1 - y_i = sigmoid(-logit_i), w_i = y'_i / S, S = sum_i y'_i
 *   C = sum_i w_i (z_i - mu_z)(u_ij - mu_u)^T,  L_corr = ||C||_F^2
 *   L_local = KL(Bern(ybar) || Bern(rho)),       ybar = sum_i y_i / n_j
 * z and u are constants; the gradient flows through y (and hence w) only.
 *
 * Objective "local-ev" (docs/importance.md): over the rows where j is present and a target t_ij
 * exists (computed before the stage by importance_local_ev.c),
 *   L_teach = mean_i BCE(y_i, t_ij) = mean_i softplus(logit_i) - t_ij logit_i
 *
 * Each term is a forward / backward pair (checked one by one by finite differences in
 * tests/test_importance.c). The small d x d reductions run in double: cheap next to the networks.
 * M modalities, B rows (n in the term functions), d latent. */
#include <math.h>
#include <string.h>

#include "ima/collective.h"
#include "ima/common.h"
#include "ima/model.h"
#include "model/grad_sum.h"

/* S = sum_i y'_i is raised to this when every importance saturates at 1 (collapse) */
#define IMA_MIN_WEIGHT_SUM 1e-12

static inline int present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }

/* x log(x / r), with 0 log 0 = 0 */
static double xlogx_over(double x, double r) { return x > 0.0 ? x * log(x / r) : 0.0; }

/* ---- weighted cross-covariance -----------------------------------------------------------
 * Data-parallel training (collective.h): every sum over rows below is a sum over every rank's rows.
 * The weight sum S comes from the caller (summed already); the weighted sums of z and u are summed
 * over coll before they become means, the covariance C after each rank has added its rows, and gbar
 * in the backward pass. coll NULL: one process. */

static double weight_sum(const float *yc, const uint8_t *sel, size_t n) {
    double S = 0.0;
    for (size_t i = 0; i < n; i++)
        if (sel[i]) S += yc[i];
    return S;
}

static double clamp_weight_sum(double S) { return S > IMA_MIN_WEIGHT_SUM ? S : IMA_MIN_WEIGHT_SUM; }

/* muz and muu must be contiguous (muu == muz + d) when coll has several ranks: one sum serves both */
static double wcov_forward(double *C, double *muz, double *muu, const float *z, const float *u, const float *yc,
                           const uint8_t *sel, size_t n, size_t d, double Sg, const ima_collective *coll) {
    memset(muz, 0, d * sizeof(double));
    memset(muu, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (!sel[i]) continue;
        double w = yc[i];
        for (size_t k = 0; k < d; k++) {
            muz[k] += w * z[i * d + k];
            muu[k] += w * u[i * d + k];
        }
    }
    if (!ima_collective_is_single(coll)) {
        IMA_ASSERT(muu == muz + d);
        if (ima_collective_sum(coll, muz, 2 * d)) return NAN;
    }
    for (size_t k = 0; k < d; k++) muz[k] /= Sg, muu[k] /= Sg;
    memset(C, 0, d * d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (!sel[i]) continue;
        double w = yc[i] / Sg;
        for (size_t a = 0; a < d; a++) {
            double za = w * (z[i * d + a] - muz[a]);
            double *Ca = C + a * d;
            for (size_t k = 0; k < d; k++) Ca[k] += za * (u[i * d + k] - muu[k]);
        }
    }
    if (ima_collective_sum(coll, C, d * d)) return NAN;
    double corr = 0.0;
    for (size_t k = 0; k < d * d; k++) corr += C[k] * C[k];
    return corr;
}

double ima_wcov_forward(double *C, double *muz, double *muu, const float *z, const float *u, const float *yc,
                        const uint8_t *sel, size_t n, size_t d) {
    return wcov_forward(C, muz, muu, z, u, yc, sel, n, d, clamp_weight_sum(weight_sum(yc, sel, n)), NULL);
}

static void wcov_backward(double *dyc, double dout, const double *C, const double *muz, const double *muu,
                          const float *z, const float *u, const float *yc, const uint8_t *sel, size_t n, size_t d,
                          double *T, double Sg, const ima_collective *coll, double *gs) {
    /* dL/dw_i = g_i = 2 (z_i - mu_z)^T C (u_i - mu_u) (the mu terms cancel because sum_i w_i (.) = 0);
     * w_i = y'_i / S  =>  dL/dy'_i = (g_i - gbar) / S, gbar = sum_k w_k g_k. Two passes: g, then gbar.
     * gs (n), when given, keeps each g_i of the first pass for the second (else it is computed again). */
    double gbar = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && ima_collective_sum(coll, &gbar, 1)) gbar = NAN;
        for (size_t i = 0; i < n; i++) {
            if (!sel[i]) continue;
            if (pass == 1 && gs) {
                dyc[i] += dout * (gs[i] - gbar) / Sg;
                continue;
            }
            for (size_t k = 0; k < d; k++) T[k] = 0.0;
            for (size_t a = 0; a < d; a++) {
                double za = z[i * d + a] - muz[a];
                const double *Ca = C + a * d;
                for (size_t k = 0; k < d; k++) T[k] += za * Ca[k];
            }
            double s = 0.0;
            for (size_t k = 0; k < d; k++) s += T[k] * (u[i * d + k] - muu[k]);
            double g = 2.0 * s;
            if (gs) gs[i] = g;
            if (pass == 0) gbar += (yc[i] / Sg) * g;
            else dyc[i] += dout * (g - gbar) / Sg;
        }
    }
}

void ima_wcov_backward(double *dyc, double dout, const double *C, const double *muz, const double *muu, const float *z,
                       const float *u, const float *yc, const uint8_t *sel, size_t n, size_t d, double *T) {
    wcov_backward(dyc, dout, C, muz, muu, z, u, yc, sel, n, d, T, clamp_weight_sum(weight_sum(yc, sel, n)), NULL,
                  NULL);
}

/* ---- Bernoulli KL to the prior -----------------------------------------------------------
 * From the sums over the selected rows (of every rank): c rows, ys = sum y, ycs = sum y'. */

static size_t count_sel(const uint8_t *sel, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += sel[i] != 0;
    return c;
}

static void sel_sums(double st[3], const float *y, const float *yc, const uint8_t *sel, size_t n) {
    st[0] = st[1] = st[2] = 0.0;
    for (size_t i = 0; i < n; i++)
        if (sel[i]) st[0] += 1.0, st[1] += y[i], st[2] += yc[i];
}

static double bern_kl(const double st[3], double rho) {
    if (st[0] == 0) return 0.0;
    double ybar = st[1] / st[0], ybarc = st[2] / st[0]; /* 1 - ybar is the mean of y' (no cancellation) */
    return xlogx_over(ybar, rho) + xlogx_over(ybarc, 1.0 - rho);
}

static void bern_kl_backward(double *dy, double dout, const double st[3], const uint8_t *sel, size_t n, double rho) {
    if (st[0] == 0) return;
    double ybar = st[1] / st[0], ybarc = st[2] / st[0];
    const double eps = 1e-12;
    double dkl = log(fmax(ybar, eps) / rho) - log(fmax(ybarc, eps) / (1.0 - rho)); /* dKL/dybar */
    for (size_t i = 0; i < n; i++)
        if (sel[i]) dy[i] += dout * dkl / st[0];
}

double ima_bern_kl_forward(const float *y, const float *yc, const uint8_t *sel, size_t n, double rho) {
    double st[3];
    sel_sums(st, y, yc, sel, n);
    return bern_kl(st, rho);
}

void ima_bern_kl_backward(double *dy, double dout, const float *y, const float *yc, const uint8_t *sel, size_t n,
                          double rho) {
    double st[3];
    sel_sums(st, y, yc, sel, n);
    bern_kl_backward(dy, dout, st, sel, n, rho);
}

/* ---- BCE to the local-ev targets ------------------------------------------------------------
 * c: the selected rows of every rank (the mean's divisor); the forward returns this rank's share. */

static double softplus(double l) { return l > 0.0 ? l + log1p(exp(-l)) : log1p(exp(l)); }

static double teach_bce_forward(const float *logit, const float *t, const uint8_t *sel, size_t n, double c) {
    if (c == 0) return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        if (sel[i]) s += softplus(logit[i]) - (double)t[i] * (double)logit[i];
    return s / c;
}

static void teach_bce_backward(double *dlogit, double dout, const float *logit, const float *t, const uint8_t *sel,
                               size_t n, double c) {
    if (c == 0) return;
    for (size_t i = 0; i < n; i++) {
        if (!sel[i]) continue;
        double l = logit[i], y = l >= 0.0 ? 1.0 / (1.0 + exp(-l)) : exp(l) / (1.0 + exp(l));
        dlogit[i] += dout * (y - (double)t[i]) / c;
    }
}

double ima_teach_bce_forward(const float *logit, const float *t, const uint8_t *sel, size_t n) {
    return teach_bce_forward(logit, t, sel, n, (double)count_sel(sel, n));
}

void ima_teach_bce_backward(double *dlogit, double dout, const float *logit, const float *t, const uint8_t *sel,
                            size_t n) {
    teach_bce_backward(dlogit, dout, logit, t, sel, n, (double)count_sel(sel, n));
}

/* ---- the stage-2 loss of the model ---------------------------------------------------------- */

/* one part of the importance nets' backward: rows of the part, every modality in `run` (bit j) */
typedef struct {
    ima_model *m;
    size_t B;
    int parts;
    uint32_t run;
    ima_grad_sum gs; // the gradient's sum over the ranks: one bucket per importance net, I_0 first
} stage2_job;

static void backward_part(void *vj, int p) {
    stage2_job *e = vj;
    ima_model *m = e->m;
    size_t r0, r1;
    ima_model_part_rows(e->B, e->parts, p, &r0, &r1);
    if (p == 1) memset(m->grads2 + m->n_params_ae, 0, m->n_params_imp * sizeof(float));
    float *scratch = ima_model_part_scratch(m, r0);
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        if (!(e->run >> j & 1u)) {
            ima_grad_sum_done(&e->gs, p); /* no term: its gradient stays zero, and is final */
            continue;
        }
        ima_modality *md = &m->mod[j];
        ima_mlp_acts a;
        ima_mlp_acts_rows(&a, &md->imp, &md->imp_acts, r0);
        ima_mlp imp;
        ima_model_part_mlp(&imp, m, &md->imp, p);
        ima_mlp_backward(&imp, &a, NULL, m->dlogits + (size_t)j * e->B + r0,
                         md->xc + r0 * m->cfg.mod[j].input_width, r1 - r0, scratch);
        ima_grad_sum_done(&e->gs, p);
    }
}

static void stage2_buckets(ima_grad_sum *gs, ima_model *m, const ima_batch *b, int parts) {
    ima_grad_sum_begin(gs, m, b->coll, parts, m->n_params_ae, m->n_params_imp);
    for (int j = 0; j < m->cfg.n_modalities; j++) ima_grad_sum_add(gs, &m->mod[j].imp);
}

int ima_stage2_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                ima_stage2_terms *terms) {
    if (ima_model_check_batch(m, b, __func__)) return IMA_ERR; /* the work space holds max_batch rows */
    int M = m->cfg.n_modalities;
    size_t B = b->B, d = m->cfg.latent_width;
    int teach = m->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV;
    const ima_collective *coll = b->coll; /* NULL: the batch is whole */
    memset(terms, 0, sizeof *terms);
    /* a rank with no row of a short global batch still takes part in every sum */
    if (B > 0 && ima_model_encode_importance(m, b, weights)) return IMA_ERR; /* z, u (weights) and y */
    stage2_job job = {.m = m, .B = B, .parts = 1};
    if (grad) memset(m->grads + m->n_params_ae, 0, m->n_params_imp * sizeof(float));

    /* double-precision work space from the model (no allocation per batch) */
    double *C = m->work, *T = C + d * d, *muz = T + d, *muu = muz + d, *dy = muu + d,
           *dl = dy + B;                /* (d,d) (d)x3 (B)x2 */
    uint8_t *sel = (uint8_t *)(dl + B); /* (B) */

    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        const float *u = ima_model_u(m, j), *y = md->y_imp, *yc = md->y_comp;
        const float *logit = md->imp_acts.out[2]; /* (B, 1) */
        float *dlogit = m->dlogits + (size_t)j * B; /* (B, 1) */
        float *tj = m->tmp;                       /* (B) this modality's targets */

        for (size_t i = 0; i < B; i++) {
            sel[i] = (uint8_t)present(b, M, i, j);
            if (teach) {
                tj[i] = b->target ? b->target[i * M + j] : NAN;
                if (!isfinite(tj[i])) sel[i] = 0;
            }
        }
        double st[3]; /* selected rows, sum y, sum y' (over every rank) */
        sel_sums(st, y, yc, sel, B);
        if (ima_collective_sum(coll, st, 3)) st[0] = st[1] = NAN;
        if (st[0] == 0) continue; /* no row of this modality (with a target) in the batch: no term */
        terms->ybar[j] = st[1] / st[0];
        double Sg = clamp_weight_sum(st[2]);
        if (teach) {
            double L = teach_bce_forward(logit, tj, sel, B, st[0]);
            if (ima_collective_sum(coll, &L, 1)) L = NAN;
            terms->teach[j] = L;
            terms->total += L;
        } else {
            terms->corr[j] = wcov_forward(C, muz, muu, m->z, u, yc, sel, B, d, Sg, coll);
            terms->local[j] = bern_kl(st, c->rho);
            terms->total += c->lambda_local * terms->local[j] + c->lambda_corr * terms->corr[j];
        }
        if (!grad) continue;

        for (size_t i = 0; i < B; i++) dy[i] = dl[i] = 0.0;
        if (teach) {
            teach_bce_backward(dl, 1.0, logit, tj, sel, B, st[0]);
        } else {
            /* dL/dy = lambda_local dKL/dy - lambda_corr dL_corr/dy' (y' = 1 - y); dy/dlogit = y y' */
            bern_kl_backward(dy, c->lambda_local, st, sel, B, c->rho);
            /* dl (B) is free until the line below: it keeps the g_i between wcov's two passes */
            wcov_backward(dy, -(double)c->lambda_corr, C, muz, muu, m->z, u, yc, sel, B, d, T, Sg, coll, dl);
            for (size_t i = 0; i < B; i++) dl[i] = dy[i] * (double)y[i] * (double)yc[i];
        }
        for (size_t i = 0; i < B; i++) dlogit[i] = sel[i] ? (float)dl[i] : 0.0f;
        job.run |= 1u << j;
    }
    if (!grad) return IMA_OK;
    if (!job.run || B == 0) { /* a zero gradient; overlapping, every rank still starts the same sums */
        stage2_buckets(&job.gs, m, b, 1);
        ima_grad_sum_end(&job.gs);
        return IMA_OK;
    }
    /* every importance net's backward, the rows in two parts when threads allow (parallel.c); part 1's
     * gradient added and, overlapping, each net's sum over the ranks started as the net is done */
    job.parts = ima_model_parts(m, B, 1);
    stage2_buckets(&job.gs, m, b, job.parts);
    ima_model_run_parts(m, job.parts, backward_part, &job);
    ima_grad_sum_end(&job.gs);
    return IMA_OK;
}

void ima_stage2_step(ima_model *m, const ima_adam_config *cfg) {
    m->step_imp++;
    ima_model_adam(m, m->n_params_ae, m->n_params_imp, cfg, m->step_imp);
}
