/* baseline_train.h: the training loop and checkpoints of the baseline models (baselines.h), shared by
 * `ima train --model mvae|jmvae|dae`, the experiment runner and the benchmarks.
 *
 * Dimensions: N rows of a data set, M modalities, B batch rows, P parameters.
 *
 * Training: one stage. Every epoch shuffles the rows with the state's stream, then for every batch draws
 * the model's noise from the same stream (ima_baseline_sample_noise), computes the loss and gradient and
 * takes one Adam step. A non-finite loss term or gradient stops training before that update.
 *
 * Checkpoint (safetensors; ima_st_writer, written atomically):
 *   tensors      every parameter by its ima_baseline_param_views name, F32;
 *                "optimizer.adam_m", "optimizer.adam_v" (P) each, parameter-buffer order
 *   __metadata__ "format"      = "ima-baseline-checkpoint"
 *                "version"     = "1" (a newer version is refused)
 *                "ima_version" = the library version that wrote it
 *                "config"      = JSON of ima_baseline_config (kind by name, every field, the modalities)
 *                "train_state" = JSON: Adam step, epoch, epochs, batch_size, adam {lr, beta1, beta2, eps,
 *                                weight_decay}, rng (4 decimal strings: JSON numbers are doubles) */
#ifndef IMA_BASELINE_TRAIN_H
#define IMA_BASELINE_TRAIN_H

#include <stddef.h>

#include "ima/baselines.h"
#include "ima/train.h" /* ima_dataset */

/* ---- training ---------------------------------------------------------------------------------------- */

typedef struct {
    size_t batch_size;    // B (<= the model's max_batch)
    int epochs;           // E, epochs in all (training runs until st->epoch == epochs)
    ima_adam_config adam; // Adam (lr 1e-3)
} ima_baseline_train_config;

/* batch 256, 20 epochs, ima_adam_defaults() */
ima_baseline_train_config ima_baseline_train_defaults(void);

/* Where training stands (stored in checkpoints). */
typedef struct {
    int epoch;   // epochs completed
    ima_rng rng; // shuffling and noise stream
} ima_baseline_train_state;

void ima_baseline_train_state_init(ima_baseline_train_state *st, uint64_t seed);

/* What one finished epoch reports. */
typedef struct {
    int epoch, epochs;        // epoch is 1-based
    ima_baseline_terms terms; // means over the epoch's rows (each batch weighted by B / N)
    double seconds;           // wall time of the epoch
    size_t samples;           // rows processed
} ima_baseline_epoch_report;

typedef struct {
    void *ctx;
    /* after each batch: done / total batches of the epoch (may be NULL) */
    void (*on_batch)(void *ctx, size_t done, size_t total);
    /* after each epoch, with the state advanced (safe to checkpoint); non-zero stops with IMA_ERR (may be NULL) */
    int (*on_epoch)(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                    const ima_baseline_epoch_report *r);
} ima_baseline_train_callbacks;

/* Trains from st->epoch until cfg->epochs. A non-finite loss term (or gradient) stops training before the
 * offending update with an error naming the epoch, the batch and the term ("rec[NAME]", "kl", "kl_uni",
 * "total"). cb may be NULL. */
int ima_baseline_train(ima_baseline *bl, const ima_dataset *ds, const ima_baseline_train_config *cfg,
                       ima_baseline_train_state *st, const ima_baseline_train_callbacks *cb);

/* ---- checkpoints --------------------------------------------------------------------------------------- */

/* tc and st may be NULL (then the train_state holds only the Adam step). */
int ima_baseline_checkpoint_save(const char *path, const ima_baseline *bl, const ima_baseline_train_config *tc,
                                 const ima_baseline_train_state *st);
/* Builds a model for max_batch rows from a checkpoint; tc and st may be NULL. The configuration is validated,
 * every tensor's presence, dtype, shape and finiteness checked against it. */
int ima_baseline_checkpoint_load(const char *path, size_t max_batch, ima_baseline **out, ima_baseline_train_config *tc,
                                 ima_baseline_train_state *st);

/* Which kind of checkpoint a file is, from its "format" metadata: sets *is_baseline to 1 for
 * "ima-baseline-checkpoint", 0 for "ima-checkpoint"; an unreadable file or another format is an error. */
int ima_checkpoint_detect(const char *path, int *is_baseline);

#endif
