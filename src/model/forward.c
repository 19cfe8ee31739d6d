/* forward.c: encoders, importance networks and importance-weighted fusion.
 * M modalities j, B rows i, D_j input, d latent. mask (B, M), 1 = present. */
#include <math.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"

/* fusion weights below this are raised to it so that sum_j m_ij y_ij never underflows to 0 */
#define IMA_MIN_FUSION_WEIGHT 1e-6f

static inline int present(const ima_batch *b, int M, size_t i, int j) { return !b->mask || b->mask[i * M + j]; }

/* rows [r0, r1) of the centred input xc (B, D) = x - center */
static void center_rows(ima_modality *md, const float *x, size_t r0, size_t r1, size_t D) {
    for (size_t i = r0; i < r1; i++) {
        const float *xi = x + i * D;
        float *o = md->xc + i * D;
        for (size_t c = 0; c < D; c++) o[c] = xi[c] - md->center[c];
    }
}

/* net forward on rows [r0, r1) of the centred input xc (B, D), into those rows of acts */
static void net_rows(const ima_mlp *net, const ima_mlp_acts *acts, const float *xc, size_t D, size_t r0, size_t r1) {
    ima_mlp_acts a;
    ima_mlp_acts_rows(&a, net, acts, r0);
    ima_mlp_forward(net, &a, xc + r0 * D, r1 - r0);
}

/* importance net of modality j on rows [r0, r1) of xc: y_imp, y_comp */
static void importance_rows(ima_model *m, int j, size_t r0, size_t r1) {
    ima_modality *md = &m->mod[j];
    net_rows(&md->imp, &md->imp_acts, md->xc, m->cfg.mod[j].input_width, r0, r1);
    const float *logit = md->imp_acts.out[2]; /* (B, 1) */
    for (size_t i = r0; i < r1; i++) {
        md->y_imp[i] = ima_sigmoid(logit[i]);
        md->y_comp[i] = ima_sigmoid(-logit[i]); /* 1 - y without cancellation */
    }
}

static void encoder_rows(ima_model *m, int j, size_t r0, size_t r1) {
    ima_modality *md = &m->mod[j];
    net_rows(&md->enc, &md->enc_acts, md->xc, m->cfg.mod[j].input_width, r0, r1);
}

float ima_fusion_weight(float y, float y_comp, float sharpness) {
    if (sharpness == 0.0f || sharpness == 1.0f) return fmaxf(y, IMA_MIN_FUSION_WEIGHT); /* the paper's, bit for bit */
    /* sigmoid(k logit y), logit y = log y - log(1 - y) from both stored halves (no cancellation near 0 or 1) */
    double l = (double)sharpness * (log(fmax((double)y, 1e-300)) - log(fmax((double)y_comp, 1e-300)));
    double w = l >= 0 ? 1.0 / (1.0 + exp(-l)) : exp(l) / (1.0 + exp(l));
    return fmaxf((float)w, IMA_MIN_FUSION_WEIGHT);
}

/* fusion of rows [r0, r1): y, then z_i = sum_j m_ij w_ij u_ij / sum_j m_ij w_ij with w = y (the paper), or
 * w = sigmoid(k logit y) with k = sharp > 1 (beyond the paper, docs/importance.md). The representation
 * entries (ima_model_encode, ima_model_encode_rows, ima_model_fuse) pass cfg.fusion_sharpness; the
 * training passes (stage 1 in later rounds, stage 2) pass 1: they fuse with y as SPEC section 2 says. */
static void fuse_rows(ima_model *m, const ima_batch *b, ima_weights weights, float sharp, size_t r0, size_t r1) {
    int M = m->cfg.n_modalities;
    size_t d = m->cfg.latent_width;
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        for (size_t i = r0; i < r1; i++) {
            float y = weights == IMA_WEIGHTS_IMPORTANCE ? ima_fusion_weight(md->y_imp[i], md->y_comp[i], sharp) : 1.0f;
            md->y[i] = present(b, M, i, j) ? y : 0.0f;
        }
    }
    memset(m->z + r0 * d, 0, (r1 - r0) * d * sizeof(float));
    for (size_t i = r0; i < r1; i++) {
        float S = 0.0f, *zi = m->z + i * d;
        for (int j = 0; j < M; j++) S += m->mod[j].y[i];
        /* every public entry refuses a row with every modality masked (ima_model_check_batch), and a present
         * modality weighs at least IMA_MIN_FUSION_WEIGHT; a caller of ima_model_encode_rows_checked who
         * passes such a row anyway gets z_i = 0 */
        if (!(S > 0.0f)) continue;
        for (int j = 0; j < M; j++) {
            float a = m->mod[j].y[i] / S;
            if (a == 0.0f) continue;
            const float *u = ima_model_u(m, j) + i * d;
            for (size_t k = 0; k < d; k++) zi[k] += a * u[k];
        }
    }
}

int ima_batch_check_inputs(const ima_batch *b, int M, const char *const *names, const char *fn) {
    for (int j = 0; j < M; j++)
        if (b->B && !b->x[j]) return ima_error("%s: the input of modality %d (%s) is NULL", fn, j, names[j]);
    if (b->mask)
        for (size_t i = 0; i < b->B; i++) {
            int any = 0;
            for (int j = 0; j < M && !any; j++) any = b->mask[i * (size_t)M + (size_t)j] != 0;
            if (!any) return ima_error("%s: row %zu of the batch has every modality masked: expected at least one", fn, i);
        }
    return IMA_OK;
}

int ima_model_check_batch(const ima_model *m, const ima_batch *b, const char *fn) {
    if (!m || !b) return ima_error("%s: %s is NULL", fn, !m ? "the model" : "the batch");
    if (b->B > m->max_batch)
        return ima_error("%s: a batch of %zu rows: the model was built for at most %zu (max_batch)", fn, b->B,
                         m->max_batch);
    const char *names[IMA_MAX_MODALITIES];
    for (int j = 0; j < m->cfg.n_modalities; j++) names[j] = m->cfg.mod[j].name;
    return ima_batch_check_inputs(b, m->cfg.n_modalities, names, fn);
}

static void encode_rows(ima_model *m, const ima_batch *b, ima_weights weights, float sharp, int importance, size_t r0,
                        size_t r1) {
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        center_rows(&m->mod[j], b->x[j], r0, r1, m->cfg.mod[j].input_width); /* once for both networks */
        if (importance) importance_rows(m, j, r0, r1);
        encoder_rows(m, j, r0, r1);
    }
    fuse_rows(m, b, weights, sharp, r0, r1);
}

int ima_model_encode_rows(ima_model *m, const ima_batch *b, ima_weights weights, int importance, size_t r0,
                          size_t r1) {
    if (ima_model_check_batch(m, b, __func__)) return IMA_ERR;
    if (r0 > r1 || r1 > b->B) return ima_error("%s: rows [%zu, %zu) of a batch of %zu", __func__, r0, r1, b->B);
    encode_rows(m, b, weights, m->cfg.fusion_sharpness, importance, r0, r1);
    return IMA_OK;
}

/* the same rows of a batch the caller has checked (ima_model_check_batch): the library's parts (stage 1:
 * the paper's fusion weights y) */
void ima_model_encode_rows_checked(ima_model *m, const ima_batch *b, ima_weights weights, int importance, size_t r0,
                                  size_t r1) {
    encode_rows(m, b, weights, 1.0f, importance, r0, r1);
}

/* one part of a pass over the batch: importance nets and / or encoders and fusion */
typedef struct {
    ima_model *m;
    const ima_batch *b;
    ima_weights weights;
    float sharp; // fusion sharpness (1: the paper's weights y)
    int importance, encode, parts;
} encode_job;

static void encode_part(void *vj, int p) {
    encode_job *e = vj;
    size_t r0, r1;
    ima_model_part_rows(e->b->B, e->parts, p, &r0, &r1);
    if (e->encode) {
        encode_rows(e->m, e->b, e->weights, e->sharp, e->importance, r0, r1);
        return;
    }
    for (int j = 0; j < e->m->cfg.n_modalities; j++) {
        center_rows(&e->m->mod[j], e->b->x[j], r0, r1, e->m->cfg.mod[j].input_width);
        importance_rows(e->m, j, r0, r1);
    }
}

/* the batch is checked here, on the caller's thread (ima_error is per thread), before any part runs */
static int encode_pass(ima_model *m, const ima_batch *b, ima_weights weights, float sharp, int importance, int encode,
                       const char *fn) {
    if (ima_model_check_batch(m, b, fn)) return IMA_ERR;
    if (b->B == 0) return IMA_OK;
    encode_job e = {m, b, weights, sharp, importance, encode, ima_model_parts(m, b->B, 0)};
    ima_model_run_parts(m, e.parts, encode_part, &e);
    return IMA_OK;
}

int ima_model_importance(ima_model *m, const ima_batch *b) {
    return encode_pass(m, b, IMA_WEIGHTS_ONE, 1.0f, 1, 0, __func__);
}

int ima_model_fuse(ima_model *m, const ima_batch *b, ima_weights weights) {
    if (ima_model_check_batch(m, b, __func__)) return IMA_ERR;
    fuse_rows(m, b, weights, m->cfg.fusion_sharpness, 0, b->B);
    return IMA_OK;
}

int ima_model_encode(ima_model *m, const ima_batch *b, ima_weights weights) {
    return encode_pass(m, b, weights, m->cfg.fusion_sharpness, weights == IMA_WEIGHTS_IMPORTANCE, 1, __func__);
}

int ima_model_encode_importance(ima_model *m, const ima_batch *b, ima_weights weights) {
    return encode_pass(m, b, weights, 1.0f, 1, 1, __func__); /* stage 2: the paper's fusion weights y */
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
