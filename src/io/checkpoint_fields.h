/* checkpoint_fields.h: the pieces the two checkpoint formats share (internal): the IMA model's
 * "ima-checkpoint" (src/model/checkpoint.c) and the baselines' "ima-baseline-checkpoint"
 * (src/baselines/checkpoint.c).
 *
 * Both are safetensors files: parameter tensors by name, the Adam moments, and in
 * __metadata__ "format", "version" ("1"), "ima_version", and two JSON strings, "config" and
 * "train_state". The helpers below read and write the JSON fields both formats hold (numbers,
 * the loss name, an Adam configuration, the RNG state) and copy F32 tensors in and out.
 * Every error message starts with the file PATH and names the metadata field or tensor. */
#ifndef IMA_IO_CHECKPOINT_FIELDS_H
#define IMA_IO_CHECKPOINT_FIELDS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ima/model.h"
#include "ima/rng.h"
#include "ima/safetensors.h"

/* ---- the config <-> JSON codec: a table of fields ------------------------------------------
 * One table per JSON object lists each field's key, C type, offset in the struct and the range a
 * file may hold. Reading checks that the value is a number (or a boolean / string), whole where
 * the C type is an integer, and inside [lo, hi], all on the double BEFORE any cast, so a hostile
 * 1e10 is a message, not undefined behaviour. Writing emits the fields in table order. */

typedef enum {
    IMA_JF_INT,   // int, whole number in [lo, hi]
    IMA_JF_LONG,  // long, whole number in [lo, hi] (hi <= 2^53)
    IMA_JF_SIZE,  // size_t, whole number in [lo, hi] (lo >= 0)
    IMA_JF_FLOAT, // float, finite number in [lo, hi]
    IMA_JF_BOOL,  // int 0/1 as a JSON boolean
    IMA_JF_LOSS,  // ima_loss_kind as "bce" / "sse"
    IMA_JF_NAME,  // char[IMA_NAME_MAX] as a string (shorter than IMA_NAME_MAX)
} ima_json_kind;

typedef struct {
    const char *key;
    ima_json_kind kind;
    size_t offset; // offsetof(struct, field)
    double lo, hi; // inclusive range of a number
} ima_json_field;

#define IMA_JSON_FIELDS(table) (table), (sizeof(table) / sizeof((table)[0]))

/* o[key] = base's field for every entry of the table. */
void ima_json_write_fields(cJSON *o, const ima_json_field *fields, size_t n, const void *base);
/* Reads every field of the table from o into base; WHERE names o in messages ("config",
 * "config.modalities[1]", "train_state"): "PATH: metadata WHERE: field 'KEY': expected ..., got V". */
int ima_json_read_fields(const cJSON *o, const ima_json_field *fields, size_t n, void *base, const char *path,
                         const char *where);

/* ---- JSON fields ------------------------------------------------------------------------ */

/* o[key] as a number; WHERE names the object in the message ("config", "train_state"). */
int ima_json_num(const cJSON *o, const char *key, double *out, const char *path, const char *where);
/* "bce" or "sse". */
const char *ima_json_loss_name(ima_loss_kind loss);
/* Parses "bce" or "sse" for modality J of the config. */
int ima_json_loss_parse(ima_loss_kind *out, const char *s, const char *path, int j);
/* o[key] = {lr, beta1, beta2, eps, weight_decay}. */
void ima_json_add_adam(cJSON *o, const char *key, const ima_adam_config *a);
/* Reads o[key] as written by ima_json_add_adam; WHERE names o[key] in the message. */
int ima_json_get_adam(const cJSON *o, const char *key, ima_adam_config *a, const char *path, const char *where);
/* o["rng"] = the four 64-bit words as decimal strings (JSON numbers are doubles). */
void ima_json_add_rng(cJSON *o, const ima_rng *rng);
/* Reads o["rng"] of train_state; a leading '-' is refused (strtoull would wrap it). */
int ima_json_get_rng(const cJSON *o, ima_rng *rng, const char *path);

/* ---- metadata and tensors --------------------------------------------------------------- */

/* Sets format, version "1", ima_version, config and train_state. */
void ima_ckpt_meta_write(ima_st_writer *w, const char *format, const char *config, const char *train_state);
/* Checks version "1" and finds config and train_state (the caller checks "format" first). */
int ima_ckpt_meta_read(const ima_st_file *f, const char *path, const char **config, const char **train_state);
/* Adds every view as an F32 tensor (the views must outlive the writer). */
void ima_ckpt_write_views(ima_st_writer *w, const ima_param_view *views, size_t n);
/* Copies tensor NAME into dst after checking dtype F32, the shape and that every element is finite. */
int ima_ckpt_copy_tensor(const ima_st_file *f, const char *name, float *dst, int ndim, const size_t *shape,
                         size_t count);
/* ima_ckpt_copy_tensor for every view. */
int ima_ckpt_read_views(const ima_st_file *f, const ima_param_view *views, size_t n);

#endif
