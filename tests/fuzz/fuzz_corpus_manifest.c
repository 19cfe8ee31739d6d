/* fuzz_corpus_manifest.c: a built corpus's manifest.json, as `ima data inspect` and the evaluation read it. */
#include "fuzz_util.h"
#include "ima/digits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("manifest.json", data, size);
    ima_corpus_manifest m;
    if (ima_corpus_manifest_read(&m, p) == 0) ima_corpus_manifest_free(&m);
    return 0;
}
