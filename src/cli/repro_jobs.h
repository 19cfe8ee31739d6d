/* repro_jobs.h: the seeds of `ima repro digits --seeds` as processes running at once (repro_jobs.c). */
#ifndef IMA_CLI_REPRO_JOBS_H
#define IMA_CLI_REPRO_JOBS_H

#include <stdint.h>

typedef struct {
    const uint64_t *seeds;
    int n_seeds;
    int jobs;             // seeds running at once (>= 1)
    int sweep;            // the first seed runs the rho sweep (--n-rho > 0): the others at nice +2
    int reuse;            // --reuse-seeds: a seed whose OUT/seed-S/results.json exists is not rerun
    const char *out;      // OUT: each seed into OUT/seed-S, its lines into OUT/seed-S.log
    const char *data;     // the corpus folder (built before)
    int argc;             // the repro command's words from "digits" on: the children keep its other flags
    char **argv;
    double report_every;  // seconds between progress lines
    double *wall_seconds; // out: wall time of the seeds that ran
} repro_jobs_spec;

/* Runs every seed not reused as `ima repro digits ... --seed S --out OUT/seed-S --threads 1` (the rho
 * sweep for the first seed only), at most `jobs` at once. Returns 0 when every seed finished; else 1
 * after an error on stderr naming the seed and its log (the other seeds are stopped). */
int repro_seed_jobs(const repro_jobs_spec *s);

#endif
