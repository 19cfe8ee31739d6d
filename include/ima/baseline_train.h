/* baseline_train.h: the training loop and checkpoints of the baseline models (baselines.h), shared by
 * `ima train --model mvae|jmvae|dae`, the experiment runner and the benchmarks.
 *
 * Dimensions: N rows of a data set, M modalities, B batch rows, P parameters.
 *
 * Training: one stage. Every epoch shuffles the rows with the state's stream, then for every batch draws
 * the model's noise from the same stream (ima_baseline_sample_noise), computes the loss and gradient and
 * takes one Adam step. A non-finite loss term or gradient stops training before that update.
 *
 * KL warm-up (kl_warmup_epochs W > 0; MVAE and JMVAE): the weight of KL(q || N(0, I)) is beta * a with
 * a = min(1, t / (W nb)) for the t-th batch of training (1-based, nb batches per epoch): linear from ~0 to 1
 * over the first W epochs, per batch (Wu & Goodman's MVAE code; Suzuki et al.'s JMVAE code anneals the same
 * term, per epoch). The unimodal KL terms of JMVAE (alpha) are not annealed.
 *
 * Early stopping (callbacks.valid set): after every epoch the validation loss is computed: the full
 * objective (KL weight beta, no warm-up factor) on the validation rows in batches of batch_size, the noise
 * drawn from a fixed stream (IMA_BASELINE_VALID_SEED, the same for every epoch and model), without a
 * gradient. Epochs before the warm-up has ended (epoch < W) are not candidates. With patience P > 0 training
 * stops once P epochs have passed without a lower validation loss than the best candidate's, or at the cap
 * (epochs); either way the parameters of the best candidate epoch are restored at the end (the Adam moments
 * stay those of the last epoch). With P = 0 training runs to the cap and the last epoch is kept (the
 * validation loss is still reported). The best epoch and its loss are kept in the state, the parameters in
 * memory only: a resumed run starts its patience afresh.
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
    int epochs;           // E, epochs in all, the cap (training runs until st->epoch == epochs or it stops early)
    ima_adam_config adam; // Adam (lr 1e-3)
    int kl_warmup_epochs; // W: linear KL warm-up over the first W epochs (0: none, the KL weight is beta throughout)
    int patience;         // P: early stopping on the validation loss (needs callbacks.valid; 0: off)
} ima_baseline_train_config;

/* seed of the validation noise stream (see early stopping above) */
#define IMA_BASELINE_VALID_SEED 0x7a11d5eedULL

/* batch 256, 20 epochs, ima_adam_defaults(), no warm-up, no early stopping */
ima_baseline_train_config ima_baseline_train_defaults(void);

/* Where training stands (stored in checkpoints). */
typedef struct {
    int epoch;        // epochs completed
    ima_rng rng;      // shuffling and noise stream
    int best_epoch;   // with a validation set: the best candidate epoch so far (1-based; 0: none yet)
    double best_loss; // its validation loss
    int stopped;      // 1 once early stopping has ended training (ima_baseline_train returns at once)
} ima_baseline_train_state;

void ima_baseline_train_state_init(ima_baseline_train_state *st, uint64_t seed);

/* What one finished epoch reports. */
typedef struct {
    int epoch, epochs;        // epoch is 1-based
    ima_baseline_terms terms; // means over the epoch's rows (each batch weighted by B / N)
    double kl_weight;         // the warm-up factor a of the epoch's last batch (1 without warm-up)
    int validated;            // 1 when a validation set was given: the fields below are set
    ima_baseline_terms valid; // validation loss terms (means over the validation rows; total: the full objective)
    double monitor;           // the monitor callback's value for this epoch (NAN without one)
    int best_epoch;           // best candidate epoch so far (0: none yet, e.g. during warm-up)
    int stop;                 // 1 when this epoch ends training early (patience exhausted)
    double seconds;           // wall time of the epoch (training only)
    size_t samples;           // rows processed
} ima_baseline_epoch_report;

typedef struct {
    void *ctx;
    /* after each batch: done / total batches of the epoch (may be NULL) */
    void (*on_batch)(void *ctx, size_t done, size_t total);
    /* after each epoch, with the state advanced (safe to checkpoint); non-zero stops with IMA_ERR (may be NULL) */
    int (*on_epoch)(void *ctx, const ima_baseline *bl, const ima_baseline_train_state *st,
                    const ima_baseline_epoch_report *r);
    /* validation set (may be NULL): validation loss after every epoch and early stopping (see above) */
    const ima_dataset *valid;
    /* after each epoch's validation loss, before on_epoch (may be NULL): a number to log, e.g. validation
     * P@10 of the representation. It may run forward passes in bl's buffers but must not change its
     * parameters. Non-zero stops with IMA_ERR. */
    int (*monitor)(void *ctx, ima_baseline *bl, double *value);
} ima_baseline_train_callbacks;

/* Trains from st->epoch until cfg->epochs (or early stopping; then st->stopped = 1). On return after
 * validation, the best candidate epoch's parameters are in bl when early stopping is on. A non-finite loss
 * term (or gradient) stops training before the offending update with an error naming the epoch, the batch
 * and the term ("rec[NAME]", "kl", "kl_uni", "total"). cb may be NULL. */
int ima_baseline_train(ima_baseline *bl, const ima_dataset *ds, const ima_baseline_train_config *cfg,
                       ima_baseline_train_state *st, const ima_baseline_train_callbacks *cb);

/* The validation loss of ds: the full objective (KL weight beta) with noise from a stream seeded with
 * IMA_BASELINE_VALID_SEED, in batches of batch_size rows (<= max_batch); terms are means over the rows. */
int ima_baseline_valid_loss(ima_baseline *bl, const ima_dataset *ds, size_t batch_size, ima_baseline_terms *terms);

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
