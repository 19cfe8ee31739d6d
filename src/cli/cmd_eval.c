/* cmd_eval.c: placeholder until the eval command lands (it refuses to run). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ima eval: not built yet in this version\n");
    return 2;
}
