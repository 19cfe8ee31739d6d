/* cmd_data_inspect.c: `ima data inspect DIR`: per split the pair counts (per digit and noise
 * kind), the value ranges of image.npy and speech.npy, and a PNG contact sheet (gnuplot): a few
 * pairs of one split, each image next to its MFCC map (12 coefficients x 58 frames), titled with
 * the label, the speaker and the noise flags, so that a person can see that the pairs match.
 * Dimensions: N pairs, 784 pixels (28 x 28), 696 = 58 frames x 12 coefficients (frame-major). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/flags.h"
#include "ima/common.h"
#include "ima/digits.h"
#include "ima/npy.h"
#include "io/file.h"

int data_inspect(int argc, char **argv);

typedef struct {
    size_t n;
    float *image;                         // (N, 784)
    float *speech;                        // (N, 696)
    int64_t *label;                       // (N)
    int64_t *in_flag, *sn_flag, *speaker; // (N)
} split_arrays;

static void split_free(split_arrays *s) {
    free(s->image), free(s->speech), free(s->label), free(s->in_flag), free(s->sn_flag), free(s->speaker);
    memset(s, 0, sizeof *s);
}

static int load_split(split_arrays *s, const char *dir, const char *split) {
    memset(s, 0, sizeof *s);
    char p[4200];
    size_t r, c, n;
#define PATH(f) (snprintf(p, sizeof p, "%s/%s/%s", dir, split, f), p)
    if (ima_npy_read_f32_matrix(PATH("image.npy"), &s->image, &s->n, &c)) return IMA_ERR;
    if (c != IMA_IMAGE_DIM) return ima_error("%s: %zu columns, expected 784", p, c);
    if (ima_npy_read_f32_matrix(PATH("speech.npy"), &s->speech, &r, &c)) return IMA_ERR;
    if (c != IMA_SPEECH_DIM || r != s->n) return ima_error("%s: shape (%zu, %zu), expected (%zu, 696)", p, r, c, s->n);
    int64_t **dst[4] = {&s->label, &s->in_flag, &s->sn_flag, &s->speaker};
    const char *names[4] = {"label.npy", "image_noise.npy", "speech_noise.npy", "speaker.npy"};
    for (int k = 0; k < 4; k++) {
        if (ima_npy_read_labels(PATH(names[k]), dst[k], &n)) return IMA_ERR;
        if (n != s->n) return ima_error("%s: %zu rows, but image.npy has %zu", p, n, s->n);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->label[i] < 0 || s->label[i] > 9)
            return ima_error("%s/%s/label.npy: row %zu: label %lld", dir, split, i, (long long)s->label[i]);
#undef PATH
    return IMA_OK;
}

static void range(const float *x, size_t n, float *mn, float *mx, double *mean) {
    *mn = n ? x[0] : 0, *mx = n ? x[0] : 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < *mn) *mn = x[i];
        if (x[i] > *mx) *mx = x[i];
        s += x[i];
    }
    *mean = n ? s / (double)n : 0;
}

/* speaker names from manifest.json (NULL when absent) */
/* the corpus's manifest.json (a regular file of at most 64 MB), or NULL with the reason in the error */
static cJSON *read_manifest(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    size_t len;
    char *t = ima_read_text(p, (size_t)64 << 20, &len);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    if (!j) ima_error("%s: not valid JSON", p);
    return j;
}

static const char *speaker_name(cJSON *man, int64_t idx) {
    const cJSON *spk = man ? cJSON_GetObjectItemCaseSensitive(man, "speakers") : NULL;
    const cJSON *e = spk ? cJSON_GetArrayItem(spk, (int)idx) : NULL;
    const cJSON *nm = e ? cJSON_GetObjectItemCaseSensitive(e, "name") : NULL;
    return cJSON_IsString(nm) ? nm->valuestring : "?";
}

/* gnuplot-safe title: drop quotes and underscores (enhanced text) */
static void clean_title(char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\'' || *s == '_' || *s == '\\' || *s == '^' || *s == '@' || *s == '{' || *s == '}')
            *s = ' ';
}

static int contact_sheet(const char *png, const split_arrays *s, const char *split, cJSON *man, size_t count) {
    /* picks: clean pairs spread over the split, then one image-noise and one speech-noise pair */
    size_t pick[64], np = 0, want_clean = count > 2 ? count - 2 : count;
    size_t n_clean = 0;
    for (size_t i = 0; i < s->n; i++) n_clean += !s->in_flag[i] && !s->sn_flag[i];
    size_t stride = n_clean / (want_clean ? want_clean : 1), seen = 0;
    for (size_t i = 0; i < s->n && np < want_clean; i++)
        if (!s->in_flag[i] && !s->sn_flag[i] && seen++ % (stride ? stride : 1) == 0) pick[np++] = i;
    for (int kind = 0; kind < 2 && np < count; kind++)
        for (size_t i = 0; i < s->n; i++)
            if (kind == 0 ? s->in_flag[i] : s->sn_flag[i]) {
                pick[np++] = i;
                break;
            }
    if (np == 0) return ima_error("%s: no pairs to show", split);
    char tmpl[] = "/tmp/ima_inspect_XXXXXX";
    if (!mkdtemp(tmpl)) return ima_error("cannot create a temporary folder for gnuplot");
    char script[512];
    snprintf(script, sizeof script, "%s/sheet.gp", tmpl);
    FILE *g = fopen(script, "w");
    if (!g) return ima_error("%s: cannot write", script);
    int cairo = system("gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1") == 0;
    fprintf(g, "set terminal %s size 900,%zu\nset output '%s'\n", cairo ? "pngcairo font ',8'" : "png small",
            150 * np + 40, png);
    fprintf(g, "unset key\nunset colorbox\nset tics scale 0\nunset xtics\nunset ytics\nset palette grey\n");
    fprintf(
        g,
        "set multiplot layout %zu,2 title 'ima data inspect: split %s (image | MFCC, 12 coefficients x 58 frames)'\n",
        np, split);
    for (size_t k = 0; k < np; k++) {
        size_t i = pick[k];
        char dat[600], t1[256], t2[256];
        snprintf(dat, sizeof dat, "%s/img%zu.dat", tmpl, k);
        FILE *f = fopen(dat, "w");
        for (int r = 0; r < 28; r++, fputc('\n', f))
            for (int c = 0; c < 28; c++) fprintf(f, "%g ", s->image[i * 784 + (size_t)r * 28 + (size_t)c]);
        fclose(f);
        snprintf(dat, sizeof dat, "%s/mfcc%zu.dat", tmpl, k);
        f = fopen(dat, "w");
        for (int c = 0; c < IMA_MFCC_COEFFS; c++, fputc('\n', f))
            for (int fr = 0; fr < IMA_MFCC_FRAMES; fr++)
                fprintf(f, "%g ", s->speech[i * 696 + (size_t)fr * 12 + (size_t)c]);
        fclose(f);
        snprintf(t1, sizeof t1, "pair %zu: label %lld%s", i, (long long)s->label[i],
                 s->in_flag[i] ? " (image noise)" : "");
        snprintf(t2, sizeof t2, "label %lld, speaker %s%s", (long long)s->label[i], speaker_name(man, s->speaker[i]),
                 s->sn_flag[i] ? " (speech noise)" : "");
        clean_title(t1);
        clean_title(t2);
        fprintf(
            g,
            "set title \"%s\"\nset size ratio -1\nset xrange [-0.5:27.5]\nset yrange [27.5:-0.5]\nset cbrange [0:1]\n"
            "plot '%s/img%zu.dat' matrix with image\n",
            t1, tmpl, k);
        fprintf(
            g,
            "set title \"%s\"\nset size noratio\nset xrange [-0.5:57.5]\nset yrange [-0.5:11.5]\nset cbrange [0:1]\n"
            "set palette rgbformulae 33,13,10\nplot '%s/mfcc%zu.dat' matrix with image\nset palette grey\n",
            t2, tmpl, k);
    }
    fprintf(g, "unset multiplot\n");
    fclose(g);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    int st = system(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0) fprintf(stderr, "ima data inspect: warning: could not remove %s\n", tmpl);
    if (st != 0)
        return ima_error("gnuplot failed (exit %d) writing %s: is gnuplot installed?",
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1, png);
    return IMA_OK;
}

typedef struct {
    const char *dir, *png;
    int split; // index into ima_split_names
    size_t count;
} inspect_opts;

#define O(field) offsetof(inspect_opts, field)
static const char *const SPLITS[] = {"train", "valid", "test", NULL};
static const flag_spec FLAGS[] = {
    {.name = "--png",
     .type = FLAG_STR,
     .off = O(png),
     .arg = "FILE",
     .help = "the contact sheet (default DIR/contact_sheet.png)"},
    {.name = "--split",
     .type = FLAG_CHOICE,
     .off = O(split),
     .arg = "train|valid|test",
     .choices = SPLITS,
     .help = "the split the contact sheet shows"},
    FLAG_ROW("--count", FLAG_SIZE, O(count), 1, 64, "K", "pairs on the contact sheet", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "data inspect", .flags = FLAGS, .positional = "DIR", .positional_off = O(dir)};
static const inspect_opts DEFAULTS = {.split = 2, .count = 8};
_Static_assert(IMA_NUM_SPLITS == 3, "SPLITS lists every split");

/* one line of counts and value ranges per split */
static void split_summary(const split_arrays *a, const char *name) {
    size_t per[IMA_NUM_DIGITS][3];
    memset(per, 0, sizeof per);
    size_t tot[3] = {0, 0, 0};
    for (size_t i = 0; i < a->n; i++) {
        int k = a->in_flag[i] ? 1 : a->sn_flag[i] ? 2 : 0;
        per[a->label[i]][k]++;
        tot[k]++;
    }
    float imn, imx, smn, smx;
    double im, sm;
    range(a->image, a->n * IMA_IMAGE_DIM, &imn, &imx, &im);
    range(a->speech, a->n * IMA_SPEECH_DIM, &smn, &smx, &sm);
    printf("%-6s %7zu %7zu %7zu %7zu   %.3f / %.3f / %.3f      %.3f / %.3f / %.3f\n", name, a->n, tot[0], tot[1],
           tot[2], imn, im, imx, smn, sm, smx);
    printf("       per digit (clean/img-nz/sp-nz):");
    for (int d = 0; d < IMA_NUM_DIGITS; d++) printf(" %d:%zu/%zu/%zu", d, per[d][0], per[d][1], per[d][2]);
    printf("\n");
}

int data_inspect(int argc, char **argv) {
    inspect_opts o = DEFAULTS;
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) {
        printf("usage: ima data inspect DIR [options]\n\n"
               "Counts per split, digit and noise kind; value ranges; a PNG contact sheet of K pairs of a split.\n\n");
        flags_help(stdout, &CMD, &DEFAULTS, 0);
        return 0;
    }
    if (rc) return rc;
    if (!o.dir) {
        fprintf(stderr, "ima %s: missing DIR (a corpus written by ima data digits)\n", CMD.cmd);
        return 2;
    }
    char png_buf[4200];
    if (!o.png) snprintf(png_buf, sizeof png_buf, "%s/contact_sheet.png", o.dir), o.png = png_buf;
    cJSON *man = read_manifest(o.dir);
    if (!man)
        fprintf(stderr, "ima %s: warning: %s: speaker names unknown\n", CMD.cmd, ima_last_error());
    printf("%-6s %7s %7s %7s %7s   %-24s %-24s\n", "split", "pairs", "clean", "img-nz", "sp-nz", "image min/mean/max",
           "speech min/mean/max");
    split_arrays shown = {0};
    for (int s = 0; s < IMA_NUM_SPLITS && !rc; s++) {
        split_arrays a;
        if (load_split(&a, o.dir, ima_split_names[s])) {
            fprintf(stderr, "ima %s: %s\n", CMD.cmd, ima_last_error());
            split_free(&a);
            rc = 1;
            break;
        }
        split_summary(&a, ima_split_names[s]);
        if (!strcmp(ima_split_names[s], SPLITS[o.split])) shown = a;
        else split_free(&a);
    }
    if (!rc && contact_sheet(o.png, &shown, SPLITS[o.split], man, o.count)) {
        fprintf(stderr, "ima %s: %s\n", CMD.cmd, ima_last_error());
        rc = 1;
    } else if (!rc) {
        printf("contact sheet: %s\n", o.png);
    }
    split_free(&shown);
    cJSON_Delete(man);
    return rc;
}
