/* modality_args.h: the per-modality flags shared by train and embed ("--input NAME=PATH",
 * "--hidden NAME=H", "--lambda-rec NAME=V" or "--lambda-rec V" for every modality, ...). */
#ifndef IMA_CLI_MODALITY_ARGS_H
#define IMA_CLI_MODALITY_ARGS_H

#include "ima/model.h"

typedef struct {
    int n;                                  // modalities named by --input, in order
    char name[IMA_MAX_MODALITIES][IMA_NAME_MAX];
    const char *path[IMA_MAX_MODALITIES];   // --input
    const char *mask[IMA_MAX_MODALITIES];   // --mask (NULL: all present)
} modality_inputs;

/* Splits "NAME=VALUE"; returns 0 and sets name/value, or -1 (no '=' or empty parts). */
int split_named(const char *arg, char *name, size_t cap, const char **value);
/* Adds --input NAME=PATH; errors name the flag. */
int inputs_add(modality_inputs *in, const char *cmd, const char *arg);
/* The index of the modality named NAME by --input, or -1. */
int inputs_index(const modality_inputs *in, const char *name);
/* Sets in->mask from the n "--mask NAME=PATH" values (given before or after the --input that names the
 * modality); errors name the flag. */
int inputs_resolve_masks(modality_inputs *in, const char *cmd, const char *const *mask_args, int n);

/* --loss bce|sse */
int arg_loss(const char *cmd, const char *value, ima_loss_kind *out);

/* Per-modality flags ("--hidden image=500", or "--hidden 500" for every modality), kept in command-line
 * order and applied once every --input is known. */
#define NAMED_OPTS_MAX 128
typedef struct {
    const char *flag; // "--hidden" (the flag without "=VALUE")
    const char *arg;  // "image=500" or "500"
} named_opt;
typedef struct {
    int n;
    named_opt opt[NAMED_OPTS_MAX];
    char flag[NAMED_OPTS_MAX][32]; // storage of opt[k].flag
} named_opts;
/* Records argv[*i] and its value ("--flag value" or "--flag=value"); advances *i past the value. */
int named_opts_add(named_opts *o, const char *cmd, int argc, char **argv, int *i);
/* The modalities [*lo, *hi) of the in->n named by --input that o applies to, and its VALUE. */
int named_target(const modality_inputs *in, const char *cmd, const named_opt *o, int *lo, int *hi,
                 const char **value);

#endif
