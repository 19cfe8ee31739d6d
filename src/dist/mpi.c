/* mpi.c: dist.h over MPI (Open MPI from Debian): the collective of collective.h as non-blocking MPI
 * collectives on a private communicator, each awaited with a deadline.
 *
 * Failure handling: the communicator returns errors (MPI_ERRORS_RETURN) instead of aborting, and every
 * collective is started non-blocking (MPI_Iallreduce, MPI_Iallgatherv) and polled (MPI_Test) until it
 * completes or IMA_MPI_TIMEOUT seconds pass. Either failure is reported with the rank and the cause;
 * the group is then unusable (every later call fails at once) and the caller stops the job
 * (ima_dist_stop(d, 1): MPI_Abort), since a dead peer never joins MPI_Finalize. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "ima/common.h"

#define DEFAULT_TIMEOUT_S 300.0
#define CHUNK (1 << 28) /* elements per MPI call: counts are int */

struct ima_dist {
    MPI_Comm comm;
    int rank, size;
    double timeout_s;
    int failed;        // a collective failed: the group is unusable
    char why[256];     // and why
    double bytes, calls;
    ima_collective coll;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(ima_dist *d, const char *what, const char *fmt, int code) {
    if (!d->failed) {
        char msg[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        if (code != MPI_SUCCESS) MPI_Error_string(code, msg, &len);
        snprintf(d->why, sizeof d->why, fmt, what, d->timeout_s, msg);
        d->failed = 1;
    }
    return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
}

/* waits for req until it completes or the deadline passes */
static int await(ima_dist *d, MPI_Request *req, const char *what) {
    double t0 = now_s(), deadline = t0 + d->timeout_s;
    struct timespec nap = {0, 20000}; /* 20 us between polls once the first few have missed */
    for (long spin = 0;; spin++) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return fail(d, what, "%s failed (%.0f s limit): %s", rc);
        if (done) return IMA_OK;
        if (spin > 200) nanosleep(&nap, NULL);
        if ((spin & 63) == 0 && now_s() > deadline)
            return fail(d, what,
                        "%s did not complete within %.0f s (IMA_MPI_TIMEOUT): another rank died or "
                        "hangs%s",
                        MPI_SUCCESS);
    }
}

static int allreduce(ima_dist *d, void *buf, size_t n, MPI_Datatype t, size_t elem, const char *what) {
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    for (size_t at = 0; at < n; at += CHUNK) {
        int cnt = (int)(n - at < CHUNK ? n - at : CHUNK);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + at * elem, cnt, t, MPI_SUM, d->comm, &req);
        if (rc != MPI_SUCCESS) return fail(d, what, "%s could not start (%.0f s limit): %s", rc);
        if (await(d, &req, what)) return IMA_ERR;
    }
    d->bytes += (double)(n * elem);
    d->calls += 1;
    return IMA_OK;
}

static int allreduce_float(void *ctx, float *buf, size_t n) {
    return allreduce(ctx, buf, n, MPI_FLOAT, sizeof(float), "a sum over the ranks (float)");
}

static int allreduce_double(void *ctx, double *buf, size_t n) {
    return allreduce(ctx, buf, n, MPI_DOUBLE, sizeof(double), "a sum over the ranks (double)");
}

static int allgather_float(void *ctx, float *buf, const size_t *counts) {
    ima_dist *d = ctx;
    const char *what = "gathering a block from every rank";
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    int *cnt = ima_try_malloc((size_t)d->size, 2 * sizeof(int)), *displ = cnt ? cnt + d->size : NULL;
    if (!cnt) return ima_error_prefix("MPI allgather");
    size_t at = 0;
    for (int r = 0; r < d->size; r++) {
        if (counts[r] > INT_MAX || at > INT_MAX) {
            free(cnt);
            return ima_error("MPI allgather: a block of %zu values at offset %zu exceeds MPI's int counts", counts[r],
                             at);
        }
        cnt[r] = (int)counts[r], displ[r] = (int)at;
        at += counts[r];
    }
    MPI_Request req;
    int rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, displ, MPI_FLOAT, d->comm, &req);
    free(cnt);
    if (rc != MPI_SUCCESS) return fail(d, what, "%s could not start (%.0f s limit): %s", rc);
    return await(d, &req, what);
}

static int barrier(void *ctx) {
    ima_dist *d = ctx;
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    MPI_Request req;
    int rc = MPI_Ibarrier(d->comm, &req);
    if (rc != MPI_SUCCESS) return fail(d, "a barrier", "%s could not start (%.0f s limit): %s", rc);
    return await(d, &req, "a barrier");
}

static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int ima_dist_start(ima_dist **out, int *argc, char ***argv) {
    *out = NULL;
    if (!launched()) return IMA_OK;
    double timeout = DEFAULT_TIMEOUT_S;
    const char *t = getenv("IMA_MPI_TIMEOUT");
    if (t) {
        char *end;
        timeout = strtod(t, &end);
        if (end == t || *end || !(timeout > 0 && timeout < 1e7))
            return ima_error("IMA_MPI_TIMEOUT = '%s': expected seconds in (0, 1e7)", t);
    }
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) return ima_error("MPI_Init failed");
    ima_dist *d = ima_try_calloc(1, sizeof *d);
    if (!d) return ima_error_prefix("MPI");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (MPI_Comm_dup(MPI_COMM_WORLD, &d->comm) != MPI_SUCCESS) {
        free(d);
        return ima_error("MPI: could not duplicate MPI_COMM_WORLD");
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->timeout_s = timeout;
    d->coll = (ima_collective){d, d->rank, d->size, allreduce_float, allreduce_double, allgather_float, barrier};
    *out = d;
    return IMA_OK;
}

const ima_collective *ima_dist_collective(ima_dist *d) { return d ? &d->coll : NULL; }

int ima_dist_rank(const ima_dist *d) { return d ? d->rank : 0; }

void ima_dist_traffic(const ima_dist *d, double *bytes, double *calls) {
    *bytes = d ? d->bytes : 0;
    *calls = d ? d->calls : 0;
}

void ima_dist_stop(ima_dist *d, int status) {
    if (!d) return;
    if (status) {
        fflush(stdout), fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    /* every rank ended well: a last barrier (bounded) so no rank finalises while a peer still sums */
    if (!d->failed && barrier(d) == IMA_OK) {
        MPI_Comm_free(&d->comm);
        free(d);
        MPI_Finalize();
        return;
    }
    fprintf(stderr, "ima: %s\n", ima_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}
