/* none.c: dist.h without MPI (CMake found none): one process; run under mpirun, it says so. */
#include <stdlib.h>

#include "dist/dist.h"
#include "ima/common.h"

int ima_dist_start(ima_dist **out, int *argc, char ***argv) {
    (void)argc, (void)argv;
    *out = NULL;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return ima_error("launched by mpirun with %s ranks, but this ima was built without MPI (install "
                         "libopenmpi-dev and rebuild: docs/scaling.md)",
                         n);
    return IMA_OK;
}

const ima_collective *ima_dist_collective(ima_dist *d) { return (void)d, NULL; }
int ima_dist_rank(const ima_dist *d) { return (void)d, 0; }
void ima_dist_traffic(const ima_dist *d, double *bytes, double *calls) { (void)d, *bytes = *calls = 0; }
void ima_dist_overlap(const ima_dist *d, double *waits, double *done, double *started) {
    (void)d, *waits = *done = *started = 0;
}
void ima_dist_stop(ima_dist *d, int status) { (void)d, (void)status; }
