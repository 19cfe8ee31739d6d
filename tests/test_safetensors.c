/* test_safetensors.c: the safetensors reader and writer.
 *
 * Round trips of every dtype at ndim 0..3 with metadata; the byte layout (8-aligned,
 * space-padded header; widest-first, gap-free data); a hand-made misaligned file; every
 * refusal (short file, header length past the end, bad JSON, bad dtype/shape/offsets,
 * overlaps, gaps, trailing bytes, a cut file) checked for a message naming the file (and
 * the tensor); atomic writes.
 *
 * Cross-checked by hand with /usr/bin/python3 (struct + json + numpy; the `safetensors`
 * package is not installed there): u64 header length, json.loads of the header, every
 * tensor rebuilt with np.frombuffer(data[b:e], dtype).reshape(shape). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ima/common.h"
#include "ima/safetensors.h"
#include "testutil.h"

static char *dir; // scratch folder for this run

/* u64 LE len(json) | json | data: no padding, so callers control alignment exactly. */
static char *craft(const char *name, const char *json, const void *data, size_t n) {
    size_t jl = strlen(json);
    unsigned char *b = malloc(8 + jl + n + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    if (n) memcpy(b + 8 + jl, data, n);
    char *path = tu_path(dir, name);
    CHECK(tu_write_file(path, b, 8 + jl + n) == 0, "cannot write %s", path);
    free(b);
    return path;
}

/* ---- round trip ------------------------------------------------------------------------------- */

static void fill(ima_dtype t, void *p, size_t n, int seed) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case IMA_DTYPE_F32: ((float *)p)[i] = (float)i * 0.25f - (float)seed; break;
        case IMA_DTYPE_F64: ((double *)p)[i] = (double)i * 1e-7 + seed * 1e12; break;
        case IMA_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)(i * 37 + (size_t)seed); break;
        case IMA_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)i * -3 - seed; break;
        case IMA_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)i * 7000000000LL - seed; break;
        }
    }
}

#define N_RT 21 /* 5 dtypes x ndim 0..3, plus one empty tensor */

static void test_roundtrip(void) {
    static const size_t shapes[4][3] = {{0}, {5}, {3, 4}, {2, 3, 3}};
    /* add order interleaves widths, so the writer has to reorder the data section */
    ima_dtype types[] = {IMA_DTYPE_U8, IMA_DTYPE_F32, IMA_DTYPE_I64, IMA_DTYPE_I32, IMA_DTYPE_F64};
    char names[N_RT][32];
    void *bufs[N_RT];
    ima_dtype dt[N_RT];
    int nds[N_RT];
    size_t counts[N_RT];
    size_t empty_shape[2] = {0, 3};
    ima_st_writer *w = ima_st_writer_init();
    int k = 0;
    for (int nd = 0; nd <= 3; nd++) {
        for (int j = 0; j < 5; j++, k++) {
            size_t count = 1;
            for (int i = 0; i < nd; i++) count *= shapes[nd][i];
            snprintf(names[k], sizeof names[k], "layer%d.%s", nd, ima_dtype_name(types[j]));
            bufs[k] = malloc(count * ima_dtype_size(types[j]));
            fill(types[j], bufs[k], count, k);
            dt[k] = types[j];
            nds[k] = nd;
            counts[k] = count;
            ima_st_writer_add(w, names[k], types[j], nd, shapes[nd], bufs[k]);
        }
    }
    snprintf(names[k], sizeof names[k], "empty");
    bufs[k] = NULL;
    dt[k] = IMA_DTYPE_F32;
    nds[k] = 2;
    counts[k] = 0;
    ima_st_writer_add(w, "empty", IMA_DTYPE_F32, 2, empty_shape, NULL);
    ima_st_writer_meta(w, "format", "pt");
    ima_st_writer_meta(w, "note", "a \"quoted\" value\nwith a newline, a tab\t and \xc3\xa9");

    char *path = tu_path(dir, "rt.safetensors");
    CHECK(ima_st_writer_write(w, path) == IMA_OK, "%s", ima_last_error());
    ima_st_writer_free(w);
    ima_st_writer_free(NULL);

    ima_st_file f;
    CHECK(ima_st_read(&f, path) == IMA_OK, "%s", ima_last_error());
    CHECK(f.n_tensors == N_RT, "n_tensors %zu", f.n_tensors);
    CHECK(f.aligned == NULL, "the writer's layout needed aligned copies");
    for (int i = 0; i < N_RT && f.n_tensors == N_RT; i++) {
        CHECK(strcmp(f.tensors[i].name, names[i]) == 0, "header order: %s at %d", f.tensors[i].name, i);
        const ima_st_tensor *t = ima_st_find(&f, names[i]);
        CHECK(t != NULL, "%s missing", names[i]);
        if (!t) continue;
        CHECK(t->dtype == dt[i] && t->ndim == nds[i] && t->count == counts[i], "%s: dtype/ndim/count", names[i]);
        for (int d = 0; d < t->ndim; d++)
            CHECK(t->shape[d] == (i == N_RT - 1 ? empty_shape[d] : shapes[nds[i]][d]), "%s: shape", names[i]);
        CHECK((uintptr_t)t->data % ima_dtype_size(t->dtype) == 0, "%s: misaligned", names[i]);
        CHECK(counts[i] == 0 || memcmp(t->data, bufs[i], counts[i] * ima_dtype_size(dt[i])) == 0, "%s: data", names[i]);
    }
    CHECK(ima_st_find(&f, "nope") == NULL, "find of a missing name");
    CHECK(ima_st_meta(&f, "format") && strcmp(ima_st_meta(&f, "format"), "pt") == 0, "meta format");
    CHECK(ima_st_meta(&f, "note") &&
              strcmp(ima_st_meta(&f, "note"), "a \"quoted\" value\nwith a newline, a tab\t and \xc3\xa9") == 0,
          "meta escaping");
    CHECK(ima_st_meta(&f, "absent") == NULL, "missing meta");
    ima_st_free(&f);
    ima_st_free(&f);

    /* the raw layout: N % 8 == 0, '{' first, spaces pad the JSON, widest-first data */
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    CHECK(hl % 8 == 0 && hl < n && b[8] == '{', "header length %llu", (unsigned long long)hl);
    size_t end = 8 + hl;
    while (end > 8 && b[end - 1] == ' ') end--;
    CHECK(b[end - 1] == '}' && 8 + hl - end < 8, "padding");
    /* the first data bytes are the first int64 tensor added (widest first, add order) */
    CHECK(memcmp(b + 8 + hl, bufs[2], 8) == 0, "data section does not start with the first 8-byte tensor");
    free(b);
    for (int i = 0; i < N_RT; i++) free(bufs[i]);
    free(path);

    /* metadata only, no tensors */
    w = ima_st_writer_init();
    ima_st_writer_meta(w, "k", "v");
    path = tu_path(dir, "meta_only.safetensors");
    CHECK(ima_st_writer_write(w, path) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_st_read(&f, path) == IMA_OK && f.n_tensors == 0 && f.n_meta == 1, "meta only: %s", ima_last_error());
    ima_st_free(&f);
    ima_st_writer_free(w);
    free(path);
}

/* A file whose header length is not a multiple of 8 and whose F32 tensor sits at offset 3. */
static void test_misaligned(void) {
    unsigned char data[3 + 8];
    data[0] = 1, data[1] = 2, data[2] = 3;
    float v[2] = {1.5f, -2.25f};
    memcpy(data + 3, v, 8);
    char *p = craft("misaligned.safetensors",
                    "{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}",
                    data, sizeof data);
    ima_st_file f;
    CHECK(ima_st_read(&f, p) == IMA_OK, "%s", ima_last_error());
    const ima_st_tensor *t = ima_st_find(&f, "f");
    CHECK(t && (uintptr_t)t->data % 4 == 0, "F32 tensor not aligned");
    CHECK(t && ((const float *)t->data)[0] == 1.5f && ((const float *)t->data)[1] == -2.25f, "F32 values");
    CHECK(f.aligned != NULL, "expected an aligned copy");
    t = ima_st_find(&f, "b");
    CHECK(t && memcmp(t->data, data, 3) == 0, "U8 values");
    ima_st_free(&f);
    free(p);
}

/* ---- refusals --------------------------------------------------------------------------------- */

static void expect_bad(const char *name, const char *json, size_t data_bytes, const char *what) {
    unsigned char *zeros = calloc(data_bytes ? data_bytes : 1, 1);
    char *p = craft(name, json, zeros, data_bytes);
    ima_st_file f;
    CHECK_ERR(ima_st_read(&f, p), p, what);
    CHECK(f.buf == NULL && f.tensors == NULL && f.path == NULL, "%s: not cleared after an error", name);
    free(zeros);
    free(p);
}

#define T8(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #b "," #e "]}"

static void test_bad_headers(void) {
    expect_bad("badjson.safetensors", "{\"a\":{\"dtype\":\"F32\",", 0, "header: invalid JSON");
    expect_bad("notobject.safetensors", "[1, 2]", 0, "expected a JSON object");
    expect_bad("after.safetensors", "{} x", 0, "unexpected bytes after the JSON");
    expect_bad("dtype.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
               "tensor 'w': field 'dtype': 'BF16' is not supported");
    expect_bad("dtypenum.safetensors", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "tensor 'w': field 'dtype': expected a string");
    expect_bad("negshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
               "tensor 'w': field 'shape': dimension 0 is not a non-negative integer");
    expect_bad("fracshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2, 1.5],\"data_offsets\":[0,12]}}", 12,
               "field 'shape': dimension 1");
    expect_bad("shapeoverflow.safetensors",
               "{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
               "overflows");
    expect_bad("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
               "tensor 'w': field 'data_offsets' is missing");
    expect_bad("extrafield.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
               "tensor 'w': unexpected field 'x'");
    expect_bad("offsets3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8,
               "expected [begin, end]");
    expect_bad("beyond.safetensors", "{" T8("w", 0, 8) "," T8("v", 8, 16) "}", 12,
               "tensor 'v': field 'data_offsets': [8, 16] runs past the end of the data section (12 bytes)");
    expect_bad("reversed.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
               "begin 8 is after end 0");
    expect_bad("mismatch.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
               "tensor 'w': field 'data_offsets': [0, 8] holds 8 bytes");
    expect_bad("overlap.safetensors", "{" T8("a", 0, 8) "," T8("b", 4, 12) "}", 12,
               "tensor 'b': field 'data_offsets': [4, 12] overlaps tensor 'a'");
    expect_bad("gap.safetensors", "{" T8("a", 0, 8) "," T8("b", 12, 20) "}", 20, "tensor 'b'");
    expect_bad("gap2.safetensors", "{" T8("a", 0, 8) "," T8("b", 12, 20) "}", 20, "gap of 4 bytes");
    expect_bad("trailing.safetensors", "{" T8("a", 0, 8) "}", 12, "trailing bytes");
    expect_bad("dupname.safetensors", "{" T8("a", 0, 8) "," T8("a", 8, 16) "}", 16,
               "tensor 'a': the name appears twice");
    expect_bad("metanum.safetensors", "{\"__metadata__\":{\"k\":1}," T8("a", 0, 8) "}", 8,
               "header field '__metadata__': value of 'k' is not a string");
    expect_bad("metalist.safetensors", "{\"__metadata__\":[]}", 0, "header field '__metadata__'");
}

static void test_bad_files(void) {
    ima_st_file f;
    char *p = craft("short.safetensors", "", NULL, 0); /* only the 8-byte length, 0 */
    CHECK_ERR(ima_st_read(&f, p), p, "expected a JSON object");
    free(p);
    p = tu_path(dir, "tiny.safetensors");
    tu_write_file(p, "\x10\0\0", 3);
    CHECK_ERR(ima_st_read(&f, p), p, "too short");
    free(p);
    /* header length pointing past the end */
    unsigned char b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    p = tu_path(dir, "hlen.safetensors");
    tu_write_file(p, b, 10);
    CHECK_ERR(ima_st_read(&f, p), p, "header length: 65535 bytes");
    free(p);
    p = tu_path(dir, "missing.safetensors");
    CHECK_ERR(ima_st_read(&f, p), p, "cannot open");
    free(p);
    CHECK_ERR(ima_st_read(&f, dir), dir, "not a regular file");

    /* a written file, cut: the last tensor in the data section runs past the end */
    float a[4] = {1, 2, 3, 4};
    double d[2] = {5, 6};
    size_t s4 = 4, s2 = 2;
    ima_st_writer *w = ima_st_writer_init();
    ima_st_writer_add(w, "first.f32", IMA_DTYPE_F32, 1, &s4, a);
    ima_st_writer_add(w, "second.f64", IMA_DTYPE_F64, 1, &s2, d);
    p = tu_path(dir, "whole.safetensors");
    CHECK(ima_st_writer_write(w, p) == IMA_OK, "%s", ima_last_error());
    ima_st_writer_free(w);
    size_t n;
    unsigned char *img = tu_read_file(p, &n);
    free(p);
    p = tu_path(dir, "cut.safetensors");
    tu_write_file(p, img, n - 4);
    CHECK_ERR(ima_st_read(&f, p), p, "tensor 'first.f32': field 'data_offsets': [16, 32] runs past the end");
    free(p);
    p = tu_path(dir, "cut_header.safetensors");
    tu_write_file(p, img, 20);
    CHECK_ERR(ima_st_read(&f, p), p, "header length");
    free(p);
    /* a flipped byte inside the JSON */
    img[8] = '[';
    p = tu_path(dir, "flipped.safetensors");
    tu_write_file(p, img, n);
    CHECK_ERR(ima_st_read(&f, p), p, "header");
    free(p);
    free(img);
}

/* ---- atomic writes ---------------------------------------------------------------------------- */

static void test_atomic_write(void) {
    float v[2] = {1, 2};
    size_t s2 = 2;
    ima_st_writer *w = ima_st_writer_init();
    ima_st_writer_add(w, "v", IMA_DTYPE_F32, 1, &s2, v);
    char *p = tu_path(dir, "no/such/folder/ckpt.safetensors");
    CHECK_ERR(ima_st_writer_write(w, p), p, "folder");
    free(p);
    p = tu_path(dir, "a_folder.safetensors");
    mkdir(p, 0755);
    CHECK_ERR(ima_st_writer_write(w, p), p, "cannot move");
    CHECK(tu_count_temp_files(dir) == 0, "temporary file left behind after a failed rename");
    free(p);
    p = tu_path(dir, "over.safetensors");
    CHECK(ima_st_writer_write(w, p) == IMA_OK && ima_st_writer_write(w, p) == IMA_OK, "%s", ima_last_error());
    ima_st_file f;
    CHECK(ima_st_read(&f, p) == IMA_OK && f.n_tensors == 1, "overwrite");
    ima_st_free(&f);
    CHECK(tu_count_temp_files(dir) == 0, "temporary file left behind");
    free(p);
    ima_st_writer_free(w);
}

int main(void) {
    dir = tu_tmpdir();
    test_roundtrip();
    test_misaligned();
    test_bad_headers();
    test_bad_files();
    test_atomic_write();
    if (tu_failed == 0) tu_remove_dir(dir); /* keep the files of a failing run for inspection */
    else fprintf(stderr, "test files kept in %s\n", dir);
    free(dir);
    return tu_finish("test_safetensors");
}
