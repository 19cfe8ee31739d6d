/* atomic.c: write-to-temporary-then-rename (see atomic.h). POSIX only. */
#define _POSIX_C_SOURCE 200809L

#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "ima/common.h"

int ima_atomic_open(ima_atomic_file *a, const char *path) {
    static const char suffix[] = ".tmp.XXXXXX";
    a->path = path;
    a->fd = -1;
    size_t n = strlen(path);
    if (!(a->tmp = ima_try_malloc(n + sizeof suffix, 1))) return ima_error_prefix("%s", path);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, suffix, sizeof suffix);
    a->fd = mkstemp(a->tmp);
    if (a->fd < 0) {
        int e = errno;
        free(a->tmp);
        a->tmp = NULL;
        return ima_error("%s: cannot create a temporary file next to it (%s); check that the folder "
                         "exists and is writable",
                         path, strerror(e));
    }
    /* mkstemp creates mode 0600; give the file the mode open(path, O_CREAT, 0666) would have.
     * umask can only be read by setting it, so it is restored at once. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(a->fd, 0666 & ~mask) != 0) {
        int e = errno;
        ima_atomic_abort(a);
        return ima_error("%s: cannot set the permissions of the temporary file: %s", path, strerror(e));
    }
    return IMA_OK;
}

int ima_atomic_write(ima_atomic_file *a, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            return ima_error("%s: write failed: %s", a->path, w < 0 ? strerror(errno) : "no progress");
        }
        p += w;
        n -= (size_t)w;
    }
    return IMA_OK;
}

/* The rename is durable only once the folder entry is on disk too. Best effort: the new file
 * is already in place, so a failure here is not reported as a failed write. */
static void fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char dir[4096]; /* no allocation: nothing here may fail the write (a longer folder is not synced) */
    if (n >= sizeof dir) return;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int ima_atomic_commit(ima_atomic_file *a) {
    if (fsync(a->fd) != 0) {
        int e = errno;
        ima_atomic_abort(a);
        return ima_error("%s: fsync failed: %s", a->path, strerror(e));
    }
    int rc = close(a->fd);
    a->fd = -1;
    if (rc != 0) {
        int e = errno;
        ima_atomic_abort(a);
        return ima_error("%s: close failed: %s", a->path, strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        int e = errno;
        ima_atomic_abort(a);
        return ima_error("%s: cannot move the finished file into place: %s", a->path, strerror(e));
    }
    free(a->tmp);
    a->tmp = NULL;
    fsync_parent_dir(a->path);
    return IMA_OK;
}

void ima_atomic_abort(ima_atomic_file *a) {
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    if (a->tmp) {
        unlink(a->tmp);
        free(a->tmp);
        a->tmp = NULL;
    }
}

/* ---- output sets ------------------------------------------------------------------------------ */

void ima_outset_init(ima_outset *s) { memset(s, 0, sizeof *s); }

const char *ima_outset_add(ima_outset *s, const char *final) {
    static const char suffix[] = ".part.XXXXXX";
    IMA_ASSERT(s->n < IMA_OUTSET_MAX); /* a fixed number of outputs per command */
    size_t n = strlen(final);
    char *f = ima_try_malloc(n + 1, 1), *t = ima_try_malloc(n + sizeof suffix, 1);
    if (!f || !t) {
        free(f);
        free(t);
        ima_error_prefix("%s", final);
        return NULL;
    }
    memcpy(f, final, n + 1);
    memcpy(t, final, n);
    memcpy(t + n, suffix, sizeof suffix);
    int fd = mkstemp(t);
    if (fd < 0) {
        int e = errno;
        free(f);
        free(t);
        ima_error("%s: cannot write here: %s", final, strerror(e));
        return NULL;
    }
    close(fd);
    s->final[s->n] = f;
    s->staged[s->n] = t;
    s->n++;
    return t;
}

int ima_outset_commit(ima_outset *s) {
    /* what could make a rename fail is checked for every file before the first one moves */
    for (int i = 0; i < s->n; i++) {
        struct stat st;
        if (lstat(s->final[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            ima_error("%s: is a folder; cannot replace it with the output file", s->final[i]);
            ima_outset_abort(s);
            return IMA_ERR;
        }
    }
    for (int i = 0; i < s->n; i++) {
        if (rename(s->staged[i], s->final[i]) != 0) {
            int e = errno;
            ima_error("%s: cannot move the finished file into place: %s", s->final[i], strerror(e));
            /* the ones already renamed are whole files; the rest are removed */
            for (int k = 0; k < i; k++) free(s->staged[k]), s->staged[k] = NULL;
            ima_outset_abort(s);
            return IMA_ERR;
        }
        fsync_parent_dir(s->final[i]);
        free(s->staged[i]);
        s->staged[i] = NULL;
    }
    ima_outset_abort(s); /* frees the names */
    return IMA_OK;
}

void ima_outset_abort(ima_outset *s) {
    for (int i = 0; i < s->n; i++) {
        if (s->staged[i]) unlink(s->staged[i]);
        free(s->staged[i]);
        free(s->final[i]);
    }
    memset(s, 0, sizeof *s);
}

/* ---- folders ---------------------------------------------------------------------------------- */

int ima_mkdirs(const char *dir) {
    size_t n = strlen(dir);
    char *p = ima_try_malloc(n + 1, 1);
    if (!p) return ima_error_prefix("%s", dir);
    memcpy(p, dir, n + 1);
    int rc = IMA_OK;
    for (size_t i = 1; i <= n && rc == IMA_OK; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0) {
            int e = errno;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = ima_error("%s: cannot create the folder %s: %s", dir, p,
                               e == EEXIST ? "a file of that name is in the way" : strerror(e));
        }
        p[i] = c;
    }
    free(p);
    return rc;
}

int ima_atomic_clean_stale(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dn = slash ? (size_t)(slash - path) : 0, bn = strlen(base);
    char dir[4096];
    if (dn + 2 > sizeof dir) return 0;
    if (slash) {
        memcpy(dir, path, dn ? dn : 1);
        dir[dn ? dn : 1] = '\0';
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, bn) || strncmp(nm + bn, ".tmp.", 5) || strlen(nm + bn + 5) != 6) continue;
        char full[8192];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", dir, nm);
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && unlink(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}
