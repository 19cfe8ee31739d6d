/* test_baselines_golden.c: the C baselines against their PyTorch twin (tools/baselines_twin.py, float64
 * autograd), tensor by tensor, from tests/golden/baselines_twin.safetensors: the twin's weights, inputs,
 * mask and noise go in; every loss term, the representation and every parameter gradient must agree.
 *
 * Metric per tensor: max_k |c_k - ref_k| / max(max_k |ref_k|, 1e-6), the worst error relative to the
 * tensor's scale (a per-element relative error is meaningless for gradients near zero).
 * Tolerances (float32 C against float64 reference; measured worst below 1e-6, see docs/baselines.md):
 *   loss terms 1e-6 relative, representation 1e-6, gradients 1e-5. A wrong formula misses by far more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/baselines.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "testutil.h"

#define TOL_LOSS 1e-6
#define TOL_Z 1e-6
#define TOL_GRAD 1e-5

/* the twin's configuration (tools/baselines_twin.py) */
static ima_baseline_config twin_config(ima_baseline_kind kind) {
    ima_baseline_config cfg = ima_baseline_config_digits(kind, 3);
    const char *names[3] = {"m0", "m1", "m2"};
    size_t D[3] = {5, 4, 6}, H[3] = {7, 6, 5};
    ima_loss_kind loss[3] = {IMA_LOSS_BCE, IMA_LOSS_SSE, IMA_LOSS_SSE};
    int gauss[3] = {0, 0, 1};
    float lam[3] = {1.0f, 0.5f, 1.5f};
    cfg.n_modalities = 3;
    cfg.beta = 0.7f;
    cfg.alpha = 0.3f;
    cfg.mvae_subsets = 2; /* the twin fixes two subset terms ({m0,m1}, {m1,m2}) */
    cfg.joint_hidden = kind == IMA_BASELINE_JMVAE ? 8 : 0;
    for (int j = 0; j < 3; j++) {
        memset(&cfg.mod[j], 0, sizeof cfg.mod[j]);
        snprintf(cfg.mod[j].name, sizeof cfg.mod[j].name, "%s", names[j]);
        cfg.mod[j].input_width = D[j];
        cfg.mod[j].hidden_width = H[j];
        cfg.mod[j].loss = loss[j];
        cfg.mod[j].gaussian_logvar = gauss[j];
        cfg.mod[j].lambda_rec = lam[j];
    }
    return cfg;
}

/* a tensor of the file with the expected dtype and element count, or NULL (after a failed CHECK) */
static const ima_st_tensor *get(const ima_st_file *f, const char *kind, const char *what, ima_dtype dtype,
                                size_t count) {
    char name[256];
    if (snprintf(name, sizeof name, "%s.%s", kind, what) >= (int)sizeof name) return NULL;
    const ima_st_tensor *t = ima_st_find(f, name);
    CHECK(t != NULL, "golden file lacks %s", name);
    if (!t) return NULL;
    CHECK(t->dtype == dtype && t->count == count, "%s: dtype %d count %zu, expected dtype %d count %zu", name,
          (int)t->dtype, t->count, (int)dtype, count);
    return t->dtype == dtype && t->count == count ? t : NULL;
}

static double scaled_err(const float *c, const float *ref, size_t n) {
    double worst = 0, scale = 1e-6;
    for (size_t k = 0; k < n; k++) scale = fmax(scale, fabs((double)ref[k]));
    for (size_t k = 0; k < n; k++) worst = fmax(worst, fabs((double)c[k] - (double)ref[k]));
    return worst / scale;
}

static double rel_scalar(double c, double ref) { return fabs(c - ref) / fmax(fabs(ref), 1e-6); }

static void check_kind(const ima_st_file *f, ima_baseline_kind kind) {
    const char *kn = ima_baseline_kind_name(kind);
    ima_baseline_config cfg = twin_config(kind);
    const size_t B = 6, d = 3;
    int M = cfg.n_modalities;
    ima_baseline *bl;
    CHECK(ima_baseline_init(&bl, &cfg, B, 1) == IMA_OK, "init: %s", ima_last_error());
    if (!bl) return;

    /* weights */
    ima_param_view views[64];
    size_t nv = ima_baseline_param_views(bl, views, 64);
    char what[256];
    for (size_t v = 0; v < nv; v++) {
        snprintf(what, sizeof what, "param.%.95s", views[v].name);
        const ima_st_tensor *t = get(f, kn, what, IMA_DTYPE_F32, views[v].count);
        if (t) memcpy(views[v].data, t->data, views[v].count * sizeof(float));
    }
    /* inputs, mask, noise */
    ima_batch b = {.B = B};
    for (int j = 0; j < M; j++) {
        snprintf(what, sizeof what, "x.%.31s", cfg.mod[j].name);
        const ima_st_tensor *t = get(f, kn, what, IMA_DTYPE_F32, B * cfg.mod[j].input_width);
        if (!t) goto done;
        b.x[j] = t->data;
    }
    const ima_st_tensor *mask = get(f, kn, "mask", IMA_DTYPE_U8, B * (size_t)M);
    if (!mask) goto done;
    b.mask = mask->data;
    bl->noise_B = B;
    if (kind == IMA_BASELINE_MVAE) {
        const ima_st_tensor *ts = ima_st_find(f, "mvae.term_set");
        CHECK(ts && ts->dtype == IMA_DTYPE_U8 && ts->ndim == 2 && ts->shape[1] == (size_t)M &&
                  ts->shape[0] <= IMA_BASELINE_MAX_TERMS,
              "mvae.term_set missing or malformed");
        if (!ts || ts->shape[0] > IMA_BASELINE_MAX_TERMS) goto done;
        bl->n_terms = (int)ts->shape[0];
        for (int s = 0; s < bl->n_terms; s++)
            for (int j = 0; j < M; j++) bl->term_set[s][j] = ((const uint8_t *)ts->data)[s * M + j];
        /* the model allocates room for the terms its configuration draws; the twin's fixed sets may be more */
        CHECK((size_t)bl->n_terms <= (size_t)(1 + M + cfg.mvae_subsets), "mvae: %d terms do not fit", bl->n_terms);
    }
    if (kind == IMA_BASELINE_JMVAE) bl->n_terms = 1;
    if (kind != IMA_BASELINE_DAE) {
        const ima_st_tensor *eps = get(f, kn, "eps", IMA_DTYPE_F32, (size_t)bl->n_terms * B * d);
        if (!eps) goto done;
        memcpy(bl->eps, eps->data, eps->count * sizeof(float));
    } else {
        const ima_st_tensor *keep = get(f, kn, "keep", IMA_DTYPE_F32, B * bl->concat_width);
        if (!keep) goto done;
        memcpy(bl->keep, keep->data, keep->count * sizeof(float));
    }

    /* loss terms */
    ima_baseline_terms t;
    ima_baseline_loss_grad(bl, &b, 1, &t);
    const ima_st_tensor *lt = get(f, kn, "loss.total", IMA_DTYPE_F64, 1),
                        *lr = get(f, kn, "loss.rec", IMA_DTYPE_F64, 3), *lk = get(f, kn, "loss.kl", IMA_DTYPE_F64, 1),
                        *lu = get(f, kn, "loss.kl_uni", IMA_DTYPE_F64, 1);
    if (!lt || !lr || !lk || !lu) goto done;
    double worst_loss = rel_scalar(t.total, ((const double *)lt->data)[0]);
    worst_loss = fmax(worst_loss, rel_scalar(t.kl, ((const double *)lk->data)[0]));
    worst_loss = fmax(worst_loss, rel_scalar(t.kl_uni, ((const double *)lu->data)[0]));
    for (int j = 0; j < M; j++) worst_loss = fmax(worst_loss, rel_scalar(t.rec[j], ((const double *)lr->data)[j]));
    CHECK(worst_loss < TOL_LOSS, "%s: loss terms differ: total %.9g (twin %.9g), worst relative %.3g", kn, t.total,
          ((const double *)lt->data)[0], worst_loss);

    /* gradients */
    double worst_grad = 0;
    const char *worst_name = "";
    for (size_t v = 0; v < nv; v++) {
        snprintf(what, sizeof what, "grad.%.95s", views[v].name);
        const ima_st_tensor *g = get(f, kn, what, IMA_DTYPE_F32, views[v].count);
        if (!g) continue;
        double e = scaled_err(views[v].grad, g->data, views[v].count);
        CHECK(e < TOL_GRAD, "%s: gradient %s differs: scaled error %.3g", kn, views[v].name, e);
        if (e >= worst_grad) worst_grad = e, worst_name = views[v].name;
    }

    /* representation with the mask */
    const ima_st_tensor *zt = get(f, kn, "z", IMA_DTYPE_F32, B * d);
    float z[6 * 3];
    double ez = INFINITY;
    if (zt) {
        ima_baseline_represent(bl, &b, z);
        ez = scaled_err(z, zt->data, B * d);
        CHECK(ez < TOL_Z, "%s: representation differs: scaled error %.3g", kn, ez);
    }
    printf("%-5s: %zu tensors; loss %.6f, worst relative loss-term error %.2e; worst gradient error %.2e (%s); "
           "representation %.2e\n",
           kn, nv, t.total, worst_loss, worst_grad, worst_name, ez);
done:
    ima_baseline_free(bl);
}

int main(void) {
    char *path = tu_path(tu_source_dir(), "tests/golden/baselines_twin.safetensors");
    ima_st_file f;
    int rc = ima_st_read(&f, path);
    CHECK(rc == IMA_OK, "%s", ima_last_error());
    free(path);
    if (rc != IMA_OK) return tu_finish("baselines_golden");
    check_kind(&f, IMA_BASELINE_MVAE);
    check_kind(&f, IMA_BASELINE_JMVAE);
    check_kind(&f, IMA_BASELINE_DAE);
    ima_st_free(&f);
    return tu_finish("baselines_golden");
}
