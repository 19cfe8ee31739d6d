/* file.h: opening input files safely (internal).
 *
 * Every reader of a user-named file opens it here: the open never blocks (a FIFO or a device named
 * as input would otherwise wait forever for a writer), and anything but a regular file is refused
 * with "PATH: not a regular file (a fifo/folder/device); expected a file". The size it reports
 * bounds every size a header claims. */
#ifndef IMA_IO_FILE_H
#define IMA_IO_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Opens PATH read-only; *size receives the file's size in bytes. Returns a descriptor, or -1 with an
 * error naming PATH. */
int ima_open_regular(const char *path, size_t *size);
/* ima_open_regular as a stdio stream ("rb"); NULL with an error naming PATH. */
FILE *ima_fopen_regular(const char *path, size_t *size);
/* Reads the whole regular file PATH into a NUL-terminated buffer of at most max_bytes bytes
 * (*len receives its length); NULL with an error naming PATH when the file is larger. */
char *ima_read_text(const char *path, size_t max_bytes, size_t *len);

#endif
