/* model.c: configuration, memory layout and initialisation of the IMA model.
 * M modalities j, D_j input, H_j hidden, d latent, B = max_batch rows of activation storage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima/common.h"
#include "ima/model.h"

static ima_modality_config modality(const char *name, size_t D, size_t H, ima_loss_kind loss, float rho) {
    ima_modality_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.input_width = D;
    c.hidden_width = H;
    c.loss = loss;
    c.lambda_rec = c.lambda_align = c.lambda_local = c.lambda_corr = 1.0f;
    c.rho = rho;
    return c;
}

ima_config ima_config_defaults(void) {
    ima_config c;
    memset(&c, 0, sizeof c);
    c.latent_width = 50;
    c.lambda_glob = 1.0f;
    c.center_inputs = 1;
    for (int j = 0; j < IMA_MAX_MODALITIES; j++) c.mod[j] = modality("", 0, 100, IMA_LOSS_BCE, 0.5f);
    return c;
}

ima_config ima_config_digits(size_t latent) {
    ima_config c;
    memset(&c, 0, sizeof c);
    c.n_modalities = 2;
    c.latent_width = latent;
    c.lambda_glob = 1.0f;
    c.center_inputs = 1;
    c.mod[0] = modality("image", 784, 500, IMA_LOSS_BCE, 0.8f);
    c.mod[1] = modality("speech", 696, 100, IMA_LOSS_BCE, 0.3f);
    return c;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

int ima_config_validate(const ima_config *cfg) {
    if (cfg->n_modalities < 1 || cfg->n_modalities > IMA_MAX_MODALITIES)
        return ima_error("config: n_modalities: expected 1..%d, got %d", IMA_MAX_MODALITIES, cfg->n_modalities);
    if (cfg->latent_width < 1 || cfg->latent_width > 65536)
        return ima_error("config: latent_width: expected 1..65536, got %zu", cfg->latent_width);
    if (!(cfg->lambda_glob >= 0)) return ima_error("config: lambda_glob: expected >= 0");
    if (!ima_importance_objective_name(cfg->importance_objective))
        return ima_error("config: importance_objective: expected paper or local-ev, got %d",
                         (int)cfg->importance_objective);
    if (cfg->importance_objective == IMA_IMPORTANCE_LOCAL_EV && cfg->local_ev_k == 1)
        return ima_error("config: local_ev_k: expected 0 (default %d) or at least 2, got 1", IMA_LOCAL_EV_DEFAULT_K);
    if (!ima_fusion_sharpness_valid(cfg->fusion_sharpness))
        return ima_error("config: fusion_sharpness: expected 0 or 1 (the paper's fusion) or a value in (1, %g], got %g",
                         (double)IMA_MAX_FUSION_SHARPNESS, (double)cfg->fusion_sharpness);
    for (int j = 0; j < cfg->n_modalities; j++) {
        const ima_modality_config *c = &cfg->mod[j];
        if (!valid_name(c->name))
            return ima_error("config: modality %d: name '%s': expected letters, digits, '_' or '-'", j, c->name);
        for (int k = 0; k < j; k++)
            if (!strcmp(cfg->mod[k].name, c->name))
                return ima_error("config: modality %d: name '%s' is used twice", j, c->name);
        if (c->input_width < 1 || c->input_width > (1u << 24))
            return ima_error("config: %s: input_width: expected 1..2^24, got %zu", c->name, c->input_width);
        if (c->hidden_width < 1 || c->hidden_width > 65536)
            return ima_error("config: %s: hidden_width: expected 1..65536, got %zu", c->name, c->hidden_width);
        if (c->loss != IMA_LOSS_BCE && c->loss != IMA_LOSS_SSE)
            return ima_error("config: %s: loss: expected bce or sse", c->name);
        if (!(c->lambda_rec >= 0) || !(c->lambda_align >= 0) || !(c->lambda_local >= 0) || !(c->lambda_corr >= 0))
            return ima_error("config: %s: every lambda must be a number >= 0", c->name);
        if (!(c->rho > 0 && c->rho < 1))
            return ima_error("config: %s: rho: expected a value in (0, 1), got %g", c->name, (double)c->rho);
    }
    return IMA_OK;
}

static void shape3(size_t *w, size_t a, size_t b, size_t c, size_t e) {
    w[0] = a;
    w[1] = b;
    w[2] = c;
    w[3] = e;
}

static size_t mlp_count(const ima_mlp *mlp) {
    size_t n = 0;
    for (int l = 0; l < mlp->n_layers; l++) n += mlp->width[l + 1] * mlp->width[l] + mlp->width[l + 1];
    return n;
}

int ima_model_init(ima_model **out, const ima_config *cfg, size_t max_batch, uint64_t seed) {
    *out = NULL;
    if (ima_config_validate(cfg)) return IMA_ERR;
    /* with every width validated and B <= 2^24, each size below is < 2^60: no product can wrap */
    if (max_batch < 1 || max_batch > IMA_MAX_BATCH)
        return ima_error("ima_model_init: max_batch: expected 1..%d, got %zu", IMA_MAX_BATCH, max_batch);
    ima_model *m = ima_try_calloc(1, sizeof *m);
    if (!m) return ima_error_prefix("ima_model_init");
    m->cfg = *cfg;
    m->max_batch = max_batch;
    int M = cfg->n_modalities;
    size_t d = cfg->latent_width, B = max_batch;

    /* sizes: parameters in the order [E_0 G_0 E_1 G_1 ... | I_0 I_1 ...] */
    size_t w[4], scratch = 0, widest = d;
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        size_t D = cfg->mod[j].input_width, H = cfg->mod[j].hidden_width;
        shape3(w, D, H, H, d);
        m->n_params_ae += ima_mlp_setup(&md->enc, 3, w);
        shape3(w, d, H, H, D);
        m->n_params_ae += ima_mlp_setup(&md->dec, 3, w);
        shape3(w, D, H, H, 1);
        m->n_params_imp += ima_mlp_setup(&md->imp, 3, w);
        m->n_buffers += D;
        size_t s;
        if ((s = ima_mlp_scratch_size(&md->enc, B)) > scratch) scratch = s;
        if ((s = ima_mlp_scratch_size(&md->dec, B)) > scratch) scratch = s;
        if ((s = ima_mlp_scratch_size(&md->imp, B)) > scratch) scratch = s;
        if (D > widest) widest = D;
        m->n_acts += ima_mlp_acts_size(&md->enc, B) + ima_mlp_acts_size(&md->dec, B) + ima_mlp_acts_size(&md->imp, B);
        m->n_acts += B * D /* xc */ + 4 * B /* y, y_imp, y_comp, dlogits */ + B * d /* du */;
    }
    m->n_params = m->n_params_ae + m->n_params_imp;
    m->n_acts += 2 * B * d /* z, dz */ + B * widest /* tmp */ + scratch + 2 * B /* row_scale, row_loss */;

    /* the parameters first, then the activations (B rows), so that a message says which one did not fit */
    if (!(m->params = ima_try_calloc(m->n_params, sizeof(float))) ||
        !(m->grads = ima_try_calloc(m->n_params, sizeof(float))) ||
        !(m->adam_m = ima_try_calloc(m->n_params, sizeof(float))) ||
        !(m->adam_v = ima_try_calloc(m->n_params, sizeof(float))) ||
        !(m->buffers = ima_try_calloc(m->n_buffers, sizeof(float)))) {
        ima_error_prefix("ima_model_init: %zu parameters", m->n_params);
        ima_model_free(m);
        return IMA_ERR;
    }
    if (!(m->acts = ima_try_calloc(m->n_acts, sizeof(float))) ||
        !(m->work = ima_try_calloc(d * d + 3 * d + 3 * B, sizeof(double)))) { /* C, T, mu_z, mu_u, dy, dlogit, sel */
        ima_error_prefix("ima_model_init: activations for a batch of %zu rows", B);
        ima_model_free(m);
        return IMA_ERR;
    }

    /* bind views */
    size_t po = 0, io = m->n_params_ae, bo = 0;
    float *a = m->acts;
    for (int j = 0; j < M; j++) {
        ima_modality *md = &m->mod[j];
        size_t D = cfg->mod[j].input_width;
        ima_mlp_bind(&md->enc, m->params + po, m->grads + po);
        po += mlp_count(&md->enc);
        ima_mlp_bind(&md->dec, m->params + po, m->grads + po);
        po += mlp_count(&md->dec);
        ima_mlp_bind(&md->imp, m->params + io, m->grads + io);
        io += mlp_count(&md->imp);
        md->center = m->buffers + bo;
        bo += D;
        ima_mlp_acts_bind(&md->enc_acts, &md->enc, a, B);
        a += ima_mlp_acts_size(&md->enc, B);
        ima_mlp_acts_bind(&md->dec_acts, &md->dec, a, B);
        a += ima_mlp_acts_size(&md->dec, B);
        ima_mlp_acts_bind(&md->imp_acts, &md->imp, a, B);
        a += ima_mlp_acts_size(&md->imp, B);
        md->xc = a, a += B * D;
        md->y = a, a += B;
        md->y_imp = a, a += B;
        md->y_comp = a, a += B;
        md->du = a, a += B * d;
    }
    IMA_ASSERT(po == m->n_params_ae && io == m->n_params);
    m->z = a, a += B * d;
    m->dz = a, a += B * d;
    m->tmp = a, a += B * widest;
    m->scratch = a, a += scratch;
    m->row_scale = a, a += B;
    m->row_loss = a, a += B;
    m->dlogits = a, a += (size_t)M * B;
    IMA_ASSERT((size_t)(a - m->acts) == m->n_acts);

    /* initialise in buffer order from one seeded stream */
    ima_rng rng;
    ima_rng_init(&rng, seed);
    for (int j = 0; j < M; j++) {
        ima_mlp_init(&m->mod[j].enc, &rng);
        ima_mlp_init(&m->mod[j].dec, &rng);
    }
    for (int j = 0; j < M; j++) ima_mlp_init(&m->mod[j].imp, &rng);
    *out = m;
    return IMA_OK;
}

void ima_model_free(ima_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->buffers);
    free(m->acts);
    free(m->work);
    ima_pool_free(m->pool);
    free(m->grads2);
    free(m);
}

void ima_model_param_counts(const ima_model *m, size_t *encoders, size_t *decoders, size_t *importance) {
    size_t e = 0, g = 0, i = 0;
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        e += mlp_count(&m->mod[j].enc);
        g += mlp_count(&m->mod[j].dec);
        i += mlp_count(&m->mod[j].imp);
    }
    if (encoders) *encoders = e;
    if (decoders) *decoders = g;
    if (importance) *importance = i;
}

size_t ima_model_param_views(const ima_model *m, ima_param_view *views, size_t cap) {
    size_t n = 0;
    char prefix[64];
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        snprintf(prefix, sizeof prefix, "%s.encoder", m->cfg.mod[j].name);
        n = ima_mlp_param_views(&m->mod[j].enc, prefix, views, n, cap);
        snprintf(prefix, sizeof prefix, "%s.decoder", m->cfg.mod[j].name);
        n = ima_mlp_param_views(&m->mod[j].dec, prefix, views, n, cap);
    }
    for (int j = 0; j < m->cfg.n_modalities; j++) {
        snprintf(prefix, sizeof prefix, "%s.importance", m->cfg.mod[j].name);
        n = ima_mlp_param_views(&m->mod[j].imp, prefix, views, n, cap);
    }
    return n;
}
