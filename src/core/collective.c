/* collective.c: the one-process collective and the helpers of collective.h */
#include "ima/collective.h"

#include "ima/common.h"

static int single_float(void *ctx, float *buf, size_t n) { return (void)ctx, (void)buf, (void)n, IMA_OK; }
static int single_double(void *ctx, double *buf, size_t n) { return (void)ctx, (void)buf, (void)n, IMA_OK; }
static int single_gather(void *ctx, float *buf, const size_t *counts) {
    return (void)ctx, (void)buf, (void)counts, IMA_OK;
}
static int single_barrier(void *ctx) { return (void)ctx, IMA_OK; }

const ima_collective *ima_collective_single(void) {
    static const ima_collective single = {NULL, 0, 1, single_float, single_double, single_gather, single_barrier,
                                          NULL, NULL, NULL};
    return &single;
}

int ima_collective_sum(const ima_collective *c, double *buf, size_t n) {
    return ima_collective_is_single(c) ? IMA_OK : c->allreduce_double(c->ctx, buf, n);
}

int ima_collective_sum_float(const ima_collective *c, float *buf, size_t n) {
    return ima_collective_is_single(c) ? IMA_OK : c->allreduce_float(c->ctx, buf, n);
}

int ima_collective_start_sum_float(const ima_collective *c, float *buf, size_t n) {
    return ima_collective_overlaps(c) ? c->isum_float(c->ctx, buf, n) : IMA_OK;
}

int ima_collective_progress(const ima_collective *c) {
    return ima_collective_overlaps(c) ? c->progress(c->ctx) : IMA_OK;
}

int ima_collective_wait(const ima_collective *c) { return ima_collective_overlaps(c) ? c->wait(c->ctx) : IMA_OK; }
