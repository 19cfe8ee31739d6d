/* args.h: strict parsing of command-line values, shared by every command (through flags.h).
 * A malformed value is an error naming the flag: never a silent default (STYLE.md). */
#ifndef IMA_CLI_ARGS_H
#define IMA_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0, or prints "ima CMD: --flag: expected ..., got 'value'" to stderr and returns -1. */
int arg_double(const char *cmd, const char *flag, const char *value, double lo, double hi, double *out);
int arg_float(const char *cmd, const char *flag, const char *value, double lo, double hi, float *out);
int arg_long(const char *cmd, const char *flag, const char *value, long lo, long hi, long *out);
int arg_u64(const char *cmd, const char *flag, const char *value, uint64_t *out);

/* Fetches the value of a flag: "--flag value" or "--flag=value". Advances *i past it.
 * Returns NULL (and prints an error) when the value is missing. */
const char *arg_value(const char *cmd, int argc, char **argv, int *i);
/* "--flag" or "--flag=..." matches name exactly (name includes the dashes). */
int arg_is(const char *arg, const char *name);
/* Prints "ima CMD: unknown option 'X' (see ima CMD --help)" and returns 2. */
int arg_unknown(const char *cmd, const char *arg);

#endif
