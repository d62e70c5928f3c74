/*
 * exec_sql.c - the SQL executor (fault.h): faults made with SQL on the node
 * itself, over the daemon's own account (database.user).
 *
 *   cache_bottleneck   MariaDB/MySQL: SET GLOBAL innodb_buffer_pool_size to
 *                      a fraction of the current size (the old size is in
 *                      the state and restored); OceanBase: ALTER SYSTEM SET
 *                      memstore_limit_percentage = N ZONE = '<zone>', restored
 *                      with 0 (the default);
 *   too_many_indexes   CREATE INDEX dbpf_<id8>_<column> for the columns of
 *                      reference §3.3 on the tables that exist (sbtest1..10,
 *                      TPC-C); on Galera in RSU mode, so only the target node
 *                      gets them; reverted by DROP INDEX of exactly those
 *                      names (found again by their prefix after a crash);
 *   lock_contention    connections each holding SELECT ... FOR UPDATE on a
 *                      range of the lowest ids of sbtest.sbtest1 in an open
 *                      transaction, re-taken when Galera aborts them;
 *   connection_storm   many idle connections, at most max_connections minus
 *                      the open ones minus a headroom.
 *
 * DESIGN
 * apply/revert open a connection for the call (they run on the registry's
 * worker, which has done mysql_thread_init).  Sessions that must outlive
 * apply() (lock holders, the storm) belong to a holder thread of this
 * executor, one per fault, keyed by "<id>-<type>-<node>"; revert() stops
 * and joins it (ROLLBACK, close).  Those sessions live in this process:
 * when the daemon dies the server closes them and rolls their transactions
 * back, so a revert after a crash finds nothing to do - that is correct,
 * not a gap.  Identifiers are quoted with dbp_db_quote_ident, the zone
 * with dbp_db_quote_string after a [A-Za-z0-9_] check, numbers are
 * formatted from validated integers: no request text reaches SQL.
 * x->lock guards the holder list; each holder has its own lock for its
 * counters (leaf locks, never nested).
 */
#define _GNU_SOURCE
#include "dbp/config.h"
#include "dbp/db.h"
#include "dbp/fault.h"
#include "dbp/log.h"
#include "dbp/util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MOD "exec-sql"
#define KEY_MAX 128
#define MAX_INDEXES 128
#define DDL_TIMEOUT_S 120
/* too_many_indexes: one CREATE INDEX may take at most INDEX_DDL_S (the read
 * timeout of its connection, lock waits included) and the whole apply at
 * most INDEX_BUDGET_S; a stop request is honoured between statements.  So
 * an apply never holds its lane (or a shutdown) for longer than about
 * INDEX_DDL_S after a stop, nor runs unbounded (128 x 120 s before). */
#define INDEX_DDL_S 20
#define INDEX_BUDGET_S 90
#define READY_WAIT_MS 15000

enum hkind { H_LOCKS, H_CONNS };

struct holder {
    struct holder *next;
    char key[KEY_MAX];
    enum hkind kind;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, ready;
    int target, rows_per;
    int open, locked;
    long reacquired;
    char error[DBP_ERR_MSG_MAX];
    char host[DBP_HOST_MAX], user[DBP_NAME_MAX], password[DBP_SECRET_MAX];
    int port, connect_timeout_s;
};

struct sctx {
    struct dbp_node_cfg *nodes;
    int nnodes;
    char user[DBP_NAME_MAX], password[DBP_SECRET_MAX];
    bool oceanbase;
    int connect_timeout_s;
    pthread_mutex_t lock;
    struct holder *holders;
};

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

static bool zone_ok(const char *z)
{
    if (!*z || strlen(z) > 63)
        return false;
    for (; *z; z++)
        if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') || (*z >= '0' && *z <= '9') ||
              *z == '_'))
            return false;
    return true;
}

static const struct dbp_node_cfg *find_node(const struct sctx *x, const char *name)
{
    for (int i = 0; name && i < x->nnodes; i++)
        if (strcmp(x->nodes[i].name, name) == 0)
            return &x->nodes[i];
    return NULL;
}

static void make_key(const char *id, const char *type, const char *node, char *out, size_t outsz)
{
    snprintf(out, outsz, "%.16s-%s-%s", id, type, node);
}

static struct dbp_db *connect_to(const struct sctx *x, const char *host, int port, int read_s,
                                 struct dbp_err *err)
{
    struct dbp_db_opts o = {.host = host, .port = port, .user = x->user, .password = x->password,
                            .database = "", .connect_timeout_s = x->connect_timeout_s,
                            .read_timeout_s = read_s};
    struct dbp_db *db = dbp_db_new(&o);
    if (dbp_db_ensure(db, err)) {
        dbp_db_free(db);
        return NULL;
    }
    return db;
}

static bool s_supports(void *ctx, const char *type, const struct dbp_node_cfg *n, char *why,
                       size_t wsz)
{
    struct sctx *x = ctx;
    if (strcmp(type, "cache_bottleneck") && strcmp(type, "too_many_indexes") &&
        strcmp(type, "lock_contention") && strcmp(type, "connection_storm")) {
        snprintf(why, wsz, "the sql executor does not run '%s'", type);
        return false;
    }
    if (!n->host[0] || n->port <= 0) {
        snprintf(why, wsz, "node '%s' has no host:port", n->name);
        return false;
    }
    if (x->oceanbase && !strcmp(type, "cache_bottleneck") && !zone_ok(n->zone)) {
        snprintf(why, wsz, "node '%s' has no valid OceanBase zone ([A-Za-z0-9_]+) configured",
                 n->name);
        return false;
    }
    return true;
}

static void add_conn(cJSON *s, const struct dbp_node_cfg *n)
{
    cJSON_AddStringToObject(s, "node", n->name);
    cJSON_AddStringToObject(s, "host", n->host);
    cJSON_AddNumberToObject(s, "port", n->port);
}

/* host/port of a state, else of the configured node it names. */
static bool state_target(const struct sctx *x, const cJSON *s, const char **host, int *port)
{
    *host = jstr(s, "host");
    *port = (int)jnum(s, "port", 0);
    if (*host && *port > 0)
        return true;
    const struct dbp_node_cfg *n = find_node(x, jstr(s, "node"));
    if (!n)
        return false;
    *host = n->host;
    *port = n->port;
    return true;
}

/* ---- cache_bottleneck ------------------------------------------------------- */

static int get_u64(struct dbp_db *db, const char *sql, unsigned long long *out, struct dbp_err *err)
{
    char buf[64];
    int rc = dbp_db_scalar(db, sql, buf, sizeof(buf), err);
    if (rc)
        return rc;
    char *end;
    *out = strtoull(buf, &end, 10);
    if (end == buf)
        return dbp_err_set(err, DBP_EDB, "not a number: '%.40s'", buf);
    return 0;
}

/* Set the buffer pool size and wait (bounded) for the resize to finish;
 * *actual = the size the server reports afterwards. */
static int set_pool(struct dbp_db *db, unsigned long long bytes, unsigned long long *actual,
                    struct dbp_err *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SET GLOBAL innodb_buffer_pool_size = %llu", bytes);
    int rc = dbp_db_exec(db, sql, NULL, err);
    if (rc)
        return rc;
    /* Older servers resize in the background; newer ones before returning. */
    for (int i = 0; i < 60; i++) {
        char st[256] = "";
        if (dbp_db_scalar(db,
                          "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                          "WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_RESIZE_STATUS'",
                          st, sizeof(st), NULL) != 0 ||
            !st[0] || strstr(st, "ompleted") || strstr(st, "finished"))
            break;
        usleep(250 * 1000);
    }
    return get_u64(db, "SELECT @@GLOBAL.innodb_buffer_pool_size", actual, err);
}

static int apply_cache(struct sctx *x, const struct dbp_fault_spec *sp, cJSON **state,
                       struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    int rc;
    struct dbp_db *db = connect_to(x, n->host, n->port, DDL_TIMEOUT_S, err);
    if (!db)
        return err ? err->code : DBP_EDB;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", sp->type);
    add_conn(s, n);
    if (x->oceanbase) {
        int pct = (int)jnum(sp->params, "memstore_limit_percentage", 0);
        char zone[160], sql[256];
        if (pct < 1 || pct > 99 || !zone_ok(n->zone)) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "need memstore_limit_percentage 1..99 and a zone");
            goto fail;
        }
        if ((rc = dbp_db_quote_string(db, n->zone, zone, sizeof(zone)))) {
            dbp_err_set(err, rc, "cannot quote the zone");
            goto fail;
        }
        snprintf(sql, sizeof(sql), "ALTER SYSTEM SET memstore_limit_percentage = %d ZONE = %s",
                 pct, zone);
        if ((rc = dbp_db_exec(db, sql, NULL, err)))
            goto fail;
        cJSON_AddStringToObject(s, "kind", "memstore");
        cJSON_AddStringToObject(s, "zone", n->zone);
        cJSON_AddNumberToObject(s, "memstore_limit_percentage", pct);
    } else {
        double f = jnum(sp->params, "buffer_pool_fraction", 0);
        unsigned long long old = 0, actual = 0;
        if (!(f > 0 && f < 1)) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "buffer_pool_fraction must be in (0, 1)");
            goto fail;
        }
        if ((rc = get_u64(db, "SELECT @@GLOBAL.innodb_buffer_pool_size", &old, err)))
            goto fail;
        unsigned long long mib = 1ull << 20;
        unsigned long long want = (unsigned long long)((double)old * f) / mib * mib;
        /* A floor of 32 MiB: shrinking a Galera node's pool to 16 MiB under a
         * write load made a replicated write set fail during the resize
         * (HA_ERR_LOCK_TABLE_FULL: the lock table lives in the pool) and the
         * cluster voted the node out - a fault that outlives its revert.
         * Seen on the lab with the 128 MiB pool at severity high. */
        if (want < 32 * mib)
            want = 32 * mib;
        if (want >= old) {
            rc = dbp_err_set(err, DBP_EBUSY, "innodb_buffer_pool_size is already %llu MiB",
                             old / mib);
            goto fail;
        }
        cJSON_AddStringToObject(s, "kind", "bufpool");
        cJSON_AddNumberToObject(s, "old_bytes", (double)old);
        cJSON_AddNumberToObject(s, "new_bytes", (double)want);
        if ((rc = set_pool(db, want, &actual, err))) {
            struct dbp_err e2 = {0};
            set_pool(db, old, &actual, &e2); /* leave nothing half-made */
            goto fail;
        }
        cJSON_AddNumberToObject(s, "actual_bytes", (double)actual);
    }
    dbp_db_free(db);
    *state = s;
    return 0;
fail:
    cJSON_Delete(s);
    dbp_db_free(db);
    return rc;
}

static int revert_cache(struct sctx *x, const cJSON *s, bool intent, struct dbp_err *err)
{
    const char *host;
    int port, rc = 0;
    if (!state_target(x, s, &host, &port))
        return dbp_err_set(err, DBP_ENOTFOUND, "node '%s' is no longer configured",
                           jstr(s, "node") ? jstr(s, "node") : "?");
    struct dbp_db *db = connect_to(x, host, port, DDL_TIMEOUT_S, err);
    if (!db)
        return err ? err->code : DBP_EDB;
    const char *kind = jstr(s, "kind");
    if (x->oceanbase || (kind && !strcmp(kind, "memstore"))) {
        const char *z = jstr(s, "zone");
        const struct dbp_node_cfg *n = find_node(x, jstr(s, "node"));
        if (!z && n)
            z = n->zone;
        char zone[160], sql[256];
        if (!z || !zone_ok(z) || dbp_db_quote_string(db, z, zone, sizeof(zone))) {
            rc = dbp_err_set(err, DBP_EINVAL, "no valid zone to restore");
        } else {
            snprintf(sql, sizeof(sql), "ALTER SYSTEM SET memstore_limit_percentage = 0 ZONE = %s",
                     zone);
            rc = dbp_db_exec(db, sql, NULL, err);
        }
    } else if (!intent) {
        unsigned long long old = (unsigned long long)jnum(s, "old_bytes", 0), cur = 0;
        if (old < (8ull << 20)) {
            rc = dbp_err_set(err, DBP_EINVAL, "no previous buffer pool size in the state");
        } else if (!(rc = get_u64(db, "SELECT @@GLOBAL.innodb_buffer_pool_size", &cur, err)) &&
                   cur != old) {
            rc = set_pool(db, old, &cur, err);
            if (!rc && cur != old)
                rc = dbp_err_set(err, DBP_EDB, "innodb_buffer_pool_size is %llu, not %llu", cur,
                                 old);
        }
    } else {
        /*
         * Crashed between SET GLOBAL and the journal write: the old size
         * was never recorded.  If the running value came from SQL (not the
         * config file), put back the server's default, which is also the
         * lab's configured value; otherwise nothing was changed.
         */
        char origin[32] = "", def[32] = "";
        struct dbp_err e2 = {0};
        if (!dbp_db_scalar(db,
                           "SELECT GLOBAL_VALUE_ORIGIN FROM information_schema.SYSTEM_VARIABLES "
                           "WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_SIZE'",
                           origin, sizeof(origin), &e2) &&
            !strcmp(origin, "SQL") &&
            !dbp_db_scalar(db,
                           "SELECT DEFAULT_VALUE FROM information_schema.SYSTEM_VARIABLES "
                           "WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_SIZE'",
                           def, sizeof(def), &e2)) {
            unsigned long long d = strtoull(def, NULL, 10), cur = 0;
            if (d >= (8ull << 20)) {
                rc = set_pool(db, d, &cur, err);
                DBP_WARN(MOD, "innodb_buffer_pool_size on %s:%d restored to the server default "
                         "%llu (the previous value was not journaled)", host, port, d);
            }
        }
    }
    dbp_db_free(db);
    return rc;
}

/* ---- too_many_indexes ---------------------------------------------------------- */

/* Reference §3.3, in its order; sbtest1..10 get k, c, pad. */
static const struct idx_plan {
    const char *table;
    const char *cols[6];
} tpcc_plan[] = {
    {"customer", {"c_w_id", "c_d_id", "c_last", "c_first", "c_balance", NULL}},
    {"district", {"d_w_id", "d_name", "d_street_1", NULL}},
    {"history", {"h_c_id", "h_d_id", "h_w_id", NULL}},
    {"item", {"i_name", "i_price", "i_data", NULL}},
    {"new_orders", {"no_w_id", "no_d_id", NULL}},
    {"order_line", {"ol_w_id", "ol_d_id", "ol_i_id", "ol_delivery_d", NULL}},
    {"orders", {"o_w_id", "o_d_id", "o_c_id", "o_entry_d", NULL}},
    {"stock", {"s_w_id", "s_i_id", "s_quantity", NULL}},
    {"warehouse", {"w_name", "w_street_1", NULL}},
};
static const char *const sb_cols[] = {"k", "c", "pad", NULL};

struct colset {
    char (*names)[160]; /* "schema.table.column" */
    int n, cap;
};

static int col_row(void *ud, int ncols, char **v, unsigned long *lens)
{
    struct colset *cs = ud;
    (void)lens;
    if (ncols < 3 || !v[0] || !v[1] || !v[2] || cs->n >= 20000)
        return 0;
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 256;
        cs->names = dbp_xrealloc(cs->names, (size_t)cs->cap * sizeof(*cs->names));
    }
    snprintf(cs->names[cs->n++], sizeof(cs->names[0]), "%s.%s.%s", v[0], v[1], v[2]);
    return 0;
}

static bool col_exists(const struct colset *cs, const char *schema, const char *table,
                       const char *col)
{
    char k[160];
    snprintf(k, sizeof(k), "%s.%s.%s", schema, table, col);
    for (int i = 0; i < cs->n; i++)
        if (strcmp(cs->names[i], k) == 0)
            return true;
    return false;
}

static void index_prefix(const char *id, char *out, size_t outsz)
{
    snprintf(out, outsz, "dbpf_%.8s_", id);
}

/* Galera: make DDL of this session local to the node (Rolling Schema Upgrade). */
static bool use_rsu(struct dbp_db *db)
{
    char on[16] = "";
    struct dbp_err e = {0};
    if (dbp_db_scalar(db, "SELECT @@wsrep_on", on, sizeof(on), &e) || strcmp(on, "1") != 0)
        return false;
    return dbp_db_exec(db, "SET SESSION wsrep_OSU_method = 'RSU'", NULL, &e) == 0;
}

static int drop_index(struct dbp_db *db, const char *schema, const char *table, const char *name,
                      struct dbp_err *err)
{
    char qs[160], qt[160], qn[160], sql[600];
    if (dbp_db_quote_ident(schema, qs, sizeof(qs)) || dbp_db_quote_ident(table, qt, sizeof(qt)) ||
        dbp_db_quote_ident(name, qn, sizeof(qn)))
        return dbp_err_set(err, DBP_EINVAL, "unusable index name");
    snprintf(sql, sizeof(sql), "DROP INDEX %s ON %s.%s", qn, qs, qt);
    int rc = dbp_db_exec(db, sql, NULL, err);
    unsigned e = dbp_db_errno(db);
    /* gone already (1091), or its table or schema is (1146, 1049): fine */
    if (rc && (e == 1091 || e == 1146 || e == 1049))
        rc = 0;
    return rc;
}

struct idx_ud {
    char (*rows)[3][96];
    int n, cap;
};

static int idx_row(void *ud, int ncols, char **v, unsigned long *lens)
{
    struct idx_ud *u = ud;
    (void)lens;
    if (ncols < 3 || !v[0] || !v[1] || !v[2] || u->n >= 4096)
        return 0;
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->rows = dbp_xrealloc(u->rows, (size_t)u->cap * sizeof(*u->rows));
    }
    for (int i = 0; i < 3; i++)
        dbp_strlcpy(u->rows[u->n][i], v[i], sizeof(u->rows[0][0]));
    u->n++;
    return 0;
}

/* Drop every index named <prefix>... on the benchmark schemas; *left gets
 * how many remain afterwards. */
static int drop_by_prefix(struct dbp_db *db, const char *prefix, int *left, struct dbp_err *err)
{
    char sql[512];
    struct idx_ud u = {0};
    /* prefix is dbpf_<8 hex>_: '_' must be escaped for LIKE */
    char like[64];
    size_t k = 0;
    for (const char *p = prefix; *p && k + 3 < sizeof(like); p++) {
        if (*p == '_')
            like[k++] = '\\';
        like[k++] = *p;
    }
    like[k] = '\0';
    snprintf(sql, sizeof(sql),
             "SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS "
             "WHERE TABLE_SCHEMA IN ('sbtest', 'tpcc') AND INDEX_NAME LIKE '%s%%'",
             like);
    int rc = dbp_db_query(db, sql, idx_row, &u, err);
    int failed = 0;
    for (int i = 0; !rc && i < u.n; i++)
        if (drop_index(db, u.rows[i][0], u.rows[i][1], u.rows[i][2], err))
            failed++;
    free(u.rows);
    if (left)
        *left = failed;
    return rc;
}

static int apply_indexes(struct sctx *x, const struct dbp_fault_spec *sp, cJSON **state,
                         struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    struct colset cs = {0};
    char prefix[32];
    int per = (int)jnum(sp->params, "columns_per_table", 0), rc, made = 0, skipped = 0;
    bool cut = false, stopped = false;
    uint64_t deadline = dbp_now_ns() + (uint64_t)INDEX_BUDGET_S * 1000000000ull;
    struct dbp_db *db = connect_to(x, n->host, n->port, INDEX_DDL_S, err);
    if (!db)
        return err ? err->code : DBP_EDB;
    bool rsu = use_rsu(db);
    struct dbp_err e = {0};
    /* A lock holder on the same table must not make the DDL wait for hours. */
    dbp_db_exec(db, "SET SESSION lock_wait_timeout = 15", NULL, &e);
    rc = dbp_db_query(db,
                      "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                      "WHERE TABLE_SCHEMA IN ('sbtest', 'tpcc')",
                      col_row, &cs, err);
    if (rc)
        goto out;
    index_prefix(sp->id, prefix, sizeof(prefix));
    cJSON *s = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(s, "kind", "indexes");
    cJSON_AddStringToObject(s, "type", sp->type);
    add_conn(s, n);
    cJSON_AddStringToObject(s, "prefix", prefix);
    cJSON_AddBoolToObject(s, "rsu", rsu);

    for (int t = 0; t < 10 + (int)DBP_ARRAY_SIZE(tpcc_plan) && made < MAX_INDEXES && !cut; t++) {
        char tbuf[32];
        const char *schema, *table;
        const char *const *cols;
        if (t < 10) {
            snprintf(tbuf, sizeof(tbuf), "sbtest%d", t + 1);
            schema = "sbtest";
            table = tbuf;
            cols = sb_cols;
        } else {
            schema = "tpcc";
            table = tpcc_plan[t - 10].table;
            cols = tpcc_plan[t - 10].cols;
        }
        for (int c = 0; cols[c] && (per <= 0 || c < per) && made < MAX_INDEXES && !cut; c++) {
            if (!col_exists(&cs, schema, table, cols[c]))
                continue;
            if (sp->stop && atomic_load(sp->stop)) {
                stopped = cut = true;
                break;
            }
            if (dbp_now_ns() >= deadline) { /* keep what was made: the fault is in place */
                cut = true;
                DBP_WARN(MOD, "too_many_indexes on %s: stopped after %d indexes (%d s budget)",
                         n->name, made, INDEX_BUDGET_S);
                break;
            }
            char name[64], qs[96], qt[96], qn[96], qc[96], sql[512];
            snprintf(name, sizeof(name), "%s%s", prefix, cols[c]);
            if (dbp_db_quote_ident(schema, qs, sizeof(qs)) ||
                dbp_db_quote_ident(table, qt, sizeof(qt)) ||
                dbp_db_quote_ident(name, qn, sizeof(qn)) ||
                dbp_db_quote_ident(cols[c], qc, sizeof(qc)))
                continue;
            snprintf(sql, sizeof(sql), "CREATE INDEX %s ON %s.%s (%s)", qn, qs, qt, qc);
            dbp_err_clear(&e);
            if (dbp_db_exec(db, sql, NULL, &e)) {
                /* as the original: one failing statement does not stop the rest */
                skipped++;
                DBP_WARN(MOD, "%s on %s: %s", sql, n->name, e.msg);
                if (!dbp_db_is_open(db))
                    break;
                continue;
            }
            cJSON *io = cJSON_CreateObject();
            cJSON_AddStringToObject(io, "schema", schema);
            cJSON_AddStringToObject(io, "table", table);
            cJSON_AddStringToObject(io, "name", name);
            cJSON_AddItemToArray(list, io);
            made++;
        }
    }
    cJSON_AddItemToObject(s, "indexes", list);
    cJSON_AddNumberToObject(s, "created", made);
    cJSON_AddNumberToObject(s, "skipped", skipped);
    cJSON_AddBoolToObject(s, "cut_short", cut);
    if (stopped) { /* asked to stop mid-way: undo what was made, then fail */
        rc = dbp_err_set(err, DBP_EUNAVAIL, "stopped while creating indexes on '%s'", n->name);
        cJSON_Delete(s);
        if (dbp_db_is_open(db))
            drop_by_prefix(db, prefix, NULL, &e);
        goto out;
    }
    if (!made) {
        rc = dbp_err_set(err, DBP_EBUSY,
                         skipped ? "no index could be created on node '%s' (%s)"
                                 : "no benchmark tables (sbtest*, tpcc) on node '%s'%s",
                         n->name, skipped ? e.msg : "");
        cJSON_Delete(s);
        goto out;
    }
    if (!dbp_db_is_open(db)) { /* lost mid-way: undo what was made, then fail */
        rc = dbp_err_set(err, DBP_EDB, "connection to '%s' lost: %s", n->name, e.msg);
        cJSON_Delete(s);
        struct dbp_db *db2 = connect_to(x, n->host, n->port, DDL_TIMEOUT_S, &e);
        if (db2) {
            use_rsu(db2);
            drop_by_prefix(db2, prefix, NULL, &e);
            dbp_db_free(db2);
        }
        goto out;
    }
    *state = s;
out:
    free(cs.names);
    dbp_db_free(db);
    return rc;
}

static int revert_indexes(struct sctx *x, const cJSON *s, struct dbp_err *err)
{
    const char *host;
    int port, rc = 0, left = 0;
    char prefix[32];
    const char *id = jstr(s, "id");
    if (!state_target(x, s, &host, &port))
        return dbp_err_set(err, DBP_ENOTFOUND, "node '%s' is no longer configured",
                           jstr(s, "node") ? jstr(s, "node") : "?");
    if (jstr(s, "prefix"))
        dbp_strlcpy(prefix, jstr(s, "prefix"), sizeof(prefix));
    else if (id)
        index_prefix(id, prefix, sizeof(prefix));
    else
        return dbp_err_set(err, DBP_EINVAL, "index revert state without prefix or id");
    if (strncmp(prefix, "dbpf_", 5) != 0 || strlen(prefix) != 14)
        return dbp_err_set(err, DBP_EINVAL, "unexpected index prefix '%.20s'", prefix);
    struct dbp_db *db = connect_to(x, host, port, DDL_TIMEOUT_S, err);
    if (!db)
        return err ? err->code : DBP_EDB;
    use_rsu(db); /* apply used RSU whenever the node runs Galera */
    struct dbp_err e = {0};
    dbp_db_exec(db, "SET SESSION lock_wait_timeout = 30", NULL, &e);
    /* The names the state lists, then anything else with our prefix (all of
     * them for an intent state). */
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(s, "indexes"))
    {
        const char *sc = jstr(it, "schema"), *tb = jstr(it, "table"), *nm = jstr(it, "name");
        if (sc && tb && nm && !strncmp(nm, prefix, strlen(prefix)))
            drop_index(db, sc, tb, nm, &e);
    }
    dbp_err_clear(&e);
    if (!(rc = drop_by_prefix(db, prefix, &left, &e)) && left)
        rc = dbp_err_set(err, DBP_EDB, "%d index(es) %s* could not be dropped: %s", left, prefix,
                         e.msg);
    else if (rc)
        dbp_err_set(err, rc, "%s", e.msg);
    dbp_db_free(db);
    return rc;
}

/* ---- sessions: lock_contention, connection_storm ------------------------------- */

static int count_rows(void *ud, int ncols, char **v, unsigned long *lens)
{
    (void)ncols;
    (void)v;
    (void)lens;
    (*(int *)ud)++;
    return 0;
}

/* Open transaction holding ids [lo, hi] of sbtest1; 0 when held. */
static int take_locks(struct dbp_db *db, int lo, int hi, struct dbp_err *err)
{
    char sql[160];
    int rows = 0, rc;
    dbp_db_exec(db, "ROLLBACK", NULL, NULL);
    if ((rc = dbp_db_exec(db, "START TRANSACTION", NULL, err)))
        return rc;
    snprintf(sql, sizeof(sql), "SELECT id FROM `sbtest`.`sbtest1` WHERE id BETWEEN %d AND %d FOR UPDATE",
             lo, hi);
    if ((rc = dbp_db_query(db, sql, count_rows, &rows, err)))
        return rc;
    return rows > 0 ? 0 : dbp_err_set(err, DBP_EBUSY, "no rows with id %d..%d in sbtest.sbtest1",
                                      lo, hi);
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    int n = h->target;
    struct dbp_db **conns = dbp_xcalloc((size_t)n, sizeof(*conns));
    bool *held = dbp_xcalloc((size_t)n, sizeof(*held));
    struct dbp_db_opts o = {.host = h->host, .port = h->port, .user = h->user,
                            .password = h->password, .database = "",
                            .connect_timeout_s = h->connect_timeout_s, .read_timeout_s = 30};
    dbp_db_thread_init();
    for (int i = 0; i < n; i++) {
        struct dbp_err e = {0};
        pthread_mutex_lock(&h->lock);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        if (stop)
            break;
        conns[i] = dbp_db_new(&o);
        int rc = dbp_db_ensure(conns[i], &e);
        if (!rc && h->kind == H_LOCKS) {
            /* READ COMMITTED: a range scan locks exactly the rows it
             * returns, no next-key lock on the neighbour's first row. */
            dbp_db_exec(conns[i], "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", NULL,
                        NULL);
            dbp_db_exec(conns[i], "SET SESSION innodb_lock_wait_timeout = 10", NULL, NULL);
            rc = take_locks(conns[i], 1 + i * h->rows_per, (i + 1) * h->rows_per, &e);
            held[i] = rc == 0;
        }
        pthread_mutex_lock(&h->lock);
        if (dbp_db_is_open(conns[i]))
            h->open++;
        if (held[i])
            h->locked++;
        if (rc && !h->error[0])
            dbp_strlcpy(h->error, e.msg, sizeof(h->error));
        pthread_mutex_unlock(&h->lock);
    }
    pthread_mutex_lock(&h->lock);
    h->ready = true;
    pthread_cond_broadcast(&h->cond);
    /* Hold: lock holders check their transaction each second (a Galera
     * brute-force abort or a timeout ends it) and take the rows again. */
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
        if (h->stop || h->kind != H_LOCKS)
            continue;
        pthread_mutex_unlock(&h->lock);
        int locked = 0;
        long again = 0;
        for (int i = 0; i < n && conns[i]; i++) {
            struct dbp_err e = {0};
            int cnt = 0;
            if (held[i] && dbp_db_is_open(conns[i]) &&
                dbp_db_query(conns[i], "SELECT 1", count_rows, &cnt, &e) == 0) {
                locked++;
                continue;
            }
            if (dbp_db_ensure(conns[i], &e) == 0 &&
                take_locks(conns[i], 1 + i * h->rows_per, (i + 1) * h->rows_per, &e) == 0) {
                held[i] = true;
                locked++;
                again++;
            } else {
                held[i] = false;
                pthread_mutex_lock(&h->lock);
                dbp_strlcpy(h->error, e.msg, sizeof(h->error));
                pthread_mutex_unlock(&h->lock);
            }
        }
        pthread_mutex_lock(&h->lock);
        h->locked = locked;
        h->reacquired += again;
    }
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < n; i++) {
        if (conns[i] && dbp_db_is_open(conns[i]) && h->kind == H_LOCKS)
            dbp_db_exec(conns[i], "ROLLBACK", NULL, NULL);
        dbp_db_free(conns[i]);
    }
    pthread_mutex_lock(&h->lock);
    h->open = h->locked = 0;
    pthread_mutex_unlock(&h->lock);
    free(conns);
    free(held);
    dbp_db_thread_end();
    return NULL;
}

static void holder_free(struct holder *h)
{
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    explicit_bzero(h->password, sizeof(h->password));
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static struct holder *holder_take(struct sctx *x, const char *key)
{
    struct holder *h = NULL;
    pthread_mutex_lock(&x->lock);
    for (struct holder **pp = &x->holders; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0) {
            h = *pp;
            *pp = h->next;
            break;
        }
    pthread_mutex_unlock(&x->lock);
    return h;
}

struct status_ud {
    char val[64];
};

static int apply_sessions(struct sctx *x, const struct dbp_fault_spec *sp, bool locks,
                          cJSON **state, struct dbp_err *err)
{
    const struct dbp_node_cfg *n = sp->node;
    int want, rows_per = 0, rc = 0;
    struct dbp_db *db = connect_to(x, n->host, n->port, 10, err);
    if (!db)
        return err ? err->code : DBP_EDB;
    if (locks) {
        want = (int)jnum(sp->params, "holders", 0);
        rows_per = (int)jnum(sp->params, "rows_per_holder", 0);
        char cnt[32] = "";
        if (want < 1 || want > 256 || rows_per < 1 || rows_per > 100000)
            rc = dbp_err_set(err, DBP_ESCHEMA, "holders 1..256 and rows_per_holder 1..100000");
        else if (dbp_db_scalar(db,
                               "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                               "TABLE_SCHEMA = 'sbtest' AND TABLE_NAME = 'sbtest1'",
                               cnt, sizeof(cnt), err) ||
                 strcmp(cnt, "1") != 0)
            rc = dbp_err_set(err, DBP_EBUSY, "no table sbtest.sbtest1 on node '%s': prepare a "
                             "sysbench workload first", n->name);
    } else {
        unsigned long long maxc = 0, cur = 0;
        int headroom = (int)jnum(sp->params, "headroom", 20);
        want = (int)jnum(sp->params, "connections", 0);
        if (want < 1 || want > 100000 || headroom < 0)
            rc = dbp_err_set(err, DBP_ESCHEMA, "connections must be in 1..100000");
        else if (!(rc = get_u64(db, "SELECT @@GLOBAL.max_connections", &maxc, err)) &&
                 !(rc = get_u64(db,
                                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                "WHERE VARIABLE_NAME = 'THREADS_CONNECTED'",
                                &cur, err))) {
            long long room = (long long)maxc - (long long)cur - headroom;
            if (room < 1)
                rc = dbp_err_set(err, DBP_EBUSY, "node '%s' has no room for more connections "
                                 "(%llu of %llu in use)", n->name, cur, maxc);
            else if (want > room)
                want = (int)room;
        }
    }
    dbp_db_free(db);
    if (rc)
        return rc;

    struct holder *h = dbp_xcalloc(1, sizeof(*h));
    make_key(sp->id, sp->type, n->name, h->key, sizeof(h->key));
    h->kind = locks ? H_LOCKS : H_CONNS;
    h->target = want;
    h->rows_per = rows_per;
    dbp_strlcpy(h->host, n->host, sizeof(h->host));
    h->port = n->port;
    dbp_strlcpy(h->user, x->user, sizeof(h->user));
    dbp_strlcpy(h->password, x->password, sizeof(h->password));
    h->connect_timeout_s = x->connect_timeout_s;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->thread, NULL, holder_main, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return dbp_err_set(err, DBP_ENOMEM, "cannot create a session holder thread");
    }
    pthread_setname_np(h->thread, locks ? "dbp-locks" : "dbp-storm");
    /* Wait until every session is open (or has failed), bounded. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += READY_WAIT_MS / 1000;
    pthread_mutex_lock(&h->lock);
    while (!h->ready && pthread_cond_timedwait(&h->cond, &h->lock, &ts) == 0)
        ;
    int got = locks ? h->locked : h->open;
    char why[DBP_ERR_MSG_MAX];
    dbp_strlcpy(why, h->error, sizeof(why));
    pthread_mutex_unlock(&h->lock);
    if (got < 1) {
        holder_free(h);
        return dbp_err_set(err, locks ? DBP_EBUSY : DBP_EDB, "no %s on node '%s'%s%s",
                           locks ? "rows could be locked" : "connection could be opened", n->name,
                           why[0] ? ": " : "", why);
    }
    pthread_mutex_lock(&x->lock);
    h->next = x->holders;
    x->holders = h;
    pthread_mutex_unlock(&x->lock);

    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "sessions");
    cJSON_AddStringToObject(s, "type", sp->type);
    add_conn(s, n);
    cJSON_AddStringToObject(s, "key", h->key);
    cJSON_AddNumberToObject(s, locks ? "holders" : "connections", want);
    if (locks) {
        cJSON_AddNumberToObject(s, "rows_per_holder", rows_per);
        cJSON_AddStringToObject(s, "table", "sbtest.sbtest1");
        cJSON_AddNumberToObject(s, "locked_at_start", got);
    } else {
        cJSON_AddNumberToObject(s, "opened_at_start", got);
    }
    cJSON_AddStringToObject(s, "note", "sessions belong to the daemon: they close with it");
    *state = s;
    return 0;
}

static int revert_sessions(struct sctx *x, const char *key)
{
    struct holder *h = holder_take(x, key);
    if (h)
        holder_free(h);
    /* else: opened by a previous process, closed when it died */
    return 0;
}

/* ---- the executor interface --------------------------------------------------- */

static int s_apply(void *ctx, const struct dbp_fault_spec *sp, cJSON **state, struct dbp_err *err)
{
    struct sctx *x = ctx;
    char why[DBP_ERR_MSG_MAX] = "";
    *state = NULL;
    if (!sp->node || !s_supports(x, sp->type, sp->node, why, sizeof(why)))
        return dbp_err_set(err, DBP_EUNAVAIL, "%s", why[0] ? why : "no node");
    if (!strcmp(sp->type, "cache_bottleneck"))
        return apply_cache(x, sp, state, err);
    if (!strcmp(sp->type, "too_many_indexes"))
        return apply_indexes(x, sp, state, err);
    return apply_sessions(x, sp, !strcmp(sp->type, "lock_contention"), state, err);
}

static int s_revert(void *ctx, const cJSON *s, struct dbp_err *err)
{
    struct sctx *x = ctx;
    const char *type = jstr(s, "type"), *node = jstr(s, "node");
    bool intent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "intent"));
    if (!type || !node)
        return dbp_err_set(err, DBP_EINVAL, "revert state without type/node");
    if (!strcmp(type, "cache_bottleneck"))
        return revert_cache(x, s, intent, err);
    if (!strcmp(type, "too_many_indexes"))
        return revert_indexes(x, s, err);
    char key[KEY_MAX];
    if (intent) {
        const char *id = jstr(s, "id");
        if (!id)
            return dbp_err_set(err, DBP_EINVAL, "intent state without id");
        make_key(id, type, node, key, sizeof(key));
    } else {
        dbp_strlcpy(key, jstr(s, "key") ? jstr(s, "key") : "", sizeof(key));
    }
    return revert_sessions(x, key);
}

static cJSON *s_evidence(void *ctx, const cJSON *s)
{
    struct sctx *x = ctx;
    const char *kind = jstr(s, "kind");
    if (!kind)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!strcmp(kind, "sessions")) {
        const char *key = jstr(s, "key");
        bool locks = !strcmp(jstr(s, "type") ? jstr(s, "type") : "", "lock_contention");
        int open = 0, locked = 0, target = 0;
        long again = 0;
        bool found = false;
        char last[DBP_ERR_MSG_MAX] = "";
        pthread_mutex_lock(&x->lock);
        for (struct holder *h = x->holders; h && key; h = h->next)
            if (!strcmp(h->key, key)) {
                pthread_mutex_lock(&h->lock);
                open = h->open;
                locked = h->locked;
                again = h->reacquired;
                target = h->target;
                dbp_strlcpy(last, h->error, sizeof(last));
                pthread_mutex_unlock(&h->lock);
                found = true;
            }
        pthread_mutex_unlock(&x->lock);
        cJSON_AddNumberToObject(o, "open_connections", open);
        if (locks) {
            cJSON_AddNumberToObject(o, "holders_locked", locked);
            cJSON_AddNumberToObject(o, "rows_locked", locked * jnum(s, "rows_per_holder", 0));
            cJSON_AddNumberToObject(o, "relocked_after_abort", (double)again);
        }
        cJSON_AddNumberToObject(o, "target", target);
        if (last[0])
            cJSON_AddStringToObject(o, "last_error", last);
        cJSON_AddBoolToObject(o, "ok", found && (locks ? locked > 0 : open > 0));
    } else if (!strcmp(kind, "indexes")) {
        int n = (int)jnum(s, "created", 0);
        cJSON_AddNumberToObject(o, "indexes_created", n);
        cJSON_AddBoolToObject(o, "ok", n > 0);
    } else if (!strcmp(kind, "bufpool")) {
        double o0 = jnum(s, "old_bytes", 0), a = jnum(s, "actual_bytes", 0);
        cJSON_AddNumberToObject(o, "buffer_pool_mb_before", round(o0 / 1048576.0));
        cJSON_AddNumberToObject(o, "buffer_pool_mb_now", round(a / 1048576.0));
        cJSON_AddBoolToObject(o, "ok", a > 0 && a < o0);
    } else if (!strcmp(kind, "memstore")) {
        cJSON_AddNumberToObject(o, "memstore_limit_percentage",
                                jnum(s, "memstore_limit_percentage", 0));
    }
    return o;
}

static void s_free(void *ctx)
{
    struct sctx *x = ctx;
    if (!x)
        return;
    while (x->holders) {
        struct holder *h = x->holders;
        x->holders = h->next;
        holder_free(h);
    }
    explicit_bzero(x->password, sizeof(x->password));
    free(x->nodes);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

int dbp_exec_sql_new(const struct dbp_config *cfg, struct dbp_executor *out, struct dbp_err *err)
{
    (void)err;
    struct sctx *x = dbp_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->lock, NULL);
    x->nnodes = cfg->nnodes;
    x->nodes = dbp_xcalloc(cfg->nnodes ? (size_t)cfg->nnodes : 1, sizeof(*x->nodes));
    memcpy(x->nodes, cfg->nodes, (size_t)cfg->nnodes * sizeof(*x->nodes));
    dbp_strlcpy(x->user, cfg->db_user, sizeof(x->user));
    dbp_strlcpy(x->password, cfg->db_password, sizeof(x->password));
    x->oceanbase = strncmp(cfg->catalog, "oceanbase", 9) == 0;
    x->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 5;
    memset(out, 0, sizeof(*out));
    out->name = "sql";
    out->ctx = x;
    out->supports = s_supports;
    out->apply = s_apply;
    out->revert = s_revert;
    out->evidence = s_evidence;
    out->free_ctx = s_free;
    return 0;
}
