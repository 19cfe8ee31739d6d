/* checkpoint_fields.c: JSON metadata fields and F32 tensor copies shared by the IMA and the
 * baseline checkpoints (layout in checkpoint_fields.h). */
#include "io/checkpoint_fields.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"

/* ---- the table codec ------------------------------------------------------------------- */

void ima_json_write_fields(cJSON *o, const ima_json_field *fields, size_t n, const void *base) {
    const char *b = base;
    for (size_t i = 0; i < n; i++) {
        const ima_json_field *f = &fields[i];
        const void *p = b + f->offset;
        switch (f->kind) {
        case IMA_JF_INT: cJSON_AddNumberToObject(o, f->key, *(const int *)p); break;
        case IMA_JF_LONG: cJSON_AddNumberToObject(o, f->key, (double)*(const long *)p); break;
        case IMA_JF_SIZE: cJSON_AddNumberToObject(o, f->key, (double)*(const size_t *)p); break;
        case IMA_JF_FLOAT: cJSON_AddNumberToObject(o, f->key, *(const float *)p); break;
        case IMA_JF_BOOL: cJSON_AddBoolToObject(o, f->key, *(const int *)p); break;
        case IMA_JF_LOSS: cJSON_AddStringToObject(o, f->key, ima_json_loss_name(*(const ima_loss_kind *)p)); break;
        case IMA_JF_NAME: cJSON_AddStringToObject(o, f->key, (const char *)p); break;
        }
    }
}

static int read_field(const cJSON *o, const ima_json_field *f, char *b, const char *path, const char *where) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, f->key) : NULL;
    void *p = b + f->offset;
    if (f->kind == IMA_JF_BOOL) {
        if (!cJSON_IsBool(v))
            return ima_error("%s: metadata %s: field '%s': expected true or false", path, where, f->key);
        *(int *)p = cJSON_IsTrue(v);
        return IMA_OK;
    }
    if (f->kind == IMA_JF_LOSS || f->kind == IMA_JF_NAME) {
        if (!cJSON_IsString(v)) return ima_error("%s: metadata %s: field '%s': expected a string", path, where, f->key);
        if (f->kind == IMA_JF_NAME) {
            if (strlen(v->valuestring) >= IMA_NAME_MAX)
                return ima_error("%s: metadata %s: field '%s': expected at most %d characters", path, where, f->key,
                                 IMA_NAME_MAX - 1);
            snprintf((char *)p, IMA_NAME_MAX, "%s", v->valuestring);
            return IMA_OK;
        }
        if (!strcmp(v->valuestring, "bce")) *(ima_loss_kind *)p = IMA_LOSS_BCE;
        else if (!strcmp(v->valuestring, "sse")) *(ima_loss_kind *)p = IMA_LOSS_SSE;
        else return ima_error("%s: metadata %s: field '%s': expected bce or sse", path, where, f->key);
        return IMA_OK;
    }
    if (!cJSON_IsNumber(v)) return ima_error("%s: metadata %s: field '%s': expected a number", path, where, f->key);
    double d = v->valuedouble;
    int whole = f->kind != IMA_JF_FLOAT;
    /* every check on the double, before any cast (a cast of an out-of-range double is undefined) */
    if (!(d >= f->lo && d <= f->hi) || (whole && d != floor(d)))
        return ima_error("%s: metadata %s: field '%s': expected %s in [%.17g, %.17g], got %.17g", path, where, f->key,
                         whole ? "a whole number" : "a number", f->lo, f->hi, d);
    switch (f->kind) {
    case IMA_JF_INT: *(int *)p = (int)d; break;
    case IMA_JF_LONG: *(long *)p = (long)d; break;
    case IMA_JF_SIZE: *(size_t *)p = (size_t)d; break;
    default: *(float *)p = (float)d; break;
    }
    return IMA_OK;
}

int ima_json_read_fields(const cJSON *o, const ima_json_field *fields, size_t n, void *base, const char *path,
                         const char *where) {
    for (size_t i = 0; i < n; i++) {
        /* a table's range must keep the cast defined: checked once here, a programmer error otherwise */
        const ima_json_field *f = &fields[i];
        IMA_ASSERT(f->kind != IMA_JF_INT || (f->lo >= INT_MIN && f->hi <= INT_MAX));
        IMA_ASSERT(f->kind != IMA_JF_LONG || (f->lo >= -9007199254740992.0 && f->hi <= 9007199254740992.0));
        IMA_ASSERT(f->kind != IMA_JF_SIZE || (f->lo >= 0 && f->hi <= 9007199254740992.0));
        IMA_ASSERT(f->kind != IMA_JF_FLOAT || (f->lo >= -FLT_MAX && f->hi <= FLT_MAX));
        if (read_field(o, f, base, path, where)) return IMA_ERR;
    }
    return IMA_OK;
}

/* ---- JSON fields ------------------------------------------------------------------------ */

int ima_json_num(const cJSON *o, const char *key, double *out, const char *path, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return ima_error("%s: metadata %s: field '%s': expected a number", path, where, key);
    *out = v->valuedouble;
    return IMA_OK;
}

const char *ima_json_loss_name(ima_loss_kind loss) { return loss == IMA_LOSS_SSE ? "sse" : "bce"; }

int ima_json_loss_parse(ima_loss_kind *out, const char *s, const char *path, int j) {
    if (!strcmp(s, "bce")) *out = IMA_LOSS_BCE;
    else if (!strcmp(s, "sse")) *out = IMA_LOSS_SSE;
    else return ima_error("%s: metadata config: modality %d: loss '%s': expected bce or sse", path, j, s);
    return IMA_OK;
}

/* Adam: lr > 0, betas in [0, 1), eps > 0, weight decay >= 0 (all finite) */
static const ima_json_field adam_fields[] = {
    {"lr", IMA_JF_FLOAT, offsetof(ima_adam_config, lr), 1e-30, 1e6},
    {"beta1", IMA_JF_FLOAT, offsetof(ima_adam_config, beta1), 0, 0.999999},
    {"beta2", IMA_JF_FLOAT, offsetof(ima_adam_config, beta2), 0, 0.999999999},
    {"eps", IMA_JF_FLOAT, offsetof(ima_adam_config, eps), 1e-30, 1},
    {"weight_decay", IMA_JF_FLOAT, offsetof(ima_adam_config, weight_decay), 0, 1e6},
};

void ima_json_add_adam(cJSON *o, const char *key, const ima_adam_config *a) {
    ima_json_write_fields(cJSON_AddObjectToObject(o, key), IMA_JSON_FIELDS(adam_fields), a);
}

int ima_json_get_adam(const cJSON *o, const char *key, ima_adam_config *a, const char *path, const char *where) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsObject(e)) return ima_error("%s: metadata %s: expected an object", path, where);
    return ima_json_read_fields(e, IMA_JSON_FIELDS(adam_fields), a, path, where);
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
    if (!*config || !*train_state) return ima_error("%s: metadata: missing 'config' or 'train_state'", path);
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
    if (t->dtype != IMA_DTYPE_F32) return ima_error("%s: tensor '%s': expected dtype F32", f->path, name);
    int ok = t->ndim == ndim && t->count == count;
    for (int k = 0; ok && k < ndim; k++) ok = t->shape[k] == shape[k];
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
