/*
 * collector.h - the metrics pipeline: a collector thread that queries every
 * node each interval (catalog SQL + host sources), turns counters into
 * rates, runs fluctuation detection, keeps history rings, and serves
 * consistent copies to readers (API handlers, /metrics, diagnosis).
 *
 * Threads: the collector thread runs the cycles and is the only writer of
 * the series store; with node-scope catalogs each node is polled on its
 * own thread, the only user of that node's connection (a node that hangs
 * delays no other).  Readers call the functions below from
 * any thread; each takes the store lock briefly and copies out.  Lock
 * order: collector->lock is a leaf.
 */
#ifndef DBP_COLLECTOR_H
#define DBP_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/catalog.h"
#include "dbp/err.h"
#include "dbp/util.h"

struct dbp_config;
struct dbp_collector;

/* Build from a config snapshot (copied: nodes, credentials, timings) and a
 * loaded catalog (consumed). */
int dbp_collector_new(const struct dbp_config *cfg, struct dbp_catalog *cat,
                      struct dbp_collector **out, struct dbp_err *err);
/* Start the thread (collecting when autostart, else paused). */
int dbp_collector_start(struct dbp_collector *c, bool collecting, struct dbp_err *err);
/* Stop and join the thread; idempotent. */
void dbp_collector_stop(struct dbp_collector *c);
void dbp_collector_free(struct dbp_collector *c);

/* Pause/resume collection without stopping the thread (API start/stop).
 * Returns the previous state. */
bool dbp_collector_set_collecting(struct dbp_collector *c, bool on);
bool dbp_collector_collecting(struct dbp_collector *c);
/* Apply reloadable settings (interval, thresholds). */
void dbp_collector_reload(struct dbp_collector *c, const struct dbp_config *cfg);
/* One server row of the discovery query: learn the node at host:port
 * (its RPC port and zone refresh a known node; an unknown one is
 * appended, up to DBP_MAX_NODES).  Thread-safe against the readers below;
 * the discovery query calls it for each row, tests call it directly to
 * grow the node list while readers run.  0, DBP_EINVAL (bad row) or
 * DBP_ETOOBIG (full). */
int dbp_collector_discovered(struct dbp_collector *c, const char *host, long port,
                             long rpc_port, const char *zone);
/* Run one cycle now on the calling thread (tests, benchmarks); not
 * concurrently with a started thread. */
void dbp_collector_cycle(struct dbp_collector *c);

const struct dbp_catalog *dbp_collector_catalog(const struct dbp_collector *c);

/*
 * Synthetic input for benchmarks and tests: push one raw value for
 * (node index, tenant, metric index) at wall time ts as if a cycle had read
 * it, then dbp_collector_ingest_commit() to publish the cycle.
 */
int dbp_collector_ingest(struct dbp_collector *c, int node, const char *tenant, int metric,
                         double ts, double raw);
/* End a synthetic cycle: the listener (if any) receives what was ingested. */
void dbp_collector_ingest_commit(struct dbp_collector *c, double ts);

/*
 * One published cycle as the listener sees it: the processed value (rate
 * per second for counters, the value for gauges; NaN = not read or no rate
 * yet) of every catalog metric of every node's default tenant.  Everything
 * is borrowed for the duration of the call.
 */
struct dbp_cycle {
    double ts;                   /* cycle start, wall seconds */
    int nnodes;
    const char (*names)[64];     /* node names, configuration order */
    const double *node_ts;       /* per node: when its values were read (NaN = not read) */
    int nmetrics;                /* catalog order */
    const double *vals;          /* node * nmetrics + metric */
};
/* Called on the collector thread after each cycle, without the collector's
 * lock held; it must be quick (copy and return). */
typedef void (*dbp_cycle_listener_fn)(void *cls, const struct dbp_cycle *cy);
/* Install (fn) or remove (NULL) the single listener.  Removing waits for a
 * call in flight to return, so cls may be freed afterwards. */
void dbp_collector_set_listener(struct dbp_collector *c, dbp_cycle_listener_fn fn, void *cls);

/* ---- readers (thread-safe, copy out) ------------------------------------ */

/* Node names in configuration order; returns count (<= max). */
int dbp_collector_node_names(struct dbp_collector *c, char (*out)[64], int max);
/* Resolve a node given as name, host, or host:port; -1 when unknown. */
int dbp_collector_node_index(struct dbp_collector *c, const char *spec);

/* {"metrics": {node: {category: {metric: Point}}}, "timestamp": iso|null}
 * for one tenant ("" = the default tenant).  Point = {timestamp, value,
 * raw, delta?, unit, kind, z_score?, pct_change?, has_fluctuation?}. */
cJSON *dbp_collector_latest_json(struct dbp_collector *c, const char *tenant,
                                 int *nfluct, int *ntotal);
/* {category: {metric: [{timestamp, value}...]}} for one node (and category,
 * or all when NULL); only pairs in `select` ({category: metric}) when given. */
int dbp_collector_detailed_json(struct dbp_collector *c, const char *node, const char *tenant,
                                const char *category, const cJSON *select, cJSON **out,
                                struct dbp_err *err);
/* [{name, host, port, state, last_success, last_error, ...}] */
cJSON *dbp_collector_nodes_json(struct dbp_collector *c);
/* {name, description, metrics: [...]} */
cJSON *dbp_collector_catalog_json(struct dbp_collector *c);
/* Ring points of one series within [since, until] into a new array
 * (caller frees); *oldest = timestamp of the oldest point kept. */
int dbp_collector_history(struct dbp_collector *c, const char *node, const char *tenant,
                          const char *metric, double since, double until, double **ts,
                          double **vals, size_t *n, double *oldest, struct dbp_err *err);
/*
 * A window of the last w processed values per (node, metric) for the
 * default tenant: out[node][metric][k], NaN where missing.  Layout:
 * ((node * nmetrics) + metric) * w + k.  Returns the array (caller frees)
 * and sets *nnodes and *nmetrics; *ts_last = newest timestamp.
 */
double *dbp_collector_window(struct dbp_collector *c, int w, int *nnodes, int *nmetrics,
                             double *ts_last);

/* Prometheus text of every series and the collector's own health. */
int dbp_collector_render_prom(void *collector, struct dbp_buf *out);
/* Health line: "running", "paused", "degraded" (some node down). */
const char *dbp_collector_state(void *collector, char *detail, size_t detailsz);

#endif
