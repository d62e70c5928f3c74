/*
 * ml.h - the diagnosis service behind struct dbp_app.ml: the active model,
 * training as a background job, diagnosis of the current window (from the
 * collector's ring) or of a past time range (ring or Prometheus), the
 * Compound Anomaly Graph ranking with its two baselines, MetricRooter, an
 * optional continuous diagnosis thread, and the dbpecker_diagnosis_*
 * series on /metrics.
 *
 * Lifecycle: dbp_ml_new() after the collector (which it borrows; may be
 * NULL) and before HTTP; dbp_ml_start() loads the newest model of
 * training.models_dir (none is not an error: diagnosis answers 503 until
 * a model is trained); dbp_ml_stop() after HTTP, before the collector;
 * dbp_ml_free().
 *
 * Threads: every function is thread-safe.  Lock order: ml->lock is taken
 * alone and never held across a collector, Prometheus, file or XGBoost
 * call; models serialise their own XGBoost calls (model.h).  Training runs
 * on a job worker (jobs.h), one at a time; the continuous diagnosis thread
 * is owned by the module and joined by dbp_ml_stop().
 */
#ifndef DBP_ML_H
#define DBP_ML_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"
#include "dbp/jobs.h"
#include "dbp/util.h"

struct dbp_config;
struct dbp_collector;
struct dbp_catalog;
struct dbp_ml;

/* Build from a config snapshot (paths, Prometheus, interval copied).  The
 * collector and jobs are borrowed and must outlive the module. */
int dbp_ml_new(const struct dbp_config *cfg, struct dbp_collector *collector, struct dbp_jobs *jobs,
               struct dbp_ml **out, struct dbp_err *err);
/* Load the newest model (a corrupt one is logged and skipped). */
int dbp_ml_start(struct dbp_ml *ml, struct dbp_err *err);
/* Stop the continuous thread and refuse new training; idempotent. */
void dbp_ml_stop(struct dbp_ml *ml);
void dbp_ml_free(struct dbp_ml *ml);
/* Apply reloadable settings (paths, Prometheus URL and timeout). */
void dbp_ml_reload(struct dbp_ml *ml, const struct dbp_config *cfg);

/* ---- models ------------------------------------------------------------- */

/* ["dist-diagnosis-model_...", ...] newest first. */
int dbp_ml_models_list(struct dbp_ml *ml, cJSON **out, struct dbp_err *err);
/* evaluation.json of a model: DBP_ENOTFOUND for an unknown model or one
 * without evaluation. */
int dbp_ml_model_performance(struct dbp_ml *ml, const char *name, cJSON **out, struct dbp_err *err);
/* {"valid": true, "message", "details": {"classifiers", "feature_info":
 * {"dim", "window", "classes", "catalog", "metrics"}, "evaluation"}} or
 * {"valid": false, "error"}; DBP_ENOTFOUND when no such model directory. */
int dbp_ml_model_validate(struct dbp_ml *ml, const char *name, cJSON **out, struct dbp_err *err);
/* {"active_model": name|null, "classes", "window", "training": status,
 *  "continuous": {...}} */
cJSON *dbp_ml_status_json(struct dbp_ml *ml);

/* ---- training -------------------------------------------------------------- */

struct dbp_ml_train_req {
    int window;                 /* 0 = training.window */
    int stride;                 /* 0 = window */
    int rounds, max_depth;      /* 0 = defaults */
    int nthread;                /* XGBoost threads for training, 0 = 1 */
    double eta;                 /* 0 = default */
    double test_fraction;       /* < 0 = default 0.2 */
    long long seed;             /* < 0 = default 1314 */
    int pagerank;               /* enum dbp_pr_form, < 0 = normalised */
    const char *const *classes; /* NULL = the fault types found in the cases */
    int nclasses;
    size_t max_rows; /* 0 = 200000 */
    const char *data_dir; /* cases; NULL = training.data_dir (a campaign trains on its own) */
};

/* Queue a training job on the cases of training.data_dir; DBP_EBUSY when
 * one is queued or running. */
int dbp_ml_train_submit(struct dbp_ml *ml, const struct dbp_ml_train_req *rq,
                        char job_id[DBP_JOB_ID_LEN], struct dbp_err *err);
/* The original's TrainingStatus {stage, progress, message, error, stats}
 * plus job_id, started_at, finished_at, model. */
cJSON *dbp_ml_training_status(struct dbp_ml *ml);

/*
 * Run a training synchronously on the calling thread (the job body; also
 * for tests and benchmarks).  data_dir/models_dir NULL = the configured
 * ones.  On success the model is saved, becomes active, and *result (may be
 * NULL) receives {"model", "stats", "evaluation"}.
 */
int dbp_ml_train_run(struct dbp_ml *ml, const struct dbp_ml_train_req *rq,
                     int (*progress)(void *cls, double pct, const char *msg), void *cls,
                     cJSON **result, struct dbp_err *err);

/* ---- diagnosis ------------------------------------------------------------- */

enum dbp_ml_source { DBP_SRC_AUTO = 0, DBP_SRC_RING, DBP_SRC_PROMETHEUS };

struct dbp_ml_diag_req {
    double start, end; /* wall seconds; NaN = the current window */
    const char *model; /* NULL = the active model */
    enum dbp_ml_source source;
    double threshold; /* RankItems with score <= threshold are dropped
                         from "all_ranked_anomalies" (0.001) */
    int pagerank;     /* enum dbp_pr_form, < 0 = the model's */
    bool publish;     /* update the /metrics scores (current window) */
};

void dbp_ml_diag_req_init(struct dbp_ml_diag_req *rq);

/*
 * Diagnose: per node the model's window of W samples -> features ->
 * per-type probabilities; edges = mean |Pearson| of the per-metric series;
 * weighted PageRank; pairs ranked by PR x P; baselines "xgboost" (P only)
 * and "rule" (largest-|z| category per node).  With a range, the samples
 * in it are tiled into windows of W from the end (at most 60) and the
 * window with the highest top score is reported, with a "windows" timeline.
 * Result: the original's diagnosis shape (reference §6.6) — timestamp,
 * model, scores, node_predictions, propagation_graph, all_ranked_anomalies
 * — plus node_names, source, window, pagerank, baselines, compound,
 * windows, missing_nodes.  DBP_EUNAVAIL: no model / no collector / no
 * samples; DBP_ENOTFOUND: unknown model.
 */
int dbp_ml_diagnose(struct dbp_ml *ml, const struct dbp_ml_diag_req *rq, cJSON **out,
                    struct dbp_err *err);

/*
 * The /api/anomaly/compound shape (reference §2.2 row 6) from a diagnosis
 * result (borrowed): high pairs = probability >= the model's threshold
 * (0.5) and score > threshold; compound when at least 2 high pairs (several
 * types on one node, or faults on several nodes).  Caller owns.
 */
cJSON *dbp_ml_compound_view(const cJSON *diagnosis, double threshold);

/* MetricRooter for one node over the collector's ring (its newest
 * min(collector.history_points, 2880) samples).  DBP_ENOTFOUND unknown node. */
int dbp_ml_metrics_ranks(struct dbp_ml *ml, const char *node, int langs, cJSON **out,
                         struct dbp_err *err);

/* Continuous diagnosis of the current window every interval_s (>= 1):
 * on / off; returns the state {"enabled", "interval_s", "runs",
 * "last_error", "last_run"}. */
int dbp_ml_continuous(struct dbp_ml *ml, bool on, double interval_s, cJSON **state,
                      struct dbp_err *err);
cJSON *dbp_ml_continuous_state(struct dbp_ml *ml);

/* /metrics exporter (dbp_exporter_fn) and /health state (dbp_service_state_fn). */
int dbp_ml_render_prom(void *ml, struct dbp_buf *out);
const char *dbp_ml_state(void *ml, char *detail, size_t detailsz);

#endif
