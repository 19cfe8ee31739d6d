/* fuzz_util.h: shared by the libFuzzer harnesses (tests/fuzz/README.md). The readers take paths, so each
 * input is written to a per-process file in /dev/shm (or $TMPDIR) first. */
#ifndef IMA_FUZZ_UTIL_H
#define IMA_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a per-process scratch folder, made once */
static const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(dir, sizeof dir, "%s/ima_fuzz_%d", base, (int)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* writes data to DIR/name; returns the path (static buffer per name slot) */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t n) {
    static char paths[4][512];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 512, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) abort(); /* the harness's own scratch space: not a finding */
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
    return p;
}

#endif
