/* gradcheck_util.c: directional finite-difference checks (see gradcheck_util.h). */
#include "gradcheck_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gc_probe gc_directional(gc_loss_fn f, void *ctx, float *p, const float *g, size_t n, ima_rng *rng, double eps) {
    /* v = unit(unit(g) + 0.5 unit(r)) */
    float *v = malloc(n * sizeof(float)), *save = malloc(n * sizeof(float));
    double gn = 0, rn = 0, norm = 0, an = 0;
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)ima_rng_normal(rng);
        rn += (double)v[k] * v[k];
        gn += (double)g[k] * g[k];
    }
    gn = sqrt(gn), rn = sqrt(rn);
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)((gn > 0 ? g[k] / gn : 0.0) + 0.5 * v[k] / rn);
        norm += (double)v[k] * v[k];
    }
    norm = sqrt(norm);
    for (size_t k = 0; k < n; k++) {
        v[k] = (float)(v[k] / norm);
        an += (double)g[k] * v[k];
    }
    memcpy(save, p, n * sizeof(float));
    for (size_t k = 0; k < n; k++) p[k] = save[k] + (float)eps * v[k];
    double lp = f(ctx);
    for (size_t k = 0; k < n; k++) p[k] = save[k] - (float)eps * v[k];
    double lm = f(ctx);
    memcpy(p, save, n * sizeof(float));
    double l0 = f(ctx);
    free(v);
    free(save);
    gc_probe r;
    r.fd = (lp - lm) / (2 * eps);
    r.an = an;
    /* float32 rounding of a loss of size |L| moves the difference quotient by about this much */
    r.noise = 4 * 6e-8 * fmax(fabs(lp), fabs(lm)) / (2 * eps);
    r.right = (lp - l0) / eps;
    r.left = (l0 - lm) / eps;
    return r;
}

double gc_rel(double fd, double an, double floor_) { return fabs(fd - an) / fmax(fmax(fabs(fd), fabs(an)), floor_); }

int gc_nonzero(const float *g, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (g[k] != 0.0f) return 1;
    return 0;
}

double gc_tensor(gc_loss_fn f, void *ctx, float *p, const float *g, size_t n, ima_rng *rng, double tol, double *fd,
                 double *an, double *noise) {
    double best_an = 0, best_fd = 0, r = INFINITY;
    for (int tries = 0; tries < 3 && r >= tol; tries++)
        for (double eps = 1e-2; eps > 1e-4; eps /= 3) {
            gc_probe pr = gc_directional(f, ctx, p, g, n, rng, eps);
            *noise = pr.noise;
            double floor_ = fmax(1e-6, pr.noise / tol);
            double r_e = gc_rel(pr.fd, pr.an, floor_);
            /* at a ReLU kink (a pre-activation at 0) the gradient is one of the one-sided slopes */
            double r_side = fmin(gc_rel(pr.right, pr.an, floor_), gc_rel(pr.left, pr.an, floor_));
            if (fabs(pr.right - pr.left) > tol * fmax(fabs(pr.right), fabs(pr.left)) && r_side < r_e) r_e = r_side;
            if (r_e < r) r = r_e, best_an = pr.an, best_fd = pr.fd;
        }
    *fd = best_fd;
    *an = best_an;
    return r;
}
