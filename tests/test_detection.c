/* test_detection.c: noise detection scores on hand-made cases, and the AUC / best-F1 sweep
 * against brute-force loops on random data with ties. */
#include <math.h>
#include <stdlib.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/rng.h"
#include "testutil.h"

static void test_hand_made(void) {
    // y:     0.1 0.2 0.3 0.6 0.7 0.9
    // noise:  1   1   0   1   0   0
    // threshold 0.5: called 0.1 0.2 0.3 -> tp 2, fp 1, fn 1, tn 2; P = R = F1 = 2/3
    // AUC: noise {0.1, 0.2, 0.6} below clean {0.3, 0.7, 0.9}: 3 + 3 + 2 = 8 of 9
    // cuts: F1 after 0.1: 2/4, 0.2: 4/5, 0.3: 4/6, 0.6: 6/7 (best), 0.7: 6/8, 0.9: 6/9
    float y[6] = {0.1f, 0.2f, 0.3f, 0.6f, 0.7f, 0.9f};
    uint8_t noise[6] = {1, 1, 0, 1, 0, 0};
    ima_detection r;
    CHECK(ima_detection_eval(&r, y, noise, NULL, 6, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(r.at_threshold.tp == 2 && r.at_threshold.fp == 1 && r.at_threshold.fn == 1 && r.at_threshold.tn == 2,
          "counts %zu %zu %zu %zu", r.at_threshold.tp, r.at_threshold.fp, r.at_threshold.fn, r.at_threshold.tn);
    CHECK(fabs(r.at_threshold.precision - 2.0 / 3) < 1e-15 && fabs(r.at_threshold.recall - 2.0 / 3) < 1e-15 &&
              fabs(r.at_threshold.f1 - 2.0 / 3) < 1e-15,
          "P %g R %g F1 %g", r.at_threshold.precision, r.at_threshold.recall, r.at_threshold.f1);
    CHECK(r.ranked && fabs(r.auc - 8.0 / 9.0) < 1e-15, "AUC %g, expected 8/9", r.auc);
    CHECK(fabs(r.best_f1 - 6.0 / 7.0) < 1e-15, "best F1 %g, expected 6/7", r.best_f1);
    CHECK(r.best_threshold > 0.6f && r.best_threshold < 0.7f, "best threshold %g not between 0.6 and 0.7",
          r.best_threshold);
    ima_detect_scores s;
    ima_detect_at(&s, y, noise, NULL, 6, r.best_threshold);
    CHECK(fabs(s.f1 - r.best_f1) < 1e-15, "F1 at the best threshold %g != best F1 %g", s.f1, r.best_f1);
    CHECK(r.n == 6 && r.n_noise == 3 && fabs(r.mean_y - 2.8 / 6) < 1e-7, "n %zu noise %zu mean %g", r.n, r.n_noise,
          r.mean_y);

    // mask: only the first four -> threshold 0.5 calls 3, tp 2 fp 1 fn 1; AUC: noise {.1,.2,.6} vs clean {.3}: 2/3
    uint8_t m[6] = {1, 1, 1, 1, 0, 0};
    CHECK(ima_detection_eval(&r, y, noise, m, 6, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(r.n == 4 && fabs(r.auc - 2.0 / 3.0) < 1e-15, "masked: n %zu AUC %g", r.n, r.auc);

    // all tied: AUC one half; nothing below threshold 0.5 -> precision 0 (no predicted positive)
    float t[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    uint8_t tn[4] = {1, 0, 1, 0};
    CHECK(ima_detection_eval(&r, t, tn, NULL, 4, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(r.auc == 0.5 && r.at_threshold.precision == 0.0 && r.at_threshold.f1 == 0.0 && r.at_threshold.fn == 2,
          "tied: AUC %g P %g", r.auc, r.at_threshold.precision);
    // calling everything noise: F1 = 2*2/(2*2+2) = 2/3 is the best cut
    CHECK(fabs(r.best_f1 - 2.0 / 3.0) < 1e-15 && r.best_threshold > 0.5, "tied best F1 %g at %g", r.best_f1,
          r.best_threshold);

    // perfect and inverted rankings
    float yp[4] = {0.1f, 0.2f, 0.8f, 0.9f};
    uint8_t np_[4] = {1, 1, 0, 0}, ni[4] = {0, 0, 1, 1};
    CHECK(ima_detection_eval(&r, yp, np_, NULL, 4, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(r.auc == 1.0 && r.at_threshold.f1 == 1.0 && r.best_f1 == 1.0, "perfect: AUC %g F1 %g", r.auc,
          r.at_threshold.f1);
    CHECK(ima_detection_eval(&r, yp, ni, NULL, 4, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(r.auc == 0.0 && r.at_threshold.f1 == 0.0 && r.at_threshold.recall == 0.0, "inverted: AUC %g", r.auc);

    // one class only: no ranking; recall 0 when there is no noise
    uint8_t zero[4] = {0};
    CHECK(ima_detection_eval(&r, yp, zero, NULL, 4, 0.5) == IMA_OK, "%s", ima_last_error());
    CHECK(!r.ranked && isnan(r.auc) && r.at_threshold.recall == 0.0 && r.at_threshold.fp == 2, "no noise: ranked %d",
          r.ranked);
    // errors
    float bad[2] = {0.5f, NAN};
    uint8_t two[2] = {0, 1}, none[2] = {0, 0};
    CHECK(ima_detection_eval(&r, bad, two, NULL, 2, 0.5) == IMA_ERR, "NaN importance accepted");
    CHECK(ima_detection_eval(&r, yp, two, none, 2, 0.5) == IMA_ERR, "empty mask accepted");
}

static void test_against_brute_force(void) {
    ima_rng rng;
    ima_rng_init(&rng, 3);
    size_t N = 400;
    float *y = malloc(N * sizeof *y);
    uint8_t *noise = malloc(N);
    for (size_t i = 0; i < N; i++) {
        noise[i] = ima_rng_below(&rng, 4) == 0;
        // quantised, so that ties occur; noise a little lower on average
        y[i] = (float)(ima_rng_below(&rng, 20) + (noise[i] ? 0 : 5)) / 25.0f;
    }
    ima_detection r;
    CHECK(ima_detection_eval(&r, y, noise, NULL, N, 0.5) == IMA_OK, "%s", ima_last_error());
    double pairs = 0.0, nn = 0.0, nc = 0.0;
    for (size_t i = 0; i < N; i++) {
        nn += noise[i];
        nc += !noise[i];
        if (!noise[i]) continue;
        for (size_t j = 0; j < N; j++)
            if (!noise[j]) pairs += y[i] < y[j] ? 1.0 : y[i] == y[j] ? 0.5 : 0.0;
    }
    CHECK(fabs(r.auc - pairs / (nn * nc)) < 1e-12, "AUC %g, brute force %g", r.auc, pairs / (nn * nc));
    double best = 0.0;
    for (size_t i = 0; i < N; i++) { // every candidate threshold just above a value
        ima_detect_scores s;
        ima_detect_at(&s, y, noise, NULL, N, nextafterf(y[i], 2.0f));
        best = fmax(best, s.f1);
    }
    CHECK(fabs(r.best_f1 - best) < 1e-12, "best F1 %g, brute force %g", r.best_f1, best);
    CHECK(r.auc > 0.6 && r.auc < 0.95, "AUC %g outside the expected range for this data", r.auc);
    free(y), free(noise);
}

int main(void) {
    test_hand_made();
    test_against_brute_force();
    return tu_finish("test_detection");
}
