/* cmd_train.c: `ima train`: train IMA on one .npy per modality and write a checkpoint after every epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/modality_args.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/train.h"

static const char *CMD = "train";

static void usage(FILE *out) {
    fprintf(out,
            "usage: ima train --input NAME=PATH.npy [--input NAME=PATH.npy ...] --out CKPT.safetensors [options]\n"
            "\n"
            "Trains the Importance-based Multimodal Autoencoder in two stages (autoencoder, then importance\n"
            "networks), alternated for --rounds rounds, and writes a safetensors checkpoint after every epoch.\n"
            "With --model mvae|jmvae|dae it trains a baseline instead (see the end of this help).\n"
            "\n"
            "  --model ima|mvae|jmvae|dae  the model to train (ima)\n"
            "data:\n"
            "  --input NAME=PATH     one float .npy (N x D) per modality; NAME is the modality's name\n"
            "  --mask NAME=PATH      0/1 .npy (N) of which rows have this modality (default: all)\n"
            "model (per-modality flags take NAME=VALUE, or a bare VALUE for every modality):\n"
            "  --preset digits       the paper's digits model: image H=500 bce rho 0.8, speech H=100 bce rho 0.3\n"
            "  --latent D            shared latent width d (50)\n"
            "  --hidden [NAME=]H     hidden width H_j (100)\n"
            "  --loss [NAME=]bce|sse reconstruction loss (bce: inputs in [0,1])\n"
            "  --rho [NAME=]R        importance prior rho_j in (0,1) (0.5)\n"
            "  --lambda-glob V       weight of ||z||^2 (1)\n"
            "  --lambda-rec [NAME=]V, --lambda-align [NAME=]V, --lambda-local [NAME=]V, --lambda-corr [NAME=]V\n"
            "                        loss weights (1 each, as in the paper)\n"
            "  --no-center           do not subtract the training mean at encoder/importance inputs\n"
            "training:\n"
            "  --epochs1 N           stage-1 epochs per round (40)\n"
            "  --epochs2 N           stage-2 epochs per round (10)\n"
            "  --rounds R            rounds of stage 1 + stage 2 (1)\n"
            "  --batch B             batch size (256)\n"
            "  --lr1 LR, --lr2 LR    Adam learning rates of stage 1 and stage 2 (0.001)\n"
            "  --seed S              seed of initialisation and shuffling (1)\n"
            "  --threads T           OpenBLAS threads (1)\n"
            "  --resume CKPT         continue from a checkpoint (its model, optimizer and position)\n"
            "output:\n"
            "  --out CKPT            checkpoint path (written atomically after every epoch)\n"
            "  --log FILE.tsv        one line per epoch with every loss term\n"
            "  --quiet               no per-epoch lines\n"
            "\n");
    train_baseline_usage(out);
}

/* flags that belong to the baselines only */
static const char *const BASELINE_ONLY[] = {"--alpha",        "--beta",          "--mvae-subsets", "--dae-feature-drop",
                                            "--dae-modality-drop", "--gaussian-decoders", "--joint-hidden",
                                            "--epochs",       "--lr"};

/* --model: 0 and *baseline = 0 for ima (or no --model), 0 and *baseline = 1 with *kind set, 2 on error */
static int parse_model(int argc, char **argv, int *baseline, ima_baseline_kind *kind) {
    *baseline = 0;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!arg_is(argv[i], "--model")) continue;
        if (!(model = arg_value(CMD, argc, argv, &i))) return 2;
    }
    if (!model || !strcmp(model, "ima")) return 0;
    if (ima_baseline_kind_parse(kind, model)) {
        fprintf(stderr, "ima train: --model: expected ima, mvae, jmvae or dae, got '%s'\n", model);
        return 2;
    }
    *baseline = 1;
    return 0;
}

static int apply_named(ima_config *cfg, const modality_inputs *in, const named_opt *o) {
    const char *value;
    int lo, hi;
    if (named_target(in, CMD, o, &lo, &hi, &value)) return -1;
    for (int j = lo; j < hi; j++) {
        ima_modality_config *c = &cfg->mod[j];
        if (!strcmp(o->flag, "--loss")) {
            if (arg_loss(CMD, value, &c->loss)) return -1;
        } else if (!strcmp(o->flag, "--hidden")) {
            long h;
            if (arg_long(CMD, o->flag, value, 1, 65536, &h)) return -1;
            c->hidden_width = (size_t)h;
        } else {
            float *dst = !strcmp(o->flag, "--rho")            ? &c->rho
                         : !strcmp(o->flag, "--lambda-rec")   ? &c->lambda_rec
                         : !strcmp(o->flag, "--lambda-align") ? &c->lambda_align
                         : !strcmp(o->flag, "--lambda-local") ? &c->lambda_local
                                                              : &c->lambda_corr;
            double lo_v = !strcmp(o->flag, "--rho") ? 1e-6 : 0.0, hi_v = !strcmp(o->flag, "--rho") ? 1 - 1e-6 : 1e9;
            if (arg_float(CMD, o->flag, value, lo_v, hi_v, dst)) return -1;
        }
    }
    return 0;
}

typedef struct {
    const char *out, *log_path;
    FILE *log;
    int quiet;
    progress bar;
    const ima_train_config *tc;
    double first_corr[IMA_MAX_MODALITIES];
} train_ctx;

static void on_batch(void *vc, const ima_train_state *st, size_t done, size_t total) {
    train_ctx *c = vc;
    if (done == 1) {
        static char label[64];
        snprintf(label, sizeof label, "round %d stage %d epoch %d", st->round, st->stage, st->epoch + 1);
        progress_begin(&c->bar, label, total);
    }
    progress_update(&c->bar, done, NULL);
    if (done == total && c->bar.tty) fprintf(stderr, "\r\033[K");
}

static int on_epoch(void *vc, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    train_ctx *c = vc;
    int M = m->cfg.n_modalities;
    char line[2048];
    int n = snprintf(line, sizeof line, "round %d stage %d epoch %d/%d  %.1fs  %.0f samples/s ", r->round, r->stage,
                     r->epoch, r->epochs, r->seconds, (double)r->samples / r->seconds);
    if (r->stage == 1) {
        n += snprintf(line + n, sizeof line - (size_t)n, " L_auto %.4f  glob %.4f", r->s1.total, r->s1.glob);
        for (int j = 0; j < M; j++)
            n += snprintf(line + n, sizeof line - (size_t)n, "  rec[%s] %.4f  align[%s] %.4f  dead[%s] %.0f%%",
                          m->cfg.mod[j].name, r->s1.rec[j], m->cfg.mod[j].name, r->s1.align[j], m->cfg.mod[j].name,
                          100 * r->dead[j]);
    } else {
        n += snprintf(line + n, sizeof line - (size_t)n, " L_imp %.6g", r->s2.total);
        for (int j = 0; j < M; j++)
            n += snprintf(line + n, sizeof line - (size_t)n, "  corr[%s] %.4g  local[%s] %.4g  mean_y[%s] %.3f",
                          m->cfg.mod[j].name, r->s2.corr[j], m->cfg.mod[j].name, r->s2.local[j], m->cfg.mod[j].name,
                          r->mean_y[j]);
    }
    if (!c->quiet) fprintf(stderr, "%s\n", line);
    if (r->stage == 2) { /* SPEC section 8: make a collapse visible */
        for (int j = 0; j < M; j++) {
            if (r->epoch == 1) c->first_corr[j] = r->s2.corr[j];
            if (r->mean_y[j] > 0.99)
                fprintf(stderr, "warning: importance of '%s' collapsed: mean y = %.4f > 0.99 (every sample important)\n",
                        m->cfg.mod[j].name, r->mean_y[j]);
            else if (r->epoch > 1 && c->first_corr[j] > 0 && r->s2.corr[j] < 1e-3 * c->first_corr[j])
                fprintf(stderr, "warning: L_corr of '%s' fell from %.3g to %.3g (over 1000x): likely collapse\n",
                        m->cfg.mod[j].name, c->first_corr[j], r->s2.corr[j]);
        }
    }
    if (c->log) {
        fprintf(c->log, "%d\t%d\t%d\t%.3f", r->round, r->stage, r->epoch, r->seconds);
        fprintf(c->log, "\t%.8g\t%.8g", r->stage == 1 ? r->s1.total : r->s2.total, r->s1.glob);
        for (int j = 0; j < M; j++)
            fprintf(c->log, "\t%.8g\t%.8g\t%.8g\t%.8g\t%.8g\t%.4f", r->s1.rec[j], r->s1.align[j], r->s2.corr[j],
                    r->s2.local[j], r->mean_y[j], r->dead[j]);
        fputc('\n', c->log);
        fflush(c->log);
    }
    if (ima_checkpoint_save(c->out, m, c->tc, st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return -1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    modality_inputs in;
    memset(&in, 0, sizeof in);
    named_opts opts;
    opts.n = 0;
    int preset_digits = 0, no_center = 0, quiet = 0;
    const char *mask_args[IMA_MAX_MODALITIES];
    int n_masks = 0;
    const char *out = NULL, *resume = NULL, *log_path = NULL;
    long latent = 50, e1 = 40, e2 = 10, rounds = 1, batch = 256, threads = 1;
    float lambda_glob = 1.0f, lr1 = 1e-3f, lr2 = 1e-3f;
    uint64_t seed = 1;
    int given_e1 = 0, given_e2 = 0, given_rounds = 0, given_batch = 0, given_lr1 = 0, given_lr2 = 0;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    int baseline;
    ima_baseline_kind kind;
    if (parse_model(argc, argv, &baseline, &kind)) return 2;
    if (baseline) return cmd_train_baseline(argc, argv, kind);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        for (size_t k = 0; k < sizeof BASELINE_ONLY / sizeof *BASELINE_ONLY; k++)
            if (arg_is(a, BASELINE_ONLY[k])) {
                fprintf(stderr, "ima train: %s applies to the baselines only (--model mvae|jmvae|dae), not to IMA\n",
                        BASELINE_ONLY[k]);
                return 2;
            }
#define VALUE()                                                                                                        \
    do {                                                                                                               \
        if (!(v = arg_value(CMD, argc, argv, &i))) return 2;                                                           \
    } while (0)
        if (arg_is(a, "--model")) {
            VALUE(); /* "ima": checked by parse_model */
        } else if (arg_is(a, "--input")) {
            VALUE();
            if (inputs_add(&in, CMD, v)) return 2;
        } else if (arg_is(a, "--mask")) {
            VALUE();
            if (n_masks >= IMA_MAX_MODALITIES) return arg_unknown(CMD, a);
            mask_args[n_masks++] = v;
        } else if (arg_is(a, "--hidden") || arg_is(a, "--loss") || arg_is(a, "--rho") || arg_is(a, "--lambda-rec") ||
                   arg_is(a, "--lambda-align") || arg_is(a, "--lambda-local") || arg_is(a, "--lambda-corr")) {
            if (named_opts_add(&opts, CMD, argc, argv, &i)) return 2;
        } else if (arg_is(a, "--preset")) {
            VALUE();
            if (strcmp(v, "digits")) {
                fprintf(stderr, "ima train: --preset: expected 'digits', got '%s'\n", v);
                return 2;
            }
            preset_digits = 1;
        } else if (arg_is(a, "--latent")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 65536, &latent)) return 2;
        } else if (arg_is(a, "--lambda-glob")) {
            VALUE();
            if (arg_float(CMD, a, v, 0, 1e9, &lambda_glob)) return 2;
        } else if (arg_is(a, "--no-center")) {
            no_center = 1;
        } else if (arg_is(a, "--epochs1")) {
            VALUE();
            if (arg_long(CMD, a, v, 0, 1000000, &e1)) return 2;
            given_e1 = 1;
        } else if (arg_is(a, "--epochs2")) {
            VALUE();
            if (arg_long(CMD, a, v, 0, 1000000, &e2)) return 2;
            given_e2 = 1;
        } else if (arg_is(a, "--rounds")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 1000, &rounds)) return 2;
            given_rounds = 1;
        } else if (arg_is(a, "--batch")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 1 << 20, &batch)) return 2;
            given_batch = 1;
        } else if (arg_is(a, "--lr1")) {
            VALUE();
            if (arg_float(CMD, a, v, 1e-12, 1e6, &lr1)) return 2;
            given_lr1 = 1;
        } else if (arg_is(a, "--lr2")) {
            VALUE();
            if (arg_float(CMD, a, v, 1e-12, 1e6, &lr2)) return 2;
            given_lr2 = 1;
        } else if (arg_is(a, "--seed")) {
            VALUE();
            if (arg_u64(CMD, a, v, &seed)) return 2;
        } else if (arg_is(a, "--threads")) {
            VALUE();
            if (arg_long(CMD, a, v, 1, 256, &threads)) return 2;
        } else if (arg_is(a, "--out")) {
            VALUE();
            out = v;
        } else if (arg_is(a, "--resume")) {
            VALUE();
            resume = v;
        } else if (arg_is(a, "--log")) {
            VALUE();
            log_path = v;
        } else if (arg_is(a, "--quiet")) {
            quiet = 1;
        } else {
            return arg_unknown(CMD, a);
        }
#undef VALUE
    }
    if (in.n == 0) {
        fprintf(stderr, "ima train: no --input NAME=PATH.npy given (see ima train --help)\n");
        return 2;
    }
    if (!out) {
        fprintf(stderr, "ima train: --out CKPT.safetensors is required\n");
        return 2;
    }
    if (inputs_resolve_masks(&in, CMD, mask_args, n_masks)) return 2;
    openblas_set_num_threads((int)threads);

    /* data first: its widths fill the configuration */
    ima_dataset ds;
    if (ima_dataset_load(&ds, in.n, in.path, in.mask)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return 1;
    }
    ima_model *m = NULL;
    ima_train_config tc = ima_train_defaults();
    ima_train_state st;
    train_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int rc = 1;
    if (resume) {
        if (opts.n || preset_digits || no_center) {
            fprintf(stderr, "ima train: --resume takes the model from the checkpoint: model flags are not allowed\n");
            goto done;
        }
        /* the state first (it says the batch size), then the model for the batch it will train with */
        if (ima_checkpoint_read_state(resume, NULL, &tc, &st)) {
            fprintf(stderr, "ima train: %s\n", ima_last_error());
            goto done;
        }
        if (given_batch) tc.batch_size = (size_t)batch;
        if (ima_checkpoint_load(resume, tc.batch_size, &m, NULL, NULL)) {
            fprintf(stderr, "ima train: %s\n", ima_last_error());
            goto done;
        }
        for (int j = 0; j < m->cfg.n_modalities; j++)
            if (strcmp(m->cfg.mod[j].name, in.name[j])) {
                fprintf(stderr, "ima train: --input %s: the checkpoint's modality %d is '%s' (give them in its order)\n",
                        in.name[j], j + 1, m->cfg.mod[j].name);
                goto done;
            }
    } else {
        ima_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.n_modalities = in.n;
        cfg.latent_width = (size_t)latent;
        cfg.lambda_glob = lambda_glob;
        cfg.center_inputs = !no_center;
        for (int j = 0; j < in.n; j++) {
            ima_modality_config *c = &cfg.mod[j];
            snprintf(c->name, sizeof c->name, "%s", in.name[j]);
            c->input_width = ds.width[j];
            c->hidden_width = 100;
            c->loss = IMA_LOSS_BCE;
            c->lambda_rec = c->lambda_align = c->lambda_local = c->lambda_corr = 1.0f;
            c->rho = 0.5f;
        }
        if (preset_digits) {
            ima_config d = ima_config_digits((size_t)latent);
            for (int k = 0; k < d.n_modalities; k++) {
                int j = inputs_index(&in, d.mod[k].name);
                if (j < 0) {
                    fprintf(stderr, "ima train: --preset digits: needs --input %s=PATH\n", d.mod[k].name);
                    goto done;
                }
                cfg.mod[j].hidden_width = d.mod[k].hidden_width;
                cfg.mod[j].loss = d.mod[k].loss;
                cfg.mod[j].rho = d.mod[k].rho;
            }
        }
        for (int k = 0; k < opts.n; k++)
            if (apply_named(&cfg, &in, &opts.opt[k])) goto done;
        tc.batch_size = (size_t)batch;
        if (ima_model_init(&m, &cfg, tc.batch_size, seed)) {
            fprintf(stderr, "ima train: %s\n", ima_last_error());
            goto done;
        }
        ima_train_state_init(&st, seed ^ 0x5eedULL);
    }
    if (ima_dataset_check(&ds, &m->cfg, in.path)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    if (given_e1 || !resume) tc.epochs_stage1 = (int)e1;
    if (given_e2 || !resume) tc.epochs_stage2 = (int)e2;
    if (given_rounds || !resume) tc.rounds = (int)rounds;
    if (given_lr1 || !resume) tc.adam_stage1.lr = lr1;
    if (given_lr2 || !resume) tc.adam_stage2.lr = lr2;
    if (resume && st.finished && (given_e1 || given_e2 || given_rounds)) st.finished = 0; /* extend training */
    if (!resume) ima_model_fit_center(m, &ds);

    size_t ne, nd, ni;
    ima_model_param_counts(m, &ne, &nd, &ni);
    fprintf(stderr, "ima train: %zu samples, %d modalities, latent %zu; parameters: encoders %zu, decoders %zu, importance %zu\n",
            ds.n, m->cfg.n_modalities, m->cfg.latent_width, ne, nd, ni);
    ctx.out = out, ctx.log_path = log_path, ctx.quiet = quiet, ctx.tc = &tc;
    if (log_path) {
        ctx.log = fopen(log_path, resume ? "a" : "w");
        if (!ctx.log) {
            fprintf(stderr, "ima train: --log %s: cannot open for writing\n", log_path);
            goto done;
        }
        if (!resume) {
            fprintf(ctx.log, "round\tstage\tepoch\tseconds\ttotal\tglob");
            for (int j = 0; j < m->cfg.n_modalities; j++) {
                const char *nm = m->cfg.mod[j].name;
                fprintf(ctx.log, "\trec_%s\talign_%s\tcorr_%s\tlocal_%s\tmean_y_%s\tdead_%s", nm, nm, nm, nm, nm, nm);
            }
            fputc('\n', ctx.log);
        }
    }
    /* write the starting point, so that a failure in epoch 1 still leaves a valid checkpoint behind */
    if (!resume && ima_checkpoint_save(out, m, &tc, &st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    ima_train_callbacks cb = {.ctx = &ctx, .on_batch = on_batch, .on_epoch = on_epoch};
    if (ima_train(m, &ds, &tc, &st, &cb)) {
        if (*ima_last_error()) fprintf(stderr, "ima train: %s; the last good checkpoint is %s\n", ima_last_error(), out);
        goto done;
    }
    if (ima_checkpoint_save(out, m, &tc, &st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    fprintf(stderr, "ima train: wrote %s\n", out);
    rc = 0;
done:
    if (ctx.log) fclose(ctx.log);
    ima_model_free(m);
    ima_dataset_free(&ds);
    return rc;
}
