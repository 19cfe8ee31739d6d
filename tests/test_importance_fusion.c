/* test_importance_fusion.c: the sharpened fusion weights (ima_config.fusion_sharpness, beyond the paper,
 * docs/importance.md).
 *  1. ima_fusion_weight: k 0 and 1 give max(y, 1e-6) bit for bit; k > 1 gives sigmoid(k logit y) (against
 *     a double reference from the logit), keeps 0.5 and the order, w(y) + w(1 - y) = 1, and reads the
 *     complement (no cancellation for y near 1);
 *  2. the model's fusion: z of ima_model_encode with k = 4 against z fused by hand from the importance
 *     logits (M = 3, masks); k = 0 and k = 1 give the same z, bit for bit;
 *  3. training fuses with y (SPEC section 2): stage 1 under importance weights and stage 2 give the same
 *     losses and gradients, bit for bit, for k = 1 and k = 4, while the representations differ;
 *  4. validation of the field, and the checkpoint field (round trip, an older checkpoint without it
 *     reads as 0, a bad value is refused naming the field). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/model.h"
#include "ima/rng.h"
#include "ima/train.h"
#include "gradcheck_util.h"
#include "testutil.h"

static double sig(double l) { return l >= 0 ? 1 / (1 + exp(-l)) : exp(l) / (1 + exp(l)); }

/* ---- 1. the weight ----------------------------------------------------------------------- */

static void check_weight(void) {
    const float ys[] = {1e-9f,   1e-7f, 1e-6f,   1e-3f, 0.02f, 0.2f,  0.4f,
                        0.4999f, 0.5f,  0.5001f, 0.6f,  0.9f,  0.98f, 0.999f};
    const int n = (int)(sizeof ys / sizeof ys[0]);
    for (int i = 0; i < n; i++) {
        float y = ys[i], yc = 1.0f - y;
        float w0 = ima_fusion_weight(y, yc, 0.0f), w1 = ima_fusion_weight(y, yc, 1.0f), ref = fmaxf(y, 1e-6f);
        CHECK(memcmp(&w0, &ref, sizeof ref) == 0 && memcmp(&w1, &ref, sizeof ref) == 0,
              "k 0 / 1 must be the paper's weight max(y, 1e-6): y %g gave %g / %g", (double)y, (double)w0, (double)w1);
    }
    double worst = 0;
    const float ks[] = {2.0f, 4.0f, 8.0f, 1000.0f};
    for (int a = 0; a < 4; a++) {
        float k = ks[a], prev = 0.0f;
        for (int i = 0; i < n; i++) {
            double l = log((double)ys[i]) - log((double)(1.0f - ys[i])); /* the complement as passed */
            double ref = fmax(sig((double)k * l), 1e-6);
            float w = ima_fusion_weight(ys[i], 1.0f - ys[i], k);
            double r = fabs(w - ref) / ref;
            if (r > worst) worst = r;
            CHECK(r < 1e-5, "k %g y %g: weight %.9g, expected %.9g", (double)k, (double)ys[i], (double)w, ref);
            CHECK(w >= prev, "k %g: the weights must keep the order of y (y %g)", (double)k, (double)ys[i]);
            prev = w;
            if (ref > 1e-5 && 1 - ref > 1e-5) { /* symmetric about 0.5 where neither side is clamped */
                float wc = ima_fusion_weight(1.0f - ys[i], ys[i], k);
                CHECK(fabs((double)w + (double)wc - 1) < 1e-6, "k %g: w(y) + w(1 - y) = %.9g", (double)k,
                      (double)w + (double)wc);
            }
        }
        CHECK(ima_fusion_weight(0.5f, 0.5f, k) == 0.5f, "k %g: y = 0.5 must stay 0.5", (double)k);
        CHECK(ima_fusion_weight(0.02f, 0.98f, k) < 0.02f && ima_fusion_weight(0.98f, 0.02f, k) > 0.98f,
              "k %g must sharpen (push y away from 0.5)", (double)k);
    }
    /* near 1 the complement is read: y rounds to 1 in float, y_comp = 1e-7 keeps the logit (16.1) */
    float w = ima_fusion_weight(1.0f, 1e-7f, 2.0f);
    double ref = sig(2 * (log(1.0) - log(1e-7)));
    CHECK(fabs(w - ref) < 1e-7 && w < 1.0f + 1e-7f, "y_comp near 0: %.9g, expected %.9g", (double)w, ref);
    float wlow = ima_fusion_weight(1e-7f, 1.0f, 2.0f);
    CHECK(wlow == 1e-6f, "a weight below 1e-6 is raised to 1e-6 (got %g)", (double)wlow);
    printf("fusion weight: worst relative difference to the double reference %.2e\n", worst);
}

/* ---- 2. the model's fusion ------------------------------------------------------------------ */

static ima_config small_config(int M) {
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
        mc->loss = IMA_LOSS_BCE;
        mc->lambda_rec = 1.0f + 0.25f * (float)j;
        mc->lambda_align = 0.5f + 0.5f * (float)j;
        mc->lambda_local = mc->lambda_corr = 1.0f;
        mc->rho = 0.5f;
    }
    return cfg;
}

#define NB 9

typedef struct {
    float *x[IMA_MAX_MODALITIES];
    uint8_t mask[NB * IMA_MAX_MODALITIES];
    ima_batch b;
} batch_data;

static void make_batch(batch_data *bd, const ima_config *cfg, uint64_t seed) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    int M = cfg->n_modalities;
    memset(bd, 0, sizeof *bd);
    bd->b.B = NB;
    for (int j = 0; j < M; j++) {
        size_t D = cfg->mod[j].input_width;
        bd->x[j] = malloc(NB * D * sizeof(float));
        for (size_t k = 0; k < NB * D; k++) bd->x[j][k] = (float)ima_rng_uniform(&rng);
        bd->b.x[j] = bd->x[j];
    }
    for (size_t i = 0; i < NB; i++)
        for (int j = 0; j < M; j++) bd->mask[i * M + j] = (uint8_t)((i + (size_t)j) % 3 != 0 || j == 0);
    bd->b.mask = bd->mask;
}

static void free_batch(batch_data *bd, int M) {
    for (int j = 0; j < M; j++) free(bd->x[j]);
}

/* spreads the importance logits over about [-6, 6] so that the sharpening matters: the last layer's
 * weights of each importance net are scaled */
static void spread_logits(ima_model *m) {
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        ima_mlp *imp = &m->mod[j].imp;
        int L = imp->n_layers - 1;
        size_t n = imp->width[L + 1] * imp->width[L];
        for (size_t k = 0; k < n; k++) imp->W[L][k] *= 25.0f;
    }
}

static void check_model_fusion(void) {
    const int M = 3;
    ima_config cfg = small_config(M);
    batch_data bd;
    make_batch(&bd, &cfg, 7);
    ima_model *m[3] = {NULL, NULL, NULL};
    const float ks[3] = {0.0f, 1.0f, 4.0f};
    for (int a = 0; a < 3; a++) {
        cfg.fusion_sharpness = ks[a];
        CHECK(ima_model_init(&m[a], &cfg, NB, 11) == 0, "init k %g: %s", (double)ks[a], ima_last_error());
        if (!m[a]) return;
        spread_logits(m[a]);
        CHECK(ima_model_encode(m[a], &bd.b, IMA_WEIGHTS_IMPORTANCE) == 0, "encode: %s", ima_last_error());
    }
    size_t d = cfg.latent_width;
    CHECK(memcmp(m[0]->z, m[1]->z, NB * d * sizeof(float)) == 0, "k 0 and k 1 must fuse the same z, bit for bit");
    /* by hand from the logits, in double */
    double worst = 0, lmin = 1e9, lmax = -1e9;
    for (size_t i = 0; i < NB; i++) {
        double num[8] = {0}, S = 0, num1[8] = {0}, S1 = 0;
        for (int j = 0; j < M; j++) {
            if (!bd.mask[i * M + j]) continue;
            double l = m[2]->mod[j].imp_acts.out[2][i];
            lmin = fmin(lmin, l), lmax = fmax(lmax, l);
            double w = fmax(sig(4 * l), 1e-6), w1 = fmax(sig(l), 1e-6);
            const float *u = ima_model_u(m[2], j) + i * d;
            for (size_t c = 0; c < d; c++) num[c] += w * u[c], num1[c] += w1 * u[c];
            S += w, S1 += w1;
            double got = m[2]->mod[j].y[i];
            CHECK(fabs(got - w) <= 1e-6 * fmax(w, 1e-3), "row %zu modality %d: fusion weight %.9g, expected %.9g", i, j,
                  got, w);
        }
        for (size_t c = 0; c < d; c++) {
            double ref = num[c] / S, ref1 = num1[c] / S1;
            double e = fabs(m[2]->z[i * d + c] - ref) / fmax(fabs(ref), 1e-3);
            if (e > worst) worst = e;
            CHECK(e < 1e-5, "row %zu: z[%zu] %.7g, expected %.7g (k 4)", i, c, (double)m[2]->z[i * d + c], ref);
            CHECK(fabs(m[1]->z[i * d + c] - ref1) / fmax(fabs(ref1), 1e-3) < 1e-5, "row %zu: z[%zu] (k 1) %.7g vs %.7g",
                  i, c, (double)m[1]->z[i * d + c], ref1);
        }
    }
    CHECK(lmin < -1 && lmax > 1, "the test needs logits on both sides of 0 (got [%g, %g])", lmin, lmax);
    int differs = memcmp(m[1]->z, m[2]->z, NB * d * sizeof(float)) != 0;
    CHECK(differs, "k 4 must change z");
    printf("model fusion (M = 3, masks, k = 4): logits in [%.2f, %.2f], worst relative difference of z %.2e\n", lmin,
           lmax, worst);
    for (int a = 0; a < 3; a++) ima_model_free(m[a]);
    free_batch(&bd, M);
}

/* ---- 3. training fuses with y ---------------------------------------------------------------- */

/* Two models equal but for k (1 and 4): stage 1 under importance weights (a later round) and stage 2 (the
 * paper's objective, whose covariance term reads z) give the same losses and gradients bit for bit, since
 * training fuses with y (SPEC section 2); the representations differ (ima_model_encode, ima_model_fuse). */
static void check_training_unchanged(void) {
    const int M = 3;
    ima_config cfg = small_config(M);
    batch_data bd;
    make_batch(&bd, &cfg, 21);
    ima_model *m[2] = {NULL, NULL};
    for (int a = 0; a < 2; a++) {
        cfg.fusion_sharpness = a ? 4.0f : 1.0f;
        CHECK(ima_model_init(&m[a], &cfg, NB, 5) == 0, "init: %s", ima_last_error());
        if (!m[a]) return;
        spread_logits(m[a]);
    }
    size_t n = m[0]->n_params, d = cfg.latent_width;
    for (int stage = 1; stage <= 2; stage++) {
        double L[2];
        for (int a = 0; a < 2; a++) {
            memset(m[a]->grads, 0, n * sizeof(float));
            if (stage == 1) {
                ima_stage1_terms t;
                CHECK(ima_stage1_forward_backward(m[a], &bd.b, IMA_WEIGHTS_IMPORTANCE, 1, &t) == 0, "stage 1: %s",
                      ima_last_error());
                L[a] = t.total;
            } else {
                ima_stage2_terms t;
                CHECK(ima_stage2_forward_backward(m[a], &bd.b, IMA_WEIGHTS_IMPORTANCE, 1, &t) == 0, "stage 2: %s",
                      ima_last_error());
                L[a] = t.total;
            }
        }
        CHECK(L[0] == L[1] && memcmp(m[0]->grads, m[1]->grads, n * sizeof(float)) == 0,
              "stage %d must not depend on fusion_sharpness: losses %.9g / %.9g", stage, L[0], L[1]);
        CHECK(gc_nonzero(m[0]->grads, n), "stage %d: a gradient", stage);
    }
    for (int a = 0; a < 2; a++)
        CHECK(ima_model_encode(m[a], &bd.b, IMA_WEIGHTS_IMPORTANCE) == 0, "encode: %s", ima_last_error());
    CHECK(memcmp(m[0]->z, m[1]->z, NB * d * sizeof(float)) != 0, "the representation must depend on k");
    float *z4 = malloc(NB * d * sizeof(float));
    memcpy(z4, m[1]->z, NB * d * sizeof(float));
    CHECK(ima_model_fuse(m[1], &bd.b, IMA_WEIGHTS_ONE) == 0 && ima_model_fuse(m[1], &bd.b, IMA_WEIGHTS_IMPORTANCE) == 0,
          "fuse: %s", ima_last_error());
    CHECK(memcmp(z4, m[1]->z, NB * d * sizeof(float)) == 0, "ima_model_fuse must fuse as ima_model_encode (k 4)");
    CHECK(ima_model_encode_rows(m[1], &bd.b, IMA_WEIGHTS_IMPORTANCE, 1, 0, NB) == 0 &&
              memcmp(z4, m[1]->z, NB * d * sizeof(float)) == 0,
          "ima_model_encode_rows must fuse as ima_model_encode (k 4)");
    printf("training with k = 4: stage-1 and stage-2 losses and gradients equal to k = 1 bit for bit; z differs\n");
    free(z4);
    for (int a = 0; a < 2; a++) ima_model_free(m[a]);
    free_batch(&bd, M);
}

/* ---- 4. validation and the checkpoint field ------------------------------------------------- */

/* In the file, after the first occurrence of key, replaces the first occurrence of from (within the next
 * 8 bytes: the key's closing quote, maybe escaped, and the colon) by to (the same length); 1 when done. */
static int patch_file(const char *path, const char *key, const char *from, const char *to) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    size_t K = strlen(key), L = strlen(from);
    int found = 0;
    for (size_t i = 0; i + K <= got && !found; i++) {
        if (memcmp(buf + i, key, K)) continue;
        for (size_t o = i; o <= i + K + 8 && o + L <= got && !found; o++)
            if (!memcmp(buf + o, from, L)) memcpy(buf + o, to, L), found = 1;
    }
    if (found && (f = fopen(path, "wb"))) {
        fwrite(buf, 1, got, f);
        fclose(f);
    }
    free(buf);
    return found;
}

static void check_config_and_checkpoint(void) {
    ima_config cfg = ima_config_digits(3);
    const float bad[] = {0.5f, -1.0f, 1001.0f, NAN};
    for (int a = 0; a < 4; a++) {
        cfg.fusion_sharpness = bad[a];
        CHECK(ima_config_validate(&cfg) == IMA_ERR && strstr(ima_last_error(), "fusion_sharpness"),
              "fusion_sharpness %g must be refused naming the field: %s", (double)bad[a], ima_last_error());
    }
    const float good[] = {0.0f, 1.0f, 1.5f, 1000.0f};
    for (int a = 0; a < 4; a++) {
        cfg.fusion_sharpness = good[a];
        CHECK(ima_config_validate(&cfg) == IMA_OK, "fusion_sharpness %g must be accepted: %s", (double)good[a],
              ima_last_error());
    }
    CHECK(ima_config_defaults().fusion_sharpness == 0.0f && ima_config_digits(2).fusion_sharpness == 0.0f,
          "the default is the paper's fusion");

    cfg = ima_config_digits(3);
    for (int j = 0; j < 2; j++) cfg.mod[j].hidden_width = 4;
    cfg.fusion_sharpness = 1000.0f;
    ima_model *m = NULL, *back = NULL;
    CHECK(ima_model_init(&m, &cfg, 4, 3) == 0, "init: %s", ima_last_error());
    char *dir = tu_tmpdir(), *path = tu_path(dir, "m.safetensors");
    CHECK(tu_checkpoint_round_trip(m, path, 4, &back) == 0, "save and load: %s", ima_last_error());
    if (back)
        CHECK(back->cfg.fusion_sharpness == 1000.0f, "k %g after a round trip", (double)back->cfg.fusion_sharpness);
    ima_model_free(back), back = NULL;
    /* a bad value in the file: refused, naming the file's field */
    CHECK(patch_file(path, "fusion_sharpness", "1000", "1e99"), "the field is in the file");
    CHECK(ima_checkpoint_load(path, 4, &back, NULL, NULL) == IMA_ERR && strstr(ima_last_error(), "fusion_sharpness"),
          "a bad fusion_sharpness must be refused naming the field: %s", ima_last_error());
    ima_model_free(back), back = NULL;
    /* a checkpoint written before the field (the key renamed away): the paper's fusion */
    CHECK(patch_file(path, "fusion_sharpness", "fusion_sharpness", "fusion_sharpnesX"), "the field is in the file");
    CHECK(ima_checkpoint_load(path, 4, &back, NULL, NULL) == 0, "load without the field: %s", ima_last_error());
    if (back) CHECK(back->cfg.fusion_sharpness == 0.0f, "absent field: k %g", (double)back->cfg.fusion_sharpness);
    ima_model_free(m), ima_model_free(back);
    tu_remove_dir(dir);
    free(dir), free(path);
}

int main(void) {
    check_weight();
    check_model_fusion();
    check_training_unchanged();
    check_config_and_checkpoint();
    return tu_finish("test_importance_fusion");
}
