/* test_cli_defaults.c: the CLI keeps no defaults of its own. `ima train` with no model or training flag
 * (run in-process through cmd_train, the CLI's own entry) writes a checkpoint whose configuration and
 * training configuration equal the library's defaults (ima_config_defaults, ima_train_defaults); the
 * same for a baseline (ima_baseline_config_defaults, ima_baseline_train_defaults). A given flag does
 * move its field (so the comparison can fail). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/toy.h"
#include "ima/train.h"
#include "testutil.h"

static int run_train(char **argv, int argc) { return cmd_train(argc, argv); }

static int same_modality(const ima_modality_config *a, const ima_modality_config *b) {
    return a->hidden_width == b->hidden_width && a->loss == b->loss && a->lambda_rec == b->lambda_rec &&
           a->lambda_align == b->lambda_align && a->lambda_local == b->lambda_local &&
           a->lambda_corr == b->lambda_corr && a->rho == b->rho;
}

static void check_ima(const char *dir, const char *extra) {
    char a[4200], b[4200], out[4200];
    snprintf(a, sizeof a, "a=%s/train/a.npy", dir);
    snprintf(b, sizeof b, "b=%s/train/a.npy", dir); /* b: a second bce modality (toy's b is real-valued) */
    snprintf(out, sizeof out, "%s/ima.safetensors", dir);
    char *argv[] = {"train", "--input", a, "--input", b, "--out", out, "--quiet", (char *)extra, NULL};
    CHECK(run_train(argv, extra ? 9 : 8) == 0, "ima train failed");
    ima_model *m = NULL;
    ima_train_config tc;
    ima_train_state st;
    CHECK(ima_checkpoint_load(out, 64, &m, &tc, &st) == 0, "load: %s", ima_last_error());
    if (!m) return;
    ima_config d = ima_config_defaults();
    ima_train_config td = ima_train_defaults();
    int moved = extra != NULL; /* --latent=7: the one field that must differ */
    CHECK((m->cfg.latent_width == d.latent_width) == !moved, "latent %zu vs the library's %zu", m->cfg.latent_width,
          d.latent_width);
    CHECK(m->cfg.lambda_glob == d.lambda_glob && m->cfg.center_inputs == d.center_inputs, "lambda_glob / centring");
    for (int j = 0; j < m->cfg.n_modalities; j++)
        CHECK(same_modality(&m->cfg.mod[j], &d.mod[j]), "modality %d differs from the library's defaults", j);
    CHECK(tc.batch_size == td.batch_size && tc.rounds == td.rounds && tc.epochs_stage1 == td.epochs_stage1 &&
              tc.epochs_stage2 == td.epochs_stage2,
          "training configuration differs from the library's defaults");
    CHECK(!memcmp(&tc.adam_stage1, &td.adam_stage1, sizeof td.adam_stage1) &&
              !memcmp(&tc.adam_stage2, &td.adam_stage2, sizeof td.adam_stage2),
          "Adam settings differ from the library's defaults");
    ima_model_free(m);
}

static void check_baseline(const char *dir) {
    char a[4200], b[4200], out[4200];
    snprintf(a, sizeof a, "a=%s/train/a.npy", dir);
    snprintf(b, sizeof b, "b=%s/train/a.npy", dir); /* b: a second bce modality (toy's b is real-valued) */
    snprintf(out, sizeof out, "%s/jmvae.safetensors", dir);
    char *argv[] = {"train", "--model", "jmvae", "--input", a, "--input", b, "--out", out, "--quiet", NULL};
    CHECK(run_train(argv, 10) == 0, "ima train --model jmvae failed");
    ima_baseline *bl = NULL;
    ima_baseline_train_config tc;
    CHECK(ima_baseline_checkpoint_load(out, 64, &bl, &tc, NULL) == 0, "load: %s", ima_last_error());
    if (!bl) return;
    ima_baseline_config d = ima_baseline_config_defaults(IMA_BASELINE_JMVAE);
    ima_baseline_train_config td = ima_baseline_train_defaults();
    const ima_baseline_config *c = &bl->cfg;
    CHECK(c->latent_width == d.latent_width && c->joint_hidden == d.joint_hidden && c->alpha == d.alpha &&
              c->beta == d.beta,
          "baseline scalars differ from the library's defaults");
    for (int j = 0; j < c->n_modalities; j++)
        CHECK(c->mod[j].hidden_width == d.mod[j].hidden_width && c->mod[j].loss == d.mod[j].loss &&
                  c->mod[j].lambda_rec == d.mod[j].lambda_rec,
              "baseline modality %d differs from the library's defaults", j);
    CHECK(tc.batch_size == td.batch_size && tc.epochs == td.epochs && tc.adam.lr == td.adam.lr,
          "baseline training configuration differs from the library's defaults");
    ima_baseline_free(bl);
}

int main(void) {
    char *dir = tu_tmpdir();
    CHECK(ima_toy_write(dir, 64, 8, 0.1, 3) == 0, "toy: %s", ima_last_error());
    check_ima(dir, NULL);
    check_ima(dir, "--latent=7");
    check_baseline(dir);
    free(dir);
    return tu_finish("cli_defaults");
}
