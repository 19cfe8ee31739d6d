/* bench_baselines.c: per-epoch time of the baselines (MVAE, JMVAE-KL, DAE) in the digits configuration,
 * against one IMA stage-1 epoch of the same rows.
 *
 * Synthetic digits-shaped data (image 784, speech 696, uniform in [0, 1], every modality present), N training
 * rows (default 10,240) and V validation rows (default 2,000), batch 256. For each model and latent width
 * (2, 50) it runs W warm-up epochs (1) and then E timed epochs (3) through the library's own loop
 * (ima_baseline_train with the validation set: training, then the validation loss) and then one
 * representation pass over the V validation rows (the repro's per-epoch probe), and prints the medians of
 *   train_s / train_cpu   wall and process CPU seconds of the training part of an epoch
 *   valid_s / valid_cpu   wall and CPU seconds of the validation loss + representation pass of an epoch
 * as key=value lines. CPU seconds count every thread of the process: other processes on the machine do not
 * inflate them, so they compare runs on a shared machine; per_full_epoch_s scales train_s + valid_s to the
 * full corpus (49,499 training, 6,000 validation rows) for a feel of the repro's epoch.
 *
 * --shape emotion: the emotion repro's baselines instead (src/repro/emotion.c: words 100 and acoustics 27 wide,
 * standard normal as the standardized features, hidden 100, latent 50 only, SSE, alpha 0.01; no IMA row).
 * --split 1 turns the baselines' two-thread row split on (ima_baseline.threads = 2, opt-in: src/baselines/split.c);
 * 0 (default) leaves the library's default (OpenBLAS's own T threads per product).
 *
 * usage: bench_baselines [--threads T] [--rows N] [--valid V] [--epochs E] [--warmup W] [--models mvae,jmvae,dae,ima]
 *                        [--latent 2|50] [--shape digits|emotion] [--split 0|1] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/blas.h"
#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/train.h"

enum { BATCH = 256, MAX_E = 32 };

static void make_data(ima_dataset *ds, size_t n, uint64_t seed, int emo) {
    memset(ds, 0, sizeof *ds);
    ima_rng rng;
    ima_rng_init(&rng, seed);
    ds->n = n;
    ds->n_modalities = 2;
    ds->width[0] = emo ? 100 : 784;
    ds->width[1] = emo ? 27 : 696;
    for (int j = 0; j < 2; j++) {
        ds->x[j] = ima_malloc(n * ds->width[j] * sizeof(float));
        for (size_t k = 0; k < n * ds->width[j]; k++)
            ds->x[j][k] = (float)(emo ? ima_rng_normal(&rng) : ima_rng_uniform(&rng));
    }
    ds->mask = ima_malloc(n * 2);
    memset(ds->mask, 1, n * 2);
}

/* per-epoch clocks, filled by the callbacks */
typedef struct {
    double w0, c0; // at the start of the epoch's training part
    double wv, cv; // at the end of the training part (the monitor runs after the validation loss)
    double tw[MAX_E], tc[MAX_E], vw[MAX_E], vc[MAX_E];
    int n;
    const ima_dataset *valid;
    float *z;
} clocks;

static void on_batch(void *ctx, size_t done, size_t total) {
    clocks *c = ctx;
    if (done == total) c->wv = ima_wall_seconds(), c->cv = bench_cpu_seconds();
}

/* the repro's per-epoch probe: the representation of the validation rows */
static int monitor(void *ctx, ima_baseline *bl, double *value) {
    clocks *c = ctx;
    const ima_dataset *v = c->valid;
    size_t d = bl->cfg.latent_width;
    for (size_t lo = 0; lo < v->n; lo += BATCH) {
        ima_batch b;
        memset(&b, 0, sizeof b);
        b.B = v->n - lo < BATCH ? v->n - lo : BATCH;
        for (int j = 0; j < 2; j++) b.x[j] = v->x[j] + lo * v->width[j];
        ima_baseline_represent(bl, &b, c->z + lo * d);
    }
    *value = c->z[0];
    return IMA_OK;
}

static int on_epoch(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                    const ima_baseline_epoch_report *r) {
    (void)bl, (void)st, (void)r;
    clocks *c = ctx;
    double w = ima_wall_seconds(), cpu = bench_cpu_seconds();
    if (c->n < MAX_E) {
        c->tw[c->n] = c->wv - c->w0, c->tc[c->n] = c->cv - c->c0;
        c->vw[c->n] = w - c->wv, c->vc[c->n] = cpu - c->cv;
        c->n++;
    }
    c->w0 = w, c->c0 = cpu;
    return 0;
}

static void bench_baseline(ima_baseline_kind kind, size_t latent, const ima_dataset *ds, const ima_dataset *va,
                           int warmup, int epochs, int threads, int emo, int split) {
    ima_baseline_config bc = ima_baseline_config_digits(kind, latent);
    if (kind == IMA_BASELINE_JMVAE) bc.alpha = 1.0f; /* the repro's setting */
    if (emo) { /* src/repro/emotion.c's baselines */
        bc.alpha = 0.01f;
        for (int j = 0; j < 2; j++) {
            snprintf(bc.mod[j].name, sizeof bc.mod[j].name, "%s", j ? "acoustics" : "words");
            bc.mod[j].input_width = ds->width[j];
            bc.mod[j].hidden_width = 100;
            bc.mod[j].loss = IMA_LOSS_SSE;
        }
    }
    ima_baseline *bl;
    if (ima_baseline_init(&bl, &bc, BATCH, 1)) {
        fprintf(stderr, "bench_baselines: %s\n", ima_last_error());
        exit(1);
    }
    if (split) bl->threads = 2;
    ima_baseline_train_config tc = ima_baseline_train_defaults();
    tc.batch_size = BATCH;
    tc.epochs = warmup + epochs;
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, 5);
    clocks c;
    memset(&c, 0, sizeof c);
    c.valid = va;
    c.z = ima_malloc(va->n * latent * sizeof(float));
    ima_baseline_train_callbacks cb = {.ctx = &c,
                                       .on_batch = on_batch,
                                       .on_epoch = on_epoch,
                                       .valid = va,
                                       .monitor = monitor};
    c.w0 = ima_wall_seconds(), c.c0 = bench_cpu_seconds();
    if (ima_baseline_train(bl, ds, &tc, &st, &cb)) {
        fprintf(stderr, "bench_baselines: %s\n", ima_last_error());
        exit(1);
    }
    int n = c.n - warmup;
    double tw = bench_median(c.tw + warmup, n), tcpu = bench_median(c.tc + warmup, n);
    double vw = bench_median(c.vw + warmup, n), vcpu = bench_median(c.vc + warmup, n);
    double full = tw * 49499.0 / (double)ds->n + vw * 6000.0 / (double)va->n;
    printf("model=%s shape=%s split=%d latent=%zu threads=%d rows=%zu valid=%zu epochs=%d train_s=%.3f train_cpu=%.3f "
           "valid_s=%.3f valid_cpu=%.3f cpu_sps=%.1f per_full_epoch_s=%.1f\n",
           ima_baseline_kind_name(kind), emo ? "emotion" : "digits", split, latent, threads, ds->n, va->n, n, tw, tcpu,
           vw, vcpu, (double)ds->n / tcpu, full);
    fflush(stdout);
    free(c.z);
    ima_baseline_free(bl);
}

typedef struct {
    double t0, c0, tw[MAX_E], tc[MAX_E];
    int n;
} ima_clocks;

static int ima_on_epoch(void *ctx, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    (void)m, (void)st, (void)r;
    ima_clocks *c = ctx;
    double w = ima_wall_seconds(), cpu = bench_cpu_seconds();
    if (c->n < MAX_E) c->tw[c->n] = w - c->t0, c->tc[c->n] = cpu - c->c0, c->n++;
    c->t0 = w, c->c0 = cpu;
    return 0;
}

static void bench_ima_stage1(size_t latent, const ima_dataset *ds, int warmup, int epochs, int threads) {
    ima_config cfg = ima_config_digits(latent);
    ima_model *m;
    if (ima_model_init(&m, &cfg, BATCH, 1)) {
        fprintf(stderr, "bench_baselines: %s\n", ima_last_error());
        exit(1);
    }
    ima_model_fit_center(m, ds);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = BATCH;
    tc.epochs_stage1 = warmup + epochs;
    tc.epochs_stage2 = 0;
    ima_clocks c;
    memset(&c, 0, sizeof c);
    ima_train_callbacks cb = {.ctx = &c, .on_epoch = ima_on_epoch};
    ima_train_state st;
    ima_train_state_init(&st, 3);
    c.t0 = ima_wall_seconds(), c.c0 = bench_cpu_seconds();
    if (ima_train(m, ds, &tc, &st, &cb)) {
        fprintf(stderr, "bench_baselines: %s\n", ima_last_error());
        exit(1);
    }
    int n = c.n - warmup;
    double tw = bench_median(c.tw + warmup, n), tcpu = bench_median(c.tc + warmup, n);
    printf("model=ima-stage1 latent=%zu threads=%d rows=%zu epochs=%d train_s=%.3f train_cpu=%.3f cpu_sps=%.1f "
           "per_full_epoch_s=%.1f\n",
           latent, threads, ds->n, n, tw, tcpu, (double)ds->n / tcpu, tw * 49499.0 / (double)ds->n);
    fflush(stdout);
    ima_model_free(m);
}

int main(int argc, char **argv) {
    int threads = 2, epochs = 3, warmup = 1, only_latent = 0, emo = 0, split = 0;
    size_t rows = 10240, valid = 2000;
    const char *models = "mvae,jmvae,dae,ima";
    for (int a = 1; a + 1 < argc; a += 2) {
        const char *f = argv[a], *v = argv[a + 1];
        if (!strcmp(f, "--threads")) threads = atoi(v);
        else if (!strcmp(f, "--rows")) rows = (size_t)atol(v);
        else if (!strcmp(f, "--valid")) valid = (size_t)atol(v);
        else if (!strcmp(f, "--epochs")) epochs = atoi(v);
        else if (!strcmp(f, "--warmup")) warmup = atoi(v);
        else if (!strcmp(f, "--models")) models = v;
        else if (!strcmp(f, "--latent")) only_latent = atoi(v);
        else if (!strcmp(f, "--split")) split = atoi(v) != 0;
        else if (!strcmp(f, "--shape") && (!strcmp(v, "digits") || !strcmp(v, "emotion"))) emo = !strcmp(v, "emotion");
        else {
            fprintf(stderr, "bench_baselines: unknown flag %s\n", f);
            return 1;
        }
    }
    if (threads < 1 || epochs < 1 || warmup < 0 || epochs + warmup > MAX_E || rows < BATCH || valid < 1) {
        fprintf(stderr, "bench_baselines: need threads >= 1, epochs >= 1, epochs + warmup <= %d, rows >= %d\n", MAX_E,
                BATCH);
        return 1;
    }
    openblas_set_num_threads(threads);
    ima_dataset ds, va;
    make_data(&ds, rows, 11, emo);
    make_data(&va, valid, 12, emo);
    const size_t latents[2] = {50, 2};
    for (int l = 0; l < 2; l++) {
        if ((only_latent && (size_t)only_latent != latents[l]) || (emo && latents[l] != 50)) continue;
        for (int k = IMA_BASELINE_MVAE; k <= IMA_BASELINE_DAE; k++)
            if (strstr(models, ima_baseline_kind_name((ima_baseline_kind)k)))
                bench_baseline((ima_baseline_kind)k, latents[l], &ds, &va, warmup, epochs, threads, emo, split);
        if (strstr(models, "ima") && !emo) bench_ima_stage1(latents[l], &ds, warmup, epochs, threads);
    }
    ima_dataset_free(&ds);
    ima_dataset_free(&va);
    return 0;
}
