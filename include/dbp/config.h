/*
 * config.h - the daemon's configuration: one YAML file, a declarative key
 * table, environment overrides, immutable snapshots.
 *
 * Load order: built-in defaults -> YAML file -> environment (OB_HOST,
 * OB_PORT, OB_USER, OB_PASSWORD, OB_DATABASE, PROMETHEUS_URL and
 * DBPECKER_<SECTION>_<KEY> for every key) -> validation.  Errors carry
 * "file:line:col".  Relative paths are resolved against the directory of
 * the config file, so a config can point at files next to it.
 *
 * Snapshots are immutable once published: readers take a reference with
 * dbp_config_acquire() and drop it with dbp_config_release(); SIGHUP builds
 * a new snapshot and swaps it only when it validates completely.
 */
#ifndef DBP_CONFIG_H
#define DBP_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "dbp/err.h"

#define DBP_MAX_NODES 128
#define DBP_MAX_CORS 16
#define DBP_NAME_MAX 64
#define DBP_HOST_MAX 256
#define DBP_PATH_MAX 512
#define DBP_SECRET_MAX 256

struct dbp_node_cfg {
    char name[DBP_NAME_MAX];
    char host[DBP_HOST_MAX];
    int port;
    char datadir[DBP_PATH_MAX];  /* local executor: I/O stress target */
    char pid_file[DBP_PATH_MAX]; /* host metrics: /proc/<pid> */
    char netns[DBP_NAME_MAX];    /* local executor: network faults */
    char iface[DBP_NAME_MAX];
    char cgroup[DBP_PATH_MAX];   /* relative to each cgroup v1 controller */
    char zone[DBP_NAME_MAX];     /* OceanBase zone (SQL faults) */
    char pod[DBP_HOST_MAX];      /* Kubernetes pod (chaosmesh executor) */
};

struct dbp_config {
    char path[DBP_PATH_MAX]; /* the file it came from ("" = defaults only) */
    char base_dir[DBP_PATH_MAX];

    /* server */
    char listen[DBP_HOST_MAX];
    int port;
    int threads;
    char token[DBP_SECRET_MAX];
    char token_file[DBP_PATH_MAX];
    char cors[DBP_MAX_CORS][DBP_HOST_MAX];
    int ncors;
    long max_body;
    int conn_timeout_s;
    int conn_limit;
    char docs_dir[DBP_PATH_MAX];

    /* log */
    char log_level[16];

    /* paths */
    char data_dir[DBP_PATH_MAX];

    /* database */
    char catalog[DBP_NAME_MAX];
    char catalog_dir[DBP_PATH_MAX];
    char db_host[DBP_HOST_MAX];
    int db_port;
    char db_user[DBP_NAME_MAX];
    char db_password[DBP_SECRET_MAX];
    char db_password_file[DBP_PATH_MAX];
    char db_name[DBP_NAME_MAX];
    char nodes_file[DBP_PATH_MAX];
    bool discover;
    int connect_timeout_s;
    int read_timeout_s;
    struct dbp_node_cfg nodes[DBP_MAX_NODES];
    int nnodes;

    /* collector */
    bool collector_autostart;
    int interval_ms;
    int history_points;
    int window;
    int min_history;
    double z_threshold;

    /* prometheus */
    char prom_url[DBP_HOST_MAX];
    int prom_timeout_ms;

    /* workload */
    char sysbench_path[DBP_PATH_MAX];
    char lua_dir[DBP_PATH_MAX];
    char tpcc_dir[DBP_PATH_MAX];
    char bench_user[DBP_NAME_MAX];
    char bench_password_file[DBP_PATH_MAX];
    int max_runs;

    /* anomaly */
    char executor[16];
    int default_duration_s;
    int max_duration_s;
    char k8s_namespace[DBP_NAME_MAX];
    char k8s_api[DBP_HOST_MAX];
    char k8s_kubeconfig[DBP_PATH_MAX];
    char k8s_label_selector[DBP_HOST_MAX];

    /* training / models */
    char training_dir[DBP_PATH_MAX];
    char models_dir[DBP_PATH_MAX];
    int feature_window;
    int case_duration_s;
    int post_s;
    int max_case_samples;
    char experiments_dir[DBP_PATH_MAX];
};

/* Fill with built-in defaults (no file, no environment). */
void dbp_config_defaults(struct dbp_config *cfg);

/*
 * Load path (NULL = defaults only), apply the environment, validate.
 * On failure err->msg holds "file:line:col: what" and *out is untouched.
 * On success *out is a new heap snapshot with one reference (caller owns).
 */
int dbp_config_load(const char *path, struct dbp_config **out, struct dbp_err *err);

/* Parse from memory (tests, fuzzing); name is used in messages. */
int dbp_config_parse(const char *name, const char *text, size_t len, struct dbp_config *cfg,
                     struct dbp_err *err);

/* Apply environment overrides and validate cross-field rules. */
int dbp_config_finish(struct dbp_config *cfg, struct dbp_err *err);

/* Reference counting of published snapshots (thread-safe). */
struct dbp_config *dbp_config_ref(struct dbp_config *cfg);
void dbp_config_unref(struct dbp_config *cfg);

/* The current published snapshot: acquire returns a new reference (never
 * NULL once published); publish consumes the caller's reference. */
struct dbp_config *dbp_config_acquire(void);
void dbp_config_publish(struct dbp_config *cfg);

/* True when listen is a loopback address. */
bool dbp_config_is_loopback(const struct dbp_config *cfg);

/* Print every key with its default and help (for docs and tests). */
void dbp_config_dump_keys(void);

/* The key table, for documentation checks: path of key i, NULL past the end. */
const char *dbp_config_key_path(size_t i);

/* Find a node by name; NULL if unknown. */
const struct dbp_node_cfg *dbp_config_node(const struct dbp_config *cfg, const char *name);

#endif
