/* emotion_text.c: the verbal side of the emotion corpus: tokenizer, lookup forms, a CSV reader for
 * MELD, the GloVe text reader and the Empath lexicon (SPEC section 9, docs/emotion.md).
 *
 * Dimensions: T tokens, V vocabulary words, Dw = 100 GloVe width. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/emotion_internal.h"
#include "ima/common.h"
#include "ima/emotion.h"

const char *const ima_emo_class_names[IMA_EMO_N_CLASSES] = {"neutral", "happy", "angry", "sad"};
const char *const ima_emo_split_names[3] = {"train", "valid", "test"};
const char *const ima_emo_empath_categories[] = {"sadness",          "anger", "nervousness", "fear", "negative_emotion",
                                                 "positive_emotion", NULL};

int emo_path(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return ima_error("path too long (%d bytes, at most %zu): %.200s...", n, cap - 1, out);
    return IMA_OK;
}

/* ---- tokens ------------------------------------------------------------------------------------ */

static int is_wordch(unsigned char ch) { return ch < 128 && isalnum(ch); }

/* length of an apostrophe at s (ASCII ' or UTF-8 U+2019), else 0 */
static size_t apostrophe_len(const unsigned char *s) {
    if (s[0] == '\'') return 1;
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x99) return 3;
    return 0;
}

size_t ima_emo_tokenize(const char *text, char (*words)[64], size_t *starts, size_t *lens, size_t cap) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    while (s[i] && n < cap) {
        if (!is_wordch(s[i])) {
            i++;
            continue;
        }
        size_t b = i, w = 0;
        for (;;) {
            if (is_wordch(s[i])) {
                if (w < 63) words[n][w++] = (char)tolower(s[i]);
                i++;
                continue;
            }
            size_t al = apostrophe_len(s + i);
            if (al && is_wordch(s[i + al])) {
                if (w < 63) words[n][w++] = '\'';
                i += al;
                continue;
            }
            break;
        }
        words[n][w] = '\0';
        if (starts) starts[n] = b;
        if (lens) lens[n] = i - b;
        n++;
    }
    return n;
}

void ima_emo_lookup_form(char *out, size_t cap, const char *token) {
    snprintf(out, cap, "%s", token);
    if (!strcmp(token, "can't")) {
        snprintf(out, cap, "can");
        return;
    }
    if (!strcmp(token, "won't")) {
        snprintf(out, cap, "will");
        return;
    }
    char *ap = strchr(out, '\'');
    if (!ap) return;
    size_t len = strlen(out);
    if (len >= 3 && !strcmp(out + len - 3, "n't") && len > 3) {
        out[len - 3] = '\0'; /* don't -> do, isn't -> is */
        return;
    }
    *ap = '\0'; /* it's -> it, we're -> we, i'm -> i, you'll -> you, o'clock -> o */
}

/* ---- CSV (RFC 4180: quoted fields may hold commas, doubled quotes and newlines) ------------------ */

int emo_csv_open(emo_csv *c, const char *path) {
    memset(c, 0, sizeof *c);
    c->f = fopen(path, "rb");
    if (!c->f) return ima_error("%s: cannot open (%s)", path, strerror(errno));
    c->path = path;
    c->line = 1;
    return IMA_OK;
}

void emo_csv_close(emo_csv *c) {
    if (c->f) fclose(c->f);
    for (size_t i = 0; i < c->n_fields; i++) free(c->fields[i]);
    free(c->buf);
    memset(c, 0, sizeof *c);
}

static void csv_put(emo_csv *c, int ch) {
    if (c->oom) return;
    if (c->len + 1 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        char *grown = ima_try_realloc(c->buf, cap, 1);
        if (!grown) {
            c->oom = 1;
            return;
        }
        c->buf = grown;
        c->cap = cap;
    }
    c->buf[c->len++] = (char)ch;
}

static void csv_end_field(emo_csv *c) {
    csv_put(c, '\0');
    if (c->oom) return;
    if (c->n_fields < EMO_CSV_MAX_FIELDS && !(c->fields[c->n_fields] = ima_try_strdup(c->buf))) c->oom = 1;
    c->n_fields++;
    c->len = 0;
}

int emo_csv_next(emo_csv *c) {
    for (size_t i = 0; i < c->n_fields && i < EMO_CSV_MAX_FIELDS; i++) free(c->fields[i]);
    c->n_fields = 0;
    c->len = 0;
    c->record_line = c->line;
    int ch = fgetc(c->f);
    if (ch == EOF) return 0;
    int quoted = 0, any = 0;
    for (;; ch = fgetc(c->f)) {
        if (ch == EOF) {
            if (quoted) return ima_error("%s:%zu: end of file inside a quoted field", c->path, c->record_line);
            csv_end_field(c);
            break;
        }
        if (quoted) {
            if (ch == '"') {
                int nx = fgetc(c->f);
                if (nx == '"') {
                    csv_put(c, '"');
                    continue;
                }
                quoted = 0;
                ch = nx;
                if (ch == EOF) {
                    csv_end_field(c);
                    break;
                }
            } else {
                if (ch == '\n') c->line++;
                csv_put(c, ch);
                continue;
            }
        }
        if (ch == '"' && c->len == 0) {
            quoted = 1;
            any = 1;
            continue;
        }
        if (ch == ',') {
            csv_end_field(c);
            continue;
        }
        if (ch == '\r') continue;
        if (ch == '\n') {
            c->line++;
            csv_end_field(c);
            break;
        }
        csv_put(c, ch);
        any = 1;
    }
    (void)any;
    if (c->oom) return ima_error_prefix("%s:%zu: a field of %zu bytes", c->path, c->record_line, c->len);
    if (c->n_fields > EMO_CSV_MAX_FIELDS)
        return ima_error("%s:%zu: %zu fields (at most %d expected)", c->path, c->record_line, c->n_fields,
                         EMO_CSV_MAX_FIELDS);
    return 1;
}

/* ---- GloVe ------------------------------------------------------------------------------------ */

/* Reads vectors for the words of vocab (sorted, V) from a GloVe text file (plain or gzip);
 * vec (V, 100) gets them, found[v] = 1 where present. A line whose width is not 100 is an error. */
int emo_glove_lookup(float *vec, uint8_t *found, char **vocab, size_t V, const char *path) {
    gzFile g = gzopen(path, "rb");
    if (!g) return ima_error("%s: cannot open the GloVe file", path);
    size_t cap = 1 << 16;
    char *line = ima_try_malloc(cap, 1);
    if (!line) {
        gzclose(g);
        return ima_error_prefix("%s", path);
    }
    size_t lineno = 0;
    int st = IMA_OK;
    memset(found, 0, V);
    while (gzgets(g, line, (int)cap)) {
        lineno++;
        size_t len = strlen(line);
        if (len == cap - 1 && line[len - 1] != '\n') {
            st = ima_error("%s:%zu: line longer than %zu bytes", path, lineno, cap);
            break;
        }
        char *sp = strchr(line, ' ');
        if (!sp) {
            if (len <= 1) continue;
            st = ima_error("%s:%zu: expected 'word v1 ... v100'", path, lineno);
            break;
        }
        *sp = '\0';
        /* binary search in the sorted vocabulary */
        size_t lo = 0, hi = V;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp(vocab[mid], line);
            if (cmp < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo >= V || strcmp(vocab[lo], line) || found[lo]) continue;
        char *p = sp + 1, *end;
        for (int k = 0; k < IMA_EMO_WORD_DIM; k++) {
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno) {
                st = ima_error("%s:%zu: word '%s': value %d is missing or not a number (100 expected)", path, lineno,
                               line, k + 1);
                break;
            }
            vec[lo * IMA_EMO_WORD_DIM + (size_t)k] = (float)v;
            p = end;
        }
        if (st) break;
        while (*p == ' ' || *p == '\n' || *p == '\r') p++;
        if (*p) {
            st = ima_error("%s:%zu: word '%s' has more than 100 values", path, lineno, line);
            break;
        }
        found[lo] = 1;
    }
    if (!st && !gzeof(g)) {
        int errnum;
        const char *msg = gzerror(g, &errnum);
        if (errnum != Z_OK && errnum != Z_STREAM_END) st = ima_error("%s: read error (%s)", path, msg);
    }
    gzclose(g);
    free(line);
    return st;
}

/* ---- lexicon ---------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ima_emo_lexicon_mark(uint8_t *important, const ima_emo_corpus *c, const char *tsv_path, const char *const *cats) {
    FILE *f = fopen(tsv_path, "rb");
    if (!f) return ima_error("%s: cannot open the lexicon (%s)", tsv_path, strerror(errno));
    memset(important, 0, c->vocab_size);
    char *line = NULL;
    size_t cap = 0, lineno = 0, n_cats = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        char *save = NULL, *tok = strtok_r(line, "\t\r\n", &save);
        if (!tok) continue;
        int want = 0;
        for (size_t k = 0; cats[k]; k++)
            if (!strcmp(cats[k], tok)) want = 1;
        if (!want) continue;
        n_cats++;
        while ((tok = strtok_r(NULL, "\t\r\n", &save))) {
            /* Empath words are lower case; multi-word entries use '_' and match no token */
            const char *key = tok;
            char **hit = bsearch(&key, c->vocab, c->vocab_size, sizeof(char *), cmp_str);
            if (hit) important[hit - c->vocab] = 1;
        }
    }
    free(line);
    fclose(f);
    if (n_cats == 0)
        return ima_error("%s: none of the requested categories found (expected e.g. '%s')", tsv_path, cats[0]);
    return IMA_OK;
}
