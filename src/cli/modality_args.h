/* modality_args.h: the modalities a command names with --input NAME=PATH (train, embed), which the
 * per-modality flags of flags.h ("--hidden NAME=H" or "--hidden H") refer to. */
#ifndef IMA_CLI_MODALITY_ARGS_H
#define IMA_CLI_MODALITY_ARGS_H

#include <stddef.h>

#include "ima/model.h"

typedef struct {
    int n; // modalities named by --input, in order
    char name[IMA_MAX_MODALITIES][IMA_NAME_MAX];
    const char *path[IMA_MAX_MODALITIES]; // --input
    const char *mask[IMA_MAX_MODALITIES]; // --mask (NULL: all present)
} modality_inputs;

/* Splits "NAME=VALUE"; returns 0 and sets name/value, or -1 (no '=' or empty parts). */
int split_named(const char *arg, char *name, size_t cap, const char **value);
/* Adds --input NAME=PATH; errors name the flag. */
int inputs_add(modality_inputs *in, const char *cmd, const char *arg);
/* The index of the modality named NAME by --input, or -1. */
int inputs_index(const modality_inputs *in, const char *name);

#endif
