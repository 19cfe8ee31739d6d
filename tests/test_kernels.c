/* test_kernels.c: every fast kernel against the naive reference kept beside it (STYLE.md habit 8).
 *   ima_bce_logits_forward_fast + ima_bce_logits_backward_fast  vs  ima_bce_logits_forward + ima_bce_logits_backward
 *   ima_mlp_backward (fused ReLU + bias gradient)               vs  ima_dense_backward + ima_relu_backward
 *   ima_pool_run2                                               every part runs once per call
 *   the two-thread row split (parallel.c)                       vs  the same model on one thread
 * B rows, D features (D not a multiple of the vector width, so the tail loop runs too). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ima/model.h"
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

/* ---- the fused MLP backward against dense + ReLU kernels, bit for bit ---------------------------------- */

static void fill(float *p, size_t n, ima_rng *rng) {
    for (size_t k = 0; k < n; k++) p[k] = (float)ima_rng_normal(rng);
}

static void check_mlp_backward(void) {
    enum { L = 3, B = 13 };
    size_t width[L + 1] = {37, 24, 19, 5};
    ima_mlp mlp, ref;
    size_t np = ima_mlp_setup(&mlp, L, width);
    ima_mlp_setup(&ref, L, width);
    float *params = malloc(np * sizeof(float)), *g = malloc(np * sizeof(float)), *gref = malloc(np * sizeof(float));
    ima_rng rng;
    ima_rng_init(&rng, 9);
    fill(params, np, &rng);
    fill(g, np, &rng); /* backward accumulates onto what is there */
    memcpy(gref, g, np * sizeof(float));
    ima_mlp_bind(&mlp, params, g);
    ima_mlp_bind(&ref, params, gref);
    ima_mlp_acts acts;
    float *abuf = malloc(ima_mlp_acts_size(&mlp, B) * sizeof(float));
    ima_mlp_acts_bind(&acts, &mlp, abuf, B);
    float x[B * 37], dout[B * 5], dx[B * 37], dxref[B * 37];
    fill(x, B * 37, &rng);
    fill(dout, B * 5, &rng);
    fill(dx, B * 37, &rng);
    memcpy(dxref, dx, sizeof dx);
    ima_mlp_forward(&mlp, &acts, x, B);
    float *scratch = malloc(ima_mlp_scratch_size(&mlp, B) * sizeof(float));
    ima_mlp_backward(&mlp, &acts, dx, dout, x, B, scratch);
    /* reference: layer by layer with the plain kernels, a fresh (zeroed) din per hidden layer */
    float din[B * 24], gin[B * 24];
    memcpy(gin, dout, sizeof dout);
    for (int l = L - 1; l >= 0; l--) {
        size_t I = width[l], O = width[l + 1];
        const float *in = l > 0 ? acts.out[l - 1] : x;
        if (l == 0) {
            ima_dense_backward(dxref, ref.dW[0], ref.db[0], gin, in, ref.W[0], B, I, O);
            break;
        }
        memset(din, 0, B * I * sizeof(float));
        ima_dense_backward(din, ref.dW[l], ref.db[l], gin, in, ref.W[l], B, I, O);
        ima_relu_backward(din, din, acts.out[l - 1], B * I);
        memcpy(gin, din, B * I * sizeof(float));
    }
    size_t diff = 0;
    for (size_t k = 0; k < np; k++) diff += g[k] != gref[k];
    for (size_t k = 0; k < B * 37; k++) diff += dx[k] != dxref[k];
    printf("mlp backward fused vs dense + relu: %zu values differ\n", diff);
    CHECK(diff == 0, "the fused MLP backward must equal the kernel-by-kernel one bit for bit: %zu differ", diff);
    free(params), free(g), free(gref), free(abuf), free(scratch);
}

/* ---- the pool ---------------------------------------------------------------------------------------- */

typedef struct {
    int count[2];
    long sum;
} pool_probe;

static void probe_part(void *vp, int part) {
    pool_probe *p = vp;
    p->count[part]++;
    if (part == 1)
        for (int k = 0; k < 100; k++) p->sum += 1; /* work on memory the caller reads after the join */
}

static void check_pool(void) {
    ima_pool *pool = ima_pool_create();
    CHECK(pool != NULL, "the pool's worker thread could not be created");
    pool_probe pr = {{0, 0}, 0};
    for (int r = 0; r < 2000; r++) ima_pool_run2(pool, probe_part, &pr);
    CHECK(pr.count[0] == 2000 && pr.count[1] == 2000 && pr.sum == 200000,
          "2000 runs: part 0 ran %d times, part 1 %d, sum %ld (expected 2000, 2000, 200000)", pr.count[0],
          pr.count[1], pr.sum);
    /* a forked child has no worker: both parts run in it, and freeing the pool there returns */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        pool_probe child = {{0, 0}, 0};
        ima_pool_run2(pool, probe_part, &child);
        ima_pool_free(pool);
        _exit(child.count[0] == 1 && child.count[1] == 1 ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the pool in a forked child: expected both parts to run there (status %d)", status);
    ima_pool_run2(pool, probe_part, &pr); /* the parent's worker still answers */
    CHECK(pr.count[1] == 2001, "after the fork, the parent's worker ran %d times (expected 2001)", pr.count[1]);
    ima_pool_free(pool);
    pool_probe serial = {{0, 0}, 0};
    ima_pool_run2(NULL, probe_part, &serial);
    CHECK(serial.count[0] == 1 && serial.count[1] == 1, "without a pool both parts run on the caller");
    ima_pool_free(NULL);
}

/* ---- the two-thread row split against one thread ---------------------------------------------------------- */

static double max_rel(const float *a, const float *b, size_t n) { return tu_max_rel_diff(a, b, n, 1e-3); }

static size_t count_diff(const float *a, const float *b, size_t n) {
    size_t c = 0;
    for (size_t k = 0; k < n; k++) c += memcmp(a + k, b + k, sizeof(float)) != 0;
    return c;
}

static void check_split(size_t B) {
    ima_config cfg = tu_small_config(300, 41);
    cfg.mod[0].hidden_width = cfg.mod[1].hidden_width = 96; /* > 65,536 parameters: two-chunk Adam too */
    ima_model *one, *two;
    if (ima_model_init(&one, &cfg, B, 5) || ima_model_init(&two, &cfg, B, 5)) {
        CHECK(0, "model init: %s", ima_last_error());
        return;
    }
    one->threads = 1;
    two->threads = 2;
    CHECK(ima_model_parts(two, B, 1) == 2, "B = %zu, 2 threads: expected a split", B);
    CHECK(ima_model_parts(one, B, 1) == 1, "1 thread: expected no split");
    ima_rng rng;
    ima_rng_init(&rng, 3);
    float *xa = malloc(B * 300 * sizeof(float)), *xb = malloc(B * 41 * sizeof(float));
    uint8_t *mask = malloc(B * 2);
    for (size_t k = 0; k < B * 300; k++) xa[k] = (float)ima_rng_uniform(&rng);
    fill(xb, B * 41, &rng);
    for (size_t i = 0; i < B; i++) mask[2 * i] = i % 5 != 2, mask[2 * i + 1] = i % 5 == 2 || i % 3 != 0;
    for (int j = 0; j < 2; j++) {
        size_t D = cfg.mod[j].input_width;
        for (size_t c = 0; c < D; c++) one->mod[j].center[c] = two->mod[j].center[c] = 0.01f * (float)c;
    }
    ima_batch b = {.B = B, .x = {xa, xb}, .mask = mask};
    size_t d = cfg.latent_width;

    /* encoding: per-row values to float rounding (OpenBLAS may order a dot product's terms differently
     * for another row count) */
    ima_model_encode(one, &b, IMA_WEIGHTS_IMPORTANCE);
    ima_model_encode(two, &b, IMA_WEIGHTS_IMPORTANCE);
    double dz = max_rel(two->z, one->z, B * d);
    for (int j = 0; j < 2; j++) dz = fmax(dz, max_rel(two->mod[j].y_imp, one->mod[j].y_imp, B));
    printf("split B=%zu encode: worst z, y rel %.2e\n", B, dz);
    CHECK(dz < 1e-4, "B = %zu: encode, split vs one thread: worst relative difference of z, y %.3e", B, dz);

    /* stage 1: terms to double rounding, gradients to float rounding */
    ima_stage1_terms t1, t2;
    ima_stage1_forward_backward(one, &b, IMA_WEIGHTS_IMPORTANCE, 1, &t1);
    ima_stage1_forward_backward(two, &b, IMA_WEIGHTS_IMPORTANCE, 1, &t2);
    double dt = fabs(t1.total - t2.total) / fabs(t1.total);
    double dg = max_rel(two->grads, one->grads, one->n_params_ae);
    printf("split B=%zu stage 1: total %.9g vs %.9g (rel %.1e), worst gradient rel %.2e\n", B, t2.total, t1.total, dt,
           dg);
    CHECK(dt < 1e-6, "stage 1 total: split %.17g, one thread %.17g", t2.total, t1.total);
    CHECK(dg < 1e-4, "stage 1 gradients: worst relative difference %.3e", dg);
    CHECK(max_rel(two->dz, one->dz, B * d) < 1e-4, "stage 1: dz differs beyond float rounding");

    /* Adam on two chunks: from identical gradients, identical parameters */
    memcpy(two->grads, one->grads, one->n_params * sizeof(float));
    ima_adam_config ac = ima_adam_defaults();
    ima_stage1_step(one, &ac);
    ima_stage1_step(two, &ac);
    ima_stage1_step(one, &ac);
    ima_stage1_step(two, &ac);
    CHECK(count_diff(one->params, two->params, one->n_params) == 0, "Adam in two chunks must equal one pass");

    /* stage 2 */
    ima_stage2_terms s1, s2;
    ima_stage2_forward_backward(one, &b, IMA_WEIGHTS_ONE, 1, &s1);
    ima_stage2_forward_backward(two, &b, IMA_WEIGHTS_ONE, 1, &s2);
    double ds = fabs(s1.total - s2.total) / fabs(s1.total);
    double dg2 = max_rel(two->grads + one->n_params_ae, one->grads + one->n_params_ae, one->n_params_imp);
    printf("split B=%zu stage 2: total %.9g vs %.9g (rel %.1e), worst gradient rel %.2e\n", B, s2.total, s1.total, ds,
           dg2);
    CHECK(ds < 1e-6, "stage 2 total: split %.17g, one thread %.17g", s2.total, s1.total);
    CHECK(dg2 < 1e-4, "stage 2 gradients: worst relative difference %.3e", dg2);

    /* the finiteness check sees a NaN in either chunk */
    for (int c = 0; c < 2; c++) {
        size_t k = c ? two->n_params_ae - 3 : 7;
        float keep = two->grads[k];
        two->grads[k] = NAN;
        CHECK(!ima_model_grads_finite(two, 0, two->n_params_ae), "a NaN at %zu was not seen", k);
        two->grads[k] = keep;
    }
    CHECK(ima_model_grads_finite(two, 0, two->n_params_ae), "finite gradients were reported non-finite");
    ima_model_free(one);
    ima_model_free(two);
    free(xa), free(xb), free(mask);
}

int main(void) {
    check_bce(7, 784, 4.0, 1);
    check_bce(5, 37, 30.0, 2);
    check_bce(3, 13, 0.5, 3);
    check_mlp_backward();
    check_pool();
    check_split(64);
    check_split(71);
    return tu_finish("test_kernels");
}
