/* api.c: the flat entry point of include/ima/api.h, for bindings (the Python package) and C callers.
 * A handle is what an `ima train` checkpoint holds: the model, the training configuration and the
 * training position. Training and embedding read the caller's rows in place and write into the
 * caller's buffers; every check a user's mistake can fail returns an error, never ends the process.
 *
 * Dimensions: N rows, M modalities (j), D_j input width, d latent width, B rows per forward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "ima/api.h"
#include "ima/common.h"
#include "ima/eval.h"
#include "ima/train.h"

int openblas_get_num_threads(void); /* OpenBLAS */

struct ima_api_model {
    ima_model *m;        // activations for m->max_batch rows; grown on demand (ensure_batch)
    ima_train_config tc; // the configuration of the last (or next) training run
    ima_train_state st;  // where training stands
    uint64_t seed;       // initialisation seed (the shuffling stream is seeded from it as ima train does)
    int started;         // 1 once centring means are fit (trained, or loaded from a checkpoint)
    int training;        // 1 inside ima_api_fit: a callback may embed, but m must not be replaced
};

const char *ima_api_version(void) { return IMA_VERSION; }

void ima_api_string_free(char *s) { free(s); }

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int ima_api_preset_json(char **out, const char *name, size_t latent) {
    *out = NULL;
    if (!name || strcmp(name, "digits"))
        return ima_error("preset: expected 'digits', got '%s'", name ? name : "(null)");
    ima_config cfg = ima_config_digits(latent);
    if (ima_config_validate(&cfg)) return ima_error_prefix("preset digits");
    if (!(*out = ima_config_to_json(&cfg))) return ima_error("preset: out of memory");
    return IMA_OK;
}

/* ---- the handle -------------------------------------------------------------------------- */

int ima_api_model_new(ima_api_model **out, const char *config_json, uint64_t seed) {
    *out = NULL;
    ima_config cfg;
    if (!config_json) return ima_error("model: no configuration given");
    if (ima_config_from_json(&cfg, config_json, "model configuration")) return IMA_ERR;
    ima_api_model *h = calloc(1, sizeof *h);
    if (!h) return ima_error("model: out of memory");
    h->tc = ima_train_defaults();
    h->seed = seed;
    if (ima_model_init(&h->m, &cfg, h->tc.batch_size, seed)) {
        free(h);
        return IMA_ERR;
    }
    ima_train_state_init(&h->st, seed ^ 0x5eedULL); /* as ima train */
    *out = h;
    return IMA_OK;
}

int ima_api_model_load(ima_api_model **out, const char *path) {
    *out = NULL;
    ima_api_model *h = calloc(1, sizeof *h);
    if (!h) return ima_error("%s: out of memory", path);
    /* activations for a default batch; fit and embed grow them as they need */
    if (ima_checkpoint_load(path, 256, &h->m, &h->tc, &h->st)) {
        free(h);
        return IMA_ERR;
    }
    h->started = 1;
    *out = h;
    return IMA_OK;
}

int ima_api_model_save(const ima_api_model *h, const char *path) {
    return ima_checkpoint_save(path, h->m, &h->tc, &h->st);
}

void ima_api_model_free(ima_api_model *h) {
    if (!h) return;
    ima_model_free(h->m);
    free(h);
}

int ima_api_model_config_json(const ima_api_model *h, char **out) {
    if (!(*out = ima_config_to_json(&h->m->cfg))) return ima_error("config: out of memory");
    return IMA_OK;
}

int ima_api_model_train_json(const ima_api_model *h, char **out) {
    const ima_train_config *t = &h->tc;
    const ima_train_state *s = &h->st;
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"batch_size\":%zu,\"rounds\":%d,\"epochs_stage1\":%d,\"epochs_stage2\":%d,\"lr_stage1\":%.9g,"
             "\"lr_stage2\":%.9g,\"step_ae\":%ld,\"step_imp\":%ld,\"round\":%d,\"stage\":%d,\"epoch\":%d,"
             "\"finished\":%s,\"started\":%s}",
             t->batch_size, t->rounds, t->epochs_stage1, t->epochs_stage2, (double)t->adam_stage1.lr,
             (double)t->adam_stage2.lr, h->m->step_ae, h->m->step_imp, s->round, s->stage, s->epoch,
             s->finished ? "true" : "false", h->started ? "true" : "false");
    if (!(*out = dup_string(buf))) return ima_error("train state: out of memory");
    return IMA_OK;
}

int ima_api_model_started(const ima_api_model *h) { return h->started; }

/* Makes room for B rows of activations: a new model of the same configuration whose parameters,
 * centring means, Adam moments and step counts are copied over (the buffers have one layout). */
static int ensure_batch(ima_api_model *h, size_t B) {
    ima_model *old = h->m, *m = NULL;
    if (B <= old->max_batch) return IMA_OK;
    if (ima_model_init(&m, &old->cfg, B, 0)) return ima_error_prefix("batch of %zu rows", B);
    memcpy(m->params, old->params, old->n_params * sizeof(float));
    memcpy(m->adam_m, old->adam_m, old->n_params * sizeof(float));
    memcpy(m->adam_v, old->adam_v, old->n_params * sizeof(float));
    memcpy(m->buffers, old->buffers, old->n_buffers * sizeof(float));
    m->step_ae = old->step_ae;
    m->step_imp = old->step_imp;
    ima_model_free(old);
    h->m = m;
    return IMA_OK;
}

/* ---- input checks shared by fit and embed -------------------------------------------------- */

/* Checks the given arrays against the model and builds the (N, M) presence mask (malloc'd).
 * need_all: every modality must be given (training). */
static int check_inputs(const ima_model *m, const char *what, const float *const *x, const size_t *rows,
                        const size_t *cols, const uint8_t *const *mask, int M, int need_all, size_t *n_out,
                        uint8_t **mask_out) {
    const ima_config *cfg = &m->cfg;
    *mask_out = NULL;
    if (M != cfg->n_modalities)
        return ima_error("%s: %d arrays given, the model has %d modalities", what, M, cfg->n_modalities);
    size_t N = 0;
    int first = -1;
    for (int j = 0; j < M; j++) {
        const char *name = cfg->mod[j].name;
        if (!x[j]) {
            if (need_all)
                return ima_error("%s: modality '%s' is missing: training needs an array for every modality "
                                 "(mark absent rows with its mask)",
                                 what, name);
            if (mask && mask[j]) return ima_error("%s: a mask was given for modality '%s' but no array", what, name);
            continue;
        }
        if (cols[j] != cfg->mod[j].input_width)
            return ima_error("%s: modality '%s': %zu columns, but the model expects width %zu", what, name, cols[j],
                             cfg->mod[j].input_width);
        if (first < 0) {
            first = j;
            N = rows[j];
        } else if (rows[j] != N) {
            return ima_error(
                "%s: modality '%s' has %zu rows, but '%s' has %zu: every modality needs one row per sample", what, name,
                rows[j], cfg->mod[first].name, N);
        }
    }
    if (first < 0) return ima_error("%s: no modality given (at least one array is needed)", what);
    if (N == 0) return ima_error("%s: the arrays have no rows (expected at least one sample)", what);
    for (int j = 0; j < M; j++) {
        if (!x[j]) continue;
        size_t D = cols[j], count;
        if (ima_mul_overflows(N, D, &count))
            return ima_error("%s: modality '%s': %zu x %zu overflows", what, cfg->mod[j].name, N, D);
        for (size_t k = 0; k < count; k++)
            if (!isfinite(x[j][k]))
                return ima_error("%s: modality '%s': row %zu, column %zu: non-finite value %g", what, cfg->mod[j].name,
                                 k / D, k % D, (double)x[j][k]);
        if (mask && mask[j])
            for (size_t i = 0; i < N; i++)
                if (mask[j][i] > 1)
                    return ima_error("%s: mask of '%s': row %zu: value %d, expected 0 (missing) or 1 (present)", what,
                                     cfg->mod[j].name, i, mask[j][i]);
    }
    size_t nm;
    if (ima_mul_overflows(N, (size_t)M, &nm)) return ima_error("%s: %zu rows overflow", what, N);
    uint8_t *pm = malloc(nm);
    if (!pm) return ima_error("%s: out of memory for the (%zu x %d) presence mask", what, N, M);
    for (size_t i = 0; i < N; i++) {
        int any = 0;
        for (int j = 0; j < M; j++) {
            uint8_t p = x[j] ? (mask && mask[j] ? mask[j][i] : 1) : 0;
            pm[i * (size_t)M + (size_t)j] = p;
            any |= p;
        }
        if (!any) {
            free(pm);
            return ima_error("%s: row %zu has every modality missing (at least one must be present)", what, i);
        }
    }
    *n_out = N;
    *mask_out = pm;
    return IMA_OK;
}

/* ---- training ---------------------------------------------------------------------------- */

ima_api_fit_options ima_api_fit_defaults(void) {
    ima_train_config t = ima_train_defaults();
    ima_api_fit_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = t.batch_size;
    o.rounds = t.rounds;
    o.epochs_stage1 = t.epochs_stage1;
    o.epochs_stage2 = t.epochs_stage2;
    o.lr_stage1 = t.adam_stage1.lr;
    o.lr_stage2 = t.adam_stage2.lr;
    return o;
}

typedef struct {
    ima_api_model *h;
    const ima_api_fit_options *opt;
    double values[IMA_API_EPOCH_FIELDS + IMA_API_EPOCH_PER_MODALITY * IMA_MAX_MODALITIES];
} fit_ctx;

static void fit_on_batch(void *vc, const ima_train_state *st, size_t done, size_t total) {
    fit_ctx *c = vc;
    c->opt->on_batch(c->opt->ctx, st->round, st->stage, st->epoch + 1, done, total);
}

static int fit_on_epoch(void *vc, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    fit_ctx *c = vc;
    if (c->opt->checkpoint && ima_checkpoint_save(c->opt->checkpoint, m, &c->h->tc, st)) return -1;
    if (!c->opt->on_epoch) return 0;
    int M = m->cfg.n_modalities;
    double *v = c->values;
    v[0] = r->round, v[1] = r->stage, v[2] = r->epoch, v[3] = r->epochs, v[4] = r->seconds, v[5] = (double)r->samples;
    v[6] = r->stage == 1 ? r->s1.total : r->s2.total;
    v[7] = r->s1.glob;
    for (int j = 0; j < M; j++) {
        double *w = v + IMA_API_EPOCH_FIELDS + IMA_API_EPOCH_PER_MODALITY * j;
        w[0] = r->s1.rec[j], w[1] = r->s1.align[j], w[2] = r->s2.corr[j], w[3] = r->s2.local[j];
        w[4] = r->mean_y[j], w[5] = r->dead[j];
    }
    if (c->opt->on_epoch(c->opt->ctx, v, IMA_API_EPOCH_FIELDS + IMA_API_EPOCH_PER_MODALITY * (size_t)M)) {
        ima_error("fit: stopped by the epoch callback");
        return 1;
    }
    return 0;
}

int ima_api_fit(ima_api_model *h, const float *const *x, const size_t *rows, const size_t *cols,
                const uint8_t *const *mask, int M, const ima_api_fit_options *opt) {
    ima_api_fit_options defaults = ima_api_fit_defaults();
    if (!opt) opt = &defaults;
    if (opt->batch_size < 1) return ima_error("fit: batch_size: expected >= 1, got %zu", opt->batch_size);
    if (opt->rounds < 1 || opt->rounds > 1000) return ima_error("fit: rounds: expected 1..1000, got %d", opt->rounds);
    if (opt->epochs_stage1 < 0 || opt->epochs_stage2 < 0)
        return ima_error("fit: epochs: expected >= 0, got %d and %d", opt->epochs_stage1, opt->epochs_stage2);
    if (!(opt->lr_stage1 > 0 && opt->lr_stage1 <= 1e6) || !(opt->lr_stage2 > 0 && opt->lr_stage2 <= 1e6))
        return ima_error("fit: learning rates: expected values in (0, 1e6], got %g and %g", opt->lr_stage1,
                         opt->lr_stage2);
    if (h->training) return ima_error("fit: the model is already training (fit called from its own callback?)");
    ima_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (check_inputs(h->m, "fit", x, rows, cols, mask, M, 1, &ds.n, &ds.mask)) return IMA_ERR;
    ds.n_modalities = M;
    for (int j = 0; j < M; j++) {
        ds.width[j] = cols[j];
        ds.x[j] = (float *)x[j]; /* read in place: ima_train never writes the data set */
    }
    int rc = IMA_ERR;
    if (ima_dataset_check(&ds, &h->m->cfg, NULL)) {
        ima_error_prefix("fit");
        goto done;
    }
    if (ensure_batch(h, opt->batch_size)) goto done;
    h->tc.batch_size = opt->batch_size;
    h->tc.rounds = opt->rounds;
    h->tc.epochs_stage1 = opt->epochs_stage1;
    h->tc.epochs_stage2 = opt->epochs_stage2;
    h->tc.adam_stage1.lr = (float)opt->lr_stage1;
    h->tc.adam_stage2.lr = (float)opt->lr_stage2;
    if (!h->started) {
        ima_model_fit_center(h->m, &ds);
        h->started = 1;
        /* as ima train: the starting point is on disk before epoch 1 */
        if (opt->checkpoint && ima_checkpoint_save(opt->checkpoint, h->m, &h->tc, &h->st)) goto done;
    } else if (h->st.finished) {
        h->st.finished = 0; /* as ima train --resume with epoch or round flags: train what the new counts add */
    }
    fit_ctx c = {.h = h, .opt = opt};
    ima_train_callbacks cb = {.ctx = &c, .on_batch = opt->on_batch ? fit_on_batch : NULL, .on_epoch = fit_on_epoch};
    h->training = 1;
    int trc = ima_train(h->m, &ds, &h->tc, &h->st, &cb);
    h->training = 0;
    if (trc) goto done;
    if (opt->checkpoint && ima_checkpoint_save(opt->checkpoint, h->m, &h->tc, &h->st)) goto done;
    rc = IMA_OK;
done:
    free(ds.mask); /* the rows belong to the caller */
    return rc;
}

/* ---- inference --------------------------------------------------------------------------- */

int ima_api_embed(ima_api_model *h, const float *const *x, const size_t *rows, const size_t *cols,
                  const uint8_t *const *mask, int M, size_t batch, float *const *u, float *const *y, float *z_weighted,
                  float *z_unweighted) {
    size_t N;
    uint8_t *pm = NULL;
    if (batch < 1) return ima_error("embed: batch: expected >= 1, got %zu", batch);
    if (check_inputs(h->m, "embed", x, rows, cols, mask, M, 0, &N, &pm)) return IMA_ERR;
    if (batch > N) batch = N;
    if (h->training && batch > h->m->max_batch) batch = h->m->max_batch; /* from a fit callback: no regrowth */
    int rc = IMA_ERR;
    float *zero_rows[IMA_MAX_MODALITIES] = {0};
    uint8_t *bmask = NULL;
    if (ensure_batch(h, batch)) goto done;
    ima_model *m = h->m;
    size_t d = m->cfg.latent_width;
    if (!(bmask = malloc(batch * (size_t)M))) {
        ima_error("embed: out of memory");
        goto done;
    }
    for (int j = 0; j < M; j++)
        if (!x[j] && !(zero_rows[j] = calloc(batch, m->cfg.mod[j].input_width * sizeof(float)))) {
            ima_error("embed: out of memory");
            goto done;
        }
    for (size_t lo = 0; lo < N; lo += batch) {
        size_t B = N - lo < batch ? N - lo : batch;
        ima_batch b = {.B = B, .mask = bmask};
        for (int j = 0; j < M; j++) b.x[j] = x[j] ? x[j] + lo * cols[j] : zero_rows[j];
        memcpy(bmask, pm + lo * (size_t)M, B * (size_t)M);
        if (ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE)) { /* the networks run once ... */
            ima_error_prefix("embed");
            goto done;
        }
        if (z_weighted) memcpy(z_weighted + lo * d, m->z, B * d * sizeof(float));
        if (ima_model_fuse(m, &b, IMA_WEIGHTS_ONE)) { /* ... and the unweighted z reuses their u_j */
            ima_error_prefix("embed");
            goto done;
        }
        if (z_unweighted) memcpy(z_unweighted + lo * d, m->z, B * d * sizeof(float));
        for (int j = 0; j < M; j++) {
            if (!x[j]) continue;
            if (u && u[j]) memcpy(u[j] + lo * d, ima_model_u(m, j), B * d * sizeof(float));
            if (y && y[j])
                for (size_t i = 0; i < B; i++)
                    y[j][lo + i] = bmask[i * (size_t)M + (size_t)j] ? m->mod[j].y_imp[i] : 0.0f;
        }
    }
    rc = IMA_OK;
done:
    for (int j = 0; j < M; j++) free(zero_rows[j]);
    free(bmask);
    free(pm);
    return rc;
}

/* ---- evaluation and threads ---------------------------------------------------------------- */

int ima_api_detection(double *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                      double threshold) {
    ima_detection r;
    if (ima_detection_eval(&r, y, noise, mask, N, threshold)) return IMA_ERR;
    double v[IMA_API_DETECTION_FIELDS] = {(double)r.n,
                                          (double)r.n_noise,
                                          r.mean_y,
                                          r.threshold,
                                          (double)r.at_threshold.tp,
                                          (double)r.at_threshold.fp,
                                          (double)r.at_threshold.fn,
                                          (double)r.at_threshold.tn,
                                          r.at_threshold.precision,
                                          r.at_threshold.recall,
                                          r.at_threshold.f1,
                                          r.ranked,
                                          r.auc,
                                          r.best_f1,
                                          r.best_threshold,
                                          0.0};
    memcpy(out, v, sizeof v);
    return IMA_OK;
}

int ima_api_classify(double *test_accuracy, double *chosen_lr, int64_t *pred, const float *train_x,
                     const int64_t *train_y, size_t n_train, const float *valid_x, const int64_t *valid_y,
                     size_t n_valid, const float *test_x, const int64_t *test_y, size_t n_test, size_t D, size_t hidden,
                     int n_hidden_layers, size_t epochs, size_t batch, uint64_t seed) {
    ima_classifier_config cfg = ima_classifier_defaults();
    if (hidden) cfg.hidden = hidden;
    if (n_hidden_layers) cfg.n_hidden_layers = n_hidden_layers;
    if (epochs) cfg.epochs = epochs;
    if (batch) cfg.batch = batch;
    cfg.seed = seed;
    if (n_test == 0) return ima_error("classify: the test split is empty");
    for (size_t i = 0; i < n_test; i++)
        if (test_y[i] < 0)
            return ima_error("classify: test label %lld of row %zu is negative", (long long)test_y[i], i);
    ima_classifier *clf = NULL;
    ima_classifier_report rep;
    if (ima_classifier_fit(&clf, &rep, &cfg, train_x, train_y, n_train, valid_x, valid_y, n_valid, D))
        return ima_error_prefix("classify");
    int64_t *p = pred ? pred : ima_try_malloc(n_test, sizeof *p);
    if (!p || ima_classifier_predict(clf, p, test_x, n_test)) {
        if (!pred) free(p);
        ima_classifier_free(clf);
        return ima_error_prefix("classify: %zu predictions", n_test);
    }
    size_t used;
    *test_accuracy = ima_accuracy(p, test_y, NULL, n_test, &used);
    *chosen_lr = rep.lrs[rep.chosen];
    if (!pred) free(p);
    ima_classifier_free(clf);
    return IMA_OK;
}

void ima_api_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int ima_api_get_threads(void) { return openblas_get_num_threads(); }
