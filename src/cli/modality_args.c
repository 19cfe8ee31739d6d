/* modality_args.c: see modality_args.h */
#include "cli/modality_args.h"

#include <stdio.h>
#include <string.h>

int split_named(const char *arg, char *name, size_t cap, const char **value) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= cap) return -1;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    *value = eq + 1;
    return 0;
}

int inputs_index(const modality_inputs *in, const char *name) {
    for (int j = 0; j < in->n; j++)
        if (!strcmp(in->name[j], name)) return j;
    return -1;
}

int inputs_add(modality_inputs *in, const char *cmd, const char *arg) {
    char name[IMA_NAME_MAX];
    const char *path;
    if (split_named(arg, name, sizeof name, &path)) {
        fprintf(stderr, "ima %s: --input: expected NAME=PATH.npy, got '%s'\n", cmd, arg);
        return -1;
    }
    if (inputs_index(in, name) >= 0) {
        fprintf(stderr, "ima %s: --input: modality '%s' given twice\n", cmd, name);
        return -1;
    }
    if (in->n >= IMA_MAX_MODALITIES) {
        fprintf(stderr, "ima %s: --input: at most %d modalities\n", cmd, IMA_MAX_MODALITIES);
        return -1;
    }
    snprintf(in->name[in->n], IMA_NAME_MAX, "%s", name);
    in->path[in->n] = path;
    in->mask[in->n] = NULL;
    in->n++;
    return 0;
}
