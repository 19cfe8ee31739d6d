/* tsne.c: Barnes-Hut and exact t-SNE, KL divergence of a map, trustworthiness (see tsne.h).
 *
 * Dimensions: N points, D input width, E map width, K neighbours per point, k trustworthiness
 * neighbours, B rows in a distance block.
 *
 * Sections in the order the data flows: vantage-point tree (neighbours) -> perplexity calibration
 * -> symmetrised sparse P -> gradient (attraction over P; repulsion from a quadtree or all pairs)
 * -> gradient descent with momentum and gains -> KL of the final map. Trustworthiness last.
 * The map and all gradients are double; the result is written as float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/kbest.h"
#include "ima/common.h"
#include "ima/eval.h"
#include "ima/rng.h"
#include "ima/tsne.h"

ima_tsne_config ima_tsne_defaults(void) {
    ima_tsne_config c = {0};
    c.method = IMA_TSNE_BARNES_HUT;
    c.out_dim = 2;
    c.perplexity = 10.0;
    c.theta = 0.5;
    c.n_iter = 1000;
    c.exaggeration_iter = 250;
    c.exaggeration = 12.0;
    c.learning_rate = 200.0;
    c.momentum_early = 0.5;
    c.momentum_late = 0.8;
    c.min_gain = 0.01;
    c.seed = 1;
    return c;
}

void ima_sparse_free(ima_sparse *m) {
    if (!m) return;
    free(m->row_ptr);
    free(m->col);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static double euclid(const float *a, const float *b, size_t D) { return sqrt(ima_sqdist_exact(a, b, D)); }

/* ---- vantage-point tree ------------------------------------------------------------ */

/* Node n holds vantage point item[n]; its inside subtree (distance <= radius) and outside
 * subtree (distance >= radius) are node ranges; a node count of 0 means no subtree. */
typedef struct {
    size_t point;      // vantage point (row of X)
    double radius;     // median distance from the vantage point to the points below it
    size_t in, n_in;   // inside subtree: first node and node count
    size_t out, n_out; // outside subtree
} vp_node;

typedef ima_kbest_pair dpair; /* (distance, index), the vantage-point tree's unit of work */

static void dpair_swap(dpair *a, dpair *b) {
    dpair t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges a[0..n) so that a[m] is the element of rank m by d, smaller (or equal) before it. */
static void quickselect(dpair *a, size_t n, size_t m) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2].d;
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i].d < pivot) i++;
            while (a[j].d > pivot) j--;
            if (i <= j) {
                dpair_swap(&a[i], &a[j]);
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (m <= j) hi = j;
        else if (m >= i) lo = i;
        else return;
    }
}

/* Builds the subtree over items[0..n) into nodes[0..n): node 0 is the root, then the inside
 * subtree, then the outside subtree. scratch (n) pairs. */
static void vp_build(vp_node *nodes, size_t base, size_t *items, size_t n, dpair *scratch, const float *X, size_t D,
                     ima_rng *rng) {
    vp_node *v = &nodes[base];
    size_t pick = (size_t)ima_rng_below(rng, n);
    size_t t = items[0];
    items[0] = items[pick];
    items[pick] = t;
    v->point = items[0];
    v->radius = 0.0;
    v->n_in = v->n_out = 0;
    if (n == 1) return;
    size_t rest = n - 1;
    for (size_t r = 0; r < rest; r++)
        scratch[r] = (dpair){euclid(X + v->point * D, X + items[1 + r] * D, D), items[1 + r]};
    size_t m = rest / 2; // inside: ranks [0, m), outside: ranks [m, rest)
    quickselect(scratch, rest, m);
    v->radius = scratch[m].d;
    for (size_t r = 0; r < rest; r++) items[1 + r] = scratch[r].i;
    v->in = base + 1;
    v->n_in = m;
    v->out = base + 1 + m;
    v->n_out = rest - m;
    if (m) vp_build(nodes, v->in, items + 1, m, scratch, X, D, rng);
    vp_build(nodes, v->out, items + 1 + m, rest - m, scratch, X, D, rng);
}

typedef struct {
    const vp_node *nodes;
    const float *X;
    size_t D, K, self;
    const float *target;
    dpair *heap;
    size_t n;
} vp_query;

/* slack on the triangle-inequality pruning, so rounding never drops an exact tie */
#define VP_SLACK 1e-9

static void vp_search(vp_query *q, size_t at) {
    const vp_node *v = &q->nodes[at];
    double d = euclid(q->target, q->X + v->point * q->D, q->D);
    if (v->point != q->self) ima_kbest_offer(q->heap, &q->n, q->K, (ima_kbest_pair){d, v->point});
#define TAU (q->n < q->K ? INFINITY : q->heap[0].d * (1.0 + VP_SLACK) + VP_SLACK)
    if (d < v->radius) {
        if (v->n_in && d - v->radius <= TAU) vp_search(q, v->in);
        if (v->n_out && v->radius - d <= TAU) vp_search(q, v->out);
    } else {
        if (v->n_out && v->radius - d <= TAU) vp_search(q, v->out);
        if (v->n_in && d - v->radius <= TAU) vp_search(q, v->in);
    }
#undef TAU
}

int ima_vptree_knn(size_t *nbr, double *dist, const float *X, size_t N, size_t D, size_t K, uint64_t seed) {
    if (N < 2 || K == 0 || K > N - 1)
        return ima_error("%s: K=%zu neighbours asked for among N=%zu points", __func__, K, N);
    vp_node *nodes = ima_try_malloc(N, sizeof *nodes);
    size_t *items = ima_try_malloc(N, sizeof *items);
    dpair *scratch = ima_try_malloc(N, sizeof *scratch);
    dpair *heap = ima_try_malloc(K, sizeof *heap);
    int rc = IMA_OK;
    if (!nodes || !items || !scratch || !heap) {
        rc = ima_error_prefix("%s: the tree over %zu points", __func__, N);
        goto done;
    }
    for (size_t i = 0; i < N; i++) items[i] = i;
    ima_rng rng;
    ima_rng_init(&rng, seed);
    vp_build(nodes, 0, items, N, scratch, X, D, &rng);
    for (size_t i = 0; i < N; i++) {
        vp_query q = {nodes, X, D, K, i, X + i * D, heap, 0};
        vp_search(&q, 0);
        if (q.n != K) { // only a NaN distance prunes a subtree that holds neighbours
            rc = ima_error("%s: found %zu of %zu neighbours of point %zu: a coordinate is not finite", __func__,
                           q.n, K, i);
            goto done;
        }
        for (size_t m = K; m > 0; m--) { // drain: farthest first into the back
            nbr[i * K + m - 1] = heap[0].i;
            dist[i * K + m - 1] = heap[0].d;
            heap[0] = heap[m - 1];
            ima_kbest_sift_down(heap, m - 1, 0);
        }
    }
done:
    free(nodes);
    free(items);
    free(scratch);
    free(heap);
    return rc;
}

/* ---- perplexity calibration ---------------------------------------------------------- */

int ima_tsne_calibrate(double *p, const double *d2, size_t N, size_t K, double perplexity) {
    if (!(perplexity > 0.0) || perplexity > (double)K)
        return ima_error("%s: perplexity %g must be in (0, %zu] (the neighbours per point); lower it or use "
                         "more points",
                         __func__, perplexity, K);
    const double target = log(perplexity);
    for (size_t i = 0; i < N; i++) {
        const double *di = d2 + i * K;
        double *pi = p + i * K;
        double dmin = di[0];
        for (size_t j = 1; j < K; j++) dmin = di[j] < dmin ? di[j] : dmin;
        double beta = 1.0, lo = -INFINITY, hi = INFINITY;
        for (int step = 0; step < 200; step++) {
            // shifted by dmin: the normalised p and the entropy do not change
            double sum = 0.0, wsum = 0.0;
            for (size_t j = 0; j < K; j++) {
                pi[j] = exp(-beta * (di[j] - dmin));
                sum += pi[j];
                wsum += (di[j] - dmin) * pi[j];
            }
            double H = log(sum) + beta * wsum / sum;
            for (size_t j = 0; j < K; j++) pi[j] /= sum;
            double diff = H - target;
            if (fabs(diff) < 1e-5) break;
            if (diff > 0.0) { // too flat: sharpen
                lo = beta;
                beta = isinf(hi) ? beta * 2.0 : 0.5 * (beta + hi);
            } else {
                hi = beta;
                beta = isinf(lo) ? beta * 0.5 : 0.5 * (beta + lo);
            }
        }
    }
    return IMA_OK;
}

/* ---- symmetrised joint P ------------------------------------------------------------- */

typedef struct {
    size_t r, c;
    double v;
} coo;

static int cmp_coo(const void *a, const void *b) {
    const coo *x = a, *y = b;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return (x->c > y->c) - (x->c < y->c);
}

/* P from conditional rows p (N, K) over neighbours nbr (N, K): (P + P^T) / sum. 2 N K coo entries
 * fit in size_t (the caller checked). */
static int symmetrise(ima_sparse *P, const size_t *nbr, const double *p, size_t N, size_t K) {
    size_t m = 2 * N * K;
    coo *e = ima_try_malloc(m, sizeof *e);
    if (!e) return ima_error_prefix("%s: %zu affinity entries", __func__, m);
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < K; k++) {
            size_t j = nbr[i * K + k];
            e[2 * (i * K + k)] = (coo){i, j, p[i * K + k]};
            e[2 * (i * K + k) + 1] = (coo){j, i, p[i * K + k]};
        }
    qsort(e, m, sizeof *e, cmp_coo);
    size_t u = 0; // merge duplicates in place
    for (size_t t = 0; t < m; t++) {
        if (u > 0 && e[u - 1].r == e[t].r && e[u - 1].c == e[t].c) e[u - 1].v += e[t].v;
        else e[u++] = e[t];
    }
    double total = 0.0;
    for (size_t t = 0; t < u; t++) total += e[t].v;
    P->n = N;
    P->nnz = u;
    P->row_ptr = ima_try_calloc(N + 1, sizeof *P->row_ptr);
    P->col = ima_try_malloc(u, sizeof *P->col);
    P->val = ima_try_malloc(u, sizeof *P->val);
    if (!P->row_ptr || !P->col || !P->val) {
        free(e);
        ima_sparse_free(P);
        return ima_error_prefix("%s: the sparse P (%zu entries)", __func__, u);
    }
    for (size_t t = 0; t < u; t++) {
        P->row_ptr[e[t].r + 1]++;
        P->col[t] = e[t].c;
        P->val[t] = e[t].v / total;
    }
    for (size_t i = 0; i < N; i++) P->row_ptr[i + 1] += P->row_ptr[i];
    free(e);
    return IMA_OK;
}

/* K = 3 x perplexity neighbours, or all N - 1 others (exact, or when that is fewer); 0 for a
 * perplexity that is not a positive number. Range-checked before the cast. */
static size_t n_neighbours(double perplexity, size_t N, int exact) {
    if (!(perplexity > 0.0)) return 0;
    double k = floor(3.0 * perplexity);
    return exact || k >= (double)(N - 1) ? N - 1 : (size_t)k;
}

int ima_tsne_affinities(ima_sparse *P, const float *X, size_t N, size_t D, double perplexity, int exact,
                        uint64_t seed) {
    memset(P, 0, sizeof *P);
    if (N < 2) return ima_error("%s: t-SNE needs at least 2 points, got %zu", __func__, N);
    if (!(perplexity > 0.0) || !isfinite(perplexity))
        return ima_error("%s: perplexity %g is not a positive number", __func__, perplexity);
    size_t K = n_neighbours(perplexity, N, exact);
    if (K == 0) return ima_error("%s: perplexity %g gives no neighbour", __func__, perplexity);
    if (perplexity > (double)K)
        return ima_error("%s: perplexity %g must be at most %zu (the neighbours per point); lower it or use more "
                         "points",
                         __func__, perplexity, K);
    size_t nk, nd;
    if (ima_mul_overflows(N, K, &nk) || ima_mul_overflows(nk, 2 * sizeof(coo), &(size_t){0}) ||
        ima_mul_overflows(N, D, &nd))
        return ima_error("%s: %zu points x %zu neighbours (width %zu) overflow the address space", __func__, N, K, D);
    size_t *nbr = ima_try_malloc(nk, sizeof *nbr); // (N, K)
    double *d2 = ima_try_malloc(nk, sizeof *d2);   // (N, K)
    double *p = ima_try_malloc(nk, sizeof *p);     // (N, K)
    int rc = IMA_OK;
    if (!nbr || !d2 || !p) {
        rc = ima_error_prefix("neighbour lists (%zu points x %zu)", N, K);
        goto done;
    }
    for (size_t t = 0; t < nd; t++)
        if (!isfinite(X[t])) {
            rc = ima_error("coordinate %zu of point %zu is not finite", t % D, t / D);
            goto done;
        }
    if (K == N - 1) { // every other point, directly
        for (size_t i = 0; i < N; i++) {
            size_t k = 0;
            for (size_t j = 0; j < N; j++) {
                if (j == i) continue;
                double d = euclid(X + i * D, X + j * D, D);
                nbr[i * K + k] = j;
                d2[i * K + k] = d * d;
                k++;
            }
        }
    } else {
        rc = ima_vptree_knn(nbr, d2, X, N, D, K, seed);
        for (size_t t = 0; t < nk; t++) d2[t] *= d2[t];
    }
    if (rc == IMA_OK) rc = ima_tsne_calibrate(p, d2, N, K, perplexity);
    if (rc == IMA_OK) rc = symmetrise(P, nbr, p, N, K);
done:
    free(nbr);
    free(d2);
    free(p);
    return rc == IMA_OK ? IMA_OK : ima_error_prefix("%s", __func__);
}

/* ---- quadtree for the repulsive forces (E = 2) ------------------------------------------ */

/* A square cell. Children of a split cell are 4 consecutive nodes starting at child (0: a leaf;
 * node 0 is the root, so no cell has child 0). A leaf holds its points' count and centre of mass:
 * one point, or several at the same position (or below the depth limit). */
typedef struct {
    double cx, cy, hw; // centre and half-width
    double mx, my;     // centre of mass of the points inside
    size_t count;      // points inside
    size_t child;      // first of the 4 children, 0 for a leaf
} qnode;

typedef struct {
    qnode *nodes; // (cap) one growing buffer
    size_t n, cap;
} quadtree;

#define QT_MAX_DEPTH 48

/* Appends a cell; IMA_ERR when the buffer cannot grow. */
static int qt_new(quadtree *t, double cx, double cy, double hw) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        qnode *grown = ima_try_realloc(t->nodes, cap, sizeof *grown);
        if (!grown) return ima_error_prefix("the quadtree (%zu cells)", cap);
        t->nodes = grown;
        t->cap = cap;
    }
    t->nodes[t->n++] = (qnode){cx, cy, hw, 0.0, 0.0, 0, 0};
    return IMA_OK;
}

static size_t qt_quadrant(const qnode *c, double x, double y) { return (size_t)(x >= c->cx) + 2 * (y >= c->cy); }

static int qt_split(quadtree *t, size_t at) {
    double h = 0.5 * t->nodes[at].hw, cx = t->nodes[at].cx, cy = t->nodes[at].cy;
    size_t first = t->n;
    if (qt_new(t, cx - h, cy - h, h) || qt_new(t, cx + h, cy - h, h) || qt_new(t, cx - h, cy + h, h) ||
        qt_new(t, cx + h, cy + h, h))
        return IMA_ERR;
    qnode *c = &t->nodes[at];
    c->child = first;
    // the points already here sit at (mx, my): move them down together
    qnode *k = &t->nodes[first + qt_quadrant(c, c->mx, c->my)];
    k->mx = c->mx;
    k->my = c->my;
    k->count = c->count;
    return IMA_OK;
}

static int qt_insert(quadtree *t, double x, double y) {
    size_t at = 0;
    for (int depth = 0;; depth++) {
        qnode *c = &t->nodes[at];
        if (c->child == 0) {
            int same = c->count > 0 && c->mx == x && c->my == y;
            if (c->count == 0 || same || depth >= QT_MAX_DEPTH) {
                c->count++;
                c->mx += (x - c->mx) / (double)c->count;
                c->my += (y - c->my) / (double)c->count;
                return IMA_OK;
            }
            if (qt_split(t, at)) return IMA_ERR;
            c = &t->nodes[at];
        }
        c->count++;
        c->mx += (x - c->mx) / (double)c->count;
        c->my += (y - c->my) / (double)c->count;
        at = c->child + qt_quadrant(c, x, y);
    }
}

static int qt_build(quadtree *t, const double *Y, size_t N) {
    double x0 = Y[0], x1 = Y[0], y0 = Y[1], y1 = Y[1];
    for (size_t i = 1; i < N; i++) {
        x0 = fmin(x0, Y[2 * i]);
        x1 = fmax(x1, Y[2 * i]);
        y0 = fmin(y0, Y[2 * i + 1]);
        y1 = fmax(y1, Y[2 * i + 1]);
    }
    t->n = 0;
    double hw = 0.5 * fmax(x1 - x0, y1 - y0) + 1e-5;
    if (qt_new(t, 0.5 * (x0 + x1), 0.5 * (y0 + y1), hw)) return IMA_ERR;
    for (size_t i = 0; i < N; i++)
        if (qt_insert(t, Y[2 * i], Y[2 * i + 1])) return IMA_ERR;
    return IMA_OK;
}

/* Adds the repulsion on the point at (x, y): f += sum q^2 (p - c) and sq += sum q (unnormalised
 * q = 1 / (1 + r^2)); a cell of width w at distance r is one mass when w^2 < theta^2 r^2. */
static void qt_repulse(const quadtree *t, size_t at, double x, double y, double theta2, double *fx, double *fy,
                       double *sq) {
    const qnode *c = &t->nodes[at];
    if (c->count == 0) return;
    double dx = x - c->mx, dy = y - c->my, r2 = dx * dx + dy * dy;
    double w = 2.0 * c->hw;
    if (c->child == 0 || w * w < theta2 * r2) {
        double n = (double)c->count;
        if (r2 == 0.0) { // a leaf at the point's own position: the point itself plus duplicates
            *sq += n - 1.0;
            return;
        }
        double q = 1.0 / (1.0 + r2);
        *sq += n * q;
        *fx += n * q * q * dx;
        *fy += n * q * q * dy;
        return;
    }
    for (size_t k = 0; k < 4; k++) qt_repulse(t, c->child + k, x, y, theta2, fx, fy, sq);
}

/* ---- gradient -------------------------------------------------------------------------- */

/* neg (N, E) zeroed scratch. E = 2 when theta > 0 (the callers check). */
static int gradient_impl(double *grad, double *neg, const ima_sparse *P, const double *Y, size_t N, size_t E,
                         double theta, double exaggeration, quadtree *qt) {
    double Z = 0.0;
    memset(neg, 0, N * E * sizeof *neg);
    if (theta > 0.0) {
        if (qt_build(qt, Y, N)) return IMA_ERR;
        for (size_t i = 0; i < N; i++) {
            double sq = 0.0;
            qt_repulse(qt, 0, Y[2 * i], Y[2 * i + 1], theta * theta, &neg[2 * i], &neg[2 * i + 1], &sq);
            Z += sq;
        }
    } else {
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) {
                if (j == i) continue;
                double r2 = 0.0;
                for (size_t e = 0; e < E; e++) {
                    double t = Y[i * E + e] - Y[j * E + e];
                    r2 += t * t;
                }
                double q = 1.0 / (1.0 + r2);
                Z += q;
                for (size_t e = 0; e < E; e++) neg[i * E + e] += q * q * (Y[i * E + e] - Y[j * E + e]);
            }
    }
    for (size_t i = 0; i < N; i++) {
        double pos[3] = {0.0, 0.0, 0.0};
        for (size_t t = P->row_ptr[i]; t < P->row_ptr[i + 1]; t++) {
            size_t j = P->col[t];
            double r2 = 0.0;
            for (size_t e = 0; e < E; e++) {
                double d = Y[i * E + e] - Y[j * E + e];
                r2 += d * d;
            }
            double pq = exaggeration * P->val[t] / (1.0 + r2);
            for (size_t e = 0; e < E; e++) pos[e] += pq * (Y[i * E + e] - Y[j * E + e]);
        }
        for (size_t e = 0; e < E; e++) grad[i * E + e] = 4.0 * (pos[e] - neg[i * E + e] / Z);
    }
    return IMA_OK;
}

int ima_tsne_gradient(double *grad, const ima_sparse *P, const double *Y, size_t N, size_t E, double theta,
                      double exaggeration) {
    if (E < 1 || E > 3 || (theta > 0.0 && E != 2))
        return ima_error("%s: map width %zu not supported (1 to 3; 2 with theta > 0)", __func__, E);
    if (P->n != N) return ima_error("%s: P has %zu rows for %zu points", __func__, P->n, N);
    double *neg = ima_try_calloc(N, E * sizeof *neg); // (N, E) unnormalised repulsion
    if (!neg) return ima_error_prefix("%s: the repulsion (%zu points)", __func__, N);
    quadtree qt = {0};
    int rc = gradient_impl(grad, neg, P, Y, N, E, theta, exaggeration, &qt);
    free(qt.nodes);
    free(neg);
    return rc == IMA_OK ? IMA_OK : ima_error_prefix("%s", __func__);
}

double ima_tsne_kl(const ima_sparse *P, const double *Y, size_t N, size_t E) {
    double Z = 0.0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) {
            double r2 = 0.0;
            for (size_t e = 0; e < E; e++) {
                double t = Y[i * E + e] - Y[j * E + e];
                r2 += t * t;
            }
            Z += 2.0 / (1.0 + r2);
        }
    double kl = 0.0;
    for (size_t i = 0; i < N; i++)
        for (size_t t = P->row_ptr[i]; t < P->row_ptr[i + 1]; t++) {
            double p = P->val[t];
            if (p <= 0.0) continue;
            size_t j = P->col[t];
            double r2 = 0.0;
            for (size_t e = 0; e < E; e++) {
                double d = Y[i * E + e] - Y[j * E + e];
                r2 += d * d;
            }
            double q = 1.0 / ((1.0 + r2) * Z);
            kl += p * log(p / q);
        }
    return kl;
}

/* ---- the optimisation ---------------------------------------------------------------- */

int ima_tsne_run(float *Yout, ima_tsne_result *res, const float *X, size_t N, size_t D, const ima_tsne_config *cfg) {
    int exact = cfg->method == IMA_TSNE_EXACT;
    size_t E = (size_t)cfg->out_dim;
    if (cfg->method != IMA_TSNE_EXACT && cfg->method != IMA_TSNE_BARNES_HUT)
        return ima_error("%s: unknown method %d", __func__, (int)cfg->method);
    if (exact ? (cfg->out_dim < 1 || cfg->out_dim > 3) : cfg->out_dim != 2)
        return ima_error("%s: output width %d not supported (Barnes-Hut: 2; exact: 1 to 3)", __func__, cfg->out_dim);
    if (!exact && !(cfg->theta > 0.0))
        return ima_error("%s: Barnes-Hut needs theta > 0 (got %g); use the exact method instead", __func__, cfg->theta);
    if (cfg->n_iter < 1 || cfg->exaggeration_iter < 0 || !(cfg->learning_rate > 0.0) || !(cfg->exaggeration > 0.0))
        return ima_error("%s: iterations, learning rate and exaggeration must be positive", __func__);
    if (N < 4) return ima_error("%s: t-SNE needs at least 4 points, got %zu", __func__, N);

    ima_sparse P;
    if (ima_tsne_affinities(&P, X, N, D, cfg->perplexity, exact, cfg->seed)) return ima_error_prefix("%s", __func__);
    size_t ne = N * E; // fits: the affinities hold 2 N K >= 2 N entries of 24 bytes, and E <= 3
    double *Y = ima_try_malloc(ne, sizeof *Y);      // (N, E) the map
    double *g = ima_try_malloc(ne, sizeof *g);      // (N, E) gradient
    double *upd = ima_try_calloc(ne, sizeof *upd);  // (N, E) momentum
    double *gain = ima_try_malloc(ne, sizeof *gain); // (N, E) adaptive gains
    double *neg = ima_try_malloc(ne, sizeof *neg);  // (N, E) repulsion scratch
    quadtree qt = {0};
    int rc = IMA_OK;
    if (!Y || !g || !upd || !gain || !neg) {
        rc = ima_error_prefix("%s: the map of %zu points", __func__, N);
        goto done;
    }
    ima_rng rng;
    ima_rng_init(&rng, cfg->seed);
    for (size_t t = 0; t < ne; t++) {
        Y[t] = 1e-4 * ima_rng_normal(&rng);
        gain[t] = 1.0;
    }
    for (int it = 0; it < cfg->n_iter; it++) {
        int early = it < cfg->exaggeration_iter;
        double mom = early ? cfg->momentum_early : cfg->momentum_late;
        if (gradient_impl(g, neg, &P, Y, N, E, exact ? 0.0 : cfg->theta, early ? cfg->exaggeration : 1.0, &qt)) {
            rc = ima_error_prefix("%s: iteration %d", __func__, it + 1);
            goto done;
        }
        for (size_t t = 0; t < ne; t++) {
            // the gain grows while the step keeps going against the gradient's sign
            gain[t] = upd[t] * g[t] < 0.0 ? gain[t] + 0.2 : gain[t] * 0.8;
            if (gain[t] < cfg->min_gain) gain[t] = cfg->min_gain;
            upd[t] = mom * upd[t] - cfg->learning_rate * gain[t] * g[t];
            Y[t] += upd[t];
        }
        for (size_t e = 0; e < E; e++) { // keep the map centred
            double m = 0.0;
            for (size_t i = 0; i < N; i++) m += Y[i * E + e];
            m /= (double)N;
            for (size_t i = 0; i < N; i++) Y[i * E + e] -= m;
        }
        if (cfg->progress && ((it + 1) % 50 == 0 || it + 1 == cfg->n_iter))
            cfg->progress(cfg->progress_ctx, it + 1, cfg->n_iter);
    }
    int finite = 1;
    for (size_t t = 0; t < ne; t++) finite &= isfinite(Y[t]);
    if (!finite) {
        rc = ima_error("%s: the map diverged (non-finite coordinates); lower the learning rate", __func__);
    } else {
        for (size_t t = 0; t < ne; t++) Yout[t] = (float)Y[t];
        if (res) {
            res->kl = ima_tsne_kl(&P, Y, N, E);
            res->n_neighbors = n_neighbours(cfg->perplexity, N, exact);
            res->nnz = P.nnz;
        }
    }
done:
    free(qt.nodes);
    free(neg);
    free(Y);
    free(g);
    free(upd);
    free(gain);
    ima_sparse_free(&P);
    return rc;
}

/* ---- trustworthiness ------------------------------------------------------------------ */

#define TW_BLOCK 256

int ima_trustworthiness(double *out, const float *X, size_t D, const float *Y, size_t E, size_t N, size_t k) {
    if (k < 1 || 2 * k >= N) return ima_error("%s: k=%zu must satisfy 1 <= k < N/2 (N=%zu)", __func__, k, N);
    size_t nk, nd, bn;
    if (ima_mul_overflows(N, k, &nk) || ima_mul_overflows(N, D, &nd) || ima_mul_overflows(TW_BLOCK, N, &bn))
        return ima_error("%s: %zu points of width %zu overflow the address space", __func__, N, D);
    size_t *emb = ima_try_malloc(nk, sizeof *emb); // (N, k) map neighbours
    double *mean = ima_try_calloc(D, sizeof *mean);
    float *xc = ima_try_malloc(nd, sizeof *xc);    // (N, D) centred inputs
    float *xn = ima_try_malloc(N, sizeof *xn);     // (N) their squared norms
    float *dd = ima_try_malloc(bn, sizeof *dd);    // (B, N)
    if (!emb || !mean || !xc || !xn || !dd) {
        ima_error_prefix("%s: %zu points of width %zu", __func__, N, D);
        goto fail;
    }
    if (ima_knn(emb, NULL, NULL, Y, NULL, NULL, N, E, k)) {
        ima_error_prefix("%s", __func__);
        goto fail;
    }
    // input-space distances in blocks of rows, centred as in ima_knn
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++) mean[d] += X[i * D + d];
    double xn_max = 0.0;
    for (size_t i = 0; i < N; i++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++) {
            float v = (float)((double)X[i * D + d] - mean[d] / (double)N);
            xc[i * D + d] = v;
            s += (double)v * v;
        }
        xn[i] = (float)s;
        xn_max = s > xn_max ? s : xn_max;
    }
    double penalty = 0.0;
    for (size_t i0 = 0; i0 < N; i0 += TW_BLOCK) {
        size_t B = N - i0 < TW_BLOCK ? N - i0 : TW_BLOCK;
        ima_sqdist_block(dd, xc + i0 * D, xn + i0, xc, xn, B, N, D);
        for (size_t b = 0; b < B; b++) {
            size_t i = i0 + b;
            const float *row = dd + b * N;
            for (size_t m = 0; m < k; m++) {
                size_t j = emb[i * k + m];
                // rank of j = 1 + others before it in i's input-space order. GEMM distances decide
                // outside a rounding margin; inside it the exact double distances (then the index) do.
                double dj = ima_sqdist_exact(X + i * D, X + j * D, D);
                double margin = 1e-5 * ((double)row[j] + (double)xn[i] + xn_max);
                size_t rank = 1;
                for (size_t l = 0; l < N; l++) {
                    if (l == i || l == j) continue;
                    double dl = row[l];
                    if (dl < (double)row[j] - margin) {
                        rank++;
                    } else if (dl <= (double)row[j] + margin) {
                        double e = ima_sqdist_exact(X + i * D, X + l * D, D);
                        rank += e < dj || (e == dj && l < j);
                    }
                }
                if (rank > k) penalty += (double)(rank - k);
            }
        }
    }
    double n = (double)N, kk = (double)k;
    *out = 1.0 - penalty * 2.0 / (n * kk * (2.0 * n - 3.0 * kk - 1.0));
    free(emb);
    free(mean);
    free(xc);
    free(xn);
    free(dd);
    return IMA_OK;
fail:
    free(emb);
    free(mean);
    free(xc);
    free(xn);
    free(dd);
    return IMA_ERR;
}
