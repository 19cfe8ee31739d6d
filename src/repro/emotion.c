/* emotion.c (repro): `ima repro emotion`: the paper's IEMOCAP experiment end to end (SPEC section 9).
 *
 *   corpus (MELD analogue or IEMOCAP) -> train pairs (N^2 per utterance)
 *   -> IMA: stage 1 (SSE autoencoder), stage 2 (importance nets, rho 0.03 words / 0.7 acoustics)
 *   -> token codes u0, u1 and importances y0, y1 -> utterance representations (Eq. 5: weighted,
 *      unweighted; multimodal, verbal, acoustic)
 *   -> Table 2 analogue (P@10 same-emotion retrieval), Table 6 analogue (2 x 50 MLP)
 *   -> importance F1 (words vs Empath, acoustics vs "utterance is emotional"), random labeller,
 *      rho sweep -> baselines MVAE and JMVAE-KL on the same pairs -> figures, report.md, results.json
 *
 * Dimensions: U utterances, T tokens, P pairs, B batch, d = 50 latent, Dw = 100, Da acoustic. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ima/baselines.h"
#include "ima/common.h"
#include "ima/emotion.h"
#include "ima/eval.h"
#include "ima/importance.h"
#include "ima/model.h"
#include "ima/plot.h"
#include "ima/rng.h"
#include "ima/tsne.h"
#include "ima/train.h"
#include "ima/utterance.h"
#include "repro/emotion.h"

#define LATENT 50
#define HIDDEN 100
#define N_REPS 6

emo_repro_config emo_repro_defaults(int quick) {
    emo_repro_config c = {0};
    c.out_dir = "out/repro-emotion";
    c.quick = quick;
    c.seed = 1;
    c.limit_per_split = quick ? 1500 : 0;
    c.max_pairs_per_utt = quick ? 64 : 0;
    c.epochs1 = quick ? 2 : 6;
    c.epochs2 = quick ? 1 : 2;
    c.baseline_epochs = quick ? 1 : 3;
    c.batch = 256;
    c.lr = 1e-3;
    c.rho_words = 0.03f;
    c.rho_acoustic = 0.7f;
    c.lambda_corr = 1.0f;
    c.lambda_local = 1.0f;
    c.n_rho = quick ? 5 : 7;
    c.sweep_epochs = 1;
    c.sweep_pairs = quick ? 0 : 200000;
    c.classifier_epochs = quick ? 20 : 40;
    c.tsne_points = quick ? 800 : 2500;
    c.with_baselines = 1;
    c.importance_objective = EMO_OBJECTIVE_AUTO;
    c.local_ev_rows = quick ? 10000 : 30000;
    c.local_ev_epochs = quick ? 10 : 20;
    c.local_ev_k = IMA_LOCAL_EV_DEFAULT_K;
    return c;
}

/* ---- phase timings ------------------------------------------------------------------------------
 * Wall and CPU seconds (the process's, every thread: the model's row-split worker, OpenBLAS and the
 * corpus builder's workers) of each phase; the phases follow one another, each mark closes the
 * running one, so they add up to the run. CPU time is the fairer measure on a shared machine. */
enum {
    PH_CORPUS,
    PH_PAIRS,
    PH_IMA,
    PH_LEV_TARGETS,
    PH_LEV_TRAIN,
    PH_EVAL,
    PH_FIGURES,
    PH_SWEEP,
    PH_MVAE,
    PH_JMVAE,
    PH_REPORT,
    N_PHASES
};
static const char *const phase_names[N_PHASES] = {
    "corpus (speech synthesis, acoustic features, vocabulary, GloVe)",
    "ground truth and training pairs",
    "IMA stages 1 and 2, token codes",
    "local-ev targets (k-NN, calibration)",
    "local-ev stage 2 training, importances",
    "utterance representations, P@10, MLP learning-rate sweeps",
    "figures 3 and 5 (t-SNE)",
    "rho sweep",
    "MVAE: training and evaluation",
    "JMVAE-KL: training and evaluation",
    "results.json and report.md"};
static const char *const phase_keys[N_PHASES] = {"corpus",     "pairs",   "ima_training", "local_ev_targets",
                                                 "local_ev_training", "evaluation", "figures", "rho_sweep",
                                                 "mvae",       "jmvae_kl", "report"};
typedef struct {
    double wall[N_PHASES], cpu[N_PHASES];
    double w0, c0, w_start, c_start; // the running phase's start; the run's start
} phase_clock;

static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static void phase_clock_start(phase_clock *p) {
    memset(p, 0, sizeof *p);
    p->w0 = p->w_start = ima_wall_seconds();
    p->c0 = p->c_start = cpu_seconds();
}
/* closes the running phase as phase ph (the time since the last mark is ph's) */
static void phase_mark(phase_clock *p, int ph) {
    double w = ima_wall_seconds(), c = cpu_seconds();
    p->wall[ph] += w - p->w0;
    p->cpu[ph] += c - p->c0;
    p->w0 = w;
    p->c0 = c;
}
static double phase_total_wall(const phase_clock *p) { return ima_wall_seconds() - p->w_start; }
static double phase_total_cpu(const phase_clock *p) { return cpu_seconds() - p->c_start; }

/* ---- pairs as batches ----------------------------------------------------------------------------- */

typedef struct {
    const ima_emo_corpus *c;
    float *x0, *x1; // (B, Dw), (B, Da)
    uint8_t *mask;  // (B, 2)
    size_t cap;
} gatherer;

/* IMA_ERR (the buffers left for gatherer_free) when the batch does not fit in memory */
static int gatherer_init(gatherer *g, const ima_emo_corpus *c, size_t cap) {
    g->c = c;
    g->cap = cap;
    g->x0 = ima_try_malloc(cap, IMA_EMO_WORD_DIM * sizeof(float));
    g->x1 = ima_try_malloc(cap, IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    g->mask = ima_try_malloc(cap, 2);
    return g->x0 && g->x1 && g->mask ? IMA_OK : ima_error_prefix("batch of %zu pairs", cap);
}
static void gatherer_free(gatherer *g) {
    free(g->x0);
    free(g->x1);
    free(g->mask);
}
/* rows: word token w[i], acoustic token a[i]; present: 0 both, 1 words only, 2 acoustics only */
static ima_batch gather(gatherer *g, const int64_t *w, const int64_t *a, size_t stride, size_t B, int present) {
    for (size_t i = 0; i < B; i++) {
        memcpy(g->x0 + i * IMA_EMO_WORD_DIM, g->c->wvec + (size_t)w[i * stride] * IMA_EMO_WORD_DIM,
               IMA_EMO_WORD_DIM * sizeof(float));
        memcpy(g->x1 + i * IMA_EMO_ACOUSTIC_DIM, g->c->avec + (size_t)a[i * stride] * IMA_EMO_ACOUSTIC_DIM,
               IMA_EMO_ACOUSTIC_DIM * sizeof(float));
        g->mask[2 * i] = present != 2;
        g->mask[2 * i + 1] = present != 1;
    }
    ima_batch b = {0};
    b.B = B;
    b.x[0] = g->x0;
    b.x[1] = g->x1;
    b.mask = present ? g->mask : NULL;
    return b;
}

/* ---- IMA training --------------------------------------------------------------------------------- */

typedef struct {
    double corr0[2], local0[2], corr1[2], local1[2], ybar1[2]; // stage-2 terms at the first / last epoch
    double teach0[2], teach1[2];                               // local-ev: BCE to the targets, first batch / last epoch
    double rec[2], align[2], glob;                             // stage-1 terms of the last epoch
    double seconds1, seconds2;
} ima_log;

/* targets (P, 2) or NULL: local-ev stage 2 (the model's objective must be local-ev), row i of the pairs */
static int train_stage(ima_model *m, gatherer *g, const int64_t *pairs, size_t P, int stage, int epochs, size_t batch,
                       const ima_adam_config *adam, ima_rng *rng, ima_log *log, int verbose, const float *targets) {
    size_t *idx = ima_try_malloc(P, sizeof(size_t));
    int64_t *bw = ima_try_malloc(batch, sizeof(int64_t)), *ba = ima_try_malloc(batch, sizeof(int64_t));
    float *tb = targets ? ima_try_malloc(batch * 2, sizeof(float)) : NULL; /* (B, 2) this batch's targets */
    int st = idx && bw && ba && (tb || !targets) ? IMA_OK : ima_error_prefix("stage %d: %zu pairs", stage, P);
    for (size_t i = 0; i < P && !st; i++) idx[i] = i;
    for (int e = 0; e < epochs && !st; e++) {
        double t0 = ima_wall_seconds();
        ima_rng_shuffle(rng, idx, P);
        double acc[8] = {0};
        size_t nb = 0;
        for (size_t s = 0; s + batch <= P; s += batch, nb++) { /* full batches only (stage 2 statistics) */
            for (size_t i = 0; i < batch; i++) {
                bw[i] = pairs[3 * idx[s + i]];
                ba[i] = pairs[3 * idx[s + i] + 1];
            }
            ima_batch b = gather(g, bw, ba, 1, batch, 0);
            if (targets) {
                for (size_t i = 0; i < batch; i++) memcpy(tb + 2 * i, targets + 2 * idx[s + i], 2 * sizeof(float));
                b.target = tb;
            }
            if (stage == 1) {
                ima_stage1_terms t;
                if (ima_stage1_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t)) {
                    st = ima_error_prefix("stage 1, epoch %d", e + 1);
                    break;
                }
                if (!isfinite(t.total)) {
                    st = ima_error("stage 1, epoch %d: the loss became non-finite", e + 1);
                    break;
                }
                ima_stage1_step(m, adam);
                acc[0] += t.rec[0];
                acc[1] += t.rec[1];
                acc[2] += t.align[0];
                acc[3] += t.align[1];
                acc[4] += t.glob;
            } else {
                ima_stage2_terms t;
                if (ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t)) {
                    st = ima_error_prefix("stage 2, epoch %d", e + 1);
                    break;
                }
                if (!isfinite(t.total)) {
                    st = ima_error("stage 2, epoch %d: the loss became non-finite", e + 1);
                    break;
                }
                ima_stage2_step(m, adam);
                if (log && e == 0 && nb == 0) {
                    for (int j = 0; j < 2; j++) {
                        log->corr0[j] = t.corr[j];
                        log->local0[j] = t.local[j];
                        log->teach0[j] = t.teach[j];
                    }
                }
                acc[0] += t.corr[0];
                acc[1] += t.corr[1];
                acc[2] += t.local[0];
                acc[3] += t.local[1];
                acc[4] += t.ybar[0];
                acc[5] += t.ybar[1];
                acc[6] += t.teach[0];
                acc[7] += t.teach[1];
            }
        }
        if (st) break;
        for (int k = 0; k < 8; k++) acc[k] /= nb ? (double)nb : 1.0;
        double dt = ima_wall_seconds() - t0;
        if (stage == 1) {
            if (log) {
                log->rec[0] = acc[0];
                log->rec[1] = acc[1];
                log->align[0] = acc[2];
                log->align[1] = acc[3];
                log->glob = acc[4];
                log->seconds1 += dt;
            }
            if (verbose)
                fprintf(
                    stderr,
                    "  IMA stage 1 epoch %d/%d: rec words %.3f acoustics %.3f, align %.3f %.3f, glob %.3f (%.0f s)\n",
                    e + 1, epochs, acc[0], acc[1], acc[2], acc[3], acc[4], dt);
        } else {
            if (log) {
                log->corr1[0] = acc[0];
                log->corr1[1] = acc[1];
                log->local1[0] = acc[2];
                log->local1[1] = acc[3];
                log->ybar1[0] = acc[4];
                log->ybar1[1] = acc[5];
                log->teach1[0] = acc[6];
                log->teach1[1] = acc[7];
                log->seconds2 += dt;
            }
            if (verbose && targets)
                fprintf(stderr, "  IMA stage 2 (local-ev) epoch %d/%d: BCE to the targets %.4g / %.4g, mean y %.3f / %.3f (%.0f s)\n",
                        e + 1, epochs, acc[6], acc[7], acc[4], acc[5], dt);
            else if (verbose)
                fprintf(
                    stderr,
                    "  IMA stage 2 epoch %d/%d: L_corr %.3g / %.3g, L_local %.3g / %.3g, mean y %.3f / %.3f (%.0f s)\n",
                    e + 1, epochs, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], dt);
        }
    }
    free(idx);
    free(bw);
    free(ba);
    free(tb);
    return st;
}

/* u0, u1 (T, d) (or NULL: not kept), y0, y1 (T) of every token */
static int encode_tokens(ima_model *m, gatherer *g, size_t T, float *u0, float *u1, float *y0, float *y1) {
    size_t B = g->cap;
    int64_t *ids = ima_try_malloc(B, sizeof(int64_t));
    if (!ids) return ima_error_prefix("%s", __func__);
    for (size_t s = 0; s < T; s += B) {
        size_t n = T - s < B ? T - s : B;
        for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(s + i);
        ima_batch b = gather(g, ids, ids, 1, n, 0);
        if (ima_model_encode(m, &b, IMA_WEIGHTS_ONE) || ima_model_importance(m, &b)) {
            free(ids);
            return ima_error_prefix("%s", __func__);
        }
        if (u0) memcpy(u0 + s * LATENT, ima_model_u(m, 0), n * LATENT * sizeof(float));
        if (u1) memcpy(u1 + s * LATENT, ima_model_u(m, 1), n * LATENT * sizeof(float));
        memcpy(y0 + s, m->mod[0].y_imp, n * sizeof(float));
        memcpy(y1 + s, m->mod[1].y_imp, n * sizeof(float));
    }
    free(ids);
    return IMA_OK;
}

/* ---- baselines ------------------------------------------------------------------------------------ */

static int train_baseline(ima_baseline *bl, gatherer *g, const int64_t *pairs, size_t P, int epochs, size_t batch,
                          const ima_adam_config *adam, ima_rng *rng, const char *name, int verbose) {
    size_t *idx = ima_try_malloc(P, sizeof(size_t));
    int64_t *bw = ima_try_malloc(batch, sizeof(int64_t)), *ba = ima_try_malloc(batch, sizeof(int64_t));
    int st = idx && bw && ba ? IMA_OK : ima_error_prefix("%s: %zu pairs", name, P);
    for (size_t i = 0; i < P && !st; i++) idx[i] = i;
    for (int e = 0; e < epochs && !st; e++) {
        double t0 = ima_wall_seconds(), acc = 0.0;
        size_t nb = 0;
        ima_rng_shuffle(rng, idx, P);
        for (size_t s = 0; s + batch <= P; s += batch, nb++) {
            for (size_t i = 0; i < batch; i++) {
                bw[i] = pairs[3 * idx[s + i]];
                ba[i] = pairs[3 * idx[s + i] + 1];
            }
            ima_batch b = gather(g, bw, ba, 1, batch, 0);
            ima_baseline_terms t;
            if (ima_baseline_sample_noise(bl, batch, rng) || ima_baseline_loss_grad(bl, &b, 1, &t)) {
                st = ima_error_prefix("%s, epoch %d", name, e + 1);
                break;
            }
            if (!isfinite(t.total)) {
                st = ima_error("%s, epoch %d: the loss became non-finite", name, e + 1);
                break;
            }
            ima_baseline_step(bl, adam);
            acc += t.total;
        }
        if (verbose && !st)
            fprintf(stderr, "  %s epoch %d/%d: loss %.3f (%.0f s)\n", name, e + 1, epochs,
                    acc / (nb ? (double)nb : 1.0), ima_wall_seconds() - t0);
    }
    free(idx);
    free(bw);
    free(ba);
    return st;
}

/* unimodal posterior means of every token: c0 from words alone, c1 from acoustics alone */
static int baseline_tokens(ima_baseline *bl, gatherer *g, size_t T, float *c0, float *c1) {
    size_t B = g->cap;
    int64_t *ids = ima_try_malloc(B, sizeof(int64_t));
    if (!ids) return ima_error_prefix("%s", __func__);
    for (size_t s = 0; s < T; s += B) {
        size_t n = T - s < B ? T - s : B;
        for (size_t i = 0; i < n; i++) ids[i] = (int64_t)(s + i);
        ima_batch b = gather(g, ids, ids, 1, n, 1);
        int rc = ima_baseline_represent(bl, &b, c0 + s * LATENT);
        b = gather(g, ids, ids, 1, n, 2);
        if (rc || ima_baseline_represent(bl, &b, c1 + s * LATENT)) {
            free(ids);
            return ima_error_prefix("%s", __func__);
        }
    }
    free(ids);
    return IMA_OK;
}

/* ---- splits, representations, evaluation ----------------------------------------------------------- */

typedef struct {
    size_t U, T;
    size_t *utt;       // (U) corpus utterance index
    size_t *tok;       // (T) corpus token index
    size_t *tok_start; // (U + 1) local
    int64_t *label;    // (U)
} split_view;

/* IMA_ERR (what was allocated left for split_view_free) when memory runs out */
static int split_view_init(split_view *v, const ima_emo_corpus *c, int s) {
    memset(v, 0, sizeof *v);
    for (size_t u = 0; u < c->n_utts; u++)
        if (c->split[u] == s) {
            v->U++;
            v->T += c->tok_start[u + 1] - c->tok_start[u];
        }
    v->utt = ima_try_malloc(v->U + 1, sizeof(size_t));
    v->tok = ima_try_malloc(v->T + 1, sizeof(size_t));
    v->tok_start = ima_try_malloc(v->U + 1, sizeof(size_t));
    v->label = ima_try_malloc(v->U + 1, sizeof(int64_t));
    if (!v->utt || !v->tok || !v->tok_start || !v->label)
        return ima_error_prefix("split %s: %zu utterances", ima_emo_split_names[s], v->U);
    size_t k = 0, t2 = 0;
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != s) continue;
        v->utt[k] = u;
        v->label[k] = c->label[u];
        v->tok_start[k] = t2;
        for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++) v->tok[t2++] = t;
        k++;
    }
    v->tok_start[k] = t2;
    return IMA_OK;
}
static void split_view_free(split_view *v) {
    free(v->utt);
    free(v->tok);
    free(v->tok_start);
    free(v->label);
}

/* rows idx[0..n) of x (., D); NULL (the error set) when memory runs out */
static float *gather_rows(const float *x, const size_t *idx, size_t n, size_t D) {
    float *o = ima_try_malloc(n ? n : 1, D * sizeof(float));
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) memcpy(o + i * D, x + idx[i] * D, D * sizeof(float));
    return o;
}

static const char *const rep_names[N_REPS] = {"verbal_unweighted", "verbal_weighted",       "acoustic_unweighted",
                                              "acoustic_weighted", "multimodal_unweighted", "multimodal_weighted"};

/* the six utterance representations of one split (U, d) each; y0/y1 NULL for a baseline (weighted
 * entries are then left NULL) */
static int utterance_reps(float *reps[N_REPS], const split_view *v, const float *u0, const float *u1, const float *y0,
                          const float *y1) {
    float *a0 = gather_rows(u0, v->tok, v->T, LATENT), *a1 = gather_rows(u1, v->tok, v->T, LATENT);
    float *w0 = y0 ? gather_rows(y0, v->tok, v->T, 1) : NULL, *w1 = y1 ? gather_rows(y1, v->tok, v->T, 1) : NULL;
    int st = a0 && a1 && (!y0 || w0) && (!y1 || w1) ? IMA_OK : ima_error_prefix("%zu tokens", v->T);
    for (int r = 0; r < N_REPS; r++) {
        reps[r] = NULL;
        int weighted = r % 2 == 1;
        if (weighted && !y0) continue;
        if (!st && !(reps[r] = ima_try_malloc(v->U ? v->U : 1, LATENT * sizeof(float))))
            st = ima_error_prefix("%zu utterances", v->U);
        int kind = r / 2; /* 0 verbal, 1 acoustic, 2 multimodal */
        if (!st)
            st = ima_utterance_pool(reps[r], kind != 1 ? a0 : NULL, weighted ? w0 : NULL, kind != 0 ? a1 : NULL,
                                    weighted ? w1 : NULL, v->tok_start, v->U, LATENT);
    }
    free(a0);
    free(a1);
    free(w0);
    free(w1);
    return st;
}

typedef struct {
    double p10[N_REPS];       // retrieval on the evaluation split
    double acc_valid[N_REPS]; // MLP accuracy, validation (the paper's Table 6 protocol)
    double acc_test[N_REPS];  // MLP accuracy, test
    double lr[N_REPS];        // chosen learning rate
    int have[N_REPS];
} rep_scores;

static int evaluate_reps(rep_scores *sc, float *reps[3][N_REPS], const split_view sv[3], int eval_split,
                         const emo_repro_config *cfg) {
    memset(sc, 0, sizeof *sc);
    ima_classifier_config cc = ima_classifier_defaults();
    cc.epochs = (size_t)cfg->classifier_epochs;
    cc.seed = cfg->seed + 17;
    for (int r = 0; r < N_REPS; r++) {
        if (!reps[0][r]) continue;
        sc->have[r] = 1;
        size_t k = 10;
        if (ima_precision_at_k(&sc->p10[r], NULL, NULL, reps[eval_split][r], sv[eval_split].label, NULL, NULL, &k, 1,
                               sv[eval_split].U, LATENT))
            return IMA_ERR;
        ima_classifier *clf;
        ima_classifier_report rep;
        if (ima_classifier_fit(&clf, &rep, &cc, reps[0][r], sv[0].label, sv[0].U, reps[1][r], sv[1].label, sv[1].U,
                               LATENT))
            return IMA_ERR;
        sc->lr[r] = rep.lrs[rep.chosen];
        sc->acc_valid[r] = rep.valid_acc[rep.chosen];
        if (sv[2].U) {
            int64_t *pred = ima_try_malloc(sv[2].U, sizeof(int64_t));
            if (!pred || ima_classifier_predict(clf, pred, reps[2][r], sv[2].U)) {
                free(pred);
                ima_classifier_free(clf);
                return ima_error_prefix("%zu test utterances", sv[2].U);
            }
            sc->acc_test[r] = ima_accuracy(pred, sv[2].label, NULL, sv[2].U, NULL);
            free(pred);
        } else {
            sc->acc_test[r] = NAN;
        }
        ima_classifier_free(clf);
    }
    return IMA_OK;
}

/* importance scores of n samples (important = the positive class):
 *   f1      y >= 0.5 called important (the paper's reading)
 *   f1_top  the fraction rho with the largest y called important (rho read as the expected proportion; no labels)
 *   f1_best the best average F1 over every threshold (uses the labels: an upper bound, not a result)
 *   auc     P(y of an important sample > y of an unimportant one) */
typedef struct {
    ima_f1_scores f1;
    double f1_top, f1_best, auc, mean_y, prevalence, rand_r, rand_f1;
} imp_scores;

typedef struct {
    float y;
    size_t i;
} ranked;
/* y descending, ties by index */
static int cmp_ranked(const void *a, const void *b) {
    const ranked *p = a, *q = b;
    return p->y > q->y ? -1 : p->y < q->y ? 1 : (p->i > q->i) - (p->i < q->i);
}

static int importance_eval(imp_scores *o, const float *y, const uint8_t *truth, size_t n, double rho) {
    memset(o, 0, sizeof *o);
    uint8_t *pred = ima_try_malloc(n ? n : 1, 1), *unimp = ima_try_malloc(n ? n : 1, 1);
    ranked *ord = ima_try_malloc(n ? n : 1, sizeof(ranked));
    if (!pred || !unimp || !ord) {
        free(pred), free(unimp), free(ord);
        return ima_error_prefix("importance of %zu samples", n);
    }
    double sy = 0.0;
    for (size_t i = 0; i < n; i++) {
        pred[i] = y[i] >= 0.5f;
        unimp[i] = !truth[i];
        sy += y[i];
        ord[i].y = y[i];
        ord[i].i = i;
    }
    ima_f1_two_class(&o->f1, pred, truth, NULL, n);
    o->mean_y = n ? sy / (double)n : 0.0;
    o->prevalence = n ? (double)o->f1.n_pos / (double)n : 0.0;
    ima_random_labeller_best(o->prevalence, &o->rand_r, &o->rand_f1);
    qsort(ord, n, sizeof(ranked), cmp_ranked);
    /* top-k sweep: the first k of ord called important */
    size_t P = o->f1.n_pos, N = n - P, tp = 0, kt = (size_t)lround(rho * (double)n);
    double best = -1.0;
    for (size_t k = 0; k <= n; k++) {
        if (k > 0) tp += truth[ord[k - 1].i] != 0;
        size_t fp = k - tp, fn = P - tp, tn = N - fp;
        double fpos = 2.0 * tp + fp + fn > 0 ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
        double fneg = 2.0 * tn + fn + fp > 0 ? 2.0 * tn / (2.0 * tn + fn + fp) : 0.0;
        double avg = 0.5 * (fpos + fneg);
        if (k == kt) o->f1_top = avg;
        if (avg > best && (k == n || k == 0 || ord[k - 1].y != ord[k].y)) best = avg; /* thresholds between values */
    }
    o->f1_best = best;
    ima_detection det;
    o->auc = NAN;
    int st = ima_detection_eval(&det, y, unimp, NULL, n, 0.5);
    if (!st && det.ranked) o->auc = det.auc;
    free(pred);
    free(unimp);
    free(ord);
    return st;
}

/* over the tokens of a split view */
static int importance_tokens(imp_scores *o, const float *y, const uint8_t *truth, const split_view *v, double rho) {
    float *yy = gather_rows(y, v->tok, v->T, 1);
    uint8_t *tr = ima_try_malloc(v->T ? v->T : 1, 1);
    if (!yy || !tr) {
        free(yy), free(tr);
        return ima_error_prefix("importance of %zu tokens", v->T);
    }
    for (size_t i = 0; i < v->T; i++) tr[i] = truth[v->tok[i]];
    int st = importance_eval(o, yy, tr, v->T, rho);
    free(yy);
    free(tr);
    return st;
}

/* over the vocabulary words (each word's y from one of its tokens: the importance net sees only the word) */
static int importance_vocab(imp_scores *o, const float *y, const uint8_t *vocab_imp, const size_t *vocab_tok, size_t V,
                            double rho) {
    float *yy = ima_try_malloc(V ? V : 1, sizeof(float));
    if (!yy) return ima_error_prefix("importance of %zu words", V);
    for (size_t v = 0; v < V; v++) yy[v] = y[vocab_tok[v]];
    int st = importance_eval(o, yy, vocab_imp, V, rho);
    free(yy);
    return st;
}

/* ---- local-ev stage 2 (beyond the paper; docs/importance.md) ------------------------------------ */

typedef struct {
    int ran;
    size_t rows, utterances, k;      // the subsample: pairs, training utterances they come from; neighbours
    ima_local_ev_report rep;         // the teacher's statistics per modality
    imp_scores teacher_w, teacher_a; // the targets themselves on the subsample rows against the ground truth
    ima_log log;                     // its stage 2
    double seconds_targets, seconds_train;
} lev_info;

/* A seeded subsample of at most want training pairs spread over the utterances: the pairs of each
 * utterance in a random order, the utterances in a random order, then one pair of every utterance per
 * round (round r takes the r-th pair of each utterance that has one) until want pairs are taken. Every
 * utterance is represented when want >= their number; short utterances weigh more than in the N^2 pairs.
 * sub (S, 3) as pairs. */
static int lev_subsample(int64_t **sub, size_t *S, size_t *n_utts, const int64_t *pairs, size_t P, size_t want,
                         uint64_t seed) {
    size_t U = 0;
    for (size_t i = 0; i < P; i++)
        if ((size_t)pairs[3 * i + 2] + 1 > U) U = (size_t)pairs[3 * i + 2] + 1;
    size_t n = want < P ? want : P;
    size_t *start = ima_try_calloc(U + 1, sizeof(size_t)), *fill = ima_try_calloc(U + 1, sizeof(size_t));
    size_t *grouped = ima_try_malloc(P ? P : 1, sizeof(size_t)), *uorder = ima_try_malloc(U ? U : 1, sizeof(size_t));
    int64_t *o = ima_try_malloc(n ? 3 * n : 3, sizeof(int64_t));
    if (!start || !fill || !grouped || !uorder || !o) {
        free(start), free(fill), free(grouped), free(uorder), free(o);
        return ima_error_prefix("local-ev subsample of %zu pairs", n);
    }
    for (size_t i = 0; i < P; i++) start[pairs[3 * i + 2] + 1]++;
    for (size_t u = 0; u < U; u++) start[u + 1] += start[u];
    for (size_t i = 0; i < P; i++) {
        size_t u = (size_t)pairs[3 * i + 2];
        grouped[start[u] + fill[u]++] = i;
    }
    ima_rng r;
    ima_rng_init(&r, seed);
    size_t nu = 0;
    for (size_t u = 0; u < U; u++)
        if (start[u + 1] > start[u]) {
            ima_rng_shuffle(&r, grouped + start[u], start[u + 1] - start[u]);
            uorder[nu++] = u;
        }
    ima_rng_shuffle(&r, uorder, nu);
    size_t k = 0, used = 0;
    memset(fill, 0, (U + 1) * sizeof(size_t)); /* now: pairs taken from each utterance */
    for (size_t round = 0; k < n; round++)
        for (size_t q = 0; q < nu && k < n; q++) {
            size_t u = uorder[q];
            if (start[u] + round >= start[u + 1]) continue;
            memcpy(o + 3 * k++, pairs + 3 * grouped[start[u] + round], 3 * sizeof(int64_t));
            used += fill[u]++ == 0;
        }
    free(start), free(fill), free(grouped), free(uorder);
    *sub = o;
    *S = n;
    *n_utts = used;
    return IMA_OK;
}

/* Stage 2 with the local-ev objective on the frozen stage-1 model: targets from the token codes u0, u1
 * (T, d) of a subsample of the training pairs, then fresh importance nets (imp_init) trained by the
 * BCE to them on that subsample. The model's objective is restored afterwards; its importance nets
 * are the local-ev ones. truth_w / truth_a (T): ground truth, for the teacher's own scores. */
static int local_ev_stage2(lev_info *info, ima_model *m, gatherer *g, const int64_t *pairs, size_t P, const float *u0,
                           const float *u1, const float *imp_init, const emo_repro_config *cfg,
                           const ima_adam_config *adam, const uint8_t *truth_w, const uint8_t *truth_a,
                           phase_clock *pc) {
    memset(info, 0, sizeof *info);
    int64_t *sub = NULL;
    size_t S = 0, Sd;
    int st = lev_subsample(&sub, &S, &info->utterances, pairs, P, cfg->local_ev_rows, cfg->seed + 61);
    if (st) return st;
    info->rows = S;
    info->k = cfg->local_ev_k;
    if (S < cfg->batch || ima_mul_overflows(S, LATENT, &Sd)) {
        free(sub);
        return ima_error("local-ev: %zu subsampled pairs: at least one batch of %zu needed", S, cfg->batch);
    }
    float *U = ima_try_malloc(2 * Sd, sizeof(float)); /* (2, S, d) */
    float *target = ima_try_malloc(2 * S, sizeof(float)), *T = ima_try_malloc(2 * S, sizeof(float)); /* (S, 2) */
    uint8_t *mask = ima_try_malloc(2 * S, 1);                                                         /* (S, 2) */
    float *col = ima_try_malloc(S, sizeof(float));
    uint8_t *tr = ima_try_malloc(S, 1);
    if (!U || !target || !T || !mask || !col || !tr) {
        st = ima_error_prefix("local-ev: %zu rows", S);
        goto done;
    }
    for (size_t i = 0; i < S; i++) {
        memcpy(U + i * LATENT, u0 + (size_t)sub[3 * i] * LATENT, LATENT * sizeof(float));
        memcpy(U + (S + i) * LATENT, u1 + (size_t)sub[3 * i + 1] * LATENT, LATENT * sizeof(float));
        mask[2 * i] = mask[2 * i + 1] = 1;
    }
    float rho[2] = {cfg->rho_words, cfg->rho_acoustic};
    fprintf(stderr, "repro emotion: local-ev targets on %zu training pairs from %zu utterances (k = %zu)\n", S,
            info->utterances, info->k);
    if ((st = ima_local_ev_targets_from_codes(target, T, U, mask, S, 2, LATENT, info->k, rho, &info->rep))) goto done;
    phase_mark(pc, PH_LEV_TARGETS);
    info->seconds_targets = pc->wall[PH_LEV_TARGETS];
    for (int j = 0; j < 2 && !st; j++) { /* the teacher against the ground truth (every row has both modalities) */
        size_t n = 0;
        for (size_t i = 0; i < S; i++) {
            if (!isfinite(target[2 * i + j])) continue;
            col[n] = target[2 * i + j];
            tr[n++] = j == 0 ? truth_w[sub[3 * i]] : truth_a[sub[3 * i + 1]];
        }
        st = importance_eval(j == 0 ? &info->teacher_w : &info->teacher_a, col, tr, n, rho[j]);
        fprintf(stderr,
                "  local-ev %s: median T %.3g, targets < 0.5 on %.1f%% of %zu rows; teacher vs the ground truth: F1 "
                "avg %.3f, AUC %.3f (%.0f s)\n",
                j == 0 ? "words" : "acoustics", info->rep.median_T[j], 100 * info->rep.share_below[j],
                info->rep.rows[j], (j == 0 ? &info->teacher_w : &info->teacher_a)->f1.f1_avg,
                (j == 0 ? &info->teacher_w : &info->teacher_a)->auc, info->seconds_targets);
    }
    if (st) goto done;
    ima_importance_objective keep = m->cfg.importance_objective;
    m->cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    ima_model_importance_restart(m, imp_init);
    ima_rng rng;
    ima_rng_init(&rng, cfg->seed + 67);
    double t0 = ima_wall_seconds();
    st = train_stage(m, g, sub, S, 2, cfg->local_ev_epochs, cfg->batch, adam, &rng, &info->log, 1, target);
    info->seconds_train = ima_wall_seconds() - t0;
    m->cfg.importance_objective = keep;
    info->ran = !st;
done:
    free(sub), free(U), free(target), free(T), free(mask), free(col), free(tr);
    return st ? ima_error_prefix("local-ev stage 2") : IMA_OK;
}

/* ---- figures ------------------------------------------------------------------------------------ */

static void html_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* Figure 3 analogue: example utterances, each word shaded by its importance y0 (white 0 .. dark blue 1) */
static int figure3(const char *dir, const ima_emo_corpus *c, const split_view *v, const float *y0, const uint8_t *truth,
                   size_t *examples, size_t n_ex) {
    char path[4096];
    /* shading relative to the shown words (the paper: "light to dark in order of increasing importance") */
    double ylo = 1.0, yhi = 0.0;
    for (size_t e = 0; e < n_ex; e++) {
        size_t cu = v->utt[examples[e]];
        for (size_t t = c->tok_start[cu]; t < c->tok_start[cu + 1]; t++) {
            if (y0[t] < ylo) ylo = y0[t];
            if (y0[t] > yhi) yhi = y0[t];
        }
    }
    double yspan = yhi > ylo ? yhi - ylo : 1.0;
    snprintf(path, sizeof path, "%s/emotion_fig3_word_importance.html", dir);
    FILE *f = fopen(path, "w");
    if (!f) return ima_error("%s: cannot create (%s)", path, strerror(errno));
    fprintf(
        f,
        "<!doctype html><meta charset=\"utf-8\"><title>Word importances (Figure 3 analogue)</title>\n"
        "<body style=\"font-family:sans-serif\"><h3>Word importances y0 learnt by IMA (white = %.3f, darkest = %.3f;"
        " underlined = in an Empath emotion category)</h3>\n",
        ylo, yhi);
    for (size_t e = 0; e < n_ex; e++) {
        size_t u = examples[e], cu = v->utt[u];
        fprintf(f, "<p><b>%s</b> (%s): ", ima_emo_class_names[c->label[cu]], c->utt_id[cu]);
        for (size_t t = c->tok_start[cu]; t < c->tok_start[cu + 1]; t++) {
            double y = y0[t], r = (y - ylo) / yspan;
            int shade = (int)lround(255.0 * (1.0 - r));
            fprintf(f, "<span title=\"y=%.3f\" style=\"background:rgb(%d,%d,255);color:%s;padding:2px;%s\">", y, shade,
                    shade, r > 0.5 ? "white" : "black", truth[t] ? "text-decoration:underline" : "");
            html_escape(f, c->word[t]);
            fprintf(f, "</span> ");
        }
        fprintf(f, "</p>\n");
    }
    fprintf(f, "</body>\n");
    if (fclose(f)) return ima_error("%s: write failed", path);
    if (!ima_plot_available()) return IMA_OK;
    /* PNG: one row per utterance, a filled box per word; gnuplot reads the script from a pipe */
    snprintf(path, sizeof path, "%s/emotion_fig3_word_importance.png", dir);
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) return IMA_OK;
    fprintf(g, "set terminal pngcairo size 1100,%d font 'sans,11'\nset output '%s'\n", (int)(80 + 45 * n_ex), path);
    fprintf(g, "unset border; unset tics; unset key\nset xrange [0:100]; set yrange [0:%zu]\n", n_ex + 1);
    fprintf(g, "set title 'Word importances y_0 learnt by IMA (white = %.3f, darkest blue = %.3f), test split'\n", ylo,
            yhi);
    int obj = 1;
    for (size_t e = 0; e < n_ex; e++) {
        size_t cu = v->utt[examples[e]];
        double x = 1.0, yrow = (double)(n_ex - e);
        fprintf(g, "set label %d '%s:' at %.2f,%.2f left font 'sans,10'\n", obj++, ima_emo_class_names[c->label[cu]], x,
                yrow);
        x += 8.0;
        for (size_t t = c->tok_start[cu]; t < c->tok_start[cu + 1] && x < 97.0; t++) {
            double w = 0.9 * (double)strlen(c->word[t]) + 1.2, y = (y0[t] - ylo) / yspan;
            int shade = (int)lround(255.0 * (1.0 - y));
            fprintf(g, "set object %d rect from %.2f,%.2f to %.2f,%.2f fc rgb '#%02x%02xff' fs solid 1.0 noborder\n",
                    obj++, x, yrow - 0.3, x + w, yrow + 0.3, shade, shade);
            char wq[80];
            size_t k = 0;
            for (const char *p = c->word[t]; *p && k < 70; p++)
                if (*p != '\'') wq[k++] = *p;
                else wq[k++] = '`';
            wq[k] = '\0';
            fprintf(g, "set label %d '%s' at %.2f,%.2f left front tc rgb '%s'\n", obj++, wq, x + 0.4, yrow,
                    y > 0.5 ? "white" : "black");
            x += w + 0.5;
        }
    }
    fprintf(g, "plot -1 notitle\n");
    pclose(g);
    return IMA_OK;
}

/* Figure 5 analogue: t-SNE of n tokens' codes coloured by emotion and by importance */
static int figure5(const char *dir, const char *what, const float *codes, const int64_t *labels, const float *y,
                   size_t n, uint64_t seed, double *kl) {
    ima_tsne_config tc = ima_tsne_defaults();
    tc.perplexity = 10.0;
    tc.seed = seed;
    float *map = ima_try_malloc(n, 2 * sizeof(float)); // (n, 2)
    if (!map) return ima_error_prefix("t-SNE of %zu codes", n);
    ima_tsne_result res;
    if (ima_tsne_run(map, &res, codes, n, LATENT, &tc)) {
        free(map);
        return IMA_ERR;
    }
    *kl = res.kl;
    char path[4096], title[256];
    int st = IMA_OK;
    if (ima_plot_available()) {
        ima_plot_style s = {0};
        snprintf(path, sizeof path, "%s/emotion_fig5_%s_emotion.png", dir, what);
        snprintf(title, sizeof title, "%s codes u by emotion (0 neutral, 1 happy, 2 angry, 3 sad)", what);
        s.title = title;
        st = ima_plot_scatter_labels(path, map, labels, NULL, n, &s);
        if (!st) {
            snprintf(path, sizeof path, "%s/emotion_fig5_%s_importance.png", dir, what);
            snprintf(title, sizeof title, "%s codes u by importance y", what);
            st = ima_plot_scatter_values(path, map, y, n, "importance y", &s);
        }
    }
    free(map);
    return st;
}

/* ---- the run ---------------------------------------------------------------------------------- */

static const double paper_p10[N_REPS] = {0.3735, 0.402, 0.4634, 0.4501, 0.4781, 0.4585};
static const double paper_acc[N_REPS] = {49.47, 53.33, 58.80, 58.32, 59.37, 60.57};
static const double paper_base_p10[2][3] = {{0.3874, 0.4759, 0.5045}, {0.3821, 0.4831, 0.5003}}; /* MVAE, JMVAE */
static const double paper_base_acc[2][3] = {{54.96, 58.03, 62.63}, {53.43, 60.37, 61.17}};

static void json_reps(cJSON *o, const rep_scores *sc) {
    for (int r = 0; r < N_REPS; r++) {
        if (!sc->have[r]) continue;
        cJSON *e = cJSON_AddObjectToObject(o, rep_names[r]);
        cJSON_AddNumberToObject(e, "p_at_10", sc->p10[r]);
        cJSON_AddNumberToObject(e, "accuracy_valid", sc->acc_valid[r]);
        if (isfinite(sc->acc_test[r])) cJSON_AddNumberToObject(e, "accuracy_test", sc->acc_test[r]);
        cJSON_AddNumberToObject(e, "mlp_lr", sc->lr[r]);
    }
}

static void json_imp(cJSON *o, const char *name, const imp_scores *s) {
    cJSON *e = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(e, "samples", (double)s->f1.n);
    cJSON_AddNumberToObject(e, "important_fraction", s->prevalence);
    cJSON_AddNumberToObject(e, "mean_y", s->mean_y);
    cJSON_AddNumberToObject(e, "precision", s->f1.precision);
    cJSON_AddNumberToObject(e, "recall", s->f1.recall);
    cJSON_AddNumberToObject(e, "f1_important", s->f1.f1_pos);
    cJSON_AddNumberToObject(e, "f1_unimportant", s->f1.f1_neg);
    cJSON_AddNumberToObject(e, "f1_average", s->f1.f1_avg);
    cJSON_AddNumberToObject(e, "f1_average_top_rho", s->f1_top);
    cJSON_AddNumberToObject(e, "f1_average_best_threshold", s->f1_best);
    if (isfinite(s->auc)) cJSON_AddNumberToObject(e, "auc", s->auc);
    cJSON_AddNumberToObject(e, "random_best_r", s->rand_r);
    cJSON_AddNumberToObject(e, "random_best_f1_average", s->rand_f1);
}

static int write_file(const char *path, const char *s) {
    if (!s) return ima_error("%s: out of memory printing the results", path); /* cJSON_Print failed */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ima_error("%s: cannot create (%s)", tmp, strerror(errno));
    fputs(s, f);
    if (fclose(f) || rename(tmp, path)) {
        remove(tmp);
        return ima_error("%s: write failed", path);
    }
    return IMA_OK;
}

static void mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0777);
        *p = '/';
    }
    mkdir(buf, 0777);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int emo_repro_run(const emo_repro_config *cfg) {
    phase_clock pc;
    phase_clock_start(&pc);
    mkdirs(cfg->out_dir);
    struct stat sb;
    if (stat(cfg->out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ima_error("%s: cannot create the report folder", cfg->out_dir);

    /* 1. corpus */
    ima_emo_build_config bc = ima_emo_build_defaults();
    bc.glove_path = cfg->glove_path;
    bc.limit_per_split = cfg->limit_per_split;
    bc.seed = cfg->seed;
    bc.skip_missing_alignment = cfg->skip_missing_alignment;
    bc.threads = cfg->threads;
    ima_emo_corpus c;
    if (cfg->data_dir) {
        fprintf(stderr, "repro emotion: reading the corpus %s\n", cfg->data_dir);
        if (ima_emo_corpus_load(&c, cfg->data_dir)) return IMA_ERR;
    } else {
        fprintf(stderr, "repro emotion: building the corpus (%s)\n",
                cfg->meld_dir ? "MELD analogue, espeak-ng speech" : "IEMOCAP");
        if (cfg->meld_dir ? ima_emo_build_meld(&c, cfg->meld_dir, &bc)
                          : ima_emo_build_iemocap(&c, cfg->iemocap_dir, cfg->iemocap_split, &bc))
            return IMA_ERR;
    }
    int synthesized = !strcmp(c.source, "meld-espeak");
    phase_mark(&pc, PH_CORPUS);
    double t_corpus = pc.wall[PH_CORPUS];
    int st = IMA_OK;
    split_view sv[3];
    for (int s = 0; s < 3; s++) memset(&sv[s], 0, sizeof sv[s]);
    for (int s = 0; s < 3 && !st; s++) st = split_view_init(&sv[s], &c, s);
    int eval_split = sv[2].U ? IMA_EMO_TEST : IMA_EMO_VALID;
    if (st || sv[0].U == 0 || sv[1].U == 0) {
        for (int s = 0; s < 3; s++) split_view_free(&sv[s]);
        ima_emo_corpus_free(&c);
        return st ? IMA_ERR
                  : ima_error("the corpus needs training and validation utterances (have %zu and %zu)", sv[0].U,
                              sv[1].U);
    }

    /* 2. ground truth of importance */
    uint8_t *vocab_imp = ima_try_malloc(c.vocab_size ? c.vocab_size : 1, 1);
    uint8_t *truth_w = ima_try_malloc(c.n_tokens ? c.n_tokens : 1, 1), *truth_a = ima_try_malloc(c.n_tokens ? c.n_tokens : 1, 1);
    size_t *vocab_tok = ima_try_malloc(c.vocab_size ? c.vocab_size : 1, sizeof(size_t)); /* one token of each word */
    int64_t *pairs = NULL;
    if (!vocab_imp || !truth_w || !truth_a || !vocab_tok) {
        st = ima_error_prefix("%zu tokens, vocabulary %zu", c.n_tokens, c.vocab_size);
        goto out_early;
    }
    if ((st = ima_emo_lexicon_mark(vocab_imp, &c, cfg->lexicon_path, ima_emo_empath_categories))) goto out_early;
    size_t n_imp_vocab = 0;
    for (size_t v = 0; v < c.vocab_size; v++) n_imp_vocab += vocab_imp[v];
    for (size_t v = 0; v < c.vocab_size; v++) vocab_tok[v] = (size_t)-1;
    for (size_t u = 0; u < c.n_utts; u++)
        for (size_t t = c.tok_start[u]; t < c.tok_start[u + 1]; t++) {
            const char *key = c.word[t];
            char **hit = bsearch(&key, c.vocab, c.vocab_size, sizeof(char *), cmp_str);
            truth_w[t] = hit ? vocab_imp[hit - c.vocab] : 0;
            if (hit && vocab_tok[hit - c.vocab] == (size_t)-1) vocab_tok[hit - c.vocab] = t;
            truth_a[t] = c.label[u] != IMA_EMO_NEUTRAL;
        }

    /* 3. training pairs */
    size_t P = 0;
    if ((st = ima_emo_pairs(&pairs, &P, &c, IMA_EMO_TRAIN, cfg->max_pairs_per_utt, cfg->seed + 3))) goto out_early;
    if (P < cfg->batch) {
        st = ima_error("only %zu training pairs (fewer than one batch of %zu)", P, cfg->batch);
        goto out_early;
    }
    phase_mark(&pc, PH_PAIRS);
    fprintf(stderr,
            "repro emotion: corpus in %.0f s (CPU %.0f s): %zu / %zu / %zu utterances, %zu tokens, vocabulary %zu (%zu "
            "in the emotion lexicon), %zu training pairs\n",
            t_corpus, pc.cpu[PH_CORPUS], sv[0].U, sv[1].U, sv[2].U, c.n_tokens, c.vocab_size, n_imp_vocab, P);

    /* 4. IMA */
    ima_config mc = {0};
    mc.n_modalities = 2;
    mc.latent_width = LATENT;
    mc.lambda_glob = 1.0f;
    mc.center_inputs = 0; /* inputs are standardized on the training split */
    const char *mnames[2] = {"words", "acoustics"};
    size_t widths[2] = {IMA_EMO_WORD_DIM, IMA_EMO_ACOUSTIC_DIM};
    for (int j = 0; j < 2; j++) {
        ima_modality_config *m = &mc.mod[j];
        snprintf(m->name, sizeof m->name, "%s", mnames[j]);
        m->input_width = widths[j];
        m->hidden_width = HIDDEN;
        m->loss = IMA_LOSS_SSE;
        m->lambda_rec = m->lambda_align = 1.0f;
        m->lambda_local = cfg->lambda_local;
        m->lambda_corr = cfg->lambda_corr;
        m->rho = j == 0 ? cfg->rho_words : cfg->rho_acoustic;
    }
    ima_model *model = NULL;
    gatherer g;
    st = gatherer_init(&g, &c, cfg->batch);
    size_t T1 = c.n_tokens ? c.n_tokens : 1;
    float *u0 = ima_try_malloc(T1, LATENT * sizeof(float)), *u1 = ima_try_malloc(T1, LATENT * sizeof(float));
    float *y0 = ima_try_malloc(T1, sizeof(float)), *y1 = ima_try_malloc(T1, sizeof(float));
    if (!st && (!u0 || !u1 || !y0 || !y1)) st = ima_error_prefix("codes of %zu tokens", c.n_tokens);
    float *reps[3][N_REPS] = {{0}};
    float *breps[2][3][N_REPS] = {{{0}}};
    rep_scores sc_ima, sc_base[2];
    memset(sc_base, 0, sizeof sc_base);
    imp_scores imp_w, imp_wt, imp_a; /* words over the vocabulary, words over tokens, acoustics over tokens */
    ima_log log = {0};
    int n_rho = cfg->n_rho;
    double *rho_grid = ima_try_calloc((size_t)(n_rho > 0 ? n_rho : 1), sizeof(double));
    imp_scores *sweep_w = ima_try_calloc((size_t)(n_rho > 0 ? n_rho : 1), sizeof(imp_scores));
    imp_scores *sweep_a = ima_try_calloc((size_t)(n_rho > 0 ? n_rho : 1), sizeof(imp_scores));
    if (!st && (!rho_grid || !sweep_w || !sweep_a)) st = ima_error_prefix("a rho sweep of %d values", n_rho);
    double tsne_kl[2] = {NAN, NAN};
    float *imp_init = NULL, *imp_main = NULL;
    cJSON *root = NULL;
    /* local-ev stage 2 on the same stage-1 model (beyond the paper): its importances, utterance
     * representations and scores; the unweighted representations are the paper's run's */
    lev_info lev;
    memset(&lev, 0, sizeof lev);
    float *yl0 = NULL, *yl1 = NULL, *reps_l[3][N_REPS] = {{0}};
    rep_scores sc_lev;
    memset(&sc_lev, 0, sizeof sc_lev);
    imp_scores impl_w, impl_wt, impl_a;
    memset(&impl_w, 0, sizeof impl_w), memset(&impl_wt, 0, sizeof impl_wt), memset(&impl_a, 0, sizeof impl_a);
    int main_lev = 0; /* the main rows come from local-ev */
    if (!st && cfg->importance_objective == EMO_OBJECTIVE_LOCAL_EV && cfg->local_ev_rows == 0)
        st = ima_error("--importance-objective local-ev needs local-ev rows (--local-ev-rows > 0)");
    int64_t *sweep_pairs = NULL;
    if (st || (st = ima_model_init(&model, &mc, cfg->batch, cfg->seed))) goto out;
    ima_adam_config adam = ima_adam_defaults();
    adam.lr = (float)cfg->lr;
    ima_rng rng;
    ima_rng_init(&rng, cfg->seed + 11);
    fprintf(stderr, "repro emotion: IMA (%zu parameters), %d + %d epochs on %zu pairs\n", model->n_params, cfg->epochs1,
            cfg->epochs2, P);
    if (!(imp_init = ima_try_malloc(model->n_params_imp, sizeof(float)))) {
        st = ima_error_prefix("importance parameters");
        goto out;
    }
    ima_model_importance_snapshot(model, imp_init);
    if ((st = train_stage(model, &g, pairs, P, 1, cfg->epochs1, cfg->batch, &adam, &rng, &log, 1, NULL))) goto out;
    if ((st = train_stage(model, &g, pairs, P, 2, cfg->epochs2, cfg->batch, &adam, &rng, &log, 1, NULL))) goto out;
    if ((st = encode_tokens(model, &g, c.n_tokens, u0, u1, y0, y1))) goto out;
    imp_main = ima_try_malloc(model->n_params_imp, sizeof(float)); /* the paper's importance nets */
    if (!imp_main) {
        st = ima_error_prefix("importance nets");
        goto out;
    }
    ima_model_importance_snapshot(model, imp_main);
    phase_mark(&pc, PH_IMA);

    /* 4b. stage 2 again with local-ev (beyond the paper): same stage-1 model, fresh importance nets */
    if (cfg->local_ev_rows > 0) {
        yl0 = ima_try_malloc(c.n_tokens, sizeof(float));
        yl1 = ima_try_malloc(c.n_tokens, sizeof(float));
        if (!yl0 || !yl1) {
            st = ima_error_prefix("local-ev importances");
            goto out;
        }
        if ((st = local_ev_stage2(&lev, model, &g, pairs, P, u0, u1, imp_init, cfg, &adam, truth_w, truth_a, &pc)))
            goto out;
        if ((st = encode_tokens(model, &g, c.n_tokens, NULL, NULL, yl0, yl1))) goto out;
        ima_model_importance_restore(model, imp_main);
        phase_mark(&pc, PH_LEV_TRAIN);
    }

    /* 5. representations and their evaluation */
    for (int s = 0; s < 3; s++)
        if ((st = utterance_reps(reps[s], &sv[s], u0, u1, y0, y1))) goto out;
    if ((st = evaluate_reps(&sc_ima, reps, sv, eval_split, cfg))) goto out;
    if ((st = importance_vocab(&imp_w, y0, vocab_imp, vocab_tok, c.vocab_size, cfg->rho_words))) goto out;
    if ((st = importance_tokens(&imp_wt, y0, truth_w, &sv[IMA_EMO_VALID], cfg->rho_words))) goto out;
    if ((st = importance_tokens(&imp_a, y1, truth_a, &sv[IMA_EMO_VALID], cfg->rho_acoustic))) goto out;
    fprintf(stderr,
            "repro emotion: IMA (paper's objective) P@10 multimodal %.4f (unweighted %.4f), MLP valid %.2f%%; word F1 "
            "avg %.3f / top-rho %.3f / AUC %.3f (random %.3f), acoustic F1 avg %.3f / top-rho %.3f / AUC %.3f (random "
            "%.3f)\n",
            sc_ima.p10[5], sc_ima.p10[4], 100 * sc_ima.acc_valid[5], imp_w.f1.f1_avg, imp_w.f1_top, imp_w.auc,
            imp_w.rand_f1, imp_a.f1.f1_avg, imp_a.f1_top, imp_a.auc, imp_a.rand_f1);
    if (lev.ran) {
        for (int s = 0; s < 3; s++) {
            if ((st = utterance_reps(reps_l[s], &sv[s], u0, u1, yl0, yl1))) goto out;
            for (int r = 0; r < N_REPS; r += 2) free(reps_l[s][r]), reps_l[s][r] = NULL; /* unweighted: as above */
        }
        if ((st = evaluate_reps(&sc_lev, reps_l, sv, eval_split, cfg))) goto out;
        for (int r = 0; r < N_REPS; r += 2) {
            sc_lev.p10[r] = sc_ima.p10[r];
            sc_lev.acc_valid[r] = sc_ima.acc_valid[r];
            sc_lev.acc_test[r] = sc_ima.acc_test[r];
            sc_lev.lr[r] = sc_ima.lr[r];
            sc_lev.have[r] = sc_ima.have[r];
        }
        if ((st = importance_vocab(&impl_w, yl0, vocab_imp, vocab_tok, c.vocab_size, cfg->rho_words))) goto out;
        if ((st = importance_tokens(&impl_wt, yl0, truth_w, &sv[IMA_EMO_VALID], cfg->rho_words))) goto out;
        if ((st = importance_tokens(&impl_a, yl1, truth_a, &sv[IMA_EMO_VALID], cfg->rho_acoustic))) goto out;
        fprintf(stderr,
                "repro emotion: IMA (local-ev) P@10 multimodal %.4f, MLP valid %.2f%%; word F1 avg %.3f / top-rho "
                "%.3f / AUC %.3f, acoustic F1 avg %.3f / top-rho %.3f / AUC %.3f\n",
                sc_lev.p10[5], 100 * sc_lev.acc_valid[5], impl_w.f1.f1_avg, impl_w.f1_top, impl_w.auc,
                impl_a.f1.f1_avg, impl_a.f1_top, impl_a.auc);
    }
    /* the main rows: as asked, or (auto) the paper's unless local-ev has the higher validation accuracy of the
     * importance-weighted multimodal MLP */
    main_lev = cfg->importance_objective == EMO_OBJECTIVE_LOCAL_EV ||
               (cfg->importance_objective == EMO_OBJECTIVE_AUTO && lev.ran &&
                sc_lev.acc_valid[5] > sc_ima.acc_valid[5]);
    fprintf(stderr, "repro emotion: main rows: the %s objective (%s)\n", main_lev ? "local-ev" : "paper's",
            cfg->importance_objective != EMO_OBJECTIVE_AUTO ? "--importance-objective"
            : lev.ran ? "the higher validation accuracy of the weighted multimodal MLP, paper's on ties"
                      : "local-ev not run");
    const float *ym0 = main_lev ? yl0 : y0, *ym1 = main_lev ? yl1 : y1; /* the main importances */
    phase_mark(&pc, PH_EVAL);

    /* 6. figures from the main importances */
    {
        const split_view *v = &sv[eval_split];
        /* Figure 3: up to two utterances per class with 4..14 tokens, preferring ones with a lexicon word */
        size_t ex[8], n_ex = 0;
        for (int cls = 1; cls <= 4 && n_ex < 8; cls++) {
            int want = cls % 4, got = 0;
            for (int pass = 0; pass < 2 && got < 2; pass++)
                for (size_t u = 0; u < v->U && got < 2; u++) {
                    size_t cu = v->utt[u], N = c.tok_start[cu + 1] - c.tok_start[cu];
                    if (c.label[cu] != want || N < 4 || N > 14) continue;
                    int lex = 0;
                    for (size_t t = c.tok_start[cu]; t < c.tok_start[cu + 1]; t++) lex |= truth_w[t];
                    if (pass == 0 && !lex) continue;
                    if (pass == 1 && lex) continue;
                    ex[n_ex++] = u;
                    got++;
                }
        }
        if ((st = figure3(cfg->out_dir, &c, v, ym0, truth_w, ex, n_ex))) goto out;
        /* Figure 5: a random subset of the evaluation split's tokens */
        size_t n = v->T < cfg->tsne_points ? v->T : cfg->tsne_points;
        size_t *pick = ima_try_malloc(v->T ? v->T : 1, sizeof(size_t));
        int64_t *lab = ima_try_malloc(n ? n : 1, sizeof(int64_t));
        size_t *tok_utt = ima_try_malloc(T1, sizeof(size_t));
        float *cw = NULL, *ca = NULL, *yw = NULL, *ya = NULL;
        if (pick && lab && tok_utt) {
            for (size_t i = 0; i < v->T; i++) pick[i] = v->tok[i];
            ima_rng pr;
            ima_rng_init(&pr, cfg->seed + 5);
            ima_rng_shuffle(&pr, pick, v->T);
            for (size_t u = 0; u < c.n_utts; u++)
                for (size_t t = c.tok_start[u]; t < c.tok_start[u + 1]; t++) tok_utt[t] = u;
            for (size_t i = 0; i < n; i++) lab[i] = c.label[tok_utt[pick[i]]];
            cw = gather_rows(u0, pick, n, LATENT), ca = gather_rows(u1, pick, n, LATENT);
            yw = gather_rows(ym0, pick, n, 1), ya = gather_rows(ym1, pick, n, 1);
        }
        if (!pick || !lab || !tok_utt || !cw || !ca || !yw || !ya)
            st = ima_error_prefix("t-SNE of %zu codes", n);
        else fprintf(stderr, "repro emotion: t-SNE of %zu word and %zu acoustic codes\n", n, n);
        if (!st && n >= 40) {
            st = figure5(cfg->out_dir, "words", cw, lab, yw, n, cfg->seed + 7, &tsne_kl[0]);
            if (!st) st = figure5(cfg->out_dir, "acoustics", ca, lab, ya, n, cfg->seed + 8, &tsne_kl[1]);
        }
        free(pick);
        free(lab);
        free(tok_utt);
        free(cw);
        free(ca);
        free(yw);
        free(ya);
        if (st) goto out;
    }
    phase_mark(&pc, PH_FIGURES);

    /* 7. rho sweep: fresh importance nets trained for sweep_epochs with the same rho for both modalities */
    size_t P_sweep = cfg->sweep_pairs && cfg->sweep_pairs < P ? cfg->sweep_pairs : P;
    sweep_pairs = ima_try_malloc(P_sweep, 3 * sizeof(int64_t)); /* a random subset of the training pairs */
    size_t *perm = ima_try_malloc(P, sizeof(size_t));
    if (!sweep_pairs || !perm) {
        free(perm);
        st = ima_error_prefix("rho sweep over %zu pairs", P_sweep);
        goto out;
    }
    {
        ima_rng sr;
        ima_rng_init(&sr, cfg->seed + 99);
        for (size_t i = 0; i < P; i++) perm[i] = i;
        ima_rng_shuffle(&sr, perm, P);
        for (size_t i = 0; i < P_sweep; i++) memcpy(sweep_pairs + 3 * i, pairs + 3 * perm[i], 3 * sizeof(int64_t));
        free(perm);
    }
    for (int k = 0; k < n_rho; k++) {
        static const double grid7[7] = {0.01, 0.03, 0.1, 0.3, 0.5, 0.7, 0.9};
        rho_grid[k] = n_rho == 7 ? grid7[k] : (n_rho == 1 ? 0.3 : 0.03 + (0.9 - 0.03) * k / (double)(n_rho - 1));
        ima_model_importance_restart(model, imp_init);
        for (int j = 0; j < 2 && !st; j++) st = ima_model_set_rho(model, j, (float)rho_grid[k]);
        if (st) goto out;
        ima_rng sr;
        ima_rng_init(&sr, cfg->seed + 100 + (uint64_t)k);
        if ((st =
                 train_stage(model, &g, sweep_pairs, P_sweep, 2, cfg->sweep_epochs, cfg->batch, &adam, &sr, NULL, 0, NULL)))
            goto out;
        float *z0 = ima_try_malloc(T1, LATENT * sizeof(float)), *z1 = ima_try_malloc(T1, LATENT * sizeof(float));
        float *w0 = ima_try_malloc(T1, sizeof(float)), *w1 = ima_try_malloc(T1, sizeof(float));
        st = z0 && z1 && w0 && w1 ? encode_tokens(model, &g, c.n_tokens, z0, z1, w0, w1)
                                  : ima_error_prefix("codes of %zu tokens", c.n_tokens);
        if (!st) st = importance_vocab(&sweep_w[k], w0, vocab_imp, vocab_tok, c.vocab_size, rho_grid[k]);
        if (!st) st = importance_tokens(&sweep_a[k], w1, truth_a, &sv[IMA_EMO_VALID], rho_grid[k]);
        free(z0);
        free(z1);
        free(w0);
        free(w1);
        if (st) goto out;
        fprintf(stderr,
                "  rho %.2f: words F1 avg %.3f top-rho %.3f AUC %.3f (mean y %.3f), acoustics F1 avg %.3f top-rho "
                "%.3f AUC %.3f (mean y %.3f)\n",
                rho_grid[k], sweep_w[k].f1.f1_avg, sweep_w[k].f1_top, sweep_w[k].auc, sweep_w[k].mean_y,
                sweep_a[k].f1.f1_avg, sweep_a[k].f1_top, sweep_a[k].auc, sweep_a[k].mean_y);
    }
    free(sweep_pairs);
    sweep_pairs = NULL;
    ima_model_importance_restore(model, imp_main);
    ima_model_set_rho(model, 0, cfg->rho_words);
    ima_model_set_rho(model, 1, cfg->rho_acoustic);
    if (n_rho > 1 && ima_plot_available()) {
        double *ys = ima_try_malloc((size_t)n_rho, 6 * sizeof(double));
        if (!ys) {
            st = ima_error_prefix("the rho sweep's plot");
            goto out;
        }
        for (int k = 0; k < n_rho; k++) {
            ys[0 * n_rho + k] = sweep_w[k].f1.f1_avg;
            ys[1 * n_rho + k] = sweep_w[k].f1_top;
            ys[2 * n_rho + k] = sweep_w[k].rand_f1;
            ys[3 * n_rho + k] = sweep_a[k].f1.f1_avg;
            ys[4 * n_rho + k] = sweep_a[k].f1_top;
            ys[5 * n_rho + k] = sweep_a[k].rand_f1;
        }
        const char *names[6] = {"words: average F1 (y >= 0.5)",    "words: average F1 (top rho)",
                                "words: best random labeller",     "acoustics: average F1 (y >= 0.5)",
                                "acoustics: average F1 (top rho)", "acoustics: best random labeller"};
        ima_plot_style s = {0};
        s.title = "Importance F1 against the prior rho (validation tokens)";
        s.xlabel = "rho";
        s.ylabel = "score";
        char path[4096];
        snprintf(path, sizeof path, "%s/emotion_rho_sweep.png", cfg->out_dir);
        st = ima_plot_lines(path, rho_grid, ys, names, 6, (size_t)n_rho, &s);
        free(ys);
        if (st) goto out;
    }
    phase_mark(&pc, PH_SWEEP);

    /* 8. baselines */
    if (cfg->with_baselines) {
        for (int kb = 0; kb < 2 && !st; kb++) {
            ima_baseline_config bcfg = {0};
            bcfg.kind = kb == 0 ? IMA_BASELINE_MVAE : IMA_BASELINE_JMVAE;
            bcfg.n_modalities = 2;
            bcfg.latent_width = LATENT;
            bcfg.beta = 1.0f;
            bcfg.alpha = 0.01f;
            for (int j = 0; j < 2; j++) {
                snprintf(bcfg.mod[j].name, sizeof bcfg.mod[j].name, "%s", mnames[j]);
                bcfg.mod[j].input_width = widths[j];
                bcfg.mod[j].hidden_width = HIDDEN;
                bcfg.mod[j].loss = IMA_LOSS_SSE;
                bcfg.mod[j].lambda_rec = 1.0f;
            }
            ima_baseline *bl = NULL;
            const char *bname = kb == 0 ? "MVAE" : "JMVAE-KL";
            if ((st = ima_baseline_init(&bl, &bcfg, cfg->batch, cfg->seed + 31 + (uint64_t)kb))) break;
            fprintf(stderr, "repro emotion: %s, %d epochs\n", bname, cfg->baseline_epochs);
            ima_rng br;
            ima_rng_init(&br, cfg->seed + 41 + (uint64_t)kb);
            st = train_baseline(bl, &g, pairs, P, cfg->baseline_epochs, cfg->batch, &adam, &br, bname, 1);
            if (!st) {
                float *c0 = ima_try_malloc(T1, LATENT * sizeof(float)), *c1 = ima_try_malloc(T1, LATENT * sizeof(float));
                st = c0 && c1 ? baseline_tokens(bl, &g, c.n_tokens, c0, c1)
                              : ima_error_prefix("%s codes of %zu tokens", bname, c.n_tokens);
                for (int s = 0; s < 3 && !st; s++) st = utterance_reps(breps[kb][s], &sv[s], c0, c1, NULL, NULL);
                free(c0);
                free(c1);
                if (!st) st = evaluate_reps(&sc_base[kb], breps[kb], sv, eval_split, cfg);
            }
            ima_baseline_free(bl);
            phase_mark(&pc, kb == 0 ? PH_MVAE : PH_JMVAE);
        }
        if (st) goto out;
    }

    /* 9. results.json and report.md */
    {
        double t_total = phase_total_wall(&pc), c_total = phase_total_cpu(&pc);
        const double *pw = pc.wall;
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "command", cfg->command_line ? cfg->command_line : "");
        cJSON_AddStringToObject(root, "source", c.source);
        cJSON_AddBoolToObject(root, "quick", cfg->quick);
        cJSON_AddStringToObject(root, "retrieval_split", ima_emo_split_names[eval_split]);
        cJSON *cj = cJSON_AddObjectToObject(root, "corpus");
        cJSON_AddNumberToObject(cj, "utterances_train", (double)sv[0].U);
        cJSON_AddNumberToObject(cj, "utterances_valid", (double)sv[1].U);
        cJSON_AddNumberToObject(cj, "utterances_test", (double)sv[2].U);
        cJSON_AddNumberToObject(cj, "tokens", (double)c.n_tokens);
        cJSON_AddNumberToObject(cj, "vocabulary", (double)c.vocab_size);
        cJSON_AddNumberToObject(cj, "vocabulary_in_lexicon", (double)n_imp_vocab);
        cJSON_AddNumberToObject(cj, "tokens_read", (double)c.tokens_read);
        cJSON_AddNumberToObject(cj, "tokens_out_of_vocabulary", (double)c.tokens_oov);
        cJSON_AddNumberToObject(cj, "tokens_without_glove", (double)c.tokens_noglove);
        cJSON_AddNumberToObject(cj, "utterances_empty", (double)c.utts_empty);
        cJSON_AddNumberToObject(cj, "train_pairs", (double)P);
        cJSON *tr = cJSON_AddObjectToObject(root, "ima_training");
        cJSON_AddNumberToObject(tr, "epochs_stage1", cfg->epochs1);
        cJSON_AddNumberToObject(tr, "epochs_stage2", cfg->epochs2);
        cJSON_AddNumberToObject(tr, "rho_words", cfg->rho_words);
        cJSON_AddNumberToObject(tr, "rho_acoustics", cfg->rho_acoustic);
        cJSON_AddNumberToObject(tr, "lambda_corr", cfg->lambda_corr);
        cJSON_AddNumberToObject(tr, "lambda_local", cfg->lambda_local);
        cJSON_AddNumberToObject(tr, "rec_words", log.rec[0]);
        cJSON_AddNumberToObject(tr, "rec_acoustics", log.rec[1]);
        cJSON_AddNumberToObject(tr, "L_corr_words_start", log.corr0[0]);
        cJSON_AddNumberToObject(tr, "L_corr_words_end", log.corr1[0]);
        cJSON_AddNumberToObject(tr, "L_corr_acoustics_start", log.corr0[1]);
        cJSON_AddNumberToObject(tr, "L_corr_acoustics_end", log.corr1[1]);
        cJSON_AddNumberToObject(tr, "L_local_words_start", log.local0[0]);
        cJSON_AddNumberToObject(tr, "L_local_words_end", log.local1[0]);
        cJSON_AddNumberToObject(tr, "L_local_acoustics_start", log.local0[1]);
        cJSON_AddNumberToObject(tr, "L_local_acoustics_end", log.local1[1]);
        json_reps(cJSON_AddObjectToObject(root, "ima"), &sc_ima);
        cJSON_AddStringToObject(root, "main_objective", main_lev ? "local-ev" : "paper");
        cJSON_AddStringToObject(root, "main_objective_chosen_by",
                                cfg->importance_objective != EMO_OBJECTIVE_AUTO ? "--importance-objective"
                                : lev.ran ? "validation accuracy of the weighted multimodal MLP (paper's on ties)"
                                          : "local-ev not run");
        if (lev.ran) {
            json_reps(cJSON_AddObjectToObject(root, "ima_local_ev"), &sc_lev);
            cJSON *lj = cJSON_AddObjectToObject(root, "local_ev");
            cJSON_AddStringToObject(lj, "note", "beyond the paper: stage 2 with the local-ev objective "
                                                "(docs/importance.md) on the same stage-1 model");
            cJSON_AddNumberToObject(lj, "subsample_pairs", (double)lev.rows);
            cJSON_AddNumberToObject(lj, "subsample_utterances", (double)lev.utterances);
            cJSON_AddNumberToObject(lj, "k", (double)lev.k);
            cJSON_AddNumberToObject(lj, "epochs", cfg->local_ev_epochs);
            for (int j = 0; j < 2; j++) {
                cJSON *mj = cJSON_AddObjectToObject(lj, mnames[j]);
                cJSON_AddNumberToObject(mj, "rows_with_target", (double)lev.rep.rows[j]);
                cJSON_AddNumberToObject(mj, "median_T", lev.rep.median_T[j]);
                cJSON_AddNumberToObject(mj, "share_target_below_half", lev.rep.share_below[j]);
                cJSON_AddNumberToObject(mj, "null_component_median_T", exp(lev.rep.fit[j].mean[0]));
                cJSON_AddNumberToObject(mj, "fitted_important_share", lev.rep.fit[j].share);
                cJSON_AddNumberToObject(mj, "bce_start", lev.log.teach0[j]);
                cJSON_AddNumberToObject(mj, "bce_end", lev.log.teach1[j]);
                cJSON_AddNumberToObject(mj, "mean_y_end", lev.log.ybar1[j]);
            }
            json_imp(lj, "teacher_words_vs_truth", &lev.teacher_w);
            json_imp(lj, "teacher_acoustics_vs_truth", &lev.teacher_a);
            cJSON_AddNumberToObject(lj, "seconds_targets", lev.seconds_targets);
            cJSON_AddNumberToObject(lj, "seconds_training", lev.seconds_train);
            cJSON *il = cJSON_AddObjectToObject(root, "importance_valid_local_ev");
            json_imp(il, "words_vocabulary", &impl_w);
            json_imp(il, "words_tokens", &impl_wt);
            json_imp(il, "acoustics", &impl_a);
        }
        if (cfg->with_baselines) {
            json_reps(cJSON_AddObjectToObject(root, "mvae"), &sc_base[0]);
            json_reps(cJSON_AddObjectToObject(root, "jmvae_kl"), &sc_base[1]);
        }
        cJSON *im = cJSON_AddObjectToObject(root, "importance_valid");
        json_imp(im, "words_vocabulary", &imp_w);
        json_imp(im, "words_tokens", &imp_wt);
        json_imp(im, "acoustics", &imp_a);
        cJSON *sw = cJSON_AddArrayToObject(root, "rho_sweep");
        for (int k = 0; k < n_rho; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "rho", rho_grid[k]);
            json_imp(e, "words_vocabulary", &sweep_w[k]);
            json_imp(e, "acoustics", &sweep_a[k]);
            cJSON_AddItemToArray(sw, e);
        }
        /* wall seconds per phase (report.md's table adds results.json and report.md themselves) */
        cJSON *tj = cJSON_AddObjectToObject(root, "seconds");
        cJSON *cpj = cJSON_AddObjectToObject(root, "cpu_seconds");
        for (int ph = 0; ph < PH_REPORT; ph++) {
            cJSON_AddNumberToObject(tj, phase_keys[ph], pw[ph]);
            cJSON_AddNumberToObject(cpj, phase_keys[ph], pc.cpu[ph]);
        }
        cJSON_AddNumberToObject(tj, "total", t_total);
        cJSON_AddNumberToObject(cpj, "total", c_total);
        char *js = cJSON_Print(root);
        char path[4096];
        snprintf(path, sizeof path, "%s/results.json", cfg->out_dir);
        st = write_file(path, js);
        free(js);
        if (st) goto out;

        /* report.md */
        size_t cap = 1 << 16, len = 0;
        char *md = ima_try_malloc(cap, 1);
        if (!md) {
            st = ima_error_prefix("report.md");
            goto out;
        }
#define P_(...) (len += (size_t)snprintf(md + len, len < cap ? cap - len : 0, __VA_ARGS__))
        const char *src = synthesized ? "MELD analogue" : "IEMOCAP";
        P_("# Emotion experiment (%s)%s\n\n", src, cfg->quick ? " — quick run" : "");
        P_("Command: `%s`  \nTotal time: %.1f min wall, %.1f min of CPU (corpus %.1f, IMA %.1f, local-ev stage 2 %.1f, "
           "evaluation %.1f, figures %.1f, rho sweep %.1f, MVAE %.1f, JMVAE-KL %.1f min wall; every phase in \"Time "
           "per phase\" at the end).\n\n",
           cfg->command_line ? cfg->command_line : "", t_total / 60, c_total / 60, t_corpus / 60, pw[PH_IMA] / 60,
           (pw[PH_LEV_TARGETS] + pw[PH_LEV_TRAIN]) / 60, pw[PH_EVAL] / 60, pw[PH_FIGURES] / 60, pw[PH_SWEEP] / 60,
           pw[PH_MVAE] / 60, pw[PH_JMVAE] / 60);
        if (lev.ran && cfg->importance_objective == EMO_OBJECTIVE_AUTO)
            P_("**Main IMA rows: the %s objective**, chosen on the validation split: the MLP on the weighted "
               "multimodal utterance vectors reached %.2f%% with the paper's stage 2 and %.2f%% with local-ev (the "
               "paper's is kept unless local-ev is higher). The other objective's rows follow, on the same stage-1 "
               "model; **local-ev is beyond the paper** (docs/importance.md).\n\n",
               main_lev ? "local-ev" : "paper's", 100 * sc_ima.acc_valid[5], 100 * sc_lev.acc_valid[5]);
        else if (lev.ran)
            P_("**Main IMA rows: the %s objective** (--importance-objective). The other objective's rows follow, on the "
               "same stage-1 model; **local-ev is beyond the paper** (docs/importance.md).\n\n",
               main_lev ? "local-ev" : "paper's");

        if (cfg->data_dir)
            P_("Corpus read from `%s` (written by `ima data emotion`; its build time is not included above).\n\n",
               cfg->data_dir);
        if (synthesized)
            P_("**The acoustic modality is synthesized.** The transcripts and emotion labels are MELD's (Friends TV "
               "series), but every utterance was spoken by libespeak-ng with a voice per MELD speaker and prosody rules "
               "that shift pitch level, pitch range, rate and volume by emotion, plus per-utterance random variation "
               "(docs/emotion.md). The emotion in the audio is put there by those rules; the numbers below measure how "
               "well the models recover it, and are not comparable to the paper's IEMOCAP numbers except in their "
               "pattern.\n\n");
        P_("## Data\n\n| split | utterances | neutral | happy | angry | sad |\n|---|---|---|---|---|---|\n");
        for (int s = 0; s < 3; s++) {
            size_t per[4] = {0};
            for (size_t u = 0; u < sv[s].U; u++) per[sv[s].label[u]]++;
            P_("| %s | %zu | %zu | %zu | %zu | %zu |\n", ima_emo_split_names[s], sv[s].U, per[0], per[1], per[2],
               per[3]);
        }
        P_("\nTokens kept: %zu of %zu read (%zu below the count threshold, %zu without a GloVe vector); %zu utterances left "
           "without a token were dropped. Vocabulary: %zu words seen >= 5 times in the training transcripts (paper: "
           "1,215), %zu of them in the Empath emotion categories. Training pairs (N^2 per utterance%s): %zu. Acoustic "
           "vector: %d features (docs/emotion.md).\n\n",
           c.n_tokens, c.tokens_read, c.tokens_oov, c.tokens_noglove, c.utts_empty, c.vocab_size, n_imp_vocab,
           cfg->max_pairs_per_utt ? ", capped per utterance" : "", P, IMA_EMO_ACOUSTIC_DIM);
        P_("## Training\n\nIMA: words 100 -> 100 -> 100 -> 50, acoustics %d -> 100 -> 100 -> 50, SSE, importance nets D "
           "-> 100 -> 100 -> 1; Adam lr %g, batch %zu; stage 1 %d epochs, stage 2 %d epochs with rho %.2f (words) / %.2f "
           "(acoustics), lambda_corr %g, lambda_local %g. Last stage-1 epoch: Rec words %.2f, acoustics %.2f. Stage 2: "
           "L_corr words %.3g -> %.3g, acoustics %.3g -> %.3g; L_local words %.3g -> %.3g, acoustics %.3g -> %.3g; mean y "
           "words %.3f, acoustics %.3f.\n\n",
           IMA_EMO_ACOUSTIC_DIM, cfg->lr, cfg->batch, cfg->epochs1, cfg->epochs2, cfg->rho_words, cfg->rho_acoustic,
           cfg->lambda_corr, cfg->lambda_local, log.rec[0], log.rec[1], log.corr0[0], log.corr1[0], log.corr0[1],
           log.corr1[1], log.local0[0], log.local1[0], log.local0[1], log.local1[1], log.ybar1[0], log.ybar1[1]);
        if (lev.ran) {
            P_("**Stage 2 with local-ev (beyond the paper).** The same stage-1 model, fresh importance nets (the same "
               "initial weights as the paper's stage 2). The targets need an exact k-NN over the rows (O(N^2 d)); %s "
               "%zu training pairs drawn from %zu utterances (the pairs of each utterance in random order, one pair "
               "of every utterance per round: short utterances weigh more than in the N^2 pairs), k = %zu "
               "neighbours, the same rho (%.2f words, %.2f acoustics) as the calibration prior; the nets then train "
               "by the BCE to the targets on those pairs, %d epochs (targets %.0f s, training %.0f s). Teacher: ",
               lev.rows < P ? "too many pairs here for all of them, so they come from a seeded subsample of"
                            : "every pair is used here (no more than the subsample size):",
               lev.rows, lev.utterances, lev.k, cfg->rho_words, cfg->rho_acoustic, cfg->local_ev_epochs,
               lev.seconds_targets, lev.seconds_train);
            for (int j = 0; j < 2; j++)
                P_("%s median T %.3g (null component's median T %.3g), targets < 0.5 on %.1f%% of the rows%s", mnames[j],
                   lev.rep.median_T[j], exp(lev.rep.fit[j].mean[0]), 100 * lev.rep.share_below[j], j ? ". " : "; ");
            P_("BCE words %.3g -> %.3g, acoustics %.3g -> %.3g; mean y words %.3f, acoustics %.3f.\n\n",
               lev.log.teach0[0], lev.log.teach1[0], lev.log.teach0[1], lev.log.teach1[1], lev.log.ybar1[0],
               lev.log.ybar1[1]);
        }
        if (cfg->with_baselines)
            P_("Baselines MVAE and JMVAE-KL (alpha 0.01): the same encoder/decoder sizes, SSE, %d epochs on the same "
               "pairs; their utterance representations pool the unimodal posterior means of the tokens by the "
               "unweighted mean (Eq. 5 with every y = 1).\n\n",
               cfg->baseline_epochs);
        double chance = 0.0;
        {
            size_t per[4] = {0};
            const split_view *v = &sv[eval_split];
            for (size_t u = 0; u < v->U; u++) per[v->label[u]]++;
            for (int k = 0; k < 4; k++) chance += ((double)per[k] / (double)v->U) * ((double)per[k] / (double)v->U);
        }
        P_("## Table 2 analogue: P@10 same-emotion retrieval (%s split, %zu utterances)\n\n",
           ima_emo_split_names[eval_split], sv[eval_split].U);
        P_("| model | verbal unwt | verbal wt | acoustic unwt | acoustic wt | multimodal unwt | multimodal wt |\n"
           "|---|---|---|---|---|---|---|\n");
        const char *obj_name[2] = {"IMA (ours, paper's objective)", "IMA (ours, local-ev, beyond the paper)"};
        const rep_scores *obj_sc[2] = {&sc_ima, &sc_lev};
        int n_obj = lev.ran ? 2 : 1;
        for (int q = 0; q < n_obj; q++) {
            int o = q == 0 ? main_lev : !main_lev; /* the main rows first */
            P_("| %s%s |", obj_name[o], n_obj > 1 && q == 0 ? " (main)" : "");
            for (int r = 0; r < N_REPS; r++) P_(" %.4f |", obj_sc[o]->p10[r]);
            P_("\n");
        }
        P_("| IMA (paper, IEMOCAP) |");
        for (int r = 0; r < N_REPS; r++) P_(" %.4f |", paper_p10[r]);
        P_("\n");
        for (int kb = 0; kb < 2 && cfg->with_baselines; kb++) {
            P_("| %s (ours) | %.4f | | %.4f | | %.4f | |\n", kb ? "JMVAE-KL" : "MVAE", sc_base[kb].p10[0],
               sc_base[kb].p10[2], sc_base[kb].p10[4]);
            P_("| %s (paper) | %.4f | | %.4f | | %.4f | |\n", kb ? "JMVAE-KL" : "MVAE", paper_base_p10[kb][0],
               paper_base_p10[kb][1], paper_base_p10[kb][2]);
        }
        P_("\nChance level (a random neighbour has the query's class): %.4f; it is high because %s.\n\n", chance,
           "neutral dominates the class mix");
        P_("## Table 6 analogue: accuracy of the 2 x 50 ReLU MLP (%%)\n\nLearning rate chosen on validation from {0.0625 "
           ".. 8}, %d epochs. Validation accuracy is the paper's protocol; test accuracy is ours%s.\n\n",
           cfg->classifier_epochs, sv[2].U ? "" : " (no test split here)");
        P_("| model | split | verbal unwt | verbal wt | acoustic unwt | acoustic wt | multimodal unwt | multimodal wt |\n"
           "|---|---|---|---|---|---|---|---|\n");
        for (int q = 0; q < n_obj; q++) {
            int o = q == 0 ? main_lev : !main_lev;
            P_("| %s%s | valid |", obj_name[o], n_obj > 1 && q == 0 ? " (main)" : "");
            for (int r = 0; r < N_REPS; r++) P_(" %.2f |", 100 * obj_sc[o]->acc_valid[r]);
            P_("\n");
            if (sv[2].U) {
                P_("| %s%s | test |", obj_name[o], n_obj > 1 && q == 0 ? " (main)" : "");
                for (int r = 0; r < N_REPS; r++) P_(" %.2f |", 100 * obj_sc[o]->acc_test[r]);
                P_("\n");
            }
        }
        P_("| IMA (paper) | valid |");
        for (int r = 0; r < N_REPS; r++) P_(" %.2f |", paper_acc[r]);
        P_("\n");
        for (int kb = 0; kb < 2 && cfg->with_baselines; kb++) {
            const char *bn = kb ? "JMVAE-KL" : "MVAE";
            P_("| %s (ours) | valid | %.2f | | %.2f | | %.2f | |\n", bn, 100 * sc_base[kb].acc_valid[0],
               100 * sc_base[kb].acc_valid[2], 100 * sc_base[kb].acc_valid[4]);
            if (sv[2].U)
                P_("| %s (ours) | test | %.2f | | %.2f | | %.2f | |\n", bn, 100 * sc_base[kb].acc_test[0],
                   100 * sc_base[kb].acc_test[2], 100 * sc_base[kb].acc_test[4]);
            P_("| %s (paper) | valid | %.2f | | %.2f | | %.2f | |\n", bn, paper_base_acc[kb][0], paper_base_acc[kb][1],
               paper_base_acc[kb][2]);
        }
        P_("\n## Importance F1\n\n");
        P_("Words are important when they belong to one of Empath's categories %s (the paper: LIWC sad, angry, anxiety, "
           "negemo, posemo); acoustic vectors when their utterance is happy, angry or sad. F1 is the average of the "
           "important- and unimportant-class F1, as in the paper. Words are scored over the vocabulary (the importance "
           "net sees only the word, so each word has one y; the paper's Figure 6 speaks of vocabulary words) and over "
           "the validation tokens; acoustic vectors over the validation tokens. Three decision rules: y >= 0.5 (the "
           "paper's); the fraction rho with the largest y (rho read as the expected share, no labels used); the best "
           "threshold (chosen with the labels: an upper bound, not a result). The random labeller calls a sample "
           "important with probability r (expected scores, best r on a 0.01 grid).\n\n",
           "sadness, anger, nervousness, fear, negative_emotion, positive_emotion");
        P_("| modality | samples | rho | important share | mean y | avg F1, y >= 0.5 | avg F1, top rho | avg F1, best "
           "threshold | ranking AUC | random: best r | random: avg F1 | paper: IMA / random |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        const imp_scores *rows[2][3] = {{&imp_w, &imp_wt, &imp_a}, {&impl_w, &impl_wt, &impl_a}};
        const char *rn[3] = {"words (vocabulary)", "words (validation tokens)", "acoustics (validation tokens)"};
        const char *on[2] = {"paper's objective", "local-ev, beyond the paper"};
        const char *pp[3] = {"0.595 / 0.552", "", "0.508 / 0.500"};
        for (int q = 0; q < n_obj; q++) {
            int o = q == 0 ? main_lev : !main_lev;
            for (int k = 0; k < 3; k++) {
                const imp_scores *x = rows[o][k];
                P_("| %s, %s%s | %zu | %.2f | %.3f | %.3f | **%.3f** | %.3f | %.3f | %.3f | %.2f | %.3f | %s |\n", rn[k],
                   on[o], n_obj > 1 && q == 0 ? " (main)" : "", x->f1.n, k < 2 ? cfg->rho_words : cfg->rho_acoustic,
                   x->prevalence, x->mean_y, x->f1.f1_avg, x->f1_top, x->f1_best, x->auc, x->rand_r, x->rand_f1,
                   pp[k]);
            }
        }
        if (lev.ran) {
            const imp_scores *tw[2] = {&lev.teacher_w, &lev.teacher_a};
            const char *tn[2] = {"words (training subsample rows)", "acoustics (training subsample rows)"};
            for (int k = 0; k < 2; k++)
                P_("| local-ev teacher: its targets, %s | %zu | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | "
                   "%.3f | |\n",
                   tn[k], tw[k]->f1.n, k ? cfg->rho_acoustic : cfg->rho_words, tw[k]->prevalence, tw[k]->mean_y,
                   tw[k]->f1.f1_avg, tw[k]->f1_top, tw[k]->f1_best, tw[k]->auc, tw[k]->rand_r, tw[k]->rand_f1);
            P_("\nThe teacher rows score the local-ev targets themselves (mean y = mean target) on the subsampled "
               "training pairs, where each word or acoustic token appears once per pair it is in.\n");
        }
        if (n_rho > 0) {
            P_("\n### rho sweep (the paper's objective; fresh importance nets, %d stage-2 epoch%s each on %zu pairs, the "
               "same rho for both modalities; words over the vocabulary, acoustics over validation tokens)\n\n",
               cfg->sweep_epochs, cfg->sweep_epochs > 1 ? "s" : "", P_sweep);
            P_("| rho | words mean y | words avg F1 (y >= 0.5) | words avg F1 (top rho) | words AUC | acoustics mean y | "
               "acoustics avg F1 (y >= 0.5) | acoustics avg F1 (top rho) | acoustics AUC |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
            int bw = 0, ba = 0, bwt = 0, bat = 0;
            for (int k = 0; k < n_rho; k++) {
                P_("| %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", rho_grid[k], sweep_w[k].mean_y,
                   sweep_w[k].f1.f1_avg, sweep_w[k].f1_top, sweep_w[k].auc, sweep_a[k].mean_y, sweep_a[k].f1.f1_avg,
                   sweep_a[k].f1_top, sweep_a[k].auc);
                if (sweep_w[k].f1.f1_avg > sweep_w[bw].f1.f1_avg) bw = k;
                if (sweep_a[k].f1.f1_avg > sweep_a[ba].f1.f1_avg) ba = k;
                if (sweep_w[k].f1_top > sweep_w[bwt].f1_top) bwt = k;
                if (sweep_a[k].f1_top > sweep_a[bat].f1_top) bat = k;
            }
            P_("\nBest average F1 over the sweep with y >= 0.5: words %.3f at rho %.2f, acoustics %.3f at rho %.2f; "
               "with the top-rho rule: words %.3f at rho %.2f, acoustics %.3f at rho %.2f. Best random labeller: words "
               "%.3f, acoustics %.3f. The paper: words 0.595 at rho 0.03 vs random 0.552; acoustics 0.508 at rho 0.7 vs "
               "random 0.500.\n\n",
               sweep_w[bw].f1.f1_avg, rho_grid[bw], sweep_a[ba].f1.f1_avg, rho_grid[ba], sweep_w[bwt].f1_top,
               rho_grid[bwt], sweep_a[bat].f1_top, rho_grid[bat], imp_w.rand_f1, imp_a.rand_f1);
        }
        P_("## Figures\n\nFrom the main rows' importances (the %s objective).\n\n", main_lev ? "local-ev" : "paper's");
        P_("- Figure 3 analogue: `emotion_fig3_word_importance.html` and `.png` (words shaded by y0).\n"
           "- Figure 5 analogue: `emotion_fig5_words_emotion.png`, `emotion_fig5_words_importance.png`, "
           "`emotion_fig5_acoustics_emotion.png`, `emotion_fig5_acoustics_importance.png` (t-SNE, perplexity 10, %zu "
           "tokens of the %s split).\n- rho sweep: `emotion_rho_sweep.png`.\n",
           sv[eval_split].T < cfg->tsne_points ? sv[eval_split].T : cfg->tsne_points, ima_emo_split_names[eval_split]);
        phase_mark(&pc, PH_REPORT);
        P_("\n## Time per phase\n\nWall and CPU seconds (CPU: every thread of the process; CPU / wall above 1 means "
           "the phase ran on both cores, below 1 that the machine was shared).%s\n\n| phase | wall (s) | CPU (s) | "
           "CPU / wall |\n|---|---|---|---|\n",
           cfg->data_dir ? " The corpus was read, not built." : "");
        for (int ph = 0; ph < N_PHASES; ph++)
            if (pc.wall[ph] > 0 || pc.cpu[ph] > 0)
                P_("| %s | %.1f | %.1f | %.2f |\n", phase_names[ph], pc.wall[ph], pc.cpu[ph],
                   pc.wall[ph] > 0 ? pc.cpu[ph] / pc.wall[ph] : 0.0);
        t_total = phase_total_wall(&pc), c_total = phase_total_cpu(&pc);
        P_("| total | %.1f | %.1f | %.2f |\n", t_total, c_total, t_total > 0 ? c_total / t_total : 0.0);
#undef P_
        if (len >= cap) {
            free(md);
            st = ima_error("report.md longer than %zu bytes", cap);
            goto out;
        }
        snprintf(path, sizeof path, "%s/report.md", cfg->out_dir);
        st = write_file(path, md);
        free(md);
        if (!st) {
            fprintf(stderr, "repro emotion: time per phase (wall s, CPU s):\n");
            for (int ph = 0; ph < N_PHASES; ph++)
                if (pc.wall[ph] > 0 || pc.cpu[ph] > 0)
                    fprintf(stderr, "  %-62s %8.1f %8.1f\n", phase_names[ph], pc.wall[ph], pc.cpu[ph]);
            fprintf(stderr, "repro emotion: wrote %s/report.md and results.json in %.1f min (%.1f min of CPU)\n",
                    cfg->out_dir, t_total / 60, c_total / 60);
        }
    }

out:
    free(sweep_pairs);
    cJSON_Delete(root);
    free(imp_init);
    free(imp_main);
    free(yl0);
    free(yl1);
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < N_REPS; r++) {
            free(reps[s][r]);
            free(reps_l[s][r]);
            free(breps[0][s][r]);
            free(breps[1][s][r]);
        }
    free(rho_grid);
    free(sweep_w);
    free(sweep_a);
    free(u0);
    free(u1);
    free(y0);
    free(y1);
    gatherer_free(&g);
    ima_model_free(model);
out_early:
    free(pairs);
    free(vocab_tok);
    free(vocab_imp);
    free(truth_w);
    free(truth_a);
    for (int s = 0; s < 3; s++) split_view_free(&sv[s]);
    ima_emo_corpus_free(&c);
    return st;
}
