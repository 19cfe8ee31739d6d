/* cmd_eval.c: `ima eval retrieval | classify | importance | tsne` (SPEC section 5; docs/eval.md).
 *
 * Inputs are .npy files: representations (N, D) float, labels / groups 1-D integers, masks and
 * noise flags 1-D integers of 0 and 1 (save booleans as uint8), importances (N) float.
 * Results go to stdout as a small table and, with --json FILE, to a JSON file. Each subcommand has
 * its flag table (flags.h); classify and tsne live in cmd_eval_classify.c and cmd_eval_tsne.c. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/eval_util.h"
#include "cli/flags.h"
#include "ima/common.h"
#include "ima/eval.h"

/* ---- retrieval ----------------------------------------------------------------------- */

typedef struct {
    const char *rep, *labels, *mask, *group, *json;
    flag_sizes k;
} retrieval_opts;

#define O(field) offsetof(retrieval_opts, field)
static const flag_spec RETRIEVAL_FLAGS[] = {
    FLAG_NEEDED("--rep", FLAG_STR, O(rep), "FILE", "representations (N, D), float"),
    FLAG_NEEDED("--labels", FLAG_STR, O(labels), "FILE", "labels (N), integer"),
    {.name = "--k",
     .type = FLAG_CUSTOM,
     .off = O(k),
     .lo = 1,
     .hi = 1000000,
     .arg = "LIST",
     .help = "comma-separated K values (default 10,50)",
     .parse = flag_parse_sizes},
    FLAG_ROW("--mask", FLAG_STR, O(mask), 0, 0, "FILE",
             "only these samples (N of 0/1) are queries; all stay candidate neighbours", 0),
    FLAG_ROW("--group", FLAG_STR, O(group), 0, 0, "FILE",
             "group ids (N), e.g. the recording id: neighbours sharing the query's group\n"
             "                             are excluded (SPEC 8); both rows, with and without exclusion, are printed",
             0),
    FLAG_ROW("--json", FLAG_STR, O(json), 0, 0, "FILE", "also write the results as JSON", 0),
    FLAG_END,
};
#undef O
static const flag_cmd RETRIEVAL = {.cmd = "eval retrieval", .flags = RETRIEVAL_FLAGS};

static void help_retrieval(FILE *o) {
    fputs("usage: ima eval retrieval --rep Z.npy --labels L.npy [options]\n\n"
          "Precision@K: for each query, its K nearest other samples by Euclidean distance;\n"
          "P@K = (neighbours with the query's label) / (queries x K). Ties go to the smaller index.\n\n",
          o);
    retrieval_opts d = {.k = {2, {10, 50}}};
    flags_help(o, &RETRIEVAL, &d, 0);
}

typedef struct {
    int rows; // 1, or 2 with --group (the second row excludes the query's group)
    double prec[2][FLAG_LIST_MAX];
    size_t hits[2][FLAG_LIST_MAX], nq;
} retrieval_result;

static int retrieval_json(const retrieval_opts *o, const retrieval_result *r, size_t N) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "measure", "precision_at_k");
    cJSON_AddNumberToObject(root, "n", (double)N);
    cJSON_AddNumberToObject(root, "queries", (double)r->nq);
    for (int w = 0; w < r->rows; w++) {
        cJSON *obj = cJSON_AddObjectToObject(root, w ? "group_excluded" : "all");
        for (size_t t = 0; t < o->k.n; t++) {
            char key[32];
            snprintf(key, sizeof key, "p@%zu", o->k.v[t]);
            cJSON_AddNumberToObject(obj, key, r->prec[w][t]);
            snprintf(key, sizeof key, "hits@%zu", o->k.v[t]);
            cJSON_AddNumberToObject(obj, key, (double)r->hits[w][t]);
        }
    }
    int bad = write_json(RETRIEVAL.cmd, o->json, root);
    cJSON_Delete(root);
    return bad;
}

static int eval_retrieval(int argc, char **argv) {
    const char *cmd = RETRIEVAL.cmd;
    retrieval_opts o = {.k = {2, {10, 50}}};
    flag_seen seen;
    int rc = flags_parse(&RETRIEVAL, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return help_retrieval(stdout), 0;
    if (rc) return rc;
    float *z = NULL;
    int64_t *labels = NULL, *group = NULL;
    uint8_t *mask = NULL;
    size_t N, D;
    retrieval_result r = {.rows = o.group ? 2 : 1};
    rc = 1;
    if (load_matrix(cmd, "--rep", o.rep, &z, &N, &D) || load_ints(cmd, "--labels", o.labels, N, &labels, NULL) ||
        (o.mask && load_flags(cmd, "--mask", o.mask, N, &mask)) ||
        (o.group && load_ints(cmd, "--group", o.group, N, &group, NULL)))
        goto done;
    for (int w = 0; w < r.rows; w++)
        if (ima_precision_at_k(r.prec[w], r.hits[w], &r.nq, z, labels, mask, w ? group : NULL, o.k.v, o.k.n, N, D)) {
            rc = eval_fail(cmd);
            goto done;
        }
    printf("retrieval: %zu samples, width %zu, %zu queries%s\n", N, D, r.nq, mask ? " (mask)" : "");
    printf("  %-22s", "neighbours");
    for (size_t t = 0; t < o.k.n; t++) printf("  P@%-6zu", o.k.v[t]);
    printf("\n");
    for (int w = 0; w < r.rows; w++) {
        printf("  %-22s", w ? "same group excluded" : "all");
        for (size_t t = 0; t < o.k.n; t++) printf("  %.4f  ", r.prec[w][t]);
        printf("\n");
    }
    rc = o.json && retrieval_json(&o, &r, N) ? 1 : 0;
done:
    free(z), free(labels), free(group), free(mask);
    return rc;
}

/* ---- importance --------------------------------------------------------------------- */

typedef struct {
    const char *y, *noise, *mask, *json;
    double threshold;
} importance_opts;

#define O(field) offsetof(importance_opts, field)
static const flag_spec IMPORTANCE_FLAGS[] = {
    FLAG_NEEDED("--y", FLAG_STR, O(y), "FILE", "importances (N), float in (0, 1)"),
    FLAG_NEEDED("--noise", FLAG_STR, O(noise), "FILE", "ground-truth noise flags (N of 0/1)"),
    FLAG_ROW("--threshold", FLAG_DOUBLE, O(threshold), 0.0, 1.0, "T", "decision threshold", 0),
    FLAG_ROW("--mask", FLAG_STR, O(mask), 0, 0, "FILE",
             "evaluate only these samples (N of 0/1), e.g. where the modality is present", 0),
    FLAG_ROW("--json", FLAG_STR, O(json), 0, 0, "FILE", "also write the results as JSON", 0),
    FLAG_END,
};
#undef O
static const flag_cmd IMPORTANCE = {.cmd = "eval importance", .flags = IMPORTANCE_FLAGS};
static const importance_opts IMPORTANCE_DEFAULTS = {.threshold = 0.5};

static void help_importance(FILE *o) {
    fputs("usage: ima eval importance --y Y.npy --noise F.npy [options]\n\n"
          "How well importances flag noise. Positive class = noise; a sample is called noise when\n"
          "y < threshold. Prints precision, recall and F1 at the threshold, the ranking AUC\n"
          "(P(y_noise < y_clean), ties one half) and the best F1 over all thresholds.\n\n",
          o);
    flags_help(o, &IMPORTANCE, &IMPORTANCE_DEFAULTS, 0);
}

static void importance_print(const ima_detection *r, double thr) {
    const ima_detect_scores *s = &r->at_threshold;
    printf("importance: %zu samples, %zu noise (%.1f%%), mean y %.4f\n", r->n, r->n_noise,
           100.0 * (double)r->n_noise / (double)r->n, r->mean_y);
    printf("  threshold %.4g: precision %.4f  recall %.4f  F1 %.4f  (tp %zu fp %zu fn %zu tn %zu)\n", thr, s->precision,
           s->recall, s->f1, s->tp, s->fp, s->fn, s->tn);
    if (r->ranked)
        printf("  ranking AUC %.4f; best F1 %.4f at threshold %.6g\n", r->auc, r->best_f1, r->best_threshold);
    else printf("  ranking AUC n/a; best F1 n/a (only one class among the samples)\n");
    if (r->mean_y > 0.99) printf("  note: mean y > 0.99: the importance net has collapsed to 'all important'\n");
}

static int importance_json(const char *path, const ima_detection *r, double thr) {
    const ima_detect_scores *s = &r->at_threshold;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "measure", "importance_detection");
    cJSON_AddNumberToObject(root, "n", (double)r->n);
    cJSON_AddNumberToObject(root, "n_noise", (double)r->n_noise);
    cJSON_AddNumberToObject(root, "mean_y", r->mean_y);
    cJSON_AddNumberToObject(root, "threshold", thr);
    cJSON_AddNumberToObject(root, "precision", s->precision);
    cJSON_AddNumberToObject(root, "recall", s->recall);
    cJSON_AddNumberToObject(root, "f1", s->f1);
    cJSON_AddNumberToObject(root, "tp", (double)s->tp);
    cJSON_AddNumberToObject(root, "fp", (double)s->fp);
    cJSON_AddNumberToObject(root, "fn", (double)s->fn);
    cJSON_AddNumberToObject(root, "tn", (double)s->tn);
    const char *keys[3] = {"auc", "best_f1", "best_threshold"};
    double vals[3] = {r->auc, r->best_f1, r->best_threshold};
    for (int k = 0; k < 3; k++) {
        if (r->ranked) cJSON_AddNumberToObject(root, keys[k], vals[k]);
        else cJSON_AddNullToObject(root, keys[k]);
    }
    int bad = write_json(IMPORTANCE.cmd, path, root);
    cJSON_Delete(root);
    return bad;
}

static int eval_importance(int argc, char **argv) {
    const char *cmd = IMPORTANCE.cmd;
    importance_opts o = IMPORTANCE_DEFAULTS;
    flag_seen seen;
    int rc = flags_parse(&IMPORTANCE, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return help_importance(stdout), 0;
    if (rc) return rc;
    float *y = NULL;
    uint8_t *noise = NULL, *mask = NULL;
    size_t N, D;
    rc = 1;
    if (load_matrix(cmd, "--y", o.y, &y, &N, &D)) goto done;
    if (D != 1) {
        fprintf(stderr, "ima %s: --y: %s is %zu x %zu; expected one importance per sample (N or N x 1)\n", cmd, o.y, N,
                D);
        goto done;
    }
    if (load_flags(cmd, "--noise", o.noise, N, &noise) || (o.mask && load_flags(cmd, "--mask", o.mask, N, &mask)))
        goto done;
    ima_detection r;
    if (ima_detection_eval(&r, y, noise, mask, N, o.threshold)) {
        rc = eval_fail(cmd);
        goto done;
    }
    importance_print(&r, o.threshold);
    rc = o.json && importance_json(o.json, &r, o.threshold) ? 1 : 0;
done:
    free(y), free(noise), free(mask);
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
