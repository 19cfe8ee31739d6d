/* importance_shared.c: local-ev targets in data-parallel training (collective.h). The teacher's
 * targets are a function of the whole training set, the same on every rank. Since the teacher reads
 * features of the inputs (ima_local_ev_pca of x_j, importance_local_ev.c), not the codes of the
 * model, every rank computes them from its (mapped) copy of the inputs: the same input and the same
 * code give the same targets, with no communication. A teacher that reads the model's codes would
 * embed rank r's block of rows here and gather the blocks (coll->allgather_float) before the
 * "features in, targets out" step. N rows, M modalities. */
#include "ima/collective.h"
#include "ima/common.h"
#include "ima/importance.h"
#include "ima/train.h"

int ima_local_ev_targets_shared(float *target, ima_model *m, const ima_dataset *ds, const ima_collective *coll) {
    (void)coll; /* the targets depend on the inputs only: each rank has them all */
    return ima_local_ev_targets(target, NULL, m, ds, NULL);
}
