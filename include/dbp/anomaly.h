/*
 * anomaly.h - the fault registry: injections of the types of SPEC §4 on
 * configured nodes, applied and reverted by executors (fault.h), journaled
 * to disk before they are applied, expired automatically, reverted on stop,
 * shutdown and after a crash.
 *
 * An injection has an id (16 hex), a name (experiment_name or generated),
 * one or more parts (type x node, each with its own executor and revert
 * state: a compound injection is simply several parts), a severity, a
 * duration and a status:
 *
 *     pending -> active -> reverting -> reverted
 *        \                     \
 *         `-> failed (apply)    `-> failed (revert gave up; journal kept)
 *
 * A compound injection is all or nothing: when one part cannot be applied
 * the parts already applied are reverted and the injection is failed.
 *
 * Journal: <data_dir>/anomaly/<id>.json (its own schema, journal_version
 * 2, src/anomaly/journal.c), written atomically with fsync
 * (dbp_write_file_atomic) before each part is applied ("applying"), after
 * it is applied (with the executor's state), and after each revert.  At
 * start every part that may still be in place (applying, applied,
 * reverting, revert_failed) is reverted from its state; a part that was
 * "applying" when the daemon died has no state yet and is reverted from an
 * intent state {"intent": true, "id", "part", "type", "node", "params"} by
 * which executors find what they created (names and markers derive from the
 * id).  See docs/faults.md.
 *
 * Threads: apply lanes make the executors' apply calls, revert lanes (of
 * their own, so no revert waits behind an apply) expire and revert, and an
 * evidence lane measures evidence on a timer; reads only copy.  API
 * handlers validate, enqueue and wait (bounded).  All public functions are
 * thread-safe.  Lock order: a->lock is taken before nothing
 * else (executor calls and collector reads happen with it released).
 */
#ifndef DBP_ANOMALY_H
#define DBP_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/config.h"
#include "dbp/err.h"
#include "dbp/fault.h"
#include "dbp/util.h"

struct dbp_anomalies;
struct dbp_collector;

#define DBP_ANOMALY_ID_LEN 17     /* 16 hex + NUL */
#define DBP_ANOMALY_MAX_PARTS 16
#define DBP_ANOMALY_NAME_MAX 128

/* ---- the type table (pure, no registry needed) --------------------------- */

/* Number of types and the i-th name (NULL past the end). */
size_t dbp_anomaly_ntypes(void);
const char *dbp_anomaly_type_name(size_t i);
/* Index of a type name, or -1. */
int dbp_anomaly_type_index(const char *name);
/* 0, 1, 2 for "low", "medium", "high"; -1 otherwise. */
int dbp_anomaly_severity_index(const char *name);
/*
 * The severity row of `type` for an executor (caller owns): the lab table
 * for "local" and "sql", the original's reference table (reference §3.2)
 * for "chaosmesh" where one exists.  ncpu scales the cpu_stress workers
 * (<= 0: this host's CPU count).  NULL for an unknown type or severity.
 */
cJSON *dbp_anomaly_params(const char *type, const char *severity, const char *executor, int ncpu);

/* ---- requests ------------------------------------------------------------ */

struct dbp_anomaly_part_req {
    char type[32];
    char node[DBP_NAME_MAX];   /* "" = let the registry choose one */
    char severity[8];          /* "" = the request's severity */
};

struct dbp_anomaly_req {
    struct dbp_anomaly_part_req parts[DBP_ANOMALY_MAX_PARTS];
    int nparts;
    char severity[8];          /* "low" | "medium" | "high" ("" = medium) */
    int duration_s;            /* 0 = anomaly.default_duration_s */
    char name[DBP_ANOMALY_NAME_MAX]; /* experiment_name ("" = generated) */
    bool collect_training_data;
    bool save_post_data;
};

/* ---- lifecycle ------------------------------------------------------------ */

/*
 * Build the registry from a config snapshot (copied: nodes, data_dir,
 * anomaly.*) and construct the executors the config allows (chaosmesh when
 * linked in and Kubernetes is configured; local; sql).  collector is
 * borrowed (may be NULL) for metric evidence and must outlive the registry.
 */
int dbp_anomalies_new(const struct dbp_config *cfg, struct dbp_collector *collector,
                      struct dbp_anomalies **out, struct dbp_err *err);
/*
 * Test seam: replace (or add) the executor named ex->name before start.
 * The registry takes ownership (free_ctx is called at free).  Used by the
 * unit tests' fake executor (a test double) and nothing else.
 */
int dbp_anomalies_set_executor(struct dbp_anomalies *a, const struct dbp_executor *ex);
/*
 * Load the journal (every file under <data_dir>/anomaly/), queue the revert
 * of whatever a previous process left applied, start the lanes.  The
 * leftovers are tried once before anything new is applied.
 */
int dbp_anomalies_start(struct dbp_anomalies *a, struct dbp_err *err);
/*
 * Refuse new injections, tell applies in progress to stop, revert every
 * active injection on the revert lanes in parallel (bounded: each executor
 * call has its own timeouts), join the lanes.  A revert that
 * fails stays in the journal and is retried at the next start.  Idempotent;
 * safe after a failed start.
 */
void dbp_anomalies_stop(struct dbp_anomalies *a);
void dbp_anomalies_free(struct dbp_anomalies *a);

/* ---- actions (thread-safe) ------------------------------------------------ */

/*
 * Validate and queue an injection; wait up to wait_ms for it to be applied.
 * Errors (nothing injected): DBP_ESCHEMA (unknown type, severity, duration
 * out of 1..max_duration_s, duplicate part, too many parts, no executor for
 * a type on a node - err names the field or reason), DBP_ENOTFOUND (unknown
 * node), DBP_EBUSY (the same type already active on that node),
 * DBP_EUNAVAIL (stopping).  After queuing, an apply failure returns the
 * executor's code with the record in *record (status failed).  *record
 * (caller owns) is the record after the wait (status pending when the
 * wait ran out, active when applied).
 */
int dbp_anomalies_inject(struct dbp_anomalies *a, const struct dbp_anomaly_req *req, int wait_ms,
                         cJSON **record, struct dbp_err *err);
/* Stop one injection (by id or name) and wait up to wait_ms for its revert.
 * DBP_ENOTFOUND when unknown.  *record (may be NULL) gets the record;
 * *stopped is set to whether it was still active. */
int dbp_anomalies_stop_one(struct dbp_anomalies *a, const char *id_or_name, int wait_ms,
                           bool *stopped, cJSON **record, struct dbp_err *err);
/* Stop every injection that has a part of `type` (NULL = all) and wait up
 * to wait_ms; *ids (caller owns, may be NULL) = array of the ids stopped
 * and *names the names. */
int dbp_anomalies_stop_all(struct dbp_anomalies *a, const char *type, int wait_ms, cJSON **ids,
                           cJSON **names);

/* ---- reads (thread-safe, copies) ------------------------------------------ */

/* One record (caller owns) or NULL: a copy (evidence is measured by the
 * registry's evidence lane, never on the caller's thread). */
cJSON *dbp_anomalies_get_json(struct dbp_anomalies *a, const char *id_or_name);
/* Records, newest first: only pending/active/reverting ones when
 * active_only, else every record kept (active and recently ended). */
cJSON *dbp_anomalies_list_json(struct dbp_anomalies *a, bool active_only);
/* GET /api/anomaly/types: every type with description, severity tables
 * and which executor can run it on which node here. */
cJSON *dbp_anomalies_types_json(struct dbp_anomalies *a);
/* Configured node names (array of strings). */
cJSON *dbp_anomalies_nodes_json(struct dbp_anomalies *a);
/*
 * For the ML module (training labels): a JSON array of injections, newest
 * first, active and recently ended, each {id, name, type, types, nodes,
 * parts: [{type, node, severity}], severity, start, end, status} with
 * start/end as unix seconds (end = actual end, or the planned end while
 * active).  *out is owned by the caller.  Returns 0.
 */
int dbp_anomalies_snapshot(struct dbp_anomalies *a, cJSON **out);

/* Change counter: bumped whenever a record changes (SSE). */
unsigned long dbp_anomalies_version(struct dbp_anomalies *a);
/* Wait up to timeout_ms for the version to differ from `seen`; returns the
 * current version. */
unsigned long dbp_anomalies_wait_change(struct dbp_anomalies *a, unsigned long seen,
                                        int timeout_ms);

/* /metrics exporter (dbp_exporter_fn): dbpecker_anomaly_active{type,node,id}
 * and dbpecker_anomaly_injections_total{type,result}. */
int dbp_anomalies_render_prom(void *anomalies, struct dbp_buf *out);
/* /health service state: "running", "degraded" (a revert keeps failing),
 * "stopped". */
const char *dbp_anomalies_state(void *anomalies, char *detail, size_t detailsz);

#endif
