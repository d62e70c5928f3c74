/*
 * collector.c - the collector thread and the series store.
 *
 * DESIGN
 * - One thread (the owner) runs cycles every interval.  Node-scope
 *   catalogs (MariaDB): it kicks one poller thread per node (poller.c),
 *   which makes sure the node's own connection is up (ping-then-reconnect),
 *   runs the node-scope queries and reads the host sources (/proc,
 *   cgroup); the owner waits for them at most 3/4 of an interval, so a
 *   node that hangs (partitioned, killed) delays nobody, and a poll that
 *   has run longer than an interval marks its node down.  Cluster-scope
 *   catalogs (OceanBase): the owner runs the queries once on the cluster
 *   endpoint and routes rows to nodes by SVR_IP/SVR_PORT.  Raw values are
 *   staged without any lock; the store lock is taken once per cycle to
 *   push every finished node's values into the series (O(samples),
 *   microseconds), so readers never wait for SQL and see whole cycles.
 * - A node that fails is marked down with its error and retried with
 *   exponential backoff (interval .. 60 s); the others go on.  Its series
 *   get a gap mark so the first sample after it comes back yields no rate
 *   (no spike after a restart).  Counter resets are handled by the series.
 * - A cycle longer than the interval is counted and logged.
 * - Pause/resume (API start/stop) flips a flag; the thread lives until
 *   dbp_collector_stop().
 * Lock order: c->lock only (leaf).  The catalog is immutable.
 */
#define _GNU_SOURCE
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/db.h"
#include "dbp/log.h"
#include "dbp/prom.h"
#include "dbp/series.h"
#include "dbp/util.h"
#include "poller.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MAX_TENANTS 16
#define MAX_BACKOFF_S 60.0

enum nstate { N_UNKNOWN, N_UP, N_DOWN };
static const char *nstate_name[] = {"unknown", "up", "down"};

struct tenant {
    long id;              /* CON_ID; 0 when the database has no tenants */
    char name[64];
    struct dbp_series *series; /* nmetrics, initialised lazily */
    bool *inited;
    /* staging for the current cycle */
    double *raw;
    bool *have;
    signed char *kind; /* kind decided for each series at its first sample */
};

struct node {
    struct dbp_node_cfg cfg;
    int rpc_port; /* OceanBase: SVR_PORT in the views (0 = unknown) */
    struct dbp_db *db;
    enum nstate state;
    double last_ok, last_err_at, next_try, backoff;
    unsigned fails;
    unsigned long errors_total;
    char last_error[256];
    char version[96];
    double query_s; /* last cycle's query time */
    double sample_ts; /* wall time its values were read this cycle */
    struct tenant tenants[MAX_TENANTS];
    int ntenants;
    bool ok_this_cycle;
    struct dbp_complain complain;
    /* Node-scope catalogs: the thread that polls this node and alone uses
     * n->db; NULL for cluster-scope catalogs (the collector thread reads
     * the cluster views).  While it is BUSY, the node's staging (ok_this_cycle,
     * sample_ts, tenants' raw/have/kind) is the poller's. */
    struct dbp_poller *poller;
    struct dbp_collector *owner;
    int index;
};

struct dbp_collector {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started;
    bool stop;
    atomic_bool collecting;

    struct dbp_catalog *cat;
    int nmetrics;
    struct dbp_series_params params;
    int history;
    int interval_ms;

    struct node *nodes;
    int nnodes;
    struct dbp_db *cluster_db;
    struct dbp_db_opts base;
    char *user, *password, *dbname, *cluster_host;
    int cluster_port;

    /* tenant id -> name, from the catalog's tenants SQL */
    long tenant_ids[MAX_TENANTS];
    char tenant_names[MAX_TENANTS][64];
    int ntenant_names;

    double last_cycle_ts;      /* wall seconds of the newest published cycle */
    double last_cycle_dur;
    unsigned long cycles, overruns;
    struct dbp_complain cluster_complain;
    bool discover;

    /* The cycle listener (the training recorder): the processed values of
     * the default tenant gathered during a cycle, handed over after it is
     * published.  listener_busy keeps dbp_collector_set_listener(NULL) from
     * returning while a call is in flight, so the listener's owner can be
     * freed right after. */
    dbp_cycle_listener_fn listener;
    void *listener_cls;
    bool listener_busy;
    double *cyc_vals;  /* DBP_MAX_NODES * nmetrics, NaN = not read */
    double *cyc_ts;    /* DBP_MAX_NODES */
};

/* ---- helpers ------------------------------------------------------------ */

static struct tenant *tenant_get(struct dbp_collector *c, struct node *n, long id)
{
    for (int i = 0; i < n->ntenants; i++)
        if (n->tenants[i].id == id)
            return &n->tenants[i];
    if (n->ntenants >= MAX_TENANTS)
        return NULL;
    struct tenant *t = &n->tenants[n->ntenants++];
    memset(t, 0, sizeof(*t));
    t->id = id;
    if (id == 0)
        t->name[0] = '\0';
    else
        snprintf(t->name, sizeof(t->name), "%ld", id);
    for (int i = 0; i < c->ntenant_names; i++)
        if (c->tenant_ids[i] == id)
            dbp_strlcpy(t->name, c->tenant_names[i], sizeof(t->name));
    t->series = dbp_xcalloc((size_t)c->nmetrics, sizeof(*t->series));
    t->inited = dbp_xcalloc((size_t)c->nmetrics, sizeof(*t->inited));
    t->raw = dbp_xcalloc((size_t)c->nmetrics, sizeof(*t->raw));
    t->have = dbp_xcalloc((size_t)c->nmetrics, sizeof(*t->have));
    t->kind = dbp_xcalloc((size_t)c->nmetrics, sizeof(*t->kind));
    for (int m = 0; m < c->nmetrics; m++)
        t->kind[m] = (signed char)c->cat->metrics[m].kind;
    return t;
}

/* The default tenant: sys (id 1) on OceanBase, the only one elsewhere. */
static struct tenant *tenant_default(struct node *n)
{
    for (int i = 0; i < n->ntenants; i++)
        if (n->tenants[i].id == 1 || n->tenants[i].id == 0)
            return &n->tenants[i];
    return n->ntenants ? &n->tenants[0] : NULL;
}

static struct tenant *tenant_by_name(struct node *n, const char *name)
{
    if (!name || !*name)
        return tenant_default(n);
    for (int i = 0; i < n->ntenants; i++)
        if (strcmp(n->tenants[i].name, name) == 0)
            return &n->tenants[i];
    return NULL;
}

/* With c->lock held; returns the new backoff. */
static double node_down_locked(struct dbp_collector *c, struct node *n, const char *why,
                               double now)
{
    bool was_up = n->state != N_DOWN;
    n->state = N_DOWN;
    n->fails++;
    n->errors_total++;
    n->last_err_at = now;
    dbp_strlcpy(n->last_error, why, sizeof(n->last_error));
    double base = c->interval_ms / 1000.0;
    n->backoff = n->backoff <= 0 ? base : n->backoff * 2;
    if (n->backoff > MAX_BACKOFF_S)
        n->backoff = MAX_BACKOFF_S;
    n->next_try = now + n->backoff;
    double backoff = n->backoff;
    if (was_up)
        for (int t = 0; t < n->ntenants; t++)
            for (int m = 0; m < c->nmetrics; m++)
                if (n->tenants[t].inited[m])
                    dbp_series_mark_gap(&n->tenants[t].series[m]);
    return backoff;
}

static void node_down(struct dbp_collector *c, struct node *n, const char *why, double now)
{
    /* Readers (API, /metrics) look at the node's fields under the lock. */
    pthread_mutex_lock(&c->lock);
    double backoff = node_down_locked(c, n, why, now);
    pthread_mutex_unlock(&c->lock);
    dbp_complain(&n->complain, DBP_LOG_WARN, "collector", "node %s down: %s (retry in %.1f s)",
                 n->cfg.name, why, backoff);
}

static void node_up(struct dbp_collector *c, struct node *n, double now)
{
    if (n->state == N_DOWN)
        dbp_complain_clear(&n->complain, "collector", n->cfg.name);
    pthread_mutex_lock(&c->lock);
    n->state = N_UP;
    n->fails = 0;
    n->backoff = 0;
    n->last_ok = now;
    pthread_mutex_unlock(&c->lock);
}

static bool parse_value(const char *s, double *out)
{
    if (!s)
        return false;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (end == s || *end || !isfinite(v)) {
        /* MariaDB reports ON/OFF for some status variables */
        if (strcasecmp(s, "ON") == 0 || strcasecmp(s, "YES") == 0) {
            *out = 1;
            return true;
        }
        if (strcasecmp(s, "OFF") == 0 || strcasecmp(s, "NO") == 0) {
            *out = 0;
            return true;
        }
        return false;
    }
    *out = v;
    return true;
}

/* ---- query rows ---------------------------------------------------------- */

struct rows_ud {
    struct dbp_collector *c;
    const struct dbp_cat_query *q;
    struct node *node; /* node-scope: the node; cluster-scope: NULL */
    int rows, kept;
};

/* Rows of cluster views name a node by SVR_IP and SVR_PORT, where
 * SVR_PORT is OceanBase's RPC port (2882) while we connect to its SQL port
 * (2881): match on the host, and use the port only to tell apart several
 * nodes on one host (against the discovered RPC port, else the SQL port). */
static struct node *node_by_addr(struct dbp_collector *c, const char *host, const char *port)
{
    struct node *only = NULL;
    int same_host = 0;
    long p = port ? strtol(port, NULL, 10) : 0;
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        if (strcmp(n->cfg.host, host) != 0)
            continue;
        same_host++;
        only = n;
        if (p && (p == n->rpc_port || (!n->rpc_port && p == n->cfg.port)))
            return n;
    }
    return same_host == 1 ? only : NULL;
}

static int rows_cb(void *ud, int ncols, char **vals, unsigned long *lens)
{
    struct rows_ud *r = ud;
    const struct dbp_cat_query *q = r->q;
    (void)lens;
    r->rows++;
    if (q->col_metric >= ncols || q->col_value >= ncols || !vals[q->col_metric])
        return 0;
    const struct dbp_cat_metric *m = dbp_catalog_find(r->c->cat, vals[q->col_metric]);
    if (!m || m->host)
        return 0;
    double v;
    if (!dbp_catalog_map_value(m, vals[q->col_value] ? vals[q->col_value] : "", &v) &&
        !parse_value(vals[q->col_value], &v))
        return 0;
    struct node *n = r->node;
    if (!n) {
        if (q->col_host >= ncols || !vals[q->col_host])
            return 0;
        const char *port = q->col_port >= 0 && q->col_port < ncols ? vals[q->col_port] : NULL;
        n = node_by_addr(r->c, vals[q->col_host], port);
        if (!n)
            return 0;
        /* Mixed catalogs: a node being polled owns its staging. */
        pthread_mutex_lock(&r->c->lock);
        bool busy = n->poller && dbp_poller_state(n->poller) == DBP_POLLER_BUSY;
        pthread_mutex_unlock(&r->c->lock);
        if (busy)
            return 0;
    }
    long tid = 0;
    if (q->col_tenant >= 0 && q->col_tenant < ncols && vals[q->col_tenant])
        tid = strtol(vals[q->col_tenant], NULL, 10);
    /* Tenants and series are created by the collector thread only; the
     * store lock protects readers that walk them. */
    pthread_mutex_lock(&r->c->lock);
    struct tenant *t = tenant_get(r->c, n, tid);
    pthread_mutex_unlock(&r->c->lock);
    if (!t)
        return 0;
    t->raw[m->index] = v;
    t->have[m->index] = true;
    /* VALUE_TYPE (4.x) decides counter vs gauge unless the catalog knows
     * better (kind_override: e.g. 'active sessions' is ADD_VALUE but goes
     * up and down). */
    if (q->col_kind >= 0 && q->col_kind < ncols && vals[q->col_kind] && !m->kind_override) {
        if (q->kind_counter && strcasecmp(vals[q->col_kind], q->kind_counter) == 0)
            t->kind[m->index] = DBP_METRIC_COUNTER;
        else if (q->kind_gauge && strcasecmp(vals[q->col_kind], q->kind_gauge) == 0)
            t->kind[m->index] = DBP_METRIC_GAUGE;
    }
    n->ok_this_cycle = true;
    r->kept++;
    return 0;
}

/* ---- host sources ---------------------------------------------------------- */

static long read_pid(const char *pid_file)
{
    char *text = NULL;
    size_t len;
    if (!*pid_file || dbp_read_file(pid_file, 64, &text, &len))
        return -1;
    long pid = strtol(text, NULL, 10);
    free(text);
    return pid > 1 ? pid : -1;
}

static bool proc_cpu_rss(long pid, double *cpu_s, double *rss)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = false;
    if (fgets(buf, sizeof(buf), f)) {
        const char *p = strrchr(buf, ')');
        unsigned long ut, st;
        long rsspages;
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                        "%*d %*u %*u %ld",
                        &ut, &st, &rsspages) == 3) {
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
            *rss = (double)rsspages * (double)sysconf(_SC_PAGESIZE);
            ok = true;
        }
    }
    fclose(f);
    return ok;
}

static bool proc_io(long pid, double *rd, double *wr)
{
    char path[64], line[128];
    snprintf(path, sizeof(path), "/proc/%ld/io", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    int got = 0;
    unsigned long long v;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "read_bytes: %llu", &v) == 1)
            *rd = (double)v, got++;
        else if (sscanf(line, "write_bytes: %llu", &v) == 1)
            *wr = (double)v, got++;
    }
    fclose(f);
    return got == 2;
}

static bool cgroup_throttled(const char *cg, double *secs)
{
    char path[600], line[128];
    if (!*cg)
        return false;
    snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/%s/cpu.stat", cg);
    FILE *f = fopen(path, "re");
    if (!f) {
        /* cgroup v2 */
        snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cpu.stat", cg);
        f = fopen(path, "re");
    }
    if (!f)
        return false;
    bool ok = false;
    unsigned long long v;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "throttled_time %llu", &v) == 1) { /* v1: ns */
            *secs = (double)v / 1e9;
            ok = true;
        } else if (sscanf(line, "throttled_usec %llu", &v) == 1) { /* v2: us */
            *secs = (double)v / 1e6;
            ok = true;
        }
    }
    fclose(f);
    return ok;
}

static void host_sources(struct dbp_collector *c, struct node *n)
{
    long pid = read_pid(n->cfg.pid_file);
    double cpu = 0, rss = 0, rd = 0, wr = 0, thr = 0;
    bool have_stat = pid > 0 && proc_cpu_rss(pid, &cpu, &rss);
    bool have_io = pid > 0 && proc_io(pid, &rd, &wr);
    bool have_cg = cgroup_throttled(n->cfg.cgroup, &thr);
    if (!have_stat && !have_io && !have_cg)
        return;
    pthread_mutex_lock(&c->lock);
    struct tenant *t = tenant_default(n) ? tenant_default(n) : tenant_get(c, n, 0);
    pthread_mutex_unlock(&c->lock);
    if (!t)
        return;
    for (int i = 0; i < c->nmetrics; i++) {
        const struct dbp_cat_metric *m = &c->cat->metrics[i];
        double v;
        bool ok = false;
        if (!m->host)
            continue;
        switch (m->source) {
        case DBP_HOST_PROC_CPU:
            ok = have_stat, v = cpu;
            break;
        case DBP_HOST_PROC_RSS:
            ok = have_stat, v = rss;
            break;
        case DBP_HOST_PROC_IO_READ:
            ok = have_io, v = rd;
            break;
        case DBP_HOST_PROC_IO_WRITE:
            ok = have_io, v = wr;
            break;
        case DBP_HOST_CG_THROTTLED:
            ok = have_cg, v = thr;
            break;
        }
        if (ok) {
            t->raw[i] = v;
            t->have[i] = true;
        }
    }
}

/* ---- discovery ------------------------------------------------------------- */

static int discovery_cb(void *ud, int ncols, char **vals, unsigned long *lens)
{
    struct dbp_collector *c = ud;
    const struct dbp_catalog *cat = c->cat;
    (void)lens;
    if (cat->dcol_host >= ncols || cat->dcol_port >= ncols || !vals[cat->dcol_host] ||
        !vals[cat->dcol_port])
        return 0;
    long port = strtol(vals[cat->dcol_port], NULL, 10);
    long rpc = cat->dcol_rpc_port >= 0 && cat->dcol_rpc_port < ncols && vals[cat->dcol_rpc_port]
                   ? strtol(vals[cat->dcol_rpc_port], NULL, 10)
                   : 0;
    const char *zone =
        cat->dcol_zone >= 0 && cat->dcol_zone < ncols ? vals[cat->dcol_zone] : NULL;
    dbp_collector_discovered(c, vals[cat->dcol_host], port, rpc, zone);
    return 0;
}

int dbp_collector_discovered(struct dbp_collector *c, const char *host, long port, long rpc,
                             const char *zone)
{
    if (!host || port <= 0 || port > 65535 || strlen(host) >= DBP_HOST_MAX)
        return DBP_EINVAL;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        if (strcmp(n->cfg.host, host) == 0 && n->cfg.port == port) {
            n->rpc_port = (int)rpc;
            if (zone && !n->cfg.zone[0])
                dbp_strlcpy(n->cfg.zone, zone, sizeof(n->cfg.zone));
            pthread_mutex_unlock(&c->lock);
            return 0;
        }
    }
    int rc = DBP_ETOOBIG;
    if (c->nnodes < DBP_MAX_NODES) {
        /* Fill the slot completely before nnodes counts it: readers see
         * either the old count or a whole new node, never half of one. */
        struct node *n = &c->nodes[c->nnodes];
        memset(n, 0, sizeof(*n));
        snprintf(n->cfg.name, sizeof(n->cfg.name), "%.50s:%ld", host, port);
        dbp_strlcpy(n->cfg.host, host, sizeof(n->cfg.host));
        n->cfg.port = (int)port;
        n->rpc_port = (int)rpc;
        if (zone)
            dbp_strlcpy(n->cfg.zone, zone, sizeof(n->cfg.zone));
        struct dbp_db_opts o = c->base;
        o.host = n->cfg.host;
        o.port = n->cfg.port;
        n->db = dbp_db_new(&o);
        c->nnodes++;
        rc = 0;
        DBP_INFO("collector", "discovered node %s", n->cfg.name);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void discover(struct dbp_collector *c)
{
    struct dbp_err err = {0};
    if (!c->discover)
        return;
    if (dbp_db_ensure(c->cluster_db, &err) ||
        dbp_db_query(c->cluster_db, c->cat->discovery_sql, discovery_cb, c, &err))
        dbp_complain(&c->cluster_complain, DBP_LOG_WARN, "collector", "discovery: %s", err.msg);
}

/* ---- the cycle ------------------------------------------------------------- */

struct tenant_names {
    const struct dbp_catalog *cat;
    long ids[MAX_TENANTS];
    char names[MAX_TENANTS][64];
    int n;
};

static int tenants_cb(void *ud, int ncols, char **vals, unsigned long *lens)
{
    struct tenant_names *tn = ud;
    (void)lens;
    int ci = tn->cat->tcol_id, cn = tn->cat->tcol_name;
    if (ci >= ncols || cn >= ncols || !vals[ci] || !vals[cn] || tn->n >= MAX_TENANTS)
        return 0;
    tn->ids[tn->n] = strtol(vals[ci], NULL, 10);
    dbp_strlcpy(tn->names[tn->n], vals[cn], 64);
    tn->n++;
    return 0;
}

/* Read the names on the caller's connection (a poller's or the cluster
 * endpoint's), then install them under the lock: tenant_get() reads them
 * there from every poller. */
static void refresh_tenant_names(struct dbp_collector *c, struct dbp_db *db)
{
    struct dbp_err err = {0};
    if (!c->cat->tenants_sql || !db)
        return;
    struct tenant_names *tn = dbp_xcalloc(1, sizeof(*tn));
    tn->cat = c->cat;
    if (dbp_db_query(db, c->cat->tenants_sql, tenants_cb, tn, &err)) {
        DBP_DEBUG("collector", "tenant names: %s", err.msg);
        free(tn);
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->ntenant_names = tn->n;
    memcpy(c->tenant_ids, tn->ids, sizeof(tn->ids));
    memcpy(c->tenant_names, tn->names, sizeof(tn->names));
    for (int i = 0; i < c->nnodes; i++)
        for (int t = 0; t < c->nodes[i].ntenants; t++)
            for (int k = 0; k < c->ntenant_names; k++)
                if (c->tenant_ids[k] == c->nodes[i].tenants[t].id)
                    dbp_strlcpy(c->nodes[i].tenants[t].name, c->tenant_names[k], 64);
    pthread_mutex_unlock(&c->lock);
    free(tn);
}

/* Hand the cycle's values to the listener, outside the lock (it may take
 * its own), and reset the buffer for the next cycle. */
static void notify(struct dbp_collector *c, double ts)
{
    size_t cells = (size_t)DBP_MAX_NODES * (size_t)c->nmetrics;
    pthread_mutex_lock(&c->lock);
    dbp_cycle_listener_fn fn = c->listener;
    void *cls = c->listener_cls;
    int nn = c->nnodes;
    double *vals = NULL, *nts = NULL;
    char(*names)[64] = NULL;
    if (fn) {
        size_t used = (size_t)(nn > 0 ? nn : 1) * (size_t)c->nmetrics;
        vals = dbp_xmalloc(used * sizeof(double));
        memcpy(vals, c->cyc_vals, used * sizeof(double));
        nts = dbp_xmalloc((size_t)(nn > 0 ? nn : 1) * sizeof(double));
        memcpy(nts, c->cyc_ts, (size_t)(nn > 0 ? nn : 1) * sizeof(double));
        names = dbp_xcalloc((size_t)(nn > 0 ? nn : 1), 64);
        for (int i = 0; i < nn; i++)
            dbp_strlcpy(names[i], c->nodes[i].cfg.name, 64);
        c->listener_busy = true;
    }
    for (size_t i = 0; i < cells && i < (size_t)(nn > 0 ? nn : 1) * (size_t)c->nmetrics; i++)
        c->cyc_vals[i] = NAN;
    for (int i = 0; i < nn; i++)
        c->cyc_ts[i] = NAN;
    pthread_mutex_unlock(&c->lock);
    if (!fn)
        return;
    struct dbp_cycle cy = {ts, nn, (const char(*)[64])names, nts, c->nmetrics, vals};
    fn(cls, &cy);
    free(vals);
    free(nts);
    free(names);
    pthread_mutex_lock(&c->lock);
    c->listener_busy = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

void dbp_collector_set_listener(struct dbp_collector *c, dbp_cycle_listener_fn fn, void *cls)
{
    pthread_mutex_lock(&c->lock);
    while (c->listener_busy)
        pthread_cond_wait(&c->cond, &c->lock);
    c->listener = fn;
    c->listener_cls = cls;
    pthread_mutex_unlock(&c->lock);
}

void dbp_collector_ingest_commit(struct dbp_collector *c, double ts)
{
    pthread_mutex_lock(&c->lock);
    if (ts > c->last_cycle_ts)
        c->last_cycle_ts = ts;
    c->cycles++;
    pthread_mutex_unlock(&c->lock);
    notify(c, ts);
}

/* Push every finished node's staging into the series in one critical
 * section: readers see the whole cycle or none of it.  A node still being
 * polled is left out (its poller owns the staging); what it reads is
 * published by a later cycle, stamped with its own read time. */
static void publish(struct dbp_collector *c, double ts)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        if (n->poller) {
            if (dbp_poller_state(n->poller) == DBP_POLLER_BUSY)
                continue;
            dbp_poller_consume(n->poller);
        }
        for (int t = 0; t < n->ntenants; t++) {
            struct tenant *tn = &n->tenants[t];
            for (int m = 0; m < c->nmetrics; m++) {
                if (!tn->have[m])
                    continue;
                tn->have[m] = false;
                if (!tn->inited[m]) {
                    if (dbp_series_init(&tn->series[m], (enum dbp_metric_kind)tn->kind[m],
                                        (size_t)c->history, &c->params) != 0)
                        continue;
                    tn->inited[m] = true;
                }
                struct dbp_sample s;
                double sts = n->sample_ts > 0 ? n->sample_ts : ts;
                if (dbp_series_push(&tn->series[m], sts, tn->raw[m], &s) == 0 &&
                    tenant_default(n) == tn) {
                    c->cyc_vals[(size_t)i * (size_t)c->nmetrics + (size_t)m] =
                        s.valid ? s.value : NAN;
                    c->cyc_ts[i] = sts;
                }
            }
        }
    }
    c->last_cycle_ts = ts;
    c->cycles++;
    pthread_mutex_unlock(&c->lock);
    notify(c, ts);
}

/* ---- per-node polls ---------------------------------------------------------- */

/* One node's poll, on its poller's thread: the node-scope queries on its
 * own connection, then its host sources.  token = the cycle number. */
static void poll_node(void *arg, uint64_t token)
{
    struct node *n = arg;
    struct dbp_collector *c = n->owner;
    struct dbp_err err = {0};
    double ts = dbp_wall_s();
    n->ok_this_cycle = false;
    n->sample_ts = 0;
    uint64_t q0 = dbp_now_ns();
    bool failed = false;
    if (dbp_db_ensure(n->db, &err)) {
        node_down(c, n, err.msg, ts);
        failed = true;
    } else {
        pthread_mutex_lock(&c->lock);
        dbp_strlcpy(n->version, dbp_db_version(n->db), sizeof(n->version));
        pthread_mutex_unlock(&c->lock);
        /* Rates divide by the time between two reads of this node, so
         * stamp the read itself, not the cycle start. */
        n->sample_ts = dbp_wall_s();
        for (size_t q = 0; q < c->cat->nqueries && !failed; q++) {
            const struct dbp_cat_query *cq = &c->cat->queries[q];
            if (cq->scope != DBP_SCOPE_NODE)
                continue;
            struct rows_ud ud = {c, cq, n, 0, 0};
            if (dbp_db_query(n->db, cq->sql, rows_cb, &ud, &err)) {
                node_down(c, n, err.msg, ts);
                failed = true;
            }
        }
    }
    pthread_mutex_lock(&c->lock);
    n->query_s = (double)(dbp_now_ns() - q0) / 1e9;
    pthread_mutex_unlock(&c->lock);
    if (failed) {
        for (int t = 0; t < n->ntenants; t++)
            memset(n->tenants[t].have, 0, (size_t)c->nmetrics * sizeof(bool));
        return;
    }
    node_up(c, n, ts);
    if (c->cat->tenants_sql && (token % 60) == 0 && n->index == 0)
        refresh_tenant_names(c, n->db);
    host_sources(c, n);
}

static void poll_fini(void *arg)
{
    struct node *n = arg;
    dbp_db_close(n->db); /* on the thread that used it */
}

/* Pollers for nodes that have none yet (configured, or just discovered).
 * Collector thread only: it is the one that kicks and stops them. */
static void pollers_ensure(struct dbp_collector *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        if (n->poller)
            continue;
        char name[32];
        snprintf(name, sizeof(name), "dbp-poll-%d", i);
        n->owner = c;
        n->index = i;
        struct dbp_poller *p =
            dbp_poller_start(name, poll_node, poll_fini, n, &c->lock, &c->cond);
        if (!p) {
            DBP_WARN("collector", "cannot start the poller of node %s", n->cfg.name);
            continue;
        }
        pthread_mutex_lock(&c->lock);
        n->poller = p;
        pthread_mutex_unlock(&c->lock);
    }
}

static void pollers_stop(struct dbp_collector *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        struct dbp_poller *p = c->nodes[i].poller;
        if (!p)
            continue;
        dbp_poller_stop(p);
        pthread_mutex_lock(&c->lock);
        c->nodes[i].poller = NULL;
        pthread_mutex_unlock(&c->lock);
    }
}

/* Kick every poller that is free and due, then wait for them until 3/4 of
 * an interval has passed: a node that hangs (partitioned, killed: connect or
 * read timeout) costs the others nothing, and a node whose poll has been
 * running for more than an interval is marked down (within two intervals
 * of the fault, long before its client timeouts). */
static void poll_nodes(struct dbp_collector *c, uint64_t t0, double ts)
{
    pollers_ensure(c);
    pthread_mutex_lock(&c->lock);
    uint64_t interval_ns = (uint64_t)c->interval_ms * 1000000ull;
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        if (!n->poller || (n->state == N_DOWN && ts < n->next_try))
            continue;
        /* DONE = it finished after the last cycle's deadline: its staging
         * is published by this cycle, and it polls again the next one. */
        if (dbp_poller_state(n->poller) == DBP_POLLER_IDLE)
            dbp_poller_kick(n->poller, c->cycles);
    }
    uint64_t deadline = t0 + interval_ns * 3 / 4;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < c->nnodes && !busy; i++)
            busy = c->nodes[i].poller &&
                   dbp_poller_state(c->nodes[i].poller) == DBP_POLLER_BUSY;
        uint64_t now = dbp_now_ns();
        if (!busy || now >= deadline || c->stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (deadline - now);
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&c->cond, &c->lock, &until);
    }
    char stuck[DBP_MAX_NODES][64];
    double backoff[DBP_MAX_NODES];
    int nstuck = 0;
    uint64_t now = dbp_now_ns();
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        uint64_t since = n->poller ? dbp_poller_busy_since(n->poller) : 0;
        if (!since || now - since <= interval_ns || n->state == N_DOWN)
            continue;
        char why[96];
        snprintf(why, sizeof(why), "no answer for %.1f s (poll still running)",
                 (double)(now - since) / 1e9);
        backoff[nstuck] = node_down_locked(c, n, why, ts);
        dbp_strlcpy(stuck[nstuck++], n->cfg.name, 64);
    }
    pthread_mutex_unlock(&c->lock);
    for (int k = 0; k < nstuck; k++)
        DBP_WARN("collector", "node %s down: no answer within the interval (retry in %.1f s)",
                 stuck[k], backoff[k]);
}

void dbp_collector_cycle(struct dbp_collector *c)
{
    uint64_t t0 = dbp_now_ns();
    double ts = dbp_wall_s();
    struct dbp_err err = {0};
    bool any_node_scope = false, any_cluster_scope = false;

    for (size_t q = 0; q < c->cat->nqueries; q++) {
        if (c->cat->queries[q].scope == DBP_SCOPE_NODE)
            any_node_scope = true;
        else
            any_cluster_scope = true;
    }

    if (c->discover && (c->cycles % 60) == 0)
        discover(c);

    if (any_node_scope)
        poll_nodes(c, t0, ts);
    else
        for (int i = 0; i < c->nnodes; i++) {
            c->nodes[i].ok_this_cycle = false;
            c->nodes[i].sample_ts = 0;
        }

    if (any_cluster_scope) {
        if (dbp_db_ensure(c->cluster_db, &err) == 0) {
            dbp_complain_clear(&c->cluster_complain, "collector", "cluster endpoint");
            double cts = dbp_wall_s();
            if (!any_node_scope)
                for (int i = 0; i < c->nnodes; i++)
                    c->nodes[i].sample_ts = cts;
            if ((c->cycles % 60) == 0)
                refresh_tenant_names(c, c->cluster_db);
            for (size_t q = 0; q < c->cat->nqueries; q++) {
                const struct dbp_cat_query *cq = &c->cat->queries[q];
                if (cq->scope != DBP_SCOPE_CLUSTER)
                    continue;
                struct rows_ud ud = {c, cq, NULL, 0, 0};
                if (dbp_db_query(c->cluster_db, cq->sql, rows_cb, &ud, &err))
                    dbp_complain(&c->cluster_complain, DBP_LOG_WARN, "collector",
                                 "cluster query '%s': %s", cq->id, err.msg);
            }
            /* A node's own connection decides its state when it has one. */
            for (int i = 0; i < c->nnodes && !any_node_scope; i++) {
                struct node *n = &c->nodes[i];
                if (n->ok_this_cycle)
                    node_up(c, n, ts);
                else
                    node_down(c, n, "no rows for this node in the cluster views", ts);
            }
        } else {
            dbp_complain(&c->cluster_complain, DBP_LOG_WARN, "collector",
                         "cluster endpoint: %s", err.msg);
            for (int i = 0; i < c->nnodes && !any_node_scope; i++)
                node_down(c, &c->nodes[i], err.msg, ts);
        }
    }

    /* Polled nodes read their host sources on their poller. */
    for (int i = 0; i < c->nnodes && !any_node_scope; i++)
        if (c->nodes[i].state == N_UP) {
            if (c->nodes[i].sample_ts <= 0)
                c->nodes[i].sample_ts = dbp_wall_s();
            host_sources(c, &c->nodes[i]);
        }

    publish(c, ts);
    double dur = (double)(dbp_now_ns() - t0) / 1e9;
    pthread_mutex_lock(&c->lock);
    c->last_cycle_dur = dur;
    if (dur * 1000 > c->interval_ms) {
        c->overruns++;
        DBP_WARN("collector", "cycle took %.3f s, longer than the %.3f s interval", dur,
                 c->interval_ms / 1000.0);
    }
    pthread_mutex_unlock(&c->lock);
}

static void *run(void *arg)
{
    struct dbp_collector *c = arg;
    dbp_db_thread_init();
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        bool on = atomic_load(&c->collecting);
        int interval = c->interval_ms;
        pthread_mutex_unlock(&c->lock);
        uint64_t start = dbp_now_ns();
        if (on)
            dbp_collector_cycle(c);
        uint64_t next = start + (uint64_t)interval * 1000000ull;
        pthread_mutex_lock(&c->lock);
        while (!c->stop && dbp_now_ns() < next) {
            uint64_t left = next - dbp_now_ns();
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (left < 200000000ull ? left : 200000000ull);
            ts.tv_sec += (time_t)(ns / 1000000000ull);
            ts.tv_nsec = (long)(ns % 1000000000ull);
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
            if (!on && atomic_load(&c->collecting))
                break; /* resumed: collect now */
        }
    }
    pthread_mutex_unlock(&c->lock);
    pollers_stop(c); /* each closes its node's connection */
    for (int i = 0; i < c->nnodes; i++)
        dbp_db_close(c->nodes[i].db);
    dbp_db_close(c->cluster_db);
    dbp_db_thread_end();
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------- */

int dbp_collector_new(const struct dbp_config *cfg, struct dbp_catalog *cat,
                      struct dbp_collector **out, struct dbp_err *err)
{
    if (cfg->nnodes == 0 && !(cfg->discover && cat->discovery_sql)) {
        dbp_catalog_free(cat);
        return dbp_err_set(err, DBP_EINVAL,
                           "no database nodes configured (database.nodes, database.nodes_file, "
                           "or database.discover with a catalog that has discovery SQL)");
    }
    struct dbp_collector *c = dbp_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->cat = cat;
    c->nmetrics = (int)cat->nmetrics;
    dbp_series_params_default(&c->params);
    c->params.window = cfg->window;
    c->params.min_history = cfg->min_history;
    c->params.z_threshold = cfg->z_threshold;
    c->history = cfg->history_points;
    c->interval_ms = cfg->interval_ms;
    c->user = dbp_xstrdup(cfg->db_user);
    c->password = dbp_xstrdup(cfg->db_password);
    c->dbname = dbp_xstrdup(cfg->db_name);
    c->cluster_host = dbp_xstrdup(cfg->db_host);
    c->cluster_port = cfg->db_port;
    struct dbp_db_opts o = {
        .host = cfg->db_host,
        .port = cfg->db_port,
        .user = c->user,
        .password = c->password,
        .database = c->dbname,
        .connect_timeout_s = cfg->connect_timeout_s,
        .read_timeout_s = cfg->read_timeout_s,
    };
    c->base = o;
    c->cluster_db = dbp_db_new(&o);
    c->discover = cfg->discover && cat->discovery_sql;
    /* Room for discovered nodes; readers only look at the first nnodes. */
    c->nodes = dbp_xcalloc(DBP_MAX_NODES, sizeof(*c->nodes));
    c->cyc_vals = dbp_xmalloc((size_t)DBP_MAX_NODES * (size_t)c->nmetrics * sizeof(double) + 1);
    c->cyc_ts = dbp_xmalloc((size_t)DBP_MAX_NODES * sizeof(double));
    for (size_t i = 0; i < (size_t)DBP_MAX_NODES * (size_t)c->nmetrics; i++)
        c->cyc_vals[i] = NAN;
    for (int i = 0; i < DBP_MAX_NODES; i++)
        c->cyc_ts[i] = NAN;
    c->nnodes = cfg->nnodes;
    for (int i = 0; i < cfg->nnodes; i++) {
        struct node *n = &c->nodes[i];
        n->cfg = cfg->nodes[i];
        o.host = n->cfg.host;
        o.port = n->cfg.port;
        n->db = dbp_db_new(&o);
    }
    atomic_init(&c->collecting, false);
    *out = c;
    return 0;
}

int dbp_collector_start(struct dbp_collector *c, bool collecting, struct dbp_err *err)
{
    atomic_store(&c->collecting, collecting);
    if (pthread_create(&c->thread, NULL, run, c) != 0)
        return dbp_err_set(err, DBP_ENOMEM, "cannot create the collector thread");
    pthread_setname_np(c->thread, "dbp-collector");
    c->started = true;
    return 0;
}

void dbp_collector_stop(struct dbp_collector *c)
{
    if (!c || !c->started)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    c->started = false;
}

void dbp_collector_free(struct dbp_collector *c)
{
    if (!c)
        return;
    dbp_collector_stop(c);
    pollers_stop(c); /* cycles run without the thread (tests) */
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        for (int t = 0; t < n->ntenants; t++) {
            struct tenant *tn = &n->tenants[t];
            for (int m = 0; m < c->nmetrics; m++)
                if (tn->inited[m])
                    dbp_series_release(&tn->series[m]);
            free(tn->series);
            free(tn->inited);
            free(tn->raw);
            free(tn->have);
            free(tn->kind);
        }
        dbp_db_free(n->db);
    }
    free(c->nodes);
    free(c->cyc_vals);
    free(c->cyc_ts);
    dbp_db_free(c->cluster_db);
    explicit_bzero(c->password, strlen(c->password));
    free(c->user);
    free(c->password);
    free(c->dbname);
    free(c->cluster_host);
    dbp_catalog_free(c->cat);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

bool dbp_collector_set_collecting(struct dbp_collector *c, bool on)
{
    bool prev = atomic_exchange(&c->collecting, on);
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return prev;
}

bool dbp_collector_collecting(struct dbp_collector *c)
{
    return atomic_load(&c->collecting);
}

void dbp_collector_reload(struct dbp_collector *c, const struct dbp_config *cfg)
{
    pthread_mutex_lock(&c->lock);
    c->interval_ms = cfg->interval_ms;
    /* Window and thresholds apply to new series; existing windows keep
     * their size (resizing would invent history). */
    c->params.z_threshold = cfg->z_threshold;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

const struct dbp_catalog *dbp_collector_catalog(const struct dbp_collector *c)
{
    return c->cat;
}

int dbp_collector_ingest(struct dbp_collector *c, int node, const char *tenant, int metric,
                         double ts, double raw)
{
    if (metric < 0 || metric >= c->nmetrics)
        return DBP_EINVAL;
    long tid = tenant && *tenant ? strtol(tenant, NULL, 10) : 0;
    pthread_mutex_lock(&c->lock);
    /* nnodes grows under the lock (discovery): check it there. */
    if (node < 0 || node >= c->nnodes) {
        pthread_mutex_unlock(&c->lock);
        return DBP_EINVAL;
    }
    struct node *n = &c->nodes[node];
    struct tenant *t = tenant_get(c, n, tid);
    if (!t) {
        pthread_mutex_unlock(&c->lock);
        return DBP_ETOOBIG;
    }
    if (!t->inited[metric]) {
        if (dbp_series_init(&t->series[metric],
                            c->cat->metrics[metric].kind,
                            (size_t)c->history, &c->params)) {
            pthread_mutex_unlock(&c->lock);
            return DBP_ENOMEM;
        }
        t->inited[metric] = true;
    }
    struct dbp_sample s;
    int rc = dbp_series_push(&t->series[metric], ts, raw, &s);
    if (rc == 0 && t == tenant_default(n)) {
        c->cyc_vals[(size_t)node * (size_t)c->nmetrics + (size_t)metric] = s.valid ? s.value : NAN;
        c->cyc_ts[node] = ts;
    }
    n->state = N_UP;
    if (ts > c->last_cycle_ts)
        c->last_cycle_ts = ts;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- readers ------------------------------------------------------------------ */

int dbp_collector_node_names(struct dbp_collector *c, char (*out)[64], int max)
{
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes && n < max; i++)
        dbp_strlcpy(out[n++], c->nodes[i].cfg.name, 64);
    pthread_mutex_unlock(&c->lock);
    return n;
}

static int node_index_locked(struct dbp_collector *c, const char *spec);

int dbp_collector_node_index(struct dbp_collector *c, const char *spec)
{
    pthread_mutex_lock(&c->lock);
    int i = node_index_locked(c, spec);
    pthread_mutex_unlock(&c->lock);
    return i;
}

static int node_index_locked(struct dbp_collector *c, const char *spec)
{
    if (!spec)
        return -1;
    for (int i = 0; i < c->nnodes; i++)
        if (strcmp(c->nodes[i].cfg.name, spec) == 0)
            return i;
    for (int i = 0; i < c->nnodes; i++) {
        char hp[DBP_HOST_MAX + 8];
        snprintf(hp, sizeof(hp), "%s:%d", c->nodes[i].cfg.host, c->nodes[i].cfg.port);
        if (strcmp(hp, spec) == 0 || strcmp(c->nodes[i].cfg.pod, spec) == 0)
            return i;
    }
    int found = -1;
    for (int i = 0; i < c->nnodes; i++)
        if (strcmp(c->nodes[i].cfg.host, spec) == 0) {
            if (found >= 0)
                return -1; /* ambiguous: several nodes on one host */
            found = i;
        }
    return found;
}

static double round_to(double v, double scale)
{
    return round(v * scale) / scale;
}

static cJSON *point_json(const struct dbp_cat_metric *m, enum dbp_metric_kind kind,
                         const struct dbp_sample *s, int min_history, size_t len)
{
    char ts[40];
    cJSON *p = cJSON_CreateObject();
    dbp_iso8601(s->ts, ts, sizeof(ts));
    cJSON_AddStringToObject(p, "timestamp", ts);
    if (s->valid)
        cJSON_AddNumberToObject(p, "value", s->value);
    else
        cJSON_AddNullToObject(p, "value");
    cJSON_AddNumberToObject(p, "raw", s->raw);
    if (kind == DBP_METRIC_COUNTER && s->valid)
        cJSON_AddNumberToObject(p, "delta", s->delta);
    /* The series' kind: VALUE_TYPE may have decided it, not the catalog. */
    cJSON_AddStringToObject(p, "kind", kind == DBP_METRIC_COUNTER ? "counter" : "gauge");
    cJSON_AddStringToObject(p, "unit", m->unit);
    if (s->has_stats && (int)len >= min_history) {
        cJSON_AddNumberToObject(p, "z_score", round_to(s->z, 100));
        cJSON_AddNumberToObject(p, "pct_change", round_to(s->pct, 10000));
        cJSON_AddBoolToObject(p, "has_fluctuation", s->fluctuation);
    }
    return p;
}

cJSON *dbp_collector_latest_json(struct dbp_collector *c, const char *tenant, int *nfluct,
                                 int *ntotal)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *metrics = cJSON_AddObjectToObject(o, "metrics");
    int fl = 0, tot = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        struct tenant *t = tenant_by_name(n, tenant);
        if (!t)
            continue;
        cJSON *nj = NULL;
        for (int m = 0; m < c->nmetrics; m++) {
            struct dbp_sample s;
            if (!t->inited[m] || !dbp_series_last(&t->series[m], &s))
                continue;
            const struct dbp_cat_metric *cm = &c->cat->metrics[m];
            if (!nj)
                nj = cJSON_AddObjectToObject(metrics, n->cfg.name);
            cJSON *cat = cJSON_GetObjectItemCaseSensitive(nj, cm->category);
            if (!cat)
                cat = cJSON_AddObjectToObject(nj, cm->category);
            cJSON_AddItemToObject(cat, cm->name,
                                  point_json(cm, t->series[m].kind, &s, c->params.min_history,
                                             dbp_series_len(&t->series[m])));
            tot++;
            if (s.has_stats && s.fluctuation)
                fl++;
        }
    }
    if (c->last_cycle_ts > 0) {
        char ts[40];
        dbp_iso8601(c->last_cycle_ts, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "timestamp", ts);
    } else {
        cJSON_AddNullToObject(o, "timestamp");
    }
    pthread_mutex_unlock(&c->lock);
    if (nfluct)
        *nfluct = fl;
    if (ntotal)
        *ntotal = tot;
    return o;
}

static cJSON *points_array(struct dbp_series *s)
{
    size_t n = dbp_series_len(s);
    struct dbp_point *pts = dbp_xcalloc(n ? n : 1, sizeof(*pts));
    size_t got = dbp_series_copy(s, -INFINITY, INFINITY, pts, n);
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; k < got; k++) {
        char ts[40];
        if (isnan(pts[k].value))
            continue;
        cJSON *p = cJSON_CreateObject();
        dbp_iso8601(pts[k].ts, ts, sizeof(ts));
        cJSON_AddStringToObject(p, "timestamp", ts);
        cJSON_AddNumberToObject(p, "value", pts[k].value);
        cJSON_AddItemToArray(a, p);
    }
    free(pts);
    return a;
}

int dbp_collector_detailed_json(struct dbp_collector *c, const char *node, const char *tenant,
                                const char *category, const cJSON *select, cJSON **out,
                                struct dbp_err *err)
{
    int idx = dbp_collector_node_index(c, node);
    if (idx < 0)
        return dbp_err_set(err, DBP_ENOTFOUND, "unknown node '%s'", node);
    if (category) {
        bool known = false;
        for (int m = 0; m < c->nmetrics && !known; m++)
            known = strcmp(c->cat->metrics[m].category, category) == 0;
        if (!known)
            return dbp_err_set(err, DBP_ENOTFOUND, "unknown category '%s'", category);
    }
    cJSON *o = cJSON_CreateObject();
    bool any = false;
    pthread_mutex_lock(&c->lock);
    struct node *n = &c->nodes[idx];
    struct tenant *t = tenant_by_name(n, tenant);
    for (int m = 0; t && m < c->nmetrics; m++) {
        const struct dbp_cat_metric *cm = &c->cat->metrics[m];
        if (!t->inited[m])
            continue;
        if (category && strcmp(cm->category, category) != 0)
            continue;
        if (select) {
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(select, cm->category);
            bool hit = false;
            if (cJSON_IsString(want))
                hit = strcasecmp(want->valuestring, cm->name) == 0;
            else if (cJSON_IsArray(want)) {
                const cJSON *it;
                cJSON_ArrayForEach(it, want) hit |=
                    cJSON_IsString(it) && strcasecmp(it->valuestring, cm->name) == 0;
            }
            if (!hit)
                continue;
        }
        cJSON *cat = cJSON_GetObjectItemCaseSensitive(o, cm->category);
        if (!cat)
            cat = cJSON_AddObjectToObject(o, cm->category);
        cJSON_AddItemToObject(cat, cm->name, points_array(&t->series[m]));
        any = true;
    }
    /* Names this catalog only knows as aliases (the dashboard asks every
     * cluster for OceanBase names): answered under the name and category
     * asked for, from the catalog's own metric. */
    const cJSON *want;
    const cJSON *sel_items = select;
    cJSON_ArrayForEach(want, sel_items)
    {
        const cJSON *names = cJSON_IsArray(want) ? want->child : want;
        for (const cJSON *it = names; t && it; it = cJSON_IsArray(want) ? it->next : NULL) {
            if (!cJSON_IsString(it) || dbp_catalog_find(c->cat, it->valuestring))
                continue;
            const struct dbp_cat_metric *am = dbp_catalog_resolve(c->cat, it->valuestring);
            if (!am || am->index >= c->nmetrics || !t->inited[am->index])
                continue;
            cJSON *cat = cJSON_GetObjectItemCaseSensitive(o, want->string);
            if (!cat)
                cat = cJSON_AddObjectToObject(o, want->string);
            if (!cJSON_GetObjectItemCaseSensitive(cat, it->valuestring))
                cJSON_AddItemToObject(cat, it->valuestring, points_array(&t->series[am->index]));
            any = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!any && !t) {
        cJSON_Delete(o);
        return dbp_err_set(err, DBP_ENOTFOUND, "no metrics history for node '%s'%s%s", node,
                           tenant && *tenant ? " tenant " : "", tenant ? tenant : "");
    }
    *out = o;
    return 0;
}

cJSON *dbp_collector_nodes_json(struct dbp_collector *c)
{
    cJSON *a = cJSON_CreateArray();
    char ts[40];
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes; i++) {
        struct node *n = &c->nodes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", n->cfg.name);
        cJSON_AddStringToObject(o, "host", n->cfg.host);
        cJSON_AddNumberToObject(o, "port", n->cfg.port);
        cJSON_AddStringToObject(o, "state", nstate_name[n->state]);
        if (n->last_ok > 0) {
            dbp_iso8601(n->last_ok, ts, sizeof(ts));
            cJSON_AddStringToObject(o, "last_success", ts);
        } else {
            cJSON_AddNullToObject(o, "last_success");
        }
        if (n->last_error[0]) {
            cJSON_AddStringToObject(o, "last_error", n->last_error);
            dbp_iso8601(n->last_err_at, ts, sizeof(ts));
            cJSON_AddStringToObject(o, "last_error_at", ts);
        } else {
            cJSON_AddNullToObject(o, "last_error");
            cJSON_AddNullToObject(o, "last_error_at");
        }
        cJSON_AddNumberToObject(o, "consecutive_failures", n->fails);
        cJSON_AddNumberToObject(o, "errors_total", (double)n->errors_total);
        if (n->state == N_DOWN) {
            dbp_iso8601(n->next_try, ts, sizeof(ts));
            cJSON_AddStringToObject(o, "next_retry", ts);
        }
        cJSON_AddNumberToObject(o, "query_seconds", n->query_s);
        cJSON_AddStringToObject(o, "server_version", n->version);
        cJSON *tl = cJSON_AddArrayToObject(o, "tenants");
        for (int t = 0; t < n->ntenants; t++)
            cJSON_AddItemToArray(tl, cJSON_CreateString(n->tenants[t].name[0]
                                                            ? n->tenants[t].name
                                                            : "default"));
        cJSON_AddItemToArray(a, o);
    }
    pthread_mutex_unlock(&c->lock);
    return a;
}

cJSON *dbp_collector_catalog_json(struct dbp_collector *c)
{
    const struct dbp_catalog *cat = c->cat;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", cat->name);
    cJSON_AddStringToObject(o, "description", cat->description ? cat->description : "");
    cJSON *cats = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; i < dbp_catalog_ncategories(cat); i++)
        cJSON_AddItemToArray(cats, cJSON_CreateString(dbp_catalog_category(cat, i)));
    cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
    for (size_t i = 0; i < cat->nmetrics; i++) {
        const struct dbp_cat_metric *m = &cat->metrics[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", m->name);
        cJSON_AddStringToObject(j, "category", m->category);
        cJSON_AddStringToObject(j, "kind", m->kind == DBP_METRIC_COUNTER ? "counter" : "gauge");
        cJSON_AddStringToObject(j, "unit", m->unit);
        cJSON_AddStringToObject(j, "help", m->help);
        cJSON_AddStringToObject(j, "source", m->host ? "host" : "sql");
        if (m->stat_id)
            cJSON_AddNumberToObject(j, "stat_id", (double)m->stat_id);
        cJSON_AddItemToArray(ms, j);
    }
    cJSON *qs = cJSON_AddArrayToObject(o, "queries");
    for (size_t i = 0; i < cat->nqueries; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", cat->queries[i].id);
        cJSON_AddStringToObject(j, "scope",
                                cat->queries[i].scope == DBP_SCOPE_NODE ? "node" : "cluster");
        cJSON_AddStringToObject(j, "sql", cat->queries[i].sql);
        cJSON_AddItemToArray(qs, j);
    }
    return o;
}

int dbp_collector_history(struct dbp_collector *c, const char *node, const char *tenant,
                          const char *metric, double since, double until, double **tsv,
                          double **vals, size_t *nout, double *oldest, struct dbp_err *err)
{
    int idx = dbp_collector_node_index(c, node);
    if (idx < 0)
        return dbp_err_set(err, DBP_ENOTFOUND, "unknown node '%s'", node);
    const struct dbp_cat_metric *m = dbp_catalog_find(c->cat, metric);
    if (!m)
        return dbp_err_set(err, DBP_ENOTFOUND, "unknown metric '%s'", metric);
    *tsv = NULL;
    *vals = NULL;
    *nout = 0;
    *oldest = INFINITY;
    pthread_mutex_lock(&c->lock);
    struct tenant *t = tenant_by_name(&c->nodes[idx], tenant);
    if (t && t->inited[m->index]) {
        struct dbp_series *s = &t->series[m->index];
        size_t n = dbp_series_len(s);
        struct dbp_point *pts = dbp_xcalloc(n ? n : 1, sizeof(*pts));
        size_t all = dbp_series_copy(s, -INFINITY, INFINITY, pts, n);
        if (all)
            *oldest = pts[0].ts;
        *tsv = dbp_xcalloc(all ? all : 1, sizeof(double));
        *vals = dbp_xcalloc(all ? all : 1, sizeof(double));
        for (size_t k = 0; k < all; k++)
            if (pts[k].ts >= since && pts[k].ts <= until && !isnan(pts[k].value)) {
                (*tsv)[*nout] = pts[k].ts;
                (*vals)[*nout] = pts[k].value;
                (*nout)++;
            }
        free(pts);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

double *dbp_collector_window(struct dbp_collector *c, int w, int *nnodes, int *nmetrics,
                             double *ts_last)
{
    /* Discovery appends nodes under the lock from another thread: the
     * count that sizes the block, the rows filled and the count returned
     * must be one reading, taken under the lock (H4). */
    if (w < 0)
        w = 0;
    pthread_mutex_lock(&c->lock);
    int nn = c->nnodes;
    size_t cells = (size_t)nn * (size_t)c->nmetrics * (size_t)w;
    double *out = dbp_xmalloc((cells ? cells : 1) * sizeof(double));
    for (int i = 0; i < nn; i++) {
        struct tenant *t = tenant_default(&c->nodes[i]);
        for (int m = 0; m < c->nmetrics; m++) {
            double *dst = out + (((size_t)i * (size_t)c->nmetrics) + (size_t)m) * (size_t)w;
            for (int k = 0; k < w; k++)
                dst[k] = NAN;
            if (!t || !t->inited[m])
                continue;
            struct dbp_series *s = &t->series[m];
            size_t n = dbp_series_len(s);
            size_t take = n < (size_t)w ? n : (size_t)w;
            /* newest `take` points, oldest first, right-aligned */
            struct dbp_point *all = dbp_xcalloc(n ? n : 1, sizeof(*all));
            size_t got = dbp_series_copy(s, -INFINITY, INFINITY, all, n);
            for (size_t k = 0; k < take && k < got; k++)
                dst[(size_t)w - take + k] = all[got - take + k].value;
            free(all);
        }
    }
    *ts_last = c->last_cycle_ts;
    pthread_mutex_unlock(&c->lock);
    *nnodes = nn;
    *nmetrics = c->nmetrics;
    return out;
}

/* ---- Prometheus ---------------------------------------------------------------- */

static int labels(struct dbp_buf *b, const struct node *n, const struct tenant *t,
                  const struct dbp_cat_metric *m)
{
    int rc = dbp_buf_puts(b, "{node=\"");
    rc |= dbp_prom_escape(b, n->cfg.name);
    rc |= dbp_buf_puts(b, "\",tenant=\"");
    rc |= dbp_prom_escape(b, t->name[0] ? t->name : "default");
    rc |= dbp_buf_puts(b, "\",category=\"");
    rc |= dbp_prom_escape(b, m->category);
    rc |= dbp_buf_puts(b, "\",metric=\"");
    rc |= dbp_prom_escape(b, m->name);
    rc |= dbp_buf_puts(b, "\"}");
    return rc;
}

int dbp_collector_render_prom(void *collector, struct dbp_buf *b)
{
    struct dbp_collector *c = collector;
    int rc = 0;
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"dbpecker_metric_value", "gauge",
         "Collected series: per-second rate for counters, the value for gauges."},
        {"dbpecker_metric_raw", "gauge", "Raw value as read from the database (counters)."},
        {"dbpecker_metric_zscore", "gauge",
         "z-score of the newest point against the sliding window before it."},
        {"dbpecker_metric_fluctuation", "gauge", "1 when the newest point is a fluctuation."},
    };
    pthread_mutex_lock(&c->lock);
    for (size_t f = 0; f < DBP_ARRAY_SIZE(fam) && !rc; f++) {
        rc |= dbp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help,
                             fam[f].name, fam[f].type);
        for (int i = 0; i < c->nnodes && !rc; i++) {
            const struct node *n = &c->nodes[i];
            for (int t = 0; t < n->ntenants && !rc; t++) {
                const struct tenant *tn = &n->tenants[t];
                for (int m = 0; m < c->nmetrics && !rc; m++) {
                    struct dbp_sample s;
                    if (!tn->inited[m] || !dbp_series_last(&tn->series[m], &s))
                        continue;
                    const struct dbp_cat_metric *cm = &c->cat->metrics[m];
                    double v;
                    if (f == 0) {
                        if (!s.valid)
                            continue;
                        v = s.value;
                    } else if (f == 1) {
                        if (tn->series[m].kind != DBP_METRIC_COUNTER)
                            continue;
                        v = s.raw;
                    } else {
                        if (!s.has_stats)
                            continue;
                        v = f == 2 ? s.z : (s.fluctuation ? 1 : 0);
                    }
                    rc |= dbp_buf_puts(b, fam[f].name);
                    rc |= labels(b, n, tn, cm);
                    rc |= dbp_buf_printf(b, " %.17g\n", v);
                }
            }
        }
    }
    rc |= dbp_buf_puts(b, "# HELP dbpecker_node_up 1 when the last query of the node succeeded.\n"
                          "# TYPE dbpecker_node_up gauge\n");
    for (int i = 0; i < c->nnodes && !rc; i++) {
        rc |= dbp_buf_puts(b, "dbpecker_node_up{node=\"");
        rc |= dbp_prom_escape(b, c->nodes[i].cfg.name);
        rc |= dbp_buf_printf(b, "\"} %d\n", c->nodes[i].state == N_UP);
    }
    rc |= dbp_buf_puts(b, "# HELP dbpecker_node_query_seconds Time to query the node in the "
                          "last cycle.\n# TYPE dbpecker_node_query_seconds gauge\n");
    for (int i = 0; i < c->nnodes && !rc; i++) {
        rc |= dbp_buf_puts(b, "dbpecker_node_query_seconds{node=\"");
        rc |= dbp_prom_escape(b, c->nodes[i].cfg.name);
        rc |= dbp_buf_printf(b, "\"} %.6f\n", c->nodes[i].query_s);
    }
    rc |= dbp_buf_puts(b, "# HELP dbpecker_node_errors_total Failed connects or queries.\n"
                          "# TYPE dbpecker_node_errors_total counter\n");
    for (int i = 0; i < c->nnodes && !rc; i++) {
        rc |= dbp_buf_puts(b, "dbpecker_node_errors_total{node=\"");
        rc |= dbp_prom_escape(b, c->nodes[i].cfg.name);
        rc |= dbp_buf_printf(b, "\"} %lu\n", c->nodes[i].errors_total);
    }
    rc |= dbp_buf_printf(b,
                         "# HELP dbpecker_collector_cycles_total Completed collection cycles.\n"
                         "# TYPE dbpecker_collector_cycles_total counter\n"
                         "dbpecker_collector_cycles_total %lu\n"
                         "# HELP dbpecker_collector_overruns_total Cycles longer than the "
                         "interval.\n"
                         "# TYPE dbpecker_collector_overruns_total counter\n"
                         "dbpecker_collector_overruns_total %lu\n"
                         "# HELP dbpecker_collector_cycle_seconds Duration of the last cycle.\n"
                         "# TYPE dbpecker_collector_cycle_seconds gauge\n"
                         "dbpecker_collector_cycle_seconds %.6f\n"
                         "# HELP dbpecker_collector_collecting 1 while collection is on.\n"
                         "# TYPE dbpecker_collector_collecting gauge\n"
                         "dbpecker_collector_collecting %d\n",
                         c->cycles, c->overruns, c->last_cycle_dur,
                         atomic_load(&c->collecting) ? 1 : 0);
    pthread_mutex_unlock(&c->lock);
    return rc ? DBP_ENOMEM : 0;
}

const char *dbp_collector_state(void *collector, char *detail, size_t detailsz)
{
    struct dbp_collector *c = collector;
    int down = 0, up = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nnodes; i++) {
        down += c->nodes[i].state == N_DOWN;
        up += c->nodes[i].state == N_UP;
    }
    pthread_mutex_unlock(&c->lock);
    snprintf(detail, detailsz, "%d nodes up, %d down, catalog %s", up, down, c->cat->name);
    if (!atomic_load(&c->collecting))
        return "paused";
    return down ? "degraded" : "running";
}
