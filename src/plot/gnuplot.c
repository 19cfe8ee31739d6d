/* gnuplot.c: figures through a gnuplot child process (see plot.h).
 *
 * Each figure: mkdtemp folder -> data.dat (whitespace columns, blocks separated by two blank
 * lines, "NaN" for gaps) and plot.gp -> posix_spawnp("gnuplot", plot.gp) -> wait -> check that the
 * PNG exists and starts with the PNG signature -> remove the folder. Strings reach gnuplot in
 * single quotes (a quote doubled), with enhanced text off, so titles are printed literally. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ima/common.h"
#include "ima/plot.h"

extern char **environ;

/* the paper's digit colours (Figure 4), then more for larger labels */
static const char *const label_colours[] = {
    "#e41a1c", "#2ca02c", "#1f4fd8", "#7b3294", "#ff7f00", "#17becf", "#d4b000", "#e7298a", "#808000", "#000000",
    "#8c564b", "#9edae5", "#bcbd22", "#393b79", "#ad494a", "#637939", "#843c39", "#5254a3", "#6b6ecf", "#d6616b",
};
#define N_COLOURS (sizeof label_colours / sizeof label_colours[0])

/* ---- child process ------------------------------------------------------------------- */

/* Runs gnuplot with args (NULL-terminated, args[0] = "gnuplot"); quiet sends its output to
 * /dev/null. Returns its exit status, or -1 with errno set when it could not be started. */
static int run_gnuplot(char *const *args, int quiet) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        errno = err;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int ima_plot_available(void) {
    char *args[] = {"gnuplot", "--version", NULL};
    return run_gnuplot(args, 1) == 0;
}

/* ---- the temporary folder ------------------------------------------------------------- */

typedef struct {
    char dir[4096];
    char data[4200];
    char script[4200];
} workdir;

static int workdir_open(workdir *w) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(w->dir, sizeof w->dir, "%s/ima_plot_XXXXXX", base);
    if (!mkdtemp(w->dir))
        return ima_error("plot: cannot create a temporary folder under %s: %s", base, strerror(errno));
    snprintf(w->data, sizeof w->data, "%s/data.dat", w->dir);
    snprintf(w->script, sizeof w->script, "%s/plot.gp", w->dir);
    return IMA_OK;
}

static void workdir_close(workdir *w) {
    unlink(w->data);
    unlink(w->script);
    rmdir(w->dir);
}

/* writes s as a gnuplot single-quoted string */
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if (*s != '\n' && *s != '\r') fputc(*s, f);
    }
    fputc('\'', f);
}

/* terminal, output and the style's labels */
static void put_header(FILE *f, const char *png, const ima_plot_style *st) {
    int w = st && st->width > 0 ? st->width : 900, h = st && st->height > 0 ? st->height : 700;
    fprintf(f,
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "  set terminal pngcairo size %d,%d noenhanced font 'sans,11'\n"
            "} else {\n"
            "  set terminal png size %d,%d noenhanced\n"
            "}\n",
            w, h, w, h);
    fputs("set output ", f);
    put_quoted(f, png);
    fputc('\n', f);
    if (st && st->title) {
        fputs("set title ", f);
        put_quoted(f, st->title);
        fputc('\n', f);
    }
    if (st && st->xlabel) {
        fputs("set xlabel ", f);
        put_quoted(f, st->xlabel);
        fputc('\n', f);
    }
    if (st && st->ylabel) {
        fputs("set ylabel ", f);
        put_quoted(f, st->ylabel);
        fputc('\n', f);
    }
    fputs("set grid lc rgb '#dddddd'\n", f);
}

/* Runs the script and checks the PNG. */
static int draw(workdir *w, const char *png, const char *func) {
    char *args[] = {"gnuplot", w->script, NULL};
    unlink(png); // a stale figure must not pass the check below
    /* the output must be writable: say so, rather than letting gnuplot fail with its own words */
    int fd = open(png, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0) return ima_error("%s: cannot write %s: %s", func, png, strerror(errno));
    close(fd);
    unlink(png);
    int rc = run_gnuplot(args, 0);
    if (rc < 0) {
        int e = errno;
        return ima_error("%s: cannot run gnuplot (%s); install gnuplot (with the pngcairo terminal) and put it on "
                         "PATH to draw %s",
                         func, strerror(e), png);
    }
    if (rc != 0)
        return ima_error("%s: gnuplot failed (exit status %d) drawing %s; its messages are above", func, rc, png);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    size_t n = f ? fread(sig, 1, 8, f) : 0;
    if (f) fclose(f);
    static const unsigned char want[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n != 8 || memcmp(sig, want, 8))
        return ima_error("%s: gnuplot ran but %s is missing or not a PNG; is the output folder writable?", func, png);
    return IMA_OK;
}

static int check_points(const float *xy, size_t N, const char *func) {
    if (N == 0) return ima_error("%s: nothing to plot (0 points)", func);
    for (size_t i = 0; i < 2 * N; i++)
        if (!isfinite(xy[i])) return ima_error("%s: coordinate %zu of point %zu is not finite", func, i % 2, i / 2);
    return IMA_OK;
}

/* ---- figures ------------------------------------------------------------------------- */

/* Opens the data file and the script; on failure closes what opened. */
static int open_pair(workdir *w, FILE **d, FILE **s, const char *func) {
    *d = fopen(w->data, "w");
    *s = fopen(w->script, "w");
    if (*d && *s) return IMA_OK;
    if (*d) fclose(*d);
    if (*s) fclose(*s);
    return ima_error("%s: cannot write into %s: %s", func, w->dir, strerror(errno));
}

/* closes both files, runs gnuplot if all went well, removes the folder */
static int finish(workdir *w, FILE *d, FILE *s, const char *png, const char *func) {
    int bad = ferror(d) || ferror(s);
    bad |= fclose(d) != 0;
    bad |= fclose(s) != 0;
    int rc = bad ? ima_error("%s: writing the gnuplot input in %s failed", func, w->dir) : draw(w, png, func);
    workdir_close(w);
    return rc;
}

int ima_plot_scatter_labels(const char *png, const float *xy, const int64_t *labels, const uint8_t *noise, size_t N,
                            const ima_plot_style *style) {
    if (check_points(xy, N, __func__)) return IMA_ERR;
    int64_t lmax = -1;
    for (size_t i = 0; i < N; i++) {
        if (labels[i] < 0 || labels[i] > 1000)
            return ima_error("%s: label %lld of point %zu is outside [0, 1000]", __func__, (long long)labels[i], i);
        if (labels[i] > lmax) lmax = labels[i];
    }
    workdir w;
    FILE *d, *s;
    if (workdir_open(&w)) return IMA_ERR;
    if (open_pair(&w, &d, &s, __func__)) {
        workdir_close(&w);
        return IMA_ERR;
    }
    put_header(s, png, style);
    fputs("set key outside right top box\nset size ratio -1\nplot ", s);
    int block = 0;
    // noise first (drawn underneath), then one block per label present
    for (int64_t c = -1; c <= lmax; c++) {
        size_t count = 0;
        for (size_t i = 0; i < N; i++) {
            int is_noise = noise && noise[i];
            if (c < 0 ? !is_noise : (is_noise || labels[i] != c)) continue;
            fprintf(d, "%.9g %.9g\n", xy[2 * i], xy[2 * i + 1]);
            count++;
        }
        if (!count) continue;
        fputs("\n\n", d);
        if (block) fputs(", \\\n     ", s);
        put_quoted(s, w.data);
        if (c < 0) fprintf(s, " index %d with points pt 7 ps 0.4 lc rgb '#b0b0b0' title 'noise'", block++);
        else
            fprintf(s, " index %d with points pt 7 ps 0.4 lc rgb '%s' title '%lld'", block++,
                    label_colours[c % (int64_t)N_COLOURS], (long long)c);
    }
    fputc('\n', s);
    return finish(&w, d, s, png, __func__);
}

int ima_plot_scatter_values(const char *png, const float *xy, const float *values, size_t N, const char *cblabel,
                            const ima_plot_style *style) {
    if (check_points(xy, N, __func__)) return IMA_ERR;
    int unit = 1;
    for (size_t i = 0; i < N; i++) {
        if (!isfinite(values[i])) return ima_error("%s: value of point %zu is not finite", __func__, i);
        unit &= values[i] >= 0.0f && values[i] <= 1.0f;
    }
    workdir w;
    FILE *d, *s;
    if (workdir_open(&w)) return IMA_ERR;
    if (open_pair(&w, &d, &s, __func__)) {
        workdir_close(&w);
        return IMA_ERR;
    }
    for (size_t i = 0; i < N; i++) fprintf(d, "%.9g %.9g %.9g\n", xy[2 * i], xy[2 * i + 1], values[i]);
    put_header(s, png, style);
    fputs("set size ratio -1\nunset key\nset palette defined (0 '#d7191c', 0.5 '#ffd700', 1 '#2c7bb6')\n", s);
    if (unit) fputs("set cbrange [0:1]\n", s);
    if (cblabel) {
        fputs("set cblabel ", s);
        put_quoted(s, cblabel);
        fputc('\n', s);
    }
    fputs("plot ", s);
    put_quoted(s, w.data);
    fputs(" using 1:2:3 with points pt 7 ps 0.4 palette\n", s);
    return finish(&w, d, s, png, __func__);
}

int ima_plot_lines(const char *png, const double *x, const double *ys, const char *const *names, size_t S, size_t P,
                   const ima_plot_style *style) {
    if (S == 0 || P == 0) return ima_error("%s: nothing to plot (%zu series of %zu points)", __func__, S, P);
    size_t drawable = 0;
    for (size_t p = 0; p < P; p++) {
        if (!isfinite(x[p])) return ima_error("%s: x value %zu is not finite", __func__, p);
        for (size_t k = 0; k < S; k++)
            drawable += isfinite(ys[k * P + p]) && (!(style && style->log_y) || ys[k * P + p] > 0.0);
    }
    if (!drawable)
        return ima_error("%s: no finite%s value to draw", __func__, style && style->log_y ? " positive" : "");
    workdir w;
    FILE *d, *s;
    if (workdir_open(&w)) return IMA_ERR;
    if (open_pair(&w, &d, &s, __func__)) {
        workdir_close(&w);
        return IMA_ERR;
    }
    for (size_t p = 0; p < P; p++) {
        fprintf(d, "%.17g", x[p]);
        for (size_t k = 0; k < S; k++) {
            double v = ys[k * P + p];
            if (isfinite(v)) fprintf(d, " %.17g", v);
            else fputs(" NaN", d);
        }
        fputc('\n', d);
    }
    put_header(s, png, style);
    fputs("set key outside right top box\n", s);
    if (style && style->log_y) fputs("set logscale y\n", s);
    if (style && style->y2_series) { /* a second y axis on the right */
        fputs("set ytics nomirror\nset y2tics\n", s);
        if (style->y2label) {
            fputs("set y2label ", s);
            put_quoted(s, style->y2label);
            fputc('\n', s);
        }
    }
    fputs("plot ", s);
    for (size_t k = 0; k < S; k++) {
        if (k) fputs(", \\\n     ", s);
        put_quoted(s, w.data);
        int y2 = style && k < 32 && (style->y2_series >> k & 1u);
        fprintf(s, " using 1:%zu%s with linespoints pt 7 ps 0.6 lw 2 lc rgb '%s' title ", k + 2, y2 ? " axes x1y2" : "",
                label_colours[k % N_COLOURS]);
        put_quoted(s, names && names[k] ? names[k] : "");
    }
    fputc('\n', s);
    return finish(&w, d, s, png, __func__);
}
