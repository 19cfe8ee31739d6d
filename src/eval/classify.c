/* classify.c: downstream classification of representations (paper appendix A.5, Table 3).
 *
 * Dimensions: N rows, D input width, H hidden units, C classes, B minibatch rows.
 *
 * An MLP D -> H -> ... -> H -> C (ReLU on the hidden layers, softmax cross-entropy on the output)
 * is trained with plain minibatch SGD for each candidate learning rate from the same seed; the rate
 * with the best validation accuracy after the last epoch wins (ties to the smaller rate). Inputs
 * are optionally z-scored with the training mean and sd (sd < 1e-12 leaves the feature unscaled). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/epoch.h"
#include "ima/eval.h"
#include "ima/loss_xent.h"
#include "ima/nn.h"
#include "ima/rng.h"

struct ima_classifier {
    ima_mlp mlp;
    size_t D, C;
    float *params; // (P) the chosen MLP's parameters
    float *mean;   // (D) input shift
    float *inv_sd; // (D) input scale
};

ima_classifier_config ima_classifier_defaults(void) {
    ima_classifier_config c = {0};
    c.hidden = 50;
    c.n_hidden_layers = 2;
    c.epochs = 30;
    c.batch = 64;
    c.n_lrs = 8;
    for (size_t i = 0; i < 8; i++) c.lrs[i] = 0.0625 * (double)(1u << i);
    c.standardize = 1;
    c.seed = 1;
    return c;
}

/* x_out (N, D) = (x - mean) * inv_sd */
static void scale_inputs(float *out, const float *x, const float *mean, const float *inv_sd, size_t N, size_t D) {
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++) out[i * D + d] = (x[i * D + d] - mean[d]) * inv_sd[d];
}

static void argmax_rows(int64_t *pred, const float *logits, size_t B, size_t C) {
    for (size_t r = 0; r < B; r++) {
        size_t best = 0;
        for (size_t c = 1; c < C; c++)
            if (logits[r * C + c] > logits[r * C + best]) best = c;
        pred[r] = (int64_t)best;
    }
}

/* Predictions of an MLP on already scaled rows, in batches of B. acts bound for B rows. */
static void mlp_predict(const ima_mlp *mlp, ima_mlp_acts *acts, int64_t *pred, const float *xs, size_t N, size_t B) {
    size_t D = mlp->width[0], C = mlp->width[mlp->n_layers];
    for (size_t i = 0; i < N; i += B) {
        size_t b = N - i < B ? N - i : B;
        ima_mlp_forward(mlp, acts, xs + i * D, b);
        argmax_rows(pred + i, acts->out[mlp->n_layers - 1], b, C);
    }
}

/* Overflow-checked sizes of an MLP over width[0..L] for B rows: parameters, activations and
 * backward scratch (as ima_mlp_setup / ima_mlp_acts_size / ima_mlp_scratch_size count them, in
 * floats, each + 1 so that no size is 0). IMA_ERR when a count does not fit in size_t. */
static int mlp_sizes(size_t *P, size_t *acts, size_t *scratch, const size_t *width, int L, size_t B) {
    size_t p = 1, a = 1, w = 0, t;
    for (int l = 0; l < L; l++) {
        if (ima_mul_overflows(width[l + 1], width[l] + 1, &t) || t > SIZE_MAX / sizeof(float) - p) goto overflow;
        p += t;
        if (ima_mul_overflows(B, width[l + 1], &t) || t > SIZE_MAX / sizeof(float) - a) goto overflow;
        a += t;
        if (l >= 1 && width[l] > w) w = width[l];
    }
    if (ima_mul_overflows(2 * B, w, &t) || t > SIZE_MAX / sizeof(float) - 1) goto overflow;
    *P = p, *acts = a, *scratch = t + 1;
    return IMA_OK;
overflow:
    return ima_error("the network's sizes (%zu rows, hidden width %zu) overflow the address space", B,
                     L > 1 ? width[1] : 0);
}

/* one SGD step on a batch of the (scaled) training rows: the batch step of ima_epoch_run; returns 1
 * (stop: diverged) when the loss is not finite */
typedef struct {
    ima_mlp *mlp;
    ima_mlp_acts *acts;
    const float *xt;            // (n_train, D) scaled inputs
    const int64_t *y;           // (n_train)
    float *xb;                  // (B, D) gathered batch
    int64_t *yb;                // (B)
    float *probs, *dlog, *lrow; // (B, C) (B, C) (B)
    float *params, *grads, *scratch;
    size_t P, C, D;
    int L;
    float lr;
    double sum; // sum over the epoch's rows of the loss
} sgd_ctx;

static int sgd_batch(void *vc, const size_t *idx, size_t B, size_t b, size_t nb) {
    (void)b, (void)nb;
    sgd_ctx *c = vc;
    size_t D = c->D;
    for (size_t t = 0; t < B; t++) {
        memcpy(c->xb + t * D, c->xt + idx[t] * D, D * sizeof *c->xb);
        c->yb[t] = c->y[idx[t]];
    }
    ima_mlp_forward(c->mlp, c->acts, c->xb, B);
    double l = ima_softmax_xent_forward(c->lrow, c->probs, c->acts->out[c->L - 1], c->yb, B, c->C);
    if (!isfinite(l)) return 1;
    c->sum += l * (double)B;
    ima_softmax_xent_backward(c->dlog, c->probs, c->yb, 1.0f / (float)B, B, c->C);
    memset(c->grads, 0, c->P * sizeof *c->grads);
    ima_mlp_backward(c->mlp, c->acts, NULL, c->dlog, c->xb, B, c->scratch);
    ima_sgd_update(c->params, c->grads, c->P, c->lr);
    return 0;
}

int ima_classifier_fit(ima_classifier **out, ima_classifier_report *rep, const ima_classifier_config *cfg,
                       const float *train_x, const int64_t *train_y, size_t n_train, const float *valid_x,
                       const int64_t *valid_y, size_t n_valid, size_t D) {
    *out = NULL;
    if (cfg->n_lrs < 1 || cfg->n_lrs > IMA_CLF_MAX_LRS)
        return ima_error("%s: %zu learning rates given (1..%d allowed)", __func__, cfg->n_lrs, IMA_CLF_MAX_LRS);
    if (cfg->n_hidden_layers < 1 || cfg->n_hidden_layers > IMA_MLP_MAX_LAYERS - 1)
        return ima_error("%s: %d hidden layers (1..%d allowed)", __func__, cfg->n_hidden_layers,
                         IMA_MLP_MAX_LAYERS - 1);
    if (cfg->hidden == 0 || cfg->batch == 0 || cfg->epochs == 0)
        return ima_error("%s: hidden width, batch and epochs must be positive", __func__);
    for (size_t k = 0; k < cfg->n_lrs; k++)
        if (!(cfg->lrs[k] > 0.0) || !isfinite(cfg->lrs[k]))
            return ima_error("%s: learning rate %g is not a positive number", __func__, cfg->lrs[k]);
    if (n_train == 0 || n_valid == 0 || D == 0)
        return ima_error("%s: empty split (train %zu rows, validation %zu rows, width %zu)", __func__, n_train, n_valid,
                         D);
    int64_t ymax = -1;
    for (size_t i = 0; i < n_train; i++) {
        if (train_y[i] < 0 || train_y[i] > 100000)
            return ima_error("%s: training label %lld of row %zu is outside [0, 100000]", __func__,
                             (long long)train_y[i], i);
        if (train_y[i] > ymax) ymax = train_y[i];
    }
    size_t C = (size_t)ymax + 1;
    if (C < 2) return ima_error("%s: the training labels hold a single class", __func__);
    for (size_t i = 0; i < n_valid; i++)
        if (valid_y[i] < 0 || (size_t)valid_y[i] >= C)
            return ima_error("%s: validation label %lld of row %zu is not a training class [0, %zu)", __func__,
                             (long long)valid_y[i], i, C);
    size_t ntd, nvd;
    if (ima_mul_overflows(n_train, D, &ntd) || ima_mul_overflows(n_valid, D, &nvd))
        return ima_error_prefix("%s", __func__);

    // network D -> H x n_hidden -> C
    size_t width[IMA_MLP_MAX_LAYERS + 1];
    int L = cfg->n_hidden_layers + 1;
    width[0] = D;
    for (int l = 1; l < L; l++) width[l] = cfg->hidden;
    width[L] = C;
    size_t B = cfg->batch, n_p, n_acts, n_scratch;
    if (mlp_sizes(&n_p, &n_acts, &n_scratch, width, L, B)) return ima_error_prefix("%s", __func__);

    ima_classifier *clf = ima_try_calloc(1, sizeof *clf);
    if (!clf) return ima_error_prefix("%s", __func__);
    clf->D = D;
    clf->C = C;
    clf->mean = ima_try_calloc(D, sizeof *clf->mean);
    clf->inv_sd = ima_try_malloc(D, sizeof *clf->inv_sd);
    if (!clf->mean || !clf->inv_sd) {
        ima_classifier_free(clf);
        return ima_error_prefix("%s", __func__);
    }
    for (size_t d = 0; d < D; d++) clf->inv_sd[d] = 1.0f;
    if (cfg->standardize) {
        for (size_t d = 0; d < D; d++) {
            double s = 0.0, s2 = 0.0;
            for (size_t i = 0; i < n_train; i++) s += train_x[i * D + d];
            double m = s / (double)n_train;
            for (size_t i = 0; i < n_train; i++) {
                double v = train_x[i * D + d] - m;
                s2 += v * v;
            }
            double sd = sqrt(s2 / (double)n_train);
            clf->mean[d] = (float)m;
            clf->inv_sd[d] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f;
        }
    }
    /* every buffer the caller's sizes choose, before any work: out of memory is an error naming the size */
    float *xt = ima_try_malloc(ntd, sizeof *xt); // (n_train, D) scaled
    float *xv = ima_try_malloc(nvd, sizeof *xv); // (n_valid, D) scaled
    if (!xt || !xv) {
        free(xt), free(xv);
        ima_classifier_free(clf);
        return ima_error_prefix("%s", __func__);
    }
    scale_inputs(xt, train_x, clf->mean, clf->inv_sd, n_train, D);
    scale_inputs(xv, valid_x, clf->mean, clf->inv_sd, n_valid, D);

    size_t P = ima_mlp_setup(&clf->mlp, L, width);
    float *params = ima_try_malloc(P, sizeof *params); // (P) candidate being trained
    float *grads = ima_try_malloc(P, sizeof *grads);   // (P)
    clf->params = ima_try_malloc(P, sizeof *clf->params);
    float *acts_buf = ima_try_malloc(n_acts, sizeof *acts_buf);
    float *scratch = ima_try_malloc(n_scratch, sizeof *scratch);
    float *xb = ima_try_malloc(B, D * sizeof *xb);       // (B, D) gathered batch
    int64_t *yb = ima_try_malloc(B, sizeof *yb);         // (B)
    float *probs = ima_try_malloc(B, C * sizeof *probs); // (B, C)
    float *dlog = ima_try_malloc(B, C * sizeof *dlog);   // (B, C)
    float *lrow = ima_try_malloc(B, sizeof *lrow);       // (B)
    size_t *order = ima_try_malloc(n_train, sizeof *order);
    int64_t *pred = ima_try_malloc(n_valid, sizeof *pred);
    if (!params || !grads || !clf->params || !acts_buf || !scratch || !xb || !yb || !probs || !dlog || !lrow ||
        !order || !pred) {
        free(xt), free(xv), free(params), free(grads), free(acts_buf), free(scratch), free(xb), free(yb);
        free(probs), free(dlog), free(lrow), free(order), free(pred);
        ima_classifier_free(clf);
        return ima_error_prefix("%s", __func__);
    }
    ima_mlp_acts acts;
    ima_mlp_acts_bind(&acts, &clf->mlp, acts_buf, B);

    ima_classifier_report r = {0};
    r.n_lrs = cfg->n_lrs;
    r.n_classes = C;
    double best_acc = -1.0;
    for (size_t k = 0; k < cfg->n_lrs; k++) {
        float lr = (float)cfg->lrs[k];
        r.lrs[k] = cfg->lrs[k];
        ima_rng rng;
        ima_rng_init(&rng, cfg->seed);
        ima_mlp_bind(&clf->mlp, params, grads);
        ima_mlp_init(&clf->mlp, &rng);
        for (size_t i = 0; i < n_train; i++) order[i] = i;
        double epoch_loss = 0.0;
        int diverged = 0;
        sgd_ctx c = {&clf->mlp, &acts, xt,      train_y, xb, yb, probs, dlog, lrow,
                     params,    grads, scratch, P,       C,  D,  L,     lr,   0.0};
        for (size_t e = 0; e < cfg->epochs && !diverged; e++) {
            c.sum = 0.0;
            diverged = ima_epoch_run(order, n_train, B, 0, &rng, sgd_batch, &c) != 0;
            epoch_loss = c.sum / (double)n_train;
        }
        for (size_t i = 0; i < P && !diverged; i++) diverged = !isfinite(params[i]);
        r.diverged[k] = diverged;
        r.train_loss[k] = diverged ? INFINITY : epoch_loss;
        double acc = 0.0;
        if (!diverged) {
            mlp_predict(&clf->mlp, &acts, pred, xv, n_valid, B);
            acc = ima_accuracy(pred, valid_y, NULL, n_valid, NULL);
        }
        r.valid_acc[k] = acc;
        if (!diverged && acc > best_acc) {
            best_acc = acc;
            r.chosen = k;
            memcpy(clf->params, params, P * sizeof *params);
        }
    }
    free(xt);
    free(xv);
    free(params);
    free(grads);
    free(acts_buf);
    free(scratch);
    free(xb);
    free(yb);
    free(probs);
    free(dlog);
    free(lrow);
    free(order);
    free(pred);
    if (rep) *rep = r;
    if (best_acc < 0.0) {
        ima_classifier_free(clf);
        return ima_error("%s: training diverged for every learning rate; try smaller rates or --standardize", __func__);
    }
    ima_mlp_bind(&clf->mlp, clf->params, NULL);
    *out = clf;
    return IMA_OK;
}

int ima_classifier_predict(const ima_classifier *clf, int64_t *pred, const float *x, size_t N) {
    enum { BATCH = 256 };
    size_t D = clf->D, n_p, n_acts, n_scratch;
    if (mlp_sizes(&n_p, &n_acts, &n_scratch, clf->mlp.width, clf->mlp.n_layers, BATCH))
        return ima_error_prefix("%s", __func__);
    ima_mlp_acts acts;
    float *acts_buf = ima_try_malloc(n_acts, sizeof *acts_buf);
    float *xs = ima_try_malloc(BATCH, D * sizeof *xs); // (BATCH, D); D * 4 fits: fit allocated (n_train, D) floats
    if (!acts_buf || !xs) {
        free(acts_buf);
        free(xs);
        return ima_error_prefix("%s: activations for %d rows", __func__, BATCH);
    }
    ima_mlp_acts_bind(&acts, &clf->mlp, acts_buf, BATCH);
    for (size_t i = 0; i < N; i += BATCH) {
        size_t b = N - i < BATCH ? N - i : BATCH;
        scale_inputs(xs, x + i * D, clf->mean, clf->inv_sd, b, D);
        mlp_predict(&clf->mlp, &acts, pred + i, xs, b, BATCH);
    }
    free(acts_buf);
    free(xs);
    return IMA_OK;
}

size_t ima_classifier_input_width(const ima_classifier *clf) { return clf->D; }

void ima_classifier_free(ima_classifier *clf) {
    if (!clf) return;
    free(clf->params);
    free(clf->mean);
    free(clf->inv_sd);
    free(clf);
}

double ima_accuracy(const int64_t *pred, const int64_t *labels, const uint8_t *mask, size_t N, size_t *n_used) {
    size_t n = 0, ok = 0;
    for (size_t i = 0; i < N; i++) {
        if (mask && !mask[i]) continue;
        n++;
        ok += pred[i] == labels[i];
    }
    if (n_used) *n_used = n;
    return n ? (double)ok / (double)n : 0.0;
}
