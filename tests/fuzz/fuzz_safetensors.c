/* fuzz_safetensors.c: the safetensors reader and the checkpoint config / train_state parsers behind it
 * (IMA and baseline checkpoints, and reading the state alone as --resume does). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "ima/baseline_train.h"
#include "ima/safetensors.h"
#include "ima/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("in.safetensors", data, size);
    ima_st_file f;
    if (ima_st_read(&f, p) == 0) ima_st_free(&f);
    ima_config cfg;
    ima_train_config tc;
    ima_train_state st;
    (void)ima_checkpoint_read_state(p, &cfg, &tc, &st);
    ima_model *m = NULL;
    if (ima_checkpoint_load(p, 4, &m, &tc, &st) == 0) ima_model_free(m);
    ima_baseline *b = NULL;
    ima_baseline_train_config btc;
    ima_baseline_train_state bst;
    if (ima_baseline_checkpoint_load(p, 4, &b, &btc, &bst) == 0) ima_baseline_free(b);
    int is_baseline;
    (void)ima_checkpoint_detect(p, &is_baseline);
    return 0;
}
