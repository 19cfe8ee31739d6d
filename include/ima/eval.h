/* eval.h: evaluation of learnt representations (SPEC section 5): retrieval (Precision@K),
 * downstream classification with a small MLP, and importance (noise) detection.
 * docs/eval.md states what each measure computes and the conventions chosen.
 *
 * Dimensions: N samples, D representation width, K neighbours per query, Q queries
 * (samples selected by a query mask), B rows in a distance block, C classes.
 * Matrices are row-major float32. Labels are int64; masks are uint8 (nonzero = selected). */
#ifndef IMA_EVAL_H
#define IMA_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- distances and exact nearest neighbours ------------------------------------------- */

/* Squared Euclidean distances of B query rows to N database rows through one GEMM:
 *   out[b][j] = qn[b] + zn[j] - 2 q_b . z_j, clamped at 0.
 * out (B, N); q (B, D); qn (B) = ||q_b||^2; z (N, D); zn (N) = ||z_j||^2.
 * Callers centre q and z (subtract one common mean) to limit cancellation. */
void ima_sqdist_block(float *out, const float *q, const float *qn, const float *z, const float *zn, size_t B, size_t N,
                      size_t D);
/* ||a - b||^2 of two rows (D), accumulated in double from the original values: the one exact distance
 * of the k-NN, the vantage-point tree and trustworthiness. */
double ima_sqdist_exact(const float *a, const float *b, size_t D);

/* Exact K nearest neighbours by Euclidean distance. The sample itself is never its own neighbour;
 * ties are broken by the smaller index, so the answer is deterministic.
 *   nbr (Q, K): neighbour indices, nearest first, one row per query in index order;
 *   dist (Q, K) or NULL: their squared distances (re-measured exactly in double, stored as float);
 *   z (N, D); query_mask (N) or NULL (every sample is a query);
 *   group (N) or NULL: when given, samples sharing the query's group id are not neighbours.
 * Candidates come from GEMM distances (ima_sqdist_block) of blocks of at most 256 queries, so
 * memory is O(256 N), not O(N^2); the final order uses exact double distances.
 * Fails (naming the query) when a query has fewer than K eligible neighbours. *n_queries gets Q. */
int ima_knn(size_t *nbr, float *dist, size_t *n_queries, const float *z, const uint8_t *query_mask,
            const int64_t *group, size_t N, size_t D, size_t K);

/* ---- Precision@K (SPEC 5, paper section 5.4) --------------------------------------------- */

/* For each K in ks: P@K = (sum over queries of neighbours with the query's label) / (Q K).
 * Neighbours are drawn from all N samples; only the queries are restricted by query_mask.
 * prec (n_k); hits (n_k) or NULL: the numerators; z (N, D); labels (N); ks (n_k), each >= 1.
 * group: as ima_knn (SPEC 8: exclude pairs sharing a recording). Q = 0 is an error. */
int ima_precision_at_k(double *prec, size_t *hits, size_t *n_queries, const float *z, const int64_t *labels,
                       const uint8_t *query_mask, const int64_t *group, const size_t *ks, size_t n_k, size_t N,
                       size_t D);

/* ---- downstream classification (paper appendix A.5, Table 3) ------------------------------ */

#define IMA_CLF_MAX_LRS 16

typedef struct {
    size_t hidden;               // units per hidden layer (paper Table 3: 50)
    int n_hidden_layers;         // hidden ReLU layers (paper: 2), 1..6
    size_t epochs;               // passes over the training split per learning rate (default 30)
    size_t batch;                // minibatch rows (default 64)
    size_t n_lrs;                // number of candidate learning rates, 1..IMA_CLF_MAX_LRS
    double lrs[IMA_CLF_MAX_LRS]; // candidates (default the paper's {0.0625, 0.125, ..., 8})
    int standardize;             // 1: z-score inputs with the training mean and sd (default 1)
    uint64_t seed;               // initialisation and shuffling (same seed for every candidate)
} ima_classifier_config;

ima_classifier_config ima_classifier_defaults(void);

/* What model selection saw: one entry per candidate learning rate. */
typedef struct {
    size_t n_lrs;
    double lrs[IMA_CLF_MAX_LRS];        // the candidates, as configured
    double valid_acc[IMA_CLF_MAX_LRS];  // validation accuracy after the last epoch (0 if diverged)
    double train_loss[IMA_CLF_MAX_LRS]; // mean cross-entropy of the last epoch (inf if diverged)
    int diverged[IMA_CLF_MAX_LRS];      // 1 if the loss became non-finite (training stopped)
    size_t chosen;                      // index of the chosen rate: best validation accuracy,
                                        // ties to the smaller rate
    size_t n_classes;                   // C = 1 + the largest training label
} ima_classifier_report;

typedef struct ima_classifier ima_classifier; /* opaque: the trained MLP and its input scaling */

/* Trains one MLP per candidate learning rate on (train_x, train_y) with plain minibatch SGD on the
 * mean softmax cross-entropy, keeps the one with the best validation accuracy. Labels must be in
 * [0, C); validation labels >= C are an error. rep may be NULL. */
int ima_classifier_fit(ima_classifier **out, ima_classifier_report *rep, const ima_classifier_config *cfg,
                       const float *train_x, const int64_t *train_y, size_t n_train, const float *valid_x,
                       const int64_t *valid_y, size_t n_valid, size_t D);
/* pred (N) = argmax of the logits (ties to the smaller class); x (N, D). Fails (an error naming
 * the size) only when memory for a 256-row batch of activations runs out. */
int ima_classifier_predict(const ima_classifier *clf, int64_t *pred, const float *x, size_t N);
size_t ima_classifier_input_width(const ima_classifier *clf);
void ima_classifier_free(ima_classifier *clf); /* NULL is fine */

/* Fraction of selected samples (mask NULL: all) with pred == labels; *n_used gets the count
 * (0 selected gives 0.0; check n_used). */
double ima_accuracy(const int64_t *pred, const int64_t *labels, const uint8_t *mask, size_t N, size_t *n_used);

/* ---- importance detection (SPEC 5 and 8) -------------------------------------------------- */

/* Confusion counts and scores of the positive class "noise". Precision with no predicted positive
 * is 0, recall with no noise sample is 0, F1 is 0 when precision + recall = 0. */
typedef struct {
    size_t tp, fp, fn, tn;
    double precision, recall, f1;
} ima_detect_scores;

typedef struct {
    size_t n, n_noise;              // samples evaluated (after the mask) and how many are noise
    double mean_y;                  // mean importance over them
    double threshold;               // as given: a sample is called noise when y < threshold
    ima_detect_scores at_threshold; // scores at that threshold
    int ranked;                     // 1 when both classes occur, so auc and best_* are defined
    double auc;                     // P(y_noise < y_clean) + 0.5 P(equal) over noise x clean pairs
    double best_f1;                 // the largest F1 over every threshold
    double best_threshold;          // the smallest threshold reaching it (midpoint between values)
} ima_detection;

/* y (N) importances; noise (N) ground-truth flags; mask (N) or NULL selects the samples.
 * Fails when y holds a non-finite value or nothing is selected. */
int ima_detection_eval(ima_detection *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                       double threshold);
/* The same counts for one threshold (no ranking), used by the sweep over rho. */
void ima_detect_at(ima_detect_scores *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                   double threshold);

#endif
