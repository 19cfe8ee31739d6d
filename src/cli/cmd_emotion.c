/* cmd_emotion.c: `ima data emotion` (build the emotion corpus folder) and `ima repro emotion` (the
 * paper's IEMOCAP experiment end to end). See docs/emotion.md. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/commands.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/emotion.h"
#include "repro/emotion.h"

/* --split "ttttv": one letter per session, t(rain) v(alid) e (test) or - (left out) */
typedef struct {
    int given;
    int v[5];
} session_split;

static int parse_split(const char *cmd, const flag_spec *f, const char *val, void *target) {
    session_split *sp = target;
    if (strlen(val) != 5) goto bad;
    for (int k = 0; k < 5; k++) {
        switch (val[k]) {
        case 't': sp->v[k] = IMA_EMO_TRAIN; break;
        case 'v': sp->v[k] = IMA_EMO_VALID; break;
        case 'e': sp->v[k] = IMA_EMO_TEST; break;
        case '-': sp->v[k] = -1; break;
        default: goto bad;
        }
    }
    sp->given = 1;
    return 0;
bad:
    fprintf(
        stderr,
        "ima %s: %s: expected five letters from t, v, e, - (sessions 1-5: train, valid, test, left out), got '%s'\n",
        cmd, f->name, val);
    return -1;
}

/* GloVe and Empath paths beside a MELD folder of the shared data (../shared/data/meld -> ../shared/data/glove) */
static void sibling(char *out, size_t cap, const char *dir, const char *rel) {
    snprintf(out, cap, "%s/../%s", dir, rel);
}

typedef struct {
    const char *meld, *iemocap, *out;
    int force;
    session_split split;
    ima_emo_build_config cfg; // ima_emo_build_defaults()
} data_opts;

/* the IEMOCAP rows both commands take (O() is each table's own offsetof) */
#define IEMOCAP_FLAG_ROWS                                                                                              \
    {.name = "--split",                                                                                                \
     .type = FLAG_CUSTOM,                                                                                              \
     .off = O(split),                                                                                                  \
     .arg = "XXXXX",                                                                                                   \
     .parse = parse_split,                                                                                             \
     .help = "IEMOCAP sessions 1-5: t train, v valid, e test, - left out (ttttv)"},                                    \
        FLAG_ROW("--skip-missing-alignment", FLAG_SET, O(cfg.skip_missing_alignment), 1, 0, NULL,                      \
                 "IEMOCAP: skip (and count) labelled turns without a .wdseg", 0)

#define O(field) offsetof(data_opts, field)
static const flag_spec DATA_FLAGS[] = {
    FLAG_ROW("--meld", FLAG_STR, O(meld), 0, 0, "DIR",
             "MELD's {train,dev,test}_sent_emo.csv: the open analogue, each utterance spoken\n"
             "                             by libespeak-ng (the acoustic modality is synthesized)",
             0),
    FLAG_ROW("--iemocap", FLAG_STR, O(iemocap), 0, 0, "DIR", "the IEMOCAP release (Session1..Session5)", 0),
    FLAG_ROW("--glove", FLAG_STR, O(cfg.glove_path), 0, 0, "PATH",
             "GloVe 100-d text file, .gz or plain (default with --meld: DIR/../glove/\n"
             "                             glove.6B.100d.subset.txt.gz)",
             0),
    FLAG_ROW("--out", FLAG_STR, O(out), 0, 0, "DIR",
             "corpus folder (default data/emotion-meld or data/emotion-iemocap)", 0),
    FLAG_ROW("--force", FLAG_SET, O(force), 1, 0, NULL, "replace an existing corpus folder", 0),
    FLAG_ROW("--min-count", FLAG_INT, O(cfg.min_count), 1, 1000000, "N",
             "vocabulary: words seen at least N times in training transcripts", 0),
    FLAG_ROW("--limit", FLAG_SIZE, O(cfg.limit_per_split), 0, 100000000, "N",
             "at most N utterances per split (0 = all)", 0),
    FLAG_ROW("--seed", FLAG_U64, O(cfg.seed), 0, 0, "S", "voices and prosody noise (MELD), subsampling", 0),
    FLAG_ROW("--threads", FLAG_INT, O(cfg.threads), 1, IMA_EMO_MAX_THREADS, "T",
             "MELD: threads that resample and analyse the speech (espeak speaks one utterance\n"
             "                             at a time; the corpus is the same for any T)",
             0),
    IEMOCAP_FLAG_ROWS,
    FLAG_END,
};
#undef O
static const flag_cmd DATA = {.cmd = "data emotion", .flags = DATA_FLAGS};

static void data_usage(FILE *out) {
    fprintf(out,
            "usage: ima data emotion (--meld DIR | --iemocap DIR) [options]\n\n"
            "Builds the emotion corpus of the paper's IEMOCAP experiment (docs/emotion.md): words (GloVe 100-d),\n"
            "word-level acoustic vectors (%d features, an open stand-in for COVAREP), N^2 pairs per utterance.\n\n",
            IMA_EMO_ACOUSTIC_DIM);
    data_opts d = {.cfg = ima_emo_build_defaults()};
    flags_help(out, &DATA, &d, 0);
}

int cmd_data_emotion(int argc, char **argv) {
    const char *C = DATA.cmd;
    data_opts o = {.cfg = ima_emo_build_defaults()};
    o.cfg.threads = IMA_EMO_DEFAULT_THREADS;
    flag_seen seen;
    int rc = flags_parse(&DATA, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return data_usage(stdout), 0;
    if (rc) return rc;
    if (!o.meld == !o.iemocap) {
        fprintf(stderr, "ima %s: give exactly one of --meld DIR and --iemocap DIR (see --help)\n", C);
        return 2;
    }
    char gbuf[4096];
    if (!o.cfg.glove_path) {
        if (!o.meld) {
            fprintf(stderr, "ima %s: --glove PATH is required with --iemocap\n", C);
            return 2;
        }
        sibling(gbuf, sizeof gbuf, o.meld, "glove/glove.6B.100d.subset.txt.gz");
        o.cfg.glove_path = gbuf;
    }
    if (!o.out) o.out = o.meld ? "data/emotion-meld" : "data/emotion-iemocap";
    ima_emo_corpus c;
    double t0 = ima_wall_seconds();
    int st = o.meld ? ima_emo_build_meld(&c, o.meld, &o.cfg)
                    : ima_emo_build_iemocap(&c, o.iemocap, o.split.given ? o.split.v : NULL, &o.cfg);
    if (st) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        return 1;
    }
    if (ima_emo_corpus_save(&c, o.out, o.force)) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        ima_emo_corpus_free(&c);
        return 1;
    }
    fprintf(stderr, "wrote %s (%zu utterances, %zu tokens, vocabulary %zu) in %.1f s\n", o.out, c.n_utts, c.n_tokens,
            c.vocab_size, ima_wall_seconds() - t0);
    ima_emo_corpus_free(&c);
    return 0;
}

/* ---- ima repro emotion ---------------------------------------------------------------------------- */

typedef struct {
    emo_repro_config cfg; // emo_repro_defaults(quick)
    session_split split;
    int quick, threads;
} repro_opts;

/* in EMO_OBJECTIVE_* order */
static const char *const OBJECTIVE_CHOICES[] = {"paper", "local-ev", "auto", NULL};

#define O(field) offsetof(repro_opts, field)
static const flag_spec REPRO_FLAGS[] = {
    FLAG_ROW("--data", FLAG_STR, O(cfg.data_dir), 0, 0, "DIR",
             "a corpus folder written by ima data emotion, instead of building one (then\n"
             "                             --meld DIR only locates the GloVe and lexicon defaults)",
             0),
    FLAG_ROW("--meld", FLAG_STR, O(cfg.meld_dir), 0, 0, "DIR",
             "MELD's csv folder: the open analogue (as ima data emotion)", 0),
    FLAG_ROW("--iemocap", FLAG_STR, O(cfg.iemocap_dir), 0, 0, "DIR", "the IEMOCAP release (Session1..Session5)", 0),
    IEMOCAP_FLAG_ROWS,
    FLAG_ROW("--glove", FLAG_STR, O(cfg.glove_path), 0, 0, "PATH",
             "GloVe 100-d (default with --meld: DIR/../glove/glove.6B.100d.subset.txt.gz)", 0),
    FLAG_ROW("--lexicon", FLAG_STR, O(cfg.lexicon_path), 0, 0, "PATH",
             "Empath categories.tsv (default with --meld: DIR/../lexicons/empath/categories.tsv)", 0),
    FLAG_ROW("--out", FLAG_STR, O(cfg.out_dir), 0, 0, "DIR", "report folder", 0),
    FLAG_ROW("--quick", FLAG_SET, O(quick), 1, 0, NULL, "a first look: a subsample and short training (see the end;\n"
             "                             about a fifth of the full run's CPU time)", 0),
    FLAG_ROW("--seed", FLAG_U64, O(cfg.seed), 0, 0, "S", "seed of everything", 0),
    FLAG_ROW("--threads", FLAG_INT, O(threads), 1, IMA_EMO_MAX_THREADS, "T",
             "OpenBLAS threads, and the MELD corpus builder's (its results do not depend on T)", 0),
    FLAG_ROW("--limit", FLAG_SIZE, O(cfg.limit_per_split), 0, 100000000, "N", "utterances per split (0 = all)", 0),
    FLAG_ROW("--max-pairs", FLAG_SIZE, O(cfg.max_pairs_per_utt), 0, 100000000, "N",
             "at most N training pairs per utterance (0 = all N^2)", 0),
    FLAG_ROW("--epochs1", FLAG_INT, O(cfg.epochs1), 1, 100000, "N", "IMA stage-1 epochs", 0),
    FLAG_ROW("--epochs2", FLAG_INT, O(cfg.epochs2), 0, 100000, "N", "IMA stage-2 epochs", 0),
    FLAG_ROW("--baseline-epochs", FLAG_INT, O(cfg.baseline_epochs), 1, 100000, "N", "MVAE and JMVAE-KL epochs", 0),
    FLAG_ROW("--rho-words", FLAG_FLOAT, O(cfg.rho_words), 1e-3, 0.999, "R", "importance prior of the words", 0),
    FLAG_ROW("--rho-acoustic", FLAG_FLOAT, O(cfg.rho_acoustic), 1e-3, 0.999, "R", "importance prior of the acoustics",
             0),
    FLAG_ROW("--lambda-corr", FLAG_FLOAT, O(cfg.lambda_corr), 0, 1e9, "V", "stage-2 weight of ||C_j||_F^2", 0),
    FLAG_ROW("--lambda-local", FLAG_FLOAT, O(cfg.lambda_local), 0, 1e9, "V", "stage-2 weight of the Bernoulli KL", 0),
    FLAG_ROW("--n-rho", FLAG_INT, O(cfg.n_rho), 0, 99, "N",
             "rho sweep points (7: 0.01 0.03 0.1 0.3 0.5 0.7 0.9; else evenly in [0.03, 0.9];\n"
             "                             0 skips it)",
             0),
    FLAG_ROW("--sweep-epochs", FLAG_INT, O(cfg.sweep_epochs), 1, 1000, "N", "stage-2 epochs of each sweep point", 0),
    FLAG_ROW("--sweep-pairs", FLAG_SIZE, O(cfg.sweep_pairs), 0, 1000000000, "N",
             "the sweep trains on a random subset of at most N training pairs (0 = all)", 0),
    FLAG_ROW("--batch", FLAG_SIZE, O(cfg.batch), 1, 65536, "B", "batch rows", 0),
    FLAG_ROW("--lr", FLAG_DOUBLE, O(cfg.lr), 1e-9, 10, "LR", "Adam learning rate", 0),
    FLAG_ROW("--classifier-epochs", FLAG_INT, O(cfg.classifier_epochs), 1, 100000, "N", "MLP epochs per learning rate",
             0),
    FLAG_ROW("--tsne-points", FLAG_SIZE, O(cfg.tsne_points), 10, 1000000, "N", "tokens in each t-SNE map", 0),
    FLAG_ROW("--no-baselines", FLAG_SET, O(cfg.with_baselines), 0, 0, NULL, "IMA only", 0),
    {.name = "--importance-objective",
     .type = FLAG_CHOICE,
     .off = O(cfg.importance_objective),
     .arg = "paper|local-ev|auto",
     .choices = OBJECTIVE_CHOICES,
     .help = "stage-2 objective of the main IMA rows; both run, the other gets its own rows\n"
             "                             (local-ev: beyond the paper, docs/importance.md; auto: the paper's unless\n"
             "                             local-ev has the higher validation accuracy of the weighted multimodal MLP)"},
    FLAG_ROW("--local-ev-rows", FLAG_SIZE, O(cfg.local_ev_rows), 0, 100000000, "N",
             "local-ev: training pairs subsampled (spread over the utterances) for its targets\n"
             "                             and its stage 2 (0 skips local-ev)",
             0),
    FLAG_ROW("--local-ev-epochs", FLAG_INT, O(cfg.local_ev_epochs), 1, 100000, "N",
             "local-ev stage-2 epochs over that subsample", 0),
    FLAG_ROW("--local-ev-k", FLAG_SIZE, O(cfg.local_ev_k), 2, 100000, "K", "local-ev neighbours", 0),
    FLAG_END,
};
#undef O
static const flag_cmd REPRO = {.cmd = "repro emotion", .flags = REPRO_FLAGS};

static repro_opts repro_defaults(int quick) {
    repro_opts o = {.cfg = emo_repro_defaults(quick), .quick = quick, .threads = 2};
    return o;
}

static void repro_usage(FILE *out) {
    fprintf(
        out,
        "usage: ima repro emotion (--meld DIR | --iemocap DIR | --data DIR) [options]\n\n"
        "The paper's IEMOCAP experiment (Tables 2 and 6, Figures 3 and 5, the importance F1 and rho sweep) on\n"
        "the MELD analogue (speech synthesized by libespeak-ng) or on the real IEMOCAP release. Builds the corpus\n"
        "in memory, trains IMA, MVAE and JMVAE-KL on the word/acoustic pairs, and writes report.md,\n"
        "results.json and figures (docs/emotion.md). Defaults in parentheses (--quick changes some: see the end).\n\n");
    repro_opts d = repro_defaults(0), q = repro_defaults(1);
    flags_help(out, &REPRO, &d, 0);
    fprintf(out,
            "\n--quick (a first look, not the report's numbers): --limit %zu, --max-pairs %zu, --epochs1 %d, --epochs2 "
            "%d,\n--baseline-epochs %d, --n-rho %d, --sweep-pairs %zu, --local-ev-rows %zu, --local-ev-epochs %d,\n"
            "--classifier-epochs %d, --tsne-points %zu. Every run builds its corpus afresh (no cache); `ima data\n"
            "emotion` writes one that --data DIR reads, for repeated experiments.\n",
            q.cfg.limit_per_split, q.cfg.max_pairs_per_utt, q.cfg.epochs1, q.cfg.epochs2, q.cfg.baseline_epochs,
            q.cfg.n_rho, q.cfg.sweep_pairs, q.cfg.local_ev_rows, q.cfg.local_ev_epochs, q.cfg.classifier_epochs,
            q.cfg.tsne_points);
}

/* GloVe and Empath beside a MELD folder; required with --iemocap (with --data only the lexicon is needed) */
static int resource_paths(emo_repro_config *cfg, char *gbuf, char *lbuf, size_t cap) {
    if ((cfg->glove_path || cfg->data_dir) && cfg->lexicon_path) return 0;
    if (!cfg->meld_dir) {
        fprintf(stderr, "ima %s: %s\n", REPRO.cmd,
                cfg->data_dir ? "--lexicon PATH is required with --data (or --meld DIR for the default)"
                              : "--glove PATH and --lexicon PATH are required with --iemocap");
        return -1;
    }
    sibling(gbuf, cap, cfg->meld_dir, "glove/glove.6B.100d.subset.txt.gz");
    sibling(lbuf, cap, cfg->meld_dir, "lexicons/empath/categories.tsv");
    if (!cfg->glove_path) cfg->glove_path = gbuf;
    if (!cfg->lexicon_path) cfg->lexicon_path = lbuf;
    return 0;
}

int cmd_repro_emotion(int argc, char **argv) {
    const char *C = REPRO.cmd;
    int quick = 0; /* --quick changes the defaults the other flags start from */
    for (int i = 1; i < argc; i++) quick |= !strcmp(argv[i], "--quick");
    repro_opts o = repro_defaults(quick);
    flag_seen seen;
    int rc = flags_parse(&REPRO, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return repro_usage(stdout), 0;
    if (rc) return rc;
    if ((o.cfg.meld_dir && o.cfg.iemocap_dir) || (!o.cfg.meld_dir && !o.cfg.iemocap_dir && !o.cfg.data_dir)) {
        fprintf(stderr, "ima %s: give exactly one of --meld DIR and --iemocap DIR, or --data DIR (see --help)\n", C);
        return 2;
    }
    if (o.cfg.importance_objective == EMO_OBJECTIVE_LOCAL_EV && o.cfg.local_ev_rows == 0) {
        fprintf(stderr, "ima %s: --importance-objective local-ev needs --local-ev-rows > 0\n", C);
        return 2;
    }
    char gbuf[4096], lbuf[4096];
    if (resource_paths(&o.cfg, gbuf, lbuf, sizeof gbuf)) return 2;
    if (o.split.given) o.cfg.iemocap_split = o.split.v;
    openblas_set_num_threads(o.threads);
    o.cfg.threads = o.threads;
    char cmdline[2048];
    size_t len = 0;
    for (int i = 0; i < argc && len < sizeof cmdline - 2; i++)
        len += (size_t)snprintf(cmdline + len, sizeof cmdline - len, "%s%s", i ? " " : "ima repro ", argv[i]);
    o.cfg.command_line = cmdline;
    if (emo_repro_run(&o.cfg)) {
        fprintf(stderr, "ima %s: %s\n", C, ima_last_error());
        return 1;
    }
    return 0;
}
