/* audio.h: the speech front end of the digits corpus (SPEC section 4).
 *
 *   read (libsndfile, any format it knows: WAV, FLAC, NIST SPHERE ...) -> mono float in [-1, 1]
 *   -> resample to 12.5 kHz (libsamplerate, SRC_SINC_MEDIUM_QUALITY)
 *   -> Kaldi-compatible MFCC (FFTW): (T, 12) frames, c1..c12 (c0 dropped)
 *   -> the 58 frames around the midpoint, concatenated: 696 values (ima_mfcc_window).
 *
 * The MFCC conventions are those of Kaldi's compute-mfcc-feats (and of torchaudio's
 * torchaudio.compliance.kaldi.mfcc), with frame length 20 ms instead of Kaldi's 25 ms:
 * dither 0, DC offset removed per frame, pre-emphasis 0.97, Povey window
 * ((0.5 - 0.5 cos(2 pi n / (N-1)))^0.85), zero-padded to a power-of-two FFT (250 -> 256),
 * power spectrum, 23 triangular mel bins (mel = 1127 ln(1 + f/700)) from 20 Hz to Nyquist,
 * log floored at FLT_EPSILON, orthonormal DCT-II (13 coefficients), sinusoidal lifter Q = 22.
 * snip_edges: frames start at 0, 125, 250, ... and end inside the signal.
 * Samples are scaled by 32768 first (Kaldi's 16-bit integer scale), which only moves c0 and
 * keeps the log floor away from real signal. See docs/data.md.
 *
 * Dimensions: T frames, C = 12 cepstral coefficients kept, F = 58 frames kept, 696 = F * C.
 */
#ifndef IMA_AUDIO_H
#define IMA_AUDIO_H

#include <stddef.h>

#define IMA_SPEECH_RATE 12500                              /* Hz, the rate every recording is resampled to */
#define IMA_MFCC_COEFFS 12                                 /* C: c1..c12 */
#define IMA_MFCC_FRAMES 58                                 /* F: 29 on each side of the midpoint */
#define IMA_SPEECH_DIM (IMA_MFCC_COEFFS * IMA_MFCC_FRAMES) /* 696 */

/* ---- reading and resampling ------------------------------------------------------------ */

/* What a recording may be: sample rate and length (all channels; 2^26 is 23 minutes at 48 kHz). */
#define IMA_AUDIO_MIN_RATE 1000
#define IMA_AUDIO_MAX_RATE 384000
#define IMA_AUDIO_MAX_SAMPLES ((size_t)1 << 26)
/* Reads a whole audio file as mono (channels averaged), float in [-1, 1].
 * *samples (n) is malloc'd; *rate is the file's sample rate. An unreadable file or one with no
 * samples is an error naming the file. */
int ima_audio_read(const char *path, float **samples, size_t *n, int *rate);

/* Resamples in (n_in at rate_in) to rate_out; *out (n_out) is malloc'd. */
int ima_audio_resample(float **out, size_t *n_out, const float *in, size_t n_in, double rate_in, double rate_out);

/* ima_audio_read followed by resampling to rate_out (no resampling when the rates agree). */
int ima_audio_load(const char *path, double rate_out, float **out, size_t *n);
/* Band-limits in place: a signal at rate_in holding energy above band_hz (band_hz < rate_in / 2) is
 * resampled to 2 band_hz, whose anti-aliasing filter removes it, and back; *limited is set to 1. */
int ima_audio_band_limit(float **wave, size_t *n, double rate_in, double band_hz, int *limited);
/* ima_audio_load with ima_audio_band_limit first when band_hz > 0 (*limited: it was applied). */
int ima_audio_load_band(const char *path, double rate_out, double band_hz, float **out, size_t *n, int *limited);
/* The sample rate in a file's header (nothing decoded). */
int ima_audio_rate(const char *path, int *rate);

/* ---- MFCC -------------------------------------------------------------------------------- */

typedef struct {
    double sample_rate; // Hz (12500)
    double frame_ms;    // window length (20)
    double shift_ms;    // frame shift (10)
    int num_mel_bins;   // triangular mel filters (23, Kaldi's default)
    int num_ceps;       // cepstra computed, c0 included (13); c1..c(num_ceps-1) are returned
    double low_freq;    // lowest mel edge, Hz (20)
    double high_freq;   // highest mel edge, Hz; <= 0 means Nyquist + high_freq (0)
    double preemph;     // pre-emphasis coefficient (0.97)
    double lifter;      // cepstral lifter Q (22); 0 disables
    double input_scale; // samples are multiplied by this first (32768)
} ima_mfcc_config;

typedef struct ima_mfcc ima_mfcc; /* opaque: FFTW plan, window, mel bank, DCT table, scratch */

ima_mfcc_config ima_mfcc_default(void);
int ima_mfcc_init(ima_mfcc **out, const ima_mfcc_config *cfg);
void ima_mfcc_free(ima_mfcc *m); /* NULL is fine */
/* window length and shift in samples; coefficients returned per frame (num_ceps - 1) */
size_t ima_mfcc_window_len(const ima_mfcc *m);
size_t ima_mfcc_shift(const ima_mfcc *m);
size_t ima_mfcc_coeffs(const ima_mfcc *m);
/* number of frames for n samples (0 when n < window length) */
size_t ima_mfcc_num_frames(const ima_mfcc *m, size_t n);

/* Computes frames (T, C) with T = ima_mfcc_num_frames(n). *frames is malloc'd.
 * A signal shorter than one window is an error ("shorter than one 20 ms window"). */
int ima_mfcc_compute(ima_mfcc *m, float **frames, size_t *T, const float *wave, size_t n);

/* The F frames around the midpoint of (T, C) frames, concatenated frame by frame: out (F * C).
 * T >= F: frames [T/2 - F/2, T/2 - F/2 + F). T < F: all T frames, padded symmetrically by
 * repeating the first frame (F - T) / 2 times before and the last frame the rest after. T = 0 is
 * an error. */
int ima_mfcc_window(float *out, const float *frames, size_t T, size_t C, size_t F);

/* Load + resample to 12.5 kHz + MFCC + 58-frame window: out (696). */
int ima_speech_features(ima_mfcc *m, float *out, const char *path);
/* ima_speech_features with the recording band-limited to band_hz first (0: none); *limited says if it was. */
int ima_speech_features_band(ima_mfcc *m, float *out, const char *path, double band_hz, int *limited);
/* Same path for samples already at the MFCC rate. */
int ima_speech_features_wave(ima_mfcc *m, float *out, const float *wave, size_t n);

#endif
