/*
 * test_spawn.c - the process runner against real processes: exec failures
 * reported as such, both streams captured, bounded ring and log, stops
 * that reach grandchildren, SIGKILL after the grace period, a child killed
 * from outside, no zombies (checked in /proc), no leaked descriptors, an
 * explicit environment, and children not hostage to the daemon's blocked
 * signals.  The shell appears here only as a child program under test.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/spawn.h"
#include "dbp/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dbp_spawner *sp;

static int setup(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    sp = dbp_spawner_new();
    return dbp_spawner_start(sp, &err);
}

static int teardown(void **state)
{
    (void)state;
    dbp_spawner_free(sp);
    sp = NULL;
    return 0;
}

/* /proc scan: processes whose parent is us (zombies counted apart) and
 * processes in a given process group. */
struct pscan {
    int children, zombies, in_group;
};

static void proc_scan(pid_t pgrp, struct pscan *out)
{
    memset(out, 0, sizeof(*out));
    DIR *d = opendir("/proc");
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            char *rp = strrchr(buf, ')');
            char state = 0;
            int ppid = 0, pg = 0;
            if (rp && sscanf(rp + 2, "%c %d %d", &state, &ppid, &pg) == 3) {
                if (ppid == getpid()) {
                    if (state == 'Z')
                        out->zombies++;
                    else
                        out->children++;
                }
                if (pgrp > 0 && pg == pgrp && state != 'Z')
                    out->in_group++;
            }
        }
        fclose(f);
    }
    closedir(d);
}

/* Lines collected by callbacks. */
struct collect {
    pthread_mutex_t lock;
    char text[65536];
    int nlines;
    int nout, nerr;
    atomic_int exits;
    struct dbp_proc_status st;
};

static void on_line(void *cls, struct dbp_proc *p, enum dbp_stream s, const char *line)
{
    (void)p;
    struct collect *c = cls;
    pthread_mutex_lock(&c->lock);
    size_t have = strlen(c->text);
    snprintf(c->text + have, sizeof(c->text) - have, "%s:%s\n", s == DBP_STDOUT ? "out" : "err",
             line);
    c->nlines++;
    if (s == DBP_STDOUT)
        c->nout++;
    else
        c->nerr++;
    pthread_mutex_unlock(&c->lock);
}

static void on_exit_cb(void *cls, struct dbp_proc *p, const struct dbp_proc_status *st)
{
    (void)p;
    struct collect *c = cls;
    pthread_mutex_lock(&c->lock);
    c->st = *st;
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_add(&c->exits, 1);
}

static void collect_init(struct collect *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

/* The callbacks run on the runner's thread: read the collection under its
 * lock while the child may still be writing. */
static int nout(struct collect *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->nout;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static bool has(struct collect *c, const char *needle)
{
    pthread_mutex_lock(&c->lock);
    bool r = strstr(c->text, needle) != NULL;
    pthread_mutex_unlock(&c->lock);
    return r;
}

static struct dbp_proc *run(const char *const *argv, struct collect *c,
                            struct dbp_spawn_opts *extra)
{
    struct dbp_spawn_opts o = {0};
    struct dbp_err err = {0};
    struct dbp_proc *p = NULL;
    if (extra)
        o = *extra;
    o.argv = argv;
    o.on_line = on_line;
    o.on_exit = on_exit_cb;
    o.cls = c;
    int rc = dbp_spawn(sp, &o, &p, &err);
    if (rc)
        fail_msg("spawn %s: %s", argv[0], err.msg);
    return p;
}

static void wait_no_zombies(void)
{
    struct pscan ps;
    for (int i = 0; i < 50; i++) {
        proc_scan(0, &ps);
        if (ps.zombies == 0)
            return;
        usleep(20000);
    }
    fail_msg("%d zombie children left", ps.zombies);
}

static void exec_failure_reported(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    struct dbp_proc *p = NULL;

    const char *missing[] = {"/nonexistent/dir/prog", "--flag", NULL};
    struct dbp_spawn_opts o = {.argv = missing};
    assert_int_equal(dbp_spawn(sp, &o, &p, &err), DBP_ESPAWN);
    assert_null(p);
    assert_string_equal(err.msg, "cannot execute '/nonexistent/dir/prog': No such file or directory");

    const char *noname[] = {"dbp-no-such-program-xyz", NULL};
    o.argv = noname;
    assert_int_equal(dbp_spawn(sp, &o, &p, &err), DBP_ESPAWN);
    assert_string_equal(err.msg,
                        "cannot execute 'dbp-no-such-program-xyz': No such file or directory");

    /* A file that exists but is not executable: execve's own EACCES. */
    char tmp[] = "/tmp/dbp-spawn-noexec-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    chmod(tmp, 0644);
    const char *noexec[] = {tmp, NULL};
    o.argv = noexec;
    assert_int_equal(dbp_spawn(sp, &o, &p, &err), DBP_ESPAWN);
    assert_non_null(strstr(err.msg, "Permission denied"));
    unlink(tmp);

    /* A bad working directory is an exec-stage failure too. */
    const char *tru[] = {"true", NULL};
    o.argv = tru;
    o.cwd = "/nonexistent-cwd";
    assert_int_equal(dbp_spawn(sp, &o, &p, &err), DBP_ESPAWN);
    assert_non_null(strstr(err.msg, "No such file or directory"));

    /* The children whose exec failed were reaped by the runner. */
    for (int i = 0; i < 100 && dbp_spawner_count(sp) > 0; i++)
        usleep(10000);
    assert_int_equal(dbp_spawner_count(sp), 0);
    wait_no_zombies();

    char path[512];
    assert_int_equal(dbp_spawn_which("sh", NULL, path, sizeof(path)), 0);
    assert_true(path[0] == '/');
    assert_int_equal(dbp_spawn_which("dbp-no-such-program-xyz", "/usr/bin:/bin", path,
                                     sizeof(path)),
                     ENOENT);
}

static void both_streams_and_exit_code(void **state)
{
    (void)state;
    struct collect c;
    collect_init(&c);
    const char *argv[] = {"sh", "-c", "echo out1; echo err1 >&2; printf 'out2\\r\\n'; "
                                      "printf 'no-newline' >&2; exit 3",
                          NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    assert_true(dbp_proc_wait(p, 10000));
    assert_int_equal(atomic_load(&c.exits), 1);
    assert_true(c.st.exited);
    assert_int_equal(c.st.code, 3);
    assert_false(c.st.running);
    assert_false(c.st.stop_requested);
    assert_int_equal(c.nout, 2);
    assert_int_equal(c.nerr, 2);
    assert_non_null(strstr(c.text, "out:out1\n"));
    assert_non_null(strstr(c.text, "err:err1\n"));
    assert_non_null(strstr(c.text, "out:out2\n")); /* CR stripped */
    assert_non_null(strstr(c.text, "err:no-newline\n"));
    assert_false(dbp_proc_running(p));
    assert_int_equal(dbp_proc_stop(p, 100), DBP_ENOTFOUND);
    dbp_proc_unref(p);
    wait_no_zombies();
}

struct tail {
    char last[128];
    int n;
};

static void tail_fn(void *ud, enum dbp_stream s, const char *line)
{
    (void)s;
    struct tail *t = ud;
    dbp_strlcpy(t->last, line, sizeof(t->last));
    t->n++;
}

static void bounded_ring_and_log(void **state)
{
    (void)state;
    struct collect c;
    char logp[] = "/tmp/dbp-spawn-log-XXXXXX";
    int fd = mkstemp(logp);
    assert_true(fd >= 0);
    close(fd);
    unlink(logp);
    collect_init(&c);
    struct dbp_spawn_opts o = {.ring_lines = 100, .log_path = logp, .log_max = 1000};
    const char *argv[] = {"sh", "-c", "i=0; while [ $i -lt 5000 ]; do echo line$i; i=$((i+1)); done",
                          NULL};
    struct dbp_proc *p = run(argv, &c, &o);
    assert_true(dbp_proc_wait(p, 20000));
    struct tail t = {0};
    assert_int_equal(dbp_proc_output(p, 1000, tail_fn, &t), 100);
    assert_string_equal(t.last, "line4999");
    memset(&t, 0, sizeof(t));
    assert_int_equal(dbp_proc_output(p, 5, tail_fn, &t), 5);
    struct dbp_proc_status st;
    dbp_proc_status(p, &st);
    assert_int_equal(st.lines, 5000);
    assert_int_equal(st.dropped, 4900);

    struct stat sb;
    assert_int_equal(stat(logp, &sb), 0);
    assert_true(sb.st_size <= 1000 + 64);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dbp_read_file(logp, 1 << 20, &text, &len), 0);
    assert_non_null(strstr(text, "line0\n"));
    assert_non_null(strstr(text, "[dbpecker: log truncated at"));
    free(text);
    unlink(logp);
    dbp_proc_unref(p);

    /* One very long line is cut, not buffered without bound. */
    collect_init(&c);
    const char *big[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo after",
                         NULL};
    p = run(big, &c, NULL);
    assert_true(dbp_proc_wait(p, 10000));
    assert_int_equal(c.nout, 2);
    assert_non_null(strstr(c.text, "out:after\n"));
    dbp_proc_unref(p);
}

static void stop_kills_the_group(void **state)
{
    (void)state;
    struct collect c;
    struct pscan ps;
    collect_init(&c);
    /* sh plus two grandchildren in the same group. */
    const char *argv[] = {"sh", "-c", "sleep 100 & sleep 100 & echo ready; wait", NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    pid_t pid = dbp_proc_pid(p);
    for (int i = 0; i < 200; i++) {
        proc_scan(pid, &ps);
        if (ps.in_group >= 3)
            break;
        usleep(10000);
    }
    assert_int_equal(ps.in_group, 3);
    assert_int_equal(getpgid(pid), pid); /* its own group */
    assert_int_equal(dbp_proc_stop(p, 3000), 0);
    assert_true(dbp_proc_wait(p, 10000));
    assert_false(c.st.exited);
    assert_int_equal(c.st.signal, SIGTERM);
    assert_true(c.st.stop_requested);
    assert_false(c.st.killed);
    for (int i = 0; i < 100; i++) {
        proc_scan(pid, &ps);
        if (ps.in_group == 0)
            break;
        usleep(10000);
    }
    assert_int_equal(ps.in_group, 0);
    dbp_proc_unref(p);
    wait_no_zombies();
}

static void leader_exit_kills_stragglers(void **state)
{
    (void)state;
    struct collect c;
    struct pscan ps;
    collect_init(&c);
    /* The leader exits at once and leaves a background grandchild that
     * holds the pipes: the run must not leave it behind. */
    const char *argv[] = {"sh", "-c", "sleep 100 & echo bye", NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    pid_t pid = dbp_proc_pid(p);
    assert_true(dbp_proc_wait(p, 10000));
    assert_true(c.st.exited);
    assert_int_equal(c.st.code, 0);
    for (int i = 0; i < 100; i++) {
        proc_scan(pid, &ps);
        if (ps.in_group == 0)
            break;
        usleep(10000);
    }
    assert_int_equal(ps.in_group, 0);
    dbp_proc_unref(p);
}

static void sigkill_after_grace(void **state)
{
    (void)state;
    struct collect c;
    collect_init(&c);
    /* Ignores SIGTERM (the disposition is inherited by sleep). */
    const char *argv[] = {"sh", "-c", "trap '' TERM; echo armed; sleep 100", NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    for (int i = 0; i < 200 && nout(&c) == 0; i++)
        usleep(10000);
    uint64_t t0 = dbp_now_ns();
    assert_int_equal(dbp_proc_stop(p, 300), 0);
    assert_true(dbp_proc_wait(p, 10000));
    double took = (double)(dbp_now_ns() - t0) / 1e9;
    /* Only a lower bound: the grace period was honoured.  The wait above
     * bounds the rest; an upper bound flakes under sanitizers and load. */
    assert_true(took >= 0.25);
    assert_true(c.st.killed);
    assert_int_equal(c.st.signal, SIGKILL);
    dbp_proc_unref(p);
    wait_no_zombies();
}

static void killed_from_outside(void **state)
{
    (void)state;
    struct collect c;
    collect_init(&c);
    const char *argv[] = {"sleep", "100", NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    assert_true(dbp_proc_running(p));
    assert_int_equal(kill(dbp_proc_pid(p), SIGKILL), 0);
    assert_true(dbp_proc_wait(p, 10000));
    assert_int_equal(atomic_load(&c.exits), 1);
    assert_false(c.st.exited);
    assert_int_equal(c.st.signal, SIGKILL);
    assert_false(c.st.stop_requested);
    assert_false(c.st.killed);
    dbp_proc_unref(p);
    wait_no_zombies();
}

static void blocked_signals_not_inherited(void **state)
{
    (void)state;
    struct collect c;
    collect_init(&c);
    /* The daemon blocks SIGTERM in every thread and ignores SIGPIPE. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    void (*oldpipe)(int) = signal(SIGPIPE, SIG_IGN);
    const char *argv[] = {"sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; sleep 100",
                          NULL};
    struct dbp_proc *p = run(argv, &c, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, oldpipe);
    for (int i = 0; i < 200 && nout(&c) < 2; i++)
        usleep(10000);
    assert_true(has(&c, "SigBlk:\t0000000000000000"));
    assert_true(dbp_proc_stop(p, 5000) == 0);
    assert_true(dbp_proc_wait(p, 10000));
    assert_int_equal(c.st.signal, SIGTERM); /* died of TERM, no SIGKILL needed */
    assert_false(c.st.killed);
    dbp_proc_unref(p);
}

static void no_fd_leak_explicit_env_redaction(void **state)
{
    (void)state;
    struct collect c;
    collect_init(&c);
    int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 57), 57);
    close(fd);
    const char *env[] = {"PATH=/usr/bin:/bin", "DBP_RUN_ID=run-1", NULL};
    const char *secrets[] = {"s3cr3t-pw", NULL};
    const char *argv[] = {"sh", "-c", "ls /proc/$$/fd; env; echo 'password=s3cr3t-pw!'", NULL};
    struct dbp_spawn_opts o = {.envp = env, .redact = secrets};
    struct dbp_proc *p = run(argv, &c, &o);
    assert_true(dbp_proc_wait(p, 10000));
    close(57);
    assert_null(strstr(c.text, "out:57\n"));
    assert_non_null(strstr(c.text, "out:0\n"));
    assert_non_null(strstr(c.text, "out:2\n"));
    assert_non_null(strstr(c.text, "out:DBP_RUN_ID=run-1\n"));
    assert_null(strstr(c.text, "HOME="));
    assert_null(strstr(c.text, "s3cr3t"));
    assert_non_null(strstr(c.text, "out:password=***!\n"));
    dbp_proc_unref(p);
}

static void spawner_stop_leaves_nothing(void **state)
{
    (void)state;
    struct collect c[3];
    struct dbp_proc *p[3];
    struct pscan ps;
    const char *argv[] = {"sh", "-c", "sleep 100 & sleep 100", NULL};
    for (int i = 0; i < 3; i++) {
        collect_init(&c[i]);
        p[i] = run(argv, &c[i], NULL);
    }
    proc_scan(0, &ps);
    assert_true(ps.children >= 3);
    dbp_spawner_stop(sp);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&c[i].exits), 1);
        assert_false(dbp_proc_running(p[i]));
        assert_int_equal(getpgid(dbp_proc_pid(p[i])), -1);
        dbp_proc_unref(p[i]);
    }
    proc_scan(0, &ps);
    assert_int_equal(ps.children, 0);
    assert_int_equal(ps.zombies, 0);

    /* A stopped runner refuses new work instead of leaking children. */
    struct dbp_err err = {0};
    struct dbp_proc *q = NULL;
    struct dbp_spawn_opts o = {.argv = argv};
    assert_int_equal(dbp_spawn(sp, &o, &q, &err), DBP_EUNAVAIL);
    dbp_spawner_stop(sp); /* idempotent */
}

/* Many short children from several threads at once: every one is reaped,
 * every exit callback runs once. */
static void *burst(void *arg)
{
    struct collect *c = arg;
    const char *argv[] = {"true", NULL};
    for (int i = 0; i < 20; i++) {
        struct dbp_proc *p = run(argv, c, NULL);
        dbp_proc_unref(p);
    }
    return NULL;
}

static void concurrent_spawns(void **state)
{
    (void)state;
    struct collect c;
    pthread_t t[4];
    collect_init(&c);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, burst, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 500 && atomic_load(&c.exits) < 80; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&c.exits), 80);
    assert_int_equal(dbp_spawner_count(sp), 0);
    wait_no_zombies();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exec_failure_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(both_streams_and_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(bounded_ring_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_kills_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(leader_exit_kills_stragglers, setup, teardown),
        cmocka_unit_test_setup_teardown(sigkill_after_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(killed_from_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(blocked_signals_not_inherited, setup, teardown),
        cmocka_unit_test_setup_teardown(no_fd_leak_explicit_env_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(spawner_stop_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_spawns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
