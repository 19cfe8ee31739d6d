/* cmd_embed.c: `ima embed`: representations of a trained model for any subset of modalities.
 * IMA checkpoints: u_<name>.npy (N x d) and y_<name>.npy (N) for each given modality, z_weighted.npy and
 * z_unweighted.npy (N x d). Baseline checkpoints (told apart by their "format" metadata): z.npy (N x d).
 * N rows, d latent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/modality_args.h"
#include "core/blas.h"
#include "ima/common.h"
#include "ima/baseline_train.h"
#include "ima/npy.h"
#include "ima/train.h"
#include "io/atomic.h"

static const char *CMD = "embed";

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
                 "options:\n"
                 "  --mask NAME=PATH  0/1 .npy (N): rows where this modality is present (default: all)\n"
                 "  --batch B         rows per forward pass (1024)\n"
                 "  --threads T       OpenBLAS threads (1)\n");
}

static char *join(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + strlen(b) + 8;
    char *p = ima_malloc(n);
    snprintf(p, n, "%s/%s%s.npy", dir, a, b);
    return p;
}

/* Baselines: z (N, d) from the given modalities (sub's columns s are the model's modalities sub_of[s]; the
 * others are missing in every row, zero-filled and masked). Returns the exit code. */
static int embed_baseline(ima_baseline *bl, const ima_dataset *sub, const int *sub_of, int ns, size_t batch,
                          const char *outdir) {
    int M = bl->cfg.n_modalities;
    size_t N = sub->n, d = bl->cfg.latent_width;
    float *z = ima_malloc(N * d * sizeof(float));
    uint8_t *mask = ima_malloc(batch * (size_t)M);
    float *zero_rows[IMA_MAX_MODALITIES] = {0};
    int given[IMA_MAX_MODALITIES] = {0};
    for (int s = 0; s < ns; s++) given[sub_of[s]] = 1;
    for (int j = 0; j < M; j++)
        if (!given[j]) zero_rows[j] = ima_calloc(batch * bl->cfg.mod[j].input_width, sizeof(float));
    for (size_t lo = 0; lo < N; lo += batch) {
        size_t B = N - lo < batch ? N - lo : batch;
        ima_batch b = {.B = B, .mask = mask};
        for (int j = 0; j < M; j++) b.x[j] = zero_rows[j];
        for (int s = 0; s < ns; s++) b.x[sub_of[s]] = sub->x[s] + lo * sub->width[s];
        memset(mask, 0, B * (size_t)M);
        for (size_t i = 0; i < B; i++)
            for (int s = 0; s < ns; s++)
                mask[i * (size_t)M + (size_t)sub_of[s]] = sub->mask[(lo + i) * (size_t)ns + (size_t)s];
        ima_baseline_represent(bl, &b, z + lo * d);
    }
    char *pz = join(outdir, "z", "");
    int rc = 0;
    if (ima_mkdirs(outdir) || ima_npy_write_f32(pz, N, d, z)) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        rc = 1;
    } else {
        fprintf(stderr, "ima embed: %s: %zu samples -> %s (z)\n", ima_baseline_kind_name(bl->cfg.kind), N, outdir);
    }
    free(pz);
    for (int j = 0; j < M; j++) free(zero_rows[j]);
    free(mask);
    free(z);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    modality_inputs in;
    memset(&in, 0, sizeof in);
    const char *ckpt = NULL, *outdir = NULL, *mask_args[IMA_MAX_MODALITIES];
    int n_masks = 0;
    long batch = 1024, threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (arg_is(a, "--checkpoint") || arg_is(a, "--input") || arg_is(a, "--out") || arg_is(a, "--mask") ||
            arg_is(a, "--batch") || arg_is(a, "--threads")) {
            if (!(v = arg_value(CMD, argc, argv, &i))) return 2;
            if (arg_is(a, "--checkpoint"))
                ckpt = v;
            else if (arg_is(a, "--out"))
                outdir = v;
            else if (arg_is(a, "--input")) {
                if (inputs_add(&in, CMD, v)) return 2;
            } else if (arg_is(a, "--mask")) {
                if (n_masks >= IMA_MAX_MODALITIES) return arg_unknown(CMD, a);
                mask_args[n_masks++] = v;
            } else if (arg_is(a, "--batch")) {
                if (arg_long(CMD, a, v, 1, 1 << 20, &batch)) return 2;
            } else if (arg_long(CMD, a, v, 1, 256, &threads))
                return 2;
        } else {
            return arg_unknown(CMD, a);
        }
    }
    if (!ckpt || !outdir || in.n == 0) {
        fprintf(stderr, "ima embed: --checkpoint, --out and at least one --input are required (see --help)\n");
        return 2;
    }
    openblas_set_num_threads((int)threads);
    ima_model *m = NULL;
    ima_baseline *bl = NULL;
    int is_baseline = 0;
    if (ima_checkpoint_detect(ckpt, &is_baseline) ||
        (is_baseline ? ima_baseline_checkpoint_load(ckpt, (size_t)batch, &bl, NULL, NULL)
                     : ima_checkpoint_load(ckpt, (size_t)batch, &m, NULL, NULL))) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        return 1;
    }
    /* the model's modalities, whichever kind it is */
    int M = is_baseline ? bl->cfg.n_modalities : m->cfg.n_modalities, rc = 1;
    size_t d = is_baseline ? bl->cfg.latent_width : m->cfg.latent_width;
    const char *mod_name[IMA_MAX_MODALITIES];
    size_t mod_width[IMA_MAX_MODALITIES];
    for (int j = 0; j < M; j++) {
        mod_name[j] = is_baseline ? bl->cfg.mod[j].name : m->cfg.mod[j].name;
        mod_width[j] = is_baseline ? bl->cfg.mod[j].input_width : m->cfg.mod[j].input_width;
    }
    /* map the given inputs onto the model's modalities */
    const char *paths[IMA_MAX_MODALITIES] = {0}, *masks[IMA_MAX_MODALITIES] = {0};
    int given[IMA_MAX_MODALITIES] = {0};
    for (int k = 0; k < in.n; k++) {
        int j = -1;
        for (int t = 0; t < M; t++)
            if (!strcmp(mod_name[t], in.name[k])) j = t;
        if (j < 0) {
            fprintf(stderr, "ima embed: --input %s: the model has no modality of that name (it has:", in.name[k]);
            for (int t = 0; t < M; t++) fprintf(stderr, " %s", mod_name[t]);
            fprintf(stderr, ")\n");
            ima_model_free(m);
            ima_baseline_free(bl);
            return 2;
        }
        paths[j] = in.path[k];
        given[j] = 1;
    }
    for (int k = 0; k < n_masks; k++) {
        char name[IMA_NAME_MAX];
        const char *path;
        int j = -1;
        if (!split_named(mask_args[k], name, sizeof name, &path))
            for (int t = 0; t < M; t++)
                if (!strcmp(mod_name[t], name) && given[t]) j = t;
        if (j < 0) {
            fprintf(stderr, "ima embed: --mask: expected NAME=PATH for a modality given with --input, got '%s'\n",
                    mask_args[k]);
            ima_model_free(m);
            ima_baseline_free(bl);
            return 2;
        }
        masks[j] = path;
    }
    /* load the given modalities as a data set of their own, then widen it to the model's M */
    const char *sub_paths[IMA_MAX_MODALITIES], *sub_masks[IMA_MAX_MODALITIES];
    int sub_of[IMA_MAX_MODALITIES], ns = 0;
    for (int j = 0; j < M; j++)
        if (given[j]) sub_paths[ns] = paths[j], sub_masks[ns] = masks[j], sub_of[ns++] = j;
    ima_dataset sub;
    if (ima_dataset_load(&sub, ns, sub_paths, sub_masks)) {
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
        ima_model_free(m);
        ima_baseline_free(bl);
        return 1;
    }
    size_t N = sub.n;
    for (int s = 0; s < ns; s++)
        if (sub.width[s] != mod_width[sub_of[s]]) {
            fprintf(stderr, "ima embed: %s: %zu columns, but modality '%s' of %s expects width %zu\n", sub_paths[s],
                    sub.width[s], mod_name[sub_of[s]], ckpt, mod_width[sub_of[s]]);
            goto done;
        }
    if (is_baseline) {
        rc = embed_baseline(bl, &sub, sub_of, ns, (size_t)batch, outdir);
        goto done;
    }
    float *zw = ima_malloc(N * d * sizeof(float)), *zu = ima_malloc(N * d * sizeof(float));
    float *u[IMA_MAX_MODALITIES] = {0}, *y[IMA_MAX_MODALITIES] = {0};
    for (int j = 0; j < M; j++)
        if (given[j]) u[j] = ima_malloc(N * d * sizeof(float)), y[j] = ima_malloc(N * sizeof(float));
    uint8_t *mask = ima_malloc((size_t)batch * (size_t)M);
    float **zero_rows = ima_calloc((size_t)M, sizeof(float *));
    for (int j = 0; j < M; j++)
        if (!given[j]) zero_rows[j] = ima_calloc((size_t)batch * m->cfg.mod[j].input_width, sizeof(float));
    for (size_t lo = 0; lo < N; lo += (size_t)batch) {
        size_t B = N - lo < (size_t)batch ? N - lo : (size_t)batch;
        ima_batch b = {.B = B, .mask = mask};
        for (int j = 0; j < M; j++) b.x[j] = zero_rows[j];
        for (int s = 0; s < ns; s++) b.x[sub_of[s]] = sub.x[s] + lo * sub.width[s];
        for (size_t i = 0; i < B; i++)
            for (int j = 0; j < M; j++) mask[i * (size_t)M + (size_t)j] = 0;
        for (size_t i = 0; i < B; i++)
            for (int s = 0; s < ns; s++) mask[i * (size_t)M + (size_t)sub_of[s]] = sub.mask[(lo + i) * (size_t)ns + (size_t)s];
        ima_model_encode(m, &b, IMA_WEIGHTS_IMPORTANCE); /* the networks run once ... */
        memcpy(zw + lo * d, m->z, B * d * sizeof(float));
        ima_model_fuse(m, &b, IMA_WEIGHTS_ONE); /* ... and the unweighted z reuses their u_j */
        memcpy(zu + lo * d, m->z, B * d * sizeof(float));
        for (int j = 0; j < M; j++) {
            if (!given[j]) continue;
            memcpy(u[j] + lo * d, ima_model_u(m, j), B * d * sizeof(float));
            for (size_t i = 0; i < B; i++) y[j][lo + i] = mask[i * (size_t)M + (size_t)j] ? m->mod[j].y_imp[i] : 0.0f;
        }
    }
    /* every output staged, then renamed into place together: a failure leaves none of them */
    ima_outset os;
    ima_outset_init(&os);
    int ok = !ima_mkdirs(outdir);
    for (int j = 0; j < M && ok; j++) {
        if (!given[j]) continue;
        char *pu = join(outdir, "u_", m->cfg.mod[j].name), *py = join(outdir, "y_", m->cfg.mod[j].name);
        const char *su = ima_outset_add(&os, pu), *sy = su ? ima_outset_add(&os, py) : NULL;
        size_t shape[1] = {N};
        ok = sy && !ima_npy_write_f32(su, N, d, u[j]) && !ima_npy_write(sy, IMA_DTYPE_F32, 1, shape, y[j]);
        free(pu);
        free(py);
    }
    char *pw = join(outdir, "z_weighted", ""), *pz = join(outdir, "z_unweighted", "");
    const char *sw = ok ? ima_outset_add(&os, pw) : NULL, *sz = sw ? ima_outset_add(&os, pz) : NULL;
    ok = ok && sz && !ima_npy_write_f32(sw, N, d, zw) && !ima_npy_write_f32(sz, N, d, zu) && !ima_outset_commit(&os);
    ima_outset_abort(&os);
    if (!ok)
        fprintf(stderr, "ima embed: %s\n", ima_last_error());
    else {
        fprintf(stderr, "ima embed: %zu samples -> %s (z_weighted, z_unweighted", N, outdir);
        for (int j = 0; j < M; j++)
            if (given[j]) fprintf(stderr, ", u_%s, y_%s", m->cfg.mod[j].name, m->cfg.mod[j].name);
        fprintf(stderr, ")\n");
        rc = 0;
    }
    free(pw);
    free(pz);
    for (int j = 0; j < M; j++) free(u[j]), free(y[j]), free(zero_rows[j]);
    free(zero_rows);
    free(mask);
    free(zw);
    free(zu);
done:
    ima_dataset_free(&sub);
    ima_model_free(m);
    ima_baseline_free(bl);
    return rc;
}
