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
#include "model/grad_sum.h"

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

/* sums over rows [r0, r1) of the terms (not yet divided by B): glob, rec[j], align[j] */
static void forward_rows(ima_model *m, const ima_batch *b, ima_weights weights, size_t r0, size_t r1,
                         ima_stage1_terms *sum) {
    int M = m->cfg.n_modalities;
    size_t n = r1 - r0, d = m->cfg.latent_width;
    const uint8_t *mask = b->mask ? b->mask + r0 * (size_t)M : NULL;
    const float *z = m->z + r0 * d;
    ima_model_encode_rows_checked(m, b, weights, weights == IMA_WEIGHTS_IMPORTANCE, r0, r1);
    sum->glob = 0.0;
    for (size_t k = 0; k < n * d; k++) sum->glob += (double)z[k] * (double)z[k];
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        size_t D = c->input_width;
        /* decoder output: a logit (bce) or the value (sse); row_loss (n) per-row Rec_j */
        ima_mlp_acts a;
        ima_mlp_acts_rows(&a, &md->dec, &md->dec_acts, r0);
        ima_mlp_forward(&md->dec, &a, z, n);
        float *row_loss = m->row_loss + r0;
        ima_rec_forward(row_loss, a.out[2], b->x[j] + r0 * D, c->loss, n, D);
        double rec = 0.0;
        for (size_t i = 0; i < n; i++)
            if (present(mask, M, i, j)) rec += row_loss[i];
        sum->rec[j] = rec;
        sum->align[j] = ima_align_forward(z, ima_model_u(m, j) + r0 * d, mask, M, j, n, d);
    }
}

/* the terms of the batch (this rank's rows) from the parts' sums; nb the rows a mean divides by */
static void combine_terms(const ima_model *m, size_t B, double nb, const ima_stage1_terms *sum, int parts,
                          ima_stage1_terms *terms) {
    memset(terms, 0, sizeof *terms);
    double glob = sum[0].glob + (parts > 1 ? sum[1].glob : 0.0);
    terms->glob = glob / (double)B * ((double)B / nb);
    terms->total = m->cfg.lambda_glob * terms->glob;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const ima_modality_config *c = &m->cfg.mod[j];
        terms->rec[j] = (sum[0].rec[j] + (parts > 1 ? sum[1].rec[j] : 0.0)) / nb;
        terms->align[j] = (sum[0].align[j] + (parts > 1 ? sum[1].align[j] : 0.0)) / nb;
        terms->total += c->lambda_rec * terms->rec[j] + c->lambda_align * terms->align[j];
    }
}

/* gradient of rows [r0, r1) of a batch whose means divide by nb rows: dz, du rows; parameter gradients of
 * part p (grads, or grads2 for p = 1). Each network's gradient is final after its backward: gs hears of
 * it (every decoder, then every encoder: the buckets of stage1_buckets) */
static void backward_rows(ima_model *m, const ima_batch *b, size_t nb, size_t r0, size_t r1, int p,
                          ima_grad_sum *gs) {
    int M = m->cfg.n_modalities;
    size_t n = r1 - r0, d = m->cfg.latent_width;
    float invB = 1.0f / (float)nb;
    const uint8_t *mask = b->mask ? b->mask + r0 * (size_t)M : NULL;
    const float *z = m->z + r0 * d;
    float *dz = m->dz + r0 * d, *scratch = ima_model_part_scratch(m, r0);
    ima_glob_backward(dz, z, 2.0f * m->cfg.lambda_glob * invB, n, d);
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        const ima_modality_config *c = &m->cfg.mod[j];
        size_t D = c->input_width;
        ima_align_backward(dz, md->du + r0 * d, z, ima_model_u(m, j) + r0 * d, mask, M, j,
                           2.0f * c->lambda_align * invB, n, d);
        /* reconstruction: per-row scale l_rec m_ij / B, dlogits into tmp, then back through G_j into dz */
        float *rows = m->row_scale + r0, *dout = ima_model_part_tmp(m, r0); /* (n, D) */
        for (size_t i = 0; i < n; i++) rows[i] = present(mask, M, i, j) ? c->lambda_rec * invB : 0.0f;
        memset(dout, 0, n * D * sizeof(float));
        ima_mlp_acts a;
        ima_mlp_acts_rows(&a, &md->dec, &md->dec_acts, r0);
        ima_rec_backward(dout, a.out[2], b->x[j] + r0 * D, rows, c->loss, n, D);
        ima_mlp dec;
        ima_model_part_mlp(&dec, m, &md->dec, p);
        ima_mlp_backward(&dec, &a, dz, dout, z, n, scratch);
        ima_grad_sum_done(gs, p);
    }
    /* fusion: du_ij += (m_ij y_ij / S_i) dz_i, then back through each encoder */
    for (size_t i = r0; i < r1; i++) {
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
        size_t D = m->cfg.mod[j].input_width;
        ima_mlp_acts a;
        ima_mlp_acts_rows(&a, &md->enc, &md->enc_acts, r0);
        ima_mlp enc;
        ima_model_part_mlp(&enc, m, &md->enc, p);
        ima_mlp_backward(&enc, &a, NULL, md->du + r0 * d, md->xc + r0 * D, n, scratch);
        ima_grad_sum_done(gs, p);
    }
}

/* the buckets of the overlapped gradient sum, in the order backward_rows finishes them */
static void stage1_buckets(ima_grad_sum *gs, ima_model *m, const ima_batch *b, int parts) {
    ima_grad_sum_begin(gs, m, b->coll, parts, 0, m->n_params_ae);
    for (int j = 0; j < m->cfg.n_modalities; j++) ima_grad_sum_add(gs, &m->mod[j].dec);
    for (int j = 0; j < m->cfg.n_modalities; j++) ima_grad_sum_add(gs, &m->mod[j].enc);
}

/* one part of a stage-1 pass: what = 1 forward, 2 backward, 3 both (zeroing this part's gradients first) */
typedef struct {
    ima_model *m;
    const ima_batch *b;
    ima_weights weights;
    int what, parts;
    ima_stage1_terms sum[2];
    ima_grad_sum gs; // the gradient's sum over the ranks (overlapped when b->coll offers it)
} stage1_job;

static void stage1_part(void *vj, int p) {
    stage1_job *e = vj;
    ima_model *m = e->m;
    size_t r0, r1, d = m->cfg.latent_width;
    ima_model_part_rows(e->b->B, e->parts, p, &r0, &r1);
    if (e->what == 3) { /* this part's share of ima_stage1_zero_grad */
        memset(p ? m->grads2 : m->grads, 0, m->n_params_ae * sizeof(float));
        memset(m->dz + r0 * d, 0, (r1 - r0) * d * sizeof(float));
        for (int j = 0; j < m->cfg.n_modalities; j++) memset(m->mod[j].du + r0 * d, 0, (r1 - r0) * d * sizeof(float));
    } else if (e->what == 2 && p == 1) {
        memset(m->grads2, 0, m->n_params_ae * sizeof(float)); /* part 1 accumulates here, then into grads */
    }
    if (e->what & 1) forward_rows(m, e->b, e->weights, r0, r1, &e->sum[p]);
    if (e->what & 2) backward_rows(m, e->b, batch_rows(e->b), r0, r1, p, &e->gs);
}

static int stage1_pass(ima_model *m, const ima_batch *b, ima_weights weights, int what, ima_stage1_terms *terms,
                       const char *fn) {
    if (ima_model_check_batch(m, b, fn)) return IMA_ERR; /* on the caller's thread, before any part runs */
    if (b->B == 0) { /* a rank with no row of a short global batch: it adds nothing */
        if (what == 3) ima_stage1_zero_grad(m);
        if (what & 2) { /* zeros, but every rank starts the same sums in the same order */
            ima_grad_sum gs;
            stage1_buckets(&gs, m, b, 1);
            ima_grad_sum_end(&gs);
        }
        if (what & 1) {
            memset(terms, 0, sizeof *terms);
            sum_terms(m, b, terms);
        }
        return IMA_OK;
    }
    stage1_job e = {.m = m, .b = b, .weights = weights, .what = what};
    e.parts = ima_model_parts(m, b->B, what & 2);
    stage1_buckets(&e.gs, m, b, e.parts);
    if (e.parts == 1 && what == 3) { /* one part: exactly the unsplit sequence */
        ima_stage1_zero_grad(m);
        e.what = 1;
        stage1_part(&e, 0);
        e.what = 2;
        stage1_part(&e, 0);
    } else {
        ima_model_run_parts(m, e.parts, stage1_part, &e);
    }
    /* part 1's gradient added and, overlapping, every bucket's sum started: before the terms' sum, as on
     * a rank with no row */
    if (what & 2) ima_grad_sum_end(&e.gs);
    if (what & 1) {
        combine_terms(m, b->B, (double)batch_rows(b), e.sum, e.parts, terms);
        sum_terms(m, b, terms);
    }
    return IMA_OK;
}

int ima_stage1_forward(ima_model *m, const ima_batch *b, ima_weights weights, ima_stage1_terms *terms) {
    return stage1_pass(m, b, weights, 1, terms, __func__);
}

int ima_stage1_backward(ima_model *m, const ima_batch *b) {
    return stage1_pass(m, b, IMA_WEIGHTS_ONE, 2, NULL, __func__);
}

int ima_stage1_forward_backward(ima_model *m, const ima_batch *b, ima_weights weights, int grad,
                                ima_stage1_terms *terms) {
    return stage1_pass(m, b, weights, grad ? 3 : 1, terms, __func__);
}

void ima_stage1_step(ima_model *m, const ima_adam_config *cfg) {
    m->step_ae++;
    ima_model_adam(m, 0, m->n_params_ae, cfg, m->step_ae);
}
