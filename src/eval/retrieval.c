/* retrieval.c: exact nearest neighbours through GEMM, and Precision@K (paper section 5.4).
 *
 * Dimensions: N samples, D width, K neighbours, Q queries, B queries in one block.
 *
 * Distances: ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, with the a.b terms of a block of B queries
 * against all N samples from one cblas_sgemm. The data are centred first (one common mean,
 * which leaves distances unchanged) so that the norms, and the cancellation, stay small.
 * Each query keeps its K best (distance, index) pairs in a max-heap: O(N log K) per query; then
 * every sample within float rounding of the K-th is re-measured exactly in double and sorted by
 * (distance, index), so exact ties go to the smaller index whatever the rounding did. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "eval/kbest.h"

#include "ima/common.h"
#include "ima/eval.h"

#define KNN_BLOCK 256 /* queries per GEMM block: 256 x N floats of distances */

/* ---- distance kernel ---------------------------------------------------------------- */

void ima_sqdist_block(float *out, const float *q, const float *qn, const float *z, const float *zn, size_t B, size_t N,
                      size_t D) {
    // out (B, N) = -2 q (B, D) z^T (D, N)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)N, (int)D, -2.0f, q, (int)D, z, (int)D, 0.0f, out,
                (int)N);
    for (size_t b = 0; b < B; b++) {
        float *row = out + b * N;
        for (size_t j = 0; j < N; j++) {
            float d = row[j] + qn[b] + zn[j];
            row[j] = d > 0.0f ? d : 0.0f;
        }
    }
}

/* ---- exact refinement ---------------------------------------------------------------- */

/* GEMM distances carry float rounding (relative to the norms); every sample whose GEMM distance
 * is within this margin of the K-th is re-measured exactly, so ties and near-ties are ordered by
 * the true distance and then by index. */
#define REFINE_REL 1e-5

static int cmp_dcand(const void *a, const void *b) {
    const ima_kbest_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

double ima_sqdist_exact(const float *a, const float *b, size_t D) {
    double s = 0.0;
    for (size_t d = 0; d < D; d++) {
        double t = (double)a[d] - (double)b[d];
        s += t * t;
    }
    return s;
}

/* ---- exact K nearest neighbours --------------------------------------------------- */

int ima_knn(size_t *nbr, float *dist, size_t *n_queries, const float *z, const uint8_t *query_mask,
            const int64_t *group, size_t N, size_t D, size_t K) {
    if (N == 0 || D == 0) return ima_error("%s: empty input (N=%zu, D=%zu)", __func__, N, D);
    if (K == 0) return ima_error("%s: K must be at least 1", __func__);
    if (K > N - 1)
        return ima_error("%s: K=%zu neighbours asked for but only N-1=%zu other samples exist", __func__, K, N - 1);
    if (N > INT_MAX || D > INT_MAX) return ima_error("%s: N=%zu or D=%zu too large for BLAS", __func__, N, D);
    size_t nd, bn;
    if (ima_mul_overflows(N, D, &nd) || ima_mul_overflows(N, KNN_BLOCK, &bn)) return ima_error_prefix("%s", __func__);

    // every buffer first: sizes the caller chose fail with an error naming the size, never an abort
    double *mean = ima_try_calloc(D, sizeof *mean);
    float *zc = ima_try_malloc(nd, sizeof *zc), *zn = ima_try_malloc(N, sizeof *zn);
    size_t *qidx = ima_try_malloc(N, sizeof *qidx);        // (Q) indices of the queries
    float *qb = ima_try_malloc(KNN_BLOCK * D, sizeof *qb); // (B, D) gathered queries
    float *qn = ima_try_malloc(KNN_BLOCK, sizeof *qn);     // (B)
    float *dd = ima_try_malloc(bn, sizeof *dd);            // (B, N) distances
    ima_kbest_pair *heap = ima_try_malloc(K, sizeof *heap);
    ima_kbest_pair *cands = ima_try_malloc(N, sizeof *cands); // (<= N) refined candidates of one query
    if (!mean || !zc || !zn || !qidx || !qb || !qn || !dd || !heap || !cands) {
        free(mean), free(zc), free(zn), free(qidx), free(qb), free(qn), free(dd), free(heap), free(cands);
        return ima_error_prefix("%s", __func__);
    }
    // centred copy zc (N, D) and its squared norms zn (N)
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++) mean[d] += z[i * D + d];
    for (size_t d = 0; d < D; d++) mean[d] /= (double)N;
    double zn_max = 0.0;
    for (size_t i = 0; i < N; i++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++) {
            float v = (float)((double)z[i * D + d] - mean[d]);
            zc[i * D + d] = v;
            s += (double)v * v;
        }
        zn[i] = (float)s;
        zn_max = s > zn_max ? s : zn_max;
    }
    free(mean);

    size_t Q = 0;
    for (size_t i = 0; i < N; i++)
        if (!query_mask || query_mask[i]) qidx[Q++] = i;

    int rc = IMA_OK;

    for (size_t q0 = 0; q0 < Q && rc == IMA_OK; q0 += KNN_BLOCK) {
        size_t B = Q - q0 < KNN_BLOCK ? Q - q0 : KNN_BLOCK;
        for (size_t b = 0; b < B; b++) {
            memcpy(qb + b * D, zc + qidx[q0 + b] * D, D * sizeof *qb);
            qn[b] = zn[qidx[q0 + b]];
        }
        ima_sqdist_block(dd, qb, qn, zc, zn, B, N, D);
        for (size_t b = 0; b < B; b++) {
            size_t qi = qidx[q0 + b];
            const float *row = dd + b * N;
            // pass 1: the K-th smallest GEMM distance
            size_t n = 0;
            for (size_t j = 0; j < N; j++) {
                if (j == qi || (group && group[j] == group[qi])) continue;
                ima_kbest_offer(heap, &n, K, (ima_kbest_pair){row[j], j});
            }
            if (n < K) {
                rc = ima_error("%s: query %zu has only %zu eligible neighbours (K=%zu)%s", __func__, qi, n, K,
                               group ? "; the group exclusion leaves too few samples" : "");
                break;
            }
            // pass 2: every sample within rounding of it, re-measured exactly in double
            double tau = heap[0].d + REFINE_REL * ((double)heap[0].d + (double)qn[b] + zn_max);
            size_t m = 0;
            for (size_t j = 0; j < N; j++) {
                if (j == qi || (group && group[j] == group[qi]) || (double)row[j] > tau) continue;
                cands[m++] = (ima_kbest_pair){ima_sqdist_exact(z + qi * D, z + j * D, D), j};
            }
            IMA_ASSERT(m >= K);
            qsort(cands, m, sizeof *cands, cmp_dcand);
            for (size_t k = 0; k < K; k++) {
                nbr[(q0 + b) * K + k] = cands[k].i;
                if (dist) dist[(q0 + b) * K + k] = (float)cands[k].d;
            }
        }
    }
    if (n_queries) *n_queries = Q;
    free(zc);
    free(zn);
    free(qidx);
    free(qb);
    free(qn);
    free(dd);
    free(heap);
    free(cands);
    return rc;
}

/* ---- Precision@K ------------------------------------------------------------------ */

int ima_precision_at_k(double *prec, size_t *hits, size_t *n_queries, const float *z, const int64_t *labels,
                       const uint8_t *query_mask, const int64_t *group, const size_t *ks, size_t n_k, size_t N,
                       size_t D) {
    if (n_k == 0) return ima_error("%s: no K given", __func__);
    size_t kmax = 0;
    for (size_t t = 0; t < n_k; t++) {
        if (ks[t] == 0) return ima_error("%s: K must be at least 1", __func__);
        if (ks[t] > kmax) kmax = ks[t];
    }
    size_t Q = 0;
    for (size_t i = 0; i < N; i++) Q += !query_mask || query_mask[i];
    if (Q == 0) return ima_error("%s: the query mask selects no sample", __func__);
    size_t qk;
    if (ima_mul_overflows(Q, kmax, &qk)) return ima_error_prefix("%s", __func__);

    size_t *nbr = ima_try_malloc(qk, sizeof *nbr); // (Q, kmax)
    size_t *h = ima_try_calloc(n_k, sizeof *h);
    if (!nbr || !h) {
        free(nbr), free(h);
        return ima_error_prefix("%s", __func__);
    }
    if (ima_knn(nbr, NULL, NULL, z, query_mask, group, N, D, kmax)) {
        free(nbr), free(h);
        return ima_error_prefix("%s", __func__);
    }
    size_t q = 0;
    for (size_t i = 0; i < N; i++) {
        if (query_mask && !query_mask[i]) continue;
        for (size_t t = 0; t < n_k; t++)
            for (size_t k = 0; k < ks[t]; k++) h[t] += labels[nbr[q * kmax + k]] == labels[i];
        q++;
    }
    for (size_t t = 0; t < n_k; t++) {
        prec[t] = (double)h[t] / ((double)Q * (double)ks[t]);
        if (hits) hits[t] = h[t];
    }
    if (n_queries) *n_queries = Q;
    free(h);
    free(nbr);
    return IMA_OK;
}
