/* test_mfcc.c: the speech front end: MFCC against the Kaldi reference (torchaudio golden file from
 * tools/mfcc_golden.py), the midpoint window and its padding, WAV reading and resampling,
 * speech noise. Dimensions: T frames, C = 12 coefficients, F = 58. */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "ima/audio.h"
#include "ima/common.h"
#include "ima/digits.h"
#include "ima/npy.h"
#include "testutil.h"

/* The tolerance of the golden comparison: |ours - kaldi| <= 1e-3 * (1 + |kaldi|) per value.
 * Both sides compute in float32 FFTs; the cepstra range over about -40..45. */
#define GOLDEN_TOL 1e-3

static void test_golden(void) {
    char *wp = tu_path(tu_source_dir(), "tests/golden/mfcc_wave.npy");
    char *kp = tu_path(tu_source_dir(), "tests/golden/mfcc_kaldi.npy");
    ima_npy w = {0}, k = {0};
    int ok = ima_npy_read(&w, wp) == 0 && ima_npy_read(&k, kp) == 0;
    CHECK(ok, "golden files: %s", ima_last_error());
    if (ok) {
        ima_mfcc_config cfg = ima_mfcc_default();
        ima_mfcc *m;
        CHECK(ima_mfcc_init(&m, &cfg) == 0, "init");
        CHECK(ima_mfcc_window_len(m) == 250 && ima_mfcc_shift(m) == 125, "window 250 / shift 125 samples");
        float *fr;
        size_t T;
        CHECK(ima_mfcc_compute(m, &fr, &T, w.data, w.count) == 0, "compute: %s", ima_last_error());
        CHECK(k.ndim == 2 && T == k.shape[0] && k.shape[1] == IMA_MFCC_COEFFS, "frames %zu vs golden %zu", T,
              k.shape[0]);
        if (T == k.shape[0]) {
            const float *ref = k.data;
            double worst = 0, worst_abs = 0;
            size_t at = 0;
            for (size_t i = 0; i < T * IMA_MFCC_COEFFS; i++) {
                double d = fabs((double)fr[i] - (double)ref[i]), r = d / (1.0 + fabs((double)ref[i]));
                if (!(r <= worst)) {
                    worst = r;
                    at = i;
                }
                if (d > worst_abs) worst_abs = d;
            }
            printf("mfcc vs torchaudio.compliance.kaldi.mfcc: %zu frames, worst |diff|/(1+|ref|) = %.2e "
                   "(frame %zu, c%zu), worst |diff| = %.2e, tolerance %.0e\n",
                   T, worst, at / IMA_MFCC_COEFFS, at % IMA_MFCC_COEFFS + 1, worst_abs, GOLDEN_TOL);
            CHECK(worst <= GOLDEN_TOL, "golden MFCC differs: %.3e", worst);
        }
        free(fr);
        ima_mfcc_free(m);
    }
    ima_npy_free(&w);
    ima_npy_free(&k);
    free(wp);
    free(kp);
}

static void test_window(void) {
    enum { C = 2, F = 6 };
    float frames[10 * C], out[F * C];
    for (int t = 0; t < 10; t++)
        for (int c = 0; c < C; c++) frames[t * C + c] = (float)(t * 10 + c);
    ima_mfcc_window(out, frames, 10, C, F); /* T=10: start 5 - 3 = 2 */
    CHECK(out[0] == 20 && out[F * C - 2] == 70, "midpoint window: %g .. %g", out[0], out[F * C - 2]);
    ima_mfcc_window(out, frames, 3, C, F); /* T=3: pad 1 before (frame 0), 2 after (frame 2) */
    float want[F] = {0, 0, 10, 20, 20, 20};
    int same = 1;
    for (int f = 0; f < F; f++) same &= out[f * C] == want[f] && out[f * C + 1] == want[f] + 1;
    CHECK(same, "edge padding");
    ima_mfcc_window(out, frames, 1, C, F);
    same = 1;
    for (int f = 0; f < F; f++) same &= out[f * C] == 0;
    CHECK(same, "one frame repeated");
}

static int write_wav(const char *path, const float *x, size_t n, int rate, int format) {
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = 1;
    info.format = format;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_writef_float(f, x, (sf_count_t)n);
    sf_close(f);
    return 0;
}

static void test_read_resample(void) {
    char *dir = tu_tmpdir();
    char *p = tu_path(dir, "tone.wav");
    size_t n = 8000; /* 1 s at 8 kHz, a 440 Hz tone */
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * (float)sin(2 * 3.14159265358979 * 440.0 * (double)i / 8000.0);
    CHECK(write_wav(p, x, n, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16) == 0, "write wav");
    float *y;
    size_t ny;
    int rate;
    CHECK(ima_audio_read(p, &y, &ny, &rate) == 0 && ny == n && rate == 8000, "read wav");
    if (ny == n) CHECK(fabs(y[100] - x[100]) < 1e-4, "16-bit round trip");
    free(y);
    CHECK(ima_audio_load(p, IMA_SPEECH_RATE, &y, &ny) == 0, "load");
    CHECK(ny >= 12490 && ny <= 12510, "resampled length %zu, expected 12500", ny);
    /* the tone survives: zero crossings ~ 2 * 440 per second */
    size_t zc = 0;
    for (size_t i = 1000; i + 1 < 11500; i++) zc += (y[i] < 0) != (y[i + 1] < 0);
    CHECK(fabs((double)zc / (10500.0 / 12500.0) - 880.0) < 10, "resampled tone: %zu crossings", zc);
    free(y);
    /* NIST SPHERE (as TIDIGITS ships) through the same reader */
    char *ps = tu_path(dir, "tone.sph");
    CHECK(write_wav(ps, x, n, 8000, SF_FORMAT_NIST | SF_FORMAT_PCM_16) == 0, "write sphere");
    float feat[IMA_SPEECH_DIM];
    ima_mfcc_config cfg = ima_mfcc_default();
    ima_mfcc *m;
    ima_mfcc_init(&m, &cfg);
    CHECK(ima_speech_features(m, feat, ps) == 0, "sphere features: %s", ima_last_error());
    /* bad inputs: empty file, garbage, too short */
    char *pe = tu_path(dir, "empty.wav");
    tu_write_file(pe, "", 0);
    CHECK(ima_speech_features(m, feat, pe) != 0 && strstr(ima_last_error(), "empty.wav"), "empty: %s",
          ima_last_error());
    char *pg = tu_path(dir, "garbage.wav");
    tu_write_file(pg, "RIFF1234WAVEjunkjunkjunk", 24);
    CHECK(ima_speech_features(m, feat, pg) != 0 && strstr(ima_last_error(), "garbage.wav"), "garbage: %s",
          ima_last_error());
    char *pt = tu_path(dir, "short.wav");
    write_wav(pt, x, 100, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16); /* 12.5 ms < 20 ms */
    CHECK(ima_speech_features(m, feat, pt) != 0 && strstr(ima_last_error(), "short.wav") &&
              strstr(ima_last_error(), "shorter than one"),
          "short: %s", ima_last_error());
    ima_mfcc_free(m);
    remove(p);
    remove(ps);
    remove(pe);
    remove(pg);
    remove(pt);
    remove(dir);
    free(p);
    free(ps);
    free(pe);
    free(pg);
    free(pt);
    free(dir);
    free(x);
}

static void test_speech_noise(void) {
    ima_mfcc_config cfg = ima_mfcc_default();
    ima_mfcc *m;
    ima_mfcc_init(&m, &cfg);
    ima_rng a, b;
    ima_rng_init(&a, 7);
    ima_rng_init(&b, 7);
    float x[IMA_SPEECH_DIM], y[IMA_SPEECH_DIM];
    CHECK(ima_speech_noise(x, m, &a) == 0 && ima_speech_noise(y, m, &b) == 0, "noise");
    CHECK(!memcmp(x, y, sizeof x), "speech noise is deterministic by seed");
    /* finite everywhere; frames differ (each 20 ms periodogram of white noise is itself noisy) */
    int finite = 1;
    double spread = 0;
    for (size_t c = 0; c < IMA_MFCC_COEFFS; c++) {
        double mu = 0, var = 0;
        for (size_t f = 0; f < IMA_MFCC_FRAMES; f++) mu += x[f * IMA_MFCC_COEFFS + c] / IMA_MFCC_FRAMES;
        for (size_t f = 0; f < IMA_MFCC_FRAMES; f++) {
            double d = x[f * IMA_MFCC_COEFFS + c] - mu;
            var += d * d / IMA_MFCC_FRAMES;
            finite &= isfinite(x[f * IMA_MFCC_COEFFS + c]);
        }
        if (sqrt(var) > spread) spread = sqrt(var);
    }
    CHECK(finite, "finite");
    CHECK(spread > 0.0, "noise frames differ (periodogram noise): worst per-coefficient sd %g", spread);
    ima_rng_init(&b, 8);
    ima_speech_noise(y, m, &b);
    CHECK(memcmp(x, y, sizeof x) != 0, "another seed, other noise");
    ima_mfcc_free(m);
}

int main(void) {
    test_golden();
    test_window();
    test_read_resample();
    test_speech_noise();
    return tu_finish("test_mfcc");
}
