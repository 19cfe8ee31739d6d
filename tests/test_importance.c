/* test_importance.c: the importance objectives (docs/importance.md).
 *  1. each stage-2 term's backward (weighted cross-covariance, Bernoulli KL, BCE to targets) against
 *     central differences of its own forward, in double, with unselected rows;
 *  2. the local-ev stage-2 loss as a whole through the importance nets (M = 1..3, masks, rows without a
 *     target), by directional finite differences (gradcheck_util.h);
 *  3. calibration on a synthetic corpus whose noise share is known: targets < 0.5 recover the noise for
 *     every rho in [0.6, 0.95], for M = 2 and M = 3 with missing modalities;
 *  4. the objective's name: parsing, refusal of an unknown name, and the checkpoint field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/importance.h"
#include "ima/model.h"
#include "ima/rng.h"
#include "ima/train.h"
#include "gradcheck_util.h"
#include "testutil.h"

/* ---- 1. term by term ------------------------------------------------------------------ */

#define NR 9
#define DD 3

static double rel(double a, double b) { return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), 1e-9); }

static void check_terms(void) {
    ima_rng rng;
    ima_rng_init(&rng, 5);
    float z[NR * DD], u[NR * DD], y[NR], yc[NR], logit[NR], t[NR];
    uint8_t sel[NR];
    for (int i = 0; i < NR * DD; i++) z[i] = (float)ima_rng_normal(&rng), u[i] = (float)ima_rng_normal(&rng);
    for (int i = 0; i < NR; i++) {
        logit[i] = (float)(2.0 * ima_rng_normal(&rng));
        y[i] = ima_sigmoid(logit[i]);
        yc[i] = ima_sigmoid(-logit[i]);
        t[i] = (float)ima_rng_uniform(&rng);
        sel[i] = (uint8_t)(i % 4 != 1); /* rows 1 and 5 take no part */
    }
    double C[DD * DD], muz[DD], muu[DD], T[DD], g[NR];
    const double h = 1e-3;
    double worst[3] = {0, 0, 0};

    /* weighted cross-covariance: d||C||^2 / d yc_i */
    memset(g, 0, sizeof g);
    ima_wcov_forward(C, muz, muu, z, u, yc, sel, NR, DD);
    ima_wcov_backward(g, 1.0, C, muz, muu, z, u, yc, sel, NR, DD, T);
    for (int i = 0; i < NR; i++) {
        float keep = yc[i];
        yc[i] = keep + (float)h;
        double lp = ima_wcov_forward(C, muz, muu, z, u, yc, sel, NR, DD);
        double hp = (double)yc[i] - keep;
        yc[i] = keep - (float)h;
        double lm = ima_wcov_forward(C, muz, muu, z, u, yc, sel, NR, DD);
        double hm = keep - (double)yc[i];
        yc[i] = keep;
        double fd = (lp - lm) / (hp + hm);
        if (!sel[i]) CHECK(g[i] == 0.0 && fd == 0.0, "wcov: unselected row %d has gradient %g / fd %g", i, g[i], fd);
        else worst[0] = fmax(worst[0], rel(fd, g[i]));
    }
    CHECK(worst[0] < 1e-3, "wcov backward: worst relative difference %.3g", worst[0]);

    /* Bernoulli KL: dKL / dy_i with yc = 1 - y moving with it */
    memset(g, 0, sizeof g);
    ima_bern_kl_backward(g, 1.0, y, yc, sel, NR, 0.7);
    for (int i = 0; i < NR; i++) {
        float ky = y[i], kc = yc[i];
        y[i] = ky + (float)h, yc[i] = kc - (float)h;
        double lp = ima_bern_kl_forward(y, yc, sel, NR, 0.7);
        y[i] = ky - (float)h, yc[i] = kc + (float)h;
        double lm = ima_bern_kl_forward(y, yc, sel, NR, 0.7);
        y[i] = ky, yc[i] = kc;
        double fd = (lp - lm) / (2 * h);
        if (!sel[i]) CHECK(g[i] == 0.0, "bern_kl: unselected row %d has gradient %g", i, g[i]);
        else worst[1] = fmax(worst[1], rel(fd, g[i]));
    }
    CHECK(worst[1] < 1e-3, "bern_kl backward: worst relative difference %.3g", worst[1]);

    /* BCE to targets: d/dlogit_i, scaled by dout */
    memset(g, 0, sizeof g);
    ima_teach_bce_backward(g, 2.5, logit, t, sel, NR);
    for (int i = 0; i < NR; i++) {
        float kl = logit[i];
        logit[i] = kl + (float)h;
        double lp = ima_teach_bce_forward(logit, t, sel, NR);
        double hp = (double)logit[i] - kl;
        logit[i] = kl - (float)h;
        double lm = ima_teach_bce_forward(logit, t, sel, NR);
        double hm = kl - (double)logit[i];
        logit[i] = kl;
        double fd = 2.5 * (lp - lm) / (hp + hm);
        if (!sel[i]) CHECK(g[i] == 0.0, "teach_bce: unselected row %d has gradient %g", i, g[i]);
        else worst[2] = fmax(worst[2], rel(fd, g[i]));
    }
    CHECK(worst[2] < 1e-3, "teach_bce backward: worst relative difference %.3g", worst[2]);
    /* stable at saturated logits: finite loss, gradient sigmoid(l) - t */
    float big[2] = {-80.f, 80.f}, tt[2] = {1.f, 0.f};
    uint8_t s2[2] = {1, 1};
    double L = ima_teach_bce_forward(big, tt, s2, 2);
    CHECK(isfinite(L) && fabs(L - 80.0) < 1e-6, "teach_bce at |logit| 80: %g, expected 80", L);
    printf("terms: wcov %.2e, bern_kl %.2e, teach_bce %.2e (worst relative difference)\n", worst[0], worst[1],
           worst[2]);
}

/* ---- 2. the local-ev stage-2 loss through the networks --------------------------------- */

typedef struct {
    ima_model *m;
    ima_batch b;
} s2_ctx;

static double s2_loss(void *vc) {
    s2_ctx *c = vc;
    ima_stage2_terms t;
    ima_stage2_forward_backward(c->m, &c->b, IMA_WEIGHTS_ONE, 0, &t);
    return t.total;
}

static void check_local_ev_model(int M, int with_mask) {
    ima_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_modalities = M;
    cfg.latent_width = 3;
    cfg.lambda_glob = 1.0f;
    cfg.center_inputs = 1;
    cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    for (int j = 0; j < M; j++) {
        ima_modality_config *mc = &cfg.mod[j];
        snprintf(mc->name, sizeof mc->name, "m%d", j);
        mc->input_width = 4 + (size_t)j;
        mc->hidden_width = 5 + (size_t)j;
        mc->loss = IMA_LOSS_BCE;
        mc->lambda_rec = mc->lambda_align = mc->lambda_local = mc->lambda_corr = 1.0f;
        mc->rho = 0.8f;
    }
    const size_t B = 8;
    ima_model *m;
    CHECK(ima_model_init(&m, &cfg, B, 17 + (uint64_t)M) == 0, "model init: %s", ima_last_error());
    ima_rng rng;
    ima_rng_init(&rng, 31 + (uint64_t)M);
    float *x[IMA_MAX_MODALITIES], target[8 * IMA_MAX_MODALITIES];
    uint8_t mask[8 * IMA_MAX_MODALITIES];
    s2_ctx c = {.m = m};
    c.b.B = B;
    for (int j = 0; j < M; j++) {
        size_t D = cfg.mod[j].input_width;
        x[j] = malloc(B * D * sizeof(float));
        for (size_t k = 0; k < B * D; k++) x[j][k] = (float)ima_rng_uniform(&rng);
        c.b.x[j] = x[j];
    }
    for (size_t i = 0; i < B; i++)
        for (int j = 0; j < M; j++) {
            mask[i * M + j] = with_mask ? (uint8_t)((i + (size_t)j) % 3 != 0 || j == 0) : 1;
            target[i * M + j] =
                (i + (size_t)j) % 5 == 2 ? NAN : (float)ima_rng_uniform(&rng); /* some rows: no target */
        }
    c.b.mask = with_mask ? mask : NULL;
    c.b.target = target;
    ima_stage2_terms t;
    ima_stage2_forward_backward(m, &c.b, IMA_WEIGHTS_ONE, 1, &t);
    CHECK(isfinite(t.total) && t.total > 0, "M=%d: local-ev loss %g", M, t.total);
    CHECK(t.corr[0] == 0 && t.local[0] == 0, "M=%d: the paper's terms are not part of local-ev", M);
    size_t lo = m->n_params_ae, hi = m->n_params;
    CHECK(gc_nonzero(m->grads + lo, hi - lo), "M=%d: local-ev gradient is all zero", M);
    ima_param_view views[128];
    size_t nv = ima_model_param_views(m, views, 128);
    float *g = malloc(m->n_params * sizeof(float));
    memcpy(g, m->grads, m->n_params * sizeof(float));
    double worst = 0;
    for (size_t v = 0; v < nv; v++) {
        size_t off = (size_t)(views[v].data - m->params);
        if (off < lo || off >= hi) continue;
        double fd, an, noise;
        double r = gc_tensor(s2_loss, &c, views[v].data, g + off, views[v].count, &rng, 2e-2, &fd, &an, &noise);
        worst = fmax(worst, r);
        CHECK(r < 2e-2, "M=%d mask=%d %s: fd %.6g analytic %.6g (rel %.3g)", M, with_mask, views[v].name, fd, an, r);
    }
    printf("local-ev stage 2, M=%d mask=%d: worst relative difference %.2e\n", M, with_mask, worst);
    /* without targets (NULL) there is no term and no gradient */
    c.b.target = NULL;
    ima_stage2_forward_backward(m, &c.b, IMA_WEIGHTS_ONE, 1, &t);
    CHECK(t.total == 0 && !gc_nonzero(m->grads + lo, hi - lo), "M=%d: no targets must mean no loss", M);
    free(g);
    for (int j = 0; j < M; j++) free(x[j]);
    ima_model_free(m);
}

/* ---- 3. calibration on a synthetic corpus ----------------------------------------------- */

/* N rows, M modalities, d dims. Clean row i of class c: u_j = centre_{j,c} + 0.3 N(0, I), where the
 * centres of one class are close across modalities (IMA's alignment term pulls u_j towards z). A noisy
 * item of modality j sits in one tight blob shared by every noisy item of j (no class information),
 * while its partners stay clean; each row has at most one noisy item. Some rows miss a modality. */
static void synth(float *U, uint8_t *mask, uint8_t *noise, size_t N, int M, size_t d, double share, int missing,
                  uint64_t seed) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    float centre[IMA_MAX_MODALITIES][10][8], blob[IMA_MAX_MODALITIES][8], common[10][8];
    for (int c = 0; c < 10; c++)
        for (size_t k = 0; k < d; k++) common[c][k] = (float)(2.0 * ima_rng_normal(&rng));
    for (int j = 0; j < M; j++) {
        for (int c = 0; c < 10; c++)
            for (size_t k = 0; k < d; k++) centre[j][c][k] = common[c][k] + (float)(0.3 * ima_rng_normal(&rng));
        for (size_t k = 0; k < d; k++) blob[j][k] = (float)(2.0 * ima_rng_normal(&rng));
    }
    for (size_t i = 0; i < N; i++) {
        int c = (int)(ima_rng_uniform(&rng) * 10) % 10;
        int noisy = ima_rng_uniform(&rng) < share * M ? (int)(ima_rng_uniform(&rng) * M) % M : -1;
        for (int j = 0; j < M; j++) {
            mask[i * M + j] = 1;
            noise[i * M + j] = noisy == j;
        }
        if (missing && M > 2 && ima_rng_uniform(&rng) < 0.2) { /* one clean modality missing */
            int j = (int)(ima_rng_uniform(&rng) * M) % M;
            if (j != noisy) mask[i * M + j] = 0;
        }
        for (int j = 0; j < M; j++)
            for (size_t k = 0; k < d; k++) {
                float *uk = U + ((size_t)j * N + i) * d + k;
                *uk = noisy == j ? blob[j][k] + 0.05f * (float)ima_rng_normal(&rng)
                                 : centre[j][c][k] + 0.3f * (float)ima_rng_normal(&rng);
            }
    }
}

static void check_calibration(int M, int missing) {
    const size_t N = 3000, d = 4;
    const double share = 0.09; /* per modality, as in the digits corpus */
    float *U = malloc((size_t)M * N * d * sizeof(float)), *tg = malloc(N * (size_t)M * sizeof(float));
    uint8_t *mask = malloc(N * (size_t)M), *noise = malloc(N * (size_t)M);
    synth(U, mask, noise, N, M, d, share, missing, 77 + (uint64_t)M);
    const float rhos[] = {0.6f, 0.8f, 0.95f};
    for (size_t q = 0; q < sizeof rhos / sizeof *rhos; q++) {
        float rho[IMA_MAX_MODALITIES];
        for (int j = 0; j < M; j++) rho[j] = rhos[q];
        ima_local_ev_report rep;
        int rc = ima_local_ev_targets_from_codes(tg, NULL, U, mask, N, M, d, 50, rho, &rep);
        CHECK(rc == 0, "targets: %s", ima_last_error());
        for (int j = 0; j < M; j++) {
            size_t tp = 0, fp = 0, fn = 0, n = 0, nn = 0;
            int bad_nan = 0;
            for (size_t i = 0; i < N; i++) {
                float t = tg[i * M + j];
                int others = 0;
                for (int o = 0; o < M; o++) others += o != j && mask[i * M + o];
                if (!mask[i * M + j] || !others) {
                    bad_nan += !isnan(t);
                    continue;
                }
                bad_nan += !(t >= 0 && t <= 1);
                n++;
                nn += noise[i * M + j];
                int called = t < 0.5f;
                tp += called && noise[i * M + j];
                fp += called && !noise[i * M + j];
                fn += !called && noise[i * M + j];
                if (getenv("CAL_DEBUG") && called && !noise[i * M + j] && q == 0)
                    printf("FP j=%d row %zu mask %d%d%d noise %d%d%d t %.3f\n", j, i, mask[i * M], mask[i * M + 1],
                           M > 2 ? mask[i * M + 2] : 9, noise[i * M], noise[i * M + 1], M > 2 ? noise[i * M + 2] : 9,
                           (double)t);
            }
            double f1 = tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0, called = (double)(tp + fp) / (double)n;
            CHECK(bad_nan == 0, "M=%d modality %d: %d targets outside [0,1] or not NaN where no target", M, j, bad_nan);
            CHECK(f1 >= 0.95, "M=%d rho %.2f modality %d: F1 of target < 0.5 is %.3f (noise share %.3f, called %.3f)",
                  M, (double)rhos[q], j, f1, (double)nn / (double)n, called);
            CHECK(fabs(called - (double)nn / (double)n) < 0.02,
                  "M=%d rho %.2f modality %d: %.3f called noise, true %.3f", M, (double)rhos[q], j, called,
                  (double)nn / (double)n);
            if (getenv("CAL_DEBUG"))
                printf("  fit: w %.3f %.3f %.3f means T %.3g %.3g %.3g sd %.2f %.2f %.2f iters %d null_like %d\n",
                       rep.fit[j].weight[0], rep.fit[j].weight[1], rep.fit[j].weight[2], exp(rep.fit[j].mean[0]),
                       exp(rep.fit[j].mean[1]), exp(rep.fit[j].mean[2]), rep.fit[j].sd[0], rep.fit[j].sd[1],
                       rep.fit[j].sd[2], rep.fit[j].iterations, rep.fit[j].null_like);
            if (q == 0 || q == 2)
                printf(
                    "calibration M=%d%s rho %.2f modality %d: F1 %.3f, called %.3f, true share %.3f, T threshold %.2f\n",
                    M, missing ? " (missing)" : "", (double)rhos[q], j, f1, called, (double)nn / (double)n,
                    rep.fit[j].threshold);
        }
    }
    /* no noise at all: (almost) nothing is called unimportant */
    synth(U, mask, noise, N, M, d, 0.0, 0, 5);
    float rho[IMA_MAX_MODALITIES];
    for (int j = 0; j < M; j++) rho[j] = 0.8f;
    CHECK(ima_local_ev_targets_from_codes(tg, NULL, U, mask, N, M, d, 50, rho, NULL) == 0, "targets: %s",
          ima_last_error());
    size_t low = 0;
    for (size_t i = 0; i < N * (size_t)M; i++) low += tg[i] < 0.5f;
    CHECK(low < N * (size_t)M / 50, "M=%d without noise: %zu of %zu targets below 0.5", M, low, N * (size_t)M);
    free(U), free(tg), free(mask), free(noise);
}

/* ---- 4. names and the checkpoint field ----------------------------------------------------- */

static void check_names(void) {
    ima_importance_objective o = IMA_IMPORTANCE_PAPER;
    CHECK(ima_importance_objective_parse("local-ev", &o) == 0 && o == IMA_IMPORTANCE_LOCAL_EV, "parse local-ev");
    CHECK(ima_importance_objective_parse("paper", &o) == 0 && o == IMA_IMPORTANCE_PAPER, "parse paper");
    CHECK(ima_importance_objective_parse("noise-magic", &o) == IMA_ERR, "an unknown name must be refused");
    CHECK(strstr(ima_last_error(), "noise-magic") && strstr(ima_last_error(), "local-ev"),
          "the message names the value and the choices: %s", ima_last_error());
    ima_config cfg = ima_config_digits(4);
    cfg.importance_objective = (ima_importance_objective)7;
    CHECK(ima_config_validate(&cfg) == IMA_ERR && strstr(ima_last_error(), "importance_objective"),
          "validate refuses an out-of-range objective: %s", ima_last_error());

    /* the field survives a checkpoint */
    cfg = ima_config_digits(3);
    cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    cfg.local_ev_k = 20;
    for (int j = 0; j < 2; j++) cfg.mod[j].hidden_width = 4;
    ima_model *m = NULL, *back = NULL;
    CHECK(ima_model_init(&m, &cfg, 4, 3) == 0, "init: %s", ima_last_error());
    char *dir = tu_tmpdir(), *path = tu_path(dir, "m.safetensors");
    CHECK(tu_checkpoint_round_trip(m, path, 4, &back) == 0, "save and load: %s", ima_last_error());
    if (back)
        CHECK(back->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV && back->cfg.local_ev_k == 20,
              "objective %d k %zu after a round trip", (int)back->cfg.importance_objective, back->cfg.local_ev_k);
    ima_model_free(m), ima_model_free(back);
    tu_remove_dir(dir);
    free(dir), free(path);
}

int main(int argc, char **argv) {
    int only_gradients = argc > 1 && !strcmp(argv[1], "gradients"); /* for quick runs by hand */
    check_terms();
    for (int M = 1; M <= 3; M++)
        for (int mask = 0; mask <= (M > 1); mask++) check_local_ev_model(M, mask);
    if (only_gradients) return tu_finish("test_importance (gradients)");
    check_calibration(2, 0);
    check_calibration(3, 1);
    check_names();
    return tu_finish("test_importance");
}
