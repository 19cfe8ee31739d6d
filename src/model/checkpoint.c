/* checkpoint.c: saving and loading a model with its training state as safetensors.
 * Layout (see train.h): parameter tensors by name, "center.<modality>", "optimizer.adam_m",
 * "optimizer.adam_v"; the configuration and state as JSON strings in __metadata__. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/api.h"
#include "ima/common.h"
#include "ima/safetensors.h"
#include "ima/train.h"
#include "io/checkpoint_fields.h"

#define MAX_VIEWS (IMA_MAX_MODALITIES * 18)

/* ---- configuration <-> JSON (the field tables of io/checkpoint_fields.h) ------------------- */

/* The codec's ranges keep every cast defined (an int field within int, a float within float); the
 * tighter rules are ima_config_validate's, so that its messages are the ones a user reads. */
#define IMAX 2147483647.0
#define SMAX 9007199254740992.0    /* 2^53: a double's exact integers */
#define FMAX 3.4028234663852886e38 /* FLT_MAX */

static const ima_json_field config_fields[] = {
    {"n_modalities", IMA_JF_INT, offsetof(ima_config, n_modalities), -IMAX - 1, IMAX},
    {"latent_width", IMA_JF_SIZE, offsetof(ima_config, latent_width), 0, SMAX},
    {"lambda_glob", IMA_JF_FLOAT, offsetof(ima_config, lambda_glob), -FMAX, FMAX},
    {"center_inputs", IMA_JF_BOOL, offsetof(ima_config, center_inputs), 0, 1},
};

static const ima_json_field modality_fields[] = {
    {"name", IMA_JF_NAME, offsetof(ima_modality_config, name), 0, 0},
    {"input_width", IMA_JF_SIZE, offsetof(ima_modality_config, input_width), 0, SMAX},
    {"hidden_width", IMA_JF_SIZE, offsetof(ima_modality_config, hidden_width), 0, SMAX},
    {"loss", IMA_JF_LOSS, offsetof(ima_modality_config, loss), 0, 0},
    {"lambda_rec", IMA_JF_FLOAT, offsetof(ima_modality_config, lambda_rec), -FMAX, FMAX},
    {"lambda_align", IMA_JF_FLOAT, offsetof(ima_modality_config, lambda_align), -FMAX, FMAX},
    {"lambda_local", IMA_JF_FLOAT, offsetof(ima_modality_config, lambda_local), -FMAX, FMAX},
    {"lambda_corr", IMA_JF_FLOAT, offsetof(ima_modality_config, lambda_corr), -FMAX, FMAX},
    {"rho", IMA_JF_FLOAT, offsetof(ima_modality_config, rho), -FMAX, FMAX},
};

static char *config_json(const ima_config *c) {
    cJSON *o = cJSON_CreateObject();
    ima_json_write_fields(o, IMA_JSON_FIELDS(config_fields), c);
    cJSON_AddStringToObject(o, "importance_objective", ima_importance_objective_name(c->importance_objective));
    cJSON_AddNumberToObject(o, "local_ev_k", (double)c->local_ev_k);
    cJSON_AddNumberToObject(o, "fusion_sharpness", (double)c->fusion_sharpness);
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

static int config_parse(ima_config *c, const char *json, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'config' is not valid JSON", path);
    int rc = IMA_ERR;
    if (ima_json_read_fields(o, IMA_JSON_FIELDS(config_fields), c, path, "config")) goto done;
    /* optional (checkpoints written before the field exist): absent = the paper's objective */
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(o, "importance_objective");
    if (obj && (!cJSON_IsString(obj) || ima_importance_objective_parse(obj->valuestring, &c->importance_objective))) {
        ima_error("%s: metadata config: field 'importance_objective': expected \"paper\" or \"local-ev\"", path);
        goto done;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "local_ev_k")) {
        double v = 0;
        if (ima_json_num(o, "local_ev_k", &v, path, "config")) goto done;
        if (!(v >= 0 && v <= 1e6)) {
            ima_error("%s: metadata config: field 'local_ev_k': expected 0..1000000, got %g", path, v);
            goto done;
        }
        c->local_ev_k = (size_t)v;
    }
    /* optional (checkpoints written before the field exist): absent = 0, the paper's fusion */
    if (cJSON_GetObjectItemCaseSensitive(o, "fusion_sharpness")) {
        double v = 0;
        if (ima_json_num(o, "fusion_sharpness", &v, path, "config")) goto done;
        if (!ima_fusion_sharpness_valid(v)) {
            ima_error("%s: metadata config: field 'fusion_sharpness': expected 0 or 1 (the paper's fusion) or a value "
                      "in (1, %g], got %g",
                      path, (double)IMA_MAX_FUSION_SHARPNESS, v);
            goto done;
        }
        c->fusion_sharpness = (float)v;
    }
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

/* The limits a file may hold: a batch the model can be built for, counts that end, Adam steps that a
 * double holds exactly. Training itself accepts what the command line accepts (within these). */
#define MAX_ROUNDS 100000
#define MAX_EPOCHS 1000000

static const ima_json_field train_config_fields[] = {
    {"batch_size", IMA_JF_SIZE, offsetof(ima_train_config, batch_size), 1, IMA_MAX_BATCH},
    {"rounds", IMA_JF_INT, offsetof(ima_train_config, rounds), 1, MAX_ROUNDS},
    {"epochs_stage1", IMA_JF_INT, offsetof(ima_train_config, epochs_stage1), 0, MAX_EPOCHS},
    {"epochs_stage2", IMA_JF_INT, offsetof(ima_train_config, epochs_stage2), 0, MAX_EPOCHS},
};

typedef struct {
    long step_ae, step_imp;
} adam_steps;

static const ima_json_field steps_fields[] = {
    {"step_ae", IMA_JF_LONG, offsetof(adam_steps, step_ae), 0, 9007199254740992.0},
    {"step_imp", IMA_JF_LONG, offsetof(adam_steps, step_imp), 0, 9007199254740992.0},
};

static const ima_json_field train_state_fields[] = {
    {"round", IMA_JF_INT, offsetof(ima_train_state, round), 1, MAX_ROUNDS},
    {"stage", IMA_JF_INT, offsetof(ima_train_state, stage), 1, 2},
    {"epoch", IMA_JF_INT, offsetof(ima_train_state, epoch), 0, MAX_EPOCHS},
    {"finished", IMA_JF_BOOL, offsetof(ima_train_state, finished), 0, 1},
};

static char *train_json(const ima_model *m, const ima_train_config *tc, const ima_train_state *st) {
    cJSON *o = cJSON_CreateObject();
    if (tc) {
        ima_json_write_fields(o, IMA_JSON_FIELDS(train_config_fields), tc);
        ima_json_add_adam(o, "adam_stage1", &tc->adam_stage1);
        ima_json_add_adam(o, "adam_stage2", &tc->adam_stage2);
    }
    adam_steps steps = {m->step_ae, m->step_imp};
    ima_json_write_fields(o, IMA_JSON_FIELDS(steps_fields), &steps);
    if (st) {
        ima_json_write_fields(o, IMA_JSON_FIELDS(train_state_fields), st);
        /* 64-bit words as decimal strings: JSON numbers are doubles */
        ima_json_add_rng(o, &st->rng);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) ima_error("out of memory while printing the checkpoint train_state");
    return s;
}

/* tc and st may be NULL: a checkpoint written without them (ima_checkpoint_save(.., NULL, NULL)) loads as a model. */
static int train_parse(const char *json, const char *path, adam_steps *steps, ima_train_config *tc,
                       ima_train_state *st) {
    cJSON *o = cJSON_Parse(json);
    if (!o) return ima_error("%s: metadata 'train_state' is not valid JSON", path);
    int rc = IMA_ERR;
    if (ima_json_read_fields(o, IMA_JSON_FIELDS(steps_fields), steps, path, "train_state")) goto done;
    if (tc) {
        *tc = ima_train_defaults();
        if (ima_json_read_fields(o, IMA_JSON_FIELDS(train_config_fields), tc, path, "train_state") ||
            ima_json_get_adam(o, "adam_stage1", &tc->adam_stage1, path, "train_state.adam_stage1") ||
            ima_json_get_adam(o, "adam_stage2", &tc->adam_stage2, path, "train_state.adam_stage2"))
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
    char *cj = config_json(&m->cfg), *tj = cj ? train_json(m, tc, st) : NULL;
    int rc = IMA_ERR;
    if (cj && tj) {
        ima_ckpt_meta_write(w, "ima-checkpoint", cj, tj);
        rc = ima_st_writer_write(w, path);
    } else {
        ima_error_prefix("%s", path);
    }
    free(cj);
    free(tj);
    ima_st_writer_free(w);
    return rc;
}

/* Parameters of a validated config (model.h: three 3-layer MLPs per modality); < 2^62, no wrap. */
static size_t config_param_count(const ima_config *c) {
    size_t P = 0, d = c->latent_width;
    for (int j = 0; j < c->n_modalities; j++) {
        size_t D = c->mod[j].input_width, H = c->mod[j].hidden_width;
        P += D * H + H + H * H + H + H * d + d; /* encoder */
        P += d * H + H + H * H + H + H * D + D; /* decoder */
        P += D * H + H + H * H + H + H + 1;     /* importance net */
    }
    return P;
}

/* Reads the file and its metadata: config, Adam steps, training configuration and state. */
static int read_meta(ima_st_file *f, const char *path, ima_config *cfg, adam_steps *steps, ima_train_config *tc,
                     ima_train_state *st) {
    if (ima_st_read(f, path)) return IMA_ERR;
    const char *fmt = ima_st_meta(f, "format"), *cj = NULL, *tj = NULL;
    if (!fmt || strcmp(fmt, "ima-checkpoint")) {
        ima_error("%s: metadata 'format': expected 'ima-checkpoint' (is this an ima checkpoint?)", path);
        goto fail;
    }
    if (ima_ckpt_meta_read(f, path, &cj, &tj) || config_parse(cfg, cj, path) || train_parse(tj, path, steps, tc, st))
        goto fail;
    return IMA_OK;
fail:
    ima_st_free(f);
    return IMA_ERR;
}

int ima_checkpoint_read_state(const char *path, ima_config *cfg, ima_train_config *tc, ima_train_state *st) {
    ima_st_file f;
    adam_steps steps;
    ima_config c;
    if (read_meta(&f, path, &c, &steps, tc, st)) return IMA_ERR;
    ima_st_free(&f);
    if (cfg) *cfg = c;
    return IMA_OK;
}

int ima_checkpoint_load(const char *path, size_t max_batch, ima_model **out, ima_train_config *tc,
                        ima_train_state *st) {
    *out = NULL;
    ima_st_file f;
    ima_config cfg;
    adam_steps steps;
    if (read_meta(&f, path, &cfg, &steps, tc, st)) return IMA_ERR;
    ima_model *m = NULL;
    /* the file must hold the parameters its config asks for (Adam's two moments count them) before a
     * model of that size is allocated: a 2^24-wide config in a small file is refused here */
    size_t P = config_param_count(&cfg);
    const ima_st_tensor *am = ima_st_find(&f, "optimizer.adam_m");
    if (!am || am->dtype != IMA_DTYPE_F32 || am->ndim != 1 || am->count != P) {
        ima_error("%s: tensor 'optimizer.adam_m': expected F32 (%zu) as the config's %zu parameters need; the "
                  "checkpoint does not match its own config",
                  path, P, P);
        goto fail;
    }
    if (ima_model_init(&m, &cfg, max_batch, 0)) {
        ima_error_prefix("%s", path);
        goto fail;
    }
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
    m->step_ae = steps.step_ae;
    m->step_imp = steps.step_imp;
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
