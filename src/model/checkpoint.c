/* checkpoint.c: saving and loading a model with its training state as safetensors.
 * Layout (see train.h): parameter tensors by name, "center.<modality>", "optimizer.adam_m",
 * "optimizer.adam_v"; the configuration and state as JSON strings in __metadata__. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/api.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "ima/train.h"
#include "io/checkpoint_fields.h"

#define MAX_VIEWS (IMA_MAX_MODALITIES * 18)

/* ---- configuration <-> JSON -------------------------------------------------------- */

static char *config_json(const ima_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n_modalities", c->n_modalities);
    cJSON_AddNumberToObject(o, "latent_width", (double)c->latent_width);
    cJSON_AddNumberToObject(o, "lambda_glob", c->lambda_glob);
    cJSON_AddBoolToObject(o, "center_inputs", c->center_inputs);
    cJSON *mods = cJSON_AddArrayToObject(o, "modalities");
    for (int j = 0; j < c->n_modalities; j++) {
        const ima_modality_config *m = &c->mod[j];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", m->name);
        cJSON_AddNumberToObject(e, "input_width", (double)m->input_width);
        cJSON_AddNumberToObject(e, "hidden_width", (double)m->hidden_width);
        cJSON_AddStringToObject(e, "loss", ima_json_loss_name(m->loss));
        cJSON_AddNumberToObject(e, "lambda_rec", m->lambda_rec);
        cJSON_AddNumberToObject(e, "lambda_align", m->lambda_align);
        cJSON_AddNumberToObject(e, "lambda_local", m->lambda_local);
        cJSON_AddNumberToObject(e, "lambda_corr", m->lambda_corr);
        cJSON_AddNumberToObject(e, "rho", m->rho);
        cJSON_AddItemToArray(mods, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int config_parse(ima_config *c, const char *json, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'config' is not valid JSON", path);
    double v = 0;
    int rc = IMA_ERR;
    if (ima_json_num(o, "n_modalities", &v, path, "config")) goto done;
    c->n_modalities = (int)v;
    if (ima_json_num(o, "latent_width", &v, path, "config")) goto done;
    c->latent_width = (size_t)v;
    if (ima_json_num(o, "lambda_glob", &v, path, "config")) goto done;
    c->lambda_glob = (float)v;
    c->center_inputs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "center_inputs"));
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(o, "modalities");
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) != c->n_modalities || c->n_modalities > IMA_MAX_MODALITIES) {
        ima_error("%s: metadata config: field 'modalities': expected an array of n_modalities entries", path);
        goto done;
    }
    for (int j = 0; j < c->n_modalities; j++) {
        const cJSON *e = cJSON_GetArrayItem(mods, j);
        ima_modality_config *m = &c->mod[j];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name"), *loss = cJSON_GetObjectItemCaseSensitive(e, "loss");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= IMA_NAME_MAX || !cJSON_IsString(loss)) {
            ima_error("%s: metadata config: modality %d: expected string fields 'name' and 'loss'", path, j);
            goto done;
        }
        snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        if (ima_json_loss_parse(&m->loss, loss->valuestring, path, j)) goto done;
        const char *where = "config.modalities";
        if (ima_json_num(e, "input_width", &v, path, where)) goto done;
        m->input_width = (size_t)v;
        if (ima_json_num(e, "hidden_width", &v, path, where)) goto done;
        m->hidden_width = (size_t)v;
        if (ima_json_num(e, "lambda_rec", &v, path, where)) goto done;
        m->lambda_rec = (float)v;
        if (ima_json_num(e, "lambda_align", &v, path, where)) goto done;
        m->lambda_align = (float)v;
        if (ima_json_num(e, "lambda_local", &v, path, where)) goto done;
        m->lambda_local = (float)v;
        if (ima_json_num(e, "lambda_corr", &v, path, where)) goto done;
        m->lambda_corr = (float)v;
        if (ima_json_num(e, "rho", &v, path, where)) goto done;
        m->rho = (float)v;
    }
    if (ima_config_validate(c)) {
        ima_error_prefix("%s: metadata", path);
        goto done;
    }
    rc = IMA_OK;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---- training configuration and state <-> JSON ------------------------------------------ */

static char *train_json(const ima_model *m, const ima_train_config *tc, const ima_train_state *st) {
    cJSON *o = cJSON_CreateObject();
    if (tc) {
        cJSON_AddNumberToObject(o, "batch_size", (double)tc->batch_size);
        cJSON_AddNumberToObject(o, "rounds", tc->rounds);
        cJSON_AddNumberToObject(o, "epochs_stage1", tc->epochs_stage1);
        cJSON_AddNumberToObject(o, "epochs_stage2", tc->epochs_stage2);
        ima_json_add_adam(o, "adam_stage1", &tc->adam_stage1);
        ima_json_add_adam(o, "adam_stage2", &tc->adam_stage2);
    }
    cJSON_AddNumberToObject(o, "step_ae", (double)m->step_ae);
    cJSON_AddNumberToObject(o, "step_imp", (double)m->step_imp);
    if (st) {
        cJSON_AddNumberToObject(o, "round", st->round);
        cJSON_AddNumberToObject(o, "stage", st->stage);
        cJSON_AddNumberToObject(o, "epoch", st->epoch);
        cJSON_AddBoolToObject(o, "finished", st->finished);
        /* 64-bit words as decimal strings: JSON numbers are doubles */
        ima_json_add_rng(o, &st->rng);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int train_parse(const char *json, const char *path, ima_model *m, ima_train_config *tc, ima_train_state *st) {
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'train_state' is not valid JSON", path);
    int rc = IMA_ERR;
    double v = 0;
    if (ima_json_num(o, "step_ae", &v, path, "train_state")) goto done;
    m->step_ae = (long)v;
    if (ima_json_num(o, "step_imp", &v, path, "train_state")) goto done;
    m->step_imp = (long)v;
    if (tc) {
        *tc = ima_train_defaults();
        if (ima_json_num(o, "batch_size", &v, path, "train_state")) goto done;
        tc->batch_size = (size_t)v;
        if (ima_json_num(o, "rounds", &v, path, "train_state")) goto done;
        tc->rounds = (int)v;
        if (ima_json_num(o, "epochs_stage1", &v, path, "train_state")) goto done;
        tc->epochs_stage1 = (int)v;
        if (ima_json_num(o, "epochs_stage2", &v, path, "train_state")) goto done;
        tc->epochs_stage2 = (int)v;
        if (ima_json_get_adam(o, "adam_stage1", &tc->adam_stage1, path, "adam_stage1") ||
            ima_json_get_adam(o, "adam_stage2", &tc->adam_stage2, path, "adam_stage2"))
            goto done;
    }
    if (st) {
        memset(st, 0, sizeof *st);
        if (ima_json_num(o, "round", &v, path, "train_state")) goto done;
        st->round = (int)v;
        if (ima_json_num(o, "stage", &v, path, "train_state")) goto done;
        st->stage = (int)v;
        if (ima_json_num(o, "epoch", &v, path, "train_state")) goto done;
        st->epoch = (int)v;
        st->finished = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "finished"));
        if (ima_json_get_rng(o, &st->rng, path)) goto done;
        if (st->stage != 1 && st->stage != 2) {
            ima_error("%s: metadata train_state: field 'stage': expected 1 or 2", path);
            goto done;
        }
    }
    rc = IMA_OK;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---- save / load ----------------------------------------------------------------------- */

int ima_checkpoint_save(const char *path, const ima_model *m, const ima_train_config *tc, const ima_train_state *st) {
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, views, MAX_VIEWS);
    IMA_ASSERT(nv <= MAX_VIEWS);
    ima_st_writer *w = ima_st_writer_init();
    ima_ckpt_write_views(w, views, nv);
    char names[IMA_MAX_MODALITIES][IMA_NAME_MAX + 8];
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        size_t shape[1] = {m->cfg.mod[j].input_width};
        snprintf(names[j], sizeof names[j], "center.%s", m->cfg.mod[j].name);
        ima_st_writer_add(w, names[j], IMA_DTYPE_F32, 1, shape, m->mod[j].center);
    }
    size_t shape[1] = {m->n_params};
    ima_st_writer_add(w, "optimizer.adam_m", IMA_DTYPE_F32, 1, shape, m->adam_m);
    ima_st_writer_add(w, "optimizer.adam_v", IMA_DTYPE_F32, 1, shape, m->adam_v);
    char *cj = config_json(&m->cfg), *tj = train_json(m, tc, st);
    ima_ckpt_meta_write(w, "ima-checkpoint", cj, tj);
    int rc = ima_st_writer_write(w, path);
    free(cj);
    free(tj);
    ima_st_writer_free(w);
    return rc;
}

int ima_checkpoint_load(const char *path, size_t max_batch, ima_model **out, ima_train_config *tc,
                        ima_train_state *st) {
    *out = NULL;
    ima_st_file f;
    if (ima_st_read(&f, path)) return IMA_ERR;
    ima_model *m = NULL;
    const char *fmt = ima_st_meta(&f, "format"), *cj = NULL, *tj = NULL;
    ima_config cfg;
    if (!fmt || strcmp(fmt, "ima-checkpoint")) {
        ima_error("%s: metadata 'format': expected 'ima-checkpoint' (is this an ima checkpoint?)", path);
        goto fail;
    }
    if (ima_ckpt_meta_read(&f, path, &cj, &tj) || config_parse(&cfg, cj, path)) goto fail;
    if (ima_model_init(&m, &cfg, max_batch, 0)) goto fail;
    ima_param_view views[MAX_VIEWS];
    size_t nv = ima_model_param_views(m, views, MAX_VIEWS);
    if (ima_ckpt_read_views(&f, views, nv)) goto fail;
    for (int j = 0; j < cfg.n_modalities; j++) {
        char name[IMA_NAME_MAX + 8];
        size_t shape[1] = {cfg.mod[j].input_width};
        snprintf(name, sizeof name, "center.%s", cfg.mod[j].name);
        if (ima_ckpt_copy_tensor(&f, name, m->mod[j].center, 1, shape, shape[0])) goto fail;
    }
    size_t shape[1] = {m->n_params};
    if (ima_ckpt_copy_tensor(&f, "optimizer.adam_m", m->adam_m, 1, shape, m->n_params) ||
        ima_ckpt_copy_tensor(&f, "optimizer.adam_v", m->adam_v, 1, shape, m->n_params))
        goto fail;
    if (train_parse(tj, path, m, tc, st)) goto fail;
    ima_st_free(&f);
    *out = m;
    return IMA_OK;
fail:
    ima_model_free(m);
    ima_st_free(&f);
    return IMA_ERR;
}

/* ---- the configuration as JSON text, for include/ima/api.h ------------------------------------ */

char *ima_config_to_json(const ima_config *c) { return config_json(c); }
int ima_config_from_json(ima_config *c, const char *json, const char *what) { return config_parse(c, json, what); }
