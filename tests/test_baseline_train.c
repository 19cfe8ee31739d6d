/* test_baseline_train.c: the baseline training loop and checkpoints (baseline_train.h).
 *
 * For each kind on a small three-modality data set (bce, sse, sse with a Gaussian head; some rows missing
 * modalities; d = 3):
 *  - the library loop is bit-identical to the hand-written loop the experiment runner had before it (seeded
 *    shuffle per epoch, noise before every step, Adam), parameters, moments and step count;
 *  - save + load restores the configuration, every parameter, both Adam moments, the step, the training
 *    configuration and the RNG state exactly, and 2 epochs + save + load + 1 epoch equals 3 epochs;
 *  - a NaN parameter stops training before the update with an error naming the epoch, the batch and the term;
 *  - KL warm-up: the loop equals the reference loop with the KL weight beta * min(1, t / (W nb)) per batch;
 *  - early stopping: the validation loss of each epoch is the one ima_baseline_valid_loss gives, the kept
 *    epoch has the lowest validation loss after the warm-up, training stops exactly `patience` epochs after
 *    it (or at the cap), and the parameters left are bit-identical to a run of exactly that many epochs.
 * IMA stage 1 (train.h, the same rule): early stopping keeps the epoch of the lowest validation L_auto and
 * leaves the autoencoder of a run of exactly that many stage-1 epochs.
 * Refusals: a cut file, a NaN in a tensor, a newer version, an IMA checkpoint, a missing tensor, an extra
 * tensor; ima_checkpoint_detect tells the two formats apart.
 * N rows, M = 3 modalities, B batch rows. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "testutil.h"

static char *dir;

static ima_baseline_config small_config(ima_baseline_kind kind) {
    ima_baseline_config c = ima_baseline_config_digits(kind, 3);
    c.n_modalities = 3;
    c.mvae_subsets = 2;
    const char *names[3] = {"a", "b", "c"};
    size_t D[3] = {7, 5, 4}, H[3] = {6, 5, 4};
    for (int j = 0; j < 3; j++) {
        memset(&c.mod[j], 0, sizeof c.mod[j]);
        snprintf(c.mod[j].name, sizeof c.mod[j].name, "%s", names[j]);
        c.mod[j].input_width = D[j];
        c.mod[j].hidden_width = H[j];
        c.mod[j].loss = j == 0 ? IMA_LOSS_BCE : IMA_LOSS_SSE;
        c.mod[j].gaussian_logvar = j == 2;
        c.mod[j].lambda_rec = 1.0f;
    }
    return c;
}

/* N rows: modality 0 binary, 1 and 2 real; every third row lacks one modality (never all) */
static void make_data(ima_dataset *ds, const ima_baseline_config *c, size_t N, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ds->n = N;
    ds->n_modalities = c->n_modalities;
    for (int j = 0; j < c->n_modalities; j++) {
        size_t D = c->mod[j].input_width;
        ds->width[j] = D;
        ds->x[j] = malloc(N * D * sizeof(float));
        for (size_t k = 0; k < N * D; k++)
            ds->x[j][k] = j == 0 ? (float)(ima_rng_uniform(&rng) < 0.4) : (float)ima_rng_normal(&rng);
    }
    ds->mask = malloc(N * (size_t)c->n_modalities);
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < c->n_modalities; j++)
            ds->mask[i * (size_t)c->n_modalities + (size_t)j] = !(i % 3 == 0 && (int)(i / 3 % 3) == j);
}

/* the experiment runner's former loop, kept here as the reference; W > 0: KL warm-up over W epochs */
static void reference_loop_w(ima_baseline *bl, const ima_dataset *ds, size_t Bmax, int epochs, float lr, uint64_t seed,
                             int W) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ima_adam_config adam = ima_adam_defaults();
    adam.lr = lr;
    size_t N = ds->n, *order = malloc(N * sizeof(size_t));
    ima_batch_buffer bb;
    ima_batch_buffer_init(&bb, ds, Bmax);
    size_t nb = (N + Bmax - 1) / Bmax, t = 0;
    float beta = bl->cfg.beta;
    for (int e = 0; e < epochs; e++) {
        for (size_t i = 0; i < N; i++) order[i] = i;
        ima_rng_shuffle(&rng, order, N);
        for (size_t lo = 0; lo < N; lo += Bmax) {
            size_t B = N - lo < Bmax ? N - lo : Bmax;
            const ima_batch *b = ima_batch_gather(&bb, ds, order + lo, B);
            ima_baseline_terms terms;
            ima_baseline_sample_noise(bl, B, &rng);
            t++;
            double a = W > 0 ? (double)t / ((double)W * (double)nb) : 1.0;
            bl->cfg.beta = (float)((a < 1.0 ? a : 1.0) * beta);
            ima_baseline_loss_grad(bl, b, 1, &terms);
            bl->cfg.beta = beta;
            ima_baseline_step(bl, &adam);
        }
    }
    free(order);
    ima_batch_buffer_free(&bb);
}

static void reference_loop(ima_baseline *bl, const ima_dataset *ds, size_t Bmax, int epochs, float lr, uint64_t seed) {
    reference_loop_w(bl, ds, Bmax, epochs, lr, seed, 0);
}

static int same_model(const ima_baseline *a, const ima_baseline *b) {
    size_t n = a->n_params * sizeof(float);
    return a->n_params == b->n_params && a->step == b->step && !memcmp(a->params, b->params, n) &&
           !memcmp(a->adam_m, b->adam_m, n) && !memcmp(a->adam_v, b->adam_v, n);
}

typedef struct {
    double first, last;
} loss_track;

static int track(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                 const ima_baseline_epoch_report *r) {
    loss_track *t = ctx;
    if (r->epoch == 1) t->first = r->terms.total;
    t->last = r->terms.total;
    return 0;
}

/* rewrites a checkpoint with one metadata value replaced, one tensor dropped (drop != NULL), or one added */
static void rewrite(const char *src, const char *dst, const char *key, const char *value, const char *drop, int add) {
    ima_st_file f;
    CHECK(ima_st_read(&f, src) == IMA_OK, "read %s: %s", src, ima_last_error());
    ima_st_writer *w = ima_st_writer_init();
    for (size_t t = 0; t < f.n_tensors; t++)
        if (!drop || strcmp(f.tensors[t].name, drop))
            ima_st_writer_add(w, f.tensors[t].name, f.tensors[t].dtype, f.tensors[t].ndim, f.tensors[t].shape,
                              f.tensors[t].data);
    float extra[2] = {1, 2};
    size_t shape[1] = {2};
    if (add) ima_st_writer_add(w, "stray", IMA_DTYPE_F32, 1, shape, extra);
    for (size_t k = 0; k < f.n_meta; k++)
        ima_st_writer_meta(w, f.meta_keys[k], key && !strcmp(f.meta_keys[k], key) ? value : f.meta_values[k]);
    CHECK(ima_st_writer_write(w, dst) == IMA_OK, "write %s: %s", dst, ima_last_error());
    ima_st_writer_free(w);
    ima_st_free(&f);
}

#define CHECK_REFUSED(path, what)                                                                                      \
    do {                                                                                                               \
        ima_baseline *x_ = NULL;                                                                                       \
        int rc_ = ima_baseline_checkpoint_load((path), 8, &x_, NULL, NULL);                                            \
        CHECK(rc_ == IMA_ERR && x_ == NULL, "%s was accepted", (path));                                                \
        CHECK(strstr(ima_last_error(), (path)) && strstr(ima_last_error(), (what)), "message lacks '%s': %s", (what),  \
              ima_last_error());                                                                                       \
        ima_baseline_free(x_);                                                                                         \
    } while (0)

static void check_kind(ima_baseline_kind kind) {
    const char *kn = ima_baseline_kind_name(kind);
    ima_baseline_config cfg = small_config(kind);
    ima_dataset ds;
    make_data(&ds, &cfg, 50, 3);
    const size_t B = 8;
    const uint64_t init_seed = 5, train_seed = 77;

    /* the library loop against the reference loop */
    ima_baseline *lib, *ref;
    CHECK(ima_baseline_init(&lib, &cfg, B, init_seed) == IMA_OK, "init: %s", ima_last_error());
    CHECK(ima_baseline_init(&ref, &cfg, B, init_seed) == IMA_OK, "init: %s", ima_last_error());
    ima_baseline_train_config tc = ima_baseline_train_defaults();
    tc.batch_size = B;
    tc.epochs = 3;
    tc.adam.lr = 3e-3f;
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, train_seed);
    loss_track lt = {0, 0};
    ima_baseline_train_callbacks cb = {.ctx = &lt, .on_epoch = track};
    CHECK(ima_baseline_train(lib, &ds, &tc, &st, &cb) == IMA_OK, "%s: train: %s", kn, ima_last_error());
    reference_loop(ref, &ds, B, 3, 3e-3f, train_seed);
    CHECK(same_model(lib, ref) && lib->step == 3 * 7, "%s: the library loop differs from the reference loop", kn);
    CHECK(st.epoch == 3 && isfinite(lt.first) && isfinite(lt.last), "%s: epochs %d, losses %g %g", kn, st.epoch,
          lt.first, lt.last);

    /* save, load: everything restored exactly */
    char *path = tu_path(dir, "ck.safetensors");
    CHECK(ima_baseline_checkpoint_save(path, lib, &tc, &st) == IMA_OK, "%s: save: %s", kn, ima_last_error());
    ima_baseline *back = NULL;
    ima_baseline_train_config tc2;
    ima_baseline_train_state st2;
    CHECK(ima_baseline_checkpoint_load(path, B, &back, &tc2, &st2) == IMA_OK, "%s: load: %s", kn, ima_last_error());
    if (back) {
        CHECK(same_model(lib, back), "%s: parameters, moments or step differ after a round trip", kn);
        CHECK(!memcmp(&back->cfg, &lib->cfg, sizeof cfg), "%s: configuration differs after a round trip", kn);
        CHECK(tc2.batch_size == B && tc2.epochs == 3 && tc2.adam.lr == tc.adam.lr && tc2.adam.beta2 == tc.adam.beta2,
              "%s: training configuration differs", kn);
        CHECK(st2.epoch == 3 && !memcmp(&st2.rng, &st.rng, sizeof st.rng), "%s: training state differs", kn);
        /* the same representation */
        ima_batch_buffer bb;
        ima_batch_buffer_init(&bb, &ds, B);
        size_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        const ima_batch *b = ima_batch_gather(&bb, &ds, idx, B);
        float z1[8 * 3], z2[8 * 3];
        ima_baseline_represent(lib, b, z1);
        ima_baseline_represent(back, b, z2);
        CHECK(!memcmp(z1, z2, sizeof z1), "%s: representation differs after a round trip", kn);
        ima_batch_buffer_free(&bb);
    }
    int is_bl = -1;
    CHECK(ima_checkpoint_detect(path, &is_bl) == IMA_OK && is_bl == 1, "%s: not detected as a baseline checkpoint", kn);

    /* resume: 2 epochs, save, load, 1 more == 3 epochs */
    ima_baseline *part;
    CHECK(ima_baseline_init(&part, &cfg, B, init_seed) == IMA_OK, "init");
    tc.epochs = 2;
    ima_baseline_train_state_init(&st, train_seed);
    CHECK(ima_baseline_train(part, &ds, &tc, &st, NULL) == IMA_OK, "%s: train 2: %s", kn, ima_last_error());
    char *p2 = tu_path(dir, "ck2.safetensors");
    CHECK(ima_baseline_checkpoint_save(p2, part, &tc, &st) == IMA_OK, "save: %s", ima_last_error());
    ima_baseline *resumed = NULL;
    CHECK(ima_baseline_checkpoint_load(p2, B, &resumed, &tc2, &st2) == IMA_OK, "load: %s", ima_last_error());
    if (resumed) {
        tc2.epochs = 3;
        CHECK(ima_baseline_train(resumed, &ds, &tc2, &st2, NULL) == IMA_OK, "resume: %s", ima_last_error());
        CHECK(same_model(resumed, lib), "%s: 2 + 1 epochs through a checkpoint differ from 3 epochs", kn);
    }

    /* a NaN stops training before the update, naming epoch, batch and term */
    for (size_t k = 0; k < part->n_params; k++) part->params[k] = NAN;
    long step = part->step;
    tc.epochs = 3;
    CHECK(ima_baseline_train(part, &ds, &tc, &st, NULL) == IMA_ERR, "%s: NaN parameters trained", kn);
    CHECK(strstr(ima_last_error(), "epoch 3, batch 1") && strstr(ima_last_error(), "rec[a]") &&
              strstr(ima_last_error(), "non-finite"),
          "%s: message: %s", kn, ima_last_error());
    CHECK(part->step == step && st.epoch == 2, "%s: the failing update was taken", kn);

    /* damaged files */
    if (kind == IMA_BASELINE_JMVAE) {
        FILE *f = fopen(path, "rb");
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char *cut = tu_path(dir, "cut.safetensors");
        tu_write_file(cut, buf, n / 2);
        CHECK_REFUSED(cut, "cut.safetensors");
        char *newer = tu_path(dir, "newer.safetensors");
        rewrite(path, newer, "version", "2", NULL, 0);
        CHECK_REFUSED(newer, "newer ima");
        char *other = tu_path(dir, "other.safetensors");
        rewrite(path, other, "format", "ima-checkpoint", NULL, 0);
        CHECK_REFUSED(other, "is this a baseline checkpoint");
        CHECK(ima_checkpoint_detect(other, &is_bl) == IMA_OK && is_bl == 0, "ima-checkpoint not detected");
        char *unknown = tu_path(dir, "unknown.safetensors");
        rewrite(path, unknown, "format", "gguf", NULL, 0);
        CHECK(ima_checkpoint_detect(unknown, &is_bl) == IMA_ERR && strstr(ima_last_error(), "gguf"),
              "unknown format: %s", ima_last_error());
        char *missing = tu_path(dir, "missing.safetensors");
        rewrite(path, missing, NULL, NULL, "joint.1.bias", 0);
        CHECK_REFUSED(missing, "joint.1.bias");
        char *extra = tu_path(dir, "extra.safetensors");
        rewrite(path, extra, NULL, NULL, NULL, 1);
        CHECK_REFUSED(extra, "tensors");
        char *badcfg = tu_path(dir, "badcfg.safetensors");
        rewrite(path, badcfg, "config", "{\"kind\": \"vae\"}", NULL, 0);
        CHECK_REFUSED(badcfg, "vae");
        lib->params[3] = NAN;
        char *nan = tu_path(dir, "nan.safetensors");
        CHECK(ima_baseline_checkpoint_save(nan, lib, NULL, NULL) == IMA_OK, "save");
        CHECK_REFUSED(nan, "a.expert.0.weight");
        free(cut), free(newer), free(other), free(unknown), free(missing), free(extra), free(badcfg), free(nan);
    }
    free(path);
    free(p2);
    ima_baseline_free(lib);
    ima_baseline_free(ref);
    ima_baseline_free(back);
    ima_baseline_free(part);
    ima_baseline_free(resumed);
    ima_dataset_free(&ds);
}

/* ---- KL warm-up and early stopping ------------------------------------------------------------------ */

#define MAX_EP 64
typedef struct {
    int n, monitor_calls;
    double valid[MAX_EP], klw[MAX_EP];
    int best[MAX_EP], stop[MAX_EP], validated[MAX_EP];
} es_log;

static int es_epoch(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                    const ima_baseline_epoch_report *r) {
    (void)bl, (void)st;
    es_log *l = ctx;
    if (l->n < MAX_EP) {
        l->valid[l->n] = r->valid.total, l->klw[l->n] = r->kl_weight, l->best[l->n] = r->best_epoch;
        l->stop[l->n] = r->stop, l->validated[l->n] = r->validated;
        l->n++;
    }
    return 0;
}

static int es_monitor(void *ctx, ima_baseline *bl, double *value) {
    (void)bl;
    ((es_log *)ctx)->monitor_calls++;
    *value = 0.5;
    return 0;
}

static void check_warmup_and_stopping(ima_baseline_kind kind) {
    const char *kn = ima_baseline_kind_name(kind);
    ima_baseline_config cfg = small_config(kind);
    ima_dataset ds, vs;
    make_data(&ds, &cfg, 48, 11);
    make_data(&vs, &cfg, 24, 12);
    const size_t B = 8; /* 6 batches per epoch */
    const int W = kind == IMA_BASELINE_DAE ? 0 : 3, cap = 40, P = 2;
    const float lr = 3e-2f; /* large: random targets overfit quickly, so the validation loss turns up */

    /* warm-up: the library loop against the reference loop with the per-batch KL weight */
    ima_baseline *lib, *ref;
    CHECK(ima_baseline_init(&lib, &cfg, B, 5) == IMA_OK && ima_baseline_init(&ref, &cfg, B, 5) == IMA_OK, "init");
    ima_baseline_train_config tc = ima_baseline_train_defaults();
    tc.batch_size = B;
    tc.epochs = 4;
    tc.adam.lr = lr;
    tc.kl_warmup_epochs = 3;
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, 9);
    es_log lg;
    memset(&lg, 0, sizeof lg);
    ima_baseline_train_callbacks cb = {.ctx = &lg, .on_epoch = es_epoch};
    CHECK(ima_baseline_train(lib, &ds, &tc, &st, &cb) == IMA_OK, "%s: warm-up train: %s", kn, ima_last_error());
    reference_loop_w(ref, &ds, B, 4, lr, 9, 3);
    CHECK(same_model(lib, ref), "%s: the warm-up loop differs from the reference loop", kn);
    CHECK(lg.n == 4 && fabs(lg.klw[0] - 1.0 / 3) < 1e-12 && fabs(lg.klw[1] - 2.0 / 3) < 1e-12 && lg.klw[2] == 1.0 &&
              lg.klw[3] == 1.0 && !lg.validated[0],
          "%s: KL weights %g %g %g %g", kn, lg.klw[0], lg.klw[1], lg.klw[2], lg.klw[3]);
    if (kind != IMA_BASELINE_DAE) {
        ima_baseline *plain;
        CHECK(ima_baseline_init(&plain, &cfg, B, 5) == IMA_OK, "init");
        reference_loop_w(plain, &ds, B, 4, lr, 9, 0);
        CHECK(memcmp(plain->params, lib->params, lib->n_params * sizeof(float)) != 0, "%s: the warm-up changed nothing",
              kn);
        ima_baseline_free(plain);
    }
    ima_baseline_free(lib);
    ima_baseline_free(ref);

    /* early stopping */
    CHECK(ima_baseline_init(&lib, &cfg, B, 5) == IMA_OK, "init");
    tc.epochs = cap;
    tc.kl_warmup_epochs = W;
    tc.patience = P;
    ima_baseline_train_state_init(&st, 9);
    memset(&lg, 0, sizeof lg);
    cb.valid = &vs;
    cb.monitor = es_monitor;
    CHECK(ima_baseline_train(lib, &ds, &tc, &st, &cb) == IMA_OK, "%s: early-stopping train: %s", kn, ima_last_error());
    int best = st.best_epoch, run = st.epoch;
    CHECK(lg.n == run && lg.monitor_calls == run, "%s: %d reports, %d monitor calls for %d epochs", kn, lg.n,
          lg.monitor_calls, run);
    CHECK(best >= (W > 0 ? W : 1) && best <= run, "%s: kept epoch %d of %d (warm-up %d)", kn, best, run, W);
    int lowest = 1;
    for (int e = (W > 0 ? W : 1); e <= run; e++) lowest &= lg.valid[e - 1] >= lg.valid[best - 1];
    CHECK(lowest && st.best_loss == lg.valid[best - 1], "%s: kept epoch %d is not the lowest validation loss", kn,
          best);
    CHECK(st.stopped ? run - best == P && lg.stop[run - 1] : run == cap, "%s: stopped %d at %d, best %d", kn,
          st.stopped, run, best);
    CHECK(st.stopped, "%s: no early stop within %d epochs (the test expects the validation loss to turn up)", kn, cap);
    CHECK(lg.best[run - 1] == best, "%s: the last report names epoch %d, the state %d", kn, lg.best[run - 1], best);
    /* the parameters left equal a run of exactly `best` epochs, whose validation loss is the reported one */
    CHECK(ima_baseline_init(&ref, &cfg, B, 5) == IMA_OK, "init");
    ima_baseline_train_config tb = tc;
    tb.epochs = best;
    tb.patience = 0;
    ima_baseline_train_state sb;
    ima_baseline_train_state_init(&sb, 9);
    CHECK(ima_baseline_train(ref, &ds, &tb, &sb, NULL) == IMA_OK, "%s: train %d epochs: %s", kn, best,
          ima_last_error());
    CHECK(!memcmp(ref->params, lib->params, lib->n_params * sizeof(float)),
          "%s: the parameters left are not those of epoch %d", kn, best);
    ima_baseline_terms vt;
    CHECK(ima_baseline_valid_loss(ref, &vs, B, &vt) == IMA_OK && vt.total == lg.valid[best - 1],
          "%s: validation loss %.9g, reported %.9g", kn, vt.total, lg.valid[best - 1]);
    /* refusals */
    tb.patience = 3;
    CHECK(ima_baseline_train(ref, &ds, &tb, &sb, NULL) == IMA_ERR && strstr(ima_last_error(), "validation set"),
          "%s: patience without a validation set was accepted", kn);
    ima_baseline_free(lib);
    ima_baseline_free(ref);
    ima_dataset_free(&ds);
    ima_dataset_free(&vs);
}

/* IMA stage 1: the same rule on the validation L_auto */
typedef struct {
    int n, best, stop;
    double valid[MAX_EP];
} ima_log;

static int ima_epoch_cb(void *ctx, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    (void)m, (void)st;
    ima_log *l = ctx;
    if (r->stage == 1 && l->n < MAX_EP) l->valid[l->n++] = r->valid_loss, l->best = r->best_epoch, l->stop = r->stop;
    return 0;
}

static void ima_data(ima_dataset *ds, size_t N, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ds->n = N;
    ds->n_modalities = 2;
    size_t D[2] = {6, 5};
    for (int j = 0; j < 2; j++) {
        ds->width[j] = D[j];
        ds->x[j] = malloc(N * D[j] * sizeof(float));
        for (size_t k = 0; k < N * D[j]; k++)
            ds->x[j][k] = j == 0 ? (float)(ima_rng_uniform(&rng) < 0.4) : (float)ima_rng_normal(&rng);
    }
    ds->mask = malloc(2 * N);
    memset(ds->mask, 1, 2 * N);
}

static void check_ima_stage1(void) {
    ima_config cfg = tu_small_config(6, 5);
    ima_dataset ds, vs;
    ima_data(&ds, 40, 21);
    ima_data(&vs, 20, 22);
    ima_model *a, *b;
    CHECK(ima_model_init(&a, &cfg, 8, 3) == IMA_OK && ima_model_init(&b, &cfg, 8, 3) == IMA_OK, "ima init");
    ima_model_fit_center(a, &ds);
    ima_model_fit_center(b, &ds);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 8;
    tc.epochs_stage1 = 60;
    tc.epochs_stage2 = 0;
    tc.patience_stage1 = 2;
    tc.adam_stage1.lr = 3e-2f;
    ima_train_state st;
    ima_train_state_init(&st, 4);
    ima_log lg;
    memset(&lg, 0, sizeof lg);
    ima_train_callbacks cb = {.ctx = &lg, .on_epoch = ima_epoch_cb, .valid = &vs};
    CHECK(ima_train(a, &ds, &tc, &st, &cb) == IMA_OK, "ima train: %s", ima_last_error());
    int best = lg.best, run = lg.n;
    CHECK(lg.stop && run - best == 2, "IMA stage 1: ran %d epochs, best %d, stop %d", run, best, lg.stop);
    int lowest = 1;
    for (int e = 0; e < run; e++) lowest &= isfinite(lg.valid[e]) && lg.valid[e] >= lg.valid[best - 1];
    CHECK(lowest, "IMA stage 1: kept epoch %d is not the lowest validation L_auto", best);
    tc.epochs_stage1 = best;
    tc.patience_stage1 = 0;
    ima_train_state_init(&st, 4);
    CHECK(ima_train(b, &ds, &tc, &st, NULL) == IMA_OK, "ima train %d epochs: %s", best, ima_last_error());
    CHECK(!memcmp(a->params, b->params, a->n_params_ae * sizeof(float)),
          "IMA stage 1: the autoencoder left is not that of epoch %d", best);
    ima_stage1_terms t;
    CHECK(ima_stage1_valid_loss(b, &vs, IMA_WEIGHTS_ONE, &t) == IMA_OK && t.total == lg.valid[best - 1],
          "IMA stage 1: validation L_auto %.9g, reported %.9g", t.total, lg.valid[best - 1]);
    tc.patience_stage1 = 2;
    ima_train_state_init(&st, 4);
    CHECK(ima_train(b, &ds, &tc, &st, NULL) == IMA_ERR && strstr(ima_last_error(), "validation set"),
          "IMA: stage-1 patience without a validation set was accepted");
    ima_model_free(a);
    ima_model_free(b);
    ima_dataset_free(&ds);
    ima_dataset_free(&vs);
}

int main(void) {
    dir = tu_tmpdir();
    for (int k = IMA_BASELINE_MVAE; k <= IMA_BASELINE_DAE; k++) check_kind((ima_baseline_kind)k);
    for (int k = IMA_BASELINE_MVAE; k <= IMA_BASELINE_DAE; k++) check_warmup_and_stopping((ima_baseline_kind)k);
    check_ima_stage1();
    free(dir);
    return tu_finish("baseline_train");
}
