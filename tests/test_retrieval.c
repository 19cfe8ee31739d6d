/* test_retrieval.c: GEMM nearest neighbours and Precision@K against a brute-force O(N^2) loop
 * (integer data with many exact ties, Gaussian data, several query blocks, masks, groups), and
 * hand-made cases whose answers are worked out in the comments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/rng.h"
#include "testutil.h"

/* ---- the brute-force reference ------------------------------------------------------- */

typedef struct {
    double d;
    size_t i;
} ref_pair;

static int cmp_ref(const void *a, const void *b) {
    const ref_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* nbr (Q, K) by sorting every distance (double, direct differences) */
static size_t brute_knn(size_t *nbr, const float *z, const uint8_t *mask, const int64_t *group, size_t N, size_t D,
                        size_t K) {
    ref_pair *all = malloc(N * sizeof *all);
    size_t q = 0;
    for (size_t i = 0; i < N; i++) {
        if (mask && !mask[i]) continue;
        size_t n = 0;
        for (size_t j = 0; j < N; j++) {
            if (j == i || (group && group[j] == group[i])) continue;
            double s = 0.0;
            for (size_t d = 0; d < D; d++) {
                double t = (double)z[i * D + d] - (double)z[j * D + d];
                s += t * t;
            }
            all[n++] = (ref_pair){s, j};
        }
        qsort(all, n, sizeof *all, cmp_ref);
        for (size_t k = 0; k < K; k++) nbr[q * K + k] = all[k].i;
        q++;
    }
    free(all);
    return q;
}

static void compare_with_brute(const char *what, const float *z, const int64_t *labels, const uint8_t *mask,
                               const int64_t *group, size_t N, size_t D, size_t K) {
    size_t *a = malloc(N * K * sizeof *a), *b = malloc(N * K * sizeof *b);
    size_t qa = 0;
    int rc = ima_knn(a, NULL, &qa, z, mask, group, N, D, K);
    CHECK(rc == IMA_OK, "%s: %s", what, ima_last_error());
    size_t qb = brute_knn(b, z, mask, group, N, D, K);
    CHECK(qa == qb, "%s: %zu queries vs %zu", what, qa, qb);
    size_t diff = 0;
    for (size_t t = 0; t < qb * K; t++) diff += a[t] != b[t];
    CHECK(diff == 0, "%s: %zu of %zu neighbours differ from brute force", what, diff, qb * K);
    // P@K from the brute-force lists
    size_t ks[2] = {1, K};
    double prec[2];
    size_t hits[2], nq;
    CHECK(ima_precision_at_k(prec, hits, &nq, z, labels, mask, group, ks, 2, N, D) == IMA_OK, "%s", ima_last_error());
    for (int t = 0; t < 2; t++) {
        size_t h = 0, q = 0;
        for (size_t i = 0; i < N; i++) {
            if (mask && !mask[i]) continue;
            for (size_t k = 0; k < ks[t]; k++) h += labels[b[q * K + k]] == labels[i];
            q++;
        }
        CHECK(hits[t] == h, "%s: P@%zu hits %zu, brute force %zu", what, ks[t], hits[t], h);
        CHECK(fabs(prec[t] - (double)h / ((double)qb * (double)ks[t])) < 1e-15, "%s: P@%zu = %g", what, ks[t], prec[t]);
    }
    free(a), free(b);
}

static void test_against_brute_force(void) {
    ima_rng rng;
    ima_rng_init(&rng, 42);
    size_t N = 700, D = 6, K = 15; // 700 queries: three GEMM blocks
    float *zi = malloc(N * D * sizeof *zi), *zg = malloc(N * D * sizeof *zg);
    int64_t *labels = malloc(N * sizeof *labels), *group = malloc(N * sizeof *group);
    uint8_t *mask = malloc(N);
    for (size_t t = 0; t < N * D; t++) {
        zi[t] = (float)ima_rng_below(&rng, 4) - 1.5f;        // few values: many exact ties
        zg[t] = (float)(3.0 * ima_rng_normal(&rng) + 100.0); // far from the origin: tests centring
    }
    for (size_t i = 0; i < N; i++) {
        labels[i] = (int64_t)ima_rng_below(&rng, 10);
        group[i] = (int64_t)(i / 20); // 20 samples per "recording"
        mask[i] = ima_rng_below(&rng, 3) == 0;
    }
    compare_with_brute("integer data", zi, labels, NULL, NULL, N, D, K);
    compare_with_brute("integer data, mask", zi, labels, mask, NULL, N, D, K);
    compare_with_brute("integer data, groups", zi, labels, NULL, group, N, D, K);
    compare_with_brute("gaussian data", zg, labels, NULL, NULL, N, D, K);
    compare_with_brute("gaussian data, mask and groups", zg, labels, mask, group, N, D, K);
    // all samples identical: every distance ties, neighbours are the smallest other indices
    float *same = calloc(50 * 3, sizeof *same);
    size_t nbr[50 * 4];
    CHECK(ima_knn(nbr, NULL, NULL, same, NULL, NULL, 50, 3, 4) == IMA_OK, "%s", ima_last_error());
    CHECK(nbr[0] == 1 && nbr[3] == 4 && nbr[4 * 7 + 0] == 0 && nbr[4 * 7 + 3] == 3 && nbr[4 * 49 + 3] == 3,
          "identical points: neighbours of 0 are 1..4 (got %zu..%zu), of 7 are 0..3", nbr[0], nbr[3]);
    free(same), free(zi), free(zg), free(labels), free(group), free(mask);
}

static void test_hand_made(void) {
    // 1-D points 0 1 2 | 10 11 12, labels 0 0 0 | 1 1 1
    float z[6] = {0, 1, 2, 10, 11, 12};
    int64_t lab[6] = {0, 0, 0, 1, 1, 1};
    size_t ks[3] = {1, 2, 3}, hits[3], nq;
    double p[3];
    CHECK(ima_precision_at_k(p, hits, &nq, z, lab, NULL, NULL, ks, 3, 6, 1) == IMA_OK, "%s", ima_last_error());
    // K = 3: each point's third neighbour is in the other cluster -> 2/3
    CHECK(nq == 6 && p[0] == 1.0 && p[1] == 1.0 && fabs(p[2] - 2.0 / 3.0) < 1e-15, "P@1,2,3 = %g %g %g", p[0], p[1],
          p[2]);
    // tie: point 1's nearest are 0 and 2 (both at 1): the smaller index, 0, comes first
    size_t nbr[6 * 2];
    float dist[6 * 2];
    CHECK(ima_knn(nbr, dist, NULL, z, NULL, NULL, 6, 1, 2) == IMA_OK, "%s", ima_last_error());
    CHECK(nbr[2] == 0 && nbr[3] == 2 && dist[2] == 1.0f && dist[3] == 1.0f, "point 1: %zu %zu", nbr[2], nbr[3]);
    // groups {0,0,1,1,2,2}, K = 2: neighbours 0->{2,10} 1->{2,10} 2->{1,0} 10->{11,12} 11->{10,2} 12->{10,2}
    // hits 1 1 2 2 1 1 = 8 of 12
    int64_t grp[6] = {0, 0, 1, 1, 2, 2};
    CHECK(ima_precision_at_k(p, hits, &nq, z, lab, NULL, grp, ks + 1, 1, 6, 1) == IMA_OK, "%s", ima_last_error());
    CHECK(hits[0] == 8 && fabs(p[0] - 8.0 / 12.0) < 1e-15, "groups: hits %zu, P@2 %g", hits[0], p[0]);
    // query mask {0, 2}: without groups 4 of 4; with groups 1 + 2 = 3 of 4
    uint8_t m[6] = {1, 0, 1, 0, 0, 0};
    CHECK(ima_precision_at_k(p, hits, &nq, z, lab, m, NULL, ks + 1, 1, 6, 1) == IMA_OK, "%s", ima_last_error());
    CHECK(nq == 2 && p[0] == 1.0, "mask: %zu queries, P@2 %g", nq, p[0]);
    CHECK(ima_precision_at_k(p, hits, &nq, z, lab, m, grp, ks + 1, 1, 6, 1) == IMA_OK, "%s", ima_last_error());
    CHECK(nq == 2 && p[0] == 0.75, "mask and groups: P@2 %g, expected 0.75", p[0]);
    // the other samples stay candidate neighbours: querying only point 3 (10) with K = 3 -> 11, 12, 2
    uint8_t m3[6] = {0, 0, 0, 1, 0, 0};
    CHECK(ima_precision_at_k(p, hits, &nq, z, lab, m3, NULL, ks + 2, 1, 6, 1) == IMA_OK, "%s", ima_last_error());
    CHECK(hits[0] == 2, "point 10, K = 3: %zu hits, expected 2", hits[0]);
}

static void test_errors(void) {
    float z[6] = {0, 1, 2, 10, 11, 12};
    int64_t lab[6] = {0, 0, 0, 1, 1, 1};
    size_t k6 = 6, k0 = 0, k3 = 3;
    double p;
    uint8_t none[6] = {0};
    int64_t grp[6] = {0, 0, 0, 0, 1, 1};
    CHECK(ima_precision_at_k(&p, NULL, NULL, z, lab, NULL, NULL, &k6, 1, 6, 1) == IMA_ERR, "K = N accepted");
    CHECK(ima_precision_at_k(&p, NULL, NULL, z, lab, NULL, NULL, &k0, 1, 6, 1) == IMA_ERR, "K = 0 accepted");
    CHECK(ima_precision_at_k(&p, NULL, NULL, z, lab, none, NULL, &k3, 1, 6, 1) == IMA_ERR, "empty mask accepted");
    CHECK(ima_precision_at_k(&p, NULL, NULL, z, lab, NULL, grp, &k3, 1, 6, 1) == IMA_ERR,
          "group leaving 2 candidates for K = 3 accepted");
    CHECK(strstr(ima_last_error(), "group") != NULL, "message should mention the group: %s", ima_last_error());
}

int main(void) {
    test_hand_made();
    test_against_brute_force();
    test_errors();
    return tu_finish("test_retrieval");
}
