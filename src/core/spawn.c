/*
 * spawn.c - the process runner (see spawn.h).
 *
 * DESIGN
 * One thread per spawner ("dbp-spawn") is both the reader and the reaper.
 * It poll()s a wake-up pipe, the stdout/stderr pipes of every child and
 * each child's pidfd (Linux >= 5.3; without pidfds it polls every 100 ms).
 * Lines are split, redacted, appended to the child's bounded ring and log
 * file, then handed to the line callback.  When a pidfd fires, the thread
 * first looks at the exit with waitid(WNOWAIT): the zombie still holds the
 * pid, so the group id cannot have been reused, and whatever is left of the
 * group is SIGKILLed before waitpid(pid) reaps the leader.  It then drains
 * the pipes (at most LINGER_MS more, in case an escaped grandchild keeps a
 * pipe open), calls the exit callback and drops the child.  Only this thread
 * calls waitpid, and only on pids it started: other modules' children are
 * never reaped here.
 *
 * dbp_spawn() itself prepares everything (resolved path, argv, envp, pipes,
 * /dev/null), then starts the child with posix_spawn(): default signals,
 * empty mask, setsid, dup2 of the three std streams, closefrom(3), chdir,
 * execve, all done by glibc (no code of ours runs in the child).  An exec
 * failure is posix_spawn's return value and glibc has already reaped that
 * child, so it never reaches the thread.
 *
 * Stops: dbp_proc_stop() sends SIGTERM to the group and sets a deadline;
 * the thread sends SIGKILL to the group when the deadline passes.
 *
 * Locks: sp->lock (child list, stopping flag) may be taken before p->lock
 * (a child's status and ring); never the other way round.  Callbacks run
 * with no lock held.  Signals to a group are sent under p->lock after
 * checking that the leader has not been reaped, and reaping happens under
 * p->lock, so a signal can never reach a recycled process group.
 */
#define _GNU_SOURCE
#include "dbp/spawn.h"
#include "dbp/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_GRACE_MS 5000
#define DEFAULT_RING_LINES 2000
#define DEFAULT_RING_BYTES (1u << 20)
#define DEFAULT_LOG_MAX (16u << 20)
#define LINGER_MS 1000      /* drain pipes this long after the leader is reaped */
#define NOPIDFD_POLL_MS 100 /* without pidfds, check exits this often */
#define STOP_EXTRA_MS 5000  /* dbp_spawner_stop waits grace + this */

struct line {
    struct line *next;
    enum dbp_stream stream;
    size_t len;
    char text[];
};

struct partial {
    char buf[DBP_SPAWN_LINE_MAX + 1];
    size_t len;
    bool skipping; /* an over-long line was cut: drop bytes to the newline */
};

struct dbp_proc {
    atomic_int refs;
    struct dbp_spawner *sp;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* Immutable after dbp_spawn(). */
    pid_t pid;
    int grace_ms;
    char **redact;
    dbp_spawn_line_fn on_line;
    dbp_spawn_exit_fn on_exit;
    void *cls;

    /* Spawner thread only. */
    int pidfd;
    int fd[2]; /* stdout, stderr read ends; -1 once closed */
    struct partial part[2];
    int log_fd;
    size_t log_max, log_written;
    bool log_full;
    uint64_t reaped_ns;
    struct dbp_proc *next; /* sp->lock */

    /* p->lock */
    struct dbp_proc_status st;
    bool reaped;
    bool done; /* exit callback returned */
    uint64_t kill_at_ns;
    struct line *head, *tail;
    size_t nlines, nbytes, ring_lines, ring_bytes;
};

struct dbp_spawner {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a child is dropped */
    struct dbp_proc *procs;
    int nprocs;
    int inflight; /* dbp_spawn() calls between the check and the list insert */
    int wake[2];
    pthread_t thread;
    bool started;
    bool stopping;
    bool quit; /* thread: leave now */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t mono_ms_to_ns(int ms)
{
    return (uint64_t)ms * 1000000ull;
}

static void wake(struct dbp_spawner *sp)
{
    if (sp->wake[1] >= 0) {
        char c = 1;
        ssize_t r = write(sp->wake[1], &c, 1);
        (void)r; /* a full pipe already means "wake up" */
    }
}

/* fd >= 3 and close-on-exec, so dup2() onto 0/1/2 in the child never
 * becomes a no-op and nothing leaks into the exec'd program. */
static int fd_high(int fd)
{
    if (fd >= 3)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

static int pipe_high(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return errno;
    p[0] = fd_high(p[0]);
    p[1] = fd_high(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        int e = errno;
        if (p[0] >= 0)
            close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        p[0] = p[1] = -1;
        return e;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static char **strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = dbp_xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = dbp_xstrdup(v[i]);
    return out;
}

static void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
    }
    free(v);
}

int dbp_spawn_which(const char *prog, const char *path_env, char *out, size_t outsz)
{
    struct stat sb;
    if (!prog || !*prog)
        return ENOENT;
    if (strchr(prog, '/')) {
        if (strlen(prog) >= outsz)
            return ENAMETOOLONG;
        dbp_strlcpy(out, prog, outsz);
        if (stat(prog, &sb) != 0)
            return errno;
        if (!S_ISREG(sb.st_mode) || access(prog, X_OK) != 0)
            return EACCES;
        return 0;
    }
    if (!path_env)
        path_env = getenv("PATH");
    if (!path_env || !*path_env)
        path_env = "/usr/local/bin:/usr/bin:/bin";
    int found_noexec = 0;
    const char *p = path_env;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        char cand[PATH_MAX];
        if (dlen == 0) /* empty entry = current directory: never, for a daemon */
            goto next;
        if ((size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, p, prog) >= sizeof(cand))
            goto next;
        if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (access(cand, X_OK) == 0) {
                if (strlen(cand) >= outsz)
                    return ENAMETOOLONG;
                dbp_strlcpy(out, cand, outsz);
                return 0;
            }
            found_noexec = 1;
        }
    next:
        if (!colon)
            break;
        p = colon + 1;
    }
    return found_noexec ? EACCES : ENOENT;
}

/* ---- proc lifetime ---------------------------------------------------- */

struct dbp_proc *dbp_proc_ref(struct dbp_proc *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

static void ring_clear(struct dbp_proc *p)
{
    while (p->head) {
        struct line *l = p->head;
        p->head = l->next;
        free(l);
    }
    p->tail = NULL;
    p->nlines = p->nbytes = 0;
}

void dbp_proc_unref(struct dbp_proc *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    ring_clear(p);
    strv_free(p->redact);
    close_fd(&p->fd[0]);
    close_fd(&p->fd[1]);
    close_fd(&p->pidfd);
    close_fd(&p->log_fd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

static struct dbp_proc *proc_alloc(void)
{
    struct dbp_proc *p = dbp_xcalloc(1, sizeof(*p));
    pthread_condattr_t ca;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    p->pidfd = p->fd[0] = p->fd[1] = p->log_fd = -1;
    p->st.running = true;
    return p;
}

/* ---- output ----------------------------------------------------------- */

/* Replace every secret in src by "***" into dst (dstsz >= 1). */
static size_t redact_into(char *const *secrets, const char *src, size_t n, char *dst,
                          size_t dstsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < dstsz;) {
        bool hit = false;
        for (char *const *s = secrets; s && *s; s++) {
            size_t sl = strlen(*s);
            if (sl && sl <= n - i && memcmp(src + i, *s, sl) == 0) {
                for (const char *r = "***"; *r && o + 1 < dstsz; r++)
                    dst[o++] = *r;
                i += sl;
                hit = true;
                break;
            }
        }
        if (!hit)
            dst[o++] = src[i++];
    }
    dst[o] = '\0';
    return o;
}

static void log_line(struct dbp_proc *p, const char *text, size_t len)
{
    if (p->log_fd < 0 || p->log_full)
        return;
    if (p->log_written + len + 1 > p->log_max) {
        char note[96];
        int n = snprintf(note, sizeof(note), "[dbpecker: log truncated at %zu bytes]\n",
                         p->log_written);
        if (write(p->log_fd, note, (size_t)n) < 0) {
            /* nothing better to do: the ring still has the lines */
        }
        p->log_full = true;
        return;
    }
    char nl = '\n';
    if (write(p->log_fd, text, len) < 0 || write(p->log_fd, &nl, 1) < 0) {
        p->log_full = true; /* a failing disk must not stall the reader */
        return;
    }
    p->log_written += len + 1;
}

static void emit_line(struct dbp_proc *p, enum dbp_stream s, const char *raw, size_t n)
{
    char text[DBP_SPAWN_LINE_MAX + 1];
    while (n && raw[n - 1] == '\r')
        n--;
    size_t len = redact_into(p->redact, raw, n, text, sizeof(text));

    log_line(p, text, len);

    struct line *l = dbp_xmalloc(sizeof(*l) + len + 1);
    l->next = NULL;
    l->stream = s;
    l->len = len;
    memcpy(l->text, text, len + 1);
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = l;
    else
        p->head = l;
    p->tail = l;
    p->nlines++;
    p->nbytes += len + 1;
    p->st.lines++;
    while (p->head && p->head != p->tail &&
           (p->nlines > p->ring_lines || p->nbytes > p->ring_bytes)) {
        struct line *old = p->head;
        p->head = old->next;
        p->nlines--;
        p->nbytes -= old->len + 1;
        p->st.dropped++;
        free(old);
    }
    pthread_mutex_unlock(&p->lock);

    if (p->on_line)
        p->on_line(p->cls, p, s, text);
}

/* Read what is available on stream i (0 = stdout, 1 = stderr); close on
 * EOF or error.  At most a few reads per call so one chatty child cannot
 * starve the others. */
static void drain(struct dbp_proc *p, int i)
{
    char buf[16384];
    struct partial *pt = &p->part[i];
    enum dbp_stream s = i == 0 ? DBP_STDOUT : DBP_STDERR;
    for (int rounds = 0; rounds < 8 && p->fd[i] >= 0; rounds++) {
        ssize_t r = read(p->fd[i], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            if (pt->len)
                emit_line(p, s, pt->buf, pt->len);
            pt->len = 0;
            close_fd(&p->fd[i]);
            return;
        }
        for (ssize_t k = 0; k < r; k++) {
            char c = buf[k];
            if (c == '\n') {
                if (!pt->skipping)
                    emit_line(p, s, pt->buf, pt->len);
                pt->len = 0;
                pt->skipping = false;
                continue;
            }
            if (pt->skipping)
                continue;
            if (c == '\0')
                c = ' ';
            pt->buf[pt->len++] = c;
            if (pt->len == DBP_SPAWN_LINE_MAX) {
                emit_line(p, s, pt->buf, pt->len); /* cut an over-long line */
                pt->len = 0;
                pt->skipping = true;
            }
        }
        if ((size_t)r < sizeof(buf))
            return;
    }
}

/* ---- reaping ---------------------------------------------------------- */

/* Has the leader exited?  If so, kill what is left of its group (the
 * zombie still reserves the pgid) and reap it.  Called on the thread. */
static void try_reap(struct dbp_proc *p)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
        return;
    pthread_mutex_lock(&p->lock);
    kill(-p->pid, SIGKILL); /* stragglers of the group; ESRCH when none */
    int status = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    p->reaped = true;
    p->kill_at_ns = 0;
    p->st.running = false;
    p->st.end_wall = dbp_wall_s();
    if (r == p->pid && WIFEXITED(status)) {
        p->st.exited = true;
        p->st.code = WEXITSTATUS(status);
    } else if (r == p->pid && WIFSIGNALED(status)) {
        p->st.signal = WTERMSIG(status);
    }
    pthread_mutex_unlock(&p->lock);
    close_fd(&p->pidfd);
    p->reaped_ns = dbp_now_ns();
}

/* Reaped and drained (or lingered long enough): run the exit callback and
 * drop the child from the list.  Returns true when dropped. */
static bool try_finish(struct dbp_spawner *sp, struct dbp_proc *p, uint64_t now)
{
    if (!p->reaped)
        return false;
    if ((p->fd[0] >= 0 || p->fd[1] >= 0) && now < p->reaped_ns + mono_ms_to_ns(LINGER_MS))
        return false;
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0)
            drain(p, i);
        if (p->part[i].len)
            emit_line(p, i == 0 ? DBP_STDOUT : DBP_STDERR, p->part[i].buf, p->part[i].len);
        p->part[i].len = 0;
        close_fd(&p->fd[i]);
    }
    close_fd(&p->log_fd);

    struct dbp_proc_status st;
    pthread_mutex_lock(&p->lock);
    st = p->st;
    pthread_mutex_unlock(&p->lock);
    if (p->on_exit)
        p->on_exit(p->cls, p, &st);

    pthread_mutex_lock(&sp->lock);
    for (struct dbp_proc **pp = &sp->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            sp->nprocs--;
            break;
        }
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);

    pthread_mutex_lock(&p->lock);
    p->done = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    dbp_proc_unref(p); /* the spawner's reference */
    return true;
}

static void *spawner_main(void *arg)
{
    struct dbp_spawner *sp = arg;
    struct pollfd *pfd = NULL;
    struct dbp_proc **snap = NULL;
    size_t cap = 0;

    for (;;) {
        pthread_mutex_lock(&sp->lock);
        if (sp->quit) {
            pthread_mutex_unlock(&sp->lock);
            break;
        }
        size_t n = (size_t)sp->nprocs;
        if (n + 1 > cap) {
            cap = (n + 1) * 2;
            snap = dbp_xrealloc(snap, cap * sizeof(*snap));
            pfd = dbp_xrealloc(pfd, (cap * 3 + 1) * sizeof(*pfd));
        }
        size_t k = 0;
        for (struct dbp_proc *p = sp->procs; p; p = p->next)
            snap[k++] = p;
        pthread_mutex_unlock(&sp->lock);

        /* Only this thread removes children, so the snapshot stays valid. */
        uint64_t now = dbp_now_ns();
        int timeout = -1;
        nfds_t nf = 0;
        pfd[nf++] = (struct pollfd){.fd = sp->wake[0], .events = POLLIN};
        for (size_t i = 0; i < k; i++) {
            struct dbp_proc *p = snap[i];
            for (int s = 0; s < 2; s++)
                pfd[nf++] = (struct pollfd){.fd = p->fd[s], .events = POLLIN};
            pfd[nf++] = (struct pollfd){.fd = p->reaped ? -1 : p->pidfd, .events = POLLIN};
            uint64_t deadline = 0;
            if (!p->reaped && p->pidfd < 0)
                deadline = now + mono_ms_to_ns(NOPIDFD_POLL_MS);
            pthread_mutex_lock(&p->lock);
            if (p->kill_at_ns && (!deadline || p->kill_at_ns < deadline))
                deadline = p->kill_at_ns;
            pthread_mutex_unlock(&p->lock);
            if (p->reaped) {
                uint64_t linger = p->reaped_ns + mono_ms_to_ns(LINGER_MS);
                if (!deadline || linger < deadline)
                    deadline = linger;
            }
            if (deadline) {
                int ms = deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
                if (timeout < 0 || ms < timeout)
                    timeout = ms;
            }
        }
        int pr = poll(pfd, nf, timeout);
        if (pr < 0 && errno != EINTR)
            usleep(10000); /* should not happen; do not spin */
        if (pfd[0].revents) {
            char junk[256];
            while (read(sp->wake[0], junk, sizeof(junk)) > 0) {
            }
        }
        now = dbp_now_ns();
        for (size_t i = 0; i < k; i++) {
            struct dbp_proc *p = snap[i];
            struct pollfd *f = &pfd[1 + i * 3];
            for (int s = 0; s < 2; s++)
                if (p->fd[s] >= 0 && f[s].revents)
                    drain(p, s);
            if (!p->reaped)
                try_reap(p);
            if (!p->reaped) {
                pthread_mutex_lock(&p->lock);
                if (p->kill_at_ns && now >= p->kill_at_ns) {
                    kill(-p->pid, SIGKILL);
                    p->st.killed = true;
                    p->kill_at_ns = 0;
                }
                pthread_mutex_unlock(&p->lock);
            }
            try_finish(sp, p, now);
        }
    }
    free(pfd);
    free(snap);
    return NULL;
}

/* ---- spawner ---------------------------------------------------------- */

struct dbp_spawner *dbp_spawner_new(void)
{
    struct dbp_spawner *sp = dbp_xcalloc(1, sizeof(*sp));
    pthread_condattr_t ca;
    pthread_mutex_init(&sp->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sp->cond, &ca);
    pthread_condattr_destroy(&ca);
    sp->wake[0] = sp->wake[1] = -1;
    return sp;
}

int dbp_spawner_start(struct dbp_spawner *sp, struct dbp_err *err)
{
    int rc = pipe_high(sp->wake);
    if (rc)
        return dbp_err_set(err, DBP_ESPAWN, "cannot create the spawner's wake-up pipe: %s",
                           strerror(rc));
    fcntl(sp->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(sp->wake[1], F_SETFL, O_NONBLOCK);

    /* The thread must never take the daemon's signals (main sigwaits). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&sp->thread, NULL, spawner_main, sp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close_fd(&sp->wake[0]);
        close_fd(&sp->wake[1]);
        return dbp_err_set(err, DBP_ESPAWN, "cannot start the spawner thread: %s", strerror(rc));
    }
    pthread_setname_np(sp->thread, "dbp-spawn");
    pthread_mutex_lock(&sp->lock);
    sp->started = true;
    pthread_mutex_unlock(&sp->lock);
    return 0;
}

static void timespec_after_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void dbp_spawner_stop(struct dbp_spawner *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->stopping = true;
    bool started = sp->started;
    int grace = 0;
    for (struct dbp_proc *p = sp->procs; p; p = p->next) {
        dbp_proc_stop(p, 0);
        if (p->grace_ms > grace)
            grace = p->grace_ms;
    }
    pthread_mutex_unlock(&sp->lock);
    if (!started)
        return;
    wake(sp);

    struct timespec ts;
    timespec_after_ms(&ts, grace + STOP_EXTRA_MS);
    pthread_mutex_lock(&sp->lock);
    while (sp->procs || sp->inflight) {
        if (pthread_cond_timedwait(&sp->cond, &sp->lock, &ts) == ETIMEDOUT)
            break;
    }
    sp->quit = true; /* children that refused to die stay unreaped: nothing more to do */
    sp->started = false;
    pthread_mutex_unlock(&sp->lock);
    wake(sp);
    pthread_join(sp->thread, NULL);
}

void dbp_spawner_free(struct dbp_spawner *sp)
{
    if (!sp)
        return;
    dbp_spawner_stop(sp);
    while (sp->procs) {
        struct dbp_proc *p = sp->procs;
        sp->procs = p->next;
        dbp_proc_unref(p);
    }
    close_fd(&sp->wake[0]);
    close_fd(&sp->wake[1]);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->cond);
    free(sp);
}

int dbp_spawner_count(struct dbp_spawner *sp)
{
    pthread_mutex_lock(&sp->lock);
    int n = sp->nprocs;
    pthread_mutex_unlock(&sp->lock);
    return n;
}

/* ---- spawning --------------------------------------------------------- */

static const char *env_get(const char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/*
 * Start the child with posix_spawn (glibc >= 2.34: a vfork-style clone, so
 * no copy of a large address space and no code of ours in the child).  The
 * child: every signal at its default and none blocked, a new session (its
 * own process group, which stops and kills address), stdin from /dev/null,
 * stdout/stderr into our pipes, every other descriptor closed (whatever
 * another thread opened without O_CLOEXEC must not leak), then cwd.
 * Returns 0 or an errno; on an exec failure glibc has reaped the child.
 */
static int start_child(pid_t *pid, const char *path, char *const *argv, char *const *envp,
                       const char *cwd, int devnull, int out_w, int err_w)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all, none;
    int e;

    if ((e = posix_spawn_file_actions_init(&fa)))
        return e;
    if ((e = posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return e;
    }
    sigfillset(&all);
    sigemptyset(&none);
    if (!(e = posix_spawn_file_actions_adddup2(&fa, devnull, 0)) &&
        !(e = posix_spawn_file_actions_adddup2(&fa, out_w, 1)) &&
        !(e = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) &&
        !(e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
        !(e = cwd ? posix_spawn_file_actions_addchdir_np(&fa, cwd) : 0) &&
        !(e = posix_spawnattr_setsigdefault(&at, &all)) &&
        !(e = posix_spawnattr_setsigmask(&at, &none)) &&
        !(e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                                POSIX_SPAWN_SETSIGMASK)))
        e = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

int dbp_spawn(struct dbp_spawner *sp, const struct dbp_spawn_opts *o, struct dbp_proc **out,
              struct dbp_err *err)
{
    struct dbp_proc *p = NULL;
    char **argv = NULL, **envp = NULL;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, devnull = -1;
    char path[PATH_MAX];
    int rc;

    *out = NULL;
    if (!o->argv || !o->argv[0] || !*o->argv[0])
        return dbp_err_set(err, DBP_EINVAL, "empty argv");
    pthread_mutex_lock(&sp->lock);
    bool ok = sp->started && !sp->stopping;
    if (ok)
        sp->inflight++;
    pthread_mutex_unlock(&sp->lock);
    if (!ok)
        return dbp_err_set(err, DBP_EUNAVAIL, "the process runner is not running");

    if (o->envp) {
        envp = strv_dup(o->envp);
    } else {
        const char *dp = getenv("PATH");
        char *pathvar = dbp_xasprintf("PATH=%s", dp && *dp ? dp : "/usr/local/bin:/usr/bin:/bin");
        const char *def[] = {pathvar, "LANG=C", "LC_ALL=C", NULL};
        envp = strv_dup(def);
        free(pathvar);
    }
    rc = dbp_spawn_which(o->argv[0], env_get((const char *const *)envp, "PATH"), path,
                         sizeof(path));
    /* A name that is not on PATH fails here; an explicit path is left to
     * execve so its own errno is what gets reported. */
    if (rc && !strchr(o->argv[0], '/')) {
        rc = dbp_err_set(err, DBP_ESPAWN, "cannot execute '%s': %s", o->argv[0], strerror(rc));
        goto out;
    }
    if (rc)
        dbp_strlcpy(path, o->argv[0], sizeof(path));
    argv = strv_dup(o->argv);

    p = proc_alloc();
    p->sp = sp;
    p->grace_ms = o->grace_ms > 0 ? o->grace_ms : DEFAULT_GRACE_MS;
    p->redact = strv_dup(o->redact);
    p->on_line = o->on_line;
    p->on_exit = o->on_exit;
    p->cls = o->cls;
    p->ring_lines = o->ring_lines ? o->ring_lines : DEFAULT_RING_LINES;
    p->ring_bytes = o->ring_bytes ? o->ring_bytes : DEFAULT_RING_BYTES;
    p->log_max = o->log_max ? o->log_max : DEFAULT_LOG_MAX;
    if (o->log_path) {
        p->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (p->log_fd < 0) {
            rc = dbp_err_set(err, DBP_EIO, "cannot open log '%s': %s", o->log_path,
                             strerror(errno));
            goto out;
        }
        p->log_fd = fd_high(p->log_fd);
    }

    if ((rc = pipe_high(outp)) || (rc = pipe_high(errp))) {
        rc = dbp_err_set(err, DBP_ESPAWN, "cannot create pipes: %s", strerror(rc));
        goto out;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || (devnull = fd_high(devnull)) < 0) {
        rc = dbp_err_set(err, DBP_ESPAWN, "cannot open /dev/null: %s", strerror(errno));
        goto out;
    }

    pid_t pid = -1;
    int e = start_child(&pid, path, argv, envp, o->cwd, devnull, outp[1], errp[1]);
    if (e) {
        /* Nothing to reap: glibc waited for a child whose exec failed. */
        rc = dbp_err_set(err, DBP_ESPAWN, "cannot execute '%s': %s", o->argv[0], strerror(e));
        goto out;
    }

    p->pid = pid;
    p->st.pid = pid;
    p->st.start_wall = dbp_wall_s();
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    close_fd(&devnull);

    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd >= 0)
        p->pidfd = fd_high(p->pidfd);
    p->fd[0] = outp[0];
    p->fd[1] = errp[0];
    outp[0] = errp[0] = -1;
    fcntl(p->fd[0], F_SETFL, O_NONBLOCK);
    fcntl(p->fd[1], F_SETFL, O_NONBLOCK);
    rc = 0;
    *out = dbp_proc_ref(p); /* the caller's reference; the list keeps p's first */
    pthread_mutex_lock(&sp->lock);
    p->next = sp->procs;
    sp->procs = p;
    sp->nprocs++;
    sp->inflight--;
    bool stopping = sp->stopping;
    if (stopping) /* the runner began to stop while we spawned */
        dbp_proc_stop(p, 0);
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    wake(sp);
    p = NULL; /* owned by the list now */
    goto done;
out:
    pthread_mutex_lock(&sp->lock);
    sp->inflight--;
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
done:
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&devnull);
    strv_free(argv);
    strv_free(envp);
    dbp_proc_unref(p);
    return rc;
}

/* ---- proc API --------------------------------------------------------- */

int dbp_proc_stop(struct dbp_proc *p, int grace_ms)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->reaped) {
        rc = DBP_ENOTFOUND;
    } else {
        uint64_t at = dbp_now_ns() + mono_ms_to_ns(grace_ms > 0 ? grace_ms : p->grace_ms);
        kill(-p->pid, SIGTERM);
        kill(-p->pid, SIGCONT); /* a stopped group would never see the TERM */
        if (!p->st.stop_requested || !p->kill_at_ns || at < p->kill_at_ns)
            p->kill_at_ns = at;
        p->st.stop_requested = true;
    }
    pthread_mutex_unlock(&p->lock);
    if (!rc)
        wake(p->sp);
    return rc;
}

int dbp_proc_signal(struct dbp_proc *p, int sig)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->reaped)
        rc = DBP_ENOTFOUND;
    else if (kill(-p->pid, sig) != 0)
        rc = DBP_EINVAL;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

bool dbp_proc_wait(struct dbp_proc *p, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms >= 0)
        timespec_after_ms(&ts, timeout_ms);
    pthread_mutex_lock(&p->lock);
    while (!p->done) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->cond, &p->lock);
        else if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool done = p->done;
    pthread_mutex_unlock(&p->lock);
    return done;
}

pid_t dbp_proc_pid(const struct dbp_proc *p)
{
    return p->pid;
}

bool dbp_proc_running(struct dbp_proc *p)
{
    pthread_mutex_lock(&p->lock);
    bool r = !p->reaped;
    pthread_mutex_unlock(&p->lock);
    return r;
}

void dbp_proc_status(struct dbp_proc *p, struct dbp_proc_status *st)
{
    pthread_mutex_lock(&p->lock);
    *st = p->st;
    pthread_mutex_unlock(&p->lock);
}

size_t dbp_proc_output(struct dbp_proc *p, size_t max, dbp_proc_line_fn fn, void *ud)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    size_t skip = p->nlines > max ? p->nlines - max : 0;
    for (struct line *l = p->head; l; l = l->next) {
        if (skip) {
            skip--;
            continue;
        }
        fn(ud, l->stream, l->text);
        n++;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}
