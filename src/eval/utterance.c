/* utterance.c: Eq. 5 utterance representations and the two-class importance F1 (utterance.h).
 *
 * Dimensions: U utterances, T tokens, d code width. */
#include <math.h>
#include <string.h>

#include "ima/common.h"
#include "ima/utterance.h"

int ima_utterance_pool(float *s, const float *u0, const float *y0, const float *u1, const float *y1,
                       const size_t *tok_start, size_t U, size_t d) {
    if (!u0 && !u1) return ima_error("%s: neither modality's codes given", __func__);
    for (size_t u = 0; u < U; u++) {
        size_t a = tok_start[u], b = tok_start[u + 1];
        if (b <= a) return ima_error("%s: utterance %zu has no token", __func__, u);
        double acc[1024];
        if (d > 1024) return ima_error("%s: code width %zu above 1024", __func__, d);
        memset(acc, 0, d * sizeof(double));
        double wsum = 0.0;
        for (size_t t = a; t < b; t++) {
            if (u0) {
                double w = y0 ? y0[t] : 1.0;
                for (size_t k = 0; k < d; k++) acc[k] += w * u0[t * d + k];
                wsum += w;
            }
            if (u1) {
                double w = y1 ? y1[t] : 1.0;
                for (size_t k = 0; k < d; k++) acc[k] += w * u1[t * d + k];
                wsum += w;
            }
        }
        if (!(wsum > 0.0)) return ima_error("%s: utterance %zu: its importances sum to %g", __func__, u, wsum);
        for (size_t k = 0; k < d; k++) s[u * d + k] = (float)(acc[k] / wsum);
    }
    return IMA_OK;
}

static double f1(double tp, double fp, double fn) {
    double p = tp + fp > 0 ? tp / (tp + fp) : 0.0, r = tp + fn > 0 ? tp / (tp + fn) : 0.0;
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

void ima_f1_two_class(ima_f1_scores *o, const uint8_t *pred, const uint8_t *truth, const uint8_t *mask, size_t N) {
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < N; i++) {
        if (mask && !mask[i]) continue;
        int p = pred[i] != 0, t = truth[i] != 0;
        o->n++;
        o->n_pos += (size_t)t;
        if (p && t) o->tp++;
        else if (p && !t) o->fp++;
        else if (!p && t) o->fn++;
        else o->tn++;
    }
    o->precision = o->tp + o->fp ? (double)o->tp / (double)(o->tp + o->fp) : 0.0;
    o->recall = o->tp + o->fn ? (double)o->tp / (double)(o->tp + o->fn) : 0.0;
    o->f1_pos = f1((double)o->tp, (double)o->fp, (double)o->fn);
    o->f1_neg = f1((double)o->tn, (double)o->fn, (double)o->fp);
    o->f1_avg = 0.5 * (o->f1_pos + o->f1_neg);
}

double ima_random_labeller_f1(double p, double r) {
    double fp = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    double fn = 2 - p - r > 0 ? 2 * (1 - p) * (1 - r) / (2 - p - r) : 0.0;
    return 0.5 * (fp + fn);
}

void ima_random_labeller_best(double p, double *best_r, double *best_f1) {
    *best_r = 0.0;
    *best_f1 = -1.0;
    for (int k = 0; k <= 100; k++) {
        double r = k / 100.0, f = ima_random_labeller_f1(p, r);
        if (f > *best_f1 + 1e-15) {
            *best_f1 = f;
            *best_r = r;
        }
    }
}
