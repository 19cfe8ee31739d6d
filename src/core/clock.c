/* clock.c: the one wall clock of the library and the tool (see common.h). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "ima/common.h"

double ima_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
