/* cmd_eval_classify.c: `ima eval classify`: the paper's downstream MLP (SPEC section 5, docs/eval.md). */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/eval_util.h"
#include "cli/flags.h"
#include "ima/common.h"
#include "ima/eval.h"

typedef struct {
    const char *path[6]; // train, valid, test representations, then their labels
    flag_strings masks;  // --mask, repeatable: test subsets
    const char *json;
    ima_classifier_config cfg; // ima_classifier_defaults()
} classify_opts;

static const char *const NAMES[6] = {"--train-rep",    "--valid-rep",    "--test-rep",
                                     "--train-labels", "--valid-labels", "--test-labels"};

/* "0.0625,0.125": the candidate rates (target: the ima_classifier_config) */
static int lr_token(const char *cmd, const flag_spec *f, const char *tok, size_t k, void *ctx) {
    ima_classifier_config *c = ctx;
    if (arg_double(cmd, f->name, tok, 1e-12, 1e6, &c->lrs[k])) return -1;
    c->n_lrs = k + 1;
    return 0;
}

static int parse_lrs(const char *cmd, const flag_spec *f, const char *value, void *target) {
    ima_classifier_config *c = target;
    c->n_lrs = 0;
    return flag_each_listed(cmd, f, value, 512, IMA_CLF_MAX_LRS, lr_token, c);
}

#define O(field) offsetof(classify_opts, field)
static const flag_spec FLAGS[] = {
    FLAG_NEEDED("--train-rep", FLAG_STR, O(path[0]), "FILE", "training representations (N, D), float"),
    FLAG_NEEDED("--valid-rep", FLAG_STR, O(path[1]), "FILE", "validation representations"),
    FLAG_NEEDED("--test-rep", FLAG_STR, O(path[2]), "FILE", "test representations"),
    FLAG_NEEDED("--train-labels", FLAG_STR, O(path[3]), "FILE", "training labels (N), integer"),
    FLAG_NEEDED("--valid-labels", FLAG_STR, O(path[4]), "FILE", "validation labels"),
    FLAG_NEEDED("--test-labels", FLAG_STR, O(path[5]), "FILE", "test labels"),
    {.name = "--mask",
     .type = FLAG_CUSTOM,
     .off = O(masks),
     .arg = "FILE",
     .parse = flag_parse_append,
     .help = "a test subset (N_test of 0/1), e.g. image-noise; may be repeated"},
    {.name = "--lrs",
     .type = FLAG_CUSTOM,
     .off = O(cfg),
     .arg = "LIST",
     .parse = parse_lrs,
     .help = "candidate rates (default 0.0625,0.125,0.25,0.5,1,2,4,8)"},
    FLAG_ROW("--epochs", FLAG_SIZE, O(cfg.epochs), 1, 100000, "N", "epochs per rate", 0),
    FLAG_ROW("--batch", FLAG_SIZE, O(cfg.batch), 1, 1000000, "N", "minibatch rows", 0),
    FLAG_ROW("--hidden", FLAG_SIZE, O(cfg.hidden), 1, 100000, "N", "units per hidden layer", 0),
    FLAG_ROW("--layers", FLAG_INT, O(cfg.n_hidden_layers), 1, 6, "N", "hidden layers", 0),
    FLAG_ROW("--no-standardize", FLAG_SET, O(cfg.standardize), 0, 0, NULL,
             "do not z-score inputs with the training mean and sd (default: do)", 0),
    FLAG_ROW("--seed", FLAG_U64, O(cfg.seed), 0, 0, "N", "initialisation and shuffling seed", 0),
    FLAG_ROW("--json", FLAG_STR, O(json), 0, 0, "FILE", "also write the results as JSON", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "eval classify", .flags = FLAGS};

static void help(FILE *o) {
    fputs("usage: ima eval classify --train-rep F --train-labels F --valid-rep F --valid-labels F\n"
          "                         --test-rep F --test-labels F [options]\n\n"
          "Trains an MLP (2 hidden ReLU layers of 50 units, paper Table 3) with plain minibatch SGD on the\n"
          "mean softmax cross-entropy, once per candidate learning rate; keeps the rate with the best\n"
          "validation accuracy (ties: the smaller rate); reports test accuracy, overall and per mask.\n\n",
          o);
    classify_opts d = {.cfg = ima_classifier_defaults()};
    flags_help(o, &CMD, &d, 0);
}

/* the data, the fit and the predictions */
typedef struct {
    float *x[3];
    int64_t *y[3], *pred;
    uint8_t *m[FLAG_LIST_MAX];
    size_t n[3], d[3];
    ima_classifier *clf;
    ima_classifier_report rep;
    double acc, macc[FLAG_LIST_MAX];
    size_t used, mused[FLAG_LIST_MAX];
} classify_run;

static int load_all(classify_run *r, const classify_opts *o) {
    for (int s = 0; s < 3; s++)
        if (load_matrix(CMD.cmd, NAMES[s], o->path[s], &r->x[s], &r->n[s], &r->d[s]) ||
            load_ints(CMD.cmd, NAMES[3 + s], o->path[3 + s], r->n[s], &r->y[s], NULL))
            return -1;
    if (r->d[1] != r->d[0] || r->d[2] != r->d[0]) {
        fprintf(stderr, "ima %s: representation widths differ: train %zu, validation %zu, test %zu\n", CMD.cmd, r->d[0],
                r->d[1], r->d[2]);
        return -1;
    }
    for (size_t k = 0; k < o->masks.n; k++)
        if (load_flags(CMD.cmd, "--mask", o->masks.v[k], r->n[2], &r->m[k])) return -1;
    for (size_t i = 0; i < r->n[2]; i++)
        if (r->y[2][i] < 0) {
            fprintf(stderr, "ima %s: --test-labels: label %lld of row %zu is negative\n", CMD.cmd,
                    (long long)r->y[2][i], i);
            return -1;
        }
    return 0;
}

static void print_run(const classify_run *r, const classify_opts *o) {
    const ima_classifier_config *c = &o->cfg;
    const ima_classifier_report *rep = &r->rep;
    printf("classify: train %zu, validation %zu, test %zu rows, width %zu, %zu classes; MLP %d x %zu, %zu epochs, "
           "batch %zu%s\n",
           r->n[0], r->n[1], r->n[2], r->d[0], rep->n_classes, c->n_hidden_layers, c->hidden, c->epochs, c->batch,
           c->standardize ? ", standardized inputs" : "");
    printf("  %-10s %-12s %-12s\n", "lr", "train loss", "valid acc");
    for (size_t k = 0; k < rep->n_lrs; k++) {
        if (rep->diverged[k]) printf("  %-10g %-12s %-12s\n", rep->lrs[k], "diverged", "-");
        else
            printf("  %-10g %-12.4f %-12.4f%s\n", rep->lrs[k], rep->train_loss[k], rep->valid_acc[k],
                   k == rep->chosen ? "  <- chosen" : "");
    }
    printf("  test accuracy: %.4f (%zu samples)\n", r->acc, r->used);
    for (size_t k = 0; k < o->masks.n; k++) {
        if (r->mused[k]) printf("  test accuracy on %s: %.4f (%zu samples)\n", o->masks.v[k], r->macc[k], r->mused[k]);
        else printf("  test accuracy on %s: n/a (the mask selects no sample)\n", o->masks.v[k]);
    }
}

static int json_run(const classify_run *r, const classify_opts *o) {
    const ima_classifier_report *rep = &r->rep;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "measure", "classification");
    cJSON_AddNumberToObject(root, "chosen_lr", rep->lrs[rep->chosen]);
    cJSON *lrs = cJSON_AddArrayToObject(root, "candidates");
    for (size_t k = 0; k < rep->n_lrs; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "lr", rep->lrs[k]);
        cJSON_AddBoolToObject(c, "diverged", rep->diverged[k]);
        if (!rep->diverged[k]) {
            cJSON_AddNumberToObject(c, "train_loss", rep->train_loss[k]);
            cJSON_AddNumberToObject(c, "valid_acc", rep->valid_acc[k]);
        }
        cJSON_AddItemToArray(lrs, c);
    }
    cJSON_AddNumberToObject(root, "test_acc", r->acc);
    cJSON_AddNumberToObject(root, "test_n", (double)r->used);
    cJSON *sub = cJSON_AddArrayToObject(root, "masks");
    for (size_t k = 0; k < o->masks.n; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "mask", o->masks.v[k]);
        cJSON_AddNumberToObject(c, "n", (double)r->mused[k]);
        if (r->mused[k]) cJSON_AddNumberToObject(c, "acc", r->macc[k]);
        else cJSON_AddNullToObject(c, "acc");
        cJSON_AddItemToArray(sub, c);
    }
    int bad = write_json(CMD.cmd, o->json, root);
    cJSON_Delete(root);
    return bad;
}

int eval_classify(int argc, char **argv) {
    classify_opts o = {.cfg = ima_classifier_defaults()};
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return help(stdout), 0;
    if (rc) return rc;
    classify_run r;
    memset(&r, 0, sizeof r);
    rc = 1;
    if (load_all(&r, &o)) goto done;
    if (ima_classifier_fit(&r.clf, &r.rep, &o.cfg, r.x[0], r.y[0], r.n[0], r.x[1], r.y[1], r.n[1], r.d[0])) {
        rc = eval_fail(CMD.cmd);
        goto done;
    }
    r.pred = ima_try_malloc(r.n[2], sizeof *r.pred);
    if (!r.pred || ima_classifier_predict(r.clf, r.pred, r.x[2], r.n[2])) {
        ima_error_prefix("predictions for %zu test rows", r.n[2]);
        rc = eval_fail(CMD.cmd);
        goto done;
    }
    r.acc = ima_accuracy(r.pred, r.y[2], NULL, r.n[2], &r.used);
    for (size_t k = 0; k < o.masks.n; k++) r.macc[k] = ima_accuracy(r.pred, r.y[2], r.m[k], r.n[2], &r.mused[k]);
    print_run(&r, &o);
    rc = o.json && json_run(&r, &o) ? 1 : 0;
done:
    ima_classifier_free(r.clf);
    for (int s = 0; s < 3; s++) free(r.x[s]), free(r.y[s]);
    for (size_t k = 0; k < o.masks.n; k++) free(r.m[k]);
    free(r.pred);
    return rc;
}
