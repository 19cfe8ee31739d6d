/* importance_shared.c: local-ev targets in data-parallel training (collective.h). The targets are a
 * function of the codes of the whole training set: each of the P ranks embeds its block of rows, the
 * blocks are gathered, and every rank computes the same targets from the same codes
 * (ima_local_ev_targets_from_codes: codes in, targets out). N rows, M modalities, d latent. */
#include <stdlib.h>
#include <string.h>

#include "ima/collective.h"
#include "ima/common.h"
#include "ima/importance.h"
#include "ima/train.h"

int ima_local_ev_targets_shared(float *target, ima_model *m, const ima_dataset *ds, const ima_collective *coll) {
    if (ima_collective_is_single(coll)) return ima_local_ev_targets(target, NULL, m, ds, NULL);
    int M = m->cfg.n_modalities, P = coll->size;
    size_t N = ds->n, d = m->cfg.latent_width, k = m->cfg.local_ev_k ? m->cfg.local_ev_k : IMA_LOCAL_EV_DEFAULT_K;
    size_t nd, lo, hi;
    if (ima_mul_overflows(N, d, &nd) || ima_mul_overflows(nd, (size_t)M, &nd))
        return ima_error_prefix("local-ev targets");
    ima_collective_share(N, coll->rank, P, &lo, &hi);
    float *U = ima_try_calloc(nd, sizeof *U); /* (M, N, d) */
    size_t *idx = ima_try_malloc(m->max_batch, sizeof *idx), *counts = ima_try_malloc((size_t)P, sizeof *counts);
    ima_batch_buffer bb;
    int rc = IMA_OK;
    if (!U || !idx || !counts || ima_batch_buffer_init(&bb, ds, m->max_batch)) {
        free(U), free(idx), free(counts);
        return ima_error_prefix("local-ev targets");
    }
    /* this rank's block, y = 1 (only present rows are used) */
    for (size_t a = lo; a < hi; a += m->max_batch) {
        size_t B = hi - a < m->max_batch ? hi - a : m->max_batch;
        for (size_t i = 0; i < B; i++) idx[i] = a + i;
        const ima_batch *b = ima_batch_gather(&bb, ds, idx, B);
        ima_model_encode(m, b, IMA_WEIGHTS_ONE);
        for (int j = 0; j < M; j++) memcpy(U + ((size_t)j * N + a) * d, ima_model_u(m, j), B * d * sizeof(float));
    }
    ima_batch_buffer_free(&bb);
    for (int r = 0; r < P; r++) {
        size_t rl, rh;
        ima_collective_share(N, r, P, &rl, &rh);
        counts[r] = (rh - rl) * d;
    }
    for (int j = 0; j < M && rc == IMA_OK; j++)
        if (coll->allgather_float(coll->ctx, U + (size_t)j * nd / (size_t)M, counts))
            rc = ima_error_prefix("local-ev targets: gathering the codes of '%s'", m->cfg.mod[j].name);
    float rho[IMA_MAX_MODALITIES];
    for (int j = 0; j < M; j++) rho[j] = m->cfg.mod[j].rho;
    if (rc == IMA_OK) rc = ima_local_ev_targets_from_codes(target, NULL, U, ds->mask, N, M, d, k, rho, NULL);
    free(U), free(idx), free(counts);
    return rc;
}
