/* plot.h: PNG figures drawn by gnuplot, run as a child process on a data file and a script
 * written to a fresh temporary folder (removed afterwards). Terminal pngcairo when gnuplot has
 * it, png otherwise. Without gnuplot on PATH every function fails with a message saying so.
 *
 * Dimensions: N points, S series, P points per series. xy is (N, 2) row-major. */
#ifndef IMA_PLOT_H
#define IMA_PLOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *title;  // figure title, NULL for none
    const char *xlabel; // axis labels, NULL for none
    const char *ylabel;
    int width, height;   // pixels; 0 for 900 x 700
    int log_y;           // lines only: logarithmic y axis (non-positive values are not drawn)
    unsigned y2_series;  // lines only: bit k set = series k is drawn against a second y axis on the right (k < 32)
    const char *y2label; // that axis's label, NULL for none
} ima_plot_style;

/* 1 when a gnuplot that can be started is on PATH, else 0. */
int ima_plot_available(void);

/* Scatter of a 2-D map coloured by label: labels 0..9 take the paper's digit colours (Figure 4:
 * red, green, blue, purple, orange, cyan, yellow, magenta, olive, black), larger labels further
 * colours; a legend names each label. noise (N) or NULL: flagged points are drawn grey, underneath,
 * as "noise" (the paper's grey cluster). Labels must be >= 0. */
int ima_plot_scatter_labels(const char *png, const float *xy, const int64_t *labels, const uint8_t *noise, size_t N,
                            const ima_plot_style *style);

/* Scatter coloured by a continuous value (importance y): palette red (low) - yellow - blue (high),
 * colour range [0, 1] when all values lie in it. cblabel names the colour bar (NULL for none). */
int ima_plot_scatter_values(const char *png, const float *xy, const float *values, size_t N, const char *cblabel,
                            const ima_plot_style *style);

/* Line plot of S named series over common x values: x (P), ys (S, P). Non-finite values are
 * gaps. Used for precision / recall / F1 against rho and for training curves against epoch. */
int ima_plot_lines(const char *png, const double *x, const double *ys, const char *const *names, size_t S, size_t P,
                   const ima_plot_style *style);

#endif
