/* file.c: opening input files safely (see file.h). POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ima/common.h"

static const char *kind(mode_t m) {
    return S_ISDIR(m)                 ? "a folder"
           : S_ISFIFO(m)              ? "a fifo"
           : S_ISCHR(m) || S_ISBLK(m) ? "a device"
           : S_ISSOCK(m)              ? "a socket"
                                      : "not a plain file";
}

int ima_open_regular(const char *path, size_t *size) {
    /* O_NONBLOCK: opening a FIFO without a writer would block; it is cleared once the file is known
     * to be regular (where it has no effect anyway) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EISDIR) return ima_error("%s: is a folder; expected a file", path), -1;
        return ima_error("%s: cannot open: %s", path, strerror(e)), -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ima_error("%s: cannot stat: %s", path, strerror(e)), -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ima_error("%s: is %s, not a regular file; expected a file", path, kind(st.st_mode)), -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = (size_t)st.st_size;
    return fd;
}

FILE *ima_fopen_regular(const char *path, size_t *size) {
    int fd = ima_open_regular(path, size);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        ima_error("%s: cannot open: %s", path, strerror(e));
    }
    return f;
}

char *ima_read_text(const char *path, size_t max_bytes, size_t *len) {
    size_t size = 0;
    FILE *f = ima_fopen_regular(path, &size);
    if (!f) return NULL;
    if (size > max_bytes) {
        fclose(f);
        ima_error("%s: %zu bytes, more than the %zu this reader accepts", path, size, max_bytes);
        return NULL;
    }
    char *t = ima_try_malloc(size + 1, 1);
    if (!t) {
        fclose(f);
        ima_error_prefix("%s", path);
        return NULL;
    }
    size_t got = fread(t, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (got != size) {
        free(t);
        ima_error("%s: read error: %s", path, bad ? strerror(errno) : "short read (the file shrank)");
        return NULL;
    }
    t[size] = '\0';
    if (len) *len = size;
    return t;
}
