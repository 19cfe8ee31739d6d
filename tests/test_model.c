/* test_model.c: parameter counts of the digits configuration (latent 2 and 50), seeded determinism
 * (bit-identical checkpoints with one thread), checkpoint round trip, refusal of damaged checkpoints,
 * and stage-2 selection on a validation set (the kept epoch's importance nets are restored). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/toy.h"
#include "ima/train.h"
#include "testutil.h"

/* SPEC section 1: E_j, G_j and I_j of the digits configuration; only the latent width moves them */
static void check_param_counts(void) {
    const size_t latents[2] = {50, 2};
    const size_t want[2][3] = {{752900, 754280, 723402}, {752900 - 48 * 602, 754280 - 48 * 600, 723402}};
    for (int k = 0; k < 2; k++) {
        ima_config cfg = ima_config_digits(latents[k]);
        ima_model *m;
        CHECK(ima_model_init(&m, &cfg, 4, 1) == 0, "digits init: %s", ima_last_error());
        size_t e, d, i;
        ima_model_param_counts(m, &e, &d, &i);
        CHECK(e == want[k][0], "latent %zu: encoders %zu, expected %zu", latents[k], e, want[k][0]);
        CHECK(d == want[k][1], "latent %zu: decoders %zu, expected %zu", latents[k], d, want[k][1]);
        CHECK(i == want[k][2], "latent %zu: importance nets %zu, expected %zu", latents[k], i, want[k][2]);
        CHECK(m->n_params == e + d + i, "buffer holds %zu parameters", m->n_params);
        CHECK(m->n_params_ae == e + d, "autoencoder range %zu", m->n_params_ae);
        printf("digits (latent %zu): encoders %zu, decoders %zu, importance %zu\n", latents[k], e, d, i);
        ima_model_free(m);
    }
}

static int train_toy(const char *dir, const char *ckpt, uint64_t seed) {
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/train/a.npy", dir);
    snprintf(pb, sizeof pb, "%s/train/b.npy", dir);
    const char *paths[2] = {pa, pb};
    ima_dataset ds;
    if (ima_dataset_load(&ds, 2, paths, NULL)) return -1;
    ima_config cfg = tu_small_config(ds.width[0], ds.width[1]);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 64;
    tc.epochs_stage1 = 2;
    tc.epochs_stage2 = 1;
    tc.rounds = 2;
    ima_model *m;
    ima_train_state st;
    if (ima_model_init(&m, &cfg, tc.batch_size, seed)) return -1;
    ima_model_fit_center(m, &ds);
    ima_train_state_init(&st, seed);
    int rc = ima_train(m, &ds, &tc, &st, NULL);
    if (!rc) rc = ima_checkpoint_save(ckpt, m, &tc, &st);
    ima_model_free(m);
    ima_dataset_free(&ds);
    return rc;
}

static void check_determinism_and_checkpoints(void) {
    char *dir = tu_tmpdir();
    CHECK(ima_toy_write(dir, 300, 50, 0.1, 3) == 0, "toy: %s", ima_last_error());
    char *c1 = tu_path(dir, "one.safetensors"), *c2 = tu_path(dir, "two.safetensors"),
         *c3 = tu_path(dir, "three.safetensors");
    CHECK(train_toy(dir, c1, 11) == 0, "train 1: %s", ima_last_error());
    CHECK(train_toy(dir, c2, 11) == 0, "train 2: %s", ima_last_error());
    CHECK(train_toy(dir, c3, 12) == 0, "train 3: %s", ima_last_error());
    size_t n1 = 0, n2 = 0, n3 = 0;
    unsigned char *b1 = tu_read_file(c1, &n1), *b2 = tu_read_file(c2, &n2), *b3 = tu_read_file(c3, &n3);
    CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "same seed: checkpoints differ (%zu vs %zu bytes)", n1, n2);
    CHECK(b3 && (n3 != n1 || memcmp(b1, b3, n1)), "different seeds gave identical checkpoints");

    /* round trip: load, save again, same bytes */
    ima_model *m = NULL;
    ima_train_config tc;
    ima_train_state st;
    CHECK(ima_checkpoint_load(c1, 64, &m, &tc, &st) == 0, "load: %s", ima_last_error());
    if (m) {
        CHECK(m->step_ae > 0 && m->step_imp > 0, "Adam steps restored (%ld, %ld)", m->step_ae, m->step_imp);
        CHECK(tc.rounds == 2 && tc.epochs_stage1 == 2 && tc.batch_size == 64, "train config restored");
        char *c4 = tu_path(dir, "again.safetensors");
        CHECK(ima_checkpoint_save(c4, m, &tc, &st) == 0, "save: %s", ima_last_error());
        size_t n4 = 0;
        unsigned char *b4 = tu_read_file(c4, &n4);
        CHECK(b4 && n4 == n1 && !memcmp(b1, b4, n1), "load + save changed the checkpoint");
        free(b4);
        free(c4);
        ima_model_free(m);
    }

    /* damaged files: truncated, a flipped byte in the header, NaN in a tensor */
    char *bad = tu_path(dir, "bad.safetensors");
    size_t cuts[3] = {n1 / 2, n1 - 1, 12};
    for (int k = 0; k < 3; k++) {
        tu_write_file(bad, b1, cuts[k]);
        m = NULL;
        CHECK(ima_checkpoint_load(bad, 64, &m, NULL, NULL) != 0 && !m, "a checkpoint cut to %zu bytes loaded", cuts[k]);
        CHECK(strstr(ima_last_error(), "bad.safetensors") != NULL, "error does not name the file: %s",
              ima_last_error());
    }
    unsigned char *c = malloc(n1);
    memcpy(c, b1, n1);
    char *hit = memmem(c, n1, "latent_width", 12); /* inside the escaped config JSON */
    CHECK(hit != NULL, "no latent_width in the header");
    if (hit) hit[0] = 'X';
    tu_write_file(bad, c, n1);
    CHECK(ima_checkpoint_load(bad, 64, &m, NULL, NULL) != 0, "a checkpoint with a damaged config loaded");
    printf("damaged config: %s\n", ima_last_error());
    memcpy(c, b1, n1);
    memset(c + n1 - 8, 0xff, 4); /* a NaN in the last tensor */
    tu_write_file(bad, c, n1);
    CHECK(ima_checkpoint_load(bad, 64, &m, NULL, NULL) != 0, "a checkpoint holding NaN loaded");
    printf("NaN tensor: %s\n", ima_last_error());
    free(c), free(b1), free(b2), free(b3), free(bad), free(c1), free(c2), free(c3), free(dir);
}

/* a score that prefers a chosen epoch: ctx counts the calls */
typedef struct {
    int calls, want;
    float *snap; // importance parameters seen at the wanted epoch
    size_t n;
} pick;

static int pick_score(void *ctx, ima_model *m, const ima_dataset *valid, ima_weights weights, double score[2]) {
    (void)valid, (void)weights;
    pick *p = ctx;
    p->calls++;
    score[0] = p->calls == p->want ? 1.0 : 0.0;
    score[1] = 0.0;
    if (p->calls == p->want) ima_model_importance_snapshot(m, p->snap);
    return 0;
}

static void check_selection(void) {
    char *dir = tu_tmpdir();
    CHECK(ima_toy_write(dir, 200, 60, 0.1, 4) == 0, "toy: %s", ima_last_error());
    char pa[4096], pb[4096], va[4096], vb[4096];
    snprintf(pa, sizeof pa, "%s/train/a.npy", dir), snprintf(pb, sizeof pb, "%s/train/b.npy", dir);
    snprintf(va, sizeof va, "%s/test/a.npy", dir), snprintf(vb, sizeof vb, "%s/test/b.npy", dir);
    const char *tp[2] = {pa, pb}, *vp[2] = {va, vb};
    ima_dataset ds, vs;
    CHECK(ima_dataset_load(&ds, 2, tp, NULL) == 0 && ima_dataset_load(&vs, 2, vp, NULL) == 0, "load: %s",
          ima_last_error());
    ima_config cfg = ima_config_defaults();
    cfg.n_modalities = 2, cfg.latent_width = 4;
    for (int j = 0; j < 2; j++) {
        snprintf(cfg.mod[j].name, sizeof cfg.mod[j].name, "%s", j ? "b" : "a");
        cfg.mod[j].input_width = ds.width[j];
        cfg.mod[j].hidden_width = 8;
        cfg.mod[j].loss = IMA_LOSS_SSE;
    }
    ima_model *m;
    CHECK(ima_model_init(&m, &cfg, 32, 5) == 0, "init: %s", ima_last_error());
    ima_model_fit_center(m, &ds);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 32, tc.epochs_stage1 = 1, tc.epochs_stage2 = 4;
    pick p = {0, 2, malloc(m->n_params_imp * sizeof(float)), m->n_params_imp};
    ima_train_callbacks cb = {.valid = &vs, .score = pick_score, .score_ctx = &p};
    ima_train_state st;
    ima_train_state_init(&st, 5);
    CHECK(ima_train(m, &ds, &tc, &st, &cb) == 0, "train: %s", ima_last_error());
    CHECK(p.calls == 4, "score called %d times, expected once per stage-2 epoch (4)", p.calls);
    float *now = malloc(p.n * sizeof(float));
    ima_model_importance_snapshot(m, now);
    CHECK(!memcmp(now, p.snap, p.n * sizeof(float)), "the importance nets of the kept epoch (2) were not restored");
    /* the default score (validation L_imp) runs and is finite; reset gives fresh nets */
    double sc[2];
    CHECK(ima_score_stage2_loss(NULL, m, &vs, IMA_WEIGHTS_ONE, sc) == 0 && sc[0] <= 0, "loss score %g: %s", sc[0],
          ima_last_error());
    ima_model_importance_reset(m, 5);
    ima_model_importance_snapshot(m, now);
    CHECK(memcmp(now, p.snap, p.n * sizeof(float)) && m->step_imp == 0, "reset left the trained nets");
    CHECK(ima_model_set_rho(m, 0, 1.5f) != 0 && strstr(ima_last_error(), "rho"), "rho 1.5 accepted");
    CHECK(ima_collapse_flags(0.995, 1.0, 0.5) == IMA_COLLAPSE_MEAN_Y &&
              ima_collapse_flags(0.5, 1.0, 1e-4) == IMA_COLLAPSE_CORR && ima_collapse_flags(0.5, 0.0, 0.0) == 0,
          "collapse rule");
    free(now), free(p.snap);
    ima_model_free(m);
    ima_dataset_free(&ds), ima_dataset_free(&vs);
    free(dir);
}

int main(void) {
    check_param_counts();
    check_selection();
    check_determinism_and_checkpoints();
    return tu_finish("model");
}
