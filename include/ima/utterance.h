/* utterance.h: utterance representations from token codes (paper Eq. 5, SPEC section 3 and 9) and
 * the importance F1 of the emotion experiment (the average of the positive- and negative-class
 * F1, as the paper reports it), with the paper's random-labeller baseline.
 *
 * Dimensions: U utterances, T tokens, d code width. Tokens of utterance u are
 * [tok_start[u], tok_start[u+1]); token l carries a word code u0 (T, d) with importance y0 (T)
 * and an acoustic code u1 (T, d) with importance y1 (T). */
#ifndef IMA_UTTERANCE_H
#define IMA_UTTERANCE_H

#include <stddef.h>
#include <stdint.h>

/* Eq. 5:  s_u = sum_l [ y0_l u0_l + y1_l u1_l ] / sum_l [ y0_l + y1_l ]   over the tokens l of u.
 * y0 or y1 NULL: every weight of that modality is 1 (the unweighted ablation). u0 NULL leaves the
 * word terms out (acoustic-only), u1 NULL the acoustic terms (verbal-only); not both.
 * s (U, d). Fails, naming the utterance, when it has no token or its weights sum to zero. */
int ima_utterance_pool(float *s, const float *u0, const float *y0, const float *u1, const float *y1,
                       const size_t *tok_start, size_t U, size_t d);

/* Scores of a two-class decision: the positive class is "important". */
typedef struct {
    size_t n, n_pos; // samples and true positives in the ground truth
    size_t tp, fp, fn, tn;
    double precision, recall; // of the positive class
    double f1_pos, f1_neg;    // F1 of the positive and of the negative class (0 when undefined)
    double f1_avg;            // (f1_pos + f1_neg) / 2, the paper's figure
} ima_f1_scores;

/* pred, truth (N) 0/1 flags; mask (N) or NULL selects samples. */
void ima_f1_two_class(ima_f1_scores *out, const uint8_t *pred, const uint8_t *truth, const uint8_t *mask, size_t N);

/* The paper's random labeller: calls a sample important with probability r, independently of it.
 * Its expected scores (the large-sample limit) for a positive-class prevalence p:
 *   F1_pos = 2 p r / (p + r),  F1_neg = 2 (1-p)(1-r) / (2 - p - r),  average of the two. */
double ima_random_labeller_f1(double p, double r);
/* The best r over the grid r = 0, 0.01, ..., 1 and its expected average F1. */
void ima_random_labeller_best(double p, double *best_r, double *best_f1);

#endif
