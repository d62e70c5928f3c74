/*
 * workload.c - benchmark runs, prepare/cleanup jobs and tasks (workload.h).
 *
 * DESIGN
 * State: one mutex (wl->lock) guards the list of runs (newest first), each
 * run's fields, the tasks and the per-database "prepare/cleanup in
 * progress" flags.  The child processes belong to the module's process
 * runner (spawn.h), whose single thread delivers every output line and the
 * exit of each child to the callbacks below; those callbacks take wl->lock
 * themselves and hold nothing else.
 *
 * A run is a short sequence of steps (an optional cleanup and prepare when
 * `prepare_db` asked for them, then the benchmark itself).  Each step is a
 * child; when one exits successfully the exit callback spawns the next one
 * (outside the lock), so no thread ever blocks on a run.  Lines are parsed
 * as they arrive into a bounded ring of intervals plus running totals; the
 * last exit builds the final summary, removes the option file and updates
 * the run's task.
 *
 * Checks that make a start fail cleanly (tool installed, script present,
 * node known, database reachable and prepared) run on the calling HTTP
 * thread with short timeouts before anything is spawned, so a refused
 * request leaves nothing half-started.  A tool that dies within the first
 * second is reported to the caller as a failure too.
 *
 * Prepare and cleanup run as jobs (jobs.h) on a worker thread: they use
 * their own database connection, spawn through the same runner and wait for
 * their child while polling for cancellation.
 *
 * Locks: wl->lock may be held while taking a process's lock (dbp_proc_stop,
 * dbp_proc_output); never while calling dbp_spawn, dbp_proc_wait or
 * dbp_spawner_stop, since the runner's thread takes wl->lock in callbacks.
 * Ended runs beyond KEEP_RUNS are evicted, except runs pinned by a caller
 * that waits on them with the lock released.
 */
#define _GNU_SOURCE
#include "dbp/workload.h"
#include "dbp/config.h"
#include "dbp/db.h"
#include "dbp/log.h"
#include "dbp/spawn.h"
#include "dbp/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MOD "workload"
#define KEEP_RUNS 64         /* ended runs kept for status queries */
/*
 * Run logs (data/runs/<id>.log, up to 16 MiB each): a run's log is deleted
 * when the run is evicted from memory, since nothing can show it after
 * that.  Logs no run in memory refers to (those of an earlier daemon, and
 * prepare/cleanup logs) are deleted once older than LOG_MAX_AGE_S, at
 * start and before each new run or job: young ones are kept for a
 * post-mortem of a crash or a restart.
 */
#define LOG_MAX_AGE_S (24 * 3600)
#define MAX_SAMPLES 720      /* intervals kept per run */
#define MAX_STEPS 3
#define MAX_SCRIPTS 64
#define MAX_TASKS 512
#define START_WAIT_MS 1500   /* how long a start waits for an immediate failure */
#define CHECK_CONNECT_S 2
#define CHECK_READ_S 10
#define DEFAULT_GRACE_MS 5000
#define TPCC_UNTIL_STOPPED_S 604800

static const char *const type_names[] = {"sysbench", "tpcc", "tpch"};
static const char *const type_dbs[] = {"sbtest", "tpcc", "tpch"};
static const char *const rand_types[] = {"uniform", "gaussian", "special", "pareto", NULL};

/* Table sets of the Lua scripts (docs/workloads-lua.md). */
static const char *const tpcc_tables[] = {"warehouse", "district", "customer", "history",
                                          "new_orders", "orders", "order_line", "item",
                                          "stock", NULL};
static const char *const tpch_tables[] = {"region", "nation", "supplier", "customer", "part",
                                          "partsupp", "orders", "lineitem", NULL};

enum run_state { R_STARTING, R_PREPARING, R_RUNNING, R_STOPPING, R_STOPPED, R_FINISHED, R_FAILED };
static const char *const state_names[] = {"starting", "preparing", "running", "stopping",
                                          "stopped",  "finished",  "failed"};

struct node_ref {
    char name[DBP_NAME_MAX];
    char host[DBP_HOST_MAX];
    int port;
};

/* Credentials and targets resolved from one config snapshot. */
struct target {
    struct node_ref nodes[DBP_MAX_NODES];
    int nnodes;
    char user[DBP_NAME_MAX];
    char password[DBP_SECRET_MAX];
    char sysbench[PATH_MAX];   /* resolved executable */
    char lua_dir[DBP_PATH_MAX];
    char tpcc_dir[DBP_PATH_MAX];
    char runs_dir[DBP_PATH_MAX + 16];
    int max_runs;
};

struct step {
    char name[16];      /* "cleanup", "prepare", "run" */
    char **argv;
};

struct run {
    struct run *next;
    char id[DBP_WL_ID_MAX];
    struct dbp_workloads *wl;
    struct dbp_wl_request req;
    char db[16];
    char nodes_str[512];
    char script_name[DBP_WL_SCRIPT_MAX];
    char cnf_path[PATH_MAX];
    char log_path[PATH_MAX];
    char **envp;
    char *secret;                 /* for redaction; wiped at the end */
    struct step steps[MAX_STEPS];
    int nsteps, step;
    struct dbp_proc *procs[MAX_STEPS];
    enum run_state state;
    bool stop_requested;
    bool started;                 /* "Threads started!" or a first interval */
    bool ended;
    int pins;
    double start_wall, end_wall;
    int exit_code, signal;
    char message[256];
    char first_error[200];
    char task_id[40];

    /* progress */
    struct dbp_wl_sample *samples; /* ring of MAX_SAMPLES */
    size_t nsamples, head;        /* head = index of the oldest */
    unsigned long total_samples;
    struct dbp_wl_sample last;
    double sum_tps, sum_qps, sum_lat, max_lat, sum_err, sum_reconn, sum_tpmc, max_tpmc;
    unsigned long n_lat, n_err, n_reconn, n_tpmc, n_qps;
    struct dbp_wl_summary summary;
    double query_last[DBP_WL_NQUERIES + 1];
    double query_sum[DBP_WL_NQUERIES + 1];
    int query_n[DBP_WL_NQUERIES + 1];
    int queries_completed;
    int queries_failed;
};

struct task {
    struct task *next;
    char id[40];
    char name[128];
    char workload_id[DBP_WL_ID_MAX];
    enum dbp_wl_type type;
    int threads;
    cJSON *options;
    cJSON *anomalies;
    double start_wall, end_wall;
    char status[16];
    char error[256];
};

struct dbp_workloads {
    struct dbp_jobs *jobs;
    struct dbp_spawner *sp;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct run *runs;
    struct task *tasks;
    int ntasks;
    char scripts[MAX_SCRIPTS][DBP_WL_SCRIPT_MAX];
    int nscripts;
    char script_dir[DBP_PATH_MAX];
    int busy[DBP_WL_NTYPES]; /* prepare/cleanup jobs queued or running per database */
    int grace_ms;
    bool started, stopping;
    unsigned long runs_started, runs_failed;
};

const char *dbp_wl_type_name(enum dbp_wl_type t)
{
    return (unsigned)t < DBP_WL_NTYPES ? type_names[t] : NULL;
}

int dbp_wl_type_from_name(const char *name)
{
    for (int i = 0; i < DBP_WL_NTYPES; i++)
        if (name && strcmp(name, type_names[i]) == 0)
            return i;
    return -1;
}

void dbp_wl_request_defaults(struct dbp_wl_request *r)
{
    memset(r, 0, sizeof(*r));
    r->type = DBP_WL_SYSBENCH;
    r->tool = DBP_WL_TOOL_SYSBENCH;
    r->threads = 1;
    dbp_strlcpy(r->script, "oltp_read_write", sizeof(r->script));
    r->tables = 10;
    r->table_size = 100000;
    r->report_interval = 10;
    dbp_strlcpy(r->rand_type, "uniform", sizeof(r->rand_type));
    r->warehouses = 10;
    r->warmup_s = 10;
    r->running_min = 60;
    r->time_s = -1;
    r->rate = 0;
    r->scale = 0.01;
}

/* ---- small helpers ------------------------------------------------------ */

static char **strv_new(const char *const *v, int n)
{
    char **out = dbp_xcalloc((size_t)n + 1, sizeof(*out));
    for (int i = 0; i < n; i++)
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

/* An argv being built.  Its length is fixed by the code below (about 30
 * at most, never by a request), so running out of room is a bug. */
struct argv_b {
    char *v[96];
    int n;
};

static void av_add(struct argv_b *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_add(struct argv_b *a, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        abort();
    /* Dropping an argument would lose the trailing sub-command ("run",
     * "cleanup") and run something else: stop loudly instead. */
    if (a->n + 1 >= (int)DBP_ARRAY_SIZE(a->v)) {
        DBP_ERROR(MOD, "argv overflow (%d arguments): internal error", a->n);
        abort();
    }
    a->v[a->n++] = s;
}

static char **av_take(struct argv_b *a)
{
    char **out = dbp_xcalloc((size_t)a->n + 1, sizeof(*out));
    memcpy(out, a->v, (size_t)a->n * sizeof(*out));
    a->n = 0;
    return out;
}

static void uuid4(char out[37])
{
    char hex[33];
    dbp_random_hex(hex, 32);
    hex[12] = '4';
    hex[16] = "89ab"[(hex[16] - '0') & 3];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* sysbench's --config-file reader splits on whitespace, trims and treats a
 * leading '#' as a comment: such passwords go through MYSQL_PWD instead. */
static bool cnf_representable(const char *pw)
{
    if (!*pw || *pw == '#')
        return false;
    for (const char *p = pw; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return false;
    return true;
}

static int write_cnf(const char *path, const char *password, struct dbp_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return dbp_err_set(err, DBP_EIO, "cannot create option file '%s': %s", path,
                           strerror(errno));
    int rc = 0;
    /* The mode must not depend on the daemon's umask. */
    if (fchmod(fd, 0600) != 0)
        rc = DBP_EIO;
    char *text = dbp_xasprintf("# written by dbpecker for one run; removed when it ends\n"
                               "mysql-password=%s\n",
                               password);
    size_t len = strlen(text);
    if (!rc && write(fd, text, len) != (ssize_t)len)
        rc = DBP_EIO;
    explicit_bzero(text, len);
    free(text);
    if (close(fd) != 0)
        rc = DBP_EIO;
    if (rc) {
        unlink(path);
        return dbp_err_set(err, rc, "cannot write option file '%s'", path);
    }
    return 0;
}

static void json_num_or_null(cJSON *o, const char *k, double v)
{
    if (v >= 0 && isfinite(v))
        cJSON_AddNumberToObject(o, k, round(v * 1000.0) / 1000.0);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_time(cJSON *o, const char *k, double wall)
{
    char ts[40];
    if (wall > 0) {
        dbp_iso8601(wall, ts, sizeof(ts));
        cJSON_AddStringToObject(o, k, ts);
    } else {
        cJSON_AddNullToObject(o, k);
    }
}

/* ---- configuration -> targets -------------------------------------------- */

static void runs_dir_of(const struct dbp_config *cfg, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/runs", cfg->data_dir[0] ? cfg->data_dir : "/tmp/dbpecker");
}

/* Resolve credentials, nodes and tools.  Field errors are DBP_ESCHEMA
 * naming the field; a missing tool is DBP_EUNAVAIL. */
static int resolve_target(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                          struct target *t, struct dbp_err *err)
{
    struct dbp_config *cfg = dbp_config_acquire();
    int rc = 0;
    memset(t, 0, sizeof(*t));
    if (!cfg)
        return dbp_err_set(err, DBP_EUNAVAIL, "no configuration loaded");

    dbp_strlcpy(t->user, cfg->bench_user[0] ? cfg->bench_user : cfg->db_user, sizeof(t->user));
    if (cfg->bench_password_file[0]) {
        char *data = NULL;
        size_t len = 0;
        rc = dbp_read_file(cfg->bench_password_file, DBP_SECRET_MAX - 1, &data, &len);
        if (rc) {
            rc = dbp_err_set(err, DBP_EUNAVAIL,
                             "cannot read workload.password_file '%s': %s",
                             cfg->bench_password_file, dbp_strerror(rc));
            goto out;
        }
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        dbp_strlcpy(t->password, data, sizeof(t->password));
        explicit_bzero(data, len);
        free(data);
    } else {
        dbp_strlcpy(t->password, cfg->db_password, sizeof(t->password));
    }
    if (!t->user[0]) {
        rc = dbp_err_set(err, DBP_EUNAVAIL, "no benchmark user configured (workload.user)");
        goto out;
    }

    /* Nodes: the request's names, or every configured node. */
    if (cfg->nnodes == 0) {
        if (req->nnodes > 0 && !(req->nnodes == 1 && strcmp(req->nodes[0], "default") == 0)) {
            rc = dbp_err_set(err, DBP_ESCHEMA,
                             "nodes[0]: unknown node '%.64s' (no nodes are configured; the "
                             "only target is 'default', %s:%d)",
                             req->nodes[0], cfg->db_host, cfg->db_port);
            goto out;
        }
        dbp_strlcpy(t->nodes[0].name, "default", sizeof(t->nodes[0].name));
        dbp_strlcpy(t->nodes[0].host, cfg->db_host, sizeof(t->nodes[0].host));
        t->nodes[0].port = cfg->db_port;
        t->nnodes = 1;
    } else if (req->nnodes == 0) {
        for (int i = 0; i < cfg->nnodes; i++) {
            dbp_strlcpy(t->nodes[i].name, cfg->nodes[i].name, sizeof(t->nodes[i].name));
            dbp_strlcpy(t->nodes[i].host, cfg->nodes[i].host, sizeof(t->nodes[i].host));
            t->nodes[i].port = cfg->nodes[i].port;
        }
        t->nnodes = cfg->nnodes;
    } else {
        for (int i = 0; i < req->nnodes; i++) {
            const struct dbp_node_cfg *n = dbp_config_node(cfg, req->nodes[i]);
            if (!n) {
                char known[256] = "";
                for (int k = 0; k < cfg->nnodes; k++) {
                    size_t l = strlen(known);
                    snprintf(known + l, sizeof(known) - l, "%s%s", k ? ", " : "",
                             cfg->nodes[k].name);
                }
                rc = dbp_err_set(err, DBP_ESCHEMA, "nodes[%d]: unknown node '%.64s' (known: %s)",
                                 i, req->nodes[i], known);
                goto out;
            }
            for (int k = 0; k < i; k++)
                if (strcmp(req->nodes[k], req->nodes[i]) == 0) {
                    rc = dbp_err_set(err, DBP_ESCHEMA, "nodes[%d]: node '%s' listed twice", i,
                                     req->nodes[i]);
                    goto out;
                }
            dbp_strlcpy(t->nodes[i].name, n->name, sizeof(t->nodes[i].name));
            dbp_strlcpy(t->nodes[i].host, n->host, sizeof(t->nodes[i].host));
            t->nodes[i].port = n->port;
        }
        t->nnodes = req->nnodes;
    }
    if (req->tool == DBP_WL_TOOL_TPCC_MYSQL && t->nnodes > 1) {
        if (req->nnodes > 1) {
            rc = dbp_err_set(err, DBP_ESCHEMA,
                             "nodes: tpcc-mysql drives a single node; give exactly one");
            goto out;
        }
        t->nnodes = 1; /* default: the first configured node */
    }

    dbp_strlcpy(t->lua_dir, cfg->lua_dir, sizeof(t->lua_dir));
    dbp_strlcpy(t->tpcc_dir, cfg->tpcc_dir, sizeof(t->tpcc_dir));
    runs_dir_of(cfg, t->runs_dir, sizeof(t->runs_dir));
    t->max_runs = cfg->max_runs > 0 ? cfg->max_runs : 16;

    /* Tools. */
    if (req->tool == DBP_WL_TOOL_TPCC_MYSQL) {
        if (!t->tpcc_dir[0]) {
            rc = dbp_err_set(err, DBP_EUNAVAIL,
                             "tpcc-mysql is not configured (set workload.tpcc_dir to the "
                             "directory holding tpcc_load and tpcc_start)");
            goto out;
        }
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/tpcc_start", t->tpcc_dir);
        if (access(p, X_OK) != 0) {
            rc = dbp_err_set(err, DBP_EUNAVAIL, "tpcc-mysql is not installed: '%s' %s", p,
                             strerror(errno));
            goto out;
        }
    } else {
        int e = dbp_spawn_which(cfg->sysbench_path, NULL, t->sysbench, sizeof(t->sysbench));
        if (e) {
            rc = dbp_err_set(err, DBP_EUNAVAIL,
                             "sysbench is not installed: cannot execute '%s': %s "
                             "(workload.sysbench)",
                             cfg->sysbench_path, strerror(e));
            goto out;
        }
        if (req->type != DBP_WL_SYSBENCH) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s.lua", t->lua_dir, type_names[req->type]);
            if (access(p, R_OK) != 0) {
                rc = dbp_err_set(err, DBP_EUNAVAIL,
                                 "%s script '%s' is not readable: %s (workload.lua_dir)",
                                 req->type == DBP_WL_TPCC ? "TPC-C" : "TPC-H", p,
                                 strerror(errno));
                goto out;
            }
        }
    }
    if (req->type == DBP_WL_SYSBENCH) {
        bool found = false;
        pthread_mutex_lock(&wl->lock);
        for (int i = 0; i < wl->nscripts; i++)
            if (strcmp(wl->scripts[i], req->script) == 0)
                found = true;
        char list[512] = "";
        for (int i = 0; i < wl->nscripts && !found; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", wl->scripts[i]);
        }
        pthread_mutex_unlock(&wl->lock);
        if (!found) {
            rc = dbp_err_set(err, DBP_ESCHEMA,
                             "options.script: unknown sysbench script '%.64s' (installed: %s)",
                             req->script, list[0] ? list : "none found");
            goto out;
        }
    }
out:
    if (rc)
        explicit_bzero(t->password, sizeof(t->password));
    dbp_config_unref(cfg);
    return rc;
}

static void target_wipe(struct target *t)
{
    explicit_bzero(t->password, sizeof(t->password));
}

/* ---- database checks ----------------------------------------------------- */

static struct dbp_db *db_open(const struct target *t, int node, const char *database,
                              int read_s)
{
    struct dbp_db_opts o = {
        .host = t->nodes[node].host,
        .port = t->nodes[node].port,
        .user = t->user,
        .password = t->password,
        .database = database,
        .connect_timeout_s = CHECK_CONNECT_S,
        .read_timeout_s = read_s,
    };
    return dbp_db_new(&o);
}

/* Connect to node; map failures: unreachable / refused credentials ->
 * DBP_EUNAVAIL, unknown database -> DBP_EBUSY (not prepared). */
static int db_connect(struct dbp_db *db, const struct target *t, int node, const char *dbname,
                      struct dbp_err *err)
{
    struct dbp_err e = {0};
    if (dbp_db_ensure(db, &e) == 0)
        return 0;
    unsigned no = dbp_db_errno(db);
    if (no == 1049)
        return dbp_err_set(err, DBP_EBUSY,
                           "database '%s' does not exist on %s; prepare it first "
                           "(POST /api/workload/prepare)",
                           dbname, t->nodes[node].name);
    return dbp_err_set(err, DBP_EUNAVAIL, "database unavailable: node %s: %s",
                       t->nodes[node].name, e.msg);
}

static long long scalar_ll(struct dbp_db *db, const char *sql, struct dbp_err *err, int *rc)
{
    char buf[64];
    *rc = dbp_db_scalar(db, sql, buf, sizeof(buf), err);
    if (*rc)
        return -1;
    return strtoll(buf, NULL, 10);
}

/* How many of the listed tables exist in `schema`. */
static long long count_named_tables(struct dbp_db *db, const char *schema,
                                    const char *const *tables, struct dbp_err *err, int *rc)
{
    struct dbp_buf b;
    char q[80];
    dbp_buf_init(&b, 8192);
    if ((*rc = dbp_db_quote_string(db, schema, q, sizeof(q)))) {
        dbp_err_set(err, *rc, "cannot quote the schema name");
        return 0;
    }
    dbp_buf_printf(&b,
                   "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                   "AND TABLE_NAME IN (",
                   q);
    for (int i = 0; tables[i]; i++)
        dbp_buf_printf(&b, "%s'%s'", i ? "," : "", tables[i]);
    dbp_buf_puts(&b, ")");
    if ((*rc = dbp_buf_status(&b))) {
        dbp_err_set(err, *rc, "query text too long");
        dbp_buf_release(&b);
        return 0;
    }
    long long n = scalar_ll(db, b.data, err, rc);
    dbp_buf_release(&b);
    return n;
}

/* sysbench tables sbtest1..sbtestN present: (count of sbtest<k>, highest k). */
static int sysbench_tables(struct dbp_db *db, long long *count, long long *maxk,
                           struct dbp_err *err)
{
    int rc;
    *count = scalar_ll(db,
                       "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                       "'sbtest' AND TABLE_NAME REGEXP '^sbtest[0-9]+$'",
                       err, &rc);
    if (rc)
        return rc;
    *maxk = scalar_ll(db,
                      "SELECT COALESCE(MAX(CAST(SUBSTRING(TABLE_NAME, 7) AS UNSIGNED)), 0) FROM "
                      "information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest' AND TABLE_NAME "
                      "REGEXP '^sbtest[0-9]+$'",
                      err, &rc);
    return rc;
}

/*
 * Before a run: every target node reachable with the benchmark
 * credentials; on the first node, the database prepared for this request.
 * *prepared tells whether it is; *partial whether something is in the way
 * of a prepare (tables of another shape).
 */
static int check_database(const struct target *t, const struct dbp_wl_request *req,
                          bool *prepared, bool *partial, char *why, size_t whysz,
                          struct dbp_err *err)
{
    const char *dbname = type_dbs[req->type];
    int rc = 0;
    *prepared = *partial = false;
    why[0] = '\0';
    dbp_db_thread_init();
    for (int i = 0; i < t->nnodes && !rc; i++) {
        struct dbp_db *db = db_open(t, i, NULL, CHECK_READ_S);
        struct dbp_err qe = {0}; /* query failures, reworded below */
        rc = db_connect(db, t, i, dbname, err);
        if (!rc && i == 0) {
            char q[80];
            long long n = 0, maxk = 0;
            char sql[200];
            long long have_db = 0;
            if ((rc = dbp_db_quote_string(db, dbname, q, sizeof(q))))
                dbp_err_set(&qe, rc, "cannot quote the database name");
            else
                snprintf(sql, sizeof(sql),
                         "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                         q);
            if (!rc)
                have_db = scalar_ll(db, sql, &qe, &rc);
            if (rc) {
                /* reported below */
            } else if (have_db == 0) {
                snprintf(why, whysz, "database '%s' does not exist on %s", dbname,
                         t->nodes[i].name);
            } else if (req->type == DBP_WL_SYSBENCH) {
                rc = sysbench_tables(db, &n, &maxk, &qe);
                if (!rc) {
                    *prepared = maxk >= req->tables && n >= req->tables;
                    *partial = !*prepared && n > 0;
                    if (!*prepared && n == 0)
                        snprintf(why, whysz, "'%s' on %s holds no sysbench tables (the run "
                                 "needs sbtest1..sbtest%d)",
                                 dbname, t->nodes[i].name, req->tables);
                    else if (!*prepared)
                        snprintf(why, whysz,
                                 "'%s' on %s holds %lld sysbench table(s) (highest sbtest%lld), "
                                 "the run needs sbtest1..sbtest%d",
                                 dbname, t->nodes[i].name, n, maxk, req->tables);
                }
            } else {
                const char *const *tabs = req->type == DBP_WL_TPCH ? tpch_tables : tpcc_tables;
                int want = 0;
                while (tabs[want])
                    want++;
                n = count_named_tables(db, dbname, tabs, &qe, &rc);
                if (!rc) {
                    *prepared = n == want;
                    *partial = n > 0 && n < want;
                    if (!*prepared)
                        snprintf(why, whysz, "'%s' on %s holds %lld of the %d %s tables", dbname,
                                 t->nodes[i].name, n, want,
                                 req->type == DBP_WL_TPCH ? "TPC-H" : "TPC-C");
                }
                if (!rc && *prepared && req->type == DBP_WL_TPCC) {
                    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `tpcc`.`warehouse`");
                    long long w = scalar_ll(db, sql, &qe, &rc);
                    if (!rc && w < req->warehouses) {
                        *prepared = false;
                        *partial = true;
                        snprintf(why, whysz,
                                 "'tpcc' on %s holds %lld warehouse(s), the run asks for %d",
                                 t->nodes[i].name, w, req->warehouses);
                    }
                }
            }
            if (rc)
                rc = dbp_err_set(err, DBP_EUNAVAIL, "database unavailable: node %s: %s",
                                 t->nodes[i].name, qe.msg);
        }
        dbp_db_free(db);
    }
    dbp_db_thread_end();
    return rc;
}

/* ---- command lines ------------------------------------------------------- */

static void add_sysbench_common(struct argv_b *a, const struct target *t, const char *cnf,
                                const char *script, const char *db)
{
    char hosts[1024] = "", ports[512] = "";
    for (int i = 0; i < t->nnodes; i++) {
        size_t hl = strlen(hosts), pl = strlen(ports);
        snprintf(hosts + hl, sizeof(hosts) - hl, "%s%s", i ? "," : "", t->nodes[i].host);
        snprintf(ports + pl, sizeof(ports) - pl, "%s%d", i ? "," : "", t->nodes[i].port);
    }
    av_add(a, "%s", t->sysbench);
    if (cnf && cnf[0])
        av_add(a, "--config-file=%s", cnf);
    av_add(a, "%s", script);
    av_add(a, "--db-driver=mysql");
    av_add(a, "--mysql-host=%s", hosts);
    av_add(a, "--mysql-port=%s", ports);
    av_add(a, "--mysql-user=%s", t->user);
    av_add(a, "--mysql-db=%s", db);
}

static void script_path(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                        const struct target *t, char *out, size_t outsz)
{
    if (req->type == DBP_WL_SYSBENCH)
        snprintf(out, outsz, "%s/%s.lua", wl->script_dir, req->script);
    else
        snprintf(out, outsz, "%s/%s.lua", t->lua_dir, type_names[req->type]);
}

static void add_type_options(struct argv_b *a, const struct dbp_wl_request *req)
{
    if (req->type == DBP_WL_SYSBENCH) {
        av_add(a, "--tables=%d", req->tables);
        av_add(a, "--table-size=%lld", req->table_size);
    } else if (req->type == DBP_WL_TPCC) {
        av_add(a, "--warehouses=%d", req->warehouses);
    } else {
        av_add(a, "--scale=%g", req->scale);
    }
}

/* argv for one sysbench command: "prepare", "run", "cleanup", "check". */
static char **sysbench_argv(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                            const struct target *t, const char *cnf, const char *cmd,
                            int tables_override)
{
    struct argv_b a = {0};
    char script[PATH_MAX];
    script_path(wl, req, t, script, sizeof(script));
    add_sysbench_common(&a, t, cnf, script, type_dbs[req->type]);
    struct dbp_wl_request r = *req;
    if (tables_override > 0)
        r.tables = tables_override;
    add_type_options(&a, &r);
    if (strcmp(cmd, "run") == 0) {
        av_add(&a, "--threads=%d", req->threads);
        av_add(&a, "--time=%d", req->time_s < 0 ? 0 : req->time_s);
        av_add(&a, "--report-interval=%d", req->report_interval);
        av_add(&a, "--rate=%d", req->rate);
        av_add(&a, "--rand-type=%s", req->rand_type);
        av_add(&a, "--percentile=95");
    } else if (strcmp(cmd, "prepare") == 0) {
        int th = req->threads;
        if (req->type == DBP_WL_SYSBENCH && th > req->tables)
            th = req->tables;
        av_add(&a, "--threads=%d", th);
    }
    av_add(&a, "%s", cmd);
    return av_take(&a);
}

static char **tpcc_mysql_argv(const struct dbp_wl_request *req, const struct target *t,
                              bool load)
{
    struct argv_b a = {0};
    /* tpcc_load/tpcc_start take the password only as -p: the one tool that
     * cannot keep it out of argv (documented in docs/workloads.md). */
    av_add(&a, "%s/%s", t->tpcc_dir, load ? "tpcc_load" : "tpcc_start");
    av_add(&a, "-h");
    av_add(&a, "%s", t->nodes[0].host);
    av_add(&a, "-P");
    av_add(&a, "%d", t->nodes[0].port);
    av_add(&a, "-d");
    av_add(&a, "tpcc");
    av_add(&a, "-u");
    av_add(&a, "%s", t->user);
    av_add(&a, "-p");
    av_add(&a, "%s", t->password);
    av_add(&a, "-w");
    av_add(&a, "%d", req->warehouses);
    if (!load) {
        int secs = req->time_s > 0 ? req->time_s
                   : req->time_s == 0 ? TPCC_UNTIL_STOPPED_S
                                      : req->running_min * 60;
        av_add(&a, "-c");
        av_add(&a, "%d", req->threads);
        av_add(&a, "-r");
        av_add(&a, "%d", req->warmup_s);
        av_add(&a, "-l");
        av_add(&a, "%d", secs);
        av_add(&a, "-i");
        av_add(&a, "%d", req->report_interval);
    }
    return av_take(&a);
}

static char **child_env(const char *id, const char *mysql_pwd)
{
    const char *path = getenv("PATH");
    char *v[6];
    int n = 0;
    v[n++] = dbp_xasprintf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    v[n++] = dbp_xstrdup("LANG=C");
    v[n++] = dbp_xstrdup("LC_ALL=C");
    v[n++] = dbp_xasprintf("DBP_RUN_ID=%s", id);
    if (mysql_pwd)
        v[n++] = dbp_xasprintf("MYSQL_PWD=%s", mysql_pwd);
    v[n] = NULL;
    char **out = strv_new((const char *const *)v, n);
    for (int i = 0; i < n; i++) {
        explicit_bzero(v[i], strlen(v[i]));
        free(v[i]);
    }
    return out;
}

/* ---- run bookkeeping ----------------------------------------------------- */

static void run_free(struct run *r)
{
    if (!r)
        return;
    for (int i = 0; i < MAX_STEPS; i++) {
        strv_free(r->steps[i].argv);
        dbp_proc_unref(r->procs[i]);
    }
    strv_free(r->envp);
    if (r->secret) {
        explicit_bzero(r->secret, strlen(r->secret));
        free(r->secret);
    }
    free(r->samples);
    free(r);
}

static bool run_active(const struct run *r)
{
    return !r->ended;
}

static struct run *find_run(struct dbp_workloads *wl, const char *id)
{
    for (struct run *r = wl->runs; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

static int count_active(struct dbp_workloads *wl, int type)
{
    int n = 0;
    for (struct run *r = wl->runs; r; r = r->next)
        if (run_active(r) && (type < 0 || (int)r->req.type == type))
            n++;
    return n;
}

/* Drop ended, unpinned runs beyond KEEP_RUNS, and their logs.  Lock held
 * (an unlink is short; the log's child has exited, so nothing writes it). */
static void evict(struct dbp_workloads *wl)
{
    int ended = 0;
    for (struct run **pp = &wl->runs; *pp;) {
        struct run *r = *pp;
        if (r->ended && ++ended > KEEP_RUNS && r->pins == 0) {
            *pp = r->next;
            if (r->log_path[0])
                unlink(r->log_path);
            run_free(r);
            continue;
        }
        pp = &r->next;
    }
}

/* Remove "<id>.log" files in runs_dir older than max_age_s that no run in
 * memory refers to.  Takes wl->lock per file (the runs list is short). */
static void sweep_logs(struct dbp_workloads *wl, const char *runs_dir, double max_age_s)
{
    DIR *d = opendir(runs_dir);
    if (!d)
        return;
    double now = dbp_wall_s();
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".log") != 0 || e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", runs_dir, e->d_name) >= sizeof(p) ||
            lstat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            now - (double)st.st_mtim.tv_sec < max_age_s)
            continue;
        bool known = false;
        pthread_mutex_lock(&wl->lock);
        for (struct run *r = wl->runs; r && !known; r = r->next)
            known = strcmp(r->log_path, p) == 0;
        pthread_mutex_unlock(&wl->lock);
        if (!known)
            unlink(p);
    }
    closedir(d);
}

static struct task *find_task(struct dbp_workloads *wl, const char *id)
{
    for (struct task *t = wl->tasks; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

/* Public status of a run in the original's vocabulary. */
static const char *public_status(const struct run *r)
{
    switch (r->state) {
    case R_STARTING:
    case R_PREPARING:
    case R_RUNNING:
    case R_STOPPING:
        return "running";
    case R_STOPPED:
    case R_FINISHED:
        return "stopped";
    case R_FAILED:
        return "error";
    }
    return "error";
}

static void push_sample(struct run *r, const struct dbp_wl_sample *s)
{
    if (!r->samples)
        r->samples = dbp_xcalloc(MAX_SAMPLES, sizeof(*r->samples));
    size_t idx = (r->head + r->nsamples) % MAX_SAMPLES;
    if (r->nsamples == MAX_SAMPLES) {
        r->samples[r->head] = *s;
        r->head = (r->head + 1) % MAX_SAMPLES;
    } else {
        r->samples[idx] = *s;
        r->nsamples++;
    }
    r->last = *s;
    r->total_samples++;
    if (s->tps >= 0)
        r->sum_tps += s->tps;
    if (s->qps >= 0) {
        r->sum_qps += s->qps;
        r->n_qps++;
    }
    if (s->lat_ms >= 0) {
        r->sum_lat += s->lat_ms;
        r->n_lat++;
        if (s->lat_ms > r->max_lat)
            r->max_lat = s->lat_ms;
    }
    if (s->err_s >= 0) {
        r->sum_err += s->err_s;
        r->n_err++;
    }
    if (s->reconn_s >= 0) {
        r->sum_reconn += s->reconn_s;
        r->n_reconn++;
    }
    if (s->tpmc >= 0) {
        r->sum_tpmc += s->tpmc;
        r->n_tpmc++;
        if (s->tpmc > r->max_tpmc)
            r->max_tpmc = s->tpmc;
    }
}

/* The Lua TPC-C script prints "[ 10s ] tpmC: x" right after the standard
 * line of the same interval: attach it. */
static void attach_tpmc(struct run *r, double t, double tpmc)
{
    if (r->nsamples > 0) {
        size_t idx = (r->head + r->nsamples - 1) % MAX_SAMPLES;
        struct dbp_wl_sample *s = &r->samples[idx];
        if (fabs(s->t_s - t) < 0.5 && s->tpmc < 0) {
            s->tpmc = tpmc;
            r->last.tpmc = tpmc;
            r->sum_tpmc += tpmc;
            r->n_tpmc++;
            if (tpmc > r->max_tpmc)
                r->max_tpmc = tpmc;
            return;
        }
    }
    struct dbp_wl_sample s;
    dbp_wl_sample_clear(&s);
    s.t_s = t;
    s.tpmc = tpmc;
    push_sample(r, &s);
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void run_on_line(void *cls, struct dbp_proc *p, enum dbp_stream s, const char *line)
{
    (void)p;
    (void)s;
    struct run *r = cls;
    struct dbp_workloads *wl = r->wl;
    struct dbp_wl_sample smp;
    double t, v;
    int q;

    pthread_mutex_lock(&wl->lock);
    bool in_run_step = strcmp(r->steps[r->step].name, "run") == 0;
    if (in_run_step) {
        if (r->req.tool == DBP_WL_TOOL_TPCC_MYSQL) {
            if (dbp_wl_parse_tpcc_mysql_interval(line, r->req.report_interval, &smp)) {
                push_sample(r, &smp);
                r->started = true;
            } else if (strstr(line, "MEASURING START") || strstr(line, "RAMP-UP TIME")) {
                r->started = true;
            }
        } else if (dbp_wl_parse_interval(line, &smp)) {
            push_sample(r, &smp);
            r->started = true;
        } else if (dbp_wl_parse_tpmc_interval(line, &t, &v)) {
            attach_tpmc(r, t, v);
        } else if (dbp_wl_parse_query(line, &q, &v)) {
            r->query_last[q] = v;
            r->query_sum[q] += v;
            r->query_n[q]++;
            r->queries_completed++;
        } else if (strstr(line, "Threads started!")) {
            r->started = true;
        } else if (strncmp(line, "Query ", 6) == 0 && strstr(line, " failed - ")) {
            r->queries_failed++;
        }
        dbp_wl_parse_summary_line(line, &r->summary);
    }
    if (!r->first_error[0] &&
        (starts_with_ci(line, "FATAL") || strstr(line, "error at ") ||
         starts_with_ci(line, "error"))) {
        dbp_strlcpy(r->first_error, line, sizeof(r->first_error));
    }
    if (r->started)
        pthread_cond_broadcast(&wl->cond);
    pthread_mutex_unlock(&wl->lock);
}

static void task_on_run_end(struct dbp_workloads *wl, struct run *r)
{
    if (!r->task_id[0])
        return;
    struct task *t = find_task(wl, r->task_id);
    if (!t || strcmp(t->status, "running") != 0)
        return;
    t->end_wall = r->end_wall;
    if (r->state == R_FAILED) {
        dbp_strlcpy(t->status, "failed", sizeof(t->status));
        dbp_strlcpy(t->error, r->message, sizeof(t->error));
    } else if (r->state == R_FINISHED) {
        dbp_strlcpy(t->status, "completed", sizeof(t->status));
    } else {
        dbp_strlcpy(t->status, "stopped", sizeof(t->status));
    }
}

static int spawn_step(struct run *r, struct dbp_proc **out, struct dbp_err *err);

/* Describe how a step ended (lock held). */
static void describe_end(struct run *r, const struct dbp_proc_status *st, const char *tool)
{
    const char *stepname = r->steps[r->step].name;
    if (st->exited) {
        snprintf(r->message, sizeof(r->message), "%s %s exited with status %d%s%s", tool,
                 stepname, st->code, r->first_error[0] ? ": " : "", r->first_error);
    } else if (st->stop_requested) {
        snprintf(r->message, sizeof(r->message), "%s %s stopped by dbpecker (signal %d%s)",
                 tool, stepname, st->signal, st->killed ? ", SIGKILL after the grace period" : "");
    } else {
        const char *abbrev = sigabbrev_np(st->signal);
        snprintf(r->message, sizeof(r->message),
                 "%s %s was killed by signal %d (SIG%s) from outside dbpecker", tool, stepname,
                 st->signal, abbrev ? abbrev : "?");
    }
}

static void run_on_exit(void *cls, struct dbp_proc *p, const struct dbp_proc_status *st)
{
    (void)p;
    struct run *r = cls;
    struct dbp_workloads *wl = r->wl;
    const char *tool = r->req.tool == DBP_WL_TOOL_TPCC_MYSQL ? "tpcc-mysql" : "sysbench";

    pthread_mutex_lock(&wl->lock);
    r->exit_code = st->exited ? st->code : -1;
    r->signal = st->exited ? 0 : st->signal;
    bool ok = st->exited && st->code == 0;
    bool next = ok && !r->stop_requested && !wl->stopping && r->step + 1 < r->nsteps;
    if (next) {
        r->step++;
        r->first_error[0] = '\0';
        r->state = strcmp(r->steps[r->step].name, "run") == 0 ? R_RUNNING : R_PREPARING;
        pthread_mutex_unlock(&wl->lock);

        struct dbp_err err = {0};
        struct dbp_proc *np = NULL;
        int rc = spawn_step(r, &np, &err);

        pthread_mutex_lock(&wl->lock);
        if (rc == 0) {
            r->procs[r->step] = np;
            if (r->stop_requested)
                dbp_proc_stop(np, wl->grace_ms);
            pthread_mutex_unlock(&wl->lock);
            return;
        }
        snprintf(r->message, sizeof(r->message), "cannot start the %s step: %.200s",
                 r->steps[r->step].name, err.msg);
        r->state = R_FAILED;
    } else if (ok && !r->stop_requested) {
        r->state = R_FINISHED;
        snprintf(r->message, sizeof(r->message), "%s finished", tool);
    } else if (r->stop_requested || (wl->stopping && st->stop_requested)) {
        r->state = R_STOPPED;
        if (wl->stopping && !r->stop_requested)
            snprintf(r->message, sizeof(r->message), "stopped at daemon shutdown");
        else
            snprintf(r->message, sizeof(r->message), "Workload stopped successfully");
    } else {
        r->state = R_FAILED;
        describe_end(r, st, tool);
    }
    r->ended = true;
    r->end_wall = dbp_wall_s();
    if (r->state == R_FAILED)
        wl->runs_failed++;
    if (r->cnf_path[0])
        unlink(r->cnf_path);
    if (r->secret) {
        explicit_bzero(r->secret, strlen(r->secret));
        DBP_FREE(r->secret);
    }
    strv_free(r->envp);
    r->envp = NULL;
    for (int i = 0; i < r->nsteps; i++) {
        /* The tpcc-mysql argv carries the password: wipe it now. */
        strv_free(r->steps[i].argv);
        r->steps[i].argv = NULL;
    }
    task_on_run_end(wl, r);
    if (r->state == R_FAILED)
        DBP_WARN(MOD, "run %s failed: %s", r->id, r->message);
    else
        DBP_INFO(MOD, "run %s %s: %s", r->id, state_names[r->state], r->message);
    pthread_cond_broadcast(&wl->cond);
    pthread_mutex_unlock(&wl->lock);
}

static int spawn_step(struct run *r, struct dbp_proc **out, struct dbp_err *err)
{
    const char *redact[] = {r->secret, NULL};
    struct dbp_spawn_opts o = {
        .argv = (const char *const *)r->steps[r->step].argv,
        .envp = (const char *const *)r->envp,
        .cwd = NULL,
        .log_path = r->log_path[0] ? r->log_path : NULL,
        .grace_ms = r->wl->grace_ms,
        .redact = r->secret && r->secret[0] ? redact : NULL,
        .on_line = run_on_line,
        .on_exit = run_on_exit,
        .cls = r,
    };
    return dbp_spawn(r->wl->sp, &o, out, err);
}

/* ---- starting a run ------------------------------------------------------ */

static int validate_request(const struct dbp_wl_request *req, struct dbp_err *err)
{
    if ((unsigned)req->type >= DBP_WL_NTYPES)
        return dbp_err_set(err, DBP_ESCHEMA, "type: unknown workload type");
    if (req->threads < 1 || req->threads > DBP_WL_MAX_THREADS)
        return dbp_err_set(err, DBP_ESCHEMA, "threads: must be 1..%d", DBP_WL_MAX_THREADS);
    if (req->tables < 1 || req->tables > DBP_WL_MAX_TABLES)
        return dbp_err_set(err, DBP_ESCHEMA, "options.tables: must be 1..%d", DBP_WL_MAX_TABLES);
    if (req->table_size < 1 || req->table_size > DBP_WL_MAX_TABLE_SIZE)
        return dbp_err_set(err, DBP_ESCHEMA, "options.tableSize: must be 1..%lld",
                           DBP_WL_MAX_TABLE_SIZE);
    if (req->report_interval < 1 || req->report_interval > 3600)
        return dbp_err_set(err, DBP_ESCHEMA, "options.reportInterval: must be 1..3600 seconds");
    bool rt = false;
    for (int i = 0; rand_types[i]; i++)
        rt |= strcmp(req->rand_type, rand_types[i]) == 0;
    if (!rt)
        return dbp_err_set(err, DBP_ESCHEMA,
                           "options.randType: must be uniform, gaussian, special or pareto");
    if (req->warehouses < 1 || req->warehouses > DBP_WL_MAX_WAREHOUSES)
        return dbp_err_set(err, DBP_ESCHEMA, "options.warehouses: must be 1..%d",
                           DBP_WL_MAX_WAREHOUSES);
    if (req->time_s < -1 || req->time_s > DBP_WL_MAX_TIME)
        return dbp_err_set(err, DBP_ESCHEMA, "options.time: must be 0..%d seconds",
                           DBP_WL_MAX_TIME);
    if (req->rate < 0 || req->rate > DBP_WL_MAX_RATE)
        return dbp_err_set(err, DBP_ESCHEMA, "options.rate: must be 0..%d", DBP_WL_MAX_RATE);
    if (!(req->scale >= 0.01 && req->scale <= 1.0))
        return dbp_err_set(err, DBP_ESCHEMA, "options.scale: must be 0.01..1");
    if (req->tool == DBP_WL_TOOL_TPCC_MYSQL && req->type != DBP_WL_TPCC)
        return dbp_err_set(err, DBP_ESCHEMA, "options.tool: tpcc-mysql runs type tpcc only");
    return 0;
}

static void make_id(char *out, size_t outsz, const char *prefix)
{
    char hex[9];
    dbp_random_hex(hex, 8);
    snprintf(out, outsz, "%s-%s", prefix, hex);
}

int dbp_workloads_run(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                      char id_out[DBP_WL_ID_MAX], struct dbp_err *err)
{
    struct target t;
    struct run *r = NULL;
    bool prepared = false, partial = false;
    char why[300];
    int rc;

    rc = validate_request(req, err);
    if (rc)
        return rc;
    rc = resolve_target(wl, req, &t, err);
    if (rc)
        return rc;

    pthread_mutex_lock(&wl->lock);
    if (wl->stopping || !wl->started)
        rc = dbp_err_set(err, DBP_EUNAVAIL, "the workload module is stopping");
    else if (count_active(wl, -1) >= t.max_runs)
        rc = dbp_err_set(err, DBP_EBUSY,
                         "%d workload runs are active, the limit is %d (workload.max_runs)",
                         count_active(wl, -1), t.max_runs);
    else if (wl->busy[req->type])
        rc = dbp_err_set(err, DBP_EBUSY,
                         "a prepare or cleanup of database '%s' is in progress; wait for its job",
                         type_dbs[req->type]);
    pthread_mutex_unlock(&wl->lock);
    if (rc)
        goto fail;

    rc = check_database(&t, req, &prepared, &partial, why, sizeof(why), err);
    if (rc)
        goto fail;
    if (!prepared && !req->prepare_db) {
        rc = dbp_err_set(err, DBP_EBUSY,
                         "database not prepared: %s; prepare it first (POST "
                         "/api/workload/prepare) or set options.prepare_db",
                         why);
        goto fail;
    }
    if (!prepared && partial && !req->force) {
        rc = dbp_err_set(err, DBP_EBUSY,
                         "cannot prepare: %s; set options.force to drop and re-create them", why);
        goto fail;
    }
    if (req->tool == DBP_WL_TOOL_TPCC_MYSQL && !prepared) {
        rc = dbp_err_set(err, DBP_EBUSY,
                         "database not prepared for tpcc-mysql: %s; prepare it first (POST "
                         "/api/workload/prepare with options.tool \"tpcc-mysql\")",
                         why);
        goto fail;
    }

    r = dbp_xcalloc(1, sizeof(*r));
    r->wl = wl;
    r->req = *req;
    make_id(r->id, sizeof(r->id), type_names[req->type]);
    dbp_strlcpy(r->db, type_dbs[req->type], sizeof(r->db));
    dbp_strlcpy(r->script_name,
                req->tool == DBP_WL_TOOL_TPCC_MYSQL ? "tpcc_start"
                : req->type == DBP_WL_SYSBENCH      ? req->script
                                                    : type_names[req->type],
                sizeof(r->script_name));
    for (int i = 0; i < t.nnodes; i++) {
        size_t l = strlen(r->nodes_str);
        snprintf(r->nodes_str + l, sizeof(r->nodes_str) - l, "%s%s", i ? "," : "",
                 t.nodes[i].name);
    }
    r->state = R_STARTING;
    r->start_wall = dbp_wall_s();
    dbp_wl_summary_clear(&r->summary);
    dbp_wl_sample_clear(&r->last);
    r->exit_code = -1;

    if (dbp_mkdir_p(t.runs_dir, 0700) != 0) {
        rc = dbp_err_set(err, DBP_EIO, "cannot create '%s'", t.runs_dir);
        goto fail;
    }
    sweep_logs(wl, t.runs_dir, LOG_MAX_AGE_S);
    snprintf(r->log_path, sizeof(r->log_path), "%s/%s.log", t.runs_dir, r->id);
    const char *mysql_pwd = NULL;
    if (req->tool != DBP_WL_TOOL_TPCC_MYSQL && t.password[0]) {
        if (cnf_representable(t.password)) {
            snprintf(r->cnf_path, sizeof(r->cnf_path), "%s/%s.cnf", t.runs_dir, r->id);
            rc = write_cnf(r->cnf_path, t.password, err);
            if (rc) {
                r->cnf_path[0] = '\0';
                goto fail;
            }
        } else {
            mysql_pwd = t.password;
        }
    }
    r->secret = dbp_xstrdup(t.password);
    r->envp = child_env(r->id, mysql_pwd);

    if (req->tool == DBP_WL_TOOL_TPCC_MYSQL) {
        dbp_strlcpy(r->steps[r->nsteps].name, "run", sizeof(r->steps[0].name));
        r->steps[r->nsteps++].argv = tpcc_mysql_argv(req, &t, false);
    } else {
        if (!prepared && partial && req->force) {
            long long maxk = req->tables;
            dbp_strlcpy(r->steps[r->nsteps].name, "cleanup", sizeof(r->steps[0].name));
            r->steps[r->nsteps++].argv =
                sysbench_argv(wl, req, &t, r->cnf_path, "cleanup",
                              req->type == DBP_WL_SYSBENCH ? (int)(maxk > 1024 ? 1024 : maxk) : 0);
        }
        if (!prepared) {
            dbp_strlcpy(r->steps[r->nsteps].name, "prepare", sizeof(r->steps[0].name));
            r->steps[r->nsteps++].argv = sysbench_argv(wl, req, &t, r->cnf_path, "prepare", 0);
        }
        dbp_strlcpy(r->steps[r->nsteps].name, "run", sizeof(r->steps[0].name));
        r->steps[r->nsteps++].argv = sysbench_argv(wl, req, &t, r->cnf_path, "run", 0);
    }
    r->state = r->nsteps > 1 ? R_PREPARING : R_STARTING;

    if (req->task_name[0]) {
        struct task *tk = dbp_xcalloc(1, sizeof(*tk));
        uuid4(tk->id);
        dbp_strlcpy(tk->name, req->task_name, sizeof(tk->name));
        dbp_strlcpy(tk->workload_id, r->id, sizeof(tk->workload_id));
        tk->type = req->type;
        tk->threads = req->threads;
        tk->start_wall = r->start_wall;
        dbp_strlcpy(tk->status, "running", sizeof(tk->status));
        tk->anomalies = cJSON_CreateArray();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "prepare_db", req->prepare_db);
        cJSON_AddNumberToObject(o, "reportInterval", req->report_interval);
        cJSON_AddNumberToObject(o, "tables", req->tables);
        cJSON_AddNumberToObject(o, "tableSize", (double)req->table_size);
        cJSON_AddStringToObject(o, "randType", req->rand_type);
        cJSON_AddNumberToObject(o, "warehouses", req->warehouses);
        cJSON_AddNumberToObject(o, "warmupTime", req->warmup_s);
        cJSON_AddNumberToObject(o, "runningTime", req->running_min);
        if (req->type == DBP_WL_SYSBENCH)
            cJSON_AddStringToObject(o, "script", req->script);
        cJSON_AddNumberToObject(o, "time", req->time_s < 0 ? 0 : req->time_s);
        cJSON_AddNumberToObject(o, "rate", req->rate);
        if (req->type == DBP_WL_TPCH)
            cJSON_AddNumberToObject(o, "scale", req->scale);
        tk->options = o;
        dbp_strlcpy(r->task_id, tk->id, sizeof(r->task_id));
        pthread_mutex_lock(&wl->lock);
        tk->next = wl->tasks;
        wl->tasks = tk;
        wl->ntasks++;
        pthread_mutex_unlock(&wl->lock);
    }

    /* Listed before the child exists, so its first lines find it. */
    pthread_mutex_lock(&wl->lock);
    if (count_active(wl, -1) >= t.max_runs) {
        pthread_mutex_unlock(&wl->lock);
        rc = dbp_err_set(err, DBP_EBUSY, "the limit of %d active runs was reached (workload.max_runs)",
                         t.max_runs);
        goto fail;
    }
    r->next = wl->runs;
    wl->runs = r;
    r->pins++;
    wl->runs_started++;
    evict(wl);
    pthread_mutex_unlock(&wl->lock);

    struct dbp_proc *p = NULL;
    rc = spawn_step(r, &p, err);
    pthread_mutex_lock(&wl->lock);
    if (rc) {
        r->state = R_FAILED;
        r->ended = true;
        r->end_wall = dbp_wall_s();
        dbp_strlcpy(r->message, err ? err->msg : "cannot start", sizeof(r->message));
        if (r->cnf_path[0])
            unlink(r->cnf_path);
        wl->runs_failed++;
        task_on_run_end(wl, r);
        r->pins--;
        pthread_mutex_unlock(&wl->lock);
        target_wipe(&t);
        if (rc == DBP_ESPAWN && err)
            err->code = rc = DBP_EUNAVAIL; /* the tool cannot run here: 503 */
        return rc;
    }
    r->procs[r->step] = p;
    if (r->state == R_STARTING)
        r->state = R_RUNNING;
    DBP_INFO(MOD, "run %s started: %s %s, %d thread(s), nodes %s, pid %d", r->id,
             type_names[req->type], r->script_name, req->threads, r->nodes_str,
             (int)dbp_proc_pid(p));

    /* A tool that fails at once (bad credentials, missing tables) is
     * reported to the caller instead of leaving a dead run behind. */
    if (r->nsteps == 1) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += START_WAIT_MS / 1000;
        ts.tv_nsec += (START_WAIT_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!r->started && !r->ended)
            if (pthread_cond_timedwait(&wl->cond, &wl->lock, &ts) != 0)
                break;
    }
    if (r->ended && r->state == R_FAILED) {
        rc = dbp_err_set(err, DBP_EUPSTREAM, "run %s failed at start: %s", r->id, r->message);
    } else {
        memcpy(id_out, r->id, DBP_WL_ID_MAX);
        rc = 0;
    }
    r->pins--;
    pthread_mutex_unlock(&wl->lock);
    target_wipe(&t);
    return rc;

fail:
    target_wipe(&t);
    if (r) {
        if (r->cnf_path[0])
            unlink(r->cnf_path);
        if (r->task_id[0]) {
            pthread_mutex_lock(&wl->lock);
            for (struct task **pp = &wl->tasks; *pp; pp = &(*pp)->next)
                if (*pp && strcmp((*pp)->id, r->task_id) == 0) {
                    struct task *tk = *pp;
                    *pp = tk->next;
                    cJSON_Delete(tk->options);
                    cJSON_Delete(tk->anomalies);
                    free(tk);
                    wl->ntasks--;
                    break;
                }
            pthread_mutex_unlock(&wl->lock);
        }
        run_free(r);
    }
    return rc;
}

/* ---- stopping ------------------------------------------------------------ */

/* Ask a run to stop (lock held); returns its current process (a new
 * reference) to wait on, or NULL. */
static struct dbp_proc *request_stop(struct dbp_workloads *wl, struct run *r)
{
    r->stop_requested = true;
    r->state = R_STOPPING;
    struct dbp_proc *p = r->procs[r->step];
    if (p) {
        dbp_proc_stop(p, wl->grace_ms);
        dbp_proc_ref(p);
    }
    return p;
}

/* Wait until run r has ended (lock held on entry and exit). */
static bool wait_ended(struct dbp_workloads *wl, struct run *r, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!r->ended)
        if (pthread_cond_timedwait(&wl->cond, &wl->lock, &ts) != 0)
            break;
    return r->ended;
}

int dbp_workloads_stop_run(struct dbp_workloads *wl, const char *id, struct dbp_err *err)
{
    pthread_mutex_lock(&wl->lock);
    struct run *r = find_run(wl, id);
    if (!r || r->ended) {
        pthread_mutex_unlock(&wl->lock);
        return dbp_err_set(err, DBP_ENOTFOUND, "workload '%.60s' not found or already stopped",
                           id);
    }
    struct dbp_proc *p = request_stop(wl, r);
    r->pins++;
    bool ended = wait_ended(wl, r, wl->grace_ms + 2000);
    r->pins--;
    pthread_mutex_unlock(&wl->lock);
    dbp_proc_unref(p);
    if (!ended)
        return dbp_err_set(err, DBP_EINTERNAL, "workload '%s' did not stop within %d ms", id,
                           wl->grace_ms + 2000);
    return 0;
}

int dbp_workloads_stop_all(struct dbp_workloads *wl, cJSON **stopped, struct dbp_err *err)
{
    cJSON *ids = cJSON_CreateArray();
    struct run *list[256];
    struct dbp_proc *procs[256];
    int n = 0;

    pthread_mutex_lock(&wl->lock);
    for (struct run *r = wl->runs; r && n < 256; r = r->next)
        if (!r->ended) {
            procs[n] = request_stop(wl, r);
            r->pins++;
            list[n++] = r;
            cJSON_AddItemToArray(ids, cJSON_CreateString(r->id));
        }
    char remaining[512] = "";
    for (int i = 0; i < n; i++) {
        if (!wait_ended(wl, list[i], wl->grace_ms + 2000)) {
            size_t l = strlen(remaining);
            snprintf(remaining + l, sizeof(remaining) - l, "%s%s", l ? ", " : "", list[i]->id);
        }
        list[i]->pins--;
    }
    for (struct task *t = wl->tasks; t; t = t->next)
        if (strcmp(t->status, "running") == 0) {
            dbp_strlcpy(t->status, "stopped", sizeof(t->status));
            t->end_wall = dbp_wall_s();
        }
    pthread_mutex_unlock(&wl->lock);
    for (int i = 0; i < n; i++)
        dbp_proc_unref(procs[i]);

    if (stopped)
        *stopped = ids;
    else
        cJSON_Delete(ids);
    if (remaining[0])
        return dbp_err_set(err, DBP_EINTERNAL, "failed to stop all workloads. Remaining: %s",
                           remaining);
    return 0;
}

/* ---- snapshots ----------------------------------------------------------- */

static cJSON *sample_json(const struct dbp_wl_sample *s)
{
    cJSON *o = cJSON_CreateObject();
    json_num_or_null(o, "t", s->t_s);
    if (s->threads >= 0)
        cJSON_AddNumberToObject(o, "threads", s->threads);
    json_num_or_null(o, "tps", s->tps);
    json_num_or_null(o, "qps", s->qps);
    if (s->reads >= 0) {
        json_num_or_null(o, "reads", s->reads);
        json_num_or_null(o, "writes", s->writes);
        json_num_or_null(o, "other", s->other);
    }
    json_num_or_null(o, "latency_p95_ms", s->lat_pct == 95 ? s->lat_ms : -1);
    if (s->lat_pct && s->lat_pct != 95) {
        cJSON_AddNumberToObject(o, "latency_percentile", s->lat_pct);
        json_num_or_null(o, "latency_ms", s->lat_ms);
    }
    json_num_or_null(o, "errors_per_s", s->err_s);
    json_num_or_null(o, "reconnects_per_s", s->reconn_s);
    if (s->tpmc >= 0)
        json_num_or_null(o, "tpmc", s->tpmc);
    return o;
}

static cJSON *queries_json(const struct run *r)
{
    cJSON *q = cJSON_CreateObject();
    for (int i = 1; i <= DBP_WL_NQUERIES; i++)
        if (r->query_n[i]) {
            char k[8];
            snprintf(k, sizeof(k), "%d", i);
            cJSON *e = cJSON_AddObjectToObject(q, k);
            json_num_or_null(e, "last_s", r->query_last[i]);
            json_num_or_null(e, "avg_s", r->query_sum[i] / r->query_n[i]);
            cJSON_AddNumberToObject(e, "runs", r->query_n[i]);
        }
    return q;
}

static cJSON *summary_json(const struct run *r)
{
    cJSON *o = cJSON_CreateObject();
    double end = r->ended ? r->end_wall : dbp_wall_s();
    cJSON_AddBoolToObject(o, "final", r->ended);
    json_num_or_null(o, "duration_s", end - r->start_wall);
    cJSON_AddNumberToObject(o, "intervals", (double)r->total_samples);
    unsigned long n = r->total_samples;
    json_num_or_null(o, "avg_tps", n ? r->sum_tps / (double)n : -1);
    json_num_or_null(o, "avg_qps", r->n_qps ? r->sum_qps / (double)r->n_qps : -1);
    json_num_or_null(o, "avg_latency_p95_ms", r->n_lat ? r->sum_lat / (double)r->n_lat : -1);
    json_num_or_null(o, "max_latency_p95_ms", r->n_lat ? r->max_lat : -1);
    json_num_or_null(o, "avg_errors_per_s", r->n_err ? r->sum_err / (double)r->n_err : -1);
    json_num_or_null(o, "avg_reconnects_per_s",
                     r->n_reconn ? r->sum_reconn / (double)r->n_reconn : -1);
    if (r->req.type == DBP_WL_TPCC) {
        json_num_or_null(o, "tpmc", r->summary.has_tpmc ? r->summary.tpmc
                                    : r->n_tpmc         ? r->sum_tpmc / (double)r->n_tpmc
                                                        : -1);
        cJSON_AddStringToObject(o, "tpmc_source", r->summary.has_tpmc ? "tool" : "intervals");
        json_num_or_null(o, "max_interval_tpmc", r->n_tpmc ? r->max_tpmc : -1);
    }
    if (r->req.type == DBP_WL_TPCH) {
        cJSON_AddNumberToObject(o, "queries_completed", r->queries_completed);
        cJSON_AddNumberToObject(o, "queries_failed", r->queries_failed);
        double total = 0;
        for (int i = 1; i <= DBP_WL_NQUERIES; i++)
            total += r->query_sum[i];
        json_num_or_null(o, "queries_total_s", total);
        cJSON_AddItemToObject(o, "queries", queries_json(r));
    }
    const struct dbp_wl_summary *s = &r->summary;
    if (s->has_sysbench) {
        cJSON *t = cJSON_AddObjectToObject(o, "tool");
        cJSON_AddNumberToObject(t, "transactions", s->transactions);
        json_num_or_null(t, "tps", s->tps);
        cJSON_AddNumberToObject(t, "queries", s->queries);
        json_num_or_null(t, "qps", s->qps);
        cJSON_AddNumberToObject(t, "ignored_errors", s->ignored_errors);
        cJSON_AddNumberToObject(t, "reconnects", s->reconnects);
        json_num_or_null(t, "total_time_s", s->total_time_s);
        cJSON_AddNumberToObject(t, "events", s->events);
        cJSON *l = cJSON_AddObjectToObject(t, "latency_ms");
        json_num_or_null(l, "min", s->lat_min_ms);
        json_num_or_null(l, "avg", s->lat_avg_ms);
        json_num_or_null(l, "max", s->lat_max_ms);
        json_num_or_null(l, "p95", s->lat_pct == 95 ? s->lat_pct_ms : -1);
        json_num_or_null(l, "sum", s->lat_sum_ms);
    }
    return o;
}

static cJSON *info_json(const struct run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "type", type_names[r->req.type]);
    cJSON_AddNumberToObject(o, "threads", r->req.threads);
    struct dbp_proc *p = r->procs[r->step];
    cJSON_AddNumberToObject(o, "pid", p ? dbp_proc_pid(p) : 0);
    add_time(o, "start_time", r->start_wall);
    cJSON_AddStringToObject(o, "status", public_status(r));
    /* Extensions. */
    cJSON_AddStringToObject(o, "state", state_names[r->state]);
    cJSON_AddStringToObject(o, "step", r->steps[r->step].name);
    cJSON_AddStringToObject(o, "tool",
                            r->req.tool == DBP_WL_TOOL_TPCC_MYSQL ? "tpcc-mysql" : "sysbench");
    cJSON_AddStringToObject(o, "script", r->script_name);
    cJSON_AddStringToObject(o, "database", r->db);
    /* The original dashboard's Nodes column reads a string "node"
     * (ExecutionDashboard.jsx); dbpecker's clients read the "nodes" list. */
    cJSON_AddStringToObject(o, "node", r->nodes_str);
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    char tmp[sizeof(r->nodes_str)];
    dbp_strlcpy(tmp, r->nodes_str, sizeof(tmp));
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(nodes, cJSON_CreateString(tok));
    add_time(o, "end_time", r->ended ? r->end_wall : 0);
    cJSON_AddStringToObject(o, "message", r->message);
    if (r->task_id[0])
        cJSON_AddStringToObject(o, "task_id", r->task_id);
    else
        cJSON_AddNullToObject(o, "task_id");
    if (r->total_samples)
        cJSON_AddItemToObject(o, "latest", sample_json(&r->last));
    else
        cJSON_AddNullToObject(o, "latest");
    return o;
}

struct out_collect {
    cJSON *arr;
};

static void out_line(void *ud, enum dbp_stream s, const char *line)
{
    (void)s;
    struct out_collect *c = ud;
    cJSON_AddItemToArray(c->arr, cJSON_CreateString(line));
}

cJSON *dbp_workloads_status_json(struct dbp_workloads *wl, const char *id, int lines)
{
    pthread_mutex_lock(&wl->lock);
    struct run *r = find_run(wl, id);
    if (!r) {
        pthread_mutex_unlock(&wl->lock);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workload_id", r->id);
    cJSON_AddStringToObject(o, "status", public_status(r));
    cJSON_AddStringToObject(o, "message",
                            r->message[0]      ? r->message
                            : r->state == R_PREPARING ? "Preparing the database"
                                                      : "Workload is running");
    struct out_collect c = {cJSON_CreateArray()};
    for (int i = 0; i <= r->step && i < MAX_STEPS; i++)
        if (r->procs[i])
            dbp_proc_output(r->procs[i], (size_t)(lines > 0 ? lines : 0), out_line, &c);
    while (cJSON_GetArraySize(c.arr) > lines)
        cJSON_DeleteItemFromArray(c.arr, 0);
    cJSON_AddItemToObject(o, "output", c.arr);
    cJSON *info = info_json(r);
    static const char *const ext[] = {"type", "threads", "pid", "start_time", "end_time", "state",
                                      "step", "tool", "script", "database", "nodes", "task_id",
                                      "latest"};
    for (size_t i = 0; i < DBP_ARRAY_SIZE(ext); i++) {
        cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(info, ext[i]);
        if (it)
            cJSON_AddItemToObject(o, ext[i], it);
    }
    cJSON_Delete(info);
    cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
    if (r->signal)
        cJSON_AddNumberToObject(o, "signal", r->signal);
    else
        cJSON_AddNullToObject(o, "signal");
    cJSON_AddItemToObject(o, "summary", summary_json(r));
    pthread_mutex_unlock(&wl->lock);
    return o;
}

cJSON *dbp_workloads_list_json(struct dbp_workloads *wl, bool active_only)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&wl->lock);
    for (struct run *r = wl->runs; r; r = r->next)
        if (!active_only || !r->ended)
            cJSON_AddItemToArray(a, info_json(r));
    pthread_mutex_unlock(&wl->lock);
    return a;
}

cJSON *dbp_workloads_progress_json(struct dbp_workloads *wl, const char *id)
{
    pthread_mutex_lock(&wl->lock);
    struct run *r = find_run(wl, id);
    if (!r) {
        pthread_mutex_unlock(&wl->lock);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "type", type_names[r->req.type]);
    cJSON_AddStringToObject(o, "status", public_status(r));
    cJSON_AddStringToObject(o, "state", state_names[r->state]);
    cJSON_AddNumberToObject(o, "report_interval_s", r->req.report_interval);
    cJSON_AddNumberToObject(o, "intervals_total", (double)r->total_samples);
    cJSON *arr = cJSON_AddArrayToObject(o, "intervals");
    for (size_t i = 0; i < r->nsamples; i++)
        cJSON_AddItemToArray(arr, sample_json(&r->samples[(r->head + i) % MAX_SAMPLES]));
    if (r->total_samples)
        cJSON_AddItemToObject(o, "latest", sample_json(&r->last));
    else
        cJSON_AddNullToObject(o, "latest");
    if (r->req.type == DBP_WL_TPCH)
        cJSON_AddItemToObject(o, "queries", queries_json(r));
    cJSON_AddItemToObject(o, "summary", summary_json(r));
    pthread_mutex_unlock(&wl->lock);
    return o;
}

int dbp_workloads_active(struct dbp_workloads *wl)
{
    pthread_mutex_lock(&wl->lock);
    int n = count_active(wl, -1);
    pthread_mutex_unlock(&wl->lock);
    return n;
}

cJSON *dbp_workloads_scripts_json(struct dbp_workloads *wl)
{
    struct dbp_config *cfg = dbp_config_acquire();
    cJSON *o = cJSON_CreateObject();
    char path[PATH_MAX];
    int e = dbp_spawn_which(cfg ? cfg->sysbench_path : "sysbench", NULL, path, sizeof(path));
    cJSON *sb = cJSON_AddObjectToObject(o, "sysbench");
    cJSON_AddBoolToObject(sb, "installed", e == 0);
    cJSON_AddStringToObject(sb, "path", e == 0 ? path : (cfg ? cfg->sysbench_path : ""));
    cJSON_AddStringToObject(sb, "script_dir", wl->script_dir);
    cJSON *arr = cJSON_AddArrayToObject(sb, "scripts");
    pthread_mutex_lock(&wl->lock);
    for (int i = 0; i < wl->nscripts; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(wl->scripts[i]));
    pthread_mutex_unlock(&wl->lock);
    cJSON *lua = cJSON_AddObjectToObject(o, "lua");
    cJSON_AddStringToObject(lua, "dir", cfg ? cfg->lua_dir : "");
    for (int t = DBP_WL_TPCC; t <= DBP_WL_TPCH; t++) {
        snprintf(path, sizeof(path), "%s/%s.lua", cfg ? cfg->lua_dir : "", type_names[t]);
        cJSON_AddBoolToObject(lua, type_names[t], access(path, R_OK) == 0);
    }
    cJSON *tm = cJSON_AddObjectToObject(o, "tpcc_mysql");
    bool have = false;
    if (cfg && cfg->tpcc_dir[0]) {
        snprintf(path, sizeof(path), "%s/tpcc_start", cfg->tpcc_dir);
        have = access(path, X_OK) == 0;
    }
    cJSON_AddBoolToObject(tm, "installed", have);
    cJSON_AddStringToObject(tm, "dir", cfg ? cfg->tpcc_dir : "");
    cJSON *types = cJSON_AddArrayToObject(o, "types");
    for (int t = 0; t < DBP_WL_NTYPES; t++)
        cJSON_AddItemToArray(types, cJSON_CreateString(type_names[t]));
    dbp_config_unref(cfg);
    return o;
}

/* ---- prepare / cleanup jobs ---------------------------------------------- */

struct prep {
    struct dbp_workloads *wl;
    struct dbp_wl_request req;
    struct target t;
    bool cleanup;           /* cleanup job (else prepare) */
    char id[DBP_WL_ID_MAX];
    char cnf_path[PATH_MAX];
    char log_path[PATH_MAX];
    char **envp;
    /* progress of the current child (wl->lock) */
    struct dbp_job *job;
    int loaded;             /* tables / units loaded */
    int units;              /* expected load lines */
    char first_error[200];
    char last_line[200];
    cJSON *check_rows;      /* TPC-C/TPC-H check lines -> rows */
    bool check_passed, check_seen;
};

static void prep_free(void *arg)
{
    struct prep *pp = arg;
    if (!pp)
        return;
    pthread_mutex_lock(&pp->wl->lock);
    pp->wl->busy[pp->req.type]--;
    pthread_mutex_unlock(&pp->wl->lock);
    if (pp->cnf_path[0])
        unlink(pp->cnf_path);
    target_wipe(&pp->t);
    strv_free(pp->envp);
    cJSON_Delete(pp->check_rows);
    free(pp);
}

static void prep_on_line(void *cls, struct dbp_proc *p, enum dbp_stream s, const char *line)
{
    (void)p;
    (void)s;
    struct prep *pp = cls;
    pthread_mutex_lock(&pp->wl->lock);
    dbp_strlcpy(pp->last_line, line, sizeof(pp->last_line));
    if (!pp->first_error[0] && (starts_with_ci(line, "FATAL") || strstr(line, "error at ")))
        dbp_strlcpy(pp->first_error, line, sizeof(pp->first_error));
    /* sysbench: "Inserting 100000 records into 'sbtest3'"; TPC-C Lua:
     * "Thread 0: loading stock for warehouse 1"; TPC-H Lua: "loading ...". */
    if (strncmp(line, "Inserting ", 10) == 0 || strstr(line, "loading ") ||
        strstr(line, "Loading "))
        pp->loaded++;
    /* TPC-C/TPC-H check: "Table orders rows: 30000 expected: 30000
     * tolerance: min status: OK". */
    char table[64], tol[16], status[16];
    long long rows, expected;
    if (sscanf(line, "Table %63s rows: %lld expected: %lld tolerance: %15s status: %15s", table,
               &rows, &expected, tol, status) == 5) {
        if (!pp->check_rows)
            pp->check_rows = cJSON_CreateArray();
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "table", table);
        cJSON_AddNumberToObject(row, "rows", (double)rows);
        cJSON_AddNumberToObject(row, "expected", (double)expected);
        cJSON_AddStringToObject(row, "tolerance", tol);
        cJSON_AddBoolToObject(row, "ok", strcmp(status, "OK") == 0);
        cJSON_AddItemToArray(pp->check_rows, row);
    }
    if (strncmp(line, "Check: ", 7) == 0) {
        pp->check_seen = true;
        pp->check_passed = strncmp(line + 7, "PASSED", 6) == 0;
    }
    pthread_mutex_unlock(&pp->wl->lock);
}

/* Run one child for a job and wait for it, polling for cancellation. */
static int prep_exec(struct prep *pp, struct dbp_job *job, char **argv, const char *what,
                     double pct_from, double pct_to, struct dbp_err *err)
{
    struct dbp_workloads *wl = pp->wl;
    struct dbp_proc *p = NULL;
    const char *redact[] = {pp->t.password, NULL};
    struct dbp_spawn_opts o = {
        .argv = (const char *const *)argv,
        .envp = (const char *const *)pp->envp,
        .log_path = pp->log_path,
        .grace_ms = wl->grace_ms,
        .redact = pp->t.password[0] ? redact : NULL,
        .on_line = prep_on_line,
        .cls = pp,
    };
    pthread_mutex_lock(&wl->lock);
    pp->first_error[0] = '\0';
    pp->loaded = 0;
    pthread_mutex_unlock(&wl->lock);
    int rc = dbp_spawn(wl->sp, &o, &p, err);
    if (rc)
        return rc;
    dbp_job_progress(job, pct_from, "%s (pid %d)", what, (int)dbp_proc_pid(p));
    bool stopped = false;
    while (!dbp_proc_wait(p, 250)) {
        if (!stopped && dbp_job_cancelled(job)) {
            dbp_proc_stop(p, wl->grace_ms);
            stopped = true;
        }
        pthread_mutex_lock(&wl->lock);
        double frac = pp->units > 0 ? (double)pp->loaded / pp->units : 0;
        char last[200];
        dbp_strlcpy(last, pp->last_line, sizeof(last));
        pthread_mutex_unlock(&wl->lock);
        if (frac > 1)
            frac = 1;
        dbp_job_progress(job, pct_from + (pct_to - pct_from) * frac, "%s: %s", what, last);
    }
    struct dbp_proc_status st;
    dbp_proc_status(p, &st);
    dbp_proc_unref(p);
    pthread_mutex_lock(&wl->lock);
    char first[200];
    dbp_strlcpy(first, pp->first_error, sizeof(first));
    pthread_mutex_unlock(&wl->lock);
    if (st.exited && st.code == 0)
        return 0;
    if (st.stop_requested)
        return dbp_err_set(err, DBP_EBUSY, "%s: cancelled", what);
    if (st.exited)
        return dbp_err_set(err, DBP_EUPSTREAM, "%s: exited with status %d%s%s", what, st.code,
                           first[0] ? ": " : "", first);
    return dbp_err_set(err, DBP_EUPSTREAM, "%s: killed by signal %d", what, st.signal);
}

/* Execute a .sql file of simple statements (tpcc-mysql's create_table.sql):
 * statements end with ';' at the end of a line; '--' and '#' lines and
 * blank lines are skipped. */
static int exec_sql_file(struct dbp_db *db, const char *path, struct dbp_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = dbp_read_file(path, 1 << 20, &text, &len);
    if (rc)
        return dbp_err_set(err, DBP_EUNAVAIL, "cannot read '%s': %s", path, dbp_strerror(rc));
    struct dbp_buf stmt;
    dbp_buf_init(&stmt, 1 << 20);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#' || strncmp(p, "--", 2) == 0)
            continue;
        dbp_buf_puts(&stmt, p);
        if ((rc = dbp_buf_puts(&stmt, "\n"))) {
            dbp_err_set(err, rc, "'%s': a statement is too long", path);
            break;
        }
        size_t l = strlen(p);
        while (l && isspace((unsigned char)p[l - 1]))
            l--;
        if (l && p[l - 1] == ';') {
            rc = dbp_db_exec(db, stmt.data, NULL, err);
            dbp_buf_reset(&stmt);
        }
    }
    dbp_buf_release(&stmt);
    free(text);
    return rc;
}

/* Exact row counts of the tables of a database (result rows). */
static cJSON *row_counts(struct dbp_db *db, const char *schema, const char *const *tables,
                         struct dbp_err *err)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; tables[i]; i++) {
        char sql[160];
        int rc;
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `%s`.`%s`", schema, tables[i]);
        long long n = scalar_ll(db, sql, err, &rc);
        if (rc)
            cJSON_AddNullToObject(o, tables[i]);
        else
            cJSON_AddNumberToObject(o, tables[i], (double)n);
    }
    return o;
}

/* TPC-H cardinalities for scale factor sf (TPC-H 3.0.1, clause 4.2.5).
 * lineitem is random (1..7 lines per order): dbgen gives 6,001,215 rows at
 * SF 1; we accept that figure x SF within 5 %. */
static void tpch_expected(double sf, const char *table, long long *lo, long long *hi)
{
    static const struct {
        const char *t;
        double per_sf;
        long long fixed;
    } spec[] = {{"region", 0, 5},        {"nation", 0, 25},      {"supplier", 10000, 0},
                {"customer", 150000, 0}, {"part", 200000, 0},    {"partsupp", 800000, 0},
                {"orders", 1500000, 0},  {"lineitem", 6001215, 0}};
    *lo = *hi = -1;
    for (size_t i = 0; i < DBP_ARRAY_SIZE(spec); i++)
        if (strcmp(spec[i].t, table) == 0) {
            if (spec[i].fixed) {
                *lo = *hi = spec[i].fixed;
            } else if (strcmp(table, "lineitem") == 0) {
                *lo = (long long)floor(spec[i].per_sf * sf * 0.95);
                *hi = (long long)ceil(spec[i].per_sf * sf * 1.05);
            } else {
                *lo = *hi = (long long)llround(spec[i].per_sf * sf);
            }
        }
}

static int prep_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    struct prep *pp = arg;
    struct dbp_workloads *wl = pp->wl;
    const struct dbp_wl_request *req = &pp->req;
    const char *dbname = type_dbs[req->type];
    struct dbp_db *db = NULL;
    cJSON *res = cJSON_CreateObject();
    char **argv = NULL;
    double t0 = dbp_wall_s();
    int rc;

    pp->job = job;
    dbp_db_thread_init();
    cJSON_AddStringToObject(res, "type", type_names[req->type]);
    cJSON_AddStringToObject(res, "database", dbname);
    cJSON_AddStringToObject(res, "node", pp->t.nodes[0].name);
    cJSON_AddStringToObject(res, "action", pp->cleanup ? "cleanup" : "prepare");
    cJSON_AddStringToObject(res, "log", pp->log_path);

    dbp_job_progress(job, 1, "connecting to %s", pp->t.nodes[0].name);
    db = db_open(&pp->t, 0, NULL, 600);
    if ((rc = db_connect(db, &pp->t, 0, dbname, err)))
        goto out;

    /* What is there already? */
    long long have = 0, maxk = 0;
    int want = 0;
    const char *const *tabs = req->type == DBP_WL_TPCH ? tpch_tables : tpcc_tables;
    char q[80], sql[256];
    if ((rc = dbp_db_quote_string(db, dbname, q, sizeof(q)))) {
        dbp_err_set(err, rc, "cannot quote the database name");
        goto out;
    }
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", q);
    long long have_db = scalar_ll(db, sql, err, &rc);
    if (rc)
        goto out;
    if (have_db) {
        if (req->type == DBP_WL_SYSBENCH) {
            rc = sysbench_tables(db, &have, &maxk, err);
            want = req->tables;
        } else {
            while (tabs[want])
                want++;
            have = count_named_tables(db, dbname, tabs, err, &rc);
        }
        if (rc)
            goto out;
    }

    if (pp->cleanup) {
        if (!have_db || have == 0) {
            cJSON_AddBoolToObject(res, "dropped", false);
            cJSON_AddStringToObject(res, "message", "nothing to clean up");
            goto done;
        }
        if (req->tool == DBP_WL_TOOL_TPCC_MYSQL || !pp->t.sysbench[0]) {
            /* tpcc-mysql has no cleanup command: drop its tables here. */
            for (int i = 0; tabs[i] && !rc; i++) {
                snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS `%s`.`%s`", dbname, tabs[i]);
                rc = dbp_db_exec(db, sql, NULL, err);
            }
        } else {
            argv = sysbench_argv(wl, req, &pp->t, pp->cnf_path, "cleanup",
                                 req->type == DBP_WL_SYSBENCH ? (int)(maxk > 1024 ? 1024 : maxk)
                                                              : 0);
            rc = prep_exec(pp, job, argv, "cleanup", 5, 95, err);
        }
        if (rc)
            goto out;
        cJSON_AddBoolToObject(res, "dropped", true);
        cJSON_AddNumberToObject(res, "tables_dropped", (double)have);
        goto done;
    }

    /* prepare */
    snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s`", dbname);
    if (!have_db && (rc = dbp_db_exec(db, sql, NULL, err)))
        goto out;
    bool already = false;
    if (have > 0) {
        bool same = false;
        if (req->type == DBP_WL_SYSBENCH && have == req->tables && maxk == req->tables) {
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `sbtest`.`sbtest1`");
            long long rows = scalar_ll(db, sql, err, &rc);
            same = !rc && rows == req->table_size;
            if (!same && !rc)
                snprintf(pp->last_line, sizeof(pp->last_line), "sbtest1 holds %lld rows", rows);
        } else if (req->type == DBP_WL_TPCC && have == want) {
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `tpcc`.`warehouse`");
            long long w = scalar_ll(db, sql, err, &rc);
            same = !rc && w == req->warehouses;
        } else if (req->type == DBP_WL_TPCH && have == want) {
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `tpch`.`supplier`");
            long long s = scalar_ll(db, sql, err, &rc);
            long long lo, hi;
            tpch_expected(req->scale, "supplier", &lo, &hi);
            same = !rc && s == lo;
        }
        rc = 0;
        if (same && !req->force) {
            already = true;
        } else if (!req->force) {
            rc = dbp_err_set(err, DBP_EBUSY,
                             "database '%s' on %s already holds %lld %s table(s) of another "
                             "shape; not dropping them without options.force",
                             dbname, pp->t.nodes[0].name, have, type_names[req->type]);
            goto out;
        } else if (req->tool == DBP_WL_TOOL_TPCC_MYSQL) {
            for (int i = 0; tabs[i] && !rc; i++) {
                snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS `%s`.`%s`", dbname, tabs[i]);
                rc = dbp_db_exec(db, sql, NULL, err);
            }
            if (rc)
                goto out;
        } else {
            argv = sysbench_argv(wl, req, &pp->t, pp->cnf_path, "cleanup",
                                 req->type == DBP_WL_SYSBENCH ? (int)(maxk > 1024 ? 1024 : maxk)
                                                              : 0);
            rc = prep_exec(pp, job, argv, "dropping the existing tables (force)", 2, 5, err);
            strv_free(argv);
            argv = NULL;
            if (rc)
                goto out;
            cJSON_AddBoolToObject(res, "dropped_existing", true);
        }
    }
    cJSON_AddBoolToObject(res, "already_prepared", already);
    if (!already) {
        pthread_mutex_lock(&wl->lock);
        pp->units = req->type == DBP_WL_SYSBENCH ? req->tables
                    : req->type == DBP_WL_TPCC  ? 1 + req->warehouses * 2 // item + stock/warehouse
                                                : 8;
        pthread_mutex_unlock(&wl->lock);
        if (req->tool == DBP_WL_TOOL_TPCC_MYSQL) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/create_table.sql", pp->t.tpcc_dir);
            struct dbp_db *tdb = db_open(&pp->t, 0, "tpcc", 600);
            rc = dbp_db_ensure(tdb, err);
            if (!rc)
                rc = exec_sql_file(tdb, path, err);
            if (!rc) {
                argv = tpcc_mysql_argv(req, &pp->t, true);
                rc = prep_exec(pp, job, argv, "tpcc_load", 5, 90, err);
            }
            if (!rc) {
                snprintf(path, sizeof(path), "%s/add_fkey_idx.sql", pp->t.tpcc_dir);
                if (access(path, R_OK) == 0) {
                    dbp_job_progress(job, 92, "adding indexes");
                    rc = dbp_db_ensure(tdb, err);
                    if (!rc)
                        rc = exec_sql_file(tdb, path, err);
                }
            }
            dbp_db_free(tdb);
        } else {
            argv = sysbench_argv(wl, req, &pp->t, pp->cnf_path, "prepare", 0);
            rc = prep_exec(pp, job, argv, "prepare", 5, 90, err);
        }
        if (rc)
            goto out;
    }

    /* Verify: the script's own check, and our row counts. */
    dbp_job_progress(job, 92, "checking");
    if (req->type != DBP_WL_SYSBENCH && req->tool == DBP_WL_TOOL_SYSBENCH) {
        strv_free(argv);
        argv = sysbench_argv(wl, req, &pp->t, pp->cnf_path, "check", 0);
        int crc = prep_exec(pp, job, argv, "check", 92, 97, err);
        pthread_mutex_lock(&wl->lock);
        cJSON *check = cJSON_AddObjectToObject(res, "check");
        cJSON_AddBoolToObject(check, "passed", crc == 0 && pp->check_seen && pp->check_passed);
        if (pp->check_rows) {
            cJSON_AddItemToObject(check, "tables", pp->check_rows);
            pp->check_rows = NULL;
        }
        pthread_mutex_unlock(&wl->lock);
        if (crc) {
            rc = crc;
            goto out;
        }
        if (!pp->check_passed) {
            rc = dbp_err_set(err, DBP_EUPSTREAM, "the %s check failed after prepare",
                             type_names[req->type]);
            goto out;
        }
    }
    if (req->type == DBP_WL_SYSBENCH) {
        rc = sysbench_tables(db, &have, &maxk, err);
        if (rc)
            goto out;
        cJSON_AddNumberToObject(res, "tables", (double)have);
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `sbtest`.`sbtest1`");
        long long rows = scalar_ll(db, sql, err, &rc);
        if (rc)
            goto out;
        cJSON_AddNumberToObject(res, "rows_sbtest1", (double)rows);
        cJSON_AddNumberToObject(res, "table_size", (double)req->table_size);
        if (have < req->tables || rows != req->table_size) {
            rc = dbp_err_set(err, DBP_EUPSTREAM,
                             "after prepare 'sbtest' holds %lld tables and sbtest1 %lld rows "
                             "(expected %d and %lld)",
                             have, rows, req->tables, req->table_size);
            goto out;
        }
    } else {
        cJSON *counts = row_counts(db, dbname, tabs, err);
        if (req->type == DBP_WL_TPCH) {
            cJSON *spec = cJSON_AddObjectToObject(res, "spec");
            cJSON_AddNumberToObject(spec, "scale", req->scale);
            bool all_ok = true;
            for (int i = 0; tabs[i]; i++) {
                long long lo, hi;
                tpch_expected(req->scale, tabs[i], &lo, &hi);
                cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, tabs[i]);
                bool ok = cJSON_IsNumber(n) && n->valuedouble >= (double)lo &&
                          n->valuedouble <= (double)hi;
                cJSON *e = cJSON_AddObjectToObject(spec, tabs[i]);
                cJSON_AddNumberToObject(e, "rows", cJSON_IsNumber(n) ? n->valuedouble : -1);
                if (lo == hi) {
                    cJSON_AddNumberToObject(e, "expected", (double)lo);
                } else {
                    cJSON_AddNumberToObject(e, "expected_min", (double)lo);
                    cJSON_AddNumberToObject(e, "expected_max", (double)hi);
                }
                cJSON_AddBoolToObject(e, "ok", ok);
                all_ok &= ok;
            }
            cJSON_AddBoolToObject(spec, "all_ok", all_ok);
            if (!all_ok) {
                cJSON_AddItemToObject(res, "rows", counts);
                dbp_job_set_result(job, res);
                res = NULL;
                rc = dbp_err_set(err, DBP_EUPSTREAM,
                                 "TPC-H row counts do not match the specification for SF %g",
                                 req->scale);
                goto out;
            }
        }
        cJSON_AddItemToObject(res, "rows", counts);
    }
done:
    cJSON_AddNumberToObject(res, "seconds", round((dbp_wall_s() - t0) * 10) / 10);
    dbp_job_set_result(job, res);
    res = NULL;
    dbp_job_progress(job, 100, "%s of '%s' done", pp->cleanup ? "cleanup" : "prepare", dbname);
    DBP_INFO(MOD, "%s of %s (%s) done in %.1f s", pp->cleanup ? "cleanup" : "prepare", dbname,
             type_names[req->type], dbp_wall_s() - t0);
    rc = 0;
out:
    if (rc && res) {
        dbp_job_set_result(job, res);
        res = NULL;
    }
    cJSON_Delete(res);
    strv_free(argv);
    dbp_db_free(db);
    dbp_db_thread_end();
    return rc;
}

static int submit_prep(struct dbp_workloads *wl, const struct dbp_wl_request *req, bool cleanup,
                       char job_id[DBP_JOB_ID_LEN], struct dbp_err *err)
{
    struct prep *pp = NULL;
    bool prepared, partial;
    char why[300];
    int rc = validate_request(req, err);
    if (rc)
        return rc;
    if (!wl->jobs)
        return dbp_err_set(err, DBP_EUNAVAIL, "job queue not running");
    pp = dbp_xcalloc(1, sizeof(*pp));
    pp->wl = wl;
    pp->req = *req;
    pp->cleanup = cleanup;
    rc = resolve_target(wl, req, &pp->t, err);
    if (rc) {
        free(pp);
        return rc;
    }
    /* Prepare and cleanup talk to one node: data replicates in a cluster;
     * pick another with "nodes". */
    pp->t.nnodes = 1;

    pthread_mutex_lock(&wl->lock);
    if (wl->stopping || !wl->started)
        rc = dbp_err_set(err, DBP_EUNAVAIL, "the workload module is stopping");
    else if (count_active(wl, req->type) > 0)
        rc = dbp_err_set(err, DBP_EBUSY,
                         "%d run(s) of type %s are using database '%s'; stop them first",
                         count_active(wl, req->type), type_names[req->type],
                         type_dbs[req->type]);
    else if (wl->busy[req->type])
        rc = dbp_err_set(err, DBP_EBUSY,
                         "a prepare or cleanup of database '%s' is already in progress",
                         type_dbs[req->type]);
    else
        wl->busy[req->type]++;
    pthread_mutex_unlock(&wl->lock);
    if (rc) {
        target_wipe(&pp->t);
        free(pp);
        return rc;
    }

    /* Reachable?  (A 503 now beats a failed job later.) */
    rc = check_database(&pp->t, req, &prepared, &partial, why, sizeof(why), err);
    if (rc == DBP_EBUSY)
        rc = 0; /* "database does not exist" is what prepare is for */
    if (rc)
        goto fail;

    make_id(pp->id, sizeof(pp->id), cleanup ? "cleanup" : "prepare");
    if (dbp_mkdir_p(pp->t.runs_dir, 0700) != 0) {
        rc = dbp_err_set(err, DBP_EIO, "cannot create '%s'", pp->t.runs_dir);
        goto fail;
    }
    sweep_logs(wl, pp->t.runs_dir, LOG_MAX_AGE_S);
    snprintf(pp->log_path, sizeof(pp->log_path), "%s/%s.log", pp->t.runs_dir, pp->id);
    const char *mysql_pwd = NULL;
    if (pp->t.password[0] && req->tool == DBP_WL_TOOL_SYSBENCH) {
        if (cnf_representable(pp->t.password)) {
            snprintf(pp->cnf_path, sizeof(pp->cnf_path), "%s/%s.cnf", pp->t.runs_dir, pp->id);
            rc = write_cnf(pp->cnf_path, pp->t.password, err);
            if (rc) {
                pp->cnf_path[0] = '\0';
                goto fail;
            }
        } else {
            mysql_pwd = pp->t.password;
        }
    }
    pp->envp = child_env(pp->id, mysql_pwd);
    /* From here on the job owns pp (prep_free releases the busy flag). */
    rc = dbp_jobs_submit(wl->jobs, cleanup ? "workload.cleanup" : "workload.prepare", prep_job,
                         pp, prep_free, job_id);
    if (rc == DBP_EBUSY) /* prep_free already ran (the queue releases pp) */
        return dbp_err_set(err, rc, "too many jobs queued (limit %d); retry later",
                           DBP_JOBS_MAX_QUEUED);
    if (rc)
        return dbp_err_set(err, rc, "cannot queue the job");
    return 0;
fail:
    prep_free(pp);
    return rc;
}

int dbp_workloads_prepare(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                          char job_id[DBP_JOB_ID_LEN], struct dbp_err *err)
{
    return submit_prep(wl, req, false, job_id, err);
}

int dbp_workloads_cleanup(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                          char job_id[DBP_JOB_ID_LEN], struct dbp_err *err)
{
    return submit_prep(wl, req, true, job_id, err);
}

/* ---- tasks --------------------------------------------------------------- */

static cJSON *task_json(const struct task *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "workload_id", t->workload_id);
    cJSON_AddStringToObject(o, "workload_type", type_names[t->type]);
    cJSON *wc = cJSON_AddObjectToObject(o, "workload_config");
    cJSON_AddStringToObject(wc, "workload_type", type_names[t->type]);
    cJSON_AddNumberToObject(wc, "num_threads", t->threads);
    cJSON_AddItemToObject(wc, "options",
                          t->options ? cJSON_Duplicate(t->options, true) : cJSON_CreateObject());
    cJSON_AddItemToObject(o, "anomalies", t->anomalies ? cJSON_Duplicate(t->anomalies, true)
                                                       : cJSON_CreateArray());
    add_time(o, "start_time", t->start_wall);
    cJSON_AddStringToObject(o, "status", t->status);
    add_time(o, "end_time", t->end_wall);
    if (t->error[0])
        cJSON_AddStringToObject(o, "error_message", t->error);
    else
        cJSON_AddNullToObject(o, "error_message");
    return o;
}

int dbp_workloads_task_create(struct dbp_workloads *wl, const char *name, const char *run_id,
                              cJSON *anomalies, cJSON **out, struct dbp_err *err)
{
    pthread_mutex_lock(&wl->lock);
    struct run *r = find_run(wl, run_id);
    if (!r || r->ended) {
        pthread_mutex_unlock(&wl->lock);
        cJSON_Delete(anomalies);
        return dbp_err_set(err, DBP_ENOTFOUND, "Workload with ID %.60s not found", run_id);
    }
    if (wl->ntasks >= MAX_TASKS) {
        pthread_mutex_unlock(&wl->lock);
        cJSON_Delete(anomalies);
        return dbp_err_set(err, DBP_EBUSY,
                           "%d tasks are kept; remove old ones with POST /api/workload/tasks/cleanup",
                           MAX_TASKS);
    }
    struct task *t = dbp_xcalloc(1, sizeof(*t));
    uuid4(t->id);
    dbp_strlcpy(t->name, name, sizeof(t->name));
    dbp_strlcpy(t->workload_id, r->id, sizeof(t->workload_id));
    t->type = r->req.type;
    t->threads = r->req.threads;
    t->options = cJSON_CreateObject();
    cJSON_AddNumberToObject(t->options, "reportInterval", r->req.report_interval);
    cJSON_AddNumberToObject(t->options, "tables", r->req.tables);
    cJSON_AddNumberToObject(t->options, "tableSize", (double)r->req.table_size);
    cJSON_AddStringToObject(t->options, "randType", r->req.rand_type);
    cJSON_AddNumberToObject(t->options, "warehouses", r->req.warehouses);
    t->anomalies = anomalies ? anomalies : cJSON_CreateArray();
    t->start_wall = dbp_wall_s();
    dbp_strlcpy(t->status, "running", sizeof(t->status));
    if (!r->task_id[0])
        dbp_strlcpy(r->task_id, t->id, sizeof(r->task_id));
    t->next = wl->tasks;
    wl->tasks = t;
    wl->ntasks++;
    *out = task_json(t);
    pthread_mutex_unlock(&wl->lock);
    return 0;
}

cJSON *dbp_workloads_tasks_json(struct dbp_workloads *wl, bool active_only)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&wl->lock);
    for (struct task *t = wl->tasks; t; t = t->next)
        if (!active_only || strcmp(t->status, "running") == 0)
            cJSON_AddItemToArray(a, task_json(t));
    pthread_mutex_unlock(&wl->lock);
    return a;
}

cJSON *dbp_workloads_task_json(struct dbp_workloads *wl, const char *task_id)
{
    pthread_mutex_lock(&wl->lock);
    struct task *t = find_task(wl, task_id);
    cJSON *o = t ? task_json(t) : NULL;
    pthread_mutex_unlock(&wl->lock);
    return o;
}

int dbp_workloads_task_stop(struct dbp_workloads *wl, const char *task_id, cJSON **out,
                            struct dbp_err *err)
{
    pthread_mutex_lock(&wl->lock);
    struct task *t = find_task(wl, task_id);
    if (!t) {
        pthread_mutex_unlock(&wl->lock);
        return dbp_err_set(err, DBP_ENOTFOUND, "Task not found");
    }
    if (strcmp(t->status, "running") != 0) {
        *out = task_json(t);
        pthread_mutex_unlock(&wl->lock);
        return 0;
    }
    char wid[DBP_WL_ID_MAX];
    dbp_strlcpy(wid, t->workload_id, sizeof(wid));
    pthread_mutex_unlock(&wl->lock);

    struct dbp_err e = {0};
    int rc = dbp_workloads_stop_run(wl, wid, &e);
    if (rc && rc != DBP_ENOTFOUND)
        return dbp_err_set(err, rc, "%s", e.msg);

    pthread_mutex_lock(&wl->lock);
    t = find_task(wl, task_id);
    if (!t) {
        pthread_mutex_unlock(&wl->lock);
        return dbp_err_set(err, DBP_ENOTFOUND, "Task not found");
    }
    dbp_strlcpy(t->status, "stopped", sizeof(t->status));
    if (t->end_wall <= 0)
        t->end_wall = dbp_wall_s();
    *out = task_json(t);
    pthread_mutex_unlock(&wl->lock);
    return 0;
}

int dbp_workloads_tasks_cleanup(struct dbp_workloads *wl, double max_age_s)
{
    int n = 0;
    double now = dbp_wall_s();
    pthread_mutex_lock(&wl->lock);
    for (struct task **pp = &wl->tasks; *pp;) {
        struct task *t = *pp;
        double ref = t->end_wall > 0 ? t->end_wall : t->start_wall;
        if (strcmp(t->status, "running") != 0 && now - ref >= max_age_s) {
            *pp = t->next;
            cJSON_Delete(t->options);
            cJSON_Delete(t->anomalies);
            free(t);
            wl->ntasks--;
            n++;
            continue;
        }
        pp = &t->next;
    }
    pthread_mutex_unlock(&wl->lock);
    return n;
}

/* ---- exporter and health ------------------------------------------------- */

static void label_esc(struct dbp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            dbp_buf_puts(b, "\\\\");
        else if (*s == '"')
            dbp_buf_puts(b, "\\\"");
        else if (*s == '\n')
            dbp_buf_puts(b, "\\n");
        else
            dbp_buf_append(b, s, 1);
    }
}

static void metric_line(struct dbp_buf *b, const char *name, const struct run *r,
                        const char *extra_k, const char *extra_v, double v)
{
    dbp_buf_printf(b, "%s{run=\"", name);
    label_esc(b, r->id);
    dbp_buf_puts(b, "\",type=\"");
    label_esc(b, type_names[r->req.type]);
    if (extra_k) {
        dbp_buf_printf(b, "\",%s=\"", extra_k);
        label_esc(b, extra_v);
    }
    dbp_buf_printf(b, "\"} %.6g\n", v);
}

int dbp_workloads_render_metrics(void *cls, struct dbp_buf *out)
{
    struct dbp_workloads *wl = cls;
    struct dbp_buf b;
    static const struct {
        const char *name, *help;
        int field;
    } fam[] = {
        {"dbpecker_workload_tps", "Transactions per second in the last reported interval.", 0},
        {"dbpecker_workload_qps", "Queries per second in the last reported interval.", 1},
        {"dbpecker_workload_latency_p95_seconds",
         "95th percentile latency in the last reported interval.", 2},
        {"dbpecker_workload_errors_per_second", "Errors per second in the last interval.", 3},
        {"dbpecker_workload_reconnects_per_second", "Reconnects per second in the last interval.",
         4},
        {"dbpecker_workload_tpmc", "TPC-C new-order transactions per minute, last interval.", 5},
    };
    dbp_buf_init(&b, 16u << 20);
    pthread_mutex_lock(&wl->lock);
    dbp_buf_puts(&b, "# HELP dbpecker_workload_running 1 while a workload run is active.\n"
                     "# TYPE dbpecker_workload_running gauge\n");
    for (struct run *r = wl->runs; r; r = r->next)
        metric_line(&b, "dbpecker_workload_running", r, NULL, NULL, r->ended ? 0 : 1);
    for (size_t f = 0; f < DBP_ARRAY_SIZE(fam); f++) {
        dbp_buf_printf(&b, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help,
                       fam[f].name);
        for (struct run *r = wl->runs; r; r = r->next) {
            if (r->ended || !r->total_samples)
                continue;
            const struct dbp_wl_sample *s = &r->last;
            double v = -1;
            switch (fam[f].field) {
            case 0: v = s->tps; break;
            case 1: v = s->qps; break;
            case 2: v = s->lat_pct == 95 && s->lat_ms >= 0 ? s->lat_ms / 1000.0 : -1; break;
            case 3: v = s->err_s; break;
            case 4: v = s->reconn_s; break;
            case 5: v = r->req.type == DBP_WL_TPCC ? s->tpmc : -1; break;
            }
            if (v >= 0)
                metric_line(&b, fam[f].name, r, NULL, NULL, v);
        }
    }
    dbp_buf_puts(&b, "# HELP dbpecker_workload_query_seconds Last time of each TPC-H query.\n"
                     "# TYPE dbpecker_workload_query_seconds gauge\n");
    for (struct run *r = wl->runs; r; r = r->next)
        for (int q = 1; q <= DBP_WL_NQUERIES; q++)
            if (r->query_n[q]) {
                char qs[8];
                snprintf(qs, sizeof(qs), "q%d", q);
                metric_line(&b, "dbpecker_workload_query_seconds", r, "query", qs,
                            r->query_last[q]);
            }
    dbp_buf_printf(&b,
                   "# HELP dbpecker_workload_runs_started_total Workload runs started.\n"
                   "# TYPE dbpecker_workload_runs_started_total counter\n"
                   "dbpecker_workload_runs_started_total %lu\n"
                   "# HELP dbpecker_workload_runs_failed_total Workload runs that failed.\n"
                   "# TYPE dbpecker_workload_runs_failed_total counter\n"
                   "dbpecker_workload_runs_failed_total %lu\n",
                   wl->runs_started, wl->runs_failed);
    pthread_mutex_unlock(&wl->lock);
    /* The buffer is sticky-failed on any overflow, so one check covers
     * every append above; never export a partial page. */
    int rc = dbp_buf_status(&b);
    if (!rc && b.len)
        rc = dbp_buf_append(out, b.data, b.len);
    dbp_buf_release(&b);
    return rc;
}

const char *dbp_workloads_health(void *cls, char *detail, size_t detailsz)
{
    struct dbp_workloads *wl = cls;
    struct dbp_config *cfg = dbp_config_acquire();
    char path[PATH_MAX];
    int e = dbp_spawn_which(cfg ? cfg->sysbench_path : "sysbench", NULL, path, sizeof(path));
    pthread_mutex_lock(&wl->lock);
    int active = count_active(wl, -1);
    bool running = wl->started && !wl->stopping;
    int nscripts = wl->nscripts;
    pthread_mutex_unlock(&wl->lock);
    snprintf(detail, detailsz, "%d active run(s); sysbench %s%s; %d OLTP script(s)", active,
             e ? "not found: " : "at ", e ? (cfg ? cfg->sysbench_path : "sysbench") : path,
             nscripts);
    dbp_config_unref(cfg);
    return running ? "running" : "stopped";
}

/* ---- lifecycle ----------------------------------------------------------- */

struct dbp_workloads *dbp_workloads_new(struct dbp_jobs *jobs)
{
    struct dbp_workloads *wl = dbp_xcalloc(1, sizeof(*wl));
    pthread_condattr_t ca;
    wl->jobs = jobs;
    wl->sp = dbp_spawner_new();
    wl->grace_ms = DEFAULT_GRACE_MS;
    pthread_mutex_init(&wl->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wl->cond, &ca);
    pthread_condattr_destroy(&ca);
    return wl;
}

void dbp_workloads_set_grace(struct dbp_workloads *wl, int grace_ms)
{
    pthread_mutex_lock(&wl->lock);
    wl->grace_ms = grace_ms > 0 ? grace_ms : DEFAULT_GRACE_MS;
    pthread_mutex_unlock(&wl->lock);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* sysbench's scripts live in <prefix>/share/sysbench next to <prefix>/bin. */
static void list_scripts(struct dbp_workloads *wl, const char *sysbench)
{
    char dir[DBP_PATH_MAX] = "/usr/share/sysbench";
    char path[PATH_MAX];
    if (dbp_spawn_which(sysbench, NULL, path, sizeof(path)) == 0) {
        char *real = realpath(path, NULL);
        if (real) {
            char *slash = strrchr(real, '/');
            if (slash) {
                *slash = '\0';
                slash = strrchr(real, '/');
                if (slash) {
                    *slash = '\0';
                    char cand[DBP_PATH_MAX];
                    if ((size_t)snprintf(cand, sizeof(cand), "%s/share/sysbench", real) <
                            sizeof(cand) &&
                        access(cand, R_OK) == 0)
                        dbp_strlcpy(dir, cand, sizeof(dir));
                }
            }
            free(real);
        }
    }
    dbp_strlcpy(wl->script_dir, dir, sizeof(wl->script_dir));
    wl->nscripts = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && wl->nscripts < MAX_SCRIPTS) {
        size_t l = strlen(e->d_name);
        if (l < 5 || l - 4 >= DBP_WL_SCRIPT_MAX || strcmp(e->d_name + l - 4, ".lua") != 0)
            continue;
        /* oltp_common.lua is the library the others share, not a benchmark. */
        if (strcmp(e->d_name, "oltp_common.lua") == 0)
            continue;
        memcpy(wl->scripts[wl->nscripts], e->d_name, l - 4);
        wl->scripts[wl->nscripts][l - 4] = '\0';
        wl->nscripts++;
    }
    closedir(d);
    qsort(wl->scripts, (size_t)wl->nscripts, sizeof(wl->scripts[0]), cmp_str);
}

/* Option files hold a password: any left by a crash go now. */
static void remove_stale_cnf(const char *runs_dir)
{
    DIR *d = opendir(runs_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".cnf") == 0) {
            char p[PATH_MAX];
            if ((size_t)snprintf(p, sizeof(p), "%s/%s", runs_dir, e->d_name) < sizeof(p)) {
                unlink(p);
                DBP_WARN(MOD, "removed option file '%s' left by an earlier run", p);
            }
        }
    }
    closedir(d);
}

int dbp_workloads_start(struct dbp_workloads *wl, struct dbp_err *err)
{
    struct dbp_config *cfg = dbp_config_acquire();
    char runs[DBP_PATH_MAX + 16];
    int rc = dbp_spawner_start(wl->sp, err);
    if (rc)
        goto out;
    pthread_mutex_lock(&wl->lock);
    list_scripts(wl, cfg ? cfg->sysbench_path : "sysbench");
    wl->started = true;
    wl->stopping = false;
    int n = wl->nscripts;
    pthread_mutex_unlock(&wl->lock);
    if (cfg) {
        runs_dir_of(cfg, runs, sizeof(runs));
        remove_stale_cnf(runs);
        sweep_logs(wl, runs, LOG_MAX_AGE_S);
    }
    if (n == 0)
        DBP_WARN(MOD, "no sysbench scripts found in %s: sysbench runs will be refused",
                 wl->script_dir);
    else
        DBP_INFO(MOD, "%d sysbench scripts in %s", n, wl->script_dir);
out:
    dbp_config_unref(cfg);
    return rc;
}

void dbp_workloads_stop(struct dbp_workloads *wl)
{
    if (!wl)
        return;
    pthread_mutex_lock(&wl->lock);
    bool was = wl->started && !wl->stopping;
    wl->stopping = true;
    int active = count_active(wl, -1);
    for (struct run *r = wl->runs; r; r = r->next)
        if (!r->ended && r->state != R_STOPPING)
            r->state = R_STOPPING;
    pthread_mutex_unlock(&wl->lock);
    if (was && active)
        DBP_INFO(MOD, "stopping %d active run(s)", active);
    /* Every child gets SIGTERM, the grace period, SIGKILL; the exit
     * callbacks finish the runs (and remove their option files). */
    dbp_spawner_stop(wl->sp);
    pthread_mutex_lock(&wl->lock);
    for (struct run *r = wl->runs; r; r = r->next)
        if (!r->ended) {
            /* A child that could not be reaped: still close the books. */
            r->ended = true;
            r->state = R_STOPPED;
            r->end_wall = dbp_wall_s();
            dbp_strlcpy(r->message, "stopped at daemon shutdown", sizeof(r->message));
            if (r->cnf_path[0])
                unlink(r->cnf_path);
        }
    wl->started = false;
    pthread_cond_broadcast(&wl->cond);
    pthread_mutex_unlock(&wl->lock);
}

void dbp_workloads_free(struct dbp_workloads *wl)
{
    if (!wl)
        return;
    dbp_workloads_stop(wl);
    dbp_spawner_free(wl->sp);
    while (wl->runs) {
        struct run *r = wl->runs;
        wl->runs = r->next;
        run_free(r);
    }
    while (wl->tasks) {
        struct task *t = wl->tasks;
        wl->tasks = t->next;
        cJSON_Delete(t->options);
        cJSON_Delete(t->anomalies);
        free(t);
    }
    pthread_mutex_destroy(&wl->lock);
    pthread_cond_destroy(&wl->cond);
    free(wl);
}
