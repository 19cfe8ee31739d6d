/* dataset.c: loading a multimodal data set from .npy files, centring means, batch gathering.
 * N rows, M modalities, D_j widths, B batch rows. Every size product is overflow-checked and every
 * allocation a file or a caller sizes returns an error instead of ending the process. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ima/common.h"
#include "ima/npy.h"
#include "ima/train.h"

void ima_dataset_free(ima_dataset *ds) {
    if (!ds) return;
    for (int j = 0; j < IMA_MAX_MODALITIES; j++)
        if (ds->map[j]) munmap(ds->map[j], ds->map_bytes[j]);
        else free(ds->x[j]);
    free(ds->mask);
    memset(ds, 0, sizeof *ds);
}

/* x[j] of a float32 .npy mapped read-only (*mapped = 0, nothing done, for another dtype or layout) */
static int map_f32(ima_dataset *ds, int j, const char *path, size_t *rows, size_t *cols, int *mapped) {
    ima_npy h;
    size_t offset;
    *mapped = 0;
    if (ima_npy_read_header(&h, path, &offset)) return IMA_ERR;
    if (h.dtype != IMA_DTYPE_F32 || (h.ndim != 1 && h.ndim != 2) || offset % sizeof(float)) return IMA_OK;
    *rows = h.shape[0];
    *cols = h.ndim == 2 ? h.shape[1] : 1;
    size_t bytes = offset + h.count * sizeof(float); /* the header reader checked this against the file */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ima_error("%s: cannot open for mapping", path);
    void *p = bytes ? mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0) : NULL;
    close(fd);
    if (bytes && p == MAP_FAILED) return ima_error("%s: cannot map %zu bytes", path, bytes);
    ds->map[j] = p, ds->map_bytes[j] = bytes;
    ds->x[j] = (float *)((char *)p + offset);
    *mapped = 1;
    for (size_t k = 0; k < h.count; k++) /* the reader's check: finite values only */
        if (!isfinite(ds->x[j][k]))
            return ima_error("%s: data: value at row %zu, column %zu (0-based) is %s; the matrix must be finite", path,
                             k / *cols, k % *cols,
                             isnan(ds->x[j][k]) ? "NaN" : (ds->x[j][k] > 0 ? "+Inf" : "-Inf"));
    return IMA_OK;
}

static int dataset_load(ima_dataset *ds, int M, const char *const *paths, const char *const *mask_paths, int map) {
    memset(ds, 0, sizeof *ds);
    if (M < 1 || M > IMA_MAX_MODALITIES)
        return ima_error("dataset: expected 1..%d modalities, got %d", IMA_MAX_MODALITIES, M);
    ds->n_modalities = M;
    for (int j = 0; j < M; j++) {
        size_t rows, cols;
        int mapped = 0;
        if (map && map_f32(ds, j, paths[j], &rows, &cols, &mapped)) goto fail;
        if (!mapped && ima_npy_read_f32_matrix(paths[j], &ds->x[j], &rows, &cols)) goto fail;
        if (rows == 0) {
            ima_error("%s: the array has no rows (expected at least one sample)", paths[j]);
            goto fail;
        }
        if (cols == 0) {
            ima_error("%s: the array has %zu rows of 0 columns (expected at least one feature)", paths[j], rows);
            goto fail;
        }
        if (j > 0 && rows != ds->n) {
            ima_error("%s: %zu rows, but %s has %zu: every modality needs one row per sample", paths[j], rows, paths[0],
                      ds->n);
            goto fail;
        }
        ds->n = rows;
        ds->width[j] = cols;
    }
    /* n * M cannot wrap here (n rows of at least one float each were read), but is checked anyway */
    if (!(ds->mask = ima_try_malloc(ds->n, (size_t)M))) {
        ima_error_prefix("dataset: mask of %zu rows", ds->n);
        goto fail;
    }
    memset(ds->mask, 1, ds->n * (size_t)M);
    for (int j = 0; j < M; j++) {
        if (!mask_paths || !mask_paths[j]) continue;
        int64_t *lab = NULL;
        size_t n;
        if (ima_npy_read_labels(mask_paths[j], &lab, &n)) goto fail;
        if (n != ds->n) {
            free(lab);
            ima_error("%s: the mask has %zu rows, expected %zu (one per sample of %s)", mask_paths[j], n, ds->n,
                      paths[j]);
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            if (lab[i] != 0 && lab[i] != 1) {
                ima_error("%s: row %zu: mask value %lld, expected 0 (missing) or 1 (present)", mask_paths[j], i,
                          (long long)lab[i]);
                free(lab);
                goto fail;
            }
            ds->mask[i * (size_t)M + (size_t)j] = (uint8_t)lab[i];
        }
        free(lab);
    }
    for (size_t i = 0; i < ds->n; i++) {
        int any = 0;
        for (int j = 0; j < M; j++) any |= ds->mask[i * (size_t)M + (size_t)j];
        if (!any) {
            ima_error("%s: row %zu has every modality masked as missing (at least one must be present)",
                      mask_paths && mask_paths[0] ? mask_paths[0] : paths[0], i);
            goto fail;
        }
    }
    return IMA_OK;
fail:
    ima_dataset_free(ds);
    return IMA_ERR;
}

int ima_dataset_load(ima_dataset *ds, int M, const char *const *paths, const char *const *mask_paths) {
    return dataset_load(ds, M, paths, mask_paths, 0);
}

int ima_dataset_map(ima_dataset *ds, int M, const char *const *paths, const char *const *mask_paths) {
    return dataset_load(ds, M, paths, mask_paths, 1);
}

int ima_dataset_check(const ima_dataset *ds, const ima_config *cfg, const char *const *paths) {
    if (ds->n_modalities != cfg->n_modalities)
        return ima_error("data: %d modalities given, the model has %d", ds->n_modalities, cfg->n_modalities);
    for (int j = 0; j < cfg->n_modalities; j++)
        if (ds->width[j] != cfg->mod[j].input_width)
            return ima_error("%s: %zu columns, but modality '%s' of the model expects width %zu",
                             paths ? paths[j] : cfg->mod[j].name, ds->width[j], cfg->mod[j].name,
                             cfg->mod[j].input_width);
    for (int j = 0; j < cfg->n_modalities; j++) {
        if (cfg->mod[j].loss != IMA_LOSS_BCE) continue;
        size_t D = ds->width[j];
        for (size_t k = 0; k < ds->n * D; k++)
            if (ds->x[j][k] < 0.0f || ds->x[j][k] > 1.0f)
                return ima_error("%s: row %zu, column %zu: value %g outside [0, 1], which the bce loss of modality "
                                 "'%s' needs (use --loss %s=sse for real-valued data)",
                                 paths ? paths[j] : cfg->mod[j].name, k / D, k % D, (double)ds->x[j][k],
                                 cfg->mod[j].name, cfg->mod[j].name);
    }
    return IMA_OK;
}

int ima_model_fit_center(ima_model *m, const ima_dataset *ds) {
    int M = m->cfg.n_modalities;
    for (int j = 0; j < M; j++) {
        size_t D = m->cfg.mod[j].input_width, n = 0;
        double *acc = ima_try_calloc(D, sizeof(double));
        if (!acc) return ima_error_prefix("centring means of '%s'", m->cfg.mod[j].name);
        for (size_t i = 0; i < ds->n; i++) {
            if (!ds->mask[i * (size_t)M + (size_t)j]) continue;
            n++;
            const float *x = ds->x[j] + i * D;
            for (size_t c = 0; c < D; c++) acc[c] += x[c];
        }
        for (size_t c = 0; c < D; c++)
            m->mod[j].center[c] = (m->cfg.center_inputs && n) ? (float)(acc[c] / (double)n) : 0.0f;
        free(acc);
    }
    return IMA_OK;
}

int ima_batch_buffer_init(ima_batch_buffer *bb, const ima_dataset *ds, size_t cap) {
    memset(bb, 0, sizeof *bb);
    bb->cap = cap;
    size_t n;
    for (int j = 0; j < ds->n_modalities; j++)
        if (ima_mul_overflows(cap, ds->width[j], &n) || !(bb->x[j] = ima_try_malloc(n, sizeof(float)))) {
            if (!bb->x[j])
                ima_error("out of memory: a batch of %zu rows x %zu columns does not fit", cap, ds->width[j]);
            ima_batch_buffer_free(bb);
            return IMA_ERR;
        }
    if (!(bb->mask = ima_try_malloc(cap, (size_t)ds->n_modalities))) {
        ima_batch_buffer_free(bb);
        return ima_error_prefix("batch mask");
    }
    return IMA_OK;
}

void ima_batch_buffer_free(ima_batch_buffer *bb) {
    for (int j = 0; j < IMA_MAX_MODALITIES; j++) free(bb->x[j]);
    free(bb->mask);
    memset(bb, 0, sizeof *bb);
}

const ima_batch *ima_batch_gather(ima_batch_buffer *bb, const ima_dataset *ds, const size_t *idx, size_t B) {
    if (B > bb->cap)
        return ima_error("%s: %zu rows: the buffer holds at most %zu", __func__, B, bb->cap), (const ima_batch *)NULL;
    for (size_t r = 0; r < B; r++)
        if (idx[r] >= ds->n)
            return ima_error("%s: index %zu (row %zu of the batch): the data set has %zu rows", __func__, idx[r], r,
                             ds->n),
                   (const ima_batch *)NULL;
    int M = ds->n_modalities;
    for (int j = 0; j < M; j++) {
        size_t D = ds->width[j];
        for (size_t r = 0; r < B; r++) memcpy(bb->x[j] + r * D, ds->x[j] + idx[r] * D, D * sizeof(float));
        bb->batch.x[j] = bb->x[j];
    }
    for (size_t r = 0; r < B; r++) memcpy(bb->mask + r * (size_t)M, ds->mask + idx[r] * (size_t)M, (size_t)M);
    bb->batch.mask = bb->mask;
    bb->batch.B = B;
    return &bb->batch;
}
