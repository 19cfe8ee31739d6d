/* baseline.c: configuration, memory layout, initialisation, parameter views and the kind dispatch (a table
 * of bl_kind, internal.h) of the baseline models; their shared pieces are in common.c.
 * M modalities j, D_j input, H_j hidden, Dout_j decoder output, Dc = sum D_j, Hc joint hidden, d latent,
 * B = max_batch rows of activation storage, S the most ELBO terms (MVAE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/internal.h"
#include "ima/common.h"

/* the kinds, in ima_baseline_kind order (internal.h) */
static const bl_kind *const KINDS[] = {&bl_kind_mvae, &bl_kind_jmvae, &bl_kind_dae};

/* ---- configuration ----------------------------------------------------------------- */

static ima_baseline_modality modality(const char *name, size_t D, size_t H) {
    ima_baseline_modality c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.input_width = D;
    c.hidden_width = H;
    c.loss = IMA_LOSS_BCE;
    c.lambda_rec = 1.0f;
    return c;
}

ima_baseline_config ima_baseline_config_defaults(ima_baseline_kind kind) {
    ima_baseline_config c = ima_baseline_config_digits(kind, 50);
    c.n_modalities = 0;
    for (int j = 0; j < IMA_MAX_MODALITIES; j++) c.mod[j] = modality("", 0, 100);
    return c;
}

ima_baseline_config ima_baseline_config_digits(ima_baseline_kind kind, size_t latent) {
    ima_baseline_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.n_modalities = 2;
    c.latent_width = latent;
    c.joint_hidden = 0;
    c.beta = 1.0f;
    c.alpha = 0.01f;
    c.mvae_subsets = 0;
    c.dae_feature_drop = 0.3f;
    c.dae_modality_drop = 0.3f;
    c.mod[0] = modality("image", 784, 500);
    c.mod[1] = modality("speech", 696, 100);
    return c;
}

ima_baseline_config ima_baseline_config_digits_table4(ima_baseline_kind kind, size_t latent) {
    ima_baseline_config c = ima_baseline_config_digits(kind, latent);
    for (int j = 0; j < c.n_modalities; j++) {
        c.mod[j].loss = IMA_LOSS_SSE;
        c.mod[j].gaussian_logvar = 1;
    }
    return c;
}

const char *ima_baseline_kind_name(ima_baseline_kind kind) {
    return (unsigned)kind < sizeof KINDS / sizeof KINDS[0] ? KINDS[kind]->name : "?";
}

int ima_baseline_kind_parse(ima_baseline_kind *kind, const char *name) {
    for (int k = IMA_BASELINE_MVAE; k <= IMA_BASELINE_DAE; k++)
        if (!strcmp(name, ima_baseline_kind_name((ima_baseline_kind)k))) {
            *kind = (ima_baseline_kind)k;
            return IMA_OK;
        }
    return ima_error("baseline kind '%s': expected mvae, jmvae or dae", name);
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

int ima_baseline_config_validate(const ima_baseline_config *cfg) {
    if (cfg->kind != IMA_BASELINE_MVAE && cfg->kind != IMA_BASELINE_JMVAE && cfg->kind != IMA_BASELINE_DAE)
        return ima_error("baseline config: kind: expected mvae, jmvae or dae");
    if (cfg->n_modalities < 1 || cfg->n_modalities > IMA_MAX_MODALITIES)
        return ima_error("baseline config: n_modalities: expected 1..%d, got %d", IMA_MAX_MODALITIES,
                         cfg->n_modalities);
    if (cfg->latent_width < 1 || cfg->latent_width > 65536)
        return ima_error("baseline config: latent_width: expected 1..65536, got %zu", cfg->latent_width);
    if (cfg->joint_hidden > 65536)
        return ima_error("baseline config: joint_hidden: expected 0 (sum of hidden widths) or 1..65536");
    if (!(cfg->beta >= 0) || !(cfg->alpha >= 0))
        return ima_error("baseline config: beta and alpha must be numbers >= 0");
    if (cfg->mvae_subsets < 0 || cfg->mvae_subsets > IMA_BASELINE_MAX_SUBSETS)
        return ima_error("baseline config: mvae_subsets: expected 0..%d, got %d", IMA_BASELINE_MAX_SUBSETS,
                         cfg->mvae_subsets);
    if (!(cfg->dae_feature_drop >= 0 && cfg->dae_feature_drop < 1) ||
        !(cfg->dae_modality_drop >= 0 && cfg->dae_modality_drop < 1))
        return ima_error("baseline config: dae_feature_drop and dae_modality_drop: expected values in [0, 1)");
    for (int j = 0; j < cfg->n_modalities; j++) {
        const ima_baseline_modality *c = &cfg->mod[j];
        if (!valid_name(c->name))
            return ima_error("baseline config: modality %d: name '%s': expected letters, digits, '_' or '-'", j,
                             c->name);
        for (int k = 0; k < j; k++)
            if (!strcmp(cfg->mod[k].name, c->name))
                return ima_error("baseline config: modality %d: name '%s' is used twice", j, c->name);
        if (c->input_width < 1 || c->input_width > (1u << 24))
            return ima_error("baseline config: %s: input_width: expected 1..2^24, got %zu", c->name, c->input_width);
        if (c->hidden_width < 1 || c->hidden_width > 65536)
            return ima_error("baseline config: %s: hidden_width: expected 1..65536, got %zu", c->name, c->hidden_width);
        if (c->loss != IMA_LOSS_BCE && c->loss != IMA_LOSS_SSE)
            return ima_error("baseline config: %s: loss: expected bce or sse", c->name);
        if (c->gaussian_logvar && c->loss != IMA_LOSS_SSE)
            return ima_error("baseline config: %s: gaussian_logvar needs loss sse", c->name);
        if (!(c->lambda_rec >= 0)) return ima_error("baseline config: %s: lambda_rec must be a number >= 0", c->name);
    }
    return IMA_OK;
}

/* ---- layout ---------------------------------------------------------------------------- */

static size_t mlp_count(const ima_mlp *mlp) {
    size_t n = 0;
    for (int l = 0; l < mlp->n_layers; l++) n += mlp->width[l + 1] * mlp->width[l] + mlp->width[l + 1];
    return n;
}

static size_t joint_hidden(const ima_baseline_config *cfg) {
    if (cfg->joint_hidden) return cfg->joint_hidden;
    size_t h = 0;
    for (int j = 0; j < cfg->n_modalities; j++) h += cfg->mod[j].hidden_width;
    return h;
}

static size_t dec_out(const ima_baseline_modality *c) {
    return c->gaussian_logvar ? 2 * c->input_width : c->input_width;
}

static int n_terms_max(const ima_baseline_config *cfg) {
    if (cfg->kind != IMA_BASELINE_MVAE) return cfg->kind == IMA_BASELINE_JMVAE ? 1 : 0;
    int M = cfg->n_modalities;
    return M == 1 ? 1 : 1 + M + (M > 2 ? cfg->mvae_subsets : 0);
}

/* Sets up the MLP descriptions of every network (no memory); returns the parameter counts. */
static void describe(const ima_baseline_config *cfg, ima_baseline_modality_state *mod, ima_mlp *joint, size_t *experts,
                     size_t *jcount, size_t *decoders) {
    size_t d = cfg->latent_width, w[4];
    *experts = *jcount = *decoders = 0;
    size_t Dc = 0;
    for (int j = 0; j < cfg->n_modalities; j++) {
        const ima_baseline_modality *c = &cfg->mod[j];
        size_t D = c->input_width, H = c->hidden_width;
        Dc += D;
        memset(&mod[j].enc, 0, sizeof mod[j].enc);
        if (cfg->kind != IMA_BASELINE_DAE) {
            w[0] = D, w[1] = H, w[2] = H, w[3] = 2 * d;
            *experts += ima_mlp_setup(&mod[j].enc, 3, w);
        }
        w[0] = d, w[1] = H, w[2] = H, w[3] = dec_out(c);
        *decoders += ima_mlp_setup(&mod[j].dec, 3, w);
    }
    memset(joint, 0, sizeof *joint);
    if (cfg->kind != IMA_BASELINE_MVAE) {
        size_t Hc = joint_hidden(cfg);
        w[0] = Dc, w[1] = Hc, w[2] = Hc, w[3] = cfg->kind == IMA_BASELINE_JMVAE ? 2 * d : d;
        *jcount = ima_mlp_setup(joint, 3, w);
    }
}

size_t ima_baseline_config_param_counts(const ima_baseline_config *cfg, size_t *experts, size_t *joint,
                                        size_t *decoders) {
    if (ima_baseline_config_validate(cfg)) return 0;
    ima_baseline_modality_state mod[IMA_MAX_MODALITIES];
    ima_mlp jm;
    size_t e, jc, g;
    describe(cfg, mod, &jm, &e, &jc, &g);
    if (experts) *experts = e;
    if (joint) *joint = jc;
    if (decoders) *decoders = g;
    return e + jc + g;
}

size_t ima_baseline_param_counts(const ima_baseline *bl, size_t *experts, size_t *joint, size_t *decoders) {
    if (experts) *experts = bl->n_params_experts;
    if (joint) *joint = bl->n_params_joint;
    if (decoders) *decoders = bl->n_params_dec;
    return bl->n_params;
}

int ima_baseline_init(ima_baseline **out, const ima_baseline_config *cfg, size_t max_batch, uint64_t seed) {
    *out = NULL;
    if (ima_baseline_config_validate(cfg)) return IMA_ERR;
    if (max_batch < 1 || max_batch > (1u << 24)) return ima_error("ima_baseline_init: max_batch must be 1..2^24");
    ima_baseline *bl = ima_try_calloc(1, sizeof *bl);
    if (!bl) return ima_error_prefix("ima_baseline_init");
    bl->cfg = *cfg;
    bl->max_batch = max_batch;
    int M = cfg->n_modalities;
    size_t d = cfg->latent_width, B = max_batch;
    describe(cfg, bl->mod, &bl->joint, &bl->n_params_experts, &bl->n_params_joint, &bl->n_params_dec);
    bl->n_params = bl->n_params_experts + bl->n_params_joint + bl->n_params_dec;
    for (int j = 0; j < M; j++) bl->concat_width += cfg->mod[j].input_width;
    size_t Dc = bl->concat_width, S = (size_t)n_terms_max(cfg);

    /* activation sizes */
    size_t scratch = 0, s;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        if (md->enc.n_layers) {
            bl->n_acts += ima_mlp_acts_size(&md->enc, B) + B * 2 * d /* dstat */;
            if ((s = ima_mlp_scratch_size(&md->enc, B)) > scratch) scratch = s;
        }
        bl->n_acts += ima_mlp_acts_size(&md->dec, B) + B * md->dec.width[3] /* dout */;
        if ((s = ima_mlp_scratch_size(&md->dec, B)) > scratch) scratch = s;
    }
    if (bl->joint.n_layers) {
        bl->n_acts += ima_mlp_acts_size(&bl->joint, B);
        if ((s = ima_mlp_scratch_size(&bl->joint, B)) > scratch) scratch = s;
    }
    bl->n_acts += B * Dc /* xcat */ + 2 * (B * 2 * d) /* stat, dstat */ + 4 * B * d /* T, z, dz, dz_dec */ +
                  2 * B /* row_w, rec_rows */ + scratch + S * B * d /* eps */ +
                  (cfg->kind == IMA_BASELINE_DAE ? B * Dc : 0) /* keep */;

    /* sizes follow the caller's max_batch and widths: running out of memory is an error, not an abort */
    if (!(bl->params = ima_try_calloc(bl->n_params, sizeof(float))) ||
        !(bl->grads = ima_try_calloc(bl->n_params, sizeof(float))) ||
        !(bl->adam_m = ima_try_calloc(bl->n_params, sizeof(float))) ||
        !(bl->adam_v = ima_try_calloc(bl->n_params, sizeof(float))) ||
        !(bl->acts = ima_try_calloc(bl->n_acts, sizeof(float)))) {
        ima_baseline_free(bl);
        return ima_error_prefix("ima_baseline_init");
    }

    /* parameters: [experts | joint | decoders] */
    size_t po = 0;
    for (int j = 0; j < M; j++)
        if (bl->mod[j].enc.n_layers) {
            ima_mlp_bind(&bl->mod[j].enc, bl->params + po, bl->grads + po);
            po += mlp_count(&bl->mod[j].enc);
        }
    if (bl->joint.n_layers) {
        ima_mlp_bind(&bl->joint, bl->params + po, bl->grads + po);
        po += mlp_count(&bl->joint);
    }
    for (int j = 0; j < M; j++) {
        ima_mlp_bind(&bl->mod[j].dec, bl->params + po, bl->grads + po);
        po += mlp_count(&bl->mod[j].dec);
    }
    IMA_ASSERT(po == bl->n_params);

    /* activations */
    float *a = bl->acts;
    for (int j = 0; j < M; j++) {
        ima_baseline_modality_state *md = &bl->mod[j];
        if (md->enc.n_layers) {
            ima_mlp_acts_bind(&md->enc_acts, &md->enc, a, B);
            a += ima_mlp_acts_size(&md->enc, B);
            md->dstat = a, a += B * 2 * d;
        }
        ima_mlp_acts_bind(&md->dec_acts, &md->dec, a, B);
        a += ima_mlp_acts_size(&md->dec, B);
        md->dout = a, a += B * md->dec.width[3];
    }
    if (bl->joint.n_layers) {
        ima_mlp_acts_bind(&bl->joint_acts, &bl->joint, a, B);
        a += ima_mlp_acts_size(&bl->joint, B);
    }
    bl->xcat = a, a += B * Dc;
    bl->stat = a, a += B * 2 * d;
    bl->dstat = a, a += B * 2 * d;
    bl->T = a, a += B * d;
    bl->z = a, a += B * d;
    bl->dz = a, a += B * d;
    bl->dz_dec = a, a += B * d;
    bl->row_w = a, a += B;
    bl->rec_rows = a, a += B;
    bl->scratch = a, a += scratch;
    bl->eps = a, a += S * B * d;
    if (cfg->kind == IMA_BASELINE_DAE) bl->keep = a, a += B * Dc;
    IMA_ASSERT((size_t)(a - bl->acts) == bl->n_acts);

    /* initialise in buffer order from one seeded stream */
    ima_rng rng;
    ima_rng_init(&rng, seed);
    for (int j = 0; j < M; j++)
        if (bl->mod[j].enc.n_layers) ima_mlp_init(&bl->mod[j].enc, &rng);
    if (bl->joint.n_layers) ima_mlp_init(&bl->joint, &rng);
    for (int j = 0; j < M; j++) ima_mlp_init(&bl->mod[j].dec, &rng);
    *out = bl;
    return IMA_OK;
}

void ima_baseline_free(ima_baseline *bl) {
    if (!bl) return;
    free(bl->params);
    free(bl->grads);
    free(bl->adam_m);
    free(bl->adam_v);
    free(bl->acts);
    free(bl->grads2);
    ima_pool_free(bl->pool);
    free(bl);
}

size_t ima_baseline_param_views(const ima_baseline *bl, ima_param_view *views, size_t cap) {
    size_t n = 0;
    char prefix[64];
    int M = bl->cfg.n_modalities;
    for (int j = 0; j < M; j++) {
        snprintf(prefix, sizeof prefix, "%s.expert", bl->cfg.mod[j].name);
        n = ima_mlp_param_views(&bl->mod[j].enc, prefix, views, n, cap);
    }
    n = ima_mlp_param_views(&bl->joint, "joint", views, n, cap);
    for (int j = 0; j < M; j++) {
        snprintf(prefix, sizeof prefix, "%s.decoder", bl->cfg.mod[j].name);
        n = ima_mlp_param_views(&bl->mod[j].dec, prefix, views, n, cap);
    }
    return n;
}

/* ---- dispatch: the kind table --------------------------------------------------------------- */

static const bl_kind *kind_of(const ima_baseline *bl) { return KINDS[bl->cfg.kind]; }

/* a batch of 1..max_batch rows, every input given and every row with a modality present */
static int check_batch(const ima_baseline *bl, const ima_batch *b, const char *fn) {
    if (!bl || !b) return ima_error("%s: %s is NULL", fn, !bl ? "the baseline" : "the batch");
    if (b->B < 1 || b->B > bl->max_batch)
        return ima_error("%s: a batch of %zu rows: expected 1 to %zu (the baseline's max_batch)", fn, b->B,
                         bl->max_batch);
    const char *names[IMA_MAX_MODALITIES];
    for (int j = 0; j < bl->cfg.n_modalities; j++) names[j] = bl->cfg.mod[j].name;
    return ima_batch_check_inputs(b, bl->cfg.n_modalities, names, fn);
}

int ima_baseline_sample_noise(ima_baseline *bl, size_t B, ima_rng *rng) {
    if (B < 1 || B > bl->max_batch)
        return ima_error("%s: %zu rows: expected 1 to %zu (the baseline's max_batch)", __func__, B, bl->max_batch);
    bl->noise_B = B;
    kind_of(bl)->sample_noise(bl, B, rng);
    return IMA_OK;
}

int ima_baseline_loss_grad(ima_baseline *bl, const ima_batch *b, int grad, ima_baseline_terms *terms) {
    if (check_batch(bl, b, __func__)) return IMA_ERR;
    if (b->B != bl->noise_B)
        return ima_error("%s: a batch of %zu rows after noise drawn for %zu (ima_baseline_sample_noise)", __func__, b->B,
                         bl->noise_B);
    memset(terms, 0, sizeof *terms);
    if (grad) memset(bl->grads, 0, bl->n_params * sizeof(float));
    kind_of(bl)->loss_grad(bl, b, grad, terms);
    return IMA_OK;
}

void ima_baseline_step(ima_baseline *bl, const ima_adam_config *cfg) {
    bl->step++;
    ima_pool_adam(bl_elementwise_pool(bl), bl->params, bl->grads, bl->adam_m, bl->adam_v, bl->n_params, cfg, bl->step);
}

int ima_baseline_represent(ima_baseline *bl, const ima_batch *b, float *z) {
    if (check_batch(bl, b, __func__)) return IMA_ERR;
    kind_of(bl)->represent(bl, b, z);
    return IMA_OK;
}
