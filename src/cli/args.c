/* args.c: see args.h */
#define _POSIX_C_SOURCE 200809L
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_double(const char *cmd, const char *flag, const char *value, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (!*value || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "ima %s: %s: expected a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, value);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_float(const char *cmd, const char *flag, const char *value, double lo, double hi, float *out) {
    double v;
    if (arg_double(cmd, flag, value, lo, hi, &v)) return -1;
    *out = (float)v;
    return 0;
}

int arg_long(const char *cmd, const char *flag, const char *value, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (!*value || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "ima %s: %s: expected an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo, hi, value);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_u64(const char *cmd, const char *flag, const char *value, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (!*value || *value == '-') goto bad;
    unsigned long long v = strtoull(value, &end, 10);
    if (*end || errno) goto bad;
    *out = (uint64_t)v;
    return 0;
bad:
    fprintf(stderr, "ima %s: %s: expected a non-negative integer, got '%s'\n", cmd, flag, value);
    return -1;
}

int arg_is(const char *arg, const char *name) {
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

const char *arg_value(const char *cmd, int argc, char **argv, int *i) {
    const char *eq = strchr(argv[*i], '=');
    if (eq && argv[*i][0] == '-') return eq + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "ima %s: %s: missing value\n", cmd, argv[*i]);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

int arg_unknown(const char *cmd, const char *arg) {
    fprintf(stderr, "ima %s: unknown option '%s' (see ima %s --help)\n", cmd, arg, cmd);
    return 2;
}
