/* fuzz_npy.c: the .npy reader and its typed readers (float32 matrix, int64 labels). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "ima/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("in.npy", data, size);
    ima_npy a;
    if (ima_npy_read(&a, p) == 0) ima_npy_free(&a);
    float *m = NULL;
    size_t r, c;
    if (ima_npy_read_f32_matrix(p, &m, &r, &c) == 0) free(m);
    int64_t *l = NULL;
    size_t n;
    if (ima_npy_read_labels(p, &l, &n) == 0) free(l);
    return 0;
}
