/* test_plot.c: each figure is a PNG (signature checked); bad inputs and a missing gnuplot are
 * errors with a message. Skips (exit 77, which ctest reports as skipped, not passed) when gnuplot is
 * not installed. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ima/common.h"
#include "ima/plot.h"
#include "ima/rng.h"
#include "testutil.h"

static long png_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, 8, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char want[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return n == 8 && !memcmp(sig, want, 8) ? size : -2;
}

int main(void) {
    if (!ima_plot_available()) {
        printf("test_plot: SKIPPED: gnuplot is not on PATH (install gnuplot to test the figures)\n");
        return 77;
    }
    char *dir = tu_tmpdir();
    size_t N = 400;
    float *xy = malloc(N * 2 * sizeof *xy), *y = malloc(N * sizeof *y);
    int64_t *lab = malloc(N * sizeof *lab);
    uint8_t *noise = malloc(N);
    ima_rng rng;
    ima_rng_init(&rng, 1);
    for (size_t i = 0; i < N; i++) {
        lab[i] = (int64_t)(i % 10);
        noise[i] = i % 11 == 0;
        double a = 2.0 * 3.14159265 * (double)lab[i] / 10.0;
        xy[2 * i] = (float)(10.0 * cos(a) + ima_rng_normal(&rng));
        xy[2 * i + 1] = (float)(10.0 * sin(a) + ima_rng_normal(&rng));
        y[i] = noise[i] ? 0.1f : 0.9f;
    }
    ima_plot_style st = {.title = "t-SNE of z (it's a \"test\")", .xlabel = "x", .ylabel = "y"};
    char *p1 = tu_path(dir, "labels.png"), *p2 = tu_path(dir, "importance.png"), *p3 = tu_path(dir, "prf.png");
    char *p4 = tu_path(dir, "curves.png");
    CHECK(ima_plot_scatter_labels(p1, xy, lab, noise, N, &st) == IMA_OK, "%s", ima_last_error());
    CHECK(png_size(p1) > 2000, "%s: %ld", p1, png_size(p1));
    CHECK(ima_plot_scatter_values(p2, xy, y, N, "importance y", &st) == IMA_OK, "%s", ima_last_error());
    CHECK(png_size(p2) > 2000, "%s: %ld", p2, png_size(p2));

    double rho[5] = {0.1, 0.3, 0.5, 0.7, 0.9};
    double prf[15] = {0.2, 0.4, 0.6, 0.8, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.5, NAN, 0.7, 0.66};
    const char *names[3] = {"precision", "recall", "F1"};
    CHECK(ima_plot_lines(p3, rho, prf, names, 3, 5, &(ima_plot_style){.xlabel = "rho"}) == IMA_OK, "%s",
          ima_last_error());
    CHECK(png_size(p3) > 2000, "%s: %ld", p3, png_size(p3));
    double ep[4] = {1, 2, 3, 4}, loss[8] = {10, 1, 0.1, 0.01, 12, 2, 0.5, 0.2};
    const char *ln[2] = {"train", "valid"};
    CHECK(ima_plot_lines(p4, ep, loss, ln, 2, 4, &(ima_plot_style){.log_y = 1, .width = 640, .height = 480}) == IMA_OK,
          "%s", ima_last_error());
    CHECK(png_size(p4) > 2000, "%s: %ld", p4, png_size(p4));

    // errors
    int64_t neg = -1;
    char *bad = tu_path(dir, "no/such/folder/x.png");
    CHECK(ima_plot_scatter_labels(p1, xy, &neg, NULL, 1, NULL) == IMA_ERR, "negative label accepted");
    CHECK(ima_plot_scatter_labels(p1, xy, lab, NULL, 0, NULL) == IMA_ERR, "0 points accepted");
    CHECK(ima_plot_scatter_labels(bad, xy, lab, NULL, N, NULL) == IMA_ERR, "unwritable output accepted");
    double nan4[4] = {NAN, NAN, NAN, NAN};
    CHECK(ima_plot_lines(p4, ep, nan4, ln, 1, 4, NULL) == IMA_ERR, "all-NaN series accepted");
    // without gnuplot on PATH: a clear error naming gnuplot
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", "/nonexistent", 1);
    CHECK(ima_plot_available() == 0, "gnuplot found on an empty PATH");
    CHECK(ima_plot_scatter_values(p2, xy, y, N, NULL, NULL) == IMA_ERR && strstr(ima_last_error(), "gnuplot"),
          "missing gnuplot: '%s'", ima_last_error());
    if (saved) setenv("PATH", saved, 1);
    free(saved);

    remove(p1), remove(p2), remove(p3), remove(p4), rmdir(dir);
    free(p1), free(p2), free(p3), free(p4), free(bad), free(dir), free(xy), free(y), free(lab), free(noise);
    return tu_finish("test_plot");
}
