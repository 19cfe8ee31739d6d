/* tsne.h: t-SNE maps (van der Maaten & Hinton 2008; Barnes-Hut: van der Maaten 2014), their
 * KL divergence, and the trustworthiness of a map (Venna & Kaski 2001).
 *
 * Dimensions: N points, D input width, E map width (2 for Barnes-Hut), K neighbours per point
 * in the sparse affinities (3 x perplexity), k neighbours for trustworthiness.
 *
 * Pipeline (Barnes-Hut): exact K nearest neighbours from a vantage-point tree -> per point a
 * binary search of the Gaussian precision so that the conditional distribution over the K
 * neighbours has the requested perplexity -> symmetrised joint P = (P + P^T) / sum -> gradient
 * descent on KL(P || Q), attraction over the sparse P, repulsion from a quadtree whose cells of
 * width w seen at distance r are summarised when w / r < theta. Exact mode: every other point is
 * a neighbour, and the repulsion is summed over all pairs (O(N^2): for small N and for tests). */
#ifndef IMA_TSNE_H
#define IMA_TSNE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IMA_TSNE_BARNES_HUT = 0, // sparse P (3 x perplexity neighbours), quadtree repulsion; E = 2
    IMA_TSNE_EXACT = 1,      // dense P, all-pairs repulsion; E = 1..3
} ima_tsne_method;

typedef struct {
    ima_tsne_method method;
    int out_dim;           // E, map width (2)
    double perplexity;     // effective number of neighbours (paper: 10)
    double theta;          // Barnes-Hut accuracy (paper's "delta": 0.5); 0 gives the exact sum
    int n_iter;            // gradient-descent iterations in all (1000)
    int exaggeration_iter; // iterations with P multiplied by exaggeration (250)
    double exaggeration;   // early exaggeration (12)
    double learning_rate;  // step size (200)
    double momentum_early; // momentum during the exaggeration phase (0.5)
    double momentum_late;  // momentum afterwards (0.8)
    double min_gain;       // floor of the adaptive per-coordinate gains (0.01)
    uint64_t seed;         // initial map ~ N(0, 1e-4^2 I) and the vantage-point choices
    // optional progress report, called every 50 iterations and at the end (may be NULL)
    void (*progress)(void *ctx, int iter, int n_iter);
    void *progress_ctx;
} ima_tsne_config;

ima_tsne_config ima_tsne_defaults(void);

typedef struct {
    double kl;          // KL(P || Q) of the final map, with the exact Q (all pairs)
    size_t n_neighbors; // K, neighbours per point in the conditional affinities
    size_t nnz;         // non-zeros of the symmetrised P
} ima_tsne_result;

/* Y (N, E) the map; X (N, D). res may be NULL. Deterministic for a given seed. */
int ima_tsne_run(float *Y, ima_tsne_result *res, const float *X, size_t N, size_t D, const ima_tsne_config *cfg);

/* ---- the pieces, exposed for tests and reuse ------------------------------------------ */

/* Symmetric sparse matrix in CSR form (rows sorted by column). */
typedef struct {
    size_t n;        // rows
    size_t nnz;      // stored entries
    size_t *row_ptr; // (n + 1)
    size_t *col;     // (nnz)
    double *val;     // (nnz)
} ima_sparse;

void ima_sparse_free(ima_sparse *m); /* safe on a zeroed struct */

/* Exact K nearest neighbours (self excluded, ties to the smaller index) from a vantage-point
 * tree. nbr (N, K); dist (N, K) Euclidean distances (not squared), nearest first. */
int ima_vptree_knn(size_t *nbr, double *dist, const float *X, size_t N, size_t D, size_t K, uint64_t seed);

/* Conditional affinities: for each row i, p (N, K) = exp(-beta_i d2) / sum, beta_i found by
 * bisection so that the entropy (natural log) is log(perplexity) within 1e-5, at most 200 steps.
 * d2 (N, K) squared distances. Fails if perplexity is not in (0, K]. */
int ima_tsne_calibrate(double *p, const double *d2, size_t N, size_t K, double perplexity);

/* Joint P (sums to 1, symmetric) from the K = 3 x perplexity nearest neighbours (Barnes-Hut), or
 * from all N - 1 others when K >= N - 1 or exact is set. */
int ima_tsne_affinities(ima_sparse *P, const float *X, size_t N, size_t D, double perplexity, int exact, uint64_t seed);

/* Gradient of exaggeration * KL(P || Q) w.r.t. Y (the exaggeration scales P only):
 *   grad_i = 4 sum_j (exag p_ij - q_ij) (1 + |y_i - y_j|^2)^-1 (y_i - y_j).
 * grad, Y (N, E). theta > 0 (E = 2 only): quadtree repulsion; theta = 0: all pairs. Fails on a
 * width other than 1..3 (2 with theta > 0) or when memory runs out. */
int ima_tsne_gradient(double *grad, const ima_sparse *P, const double *Y, size_t N, size_t E, double theta,
                      double exaggeration);

/* KL(P || Q) = sum_{p_ij > 0} p_ij log(p_ij / q_ij), with q_ij = (1+d_ij^2)^-1 / sum_{k != l} (1+d_kl^2)^-1. */
double ima_tsne_kl(const ima_sparse *P, const double *Y, size_t N, size_t E);

/* Trustworthiness of a map (as scikit-learn's sklearn.manifold.trustworthiness, Euclidean):
 *   T(k) = 1 - 2 / (N k (2N - 3k - 1)) sum_i sum_{j in U_i} (r(i, j) - k)
 * where U_i are the k map-neighbours of i that are not among its k input-space neighbours, and
 * r(i, j) >= 1 is the rank of j among i's input-space neighbours (ties to the smaller index).
 * X (N, D), Y (N, E). Requires 1 <= k < N / 2. */
int ima_trustworthiness(double *out, const float *X, size_t D, const float *Y, size_t E, size_t N, size_t k);

#endif
