/* emotion_corpus.c: the emotion corpus shared by both sources: accumulation, vocabulary, GloVe
 * lookup, out-of-vocabulary dropping, standardization on the training split, the folder on disk,
 * and the N^2 word/acoustic pairs of every utterance (SPEC section 9; layout in emotion.h).
 *
 * Dimensions: U utterances, T tokens, V vocabulary words, Dw = 100, Da = IMA_EMO_ACOUSTIC_DIM,
 * P pairs. */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/emotion_internal.h"
#include "ima/common.h"
#include "ima/emotion.h"
#include "ima/npy.h"
#include "ima/rng.h"
#include "io/atomic.h"

ima_emo_build_config ima_emo_build_defaults(void) {
    ima_emo_build_config c = {0};
    c.glove_path = NULL;
    c.min_count = 5;
    c.limit_per_split = 0;
    c.seed = 1;
    c.verbose = 1;
    return c;
}

void ima_emo_corpus_free(ima_emo_corpus *c) {
    if (!c) return;
    for (size_t u = 0; u < c->n_utts; u++) {
        free(c->utt_id[u]);
        free(c->speaker[u]);
        free(c->text[u]);
    }
    for (size_t t = 0; t < c->n_tokens; t++) free(c->word[t]);
    for (size_t v = 0; v < c->vocab_size; v++) free(c->vocab[v]);
    free(c->utt_id);
    free(c->speaker);
    free(c->text);
    free(c->label);
    free(c->split);
    free(c->tok_start);
    free(c->word);
    free(c->t0);
    free(c->t1);
    free(c->wvec);
    free(c->avec);
    free(c->vocab);
    memset(c, 0, sizeof *c);
}

/* ---- accumulation ------------------------------------------------------------------------------- */

int emo_builder_init(emo_builder *b, ima_emo_corpus *c, const char *source) {
    memset(c, 0, sizeof *c);
    memset(b, 0, sizeof *b);
    b->c = c;
    c->acoustic_dim = IMA_EMO_ACOUSTIC_DIM;
    snprintf(c->source, sizeof c->source, "%s", source);
    c->tok_start = ima_try_calloc(1, sizeof(size_t));
    return c->tok_start ? IMA_OK : ima_error_prefix("%s", __func__);
}

/* *p grown to n x size bytes; on failure *p is kept (and freed by its owner) and IMA_ERR returned */
static int grow(void *p, size_t n, size_t size) {
    void **pp = p;
    void *q = ima_try_realloc(*pp, n, size);
    if (!q) return IMA_ERR;
    *pp = q;
    return IMA_OK;
}

int emo_builder_add(emo_builder *b, const char *id, const char *speaker, const char *text, int64_t label, int split,
                    size_t N, char (*words)[64], const float *t0, const float *t1, const float *avec) {
    ima_emo_corpus *c = b->c;
    if (c->n_utts == b->cap_utts) {
        size_t cap = b->cap_utts ? b->cap_utts * 2 : 1024;
        if (grow(&c->utt_id, cap, sizeof(char *)) || grow(&c->speaker, cap, sizeof(char *)) ||
            grow(&c->text, cap, sizeof(char *)) || grow(&c->label, cap, sizeof(int64_t)) || grow(&c->split, cap, 1) ||
            grow(&c->tok_start, cap + 1, sizeof(size_t)))
            return ima_error_prefix("%s: %zu utterances", __func__, cap);
        b->cap_utts = cap;
    }
    if (N > SIZE_MAX / 2 / IMA_EMO_ACOUSTIC_DIM / sizeof(float) - c->n_tokens)
        return ima_error("%s: %zu tokens overflow the corpus size", __func__, N);
    if (c->n_tokens + N > b->cap_tokens) {
        size_t cap = b->cap_tokens;
        while (c->n_tokens + N > cap) cap = cap ? cap * 2 : 8192;
        if (grow(&c->word, cap, sizeof(char *)) || grow(&c->t0, cap, sizeof(float)) ||
            grow(&c->t1, cap, sizeof(float)) || grow(&c->avec, cap, IMA_EMO_ACOUSTIC_DIM * sizeof(float)))
            return ima_error_prefix("%s: %zu tokens", __func__, cap);
        b->cap_tokens = cap;
    }
    size_t u = c->n_utts;
    c->utt_id[u] = ima_try_strdup(id);
    c->speaker[u] = ima_try_strdup(speaker);
    c->text[u] = ima_try_strdup(text);
    size_t l = 0;
    for (; l < N && c->utt_id[u] && c->speaker[u] && c->text[u]; l++) {
        char form[64];
        ima_emo_lookup_form(form, sizeof form, words[l]);
        size_t t = c->n_tokens + l;
        if (!(c->word[t] = ima_try_strdup(form))) break;
        c->t0[t] = t0[l];
        c->t1[t] = t1[l];
    }
    if (l < N || !c->utt_id[u] || !c->speaker[u] || !c->text[u]) { /* nothing of this utterance is kept */
        while (l > 0) free(c->word[c->n_tokens + --l]);
        free(c->utt_id[u]), free(c->speaker[u]), free(c->text[u]);
        return ima_error_prefix("%s: utterance %s", __func__, id);
    }
    c->n_utts++;
    c->label[u] = label;
    c->split[u] = (uint8_t)split;
    memcpy(c->avec + c->n_tokens * IMA_EMO_ACOUSTIC_DIM, avec, N * IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    c->n_tokens += N;
    c->tokens_read += N;
    c->tok_start[u + 1] = c->n_tokens;
    return IMA_OK;
}

/* ---- vocabulary, OOV, GloVe, standardization ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* mean and sd (population) per column over the rows whose utterance is in the training split;
 * then every row standardized; sd 0 is taken as 1 */
static int standardize(float *x, size_t D, const ima_emo_corpus *c, double *mean_out, double *sd_out) {
    double *mean = ima_try_calloc(D, sizeof(double)), *var = ima_try_calloc(D, sizeof(double));
    if (!mean || !var) {
        free(mean), free(var);
        return ima_error_prefix("%s", __func__);
    }
    size_t n = 0;
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != IMA_EMO_TRAIN) continue;
        for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++, n++)
            for (size_t d = 0; d < D; d++) mean[d] += x[t * D + d];
    }
    for (size_t d = 0; d < D; d++) mean[d] /= n ? (double)n : 1.0;
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != IMA_EMO_TRAIN) continue;
        for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++)
            for (size_t d = 0; d < D; d++) {
                double e = x[t * D + d] - mean[d];
                var[d] += e * e;
            }
    }
    for (size_t d = 0; d < D; d++) {
        double sd = n ? sqrt(var[d] / (double)n) : 0.0;
        var[d] = sd > 1e-8 ? sd : 1.0;
        if (mean_out) mean_out[d] = mean[d];
        if (sd_out) sd_out[d] = var[d];
    }
    for (size_t t = 0; t < c->n_tokens; t++)
        for (size_t d = 0; d < D; d++) x[t * D + d] = (float)((x[t * D + d] - mean[d]) / var[d]);
    free(mean);
    free(var);
    return IMA_OK;
}

int emo_finish(emo_builder *b, const ima_emo_build_config *cfg) {
    ima_emo_corpus *c = b->c;
    if (!cfg->glove_path)
        return ima_error("%s: no GloVe file given (e.g. ../shared/data/glove/glove.6B.100d.subset.txt.gz)", __func__);
    size_t n_train_utts = 0;
    for (size_t u = 0; u < c->n_utts; u++) n_train_utts += c->split[u] == IMA_EMO_TRAIN;
    if (n_train_utts == 0) return ima_error("%s: the training split has no utterance", __func__);
    /* 1. candidate vocabulary: words seen >= min_count times in the training transcripts */
    size_t nt = 0;
    for (size_t u = 0; u < c->n_utts; u++)
        if (c->split[u] == IMA_EMO_TRAIN) nt += c->tok_start[u + 1] - c->tok_start[u];
    char **tw = ima_try_malloc(nt ? nt : 1, sizeof(char *));
    char **cand = ima_try_malloc(nt ? nt : 1, sizeof(char *));
    if (!tw || !cand) {
        free(tw), free(cand);
        return ima_error_prefix("%s: %zu training tokens", __func__, nt);
    }
    nt = 0;
    for (size_t u = 0; u < c->n_utts; u++)
        if (c->split[u] == IMA_EMO_TRAIN)
            for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++) tw[nt++] = c->word[t];
    qsort(tw, nt, sizeof(char *), cmp_str);
    size_t nc = 0;
    for (size_t i = 0; i < nt;) {
        size_t j = i;
        while (j < nt && !strcmp(tw[i], tw[j])) j++;
        if ((long)(j - i) >= cfg->min_count) cand[nc++] = tw[i];
        i = j;
    }
    /* 2. GloVe vectors; candidates without one leave the vocabulary */
    float *gv = ima_try_malloc(nc ? nc : 1, IMA_EMO_WORD_DIM * sizeof(float)); // (nc, Dw)
    uint8_t *found = ima_try_malloc(nc ? nc : 1, 1);
    if (!gv || !found) ima_error_prefix("%s: %zu candidate words", __func__, nc);
    if (!gv || !found || emo_glove_lookup(gv, found, cand, nc, cfg->glove_path)) {
        free(tw);
        free(cand);
        free(gv);
        free(found);
        return IMA_ERR;
    }
    size_t V = 0;
    for (size_t i = 0; i < nc; i++) V += found[i];
    if (V == 0) {
        free(tw);
        free(cand);
        free(gv);
        free(found);
        return ima_error("%s: empty vocabulary (no training word is seen %d times and has a GloVe vector)", __func__,
                         cfg->min_count);
    }
    c->vocab = ima_try_calloc(V, sizeof(char *));
    float *vv = ima_try_malloc(V, IMA_EMO_WORD_DIM * sizeof(float)); // (V, Dw)
    char **noglove = ima_try_calloc(nc, sizeof(char *));
    c->wvec = ima_try_malloc(c->n_tokens ? c->n_tokens : 1, IMA_EMO_WORD_DIM * sizeof(float)); // (T, Dw)
    size_t nng = 0;
    int st = c->vocab && vv && noglove && c->wvec ? IMA_OK : IMA_ERR;
    V = 0;
    for (size_t i = 0; i < nc && !st; i++) {
        if (!found[i]) {
            if (!(noglove[nng++] = ima_try_strdup(cand[i]))) st = IMA_ERR;
            continue;
        }
        if (!(c->vocab[V] = ima_try_strdup(cand[i]))) st = IMA_ERR;
        memcpy(vv + V * IMA_EMO_WORD_DIM, gv + i * IMA_EMO_WORD_DIM, IMA_EMO_WORD_DIM * sizeof(float));
        V++;
    }
    c->vocab_size = c->n_vocab_words = V; /* the corpus owns what was copied, even on failure */
    free(gv);
    free(found);
    if (st) {
        free(vv);
        for (size_t i = 0; i < nng; i++) free(noglove[i]);
        free(noglove);
        free(tw);
        free(cand);
        return ima_error_prefix("%s: a vocabulary of %zu words", __func__, nc);
    }

    /* 3. keep in-vocabulary tokens (both modalities), drop utterances left empty */
    size_t T = 0, U = 0;
    for (size_t u = 0; u < c->n_utts; u++) {
        size_t first = T;
        for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++) {
            const char *key = c->word[t];
            char **hit = bsearch(&key, c->vocab, V, sizeof(char *), cmp_str);
            if (!hit) {
                if (bsearch(&key, noglove, nng, sizeof(char *), cmp_str)) c->tokens_noglove++;
                else c->tokens_oov++;
                free(c->word[t]);
                continue;
            }
            c->word[T] = c->word[t];
            c->t0[T] = c->t0[t];
            c->t1[T] = c->t1[t];
            memmove(c->avec + T * IMA_EMO_ACOUSTIC_DIM, c->avec + t * IMA_EMO_ACOUSTIC_DIM,
                    IMA_EMO_ACOUSTIC_DIM * sizeof(float));
            memcpy(c->wvec + T * IMA_EMO_WORD_DIM, vv + (size_t)(hit - c->vocab) * IMA_EMO_WORD_DIM,
                   IMA_EMO_WORD_DIM * sizeof(float));
            T++;
        }
        if (T == first) {
            c->utts_empty++;
            free(c->utt_id[u]);
            free(c->speaker[u]);
            free(c->text[u]);
            continue;
        }
        c->utt_id[U] = c->utt_id[u];
        c->speaker[U] = c->speaker[u];
        c->text[U] = c->text[u];
        c->label[U] = c->label[u];
        c->split[U] = c->split[u];
        c->tok_start[U] = first;
        U++;
    }
    c->tok_start[U] = T;
    c->n_utts = U;
    c->n_tokens = T;
    free(vv);
    for (size_t i = 0; i < nng; i++) free(noglove[i]);
    free(noglove);
    free(tw); /* the strings belonged to c->word (kept or freed above) */
    free(cand);
    /* 4. standardize both modalities on the training split */
    if (standardize(c->wvec, IMA_EMO_WORD_DIM, c, NULL, NULL) ||
        standardize(c->avec, IMA_EMO_ACOUSTIC_DIM, c, c->acoustic_mean, c->acoustic_sd))
        return IMA_ERR;
    if (cfg->verbose)
        fprintf(stderr,
                "emotion corpus: %zu utterances, %zu tokens, vocabulary %zu; dropped %zu out-of-vocabulary and %zu "
                "without a GloVe vector of %zu tokens, %zu empty utterances\n",
                c->n_utts, c->n_tokens, c->vocab_size, c->tokens_oov, c->tokens_noglove, c->tokens_read, c->utts_empty);
    return IMA_OK;
}

/* ---- pairs ------------------------------------------------------------------------------------- */

int ima_emo_pairs(int64_t **pairs, size_t *P, const ima_emo_corpus *c, int split, size_t max_per_utt, uint64_t seed) {
    *pairs = NULL;
    *P = 0;
    size_t total = 0;
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != split) continue;
        size_t N = c->tok_start[u + 1] - c->tok_start[u], nn;
        if (ima_mul_overflows(N, N, &nn) || (nn > SIZE_MAX / 2 && max_per_utt == 0))
            return ima_error("%s: utterance %zu: %zu tokens give too many pairs", __func__, u, N);
        if (max_per_utt && nn > max_per_utt) nn = max_per_utt;
        if (nn > SIZE_MAX / 2 - total) return ima_error("%s: the pairs overflow the address space", __func__);
        total += nn;
    }
    int64_t *p = ima_try_malloc(total ? total : 1, 3 * sizeof(int64_t)); // (P, 3)
    if (!p) return ima_error_prefix("%s: %zu pairs", __func__, total);
    ima_rng rng;
    ima_rng_init(&rng, seed);
    size_t k = 0, *idx = NULL, cap = 0;
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != split) continue;
        size_t a = c->tok_start[u], N = c->tok_start[u + 1] - a, nn = N * N;
        if (max_per_utt && nn > max_per_utt) {
            if (nn > cap) {
                size_t *grown = ima_try_realloc(idx, nn, sizeof(size_t));
                if (!grown) {
                    free(idx);
                    free(p);
                    return ima_error_prefix("%s: pairs of utterance %zu", __func__, u);
                }
                idx = grown;
                cap = nn;
            }
            for (size_t i = 0; i < nn; i++) idx[i] = i;
            for (size_t i = 0; i < max_per_utt; i++) { /* partial Fisher-Yates */
                size_t j = i + (size_t)ima_rng_below(&rng, nn - i), tmp = idx[i];
                idx[i] = idx[j];
                idx[j] = tmp;
            }
            for (size_t i = 0; i < max_per_utt; i++, k++) {
                p[3 * k] = (int64_t)(a + idx[i] / N);
                p[3 * k + 1] = (int64_t)(a + idx[i] % N);
                p[3 * k + 2] = (int64_t)u;
            }
            continue;
        }
        for (size_t l = 0; l < N; l++)
            for (size_t m = 0; m < N; m++, k++) {
                p[3 * k] = (int64_t)(a + l);
                p[3 * k + 1] = (int64_t)(a + m);
                p[3 * k + 2] = (int64_t)u;
            }
    }
    free(idx);
    *pairs = p;
    *P = k;
    return IMA_OK;
}

/* ---- the folder --------------------------------------------------------------------------------- */

static int write_text(const char *path, const char *s) {
    ima_atomic_file a;
    if (ima_atomic_open(&a, path)) return IMA_ERR;
    if (ima_atomic_write(&a, s, strlen(s))) {
        ima_atomic_abort(&a);
        return IMA_ERR;
    }
    return ima_atomic_commit(&a);
}

/* growing string; after a failed allocation it stays as it was, failed is set (and the error) */
typedef struct {
    char *s;
    size_t n, cap;
    int failed;
} sbuf;
static void sb_put(sbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->failed) return;
    if (b->n + l + 1 > b->cap) {
        size_t cap = (b->n + l + 1) * 2;
        char *grown = ima_try_realloc(b->s, cap, 1);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}
/* s with tabs and line breaks turned into spaces */
static void sb_put_clean(sbuf *b, const char *s) {
    char tmp[2] = {0, 0};
    for (; *s; s++) {
        tmp[0] = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;
        sb_put(b, tmp);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int write_split(const ima_emo_corpus *c, const char *dir, int s) {
    char path[4096];
    emo_path(path, sizeof path, "%s/%s", dir, ima_emo_split_names[s]);
    if (mkdir(path, 0777) != 0) return ima_error("%s: cannot create (%s)", path, strerror(errno));
    size_t U = 0, T = 0;
    for (size_t u = 0; u < c->n_utts; u++)
        if (c->split[u] == s) {
            U++;
            T += c->tok_start[u + 1] - c->tok_start[u];
        }
    float *w = ima_try_malloc(T ? T : 1, IMA_EMO_WORD_DIM * sizeof(float));     // (T, Dw)
    float *a = ima_try_malloc(T ? T : 1, IMA_EMO_ACOUSTIC_DIM * sizeof(float)); // (T, Da)
    int64_t *tu = ima_try_malloc(T ? T : 1, sizeof(int64_t)), *lab = ima_try_malloc(U ? U : 1, sizeof(int64_t));
    size_t *local = ima_try_malloc(c->n_tokens ? c->n_tokens : 1, sizeof(size_t)); /* global -> split token */
    size_t *ulocal = ima_try_malloc(c->n_utts ? c->n_utts : 1, sizeof(size_t));
    sbuf tok = {0}, utt = {0};
    if (!w || !a || !tu || !lab || !local || !ulocal) {
        free(w), free(a), free(tu), free(lab), free(local), free(ulocal);
        return ima_error_prefix("%s: %zu tokens", path, T);
    }
    sb_put(&tok, "word\tstart_s\tend_s\tutterance\n");
    sb_put(&utt, "id\tspeaker\tlabel\ttext\n");
    size_t t2 = 0, u2 = 0;
    char line[256];
    for (size_t u = 0; u < c->n_utts; u++) {
        if (c->split[u] != s) continue;
        ulocal[u] = u2;
        lab[u2] = c->label[u];
        sb_put_clean(&utt, c->utt_id[u]);
        sb_put(&utt, "\t");
        sb_put_clean(&utt, c->speaker[u]);
        sb_put(&utt, "\t");
        sb_put(&utt, ima_emo_class_names[c->label[u]]);
        sb_put(&utt, "\t");
        sb_put_clean(&utt, c->text[u]);
        sb_put(&utt, "\n");
        for (size_t t = c->tok_start[u]; t < c->tok_start[u + 1]; t++, t2++) {
            local[t] = t2;
            memcpy(w + t2 * IMA_EMO_WORD_DIM, c->wvec + t * IMA_EMO_WORD_DIM, IMA_EMO_WORD_DIM * sizeof(float));
            memcpy(a + t2 * IMA_EMO_ACOUSTIC_DIM, c->avec + t * IMA_EMO_ACOUSTIC_DIM,
                   IMA_EMO_ACOUSTIC_DIM * sizeof(float));
            tu[t2] = (int64_t)u2;
            snprintf(line, sizeof line, "%s\t%.3f\t%.3f\t", c->word[t], c->t0[t], c->t1[t]);
            sb_put(&tok, line);
            sb_put_clean(&tok, c->utt_id[u]);
            sb_put(&tok, "\n");
        }
        u2++;
    }
    int64_t *pairs = NULL;
    size_t P = 0;
    int st = tok.failed || utt.failed ? ima_error_prefix("%s: tokens.tsv and utterances.tsv", path)
                                      : ima_emo_pairs(&pairs, &P, c, s, 0, 0);
    if (!st)
        for (size_t k = 0; k < P; k++) {
            pairs[3 * k] = (int64_t)local[pairs[3 * k]];
            pairs[3 * k + 1] = (int64_t)local[pairs[3 * k + 1]];
            pairs[3 * k + 2] = (int64_t)ulocal[pairs[3 * k + 2]];
        }
    size_t shp[2];
#define WR(name, call)                                                                                                 \
    if (!st) {                                                                                                         \
        emo_path(path, sizeof path, "%s/%s/%s", dir, ima_emo_split_names[s], name);                                    \
        st = call;                                                                                                     \
    }
    WR("words.npy", ima_npy_write_f32(path, T, IMA_EMO_WORD_DIM, w));
    WR("acoustic.npy", ima_npy_write_f32(path, T, IMA_EMO_ACOUSTIC_DIM, a));
    shp[0] = T;
    WR("token_utt.npy", ima_npy_write(path, IMA_DTYPE_I64, 1, shp, tu));
    shp[0] = U;
    WR("labels.npy", ima_npy_write(path, IMA_DTYPE_I64, 1, shp, lab));
    shp[0] = P;
    shp[1] = 3;
    WR("pairs.npy", ima_npy_write(path, IMA_DTYPE_I64, 2, shp, pairs ? pairs : tu));
    WR("tokens.tsv", write_text(path, tok.s));
    WR("utterances.tsv", write_text(path, utt.s));
#undef WR
    free(w);
    free(a);
    free(tu);
    free(lab);
    free(local);
    free(ulocal);
    free(pairs);
    free(tok.s);
    free(utt.s);
    return st;
}

static cJSON *manifest(const ima_emo_corpus *c) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "ima-emotion-corpus");
    cJSON_AddNumberToObject(m, "version", 1);
    cJSON_AddStringToObject(m, "source", c->source);
    cJSON_AddNumberToObject(m, "word_dim", IMA_EMO_WORD_DIM);
    cJSON_AddNumberToObject(m, "acoustic_dim", IMA_EMO_ACOUSTIC_DIM);
    cJSON_AddNumberToObject(m, "utterances", (double)c->n_utts);
    cJSON_AddNumberToObject(m, "tokens", (double)c->n_tokens);
    cJSON_AddNumberToObject(m, "vocabulary", (double)c->vocab_size);
    cJSON_AddNumberToObject(m, "tokens_read", (double)c->tokens_read);
    cJSON_AddNumberToObject(m, "tokens_out_of_vocabulary", (double)c->tokens_oov);
    cJSON_AddNumberToObject(m, "tokens_without_glove", (double)c->tokens_noglove);
    cJSON_AddNumberToObject(m, "utterances_read", (double)c->utts_read);
    cJSON_AddNumberToObject(m, "utterances_empty", (double)c->utts_empty);
    cJSON_AddNumberToObject(m, "utterances_skipped", (double)c->utts_skipped);
    cJSON *cl = cJSON_AddArrayToObject(m, "classes");
    for (int k = 0; k < IMA_EMO_N_CLASSES; k++) cJSON_AddItemToArray(cl, cJSON_CreateString(ima_emo_class_names[k]));
    cJSON *fe = cJSON_AddArrayToObject(m, "acoustic_features");
    for (int k = 0; k < IMA_EMO_ACOUSTIC_DIM; k++)
        cJSON_AddItemToArray(fe, cJSON_CreateString(ima_emo_acoustic_feature_names[k]));
    cJSON *sp = cJSON_AddObjectToObject(m, "splits");
    for (int s = 0; s < 3; s++) {
        size_t U = 0, T = 0, P = 0, per[IMA_EMO_N_CLASSES] = {0};
        for (size_t u = 0; u < c->n_utts; u++)
            if (c->split[u] == s) {
                size_t N = c->tok_start[u + 1] - c->tok_start[u];
                U++;
                T += N;
                P += N * N;
                per[c->label[u]]++;
            }
        cJSON *o = cJSON_AddObjectToObject(sp, ima_emo_split_names[s]);
        cJSON_AddNumberToObject(o, "utterances", (double)U);
        cJSON_AddNumberToObject(o, "tokens", (double)T);
        cJSON_AddNumberToObject(o, "pairs", (double)P);
        for (int k = 0; k < IMA_EMO_N_CLASSES; k++) cJSON_AddNumberToObject(o, ima_emo_class_names[k], (double)per[k]);
    }
    return m;
}

int ima_emo_corpus_save(const ima_emo_corpus *c, const char *dir, int force) {
    struct stat sb;
    int exists = stat(dir, &sb) == 0;
    if (exists && !force) return ima_error("%s: already exists (use --force to replace it)", dir);
    size_t dl = strlen(dir);
    if (dl > 3900) return ima_error("%s: path too long", dir);
    char tmp[4096], old[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dir);
    if (!mkdtemp(tmp)) return ima_error("%s: cannot create a temporary folder beside it (%s)", dir, strerror(errno));
    mode_t mask = umask(0); /* mkdtemp makes 0700 folders; a corpus is shared data: what mkdir(0777) would make */
    umask(mask);
    (void)chmod(tmp, 0777 & ~mask);
    int st = IMA_OK;
    for (int s = 0; s < 3 && !st; s++) st = write_split(c, tmp, s);
    if (!st) {
        sbuf v = {0};
        for (size_t i = 0; i < c->vocab_size; i++) {
            sb_put(&v, c->vocab[i]);
            sb_put(&v, "\n");
        }
        emo_path(path, sizeof path, "%s/vocab.txt", tmp);
        st = v.failed ? ima_error_prefix("%s", path) : write_text(path, v.s ? v.s : "");
        free(v.s);
    }
    if (!st) {
        cJSON *m = manifest(c);
        char *js = m ? cJSON_Print(m) : NULL;
        cJSON_Delete(m);
        emo_path(path, sizeof path, "%s/manifest.json", tmp);
        st = js ? write_text(path, js) : ima_error("%s: out of memory writing the manifest", path);
        free(js);
    }
    if (st) {
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return st;
    }
    if (exists) {
        snprintf(old, sizeof old, "%s.old.XXXXXX", dir);
        if (!mkdtemp(old) || rename(dir, old) != 0) {
            nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            return ima_error("%s: cannot move the old folder aside (%s)", dir, strerror(errno));
        }
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (exists) rename(old, dir);
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return ima_error("%s: cannot rename the new folder into place (%s)", dir, strerror(e));
    }
    if (exists) nftw(old, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return IMA_OK;
}

/* ---- reading a corpus folder back ------------------------------------------------------------------ */

/* the fields of one TSV line (tabs), at most n; returns the count */
static size_t tsv_fields(char *line, char **f, size_t n) {
    size_t k = 0;
    char *p = line;
    while (k < n) {
        f[k++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    char *e = f[k - 1] + strlen(f[k - 1]);
    while (e > f[k - 1] && (e[-1] == '\n' || e[-1] == '\r')) *--e = '\0';
    return k;
}

static double manifest_num(const cJSON *m, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

int ima_emo_corpus_load(ima_emo_corpus *c, const char *dir) {
    memset(c, 0, sizeof *c);
    char path[4096];
    int st = IMA_OK;
    /* manifest: format, version, widths, bookkeeping counts */
    if (emo_path(path, sizeof path, "%s/manifest.json", dir)) return IMA_ERR;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ima_error("%s: cannot open (%s); is %s a folder written by `ima data emotion`?", path, strerror(errno),
                         dir);
    char *js = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&js, &cap, '\0', f);
    fclose(f);
    cJSON *m = len > 0 ? cJSON_Parse(js) : NULL;
    free(js);
    const cJSON *fmt = m ? cJSON_GetObjectItemCaseSensitive(m, "format") : NULL;
    if (!m || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "ima-emotion-corpus")) {
        cJSON_Delete(m);
        return ima_error("%s: not an emotion corpus manifest (expected \"format\": \"ima-emotion-corpus\")", path);
    }
    if (manifest_num(m, "version") != 1 || manifest_num(m, "word_dim") != IMA_EMO_WORD_DIM ||
        manifest_num(m, "acoustic_dim") != IMA_EMO_ACOUSTIC_DIM) {
        cJSON_Delete(m);
        return ima_error("%s: version %g, word_dim %g, acoustic_dim %g (this ima reads version 1, %d, %d)", path,
                         manifest_num(m, "version"), manifest_num(m, "word_dim"), manifest_num(m, "acoustic_dim"),
                         IMA_EMO_WORD_DIM, IMA_EMO_ACOUSTIC_DIM);
    }
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(m, "source");
    snprintf(c->source, sizeof c->source, "%s", cJSON_IsString(src) ? src->valuestring : "?");
    c->acoustic_dim = IMA_EMO_ACOUSTIC_DIM;
    /* bookkeeping counts: whole numbers in [0, 2^53], checked on the double before the cast */
    static const char *const counts[6] = {"tokens_read",     "tokens_out_of_vocabulary", "tokens_without_glove",
                                          "utterances_read", "utterances_empty",         "utterances_skipped"};
    size_t *dst[6] = {&c->tokens_read, &c->tokens_oov,   &c->tokens_noglove,
                      &c->utts_read,   &c->utts_empty, &c->utts_skipped};
    for (int k = 0; k < 6; k++) {
        double v = manifest_num(m, counts[k]);
        if (!(v >= 0.0 && v <= 9007199254740992.0) || v != floor(v)) {
            cJSON_Delete(m);
            return ima_error("%s: \"%s\" is %g (expected a whole number from 0 to 2^53)", path, counts[k], v);
        }
        *dst[k] = (size_t)v;
    }
    size_t tokens_read = c->tokens_read; /* emo_builder_add counts again below */
    cJSON_Delete(m);
    /* vocabulary */
    if (emo_path(path, sizeof path, "%s/vocab.txt", dir)) return IMA_ERR;
    f = fopen(path, "rb");
    if (!f) return ima_error("%s: cannot open (%s)", path, strerror(errno));
    char *line = NULL, *uline = NULL; /* token lines, utterance lines */
    size_t lcap = 0, ucap = 0, vcap = 0;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!len) continue;
        if (c->vocab_size == vcap) {
            size_t ncap = vcap ? vcap * 2 : 1024;
            if (grow(&c->vocab, ncap, sizeof(char *))) {
                st = ima_error_prefix("%s: %zu words", path, ncap);
                break;
            }
            vcap = ncap;
        }
        if (!(c->vocab[c->vocab_size] = ima_try_strdup(line))) {
            st = ima_error_prefix("%s", path);
            break;
        }
        c->vocab_size++;
    }
    fclose(f);
    c->n_vocab_words = c->vocab_size;
    for (size_t v = 1; v < c->vocab_size && !st; v++)
        if (strcmp(c->vocab[v - 1], c->vocab[v]) >= 0)
            st = ima_error("%s: line %zu: the vocabulary must be sorted and unique", path, v + 1);
    /* the three splits */
    emo_builder b;
    memset(&b, 0, sizeof b);
    b.c = c;
    if (!st && !(c->tok_start = ima_try_calloc(1, sizeof(size_t)))) st = ima_error_prefix("%s", dir);
    for (int s = 0; s < 3 && !st; s++) {
        const char *sn = ima_emo_split_names[s];
        float *w = NULL, *a = NULL;
        int64_t *tu = NULL, *lab = NULL;
        size_t T, Dw, T2, Da, T3, U;
        char p2[4096];
        if ((st = emo_path(p2, sizeof p2, "%s/%s/words.npy", dir, sn)) ||
            (st = ima_npy_read_f32_matrix(p2, &w, &T, &Dw)))
            break;
        if (!(st = emo_path(p2, sizeof p2, "%s/%s/acoustic.npy", dir, sn)))
            st = ima_npy_read_f32_matrix(p2, &a, &T2, &Da);
        if (!st && !(st = emo_path(p2, sizeof p2, "%s/%s/token_utt.npy", dir, sn)))
            st = ima_npy_read_labels(p2, &tu, &T3);
        if (!st && !(st = emo_path(p2, sizeof p2, "%s/%s/labels.npy", dir, sn))) st = ima_npy_read_labels(p2, &lab, &U);
        if (!st && (Dw != IMA_EMO_WORD_DIM || Da != IMA_EMO_ACOUSTIC_DIM || T2 != T || T3 != T))
            st = ima_error(
                "%s/%s: words (%zu x %zu), acoustic (%zu x %zu) and token_utt (%zu) disagree (expected T x %d, "
                "T x %d, T)",
                dir, sn, T, Dw, T2, Da, T3, IMA_EMO_WORD_DIM, IMA_EMO_ACOUSTIC_DIM);
        for (size_t t = 0; !st && t < T; t++)
            if (tu[t] < 0 || (size_t)tu[t] >= U || (t > 0 && tu[t] < tu[t - 1]))
                st = ima_error("%s/%s/token_utt.npy: row %zu: utterance %lld out of order or outside 0..%zu", dir, sn,
                               t, (long long)tu[t], U ? U - 1 : 0);
        for (size_t u = 0; !st && u < U; u++)
            if (lab[u] < 0 || lab[u] >= IMA_EMO_N_CLASSES)
                st = ima_error("%s/%s/labels.npy: row %zu: label %lld (expected 0..3)", dir, sn, u, (long long)lab[u]);
        /* utterances.tsv and tokens.tsv */
        FILE *fu = NULL, *ft = NULL;
        char up[4096], tp[4096];
        if (!st && !(st = emo_path(up, sizeof up, "%s/%s/utterances.tsv", dir, sn)) && !(fu = fopen(up, "rb")))
            st = ima_error("%s: cannot open (%s)", up, strerror(errno));
        if (!st && !(st = emo_path(tp, sizeof tp, "%s/%s/tokens.tsv", dir, sn)) && !(ft = fopen(tp, "rb")))
            st = ima_error("%s: cannot open (%s)", tp, strerror(errno));
        size_t ti = 0, lineno = 1;
        if (!st && (getline(&line, &lcap, fu) <= 0 || getline(&line, &lcap, ft) <= 0))
            st = ima_error("%s/%s: empty utterances.tsv or tokens.tsv (expected a header line)", dir, sn);
        for (size_t u = 0; !st && u < U; u++) {
            lineno++;
            char *fl[4];
            if (getline(&uline, &ucap, fu) <= 0 || tsv_fields(uline, fl, 4) != 4) {
                st = ima_error("%s:%zu: expected 'id<TAB>speaker<TAB>label<TAB>text' for utterance %zu", up, lineno, u);
                break;
            }
            char **words = NULL;
            float *t0 = NULL, *t1 = NULL;
            size_t N = 0;
            while (ti + N < T && (size_t)tu[ti + N] == u) N++;
            words = ima_try_calloc(N ? N : 1, sizeof(char *));
            t0 = ima_try_malloc(N ? N : 1, sizeof(float));
            t1 = ima_try_malloc(N ? N : 1, sizeof(float));
            if (!words || !t0 || !t1) st = ima_error_prefix("%s:%zu: %zu tokens", up, lineno, N);
            for (size_t l = 0; l < N && !st; l++) {
                char *fk[4], *e0, *e1;
                if (getline(&line, &lcap, ft) <= 0 || tsv_fields(line, fk, 4) != 4) {
                    st = ima_error("%s: token %zu: expected 'word<TAB>start<TAB>end<TAB>utterance'", tp, ti + l);
                    break;
                }
                t0[l] = strtof(fk[1], &e0);
                t1[l] = strtof(fk[2], &e1);
                if (*e0 || *e1 || e0 == fk[1] || e1 == fk[2])
                    st = ima_error("%s: token %zu: bad start/end '%s' '%s'", tp, ti + l, fk[1], fk[2]);
                if (!st && !(words[l] = ima_try_strdup(fk[0]))) st = ima_error_prefix("%s: token %zu", tp, ti + l);
            }
            if (!st) {
                /* emo_builder_add copies fixed-width words and lookup forms; add the vectors by hand */
                char(*wb)[64] = ima_try_calloc(N ? N : 1, 64);
                if (!wb) st = ima_error_prefix("%s:%zu: %zu tokens", up, lineno, N);
                for (size_t l = 0; l < N && !st; l++) snprintf(wb[l], 64, "%s", words[l]);
                if (!st)
                    st = emo_builder_add(&b, fl[0], fl[1], fl[3], lab[u], s, N, wb, t0, t1,
                                         a + ti * IMA_EMO_ACOUSTIC_DIM);
                free(wb);
                if (!st && grow(&c->wvec, b.cap_tokens, IMA_EMO_WORD_DIM * sizeof(float)))
                    st = ima_error_prefix("%s: %zu tokens", dir, b.cap_tokens);
                if (!st)
                    memcpy(c->wvec + (c->n_tokens - N) * IMA_EMO_WORD_DIM, w + ti * IMA_EMO_WORD_DIM,
                           N * IMA_EMO_WORD_DIM * sizeof(float));
            }
            for (size_t l = 0; l < N && words; l++) free(words[l]);
            free(words);
            free(t0);
            free(t1);
            ti += N;
        }
        if (fu) fclose(fu);
        if (ft) fclose(ft);
        free(w);
        free(a);
        free(tu);
        free(lab);
    }
    free(line);
    free(uline);
    c->tokens_read = tokens_read;
    if (st) ima_emo_corpus_free(c);
    return st;
}
