/* train.h: data sets, the two-stage training loop and checkpoints for the IMA model.
 *
 * Dimensions: N rows of a data set, M modalities, D_j widths, B batch rows.
 * Training runs R rounds; each round trains stage 1 (autoencoder, importance nets frozen) for E1
 * epochs, then stage 2 (importance nets, autoencoder frozen) for E2 epochs (SPEC section 2).
 * Round 1 fuses with y = 1; later rounds with y = I_j(x_j) as constants. */
#ifndef IMA_TRAIN_H
#define IMA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ima/model.h"
#include "ima/rng.h"

/* ---- data sets ------------------------------------------------------------------ */

typedef struct {
    size_t n;                         // rows
    int n_modalities;                 // M
    size_t width[IMA_MAX_MODALITIES]; // D_j
    float *x[IMA_MAX_MODALITIES];     // (n, D_j) each (owned)
    uint8_t *mask;                    // (n, M): 1 present (owned); all ones when no mask was given
    void *map[IMA_MAX_MODALITIES];    // ima_dataset_map: the read-only file mapping x[j] points into (NULL: owned)
    size_t map_bytes[IMA_MAX_MODALITIES];
} ima_dataset;

/* Reads one .npy per modality (float32/float64/uint8, 2-D) and optional masks (mask_paths[j] may be
 * NULL: all present; else a 1-D 0/1 array of n rows). Checks equal row counts, finite values, 0/1
 * masks, and that every row has at least one modality present; errors name the file. */
int ima_dataset_load(ima_dataset *ds, int M, const char *const *paths, const char *const *mask_paths);
/* The same, but a float32 .npy is memory-mapped read-only instead of read (other dtypes are read and
 * converted): the processes of one machine that map the same file share one copy in the page cache,
 * and rows are read from disk when first touched (data-parallel training, docs/scaling.md). The
 * checks are ima_dataset_load's, so the whole file is read once here. x[j] must not be written. */
int ima_dataset_map(ima_dataset *ds, int M, const char *const *paths, const char *const *mask_paths);
void ima_dataset_free(ima_dataset *ds);
/* Checks the data set against a model configuration (count and widths). */
int ima_dataset_check(const ima_dataset *ds, const ima_config *cfg, const char *const *paths);
/* Sets each modality's centring mean to the mean of its present rows (zeros when centring is off). */
int ima_model_fit_center(ima_model *m, const ima_dataset *ds); /* IMA_ERR only when memory runs out */
/* Copies rows idx[0..B) into the model-owned batch buffers and returns a batch view. */
typedef struct {
    size_t cap;
    float *x[IMA_MAX_MODALITIES];
    uint8_t *mask;
    ima_batch batch;
} ima_batch_buffer;
int ima_batch_buffer_init(ima_batch_buffer *bb, const ima_dataset *ds, size_t cap); /* IMA_ERR: out of memory */
void ima_batch_buffer_free(ima_batch_buffer *bb);
/* NULL, with a message, when B exceeds the buffer's cap or an index is not a row of ds. */
const ima_batch *ima_batch_gather(ima_batch_buffer *bb, const ima_dataset *ds, const size_t *idx, size_t B);

/* ---- training ---------------------------------------------------------------------- */

typedef struct {
    size_t batch_size;           // B (256)
    int rounds;                  // R (1)
    int epochs_stage1;           // E1 (40)
    int epochs_stage2;           // E2 (10)
    ima_adam_config adam_stage1; // Adam for the autoencoder (lr 1e-3)
    ima_adam_config adam_stage2; // Adam for the importance nets (lr 1e-3)
    int patience_stage1;         // stage-1 early stopping on the validation L_auto (needs callbacks.valid; 0: off,
                                 // E1 epochs run). With P > 0 a round's stage 1 stops once P epochs have passed
                                 // without a lower validation L_auto, or at E1, and the autoencoder of its best
                                 // epoch is restored. Not stored in checkpoints; a resumed stage 1 selects afresh.
} ima_train_config;

ima_train_config ima_train_defaults(void);

/* Where training stands: enough to resume exactly (stored in checkpoints). */
typedef struct {
    int round;    // 1-based round in progress
    int stage;    // 1 or 2: stage in progress
    int epoch;    // epochs of this stage already completed
    int finished; // 1 when every round is done
    ima_rng rng;  // shuffling stream
} ima_train_state;

void ima_train_state_init(ima_train_state *st, uint64_t seed);

/* Importance collapse (SPEC section 8), judged per modality after each stage-2 epoch: */
enum {
    IMA_COLLAPSE_MEAN_Y = 1, /* mean y > 0.99: every sample called important */
    IMA_COLLAPSE_CORR = 2,   /* L_corr fell below 1e-3 of its value after the run's first stage-2 epoch */
};
/* The collapse flags (0 when neither) of one modality: the one home of the rule. corr_first <= 0
 * (not known, e.g. a resumed run) disables the L_corr test. */
int ima_collapse_flags(double mean_y, double corr_first, double corr);

/* What one finished epoch reports (averages over its batches). */
typedef struct {
    int round, stage, epoch, epochs;       // epoch is 1-based within the stage
    ima_stage1_terms s1;                   // stage 1 epochs
    ima_stage2_terms s2;                   // stage 2 epochs
    double mean_y[IMA_MAX_MODALITIES];     // stage 2: mean importance over the epoch
    double dead[IMA_MAX_MODALITIES];       // stage 1: fraction of first-layer encoder units dead in every batch
    double corr_first[IMA_MAX_MODALITIES]; // stage 2: L_corr of this run's first stage-2 epoch (0: unknown)
    int collapse[IMA_MAX_MODALITIES];      // stage 2: ima_collapse_flags of this epoch
    int scored;                            // stage 2 with a validation set: score and best_epoch are set
    double score[2];                       // validation score of this epoch (see ima_score_fn)
    int best_epoch;                        // best epoch of this round's stage so far (1-based): stage 2 by score,
                                           // stage 1 by validation L_auto (when valid_loss is set)
    double valid_loss;                     // stage 1 with a validation set and (patience or monitor): validation
                                           // L_auto (fusion of the round, means over rows); NAN otherwise
    double monitor;                        // stage 1: the monitor callback's value (NAN without one)
    int stop;                              // stage 1: 1 when this epoch ends the stage early (patience exhausted)
    double seconds;                        // wall time of the epoch
    size_t samples;                        // rows processed
} ima_epoch_report;

/* Rates the model on a validation set after a stage-2 epoch: larger is better; score[0] decides and
 * score[1] breaks ties. weights: the fusion weights of the running round. It may run forward passes
 * in m's buffers but must not change its parameters. Returns 0, or non-zero (with ima_error) to stop. */
typedef int (*ima_score_fn)(void *ctx, ima_model *m, const ima_dataset *valid, ima_weights weights, double score[2]);
/* The default score: minus the stage-2 loss L_imp on valid (batches of the model's max_batch rows,
 * averaged by rows); score[1] = 0. Needs no labels. */
int ima_score_stage2_loss(void *ctx, ima_model *m, const ima_dataset *valid, ima_weights weights, double score[2]);

typedef struct {
    void *ctx;
    /* after each batch: done / total batches of the epoch (may be NULL) */
    void (*on_batch)(void *ctx, const ima_train_state *st, size_t done, size_t total);
    /* after each epoch, with the state already advanced (safe to checkpoint); non-zero stops */
    int (*on_epoch)(void *ctx, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r);
    /* Stage-2 model selection (optional): with valid set, the model is scored after every stage-2 epoch
     * and, when a round's stage 2 ends, the importance nets of its best-scoring epoch are restored
     * (before that epoch's on_epoch, so a checkpoint written there holds them). score NULL:
     * ima_score_stage2_loss. A run resumed inside stage 2 starts from the resumed epoch's score. */
    const ima_dataset *valid;
    ima_score_fn score;
    void *score_ctx;
    /* Stage-1 monitor (optional, with valid): after each stage-1 epoch's validation loss, a number to log
     * (e.g. validation P@10 of the unweighted z); it may run forward passes in m's buffers but must not
     * change its parameters. Non-zero stops with IMA_ERR. */
    int (*monitor)(void *ctx, ima_model *m, double *value);
    /* Data-parallel training (collective.h, docs/scaling.md; NULL: one process): every rank calls
     * ima_train with the same data set, configuration, state and seed; each computes its share of
     * every global batch and the ranks sum gradients and batch statistics through coll, so every rank
     * holds the same model after every step. on_epoch runs on every rank (write files on rank 0 only);
     * when any rank's on_epoch stops, every rank stops. */
    const struct ima_collective *coll;
    /* The local-ev teacher of ds (importance.h; NULL: ima_train builds one for each run's stage 2). Its
     * targets are the same as a fresh teacher's, bit for bit; it saves the k-NN when one training set
     * trains several models or priors. ima_train refuses one built from another data set or k
     * (ima_local_ev_teacher_check); the paper's objective does not read it. */
    const struct ima_local_ev_teacher *teacher;
} ima_train_callbacks;

/* The validation L_auto of ds (batches of the model's max_batch rows, means over rows) with the given fusion. */
int ima_stage1_valid_loss(ima_model *m, const ima_dataset *ds, ima_weights weights, ima_stage1_terms *terms);

/* Trains from st onwards until finished. A non-finite loss term stops training before the
 * offending update with an error naming the stage, round, epoch and term. */
int ima_train(ima_model *m, const ima_dataset *ds, const ima_train_config *cfg, ima_train_state *st,
              const ima_train_callbacks *cb);
/* Data-parallel local-ev targets (N, M): importance.h's ima_local_ev_targets, the same on every rank
 * (its teacher reads the inputs, not the model: see importance_shared.c). */
int ima_local_ev_targets_shared(float *target, ima_model *m, const ima_dataset *ds, const struct ima_collective *coll);

/* ---- the importance networks as a unit (stage-2 retraining and selection) ------------------ */

/* dst (m->n_params_imp) = the importance-net parameters */
void ima_model_importance_snapshot(const ima_model *m, float *dst);
/* the importance-net parameters = src (m->n_params_imp) */
void ima_model_importance_restore(ima_model *m, const float *src);
/* Fresh importance nets: re-initialised from seed (as ima_model_init draws them), Adam moments and
 * stage-2 step count zeroed. The autoencoder is untouched. */
void ima_model_importance_reset(ima_model *m, uint64_t seed);
/* Restarts stage 2 from src (m->n_params_imp parameters, e.g. a snapshot of the initial nets): the
 * importance-net parameters = src, their Adam moments and the stage-2 step count zeroed. */
void ima_model_importance_restart(ima_model *m, const float *src);
/* Sets the importance prior rho of modality j (in (0, 1); an error otherwise). */
int ima_model_set_rho(ima_model *m, int j, float rho);
/* Importances of every row of ds, all modalities present: y[j] (ds->n) for each modality j. */
int ima_model_importances(ima_model *m, const ima_dataset *ds, float *const *y); /* IMA_ERR: ds does not fit m */

/* ---- checkpoints (safetensors) ---------------------------------------------------------
 * Tensors: every parameter by name (see ima_model_param_views), "center.<modality>",
 * "optimizer.adam_m" and "optimizer.adam_v" (n_params each, parameter-buffer order).
 * __metadata__: "format" = "ima-checkpoint", "version" = "1", "config" (JSON of ima_config),
 * "train_config" (JSON), "train_state" (JSON: round, stage, epoch, finished, Adam steps, RNG). */
int ima_checkpoint_save(const char *path, const ima_model *m, const ima_train_config *tc, const ima_train_state *st);
/* Reads a checkpoint's configuration, training configuration and state without building the model
 * (any pointer may be NULL); every field is range-checked (batch_size 1..IMA_MAX_BATCH, epochs and
 * rounds, Adam settings). Resuming reads this first, then loads for the batch size it will use. */
int ima_checkpoint_read_state(const char *path, ima_config *cfg, ima_train_config *tc, ima_train_state *st);
/* Builds a model (max_batch rows) from a checkpoint; tc and st may be NULL. Every tensor's
 * presence, dtype and shape is checked against the configuration stored in the file. */
int ima_checkpoint_load(const char *path, size_t max_batch, ima_model **out, ima_train_config *tc, ima_train_state *st);

#endif
