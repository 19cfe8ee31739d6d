/* cmd_repro.c: placeholder until the repro command lands (it refuses to run). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_repro(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ima repro: not built yet in this version\n");
    return 2;
}
