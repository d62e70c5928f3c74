/*
 * model.h - the node-level multi-label diagnoser: one binary XGBoost
 * booster per anomaly type (C API), trained on pooled node windows,
 * evaluated on held-out cases, saved as XGBoost JSON with its metadata.
 *
 * On disk, <models_dir>/<name>/ (name "dist-diagnosis-model_YYYYmmdd_HHMMSS"
 * in UTC, like the original; "_2", "_3" ... when taken):
 *   booster_<type>.json  XGBoosterSaveModel, XGBoost's JSON model format
 *   meta.json            {"format": "dbpecker-model/1", "name", "created_at",
 *                         "classes": [...], "window", "stride", "catalog",
 *                         "metrics": [{"name", "category"}...] (feature order),
 *                         "features_per_metric": ["mean", ...],
 *                         "feature_names": ["<metric>:<feature>", ...] (dim),
 *                         "dim", "params": {...}, "seed", "pagerank",
 *                         "train": {"rows", "cases", "positives": {type: n}},
 *                         "test": {...}, "boosters": {type: file},
 *                         "xgboost_version", "data_dir"}
 *   evaluation.json      see dbp_model_evaluate()
 *   config.json          the original's {"num_classifier", "classes",
 *                         "time_window"} for its tools
 * The directory is written under a temporary name and renamed into place,
 * so a listed model is always complete.
 *
 * XGBoost contract (STYLE §4): every call goes through one checked helper
 * that copies XGBGetLastError() into struct dbp_err (DBP_EXGB); prediction
 * results (library-owned, thread-local) are copied before the next call;
 * one thread trains a booster.  Prediction: XGBoost documents predict as
 * thread-safe for tree boosters since 1.4 (doc/prediction.rst, "Thread
 * Safety"), but the first prediction after loading configures the learner
 * lazily, and predict runs OpenMP inside anyway, so callers gain nothing
 * from running it in parallel on 2 cores: a model serialises its XGBoost
 * calls with its own mutex (a leaf lock) and runs one warm-up prediction
 * at load.  Models are reference-counted so a diagnosis can keep using a
 * model while training publishes a new one.
 */
#ifndef DBP_MODEL_H
#define DBP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/dataset.h"
#include "dbp/err.h"
#include "dbp/rank.h"

#define DBP_MODEL_PREFIX "dist-diagnosis-model"
#define DBP_MODEL_NAME_MAX 128

struct dbp_model_params {
    int rounds;              /* boosting rounds per booster (100) */
    int max_depth;           /* 6 */
    double eta;              /* 0.3 */
    double min_child_weight; /* 1 */
    double subsample;        /* 1 */
    double scale_pos_weight; /* 1 */
    unsigned long long seed; /* 1314, the research code's seed */
    int nthread;             /* 1: XGBoost's OpenMP barriers on 2 cores shared with
                                the database and workloads made a 1k-window
                                training take 15 s instead of 2 s (measured, see
                                docs/diagnosis.md); 2 helps only on an idle box */
    double threshold;        /* decision threshold for precision/recall (0.5) */
    double test_fraction;    /* 0.2 */
    enum dbp_pr_form pagerank;
};

void dbp_model_params_default(struct dbp_model_params *p);

/* What the features mean: recorded in meta.json, checked at diagnosis. */
struct dbp_model_spec {
    const char *catalog;
    size_t nmetrics;
    const char *const *metric_names;
    const char *const *metric_categories;
    int window;
    int stride;
    const char *data_dir; /* provenance, may be NULL */
};

struct dbp_model;

/* Progress pct 0..100 with a message; return nonzero to cancel. */
typedef int (*dbp_progress_fn)(void *cls, double pct, const char *msg);

/*
 * Train one booster per class of ds on rows [0, ds->ntrain) (objective
 * binary:logistic, eval_metric logloss, tree_method hist, the params' depth,
 * eta, seed, nthread), one XGBoosterUpdateOneIter per round with progress
 * after each; then evaluate on rows [ntrain, rows) when there are any.
 * Cancel -> DBP_EBUSY "cancelled".  *out: new unsaved model, 1 reference.
 */
int dbp_model_train(const struct dbp_dataset *ds, const struct dbp_model_spec *spec,
                    const struct dbp_model_params *p, dbp_progress_fn progress, void *cls,
                    struct dbp_model **out, struct dbp_err *err);

/*
 * Probabilities P(type | row) for rows x[rows * dim] into probs[rows *
 * nclasses] (row-major).  Thread-safe (serialised per model).
 */
int dbp_model_predict(struct dbp_model *m, const float *x, size_t rows, double *probs,
                      struct dbp_err *err);

/*
 * Evaluation on rows [r0, r1) of ds (whose classes must be the model's):
 * {"rows", "cases", "instances", "threshold",
 *  "per_type": {type: {"precision", "recall", "f1", "support", "tp", "fp",
 *               "fn", "tn"}},              (XGBoost at the threshold)
 *  "macro_f1",
 *  "per_type_rule": {...}, "macro_f1_rule",  (rule baseline: its type with
 *                                             |z| >= 3 counts as positive)
 *  "ac_at_k": {"instances": n, "pagerank": form,
 *              "methods": {"graph": {"AC@1", "AC@3", "AC@5"},
 *                          "xgboost": {...}, "rule": {...}},
 *              "by_group": {"single_node" | "multi_node" |
 *                           "single_node_compound" | "multi_node_compound":
 *                           {"instances", "graph", "xgboost", "rule"}},
 *              "by_scenario": {scenario: {...}}}}
 * AC@k = mean Precision@k over instances with at least one root cause;
 * groups follow the paper's Table 7 (one/several nodes x one/several types
 * in the instance's truth).  Caller owns *out.
 */
int dbp_model_evaluate(struct dbp_model *m, const struct dbp_dataset *ds, size_t r0, size_t r1,
                       enum dbp_pr_form form, cJSON **out, struct dbp_err *err);

/*
 * Save into <models_dir>/<name>/ (name NULL = generated from the creation
 * time); sets the model's name.  DBP_EBUSY when a given name exists.
 */
int dbp_model_save(struct dbp_model *m, const char *models_dir, const char *name,
                   struct dbp_err *err);

/*
 * Load and validate <models_dir>/<name>: meta.json shape, one booster file
 * per class that XGBoost loads with the recorded feature count, a warm-up
 * prediction.  DBP_ENOTFOUND (no such model), DBP_ESCHEMA/DBP_EXGB
 * (corrupt, with the file and what is wrong).
 */
int dbp_model_load(const char *models_dir, const char *name, struct dbp_model **out,
                   struct dbp_err *err);

/* Reference counting (thread-safe); unref of the last reference frees. */
struct dbp_model *dbp_model_ref(struct dbp_model *m);
void dbp_model_unref(struct dbp_model *m);

/* Model directory names under models_dir starting with DBP_MODEL_PREFIX,
 * newest first (caller frees with dbp_cases_list_free). */
int dbp_model_list(const char *models_dir, char ***names, size_t *n, struct dbp_err *err);
/* True when name is a well-formed model name (prefix, [A-Za-z0-9_.-]). */
bool dbp_model_name_ok(const char *name);

/* Accessors (borrowed, valid while the reference is held). */
const char *dbp_model_name(const struct dbp_model *m);
int dbp_model_nclasses(const struct dbp_model *m);
const char *dbp_model_class(const struct dbp_model *m, int i);
int dbp_model_window(const struct dbp_model *m);
size_t dbp_model_dim(const struct dbp_model *m);
size_t dbp_model_nmetrics(const struct dbp_model *m);
const char *dbp_model_metric(const struct dbp_model *m, size_t i);
const char *dbp_model_metric_category(const struct dbp_model *m, size_t i);
const char *dbp_model_catalog(const struct dbp_model *m);
enum dbp_pr_form dbp_model_pagerank(const struct dbp_model *m);
const cJSON *dbp_model_meta(const struct dbp_model *m);
/* Evaluation (NULL when none); after train, before save, too. */
const cJSON *dbp_model_eval(const struct dbp_model *m);

#endif
