/* checkpoint.c: baseline checkpoints as safetensors (layout in baseline_train.h): parameter tensors by name,
 * the Adam moments, the configuration and training state as JSON metadata.
 * P parameters, M modalities. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/baseline_train.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "io/checkpoint_fields.h"

#define FORMAT "ima-baseline-checkpoint"
#define MAX_VIEWS (IMA_MAX_MODALITIES * 12 + 6)

/* ---- configuration <-> JSON (the field tables of io/checkpoint_fields.h) ------------------------------ */

#define WMAX 2147483647.0 /* widths: ima_baseline_config_validate names the tighter rules */
#define FMAX 1e9

static const ima_json_field config_fields[] = {
    {"n_modalities", IMA_JF_INT, offsetof(ima_baseline_config, n_modalities), 1, IMA_MAX_MODALITIES},
    {"latent_width", IMA_JF_SIZE, offsetof(ima_baseline_config, latent_width), 0, WMAX},
    {"joint_hidden", IMA_JF_SIZE, offsetof(ima_baseline_config, joint_hidden), 0, WMAX},
    {"beta", IMA_JF_FLOAT, offsetof(ima_baseline_config, beta), -FMAX, FMAX},
    {"alpha", IMA_JF_FLOAT, offsetof(ima_baseline_config, alpha), -FMAX, FMAX},
    {"mvae_subsets", IMA_JF_INT, offsetof(ima_baseline_config, mvae_subsets), 0, 1000},
    {"dae_feature_drop", IMA_JF_FLOAT, offsetof(ima_baseline_config, dae_feature_drop), -FMAX, FMAX},
    {"dae_modality_drop", IMA_JF_FLOAT, offsetof(ima_baseline_config, dae_modality_drop), -FMAX, FMAX},
};

static const ima_json_field modality_fields[] = {
    {"name", IMA_JF_NAME, offsetof(ima_baseline_modality, name), 0, 0},
    {"input_width", IMA_JF_SIZE, offsetof(ima_baseline_modality, input_width), 0, WMAX},
    {"hidden_width", IMA_JF_SIZE, offsetof(ima_baseline_modality, hidden_width), 0, WMAX},
    {"loss", IMA_JF_LOSS, offsetof(ima_baseline_modality, loss), 0, 0},
    {"gaussian_logvar", IMA_JF_BOOL, offsetof(ima_baseline_modality, gaussian_logvar), 0, 1},
    {"lambda_rec", IMA_JF_FLOAT, offsetof(ima_baseline_modality, lambda_rec), -FMAX, FMAX},
};

static char *config_json(const ima_baseline_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", ima_baseline_kind_name(c->kind));
    ima_json_write_fields(o, IMA_JSON_FIELDS(config_fields), c);
    cJSON *mods = cJSON_AddArrayToObject(o, "modalities");
    for (int j = 0; j < c->n_modalities; j++) {
        cJSON *e = cJSON_CreateObject();
        ima_json_write_fields(e, IMA_JSON_FIELDS(modality_fields), &c->mod[j]);
        cJSON_AddItemToArray(mods, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) ima_error("out of memory while printing the checkpoint config");
    return s;
}

static int config_parse(ima_baseline_config *c, const char *json, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'config' is not valid JSON", path);
    int rc = IMA_ERR;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(kind)) {
        ima_error("%s: metadata config: field 'kind': expected a string", path);
        goto done;
    }
    if (ima_baseline_kind_parse(&c->kind, kind->valuestring)) {
        ima_error_prefix("%s: metadata config", path);
        goto done;
    }
    if (ima_json_read_fields(o, IMA_JSON_FIELDS(config_fields), c, path, "config")) goto done;
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(o, "modalities");
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) != c->n_modalities) {
        ima_error("%s: metadata config: field 'modalities': expected an array of n_modalities entries", path);
        goto done;
    }
    for (int j = 0; j < c->n_modalities; j++) {
        char where[48];
        snprintf(where, sizeof where, "config.modalities[%d]", j);
        if (ima_json_read_fields(cJSON_GetArrayItem(mods, j), IMA_JSON_FIELDS(modality_fields), &c->mod[j], path,
                                 where))
            goto done;
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

#define MAX_EPOCHS 1000000

static const ima_json_field step_fields[] = {
    {"step", IMA_JF_LONG, offsetof(ima_baseline, step), 0, 9007199254740992.0},
};

static const ima_json_field train_config_fields[] = {
    {"batch_size", IMA_JF_SIZE, offsetof(ima_baseline_train_config, batch_size), 1, IMA_MAX_BATCH},
    {"epochs", IMA_JF_INT, offsetof(ima_baseline_train_config, epochs), 0, MAX_EPOCHS},
};

static const ima_json_field train_state_fields[] = {
    {"epoch", IMA_JF_INT, offsetof(ima_baseline_train_state, epoch), 0, MAX_EPOCHS},
};

static char *train_json(const ima_baseline *bl, const ima_baseline_train_config *tc,
                        const ima_baseline_train_state *st) {
    cJSON *o = cJSON_CreateObject();
    ima_json_write_fields(o, IMA_JSON_FIELDS(step_fields), bl);
    if (tc) {
        ima_json_write_fields(o, IMA_JSON_FIELDS(train_config_fields), tc);
        ima_json_add_adam(o, "adam", &tc->adam);
    }
    if (st) {
        ima_json_write_fields(o, IMA_JSON_FIELDS(train_state_fields), st);
        ima_json_add_rng(o, &st->rng);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) ima_error("out of memory while printing the checkpoint train_state");
    return s;
}

static int train_parse(const char *json, const char *path, ima_baseline *bl, ima_baseline_train_config *tc,
                       ima_baseline_train_state *st) {
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'train_state' is not valid JSON", path);
    int rc = IMA_ERR;
    if (ima_json_read_fields(o, IMA_JSON_FIELDS(step_fields), bl, path, "train_state")) goto done;
    if (tc) {
        *tc = ima_baseline_train_defaults();
        if (ima_json_read_fields(o, IMA_JSON_FIELDS(train_config_fields), tc, path, "train_state") ||
            ima_json_get_adam(o, "adam", &tc->adam, path, "train_state.adam"))
            goto done;
    }
    if (st) {
        memset(st, 0, sizeof *st);
        if (ima_json_read_fields(o, IMA_JSON_FIELDS(train_state_fields), st, path, "train_state") ||
            ima_json_get_rng(o, &st->rng, path))
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
    char *cj = config_json(&bl->cfg), *tj = cj ? train_json(bl, tc, st) : NULL;
    int rc = IMA_ERR;
    if (cj && tj) {
        ima_ckpt_meta_write(w, FORMAT, cj, tj);
        rc = ima_st_writer_write(w, path);
    } else {
        ima_error_prefix("%s", path);
    }
    free(cj);
    free(tj);
    ima_st_writer_free(w);
    return rc;
}

int ima_baseline_checkpoint_load(const char *path, size_t max_batch, ima_baseline **out, ima_baseline_train_config *tc,
                                 ima_baseline_train_state *st) {
    *out = NULL;
    ima_st_file f;
    if (ima_st_read(&f, path)) return IMA_ERR;
    ima_baseline *bl = NULL;
    const char *fmt = ima_st_meta(&f, "format"), *cj = NULL, *tj = NULL;
    ima_baseline_config cfg;
    if (!fmt || strcmp(fmt, FORMAT)) {
        ima_error("%s: metadata 'format': expected '" FORMAT "', got '%s' (is this a baseline checkpoint?)", path,
                  fmt ? fmt : "");
        goto fail;
    }
    if (ima_ckpt_meta_read(&f, path, &cj, &tj) || config_parse(&cfg, cj, path)) goto fail;
    /* every modality has a D x H layer (expert or decoder): a file smaller than those cannot back the config,
     * so it is refused before a model of that size is allocated */
    size_t need = 0;
    for (int j = 0; j < cfg.n_modalities; j++)
        need += cfg.mod[j].input_width * cfg.mod[j].hidden_width; /* each < 2^31: no wrap */
    if (need > f.size / sizeof(float)) {
        ima_error("%s: its config needs at least %zu parameters, more than the file's %zu bytes hold", path, need,
                  f.size);
        goto fail;
    }
    if (ima_baseline_init(&bl, &cfg, max_batch, 0)) {
        ima_error_prefix("%s", path);
        goto fail;
    }
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_baseline_param_views(bl, views, MAX_VIEWS);
    IMA_ASSERT(nv <= MAX_VIEWS);
    if (ima_ckpt_read_views(&f, views, nv)) goto fail;
    size_t shape[1] = {bl->n_params};
    if (ima_ckpt_copy_tensor(&f, "optimizer.adam_m", bl->adam_m, 1, shape, bl->n_params) ||
        ima_ckpt_copy_tensor(&f, "optimizer.adam_v", bl->adam_v, 1, shape, bl->n_params))
        goto fail;
    if (f.n_tensors != nv + 2) {
        ima_error("%s: %zu tensors, but its config has %zu (with the two Adam moments)", path, f.n_tensors, nv + 2);
        goto fail;
    }
    if (train_parse(tj, path, bl, tc, st)) goto fail;
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
    if (ima_st_read(&f, path)) return IMA_ERR;
    const char *fmt = ima_st_meta(&f, "format");
    int rc = IMA_OK;
    if (fmt && !strcmp(fmt, FORMAT)) *is_baseline = 1;
    else if (fmt && !strcmp(fmt, "ima-checkpoint")) *is_baseline = 0;
    else
        rc = ima_error("%s: metadata 'format': expected 'ima-checkpoint' or '" FORMAT "', got '%s'", path,
                       fmt ? fmt : "(none)");
    ima_st_free(&f);
    return rc;
}
