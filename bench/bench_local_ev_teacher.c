/* bench_local_ev_teacher.c: the cost of the local-ev teacher (docs/importance.md, Cost): building it
 * (features by PCA, k-NN of each modality) against the targets of one rho from the built teacher (three
 * passes of the statistic and the calibration), wall and process CPU time; and that the targets of the
 * reused teacher equal ima_local_ev_targets' bit for bit on the same corpus.
 *
 *   bench_local_ev_teacher CORPUS [--fresh] [--rows N]
 * CORPUS: a folder written by `ima data digits` (reads train/image.npy and train/speech.npy). --fresh:
 * also runs ima_local_ev_targets once (rho 0.8 / 0.3) and compares. --rows N: the first N rows only. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ima/common.h"
#include "ima/importance.h"
#include "ima/model.h"
#include "ima/train.h"

static double clock_of(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS [--fresh] [--rows N]\n", argv[0]);
        return 2;
    }
    int fresh = 0;
    size_t rows = 0;
    for (int a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--fresh")) fresh = 1;
        else if (!strcmp(argv[a], "--rows") && a + 1 < argc) rows = (size_t)strtoull(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "bench_local_ev_teacher: unknown argument '%s'\n", argv[a]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IONBF, 0); /* progress as it comes */
    char p0[4096], p1[4096];
    snprintf(p0, sizeof p0, "%s/train/image.npy", argv[1]);
    snprintf(p1, sizeof p1, "%s/train/speech.npy", argv[1]);
    const char *paths[2] = {p0, p1};
    ima_dataset ds;
    if (ima_dataset_load(&ds, 2, paths, NULL)) {
        fprintf(stderr, "bench_local_ev_teacher: %s\n", ima_last_error());
        return 1;
    }
    if (rows && rows < ds.n) ds.n = rows; /* rows are contiguous: the first rows of every array */
    ima_local_ev_teacher t;
    double w0 = clock_of(CLOCK_MONOTONIC), c0 = clock_of(CLOCK_PROCESS_CPUTIME_ID);
    if (ima_local_ev_teacher_build(&t, &ds, 0)) {
        fprintf(stderr, "bench_local_ev_teacher: %s\n", ima_last_error());
        ima_dataset_free(&ds);
        return 1;
    }
    printf("N %zu, features %zu + %zu, k %zu\n", ds.n, t.width[0], t.width[1], t.k);
    printf("teacher build: wall %.1f s, CPU %.1f s\n", clock_of(CLOCK_MONOTONIC) - w0,
           clock_of(CLOCK_PROCESS_CPUTIME_ID) - c0);
    float *a = ima_try_malloc(ds.n, 2 * sizeof(float)), *b = ima_try_malloc(ds.n, 2 * sizeof(float));
    int rc = a && b ? IMA_OK : IMA_ERR;
    const float rhos[3][2] = {{0.8f, 0.3f}, {0.6f, 0.6f}, {0.95f, 0.95f}};
    for (int q = 0; q < 3 && rc == IMA_OK; q++) {
        w0 = clock_of(CLOCK_MONOTONIC), c0 = clock_of(CLOCK_PROCESS_CPUTIME_ID);
        rc = ima_local_ev_teacher_targets(q ? b : a, NULL, &t, rhos[q], NULL);
        printf("targets for rho %.2f / %.2f: wall %.1f s, CPU %.1f s\n", (double)rhos[q][0], (double)rhos[q][1],
               clock_of(CLOCK_MONOTONIC) - w0, clock_of(CLOCK_PROCESS_CPUTIME_ID) - c0);
    }
    w0 = clock_of(CLOCK_MONOTONIC);
    if (rc == IMA_OK) rc = ima_local_ev_teacher_check(&t, &ds, 0);
    printf("teacher check (fingerprint of the inputs): wall %.2f s\n", clock_of(CLOCK_MONOTONIC) - w0);
    if (rc == IMA_OK && fresh) {
        ima_config c = ima_config_digits(50);
        c.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
        c.mod[0].rho = rhos[0][0], c.mod[1].rho = rhos[0][1];
        ima_model *m = NULL;
        rc = ima_model_init(&m, &c, 16, 1);
        w0 = clock_of(CLOCK_MONOTONIC), c0 = clock_of(CLOCK_PROCESS_CPUTIME_ID);
        if (rc == IMA_OK) rc = ima_local_ev_targets(b, NULL, m, &ds, NULL);
        printf("ima_local_ev_targets (build + targets + free): wall %.1f s, CPU %.1f s\n",
               clock_of(CLOCK_MONOTONIC) - w0, clock_of(CLOCK_PROCESS_CPUTIME_ID) - c0);
        if (rc == IMA_OK)
            printf("the reused teacher's targets %s ima_local_ev_targets' (memcmp over %zu values)\n",
                   memcmp(a, b, ds.n * 2 * sizeof(float)) ? "DIFFER from" : "equal", ds.n * 2);
        ima_model_free(m);
    }
    if (rc) fprintf(stderr, "bench_local_ev_teacher: %s\n", ima_last_error());
    free(a), free(b);
    ima_local_ev_teacher_free(&t);
    ima_dataset_free(&ds);
    return rc ? 1 : 0;
}
