/* cmd_train.c: `ima train`: train IMA (or, with --model, a baseline: cmd_train_baseline.c) on one .npy per
 * modality and write a checkpoint after every epoch. One flag table serves both (flag_spec.only names
 * the models a flag applies to); every default is the library's (train_opts_defaults). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/train_opts.h"
#include "core/blas.h"
#include "dist/dist.h"
#include "ima/common.h"
#include "io/atomic.h"
#include "io/tsv.h"

#define O(field) offsetof(train_opts, field)
#define MOD(field) offsetof(train_opts, cfg.mod[0].field), sizeof(ima_modality_config)
#define BMOD(field) offsetof(train_opts, bcfg.mod[0].field), sizeof(ima_baseline_modality)
#define PATHS(field) offsetof(train_opts, field), sizeof(const char *)

static const char *const MODELS[] = {"ima", "mvae", "jmvae", "dae", NULL};
_Static_assert(sizeof(ima_loss_kind) == sizeof(int), "--loss is a FLAG_CHOICE (int) target");
_Static_assert(sizeof(ima_importance_objective) == sizeof(int), "--importance-objective is a FLAG_CHOICE (int) target");
/* in ima_importance_objective order */
static const char *const OBJECTIVE_CHOICES[] = {"paper", "local-ev", NULL};

static int parse_preset(const char *cmd, const flag_spec *f, const char *value, void *target) {
    if (strcmp(value, "digits")) {
        fprintf(stderr, "ima %s: %s: expected 'digits', got '%s'\n", cmd, f->name, value);
        return -1;
    }
    *(int *)target = 1;
    return 0;
}

#define ROW FLAG_ROW
#define MODAL(...) FLAG_MODAL(__VA_ARGS__) /* MOD() and BMOD() expand to offset, stride first */
static const flag_spec FLAGS[] = {
    {.name = "--model",
     .type = FLAG_CHOICE,
     .off = O(model),
     .arg = "ima|mvae|jmvae|dae",
     .help = "the model to train",
     .choices = MODELS},
    FLAG_HEADING("data:", 0),
    {.name = "--input",
     .type = FLAG_CUSTOM,
     .off = O(in),
     .arg = "NAME=PATH",
     .parse = flag_parse_input,
     .help = "one float .npy (N x D) per modality; NAME is the modality's name"},
    {.name = "--mask",
     .type = FLAG_STR,
     .off = O(in.mask),
     .stride = sizeof(const char *),
     .arg = "PATH",
     .help = "0/1 .npy (N) of which rows have this modality (default: all)",
     .named_only = 1},
    {.name = "--valid-input",
     .type = FLAG_STR,
     .off = O(valid_path),
     .stride = sizeof(const char *),
     .arg = "PATH",
     .help = "validation .npy of the modality (all or none): stage 2 keeps\n"
             "                             its epoch with the best validation score (-L_imp); with\n"
             "                             --patience, early stopping on the validation loss",
     .named_only = 1},
    {.name = "--valid-mask",
     .type = FLAG_STR,
     .off = O(valid_mask),
     .stride = sizeof(const char *),
     .arg = "PATH",
     .help = "0/1 .npy (N): presence in the validation set",
     .named_only = 1},
    FLAG_HEADING("model (per-modality flags take NAME=VALUE, or a bare VALUE for every modality):", 0),
    {.name = "--preset",
     .type = FLAG_CUSTOM,
     .off = O(preset_digits),
     .arg = "digits",
     .parse = parse_preset,
     .help = "the paper's digits model: image H=500 bce rho 0.8, speech H=100 bce rho 0.3"},
    ROW("--latent", FLAG_SIZE, O(cfg.latent_width), 1, 65536, "D", "shared latent width d", V_IMA),
    MODAL("--hidden", FLAG_SIZE, MOD(hidden_width), 1, 65536, "H", "hidden width H_j", V_IMA),
    {.name = "--loss",
     .type = FLAG_CHOICE,
     .off = O(cfg.mod[0].loss),
     .stride = sizeof(ima_modality_config),
     .arg = "bce|sse",
     .help = "reconstruction loss (bce: inputs in [0,1])",
     .only = V_IMA,
     .choices = FLAG_LOSS_CHOICES},
    MODAL("--rho", FLAG_FLOAT, MOD(rho), 1e-6, 1 - 1e-6, "R", "importance prior rho_j in (0,1)", V_IMA),
    ROW("--lambda-glob", FLAG_FLOAT, O(cfg.lambda_glob), 0, 1e9, "V", "weight of ||z||^2", V_IMA),
    MODAL("--lambda-rec", FLAG_FLOAT, MOD(lambda_rec), 0, 1e9, "V", "weight of the reconstruction loss", V_IMA),
    MODAL("--lambda-align", FLAG_FLOAT, MOD(lambda_align), 0, 1e9, "V", "weight of ||z - u_j||^2", V_IMA),
    MODAL("--lambda-local", FLAG_FLOAT, MOD(lambda_local), 0, 1e9, "V", "weight of KL(Bern(ybar_j) || Bern(rho_j))",
          V_IMA),
    MODAL("--lambda-corr", FLAG_FLOAT, MOD(lambda_corr), 0, 1e9, "V", "weight of ||C_j||_F^2", V_IMA),
    ROW("--no-center", FLAG_SET, O(cfg.center_inputs), 0, 0, NULL,
        "do not subtract the training mean at encoder/importance inputs", V_IMA),
    {.name = "--importance-objective",
     .type = FLAG_CHOICE,
     .off = O(cfg.importance_objective),
     .arg = "paper|local-ev",
     .only = V_IMA,
     .choices = OBJECTIVE_CHOICES,
     .help =
         "stage-2 objective: the paper's (covariance + prior), or local-ev\n"
         "                             (beyond the paper, docs/importance.md: BCE to calibrated neighbour targets)"},
    ROW("--local-ev-k", FLAG_SIZE, O(cfg.local_ev_k), 0, 100000, "K", "local-ev: neighbours per sample (0: 50)", V_IMA),
    ROW("--fusion-sharpness", FLAG_FLOAT, O(cfg.fusion_sharpness), 0, IMA_MAX_FUSION_SHARPNESS, "K",
        "representations (embed) fuse with sigmoid(K logit y) instead of y;\n"
        "                             training fuses with y (beyond the paper, docs/importance.md); 0 or 1: off",
        V_IMA),
    FLAG_HEADING("training:", 0),
    ROW("--epochs1", FLAG_INT, O(tc.epochs_stage1), 0, 1000000, "N", "stage-1 epochs per round", V_IMA),
    ROW("--epochs2", FLAG_INT, O(tc.epochs_stage2), 0, 1000000, "N", "stage-2 epochs per round", V_IMA),
    ROW("--patience", FLAG_INT, O(tc.patience_stage1), 0, 1000000, "P",
        "stage-1 early stopping: stop after P epochs without a lower\n"
        "                             validation L_auto, keep the best (needs --valid-input; 0: off)",
        V_IMA),
    ROW("--rounds", FLAG_INT, O(tc.rounds), 1, 1000, "R", "rounds of stage 1 + stage 2", V_IMA),
    ROW("--batch", FLAG_SIZE, O(tc.batch_size), 1, 1 << 20, "B", "batch size", V_IMA),
    ROW("--lr1", FLAG_FLOAT, O(tc.adam_stage1.lr), 1e-12, 1e6, "LR", "Adam learning rate of stage 1", V_IMA),
    ROW("--lr2", FLAG_FLOAT, O(tc.adam_stage2.lr), 1e-12, 1e6, "LR", "Adam learning rate of stage 2", V_IMA),
    ROW("--seed", FLAG_U64, O(seed), 0, 0, "S", "seed of initialisation and shuffling", 0),
    ROW("--threads", FLAG_INT, O(threads), 1, 256, "T", "OpenBLAS threads", 0),
    ROW("--resume", FLAG_STR, O(resume), 0, 0, "CKPT", "continue from a checkpoint (its model, optimizer and position)",
        V_IMA),
    FLAG_HEADING("\nwith --model mvae|jmvae|dae (one stage; SPEC.md section 6, docs/baselines.md): --input, --mask,\n"
                 "--preset, --seed, --threads, --out, --log and --quiet as above, and:",
                 V_BASELINES),
    ROW("--latent", FLAG_SIZE, O(bcfg.latent_width), 1, 65536, "D", "shared latent width d", V_BASELINES),
    MODAL("--hidden", FLAG_SIZE, BMOD(hidden_width), 1, 65536, "H", "hidden width H_j", V_BASELINES),
    {.name = "--loss",
     .type = FLAG_CHOICE,
     .off = O(bcfg.mod[0].loss),
     .stride = sizeof(ima_baseline_modality),
     .arg = "bce|sse",
     .help = "reconstruction loss (bce: inputs in [0,1])",
     .only = V_BASELINES,
     .choices = FLAG_LOSS_CHOICES},
    MODAL("--lambda-rec", FLAG_FLOAT, BMOD(lambda_rec), 0, 1e9, "V", "weight of the reconstruction loss", V_BASELINES),
    ROW("--epochs1", FLAG_INT, O(btc.epochs), 0, 1000000, "N", "epochs (alias --epochs)", V_BASELINES),
    ROW("--epochs", FLAG_INT, O(btc.epochs), 0, 1000000, "N", NULL, V_BASELINES),
    ROW("--batch", FLAG_SIZE, O(btc.batch_size), 1, 1 << 20, "B", "batch size", V_BASELINES),
    ROW("--lr1", FLAG_FLOAT, O(btc.adam.lr), 1e-12, 1e6, "LR", "Adam learning rate (alias --lr)", V_BASELINES),
    ROW("--lr", FLAG_FLOAT, O(btc.adam.lr), 1e-12, 1e6, "LR", NULL, V_BASELINES),
    ROW("--patience", FLAG_INT, O(btc.patience), 0, 1000000, "P",
        "early stopping: stop after P epochs without a lower validation\n"
        "                             loss, keep the best (needs --valid-input; 0: off)",
        V_BASELINES),
    ROW("--kl-warmup", FLAG_INT, O(btc.kl_warmup_epochs), 0, 1000000, "W",
        "mvae, jmvae: linear KL warm-up over the first W epochs (0: none)", V_MVAE | V_JMVAE),
    ROW("--joint-hidden", FLAG_SIZE, O(bcfg.joint_hidden), 0, 65536, "H",
        "jmvae, dae: joint encoder hidden width (0: sum of --hidden)", V_JMVAE | V_DAE),
    ROW("--beta", FLAG_FLOAT, O(bcfg.beta), 0, 1e6, "B", "mvae, jmvae: weight of KL(q || N(0, I))", V_MVAE | V_JMVAE),
    ROW("--alpha", FLAG_FLOAT, O(bcfg.alpha), 0, 1e6, "A", "jmvae: weight of sum_j KL(q(z|x) || q(z|x_j))", V_JMVAE),
    ROW("--mvae-subsets", FLAG_INT, O(bcfg.mvae_subsets), 0, IMA_BASELINE_MAX_SUBSETS, "K",
        "mvae, M > 2: random subset ELBO terms per batch", V_MVAE),
    ROW("--dae-feature-drop", FLAG_FLOAT, O(bcfg.dae_feature_drop), 0, 0.999, "P", "dae: feature masking probability",
        V_DAE),
    ROW("--dae-modality-drop", FLAG_FLOAT, O(bcfg.dae_modality_drop), 0, 0.999, "P",
        "dae: whole-modality drop probability", V_DAE),
    ROW("--gaussian-decoders", FLAG_SET, O(gaussian), 1, 0, NULL,
        "decoders output a mean and a log-variance (Gaussian NLL;\n"
        "                             implies --loss sse): with --preset digits --latent 50 the paper's Table 4 sizes",
        V_BASELINES),
    FLAG_HEADING("output:", 0),
    ROW("--out", FLAG_STR, O(out), 0, 0, "CKPT", "checkpoint path (written atomically after every epoch)", 0),
    ROW("--log", FLAG_STR, O(log), 0, 0, "FILE.tsv", "one line per epoch with every loss term", 0),
    ROW("--quiet", FLAG_SET, O(quiet), 1, 0, NULL, "no per-epoch lines", 0),
    FLAG_END,
};

/* "IMA", "the baselines", "mvae and jmvae", ... for "--X applies to ... only" */
static const char *model_set(unsigned only, unsigned running) {
    static char buf[64];
    if (only == V_IMA) return "IMA";
    if (only == V_BASELINES || running == V_IMA) return "the baselines";
    buf[0] = '\0';
    for (int k = MODEL_MVAE, n = 0; k <= MODEL_DAE; k++)
        if (only & (1u << k))
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", n++ ? " and " : "", MODELS[k]);
    return buf;
}

train_opts train_opts_defaults(int model) {
    train_opts o;
    memset(&o, 0, sizeof o);
    o.model = model;
    o.cfg = ima_config_defaults();
    o.tc = ima_train_defaults();
    o.bcfg = ima_baseline_config_defaults(model > MODEL_IMA ? (ima_baseline_kind)(model - 1) : IMA_BASELINE_MVAE);
    o.btc = ima_baseline_train_defaults();
    o.seed = 1;
    o.threads = 1;
    return o;
}

static flag_cmd train_cmd(int model) {
    flag_cmd c = {.cmd = "train",
                  .flags = FLAGS,
                  .variant = 1u << model,
                  .variant_name = MODELS[model],
                  .variant_set = model_set};
    if (model == MODEL_IMA) c.variant_name = "ima";
    return c;
}

static void usage(FILE *out) {
    fprintf(out, "usage: ima train --input NAME=PATH.npy [--input NAME=PATH.npy ...] --out CKPT.safetensors [options]\n"
                 "\n"
                 "Trains the Importance-based Multimodal Autoencoder in two stages (autoencoder, then importance\n"
                 "networks), alternated for --rounds rounds, and writes a safetensors checkpoint after every epoch.\n"
                 "With --model mvae|jmvae|dae it trains a baseline instead (one stage; the flags below marked for\n"
                 "the baselines apply, IMA's are refused). Defaults are the library's, in parentheses.\n\n");
    train_opts d = train_opts_defaults(MODEL_IMA);
    flag_cmd c = train_cmd(MODEL_IMA);
    flags_help(out, &c, &d, V_IMA);
    d = train_opts_defaults(MODEL_JMVAE);
    flags_help(out, &c, &d, FLAGS_HELP_EXCLUSIVE | V_BASELINES);
}

/* --model, before the table is read (it decides which entries apply): MODEL_*, or -1 on error */
static int prescan_model(int argc, char **argv) {
    int model = MODEL_IMA;
    for (int i = 1; i < argc; i++) {
        if (!arg_is(argv[i], "--model")) continue;
        const char *v = arg_value("train", argc, argv, &i);
        if (!v) return -1;
        for (model = 0; MODELS[model] && strcmp(MODELS[model], v); model++) {}
        if (!MODELS[model]) {
            fprintf(stderr, "ima train: --model: expected ima, mvae, jmvae or dae, got '%s'\n", v);
            return -1;
        }
    }
    return model;
}

/* ---- IMA: progress, epoch lines, log and checkpoint after every epoch ------------------------------ */

typedef struct {
    const train_opts *o;
    FILE *log;
    progress bar;
    char label[64];
    int rank; // data-parallel (mpirun): only rank 0 prints and writes files
} train_ctx;

static void on_batch(void *vc, const ima_train_state *st, size_t done, size_t total) {
    train_ctx *c = vc;
    if (c->rank) return;
    if (done == 1) {
        snprintf(c->label, sizeof c->label, "round %d stage %d epoch %d", st->round, st->stage, st->epoch + 1);
        progress_begin(&c->bar, c->label, total);
    }
    progress_update(&c->bar, done, NULL);
    if (done == total && c->bar.tty) fprintf(stderr, "\r\033[K");
}

static void epoch_line(const ima_model *m, const ima_epoch_report *r) {
    char line[4096];
    size_t n = (size_t)snprintf(line, sizeof line, "round %d stage %d epoch %d/%d  %.1fs  %.0f samples/s ", r->round,
                                r->stage, r->epoch, r->epochs, r->seconds, (double)r->samples / r->seconds);
    for (int j = -1; j < m->cfg.n_modalities && n < sizeof line; j++) {
        const char *nm = j >= 0 ? m->cfg.mod[j].name : "";
        if (r->stage == 1)
            n +=
                (size_t)(j < 0 ? snprintf(line + n, sizeof line - n, " L_auto %.4f  glob %.4f", r->s1.total, r->s1.glob)
                               : snprintf(line + n, sizeof line - n, "  rec[%s] %.4f  align[%s] %.4f  dead[%s] %.0f%%",
                                          nm, r->s1.rec[j], nm, r->s1.align[j], nm, 100 * r->dead[j]));
        else
            n += (size_t)(j < 0 ? snprintf(line + n, sizeof line - n, " L_imp %.6g", r->s2.total)
                          : m->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV
                              ? snprintf(line + n, sizeof line - n, "  teach[%s] %.4g  mean_y[%s] %.3f", nm,
                                         r->s2.teach[j], nm, r->mean_y[j])
                              : snprintf(line + n, sizeof line - n, "  corr[%s] %.4g  local[%s] %.4g  mean_y[%s] %.3f",
                                         nm, r->s2.corr[j], nm, r->s2.local[j], nm, r->mean_y[j]));
    }
    if (r->scored && n < sizeof line)
        snprintf(line + n, sizeof line - n, "  validation score %.6g (kept epoch %d)", r->score[0], r->best_epoch);
    if (r->stage == 1 && r->valid_loss == r->valid_loss && n < sizeof line) /* not NAN: validated */
        snprintf(line + n, sizeof line - n, "  validation L_auto %.4f (best epoch %d)%s", r->valid_loss, r->best_epoch,
                 r->stop ? "; early stop" : "");
    fprintf(stderr, "%s\n", line);
}

/* SPEC section 8: make a collapse visible (the rule is the library's: ima_collapse_flags) */
static void collapse_warnings(const ima_model *m, const ima_epoch_report *r) {
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        if (r->collapse[j] & IMA_COLLAPSE_MEAN_Y)
            fprintf(stderr, "warning: importance of '%s' collapsed: mean y = %.4f > 0.99 (every sample important)\n",
                    m->cfg.mod[j].name, r->mean_y[j]);
        else if (r->collapse[j] & IMA_COLLAPSE_CORR)
            fprintf(stderr, "warning: L_corr of '%s' fell from %.3g to %.3g (over 1000x): likely collapse\n",
                    m->cfg.mod[j].name, r->corr_first[j], r->s2.corr[j]);
    }
}

static int on_epoch(void *vc, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    train_ctx *c = vc;
    if (c->rank) return 0;
    if (!c->o->quiet) epoch_line(m, r);
    if (r->stage == 2) collapse_warnings(m, r);
    if (c->log) {
        fprintf(c->log, "%d\t%d\t%d\t%.3f", r->round, r->stage, r->epoch, r->seconds);
        fprintf(c->log, "\t%.8g\t%.8g", r->stage == 1 ? r->s1.total : r->s2.total, r->s1.glob);
        for (int j = 0; j < m->cfg.n_modalities; j++)
            fprintf(c->log, "\t%.8g\t%.8g\t%.8g\t%.8g\t%.8g\t%.4f", r->s1.rec[j], r->s1.align[j], r->s2.corr[j],
                    r->s2.local[j], r->mean_y[j], r->dead[j]);
        fputc('\n', c->log);
        fflush(c->log);
    }
    if (ima_checkpoint_save(c->o->out, m, &c->o->tc, st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return -1;
    }
    return 0;
}

/* resuming keeps the header and the rows the checkpoint holds (no repeated epoch; io/tsv.h) */
static FILE *open_log(const train_opts *o, const ima_model *m, const ima_train_state *st) {
    char head[8192];
    int hn = snprintf(head, sizeof head, "round\tstage\tepoch\tseconds\ttotal\tglob");
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        const char *nm = m->cfg.mod[j].name;
        hn += snprintf(head + hn, sizeof head - (size_t)hn, "\trec_%s\talign_%s\tcorr_%s\tlocal_%s\tmean_y_%s\tdead_%s",
                       nm, nm, nm, nm, nm, nm);
    }
    long at[3] = {st->round, st->stage, st->epoch};
    FILE *f = NULL;
    if (ima_tsv_log_open(&f, o->log, head, o->resume ? at : NULL, 3))
        fprintf(stderr, "ima train: --log: %s\n", ima_last_error());
    return f;
}

/* ---- IMA: the model, from the flags or from --resume ------------------------------------------------ */

/* prints the library's last error; returns -1 */
static int lib_fail(void) {
    fprintf(stderr, "ima train: %s\n", ima_last_error());
    return -1;
}

/* names and the digits preset, before the per-modality flags (which override the preset) */
static int name_modalities(train_opts *o) {
    ima_config d = ima_config_digits(o->cfg.latent_width);
    ima_baseline_config bd = ima_baseline_config_digits(IMA_BASELINE_MVAE, 50);
    o->cfg.n_modalities = o->bcfg.n_modalities = o->in.n;
    for (int j = 0; j < o->in.n; j++) {
        snprintf(o->cfg.mod[j].name, sizeof o->cfg.mod[j].name, "%s", o->in.name[j]);
        snprintf(o->bcfg.mod[j].name, sizeof o->bcfg.mod[j].name, "%s", o->in.name[j]);
    }
    for (int k = 0; o->preset_digits && k < d.n_modalities; k++) {
        int j = inputs_index(&o->in, d.mod[k].name);
        if (j < 0) {
            fprintf(stderr, "ima train: --preset digits: needs --input %s=PATH\n", d.mod[k].name);
            return -1;
        }
        o->cfg.mod[j].hidden_width = d.mod[k].hidden_width;
        o->cfg.mod[j].loss = d.mod[k].loss;
        o->cfg.mod[j].rho = d.mod[k].rho;
        o->bcfg.mod[j].hidden_width = bd.mod[k].hidden_width;
    }
    return 0;
}

/* the model of the checkpoint; the training flags given override its training configuration */
static int resume_model(train_opts *o, const flag_seen *seen, const flag_cmd *c, ima_model **m, ima_train_state *st) {
    for (int k = 0; k < seen->n; k++) {
        size_t off = seen->spec[k]->off;
        if ((off >= O(cfg) && off < O(cfg) + sizeof(ima_config)) || off == O(preset_digits)) {
            fprintf(stderr,
                    "ima train: --resume takes the model from the checkpoint: model flags (%s) are not allowed\n",
                    seen->spec[k]->name);
            return -1;
        }
    }
    /* the state first (it says the batch size), then the model for the batch it will train with */
    if (ima_checkpoint_read_state(o->resume, NULL, &o->tc, st)) return lib_fail();
    if (flags_reapply(c, o, seen, O(tc), O(tc) + sizeof(ima_train_config))) return -1;
    if (ima_checkpoint_load(o->resume, o->tc.batch_size, m, NULL, NULL)) return lib_fail();
    for (int j = 0; j < (*m)->cfg.n_modalities && j < o->in.n; j++)
        if (strcmp((*m)->cfg.mod[j].name, o->in.name[j])) {
            fprintf(stderr, "ima train: --input %s: the checkpoint's modality %d is '%s' (give them in its order)\n",
                    o->in.name[j], j + 1, (*m)->cfg.mod[j].name);
            return -1;
        }
    int extend = flags_given(seen, "--epochs1") || flags_given(seen, "--epochs2") || flags_given(seen, "--rounds");
    if (st->finished && extend) st->finished = 0;
    return 0;
}

/* a new model (from the flags) or the resumed one; the training data's widths complete the configuration */
static int make_model(train_opts *o, const flag_seen *seen, const flag_cmd *c, const ima_dataset *ds, ima_model **m,
                      ima_train_state *st) {
    if (o->resume) {
        if (resume_model(o, seen, c, m, st)) return -1;
    } else {
        for (int j = 0; j < o->in.n; j++) o->cfg.mod[j].input_width = ds->width[j];
        if (ima_model_init(m, &o->cfg, o->tc.batch_size, o->seed)) return lib_fail();
        ima_train_state_init(st, o->seed ^ 0x5eedULL);
    }
    if (ima_dataset_check(ds, &(*m)->cfg, o->in.path)) return lib_fail();
    if (!o->resume) ima_model_fit_center(*m, ds);
    return 0;
}

/* the validation set of --valid-input (every modality or none); *valid stays NULL without it */
static int load_valid(const train_opts *o, const ima_model *m, ima_dataset *vs, const ima_dataset **valid) {
    int n = 0;
    *valid = NULL;
    for (int j = 0; j < o->in.n; j++) n += o->valid_path[j] != NULL;
    if (n == 0) return 0;
    if (n != o->in.n) {
        fprintf(stderr, "ima train: --valid-input: give one for every modality (%d of %d given)\n", n, o->in.n);
        return -1;
    }
    if (ima_dataset_load(vs, o->in.n, o->valid_path, o->valid_mask)) return lib_fail();
    if (ima_dataset_check(vs, &m->cfg, o->valid_path)) {
        ima_dataset_free(vs);
        return lib_fail();
    }
    *valid = vs;
    return 0;
}

static int train_ima(train_opts *o, const flag_seen *seen, const flag_cmd *c, ima_dataset *ds, ima_dist *dist) {
    ima_model *m = NULL;
    ima_train_state st;
    ima_dataset vs;
    const ima_dataset *valid = NULL;
    const ima_collective *coll = ima_dist_collective(dist);
    train_ctx ctx = {.o = o, .rank = ima_dist_rank(dist)};
    int rc = 1, lead = ctx.rank == 0; /* data-parallel: rank 0 prints and writes every file */
    if (make_model(o, seen, c, ds, &m, &st) || load_valid(o, m, &vs, &valid)) goto done;
    size_t ne, nd, ni;
    ima_model_param_counts(m, &ne, &nd, &ni);
    if (lead)
        fprintf(stderr,
                "ima train: %zu samples, %d modalities, latent %zu; parameters: encoders %zu, decoders %zu, importance "
                "%zu%s\n",
                ds->n, m->cfg.n_modalities, m->cfg.latent_width, ne, nd, ni, coll ? "; data-parallel" : "");
    if (coll && lead)
        fprintf(stderr, "ima train: %d ranks, each %zu or %zu rows of every batch of %zu\n", coll->size,
                o->tc.batch_size / (size_t)coll->size, (o->tc.batch_size + (size_t)coll->size - 1) / (size_t)coll->size,
                o->tc.batch_size);
    if (lead && o->log && !(ctx.log = open_log(o, m, &st))) goto done;
    if (lead) ima_atomic_clean_stale(o->out); /* temporary files of killed runs */
    /* the starting point, so that a failure in epoch 1 still leaves a valid checkpoint behind */
    if (lead && !o->resume && ima_checkpoint_save(o->out, m, &o->tc, &st)) {
        lib_fail();
        goto done;
    }
    ima_train_callbacks cb = {.ctx = &ctx, .on_batch = on_batch, .on_epoch = on_epoch, .valid = valid, .coll = coll};
    ima_clear_error();
    if (ima_train(m, ds, &o->tc, &st, &cb)) {
        if (*ima_last_error())
            fprintf(stderr, "ima train: %s%s; the last good checkpoint is %s\n", ima_last_error(),
                    coll ? " (stopping every rank)" : "", o->out);
        goto done;
    }
    if (lead && ima_checkpoint_save(o->out, m, &o->tc, &st)) {
        lib_fail();
        goto done;
    }
    if (lead) fprintf(stderr, "ima train: wrote %s\n", o->out);
    if (coll && lead) {
        double bytes, calls;
        ima_dist_traffic(dist, &bytes, &calls);
        fprintf(stderr, "ima train: rank 0 summed %.0f bytes over the ranks in %.0f calls\n", bytes, calls);
        double waits, done, started; /* overlap (docs/scaling.md): how many gradient sums the backward pass hid */
        ima_dist_overlap(dist, &waits, &done, &started);
        if (waits > 0)
            fprintf(stderr, "ima train: overlap: %.0f of %.0f gradient sums complete when %.0f steps began to wait\n",
                    done, started, waits);
    }
    rc = 0;
done:
    if (ctx.log) fclose(ctx.log);
    if (valid) ima_dataset_free(&vs);
    ima_model_free(m);
    return rc;
}

int cmd_train(int argc, char **argv) {
    int model = prescan_model(argc, argv);
    if (model < 0) return 2;
    train_opts o = train_opts_defaults(model);
    flag_cmd c = train_cmd(model);
    flag_seen seen;
    int rc = flags_parse(&c, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return usage(stdout), 0;
    if (rc) return rc;
    if (o.in.n == 0) {
        fprintf(stderr, "ima train: no --input NAME=PATH.npy given (see ima train --help)\n");
        return 2;
    }
    if (!o.out) {
        fprintf(stderr, "ima train: --out CKPT.safetensors is required\n");
        return 2;
    }
    if (name_modalities(&o) || flags_apply_modal(&c, &o, &seen, &o.in)) return 2;
    openblas_set_num_threads(o.threads);
    ima_dist *dist = NULL; /* under mpirun: data-parallel (docs/scaling.md) */
    if (ima_dist_start(&dist, &argc, &argv)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return 1;
    }
    if (dist && model != MODEL_IMA) {
        fprintf(stderr, "ima train: --model %s: data-parallel training (mpirun) covers IMA only\n", MODELS[model]);
        ima_dist_stop(dist, 1);
        return 2;
    }
    ima_dataset ds; /* data-parallel: mapped, one copy per machine in the page cache */
    if ((dist ? ima_dataset_map : ima_dataset_load)(&ds, o.in.n, o.in.path, o.in.mask)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        ima_dist_stop(dist, 1);
        return 1;
    }
    rc = model == MODEL_IMA ? train_ima(&o, &seen, &c, &ds, dist) : train_baseline_run(&o, &seen, &ds);
    ima_dataset_free(&ds);
    ima_dist_stop(dist, rc); /* a failed rank stops the job: its peers may wait in a collective */
    return rc;
}
