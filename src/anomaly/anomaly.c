/*
 * anomaly.c - the fault registry (see anomaly.h and docs/faults.md).
 *
 * DESIGN
 * State: a list of injections (newest first) under a->lock.  Each
 * injection holds up to DBP_ANOMALY_MAX_PARTS parts (type x node), each
 * with the executor that runs it, its severity row (params, immutable) and
 * the executor's revert state (written by the worker only).
 *
 * Lanes (see "applies and reverts" below): apply lanes take pending
 * injections, revert lanes take due reverts (leftovers of a previous
 * process, expiries, stop requests, retries, and at shutdown everything in
 * place, in parallel), and the evidence lane measures evidence on a timer.
 * A record is handled by one lane at a time (inj.busy): only that lane
 * mutates its parts and journal, and no lane frees a busy record (prune),
 * so a lane may keep its pointer across an unlock.  Lanes release a->lock
 * around every executor call and journal write, so readers never wait on
 * I/O.  API threads only insert pending records and set stop_req (and the
 * cancel flag an apply polls), then wait on a->changed.
 *
 * Journal: one JSON file per injection in its own versioned schema
 * (journal.c), rewritten atomically (fsync) before each part is applied
 * (part status "applying"), after it is applied (with state), and after
 * each revert.  Loading it at start turns every part that may still be in
 * place into a revert, tried before anything new is applied.  A part that
 * was "applying" has no state: the executor gets an intent state built
 * from the id, the type, the node and the params.
 *
 * Evidence ("effective") is measured by the evidence lane, at most every
 * 2 s per injection, outside the lock: the executor's evidence() on a copy
 * of the state plus a collector witness metric compared before/after the
 * start.  Readers only copy it.
 *
 * Lock order: a->lock is a leaf (the collector's lock is only taken with
 * a->lock released).
 */
#define _GNU_SOURCE
#include "anomaly_int.h"
#include "dbp/anomaly.h"
#include "dbp/collector.h"
#include "dbp/db.h"
#include "dbp/log.h"
#include "dbp/prom.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MOD "anomaly"
#define KEEP_ENDED 200                 /* ended records kept in memory */
#define JOURNAL_KEEP_S (7 * 86400.0)   /* ended journal files kept on disk */
#define JOURNAL_MAX (1u << 20)
#define EVIDENCE_EVERY_S 2.0
#define EVIDENCE_TICK_S 1.0            /* the evidence lane wakes this often */
#define REVERT_TRIES 10                /* then "failed"; the next start retries */
#define PROM_KEEP_S 300.0              /* a 0 sample after a revert, this long */
#define BASELINE_S 60.0                /* witness metric: mean over this before the start */

/* ---- the type table ------------------------------------------------------ */

enum tclass { TC_HOST, TC_SQL, TC_CLIENT };

/* One typed parameter of a severity row: a number, or a string when str is
 * set.  The rows are C data, checked by the compiler, not JSON text parsed
 * at every inject. */
struct param {
    const char *key;
    double num;
    const char *str;
};
#define MAX_PARAMS 4 /* per row; the first with key NULL ends it */
#define N(k, v) {(k), (v), NULL}
#define S(k, v) {(k), 0, (v)}

struct type_def {
    const char *name;
    const char *category;
    enum tclass cls;
    const char *description;
    struct param lab[3][MAX_PARAMS]; /* local/sql executors: low, medium, high */
    struct param ref[3][MAX_PARAMS]; /* the original's table (reference §3.2), chaosmesh; {} = lab */
    const char *metrics[3]; /* collector witness candidates (first one in the catalog wins) */
    int direction;      /* +1 the witness should go up, -1 down, 0 informational */
};

static const char *const sev_names[3] = {"low", "medium", "high"};

/* Lab rows are scaled for a small shared host; docs/faults.md explains each
 * choice.  cpu_stress workers = max(1, round(ncpu * workers_per_cpu)). */
static const struct type_def types[] = {
    {"cpu_stress", "cpu", TC_HOST,
     "CPU hog: stress-ng CPU workers confined to the node's cgroup (lab/bare metal) or a "
     "StressChaos cpu stressor on the pod",
     {{N("workers_per_cpu", 0.5), N("load", 100)}, {N("workers_per_cpu", 1), N("load", 100)},
      {N("workers_per_cpu", 2), N("load", 100)}},
     {{S("stress_ng_params", "--cpu 40"), N("workers", 32), N("load", 100)},
      {S("stress_ng_params", "--cpu 80"), N("workers", 48), N("load", 100)},
      {S("stress_ng_params", "--cpu 120"), N("workers", 64), N("load", 100)}},
     {"cgroup cpu throttled seconds", NULL, NULL}, 0},
    {"io_bottleneck", "io", TC_HOST,
     "Disk saturation: stress-ng direct-I/O writers on the node's data directory, in its blkio "
     "cgroup (lab/bare metal) or StressChaos/IOChaos on the pod",
     {{N("workers", 1), N("bytes_mb", 256)}, {N("workers", 2), N("bytes_mb", 512)},
      {N("workers", 4), N("bytes_mb", 512)}},
     {{N("dd_files", 1), N("dd_mb", 2048)}, {N("dd_files", 2), N("dd_mb", 2048)},
      {N("dd_files", 3), N("dd_mb", 2048)}},
     {"process io write bytes", NULL, NULL}, 0},
    {"network_bottleneck", "network", TC_HOST,
     "Packet loss (nftables, both directions) and at medium/high a tbf rate limit on the node's "
     "interface, inside its network namespace; NetworkChaos loss on Kubernetes",
     {{N("loss_pct", 5), N("rate_kbit", 0)}, {N("loss_pct", 10), N("rate_kbit", 8192)},
      {N("loss_pct", 20), N("rate_kbit", 1024)}},
     {{S("loss", "50"), S("correlation", "0")}, {S("loss", "80"), S("correlation", "0")},
      {S("loss", "100"), S("correlation", "0")}},
     {NULL, NULL, NULL}, 0},
    {"cache_bottleneck", "memory", TC_SQL,
     "Smaller cache: MariaDB innodb_buffer_pool_size shrunk to a fraction (restored after), or "
     "OceanBase memstore_limit_percentage on the node's zone (restored to 0 = default)",
     {{N("buffer_pool_fraction", 0.5), N("memstore_limit_percentage", 8)},
      {N("buffer_pool_fraction", 0.25), N("memstore_limit_percentage", 6)},
      {N("buffer_pool_fraction", 0.125), N("memstore_limit_percentage", 4)}},
     {{{0}}},
     {"Innodb_buffer_pool_pages_total", NULL, NULL}, -1},
    {"too_many_indexes", "schema", TC_SQL,
     "Extra secondary indexes (reference §3.3) on the benchmark tables that exist (sbtest1..10, "
     "TPC-C); node-local on Galera (RSU); dropped by name after",
     {{N("columns_per_table", 1)}, {N("columns_per_table", 2)}, {N("columns_per_table", 0)}},
     {{{0}}},
     {NULL, NULL, NULL}, 0},
    {"workload_surge", "workload", TC_CLIENT,
     "Extra benchmark load: additional sysbench oltp_read_only threads against the node",
     {{N("threads", 4), S("script", "oltp_read_only")},
      {N("threads", 8), S("script", "oltp_read_only")},
      {N("threads", 16), S("script", "oltp_read_only")}},
     {{{0}}},
     {"Threads_connected", "active sessions", NULL}, +1},
    {"lock_contention", "lock", TC_SQL,
     "Long transactions holding hot rows: connections each holding SELECT ... FOR UPDATE on a "
     "range of the lowest ids of sbtest.sbtest1 in an open transaction",
     {{N("holders", 2), N("rows_per_holder", 10)}, {N("holders", 4), N("rows_per_holder", 50)},
      {N("holders", 8), N("rows_per_holder", 200)}},
     {{{0}}},
     {"Innodb_row_lock_current_waits", NULL, NULL}, 0},
    {"connection_storm", "connections", TC_SQL,
     "Many idle client connections to the node, bounded by max_connections minus a headroom",
     {{N("connections", 50), N("headroom", 20)}, {N("connections", 150), N("headroom", 20)},
      {N("connections", 300), N("headroom", 20)}},
     {{{0}}},
     {"Threads_connected", "active sessions", NULL}, +1},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

size_t dbp_anomaly_ntypes(void)
{
    return NTYPES;
}

const char *dbp_anomaly_type_name(size_t i)
{
    return i < NTYPES ? types[i].name : NULL;
}

int dbp_anomaly_type_index(const char *name)
{
    for (size_t i = 0; name && i < NTYPES; i++)
        if (strcmp(types[i].name, name) == 0)
            return (int)i;
    return -1;
}

int dbp_anomaly_severity_index(const char *name)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(sev_names[i], name) == 0)
            return i;
    return -1;
}

static int host_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

cJSON *dbp_anomaly_params(const char *type, const char *severity, const char *executor, int ncpu)
{
    int t = dbp_anomaly_type_index(type), s = dbp_anomaly_severity_index(severity);
    if (t < 0 || s < 0)
        return NULL;
    bool ref = executor && strcmp(executor, "chaosmesh") == 0 && types[t].ref[s][0].key;
    const struct param *row = ref ? types[t].ref[s] : types[t].lab[s];
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < MAX_PARAMS && row[k].key; k++) {
        if (row[k].str)
            cJSON_AddStringToObject(o, row[k].key, row[k].str);
        else
            cJSON_AddNumberToObject(o, row[k].key, row[k].num);
    }
    const cJSON *wpc = cJSON_GetObjectItemCaseSensitive(o, "workers_per_cpu");
    if (cJSON_IsNumber(wpc)) {
        int w = (int)lround((ncpu > 0 ? ncpu : host_ncpu()) * wpc->valuedouble);
        cJSON_AddNumberToObject(o, "workers", w < 1 ? 1 : w);
    }
    return o;
}

/* ---- records ---------------------------------------------------------------- */

enum { R_APPLIED, R_FAILED, R_REVERTED, R_REVERT_FAILED, R_N };
static const char *const result_names[R_N] = {"applied", "failed", "reverted", "revert_failed"};


enum lane_kind { LANE_APPLY, LANE_REVERT, LANE_EVIDENCE };

struct lane {
    struct dbp_anomalies *a;
    enum lane_kind kind;
    int idx;
    pthread_t thread;
};

#define MAX_LANES 8 /* of each kind */

struct dbp_anomalies {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the lanes wait here (broadcast) */
    pthread_cond_t changed; /* API waiters and SSE streams wait here */
    struct lane lanes[2 * MAX_LANES + 1];
    int nlanes, apply_alive;
    bool started, stopping;
    unsigned long version;
    struct inj *list; /* newest first */

    char dir[DBP_PATH_MAX];
    char mode[16];
    bool k8s;
    int default_duration, max_duration, ncpu;
    struct dbp_node_cfg *nodes;
    int nnodes;
    struct dbp_collector *collector;

    struct dbp_executor ex[EX_N];
    bool have[EX_N];
    char ex_why[EX_N][DBP_ERR_MSG_MAX];

    unsigned rr;
    unsigned long counts[NTYPES][R_N];
};

static bool ended(const struct inj *j)
{
    return j->st == IST_REVERTED || j->st == IST_FAILED;
}

static bool in_place(enum pst s)
{
    return s == PST_APPLYING || s == PST_APPLIED || s == PST_REVERTING || s == PST_REVERT_FAILED;
}

static bool needs_revert(const struct inj *j)
{
    for (int i = 0; i < j->nparts; i++)
        if (in_place(j->parts[i].st))
            return true;
    return false;
}

static void inj_free(struct inj *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nparts; i++) {
        cJSON_Delete(j->parts[i].params);
        cJSON_Delete(j->parts[i].state);
        cJSON_Delete(j->parts[i].evidence);
    }
    free(j);
}

static void bump(struct dbp_anomalies *a)
{
    a->version++;
    pthread_cond_broadcast(&a->changed);
}

static struct inj *find(struct dbp_anomalies *a, const char *id_or_name)
{
    struct inj *byname = NULL;
    for (struct inj *j = a->list; j; j = j->next) {
        if (strcmp(j->id, id_or_name) == 0)
            return j;
        /* Names are unique among live records; prefer a live one. */
        if (strcmp(j->name, id_or_name) == 0 && (!byname || (ended(byname) && !ended(j))))
            byname = j;
    }
    return byname;
}

static const struct dbp_node_cfg *node_cfg(const struct dbp_anomalies *a, const char *name)
{
    for (int i = 0; i < a->nnodes; i++)
        if (strcmp(a->nodes[i].name, name) == 0)
            return &a->nodes[i];
    return NULL;
}

static void add_time(cJSON *o, const char *iso_key, const char *ts_key, double t)
{
    if (t > 0) {
        char iso[40];
        dbp_iso8601(t, iso, sizeof(iso));
        cJSON_AddStringToObject(o, iso_key, iso);
        cJSON_AddNumberToObject(o, ts_key, t);
    } else {
        cJSON_AddNullToObject(o, iso_key);
        cJSON_AddNullToObject(o, ts_key);
    }
}

static cJSON *tri(int v)
{
    return v < 0 ? cJSON_CreateNull() : cJSON_CreateBool(v);
}

/* The record as the API shows it (the journal has its own schema: journal.c).
 * Under a->lock. */
static cJSON *record_json(const struct inj *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *tl = cJSON_CreateArray(), *nl = cJSON_CreateArray(), *pl = cJSON_CreateArray();
    char execs[64] = "";
    int agg = 1, measured = 0;
    cJSON *ev = cJSON_CreateArray();

    for (int i = 0; i < j->nparts; i++) {
        const struct part *p = &j->parts[i];
        bool dup_t = false, dup_n = false;
        for (int k = 0; k < i; k++) {
            dup_t |= strcmp(j->parts[k].type, p->type) == 0;
            dup_n |= strcmp(j->parts[k].node, p->node) == 0;
        }
        if (!dup_t)
            cJSON_AddItemToArray(tl, cJSON_CreateString(p->type));
        if (!dup_n)
            cJSON_AddItemToArray(nl, cJSON_CreateString(p->node));
        if (!strstr(execs, p->exec_name)) {
            size_t l = strlen(execs);
            snprintf(execs + l, sizeof(execs) - l, "%s%s", l ? "+" : "", p->exec_name);
        }
        cJSON *po = cJSON_CreateObject();
        cJSON_AddStringToObject(po, "type", p->type);
        cJSON_AddStringToObject(po, "node", p->node);
        cJSON_AddStringToObject(po, "severity", p->severity);
        cJSON_AddStringToObject(po, "executor", p->exec_name);
        cJSON_AddStringToObject(po, "status", dbp_anom_pst_names[p->st]);
        if (p->error[0])
            cJSON_AddStringToObject(po, "error", p->error);
        cJSON_AddItemToObject(po, "params",
                              p->params ? cJSON_Duplicate(p->params, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(po, "state",
                              p->state ? cJSON_Duplicate(p->state, 1) : cJSON_CreateNull());
        add_time(po, "applied_at", "applied_ts", p->applied_at);
        add_time(po, "reverted_at", "reverted_ts", p->reverted_at);
        cJSON_AddItemToObject(po, "took_effect", tri(p->took_effect));
        cJSON_AddItemToObject(po, "effective",
                              p->evidence ? cJSON_Duplicate(p->evidence, 1) : cJSON_CreateNull());
        cJSON_AddItemToArray(pl, po);
        if (p->evidence) {
            cJSON *e = cJSON_Duplicate(p->evidence, 1);
            cJSON_AddStringToObject(e, "type", p->type);
            cJSON_AddStringToObject(e, "node", p->node);
            cJSON_AddItemToObject(e, "took_effect", tri(p->took_effect));
            cJSON_AddItemToArray(ev, e);
            measured++;
        }
        if (p->took_effect == 0)
            agg = 0;
        else if (p->took_effect < 0 && agg == 1)
            agg = -1;
    }

    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "name", j->name);
    cJSON_AddStringToObject(o, "experiment_name", j->name);
    if (cJSON_GetArraySize(tl) == 1)
        cJSON_AddStringToObject(o, "type", cJSON_GetArrayItem(tl, 0)->valuestring);
    else
        cJSON_AddStringToObject(o, "type", "compound");
    cJSON_AddItemToObject(o, "types", tl);
    if (cJSON_GetArraySize(nl) == 1)
        cJSON_AddStringToObject(o, "node", cJSON_GetArrayItem(nl, 0)->valuestring);
    else
        cJSON_AddItemToObject(o, "node", cJSON_Duplicate(nl, 1));
    cJSON_AddItemToObject(o, "nodes", nl);
    cJSON_AddStringToObject(o, "target", "cluster");
    cJSON_AddBoolToObject(o, "compound", j->nparts > 1);
    cJSON_AddStringToObject(o, "severity", j->severity);
    cJSON_AddNumberToObject(o, "duration", j->duration_s);
    cJSON_AddNumberToObject(o, "expected_duration", j->duration_s);
    cJSON_AddStringToObject(o, "status", dbp_anom_ist_names[j->st]);
    cJSON_AddStringToObject(o, "executor", execs);
    add_time(o, "created_at", "created_ts", j->created);
    add_time(o, "start_time", "start_ts", j->start);
    add_time(o, "end_time", "end_ts", ended(j) && j->ended > 0 ? j->ended : j->end);
    add_time(o, "planned_end", "planned_end_ts", j->end);
    add_time(o, "ended_at", "ended_ts", j->ended);
    if (j->error[0])
        cJSON_AddStringToObject(o, "error", j->error);
    cJSON_AddBoolToObject(o, "recovered", j->recovered);
    cJSON_AddBoolToObject(o, "stop_requested", j->stop_req);
    cJSON_AddNumberToObject(o, "revert_attempts", j->attempts);
    cJSON_AddBoolToObject(o, "collect_training_data", j->collect);
    cJSON_AddBoolToObject(o, "save_post_data", j->save_post);
    if (measured) {
        cJSON *eff = cJSON_AddObjectToObject(o, "effective");
        cJSON_AddItemToObject(eff, "took_effect", tri(agg));
        cJSON_AddItemToObject(eff, "evidence", ev);
    } else {
        cJSON_Delete(ev);
        cJSON_AddNullToObject(o, "effective");
    }
    cJSON_AddItemToObject(o, "parts", pl);
    return o;
}

/* ---- journal ---------------------------------------------------------------- */

static void journal_path(const struct dbp_anomalies *a, const char *id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s.json", a->dir, id);
}

/* Write j's journal file.  Called by the worker with a->lock held; the lock
 * is released during the write (the worker is the only journal writer, so
 * writes of one record cannot reorder). */
static int journal_write(struct dbp_anomalies *a, struct inj *j)
{
    char path[DBP_PATH_MAX + 32];
    cJSON *o = dbp_journal_encode(j); /* its own schema, not the API record (journal.c) */
    journal_path(a, j->id, path, sizeof(path));
    pthread_mutex_unlock(&a->lock);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = text ? dbp_write_file_atomic(path, text, strlen(text), 0600) : DBP_ENOMEM;
    free(text);
    if (rc)
        DBP_ERROR(MOD, "cannot write journal '%s': %s", path, dbp_strerror(rc));
    pthread_mutex_lock(&a->lock);
    return rc;
}

static int exec_index(const char *name)
{
    return dbp_anom_name_index(dbp_anom_ex_names, EX_N, name);
}

static void list_insert_sorted(struct dbp_anomalies *a, struct inj *j)
{
    struct inj **pp = &a->list;
    while (*pp && (*pp)->created >= j->created)
        pp = &(*pp)->next;
    j->next = *pp;
    *pp = j;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Load every journal file.  Before the worker starts (single-threaded). */
static int journal_load(struct dbp_anomalies *a, struct dbp_err *err)
{
    int rc = dbp_mkdir_p(a->dir, 0700);
    if (rc)
        return dbp_err_set(err, DBP_EIO, "cannot create '%s': %s", a->dir, dbp_strerror(rc));
    DIR *d = opendir(a->dir);
    if (!d)
        return dbp_err_set(err, DBP_EIO, "cannot open '%s': %s", a->dir, strerror(errno));
    struct dirent *e;
    double now = dbp_wall_s();
    int loaded = 0, leftovers = 0;
    while ((e = readdir(d))) {
        char path[DBP_PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", a->dir, e->d_name);
        if (strstr(e->d_name, ".json.tmp-")) { /* a write interrupted by the crash */
            unlink(path);
            continue;
        }
        if (!has_suffix(e->d_name, ".json"))
            continue;
        char *text = NULL;
        size_t len = 0;
        if (dbp_read_file(path, JOURNAL_MAX, &text, &len)) {
            DBP_WARN(MOD, "cannot read journal '%s'", path);
            continue;
        }
        const char *end = NULL;
        cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        free(text);
        int ver = 0;
        struct inj *j = o ? dbp_journal_decode(o, &ver) : NULL;
        cJSON_Delete(o);
        if (!j) {
            DBP_WARN(MOD, "ignoring '%s': not a fault journal (or journal_version %d, newer "
                     "than this build)", path, ver);
            continue;
        }
        char want[64];
        snprintf(want, sizeof(want), "%s.json", j->id);
        if (strcmp(want, e->d_name) != 0) {
            DBP_WARN(MOD, "ignoring '%s': its id is %s", path, j->id);
            inj_free(j);
            continue;
        }
        if (needs_revert(j)) {
            j->st = IST_REVERTING;
            j->recovered = true;
            j->next_try = 0;
            j->attempts = 0;
            leftovers++;
            DBP_WARN(MOD, "injection %s (%s) was left applied by a previous run: reverting it",
                     j->id, j->name);
        } else if (!ended(j)) {
            /* Journaled but nothing was ever applied. */
            j->st = IST_FAILED;
            j->ended = now;
            dbp_strlcpy(j->error, "the daemon stopped before it was applied", sizeof(j->error));
        } else if (now - (j->ended > 0 ? j->ended : j->created) > JOURNAL_KEEP_S) {
            unlink(path);
            inj_free(j);
            continue;
        }
        list_insert_sorted(a, j);
        loaded++;
    }
    closedir(d);
    if (loaded)
        DBP_INFO(MOD, "journal: %d injection(s) loaded, %d to revert", loaded, leftovers);
    return 0;
}

/* Drop ended records beyond KEEP_ENDED from memory and old journal files.
 * Worker only (it is the only one that frees records). */
static void prune(struct dbp_anomalies *a)
{
    int kept = 0;
    double now = dbp_wall_s();
    for (struct inj **pp = &a->list; *pp;) {
        struct inj *j = *pp;
        if (ended(j) && !needs_revert(j) && !j->busy) {
            double t = j->ended > 0 ? j->ended : j->created;
            bool old = now - t > JOURNAL_KEEP_S;
            if (old || ++kept > KEEP_ENDED) {
                if (old) {
                    char path[DBP_PATH_MAX + 32];
                    journal_path(a, j->id, path, sizeof(path));
                    unlink(path);
                }
                *pp = j->next;
                inj_free(j);
                continue;
            }
        }
        pp = &j->next;
    }
}

/* ---- executors ---------------------------------------------------------------- */

static int pick_exec(struct dbp_anomalies *a, int tidx, const struct dbp_node_cfg *node,
                     char *why, size_t whysz)
{
    int cand[2], n = 0;
    switch (types[tidx].cls) {
    case TC_HOST:
        if (strcmp(a->mode, "auto") == 0) {
            if (a->k8s)
                cand[n++] = EX_CHAOSMESH;
            cand[n++] = EX_LOCAL;
        } else if (strcmp(a->mode, "local") == 0) {
            cand[n++] = EX_LOCAL;
        } else if (strcmp(a->mode, "chaosmesh") == 0) {
            cand[n++] = EX_CHAOSMESH;
        }
        break;
    case TC_SQL:
        cand[n++] = EX_SQL;
        break;
    case TC_CLIENT:
        cand[n++] = EX_LOCAL;
        break;
    }
    if (!n) {
        snprintf(why, whysz, "anomaly.executor is '%s', which runs SQL faults only", a->mode);
        return -1;
    }
    why[0] = '\0';
    for (int i = 0; i < n; i++) {
        int e = cand[i];
        char r[DBP_ERR_MSG_MAX] = "";
        if (!a->have[e])
            dbp_strlcpy(r, a->ex_why[e][0] ? a->ex_why[e] : "not available", sizeof(r));
        else if (a->ex[e].supports &&
                 !a->ex[e].supports(a->ex[e].ctx, types[tidx].name, node, r, sizeof(r))) {
            if (!r[0])
                dbp_strlcpy(r, "not supported", sizeof(r));
        } else {
            return e;
        }
        size_t l = strlen(why);
        snprintf(why + l, whysz - l, "%s%s: %s", l ? "; " : "", dbp_anom_ex_names[e], r);
    }
    return -1;
}

static void exec_clear(struct dbp_executor *ex)
{
    if (ex->free_ctx)
        ex->free_ctx(ex->ctx);
    memset(ex, 0, sizeof(*ex));
}

int dbp_anomalies_set_executor(struct dbp_anomalies *a, const struct dbp_executor *ex)
{
    int e = ex && ex->name ? exec_index(ex->name) : -1;
    if (e < 0 || a->started)
        return DBP_EINVAL;
    if (a->have[e])
        exec_clear(&a->ex[e]);
    a->ex[e] = *ex;
    a->have[e] = true;
    a->ex_why[e][0] = '\0';
    return 0;
}

static bool k8s_configured(const struct dbp_config *cfg)
{
    return cfg->k8s_api[0] || cfg->k8s_kubeconfig[0] ||
           access("/var/run/secrets/kubernetes.io/serviceaccount/token", R_OK) == 0;
}

int dbp_anomalies_new(const struct dbp_config *cfg, struct dbp_collector *collector,
                      struct dbp_anomalies **out, struct dbp_err *err)
{
    struct dbp_anomalies *a = dbp_xcalloc(1, sizeof(*a));
    pthread_condattr_t ca;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_cond_init(&a->changed, &ca);
    pthread_condattr_destroy(&ca);
    *out = NULL;

    if ((size_t)snprintf(a->dir, sizeof(a->dir), "%s/anomaly", cfg->data_dir) >= sizeof(a->dir)) {
        dbp_anomalies_free(a);
        return dbp_err_set(err, DBP_EINVAL, "data_dir is too long");
    }
    dbp_strlcpy(a->mode, cfg->executor[0] ? cfg->executor : "auto", sizeof(a->mode));
    a->k8s = k8s_configured(cfg);
    a->default_duration = cfg->default_duration_s > 0 ? cfg->default_duration_s : 180;
    a->max_duration = cfg->max_duration_s > 0 ? cfg->max_duration_s : 3600;
    if (a->default_duration > a->max_duration)
        a->default_duration = a->max_duration;
    a->ncpu = host_ncpu();
    a->collector = collector;
    a->nnodes = cfg->nnodes;
    a->nodes = dbp_xcalloc(cfg->nnodes ? (size_t)cfg->nnodes : 1, sizeof(*a->nodes));
    memcpy(a->nodes, cfg->nodes, (size_t)cfg->nnodes * sizeof(*a->nodes));

    struct dbp_err e = {0};
    if (a->k8s || strcmp(a->mode, "chaosmesh") == 0) {
        if (dbp_exec_chaosmesh_new(cfg, &a->ex[EX_CHAOSMESH], &e) == 0)
            a->have[EX_CHAOSMESH] = true;
        else
            dbp_strlcpy(a->ex_why[EX_CHAOSMESH], e.msg, sizeof(a->ex_why[0]));
    } else {
        dbp_strlcpy(a->ex_why[EX_CHAOSMESH], "Kubernetes is not configured (anomaly.k8s_api, "
                    "anomaly.kubeconfig, in-cluster service account)", sizeof(a->ex_why[0]));
    }
    /* local also runs workload_surge, whatever the mode */
    dbp_err_clear(&e);
    if (dbp_exec_local_new(cfg, &a->ex[EX_LOCAL], &e) == 0)
        a->have[EX_LOCAL] = true;
    else
        dbp_strlcpy(a->ex_why[EX_LOCAL], e.msg, sizeof(a->ex_why[0]));
    dbp_err_clear(&e);
    if (dbp_exec_sql_new(cfg, &a->ex[EX_SQL], &e) == 0)
        a->have[EX_SQL] = true;
    else
        dbp_strlcpy(a->ex_why[EX_SQL], e.msg, sizeof(a->ex_why[0]));
    for (int i = 0; i < EX_N; i++)
        if (!a->have[i] && (i != EX_CHAOSMESH || a->k8s))
            DBP_WARN(MOD, "executor %s unavailable: %s", dbp_anom_ex_names[i], a->ex_why[i]);
    *out = a;
    return 0;
}

/* ---- applies and reverts ---------------------------------------------------- */

static void count(struct dbp_anomalies *a, const struct part *p, int result)
{
    if (p->tidx >= 0)
        a->counts[p->tidx][result]++;
}

/* Revert every part that may be in place, newest part first.  Worker, lock
 * held (released around executor calls and journal writes). */
static void do_revert(struct dbp_anomalies *a, struct inj *j)
{
    bool all = true;
    char first_err[DBP_ERR_MSG_MAX] = "";
    if (j->st != IST_REVERTING) {
        j->st = IST_REVERTING;
        bump(a);
    }
    journal_write(a, j);
    for (int i = j->nparts - 1; i >= 0; i--) {
        struct part *p = &j->parts[i];
        if (!in_place(p->st))
            continue;
        struct dbp_executor *ex = p->exec >= 0 && a->have[p->exec] ? &a->ex[p->exec] : NULL;
        cJSON *state = p->state ? cJSON_Duplicate(p->state, 1) : NULL;
        if (!state) { /* crashed while applying: let the executor find it by id */
            state = cJSON_CreateObject();
            cJSON_AddBoolToObject(state, "intent", true);
            cJSON_AddStringToObject(state, "id", j->id);
            cJSON_AddNumberToObject(state, "part", i);
            cJSON_AddStringToObject(state, "type", p->type);
            cJSON_AddStringToObject(state, "node", p->node);
            cJSON_AddItemToObject(state, "params", p->params ? cJSON_Duplicate(p->params, 1)
                                                             : cJSON_CreateObject());
        }
        p->st = PST_REVERTING;
        bump(a);
        pthread_mutex_unlock(&a->lock);
        struct dbp_err e = {0};
        int rc = ex ? ex->revert(ex->ctx, state, &e)
                    : dbp_err_set(&e, DBP_EUNAVAIL, "executor '%s' is not available",
                                  p->exec_name);
        cJSON_Delete(state);
        pthread_mutex_lock(&a->lock);
        if (rc == 0) {
            p->st = PST_REVERTED;
            p->reverted_at = dbp_wall_s();
            p->error[0] = '\0';
            count(a, p, R_REVERTED);
            DBP_INFO(MOD, "reverted %s on %s (injection %s)", p->type, p->node, j->id);
        } else {
            p->st = PST_REVERT_FAILED;
            dbp_strlcpy(p->error, e.msg[0] ? e.msg : dbp_strerror(rc), sizeof(p->error));
            count(a, p, R_REVERT_FAILED);
            /* Messages are bounded on purpose: a long one is cut. */
            if (!first_err[0] &&
                snprintf(first_err, sizeof(first_err), "revert of %s on %s failed: %s", p->type,
                         p->node, p->error) >= (int)sizeof(first_err))
                first_err[sizeof(first_err) - 1] = '\0';
            all = false;
            DBP_ERROR(MOD, "cannot revert %s on %s (injection %s): %s", p->type, p->node, j->id,
                      p->error);
        }
        bump(a);
        journal_write(a, j);
    }
    double now = dbp_wall_s();
    if (all) {
        /* an injection that failed to apply stays "failed" */
        if (j->st == IST_REVERTING)
            j->st = j->err_code ? IST_FAILED : IST_REVERTED;
        j->ended = now;
        if (j->recovered && !j->error[0])
            dbp_strlcpy(j->error, "reverted at start-up after the daemon stopped unexpectedly",
                        sizeof(j->error));
    } else {
        j->attempts++;
        dbp_strlcpy(j->error, first_err, sizeof(j->error));
        if (j->attempts >= REVERT_TRIES) {
            j->st = IST_FAILED;
            j->ended = now;
        } else {
            j->next_try = now + fmin(60.0, 2.0 * (1 << (j->attempts < 5 ? j->attempts : 5)));
        }
    }
    bump(a);
    journal_write(a, j);
}

static void do_apply(struct dbp_anomalies *a, struct inj *j)
{
    int failed = -1;
    struct dbp_err e = {0};

    for (int i = 0; i < j->nparts && failed < 0; i++) {
        struct part *p = &j->parts[i];
        if (j->stop_req || a->stopping) {
            failed = i;
            dbp_err_set(&e, DBP_EUNAVAIL, "stopped before it was applied");
            break;
        }
        p->st = PST_APPLYING;
        bump(a);
        int rc = journal_write(a, j); /* the intent is on disk before the fault exists */
        if (rc) {
            p->st = PST_FAILED;
            failed = i;
            dbp_err_set(&e, DBP_EIO, "cannot write the journal in '%s'", a->dir);
            break;
        }
        const struct dbp_node_cfg *node = node_cfg(a, p->node);
        struct dbp_fault_spec spec = {
            .id = j->id,
            .type = p->type,
            .severity = p->severity,
            .duration_s = j->duration_s,
            .node = node,
            .params = p->params,
            .stop = &j->cancel,
        };
        struct dbp_executor *ex = &a->ex[p->exec];
        cJSON *state = NULL;
        pthread_mutex_unlock(&a->lock);
        dbp_err_clear(&e);
        rc = node ? ex->apply(ex->ctx, &spec, &state, &e)
                  : dbp_err_set(&e, DBP_ENOTFOUND, "node '%s' is no longer configured", p->node);
        pthread_mutex_lock(&a->lock);
        if (rc) {
            cJSON_Delete(state);
            /* An executor undoes its own half-made apply before failing
             * (fault.h); only a crash leaves an "applying" part behind. */
            p->st = PST_FAILED;
            dbp_strlcpy(p->error, e.msg[0] ? e.msg : dbp_strerror(rc), sizeof(p->error));
            if (!e.code)
                e.code = rc;
            failed = i;
            count(a, p, R_FAILED);
            DBP_ERROR(MOD, "cannot apply %s on %s (injection %s): %s", p->type, p->node, j->id,
                      p->error);
            break;
        }
        p->state = state ? state : cJSON_CreateObject();
        p->st = PST_APPLIED;
        p->applied_at = dbp_wall_s();
        count(a, p, R_APPLIED);
        DBP_INFO(MOD, "applied %s (%s) on %s with %s for %d s (injection %s)", p->type,
                 p->severity, p->node, p->exec_name, j->duration_s, j->id);
        bump(a);
        journal_write(a, j);
    }

    if (failed < 0) {
        j->st = IST_ACTIVE;
        j->start = dbp_wall_s();
        j->end = j->start + j->duration_s;
        bump(a);
        journal_write(a, j);
        return;
    }
    /* All or nothing: undo the parts already applied. */
    if (j->stop_req && !needs_revert(j)) {
        /* stopped by a user before anything was applied: nothing to undo */
        j->st = IST_REVERTED;
        j->ended = dbp_wall_s();
        dbp_strlcpy(j->error, "stopped before it was applied", sizeof(j->error));
        bump(a);
        journal_write(a, j);
        return;
    }
    j->err_code = e.code ? e.code : DBP_EINTERNAL;
    if (snprintf(j->error, sizeof(j->error), "%s on %.64s: %.180s", j->parts[failed].type,
                 j->parts[failed].node, e.msg[0] ? e.msg : dbp_strerror(j->err_code)) >=
        (int)sizeof(j->error))
        j->error[sizeof(j->error) - 1] = '\0'; /* cut on purpose */
    if (needs_revert(j)) {
        do_revert(a, j); /* ends "failed" (err_code is set), or retries */
        return;
    }
    j->st = IST_FAILED;
    j->ended = dbp_wall_s();
    bump(a);
    journal_write(a, j);
}

/*
 * Lanes.  Applies and reverts run on separate pools of threads so that no
 * slow apply (too_many_indexes, a Kubernetes call at its client timeout)
 * delays another injection's expiry, a stop or the shutdown reverts:
 *   - apply lanes take pending injections, oldest first;
 *   - revert lanes take due reverts (expiry, stop, retry), oldest first,
 *     and at shutdown revert everything in place, in parallel;
 *   - one evidence lane measures evidence on a timer (readers only copy).
 * An injection is handled by one lane at a time (inj.busy), so its journal
 * writes cannot reorder and no lane frees a record another one uses.
 */

static struct inj *next_due(struct dbp_anomalies *a, double now, double *wake)
{
    struct inj *due = NULL;
    for (struct inj *j = a->list; j; j = j->next) {
        double t = 0;
        if (j->busy)
            continue;
        if (j->st == IST_ACTIVE)
            t = j->stop_req ? now : j->end;
        else if (j->st == IST_REVERTING)
            t = j->next_try;
        else
            continue;
        if (t <= now)
            due = j; /* the oldest first: the list is newest first */
        else if (t < *wake)
            *wake = t;
    }
    return due;
}

/* Leftovers of a previous process are reverted (tried once) before
 * anything new is applied. */
static bool recovering(const struct dbp_anomalies *a)
{
    for (const struct inj *j = a->list; j; j = j->next)
        if (j->recovered && j->st == IST_REVERTING && j->attempts == 0)
            return true;
    return false;
}

static struct inj *next_pending(struct dbp_anomalies *a)
{
    struct inj *p = NULL;
    if (recovering(a))
        return NULL;
    for (struct inj *j = a->list; j; j = j->next)
        if (j->st == IST_PENDING && !j->busy)
            p = j; /* oldest first */
    return p;
}

/* At shutdown: the next record that may still be in place (or is pending
 * and will never be applied), each tried once. */
static struct inj *next_shutdown(struct dbp_anomalies *a)
{
    struct inj *p = NULL;
    for (struct inj *j = a->list; j; j = j->next)
        if (!j->busy && !j->shut_tried &&
            (j->st == IST_PENDING || j->st == IST_ACTIVE ||
             (j->st == IST_REVERTING && needs_revert(j))))
            p = j;
    return p;
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (seconds < 0.001)
        seconds = 0.001;
    long ns = (long)((seconds - floor(seconds)) * 1e9);
    ts.tv_sec += (time_t)floor(seconds);
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(c, m, &ts);
}

/* Run fn on j as its only handler.  Lock held. */
static void handle(struct dbp_anomalies *a, struct inj *j,
                   void (*fn)(struct dbp_anomalies *, struct inj *))
{
    j->busy = true;
    fn(a, j);
    j->busy = false;
    /* another lane may be waiting for this record (a stop during an apply) */
    pthread_cond_broadcast(&a->wake);
}

static void apply_lane(struct dbp_anomalies *a)
{
    while (!a->stopping) {
        struct inj *j = next_pending(a);
        if (j)
            handle(a, j, do_apply);
        else
            timed_wait(&a->wake, &a->lock, 1.0);
    }
    a->apply_alive--;
    pthread_cond_broadcast(&a->wake);
}

static void shutdown_one(struct dbp_anomalies *a, struct inj *j)
{
    j->shut_tried = true;
    if (j->st == IST_PENDING) {
        j->st = IST_FAILED;
        j->ended = dbp_wall_s();
        dbp_strlcpy(j->error, "the daemon stopped before it was applied", sizeof(j->error));
        bump(a);
        journal_write(a, j);
        return;
    }
    j->attempts = REVERT_TRIES - 1; /* one try now; the next start retries */
    do_revert(a, j);
}

static void revert_lane(struct dbp_anomalies *a, int idx)
{
    double last_prune = dbp_wall_s();
    for (;;) {
        double now = dbp_wall_s(), wake = now + 1.0;
        struct inj *j = next_due(a, now, &wake);
        if (j) {
            handle(a, j, do_revert);
            continue;
        }
        if (a->stopping) {
            /* Nothing new is applied; everything in place is reverted once
             * (a failure stays in the journal for the next start).  Wait
             * for the apply lanes: what they finish applying is reverted
             * here too. */
            if ((j = next_shutdown(a))) {
                handle(a, j, shutdown_one);
                continue;
            }
            if (a->apply_alive == 0)
                break;
            timed_wait(&a->wake, &a->lock, 0.1);
            continue;
        }
        if (idx == 0 && now - last_prune > 30) {
            prune(a);
            last_prune = now;
        }
        /* Wall-clock deadlines, a monotonic wait of at most 1 s: a clock
         * step delays an expiry by at most a second. */
        timed_wait(&a->wake, &a->lock, fmin(1.0, wake - now));
    }
}

static void refresh_evidence(struct dbp_anomalies *a, const char *only);

static void evidence_lane(struct dbp_anomalies *a)
{
    while (!a->stopping) {
        pthread_mutex_unlock(&a->lock);
        refresh_evidence(a, NULL); /* rate-limited per record */
        pthread_mutex_lock(&a->lock);
        if (!a->stopping)
            timed_wait(&a->wake, &a->lock, EVIDENCE_TICK_S);
    }
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct dbp_anomalies *a = l->a;
    dbp_db_thread_init();
    pthread_mutex_lock(&a->lock);
    switch (l->kind) {
    case LANE_APPLY:
        apply_lane(a);
        break;
    case LANE_REVERT:
        revert_lane(a, l->idx);
        break;
    case LANE_EVIDENCE:
        evidence_lane(a);
        break;
    }
    pthread_mutex_unlock(&a->lock);
    dbp_db_thread_end();
    return NULL;
}

static int add_lane(struct dbp_anomalies *a, enum lane_kind kind, int idx)
{
    static const char *const pfx[] = {"dbp-anom-ap", "dbp-anom-rv", "dbp-anom-ev"};
    struct lane *l = &a->lanes[a->nlanes];
    l->a = a;
    l->kind = kind;
    l->idx = idx;
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0)
        return DBP_ENOMEM;
    char name[16];
    snprintf(name, sizeof(name), "%s%d", pfx[kind], idx);
    pthread_setname_np(l->thread, name);
    a->nlanes++;
    return 0;
}

int dbp_anomalies_start(struct dbp_anomalies *a, struct dbp_err *err)
{
    int rc = journal_load(a, err);
    if (rc)
        return rc;
    /* One lane of each kind per node (+1), so a node's slow call leaves
     * the others' lanes free. */
    int n = a->nnodes + 1 < 2 ? 2 : a->nnodes + 1 > MAX_LANES ? MAX_LANES : a->nnodes + 1;
    pthread_mutex_lock(&a->lock);
    a->started = true;
    for (int i = 0; i < n && !rc; i++) {
        rc = add_lane(a, LANE_REVERT, i);
        if (!rc && !(rc = add_lane(a, LANE_APPLY, i)))
            a->apply_alive++;
    }
    if (!rc)
        rc = add_lane(a, LANE_EVIDENCE, 0);
    pthread_mutex_unlock(&a->lock);
    if (rc) {
        dbp_anomalies_stop(a);
        return dbp_err_set(err, DBP_ENOMEM, "cannot create the anomaly lanes");
    }
    return 0;
}

void dbp_anomalies_stop(struct dbp_anomalies *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    bool join = a->started && !a->stopping;
    a->stopping = true;
    for (struct inj *j = a->list; j; j = j->next)
        atomic_store(&j->cancel, true); /* an apply in progress stops between steps */
    pthread_cond_broadcast(&a->wake);
    bump(a);
    pthread_mutex_unlock(&a->lock);
    if (join)
        for (int i = 0; i < a->nlanes; i++)
            pthread_join(a->lanes[i].thread, NULL);
}
void dbp_anomalies_free(struct dbp_anomalies *a)
{
    if (!a)
        return;
    dbp_anomalies_stop(a);
    for (int i = 0; i < EX_N; i++)
        if (a->have[i])
            exec_clear(&a->ex[i]);
    while (a->list) {
        struct inj *j = a->list;
        a->list = j->next;
        inj_free(j);
    }
    free(a->nodes);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->changed);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* ---- actions --------------------------------------------------------------- */

static bool live_conflict(struct dbp_anomalies *a, const char *type, const char *node,
                          const char **who)
{
    for (struct inj *j = a->list; j; j = j->next) {
        if (ended(j) && !needs_revert(j))
            continue;
        for (int i = 0; i < j->nparts; i++)
            if (strcmp(j->parts[i].type, type) == 0 && strcmp(j->parts[i].node, node) == 0 &&
                (!ended(j) || in_place(j->parts[i].st))) {
                *who = j->id;
                return true;
            }
    }
    return false;
}

/* Wait until pred(j) or the deadline; j is looked up again after every
 * wake-up (the worker may prune).  Lock held. */
static struct inj *wait_for(struct dbp_anomalies *a, const char *id, int wait_ms,
                            bool (*pred)(const struct inj *))
{
    uint64_t deadline = dbp_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000ull;
    struct inj *j;
    while ((j = find(a, id)) && !pred(j)) {
        uint64_t now = dbp_now_ns();
        if (now >= deadline)
            break;
        timed_wait(&a->changed, &a->lock, (double)(deadline - now) / 1e9);
    }
    return j;
}

/* Applied (and maybe already stopped), or failed: an injection whose apply
 * failed passes through "reverting" while its applied parts are undone. */
static bool settled(const struct inj *j)
{
    return j->st == IST_ACTIVE || ended(j) || (j->st == IST_REVERTING && j->start > 0);
}

static bool is_ended(const struct inj *j)
{
    return ended(j);
}

/* Order of application within a compound injection (reverts run
 * backwards): indexes are built while the cache is still full and dropped
 * after it is restored; sessions after the cache shrink; processes next;
 * the network last, so it degrades nothing the executor still needs. */
static int apply_rank(const struct part *p)
{
    if (!strcmp(p->type, "too_many_indexes"))
        return 0;
    if (!strcmp(p->type, "cache_bottleneck"))
        return 1;
    if (!strcmp(p->type, "network_bottleneck"))
        return 5;
    return types[p->tidx].cls == TC_SQL ? 2 : types[p->tidx].cls == TC_CLIENT ? 3 : 4;
}

int dbp_anomalies_inject(struct dbp_anomalies *a, const struct dbp_anomaly_req *req, int wait_ms,
                         cJSON **record, struct dbp_err *err)
{
    struct inj *j = NULL;
    int rc = 0;
    if (record)
        *record = NULL;
    if (req->nparts < 1)
        return dbp_err_set(err, DBP_ESCHEMA, "field 'type' is required");
    if (req->nparts > DBP_ANOMALY_MAX_PARTS)
        return dbp_err_set(err, DBP_ESCHEMA, "at most %d faults in one injection",
                           DBP_ANOMALY_MAX_PARTS);
    const char *sev0 = req->severity[0] ? req->severity : "medium";
    if (dbp_anomaly_severity_index(sev0) < 0)
        return dbp_err_set(err, DBP_ESCHEMA, "field 'severity' must be low, medium or high");
    int duration = req->duration_s ? req->duration_s : a->default_duration;
    if (duration < 1 || duration > a->max_duration)
        return dbp_err_set(err, DBP_ESCHEMA, "field 'duration' must be in 1..%d seconds",
                           a->max_duration);
    for (const char *c = req->name; *c; c++)
        if ((unsigned char)*c < 0x20)
            return dbp_err_set(err, DBP_ESCHEMA, "field 'experiment_name' has control characters");

    j = dbp_xcalloc(1, sizeof(*j));
    /* Checks that need no registry state, before the lock: types, nodes,
     * severities and which executor runs each part. */
    /* zeroed: rows of parts with an explicit node are swapped, never read */
    bool supported[DBP_ANOMALY_MAX_PARTS][DBP_MAX_NODES] = {{false}};
    int sup_exec[DBP_ANOMALY_MAX_PARTS][DBP_MAX_NODES] = {{0}};
    for (int i = 0; i < req->nparts; i++) {
        const struct dbp_anomaly_part_req *pr = &req->parts[i];
        struct part *p = &j->parts[i];
        p->tidx = dbp_anomaly_type_index(pr->type);
        if (p->tidx < 0) {
            char known[256] = "";
            for (size_t t = 0; t < NTYPES; t++)
                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                         t ? ", " : "", types[t].name);
            rc = dbp_err_set(err, DBP_ESCHEMA, "unknown anomaly type '%.40s' (known: %s)",
                             pr->type, known);
            goto out;
        }
        dbp_strlcpy(p->type, pr->type, sizeof(p->type));
        const char *sev = pr->severity[0] ? pr->severity : sev0;
        if (dbp_anomaly_severity_index(sev) < 0) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "field 'severity' must be low, medium or high");
            goto out;
        }
        dbp_strlcpy(p->severity, sev, sizeof(p->severity));
        char why[DBP_ERR_MSG_MAX];
        if (pr->node[0]) {
            const struct dbp_node_cfg *n = node_cfg(a, pr->node);
            if (!n) {
                rc = dbp_err_set(err, DBP_ENOTFOUND, "unknown node '%.64s'", pr->node);
                goto out;
            }
            dbp_strlcpy(p->node, n->name, sizeof(p->node));
            p->exec = pick_exec(a, p->tidx, n, why, sizeof(why));
            if (p->exec < 0) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "cannot run '%s' on node '%s': %s", p->type,
                                 n->name, why);
                goto out;
            }
        } else {
            int nsup = 0;
            for (int k = 0; k < a->nnodes; k++) {
                sup_exec[i][k] = pick_exec(a, p->tidx, &a->nodes[k], why, sizeof(why));
                supported[i][k] = sup_exec[i][k] >= 0;
                nsup += supported[i][k];
            }
            if (!nsup) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "no configured node can run '%s'%s%s",
                                 p->type, a->nnodes ? ": " : " (no nodes configured)",
                                 a->nnodes ? why : "");
                goto out;
            }
        }
    }
    j->nparts = req->nparts;
    /* SQL faults first, network faults last (see apply_rank). */
    for (int i = 1; i < j->nparts; i++)
        for (int k = i; k > 0 && apply_rank(&j->parts[k - 1]) > apply_rank(&j->parts[k]); k--) {
            struct part t = j->parts[k];
            bool sv[DBP_MAX_NODES];
            int se[DBP_MAX_NODES];
            j->parts[k] = j->parts[k - 1];
            j->parts[k - 1] = t;
            memcpy(sv, supported[k], sizeof(sv));
            memcpy(supported[k], supported[k - 1], sizeof(sv));
            memcpy(supported[k - 1], sv, sizeof(sv));
            memcpy(se, sup_exec[k], sizeof(se));
            memcpy(sup_exec[k], sup_exec[k - 1], sizeof(se));
            memcpy(sup_exec[k - 1], se, sizeof(se));
        }

    pthread_mutex_lock(&a->lock);
    if (a->stopping || !a->started) {
        rc = dbp_err_set(err, DBP_EUNAVAIL, "the fault registry is stopping");
        goto unlock;
    }
    for (int i = 0; i < j->nparts; i++) {
        struct part *p = &j->parts[i];
        const char *who = NULL;
        if (!p->node[0]) { /* no target: the next node (round robin) that is free for it */
            for (int k = 0; k < a->nnodes && !p->node[0]; k++) {
                int n = (int)((a->rr + (unsigned)k) % (unsigned)a->nnodes);
                bool taken = !supported[i][n] || live_conflict(a, p->type, a->nodes[n].name, &who);
                for (int q = 0; q < i && !taken; q++)
                    taken = strcmp(j->parts[q].type, p->type) == 0 &&
                            strcmp(j->parts[q].node, a->nodes[n].name) == 0;
                if (!taken) {
                    dbp_strlcpy(p->node, a->nodes[n].name, sizeof(p->node));
                    p->exec = sup_exec[i][n];
                    a->rr = (unsigned)n + 1;
                }
            }
            if (!p->node[0]) {
                rc = dbp_err_set(err, DBP_EBUSY, "'%s' is already active on every node that can "
                                 "run it", p->type);
                goto unlock;
            }
        }
        for (int q = 0; q < i; q++)
            if (strcmp(j->parts[q].type, p->type) == 0 && strcmp(j->parts[q].node, p->node) == 0) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "'%s' on node '%s' is listed twice", p->type,
                                 p->node);
                goto unlock;
            }
        if (live_conflict(a, p->type, p->node, &who)) {
            rc = dbp_err_set(err, DBP_EBUSY, "'%s' is already active on node '%s' (injection %s)",
                             p->type, p->node, who);
            goto unlock;
        }
        dbp_strlcpy(p->exec_name, dbp_anom_ex_names[p->exec], sizeof(p->exec_name));
        p->params = dbp_anomaly_params(p->type, p->severity, p->exec_name, a->ncpu);
        p->took_effect = -1;
    }
    if (req->name[0]) {
        for (struct inj *o = a->list; o; o = o->next)
            if (!ended(o) && strcmp(o->name, req->name) == 0) {
                rc = dbp_err_set(err, DBP_EBUSY, "an active injection is already named '%.64s' (%s)",
                                 req->name, o->id);
                goto unlock;
            }
    }
    do
        dbp_random_hex(j->id, DBP_ANOMALY_ID_LEN - 1);
    while (find(a, j->id));
    if (req->name[0])
        dbp_strlcpy(j->name, req->name, sizeof(j->name));
    else
        snprintf(j->name, sizeof(j->name), "dbp-%s-%.8s",
                 j->nparts == 1 ? j->parts[0].type : "compound", j->id);
    dbp_strlcpy(j->severity, sev0, sizeof(j->severity));
    j->duration_s = duration;
    j->created = dbp_wall_s();
    j->collect = req->collect_training_data;
    j->save_post = req->save_post_data;
    j->st = IST_PENDING;
    j->next = a->list;
    a->list = j;
    char id[DBP_ANOMALY_ID_LEN];
    dbp_strlcpy(id, j->id, sizeof(id));
    j = NULL; /* the registry owns it now */
    bump(a);
    pthread_cond_broadcast(&a->wake);

    struct inj *w = wait_for(a, id, wait_ms, settled);
    if (w && record)
        *record = record_json(w);
    if (w && w->st == IST_FAILED) {
        rc = dbp_err_set(err, w->err_code ? w->err_code : DBP_EINTERNAL, "injection %s failed: %s",
                         w->id, w->error);
    }
unlock:
    pthread_mutex_unlock(&a->lock);
out:
    if (j) {
        for (int i = 0; i < DBP_ANOMALY_MAX_PARTS; i++)
            cJSON_Delete(j->parts[i].params);
        free(j);
    }
    return rc;
}

int dbp_anomalies_stop_one(struct dbp_anomalies *a, const char *id_or_name, int wait_ms,
                           bool *stopped, cJSON **record, struct dbp_err *err)
{
    if (record)
        *record = NULL;
    if (stopped)
        *stopped = false;
    pthread_mutex_lock(&a->lock);
    struct inj *j = find(a, id_or_name);
    if (!j) {
        pthread_mutex_unlock(&a->lock);
        return dbp_err_set(err, DBP_ENOTFOUND, "no anomaly '%.64s'", id_or_name);
    }
    char id[DBP_ANOMALY_ID_LEN];
    dbp_strlcpy(id, j->id, sizeof(id));
    if (ended(j) && needs_revert(j)) {
        /* a revert that gave up: asking again retries it now */
        j->st = IST_REVERTING;
        j->attempts = 0;
        j->next_try = 0;
    }
    if (!ended(j)) {
        if (stopped)
            *stopped = true;
        if (!j->stop_req) {
            j->stop_req = true;
            atomic_store(&j->cancel, true);
            if (j->st == IST_REVERTING)
                j->next_try = 0; /* retry now */
            bump(a);
            pthread_cond_broadcast(&a->wake);
        }
        j = wait_for(a, id, wait_ms, is_ended);
    }
    if (j && record)
        *record = record_json(j);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

static bool has_type(const struct inj *j, const char *type)
{
    for (int i = 0; i < j->nparts; i++)
        if (strcmp(j->parts[i].type, type) == 0)
            return true;
    return false;
}

int dbp_anomalies_stop_all(struct dbp_anomalies *a, const char *type, int wait_ms, cJSON **ids,
                           cJSON **names)
{
    cJSON *il = cJSON_CreateArray(), *nl = cJSON_CreateArray();
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j; j = j->next) {
        if (type && !has_type(j, type))
            continue;
        if (ended(j) && needs_revert(j)) { /* a revert that gave up: retry it */
            j->st = IST_REVERTING;
            j->attempts = 0;
        } else if (ended(j)) {
            continue;
        }
        j->stop_req = true;
        atomic_store(&j->cancel, true);
        if (j->st == IST_REVERTING)
            j->next_try = 0;
        cJSON_AddItemToArray(il, cJSON_CreateString(j->id));
        cJSON_AddItemToArray(nl, cJSON_CreateString(j->name));
    }
    bump(a);
    pthread_cond_broadcast(&a->wake);
    uint64_t deadline = dbp_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000ull;
    for (;;) {
        bool left = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, il)
        {
            struct inj *j = find(a, it->valuestring);
            left |= j && !ended(j);
        }
        uint64_t now = dbp_now_ns();
        if (!left || now >= deadline)
            break;
        timed_wait(&a->changed, &a->lock, (double)(deadline - now) / 1e9);
    }
    pthread_mutex_unlock(&a->lock);
    if (ids)
        *ids = il;
    else
        cJSON_Delete(il);
    if (names)
        *names = nl;
    else
        cJSON_Delete(nl);
    return 0;
}

/* ---- evidence ---------------------------------------------------------------- */

static double mean_range(const double *ts, const double *v, size_t n, double lo, double hi,
                         size_t *cnt)
{
    double s = 0;
    *cnt = 0;
    for (size_t k = 0; k < n; k++)
        if (ts[k] >= lo && ts[k] < hi) {
            s += v[k];
            (*cnt)++;
        }
    return *cnt ? s / (double)*cnt : NAN;
}

/* The type's witness metric on the node: mean over the minute before the
 * start against the mean since (skipping the first 2 s of ramp). */
static cJSON *metric_evidence(struct dbp_collector *c, const struct type_def *t, const char *node,
                              double start, double until, int *moved)
{
    *moved = -1;
    if (!c || start <= 0)
        return NULL;
    for (int m = 0; m < 3 && t->metrics[m]; m++) {
        double *ts = NULL, *v = NULL, oldest;
        size_t n = 0, nb, nd;
        struct dbp_err e = {0};
        if (dbp_collector_history(c, node, NULL, t->metrics[m], start - BASELINE_S, until, &ts, &v,
                                  &n, &oldest, &e))
            continue;
        double before = mean_range(ts, v, n, start - BASELINE_S, start, &nb);
        double during = mean_range(ts, v, n, start + 2.0, until + 1.0, &nd);
        free(ts);
        free(v);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->metrics[m]);
        cJSON_AddStringToObject(o, "expected",
                                t->direction > 0 ? "up" : t->direction < 0 ? "down" : "any");
        if (nb && nd) {
            double change = during - before;
            double pct = before != 0 ? 100.0 * change / fabs(before) : (change != 0 ? 100.0 : 0);
            bool big = fabs(change) >= fmax(0.2 * fabs(before), 1e-9);
            cJSON_AddNumberToObject(o, "before", before);
            cJSON_AddNumberToObject(o, "during", during);
            cJSON_AddNumberToObject(o, "change_pct", round(pct * 10) / 10);
            cJSON_AddNumberToObject(o, "samples_before", (double)nb);
            cJSON_AddNumberToObject(o, "samples_during", (double)nd);
            if (t->direction)
                *moved = big && (change > 0) == (t->direction > 0);
            cJSON_AddBoolToObject(o, "moved", big);
        } else {
            cJSON_AddNullToObject(o, "before");
            cJSON_AddNullToObject(o, "during");
            cJSON_AddStringToObject(o, "note", "not enough collected samples yet");
        }
        return o;
    }
    return NULL;
}

struct ev_job {
    char id[DBP_ANOMALY_ID_LEN];
    int part, exec, tidx;
    char node[DBP_NAME_MAX];
    double start;
    cJSON *state;
    cJSON *out;
    int took;
};

/* Refresh the evidence of active injections (one id, or all when NULL). */
static void refresh_evidence(struct dbp_anomalies *a, const char *only)
{
    enum { MAXJ = 64 };
    struct ev_job *jobs = NULL;
    int nj = 0;
    double now = dbp_wall_s();
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j && nj < MAXJ; j = j->next) {
        if (j->st != IST_ACTIVE || now - j->evidence_at < EVIDENCE_EVERY_S)
            continue;
        if (only && strcmp(j->id, only) != 0 && strcmp(j->name, only) != 0)
            continue;
        j->evidence_at = now;
        for (int i = 0; i < j->nparts && nj < MAXJ; i++) {
            struct part *p = &j->parts[i];
            if (p->st != PST_APPLIED)
                continue;
            if (!jobs)
                jobs = dbp_xcalloc(MAXJ, sizeof(*jobs));
            struct ev_job *ej = &jobs[nj++];
            dbp_strlcpy(ej->id, j->id, sizeof(ej->id));
            dbp_strlcpy(ej->node, p->node, sizeof(ej->node));
            ej->part = i;
            ej->exec = p->exec;
            ej->tidx = p->tidx;
            ej->start = p->applied_at;
            ej->state = p->state ? cJSON_Duplicate(p->state, 1) : NULL;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (!nj)
        return;

    for (int k = 0; k < nj; k++) {
        struct ev_job *ej = &jobs[k];
        struct dbp_executor *ex = ej->exec >= 0 && a->have[ej->exec] ? &a->ex[ej->exec] : NULL;
        cJSON *xe = ex && ex->evidence && ej->state ? ex->evidence(ex->ctx, ej->state) : NULL;
        int moved = -1;
        cJSON *me = ej->tidx >= 0 ? metric_evidence(a->collector, &types[ej->tidx], ej->node,
                                                    ej->start, now, &moved)
                                  : NULL;
        ej->took = -1;
        /* "ok" (local, sql) or "took_effect" (chaosmesh): the executor's verdict */
        const cJSON *ok = xe ? cJSON_GetObjectItemCaseSensitive(xe, "ok") : NULL;
        if (xe && !cJSON_IsBool(ok))
            ok = cJSON_GetObjectItemCaseSensitive(xe, "took_effect");
        if (cJSON_IsBool(ok))
            ej->took = cJSON_IsTrue(ok); /* the executor measured the fault itself */
        else if (moved >= 0)
            ej->took = moved;
        if (xe || me) {
            ej->out = cJSON_CreateObject();
            cJSON_AddItemToObject(ej->out, "executor", xe ? xe : cJSON_CreateNull());
            cJSON_AddItemToObject(ej->out, "metric", me ? me : cJSON_CreateNull());
            char iso[40];
            dbp_iso8601(now, iso, sizeof(iso));
            cJSON_AddStringToObject(ej->out, "measured_at", iso);
        }
        cJSON_Delete(ej->state);
    }

    pthread_mutex_lock(&a->lock);
    for (int k = 0; k < nj; k++) {
        struct inj *j = find(a, jobs[k].id);
        if (j && jobs[k].out && jobs[k].part < j->nparts) {
            struct part *p = &j->parts[jobs[k].part];
            cJSON_Delete(p->evidence);
            p->evidence = jobs[k].out;
            p->took_effect = jobs[k].took;
            jobs[k].out = NULL;
        }
        cJSON_Delete(jobs[k].out);
    }
    pthread_mutex_unlock(&a->lock);
    free(jobs);
}

/* ---- reads ------------------------------------------------------------------- */

/* Readers copy: evidence is measured by the evidence lane (M3), never on
 * the caller's (HTTP or SSE) thread. */
cJSON *dbp_anomalies_get_json(struct dbp_anomalies *a, const char *id_or_name)
{
    pthread_mutex_lock(&a->lock);
    struct inj *j = find(a, id_or_name);
    cJSON *o = j ? record_json(j) : NULL;
    pthread_mutex_unlock(&a->lock);
    return o;
}

cJSON *dbp_anomalies_list_json(struct dbp_anomalies *a, bool active_only)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j; j = j->next)
        if (!active_only || !ended(j))
            cJSON_AddItemToArray(arr, record_json(j));
    pthread_mutex_unlock(&a->lock);
    return arr;
}

static cJSON *severity_table(int t, bool ref, int ncpu)
{
    cJSON *o = cJSON_CreateObject();
    for (int s = 0; s < 3; s++) {
        cJSON *row = dbp_anomaly_params(types[t].name, sev_names[s], ref ? "chaosmesh" : "local",
                                        ncpu);
        cJSON_AddItemToObject(o, sev_names[s], row ? row : cJSON_CreateNull());
    }
    return o;
}

cJSON *dbp_anomalies_types_json(struct dbp_anomalies *a)
{
    static const char *const cls_names[] = {"host", "sql", "client"};
    cJSON *arr = cJSON_CreateArray();
    for (size_t t = 0; t < NTYPES; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", types[t].name);
        cJSON_AddStringToObject(o, "description", types[t].description);
        cJSON_AddStringToObject(o, "category", types[t].category);
        cJSON_AddStringToObject(o, "kind", cls_names[types[t].cls]);
        cJSON_AddNumberToObject(o, "default_duration_s", a->default_duration);
        cJSON_AddNumberToObject(o, "max_duration_s", a->max_duration);
        cJSON_AddItemToObject(o, "severities", severity_table((int)t, false, a->ncpu));
        if (types[t].ref[0][0].key)
            cJSON_AddItemToObject(o, "reference_severities", severity_table((int)t, true, a->ncpu));
        cJSON *exl = cJSON_AddArrayToObject(o, "executors");
        for (int e = 0; e < EX_N; e++) {
            cJSON *eo = cJSON_CreateObject();
            cJSON_AddStringToObject(eo, "name", dbp_anom_ex_names[e]);
            cJSON_AddBoolToObject(eo, "available", a->have[e]);
            if (!a->have[e])
                cJSON_AddStringToObject(eo, "reason", a->ex_why[e]);
            cJSON *ok = cJSON_AddArrayToObject(eo, "nodes");
            cJSON *no = cJSON_AddObjectToObject(eo, "unsupported");
            for (int k = 0; a->have[e] && k < a->nnodes; k++) {
                char why[DBP_ERR_MSG_MAX] = "";
                if (!a->ex[e].supports ||
                    a->ex[e].supports(a->ex[e].ctx, types[t].name, &a->nodes[k], why, sizeof(why)))
                    cJSON_AddItemToArray(ok, cJSON_CreateString(a->nodes[k].name));
                else
                    cJSON_AddStringToObject(no, a->nodes[k].name, why[0] ? why : "not supported");
            }
            cJSON_AddItemToArray(exl, eo);
        }
        /* What an injection would use on each node, as configured now. */
        cJSON *pick = cJSON_AddObjectToObject(o, "nodes");
        for (int k = 0; k < a->nnodes; k++) {
            char why[DBP_ERR_MSG_MAX];
            int e = pick_exec(a, (int)t, &a->nodes[k], why, sizeof(why));
            cJSON *no = cJSON_AddObjectToObject(pick, a->nodes[k].name);
            cJSON_AddBoolToObject(no, "supported", e >= 0);
            if (e >= 0)
                cJSON_AddStringToObject(no, "executor", dbp_anom_ex_names[e]);
            else
                cJSON_AddStringToObject(no, "reason", why);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *dbp_anomalies_nodes_json(struct dbp_anomalies *a)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < a->nnodes; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(a->nodes[i].name));
    return arr;
}

int dbp_anomalies_snapshot(struct dbp_anomalies *a, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j; j = j->next) {
        cJSON *o = cJSON_CreateObject(), *tl = cJSON_CreateArray(), *nl = cJSON_CreateArray();
        cJSON *pl = cJSON_CreateArray();
        for (int i = 0; i < j->nparts; i++) {
            const struct part *p = &j->parts[i];
            bool dt = false, dn = false;
            for (int k = 0; k < i; k++) {
                dt |= strcmp(j->parts[k].type, p->type) == 0;
                dn |= strcmp(j->parts[k].node, p->node) == 0;
            }
            if (!dt)
                cJSON_AddItemToArray(tl, cJSON_CreateString(p->type));
            if (!dn)
                cJSON_AddItemToArray(nl, cJSON_CreateString(p->node));
            cJSON *po = cJSON_CreateObject();
            cJSON_AddStringToObject(po, "type", p->type);
            cJSON_AddStringToObject(po, "node", p->node);
            cJSON_AddStringToObject(po, "severity", p->severity);
            cJSON_AddStringToObject(po, "status", dbp_anom_pst_names[p->st]);
            cJSON_AddItemToArray(pl, po);
        }
        cJSON_AddStringToObject(o, "id", j->id);
        cJSON_AddStringToObject(o, "name", j->name);
        cJSON_AddStringToObject(o, "type",
                                cJSON_GetArraySize(tl) == 1 ? cJSON_GetArrayItem(tl, 0)->valuestring
                                                            : "compound");
        cJSON_AddItemToObject(o, "types", tl);
        cJSON_AddItemToObject(o, "nodes", nl);
        cJSON_AddItemToObject(o, "parts", pl);
        cJSON_AddStringToObject(o, "severity", j->severity);
        if (j->start > 0)
            cJSON_AddNumberToObject(o, "start", j->start);
        else
            cJSON_AddNullToObject(o, "start");
        double end = ended(j) ? j->ended : j->end;
        if (end > 0)
            cJSON_AddNumberToObject(o, "end", end);
        else
            cJSON_AddNullToObject(o, "end");
        cJSON_AddStringToObject(o, "status", dbp_anom_ist_names[j->st]);
        cJSON_AddBoolToObject(o, "collect_training_data", j->collect);
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&a->lock);
    *out = arr;
    return 0;
}

unsigned long dbp_anomalies_version(struct dbp_anomalies *a)
{
    pthread_mutex_lock(&a->lock);
    unsigned long v = a->version;
    pthread_mutex_unlock(&a->lock);
    return v;
}

unsigned long dbp_anomalies_wait_change(struct dbp_anomalies *a, unsigned long seen,
                                        int timeout_ms)
{
    pthread_mutex_lock(&a->lock);
    uint64_t deadline = dbp_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
    while (a->version == seen && !a->stopping) {
        uint64_t now = dbp_now_ns();
        if (now >= deadline)
            break;
        timed_wait(&a->changed, &a->lock, (double)(deadline - now) / 1e9);
    }
    unsigned long v = a->version;
    pthread_mutex_unlock(&a->lock);
    return v;
}

int dbp_anomalies_render_prom(void *cls, struct dbp_buf *out)
{
    struct dbp_anomalies *a = cls;
    int rc = dbp_buf_puts(out, "# HELP dbpecker_anomaly_active 1 while an injected fault is in "
                               "place on a node; 0 for a few minutes after its revert.\n"
                               "# TYPE dbpecker_anomaly_active gauge\n");
    double now = dbp_wall_s();
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j && !rc; j = j->next) {
        for (int i = 0; i < j->nparts && !rc; i++) {
            const struct part *p = &j->parts[i];
            int v;
            if (p->st == PST_APPLIED || p->st == PST_REVERTING || p->st == PST_REVERT_FAILED)
                v = 1;
            else if (p->st == PST_REVERTED && now - p->reverted_at < PROM_KEEP_S)
                v = 0;
            else
                continue;
            rc |= dbp_buf_puts(out, "dbpecker_anomaly_active{type=\"");
            rc |= dbp_prom_escape(out, p->type);
            rc |= dbp_buf_puts(out, "\",node=\"");
            rc |= dbp_prom_escape(out, p->node);
            rc |= dbp_buf_printf(out, "\",id=\"%s\"} %d\n", j->id, v);
        }
    }
    /* The planned end of what is in place, so an alert can tell "past its
     * plan" exactly (config/prometheus: DbpeckerFaultActiveTooLong). */
    rc |= dbp_buf_puts(out, "# HELP dbpecker_anomaly_planned_end_timestamp_seconds Unix time at "
                            "which a fault in place is due to be reverted.\n"
                            "# TYPE dbpecker_anomaly_planned_end_timestamp_seconds gauge\n");
    for (struct inj *j = a->list; j && !rc; j = j->next) {
        if (j->end <= 0)
            continue;
        for (int i = 0; i < j->nparts && !rc; i++) {
            const struct part *p = &j->parts[i];
            if (p->st != PST_APPLIED && p->st != PST_REVERTING && p->st != PST_REVERT_FAILED)
                continue;
            rc |= dbp_buf_puts(out, "dbpecker_anomaly_planned_end_timestamp_seconds{type=\"");
            rc |= dbp_prom_escape(out, p->type);
            rc |= dbp_buf_puts(out, "\",node=\"");
            rc |= dbp_prom_escape(out, p->node);
            rc |= dbp_buf_printf(out, "\",id=\"%s\"} %.0f\n", j->id, j->end);
        }
    }
    rc |= dbp_buf_puts(out, "# HELP dbpecker_anomaly_injections_total Fault applies and reverts "
                            "by type and result since the daemon started.\n"
                            "# TYPE dbpecker_anomaly_injections_total counter\n");
    for (size_t t = 0; t < NTYPES && !rc; t++)
        for (int r = 0; r < R_N && !rc; r++)
            rc |= dbp_buf_printf(out, "dbpecker_anomaly_injections_total{type=\"%s\",result=\"%s\"} "
                                      "%lu\n",
                                 types[t].name, result_names[r], a->counts[t][r]);
    pthread_mutex_unlock(&a->lock);
    return rc ? DBP_ETOOBIG : 0;
}

const char *dbp_anomalies_state(void *cls, char *detail, size_t detailsz)
{
    struct dbp_anomalies *a = cls;
    int active = 0, stuck = 0;
    pthread_mutex_lock(&a->lock);
    for (struct inj *j = a->list; j; j = j->next) {
        active += !ended(j);
        stuck += needs_revert(j) && (j->st == IST_FAILED || j->attempts > 0);
    }
    bool stopping = a->stopping, started = a->started;
    pthread_mutex_unlock(&a->lock);
    char ex[96] = "";
    for (int e = 0; e < EX_N; e++)
        if (a->have[e])
            snprintf(ex + strlen(ex), sizeof(ex) - strlen(ex), "%s%s", ex[0] ? "," : "",
                     dbp_anom_ex_names[e]);
    snprintf(detail, detailsz, "%d active; executors: %s%s", active, ex[0] ? ex : "none",
             stuck ? "; a revert keeps failing (see GET /api/anomaly/anomalies)" : "");
    if (!started || stopping)
        return "stopped";
    return stuck ? "degraded" : "running";
}
