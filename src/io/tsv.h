/* tsv.h: a per-epoch log (tab-separated, one header line) that survives kill -9 and --resume (internal).
 *
 * A fresh run writes the header and flushes it at once (a kill before the first epoch still leaves
 * a header). A resumed run keeps the header and the rows whose leading integer key columns
 * (e.g. round, stage, epoch) are at or before the checkpoint's position, drops the rows of epochs the
 * checkpoint does not hold (their work is redone, so they would repeat), writes the header when the
 * file lacks it, and appends from there. The rewrite is atomic (temporary file, then rename). */
#ifndef IMA_IO_TSV_H
#define IMA_IO_TSV_H

#include <stdio.h>

/* Opens PATH for appending rows. HEADER is the header line without '\n'. KEYS (n_keys values) is the
 * checkpoint's position when resuming, NULL for a fresh log (an existing file is replaced). */
int ima_tsv_log_open(FILE **out, const char *path, const char *header, const long *keys, int n_keys);

#endif
