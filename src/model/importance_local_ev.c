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
#include "ima/rng.h"

#include "core/blas.h"

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

/* One partner block of the statistic for the n rows of modality j: features p (rows read through
 * idx: row q of the block is p + idx[q] * dp, or p + q * dp when idx is NULL) and weights w (n,
 * 0 = absent; NULL: all 1). */
typedef struct {
    const float *p;
    const size_t *idx;
    const float *w;
    size_t dp;
} lev_block;

static const float *block_row(const lev_block *b, size_t q) { return b->p + (b->idx ? b->idx[q] : q) * b->dp; }
static double block_w(const lev_block *b, size_t q) { return b->w ? b->w[q] : 1.0; }

/* T (n) from the neighbour lists nbr (n, k) and nb partner blocks: per block o, over each
 * neighbourhood, the weighted mean m_o of the centred partner features, ms_o = ||m_o||^2, the unbiased
 * weighted variance sp_o and k_eff,o = W^2 / sum w^2; each block is scaled by its total variance V_o
 * over the rows, and T = sum_o k_eff,o ms_o / V_o / sum_o sp_o / V_o (1 where no block has two weighted
 * partners). One block with unit weights is the statistic of importance.h. */
static int local_ev_from_nbr(float *T, const size_t *nbr, size_t k, const lev_block *blk, int nb, size_t n) {
    size_t dmax = 0;
    for (int o = 0; o < nb; o++) dmax = blk[o].dp > dmax ? blk[o].dp : dmax;
    double *pbar = ima_try_calloc((size_t)nb * dmax, sizeof *pbar), *V = ima_try_calloc((size_t)nb, sizeof *V);
    double *s1 = ima_try_malloc(dmax, sizeof *s1), *s2 = ima_try_malloc(dmax, sizeof *s2);
    if (!pbar || !V || !s1 || !s2) {
        free(pbar), free(V), free(s1), free(s2);
        return ima_error_prefix("local-ev"); /* ima_try_* named the size */
    }
    for (int o = 0; o < nb; o++) { /* weighted mean and total variance of each block */
        const lev_block *b = &blk[o];
        double *pb = pbar + (size_t)o * dmax, wsum = 0.0, tot = 0.0;
        for (size_t q = 0; q < n; q++) {
            double wq = block_w(b, q);
            if (wq <= 0) continue;
            const float *pq = block_row(b, q);
            wsum += wq;
            for (size_t c = 0; c < b->dp; c++) pb[c] += wq * pq[c];
        }
        wsum = wsum > 0 ? wsum : 1.0;
        for (size_t c = 0; c < b->dp; c++) pb[c] /= wsum;
        for (size_t q = 0; q < n; q++) {
            double wq = block_w(b, q);
            if (wq <= 0) continue;
            const float *pq = block_row(b, q);
            for (size_t c = 0; c < b->dp; c++) tot += wq * (pq[c] - pb[c]) * (pq[c] - pb[c]);
        }
        V[o] = tot / wsum;
    }
    for (size_t i = 0; i < n; i++) {
        double num = 0.0, den = 0.0;
        int used = 0;
        for (int o = 0; o < nb; o++) {
            const lev_block *b = &blk[o];
            const double *pb = pbar + (size_t)o * dmax;
            if (!(V[o] > 0)) continue;
            memset(s1, 0, b->dp * sizeof *s1);
            memset(s2, 0, b->dp * sizeof *s2);
            double W = 0.0, W2 = 0.0;
            for (size_t l = 0; l < k; l++) {
                size_t q = nbr[i * k + l];
                double wl = block_w(b, q);
                if (wl <= 0) continue;
                W += wl, W2 += wl * wl;
                const float *pl = block_row(b, q);
                for (size_t c = 0; c < b->dp; c++) {
                    double v = pl[c] - pb[c]; /* centred: limits cancellation in the variance */
                    s1[c] += wl * v;
                    s2[c] += wl * v * v;
                }
            }
            if (W < 1e-6 || W * W - W2 < 1e-12 * W * W) continue; /* fewer than two weighted partners here */
            double ms = 0.0, sp = 0.0, keff = W * W / W2;
            for (size_t c = 0; c < b->dp; c++) {
                double mean = s1[c] / W;
                ms += mean * mean;
                sp += (s2[c] - W * mean * mean) / (W - W2 / W);
            }
            num += keff * ms / V[o];
            den += sp / V[o];
            used = 1;
        }
        T[i] = used ? (float)(num / fmax(den, 1e-12)) : 1.0f; /* the floor: 1e-12 of the total variance */
    }
    free(pbar), free(V), free(s1), free(s2);
    return IMA_OK;
}

static int local_ev_nbr(size_t **nbr, const float *u, size_t du, size_t n, size_t k) {
    if (k < 2) return ima_error("local-ev: k = %zu neighbours: expected at least 2", k);
    if (n < k + 1) return ima_error("local-ev: %zu rows cannot give %zu neighbours each", n, k);
    size_t nk, q;
    if (ima_mul_overflows(n, k, &nk)) return ima_error("local-ev: %zu x %zu neighbours: the size overflows", n, k);
    *nbr = ima_try_malloc(nk, sizeof **nbr);
    if (!*nbr) return ima_error_prefix("local-ev: %zu x %zu neighbours", n, k);
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
    lev_block b = {p, NULL, NULL, dp};
    int rc = local_ev_from_nbr(T, nbr, k, &b, 1, n);
    free(nbr);
    return rc;
}

/* ---- neighbourhoods of one modality --------------------------------------------------------- */

/* the fewest rows a modality needs for targets (the calibration's mixture needs 2 per component) */
#define LEV_MIN_ROWS (2 * IMA_LOCAL_EV_COMPONENTS > 3 ? 2 * IMA_LOCAL_EV_COMPONENTS : 3)

static void hood_free(ima_local_ev_hood *h) {
    free(h->rows), free(h->nbr);
    memset(h, 0, sizeof *h);
}

/* h = the rows of modality j that get a statistic (j and at least one other modality present) and
 * their k nearest other rows by F[j] (N rows, mask (N, M)). min_rows > 0 (targets): with fewer
 * eligible rows h is empty (n = 0) and k is cut to n - 1; min_rows = 0 (the statistic alone): the k
 * neighbours must exist. The one k-NN of the statistic: it reads the features and masks only. */
static int hood_build(ima_local_ev_hood *h, const float *const *F, const size_t *width, const uint8_t *mask, size_t N,
                      int M, int j, size_t k, size_t min_rows) {
    memset(h, 0, sizeof *h);
    size_t n = 0, nw;
    if (!(h->rows = ima_try_malloc(N ? N : 1, sizeof *h->rows))) return ima_error_prefix("local-ev neighbours");
    for (size_t i = 0; i < N; i++) {
        const uint8_t *mi = mask + i * (size_t)M;
        int others = 0;
        for (int o = 0; o < M; o++) others += o != j && mi[o];
        if (mi[j] && others) h->rows[n++] = i;
    }
    if (min_rows && n < min_rows) { /* too few rows: no targets for this modality */
        hood_free(h);
        return IMA_OK;
    }
    if (min_rows && k > n - 1) k = n - 1;
    float *u = NULL; /* (n, width[j]) the eligible rows' features */
    if (ima_mul_overflows(n, width[j], &nw) || !(u = ima_try_malloc(nw ? nw : 1, sizeof *u))) {
        hood_free(h);
        return ima_error("local-ev neighbours: out of memory (%zu x %zu features)", n, width[j]);
    }
    for (size_t q = 0; q < n; q++) memcpy(u + q * width[j], F[j] + h->rows[q] * width[j], width[j] * sizeof *u);
    int rc = local_ev_nbr(&h->nbr, u, width[j], n, k);
    free(u);
    if (rc) {
        hood_free(h);
        return rc;
    }
    h->n = n, h->k = k;
    return IMA_OK;
}

/* T (h->n) of modality j over its neighbourhoods h with every partner block o != j: partner o of row l
 * weighs mask[l][o] w[l] (w (N), or NULL: 1) */
static int hood_stat(float *T, const ima_local_ev_hood *h, const float *const *F, const size_t *width,
                     const uint8_t *mask, const float *w, int M, int j) {
    size_t n = h->n, nm;
    float *wb = NULL; /* (M, n) partner weights */
    if (ima_mul_overflows(n ? n : 1, (size_t)M, &nm) || !(wb = ima_try_malloc(nm, sizeof *wb)))
        return ima_error("local-ev statistic: out of memory (%zu rows)", n);
    lev_block blk[IMA_MAX_MODALITIES];
    int nb = 0;
    for (int o = 0; o < M; o++) {
        if (o == j) continue;
        float *wo = wb + (size_t)o * n;
        for (size_t q = 0; q < n; q++) {
            size_t i = h->rows[q];
            wo[q] = mask[i * (size_t)M + (size_t)o] ? (w ? w[i] : 1.0f) : 0.0f;
        }
        blk[nb++] = (lev_block){F[o], h->rows, wo, width[o]};
    }
    int rc = local_ev_from_nbr(T, h->nbr, h->k, blk, nb, n);
    free(wb);
    return rc;
}

int ima_local_ev_stat_blocks(float *T, const float *const *F, const size_t *width, const uint8_t *mask, const float *w,
                             size_t N, int M, int j, size_t k) {
    if (M < 2 || M > IMA_MAX_MODALITIES || j < 0 || j >= M)
        return ima_error("local-ev statistic: modality %d of M = %d: expected M in 2..%d", j, M, IMA_MAX_MODALITIES);
    for (size_t i = 0; i < N; i++) T[i] = NAN;
    ima_local_ev_hood h;
    if (hood_build(&h, F, width, mask, N, M, j, k, 0)) return ima_error_prefix("local-ev statistic");
    float *Tn = ima_try_malloc(h.n ? h.n : 1, sizeof *Tn);
    int rc = Tn ? hood_stat(Tn, &h, F, width, mask, w, M, j) : ima_error_prefix("local-ev statistic");
    if (rc == IMA_OK)
        for (size_t q = 0; q < h.n; q++) T[h.rows[q]] = Tn[q];
    free(Tn);
    hood_free(&h);
    return rc;
}

/* ---- teacher features: principal components of the inputs ------------------------------------ */

/* eigen-decomposition of the symmetric L x L matrix a (row-major, destroyed) by cyclic Jacobi
 * rotations: eigenvalues ev (L), eigenvectors in the columns of v (L, L), sorted by descending value */
static void jacobi_eigen(double *a, double *ev, double *v, size_t L) {
    for (size_t i = 0; i < L; i++)
        for (size_t j = 0; j < L; j++) v[i * L + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t i = 0; i < L; i++) {
            diag += a[i * L + i] * a[i * L + i];
            for (size_t j = i + 1; j < L; j++) off += a[i * L + j] * a[i * L + j];
        }
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (size_t p = 0; p < L; p++)
            for (size_t q = p + 1; q < L; q++) {
                double apq = a[p * L + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * L + q] - a[p * L + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < L; k++) { /* a <- a J (columns p, q) */
                    double akp = a[k * L + p], akq = a[k * L + q];
                    a[k * L + p] = c * akp - s * akq;
                    a[k * L + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < L; k++) { /* a <- J^T a (rows p, q) */
                    double apk = a[p * L + k], aqk = a[q * L + k];
                    a[p * L + k] = c * apk - s * aqk;
                    a[q * L + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < L; k++) {
                    double vkp = v[k * L + p], vkq = v[k * L + q];
                    v[k * L + p] = c * vkp - s * vkq;
                    v[k * L + q] = s * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < L; i++) ev[i] = a[i * L + i];
    for (size_t i = 1; i < L; i++) /* insertion sort, descending, columns follow */
        for (size_t j = i; j > 0 && ev[j] > ev[j - 1]; j--) {
            double t = ev[j];
            ev[j] = ev[j - 1], ev[j - 1] = t;
            for (size_t k = 0; k < L; k++) t = v[k * L + j], v[k * L + j] = v[k * L + j - 1], v[k * L + j - 1] = t;
        }
}

/* modified Gram-Schmidt on the L columns of q (D, L), in place; a column that vanishes is replaced
 * by a unit vector orthogonal to the previous ones */
static void orthonormalise(double *q, size_t D, size_t L) {
    for (size_t c = 0; c < L; c++) {
        for (int again = 0; again < 2; again++) /* twice is enough (Kahan) */
            for (size_t b = 0; b < c; b++) {
                double dot = 0.0;
                for (size_t r = 0; r < D; r++) dot += q[r * L + b] * q[r * L + c];
                for (size_t r = 0; r < D; r++) q[r * L + c] -= dot * q[r * L + b];
            }
        double nrm = 0.0;
        for (size_t r = 0; r < D; r++) nrm += q[r * L + c] * q[r * L + c];
        nrm = sqrt(nrm);
        if (nrm < 1e-150) { /* degenerate: the first axis e_r with a component left */
            for (size_t e = 0; e < D && nrm < 1e-8; e++) {
                for (size_t r = 0; r < D; r++) q[r * L + c] = r == e;
                for (size_t b = 0; b < c; b++) {
                    double dot = q[e * L + b];
                    for (size_t r = 0; r < D; r++) q[r * L + c] -= dot * q[r * L + b];
                }
                nrm = 0.0;
                for (size_t r = 0; r < D; r++) nrm += q[r * L + c] * q[r * L + c];
                nrm = sqrt(nrm);
            }
        }
        for (size_t r = 0; r < D; r++) q[r * L + c] /= nrm;
    }
}

#define PCA_ROWS 512       /* rows per block when forming the covariance and projecting */
#define PCA_OVERSAMPLE 10  /* extra vectors of the subspace iteration */
#define PCA_ITERATIONS 30  /* subspace iterations */
#define PCA_SEED 0x1ea11ULL /* start of the subspace iteration (fixed: the features do not depend on the run) */

int ima_local_ev_pca(float *F, size_t *P_out, double *explained, const float *x, size_t D, const uint8_t *mask,
                     size_t mstride, size_t N, size_t P) {
    if (!D || !P) return ima_error("local-ev features: width %zu, %zu components: expected both > 0", D, P);
    if (P > D) P = D;
    size_t dd, np, nd;
    if (ima_mul_overflows(D, D, &dd) || ima_mul_overflows(N, P, &np) || ima_mul_overflows(PCA_ROWS, D, &nd))
        return ima_error("local-ev features: %zu x %zu covariance or %zu x %zu projection: the size overflows", D, D, N,
                         P);
    size_t L = P + PCA_OVERSAMPLE < D ? P + PCA_OVERSAMPLE : D;
    double *mean = ima_try_calloc(D, sizeof *mean), *q = ima_try_malloc(D * L, sizeof *q);
    double *z = ima_try_malloc(D * L, sizeof *z), *h = ima_try_malloc(L * L, sizeof *h);
    double *ev = ima_try_malloc(L, sizeof *ev), *vv = ima_try_malloc(L * L, sizeof *vv);
    float *cov = ima_try_calloc(dd, sizeof *cov), *blk = ima_try_malloc(nd, sizeof *blk);
    float *basis = ima_try_malloc(D * P, sizeof *basis);
    float *proj = ima_try_malloc(PCA_ROWS * P, sizeof *proj);
    size_t *rows = ima_try_malloc(PCA_ROWS, sizeof *rows);
    int rc = IMA_OK;
    if (!mean || !q || !z || !h || !ev || !vv || !cov || !blk || !basis || !proj || !rows) {
        rc = ima_error_prefix("local-ev features: %zu x %zu covariance", D, D);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (!mask || mask[i * mstride]) {
            n++;
            for (size_t c = 0; c < D; c++) mean[c] += x[i * D + c];
        }
    if (n < 2) {
        rc = ima_error("local-ev features: %zu rows present: expected at least 2", n);
        goto done;
    }
    for (size_t c = 0; c < D; c++) mean[c] /= (double)n;
    /* cov (D, D) = sum over present rows of (x - mean)(x - mean)^T / n, in blocks of PCA_ROWS rows */
    for (size_t lo = 0; lo < N;) {
        size_t B = 0;
        for (; lo < N && B < PCA_ROWS; lo++)
            if (!mask || mask[lo * mstride]) {
                for (size_t c = 0; c < D; c++) blk[B * D + c] = (float)(x[lo * D + c] - mean[c]);
                B++;
            }
        if (B)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)B, 1.0f / (float)n, blk, (int)D,
                        blk, (int)D, 1.0f, cov, (int)D);
    }
    /* subspace iteration q <- orth(cov q) from a fixed Gaussian start, then Rayleigh-Ritz */
    ima_rng rng;
    ima_rng_init(&rng, PCA_SEED);
    for (size_t i = 0; i < D * L; i++) q[i] = L == D ? (double)(i / L == i % L) : ima_rng_normal(&rng);
    orthonormalise(q, D, L);
    for (int it = 0; it < (L == D ? 0 : PCA_ITERATIONS); it++) {
        for (size_t r = 0; r < D; r++)
            for (size_t c = 0; c < L; c++) {
                double s = 0.0;
                for (size_t e = 0; e < D; e++) s += (double)cov[r * D + e] * q[e * L + c];
                z[r * L + c] = s;
            }
        memcpy(q, z, D * L * sizeof *q);
        orthonormalise(q, D, L);
    }
    for (size_t r = 0; r < D; r++) /* z = cov q */
        for (size_t c = 0; c < L; c++) {
            double s = 0.0;
            for (size_t e = 0; e < D; e++) s += (double)cov[r * D + e] * q[e * L + c];
            z[r * L + c] = s;
        }
    for (size_t a = 0; a < L; a++) /* h = q^T cov q (L, L), symmetrised */
        for (size_t b = 0; b < L; b++) {
            double s = 0.0;
            for (size_t r = 0; r < D; r++) s += q[r * L + a] * z[r * L + b];
            h[a * L + b] = s;
        }
    for (size_t a = 0; a < L; a++)
        for (size_t b = a + 1; b < L; b++) h[a * L + b] = h[b * L + a] = 0.5 * (h[a * L + b] + h[b * L + a]);
    jacobi_eigen(h, ev, vv, L);
    for (size_t r = 0; r < D; r++) /* basis (D, P) = q vv[:, :P], each column's sign fixed (largest entry > 0) */
        for (size_t c = 0; c < P; c++) {
            double s = 0.0;
            for (size_t e = 0; e < L; e++) s += q[r * L + e] * vv[e * L + c];
            basis[r * P + c] = (float)s;
        }
    for (size_t c = 0; c < P; c++) {
        size_t best = 0;
        for (size_t r = 1; r < D; r++)
            if (fabsf(basis[r * P + c]) > fabsf(basis[best * P + c])) best = r;
        if (basis[best * P + c] < 0)
            for (size_t r = 0; r < D; r++) basis[r * P + c] = -basis[r * P + c];
    }
    if (explained) {
        double tr = 0.0, top = 0.0;
        for (size_t c = 0; c < D; c++) tr += cov[c * D + c];
        for (size_t c = 0; c < P; c++) top += ev[c];
        *explained = tr > 0 ? top / tr : 0.0;
    }
    /* F (N, P) = (x - mean) basis on present rows, 0 elsewhere */
    for (size_t lo = 0; lo < N;) {
        size_t B = 0;
        for (; lo < N && B < PCA_ROWS; lo++) {
            if (mask && !mask[lo * mstride]) {
                memset(F + lo * P, 0, P * sizeof *F);
                continue;
            }
            for (size_t c = 0; c < D; c++) blk[B * D + c] = (float)(x[lo * D + c] - mean[c]);
            rows[B++] = lo;
        }
        if (!B) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)P, (int)D, 1.0f, blk, (int)D, basis,
                    (int)P, 0.0f, proj, (int)P);
        for (size_t b = 0; b < B; b++) memcpy(F + rows[b] * P, proj + b * P, P * sizeof *F);
    }
    *P_out = P;
done:
    free(mean), free(q), free(z), free(h), free(ev), free(vv), free(cov), free(blk), free(basis), free(proj), free(rows);
    return rc;
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
        double R[KC] = {0}, S1[KC] = {0}, base[KC], prec[KC];
        ll = 0.0;
        /* the per-component constants of log(weight_c N(x; mean_c, sd_c)), once per iteration, not per row */
        for (int c = 0; c < KC; c++) {
            base[c] = log(f.weight[c]) - log(f.sd[c]) - 0.91893853320467274178; /* log sqrt(2 pi) */
            prec[c] = 1.0 / f.sd[c];
        }
        for (size_t i = 0; i < n; i++) {
            double l[KC], mx = -INFINITY, s = 0.0;
            for (int c = 0; c < KC; c++) {
                double z = (x[i] - f.mean[c]) * prec[c];
                l[c] = base[c] - 0.5 * z * z;
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
    if (ima_mul_overflows(n, KC, &nr)) return ima_error("local-ev calibration: %zu values: the size overflows", n);
    double *x = ima_try_malloc(n, sizeof *x), *xs = ima_try_malloc(n, sizeof *xs), *r = ima_try_malloc(nr, sizeof *r);
    if (!x || !xs || !r) {
        free(x), free(xs), free(r);
        return ima_error_prefix("local-ev calibration");
    }
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

/* ---- the teacher and its targets --------------------------------------------------------------- */

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int median_of(double *med, const float *v, size_t n) {
    double *s = ima_try_malloc(n ? n : 1, sizeof *s);
    if (!s) return ima_error_prefix("local-ev: median of T");
    for (size_t i = 0; i < n; i++) s[i] = v[i];
    qsort(s, n, sizeof *s, cmp_double);
    *med = n == 0 ? NAN : n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return IMA_OK;
}

/* 64-bit FNV-1a over 32-bit words in four interleaved lanes (for speed), folded into h */
static uint64_t fnv_words(uint64_t h, const void *p, size_t n) {
    const uint64_t PR = 0x100000001b3ULL;
    uint64_t l[4] = {h, h ^ 0x9e3779b97f4a7c15ULL, h ^ 0xbf58476d1ce4e5b9ULL, h ^ 0x94d049bb133111ebULL};
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int a = 0; a < 4; a++) {
            uint32_t w;
            memcpy(&w, b + 4 * (i + (size_t)a), 4);
            l[a] = (l[a] ^ w) * PR;
        }
    for (; i < n; i++) {
        uint32_t w;
        memcpy(&w, b + 4 * i, 4);
        l[0] = (l[0] ^ w) * PR;
    }
    for (int a = 0; a < 4; a++) h = (h ^ l[a]) * PR;
    return h;
}

/* a fingerprint of the data set's shape, inputs (bit patterns) and masks */
static uint64_t dataset_fingerprint(const ima_dataset *ds) {
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t M = (size_t)ds->n_modalities, shape[2 + IMA_MAX_MODALITIES] = {ds->n, M};
    for (size_t j = 0; j < M && j < IMA_MAX_MODALITIES; j++) shape[2 + j] = ds->width[j];
    for (size_t q = 0; q < 2 + IMA_MAX_MODALITIES; q++) h = fnv_words(h, &shape[q], sizeof shape[q] / 4);
    for (size_t j = 0; j < M && j < IMA_MAX_MODALITIES; j++) h = fnv_words(h, ds->x[j], ds->n * ds->width[j]);
    for (size_t i = 0; i < ds->n * M; i++) h = (h ^ ds->mask[i]) * 0x100000001b3ULL;
    return h;
}

void ima_local_ev_teacher_free(ima_local_ev_teacher *t) {
    if (!t) return;
    for (int j = 0; j < IMA_MAX_MODALITIES; j++) {
        free(t->own[j]);
        hood_free(&t->hood[j]);
    }
    free(t->mask);
    memset(t, 0, sizeof *t);
}

/* t's masks and neighbourhoods from its features t->F, t->width (set by the caller) */
static int teacher_hoods(ima_local_ev_teacher *t, const uint8_t *mask, size_t N, int M, size_t k) {
    size_t nm;
    t->N = N, t->M = M, t->k = k;
    if (ima_mul_overflows(N, (size_t)M, &nm) || !(t->mask = ima_try_malloc(nm ? nm : 1, 1)))
        return ima_error("local-ev teacher: out of memory (%zu x %d masks)", N, M);
    memcpy(t->mask, mask, nm);
    for (int j = 0; j < M; j++)
        if (hood_build(&t->hood[j], t->F, t->width, t->mask, N, M, j, k, LEV_MIN_ROWS))
            return ima_error_prefix("local-ev teacher: modality %d", j);
    return IMA_OK;
}

/* a teacher over given features F[j] (N, width[j]), borrowed (they must outlive it) */
static int teacher_from_features(ima_local_ev_teacher *t, const float *const *F, const size_t *width,
                                 const uint8_t *mask, size_t N, int M, size_t k) {
    memset(t, 0, sizeof *t);
    if (M < 1 || M > IMA_MAX_MODALITIES)
        return ima_error("local-ev targets: M = %d: expected 1..%d", M, IMA_MAX_MODALITIES);
    for (int j = 0; j < M; j++) t->F[j] = F[j], t->width[j] = width[j];
    int rc = teacher_hoods(t, mask, N, M, k);
    if (rc) ima_local_ev_teacher_free(t);
    return rc;
}

int ima_local_ev_teacher_build(ima_local_ev_teacher *t, const ima_dataset *ds, size_t k) {
    double t0 = wall(), c0 = cpu();
    memset(t, 0, sizeof *t);
    int M = ds->n_modalities, rc = IMA_OK;
    size_t N = ds->n;
    if (M < 1 || M > IMA_MAX_MODALITIES)
        return ima_error("local-ev teacher: M = %d: expected 1..%d", M, IMA_MAX_MODALITIES);
    k = k ? k : IMA_LOCAL_EV_DEFAULT_K;
    /* the features: each modality's inputs projected on their top IMA_LOCAL_EV_PCA principal axes */
    for (int j = 0; j < M && rc == IMA_OK; j++) {
        size_t P = ds->width[j] < IMA_LOCAL_EV_PCA ? ds->width[j] : IMA_LOCAL_EV_PCA, np;
        if (ima_mul_overflows(N, P, &np) || !(t->own[j] = ima_try_malloc(np ? np : 1, sizeof(float)))) {
            rc = ima_error("local-ev teacher: out of memory (%zu x %zu features)", N, P);
            break;
        }
        t->F[j] = t->own[j];
        t->input_width[j] = ds->width[j];
        rc = ima_local_ev_pca(t->own[j], &t->width[j], &t->explained[j], ds->x[j], ds->width[j], ds->mask + j,
                              (size_t)M, N, P);
    }
    if (rc == IMA_OK) rc = teacher_hoods(t, ds->mask, N, M, k);
    if (rc) {
        ima_local_ev_teacher_free(t);
        return ima_error_prefix("local-ev teacher");
    }
    t->fingerprint = dataset_fingerprint(ds);
    t->seconds = wall() - t0;
    t->cpu_seconds = cpu() - c0;
    return IMA_OK;
}

int ima_local_ev_teacher_check(const ima_local_ev_teacher *t, const ima_dataset *ds, size_t k) {
    k = k ? k : IMA_LOCAL_EV_DEFAULT_K;
    if (!t->N || !t->input_width[0]) return ima_error("local-ev teacher: not built from a data set");
    if (t->N != ds->n || t->M != ds->n_modalities)
        return ima_error("local-ev teacher: built for %zu rows of %d modalities, the data set has %zu rows of %d",
                         t->N, t->M, ds->n, ds->n_modalities);
    for (int j = 0; j < t->M; j++)
        if (t->input_width[j] != ds->width[j])
            return ima_error("local-ev teacher: modality %d: built for width %zu, the data set's is %zu", j,
                             t->input_width[j], ds->width[j]);
    if (t->k != k) return ima_error("local-ev teacher: built for k = %zu neighbours, the model asks for %zu", t->k, k);
    if (dataset_fingerprint(ds) != t->fingerprint)
        return ima_error("local-ev teacher: built from other inputs or masks (same shape, different content)");
    return IMA_OK;
}

int ima_local_ev_teacher_targets(float *target, float *T_out, const ima_local_ev_teacher *t, const float *rho,
                                 ima_local_ev_report *rep) {
    double t0 = wall();
    size_t N = t->N, nm;
    int M = t->M;
    if (M < 1 || M > IMA_MAX_MODALITIES || ima_mul_overflows(N, (size_t)M, &nm))
        return ima_error("local-ev targets: the teacher has M = %d modalities of %zu rows: expected 1..%d", M, N,
                         IMA_MAX_MODALITIES);
    ima_local_ev_report r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < nm; i++) {
        target[i] = NAN;
        if (T_out) T_out[i] = NAN;
    }
    /* pass 0: every partner weighs 1; passes 1..IMA_LOCAL_EV_PASSES-1: partner modality o of row l weighs
     * the largest previous-pass target of row l's modalities other than j (noise partners stop inflating
     * the spread). Jacobi order. The neighbourhoods are the teacher's: the weights change, not who is near. */
    float *T = ima_try_malloc(N ? N : 1, sizeof *T), *tq = ima_try_malloc(N ? N : 1, sizeof *tq);
    float *w = ima_try_malloc(N ? N : 1, sizeof *w), *prev = ima_try_malloc(nm ? nm : 1, sizeof *prev);
    int rc = IMA_OK;
    if (!T || !tq || !w || !prev) rc = ima_error("local-ev targets: out of memory (%zu rows)", N);
    for (int pass = 0; pass < IMA_LOCAL_EV_PASSES && rc == IMA_OK; pass++) {
        memcpy(prev, target, nm * sizeof *prev);
        for (int j = 0; j < M && rc == IMA_OK; j++) {
            const ima_local_ev_hood *h = &t->hood[j];
            size_t n = h->n, below = 0;
            if (!n) continue; /* too few rows: no targets for this modality */
            for (size_t q = 0; q < n && pass > 0; q++) {
                size_t i = h->rows[q];
                float best = 0.0f;
                for (int e = 0; e < M; e++)
                    if (e != j && t->mask[i * (size_t)M + (size_t)e]) {
                        float te = prev[i * (size_t)M + (size_t)e];
                        best = fmaxf(best, isfinite(te) ? te : 1.0f);
                    }
                w[i] = best;
            }
            if ((rc = hood_stat(T, h, t->F, t->width, t->mask, pass > 0 ? w : NULL, M, j))) break;
            if ((rc = ima_local_ev_calibrate(tq, &r.fit[j], T, n, rho[j]))) break;
            for (size_t q = 0; q < n; q++) {
                target[h->rows[q] * (size_t)M + (size_t)j] = tq[q];
                if (T_out) T_out[h->rows[q] * (size_t)M + (size_t)j] = T[q];
                below += tq[q] < 0.5f;
            }
            r.rows[j] = n;
            if ((rc = median_of(&r.median_T[j], T, n))) break;
            r.share_below[j] = (double)below / (double)n;
        }
    }
    free(T), free(tq), free(w), free(prev);
    for (int j = 0; j < M; j++)
        if (t->input_width[j]) r.features[j] = t->width[j], r.explained[j] = t->explained[j];
    r.seconds = wall() - t0;
    if (rep) *rep = r;
    return rc ? ima_error_prefix("local-ev targets") : IMA_OK;
}

int ima_local_ev_targets_from_features(float *target, float *T_out, const float *const *F, const size_t *width,
                                       const uint8_t *mask, size_t N, int M, size_t k, const float *rho,
                                       ima_local_ev_report *rep) {
    double t0 = wall();
    ima_local_ev_teacher t;
    if (teacher_from_features(&t, F, width, mask, N, M, k)) return ima_error_prefix("local-ev targets");
    int rc = ima_local_ev_teacher_targets(target, T_out, &t, rho, rep);
    ima_local_ev_teacher_free(&t);
    if (rep && rc == IMA_OK) rep->seconds = wall() - t0;
    return rc;
}

int ima_local_ev_targets_from_codes(float *target, float *T_out, const float *U, const uint8_t *mask, size_t N, int M,
                                    size_t d, size_t k, const float *rho, ima_local_ev_report *rep) {
    const float *F[IMA_MAX_MODALITIES];
    size_t width[IMA_MAX_MODALITIES];
    if (M < 1 || M > IMA_MAX_MODALITIES)
        return ima_error("local-ev targets: M = %d: expected 1..%d", M, IMA_MAX_MODALITIES);
    for (int j = 0; j < M; j++) F[j] = U + (size_t)j * N * d, width[j] = d;
    return ima_local_ev_targets_from_features(target, T_out, F, width, mask, N, M, k, rho, rep);
}

int ima_local_ev_targets(float *target, float *T_out, ima_model *m, const ima_dataset *ds, ima_local_ev_report *rep) {
    double t0 = wall();
    int M = m->cfg.n_modalities;
    if (ds->n_modalities != M)
        return ima_error("local-ev targets: the data set has %d modalities, the model %d", ds->n_modalities, M);
    ima_local_ev_teacher t;
    if (ima_local_ev_teacher_build(&t, ds, m->cfg.local_ev_k)) return ima_error_prefix("local-ev targets");
    float rho[IMA_MAX_MODALITIES] = {0};
    for (int j = 0; j < M; j++) rho[j] = m->cfg.mod[j].rho;
    int rc = ima_local_ev_teacher_targets(target, T_out, &t, rho, rep);
    ima_local_ev_teacher_free(&t);
    if (rep && rc == IMA_OK) rep->seconds = wall() - t0;
    return rc;
}
