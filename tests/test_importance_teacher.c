/* test_importance_teacher.c: the local-ev teacher built once and reused (importance.h) changes nothing.
 *  1. on a synthetic corpus with missing modalities (M = 3, one input wider than the PCA), the targets
 *     and the statistic from one teacher equal those of ima_local_ev_targets bit for bit (memcmp), for
 *     two rho in either order (the teacher keeps no state between calls);
 *  2. a teacher from another data set (rows, width, content) or k is refused with an error, and so is
 *     ima_train given one;
 *  3. ima_train with and without a supplied teacher gives the same parameters bit for bit after two
 *     rounds of stage 1 + stage 2; a teacher whose neighbour lists are altered changes them (so the
 *     supplied teacher is the one read). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/importance.h"
#include "ima/model.h"
#include "ima/rng.h"
#include "ima/train.h"
#include "testutil.h"

/* N rows, M modalities of widths D[j] in [0, 1]: a clean row of class c is class c's prototype of each
 * modality plus noise; about 10% of each modality's items are noise (uniform); some rows miss a modality
 * (never all but one when M = 2). */
static void synth(ima_dataset *ds, size_t N, int M, const size_t *D, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = N;
    ds->n_modalities = M;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ds->mask = malloc(N * (size_t)M);
    float *proto[IMA_MAX_MODALITIES];
    for (int j = 0; j < M; j++) {
        ds->width[j] = D[j];
        ds->x[j] = malloc(N * D[j] * sizeof(float));
        proto[j] = malloc(10 * D[j] * sizeof(float));
        for (size_t k = 0; k < 10 * D[j]; k++) proto[j][k] = (float)ima_rng_uniform(&rng);
    }
    for (size_t i = 0; i < N; i++) {
        size_t c = (size_t)(ima_rng_uniform(&rng) * 10) % 10;
        int missing = M > 2 && ima_rng_uniform(&rng) < 0.2 ? (int)(ima_rng_uniform(&rng) * M) % M : -1;
        for (int j = 0; j < M; j++) {
            int noise = ima_rng_uniform(&rng) < 0.1;
            ds->mask[i * (size_t)M + (size_t)j] = j != missing;
            for (size_t k = 0; k < D[j]; k++) {
                double v = noise ? ima_rng_uniform(&rng) : proto[j][c * D[j] + k] + 0.1 * ima_rng_normal(&rng);
                ds->x[j][i * D[j] + k] = (float)fmin(1.0, fmax(0.0, v));
            }
        }
    }
    for (int j = 0; j < M; j++) free(proto[j]);
}

static ima_config small_config(int M, const size_t *D, size_t k) {
    ima_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_modalities = M;
    cfg.latent_width = 3;
    cfg.lambda_glob = 1.0f;
    cfg.center_inputs = 1;
    cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    cfg.local_ev_k = k;
    for (int j = 0; j < M; j++) {
        ima_modality_config *mc = &cfg.mod[j];
        snprintf(mc->name, sizeof mc->name, "m%d", j);
        mc->input_width = D[j];
        mc->hidden_width = 6;
        mc->loss = IMA_LOSS_BCE;
        mc->lambda_rec = mc->lambda_align = mc->lambda_local = mc->lambda_corr = 1.0f;
        mc->rho = 0.8f;
    }
    return cfg;
}

/* ---- 1. targets: reused teacher == ima_local_ev_targets --------------------------------------- */

static void check_targets(void) {
    const int M = 3;
    const size_t N = 700, D[3] = {64, 9, 13}, k = 12;
    ima_dataset ds;
    synth(&ds, N, M, D, 5);
    ima_config cfg = small_config(M, D, k);
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &cfg, 8, 3) == 0, "init: %s", ima_last_error());
    ima_local_ev_teacher t;
    CHECK(ima_local_ev_teacher_build(&t, &ds, k) == 0, "build: %s", ima_last_error());
    CHECK(t.width[0] == IMA_LOCAL_EV_PCA && t.width[1] == 9 && t.k == k, "features %zu %zu, k %zu", t.width[0],
          t.width[1], t.k);
    size_t nm = N * (size_t)M, got = 0;
    float *a = malloc(nm * sizeof(float)), *b = malloc(nm * sizeof(float));
    float *Ta = malloc(nm * sizeof(float)), *Tb = malloc(nm * sizeof(float));
    const float rhos[2][3] = {{0.6f, 0.7f, 0.9f}, {0.9f, 0.8f, 0.65f}};
    for (int order = 0; order < 2; order++)
        for (int q = 0; q < 2; q++) {
            const float *rho = rhos[order ? 1 - q : q];
            for (int j = 0; j < M; j++) CHECK(ima_model_set_rho(m, j, rho[j]) == 0, "rho: %s", ima_last_error());
            ima_local_ev_report ra, rb;
            CHECK(ima_local_ev_targets(a, Ta, m, &ds, &ra) == 0, "fresh targets: %s", ima_last_error());
            CHECK(ima_local_ev_teacher_targets(b, Tb, &t, rho, &rb) == 0, "teacher targets: %s", ima_last_error());
            CHECK(!memcmp(a, b, nm * sizeof(float)), "rho %g: targets of the reused teacher differ", (double)rho[0]);
            CHECK(!memcmp(Ta, Tb, nm * sizeof(float)), "rho %g: T of the reused teacher differs", (double)rho[0]);
            for (int j = 0; j < M; j++)
                CHECK(ra.rows[j] == rb.rows[j] && ra.fit[j].threshold == rb.fit[j].threshold &&
                          ra.features[j] == rb.features[j] && ra.explained[j] == rb.explained[j],
                      "modality %d: the reports differ", j);
            got = 0; /* the corpus has targets and both sides of 0.5 (the comparison is not of empty arrays) */
            size_t low = 0;
            for (size_t i = 0; i < nm; i++) got += isfinite(b[i]), low += isfinite(b[i]) && b[i] < 0.5f;
            CHECK(got > nm / 2 && low > 0 && low < got, "%zu targets, %zu below 0.5", got, low);
        }
    /* rows missing a modality have no target there */
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < M; j++)
            if (!ds.mask[i * (size_t)M + (size_t)j]) CHECK(isnan(b[i * (size_t)M + (size_t)j]), "row %zu", i);
    /* ima_local_ev_stat_blocks (the statistic alone) reads the same neighbourhoods: pass 0 of the targets */
    const float *F[3] = {t.F[0], t.F[1], t.F[2]};
    float *T1 = malloc(N * sizeof(float));
    CHECK(ima_local_ev_stat_blocks(T1, F, t.width, ds.mask, NULL, N, M, 1, k) == 0, "blocks: %s", ima_last_error());
    size_t finite = 0;
    for (size_t i = 0; i < N; i++) finite += isfinite(T1[i]);
    CHECK(finite == t.hood[1].n && finite > 0, "stat_blocks: %zu rows with T, the teacher has %zu", finite,
          t.hood[1].n);
    free(a), free(b), free(Ta), free(Tb), free(T1);
    ima_model_free(m);
    ima_local_ev_teacher_free(&t);
    ima_local_ev_teacher_free(&t); /* an emptied teacher frees again safely */
    ima_dataset_free(&ds);
}

/* ---- 2. a teacher of another data set is refused ------------------------------------------------ */

static void check_refusals(void) {
    const size_t D[2] = {10, 7}, k = 8;
    ima_dataset ds, other, wide, shifted;
    synth(&ds, 200, 2, D, 11);
    synth(&other, 210, 2, D, 11);
    const size_t Dw[2] = {10, 8};
    synth(&wide, 200, 2, Dw, 11);
    synth(&shifted, 200, 2, D, 11);
    shifted.x[1][5] = shifted.x[1][5] > 0.5f ? 0.1f : 0.9f; /* one value differs */
    ima_local_ev_teacher t;
    CHECK(ima_local_ev_teacher_build(&t, &ds, k) == 0, "build: %s", ima_last_error());
    CHECK(ima_local_ev_teacher_check(&t, &ds, k) == 0, "own data set: %s", ima_last_error());
    CHECK(ima_local_ev_teacher_check(&t, &other, k) == IMA_ERR && strstr(ima_last_error(), "rows"), "rows: %s",
          ima_last_error());
    CHECK(ima_local_ev_teacher_check(&t, &wide, k) == IMA_ERR && strstr(ima_last_error(), "width"), "width: %s",
          ima_last_error());
    CHECK(ima_local_ev_teacher_check(&t, &shifted, k) == IMA_ERR && strstr(ima_last_error(), "content"),
          "content: %s", ima_last_error());
    CHECK(ima_local_ev_teacher_check(&t, &ds, 0) == IMA_ERR && strstr(ima_last_error(), "k ="), "k: %s",
          ima_last_error());
    ima_local_ev_teacher empty;
    memset(&empty, 0, sizeof empty);
    CHECK(ima_local_ev_teacher_check(&empty, &ds, k) == IMA_ERR, "an empty teacher must be refused");

    ima_config cfg = small_config(2, D, k);
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &cfg, 16, 3) == 0, "init: %s", ima_last_error());
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 16;
    tc.epochs_stage1 = tc.epochs_stage2 = 1;
    ima_train_state st;
    ima_train_state_init(&st, 1);
    ima_train_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.teacher = &t;
    CHECK(ima_train(m, &shifted, &tc, &st, &cb) == IMA_ERR && strstr(ima_last_error(), "teacher"),
          "ima_train with another data set's teacher: %s", ima_last_error());
    CHECK(st.round == 1 && st.stage == 1 && st.epoch == 0, "a refused training must not have started");
    ima_model_free(m);
    ima_local_ev_teacher_free(&t);
    ima_dataset_free(&ds), ima_dataset_free(&other), ima_dataset_free(&wide), ima_dataset_free(&shifted);
}

/* ---- 3. ima_train with and without the teacher ------------------------------------------------- */

/* trains a fresh model (same seeds every call) for 2 rounds of 2 + 2 epochs; returns its parameters */
static float *train_once(const ima_dataset *ds, const ima_config *cfg, const ima_local_ev_teacher *t, size_t *n) {
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, cfg, 32, 21) == 0, "init: %s", ima_last_error());
    if (!m) return NULL;
    CHECK(ima_model_fit_center(m, ds) == 0, "centre: %s", ima_last_error());
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 32;
    tc.rounds = 2;
    tc.epochs_stage1 = tc.epochs_stage2 = 2;
    ima_train_state st;
    ima_train_state_init(&st, 9);
    ima_train_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.teacher = t;
    CHECK(ima_train(m, ds, &tc, &st, &cb) == 0, "train (teacher %s): %s", t ? "supplied" : "none", ima_last_error());
    *n = m->n_params;
    float *p = malloc(m->n_params * sizeof(float));
    memcpy(p, m->params, m->n_params * sizeof(float));
    ima_model_free(m);
    return p;
}

static void check_train(void) {
    const size_t D[2] = {12, 9}, k = 10;
    ima_dataset ds;
    synth(&ds, 320, 2, D, 23);
    ima_config cfg = small_config(2, D, k);
    ima_local_ev_teacher t;
    CHECK(ima_local_ev_teacher_build(&t, &ds, k) == 0, "build: %s", ima_last_error());
    size_t n0 = 0, n1 = 0, n2 = 0;
    float *p0 = train_once(&ds, &cfg, NULL, &n0), *p1 = train_once(&ds, &cfg, &t, &n1);
    CHECK(p0 && p1 && n0 == n1 && !memcmp(p0, p1, n0 * sizeof(float)),
          "ima_train: the parameters with the supplied teacher differ from those without");
    /* the supplied teacher is read: swap two neighbours' order across rows (another neighbour set) */
    ima_local_ev_hood *h = &t.hood[0];
    for (size_t q = 0; q + 1 < h->n; q += 2) {
        size_t a = h->nbr[q * h->k], b = h->nbr[(q + 1) * h->k];
        if (a != q + 1 && b != q) h->nbr[q * h->k] = b, h->nbr[(q + 1) * h->k] = a;
    }
    float *p2 = train_once(&ds, &cfg, &t, &n2);
    CHECK(p2 && n2 == n0 && memcmp(p0, p2, n0 * sizeof(float)), "an altered teacher must change the training");
    free(p0), free(p1), free(p2);
    ima_local_ev_teacher_free(&t);
    ima_dataset_free(&ds);
}

int main(void) {
    check_targets();
    check_refusals();
    check_train();
    return tu_finish("test_importance_teacher");
}
