/* speech_synth.c: spoken digits synthesized with libespeak-ng's C API.
 *
 * A "speaker" is one voice configuration: an English accent (espeak voice), a voice variant
 * (+m1..+m7, +f1..+f5), a speaking rate (words per minute) and a pitch (0..100). Each speaker
 * says "zero" .. "nine" once; espeak is deterministic for given settings, and the seed picks the
 * configurations. Audio comes from the synth callback (16-bit at 22,050 Hz) and is resampled to
 * 12.5 kHz. espeak-ng keeps process-wide state, so synthesis runs on one thread, and
 * espeak_Initialize is called once per process.
 *
 * Determinism: espeak-ng 1.51 carries synthesis state from one utterance to the next (the same
 * word synthesized twice in one process differs by a few samples), and has no seed API
 * (espeak_ng_SetRandSeed came later). A fresh process that makes the same calls in the same
 * order produces identical audio, and the corpus builder synthesizes once per process: so
 * `ima data digits` with a given seed is byte-for-byte reproducible (tests/cli_data.sh checks
 * it), while a second synthesis inside one process is only close (tests/test_digits.c).
 * srand() is called once before synthesis to pin any use espeak makes of the C library's rand();
 * ima's own randomness never uses rand().
 * Dimensions: n samples at 22,050 Hz. */
#define _POSIX_C_SOURCE 200809L
#include <espeak-ng/speak_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/digits.h"
#include "data/speech_internal.h"

const char *const ima_synth_default_voices[] = {
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc", NULL,
};
const char *const ima_synth_default_variants[] = {
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", NULL,
};
static const char *const digit_words[IMA_NUM_DIGITS] = {"zero", "one", "two",   "three", "four",
                                                        "five", "six", "seven", "eight", "nine"};

#define RATE_MIN 130
#define RATE_STEPS 10 /* 130, 140, ..., 220 wpm */
#define PITCH_MIN 25
#define PITCH_STEPS 11 /* 25, 30, ..., 75 */

typedef struct {
    short *buf;
    size_t n, cap;
    int failed; // the buffer could not grow (synthesis stopped; the error is set)
} synth_buf;

static int synth_cb(short *wav, int numsamples, espeak_EVENT *events) {
    synth_buf *b = events && events->user_data ? events->user_data : NULL;
    if (!b || !wav || numsamples <= 0) return 0;
    if (b->n + (size_t)numsamples > b->cap) {
        size_t cap = (b->n + (size_t)numsamples) * 2;
        short *grown = ima_try_realloc(b->buf, cap, sizeof(short));
        if (!grown) {
            b->failed = 1;
            return 1; /* stops the synthesis */
        }
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->n, wav, (size_t)numsamples * sizeof(short));
    b->n += (size_t)numsamples;
    return 0;
}

static int espeak_rate = 0; /* espeak's output rate once initialised (process-wide, like espeak) */

static int synth_init(void) {
    if (espeak_rate > 0) return IMA_OK;
    int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0) return ima_error("espeak-ng: initialisation failed (is espeak-ng-data installed?)");
    espeak_SetSynthCallback(synth_cb);
    espeak_rate = rate;
    return IMA_OK;
}

static int set_voice(const char *name) {
    if (espeak_SetVoiceByName(name) != EE_OK)
        return ima_error("espeak-ng: unknown voice '%s' (English accents here include: en, en-us, en-gb-scotland, "
                         "en-gb-x-rp, en-029, en-gb-x-gbclan, en-gb-x-gbcwmd, en-us-nyc)",
                         name);
    return IMA_OK;
}

typedef struct {
    size_t voice, variant, rate, pitch;
} voice_cfg;

int ima_speech_add_synth(ima_speech_set *s, ima_mfcc *m, const ima_synth_config *cfg, ima_progress_fn fn, void *ctx) {
    if (synth_init()) return IMA_ERR;
    srand(1); /* see "Determinism" above */
    const char *const *voices = cfg->voices ? cfg->voices : ima_synth_default_voices;
    size_t nv = 0, nvar = 0;
    if (cfg->voices) nv = cfg->n_voices;
    else
        while (voices[nv]) nv++;
    while (ima_synth_default_variants[nvar]) nvar++;
    if (nv == 0) return ima_error("espeak-ng: no voices given");
    for (size_t v = 0; v < nv; v++)
        if (set_voice(voices[v])) return IMA_ERR;
    size_t space = nv * nvar * RATE_STEPS * PITCH_STEPS;
    if (cfg->n_speakers == 0 || cfg->n_speakers > space)
        return ima_error("espeak-ng: %zu speakers asked for; between 1 and %zu voice configurations exist",
                         cfg->n_speakers, space);

    /* pick distinct configurations: accents in turn (so that they are spread evenly), the rest at
     * random; duplicates are drawn again */
    ima_rng rng;
    ima_rng_init(&rng, cfg->seed ^ 0x5eec4e5e5eec4ull);
    voice_cfg *vc = ima_try_malloc(cfg->n_speakers, sizeof *vc); /* n_speakers <= space: a few thousand */
    uint8_t *used = ima_try_calloc(space, 1);
    if (!vc || !used) {
        free(vc), free(used);
        return ima_error_prefix("espeak-ng: %zu speakers", cfg->n_speakers);
    }
    for (size_t k = 0; k < cfg->n_speakers; k++) {
        for (;;) {
            voice_cfg c = {k % nv, (size_t)ima_rng_below(&rng, nvar), (size_t)ima_rng_below(&rng, RATE_STEPS),
                           (size_t)ima_rng_below(&rng, PITCH_STEPS)};
            size_t key = ((c.voice * nvar + c.variant) * RATE_STEPS + c.rate) * PITCH_STEPS + c.pitch;
            if (used[key]) continue;
            used[key] = 1;
            vc[k] = c;
            break;
        }
    }
    free(used);

    int src = ima_speech_set_add_source(s, "espeak", "");
    if (src < 0) {
        free(vc);
        return IMA_ERR;
    }

    synth_buf b = {NULL, 0, 0, 0};
    float *wave = NULL;
    float feat[IMA_SPEECH_DIM];
    int st = IMA_OK;
    size_t total = cfg->n_speakers * IMA_NUM_DIGITS;
    for (size_t k = 0; k < cfg->n_speakers && !st; k++) {
        char vname[256], spk[300];
        int rate = RATE_MIN + 10 * (int)vc[k].rate, pitch = PITCH_MIN + 5 * (int)vc[k].pitch;
        snprintf(vname, sizeof vname, "%s+%s", voices[vc[k].voice], ima_synth_default_variants[vc[k].variant]);
        snprintf(spk, sizeof spk, "espeak:%s:r%d:p%d", vname, rate, pitch);
        if ((st = set_voice(vname))) break;
        espeak_SetParameter(espeakRATE, rate, 0);
        espeak_SetParameter(espeakPITCH, pitch, 0);
        for (int d = 0; d < IMA_NUM_DIGITS; d++) {
            b.n = 0;
            const char *w = digit_words[d];
            int synth_rc = espeak_Synth(w, strlen(w) + 1, 0, POS_CHARACTER, 0, espeakCHARS_AUTO, NULL, &b);
            if (b.failed) {
                st = ima_error_prefix("espeak-ng: the audio of '%s' with voice %s", w, spk);
                break;
            }
            if (synth_rc != EE_OK || espeak_Synchronize() != EE_OK) {
                st = ima_error("espeak-ng: synthesis failed for '%s' with voice %s", w, spk);
                break;
            }
            char name[400];
            snprintf(name, sizeof name, "%s:%s", spk, w);
            if (b.n == 0) {
                if ((st = ima_speech_set_skip(s, src, name, "espeak-ng produced no audio"))) break;
                continue;
            }
            float *raw = ima_try_malloc(b.n, sizeof(float)); // (n) at espeak's rate
            if (!raw) {
                st = ima_error_prefix("espeak-ng");
                break;
            }
            for (size_t i = 0; i < b.n; i++) raw[i] = (float)b.buf[i] / 32768.0f;
            size_t n, nraw = b.n;
            int limited = 0; /* to the corpus bandwidth, as every recording (docs/data.md) */
            st = s->bandwidth_hz > 0 && s->bandwidth_hz < IMA_SPEECH_RATE / 2.0
                     ? ima_audio_band_limit(&raw, &nraw, (double)espeak_rate, s->bandwidth_hz, &limited)
                     : IMA_OK;
            s->n_band_limited += (size_t)limited;
            if (!st) st = ima_audio_resample(&wave, &n, raw, nraw, (double)espeak_rate, IMA_SPEECH_RATE);
            free(raw);
            if (st) break;
            if (ima_speech_features_wave(m, feat, wave, n)) {
                char why[1024];
                snprintf(why, sizeof why, "%s", ima_last_error()); /* the skip may set a new error */
                /* out of memory is not the voice's fault: the build stops */
                st = ima_error_is_oom() ? IMA_ERR : ima_speech_set_skip(s, src, name, why);
            } else {
                st = ima_speech_set_push(s, feat, d, spk, src, name);
            }
            free(wave);
            wave = NULL;
            if (st) break;
            if (fn) fn(ctx, k * IMA_NUM_DIGITS + (size_t)d + 1, total);
        }
    }
    free(b.buf);
    free(wave);
    free(vc);
    return st;
}
