/* test_model.c: parameter counts of the digits configuration, seeded determinism (bit-identical
 * checkpoints with one thread), checkpoint round trip, and refusal of damaged checkpoints. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/toy.h"
#include "ima/train.h"
#include "testutil.h"

static void check_param_counts(void) {
    for (size_t latent = 50; latent <= 50; latent++) {
        ima_config cfg = ima_config_digits(latent);
        ima_model *m;
        CHECK(ima_model_init(&m, &cfg, 4, 1) == 0, "digits init: %s", ima_last_error());
        size_t e, d, i;
        ima_model_param_counts(m, &e, &d, &i);
        CHECK(e == 752900, "encoders %zu, expected 752,900", e);
        CHECK(d == 754280, "decoders %zu, expected 754,280", d);
        CHECK(i == 723402, "importance nets %zu, expected 723,402", i);
        CHECK(m->n_params == e + d + i, "buffer holds %zu parameters", m->n_params);
        CHECK(m->n_params_ae == e + d, "autoencoder range %zu", m->n_params_ae);
        printf("digits (latent 50): encoders %zu, decoders %zu, importance %zu\n", e, d, i);
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
    ima_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_modalities = 2;
    cfg.latent_width = 4;
    cfg.lambda_glob = 1;
    cfg.center_inputs = 1;
    for (int j = 0; j < 2; j++) {
        ima_modality_config *c = &cfg.mod[j];
        snprintf(c->name, sizeof c->name, "%s", j ? "b" : "a");
        c->input_width = ds.width[j];
        c->hidden_width = 16;
        c->loss = j ? IMA_LOSS_SSE : IMA_LOSS_BCE;
        c->lambda_rec = c->lambda_align = c->lambda_local = c->lambda_corr = 1;
        c->rho = 0.8f;
    }
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
    char *c1 = tu_path(dir, "one.safetensors"), *c2 = tu_path(dir, "two.safetensors"), *c3 = tu_path(dir, "three.safetensors");
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
        CHECK(strstr(ima_last_error(), "bad.safetensors") != NULL, "error does not name the file: %s", ima_last_error());
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

int main(void) {
    check_param_counts();
    check_determinism_and_checkpoints();
    return tu_finish("model");
}
