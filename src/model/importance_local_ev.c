/* importance_local_ev.c: targets of the "local-ev" importance objective (see importance.h and
 * docs/importance.md): the local explained-variance statistic T and its calibration by a
 * two-component mixture on log T. N rows, M modalities, d latent, k neighbours. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ima/common.h"
#include "ima/eval.h"
#include "ima/importance.h"

const char *ima_importance_objective_name(ima_importance_objective o) {
    switch (o) {
    case IMA_IMPORTANCE_PAPER: return "paper";
    case IMA_IMPORTANCE_LOCAL_EV: return "local-ev";
    }
    return NULL;
}

int ima_importance_objective_parse(const char *name, ima_importance_objective *out) {
    for (int o = 0; o < IMA_N_IMPORTANCE_OBJECTIVES; o++)
        if (name && !strcmp(name, ima_importance_objective_name((ima_importance_objective)o))) {
            *out = (ima_importance_objective)o;
            return IMA_OK;
        }
    return ima_error("importance objective '%s': expected paper or local-ev", name ? name : "(null)");
}

/* ---- the statistic ------------------------------------------------------------------------- */

/* T (n) from the neighbour lists nbr (n, k); partner weights w (n) or NULL (all 1): weighted mean
 * and reliability-weighted variance over each neighbourhood, k_eff = W^2 / sum w^2. */
static void local_ev_from_nbr(float *T, const size_t *nbr, size_t k, const float *p, const float *w, size_t dp,
                              size_t n) {
    double *pbar = ima_calloc(dp, sizeof *pbar), *s1 = ima_malloc(dp * sizeof *s1), *s2 = ima_malloc(dp * sizeof *s2);
    double tot = 0.0, wsum = 0.0; /* weighted mean and total variance of p: the variance floors the local spread */
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        wsum += wi;
        for (size_t c = 0; c < dp; c++) pbar[c] += wi * p[i * dp + c];
    }
    wsum = wsum > 0 ? wsum : 1.0;
    for (size_t c = 0; c < dp; c++) pbar[c] /= wsum;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < dp; c++) tot += (w ? w[i] : 1.0) * (p[i * dp + c] - pbar[c]) * (p[i * dp + c] - pbar[c]);
    tot /= wsum;
    double floor_sp = 1e-12 * tot + 1e-30;
    for (size_t i = 0; i < n; i++) {
        memset(s1, 0, dp * sizeof *s1);
        memset(s2, 0, dp * sizeof *s2);
        double W = 0.0, W2 = 0.0;
        for (size_t l = 0; l < k; l++) {
            size_t q = nbr[i * k + l];
            double wl = w ? w[q] : 1.0;
            W += wl, W2 += wl * wl;
            const float *pl = p + q * dp;
            for (size_t c = 0; c < dp; c++) {
                double v = pl[c] - pbar[c]; /* centred: limits cancellation in the variance */
                s1[c] += wl * v;
                s2[c] += wl * v * v;
            }
        }
        if (W < 1e-6 || W * W - W2 < 1e-12 * W * W) { /* no weighted partner here: the null value */
            T[i] = 1.0f;
            continue;
        }
        double ms = 0.0, sp = 0.0, keff = W * W / W2;
        for (size_t c = 0; c < dp; c++) {
            double mean = s1[c] / W;
            ms += mean * mean;
            sp += (s2[c] - W * mean * mean) / (W - W2 / W);
        }
        T[i] = (float)(keff * ms / fmax(sp, floor_sp));
    }
    free(pbar), free(s1), free(s2);
}

static int local_ev_nbr(size_t **nbr, const float *u, size_t du, size_t n, size_t k) {
    if (k < 2) return ima_error("local-ev: k = %zu neighbours: expected at least 2", k);
    if (n < k + 1) return ima_error("local-ev: %zu rows cannot give %zu neighbours each", n, k);
    size_t nk, q;
    if (ima_mul_overflows(n, k, &nk)) return ima_error_prefix("local-ev");
    *nbr = ima_malloc(nk * sizeof **nbr);
    if (ima_knn(*nbr, NULL, &q, u, NULL, NULL, n, du, k)) {
        free(*nbr);
        *nbr = NULL;
        return ima_error_prefix("local-ev");
    }
    return IMA_OK;
}

int ima_local_ev_stat(float *T, const float *u, size_t du, const float *p, size_t dp, size_t n, size_t k) {
    size_t *nbr;
    if (local_ev_nbr(&nbr, u, du, n, k)) return IMA_ERR;
    local_ev_from_nbr(T, nbr, k, p, NULL, dp, n);
    free(nbr);
    return IMA_OK;
}

/* ---- calibration ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double normal_logpdf(double x, double mu, double sd) {
    double z = (x - mu) / sd;
    return -0.5 * z * z - log(sd) - 0.91893853320467274178; /* log sqrt(2 pi) */
}

#define KC IMA_LOCAL_EV_COMPONENTS

/* posterior of the important components (1..KC-1) at x */
static double posterior(double x, const ima_mixture_fit *f) {
    double l[KC], mx = -INFINITY;
    for (int c = 0; c < KC; c++) {
        l[c] = log(f->weight[c]) + normal_logpdf(x, f->mean[c], f->sd[c]);
        mx = fmax(mx, l[c]);
    }
    double s0 = exp(l[0] - mx), s = 0.0;
    for (int c = 0; c < KC; c++) s += exp(l[c] - mx);
    return 1.0 - s0 / s;
}

/* the target at x = log T: the posterior, made monotone (non-decreasing) in x outside [mean_0, mean_1],
 * where unequal variances would let a wider component win again in its far tail */
static double monotone_posterior(double x, const ima_mixture_fit *f) {
    double t = posterior(x, f);
    if (x >= f->mean[1]) t = fmax(t, posterior(f->mean[1], f));
    if (x <= f->mean[0]) t = fmin(t, posterior(f->mean[0], f));
    return t;
}

static void sort_components(ima_mixture_fit *f) {
    for (int a = 1; a < KC; a++)
        for (int b = a; b > 0 && f->mean[b] < f->mean[b - 1]; b--) {
            double t;
            t = f->mean[b], f->mean[b] = f->mean[b - 1], f->mean[b - 1] = t;
            t = f->sd[b], f->sd[b] = f->sd[b - 1], f->sd[b - 1] = t;
            t = f->weight[b], f->weight[b] = f->weight[b - 1], f->weight[b - 1] = t;
        }
}

/* EM from one initialisation: the lowest `low` share of the sorted values xs is component 0, the rest
 * split evenly into the others. Returns the MAP objective (log-likelihood + Dirichlet log-prior). */
static double em_fit(ima_mixture_fit *out, const double *x, const double *xs, double *r, size_t n, double low,
                     const double *alpha, double n0, double sd_floor) {
    ima_mixture_fit f;
    memset(&f, 0, sizeof f);
    size_t cut[KC + 1];
    cut[0] = 0, cut[KC] = n;
    cut[1] = (size_t)(low * (double)n);
    if (cut[1] < 2) cut[1] = 2;
    if (cut[1] > n - 2 * (KC - 1)) cut[1] = n - 2 * (KC - 1);
    for (int c = 2; c < KC; c++) cut[c] = cut[1] + (n - cut[1]) * (size_t)(c - 1) / (KC - 1);
    for (int c = 0; c < KC; c++) {
        size_t lo = cut[c], hi = cut[c + 1];
        double m = 0.0, v = 0.0;
        for (size_t i = lo; i < hi; i++) m += xs[i];
        m /= (double)(hi - lo);
        for (size_t i = lo; i < hi; i++) v += (xs[i] - m) * (xs[i] - m);
        v /= (double)(hi - lo);
        f.mean[c] = m;
        f.sd[c] = fmax(sqrt(v), sd_floor);
        f.weight[c] = (double)(hi - lo) / (double)n;
    }
    double prev = -INFINITY, ll = -INFINITY;
    for (f.iterations = 1; f.iterations <= 1000; f.iterations++) {
        double R[KC] = {0}, S1[KC] = {0};
        ll = 0.0;
        for (size_t i = 0; i < n; i++) {
            double l[KC], mx = -INFINITY, s = 0.0;
            for (int c = 0; c < KC; c++) {
                l[c] = log(f.weight[c]) + normal_logpdf(x[i], f.mean[c], f.sd[c]);
                mx = fmax(mx, l[c]);
            }
            for (int c = 0; c < KC; c++) s += (l[c] = exp(l[c] - mx));
            ll += mx + log(s);
            for (int c = 0; c < KC; c++) {
                r[i * KC + c] = l[c] / s;
                R[c] += r[i * KC + c];
                S1[c] += r[i * KC + c] * x[i];
            }
        }
        for (int c = 0; c < KC; c++) ll += alpha[c] * log(f.weight[c]);
        int empty = 0;
        for (int c = 0; c < KC; c++) empty |= R[c] < 1e-9;
        if (empty) break; /* a component emptied: keep the last fit */
        for (int c = 0; c < KC; c++) {
            double mu = S1[c] / R[c], v = 0.0;
            for (size_t i = 0; i < n; i++) v += r[i * KC + c] * (x[i] - mu) * (x[i] - mu);
            f.mean[c] = mu;
            f.sd[c] = fmax(sqrt(v / R[c]), sd_floor);
            f.weight[c] = (R[c] + alpha[c]) / ((double)n + n0);
        }
        if (fabs(ll - prev) < 1e-10 * fabs(ll) + 1e-12) break;
        prev = ll;
    }
    if (f.iterations > 1000) f.iterations = 1000;
    sort_components(&f);
    *out = f;
    return ll;
}

int ima_local_ev_calibrate(float *target, ima_mixture_fit *fit_out, const float *T, size_t n, double rho) {
    if (n < 2 * KC) return ima_error("local-ev calibration: %zu values: expected at least %d", n, 2 * KC);
    if (!(rho > 0 && rho < 1)) return ima_error("local-ev calibration: rho = %g: expected a value in (0, 1)", rho);
    size_t nr;
    if (ima_mul_overflows(n, KC, &nr)) return ima_error_prefix("local-ev calibration");
    double *x = ima_malloc(n * sizeof *x), *xs = ima_malloc(n * sizeof *xs), *r = ima_malloc(nr * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(T[i])) {
            free(x), free(xs), free(r);
            return ima_error("local-ev calibration: T[%zu] is not finite", i);
        }
        x[i] = log(fmax((double)T[i], 1e-6));
        xs[i] = x[i];
    }
    qsort(xs, n, sizeof *xs, cmp_double);
    double var = 0.0, mean = 0.0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    double sd_floor = sqrt(1e-4 * var) + 1e-6;
    /* rho is the prior mean of the important share: Dirichlet pseudo-counts worth 1% of the rows */
    double alpha[KC], n0 = (double)n / 100.0;
    for (int c = 0; c < KC; c++) alpha[c] = (c == 0 ? 1.0 - rho : rho / (KC - 1)) * n0;
    /* EM is started from several shares of the lowest values (and from 1 - rho); the fit with the best
     * MAP objective wins, so that the answer does not hinge on one initialisation (nor on rho) */
    static const double LOW[] = {0.02, 0.05, 0.1, 0.2, 0.35, 0.5};
    ima_mixture_fit f, g;
    double best = em_fit(&f, x, xs, r, n, 1.0 - rho, alpha, n0, sd_floor);
    for (size_t q = 0; q < sizeof LOW / sizeof *LOW; q++) {
        double v = em_fit(&g, x, xs, r, n, LOW[q], alpha, n0, sd_floor);
        if (v > best) best = v, f = g;
    }
    f.share = 1.0 - f.weight[0];
    f.null_like = exp(f.mean[0]) < IMA_LOCAL_EV_NULL_MAX;
    for (size_t i = 0; i < n; i++) target[i] = f.null_like ? (float)monotone_posterior(x[i], &f) : 1.0f;
    /* where the target crosses 0.5, by bisection between the two lowest means */
    f.threshold = 0.0;
    if (f.null_like && monotone_posterior(f.mean[0], &f) < 0.5 && monotone_posterior(f.mean[1], &f) > 0.5) {
        double lo = f.mean[0], hi = f.mean[1];
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (monotone_posterior(mid, &f) < 0.5) lo = mid;
            else hi = mid;
        }
        f.threshold = exp(0.5 * (lo + hi));
    }
    if (fit_out) *fit_out = f;
    free(x), free(xs), free(r);
    return IMA_OK;
}

/* ---- targets for a data set ------------------------------------------------------------------ */

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median_of(const float *v, size_t n) {
    double *s = ima_malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = v[i];
    qsort(s, n, sizeof *s, cmp_double);
    double r = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return r;
}

int ima_local_ev_targets_from_codes(float *target, float *T_out, const float *U, const uint8_t *mask, size_t N, int M,
                                    size_t d, size_t k, const float *rho, ima_local_ev_report *rep) {
    double t0 = wall();
    size_t nd;
    if (M < 1 || M > IMA_MAX_MODALITIES)
        return ima_error("local-ev targets: M = %d: expected 1..%d", M, IMA_MAX_MODALITIES);
    if (ima_mul_overflows(N, d, &nd)) return ima_error_prefix("local-ev targets");
    ima_local_ev_report r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < N * (size_t)M; i++) {
        target[i] = NAN;
        if (T_out) T_out[i] = NAN;
    }
    /* pass 0: every partner weighs 1; passes 1..IMA_LOCAL_EV_PASSES-1: a partner row weighs the largest
     * target of its other modalities from the previous pass (noise partners stop inflating the spread) */
    float *u = ima_malloc(nd * sizeof *u), *p = ima_malloc(nd * sizeof *p), *T = ima_malloc(N * sizeof *T);
    float *t = ima_malloc(N * sizeof *t), *w = ima_malloc(N * sizeof *w);
    float *prev = ima_malloc(N * (size_t)M * sizeof *prev);
    size_t *rows = ima_malloc(N * sizeof *rows), *nbr[IMA_MAX_MODALITIES] = {0}, kj[IMA_MAX_MODALITIES] = {0};
    int rc = IMA_OK;
    for (int pass = 0; pass < IMA_LOCAL_EV_PASSES && rc == IMA_OK; pass++) {
        memcpy(prev, target, N * (size_t)M * sizeof *prev);
        for (int j = 0; j < M && rc == IMA_OK; j++) {
            size_t n = 0;
            for (size_t i = 0; i < N; i++) {
                const uint8_t *mi = mask + i * (size_t)M;
                if (!mi[j]) continue;
                int others = 0;
                float wmax = 0.0f;
                for (int o = 0; o < M; o++)
                    if (o != j && mi[o]) {
                        others++;
                        float to = prev[i * (size_t)M + (size_t)o];
                        wmax = fmaxf(wmax, isfinite(to) ? to : 1.0f);
                    }
                if (!others) continue;
                memcpy(u + n * d, U + ((size_t)j * N + i) * d, d * sizeof(float));
                float *pn = p + n * d;
                memset(pn, 0, d * sizeof(float));
                for (int o = 0; o < M; o++)
                    if (o != j && mi[o])
                        for (size_t c = 0; c < d; c++) pn[c] += U[((size_t)o * N + i) * d + c] / (float)others;
                w[n] = pass == 0 ? 1.0f : wmax;
                rows[n++] = i;
            }
            if (n < 2 * IMA_LOCAL_EV_COMPONENTS || n < 3) continue; /* too few rows: no targets for this modality */
            if (pass == 0) {
                kj[j] = k < n - 1 ? k : n - 1;
                if ((rc = local_ev_nbr(&nbr[j], u, d, n, kj[j]))) break;
            }
            local_ev_from_nbr(T, nbr[j], kj[j], p, w, d, n);
            if ((rc = ima_local_ev_calibrate(t, &r.fit[j], T, n, rho[j]))) break;
            size_t below = 0;
            for (size_t q = 0; q < n; q++) {
                target[rows[q] * (size_t)M + (size_t)j] = t[q];
                if (T_out) T_out[rows[q] * (size_t)M + (size_t)j] = T[q];
                below += t[q] < 0.5f;
            }
            r.rows[j] = n;
            r.median_T[j] = median_of(T, n);
            r.share_below[j] = (double)below / (double)n;
        }
    }
    for (int j = 0; j < M; j++) free(nbr[j]);
    free(w), free(prev);
    free(u), free(p), free(T), free(t), free(rows);
    r.seconds = wall() - t0;
    if (rep) *rep = r;
    return rc ? ima_error_prefix("local-ev targets") : IMA_OK;
}

int ima_local_ev_targets(float *target, float *T_out, ima_model *m, const ima_dataset *ds, ima_local_ev_report *rep) {
    double t0 = wall();
    int M = m->cfg.n_modalities;
    size_t N = ds->n, d = m->cfg.latent_width, k = m->cfg.local_ev_k ? m->cfg.local_ev_k : IMA_LOCAL_EV_DEFAULT_K;
    size_t nd;
    if (ima_mul_overflows(N, d, &nd) || ima_mul_overflows(nd, (size_t)M, &nd))
        return ima_error_prefix("local-ev targets");
    /* every code u_j (N, d) per modality, y = 1 (only present rows are used) */
    float *U = ima_try_malloc(nd, sizeof *U);
    size_t *idx = ima_try_malloc(m->max_batch, sizeof *idx);
    ima_batch_buffer bb;
    if (!U || !idx || ima_batch_buffer_init(&bb, ds, m->max_batch)) {
        free(U), free(idx);
        return ima_error_prefix("local-ev targets");
    }
    for (size_t lo = 0; lo < N; lo += m->max_batch) {
        size_t B = N - lo < m->max_batch ? N - lo : m->max_batch;
        for (size_t i = 0; i < B; i++) idx[i] = lo + i;
        const ima_batch *b = ima_batch_gather(&bb, ds, idx, B);
        ima_model_encode(m, b, IMA_WEIGHTS_ONE);
        for (int j = 0; j < M; j++) memcpy(U + ((size_t)j * N + lo) * d, ima_model_u(m, j), B * d * sizeof(float));
    }
    ima_batch_buffer_free(&bb);
    free(idx);

    float rho[IMA_MAX_MODALITIES];
    for (int j = 0; j < M; j++) rho[j] = m->cfg.mod[j].rho;
    int rc = ima_local_ev_targets_from_codes(target, T_out, U, ds->mask, N, M, d, k, rho, rep);
    free(U);
    if (rep) rep->seconds = wall() - t0;
    return rc;
}
