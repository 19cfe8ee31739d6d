/* audio.c: reading audio files (libsndfile) and resampling (libsamplerate).
 * Dimensions: n samples, ch channels. Limits (a header claiming more is refused before anything is
 * allocated): sample rate IMA_AUDIO_MIN_RATE..IMA_AUDIO_MAX_RATE, at most IMA_AUDIO_MAX_SAMPLES
 * samples (all channels), and for uncompressed formats no more frames than the file's bytes hold. */
#include "ima/audio.h"

#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "io/file.h"

int ima_audio_read(const char *path, float **samples, size_t *n, int *rate) {
    *samples = NULL;
    *n = 0;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    size_t fsize = 0;
    int fd = ima_open_regular(path, &fsize); /* a FIFO would block libsndfile forever */
    if (fd < 0) return IMA_ERR;
    SNDFILE *f = sf_open_fd(fd, SFM_READ, &info, 1);
    if (!f) return ima_error("%s: cannot read audio file: %s", path, sf_strerror(NULL));
    if (info.frames <= 0 || info.channels <= 0) {
        sf_close(f);
        return ima_error("%s: empty audio file (no samples)", path);
    }
    if (info.samplerate < IMA_AUDIO_MIN_RATE || info.samplerate > IMA_AUDIO_MAX_RATE) {
        sf_close(f);
        return ima_error("%s: header: sample rate %d Hz, expected %d..%d Hz", path, info.samplerate, IMA_AUDIO_MIN_RATE,
                         IMA_AUDIO_MAX_RATE);
    }
    size_t frames = (size_t)info.frames, ch = (size_t)info.channels, total;
    if (ima_mul_overflows(frames, ch, &total) || total > IMA_AUDIO_MAX_SAMPLES) {
        sf_close(f);
        return ima_error("%s: header: %zu frames x %zu channels, more than the %zu samples a recording may have", path,
                         frames, ch, (size_t)IMA_AUDIO_MAX_SAMPLES);
    }
    /* PCM stores at least one byte per sample: a header claiming more frames than that is a lie */
    int major = info.format & SF_FORMAT_TYPEMASK;
    if ((major == SF_FORMAT_WAV || major == SF_FORMAT_AIFF || major == SF_FORMAT_AU || major == SF_FORMAT_RAW) &&
        total > fsize) {
        sf_close(f);
        return ima_error("%s: header: %zu samples, but the file has only %zu bytes; truncated or corrupt", path, total,
                         fsize);
    }
    float *buf = ima_try_malloc(total, sizeof(float)); // (frames, ch) interleaved
    if (!buf) {
        sf_close(f);
        return ima_error_prefix("%s", path);
    }
    sf_count_t got = sf_readf_float(f, buf, (sf_count_t)frames);
    sf_close(f);
    if (got <= 0) {
        free(buf);
        return ima_error("%s: no samples could be read (truncated or corrupt audio)", path);
    }
    frames = (size_t)got;
    float *mono = ima_try_malloc(frames, sizeof(float)); // (frames)
    if (!mono) {
        free(buf);
        return ima_error_prefix("%s", path);
    }
    for (size_t i = 0; i < frames; i++) {
        double s = 0;
        for (size_t c = 0; c < ch; c++) s += buf[i * ch + c];
        mono[i] = (float)(s / (double)ch);
        if (!isfinite(mono[i])) {
            free(buf);
            free(mono);
            return ima_error("%s: sample %zu is not finite", path, i);
        }
    }
    free(buf);
    *samples = mono;
    *n = frames;
    *rate = info.samplerate;
    return IMA_OK;
}

int ima_audio_resample(float **out, size_t *n_out, const float *in, size_t n_in, double rate_in, double rate_out) {
    *out = NULL;
    *n_out = 0;
    if (!(rate_in > 0) || !(rate_out > 0))
        return ima_error("%s: bad sample rates %g -> %g", __func__, rate_in, rate_out);
    double ratio = rate_out / rate_in, want = ceil((double)n_in * ratio) + 16;
    if (!(want <= (double)IMA_AUDIO_MAX_SAMPLES) || !(ratio >= 1.0 / 256 && ratio <= 256))
        return ima_error("%s: resampling %zu samples from %g Hz to %g Hz: more than %zu samples or a ratio outside "
                         "1/256..256",
                         __func__, n_in, rate_in, rate_out, (size_t)IMA_AUDIO_MAX_SAMPLES);
    size_t cap = (size_t)want;
    float *o = ima_try_malloc(cap, sizeof(float)); // (cap)
    if (!o) return ima_error_prefix("%s", __func__);
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = in;
    d.input_frames = (long)n_in;
    d.data_out = o;
    d.output_frames = (long)cap;
    d.src_ratio = ratio;
    int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
    if (err) {
        free(o);
        return ima_error("%s: libsamplerate: %s", __func__, src_strerror(err));
    }
    *out = o;
    *n_out = (size_t)d.output_frames_gen;
    return IMA_OK;
}

int ima_audio_load(const char *path, double rate_out, float **out, size_t *n) {
    float *raw;
    size_t nr;
    int rate;
    if (ima_audio_read(path, &raw, &nr, &rate)) return IMA_ERR;
    if ((double)rate == rate_out) {
        *out = raw;
        *n = nr;
        return IMA_OK;
    }
    int st = ima_audio_resample(out, n, raw, nr, (double)rate, rate_out);
    free(raw);
    if (st) return ima_error_prefix("%s", path);
    return IMA_OK;
}

int ima_audio_band_limit(float **wave, size_t *n, double rate_in, double band_hz, int *limited) {
    *limited = 0;
    if (!(band_hz > 0) || !(band_hz < rate_in / 2 * (1 - 1e-9))) return IMA_OK;
    float *down = NULL, *up = NULL;
    size_t nd = 0, nu = 0;
    if (ima_audio_resample(&down, &nd, *wave, *n, rate_in, 2 * band_hz)) return IMA_ERR;
    int st = ima_audio_resample(&up, &nu, down, nd, 2 * band_hz, rate_in);
    free(down);
    if (st) return IMA_ERR;
    free(*wave);
    *wave = up;
    *n = nu;
    *limited = 1;
    return IMA_OK;
}

int ima_audio_load_band(const char *path, double rate_out, double band_hz, float **out, size_t *n, int *limited) {
    *limited = 0;
    *out = NULL;
    *n = 0;
    float *raw;
    size_t nr;
    int rate;
    if (ima_audio_read(path, &raw, &nr, &rate)) return IMA_ERR;
    /* a band below rate_out / 2 only matters when the recording holds more than it: limit at the source
     * rate, then resample as usual */
    if (band_hz > 0 && band_hz < rate_out / 2 && ima_audio_band_limit(&raw, &nr, (double)rate, band_hz, limited)) {
        free(raw);
        return ima_error_prefix("%s", path);
    }
    if ((double)rate == rate_out) {
        *out = raw;
        *n = nr;
        return IMA_OK;
    }
    int st = ima_audio_resample(out, n, raw, nr, (double)rate, rate_out);
    free(raw);
    if (st) return ima_error_prefix("%s", path);
    return IMA_OK;
}

int ima_audio_rate(const char *path, int *rate) {
    SF_INFO info;
    memset(&info, 0, sizeof info);
    int fd = ima_open_regular(path, NULL);
    if (fd < 0) return IMA_ERR;
    SNDFILE *f = sf_open_fd(fd, SFM_READ, &info, 1);
    if (!f) return ima_error("%s: cannot read audio file: %s", path, sf_strerror(NULL));
    sf_close(f);
    *rate = info.samplerate;
    return IMA_OK;
}
