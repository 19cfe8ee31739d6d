/* fuzz_wav.c: an audio file through libsndfile, our header checks, resampling and the MFCC features
 * (what a recording of a corpus goes through). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "ima/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ima_mfcc *mfcc;
    if (!mfcc) {
        ima_mfcc_config c = ima_mfcc_default();
        if (ima_mfcc_init(&mfcc, &c)) abort();
    }
    const char *p = fuzz_write("in.wav", data, size);
    float feat[IMA_SPEECH_DIM];
    (void)ima_speech_features(mfcc, feat, p);
    return 0;
}
