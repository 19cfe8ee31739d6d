/* train.c: the two-stage training loop (SPEC section 2), alternated for R rounds.
 * N rows, B batch rows, M modalities. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/collective.h"
#include "ima/common.h"
#include "ima/epoch.h"
#include "ima/importance.h"
#include "ima/train.h"

ima_train_config ima_train_defaults(void) {
    ima_train_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 256;
    c.rounds = 1;
    c.epochs_stage1 = 40;
    c.epochs_stage2 = 10;
    c.adam_stage1 = ima_adam_defaults();
    c.adam_stage2 = ima_adam_defaults();
    return c;
}

void ima_train_state_init(ima_train_state *st, uint64_t seed) {
    memset(st, 0, sizeof *st);
    st->round = 1;
    st->stage = 1;
    ima_rng_init(&st->rng, seed);
}

/* names the first non-finite term, or returns NULL */
static const char *bad_term1(const ima_model *m, const ima_stage1_terms *t, char *buf, size_t n) {
    if (!isfinite(t->glob)) return "glob";
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        if (!isfinite(t->rec[j])) return snprintf(buf, n, "rec[%s]", m->cfg.mod[j].name), buf;
        if (!isfinite(t->align[j])) return snprintf(buf, n, "align[%s]", m->cfg.mod[j].name), buf;
    }
    return isfinite(t->total) ? NULL : "total";
}

static const char *bad_term2(const ima_model *m, const ima_stage2_terms *t, char *buf, size_t n) {
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        if (!isfinite(t->teach[j])) return snprintf(buf, n, "teach[%s]", m->cfg.mod[j].name), buf;
        if (!isfinite(t->corr[j])) return snprintf(buf, n, "corr[%s]", m->cfg.mod[j].name), buf;
        if (!isfinite(t->local[j])) return snprintf(buf, n, "local[%s]", m->cfg.mod[j].name), buf;
    }
    return isfinite(t->total) ? NULL : "total";
}

/* one epoch of the running stage: the batch step of ima_epoch_run and what it accumulates */
typedef struct {
    ima_model *m;
    const ima_dataset *ds;
    const ima_train_config *cfg;
    ima_train_state *st;
    const ima_train_callbacks *cb;
    ima_batch_buffer *bb;
    ima_epoch_report *rep;
    ima_weights weights;
    double dead_min[IMA_MAX_MODALITIES];
    const float *targets; // local-ev: (N, M) targets of this stage 2, NULL otherwise
    float *tbuf;          // (B, M) this batch's rows of them
    const size_t *idx;    // the batch's row indices (this rank's share)
    const ima_collective *coll; // data-parallel: the ranks (NULL: one process)
    float *alive;               // data-parallel stage 1: (sum_j H_j) rows lighting each first-layer unit
} epoch_ctx;

/* stage 1: the fraction of modality j's first-layer encoder units that no row of the batch lights
 * (data-parallel: no row of any rank, one sum over the ranks for every modality) */
static int dead_fractions(epoch_ctx *e, const ima_batch *batch, double *f) {
    ima_model *m = e->m;
    int M = m->cfg.n_modalities;
    if (ima_collective_is_single(e->coll)) {
        for (int j = 0; j < M; j++) f[j] = ima_model_dead_fraction(m, j, batch->B);
        return IMA_OK;
    }
    size_t n = 0;
    for (int j = 0; j < M; j++) {
        size_t H = m->mod[j].enc.width[1];
        const float *h = m->mod[j].enc_acts.out[0]; /* (B, H) */
        for (size_t c = 0; c < H; c++) {
            float lit = 0.0f;
            for (size_t i = 0; i < batch->B; i++) lit += h[i * H + c] > 0.0f;
            e->alive[n + c] = lit;
        }
        n += H;
    }
    if (ima_collective_sum_float(e->coll, e->alive, n)) return IMA_ERR;
    n = 0;
    for (int j = 0; j < M; j++) {
        size_t H = m->mod[j].enc.width[1], dead = 0;
        for (size_t c = 0; c < H; c++) dead += e->alive[n + c] == 0.0f;
        f[j] = (double)dead / (double)H;
        n += H;
    }
    return IMA_OK;
}

/* data-parallel: the gradient of the global batch is the sum of the ranks' (each scaled by 1 / B_total).
 * Overlapping (collective.h), the backward pass has started the sum of each network's range as it
 * finished it (grad_sum.h): wait for them; otherwise one in-place sum over the stage's contiguous range */
static int sum_grads(const epoch_ctx *e, float *g, size_t n) {
    if (ima_collective_overlaps(e->coll) ? ima_collective_wait(e->coll) : ima_collective_sum_float(e->coll, g, n))
        return ima_error_prefix("stage %d, round %d, epoch %d: a step's sums over the ranks", e->st->stage,
                                e->st->round, e->st->epoch + 1);
    return IMA_OK;
}

static int stage1_batch(epoch_ctx *e, const ima_batch *batch, size_t B, size_t b, double w) {
    ima_model *m = e->m;
    ima_stage1_terms t;
    char name[64];
    const char *bad;
    if (ima_stage1_forward_backward(m, batch, e->weights, 1, &t))
        return ima_error_prefix("stage 1, round %d, epoch %d, batch %zu", e->st->round, e->st->epoch + 1, b + 1);
    if (sum_grads(e, m->grads, m->n_params_ae)) return IMA_ERR;
    if ((bad = bad_term1(m, &t, name, sizeof name)) || !ima_model_grads_finite(m, 0, m->n_params_ae))
        return ima_error("stage 1, round %d, epoch %d, batch %zu: loss term %s became non-finite; training "
                         "stopped before this update",
                         e->st->round, e->st->epoch + 1, b + 1, bad ? bad : "(a gradient)");
    double dead[IMA_MAX_MODALITIES];
    if (dead_fractions(e, batch, dead)) return ima_error_prefix("stage 1: dead units");
    ima_stage1_step(m, &e->cfg->adam_stage1);
    e->rep->s1.glob += w * t.glob;
    e->rep->s1.total += w * t.total;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        e->rep->s1.rec[j] += w * t.rec[j];
        e->rep->s1.align[j] += w * t.align[j];
        if (dead[j] < e->dead_min[j]) e->dead_min[j] = dead[j];
    }
    return IMA_OK;
}

static int stage2_batch(epoch_ctx *e, const ima_batch *batch, size_t B, size_t b, double w) {
    ima_model *m = e->m;
    ima_stage2_terms t;
    char name[64];
    const char *bad;
    ima_batch tb = *batch; /* local-ev: this batch's rows of the targets (B, M) */
    if (e->targets) {
        size_t M = (size_t)m->cfg.n_modalities;
        for (size_t i = 0; i < tb.B; i++) memcpy(e->tbuf + i * M, e->targets + e->idx[i] * M, M * sizeof(float));
        tb.target = e->tbuf;
    }
    if (ima_stage2_forward_backward(m, &tb, e->weights, 1, &t))
        return ima_error_prefix("stage 2, round %d, epoch %d, batch %zu", e->st->round, e->st->epoch + 1, b + 1);
    if (sum_grads(e, m->grads + m->n_params_ae, m->n_params_imp)) return IMA_ERR;
    double ysum[IMA_MAX_MODALITIES]; /* mean importance over the (global) batch's rows */
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        ysum[j] = 0.0;
        for (size_t i = 0; i < tb.B; i++) ysum[j] += m->mod[j].y_imp[i];
    }
    if (ima_collective_sum(e->coll, ysum, (size_t)m->cfg.n_modalities)) return ima_error_prefix("stage 2: mean y");
    if ((bad = bad_term2(m, &t, name, sizeof name)) || !ima_model_grads_finite(m, m->n_params_ae, m->n_params_imp))
        return ima_error("stage 2, round %d, epoch %d, batch %zu: loss term %s became non-finite; training "
                         "stopped before this update",
                         e->st->round, e->st->epoch + 1, b + 1, bad ? bad : "(a gradient)");
    ima_stage2_step(m, &e->cfg->adam_stage2);
    e->rep->s2.total += w * t.total;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        e->rep->s2.teach[j] += w * t.teach[j];
        e->rep->s2.corr[j] += w * t.corr[j];
        e->rep->s2.local[j] += w * t.local[j];
        e->rep->s2.ybar[j] += w * t.ybar[j];
        e->rep->mean_y[j] += w * ysum[j] / (double)B;
    }
    return IMA_OK;
}

static int train_batch(void *vc, const size_t *idx, size_t B, size_t b, size_t nb) {
    epoch_ctx *e = vc;
    size_t lo = 0, hi = B; /* data-parallel: this rank's rows of the global batch */
    if (!ima_collective_is_single(e->coll)) ima_collective_share(B, e->coll->rank, e->coll->size, &lo, &hi);
    const ima_batch *gathered = ima_batch_gather(e->bb, e->ds, idx + lo, hi - lo);
    if (!gathered) return ima_error_prefix("train");
    ima_batch batch = *gathered;
    batch.coll = e->coll;
    batch.B_total = B;
    e->idx = idx + lo;
    double w = (double)B / (double)e->ds->n; /* epoch averages weight batches by their rows */
    int rc = e->st->stage == 1 ? stage1_batch(e, &batch, B, b, w) : stage2_batch(e, &batch, B, b, w);
    if (rc == IMA_OK && e->cb && e->cb->on_batch) e->cb->on_batch(e->cb->ctx, e->st, b + 1, nb);
    return rc;
}

static int run_epoch(ima_model *m, const ima_dataset *ds, const ima_train_config *cfg, ima_train_state *st,
                     const ima_train_callbacks *cb, size_t *order, ima_batch_buffer *bb, ima_epoch_report *rep,
                     const float *targets, float *tbuf) {
    int M = m->cfg.n_modalities;
    epoch_ctx e = {m,   ds,      cfg,  st,   cb, bb, rep, st->round == 1 ? IMA_WEIGHTS_ONE : IMA_WEIGHTS_IMPORTANCE,
                   {0}, targets, tbuf, NULL, cb ? cb->coll : NULL, NULL};
    for (int j = 0; j < M; j++) e.dead_min[j] = 1.0;
    if (!ima_collective_is_single(e.coll) && st->stage == 1) {
        size_t H = 0;
        for (int j = 0; j < M; j++) H += m->mod[j].enc.width[1];
        if (!(e.alive = ima_try_malloc(H, sizeof(float)))) return ima_error_prefix("train");
    }
    double t0 = ima_wall_seconds();
    int rc = ima_epoch_run(order, ds->n, cfg->batch_size, 1, &st->rng, train_batch, &e);
    free(e.alive);
    if (rc) return rc;
    for (int j = 0; j < M; j++) rep->dead[j] = st->stage == 1 ? e.dead_min[j] : 0.0;
    rep->seconds = ima_wall_seconds() - t0;
    rep->samples = ds->n;
    return IMA_OK;
}

int ima_collapse_flags(double mean_y, double corr_first, double corr) {
    int f = 0;
    if (mean_y > 0.99) f |= IMA_COLLAPSE_MEAN_Y;
    if (corr_first > 0 && corr < 1e-3 * corr_first) f |= IMA_COLLAPSE_CORR;
    return f;
}

int ima_score_stage2_loss(void *ctx, ima_model *m, const ima_dataset *valid, ima_weights weights, double score[2]) {
    (void)ctx;
    if (m->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV) {
        /* local-ev has no validation loss without validation targets: later epochs win (the last is kept) */
        score[0] = 0.0;
        score[1] = (double)m->step_imp;
        return IMA_OK;
    }
    ima_batch_buffer bb;
    if (ima_batch_buffer_init(&bb, valid, m->max_batch)) return ima_error_prefix("validation");
    size_t N = valid->n, *idx = ima_try_malloc(m->max_batch, sizeof(size_t));
    if (!idx) return ima_batch_buffer_free(&bb), ima_error_prefix("validation");
    double loss = 0.0;
    for (size_t lo = 0; lo < N; lo += m->max_batch) {
        size_t B = N - lo < m->max_batch ? N - lo : m->max_batch;
        for (size_t i = 0; i < B; i++) idx[i] = lo + i;
        ima_stage2_terms t;
        const ima_batch *vb = ima_batch_gather(&bb, valid, idx, B);
        if (!vb || ima_stage2_forward_backward(m, vb, weights, 0, &t)) {
            free(idx);
            ima_batch_buffer_free(&bb);
            return ima_error_prefix("validation");
        }
        loss += t.total * (double)B / (double)N;
    }
    free(idx);
    ima_batch_buffer_free(&bb);
    score[0] = -loss;
    score[1] = 0.0;
    return isfinite(loss) ? IMA_OK : ima_error("validation: the stage-2 loss is not finite");
}

int ima_stage1_valid_loss(ima_model *m, const ima_dataset *ds, ima_weights weights, ima_stage1_terms *terms) {
    memset(terms, 0, sizeof *terms);
    ima_batch_buffer bb;
    if (ima_batch_buffer_init(&bb, ds, m->max_batch)) return ima_error_prefix("validation");
    size_t N = ds->n, *idx = ima_try_malloc(m->max_batch, sizeof(size_t));
    if (!idx) return ima_batch_buffer_free(&bb), ima_error_prefix("validation");
    for (size_t lo = 0; lo < N; lo += m->max_batch) {
        size_t B = N - lo < m->max_batch ? N - lo : m->max_batch;
        for (size_t i = 0; i < B; i++) idx[i] = lo + i;
        ima_stage1_terms t;
        const ima_batch *vb = ima_batch_gather(&bb, ds, idx, B);
        if (!vb || ima_stage1_forward_backward(m, vb, weights, 0, &t)) {
            free(idx);
            ima_batch_buffer_free(&bb);
            return ima_error_prefix("validation");
        }
        double w = (double)B / (double)N;
        terms->glob += w * t.glob;
        terms->total += w * t.total;
        for (int j = 0; j < m->cfg.n_modalities; j++) terms->rec[j] += w * t.rec[j], terms->align[j] += w * t.align[j];
    }
    free(idx);
    ima_batch_buffer_free(&bb);
    return isfinite(terms->total) ? IMA_OK : ima_error("validation: L_auto is not finite");
}

/* Stage-1 early stopping of one round: the best validation L_auto so far and the autoencoder that gave it. */
typedef struct {
    float *best; // (n_params_ae) autoencoder parameters of the best epoch (NULL: patience off)
    double loss;
    int best_epoch; // 0: none yet in this round's stage 1
} stage1_select;

/* after a stage-1 epoch with a validation set: its loss, the monitor, the best epoch, the stop rule */
static int finish_stage1_epoch(stage1_select *s, ima_model *m, const ima_train_config *cfg, ima_train_state *st,
                               const ima_train_callbacks *cb, ima_epoch_report *rep) {
    ima_stage1_terms t;
    ima_weights w = st->round == 1 ? IMA_WEIGHTS_ONE : IMA_WEIGHTS_IMPORTANCE;
    if (rep->epoch == 1) s->best_epoch = 0;
    if (ima_stage1_valid_loss(m, cb->valid, w, &t)) return IMA_ERR;
    rep->valid_loss = t.total;
    if (cb->monitor && cb->monitor(cb->ctx, m, &rep->monitor)) return IMA_ERR;
    if (s->best_epoch == 0 || t.total < s->loss) {
        s->best_epoch = rep->epoch;
        s->loss = t.total;
        if (s->best) memcpy(s->best, m->params, m->n_params_ae * sizeof(float));
    }
    rep->best_epoch = s->best_epoch;
    if (!s->best) return IMA_OK;
    int stop = rep->epoch - s->best_epoch >= cfg->patience_stage1;
    if ((stop || rep->epoch == rep->epochs) && s->best_epoch != rep->epoch)
        memcpy(m->params, s->best, m->n_params_ae * sizeof(float)); /* before on_epoch: a checkpoint holds it */
    if (stop && rep->epoch < rep->epochs) {
        rep->stop = 1;
        st->epoch = rep->epochs; /* the stage is over: the loop moves on to stage 2 */
    }
    return IMA_OK;
}

/* Stage-2 selection of one round: the best score so far and the importance nets that gave it. */
typedef struct {
    const ima_train_callbacks *cb;
    float *best; // (n_params_imp) importance parameters of the best epoch
    double score[2];
    int best_epoch; // 0: none scored yet in this round's stage 2
    double corr_first[IMA_MAX_MODALITIES];
} stage2_select;

/* scores the epoch just trained; keeps it when it beats the best; restores the best after the last */
static int select_epoch(stage2_select *s, ima_model *m, const ima_train_state *st, ima_epoch_report *rep) {
    double sc[2];
    ima_score_fn score = s->cb->score ? s->cb->score : ima_score_stage2_loss;
    ima_weights w = st->round == 1 ? IMA_WEIGHTS_ONE : IMA_WEIGHTS_IMPORTANCE;
    if (score(s->cb->score_ctx, m, s->cb->valid, w, sc)) return IMA_ERR;
    if (s->best_epoch == 0 || sc[0] > s->score[0] || (sc[0] == s->score[0] && sc[1] > s->score[1])) {
        s->score[0] = sc[0], s->score[1] = sc[1];
        s->best_epoch = rep->epoch;
        ima_model_importance_snapshot(m, s->best);
    }
    rep->scored = 1;
    rep->score[0] = sc[0], rep->score[1] = sc[1];
    rep->best_epoch = s->best_epoch;
    if (rep->epoch == rep->epochs && s->best_epoch != rep->epoch) ima_model_importance_restore(m, s->best);
    return IMA_OK;
}

/* after a stage-2 epoch: collapse flags and, with a validation set, selection */
static int finish_stage2_epoch(stage2_select *s, ima_model *m, const ima_train_state *st, ima_epoch_report *rep) {
    if (rep->epoch == 1) s->best_epoch = 0;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        if (rep->epoch == 1) s->corr_first[j] = rep->s2.corr[j];
        rep->corr_first[j] = s->corr_first[j];
        rep->collapse[j] = ima_collapse_flags(rep->mean_y[j], s->corr_first[j], rep->s2.corr[j]);
    }
    return s->cb && s->cb->valid ? select_epoch(s, m, st, rep) : IMA_OK;
}

int ima_train(ima_model *m, const ima_dataset *ds, const ima_train_config *cfg, ima_train_state *st,
              const ima_train_callbacks *cb) {
    if (ima_dataset_check(ds, &m->cfg, NULL)) return IMA_ERR;
    if (cb && cb->valid && ima_dataset_check(cb->valid, &m->cfg, NULL))
        return ima_error_prefix("train: validation set");
    if (cfg->batch_size < 1 || cfg->batch_size > m->max_batch)
        return ima_error("train: batch size %zu must be in 1..%zu (the model's max_batch)", cfg->batch_size,
                         m->max_batch);
    if (cfg->rounds < 1 || cfg->epochs_stage1 < 0 || cfg->epochs_stage2 < 0 || cfg->patience_stage1 < 0)
        return ima_error("train: rounds must be >= 1 and epoch counts and the patience >= 0");
    if (cfg->patience_stage1 > 0 && !(cb && cb->valid))
        return ima_error("train: stage-1 early stopping (patience %d) needs a validation set", cfg->patience_stage1);
    if (cb && cb->teacher && ima_local_ev_teacher_check(cb->teacher, ds, m->cfg.local_ev_k))
        return ima_error_prefix("train: the supplied teacher");
    size_t *order = ima_try_malloc(ds->n, sizeof(size_t));
    ima_batch_buffer bb;
    if (!order || ima_batch_buffer_init(&bb, ds, cfg->batch_size)) return free(order), ima_error_prefix("train");
    stage2_select sel;
    memset(&sel, 0, sizeof sel);
    sel.cb = cb;
    stage1_select sel1;
    memset(&sel1, 0, sizeof sel1);
    int rc = IMA_OK, validate1 = cb && cb->valid && (cfg->patience_stage1 > 0 || cb->monitor);
    if (cfg->patience_stage1 > 0 && !(sel1.best = ima_try_malloc(m->n_params_ae, sizeof(float))))
        rc = ima_error_prefix("train");
    if (rc == IMA_OK && cb && cb->valid) {
        sel.best = ima_try_malloc(m->n_params_imp, sizeof(float));
        if (!sel.best) rc = ima_error_prefix("train");
        else if (st->stage == 2 && st->epoch > 0 && !st->finished) { /* resumed inside stage 2 */
            ima_weights w = st->round == 1 ? IMA_WEIGHTS_ONE : IMA_WEIGHTS_IMPORTANCE;
            rc = (cb->score ? cb->score : ima_score_stage2_loss)(cb->score_ctx, m, cb->valid, w, sel.score);
            sel.best_epoch = st->epoch;
            ima_model_importance_snapshot(m, sel.best);
        }
    }
    float *targets = NULL, *tbuf = NULL; /* local-ev: (N, M) targets of the stage 2 in progress, (B, M) */
    while (!st->finished && rc == IMA_OK) {
        int epochs = st->stage == 1 ? cfg->epochs_stage1 : cfg->epochs_stage2;
        if (st->epoch >= epochs) { /* advance to the next stage or round */
            st->epoch = 0;
            if (st->stage == 1) {
                st->stage = 2;
            } else {
                st->stage = 1;
                if (++st->round > cfg->rounds) {
                    st->round = cfg->rounds;
                    st->stage = 2;
                    st->epoch = cfg->epochs_stage2;
                    st->finished = 1;
                }
            }
            continue;
        }
        /* local-ev targets depend on the inputs only (importance.h): computed once, kept over the rounds */
        if (st->stage == 2 && !targets && m->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV) {
            targets = ima_try_malloc(ds->n * (size_t)m->cfg.n_modalities, sizeof(float));
            if (!tbuf) tbuf = ima_try_malloc(cfg->batch_size * (size_t)m->cfg.n_modalities, sizeof(float));
            if (!targets || !tbuf) {
                rc = ima_error_prefix("train: local-ev targets");
                break;
            }
            float rho[IMA_MAX_MODALITIES];
            for (int j = 0; j < m->cfg.n_modalities; j++) rho[j] = m->cfg.mod[j].rho;
            if ((rc = cb && cb->teacher ? ima_local_ev_teacher_targets(targets, NULL, cb->teacher, rho, NULL)
                      : cb && !ima_collective_is_single(cb->coll)
                          ? ima_local_ev_targets_shared(targets, m, ds, cb->coll)
                          : ima_local_ev_targets(targets, NULL, m, ds, NULL)))
                break;
        }
        ima_epoch_report rep;
        memset(&rep, 0, sizeof rep);
        rep.round = st->round;
        rep.stage = st->stage;
        rep.epochs = epochs;
        rep.valid_loss = rep.monitor = NAN;
        if ((rc = run_epoch(m, ds, cfg, st, cb, order, &bb, &rep, targets, tbuf))) break;
        st->epoch++;
        rep.epoch = st->epoch;
        if (rep.stage == 1 && validate1 && (rc = finish_stage1_epoch(&sel1, m, cfg, st, cb, &rep))) break;
        if (rep.stage == 2 && (rc = finish_stage2_epoch(&sel, m, st, &rep))) break;
        double stop = cb && cb->on_epoch && cb->on_epoch(cb->ctx, m, st, &rep);
        if (cb && ima_collective_sum(cb->coll, &stop, 1)) { /* data-parallel: one rank stops, all stop */
            rc = ima_error_prefix("train: after round %d stage %d epoch %d", rep.round, rep.stage, rep.epoch);
            break;
        }
        if (stop != 0) {
            rc = IMA_ERR;
            break;
        }
    }
    free(sel.best);
    free(sel1.best);
    ima_batch_buffer_free(&bb);
    free(order);
    free(targets), free(tbuf);
    return rc;
}

/* ---- the importance networks as a unit ------------------------------------------------------ */

void ima_model_importance_snapshot(const ima_model *m, float *dst) {
    memcpy(dst, m->params + m->n_params_ae, m->n_params_imp * sizeof(float));
}

void ima_model_importance_restore(ima_model *m, const float *src) {
    memcpy(m->params + m->n_params_ae, src, m->n_params_imp * sizeof(float));
}

static void importance_optimizer_reset(ima_model *m) {
    memset(m->adam_m + m->n_params_ae, 0, m->n_params_imp * sizeof(float));
    memset(m->adam_v + m->n_params_ae, 0, m->n_params_imp * sizeof(float));
    m->step_imp = 0;
}

void ima_model_importance_reset(ima_model *m, uint64_t seed) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    for (int j = 0; j < m->cfg.n_modalities; j++) ima_mlp_init(&m->mod[j].imp, &rng);
    importance_optimizer_reset(m);
}

void ima_model_importance_restart(ima_model *m, const float *src) {
    ima_model_importance_restore(m, src);
    importance_optimizer_reset(m);
}

int ima_model_set_rho(ima_model *m, int j, float rho) {
    if (j < 0 || j >= m->cfg.n_modalities) return ima_error("set_rho: no modality %d", j);
    if (!(rho > 0 && rho < 1))
        return ima_error("set_rho: %s: rho: expected a value in (0, 1), got %g", m->cfg.mod[j].name, (double)rho);
    m->cfg.mod[j].rho = rho;
    return IMA_OK;
}

int ima_model_importances(ima_model *m, const ima_dataset *ds, float *const *y) {
    size_t Bmax = m->max_batch;
    if (ds->n_modalities != m->cfg.n_modalities)
        return ima_error("importances: a data set of %d modalities for a model of %d", ds->n_modalities,
                         m->cfg.n_modalities);
    for (int j = 0; j < ds->n_modalities; j++)
        if (ds->width[j] != m->cfg.mod[j].input_width)
            return ima_error("importances: modality %d (%s) is %zu wide; the model expects %zu", j, m->cfg.mod[j].name,
                             ds->width[j], m->cfg.mod[j].input_width);
    for (size_t lo = 0; lo < ds->n; lo += Bmax) {
        size_t B = ds->n - lo < Bmax ? ds->n - lo : Bmax;
        ima_batch b = {.B = B, .mask = NULL};
        for (int j = 0; j < ds->n_modalities; j++) b.x[j] = ds->x[j] + lo * ds->width[j];
        if (ima_model_importance(m, &b)) return ima_error_prefix("importances");
        for (int j = 0; j < ds->n_modalities; j++) memcpy(y[j] + lo, m->mod[j].y_imp, B * sizeof(float));
    }
    return IMA_OK;
}
