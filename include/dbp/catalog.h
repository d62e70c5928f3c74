/*
 * catalog.h - metric catalogs as data (config/catalog/<name>.yaml).
 *
 * A catalog says, per database kind, which SQL to run, how result columns
 * map to (tenant, node, metric, value, kind), and for each metric its
 * category, counter/gauge kind, unit and help.  See config/catalog/README.md
 * for the file format.  Loaded once; immutable afterwards, so any thread
 * may read it without locks.
 */
#ifndef DBP_CATALOG_H
#define DBP_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "dbp/err.h"
#include "dbp/series.h" /* enum dbp_metric_kind */

enum dbp_host_source {
    DBP_HOST_PROC_CPU,       /* utime+stime of the node's process, seconds (counter) */
    DBP_HOST_PROC_IO_READ,   /* /proc/<pid>/io read_bytes (counter) */
    DBP_HOST_PROC_IO_WRITE,  /* /proc/<pid>/io write_bytes (counter) */
    DBP_HOST_PROC_RSS,       /* resident bytes (gauge) */
    DBP_HOST_CG_THROTTLED,   /* cgroup cpu.stat throttled_time, seconds (counter) */
};

struct dbp_cat_metric {
    char *name;      /* as the query returns it (matched case-insensitively) */
    char *category;
    char *unit;
    char *help;
    enum dbp_metric_kind kind;
    long stat_id;    /* OceanBase stat id, 0 when none */
    bool host;       /* computed by the collector, not from SQL */
    bool kind_override; /* the catalog kind beats the query's kind column */
    bool optional;   /* may be absent on some versions (reported missing, never 0) */
    char **map_keys; /* value_map: text values mapped to numbers (case-insensitive) */
    double *map_vals;
    size_t nmap;
    enum dbp_host_source source;
    int index;       /* position in the catalog (stable feature order) */
};

enum dbp_query_scope { DBP_SCOPE_NODE, DBP_SCOPE_CLUSTER };

struct dbp_cat_query {
    char *id;
    char *sql;
    enum dbp_query_scope scope;
    int col_tenant, col_host, col_port, col_metric, col_value, col_kind; /* -1 = absent */
    char *kind_counter; /* value of the kind column meaning counter (e.g. ADD_VALUE) */
    char *kind_gauge;
    bool keep_all;      /* keep rows for metrics the catalog does not list */
};

/* Another catalog's name for one of this catalog's metrics (the original
 * dashboard asks every cluster for OceanBase names such as "cpu usage"). */
struct dbp_cat_alias {
    char *name;
    const struct dbp_cat_metric *metric; /* borrowed from the catalog */
};

struct dbp_catalog {
    char *name;
    char *description;
    char *match_version;
    char *tenants_sql;   /* tenant id -> name, or NULL */
    int tcol_id, tcol_name;
    char *discovery_sql; /* node list, or NULL */
    int dcol_host, dcol_port, dcol_rpc_port, dcol_zone, dcol_status;
    struct dbp_cat_query *queries;
    size_t nqueries;
    struct dbp_cat_metric *metrics; /* catalog order: SQL metrics, then host metrics */
    size_t nmetrics;
    struct dbp_cat_metric **sorted; /* by name, case-insensitive, for lookup */
    size_t qcap, mcap;              /* allocated entries (freed even when half-parsed) */
    struct dbp_cat_alias *aliases;  /* optional "aliases:" section */
    size_t naliases;
};

/* Load <dir>/<name>.yaml.  Errors name file:line:col. */
int dbp_catalog_load(const char *dir, const char *name, struct dbp_catalog **out,
                     struct dbp_err *err);
/* Parse from memory (tests, fuzzing). */
int dbp_catalog_parse(const char *file, const char *text, size_t len, struct dbp_catalog **out,
                      struct dbp_err *err);
void dbp_catalog_free(struct dbp_catalog *c);

/* Map a text value through m's value_map; false when there is no entry. */
bool dbp_catalog_map_value(const struct dbp_cat_metric *m, const char *text, double *out);

/* Metric by name (case-insensitive, surrounding blanks ignored) or NULL. */
const struct dbp_cat_metric *dbp_catalog_find(const struct dbp_catalog *c, const char *name);
/* A metric by its name or by one of the catalog's aliases, or NULL. */
const struct dbp_cat_metric *dbp_catalog_resolve(const struct dbp_catalog *c, const char *name);
/* Number of distinct categories and the i-th one, in first-seen order. */
size_t dbp_catalog_ncategories(const struct dbp_catalog *c);
const char *dbp_catalog_category(const struct dbp_catalog *c, size_t i);

#endif
