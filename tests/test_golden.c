/* test_golden.c: the C model against its independent PyTorch twin (tools/ima_twin.py), in the way
 * llm.c's test_gpt2.c checks train_gpt2.c against train_gpt2.py.
 *
 * The golden file tests/golden/ima_twin.safetensors (committed; CI has no PyTorch) holds a config
 * (__metadata__ "config"), a batch (x.<m> (B,D_j), mask (B,M), center.<m> (D_j)), the initial
 * parameters under the C model's tensor names, and float64 reference values: u_j, y_imp_j, z for
 * both fusion weights, every stage-1 term (both fusion weights) and stage-2 term (y = 1), every
 * gradient, and 5 Adam steps of each stage (loss before each step, parameters after the last);
 * the local-ev objective's stage 2 (BCE to given targets, some missing): terms, gradients, 5 Adam
 * steps; and the local explained-variance statistic T on a small set (docs/importance.md).
 *
 * Metric, per tensor:  worst_k |c_k - r_k| / max(|r_k|, floor),  floor = FLOOR_FRAC * max_k |r_k|.
 * The floor is relative to the tensor's own scale: elements far below it (sums that cancel) are
 * judged against the tensor's size, not against their own float32 rounding noise.
 * Tolerances (float32 C against float64 reference): see TOL_* below; measured worst values are
 * in docs/verification.md. Regenerate: /usr/bin/python3 tools/ima_twin.py tests/golden/ima_twin.safetensors
 *
 * M modalities j, B rows i, D_j input, d latent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ima/common.h"
#include "ima/importance.h"
#include "ima/model.h"
#include "ima/safetensors.h"
#include "testutil.h"

#define FLOOR_FRAC 1e-3
#define TOL_ACT 1e-4  /* u, y_imp, z: a few float32 layers, ~1e-6 expected */
#define TOL_LOSS 1e-4 /* loss terms, and the losses along the Adam steps */
#define TOL_GRAD 1e-3 /* gradients: longer float32 chains, cancellation in sums over rows */
#define TOL_ADAM                                                                                                       \
    1e-2 /* parameter change after 5 Adam steps, (final - initial): m / sqrt(v) divides
                          small gradients, so their float32 error is amplified */
#define MAX_VIEWS 256

/* ---- comparison bookkeeping --------------------------------------------------------- */

enum { CAT_ACT, CAT_LOSS, CAT_GRAD, CAT_ADAM, N_CAT };
static const char *cat_name[N_CAT] = {"activations", "loss terms", "gradients", "adam steps"};
static const double cat_tol[N_CAT] = {TOL_ACT, TOL_LOSS, TOL_GRAD, TOL_ADAM};
static double cat_worst[N_CAT];
static char cat_worst_name[N_CAT][160];
static int cat_count[N_CAT];

static const ima_st_file *golden;

/* reference tensor `name` as doubles (F64 or F32), n elements expected; NULL (and a failed CHECK) if absent */
static double *ref_get(const char *name, size_t n) {
    const ima_st_tensor *t = ima_st_find(golden, name);
    CHECK(t != NULL, "golden file has no tensor '%s'", name);
    if (!t) return NULL;
    CHECK(t->count == n, "'%s': %zu elements in the golden file, the C model has %zu", name, t->count, n);
    CHECK(t->dtype == IMA_DTYPE_F64 || t->dtype == IMA_DTYPE_F32, "'%s': expected F64 or F32", name);
    if (t->count != n || (t->dtype != IMA_DTYPE_F64 && t->dtype != IMA_DTYPE_F32)) return NULL;
    double *r = malloc((n ? n : 1) * sizeof(double));
    for (size_t k = 0; k < n; k++)
        r[k] = t->dtype == IMA_DTYPE_F64 ? ((const double *)t->data)[k] : (double)((const float *)t->data)[k];
    return r;
}

/* compares c (n doubles, from the C model) with the reference `name`; sub (optional, n) is subtracted
 * from both before comparing (Adam: the change of the parameters) */
static void compare(int cat, const char *name, const double *c, size_t n, const double *sub) {
    double *r = ref_get(name, n);
    if (!r) return;
    double scale = 0.0;
    for (size_t k = 0; k < n; k++) {
        if (sub) r[k] -= sub[k];
        if (fabs(r[k]) > scale) scale = fabs(r[k]);
    }
    double floor_ = FLOOR_FRAC * scale, worst = 0.0, worst_abs = 0.0;
    if (floor_ == 0.0) floor_ = 1e-30; /* an all-zero reference: anything the C side computes must be 0 */
    for (size_t k = 0; k < n; k++) {
        double ck = sub ? c[k] - sub[k] : c[k];
        double d = fabs(ck - r[k]), rel = d / fmax(fabs(r[k]), floor_);
        if (!(rel <= worst)) worst = rel; /* NaN stays worst */
        if (d > worst_abs) worst_abs = d;
    }
    int ok = worst <= cat_tol[cat];
    printf("  %-44s n=%4zu max|ref| %.3e  worst rel %.3e  abs %.3e%s\n", name, n, scale, worst, worst_abs,
           ok ? "" : "  <-- MISMATCH");
    CHECK(ok, "%s: worst relative difference %.3e above the tolerance %.1e", name, worst, cat_tol[cat]);
    if (cat == CAT_GRAD || cat == CAT_ADAM)
        CHECK(scale > 0.0, "%s: the reference is all zero, the case tests nothing", name);
    if (!(worst <= cat_worst[cat])) {
        cat_worst[cat] = worst;
        snprintf(cat_worst_name[cat], sizeof cat_worst_name[cat], "%s", name);
    }
    cat_count[cat]++;
    free(r);
}

static void compare_f(int cat, const char *name, const float *c, size_t n, const double *sub) {
    double *cd = malloc((n ? n : 1) * sizeof(double));
    for (size_t k = 0; k < n; k++) cd[k] = c[k];
    compare(cat, name, cd, n, sub);
    free(cd);
}

static void compare_scalar(const char *name, double c) { compare(CAT_LOSS, name, &c, 1, NULL); }

/* ---- config and model from the golden file ---------------------------------------- */

static int json_number(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return ima_error("golden config: '%s' is missing or not a number", key);
    *out = v->valuedouble;
    return IMA_OK;
}

static int parse_config(ima_config *cfg, size_t *B, const char *text) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_Parse(text);
    if (!root) return ima_error("golden config: not JSON");
    int rc = IMA_ERR;
    double v;
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modalities");
    if (json_number(root, "latent_width", &v)) goto done;
    cfg->latent_width = (size_t)v;
    if (json_number(root, "lambda_glob", &v)) goto done;
    cfg->lambda_glob = (float)v;
    if (json_number(root, "center_inputs", &v)) goto done;
    cfg->center_inputs = (int)v;
    if (json_number(root, "batch", &v)) goto done;
    *B = (size_t)v;
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) < 1 || cJSON_GetArraySize(mods) > IMA_MAX_MODALITIES) {
        ima_error("golden config: 'modalities': expected an array of 1..%d objects", IMA_MAX_MODALITIES);
        goto done;
    }
    cfg->n_modalities = cJSON_GetArraySize(mods);
    for (int j = 0; j < cfg->n_modalities; j++) {
        const cJSON *o = cJSON_GetArrayItem(mods, j);
        ima_modality_config *c = &cfg->mod[j];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
        if (!cJSON_IsString(name) || !cJSON_IsString(loss)) {
            ima_error("golden config: modality %d: 'name' and 'loss' must be strings", j);
            goto done;
        }
        snprintf(c->name, sizeof c->name, "%s", name->valuestring);
        if (!strcmp(loss->valuestring, "bce")) c->loss = IMA_LOSS_BCE;
        else if (!strcmp(loss->valuestring, "sse")) c->loss = IMA_LOSS_SSE;
        else {
            ima_error("golden config: modality %d: loss '%s': expected bce or sse", j, loss->valuestring);
            goto done;
        }
        if (json_number(o, "input_width", &v)) goto done;
        c->input_width = (size_t)v;
        if (json_number(o, "hidden_width", &v)) goto done;
        c->hidden_width = (size_t)v;
        if (json_number(o, "lambda_rec", &v)) goto done;
        c->lambda_rec = (float)v;
        if (json_number(o, "lambda_align", &v)) goto done;
        c->lambda_align = (float)v;
        if (json_number(o, "lambda_local", &v)) goto done;
        c->lambda_local = (float)v;
        if (json_number(o, "lambda_corr", &v)) goto done;
        c->lambda_corr = (float)v;
        if (json_number(o, "rho", &v)) goto done;
        c->rho = (float)v;
    }
    rc = ima_config_validate(cfg);
done:
    cJSON_Delete(root);
    return rc;
}

/* copies a float32 tensor of n elements from the golden file into dst */
static int load_f32(float *dst, const char *name, size_t n) {
    const ima_st_tensor *t = ima_st_find(golden, name);
    if (!t) return ima_error("golden file has no tensor '%s'", name);
    if (t->dtype != IMA_DTYPE_F32 || t->count != n)
        return ima_error("'%s': expected F32 with %zu elements, got %s with %zu", name, n, ima_dtype_name(t->dtype),
                         t->count);
    memcpy(dst, t->data, n * sizeof(float));
    return IMA_OK;
}

/* a fresh model (zero Adam state) holding the golden initial parameters and centring means */
static ima_model *load_model(const ima_config *cfg, size_t B) {
    ima_model *m;
    if (ima_model_init(&m, cfg, B, 1)) return NULL;
    ima_param_view v[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, v, MAX_VIEWS);
    IMA_ASSERT(nv <= MAX_VIEWS);
    for (size_t k = 0; k < nv; k++) {
        const ima_st_tensor *t = ima_st_find(golden, v[k].name);
        if (t &&
            (t->ndim != v[k].ndim || t->shape[0] != v[k].shape[0] || (t->ndim == 2 && t->shape[1] != v[k].shape[1]))) {
            ima_error("'%s': shape in the golden file differs from the C model's", v[k].name);
            goto fail;
        }
        if (load_f32(v[k].data, v[k].name, v[k].count)) goto fail;
    }
    for (int j = 0; j < cfg->n_modalities; j++) {
        char name[64];
        snprintf(name, sizeof name, "center.%s", cfg->mod[j].name);
        if (load_f32(m->mod[j].center, name, cfg->mod[j].input_width)) goto fail;
    }
    return m;
fail:
    ima_model_free(m);
    return NULL;
}

static double *param_snapshot(const ima_model *m) {
    double *p = malloc(m->n_params * sizeof(double));
    for (size_t k = 0; k < m->n_params; k++) p[k] = m->params[k];
    return p;
}

/* ---- the checks ------------------------------------------------------------------- */

static void check_grads(const ima_model *m, const char *prefix, int importance) {
    ima_param_view v[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, v, MAX_VIEWS);
    char name[160];
    for (size_t k = 0; k < nv; k++) {
        if ((strstr(v[k].name, ".importance.") != NULL) != importance) continue;
        snprintf(name, sizeof name, "%.60s.%.95s", prefix, v[k].name);
        compare_f(CAT_GRAD, name, v[k].grad, v[k].count, NULL);
    }
}

static void check_final_params(const ima_model *m, const double *init, const char *prefix, int importance) {
    ima_param_view v[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, v, MAX_VIEWS);
    char name[160];
    for (size_t k = 0; k < nv; k++) {
        if ((strstr(v[k].name, ".importance.") != NULL) != importance) continue;
        snprintf(name, sizeof name, "%.60s.%.95s", prefix, v[k].name);
        compare_f(CAT_ADAM, name, v[k].data, v[k].count, init + (v[k].data - m->params));
    }
}

static void check_stage1(ima_model *m, const ima_batch *b, ima_weights w, const char *wname) {
    ima_stage1_terms t;
    char name[160];
    ima_stage1_forward_backward(m, b, w, 1, &t);
    printf("stage 1, fusion weights %s\n", wname);
    snprintf(name, sizeof name, "stage1.%s.glob", wname);
    compare_scalar(name, t.glob);
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        snprintf(name, sizeof name, "stage1.%s.rec.%s", wname, m->cfg.mod[j].name);
        compare_scalar(name, t.rec[j]);
        snprintf(name, sizeof name, "stage1.%s.align.%s", wname, m->cfg.mod[j].name);
        compare_scalar(name, t.align[j]);
    }
    snprintf(name, sizeof name, "stage1.%s.total", wname);
    compare_scalar(name, t.total);
    snprintf(name, sizeof name, "grad.stage1.%s", wname);
    check_grads(m, name, 0);
}

static void check_stage2(ima_model *m, const ima_batch *b) {
    ima_stage2_terms t;
    char name[160];
    ima_stage2_forward_backward(m, b, IMA_WEIGHTS_ONE, 1, &t);
    printf("stage 2, fusion weights one\n");
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const char *mn = m->cfg.mod[j].name;
        snprintf(name, sizeof name, "stage2.one.corr.%s", mn);
        compare_scalar(name, t.corr[j]);
        snprintf(name, sizeof name, "stage2.one.local.%s", mn);
        compare_scalar(name, t.local[j]);
        snprintf(name, sizeof name, "stage2.one.ybar.%s", mn);
        compare_scalar(name, t.ybar[j]);
    }
    compare_scalar("stage2.one.total", t.total);
    check_grads(m, "grad.stage2.one", 1);
}

/* the local-ev stage 2 with the file's targets: terms, gradients, then 5 Adam steps from the start */
static void check_stage2_lev(const ima_config *cfg, const ima_batch *b0) {
    const ima_st_tensor *tt = ima_st_find(golden, "target");
    size_t M = (size_t)cfg->n_modalities;
    CHECK(tt && tt->dtype == IMA_DTYPE_F32 && tt->count == b0->B * M, "golden file: 'target' must be F32 (B, M)");
    if (!tt || tt->dtype != IMA_DTYPE_F32 || tt->count != b0->B * M) return;
    ima_config c = *cfg;
    c.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    ima_model *m = load_model(&c, b0->B);
    CHECK(m != NULL, "%s", ima_last_error());
    if (!m) return;
    ima_batch b = *b0;
    b.target = (const float *)tt->data;
    ima_stage2_terms t;
    char name[160];
    ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t);
    printf("stage 2, local-ev objective (BCE to targets)\n");
    for (int j = 0; j < c.n_modalities; j++) {
        snprintf(name, sizeof name, "stage2_lev.teach.%s", c.mod[j].name);
        compare_scalar(name, t.teach[j]);
    }
    compare_scalar("stage2_lev.total", t.total);
    check_grads(m, "grad.stage2_lev", 1);
    const ima_st_tensor *lt = ima_st_find(golden, "adam.stage2_lev.loss");
    size_t steps = lt ? lt->count : 5;
    double *init = param_snapshot(m), *loss = calloc(steps ? steps : 1, sizeof(double));
    ima_adam_config ac = ima_adam_defaults();
    for (size_t s = 0; s < steps; s++) {
        ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t);
        loss[s] = t.total;
        ima_stage2_step(m, &ac);
    }
    compare(CAT_LOSS, "adam.stage2_lev.loss", loss, steps, NULL);
    check_final_params(m, init, "adam.stage2_lev.final", 1);
    free(init);
    free(loss);
    ima_model_free(m);
}

/* T of the local explained-variance statistic against the twin's brute-force numpy version */
static void check_local_ev_stat(void) {
    const ima_st_tensor *u = ima_st_find(golden, "lev.u"), *p = ima_st_find(golden, "lev.p");
    const char *ks = ima_st_meta(golden, "lev_k");
    int ok = u && p && ks && u->dtype == IMA_DTYPE_F32 && p->dtype == IMA_DTYPE_F32 && u->ndim == 2 && p->ndim == 2 &&
             u->shape[0] == p->shape[0] && u->shape[1] == p->shape[1];
    CHECK(ok, "golden file: lev.u, lev.p (N, d) F32 and metadata lev_k expected");
    if (!ok) return;
    size_t n = u->shape[0], d = u->shape[1], k = (size_t)atoi(ks);
    float *T = malloc(n * sizeof(float));
    int rc = ima_local_ev_stat(T, (const float *)u->data, d, (const float *)p->data, d, n, k);
    CHECK(rc == 0, "local-ev statistic: %s", ima_last_error());
    printf("local explained-variance statistic (N %zu, d %zu, k %zu)\n", n, d, k);
    if (rc == 0) compare_f(CAT_LOSS, "lev.T", T, n, NULL);
    free(T);
}

/* T with three partner blocks (masks, row weights) and the principal-component features, against the twin */
static void check_local_ev_blocks(void) {
    const ima_st_tensor *f[3], *mk = ima_st_find(golden, "lev3.mask"), *w = ima_st_find(golden, "lev3.w");
    const char *ks = ima_st_meta(golden, "lev_k"), *ps = ima_st_meta(golden, "pca_p");
    int ok = mk && w && ks && ps && mk->dtype == IMA_DTYPE_U8 && mk->ndim == 2 && mk->shape[1] == 3 &&
             w->dtype == IMA_DTYPE_F32 && w->count == mk->shape[0];
    const float *F[3];
    size_t width[3];
    for (int j = 0; j < 3 && ok; j++) {
        char name[32];
        snprintf(name, sizeof name, "lev3.f%d", j);
        f[j] = ima_st_find(golden, name);
        ok = f[j] && f[j]->dtype == IMA_DTYPE_F32 && f[j]->ndim == 2 && f[j]->shape[0] == mk->shape[0];
        if (ok) F[j] = (const float *)f[j]->data, width[j] = f[j]->shape[1];
    }
    CHECK(ok, "golden file: lev3.f0..2 (N, D_j) F32, lev3.mask (N, 3) U8, lev3.w (N) F32, metadata lev_k, pca_p");
    if (!ok) return;
    size_t n = mk->shape[0], k = (size_t)atoi(ks);
    float *T = malloc(n * sizeof(float));
    for (int j = 0; j < 3; j++) {
        int rc = ima_local_ev_stat_blocks(T, F, width, (const uint8_t *)mk->data, (const float *)w->data, n, 3, j, k);
        CHECK(rc == 0, "local-ev statistic with blocks: %s", ima_last_error());
        if (rc) break;
        char name[32];
        snprintf(name, sizeof name, "lev3.T%d", j);
        double *r = ref_get(name, n);
        if (!r) break;
        size_t nan_mismatch = 0, nan_count = 0;
        for (size_t i = 0; i < n; i++) { /* NaN (no statistic) where the twin has NaN, compared as 0 */
            nan_mismatch += isnan(r[i]) != isnan(T[i]);
            nan_count += isnan(r[i]) != 0;
            if (isnan(T[i])) T[i] = 0.0f;
        }
        CHECK(nan_mismatch == 0 && nan_count > 0, "%s: %zu rows differ in having a statistic (%zu without one)", name,
              nan_mismatch, nan_count);
        free(r);
        const ima_st_tensor *rt = ima_st_find(golden, name);
        double *rr = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) { /* compare() reads the file: make its NaN rows 0 through a copy */
            double v = ((const double *)rt->data)[i];
            rr[i] = isnan(v) ? 0.0 : v;
        }
        double worst = 0.0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(T[i] - rr[i]) / fmax(fabs(rr[i]), 1e-6));
        printf("  %-44s n=%4zu worst rel %.3e\n", name, n, worst);
        CHECK(worst <= cat_tol[CAT_LOSS], "%s: worst relative difference %.3e above %.1e", name, worst,
              cat_tol[CAT_LOSS]);
        free(rr);
    }
    free(T);
    const ima_st_tensor *px = ima_st_find(golden, "pca.x"), *pm = ima_st_find(golden, "pca.mask");
    ok = px && pm && px->dtype == IMA_DTYPE_F32 && px->ndim == 2 && pm->dtype == IMA_DTYPE_U8 &&
         pm->count == px->shape[0];
    CHECK(ok, "golden file: pca.x (N, D) F32, pca.mask (N) U8");
    if (!ok) return;
    size_t N = px->shape[0], D = px->shape[1], P = (size_t)atoi(ps), P_out = 0;
    float *Fp = malloc(N * P * sizeof(float));
    double explained = 0.0;
    int rc = ima_local_ev_pca(Fp, &P_out, &explained, (const float *)px->data, D, (const uint8_t *)pm->data, 1, N, P);
    CHECK(rc == 0 && P_out == P, "principal components: %s", rc ? ima_last_error() : "wrong P");
    if (rc == 0) {
        compare_f(CAT_LOSS, "pca.F", Fp, N * P, NULL);
        compare_scalar("pca.explained", explained);
    }
    free(Fp);
}

/* 5 Adam steps of one stage (y = 1) from the initial parameters on the same batch */
static void check_adam(const ima_config *cfg, const ima_batch *b, int stage) {
    ima_model *m = load_model(cfg, b->B);
    CHECK(m != NULL, "%s", ima_last_error());
    if (!m) return;
    const ima_st_tensor *lt = ima_st_find(golden, stage == 1 ? "adam.stage1.one.loss" : "adam.stage2.one.loss");
    size_t steps = lt ? lt->count : 5;
    double *init = param_snapshot(m), *loss = calloc(steps ? steps : 1, sizeof(double));
    ima_adam_config ac = ima_adam_defaults();
    for (size_t s = 0; s < steps; s++) {
        if (stage == 1) {
            ima_stage1_terms t;
            ima_stage1_forward_backward(m, b, IMA_WEIGHTS_ONE, 1, &t);
            loss[s] = t.total;
            ima_stage1_step(m, &ac);
        } else {
            ima_stage2_terms t;
            ima_stage2_forward_backward(m, b, IMA_WEIGHTS_ONE, 1, &t);
            loss[s] = t.total;
            ima_stage2_step(m, &ac);
        }
    }
    printf("Adam, stage %d, %zu steps (losses before each step; parameter change after the last)\n", stage, steps);
    compare(CAT_LOSS, stage == 1 ? "adam.stage1.one.loss" : "adam.stage2.one.loss", loss, steps, NULL);
    check_final_params(m, init, stage == 1 ? "adam.stage1.one.final" : "adam.stage2.one.final", stage == 2);
    /* the other stage's parameters must not move */
    size_t lo = stage == 1 ? m->n_params_ae : 0, hi = stage == 1 ? m->n_params : m->n_params_ae, moved = 0;
    for (size_t k = lo; k < hi; k++) moved += m->params[k] != (float)init[k];
    CHECK(moved == 0, "stage %d Adam moved %zu parameters of the other stage", stage, moved);
    free(init);
    free(loss);
    ima_model_free(m);
}

/* the twin's Adam settings must be the C defaults */
static void check_adam_config(void) {
    const char *s = ima_st_meta(golden, "adam");
    CHECK(s != NULL, "golden file: __metadata__ has no 'adam'");
    if (!s) return;
    cJSON *o = cJSON_Parse(s);
    ima_adam_config ac = ima_adam_defaults();
    double lr = 0, b1 = 0, b2 = 0, eps = 0;
    int ok = o && !json_number(o, "lr", &lr) && !json_number(o, "beta1", &b1) && !json_number(o, "beta2", &b2) &&
             !json_number(o, "eps", &eps);
    CHECK(ok && (float)lr == ac.lr && (float)b1 == ac.beta1 && (float)b2 == ac.beta2 && (float)eps == ac.eps &&
              ac.weight_decay == 0.0f,
          "the golden file's Adam settings differ from ima_adam_defaults()");
    cJSON_Delete(o);
}

int main(void) {
    char *path = tu_path(tu_source_dir(), "tests/golden/ima_twin.safetensors");
    ima_st_file f;
    memset(&f, 0, sizeof f);
    if (ima_st_read(&f, path)) {
        CHECK(0,
              "cannot read the golden file: %s\n  (regenerate: /usr/bin/python3 tools/ima_twin.py "
              "tests/golden/ima_twin.safetensors)",
              ima_last_error());
        free(path);
        return tu_finish("test_golden");
    }
    golden = &f;
    printf("golden file %s: %zu tensors, generator %s, torch %s\n", path, f.n_tensors,
           ima_st_meta(&f, "generator") ? ima_st_meta(&f, "generator") : "?",
           ima_st_meta(&f, "torch") ? ima_st_meta(&f, "torch") : "?");
    printf("metric: |c - ref| / max(|ref|, %.0e * max|ref| of the tensor)\n", FLOOR_FRAC);

    ima_config cfg;
    size_t B = 0;
    const char *cfg_text = ima_st_meta(&f, "config");
    int ok = cfg_text && !parse_config(&cfg, &B, cfg_text);
    CHECK(ok, "golden file config: %s", cfg_text ? ima_last_error() : "__metadata__ has no 'config'");
    ima_model *m = ok ? load_model(&cfg, B) : NULL;
    CHECK(!ok || m, "%s", ima_last_error());
    if (!m) goto out;
    check_adam_config();

    /* every parameter tensor of the file is used, and the file has one per C view */
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, views, MAX_VIEWS), in_file = 0;
    for (size_t k = 0; k < f.n_tensors; k++)
        for (int j = 0; j < cfg.n_modalities; j++) {
            size_t len = strlen(cfg.mod[j].name);
            in_file += !strncmp(f.tensors[k].name, cfg.mod[j].name, len) && f.tensors[k].name[len] == '.';
        }
    CHECK(in_file == nv, "golden file holds %zu parameter tensors, the C model has %zu", in_file, nv);

    /* the batch */
    ima_batch b;
    memset(&b, 0, sizeof b);
    b.B = B;
    float *x[IMA_MAX_MODALITIES] = {0};
    char name[160];
    for (int j = 0; j < cfg.n_modalities; j++) {
        x[j] = malloc(B * cfg.mod[j].input_width * sizeof(float));
        snprintf(name, sizeof name, "x.%s", cfg.mod[j].name);
        ok = !load_f32(x[j], name, B * cfg.mod[j].input_width);
        CHECK(ok, "%s", ima_last_error());
        b.x[j] = x[j];
    }
    const ima_st_tensor *mask = ima_st_find(&f, "mask");
    CHECK(mask && mask->dtype == IMA_DTYPE_U8 && mask->count == B * (size_t)cfg.n_modalities,
          "golden file: 'mask' must be U8 (B, M)");
    if (!mask || mask->dtype != IMA_DTYPE_U8 || mask->count != B * (size_t)cfg.n_modalities || tu_failed) goto out_x;
    b.mask = mask->data;

    /* activations */
    printf("activations\n");
    size_t d = cfg.latent_width;
    ima_model_encode(m, &b, IMA_WEIGHTS_ONE);
    for (int j = 0; j < cfg.n_modalities; j++) {
        snprintf(name, sizeof name, "u.%s", cfg.mod[j].name);
        compare_f(CAT_ACT, name, ima_model_u(m, j), B * d, NULL);
    }
    compare_f(CAT_ACT, "z.one", m->z, B * d, NULL);
    ima_model_importance(m, &b);
    for (int j = 0; j < cfg.n_modalities; j++) {
        snprintf(name, sizeof name, "y_imp.%s", cfg.mod[j].name);
        compare_f(CAT_ACT, name, m->mod[j].y_imp, B, NULL);
    }
    ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE);
    compare_f(CAT_ACT, "z.importance", m->z, B * d, NULL);

    check_stage1(m, &b, IMA_WEIGHTS_ONE, "one");
    check_stage1(m, &b, IMA_WEIGHTS_IMPORTANCE, "importance");
    check_stage2(m, &b);
    check_adam(&cfg, &b, 1);
    check_adam(&cfg, &b, 2);
    check_stage2_lev(&cfg, &b);
    check_local_ev_stat();
    check_local_ev_blocks();

    printf("summary (worst relative difference per category, floor %.0e * max|ref| per tensor)\n", FLOOR_FRAC);
    for (int c = 0; c < N_CAT; c++)
        printf("  %-12s %3d tensors  worst %.3e (%s)  tolerance %.0e  %s\n", cat_name[c], cat_count[c], cat_worst[c],
               cat_worst_name[c], cat_tol[c], cat_worst[c] <= cat_tol[c] ? "ok" : "MISMATCH");
out_x:
    for (int j = 0; j < cfg.n_modalities; j++) free(x[j]);
out:
    ima_model_free(m);
    ima_st_free(&f);
    free(path);
    return tu_finish("test_golden");
}
