/* test_kernels.c: every fast kernel against the naive reference kept beside it (STYLE.md habit 8).
 *   ima_bce_logits_forward_fast + ima_bce_logits_backward_fast  vs  ima_bce_logits_forward + ima_bce_logits_backward
 * B rows, D features (D not a multiple of the vector width, so the tail loop runs too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/nn.h"
#include "ima/rng.h"
#include "testutil.h"

static void check_bce(size_t B, size_t D, double spread, uint64_t seed) {
    ima_rng rng;
    ima_rng_init(&rng, seed);
    size_t n = B * D;
    float *a = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)), *scale = malloc(B * sizeof(float));
    float *l_ref = malloc(B * sizeof(float)), *l_fast = malloc(B * sizeof(float)), *l_nog = malloc(B * sizeof(float));
    float *g_ref = calloc(n, sizeof(float)), *g_fast = calloc(n, sizeof(float)); /* backward passes accumulate */
    static const float special[] = {0.0f,      -0.0f,      1e-8f,  -1e-8f,  0.5f,  -0.5f,  0.3465736f, -0.3465736f,
                                    0.881374f, -0.881374f, 15.9f,  -15.9f,  17.0f, -17.0f, 86.9f,      -86.9f,
                                    87.5f,     -87.5f,     100.0f, -100.0f, 1e4f,  -1e4f,  3e38f,      -3e38f};
    for (size_t k = 0; k < n; k++) {
        a[k] = k < sizeof special / sizeof *special ? special[k] : (float)(spread * ima_rng_normal(&rng));
        x[k] = k % 7 == 0 ? (float)(k % 2) : (float)ima_rng_uniform(&rng); /* hard 0/1 targets too */
    }
    for (size_t r = 0; r < B; r++) scale[r] = r % 5 == 3 ? 0.0f : (float)(0.1 + ima_rng_uniform(&rng));
    ima_bce_logits_forward(l_ref, a, x, B, D);
    ima_bce_logits_backward(g_ref, a, x, scale, B, D);
    ima_bce_logits_forward_fast(l_fast, a, x, B, D);
    ima_bce_logits_backward_fast(g_fast, a, x, scale, B, D);
    ima_bce_logits_forward_fast(l_nog, a, x, B, D);
    double worst_l = 0, worst_g = 0;
    for (size_t r = 0; r < B; r++) {
        double d = fabs((double)l_fast[r] - l_ref[r]) / fmax(fabs((double)l_ref[r]), 1e-3);
        if (d > worst_l) worst_l = d;
        CHECK(l_nog[r] == l_fast[r], "row %zu: a second forward gave %g, the first %g", r, l_nog[r], l_fast[r]);
    }
    for (size_t k = 0; k < n; k++) {
        /* gradient terms are scale * (sigmoid - x), sigmoid in [0,1]: an absolute measure */
        double d = fabs((double)g_fast[k] - g_ref[k]) / fmax(fabs((double)scale[k / D]), 1e-30);
        if (scale[k / D] == 0.0f) d = g_fast[k] == 0.0f ? 0.0 : 1.0;
        if (d > worst_g) worst_g = d;
    }
    printf("bce fast B=%zu D=%zu spread %.0f: worst loss rel %.2e, worst grad abs/scale %.2e\n", B, D, spread, worst_l,
           worst_g);
    CHECK(worst_l <= 2e-6, "loss rows: worst relative difference %.3e", worst_l);
    CHECK(worst_g <= 1e-6, "gradient: worst difference %.3e (in units of the row scale)", worst_g);

    /* NaN in, NaN out: the training loop's finiteness check must still see it */
    a[D + 3] = NAN;
    ima_bce_logits_forward_fast(l_fast, a, x, B, D);
    ima_bce_logits_backward_fast(g_fast, a, x, scale, B, D);
    CHECK(isnan(l_fast[1]), "a NaN logit must make its row's loss NaN, got %g", l_fast[1]);
    CHECK(isnan(g_fast[D + 3]), "a NaN logit must give a NaN gradient, got %g", g_fast[D + 3]);
    free(a), free(x), free(scale), free(l_ref), free(l_fast), free(l_nog), free(g_ref), free(g_fast);
}

int main(void) {
    check_bce(7, 784, 4.0, 1);
    check_bce(5, 37, 30.0, 2);
    check_bce(3, 13, 0.5, 3);
    return tu_finish("test_kernels");
}
