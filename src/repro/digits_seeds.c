/* digits_seeds.c: `ima repro digits --seeds S1,S2,...`: the digits repro once per seed, then the mean
 * and standard deviation over the seeds of every number of Tables 1 and 5 and of the detection table.
 * Each seed's report stays in OUT/seed-S; OUT/results.json keeps every seed's results.json. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "ima/importance.h"
#include "ima/repro.h"
#include "io/atomic.h"
#include "io/file.h"

/* a seed's results.json: a regular file of at most 64 MB (--reuse-seeds reads what a folder holds) */
static cJSON *read_json(const char *path) {
    size_t len;
    char *buf = ima_read_text(path, (size_t)64 << 20, &len);
    if (!buf) return NULL;
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    if (!o) ima_error("%s: not valid JSON", path);
    return o;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* mean and sample sd over the finite values */
static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    int c = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(v[k])) s += v[k], c++;
    *mean = c ? s / c : NAN;
    for (int k = 0; k < n; k++)
        if (isfinite(v[k])) s2 += (v[k] - *mean) * (v[k] - *mean);
    *sd = c > 1 ? sqrt(s2 / (c - 1)) : (c == 1 ? 0.0 : NAN);
}

static void cell(FILE *f, const double *v, int n, int digits) {
    double m, sd;
    mean_sd(v, n, &m, &sd);
    if (!isfinite(m)) fprintf(f, " - |");
    else fprintf(f, " %.*f ± %.*f |", digits, m, digits, sd);
}

static void add_stat(cJSON *o, const char *key, const double *v, int n) {
    double m, sd;
    mean_sd(v, n, &m, &sd);
    cJSON *s = cJSON_AddObjectToObject(o, key);
    if (isfinite(m)) cJSON_AddNumberToObject(s, "mean", m);
    else cJSON_AddNullToObject(s, "mean");
    if (isfinite(sd)) cJSON_AddNumberToObject(s, "sd", sd);
    else cJSON_AddNullToObject(s, "sd");
    cJSON *a = cJSON_AddArrayToObject(s, "per_seed");
    for (int k = 0; k < n; k++) cJSON_AddItemToArray(a, isfinite(v[k]) ? cJSON_CreateNumber(v[k]) : cJSON_CreateNull());
}

static int str_is(const cJSON *o, const char *key, const char *val) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) && !strcmp(s->valuestring, val);
}

/* the entry of arr whose string `key` (and `key2` unless NULL, and number "latent") match, or NULL */
static const cJSON *find(const cJSON *arr, const char *key, const char *val, const char *key2, const char *val2,
                         double latent) {
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (str_is(e, key, val) && (!key2 || str_is(e, key2, val2)) && num(e, "latent") == latent) return e;
    }
    return NULL;
}

int ima_repro_digits_seeds(const ima_repro_config *cfg, const uint64_t *seeds, int n) {
    if (n < 1 || n > 64) return ima_error("repro --seeds: expected 1..64 seeds, got %d", n);
    if (mkdir(cfg->out_dir, 0777) && errno != EEXIST)
        return ima_error("%s: cannot create the output folder (%s)", cfg->out_dir, strerror(errno));
    cJSON **res = ima_try_calloc((size_t)n, sizeof *res);
    if (!res) return ima_error_prefix("repro --seeds");
    char path[4200];
    int rc = IMA_OK;
    ima_local_ev_teacher teacher; /* built by the first seed, reused by the others when the split is the same */
    memset(&teacher, 0, sizeof teacher);
    for (int k = 0; k < n && rc == IMA_OK; k++) {
        ima_repro_config c = *cfg;
        if (!c.teacher) c.teacher = &teacher;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/seed-%llu", cfg->out_dir, (unsigned long long)seeds[k]);
        c.seed = seeds[k];
        c.out_dir = dir;
        if (k > 0) c.n_rho = 0; /* the rho sweep: first seed only */
        snprintf(path, sizeof path, "%s/results.json", dir);
        struct stat stt;
        if (cfg->reuse_seeds && stat(path, &stt) == 0) {
            fprintf(stderr, "repro: seed %llu: reusing %s (--reuse-seeds)\n", (unsigned long long)seeds[k], path);
        } else {
            fprintf(stderr, "repro: seed %llu (%d of %d) into %s\n", (unsigned long long)seeds[k], k + 1, n, dir);
            if ((rc = ima_repro_digits(&c))) break;
        }
        if (!(res[k] = read_json(path))) rc = IMA_ERR;
    }
    if (rc) goto done;

    /* the summary, keyed by the first seed's rows */
    /* report.md and results.json: staged beside their final names, moved into place together when both
     * are whole (a failure leaves neither half-written) */
    char jpath[4200];
    snprintf(path, sizeof path, "%s/report.md", cfg->out_dir);
    snprintf(jpath, sizeof jpath, "%s/results.json", cfg->out_dir);
    ima_outset os;
    ima_outset_init(&os);
    double *v = ima_try_malloc((size_t)n, sizeof *v);
    const char *md_tmp = v ? ima_outset_add(&os, path) : NULL, *js_tmp = md_tmp ? ima_outset_add(&os, jpath) : NULL;
    FILE *f = js_tmp ? fopen(md_tmp, "w") : NULL;
    if (!f) {
        rc = js_tmp ? ima_error("%s: cannot open for writing (%s)", path, strerror(errno))
                    : ima_error_prefix("repro --seeds");
        ima_outset_abort(&os);
        free(v);
        goto done;
    }
    cJSON *root = cJSON_CreateObject(), *sa = cJSON_AddArrayToObject(root, "seeds");
    for (int k = 0; k < n; k++) cJSON_AddItemToArray(sa, cJSON_CreateNumber((double)seeds[k]));
    fprintf(f, "# IMA on the digits corpus over %d seeds: mean ± sd\n\nProduced by `%s`. Seeds:", n,
            cfg->command_line ? cfg->command_line : "ima repro digits --seeds");
    for (int k = 0; k < n; k++) fprintf(f, " %llu", (unsigned long long)seeds[k]);
    fprintf(f,
            "; each seed's full report (settings, figures, the rho sweep for the first seed) is in seed-S/report.md. "
            "Standard deviations are sample sds over the seeds.");
    if (cfg->seeds_jobs > 0 && cfg->seeds_wall_seconds > 0) {
        fprintf(f,
                " The seeds this command ran took %.0f s (%.1f min) wall in all, %d at once, each in its own process "
                "with one OpenBLAS thread (a seed's own `seconds` below is its wall time beside the others).",
                cfg->seeds_wall_seconds, cfg->seeds_wall_seconds / 60.0, cfg->seeds_jobs);
        cJSON_AddNumberToObject(root, "wall_seconds", cfg->seeds_wall_seconds);
        cJSON_AddNumberToObject(root, "jobs", cfg->seeds_jobs);
    }
    fprintf(f, "\n\n");
    static const char *RK[] = {"p10",
                               "p50",
                               "p10_image_noise_queries",
                               "p10_speech_noise_queries",
                               "p10_excluding_same_recording",
                               "p50_excluding_same_recording",
                               "accuracy",
                               "accuracy_image_noise",
                               "accuracy_speech_noise"};
    static const char *RH[] = {"P@10",
                               "P@50",
                               "P@10 image-noise queries",
                               "P@10 speech-noise queries",
                               "P@10 excl. rec.",
                               "P@50 excl. rec.",
                               "accuracy %",
                               "accuracy image-noise %",
                               "accuracy speech-noise %"};
    const int NR = (int)(sizeof RK / sizeof *RK);
    cJSON *sum_reps = cJSON_AddArrayToObject(root, "representations");
    fprintf(f, "## Tables 1 and 5: retrieval and downstream accuracy on the test split\n\n| representation | d |");
    for (int q = 0; q < NR; q++) fprintf(f, " %s |", RH[q]);
    fprintf(f, "\n|---|---|");
    for (int q = 0; q < NR; q++) fprintf(f, "---|");
    fprintf(f, "\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(res[0], "representations")) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name"),
                    *fam = cJSON_GetObjectItemCaseSensitive(e, "family"),
                    *view = cJSON_GetObjectItemCaseSensitive(e, "view");
        if (!cJSON_IsString(nm) || !cJSON_IsString(fam) || !cJSON_IsString(view)) continue;
        double latent = num(e, "latent");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", nm->valuestring);
        cJSON_AddNumberToObject(o, "latent", latent);
        fprintf(f, "| %s | %.0f |", nm->valuestring, latent);
        for (int q = 0; q < NR; q++) {
            for (int k = 0; k < n; k++) {
                /* by family and view: a name may carry a per-seed choice ("constant weights (image 0.2)") */
                const cJSON *r = find(cJSON_GetObjectItemCaseSensitive(res[k], "representations"), "family",
                                      fam->valuestring, "view", view->valuestring, latent);
                v[k] = r ? num(r, RK[q]) * (q >= 6 ? 1.0 : 1.0) : NAN;
            }
            cell(f, v, n, q >= 6 ? 2 : 4);
            add_stat(o, RK[q], v, n);
        }
        fprintf(f, "\n");
        cJSON_AddItemToArray(sum_reps, o);
    }
    /* training length per model: epochs run, kept epoch and seconds (early stopping) */
    cJSON *sum_tr = cJSON_AddArrayToObject(root, "training");
    const cJSON *t0 = cJSON_GetObjectItemCaseSensitive(res[0], "training");
    if (cJSON_GetArraySize(t0) > 0)
        fprintf(f,
                "\n## Training length (early stopping on the validation loss)\n\n| model | d | epochs run | kept epoch "
                "| seconds |\n|---|---|---|---|---|\n");
    cJSON_ArrayForEach(e, t0) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(e, "model");
        if (!cJSON_IsString(md)) continue;
        double latent = num(e, "latent");
        static const char *TK[] = {"epochs_run", "best_epoch", "seconds"};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", md->valuestring);
        cJSON_AddNumberToObject(o, "latent", latent);
        fprintf(f, "| %s | %.0f |", md->valuestring, latent);
        for (int q = 0; q < 3; q++) {
            for (int k = 0; k < n; k++) {
                const cJSON *r = find(cJSON_GetObjectItemCaseSensitive(res[k], "training"), "model", md->valuestring,
                                      NULL, NULL, latent);
                v[k] = r ? num(r, TK[q]) : NAN;
            }
            cell(f, v, n, q == 2 ? 0 : 1);
            add_stat(o, TK[q], v, n);
        }
        fprintf(f, "\n");
        cJSON_AddItemToArray(sum_tr, o);
    }
    static const char *DK[] = {"precision", "recall", "f1", "auc", "best_f1", "mean_y"};
    const int ND = (int)(sizeof DK / sizeof *DK);
    cJSON *sum_imp = cJSON_AddArrayToObject(root, "importance");
    fprintf(
        f,
        "\n## Importance detection on the test split (noise called when y < 0.5)\n\n| model | modality | precision | "
        "recall | F1 | ranking AUC | best-threshold F1 | mean y |\n|---|---|---|---|---|---|---|---|\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(res[0], "importance")) {
        const cJSON *ob = cJSON_GetObjectItemCaseSensitive(e, "objective");
        if (!cJSON_IsString(ob)) continue;
        double latent = num(e, "latent");
        const char *obj = ob->valuestring;
        int paper = !strcmp(obj, "paper");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "latent", latent);
        cJSON_AddStringToObject(o, "objective", obj);
        for (int j = 0; j < 2; j++) {
            const char *mod = j ? "speech" : "image";
            cJSON *mo = cJSON_AddObjectToObject(o, mod);
            fprintf(f, "| IMA latent %.0f, %s | %s |", latent,
                    paper ? "paper's objective" : "local-ev objective (beyond the paper)", mod);
            for (int q = 0; q < ND; q++) {
                for (int k = 0; k < n; k++) {
                    const cJSON *r = find(cJSON_GetObjectItemCaseSensitive(res[k], "importance"), "objective", obj,
                                          NULL, NULL, latent);
                    const cJSON *d = r ? cJSON_GetObjectItemCaseSensitive(r, mod) : NULL;
                    v[k] = d ? num(d, DK[q]) : NAN;
                }
                cell(f, v, n, 3);
                add_stat(mo, DK[q], v, n);
            }
            fprintf(f, "\n");
        }
        cJSON_AddItemToArray(sum_imp, o);
    }
    free(v);
    int werr = ferror(f);
    if (fclose(f) || werr) rc = ima_error("%s: write failed", path);
    cJSON *per = cJSON_AddArrayToObject(root, "per_seed");
    for (int k = 0; k < n; k++) cJSON_AddItemToArray(per, res[k]), res[k] = NULL;
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    FILE *jf = rc == IMA_OK && text ? fopen(js_tmp, "w") : NULL;
    if (rc == IMA_OK && !text) rc = ima_error("%s: out of memory while formatting the results", jpath);
    else if (rc == IMA_OK && !jf) rc = ima_error("%s: cannot open for writing (%s)", jpath, strerror(errno));
    if (jf) {
        int bad = fputs(text, jf) < 0;
        if ((fclose(jf) || bad) && rc == IMA_OK) rc = ima_error("%s: write failed", jpath);
    }
    free(text);
    if (rc == IMA_OK) rc = ima_outset_commit(&os);
    ima_outset_abort(&os);
    if (rc == IMA_OK)
        fprintf(stderr, "repro: wrote %s/report.md and %s/results.json (%d seeds)\n", cfg->out_dir, cfg->out_dir, n);
done:
    ima_local_ev_teacher_free(&teacher);
    for (int k = 0; k < n; k++) cJSON_Delete(res[k]);
    free(res);
    return rc;
}
