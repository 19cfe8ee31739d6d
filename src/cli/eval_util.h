/* eval_util.h: what the `ima eval` subcommands share: loading their .npy inputs with errors that name
 * the flag, and writing the JSON result. Each prints "ima CMD: --flag: ..." and returns -1 on failure. */
#ifndef IMA_CLI_EVAL_UTIL_H
#define IMA_CLI_EVAL_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* prints the library's last error; returns 1 (the exit code) */
int eval_fail(const char *cmd);
int load_matrix(const char *cmd, const char *flag, const char *path, float **x, size_t *n, size_t *d);
/* 1-D integer array of exactly n entries (n = 0: any length, returned in *got) */
int load_ints(const char *cmd, const char *flag, const char *path, size_t n, int64_t **v, size_t *got);
/* a 0/1 flag array of n entries */
int load_flags(const char *cmd, const char *flag, const char *path, size_t n, uint8_t **out);
int write_json(const char *cmd, const char *path, cJSON *root);

int eval_classify(int argc, char **argv); /* cmd_eval_classify.c */
int eval_tsne(int argc, char **argv);     /* cmd_eval_tsne.c */

#endif
