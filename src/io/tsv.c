/* tsv.c: the per-epoch log that survives kill -9 and --resume (see tsv.h). */
#define _POSIX_C_SOURCE 200809L

#include "io/tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "io/atomic.h"
#include "io/file.h"

/* 1 when the row's leading keys are <= keys (lexicographic), 0 after, -1 when it has no such keys */
static int row_at_or_before(const char *row, const long *keys, int n_keys) {
    const char *p = row;
    for (int k = 0; k < n_keys; k++) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end != '\t' && *end != '\0')) return -1;
        if (v != keys[k]) return v < keys[k];
        p = *end ? end + 1 : end;
    }
    return 1;
}

int ima_tsv_log_open(FILE **out, const char *path, const char *header, const long *keys, int n_keys) {
    *out = NULL;
    char *old = NULL;
    size_t len = 0;
    if (keys) {
        old = ima_read_text(path, (size_t)1 << 30, &len);
        if (!old && !strstr(ima_last_error(), "No such file")) return IMA_ERR;
    }
    /* the kept part: header, then every row at or before the checkpoint */
    ima_atomic_file af;
    if (ima_atomic_open(&af, path)) {
        free(old);
        return IMA_ERR;
    }
    int rc = ima_atomic_write(&af, header, strlen(header));
    if (rc == IMA_OK) rc = ima_atomic_write(&af, "\n", 1);
    for (char *line = old, *next; rc == IMA_OK && line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = '\0';
        if (!strcmp(line, header) || row_at_or_before(line, keys, n_keys) != 1) continue;
        rc = ima_atomic_write(&af, line, strlen(line));
        if (rc == IMA_OK) rc = ima_atomic_write(&af, "\n", 1);
    }
    free(old);
    if (rc != IMA_OK) {
        ima_atomic_abort(&af);
        return IMA_ERR;
    }
    if (ima_atomic_commit(&af)) return IMA_ERR;
    if (!(*out = fopen(path, "a"))) return ima_error("%s: cannot open for appending: %s", path, strerror(errno));
    return IMA_OK;
}
