/* test_emotion.c: the emotion corpus (SPEC section 9) end to end on a miniature IEMOCAP tree built in
 * exactly the release's layout (espeak-ng speech, .wdseg files from its word events, label and
 * transcription files in the release's line formats), Eq. 5 on a hand-checked example, the two-class
 * F1 and random labeller, retrieval on pooled representations, refusals of malformed label and
 * alignment files, the MELD reader on a tiny CSV set, and the local-ev targets and stage 2 on the
 * miniature corpus's pairs. Needs no shared data. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/emotion_internal.h"
#include "ima/audio.h"
#include "ima/emotion.h"
#include "ima/eval.h"
#include "ima/importance.h"
#include "ima/model.h"
#include "ima/npy.h"
#include "ima/utterance.h"
#include "testutil.h"

/* ---- fixtures ----------------------------------------------------------------------------------- */

typedef struct {
    const char *suffix; // turn name suffix
    const char *code;   // IEMOCAP emotion code
    const char *text;   // transcript
    int pitch;          // espeak pitch
} turn_spec;

static const turn_spec turns[5] = {
    {"F000", "neu", "Well, I think that is fine today.", 45},
    {"F001", "exc", "Wow, this is great! I love it today.", 75},
    {"M002", "ang", "No! This is terrible, I hate it.", 60},
    {"M003", "sad", "Oh, I miss her so much today.", 20},
    {"F004", "fru", "This is fine.", 50},
};

static void mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

static int write_text(const char *path, const char *s) { return tu_write_file(path, s, strlen(s)); }

static int write_wav(const char *path, const float *x, size_t n) {
    SF_INFO info = {0};
    info.samplerate = IMA_EMO_RATE;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_count_t w = sf_write_float(f, x, (sf_count_t)n);
    sf_close(f);
    return w == (sf_count_t)n ? 0 : -1;
}

#define LEAD 0.2 /* seconds of silence before the speech, so that <s> and <sil> cover real frames */

/* the miniature release: Session1..5, one dialog each, the five turns above */
static int make_tree(const char *root) {
    char path[4096], dialog[64], turn[96], buf[8192];
    for (int s = 1; s <= 5; s++) {
        snprintf(dialog, sizeof dialog, "Ses%02dF_impro01", s);
        char d_lab[4096], d_tr[4096], d_al[4096], d_wav[4096];
        snprintf(d_lab, sizeof d_lab, "%s/Session%d/dialog/EmoEvaluation", root, s);
        snprintf(d_tr, sizeof d_tr, "%s/Session%d/dialog/transcriptions", root, s);
        snprintf(d_al, sizeof d_al, "%s/Session%d/sentences/ForcedAlignment/%s", root, s, dialog);
        snprintf(d_wav, sizeof d_wav, "%s/Session%d/sentences/wav/%s", root, s, dialog);
        mkdir_p(d_lab);
        mkdir_p(d_tr);
        mkdir_p(d_al);
        mkdir_p(d_wav);
        mkdir_p(d_lab); /* the release also has Categorical/ etc. below EmoEvaluation: a folder to ignore */
        emo_path(path, sizeof path, "%s/Categorical", d_lab);
        mkdir_p(path);
        size_t lab_len = 0, tr_len = 0;
        char lab[8192], tr[8192];
        lab_len += (size_t)snprintf(lab + lab_len, sizeof lab - lab_len,
                                    "%% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n");
        double clock = 3.0;
        for (int k = 0; k < 5; k++) {
            snprintf(turn, sizeof turn, "%s_%s", dialog, turns[k].suffix);
            char words[64][64];
            size_t N = ima_emo_tokenize(turns[k].text, words, NULL, NULL, 64);
            float t0[64], t1[64], *wave;
            size_t n;
            if (emo_speak(&wave, &n, t0, t1, words, NULL, N, "en-us+m3", turns[k].pitch, 50, 170, 100)) return -1;
            size_t lead = (size_t)(LEAD * IMA_EMO_RATE), total = n + lead;
            float *full = calloc(total, sizeof(float));
            memcpy(full + lead, wave, n * sizeof(float));
            free(wave);
            emo_path(path, sizeof path, "%s/%s.wav", d_wav, turn);
            if (write_wav(path, full, total)) return -1;
            free(full);
            /* .wdseg: 10 ms frames, inclusive ends; markers around the words; one "(2)" variant */
            size_t bl = 0;
            long lead_fr = (long)lround(LEAD * 100);
            bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " SFrm  EFrm    SegAScr Word\n");
            bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%6d %5ld %10d <s>\n", 0, lead_fr / 2 - 1, -10000);
            bl +=
                (size_t)snprintf(buf + bl, sizeof buf - bl, "%6ld %5ld %10d <sil>\n", lead_fr / 2, lead_fr - 1, -20000);
            long last = lead_fr;
            for (size_t l = 0; l < N; l++) {
                long a = lead_fr + lround(t0[l] * 100), b = lead_fr + lround(t1[l] * 100) - 1;
                if (b < a) b = a;
                char up[64];
                size_t q = 0;
                for (const char *p = words[l]; *p; p++) up[q++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
                up[q] = '\0';
                bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%6ld %5ld %10d %s%s\n", a, b, -30000 - (int)l, up,
                                       l == 1 ? "(2)" : "");
                last = b + 1;
            }
            bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%6ld %5ld %10d </s>\n", last, last + 2, -5000);
            bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " Total SegAScr: -123456\n");
            emo_path(path, sizeof path, "%s/%s.wdseg", d_al, turn);
            if (write_text(path, buf)) return -1;
            double dur = (double)total / IMA_EMO_RATE;
            lab_len += (size_t)snprintf(lab + lab_len, sizeof lab - lab_len,
                                        "[%.4f - %.4f]\t%s\t%s\t[2.5000, 3.0000, 3.5000]\nC-E2:\tNeutral;\t()\n"
                                        "A-E3:\tval 3; act 2; dom  2;\t()\n\n",
                                        clock, clock + dur, turn, turns[k].code);
            tr_len += (size_t)snprintf(tr + tr_len, sizeof tr - tr_len, "%s [%08.4f-%08.4f]: %s\n", turn, clock,
                                       clock + dur, turns[k].text);
            clock += dur + 1.0;
        }
        tr_len += (size_t)snprintf(tr + tr_len, sizeof tr - tr_len, "M: [BREATHING]\n"); /* a stray line */
        emo_path(path, sizeof path, "%s/%s.txt", d_lab, dialog);
        if (write_text(path, lab)) return -1;
        emo_path(path, sizeof path, "%s/%s.txt", d_tr, dialog);
        if (write_text(path, tr)) return -1;
    }
    return 0;
}

/* a GloVe-format file with a deterministic vector for each word ("oh" deliberately absent) */
static int make_glove(const char *path) {
    static const char *const vocab[] = {"well", "i",     "think", "that", "is",      "fine",     "today", "wow",
                                        "this", "great", "love",  "it",   "no",      "terrible", "hate",  "miss",
                                        "her",  "so",    "much",  "joy",  "neutral", NULL};
    char buf[65536];
    size_t bl = 0;
    for (int w = 0; vocab[w]; w++) {
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%s", vocab[w]);
        for (int k = 0; k < IMA_EMO_WORD_DIM; k++)
            bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " %.4f", sin(0.37 * (w + 1) * (k + 1)));
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "\n");
    }
    return tu_write_file(path, buf, bl);
}

/* ---- unit checks ------------------------------------------------------------------------------------ */

static void test_tokens(void) {
    char w[16][64];
    size_t st[16], ln[16];
    const char *s = "Oh my God, you\xe2\x80\x99re so... WONDERFUL! Don't-stop 'quoted' 90s";
    size_t n = ima_emo_tokenize(s, w, st, ln, 16);
    const char *want[] = {"oh", "my", "god", "you're", "so", "wonderful", "don't", "stop", "quoted", "90s"};
    CHECK(n == 10, "token count %zu", n);
    for (size_t i = 0; i < n && i < 10; i++) CHECK(!strcmp(w[i], want[i]), "token %zu: '%s' vs '%s'", i, w[i], want[i]);
    CHECK(st[3] == 11 && ln[3] == 8, "you're at %zu length %zu", st[3], ln[3]);
    char f[64];
    const char *in[] = {"don't", "can't", "won't", "it's", "we're", "isn't", "hello"};
    const char *out[] = {"do", "can", "will", "it", "we", "is", "hello"};
    for (int i = 0; i < 7; i++) {
        ima_emo_lookup_form(f, sizeof f, in[i]);
        CHECK(!strcmp(f, out[i]), "lookup form of %s: %s", in[i], f);
    }
}

static void test_eq5(void) {
    /* one utterance of two tokens, d = 2 (worked by hand in the comments) */
    const float u0[4] = {1, 0, 0, 1}, y0[2] = {0.5f, 0.1f};
    const float u1[4] = {2, 2, 4, 0}, y1[2] = {0.2f, 0.2f};
    const size_t ts[2] = {0, 2};
    float s[2];
    /* (0.5[1,0] + 0.1[0,1] + 0.2[2,2] + 0.2[4,0]) / 1.0 = [1.7, 0.5] */
    CHECK(ima_utterance_pool(s, u0, y0, u1, y1, ts, 1, 2) == IMA_OK, "%s", ima_last_error());
    CHECK(fabsf(s[0] - 1.7f) < 1e-6f && fabsf(s[1] - 0.5f) < 1e-6f, "weighted [%g %g]", s[0], s[1]);
    /* ([1,0] + [0,1] + [2,2] + [4,0]) / 4 = [1.75, 0.75] */
    ima_utterance_pool(s, u0, NULL, u1, NULL, ts, 1, 2);
    CHECK(fabsf(s[0] - 1.75f) < 1e-6f && fabsf(s[1] - 0.75f) < 1e-6f, "unweighted [%g %g]", s[0], s[1]);
    /* verbal weighted: (0.5[1,0] + 0.1[0,1]) / 0.6 */
    ima_utterance_pool(s, u0, y0, NULL, NULL, ts, 1, 2);
    CHECK(fabsf(s[0] - 0.5f / 0.6f) < 1e-6f && fabsf(s[1] - 0.1f / 0.6f) < 1e-6f, "verbal [%g %g]", s[0], s[1]);
    /* acoustic unweighted: [3, 1] */
    ima_utterance_pool(s, NULL, NULL, u1, NULL, ts, 1, 2);
    CHECK(fabsf(s[0] - 3.0f) < 1e-6f && fabsf(s[1] - 1.0f) < 1e-6f, "acoustic [%g %g]", s[0], s[1]);
    /* refusals: an empty utterance, zero weights */
    const size_t empty[3] = {0, 2, 2};
    float s2[4];
    CHECK(ima_utterance_pool(s2, u0, NULL, u1, NULL, empty, 2, 2) == IMA_ERR && strstr(ima_last_error(), "utterance 1"),
          "empty utterance: %s", ima_last_error());
    const float zero[2] = {0, 0};
    CHECK(ima_utterance_pool(s, u0, zero, NULL, NULL, ts, 1, 2) == IMA_ERR, "zero weights accepted");
}

static void test_f1(void) {
    const uint8_t pred[5] = {1, 1, 0, 0, 1}, truth[5] = {1, 0, 0, 1, 1};
    ima_f1_scores f;
    ima_f1_two_class(&f, pred, truth, NULL, 5);
    /* tp 2 fp 1 fn 1 tn 1: F1 important 2/3, F1 unimportant 1/2, average 7/12 */
    CHECK(f.tp == 2 && f.fp == 1 && f.fn == 1 && f.tn == 1, "counts %zu %zu %zu %zu", f.tp, f.fp, f.fn, f.tn);
    CHECK(fabs(f.f1_pos - 2.0 / 3.0) < 1e-12 && fabs(f.f1_neg - 0.5) < 1e-12 && fabs(f.f1_avg - 7.0 / 12.0) < 1e-12,
          "f1 %g %g %g", f.f1_pos, f.f1_neg, f.f1_avg);
    /* p = r = 0.2: F1_pos = 0.2, F1_neg = 0.8 */
    CHECK(fabs(ima_random_labeller_f1(0.2, 0.2) - 0.5) < 1e-12, "random %g", ima_random_labeller_f1(0.2, 0.2));
    double r, best;
    ima_random_labeller_best(0.3, &r, &best);
    CHECK(best >= ima_random_labeller_f1(0.3, 0.3) - 1e-12 && best >= ima_random_labeller_f1(0.3, 0.0) - 1e-12,
          "best %g at %g", best, r);
    /* a simulated random labeller agrees with the expectation */
    uint64_t x = 88172645463325252ull;
    size_t n = 200000;
    uint8_t *p = malloc(n), *t = malloc(n);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t[i] = (x % 1000) < 300;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (x % 1000) < 200;
    }
    ima_f1_two_class(&f, p, t, NULL, n);
    CHECK(fabs(f.f1_avg - ima_random_labeller_f1(0.3, 0.2)) < 0.01, "simulated %g vs %g", f.f1_avg,
          ima_random_labeller_f1(0.3, 0.2));
    free(p);
    free(t);
}

static void test_pitch(void) {
    /* the pitch tracker follows espeak's pitch setting */
    char w[4][64];
    size_t N = ima_emo_tokenize("hello there my friend", w, NULL, NULL, 4);
    double f0[2];
    int pitches[2] = {15, 85};
    ima_emo_analyzer *a;
    CHECK(ima_emo_analyzer_init(&a) == IMA_OK, "%s", ima_last_error());
    for (int k = 0; k < 2; k++) {
        float t0[4], t1[4], *wave, *fr;
        size_t n, F;
        CHECK(emo_speak(&wave, &n, t0, t1, w, NULL, N, "en-us+m1", pitches[k], 10, 160, 100) == IMA_OK, "%s",
              ima_last_error());
        CHECK(ima_emo_frame_features(a, &fr, &F, wave, n) == IMA_OK && F > 50, "frames %zu", F);
        double s = 0, nv = 0;
        for (size_t i = 0; i < F; i++)
            if (fr[i * IMA_EMO_FRAME_DIM + 2] > 0.5f) {
                s += fr[i * IMA_EMO_FRAME_DIM];
                nv++;
            }
        CHECK(nv > 0.3 * (double)F, "voiced frames %g of %zu", nv, F);
        f0[k] = s / (nv > 0 ? nv : 1);
        for (size_t i = 0; i < F * IMA_EMO_FRAME_DIM; i++)
            if (!isfinite(fr[i])) {
                CHECK(0, "non-finite frame feature at %zu", i);
                break;
            }
        float av[IMA_EMO_ACOUSTIC_DIM];
        ima_emo_word_features(av, fr, F, t0[0], t1[0]);
        CHECK(fabsf(av[26] - (t1[0] - t0[0])) < 1e-6f, "duration %g", av[26]);
        free(wave);
        free(fr);
    }
    CHECK(f0[1] > f0[0] * 1.3, "mean F0 at pitch 85 (%.1f Hz) not above pitch 15 (%.1f Hz)", f0[1], f0[0]);
    ima_emo_analyzer_free(a);
}

/* ---- the miniature tree end to end ---------------------------------------------------------------- */

/* ---- local-ev on the miniature corpus's pairs (the path of `ima repro emotion`'s local-ev rows) ---------- */

/* Codes of every training pair from a small untrained IMA, local-ev targets from them, then stage 2 with
 * the BCE to those targets: finite targets in [0, 1] for every row, finite T, and a BCE that falls. */
static void test_local_ev(const ima_emo_corpus *c) {
    int64_t *pairs = NULL;
    size_t P = 0;
    CHECK(ima_emo_pairs(&pairs, &P, c, IMA_EMO_TRAIN, 0, 1) == IMA_OK && P > 100, "pairs %zu: %s", P,
          ima_last_error());
    if (!pairs) return;
    ima_config mc = tu_small_config(IMA_EMO_WORD_DIM, IMA_EMO_ACOUSTIC_DIM);
    mc.latent_width = 8;
    mc.center_inputs = 0;
    mc.importance_objective = IMA_IMPORTANCE_LOCAL_EV;
    for (int j = 0; j < 2; j++) {
        mc.mod[j].loss = IMA_LOSS_SSE;
        mc.mod[j].rho = j ? 0.7f : 0.03f;
    }
    const size_t B = 64, d = 8;
    ima_model *m = NULL;
    CHECK(ima_model_init(&m, &mc, B, 5) == IMA_OK, "model: %s", ima_last_error());
    float *x0 = malloc(B * IMA_EMO_WORD_DIM * sizeof(float)), *x1 = malloc(B * IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    float *U = malloc(2 * P * d * sizeof(float)), *target = malloc(2 * P * sizeof(float));
    float *T = malloc(2 * P * sizeof(float));
    uint8_t *mask = malloc(2 * P);
    if (!m || !x0 || !x1 || !U || !target || !T || !mask) goto done;
    for (size_t lo = 0; lo < P; lo += B) { /* the codes of each pair's word and acoustic token */
        size_t n = P - lo < B ? P - lo : B;
        for (size_t i = 0; i < n; i++) {
            memcpy(x0 + i * IMA_EMO_WORD_DIM, c->wvec + (size_t)pairs[3 * (lo + i)] * IMA_EMO_WORD_DIM,
                   IMA_EMO_WORD_DIM * sizeof(float));
            memcpy(x1 + i * IMA_EMO_ACOUSTIC_DIM, c->avec + (size_t)pairs[3 * (lo + i) + 1] * IMA_EMO_ACOUSTIC_DIM,
                   IMA_EMO_ACOUSTIC_DIM * sizeof(float));
        }
        ima_batch b = {0};
        b.B = n;
        b.x[0] = x0;
        b.x[1] = x1;
        ima_model_encode(m, &b, IMA_WEIGHTS_ONE);
        for (int j = 0; j < 2; j++) memcpy(U + ((size_t)j * P + lo) * d, ima_model_u(m, j), n * d * sizeof(float));
    }
    memset(mask, 1, 2 * P);
    float rho[2] = {0.03f, 0.7f};
    ima_local_ev_report rep;
    int rc = ima_local_ev_targets_from_codes(target, T, U, mask, P, 2, d, 10, rho, &rep);
    CHECK(rc == IMA_OK, "targets: %s", ima_last_error());
    if (rc) goto done;
    size_t bad = 0;
    for (size_t i = 0; i < 2 * P; i++) bad += !(target[i] >= 0.0f && target[i] <= 1.0f) || !(T[i] > 0.0f && isfinite(T[i]));
    CHECK(bad == 0, "%zu of %zu targets or T outside [0,1] / (0, inf)", bad, 2 * P);
    CHECK(rep.rows[0] == P && rep.rows[1] == P, "rows with a target %zu %zu of %zu", rep.rows[0], rep.rows[1], P);
    /* stage 2 on the first B pairs with their targets: finite terms and gradients, the BCE falls */
    for (size_t i = 0; i < B; i++) {
        memcpy(x0 + i * IMA_EMO_WORD_DIM, c->wvec + (size_t)pairs[3 * i] * IMA_EMO_WORD_DIM,
               IMA_EMO_WORD_DIM * sizeof(float));
        memcpy(x1 + i * IMA_EMO_ACOUSTIC_DIM, c->avec + (size_t)pairs[3 * i + 1] * IMA_EMO_ACOUSTIC_DIM,
               IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    }
    ima_batch b = {0};
    b.B = B;
    b.x[0] = x0;
    b.x[1] = x1;
    b.target = target;
    ima_adam_config adam = ima_adam_defaults();
    ima_stage2_terms t0, t;
    ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t0);
    int finite = 1;
    for (size_t i = m->n_params_ae; i < m->n_params; i++) finite &= isfinite(m->grads[i]) != 0;
    CHECK(finite && isfinite(t0.teach[0]) && isfinite(t0.teach[1]) && t0.teach[0] > 0 && t0.teach[1] > 0,
          "first step: BCE %g %g, finite gradients %d", t0.teach[0], t0.teach[1], finite);
    for (int s = 0; s < 60; s++) {
        ima_stage2_step(m, &adam);
        ima_stage2_forward_backward(m, &b, IMA_WEIGHTS_ONE, 1, &t);
    }
    CHECK(t.total < t0.total, "stage-2 BCE %g -> %g after 60 steps", t0.total, t.total);
done:
    ima_model_free(m);
    free(pairs), free(x0), free(x1), free(U), free(target), free(T), free(mask);
}

static void test_tree(const char *tmp, const char *root, const char *glove) {
    ima_emo_build_config cfg = ima_emo_build_defaults();
    cfg.glove_path = glove;
    cfg.min_count = 2;
    cfg.verbose = 0;
    ima_emo_corpus c;
    int rc = ima_emo_build_iemocap(&c, root, NULL, &cfg);
    CHECK(rc == IMA_OK, "build: %s", ima_last_error());
    if (rc) return;
    /* 5 sessions x 4 kept turns (fru left out) */
    CHECK(c.n_utts == 20, "utterances %zu", c.n_utts);
    CHECK(c.utts_read == 20, "read %zu", c.utts_read);
    size_t per_split[3] = {0};
    for (size_t u = 0; u < c.n_utts; u++) per_split[c.split[u]]++;
    CHECK(per_split[0] == 16 && per_split[1] == 4 && per_split[2] == 0, "splits %zu %zu %zu", per_split[0],
          per_split[1], per_split[2]);
    const int64_t want_label[4] = {IMA_EMO_NEUTRAL, IMA_EMO_HAPPY, IMA_EMO_ANGRY, IMA_EMO_SAD};
    for (size_t u = 0; u < c.n_utts; u++) CHECK(c.label[u] == want_label[u % 4], "label of %s", c.utt_id[u]);
    CHECK(!strcmp(c.utt_id[5], "Ses02F_impro01_F001"), "id %s", c.utt_id[5]);
    CHECK(!strcmp(c.speaker[2], "Ses01_M"), "speaker %s", c.speaker[2]);
    CHECK(!strcmp(c.text[3], "Oh, I miss her so much today."), "transcript '%s'", c.text[3]);
    /* tokens: every word but "oh" (seen 4 times in training, but no vector): 7 + 8 + 7 + 6 per session */
    CHECK(c.n_tokens == 5 * 28, "tokens %zu", c.n_tokens);
    CHECK(c.tokens_noglove == 5 && c.tokens_oov == 0, "without GloVe %zu, out of vocabulary %zu", c.tokens_noglove,
          c.tokens_oov);
    CHECK(c.tokens_read == 5 * 29, "read %zu", c.tokens_read);
    CHECK(!strcmp(c.word[c.tok_start[3]], "i"), "first kept token of the sad turn: %s", c.word[c.tok_start[3]]);
    /* timings: the .wdseg frames / 100, the "(2)" variant stripped */
    CHECK(!strcmp(c.word[1], "i"), "second token %s", c.word[1]);
    char wp[4096];
    snprintf(wp, sizeof wp, "%s/Session1/sentences/ForcedAlignment/Ses01F_impro01/Ses01F_impro01_F000.wdseg", root);
    FILE *f = fopen(wp, "r");
    char line[256];
    long sfr = -1, efr = -1;
    while (f && fgets(line, sizeof line, f)) {
        long a, b, sc;
        char w[64];
        if (sscanf(line, "%ld %ld %ld %63s", &a, &b, &sc, w) == 4 && !strcmp(w, "THINK")) sfr = a, efr = b;
    }
    if (f) fclose(f);
    CHECK(sfr >= 0 && fabsf(c.t0[2] - 0.01f * (float)sfr) < 1e-5f && fabsf(c.t1[2] - 0.01f * (float)(efr + 1)) < 1e-5f,
          "timing of 'think': %g..%g vs frames %ld..%ld", c.t0[2], c.t1[2], sfr, efr);
    /* standardized on the training split: mean 0, sd 1 (or a constant column) */
    for (size_t d = 0; d < IMA_EMO_ACOUSTIC_DIM; d++) {
        double s = 0, s2 = 0;
        size_t n = 0;
        for (size_t u = 0; u < c.n_utts; u++)
            if (c.split[u] == IMA_EMO_TRAIN)
                for (size_t t = c.tok_start[u]; t < c.tok_start[u + 1]; t++, n++) {
                    double v = c.avec[t * IMA_EMO_ACOUSTIC_DIM + d];
                    s += v;
                    s2 += v * v;
                }
        double m = s / (double)n, sd = sqrt(s2 / (double)n - m * m);
        CHECK(fabs(m) < 1e-4 && (fabs(sd - 1) < 1e-3 || sd < 1e-6), "acoustic dim %zu (%s): mean %g sd %g", d,
              ima_emo_acoustic_feature_names[d], m, sd);
    }
    for (size_t i = 0; i < c.n_tokens * IMA_EMO_ACOUSTIC_DIM; i++)
        if (!isfinite(c.avec[i])) {
            CHECK(0, "non-finite acoustic value at %zu", i);
            break;
        }
    /* pairs: N^2 per training utterance, both tokens inside the utterance */
    int64_t *pairs;
    size_t P, want = 0;
    CHECK(ima_emo_pairs(&pairs, &P, &c, IMA_EMO_TRAIN, 0, 1) == IMA_OK, "%s", ima_last_error());
    for (size_t u = 0; u < c.n_utts; u++)
        if (c.split[u] == IMA_EMO_TRAIN)
            want += (c.tok_start[u + 1] - c.tok_start[u]) * (c.tok_start[u + 1] - c.tok_start[u]);
    CHECK(P == want, "pairs %zu vs %zu", P, want);
    int inside = 1;
    for (size_t k = 0; k < P; k++) {
        size_t u = (size_t)pairs[3 * k + 2];
        for (int e = 0; e < 2; e++)
            if ((size_t)pairs[3 * k + e] < c.tok_start[u] || (size_t)pairs[3 * k + e] >= c.tok_start[u + 1]) inside = 0;
    }
    CHECK(inside, "a pair leaves its utterance");
    free(pairs);
    CHECK(ima_emo_pairs(&pairs, &P, &c, IMA_EMO_TRAIN, 10, 1) == IMA_OK && P == 16 * 10, "capped pairs %zu", P);
    free(pairs);
    test_local_ev(&c);

    /* Eq. 5 + retrieval: codes that carry the class give P@3 = 1 over the 16 training utterances;
     * codes from the words alone (shared across classes) do not */
    size_t U = 16, d = 4;
    float *u0 = calloc(c.n_tokens * d, sizeof(float)), *s = malloc(U * d * sizeof(float));
    for (size_t u = 0; u < U; u++)
        for (size_t t = c.tok_start[u]; t < c.tok_start[u + 1]; t++) u0[t * d + (size_t)c.label[u]] = 1.0f;
    size_t k3 = 3;
    double prec;
    CHECK(ima_utterance_pool(s, u0, NULL, NULL, NULL, c.tok_start, U, d) == IMA_OK, "%s", ima_last_error());
    CHECK(ima_precision_at_k(&prec, NULL, NULL, s, c.label, NULL, NULL, &k3, 1, U, d) == IMA_OK && prec == 1.0,
          "P@3 %g", prec);
    for (size_t t = 0; t < c.tok_start[U];
         t++) { /* code = the word's first GloVe dims: "is"/"i"/"it"/"today" are shared */
        for (size_t k = 0; k < d; k++) u0[t * d + k] = c.wvec[t * IMA_EMO_WORD_DIM + k];
    }
    ima_utterance_pool(s, u0, NULL, NULL, NULL, c.tok_start, U, d);
    ima_precision_at_k(&prec, NULL, NULL, s, c.label, NULL, NULL, &k3, 1, U, d);
    CHECK(prec == 1.0, "word codes: same sentence per class, P@3 %g", prec); /* identical sentences: still 1 */
    for (size_t t = 0; t < c.tok_start[U] * d; t++) u0[t] = 1.0f; /* codes without the class: no better than ties */
    ima_utterance_pool(s, u0, NULL, NULL, NULL, c.tok_start, U, d);
    ima_precision_at_k(&prec, NULL, NULL, s, c.label, NULL, NULL, &k3, 1, U, d);
    CHECK(prec < 0.5, "constant codes: P@3 %g", prec);
    free(u0);
    free(s);

    /* the folder: written whole, shapes right, an existing folder refused without force */
    char *dir = tu_path(tmp, "corpus");
    CHECK(ima_emo_corpus_save(&c, dir, 0) == IMA_OK, "save: %s", ima_last_error());
    char *wpath = tu_path(dir, "train/words.npy"), *ppath = tu_path(dir, "train/pairs.npy"),
         *lpath = tu_path(dir, "valid/labels.npy");
    ima_npy a;
    CHECK(ima_npy_read(&a, wpath) == IMA_OK && a.shape[0] == c.tok_start[16] && a.shape[1] == IMA_EMO_WORD_DIM,
          "words.npy %zu x %zu", a.shape[0], a.shape[1]);
    ima_npy_free(&a);
    CHECK(ima_npy_read(&a, ppath) == IMA_OK && a.shape[0] == want && a.shape[1] == 3, "pairs.npy %zu", a.shape[0]);
    ima_npy_free(&a);
    CHECK(ima_npy_read(&a, lpath) == IMA_OK && a.shape[0] == 4 && ((int64_t *)a.data)[3] == IMA_EMO_SAD, "labels.npy");
    ima_npy_free(&a);
    /* read back: the same corpus */
    ima_emo_corpus r;
    rc = ima_emo_corpus_load(&r, dir);
    CHECK(rc == IMA_OK, "load: %s", ima_last_error());
    if (rc == IMA_OK) {
        CHECK(r.n_utts == c.n_utts && r.n_tokens == c.n_tokens && r.vocab_size == c.vocab_size &&
                  r.tokens_read == c.tokens_read && r.tokens_noglove == c.tokens_noglove,
              "counts %zu %zu %zu %zu", r.n_utts, r.n_tokens, r.vocab_size, r.tokens_read);
        int same = r.n_tokens == c.n_tokens && r.n_utts == c.n_utts;
        for (size_t t = 0; same && t < c.n_tokens; t++)
            same = !strcmp(r.word[t], c.word[t]) && fabsf(r.t0[t] - c.t0[t]) < 1e-3f &&
                   !memcmp(r.wvec + t * IMA_EMO_WORD_DIM, c.wvec + t * IMA_EMO_WORD_DIM,
                           IMA_EMO_WORD_DIM * sizeof(float)) &&
                   !memcmp(r.avec + t * IMA_EMO_ACOUSTIC_DIM, c.avec + t * IMA_EMO_ACOUSTIC_DIM,
                           IMA_EMO_ACOUSTIC_DIM * sizeof(float));
        for (size_t u = 0; same && u < c.n_utts; u++)
            same = r.label[u] == c.label[u] && r.split[u] == c.split[u] && r.tok_start[u + 1] == c.tok_start[u + 1] &&
                   !strcmp(r.utt_id[u], c.utt_id[u]) && !strcmp(r.text[u], c.text[u]);
        CHECK(same, "the corpus read back differs");
        ima_emo_corpus_free(&r);
    }
    char *lab2 = tu_path(dir, "valid/token_utt.npy");
    int64_t bad_tu[3] = {0, 2, 1};
    size_t shp = 3;
    ima_npy_write(lab2, IMA_DTYPE_I64, 1, &shp, bad_tu);
    CHECK_ERR(ima_emo_corpus_load(&r, dir), "corpus/valid", "disagree");
    free(lab2);
    CHECK(ima_emo_corpus_save(&c, dir, 0) == IMA_ERR && strstr(ima_last_error(), "already exists"), "overwrite: %s",
          ima_last_error());
    CHECK(ima_emo_corpus_save(&c, dir, 1) == IMA_OK, "force: %s", ima_last_error());
    CHECK(tu_count_temp_files(tmp) == 0, "temporary folders left behind");
    free(wpath);
    free(ppath);
    free(lpath);
    free(dir);

    /* a custom split: session 2 as test, session 3 left out */
    ima_emo_corpus_free(&c);
    int sp[5] = {IMA_EMO_TRAIN, IMA_EMO_TEST, -1, IMA_EMO_TRAIN, IMA_EMO_VALID};
    CHECK(ima_emo_build_iemocap(&c, root, sp, &cfg) == IMA_OK && c.n_utts == 16, "custom split: %zu, %s", c.n_utts,
          ima_last_error());
    size_t nt = 0;
    for (size_t u = 0; u < c.n_utts; u++) nt += c.split[u] == IMA_EMO_TEST;
    CHECK(nt == 4, "test utterances %zu", nt);
    ima_emo_corpus_free(&c);
}

/* ---- refusals ---------------------------------------------------------------------------------------- */

static char *slurp(const char *path) {
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    if (!b) return NULL;
    char *s = realloc(b, n + 1);
    s[n] = '\0';
    return s;
}

static void replace_in_file(const char *path, const char *from, const char *to) {
    char *s = slurp(path);
    if (!s) return;
    char *p = strstr(s, from);
    if (!p) {
        free(s);
        return;
    }
    size_t n = strlen(s) + strlen(to) + 1;
    char *o = malloc(n);
    snprintf(o, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    write_text(path, o);
    free(s);
    free(o);
}

static void test_refusals(const char *root, const char *glove) {
    ima_emo_build_config cfg = ima_emo_build_defaults();
    cfg.glove_path = glove;
    cfg.min_count = 2;
    cfg.verbose = 0;
    ima_emo_corpus c;
    char lab[4096], wd[4096], wav[4096], keep[4096];
    snprintf(lab, sizeof lab, "%s/Session3/dialog/EmoEvaluation/Ses03F_impro01.txt", root);
    snprintf(wd, sizeof wd, "%s/Session2/sentences/ForcedAlignment/Ses02F_impro01/Ses02F_impro01_M002.wdseg", root);
    snprintf(wav, sizeof wav, "%s/Session4/sentences/wav/Ses04F_impro01/Ses04F_impro01_F001.wav", root);

    /* a malformed label line: file and line named */
    char *orig = slurp(lab);
    replace_in_file(lab, "\tSes03F_impro01_F001\texc", "\tSes03F_impro01_F001");
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), lab, "malformed label line");
    CHECK(strstr(ima_last_error(), ".txt:7:") != NULL, "line number: %s", ima_last_error());
    write_text(lab, orig);
    replace_in_file(lab, "\tang\t", "\tanger\t");
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), lab, "unknown emotion code 'anger'");
    write_text(lab, orig);
    replace_in_file(lab, "\tneu\t[2.5000, 3.0000, 3.5000]", "\tneu\t");
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), lab, "[V, A, D]");
    write_text(lab, orig);
    free(orig);

    /* a malformed .wdseg line */
    orig = slurp(wd);
    replace_in_file(wd, "</s>", ""); /* "<last> <last+2> -5000": the word is missing */
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), wd, "malformed word line");
    write_text(wd, orig);
    replace_in_file(wd, " SFrm  EFrm", " Start End");
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), wd, "header");
    write_text(wd, orig);

    /* a missing .wdseg: an error naming it, or a counted skip when asked */
    emo_path(keep, sizeof keep, "%s.aside", wd);
    rename(wd, keep);
    CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), wd, "missing word alignment");
    cfg.skip_missing_alignment = 1;
    int rc = ima_emo_build_iemocap(&c, root, NULL, &cfg);
    CHECK(rc == IMA_OK && c.utts_skipped == 1 && c.n_utts == 19, "skip: rc %d skipped %zu utts %zu", rc, c.utts_skipped,
          c.n_utts);
    if (rc == IMA_OK) ima_emo_corpus_free(&c);
    cfg.skip_missing_alignment = 0;
    rename(keep, wd);
    free(orig);

    /* a wav shorter than its alignment */
    float *x;
    size_t n;
    int rate;
    if (ima_audio_read(wav, &x, &n, &rate) == IMA_OK) {
        emo_path(keep, sizeof keep, "%s.aside", wav);
        rename(wav, keep);
        write_wav(wav, x, n / 2);
        CHECK_ERR(ima_emo_build_iemocap(&c, root, NULL, &cfg), wav, "ending at");
        rename(keep, wav);
        free(x);
    } else {
        CHECK(0, "reading %s: %s", wav, ima_last_error());
    }
    /* not the release layout */
    CHECK_ERR(ima_emo_build_iemocap(&c, glove, NULL, &cfg), glove, "IEMOCAP release layout");
    /* after all that the tree still loads */
    rc = ima_emo_build_iemocap(&c, root, NULL, &cfg);
    CHECK(rc == IMA_OK && c.n_utts == 20, "reload: %s", ima_last_error());
    if (rc == IMA_OK) ima_emo_corpus_free(&c);
}

/* ---- MELD reader ------------------------------------------------------------------------------- */

static void test_meld(const char *tmp, const char *glove) {
    char *dir = tu_path(tmp, "meld");
    mkdir_p(dir);
    const char *hdr =
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n";
    char buf[8192];
    const char *rows[] = {
        "%d,\"Well, I think that is fine today.\",Ross,neutral,neutral,%d,0,1,1,\"00:00:01,000\",\"00:00:02,000\"\n",
        "%d,\"Wow, this is \"\"great\"\"! I love it today.\",Rachel,joy,positive,%d,1,1,1,\"00:00:03,000\",\"00:00:04,000\"\n",
        "%d,\"No! This is terrible, I hate it.\",Joey,anger,negative,%d,2,1,1,\"00:00:05,000\",\"00:00:06,000\"\n",
        "%d,\"Oh, I miss her\nso much today.\",Monica,sadness,negative,%d,3,1,1,\"00:00:07,000\",\"00:00:08,000\"\n",
        "%d,What?!,Chandler,surprise,negative,%d,4,1,1,\"00:00:09,000\",\"00:00:10,000\"\n",
    };
    const char *files[3] = {"train_sent_emo.csv", "dev_sent_emo.csv", "test_sent_emo.csv"};
    int reps[3] = {3, 1, 1};
    for (int f = 0; f < 3; f++) {
        size_t bl = (size_t)snprintf(buf, sizeof buf, "%s", hdr);
        int sr = 1;
        for (int r = 0; r < reps[f]; r++)
            for (int k = 0; k < 5; k++) bl += (size_t)snprintf(buf + bl, sizeof buf - bl, rows[k], sr++, r);
        char *p = tu_path(dir, files[f]);
        write_text(p, buf);
        free(p);
    }
    ima_emo_build_config cfg = ima_emo_build_defaults();
    cfg.glove_path = glove;
    cfg.min_count = 2;
    cfg.verbose = 0;
    ima_emo_corpus c;
    int rc = ima_emo_build_meld(&c, dir, &cfg);
    CHECK(rc == IMA_OK, "meld: %s", ima_last_error());
    if (rc == IMA_OK) {
        CHECK(c.n_utts == 20, "utterances %zu (surprise left out)", c.n_utts);
        CHECK(c.label[1] == IMA_EMO_HAPPY && c.label[3] == IMA_EMO_SAD, "labels %lld %lld", (long long)c.label[1],
              (long long)c.label[3]);
        CHECK(!strcmp(c.text[1], "Wow, this is \"great\"! I love it today."), "quoted field '%s'", c.text[1]);
        CHECK(!strcmp(c.utt_id[12], "meld_valid_d0_u0"), "id %s", c.utt_id[12]);
        size_t N = c.tok_start[4] - c.tok_start[3];
        CHECK(N == 6, "tokens of the multi-line utterance %zu", N);
        /* espeak's word events give increasing timings inside the audio */
        int mono = 1;
        for (size_t t = c.tok_start[1]; t + 1 < c.tok_start[2]; t++)
            if (!(c.t0[t] < c.t0[t + 1] && c.t1[t] > c.t0[t])) mono = 0;
        CHECK(mono, "timings not increasing");
        ima_emo_corpus_free(&c);
    }
    /* an unknown emotion: file and line */
    char *p = tu_path(dir, "dev_sent_emo.csv");
    snprintf(buf, sizeof buf, "%s1,Hi there.,Ross,happy,positive,0,0,1,1,a,b\n", hdr);
    write_text(p, buf);
    CHECK_ERR(ima_emo_build_meld(&c, dir, &cfg), p, "dev_sent_emo.csv:2: unknown emotion 'happy'");
    snprintf(buf, sizeof buf, "Sr No.,Text,Speaker\n1,Hi,Ross\n");
    write_text(p, buf);
    CHECK_ERR(ima_emo_build_meld(&c, dir, &cfg), p, "header lacks");
    snprintf(buf, sizeof buf, "%s1,\"Hi there.,Ross,neutral,neutral,0,0,1,1,a,b\n", hdr);
    write_text(p, buf);
    CHECK_ERR(ima_emo_build_meld(&c, dir, &cfg), p, "inside a quoted field");
    free(p);
    free(dir);
}

int main(void) {
    test_tokens();
    test_eq5();
    test_f1();
    test_pitch();
    char *tmp = tu_tmpdir();
    char *root = tu_path(tmp, "IEMOCAP_full_release"), *glove = tu_path(tmp, "glove.txt");
    mkdir_p(root);
    CHECK(make_glove(glove) == 0, "glove");
    CHECK(make_tree(root) == 0, "tree: %s", ima_last_error());
    test_tree(tmp, root, glove);
    test_refusals(root, glove);
    test_meld(tmp, glove);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    free(root);
    free(glove);
    free(tmp);
    return tu_finish("test_emotion");
}
