/* train.c: the baseline training loop (baseline_train.h): seeded shuffling, noise before every step, Adam,
 * a non-finite check before every update, KL warm-up, validation loss and early stopping.
 * N rows, B batch rows, M modalities j. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/internal.h"
#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/epoch.h"

ima_baseline_train_config ima_baseline_train_defaults(void) {
    ima_baseline_train_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 256;
    c.epochs = 20;
    c.adam = ima_adam_defaults();
    return c;
}

void ima_baseline_train_state_init(ima_baseline_train_state *st, uint64_t seed) {
    memset(st, 0, sizeof *st);
    ima_rng_init(&st->rng, seed);
}

/* names the first non-finite term, or returns NULL */
static const char *bad_term(const ima_baseline *bl, const ima_baseline_terms *t, char *buf, size_t n) {
    for (int j = 0; j < bl->cfg.n_modalities; j++)
        if (!isfinite(t->rec[j])) return snprintf(buf, n, "rec[%s]", bl->cfg.mod[j].name), buf;
    if (!isfinite(t->kl)) return "kl";
    if (!isfinite(t->kl_uni)) return "kl_uni";
    return isfinite(t->total) ? NULL : "total";
}

static int check_data(const ima_baseline *bl, const ima_dataset *ds) {
    const ima_baseline_config *c = &bl->cfg;
    if (ds->n_modalities != c->n_modalities)
        return ima_error("baseline train: the data set has %d modalities, the model %d", ds->n_modalities,
                         c->n_modalities);
    for (int j = 0; j < c->n_modalities; j++)
        if (ds->width[j] != c->mod[j].input_width)
            return ima_error("baseline train: modality '%s': the data has width %zu, the model expects %zu",
                             c->mod[j].name, ds->width[j], c->mod[j].input_width);
    if (ds->n < 1) return ima_error("baseline train: the data set is empty");
    return IMA_OK;
}

/* one epoch: the batch step of ima_epoch_run and what it accumulates */
typedef struct {
    ima_baseline *bl;
    const ima_dataset *ds;
    const ima_baseline_train_config *cfg;
    ima_baseline_train_state *st;
    const ima_baseline_train_callbacks *cb;
    ima_batch_buffer *bb;
    ima_baseline_epoch_report *rep;
    float beta; // the configured KL weight (the warm-up scales it per batch)
} epoch_ctx;

/* warm-up factor of batch b (0-based) of epoch e (0-based), nb batches per epoch */
static double warmup_factor(int W, int e, size_t b, size_t nb) {
    if (W <= 0) return 1.0;
    double t = (double)e * (double)nb + (double)b + 1.0, a = t / ((double)W * (double)nb);
    return a < 1.0 ? a : 1.0;
}

static int train_batch(void *vc, const size_t *idx, size_t B, size_t b, size_t nb) {
    epoch_ctx *e = vc;
    ima_baseline *bl = e->bl;
    const ima_batch *batch = ima_batch_gather(e->bb, e->ds, idx, B);
    ima_baseline_terms t;
    char name[64];
    const char *bad;
    double a = warmup_factor(e->cfg->kl_warmup_epochs, e->st->epoch, b, nb);
    if (!batch || ima_baseline_sample_noise(bl, B, &e->st->rng))
        return ima_error_prefix("epoch %d, batch %zu", e->st->epoch + 1, b + 1);
    bl->cfg.beta = (float)(a * e->beta); /* the warm-up: this step's KL weight, restored below */
    int rc = ima_baseline_loss_grad(bl, batch, 1, &t);
    bl->cfg.beta = e->beta;
    if (rc) return ima_error_prefix("epoch %d, batch %zu", e->st->epoch + 1, b + 1);
    e->rep->kl_weight = a;
    if ((bad = bad_term(bl, &t, name, sizeof name)) ||
        !ima_pool_all_finite(bl_elementwise_pool(bl), bl->grads, bl->n_params)) {
        char what[96];
        if (bad) snprintf(what, sizeof what, "loss term %s", bad);
        else snprintf(what, sizeof what, "the gradient (loss %g)", t.total);
        return ima_error("%s, epoch %d, batch %zu: %s became non-finite; training stopped before this update",
                         ima_baseline_kind_name(bl->cfg.kind), e->st->epoch + 1, b + 1, what);
    }
    ima_baseline_step(bl, &e->cfg->adam);
    double w = (double)B / (double)e->ds->n; /* epoch averages weight batches by their rows */
    e->rep->terms.total += w * t.total;
    e->rep->terms.kl += w * t.kl;
    e->rep->terms.kl_uni += w * t.kl_uni;
    for (int j = 0; j < bl->cfg.n_modalities; j++) e->rep->terms.rec[j] += w * t.rec[j];
    if (e->cb && e->cb->on_batch) e->cb->on_batch(e->cb->ctx, b + 1, nb);
    return IMA_OK;
}

int ima_baseline_valid_loss(ima_baseline *bl, const ima_dataset *ds, size_t batch_size, ima_baseline_terms *terms) {
    memset(terms, 0, sizeof *terms);
    if (check_data(bl, ds)) return ima_error_prefix("validation");
    if (batch_size < 1 || batch_size > bl->max_batch)
        return ima_error("validation: batch size %zu must be in 1..%zu", batch_size, bl->max_batch);
    size_t N = ds->n, *idx = ima_try_malloc(batch_size, sizeof(size_t));
    ima_batch_buffer bb;
    if (!idx || ima_batch_buffer_init(&bb, ds, batch_size)) return free(idx), ima_error_prefix("validation");
    ima_rng rng;
    ima_rng_init(&rng, IMA_BASELINE_VALID_SEED);
    for (size_t lo = 0; lo < N; lo += batch_size) {
        size_t B = N - lo < batch_size ? N - lo : batch_size;
        for (size_t i = 0; i < B; i++) idx[i] = lo + i;
        ima_baseline_terms t;
        const ima_batch *vb = ima_batch_gather(&bb, ds, idx, B);
        if (!vb || ima_baseline_sample_noise(bl, B, &rng) || ima_baseline_loss_grad(bl, vb, 0, &t)) {
            free(idx);
            ima_batch_buffer_free(&bb);
            return ima_error_prefix("validation");
        }
        double w = (double)B / (double)N;
        terms->total += w * t.total;
        terms->kl += w * t.kl;
        terms->kl_uni += w * t.kl_uni;
        for (int j = 0; j < bl->cfg.n_modalities; j++) terms->rec[j] += w * t.rec[j];
    }
    free(idx);
    ima_batch_buffer_free(&bb);
    char name[64];
    const char *bad = bad_term(bl, terms, name, sizeof name);
    return bad ? ima_error("validation: loss term %s is not finite", bad) : IMA_OK;
}

/* after an epoch with a validation set: loss, monitor, the best candidate (snapshot in best), the stop rule */
static int validate_epoch(ima_baseline *bl, const ima_baseline_train_config *cfg, ima_baseline_train_state *st,
                          const ima_baseline_train_callbacks *cb, float *best, ima_baseline_epoch_report *rep) {
    if (ima_baseline_valid_loss(bl, cb->valid, cfg->batch_size, &rep->valid)) return IMA_ERR;
    rep->validated = 1;
    if (cb->monitor && cb->monitor(cb->ctx, bl, &rep->monitor)) return IMA_ERR;
    if (st->epoch >= cfg->kl_warmup_epochs && (st->best_epoch == 0 || rep->valid.total < st->best_loss)) {
        st->best_epoch = st->epoch;
        st->best_loss = rep->valid.total;
        if (best) memcpy(best, bl->params, bl->n_params * sizeof(float));
    }
    rep->best_epoch = st->best_epoch;
    if (cfg->patience > 0 && st->best_epoch > 0 && st->epoch - st->best_epoch >= cfg->patience) {
        rep->stop = 1;
        st->stopped = 1;
    }
    return IMA_OK;
}

int ima_baseline_train(ima_baseline *bl, const ima_dataset *ds, const ima_baseline_train_config *cfg,
                       ima_baseline_train_state *st, const ima_baseline_train_callbacks *cb) {
    if (check_data(bl, ds)) return IMA_ERR;
    if (cb && cb->valid && check_data(bl, cb->valid)) return ima_error_prefix("baseline train: validation set");
    if (cfg->batch_size < 1 || cfg->batch_size > bl->max_batch)
        return ima_error("baseline train: batch size %zu must be in 1..%zu (the model's max_batch)", cfg->batch_size,
                         bl->max_batch);
    if (cfg->epochs < 0 || st->epoch < 0 || cfg->kl_warmup_epochs < 0 || cfg->patience < 0)
        return ima_error("baseline train: epoch counts, the warm-up and the patience must be >= 0");
    if (cfg->patience > 0 && !(cb && cb->valid))
        return ima_error("baseline train: early stopping (patience %d) needs a validation set", cfg->patience);
    if (st->stopped) return IMA_OK;
    int rc = IMA_OK;
    size_t N = ds->n, Bmax = cfg->batch_size;
    size_t *order = ima_try_malloc(N, sizeof(size_t));
    float *best = NULL; /* (n_params) the best candidate's parameters (early stopping) */
    int keep_best = cfg->patience > 0;
    ima_batch_buffer bb;
    if (keep_best && !(best = ima_try_malloc(bl->n_params, sizeof(float))))
        return free(order), ima_error_prefix("baseline train");
    if (!order || ima_batch_buffer_init(&bb, ds, Bmax))
        return free(order), free(best), ima_error_prefix("baseline train");
    st->best_epoch = 0; /* the best parameters are in memory only: a resumed run selects afresh */
    while (st->epoch < cfg->epochs && !st->stopped && rc == IMA_OK) {
        ima_baseline_epoch_report rep;
        memset(&rep, 0, sizeof rep);
        rep.epochs = cfg->epochs;
        rep.monitor = NAN;
        epoch_ctx e = {bl, ds, cfg, st, cb, &bb, &rep, bl->cfg.beta};
        double t0 = ima_wall_seconds();
        if ((rc = ima_epoch_run(order, N, Bmax, 1, &st->rng, train_batch, &e)) != IMA_OK) break;
        rep.seconds = ima_wall_seconds() - t0;
        rep.samples = N;
        st->epoch++;
        rep.epoch = st->epoch;
        if (cb && cb->valid && (rc = validate_epoch(bl, cfg, st, cb, best, &rep)) != IMA_OK) break;
        /* the last epoch of training: the best candidate's parameters back before on_epoch (a checkpoint
         * written there holds them) */
        if (keep_best && (st->stopped || st->epoch == cfg->epochs) && st->best_epoch > 0 && st->best_epoch != st->epoch)
            memcpy(bl->params, best, bl->n_params * sizeof(float));
        if (cb && cb->on_epoch && cb->on_epoch(cb->ctx, bl, st, &rep)) rc = IMA_ERR;
    }
    ima_batch_buffer_free(&bb);
    free(order);
    free(best);
    return rc;
}
