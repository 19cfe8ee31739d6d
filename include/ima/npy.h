/* npy.h: NumPy .npy arrays (format versions 1.0, 2.0 and 3.0 read; 1.0 written, 2.0 when the
 * header needs it). C order only; dtypes float32, float64, uint8, int32, int64 (little-endian,
 * or single-byte). Fortran order, big-endian, other dtypes, or a file whose size disagrees with
 * its header are refused with a message that names the file and field.
 *
 * Layout of a .npy file:
 *   "\x93NUMPY" major minor | header_len (u16 for v1, u32 for v2/3) | ASCII dict, space padded,
 *   '\n'-terminated, so that the data starts at a multiple of 64 bytes | data, C order. */
#ifndef IMA_NPY_H
#define IMA_NPY_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IMA_DTYPE_F32 = 0,
    IMA_DTYPE_F64,
    IMA_DTYPE_U8,
    IMA_DTYPE_I32,
    IMA_DTYPE_I64,
} ima_dtype;

#define IMA_NPY_MAX_DIMS 8

typedef struct {
    ima_dtype dtype; // element type as stored in the file
    int ndim;        // number of dimensions, 0..IMA_NPY_MAX_DIMS
    size_t shape[IMA_NPY_MAX_DIMS];
    size_t count; // product of shape (1 for ndim = 0)
    void *data;   // count elements of dtype, C order, host byte order (owned)
} ima_npy;

size_t ima_dtype_size(ima_dtype t);     /* 0 for a value outside the enum */
const char *ima_dtype_name(ima_dtype t); /* "float32", ...; "(not a dtype)" outside the enum */

/* Reads a whole .npy file. On error returns IMA_ERR with a message naming path and field. */
int ima_npy_read(ima_npy *out, const char *path);
void ima_npy_free(ima_npy *a); /* safe on a zeroed struct */
/* The header only: out's dtype, shape and count (data NULL), every size checked against the file's;
 * *offset: the byte where the data starts (for mapping the file: dataset.c). */
int ima_npy_read_header(ima_npy *out, const char *path, size_t *offset);

/* Reads a 2-D (or 1-D, taken as N x 1) numeric array and converts it to float32 (N, D).
 * Refuses NaN/Inf (naming the row and column). *rows, *cols receive the shape; the caller frees *data. */
int ima_npy_read_f32_matrix(const char *path, float **data, size_t *rows, size_t *cols);
/* Reads a 1-D integer array (uint8/int32/int64; also an N x 1 array) as int64 labels. */
int ima_npy_read_labels(const char *path, int64_t **labels, size_t *n);

/* Writes an array atomically (temporary file in the same folder, then rename). */
int ima_npy_write(const char *path, ima_dtype dtype, int ndim, const size_t *shape, const void *data);
int ima_npy_write_f32(const char *path, size_t rows, size_t cols, const float *data);

#endif
