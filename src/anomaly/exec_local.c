/*
 * exec_local.c - the local executor (fault.h): host-level faults on the lab
 * and on bare-metal nodes that run on this machine, plus workload_surge.
 *
 *   cpu_stress          stress-ng --cpu W --cpu-load L, started through
 *                       cgexec inside the node's cgroups (cpu, cpuacct,
 *                       blkio), so the node's CPU share is what it eats;
 *   io_bottleneck       stress-ng --hdd N --hdd-opts direct writing in
 *                       <datadir>/.dbp-iostress-<tag>, same cgroups;
 *   network_bottleneck  in the node's network namespace: an nftables table
 *                       dbpecker_fault_<id8> dropping loss_pct % of the
 *                       interface's packets in both directions (with a
 *                       counter), and when rate_kbit > 0 a tbf root qdisc
 *                       with handle dbd:;
 *   workload_surge      sysbench <script> run with extra threads against the
 *                       node (password in a 0600 --config-file).
 *
 * DESIGN
 * Every program runs through one spawner owned by this executor (argv,
 * never a shell, own process group).  Each fault is named by a tag
 * "<id>-<type>-<node>" that is in the child's argv (the --log-file or
 * --config-file path) and in every file it creates, so revert() can find
 * it from the state alone in a fresh process: first the child this process
 * still owns (stopped through the spawner), then by the recorded pid/pgid
 * (checked against its start time, so a recycled pid is never killed), then
 * by scanning /proc for the tag.  stress-ng and sysbench are also given
 * their own time limit (duration + 60 s), a last safety net if everything
 * else failed.  Helper commands (ip, nft, tc) run synchronously with a
 * timeout.  supports() only looks at files and the config (cheap, any
 * thread); apply/revert run on the registry's worker; evidence() reads
 * cgroup files and runs nft/tc (any thread).  x->lock guards the list of
 * live children only.
 */
#define _GNU_SOURCE
#include "dbp/config.h"
#include "dbp/db.h"
#include "dbp/fault.h"
#include "dbp/log.h"
#include "dbp/spawn.h"
#include "dbp/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MOD "exec-local"
#define TOOL_TIMEOUT_MS 10000
#define SAFETY_S 60          /* children's own time limit beyond the duration */
#define TBF_HANDLE "dbd:"
#define TAG_MAX 128
#define RUN_PATH_MAX (DBP_PATH_MAX + 16)           /* <data_dir>/anomaly/run */
#define FILE_PATH_MAX (RUN_PATH_MAX + TAG_MAX + 32) /* a file named by a tag */

struct live {
    struct live *next;
    char tag[TAG_MAX];
    struct dbp_proc *proc;
};

struct lctx {
    struct dbp_node_cfg *nodes;
    int nnodes;
    char run_dir[RUN_PATH_MAX];
    char path_env[1024];
    char stress[DBP_PATH_MAX], cgexec[DBP_PATH_MAX], ip[DBP_PATH_MAX], nft[DBP_PATH_MAX],
        tc[DBP_PATH_MAX], sysbench[DBP_PATH_MAX];
    char db_user[DBP_NAME_MAX], db_password[DBP_SECRET_MAX];
    char bench_user[DBP_NAME_MAX], bench_password[DBP_SECRET_MAX];
    char bench_pw_err[DBP_ERR_MSG_MAX]; /* why the password file could not be read ("" = ok) */
    int connect_timeout_s;
    bool root;
    struct dbp_spawner *sp;
    pthread_mutex_t lock;
    struct live *live;
};

/* ---- small helpers ----------------------------------------------------------- */

static bool safe_token(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    return true;
}

/* A cgroup path relative to the controller roots: no "..", no leading '/'. */
static bool safe_cgroup(const char *cg)
{
    return safe_token(cg, 256, "_-./") && cg[0] != '/' && !strstr(cg, "..");
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const struct dbp_node_cfg *find_node(const struct lctx *x, const char *name)
{
    for (int i = 0; name && i < x->nnodes; i++)
        if (strcmp(x->nodes[i].name, name) == 0)
            return &x->nodes[i];
    return NULL;
}

/* Tag of one fault: reproducible from (id, type, node) alone. */
static void make_tag(const char *id, const char *type, const char *node, char *out, size_t outsz)
{
    char n[DBP_NAME_MAX];
    size_t k = 0;
    for (const char *p = node; *p && k + 1 < sizeof(n); p++)
        n[k++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                     ? *p
                     : '_';
    n[k] = '\0';
    snprintf(out, outsz, "%.16s-%s-%s", id, type, n);
}

static bool read_u64(const char *path, unsigned long long *out)
{
    char buf[64];
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu", out) == 1;
    fclose(f);
    return ok;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* v1 controller dir of cg, or the v2 dir when there is no v1 hierarchy. */
static bool cg_dir(const char *ctrl, const char *cg, char *out, size_t outsz)
{
    snprintf(out, outsz, "/sys/fs/cgroup/%s/%s", ctrl, cg);
    if (is_dir(out))
        return true;
    snprintf(out, outsz, "/sys/fs/cgroup/%s", cg);
    return is_dir(out) && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

static bool cgroup_v1(const char *cg)
{
    char p[DBP_PATH_MAX + 32];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/cpu/%s", cg);
    return is_dir(p);
}

/* CPU time used by the cgroup so far, ns (cpuacct.usage; v2 usage_usec). */
static bool cg_cpu_ns(const char *cg, unsigned long long *ns)
{
    char p[DBP_PATH_MAX + 64], line[128];
    snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuacct/%s/cpuacct.usage", cg);
    if (read_u64(p, ns))
        return true;
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/cpu.stat", cg);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    bool ok = false;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "usage_usec %llu", ns) == 1) {
            *ns *= 1000;
            ok = true;
            break;
        }
    fclose(f);
    return ok;
}

/*
 * Linux >= 6.12 initialises blk-throttle for a disk only when a throttle
 * rule is first configured on it; until then cgroup v1's
 * blkio.throttle.io_service_bytes stays 0 for every cgroup, whatever I/O its
 * tasks do (on a freshly booted machine the io_bottleneck evidence read
 * "0.0 MB/s").  Configure a no-op rule on the disk holding `dir` in the
 * node's blkio cgroup: a huge read limit, then none.  Best effort.
 */
static void blkio_activate(const char *cg, const char *dir)
{
    struct stat st;
    char path[DBP_PATH_MAX + 96], sys[96], dev[32];
    if (stat(dir, &st) != 0)
        return;
    snprintf(dev, sizeof(dev), "%u:%u", major(st.st_dev), minor(st.st_dev));
    /* a partition's rule must name its whole disk */
    snprintf(sys, sizeof(sys), "/sys/dev/block/%s/partition", dev);
    if (access(sys, F_OK) == 0) {
        char parent[96];
        snprintf(sys, sizeof(sys), "/sys/dev/block/%s/../dev", dev);
        FILE *f = fopen(sys, "re");
        if (f) {
            if (fgets(parent, sizeof(parent), f)) {
                parent[strcspn(parent, "\n")] = '\0';
                dbp_strlcpy(dev, parent, sizeof(dev));
            }
            fclose(f);
        }
    }
    snprintf(path, sizeof(path), "/sys/fs/cgroup/blkio/%s/blkio.throttle.read_bps_device", cg);
    /* A rule already there (an operator's) means throttling is initialised:
     * leave it alone rather than reset it. */
    FILE *cur = fopen(path, "re");
    if (!cur)
        return;
    char line[128];
    size_t dl = strlen(dev);
    while (fgets(line, sizeof(line), cur))
        if (strncmp(line, dev, dl) == 0 && line[dl] == ' ') {
            fclose(cur);
            return;
        }
    fclose(cur);
    static const char *const vals[] = {"1099511627776", "0"};
    for (int i = 0; i < 2; i++) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        int n = snprintf(line, sizeof(line), "%s %s\n", dev, vals[i]);
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
}

/* Bytes the cgroup moved to and from block devices (v1 io_service_bytes
 * Total; v2 io.stat rbytes + wbytes). */
static bool cg_io_bytes(const char *cg, unsigned long long *bytes)
{
    char p[DBP_PATH_MAX + 64], line[256];
    unsigned long long v, sum = 0;
    bool ok = false;
    snprintf(p, sizeof(p), "/sys/fs/cgroup/blkio/%s/blkio.throttle.io_service_bytes", cg);
    FILE *f = fopen(p, "re");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "Total %llu", &v) == 1) {
                sum = v;
                ok = true;
            }
        fclose(f);
        *bytes = sum;
        return ok;
    }
    snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/io.stat", cg);
    if (!(f = fopen(p, "re")))
        return false;
    while (fgets(line, sizeof(line), f)) {
        const char *r = strstr(line, "rbytes="), *w = strstr(line, "wbytes=");
        if (r && sscanf(r, "rbytes=%llu", &v) == 1)
            sum += v;
        if (w && sscanf(w, "wbytes=%llu", &v) == 1)
            sum += v;
        ok = true;
    }
    fclose(f);
    *bytes = sum;
    return ok;
}

/* /proc/<pid>/stat: process group and start time (clock ticks since boot). */
static bool proc_stat(pid_t pid, pid_t *pgid, unsigned long long *start, char *comm, size_t csz)
{
    char p[64], buf[1024];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *l = strchr(buf, '('), *r = strrchr(buf, ')');
    if (!l || !r)
        return false;
    if (comm) {
        size_t cl = (size_t)(r - l - 1);
        if (cl >= csz)
            cl = csz - 1;
        memcpy(comm, l + 1, cl);
        comm[cl] = '\0';
    }
    int pg = 0;
    unsigned long long st = 0;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice threads itreal starttime */
    if (sscanf(r + 2, "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &pg, &st) != 2)
        return false;
    if (pgid)
        *pgid = pg;
    if (start)
        *start = st;
    return true;
}

static bool cmdline_has(pid_t pid, const char *needle)
{
    char p[64], buf[8192];
    snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/*
 * Processes that belong to a fault:
 *   - members of the recorded group started no earlier than its leader,
 *     when the leader itself is still there (same pid and start time) or
 *     when the member is one of our tool's processes (comm starts with
 *     `tool`: stress-ng's workers outlive a killed leader) - never a group
 *     that merely reuses the number;
 *   - any process whose argv carries the tag (16 random hex digits of the
 *     injection id), with the members of its group.
 * Returns how many were found; kills them with sig when sig != 0.
 */
static int sweep(pid_t pgid, unsigned long long start, const char *tool, const char *tag, int sig)
{
    pid_t tagged[16];
    int ntag = 0, found = 0;
    unsigned long long lst = 0;
    bool leader = pgid > 1 && proc_stat(pgid, NULL, &lst, NULL, 0) && lst == start;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    /* First pass: tagged leaders (their groups are swept in the second). */
    while ((e = readdir(d)) && tag && ntag < 16) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid())
            continue;
        if (cmdline_has((pid_t)pid, tag)) {
            pid_t pg;
            if (proc_stat((pid_t)pid, &pg, NULL, NULL, 0))
                tagged[ntag++] = pg;
        }
    }
    rewinddir(d);
    while ((e = readdir(d))) {
        char *end, comm[64];
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid())
            continue;
        pid_t pg;
        unsigned long long st;
        if (!proc_stat((pid_t)pid, &pg, &st, comm, sizeof(comm)))
            continue;
        bool mine = pgid > 1 && pg == pgid && st >= start &&
                    (leader || (tool && !strncmp(comm, tool, strlen(tool))));
        for (int i = 0; i < ntag && !mine; i++)
            mine = pg == tagged[i] && pg > 1;
        if (!mine && tag)
            mine = cmdline_has((pid_t)pid, tag);
        if (!mine || pg == getpgrp())
            continue;
        found++;
        if (sig)
            kill((pid_t)pid, sig);
    }
    closedir(d);
    return found;
}

/* TERM, then KILL, until nothing of the fault is left (at most ~4 s). */
static int kill_fault(pid_t pgid, unsigned long long start, const char *tool, const char *tag)
{
    if (!sweep(pgid, start, tool, tag, SIGTERM))
        return 0;
    for (int i = 0; i < 40; i++) {
        usleep(100 * 1000);
        if (!sweep(pgid, start, tool, tag, i >= 15 ? SIGKILL : 0))
            return 0;
    }
    return sweep(pgid, start, tool, tag, 0);
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[DBP_PATH_MAX + 300];
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* ---- running tools ------------------------------------------------------------ */

struct collect {
    char *out;
    size_t sz, len;
};

static void collect_line(void *ud, enum dbp_stream s, const char *line)
{
    (void)s;
    struct collect *c = ud;
    if (!c->out || c->sz == 0)
        return;
    int n = snprintf(c->out + c->len, c->sz - c->len, "%s%s", c->len ? "\n" : "", line);
    if (n > 0)
        c->len = c->len + (size_t)n >= c->sz ? c->sz - 1 : c->len + (size_t)n;
}

/*
 * Run argv to completion (at most timeout_ms) and capture its output.
 * Returns 0 when it exited 0, DBP_EUPSTREAM (exit code in *code) when it
 * exited otherwise, DBP_ETIMEOUT, or a spawn error.
 */
static int run_tool(struct lctx *x, const char *const *argv, char *out, size_t outsz, int *code,
                    struct dbp_err *err)
{
    struct dbp_spawn_opts o = {.argv = argv, .grace_ms = 1000, .ring_lines = 400};
    struct dbp_proc *p = NULL;
    struct dbp_proc_status st;
    if (out && outsz)
        out[0] = '\0';
    if (code)
        *code = -1;
    int rc = dbp_spawn(x->sp, &o, &p, err);
    if (rc)
        return rc;
    if (!dbp_proc_wait(p, TOOL_TIMEOUT_MS)) {
        dbp_proc_stop(p, 200);
        dbp_proc_wait(p, 3000);
        dbp_proc_unref(p);
        return dbp_err_set(err, DBP_ETIMEOUT, "'%s' did not finish in %d s", argv[0],
                           TOOL_TIMEOUT_MS / 1000);
    }
    struct collect c = {out, outsz, 0};
    dbp_proc_output(p, 400, collect_line, &c);
    dbp_proc_status(p, &st);
    dbp_proc_unref(p);
    if (code)
        *code = st.exited ? st.code : -1;
    if (st.exited && st.code == 0)
        return 0;
    const char *last = out ? strrchr(out, '\n') : NULL;
    return dbp_err_set(err, DBP_EUPSTREAM, "'%s %s' failed (%s %d): %.150s", argv[0],
                       argv[1] ? argv[1] : "", st.exited ? "exit" : "signal",
                       st.exited ? st.code : st.signal, last ? last + 1 : (out ? out : ""));
}

/* "ip netns exec <ns> <tool> args..." into a fixed argv. */
static void in_netns(const struct lctx *x, const char *ns, const char *tool, const char *const *args,
                     const char **argv, size_t max)
{
    size_t n = 0;
    argv[n++] = x->ip;
    argv[n++] = "netns";
    argv[n++] = "exec";
    argv[n++] = ns;
    argv[n++] = tool;
    for (size_t i = 0; args[i] && n + 1 < max; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
}

static void live_add(struct lctx *x, const char *tag, struct dbp_proc *p)
{
    struct live *l = dbp_xcalloc(1, sizeof(*l));
    dbp_strlcpy(l->tag, tag, sizeof(l->tag));
    l->proc = p;
    pthread_mutex_lock(&x->lock);
    l->next = x->live;
    x->live = l;
    pthread_mutex_unlock(&x->lock);
}

/* Take the live child of tag out of the list (caller owns the ref). */
static struct dbp_proc *live_take(struct lctx *x, const char *tag)
{
    struct dbp_proc *p = NULL;
    pthread_mutex_lock(&x->lock);
    for (struct live **pp = &x->live; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->tag, tag) == 0) {
            struct live *l = *pp;
            *pp = l->next;
            p = l->proc;
            free(l);
            break;
        }
    pthread_mutex_unlock(&x->lock);
    return p;
}

static struct dbp_proc *live_ref(struct lctx *x, const char *tag)
{
    struct dbp_proc *p = NULL;
    pthread_mutex_lock(&x->lock);
    for (struct live *l = x->live; l; l = l->next)
        if (strcmp(l->tag, tag) == 0) {
            p = dbp_proc_ref(l->proc);
            break;
        }
    pthread_mutex_unlock(&x->lock);
    return p;
}

/* ---- supports -------------------------------------------------------------- */

static bool node_is_local(const struct dbp_node_cfg *n)
{
    return !strcmp(n->host, "127.0.0.1") || !strcmp(n->host, "localhost") ||
           !strcmp(n->host, "::1") || n->host[0] == '/';
}

static bool can_confine(const struct lctx *x, const struct dbp_node_cfg *n, char *why, size_t wsz)
{
    if (!n->cgroup[0]) {
        if (node_is_local(n))
            return true; /* a node on this host without a cgroup: the host is the node */
        snprintf(why, wsz, "node '%s' has no cgroup configured and is not on this host", n->name);
        return false;
    }
    char d[DBP_PATH_MAX + 64], procs[DBP_PATH_MAX + 96];
    if (!safe_cgroup(n->cgroup)) {
        snprintf(why, wsz, "node '%s' has an unusable cgroup path", n->name);
        return false;
    }
    if (!cg_dir("cpu", n->cgroup, d, sizeof(d))) {
        snprintf(why, wsz, "cgroup '%s' of node '%s' does not exist", n->cgroup, n->name);
        return false;
    }
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", d);
    if (access(procs, W_OK) != 0) {
        snprintf(why, wsz, "cannot write '%s' (the local executor needs root)", procs);
        return false;
    }
    (void)x;
    return true;
}

static bool l_supports(void *ctx, const char *type, const struct dbp_node_cfg *n, char *why,
                       size_t wsz)
{
    struct lctx *x = ctx;
    if (!strcmp(type, "cpu_stress") || !strcmp(type, "io_bottleneck")) {
        if (!x->stress[0]) {
            snprintf(why, wsz, "stress-ng is not installed");
            return false;
        }
        if (!can_confine(x, n, why, wsz))
            return false;
        if (!strcmp(type, "io_bottleneck") &&
            (!n->datadir[0] || n->datadir[0] != '/' || !is_dir(n->datadir) ||
             access(n->datadir, W_OK) != 0)) {
            snprintf(why, wsz, "node '%s' has no writable datadir configured", n->name);
            return false;
        }
        return true;
    }
    if (!strcmp(type, "network_bottleneck")) {
        char p[DBP_PATH_MAX];
        if (!n->netns[0] || !n->iface[0]) {
            snprintf(why, wsz, "node '%s' has no network namespace and interface configured",
                     n->name);
            return false;
        }
        if (!safe_token(n->netns, 64, "_-.") || !safe_token(n->iface, 15, "_-.")) {
            snprintf(why, wsz, "node '%s' has an unusable netns or iface name", n->name);
            return false;
        }
        snprintf(p, sizeof(p), "/run/netns/%s", n->netns);
        if (access(p, F_OK) != 0) {
            snprintf(why, wsz, "network namespace '%s' does not exist", n->netns);
            return false;
        }
        if (!x->root || !x->ip[0] || !x->nft[0] || !x->tc[0]) {
            snprintf(why, wsz, "needs root with ip, nft and tc installed");
            return false;
        }
        return true;
    }
    if (!strcmp(type, "workload_surge")) {
        if (!x->sysbench[0]) {
            snprintf(why, wsz, "sysbench is not installed");
            return false;
        }
        if (x->bench_pw_err[0]) { /* an empty password would fail auth with a confusing error */
            snprintf(why, wsz, "%s", x->bench_pw_err);
            return false;
        }
        if (!n->host[0] || n->port <= 0) {
            snprintf(why, wsz, "node '%s' has no host:port", n->name);
            return false;
        }
        return true;
    }
    snprintf(why, wsz, "the local executor does not run '%s'", type);
    return false;
}

/* ---- stress (cpu_stress, io_bottleneck) -------------------------------------- */

/* Put every process of the group into the node's cgroups (idempotent; the
 * fallback when cgexec is missing, and a check when it is not). */
static int confine_group(pid_t pgid, const char *cg)
{
    static const char *const ctrls[] = {"cpu", "cpuacct", "blkio"};
    int moved = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        pid_t pg;
        if (*end || pid <= 1 || !proc_stat((pid_t)pid, &pg, NULL, NULL, 0) || pg != pgid)
            continue;
        for (size_t c = 0; c < (cgroup_v1(cg) ? 3u : 1u); c++) {
            char dir[DBP_PATH_MAX + 64], path[DBP_PATH_MAX + 96], num[32];
            if (!cg_dir(ctrls[c], cg, dir, sizeof(dir)))
                continue;
            snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            int n = snprintf(num, sizeof(num), "%ld", pid);
            if (write(fd, num, (size_t)n) == n)
                moved++;
            close(fd);
        }
    }
    closedir(d);
    return moved;
}

/* Is pid in cg for controller ctrl (per /proc/<pid>/cgroup; v2: the one
 * hierarchy)? */
static bool in_cgroup_ctrl(pid_t pid, const char *cg, const char *ctrl)
{
    char p[64], line[1024], want[DBP_PATH_MAX + 8], c1[32], c2[32], c3[32];
    snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
    snprintf(want, sizeof(want), ":/%s\n", cg);
    snprintf(c1, sizeof(c1), ":%s,", ctrl);
    snprintf(c2, sizeof(c2), ":%s:", ctrl);
    snprintf(c3, sizeof(c3), ",%s:", ctrl);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    bool ok = false;
    while (fgets(line, sizeof(line), f))
        if ((strstr(line, c1) || strstr(line, c2) || strstr(line, c3) ||
             !strncmp(line, "0::", 3)) &&
            strstr(line, want))
            ok = true;
    fclose(f);
    return ok;
}

static bool in_cgroup(pid_t pid, const char *cg)
{
    return in_cgroup_ctrl(pid, cg, "cpu");
}

/* Every process of group pgid in cg for ctrl?  (The I/O of an io_bottleneck
 * worker outside the node's blkio cgroup is charged elsewhere: the stress
 * would slow the node and its evidence read 0 MB/s.)  *n = processes seen. */
static bool group_in_cgroup(pid_t pgid, const char *cg, const char *ctrl, int *n)
{
    bool ok = true;
    *n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        pid_t pg;
        if (*end || pid <= 1 || !proc_stat((pid_t)pid, &pg, NULL, NULL, 0) || pg != pgid)
            continue;
        (*n)++;
        if (!in_cgroup_ctrl((pid_t)pid, cg, ctrl))
            ok = false;
    }
    closedir(d);
    return ok;
}

static int apply_stress(struct lctx *x, const struct dbp_fault_spec *sp, bool io, cJSON **state,
                        struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    char tag[TAG_MAX], logp[FILE_PATH_MAX], tmpd[FILE_PATH_MAX] = "";
    char ctl[DBP_PATH_MAX + 32], nw[16], load[16], tmo[32], bytes[32];
    const char *argv[32];
    size_t k = 0;
    struct dbp_proc *p = NULL;
    int rc;

    make_tag(sp->id, sp->type, n->name, tag, sizeof(tag));
    snprintf(logp, sizeof(logp), "%s/%s.log", x->run_dir, tag);
    int workers = (int)jnum(sp->params, "workers", 1);
    if (workers < 1 || workers > 1024)
        return dbp_err_set(err, DBP_ESCHEMA, "workers must be in 1..1024");
    snprintf(nw, sizeof(nw), "%d", workers);
    snprintf(tmo, sizeof(tmo), "%ds", sp->duration_s + SAFETY_S);
    bool confined = n->cgroup[0] != '\0';
    if (confined && x->cgexec[0] && cgroup_v1(n->cgroup)) {
        /* the controllers in which the node has this cgroup (cpu at least) */
        static const char *const ctrls[] = {"cpu", "cpuacct", "blkio"};
        size_t o = 0;
        for (size_t c = 0; c < DBP_ARRAY_SIZE(ctrls); c++) {
            char d[DBP_PATH_MAX + 64];
            snprintf(d, sizeof(d), "/sys/fs/cgroup/%s/%s", ctrls[c], n->cgroup);
            if (is_dir(d))
                o += (size_t)snprintf(ctl + o, sizeof(ctl) - o, "%s%s", o ? "," : "", ctrls[c]);
        }
        snprintf(ctl + o, sizeof(ctl) - o, ":%s", n->cgroup);
        argv[k++] = x->cgexec;
        argv[k++] = "-g";
        argv[k++] = ctl;
    }
    argv[k++] = x->stress;
    if (io) {
        int mb = (int)jnum(sp->params, "bytes_mb", 256);
        if (mb < 1 || mb > 65536)
            return dbp_err_set(err, DBP_ESCHEMA, "bytes_mb must be in 1..65536");
        snprintf(bytes, sizeof(bytes), "%dm", mb);
        snprintf(tmpd, sizeof(tmpd), "%s/.dbp-iostress-%s", n->datadir, tag);
        if (mkdir(tmpd, 0700) != 0 && errno != EEXIST)
            return dbp_err_set(err, DBP_EIO, "cannot create '%s': %s", tmpd, strerror(errno));
        argv[k++] = "--hdd";
        argv[k++] = nw;
        argv[k++] = "--hdd-bytes";
        argv[k++] = bytes;
        argv[k++] = "--hdd-opts";
        argv[k++] = "direct"; /* real disk traffic, accounted to the blkio cgroup */
        argv[k++] = "--temp-path";
        argv[k++] = tmpd;
    } else {
        int l = (int)jnum(sp->params, "load", 100);
        if (l < 1 || l > 100)
            return dbp_err_set(err, DBP_ESCHEMA, "load must be in 1..100");
        snprintf(load, sizeof(load), "%d", l);
        argv[k++] = "--cpu";
        argv[k++] = nw;
        argv[k++] = "--cpu-load";
        argv[k++] = load;
    }
    argv[k++] = "--timeout";
    argv[k++] = tmo;
    argv[k++] = "--log-file"; /* also the tag revert() looks for in /proc */
    argv[k++] = logp;
    argv[k] = NULL;

    unsigned long long usage0 = 0, io0 = 0;
    if (confined) {
        if (io)
            blkio_activate(n->cgroup, tmpd);
        cg_cpu_ns(n->cgroup, &usage0);
        cg_io_bytes(n->cgroup, &io0);
    }
    struct dbp_spawn_opts o = {.argv = argv, .grace_ms = 2000, .ring_lines = 200};
    rc = dbp_spawn(x->sp, &o, &p, err);
    if (rc)
        goto fail;
    pid_t pid = dbp_proc_pid(p);
    unsigned long long start = 0;
    char comm[64] = "";
    /* Wait for cgexec to exec stress-ng (or for a failure), then make sure
     * the whole group is inside the node's cgroups. */
    for (int i = 0; i < 40; i++) {
        if (!dbp_proc_running(p))
            break;
        if (proc_stat(pid, NULL, &start, comm, sizeof(comm)) && !strncmp(comm, "stress-ng", 9))
            break;
        usleep(25 * 1000);
    }
    if (!dbp_proc_running(p)) {
        char out[512];
        struct collect c = {out, sizeof(out), 0};
        out[0] = '\0';
        dbp_proc_output(p, 5, collect_line, &c);
        rc = dbp_err_set(err, DBP_ESPAWN, "stress-ng exited at once: %.200s", out);
        goto fail;
    }
    if (confined) {
        for (int i = 0; i < 4; i++) { /* workers forked before the move follow it */
            confine_group(pid, n->cgroup);
            usleep(50 * 1000);
        }
        if (!in_cgroup(pid, n->cgroup)) {
            rc = dbp_err_set(err, DBP_EINTERNAL, "stress-ng is not in cgroup '%s'", n->cgroup);
            goto fail;
        }
        char bdir[DBP_PATH_MAX + 64];
        if (io && cg_dir("blkio", n->cgroup, bdir, sizeof(bdir))) {
            /* the hdd workers fork a moment after the parent: wait until
             * they exist and are all charged to the node's blkio cgroup */
            int seen = 0;
            bool all = false;
            for (int i = 0; i < 40 && !(all && seen > workers); i++) {
                confine_group(pid, n->cgroup);
                all = group_in_cgroup(pid, n->cgroup, cgroup_v1(n->cgroup) ? "blkio" : "io",
                                      &seen);
                if (!(all && seen > workers))
                    usleep(50 * 1000);
            }
            if (!all) {
                rc = dbp_err_set(err, DBP_EINTERNAL,
                                 "stress-ng workers are not all in blkio cgroup '%s'", n->cgroup);
                goto fail;
            }
        }
    }
    live_add(x, tag, p);
    p = NULL;

    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "stress");
    cJSON_AddStringToObject(s, "type", sp->type);
    cJSON_AddStringToObject(s, "node", n->name);
    cJSON_AddStringToObject(s, "tag", tag);
    cJSON_AddNumberToObject(s, "pid", pid);
    cJSON_AddNumberToObject(s, "starttime", (double)start);
    cJSON_AddStringToObject(s, "cgroup", n->cgroup);
    cJSON_AddBoolToObject(s, "confined", confined);
    cJSON_AddStringToObject(s, "log", logp);
    if (tmpd[0])
        cJSON_AddStringToObject(s, "tmpdir", tmpd);
    cJSON_AddNumberToObject(s, "workers", workers);
    cJSON_AddNumberToObject(s, "cpu_ns0", (double)usage0);
    cJSON_AddNumberToObject(s, "io_bytes0", (double)io0);
    cJSON_AddNumberToObject(s, "t0", dbp_wall_s());
    *state = s;
    return 0;
fail:
    if (p) {
        dbp_proc_stop(p, 200);
        dbp_proc_wait(p, 5000);
        dbp_proc_unref(p);
    }
    kill_fault(0, 0, NULL, tag);
    if (tmpd[0])
        rm_tree(tmpd);
    unlink(logp);
    return rc;
}

/* Stop a child this process owns, else kill what the state (or the tag)
 * points at.  0 when nothing of it is left. */
static int stop_child(struct lctx *x, const char *tag, const char *tool, pid_t pid,
                      unsigned long long start, struct dbp_err *err)
{
    struct dbp_proc *p = live_take(x, tag);
    if (p) {
        dbp_proc_stop(p, 2000);
        dbp_proc_wait(p, 8000);
        dbp_proc_unref(p);
    }
    /* The leader's group, and anything carrying the tag (a fresh process
     * after a crash has no proc handle). */
    int left = kill_fault(pid, start, tool, tag);
    if (left)
        return dbp_err_set(err, DBP_EINTERNAL, "%d process(es) of '%s' survived SIGKILL", left,
                           tag);
    return 0;
}

static int revert_stress(struct lctx *x, const cJSON *s, const char *tag, struct dbp_err *err)
{
    pid_t pid = (pid_t)jnum(s, "pid", 0);
    unsigned long long start = (unsigned long long)jnum(s, "starttime", 0);
    int rc = stop_child(x, tag, "stress-ng", pid, start, err);
    const char *tmpd = jstr(s, "tmpdir"), *logp = jstr(s, "log");
    /* Only ever a directory this executor names: .dbp-iostress-<tag>. */
    if (tmpd && strstr(tmpd, "/.dbp-iostress-") && strstr(tmpd, tag) && !strstr(tmpd, ".."))
        rm_tree(tmpd);
    if (logp && strstr(logp, tag) && !strstr(logp, ".."))
        unlink(logp);
    return rc;
}

/* ---- network_bottleneck ----------------------------------------------------------- */

static void table_name(const char *id, char *out, size_t outsz)
{
    snprintf(out, outsz, "dbpecker_fault_%.8s", id);
}

static bool nft_table_exists(struct lctx *x, const char *ns, const char *table)
{
    const char *args[] = {"list", "table", "inet", table, NULL};
    const char *argv[12];
    in_netns(x, ns, x->nft, args, argv, 12);
    int code;
    return run_tool(x, argv, NULL, 0, &code, NULL) == 0;
}

static int nft_delete(struct lctx *x, const char *ns, const char *table, struct dbp_err *err)
{
    if (!nft_table_exists(x, ns, table))
        return 0;
    const char *args[] = {"delete", "table", "inet", table, NULL};
    const char *argv[12];
    char out[512];
    in_netns(x, ns, x->nft, args, argv, 12);
    return run_tool(x, argv, out, sizeof(out), NULL, err);
}

/* Is the root qdisc of iface the tbf this executor adds? */
static bool tbf_present(struct lctx *x, const char *ns, const char *iface)
{
    const char *args[] = {"qdisc", "show", "dev", iface, "root", NULL};
    const char *argv[12];
    char out[2048];
    in_netns(x, ns, x->tc, args, argv, 12);
    if (run_tool(x, argv, out, sizeof(out), NULL, NULL))
        return false;
    return strstr(out, "qdisc tbf " TBF_HANDLE) != NULL;
}

static int tbf_delete(struct lctx *x, const char *ns, const char *iface, struct dbp_err *err)
{
    if (!tbf_present(x, ns, iface))
        return 0;
    const char *args[] = {"qdisc", "del", "dev", iface, "root", NULL};
    const char *argv[12];
    char out[512];
    in_netns(x, ns, x->tc, args, argv, 12);
    return run_tool(x, argv, out, sizeof(out), NULL, err);
}

static int revert_net_raw(struct lctx *x, const char *ns, const char *iface, const char *table,
                          struct dbp_err *err)
{
    struct dbp_err e1 = {0}, e2 = {0};
    int r1 = nft_delete(x, ns, table, &e1);
    int r2 = tbf_delete(x, ns, iface, &e2);
    if (r1)
        return dbp_err_set(err, r1, "%s", e1.msg);
    if (r2)
        return dbp_err_set(err, r2, "%s", e2.msg);
    if (nft_table_exists(x, ns, table) || tbf_present(x, ns, iface))
        return dbp_err_set(err, DBP_EINTERNAL, "the network fault is still in place in '%s'", ns);
    return 0;
}

static int apply_net(struct lctx *x, const struct dbp_fault_spec *sp, cJSON **state,
                     struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    char table[64], file[FILE_PATH_MAX], rate[32];
    int loss = (int)jnum(sp->params, "loss_pct", 0), kbit = (int)jnum(sp->params, "rate_kbit", 0);
    int rc = 0;
    if (loss < 0 || loss > 100 || kbit < 0 || kbit > 10000000)
        return dbp_err_set(err, DBP_ESCHEMA, "loss_pct must be 0..100 and rate_kbit >= 0");
    if (!loss && !kbit)
        return dbp_err_set(err, DBP_ESCHEMA, "nothing to apply (loss_pct and rate_kbit are 0)");
    if (!safe_token(n->netns, 64, "_-.") || !safe_token(n->iface, 15, "_-."))
        return dbp_err_set(err, DBP_ESCHEMA, "unusable netns/iface of node '%s'", n->name);
    table_name(sp->id, table, sizeof(table));
    if (loss) {
        /* One file, one transaction: the table appears whole or not at all. */
        char rules[1024];
        int len = snprintf(rules, sizeof(rules),
                           "table inet %s {\n"
                           "  chain in {\n"
                           "    type filter hook input priority -10; policy accept;\n"
                           "    iifname \"%s\" numgen random mod 100 < %d counter drop\n"
                           "  }\n"
                           "  chain out {\n"
                           "    type filter hook output priority -10; policy accept;\n"
                           "    oifname \"%s\" numgen random mod 100 < %d counter drop\n"
                           "  }\n"
                           "}\n",
                           table, n->iface, loss, n->iface, loss);
        snprintf(file, sizeof(file), "%s/%s.nft", x->run_dir, table);
        rc = dbp_write_file_atomic(file, rules, (size_t)len, 0600);
        if (rc)
            return dbp_err_set(err, DBP_EIO, "cannot write '%s'", file);
        const char *args[] = {"-f", file, NULL};
        const char *argv[12];
        char out[1024];
        in_netns(x, n->netns, x->nft, args, argv, 12);
        rc = run_tool(x, argv, out, sizeof(out), NULL, err);
        unlink(file);
        if (rc)
            goto fail;
    }
    if (kbit) {
        snprintf(rate, sizeof(rate), "%dkbit", kbit);
        const char *args[] = {"qdisc", "add", "dev", n->iface, "root", "handle", TBF_HANDLE, "tbf",
                              "rate", rate, "burst", "32kb", "latency", "400ms", NULL};
        const char *argv[24];
        char out[1024];
        in_netns(x, n->netns, x->tc, args, argv, 24);
        rc = run_tool(x, argv, out, sizeof(out), NULL, err);
        if (rc)
            goto fail;
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "net");
    cJSON_AddStringToObject(s, "type", sp->type);
    cJSON_AddStringToObject(s, "node", n->name);
    cJSON_AddStringToObject(s, "netns", n->netns);
    cJSON_AddStringToObject(s, "iface", n->iface);
    cJSON_AddStringToObject(s, "table", loss ? table : "");
    cJSON_AddNumberToObject(s, "loss_pct", loss);
    cJSON_AddNumberToObject(s, "rate_kbit", kbit);
    cJSON_AddNumberToObject(s, "t0", dbp_wall_s());
    *state = s;
    return 0;
fail:
    revert_net_raw(x, n->netns, n->iface, table, NULL);
    return rc;
}

/* ---- workload_surge ---------------------------------------------------------------- */

struct tables_ud {
    bool seen[1025];
};

static int table_row(void *ud, int ncols, char **vals, unsigned long *lens)
{
    struct tables_ud *t = ud;
    (void)lens;
    if (ncols >= 1 && vals[0] && !strncmp(vals[0], "sbtest", 6)) {
        char *end;
        long k = strtol(vals[0] + 6, &end, 10);
        if (!*end && k >= 1 && k <= 1024)
            t->seen[k] = true;
    }
    return 0;
}

static int apply_surge(struct lctx *x, const struct dbp_fault_spec *sp, cJSON **state,
                       struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    char tag[TAG_MAX], cnf[FILE_PATH_MAX], opt_cnf[FILE_PATH_MAX + 16];
    char host[DBP_HOST_MAX + 16], port[32], user[DBP_NAME_MAX + 16], tables[32], size[48], thr[32],
        tm[32];
    struct dbp_proc *p = NULL;
    int rc;
    int threads = (int)jnum(sp->params, "threads", 4);
    const char *script = jstr(sp->params, "script");
    if (!script)
        script = "oltp_read_only";
    if (threads < 1 || threads > 1024)
        return dbp_err_set(err, DBP_ESCHEMA, "threads must be in 1..1024");
    if (strcmp(script, "oltp_read_only") && strcmp(script, "oltp_point_select") &&
        strcmp(script, "oltp_read_write") && strcmp(script, "select_random_points"))
        return dbp_err_set(err, DBP_ESCHEMA, "unsupported surge script '%.40s'", script);

    /* Which sbtest tables exist, and how many rows: sysbench must be told. */
    struct dbp_db_opts dbo = {.host = n->host, .port = n->port, .user = x->db_user,
                              .password = x->db_password, .database = "",
                              .connect_timeout_s = x->connect_timeout_s, .read_timeout_s = 10};
    struct dbp_db *db = dbp_db_new(&dbo);
    struct tables_ud tu;
    char maxid[32] = "";
    memset(&tu, 0, sizeof(tu));
    rc = dbp_db_ensure(db, err);
    if (!rc)
        rc = dbp_db_query(db,
                          "SELECT TABLE_NAME FROM information_schema.TABLES "
                          "WHERE TABLE_SCHEMA = 'sbtest' AND TABLE_NAME LIKE 'sbtest%'",
                          table_row, &tu, err);
    int ntables = 0;
    while (!rc && ntables < 1024 && tu.seen[ntables + 1])
        ntables++;
    if (!rc && ntables)
        rc = dbp_db_scalar(db, "SELECT COALESCE(MAX(id), 0) FROM `sbtest`.`sbtest1`", maxid,
                           sizeof(maxid), err);
    dbp_db_free(db);
    if (rc)
        return rc;
    long long rows = strtoll(maxid, NULL, 10);
    if (!ntables || rows < 1)
        return dbp_err_set(err, DBP_EBUSY,
                           "no sysbench tables in schema sbtest on node '%s': prepare a sysbench "
                           "workload first",
                           n->name);

    make_tag(sp->id, sp->type, n->name, tag, sizeof(tag));
    snprintf(cnf, sizeof(cnf), "%s/%s.cnf", x->run_dir, tag);
    /* The password reaches sysbench through a 0600 option file, never argv. */
    char body[DBP_SECRET_MAX + 32];
    int blen = snprintf(body, sizeof(body), "mysql-password=%s\n", x->bench_password);
    rc = dbp_write_file_atomic(cnf, body, (size_t)blen, 0600);
    explicit_bzero(body, sizeof(body));
    if (rc)
        return dbp_err_set(err, DBP_EIO, "cannot write '%s'", cnf);
    snprintf(opt_cnf, sizeof(opt_cnf), "--config-file=%s", cnf);
    snprintf(host, sizeof(host), "--mysql-host=%s", n->host);
    snprintf(port, sizeof(port), "--mysql-port=%d", n->port);
    snprintf(user, sizeof(user), "--mysql-user=%s", x->bench_user);
    snprintf(tables, sizeof(tables), "--tables=%d", ntables);
    snprintf(size, sizeof(size), "--table-size=%lld", rows);
    snprintf(thr, sizeof(thr), "--threads=%d", threads);
    snprintf(tm, sizeof(tm), "--time=%d", sp->duration_s + SAFETY_S);
    const char *argv[] = {x->sysbench, script, opt_cnf, host, port, user, "--mysql-db=sbtest",
                          tables, size, thr, tm, "--report-interval=1", "--rand-type=uniform",
                          "--db-ps-mode=disable", "--mysql-ignore-errors=all", "run", NULL};
    const char *redact[] = {x->bench_password[0] ? x->bench_password : NULL, NULL};
    struct dbp_spawn_opts o = {.argv = argv, .grace_ms = 2000, .ring_lines = 50,
                               .redact = redact};
    rc = dbp_spawn(x->sp, &o, &p, err);
    if (rc)
        goto fail;
    /* An immediate failure (auth, missing table) shows within a second. */
    for (int i = 0; i < 15 && dbp_proc_running(p); i++)
        usleep(100 * 1000);
    if (!dbp_proc_running(p)) {
        char out[1024];
        struct collect c = {out, sizeof(out), 0};
        out[0] = '\0';
        dbp_proc_output(p, 6, collect_line, &c);
        rc = dbp_err_set(err, DBP_EUPSTREAM, "sysbench exited at once: %.200s", out);
        goto fail;
    }
    unlink(cnf); /* read at start-up; nothing should keep the password on disk */
    pid_t pid = dbp_proc_pid(p);
    unsigned long long start = 0;
    proc_stat(pid, NULL, &start, NULL, 0);
    live_add(x, tag, p);

    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "surge");
    cJSON_AddStringToObject(s, "type", sp->type);
    cJSON_AddStringToObject(s, "node", n->name);
    cJSON_AddStringToObject(s, "tag", tag);
    cJSON_AddNumberToObject(s, "pid", pid);
    cJSON_AddNumberToObject(s, "starttime", (double)start);
    cJSON_AddStringToObject(s, "cnf", cnf);
    cJSON_AddStringToObject(s, "script", script);
    cJSON_AddNumberToObject(s, "threads", threads);
    cJSON_AddNumberToObject(s, "tables", ntables);
    cJSON_AddNumberToObject(s, "t0", dbp_wall_s());
    *state = s;
    return 0;
fail:
    if (p) {
        dbp_proc_stop(p, 200);
        dbp_proc_wait(p, 5000);
        dbp_proc_unref(p);
    }
    kill_fault(0, 0, NULL, tag);
    unlink(cnf);
    return rc;
}

/* ---- the executor interface --------------------------------------------------------- */

static int l_apply(void *ctx, const struct dbp_fault_spec *sp, cJSON **state, struct dbp_err *err)
{
    struct lctx *x = ctx;
    char why[DBP_ERR_MSG_MAX] = "";
    *state = NULL;
    if (!sp->node || !l_supports(x, sp->type, sp->node, why, sizeof(why)))
        return dbp_err_set(err, DBP_EUNAVAIL, "%s", why[0] ? why : "no node");
    if (dbp_mkdir_p(x->run_dir, 0700))
        return dbp_err_set(err, DBP_EIO, "cannot create '%s'", x->run_dir);
    if (!strcmp(sp->type, "cpu_stress"))
        return apply_stress(x, sp, false, state, err);
    if (!strcmp(sp->type, "io_bottleneck"))
        return apply_stress(x, sp, true, state, err);
    if (!strcmp(sp->type, "network_bottleneck"))
        return apply_net(x, sp, state, err);
    return apply_surge(x, sp, state, err);
}

static int l_revert(void *ctx, const cJSON *s, struct dbp_err *err)
{
    struct lctx *x = ctx;
    const char *type = jstr(s, "type"), *node = jstr(s, "node"), *tag = jstr(s, "tag");
    char tagbuf[TAG_MAX];
    if (!type || !node)
        return dbp_err_set(err, DBP_EINVAL, "revert state without type/node");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "intent"))) {
        /* The daemon died while applying: derive the names from the id. */
        const char *id = jstr(s, "id");
        if (!id)
            return dbp_err_set(err, DBP_EINVAL, "intent state without id");
        make_tag(id, type, node, tagbuf, sizeof(tagbuf));
        tag = tagbuf;
        if (!strcmp(type, "network_bottleneck")) {
            const struct dbp_node_cfg *n = find_node(x, node);
            char table[64];
            if (!n)
                return dbp_err_set(err, DBP_ENOTFOUND, "node '%s' is no longer configured", node);
            table_name(id, table, sizeof(table));
            return revert_net_raw(x, n->netns, n->iface, table, err);
        }
        int rc = stop_child(x, tag, NULL, 0, 0, err);
        const struct dbp_node_cfg *n = find_node(x, node);
        char p[FILE_PATH_MAX];
        if (n && !strcmp(type, "io_bottleneck")) {
            snprintf(p, sizeof(p), "%s/.dbp-iostress-%s", n->datadir, tag);
            rm_tree(p);
        }
        snprintf(p, sizeof(p), "%s/%s.log", x->run_dir, tag);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%s.cnf", x->run_dir, tag);
        unlink(p);
        return rc;
    }
    const char *kind = jstr(s, "kind");
    if (kind && !strcmp(kind, "net")) {
        const char *ns = jstr(s, "netns"), *ifc = jstr(s, "iface"), *table = jstr(s, "table");
        char tb[64] = "";
        if (!ns || !ifc || !safe_token(ns, 64, "_-.") || !safe_token(ifc, 15, "_-."))
            return dbp_err_set(err, DBP_EINVAL, "network revert state without netns/iface");
        if (table && table[0] && safe_token(table, 63, "_"))
            dbp_strlcpy(tb, table, sizeof(tb));
        else
            dbp_strlcpy(tb, "dbpecker_fault_none", sizeof(tb));
        return revert_net_raw(x, ns, ifc, tb, err);
    }
    if (!tag || !safe_token(tag, TAG_MAX - 1, "_-"))
        return dbp_err_set(err, DBP_EINVAL, "revert state without a usable tag");
    if (kind && !strcmp(kind, "surge")) {
        int rc = stop_child(x, tag, "sysbench", (pid_t)jnum(s, "pid", 0),
                            (unsigned long long)jnum(s, "starttime", 0), err);
        const char *cnf = jstr(s, "cnf");
        if (cnf && strstr(cnf, tag) && !strstr(cnf, ".."))
            unlink(cnf);
        return rc;
    }
    return revert_stress(x, s, tag, err);
}

struct last_line {
    char line[256];
};

static void keep_report(void *ud, enum dbp_stream s, const char *line)
{
    (void)s;
    struct last_line *l = ud;
    if (strstr(line, "tps:"))
        dbp_strlcpy(l->line, line, sizeof(l->line));
}

static long long counter_sum(const char *text, const char *key)
{
    long long sum = 0;
    size_t kl = strlen(key);
    for (const char *p = strstr(text, key); p; p = strstr(p + kl, key))
        sum += strtoll(p + kl, NULL, 10);
    return sum;
}

static cJSON *l_evidence(void *ctx, const cJSON *s)
{
    struct lctx *x = ctx;
    const char *kind = jstr(s, "kind"), *tag = jstr(s, "tag");
    double t0 = jnum(s, "t0", 0), now = dbp_wall_s();
    if (!kind)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!strcmp(kind, "net")) {
        const char *ns = jstr(s, "netns"), *ifc = jstr(s, "iface"), *table = jstr(s, "table");
        char out[4096];
        long long dropped = 0, overl = 0;
        bool measured = false;
        if (ns && ifc && table && table[0]) {
            const char *args[] = {"list", "table", "inet", table, NULL};
            const char *argv[12];
            in_netns(x, ns, x->nft, args, argv, 12);
            if (!run_tool(x, argv, out, sizeof(out), NULL, NULL)) {
                dropped = counter_sum(out, "counter packets ");
                cJSON_AddNumberToObject(o, "nft_dropped_packets", (double)dropped);
                measured = true;
            } else {
                cJSON_AddStringToObject(o, "nft", "table missing");
            }
        }
        if (ns && ifc && jnum(s, "rate_kbit", 0) > 0) {
            const char *args[] = {"-s", "qdisc", "show", "dev", ifc, "root", NULL};
            const char *argv[12];
            in_netns(x, ns, x->tc, args, argv, 12);
            if (!run_tool(x, argv, out, sizeof(out), NULL, NULL) &&
                strstr(out, "qdisc tbf " TBF_HANDLE)) {
                long long tbf_drop = counter_sum(out, "dropped ");
                overl = counter_sum(out, "overlimits ");
                cJSON_AddNumberToObject(o, "tbf_dropped_packets", (double)tbf_drop);
                cJSON_AddNumberToObject(o, "tbf_overlimits", (double)overl);
                dropped += tbf_drop;
                measured = true;
            } else {
                cJSON_AddStringToObject(o, "tbf", "qdisc missing");
            }
        }
        if (measured && now - t0 >= 5)
            cJSON_AddBoolToObject(o, "ok", dropped > 0 || overl > 0);
        return o;
    }
    pid_t pid = (pid_t)jnum(s, "pid", 0);
    unsigned long long start = (unsigned long long)jnum(s, "starttime", 0);
    int procs = tag ? sweep(pid, start, strcmp(kind, "surge") ? "stress-ng" : "sysbench", tag, 0)
                    : 0;
    cJSON_AddNumberToObject(o, "processes", procs);
    if (!strcmp(kind, "surge")) {
        struct dbp_proc *p = tag ? live_ref(x, tag) : NULL;
        if (p) {
            struct last_line l = {""};
            dbp_proc_output(p, 5, keep_report, &l);
            dbp_proc_unref(p);
            if (l.line[0])
                cJSON_AddStringToObject(o, "last_report", l.line);
        }
        cJSON_AddBoolToObject(o, "ok", procs > 0);
        return o;
    }
    const char *cg = jstr(s, "cgroup");
    bool cpu = !strcmp(jstr(s, "type") ? jstr(s, "type") : "", "cpu_stress");
    if (cg && cg[0] && now - t0 > 0.5) {
        unsigned long long ns = 0, io = 0;
        if (cg_cpu_ns(cg, &ns) && ns >= jnum(s, "cpu_ns0", 0)) {
            double cores = ((double)ns - jnum(s, "cpu_ns0", 0)) / 1e9 / (now - t0);
            cJSON_AddNumberToObject(o, "cgroup_cpu_cores", round(cores * 100) / 100);
            if (cpu)
                cJSON_AddBoolToObject(o, "ok", procs > 0 && cores >= 0.2);
        }
        if (cg_io_bytes(cg, &io) && io >= jnum(s, "io_bytes0", 0)) {
            double mb = ((double)io - jnum(s, "io_bytes0", 0)) / 1048576.0;
            cJSON_AddNumberToObject(o, "cgroup_io_mb", round(mb));
            cJSON_AddNumberToObject(o, "cgroup_io_mb_per_s", round(mb / (now - t0) * 10) / 10);
            if (!cpu)
                cJSON_AddBoolToObject(o, "ok", procs > 0 && mb > 1);
        }
    } else if (!cg || !cg[0]) {
        cJSON_AddBoolToObject(o, "ok", procs > 0);
    }
    return o;
}

static void l_free(void *ctx)
{
    struct lctx *x = ctx;
    if (!x)
        return;
    dbp_spawner_stop(x->sp); /* every child this executor started is gone after this */
    while (x->live) {
        struct live *l = x->live;
        x->live = l->next;
        dbp_proc_unref(l->proc);
        free(l);
    }
    dbp_spawner_free(x->sp);
    explicit_bzero(x->db_password, sizeof(x->db_password));
    explicit_bzero(x->bench_password, sizeof(x->bench_password));
    free(x->nodes);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

static void find_tool(const struct lctx *x, const char *name, char *out, size_t outsz)
{
    if (dbp_spawn_which(name, x->path_env, out, outsz) != 0)
        out[0] = '\0';
}

/* Read a one-line secret file; 0 or the read's code (out left empty). */
static int read_secret(const char *path, char *out, size_t outsz)
{
    char *text = NULL;
    size_t len = 0;
    int rc = dbp_read_file(path, outsz - 1, &text, &len);
    if (rc)
        return rc;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    text[len] = '\0';
    dbp_strlcpy(out, text, outsz);
    explicit_bzero(text, len);
    free(text);
    return 0;
}

int dbp_exec_local_new(const struct dbp_config *cfg, struct dbp_executor *out, struct dbp_err *err)
{
    struct lctx *x = dbp_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->lock, NULL);
    x->nnodes = cfg->nnodes;
    x->nodes = dbp_xcalloc(cfg->nnodes ? (size_t)cfg->nnodes : 1, sizeof(*x->nodes));
    memcpy(x->nodes, cfg->nodes, (size_t)cfg->nnodes * sizeof(*x->nodes));
    snprintf(x->run_dir, sizeof(x->run_dir), "%s/anomaly/run", cfg->data_dir);
    const char *path = getenv("PATH");
    snprintf(x->path_env, sizeof(x->path_env), "%s%s/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin",
             path && *path ? path : "", path && *path ? ":" : "");
    find_tool(x, "stress-ng", x->stress, sizeof(x->stress));
    find_tool(x, "cgexec", x->cgexec, sizeof(x->cgexec));
    find_tool(x, "ip", x->ip, sizeof(x->ip));
    find_tool(x, "nft", x->nft, sizeof(x->nft));
    find_tool(x, "tc", x->tc, sizeof(x->tc));
    if (cfg->sysbench_path[0])
        dbp_strlcpy(x->sysbench, cfg->sysbench_path, sizeof(x->sysbench));
    else
        find_tool(x, "sysbench", x->sysbench, sizeof(x->sysbench));
    if (x->sysbench[0] && access(x->sysbench, X_OK) != 0)
        find_tool(x, x->sysbench, x->sysbench, sizeof(x->sysbench));
    x->root = geteuid() == 0;
    x->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 5;
    dbp_strlcpy(x->db_user, cfg->db_user, sizeof(x->db_user));
    dbp_strlcpy(x->db_password, cfg->db_password, sizeof(x->db_password));
    dbp_strlcpy(x->bench_user, cfg->bench_user[0] ? cfg->bench_user : cfg->db_user,
                sizeof(x->bench_user));
    if (cfg->bench_password_file[0]) {
        int prc = read_secret(cfg->bench_password_file, x->bench_password,
                              sizeof(x->bench_password));
        if (prc) {
            /* bounded on purpose: a long path is cut */
            if (snprintf(x->bench_pw_err, sizeof(x->bench_pw_err),
                         "cannot read workload.password_file '%.120s': %.60s",
                         cfg->bench_password_file, dbp_strerror(prc)) < 0)
                dbp_strlcpy(x->bench_pw_err, "cannot read workload.password_file",
                            sizeof(x->bench_pw_err));
            DBP_ERROR(MOD, "%s; workload_surge is unavailable", x->bench_pw_err);
        }
    } else
        dbp_strlcpy(x->bench_password, cfg->db_password, sizeof(x->bench_password));
    x->sp = dbp_spawner_new();
    int rc = dbp_spawner_start(x->sp, err);
    if (rc) {
        l_free(x);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    out->name = "local";
    out->ctx = x;
    out->supports = l_supports;
    out->apply = l_apply;
    out->revert = l_revert;
    out->evidence = l_evidence;
    out->free_ctx = l_free;
    return 0;
}
