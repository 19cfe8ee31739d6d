/* mfcc.c: Kaldi-compatible MFCC (see audio.h for the conventions), transforms by FFTW.
 * Dimensions: N window length (250), P padded FFT length (256), K = P/2 + 1 spectrum bins,
 * B mel bins (23), Q cepstra computed (13), C = Q - 1 kept, T frames, F frames kept (58). */
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ima/audio.h"
#include "ima/common.h"

#define IMA_PI 3.14159265358979323846

struct ima_mfcc {
    ima_mfcc_config cfg;
    size_t N, shift, P, K, B, Q;
    double *window;         // (N) Povey window
    double *melbank;        // (B, K) triangular weights; the Nyquist bin K-1 has weight 0 as in Kaldi
    double *dct;            // (Q, B) orthonormal DCT-II rows, times the lifter
    float *fft_in;          // (P) fftwf_malloc'd
    fftwf_complex *fft_out; // (K)
    fftwf_plan plan;
    double *frame;  // (N) scratch
    double *power;  // (K) scratch
    double *logmel; // (B) scratch
};

ima_mfcc_config ima_mfcc_default(void) {
    ima_mfcc_config c = {
        .sample_rate = IMA_SPEECH_RATE,
        .frame_ms = 20.0,
        .shift_ms = 10.0,
        .num_mel_bins = 23,
        .num_ceps = IMA_MFCC_COEFFS + 1,
        .low_freq = 20.0,
        .high_freq = 0.0,
        .preemph = 0.97,
        .lifter = 22.0,
        .input_scale = 32768.0,
    };
    return c;
}

static double mel_of(double hz) { return 1127.0 * log(1.0 + hz / 700.0); }

int ima_mfcc_init(ima_mfcc **out, const ima_mfcc_config *cfg) {
    *out = NULL;
    /* window and shift in samples, as torchaudio computes them (int(rate * ms * 0.001)); range-checked
     * on the double before the cast, and at most 2^24 samples (a 1342 s window at 12.5 kHz) */
    double n_win = cfg->sample_rate * cfg->frame_ms * 0.001 + 1e-9;
    double n_shift = cfg->sample_rate * cfg->shift_ms * 0.001 + 1e-9;
    if (!(n_win >= 2.0 && n_win <= 16777216.0) || !(n_shift >= 1.0 && n_shift <= 16777216.0))
        return ima_error("%s: window %g / shift %g samples (rate %g Hz): expected 2..2^24 and 1..2^24", __func__,
                         n_win, n_shift, cfg->sample_rate);
    size_t N = (size_t)n_win;
    size_t shift = (size_t)n_shift;
    if (cfg->num_mel_bins < 4 || cfg->num_mel_bins > 4096 || cfg->num_ceps < 2 || cfg->num_ceps > cfg->num_mel_bins)
        return ima_error("%s: need 4 <= mel bins <= 4096 and 2 <= num_ceps <= mel bins (got %d, %d)", __func__,
                         cfg->num_mel_bins, cfg->num_ceps);
    size_t P = 1;
    while (P < N) P <<= 1;
    double nyq = 0.5 * cfg->sample_rate;
    double hi = cfg->high_freq > 0 ? cfg->high_freq : nyq + cfg->high_freq;
    if (!(cfg->low_freq >= 0 && cfg->low_freq < hi && hi <= nyq))
        return ima_error("%s: bad mel range %g..%g Hz (Nyquist %g)", __func__, cfg->low_freq, hi, nyq);

    ima_mfcc *m = ima_try_calloc(1, sizeof *m);
    if (!m) return ima_error_prefix("%s", __func__);
    m->cfg = *cfg;
    m->N = N;
    m->shift = shift;
    m->P = P;
    m->K = P / 2 + 1;
    m->B = (size_t)cfg->num_mel_bins;
    m->Q = (size_t)cfg->num_ceps;

    /* every buffer first (sizes bounded above: B <= 4096, K <= 2^24 + 1) */
    m->window = ima_try_malloc(N, sizeof(double));
    m->melbank = ima_try_calloc(m->B * m->K, sizeof(double));
    m->dct = ima_try_malloc(m->Q * m->B, sizeof(double));
    m->frame = ima_try_malloc(N, sizeof(double));
    m->power = ima_try_malloc(m->K, sizeof(double));
    m->logmel = ima_try_malloc(m->B, sizeof(double));
    if (!m->window || !m->melbank || !m->dct || !m->frame || !m->power || !m->logmel) {
        ima_mfcc_free(m);
        return ima_error_prefix("%s: a %zu-sample window", __func__, N);
    }
    for (size_t i = 0; i < N; i++)
        m->window[i] = pow(0.5 - 0.5 * cos(2.0 * IMA_PI * (double)i / (double)(N - 1)), 0.85);

    /* mel bank, Kaldi's MelBanks: B + 2 equally spaced mel edges, triangles in the mel domain */
    double mlo = mel_of(cfg->low_freq), mhi = mel_of(hi), delta = (mhi - mlo) / (double)(m->B + 1);
    double bin_hz = cfg->sample_rate / (double)P;
    for (size_t b = 0; b < m->B; b++) {
        double left = mlo + (double)b * delta, center = mlo + (double)(b + 1) * delta,
               right = mlo + (double)(b + 2) * delta;
        for (size_t k = 0; k < P / 2; k++) { /* bin P/2 (Nyquist) is left out, as in Kaldi */
            double mel = mel_of(bin_hz * (double)k);
            double up = (mel - left) / (center - left), down = (right - mel) / (right - center);
            double w = up < down ? up : down;
            m->melbank[b * m->K + k] = w > 0 ? w : 0;
        }
    }

    /* DCT-II, orthonormal (Kaldi's ComputeDctMatrix), rows 0..Q-1, each times its lifter weight */
    for (size_t q = 0; q < m->Q; q++) {
        double norm = q == 0 ? sqrt(1.0 / (double)m->B) : sqrt(2.0 / (double)m->B);
        double lift = cfg->lifter != 0 ? 1.0 + 0.5 * cfg->lifter * sin(IMA_PI * (double)q / cfg->lifter) : 1.0;
        for (size_t b = 0; b < m->B; b++)
            m->dct[q * m->B + b] = lift * norm * cos(IMA_PI / (double)m->B * ((double)b + 0.5) * (double)q);
    }

    m->fft_in = fftwf_malloc(P * sizeof(float));
    m->fft_out = fftwf_malloc(m->K * sizeof(fftwf_complex));
    /* FFTW_ESTIMATE: the plan (hence every rounding) is the same on every run */
    m->plan = fftwf_plan_dft_r2c_1d((int)P, m->fft_in, m->fft_out, FFTW_ESTIMATE);
    if (!m->fft_in || !m->fft_out || !m->plan) {
        ima_mfcc_free(m);
        return ima_error("%s: FFTW could not plan a %zu-point transform", __func__, P);
    }
    *out = m;
    return IMA_OK;
}

void ima_mfcc_free(ima_mfcc *m) {
    if (!m) return;
    if (m->plan) fftwf_destroy_plan(m->plan);
    fftwf_free(m->fft_in);
    fftwf_free(m->fft_out);
    free(m->window);
    free(m->melbank);
    free(m->dct);
    free(m->frame);
    free(m->power);
    free(m->logmel);
    free(m);
}

size_t ima_mfcc_window_len(const ima_mfcc *m) { return m->N; }
size_t ima_mfcc_shift(const ima_mfcc *m) { return m->shift; }
size_t ima_mfcc_coeffs(const ima_mfcc *m) { return m->Q - 1; }

size_t ima_mfcc_num_frames(const ima_mfcc *m, size_t n) { return n < m->N ? 0 : 1 + (n - m->N) / m->shift; }

/* one frame: wave (N) -> out (C) */
static void mfcc_frame(ima_mfcc *m, float *out, const float *wave) {
    size_t N = m->N;
    double *x = m->frame, mean = 0, scale = m->cfg.input_scale;
    for (size_t i = 0; i < N; i++) {
        x[i] = scale * (double)wave[i];
        mean += x[i];
    }
    mean /= (double)N;
    for (size_t i = 0; i < N; i++) x[i] -= mean; /* remove DC offset */
    double pe = m->cfg.preemph;
    for (size_t i = N - 1; i > 0; i--) x[i] -= pe * x[i - 1];
    x[0] -= pe * x[0];
    for (size_t i = 0; i < N; i++) m->fft_in[i] = (float)(x[i] * m->window[i]);
    for (size_t i = N; i < m->P; i++) m->fft_in[i] = 0.0f;
    fftwf_execute(m->plan);
    for (size_t k = 0; k < m->K; k++) {
        double re = m->fft_out[k][0], im = m->fft_out[k][1];
        m->power[k] = re * re + im * im;
    }
    for (size_t b = 0; b < m->B; b++) {
        const double *w = m->melbank + b * m->K;
        double e = 0;
        for (size_t k = 0; k < m->K; k++) e += w[k] * m->power[k];
        m->logmel[b] = log(e > FLT_EPSILON ? e : FLT_EPSILON);
    }
    for (size_t q = 1; q < m->Q; q++) { /* c0 is not computed: it is dropped */
        const double *d = m->dct + q * m->B;
        double c = 0;
        for (size_t b = 0; b < m->B; b++) c += d[b] * m->logmel[b];
        out[q - 1] = (float)c;
    }
}

int ima_mfcc_compute(ima_mfcc *m, float **frames, size_t *T, const float *wave, size_t n) {
    *frames = NULL;
    *T = 0;
    size_t t = ima_mfcc_num_frames(m, n);
    if (t == 0)
        return ima_error("%s: signal of %zu samples is shorter than one %g ms window (%zu samples)", __func__, n,
                         m->cfg.frame_ms, m->N);
    size_t C = m->Q - 1;
    float *f = ima_try_malloc(t * C, sizeof(float)); // (T, C); t < n: no wrap
    if (!f) return ima_error_prefix("%s", __func__);
    for (size_t i = 0; i < t; i++) mfcc_frame(m, f + i * C, wave + i * m->shift);
    *frames = f;
    *T = t;
    return IMA_OK;
}

int ima_mfcc_window(float *out, const float *frames, size_t T, size_t C, size_t F) {
    if (T < 1) return ima_error("%s: no frame to take a window from", __func__);
    if (T >= F) {
        size_t start = T / 2 - F / 2;
        memcpy(out, frames + start * C, F * C * sizeof(float));
        return IMA_OK;
    }
    size_t before = (F - T) / 2;
    for (size_t f = 0; f < F; f++) {
        size_t src = f < before ? 0 : (f - before < T ? f - before : T - 1);
        memcpy(out + f * C, frames + src * C, C * sizeof(float));
    }
    return IMA_OK;
}

int ima_speech_features_wave(ima_mfcc *m, float *out, const float *wave, size_t n) {
    if (m->Q - 1 != IMA_MFCC_COEFFS)
        return ima_error("%s: the MFCC gives %zu coefficients per frame; speech features need %d", __func__, m->Q - 1,
                         IMA_MFCC_COEFFS);
    float *frames;
    size_t T;
    if (ima_mfcc_compute(m, &frames, &T, wave, n)) return IMA_ERR;
    int st = ima_mfcc_window(out, frames, T, m->Q - 1, IMA_MFCC_FRAMES);
    free(frames);
    return st;
}

int ima_speech_features(ima_mfcc *m, float *out, const char *path) {
    int limited;
    return ima_speech_features_band(m, out, path, 0, &limited);
}

int ima_speech_features_band(ima_mfcc *m, float *out, const char *path, double band_hz, int *limited) {
    if (m->Q - 1 != IMA_MFCC_COEFFS)
        return ima_error("%s: the MFCC gives %zu coefficients per frame; speech features need %d", __func__, m->Q - 1,
                         IMA_MFCC_COEFFS);
    float *wave;
    size_t n;
    if (ima_audio_load_band(path, m->cfg.sample_rate, band_hz, &wave, &n, limited)) return IMA_ERR;
    int st = ima_speech_features_wave(m, out, wave, n);
    free(wave);
    if (st) return ima_error_prefix("%s", path);
    return IMA_OK;
}
