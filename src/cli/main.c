/* main.c: the ima command-line tool: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a model (IMA or a baseline) on one .npy per modality"},
    {"embed", cmd_embed, "compute representations (u_j, y_j, z) with a trained checkpoint"},
    {"data", cmd_data, "build (data digits) or look at (data inspect) a data set"},
    {"eval", cmd_eval, "evaluate representations: retrieval, classification, importance, t-SNE"},
    {"repro", cmd_repro, "reproduce the paper's experiments end to end (repro digits)"},
    {"toy", cmd_toy, "write a small two-modality example data set (no download needed)"},
};

static void usage(FILE *out) {
    fprintf(out,
            "ima %s: Importance-based Multimodal Autoencoder\n\n"
            "usage: ima COMMAND [options]      (ima COMMAND --help for its options)\n\ncommands:\n",
            IMA_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ima %s\n", IMA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr,
            "ima: unknown command '%s' (expected one of: train, embed, data, eval, repro, toy; see ima --help)\n",
            argv[1]);
    return 2;
}
