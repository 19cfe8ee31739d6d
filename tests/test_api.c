/* test_api.c: the flat API of include/ima/api.h (what the Python package calls), here so that the
 * sanitizer build checks it too: fit and embed on caller buffers, the fusion rule, growing the
 * activation buffers for a larger batch, save/load round trip, continued training, callbacks, and
 * the errors a caller can cause. N rows, M = 2 modalities (widths 5 and 3), d = 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/api.h"
#include "ima/rng.h"
#include "testutil.h"

#define N 37
#define DA 5
#define DB 3
#define D 2

static const char *CONFIG =
    "{\"n_modalities\":2,\"latent_width\":2,\"lambda_glob\":1,\"center_inputs\":true,\"modalities\":["
    "{\"name\":\"a\",\"input_width\":5,\"hidden_width\":6,\"loss\":\"bce\",\"lambda_rec\":1,\"lambda_align\":1,"
    "\"lambda_local\":1,\"lambda_corr\":1,\"rho\":0.5},"
    "{\"name\":\"b\",\"input_width\":3,\"hidden_width\":4,\"loss\":\"sse\",\"lambda_rec\":1,\"lambda_align\":1,"
    "\"lambda_local\":1,\"lambda_corr\":1,\"rho\":0.5}]}";

typedef struct {
    int epochs, batches, stop_at;
    double last[IMA_API_EPOCH_FIELDS + 2 * IMA_API_EPOCH_PER_MODALITY];
} counts;

static void on_batch(void *ctx, int round, int stage, int epoch, size_t done, size_t total) {
    counts *c = ctx;
    c->batches++;
    (void)round, (void)stage, (void)epoch, (void)done, (void)total;
}

static int on_epoch(void *ctx, const double *v, size_t n) {
    counts *c = ctx;
    c->epochs++;
    if (n == sizeof c->last / sizeof *c->last) memcpy(c->last, v, sizeof c->last);
    return c->stop_at && c->epochs == c->stop_at;
}

typedef struct {
    float u[2][N * D], y[2][N], zw[N * D], zu[N * D];
} embedding;

static int embed(ima_api_model *h, const float *const *x, const uint8_t *const *mask, size_t batch, embedding *e) {
    size_t rows[2] = {N, N}, cols[2] = {DA, DB};
    float *u[2] = {e->u[0], e->u[1]}, *y[2] = {e->y[0], e->y[1]};
    return ima_api_embed(h, x, rows, cols, mask, 2, batch, u, y, e->zw, e->zu);
}

int main(void) {
    static float xa[N * DA], xb[N * DB];
    ima_rng rng;
    ima_rng_init(&rng, 3);
    for (size_t k = 0; k < N * DA; k++) xa[k] = (float)ima_rng_uniform(&rng);
    for (size_t k = 0; k < N * DB; k++) xb[k] = (float)ima_rng_normal(&rng);
    const float *x[2] = {xa, xb};
    size_t rows[2] = {N, N}, cols[2] = {DA, DB};

    ima_api_model *h = NULL;
    CHECK(ima_api_model_new(&h, CONFIG, 7) == IMA_OK, "new: %s", ima_last_error());
    CHECK(!ima_api_model_started(h), "a new model has not started");

    /* fit: batch 64 > the initial activation rows (256 is the default, so ask for 300) */
    counts c = {0};
    ima_api_fit_options o = ima_api_fit_defaults();
    CHECK(o.batch_size == 256 && o.epochs_stage1 == 40 && o.epochs_stage2 == 10, "defaults are ima train's");
    o.batch_size = 300, o.epochs_stage1 = 3, o.epochs_stage2 = 2, o.on_batch = on_batch, o.on_epoch = on_epoch;
    o.ctx = &c;
    CHECK(ima_api_fit(h, x, rows, cols, NULL, 2, &o) == IMA_OK, "fit: %s", ima_last_error());
    CHECK(c.epochs == 5 && c.batches == 5, "epochs %d, batches %d", c.epochs, c.batches);
    CHECK(c.last[1] == 2 && c.last[2] == 2 && isfinite(c.last[6]), "last report: stage %g epoch %g", c.last[1],
          c.last[2]);
    CHECK(ima_api_model_started(h), "started after fit");

    /* embed: fusion rule, subsets, batch independence */
    static embedding e, e2;
    CHECK(embed(h, x, NULL, 1024, &e) == IMA_OK, "embed: %s", ima_last_error());
    double worst = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < D; t++) {
            double ya = e.y[0][i], yb = e.y[1][i], ua = e.u[0][i * D + t], ub = e.u[1][i * D + t];
            worst = fmax(worst, fabs(e.zw[i * D + t] - (ya * ua + yb * ub) / (ya + yb)));
            worst = fmax(worst, fabs(e.zu[i * D + t] - 0.5 * (ua + ub)));
        }
    CHECK(worst < 1e-5, "fusion rule: worst difference %g", worst);
    CHECK(embed(h, x, NULL, 5, &e2) == IMA_OK && tu_max_rel_diff(e2.zw, e.zw, N * D, 1e-3) < 1e-5,
          "embedding in batches of 5 differs");
    const float *only_a[2] = {xa, NULL};
    CHECK(embed(h, only_a, NULL, 1024, &e2) == IMA_OK && !memcmp(e2.zu, e.u[0], sizeof e2.zu),
          "with b missing, z is u_a");
    static uint8_t half[N];
    for (size_t i = 0; i < N; i++) half[i] = i % 2;
    const uint8_t *mask_b[2] = {NULL, half};
    CHECK(embed(h, x, mask_b, 1024, &e2) == IMA_OK && e2.y[1][0] == 0.0f && e2.y[1][1] == e.y[1][1],
          "mask: y_b is 0 where b is absent");

    /* save / load: the same numbers; continued training adds the new stage-2 epochs only */
    char *dir = tu_tmpdir(), *path = tu_path(dir, "m.safetensors");
    CHECK(ima_api_model_save(h, path) == IMA_OK, "save: %s", ima_last_error());
    ima_api_model *h2 = NULL;
    CHECK(ima_api_model_load(&h2, path) == IMA_OK, "load: %s", ima_last_error());
    if (h2) {
        CHECK(embed(h2, x, NULL, 1024, &e2) == IMA_OK && !memcmp(&e, &e2, sizeof e), "loaded model embeds differently");
        char *cj = NULL, *cj2 = NULL;
        CHECK(!ima_api_model_config_json(h, &cj) && !ima_api_model_config_json(h2, &cj2) && !strcmp(cj, cj2),
              "configs differ");
        ima_api_string_free(cj);
        ima_api_string_free(cj2);
        counts c2 = {0};
        ima_api_fit_options o2 = o;
        o2.epochs_stage2 = 4, o2.ctx = &c2, o2.checkpoint = path;
        CHECK(ima_api_fit(h2, x, rows, cols, NULL, 2, &o2) == IMA_OK && c2.epochs == 2, "continue: %d epochs, %s",
              c2.epochs, ima_last_error());
        char *tj = NULL;
        CHECK(!ima_api_model_train_json(h2, &tj) && strstr(tj, "\"finished\":true") && strstr(tj, "\"step_imp\":4"),
              "train state %s", tj ? tj : "");
        ima_api_string_free(tj);
    }
    ima_api_model_free(h2);

    /* a callback that stops */
    ima_api_model *h3 = NULL;
    counts c3 = {.stop_at = 2};
    ima_api_fit_options o3 = o;
    o3.ctx = &c3;
    CHECK(ima_api_model_new(&h3, CONFIG, 7) == IMA_OK, "new");
    CHECK(ima_api_fit(h3, x, rows, cols, NULL, 2, &o3) == IMA_ERR && c3.epochs == 2 &&
              strstr(ima_last_error(), "stopped by the epoch callback"),
          "stop: %d epochs, %s", c3.epochs, ima_last_error());
    ima_api_model_free(h3);

    /* errors a caller can cause */
    ima_api_model *bad = NULL;
    CHECK(ima_api_model_new(&bad, "{\"n_modalities\": 1", 1) == IMA_ERR && !bad, "bad JSON accepted");
    CHECK(ima_api_model_load(&bad, "/nonexistent/m.safetensors") == IMA_ERR &&
              strstr(ima_last_error(), "/nonexistent/m.safetensors"),
          "load of a missing file: %s", ima_last_error());
    char *pj = NULL;
    CHECK(ima_api_preset_json(&pj, "mnist", 2) == IMA_ERR && strstr(ima_last_error(), "'mnist'"), "preset");
    CHECK(ima_api_preset_json(&pj, "digits", 2) == IMA_OK && strstr(pj, "\"image\""), "digits preset");
    ima_api_string_free(pj);
    size_t cols_bad[2] = {DA - 1, DB};
    CHECK(ima_api_fit(h, x, rows, cols_bad, NULL, 2, &o) == IMA_ERR &&
              strstr(ima_last_error(), "'a': 4 columns, but the model expects width 5"),
          "width: %s", ima_last_error());
    const float *no_b[2] = {xa, NULL};
    CHECK(ima_api_fit(h, no_b, rows, cols, NULL, 2, &o) == IMA_ERR && strstr(ima_last_error(), "'b' is missing"),
          "missing: %s", ima_last_error());
    size_t rows_bad[2] = {N, N - 1};
    CHECK(ima_api_fit(h, x, rows_bad, cols, NULL, 2, &o) == IMA_ERR && strstr(ima_last_error(), "rows"), "rows: %s",
          ima_last_error());
    float keep = xb[7];
    xb[7] = NAN;
    CHECK(ima_api_embed(h, x, rows, cols, NULL, 2, 8, NULL, NULL, e2.zw, NULL) == IMA_ERR &&
              strstr(ima_last_error(), "non-finite"),
          "NaN: %s", ima_last_error());
    xb[7] = keep;
    static uint8_t none[N], two[N];
    two[3] = 2;
    const uint8_t *all_missing[2] = {none, none}, *mask_two[2] = {two, NULL};
    CHECK(ima_api_fit(h, x, rows, cols, all_missing, 2, &o) == IMA_ERR &&
              strstr(ima_last_error(), "row 0 has every modality missing"),
          "all missing: %s", ima_last_error());
    CHECK(ima_api_embed(h, x, rows, cols, mask_two, 2, 8, NULL, NULL, NULL, NULL) == IMA_ERR &&
              strstr(ima_last_error(), "row 3: value 2"),
          "mask 2: %s", ima_last_error());
    ima_api_fit_options ob = o;
    ob.batch_size = 0;
    CHECK(ima_api_fit(h, x, rows, cols, NULL, 2, &ob) == IMA_ERR, "batch 0 accepted");
    CHECK(ima_api_embed(h, x, rows, cols, NULL, 1, 8, NULL, NULL, NULL, NULL) == IMA_ERR &&
              strstr(ima_last_error(), "1 arrays given, the model has 2"),
          "M: %s", ima_last_error());
    /* still usable after every error */
    CHECK(embed(h, x, NULL, 1024, &e2) == IMA_OK && !memcmp(&e, &e2, sizeof e), "the errors changed the model");

    double det[IMA_API_DETECTION_FIELDS];
    float yy[4] = {0.1f, 0.9f, 0.2f, 0.8f};
    uint8_t noise[4] = {1, 0, 1, 0};
    CHECK(ima_api_detection(det, yy, noise, NULL, 4, 0.5) == IMA_OK && det[10] == 1.0 && det[12] == 1.0,
          "detection: f1 %g auc %g", det[10], det[12]);

    ima_api_set_threads(1);
    CHECK(ima_api_get_threads() == 1, "threads");
    ima_api_model_free(h);
    ima_api_model_free(NULL);
    remove(path);
    tu_remove_dir(dir);
    free(path);
    free(dir);
    return tu_finish("api");
}
