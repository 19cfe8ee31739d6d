/* testutil.h: a tiny test harness. Each CHECK counts; tu_finish() prints
 * "N passed, N failed" and returns the exit code (non-zero on any failure). */
#ifndef IMA_TESTUTIL_H
#define IMA_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"
#include "ima/rng.h"

extern int tu_passed, tu_failed;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            tu_passed++;                                                                                               \
        } else {                                                                                                       \
            tu_failed++;                                                                                               \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

/* The call failed, and its message names the file and contains `what`. */
#define CHECK_ERR(rc, path, what)                                                                                      \
    do {                                                                                                               \
        CHECK((rc) == IMA_ERR, "expected an error for %s", (path));                                                    \
        CHECK(strstr(ima_last_error(), (path)) != NULL, "message does not name the file: %s", ima_last_error());       \
        CHECK(strstr(ima_last_error(), (what)) != NULL, "message lacks \"%s\": %s", (what), ima_last_error());         \
    } while (0)

int tu_finish(const char *suite);
/* saves m to path (ima_train_defaults() and a fresh training state, seed 1) and loads it back into *back
 * with max_batch; 0 on success, else -1 with ima_last_error() saying why */
int tu_checkpoint_round_trip(const ima_model *m, const char *path, size_t max_batch, ima_model **back);
/* a fresh empty temporary directory (mkdtemp under $TMPDIR or /tmp); caller frees */
char *tu_tmpdir(void);
/* path join into a static-free buffer the caller frees */
char *tu_path(const char *dir, const char *name);
/* max |a-b| / max(|b|, floor) */
double tu_max_rel_diff(const float *a, const float *b, size_t n, double floor_);
/* $IMA_SOURCE_DIR or "." ; $IMA_SHARED_DIR or "../shared" */
const char *tu_source_dir(void);
const char *tu_shared_dir(void);
/* writes bytes to a file; returns 0 on success */
int tu_write_file(const char *path, const void *data, size_t n);
/* the whole file in a buffer the caller frees, its size in *n; NULL if it cannot be read whole */
unsigned char *tu_read_file(const char *path, size_t *n);
/* how many entries of dir have ".tmp." in their name (left-overs of an atomic write) */
int tu_count_temp_files(const char *dir);
/* removes dir with its files and empty sub-folders (one level: what the io tests write) */
void tu_remove_dir(const char *dir);

/* a small two-modality IMA config: "a" (Da wide, bce) and "b" (Db wide, sse), hidden 16, latent 4, every
 * lambda 1, rho 0.8, inputs centred */
ima_config tu_small_config(size_t Da, size_t Db);

/* DIR/NAME/ of a tiny digits-shaped corpus split: n rows of class-dependent image (784) and speech (696)
 * inputs, labels, a share `noise` of noise images and 2 x noise of noise speech (flags written), and with
 * speech_id the recording ids (noise speech unique); 0 on success */
int tu_write_digits_split(const char *dir, const char *name, size_t n, double noise, int speech_id, ima_rng *rng);

#endif
