/* checkpoint.c: baseline checkpoints as safetensors (layout in baseline_train.h): parameter tensors by name,
 * the Adam moments, the configuration and training state as JSON metadata.
 * P parameters, M modalities. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "io/checkpoint_fields.h"

#define FORMAT "ima-baseline-checkpoint"
#define MAX_VIEWS (IMA_MAX_MODALITIES * 12 + 6)

/* ---- configuration <-> JSON ---------------------------------------------------------------------------- */

static char *config_json(const ima_baseline_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", ima_baseline_kind_name(c->kind));
    cJSON_AddNumberToObject(o, "n_modalities", c->n_modalities);
    cJSON_AddNumberToObject(o, "latent_width", (double)c->latent_width);
    cJSON_AddNumberToObject(o, "joint_hidden", (double)c->joint_hidden);
    cJSON_AddNumberToObject(o, "beta", c->beta);
    cJSON_AddNumberToObject(o, "alpha", c->alpha);
    cJSON_AddNumberToObject(o, "mvae_subsets", c->mvae_subsets);
    cJSON_AddNumberToObject(o, "dae_feature_drop", c->dae_feature_drop);
    cJSON_AddNumberToObject(o, "dae_modality_drop", c->dae_modality_drop);
    cJSON *mods = cJSON_AddArrayToObject(o, "modalities");
    for (int j = 0; j < c->n_modalities; j++) {
        const ima_baseline_modality *m = &c->mod[j];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", m->name);
        cJSON_AddNumberToObject(e, "input_width", (double)m->input_width);
        cJSON_AddNumberToObject(e, "hidden_width", (double)m->hidden_width);
        cJSON_AddStringToObject(e, "loss", ima_json_loss_name(m->loss));
        cJSON_AddBoolToObject(e, "gaussian_logvar", m->gaussian_logvar);
        cJSON_AddNumberToObject(e, "lambda_rec", m->lambda_rec);
        cJSON_AddItemToArray(mods, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* a count that must be a non-negative integer below 2^31 before it becomes a size */
static int json_count(const cJSON *o, const char *key, size_t *out, const char *path, const char *where) {
    double v = 0;
    if (ima_json_num(o, key, &v, path, where))
        return IMA_ERR;
    if (!(v >= 0 && v < 2147483648.0) || v != (double)(long)v)
        return ima_error("%s: metadata %s: field '%s': expected a non-negative integer, got %g", path, where, key, v);
    *out = (size_t)v;
    return IMA_OK;
}

static int config_parse(ima_baseline_config *c, const char *json, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return ima_error("%s: metadata 'config' is not valid JSON", path);
    int rc = IMA_ERR;
    double v = 0;
    size_t n = 0;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(kind)) {
        ima_error("%s: metadata config: field 'kind': expected a string", path);
        goto done;
    }
    if (ima_baseline_kind_parse(&c->kind, kind->valuestring)) {
        ima_error_prefix("%s: metadata config", path);
        goto done;
    }
    if (json_count(o, "n_modalities", &n, path, "config"))
        goto done;
    if (n < 1 || n > IMA_MAX_MODALITIES) {
        ima_error("%s: metadata config: field 'n_modalities': expected 1..%d", path, IMA_MAX_MODALITIES);
        goto done;
    }
    c->n_modalities = (int)n;
    if (json_count(o, "latent_width", &c->latent_width, path, "config") ||
        json_count(o, "joint_hidden", &c->joint_hidden, path, "config") ||
        json_count(o, "mvae_subsets", &n, path, "config"))
        goto done;
    c->mvae_subsets = n > 1000 ? 1000 : (int)n; /* validation below names the range */
    if (ima_json_num(o, "beta", &v, path, "config"))
        goto done;
    c->beta = (float)v;
    if (ima_json_num(o, "alpha", &v, path, "config"))
        goto done;
    c->alpha = (float)v;
    if (ima_json_num(o, "dae_feature_drop", &v, path, "config"))
        goto done;
    c->dae_feature_drop = (float)v;
    if (ima_json_num(o, "dae_modality_drop", &v, path, "config"))
        goto done;
    c->dae_modality_drop = (float)v;
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(o, "modalities");
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) != c->n_modalities) {
        ima_error("%s: metadata config: field 'modalities': expected an array of n_modalities entries", path);
        goto done;
    }
    for (int j = 0; j < c->n_modalities; j++) {
        const cJSON *e = cJSON_GetArrayItem(mods, j);
        ima_baseline_modality *m = &c->mod[j];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(e, "loss");
        const cJSON *glv = cJSON_GetObjectItemCaseSensitive(e, "gaussian_logvar");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= IMA_NAME_MAX || !cJSON_IsString(loss) ||
            !cJSON_IsBool(glv)) {
            ima_error("%s: metadata config: modality %d: expected string fields 'name' and 'loss' and a boolean "
                      "'gaussian_logvar'",
                      path, j);
            goto done;
        }
        snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        if (ima_json_loss_parse(&m->loss, loss->valuestring, path, j))
            goto done;
        m->gaussian_logvar = cJSON_IsTrue(glv);
        const char *where = "config.modalities";
        if (json_count(e, "input_width", &m->input_width, path, where) ||
            json_count(e, "hidden_width", &m->hidden_width, path, where))
            goto done;
        if (ima_json_num(e, "lambda_rec", &v, path, where))
            goto done;
        m->lambda_rec = (float)v;
    }
    if (ima_baseline_config_validate(c)) {
        ima_error_prefix("%s: metadata", path);
        goto done;
    }
    rc = IMA_OK;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---- training configuration and state <-> JSON ----------------------------------------------------------- */

static char *train_json(const ima_baseline *bl, const ima_baseline_train_config *tc,
                        const ima_baseline_train_state *st) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)bl->step);
    if (tc) {
        cJSON_AddNumberToObject(o, "batch_size", (double)tc->batch_size);
        cJSON_AddNumberToObject(o, "epochs", tc->epochs);
        ima_json_add_adam(o, "adam", &tc->adam);
    }
    if (st) {
        cJSON_AddNumberToObject(o, "epoch", st->epoch);
        ima_json_add_rng(o, &st->rng);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int train_parse(const char *json, const char *path, ima_baseline *bl, ima_baseline_train_config *tc,
                       ima_baseline_train_state *st) {
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return ima_error("%s: metadata 'train_state' is not valid JSON", path);
    int rc = IMA_ERR;
    double v = 0;
    size_t n = 0;
    if (ima_json_num(o, "step", &v, path, "train_state"))
        goto done;
    if (!(v >= 0 && v < 9e15)) {
        ima_error("%s: metadata train_state: field 'step': expected a non-negative integer", path);
        goto done;
    }
    bl->step = (long)v;
    if (tc) {
        *tc = ima_baseline_train_defaults();
        if (json_count(o, "batch_size", &tc->batch_size, path, "train_state") ||
            json_count(o, "epochs", &n, path, "train_state"))
            goto done;
        tc->epochs = (int)n;
        if (ima_json_get_adam(o, "adam", &tc->adam, path, "train_state.adam"))
            goto done;
    }
    if (st) {
        memset(st, 0, sizeof *st);
        if (json_count(o, "epoch", &n, path, "train_state"))
            goto done;
        st->epoch = (int)n;
        if (ima_json_get_rng(o, &st->rng, path))
            goto done;
    }
    rc = IMA_OK;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---- save / load -------------------------------------------------------------------------------------- */

int ima_baseline_checkpoint_save(const char *path, const ima_baseline *bl, const ima_baseline_train_config *tc,
                                 const ima_baseline_train_state *st) {
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_baseline_param_views(bl, views, MAX_VIEWS);
    IMA_ASSERT(nv <= MAX_VIEWS);
    ima_st_writer *w = ima_st_writer_init();
    ima_ckpt_write_views(w, views, nv);
    size_t shape[1] = {bl->n_params};
    ima_st_writer_add(w, "optimizer.adam_m", IMA_DTYPE_F32, 1, shape, bl->adam_m);
    ima_st_writer_add(w, "optimizer.adam_v", IMA_DTYPE_F32, 1, shape, bl->adam_v);
    char *cj = config_json(&bl->cfg), *tj = train_json(bl, tc, st);
    ima_ckpt_meta_write(w, FORMAT, cj, tj);
    int rc = ima_st_writer_write(w, path);
    free(cj);
    free(tj);
    ima_st_writer_free(w);
    return rc;
}

int ima_baseline_checkpoint_load(const char *path, size_t max_batch, ima_baseline **out,
                                 ima_baseline_train_config *tc, ima_baseline_train_state *st) {
    *out = NULL;
    ima_st_file f;
    if (ima_st_read(&f, path))
        return IMA_ERR;
    ima_baseline *bl = NULL;
    const char *fmt = ima_st_meta(&f, "format"), *cj = NULL, *tj = NULL;
    ima_baseline_config cfg;
    if (!fmt || strcmp(fmt, FORMAT)) {
        ima_error("%s: metadata 'format': expected '" FORMAT "', got '%s' (is this a baseline checkpoint?)", path,
                  fmt ? fmt : "");
        goto fail;
    }
    if (ima_ckpt_meta_read(&f, path, &cj, &tj) || config_parse(&cfg, cj, path))
        goto fail;
    if (ima_baseline_init(&bl, &cfg, max_batch, 0))
        goto fail;
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_baseline_param_views(bl, views, MAX_VIEWS);
    IMA_ASSERT(nv <= MAX_VIEWS);
    if (ima_ckpt_read_views(&f, views, nv))
        goto fail;
    size_t shape[1] = {bl->n_params};
    if (ima_ckpt_copy_tensor(&f, "optimizer.adam_m", bl->adam_m, 1, shape, bl->n_params) ||
        ima_ckpt_copy_tensor(&f, "optimizer.adam_v", bl->adam_v, 1, shape, bl->n_params))
        goto fail;
    if (f.n_tensors != nv + 2) {
        ima_error("%s: %zu tensors, but its config has %zu (with the two Adam moments)", path, f.n_tensors, nv + 2);
        goto fail;
    }
    if (train_parse(tj, path, bl, tc, st))
        goto fail;
    ima_st_free(&f);
    *out = bl;
    return IMA_OK;
fail:
    ima_baseline_free(bl);
    ima_st_free(&f);
    return IMA_ERR;
}

int ima_checkpoint_detect(const char *path, int *is_baseline) {
    ima_st_file f;
    if (ima_st_read(&f, path))
        return IMA_ERR;
    const char *fmt = ima_st_meta(&f, "format");
    int rc = IMA_OK;
    if (fmt && !strcmp(fmt, FORMAT))
        *is_baseline = 1;
    else if (fmt && !strcmp(fmt, "ima-checkpoint"))
        *is_baseline = 0;
    else
        rc = ima_error("%s: metadata 'format': expected 'ima-checkpoint' or '" FORMAT "', got '%s'", path,
                       fmt ? fmt : "(none)");
    ima_st_free(&f);
    return rc;
}
