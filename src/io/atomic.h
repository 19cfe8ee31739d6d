/* atomic.h: atomic file replacement, shared by the .npy and safetensors writers (internal).
 *
 * A writer opens "PATH.tmp.XXXXXX" (mkstemp, same folder as PATH so rename cannot cross a
 * file system), streams bytes into it, then commits: fsync, close, rename over PATH. Any
 * failure removes the temporary file and leaves an existing PATH untouched. Every error
 * message names PATH. */
#ifndef IMA_IO_ATOMIC_H
#define IMA_IO_ATOMIC_H

#include <stddef.h>

typedef struct {
    const char *path; // final destination (borrowed)
    char *tmp;        // "path.tmp.XXXXXX" once opened (owned)
    int fd;           // -1 when closed
} ima_atomic_file;

/* Creates the temporary file. On error nothing is left behind. */
int ima_atomic_open(ima_atomic_file *a, const char *path);
/* Appends n bytes. On error the caller must still call ima_atomic_abort. */
int ima_atomic_write(ima_atomic_file *a, const void *data, size_t n);
/* fsync + close + rename; on error the temporary file is removed (no abort needed). */
int ima_atomic_commit(ima_atomic_file *a);
/* Closes and removes the temporary file; safe after a failed open or a commit. */
void ima_atomic_abort(ima_atomic_file *a);

#endif
