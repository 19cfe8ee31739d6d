/* fuzz_idx.c: the MNIST idx reader (raw or gzip): the input as the image file (with a fixed 1-label file)
 * and as the label file (with a fixed 1-image file). */
#include <string.h>

#include "fuzz_util.h"
#include "ima/digits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t img[16 + 784], lab[9];
    static const char *pimg, *plab;
    if (!pimg) {
        const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28}, lh[9] = {0, 0, 8, 1, 0, 0, 0, 1, 7};
        memcpy(img, ih, 16);
        memcpy(lab, lh, 9);
    }
    pimg = fuzz_write("img.idx", img, sizeof img);
    plab = fuzz_write("lab.idx", lab, sizeof lab);
    const char *p = fuzz_write("in.idx", data, size);
    ima_mnist m;
    if (ima_mnist_read_idx(&m, p, plab) == 0) ima_mnist_free(&m);
    if (ima_mnist_read_idx(&m, pimg, p) == 0) ima_mnist_free(&m);
    return 0;
}
