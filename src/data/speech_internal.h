/* speech_internal.h: helpers shared by the speech sources of libima (not public). */
#ifndef IMA_DATA_SPEECH_INTERNAL_H
#define IMA_DATA_SPEECH_INTERNAL_H

#include "ima/digits.h"

/* Appends one utterance: feat (696) raw MFCC, its digit, speaker name (added to the speaker
 * list on first use, per source) and a name (path or description). IMA_ERR (the set unchanged
 * but for spare capacity) when memory runs out. */
int ima_speech_set_push(ima_speech_set *s, const float *feat, int label, const char *speaker, int source,
                        const char *name);
/* Records a skipped recording (counted in its source and listed in the manifest); IMA_ERR when
 * memory runs out. */
int ima_speech_set_skip(ima_speech_set *s, int source, const char *path, const char *reason);
/* Appends a source; returns its index, or IMA_ERR (-1) when memory runs out. */
int ima_speech_set_add_source(ima_speech_set *s, const char *kind, const char *path);

#endif
