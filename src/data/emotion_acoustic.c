/* emotion_acoustic.c: the open stand-in for the paper's COVAREP frame vector (SPEC section 9).
 *
 * Per frame (20 ms Hann window, 10 ms shift, 16 kHz; spectrum from a 512-point FFT):
 *   F0 and voicing from libaubio's YIN pitch tracker ("yinfast", de Cheveigne & Kawahara 2002; a
 *   40 ms buffer centred on the frame, so that 60 Hz has two periods), energy, zero-crossing rate, spectral centroid, spread, 85% roll-off,
 *   flatness, flux and tilt, a harmonic-to-noise ratio from the normalised autocorrelation peak
 *   (40 ms Hann window, 1024-point FFT, divided by the window's own autocorrelation as in Boersma
 *   1993), and seven band energies. No MFCCs (the paper removed them on purpose).
 * Per word: statistics of the frames whose centre lies inside the word's timing (see
 * ima_emo_word_features). docs/emotion.md names and explains every dimension.
 *
 * Dimensions: n samples, F frames, K = 257 spectrum bins, L = 640 autocorrelation window. */
#define _POSIX_C_SOURCE 200809L
#include <aubio/aubio.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data/emotion_internal.h"
#include "ima/common.h"
#include "ima/emotion.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#define NFFT 512
#define NBIN (NFFT / 2 + 1)
#define ACW 640 /* autocorrelation / pitch window */
#define ACFFT 1024
#define F0_MIN 60.0
#define F0_MAX 500.0
/* YIN confidence (1 - the normalised difference minimum) from which a frame with an F0 in range is voiced */
#define VOICING_MIN 0.5

const char *const ima_emo_frame_feature_names[IMA_EMO_FRAME_DIM] = {
    "f0_hz",
    "pitch_confidence",
    "voiced",
    "energy_db",
    "zcr",
    "centroid_khz",
    "spread_khz",
    "rolloff_khz",
    "flatness",
    "flux",
    "tilt_db_per_octave",
    "hnr_db",
    "band_0_300_db",
    "band_300_600_db",
    "band_600_1200_db",
    "band_1200_2400_db",
    "band_2400_3600_db",
    "band_3600_5000_db",
    "band_5000_8000_db",
};
enum {
    FR_F0,
    FR_CONF,
    FR_VOICED,
    FR_ENERGY,
    FR_ZCR,
    FR_CENTROID,
    FR_SPREAD,
    FR_ROLLOFF,
    FR_FLATNESS,
    FR_FLUX,
    FR_TILT,
    FR_HNR,
    FR_BAND0
};
#define N_BANDS 7
static const double band_edges[N_BANDS + 1] = {0, 300, 600, 1200, 2400, 3600, 5000, 8001};

const char *const ima_emo_acoustic_feature_names[IMA_EMO_ACOUSTIC_DIM] = {
    "f0_mean_st",
    "f0_sd_st",
    "f0_range_st",
    "f0_slope_st_per_s",
    "voiced_fraction",
    "pitch_confidence",
    "jitter",
    "shimmer",
    "energy_mean_db",
    "energy_sd_db",
    "energy_max_db",
    "zcr",
    "centroid_khz",
    "spread_khz",
    "rolloff_khz",
    "flatness",
    "flux",
    "tilt_db_per_octave",
    "hnr_db",
    "band_0_300_db",
    "band_300_600_db",
    "band_600_1200_db",
    "band_1200_2400_db",
    "band_2400_3600_db",
    "band_3600_5000_db",
    "band_5000_8000_db",
    "duration_s",
};

/* FFTW's planner is process-wide and not thread-safe (fftwf_execute is): every plan made or destroyed
 * here, aubio's pitch trackers included, is made under this lock, so that analyzers can work on
 * several threads at once (the MELD builder's workers, each with its own analyzer). */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

struct ima_emo_analyzer {
    float *win;          // (320) Hann
    float *acwin;        // (640) Hann
    double *acwin_r;     // (640) normalised autocorrelation of acwin
    float *fin;          // (512) FFT input
    fftwf_complex *fout; // (257)
    fftwf_plan plan;
    float *acin;          // (1024)
    fftwf_complex *acout; // (513)
    float *acback;        // (1024)
    fftwf_plan acplan, acinv;
    aubio_pitch_t *pitch;
    fvec_t *pin, *pout;
};

void ima_emo_analyzer_free(ima_emo_analyzer *a) {
    if (!a) return;
    pthread_mutex_lock(&planner_lock);
    if (a->plan) fftwf_destroy_plan(a->plan);
    if (a->acplan) fftwf_destroy_plan(a->acplan);
    if (a->acinv) fftwf_destroy_plan(a->acinv);
    if (a->pitch) del_aubio_pitch(a->pitch);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(a->fin);
    fftwf_free(a->fout);
    fftwf_free(a->acin);
    fftwf_free(a->acout);
    fftwf_free(a->acback);
    if (a->pin) del_fvec(a->pin);
    if (a->pout) del_fvec(a->pout);
    free(a->win);
    free(a->acwin);
    free(a->acwin_r);
    free(a);
}

/* autocorrelation of the windowed buffer acin[0..ACW) (zero-padded) into acback, unnormalised */
static void autocorr(ima_emo_analyzer *a) {
    fftwf_execute(a->acplan);
    for (size_t k = 0; k <= ACFFT / 2; k++) {
        float re = a->acout[k][0], im = a->acout[k][1];
        a->acout[k][0] = re * re + im * im;
        a->acout[k][1] = 0.0f;
    }
    fftwf_execute(a->acinv);
}

int ima_emo_analyzer_init(ima_emo_analyzer **out) {
    *out = NULL;
    ima_emo_analyzer *a = ima_try_calloc(1, sizeof *a);
    if (!a) return ima_error_prefix("%s", __func__);
    a->win = ima_try_malloc(IMA_EMO_FRAME_LEN, sizeof(float));
    a->acwin = ima_try_malloc(ACW, sizeof(float));
    a->acwin_r = ima_try_malloc(ACW, sizeof(double));
    if (!a->win || !a->acwin || !a->acwin_r) {
        ima_emo_analyzer_free(a);
        return ima_error_prefix("%s", __func__);
    }
    for (size_t i = 0; i < IMA_EMO_FRAME_LEN; i++)
        a->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)(IMA_EMO_FRAME_LEN - 1)));
    for (size_t i = 0; i < ACW; i++) a->acwin[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)(ACW - 1)));
    a->fin = fftwf_malloc(NFFT * sizeof(float));
    a->fout = fftwf_malloc(NBIN * sizeof(fftwf_complex));
    a->acin = fftwf_malloc(ACFFT * sizeof(float));
    a->acout = fftwf_malloc((ACFFT / 2 + 1) * sizeof(fftwf_complex));
    a->acback = fftwf_malloc(ACFFT * sizeof(float));
    if (!a->fin || !a->fout || !a->acin || !a->acout || !a->acback) {
        ima_emo_analyzer_free(a);
        return ima_error("%s: out of memory for the FFT buffers", __func__);
    }
    pthread_mutex_lock(&planner_lock);
    a->plan = fftwf_plan_dft_r2c_1d(NFFT, a->fin, a->fout, FFTW_ESTIMATE);
    a->acplan = fftwf_plan_dft_r2c_1d(ACFFT, a->acin, a->acout, FFTW_ESTIMATE);
    a->acinv = fftwf_plan_dft_c2r_1d(ACFFT, a->acout, a->acback, FFTW_ESTIMATE);
    a->pitch = new_aubio_pitch("yinfast", ACW, IMA_EMO_FRAME_SHIFT, IMA_EMO_RATE);
    pthread_mutex_unlock(&planner_lock);
    a->pin = new_fvec(IMA_EMO_FRAME_SHIFT);
    a->pout = new_fvec(1);
    if (!a->plan || !a->acplan || !a->acinv || !a->pitch || !a->pin || !a->pout) {
        ima_emo_analyzer_free(a);
        return ima_error("%s: FFTW or aubio could not set up the analysis", __func__);
    }
    aubio_pitch_set_unit(a->pitch, "Hz");
    aubio_pitch_set_silence(a->pitch, -70.0f);
    /* the window's own normalised autocorrelation (Boersma 1993) */
    memset(a->acin, 0, ACFFT * sizeof(float));
    for (size_t i = 0; i < ACW; i++) a->acin[i] = a->acwin[i];
    autocorr(a);
    for (size_t t = 0; t < ACW; t++) a->acwin_r[t] = a->acback[t] / a->acback[0];
    *out = a;
    return IMA_OK;
}

static double db(double p) { return 10.0 * log10(p + 1e-10); }

int ima_emo_frame_features(ima_emo_analyzer *a, float **frames, size_t *F_out, const float *wave, size_t n) {
    *frames = NULL;
    *F_out = 0;
    if (n < IMA_EMO_FRAME_LEN) return IMA_OK;
    size_t F = 1 + (n - IMA_EMO_FRAME_LEN) / IMA_EMO_FRAME_SHIFT;
    float *fr = ima_try_calloc(F, IMA_EMO_FRAME_DIM * sizeof(float)); // (F, FRAME_DIM)
    float *prev = ima_try_calloc(NBIN, sizeof(float));                 // previous normalised magnitude
    if (!fr || !prev) {
        free(fr), free(prev);
        return ima_error_prefix("%s: %zu frames", __func__, F);
    }
    double mag[NBIN];

    /* pitch: aubio consumes hop blocks; its buffer after block m ends at 160 (m + 1), so its centre
     * (160 m - 160) matches frame k's centre (160 k + 160) at m = k + 2 */
    aubio_pitch_t *p = a->pitch;
    for (size_t m = 0; m < F + 2; m++) {
        for (size_t i = 0; i < IMA_EMO_FRAME_SHIFT; i++) {
            size_t s = m * IMA_EMO_FRAME_SHIFT + i;
            a->pin->data[i] = s < n ? wave[s] : 0.0f;
        }
        aubio_pitch_do(p, a->pin, a->pout);
        if (m >= 2) {
            float *row = fr + (m - 2) * IMA_EMO_FRAME_DIM;
            double f0 = a->pout->data[0], conf = aubio_pitch_get_confidence(p);
            int voiced = conf >= VOICING_MIN && f0 >= F0_MIN && f0 <= F0_MAX;
            row[FR_F0] = voiced ? (float)f0 : 0.0f;
            row[FR_CONF] = (float)conf;
            row[FR_VOICED] = (float)voiced;
        }
    }
    /* a fresh tracker for the next utterance (aubio keeps its buffer) */
    pthread_mutex_lock(&planner_lock);
    del_aubio_pitch(a->pitch);
    a->pitch = new_aubio_pitch("yinfast", ACW, IMA_EMO_FRAME_SHIFT, IMA_EMO_RATE);
    pthread_mutex_unlock(&planner_lock);
    if (!a->pitch) {
        free(fr);
        free(prev);
        return ima_error("%s: aubio could not reset the pitch tracker", __func__);
    }
    aubio_pitch_set_unit(a->pitch, "Hz");
    aubio_pitch_set_silence(a->pitch, -70.0f);

    const double hz_per_bin = (double)IMA_EMO_RATE / NFFT;
    for (size_t k = 0; k < F; k++) {
        const float *x = wave + k * IMA_EMO_FRAME_SHIFT;
        float *row = fr + k * IMA_EMO_FRAME_DIM;
        double e = 0.0;
        size_t zc = 0;
        for (size_t i = 0; i < IMA_EMO_FRAME_LEN; i++) {
            e += (double)x[i] * x[i];
            if (i > 0 && ((x[i] >= 0.0f) != (x[i - 1] >= 0.0f))) zc++;
        }
        row[FR_ENERGY] = (float)db(e / IMA_EMO_FRAME_LEN);
        row[FR_ZCR] = (float)zc / (IMA_EMO_FRAME_LEN - 1);

        /* spectrum */
        for (size_t i = 0; i < NFFT; i++) a->fin[i] = i < IMA_EMO_FRAME_LEN ? x[i] * a->win[i] : 0.0f;
        fftwf_execute(a->plan);
        double ptot = 0.0, cen = 0.0, logsum = 0.0, band[N_BANDS] = {0};
        for (size_t b = 0; b < NBIN; b++) {
            double pw = (double)a->fout[b][0] * a->fout[b][0] + (double)a->fout[b][1] * a->fout[b][1];
            mag[b] = pw;
            ptot += pw;
            cen += pw * b * hz_per_bin;
            logsum += log(pw + 1e-12);
            double f = b * hz_per_bin;
            for (int q = 0; q < N_BANDS; q++)
                if (f >= band_edges[q] && f < band_edges[q + 1]) band[q] += pw;
        }
        double centroid = ptot > 0 ? cen / ptot : 0.0, spread = 0.0, flux = 0.0, cum = 0.0, roll = 0.0;
        for (size_t b = 0; b < NBIN; b++) {
            double f = b * hz_per_bin;
            if (ptot > 0) spread += mag[b] * (f - centroid) * (f - centroid) / ptot;
            cum += mag[b];
            if (roll == 0.0 && cum >= 0.85 * ptot && ptot > 0) roll = f;
        }
        double norm = 0.0;
        for (size_t b = 0; b < NBIN; b++) norm += sqrt(mag[b]);
        for (size_t b = 0; b < NBIN; b++) {
            float m = norm > 0 ? (float)(sqrt(mag[b]) / norm) : 0.0f;
            flux += ((double)m - prev[b]) * ((double)m - prev[b]);
            prev[b] = m;
        }
        row[FR_CENTROID] = (float)(centroid / 1000.0);
        row[FR_SPREAD] = (float)(sqrt(spread) / 1000.0);
        row[FR_ROLLOFF] = (float)(roll / 1000.0);
        double amean = ptot / NBIN;
        row[FR_FLATNESS] = amean > 0 ? (float)(exp(logsum / NBIN) / (amean + 1e-12)) : 0.0f;
        row[FR_FLUX] = (float)sqrt(flux);
        /* tilt: least-squares slope of the power in dB against log2 frequency, 100 Hz .. 8 kHz */
        double sx = 0, sy = 0, sxx = 0, sxy = 0, cnt = 0;
        for (size_t b = 1; b < NBIN; b++) {
            double f = b * hz_per_bin;
            if (f < 100.0) continue;
            double lx = log2(f), ly = db(mag[b]);
            sx += lx;
            sy += ly;
            sxx += lx * lx;
            sxy += lx * ly;
            cnt++;
        }
        double den = cnt * sxx - sx * sx;
        row[FR_TILT] = den > 0 ? (float)((cnt * sxy - sx * sy) / den) : 0.0f;
        for (int q = 0; q < N_BANDS; q++) row[FR_BAND0 + q] = (float)db(band[q]);

        /* HNR: 40 ms window centred on the frame centre */
        long c0 = (long)(k * IMA_EMO_FRAME_SHIFT) + IMA_EMO_FRAME_LEN / 2 - ACW / 2;
        memset(a->acin, 0, ACFFT * sizeof(float));
        for (long i = 0; i < ACW; i++) {
            long s = c0 + i;
            a->acin[i] = (s >= 0 && (size_t)s < n) ? wave[s] * a->acwin[i] : 0.0f;
        }
        autocorr(a);
        double r0 = a->acback[0], best = 0.0;
        if (r0 > 1e-9) {
            size_t lo = (size_t)(IMA_EMO_RATE / F0_MAX), hi = (size_t)(IMA_EMO_RATE / F0_MIN);
            if (hi > ACW / 2) hi = ACW / 2;
            for (size_t t = lo; t <= hi; t++) {
                double r = a->acback[t] / r0 / a->acwin_r[t];
                if (r > best) best = r;
            }
        }
        if (best > 0.999) best = 0.999;
        double hnr = best > 0 ? 10.0 * log10(best / (1.0 - best)) : -20.0;
        if (hnr < -20.0) hnr = -20.0;
        row[FR_HNR] = (float)hnr;
    }
    free(prev);
    *frames = fr;
    *F_out = F;
    return IMA_OK;
}

/* ---- word pooling ------------------------------------------------------------------------------- */

void ima_emo_word_features(float *out, const float *frames, size_t F, double t0, double t1) {
    memset(out, 0, IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    out[26] = (float)(t1 - t0);
    if (F == 0) return;
    /* frame k's centre is at (160 k + 160) / 16000 s */
    double shift = (double)IMA_EMO_FRAME_SHIFT / IMA_EMO_RATE, half = (double)IMA_EMO_FRAME_LEN / 2 / IMA_EMO_RATE;
    long k0 = (long)ceil((t0 - half) / shift), k1 = (long)ceil((t1 - half) / shift); /* [k0, k1) */
    if (k0 < 0) k0 = 0;
    if (k1 > (long)F) k1 = (long)F;
    if (k1 <= k0) { /* no frame centre inside: the nearest frame */
        long k = (long)floor(((t0 + t1) / 2 - half) / shift + 0.5);
        if (k < 0) k = 0;
        if (k >= (long)F) k = (long)F - 1;
        k0 = k;
        k1 = k + 1;
    }
    double n = (double)(k1 - k0);
    double sum[IMA_EMO_FRAME_DIM] = {0};
    double emax = -1e30, e2 = 0.0;
    double nv = 0, st_sum = 0, st2 = 0, st_min = 1e30, st_max = -1e30, hnr_v = 0;
    double tx = 0, txx = 0, txy = 0; /* F0 slope regression */
    double jit = 0, jit_n = 0, per_sum = 0, shim = 0, amp_sum = 0;
    double prev_per = 0, prev_amp = 0;
    int prev_voiced = 0;
    for (long k = k0; k < k1; k++) {
        const float *r = frames + (size_t)k * IMA_EMO_FRAME_DIM;
        for (int d = 0; d < IMA_EMO_FRAME_DIM; d++) sum[d] += r[d];
        e2 += (double)r[FR_ENERGY] * r[FR_ENERGY];
        if (r[FR_ENERGY] > emax) emax = r[FR_ENERGY];
        int v = r[FR_VOICED] > 0.5f;
        if (v) {
            double st = 12.0 * log2(r[FR_F0] / 100.0), t = (double)k * shift;
            nv++;
            st_sum += st;
            st2 += st * st;
            if (st < st_min) st_min = st;
            if (st > st_max) st_max = st;
            tx += t;
            txx += t * t;
            txy += t * st;
            hnr_v += r[FR_HNR];
            double per = 1.0 / r[FR_F0], amp = pow(10.0, r[FR_ENERGY] / 20.0);
            per_sum += per;
            amp_sum += amp;
            if (prev_voiced) {
                jit += fabs(per - prev_per);
                shim += fabs(amp - prev_amp);
                jit_n++;
            }
            prev_per = per;
            prev_amp = amp;
        }
        prev_voiced = v;
    }
    if (nv > 0) {
        double mean = st_sum / nv;
        out[0] = (float)mean;
        out[1] = (float)sqrt(fmax(st2 / nv - mean * mean, 0.0));
        out[2] = (float)(st_max - st_min);
        double den = nv * txx - tx * tx;
        out[3] = den > 1e-12 ? (float)((nv * txy - tx * st_sum) / den) : 0.0f;
        out[18] = (float)(hnr_v / nv);
    } else {
        out[18] = (float)(sum[FR_HNR] / n);
    }
    out[4] = (float)(nv / n);
    out[5] = (float)(sum[FR_CONF] / n);
    if (jit_n > 0) {
        out[6] = (float)((jit / jit_n) / (per_sum / nv));
        out[7] = (float)((shim / jit_n) / (amp_sum / nv));
    }
    double em = sum[FR_ENERGY] / n;
    out[8] = (float)em;
    out[9] = (float)sqrt(fmax(e2 / n - em * em, 0.0));
    out[10] = (float)emax;
    out[11] = (float)(sum[FR_ZCR] / n);
    out[12] = (float)(sum[FR_CENTROID] / n);
    out[13] = (float)(sum[FR_SPREAD] / n);
    out[14] = (float)(sum[FR_ROLLOFF] / n);
    out[15] = (float)(sum[FR_FLATNESS] / n);
    out[16] = (float)(sum[FR_FLUX] / n);
    out[17] = (float)(sum[FR_TILT] / n);
    for (int q = 0; q < N_BANDS; q++) out[19 + q] = (float)(sum[FR_BAND0 + q] / n);
}

int emo_utterance_acoustics(ima_emo_analyzer *a, float *avec, const float *wave, size_t n, const float *t0,
                            const float *t1, size_t N) {
    float *frames;
    size_t F;
    if (ima_emo_frame_features(a, &frames, &F, wave, n)) return IMA_ERR;
    for (size_t l = 0; l < N; l++) ima_emo_word_features(avec + l * IMA_EMO_ACOUSTIC_DIM, frames, F, t0[l], t1[l]);
    free(frames);
    return IMA_OK;
}
