/* progress.c: see progress.h */
#define _POSIX_C_SOURCE 200809L
#include "cli/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "ima/common.h"

void progress_begin(progress *p, const char *label, size_t total) {
    p->label = label;
    p->total = total ? total : 1;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = ima_wall_seconds();
    p->last_percent = -1;
}

void progress_update(progress *p, size_t done, const char *info) {
    int pct = (int)(100.0 * (double)done / (double)p->total);
    if (!p->tty) return; /* plain output: only progress_end lines */
    if (pct == p->last_percent && done != p->total) return;
    p->last_percent = pct;
    int width = 30, fill = (int)((double)width * (double)done / (double)p->total);
    char bar[64];
    for (int k = 0; k < width; k++) bar[k] = k < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %.1fs %s\033[K", p->label, bar, pct, ima_wall_seconds() - p->t0, info ? info : "");
    fflush(stderr);
}

void progress_end(progress *p, const char *info) {
    if (p->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s: done in %.1fs %s\n", p->label, ima_wall_seconds() - p->t0, info ? info : "");
}
