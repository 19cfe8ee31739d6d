/* mpi_overlap.c: src/dist/mpi.c's overlapped sums (collective.h's isum_float / progress / wait) under
 * mpirun, run by tests/cli_mpi.sh; built only with MPI. Not a ctest of its own.
 *   mpi_overlap sum    every rank starts 5 sums of ranges of one buffer (sizes 1 to 300,000 floats, one
 *                      of them started while a blocking sum runs between), makes progress, waits: each
 *                      value must be the sum over the ranks (exit 0, "ok" from rank 0)
 *   mpi_overlap stall  rank 0 starts a sum that rank 1 never joins (rank 1 sleeps) and waits: the wait
 *                      must end with the IMA_MPI_TIMEOUT error, which rank 0 prints before it stops the job
 *                      (MPI_Abort), as `ima train` does */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "ima/common.h"

#define N 600000

static int fail_stop(ima_dist *d, const char *what) {
    fprintf(stderr, "mpi_overlap: rank %d: %s: %s\n", ima_dist_rank(d), what, ima_last_error());
    ima_dist_stop(d, 1);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "sum") && strcmp(argv[1], "stall"))) {
        fprintf(stderr, "usage: mpirun -np P mpi_overlap sum|stall\n");
        return 2;
    }
    ima_dist *d;
    if (ima_dist_start(&d, &argc, &argv)) {
        fprintf(stderr, "mpi_overlap: %s\n", ima_last_error());
        return 1;
    }
    const ima_collective *c = ima_dist_collective(d);
    if (!d || !ima_collective_overlaps(c)) {
        fprintf(stderr, "mpi_overlap: needs mpirun with 2 or more ranks and IMA_MPI_OVERLAP unset or 1\n");
        ima_dist_stop(d, 1);
        return 1;
    }
    int r = c->rank, P = c->size;
    float *buf = malloc(N * sizeof *buf);
    if (!buf) return fail_stop(d, "out of memory");
    for (size_t k = 0; k < N; k++) buf[k] = (float)(r + 1) * (float)(k % 1000); /* sums exactly in float */
    if (!strcmp(argv[1], "stall")) {
        if (r == 1) {
            sleep(60); /* never joins: rank 0's wait must time out and stop the job first */
            return 0;
        }
        if (ima_collective_start_sum_float(c, buf, N) || ima_collective_progress(c))
            return fail_stop(d, "starting");
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = ima_collective_wait(c);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc == IMA_OK) {
            fprintf(stderr, "mpi_overlap: the wait completed without rank 1\n");
            ima_dist_stop(d, 1);
            return 1;
        }
        fprintf(stderr, "mpi_overlap: wait failed after %.1f s: %s\n",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), ima_last_error());
        ima_dist_stop(d, 1);
        return 1;
    }
    /* ranges as a backward pass would start them: later ones first, of very different sizes */
    size_t at[5] = {300000, 299999, 100, 1, 0}, len[5] = {300000, 1, 299899, 99, 1};
    double stat = (double)r;
    for (int k = 0; k < 5; k++) {
        if (ima_collective_start_sum_float(c, buf + at[k], len[k])) return fail_stop(d, "starting");
        if (k == 2 && ima_collective_sum(c, &stat, 1)) return fail_stop(d, "a blocking sum between");
        if (ima_collective_progress(c)) return fail_stop(d, "progress");
    }
    if (ima_collective_wait(c)) return fail_stop(d, "waiting");
    float tri = (float)(P * (P + 1) / 2);
    size_t bad = 0;
    for (size_t k = 0; k < N; k++) bad += buf[k] != tri * (float)(k % 1000);
    if (bad || stat != (double)(P * (P - 1) / 2)) {
        fprintf(stderr, "mpi_overlap: rank %d: %zu values not summed (statistic %g)\n", r, bad, stat);
        ima_dist_stop(d, 1);
        return 1;
    }
    if (r == 0) printf("ok: %d ranks, 5 overlapped sums of 600,000 floats and a blocking sum between\n", P);
    free(buf);
    ima_dist_stop(d, 0);
    return 0;
}
