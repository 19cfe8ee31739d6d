/* fuzz_manifest.c: a speech manifest ("label<TAB>speaker<TAB>path" lines) read into a speech set; the
 * scratch folder holds one short valid recording, ok.wav, that entries may name. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ima/audio.h"
#include "ima/digits.h"

/* a 0.3 s 12.5 kHz mono 16-bit WAV of a tone, written once */
static void write_ok_wav(void) {
    enum { N = 3750 };
    static uint8_t w[44 + 2 * N];
    const uint32_t rate = 12500, bytes = 2 * N;
    memcpy(w, "RIFF", 4);
    uint32_t v = 36 + bytes;
    memcpy(w + 4, &v, 4);
    memcpy(w + 8, "WAVEfmt ", 8);
    v = 16;
    memcpy(w + 16, &v, 4);
    uint16_t h = 1;
    memcpy(w + 20, &h, 2);
    memcpy(w + 22, &h, 2);
    memcpy(w + 24, &rate, 4);
    v = rate * 2;
    memcpy(w + 28, &v, 4);
    h = 2;
    memcpy(w + 32, &h, 2);
    h = 16;
    memcpy(w + 34, &h, 2);
    memcpy(w + 36, "data", 4);
    memcpy(w + 40, &bytes, 4);
    for (int i = 0; i < N; i++) {
        int16_t s = (int16_t)(((i * 37) % 200 - 100) * 100);
        memcpy(w + 44 + 2 * i, &s, 2);
    }
    fuzz_write("ok.wav", w, sizeof w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ima_mfcc *mfcc;
    if (!mfcc) {
        ima_mfcc_config c = ima_mfcc_default();
        if (ima_mfcc_init(&mfcc, &c)) abort();
        write_ok_wav();
    }
    const char *p = fuzz_write("manifest.tsv", data, size);
    ima_speech_set s;
    memset(&s, 0, sizeof s);
    (void)ima_speech_add_manifest(&s, mfcc, p, NULL, NULL);
    ima_speech_set_free(&s);
    return 0;
}
