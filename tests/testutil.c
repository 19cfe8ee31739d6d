/* testutil.c: see testutil.h */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ima/npy.h"
#include "ima/train.h"

int tu_passed = 0, tu_failed = 0;

int tu_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, tu_passed, tu_failed);
    return tu_failed ? 1 : 0;
}

char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t n = strlen(base) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/ima_test_XXXXXX", base);
    extern char *mkdtemp(char *);
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        exit(2);
    }
    return p;
}

char *tu_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

double tu_max_rel_diff(const float *a, const float *b, size_t n, double floor_) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]);
        if (s < floor_) s = floor_;
        double r = d / s;
        if (!(r <= worst)) worst = r; /* NaN propagates as worst */
    }
    return worst;
}

const char *tu_source_dir(void) {
    const char *s = getenv("IMA_SOURCE_DIR");
    return s && *s ? s : ".";
}

const char *tu_shared_dir(void) {
    const char *s = getenv("IMA_SHARED_DIR");
    return s && *s ? s : "../shared";
}

int tu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

unsigned char *tu_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    size_t r = fread(b, 1, *n, f);
    fclose(f);
    if (r != *n) {
        free(b);
        return NULL;
    }
    return b;
}

int tu_count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

void tu_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *p = tu_path(dir, e->d_name);
        if (unlink(p) != 0) rmdir(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

ima_config tu_small_config(size_t Da, size_t Db) {
    ima_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_modalities = 2;
    cfg.latent_width = 4;
    cfg.lambda_glob = 1;
    cfg.center_inputs = 1;
    for (int j = 0; j < 2; j++) {
        ima_modality_config *c = &cfg.mod[j];
        snprintf(c->name, sizeof c->name, "%s", j ? "b" : "a");
        c->input_width = j ? Db : Da;
        c->hidden_width = 16;
        c->loss = j ? IMA_LOSS_SSE : IMA_LOSS_BCE;
        c->lambda_rec = c->lambda_align = c->lambda_local = c->lambda_corr = 1;
        c->rho = 0.8f;
    }
    return cfg;
}

int tu_write_digits_split(const char *dir, const char *name, size_t n, double noise, int speech_id, ima_rng *rng) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mkdir(path, 0777)) return -1;
    float *img = malloc(n * 784 * sizeof(float)), *sp = malloc(n * 696 * sizeof(float));
    int64_t *lab = malloc(n * sizeof(int64_t)), *rec = malloc(n * sizeof(int64_t));
    uint8_t *in = malloc(n), *sn = malloc(n);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 10);
        double r = ima_rng_uniform(rng);
        lab[i] = c;
        in[i] = r < noise;
        sn[i] = !in[i] && r < 2 * noise;
        if (speech_id) rec[i] = sn[i] ? 100000 + (int64_t)i : (int64_t)(c * 7 + ima_rng_below(rng, 7));
        for (size_t k = 0; k < 784; k++)
            img[i * 784 + k] = in[i] ? (float)ima_rng_uniform(rng) : (k % 10 == (size_t)c ? 0.9f : 0.1f);
        for (size_t k = 0; k < 696; k++)
            sp[i * 696 + k] =
                sn[i] ? (float)ima_rng_uniform(rng) : (float)(0.5 + 0.4 * sin(0.01 * (double)(k * (c + 1))));
    }
    size_t shape[1] = {n};
    int rc = 0;
    snprintf(path, sizeof path, "%s/%s/image.npy", dir, name);
    rc |= ima_npy_write_f32(path, n, 784, img);
    snprintf(path, sizeof path, "%s/%s/speech.npy", dir, name);
    rc |= ima_npy_write_f32(path, n, 696, sp);
    snprintf(path, sizeof path, "%s/%s/label.npy", dir, name);
    rc |= ima_npy_write(path, IMA_DTYPE_I64, 1, shape, lab);
    if (speech_id) {
        snprintf(path, sizeof path, "%s/%s/speech_id.npy", dir, name);
        rc |= ima_npy_write(path, IMA_DTYPE_I64, 1, shape, rec);
    }
    snprintf(path, sizeof path, "%s/%s/image_noise.npy", dir, name);
    rc |= ima_npy_write(path, IMA_DTYPE_U8, 1, shape, in);
    snprintf(path, sizeof path, "%s/%s/speech_noise.npy", dir, name);
    rc |= ima_npy_write(path, IMA_DTYPE_U8, 1, shape, sn);
    free(img), free(sp), free(lab), free(rec), free(in), free(sn);
    return rc;
}

int tu_checkpoint_round_trip(const ima_model *m, const char *path, size_t max_batch, ima_model **back) {
    ima_train_config tc = ima_train_defaults();
    ima_train_state st;
    ima_train_state_init(&st, 1);
    if (ima_checkpoint_save(path, m, &tc, &st)) return -1;
    return ima_checkpoint_load(path, max_batch, back, NULL, NULL) ? -1 : 0;
}
