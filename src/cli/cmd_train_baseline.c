/* cmd_train_baseline.c: `ima train --model mvae|jmvae|dae`: train a baseline (baselines.h) on one .npy per
 * modality with the library loop (baseline_train.h) and write a checkpoint after every epoch. The flags
 * are parsed by cmd_train.c's table (train_opts.h).
 * M modalities, N rows, d latent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "cli/train_opts.h"
#include "ima/baseline_train.h"
#include "ima/common.h"

/* 2000360 -> "2,000,360" */
static const char *grouped(char *buf, size_t n) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", n), o = 0;
    for (int k = 0; k < len; k++) {
        if (k && (len - k) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[k];
    }
    buf[o] = '\0';
    return buf;
}

/* the paper's Table 4 beside the model's count, when the architecture is the digits one */
static void print_table4(const ima_baseline_config *cfg, size_t total) {
    ima_baseline_config d = ima_baseline_config_digits(cfg->kind, 50);
    if (cfg->n_modalities != 2 || cfg->latent_width != 50 || cfg->joint_hidden != 0) return;
    for (int j = 0; j < 2; j++)
        if (cfg->mod[j].input_width != d.mod[j].input_width || cfg->mod[j].hidden_width != d.mod[j].hidden_width)
            return;
    char a[32], b[32];
    if (cfg->kind == IMA_BASELINE_DAE) {
        fprintf(stderr,
                "ima train: digits architecture: %s parameters (the paper's Table 4 does not list the "
                "denoising AE)\n",
                grouped(a, total));
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
    if (done == total && c->bar.tty) fprintf(stderr, "\r\033[K");
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
        if (cfg->kind != IMA_BASELINE_DAE) n += snprintf(line + n, sizeof line - (size_t)n, "  kl %.4f", r->terms.kl);
        if (cfg->kind == IMA_BASELINE_JMVAE)
            n += snprintf(line + n, sizeof line - (size_t)n, "  kl_uni %.4f", r->terms.kl_uni);
        if (c->tc->kl_warmup_epochs > 0 && r->kl_weight < 1.0)
            n += snprintf(line + n, sizeof line - (size_t)n, "  (KL weight %.3f)", r->kl_weight);
        if (r->validated)
            snprintf(line + n, sizeof line - (size_t)n, "  validation loss %.4f (best epoch %d)%s", r->valid.total,
                     r->best_epoch, r->stop ? "; early stop" : "");
        fprintf(stderr, "%s\n", line);
    }
    if (c->log) {
        fprintf(c->log, "%d\t%.3f\t%.8g", r->epoch, r->seconds, r->terms.total);
        for (int j = 0; j < cfg->n_modalities; j++) fprintf(c->log, "\t%.8g", r->terms.rec[j]);
        fprintf(c->log, "\t%.8g\t%.8g\t%.8g", r->terms.kl, r->terms.kl_uni, r->kl_weight);
        if (r->validated) fprintf(c->log, "\t%.8g\t%d\n", r->valid.total, r->best_epoch);
        else fprintf(c->log, "\tnan\t0\n");
        fflush(c->log);
    }
    if (ima_baseline_checkpoint_save(c->out, bl, c->tc, st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        return -1;
    }
    return 0;
}

/* --gaussian-decoders: every decoder gets a Gaussian head (sse); an explicit --loss bce contradicts it */
static int apply_gaussian(train_opts *o, const flag_seen *seen) {
    unsigned loss_given = flags_given_modal(seen, &o->in, "--loss");
    for (int j = 0; o->gaussian && j < o->in.n; j++) {
        if ((loss_given >> j & 1u) && o->bcfg.mod[j].loss == IMA_LOSS_BCE) {
            fprintf(stderr, "ima train: --gaussian-decoders: modality '%s' has --loss bce (Gaussian heads use sse)\n",
                    o->bcfg.mod[j].name);
            return -1;
        }
        o->bcfg.mod[j].loss = IMA_LOSS_SSE;
        o->bcfg.mod[j].gaussian_logvar = 1;
    }
    return 0;
}

/* the data checks of IMA (widths, bce range) through a mirror of the names, widths and losses */
static int check_data(const ima_baseline_config *cfg, const ima_dataset *ds, const char *const *paths) {
    ima_config mirror;
    memset(&mirror, 0, sizeof mirror);
    mirror.n_modalities = cfg->n_modalities;
    for (int j = 0; j < cfg->n_modalities; j++) {
        snprintf(mirror.mod[j].name, sizeof mirror.mod[j].name, "%s", cfg->mod[j].name);
        mirror.mod[j].input_width = cfg->mod[j].input_width;
        mirror.mod[j].loss = cfg->mod[j].loss;
    }
    return ima_dataset_check(ds, &mirror, paths);
}

static FILE *open_log(const char *path, const ima_baseline_config *cfg) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ima train: --log %s: cannot open for writing\n", path);
        return NULL;
    }
    fprintf(f, "epoch\tseconds\ttotal");
    for (int j = 0; j < cfg->n_modalities; j++) fprintf(f, "\trec_%s", cfg->mod[j].name);
    fprintf(f, "\tkl\tkl_uni\tkl_weight\tvalid_total\tbest_epoch\n");
    return f;
}

int train_baseline_run(train_opts *o, const flag_seen *seen, ima_dataset *ds) {
    ima_baseline_config *cfg = &o->bcfg;
    const char *kname = ima_baseline_kind_name(cfg->kind);
    if (cfg->kind == IMA_BASELINE_MVAE && cfg->mvae_subsets > 0 && o->in.n <= 2) {
        fprintf(stderr, "ima train: --mvae-subsets: with %d modalities every subset is already a term (needs M > 2)\n",
                o->in.n);
        return 2;
    }
    for (int j = 0; j < o->in.n; j++) cfg->mod[j].input_width = ds->width[j];
    ima_baseline *bl = NULL;
    train_ctx ctx = {.out = o->out, .quiet = o->quiet, .tc = &o->btc};
    int rc = 1, nvalid = 0;
    ima_dataset vs;
    memset(&vs, 0, sizeof vs);
    if (apply_gaussian(o, seen)) return 1;
    for (int j = 0; j < o->in.n; j++) nvalid += o->valid_path[j] != NULL;
    if (nvalid && nvalid != o->in.n) {
        fprintf(stderr, "ima train: --valid-input: give one for every modality (%d of %d given)\n", nvalid, o->in.n);
        return 1;
    }
    if (o->btc.patience > 0 && !nvalid) {
        fprintf(stderr, "ima train: --patience needs a validation set (--valid-input NAME=PATH for every modality)\n");
        return 2;
    }
    if (check_data(cfg, ds, o->in.path) || ima_baseline_init(&bl, cfg, o->btc.batch_size, o->seed) ||
        (nvalid &&
         (ima_dataset_load(&vs, o->in.n, o->valid_path, o->valid_mask) || check_data(cfg, &vs, o->valid_path)))) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    ima_baseline_train_state st;
    ima_baseline_train_state_init(&st, o->seed ^ 0x5eedULL);
    size_t ne, nj, nd, total = ima_baseline_param_counts(bl, &ne, &nj, &nd);
    fprintf(stderr,
            "ima train: %s on %zu samples, %d modalities, latent %zu; parameters: experts %zu, joint %zu, "
            "decoders %zu, total %zu\n",
            kname, ds->n, cfg->n_modalities, cfg->latent_width, ne, nj, nd, total);
    print_table4(cfg, total);
    if (o->log && !(ctx.log = open_log(o->log, cfg))) goto done;
    /* the starting point, so that a failure in epoch 1 still leaves a valid checkpoint behind */
    if (ima_baseline_checkpoint_save(o->out, bl, &o->btc, &st)) {
        fprintf(stderr, "ima train: %s\n", ima_last_error());
        goto done;
    }
    ima_baseline_train_callbacks cb = {.ctx = &ctx,
                                       .on_batch = on_batch,
                                       .on_epoch = on_epoch,
                                       .valid = nvalid ? &vs : NULL};
    ima_clear_error();
    if (ima_baseline_train(bl, ds, &o->btc, &st, &cb)) {
        if (*ima_last_error())
            fprintf(stderr, "ima train: %s; the last good checkpoint is %s\n", ima_last_error(), o->out);
        goto done;
    }
    if (st.best_epoch > 0 && o->btc.patience > 0)
        fprintf(stderr, "ima train: kept epoch %d of %d (lowest validation loss %.4f)%s\n", st.best_epoch, st.epoch,
                st.best_loss, st.stopped ? "; stopped early" : "");
    fprintf(stderr, "ima train: wrote %s\n", o->out);
    rc = 0;
done:
    ima_dataset_free(&vs);
    if (ctx.log) fclose(ctx.log);
    ima_baseline_free(bl);
    return rc;
}
