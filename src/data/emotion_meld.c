/* emotion_meld.c: the open analogue of IEMOCAP: MELD's real transcripts and emotion labels, each
 * utterance spoken by libespeak-ng (docs/emotion.md).
 *
 * Voices: every MELD speaker name maps (by a hash mixed with the seed) to one espeak voice: an
 * English accent, a variant (+m1..+m7, +f1..+f5), a base pitch and a base rate.
 * Prosody: the emotion shifts pitch level, pitch range, rate and volume (emo_prosody below), and
 * every utterance adds Gaussian noise to each, so the class is not a deterministic function of the
 * audio: the acoustic modality's emotion is put there by these rules, and the report says so.
 * Timings: the text given to espeak is the token list (ASCII, single spaces, the sentence's
 * punctuation after a token kept so that the intonation follows it); espeak's WORD events give each
 * word's start (ms), the next word's start (or the end of the audio) its end.
 * espeak-ng keeps process-wide state (see speech_synth.c): utterances are spoken one at a time, in
 * file order; resampling and the acoustic analysis run on cfg->threads workers (meld_work below).
 *
 * Dimensions: N tokens of an utterance, n samples. */
#define _POSIX_C_SOURCE 200809L
#include <espeak-ng/speak_lib.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/emotion_internal.h"
#include "ima/audio.h"
#include "ima/common.h"
#include "ima/emotion.h"
#include "ima/rng.h"

#define MAX_TOKENS 256
#define MAX_EVENTS 1024

static const char *const accents[] = {"en-us", "en", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland", "en-029"};
static const char *const variants[] = {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"};

/* emotion prosody: offsets from the speaker's neutral voice, and the per-utterance noise sd */
typedef struct {
    double pitch;  // espeak pitch points (0..100)
    double range;  // espeak pitch range points (0..100, neutral 50)
    double rate;   // relative change of words per minute
    double volume; // relative change of amplitude
} emo_prosody;
static const emo_prosody prosody_shift[IMA_EMO_N_CLASSES] = {
    {0.0, 0.0, 0.00, 0.00},      /* neutral */
    {10.0, 22.0, 0.08, 0.15},    /* happy: higher, livelier, a little faster and louder */
    {5.0, 28.0, 0.12, 0.40},     /* angry: wide range, fast, loud */
    {-10.0, -22.0, -0.20, -0.30} /* sad: low, flat, slow, soft */
};
static const emo_prosody prosody_noise = {7.0, 14.0, 0.10, 0.18};

typedef struct {
    short *buf;
    size_t n, cap;
    int ev_pos[MAX_EVENTS]; // text position of each WORD event (1-based characters)
    int ev_ms[MAX_EVENTS];  // its audio position (ms)
    size_t n_ev;
    int failed; // the audio buffer could not grow (synthesis stopped; the error is set)
} synth_out;

static int synth_cb(short *wav, int numsamples, espeak_EVENT *events) {
    synth_out *o = events ? events->user_data : NULL; /* every event, the terminator too, carries it */
    for (espeak_EVENT *e = events; o && e && e->type != espeakEVENT_LIST_TERMINATED; e++) {
        if (e->type == espeakEVENT_WORD && o->n_ev < MAX_EVENTS) {
            o->ev_pos[o->n_ev] = e->text_position;
            o->ev_ms[o->n_ev] = e->audio_position;
            o->n_ev++;
        }
    }
    if (!o || !wav || numsamples <= 0) return 0;
    if (o->n + (size_t)numsamples > o->cap) {
        size_t cap = (o->n + (size_t)numsamples) * 2;
        short *grown = ima_try_realloc(o->buf, cap, sizeof(short));
        if (!grown) {
            o->failed = 1;
            return 1; /* stops the synthesis */
        }
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->n, wav, (size_t)numsamples * sizeof(short));
    o->n += (size_t)numsamples;
    return 0;
}

static int espeak_rate_hz = 0; /* espeak is process-wide; initialised once */

int emo_espeak_init(void) {
    if (espeak_rate_hz > 0) return IMA_OK;
    int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0) return ima_error("espeak-ng: initialisation failed (is espeak-ng-data installed?)");
    espeak_rate_hz = rate;
    return IMA_OK;
}

/* The espeak half of emo_speak: speaks the tokens with the given voice settings into o (samples at
 * espeak's rate, WORD events; o->buf freed by the caller, also on failure) and pos (N, set by the
 * caller's allocation): the 1-based text position of each token. espeak's state is process-wide:
 * one call at a time. */
static int speak_raw(synth_out *o, size_t *pos, char (*words)[64], const char *punct, size_t N, const char *voice,
                     int pitch, int range, int rate, int volume) {
    memset(o, 0, sizeof *o);
    if (emo_espeak_init()) return IMA_ERR;
    espeak_SetSynthCallback(synth_cb);
    if (espeak_SetVoiceByName(voice) != EE_OK) return ima_error("espeak-ng: unknown voice '%s'", voice);
    espeak_SetParameter(espeakRATE, rate, 0);
    espeak_SetParameter(espeakPITCH, pitch, 0);
    espeak_SetParameter(espeakRANGE, range, 0);
    espeak_SetParameter(espeakVOLUME, volume, 0);
    /* text: tokens separated by single spaces; position (1-based) of each token recorded */
    size_t len = 0;
    char *text = ima_try_malloc(N < SIZE_MAX / 66 ? N * 66 + 2 : SIZE_MAX, 1); /* a token: 63 bytes, punct, space */
    if (!text) return ima_error_prefix("espeak-ng: the text of %zu tokens", N);
    for (size_t l = 0; l < N; l++) {
        if (l) text[len++] = ' ';
        pos[l] = len + 1;
        size_t wl = strlen(words[l]);
        memcpy(text + len, words[l], wl);
        len += wl;
        if (punct && punct[l]) text[len++] = punct[l];
    }
    text[len] = '\0';
    int st = IMA_OK;
    int synth_rc = espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0, espeakCHARS_8BIT, NULL, o);
    if (o->failed)
        st = ima_error_prefix("espeak-ng: the audio of '%s'", text);
    else if (synth_rc != EE_OK || espeak_Synchronize() != EE_OK)
        st = ima_error("espeak-ng: synthesis failed for '%s' with voice %s", text, voice);
    if (!st && o->n == 0) st = ima_error("espeak-ng: no audio for '%s' with voice %s", text, voice);
    free(text);
    return st;
}

/* The rest of emo_speak, free of espeak's state (any thread): o's samples to 16 kHz (*wave, n) and
 * each token's timing (t0, t1, seconds) from the WORD events. */
static int speak_finish(float **wave, size_t *n, float *t0, float *t1, const synth_out *o, const size_t *pos, size_t N) {
    *wave = NULL;
    *n = 0;
    float *raw = ima_try_malloc(o->n, sizeof(float));
    if (!raw) return ima_error_prefix("espeak-ng: %zu samples", o->n);
    for (size_t i = 0; i < o->n; i++) raw[i] = (float)o->buf[i] / 32768.0f;
    int st = ima_audio_resample(wave, n, raw, o->n, (double)espeak_rate_hz, IMA_EMO_RATE);
    free(raw);
    double *start = NULL;
    if (!st && !(start = ima_try_malloc(N ? N : 1, sizeof(double)))) st = ima_error_prefix("espeak-ng: timings");
    if (!st) {
        double dur = (double)*n / IMA_EMO_RATE;
        /* each token's start: the first WORD event at or after its position and before the next token */
        for (size_t l = 0; l < N; l++) {
            start[l] = -1.0;
            size_t lim = l + 1 < N ? pos[l + 1] : (size_t)-1;
            for (size_t e = 0; e < o->n_ev; e++)
                if ((size_t)o->ev_pos[e] >= pos[l] && (size_t)o->ev_pos[e] < lim) {
                    start[l] = o->ev_ms[e] / 1000.0;
                    break;
                }
        }
        /* a run [r0, r1) of tokens espeak gave no event shares the gap between its known neighbours */
        for (size_t r0 = 0; r0 < N; r0++) {
            if (start[r0] >= 0) continue;
            size_t r1 = r0;
            while (r1 < N && start[r1] < 0) r1++;
            double lo = r0 > 0 ? start[r0 - 1] : 0.0, hi = r1 < N ? start[r1] : dur;
            size_t off = r0 > 0 ? 1 : 0;
            for (size_t k = r0; k < r1; k++)
                start[k] = lo + (hi - lo) * (double)(k - r0 + off) / (double)(r1 - r0 + off);
            r0 = r1;
        }
        for (size_t l = 0; l < N; l++) {
            double s = start[l], e = l + 1 < N ? start[l + 1] : dur;
            if (s > dur) s = dur;
            if (e > dur) e = dur;
            if (e < s) e = s;
            t0[l] = (float)s;
            t1[l] = (float)e;
        }
        free(start);
    }
    if (st) {
        free(*wave);
        *wave = NULL;
        *n = 0;
    }
    return st;
}

/* Speaks the tokens words[0..N) with the given voice settings; returns 16 kHz audio and per-token
 * timings (seconds). punct[l]: a punctuation character to put after token l, or 0. */
int emo_speak(float **wave, size_t *n, float *t0, float *t1, char (*words)[64], const char *punct, size_t N,
              const char *voice, int pitch, int range, int rate, int volume) {
    *wave = NULL;
    *n = 0;
    synth_out *o = ima_try_malloc(1, sizeof *o);
    size_t *pos = ima_try_malloc(N ? N : 1, sizeof(size_t));
    int st = o && pos ? IMA_OK : ima_error_prefix("espeak-ng: %zu tokens", N);
    if (!st) st = speak_raw(o, pos, words, punct, N, voice, pitch, range, rate, volume);
    if (!st) st = speak_finish(wave, n, t0, t1, o, pos, N);
    if (o) free(o->buf);
    free(o);
    free(pos);
    return st;
}

/* ---- MELD ------------------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

typedef struct {
    char *text, *speaker;
    int64_t label;
    long dialog, utt;
} meld_row;

static int col_index(const emo_csv *c, const char *name) {
    for (size_t i = 0; i < c->n_fields && i < EMO_CSV_MAX_FIELDS; i++)
        if (!strcmp(c->fields[i], name)) return (int)i;
    return -1;
}

static int parse_long(long *out, const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end) return IMA_ERR;
    *out = v;
    return IMA_OK;
}

static int read_meld_csv(meld_row **rows, size_t *n, const char *path) {
    emo_csv c;
    *rows = NULL;
    *n = 0;
    if (emo_csv_open(&c, path)) return IMA_ERR;
    int r = emo_csv_next(&c), st = IMA_OK;
    if (r != 1) {
        emo_csv_close(&c);
        return r < 0 ? IMA_ERR : ima_error("%s: empty file (expected MELD's header line)", path);
    }
    /* the header's first field may carry a UTF-8 byte-order mark */
    int iu = col_index(&c, "Utterance"), is = col_index(&c, "Speaker"), ie = col_index(&c, "Emotion"),
        id = col_index(&c, "Dialogue_ID"), iu2 = col_index(&c, "Utterance_ID");
    if (iu < 0 || is < 0 || ie < 0 || id < 0 || iu2 < 0) {
        emo_csv_close(&c);
        return ima_error("%s:1: header lacks one of the columns Utterance, Speaker, Emotion, Dialogue_ID, "
                         "Utterance_ID (is this a MELD *_sent_emo.csv file?)",
                         path);
    }
    int need = iu;
    if (is > need) need = is;
    if (ie > need) need = ie;
    if (id > need) need = id;
    if (iu2 > need) need = iu2;
    size_t cap = 0;
    while ((r = emo_csv_next(&c)) == 1) {
        if (c.n_fields == 1 && c.fields[0][0] == '\0') continue; /* blank line */
        if ((int)c.n_fields <= need) {
            st = ima_error("%s:%zu: %zu fields, expected at least %d", path, c.record_line, c.n_fields, need + 1);
            break;
        }
        const char *emo = c.fields[ie];
        int64_t label = !strcmp(emo, "neutral")   ? IMA_EMO_NEUTRAL
                        : !strcmp(emo, "joy")     ? IMA_EMO_HAPPY
                        : !strcmp(emo, "anger")   ? IMA_EMO_ANGRY
                        : !strcmp(emo, "sadness") ? IMA_EMO_SAD
                                                  : -1;
        if (label < 0) {
            if (strcmp(emo, "surprise") && strcmp(emo, "fear") && strcmp(emo, "disgust")) {
                st = ima_error("%s:%zu: unknown emotion '%s' (MELD's are neutral, joy, sadness, anger, surprise, fear, "
                               "disgust)",
                               path, c.record_line, emo);
                break;
            }
            continue;
        }
        meld_row row = {0};
        if (parse_long(&row.dialog, c.fields[id]) || parse_long(&row.utt, c.fields[iu2])) {
            st = ima_error("%s:%zu: Dialogue_ID '%s' / Utterance_ID '%s' is not an integer", path, c.record_line,
                           c.fields[id], c.fields[iu2]);
            break;
        }
        if (*n == cap) {
            size_t grown_cap = cap ? cap * 2 : 1024;
            meld_row *grown = ima_try_realloc(*rows, grown_cap, sizeof **rows);
            if (!grown) {
                st = ima_error_prefix("%s:%zu: %zu rows", path, c.record_line, grown_cap);
                break;
            }
            *rows = grown;
            cap = grown_cap;
        }
        row.text = ima_try_strdup(c.fields[iu]);
        row.speaker = ima_try_strdup(c.fields[is]);
        row.label = label;
        (*rows)[(*n)++] = row; /* freed with the others on failure */
        if (!row.text || !row.speaker) {
            st = ima_error_prefix("%s:%zu", path, c.record_line);
            break;
        }
    }
    if (r < 0) st = IMA_ERR;
    emo_csv_close(&c);
    if (st) {
        for (size_t i = 0; i < *n; i++) {
            free((*rows)[i].text);
            free((*rows)[i].speaker);
        }
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return st;
}

static int clampi(double v, int lo, int hi) {
    long r = lround(v);
    return r < lo ? lo : r > hi ? hi : (int)r;
}

/* One utterance to speak: its tokens, voice and prosody, set in file order by the builder (the
 * prosody noise is drawn in that order), and what the workers make of it. */
typedef struct {
    size_t row; // index into the split's rows
    char id[96];
    size_t N;
    char (*words)[64]; // (N)
    char *punct;       // (N)
    char voice[64];
    int pitch, range, rate, vol;
    float *t0, *t1; // (N) token timings, seconds
    float *avec;    // (N, Da)
} meld_job;

/* The workers of one split. espeak-ng keeps process-wide state that carries from one utterance to
 * the next (see speech_synth.c), so the utterances are spoken one at a time in file order: a worker
 * takes the next utterance (its ticket), waits for its turn, speaks it, and passes the turn on; the
 * resampling and the acoustic analysis, most of the time, then run in parallel with the next
 * utterance's synthesis. The corpus is the same for any number of workers. */
typedef struct {
    meld_job *jobs;
    size_t n_jobs;
    pthread_mutex_t mu;
    pthread_cond_t turn_cv;
    size_t next_ticket, turn, done;
    int failed;       // a worker failed: the others stop
    char error[1024]; // its message (errors are thread-local)
    const char *path, *split_name;
    size_t total;
    int verbose;
} meld_work;

typedef struct {
    meld_work *w;
    ima_emo_analyzer *an; // the worker's own (FFT plans, pitch tracker)
    synth_out *o;         // the worker's espeak output buffer
    size_t pos[MAX_TOKENS];
} meld_worker;

static void work_fail(meld_work *w, const char *path, const char *id) {
    pthread_mutex_lock(&w->mu);
    if (!w->failed) snprintf(w->error, sizeof w->error, "%s:%s: %s", path, id, ima_last_error());
    w->failed = 1;
    pthread_cond_broadcast(&w->turn_cv);
    pthread_mutex_unlock(&w->mu);
}

static void *meld_worker_run(void *arg) {
    meld_worker *k = arg;
    meld_work *w = k->w;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (w->failed || w->next_ticket >= w->n_jobs) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        size_t i = w->next_ticket++;
        while (w->turn != i && !w->failed) pthread_cond_wait(&w->turn_cv, &w->mu);
        int stop = w->failed;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
        meld_job *j = &w->jobs[i];
        /* espeak: this worker's turn, no other worker is inside */
        free(k->o->buf);
        int st = speak_raw(k->o, k->pos, j->words, j->punct, j->N, j->voice, j->pitch, j->range, j->rate, j->vol);
        pthread_mutex_lock(&w->mu);
        w->turn++;
        pthread_cond_broadcast(&w->turn_cv);
        pthread_mutex_unlock(&w->mu);
        float *wave = NULL;
        size_t nw = 0;
        if (!st) st = speak_finish(&wave, &nw, j->t0, j->t1, k->o, k->pos, j->N);
        if (!st) st = emo_utterance_acoustics(k->an, j->avec, wave, nw, j->t0, j->t1, j->N);
        free(wave);
        if (st) {
            work_fail(w, w->path, j->id);
            break;
        }
        pthread_mutex_lock(&w->mu);
        size_t done = ++w->done;
        pthread_mutex_unlock(&w->mu);
        if (w->verbose && (done % 500 == 0 || done == w->total))
            fprintf(stderr, "  %s: %zu / %zu utterances spoken\n", w->split_name, done, w->total);
    }
    return NULL;
}

/* Speaks and analyses jobs[0..n) on `threads` workers (the caller's thread is one of them); an
 * error names the file and utterance. */
static int meld_run_jobs(meld_job *jobs, size_t n, meld_worker *workers, int threads, const char *path,
                         const char *split_name, int verbose) {
    meld_work w;
    memset(&w, 0, sizeof w);
    w.jobs = jobs;
    w.n_jobs = n;
    w.path = path;
    w.split_name = split_name;
    w.total = n;
    w.verbose = verbose;
    if (pthread_mutex_init(&w.mu, NULL)) return ima_error("%s: could not create a mutex", path);
    if (pthread_cond_init(&w.turn_cv, NULL)) {
        pthread_mutex_destroy(&w.mu);
        return ima_error("%s: could not create a condition variable", path);
    }
    pthread_t tid[IMA_EMO_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        workers[t].w = &w;
        if (pthread_create(&tid[t], NULL, meld_worker_run, &workers[t])) break; /* fewer workers: still right */
        started = t;
    }
    workers[0].w = &w;
    meld_worker_run(&workers[0]);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    pthread_cond_destroy(&w.turn_cv);
    pthread_mutex_destroy(&w.mu);
    if (w.failed) return ima_error("%s", w.error);
    return IMA_OK;
}

int ima_emo_build_meld(ima_emo_corpus *c, const char *meld_dir, const ima_emo_build_config *cfg) {
    static const char *const files[3] = {"train_sent_emo.csv", "dev_sent_emo.csv", "test_sent_emo.csv"};
    int threads = cfg->threads > 0 ? cfg->threads : IMA_EMO_DEFAULT_THREADS;
    if (threads > IMA_EMO_MAX_THREADS) threads = IMA_EMO_MAX_THREADS;
    emo_builder b;
    if (emo_builder_init(&b, c, "meld-espeak")) return IMA_ERR;
    meld_worker workers[IMA_EMO_MAX_THREADS];
    memset(workers, 0, sizeof workers);
    int st = IMA_OK;
    for (int t = 0; t < threads && !st; t++) { /* FFT plans are made here, on one thread */
        if (ima_emo_analyzer_init(&workers[t].an)) st = IMA_ERR;
        else if (!(workers[t].o = ima_try_calloc(1, sizeof(synth_out)))) st = ima_error_prefix("%s", __func__);
    }
    if (!st) st = emo_espeak_init();
    srand(1); /* pins any use espeak makes of rand(); see speech_synth.c */
    char(*words)[64] = ima_try_malloc(MAX_TOKENS, sizeof *words); /* fixed sizes, but large: not on the stack */
    size_t starts[MAX_TOKENS], lens[MAX_TOKENS];
    if (!st && !words) st = ima_error_prefix("%s", __func__);
    for (int s = 0; s < 3 && !st; s++) {
        char path[4096];
        emo_path(path, sizeof path, "%s/%s", meld_dir, files[s]);
        meld_row *rows;
        size_t n;
        if ((st = read_meld_csv(&rows, &n, path))) break;
        /* optional subsample: a seeded random subset, kept in file order */
        uint8_t *keep = ima_try_malloc(n ? n : 1, 1);
        size_t *idx = cfg->limit_per_split && cfg->limit_per_split < n ? ima_try_malloc(n, sizeof(size_t)) : NULL;
        meld_job *jobs = ima_try_calloc(n ? n : 1, sizeof(meld_job));
        if (!keep || !jobs || (cfg->limit_per_split && cfg->limit_per_split < n && !idx))
            st = ima_error_prefix("%s: %zu rows", path, n); /* rows, keep, idx and jobs freed below */
        else memset(keep, 1, n);
        if (idx && !st) {
            for (size_t i = 0; i < n; i++) idx[i] = i;
            ima_rng r;
            ima_rng_init(&r, cfg->seed * 31 + (uint64_t)s);
            ima_rng_shuffle(&r, idx, n);
            memset(keep, 0, n);
            for (size_t i = 0; i < cfg->limit_per_split; i++) keep[idx[i]] = 1;
        }
        free(idx);
        ima_rng rng;
        ima_rng_init(&rng, cfg->seed ^ (0x6d656c64ull + (uint64_t)s * 0x9e3779b97f4a7c15ull));
        size_t n_jobs = 0;
        /* 1. in file order: tokens, voice, prosody (the noise drawn in this order) */
        for (size_t i = 0; i < n && !st; i++) {
            if (!keep[i]) continue;
            meld_row *r = &rows[i];
            size_t N = ima_emo_tokenize(r->text, words, starts, lens, MAX_TOKENS);
            if (N == 0) continue; /* counted as empty below, in file order */
            meld_job *j = &jobs[n_jobs];
            j->row = i;
            snprintf(j->id, sizeof j->id, "meld_%s_d%ld_u%ld", ima_emo_split_names[s], r->dialog, r->utt);
            j->N = N;
            j->words = ima_try_malloc(N, sizeof *j->words);
            j->punct = ima_try_malloc(N, 1);
            j->t0 = ima_try_malloc(N, sizeof(float));
            j->t1 = ima_try_malloc(N, sizeof(float));
            j->avec = ima_try_malloc(N, IMA_EMO_ACOUSTIC_DIM * sizeof(float));
            n_jobs++; /* its allocations are freed with the others */
            if (!j->words || !j->punct || !j->t0 || !j->t1 || !j->avec) {
                st = ima_error_prefix("%s:%s: %zu tokens", path, j->id, N);
                break;
            }
            memcpy(j->words, words, N * sizeof *words);
            for (size_t l = 0; l < N; l++) {
                j->punct[l] = 0;
                const char *after = r->text + starts[l] + lens[l];
                size_t lim = l + 1 < N ? starts[l + 1] - starts[l] - lens[l] : strlen(after);
                for (size_t k = 0; k < lim; k++)
                    if (after[k] == '.' || after[k] == ',' || after[k] == '?' || after[k] == '!') {
                        j->punct[l] = after[k];
                        break;
                    }
            }
            /* the speaker's voice */
            uint64_t h = fnv1a(r->speaker) ^ (cfg->seed * 0x9e3779b97f4a7c15ull);
            h ^= h >> 29;
            h *= 0xbf58476d1ce4e5b9ull;
            h ^= h >> 32;
            snprintf(j->voice, sizeof j->voice, "%s+%s", accents[h % 6], variants[(h / 6) % 12]);
            double base_pitch = 30.0 + (double)((h / 72) % 31);        /* 30 .. 60 */
            double base_rate = 150.0 + 5.0 * (double)((h / 2232) % 9); /* 150 .. 190 wpm */
            const emo_prosody *ps = &prosody_shift[r->label];
            j->pitch = clampi(base_pitch + ps->pitch + prosody_noise.pitch * ima_rng_normal(&rng), 0, 100);
            j->range = clampi(50.0 + ps->range + prosody_noise.range * ima_rng_normal(&rng), 0, 100);
            j->rate = clampi(base_rate * (1.0 + ps->rate + prosody_noise.rate * ima_rng_normal(&rng)), 80, 400);
            j->vol = clampi(100.0 * (1.0 + ps->volume + prosody_noise.volume * ima_rng_normal(&rng)), 10, 200);
        }
        /* 2. speech and acoustic vectors on the workers */
        if (!st)
            st = meld_run_jobs(jobs, n_jobs, workers, threads, path, ima_emo_split_names[s], cfg->verbose);
        /* 3. into the corpus in file order */
        for (size_t i = 0, q = 0; i < n && !st; i++) {
            if (!keep[i]) continue;
            meld_row *r = &rows[i];
            c->utts_read++;
            if (q >= n_jobs || jobs[q].row != i) {
                c->utts_empty++;
                continue;
            }
            meld_job *j = &jobs[q++];
            st = emo_builder_add(&b, j->id, r->speaker, r->text, r->label, s, j->N, j->words, j->t0, j->t1, j->avec);
        }
        for (size_t q = 0; q < n_jobs; q++) {
            free(jobs[q].words);
            free(jobs[q].punct);
            free(jobs[q].t0);
            free(jobs[q].t1);
            free(jobs[q].avec);
        }
        free(jobs);
        for (size_t i = 0; i < n; i++) {
            free(rows[i].text);
            free(rows[i].speaker);
        }
        free(rows);
        free(keep);
    }
    free(words);
    for (int t = 0; t < IMA_EMO_MAX_THREADS; t++) {
        ima_emo_analyzer_free(workers[t].an);
        if (workers[t].o) free(workers[t].o->buf);
        free(workers[t].o);
    }
    if (!st) st = emo_finish(&b, cfg);
    if (st) ima_emo_corpus_free(c);
    return st;
}
