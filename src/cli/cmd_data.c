/* cmd_data.c: placeholder until the data command lands (it refuses to run). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_data(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ima data: not built yet in this version\n");
    return 2;
}
