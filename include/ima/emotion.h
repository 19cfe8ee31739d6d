/* emotion.h: the emotion corpus of the paper's IEMOCAP experiment (SPEC section 9), read from the
 * real IEMOCAP release or built as an open analogue from MELD transcripts spoken by libespeak-ng.
 * docs/emotion.md describes every choice and every feature dimension.
 *
 * Dimensions: U utterances, T tokens (words kept in the vocabulary, over all utterances),
 * Dw = 100 word width (GloVe 100-d), Da acoustic width (IMA_EMO_ACOUSTIC_DIM), F frames of an
 * utterance (20 ms window, 10 ms shift at 16 kHz), P pairs (sum over utterances of N^2).
 *
 * Pipeline (the same for both sources):
 *   source -> per utterance: tokens (lower-cased, punctuation stripped), word timings, 16 kHz audio
 *          -> per frame: the open COVAREP stand-in (ima_emo_frame_features)
 *          -> per token: frame features pooled over the word's frames (ima_emo_word_features)
 *   then: vocabulary = words seen >= min_count times in the training transcripts; tokens whose word
 *   is out of the vocabulary (or has no GloVe vector) are dropped with both modalities and counted;
 *   utterances left without tokens are dropped and counted; word and acoustic vectors are
 *   standardized with the training split's mean and sd.
 *
 * Folder written by ima_emo_corpus_save (every file atomically; the folder appears whole):
 *   manifest.json                 source, counts, vocabulary size, OOV counts, feature names, classes
 *   vocab.txt                     one vocabulary word per line
 *   {train,valid,test}/words.npy     (T_s, 100) float32, standardized GloVe
 *   {train,valid,test}/acoustic.npy  (T_s, Da) float32, standardized
 *   {train,valid,test}/token_utt.npy (T_s) int64: utterance index within the split
 *   {train,valid,test}/labels.npy    (U_s) int64: 0 neutral, 1 happy, 2 angry, 3 sad
 *   {train,valid,test}/pairs.npy     (P_s, 3) int64: word token, acoustic token, utterance
 *   {train,valid,test}/tokens.tsv    token word, start s, end s, utterance id
 *   {train,valid,test}/utterances.tsv id, speaker, label, text */
#ifndef IMA_EMOTION_H
#define IMA_EMOTION_H

#include <stddef.h>
#include <stdint.h>

#define IMA_EMO_WORD_DIM 100
#define IMA_EMO_N_CLASSES 4
#define IMA_EMO_RATE 16000      /* Hz: every utterance is analysed at this rate */
#define IMA_EMO_FRAME_LEN 320   /* 20 ms */
#define IMA_EMO_FRAME_SHIFT 160 /* 10 ms */
#define IMA_EMO_FRAME_DIM 19    /* per-frame features (ima_emo_frame_feature_names) */
#define IMA_EMO_ACOUSTIC_DIM 27 /* per-word features (ima_emo_acoustic_feature_names) */

enum { IMA_EMO_NEUTRAL = 0, IMA_EMO_HAPPY = 1, IMA_EMO_ANGRY = 2, IMA_EMO_SAD = 3 };
enum { IMA_EMO_TRAIN = 0, IMA_EMO_VALID = 1, IMA_EMO_TEST = 2 };

extern const char *const ima_emo_class_names[IMA_EMO_N_CLASSES]; /* neutral happy angry sad */
extern const char *const ima_emo_split_names[3];                 /* train valid test */
extern const char *const ima_emo_frame_feature_names[IMA_EMO_FRAME_DIM];
extern const char *const ima_emo_acoustic_feature_names[IMA_EMO_ACOUSTIC_DIM];

/* ---- text ---------------------------------------------------------------------------------- */

/* Splits text into lower-cased word tokens: runs of ASCII letters and digits, with an apostrophe
 * kept between two of them ("don't"); the UTF-8 right single quote counts as an apostrophe;
 * everything else separates. Returns the count written (at most cap); starts[k], lens[k] give
 * each token's position in text; words[k] (cap x 64, NUL-terminated, longer tokens truncated). */
size_t ima_emo_tokenize(const char *text, char (*words)[64], size_t *starts, size_t *lens, size_t cap);
/* The form a token is looked up under in the vocabulary and GloVe (which has no clitics):
 * "don't" -> "do", "can't" -> "can", "won't" -> "will", "it's" -> "it", "we're" -> "we". */
void ima_emo_lookup_form(char *out, size_t cap, const char *token);

/* ---- acoustic features ----------------------------------------------------------------------- */

typedef struct ima_emo_analyzer ima_emo_analyzer; /* FFT plans, pitch tracker, scratch */
int ima_emo_analyzer_init(ima_emo_analyzer **out);
void ima_emo_analyzer_free(ima_emo_analyzer *a); /* NULL is fine */
/* Frame features of a 16 kHz waveform: frames (F, IMA_EMO_FRAME_DIM), F = 1 + (n - 320) / 160
 * (0 when n < 320). The caller frees *frames. */
int ima_emo_frame_features(ima_emo_analyzer *a, float **frames, size_t *F, const float *wave, size_t n);
/* Per-word vector (IMA_EMO_ACOUSTIC_DIM) from the frames whose centre lies in [t0, t1) seconds
 * (the nearest frame when none does). */
void ima_emo_word_features(float *out, const float *frames, size_t F, double t0, double t1);

/* ---- the corpus -------------------------------------------------------------------------------- */

typedef struct {
    size_t n_utts;       // U
    size_t n_tokens;     // T
    size_t acoustic_dim; // Da
    /* per utterance */
    char **utt_id;     // (U) e.g. "meld_train_d12_u3" or "Ses01F_impro01_F000"
    char **speaker;    // (U)
    char **text;       // (U) transcript as read
    int64_t *label;    // (U) IMA_EMO_*
    uint8_t *split;    // (U) IMA_EMO_TRAIN / VALID / TEST
    size_t *tok_start; // (U + 1) tokens of utterance u: [tok_start[u], tok_start[u+1])
    /* per token */
    char **word;    // (T) vocabulary form
    float *t0, *t1; // (T) word timing in seconds
    float *wvec;    // (T, 100) word vector (standardized once finished)
    float *avec;    // (T, Da) acoustic vector (standardized once finished)
    /* bookkeeping, filled by the builders */
    char source[32];       // "meld-espeak" or "iemocap"
    size_t vocab_size;     // words kept
    size_t n_vocab_words;  // alias of vocab_size kept for the manifest
    char **vocab;          // (vocab_size)
    size_t tokens_read;    // before dropping
    size_t tokens_oov;     // dropped: below the count threshold in training transcripts
    size_t tokens_noglove; // dropped: in the vocabulary by count but without a GloVe vector
    size_t utts_read;      // utterances of the four classes read
    size_t utts_empty;     // dropped: no token left
    size_t utts_skipped;   // skipped by the source reader (counted irregularities, see docs)
    double acoustic_mean[IMA_EMO_ACOUSTIC_DIM], acoustic_sd[IMA_EMO_ACOUSTIC_DIM];
} ima_emo_corpus;

void ima_emo_corpus_free(ima_emo_corpus *c); /* safe on a zeroed struct */

typedef struct {
    const char *glove_path;     // GloVe text file, gzip or plain ("word v1 .. v100" per line)
    int min_count;              // vocabulary threshold on training transcripts (5)
    size_t limit_per_split;     // 0: every utterance; else at most this many per split (quick runs, tests)
    uint64_t seed;              // prosody randomness (MELD), subsampling
    int verbose;                // progress lines on stderr
    int skip_missing_alignment; // IEMOCAP: a labelled turn without .wdseg is skipped and counted (else an error)
    int threads;                // MELD: workers that resample and analyse the speech (0: IMA_EMO_DEFAULT_THREADS;
                                // at most IMA_EMO_MAX_THREADS); espeak speaks one utterance at a time, in file
                                // order, so the corpus is the same for any number
} ima_emo_build_config;
#define IMA_EMO_DEFAULT_THREADS 2
#define IMA_EMO_MAX_THREADS 16
ima_emo_build_config ima_emo_build_defaults(void);

/* The open analogue: meld_dir holds MELD's {train,dev,test}_sent_emo.csv. Keeps joy (-> happy),
 * anger, sadness and neutral; MELD's own splits (dev = validation). Each utterance is spoken by
 * libespeak-ng with a voice per MELD speaker and emotion-dependent prosody (docs/emotion.md). */
int ima_emo_build_meld(ima_emo_corpus *c, const char *meld_dir, const ima_emo_build_config *cfg);
/* The IEMOCAP release layout under root (Session1..Session5, docs/emotion.md). split_sessions[k]
 * (k = 0..4) gives each session's split (IMA_EMO_TRAIN / VALID / TEST, or -1 to leave it out);
 * NULL: sessions 1-4 train, session 5 validation (speaker-independent; the paper reports IEMOCAP
 * on its validation set, so there is no test split by default). Four classes: neu, hap + exc,
 * ang, sad; other labels are read and left out. */
int ima_emo_build_iemocap(ima_emo_corpus *c, const char *root, const int *split_sessions,
                          const ima_emo_build_config *cfg);

/* Writes the corpus folder (layout above) atomically: a temporary sibling folder, then rename;
 * an existing folder is refused unless force (then replaced). */
int ima_emo_corpus_save(const ima_emo_corpus *c, const char *dir, int force);

/* Reads a folder written by ima_emo_corpus_save back (the vectors as saved: already standardized).
 * Every file's shape is checked against the others; errors name the file. */
int ima_emo_corpus_load(ima_emo_corpus *c, const char *dir);

/* Pairs of one split: every word token with every acoustic token of the same utterance.
 * pairs (P, 3): global word token, global acoustic token, utterance index; *P gets the count.
 * max_per_utt > 0 keeps a random subset of at most that many pairs per utterance (rng seed). */
int ima_emo_pairs(int64_t **pairs, size_t *P, const ima_emo_corpus *c, int split, size_t max_per_utt, uint64_t seed);

/* ---- lexicon ground truth ------------------------------------------------------------------ */

/* Reads Empath's categories.tsv and marks each vocabulary word that belongs to one of the
 * categories named in cats (NULL-terminated) as important. important (c->vocab_size) 0/1. */
int ima_emo_lexicon_mark(uint8_t *important, const ima_emo_corpus *c, const char *tsv_path, const char *const *cats);
/* The categories used as the paper's LIWC sad/angry/anxiety/negemo/posemo. */
extern const char *const ima_emo_empath_categories[];

#endif
