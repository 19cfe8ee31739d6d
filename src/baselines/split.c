/* split.c: a baseline's batch rows in two parts, one thread each, as IMA's training step does it
 * (src/model/parallel.c; the pool and the element-wise passes are src/nn/pool.c's).
 *
 * Every per-row quantity of a baseline (activations, posterior statistics, samples, their gradients, the
 * noise) lives at its row in the model's buffers, so a part is the model seen through row-offset views of
 * those buffers and a batch view of its rows whose B_total is the whole batch's B (the losses are means over
 * the whole batch). The parts write disjoint rows; parameter gradients are the exception: part 1
 * accumulates into grads2, summed into grads after both parts (ima_pool_sum). Each part fills its own loss
 * terms, summed after. Results equal one thread's to float rounding (a parameter gradient is the sum of two
 * partial sums over the rows, and OpenBLAS may order a product's terms differently for another row count;
 * tests/test_baselines.c checks it).
 * M modalities j, B rows, d latent, Dc concatenated width. */
#include <stdlib.h>
#include <string.h>

#include "baselines/internal.h"
#include "core/blas.h"
#include "ima/common.h"

/* a part has at least this many rows: below it one thread does the batch (IMA's threshold) */
#define BL_SPLIT_MIN_ROWS 16

static int threads(const ima_baseline *bl) {
    int t = bl->threads > 0 ? bl->threads : openblas_get_num_threads();
    return t < 1 ? 1 : t;
}

static int have_pool(ima_baseline *bl) {
    if (!bl->pool) bl->pool = ima_pool_create();
    return bl->pool != NULL;
}

ima_pool *bl_elementwise_pool(ima_baseline *bl) { return threads(bl) >= 2 && have_pool(bl) ? bl->pool : NULL; }

/* 2 when a batch of B rows is split: only when the caller asked for it (bl->threads == 2). Opt-in since the
 * full MELD emotion run's MVAE loss went non-finite with it (2026-11-27). The cause was not the split: MVAE's
 * product of experts overflowed float32 (exp(-logvar) below logvar -88.7, on standardized acoustic outliers),
 * with or without the split, whose other rounding only changed which run hit it first; mvae.c now computes the
 * product in log space (docs/baselines.md). The default stays the one-thread-of-rows step with OpenBLAS's own
 * threads until the lead chooses otherwise. */
static int parts_of(ima_baseline *bl, size_t B, int grad) {
    if (B < 2 * BL_SPLIT_MIN_ROWS || bl->threads != 2 || !have_pool(bl)) return 1;
    if (grad && !bl->grads2) { /* no error message: without it the batch runs on one thread */
        if (!(bl->grads2 = malloc(bl->n_params ? bl->n_params * sizeof(float) : 1))) return 1;
    }
    return 2;
}

/* floats of backward scratch per row (the model's scratch holds max_batch rows of the widest MLP) */
static size_t scratch_per_row(const ima_baseline *bl) {
    size_t w = ima_mlp_scratch_size(&bl->joint, 1);
    for (int j = 0; j < bl->cfg.n_modalities; j++) {
        size_t e = ima_mlp_scratch_size(&bl->mod[j].enc, 1), g = ima_mlp_scratch_size(&bl->mod[j].dec, 1);
        if (e > w) w = e;
        if (g > w) w = g;
    }
    return w;
}

/* mlp with its gradient views in grads2 (part 1), its activations from row r0 */
static void part_mlp(ima_mlp *mlp, ima_mlp_acts *acts, const ima_baseline *bl, int p, size_t r0) {
    if (!mlp->n_layers) return;
    ima_mlp_acts_rows(acts, mlp, acts, r0);
    if (p == 1 && bl->grads2) ima_mlp_bind(mlp, mlp->W[0], bl->grads2 + (mlp->W[0] - bl->params));
}

/* *v = the model seen from row r0 (part p), *bv = the batch's rows [r0, r1) */
static void part_view(ima_baseline *v, ima_batch *bv, const ima_baseline *bl, const ima_batch *b, int p, size_t r0,
                      size_t r1) {
    int M = bl->cfg.n_modalities;
    size_t d = bl->cfg.latent_width, Dc = bl->concat_width;
    *v = *bl;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &v->mod[j];
        part_mlp(&md->enc, &md->enc_acts, bl, p, r0);
        part_mlp(&md->dec, &md->dec_acts, bl, p, r0);
        if (md->dstat) md->dstat += r0 * 2 * d;
        md->dout += r0 * md->dec.width[md->dec.n_layers];
    }
    part_mlp(&v->joint, &v->joint_acts, bl, p, r0);
    if (p == 1 && bl->grads2) v->grads = bl->grads2;
    v->xcat += r0 * Dc;
    v->stat += r0 * 2 * d;
    v->dstat += r0 * 2 * d;
    v->T += r0 * d;
    v->z += r0 * d;
    v->dz += r0 * d;
    v->dz_dec += r0 * d;
    v->row_w += r0;
    v->rec_rows += r0;
    v->scratch += r0 * scratch_per_row(bl);
    v->eps += r0 * d; /* MVAE's terms keep their stride of noise_B rows */
    if (v->keep) v->keep += r0 * Dc;
    *bv = *b;
    bv->B = r1 - r0;
    bv->B_total = bl_loss_rows(b);
    for (int j = 0; j < M; j++) bv->x[j] += r0 * bl->cfg.mod[j].input_width;
    if (b->mask) bv->mask += r0 * (size_t)M;
}

typedef struct {
    ima_baseline *bl;
    const ima_batch *b;
    int parts, grad;
    bl_loss_fn loss;
    ima_baseline_terms terms[2];
    bl_represent_fn represent;
    float *z;
} split_job;

/* *v, *bv: part p of the job's batch (part_view); returns its first row */
static size_t job_part(const split_job *s, int p, ima_baseline *v, ima_batch *bv) {
    size_t r0, r1;
    ima_model_part_rows(s->b->B, s->parts, p, &r0, &r1);
    part_view(v, bv, s->bl, s->b, p, r0, r1);
    return r0;
}

static void loss_part(void *vj, int p) {
    split_job *s = vj;
    ima_baseline v;
    ima_batch bv;
    job_part(s, p, &v, &bv);
    if (p == 1 && s->grad) memset(v.grads, 0, v.n_params * sizeof(float)); /* grads2, on its own thread */
    memset(&s->terms[p], 0, sizeof s->terms[p]);
    s->loss(&v, &bv, s->grad, &s->terms[p]);
}

void bl_split_loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms, bl_loss_fn loss) {
    int parts = parts_of(bl, b->B, grad);
    if (parts < 2) {
        loss(bl, b, grad, terms);
        return;
    }
    split_job s = {.bl = bl, .b = b, .parts = parts, .grad = grad, .loss = loss};
    ima_pool_run2_blas1(bl->pool, loss_part, &s);
    if (grad) ima_pool_sum(bl->pool, bl->grads, bl->grads2, bl->n_params);
    for (int j = 0; j < bl->cfg.n_modalities; j++) terms->rec[j] += s.terms[0].rec[j] + s.terms[1].rec[j];
    terms->kl += s.terms[0].kl + s.terms[1].kl;
    terms->kl_uni += s.terms[0].kl_uni + s.terms[1].kl_uni;
    terms->total += s.terms[0].total + s.terms[1].total;
}

static void represent_part(void *vj, int p) {
    split_job *s = vj;
    ima_baseline v;
    ima_batch bv;
    size_t r0 = job_part(s, p, &v, &bv);
    s->represent(&v, &bv, s->z + r0 * s->bl->cfg.latent_width);
}

void bl_split_represent(ima_baseline *bl, const ima_batch *b, float *z, bl_represent_fn represent) {
    int parts = parts_of(bl, b->B, 0);
    if (parts < 2) {
        represent(bl, b, z);
        return;
    }
    split_job s = {.bl = bl, .b = b, .parts = parts, .represent = represent, .z = z};
    ima_pool_run2_blas1(bl->pool, represent_part, &s);
}
