/* digits_corpus.c: the digits corpus (SPEC section 4): image pools, pairing per class with noise,
 * min-max scaling of the speech features, and writing train/ valid/ test/ with a manifest.
 *
 * Per split (folder train/, valid/, test/), N pairs:
 *   image.npy        float32 (N, 784)  grey / 255, or image noise
 *   speech.npy       float32 (N, 696)  MFCC, min-max scaled per coefficient (train fit), clipped
 *   label.npy        int64   (N)       digit of the pair
 *   image_noise.npy  uint8   (N)       1 when the image is noise
 *   speech_noise.npy uint8   (N)       1 when the speech is noise
 *   speaker.npy      int32   (N)       index into manifest.json "speakers" (the last one is "noise")
 *   image_id.npy     int64   (N)       source row of the image (manifest "image_ids"); noise images get
 *                                       fresh ids from image_ids.noise_from up
 *   speech_id.npy    int64   (N)       utterance index (manifest "utterances"); noise from noise_from up
 * Dimensions: N pairs, 784 pixels, 696 = 58 frames x 12 MFCC (frame-major), C = 12. */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ima/common.h"
#include "ima/digits.h"
#include "ima/npy.h"
#include "io/atomic.h"
#include "io/file.h"

/* ---- folders --------------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* a/b, or NULL (and the error set) when memory runs out */
static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = ima_try_malloc(n, 1);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* mkdtemp makes 0700 folders; a corpus is shared data: give it what mkdir(0777) would (the umask) */
static void chmod_umask(const char *dir) {
    mode_t mask = umask(0);
    umask(mask);
    (void)chmod(dir, 0777 & ~mask);
}

/* ---- pools --------------------------------------------------------------------------------- */

typedef struct {
    const ima_mnist *src;
    size_t row; // row in src
    int64_t id; // image id: row, with the test source offset by img_train->n
} image_ref;

typedef struct {
    image_ref *img[IMA_NUM_DIGITS]; // per digit
    size_t n_img[IMA_NUM_DIGITS];
    size_t *rec[IMA_NUM_DIGITS]; // utterance indices per digit
    size_t n_rec[IMA_NUM_DIGITS];
} pool;

static void pool_free(pool *p) {
    for (int d = 0; d < IMA_NUM_DIGITS; d++) {
        free(p->img[d]);
        free(p->rec[d]);
    }
}

/* stratified: per digit, shuffle the rows of src and cut off the valid / test fractions (in [0, 1]);
 * IMA_ERR when memory runs out (the pools are then freed by the caller) */
static int split_images(pool pools[IMA_NUM_SPLITS], const ima_mnist *src, int64_t id_offset, double fv, double ft,
                        int all_to_test, ima_rng *rng) {
    size_t *rows = ima_try_malloc(src->n ? src->n : 1, sizeof(size_t));
    if (!rows) return ima_error_prefix("%zu images", src->n);
    for (int d = 0; d < IMA_NUM_DIGITS; d++) {
        size_t k = 0;
        for (size_t i = 0; i < src->n; i++)
            if (src->labels[i] == d) rows[k++] = i;
        if (!all_to_test) ima_rng_shuffle(rng, rows, k);
        size_t nv = all_to_test ? 0 : (size_t)(fv * (double)k + 0.5),
               nt = all_to_test ? k : (size_t)(ft * (double)k + 0.5);
        if (nv + nt > k) nt = k - nv;
        for (size_t j = 0; j < k; j++) {
            int s = all_to_test   ? IMA_SPLIT_TEST
                    : j < nv      ? IMA_SPLIT_VALID
                    : j < nv + nt ? IMA_SPLIT_TEST
                                  : IMA_SPLIT_TRAIN;
            pool *p = &pools[s];
            image_ref *grown = ima_try_realloc(p->img[d], p->n_img[d] + 1, sizeof(image_ref));
            if (!grown) {
                free(rows);
                return ima_error_prefix("%zu images of digit %d", p->n_img[d] + 1, d);
            }
            p->img[d] = grown;
            p->img[d][p->n_img[d]++] = (image_ref){src, rows[j], id_offset + (int64_t)rows[j]};
        }
    }
    free(rows);
    return IMA_OK;
}

/* ---- pairing ------------------------------------------------------------------------------- */

typedef struct {
    const image_ref *img; // NULL: image noise
    int64_t rec;          // utterance index, or -1: speech noise (in memory only)
    uint8_t label;
} pair;

/* draws recordings of one digit without replacement, reshuffling the deck when it runs out,
 * so that every recording of the pool is used floor(k) or ceil(k) times */
typedef struct {
    size_t *deck;
    size_t n, next;
} deck;

static size_t deck_draw(deck *d, ima_rng *rng) {
    if (d->next == 0) ima_rng_shuffle(rng, d->deck, d->n);
    size_t r = d->deck[d->next];
    d->next = (d->next + 1) % d->n;
    return r;
}

/* pairs of one split, in random order; *n_out pairs. R in [0, 1) (checked by the caller). NULL
 * (and the error set) when memory runs out. */
static pair *make_pairs(const pool *p, double R, ima_rng *rng, size_t *n_out) {
    size_t total = 0;
    for (int d = 0; d < IMA_NUM_DIGITS; d++) total += p->n_img[d] + (size_t)(R * (double)p->n_img[d] + 0.5);
    pair *pairs = ima_try_malloc(total ? total : 1, sizeof(pair));
    if (!pairs) return ima_error_prefix("%zu pairs", total), NULL;
    size_t n = 0;
    for (int d = 0; d < IMA_NUM_DIGITS; d++) {
        size_t N = p->n_img[d], nr = (size_t)(R * (double)N + 0.5);
        size_t *order = ima_try_malloc(N ? N : 1, sizeof(size_t));
        deck dk = {ima_try_malloc(p->n_rec[d] ? p->n_rec[d] : 1, sizeof(size_t)), p->n_rec[d], 0};
        if (!order || !dk.deck) {
            free(order), free(dk.deck), free(pairs);
            return ima_error_prefix("%zu pairs of digit %d", N, d), NULL;
        }
        for (size_t i = 0; i < N; i++) order[i] = i;
        ima_rng_shuffle(rng, order, N);
        memcpy(dk.deck, p->rec[d], p->n_rec[d] * sizeof(size_t));
        for (size_t i = 0; i < N; i++) { /* N - nr clean pairs, then nr (image, speech noise) */
            const image_ref *im = &p->img[d][order[i]];
            pairs[n++] = (pair){im, i < N - nr ? (int64_t)deck_draw(&dk, rng) : -1, (uint8_t)d};
        }
        for (size_t i = 0; i < nr; i++) pairs[n++] = (pair){NULL, (int64_t)deck_draw(&dk, rng), (uint8_t)d};
        free(dk.deck);
        free(order);
    }
    IMA_ASSERT(n == total);
    for (size_t i = n; i > 1; i--) { /* shuffle the pairs */
        size_t j = (size_t)ima_rng_below(rng, i);
        pair t = pairs[i - 1];
        pairs[i - 1] = pairs[j];
        pairs[j] = t;
    }
    *n_out = n;
    return pairs;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void minmax_update(float *mn, float *mx, const float *feat) {
    for (size_t f = 0; f < IMA_MFCC_FRAMES; f++)
        for (size_t c = 0; c < IMA_MFCC_COEFFS; c++) {
            float v = feat[f * IMA_MFCC_COEFFS + c];
            if (v < mn[c]) mn[c] = v;
            if (v > mx[c]) mx[c] = v;
        }
}

static void scale_row(float *feat, const float *mn, const float *mx) {
    for (size_t f = 0; f < IMA_MFCC_FRAMES; f++)
        for (size_t c = 0; c < IMA_MFCC_COEFFS; c++) {
            float range = mx[c] - mn[c];
            float v = (feat[f * IMA_MFCC_COEFFS + c] - mn[c]) / (range > 0 ? range : 1.0f);
            feat[f * IMA_MFCC_COEFFS + c] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
}

typedef struct {
    const ima_digits_config *cfg;
    ima_mfcc *mfcc;
    ima_rng noise_rng;
    int64_t next_noise_image_id, next_noise_speech_id;
    size_t done, total; // progress over all pairs
} build_state;

static int write_split(build_state *bs, const char *dir, int split, const pool *p, ima_rng *pair_rng,
                       ima_digits_summary *sum) {
    const ima_digits_config *cfg = bs->cfg;
    const ima_speech_set *sp = cfg->speech;
    size_t N = 0;
    pair *pairs = make_pairs(p, cfg->noise_factor, pair_rng, &N);
    if (!pairs) return ima_error_prefix("split %s", ima_split_names[split]);
    /* N comes from the data: memory running out is an error naming the size */
    float *image = ima_try_malloc(N, IMA_IMAGE_DIM * sizeof(float));          // (N, 784)
    float *speech = ima_try_malloc(N, IMA_SPEECH_DIM * sizeof(float));        // (N, 696)
    int64_t *label = ima_try_malloc(N, sizeof(int64_t));                      // (N)
    uint8_t *in_flag = ima_try_malloc(N, 1), *sn_flag = ima_try_malloc(N, 1); // (N)
    int32_t *speaker = ima_try_malloc(N, sizeof(int32_t));                    // (N)
    int64_t *image_id = ima_try_malloc(N, sizeof(int64_t));                   // (N)
    int64_t *speech_id = ima_try_malloc(N, sizeof(int64_t));                  // (N)
    int rc = image && speech && label && in_flag && sn_flag && speaker && image_id && speech_id
                 ? IMA_OK
                 : ima_error_prefix("split %s", ima_split_names[split]);
    if (rc) N = 0; /* nothing to fill; the frees below run */
    for (size_t i = 0; i < N && !rc; i++) {
        const pair *q = &pairs[i];
        float *im = image + i * IMA_IMAGE_DIM, *sv = speech + i * IMA_SPEECH_DIM;
        label[i] = q->label;
        in_flag[i] = q->img == NULL;
        sn_flag[i] = q->rec < 0;
        if (q->img) {
            const uint8_t *px = q->img->src->pixels + q->img->row * IMA_IMAGE_DIM;
            for (size_t k = 0; k < IMA_IMAGE_DIM; k++) im[k] = (float)px[k] / 255.0f;
            image_id[i] = q->img->id;
        } else {
            ima_image_noise(im, &bs->noise_rng);
            image_id[i] = bs->next_noise_image_id++;
        }
        if (q->rec >= 0) {
            memcpy(sv, sp->feat + (size_t)q->rec * IMA_SPEECH_DIM, IMA_SPEECH_DIM * sizeof(float));
            speaker[i] = sp->speaker[q->rec];
            speech_id[i] = q->rec;
        } else {
            rc = ima_speech_noise(sv, bs->mfcc, &bs->noise_rng);
            speaker[i] = (int32_t)sp->n_speakers;
            speech_id[i] = bs->next_noise_speech_id++;
        }
        sum->pairs[split][q->label][q->img == NULL ? 1 : q->rec < 0 ? 2 : 0]++;
        if (cfg->progress && (++bs->done % 512 == 0 || bs->done == bs->total))
            cfg->progress(cfg->progress_ctx, bs->done, bs->total);
    }
    if (!rc && split == IMA_SPLIT_TRAIN) { /* fit the scaling: distinct train recordings + train speech noise */
        for (size_t c = 0; c < IMA_MFCC_COEFFS; c++) {
            sum->mfcc_min[c] = 1e30f;
            sum->mfcc_max[c] = -1e30f;
        }
        for (int d = 0; d < IMA_NUM_DIGITS; d++)
            for (size_t k = 0; k < p->n_rec[d]; k++)
                minmax_update(sum->mfcc_min, sum->mfcc_max, sp->feat + p->rec[d][k] * IMA_SPEECH_DIM);
        for (size_t i = 0; i < N; i++)
            if (sn_flag[i]) minmax_update(sum->mfcc_min, sum->mfcc_max, speech + i * IMA_SPEECH_DIM);
    }
    if (!rc)
        for (size_t i = 0; i < N; i++) scale_row(speech + i * IMA_SPEECH_DIM, sum->mfcc_min, sum->mfcc_max);
    struct {
        const char *name;
        ima_dtype t;
        size_t cols;
        const void *data;
    } files[] = {
        {"image.npy", IMA_DTYPE_F32, IMA_IMAGE_DIM, image},
        {"speech.npy", IMA_DTYPE_F32, IMA_SPEECH_DIM, speech},
        {"label.npy", IMA_DTYPE_I64, 0, label},
        {"image_noise.npy", IMA_DTYPE_U8, 0, in_flag},
        {"speech_noise.npy", IMA_DTYPE_U8, 0, sn_flag},
        {"speaker.npy", IMA_DTYPE_I32, 0, speaker},
        {"image_id.npy", IMA_DTYPE_I64, 0, image_id},
        {"speech_id.npy", IMA_DTYPE_I64, 0, speech_id},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0] && !rc; f++) {
        char *path = join(dir, files[f].name);
        size_t shape[2] = {N, files[f].cols};
        rc = path ? ima_npy_write(path, files[f].t, files[f].cols ? 2 : 1, shape, files[f].data)
                  : ima_error_prefix("%s", dir);
        free(path);
    }
    free(pairs);
    free(image);
    free(speech);
    free(label);
    free(in_flag);
    free(sn_flag);
    free(speaker);
    free(image_id);
    free(speech_id);
    return rc;
}

/* ---- manifest --------------------------------------------------------------------------------- */

static cJSON *float_array(const float *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

static int write_manifest(const char *dir, const ima_digits_config *cfg, const ima_digits_summary *sum,
                          const int8_t *speaker_split, const pool pools[IMA_NUM_SPLITS], int64_t noise_img_from,
                          int64_t noise_sp_from) {
    const ima_speech_set *sp = cfg->speech;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "corpus", "digits (MNIST images x spoken digits, SPEC section 4)");
    cJSON_AddStringToObject(root, "tool", "ima data digits");
    cJSON_AddStringToObject(root, "version", IMA_VERSION);
    if (cfg->command_line) cJSON_AddStringToObject(root, "command", cfg->command_line);
    cJSON_AddNumberToObject(root, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(root, "noise_factor", cfg->noise_factor);

    cJSON *img = cJSON_AddObjectToObject(root, "images");
    cJSON_AddStringToObject(img, "source", cfg->image_source ? cfg->image_source : "");
    cJSON_AddStringToObject(img, "split",
                            cfg->img_test ? "test = the test file; valid = a stratified random fraction "
                                            "of the training file; train = the rest"
                                          : "stratified random fractions of one source");
    cJSON_AddNumberToObject(img, "valid_fraction", cfg->img_valid_frac);
    if (!cfg->img_test) cJSON_AddNumberToObject(img, "test_fraction", cfg->img_test_frac);
    cJSON *ids = cJSON_AddObjectToObject(root, "image_ids");
    cJSON_AddStringToObject(ids, "meaning",
                            cfg->img_test ? "row in the training file; test rows offset by its size"
                                          : "row in the image source (ordered by digit for npm)");
    cJSON_AddNumberToObject(ids, "noise_from", (double)noise_img_from);

    cJSON *srcs = cJSON_AddArrayToObject(root, "speech_sources");
    for (size_t i = 0; i < sp->n_sources; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", sp->sources[i].kind);
        cJSON_AddStringToObject(o, "path", sp->sources[i].path);
        cJSON_AddNumberToObject(o, "utterances", (double)sp->sources[i].n_ok);
        cJSON_AddNumberToObject(o, "skipped", (double)sp->sources[i].n_skipped);
        cJSON_AddItemToArray(srcs, o);
    }
    cJSON *sk = cJSON_AddArrayToObject(root, "skipped");
    for (size_t i = 0; i < sp->n_skipped; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", sp->skipped[i].path);
        cJSON_AddStringToObject(o, "reason", sp->skipped[i].reason);
        cJSON_AddItemToArray(sk, o);
    }
    cJSON *spk = cJSON_AddArrayToObject(root, "speakers");
    for (size_t i = 0; i <= sp->n_speakers; i++) {
        cJSON *o = cJSON_CreateObject();
        if (i < sp->n_speakers) {
            cJSON_AddStringToObject(o, "name", sp->speakers[i].name);
            cJSON_AddStringToObject(o, "source", sp->sources[sp->speakers[i].source].kind);
            cJSON_AddStringToObject(o, "split", speaker_split[i] >= 0 ? ima_split_names[speaker_split[i]] : "several");
        } else {
            cJSON_AddStringToObject(o, "name", "noise");
            cJSON_AddStringToObject(o, "source", "speech noise");
        }
        cJSON_AddItemToArray(spk, o);
    }
    cJSON *utt = cJSON_AddObjectToObject(root, "utterances");
    cJSON_AddNumberToObject(utt, "count", (double)sp->n);
    cJSON_AddNumberToObject(utt, "noise_from", (double)noise_sp_from);
    cJSON *un = cJSON_AddArrayToObject(utt, "names");
    for (size_t i = 0; i < sp->n; i++) cJSON_AddItemToArray(un, cJSON_CreateString(sp->name[i]));

    cJSON *bw = cJSON_AddObjectToObject(root, "speech");
    cJSON_AddNumberToObject(bw, "bandwidth_hz", sp->bandwidth_hz > 0 ? sp->bandwidth_hz : IMA_SPEECH_RATE / 2.0);
    cJSON_AddNumberToObject(bw, "lowest_sample_rate", sp->lowest_rate);
    cJSON_AddNumberToObject(bw, "band_limited", (double)sp->n_band_limited);
    cJSON_AddStringToObject(bw, "rule",
                            "the bandwidth is half the lowest sample rate of the recordings (at most the "
                            "features' 6250 Hz); every recording or synthesized utterance of a higher "
                            "bandwidth is low-passed to it (resampled to twice the bandwidth and back) "
                            "before its features");
    cJSON *mf = cJSON_AddObjectToObject(root, "mfcc");
    cJSON_AddStringToObject(mf, "reference", "Kaldi compute-mfcc-feats / torchaudio.compliance.kaldi.mfcc");
    cJSON_AddNumberToObject(mf, "sample_rate", IMA_SPEECH_RATE);
    cJSON_AddStringToObject(mf, "resampler", "libsamplerate SRC_SINC_MEDIUM_QUALITY");
    cJSON_AddNumberToObject(mf, "frame_ms", 20);
    cJSON_AddNumberToObject(mf, "shift_ms", 10);
    cJSON_AddStringToObject(mf, "window", "povey, 250 samples zero-padded to a 256-point FFT");
    cJSON_AddStringToObject(mf, "frames", "snip_edges; DC removed per frame; pre-emphasis 0.97; dither 0");
    cJSON_AddNumberToObject(mf, "mel_bins", 23);
    cJSON_AddStringToObject(mf, "mel_range", "20 Hz to Nyquist (6250 Hz), mel = 1127 ln(1 + f/700)");
    cJSON_AddStringToObject(mf, "cepstra", "orthonormal DCT-II, 13 computed, c0 dropped: c1..c12; lifter 22");
    cJSON_AddStringToObject(mf, "input_scale", "samples in [-1, 1] times 32768");
    cJSON_AddStringToObject(mf, "layout", "58 frames x 12 coefficients, frame-major: value[f * 12 + c]");
    cJSON_AddStringToObject(mf, "window_choice",
                            "frames [T/2 - 29, T/2 + 29) of T; when T < 58, all T frames padded "
                            "symmetrically by repeating the first ((58 - T) / 2 times) and the "
                            "last frame");
    cJSON *sc = cJSON_AddObjectToObject(root, "scaling");
    cJSON_AddStringToObject(sc, "rule", "per coefficient c: (x - min[c]) / (max[c] - min[c]), clipped to [0, 1]");
    cJSON_AddStringToObject(sc, "fitted_on",
                            "the train split only: its distinct recordings and its speech-noise samples");
    cJSON_AddItemToObject(sc, "min", float_array(sum->mfcc_min, IMA_MFCC_COEFFS));
    cJSON_AddItemToObject(sc, "max", float_array(sum->mfcc_max, IMA_MFCC_COEFFS));
    cJSON *nz = cJSON_AddObjectToObject(root, "noise");
    cJSON_AddStringToObject(nz, "image",
                            "N(0.5, 0.12) per pixel; 627 of 784 pixels (K = 0.8) set to 0; clipped to [0, 1]");
    cJSON_AddStringToObject(nz, "speech", "1 s of N(0, 1) white noise at 12.5 kHz, same MFCC path and scaling");
    cJSON_AddStringToObject(nz, "pairing",
                            "per digit c with N images: N - round(N R) (image, speech), round(N R) "
                            "(image, speech noise), round(N R) (image noise, speech); recordings "
                            "drawn from a reshuffled deck of the pool's recordings of c");

    cJSON *splits = cJSON_AddObjectToObject(root, "splits");
    for (int s = 0; s < IMA_NUM_SPLITS; s++) {
        cJSON *o = cJSON_AddObjectToObject(splits, ima_split_names[s]);
        size_t tot[3] = {0, 0, 0};
        cJSON *pd = cJSON_AddArrayToObject(o, "per_digit");
        for (int d = 0; d < IMA_NUM_DIGITS; d++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "digit", d);
            cJSON_AddNumberToObject(e, "clean", (double)sum->pairs[s][d][0]);
            cJSON_AddNumberToObject(e, "image_noise", (double)sum->pairs[s][d][1]);
            cJSON_AddNumberToObject(e, "speech_noise", (double)sum->pairs[s][d][2]);
            cJSON_AddNumberToObject(e, "recordings", (double)pools[s].n_rec[d]);
            cJSON_AddItemToArray(pd, e);
            for (int k = 0; k < 3; k++) tot[k] += sum->pairs[s][d][k];
        }
        cJSON_AddNumberToObject(o, "pairs", (double)(tot[0] + tot[1] + tot[2]));
        cJSON_AddNumberToObject(o, "clean", (double)tot[0]);
        cJSON_AddNumberToObject(o, "image_noise", (double)tot[1]);
        cJSON_AddNumberToObject(o, "speech_noise", (double)tot[2]);
        cJSON_AddNumberToObject(o, "images", (double)sum->images[s]);
        cJSON_AddNumberToObject(o, "recordings", (double)sum->recordings[s]);
        cJSON_AddNumberToObject(o, "speakers", (double)sum->speakers[s]);
    }
    cJSON *files = cJSON_AddObjectToObject(root, "files");
    cJSON_AddStringToObject(files, "image.npy", "float32 (N, 784): grey / 255, or image noise");
    cJSON_AddStringToObject(files, "speech.npy", "float32 (N, 696): scaled MFCC, or speech noise");
    cJSON_AddStringToObject(files, "label.npy", "int64 (N): digit");
    cJSON_AddStringToObject(files, "image_noise.npy", "uint8 (N): 1 = the image is noise");
    cJSON_AddStringToObject(files, "speech_noise.npy", "uint8 (N): 1 = the speech is noise");
    cJSON_AddStringToObject(files, "speaker.npy", "int32 (N): index into speakers");
    cJSON_AddStringToObject(files, "image_id.npy", "int64 (N): see image_ids");
    cJSON_AddStringToObject(files, "speech_id.npy",
                            "int64 (N): index into utterances.names; noise from utterances.noise_from");

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char *path = join(dir, "manifest.json");
    if (!text || !path) {
        free(text), free(path);
        return ima_error("%s/manifest.json: out of memory writing the manifest", dir);
    }
    FILE *f = fopen(path, "w");
    int rc = IMA_OK;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) rc = ima_error("%s: cannot write", path);
    if (f && fclose(f) != 0 && !rc) rc = ima_error("%s: cannot write", path);
    free(path);
    free(text);
    return rc;
}

/* ---- build ------------------------------------------------------------------------------------ */

int ima_digits_build(const ima_digits_config *cfg, ima_digits_summary *sum) {
    memset(sum, 0, sizeof *sum);
    const ima_speech_set *sp = cfg->speech;
    if (!(cfg->noise_factor >= 0 && cfg->noise_factor < 1))
        return ima_error("%s: noise factor R = %g: expected 0 <= R < 1", __func__, cfg->noise_factor);
    if (!(cfg->img_valid_frac >= 0 && cfg->img_test_frac >= 0 && cfg->img_valid_frac + cfg->img_test_frac <= 1))
        return ima_error("%s: image fractions valid %g, test %g: expected each >= 0 and a sum <= 1", __func__,
                         cfg->img_valid_frac, cfg->img_test_frac);
    if (!cfg->img_train || cfg->img_train->n == 0) return ima_error("%s: no images", __func__);
    if (!sp || sp->n == 0) return ima_error("%s: no speech", __func__);
    struct stat st;
    if (ima_digits_check_out(cfg->out_dir, cfg->force)) return IMA_ERR;

    /* pools */
    ima_rng rng;
    ima_rng_init(&rng, cfg->seed);
    pool pools[IMA_NUM_SPLITS];
    memset(pools, 0, sizeof pools);
    int rc = split_images(pools, cfg->img_train, 0, cfg->img_valid_frac, cfg->img_test ? 0.0 : cfg->img_test_frac, 0,
                          &rng);
    if (!rc && cfg->img_test) rc = split_images(pools, cfg->img_test, (int64_t)cfg->img_train->n, 0, 0, 1, &rng);
    for (size_t i = 0; i < sp->n && !rc; i++) {
        pool *p = &pools[sp->split[i]];
        int d = sp->label[i];
        size_t *grown = ima_try_realloc(p->rec[d], p->n_rec[d] + 1, sizeof(size_t));
        if (!grown) {
            rc = ima_error_prefix("%zu recordings of digit %d", p->n_rec[d] + 1, d);
            break;
        }
        p->rec[d] = grown;
        p->rec[d][p->n_rec[d]++] = i;
    }
    int8_t *speaker_split = rc ? NULL : ima_try_malloc(sp->n_speakers + 1, 1); // (S) split of each speaker, -1 if several
    if (!rc && !speaker_split) rc = ima_error_prefix("%zu speakers", sp->n_speakers);
    for (size_t i = 0; i < sp->n_speakers && !rc; i++) speaker_split[i] = -2;
    for (size_t i = 0; i < sp->n && !rc; i++) {
        int8_t *x = &speaker_split[sp->speaker[i]];
        *x = *x == -2 ? sp->split[i] : *x == sp->split[i] ? *x : -1;
    }
    for (int s = 0; s < IMA_NUM_SPLITS && !rc; s++) {
        for (int d = 0; d < IMA_NUM_DIGITS && !rc; d++) {
            if (pools[s].n_img[d] == 0)
                rc = ima_error("split %s: no images of digit %d (too few images in %s)", ima_split_names[s], d,
                               cfg->image_source ? cfg->image_source : "the image source");
            else if (pools[s].n_rec[d] == 0)
                rc = ima_error("split %s: no recordings of digit %d (its speakers have none; name other speakers "
                               "for the split, or add a speech source)",
                               ima_split_names[s], d);
            sum->images[s] += pools[s].n_img[d];
            sum->recordings[s] += pools[s].n_rec[d];
        }
        for (size_t i = 0; i < sp->n_speakers; i++) sum->speakers[s] += speaker_split[i] == s || speaker_split[i] == -1;
    }

    /* temporary sibling folder, renamed at the end */
    char *tmp = NULL;
    if (!rc) {
        size_t tl = strlen(cfg->out_dir) + 16;
        tmp = ima_try_malloc(tl, 1);
        if (tmp) snprintf(tmp, tl, "%s.tmp-XXXXXX", cfg->out_dir);
        if (!tmp) {
            rc = ima_error_prefix("%s", cfg->out_dir);
        } else if (!mkdtemp(tmp)) {
            rc = ima_error("%s: cannot create a temporary folder beside the output: %s", tmp, strerror(errno));
            free(tmp);
            tmp = NULL;
        } else {
            chmod_umask(tmp);
        }
    }
    build_state bs = {cfg, NULL, {{0}}, 0, 0, 0, 0};
    if (!rc) {
        ima_mfcc_config mc = ima_mfcc_default();
        rc = ima_mfcc_init(&bs.mfcc, &mc);
    }
    ima_rng_init(&bs.noise_rng, cfg->seed ^ 0x6e6f697365ull);
    int64_t noise_img_from = (int64_t)cfg->img_train->n + (cfg->img_test ? (int64_t)cfg->img_test->n : 0);
    bs.next_noise_image_id = noise_img_from;
    bs.next_noise_speech_id = (int64_t)sp->n;
    for (int s = 0; s < IMA_NUM_SPLITS; s++)
        for (int d = 0; d < IMA_NUM_DIGITS; d++)
            bs.total += pools[s].n_img[d] + (size_t)(cfg->noise_factor * (double)pools[s].n_img[d] + 0.5);
    for (int s = 0; s < IMA_NUM_SPLITS && !rc; s++) { /* train first: it fits the scaling */
        char *dir = join(tmp, ima_split_names[s]);
        if (!dir) rc = ima_error_prefix("%s", tmp);
        else if (mkdir(dir, 0777) != 0) rc = ima_error("%s: cannot create: %s", dir, strerror(errno));
        ima_rng pair_rng;
        ima_rng_init(&pair_rng, cfg->seed * 0x9E3779B97F4A7C15ull + (uint64_t)s + 1);
        if (!rc) rc = write_split(&bs, dir, s, &pools[s], &pair_rng, sum);
        free(dir);
    }
    if (!rc) rc = write_manifest(tmp, cfg, sum, speaker_split, pools, noise_img_from, (int64_t)sp->n);
    if (!rc) { /* replace: the old folder moves aside first, so that a failure leaves it intact */
        char *old = NULL;
        if (stat(cfg->out_dir, &st) == 0) {
            size_t ol = strlen(cfg->out_dir) + 16;
            old = ima_try_malloc(ol, 1);
            if (old) snprintf(old, ol, "%s.old-XXXXXX", cfg->out_dir);
            if (!old)
                rc = ima_error_prefix("%s", cfg->out_dir);
            else if (!mkdtemp(old) || rmdir(old) != 0 || rename(cfg->out_dir, old) != 0)
                rc = ima_error("%s: cannot move the existing folder aside: %s", cfg->out_dir, strerror(errno));
        }
        if (!rc && rename(tmp, cfg->out_dir) != 0)
            rc = ima_error("%s: cannot rename the finished corpus into place: %s", cfg->out_dir, strerror(errno));
        if (!rc && old) remove_tree(old);
        free(old);
    }
    if (rc && tmp) remove_tree(tmp);
    free(tmp);
    ima_mfcc_free(bs.mfcc);
    free(speaker_split);
    for (int s = 0; s < IMA_NUM_SPLITS; s++) pool_free(&pools[s]);
    return rc;
}

/* ---- before the work; reading a manifest -------------------------------------------------------- */

int ima_digits_check_out(const char *out_dir, int force) {
    struct stat st;
    if (!*out_dir) return ima_error("--out: empty folder name");
    if (stat(out_dir, &st) == 0 && !force)
        return ima_error("%s: already exists (remove it, choose another folder, or pass --force)", out_dir);
    /* the parent folders */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", out_dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (ima_mkdirs(parent)) return IMA_ERR;
    }
    /* a temporary folder beside it, as the build will make */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out_dir);
    if (!mkdtemp(tmp))
        return ima_error("%s: cannot write beside it (%s); check that its folder is writable", out_dir,
                         strerror(errno));
    rmdir(tmp);
    return IMA_OK;
}

void ima_corpus_manifest_free(ima_corpus_manifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_speakers; i++) free(m->speakers[i]);
    free(m->speakers);
    memset(m, 0, sizeof *m);
}

int ima_corpus_manifest_read(ima_corpus_manifest *m, const char *path) {
    memset(m, 0, sizeof *m);
    char *text = ima_read_text(path, (size_t)256 << 20, NULL);
    if (!text) return IMA_ERR;
    cJSON *root = cJSON_Parse(text);
    free(text);
    int rc = IMA_ERR;
    if (!cJSON_IsObject(root)) {
        ima_error("%s: not a JSON object (is this a corpus manifest.json?)", path);
        goto done;
    }
    const cJSON *spk = cJSON_GetObjectItemCaseSensitive(root, "speakers");
    if (!cJSON_IsArray(spk)) {
        ima_error("%s: field 'speakers': expected an array", path);
        goto done;
    }
    size_t ns = (size_t)cJSON_GetArraySize(spk);
    if (!(m->speakers = ima_try_calloc(ns ? ns : 1, sizeof *m->speakers))) {
        ima_error_prefix("%s: field 'speakers'", path);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, spk) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(nm)) {
            ima_error("%s: field 'speakers[%zu]': expected an object with a string 'name'", path, m->n_speakers);
            goto done;
        }
        size_t len = strlen(nm->valuestring);
        char *copy = ima_try_malloc(len + 1, 1);
        if (!copy) {
            ima_error_prefix("%s: field 'speakers'", path);
            goto done;
        }
        memcpy(copy, nm->valuestring, len + 1);
        m->speakers[m->n_speakers++] = copy;
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(root, "speech");
    if (sp) {
        const cJSON *bw = cJSON_GetObjectItemCaseSensitive(sp, "bandwidth_hz");
        if (!cJSON_IsObject(sp) || !cJSON_IsNumber(bw) ||
            !(bw->valuedouble > 0 && bw->valuedouble <= IMA_SPEECH_RATE / 2.0)) {
            ima_error("%s: field 'speech.bandwidth_hz': expected a number in (0, %g]", path, IMA_SPEECH_RATE / 2.0);
            goto done;
        }
        m->bandwidth_hz = bw->valuedouble;
    }
    rc = IMA_OK;
done:
    cJSON_Delete(root);
    if (rc) ima_corpus_manifest_free(m);
    return rc;
}
