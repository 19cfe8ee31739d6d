/* train.c: the baseline training loop (baseline_train.h): seeded shuffling, noise before every step, Adam,
 * a non-finite check before every update.
 * N rows, B batch rows, M modalities j. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int grads_finite(const float *g, size_t n) {
    float acc = 0.0f;
    for (size_t k = 0; k < n; k++) acc += g[k] * 0.0f; /* NaN or Inf anywhere makes acc NaN */
    return acc == 0.0f;
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
} epoch_ctx;

static int train_batch(void *vc, const size_t *idx, size_t B, size_t b, size_t nb) {
    epoch_ctx *e = vc;
    ima_baseline *bl = e->bl;
    const ima_batch *batch = ima_batch_gather(e->bb, e->ds, idx, B);
    ima_baseline_terms t;
    char name[64];
    const char *bad;
    ima_baseline_sample_noise(bl, B, &e->st->rng);
    ima_baseline_loss_grad(bl, batch, 1, &t);
    if ((bad = bad_term(bl, &t, name, sizeof name)) || !grads_finite(bl->grads, bl->n_params)) {
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

int ima_baseline_train(ima_baseline *bl, const ima_dataset *ds, const ima_baseline_train_config *cfg,
                       ima_baseline_train_state *st, const ima_baseline_train_callbacks *cb) {
    if (check_data(bl, ds)) return IMA_ERR;
    if (cfg->batch_size < 1 || cfg->batch_size > bl->max_batch)
        return ima_error("baseline train: batch size %zu must be in 1..%zu (the model's max_batch)", cfg->batch_size,
                         bl->max_batch);
    if (cfg->epochs < 0 || st->epoch < 0) return ima_error("baseline train: epoch counts must be >= 0");
    int rc = IMA_OK;
    size_t N = ds->n, Bmax = cfg->batch_size;
    size_t *order = ima_try_malloc(N, sizeof(size_t));
    ima_batch_buffer bb;
    if (!order || ima_batch_buffer_init(&bb, ds, Bmax)) return free(order), ima_error_prefix("baseline train");
    while (st->epoch < cfg->epochs && rc == IMA_OK) {
        ima_baseline_epoch_report rep;
        memset(&rep, 0, sizeof rep);
        rep.epochs = cfg->epochs;
        epoch_ctx e = {bl, ds, cfg, st, cb, &bb, &rep};
        double t0 = ima_wall_seconds();
        if ((rc = ima_epoch_run(order, N, Bmax, 1, &st->rng, train_batch, &e)) != IMA_OK) break;
        rep.seconds = ima_wall_seconds() - t0;
        rep.samples = N;
        st->epoch++;
        rep.epoch = st->epoch;
        if (cb && cb->on_epoch && cb->on_epoch(cb->ctx, bl, st, &rep)) rc = IMA_ERR;
    }
    ima_batch_buffer_free(&bb);
    free(order);
    return rc;
}
