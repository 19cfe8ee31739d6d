/* test_gradcheck.c: finite-difference checks of every hand-written backward pass: the nn kernels
 * (dense, ReLU, sigmoid, BCE from logits, SSE, MLP), each stage-1 loss term alone (glob, alignment,
 * reconstruction with BCE and SSE), and both IMA stage losses as a whole, with missing modalities
 * and M = 3. Directional derivatives per tensor: for a random unit direction v
 * restricted to one tensor, (L(p + e v) - L(p - e v)) / 2e must equal g . v. The relative metric is
 * |fd - an| / max(|fd|, |an|, floor); an all-zero analytic gradient fails (genann's guard). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/model.h"
#include "ima/nn.h"
#include "gradcheck_util.h"
#include "testutil.h"

#define TOL 2e-2

/* ---- kernels: an MLP with a BCE or SSE head; loss = sum_i scale_i * loss_row_i ------- */

typedef struct {
    ima_mlp mlp;
    ima_mlp_acts acts;
    float *x, *target, *rows, *scale, *dout, *dx, *scratch;
    size_t B;
    int sse;
} mlp_ctx;

static double mlp_loss(void *vc) {
    mlp_ctx *c = vc;
    ima_mlp_forward(&c->mlp, &c->acts, c->x, c->B);
    size_t D = c->mlp.width[c->mlp.n_layers];
    const float *out = c->acts.out[c->mlp.n_layers - 1];
    if (c->sse) ima_sse_forward(c->rows, out, c->target, c->B, D);
    else ima_bce_logits_forward(c->rows, out, c->target, c->B, D);
    double L = 0;
    for (size_t i = 0; i < c->B; i++) L += (double)c->scale[i] * c->rows[i];
    return L;
}

static void mlp_grad(mlp_ctx *c, float *grads, size_t np) {
    size_t D = c->mlp.width[c->mlp.n_layers];
    memset(grads, 0, np * sizeof(float)); /* backward passes accumulate: zero every gradient first */
    memset(c->dout, 0, c->B * D * sizeof(float));
    memset(c->dx, 0, c->B * c->mlp.width[0] * sizeof(float));
    mlp_loss(c);
    const float *out = c->acts.out[c->mlp.n_layers - 1];
    if (c->sse) ima_sse_backward(c->dout, out, c->target, c->scale, c->B, D);
    else ima_bce_logits_backward(c->dout, out, c->target, c->scale, c->B, D);
    ima_mlp_backward(&c->mlp, &c->acts, c->dx, c->dout, c->x, c->B, c->scratch);
}

static void check_mlp(int sse, int layers) {
    ima_rng rng;
    ima_rng_init(&rng, 7 + sse);
    size_t w[4] = {6, 9, 8, 5};
    if (layers == 1) w[1] = 5;
    mlp_ctx c = {.B = 4, .sse = sse};
    size_t np = ima_mlp_setup(&c.mlp, layers, w);
    float *params = malloc(np * sizeof(float)), *grads = malloc(np * sizeof(float));
    ima_mlp_bind(&c.mlp, params, grads);
    ima_mlp_init(&c.mlp, &rng);
    float *acts = malloc(ima_mlp_acts_size(&c.mlp, c.B) * sizeof(float));
    ima_mlp_acts_bind(&c.acts, &c.mlp, acts, c.B);
    size_t D = w[layers];
    c.x = malloc(c.B * w[0] * sizeof(float));
    c.target = malloc(c.B * D * sizeof(float));
    c.rows = malloc(c.B * sizeof(float));
    c.scale = malloc(c.B * sizeof(float));
    c.dout = malloc(c.B * D * sizeof(float));
    c.dx = malloc(c.B * w[0] * sizeof(float));
    c.scratch = malloc((ima_mlp_scratch_size(&c.mlp, c.B) + 1) * sizeof(float));
    for (size_t k = 0; k < c.B * w[0]; k++) c.x[k] = (float)ima_rng_normal(&rng);
    for (size_t k = 0; k < c.B * D; k++) c.target[k] = (float)ima_rng_uniform(&rng);
    for (size_t i = 0; i < c.B; i++) c.scale[i] = 0.5f + (float)i;
    mlp_grad(&c, grads, np);
    CHECK(gc_nonzero(grads, np), "mlp gradient is all zero");
    /* each weight and bias tensor separately, then the input */
    for (int l = 0; l < layers; l++) {
        for (int k = 0; k < 2; k++) {
            float *p = k ? c.mlp.b[l] : c.mlp.W[l];
            float *g = k ? c.mlp.db[l] : c.mlp.dW[l];
            size_t n = k ? w[l + 1] : w[l + 1] * w[l];
            gc_probe pr = gc_directional(mlp_loss, &c, p, g, n, &rng, 1e-2);
            CHECK(gc_rel(pr.fd, pr.an, 1e-3) < TOL, "%s mlp(%d) layer %d %s: fd %.6g analytic %.6g",
                  sse ? "sse" : "bce", layers, l, k ? "bias" : "weight", pr.fd, pr.an);
        }
    }
    gc_probe pr = gc_directional(mlp_loss, &c, c.x, c.dx, c.B * w[0], &rng, 1e-2);
    CHECK(gc_rel(pr.fd, pr.an, 1e-3) < TOL, "%s mlp(%d) input: fd %.6g analytic %.6g", sse ? "sse" : "bce", layers,
          pr.fd, pr.an);
    free(params), free(grads), free(acts), free(c.x), free(c.target), free(c.rows), free(c.scale), free(c.dout);
    free(c.dx), free(c.scratch);
}

static void check_sigmoid(void) {
    float in[5] = {-30.f, -1.f, 0.f, 2.f, 40.f}, out[5], din[5], dout[5] = {1, 1, 1, 1, 1};
    ima_sigmoid_forward(out, in, 5);
    ima_sigmoid_backward(din, dout, out, 5);
    for (int k = 0; k < 5; k++) {
        double e = 1e-3, fd = (ima_sigmoid(in[k] + (float)e) - ima_sigmoid(in[k] - (float)e)) / (2 * e);
        CHECK(fabs(fd - din[k]) < 1e-3, "sigmoid'(%g): fd %g analytic %g", in[k], fd, din[k]);
        CHECK(isfinite(out[k]), "sigmoid(%g) not finite", in[k]);
    }
    float big[2] = {-100.f, 100.f}, rows[1], x[2] = {1.f, 0.f};
    ima_bce_logits_forward(rows, big, x, 1, 2);
    CHECK(isfinite(rows[0]) && fabs(rows[0] - 200.0) < 1e-3, "bce at |logit| 100 = %g, expected 200", rows[0]);
}

/* ---- the stage-1 terms alone: each forward / backward pair of model.h ------------------- */

typedef struct {
    float *z, *u, *out, *x, *scale; // (B, d) (B, d) (B, D) (B, D) (B)
    float *rows;                    // (B)
    const uint8_t *mask;            // (B, M) column j
    int M, j, term;                 // term: 0 glob, 1 align, 2 rec bce, 3 rec sse
    size_t B, d, D;
} term_ctx;

static double term_loss(void *vc) {
    term_ctx *c = vc;
    if (c->term == 0) return ima_glob_forward(c->z, c->B, c->d);
    if (c->term == 1) return ima_align_forward(c->z, c->u, c->mask, c->M, c->j, c->B, c->d);
    ima_rec_forward(c->rows, c->out, c->x, c->term == 2 ? IMA_LOSS_BCE : IMA_LOSS_SSE, c->B, c->D);
    double L = 0;
    for (size_t i = 0; i < c->B; i++) L += (double)c->scale[i] * c->rows[i];
    return L;
}

static void check_terms(void) {
    enum { B = 6, d = 4, D = 9, M = 2 };
    ima_rng rng;
    ima_rng_init(&rng, 314);
    float z[B * d], u[B * d], out[B * D], x[B * D], scale[B], rows[B], dz[B * d], du[B * d], dout[B * D];
    uint8_t mask[B * M];
    for (size_t k = 0; k < B * d; k++) z[k] = (float)ima_rng_normal(&rng), u[k] = (float)ima_rng_normal(&rng);
    for (size_t k = 0; k < B * D; k++) out[k] = (float)(3 * ima_rng_normal(&rng)), x[k] = (float)ima_rng_uniform(&rng);
    for (size_t i = 0; i < B; i++) {
        scale[i] = i % 3 == 1 ? 0.0f : 0.2f + 0.1f * (float)i; /* a masked row: scale 0 */
        mask[i * M] = 1, mask[i * M + 1] = i % 3 != 1;
    }
    term_ctx c = {z, u, out, x, scale, rows, mask, M, 1, 0, B, d, D};
    const char *names[4] = {"glob", "alignment", "reconstruction bce", "reconstruction sse"};
    for (int t = 0; t < 4; t++) {
        c.term = t;
        /* every backward accumulates: start from a non-zero gradient and subtract it again */
        for (size_t k = 0; k < B * d; k++) dz[k] = 1.0f, du[k] = -1.0f;
        for (size_t k = 0; k < B * D; k++) dout[k] = 0.5f;
        if (t == 0) ima_glob_backward(dz, z, 2.0f / B, B, d);
        if (t == 1) ima_align_backward(dz, du, z, u, mask, M, 1, 2.0f, B, d);
        if (t >= 2) ima_rec_backward(dout, out, x, scale, t == 2 ? IMA_LOSS_BCE : IMA_LOSS_SSE, B, D);
        for (size_t k = 0; k < B * d; k++) dz[k] -= 1.0f, du[k] += 1.0f;
        for (size_t k = 0; k < B * D; k++) dout[k] -= 0.5f;
        float *p[2] = {t >= 2 ? out : z, u}, *g[2] = {t >= 2 ? dout : dz, du};
        size_t n[2] = {t >= 2 ? B * D : B * d, B * d};
        for (int k = 0; k < (t == 1 ? 2 : 1); k++) {
            double fd, an, noise;
            double r = gc_tensor(term_loss, &c, p[k], g[k], n[k], &rng, TOL, &fd, &an, &noise);
            CHECK(r < TOL, "%s term, d/d%s: fd %.6g analytic %.6g (rel %.3g)", names[t],
                  k        ? "u"
                  : t >= 2 ? "out"
                           : "z",
                  fd, an, r);
            printf("term %-18s d/d%-3s: fd %.6g analytic %.6g\n", names[t], k ? "u" : t >= 2 ? "out" : "z", fd, an);
        }
        if (t == 1) /* masked rows get no gradient */
            CHECK(dz[1 * d] == 0.0f && du[1 * d + 2] == 0.0f, "alignment: a row without modality 1 got a gradient");
    }
}

/* ---- the IMA model: stage 1 and stage 2 losses as a whole ----------------------------- */

typedef struct {
    ima_model *m;
    ima_batch b;
    ima_weights weights;
    int stage;
} ima_ctx;

static double ima_loss(void *vc) {
    ima_ctx *c = vc;
    if (c->stage == 1) {
        ima_stage1_terms t;
        ima_stage1_forward_backward(c->m, &c->b, c->weights, 0, &t);
        return t.total;
    }
    ima_stage2_terms t;
    ima_stage2_forward_backward(c->m, &c->b, c->weights, 0, &t);
    return t.total;
}

/* focus: 0 every term; 1 only the alignment term (stage 1) / only the covariance term (stage 2) */
static void check_ima(int M, int with_mask, ima_weights weights, int stage, int sse, float lambda_corr, int focus) {
    ima_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_modalities = M;
    cfg.latent_width = 3;
    cfg.lambda_glob = 0.7f;
    cfg.center_inputs = 1;
    for (int j = 0; j < M; j++) {
        ima_modality_config *mc = &cfg.mod[j];
        snprintf(mc->name, sizeof mc->name, "m%d", j);
        mc->input_width = 5 + (size_t)j;
        mc->hidden_width = 6 + (size_t)j;
        mc->loss = (sse && j == 1) ? IMA_LOSS_SSE : IMA_LOSS_BCE;
        mc->lambda_rec = 1.0f + 0.25f * (float)j;
        mc->lambda_align = 0.5f + 0.5f * (float)j;
        mc->lambda_local = 1.0f + 0.5f * (float)j;
        mc->lambda_corr = lambda_corr * (1.0f + (float)j);
        mc->rho = 0.3f + 0.2f * (float)j;
        if (focus) mc->lambda_rec = mc->lambda_local = 0.0f;
    }
    if (focus) cfg.lambda_glob = 0.0f;
    const size_t B = 7;
    ima_model *m;
    CHECK(ima_model_init(&m, &cfg, B, 42 + (uint64_t)M) == 0, "model init: %s", "failed");
    ima_rng rng;
    ima_rng_init(&rng, 99 + (uint64_t)(M * 10 + stage));
    float *x[IMA_MAX_MODALITIES];
    uint8_t mask[7 * IMA_MAX_MODALITIES];
    ima_ctx c = {.m = m, .weights = weights, .stage = stage};
    c.b.B = B;
    for (int j = 0; j < M; j++) {
        size_t D = cfg.mod[j].input_width;
        x[j] = malloc(B * D * sizeof(float));
        for (size_t k = 0; k < B * D; k++) x[j][k] = (float)ima_rng_uniform(&rng);
        for (size_t k = 0; k < D; k++) m->mod[j].center[k] = 0.3f + 0.01f * (float)k;
        c.b.x[j] = x[j];
    }
    for (size_t i = 0; i < B; i++)
        for (int j = 0; j < M; j++) mask[i * M + j] = with_mask ? (uint8_t)((i + (size_t)j) % 3 != 0 || j == 0) : 1;
    c.b.mask = with_mask ? mask : NULL;

    if (stage == 1) {
        ima_stage1_terms t;
        ima_stage1_forward_backward(m, &c.b, weights, 1, &t);
    } else {
        ima_stage2_terms t;
        ima_stage2_forward_backward(m, &c.b, weights, 1, &t);
    }
    size_t lo = stage == 1 ? 0 : m->n_params_ae, hi = stage == 1 ? m->n_params_ae : m->n_params;
    CHECK(gc_nonzero(m->grads + lo, hi - lo), "M=%d stage %d gradient is all zero", M, stage);
    /* the other stage's parameters get no gradient from this loss (their gradient range stays as it was:
     * zero), and with y = 1 stage 1 does not depend on the importance nets at all: perturbing one of
     * their tensors leaves the loss bit-identical */
    ima_param_view views[200];
    size_t nv = ima_model_param_views(m, views, 200);
    float *gcopy = malloc(m->n_params * sizeof(float));
    memcpy(gcopy, m->grads, m->n_params * sizeof(float));
    double worst = 0, L0 = ima_loss(&c);
    for (size_t v = 0; v < nv; v++) {
        size_t off = (size_t)(views[v].data - m->params);
        if (off >= lo && off < hi) continue;
        CHECK(!gc_nonzero(gcopy + off, views[v].count), "M=%d stage %d: %s (the other stage) got a gradient", M, stage,
              views[v].name);
        if (stage == 1 && weights == IMA_WEIGHTS_ONE) {
            float keep = views[v].data[0];
            views[v].data[0] += 0.5f;
            CHECK(ima_loss(&c) == L0, "M=%d stage 1 (y = 1): the loss moved with %s", M, views[v].name);
            views[v].data[0] = keep;
        }
    }
    for (size_t v = 0; v < nv; v++) {
        size_t off = (size_t)(views[v].data - m->params);
        int in_stage = off >= lo && off < hi;
        if (!in_stage) continue;
        /* the best of three step sizes and of up to three random directions (gradcheck_util.h) */
        double an, fd, noise;
        double r = gc_tensor(ima_loss, &c, views[v].data, gcopy + off, views[v].count, &rng, TOL, &fd, &an, &noise);
        if (r > worst) worst = r;
        if (getenv("GC_VERBOSE")) printf("  %s fd %.6g an %.6g noise %.3g\n", views[v].name, fd, an, noise);
        CHECK(r < TOL, "M=%d mask=%d weights=%d stage %d %s: fd %.6g analytic %.6g (rel %.3g)", M, with_mask,
              (int)weights, stage, views[v].name, fd, an, r);
    }
    printf("M=%d mask=%d weights=%s stage %d%s%s: %zu tensors, worst relative difference %.2e\n", M, with_mask,
           weights == IMA_WEIGHTS_ONE ? "one" : "importance", stage, sse ? " (sse)" : "",
           focus ? (stage == 1 ? " (alignment only)" : " (covariance only)") : "", nv, worst);
    free(gcopy);
    for (int j = 0; j < M; j++) free(x[j]);
    ima_model_free(m);
}

int main(void) {
    check_sigmoid();
    check_mlp(0, 3);
    check_mlp(1, 3);
    check_mlp(0, 1);
    check_terms();
    /* stage 2 with importance-weighted z is not checked by finite differences of the whole loss:
     * z then moves with the importance nets, while the loss treats it as a constant (SPEC section 2) */
    for (int M = 1; M <= 3; M++) {
        for (int mask = 0; mask <= (M > 1); mask++) {
            int focus_ok = M > 1; /* with one modality z = u: no alignment term */
            check_ima(M, mask, IMA_WEIGHTS_ONE, 1, 0, 1.0f, 0);
            check_ima(M, mask, IMA_WEIGHTS_IMPORTANCE, 1, M == 2, 1.0f, 0);
            if (focus_ok) check_ima(M, mask, IMA_WEIGHTS_IMPORTANCE, 1, 0, 1.0f, 1);
            check_ima(M, mask, IMA_WEIGHTS_ONE, 2, 0, 1.0f, 0);
            /* the covariance term alone: it is tiny next to the prior term at equal lambdas */
            if (M > 1) check_ima(M, mask, IMA_WEIGHTS_ONE, 2, 0, 1000.0f, 1);
        }
    }
    return tu_finish("gradcheck");
}
