/* safetensors.c: safetensors reader and writer (API in include/ima/safetensors.h).
 *
 * Legend: N header length in bytes; S data section size in bytes; [b, e) a tensor's byte range
 * inside the data section; count = product of shape; esize = bytes per element.
 *
 * File layout:
 *   offset 0      u64 little-endian N
 *          8      N bytes of UTF-8 JSON, an object, optionally padded at the end with spaces:
 *                   {"__metadata__": {"key": "value", ...},
 *                    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
 *          8 + N  S bytes of data: each tensor little-endian, C order, at [b, e)
 *
 * Rules checked on read (as the reference implementation does): N fits in the file, the JSON
 * parses to an object, each e - b == count * esize, each e <= S, tensors neither overlap nor
 * leave gaps, and the last e == S. The writer pads N to a multiple of 8 with spaces. */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include "ima/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "io/atomic.h"
#include "io/file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader hands out pointers into the file: it assumes a little-endian host"
#endif

#define META_KEY "__metadata__"

/* safetensors dtype names, indexed by ima_dtype */
static const char *const st_dtype_names[] = {
    [IMA_DTYPE_F32] = "F32", [IMA_DTYPE_F64] = "F64", [IMA_DTYPE_U8] = "U8",
    [IMA_DTYPE_I32] = "I32", [IMA_DTYPE_I64] = "I64",
};
#define N_ST_DTYPES (sizeof st_dtype_names / sizeof st_dtype_names[0])

/* NULL with an error when memory runs out */
static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ima_try_malloc(n, 1);
    return d ? memcpy(d, s, n) : NULL;
}

/* ---- reader ------------------------------------------------------------------------------- */

typedef struct {
    size_t begin, end; // byte range in the data section
    size_t index;      // into f->tensors
} st_range;

/* A JSON number that is a whole number in [0, 2^53] (cJSON stores numbers as doubles; any
 * larger value could not be exact, and no real offset or dimension comes near it). */
static int json_size(const cJSON *v, size_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return 0;
    *out = (size_t)d;
    return 1;
}

static int parse_meta(ima_st_file *f, const cJSON *obj) {
    if (!cJSON_IsObject(obj))
        return ima_error("%s: header field '%s': expected an object of strings", f->path, META_KEY);
    size_t n = (size_t)cJSON_GetArraySize(obj);
    f->meta_keys = ima_try_calloc(n, sizeof *f->meta_keys);
    f->meta_values = ima_try_calloc(n, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return ima_error_prefix("%s: header field '%s'", f->path, META_KEY);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj) {
        if (!cJSON_IsString(kv))
            return ima_error("%s: header field '%s': value of '%s' is not a string", f->path, META_KEY, kv->string);
        for (size_t i = 0; i < f->n_meta; i++)
            if (strcmp(f->meta_keys[i], kv->string) == 0)
                return ima_error("%s: header field '%s': key '%s' appears twice", f->path, META_KEY, kv->string);
        f->meta_keys[f->n_meta] = str_dup(kv->string);
        f->meta_values[f->n_meta] = str_dup(kv->valuestring);
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return ima_error_prefix("%s: header field '%s'", f->path, META_KEY);
    }
    return IMA_OK;
}

/* Fills t (name, dtype, shape, count) and r from one header entry; S is the data section size. */
static int parse_tensor(ima_st_file *f, const cJSON *obj, ima_st_tensor *t, st_range *r, size_t S) {
    const char *p = f->path, *name = obj->string;
    if (!(t->name = str_dup(name))) return ima_error_prefix("%s: tensor names", p);
    if (!cJSON_IsObject(obj))
        return ima_error("%s: tensor '%s': expected an object with dtype, shape and data_offsets", p, name);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL, *it;
    cJSON_ArrayForEach(it, obj) {
        const cJSON **slot = strcmp(it->string, "dtype") == 0          ? &dt
                             : strcmp(it->string, "shape") == 0        ? &sh
                             : strcmp(it->string, "data_offsets") == 0 ? &off
                                                                       : NULL;
        if (!slot)
            return ima_error("%s: tensor '%s': unexpected field '%s' (expected dtype, shape, data_offsets)", p, name,
                             it->string);
        if (*slot) return ima_error("%s: tensor '%s': field '%s' appears twice", p, name, it->string);
        *slot = it;
    }

    if (!dt) return ima_error("%s: tensor '%s': field 'dtype' is missing", p, name);
    if (!cJSON_IsString(dt)) return ima_error("%s: tensor '%s': field 'dtype': expected a string", p, name);
    size_t k = 0;
    while (k < N_ST_DTYPES && strcmp(dt->valuestring, st_dtype_names[k]) != 0) k++;
    if (k == N_ST_DTYPES)
        return ima_error("%s: tensor '%s': field 'dtype': '%s' is not supported (expected F32, F64, I64, I32 or U8)", p,
                         name, dt->valuestring);
    t->dtype = (ima_dtype)k;

    if (!sh) return ima_error("%s: tensor '%s': field 'shape' is missing", p, name);
    if (!cJSON_IsArray(sh))
        return ima_error("%s: tensor '%s': field 'shape': expected an array of non-negative integers", p, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > IMA_ST_MAX_DIMS)
        return ima_error("%s: tensor '%s': field 'shape': %d dimensions, at most %d are supported", p, name, nd,
                         IMA_ST_MAX_DIMS);
    t->ndim = nd;
    t->count = 1;
    for (int i = 0; i < nd; i++) {
        if (!json_size(cJSON_GetArrayItem(sh, i), &t->shape[i]))
            return ima_error("%s: tensor '%s': field 'shape': dimension %d is not a non-negative integer", p, name, i);
        if (ima_mul_overflows(t->count, t->shape[i], &t->count))
            return ima_error("%s: tensor '%s': field 'shape': the product of the dimensions overflows", p, name);
    }

    if (!off) return ima_error("%s: tensor '%s': field 'data_offsets' is missing", p, name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_size(cJSON_GetArrayItem(off, 0), &r->begin) ||
        !json_size(cJSON_GetArrayItem(off, 1), &r->end))
        return ima_error("%s: tensor '%s': field 'data_offsets': expected [begin, end], two non-negative integers", p,
                         name);
    if (r->begin > r->end)
        return ima_error("%s: tensor '%s': field 'data_offsets': begin %zu is after end %zu", p, name, r->begin,
                         r->end);
    if (r->end > S)
        return ima_error("%s: tensor '%s': field 'data_offsets': [%zu, %zu] runs past the end of the data section "
                         "(%zu bytes); the file is truncated or corrupted",
                         p, name, r->begin, r->end, S);
    size_t bytes;
    if (ima_mul_overflows(t->count, ima_dtype_size(t->dtype), &bytes) || bytes != r->end - r->begin)
        return ima_error("%s: tensor '%s': field 'data_offsets': [%zu, %zu] holds %zu bytes but shape and dtype "
                         "%s need %zu elements of %zu bytes",
                         p, name, r->begin, r->end, r->end - r->begin, st_dtype_names[t->dtype], t->count,
                         ima_dtype_size(t->dtype));
    return IMA_OK;
}

static int range_cmp(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Tensors must tile the data section exactly: no overlap, no gap, nothing left over. Zero-size
 * tensors sort before a tensor starting at the same offset, so they never count as overlaps. */
static int check_tiling(const ima_st_file *f, st_range *r, size_t S) {
    qsort(r, f->n_tensors, sizeof *r, range_cmp);
    size_t at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const char *name = f->tensors[r[i].index].name;
        if (r[i].begin < at)
            return ima_error("%s: tensor '%s': field 'data_offsets': [%zu, %zu] overlaps tensor '%s' (which ends at "
                             "%zu)",
                             f->path, name, r[i].begin, r[i].end, f->tensors[r[i - 1].index].name, at);
        if (r[i].begin > at)
            return ima_error("%s: tensor '%s': field 'data_offsets': begins at %zu, leaving a gap of %zu bytes "
                             "(safetensors data must be contiguous)",
                             f->path, name, r[i].begin, r[i].begin - at);
        at = r[i].end;
    }
    if (at != S)
        return ima_error("%s: data section: %zu bytes, but the tensors end at %zu; the file is corrupted "
                         "(trailing bytes)",
                         f->path, S, at);
    return IMA_OK;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int check_unique_names(const ima_st_file *f) {
    if (f->n_tensors < 2) return IMA_OK;
    char **names = ima_try_malloc(f->n_tensors, sizeof *names);
    if (!names) return ima_error_prefix("%s: tensor names", f->path);
    for (size_t i = 0; i < f->n_tensors; i++) names[i] = f->tensors[i].name;
    qsort(names, f->n_tensors, sizeof *names, name_cmp);
    int rc = IMA_OK;
    for (size_t i = 1; i < f->n_tensors && rc == IMA_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = ima_error("%s: tensor '%s': the name appears twice in the header", f->path, names[i]);
    free(names);
    return rc;
}

/* Callers cast data to float * etc., so a tensor the file stores at an offset that is not a
 * multiple of its element size gets an aligned copy (the widest-first layout never needs one). */
static int align_tensors(ima_st_file *f) {
    size_t need = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const ima_st_tensor *t = &f->tensors[i];
        if ((uintptr_t)t->data % ima_dtype_size(t->dtype) != 0)
            need += (t->count * ima_dtype_size(t->dtype) + 7) / 8 * 8;
    }
    if (need == 0) return IMA_OK;
    if (!(f->aligned = ima_try_malloc(need, 1))) return ima_error_prefix("%s: aligned tensor copies", f->path);
    size_t at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        ima_st_tensor *t = &f->tensors[i];
        size_t bytes = t->count * ima_dtype_size(t->dtype);
        if ((uintptr_t)t->data % ima_dtype_size(t->dtype) == 0) continue;
        memcpy(f->aligned + at, t->data, bytes);
        t->data = f->aligned + at;
        at += (bytes + 7) / 8 * 8;
    }
    return IMA_OK;
}

static uint64_t le64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static int st_parse(ima_st_file *f) {
    const char *p = f->path;
    if (f->size < 8)
        return ima_error("%s: header length: file is %zu bytes, too short for the 8-byte header length; not a "
                         "safetensors file",
                         p, f->size);
    uint64_t n = le64(f->buf);
    if (n > f->size - 8)
        return ima_error("%s: header length: %llu bytes, but the file has only %zu after it; the file is truncated "
                         "or not a safetensors file",
                         p, (unsigned long long)n, f->size - 8);
    const char *json = (const char *)f->buf + 8, *end = NULL;
    if (n == 0 || json[0] != '{')
        return ima_error("%s: header: expected a JSON object starting with '{'; not a safetensors file", p);
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0);
    if (!root)
        return ima_error("%s: header: invalid JSON near byte %zu of the header", p,
                         end && end >= json ? (size_t)(end - json) : (size_t)0);
    int rc = IMA_OK;
    for (const char *c = end; c < json + n && rc == IMA_OK; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            rc = ima_error("%s: header: unexpected bytes after the JSON object at byte %zu of the header (only "
                           "space padding may follow)",
                           p, (size_t)(c - json));
    if (rc == IMA_OK && !cJSON_IsObject(root))
        rc = ima_error("%s: header: expected a JSON object mapping tensor names to entries", p);
    if (rc != IMA_OK) {
        cJSON_Delete(root);
        return IMA_ERR;
    }

    const unsigned char *data = f->buf + 8 + n;
    size_t S = f->size - 8 - (size_t)n;
    size_t members = (size_t)cJSON_GetArraySize(root);
    f->tensors = ima_try_calloc(members, sizeof *f->tensors);
    st_range *ranges = ima_try_calloc(members, sizeof *ranges);
    if (!f->tensors || !ranges) {
        free(ranges);
        cJSON_Delete(root);
        return ima_error_prefix("%s: header", p);
    }
    int have_meta = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, META_KEY) == 0) {
            if (have_meta) rc = ima_error("%s: header field '%s': appears twice", p, META_KEY);
            else rc = parse_meta(f, item);
            have_meta = 1;
        } else {
            ima_st_tensor *t = &f->tensors[f->n_tensors];
            st_range *r = &ranges[f->n_tensors];
            f->n_tensors++; /* counted before parsing so that free() sees a partly filled name */
            rc = parse_tensor(f, item, t, r, S);
            r->index = f->n_tensors - 1;
            t->data = data + r->begin;
        }
        if (rc != IMA_OK) break;
    }
    cJSON_Delete(root);
    if (rc == IMA_OK) rc = check_unique_names(f);
    if (rc == IMA_OK) rc = check_tiling(f, ranges, S);
    free(ranges);
    if (rc == IMA_OK) rc = align_tensors(f);
    return rc;
}

int ima_st_read(ima_st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    if (!(f->path = str_dup(path))) return IMA_ERR;
    FILE *fp = ima_fopen_regular(path, &f->size);
    if (!fp) {
        ima_st_free(f);
        return IMA_ERR;
    }
    int rc = IMA_OK;
    if (!(f->buf = ima_try_malloc(f->size, 1))) rc = ima_error_prefix("%s", path);
    else if (f->size > 0 && fread(f->buf, 1, f->size, fp) != f->size)
        rc = ima_error("%s: read error: %s", path, ferror(fp) ? strerror(errno) : "short read");
    fclose(fp);
    if (rc == IMA_OK) rc = st_parse(f);
    if (rc != IMA_OK) ima_st_free(f);
    return rc;
}

void ima_st_free(ima_st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->aligned);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const ima_st_tensor *ima_st_find(const ima_st_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *ima_st_meta(const ima_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- writer ------------------------------------------------------------------------------- */

typedef struct {
    char *name; // owned copy
    ima_dtype dtype;
    int ndim;
    size_t shape[IMA_ST_MAX_DIMS];
    size_t bytes;     // count * esize
    const void *data; // borrowed until write
    size_t begin;     // offset in the data section, set by write
} st_entry;

struct ima_st_writer {
    st_entry *t; // (n) in add order
    size_t n, cap;
    char **meta_keys, **meta_values; // (n_meta) owned copies
    size_t n_meta, cap_meta;
    int failed; // memory ran out, or a bad argument, in add or meta: write reports the error kept in `error`
    char error[256];
};

static void writer_fail(ima_st_writer *w) {
    if (!w->failed) snprintf(w->error, sizeof w->error, "%s", ima_last_error());
    w->failed = 1;
}

/* grows *p to hold need elements; 0 with an error (and *p unchanged) when memory runs out */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need) c *= 2;
    void *q = ima_try_realloc(*p, c, elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

ima_st_writer *ima_st_writer_init(void) {
    ima_st_writer *w = ima_try_calloc(1, sizeof(ima_st_writer));
    if (!w) ima_error_prefix("safetensors writer");
    return w;
}

void ima_st_writer_free(ima_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->t);
    free(w->meta_keys);
    free(w->meta_values);
    free(w);
}

/* A bad argument (or memory running out) marks the writer failed: ima_st_writer_write then returns the
 * first such error, naming the tensor, and writes nothing. A NULL writer (init ran out of memory) is
 * ignored here and refused by write. */
static void writer_refuse(ima_st_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void writer_refuse(ima_st_writer *w, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ima_error("%s", msg);
    writer_fail(w);
}

void ima_st_writer_add(ima_st_writer *w, const char *name, ima_dtype dtype, int ndim, const size_t *shape,
                       const void *data) {
    if (!w || w->failed) return;
    if (!name || !strcmp(name, META_KEY)) {
        writer_refuse(w, "tensor name %s: expected a name other than " META_KEY, name ? name : "(null)");
        return;
    }
    if (ndim < 0 || ndim > IMA_ST_MAX_DIMS || (ndim > 0 && !shape)) {
        writer_refuse(w, "tensor %s: %d dimensions: expected 0 to %d with a shape", name, ndim, IMA_ST_MAX_DIMS);
        return;
    }
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) {
            writer_refuse(w, "tensor %s: added twice", name);
            return;
        }
    size_t bytes = ima_dtype_size(dtype);
    if (!bytes) {
        writer_refuse(w, "tensor %s: dtype %d is not one of ima_dtype's values", name, (int)dtype);
        return;
    }
    for (int i = 0; i < ndim; i++)
        if (ima_mul_overflows(bytes, shape[i], &bytes)) {
            writer_refuse(w, "tensor %s: the byte size of the shape overflows", name);
            return;
        }
    if (!data && bytes) {
        writer_refuse(w, "tensor %s: the data of %zu bytes is NULL", name, bytes);
        return;
    }
    char *copy = str_dup(name);
    if (!copy || !grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t)) {
        free(copy);
        writer_fail(w);
        return;
    }
    st_entry *e = &w->t[w->n++];
    memset(e, 0, sizeof *e);
    e->name = copy;
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->bytes = bytes;
    e->data = data;
}

void ima_st_writer_meta(ima_st_writer *w, const char *key, const char *value) {
    if (!w || w->failed) return;
    if (!key || !value) {
        writer_refuse(w, "metadata %s: a NULL key or value", key ? key : "(null)");
        return;
    }
    for (size_t i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta_keys[i], key)) {
            writer_refuse(w, "metadata %s: added twice", key);
            return;
        }
    size_t cap = w->cap_meta;
    char *k = str_dup(key), *v = str_dup(value);
    if (!k || !v || !grow((void **)&w->meta_keys, &cap, w->n_meta + 1, sizeof *w->meta_keys) ||
        !grow((void **)&w->meta_values, &w->cap_meta, w->n_meta + 1, sizeof *w->meta_values)) {
        free(k);
        free(v);
        writer_fail(w);
        return;
    }
    w->meta_keys[w->n_meta] = k;
    w->meta_values[w->n_meta] = v;
    w->n_meta++;
}

/* Sets each begin, widest elements first so every tensor starts at a multiple of its element
 * size; returns the entries in data order (n indices, caller frees). */
static size_t *layout(ima_st_writer *w) {
    static const size_t widths[] = {8, 4, 2, 1};
    size_t *order = ima_try_malloc(w->n, sizeof *order), k = 0, at = 0;
    if (!order) return NULL;
    for (size_t j = 0; j < sizeof widths / sizeof widths[0]; j++)
        for (size_t i = 0; i < w->n; i++)
            if (ima_dtype_size(w->t[i].dtype) == widths[j]) {
                w->t[i].begin = at;
                at += w->t[i].bytes;
                order[k++] = i;
            }
    IMA_ASSERT(k == w->n); /* every dtype has one of the widths (add refuses any other dtype) */
    return order;
}

/* The JSON header, unpadded. Integers go in as raw text: cJSON would print them from doubles. */
static char *header_json(const ima_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    if (w->n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, META_KEY);
        for (size_t i = 0; i < w->n_meta; i++) cJSON_AddStringToObject(meta, w->meta_keys[i], w->meta_values[i]);
    }
    for (size_t i = 0; i < w->n; i++) {
        const st_entry *e = &w->t[i];
        char shape[IMA_ST_MAX_DIMS * 22 + 3], offs[48];
        size_t len = 0;
        shape[len++] = '[';
        for (int d = 0; d < e->ndim; d++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%zu", d ? "," : "", e->shape[d]);
        snprintf(shape + len, sizeof shape - len, "]");
        snprintf(offs, sizeof offs, "[%zu,%zu]", e->begin, e->begin + e->bytes);
        cJSON *o = cJSON_AddObjectToObject(root, e->name);
        cJSON_AddStringToObject(o, "dtype", st_dtype_names[e->dtype]);
        cJSON_AddRawToObject(o, "shape", shape);
        cJSON_AddRawToObject(o, "data_offsets", offs);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) ima_error("out of memory while printing the safetensors header");
    return text;
}

int ima_st_writer_write(ima_st_writer *w, const char *path) {
    if (!path) return ima_error("safetensors writer: the path is NULL");
    if (!w) return ima_error("%s: no writer (ima_st_writer_init ran out of memory)", path);
    if (w->failed) return ima_error("%s: %s", path, w->error);
    size_t *order = layout(w);
    char *json = order ? header_json(w) : NULL;
    if (!json) {
        free(order);
        return ima_error_prefix("%s", path);
    }
    size_t len = strlen(json), n = (len + 7) / 8 * 8; /* pad so the data section starts 8-aligned */
    unsigned char head[8];
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)n >> (8 * i));
    static const char spaces[8] = "        ";

    ima_atomic_file af;
    int rc = ima_atomic_open(&af, path);
    if (rc == IMA_OK) rc = ima_atomic_write(&af, head, sizeof head);
    if (rc == IMA_OK) rc = ima_atomic_write(&af, json, len);
    if (rc == IMA_OK) rc = ima_atomic_write(&af, spaces, n - len);
    for (size_t k = 0; k < w->n && rc == IMA_OK; k++)
        rc = ima_atomic_write(&af, w->t[order[k]].data, w->t[order[k]].bytes);
    free(json);
    free(order);
    if (rc != IMA_OK) {
        ima_atomic_abort(&af);
        return IMA_ERR;
    }
    return ima_atomic_commit(&af);
}
