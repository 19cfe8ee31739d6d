/* checkpoint_fields.c: JSON metadata fields and F32 tensor copies shared by the IMA and the
 * baseline checkpoints (layout in checkpoint_fields.h). */
#include "io/checkpoint_fields.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"

/* ---- JSON fields ------------------------------------------------------------------------ */

int ima_json_num(const cJSON *o, const char *key, double *out, const char *path, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return ima_error("%s: metadata %s: field '%s': expected a number", path, where, key);
    *out = v->valuedouble;
    return IMA_OK;
}

const char *ima_json_loss_name(ima_loss_kind loss) { return loss == IMA_LOSS_SSE ? "sse" : "bce"; }

int ima_json_loss_parse(ima_loss_kind *out, const char *s, const char *path, int j) {
    if (!strcmp(s, "bce"))
        *out = IMA_LOSS_BCE;
    else if (!strcmp(s, "sse"))
        *out = IMA_LOSS_SSE;
    else
        return ima_error("%s: metadata config: modality %d: loss '%s': expected bce or sse", path, j, s);
    return IMA_OK;
}

void ima_json_add_adam(cJSON *o, const char *key, const ima_adam_config *a) {
    cJSON *e = cJSON_AddObjectToObject(o, key);
    cJSON_AddNumberToObject(e, "lr", a->lr);
    cJSON_AddNumberToObject(e, "beta1", a->beta1);
    cJSON_AddNumberToObject(e, "beta2", a->beta2);
    cJSON_AddNumberToObject(e, "eps", a->eps);
    cJSON_AddNumberToObject(e, "weight_decay", a->weight_decay);
}

int ima_json_get_adam(const cJSON *o, const char *key, ima_adam_config *a, const char *path, const char *where) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    double v[5];
    const char *k[5] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    for (int i = 0; i < 5; i++)
        if (ima_json_num(e, k[i], &v[i], path, where))
            return IMA_ERR;
    a->lr = (float)v[0], a->beta1 = (float)v[1], a->beta2 = (float)v[2], a->eps = (float)v[3];
    a->weight_decay = (float)v[4];
    return IMA_OK;
}

void ima_json_add_rng(cJSON *o, const ima_rng *rng) {
    cJSON *r = cJSON_AddArrayToObject(o, "rng");
    for (int i = 0; i < 4; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, rng->s[i]);
        cJSON_AddItemToArray(r, cJSON_CreateString(buf));
    }
}

int ima_json_get_rng(const cJSON *o, ima_rng *rng, const char *path) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rng");
    if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 4)
        return ima_error("%s: metadata train_state: field 'rng': expected 4 strings", path);
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(r, i);
        char *end = NULL;
        if (!cJSON_IsString(e) || !*(e->valuestring) || *(e->valuestring) == '-' ||
            (rng->s[i] = strtoull(e->valuestring, &end, 10), *end != '\0'))
            return ima_error("%s: metadata train_state: field 'rng': expected decimal strings", path);
    }
    return IMA_OK;
}

/* ---- metadata and tensors --------------------------------------------------------------- */

void ima_ckpt_meta_write(ima_st_writer *w, const char *format, const char *config, const char *train_state) {
    ima_st_writer_meta(w, "format", format);
    ima_st_writer_meta(w, "version", "1");
    ima_st_writer_meta(w, "ima_version", IMA_VERSION);
    ima_st_writer_meta(w, "config", config);
    ima_st_writer_meta(w, "train_state", train_state);
}

int ima_ckpt_meta_read(const ima_st_file *f, const char *path, const char **config, const char **train_state) {
    const char *ver = ima_st_meta(f, "version");
    *config = ima_st_meta(f, "config");
    *train_state = ima_st_meta(f, "train_state");
    if (!ver || strcmp(ver, "1"))
        return ima_error("%s: metadata 'version': expected 1, got '%s' (written by a newer ima?)", path,
                         ver ? ver : "");
    if (!*config || !*train_state)
        return ima_error("%s: metadata: missing 'config' or 'train_state'", path);
    return IMA_OK;
}

void ima_ckpt_write_views(ima_st_writer *w, const ima_param_view *views, size_t n) {
    for (size_t v = 0; v < n; v++)
        ima_st_writer_add(w, views[v].name, IMA_DTYPE_F32, views[v].ndim, views[v].shape, views[v].data);
}

int ima_ckpt_copy_tensor(const ima_st_file *f, const char *name, float *dst, int ndim, const size_t *shape,
                         size_t count) {
    const ima_st_tensor *t = ima_st_find(f, name);
    if (!t)
        return ima_error("%s: tensor '%s' is missing (the checkpoint does not match its own config)", f->path, name);
    if (t->dtype != IMA_DTYPE_F32)
        return ima_error("%s: tensor '%s': expected dtype F32", f->path, name);
    int ok = t->ndim == ndim && t->count == count;
    for (int k = 0; ok && k < ndim; k++)
        ok = t->shape[k] == shape[k];
    if (!ok)
        return ima_error("%s: tensor '%s': shape does not match the configuration (expected %zu elements)", f->path,
                         name, count);
    memcpy(dst, t->data, count * sizeof(float));
    for (size_t k = 0; k < count; k++)
        if (!(dst[k] - dst[k] == 0.0f))
            return ima_error("%s: tensor '%s': element %zu is NaN or infinite (corrupted checkpoint)", f->path, name,
                             k);
    return IMA_OK;
}

int ima_ckpt_read_views(const ima_st_file *f, const ima_param_view *views, size_t n) {
    for (size_t v = 0; v < n; v++)
        if (ima_ckpt_copy_tensor(f, views[v].name, views[v].data, views[v].ndim, views[v].shape, views[v].count))
            return IMA_ERR;
    return IMA_OK;
}
