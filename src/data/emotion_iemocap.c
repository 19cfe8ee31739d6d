/* emotion_iemocap.c: the IEMOCAP release, read in its own layout (docs/emotion.md):
 *
 *   SessionK/dialog/EmoEvaluation/<dialog>.txt          labels: one line per turn,
 *       "[START - END]<TAB><turn><TAB><code><TAB>[V, A, D]"; other lines (annotator details
 *       "C-E1:...", "A-F2:...", the "%" header, blanks) are not label lines
 *   SessionK/dialog/transcriptions/<dialog>.txt          "<turn> [START-END]: text" per line
 *   SessionK/sentences/ForcedAlignment/<dialog>/<turn>.wdseg   word timings:
 *       header " SFrm  EFrm    SegAScr Word", then "SFRM EFRM SCORE WORD" per word (10 ms frames,
 *       inclusive), then " Total SegAScr: N"
 *   SessionK/sentences/wav/<dialog>/<turn>.wav           16 kHz mono
 *
 * Classes: neu -> neutral, hap and exc -> happy, ang -> angry, sad -> sad; other codes (fru, sur,
 * fea, dis, oth, xxx) are read and left out. Tokens are the .wdseg words without the markers
 * (<s>, </s>, <sil>, ++NOISE++, [...]) and without the pronunciation suffix "(2)", lower-cased.
 * Errors name the file and line: a malformed label line, a malformed .wdseg line, a missing .wdseg
 * (unless skip_missing_alignment: then a counted skip), a wav shorter than its last word.
 * Transcription lines that do not have the "<turn> [..]: text" form are skipped: the release has
 * such lines (e.g. stray speaker notes), and the transcript is only kept for the report. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/emotion_internal.h"
#include "ima/audio.h"
#include "ima/common.h"
#include "ima/emotion.h"

#define MAX_WORDS 512
#define WAV_SLACK_S 0.05 /* a wav may end this much before the last word's end frame */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted names of the regular *.txt files in dir (not starting with '.') */
static int list_txt(char ***names, size_t *n, const char *dir) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ima_error("%s: cannot open (%s); expected the IEMOCAP release layout", dir, strerror(errno));
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".txt")) continue;
        char path[4096];
        emo_path(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        char *name = ima_try_strdup(e->d_name);
        if (name && *n == cap) {
            char **grown = ima_try_realloc(*names, cap ? cap * 2 : 64, sizeof(char *));
            if (grown) *names = grown, cap = cap ? cap * 2 : 64;
            else free(name), name = NULL;
        }
        if (!name) {
            for (size_t i = 0; i < *n; i++) free((*names)[i]);
            free(*names);
            *names = NULL;
            *n = 0;
            closedir(d);
            return ima_error_prefix("%s", dir);
        }
        (*names)[(*n)++] = name;
    }
    closedir(d);
    qsort(*names, *n, sizeof(char *), cmp_str);
    return IMA_OK;
}

typedef struct {
    char turn[128];
    int64_t label; /* -1: not one of the four classes */
} label_line;

static int64_t code_label(const char *code) {
    if (!strcmp(code, "neu")) return IMA_EMO_NEUTRAL;
    if (!strcmp(code, "hap") || !strcmp(code, "exc")) return IMA_EMO_HAPPY;
    if (!strcmp(code, "ang")) return IMA_EMO_ANGRY;
    if (!strcmp(code, "sad")) return IMA_EMO_SAD;
    return -1;
}

static int known_code(const char *code) {
    static const char *const codes[] = {"neu", "hap", "exc", "ang", "sad", "fru",
                                        "sur", "fea", "dis", "oth", "xxx", NULL};
    for (int i = 0; codes[i]; i++)
        if (!strcmp(codes[i], code)) return 1;
    return 0;
}

/* label lines of one EmoEvaluation file */
static int read_labels(label_line **out, size_t *n, const char *path) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ima_error("%s: cannot open (%s)", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0, ocap = 0;
    int st = IMA_OK;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (line[0] != '[') continue;
        double a, b;
        char turn[128], code[16];
        int used = 0;
        if (sscanf(line, "[%lf - %lf]%*[ \t]%127s%*[ \t]%15s%n", &a, &b, turn, code, &used) != 4 || used == 0 ||
            code[0] == '[') {
            st = ima_error("%s:%d: malformed label line (expected \"[START - END]<TAB>TURN<TAB>CODE<TAB>[V, A, D]\")",
                           path, (int)lineno);
            break;
        }
        if (!(b >= a) || a < 0) {
            st = ima_error("%s:%d: turn %s has times [%g - %g]: the end must not precede the start", path, (int)lineno,
                           turn, a, b);
            break;
        }
        if (!known_code(code)) {
            st = ima_error("%s:%d: turn %s has the unknown emotion code '%s' (expected one of neu hap exc ang sad fru "
                           "sur fea dis oth xxx)",
                           path, (int)lineno, turn, code);
            break;
        }
        const char *rest = line + used;
        while (*rest == ' ' || *rest == '\t') rest++;
        if (*rest != '[') {
            st = ima_error("%s:%d: turn %s: expected the [V, A, D] ratings after the code", path, (int)lineno, turn);
            break;
        }
        if (*n == ocap) {
            label_line *grown = ima_try_realloc(*out, ocap ? ocap * 2 : 64, sizeof **out);
            if (!grown) {
                st = ima_error_prefix("%s:%d", path, (int)lineno);
                break;
            }
            *out = grown;
            ocap = ocap ? ocap * 2 : 64;
        }
        snprintf((*out)[*n].turn, sizeof(*out)[*n].turn, "%s", turn);
        (*out)[*n].label = code_label(code);
        (*n)++;
    }
    free(line);
    fclose(f);
    if (st) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

/* words and timings of one .wdseg file; *missing = 1 when the file does not exist */
static int read_wdseg(char (*words)[64], float *t0, float *t1, size_t *N, int *missing, const char *path) {
    *N = 0;
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = 1;
            return ima_error("%s: missing word alignment", path);
        }
        return ima_error("%s: cannot open (%s)", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int st = IMA_OK, header = 0, total = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0' || *p == '\n' || *p == '\r') continue;
        if (!header) {
            if (strncmp(p, "SFrm", 4)) {
                st = ima_error("%s:%d: expected the header \"SFrm EFrm SegAScr Word\"", path, (int)lineno);
                break;
            }
            header = 1;
            continue;
        }
        if (!strncmp(p, "Total", 5)) {
            total = 1;
            continue;
        }
        if (total) {
            st = ima_error("%s:%d: text after the \"Total SegAScr\" line", path, (int)lineno);
            break;
        }
        long s, e, score;
        char w[128];
        int used = 0;
        if (sscanf(p, "%ld %ld %ld %127s%n", &s, &e, &score, w, &used) != 4) {
            st = ima_error("%s:%d: malformed word line (expected \"SFRM EFRM SCORE WORD\")", path, (int)lineno);
            break;
        }
        if (s < 0 || e < s) {
            st = ima_error("%s:%d: word %s has frames %ld..%ld (the end must not precede the start)", path, (int)lineno,
                           w, s, e);
            break;
        }
        if (w[0] == '<' || w[0] == '+' || w[0] == '[') continue; /* <s> </s> <sil> ++NOISE++ [...] */
        char *paren = strchr(w, '(');
        if (paren) *paren = '\0';
        size_t k = 0;
        char lw[64];
        for (const char *q = w; *q && k < 63; q++) lw[k++] = (char)tolower((unsigned char)*q);
        lw[k] = '\0';
        if (k == 0) continue;
        if (*N == MAX_WORDS) {
            st = ima_error("%s:%d: more than %d words", path, (int)lineno, MAX_WORDS);
            break;
        }
        snprintf(words[*N], 64, "%s", lw);
        t0[*N] = (float)s * 0.01f;
        t1[*N] = (float)(e + 1) * 0.01f;
        (*N)++;
    }
    if (!st && !header)
        st = ima_error("%s: empty alignment file (expected the \"SFrm EFrm SegAScr Word\" header)", path);
    free(line);
    fclose(f);
    return st;
}

/* transcript text of one turn (NULL when not found); the caller frees it */
static char *find_transcript(const char *path, const char *turn) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0, tl = strlen(turn);
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, turn, tl) || line[tl] != ' ') continue;
        char *colon = strstr(line + tl, "]:");
        if (!colon) continue;
        char *t = colon + 2;
        while (*t == ' ') t++;
        size_t l = strlen(t);
        while (l && (t[l - 1] == '\n' || t[l - 1] == '\r')) t[--l] = '\0';
        out = ima_try_strdup(t); /* NULL when memory runs out: the transcript is then left empty */
        break;
    }
    free(line);
    fclose(f);
    return out;
}

int ima_emo_build_iemocap(ima_emo_corpus *c, const char *root, const int *split_sessions,
                          const ima_emo_build_config *cfg) {
    static const int default_split[5] = {IMA_EMO_TRAIN, IMA_EMO_TRAIN, IMA_EMO_TRAIN, IMA_EMO_TRAIN, IMA_EMO_VALID};
    const int *sp = split_sessions ? split_sessions : default_split;
    emo_builder b;
    if (emo_builder_init(&b, c, "iemocap")) return IMA_ERR;
    ima_emo_analyzer *an = NULL;
    if (ima_emo_analyzer_init(&an)) {
        ima_emo_corpus_free(c);
        return IMA_ERR;
    }
    char(*words)[64] = ima_try_malloc(MAX_WORDS, sizeof *words); /* fixed sizes, too large for the stack */
    float *t0 = ima_try_malloc(MAX_WORDS, sizeof(float)), *t1 = ima_try_malloc(MAX_WORDS, sizeof(float));
    float *avec = ima_try_malloc(MAX_WORDS, IMA_EMO_ACOUSTIC_DIM * sizeof(float));
    size_t per_split[3] = {0};
    int st = words && t0 && t1 && avec ? IMA_OK : ima_error_prefix("%s", __func__);
    for (int k = 0; k < 5 && !st; k++) {
        if (sp[k] < 0) continue;
        char dir[4096];
        emo_path(dir, sizeof dir, "%s/Session%d/dialog/EmoEvaluation", root, k + 1);
        char **dialogs;
        size_t nd;
        if ((st = list_txt(&dialogs, &nd, dir))) break;
        if (nd == 0) st = ima_error("%s: no label files (*.txt)", dir);
        for (size_t di = 0; di < nd && !st; di++) {
            char dialog[1024], path[4096];
            emo_path(dialog, sizeof dialog, "%.*s", (int)(strlen(dialogs[di]) - 4), dialogs[di]);
            emo_path(path, sizeof path, "%s/%s", dir, dialogs[di]);
            label_line *labels;
            size_t nl;
            if ((st = read_labels(&labels, &nl, path))) break;
            char tpath[4096];
            emo_path(tpath, sizeof tpath, "%s/Session%d/dialog/transcriptions/%s.txt", root, k + 1, dialog);
            for (size_t li = 0; li < nl && !st; li++) {
                if (labels[li].label < 0) continue;
                if (cfg->limit_per_split && per_split[sp[k]] >= cfg->limit_per_split) continue;
                const char *turn = labels[li].turn;
                c->utts_read++;
                char wpath[4096], apath[4096];
                emo_path(wpath, sizeof wpath, "%s/Session%d/sentences/ForcedAlignment/%s/%s.wdseg", root, k + 1, dialog,
                         turn);
                emo_path(apath, sizeof apath, "%s/Session%d/sentences/wav/%s/%s.wav", root, k + 1, dialog, turn);
                size_t N;
                int missing;
                if (read_wdseg(words, t0, t1, &N, &missing, wpath)) {
                    if (missing && cfg->skip_missing_alignment) {
                        c->utts_skipped++;
                        continue;
                    }
                    if (missing)
                        ima_error_prefix(
                            "%s: turn %s (a label line names it; --skip-missing-alignment skips such turns)", path,
                            turn);
                    st = IMA_ERR;
                    break;
                }
                if (N == 0) {
                    c->utts_empty++;
                    continue;
                }
                float *wave;
                size_t n;
                if ((st = ima_audio_load(apath, IMA_EMO_RATE, &wave, &n))) break;
                double dur = (double)n / IMA_EMO_RATE;
                if (t1[N - 1] > dur + WAV_SLACK_S) {
                    st = ima_error("%s: %.3f s long, but its alignment %s has the word '%s' ending at %.3f s", apath,
                                   dur, wpath, words[N - 1], t1[N - 1]);
                    free(wave);
                    break;
                }
                st = emo_utterance_acoustics(an, avec, wave, n, t0, t1, N);
                free(wave);
                if (st) break;
                char *text = find_transcript(tpath, turn);
                char spk[160];
                const char *g = strrchr(turn, '_');
                emo_path(spk, sizeof spk, "Ses%02d_%c", k + 1, g && g[1] ? g[1] : '?');
                st = emo_builder_add(&b, turn, spk, text ? text : "", labels[li].label, sp[k], N, words, t0, t1, avec);
                per_split[sp[k]]++;
                free(text);
            }
            free(labels);
        }
        for (size_t di = 0; di < nd; di++) free(dialogs[di]);
        free(dialogs);
    }
    free(words);
    free(t0);
    free(t1);
    free(avec);
    ima_emo_analyzer_free(an);
    if (!st) st = emo_finish(&b, cfg);
    if (st) ima_emo_corpus_free(c);
    return st;
}
