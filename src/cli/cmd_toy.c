/* cmd_toy.c: `ima toy DIR`: write the small built-in example data set (see include/ima/toy.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "ima/common.h"
#include "ima/toy.h"

typedef struct {
    const char *dir;
    size_t n_train, n_test;
    double noise_factor;
    uint64_t seed;
} toy_opts;

#define O(field) offsetof(toy_opts, field)
static const flag_spec FLAGS[] = {
    FLAG_ROW("--train", FLAG_SIZE, O(n_train), 1, 100000000, "N", "training samples", 0),
    FLAG_ROW("--test", FLAG_SIZE, O(n_test), 1, 100000000, "N", "test samples", 0),
    FLAG_ROW("--noise-factor", FLAG_DOUBLE, O(noise_factor), 0, 1, "R", "noise share R / (1 + R) per modality", 0),
    FLAG_ROW("--seed", FLAG_U64, O(seed), 0, 0, "S", "seed", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "toy", .flags = FLAGS, .positional = "DIR", .positional_off = O(dir)};
static const toy_opts DEFAULTS = {.n_train = 4000, .n_test = 1000, .noise_factor = 0.1, .seed = 1};

int cmd_toy(int argc, char **argv) {
    toy_opts o = DEFAULTS;
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) {
        printf("usage: ima toy DIR [options]\n"
               "Writes a small two-modality example (a: 24 values in [0,1], bce; b: 16 real values, sse) with\n"
               "labels and noise flags to DIR/train and DIR/test. Needs no download.\n");
        flags_help(stdout, &CMD, &DEFAULTS, 0);
        return 0;
    }
    if (rc) return rc;
    if (!o.dir) {
        fprintf(stderr, "ima toy: missing DIR (see ima toy --help)\n");
        return 2;
    }
    if (ima_toy_write(o.dir, o.n_train, o.n_test, o.noise_factor, o.seed)) {
        fprintf(stderr, "ima toy: %s\n", ima_last_error());
        return 1;
    }
    fprintf(stderr, "ima toy: wrote %s/train (%zu samples) and %s/test (%zu samples)\n", o.dir, o.n_train, o.dir,
            o.n_test);
    return 0;
}
