/* cmd_embed.c: `ima embed`: representations of a trained model for any subset of modalities.
 * IMA checkpoints: u_<name>.npy (N x d) and y_<name>.npy (N) for each given modality, z_weighted.npy and
 * z_unweighted.npy (N x d). Baseline checkpoints (told apart by their "format" metadata): z.npy (N x d).
 * N rows, d latent. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/baseline_train.h"
#include "ima/npy.h"
#include "ima/train.h"
#include "io/atomic.h"

typedef struct {
    modality_inputs in; // --input, --mask
    const char *ckpt, *out;
    size_t batch;
    int threads;
} embed_opts;

#define O(field) offsetof(embed_opts, field)
static const flag_spec FLAGS[] = {
    {.name = "--checkpoint", .type = FLAG_STR, .off = O(ckpt), .arg = "CKPT", .help = "a checkpoint of ima train"},
    {.name = "--input",
     .type = FLAG_CUSTOM,
     .off = O(in),
     .arg = "NAME=PATH",
     .parse = flag_parse_input,
     .help = "float .npy (N x D_j) of one of the model's modalities"},
    {.name = "--mask",
     .type = FLAG_STR,
     .off = O(in.mask),
     .stride = sizeof(const char *),
     .arg = "PATH",
     .help = "0/1 .npy (N): rows where this modality is present (default: all)",
     .named_only = 1},
    FLAG_ROW("--out", FLAG_STR, O(out), 0, 0, "DIR", "output folder", 0),
    FLAG_ROW("--batch", FLAG_SIZE, O(batch), 1, 1 << 20, "B", "rows per forward pass", 0),
    FLAG_ROW("--threads", FLAG_INT, O(threads), 1, 256, "T", "OpenBLAS threads", 0),
    FLAG_END,
};
static const flag_cmd CMD = {.cmd = "embed", .flags = FLAGS};
static const embed_opts DEFAULTS = {.batch = 1024, .threads = 1};

static void usage(FILE *out) {
    fprintf(out, "usage: ima embed --checkpoint CKPT --input NAME=PATH.npy [--input ...] --out DIR [options]\n"
                 "\n"
                 "Encodes samples with a trained model. Any subset of the model's modalities may be given; the\n"
                 "others count as missing for every row. With an IMA checkpoint (ima train) writes to DIR:\n"
                 "  u_NAME.npy       (N x d) unimodal representation of each given modality\n"
                 "  y_NAME.npy       (N) importance of each given modality (0 where masked)\n"
                 "  z_weighted.npy   (N x d) fusion weighted by the importance networks\n"
                 "  z_unweighted.npy (N x d) fusion with y = 1 (plain mean of the present modalities)\n"
                 "With a baseline checkpoint (ima train --model mvae|jmvae|dae):\n"
                 "  z.npy            (N x d) the model's representation from the present modalities\n"
                 "options:\n");
    flags_help(out, &CMD, &DEFAULTS, 0);
}

/* dir/ab.npy, or NULL (the error set) when memory runs out */
static char *join(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + strlen(b) + 8;
    char *p = ima_try_malloc(n, 1);
    if (p) snprintf(p, n, "%s/%s%s.npy", dir, a, b);
    return p;
}

/* The model of either kind, and the given modalities as a data set of their own: sub's column s is the
 * model's modality sub_of[s]; the others are missing in every row (zero-filled and masked). */
typedef struct {
    ima_model *m;
    ima_baseline *bl;
    int M;
    size_t d;
    const char *name[IMA_MAX_MODALITIES];
    size_t width[IMA_MAX_MODALITIES];
    ima_dataset sub;
    int sub_of[IMA_MAX_MODALITIES], ns, given[IMA_MAX_MODALITIES];
    uint8_t *mask;                        // (batch, M)
    float *zero_rows[IMA_MAX_MODALITIES]; // (batch, D_j) for the modalities not given
} embed_job;

static int load_model(embed_job *e, const embed_opts *o) {
    int is_baseline = 0;
    if (ima_checkpoint_detect(o->ckpt, &is_baseline) ||
        (is_baseline ? ima_baseline_checkpoint_load(o->ckpt, o->batch, &e->bl, NULL, NULL)
                     : ima_checkpoint_load(o->ckpt, o->batch, &e->m, NULL, NULL))) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        return 1;
    }
    e->M = is_baseline ? e->bl->cfg.n_modalities : e->m->cfg.n_modalities;
    e->d = is_baseline ? e->bl->cfg.latent_width : e->m->cfg.latent_width;
    for (int j = 0; j < e->M; j++) {
        e->name[j] = is_baseline ? e->bl->cfg.mod[j].name : e->m->cfg.mod[j].name;
        e->width[j] = is_baseline ? e->bl->cfg.mod[j].input_width : e->m->cfg.mod[j].input_width;
    }
    return 0;
}

/* maps the given inputs onto the model's modalities and loads them (model order) */
static int load_inputs(embed_job *e, const embed_opts *o) {
    const char *paths[IMA_MAX_MODALITIES], *masks[IMA_MAX_MODALITIES];
    int from[IMA_MAX_MODALITIES];
    for (int k = 0; k < o->in.n; k++) {
        int j = 0;
        while (j < e->M && strcmp(e->name[j], o->in.name[k])) j++;
        if (j == e->M) {
            fprintf(stderr, "ima embed: --input %s: the model has no modality of that name (it has:", o->in.name[k]);
            for (int t = 0; t < e->M; t++) fprintf(stderr, " %s", e->name[t]);
            fprintf(stderr, ")\n");
            return 2;
        }
        e->given[j] = 1, from[j] = k;
    }
    for (int j = 0; j < e->M; j++)
        if (e->given[j]) paths[e->ns] = o->in.path[from[j]], masks[e->ns] = o->in.mask[from[j]], e->sub_of[e->ns++] = j;
    if (ima_dataset_load(&e->sub, e->ns, paths, masks)) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        return 1;
    }
    for (int s = 0; s < e->ns; s++)
        if (e->sub.width[s] != e->width[e->sub_of[s]]) {
            fprintf(stderr, "ima embed: %s: %zu columns, but modality '%s' of %s expects width %zu\n", paths[s],
                    e->sub.width[s], e->name[e->sub_of[s]], o->ckpt, e->width[e->sub_of[s]]);
            return 1;
        }
    /* --batch is the caller's: out of memory is a message naming the size (freed by the caller) */
    int ok = (e->mask = ima_try_malloc(o->batch, (size_t)e->M)) != NULL;
    for (int j = 0; j < e->M && ok; j++)
        if (!e->given[j]) ok = (e->zero_rows[j] = ima_try_calloc(o->batch, e->width[j] * sizeof(float))) != NULL;
    if (!ok) {
        fprintf(stderr, "ima embed: --batch %zu: %s\n", o->batch, ima_last_error());
        return 1;
    }
    return 0;
}

/* the batch of rows [lo, lo + B) in the model's modalities */
static ima_batch widen_batch(embed_job *e, size_t lo, size_t B) {
    size_t M = (size_t)e->M, ns = (size_t)e->ns;
    ima_batch b = {.B = B, .mask = e->mask};
    for (int j = 0; j < e->M; j++) b.x[j] = e->zero_rows[j];
    for (int s = 0; s < e->ns; s++) b.x[e->sub_of[s]] = e->sub.x[s] + lo * e->sub.width[s];
    memset(e->mask, 0, B * M);
    for (size_t i = 0; i < B; i++)
        for (size_t s = 0; s < ns; s++) e->mask[i * M + (size_t)e->sub_of[s]] = e->sub.mask[(lo + i) * ns + s];
    return b;
}

/* Baselines: z (N, d) from the given modalities. Returns the exit code. */
static int embed_baseline(embed_job *e, size_t batch, const char *outdir) {
    size_t N = e->sub.n, d = e->d;
    float *z = ima_try_malloc(N, d * sizeof(float)); // (N, d)
    if (!z) {
        fprintf(stderr, "ima embed: %zu samples: %s\n", N, ima_last_error());
        return 1;
    }
    int bad = 0;
    for (size_t lo = 0; lo < N && !bad; lo += batch) {
        ima_batch b = widen_batch(e, lo, N - lo < batch ? N - lo : batch);
        bad = ima_baseline_represent(e->bl, &b, z + lo * d) != IMA_OK;
    }
    char *pz = bad ? NULL : join(outdir, "z", "");
    int rc = 0;
    if (bad || !pz || ima_mkdirs(outdir) || ima_npy_write_f32(pz, N, d, z)) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        rc = 1;
    } else {
        fprintf(stderr, "ima embed: %s: %zu samples -> %s (z)\n", ima_baseline_kind_name(e->bl->cfg.kind), N, outdir);
    }
    free(pz);
    free(z);
    return rc;
}

/* IMA: u_j and y_j of the given modalities, z weighted and unweighted */
typedef struct {
    float *zw, *zu;               // (N, d)
    float *u[IMA_MAX_MODALITIES]; // (N, d) given modalities
    float *y[IMA_MAX_MODALITIES]; // (N)
} ima_codes_out;

static int encode_all(embed_job *e, size_t batch, ima_codes_out *c) {
    ima_model *m = e->m;
    size_t N = e->sub.n, d = e->d, M = (size_t)e->M;
    for (size_t lo = 0; lo < N; lo += batch) {
        size_t B = N - lo < batch ? N - lo : batch;
        ima_batch b = widen_batch(e, lo, B);
        if (ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE)) return IMA_ERR; /* the networks run once ... */
        memcpy(c->zw + lo * d, m->z, B * d * sizeof(float));
        if (ima_model_fuse(m, &b, IMA_WEIGHTS_ONE)) return IMA_ERR; /* ... and the unweighted z reuses their u_j */
        memcpy(c->zu + lo * d, m->z, B * d * sizeof(float));
        for (int j = 0; j < e->M; j++) {
            if (!e->given[j]) continue;
            memcpy(c->u[j] + lo * d, ima_model_u(m, j), B * d * sizeof(float));
            for (size_t i = 0; i < B; i++) c->y[j][lo + i] = e->mask[i * M + (size_t)j] ? m->mod[j].y_imp[i] : 0.0f;
        }
    }
    return IMA_OK;
}

static int write_codes(const embed_job *e, const ima_codes_out *c, const char *outdir) {
    size_t N = e->sub.n, d = e->d, shape[1] = {N};
    /* every output staged, then renamed into place together: a failure leaves none of them */
    ima_outset os;
    ima_outset_init(&os);
    int ok = !ima_mkdirs(outdir);
    for (int j = 0; j < e->M && ok; j++) {
        if (!e->given[j]) continue;
        char *pu = join(outdir, "u_", e->name[j]), *py = join(outdir, "y_", e->name[j]);
        const char *su = pu && py ? ima_outset_add(&os, pu) : NULL, *sy = su ? ima_outset_add(&os, py) : NULL;
        ok = sy && !ima_npy_write_f32(su, N, d, c->u[j]) && !ima_npy_write(sy, IMA_DTYPE_F32, 1, shape, c->y[j]);
        free(pu), free(py);
    }
    char *pw = join(outdir, "z_weighted", ""), *pz = join(outdir, "z_unweighted", "");
    const char *sw = ok && pw && pz ? ima_outset_add(&os, pw) : NULL, *sz = sw ? ima_outset_add(&os, pz) : NULL;
    ok = ok && sz && !ima_npy_write_f32(sw, N, d, c->zw) && !ima_npy_write_f32(sz, N, d, c->zu) &&
         !ima_outset_commit(&os);
    ima_outset_abort(&os);
    free(pw), free(pz);
    if (!ok) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        return 1;
    }
    fprintf(stderr, "ima embed: %zu samples -> %s (z_weighted, z_unweighted", N, outdir);
    for (int j = 0; j < e->M; j++)
        if (e->given[j]) fprintf(stderr, ", u_%s, y_%s", e->name[j], e->name[j]);
    fprintf(stderr, ")\n");
    return 0;
}

static int embed_ima(embed_job *e, size_t batch, const char *outdir) {
    size_t N = e->sub.n, d = e->d;
    /* N from the data: out of memory is a message naming the size */
    ima_codes_out c = {.zw = ima_try_malloc(N, d * sizeof(float)), .zu = ima_try_malloc(N, d * sizeof(float))};
    int ok = c.zw && c.zu;
    for (int j = 0; j < e->M && ok; j++)
        if (e->given[j])
            ok = (c.u[j] = ima_try_malloc(N, d * sizeof(float))) && (c.y[j] = ima_try_malloc(N, sizeof(float)));
    int rc = 1;
    if (!ok || encode_all(e, batch, &c)) fprintf(stderr, "ima embed: %zu samples: %s\n", N, ima_last_error());
    else rc = write_codes(e, &c, outdir);
    for (int j = 0; j < e->M; j++) free(c.u[j]), free(c.y[j]);
    free(c.zw), free(c.zu);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    embed_opts o = DEFAULTS;
    flag_seen seen;
    int rc = flags_parse(&CMD, &o, argc, argv, &seen);
    if (rc == FLAGS_HELP) return usage(stdout), 0;
    if (rc || flags_apply_modal(&CMD, &o, &seen, &o.in)) return 2;
    if (!o.ckpt || !o.out || o.in.n == 0) {
        fprintf(stderr, "ima embed: --checkpoint, --out and at least one --input are required (see --help)\n");
        return 2;
    }
    openblas_set_num_threads(o.threads);
    embed_job e;
    memset(&e, 0, sizeof e);
    rc = load_model(&e, &o);
    if (!rc) rc = load_inputs(&e, &o);
    if (!rc) rc = e.bl ? embed_baseline(&e, o.batch, o.out) : embed_ima(&e, o.batch, o.out);
    for (int j = 0; j < e.M; j++) free(e.zero_rows[j]);
    free(e.mask);
    if (e.ns) ima_dataset_free(&e.sub);
    ima_model_free(e.m);
    ima_baseline_free(e.bl);
    return rc;
}
