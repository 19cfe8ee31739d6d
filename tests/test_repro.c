/* test_repro.c: `ima repro digits` end to end on a tiny synthetic corpus of the digits shapes
 * (784-wide images, 696-wide speech, labels, noise flags, recording ids), with one epoch of
 * everything: the report and results.json must be complete and every number in range. */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "ima/npy.h"
#include "ima/repro.h"
#include "ima/rng.h"
#include "testutil.h"

/* the whole file, NUL-terminated (the reports are text) */
static char *slurp(const char *path) {
    size_t n = 0;
    unsigned char *b = tu_read_file(path, &n);
    if (!b) return NULL;
    char *t = realloc(b, n + 1);
    t[n] = '\0';
    return t;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int in_unit(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1;
}

int main(void) {
    char *dir = tu_tmpdir(), *data = tu_path(dir, "corpus"), *out = tu_path(dir, "report");
    ima_rng rng;
    ima_rng_init(&rng, 5);
    CHECK(mkdir(data, 0777) == 0, "mkdir %s", data);
    CHECK(tu_write_digits_split(data, "train", 400, 0.09, 1, &rng) == 0 && tu_write_digits_split(data, "valid", 150, 0.09, 1, &rng) == 0 &&
              tu_write_digits_split(data, "test", 150, 0.09, 1, &rng) == 0,
          "writing the corpus: %s", ima_last_error());

    ima_repro_config cfg = ima_repro_defaults(1);
    cfg.data_dir = data;
    cfg.out_dir = out;
    cfg.batch = 64;
    cfg.epochs1 = 2;
    cfg.epochs2 = 1;
    cfg.baseline_epochs = 3;
    cfg.patience = 1;
    cfg.kl_warmup_epochs = 1;
    cfg.probe_rows = 100;
    cfg.n_rho = 2;
    cfg.tsne_points = 80;
    cfg.classifier_epochs = 1;
    int rc = ima_repro_digits(&cfg);
    CHECK(rc == 0, "repro failed: %s", ima_last_error());

    char *md_path = tu_path(out, "report.md"), *js_path = tu_path(out, "results.json");
    char *md = slurp(md_path), *js = slurp(js_path);
    CHECK(md != NULL, "no report.md");
    CHECK(js != NULL, "no results.json");
    if (md) {
        const char *sections[] = {"## Table 1 analogue",
                                  "## Table 5 analogue",
                                  "## Importance detection",
                                  "## Figure 6 analogue",
                                  "| IMA weighted z | 50 |",
                                  "| JMVAE-KL multimodal | 2 |",
                                  "| DAE speech | 50 |",
                                  "0.9489",
                                  "| IMA weighted z, paper's objective | 50 |",
                                  "local-ev objective (beyond the paper)",
                                  "## Training length",
                                  "| MVAE | 50 | 3 | 1 |",
                                  "fig_learning_JMVAE_KL_2d.png",
                                  "fig_learning_IMA_stage_1_50d.png"};
        for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++)
            CHECK(strstr(md, sections[k]) != NULL, "report.md lacks '%s'", sections[k]);
    }
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    CHECK(root != NULL, "results.json does not parse");
    if (root) {
        const cJSON *reps = cJSON_GetObjectItemCaseSensitive(root, "representations");
        /* IMA: 6 representations + the paper's objective's weighted z per latent; baselines: 3 models x 3 views */
        CHECK(cJSON_GetArraySize(reps) == 2 * 7 + 2 * 9, "%d representations, expected 32", cJSON_GetArraySize(reps));
        const cJSON *r;
        int bad = 0;
        cJSON_ArrayForEach(r, reps) bad +=
            !(in_unit(r, "p10") && in_unit(r, "p50") && in_unit(r, "p10_image_noise_queries"));
        CHECK(bad == 0, "%d representations with a P@K outside [0, 1]", bad);
        cJSON_ArrayForEach(r, reps) {
            const cJSON *acc = cJSON_GetObjectItemCaseSensitive(r, "accuracy");
            bad += !(cJSON_IsNumber(acc) && acc->valuedouble >= 0 && acc->valuedouble <= 100);
        }
        CHECK(bad == 0, "accuracies outside [0, 100]");
        const cJSON *imp = cJSON_GetObjectItemCaseSensitive(root, "importance");
        /* per latent: the local-ev objective (main) and the paper's, side by side */
        CHECK(cJSON_GetArraySize(imp) == 4, "importance entries: %d", cJSON_GetArraySize(imp));
        const cJSON *first = cJSON_GetArrayItem(imp, 0);
        const cJSON *img = cJSON_GetObjectItemCaseSensitive(first, "image");
        CHECK(in_unit(img, "f1") && in_unit(img, "auc") && in_unit(img, "mean_y"), "image detection fields");
        const cJSON *n_noise = cJSON_GetObjectItemCaseSensitive(img, "n_noise");
        CHECK(cJSON_IsNumber(n_noise) && n_noise->valuedouble > 0, "no image noise counted in the test split");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "rho_sweep")) == 2, "rho sweep entries");
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(root, "settings");
        const cJSON *ntr = cJSON_GetObjectItemCaseSensitive(set, "n_train");
        CHECK(cJSON_IsNumber(ntr) && ntr->valuedouble == 400, "n_train recorded");
        /* learning curves: IMA stage 1 per latent, then the three baselines per latent */
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "training");
        CHECK(cJSON_GetArraySize(tr) == 2 + 6, "training entries: %d, expected 8", cJSON_GetArraySize(tr));
        cJSON_ArrayForEach(r, tr) {
            double run = cJSON_GetObjectItemCaseSensitive(r, "epochs_run")->valuedouble,
                   best = cJSON_GetObjectItemCaseSensitive(r, "best_epoch")->valuedouble;
            const cJSON *cu = cJSON_GetObjectItemCaseSensitive(r, "curve");
            const cJSON *vl = cJSON_GetObjectItemCaseSensitive(cu, "valid_loss"),
                        *vp = cJSON_GetObjectItemCaseSensitive(cu, "valid_p10");
            int ok = run >= 1 && best >= 1 && best <= run && cJSON_GetArraySize(vl) == (int)run &&
                     cJSON_GetArraySize(vp) == (int)run;
            const cJSON *x;
            cJSON_ArrayForEach(x, vl) ok &= cJSON_IsNumber(x) && isfinite(x->valuedouble);
            cJSON_ArrayForEach(x, vp) ok &= cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= 1;
            bad += !ok;
        }
        CHECK(bad == 0, "%d training entries with a bad curve", bad);
        cJSON_Delete(root);
    }

    /* the baselines only, one width, over two seeds: the summary has each model's training length */
    ima_repro_config b2 = cfg;
    char *out2 = tu_path(dir, "seeds");
    b2.out_dir = out2;
    b2.with_ima = 0;
    b2.only_latent = 50;
    b2.baseline_epochs = 2;
    uint64_t seeds[2] = {1, 2};
    CHECK(ima_repro_digits_seeds(&b2, seeds, 2) == 0, "baselines over two seeds: %s", ima_last_error());
    char *p2 = tu_path(out2, "report.md"), *j2 = tu_path(out2, "results.json");
    char *md2 = slurp(p2), *js2 = slurp(j2);
    CHECK(md2 && strstr(md2, "## Training length") && strstr(md2, "| DAE | 50 |") && !strstr(md2, "| IMA"),
          "the seeds summary lacks the baselines' training length or has IMA rows");
    cJSON *r2 = js2 ? cJSON_Parse(js2) : NULL;
    CHECK(r2 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r2, "representations")) == 9 &&
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r2, "training")) == 3 &&
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r2, "per_seed")) == 2,
          "seeds results.json: representations, training or per_seed entries");
    if (r2) {
        const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r2, "training"), 0);
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(t, "epochs_run");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(er, "per_seed")) == 2, "epochs_run per seed");
    }
    cJSON_Delete(r2);
    free(md2), free(js2), free(p2), free(j2), free(out2);
    /* a corpus folder without the files is refused with a message naming the file */
    ima_repro_config bad = cfg;
    bad.data_dir = dir;
    CHECK(ima_repro_digits(&bad) != 0 && strstr(ima_last_error(), "image.npy"), "missing corpus: %s", ima_last_error());
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(md), free(js), free(md_path), free(js_path), free(data), free(out), free(dir);
    return tu_finish("repro");
}
