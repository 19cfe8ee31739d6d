/* modality_args.c: see modality_args.h */
#include "cli/modality_args.h"

#include "cli/args.h"

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

int inputs_resolve_masks(modality_inputs *in, const char *cmd, const char *const *mask_args, int n) {
    for (int k = 0; k < n; k++) {
        char name[IMA_NAME_MAX];
        const char *path;
        int j;
        if (split_named(mask_args[k], name, sizeof name, &path) || (j = inputs_index(in, name)) < 0) {
            fprintf(stderr, "ima %s: --mask: expected NAME=PATH for a modality named by --input, got '%s'\n", cmd,
                    mask_args[k]);
            return -1;
        }
        in->mask[j] = path;
    }
    return 0;
}

int arg_loss(const char *cmd, const char *value, ima_loss_kind *out) {
    if (!strcmp(value, "bce"))
        *out = IMA_LOSS_BCE;
    else if (!strcmp(value, "sse"))
        *out = IMA_LOSS_SSE;
    else {
        fprintf(stderr, "ima %s: --loss: expected bce or sse, got '%s'\n", cmd, value);
        return -1;
    }
    return 0;
}

int named_opts_add(named_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (o->n >= NAMED_OPTS_MAX) {
        fprintf(stderr, "ima %s: too many per-modality options\n", cmd);
        return -1;
    }
    snprintf(o->flag[o->n], sizeof o->flag[o->n], "%.*s", (int)strcspn(a, "="), a);
    if (!(v = arg_value(cmd, argc, argv, i))) return -1;
    o->opt[o->n].flag = o->flag[o->n];
    o->opt[o->n].arg = v;
    o->n++;
    return 0;
}

int named_target(const modality_inputs *in, const char *cmd, const named_opt *o, int *lo, int *hi,
                 const char **value) {
    char name[IMA_NAME_MAX];
    *value = o->arg;
    *lo = 0, *hi = in->n;
    if (strchr(o->arg, '=')) {
        if (split_named(o->arg, name, sizeof name, value)) {
            fprintf(stderr, "ima %s: %s: expected NAME=VALUE or VALUE, got '%s'\n", cmd, o->flag, o->arg);
            return -1;
        }
        int j = inputs_index(in, name);
        if (j < 0) {
            fprintf(stderr, "ima %s: %s: no modality named '%s' (name it with --input %s=PATH)\n", cmd, o->flag,
                    name, name);
            return -1;
        }
        *lo = j, *hi = j + 1;
    }
    return 0;
}
