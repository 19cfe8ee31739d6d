/* test_classify.c: softmax cross-entropy (known values, stability, finite differences) and the
 * downstream MLP classifier (separable data, learning-rate selection, determinism, errors). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/loss_xent.h"
#include "ima/rng.h"
#include "testutil.h"

static void test_xent(void) {
    // two equal logits: loss log 2, probabilities 1/2
    float a[2] = {0.0f, 0.0f}, p[2], l[1];
    int64_t t0 = 0;
    double m = ima_softmax_xent_forward(l, p, a, &t0, 1, 2);
    CHECK(fabs(m - log(2.0)) < 1e-7 && p[0] == 0.5f, "loss %g probs %g", m, p[0]);
    // huge logits stay finite: loss 2000 for the wrong class, 0 for the right one
    float big[4] = {1000.0f, -1000.0f, 1000.0f, -1000.0f};
    int64_t tb[2] = {1, 0};
    float pb[4], lb[2];
    m = ima_softmax_xent_forward(lb, pb, big, tb, 2, 2);
    CHECK(isfinite(m) && fabs(lb[0] - 2000.0f) < 1e-3 && lb[1] == 0.0f, "stable: %g %g", lb[0], lb[1]);

    // finite differences of the mean loss w.r.t. every logit
    size_t B = 5, C = 4;
    ima_rng rng;
    ima_rng_init(&rng, 4);
    float x[20], probs[20], g[20], rows[5];
    int64_t tg[5];
    for (size_t i = 0; i < B * C; i++) x[i] = (float)(3.0 * ima_rng_normal(&rng));
    for (size_t i = 0; i < B; i++) tg[i] = (int64_t)ima_rng_below(&rng, C);
    ima_softmax_xent_forward(rows, probs, x, tg, B, C);
    ima_softmax_xent_backward(g, probs, tg, 1.0f / (float)B, B, C);
    double worst = 0.0, gmax = 0.0;
    for (size_t i = 0; i < B * C; i++) {
        float keep = x[i], h = 1e-2f;
        x[i] = keep + h;
        double lp = ima_softmax_xent_forward(rows, probs, x, tg, B, C);
        x[i] = keep - h;
        double lm = ima_softmax_xent_forward(rows, probs, x, tg, B, C);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)h);
        worst = fmax(worst, fabs(fd - g[i]) / fmax(fabs(fd), 1e-3));
        gmax = fmax(gmax, fabs(g[i]));
    }
    CHECK(gmax > 1e-2, "gradient ~0 (%g): the check would be vacuous", gmax);
    CHECK(worst < 2e-3, "finite differences: worst relative error %g", worst);
    // each gradient row sums to 0
    double rs = 0.0;
    for (size_t c = 0; c < C; c++) rs += g[c];
    CHECK(fabs(rs) < 1e-6, "row sum %g", rs);
}

/* C Gaussian blobs in 2-D, centres on a circle of radius r, unit-ish spread, scaled by s */
static void blobs(float *x, int64_t *y, size_t N, size_t C, double r, double s, ima_rng *rng) {
    for (size_t i = 0; i < N; i++) {
        size_t c = i % C;
        double ang = 2.0 * 3.141592653589793 * (double)c / (double)C;
        x[2 * i] = (float)(s * (r * cos(ang) + 0.5 * ima_rng_normal(rng)));
        x[2 * i + 1] = (float)(s * (r * sin(ang) + 0.5 * ima_rng_normal(rng)));
        y[i] = (int64_t)c;
    }
}

static void test_classifier(void) {
    ima_rng rng;
    ima_rng_init(&rng, 77);
    size_t nt = 600, nv = 200, ns = 300, C = 3;
    float *xt = malloc(nt * 2 * sizeof *xt), *xv = malloc(nv * 2 * sizeof *xv), *xs = malloc(ns * 2 * sizeof *xs);
    int64_t *yt = malloc(nt * sizeof *yt), *yv = malloc(nv * sizeof *yv), *ys = malloc(ns * sizeof *ys);
    int64_t *pred = malloc(ns * sizeof *pred), *pred2 = malloc(ns * sizeof *pred2);
    blobs(xt, yt, nt, C, 3.0, 10.0, &rng);
    blobs(xv, yv, nv, C, 3.0, 10.0, &rng);
    blobs(xs, ys, ns, C, 3.0, 10.0, &rng);
    ima_classifier_config cfg = ima_classifier_defaults();
    cfg.epochs = 10;
    CHECK(cfg.hidden == 50 && cfg.n_hidden_layers == 2 && cfg.n_lrs == 8 && cfg.lrs[0] == 0.0625 && cfg.lrs[7] == 8.0,
          "defaults differ from the paper's Table 3");
    ima_classifier *clf = NULL;
    ima_classifier_report rep;
    CHECK(ima_classifier_fit(&clf, &rep, &cfg, xt, yt, nt, xv, yv, nv, 2) == IMA_OK, "%s", ima_last_error());
    if (!clf) return;
    ima_classifier_predict(clf, pred, xs, ns);
    double acc = ima_accuracy(pred, ys, NULL, ns, NULL);
    CHECK(acc > 0.97, "test accuracy %g on separable blobs", acc);
    CHECK(rep.n_classes == 3 && rep.n_lrs == 8, "classes %zu", rep.n_classes);
    // the chosen rate has the best validation accuracy, ties to the smaller rate
    for (size_t k = 0; k < rep.n_lrs; k++) {
        CHECK(rep.diverged[k] || rep.valid_acc[k] <= rep.valid_acc[rep.chosen], "rate %g beats the chosen one",
              rep.lrs[k]);
        if (k < rep.chosen) CHECK(rep.valid_acc[k] < rep.valid_acc[rep.chosen], "an earlier rate ties the chosen");
    }
    printf("classifier: chosen lr %g, validation accuracy %.4f, test accuracy %.4f\n", rep.lrs[rep.chosen],
           rep.valid_acc[rep.chosen], acc);
    // deterministic: a second fit predicts the same
    ima_classifier *clf2 = NULL;
    ima_classifier_report rep2;
    CHECK(ima_classifier_fit(&clf2, &rep2, &cfg, xt, yt, nt, xv, yv, nv, 2) == IMA_OK, "%s", ima_last_error());
    ima_classifier_predict(clf2, pred2, xs, ns);
    CHECK(memcmp(pred, pred2, ns * sizeof *pred) == 0 &&
              memcmp(rep.valid_acc, rep2.valid_acc, sizeof rep.valid_acc) == 0,
          "two fits with the same seed differ");
    ima_classifier_free(clf2);

    // without standardisation, inputs of scale 1000 make the large rates diverge; they are skipped
    for (size_t i = 0; i < nt * 2; i++) xt[i] *= 100.0f;
    for (size_t i = 0; i < nv * 2; i++) xv[i] *= 100.0f;
    cfg.standardize = 0;
    cfg.epochs = 3;
    ima_classifier *clf3 = NULL;
    int rc = ima_classifier_fit(&clf3, &rep2, &cfg, xt, yt, nt, xv, yv, nv, 2);
    CHECK(rep2.diverged[7] == 1 && isinf(rep2.train_loss[7]), "lr 8 on unscaled inputs should diverge");
    CHECK(rc == IMA_ERR || !rep2.diverged[rep2.chosen], "a diverged rate was chosen");
    ima_classifier_free(clf3);

    // subset accuracy by hand
    int64_t pa[5] = {0, 1, 2, 1, 0}, la[5] = {0, 1, 1, 1, 2};
    uint8_t ma[5] = {0, 0, 1, 1, 1};
    size_t used;
    CHECK(fabs(ima_accuracy(pa, la, NULL, 5, &used) - 0.6) < 1e-15 && used == 5, "accuracy overall");
    CHECK(fabs(ima_accuracy(pa, la, ma, 5, &used) - 1.0 / 3.0) < 1e-15 && used == 3, "accuracy on the mask");

    // errors: a validation label unseen in training; a single class
    yv[0] = 7;
    CHECK(ima_classifier_fit(&clf3, NULL, &cfg, xt, yt, nt, xv, yv, nv, 2) == IMA_ERR, "unknown label accepted");
    int64_t one[4] = {0, 0, 0, 0};
    CHECK(ima_classifier_fit(&clf3, NULL, &cfg, xt, one, 4, xv, one, 4, 2) == IMA_ERR, "single class accepted");
    ima_classifier_free(clf);
    free(xt), free(xv), free(xs), free(yt), free(yv), free(ys), free(pred), free(pred2);
}

int main(void) {
    test_xent();
    test_classifier();
    return tu_finish("test_classify");
}
