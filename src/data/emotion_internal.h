/* emotion_internal.h: pieces shared by the emotion corpus builders (src/data/emotion_*.c); not public.
 *
 * Dimensions: N tokens of one utterance, n samples at 16 kHz. */
#ifndef IMA_DATA_EMOTION_INTERNAL_H
#define IMA_DATA_EMOTION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ima/emotion.h"

/* snprintf for paths (a function, so that truncation is a runtime check, not a format warning);
 * returns IMA_ERR with a message when the result does not fit */
int emo_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- CSV reader (emotion_text.c) ---- */
#define EMO_CSV_MAX_FIELDS 32
typedef struct {
    FILE *f;
    const char *path;
    size_t line;        // next physical line
    size_t record_line; // first line of the last record
    char *fields[EMO_CSV_MAX_FIELDS];
    size_t n_fields;
    char *buf;
    size_t len, cap;
    int oom; // a field could not be stored (the error is set; emo_csv_next returns IMA_ERR)
} emo_csv;
int emo_csv_open(emo_csv *c, const char *path);
/* 1: a record was read; 0: end of file; IMA_ERR on a malformed record (message names file:line). */
int emo_csv_next(emo_csv *c);
void emo_csv_close(emo_csv *c);

/* GloVe vectors of a sorted vocabulary (emotion_text.c). */
int emo_glove_lookup(float *vec, uint8_t *found, char **vocab, size_t V, const char *path);

/* ---- the corpus under construction (emotion_corpus.c) ----
 * Builders add one utterance at a time with its raw tokens (tokenizer words), timings and
 * per-token raw acoustic vectors; emo_finish then builds the vocabulary, drops OOV tokens,
 * looks up GloVe and standardizes. */
typedef struct {
    ima_emo_corpus *c;
    size_t cap_utts, cap_tokens;
} emo_builder;
/* Both fail only when memory runs out (an error naming the size); the corpus is then left for
 * ima_emo_corpus_free, without any part of the utterance that failed. */
int emo_builder_init(emo_builder *b, ima_emo_corpus *c, const char *source);
int emo_builder_add(emo_builder *b, const char *id, const char *speaker, const char *text, int64_t label, int split,
                    size_t N, char (*words)[64], const float *t0, const float *t1, const float *avec /* (N, Da) */);
int emo_finish(emo_builder *b, const ima_emo_build_config *cfg);

/* Acoustic vectors (N, Da) of one utterance from its 16 kHz waveform and word timings. */
int emo_utterance_acoustics(ima_emo_analyzer *a, float *avec, const float *wave, size_t n, const float *t0,
                            const float *t1, size_t N);

/* ---- espeak (emotion_meld.c) ---- */
int emo_espeak_init(void);
/* Speaks words[0..N) (punct[l]: punctuation after token l, or 0; punct may be NULL) with an espeak
 * voice name and settings; *wave (n) at 16 kHz; t0, t1 (N) each token's timing in seconds. */
int emo_speak(float **wave, size_t *n, float *t0, float *t1, char (*words)[64], const char *punct, size_t N,
              const char *voice, int pitch, int range, int rate, int volume);

#endif
