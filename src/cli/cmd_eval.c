/* cmd_eval.c: `ima eval retrieval | classify | importance | tsne` (SPEC section 5; docs/eval.md).
 *
 * Inputs are .npy files: representations (N, D) float, labels / groups 1-D integers, masks and
 * noise flags 1-D integers of 0 and 1 (save booleans as uint8), importances (N) float.
 * Results go to stdout as a small table and, with --json FILE, to a JSON file. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "ima/common.h"
#include "ima/eval.h"
#include "ima/npy.h"
#include "ima/plot.h"
#include "ima/tsne.h"
#include "io/atomic.h"

/* ---- shared helpers ----------------------------------------------------------------- */

static int fail(const char *cmd) {
    fprintf(stderr, "ima %s: %s\n", cmd, ima_last_error());
    return 1;
}

static int missing(const char *cmd, const char *flag) {
    fprintf(stderr, "ima %s: %s is required (see ima %s --help)\n", cmd, flag, cmd);
    return 2;
}

static int load_matrix(const char *cmd, const char *flag, const char *path, float **x, size_t *n, size_t *d) {
    if (ima_npy_read_f32_matrix(path, x, n, d) == IMA_OK && *n > 0) return 0;
    if (*x) ima_error("%s: 0 rows; expected at least one sample", path); /* read fine, but empty */
    free(*x), *x = NULL;
    fprintf(stderr, "ima %s: %s: %s\n", cmd, flag, ima_last_error());
    return -1;
}

/* 1-D integer array of exactly n entries (n = 0: any length, returned in *got) */
static int load_ints(const char *cmd, const char *flag, const char *path, size_t n, int64_t **v, size_t *got) {
    size_t m;
    if (ima_npy_read_labels(path, v, &m)) {
        fprintf(stderr, "ima %s: %s: %s\n", cmd, flag, ima_last_error());
        return -1;
    }
    if (n && m != n) {
        fprintf(stderr, "ima %s: %s: %s has %zu entries, expected %zu (one per row of the representations)\n", cmd,
                flag, path, m, n);
        free(*v);
        *v = NULL;
        return -1;
    }
    if (got) *got = m;
    return 0;
}

/* a 0/1 flag array of n entries */
static int load_flags(const char *cmd, const char *flag, const char *path, size_t n, uint8_t **out) {
    int64_t *v;
    if (load_ints(cmd, flag, path, n, &v, NULL)) return -1;
    uint8_t *m = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0 && v[i] != 1) {
            fprintf(stderr, "ima %s: %s: entry %zu of %s is %lld; expected 0 or 1\n", cmd, flag, i, path,
                    (long long)v[i]);
            free(v);
            free(m);
            return -1;
        }
        m[i] = (uint8_t)v[i];
    }
    free(v);
    *out = m;
    return 0;
}

/* "10,50" -> ks; each in [1, hi] */
static int parse_size_list(const char *cmd, const char *flag, const char *s, size_t *out, size_t max, size_t *n) {
    char buf[256];
    if (strlen(s) >= sizeof buf) {
        fprintf(stderr, "ima %s: %s: list too long\n", cmd, flag);
        return -1;
    }
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long v;
        if (*n == max) {
            fprintf(stderr, "ima %s: %s: at most %zu values\n", cmd, flag, max);
            return -1;
        }
        if (arg_long(cmd, flag, tok, 1, 1000000, &v)) return -1;
        out[(*n)++] = (size_t)v;
    }
    if (*n == 0) {
        fprintf(stderr, "ima %s: %s: expected a comma-separated list, got '%s'\n", cmd, flag, s);
        return -1;
    }
    return 0;
}

static int write_json(const char *cmd, const char *path, cJSON *root) {
    char *text = cJSON_Print(root);
    FILE *f = fopen(path, "w");
    int ok = f && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f)) ok = 0;
    free(text);
    if (!ok) {
        fprintf(stderr, "ima %s: --json: cannot write %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- retrieval ----------------------------------------------------------------------- */

static void help_retrieval(FILE *o) {
    fputs("usage: ima eval retrieval --rep Z.npy --labels L.npy [options]\n\n"
          "Precision@K: for each query, its K nearest other samples by Euclidean distance;\n"
          "P@K = (neighbours with the query's label) / (queries x K). Ties go to the smaller index.\n\n"
          "  --rep FILE      representations (N, D), float\n"
          "  --labels FILE   labels (N), integer\n"
          "  --k LIST        comma-separated K values (default 10,50)\n"
          "  --mask FILE     only these samples (N of 0/1) are queries; all stay candidate neighbours\n"
          "  --group FILE    group ids (N), e.g. the recording id: neighbours sharing the query's group\n"
          "                  are excluded (SPEC 8); both rows, with and without exclusion, are printed\n"
          "  --json FILE     also write the results as JSON\n",
          o);
}

static int eval_retrieval(int argc, char **argv) {
    const char *cmd = "eval retrieval";
    const char *rep = NULL, *lab = NULL, *mask_p = NULL, *group_p = NULL, *json = NULL;
    size_t ks[16] = {10, 50}, n_k = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help_retrieval(stdout);
            return 0;
        }
#define VALUE() if (!(v = arg_value(cmd, argc, argv, &i))) return 2
        if (arg_is(a, "--rep")) { VALUE(); rep = v; }
        else if (arg_is(a, "--labels")) { VALUE(); lab = v; }
        else if (arg_is(a, "--mask")) { VALUE(); mask_p = v; }
        else if (arg_is(a, "--group")) { VALUE(); group_p = v; }
        else if (arg_is(a, "--json")) { VALUE(); json = v; }
        else if (arg_is(a, "--k")) {
            VALUE();
            if (parse_size_list(cmd, "--k", v, ks, 16, &n_k)) return 2;
        } else return arg_unknown(cmd, a);
    }
    if (!rep) return missing(cmd, "--rep");
    if (!lab) return missing(cmd, "--labels");
    float *z = NULL;
    int64_t *labels = NULL, *group = NULL;
    uint8_t *mask = NULL;
    size_t N, D;
    int rc = 1;
    if (load_matrix(cmd, "--rep", rep, &z, &N, &D) || load_ints(cmd, "--labels", lab, N, &labels, NULL) ||
        (mask_p && load_flags(cmd, "--mask", mask_p, N, &mask)) ||
        (group_p && load_ints(cmd, "--group", group_p, N, &group, NULL)))
        goto done;
    double prec[2][16];
    size_t hits[2][16], nq = 0;
    int rows = group ? 2 : 1;
    for (int r = 0; r < rows; r++) {
        if (ima_precision_at_k(prec[r], hits[r], &nq, z, labels, mask, r ? group : NULL, ks, n_k, N, D)) {
            rc = fail(cmd);
            goto done;
        }
    }
    printf("retrieval: %zu samples, width %zu, %zu queries%s\n", N, D, nq, mask ? " (mask)" : "");
    printf("  %-22s", "neighbours");
    for (size_t t = 0; t < n_k; t++) printf("  P@%-6zu", ks[t]);
    printf("\n");
    for (int r = 0; r < rows; r++) {
        printf("  %-22s", r ? "same group excluded" : "all");
        for (size_t t = 0; t < n_k; t++) printf("  %.4f  ", prec[r][t]);
        printf("\n");
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "measure", "precision_at_k");
        cJSON_AddNumberToObject(root, "n", (double)N);
        cJSON_AddNumberToObject(root, "queries", (double)nq);
        for (int r = 0; r < rows; r++) {
            cJSON *o = cJSON_AddObjectToObject(root, r ? "group_excluded" : "all");
            for (size_t t = 0; t < n_k; t++) {
                char key[32];
                snprintf(key, sizeof key, "p@%zu", ks[t]);
                cJSON_AddNumberToObject(o, key, prec[r][t]);
                snprintf(key, sizeof key, "hits@%zu", ks[t]);
                cJSON_AddNumberToObject(o, key, (double)hits[r][t]);
            }
        }
        int bad = write_json(cmd, json, root);
        cJSON_Delete(root);
        if (bad) goto done;
    }
    rc = 0;
done:
    free(z), free(labels), free(group), free(mask);
    return rc;
}

/* ---- classify ----------------------------------------------------------------------- */

static void help_classify(FILE *o) {
    fputs("usage: ima eval classify --train-rep F --train-labels F --valid-rep F --valid-labels F\n"
          "                         --test-rep F --test-labels F [options]\n\n"
          "Trains an MLP (2 hidden ReLU layers of 50 units, paper Table 3) with plain minibatch SGD on the\n"
          "mean softmax cross-entropy, once per candidate learning rate; keeps the rate with the best\n"
          "validation accuracy (ties: the smaller rate); reports test accuracy, overall and per mask.\n\n"
          "  --mask FILE       a test subset (N_test of 0/1), e.g. image-noise; may be repeated\n"
          "  --lrs LIST        candidate rates (default 0.0625,0.125,0.25,0.5,1,2,4,8)\n"
          "  --epochs N        epochs per rate (default 30)\n"
          "  --batch N         minibatch rows (default 64)\n"
          "  --hidden N        units per hidden layer (default 50)\n"
          "  --layers N        hidden layers (default 2)\n"
          "  --no-standardize  do not z-score inputs with the training mean and sd (default: do)\n"
          "  --seed N          initialisation and shuffling seed (default 1)\n"
          "  --json FILE       also write the results as JSON\n",
          o);
}

static int parse_double_list(const char *cmd, const char *flag, const char *s, double *out, size_t max, size_t *n) {
    char buf[512];
    if (strlen(s) >= sizeof buf) {
        fprintf(stderr, "ima %s: %s: list too long\n", cmd, flag);
        return -1;
    }
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max) {
            fprintf(stderr, "ima %s: %s: at most %zu values\n", cmd, flag, max);
            return -1;
        }
        if (arg_double(cmd, flag, tok, 1e-12, 1e6, &out[*n])) return -1;
        (*n)++;
    }
    if (*n == 0) {
        fprintf(stderr, "ima %s: %s: expected a comma-separated list, got '%s'\n", cmd, flag, s);
        return -1;
    }
    return 0;
}

static int eval_classify(int argc, char **argv) {
    const char *cmd = "eval classify";
    const char *path[6] = {NULL}; // as names: three representations, then three label files
    static const char *const names[6] = {"--train-rep", "--valid-rep", "--test-rep",
                                         "--train-labels", "--valid-labels", "--test-labels"};
    const char *masks[16], *json = NULL;
    size_t n_masks = 0;
    ima_classifier_config cfg = ima_classifier_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help_classify(stdout);
            return 0;
        }
        int matched = 0;
        for (int k = 0; k < 6 && !matched; k++)
            if (arg_is(a, names[k])) {
                VALUE();
                path[k] = v;
                matched = 1;
            }
        if (matched) continue;
        long l;
        if (arg_is(a, "--mask")) {
            VALUE();
            if (n_masks == 16) {
                fprintf(stderr, "ima %s: --mask: at most 16 masks\n", cmd);
                return 2;
            }
            masks[n_masks++] = v;
        } else if (arg_is(a, "--json")) { VALUE(); json = v; }
        else if (arg_is(a, "--lrs")) {
            VALUE();
            if (parse_double_list(cmd, "--lrs", v, cfg.lrs, IMA_CLF_MAX_LRS, &cfg.n_lrs)) return 2;
        } else if (arg_is(a, "--epochs")) {
            VALUE();
            if (arg_long(cmd, "--epochs", v, 1, 100000, &l)) return 2;
            cfg.epochs = (size_t)l;
        } else if (arg_is(a, "--batch")) {
            VALUE();
            if (arg_long(cmd, "--batch", v, 1, 1000000, &l)) return 2;
            cfg.batch = (size_t)l;
        } else if (arg_is(a, "--hidden")) {
            VALUE();
            if (arg_long(cmd, "--hidden", v, 1, 100000, &l)) return 2;
            cfg.hidden = (size_t)l;
        } else if (arg_is(a, "--layers")) {
            VALUE();
            if (arg_long(cmd, "--layers", v, 1, 6, &l)) return 2;
            cfg.n_hidden_layers = (int)l;
        } else if (!strcmp(a, "--no-standardize")) {
            cfg.standardize = 0;
        } else if (arg_is(a, "--seed")) {
            VALUE();
            if (arg_u64(cmd, "--seed", v, &cfg.seed)) return 2;
        } else return arg_unknown(cmd, a);
    }
    for (int k = 0; k < 6; k++)
        if (!path[k]) return missing(cmd, names[k]);
    float *x[3] = {NULL};
    int64_t *y[3] = {NULL}, *pred = NULL;
    uint8_t *m[16] = {NULL};
    size_t n[3], d[3];
    ima_classifier *clf = NULL;
    ima_classifier_report rep;
    int rc = 1;
    for (int s = 0; s < 3; s++)
        if (load_matrix(cmd, names[s], path[s], &x[s], &n[s], &d[s]) ||
            load_ints(cmd, names[3 + s], path[3 + s], n[s], &y[s], NULL))
            goto done;
    if (d[1] != d[0] || d[2] != d[0]) {
        fprintf(stderr, "ima %s: representation widths differ: train %zu, validation %zu, test %zu\n", cmd, d[0], d[1],
                d[2]);
        goto done;
    }
    for (size_t k = 0; k < n_masks; k++)
        if (load_flags(cmd, "--mask", masks[k], n[2], &m[k])) goto done;
    if (ima_classifier_fit(&clf, &rep, &cfg, x[0], y[0], n[0], x[1], y[1], n[1], d[0])) {
        rc = fail(cmd);
        goto done;
    }
    pred = malloc(n[2] * sizeof *pred);
    ima_classifier_predict(clf, pred, x[2], n[2]);
    for (size_t i = 0; i < n[2]; i++)
        if (y[2][i] < 0) {
            fprintf(stderr, "ima %s: --test-labels: label %lld of row %zu is negative\n", cmd, (long long)y[2][i], i);
            goto done;
        }
    printf("classify: train %zu, validation %zu, test %zu rows, width %zu, %zu classes; MLP %d x %zu, %zu epochs, "
           "batch %zu%s\n",
           n[0], n[1], n[2], d[0], rep.n_classes, cfg.n_hidden_layers, cfg.hidden, cfg.epochs, cfg.batch,
           cfg.standardize ? ", standardized inputs" : "");
    printf("  %-10s %-12s %-12s\n", "lr", "train loss", "valid acc");
    for (size_t k = 0; k < rep.n_lrs; k++) {
        if (rep.diverged[k]) printf("  %-10g %-12s %-12s\n", rep.lrs[k], "diverged", "-");
        else printf("  %-10g %-12.4f %-12.4f%s\n", rep.lrs[k], rep.train_loss[k], rep.valid_acc[k],
                    k == rep.chosen ? "  <- chosen" : "");
    }
    size_t used;
    double acc = ima_accuracy(pred, y[2], NULL, n[2], &used);
    printf("  test accuracy: %.4f (%zu samples)\n", acc, used);
    double macc[16];
    size_t mused[16];
    for (size_t k = 0; k < n_masks; k++) {
        macc[k] = ima_accuracy(pred, y[2], m[k], n[2], &mused[k]);
        if (mused[k]) printf("  test accuracy on %s: %.4f (%zu samples)\n", masks[k], macc[k], mused[k]);
        else printf("  test accuracy on %s: n/a (the mask selects no sample)\n", masks[k]);
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "measure", "classification");
        cJSON_AddNumberToObject(root, "chosen_lr", rep.lrs[rep.chosen]);
        cJSON *lrs = cJSON_AddArrayToObject(root, "candidates");
        for (size_t k = 0; k < rep.n_lrs; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "lr", rep.lrs[k]);
            cJSON_AddBoolToObject(o, "diverged", rep.diverged[k]);
            if (!rep.diverged[k]) {
                cJSON_AddNumberToObject(o, "train_loss", rep.train_loss[k]);
                cJSON_AddNumberToObject(o, "valid_acc", rep.valid_acc[k]);
            }
            cJSON_AddItemToArray(lrs, o);
        }
        cJSON_AddNumberToObject(root, "test_acc", acc);
        cJSON_AddNumberToObject(root, "test_n", (double)used);
        cJSON *sub = cJSON_AddArrayToObject(root, "masks");
        for (size_t k = 0; k < n_masks; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "mask", masks[k]);
            cJSON_AddNumberToObject(o, "n", (double)mused[k]);
            if (mused[k]) cJSON_AddNumberToObject(o, "acc", macc[k]);
            else cJSON_AddNullToObject(o, "acc");
            cJSON_AddItemToArray(sub, o);
        }
        int bad = write_json(cmd, json, root);
        cJSON_Delete(root);
        if (bad) goto done;
    }
    rc = 0;
done:
    ima_classifier_free(clf);
    for (int s = 0; s < 3; s++) free(x[s]), free(y[s]);
    for (size_t k = 0; k < n_masks; k++) free(m[k]);
    free(pred);
    return rc;
}

/* ---- importance --------------------------------------------------------------------- */

static void help_importance(FILE *o) {
    fputs("usage: ima eval importance --y Y.npy --noise F.npy [options]\n\n"
          "How well importances flag noise. Positive class = noise; a sample is called noise when\n"
          "y < threshold. Prints precision, recall and F1 at the threshold, the ranking AUC\n"
          "(P(y_noise < y_clean), ties one half) and the best F1 over all thresholds.\n\n"
          "  --y FILE          importances (N), float in (0, 1)\n"
          "  --noise FILE      ground-truth noise flags (N of 0/1)\n"
          "  --threshold T     decision threshold (default 0.5)\n"
          "  --mask FILE       evaluate only these samples (N of 0/1), e.g. where the modality is present\n"
          "  --json FILE       also write the results as JSON\n",
          o);
}

static int eval_importance(int argc, char **argv) {
    const char *cmd = "eval importance";
    const char *yp = NULL, *np = NULL, *mp = NULL, *json = NULL;
    double thr = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help_importance(stdout);
            return 0;
        }
        if (arg_is(a, "--y")) { VALUE(); yp = v; }
        else if (arg_is(a, "--noise")) { VALUE(); np = v; }
        else if (arg_is(a, "--mask")) { VALUE(); mp = v; }
        else if (arg_is(a, "--json")) { VALUE(); json = v; }
        else if (arg_is(a, "--threshold")) {
            VALUE();
            if (arg_double(cmd, "--threshold", v, 0.0, 1.0, &thr)) return 2;
        } else return arg_unknown(cmd, a);
    }
    if (!yp) return missing(cmd, "--y");
    if (!np) return missing(cmd, "--noise");
    float *y = NULL;
    uint8_t *noise = NULL, *mask = NULL;
    size_t N, D;
    int rc = 1;
    if (load_matrix(cmd, "--y", yp, &y, &N, &D)) goto done;
    if (D != 1) {
        fprintf(stderr, "ima %s: --y: %s is %zu x %zu; expected one importance per sample (N or N x 1)\n", cmd, yp, N,
                D);
        goto done;
    }
    if (load_flags(cmd, "--noise", np, N, &noise) || (mp && load_flags(cmd, "--mask", mp, N, &mask))) goto done;
    ima_detection r;
    if (ima_detection_eval(&r, y, noise, mask, N, thr)) {
        rc = fail(cmd);
        goto done;
    }
    const ima_detect_scores *s = &r.at_threshold;
    printf("importance: %zu samples, %zu noise (%.1f%%), mean y %.4f\n", r.n, r.n_noise,
           100.0 * (double)r.n_noise / (double)r.n, r.mean_y);
    printf("  threshold %.4g: precision %.4f  recall %.4f  F1 %.4f  (tp %zu fp %zu fn %zu tn %zu)\n", thr,
           s->precision, s->recall, s->f1, s->tp, s->fp, s->fn, s->tn);
    if (r.ranked)
        printf("  ranking AUC %.4f; best F1 %.4f at threshold %.6g\n", r.auc, r.best_f1, r.best_threshold);
    else
        printf("  ranking AUC n/a; best F1 n/a (only one class among the samples)\n");
    if (r.mean_y > 0.99) printf("  note: mean y > 0.99: the importance net has collapsed to 'all important'\n");
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "measure", "importance_detection");
        cJSON_AddNumberToObject(root, "n", (double)r.n);
        cJSON_AddNumberToObject(root, "n_noise", (double)r.n_noise);
        cJSON_AddNumberToObject(root, "mean_y", r.mean_y);
        cJSON_AddNumberToObject(root, "threshold", thr);
        cJSON_AddNumberToObject(root, "precision", s->precision);
        cJSON_AddNumberToObject(root, "recall", s->recall);
        cJSON_AddNumberToObject(root, "f1", s->f1);
        cJSON_AddNumberToObject(root, "tp", (double)s->tp);
        cJSON_AddNumberToObject(root, "fp", (double)s->fp);
        cJSON_AddNumberToObject(root, "fn", (double)s->fn);
        cJSON_AddNumberToObject(root, "tn", (double)s->tn);
        if (r.ranked) {
            cJSON_AddNumberToObject(root, "auc", r.auc);
            cJSON_AddNumberToObject(root, "best_f1", r.best_f1);
            cJSON_AddNumberToObject(root, "best_threshold", r.best_threshold);
        } else {
            cJSON_AddNullToObject(root, "auc");
            cJSON_AddNullToObject(root, "best_f1");
            cJSON_AddNullToObject(root, "best_threshold");
        }
        int bad = write_json(cmd, json, root);
        cJSON_Delete(root);
        if (bad) goto done;
    }
    rc = 0;
done:
    free(y), free(noise), free(mask);
    return rc;
}

/* ---- tsne ---------------------------------------------------------------------------- */

static void help_tsne(FILE *o) {
    fputs("usage: ima eval tsne --rep Z.npy --out MAP.npy [options]\n\n"
          "Barnes-Hut t-SNE to 2-D (perplexity 10 as in the paper), its KL divergence and trustworthiness.\n\n"
          "  --rep FILE          representations (N, D), float\n"
          "  --out FILE          the map (N, 2), float32 .npy\n"
          "  --png FILE          scatter of the map coloured by --labels (needs gnuplot)\n"
          "  --labels FILE       labels (N), integer, for --png\n"
          "  --noise FILE        noise flags (N of 0/1): drawn grey in --png\n"
          "  --values FILE       a value per sample (N), e.g. importance y, for --values-png\n"
          "  --values-png FILE   scatter of the map coloured by --values\n"
          "  --perplexity P      (default 10)\n"
          "  --theta T           Barnes-Hut accuracy (default 0.5)\n"
          "  --iters N           iterations (default 1000; the first 250 with exaggeration 12)\n"
          "  --exact             exact O(N^2) t-SNE instead of Barnes-Hut (small N)\n"
          "  --seed N            initial map and tree seed (default 1)\n"
          "  --trust-k K         neighbours for trustworthiness (default 10; 0 skips it)\n"
          "  --json FILE         also write KL and trustworthiness as JSON\n",
          o);
}

static void tsne_progress(void *ctx, int iter, int n_iter) {
    progress_update((progress *)ctx, (size_t)iter, NULL);
    (void)n_iter;
}

static int eval_tsne(int argc, char **argv) {
    const char *cmd = "eval tsne";
    const char *rep = NULL, *out = NULL, *png = NULL, *lab = NULL, *np = NULL, *vals = NULL, *vpng = NULL,
               *json = NULL;
    ima_tsne_config cfg = ima_tsne_defaults();
    long trust_k = 10, l;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help_tsne(stdout);
            return 0;
        }
        if (arg_is(a, "--rep")) { VALUE(); rep = v; }
        else if (arg_is(a, "--out")) { VALUE(); out = v; }
        else if (arg_is(a, "--png")) { VALUE(); png = v; }
        else if (arg_is(a, "--labels")) { VALUE(); lab = v; }
        else if (arg_is(a, "--noise")) { VALUE(); np = v; }
        else if (arg_is(a, "--values")) { VALUE(); vals = v; }
        else if (arg_is(a, "--values-png")) { VALUE(); vpng = v; }
        else if (arg_is(a, "--json")) { VALUE(); json = v; }
        else if (arg_is(a, "--perplexity")) {
            VALUE();
            if (arg_double(cmd, "--perplexity", v, 1.0, 1000.0, &cfg.perplexity)) return 2;
        } else if (arg_is(a, "--theta")) {
            VALUE();
            if (arg_double(cmd, "--theta", v, 1e-6, 2.0, &cfg.theta)) return 2;
        } else if (arg_is(a, "--iters")) {
            VALUE();
            if (arg_long(cmd, "--iters", v, 1, 1000000, &l)) return 2;
            cfg.n_iter = (int)l;
        } else if (!strcmp(a, "--exact")) {
            cfg.method = IMA_TSNE_EXACT;
        } else if (arg_is(a, "--seed")) {
            VALUE();
            if (arg_u64(cmd, "--seed", v, &cfg.seed)) return 2;
        } else if (arg_is(a, "--trust-k")) {
            VALUE();
            if (arg_long(cmd, "--trust-k", v, 0, 100000, &trust_k)) return 2;
        } else return arg_unknown(cmd, a);
    }
    if (!rep) return missing(cmd, "--rep");
    if (!out) return missing(cmd, "--out");
    if (png && !lab) {
        fprintf(stderr, "ima %s: --png needs --labels (to colour by value use --values and --values-png)\n", cmd);
        return 2;
    }
    if (!!vals != !!vpng) {
        fprintf(stderr, "ima %s: --values and --values-png go together\n", cmd);
        return 2;
    }
    float *x = NULL, *y = NULL, *v = NULL;
    int64_t *labels = NULL;
    uint8_t *noise = NULL;
    size_t N, D, vn, vd;
    int rc = 1;
    if (load_matrix(cmd, "--rep", rep, &x, &N, &D) || (lab && load_ints(cmd, "--labels", lab, N, &labels, NULL)) ||
        (np && load_flags(cmd, "--noise", np, N, &noise)) || (vals && load_matrix(cmd, "--values", vals, &v, &vn, &vd)))
        goto done;
    if (vals && (vn != N || vd != 1)) {
        fprintf(stderr, "ima %s: --values: %s is %zu x %zu; expected %zu values\n", cmd, vals, vn, vd, N);
        goto done;
    }
    if (trust_k && 2 * (size_t)trust_k >= N) {
        fprintf(stderr, "ima %s: --trust-k %ld needs more than %ld samples (have %zu); lower it or pass 0\n", cmd,
                trust_k, 2 * trust_k, N);
        goto done;
    }
    y = malloc(N * 2 * sizeof *y);
    progress p;
    progress_begin(&p, "t-SNE", (size_t)cfg.n_iter);
    cfg.progress = tsne_progress;
    cfg.progress_ctx = &p;
    ima_tsne_result res;
    double t0 = now_seconds();
    if (ima_tsne_run(y, &res, x, N, D, &cfg)) {
        rc = fail(cmd);
        goto done;
    }
    progress_end(&p, NULL);
    double secs = now_seconds() - t0, tw = NAN;
    if (trust_k && ima_trustworthiness(&tw, x, D, y, 2, N, (size_t)trust_k)) {
        rc = fail(cmd);
        goto done;
    }
    /* the map and its plots are staged and renamed into place together: a failing plot leaves no map */
    ima_outset os;
    ima_outset_init(&os);
    const char *s_out = ima_outset_add(&os, out), *s_png = png && s_out ? ima_outset_add(&os, png) : NULL,
               *s_vpng = vpng && s_out ? ima_outset_add(&os, vpng) : NULL;
    if (!s_out || (png && !s_png) || (vpng && !s_vpng) || ima_npy_write_f32(s_out, N, 2, y)) {
        ima_outset_abort(&os);
        rc = fail(cmd);
        goto done;
    }
    printf("tsne: %zu points of width %zu -> %s (%s, perplexity %g, %d iterations, %.1f s)\n", N, D, out,
           cfg.method == IMA_TSNE_EXACT ? "exact" : "Barnes-Hut", cfg.perplexity, cfg.n_iter, secs);
    printf("  KL(P || Q) %.4f", res.kl);
    if (trust_k) printf("   trustworthiness(k=%ld) %.4f", trust_k, tw);
    printf("\n");
    ima_plot_style st = {.title = rep};
    if ((png && ima_plot_scatter_labels(s_png, y, labels, noise, N, &st)) ||
        (vpng && ima_plot_scatter_values(s_vpng, y, v, N, vals, &st)) || ima_outset_commit(&os)) {
        ima_outset_abort(&os);
        rc = fail(cmd);
        goto done;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "measure", "tsne");
        cJSON_AddNumberToObject(root, "n", (double)N);
        cJSON_AddNumberToObject(root, "perplexity", cfg.perplexity);
        cJSON_AddNumberToObject(root, "kl", res.kl);
        if (trust_k) {
            cJSON_AddNumberToObject(root, "trust_k", (double)trust_k);
            cJSON_AddNumberToObject(root, "trustworthiness", tw);
        }
        int bad = write_json(cmd, json, root);
        cJSON_Delete(root);
        if (bad) goto done;
    }
    rc = 0;
done:
    free(x), free(y), free(v), free(labels), free(noise);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------- */

static void usage(FILE *o) {
    fputs("usage: ima eval WHAT [options]   (ima eval WHAT --help for its options)\n\n"
          "  retrieval    Precision@K of representations (masks, group exclusion)\n"
          "  classify     MLP accuracy, learning rate chosen on validation\n"
          "  importance   precision / recall / F1 / AUC of noise detection by importances\n"
          "  tsne         2-D t-SNE map, KL divergence, trustworthiness, optional PNG\n",
          o);
}

int cmd_eval(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *w = argv[1];
    if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(w, "retrieval")) return eval_retrieval(argc - 1, argv + 1);
    if (!strcmp(w, "classify")) return eval_classify(argc - 1, argv + 1);
    if (!strcmp(w, "importance")) return eval_importance(argc - 1, argv + 1);
    if (!strcmp(w, "tsne")) return eval_tsne(argc - 1, argv + 1);
    fprintf(stderr, "ima eval: unknown evaluation '%s' (expected retrieval, classify, importance or tsne)\n", w);
    return 2;
}
