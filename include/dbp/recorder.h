/*
 * recorder.h - training cases recorded from the live pipeline.
 *
 * The recorder listens to the collector (dbp_collector_set_listener): while
 * a case is open, every published cycle appends one sample per node - the
 * same processed values (rates for counters) that diagnosis reads from the
 * ring, so training and diagnosis see the same windows.  When the case ends
 * (by the API, by its duration, or at shutdown) it is labelled and written
 * with dbp_case_write() (dataset.h: metrics.json then label.json, each
 * atomically).
 *
 * Labels come from the fault registry, not from the request: at the end of
 * a case the recorder reads dbp_anomalies_snapshot() and takes every part
 * of every injection that was applied during the case, with its exact node.
 * start_time/end_time of the label are the span of those faults inside the
 * recording, so samples recorded before the injection or after its revert
 * are negatives.  The declared type and node of the request are kept as
 * "declared" in label.json; when they disagree with the registry the
 * registry wins and the result says so ("warnings").  A case during which
 * nothing was injected is a normal case.
 *
 * One case is open at a time (anomaly or normal), as in the original.  No
 * lock is held across a file write or another module's call, so no route
 * can deadlock another (the original's /normal/stop did).
 *
 * Threads: every function is thread-safe.  The recorder owns one thread that
 * closes cases whose time is up.  Lifecycle: new after the collector and
 * the fault registry (both borrowed, may be NULL), start, stop (saves an
 * open case), free after the collector has stopped.
 */
#ifndef DBP_RECORDER_H
#define DBP_RECORDER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"

struct dbp_config;
struct dbp_collector;
struct dbp_anomalies;
struct dbp_recorder;

int dbp_recorder_new(const struct dbp_config *cfg, struct dbp_collector *collector,
                     struct dbp_anomalies *anomalies, struct dbp_recorder **out,
                     struct dbp_err *err);
int dbp_recorder_start(struct dbp_recorder *r, struct dbp_err *err);
/* Save the open case (if any), detach from the collector, join the thread.
 * Idempotent. */
void dbp_recorder_stop(struct dbp_recorder *r);
void dbp_recorder_free(struct dbp_recorder *r);
/* Reloadable settings: data_dir, case_duration_s, post_s, max_case_samples. */
void dbp_recorder_reload(struct dbp_recorder *r, const struct dbp_config *cfg);

#define DBP_REC_MAX_SUBTYPES 8
#define DBP_REC_MAX_NODES 8

struct dbp_rec_req {
    bool normal;      /* a normal-state case (no duration unless given) */
    const char *type; /* declared: a fault type or "compound" (anomaly case) */
    const char *node; /* declared node, NULL = none */
    const char *subtypes[DBP_REC_MAX_SUBTYPES]; /* declared compound types */
    int nsubtypes;
    const char *nodes[DBP_REC_MAX_NODES]; /* declared nodes of a multi-node case */
    int nnodes;
    const char *scenario; /* label "scenario" (NULL = none) */
    const char *split;    /* label "split": "train" | "test" | NULL */
    double duration_s;    /* closes by itself after this; 0 = training.case_duration_s
                             for an anomaly case, never for a normal one */
    const char *dir;      /* case root; NULL = training.data_dir */
};

/*
 * Open a case.  DBP_EBUSY when one is open (err says which).  *out (may be
 * NULL) = {"case", "type", "node", "start_time", "expected_duration"}.
 */
int dbp_recorder_begin(struct dbp_recorder *r, const struct dbp_rec_req *rq, cJSON **out,
                       struct dbp_err *err);

enum dbp_rec_which { DBP_REC_ANY = 0, DBP_REC_ANOMALY, DBP_REC_NORMAL };

/*
 * Close the open case of that kind: label it from the registry and write it
 * (save_post: keep the samples recorded after the last fault ended; false
 * cuts them).  DBP_ENOTFOUND when no such case is open; a write error is
 * returned with the case dropped from memory and logged.  *out (may be
 * NULL) = {"case", "path", "label", "samples", "nodes", "warnings"}.
 */
int dbp_recorder_end(struct dbp_recorder *r, enum dbp_rec_which which, bool save_post,
                     cJSON **out, struct dbp_err *err);

/* Drop the open case without saving; *out = {"anomaly_collection",
 * "normal_collection"} as they were. */
void dbp_recorder_reset(struct dbp_recorder *r, cJSON **out);

/* The original's /collection-status shape plus "case", "samples",
 * "cases_written", "last_case", "last_error". */
cJSON *dbp_recorder_status_json(struct dbp_recorder *r);
/* Is a case of that kind open? */
bool dbp_recorder_open(struct dbp_recorder *r, enum dbp_rec_which which);
/* Cycles recorded into the open case (0 when none). */
long dbp_recorder_samples(struct dbp_recorder *r);
/* The configured case root (copied into out). */
void dbp_recorder_data_dir(struct dbp_recorder *r, char *out, size_t outsz);

/*
 * Label a case from a registry snapshot (dbp_anomalies_snapshot's array):
 * every applied part of every injection that overlaps [from, to].  Fills
 * l->faults, type, node, start_time/end_time (the faults' span clipped to
 * the recording; the recording's bounds when none); *fault_end receives the
 * end of the last fault (NaN when none).  Exposed for the unit tests.
 */
struct dbp_case_label;
void dbp_recorder_label(const cJSON *snapshot, double from, double to,
                        struct dbp_case_label *l, double *fault_end, cJSON *injections);

#endif
