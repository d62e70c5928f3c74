/*
 * spawn.h - the process runner: every external program the daemon starts
 * (sysbench, tpcc-mysql, test helpers) goes through dbp_spawn().
 *
 * Guarantees (STYLE §17):
 *   - argv array, never a shell; the program is resolved against PATH in the
 *     parent and the child is started with posix_spawn (glibc does the
 *     setsid/dup2/closefrom/chdir/exec; no code of ours runs in the child);
 *   - the child leads its own session and process group, so a stop signals
 *     the whole group (grandchildren included);
 *   - the environment is explicit (the caller's list, nothing inherited
 *     implicitly), stdin is /dev/null, every other inherited descriptor is
 *     closed at exec, the signal mask and dispositions are reset (the daemon
 *     blocks SIGTERM in every thread and ignores SIGPIPE: a child must not
 *     inherit either);
 *   - an exec failure is reported as the errno of execve, which is what
 *     posix_spawn returns ("cannot execute 'x': No such file or directory"),
 *     never guessed from exit status 127;
 *   - stdout and stderr are both drained (the tool can never stall on a full
 *     pipe) into a bounded ring of the last lines, an optional size-capped
 *     log file and an optional per-line callback;
 *   - one thread per spawner reaps exactly the pids it started (waitpid on a
 *     specific pid, woken by a pidfd), so other modules' children are never
 *     stolen; a stop is SIGTERM to the group, a grace period, then SIGKILL;
 *     when the leader exits, whatever is left of its group is killed, so a
 *     run never leaves processes behind;
 *   - dbp_spawner_stop() stops every child and waits until all are reaped.
 *
 * Strings written to the ring, the log file and the callback pass through
 * the `redact` list first, so a secret echoed by a tool (tpcc_start prints
 * its password) never reaches a log.
 */
#ifndef DBP_SPAWN_H
#define DBP_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dbp/err.h"

struct dbp_spawner;
struct dbp_proc;

enum dbp_stream { DBP_STDOUT = 1, DBP_STDERR = 2 };

/* Final state of a child, filled once it has been reaped and its output
 * drained. */
struct dbp_proc_status {
    bool running;         /* false once reaped */
    bool exited;          /* exited normally: see code */
    int code;             /* exit status when exited */
    int signal;           /* terminating signal when !exited && !running */
    bool stop_requested;  /* dbp_proc_stop() was called before it ended */
    bool killed;          /* the grace period ran out and SIGKILL was sent */
    pid_t pid;
    double start_wall;    /* unix seconds */
    double end_wall;      /* 0 while running */
    unsigned long lines;  /* lines captured so far (both streams) */
    unsigned long dropped;/* lines pushed out of the ring */
};

/*
 * Called on the spawner's thread for every complete line (without the
 * newline, redacted, NUL-terminated, at most DBP_SPAWN_LINE_MAX bytes; a
 * longer line is cut).  Must be quick and must not call dbp_proc_wait() or
 * dbp_spawner_stop(); it may call dbp_spawn() and dbp_proc_stop().
 */
typedef void (*dbp_spawn_line_fn)(void *cls, struct dbp_proc *p, enum dbp_stream s,
                                  const char *line);
/* Called once on the spawner's thread after the child was reaped and its
 * pipes drained; st is borrowed for the call. */
typedef void (*dbp_spawn_exit_fn)(void *cls, struct dbp_proc *p,
                                  const struct dbp_proc_status *st);

#define DBP_SPAWN_LINE_MAX 4096

struct dbp_spawn_opts {
    const char *const *argv;  /* argv[0] = path or a name looked up in PATH */
    const char *const *envp;  /* the whole environment (NULL = PATH, LANG and
                                 LC_ALL=C only); PATH=... here is used for
                                 the lookup */
    const char *cwd;          /* NULL = the daemon's */
    const char *log_path;     /* append every line here (NULL = none); created 0600 */
    size_t log_max;           /* bytes; 0 = 16 MiB */
    size_t ring_lines;        /* 0 = 2000 */
    size_t ring_bytes;        /* 0 = 1 MiB */
    int grace_ms;             /* SIGTERM -> SIGKILL delay for stops; <= 0 = 5000 */
    const char *const *redact;/* NULL-terminated secrets replaced by "***" */
    dbp_spawn_line_fn on_line;
    dbp_spawn_exit_fn on_exit;
    void *cls;                /* for both callbacks */
};

/** A runner with its reaper/reader thread.  Not started. */
struct dbp_spawner *dbp_spawner_new(void);
/** Start the thread.  0, or DBP_ENOMEM / -errno with err filled. */
int dbp_spawner_start(struct dbp_spawner *sp, struct dbp_err *err);
/**
 * Stop every child (SIGTERM to each group, the longest grace, SIGKILL),
 * wait until all are reaped (bounded: grace + 5 s), join the thread.  New
 * spawns are refused from the first call on.  Idempotent; safe after a
 * failed start.  Not from a spawner callback.
 */
void dbp_spawner_stop(struct dbp_spawner *sp);
/** Stops if needed and frees.  NULL is a no-op.  Procs still referenced by
 * callers stay valid (they are reference counted). */
void dbp_spawner_free(struct dbp_spawner *sp);
/** Number of children not reaped yet.  Thread-safe. */
int dbp_spawner_count(struct dbp_spawner *sp);

/**
 * Start a child.  On success *out is a new reference (release with
 * dbp_proc_unref) and the callbacks may already be running.  Errors:
 * DBP_ESPAWN with "cannot execute 'x': <strerror>" when the program cannot
 * be found or execve fails, DBP_EUNAVAIL when the spawner is stopping or not
 * started, DBP_EINVAL for an empty argv, DBP_ESPAWN for pipe failures.
 * The option strings are copied.  Thread-safe.
 */
int dbp_spawn(struct dbp_spawner *sp, const struct dbp_spawn_opts *o, struct dbp_proc **out,
              struct dbp_err *err);

/** Resolve a program name against a PATH string (NULL = the daemon's PATH)
 * the way dbp_spawn does: 0 and the absolute path in out, or -ENOENT /
 * -EACCES. */
int dbp_spawn_which(const char *prog, const char *path_env, char *out, size_t outsz);

struct dbp_proc *dbp_proc_ref(struct dbp_proc *p);
void dbp_proc_unref(struct dbp_proc *p);

/**
 * Ask the child to stop: SIGTERM to its process group now, SIGKILL to the
 * group after grace_ms (<= 0 = the spawn option).  Returns at once; 0, or
 * DBP_ENOTFOUND when it has already been reaped.  Thread-safe.
 */
int dbp_proc_stop(struct dbp_proc *p, int grace_ms);
/** Send a signal to the child's group (tests, "kill from outside" is done
 * with kill(2) directly).  DBP_ENOTFOUND when already reaped. */
int dbp_proc_signal(struct dbp_proc *p, int sig);
/** Wait until the child is reaped and its exit callback has returned, at
 * most timeout_ms (< 0 = forever).  True when it has.  Not from a spawner
 * callback. */
bool dbp_proc_wait(struct dbp_proc *p, int timeout_ms);
pid_t dbp_proc_pid(const struct dbp_proc *p);
bool dbp_proc_running(struct dbp_proc *p);
void dbp_proc_status(struct dbp_proc *p, struct dbp_proc_status *st);

typedef void (*dbp_proc_line_fn)(void *ud, enum dbp_stream s, const char *line);
/**
 * Call fn for the last `max` captured lines, oldest first, under the proc's
 * lock (fn must be quick and must not call back into the proc).  Returns
 * the number of lines visited.
 */
size_t dbp_proc_output(struct dbp_proc *p, size_t max, dbp_proc_line_fn fn, void *ud);

#endif
