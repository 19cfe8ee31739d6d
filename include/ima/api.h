/* api.h: a flat entry point to libima for bindings (the Python package `ima`, through ctypes) and for
 * C programs that would rather not depend on the layout of libima's structs.
 *
 *   - an opaque model handle: the IMA model with its training configuration and position, exactly
 *     what an `ima train` checkpoint holds, so a handle saves to and loads from the same files;
 *   - configurations as JSON text, the "config" object the checkpoints store in their metadata;
 *   - every array a plain pointer with its dimensions beside it; nothing is copied that need not be
 *     (training reads the caller's rows in place; embedding writes into the caller's buffers);
 *   - errors: every function that can fail returns IMA_OK (0) or IMA_ERR (-1) and leaves the message
 *     in ima_last_error() (thread-local: read it from the thread that made the call). Nothing here
 *     ends the process on a caller's mistake.
 *
 * Dimensions: N rows, M modalities (index j, in the model's order), D_j input width, d latent width.
 * Arrays are row-major float32 (N, D_j); presence masks are uint8 (N), 1 = present, 0 = missing. */
#ifndef IMA_API_H
#define IMA_API_H

#include <stddef.h>
#include <stdint.h>

#include "ima/common.h"
#include "ima/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ima_api_model ima_api_model; /* opaque: model, training configuration, training position */

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *ima_api_version(void);

/* ---- configuration as JSON ------------------------------------------------------------------
 * {"n_modalities": M, "latent_width": d, "lambda_glob": 1, "center_inputs": true,
 *  "modalities": [{"name": "image", "input_width": 784, "hidden_width": 500, "loss": "bce",
 *                  "lambda_rec": 1, "lambda_align": 1, "lambda_local": 1, "lambda_corr": 1,
 *                  "rho": 0.8}, ...]}                                   (the checkpoints' "config") */

/* JSON text of cfg (malloc'd: free with ima_api_string_free); NULL when out of memory. */
char *ima_config_to_json(const ima_config *cfg);
/* Parses and validates JSON text into cfg; WHAT names the text in error messages. */
int ima_config_from_json(ima_config *cfg, const char *json, const char *what);
/* A named preset with latent width d as JSON ("digits": the paper's image 784 / speech 696 model);
 * *out is malloc'd (free with ima_api_string_free). An unknown name is an error. */
int ima_api_preset_json(char **out, const char *name, size_t latent);
void ima_api_string_free(char *s); /* NULL is fine */

/* ---- the model handle -------------------------------------------------------------------- */

/* A new, untrained model from a configuration (JSON as above), initialised from seed as
 * `ima train --seed` does; its shuffling stream is seeded the same way, so training it through
 * ima_api_fit with the CLI's settings gives the CLI's model. */
int ima_api_model_new(ima_api_model **out, const char *config_json, uint64_t seed);
/* Loads an `ima train` checkpoint (model, optimizer, training configuration and position). */
int ima_api_model_load(ima_api_model **out, const char *path);
/* Writes a checkpoint `ima train --resume`, `ima embed` and `ima eval` read (atomically). */
int ima_api_model_save(const ima_api_model *h, const char *path);
void ima_api_model_free(ima_api_model *h); /* NULL is fine */
/* The configuration, and the training configuration and position ("train_state" of a checkpoint),
 * as JSON text; *out is malloc'd (free with ima_api_string_free). */
int ima_api_model_config_json(const ima_api_model *h, char **out);
int ima_api_model_train_json(const ima_api_model *h, char **out);
/* 1 once the model has been trained (or loaded from a checkpoint), else 0. */
int ima_api_model_started(const ima_api_model *h);

/* ---- training ---------------------------------------------------------------------------- */

/* What each finished epoch reports, as IMA_API_EPOCH_FIELDS + IMA_API_EPOCH_PER_MODALITY * M doubles:
 *   [0] round  [1] stage  [2] epoch (1-based)  [3] epochs of this stage  [4] seconds  [5] samples
 *   [6] stage loss (L_auto or L_imp)  [7] glob (stage 1)
 *   then for each modality j, 6 values from 8 + 6 j:
 *   rec, align (stage 1), corr, local, mean_y (stage 2), dead (stage 1: fraction of dead first-layer
 *   encoder units). Terms of the other stage are 0. */
#define IMA_API_EPOCH_FIELDS 8
#define IMA_API_EPOCH_PER_MODALITY 6
/* after each batch: round, stage, epoch (1-based, in progress), batches done and total of the epoch */
typedef void (*ima_api_batch_fn)(void *ctx, int round, int stage, int epoch, size_t done, size_t total);
/* after each epoch (the model already updated; a checkpoint, if asked for, already written);
 * values as above, n_values of them. A non-zero return stops training: ima_api_fit returns IMA_ERR
 * with the message "fit: stopped by the epoch callback". */
typedef int (*ima_api_epoch_fn)(void *ctx, const double *values, size_t n_values);

typedef struct {
    size_t batch_size;         // B (256)
    int rounds;                // R (1)
    int epochs_stage1;         // E1 (40)
    int epochs_stage2;         // E2 (10)
    double lr_stage1;          // Adam learning rate of the autoencoder (1e-3)
    double lr_stage2;          // Adam learning rate of the importance nets (1e-3)
    const char *checkpoint;    // NULL, or a path written after every epoch and at the end (as ima train --out)
    ima_api_batch_fn on_batch; // may be NULL
    ima_api_epoch_fn on_epoch; // may be NULL
    void *ctx;                 // passed to both
} ima_api_fit_options;

/* The defaults of `ima train` (the paper's). */
ima_api_fit_options ima_api_fit_defaults(void);

/* Trains on N rows: x[j] (rows[j], cols[j]) for each of the model's M modalities (none may be NULL:
 * every modality needs its array; mark absent rows with masks), mask[j] (N) or NULL (all present).
 * The rows are read in place, never copied as a whole; they must not change until this returns.
 * An untrained model first fits its centring means, as `ima train` does; a started one (trained or
 * loaded) continues from its position, as `ima train --resume` does, with these options (a finished
 * one whose epoch counts or rounds grow trains the extra epochs). Checks: M arrays with equal row
 * counts and the model's widths, finite values, values in [0, 1] for bce modalities, 0/1 masks,
 * every row with at least one modality present. */
int ima_api_fit(ima_api_model *h, const float *const *x, const size_t *rows, const size_t *cols,
                const uint8_t *const *mask, int M, const ima_api_fit_options *opt);

/* ---- inference --------------------------------------------------------------------------- */

/* Encodes N rows from any subset of the modalities: x[j] == NULL means modality j is missing for
 * every row; mask[j] (N) or NULL as above. Writes, where the pointer is not NULL:
 *   u[j] (N, d) unimodal codes of each given modality, y[j] (N) its importance (0 where absent),
 *   z_weighted (N, d) fusion by the importance networks, z_unweighted (N, d) fusion with y = 1.
 * batch: rows per forward pass (ima embed's default is 1024; results do not depend on it beyond
 * floating-point rounding). Every row needs at least one present modality. From a callback of
 * ima_api_fit on the same model, batches are capped at the training batch. */
int ima_api_embed(ima_api_model *h, const float *const *x, const size_t *rows, const size_t *cols,
                  const uint8_t *const *mask, int M, size_t batch, float *const *u, float *const *y, float *z_weighted,
                  float *z_unweighted);

/* ---- evaluation and threads ---------------------------------------------------------------- */

/* Importance detection (ima_detection_eval in eval.h) as 16 doubles:
 *   [0] n  [1] n_noise  [2] mean_y  [3] threshold  [4] tp  [5] fp  [6] fn  [7] tn  [8] precision
 *   [9] recall  [10] f1 (at threshold)  [11] ranked  [12] auc  [13] best_f1  [14] best_threshold  [15] 0 */
#define IMA_API_DETECTION_FIELDS 16
int ima_api_detection(double *out, const float *y, const uint8_t *noise, const uint8_t *mask, size_t N,
                      double threshold);

/* Downstream classification (ima_classifier_fit in eval.h: an MLP per candidate learning rate of the
 * defaults, the best on validation kept) scored on a test split. hidden, n_hidden_layers, epochs, batch:
 * 0 keeps the default (50, 2, 30, 64). Writes *test_accuracy, *chosen_lr, pred (n_test) if not NULL.
 * Rows are (n, D) float32; labels int64 in [0, C). */
int ima_api_classify(double *test_accuracy, double *chosen_lr, int64_t *pred, const float *train_x,
                     const int64_t *train_y, size_t n_train, const float *valid_x, const int64_t *valid_y,
                     size_t n_valid, const float *test_x, const int64_t *test_y, size_t n_test, size_t D, size_t hidden,
                     int n_hidden_layers, size_t epochs, size_t batch, uint64_t seed);

/* OpenBLAS threads used by every matrix product of this process (the CLI's --threads). */
void ima_api_set_threads(int n);
int ima_api_get_threads(void);

#ifdef __cplusplus
}
#endif

#endif
