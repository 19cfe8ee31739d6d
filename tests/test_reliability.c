/* test_reliability.c: issue #11 in the library: size products that wrap, allocations a caller or a
 * file sizes (an error naming the size, never an abort), checkpoint fields range-checked before
 * any cast, train states validated, resuming reads the state before it allocates, resume is exact,
 * truncated gzip trailers and non-regular inputs are refused. */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/emotion_internal.h"
#include "ima/audio.h"
#include "ima/baselines.h"
#include "ima/common.h"
#include "ima/digits.h"
#include "ima/emotion.h"
#include "ima/eval.h"
#include "ima/importance.h"
#include "ima/loss_xent.h"
#include "ima/nn.h"
#include "ima/npy.h"
#include "ima/repro.h"
#include "ima/rng.h"
#include "ima/safetensors.h"
#include "ima/toy.h"
#include "ima/tsne.h"
#include "ima/train.h"
#include "testutil.h"

static int has(const char *what) { return strstr(ima_last_error(), what) != NULL; }

/* ---- allocation-failure injection ------------------------------------------------------------
 * The test is linked with --wrap=malloc,--wrap=calloc,--wrap=realloc (CMakeLists.txt), so every
 * malloc/calloc/realloc that libima (a static library) and this file call comes here first. On this
 * thread only: an allocation of more than fail_over bytes fails, and, when fail_at >= 0, the
 * allocation after fail_at more succeeds fails once (a sweep over fail_at reaches every allocation
 * of a call, one at a time). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);

static _Thread_local size_t fail_over = SIZE_MAX;
static _Thread_local long fail_at = -1;
static _Thread_local long n_injected; // failures injected so far
static _Thread_local long n_allocs;   // allocations asked for so far (this thread)

static int inject(size_t n) {
    n_allocs++;
    if (n > fail_over) return ++n_injected, 1;
    if (fail_at == 0) return fail_at = -1, ++n_injected, 1;
    if (fail_at > 0) fail_at--;
    return 0;
}
void *__wrap_malloc(size_t n) { return inject(n) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t count, size_t size) {
    size_t n;
    return ima_mul_overflows(count, size, &n) || inject(n) ? NULL : __real_calloc(count, size);
}
void *__wrap_realloc(void *p, size_t n) { return inject(n) ? NULL : __real_realloc(p, n); }

/* Runs call(ctx) once with its k-th allocation failing, for k = 0, 1, ... until a run fails no
 * allocation (the call made fewer). Every failing run must return IMA_ERR with an out-of-memory
 * message (free_out then frees nothing half-built: ASan's leak check sees what a failing path
 * forgot), the final run IMA_OK. Returns the number of allocations swept. */
static long sweep_allocations(const char *what, int (*call)(void *ctx), void *ctx) {
    for (long k = 0; k < 100000; k++) {
        ima_clear_error();
        long before = n_injected;
        fail_at = k;
        int rc = call(ctx);
        fail_at = -1;
        if (n_injected == before) { // the call made k allocations or fewer: none failed
            CHECK(rc == IMA_OK, "%s: fails with no allocation failing: %s", what, ima_last_error());
            return k;
        }
        if (rc != IMA_ERR || !has("out of memory")) {
            CHECK(0, "%s: allocation %ld failed: rc %d, message \"%s\"", what, k, rc, ima_last_error());
            return k;
        }
    }
    CHECK(0, "%s: more than 100000 allocations", what);
    return -1;
}

/* ---- item 1: a shape whose product wraps ------------------------------------------------- */

/* a v1 .npy with the given header dict and no data */
static void write_npy_header(const char *path, const char *dict) {
    unsigned char buf[128];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = 128 - 10;
    buf[9] = 0;
    memcpy(buf + 10, dict, strlen(dict));
    buf[127] = '\n';
    tu_write_file(path, buf, sizeof buf);
}

static void check_dataset_overflow(const char *dir) {
    char *p = tu_path(dir, "huge.npy");
    write_npy_header(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0), }");
    const char *paths[4] = {p, p, p, p};
    ima_dataset ds;
    int rc = ima_dataset_load(&ds, 4, paths, NULL);
    CHECK_ERR(rc, p, "0 columns");
    /* a printable message: one line, no bytes from outside the file */
    CHECK(!strchr(ima_last_error(), '\n'), "message spans lines: %s", ima_last_error());
    free(p);
}

/* ---- item 5: out of memory is an error naming the size --------------------------------- */

static void check_no_abort_on_oom(void) {
    ima_clear_error();
    void *q = ima_try_calloc(SIZE_MAX / 2, 4);
    CHECK(!q && has("out of memory") && has("overflows"), "overflowing calloc: %s", ima_last_error());
    q = ima_try_malloc((size_t)1 << 62, 1);
    CHECK(!q && has("out of memory") && has("4611686018427387904"), "4 EiB malloc: %s", ima_last_error());
    free(q);
    /* a caller's batch the machine cannot hold: digits model with 2^24 rows (~330 GB of activations) */
    ima_config cfg = ima_config_digits(50);
    ima_model *m = NULL;
    int rc = ima_model_init(&m, &cfg, (size_t)1 << 24, 1);
    CHECK(rc == IMA_ERR && !m && has("out of memory") && has("batch of 16777216 rows"), "huge batch: %s",
          ima_last_error());
    rc = ima_model_init(&m, &cfg, ((size_t)1 << 24) + 1, 1);
    CHECK(rc == IMA_ERR && !m && has("max_batch"), "batch over the limit: %s", ima_last_error());
    /* the process is still fine: a normal model after the failures */
    CHECK(ima_model_init(&m, &cfg, 8, 1) == IMA_OK, "normal init after OOM: %s", ima_last_error());
    ima_model_free(m);
    /* the baselines too: JMVAE-KL's digits model with 2^24 rows is an error, not an abort */
    ima_baseline_config bc = ima_baseline_config_digits(IMA_BASELINE_JMVAE, 50);
    ima_baseline *bl = NULL;
    ima_clear_error();
    rc = ima_baseline_init(&bl, &bc, (size_t)1 << 24, 1);
    CHECK(rc == IMA_ERR && !bl && has("out of memory"), "baseline huge batch: %s", ima_last_error());
    CHECK(ima_baseline_init(&bl, &bc, 8, 1) == IMA_OK, "baseline init after OOM: %s", ima_last_error());
    ima_baseline_free(bl);
}

/* ---- item 5: t-SNE and the classifier survive out of memory and bad arguments --------------- */

typedef struct {
    const float *x; // (N, D)
    float *y;       // (N, 2) the map
    size_t N, D;
    ima_tsne_config cfg;
} tsne_case;

/* (the test's own buffers are allocated outside the sweep: only libima's allocations fail) */
static int call_tsne(void *vc) {
    tsne_case *c = vc;
    ima_tsne_result res;
    int rc = ima_tsne_run(c->y, &res, c->x, c->N, c->D, &c->cfg);
    if (rc == IMA_OK) {
        double tw;
        rc = ima_trustworthiness(&tw, c->x, c->D, c->y, 2, c->N, 5);
    }
    return rc;
}

typedef struct {
    const float *x;   // (N, D)
    const int64_t *y; // (N)
    size_t N, D;
    ima_classifier_config cfg;
} clf_case;

static int call_classifier(void *vc) {
    clf_case *c = vc;
    ima_classifier *clf = NULL;
    int64_t pred[64];
    int rc = ima_classifier_fit(&clf, NULL, &c->cfg, c->x, c->y, c->N, c->x, c->y, c->N, c->D);
    if (rc == IMA_OK) rc = ima_classifier_predict(clf, pred, c->x, c->N);
    ima_classifier_free(clf);
    return rc;
}

static void check_eval_oom(void) {
    enum { N = 48, D = 3 };
    float x[N * D];
    int64_t lab[N];
    ima_rng rng;
    ima_rng_init(&rng, 5);
    for (size_t i = 0; i < N; i++) {
        lab[i] = (int64_t)(i % 2);
        for (size_t d = 0; d < D; d++) x[i * D + d] = (float)ima_rng_normal(&rng) + 3.0f * (float)lab[i];
    }
    /* every allocation of a t-SNE map (Barnes-Hut and exact) and its trustworthiness, failing one at a time */
    float map[N * 2];
    tsne_case tc = {x, map, N, D, ima_tsne_defaults()};
    tc.cfg.perplexity = 5.0;
    tc.cfg.n_iter = 40;
    tc.cfg.exaggeration_iter = 10;
    long n = sweep_allocations("t-SNE Barnes-Hut", call_tsne, &tc);
    CHECK(n >= 15, "t-SNE: only %ld allocations swept", n);
    tc.cfg.method = IMA_TSNE_EXACT;
    sweep_allocations("t-SNE exact", call_tsne, &tc);

    /* a caller's N the machine cannot hold: exact t-SNE of 2^24 points wants (N, N-1) neighbour lists (2 PB) */
    size_t big = (size_t)1 << 24;
    float *xb = calloc(big, sizeof *xb), *yb = malloc(big * 2 * sizeof *yb);
    CHECK(xb && yb, "64 MB for the big t-SNE case");
    if (xb && yb) {
        ima_clear_error();
        int rc = ima_tsne_run(yb, NULL, xb, big, 1, &tc.cfg);
        CHECK(rc == IMA_ERR && has("out of memory") && has("neighbour lists"), "t-SNE of 2^24 points: %s",
              ima_last_error());
    }
    free(xb), free(yb);
    /* bad arguments are errors, not assertions: a map width the gradient does not support, NaN input */
    ima_sparse P;
    CHECK(ima_tsne_affinities(&P, x, N, D, 5.0, 0, 1) == IMA_OK, "%s", ima_last_error());
    double Y[N * 5], g[N * 5];
    for (size_t t = 0; t < N * 5; t++) Y[t] = (double)t / 7.0;
    CHECK(ima_tsne_gradient(g, &P, Y, N, 5, 0.0, 1.0) == IMA_ERR && has("width 5"), "width 5: %s", ima_last_error());
    CHECK(ima_tsne_gradient(g, &P, Y, N, 3, 0.5, 1.0) == IMA_ERR && has("width 3"), "BH width 3: %s",
          ima_last_error());
    ima_sparse_free(&P);
    float xn[N * D];
    memcpy(xn, x, sizeof xn);
    xn[7 * D + 1] = NAN;
    CHECK(ima_tsne_affinities(&P, xn, N, D, 5.0, 0, 1) == IMA_ERR && has("point 7"), "NaN input: %s",
          ima_last_error());
    CHECK(ima_tsne_affinities(&P, x, N, D, 1e300, 0, 1) == IMA_ERR && has("perplexity"), "perplexity 1e300: %s",
          ima_last_error());

    /* the classifier: fit and predict, every allocation failing one at a time */
    clf_case cc = {x, lab, N, D, ima_classifier_defaults()};
    cc.cfg.hidden = 8;
    cc.cfg.epochs = 2;
    cc.cfg.n_lrs = 2;
    cc.cfg.batch = 16;
    n = sweep_allocations("classifier", call_classifier, &cc);
    CHECK(n >= 15, "classifier: only %ld allocations swept", n);
    /* predict alone: its 256-row activations fail (fit's 16-row batch fit under the same limit) */
    ima_classifier *clf = NULL;
    cc.cfg.hidden = 4096;
    CHECK(ima_classifier_fit(&clf, NULL, &cc.cfg, x, lab, N, x, lab, N, D) == IMA_OK, "%s", ima_last_error());
    int64_t pred[N];
    fail_over = (size_t)1 << 20; // fit's largest buffer: 16 x 2 x 4096 floats (512 KB); predict's: 256 x 2 x 4096
    int rc = clf ? ima_classifier_predict(clf, pred, x, N) : IMA_ERR;
    fail_over = SIZE_MAX;
    CHECK(rc == IMA_ERR && has("out of memory") && has("256 rows"), "predict: %s", ima_last_error());
    CHECK(clf && ima_classifier_predict(clf, pred, x, N) == IMA_OK, "predict after the failure: %s", ima_last_error());
    ima_classifier_free(clf);
    /* a hidden width whose parameter count overflows size_t: an error, not a wrapped-around buffer */
    cc.cfg.hidden = SIZE_MAX / 4;
    clf = NULL;
    CHECK(ima_classifier_fit(&clf, NULL, &cc.cfg, x, lab, N, x, lab, N, D) == IMA_ERR && !clf && has("overflow"),
          "hidden 2^62: %s", ima_last_error());
}

/* ---- item 5: the emotion corpus (build, save, load, pairs) survives out of memory ------------ */

typedef struct {
    const char *glove, *dir;
    const ima_emo_corpus *c; // the corpus to save
} emo_case;

/* six utterances of three words (two per split), built as the MELD and IEMOCAP builders do */
static int build_tiny_corpus(ima_emo_corpus *c, const char *glove) {
    static const char *const texts[6] = {"the cat sat", "a dog ran", "the dog sat", "a cat ran", "the cat ran", "a dog sat"};
    emo_builder b;
    if (emo_builder_init(&b, c, "test")) return IMA_ERR;
    for (int u = 0; u < 6; u++) {
        char words[8][64], id[16];
        size_t N = ima_emo_tokenize(texts[u], words, NULL, NULL, 8);
        float t0[8], t1[8], avec[8 * IMA_EMO_ACOUSTIC_DIM];
        for (size_t l = 0; l < N; l++) t0[l] = 0.3f * (float)l, t1[l] = 0.3f * (float)l + 0.25f;
        for (size_t k = 0; k < N * IMA_EMO_ACOUSTIC_DIM; k++) avec[k] = (float)((k * 7 + (size_t)u) % 11);
        snprintf(id, sizeof id, "u%d", u);
        if (emo_builder_add(&b, id, "spk", texts[u], u % 4, u % 3, N, words, t0, t1, avec)) {
            ima_emo_corpus_free(c);
            return IMA_ERR;
        }
    }
    ima_emo_build_config cfg = ima_emo_build_defaults();
    cfg.glove_path = glove;
    cfg.min_count = 1;
    cfg.verbose = 0;
    if (emo_finish(&b, &cfg)) {
        ima_emo_corpus_free(c);
        return IMA_ERR;
    }
    return IMA_OK;
}

static int call_emotion_build(void *vc) {
    emo_case *e = vc;
    ima_emo_corpus c;
    if (build_tiny_corpus(&c, e->glove)) return IMA_ERR;
    ima_emo_corpus_free(&c);
    return IMA_OK;
}

static int call_emotion_save(void *vc) {
    emo_case *e = vc;
    return ima_emo_corpus_save(e->c, e->dir, 1);
}

static int call_emotion_load(void *vc) {
    emo_case *e = vc;
    ima_emo_corpus r;
    if (ima_emo_corpus_load(&r, e->dir)) return IMA_ERR; /* a failed load frees what it read */
    int64_t *pairs = NULL;
    size_t P = 0;
    int rc = ima_emo_pairs(&pairs, &P, &r, IMA_EMO_TRAIN, 3, 1); /* 3 of the 9 pairs per utterance: the sampled path */
    if (rc == IMA_OK && P != 6) rc = ima_error("expected 6 training pairs, got %zu", P);
    free(pairs);
    ima_emo_corpus_free(&r);
    return rc;
}

static void check_emotion_oom(const char *dir) {
    char *glove = tu_path(dir, "glove.txt"), *corpus = tu_path(dir, "emo");
    static const char *const vocab[6] = {"the", "a", "cat", "dog", "sat", "ran"};
    char buf[8192];
    size_t bl = 0;
    for (int w = 0; w < 6; w++) {
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%s", vocab[w]);
        for (int k = 0; k < IMA_EMO_WORD_DIM; k++) bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " %d", (w + k) % 5);
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "\n");
    }
    tu_write_file(glove, buf, bl);
    /* build (vocabulary, GloVe, standardization), save (the folder, written whole or not at all), load
     * and pairs: every allocation failing one at a time */
    ima_emo_corpus c;
    CHECK(build_tiny_corpus(&c, glove) == IMA_OK, "tiny corpus: %s", ima_last_error());
    emo_case e = {glove, corpus, &c};
    long nb = sweep_allocations("emotion corpus build", call_emotion_build, &e);
    long ns = sweep_allocations("emotion corpus save", call_emotion_save, &e);
    long nl = sweep_allocations("emotion corpus load", call_emotion_load, &e);
    ima_emo_corpus_free(&c);
    CHECK(nb >= 20 && ns >= 20 && nl >= 40, "emotion corpus: only %ld / %ld / %ld allocations swept", nb, ns, nl);
    CHECK(tu_count_temp_files(dir) == 0, "a failed save left a temporary folder in %s", dir);
    /* a manifest count the cast cannot hold is a message, not undefined behaviour */
    char *man = tu_path(corpus, "manifest.json");
    size_t len;
    unsigned char *raw = tu_read_file(man, &len); /* not NUL-terminated */
    char *text = raw ? calloc(len + 1, 1) : NULL;
    if (text) memcpy(text, raw, len);
    free(raw);
    char *at = text ? strstr(text, "\"tokens_read\"") : NULL;
    CHECK(at != NULL, "manifest.json has tokens_read");
    if (at) {
        char *colon = strchr(at, ':');
        char fixed[16384];
        snprintf(fixed, sizeof fixed, "%.*s: 1e300,%s", (int)(colon - text), text, strchr(colon, ',') + 1);
        tu_write_file(man, fixed, strlen(fixed));
        ima_emo_corpus r;
        CHECK_ERR(ima_emo_corpus_load(&r, corpus), "manifest.json", "tokens_read");
    }
    free(text);
    free(man);
    free(glove);
    free(corpus);
}

/* ---- item 5: speech features and the digits corpus survive out of memory --------------------- */

typedef struct {
    const char *recs, *out;
    ima_mnist img;
    ima_speech_set *sp; // split already: the corpus's speech
} digits_case;

/* MFCC set-up, a folder of recordings (FSDD names), the speaker split */
static int call_speech(void *vc) {
    digits_case *c = vc;
    ima_mfcc_config mc = ima_mfcc_default();
    ima_mfcc *m = NULL;
    if (ima_mfcc_init(&m, &mc)) return IMA_ERR;
    ima_speech_set sp = {0};
    static const double frac[IMA_NUM_SPLITS] = {0.4, 0.3, 0.3};
    static const char *const valid[1] = {"b"}, *const test[1] = {"c"};
    ima_rng rng;
    ima_rng_init(&rng, 1);
    int rc = ima_speech_add_dir(&sp, m, c->recs, NULL, NULL);
    if (!rc) rc = ima_speech_split(&sp, valid, 1, test, 1, 1, frac, &rng);
    if (!rc && (sp.n != 30 || sp.n_speakers != 3)) rc = ima_error("%zu utterances of %zu speakers", sp.n, sp.n_speakers);
    ima_speech_set_free(&sp);
    ima_mfcc_free(m);
    return rc;
}

static int call_digits_build(void *vc) {
    digits_case *c = vc;
    ima_digits_config cfg = {.out_dir = c->out,
                             .force = 1,
                             .noise_factor = 0.2,
                             .seed = 3,
                             .img_train = &c->img,
                             .img_valid_frac = 0.25,
                             .img_test_frac = 0.25,
                             .image_source = "test",
                             .speech = c->sp};
    ima_digits_summary sum;
    return ima_digits_build(&cfg, &sum);
}

static void check_digits_oom(const char *dir) {
    /* 3 speakers (a, b, c) x 10 digits, 0.25 s tones at 8 kHz */
    char *recs = tu_path(dir, "recs"), *out = tu_path(dir, "digits");
    mkdir(recs, 0777);
    for (int s = 0; s < 3; s++)
        for (int d = 0; d < IMA_NUM_DIGITS; d++) {
            char name[64];
            snprintf(name, sizeof name, "%d_%c_0.wav", d, 'a' + s);
            char *p = tu_path(recs, name);
            SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
            SNDFILE *f = sf_open(p, SFM_WRITE, &info);
            float x[2000];
            for (int i = 0; i < 2000; i++) x[i] = (float)(0.3 * sin(0.05 * (d + 2) * (s + 3) * i));
            CHECK(f && sf_writef_float(f, x, 2000) == 2000, "%s", p);
            if (f) sf_close(f);
            free(p);
        }
    digits_case c = {recs, out, {0}, NULL};
    long n = sweep_allocations("speech set", call_speech, &c);
    CHECK(n >= 60, "speech set: only %ld allocations swept", n);

    /* the corpus build, with 4 images per digit */
    ima_mfcc_config mc = ima_mfcc_default();
    ima_mfcc *m = NULL;
    ima_speech_set sp = {0};
    static const double frac[IMA_NUM_SPLITS] = {0.4, 0.3, 0.3};
    static const char *const valid[1] = {"b"}, *const test[1] = {"c"};
    ima_rng rng;
    ima_rng_init(&rng, 1);
    CHECK(ima_mfcc_init(&m, &mc) == IMA_OK && ima_speech_add_dir(&sp, m, recs, NULL, NULL) == IMA_OK &&
              ima_speech_split(&sp, valid, 1, test, 1, 1, frac, &rng) == IMA_OK,
          "speech: %s", ima_last_error());
    uint8_t pixels[40 * IMA_IMAGE_DIM], labels[40];
    for (size_t i = 0; i < 40; i++) {
        labels[i] = (uint8_t)(i % 10);
        for (size_t k = 0; k < IMA_IMAGE_DIM; k++) pixels[i * IMA_IMAGE_DIM + k] = (uint8_t)(i * 7 + k);
    }
    c.img = (ima_mnist){40, pixels, labels};
    c.sp = &sp;
    n = sweep_allocations("digits corpus", call_digits_build, &c);
    CHECK(n >= 20, "digits corpus: only %ld allocations swept", n);
    CHECK(tu_count_temp_files(dir) == 0, "a failed build left a temporary folder in %s", dir);

    /* a caller's MFCC configuration: sizes checked before any cast or allocation, not asserted */
    mc.frame_ms = 1e300;
    ima_mfcc *bad = NULL;
    CHECK(ima_mfcc_init(&bad, &mc) == IMA_ERR && !bad && has("window"), "frame of 1e300 ms: %s", ima_last_error());
    mc = ima_mfcc_default();
    mc.num_ceps = 6;
    CHECK(ima_mfcc_init(&bad, &mc) == IMA_OK, "%s", ima_last_error());
    float feat[IMA_SPEECH_DIM], wave[4000] = {0};
    CHECK(ima_speech_features_wave(bad, feat, wave, 4000) == IMA_ERR && has("coefficients"),
          "features from a 5-coefficient MFCC: %s", ima_last_error());
    ima_mfcc_free(bad);
    ima_speech_set_free(&sp);
    ima_mfcc_free(m);
    free(recs);
    free(out);
}

/* ---- items 2, 4, 6: checkpoint fields ---------------------------------------------------- */

/* Copies checkpoint SRC to DST with the first FROM in metadata KEY replaced by TO. */
static int rewrite_meta(const char *src, const char *dst, const char *key, const char *from, const char *to) {
    ima_st_file f;
    if (ima_st_read(&f, src)) return -1;
    ima_st_writer *w = ima_st_writer_init();
    for (size_t i = 0; i < f.n_tensors; i++)
        ima_st_writer_add(w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, f.tensors[i].shape,
                          f.tensors[i].data);
    int found = 0;
    for (size_t i = 0; i < f.n_meta; i++) {
        const char *v = f.meta_values[i];
        char buf[8192];
        const char *at = strcmp(f.meta_keys[i], key) ? NULL : strstr(v, from);
        if (at) {
            snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - v), v, to, at + strlen(from));
            v = buf;
            found = 1;
        }
        ima_st_writer_meta(w, f.meta_keys[i], v);
    }
    int rc = found ? ima_st_writer_write(w, dst) : -1;
    ima_st_writer_free(w);
    ima_st_free(&f);
    return rc;
}

static void check_checkpoint_fields(const char *dir) {
    ima_config cfg = tu_small_config(6, 5);
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &cfg, 8, 3) == IMA_OK, "init: %s", ima_last_error());
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 8;
    ima_train_state st;
    ima_train_state_init(&st, 5);
    char *good = tu_path(dir, "good.safetensors"), *bad = tu_path(dir, "bad.safetensors");
    CHECK(ima_checkpoint_save(good, m, &tc, &st) == IMA_OK, "save: %s", ima_last_error());
    ima_model_free(m);

    static const struct {
        const char *key, *from, *to, *expect;
    } cases[] = {
        /* item 4: numbers far outside int: a message quoting the value, no cast */
        {"config", "\"n_modalities\":2", "\"n_modalities\":1e10",
         "'n_modalities': expected a whole number in [-2147483648, 2147483647], got 10000000000"},
        {"config", "\"latent_width\":4", "\"latent_width\":1e300", "'latent_width'"},
        {"config", "\"input_width\":6", "\"input_width\":-1e10", "'input_width'"},
        {"config", "\"hidden_width\":16", "\"hidden_width\":16.5", "'hidden_width': expected a whole number"},
        {"config", "\"hidden_width\":16", "\"hidden_width\":70000", "hidden_width: expected 1..65536, got 70000"},
        {"config", "\"rho\":0.800000011920929", "\"rho\":1.5", "rho: expected a value in (0, 1), got 1.5"},
        {"config", "\"rho\":0.800000011920929", "\"rho\":1e39", "'rho'"},
        {"train_state", "\"epochs_stage1\":40", "\"epochs_stage1\":1e10", "'epochs_stage1'"},
        /* item 2: a batch size no model can be built for */
        {"train_state", "\"batch_size\":8", "\"batch_size\":1e12",
         "'batch_size': expected a whole number in [1, 16777216]"},
        {"train_state", "\"batch_size\":8", "\"batch_size\":-1", "'batch_size'"},
        /* item 6: a state training cannot resume from */
        {"train_state", "\"epoch\":0", "\"epoch\":-1000000", "'epoch': expected a whole number in [0, 1000000]"},
        {"train_state", "\"rounds\":1", "\"rounds\":-3", "'rounds'"},
        {"train_state", "\"lr\":0.0010000000474974513", "\"lr\":-1", "train_state.adam_stage1: field 'lr'"},
        {"train_state", "\"beta2\":0.99900001287460327", "\"beta2\":1", "'beta2'"},
        {"train_state", "\"step_ae\":0", "\"step_ae\":-5", "'step_ae'"},
        {"train_state", "\"finished\":false", "\"finished\":3", "'finished'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (rewrite_meta(good, bad, cases[k].key, cases[k].from, cases[k].to)) {
            CHECK(0, "case %zu: '%s' not found in the metadata %s", k, cases[k].from, cases[k].key);
            continue;
        }
        ima_train_config tc2;
        ima_train_state st2;
        m = NULL;
        int rc = ima_checkpoint_load(bad, 8, &m, &tc2, &st2);
        CHECK(rc == IMA_ERR && !m, "case %zu (%s) loaded", k, cases[k].to);
        CHECK(has(bad) && has(cases[k].expect), "case %zu (%s): message lacks \"%s\": %s", k, cases[k].to,
              cases[k].expect, ima_last_error());
        ima_config c2;
        rc = ima_checkpoint_read_state(bad, &c2, &tc2, &st2);
        CHECK(rc == IMA_ERR && has(cases[k].expect), "case %zu: read_state: %s", k, ima_last_error());
        ima_model_free(m);
    }

    /* item 2: a config claiming input_width 2^24 that the file's tensors cannot back: refused by the
     * tensor check, and the (caller-sized) activations fail with an error rather than an abort */
    CHECK(rewrite_meta(good, bad, "config", "\"input_width\":6", "\"input_width\":16777216") == 0, "rewrite");
    m = NULL;
    CHECK(ima_checkpoint_load(bad, 8, &m, NULL, NULL) == IMA_ERR && !m, "a 2^24-wide config loaded");
    CHECK(has("optimizer.adam_m") && has("does not match its own config"), "wide config: %s", ima_last_error());

    /* the state is readable without building the model */
    ima_config c3;
    ima_train_config tc3;
    ima_train_state st3;
    CHECK(ima_checkpoint_read_state(good, &c3, &tc3, &st3) == IMA_OK, "read_state: %s", ima_last_error());
    CHECK(c3.mod[0].input_width == 6 && tc3.batch_size == 8 && st3.round == 1 && st3.stage == 1 &&
              st3.rng.s[0] == st.rng.s[0],
          "read_state gave other values");
    free(good);
    free(bad);
}

/* ---- item 3: resume is exact (N epochs == N/2, save, load, N/2) -------------------------- */

typedef struct {
    const char *path;
    int stop_after; // epochs in all, then stop
    int seen;
    const ima_train_config *tc;
} stop_ctx;

static int stop_on_epoch(void *vc, const ima_model *m, const ima_train_state *st, const ima_epoch_report *r) {
    stop_ctx *c = vc;
    (void)r;
    if (ima_checkpoint_save(c->path, m, c->tc, st)) return -1;
    return ++c->seen >= c->stop_after;
}

static void check_resume_exact(const char *dir) {
    CHECK(ima_toy_write(dir, 200, 20, 0.1, 4) == 0, "toy: %s", ima_last_error());
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/train/a.npy", dir);
    snprintf(pb, sizeof pb, "%s/train/b.npy", dir);
    const char *paths[2] = {pa, pb};
    ima_dataset ds;
    CHECK(ima_dataset_load(&ds, 2, paths, NULL) == 0, "data: %s", ima_last_error());
    ima_config cfg = tu_small_config(ds.width[0], ds.width[1]);
    ima_train_config tc = ima_train_defaults();
    tc.batch_size = 32;
    tc.epochs_stage1 = 3;
    tc.epochs_stage2 = 2;
    tc.rounds = 2; /* 10 epochs in all, across both stages and both fusion modes */
    char *whole = tu_path(dir, "whole.safetensors"), *half = tu_path(dir, "half.safetensors"),
         *rest = tu_path(dir, "rest.safetensors");

    ima_model *m = NULL;
    ima_train_state st;
    CHECK(ima_model_init(&m, &cfg, tc.batch_size, 9) == 0, "init: %s", ima_last_error());
    ima_model_fit_center(m, &ds);
    ima_train_state_init(&st, 10);
    CHECK(ima_train(m, &ds, &tc, &st, NULL) == 0, "train: %s", ima_last_error());
    CHECK(ima_checkpoint_save(whole, m, &tc, &st) == 0, "save: %s", ima_last_error());
    ima_model_free(m);

    CHECK(ima_model_init(&m, &cfg, tc.batch_size, 9) == 0, "init: %s", ima_last_error());
    ima_model_fit_center(m, &ds);
    ima_train_state_init(&st, 10);
    stop_ctx sc = {half, 5, 0, &tc};
    ima_train_callbacks cb = {.ctx = &sc, .on_epoch = stop_on_epoch};
    CHECK(ima_train(m, &ds, &tc, &st, &cb) != 0 && sc.seen == 5, "stop after 5 epochs (saw %d)", sc.seen);
    ima_model_free(m);

    /* resume the way `ima train --resume` does: the state, then the model for the batch */
    ima_train_config tc2;
    CHECK(ima_checkpoint_read_state(half, NULL, &tc2, &st) == 0, "read_state: %s", ima_last_error());
    CHECK(st.round == 1 && st.stage == 2 && st.epoch == 2, "state after 5 epochs: round %d stage %d epoch %d", st.round,
          st.stage, st.epoch);
    CHECK(ima_checkpoint_load(half, tc2.batch_size, &m, NULL, NULL) == 0, "load: %s", ima_last_error());
    CHECK(ima_train(m, &ds, &tc2, &st, NULL) == 0, "train the rest: %s", ima_last_error());
    CHECK(ima_checkpoint_save(rest, m, &tc2, &st) == 0, "save: %s", ima_last_error());
    ima_model_free(m);

    ima_model *a = NULL, *b = NULL;
    CHECK(ima_checkpoint_load(whole, 1, &a, NULL, NULL) == 0 && ima_checkpoint_load(rest, 1, &b, NULL, NULL) == 0,
          "load both: %s", ima_last_error());
    if (a && b) {
        CHECK(a->n_params == b->n_params && !memcmp(a->params, b->params, a->n_params * sizeof(float)),
              "resumed parameters differ from the uninterrupted run");
        CHECK(!memcmp(a->adam_m, b->adam_m, a->n_params * sizeof(float)) &&
                  !memcmp(a->adam_v, b->adam_v, a->n_params * sizeof(float)) && a->step_ae == b->step_ae &&
                  a->step_imp == b->step_imp,
              "resumed optimizer state differs");
    }
    ima_model_free(a);
    ima_model_free(b);
    ima_dataset_free(&ds);
    free(whole);
    free(half);
    free(rest);
}

/* ---- item 9: gzip trailers and non-regular inputs ----------------------------------------- */

static void check_gzip_trailer(const char *dir) {
    /* 300 images: big enough that zlib reads the file in several buffers, as with the real MNIST files */
    enum { N = 300 };
    static unsigned char img[16 + N * 784], lab[8 + N];
    memset(img, 0, sizeof img);
    memset(lab, 0, sizeof lab);
    img[3] = 3, img[2] = 8, img[6] = N >> 8, img[7] = N & 0xff, img[11] = 28, img[15] = 28;
    uint64_t x = 1;
    for (size_t i = 16; i < sizeof img; i++) x = x * 6364136223846793005ULL + 1, img[i] = (unsigned char)(x >> 60);
    lab[3] = 1, lab[2] = 8, lab[6] = N >> 8, lab[7] = N & 0xff;
    char *pi = tu_path(dir, "img.gz"), *pl = tu_path(dir, "lab.idx"), *cut = tu_path(dir, "cut.gz");
    gzFile g = gzopen(pi, "wb");
    gzwrite(g, img, sizeof img);
    gzclose(g);
    tu_write_file(pl, lab, sizeof lab);
    size_t n = 0;
    unsigned char *gz = tu_read_file(pi, &n);
    ima_mnist mn;
    CHECK(ima_mnist_read_idx(&mn, pi, pl) == 0 && mn.n == N, "whole gzip: %s", ima_last_error());
    ima_mnist_free(&mn);
    for (size_t k = 1; gz && k <= 9; k++) {
        tu_write_file(cut, gz, n - k);
        int rc = ima_mnist_read_idx(&mn, cut, pl);
        CHECK(rc == IMA_ERR && has(cut), "gzip with %zu trailer bytes cut was accepted", k);
        if (!rc) ima_mnist_free(&mn);
    }
    /* a damaged CRC (the data itself intact) */
    if (gz) {
        gz[n - 8] ^= 0x55;
        tu_write_file(cut, gz, n);
        CHECK(ima_mnist_read_idx(&mn, cut, pl) == IMA_ERR && has(cut), "gzip with a bad CRC was accepted");
    }
    free(gz);
    free(pi);
    free(pl);
    free(cut);
}

static void check_fifo(const char *dir) {
    char *p = tu_path(dir, "fifo.npy");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    /* each reader must refuse at once (a blocking open would hang the test: ctest's timeout) */
    ima_npy a;
    CHECK_ERR(ima_npy_read(&a, p), p, "not a regular file");
    ima_st_file f;
    CHECK_ERR(ima_st_read(&f, p), p, "not a regular file");
    ima_mnist mn;
    CHECK_ERR(ima_mnist_read_idx(&mn, p, p), p, "not a regular file");
    float *pcm = NULL;
    size_t nf = 0;
    int rate = 0;
    CHECK_ERR(ima_audio_read(p, &pcm, &nf, &rate), p, "not a regular file");
    CHECK_ERR(ima_npy_read(&a, dir), dir, "folder");
    unlink(p);
    free(p);
}

/* ---- item 12: band-limiting --------------------------------------------------------------- */

static double rms(const float *x, size_t n, size_t skip) {
    double e = 0;
    for (size_t i = skip; i + skip < n; i++) e += (double)x[i] * x[i];
    return sqrt(e / (double)(n - 2 * skip));
}

static void check_band_limit(void) {
    const double rate = 16000;
    const size_t n = 16000;
    for (int k = 0; k < 2; k++) {
        double f = k ? 5000 : 1000; /* above and below a 4 kHz band */
        float *w = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) w[i] = (float)(0.5 * sin(2 * M_PI * f * (double)i / rate));
        double before = rms(w, n, 400);
        size_t m = n;
        int limited = 0;
        CHECK(ima_audio_band_limit(&w, &m, rate, 4000, &limited) == 0 && limited, "band limit: %s", ima_last_error());
        double after = rms(w, m, 400);
        if (k) CHECK(after < 0.01 * before, "5 kHz kept %.3f of its level through a 4 kHz band limit", after / before);
        else CHECK(fabs(after / before - 1) < 0.02, "1 kHz changed to %.3f of its level", after / before);
        CHECK(m > n - 4 && m < n + 4, "length %zu -> %zu", n, m);
        free(w);
    }
    /* a recording already inside the band is left alone */
    float *w = calloc(100, sizeof(float));
    size_t m = 100;
    int limited = 1;
    CHECK(ima_audio_band_limit(&w, &m, 8000, 4000, &limited) == 0 && !limited && m == 100, "8 kHz limited to 4 kHz");
    free(w);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- item 2: sizes a header claims are bounded by the file before anything is allocated ----------
 * Every read runs with allocations over 64 MB failing: a reader that believed the header would get
 * "out of memory" (or, before the fix, allocate 16 GB / 4 GB / 10 GB); the message must name the header. */

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void check_header_bounds(const char *dir) {
    char *img = tu_path(dir, "claims-images.gz"), *lab = tu_path(dir, "claims-labels"), *one = tu_path(dir, "one-image"),
         *wav = tu_path(dir, "one-hz.wav");
    /* a gzipped idx header claiming 21,000,000 28x28 images, with no pixels (58 bytes) */
    unsigned char h[16];
    be32(h, 2051), be32(h + 4, 21000000u), be32(h + 8, 28), be32(h + 12, 28);
    gzFile gz = gzopen(img, "wb9");
    CHECK(gz && gzwrite(gz, h, sizeof h) == (int)sizeof h && gzclose(gz) == Z_OK, "writing %s", img);
    struct stat st;
    CHECK(stat(img, &st) == 0 && st.st_size < 100, "%s is %lld bytes", img, (long long)st.st_size);
    /* one raw image; a raw label file claiming 2^32 - 1 labels in 9 bytes */
    unsigned char im[16 + 784] = {0};
    be32(im, 2051), be32(im + 4, 1), be32(im + 8, 28), be32(im + 12, 28);
    tu_write_file(one, im, sizeof im);
    unsigned char lb[9] = {0};
    be32(lb, 2049), be32(lb + 4, 0xffffffffu);
    tu_write_file(lab, lb, sizeof lb);
    ima_mnist m;
    long inj = n_injected;
    fail_over = (size_t)64 << 20;
    int rc = ima_mnist_read_idx(&m, img, lab);
    fail_over = SIZE_MAX;
    CHECK(rc == IMA_ERR && n_injected == inj && has("claims-images.gz") && has("21000000 items need"),
          "a 58-byte gzip idx claiming 21,000,000 images: %s", ima_last_error());
    fail_over = (size_t)64 << 20;
    rc = ima_mnist_read_idx(&m, one, lab);
    fail_over = SIZE_MAX;
    CHECK(rc == IMA_ERR && n_injected == inj && has("claims-labels") && has("4294967295"),
          "a 9-byte label file claiming 2^32 - 1 labels: %s", ima_last_error());
    /* a 400 KB WAV at 1 Hz: resampling it to 8 kHz would take a 10 GB buffer */
    SF_INFO info = {.samplerate = 1, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(wav, SFM_WRITE, &info);
    static float x[200000];
    for (size_t i = 0; i < 200000; i++) x[i] = (float)(0.1 * sin(0.01 * (double)i));
    CHECK(f && sf_writef_float(f, x, 200000) == 200000, "writing %s", wav);
    if (f) sf_close(f);
    float *y = NULL;
    size_t n = 0;
    fail_over = (size_t)64 << 20;
    rc = ima_audio_load(wav, 8000.0, &y, &n);
    fail_over = SIZE_MAX;
    CHECK(rc == IMA_ERR && !y && n_injected == inj && has("one-hz.wav") && has("sample rate 1 Hz"),
          "a 400 KB WAV at 1 Hz: %s", ima_last_error());
    free(y);
    free(img), free(lab), free(one), free(wav);
}

/* ---- item 5 (caller contracts): a bad argument is a returned error, never an abort --------------
 * Each call below used to end the process through IMA_ASSERT (batch over max_batch, a row with every
 * modality masked, a gather over the buffer's capacity, a bad dtype or NULL data for the writers). */

static void check_caller_contracts(const char *dir) {
    enum { DA = 6, DB = 5, CAP = 4, NB = CAP + 1 };
    ima_config cfg = tu_small_config(DA, DB);
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &cfg, CAP, 1) == IMA_OK, "small model: %s", ima_last_error());
    if (!m) return;
    float xa[NB * DA], xb[NB * DB];
    for (size_t i = 0; i < NB * DA; i++) xa[i] = (float)(i % 7) / 7.0f;
    for (size_t i = 0; i < NB * DB; i++) xb[i] = (float)(i % 5) / 5.0f - 0.4f;
    uint8_t mask[NB * 2] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    ima_batch big = {.B = NB, .x = {xa, xb}, .mask = mask};
    ima_stage1_terms t1;
    ima_stage2_terms t2;
    ima_clear_error();
    CHECK(ima_model_encode(m, &big, IMA_WEIGHTS_IMPORTANCE) == IMA_ERR && has("max_batch") && has("5 rows"),
          "encode of %d rows on a model of %d: %s", NB, CAP, ima_last_error());
    CHECK(ima_model_importance(m, &big) == IMA_ERR && has("max_batch"), "importance over max_batch: %s",
          ima_last_error());
    CHECK(ima_model_fuse(m, &big, IMA_WEIGHTS_ONE) == IMA_ERR && has("max_batch"), "fuse over max_batch: %s",
          ima_last_error());
    CHECK(ima_stage1_forward_backward(m, &big, IMA_WEIGHTS_ONE, 1, &t1) == IMA_ERR && has("max_batch"),
          "stage 1 over max_batch: %s", ima_last_error());
    CHECK(ima_stage2_forward_backward(m, &big, IMA_WEIGHTS_ONE, 1, &t2) == IMA_ERR && has("max_batch"),
          "stage 2 over max_batch: %s", ima_last_error());
    CHECK(ima_model_encode_rows(m, &big, IMA_WEIGHTS_ONE, 1, 0, 2) == IMA_ERR && has("max_batch"),
          "encode_rows over max_batch: %s", ima_last_error());
    /* an all-masked row (row 1 of these 3: mask 0 0) */
    uint8_t holes[3 * 2] = {1, 1, 0, 0, 1, 0};
    ima_batch hole = {.B = 3, .x = {xa, xb}, .mask = holes};
    CHECK(ima_model_encode(m, &hole, IMA_WEIGHTS_ONE) == IMA_ERR && has("row 1") && has("every modality masked"),
          "an all-masked row: %s", ima_last_error());
    CHECK(ima_model_fuse(m, &hole, IMA_WEIGHTS_IMPORTANCE) == IMA_ERR && has("row 1"), "fuse, all-masked row: %s",
          ima_last_error());
    CHECK(ima_stage1_forward(m, &hole, IMA_WEIGHTS_ONE, &t1) == IMA_ERR && has("row 1"),
          "stage 1, all-masked row: %s", ima_last_error());
    CHECK(ima_stage2_forward_backward(m, &hole, IMA_WEIGHTS_ONE, 0, &t2) == IMA_ERR && has("row 1"),
          "stage 2, all-masked row: %s", ima_last_error());
    ima_batch nox = {.B = 2, .x = {xa, NULL}, .mask = NULL};
    CHECK(ima_model_encode(m, &nox, IMA_WEIGHTS_ONE) == IMA_ERR && has("NULL"), "a NULL input: %s", ima_last_error());
    /* the model is untouched and works on a good batch */
    ima_batch ok = {.B = CAP, .x = {xa, xb}, .mask = mask};
    CHECK(ima_model_encode(m, &ok, IMA_WEIGHTS_IMPORTANCE) == IMA_OK, "a good batch after the refusals: %s",
          ima_last_error());
    CHECK(ima_stage1_forward_backward(m, &ok, IMA_WEIGHTS_ONE, 1, &t1) == IMA_OK && isfinite(t1.total),
          "stage 1 on a good batch: %s", ima_last_error());

    /* ima_batch_gather: more rows than the buffer holds, an index outside the data set */
    ima_dataset ds = {.n = NB, .n_modalities = 2, .width = {DA, DB}, .x = {xa, xb}, .mask = mask};
    ima_batch_buffer bb;
    CHECK(ima_batch_buffer_init(&bb, &ds, CAP) == IMA_OK, "batch buffer: %s", ima_last_error());
    size_t idx[NB] = {0, 1, 2, 3, 4};
    CHECK(ima_batch_gather(&bb, &ds, idx, NB) == NULL && has("at most 4"), "gather over capacity: %s",
          ima_last_error());
    idx[2] = 99;
    CHECK(ima_batch_gather(&bb, &ds, idx, 3) == NULL && has("index 99"), "gather of row 99 of 5: %s",
          ima_last_error());
    idx[2] = 2;
    CHECK(ima_batch_gather(&bb, &ds, idx, 3) != NULL, "a good gather: %s", ima_last_error());
    ima_batch_buffer_free(&bb);

    /* a data set of another shape for ima_model_importances */
    float ya[NB], yb[NB];
    float *ys[2] = {ya, yb};
    ima_dataset wrong = ds;
    wrong.width[0] = DA + 1;
    CHECK(ima_model_importances(m, &wrong, ys) == IMA_ERR && has("wide"), "importances of a wider set: %s",
          ima_last_error());
    ima_model_free(m);

    /* the baselines: over max_batch, an empty batch, an all-masked row, a loss without its noise */
    ima_baseline_config bc = ima_baseline_config_digits(IMA_BASELINE_JMVAE, 2);
    ima_baseline *bl = NULL;
    CHECK(ima_baseline_init(&bl, &bc, CAP, 1) == IMA_OK, "baseline: %s", ima_last_error());
    if (bl) {
        float *ia = calloc(NB * 784, sizeof(float)), *ib = calloc(NB * 696, sizeof(float)), z[NB * 2];
        ima_batch bbig = {.B = NB, .x = {ia, ib}, .mask = NULL}, bhole = {.B = 3, .x = {ia, ib}, .mask = holes};
        ima_baseline_terms bt;
        ima_rng rng;
        ima_rng_init(&rng, 1);
        CHECK(ima_baseline_represent(bl, &bbig, z) == IMA_ERR && has("max_batch"), "baseline over max_batch: %s",
              ima_last_error());
        CHECK(ima_baseline_represent(bl, &bhole, z) == IMA_ERR && has("row 1"), "baseline, all-masked row: %s",
              ima_last_error());
        CHECK(ima_baseline_sample_noise(bl, 0, &rng) == IMA_ERR && has("0 rows"), "noise for 0 rows: %s",
              ima_last_error());
        CHECK(ima_baseline_sample_noise(bl, 2, &rng) == IMA_OK, "noise: %s", ima_last_error());
        ima_batch three = {.B = 3, .x = {ia, ib}, .mask = NULL};
        CHECK(ima_baseline_loss_grad(bl, &three, 1, &bt) == IMA_ERR && has("noise drawn for 2"),
              "loss of 3 rows after noise for 2: %s", ima_last_error());
        ima_batch two = {.B = 2, .x = {ia, ib}, .mask = NULL};
        CHECK(ima_baseline_loss_grad(bl, &two, 1, &bt) == IMA_OK && isfinite(bt.total), "a good loss: %s",
              ima_last_error());
        free(ia), free(ib);
        ima_baseline_free(bl);
    }

    /* the writers: a dtype outside the enum, NULL data; nothing is written */
    char *p = tu_path(dir, "bad.npy");
    size_t shape[1] = {3};
    CHECK(ima_npy_write(p, (ima_dtype)99, 1, shape, xa) == IMA_ERR && has("dtype 99"), "npy dtype 99: %s",
          ima_last_error());
    CHECK(ima_npy_write(p, IMA_DTYPE_F32, 1, shape, NULL) == IMA_ERR && has("NULL"), "npy NULL data: %s",
          ima_last_error());
    struct stat st;
    CHECK(stat(p, &st) != 0, "%s exists after refused writes", p);
    free(p);
    p = tu_path(dir, "bad.safetensors");
    ima_st_writer *w = ima_st_writer_init();
    ima_st_writer_add(w, "a", IMA_DTYPE_F32, 1, shape, xa);
    ima_st_writer_add(w, "a", IMA_DTYPE_F32, 1, shape, xa);
    CHECK(ima_st_writer_write(w, p) == IMA_ERR && has("added twice"), "safetensors duplicate: %s", ima_last_error());
    ima_st_writer_free(w);
    w = ima_st_writer_init();
    ima_st_writer_add(w, "b", (ima_dtype)-1, 1, shape, xa);
    CHECK(ima_st_writer_write(w, p) == IMA_ERR && has("dtype -1"), "safetensors dtype -1: %s", ima_last_error());
    ima_st_writer_free(w);
    CHECK(stat(p, &st) != 0, "%s exists after refused writes", p);
    free(p);

    /* kernels: a label outside the classes is a NaN row; an MLP of 0 layers is refused */
    float logits[2 * 3] = {0.1f, 0.2f, 0.3f, 1, 2, 3}, probs[6], rows[2], dl[6];
    int64_t lab[2] = {1, 7};
    double L = ima_softmax_xent_forward(rows, probs, logits, lab, 2, 3);
    CHECK(isnan(L) && isfinite(rows[0]) && isnan(rows[1]), "softmax-xent label 7 of 3: L %g", L);
    ima_softmax_xent_backward(dl, probs, lab, 0.5f, 2, 3);
    CHECK(isfinite(dl[0]) && isnan(dl[3]), "softmax-xent backward, label 7 of 3");
    ima_mlp mlp;
    size_t widths[2] = {3, 2};
    CHECK(ima_mlp_setup(&mlp, 0, widths) == 0 && has("0 layers"), "mlp of 0 layers: %s", ima_last_error());
}

/* ---- item 5: the local-ev teacher survives every allocation failing ------------------------------- */

typedef struct {
    ima_model *m;
    const ima_dataset *ds;
    float *target; // (N, M)
} teacher_case;

static int call_teacher(void *vc) {
    teacher_case *c = vc;
    ima_local_ev_report rep;
    return ima_local_ev_targets(c->target, NULL, c->m, c->ds, &rep);
}

static void check_teacher_oom(void) {
    enum { N = 60, DA = 12, DB = 9 };
    ima_config cfg = tu_small_config(DA, DB);
    cfg.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    cfg.local_ev_k = 5;
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &cfg, 8, 1) == IMA_OK, "teacher model: %s", ima_last_error());
    if (!m) return;
    static float xa[N * DA], xb[N * DB], target[N * 2];
    static uint8_t mask[N * 2];
    ima_rng rng;
    ima_rng_init(&rng, 9);
    for (size_t i = 0; i < N; i++) {
        int c = (int)(i % 3);
        for (size_t k = 0; k < DA; k++) xa[i * DA + k] = (float)(c + 0.3 * ima_rng_normal(&rng));
        for (size_t k = 0; k < DB; k++) xb[i * DB + k] = (float)(i % 10 < 2 ? ima_rng_normal(&rng) : c);
        mask[2 * i] = 1, mask[2 * i + 1] = i % 11 != 0;
    }
    ima_dataset ds = {.n = N, .n_modalities = 2, .width = {DA, DB}, .x = {xa, xb}, .mask = mask};
    teacher_case c = {m, &ds, target};
    long n = sweep_allocations("local-ev teacher", call_teacher, &c);
    CHECK(n >= 20, "local-ev teacher: only %ld allocations swept", n);
    ima_model_free(m);
}

/* ---- item 5: `ima repro digits` on a tiny corpus with allocations failing ---------------------------
 * The whole experiment makes thousands of allocations (training, classifiers, figures), too many to
 * fail one at a time in a test: the first `head` (loading the splits, the probe, the first model) fail
 * one by one, then `samples` points spread evenly over the rest (codes, fusions, measures, baselines,
 * figures, the report). Each failing run must return IMA_ERR naming the size, leave no report.md /
 * results.json (they are written together or not at all) and no staged "*.part.*" file. 20 + 16 runs
 * keep the test short; IMA_REPRO_SWEEP=H,S sets them (docs/verification.md reports a 30 + 30 run). */

/* report.md or results.json present, or a staged file left behind */
static int repro_leftovers(const char *out) {
    DIR *d = opendir(out);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".part.") || !strcmp(e->d_name, "report.md") || !strcmp(e->d_name, "results.json");
    closedir(d);
    return n;
}

static void remove_reports(const char *out) {
    char *md = tu_path(out, "report.md"), *js = tu_path(out, "results.json");
    unlink(md), unlink(js);
    free(md), free(js);
}

static void check_repro_oom(const char *dir) {
    char *data = tu_path(dir, "tiny"), *out = tu_path(dir, "tiny_report");
    ima_rng rng;
    ima_rng_init(&rng, 5);
    CHECK(mkdir(data, 0777) == 0 && tu_write_digits_split(data, "train", 80, 0.1, 0, &rng) == 0 &&
              tu_write_digits_split(data, "valid", 40, 0.1, 0, &rng) == 0 && tu_write_digits_split(data, "test", 40, 0.1, 0, &rng) == 0,
          "tiny corpus: %s", ima_last_error());
    ima_repro_config cfg = ima_repro_defaults(1);
    cfg.data_dir = data;
    cfg.out_dir = out;
    cfg.batch = 16;
    cfg.only_latent = 2; /* a 2-D code is its own map: no t-SNE */
    cfg.only_baseline = 1 + IMA_BASELINE_MVAE;
    cfg.epochs1 = 1;
    cfg.epochs2 = 1;
    cfg.baseline_epochs = 1;
    cfg.patience = 1;
    cfg.kl_warmup_epochs = 1;
    cfg.probe_rows = 20;
    cfg.n_rho = 2;
    cfg.tsne_points = 30;
    cfg.classifier_epochs = 1;
    long before = n_allocs;
    int rc = ima_repro_digits(&cfg);
    long total = n_allocs - before;
    CHECK(rc == IMA_OK && repro_leftovers(out) == 2, "tiny repro: %s", ima_last_error());
    int head = 20, samples = 16;
    const char *env = getenv("IMA_REPRO_SWEEP");
    if (env && sscanf(env, "%d,%d", &head, &samples) != 2) head = 20, samples = 16;
    CHECK(total > head + samples, "tiny repro: %ld allocations", total);
    int failed = 0;
    for (int s = 0; s < head + samples && !failed; s++) {
        long k = s < head ? s : head + (long)(s - head) * (total - head) / samples;
        remove_reports(out);
        ima_clear_error();
        long inj = n_injected;
        fail_at = k;
        rc = ima_repro_digits(&cfg);
        fail_at = -1;
        if (n_injected == inj) continue; /* this run made fewer allocations (a gnuplot-less machine) */
        if (rc != IMA_ERR || !has("out of memory") || repro_leftovers(out)) {
            CHECK(0, "repro digits, allocation %ld of %ld failing: rc %d, %d report files left, \"%s\"", k, total, rc,
                  repro_leftovers(out), ima_last_error());
            failed = 1;
        }
    }
    remove_reports(out);
    fprintf(stderr, "reliability: repro digits on a tiny corpus: %ld allocations, %d + %d of them failed in turn\n",
            total, head, samples);
    free(data), free(out);
}

/* A folder for the sweeps that write files: on tmpfs (/dev/shm) when there is one, where fsync costs
 * nothing (the atomic writers fsync every file, and a sweep writes them hundreds of times). */
static char *sweep_dir(void) {
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        char *p = strdup("/dev/shm/ima_reliability_XXXXXX");
        if (p && mkdtemp(p)) return p;
        free(p);
    }
    return tu_tmpdir();
}

int main(void) {
    char *dir = tu_tmpdir(), *fast = sweep_dir();
    check_dataset_overflow(dir);
    check_header_bounds(dir);
    check_no_abort_on_oom();
    check_caller_contracts(dir);
    check_teacher_oom();
    check_repro_oom(fast);
    check_eval_oom();
    check_emotion_oom(fast);
    check_digits_oom(fast);
    check_checkpoint_fields(dir);
    check_resume_exact(dir);
    check_gzip_trailer(dir);
    check_fifo(dir);
    check_band_limit();
    tu_remove_dir(dir);
    nftw(fast, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    free(fast);
    return tu_finish("reliability");
}
