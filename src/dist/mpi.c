/* mpi.c: dist.h over MPI (Open MPI from Debian): the collective of collective.h as non-blocking MPI
 * collectives on a private communicator, each awaited with a deadline.
 *
 * Failure handling: the communicator returns errors (MPI_ERRORS_RETURN) instead of aborting, and every
 * collective is started non-blocking (MPI_Iallreduce, MPI_Iallgatherv) and polled (MPI_Test) until it
 * completes or IMA_MPI_TIMEOUT seconds pass. Either failure is reported with the rank and the cause;
 * the group is then unusable (every later call fails at once) and the caller stops the job
 * (ima_dist_stop(d, 1): MPI_Abort), since a dead peer never joins MPI_Finalize.
 *
 * Overlap (collective.h's isum_float / progress / wait): the backward pass starts one MPI_Iallreduce per
 * network's gradient range and returns; progress tests every outstanding request once (Open MPI
 * advances a non-blocking collective only inside MPI calls); wait polls them all (MPI_Testall) until
 * every one completes or IMA_MPI_TIMEOUT seconds after the wait began. Only the thread that
 * initialised MPI calls it (MPI_THREAD_FUNNELED: the two-thread row split's worker never does).
 * IMA_MPI_OVERLAP=1 turns it on, 0 off; unset, it is on when the ranks span several machines and off
 * when they share one, where it measured slower (docs/scaling.md). */
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
#define MAX_PENDING 64  /* started sums at once; one more waits for the oldest first */

struct ima_dist {
    MPI_Comm comm;
    int rank, size;
    double timeout_s;
    int failed;        // a collective failed: the group is unusable
    char why[256];     // and why
    double bytes, calls;
    int overlap;                       // IMA_MPI_OVERLAP: offer isum_float / progress / wait
    MPI_Request pending[MAX_PENDING];  // started sums, oldest first
    int n_pending;
    double waits, waited_done, waited; // overlap: waits, requests already complete when the wait began, all
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

/* waits for the n requests req until all complete or the clock passes deadline: one poll loop for all,
 * so that several started sums cost one spin-then-nap, as one sum does */
static int await_until(ima_dist *d, MPI_Request *req, int n, double deadline, const char *what) {
    struct timespec nap = {0, 20000}; /* 20 us between polls once the first few have missed */
    for (long spin = 0;; spin++) {
        int done = 0, rc = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
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

static int await(ima_dist *d, MPI_Request *req, const char *what) {
    return await_until(d, req, 1, now_s() + d->timeout_s, what);
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

/* ---- overlap: started sums, awaited together ---- */

static const char *const ISUM_WHAT = "a gradient sum over the ranks (overlapped with the backward pass)";

/* waits for every started sum, against one deadline */
static int wait_pending(ima_dist *d) {
    if (await_until(d, d->pending, d->n_pending, now_s() + d->timeout_s, ISUM_WHAT))
        return IMA_ERR; /* the group is unusable: the requests stay as they are */
    d->n_pending = 0;
    return IMA_OK;
}

static int isum_float(void *ctx, float *buf, size_t n) {
    ima_dist *d = ctx;
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    for (size_t at = 0; at < n; at += CHUNK) {
        if (d->n_pending == MAX_PENDING && wait_pending(d)) return IMA_ERR;
        int cnt = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + at, cnt, MPI_FLOAT, MPI_SUM, d->comm, &d->pending[d->n_pending]);
        if (rc != MPI_SUCCESS) return fail(d, ISUM_WHAT, "%s could not start (%.0f s limit): %s", rc);
        d->n_pending++;
    }
    d->bytes += (double)(n * sizeof(float));
    d->calls += 1;
    return IMA_OK;
}

/* one MPI_Test of every outstanding request: each moves as far as it can now (a completed one is freed
 * and becomes MPI_REQUEST_NULL, which later tests and waits pass at once) */
static int progress(void *ctx) {
    ima_dist *d = ctx;
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    for (int k = 0; k < d->n_pending; k++) {
        int done = 0, rc = MPI_Test(&d->pending[k], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return fail(d, ISUM_WHAT, "%s failed (%.0f s limit): %s", rc);
    }
    return IMA_OK;
}

static int wait_all(void *ctx) {
    ima_dist *d = ctx;
    if (d->failed) return ima_error("MPI rank %d of %d: %s", d->rank, d->size, d->why);
    /* how much the backward pass hid: the requests complete when the step begins to wait */
    for (int k = 0; k < d->n_pending; k++) {
        int done = 0, rc = MPI_Test(&d->pending[k], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return fail(d, ISUM_WHAT, "%s failed (%.0f s limit): %s", rc);
        d->waited_done += done;
    }
    d->waited += d->n_pending;
    d->waits += 1;
    return wait_pending(d);
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
    int overlap = -1; /* unset: overlap when the ranks span several machines */
    if ((t = getenv("IMA_MPI_OVERLAP")) && *t) {
        if (strcmp(t, "0") && strcmp(t, "1"))
            return ima_error("IMA_MPI_OVERLAP = '%s': expected 1 (overlap the gradient sum with the backward pass), "
                             "0 (sum it after the backward pass) or unset (1 when the ranks span several machines, "
                             "0 on one)",
                             t);
        overlap = *t == '1';
    }
    int inited = 0, level;
    MPI_Initialized(&inited);
    /* FUNNELED: the row split's worker thread exists but never calls MPI */
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &level) != MPI_SUCCESS)
        return ima_error("MPI_Init failed");
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
    /* unset: on when the ranks span several machines; on one, the sums are shared-memory copies by the
     * computing cores (every rank splits, set or not, so that the calls match) */
    MPI_Comm node;
    int local = d->size;
    if (MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    if (overlap < 0) overlap = local < d->size;
    d->overlap = overlap;
    /* every rank must make the same calls: IMA_MPI_OVERLAP must agree (mpirun -x IMA_MPI_OVERLAP) */
    double on = overlap;
    if (allreduce(d, &on, 1, MPI_DOUBLE, sizeof on, "comparing IMA_MPI_OVERLAP over the ranks")) {
        MPI_Comm_free(&d->comm);
        free(d);
        return IMA_ERR;
    }
    d->bytes = d->calls = 0;
    if (on != 0 && on != d->size) {
        int r = d->rank, p = d->size;
        MPI_Comm_free(&d->comm);
        free(d);
        MPI_Finalize(); /* every rank saw the same sum and ends here */
        return ima_error("MPI rank %d of %d: IMA_MPI_OVERLAP is 1 on %.0f ranks and 0 on the others: every rank needs "
                         "the same (mpirun -x IMA_MPI_OVERLAP)",
                         r, p, on);
    }
    d->coll = (ima_collective){d, d->rank, d->size, allreduce_float, allreduce_double, allgather_float, barrier,
                               overlap ? isum_float : NULL, overlap ? progress : NULL, overlap ? wait_all : NULL};
    *out = d;
    return IMA_OK;
}

const ima_collective *ima_dist_collective(ima_dist *d) { return d ? &d->coll : NULL; }

int ima_dist_rank(const ima_dist *d) { return d ? d->rank : 0; }

void ima_dist_traffic(const ima_dist *d, double *bytes, double *calls) {
    *bytes = d ? d->bytes : 0;
    *calls = d ? d->calls : 0;
}

void ima_dist_overlap(const ima_dist *d, double *waits, double *done, double *started) {
    *waits = d ? d->waits : 0;
    *done = d ? d->waited_done : 0;
    *started = d ? d->waited : 0;
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
