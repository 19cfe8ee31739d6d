/* atomic.c: write-to-temporary-then-rename (see atomic.h). POSIX only. */
#define _POSIX_C_SOURCE 200809L

#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
                         "exists and is writable", path, strerror(e));
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
    char *dir = ima_try_malloc(n + 1, 1);
    if (!dir) return;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
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
