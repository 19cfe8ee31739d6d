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

/* ---- a command's outputs, all or none ---------------------------------------------------------
 * A command that writes several files stages each one under a unique name beside its final path
 * ("FINAL.part.XXXXXX", created empty so that the name is reserved), writes it there with any writer,
 * then commits: every staged file is renamed into place only when all were written; abort (or a
 * failed commit) removes every staged file, so a failure leaves none of the outputs half-done or
 * mixed with an older run's. */
#define IMA_OUTSET_MAX 64
typedef struct {
    int n;
    char *final[IMA_OUTSET_MAX];  // destinations (owned copies)
    char *staged[IMA_OUTSET_MAX]; // where the writer writes (owned)
} ima_outset;

void ima_outset_init(ima_outset *s);
/* Reserves a staged name for FINAL; returns it (valid until commit/abort), or NULL with an error
 * naming FINAL (its folder missing or not writable). */
const char *ima_outset_add(ima_outset *s, const char *final);
/* Renames every staged file into place; on error the rest are removed and IMA_ERR is returned. */
int ima_outset_commit(ima_outset *s);
/* Removes every staged file (safe after commit: then nothing is left to remove). */
void ima_outset_abort(ima_outset *s);

/* Creates folder DIR and its missing parents with mode 0777 & ~umask (like mkdir -p); an existing
 * folder is fine. Errors name the part that could not be made and why. */
int ima_mkdirs(const char *dir);
/* Removes PATH.tmp.XXXXXX files left by killed writers of PATH (six-character suffix, regular
 * files only); returns how many were removed. */
int ima_atomic_clean_stale(const char *path);

#endif
