/* safetensors.h: the safetensors file format (https://huggingface.co/docs/safetensors):
 *   u64 little-endian N | N bytes of JSON header | data bytes.
 * The header maps tensor names to {"dtype": "F32"|"F64"|"I64"|"I32"|"U8", "shape": [...],
 * "data_offsets": [begin, end]} (offsets relative to the data section) and may hold
 * "__metadata__": {string: string}. Used for checkpoints and golden files. */
#ifndef IMA_SAFETENSORS_H
#define IMA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ima/npy.h" /* ima_dtype */

#define IMA_ST_MAX_DIMS 8

typedef struct {
    char *name;
    ima_dtype dtype;
    int ndim;
    size_t shape[IMA_ST_MAX_DIMS];
    size_t count;     // elements
    const void *data; // count elements, aligned for dtype: points into the file image, or into
                      // `aligned` when the file placed it at a misaligned offset (little-endian host)
} ima_st_tensor;

typedef struct {
    char *path;         // for error messages
    unsigned char *buf; // whole file
    size_t size;
    size_t n_tensors;
    ima_st_tensor *tensors;
    size_t n_meta;
    char **meta_keys;
    char **meta_values;
    unsigned char *aligned; // aligned copies of tensors the file stores misaligned (usually NULL)
} ima_st_file;

/* Reads and validates a file: every offset and size is checked against the file size,
 * offsets must not overlap or leave gaps, dtype*shape must match the byte range. On error
 * returns IMA_ERR with a message naming the path (and the tensor and field at fault). */
int ima_st_read(ima_st_file *f, const char *path);
void ima_st_free(ima_st_file *f);
const ima_st_tensor *ima_st_find(const ima_st_file *f, const char *name);
const char *ima_st_meta(const ima_st_file *f, const char *key); /* NULL if absent */

/* Writer: collect tensors (data is copied by reference: keep it alive until write). init returns NULL
 * when memory runs out. A bad argument to add or meta (a duplicate or reserved name, ndim outside
 * 0..IMA_ST_MAX_DIMS, a dtype outside the enum, NULL data of a non-empty tensor) or memory running out
 * there marks the writer failed: write then returns that first error and writes nothing. */
typedef struct ima_st_writer ima_st_writer;
ima_st_writer *ima_st_writer_init(void);
void ima_st_writer_free(ima_st_writer *w);
void ima_st_writer_add(ima_st_writer *w, const char *name, ima_dtype dtype, int ndim, const size_t *shape,
                       const void *data);
void ima_st_writer_meta(ima_st_writer *w, const char *key, const char *value);
/* Writes to path + ".tmp.XXXXXX", fsyncs, renames over path. On failure nothing at path changes.
 * The header lists tensors in the order they were added; in the data section tensors are grouped
 * by element size, widest first (add order within a group), as the reference writer does, so every
 * tensor is aligned to its element size without the gaps the format forbids. */
int ima_st_writer_write(ima_st_writer *w, const char *path);

#endif
