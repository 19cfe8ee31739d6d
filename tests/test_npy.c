/* test_npy.c: the .npy reader and writer.
 *
 * Round trips of every dtype at ndim 0..3; hand-made v1/v2/v3 headers in the dialects numpy
 * writes; every refusal (truncation, Fortran order, big-endian, unknown dtype, bad magic,
 * header garbage, shape overflow, NaN/Inf) checked for a message naming the file and the
 * field; atomic writes (missing folder, failure mid-write leaves the old file intact).
 *
 * Cross-checked by hand against numpy 1.24 (see the report of the io branch):
 *   /usr/bin/python3 -c "import numpy as np; print(np.load('x.npy'))"  on files written here, and
 *   np.save / np.lib.format.write_array(version=(2,0)) files read back by ima_npy_read. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ima/common.h"
#include "ima/npy.h"
#include "testutil.h"

static char *dir; // scratch folder for this run

/* Writes a .npy by hand: version major.0, dict padded with spaces + '\n' to a multiple of 64. */
static char *craft(const char *name, int major, const char *dict, const void *data, size_t n) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    unsigned char *b = malloc(total + n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hlen - dl - 1);
    b[total - 1] = '\n';
    if (n) memcpy(b + total, data, n);
    char *path = tu_path(dir, name);
    CHECK(tu_write_file(path, b, total + n) == 0, "cannot write %s", path);
    free(b);
    return path;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Copies the first n bytes of src to a new file dst. */
static char *cut_copy(const char *src, const char *name, size_t n) {
    size_t len;
    unsigned char *b = tu_read_file(src, &len);
    CHECK(b && n <= len, "cannot cut %s", src);
    char *path = tu_path(dir, name);
    tu_write_file(path, b, n);
    free(b);
    return path;
}

/* ---- round trips ---------------------------------------------------------------------------- */

static void fill(ima_dtype t, void *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case IMA_DTYPE_F32: ((float *)p)[i] = (float)i * 0.5f - 3.25f; break;
        case IMA_DTYPE_F64: ((double *)p)[i] = (double)i * 1e-3 - 1e10; break;
        case IMA_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)(250 + i); break;
        case IMA_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)i * -100000 + 7; break;
        case IMA_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)i * -5000000000LL + 1; break;
        }
    }
}

static void test_roundtrip(void) {
    static const size_t shapes[4][3] = {{0}, {5}, {3, 4}, {2, 3, 4}};
    ima_dtype types[] = {IMA_DTYPE_F32, IMA_DTYPE_F64, IMA_DTYPE_U8, IMA_DTYPE_I32, IMA_DTYPE_I64};
    for (int k = 0; k < 5; k++) {
        for (int nd = 0; nd <= 3; nd++) {
            size_t count = 1;
            for (int i = 0; i < nd; i++) count *= shapes[nd][i];
            size_t bytes = count * ima_dtype_size(types[k]);
            void *src = malloc(bytes);
            fill(types[k], src, count);
            char name[64];
            snprintf(name, sizeof name, "rt_%s_%dd.npy", ima_dtype_name(types[k]), nd);
            char *path = tu_path(dir, name);
            CHECK(ima_npy_write(path, types[k], nd, shapes[nd], src) == IMA_OK, "%s", ima_last_error());
            /* data starts at a multiple of 64, as numpy writes it */
            long fs = file_size(path);
            CHECK(fs >= 64 + (long)bytes && (fs - (long)bytes) % 64 == 0, "%s: data offset not 64-aligned", name);
            ima_npy a;
            CHECK(ima_npy_read(&a, path) == IMA_OK, "%s", ima_last_error());
            CHECK(a.dtype == types[k] && a.ndim == nd && a.count == count, "%s: dtype/ndim/count", name);
            for (int i = 0; i < nd; i++) CHECK(a.shape[i] == shapes[nd][i], "%s: shape[%d]", name, i);
            CHECK(a.data && memcmp(a.data, src, bytes) == 0, "%s: data differs", name);
            ima_npy_free(&a);
            ima_npy_free(&a); /* second free of a zeroed struct is harmless */
            free(src);
            free(path);
        }
    }
    /* empty array and the f32 convenience writer */
    char *path = tu_path(dir, "empty.npy");
    size_t shape0[2] = {0, 3};
    CHECK(ima_npy_write(path, IMA_DTYPE_F32, 2, shape0, NULL) == IMA_OK, "%s", ima_last_error());
    ima_npy a;
    CHECK(ima_npy_read(&a, path) == IMA_OK && a.count == 0 && a.shape[0] == 0 && a.shape[1] == 3, "empty");
    ima_npy_free(&a);
    free(path);
    path = tu_path(dir, "ninedims_out.npy");
    size_t ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float one = 1;
    CHECK_ERR(ima_npy_write(path, IMA_DTYPE_F32, 9, ones, &one), path, "9-D");
    CHECK(file_size(path) == -1, "a refused write created the file");
    free(path);
}

/* The exact bytes numpy's np.save writes for np.zeros((2, 3), '<f4') header. */
static void test_header_bytes(void) {
    char *path = tu_path(dir, "hdr.npy");
    float z[6] = {0};
    CHECK(ima_npy_write_f32(path, 2, 3, z) == IMA_OK, "%s", ima_last_error());
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(b && n == 128 + 24, "file size %zu", n);
    if (b && n == 128 + 24) {
        CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0, "magic/version");
        CHECK(b[8] == 118 && b[9] == 0, "header_len %d", b[8] | b[9] << 8);
        CHECK(memcmp(b + 10, dict, sizeof dict - 1) == 0, "dict text");
        int spaces = 1;
        for (size_t i = 10 + sizeof dict - 1; i < 127; i++) spaces &= b[i] == ' ';
        CHECK(spaces && b[127] == '\n', "padding");
    }
    free(b);
    /* a 1-D shape is written as a one-element tuple "(5,)" */
    char *p1 = tu_path(dir, "hdr1.npy");
    int32_t v[5] = {1, 2, 3, 4, 5};
    size_t s5 = 5;
    CHECK(ima_npy_write(p1, IMA_DTYPE_I32, 1, &s5, v) == IMA_OK, "%s", ima_last_error());
    b = tu_read_file(p1, &n);
    static const char dict1[] = "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }";
    CHECK(b && n == 128 + 20 && memcmp(b + 10, dict1, sizeof dict1 - 1) == 0, "1-D header text");
    free(b);
    free(p1);
    free(path);
}

/* ---- hand-made headers ------------------------------------------------------------------------ */

static void test_versions_and_dialects(void) {
    float f[6] = {1, 2, 3, 4, 5, 6};
    ima_npy a;
    for (int major = 1; major <= 3; major++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.npy", major);
        char *p = craft(name, major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, sizeof f);
        int rc = ima_npy_read(&a, p);
        CHECK(rc == IMA_OK, "v%d: %s", major, ima_last_error());
        CHECK(rc == IMA_OK && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && memcmp(a.data, f, sizeof f) == 0,
              "v%d contents", major);
        ima_npy_free(&a);
        free(p);
    }
    /* v2 preamble bytes: header_len is a u32 at offset 8, data at 12 + header_len */
    char *p2 = tu_path(dir, "v2.npy");
    size_t n;
    unsigned char *b = tu_read_file(p2, &n);
    CHECK(b && b[6] == 2 && (b[8] | b[9] << 8 | b[10] << 16 | (uint32_t)b[11] << 24) + 12 == n - sizeof f,
          "crafted v2 layout");
    free(b);
    free(p2);

    /* every form numpy (or a hand-written file) uses for a byte */
    const char *u8forms[] = {"|u1", "u1", "<u1"};
    uint8_t u[3] = {0, 128, 255};
    for (int i = 0; i < 3; i++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{\"shape\": (3,), \"descr\": \"%s\", \"fortran_order\": False}", u8forms[i]);
        char *p = craft("u1.npy", 1, dict, u, 3);
        CHECK(ima_npy_read(&a, p) == IMA_OK && a.dtype == IMA_DTYPE_U8 && a.count == 3 && memcmp(a.data, u, 3) == 0,
              "descr %s: %s", u8forms[i], ima_last_error());
        ima_npy_free(&a);
        free(p);
    }
    /* scalar: shape () */
    double pi = 3.25;
    char *p = craft("scalar.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", &pi, 8);
    CHECK(ima_npy_read(&a, p) == IMA_OK && a.ndim == 0 && a.count == 1 && ((double *)a.data)[0] == 3.25, "scalar");
    ima_npy_free(&a);
    free(p);
}

/* ---- refusals --------------------------------------------------------------------------------- */

static void expect_bad(const char *name, int major, const char *dict, size_t data_bytes, const char *what) {
    unsigned char *zeros = calloc(data_bytes ? data_bytes : 1, 1);
    char *p = craft(name, major, dict, zeros, data_bytes);
    ima_npy a;
    memset(&a, 0x5a, sizeof a);
    CHECK_ERR(ima_npy_read(&a, p), p, what);
    CHECK(a.data == NULL, "%s: data left allocated after an error", name);
    free(zeros);
    free(p);
}

static void test_bad_headers(void) {
    expect_bad("fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24,
               "header field 'fortran_order': Fortran-order arrays are not supported");
    expect_bad("bigendian.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24,
               "header field 'descr': big-endian");
    expect_bad("complex.npy", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
               "'<c8' is not supported");
    expect_bad("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4, "'<f2' is not supported");
    expect_bad("noorder.npy", 1, "{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }", 8, "byte order");
    expect_bad("garbage.npy", 1, "hello, world", 0, "cannot parse the header dict");
    expect_bad("cutdict.npy", 1, "{'descr': '<f4', 'fortran_order': Fals", 0,
               "'fortran_order': expected True or False");
    expect_bad("nobrace.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, "cannot parse");
    expect_bad("after.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8, "after '}'");
    expect_bad("noshape.npy", 1, "{'descr': '<f4', 'fortran_order': False}", 0, "header field 'shape': missing");
    expect_bad("nodescr.npy", 1, "{'fortran_order': False, 'shape': (2,)}", 0, "header field 'descr': missing");
    expect_bad("extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
               "header field 'x': unexpected key");
    expect_bad("twice.npy", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
               "header field 'descr': key appears twice");
    expect_bad("descrnum.npy", 1, "{'descr': 4, 'fortran_order': False, 'shape': (2,)}", 8,
               "header field 'descr': expected a quoted string");
    expect_bad("notuple.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", 8, "not a tuple");
    expect_bad("list.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", 8,
               "header field 'shape': expected a tuple");
    expect_bad("negative.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3)}", 0,
               "header field 'shape': dimension 0 is negative");
    expect_bad("huge.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", 0,
               "dimension 0 is too large");
    expect_bad("overflow.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2)}", 0,
               "overflows");
    expect_bad("bytesoverflow.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", 0,
               "overflows");
    /* a plausible shape with no data behind it: refused from the file size, not by trying to allocate 4 TiB */
    expect_bad("nodata.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,)}", 64, "truncated");
    expect_bad("ninedims.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}", 4,
               "more than 8");
    expect_bad("trailing.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 12, "trailing bytes");
    expect_bad("v4.npy", 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "version 4.0");
}

static void test_bad_files(void) {
    ima_npy a;
    /* truncated: a good file cut at every interesting place */
    char *good = tu_path(dir, "good.npy");
    float f[12] = {0};
    CHECK(ima_npy_write_f32(good, 3, 4, f) == IMA_OK, "%s", ima_last_error());
    size_t n = (size_t)file_size(good);
    char *cut = cut_copy(good, "cut_data.npy", n - 1);
    CHECK_ERR(ima_npy_read(&a, cut), cut, "truncated");
    free(cut);
    cut = cut_copy(good, "cut_header.npy", 40);
    CHECK_ERR(ima_npy_read(&a, cut), cut, "header_len");
    free(cut);
    cut = cut_copy(good, "cut_magic.npy", 7);
    CHECK_ERR(ima_npy_read(&a, cut), cut, "too short");
    free(cut);
    cut = cut_copy(good, "empty_file.npy", 0);
    CHECK_ERR(ima_npy_read(&a, cut), cut, "too short");
    free(cut);

    /* bad magic: the good file with one byte changed */
    size_t len;
    unsigned char *b = tu_read_file(good, &len);
    b[5] = 'X';
    char *bad = tu_path(dir, "badmagic.npy");
    tu_write_file(bad, b, len);
    CHECK_ERR(ima_npy_read(&a, bad), bad, "magic");
    free(bad);
    /* a NUL inside the header */
    b[5] = 'Y';
    b[20] = 0;
    bad = tu_path(dir, "nul.npy");
    tu_write_file(bad, b, len);
    CHECK_ERR(ima_npy_read(&a, bad), bad, "NUL");
    free(bad);
    free(b);

    char *missing = tu_path(dir, "does_not_exist.npy");
    CHECK_ERR(ima_npy_read(&a, missing), missing, "cannot open");
    free(missing);
    CHECK_ERR(ima_npy_read(&a, dir), dir, "not a regular file");
    free(good);
}

/* ---- typed readers ------------------------------------------------------------------------------ */

static void test_f32_matrix(void) {
    float *m;
    size_t r, c;
    /* float64 (2, 3) converted */
    double d[6] = {1.5, -2, 3e30, 0, 1e-3, -7.25};
    size_t s23[2] = {2, 3};
    char *p = tu_path(dir, "m_f64.npy");
    CHECK(ima_npy_write(p, IMA_DTYPE_F64, 2, s23, d) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_npy_read_f32_matrix(p, &m, &r, &c) == IMA_OK && r == 2 && c == 3, "f64 matrix: %s", ima_last_error());
    int same = 1;
    for (int i = 0; i < 6; i++) same &= m[i] == (float)d[i];
    CHECK(same, "f64 -> f32 values");
    free(m);
    free(p);
    /* int32 1-D -> N x 1 */
    int32_t iv[4] = {-3, 0, 5, 1000000};
    size_t s4 = 4;
    p = tu_path(dir, "m_i32.npy");
    CHECK(ima_npy_write(p, IMA_DTYPE_I32, 1, &s4, iv) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_npy_read_f32_matrix(p, &m, &r, &c) == IMA_OK && r == 4 && c == 1 && m[0] == -3.0f && m[3] == 1e6f,
          "i32 vector as 4 x 1");
    free(m);
    free(p);
    /* uint8 and int64 */
    uint8_t u[4] = {0, 1, 254, 255};
    p = tu_path(dir, "m_u8.npy");
    size_t s22[2] = {2, 2};
    CHECK(ima_npy_write(p, IMA_DTYPE_U8, 2, s22, u) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_npy_read_f32_matrix(p, &m, &r, &c) == IMA_OK && r == 2 && c == 2 && m[2] == 254.0f && m[3] == 255.0f,
          "u8 matrix");
    free(m);
    free(p);
    int64_t lv[2] = {-(1LL << 40), 42};
    size_t s21[2] = {2, 1};
    p = tu_path(dir, "m_i64.npy");
    CHECK(ima_npy_write(p, IMA_DTYPE_I64, 2, s21, lv) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_npy_read_f32_matrix(p, &m, &r, &c) == IMA_OK && m[0] == -1099511627776.0f && m[1] == 42.0f, "i64");
    free(m);
    free(p);

    /* non-finite values: named by row and column */
    float bad[6] = {0, 1, 2, 3, 4, 5};
    bad[5] = NAN; /* row 1, column 2 */
    p = tu_path(dir, "nan.npy");
    ima_npy_write_f32(p, 2, 3, bad);
    m = (float *)p; /* must be reset to NULL on error */
    CHECK_ERR(ima_npy_read_f32_matrix(p, &m, &r, &c), p, "row 1, column 2 (0-based) is NaN");
    CHECK(m == NULL && r == 0 && c == 0, "outputs not cleared on error");
    free(p);
    bad[5] = 5;
    bad[1] = -INFINITY; /* row 0, column 1 */
    p = tu_path(dir, "inf.npy");
    ima_npy_write_f32(p, 2, 3, bad);
    CHECK_ERR(ima_npy_read_f32_matrix(p, &m, &r, &c), p, "row 0, column 1 (0-based) is -Inf");
    free(p);
    d[4] = INFINITY; /* row 1, column 1 */
    p = tu_path(dir, "inf64.npy");
    ima_npy_write(p, IMA_DTYPE_F64, 2, s23, d);
    CHECK_ERR(ima_npy_read_f32_matrix(p, &m, &r, &c), p, "row 1, column 1 (0-based) is +Inf");
    free(p);
    d[4] = 1e300;
    p = tu_path(dir, "big64.npy");
    ima_npy_write(p, IMA_DTYPE_F64, 2, s23, d);
    CHECK_ERR(ima_npy_read_f32_matrix(p, &m, &r, &c), p, "outside the float32 range");
    free(p);
    /* 3-D refused */
    size_t s3[3] = {1, 2, 3};
    p = tu_path(dir, "m3d.npy");
    ima_npy_write(p, IMA_DTYPE_F32, 3, s3, bad);
    CHECK_ERR(ima_npy_read_f32_matrix(p, &m, &r, &c), p, "expected a 1-D or 2-D array, got 3-D");
    free(p);
}

static void test_labels(void) {
    int64_t *l;
    size_t n;
    int64_t v64[3] = {0, 9, -1};
    size_t s3 = 3, s31[2] = {3, 1}, s32[2] = {3, 2};
    char *p = tu_path(dir, "l_i64.npy");
    ima_npy_write(p, IMA_DTYPE_I64, 1, &s3, v64);
    CHECK(ima_npy_read_labels(p, &l, &n) == IMA_OK && n == 3 && l[0] == 0 && l[1] == 9 && l[2] == -1, "i64 labels");
    free(l);
    free(p);
    uint8_t v8[3] = {7, 255, 0};
    p = tu_path(dir, "l_u8.npy");
    ima_npy_write(p, IMA_DTYPE_U8, 2, s31, v8);
    CHECK(ima_npy_read_labels(p, &l, &n) == IMA_OK && n == 3 && l[0] == 7 && l[1] == 255, "u8 (N, 1) labels");
    free(l);
    free(p);
    int32_t v32[6] = {-5, 1, 2, 3, 4, 5};
    p = tu_path(dir, "l_i32.npy");
    ima_npy_write(p, IMA_DTYPE_I32, 1, &s3, v32);
    CHECK(ima_npy_read_labels(p, &l, &n) == IMA_OK && n == 3 && l[0] == -5 && l[2] == 2, "i32 labels");
    free(l);
    free(p);
    p = tu_path(dir, "l_2col.npy");
    ima_npy_write(p, IMA_DTYPE_I32, 2, s32, v32);
    CHECK_ERR(ima_npy_read_labels(p, &l, &n), p, "expected a 1-D integer array");
    CHECK(l == NULL && n == 0, "outputs not cleared on error");
    free(p);
    float fl[3] = {0, 1, 2};
    p = tu_path(dir, "l_f32.npy");
    ima_npy_write(p, IMA_DTYPE_F32, 1, &s3, fl);
    CHECK_ERR(ima_npy_read_labels(p, &l, &n), p, "header field 'descr': expected integers");
    free(p);
}

/* ---- atomic writes ---------------------------------------------------------------------------- */

static void test_atomic_write(void) {
    float f[4] = {1, 2, 3, 4};
    /* a folder that does not exist */
    char *nodir = tu_path(dir, "no/such/folder/x.npy");
    CHECK_ERR(ima_npy_write_f32(nodir, 2, 2, f), nodir, "folder");
    free(nodir);
    /* the target is a folder: rename fails, the temporary file is removed */
    char *sub = tu_path(dir, "a_folder.npy");
    mkdir(sub, 0755);
    CHECK_ERR(ima_npy_write_f32(sub, 2, 2, f), sub, "cannot move");
    CHECK(tu_count_temp_files(dir) == 0, "temporary file left behind after a failed rename");
    free(sub);

    /* overwriting: new contents, usual permissions (mkstemp alone would give 0600), no leftovers */
    char *p = tu_path(dir, "over.npy");
    CHECK(ima_npy_write_f32(p, 1, 1, f) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_npy_write_f32(p, 2, 2, f) == IMA_OK, "%s", ima_last_error());
    ima_npy a;
    CHECK(ima_npy_read(&a, p) == IMA_OK && a.count == 4 && memcmp(a.data, f, sizeof f) == 0, "overwrite");
    ima_npy_free(&a);
    mode_t mask = umask(022);
    umask(mask);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "mode %o", (unsigned)(st.st_mode & 0777));
    CHECK(tu_count_temp_files(dir) == 0, "temporary file left behind");

    /* failure in the middle of the data: a file-size limit makes write() fail with EFBIG */
    long before = file_size(p);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    float *big = calloc(4096, sizeof *big);
    int rc = ima_npy_write_f32(p, 64, 64, big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_ERR(rc, p, "write failed");
    CHECK(file_size(p) == before, "existing file changed by a failed write");
    CHECK(ima_npy_read(&a, p) == IMA_OK && a.count == 4 && memcmp(a.data, f, sizeof f) == 0,
          "existing file damaged by a failed write");
    ima_npy_free(&a);
    CHECK(tu_count_temp_files(dir) == 0, "temporary file left behind after a failed write");
    free(big);
    free(p);
}

int main(void) {
    dir = tu_tmpdir();
    test_roundtrip();
    test_header_bytes();
    test_versions_and_dialects();
    test_bad_headers();
    test_bad_files();
    test_f32_matrix();
    test_labels();
    test_atomic_write();
    if (tu_failed == 0) tu_remove_dir(dir); /* keep the files of a failing run for inspection */
    else fprintf(stderr, "test files kept in %s\n", dir);
    free(dir);
    return tu_finish("test_npy");
}
