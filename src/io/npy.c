/* npy.c: NumPy .npy reader and writer (API in include/ima/npy.h).
 *
 * Legend: N rows, D columns (matrix readers); count = product of shape; elsize = bytes per element.
 *
 * File layout (all integers little-endian):
 *   offset 0   6 bytes   "\x93NUMPY"
 *          6   u8        major version: 1, 2 or 3
 *          7   u8        minor version: 0
 *          8   u16       header_len (v1)        | u32 header_len (v2, v3)
 *   10 | 12    header_len bytes: a Python dict literal, space padded, '\n' terminated,
 *                {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }
 *              (ASCII for v1/v2, UTF-8 for v3; only ASCII is ever needed for these keys)
 *   10+hl | 12+hl   count * elsize bytes, C order
 *
 * Every size is checked against the file size before anything is allocated, and the file must
 * end exactly where the data does. */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include "ima/npy.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "io/atomic.h"
#include "io/file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader/writer store data in host order and assume a little-endian host"
#endif

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- dtypes ------------------------------------------------------------------------------- */

static const struct {
    size_t size;
    const char *name;  // numpy's name, for messages
    const char *descr; // what the writer puts in 'descr'
} dtype_table[] = {
    [IMA_DTYPE_F32] = {4, "float32", "<f4"}, [IMA_DTYPE_F64] = {8, "float64", "<f8"},
    [IMA_DTYPE_U8] = {1, "uint8", "|u1"},    [IMA_DTYPE_I32] = {4, "int32", "<i4"},
    [IMA_DTYPE_I64] = {8, "int64", "<i8"},
};
#define N_DTYPES (sizeof dtype_table / sizeof dtype_table[0])

size_t ima_dtype_size(ima_dtype t) { return (unsigned)t < N_DTYPES ? dtype_table[t].size : 0; }

const char *ima_dtype_name(ima_dtype t) { return (unsigned)t < N_DTYPES ? dtype_table[t].name : "(not a dtype)"; }

/* 'descr' is a byte-order character ('<' little, '>' big, '|' not applicable, '=' native)
 * then kind and size. Single-byte types have no byte order, so any prefix (or none) is fine;
 * wider ones must say '<': a file does not know which host is "native". */
static int descr_parse(const char *path, const char *d, ima_dtype *t) {
    static const char *expected = "expected one of '<f4', '<f8', '|u1', '<i4', '<i8'";
    char order = 0;
    const char *ks = d;
    if (*ks == '<' || *ks == '>' || *ks == '|' || *ks == '=') order = *ks++;
    ima_dtype found;
    if (strcmp(ks, "f4") == 0) found = IMA_DTYPE_F32;
    else if (strcmp(ks, "f8") == 0) found = IMA_DTYPE_F64;
    else if (strcmp(ks, "u1") == 0) found = IMA_DTYPE_U8;
    else if (strcmp(ks, "i4") == 0) found = IMA_DTYPE_I32;
    else if (strcmp(ks, "i8") == 0) found = IMA_DTYPE_I64;
    else
        return ima_error("%s: header field 'descr': dtype '%s' is not supported (%s); convert it "
                         "with a.astype('<f4') or similar",
                         path, d, expected);
    if (dtype_table[found].size > 1 && order != '<') {
        if (order == '>')
            return ima_error("%s: header field 'descr': big-endian dtype '%s' is not supported; "
                             "save with a.astype('%s')",
                             path, d, dtype_table[found].descr);
        return ima_error("%s: header field 'descr': dtype '%s' does not say its byte order; "
                         "expected '%s'",
                         path, d, dtype_table[found].descr);
    }
    *t = found;
    return IMA_OK;
}

/* ---- header dict parser ------------------------------------------------------------------- *
 * Grammar (what numpy writes, and any Python literal of the same shape):
 *   dict  := '{' [entry (',' entry)* [',']] '}'       entries: exactly descr, fortran_order, shape
 *   entry := string ':' value
 *   value := string | 'True' | 'False' | '(' [int (',' int)* [',']] ')'   ("(3)" is not a tuple) */

typedef struct {
    const char *path;
    const char *s; // header text, NUL-terminated
    size_t pos;
} hdr_parser;

#define HDR_STR_MAX 64

static void hdr_skip_ws(hdr_parser *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r') p->pos++;
}

static int hdr_syntax(hdr_parser *p, const char *expected) {
    /* the header is raw bytes from the file: show its start on one line, control bytes escaped */
    char shown[4 * 60 + 1];
    size_t k = 0;
    for (size_t i = 0; p->s[i] && i < 60; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '\n') k += (size_t)snprintf(shown + k, sizeof shown - k, "\\n");
        else if (c < 0x20 || c >= 0x7f) k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
        else shown[k++] = (char)c;
    }
    shown[k] = '\0';
    return ima_error("%s: header: cannot parse the header dict at byte %zu: expected %s; the file "
                     "is not a valid .npy file (header starts \"%s\")",
                     p->path, p->pos, expected, shown);
}

static int hdr_expect(hdr_parser *p, char c, const char *expected) {
    hdr_skip_ws(p);
    if (p->s[p->pos] != c) return hdr_syntax(p, expected);
    p->pos++;
    return IMA_OK;
}

/* A quoted string without escapes (none of the valid keys or values needs one). */
static int hdr_string(hdr_parser *p, char out[HDR_STR_MAX], const char *field) {
    hdr_skip_ws(p);
    char q = p->s[p->pos];
    if (q != '\'' && q != '"') {
        if (field) return ima_error("%s: header field '%s': expected a quoted string such as '<f4'", p->path, field);
        return hdr_syntax(p, "a quoted key");
    }
    size_t start = ++p->pos, n = 0;
    while ((unsigned char)p->s[p->pos] >= 0x20 && p->s[p->pos] != q && p->s[p->pos] != '\\') p->pos++, n++;
    if (p->s[p->pos] != q)
        return hdr_syntax(p, "the end of a quoted string (escapes and control characters are not supported)");
    if (n >= HDR_STR_MAX) {
        if (field) return ima_error("%s: header field '%s': value is too long", p->path, field);
        return hdr_syntax(p, "a short key");
    }
    memcpy(out, p->s + start, n);
    out[n] = '\0';
    p->pos++;
    return IMA_OK;
}

static int hdr_bool(hdr_parser *p, int *out, const char *field) {
    hdr_skip_ws(p);
    if (strncmp(p->s + p->pos, "True", 4) == 0) {
        *out = 1;
        p->pos += 4;
    } else if (strncmp(p->s + p->pos, "False", 5) == 0) {
        *out = 0;
        p->pos += 5;
    } else {
        return ima_error("%s: header field '%s': expected True or False", p->path, field);
    }
    return IMA_OK;
}

static int hdr_shape(hdr_parser *p, int *ndim, size_t shape[IMA_NPY_MAX_DIMS]) {
    static const char *want = "expected a tuple of non-negative integers such as (3, 4) or (3,)";
    hdr_skip_ws(p);
    if (p->s[p->pos] != '(') return ima_error("%s: header field 'shape': %s", p->path, want);
    p->pos++;
    int n = 0, trailing_comma = 0;
    for (;;) {
        hdr_skip_ws(p);
        char c = p->s[p->pos];
        if (c == ')') break;
        if (c == '-') return ima_error("%s: header field 'shape': dimension %d is negative", p->path, n);
        if (c < '0' || c > '9') return ima_error("%s: header field 'shape': %s", p->path, want);
        if (n == IMA_NPY_MAX_DIMS)
            return ima_error("%s: header field 'shape': more than %d dimensions are not supported", p->path,
                             IMA_NPY_MAX_DIMS);
        size_t v = 0;
        while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            size_t digit = (size_t)(p->s[p->pos] - '0');
            if (v > (SIZE_MAX - digit) / 10)
                return ima_error("%s: header field 'shape': dimension %d is too large", p->path, n);
            v = v * 10 + digit;
            p->pos++;
        }
        shape[n++] = v;
        hdr_skip_ws(p);
        trailing_comma = 0;
        if (p->s[p->pos] == ',') {
            p->pos++;
            trailing_comma = 1;
        } else if (p->s[p->pos] != ')') {
            return ima_error("%s: header field 'shape': %s", p->path, want);
        }
    }
    p->pos++; /* ')' */
    if (n == 1 && !trailing_comma)
        return ima_error("%s: header field 'shape': (%zu) is a number, not a tuple; expected (%zu,)", p->path, shape[0],
                         shape[0]);
    *ndim = n;
    return IMA_OK;
}

/* Fills dtype, ndim, shape (not count) of out. */
static int hdr_parse(const char *path, const char *text, ima_npy *out) {
    hdr_parser p = {path, text, 0};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    char key[HDR_STR_MAX], descr[HDR_STR_MAX];
    if (hdr_expect(&p, '{', "'{'") != IMA_OK) return IMA_ERR;
    for (;;) {
        hdr_skip_ws(&p);
        if (p.s[p.pos] == '}') break;
        if (hdr_string(&p, key, NULL) != IMA_OK) return IMA_ERR;
        if (hdr_expect(&p, ':', "':' after a key") != IMA_OK) return IMA_ERR;
        int *seen;
        int rc;
        if (strcmp(key, "descr") == 0) {
            seen = &have_descr;
            rc = hdr_string(&p, descr, "descr");
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &have_fortran;
            rc = hdr_bool(&p, &fortran, "fortran_order");
        } else if (strcmp(key, "shape") == 0) {
            seen = &have_shape;
            rc = hdr_shape(&p, &out->ndim, out->shape);
        } else {
            return ima_error("%s: header field '%s': unexpected key (a .npy header has exactly "
                             "'descr', 'fortran_order' and 'shape')",
                             path, key);
        }
        if (rc != IMA_OK) return IMA_ERR;
        if (*seen) return ima_error("%s: header field '%s': key appears twice", path, key);
        *seen = 1;
        hdr_skip_ws(&p);
        if (p.s[p.pos] == ',') p.pos++;
        else if (p.s[p.pos] != '}') return hdr_syntax(&p, "',' or '}'");
    }
    p.pos++; /* '}' */
    hdr_skip_ws(&p);
    if (p.s[p.pos] != '\0') return hdr_syntax(&p, "nothing after '}' but spaces");
    if (!have_descr) return ima_error("%s: header field 'descr': missing", path);
    if (!have_fortran) return ima_error("%s: header field 'fortran_order': missing", path);
    if (!have_shape) return ima_error("%s: header field 'shape': missing", path);
    if (fortran)
        return ima_error("%s: header field 'fortran_order': Fortran-order arrays are not supported; "
                         "save with np.ascontiguousarray",
                         path);
    return descr_parse(path, descr, &out->dtype);
}

/* ---- reader ------------------------------------------------------------------------------- */

static uint32_t le16(const unsigned char *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8; }
static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int read_exact(FILE *f, void *dst, size_t n, const char *path, const char *what) {
    if (n > 0 && fread(dst, 1, n, f) != n)
        return ima_error("%s: read error in the %s: %s", path, what, ferror(f) ? strerror(errno) : "short read");
    return IMA_OK;
}

/* the preamble and header: out's dtype, shape and count; *offset: where the data starts */
static int npy_read_header(ima_npy *out, FILE *f, size_t fsize, const char *path, size_t *offset) {
    unsigned char pre[12];
    if (fsize < 10)
        return ima_error("%s: magic: file is %zu bytes, too short for a .npy file (at least 10)", path, fsize);
    if (read_exact(f, pre, 10, path, "preamble") != IMA_OK) return IMA_ERR;
    if (memcmp(pre, npy_magic, sizeof npy_magic) != 0)
        return ima_error("%s: magic: expected \"\\x93NUMPY\" at the start; this is not a .npy file", path);
    int major = pre[6], minor = pre[7];
    size_t pre_len, hlen;
    if (major == 1 && minor == 0) {
        pre_len = 10;
        hlen = le16(pre + 8);
    } else if ((major == 2 || major == 3) && minor == 0) {
        pre_len = 12;
        if (fsize < pre_len)
            return ima_error("%s: header_len: file is %zu bytes, truncated inside the preamble", path, fsize);
        if (read_exact(f, pre + 10, 2, path, "preamble") != IMA_OK) return IMA_ERR;
        hlen = le32(pre + 8);
    } else {
        return ima_error("%s: version: .npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)", path, major,
                         minor);
    }
    if (hlen > fsize - pre_len)
        return ima_error("%s: header_len: header of %zu bytes runs past the end of the file (%zu bytes); "
                         "the file is truncated",
                         path, hlen, fsize);

    char *text = ima_try_malloc(hlen + 1, 1);
    if (!text) return ima_error_prefix("%s: header", path);
    int rc = read_exact(f, text, hlen, path, "header");
    if (rc == IMA_OK && memchr(text, '\0', hlen))
        rc = ima_error("%s: header: contains a NUL byte; not a valid .npy header", path);
    text[hlen] = '\0';
    if (rc == IMA_OK) rc = hdr_parse(path, text, out);
    free(text);
    if (rc != IMA_OK) return IMA_ERR;

    size_t count = 1, bytes;
    for (int i = 0; i < out->ndim; i++) {
        if (ima_mul_overflows(count, out->shape[i], &count))
            return ima_error("%s: header field 'shape': the product of the dimensions overflows", path);
    }
    size_t esize = ima_dtype_size(out->dtype);
    if (ima_mul_overflows(count, esize, &bytes))
        return ima_error("%s: header field 'shape': the data size overflows", path);
    size_t have = fsize - pre_len - hlen;
    if (bytes != have)
        return ima_error("%s: header field 'shape': %zu elements of %s need %zu data bytes but the file has "
                         "%zu after the header; the file is %s",
                         path, count, ima_dtype_name(out->dtype), bytes, have,
                         have < bytes ? "truncated" : "corrupted (trailing bytes)");
    out->count = count;
    *offset = pre_len + hlen;
    return IMA_OK;
}

static int npy_read_stream(ima_npy *out, FILE *f, size_t fsize, const char *path) {
    size_t offset, bytes;
    if (npy_read_header(out, f, fsize, path, &offset)) return IMA_ERR;
    bytes = out->count * ima_dtype_size(out->dtype); /* checked against the file size by the header reader */
    out->data = ima_try_malloc(bytes, 1);
    if (!out->data) return ima_error_prefix("%s: data", path);
    return read_exact(f, out->data, bytes, path, "data");
}

int ima_npy_read(ima_npy *out, const char *path) {
    memset(out, 0, sizeof *out);
    size_t fsize = 0;
    FILE *f = ima_fopen_regular(path, &fsize);
    if (!f) return IMA_ERR;
    int rc = npy_read_stream(out, f, fsize, path);
    fclose(f);
    if (rc != IMA_OK) ima_npy_free(out);
    return rc;
}

int ima_npy_read_header(ima_npy *out, const char *path, size_t *offset) {
    memset(out, 0, sizeof *out);
    size_t fsize = 0;
    FILE *f = ima_fopen_regular(path, &fsize);
    if (!f) return IMA_ERR;
    int rc = npy_read_header(out, f, fsize, path, offset);
    fclose(f);
    return rc;
}

void ima_npy_free(ima_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- typed readers ------------------------------------------------------------------------ */

/* N x D view of a 1-D (N,) or 2-D (N, D) array. */
static int matrix_shape(const ima_npy *a, const char *path, size_t *rows, size_t *cols) {
    if (a->ndim == 1) {
        *rows = a->shape[0];
        *cols = 1;
    } else if (a->ndim == 2) {
        *rows = a->shape[0];
        *cols = a->shape[1];
    } else {
        return ima_error("%s: header field 'shape': expected a 1-D or 2-D array, got %d-D", path, a->ndim);
    }
    return IMA_OK;
}

static int not_finite(const char *path, size_t i, size_t cols, double v) {
    return ima_error("%s: data: value at row %zu, column %zu (0-based) is %s; the matrix must be finite", path,
                     i / cols, i % cols, isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"));
}

int ima_npy_read_f32_matrix(const char *path, float **data, size_t *rows, size_t *cols) {
    *data = NULL;
    *rows = *cols = 0;
    ima_npy a;
    size_t n = 0, d = 0;
    if (ima_npy_read(&a, path) != IMA_OK) return IMA_ERR;
    if (matrix_shape(&a, path, &n, &d) != IMA_OK) {
        ima_npy_free(&a);
        return IMA_ERR;
    }
    float *m;
    int rc = IMA_OK;
    if (a.dtype == IMA_DTYPE_F32) { /* already float32: keep the buffer */
        m = a.data;
        a.data = NULL;
        for (size_t i = 0; i < a.count && rc == IMA_OK; i++)
            if (!isfinite(m[i])) rc = not_finite(path, i, d, m[i]);
    } else {
        size_t bytes;
        if (ima_mul_overflows(a.count, sizeof *m, &bytes)) {
            ima_npy_free(&a);
            return ima_error("%s: header field 'shape': too many elements for a float32 copy", path);
        }
        if (!(m = ima_try_malloc(bytes, 1))) {
            ima_npy_free(&a);
            return ima_error_prefix("%s: float32 copy", path);
        }
        for (size_t i = 0; i < a.count && rc == IMA_OK; i++) {
            switch (a.dtype) {
            case IMA_DTYPE_F64: {
                double v = ((const double *)a.data)[i];
                if (!isfinite(v)) rc = not_finite(path, i, d, v);
                else if (fabs(v) > FLT_MAX) /* converting it would be undefined behaviour */
                    rc = ima_error("%s: data: value at row %zu, column %zu (0-based) is %g, outside the "
                                   "float32 range",
                                   path, i / d, i % d, v);
                else m[i] = (float)v;
                break;
            }
            case IMA_DTYPE_U8: m[i] = (float)((const uint8_t *)a.data)[i]; break;
            case IMA_DTYPE_I32: m[i] = (float)((const int32_t *)a.data)[i]; break;
            case IMA_DTYPE_I64: m[i] = (float)((const int64_t *)a.data)[i]; break;
            default: IMA_ASSERT(0); /* the header parser maps every descr to one of the cases above */
            }
        }
    }
    ima_npy_free(&a);
    if (rc != IMA_OK) {
        free(m);
        return IMA_ERR;
    }
    *data = m;
    *rows = n;
    *cols = d;
    return IMA_OK;
}

int ima_npy_read_labels(const char *path, int64_t **labels, size_t *n) {
    *labels = NULL;
    *n = 0;
    ima_npy a;
    if (ima_npy_read(&a, path) != IMA_OK) return IMA_ERR;
    int rc = IMA_OK;
    if (!(a.ndim == 1 || (a.ndim == 2 && a.shape[1] == 1)))
        rc = ima_error("%s: header field 'shape': expected a 1-D integer array (N,) or (N, 1), got %d-D%s", path,
                       a.ndim, a.ndim == 2 ? " with more than one column" : "");
    else if (a.dtype == IMA_DTYPE_F32 || a.dtype == IMA_DTYPE_F64)
        rc = ima_error("%s: header field 'descr': expected integers (uint8, int32 or int64), got %s; "
                       "save with a.astype('<i8')",
                       path, ima_dtype_name(a.dtype));
    if (rc != IMA_OK) {
        ima_npy_free(&a);
        return IMA_ERR;
    }
    size_t bytes;
    if (ima_mul_overflows(a.count, sizeof(int64_t), &bytes)) {
        ima_npy_free(&a);
        return ima_error("%s: header field 'shape': too many labels for an int64 copy", path);
    }
    int64_t *l;
    if (a.dtype == IMA_DTYPE_I64) {
        l = a.data;
        a.data = NULL;
    } else {
        if (!(l = ima_try_malloc(bytes, 1))) {
            ima_npy_free(&a);
            return ima_error_prefix("%s: int64 copy", path);
        }
        for (size_t i = 0; i < a.count; i++)
            l[i] =
                a.dtype == IMA_DTYPE_U8 ? (int64_t)((const uint8_t *)a.data)[i] : (int64_t)((const int32_t *)a.data)[i];
    }
    *labels = l;
    *n = a.count;
    ima_npy_free(&a);
    return IMA_OK;
}

/* ---- writer ------------------------------------------------------------------------------- */

int ima_npy_write(const char *path, ima_dtype dtype, int ndim, const size_t *shape, const void *data) {
    if (!path) return ima_error("npy_write: the path is NULL");
    size_t esize = ima_dtype_size(dtype);
    if (!esize)
        return ima_error("%s: cannot write dtype %d: expected float32, float64, uint8, int32 or int64", path,
                         (int)dtype);
    if (ndim > 0 && !shape) return ima_error("%s: a %d-D array without a shape", path, ndim);
    if (ndim < 0 || ndim > IMA_NPY_MAX_DIMS)
        return ima_error("%s: cannot write a %d-D array (0 to %d dimensions are supported)", path, ndim,
                         IMA_NPY_MAX_DIMS);
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (ima_mul_overflows(count, shape[i], &count))
            return ima_error("%s: the product of the shape overflows", path);
    if (ima_mul_overflows(count, esize, &bytes)) return ima_error("%s: the data size overflows", path);
    if (!data && bytes) return ima_error("%s: the data of %zu bytes is NULL", path, bytes);

    /* preamble + dict, padded with spaces and a final '\n' so the data starts at a multiple of 64
     * (numpy's alignment). With at most 8 dims the header always fits version 1.0's u16 length. */
    char head[512];
    size_t len = 10;
    len += (size_t)snprintf(head + len, sizeof head - len, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                            dtype_table[dtype].descr);
    for (int i = 0; i < ndim; i++)
        len += (size_t)snprintf(head + len, sizeof head - len, "%s%zu", i ? ", " : "", shape[i]);
    len += (size_t)snprintf(head + len, sizeof head - len, "%s), }", ndim == 1 ? "," : "");
    size_t total = (len + 1 + 63) / 64 * 64;
    IMA_ASSERT(total <= sizeof head); /* 8 dims of at most 20 digits each: under 300 bytes */
    memset(head + len, ' ', total - len - 1);
    head[total - 1] = '\n';
    memcpy(head, npy_magic, sizeof npy_magic);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)((total - 10) & 0xff);
    head[9] = (char)((total - 10) >> 8);

    ima_atomic_file af;
    if (ima_atomic_open(&af, path) != IMA_OK) return IMA_ERR;
    if (ima_atomic_write(&af, head, total) != IMA_OK || ima_atomic_write(&af, data, bytes) != IMA_OK) {
        ima_atomic_abort(&af);
        return IMA_ERR;
    }
    return ima_atomic_commit(&af);
}

int ima_npy_write_f32(const char *path, size_t rows, size_t cols, const float *data) {
    size_t shape[2] = {rows, cols};
    return ima_npy_write(path, IMA_DTYPE_F32, 2, shape, data);
}
