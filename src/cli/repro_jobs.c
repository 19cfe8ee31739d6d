/* repro_jobs.c: `ima repro digits --seeds S1,S2,... --jobs J`: the seeds as J processes at once.
 * Why processes: on this model's narrow layers one OpenBLAS thread per process uses the cores better
 * than two threads in one process (measured: two one-thread trainings finish 1.25x (IMA) to 1.54x
 * (MVAE) more work per second than one two-thread training), and the single-threaded steps (the
 * calibration's EM, the k-NN of the retrieval, t-SNE, the classifier) run beside each other. With more
 * seeds than cores the kernel shares the cores fairly, so an odd seed count does not leave one idle.
 * The first seed, which alone runs the rho sweep, keeps the parent's priority; the others run at nice +2.
 * Each child is this executable with the same flags, one seed, one thread and OUT/seed-S as its folder;
 * its lines go to OUT/seed-S.log. The summary then reads every seed's results.json (--reuse-seeds). */
#define _POSIX_C_SOURCE 200809L
#include "cli/repro_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the flags a child must not inherit: it gets its own seed, folder, thread count and no seed list */
static int dropped(const char *a, int *takes_value) {
    static const char *const WITH_VALUE[] = {"--seeds", "--jobs", "--shared", "--seed", "--out", "--threads", NULL};
    *takes_value = 0;
    if (arg_is(a, "--reuse-seeds")) return 1;
    for (int k = 0; WITH_VALUE[k]; k++)
        if (arg_is(a, WITH_VALUE[k])) {
            *takes_value = !strchr(a, '='); /* "--flag value": the value is the next word */
            return 1;
        }
    return 0;
}

/* the last line of a child's log (for the parent's progress lines); "" when there is none yet */
static void last_line(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char tail[4096];
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f), start = end > (long)sizeof tail - 1 ? end - (long)sizeof tail + 1 : 0;
        if (end > 0 && fseek(f, start, SEEK_SET) == 0) {
            size_t n = fread(tail, 1, (size_t)(end - start), f);
            tail[n] = '\0';
            /* progress bars rewrite their line with \r: the text after the last \r or \n that has any */
            while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) tail[--n] = '\0';
            char *p = tail + n;
            while (p > tail && p[-1] != '\n' && p[-1] != '\r') p--;
            size_t len = strlen(p) < cap - 1 ? strlen(p) : cap - 1;
            memcpy(buf, p, len);
            buf[len] = '\0';
        }
    }
    fclose(f);
}

typedef struct {
    pid_t pid;
    int started, done, status;
    double t0, seconds;
    char dir[4096], log[4200];
} seed_job;

/* fork + exec of this executable for one seed; its output into job->log */
static int start_child(seed_job *job, const char *self, char **args, int niceness) {
    int fd = open(job->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        fprintf(stderr, "ima repro: %s: cannot create the seed's log (%s)\n", job->log, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ima repro: cannot start a process for %s (%s)\n", job->dir, strerror(errno));
        close(fd);
        return -1;
    }
    if (pid == 0) { /* only async-signal-safe calls until exec */
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* the parent killed: the seeds stop too */
        if (getppid() != parent) _exit(127);
        if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(127);
        if (niceness) setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + niceness);
        execv(self, args);
        _exit(127);
    }
    close(fd);
    job->pid = pid;
    job->started = 1;
    job->t0 = now();
    return 0;
}

int repro_seed_jobs(const repro_jobs_spec *s) {
    int n = s->n_seeds;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "ima repro: cannot find the ima executable to run the seeds\n");
        return 1;
    }
    self[sl] = '\0';
    if (mkdir(s->out, 0777) && errno != EEXIST) {
        fprintf(stderr, "ima repro: %s: cannot create the output folder (%s)\n", s->out, strerror(errno));
        return 1;
    }
    seed_job *jobs = calloc((size_t)n, sizeof *jobs);
    /* child argv: self repro digits <kept flags> --data D --seed S --out DIR --threads 1 [--n-rho 0] */
    char **args = calloc((size_t)s->argc + 16, sizeof *args);
    if (!jobs || !args) {
        free(jobs), free(args);
        fprintf(stderr, "ima repro: out of memory\n");
        return 1;
    }
    int na = 0;
    args[na++] = self;
    args[na++] = "repro";
    args[na++] = "digits";
    for (int i = 1; i < s->argc; i++) {
        int takes;
        if (s->argv[i][0] == '-' && dropped(s->argv[i], &takes)) {
            i += takes;
            continue;
        }
        args[na++] = s->argv[i];
    }
    const int base = na;
    char seed_s[32];
    int to_run = 0;
    for (int k = 0; k < n; k++) {
        snprintf(jobs[k].dir, sizeof jobs[k].dir, "%s/seed-%llu", s->out, (unsigned long long)s->seeds[k]);
        snprintf(jobs[k].log, sizeof jobs[k].log, "%s/seed-%llu.log", s->out, (unsigned long long)s->seeds[k]);
        char res[4300];
        snprintf(res, sizeof res, "%s/results.json", jobs[k].dir);
        struct stat st;
        if (s->reuse && stat(res, &st) == 0) {
            fprintf(stderr, "repro: seed %llu: reusing %s (--reuse-seeds)\n", (unsigned long long)s->seeds[k], res);
            jobs[k].done = 1;
        } else {
            to_run++;
        }
    }
    int sweep_runs = !jobs[0].done && s->sweep;
    fprintf(stderr, "repro: %d seed%s to run, %d at once, each a process with one OpenBLAS thread; logs in %s/seed-S.log\n",
            to_run, to_run == 1 ? "" : "s", s->jobs < to_run ? s->jobs : to_run, s->out);
    double t_all = now(), last_report = t_all;
    int running = 0, failed = 0, next = 0;
    while (1) {
        /* start seeds while slots are free (none after a failure: the run is incomplete anyway) */
        while (!failed && running < s->jobs && next < n) {
            seed_job *j = &jobs[next];
            if (j->done) {
                next++;
                continue;
            }
            na = base;
            snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)s->seeds[next]);
            args[na++] = "--data", args[na++] = (char *)s->data;
            args[na++] = "--seed", args[na++] = seed_s;
            args[na++] = "--out", args[na++] = j->dir;
            args[na++] = "--threads", args[na++] = "1";
            if (next > 0) args[na++] = "--n-rho", args[na++] = "0"; /* the rho sweep: first seed only */
            args[na] = NULL;
            /* the first seed also runs the rho sweep (about half a seed more): the others yield to it (nice
             * +2, CFS weight 1/1.56) so that with more seeds than cores all finish about together */
            int niceness = next > 0 && sweep_runs ? 2 : 0;
            if (start_child(j, self, args, niceness)) {
                failed = 1;
                break;
            }
            fprintf(stderr, "repro: seed %s started (process %d) into %s\n", seed_s, (int)j->pid, j->dir);
            running++;
            next++;
        }
        if (running == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno != EINTR) {
            fprintf(stderr, "ima repro: waiting for the seeds failed (%s)\n", strerror(errno));
            failed = 1;
            break;
        }
        if (pid > 0) {
            for (int k = 0; k < n; k++) {
                seed_job *j = &jobs[k];
                if (!j->started || j->done || j->pid != pid) continue;
                j->done = 1, j->status = status, j->seconds = now() - j->t0;
                running--;
                int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                fprintf(stderr, "repro: seed %llu %s after %.0f s (log %s)\n", (unsigned long long)s->seeds[k],
                        ok ? "finished" : "FAILED", j->seconds, j->log);
                if (!ok) {
                    char line[512];
                    last_line(j->log, line, sizeof line);
                    fprintf(stderr, "repro: seed %llu: %s\n", (unsigned long long)s->seeds[k], line);
                    failed = 1;
                }
            }
            continue;
        }
        if (now() - last_report >= s->report_every) { /* plain progress lines: each running seed's last line */
            last_report = now();
            for (int k = 0; k < n; k++) {
                if (!jobs[k].started || jobs[k].done) continue;
                char line[512];
                last_line(jobs[k].log, line, sizeof line);
                fprintf(stderr, "repro: [%4.0f min] seed %llu: %s\n", (now() - t_all) / 60.0,
                        (unsigned long long)s->seeds[k], line);
            }
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (failed) { /* the others stop: their results would not be summarised */
        for (int k = 0; k < n; k++)
            if (jobs[k].started && !jobs[k].done) kill(jobs[k].pid, SIGTERM);
        for (int k = 0; k < n; k++)
            if (jobs[k].started && !jobs[k].done) waitpid(jobs[k].pid, NULL, 0);
    }
    double wall = now() - t_all;
    free(jobs), free(args);
    if (failed) {
        fprintf(stderr, "ima repro: a seed failed (see its log above); the seeds that finished are kept: rerun with "
                        "--reuse-seeds to run only the others\n");
        return 1;
    }
    fprintf(stderr, "repro: %d seed%s ran in %.0f s (%.1f min) wall\n", to_run, to_run == 1 ? "" : "s", wall,
            wall / 60.0);
    *s->wall_seconds = wall;
    return 0;
}
