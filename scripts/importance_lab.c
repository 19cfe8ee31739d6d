/* importance_lab.c: stage-2 experiments on a trained stage-1 checkpoint (docs/importance.md).
 * Not part of the build: scripts/importance_lab.sh compiles it against build/libima.a.
 *   importance_lab CKPT DATA_DIR OBJECTIVE RHO_IMAGE RHO_SPEECH EPOCHS2 [ROUNDS [EPOCHS1_EXTRA [LCORR [LLOCAL]]]]
 * CKPT may be new:L (a fresh digits model of latent L, stage 1 trained here for $LAB_S1_EPOCHS epochs
 * with lambda_glob $LAB_GLOB, default 1). Environment: LAB_LIMIT=N uses every (n/N)-th training row;
 * LAB_LCORR_RATIO=1 sets lambda_corr_j = L_local_j / L_corr_j measured on the first batch;
 * LAB_WEIGHTED_Z=1 trains stage 2 with z fused by the current importances (round-2 mode) from the start.
 * Prints the targets' agreement with the noise flags (train), then the test detection and P@10
 * of the weighted / unweighted / oracle z after stage 2 (and, with ROUNDS > 1, after stage 1 is
 * retrained with the learnt importances for EPOCHS1_EXTRA epochs and stage 2 rerun). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/importance.h"
#include "ima/npy.h"
#include "ima/train.h"

typedef struct {
    ima_dataset ds;
    uint8_t *noise[2];
    int64_t *label;
} split;

static int load_split(split *s, const char *dir, const char *name) {
    char p[2][1024], f[1024];
    snprintf(p[0], sizeof p[0], "%s/%s/image.npy", dir, name);
    snprintf(p[1], sizeof p[1], "%s/%s/speech.npy", dir, name);
    const char *pp[2] = {p[0], p[1]};
    if (ima_dataset_load(&s->ds, 2, pp, NULL)) return 1;
    const char *nn[2] = {"image_noise", "speech_noise"};
    for (int j = 0; j < 2; j++) {
        snprintf(f, sizeof f, "%s/%s/%s.npy", dir, name, nn[j]);
        int64_t *v;
        size_t n;
        if (ima_npy_read_labels(f, &v, &n)) return 1;
        s->noise[j] = malloc(n);
        for (size_t i = 0; i < n; i++) s->noise[j][i] = v[i] != 0;
        free(v);
    }
    snprintf(f, sizeof f, "%s/%s/label.npy", dir, name);
    size_t n;
    return ima_npy_read_labels(f, &s->label, &n);
}

static void importances(ima_model *m, const ima_dataset *ds, float *y[2], float *u[2]) {
    size_t Bm = m->max_batch, d = m->cfg.latent_width;
    for (size_t lo = 0; lo < ds->n; lo += Bm) {
        size_t B = ds->n - lo < Bm ? ds->n - lo : Bm;
        ima_batch b = {.B = B};
        for (int j = 0; j < 2; j++) b.x[j] = ds->x[j] + lo * ds->width[j];
        ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE);
        for (int j = 0; j < 2; j++) {
            memcpy(y[j] + lo, m->mod[j].y_imp, B * sizeof(float));
            memcpy(u[j] + lo * d, ima_model_u(m, j), B * d * sizeof(float));
        }
    }
}

static double p10(const float *u0, const float *u1, const float *w0, const float *w1, const split *s, size_t d) {
    size_t n = s->ds.n;
    float *z = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double a = w0 ? fmax(w0[i], 1e-6) : 1, b = w1 ? fmax(w1[i], 1e-6) : 1;
        for (size_t k = 0; k < d; k++) z[i * d + k] = (float)((a * u0[i * d + k] + b * u1[i * d + k]) / (a + b));
    }
    double pr;
    size_t K = 10, q;
    ima_precision_at_k(&pr, NULL, &q, z, s->label, NULL, NULL, &K, 1, n, d);
    free(z);
    return pr;
}

static void evaluate(ima_model *m, const split *te, const char *tag) {
    size_t n = te->ds.n, d = m->cfg.latent_width;
    float *y[2], *u[2], *orc[2];
    for (int j = 0; j < 2; j++) {
        y[j] = malloc(n * sizeof(float)), u[j] = malloc(n * d * sizeof(float)), orc[j] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) orc[j][i] = te->noise[j][i] ? 0.0f : 1.0f;
    }
    importances(m, &te->ds, y, u);
    for (int j = 0; j < 2; j++) {
        ima_detection det;
        ima_detection_eval(&det, y[j], te->noise[j], NULL, n, 0.5);
        printf("%s %s: F1@0.5 %.4f (P %.3f R %.3f) AUC %.4f best-F1 %.4f mean y %.3f\n", tag, j ? "speech" : "image",
               det.at_threshold.f1, det.at_threshold.precision, det.at_threshold.recall, det.auc, det.best_f1,
               det.mean_y);
    }
    printf("%s P@10 weighted %.4f unweighted %.4f oracle %.4f\n", tag, p10(u[0], u[1], y[0], y[1], te, d),
           p10(u[0], u[1], NULL, NULL, te, d), p10(u[0], u[1], orc[0], orc[1], te, d));
    fflush(stdout);
    for (int j = 0; j < 2; j++) free(y[j]), free(u[j]), free(orc[j]);
}

static int epoch_say(void *ctx, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    (void)ctx, (void)m, (void)st;
    if (r->stage == 2)
        fprintf(stderr, "  s2 epoch %d: teach %.4f / %.4f corr %.3g / %.3g local %.3g / %.3g mean y %.3f / %.3f\n",
                r->epoch, r->s2.teach[0], r->s2.teach[1], r->s2.corr[0], r->s2.corr[1], r->s2.local[0], r->s2.local[1],
                r->mean_y[0], r->mean_y[1]);
    else fprintf(stderr, "  s1 epoch %d: L_auto %.3f\n", r->epoch, r->s1.total);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: importance_lab CKPT DATA OBJECTIVE RHO_I RHO_S EPOCHS2 [ROUNDS [EPOCHS1 [LCORR [LLOCAL]]]]\n");
        return 2;
    }
    ima_model *m;
    split tr, te;
    if (load_split(&tr, argv[2], "train") || load_split(&te, argv[2], "test")) {
        fprintf(stderr, "%s\n", ima_last_error());
        return 1;
    }
    if (getenv("LAB_LIMIT")) { /* every stride-th row */
        size_t want = (size_t)atol(getenv("LAB_LIMIT")), stride = tr.ds.n / want ? tr.ds.n / want : 1, n = 0;
        for (size_t i = 0; i < tr.ds.n && n < want; i += stride, n++) {
            for (int j = 0; j < 2; j++) {
                memmove(tr.ds.x[j] + n * tr.ds.width[j], tr.ds.x[j] + i * tr.ds.width[j],
                        tr.ds.width[j] * sizeof(float));
                tr.noise[j][n] = tr.noise[j][i];
            }
            tr.ds.mask[n * 2] = tr.ds.mask[i * 2], tr.ds.mask[n * 2 + 1] = tr.ds.mask[i * 2 + 1];
            tr.label[n] = tr.label[i];
        }
        tr.ds.n = n;
    }
    if (!strncmp(argv[1], "new:", 4)) {
        ima_config c = ima_config_digits((size_t)atoi(argv[1] + 4));
        if (getenv("LAB_GLOB")) c.lambda_glob = (float)atof(getenv("LAB_GLOB"));
        if (ima_model_init(&m, &c, 256, 3)) return 1;
        ima_model_fit_center(m, &tr.ds);
        ima_train_config t1 = ima_train_defaults();
        t1.epochs_stage1 = getenv("LAB_S1_EPOCHS") ? atoi(getenv("LAB_S1_EPOCHS")) : 5;
        t1.epochs_stage2 = 0;
        ima_train_state s1;
        ima_train_state_init(&s1, 5);
        if (ima_train(m, &tr.ds, &t1, &s1, NULL)) {
            fprintf(stderr, "%s\n", ima_last_error());
            return 1;
        }
    } else if (ima_checkpoint_load(argv[1], 256, &m, NULL, NULL)) {
        fprintf(stderr, "%s\n", ima_last_error());
        return 1;
    }
    if (ima_importance_objective_parse(argv[3], &m->cfg.importance_objective)) return 1;
    m->cfg.mod[0].rho = (float)atof(argv[4]);
    m->cfg.mod[1].rho = (float)atof(argv[5]);
    int e2 = atoi(argv[6]), rounds = argc > 7 ? atoi(argv[7]) : 1, e1 = argc > 8 ? atoi(argv[8]) : 0;
    for (int j = 0; j < 2; j++) {
        if (argc > 9) m->cfg.mod[j].lambda_corr = (float)atof(argv[9]);
        if (argc > 10) m->cfg.mod[j].lambda_local = (float)atof(argv[10]);
    }
    size_t N = tr.ds.n;
    if (getenv("LAB_DUMP_H")) { /* second hidden layer of each encoder, train split */
        for (int j = 0; j < 2; j++) {
            size_t H = m->mod[j].enc.width[2], Bm = m->max_batch;
            float *h = malloc(N * H * sizeof(float));
            for (size_t lo = 0; lo < N; lo += Bm) {
                size_t B = N - lo < Bm ? N - lo : Bm;
                ima_batch b = {.B = B};
                for (int q = 0; q < 2; q++) b.x[q] = tr.ds.x[q] + lo * tr.ds.width[q];
                ima_model_encode(m, &b, IMA_WEIGHTS_ONE);
                memcpy(h + lo * H, m->mod[j].enc_acts.out[1], B * H * sizeof(float));
            }
            char f[1024];
            snprintf(f, sizeof f, "%s/h_%s.npy", getenv("LAB_DUMP_H"), j ? "speech" : "image");
            ima_npy_write_f32(f, N, H, h);
            free(h);
        }
        return 0;
    }
    if (m->cfg.importance_objective == IMA_IMPORTANCE_LOCAL_EV) {
        float *t = malloc(N * 2 * sizeof(float)), *T = malloc(N * 2 * sizeof(float));
        ima_local_ev_report rep;
        if (ima_local_ev_targets(t, T, m, &tr.ds, &rep)) {
            fprintf(stderr, "%s\n", ima_last_error());
            return 1;
        }
        if (getenv("LAB_DUMP_T")) ima_npy_write_f32(getenv("LAB_DUMP_T"), N, 2, T);
        float *tj = malloc(N * sizeof(float));
        for (int j = 0; j < 2; j++) {
            for (size_t i = 0; i < N; i++) tj[i] = t[i * 2 + j];
            ima_detection det;
            ima_detection_eval(&det, tj, tr.noise[j], NULL, N, 0.5);
            for (size_t i = 0; i < N; i++) tj[i] = T[i * 2 + j];
            ima_detection dT;
            ima_detection_eval(&dT, tj, tr.noise[j], NULL, N, 0.5);
            const ima_mixture_fit *f = &rep.fit[j];
            printf(
                "targets %s: median T %.2f, fit share %.3f means T %.2f / %.2f / %.2f sd %.2f / %.2f / %.2f, threshold T %.2f, "
                "null_like %d, iters %d; target<0.5 share %.3f; train F1 %.4f (P %.3f R %.3f); AUC(T) %.4f (%.1fs)\n",
                j ? "speech" : "image", rep.median_T[j], f->share, exp(f->mean[0]), exp(f->mean[1]), exp(f->mean[2]),
                f->sd[0], f->sd[1], f->sd[2], f->threshold, f->null_like, f->iterations, rep.share_below[j],
                det.at_threshold.f1, det.at_threshold.precision, det.at_threshold.recall, dT.auc, rep.seconds);
        }
        static const double rhos[] = {0.05, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95};
        for (size_t q = 0; q < sizeof rhos / sizeof *rhos && getenv("LAB_RHOS"); q++)
            for (int j = 0; j < 2; j++) {
                float *Tj = malloc(N * sizeof(float)), *out = malloc(N * sizeof(float));
                for (size_t i = 0; i < N; i++) Tj[i] = T[i * 2 + j];
                ima_mixture_fit f;
                ima_local_ev_calibrate(out, &f, Tj, N, rhos[q]);
                ima_detection det;
                ima_detection_eval(&det, out, tr.noise[j], NULL, N, 0.5);
                printf("  rho %.2f %s: threshold T %.2f, share %.3f, train target F1 %.4f\n", rhos[q],
                       j ? "speech" : "image", f.threshold, f.share, det.at_threshold.f1);
                free(Tj), free(out);
            }
        free(tj), free(t), free(T);
        fflush(stdout);
    }
    ima_model_importance_reset(m, 7);
    if (getenv("LAB_LCORR_RATIO")) { /* lambda_corr_j = L_local_j / L_corr_j on the first batch */
        ima_batch b = {.B = 256};
        for (int j = 0; j < 2; j++) b.x[j] = tr.ds.x[j];
        ima_stage2_terms t0;
        ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 0, &t0);
        for (int j = 0; j < 2; j++) {
            m->cfg.mod[j].lambda_corr = (float)(t0.local[j] > 0 && t0.corr[j] > 0 ? t0.local[j] / t0.corr[j] : 1.0);
            printf("lambda_corr[%d] = %.4g (L_local %.3g / L_corr %.3g)\n", j, m->cfg.mod[j].lambda_corr, t0.local[j],
                   t0.corr[j]);
        }
    }
    ima_train_config tc = ima_train_defaults();
    tc.epochs_stage1 = 0;
    tc.epochs_stage2 = e2;
    ima_train_state st;
    ima_train_state_init(&st, 11);
    if (getenv("LAB_WEIGHTED_Z")) { /* round-2 mode: stage 2 fuses z with the current importances */
        tc.rounds = 2;
        st.round = 2;
    }
    ima_train_callbacks cb = {.on_epoch = epoch_say};
    if (ima_train(m, &tr.ds, &tc, &st, &cb)) {
        fprintf(stderr, "%s\n", ima_last_error());
        return 1;
    }
    evaluate(m, &te, "round1");
    for (int r = 2; r <= rounds; r++) {
        tc.rounds = r;
        tc.epochs_stage1 = e1;
        st.round = r, st.stage = 1, st.epoch = 0, st.finished = 0;
        if (ima_train(m, &tr.ds, &tc, &st, &cb)) {
            fprintf(stderr, "%s\n", ima_last_error());
            return 1;
        }
        char tag[32];
        snprintf(tag, sizeof tag, "round%d", r);
        evaluate(m, &te, tag);
    }
    ima_model_free(m);
    return 0;
}
