/* cmd_toy.c: `ima toy DIR`: write the small built-in example data set (see include/ima/toy.h). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "ima/common.h"
#include "ima/toy.h"

int cmd_toy(int argc, char **argv) {
    const char *dir = NULL;
    long n_train = 4000, n_test = 1000;
    double R = 0.1;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: ima toy DIR [--train N (4000)] [--test N (1000)] [--noise-factor R (0.1)] [--seed S (1)]\n"
                   "Writes a small two-modality example (a: 24 values in [0,1], bce; b: 16 real values, sse) with\n"
                   "labels and noise flags to DIR/train and DIR/test. Needs no download.\n");
            return 0;
        }
        if (a[0] != '-') {
            if (dir) return arg_unknown("toy", a);
            dir = a;
            continue;
        }
        if (!(arg_is(a, "--train") || arg_is(a, "--test") || arg_is(a, "--noise-factor") || arg_is(a, "--seed")))
            return arg_unknown("toy", a);
        if (!(v = arg_value("toy", argc, argv, &i))) return 2;
        if (arg_is(a, "--train") && arg_long("toy", a, v, 1, 100000000, &n_train)) return 2;
        if (arg_is(a, "--test") && arg_long("toy", a, v, 1, 100000000, &n_test)) return 2;
        if (arg_is(a, "--noise-factor") && arg_double("toy", a, v, 0, 1, &R)) return 2;
        if (arg_is(a, "--seed") && arg_u64("toy", a, v, &seed)) return 2;
    }
    if (!dir) {
        fprintf(stderr, "ima toy: missing DIR (see ima toy --help)\n");
        return 2;
    }
    if (ima_toy_write(dir, (size_t)n_train, (size_t)n_test, R, seed)) {
        fprintf(stderr, "ima toy: %s\n", ima_last_error());
        return 1;
    }
    fprintf(stderr, "ima toy: wrote %s/train (%ld samples) and %s/test (%ld samples)\n", dir, n_train, dir, n_test);
    return 0;
}
