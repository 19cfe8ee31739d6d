/* flags.c: see flags.h */
#include "cli/flags.h"

#include <stdint.h>
#include <string.h>

#include "cli/args.h"

static void *target(void *opts, const flag_spec *f, int j) { return (char *)opts + f->off + (size_t)j * f->stride; }

/* parses value into the target of f (modality j for per-modality flags) */
static int set_value(const flag_cmd *c, void *opts, const flag_spec *f, int j, const char *value) {
    void *t = target(opts, f, j);
    long v;
    switch (f->type) {
    case FLAG_SET: *(int *)t = (int)f->lo; return 0;
    case FLAG_INT:
        if (arg_long(c->cmd, f->name, value, (long)f->lo, (long)f->hi, &v)) return -1;
        *(int *)t = (int)v;
        return 0;
    case FLAG_SIZE:
        if (arg_long(c->cmd, f->name, value, (long)f->lo, (long)f->hi, &v)) return -1;
        *(size_t *)t = (size_t)v;
        return 0;
    case FLAG_LONG: return arg_long(c->cmd, f->name, value, (long)f->lo, (long)f->hi, (long *)t);
    case FLAG_FLOAT: return arg_float(c->cmd, f->name, value, f->lo, f->hi, (float *)t);
    case FLAG_DOUBLE: return arg_double(c->cmd, f->name, value, f->lo, f->hi, (double *)t);
    case FLAG_U64: return arg_u64(c->cmd, f->name, value, (uint64_t *)t);
    case FLAG_STR: *(const char **)t = value; return 0;
    case FLAG_CHOICE:
        for (int k = 0; f->choices[k]; k++)
            if (!strcmp(value, f->choices[k])) return *(int *)t = k, 0;
        fprintf(stderr, "ima %s: %s: expected one of", c->cmd, f->name);
        for (int k = 0; f->choices[k]; k++) fprintf(stderr, "%s %s", k ? "," : "", f->choices[k]);
        fprintf(stderr, ", got '%s'\n", value);
        return -1;
    case FLAG_CUSTOM: return f->parse(c->cmd, f, value, t) ? -1 : 0;
    case FLAG_SECTION: break;
    }
    return -1;
}

/* the table entry named by arg for the running variant; *other: an entry of that name for another variant */
static const flag_spec *lookup(const flag_cmd *c, const char *arg, const flag_spec **other) {
    *other = NULL;
    for (const flag_spec *f = c->flags; f->name; f++) {
        if (f->type == FLAG_SECTION || !arg_is(arg, f->name)) continue;
        if (!f->only || !c->variant || (f->only & c->variant)) return f;
        *other = f;
    }
    return NULL;
}

static int refuse(const flag_cmd *c, const char *arg, const flag_spec *other) {
    if (!other) return arg_unknown(c->cmd, arg);
    fprintf(stderr, "ima %s: %s applies to %s only, not to --model %s (see ima %s --help)\n", c->cmd, other->name,
            c->variant_set ? c->variant_set(other->only, c->variant) : "other variants", c->variant_name, c->cmd);
    return FLAGS_ERROR;
}

int flags_parse(const flag_cmd *c, void *opts, int argc, char **argv, flag_seen *seen) {
    seen->n = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return FLAGS_HELP;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (a[0] != '-' || !a[1]) {
            if (!c->positional || *(const char **)((char *)opts + c->positional_off)) return arg_unknown(c->cmd, a);
            *(const char **)((char *)opts + c->positional_off) = a;
            continue;
        }
        const flag_spec *other, *f = lookup(c, a, &other);
        if (!f) return refuse(c, a, other);
        if (f->type == FLAG_SET) {
            if (strchr(a, '=')) return arg_unknown(c->cmd, a);
        } else if (!(v = arg_value(c->cmd, argc, argv, &i))) {
            return FLAGS_ERROR;
        }
        if (seen->n == FLAGS_MAX_OCC) {
            fprintf(stderr, "ima %s: more than %d options\n", c->cmd, FLAGS_MAX_OCC);
            return FLAGS_ERROR;
        }
        seen->spec[seen->n] = f;
        seen->value[seen->n++] = v;
        if (!f->stride && set_value(c, opts, f, 0, v)) return FLAGS_ERROR;
    }
    for (const flag_spec *f = c->flags; f->name; f++)
        if (f->required && !flags_given(seen, f->name)) {
            fprintf(stderr, "ima %s: %s is required (see ima %s --help)\n", c->cmd, f->name, c->cmd);
            return FLAGS_ERROR;
        }
    return FLAGS_OK;
}

/* the modalities [*lo, *hi) a per-modality value names, and the value itself */
static int modal_target(const flag_cmd *c, const flag_spec *f, const char *arg, const modality_inputs *in, int *lo,
                        int *hi, const char **value) {
    char name[IMA_NAME_MAX];
    *value = arg;
    *lo = 0, *hi = in->n;
    if (!strchr(arg, '=')) {
        if (!f->named_only) return 0;
        fprintf(stderr, "ima %s: %s: expected NAME=%s for a modality named by --input, got '%s'\n", c->cmd, f->name,
                f->arg ? f->arg : "VALUE", arg);
        return -1;
    }
    if (split_named(arg, name, sizeof name, value)) {
        fprintf(stderr, "ima %s: %s: expected NAME=VALUE or VALUE, got '%s'\n", c->cmd, f->name, arg);
        return -1;
    }
    int j = inputs_index(in, name);
    if (j < 0) {
        fprintf(stderr, "ima %s: %s: no modality named '%s' (name it with --input %s=PATH)\n", c->cmd, f->name, name,
                name);
        return -1;
    }
    *lo = j, *hi = j + 1;
    return 0;
}

int flags_apply_modal(const flag_cmd *c, void *opts, const flag_seen *seen, const modality_inputs *in) {
    for (int k = 0; k < seen->n; k++) {
        const flag_spec *f = seen->spec[k];
        const char *value;
        int lo, hi;
        if (!f->stride) continue;
        if (modal_target(c, f, seen->value[k], in, &lo, &hi, &value)) return FLAGS_ERROR;
        for (int j = lo; j < hi; j++)
            if (set_value(c, opts, f, j, value)) return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

int flags_reapply(const flag_cmd *c, void *opts, const flag_seen *seen, size_t lo, size_t hi) {
    for (int k = 0; k < seen->n; k++) {
        const flag_spec *f = seen->spec[k];
        if (!f->stride && f->off >= lo && f->off < hi && set_value(c, opts, f, 0, seen->value[k])) return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

int flags_given(const flag_seen *seen, const char *name) {
    for (int k = 0; k < seen->n; k++)
        if (!strcmp(seen->spec[k]->name, name)) return 1;
    return 0;
}

unsigned flags_given_modal(const flag_seen *seen, const modality_inputs *in, const char *name) {
    unsigned bits = 0;
    for (int k = 0; k < seen->n; k++) {
        if (strcmp(seen->spec[k]->name, name)) continue;
        char nm[IMA_NAME_MAX];
        const char *v;
        int j;
        if (split_named(seen->value[k], nm, sizeof nm, &v)) bits = ~0u;
        else if ((j = inputs_index(in, nm)) >= 0) bits |= 1u << j;
    }
    return bits;
}

/* the default of f as text ("" when it has none to show) */
static void default_text(char *buf, size_t n, const flag_spec *f, const void *defaults) {
    const void *t = (const char *)defaults + f->off;
    buf[0] = '\0';
    if (f->no_default) return;
    switch (f->type) {
    case FLAG_INT: snprintf(buf, n, " (%d)", *(const int *)t); break;
    case FLAG_SIZE: snprintf(buf, n, " (%zu)", *(const size_t *)t); break;
    case FLAG_LONG: snprintf(buf, n, " (%ld)", *(const long *)t); break;
    case FLAG_FLOAT: snprintf(buf, n, " (%g)", (double)*(const float *)t); break;
    case FLAG_DOUBLE: snprintf(buf, n, " (%g)", *(const double *)t); break;
    case FLAG_U64: snprintf(buf, n, " (%llu)", (unsigned long long)*(const uint64_t *)t); break;
    case FLAG_STR:
        if (*(const char *const *)t) snprintf(buf, n, " (%s)", *(const char *const *)t);
        break;
    case FLAG_CHOICE: snprintf(buf, n, " (%s)", f->choices[*(const int *)t]); break;
    default: break;
    }
}

void flags_help(FILE *out, const flag_cmd *c, const void *defaults, unsigned variant) {
    for (const flag_spec *f = c->flags; f->name; f++) {
        if (!f->help || (variant && f->only && !(f->only & variant))) continue;
        if ((variant & FLAGS_HELP_EXCLUSIVE) && !f->only) continue;
        if (f->type == FLAG_SECTION) {
            fprintf(out, "%s\n", f->help);
            continue;
        }
        char left[64], def[64];
        snprintf(left, sizeof left, "%s%s%s%s", f->name, f->arg ? " " : "",
                 f->stride && !f->named_only ? "[NAME=]"
                 : f->stride                 ? "NAME="
                                             : "",
                 f->arg ? f->arg : "");
        default_text(def, sizeof def, f, defaults);
        fprintf(out, "  %-26s %s%s\n", left, f->help, def);
    }
}

int flag_parse_input(const char *cmd, const flag_spec *f, const char *value, void *target) {
    (void)f;
    return inputs_add(target, cmd, value);
}

const char *const FLAG_LOSS_CHOICES[] = {"bce", "sse", NULL}; /* IMA_LOSS_BCE = 0, IMA_LOSS_SSE = 1 */

int flag_each_listed(const char *cmd, const flag_spec *f, const char *value, size_t bufsize, size_t max,
                     flag_token_fn each, void *ctx) {
    char buf[512];
    if (bufsize > sizeof buf) bufsize = sizeof buf;
    if (strlen(value) >= bufsize) {
        fprintf(stderr, "ima %s: %s: list too long\n", cmd, f->name);
        return -1;
    }
    strcpy(buf, value);
    size_t n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) {
            fprintf(stderr, "ima %s: %s: at most %zu values\n", cmd, f->name, max);
            return -1;
        }
        if (each(cmd, f, tok, n++, ctx)) return -1;
    }
    if (n == 0) {
        fprintf(stderr, "ima %s: %s: expected a comma-separated list, got '%s'\n", cmd, f->name, value);
        return -1;
    }
    return 0;
}

static int size_token(const char *cmd, const flag_spec *f, const char *tok, size_t k, void *ctx) {
    flag_sizes *l = ctx;
    long v;
    if (arg_long(cmd, f->name, tok, (long)f->lo, (long)f->hi, &v)) return -1;
    l->v[k] = (size_t)v;
    l->n = k + 1;
    return 0;
}

int flag_parse_sizes(const char *cmd, const flag_spec *f, const char *value, void *target) {
    flag_sizes *l = target;
    l->n = 0;
    return flag_each_listed(cmd, f, value, 256, FLAG_LIST_MAX, size_token, l);
}

int flag_parse_append(const char *cmd, const flag_spec *f, const char *value, void *target) {
    flag_strings *l = target;
    if (l->n == FLAG_LIST_MAX) {
        fprintf(stderr, "ima %s: %s: at most %d\n", cmd, f->name, FLAG_LIST_MAX);
        return -1;
    }
    l->v[l->n++] = value;
    return 0;
}
