/* test_baselines.c: the baseline models (MVAE, JMVAE-KL, multimodal denoising autoencoder).
 *  - finite-difference checks of each model's whole loss gradient, one tensor at a time, with the noise
 *    (epsilon, MVAE subsets, DAE dropout) drawn once per check so the loss is deterministic; with and without
 *    missing modalities, M = 1..3, bce / sse / Gaussian log-variance heads;
 *  - a few hundred Adam steps on a tiny synthetic two-modality problem lower the loss;
 *  - the digits parameter counts (docs/baselines.md; the paper's Table 4);
 *  - representations with missing modalities, determinism of init and noise, config errors;
 *  - the two-thread row split (split.c) against one thread: loss terms, gradients, Adam, representations.
 * The directional check is gradcheck_util.h's, shared with test_gradcheck.c: for a unit direction v inside one
 * tensor, mostly along its gradient, (L(p + e v) - L(p - e v)) / 2e must equal g . v; the best of three step
 * sizes and three directions, a float32 noise floor, one-sided slopes at ReLU kinks; an all-zero gradient fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/baselines.h"
#include "ima/common.h"
#include "gradcheck_util.h"
#include "testutil.h"

#define TOL 2e-2

/* ---- the baseline's loss as a gc_loss_fn (gradcheck_util.h) ----------------------------------------- */

typedef struct {
    ima_baseline *bl;
    ima_batch b;
} ctx;

static double loss_of(void *vc) {
    ctx *c = vc;
    ima_baseline_terms t;
    ima_baseline_loss_grad(c->bl, &c->b, 0, &t);
    return t.total;
}

/* ---- a tiny configuration -------------------------------------------------------------------------------- */

/* heads: 0 all bce; 1 modality 1 sse; 2 modality 1 Gaussian log-variance */
static ima_baseline_config tiny(ima_baseline_kind kind, int M, int heads) {
    ima_baseline_config cfg = ima_baseline_config_digits(kind, 3);
    cfg.n_modalities = M;
    cfg.joint_hidden = 0;
    cfg.alpha = 0.5f; /* large enough that the KL(q || q_j) terms matter in the check */
    cfg.beta = 0.8f;
    cfg.mvae_subsets = 2;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality *m = &cfg.mod[j];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "m%d", j);
        m->input_width = 5 + (size_t)j;
        m->hidden_width = 6 + (size_t)j;
        m->loss = IMA_LOSS_BCE;
        m->lambda_rec = 1.0f + 0.25f * (float)j;
        if (j == 1 && heads >= 1) m->loss = IMA_LOSS_SSE;
        if (j == 1 && heads == 2) m->gaussian_logvar = 1;
    }
    return cfg;
}

static void fill_batch(ima_batch *b, float **x, uint8_t *mask, const ima_baseline_config *cfg, size_t B, int with_mask,
                       ima_rng *rng) {
    int M = cfg->n_modalities;
    memset(b, 0, sizeof *b);
    b->B = B;
    for (int j = 0; j < M; j++) {
        size_t D = cfg->mod[j].input_width;
        x[j] = malloc(B * D * sizeof(float));
        for (size_t k = 0; k < B * D; k++)
            x[j][k] = cfg->mod[j].loss == IMA_LOSS_BCE ? (float)ima_rng_uniform(rng) : (float)ima_rng_normal(rng);
        b->x[j] = x[j];
    }
    for (size_t i = 0; i < B; i++)
        for (int j = 0; j < M; j++) mask[i * M + j] = with_mask ? (uint8_t)((i + (size_t)j) % 3 != 0 || j == 0) : 1;
    b->mask = with_mask ? mask : NULL;
}

/* ---- finite-difference check of a whole loss ----------------------------------------------------------- */

static void check_grad(ima_baseline_kind kind, int M, int with_mask, int heads) {
    ima_baseline_config cfg = tiny(kind, M, heads);
    const size_t B = 7;
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, B, 40 + (uint64_t)M) == IMA_OK, "init: %s", ima_last_error());
    ima_rng rng;
    ima_rng_init(&rng, 1000 + (uint64_t)(kind * 100 + M * 10 + with_mask));
    float *x[IMA_MAX_MODALITIES];
    uint8_t mask[7 * IMA_MAX_MODALITIES];
    ctx c = {.bl = bl};
    fill_batch(&c.b, x, mask, &cfg, B, with_mask, &rng);
    ima_baseline_sample_noise(bl, B, &rng); /* drawn once: the loss is deterministic from here on */

    ima_baseline_terms t;
    ima_baseline_loss_grad(bl, &c.b, 1, &t);
    CHECK(isfinite(t.total), "%s loss not finite", ima_baseline_kind_name(kind));
    CHECK(gc_nonzero(bl->grads, bl->n_params), "%s M=%d gradient is all zero", ima_baseline_kind_name(kind), M);
    double again = loss_of(&c);
    CHECK(again == t.total, "%s loss is not deterministic with fixed noise: %.9g then %.9g",
          ima_baseline_kind_name(kind), t.total, again);
    float *g = malloc(bl->n_params * sizeof(float));
    memcpy(g, bl->grads, bl->n_params * sizeof(float));
    ima_param_view views[128];
    size_t nv = ima_baseline_param_views(bl, views, 128);
    IMA_ASSERT(nv <= 128);
    double worst = 0;
    for (size_t v = 0; v < nv; v++) {
        const float *gv = g + (views[v].data - bl->params);
        CHECK(gc_nonzero(gv, views[v].count), "%s M=%d mask=%d %s: gradient all zero", ima_baseline_kind_name(kind), M,
              with_mask, views[v].name);
        double an, fd, noise;
        double r = gc_tensor(loss_of, &c, views[v].data, gv, views[v].count, &rng, TOL, &fd, &an, &noise);
        if (r > worst) worst = r;
        if (getenv("GC_VERBOSE")) printf("  %s fd %.6g an %.6g noise %.3g\n", views[v].name, fd, an, noise);
        CHECK(r < TOL, "%s M=%d mask=%d heads=%d %s: fd %.6g analytic %.6g (rel %.3g)", ima_baseline_kind_name(kind), M,
              with_mask, heads, views[v].name, fd, an, r);
    }
    printf("gradcheck %-5s M=%d mask=%d heads=%s: %zu tensors, loss %.4f, worst relative difference %.2e\n",
           ima_baseline_kind_name(kind), M, with_mask,
           heads == 0   ? "bce"
           : heads == 1 ? "bce+sse"
                        : "bce+gauss",
           nv, t.total, worst);
    free(g);
    for (int j = 0; j < M; j++) free(x[j]);
    ima_baseline_free(bl);
}

/* ---- MVAE with an expert of extreme precision (logvar < -88.7: exp(-logvar) overflows float32) --------------- */

/* The MELD emotion run's acoustic expert reached logvar -323 on a standardized outlier token (docs/baselines.md);
 * the product of experts then overflowed (inf / inf) and the loss became NaN. Here expert 1's logvar is about
 * -100 in every row (its output bias): the loss must be finite, its KL equal to a float64 evaluation of the
 * product from the experts' outputs, and the gradient right by finite differences. */
static void check_extreme_expert(void) {
    ima_baseline_config cfg = tiny(IMA_BASELINE_MVAE, 2, 1);
    const size_t B = 7, d = cfg.latent_width;
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, B, 71) == IMA_OK, "init: %s", ima_last_error());
    ima_rng rng;
    ima_rng_init(&rng, 4242);
    float *x[IMA_MAX_MODALITIES];
    uint8_t mask[7 * IMA_MAX_MODALITIES];
    ctx c = {.bl = bl};
    fill_batch(&c.b, x, mask, &cfg, B, 0, &rng);
    for (size_t k = 0; k < d; k++) bl->mod[1].enc.b[2][d + k] = -100.0f; /* logvar of expert 1 */
    ima_baseline_sample_noise(bl, B, &rng);
    ima_baseline_terms t;
    ima_baseline_loss_grad(bl, &c.b, 1, &t);

    /* the KL of the three terms (joint, {0}, {1}) in float64 from the experts' outputs */
    const float *st[2] = {bl->mod[0].enc_acts.out[2], bl->mod[1].enc_acts.out[2]};
    double kl = 0.0, lv_min = 0.0;
    for (int s = 0; s < bl->n_terms; s++)
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < d; k++) {
                double T = 1.0, n = 0.0;
                for (int j = 0; j < 2; j++) {
                    if (!bl->term_set[s][j]) continue;
                    double lv = st[j][i * 2 * d + d + k], p = exp(-lv);
                    if (lv < lv_min) lv_min = lv;
                    T += p;
                    n += p * st[j][i * 2 * d + k];
                }
                double mu = n / T;
                kl += 0.5 * (1.0 / T + mu * mu - 1.0 + log(T)) / (double)B;
            }
    int finite = 1;
    for (size_t k = 0; k < bl->n_params; k++) finite &= isfinite(bl->grads[k]) != 0;
    printf("extreme expert: logvar down to %.1f, loss %.4f, KL %.6f (float64 %.6f), gradients %s\n", lv_min, t.total,
           t.kl, kl, finite ? "finite" : "NOT finite");
    CHECK(lv_min < -89.0, "the test's expert logvar %.1f does not overflow exp in float32", lv_min);
    CHECK(isfinite(t.total) && isfinite(t.kl), "extreme expert: loss %g, KL %g: expected finite", t.total, t.kl);
    CHECK(fabs(t.kl - kl) <= 1e-5 * kl, "extreme expert: KL %.9g, float64 %.9g", t.kl, kl);
    CHECK(finite, "extreme expert: a gradient is not finite");
    if (isfinite(t.total) && finite) {
        float *g = malloc(bl->n_params * sizeof(float));
        memcpy(g, bl->grads, bl->n_params * sizeof(float));
        ima_param_view views[64];
        size_t nv = ima_baseline_param_views(bl, views, 64);
        IMA_ASSERT(nv <= 64);
        for (size_t v = 0; v < nv; v++) {
            double an, fd, noise;
            double r = gc_tensor(loss_of, &c, views[v].data, g + (views[v].data - bl->params), views[v].count, &rng,
                                 TOL, &fd, &an, &noise);
            CHECK(r < TOL, "extreme expert %s: fd %.6g analytic %.6g (rel %.3g)", views[v].name, fd, an, r);
        }
        free(g);
    }
    for (int j = 0; j < 2; j++) free(x[j]);
    ima_baseline_free(bl);
}

/* ---- training lowers the loss on a tiny synthetic problem ---------------------------------------------- */

/* two binary modalities driven by a shared 2-d factor c: x_0 = [A_0 c > 0] (8 features), x_1 = [A_1 c > 0] (6):
 * about half the bits are on, so a decoder that ignores z stays near 0.69 per bit; lowering the loss by 10%
 * needs the code to carry c */
static void check_training(ima_baseline_kind kind) {
    ima_baseline_config cfg = tiny(kind, 2, 0);
    cfg.mod[0].input_width = 8, cfg.mod[0].hidden_width = 16;
    cfg.mod[1].input_width = 6, cfg.mod[1].hidden_width = 16;
    cfg.latent_width = 2;
    cfg.alpha = 0.01f;
    cfg.beta = 1.0f;
    const size_t N = 64, B = 16;
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, N, 5) == IMA_OK, "init: %s", ima_last_error());
    ima_rng rng;
    ima_rng_init(&rng, 77);
    float A0[8 * 2], A1[6 * 2], *x0 = malloc(N * 8 * sizeof(float)), *x1 = malloc(N * 6 * sizeof(float));
    for (int k = 0; k < 16; k++) A0[k] = 2.0f * (float)ima_rng_normal(&rng);
    for (int k = 0; k < 12; k++) A1[k] = 2.0f * (float)ima_rng_normal(&rng);
    for (size_t i = 0; i < N; i++) {
        float c0 = (float)ima_rng_normal(&rng), c1 = (float)ima_rng_normal(&rng);
        for (int f = 0; f < 8; f++) x0[i * 8 + f] = A0[f * 2] * c0 + A0[f * 2 + 1] * c1 > 0.0f;
        for (int f = 0; f < 6; f++) x1[i * 6 + f] = A1[f * 2] * c0 + A1[f * 2 + 1] * c1 > 0.0f;
    }
    /* the whole set with one fixed noise draw, before and after */
    ima_batch all = {.B = N, .x = {x0, x1}, .mask = NULL};
    ima_rng eval_rng;
    ima_rng_init(&eval_rng, 123);
    ima_baseline_sample_noise(bl, N, &eval_rng);
    ima_baseline_terms t0, t1;
    ima_baseline_loss_grad(bl, &all, 0, &t0);

    ima_adam_config adam = ima_adam_defaults();
    adam.lr = 3e-3f;
    for (int step = 0; step < 400; step++) {
        size_t off = (size_t)(step % (int)(N / B)) * B;
        ima_batch b = {.B = B, .x = {x0 + off * 8, x1 + off * 6}, .mask = NULL};
        ima_baseline_terms t;
        ima_baseline_sample_noise(bl, B, &rng);
        ima_baseline_loss_grad(bl, &b, 1, &t);
        ima_baseline_step(bl, &adam);
    }
    ima_rng_init(&eval_rng, 123);
    ima_baseline_sample_noise(bl, N, &eval_rng);
    ima_baseline_loss_grad(bl, &all, 0, &t1);
    printf("training %-5s: loss %.4f -> %.4f after 400 Adam steps (rec %.3f + %.3f -> %.3f + %.3f, kl %.3f -> %.3f)\n",
           ima_baseline_kind_name(kind), t0.total, t1.total, t0.rec[0], t0.rec[1], t1.rec[0], t1.rec[1], t0.kl, t1.kl);
    CHECK(isfinite(t1.total) && t1.total < 0.9 * t0.total, "%s: training did not lower the loss: %.4f -> %.4f",
          ima_baseline_kind_name(kind), t0.total, t1.total);
    /* reconstruction alone must improve too (not only the KL) */
    CHECK(t1.rec[0] + t1.rec[1] < t0.rec[0] + t0.rec[1], "%s: reconstruction did not improve",
          ima_baseline_kind_name(kind));
    free(x0), free(x1);
    ima_baseline_free(bl);
}

/* ---- parameter counts of the digits configuration ------------------------------------------------------ */

static void check_counts(void) {
    struct {
        ima_baseline_kind kind;
        int table4;
        size_t experts, joint, decoders, total;
    } want[] = {
        /* the paper's Table 4: Gaussian (mean, log-variance) decoder heads */
        {IMA_BASELINE_MVAE, 1, 783000, 0, 1217360, 2000360},
        {IMA_BASELINE_JMVAE, 1, 783000, 1309300, 1217360, 3309660},
        /* the same networks with Bernoulli (bce) decoders, as the digits data and IMA use */
        {IMA_BASELINE_MVAE, 0, 783000, 0, 754280, 1537280},
        {IMA_BASELINE_JMVAE, 0, 783000, 1309300, 754280, 2846580},
        {IMA_BASELINE_DAE, 0, 0, 1279250, 754280, 2033530},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        ima_baseline_config cfg = want[k].table4 ? ima_baseline_config_digits_table4(want[k].kind, 50)
                                                 : ima_baseline_config_digits(want[k].kind, 50);
        size_t e, jn, g, tot = ima_baseline_config_param_counts(&cfg, &e, &jn, &g);
        CHECK(e == want[k].experts && jn == want[k].joint && g == want[k].decoders && tot == want[k].total,
              "%s%s digits counts: experts %zu joint %zu decoders %zu total %zu", ima_baseline_kind_name(want[k].kind),
              want[k].table4 ? " (table 4)" : "", e, jn, g, tot);
        printf("counts %-5s%s: unimodal encoders %zu, multimodal encoder %zu, decoders %zu, total %zu\n",
               ima_baseline_kind_name(want[k].kind), want[k].table4 ? " (table 4 heads)" : " (bce heads)    ", e, jn, g,
               tot);
    }
    /* the allocated model agrees with the arithmetic */
    ima_baseline_config cfg = ima_baseline_config_digits_table4(IMA_BASELINE_JMVAE, 50);
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, 2, 1) == IMA_OK, "init: %s", ima_last_error());
    size_t e, jn, g;
    CHECK(ima_baseline_param_counts(bl, &e, &jn, &g) == 3309660 && e == 783000 && jn == 1309300 && g == 1217360,
          "allocated JMVAE counts %zu %zu %zu", e, jn, g);
    ima_param_view views[64];
    size_t nv = ima_baseline_param_views(bl, views, 64), sum = 0;
    for (size_t v = 0; v < nv; v++) sum += views[v].count;
    CHECK(nv == 30 && sum == bl->n_params, "views: %zu tensors, %zu parameters", nv, sum);
    ima_baseline_free(bl);
}

/* ---- representations, determinism, errors -------------------------------------------------------------- */

static void check_represent(void) {
    ima_rng rng;
    ima_rng_init(&rng, 3);
    for (int kind = IMA_BASELINE_MVAE; kind <= IMA_BASELINE_DAE; kind++) {
        ima_baseline_config cfg = tiny((ima_baseline_kind)kind, 2, 0);
        const size_t B = 6;
        ima_baseline *bl, *bl2;
        CHECK(ima_baseline_init(&bl, &cfg, B, 9) == IMA_OK, "init");
        CHECK(ima_baseline_init(&bl2, &cfg, B, 9) == IMA_OK, "init");
        CHECK(!memcmp(bl->params, bl2->params, bl->n_params * sizeof(float)), "%s: same seed, different init",
              ima_baseline_kind_name((ima_baseline_kind)kind));
        float *x[IMA_MAX_MODALITIES];
        uint8_t mask[6 * 2];
        ima_batch b;
        fill_batch(&b, x, mask, &cfg, B, 1, &rng);
        float z[6 * 3], z2[6 * 3];
        ima_baseline_represent(bl, &b, z);
        ima_baseline_represent(bl, &b, z2);
        int finite = 1;
        for (size_t k = 0; k < B * 3; k++) finite &= isfinite(z[k]) != 0;
        CHECK(finite && !memcmp(z, z2, sizeof z), "%s: representation not finite or not deterministic",
              ima_baseline_kind_name((ima_baseline_kind)kind));
        /* a missing modality's values must not matter */
        for (size_t i = 0; i < B; i++)
            if (!mask[i * 2 + 1])
                for (size_t f = 0; f < 6; f++) x[1][i * 6 + f] = 0.123f;
        ima_baseline_represent(bl, &b, z2);
        CHECK(!memcmp(z, z2, sizeof z), "%s: a missing modality changed the representation",
              ima_baseline_kind_name((ima_baseline_kind)kind));
        if (kind == IMA_BASELINE_JMVAE) {
            /* a row with only modality 0 present: the expert's mean */
            for (size_t i = 0; i < B; i++)
                if (!mask[i * 2 + 1])
                    for (size_t k = 0; k < 3; k++)
                        CHECK(fabsf(z[i * 3 + k] - bl->mod[0].enc_acts.out[2][i * 6 + k]) < 1e-6f,
                              "jmvae: unimodal row %zu not the expert mean", i);
        }
        /* same seed, same noise */
        ima_rng r1, r2;
        ima_rng_init(&r1, 11), ima_rng_init(&r2, 11);
        ima_baseline_sample_noise(bl, B, &r1);
        ima_baseline_sample_noise(bl2, B, &r2);
        ima_baseline_terms t1, t2;
        ima_baseline_loss_grad(bl, &b, 1, &t1);
        ima_baseline_loss_grad(bl2, &b, 1, &t2);
        CHECK(t1.total == t2.total && !memcmp(bl->grads, bl2->grads, bl->n_params * sizeof(float)),
              "%s: same seeds, different loss", ima_baseline_kind_name((ima_baseline_kind)kind));
        for (int j = 0; j < 2; j++) free(x[j]);
        ima_baseline_free(bl);
        ima_baseline_free(bl2);
    }
    /* DAE corruption rates */
    ima_baseline_config cfg = ima_baseline_config_digits(IMA_BASELINE_DAE, 4);
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, 256, 1) == IMA_OK, "init");
    ima_baseline_sample_noise(bl, 256, &rng);
    size_t kept = 0, dropped_mod = 0, all_dropped = 0;
    for (size_t i = 0; i < 256; i++) {
        size_t k0 = 0, k1 = 0;
        for (size_t f = 0; f < 784; f++) k0 += bl->keep[i * 1480 + f] != 0.0f;
        for (size_t f = 0; f < 696; f++) k1 += bl->keep[i * 1480 + 784 + f] != 0.0f;
        kept += k0 + k1;
        dropped_mod += (k0 == 0) + (k1 == 0);
        all_dropped += k0 == 0 && k1 == 0;
    }
    double mod_rate = dropped_mod / 512.0;
    printf("dae noise: %.3f of modalities dropped, %.3f of features kept\n", mod_rate, kept / (256.0 * 1480));
    CHECK(all_dropped == 0, "dae: %zu rows lost every modality", all_dropped);
    CHECK(mod_rate > 0.15 && mod_rate < 0.35, "dae: modality drop rate %.3f", mod_rate);
    ima_baseline_free(bl);
    ima_baseline_free(NULL);

    /* configuration errors are reported, not defaulted */
    ima_baseline_kind k;
    CHECK(ima_baseline_kind_parse(&k, "vae") == IMA_ERR, "unknown kind accepted");
    CHECK(ima_baseline_kind_parse(&k, "jmvae") == IMA_OK && k == IMA_BASELINE_JMVAE, "jmvae not parsed");
    cfg = ima_baseline_config_digits(IMA_BASELINE_MVAE, 50);
    cfg.mod[0].gaussian_logvar = 1;
    CHECK(ima_baseline_init(&bl, &cfg, 4, 1) == IMA_ERR && bl == NULL, "gaussian_logvar with bce accepted");
    cfg = ima_baseline_config_digits(IMA_BASELINE_MVAE, 50);
    cfg.dae_feature_drop = 1.0f;
    CHECK(ima_baseline_init(&bl, &cfg, 4, 1) == IMA_ERR, "feature drop 1 accepted");
}

/* ---- the two-thread row split (src/baselines/split.c) against one thread -------------------------------- */

/* the worst over the parameter tensors of max_k |g2_k - g1_k| / max_k |g1_k| (1e-6 at least): the gradients
 * of the emotion shape are sums over 256 rows with an outlier row, whose float rounding in another order is
 * relative to the tensor's scale, not to its smallest elements (the golden test's metric) */
static double scaled_grad_diff(const ima_baseline *one, const ima_baseline *two) {
    ima_param_view views[64];
    size_t nv = ima_baseline_param_views(one, views, 64);
    IMA_ASSERT(nv <= 64);
    double worst = 0.0;
    for (size_t v = 0; v < nv; v++) {
        const float *g1 = views[v].grad, *g2 = two->grads + (views[v].grad - one->grads);
        double dmax = 0.0, gmax = 1e-6;
        for (size_t k = 0; k < views[v].count; k++) {
            dmax = fmax(dmax, fabs((double)g2[k] - g1[k]));
            gmax = fmax(gmax, fabs((double)g1[k]));
        }
        worst = fmax(worst, dmax / gmax);
    }
    return worst;
}

/* emo: the emotion repro's shape (src/repro/emotion.c: words 100 and acoustics 27 wide, hidden 100, latent 50, SSE
 * on standardized features, batch 256) with one acoustic outlier as MELD's (|x| 250); else a tiny BCE config */
static void check_split(ima_baseline_kind kind, int M, int with_mask, size_t B, int emo) {
    ima_baseline_config cfg = tiny(kind, M, 0);
    for (int j = 0; j < M; j++)
        cfg.mod[j].hidden_width = 100 + 20 * (size_t)j; /* > 65,536 parameters: two-chunk Adam */
    cfg.mod[0].input_width = 200;
    cfg.latent_width = 5;
    if (emo) {
        IMA_ASSERT(M == 2);
        cfg.latent_width = 50, cfg.alpha = 0.01f, cfg.beta = 1.0f;
        for (int j = 0; j < M; j++) {
            cfg.mod[j].input_width = j ? 27 : 100;
            cfg.mod[j].hidden_width = 100;
            cfg.mod[j].loss = IMA_LOSS_SSE;
            cfg.mod[j].lambda_rec = 1.0f;
        }
    }
    ima_baseline *one, *two;
    CHECK(ima_baseline_init(&one, &cfg, B, 9) == IMA_OK && ima_baseline_init(&two, &cfg, B, 9) == IMA_OK, "init: %s",
          ima_last_error());
    one->threads = 1;
    two->threads = 2;
    ima_rng rng, r1, r2;
    ima_rng_init(&rng, 77 + (uint64_t)kind);
    float *x[IMA_MAX_MODALITIES];
    uint8_t *mask = malloc(B * (size_t)M);
    IMA_ASSERT(mask);
    ima_batch b;
    fill_batch(&b, x, mask, &cfg, B, with_mask, &rng);
    if (emo) x[1][(B / 3) * 27 + 4] = 250.0f;
    const char *name = ima_baseline_kind_name(kind);
    ima_adam_config ac = ima_adam_defaults();
    double dt = 0, dg = 0, dp = 0, dz = 0; /* dp: 1 when the parameters after Adam differ in any bit */
    for (int step = 0; step < 3; step++) { /* three steps: the noise, loss, gradient and Adam of each */
        ima_rng_init(&r1, 5 + (uint64_t)step), ima_rng_init(&r2, 5 + (uint64_t)step);
        ima_baseline_sample_noise(one, B, &r1);
        ima_baseline_sample_noise(two, B, &r2);
        ima_baseline_terms t1, t2;
        ima_baseline_loss_grad(one, &b, 1, &t1);
        ima_baseline_loss_grad(two, &b, 1, &t2);
        double e = fabs(t1.total - t2.total) / fabs(t1.total);
        for (int j = 0; j < M; j++) e = fmax(e, fabs(t1.rec[j] - t2.rec[j]) / fmax(fabs(t1.rec[j]), 1e-12));
        e = fmax(e, fabs(t1.kl - t2.kl) / fmax(fabs(t1.kl), 1e-12));
        e = fmax(e, fabs(t1.kl_uni - t2.kl_uni) / fmax(fabs(t1.kl_uni), 1e-12));
        dt = fmax(dt, e);
        dg = fmax(dg, emo ? scaled_grad_diff(one, two) : tu_max_rel_diff(two->grads, one->grads, one->n_params, 1e-3));
        /* Adam on two chunks: from identical gradients, identical parameters (Adam would otherwise amplify the
         * rounding of near-zero gradients) */
        memcpy(two->grads, one->grads, one->n_params * sizeof(float));
        ima_baseline_step(one, &ac);
        ima_baseline_step(two, &ac);
        dp = fmax(dp, memcmp(one->params, two->params, one->n_params * sizeof(float)) != 0);
    }
    CHECK(two->grads2 != NULL && one->grads2 == NULL, "%s B=%zu: expected a split at 2 threads only", name, B);
    float *z1 = malloc(B * cfg.latent_width * sizeof(float)), *z2 = malloc(B * cfg.latent_width * sizeof(float));
    ima_baseline_represent(one, &b, z1);
    ima_baseline_represent(two, &b, z2);
    dz = tu_max_rel_diff(z2, z1, B * cfg.latent_width, 1e-3);
    printf("split %-5s %s M=%d mask=%d B=%zu: terms rel %.1e, gradients %.1e, params differ %g, z %.1e\n", name, emo ? "emotion" : "tiny", M,
           with_mask, B, dt, dg, dp, dz);
    CHECK(dt < 1e-6, "%s M=%d B=%zu: loss terms, split vs one thread: relative difference %.3e", name, M, B, dt);
    CHECK(dg < (emo ? 1e-5 : 1e-4), "%s M=%d B=%zu: gradients, split vs one thread: worst relative difference %.3e",
          name, M, B, dg);
    CHECK(dp == 0, "%s M=%d B=%zu: Adam from the same gradients gave other parameters", name, M, B);
    CHECK(dz < 1e-4, "%s M=%d B=%zu: representation: worst relative difference %.3e", name, M, B, dz);
    free(z1), free(z2);
    for (int j = 0; j < M; j++) free(x[j]);
    free(mask);
    ima_baseline_free(one);
    ima_baseline_free(two);
}

int main(void) {
    check_counts();
    for (int kind = IMA_BASELINE_MVAE; kind <= IMA_BASELINE_DAE; kind++) {
        for (int M = 1; M <= 3; M++)
            for (int mask = 0; mask <= (M > 1); mask++) check_grad((ima_baseline_kind)kind, M, mask, 0);
        check_grad((ima_baseline_kind)kind, 2, 1, 1);
        check_grad((ima_baseline_kind)kind, 2, 0, 2);
    }
    check_represent();
    check_extreme_expert();
    for (int kind = IMA_BASELINE_MVAE; kind <= IMA_BASELINE_DAE; kind++) check_training((ima_baseline_kind)kind);
    for (int kind = IMA_BASELINE_MVAE; kind <= IMA_BASELINE_DAE; kind++) {
        check_split((ima_baseline_kind)kind, 2, 1, 64, 0);
        check_split((ima_baseline_kind)kind, 3, 1, 71, 0);
        check_split((ima_baseline_kind)kind, 2, 0, 40, 0);
        check_split((ima_baseline_kind)kind, 2, 0, 256, 1);
        check_split((ima_baseline_kind)kind, 2, 1, 99, 1); /* odd rows, missing modalities */
    }
    return tu_finish("baselines");
}
