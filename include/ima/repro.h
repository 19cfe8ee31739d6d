/* repro.h: the paper's digits experiments end to end (Tables 1 and 5, Figures 2, 4 and 6 of the
 * IMA paper; SPEC sections 3, 5 and 8) on a digits corpus written by `ima data digits`.
 * Application code (src/repro/): built into the ima executable, not into libima; it uses only the
 * library's public API (it never writes a model's internals). */
#ifndef IMA_REPRO_H
#define IMA_REPRO_H

#include <stddef.h>
#include <stdint.h>

struct ima_local_ev_teacher; /* importance.h */

typedef struct {
    const char *data_dir;            // corpus folder with train/ valid/ test/ (built by the caller if absent)
    const char *out_dir;             // report.md, results.json, figures
    const char *command_line;        // recorded in the report
    int quick;                       // smaller splits and shorter training (documented in the report)
    uint64_t seed;                   // every model, classifier and t-SNE seed derives from it
    size_t train_limit;              // use at most this many training pairs (0: all)
    size_t eval_limit;               // use at most this many validation / test pairs (0: all)
    int epochs1, epochs2;            // IMA stage-1 epochs (a cap with patience) / stage-2 epochs
    int rounds;                      // IMA rounds of stage 1 + stage 2 (SPEC section 2; 1); epochs per round
    int baseline_epochs;             // epochs of each baseline (a cap with patience)
    int patience;                    // early stopping of IMA stage 1 and every baseline on the validation loss
                                     // (epochs without improvement; 0: off, the caps are epoch counts)
    int kl_warmup_epochs;            // MVAE / JMVAE-KL: linear KL warm-up over this many epochs (0: none)
    float jmvae_alpha;               // JMVAE-KL: weight of the unimodal KL terms (1, the authors' script)
    size_t probe_rows;               // validation rows of the per-epoch P@10 probe (a fixed seeded subsample)
    size_t batch;                    // batch size of every model (256)
    double lr;                       // Adam learning rate of every model (1e-3)
    float rho_image, rho_speech;     // importance priors of the main models (SPEC: 0.8 / 0.3)
    float lambda_corr, lambda_local; // stage-2 weights of the main models (1, 1)
    int n_rho;                       // points of the rho sweep in [0.05, 0.95]
    size_t tsne_points;              // test points in each t-SNE map
    int classifier_epochs;           // epochs of the downstream MLP per learning rate
    int with_baselines;              // train MVAE, JMVAE-KL and the denoising AE too
    int with_ima;                    // train and report IMA (1); 0: the baselines only (no rho sweep, no maps)
    size_t only_latent;              // 0: latent widths 2 and 50; 2 or 50: that width only
    int only_baseline;               // 0: every baseline; 1 + ima_baseline_kind: that one only
    int importance_objective;        // ima_importance_objective of the main models (local-ev, beyond the paper)
    float fusion_sharpness;          // IMA fusion weight sigmoid(k logit y); 1: the paper's w = y (1)
    int compare_objectives;          // also retrain stage 2 with the other objective on the same stage-1 models (1)
    int reuse_seeds;                 // --seeds: a seed whose OUT/seed-S/results.json exists is not rerun (0)
    double seeds_wall_seconds;       // --seeds run as processes: their wall time, recorded in the summary (0: none)
    int seeds_jobs;                  // --seeds run as processes: how many at once (0: in this process)
    struct ima_local_ev_teacher *teacher; // the local-ev teacher kept between runs (NULL: one per run): reused
                                          // when built from the same training split, rebuilt otherwise
} ima_repro_config;

ima_repro_config ima_repro_defaults(int quick);
/* Runs everything; progress lines on stderr. Errors name the file or step. */
int ima_repro_digits(const ima_repro_config *cfg);
/* Runs ima_repro_digits once per seed into OUT/seed-S (the rho sweep only for the first seed), then
 * writes OUT/report.md (mean and sd over the seeds of every number of Tables 1 and 5 and of the
 * detection table) and OUT/results.json (the summary and every seed's results). */
int ima_repro_digits_seeds(const ima_repro_config *cfg, const uint64_t *seeds, int n_seeds);

#endif
