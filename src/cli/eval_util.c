/* eval_util.c: see eval_util.h */
#define _POSIX_C_SOURCE 200809L
#include "cli/eval_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/npy.h"

int eval_fail(const char *cmd) {
    fprintf(stderr, "ima %s: %s\n", cmd, ima_last_error());
    return 1;
}

int load_matrix(const char *cmd, const char *flag, const char *path, float **x, size_t *n, size_t *d) {
    if (ima_npy_read_f32_matrix(path, x, n, d) == IMA_OK && *n > 0) return 0;
    if (*x) ima_error("%s: 0 rows; expected at least one sample", path); /* read fine, but empty */
    free(*x), *x = NULL;
    fprintf(stderr, "ima %s: %s: %s\n", cmd, flag, ima_last_error());
    return -1;
}

/* 1-D integer array of exactly n entries (n = 0: any length, returned in *got) */
int load_ints(const char *cmd, const char *flag, const char *path, size_t n, int64_t **v, size_t *got) {
    size_t m;
    if (ima_npy_read_labels(path, v, &m)) {
        fprintf(stderr, "ima %s: %s: %s\n", cmd, flag, ima_last_error());
        return -1;
    }
    if (n && m != n) {
        fprintf(stderr, "ima %s: %s: %s has %zu entries, expected %zu (one per row of the representations)\n", cmd,
                flag, path, m, n);
        free(*v);
        *v = NULL;
        return -1;
    }
    if (got) *got = m;
    return 0;
}

/* a 0/1 flag array of n entries */
int load_flags(const char *cmd, const char *flag, const char *path, size_t n, uint8_t **out) {
    int64_t *v;
    if (load_ints(cmd, flag, path, n, &v, NULL)) return -1;
    uint8_t *m = ima_try_malloc(n ? n : 1, 1);
    if (!m) {
        fprintf(stderr, "ima %s: %s: %s\n", cmd, flag, ima_last_error());
        free(v);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0 && v[i] != 1) {
            fprintf(stderr, "ima %s: %s: entry %zu of %s is %lld; expected 0 or 1\n", cmd, flag, i, path,
                    (long long)v[i]);
            free(v);
            free(m);
            return -1;
        }
        m[i] = (uint8_t)v[i];
    }
    free(v);
    *out = m;
    return 0;
}

int write_json(const char *cmd, const char *path, cJSON *root) {
    char *text = cJSON_Print(root);
    FILE *f = fopen(path, "w");
    int ok = f && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f)) ok = 0;
    free(text);
    if (!ok) {
        fprintf(stderr, "ima %s: --json: cannot write %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    return 0;
}
