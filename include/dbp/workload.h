/*
 * workload.h - benchmark workloads: sysbench OLTP scripts, TPC-C and TPC-H
 * (project Lua scripts run by sysbench) and tpcc-mysql, started as child
 * processes through the process runner (spawn.h), watched, stopped and
 * measured.
 *
 * A run has a unique id ("sysbench-3f9a2c1d"), any number of runs of the
 * same type may coexist (up to workload.max_runs).  Every line a tool
 * prints is kept in a bounded ring and parsed as it arrives: per-interval
 * figures (tps, qps, p95 latency, errors and reconnects per second, TpmC,
 * per-query seconds) go into a bounded list per run with running totals,
 * and a final summary is built when the run ends (the tool's own summary
 * when it printed one, else one computed from the intervals).
 *
 * Prepare and cleanup are jobs on the job queue (jobs.h): they never drop
 * existing data unless asked (`force`), and TPC-C / TPC-H prepares end
 * with the script's `check` and row counts in the job result.
 *
 * The benchmark password reaches the tool through a 0600 option file
 * (data_dir/runs/<id>.cnf, removed when the run ends) or, when sysbench's
 * option-file syntax cannot carry it, through MYSQL_PWD in the child's
 * explicit environment; never through argv, never into a log.
 *
 * All functions are thread-safe unless stated otherwise.  Snapshots are
 * returned as new cJSON trees (caller owns, cJSON_Delete).
 */
#ifndef DBP_WORKLOAD_H
#define DBP_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/config.h"
#include "dbp/err.h"
#include "dbp/jobs.h"
#include "dbp/util.h"

struct dbp_workloads;

enum dbp_wl_type { DBP_WL_SYSBENCH = 0, DBP_WL_TPCC, DBP_WL_TPCH, DBP_WL_NTYPES };
enum dbp_wl_tool { DBP_WL_TOOL_SYSBENCH = 0, DBP_WL_TOOL_TPCC_MYSQL };

#define DBP_WL_ID_MAX 40
#define DBP_WL_SCRIPT_MAX 64
#define DBP_WL_MAX_THREADS 1024
#define DBP_WL_MAX_TABLES 1024
#define DBP_WL_MAX_TABLE_SIZE 100000000LL
#define DBP_WL_MAX_WAREHOUSES 10000
#define DBP_WL_MAX_TIME 604800 /* one week */
#define DBP_WL_MAX_RATE 1000000
#define DBP_WL_NQUERIES 22

/* "sysbench", "tpcc", "tpch"; NULL past the end. */
const char *dbp_wl_type_name(enum dbp_wl_type t);
/* Name -> type; -1 when unknown. */
int dbp_wl_type_from_name(const char *name);

/* A request as the API decoded it (field names of the original in
 * comments).  dbp_wl_request_defaults() gives the original's defaults. */
struct dbp_wl_request {
    enum dbp_wl_type type;           /* type */
    enum dbp_wl_tool tool;           /* options.tool ("sysbench" | "tpcc-mysql") */
    int threads;                     /* threads (1) */
    char script[DBP_WL_SCRIPT_MAX];  /* options.script (oltp_read_write) */
    int tables;                      /* options.tables (10) */
    long long table_size;            /* options.tableSize (100000) */
    int report_interval;             /* options.reportInterval (10) */
    char rand_type[16];              /* options.randType (uniform) */
    int warehouses;                  /* options.warehouses (10) */
    int warmup_s;                    /* options.warmupTime (10, tpcc-mysql) */
    int running_min;                 /* options.runningTime (60, minutes, tpcc-mysql) */
    int time_s;                      /* options.time (seconds, 0 = until stopped; -1 = unset) */
    int rate;                        /* options.rate (0 = unlimited) */
    double scale;                    /* options.scale (TPC-H SF, 0.01) */
    bool prepare_db;                 /* options.prepare_db: prepare first when needed */
    bool force;                      /* options.force: prepare may drop existing tables */
    char nodes[DBP_MAX_NODES][DBP_NAME_MAX]; /* nodes (empty = every configured node) */
    int nnodes;
    char task_name[128];             /* task_name ("" = no task) */
};

void dbp_wl_request_defaults(struct dbp_wl_request *r);

/* ---- module lifecycle ---------------------------------------------------- */

/** New module; jobs is borrowed (prepare/cleanup are submitted there) and
 * must outlive the module.  Reads the published config on each operation. */
struct dbp_workloads *dbp_workloads_new(struct dbp_jobs *jobs);
/** Start the process runner, list the installed sysbench scripts, remove
 * option files left by a crash.  0 or a DBP_E* code with err filled. */
int dbp_workloads_start(struct dbp_workloads *wl, struct dbp_err *err);
/** Stop every run and every child (SIGTERM, grace, SIGKILL) and wait for
 * them; prepare/cleanup jobs still running fail promptly.  Idempotent. */
void dbp_workloads_stop(struct dbp_workloads *wl);
/** NULL is a no-op.  Call after the job queue has been stopped. */
void dbp_workloads_free(struct dbp_workloads *wl);
/** Grace period between SIGTERM and SIGKILL for stops (default 5000 ms). */
void dbp_workloads_set_grace(struct dbp_workloads *wl, int grace_ms);

/* ---- runs ---------------------------------------------------------------- */

/**
 * Check and start a run.  Errors: DBP_ESCHEMA (a field is wrong: script,
 * node, scale ...), DBP_EUNAVAIL (tool not installed, Lua script missing,
 * database unreachable), DBP_EBUSY (max_runs reached, a prepare/cleanup of
 * the same database in progress, database not prepared), DBP_EUPSTREAM
 * (the tool exited at once; the run stays listed as failed).  On success
 * id_out holds the run id.  May block ~1 s per node (connect timeout) and
 * ~1 s waiting for an immediate failure of the tool.
 */
int dbp_workloads_run(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                      char id_out[DBP_WL_ID_MAX], struct dbp_err *err);
/**
 * Stop a run: SIGTERM to its group, SIGKILL after the grace period; waits
 * until it has ended (at most grace + 2 s).  DBP_ENOTFOUND when the id is
 * unknown or the run has already ended.
 */
int dbp_workloads_stop_run(struct dbp_workloads *wl, const char *id, struct dbp_err *err);
/** Stop every active run and cancel prepare/cleanup jobs; *stopped gets
 * the ids (caller owns, may be NULL).  DBP_EINTERNAL if any survived. */
int dbp_workloads_stop_all(struct dbp_workloads *wl, cJSON **stopped, struct dbp_err *err);

/** WorkloadResponse-shaped status of one run with the last `lines` output
 * lines, or NULL when unknown. */
cJSON *dbp_workloads_status_json(struct dbp_workloads *wl, const char *id, int lines);
/** WorkloadInfo list: active runs only, or every run kept (newest first). */
cJSON *dbp_workloads_list_json(struct dbp_workloads *wl, bool active_only);
/** Intervals, totals, per-query times and summary of a run; NULL if unknown. */
cJSON *dbp_workloads_progress_json(struct dbp_workloads *wl, const char *id);
/** Installed tools and scripts. */
cJSON *dbp_workloads_scripts_json(struct dbp_workloads *wl);
/** Number of runs not yet ended. */
int dbp_workloads_active(struct dbp_workloads *wl);

/* ---- prepare / cleanup jobs ---------------------------------------------- */

/** Check, then queue a prepare job; job_id receives its id.  Errors as for
 * dbp_workloads_run, plus DBP_EBUSY when a run or another prepare/cleanup
 * uses the same database. */
int dbp_workloads_prepare(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                          char job_id[DBP_JOB_ID_LEN], struct dbp_err *err);
int dbp_workloads_cleanup(struct dbp_workloads *wl, const struct dbp_wl_request *req,
                          char job_id[DBP_JOB_ID_LEN], struct dbp_err *err);

/* ---- tasks (the original's in-memory tasks) ------------------------------ */

/** Create a task for an active run; anomalies (array, consumed, may be
 * NULL).  DBP_ENOTFOUND when the run is not active. */
int dbp_workloads_task_create(struct dbp_workloads *wl, const char *name, const char *run_id,
                              cJSON *anomalies, cJSON **out, struct dbp_err *err);
cJSON *dbp_workloads_tasks_json(struct dbp_workloads *wl, bool active_only);
cJSON *dbp_workloads_task_json(struct dbp_workloads *wl, const char *task_id);
/** Stop a task's run (if still active) and mark it stopped; *out = the
 * task.  DBP_ENOTFOUND for an unknown task. */
int dbp_workloads_task_stop(struct dbp_workloads *wl, const char *task_id, cJSON **out,
                            struct dbp_err *err);
/** Drop tasks not running whose end (or start) is older than max_age_s;
 * returns how many. */
int dbp_workloads_tasks_cleanup(struct dbp_workloads *wl, double max_age_s);

/* ---- exporter and health (signatures of app.h) --------------------------- */

/** Prometheus text for GET /metrics (cls = the module). */
int dbp_workloads_render_metrics(void *cls, struct dbp_buf *out);
/** State for GET /health (cls = the module). */
const char *dbp_workloads_health(void *cls, char *detail, size_t detailsz);

/* ---- output parsers (pure; unit-tested on captured output) --------------- */

/* One progress interval.  Fields a line does not carry are < 0. */
struct dbp_wl_sample {
    double t_s;          /* seconds since the tool started ("[ 10s ]") */
    int threads;
    double tps, qps;
    double reads, writes, other; /* per second */
    double lat_ms;       /* latency percentile, ms */
    int lat_pct;         /* which percentile (95 for sysbench's default) */
    double err_s, reconn_s;
    double tpmc;         /* TPC-C new orders per minute */
};

void dbp_wl_sample_clear(struct dbp_wl_sample *s);

/* sysbench's interval line "[ 10s ] thds: 4 tps: 142.91 qps: ... lat
 * (ms,95%): 45.79 err/s: 0.00 reconn/s: 0.00".  True when matched. */
bool dbp_wl_parse_interval(const char *line, struct dbp_wl_sample *out);
/* The TPC-C Lua script's companion line "[ 10s ] tpmC: 812.40 tpmTotal:
 * 1805.33": true and *t_s, *tpmc when matched. */
bool dbp_wl_parse_tpmc_interval(const char *line, double *t_s, double *tpmc);
/* tpcc-mysql's interval line "  10, 812(0):1.234|2.345, 811(0):..., ..."
 * (the five transaction types; interval_s = its -i). */
bool dbp_wl_parse_tpcc_mysql_interval(const char *line, int interval_s,
                                      struct dbp_wl_sample *out);
/* The TPC-H script's "Query 5 completed - Time: 0.52s" (any prefix, e.g. a
 * stream number): true and the query number 1..22 and seconds. */
bool dbp_wl_parse_query(const char *line, int *query, double *seconds);

/* The tool's final report. */
struct dbp_wl_summary {
    bool has_sysbench;   /* sysbench's "SQL statistics" block seen */
    double transactions, tps, queries, qps, ignored_errors, errors_s, reconnects,
        reconnects_s, total_time_s, events;
    double lat_min_ms, lat_avg_ms, lat_max_ms, lat_pct_ms, lat_sum_ms;
    int lat_pct;
    bool has_tpmc;       /* "TpmC: x" (Lua) or "<TpmC>" + "x TpmC" (tpcc-mysql) */
    double tpmc;
    bool in_tpmc_block;  /* parser state for tpcc-mysql */
};

void dbp_wl_summary_clear(struct dbp_wl_summary *s);
/* Feed one line; true when it contributed. */
bool dbp_wl_parse_summary_line(const char *line, struct dbp_wl_summary *s);

#endif
