/* speech_set.c: the set of spoken-digit utterances (real recordings and synthesized), the two
 * readers for real corpora (FSDD-style file names, or a manifest) and the speaker split.
 * Dimensions: n utterances, 696 MFCC values each, S speakers. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/speech_internal.h"
#include "ima/audio.h"
#include "ima/common.h"
#include "io/file.h"
#include "ima/digits.h"

const char *const ima_split_names[IMA_NUM_SPLITS] = {"train", "valid", "test"};

void ima_speech_set_free(ima_speech_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->name[i]);
    for (size_t i = 0; i < s->n_speakers; i++) free(s->speakers[i].name);
    for (size_t i = 0; i < s->n_sources; i++) {
        free(s->sources[i].kind);
        free(s->sources[i].path);
    }
    for (size_t i = 0; i < s->n_skipped; i++) {
        free(s->skipped[i].path);
        free(s->skipped[i].reason);
    }
    free(s->feat);
    free(s->label);
    free(s->speaker);
    free(s->name);
    free(s->split);
    free(s->speakers);
    free(s->sources);
    free(s->skipped);
    memset(s, 0, sizeof *s);
}

/* *p (an array of n elements of size bytes) grown to n + 1; IMA_ERR (and *p kept) when memory runs out */
static int grow_one(void *p, size_t n, size_t size) {
    void **pp = p;
    void *q = ima_try_realloc(*pp, n + 1, size);
    if (!q) return IMA_ERR;
    *pp = q;
    return IMA_OK;
}

int ima_speech_set_add_source(ima_speech_set *s, const char *kind, const char *path) {
    char *k = ima_try_strdup(kind), *p = k ? ima_try_strdup(path) : NULL;
    if (!p || grow_one(&s->sources, s->n_sources, sizeof *s->sources)) {
        free(k), free(p);
        return ima_error_prefix("%s: source %s", __func__, path);
    }
    s->sources[s->n_sources] = (ima_speech_source){k, p, 0, 0};
    return (int)s->n_sources++;
}

/* the speaker's index, added if new; -1 when memory runs out */
static int32_t speaker_index(ima_speech_set *s, const char *name, int source) {
    for (size_t i = s->n_speakers; i-- > 0;) /* newest first: files come grouped */
        if (s->speakers[i].source == source && !strcmp(s->speakers[i].name, name)) return (int32_t)i;
    if (s->n_speakers >= INT32_MAX) return ima_error("%s: more than 2^31 speakers", __func__);
    char *copy = ima_try_strdup(name);
    if (!copy || grow_one(&s->speakers, s->n_speakers, sizeof *s->speakers)) {
        free(copy);
        return ima_error_prefix("speaker %s", name);
    }
    s->speakers[s->n_speakers] = (ima_speaker){copy, source};
    return (int32_t)s->n_speakers++;
}

int ima_speech_set_push(ima_speech_set *s, const float *feat, int label, const char *speaker, int source,
                        const char *name) {
    if (label < 0 || label >= IMA_NUM_DIGITS || source < 0 || (size_t)source >= s->n_sources)
        return ima_error("%s: digit %d, source %d: expected a digit 0..%d and a source below %zu", name ? name : "speech",
                         label, source, IMA_NUM_DIGITS - 1, s->n_sources);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        void *q;
        /* each array grows in turn; one that fails leaves the others larger, which is harmless */
        if (!(q = ima_try_realloc(s->feat, cap, IMA_SPEECH_DIM * sizeof(float)))) goto oom;
        s->feat = q;
        if (!(q = ima_try_realloc(s->label, cap, 1))) goto oom;
        s->label = q;
        if (!(q = ima_try_realloc(s->speaker, cap, sizeof(int32_t)))) goto oom;
        s->speaker = q;
        if (!(q = ima_try_realloc(s->name, cap, sizeof(char *)))) goto oom;
        s->name = q;
        if (!(q = ima_try_realloc(s->split, cap, 1))) goto oom;
        s->split = q;
        s->cap = cap;
    }
    int32_t spk = speaker_index(s, speaker, source);
    char *copy = spk >= 0 ? ima_try_strdup(name) : NULL;
    if (!copy) goto oom;
    memcpy(s->feat + s->n * IMA_SPEECH_DIM, feat, IMA_SPEECH_DIM * sizeof(float));
    s->label[s->n] = (uint8_t)label;
    s->speaker[s->n] = spk;
    s->name[s->n] = copy;
    s->split[s->n] = IMA_SPLIT_TRAIN;
    s->n++;
    s->sources[source].n_ok++;
    return IMA_OK;
oom:
    return ima_error_prefix("%s: utterance %zu (%s)", __func__, s->n + 1, name);
}

int ima_speech_set_skip(ima_speech_set *s, int source, const char *path, const char *reason) {
    char *p = ima_try_strdup(path), *r = p ? ima_try_strdup(reason) : NULL;
    if (!r || grow_one(&s->skipped, s->n_skipped, sizeof *s->skipped)) {
        free(p), free(r);
        return ima_error_prefix("%s: %s", __func__, path);
    }
    s->skipped[s->n_skipped++] = (ima_skipped){p, r};
    s->sources[source].n_skipped++;
    return IMA_OK;
}

/* ---- real recordings --------------------------------------------------------------------------- */

int ima_fsdd_parse_name(const char *filename, int *digit, char *speaker, size_t cap) {
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    if (!isdigit((unsigned char)base[0]) || base[1] != '_') return -1;
    const char *sp = base + 2, *us = strchr(sp, '_');
    if (!us || us == sp || (size_t)(us - sp) >= cap) return -1;
    const char *ix = us + 1, *dot = strrchr(ix, '.');
    if (!dot || dot == ix) return -1;
    for (const char *p = ix; p < dot; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    if (!dot[1]) return -1;
    *digit = base[0] - '0';
    memcpy(speaker, sp, (size_t)(us - sp));
    speaker[us - sp] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* one recording: features, or a skip entry with the reason; IMA_ERR only when memory runs out */
static int add_recording(ima_speech_set *s, ima_mfcc *m, int source, const char *path, int digit,
                          const char *speaker) {
    float feat[IMA_SPEECH_DIM];
    int limited = 0;
    if (ima_speech_features_band(m, feat, path, s->bandwidth_hz, &limited)) {
        if (ima_error_is_oom()) return IMA_ERR; /* not the file's fault: the build stops */
        /* the entry names the file: keep the reason only ("PATH: why" -> "why") */
        const char *why = ima_last_error();
        size_t n = strlen(path);
        while (!strncmp(why, path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
        char reason[1024];
        snprintf(reason, sizeof reason, "%s", why); /* the skip may set a new error */
        return ima_speech_set_skip(s, source, path, reason);
    }
    if (ima_speech_set_push(s, feat, digit, speaker, source, path)) return IMA_ERR;
    s->n_band_limited += (size_t)limited;
    return IMA_OK;
}

int ima_speech_add_dir(ima_speech_set *s, ima_mfcc *m, const char *dir, ima_progress_fn fn, void *ctx) {
    DIR *d = opendir(dir);
    if (!d) return ima_error("%s: cannot open recordings folder: %s", dir, strerror(errno));
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    int rc = IMA_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden files */
        size_t pl = strlen(dir) + strlen(e->d_name) + 2;
        char *path = ima_try_malloc(pl, 1);
        if (!path) {
            rc = ima_error_prefix("%s", dir);
            break;
        }
        snprintf(path, pl, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **grown = ima_try_realloc(names, cap ? 2 * cap : 1024, sizeof *names);
            if (!grown) {
                free(path);
                rc = ima_error_prefix("%s: %zu file names", dir, n);
                break;
            }
            names = grown;
            cap = cap ? 2 * cap : 1024;
        }
        names[n++] = path;
    }
    closedir(d);
    if (!rc && n == 0) rc = ima_error("%s: no recordings in this folder", dir);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    /* every name must carry a label before any audio is read */
    char speaker[256];
    int digit;
    for (size_t i = 0; i < n && !rc; i++)
        if (ima_fsdd_parse_name(names[i], &digit, speaker, sizeof speaker))
            rc = ima_error("%s: unlabelled file name: expected {digit}_{speaker}_{index}.wav (FSDD naming), "
                           "or list the recordings in a manifest (--manifest)",
                           names[i]);
    int src = rc ? -1 : ima_speech_set_add_source(s, "dir", dir);
    if (!rc && src < 0) rc = IMA_ERR;
    if (!rc) {
        for (size_t i = 0; i < n && !rc; i++) {
            ima_fsdd_parse_name(names[i], &digit, speaker, sizeof speaker);
            rc = add_recording(s, m, src, names[i], digit, speaker);
            if (fn) fn(ctx, i + 1, n);
        }
        if (!rc && s->sources[src].n_ok == 0) rc = ima_error("%s: none of the %zu recordings could be used", dir, n);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int ima_speech_add_manifest(ima_speech_set *s, ima_mfcc *m, const char *manifest, ima_progress_fn fn, void *ctx) {
    FILE *f = ima_fopen_regular(manifest, NULL); /* a folder or a FIFO is refused here, by name */
    if (!f) return ima_error_prefix("manifest");
    /* folder of the manifest, for relative paths */
    char base[4096];
    snprintf(base, sizeof base, "%s", manifest);
    char *slash = strrchr(base, '/');
    if (slash) slash[1] = '\0';
    else base[0] = '\0';
    typedef struct {
        int digit;
        char *speaker, *path;
    } entry;
    entry *ents = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = IMA_OK;
    while (!rc && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2 || strchr(t2 + 1, '\t')) {
            rc = ima_error("%s:%zu: expected label<TAB>speaker<TAB>path", manifest, lineno);
            break;
        }
        *t1 = *t2 = '\0';
        if (!(strlen(line) == 1 && isdigit((unsigned char)line[0]))) {
            rc = ima_error("%s:%zu: label: expected a digit 0..9, got '%s'", manifest, lineno, line);
            break;
        }
        if (!t1[1] || !t2[1]) {
            rc = ima_error("%s:%zu: empty %s", manifest, lineno, !t1[1] ? "speaker" : "path");
            break;
        }
        if (n == cap) {
            entry *grown = ima_try_realloc(ents, cap ? 2 * cap : 256, sizeof *ents);
            if (!grown) {
                rc = ima_error_prefix("%s:%zu", manifest, lineno);
                break;
            }
            ents = grown;
            cap = cap ? 2 * cap : 256;
        }
        const char *p = t2 + 1;
        size_t pl = strlen(base) + strlen(p) + 1;
        char *path = ima_try_malloc(pl, 1), *spk = ima_try_strdup(t1 + 1);
        if (!path || !spk) {
            free(path), free(spk);
            rc = ima_error_prefix("%s:%zu", manifest, lineno);
            break;
        }
        snprintf(path, pl, "%s%s", p[0] == '/' ? "" : base, p);
        ents[n++] = (entry){line[0] - '0', spk, path};
    }
    free(line);
    fclose(f);
    if (!rc && n == 0) rc = ima_error("%s: the manifest lists no recordings", manifest);
    int src = rc ? -1 : ima_speech_set_add_source(s, "manifest", manifest);
    if (!rc && src < 0) rc = IMA_ERR;
    if (!rc) {
        for (size_t i = 0; i < n && !rc; i++) {
            rc = add_recording(s, m, src, ents[i].path, ents[i].digit, ents[i].speaker);
            if (fn) fn(ctx, i + 1, n);
        }
        if (!rc && s->sources[src].n_ok == 0)
            rc = ima_error("%s: none of the %zu recordings could be used", manifest, n);
    }
    for (size_t i = 0; i < n; i++) {
        free(ents[i].speaker);
        free(ents[i].path);
    }
    free(ents);
    return rc;
}

/* ---- the speaker split ------------------------------------------------------------------------- */

static int in_list(const char *name, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, list[i])) return 1;
    return 0;
}

/* counts of a split by fractions: each >= 1 when total >= 3, summing to total */
static void split_counts(size_t out[IMA_NUM_SPLITS], size_t total, const double frac[IMA_NUM_SPLITS]) {
    out[IMA_SPLIT_VALID] = (size_t)(frac[IMA_SPLIT_VALID] * (double)total + 0.5);
    out[IMA_SPLIT_TEST] = (size_t)(frac[IMA_SPLIT_TEST] * (double)total + 0.5);
    if (total >= 3) {
        if (out[IMA_SPLIT_VALID] == 0) out[IMA_SPLIT_VALID] = 1;
        if (out[IMA_SPLIT_TEST] == 0) out[IMA_SPLIT_TEST] = 1;
    }
    while (out[IMA_SPLIT_VALID] + out[IMA_SPLIT_TEST] + (total >= 3) > total) {
        if (out[IMA_SPLIT_VALID] >= out[IMA_SPLIT_TEST] && out[IMA_SPLIT_VALID] > 0) out[IMA_SPLIT_VALID]--;
        else out[IMA_SPLIT_TEST]--;
    }
    out[IMA_SPLIT_TRAIN] = total - out[IMA_SPLIT_VALID] - out[IMA_SPLIT_TEST];
}

int ima_speech_split(ima_speech_set *s, const char *const *valid, size_t n_valid, const char *const *test,
                     size_t n_test, int strict_names, const double frac[IMA_NUM_SPLITS], ima_rng *rng) {
    for (size_t i = 0; i < n_valid; i++)
        if (in_list(valid[i], test, n_test))
            return ima_error("speaker '%s' is named for both the valid and the test split", valid[i]);
    if (strict_names) {
        for (size_t k = 0; k < n_valid + n_test; k++) {
            const char *nm = k < n_valid ? valid[k] : test[k - n_valid];
            int found = 0;
            for (size_t i = 0; i < s->n_speakers && !found; i++) found = !strcmp(s->speakers[i].name, nm);
            if (!found) return ima_error("speaker '%s' (named for a split) is in none of the speech sources", nm);
        }
    }
    int8_t *spk_split = ima_try_malloc(s->n_speakers ? s->n_speakers : 1, 1); // (S)
    size_t *ids = ima_try_malloc(s->n ? s->n : 1, sizeof(size_t)); // (n) speakers, then utterances
    if (!spk_split || !ids) {
        free(spk_split), free(ids);
        return ima_error_prefix("%s: %zu utterances", __func__, s->n);
    }
    for (size_t src = 0; src < s->n_sources; src++) {
        size_t ns = 0, named = 0;
        for (size_t i = 0; i < s->n_speakers; i++) {
            if (s->speakers[i].source != (int)src) continue;
            ns++;
            const char *nm = s->speakers[i].name;
            spk_split[i] = in_list(nm, valid, n_valid) ? IMA_SPLIT_VALID
                           : in_list(nm, test, n_test) ? IMA_SPLIT_TEST
                                                       : IMA_SPLIT_TRAIN;
            named += spk_split[i] != IMA_SPLIT_TRAIN;
        }
        if (named) continue;
        if (ns >= 3) { /* speakers at random, by the fractions */
            size_t k = 0, cnt[IMA_NUM_SPLITS]; /* ns <= n: every speaker has an utterance */
            for (size_t i = 0; i < s->n_speakers; i++)
                if (s->speakers[i].source == (int)src) ids[k++] = i;
            ima_rng_shuffle(rng, ids, ns);
            split_counts(cnt, ns, frac);
            for (size_t j = 0; j < ns; j++)
                spk_split[ids[j]] = j < cnt[IMA_SPLIT_TRAIN]                          ? IMA_SPLIT_TRAIN
                                    : j < cnt[IMA_SPLIT_TRAIN] + cnt[IMA_SPLIT_VALID] ? IMA_SPLIT_VALID
                                                                                      : IMA_SPLIT_TEST;
        } else { /* too few speakers: utterances at random, by the fractions, per digit */
            for (size_t i = 0; i < s->n_speakers; i++)
                if (s->speakers[i].source == (int)src) spk_split[i] = -1;
        }
    }
    for (size_t i = 0; i < s->n; i++) s->split[i] = spk_split[s->speaker[i]];
    /* utterances of small sources (split -1): per source and digit, shuffled and cut */
    for (size_t src = 0; src < s->n_sources; src++)
        for (int d = 0; d < IMA_NUM_DIGITS; d++) {
            size_t k = 0, cnt[IMA_NUM_SPLITS];
            for (size_t i = 0; i < s->n; i++)
                if (s->split[i] < 0 && s->speakers[s->speaker[i]].source == (int)src && s->label[i] == d) ids[k++] = i;
            if (!k) continue;
            ima_rng_shuffle(rng, ids, k);
            split_counts(cnt, k, frac);
            for (size_t j = 0; j < k; j++)
                s->split[ids[j]] = j < cnt[IMA_SPLIT_TRAIN]                          ? IMA_SPLIT_TRAIN
                                   : j < cnt[IMA_SPLIT_TRAIN] + cnt[IMA_SPLIT_VALID] ? IMA_SPLIT_VALID
                                                                                     : IMA_SPLIT_TEST;
        }
    free(ids);
    free(spk_split);
    return IMA_OK;
}

/* ---- bandwidth --------------------------------------------------------------------------------- */

static void scan_one(ima_speech_set *s, const char *path) {
    int rate = 0;
    if (ima_audio_rate(path, &rate) || rate < IMA_AUDIO_MIN_RATE || rate > IMA_AUDIO_MAX_RATE) return;
    if (!s->lowest_rate || rate < s->lowest_rate) s->lowest_rate = rate;
}

int ima_speech_scan_bandwidth(ima_speech_set *s, const char *src, int is_manifest) {
    if (!is_manifest) {
        DIR *d = opendir(src);
        if (!d) return ima_error("%s: cannot open recordings folder: %s", src, strerror(errno));
        struct dirent *e;
        char path[8192];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", src, e->d_name);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) scan_one(s, path);
        }
        closedir(d);
    } else {
        FILE *f = ima_fopen_regular(src, NULL);
        if (!f) return ima_error_prefix("manifest");
        char base[4096], path[8192];
        snprintf(base, sizeof base, "%s", src);
        char *slash = strrchr(base, '/');
        if (slash) slash[1] = '\0';
        else base[0] = '\0';
        char *line = NULL;
        size_t lcap = 0;
        ssize_t len;
        while ((len = getline(&line, &lcap, f)) >= 0) { /* lines the add function would refuse are skipped here */
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
            char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (line[0] == '#' || !t2 || !t2[1]) continue;
            snprintf(path, sizeof path, "%s%s", t2[1] == '/' ? "" : base, t2 + 1);
            scan_one(s, path);
        }
        free(line);
        fclose(f);
    }
    double cap = IMA_SPEECH_RATE / 2.0, bw = s->lowest_rate ? s->lowest_rate / 2.0 : cap;
    if (bw > cap) bw = cap;
    if (!(s->bandwidth_hz > 0) || bw < s->bandwidth_hz) s->bandwidth_hz = bw;
    return IMA_OK;
}
