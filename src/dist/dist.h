/* dist.h: the `ima` executable's side of data-parallel training (docs/scaling.md). libima knows only
 * collective.h; this starts the transport (MPI, src/dist/mpi.c, when CMake found it; src/dist/none.c
 * otherwise) and hands the library a collective.
 *
 * A command is distributed when it runs under mpirun (the launcher's environment says so: Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK); without a launcher it runs as one process and never
 * touches MPI. IMA_MPI_TIMEOUT (seconds, default 300) bounds how long a rank waits for any one
 * collective: a rank that died or hangs makes the others stop with an error instead of waiting forever.
 * IMA_MPI_OVERLAP=1 overlaps the gradient's sum with the backward pass (collective.h, docs/scaling.md),
 * 0 sums it after; unset, overlap is on when the ranks span several machines and off on one. */
#ifndef IMA_DIST_H
#define IMA_DIST_H

#include <stddef.h>

#include "ima/collective.h"

typedef struct ima_dist ima_dist;

/* *out = NULL when not launched by mpirun (one process). Otherwise initialises the transport; an error
 * (the build has no MPI, MPI failed to start, a bad IMA_MPI_TIMEOUT) is IMA_ERR with ima_error set. */
int ima_dist_start(ima_dist **out, int *argc, char ***argv);
/* the collective of the group (NULL for d == NULL) */
const ima_collective *ima_dist_collective(ima_dist *d);
/* rank of this process (0 for NULL) */
int ima_dist_rank(const ima_dist *d);
/* bytes and calls of every sum so far (the gradients' and the statistics'); 0 for NULL */
void ima_dist_traffic(const ima_dist *d, double *bytes, double *calls);
/* overlap: steps that waited for started gradient sums, and of the sums they waited for, how many were
 * already complete when the wait began (the backward pass hid them) and how many in all; 0 for NULL */
void ima_dist_overlap(const ima_dist *d, double *waits, double *done, double *started);
/* Ends the group: status 0 waits for every rank and finalises; non-zero stops every rank of the job
 * (MPI_Abort), as after a failed collective, where a peer may never arrive. NULL does nothing. */
void ima_dist_stop(ima_dist *d, int status);

#endif
