/* flags.h: declarative command-line flags. Each command describes its flags in ONE table (name,
 * type, target field, range, help); the same table parses argv and prints --help, and the defaults
 * shown in --help are read from the options struct the command filled with the library's defaults
 * (so the CLI keeps no copy of them).
 *
 * A flag's target is a field of the command's options struct, named by its byte offset (offsetof).
 * Per-modality flags ("--hidden image=500" or "--hidden 500" for every modality) have a stride: the
 * target of modality j is offset + j * stride. They are applied by flags_apply_modal once the command
 * knows its modalities (from --input), in command-line order.
 * A malformed value or an unknown flag is an error naming the flag: never a silent default. */
#ifndef IMA_CLI_FLAGS_H
#define IMA_CLI_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/modality_args.h"

typedef enum {
    FLAG_SECTION, /* not a flag: a heading line in --help (help = the heading) */
    FLAG_SET,     /* no value: int target = (int)lo */
    FLAG_INT,     /* int in [lo, hi] */
    FLAG_SIZE,    /* size_t in [lo, hi] */
    FLAG_LONG,    /* long in [lo, hi] */
    FLAG_FLOAT,   /* float in [lo, hi] */
    FLAG_DOUBLE,  /* double in [lo, hi] */
    FLAG_U64,     /* uint64_t, any non-negative integer */
    FLAG_STR,     /* const char *: the argv string itself */
    FLAG_CHOICE,  /* int: index of the value in choices (a NULL-terminated list) */
    FLAG_CUSTOM,  /* parse(cmd, flag, value, target) */
} flag_type;

struct flag_spec;
/* a custom parser of value into target (the flag's field; modality j's for per-modality flags): 0, or
 * prints "ima CMD: --flag: ..." and returns -1 */
typedef int (*flag_parse_fn)(const char *cmd, const struct flag_spec *f, const char *value, void *target);

typedef struct flag_spec {
    const char *name; // "--latent"; NULL ends the table
    flag_type type;
    size_t off;                 // target: offsetof(options struct, field)
    size_t stride;              // per-modality: bytes between the targets of modality j and j + 1; 0: scalar
    double lo, hi;              // range of a number; FLAG_SET: the value stored
    const char *arg;            // the value's name in --help ("N"); NULL for FLAG_SET
    const char *help;           // --help text; NULL: not listed (an alias)
    unsigned only;              // variants the flag applies to (bit mask; 0: every variant)
    const char *const *choices; // FLAG_CHOICE
    flag_parse_fn parse;        // FLAG_CUSTOM
    int named_only;             // per-modality: NAME=VALUE required (no bare VALUE for every modality)
    int no_default;             // --help shows no "(default)" for this flag
    int required;               // flags_parse refuses a command line without it
} flag_spec;

/* Table rows. A scalar flag: its target offset; a per-modality flag: offset and stride (see above). */
#define FLAG_ROW(nm, ty, offset, lo_, hi_, arg_, help_, only_)                                                         \
    {                                                                                                                  \
        .name = (nm), .type = (ty), .off = (offset), .lo = (lo_), .hi = (hi_), .arg = (arg_), .help = (help_),         \
        .only = (only_)                                                                                                \
    }
#define FLAG_MODAL(nm, ty, offset, stride_, lo_, hi_, arg_, help_, only_)                                              \
    {                                                                                                                  \
        .name = (nm), .type = (ty), .off = (offset), .stride = (stride_), .lo = (lo_), .hi = (hi_), .arg = (arg_),     \
        .help = (help_), .only = (only_)                                                                               \
    }
#define FLAG_NEEDED(nm, ty, offset, arg_, help_)                                                                       \
    { .name = (nm), .type = (ty), .off = (offset), .arg = (arg_), .help = (help_), .required = 1 }
#define FLAG_HEADING(text, only_)                                                                                      \
    { .name = "", .type = FLAG_SECTION, .help = (text), .only = (only_) }
#define FLAG_END                                                                                                       \
    { .name = NULL }

/* A command: its name in messages, its table, and its optional variant (`ima train --model`). */
typedef struct {
    const char *cmd; // "train": messages read "ima train: ..."
    const flag_spec *flags;
    const char *positional;   // name of one positional argument ("DIR"), or NULL: none allowed
    size_t positional_off;    // its target (const char *)
    unsigned variant;         // the running variant's bit (0: the command has none)
    const char *variant_name; // e.g. "mvae", for "--alpha applies to jmvae only, not to --model mvae"
    const char *(*variant_set)(unsigned only, unsigned running); // names the set `only` for a user of `running`
} flag_cmd;

#define FLAGS_MAX_OCC 256
/* What flags_parse saw: every flag occurrence in command-line order. */
typedef struct {
    int n;
    const flag_spec *spec[FLAGS_MAX_OCC];
    const char *value[FLAGS_MAX_OCC];
} flag_seen;

enum { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = 2 };

/* Parses argv[1..argc) into opts: scalar flags are applied at once, per-modality ones recorded in seen
 * (which also lists every flag given); a required flag that is missing is an error naming it.
 * --help / -h: returns FLAGS_HELP (the caller prints its help). */
int flags_parse(const flag_cmd *c, void *opts, int argc, char **argv, flag_seen *seen);
/* Applies the recorded per-modality flags for the n modalities named in `in` (their targets in opts). */
int flags_apply_modal(const flag_cmd *c, void *opts, const flag_seen *seen, const modality_inputs *in);
/* Re-applies the recorded scalar flags whose target lies in [lo, hi) (e.g. after loading a checkpoint,
 * so that given flags override what it holds). */
int flags_reapply(const flag_cmd *c, void *opts, const flag_seen *seen, size_t lo, size_t hi);
/* Was the flag given? For per-modality flags, the modalities it named (bit j), or all bits for a bare VALUE. */
int flags_given(const flag_seen *seen, const char *name);
unsigned flags_given_modal(const flag_seen *seen, const modality_inputs *in, const char *name);
/* --help: one line per flag with its default read from defaults (an options struct holding them);
 * variant != 0 lists only the flags of that variant; with FLAGS_HELP_EXCLUSIVE, only the flags restricted
 * to (some of) those variants, not the ones every variant shares. */
#define FLAGS_HELP_EXCLUSIVE 0x80000000u
void flags_help(FILE *out, const flag_cmd *c, const void *defaults, unsigned variant);

/* A comma-separated value of flag f, split (in a copy of at most bufsize - 1 characters) into 1..max tokens, each
 * handed to each(cmd, f, token, k, ctx) in order; an empty list, too many values or a value too long is an error
 * naming the flag. The one splitter behind every numeric list flag. */
typedef int (*flag_token_fn)(const char *cmd, const flag_spec *f, const char *token, size_t k, void *ctx);
int flag_each_listed(const char *cmd, const flag_spec *f, const char *value, size_t bufsize, size_t max,
                     flag_token_fn each, void *ctx);

/* "10,50": a flag_sizes target (each in [lo, hi]) */
#define FLAG_LIST_MAX 16
typedef struct {
    size_t n;
    size_t v[FLAG_LIST_MAX];
} flag_sizes;
int flag_parse_sizes(const char *cmd, const flag_spec *f, const char *value, void *target);
/* a repeatable flag: appends value to a flag_strings target */
typedef struct {
    size_t n;
    const char *v[FLAG_LIST_MAX];
} flag_strings;
int flag_parse_append(const char *cmd, const flag_spec *f, const char *value, void *target);
/* --input NAME=PATH into the modality_inputs target */
int flag_parse_input(const char *cmd, const flag_spec *f, const char *value, void *target);
/* FLAG_CHOICE list of --loss (index = ima_loss_kind) */
extern const char *const FLAG_LOSS_CHOICES[];

#endif
