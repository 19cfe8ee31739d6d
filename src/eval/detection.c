/* detection.c: how well importances y flag noise (SPEC sections 5 and 8).
 *
 * Dimensions: N samples, n of them selected by the mask.
 *
 * Positive class = noise. A sample is called noise when y < threshold. Beside the scores at one
 * threshold: the ranking AUC (Mann-Whitney: the probability that a noise sample has a lower y than
 * a clean one, ties counting one half) and the best F1 over all thresholds, both from one sort. */
#include <math.h>
#include <stdlib.h>

#include "ima/common.h"
#include "ima/eval.h"

static void scores_from_counts(ima_detect_scores *s) {
    double tp = (double)s->tp;
    s->precision = s->tp + s->fp ? tp / (double)(s->tp + s->fp) : 0.0;
    s->recall = s->tp + s->fn ? tp / (double)(s->tp + s->fn) : 0.0;
    s->f1 = s->precision + s->recall > 0.0 ? 2.0 * s->precision * s->recall / (s->precision + s->recall) : 0.0;
}

void ima_detect_at(ima_detect_scores *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                   double threshold) {
    ima_detect_scores s = {0};
    for (size_t i = 0; i < N; i++) {
        if (mask && !mask[i]) continue;
        int called = (double)y[i] < threshold, is = noise[i] != 0;
        s.tp += called && is;
        s.fp += called && !is;
        s.fn += !called && is;
        s.tn += !called && !is;
    }
    scores_from_counts(&s);
    *out = s;
}

typedef struct {
    float y;
    uint8_t noise;
} scored;

static int cmp_scored(const void *a, const void *b) {
    float ya = ((const scored *)a)->y, yb = ((const scored *)b)->y;
    return (ya > yb) - (ya < yb);
}

int ima_detection_eval(ima_detection *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                       double threshold) {
    size_t n = 0, n_noise = 0;
    double sum_y = 0.0;
    for (size_t i = 0; i < N; i++) {
        if (mask && !mask[i]) continue;
        if (!isfinite(y[i])) return ima_error("%s: importance of sample %zu is not finite (%g)", __func__, i, y[i]);
        n++;
        n_noise += noise[i] != 0;
        sum_y += y[i];
    }
    if (n == 0) return ima_error("%s: no sample selected", __func__);
    ima_detection r = {0};
    r.n = n;
    r.n_noise = n_noise;
    r.mean_y = sum_y / (double)n;
    r.threshold = threshold;
    ima_detect_at(&r.at_threshold, y, noise, mask, N, threshold);
    r.ranked = n_noise > 0 && n_noise < n;
    r.auc = NAN;
    r.best_f1 = NAN;
    r.best_threshold = NAN;
    if (r.ranked) {
        scored *s = ima_try_malloc(n, sizeof *s); // (n) selected samples, ascending y
        if (!s) return ima_error_prefix("%s", __func__);
        size_t m = 0;
        for (size_t i = 0; i < N; i++)
            if (!mask || mask[i]) s[m++] = (scored){y[i], (uint8_t)(noise[i] != 0)};
        qsort(s, n, sizeof *s, cmp_scored);
        size_t n_clean = n - n_noise;
        double pairs = 0.0;     // noise-below-clean pairs, ties one half
        size_t clean_below = 0; // clean samples with y strictly below the current tie group
        size_t noise_below = 0; // noise samples below the cut (called noise)
        // cut at m = 0: nothing is called noise, F1 = 0, threshold at the smallest value
        r.best_f1 = 0.0;
        r.best_threshold = s[0].y;
        for (size_t a = 0; a < n;) {
            size_t b = a, gn = 0, gc = 0; // tie group [a, b)
            while (b < n && s[b].y == s[a].y) {
                gn += s[b].noise;
                gc += !s[b].noise;
                b++;
            }
            // each noise sample in the group is above clean_below clean ones, tied with gc
            pairs += (double)gn * ((double)(n_clean - clean_below - gc) + 0.5 * (double)gc);
            clean_below += gc;
            noise_below += gn;
            // the cut after this group: called noise = s[0..b)
            double tp = (double)noise_below, fp = (double)(b - noise_below), fn = (double)(n_noise - noise_below);
            double f1 = 2.0 * tp / (2.0 * tp + fp + fn);
            if (f1 > r.best_f1) {
                r.best_f1 = f1;
                r.best_threshold =
                    b < n ? 0.5 * ((double)s[b - 1].y + (double)s[b].y) : nextafter((double)s[n - 1].y, INFINITY);
            }
            a = b;
        }
        r.auc = pairs / ((double)n_noise * (double)n_clean);
        free(s);
    }
    *out = r;
    return IMA_OK;
}
