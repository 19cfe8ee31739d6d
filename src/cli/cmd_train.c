/* cmd_train.c: placeholder until the train command lands (it refuses to run). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ima train: not built yet in this version\n");
    return 2;
}
