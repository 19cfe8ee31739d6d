/* emotion.h (repro): `ima repro emotion`, the paper's IEMOCAP experiment end to end (SPEC section 9)
 * on the MELD analogue or the real IEMOCAP release. Application code of the ima executable. */
#ifndef IMA_REPRO_EMOTION_H
#define IMA_REPRO_EMOTION_H

#include <stddef.h>
#include <stdint.h>

#include "ima/emotion.h"

/* values of emo_repro_config.importance_objective (the first two as ima_importance_objective) */
enum { EMO_OBJECTIVE_PAPER = 0, EMO_OBJECTIVE_LOCAL_EV = 1, EMO_OBJECTIVE_AUTO = 2 };

typedef struct {
    const char *data_dir;     // a corpus folder written by `ima data emotion` (or NULL: build one)
    const char *meld_dir;     // MELD csv folder (or NULL)
    const char *iemocap_dir;  // IEMOCAP release root (or NULL)
    const int *iemocap_split; // (5) per-session split, NULL: the default
    const char *glove_path;   // GloVe text file
    const char *lexicon_path; // Empath categories.tsv
    const char *out_dir;      // report.md, results.json, figures
    const char *command_line; // recorded in the report
    int quick;                // a subsample and short training
    uint64_t seed;
    size_t limit_per_split;          // utterances per split (0: all)
    size_t max_pairs_per_utt;        // cap on the N^2 training pairs of one utterance (0: all)
    int epochs1, epochs2;            // IMA stage-1 / stage-2 epochs
    int baseline_epochs;             // MVAE and JMVAE-KL epochs
    size_t batch;                    // batch rows (256)
    double lr;                       // Adam learning rate (1e-3)
    float rho_words, rho_acoustic;   // importance priors (0.03, 0.7)
    float lambda_corr, lambda_local; // stage-2 weights (1, 1)
    int n_rho;             // rho sweep points (7: 0.01 0.03 0.1 0.3 0.5 0.7 0.9; else evenly in [0.03, 0.9]; 0 skips)
    int sweep_epochs;      // stage-2 epochs of each sweep point
    size_t sweep_pairs;    // the sweep trains on a random subset of at most this many pairs (0: all)
    int classifier_epochs; // MLP epochs per learning rate
    size_t tsne_points;    // tokens in each t-SNE map
    int with_baselines;
    int importance_objective; // the main IMA rows: EMO_OBJECTIVE_PAPER, _LOCAL_EV or _AUTO (the paper's unless
                              // local-ev has the higher validation accuracy of the weighted multimodal MLP)
    size_t local_ev_rows;     // local-ev stage 2 (beyond the paper): training pairs subsampled for its targets
                              // and its training (0 skips local-ev)
    int local_ev_epochs;      // local-ev stage-2 epochs over that subsample
    size_t local_ev_k;        // local-ev neighbours
    int skip_missing_alignment; // IEMOCAP: see ima_emo_build_config
    int threads;                // the MELD corpus builder's workers (0: IMA_EMO_DEFAULT_THREADS)
} emo_repro_config;

emo_repro_config emo_repro_defaults(int quick);
int emo_repro_run(const emo_repro_config *cfg);

#endif
