/* train_opts.h: the options of `ima train` (IMA and the baselines share one flag table, cmd_train.c).
 * Every default comes from the library: ima_config_defaults, ima_train_defaults,
 * ima_baseline_config_defaults, ima_baseline_train_defaults. */
#ifndef IMA_CLI_TRAIN_OPTS_H
#define IMA_CLI_TRAIN_OPTS_H

#include <stdint.h>

#include "cli/flags.h"
#include "ima/baseline_train.h"
#include "ima/train.h"

/* variants of `ima train` (--model), as flag_spec.only bits: bit k = model k */
enum { MODEL_IMA = 0, MODEL_MVAE = 1, MODEL_JMVAE = 2, MODEL_DAE = 3 };
#define V_IMA (1u << MODEL_IMA)
#define V_MVAE (1u << MODEL_MVAE)
#define V_JMVAE (1u << MODEL_JMVAE)
#define V_DAE (1u << MODEL_DAE)
#define V_BASELINES (V_MVAE | V_JMVAE | V_DAE)

typedef struct {
    int model;                                  // --model: MODEL_*
    modality_inputs in;                         // --input, --mask
    const char *valid_path[IMA_MAX_MODALITIES]; // --valid-input NAME=PATH, in --input order
    const char *valid_mask[IMA_MAX_MODALITIES]; // --valid-mask NAME=PATH
    int preset_digits;                          // --preset digits
    ima_config cfg;                             // IMA model
    ima_train_config tc;                        // IMA training
    ima_baseline_config bcfg;                   // baseline model
    ima_baseline_train_config btc;              // baseline training
    int gaussian;                               // --gaussian-decoders
    uint64_t seed;
    int threads;
    const char *out, *resume, *log;
    int quiet;
} train_opts;

/* the library's defaults for model (MODEL_*) */
train_opts train_opts_defaults(int model);

/* cmd_train_baseline.c: trains the baseline o->model on ds (loaded from o->in); returns the exit code */
int train_baseline_run(train_opts *o, const flag_seen *seen, ima_dataset *ds);

#endif
