/* cmd_eval_tsne.c: `ima eval tsne`: a 2-D map, its KL divergence and trustworthiness, optional PNGs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/eval_util.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "ima/common.h"
#include "ima/npy.h"
#include "ima/plot.h"
#include "ima/tsne.h"
#include "io/atomic.h"

typedef struct {
    const char *rep, *out, *png, *labels, *noise, *values, *values_png, *json;
    size_t trust_k;
    ima_tsne_config cfg; // ima_tsne_defaults()
} tsne_opts;

#define O(field) offsetof(tsne_opts, field)
static const flag_spec FLAGS[] = {
    FLAG_NEEDED("--rep", FLAG_STR, O(rep), "FILE", "representations (N, D), float"),
    FLAG_NEEDED("--out", FLAG_STR, O(out), "FILE", "the map (N, 2), float32 .npy"),
    FLAG_ROW("--png", FLAG_STR, O(png), 0, 0, "FILE", "scatter of the map coloured by --labels (needs gnuplot)", 0),
    FLAG_ROW("--labels", FLAG_STR, O(labels), 0, 0, "FILE", "labels (N), integer, for --png", 0),
    FLAG_ROW("--noise", FLAG_STR, O(noise), 0, 0, "FILE", "noise flags (N of 0/1): drawn grey in --png", 0),
    FLAG_ROW("--values", FLAG_STR, O(values), 0, 0, "FILE",
             "a value per sample (N), e.g. importance y, for --values-png", 0),
    FLAG_ROW("--values-png", FLAG_STR, O(values_png), 0, 0, "FILE", "scatter of the map coloured by --values", 0),
    FLAG_ROW("--perplexity", FLAG_DOUBLE, O(cfg.perplexity), 1.0, 1000.0, "P", "effective number of neighbours", 0),
    FLAG_ROW("--theta", FLAG_DOUBLE, O(cfg.theta), 1e-6, 2.0, "T", "Barnes-Hut accuracy", 0),
    FLAG_ROW("--iters", FLAG_INT, O(cfg.n_iter), 1, 1000000, "N", "iterations (the first 250 with exaggeration 12)", 0),
    FLAG_ROW("--exact", FLAG_SET, O(cfg.method), IMA_TSNE_EXACT, 0, NULL,
             "exact O(N^2) t-SNE instead of Barnes-Hut (small N)", 0),
    FLAG_ROW("--seed", FLAG_U64, O(cfg.seed), 0, 0, "N", "initial map and tree seed", 0),
    FLAG_ROW("--trust-k", FLAG_SIZE, O(trust_k), 0, 100000, "K", "neighbours for trustworthiness (0 skips it)", 0),
    FLAG_ROW("--json", FLAG_STR, O(json), 0, 0, "FILE", "also write KL and trustworthiness as JSON", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "eval tsne", .flags = FLAGS};
_Static_assert(sizeof(ima_tsne_method) == sizeof(int), "--exact is a FLAG_SET (int) target");

static tsne_opts defaults(void) {
    tsne_opts o = {.trust_k = 10, .cfg = ima_tsne_defaults()};
    return o;
}

static void help(FILE *o) {
    fputs("usage: ima eval tsne --rep Z.npy --out MAP.npy [options]\n\n"
          "Barnes-Hut t-SNE to 2-D (perplexity 10 as in the paper), its KL divergence and trustworthiness.\n\n",
          o);
    tsne_opts d = defaults();
    flags_help(o, &CMD, &d, 0);
}

static void tsne_progress(void *ctx, int iter, int n_iter) {
    progress_update((progress *)ctx, (size_t)iter, NULL);
    (void)n_iter;
}

/* inputs and outputs of one run */
typedef struct {
    float *x, *y, *v; // (N, D) input, (N, 2) map, (N) values
    int64_t *labels;
    uint8_t *noise;
    size_t N, D;
    ima_tsne_result res;
    double tw, secs;
} tsne_run;

static int load_all(tsne_run *r, const tsne_opts *o) {
    const char *cmd = CMD.cmd;
    size_t vn, vd;
    if (load_matrix(cmd, "--rep", o->rep, &r->x, &r->N, &r->D) ||
        (o->labels && load_ints(cmd, "--labels", o->labels, r->N, &r->labels, NULL)) ||
        (o->noise && load_flags(cmd, "--noise", o->noise, r->N, &r->noise)) ||
        (o->values && load_matrix(cmd, "--values", o->values, &r->v, &vn, &vd)))
        return -1;
    if (o->values && (vn != r->N || vd != 1)) {
        fprintf(stderr, "ima %s: --values: %s is %zu x %zu; expected %zu values\n", cmd, o->values, vn, vd, r->N);
        return -1;
    }
    if (o->trust_k && 2 * o->trust_k >= r->N) {
        fprintf(stderr, "ima %s: --trust-k %zu needs more than %zu samples (have %zu); lower it or pass 0\n", cmd,
                o->trust_k, 2 * o->trust_k, r->N);
        return -1;
    }
    return 0;
}

/* the map, its measures and its pictures; prints the library's error */
static int run_map(tsne_run *r, tsne_opts *o) {
    if (!(r->y = ima_try_malloc(r->N, 2 * sizeof *r->y))) return eval_fail(CMD.cmd); // (N, 2) the map
    progress p;
    progress_begin(&p, "t-SNE", (size_t)o->cfg.n_iter);
    o->cfg.progress = tsne_progress;
    o->cfg.progress_ctx = &p;
    double t0 = ima_wall_seconds();
    if (ima_tsne_run(r->y, &r->res, r->x, r->N, r->D, &o->cfg)) return eval_fail(CMD.cmd);
    progress_end(&p, NULL);
    r->secs = ima_wall_seconds() - t0;
    r->tw = NAN;
    if (o->trust_k && ima_trustworthiness(&r->tw, r->x, r->D, r->y, 2, r->N, o->trust_k)) return eval_fail(CMD.cmd);
    /* the map and its plots are staged and renamed into place together: a failing plot leaves no map */
    ima_outset os;
    ima_outset_init(&os);
    const char *s_out = ima_outset_add(&os, o->out), *s_png = o->png && s_out ? ima_outset_add(&os, o->png) : NULL,
               *s_vpng = o->values_png && s_out ? ima_outset_add(&os, o->values_png) : NULL;
    if (!s_out || (o->png && !s_png) || (o->values_png && !s_vpng) || ima_npy_write_f32(s_out, r->N, 2, r->y)) {
        ima_outset_abort(&os);
        return eval_fail(CMD.cmd);
    }
    printf("tsne: %zu points of width %zu -> %s (%s, perplexity %g, %d iterations, %.1f s)\n", r->N, r->D, o->out,
           o->cfg.method == IMA_TSNE_EXACT ? "exact" : "Barnes-Hut", o->cfg.perplexity, o->cfg.n_iter, r->secs);
    printf("  KL(P || Q) %.4f", r->res.kl);
    if (o->trust_k) printf("   trustworthiness(k=%zu) %.4f", o->trust_k, r->tw);
    printf("\n");
    ima_plot_style st = {.title = o->rep};
    if ((o->png && ima_plot_scatter_labels(s_png, r->y, r->labels, r->noise, r->N, &st)) ||
        (o->values_png && ima_plot_scatter_values(s_vpng, r->y, r->v, r->N, o->values, &st)) ||
        ima_outset_commit(&os)) {
        ima_outset_abort(&os);
        return eval_fail(CMD.cmd);
    }
    return 0;
}

static int json_run(const tsne_run *r, const tsne_opts *o) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "measure", "tsne");
    cJSON_AddNumberToObject(root, "n", (double)r->N);
    cJSON_AddNumberToObject(root, "perplexity", o->cfg.perplexity);
    cJSON_AddNumberToObject(root, "kl", r->res.kl);
    if (o->trust_k) {
        cJSON_AddNumberToObject(root, "trust_k", (double)o->trust_k);
        cJSON_AddNumberToObject(root, "trustworthiness", r->tw);
    }
    int bad = write_json(CMD.cmd, o->json, root);
    cJSON_Delete(root);
    return bad;
}

int eval_tsne(int argc, char **argv) {
    tsne_opts o = defaults();
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return help(stdout), 0;
    if (rc) return rc;
    if (o.png && !o.labels) {
        fprintf(stderr, "ima %s: --png needs --labels (to colour by value use --values and --values-png)\n", CMD.cmd);
        return 2;
    }
    if (!!o.values != !!o.values_png) {
        fprintf(stderr, "ima %s: --values and --values-png go together\n", CMD.cmd);
        return 2;
    }
    tsne_run r;
    memset(&r, 0, sizeof r);
    rc = 1;
    if (!load_all(&r, &o) && !run_map(&r, &o)) rc = o.json && json_run(&r, &o) ? 1 : 0;
    free(r.x), free(r.y), free(r.v), free(r.labels), free(r.noise);
    return rc;
}
