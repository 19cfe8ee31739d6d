/* test_tsne.c: t-SNE pieces against references, and the whole map against scikit-learn.
 *
 *  - vantage-point-tree neighbours == GEMM neighbours (ima_knn), ties included;
 *  - perplexity calibration reaches entropy log(perplexity) on every row;
 *  - P is symmetric, non-negative and sums to 1;
 *  - the exact gradient matches finite differences of ima_tsne_kl; Barnes-Hut with theta = 0
 *    equals it, with theta = 0.5 stays close;
 *  - trustworthiness on hand-made maps, and on scikit-learn's own map == sklearn's value;
 *  - the map of tests/data/tsne_input.npy: KL and trustworthiness near scikit-learn's
 *    (tests/data/tsne_golden.json, written by tools/tsne_golden.py); same seed -> same bits. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/npy.h"
#include "ima/rng.h"
#include "ima/tsne.h"
#include "testutil.h"

static float *random_points(size_t N, size_t D, uint64_t seed, int integer) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    float *x = malloc(N * D * sizeof *x);
    for (size_t t = 0; t < N * D; t++) x[t] = integer ? (float)ima_rng_below(&rng, 5) : (float)ima_rng_normal(&rng);
    return x;
}

static void test_vptree(void) {
    for (int integer = 0; integer <= 1; integer++) {
        size_t N = 300, D = 4, K = 12;
        float *x = random_points(N, D, 7 + integer, integer);
        size_t *a = malloc(N * K * sizeof *a), *b = malloc(N * K * sizeof *b);
        double *da = malloc(N * K * sizeof *da);
        float *db = malloc(N * K * sizeof *db);
        CHECK(ima_vptree_knn(a, da, x, N, D, K, 3) == IMA_OK, "%s", ima_last_error());
        CHECK(ima_knn(b, db, NULL, x, NULL, NULL, N, D, K) == IMA_OK, "%s", ima_last_error());
        size_t diff = 0;
        double worst = 0.0;
        for (size_t t = 0; t < N * K; t++) {
            diff += a[t] != b[t];
            worst = fmax(worst, fabs(da[t] * da[t] - db[t]));
        }
        CHECK(diff == 0, "%s data: %zu of %zu neighbours differ between the VP tree and GEMM",
              integer ? "integer (ties)" : "gaussian", diff, N * K);
        CHECK(worst < 1e-4, "squared distances differ by %g", worst);
        free(x), free(a), free(b), free(da), free(db);
    }
}

static void test_calibrate(void) {
    size_t N = 50, K = 30;
    ima_rng rng;
    ima_rng_init(&rng, 11);
    double *d2 = malloc(N * K * sizeof *d2), *p = malloc(N * K * sizeof *p);
    for (size_t t = 0; t < N * K; t++) d2[t] = 100.0 * ima_rng_uniform(&rng) * (1 + t % 7);
    CHECK(ima_tsne_calibrate(p, d2, N, K, 10.0) == IMA_OK, "%s", ima_last_error());
    double worst = 0.0, worst_sum = 0.0;
    for (size_t i = 0; i < N; i++) {
        double H = 0.0, s = 0.0;
        for (size_t j = 0; j < K; j++) {
            s += p[i * K + j];
            if (p[i * K + j] > 0) H -= p[i * K + j] * log(p[i * K + j]);
        }
        worst = fmax(worst, fabs(H - log(10.0)));
        worst_sum = fmax(worst_sum, fabs(s - 1.0));
    }
    CHECK(worst < 1e-4, "entropy misses log(10) by %g", worst);
    CHECK(worst_sum < 1e-12, "rows sum to 1 within %g", worst_sum);
    CHECK(ima_tsne_calibrate(p, d2, N, K, 31.0) == IMA_ERR, "perplexity above K must be refused");
    free(d2), free(p);
}

static void test_affinities_and_gradient(void) {
    size_t N = 60, D = 5, E = 2;
    float *x = random_points(N, D, 5, 0);
    ima_sparse P;
    CHECK(ima_tsne_affinities(&P, x, N, D, 5.0, 0, 1) == IMA_OK, "%s", ima_last_error());
    double total = 0.0, asym = 0.0;
    int neg = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t t = P.row_ptr[i]; t < P.row_ptr[i + 1]; t++) {
            size_t j = P.col[t];
            total += P.val[t];
            neg += P.val[t] < 0.0 || j == i;
            double back = -1.0; // find P[j][i]
            for (size_t u = P.row_ptr[j]; u < P.row_ptr[j + 1]; u++)
                if (P.col[u] == i) back = P.val[u];
            asym = fmax(asym, fabs(back - P.val[t]));
        }
    CHECK(fabs(total - 1.0) < 1e-12, "P sums to %.15f", total);
    CHECK(asym < 1e-15, "P is not symmetric (%g)", asym);
    CHECK(neg == 0, "%d negative or diagonal entries", neg);
    CHECK(P.nnz >= N * 15 && P.nnz <= N * 30, "nnz %zu outside [15N, 30N]", P.nnz);

    // exact gradient against central differences of KL
    ima_rng rng;
    ima_rng_init(&rng, 9);
    double *Y = malloc(N * E * sizeof *Y), *g = malloc(N * E * sizeof *g), *g0 = malloc(N * E * sizeof *g0);
    for (size_t t = 0; t < N * E; t++) Y[t] = 2.0 * ima_rng_normal(&rng);
    CHECK(ima_tsne_gradient(g, &P, Y, N, E, 0.0, 1.0) == IMA_OK, "%s", ima_last_error());
    double gnorm = 0.0, worst = 0.0;
    for (size_t t = 0; t < N * E; t++) gnorm = fmax(gnorm, fabs(g[t]));
    for (size_t t = 0; t < N * E; t++) {
        double keep = Y[t], h = 1e-5;
        Y[t] = keep + h;
        double lp = ima_tsne_kl(&P, Y, N, E);
        Y[t] = keep - h;
        double lm = ima_tsne_kl(&P, Y, N, E);
        Y[t] = keep;
        worst = fmax(worst, fabs((lp - lm) / (2 * h) - g[t]));
    }
    CHECK(gnorm > 1e-4, "gradient is all ~zero (%g): the check would be vacuous", gnorm);
    CHECK(worst / gnorm < 1e-5, "finite differences differ by %g (relative to max |g| %g)", worst / gnorm, gnorm);

    // Barnes-Hut: theta = 0 opens every cell (exact); theta = 0.5 approximates
    memcpy(g0, g, N * E * sizeof *g);
    // exaggeration scales the attraction only: check against 3x
    double *g3 = malloc(N * E * sizeof *g3);
    CHECK(ima_tsne_gradient(g3, &P, Y, N, E, 0.0, 3.0) == IMA_OK, "%s", ima_last_error());
    double *gb = malloc(N * E * sizeof *gb);
    CHECK(ima_tsne_gradient(gb, &P, Y, N, E, 1e-12, 1.0) == IMA_OK, "%s", ima_last_error());
    double d0 = 0.0;
    for (size_t t = 0; t < N * E; t++) d0 = fmax(d0, fabs(gb[t] - g0[t]));
    CHECK(d0 / gnorm < 1e-10, "quadtree with theta ~0 differs from all pairs by %g", d0 / gnorm);
    CHECK(ima_tsne_gradient(gb, &P, Y, N, E, 0.5, 1.0) == IMA_OK, "%s", ima_last_error());
    double num = 0.0, den = 0.0;
    for (size_t t = 0; t < N * E; t++) {
        num += (gb[t] - g0[t]) * (gb[t] - g0[t]);
        den += g0[t] * g0[t];
    }
    CHECK(sqrt(num / den) < 0.05, "Barnes-Hut theta 0.5 relative gradient error %g", sqrt(num / den));
    CHECK(sqrt(num / den) > 0.0, "theta 0.5 should approximate, not equal, the exact gradient");
    // exaggeration: g3 - g0 = 2 * attraction, which is nonzero
    double dex = 0.0;
    for (size_t t = 0; t < N * E; t++) dex = fmax(dex, fabs(g3[t] - g0[t]));
    CHECK(dex > 1e-6, "exaggeration changed nothing");
    free(Y), free(g), free(g0), free(g3), free(gb), free(x);
    ima_sparse_free(&P);
}

static void test_trustworthiness_hand(void) {
    // points on a line: the identity map is perfectly trustworthy; a scrambled one is not
    size_t N = 40;
    float *x = malloc(N * sizeof *x), *y = malloc(N * 2 * sizeof *y);
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)(i * i) * 0.1f;
        y[2 * i] = x[i];
        y[2 * i + 1] = 0.0f;
    }
    double t;
    CHECK(ima_trustworthiness(&t, x, 1, y, 2, N, 5) == IMA_OK, "%s", ima_last_error());
    CHECK(fabs(t - 1.0) < 1e-12, "identity map: T = %.15f, expected 1", t);
    // six points on a line 0..5, k = 2; the map moves point 0 to 5 and point 5 to 0.
    // Map neighbours and their input-space ranks r (penalty r - 2 when r > 2):
    //   0 -> {4, 3}: r 4, 3 -> 3     1 -> {2, 5}: r 2, 5 -> 3     2 -> {1, 3}: r 1, 2 -> 0
    //   3 -> {2, 4}: r 1, 2 -> 0     4 -> {3, 0}: r 1, 5 -> 3     5 -> {1, 2}: r 4, 3 -> 3
    // sum 12: T = 1 - 12 * 2 / (6 * 2 * (12 - 6 - 1)) = 0.6 (sklearn.manifold.trustworthiness agrees)
    float xs[6] = {0, 1, 2, 3, 4, 5};
    float ys[12] = {5, 0, 1, 0, 2, 0, 3, 0, 4, 0, 0, 0};
    CHECK(ima_trustworthiness(&t, xs, 1, ys, 2, 6, 2) == IMA_OK, "%s", ima_last_error());
    CHECK(fabs(t - 0.6) < 1e-12, "swapped ends: T = %.15f, expected 0.6", t);
    CHECK(ima_trustworthiness(&t, xs, 1, ys, 2, 6, 3) == IMA_ERR, "k >= N/2 must be refused");
    free(x), free(y);
}

static double json_number(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_against_sklearn(void) {
    char *dir = tu_path(tu_source_dir(), "tests/data");
    char *xin = tu_path(dir, "tsne_input.npy"), *ysk = tu_path(dir, "tsne_sklearn_map.npy");
    char *gj = tu_path(dir, "tsne_golden.json");
    float *x = NULL, *ys = NULL;
    size_t N, D, Ns, Es;
    if (ima_npy_read_f32_matrix(xin, &x, &N, &D) || ima_npy_read_f32_matrix(ysk, &ys, &Ns, &Es)) {
        CHECK(0, "cannot read the golden inputs: %s", ima_last_error());
        return;
    }
    FILE *f = fopen(gj, "rb");
    CHECK(f != NULL, "cannot open %s", gj);
    if (!f) return;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *g = cJSON_Parse(buf);
    CHECK(g != NULL, "golden JSON does not parse");
    if (!g) return;
    double sk_kl = json_number(g, "kl_exact_mean"), sk_tw = json_number(g, "trustworthiness_k10_mean");
    double sk0_kl = json_number(g, "map_seed0_kl_exact"), sk0_tw = json_number(g, "map_seed0_trustworthiness_k10");
    CHECK(Ns == N && Es == 2 && N == 500, "golden shapes %zu x %zu, map %zu x %zu", N, D, Ns, Es);

    // our measures on sklearn's own map
    double tw;
    CHECK(ima_trustworthiness(&tw, x, D, ys, 2, N, 10) == IMA_OK, "%s", ima_last_error());
    CHECK(fabs(tw - sk0_tw) < 1e-6, "trustworthiness of sklearn's map: ours %.8f, sklearn %.8f", tw, sk0_tw);
    ima_sparse P;
    CHECK(ima_tsne_affinities(&P, x, N, D, 10.0, 0, 1) == IMA_OK, "%s", ima_last_error());
    double *yd = malloc(N * 2 * sizeof *yd);
    for (size_t t = 0; t < N * 2; t++) yd[t] = ys[t];
    double kl_sk_ourP = ima_tsne_kl(&P, yd, N, 2);
    CHECK(fabs(kl_sk_ourP - sk0_kl) / sk0_kl < 0.03,
          "KL of sklearn's map under our P (30 neighbours) %.4f vs sklearn's P (31) %.4f", kl_sk_ourP, sk0_kl);

    // our map
    ima_tsne_config cfg = ima_tsne_defaults();
    cfg.seed = 1;
    float *y = malloc(N * 2 * sizeof *y), *y2 = malloc(N * 2 * sizeof *y2);
    ima_tsne_result res;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    CHECK(ima_tsne_run(y, &res, x, N, D, &cfg) == IMA_OK, "%s", ima_last_error());
    double secs = (double)clock() / CLOCKS_PER_SEC - t0;
    CHECK(ima_trustworthiness(&tw, x, D, y, 2, N, 10) == IMA_OK, "%s", ima_last_error());
    printf("t-SNE golden (N=%zu, D=%zu, perplexity 10, %.2f s):\n"
           "  KL:               ours %.4f  sklearn %.4f (mean of 3 seeds)  rel. diff %+.1f%%\n"
           "  trustworthiness:  ours %.4f  sklearn %.4f                    diff %+.4f\n",
           N, D, secs, res.kl, sk_kl, 100.0 * (res.kl - sk_kl) / sk_kl, tw, sk_tw, tw - sk_tw);
    CHECK(fabs(res.kl - sk_kl) / sk_kl < 0.15, "KL %.4f not within 15%% of sklearn's %.4f", res.kl, sk_kl);
    CHECK(fabs(tw - sk_tw) < 0.02, "trustworthiness %.4f not within 0.02 of sklearn's %.4f", tw, sk_tw);
    CHECK(res.n_neighbors == 30, "neighbours %zu, expected 3 x perplexity = 30", res.n_neighbors);

    // determinism: same seed, same bits; other seed, another map
    CHECK(ima_tsne_run(y2, NULL, x, N, D, &cfg) == IMA_OK, "%s", ima_last_error());
    CHECK(memcmp(y, y2, N * 2 * sizeof *y) == 0, "two runs with seed 1 differ");
    cfg.seed = 2;
    cfg.n_iter = 50;
    CHECK(ima_tsne_run(y2, NULL, x, N, D, &cfg) == IMA_OK, "%s", ima_last_error());
    CHECK(memcmp(y, y2, N * 2 * sizeof *y) != 0, "seed 2 gave the same map");

    // exact t-SNE on the first 150 points: a sensible map as well
    size_t Ne = 150;
    ima_tsne_config ce = ima_tsne_defaults();
    ce.method = IMA_TSNE_EXACT;
    ce.n_iter = 500;
    CHECK(ima_tsne_run(y2, &res, x, Ne, D, &ce) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_trustworthiness(&tw, x, D, y2, 2, Ne, 10) == IMA_OK, "%s", ima_last_error());
    printf("  exact t-SNE, first %zu points: KL %.4f, trustworthiness %.4f\n", Ne, res.kl, tw);
    CHECK(tw > 0.95 && res.kl < 1.0, "exact t-SNE map: trustworthiness %.4f, KL %.4f", tw, res.kl);

    free(y), free(y2), free(yd), free(x), free(ys), free(dir), free(xin), free(ysk), free(gj);
    ima_sparse_free(&P);
    cJSON_Delete(g);
}

static void test_errors(void) {
    float x[12] = {0};
    float y[6];
    ima_tsne_config cfg = ima_tsne_defaults();
    CHECK(ima_tsne_run(y, NULL, x, 3, 4, &cfg) == IMA_ERR, "3 points must be refused");
    cfg.out_dim = 3;
    CHECK(ima_tsne_run(y, NULL, x, 3, 4, &cfg) == IMA_ERR, "Barnes-Hut in 3-D must be refused");
}

int main(void) {
    test_vptree();
    test_calibrate();
    test_affinities_and_gradient();
    test_trustworthiness_hand();
    test_against_sklearn();
    test_errors();
    return tu_finish("test_tsne");
}
