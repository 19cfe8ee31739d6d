/* digits_repro.c: the paper's digits experiments end to end (see repro.h).
 *
 * Data flow, top to bottom:
 *   load splits -> train IMA (latent 2 and 50; stage-2 epoch kept by validation F1) ->
 *   representations (weighted, unweighted, oracle, constant weights, unimodal) ->
 *   retrieval P@K and downstream accuracy -> importance detection -> rho sweep ->
 *   baselines (MVAE, JMVAE-KL, denoising AE) -> t-SNE maps and figures -> report.md, results.json
 *
 * Dimensions: N rows of a split, d latent width, M = 2 modalities (0 image, 1 speech). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/baseline_train.h"
#include "ima/baselines.h"
#include "ima/common.h"
#include "ima/eval.h"
#include "ima/importance.h"
#include "ima/npy.h"
#include "ima/plot.h"
#include "ima/repro.h"
#include "ima/train.h"
#include "ima/tsne.h"
#include "io/atomic.h"

#define N_LATENTS 2
static const size_t LATENTS[N_LATENTS] = {2, 50};

ima_repro_config ima_repro_defaults(int quick) {
    ima_repro_config c;
    memset(&c, 0, sizeof c);
    c.quick = quick;
    c.seed = 1;
    c.batch = 256;
    c.lr = 1e-3;
    c.rho_image = 0.8f;
    c.rho_speech = 0.3f;
    c.lambda_corr = 1.0f;
    c.lambda_local = 1.0f;
    c.with_baselines = 1;
    c.with_ima = 1;
    c.jmvae_alpha = 1.0f;
    c.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    c.compare_objectives = 1;
    /* beyond the paper (docs/importance.md): the weighted z fuses with sigmoid(4 logit y); training and the
     * detection numbers are the paper's fusion's; --fusion-sharpness 1 gives the paper's weighted z */
    c.fusion_sharpness = 4.0f;
    c.rounds = 0; /* auto: see ima_part_run */
    if (quick) { /* small batches: more Adam steps for the same compute on a subsample */
        c.batch = 64;
        c.train_limit = 10000;
        c.eval_limit = 2000;
        c.epochs1 = 10;
        c.epochs2 = 4;
        c.baseline_epochs = 6;
        c.patience = 3;
        c.kl_warmup_epochs = 2;
        c.probe_rows = 1000;
        c.n_rho = 5;
        c.tsne_points = 1000;
        c.classifier_epochs = 10;
    } else {
        c.epochs1 = 40;
        c.epochs2 = 10;
        c.baseline_epochs = 25;
        c.patience = 5;
        c.kl_warmup_epochs = 10;
        c.probe_rows = 2000;
        c.n_rho = 19;
        c.tsne_points = 3000;
        c.classifier_epochs = 10;
    }
    return c;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "repro: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ==== splits ============================================================================== */

typedef struct {
    const char *name;
    ima_dataset ds; // modality 0 image (N, 784), 1 speech (N, 696)
    size_t n;
    int64_t *label;     // (N)
    uint8_t *noise[2];  // (N) image-is-noise, speech-is-noise
    uint8_t *noise_any; // (N) either
    int64_t *recording; // (N) recording id of the speech item, or NULL when the corpus has none
    const ima_local_ev_teacher *teacher; // train split: the local-ev teacher of ds for every IMA training (not owned)
} split_data;

static void split_free(split_data *s) {
    ima_dataset_free(&s->ds);
    free(s->label);
    free(s->noise[0]);
    free(s->noise[1]);
    free(s->noise_any);
    free(s->recording);
    memset(s, 0, sizeof *s);
}

static int read_flags(uint8_t **out, const char *path, size_t n) {
    int64_t *v;
    size_t m;
    if (ima_npy_read_labels(path, &v, &m)) return IMA_ERR;
    if (m != n) {
        free(v);
        return ima_error("%s: %zu rows, expected %zu", path, m, n);
    }
    if (!(*out = ima_try_malloc(n, 1))) {
        free(v);
        return ima_error_prefix("%s", path);
    }
    for (size_t i = 0; i < n; i++) (*out)[i] = v[i] != 0;
    free(v);
    return IMA_OK;
}

/* keeps a seeded random subset of `limit` rows, in their original order; IMA_ERR (s unchanged) when
 * memory runs out */
static int split_subsample(split_data *s, size_t limit, uint64_t seed) {
    if (!limit || limit >= s->n) return IMA_OK;
    size_t N = s->n, *idx = ima_try_malloc(N, sizeof(size_t));
    char *keep = ima_try_calloc(N, 1);
    if (!idx || !keep) {
        free(idx), free(keep);
        return ima_error_prefix("subsample of %zu rows", N);
    }
    for (size_t i = 0; i < N; i++) idx[i] = i;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ima_rng_shuffle(&rng, idx, N);
    for (size_t i = 0; i < limit; i++) keep[idx[i]] = 1;
    size_t k = 0;
    for (size_t i = 0; i < N; i++) {
        if (!keep[i]) continue;
        for (int j = 0; j < 2; j++) {
            size_t D = s->ds.width[j];
            memmove(s->ds.x[j] + k * D, s->ds.x[j] + i * D, D * sizeof(float));
        }
        s->ds.mask[2 * k] = s->ds.mask[2 * i];
        s->ds.mask[2 * k + 1] = s->ds.mask[2 * i + 1];
        s->label[k] = s->label[i];
        s->noise[0][k] = s->noise[0][i];
        s->noise[1][k] = s->noise[1][i];
        if (s->recording) s->recording[k] = s->recording[i];
        k++;
    }
    s->n = s->ds.n = k;
    free(keep);
    free(idx);
    return IMA_OK;
}

static int split_load(split_data *s, const char *dir, const char *name, size_t limit, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->name = name;
    char p[2][4096], lab[4096], fl[4096];
    snprintf(p[0], sizeof p[0], "%s/%s/image.npy", dir, name);
    snprintf(p[1], sizeof p[1], "%s/%s/speech.npy", dir, name);
    const char *paths[2] = {p[0], p[1]};
    if (ima_dataset_load(&s->ds, 2, paths, NULL)) return IMA_ERR;
    s->n = s->ds.n;
    size_t n;
    snprintf(lab, sizeof lab, "%s/%s/label.npy", dir, name);
    if (ima_npy_read_labels(lab, &s->label, &n)) goto fail;
    if (n != s->n) {
        ima_error("%s: %zu labels for %zu pairs", lab, n, s->n);
        goto fail;
    }
    snprintf(fl, sizeof fl, "%s/%s/image_noise.npy", dir, name);
    if (read_flags(&s->noise[0], fl, s->n)) goto fail;
    snprintf(fl, sizeof fl, "%s/%s/speech_noise.npy", dir, name);
    if (read_flags(&s->noise[1], fl, s->n)) goto fail;
    snprintf(fl, sizeof fl, "%s/%s/speech_id.npy", dir, name); /* the recording behind each speech item */
    struct stat st;
    if (stat(fl, &st) == 0) {
        if (ima_npy_read_labels(fl, &s->recording, &n)) goto fail;
        if (n != s->n) {
            ima_error("%s: %zu rows for %zu pairs", fl, n, s->n);
            goto fail;
        }
    }
    if (split_subsample(s, limit, seed)) goto fail;
    if (!(s->noise_any = ima_try_malloc(s->n, 1))) {
        ima_error_prefix("%s/%s", dir, name);
        goto fail;
    }
    for (size_t i = 0; i < s->n; i++) s->noise_any[i] = s->noise[0][i] | s->noise[1][i];
    return IMA_OK;
fail:
    split_free(s);
    return IMA_ERR;
}

/* ==== representations ========================================================================= */

/* What a trained model gives for one split: unimodal codes and importances, every modality present. */
typedef struct {
    size_t n, d;
    float *u[2]; // (N, d)
    float *y[2]; // (N)
    float *w[2]; // (N) the fusion weights when they are not y (fusion_sharpness > 1), else NULL
} codes;

static void codes_free(codes *c) {
    for (int j = 0; j < 2; j++) free(c->u[j]), free(c->y[j]), free(c->w[j]);
    memset(c, 0, sizeof *c);
}

/* the codes of split s; IMA_ERR (c empty) when memory runs out */
static int ima_codes(codes *c, ima_model *m, const split_data *s) {
    size_t d = m->cfg.latent_width, Bmax = m->max_batch;
    memset(c, 0, sizeof *c);
    c->n = s->n;
    c->d = d;
    for (int j = 0; j < 2; j++)
        if (!(c->u[j] = ima_try_malloc(s->n, d * sizeof(float))) || !(c->y[j] = ima_try_malloc(s->n, sizeof(float)))) {
            codes_free(c);
            return ima_error_prefix("codes of the %s split", s->name);
        }
    for (int j = 0; j < 2 && m->cfg.fusion_sharpness > 1; j++)
        if (!(c->w[j] = ima_try_malloc(s->n, sizeof(float)))) {
            codes_free(c);
            return ima_error_prefix("codes of the %s split", s->name);
        }
    for (size_t lo = 0; lo < s->n; lo += Bmax) {
        size_t B = s->n - lo < Bmax ? s->n - lo : Bmax;
        ima_batch b = {.B = B, .mask = NULL};
        for (int j = 0; j < 2; j++) b.x[j] = s->ds.x[j] + lo * s->ds.width[j];
        if (ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE)) {
            codes_free(c);
            return ima_error_prefix("codes of the %s split", s->name);
        }
        for (int j = 0; j < 2; j++) {
            memcpy(c->u[j] + lo * d, ima_model_u(m, j), B * d * sizeof(float));
            memcpy(c->y[j] + lo, m->mod[j].y_imp, B * sizeof(float));
            if (c->w[j]) memcpy(c->w[j] + lo, m->mod[j].y, B * sizeof(float));
        }
    }
    return IMA_OK;
}

/* z_i = (w0 u0 + w1 u1) / (w0 + w1); a row whose weights are both 0 takes the plain mean. NULL (with the
 * error naming the size) when memory runs out. */
static float *fuse(const codes *c, const float *w0, const float *w1, float c0, float c1) {
    size_t n = c->n, d = c->d;
    float *z = ima_try_malloc(n, d * sizeof(float));
    if (!z) return ima_error_prefix("fused codes"), NULL;
    for (size_t i = 0; i < n; i++) {
        float a = w0 ? w0[i] : c0, b = w1 ? w1[i] : c1, S = a + b;
        if (!(S > 0)) a = b = 0.5f, S = 1.0f;
        for (size_t k = 0; k < d; k++) z[i * d + k] = (a * c->u[0][i * d + k] + b * c->u[1][i * d + k]) / S;
    }
    return z;
}

/* the importance-weighted z: fused with the model's fusion weights (w, when fusion_sharpness > 1) or y */
static float *fuse_importance(const codes *c) {
    return fuse(c, c->w[0] ? c->w[0] : c->y[0], c->w[1] ? c->w[1] : c->y[1], 0, 0);
}

/* ==== the validation probe and learning curves ==================================================== */

/* A fixed seeded subsample of the validation split for the per-epoch P@10 (the same rows every epoch). */
typedef struct {
    size_t n;
    float *x[2];    // (n, D_j)
    int64_t *label; // (n)
} probe_set;

static void probe_free(probe_set *p) {
    free(p->x[0]), free(p->x[1]), free(p->label);
    memset(p, 0, sizeof *p);
}

static int probe_make(probe_set *p, const split_data *va, size_t want, uint64_t seed) {
    memset(p, 0, sizeof *p);
    size_t N = va->n, n = want && want < N ? want : N;
    size_t *idx = ima_try_malloc(N, sizeof(size_t));
    p->x[0] = ima_try_malloc(n, va->ds.width[0] * sizeof(float));
    p->x[1] = ima_try_malloc(n, va->ds.width[1] * sizeof(float));
    p->label = ima_try_malloc(n, sizeof(int64_t));
    if (!idx || !p->x[0] || !p->x[1] || !p->label) {
        free(idx), probe_free(p);
        return ima_error_prefix("validation probe");
    }
    for (size_t i = 0; i < N; i++) idx[i] = i;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ima_rng_shuffle(&rng, idx, N);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 2; j++) {
            size_t D = va->ds.width[j];
            memcpy(p->x[j] + i * D, va->ds.x[j] + idx[i] * D, D * sizeof(float));
        }
        p->label[i] = va->label[idx[i]];
    }
    p->n = n;
    free(idx);
    return IMA_OK;
}

/* *out = P@10 of z (n, d) on the probe's labels (exact neighbours, self excluded); NAN where it cannot be
 * measured (too few rows); IMA_ERR only when memory runs out */
static int probe_p10(double *out, const probe_set *p, const float *z, size_t d) {
    size_t hits, nq, ks[1] = {10};
    if (ima_precision_at_k(out, &hits, &nq, z, p->label, NULL, NULL, ks, 1, p->n, d)) {
        if (ima_error_is_oom()) return ima_error_prefix("validation probe");
        *out = NAN;
    }
    return IMA_OK;
}

/* One model's per-epoch learning curve and how long it trained. */
#define LC_COLS 5 /* epoch, training loss, validation loss, validation P@10 (probe), KL warm-up factor */
typedef struct {
    char model[32]; // "MVAE", "IMA stage 1", ...
    size_t latent;
    int cap, patience, epochs_run, best_epoch, stopped;
    double seconds;
    double *row; // (n, LC_COLS)
    int n, cap_rows;
} learning_curve;

static int curve_add(learning_curve *c, double epoch, double train, double valid, double p10, double klw) {
    if (c->n == c->cap_rows) {
        int cap = c->cap_rows ? 2 * c->cap_rows : 32;
        double *r = ima_try_realloc(c->row, (size_t)cap, LC_COLS * sizeof(double));
        if (!r) return ima_error_prefix("learning curve of %s", c->model);
        c->row = r, c->cap_rows = cap;
    }
    double *r = c->row + (size_t)c->n++ * LC_COLS;
    r[0] = epoch, r[1] = train, r[2] = valid, r[3] = p10, r[4] = klw;
    return IMA_OK;
}

/* ==== measures of one representation ============================================================ */

typedef struct {
    char name[96];   // e.g. "IMA weighted z"
    char family[16]; // "IMA", "MVAE", ...
    char view[24];   // "multimodal", "image", "speech"
    size_t latent;
    double p10, p50;                         // every test query
    double p10_img_noise, p10_sp_noise;      // queries restricted to pairs with a noisy image / noisy speech item
    double p10_excl, p50_excl;               // neighbours sharing the query's recording excluded (NAN without ids)
    double acc, acc_img_noise, acc_sp_noise; // downstream MLP, percent
    double chosen_lr;
    double paper_p10, paper_p50, paper_acc; // NAN where the paper gives none
} rep_result;

/* *out = P@K of z on split s; NAN where it cannot be measured (e.g. fewer than K other rows); IMA_ERR only
 * when memory runs out */
static int p_at(double *out, const float *z, const split_data *s, const uint8_t *qmask, const int64_t *group,
                size_t d, size_t K) {
    size_t hits, nq, ks[1] = {K};
    if (ima_precision_at_k(out, &hits, &nq, z, s->label, qmask, group, ks, 1, s->n, d)) {
        if (ima_error_is_oom()) return ima_error_prefix("P@%zu", K);
        *out = NAN;
    }
    return IMA_OK;
}

static int measure(rep_result *r, const float *ztr, const float *zva, const float *zte, size_t d, const split_data *tr,
                   const split_data *va, const split_data *te, const ima_repro_config *cfg) {
    r->p10_excl = r->p50_excl = NAN;
    if (p_at(&r->p10, zte, te, NULL, NULL, d, 10) || p_at(&r->p50, zte, te, NULL, NULL, d, 50) ||
        p_at(&r->p10_img_noise, zte, te, te->noise[0], NULL, d, 10) ||
        p_at(&r->p10_sp_noise, zte, te, te->noise[1], NULL, d, 10) ||
        (te->recording && (p_at(&r->p10_excl, zte, te, NULL, te->recording, d, 10) ||
                           p_at(&r->p50_excl, zte, te, NULL, te->recording, d, 50))))
        return IMA_ERR;
    ima_classifier_config cc = ima_classifier_defaults();
    cc.epochs = (size_t)cfg->classifier_epochs;
    cc.seed = cfg->seed;
    ima_classifier *clf = NULL;
    ima_classifier_report rep;
    if (ima_classifier_fit(&clf, &rep, &cc, ztr, tr->label, tr->n, zva, va->label, va->n, d)) return IMA_ERR;
    int64_t *pred = ima_try_malloc(te->n, sizeof(int64_t));
    if (!pred || ima_classifier_predict(clf, pred, zte, te->n)) {
        free(pred);
        ima_classifier_free(clf);
        return IMA_ERR;
    }
    size_t used;
    r->acc = 100.0 * ima_accuracy(pred, te->label, NULL, te->n, &used);
    r->acc_img_noise = 100.0 * ima_accuracy(pred, te->label, te->noise[0], te->n, &used);
    r->acc_sp_noise = 100.0 * ima_accuracy(pred, te->label, te->noise[1], te->n, &used);
    r->chosen_lr = rep.lrs[rep.chosen];
    free(pred);
    ima_classifier_free(clf);
    return IMA_OK;
}

/* ==== paper numbers (Tables 1 and 5) ============================================================ */

typedef struct {
    const char *family, *view;
    size_t latent;
    double p10, p50, acc;
} paper_row;

static const paper_row PAPER[] = {
    {"IMA", "weighted", 2, 0.8042, 0.7812, 83.88},        {"IMA", "unweighted", 2, 0.7649, 0.7354, 79.88},
    {"IMA", "image", 2, 0.7448, 0.7180, 76.90},           {"IMA", "speech", 2, 0.6180, 0.5750, 62.26},
    {"IMA", "weighted", 50, 0.9489, 0.9326, 96.94},       {"IMA", "unweighted", 50, 0.9414, 0.8988, 96.84},
    {"IMA", "image", 50, 0.8500, 0.8240, 86.92},          {"IMA", "speech", 50, 0.7788, 0.7248, 82.88},
    {"JMVAE-KL", "multimodal", 2, 0.7392, 0.7013, 53.06}, {"JMVAE-KL", "image", 2, 0.6080, 0.5655, NAN},
    {"JMVAE-KL", "speech", 2, 0.6676, 0.6298, NAN},       {"JMVAE-KL", "multimodal", 50, 0.9013, 0.7645, 97.9},
    {"JMVAE-KL", "image", 50, 0.8618, 0.7923, NAN},       {"JMVAE-KL", "speech", 50, 0.8436, 0.7309, NAN},
    {"MVAE", "multimodal", 2, 0.6116, 0.5655, 41.32},     {"MVAE", "image", 2, 0.4638, 0.4090, NAN},
    {"MVAE", "speech", 2, 0.5285, 0.4656, NAN},           {"MVAE", "multimodal", 50, 0.9015, 0.7666, 98.18},
    {"MVAE", "image", 50, 0.8260, 0.7139, NAN},           {"MVAE", "speech", 50, 0.8071, 0.6573, NAN},
};

static void attach_paper(rep_result *r) {
    r->paper_p10 = r->paper_p50 = r->paper_acc = NAN;
    for (size_t k = 0; k < sizeof PAPER / sizeof PAPER[0]; k++)
        if (!strcmp(PAPER[k].family, r->family) && !strcmp(PAPER[k].view, r->view) && PAPER[k].latent == r->latent) {
            r->paper_p10 = PAPER[k].p10;
            r->paper_p50 = PAPER[k].p50;
            r->paper_acc = PAPER[k].acc;
        }
}

/* ==== IMA training with validation-selected stage 2 ================================================ */

#define CURVE_COLS 15 /* stage, total, glob, rec x2, align x2, corr x2, local x2, mean_y x2, dead x2 */

typedef struct {
    const probe_set *probe; // stage-1 monitor: P@10 of the unweighted z on the validation probe
    learning_curve lc;      // stage 1: training and validation L_auto, probe P@10
    double best_f1; // validation mean F1 at 0.5 of the kept stage-2 epoch
    int best_epoch;
    double *curve; // (epochs, CURVE_COLS)
    int n_curve, cap_curve;
    double corr_first[2], local_first[2], corr_last[2], local_last[2];
    int collapsed[2];
    int s1_offset; // stage-1 epochs of the earlier rounds (the curve numbers epochs over all rounds)
} train_watch;

/* The repro's stage-2 selection score (ima_score_fn): the validation noise flags are used for this
 * model selection only. score[0]: mean F1 at y < 0.5 over the modalities; score[1] (ties):
 * mean best-threshold F1. */
static int score_noise_f1(void *ctx, ima_model *m, const ima_dataset *valid, ima_weights weights, double score[2]) {
    (void)weights;
    const split_data *v = ctx;
    float *y[2] = {ima_try_malloc(v->n, sizeof(float)), ima_try_malloc(v->n, sizeof(float))};
    if (!y[0] || !y[1]) {
        free(y[0]), free(y[1]);
        return ima_error_prefix("stage-2 selection score");
    }
    if (ima_model_importances(m, valid, y)) {
        free(y[0]), free(y[1]);
        return ima_error_prefix("stage-2 selection score");
    }
    double f1 = 0, rank = 0;
    int rc = IMA_OK;
    for (int j = 0; j < 2; j++) {
        ima_detection det;
        if (rc == IMA_OK && ima_detection_eval(&det, y[j], v->noise[j], NULL, v->n, 0.5) == 0) {
            f1 += det.at_threshold.f1 / 2;
            rank += (det.ranked ? det.best_f1 : 0) / 2;
        } else if (rc == IMA_OK && ima_error_is_oom()) {
            rc = ima_error_prefix("stage-2 selection score");
        }
        free(y[j]);
    }
    score[0] = f1;
    score[1] = rank;
    return rc;
}

static int watch_epoch(void *vc, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    (void)st, (void)m;
    train_watch *w = vc;
    if (w->n_curve == w->cap_curve) {
        int cap = w->cap_curve ? 2 * w->cap_curve : 64;
        double *c = ima_try_realloc(w->curve, (size_t)cap, CURVE_COLS * sizeof(double));
        if (!c) return ima_error_prefix("loss curve"), -1; /* w->curve is still valid (ima_part_free) */
        w->curve = c, w->cap_curve = cap;
    }
    double *row = w->curve + (size_t)w->n_curve++ * CURVE_COLS;
    row[0] = r->stage;
    row[1] = r->stage == 1 ? r->s1.total : r->s2.total;
    row[2] = r->s1.glob;
    for (int j = 0; j < 2; j++) {
        row[3 + j] = r->s1.rec[j];
        row[5 + j] = r->s1.align[j];
        row[7 + j] = r->s2.corr[j];
        row[9 + j] = r->s2.local[j];
        row[11 + j] = r->mean_y[j];
        row[13 + j] = r->dead[j];
    }
    if (r->stage == 1) {
        if (r->epoch == 1) w->s1_offset = w->lc.n; /* a new round starts */
        if (curve_add(&w->lc, w->s1_offset + r->epoch, r->s1.total, r->valid_loss, r->monitor, 1.0)) return -1;
        w->lc.epochs_run = w->s1_offset + r->epoch;
        w->lc.best_epoch = w->s1_offset + r->best_epoch;
        w->lc.stopped = r->stop;
        if (isfinite(r->valid_loss))
            say("  stage 1 epoch %d/%d: L_auto %.3f, validation L_auto %.3f, validation P@10 %.4f (best epoch %d)%s",
                r->epoch, r->epochs, r->s1.total, r->valid_loss, r->monitor, r->best_epoch,
                r->stop ? "; early stop" : "");
        if (r->epoch == r->epochs || r->epoch == 1 || r->stop)
            say("  stage 1 epoch %d/%d: L_auto %.3f (rec %.2f / %.2f, align %.4f / %.4f, glob %.4f), dead units %.0f%% / "
                "%.0f%%, %.1fs",
                r->epoch, r->epochs, r->s1.total, r->s1.rec[0], r->s1.rec[1], r->s1.align[0], r->s1.align[1],
                r->s1.glob, 100 * r->dead[0], 100 * r->dead[1], r->seconds);
        return 0;
    }
    for (int j = 0; j < 2; j++) {
        if (r->epoch == 1) w->corr_first[j] = r->s2.corr[j], w->local_first[j] = r->s2.local[j];
        w->corr_last[j] = r->s2.corr[j];
        w->local_last[j] = r->s2.local[j];
        if (r->collapse[j]) w->collapsed[j] = 1;
    }
    w->best_epoch = r->best_epoch;
    if (r->best_epoch == r->epoch) w->best_f1 = r->score[0];
    say("  stage 2 epoch %d/%d: L_imp %.4g (corr %.3g / %.3g, local %.3g / %.3g), mean y %.3f / %.3f, validation F1@0.5 "
        "%.3f, best-threshold F1 %.3f",
        r->epoch, r->epochs, r->s2.total, r->s2.corr[0], r->s2.corr[1], r->s2.local[0], r->s2.local[1], r->mean_y[0],
        r->mean_y[1], r->score[0], r->score[1]);
    return 0;
}

/* the stage-1 monitor (ima_train_callbacks.monitor): P@10 of the unweighted z on the validation probe */
static int ima_probe_monitor(void *ctx, ima_model *m, double *value) {
    const train_watch *w = ctx;
    const probe_set *p = w->probe;
    size_t d = m->cfg.latent_width, Bmax = m->max_batch;
    float *z = ima_try_malloc(p->n, d * sizeof(float));
    if (!z) return ima_error_prefix("validation probe");
    for (size_t lo = 0; lo < p->n; lo += Bmax) {
        size_t B = p->n - lo < Bmax ? p->n - lo : Bmax;
        ima_batch b = {.B = B, .mask = NULL};
        for (int j = 0; j < 2; j++) b.x[j] = p->x[j] + lo * m->cfg.mod[j].input_width;
        if (ima_model_encode(m, &b, IMA_WEIGHTS_ONE)) {
            free(z);
            return ima_error_prefix("validation probe");
        }
        for (size_t i = 0; i < B * d; i++) z[lo * d + i] = 0.5f * (ima_model_u(m, 0)[i] + ima_model_u(m, 1)[i]);
    }
    int rc = probe_p10(value, p, z, d);
    free(z);
    return rc;
}

/* training hooks: the watch above, stage-1 early stopping with the probe as monitor, and stage-2
 * selection on the validation split by score_noise_f1 */
static ima_train_callbacks watch_callbacks(train_watch *w, const split_data *valid) {
    ima_train_callbacks cb = {.ctx = w,
                              .on_epoch = watch_epoch,
                              .valid = &valid->ds,
                              .score = score_noise_f1,
                              .score_ctx = (void *)valid,
                              .monitor = w->probe ? ima_probe_monitor : NULL};
    return cb;
}

static ima_config digits_config(size_t latent, const ima_repro_config *cfg, float rho_i, float rho_s) {
    ima_config c = ima_config_digits(latent);
    c.importance_objective = (ima_importance_objective)cfg->importance_objective;
    c.fusion_sharpness = cfg->fusion_sharpness;
    c.mod[0].rho = rho_i;
    c.mod[1].rho = rho_s;
    for (int j = 0; j < 2; j++) c.mod[j].lambda_corr = cfg->lambda_corr, c.mod[j].lambda_local = cfg->lambda_local;
    return c;
}

/* Trains stage 2 only (epochs_stage1 = 0) from freshly initialised importance nets. */
static int retrain_stage2(ima_model *m, const split_data *tr, const split_data *va, const ima_repro_config *cfg,
                          train_watch *w, uint64_t seed) {
    ima_model_importance_reset(m, seed);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = cfg->batch;
    tc.epochs_stage1 = 0;
    tc.epochs_stage2 = cfg->epochs2;
    tc.adam_stage2.lr = (float)cfg->lr;
    ima_train_state st;
    ima_train_state_init(&st, seed + 1);
    w->best_epoch = 0;
    ima_train_callbacks cb = watch_callbacks(w, va);
    cb.teacher = tr->teacher;
    return ima_train(m, &tr->ds, &tc, &st, &cb);
}

/* The local-ev teacher of the training split into t (kept when t was built from this split and k) and
 * tr->teacher = t: the k-NN of the teacher runs once for every IMA training of the run (and of the seeds
 * that share the split), not once per training. */
static int teacher_ready(ima_local_ev_teacher *t, split_data *tr, const ima_repro_config *cfg) {
    size_t k = digits_config(LATENTS[0], cfg, cfg->rho_image, cfg->rho_speech).local_ev_k;
    if (t->N && ima_local_ev_teacher_check(t, &tr->ds, k) == IMA_OK) {
        say("local-ev teacher: reusing the one built for this training split");
    } else {
        ima_clear_error();
        ima_local_ev_teacher_free(t);
        if (ima_local_ev_teacher_build(t, &tr->ds, k)) return ima_error_prefix("repro: %s split", tr->name);
        say("local-ev teacher: built in %.0f s (CPU %.0f s) for %zu pairs", t->seconds, t->cpu_seconds, tr->n);
    }
    tr->teacher = t;
    return IMA_OK;
}

/* ==== the IMA part for one latent width ============================================================ */

typedef struct {
    size_t latent;
    ima_model *m;
    train_watch w;
    double seconds;
    codes c[3];           // train, valid, test
    ima_detection det[2]; // test importances against the noise flags
    int has_alt;          // the other objective's stage 2 on the same stage-1 model (compare_objectives)
    train_watch w_alt;
    codes c_alt[3];
    ima_detection det_alt[2];
    double const_weight; // image weight of the constant-weights control (chosen on validation P@10)
} ima_part;

static int ima_part_run(ima_part *p, size_t latent, split_data *sp, const probe_set *probe,
                        const ima_repro_config *cfg) {
    memset(p, 0, sizeof *p);
    p->latent = latent;
    p->w.probe = probe;
    snprintf(p->w.lc.model, sizeof p->w.lc.model, "IMA stage 1");
    p->w.lc.latent = latent;
    p->w.lc.cap = cfg->epochs1;
    p->w.lc.patience = cfg->patience;
    ima_config mc = digits_config(latent, cfg, cfg->rho_image, cfg->rho_speech);
    if (ima_model_init(&p->m, &mc, cfg->batch, cfg->seed + latent)) return IMA_ERR;
    if (ima_model_fit_center(p->m, &sp[0].ds)) return ima_error_prefix("IMA latent %zu", latent);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = cfg->batch;
    tc.epochs_stage1 = cfg->epochs1;
    tc.epochs_stage2 = cfg->epochs2;
    tc.rounds = cfg->rounds > 1 ? cfg->rounds : 1;
    if (cfg->rounds <= 0 && latent <= 2 && cfg->importance_objective == IMA_IMPORTANCE_LOCAL_EV) {
        /* auto: at latent 2 the codes of one round lose to y = 1 even with oracle weights; a second round
         * (stage 1 retrained with y) fixes that (docs/importance.md). Half the stage-1 epochs per round:
         * the same cost as one round */
        tc.rounds = 2;
        tc.epochs_stage1 = (cfg->epochs1 + 1) / 2;
    }
    tc.patience_stage1 = cfg->patience;
    tc.adam_stage1.lr = tc.adam_stage2.lr = (float)cfg->lr;
    ima_train_state st;
    ima_train_state_init(&st, cfg->seed + 100 + latent);
    ima_train_callbacks cb = watch_callbacks(&p->w, &sp[1]);
    cb.teacher = sp[0].teacher;
    say("IMA latent %zu: training %d round%s of %d + %d epochs on %zu pairs", latent, tc.rounds, tc.rounds > 1 ? "s" : "",
        tc.epochs_stage1, cfg->epochs2, sp[0].n);
    double t0 = ima_wall_seconds();
    if (ima_train(p->m, &sp[0].ds, &tc, &st, &cb)) return ima_error_prefix("IMA latent %zu", latent);
    p->seconds = ima_wall_seconds() - t0;
    p->w.lc.seconds = p->seconds;
    say("IMA latent %zu: trained in %.0fs; stage 1 ran %d epochs, kept epoch %d; stage-2 epoch %d kept (validation "
        "F1@0.5 %.3f)",
        latent, p->seconds, p->w.lc.epochs_run, p->w.lc.best_epoch, p->w.best_epoch, p->w.best_f1);
    for (int s = 0; s < 3; s++)
        if (ima_codes(&p->c[s], p->m, &sp[s])) return ima_error_prefix("IMA latent %zu", latent);
    for (int j = 0; j < 2; j++)
        if (ima_detection_eval(&p->det[j], p->c[2].y[j], sp[2].noise[j], NULL, sp[2].n, 0.5)) return IMA_ERR;
    if (cfg->compare_objectives && cfg->epochs2 > 0) { /* the other objective, stage 2 only, same stage 1 */
        ima_importance_objective main_obj = p->m->cfg.importance_objective;
        ima_importance_objective alt =
            main_obj == IMA_IMPORTANCE_PAPER ? IMA_IMPORTANCE_LOCAL_EV : IMA_IMPORTANCE_PAPER;
        float *keep = ima_try_malloc(p->m->n_params_imp, sizeof(float));
        if (!keep) return ima_error_prefix("IMA latent %zu: importance snapshot", latent);
        ima_model_importance_snapshot(p->m, keep);
        p->m->cfg.importance_objective = alt;
        say("IMA latent %zu: stage 2 again with the %s objective on the same stage-1 model", latent,
            ima_importance_objective_name(alt));
        int rc = retrain_stage2(p->m, &sp[0], &sp[1], cfg, &p->w_alt, cfg->seed + 500 + latent);
        for (int s = 0; s < 3 && rc == IMA_OK; s++) rc = ima_codes(&p->c_alt[s], p->m, &sp[s]);
        if (rc == IMA_OK) {
            p->has_alt = 1;
            for (int j = 0; j < 2 && rc == IMA_OK; j++)
                rc = ima_detection_eval(&p->det_alt[j], p->c_alt[2].y[j], sp[2].noise[j], NULL, sp[2].n, 0.5);
        }
        p->m->cfg.importance_objective = main_obj;
        ima_model_importance_restore(p->m, keep);
        free(keep);
        if (rc) return ima_error_prefix("IMA latent %zu, %s objective", latent, ima_importance_objective_name(alt));
    }
    return IMA_OK;
}

static void ima_part_free(ima_part *p) {
    ima_model_free(p->m);
    free(p->w.curve);
    free(p->w.lc.row);
    free(p->w_alt.curve);
    for (int s = 0; s < 3; s++) codes_free(&p->c[s]), codes_free(&p->c_alt[s]);
}

/* the representations of one IMA model, measured */
static int ima_part_measure(ima_part *p, split_data *sp, const ima_repro_config *cfg, rep_result *out, int *n_out) {
    size_t d = p->latent;
    /* constant weights: the image weight from a grid, chosen by validation P@10 */
    double best = -1;
    for (int k = 1; k <= 9; k++) {
        float a = 0.1f * (float)k;
        float *zv = fuse(&p->c[1], NULL, NULL, a, 1 - a);
        if (!zv) return IMA_ERR;
        double v;
        int rc = p_at(&v, zv, &sp[1], NULL, NULL, d, 10);
        free(zv);
        if (rc) return IMA_ERR;
        if (v > best) best = v, p->const_weight = a;
    }
    enum { W_IMP, W_ONE, W_ORACLE, W_CONST, W_IMAGE, W_SPEECH, N_KINDS };
    const char *names[N_KINDS] = {"IMA weighted z",
                                  "IMA unweighted z (y = 1)",
                                  "IMA oracle weights (y = 0 on noise)",
                                  "IMA constant weights",
                                  "IMA unimodal image u",
                                  "IMA unimodal speech u"};
    const char *views[N_KINDS] = {"weighted", "unweighted", "oracle", "constant", "image", "speech"};
    for (int k = 0; k < N_KINDS; k++) {
        float *z[3] = {NULL, NULL, NULL};
        int ok = 1;
        for (int s = 0; s < 3 && ok; s++) {
            codes *c = &p->c[s];
            float *orc[2] = {NULL, NULL};
            switch (k) {
            case W_IMP: z[s] = fuse_importance(c); break;
            case W_ONE: z[s] = fuse(c, NULL, NULL, 1, 1); break;
            case W_ORACLE:
                for (int j = 0; j < 2; j++) {
                    if (!(orc[j] = ima_try_malloc(c->n, sizeof(float)))) break;
                    for (size_t i = 0; i < c->n; i++) orc[j][i] = sp[s].noise[j][i] ? 0.0f : 1.0f;
                }
                if (orc[0] && orc[1]) z[s] = fuse(c, orc[0], orc[1], 0, 0);
                else ima_error_prefix("oracle weights");
                free(orc[0]), free(orc[1]);
                break;
            case W_CONST: z[s] = fuse(c, NULL, NULL, (float)p->const_weight, 1 - (float)p->const_weight); break;
            case W_IMAGE: z[s] = fuse(c, NULL, NULL, 1, 0); break;
            default: z[s] = fuse(c, NULL, NULL, 0, 1); break;
            }
            ok = z[s] != NULL;
        }
        if (!ok) {
            for (int s = 0; s < 3; s++) free(z[s]);
            return ima_error_prefix("IMA latent %zu, %s", d, names[k]);
        }
        rep_result *r = &out[(*n_out)++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", names[k]);
        if (k == W_CONST) snprintf(r->name, sizeof r->name, "IMA constant weights (image %.1f)", p->const_weight);
        snprintf(r->family, sizeof r->family, "IMA");
        snprintf(r->view, sizeof r->view, "%s", views[k]);
        r->latent = d;
        int rc = measure(r, z[0], z[1], z[2], d, &sp[0], &sp[1], &sp[2], cfg);
        attach_paper(r);
        for (int s = 0; s < 3; s++) free(z[s]);
        if (rc) return IMA_ERR;
        say("  %-44s latent %2zu: P@10 %.4f  P@50 %.4f  accuracy %.2f%%", r->name, d, r->p10, r->p50, r->acc);
    }
    if (p->has_alt) { /* the other objective's weighted z */
        int paper_alt = p->m->cfg.importance_objective != IMA_IMPORTANCE_PAPER;
        float *z[3] = {NULL, NULL, NULL};
        int ok = 1;
        /* the paper's objective is reported as the paper has it: fused with y, whatever --fusion-sharpness */
        for (int s = 0; s < 3 && ok; s++)
            ok = (z[s] = paper_alt ? fuse(&p->c_alt[s], p->c_alt[s].y[0], p->c_alt[s].y[1], 0, 0)
                                   : fuse_importance(&p->c_alt[s])) != NULL;
        if (!ok) {
            for (int s = 0; s < 3; s++) free(z[s]);
            return ima_error_prefix("IMA latent %zu, the other objective's weighted z", d);
        }
        rep_result *r = &out[(*n_out)++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s",
                 paper_alt ? "IMA weighted z, paper's objective" : "IMA weighted z, local-ev objective");
        snprintf(r->family, sizeof r->family, "IMA");
        snprintf(r->view, sizeof r->view, "%s", paper_alt ? "weighted-paper" : "weighted-local-ev");
        r->latent = d;
        int rc = measure(r, z[0], z[1], z[2], d, &sp[0], &sp[1], &sp[2], cfg);
        r->paper_p10 = r->paper_p50 = r->paper_acc = NAN;
        for (int s = 0; s < 3; s++) free(z[s]);
        if (rc) return IMA_ERR;
        say("  %-44s latent %2zu: P@10 %.4f  P@50 %.4f  accuracy %.2f%%", r->name, d, r->p10, r->p50, r->acc);
    }
    return IMA_OK;
}

/* ==== the rho sweep (Figure 6) ===================================================================== */

typedef struct {
    double rho;
    ima_detection det[2];
    int has_alt;
    ima_detection det_alt[2]; // the other objective (compare_objectives)
} rho_point;

static int rho_sweep(rho_point *pts, int n, ima_part *p, split_data *sp, const ima_repro_config *cfg) {
    float *keep = ima_try_malloc(p->m->n_params_imp, sizeof(float));
    if (!keep) return ima_error_prefix("rho sweep: importance snapshot");
    ima_model_importance_snapshot(p->m, keep);
    float rho0[2] = {p->m->cfg.mod[0].rho, p->m->cfg.mod[1].rho};
    train_watch w;
    memset(&w, 0, sizeof w);
    int rc = IMA_OK;
    for (int k = 0; k < n && rc == IMA_OK; k++) {
        double rho = n == 1 ? 0.5 : 0.05 + 0.9 * k / (n - 1);
        pts[k].rho = rho;
        for (int j = 0; j < 2 && rc == IMA_OK; j++) rc = ima_model_set_rho(p->m, j, (float)rho);
        say("rho sweep %d/%d: rho = %.3f (stage 2 retrained on the latent-%zu stage-1 model)", k + 1, n, rho,
            p->latent);
        ima_importance_objective main_obj = p->m->cfg.importance_objective;
        for (int alt = 0; alt <= (cfg->compare_objectives ? 1 : 0) && rc == IMA_OK; alt++) {
            if (alt)
                p->m->cfg.importance_objective =
                    main_obj == IMA_IMPORTANCE_PAPER ? IMA_IMPORTANCE_LOCAL_EV : IMA_IMPORTANCE_PAPER;
            if (rc || (rc = retrain_stage2(p->m, &sp[0], &sp[1], cfg, &w, cfg->seed + 1000 + (uint64_t)k))) break;
            codes c;
            if ((rc = ima_codes(&c, p->m, &sp[2]))) break;
            for (int j = 0; j < 2 && rc == IMA_OK; j++)
                rc = ima_detection_eval(alt ? &pts[k].det_alt[j] : &pts[k].det[j], c.y[j], sp[2].noise[j], NULL,
                                        sp[2].n, 0.5);
            pts[k].has_alt = alt;
            codes_free(&c);
        }
        p->m->cfg.importance_objective = main_obj;
    }
    ima_model_importance_restore(p->m, keep);
    for (int j = 0; j < 2; j++) ima_model_set_rho(p->m, j, rho0[j]);
    free(keep);
    free(w.curve);
    return rc;
}

/* ==== baselines ======================================================================================= */

/* the baseline's per-epoch hooks: the probe monitor, the learning curve, a progress line */
typedef struct {
    const probe_set *probe;
    learning_curve *lc;
    size_t batch;
} baseline_watch;

static int baseline_monitor(void *ctx, ima_baseline *bl, double *value) {
    const baseline_watch *w = ctx;
    const probe_set *p = w->probe;
    size_t d = bl->cfg.latent_width;
    float *z = ima_try_malloc(p->n, d * sizeof(float));
    if (!z) return ima_error_prefix("validation probe");
    for (size_t lo = 0; lo < p->n; lo += w->batch) {
        size_t B = p->n - lo < w->batch ? p->n - lo : w->batch;
        ima_batch b = {.B = B, .mask = NULL};
        for (int j = 0; j < 2; j++) b.x[j] = p->x[j] + lo * bl->cfg.mod[j].input_width;
        if (ima_baseline_represent(bl, &b, z + lo * d)) {
            free(z);
            return ima_error_prefix("validation probe");
        }
    }
    int rc = probe_p10(value, p, z, d);
    free(z);
    return rc;
}

static int baseline_epoch_say(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                              const ima_baseline_epoch_report *r) {
    (void)bl, (void)st;
    baseline_watch *w = ctx;
    if (curve_add(w->lc, r->epoch, r->terms.total, r->validated ? r->valid.total : NAN, r->monitor, r->kl_weight))
        return -1;
    w->lc->epochs_run = r->epoch;
    w->lc->best_epoch = r->best_epoch;
    w->lc->stopped = r->stop;
    say("  epoch %d/%d: loss %.3f (KL weight %.2f), validation loss %.3f, validation P@10 %.4f, best epoch %d, %.1fs%s",
        r->epoch, r->epochs, r->terms.total, r->kl_weight, r->validated ? r->valid.total : NAN, r->monitor,
        r->best_epoch, r->seconds, r->stop ? "; early stop" : "");
    return 0;
}

static const char *baseline_family(ima_baseline_kind kind) {
    return kind == IMA_BASELINE_MVAE ? "MVAE" : kind == IMA_BASELINE_JMVAE ? "JMVAE-KL" : "DAE";
}

static int baseline_run(ima_baseline_kind kind, size_t latent, split_data *sp, const probe_set *probe,
                        const ima_repro_config *cfg, rep_result *out, int *n_out, learning_curve *lc) {
    ima_baseline_config bc = ima_baseline_config_digits(kind, latent);
    if (kind == IMA_BASELINE_JMVAE) bc.alpha = cfg->jmvae_alpha;
    ima_baseline *bl = NULL;
    if (ima_baseline_init(&bl, &bc, cfg->batch, cfg->seed + 7 * latent + (uint64_t)kind)) return IMA_ERR;
    const char *fam = baseline_family(kind);
    /* the library loop: seeded shuffling, noise before every step, Adam, a non-finite check, KL warm-up,
     * validation loss and early stopping with the best epoch kept */
    ima_baseline_train_config tc = ima_baseline_train_defaults();
    tc.batch_size = cfg->batch;
    tc.epochs = cfg->baseline_epochs;
    tc.adam.lr = (float)cfg->lr;
    tc.patience = cfg->patience;
    tc.kl_warmup_epochs = kind == IMA_BASELINE_DAE ? 0 : cfg->kl_warmup_epochs; /* the DAE has no KL term */
    snprintf(lc->model, sizeof lc->model, "%s", fam);
    lc->latent = latent;
    lc->cap = tc.epochs;
    lc->patience = tc.patience;
    say("%s latent %zu: training up to %d epochs (patience %d, KL warm-up %d epochs, alpha %g)", fam, latent, tc.epochs,
        tc.patience, tc.kl_warmup_epochs, (double)bc.alpha);
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, cfg->seed + 31 * latent + (uint64_t)kind);
    baseline_watch bw = {probe, lc, cfg->batch};
    ima_baseline_train_callbacks cb = {.ctx = &bw,
                                       .on_epoch = baseline_epoch_say,
                                       .valid = &sp[1].ds,
                                       .monitor = baseline_monitor};
    double t0 = ima_wall_seconds();
    int rc = ima_baseline_train(bl, &sp[0].ds, &tc, &st, &cb);
    if (rc != IMA_OK) ima_error_prefix("%s latent %zu", fam, latent);
    lc->seconds = ima_wall_seconds() - t0;
    if (rc == IMA_OK)
        say("%s latent %zu: %d epochs in %.0fs, kept epoch %d%s", fam, latent, lc->epochs_run, lc->seconds,
            lc->best_epoch, lc->stopped ? " (early stop)" : "");
    /* representations: multimodal, image only, speech only */
    const char *views[3] = {"multimodal", "image", "speech"};
    for (int v = 0; v < 3 && rc == IMA_OK; v++) {
        float *z[3] = {NULL, NULL, NULL};
        for (int s = 0; s < 3 && rc == IMA_OK; s++) {
            size_t n = sp[s].n;
            uint8_t *mask = ima_try_malloc(cfg->batch, 2);
            if (!mask || !(z[s] = ima_try_malloc(n, latent * sizeof(float)))) rc = IMA_ERR;
            for (size_t lo = 0; lo < n && rc == IMA_OK; lo += cfg->batch) {
                size_t B = n - lo < cfg->batch ? n - lo : cfg->batch;
                for (size_t i = 0; i < B; i++) mask[2 * i] = v != 2, mask[2 * i + 1] = v != 1;
                ima_batch b = {.B = B, .mask = mask};
                for (int j = 0; j < 2; j++) b.x[j] = sp[s].ds.x[j] + lo * sp[s].ds.width[j];
                rc = ima_baseline_represent(bl, &b, z[s] + lo * latent);
            }
            free(mask);
        }
        if (rc) {
            for (int s = 0; s < 3; s++) free(z[s]);
            ima_error_prefix("%s latent %zu, %s representation", fam, latent, views[v]);
            break;
        }
        rep_result *r = &out[(*n_out)++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s %s", fam, views[v]);
        snprintf(r->family, sizeof r->family, "%s", fam);
        snprintf(r->view, sizeof r->view, "%s", views[v]);
        r->latent = latent;
        rc = measure(r, z[0], z[1], z[2], latent, &sp[0], &sp[1], &sp[2], cfg);
        attach_paper(r);
        for (int s = 0; s < 3; s++) free(z[s]);
        if (rc == IMA_OK)
            say("  %-44s latent %2zu: P@10 %.4f  P@50 %.4f  accuracy %.2f%%", r->name, latent, r->p10, r->p50, r->acc);
    }
    ima_baseline_free(bl);
    return rc;
}

/* ==== figures ========================================================================================= */

/* "DIR/NAME", or NULL (with an error) when memory runs out */
static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = ima_try_malloc(n, 1);
    if (!p) return ima_error_prefix("%s/%s", dir, name), NULL;
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* a seeded subset of test rows for the maps; NULL (with an error) when memory runs out */
static size_t *map_rows(size_t n, size_t want, uint64_t seed, size_t *count) {
    size_t *idx = ima_try_malloc(n, sizeof(size_t));
    if (!idx) return ima_error_prefix("map rows"), NULL;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ima_rng_shuffle(&rng, idx, n);
    *count = want && want < n ? want : n;
    return idx;
}

static int tsne_map(float *Y, const float *X, const size_t *rows, size_t n, size_t d, uint64_t seed) {
    float *sub = ima_try_malloc(n, d * sizeof(float));
    if (!sub) return ima_error_prefix("t-SNE map");
    for (size_t i = 0; i < n; i++) memcpy(sub + i * d, X + rows[i] * d, d * sizeof(float));
    int rc;
    if (d == 2) {
        memcpy(Y, sub, n * 2 * sizeof(float)); /* a 2-D code is its own map */
        rc = IMA_OK;
    } else {
        ima_tsne_config tc = ima_tsne_defaults();
        tc.seed = seed;
        ima_tsne_result res;
        rc = ima_tsne_run(Y, &res, sub, n, d, &tc);
    }
    free(sub);
    return rc;
}

typedef struct {
    char file[64];
    char caption[160];
} figure;

static int make_figures(const char *out, ima_part *parts, int n_parts, split_data *te, rho_point *rho, int n_rho,
                        const ima_repro_config *cfg, figure *figs, int *n_figs) {
    if (!ima_plot_available()) {
        say("gnuplot is not available: no figures (install gnuplot-nox)");
        return IMA_OK;
    }
    size_t nm = 0, *rows = map_rows(te->n, cfg->tsne_points, cfg->seed + 5, &nm);
    int64_t *lab = ima_try_malloc(nm, sizeof(int64_t));
    uint8_t *noise[2] = {ima_try_malloc(nm, 1), ima_try_malloc(nm, 1)}, *any = ima_try_malloc(nm, 1);
    float *Y = ima_try_malloc(nm, 2 * sizeof(float)), *val = ima_try_malloc(nm, sizeof(float));
    int rc = IMA_OK;
    if (!rows || !lab || !noise[0] || !noise[1] || !any || !Y || !val) rc = ima_error_prefix("figures");
    for (size_t i = 0; i < nm && rc == IMA_OK; i++) {
        lab[i] = te->label[rows[i]], noise[0][i] = te->noise[0][rows[i]], noise[1][i] = te->noise[1][rows[i]];
        any[i] = noise[0][i] | noise[1][i];
    }
    for (int L = 0; L < n_parts && rc == IMA_OK; L++) {
        ima_part *p = &parts[L];
        size_t d = p->latent;
        codes *c = &p->c[2];
        float *zw = fuse_importance(c), *zu = fuse(c, NULL, NULL, 1, 1);
        if (!zw || !zu) {
            free(zw), free(zu);
            rc = ima_error_prefix("figures, latent %zu", d);
            break;
        }
        struct {
            const float *X;
            const char *tag, *what;
            int by_imp; /* -1: colour by label; j: colour by the importance of modality j */
            const uint8_t *grey;
        } maps[5] = {
            {zw, "z_weighted_label", "weighted multimodal z, coloured by digit (noisy pairs grey)", -1, NULL},
            {zu, "z_unweighted_label", "unweighted multimodal z, coloured by digit (noisy pairs grey)", -1, NULL},
            {c->u[0], "u_image_label", "image code u_image, coloured by digit (noise images grey)", -1, noise[0]},
            {c->u[0], "u_image_importance", "image code u_image, coloured by image importance y", 0, NULL},
            {c->u[1], "u_speech_importance", "speech code u_speech, coloured by speech importance y", 1, NULL},
        };
        for (int k = 0; k < 5 && rc == IMA_OK; k++) {
            say("figures: %s map of %s (latent %zu, %zu test points)", d == 2 ? "direct" : "t-SNE", maps[k].tag, d, nm);
            if ((rc = tsne_map(Y, maps[k].X, rows, nm, d, cfg->seed + 11))) break;
            figure *f = &figs[(*n_figs)++];
            snprintf(f->file, sizeof f->file, "fig_%s_%zud.png", maps[k].tag, d);
            snprintf(f->caption, sizeof f->caption, "%s%s, latent %zu", d == 2 ? "" : "t-SNE (perplexity 10) of the ",
                     maps[k].what, d);
            char *png = path_in(out, f->file);
            if (!png) {
                rc = IMA_ERR;
                break;
            }
            ima_plot_style st = {.title = f->caption, .xlabel = NULL, .ylabel = NULL};
            if (maps[k].by_imp < 0) {
                rc = ima_plot_scatter_labels(png, Y, lab, maps[k].grey ? maps[k].grey : any, nm, &st);
            } else {
                for (size_t i = 0; i < nm; i++) val[i] = c->y[maps[k].by_imp][rows[i]];
                rc = ima_plot_scatter_values(png, Y, val, nm, "importance y", &st);
            }
            free(png);
        }
        free(zw);
        free(zu);
        /* training curves: every loss term against epoch (stage 1 and stage 2 separately) */
        for (int stage = 1; stage <= 2 && rc == IMA_OK; stage++) {
            int P = 0;
            for (int e = 0; e < p->w.n_curve; e++) P += p->w.curve[e * CURVE_COLS] == stage;
            if (P == 0) continue;
            const char *n1[5] = {"L_auto", "glob", "rec image", "rec speech", "align (image = speech)"};
            const char *n2[5] = {"L_imp", "corr image", "corr speech", "local image", "local speech"};
            int cols1[5] = {1, 2, 3, 4, 5}, cols2[5] = {1, 7, 8, 9, 10};
            double *x = ima_try_malloc((size_t)P, sizeof(double)), *ys = ima_try_malloc(5 * (size_t)P, sizeof(double));
            char *png = NULL;
            figure *f = &figs[*n_figs];
            snprintf(f->file, sizeof f->file, "fig_curves_stage%d_%zud.png", stage, d);
            if (!x || !ys || !(png = path_in(out, f->file))) {
                free(x), free(ys);
                rc = ima_error_prefix("stage-%d loss curves, latent %zu", stage, d);
                break;
            }
            (*n_figs)++;
            int q = 0;
            for (int e = 0; e < p->w.n_curve; e++) {
                const double *row = p->w.curve + e * CURVE_COLS;
                if (row[0] != stage) continue;
                x[q] = q + 1;
                for (int s = 0; s < 5; s++) ys[s * P + q] = row[stage == 1 ? cols1[s] : cols2[s]];
                q++;
            }
            snprintf(f->caption, sizeof f->caption, "stage-%d loss terms per epoch (training split), latent %zu", stage,
                     d);
            ima_plot_style st = {.title = f->caption, .xlabel = "epoch", .ylabel = "loss (log scale)", .log_y = 1};
            rc = ima_plot_lines(png, x, ys, stage == 1 ? n1 : n2, 5, (size_t)P, &st);
            free(png);
            free(x);
            free(ys);
        }
    }
    if (rc == IMA_OK && n_rho > 1) {
        double *x = ima_try_malloc((size_t)n_rho, sizeof(double)), *ys = ima_try_malloc(6 * (size_t)n_rho, sizeof(double));
        char *png = path_in(out, "fig_rho_sweep.png");
        if (!x || !ys || !png) {
            free(x), free(ys), free(png);
            free(rows), free(lab), free(noise[0]), free(noise[1]), free(any), free(Y), free(val);
            return ima_error_prefix("rho-sweep figure");
        }
        const char *names[6] = {"precision image",  "recall image",  "F1 image",
                                "precision speech", "recall speech", "F1 speech"};
        for (int k = 0; k < n_rho; k++) {
            x[k] = rho[k].rho;
            for (int j = 0; j < 2; j++) {
                ys[(3 * j + 0) * n_rho + k] = rho[k].det[j].at_threshold.precision;
                ys[(3 * j + 1) * n_rho + k] = rho[k].det[j].at_threshold.recall;
                ys[(3 * j + 2) * n_rho + k] = rho[k].det[j].at_threshold.f1;
            }
        }
        int ns = 6;
        char alt_names[4][48];
        const char *anames[4];
        if (rho[0].has_alt) { /* both objectives: F1 of each modality under each */
            int paper_main = cfg->importance_objective == IMA_IMPORTANCE_PAPER;
            for (int q = 0; q < 4; q++) {
                int alt = q >= 2, j = q % 2;
                snprintf(alt_names[q], sizeof alt_names[q], "F1 %s, %s", j ? "speech" : "image",
                         (paper_main != alt) ? "paper's objective" : "local-ev");
                anames[q] = alt_names[q];
                for (int k = 0; k < n_rho; k++)
                    ys[q * n_rho + k] = (alt ? rho[k].det_alt[j] : rho[k].det[j]).at_threshold.f1;
            }
            ns = 4;
        }
        figure *f = &figs[(*n_figs)++];
        snprintf(f->file, sizeof f->file, "fig_rho_sweep.png");
        snprintf(f->caption, sizeof f->caption,
                 "noise detection on the test split (y < 0.5) against the prior rho (paper Figure 6)");
        ima_plot_style st = {.title = f->caption, .xlabel = "rho", .ylabel = "score"};
        rc = ima_plot_lines(png, x, ys, ns == 4 ? anames : names, (size_t)ns, (size_t)n_rho, &st);
        free(png);
        free(x);
        free(ys);
    }
    free(rows), free(lab), free(noise[0]), free(noise[1]), free(any), free(Y), free(val);
    return rc;
}

/* one figure per model and latent: validation loss (left axis) and validation P@10 (right axis) per epoch */
static int curve_figures(const char *out, const learning_curve *const *lcs, int n, figure *figs, int *n_figs) {
    if (!ima_plot_available()) return IMA_OK;
    int rc = IMA_OK;
    for (int k = 0; k < n && rc == IMA_OK; k++) {
        const learning_curve *c = lcs[k];
        if (c->n == 0) continue;
        size_t P = (size_t)c->n;
        double *x = ima_try_malloc(P, sizeof(double)), *ys = ima_try_malloc(3 * P, sizeof(double));
        if (!x || !ys) {
            free(x), free(ys);
            return ima_error_prefix("learning-curve figure");
        }
        for (size_t e = 0; e < P; e++) {
            const double *r = c->row + e * LC_COLS;
            x[e] = r[0], ys[e] = r[1], ys[P + e] = r[2], ys[2 * P + e] = r[3];
        }
        const char *names[3] = {"training loss (warm-up KL weight)", "validation loss", "validation P@10 (right axis)"};
        figure *f = &figs[(*n_figs)++];
        char tag[32];
        snprintf(tag, sizeof tag, "%s", c->model);
        for (char *t = tag; *t; t++)
            if (*t == ' ' || *t == '-') *t = '_';
        snprintf(f->file, sizeof f->file, "fig_learning_%s_%zud.png", tag, c->latent);
        snprintf(f->caption, sizeof f->caption,
                 "%s latent %zu: loss and validation P@10 per epoch (%d of at most %d epochs, kept epoch %d)", c->model,
                 c->latent, c->epochs_run, c->cap, c->best_epoch);
        char *png = path_in(out, f->file), title[96];
        if (!png) {
            free(x), free(ys);
            return IMA_ERR;
        }
        snprintf(title, sizeof title, "%s, latent %zu: kept epoch %d of %d", c->model, c->latent, c->best_epoch,
                 c->epochs_run);
        ima_plot_style st = {.title = title,
                             .xlabel = "epoch",
                             .ylabel = "loss (mean per pair)",
                             .y2_series = 1u << 2,
                             .y2label = "P@10 (validation probe)"};
        rc = ima_plot_lines(png, x, ys, names, 3, P, &st);
        free(png), free(x), free(ys);
    }
    return rc;
}

/* ==== report ========================================================================================== */

static void fmt(char *buf, size_t n, double v, int digits) {
    if (isnan(v)) snprintf(buf, n, "–");
    else snprintf(buf, n, "%.*f", digits, v);
}

static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *detection_json(const ima_detection *d) {
    cJSON *o = cJSON_CreateObject();
    add_num(o, "n", (double)d->n);
    add_num(o, "n_noise", (double)d->n_noise);
    add_num(o, "mean_y", d->mean_y);
    add_num(o, "precision", d->at_threshold.precision);
    add_num(o, "recall", d->at_threshold.recall);
    add_num(o, "f1", d->at_threshold.f1);
    add_num(o, "auc", d->ranked ? d->auc : NAN);
    add_num(o, "best_f1", d->ranked ? d->best_f1 : NAN);
    add_num(o, "best_threshold", d->ranked ? d->best_threshold : NAN);
    return o;
}

static int write_report(const char *out, const ima_repro_config *cfg, split_data *sp, ima_part *parts, int n_parts,
                        rep_result *reps, int n_reps, rho_point *rho, int n_rho, figure *figs, int n_figs,
                        const learning_curve *const *lcs, int n_lcs, double total_seconds) {
    /* report.md and results.json are written beside their final names and moved into place together
     * when both are whole (ima_outset): a failure leaves neither half-written */
    char *md = path_in(out, "report.md"), *js = path_in(out, "results.json");
    ima_outset os;
    ima_outset_init(&os);
    const char *md_tmp = md && js ? ima_outset_add(&os, md) : NULL, *js_tmp = md_tmp ? ima_outset_add(&os, js) : NULL;
    FILE *f = js_tmp ? fopen(md_tmp, "w") : NULL;
    if (!f) {
        int rc = js_tmp ? ima_error("%s: cannot open for writing (%s)", md, strerror(errno)) : IMA_ERR;
        ima_outset_abort(&os);
        free(md), free(js);
        return rc;
    }
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32];
    fprintf(f, "# IMA on the digits corpus: the paper's Tables 1 and 5, Figures 2, 4 and 6\n\n");
    fprintf(f, "Produced by `%s` in %.0f s. Corpus: `%s` (%zu / %zu / %zu train / validation / test pairs used%s).\n\n",
            cfg->command_line ? cfg->command_line : "ima repro digits", total_seconds, cfg->data_dir, sp[0].n, sp[1].n,
            sp[2].n, cfg->quick ? "; --quick subsample" : "");
    fprintf(f, "The paper's numbers (MNIST x TIDIGITS, its own splits) are printed beside ours for reference; our "
               "speech is a different corpus (see the corpus manifest), so equality is not expected. What matters is "
               "whether the orderings the paper claims hold here.\n\n");

    fprintf(f, "## Settings\n\n");
    fprintf(f, "| setting | value |\n|---|---|\n");
    fprintf(f, "| IMA | digits configuration (image 784-500-500-d, speech 696-100-100-d, bce), inputs centred |\n");
    char rounds_text[160];
    if (cfg->rounds <= 0 && cfg->importance_objective == IMA_IMPORTANCE_LOCAL_EV)
        snprintf(rounds_text, sizeof rounds_text,
                 "latent 2: two rounds of half the stage-1 epochs each (stage 1 retrained with y), latent 50: one round");
    else snprintf(rounds_text, sizeof rounds_text, "%d round%s (stage-1 epochs per round)", cfg->rounds > 1 ? cfg->rounds : 1,
                  cfg->rounds > 1 ? "s" : "");
    if (cfg->patience > 0)
        fprintf(f,
                "| training | Adam lr %g, batch %zu, stage 1 up to %d epochs with early stopping (patience %d on the "
                "validation L_auto, best epoch kept), %d stage-2 epochs, %s, seed %llu |\n",
                cfg->lr, cfg->batch, cfg->epochs1, cfg->patience, cfg->epochs2, rounds_text, (unsigned long long)cfg->seed);
    else
        fprintf(f, "| training | Adam lr %g, batch %zu, %d stage-1 + %d stage-2 epochs, %s, seed %llu |\n", cfg->lr,
                cfg->batch, cfg->epochs1, cfg->epochs2, rounds_text, (unsigned long long)cfg->seed);
    fprintf(f, "| importance objective | main rows: %s%s |\n",
            cfg->importance_objective == IMA_IMPORTANCE_PAPER ? "the paper's"
                                                              : "local-ev (beyond the paper, docs/importance.md)",
            cfg->compare_objectives
                ? "; the other objective's stage 2 is retrained on the same stage-1 model and reported in its own rows"
                : "");
    if (cfg->fusion_sharpness > 1)
        fprintf(f, "| fusion weights | sigmoid(%g logit y) instead of y (beyond the paper, docs/importance.md) |\n",
                (double)cfg->fusion_sharpness);
    fprintf(f,
            "| stage 2 | rho image %.2f, speech %.2f; lambda_corr %g, lambda_local %g; the stage-2 epoch with the best "
            "validation F1 at y < 0.5 is kept (validation noise flags are used for this model selection only) |\n",
            cfg->rho_image, cfg->rho_speech, cfg->lambda_corr, cfg->lambda_local);
    fprintf(
        f,
        "| downstream MLP | 2 hidden ReLU layers of 50, SGD, %d epochs per learning rate, rate chosen on validation "
        "from {0.0625 ... 8} |\n",
        cfg->classifier_epochs);
    fprintf(f, "| baselines | %s, up to %d epochs each, same batch, learning rate and splits |\n",
            cfg->with_baselines ? "MVAE, JMVAE-KL, multimodal denoising AE" : "not run", cfg->baseline_epochs);
    if (cfg->with_baselines)
        fprintf(f,
                "| baseline training | the authors' settings (docs/baselines.md): MVAE with the joint and both "
                "unimodal ELBO terms and the prior expert, JMVAE-KL with alpha %g on the unimodal KL terms, both with "
                "a linear KL warm-up over %d epochs; DAE denoising rate 0.3; early stopping %s |\n",
                (double)cfg->jmvae_alpha, cfg->kl_warmup_epochs,
                cfg->patience > 0 ? "on the validation loss (full KL weight, fixed noise), best epoch kept, not "
                                    "before the warm-up has ended"
                                  : "off");
    fprintf(f,
            "| learning curves | validation loss on the whole validation split; P@10 on a fixed seeded subsample of "
            "%zu validation pairs (the probe), every modality present |\n",
            cfg->probe_rows);
    fprintf(f, "| retrieval | exact Euclidean neighbours on the test split, self excluded%s |\n\n",
            sp[2].recording ? "; 'excl. rec.' also excludes neighbours that share the query's recording"
                            : "; the corpus has no recording ids, so the same-recording exclusion is not reported");

    for (int L = 0; L < n_parts; L++) {
        ima_part *p = &parts[L];
        fprintf(f,
                "IMA latent %zu: trained in %.0f s; stage 2: L_corr image %.3g -> %.3g, speech %.3g -> %.3g; L_local "
                "image %.3g -> %.3g, speech %.3g -> %.3g (first -> last epoch); kept epoch %d.%s%s\n\n",
                p->latent, p->seconds, p->w.corr_first[0], p->w.corr_last[0], p->w.corr_first[1], p->w.corr_last[1],
                p->w.local_first[0], p->w.local_last[0], p->w.local_first[1], p->w.local_last[1], p->w.best_epoch,
                p->w.collapsed[0] ? " **Image importances collapsed (mean y > 0.99 or L_corr fell 1000x).**" : "",
                p->w.collapsed[1] ? " **Speech importances collapsed.**" : "");
    }

    if (n_lcs > 0) {
        fprintf(f, "## Training length (early stopping on the validation loss)\n\n");
        fprintf(f,
                "| model | d | cap | patience | epochs run | kept epoch | stopped early | validation loss at the kept "
                "epoch | validation P@10 at the kept epoch | seconds |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (int k = 0; k < n_lcs; k++) {
            const learning_curve *lc = lcs[k];
            double vl = NAN, vp = NAN;
            for (int ep = 0; ep < lc->n; ep++)
                if ((int)lc->row[ep * LC_COLS] == lc->best_epoch)
                    vl = lc->row[ep * LC_COLS + 2], vp = lc->row[ep * LC_COLS + 3];
            fmt(a, 32, vl, 3), fmt(b, 32, vp, 4);
            fprintf(f, "| %s | %zu | %d | %d | %d | %d | %s | %s | %s | %.0f |\n", lc->model, lc->latent, lc->cap,
                    lc->patience, lc->epochs_run, lc->best_epoch, lc->stopped ? "yes" : "no", a, b, lc->seconds);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "## Table 1 analogue: retrieval precision on the test split\n\n");
    fprintf(
        f,
        "| representation | d | P@10 | P@50 | P@10 image-noise queries | P@10 speech-noise queries | P@10 excl. rec. "
        "| P@50 excl. rec. | paper P@10 | paper P@50 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_reps; k++) {
        rep_result *r = &reps[k];
        fmt(a, 32, r->p10, 4), fmt(b, 32, r->p50, 4), fmt(c, 32, r->p10_img_noise, 4), fmt(d, 32, r->p10_sp_noise, 4);
        fmt(e, 32, r->p10_excl, 4), fmt(g, 32, r->p50_excl, 4);
        char pa[32], pb[32];
        fmt(pa, 32, r->paper_p10, 4), fmt(pb, 32, r->paper_p50, 4);
        fprintf(f, "| %s | %zu | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->name, r->latent, a, b, c, d, e, g, pa,
                pb);
    }
    fprintf(f, "\n## Table 5 analogue: downstream digit classification accuracy (%%) on the test split\n\n");
    fprintf(f,
            "| representation | d | overall | image-noise pairs | speech-noise pairs | learning rate | paper overall "
            "|\n|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_reps; k++) {
        rep_result *r = &reps[k];
        fmt(a, 32, r->acc, 2), fmt(b, 32, r->acc_img_noise, 2), fmt(c, 32, r->acc_sp_noise, 2),
            fmt(h, 32, r->paper_acc, 2);
        fprintf(f, "| %s | %zu | %s | %s | %s | %g | %s |\n", r->name, r->latent, a, b, c, r->chosen_lr, h);
    }
    fprintf(f, "\n## Importance detection on the test split (positive class: noise, called when y < 0.5)\n\n");
    fprintf(f, "| model | modality | noise share | mean y | precision | recall | F1 | ranking AUC | best-threshold F1 "
               "|\n|---|---|---|---|---|---|---|---|---|\n");
    for (int L = 0; L < n_parts; L++)
        for (int alt = 0; alt <= parts[L].has_alt; alt++)
            for (int j = 0; j < 2; j++) {
                ima_detection *t = alt ? &parts[L].det_alt[j] : &parts[L].det[j];
                int paper = (cfg->importance_objective == IMA_IMPORTANCE_PAPER) != alt;
                fprintf(f, "| IMA latent %zu, %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n",
                        parts[L].latent, paper ? "paper's objective" : "local-ev objective (beyond the paper)",
                        j ? "speech" : "image", t->n ? (double)t->n_noise / (double)t->n : 0.0, t->mean_y,
                        t->at_threshold.precision, t->at_threshold.recall, t->at_threshold.f1, t->ranked ? t->auc : NAN,
                        t->ranked ? t->best_f1 : NAN);
            }
    fprintf(f, "\nThe paper reports that the importance networks misplace about 2%% of samples.\n");
    if (n_rho > 0) {
        fprintf(f,
                "\n## Figure 6 analogue: the rho sweep (stage 2 retrained per rho on the latent-%zu stage-1 model)\n\n",
                parts[n_parts - 1].latent);
        fprintf(f, "| rho | image P | image R | image F1 | image AUC | speech P | speech R | speech F1 | speech AUC "
                   "|\n|---|---|---|---|---|---|---|---|---|\n");
        for (int alt = 0; alt <= (n_rho > 0 && rho[0].has_alt); alt++) {
            int paper = (cfg->importance_objective == IMA_IMPORTANCE_PAPER) != alt;
            fprintf(f, "| **%s** | | | | | | | | |\n",
                    paper ? "paper's objective" : "local-ev objective (beyond the paper)");
            for (int k = 0; k < n_rho; k++) {
                ima_detection *i0 = alt ? &rho[k].det_alt[0] : &rho[k].det[0],
                              *i1 = alt ? &rho[k].det_alt[1] : &rho[k].det[1];
                fprintf(f, "| %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", rho[k].rho,
                        i0->at_threshold.precision, i0->at_threshold.recall, i0->at_threshold.f1,
                        i0->ranked ? i0->auc : NAN, i1->at_threshold.precision, i1->at_threshold.recall,
                        i1->at_threshold.f1, i1->ranked ? i1->auc : NAN);
            }
        }
        fprintf(f, "\nThe paper finds the best F1 at rho = 0.8 (images) and 0.3 (speech).\n");
    }
    if (n_figs) {
        fprintf(f, "\n## Figures\n\n");
        for (int k = 0; k < n_figs; k++)
            fprintf(f, "![%s](%s)\n\n*%s*\n\n", figs[k].caption, figs[k].file, figs[k].caption);
    }
    int werr = ferror(f);
    if (fclose(f) || werr) {
        int rc = ima_error("%s: write failed", md);
        ima_outset_abort(&os);
        free(md), free(js);
        return rc;
    }

    /* results.json: every number */
    cJSON *root = cJSON_CreateObject();
    cJSON *set = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddStringToObject(set, "data_dir", cfg->data_dir);
    cJSON_AddBoolToObject(set, "quick", cfg->quick);
    add_num(set, "seed", (double)cfg->seed);
    add_num(set, "epochs_stage1", cfg->epochs1);
    add_num(set, "rounds", cfg->rounds);
    add_num(set, "epochs_stage2", cfg->epochs2);
    add_num(set, "baseline_epochs", cfg->baseline_epochs);
    add_num(set, "patience", cfg->patience);
    add_num(set, "kl_warmup_epochs", cfg->kl_warmup_epochs);
    add_num(set, "jmvae_alpha", cfg->jmvae_alpha);
    add_num(set, "probe_rows", (double)cfg->probe_rows);
    add_num(set, "batch", (double)cfg->batch);
    add_num(set, "lr", cfg->lr);
    add_num(set, "rho_image", cfg->rho_image);
    add_num(set, "rho_speech", cfg->rho_speech);
    add_num(set, "lambda_corr", cfg->lambda_corr);
    add_num(set, "lambda_local", cfg->lambda_local);
    cJSON_AddStringToObject(set, "importance_objective",
                            ima_importance_objective_name((ima_importance_objective)cfg->importance_objective));
    cJSON_AddBoolToObject(set, "compare_objectives", cfg->compare_objectives);
    cJSON_AddNumberToObject(set, "fusion_sharpness", cfg->fusion_sharpness);
    add_num(set, "n_train", (double)sp[0].n);
    add_num(set, "n_valid", (double)sp[1].n);
    add_num(set, "n_test", (double)sp[2].n);
    add_num(set, "seconds", total_seconds);
    cJSON *arr = cJSON_AddArrayToObject(root, "representations");
    for (int k = 0; k < n_reps; k++) {
        rep_result *r = &reps[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddStringToObject(o, "family", r->family);
        cJSON_AddStringToObject(o, "view", r->view);
        add_num(o, "latent", (double)r->latent);
        add_num(o, "p10", r->p10);
        add_num(o, "p50", r->p50);
        add_num(o, "p10_image_noise_queries", r->p10_img_noise);
        add_num(o, "p10_speech_noise_queries", r->p10_sp_noise);
        add_num(o, "p10_excluding_same_recording", r->p10_excl);
        add_num(o, "p50_excluding_same_recording", r->p50_excl);
        add_num(o, "accuracy", r->acc);
        add_num(o, "accuracy_image_noise", r->acc_img_noise);
        add_num(o, "accuracy_speech_noise", r->acc_sp_noise);
        add_num(o, "classifier_lr", r->chosen_lr);
        add_num(o, "paper_p10", r->paper_p10);
        add_num(o, "paper_p50", r->paper_p50);
        add_num(o, "paper_accuracy", r->paper_acc);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *imp = cJSON_AddArrayToObject(root, "importance");
    for (int L = 0; L < n_parts; L++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "latent", (double)parts[L].latent);
        add_num(o, "kept_stage2_epoch", parts[L].w.best_epoch);
        add_num(o, "constant_image_weight", parts[L].const_weight);
        cJSON_AddStringToObject(o, "objective",
                                ima_importance_objective_name((ima_importance_objective)cfg->importance_objective));
        cJSON_AddItemToObject(o, "image", detection_json(&parts[L].det[0]));
        cJSON_AddItemToObject(o, "speech", detection_json(&parts[L].det[1]));
        cJSON_AddItemToArray(imp, o);
        if (parts[L].has_alt) {
            cJSON *q = cJSON_CreateObject();
            add_num(q, "latent", (double)parts[L].latent);
            add_num(q, "kept_stage2_epoch", parts[L].w_alt.best_epoch);
            cJSON_AddStringToObject(q, "objective",
                                    cfg->importance_objective == IMA_IMPORTANCE_PAPER ? "local-ev" : "paper");
            cJSON_AddItemToObject(q, "image", detection_json(&parts[L].det_alt[0]));
            cJSON_AddItemToObject(q, "speech", detection_json(&parts[L].det_alt[1]));
            cJSON_AddItemToArray(imp, q);
        }
    }
    cJSON *sw = cJSON_AddArrayToObject(root, "rho_sweep");
    for (int k = 0; k < n_rho; k++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "rho", rho[k].rho);
        cJSON_AddItemToObject(o, "image", detection_json(&rho[k].det[0]));
        cJSON_AddItemToObject(o, "speech", detection_json(&rho[k].det[1]));
        if (rho[k].has_alt) {
            cJSON_AddItemToObject(o, "other_objective_image", detection_json(&rho[k].det_alt[0]));
            cJSON_AddItemToObject(o, "other_objective_speech", detection_json(&rho[k].det_alt[1]));
        }
        cJSON_AddItemToArray(sw, o);
    }
    cJSON *tr = cJSON_AddArrayToObject(root, "training");
    for (int k = 0; k < n_lcs; k++) {
        const learning_curve *lc = lcs[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", lc->model);
        add_num(o, "latent", (double)lc->latent);
        add_num(o, "epochs_cap", lc->cap);
        add_num(o, "patience", lc->patience);
        add_num(o, "epochs_run", lc->epochs_run);
        add_num(o, "best_epoch", lc->best_epoch);
        cJSON_AddBoolToObject(o, "stopped_early", lc->stopped);
        add_num(o, "seconds", lc->seconds);
        static const char *cols[LC_COLS] = {"epoch", "train_loss", "valid_loss", "valid_p10", "kl_weight"};
        cJSON *cu = cJSON_AddObjectToObject(o, "curve");
        for (int q = 0; q < LC_COLS; q++) {
            cJSON *col = cJSON_AddArrayToObject(cu, cols[q]);
            for (int ep = 0; ep < lc->n; ep++) {
                double v = lc->row[ep * LC_COLS + q];
                cJSON_AddItemToArray(col, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
            }
        }
        cJSON_AddItemToArray(tr, o);
    }
    cJSON *fa = cJSON_AddArrayToObject(root, "figures");
    for (int k = 0; k < n_figs; k++) cJSON_AddItemToArray(fa, cJSON_CreateString(figs[k].file));
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    int rc = IMA_OK;
    FILE *jf = text ? fopen(js_tmp, "w") : NULL;
    if (!text) rc = ima_error("%s: out of memory while formatting the results", js);
    else if (!jf) rc = ima_error("%s: cannot open for writing (%s)", js, strerror(errno));
    else {
        int bad = fputs(text, jf) < 0;
        if (fclose(jf) || bad) rc = ima_error("%s: write failed", js);
    }
    free(text);
    if (rc == IMA_OK) rc = ima_outset_commit(&os);
    ima_outset_abort(&os);
    free(md), free(js);
    return rc;
}

/* ==== the whole experiment ============================================================================ */

int ima_repro_digits(const ima_repro_config *cfg) {
    double t0 = ima_wall_seconds();
    if (mkdir(cfg->out_dir, 0777) && errno != EEXIST)
        return ima_error("%s: cannot create the output folder (%s)", cfg->out_dir, strerror(errno));
    split_data sp[3];
    memset(sp, 0, sizeof sp);
    const char *names[3] = {"train", "valid", "test"};
    int rc = IMA_OK;
    for (int s = 0; s < 3 && rc == IMA_OK; s++)
        rc = split_load(&sp[s], cfg->data_dir, names[s], s == 0 ? cfg->train_limit : cfg->eval_limit,
                        cfg->seed + (uint64_t)s);
    if (rc) {
        for (int s = 0; s < 3; s++) split_free(&sp[s]);
        return IMA_ERR;
    }
    say("corpus %s: %zu / %zu / %zu train / validation / test pairs", cfg->data_dir, sp[0].n, sp[1].n, sp[2].n);
    ima_part parts[N_LATENTS];
    memset(parts, 0, sizeof parts);
    int max_reps = N_LATENTS * (7 + 9);
    int n_reps = 0, n_rho = cfg->n_rho, n_figs = 0;
    if (n_rho < 0) n_rho = 0;
    rep_result *reps = ima_try_calloc((size_t)max_reps, sizeof(rep_result));
    rho_point *rho = ima_try_calloc((size_t)(n_rho > 0 ? n_rho : 1), sizeof(rho_point));
    figure figs[48];
    learning_curve blc[N_LATENTS * 3];
    memset(blc, 0, sizeof blc);
    const learning_curve *lcs[N_LATENTS * 4];
    int n_lcs = 0;
    probe_set probe;
    memset(&probe, 0, sizeof probe);
    if (!reps || !rho) rc = ima_error_prefix("repro");
    else rc = probe_make(&probe, &sp[1], cfg->probe_rows, cfg->seed + 77);
    size_t lat[N_LATENTS]; /* the latent widths of this run */
    int n_lat = 0, n_parts = 0;
    for (int L = 0; L < N_LATENTS; L++)
        if (!cfg->only_latent || cfg->only_latent == LATENTS[L]) lat[n_lat++] = LATENTS[L];
    if (n_lat == 0) rc = ima_error("repro: latent %zu: expected 2 or 50", cfg->only_latent);
    if (!cfg->with_ima) n_rho = 0; /* the sweep retrains IMA's stage 2 */
    ima_local_ev_teacher own_teacher; /* without cfg->teacher: this run's */
    memset(&own_teacher, 0, sizeof own_teacher);
    if (rc == IMA_OK && cfg->with_ima &&
        (cfg->importance_objective == IMA_IMPORTANCE_LOCAL_EV || cfg->compare_objectives))
        rc = teacher_ready(cfg->teacher ? cfg->teacher : &own_teacher, &sp[0], cfg);
    for (int L = 0; L < n_lat && rc == IMA_OK && cfg->with_ima; L++, n_parts++) {
        rc = ima_part_run(&parts[L], lat[L], sp, &probe, cfg);
        if (rc == IMA_OK) rc = ima_part_measure(&parts[L], sp, cfg, reps, &n_reps);
    }
    if (rc == IMA_OK && n_rho > 0) rc = rho_sweep(rho, n_rho, &parts[n_parts - 1], sp, cfg);
    for (int L = 0; L < n_lat && rc == IMA_OK && cfg->with_baselines; L++)
        for (int k = 0; k < 3 && rc == IMA_OK; k++)
            if (!cfg->only_baseline || cfg->only_baseline == k + 1)
                rc = baseline_run((ima_baseline_kind)k, lat[L], sp, &probe, cfg, reps, &n_reps, &blc[L * 3 + k]);
    for (int L = 0; L < n_parts; L++) lcs[n_lcs++] = &parts[L].w.lc;
    for (int k = 0; k < N_LATENTS * 3; k++)
        if (blc[k].n) lcs[n_lcs++] = &blc[k];
    if (rc == IMA_OK && n_parts > 0)
        rc = make_figures(cfg->out_dir, parts, n_parts, &sp[2], rho, n_rho, cfg, figs, &n_figs);
    if (rc == IMA_OK) rc = curve_figures(cfg->out_dir, lcs, n_lcs, figs, &n_figs);
    if (rc == IMA_OK)
        rc = write_report(cfg->out_dir, cfg, sp, parts, n_parts, reps, n_reps, rho, n_rho, figs, n_figs, lcs, n_lcs,
                          ima_wall_seconds() - t0);
    if (rc == IMA_OK)
        say("wrote %s/report.md and %s/results.json in %.0f s", cfg->out_dir, cfg->out_dir, ima_wall_seconds() - t0);
    for (int L = 0; L < n_parts; L++) ima_part_free(&parts[L]);
    for (int s = 0; s < 3; s++) split_free(&sp[s]);
    ima_local_ev_teacher_free(&own_teacher);
    for (int k = 0; k < N_LATENTS * 3; k++) free(blc[k].row);
    probe_free(&probe);
    free(reps);
    free(rho);
    return rc;
}
