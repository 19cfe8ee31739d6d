/* progress.h: progress display of the commands: a bar on a terminal (stderr is a tty), one plain line
 * per finished step otherwise. */
#ifndef IMA_CLI_PROGRESS_H
#define IMA_CLI_PROGRESS_H

#include <stddef.h>

typedef struct {
    const char *label;
    size_t total;
    int tty;
    double t0;
    int last_percent;
} progress;

void progress_begin(progress *p, const char *label, size_t total);
/* done units out of total; info is an extra suffix (may be NULL) */
void progress_update(progress *p, size_t done, const char *info);
void progress_end(progress *p, const char *info);

#endif
