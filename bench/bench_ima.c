/* bench_ima.c: training and inference throughput of the IMA digits configuration, beside the
 * single-precision GEMM rate of the same OpenBLAS, measured in the same process.
 *
 *   bench_ima [--threads T] [--batches 64,256,1024] [--samples N] [--epochs E] [--warmup W]
 *             [--latent d] [--what s1,s2,inf,gemm] [--rss N]
 *
 * Dimensions: N samples per epoch, B batch rows, M = 2 modalities, D_j input, H_j hidden, d latent.
 *
 * Method (the same in bench/torch_twin.py): random inputs of the right shapes (uniform [0,1], every
 * modality present), W warm-up epochs, then E timed epochs of N samples; the figure is the median
 * epoch. Training epochs go through the library's own loop (ima_train: shuffle, gather, forward,
 * backward, finiteness check, Adam), stage 1 and stage 2 separately. Inference is
 * ima_model_encode(IMA_WEIGHTS_IMPORTANCE) over contiguous slices: both encoders, both importance
 * nets, the fused z.
 *
 * FLOP counts are those of the matrix products only (2 per multiply-add), per sample:
 *   stage 1   encoders and decoders forward, decoders backward (dW and dx), encoders backward
 *             (dW, and dx for every layer but the first)
 *   stage 2   encoders forward, importance nets forward and backward (no dx at the first layer)
 *   inference encoders and importance nets forward
 * Element-wise work (bias, activations, losses, fusion, Adam) is not counted.
 *
 * GEMM rate: cblas_sgemm at large square sizes (the machine's practical peak), at every layer shape
 * of the model (forward NT, weight gradient TN, input gradient NN), and the exact GEMM sequence of
 * one stage-1 step run alone (the GEMM-bound ceiling of our stage 1).
 *
 * --rss N: trains one stage-1 and one stage-2 epoch on a synthetic corpus of N pairs through
 * ima_train and prints the corpus size and the peak RSS (getrusage), for /usr/bin/time -v to confirm.
 *
 * Output: one "key=value ..." line per figure (bench/run turns them into tables). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/model.h"
#include "ima/train.h"

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill_uniform(float *p, size_t n, ima_rng *rng) {
    for (size_t k = 0; k < n; k++) p[k] = (float)ima_rng_uniform(rng);
}

/* ---- FLOP counts (matrix products only) ------------------------------------------- */

static double mlp_macs(const ima_mlp *mlp, int skip_first_dx, int backward) {
    double f = 0.0, first = 0.0;
    for (int l = 0; l < mlp->n_layers; l++) {
        double mac = (double)mlp->width[l] * (double)mlp->width[l + 1];
        f += mac;
        if (l == 0) first = mac;
    }
    if (!backward) return f;
    return 3.0 * f - (skip_first_dx ? first : 0.0);
}

static double flops_per_sample(const ima_model *m, const char *what) {
    double macs = 0.0;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const ima_modality *md = &m->mod[j];
        if (!strcmp(what, "s1")) macs += mlp_macs(&md->enc, 1, 1) + mlp_macs(&md->dec, 0, 1);
        if (!strcmp(what, "s2")) macs += mlp_macs(&md->enc, 0, 0) + mlp_macs(&md->imp, 1, 1);
        if (!strcmp(what, "inf")) macs += mlp_macs(&md->enc, 0, 0) + mlp_macs(&md->imp, 0, 0);
    }
    return 2.0 * macs;
}

/* ---- GEMM rate ------------------------------------------------------------------- */

typedef struct {
    int ta, tb;  /* 1: transposed operand */
    int m, n, k; /* C (m,n) = op(A) (m,k) op(B) (k,n) */
} gemm_shape;

static float *g_a, *g_b, *g_c; /* operands big enough for every shape benchmarked */

static void run_gemm(const gemm_shape *s) {
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k,
                1.0f, g_a, lda, g_b, ldb, 1.0f, g_c, s->n);
}

/* median GFLOP/s of 5 timings of a sequence of GEMMs, each timing repeated to >= min_s seconds */
static double gemm_rate(const gemm_shape *seq, int n, double min_s) {
    double flops = 0.0, t[5];
    for (int q = 0; q < n; q++) flops += 2.0 * seq[q].m * (double)seq[q].n * seq[q].k;
    for (int q = 0; q < n; q++) run_gemm(&seq[q]); /* warm-up */
    int reps = 1;
    for (;;) {
        double t0 = wall();
        for (int r = 0; r < reps; r++)
            for (int q = 0; q < n; q++) run_gemm(&seq[q]);
        double dt = wall() - t0;
        if (dt >= min_s) break;
        reps = dt > 0 ? (int)(reps * 1.3 * min_s / dt) + 1 : reps * 10;
    }
    for (int s = 0; s < 5; s++) {
        double t0 = wall();
        for (int r = 0; r < reps; r++)
            for (int q = 0; q < n; q++) run_gemm(&seq[q]);
        t[s] = (wall() - t0) / reps;
    }
    return flops / bench_median(t, 5) * 1e-9;
}

/* the GEMMs of one stage-1 step at batch B, in the order the model runs them */
static int stage1_gemms(const ima_model *m, int B, gemm_shape *seq) {
    int n = 0;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const ima_mlp *nets[2] = {&m->mod[j].enc, &m->mod[j].dec};
        for (int e = 0; e < 2; e++)
            for (int l = 0; l < 3; l++) /* forward: out (B,O) = in (B,I) W^T */
                seq[n++] = (gemm_shape){0, 1, B, (int)nets[e]->width[l + 1], (int)nets[e]->width[l]};
        for (int e = 1; e >= 0; e--)
            for (int l = 2; l >= 0; l--) {
                int I = (int)nets[e]->width[l], O = (int)nets[e]->width[l + 1];
                seq[n++] = (gemm_shape){1, 0, O, I, B};                      /* dW (O,I) += dout^T in */
                if (e == 1 || l > 0) seq[n++] = (gemm_shape){0, 0, B, I, O}; /* din (B,I) = dout W */
            }
    }
    return n;
}

static void bench_gemm(const ima_model *m, const int *batches, int nbatch, int threads) {
    size_t big = 2048 * 2048;
    g_a = ima_malloc(big * sizeof(float));
    g_b = ima_malloc(big * sizeof(float));
    g_c = ima_malloc(big * sizeof(float));
    ima_rng rng;
    ima_rng_init(&rng, 7);
    fill_uniform(g_a, big, &rng);
    fill_uniform(g_b, big, &rng);
    memset(g_c, 0, big * sizeof(float));
    static const int squares[] = {512, 1024, 2048};
    for (int q = 0; q < 3; q++) {
        int s = squares[q];
        gemm_shape sh = {0, 0, s, s, s};
        printf("kind=gemm_square threads=%d size=%d gflops=%.2f\n", threads, s, gemm_rate(&sh, 1, 0.15));
        fflush(stdout);
    }
    for (int bi = 0; bi < nbatch; bi++) {
        int B = batches[bi];
        gemm_shape seq[64];
        int n = stage1_gemms(m, B, seq);
        printf("kind=gemm_stage1 threads=%d batch=%d gflops=%.2f\n", threads, B, gemm_rate(seq, n, 0.15));
        /* each distinct layer shape (NT forward, TN weight gradient, NN input gradient) */
        for (int q = 0; q < n; q++) {
            int dup = 0;
            for (int r = 0; r < q && !dup; r++)
                dup = seq[r].ta == seq[q].ta && seq[r].tb == seq[q].tb && seq[r].m == seq[q].m &&
                      seq[r].n == seq[q].n && seq[r].k == seq[q].k;
            if (dup) continue;
            printf("kind=gemm_shape threads=%d batch=%d op=%s m=%d n=%d k=%d gflops=%.2f\n", threads, B,
                   seq[q].ta ? "TN" : (seq[q].tb ? "NT" : "NN"), seq[q].m, seq[q].n, seq[q].k,
                   gemm_rate(&seq[q], 1, 0.02));
        }
        fflush(stdout);
    }
    free(g_a);
    free(g_b);
    free(g_c);
}

/* ---- training and inference throughput ------------------------------------------ */

typedef struct {
    double *sec, *cpu; /* wall and CPU seconds per epoch */
    double cpu_last;
    int n, cap;
} epoch_log;

static int on_epoch(void *ctx, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    epoch_log *lg = ctx;
    double c = bench_cpu_seconds();
    if (lg->n < lg->cap) {
        lg->cpu[lg->n] = c - lg->cpu_last;
        lg->sec[lg->n++] = r->seconds;
    }
    lg->cpu_last = c;
    return 0;
}

static void synthetic(ima_dataset *ds, const ima_config *cfg, size_t n, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->n_modalities = cfg->n_modalities;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    for (int j = 0; j < cfg->n_modalities; j++) {
        ds->width[j] = cfg->mod[j].input_width;
        ds->x[j] = ima_malloc(n * ds->width[j] * sizeof(float));
        fill_uniform(ds->x[j], n * ds->width[j], &rng);
    }
    ds->mask = ima_malloc(n * (size_t)cfg->n_modalities);
    memset(ds->mask, 1, n * (size_t)cfg->n_modalities);
}

/* median seconds per epoch of stage 1 or 2 through ima_train */
static double time_training(const ima_config *cfg, const ima_dataset *ds, int stage, size_t B, int warmup, int epochs,
                            double *cpu_out) {
    ima_model *m;
    if (ima_model_init(&m, cfg, B, 1)) {
        fprintf(stderr, "bench_ima: %s\n", ima_last_error());
        exit(1);
    }
    ima_model_fit_center(m, ds);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = B;
    tc.epochs_stage1 = stage == 1 ? warmup + epochs : 0;
    tc.epochs_stage2 = stage == 2 ? warmup + epochs : 0;
    double sec[64], cpu[64];
    epoch_log lg = {sec, cpu, bench_cpu_seconds(), 0, 64};
    ima_train_callbacks cb = {.ctx = &lg, .on_epoch = on_epoch};
    ima_train_state st;
    ima_train_state_init(&st, 3);
    if (ima_train(m, ds, &tc, &st, &cb)) {
        fprintf(stderr, "bench_ima: %s\n", ima_last_error());
        exit(1);
    }
    ima_model_free(m);
    *cpu_out = bench_median(cpu + warmup, lg.n - warmup);
    return bench_median(sec + warmup, lg.n - warmup);
}

static double time_inference(const ima_config *cfg, const ima_dataset *ds, size_t B, int warmup, int epochs,
                             double *cpu_out) {
    ima_model *m;
    if (ima_model_init(&m, cfg, B, 1)) {
        fprintf(stderr, "bench_ima: %s\n", ima_last_error());
        exit(1);
    }
    ima_model_fit_center(m, ds);
    double sec[64], cpu[64];
    int n = 0;
    volatile float sink = 0.0f;
    for (int e = 0; e < warmup + epochs && e < 64; e++) {
        double t0 = wall(), c0 = bench_cpu_seconds();
        for (size_t lo = 0; lo < ds->n; lo += B) {
            ima_batch b;
            memset(&b, 0, sizeof b);
            b.B = lo + B <= ds->n ? B : ds->n - lo;
            for (int j = 0; j < cfg->n_modalities; j++) b.x[j] = ds->x[j] + lo * ds->width[j];
            ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE);
            sink += m->z[0];
        }
        cpu[n] = bench_cpu_seconds() - c0;
        sec[n++] = wall() - t0;
    }
    (void)sink;
    ima_model_free(m);
    *cpu_out = bench_median(cpu + warmup, n - warmup);
    return bench_median(sec + warmup, n - warmup);
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- main ------------------------------------------------------------------------ */

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    char *end;
    while (*s && n < cap) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1) return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

static long parse_long(const char *s, const char *flag) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0) {
        fprintf(stderr, "bench_ima: %s: expected a non-negative integer, got '%s'\n", flag, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    int threads = 1, batches[8] = {64, 256, 1024}, nbatch = 3, warmup = 1, epochs = 5;
    long samples = 20480, latent = 50, rss = 0;
    const char *what = "s1,s2,inf,gemm";
    for (int a = 1; a < argc; a++) {
        const char *f = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_ima: %s needs a value\n", f);
            return 2;
        }
        a++;
        if (!strcmp(f, "--threads")) threads = (int)parse_long(v, f);
        else if (!strcmp(f, "--batches")) {
            if ((nbatch = parse_list(v, batches, 8)) < 1) {
                fprintf(stderr, "bench_ima: --batches: expected a list like 64,256,1024, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(f, "--samples")) samples = parse_long(v, f);
        else if (!strcmp(f, "--epochs")) epochs = (int)parse_long(v, f);
        else if (!strcmp(f, "--warmup")) warmup = (int)parse_long(v, f);
        else if (!strcmp(f, "--latent")) latent = parse_long(v, f);
        else if (!strcmp(f, "--what")) what = v;
        else if (!strcmp(f, "--rss")) rss = parse_long(v, f);
        else {
            fprintf(stderr, "bench_ima: unknown option %s\n", f);
            return 2;
        }
    }
    if (threads < 1 || epochs < 1 || epochs + warmup > 64 || samples < 1) {
        fprintf(stderr, "bench_ima: need threads >= 1, 1 <= epochs, epochs + warmup <= 64, samples >= 1\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    ima_config cfg = ima_config_digits((size_t)latent);

    if (rss > 0) { /* peak memory of training on a corpus of rss pairs */
        ima_dataset ds;
        synthetic(&ds, &cfg, (size_t)rss, 11);
        double corpus_mb = 0;
        for (int j = 0; j < cfg.n_modalities; j++) corpus_mb += (double)rss * ds.width[j] * 4 / 1e6;
        long before = peak_rss_kb();
        ima_model *m;
        if (ima_model_init(&m, &cfg, (size_t)batches[0], 1)) return 1;
        ima_model_fit_center(m, &ds);
        ima_train_config tc = ima_train_defaults();
        tc.batch_size = (size_t)batches[0];
        tc.epochs_stage1 = tc.epochs_stage2 = 1;
        ima_train_state st;
        ima_train_state_init(&st, 3);
        if (ima_train(m, &ds, &tc, &st, NULL)) {
            fprintf(stderr, "bench_ima: %s\n", ima_last_error());
            return 1;
        }
        printf("kind=rss threads=%d batch=%d pairs=%ld corpus_mb=%.1f rss_after_corpus_mb=%.1f peak_rss_mb=%.1f\n",
               threads, batches[0], rss, corpus_mb, before / 1024.0 * 1.048576, peak_rss_kb() / 1024.0 * 1.048576);
        ima_model_free(m);
        ima_dataset_free(&ds);
        return 0;
    }

    ima_model *probe;
    if (ima_model_init(&probe, &cfg, 1, 1)) {
        fprintf(stderr, "bench_ima: %s\n", ima_last_error());
        return 1;
    }
    if (strstr(what, "gemm")) bench_gemm(probe, batches, nbatch, threads);

    ima_dataset ds;
    synthetic(&ds, &cfg, (size_t)samples, 5);
    static const char *kinds[] = {"s1", "s2", "inf"};
    for (int k = 0; k < 3; k++) {
        if (!strstr(what, kinds[k])) continue;
        double fps = flops_per_sample(probe, kinds[k]);
        for (int bi = 0; bi < nbatch; bi++) {
            size_t B = (size_t)batches[bi];
            double cpu;
            double sec = k == 2 ? time_inference(&cfg, &ds, B, warmup, epochs, &cpu)
                                : time_training(&cfg, &ds, k + 1, B, warmup, epochs, &cpu);
            double sps = (double)samples / sec;
            printf("kind=%s side=ima variant=ima threads=%d batch=%zu samples=%ld epochs=%d sps=%.1f "
                   "mflop_per_sample=%.4f gflops=%.2f cpu_sps=%.1f\n",
                   kinds[k], threads, B, samples, epochs, sps, fps * 1e-6, sps * fps * 1e-9, (double)samples / cpu);
            fflush(stdout);
        }
    }
    ima_dataset_free(&ds);
    ima_model_free(probe);
    return 0;
}
