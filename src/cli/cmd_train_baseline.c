/* cmd_train_baseline.c: `ima train --model mvae|jmvae|dae`: train a baseline (baselines.h) on one .npy per
 * modality with the library loop (baseline_train.h) and write a checkpoint after every epoch.
 * M modalities, N rows, d latent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/modality_args.h"
#include "core/blas.h"
#include "ima/baseline_train.h"
#include "ima/common.h"

static const char *CMD = "train";

void train_baseline_usage(FILE *out) {
    fprintf(out,
            "baselines (--model mvae|jmvae|dae; SPEC.md section 6, docs/baselines.md):\n"
            "  one training stage; these flags apply (the others are IMA's and are refused):\n"
            "  --input, --mask, --latent (50), --hidden [NAME=]H (100), --loss [NAME=]bce|sse, --lambda-rec [NAME=]V,\n"
            "  --preset digits (hidden widths 500 / 100), --batch, --seed, --threads, --out, --log, --quiet,\n"
            "  --epochs1 N or --epochs N   epochs (20)\n"
            "  --lr1 LR or --lr LR         Adam learning rate (0.001)\n"
            "  --joint-hidden H            JMVAE joint encoder / DAE encoder hidden width (0: sum of --hidden)\n"
            "  --beta B                    mvae, jmvae: weight of KL(q || N(0, I)) (1)\n"
            "  --alpha A                   jmvae: weight of sum_j KL(q(z|x) || q(z|x_j)) (0.01)\n"
            "  --mvae-subsets K            mvae, M > 2: random subset ELBO terms per batch, 0..16 (0)\n"
            "  --dae-feature-drop P        dae: feature masking probability (0.3)\n"
            "  --dae-modality-drop P       dae: whole-modality drop probability (0.3)\n"
            "  --gaussian-decoders         every decoder outputs a mean and a log-variance (Gaussian NLL; implies\n"
            "                              --loss sse): with --preset digits --latent 50 the paper's Table 4 sizes\n");
}

/* flags that belong to IMA only */
static const char *const IMA_ONLY[] = {"--rho",    "--lambda-glob", "--lambda-align", "--lambda-local", "--lambda-corr",
                                       "--no-center", "--epochs2",  "--lr2",          "--rounds",       "--resume"};

typedef struct {
    const char *flag;
    const char *arg;
} named_opt;

static int apply_named(ima_baseline_config *cfg, const modality_inputs *in, const named_opt *o, int *loss_given) {
    char name[IMA_NAME_MAX];
    const char *value = o->arg;
    int lo = 0, hi = cfg->n_modalities;
    if (strchr(o->arg, '=')) {
        if (split_named(o->arg, name, sizeof name, &value)) {
            fprintf(stderr, "ima train: %s: expected NAME=VALUE or VALUE, got '%s'\n", o->flag, o->arg);
            return -1;
        }
        int j = inputs_index(in, name);
        if (j < 0) {
            fprintf(stderr, "ima train: %s: no modality named '%s' (name it with --input %s=PATH)\n", o->flag, name,
                    name);
            return -1;
        }
        lo = j, hi = j + 1;
    }
    for (int j = lo; j < hi; j++) {
        ima_baseline_modality *c = &cfg->mod[j];
        if (!strcmp(o->flag, "--loss")) {
            if (!strcmp(value, "bce"))
                c->loss = IMA_LOSS_BCE;
            else if (!strcmp(value, "sse"))
                c->loss = IMA_LOSS_SSE;
            else {
                fprintf(stderr, "ima train: --loss: expected bce or sse, got '%s'\n", value);
                return -1;
            }
            loss_given[j] = 1;
        } else if (!strcmp(o->flag, "--hidden")) {
            long h;
            if (arg_long(CMD, o->flag, value, 1, 65536, &h))
                return -1;
            c->hidden_width = (size_t)h;
        } else if (arg_float(CMD, o->flag, value, 0.0, 1e9, &c->lambda_rec)) {
            return -1;
        }
    }
    return 0;
}

/* 2000360 -> "2,000,360" */
static const char *grouped(char *buf, size_t n) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", n), o = 0;
    for (int k = 0; k < len; k++) {
        if (k && (len - k) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[k];
    }
    buf[o] = '\0';
    return buf;
}

/* the paper's Table 4 beside the model's count, when the architecture is the digits one */
static void print_table4(const ima_baseline_config *cfg, size_t total) {
    ima_baseline_config d = ima_baseline_config_digits(cfg->kind, 50);
    if (cfg->n_modalities != 2 || cfg->latent_width != 50 || cfg->joint_hidden != 0)
        return;
    for (int j = 0; j < 2; j++)
        if (cfg->mod[j].input_width != d.mod[j].input_width || cfg->mod[j].hidden_width != d.mod[j].hidden_width)
            return;
    char a[32], b[32];
    if (cfg->kind == IMA_BASELINE_DAE) {
        fprintf(stderr, "ima train: digits architecture: %s parameters (the paper's Table 4 does not list the "
                        "denoising AE)\n", grouped(a, total));
        return;
    }
    ima_baseline_config t4 = ima_baseline_config_digits_table4(cfg->kind, 50);
    size_t paper = ima_baseline_config_param_counts(&t4, NULL, NULL, NULL);
    int gauss = cfg->mod[0].gaussian_logvar && cfg->mod[1].gaussian_logvar;
    fprintf(stderr, "ima train: digits architecture: %s parameters; Table 4 (%s): %s%s\n", grouped(a, total),
            cfg->kind == IMA_BASELINE_MVAE ? "MVAE" : "JMVAE-KL", grouped(b, paper),
            total == paper ? " (equal)"
            : gauss        ? ""
                           : " (the paper's decoders have Gaussian heads: --gaussian-decoders)");
}

typedef struct {
    const char *out;
    FILE *log;
    int quiet;
    progress bar;
    const ima_baseline_train_config *tc;
    char label[64];
    int epoch;
} train_ctx;

static void on_batch(void *vc, size_t done, size_t total) {
    train_ctx *c = vc;
    if (done == 1) {
        snprintf(c->label, sizeof c->label, "epoch %d", c->epoch + 1);
        progress_begin(&c->bar, c->label, total);
    }
    progress_update(&c->bar, done, NULL);
    if (done == total && c->bar.tty)
        fprintf(stderr, "\r\033[K");
}

static int on_epoch(void *vc, const ima_baseline *bl, const ima_baseline_train_state *st,
                    const ima_baseline_epoch_report *r) {
    train_ctx *c = vc;
    const ima_baseline_config *cfg = &bl->cfg;
    c->epoch = r->epoch;
    if (!c->quiet) {
        char line[2048];
        int n = snprintf(line, sizeof line, "epoch %d/%d  %.1fs  %.0f samples/s  loss %.4f", r->epoch, r->epochs,
                         r->seconds, (double)r->samples / (r->seconds > 0 ? r->seconds : 1e-9), r->terms.total);
        for (int j = 0; j < cfg->n_modalities; j++)
            n += snprintf(line + n, sizeof line - (size_t)n, "  rec[%s] %.4f", cfg->mod[j].name, r->terms.rec[j]);
        if (cfg->kind != IMA_BASELINE_DAE)
            n += snprintf(line + n, sizeof line - (size_t)n, "  kl %.4f", r->terms.kl);
        if (cfg->kind == IMA_BASELINE_JMVAE)
            snprintf(line + n, sizeof line - (size_t)n, "  kl_uni %.4f", r->terms.kl_uni);
        fprintf(stderr, "%s\n", line);
    }
    if (c->log) {
        fprintf(c->log, "%d\t%.3f\t%.8g", r->epoch, r->seconds, r->terms.total);
        for (int j = 0; j < cfg->n_modalities; j++)
            fprintf(c->log, "\t%.8g", r->terms.rec[j]);
        fprintf(c->log, "\t%.8g\t%.8g\n", r->terms.kl, r->terms.kl_uni);
        fflush(c->log);
    }
    if (ima_baseline_checkpoint_save(c->out, bl, c->tc, st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return -1;
    }
    return 0;
}

int cmd_train_baseline(int argc, char **argv, ima_baseline_kind kind) {
    const char *kname = ima_baseline_kind_name(kind);
    modality_inputs in;
    memset(&in, 0, sizeof in);
    named_opt opts[128];
    static char flags[128][32];
    int n_opts = 0, preset_digits = 0, quiet = 0, gaussian = 0, n_masks = 0;
    const char *mask_args[IMA_MAX_MODALITIES], *out = NULL, *log_path = NULL;
    long latent = 50, epochs = 20, batch = 256, threads = 1, subsets = -1, joint_hidden = 0;
    float lr = 1e-3f, alpha = -1, beta = -1, feat_drop = -1, mod_drop = -1;
    uint64_t seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VALUE()                                                                                                        \
    do {                                                                                                               \
        if (!(v = arg_value(CMD, argc, argv, &i)))                                                                     \
            return 2;                                                                                                  \
    } while (0)
/* a model-specific flag used with another model */
#define ONLY_FOR(ok, which)                                                                                            \
    do {                                                                                                               \
        if (!(ok)) {                                                                                                   \
            fprintf(stderr, "ima train: %.*s applies to %s only, not to --model %s\n", (int)strcspn(a, "="), a,       \
                    which, kname);                                                                                     \
            return 2;                                                                                                  \
        }                                                                                                              \
    } while (0)
        for (size_t k = 0; k < sizeof IMA_ONLY / sizeof *IMA_ONLY; k++)
            if (arg_is(a, IMA_ONLY[k])) {
                fprintf(stderr, "ima train: %s applies to IMA only, not to --model %s (see ima train --help)\n",
                        IMA_ONLY[k], kname);
                return 2;
            }
        if (arg_is(a, "--model")) {
            VALUE(); /* checked by cmd_train */
        } else if (arg_is(a, "--input")) {
            VALUE();
            if (inputs_add(&in, CMD, v))
                return 2;
        } else if (arg_is(a, "--mask")) {
            VALUE();
            if (n_masks >= IMA_MAX_MODALITIES)
                return arg_unknown(CMD, a);
            mask_args[n_masks++] = v;
        } else if (arg_is(a, "--hidden") || arg_is(a, "--loss") || arg_is(a, "--lambda-rec")) {
            if (n_opts >= 128) {
                fprintf(stderr, "ima train: too many per-modality options\n");
                return 2;
            }
            snprintf(flags[n_opts], sizeof flags[n_opts], "%.*s", (int)strcspn(a, "="), a);
            VALUE();
            opts[n_opts].flag = flags[n_opts];
            opts[n_opts].arg = v;
            n_opts++;
        } else if (arg_is(a, "--preset")) {
            VALUE();
            if (strcmp(v, "digits")) {
                fprintf(stderr, "ima train: --preset: expected 'digits', got '%s'\n", v);
                return 2;
            }
            preset_digits = 1;
        } else if (arg_is(a, "--latent")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 65536, &latent))
                return 2;
        } else if (arg_is(a, "--joint-hidden")) {
            ONLY_FOR(kind != IMA_BASELINE_MVAE, "jmvae and dae");
            VALUE();
            if (arg_long(CMD, a, v, 0, 65536, &joint_hidden))
                return 2;
        } else if (arg_is(a, "--epochs1") || arg_is(a, "--epochs")) {
            VALUE();
            if (arg_long(CMD, a, v, 0, 1000000, &epochs))
                return 2;
        } else if (arg_is(a, "--lr1") || arg_is(a, "--lr")) {
            VALUE();
            if (arg_float(CMD, a, v, 1e-12, 1e6, &lr))
                return 2;
        } else if (arg_is(a, "--batch")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 1 << 20, &batch))
                return 2;
        } else if (arg_is(a, "--seed")) {
            VALUE();
            if (arg_u64(CMD, a, v, &seed))
                return 2;
        } else if (arg_is(a, "--threads")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 256, &threads))
                return 2;
        } else if (arg_is(a, "--alpha")) {
            ONLY_FOR(kind == IMA_BASELINE_JMVAE, "jmvae");
            VALUE();
            if (arg_float(CMD, a, v, 0, 1e6, &alpha))
                return 2;
        } else if (arg_is(a, "--beta")) {
            ONLY_FOR(kind != IMA_BASELINE_DAE, "mvae and jmvae");
            VALUE();
            if (arg_float(CMD, a, v, 0, 1e6, &beta))
                return 2;
        } else if (arg_is(a, "--mvae-subsets")) {
            ONLY_FOR(kind == IMA_BASELINE_MVAE, "mvae");
            VALUE();
            if (arg_long(CMD, a, v, 0, IMA_BASELINE_MAX_SUBSETS, &subsets))
                return 2;
        } else if (arg_is(a, "--dae-feature-drop") || arg_is(a, "--dae-modality-drop")) {
            ONLY_FOR(kind == IMA_BASELINE_DAE, "dae");
            VALUE();
            if (arg_float(CMD, a, v, 0, 0.999, arg_is(a, "--dae-feature-drop") ? &feat_drop : &mod_drop))
                return 2;
        } else if (!strcmp(a, "--gaussian-decoders")) {
            gaussian = 1;
        } else if (arg_is(a, "--out")) {
            VALUE();
            out = v;
        } else if (arg_is(a, "--log")) {
            VALUE();
            log_path = v;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else {
            return arg_unknown(CMD, a);
        }
#undef VALUE
#undef ONLY_FOR
    }
    if (in.n == 0) {
        fprintf(stderr, "ima train: no --input NAME=PATH.npy given (see ima train --help)\n");
        return 2;
    }
    if (!out) {
        fprintf(stderr, "ima train: --out CKPT.safetensors is required\n");
        return 2;
    }
    if (kind == IMA_BASELINE_MVAE && subsets > 0 && in.n <= 2) {
        fprintf(stderr, "ima train: --mvae-subsets: with %d modalities every subset is already a term (needs M > 2)\n",
                in.n);
        return 2;
    }
    for (int k = 0; k < n_masks; k++) {
        char name[IMA_NAME_MAX];
        const char *path;
        int j;
        if (split_named(mask_args[k], name, sizeof name, &path) || (j = inputs_index(&in, name)) < 0) {
            fprintf(stderr, "ima train: --mask: expected NAME=PATH for a modality named by --input, got '%s'\n",
                    mask_args[k]);
            return 2;
        }
        in.mask[j] = path;
    }
    openblas_set_num_threads((int)threads);

    /* the configuration: the digits defaults for every scalar, the data's widths */
    ima_dataset ds;
    if (ima_dataset_load(&ds, in.n, in.path, in.mask)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return 1;
    }
    ima_baseline *bl = NULL;
    train_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int rc = 1, loss_given[IMA_MAX_MODALITIES] = {0};
    ima_baseline_config cfg = ima_baseline_config_digits(kind, (size_t)latent), digits = cfg;
    cfg.n_modalities = in.n;
    cfg.joint_hidden = (size_t)joint_hidden;
    if (alpha >= 0) cfg.alpha = alpha;
    if (beta >= 0) cfg.beta = beta;
    if (subsets >= 0) cfg.mvae_subsets = (int)subsets;
    if (feat_drop >= 0) cfg.dae_feature_drop = feat_drop;
    if (mod_drop >= 0) cfg.dae_modality_drop = mod_drop;
    for (int j = 0; j < in.n; j++) {
        ima_baseline_modality *c = &cfg.mod[j];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", in.name[j]);
        c->input_width = ds.width[j];
        c->hidden_width = 100;
        c->loss = IMA_LOSS_BCE;
        c->lambda_rec = 1.0f;
    }
    if (preset_digits)
        for (int k = 0; k < digits.n_modalities; k++) {
            int j = inputs_index(&in, digits.mod[k].name);
            if (j < 0) {
                fprintf(stderr, "ima train: --preset digits: needs --input %s=PATH\n", digits.mod[k].name);
                goto done;
            }
            cfg.mod[j].hidden_width = digits.mod[k].hidden_width;
        }
    for (int k = 0; k < n_opts; k++)
        if (apply_named(&cfg, &in, &opts[k], loss_given))
            goto done;
    if (gaussian)
        for (int j = 0; j < in.n; j++) {
            if (loss_given[j] && cfg.mod[j].loss == IMA_LOSS_BCE) {
                fprintf(stderr, "ima train: --gaussian-decoders: modality '%s' has --loss bce (Gaussian heads use "
                                "sse)\n", cfg.mod[j].name);
                goto done;
            }
            cfg.mod[j].loss = IMA_LOSS_SSE;
            cfg.mod[j].gaussian_logvar = 1;
        }
    /* the data checks of IMA (widths, bce range) through a mirror of the names, widths and losses */
    ima_config mirror;
    memset(&mirror, 0, sizeof mirror);
    mirror.n_modalities = cfg.n_modalities;
    for (int j = 0; j < cfg.n_modalities; j++) {
        snprintf(mirror.mod[j].name, sizeof mirror.mod[j].name, "%s", cfg.mod[j].name);
        mirror.mod[j].input_width = cfg.mod[j].input_width;
        mirror.mod[j].loss = cfg.mod[j].loss;
    }
    if (ima_dataset_check(&ds, &mirror, in.path) || ima_baseline_init(&bl, &cfg, (size_t)batch, seed)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    ima_baseline_train_config tc = ima_baseline_train_defaults();
    tc.batch_size = (size_t)batch;
    tc.epochs = (int)epochs;
    tc.adam.lr = lr;
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, seed ^ 0x5eedULL);

    size_t ne, nj, nd, total = ima_baseline_param_counts(bl, &ne, &nj, &nd);
    fprintf(stderr, "ima train: %s on %zu samples, %d modalities, latent %zu; parameters: experts %zu, joint %zu, "
                    "decoders %zu, total %zu\n",
            kname, ds.n, cfg.n_modalities, cfg.latent_width, ne, nj, nd, total);
    print_table4(&cfg, total);
    ctx.out = out, ctx.quiet = quiet, ctx.tc = &tc;
    if (log_path) {
        ctx.log = fopen(log_path, "w");
        if (!ctx.log) {
            fprintf(stderr, "ima train: --log %s: cannot open for writing\n", log_path);
            goto done;
        }
        fprintf(ctx.log, "epoch\tseconds\ttotal");
        for (int j = 0; j < cfg.n_modalities; j++)
            fprintf(ctx.log, "\trec_%s", cfg.mod[j].name);
        fprintf(ctx.log, "\tkl\tkl_uni\n");
    }
    /* the starting point, so that a failure in epoch 1 still leaves a valid checkpoint behind */
    if (ima_baseline_checkpoint_save(out, bl, &tc, &st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    ima_baseline_train_callbacks cb = {.ctx = &ctx, .on_batch = on_batch, .on_epoch = on_epoch};
    if (ima_baseline_train(bl, &ds, &tc, &st, &cb)) {
        if (*ima_last_error())
            fprintf(stderr, "ima train: %s; the last good checkpoint is %s\n", ima_last_error(), out);
        goto done;
    }
    fprintf(stderr, "ima train: wrote %s\n", out);
    rc = 0;
done:
    if (ctx.log)
        fclose(ctx.log);
    ima_baseline_free(bl);
    ima_dataset_free(&ds);
    return rc;
}
