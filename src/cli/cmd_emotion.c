/* cmd_emotion.c: `ima data emotion` (build the emotion corpus folder) and `ima repro emotion` (the
 * paper's IEMOCAP experiment end to end). See docs/emotion.md. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/emotion.h"
#include "repro/emotion.h"

/* "ttttv": one letter per session, t(rain) v(alid) e (test) or - (left out) */
static int parse_split(const char *cmd, const char *val, int out[5]) {
    if (strlen(val) != 5) goto bad;
    for (int k = 0; k < 5; k++) {
        switch (val[k]) {
        case 't': out[k] = IMA_EMO_TRAIN; break;
        case 'v': out[k] = IMA_EMO_VALID; break;
        case 'e': out[k] = IMA_EMO_TEST; break;
        case '-': out[k] = -1; break;
        default: goto bad;
        }
    }
    return 0;
bad:
    fprintf(stderr, "ima %s: --split: expected five letters from t, v, e, - (sessions 1-5: train, valid, test, left out), got '%s'\n",
            cmd, val);
    return -1;
}

/* GloVe and Empath paths beside a MELD folder of the shared data (../shared/data/meld -> ../shared/data/glove) */
static void sibling(char *out, size_t cap, const char *dir, const char *rel) {
    snprintf(out, cap, "%s/../%s", dir, rel);
}

static void data_usage(FILE *out) {
    fprintf(out,
            "usage: ima data emotion (--meld DIR | --iemocap DIR) [options]\n\n"
            "Builds the emotion corpus of the paper's IEMOCAP experiment (docs/emotion.md): words (GloVe 100-d),\n"
            "word-level acoustic vectors (%d features, an open stand-in for COVAREP), N^2 pairs per utterance.\n\n"
            "  --meld DIR            MELD's {train,dev,test}_sent_emo.csv: the open analogue, each utterance spoken\n"
            "                        by libespeak-ng (the acoustic modality is synthesized)\n"
            "  --iemocap DIR         the IEMOCAP release (Session1..Session5)\n"
            "  --glove PATH          GloVe 100-d text file, .gz or plain (default with --meld: DIR/../glove/\n"
            "                        glove.6B.100d.subset.txt.gz)\n"
            "  --out DIR             corpus folder (default data/emotion-meld or data/emotion-iemocap)\n"
            "  --force               replace an existing corpus folder\n"
            "  --min-count N         vocabulary: words seen at least N times in training transcripts (5)\n"
            "  --limit N             at most N utterances per split (0 = all)\n"
            "  --seed S              voices and prosody noise (MELD), subsampling (1)\n"
            "  --split XXXXX         IEMOCAP sessions 1-5: t train, v valid, e test, - left out (ttttv)\n"
            "  --skip-missing-alignment   IEMOCAP: skip (and count) labelled turns without a .wdseg\n",
            IMA_EMO_ACOUSTIC_DIM);
}

int cmd_data_emotion(int argc, char **argv) {
    const char *C = "data emotion", *meld = NULL, *iem = NULL, *glove = NULL, *out = NULL;
    ima_emo_build_config cfg = ima_emo_build_defaults();
    int force = 0, split[5], have_split = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            data_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) { force = 1; continue; }
        if (!strcmp(a, "--skip-missing-alignment")) { cfg.skip_missing_alignment = 1; continue; }
        const char *flags[] = {"--meld", "--iemocap", "--glove", "--out", "--min-count", "--limit", "--seed", "--split", NULL};
        int known = 0;
        for (int k = 0; flags[k]; k++) known |= arg_is(a, flags[k]);
        if (!known) return arg_unknown(C, a);
        if (!(val = arg_value(C, argc, argv, &i))) return 2;
        if (arg_is(a, "--meld")) meld = val;
        else if (arg_is(a, "--iemocap")) iem = val;
        else if (arg_is(a, "--glove")) glove = val;
        else if (arg_is(a, "--out")) out = val;
        else if (arg_is(a, "--min-count")) { if (arg_long(C, a, val, 1, 1000000, &v)) return 2; cfg.min_count = (int)v; }
        else if (arg_is(a, "--limit")) { if (arg_long(C, a, val, 0, 100000000, &v)) return 2; cfg.limit_per_split = (size_t)v; }
        else if (arg_is(a, "--seed")) { if (arg_u64(C, a, val, &cfg.seed)) return 2; }
        else if (arg_is(a, "--split")) { if (parse_split(C, val, split)) return 2; have_split = 1; }
    }
    if (!meld == !iem) {
        fprintf(stderr, "ima %s: give exactly one of --meld DIR and --iemocap DIR (see --help)\n", C);
        return 2;
    }
    char gbuf[4096];
    if (!glove) {
        if (!meld) {
            fprintf(stderr, "ima %s: --glove PATH is required with --iemocap\n", C);
            return 2;
        }
        sibling(gbuf, sizeof gbuf, meld, "glove/glove.6B.100d.subset.txt.gz");
        glove = gbuf;
    }
    if (!out) out = meld ? "data/emotion-meld" : "data/emotion-iemocap";
    cfg.glove_path = glove;
    ima_emo_corpus c;
    double t0 = now_seconds();
    int st = meld ? ima_emo_build_meld(&c, meld, &cfg) : ima_emo_build_iemocap(&c, iem, have_split ? split : NULL, &cfg);
    if (st) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        return 1;
    }
    if (ima_emo_corpus_save(&c, out, force)) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        ima_emo_corpus_free(&c);
        return 1;
    }
    fprintf(stderr, "wrote %s (%zu utterances, %zu tokens, vocabulary %zu) in %.1f s\n", out, c.n_utts, c.n_tokens,
            c.vocab_size, now_seconds() - t0);
    ima_emo_corpus_free(&c);
    return 0;
}

/* ---- ima repro emotion ---------------------------------------------------------------------------- */

static void repro_usage(FILE *out) {
    fprintf(out,
            "usage: ima repro emotion (--meld DIR | --iemocap DIR) [options]\n\n"
            "The paper's IEMOCAP experiment (Tables 2 and 6, Figures 3 and 5, the importance F1 and rho sweep) on\n"
            "the MELD analogue (speech synthesized by libespeak-ng) or on the real IEMOCAP release. Builds the corpus\n"
            "in memory, trains IMA, MVAE and JMVAE-KL on the word/acoustic pairs, and writes report.md,\n"
            "results.json and figures (docs/emotion.md).\n\n"
            "  --meld DIR, --iemocap DIR, --split XXXXX, --skip-missing-alignment   as ima data emotion\n"
            "  --data DIR            use a corpus folder written by ima data emotion instead of building one (then\n"
            "                        --meld DIR only locates the GloVe and lexicon defaults)\n"
            "  --glove PATH          (default with --meld: DIR/../glove/glove.6B.100d.subset.txt.gz)\n"
            "  --lexicon PATH        Empath categories.tsv (default with --meld: DIR/../lexicons/empath/categories.tsv)\n"
            "  --out DIR             report folder (default out/repro-emotion)\n"
            "  --quick               a subsample and short training (a few minutes)\n"
            "  --seed S              seed of everything (1)\n"
            "  --threads T           OpenBLAS threads (2)\n"
            "  --limit N             utterances per split (0 = all; quick 1500)\n"
            "  --max-pairs N         at most N training pairs per utterance (0 = all N^2; quick 64)\n"
            "  --epochs1 N, --epochs2 N, --baseline-epochs N   (full 6, 2, 3; quick 2, 1, 1)\n"
            "  --rho-words R, --rho-acoustic R                 importance priors (0.03, 0.7)\n"
            "  --lambda-corr V, --lambda-local V               stage-2 weights (1, 1)\n"
            "  --n-rho N, --sweep-epochs N, --sweep-pairs N    rho sweep: points (7: 0.01 0.03 0.1 0.3 0.5 0.7 0.9;\n"
            "                        else evenly in [0.03, 0.9]; 0 skips), stage-2 epochs, training pairs used\n"
            "                        (full 7, 1, 200000; quick 5, 1, all)\n"
            "  --batch B, --lr LR    (256, 0.001)\n"
            "  --classifier-epochs N, --tsne-points N\n"
            "  --no-baselines        IMA only\n");
}

int cmd_repro_emotion(int argc, char **argv) {
    const char *C = "repro emotion", *glove = NULL, *lex = NULL;
    int quick = 0, split[5], have_split = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) quick = 1;
    emo_repro_config cfg = emo_repro_defaults(quick);
    long v, threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            repro_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--quick")) continue;
        if (!strcmp(a, "--no-baselines")) { cfg.with_baselines = 0; continue; }
        if (!strcmp(a, "--skip-missing-alignment")) { cfg.skip_missing_alignment = 1; continue; }
        const char *flags[] = {"--data", "--meld", "--iemocap", "--split", "--glove", "--lexicon", "--out", "--seed", "--threads",
                               "--limit", "--max-pairs", "--epochs1", "--epochs2", "--baseline-epochs", "--rho-words",
                               "--rho-acoustic", "--lambda-corr", "--lambda-local", "--n-rho", "--sweep-epochs", "--sweep-pairs",
                               "--batch", "--lr", "--classifier-epochs", "--tsne-points", NULL};
        int known = 0;
        for (int k = 0; flags[k]; k++) known |= arg_is(a, flags[k]);
        if (!known) return arg_unknown(C, a);
        if (!(val = arg_value(C, argc, argv, &i))) return 2;
        if (arg_is(a, "--meld")) cfg.meld_dir = val;
        else if (arg_is(a, "--data")) cfg.data_dir = val;
        else if (arg_is(a, "--iemocap")) cfg.iemocap_dir = val;
        else if (arg_is(a, "--split")) { if (parse_split(C, val, split)) return 2; have_split = 1; }
        else if (arg_is(a, "--glove")) glove = val;
        else if (arg_is(a, "--lexicon")) lex = val;
        else if (arg_is(a, "--out")) cfg.out_dir = val;
        else if (arg_is(a, "--seed")) { if (arg_u64(C, a, val, &cfg.seed)) return 2; }
        else if (arg_is(a, "--threads")) { if (arg_long(C, a, val, 1, 256, &threads)) return 2; }
        else if (arg_is(a, "--limit")) { if (arg_long(C, a, val, 0, 100000000, &v)) return 2; cfg.limit_per_split = (size_t)v; }
        else if (arg_is(a, "--max-pairs")) { if (arg_long(C, a, val, 0, 100000000, &v)) return 2; cfg.max_pairs_per_utt = (size_t)v; }
        else if (arg_is(a, "--epochs1")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.epochs1 = (int)v; }
        else if (arg_is(a, "--epochs2")) { if (arg_long(C, a, val, 0, 100000, &v)) return 2; cfg.epochs2 = (int)v; }
        else if (arg_is(a, "--baseline-epochs")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.baseline_epochs = (int)v; }
        else if (arg_is(a, "--rho-words")) { if (arg_float(C, a, val, 1e-3, 0.999, &cfg.rho_words)) return 2; }
        else if (arg_is(a, "--rho-acoustic")) { if (arg_float(C, a, val, 1e-3, 0.999, &cfg.rho_acoustic)) return 2; }
        else if (arg_is(a, "--lambda-corr")) { if (arg_float(C, a, val, 0, 1e9, &cfg.lambda_corr)) return 2; }
        else if (arg_is(a, "--lambda-local")) { if (arg_float(C, a, val, 0, 1e9, &cfg.lambda_local)) return 2; }
        else if (arg_is(a, "--n-rho")) { if (arg_long(C, a, val, 0, 99, &v)) return 2; cfg.n_rho = (int)v; }
        else if (arg_is(a, "--sweep-epochs")) { if (arg_long(C, a, val, 1, 1000, &v)) return 2; cfg.sweep_epochs = (int)v; }
        else if (arg_is(a, "--sweep-pairs")) { if (arg_long(C, a, val, 0, 1000000000, &v)) return 2; cfg.sweep_pairs = (size_t)v; }
        else if (arg_is(a, "--batch")) { if (arg_long(C, a, val, 1, 65536, &v)) return 2; cfg.batch = (size_t)v; }
        else if (arg_is(a, "--lr")) { if (arg_double(C, a, val, 1e-9, 10, &cfg.lr)) return 2; }
        else if (arg_is(a, "--classifier-epochs")) { if (arg_long(C, a, val, 1, 100000, &v)) return 2; cfg.classifier_epochs = (int)v; }
        else if (arg_is(a, "--tsne-points")) { if (arg_long(C, a, val, 10, 1000000, &v)) return 2; cfg.tsne_points = (size_t)v; }
    }
    if ((cfg.meld_dir && cfg.iemocap_dir) || (!cfg.meld_dir && !cfg.iemocap_dir && !cfg.data_dir)) {
        fprintf(stderr, "ima %s: give exactly one of --meld DIR and --iemocap DIR, or --data DIR (see --help)\n", C);
        return 2;
    }
    char gbuf[4096], lbuf[4096];
    if (cfg.data_dir && !lex && !cfg.meld_dir) {
        fprintf(stderr, "ima %s: --lexicon PATH is required with --data (or give --meld DIR for the default)\n", C);
        return 2;
    }
    if ((!glove && !cfg.data_dir) || !lex) {
        if (!cfg.meld_dir) {
            fprintf(stderr, "ima %s: --glove PATH and --lexicon PATH are required with --iemocap\n", C);
            return 2;
        }
        sibling(gbuf, sizeof gbuf, cfg.meld_dir, "glove/glove.6B.100d.subset.txt.gz");
        sibling(lbuf, sizeof lbuf, cfg.meld_dir, "lexicons/empath/categories.tsv");
        if (!glove) glove = gbuf;
        if (!lex) lex = lbuf;
    }
    cfg.glove_path = glove;
    cfg.lexicon_path = lex;
    if (have_split) cfg.iemocap_split = split;
    openblas_set_num_threads((int)threads);
    char cmdline[2048];
    size_t len = 0;
    for (int i = 0; i < argc && len < sizeof cmdline - 2; i++)
        len += (size_t)snprintf(cmdline + len, sizeof cmdline - len, "%s%s", i ? " " : "ima repro ", argv[i]);
    cfg.command_line = cmdline;
    if (emo_repro_run(&cfg)) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        return 1;
    }
    return 0;
}
