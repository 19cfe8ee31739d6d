/* cmd_embed.c: placeholder until the embed command lands (it refuses to run). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_embed(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ima embed: not built yet in this version\n");
    return 2;
}
