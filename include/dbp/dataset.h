/*
 * dataset.h - training cases on disk and the training matrix built from them.
 *
 * A case is a directory <root>/<name>/ with two files in the original's
 * format (reference §6.1), each written atomically (tmp file + fsync +
 * rename); metrics.json is written first and label.json last, so a
 * directory without label.json is an unfinished case and is ignored:
 *
 *   metrics.json  [{"timestamp": iso, "node": name,
 *                   "metrics": {category: {metric: value}}}, ...]
 *                 one entry per node per sample, values as the collector
 *                 serves them (per-second rates for counters, values for
 *                 gauges).  A missing value is an absent key (JSON has no
 *                 NaN).  Reading also accepts the original's variants: the
 *                 literal timestamp "latest", a flat {metric: value} map,
 *                 and unknown categories such as "node_relationships"
 *                 (ignored); metric names are matched to the catalog
 *                 case-insensitively.
 *
 *   label.json    the original's fields, plus an explicit list of faults:
 *     normal     {"type": "normal", "start_time": iso, "end_time": iso,
 *                 "metrics_count": n, "anomalies": []}
 *     single     {"type": T, "node": N, "start_time", "end_time",
 *                 "metrics_count", "anomalies": [{"type": T, "node": N}]}
 *     compound   {"type": "compound", "subtypes": [T1, T2], "node": N,
 *                 ..., "anomalies": [{"type": T1, "node": N}, ...]}
 *     multi-node {"type": "compound", "subtypes": [T1, ...],
 *                 "nodes": [N1, ...], ..., "anomalies": [...]}
 *     optional   "scenario": "B2" (free text; AC@k is also reported per
 *                scenario), "workload": "...", "split": "train" | "test"
 *                (a campaign's fixed side of the train/test split).
 *   Ground truth = "anomalies" when present (authoritative, one entry per
 *   <node, type> root cause).  Without it (files written by the original):
 *   single -> {(type, node)}; compound -> every subtype on every node of
 *   "nodes" (or on "node"); normal -> none.  A node "*" means every node of
 *   the case (a cluster-wide fault such as a workload surge).
 *   Node matching is exact string equality with the entry's "node": the
 *   original's substring matching marked every node anomalous when the
 *   label said "obcluster".  A case whose label names a node that no entry
 *   of metrics.json has is skipped from training with a reason (its truth
 *   is unknown), never silently turned into negatives.
 *
 * Thread-safety: functions work on caller-owned structs; no shared state.
 */
#ifndef DBP_DATASET_H
#define DBP_DATASET_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"

struct dbp_catalog;

#define DBP_CASE_NAME_MAX 192
#define DBP_LABEL_STR_MAX 64
/* Largest metrics.json read (a 1-hour case of 30 nodes is ~40 MB). */
#define DBP_CASE_MAX_BYTES (256u << 20)

struct dbp_case_fault {
    char type[DBP_LABEL_STR_MAX];
    char node[DBP_LABEL_STR_MAX]; /* "*" = every node of the case */
};

struct dbp_case_label {
    char type[DBP_LABEL_STR_MAX]; /* "normal", a fault type, or "compound" */
    char node[DBP_LABEL_STR_MAX]; /* the original's single node ("" if none) */
    char scenario[DBP_LABEL_STR_MAX];
    double start_time, end_time;   /* wall seconds; NaN when absent */
    long metrics_count;            /* -1 when absent */
    struct dbp_case_fault *faults; /* ground truth, heap */
    int nfaults;
    /* "train" | "test" | "": a campaign fixes which side of the split a
     * case falls on, so its report is measured on cases the model never
     * saw; "" = the seeded stratified split decides. */
    char split[8];
    /* Further fields written into label.json as they are (recorder
     * provenance: declared type, recording bounds, injection ids); owned,
     * may be NULL; not read back. */
    cJSON *extra;
};

/* Parse label.json's object (borrowed).  Fills *l (release with
 * dbp_case_label_release); DBP_ESCHEMA naming the field on bad input. */
int dbp_case_label_parse(const cJSON *o, struct dbp_case_label *l, struct dbp_err *err);
/* label.json for l (caller owns): the original's fields + "anomalies". */
cJSON *dbp_case_label_json(const struct dbp_case_label *l);
/* Add a fault (copied) to the ground truth. */
void dbp_case_label_add(struct dbp_case_label *l, const char *type, const char *node);
void dbp_case_label_release(struct dbp_case_label *l);
/* True when type/name is usable as a class or node name: 1..63 chars of
 * [A-Za-z0-9_.:-] (node names may also contain '@' and '/'). */
bool dbp_label_type_ok(const char *type);

/* One case in memory: per node, samples in catalog metric order. */
struct dbp_case {
    char name[DBP_CASE_NAME_MAX]; /* directory name */
    struct dbp_case_label label;
    size_t nmetrics; /* values per sample (catalog size) */
    int nnodes;
    char (*nodes)[DBP_LABEL_STR_MAX];
    int *nsamples; /* per node */
    int *cap;
    double **ts;            /* per node: nsamples wall seconds (NaN = unknown) */
    double **vals;          /* per node: nsamples * nmetrics, sample-major, NaN = missing */
    size_t unknown_metrics; /* metric names not in the catalog (ignored on read) */
};

void dbp_case_init(struct dbp_case *c, size_t nmetrics);
void dbp_case_release(struct dbp_case *c);
/* Append one sample of node (added on first use) taken at ts; values has
 * nmetrics entries (copied).  Returns the node index. */
int dbp_case_add_sample(struct dbp_case *c, const char *node, double ts, const double *values);
/* Index of node in c, -1 if absent. */
int dbp_case_node(const struct dbp_case *c, const char *node);
/* Is (node index, type) a root cause of the case? */
bool dbp_case_truth(const struct dbp_case *c, int node, const char *type);
/* The first label node that matches no node of the case, or NULL. */
const char *dbp_case_unmatched_node(const struct dbp_case *c);

/*
 * The original's directory name: case_<type>_<node>_<YYYYmmddHHMMSS>,
 * compound case_compound_<t1>_plus_<t2>_<node|multi>_<ts>, normal
 * case_normal_<ts>; node strings reduced to [A-Za-z0-9._-] (the original
 * embedded Python list syntax).
 */
void dbp_case_dirname(const struct dbp_case_label *l, double ts, char *out, size_t outsz);

/*
 * Write c into <root>/<c->name>/ (created; the root too).  metrics.json
 * then label.json, each atomically.  metric names and categories come from
 * the catalog (c->nmetrics must equal its size).  DBP_EBUSY when the case
 * directory already has a label.json.
 */
int dbp_case_write(const char *root, const struct dbp_case *c, const struct dbp_catalog *cat,
                   struct dbp_err *err);

/* Read <dir>/label.json and <dir>/metrics.json into *c (initialised here;
 * release with dbp_case_release), mapping metric names through cat. */
int dbp_case_read(const char *dir, const struct dbp_catalog *cat, struct dbp_case *c,
                  struct dbp_err *err);
/* Only the label of a case directory. */
int dbp_case_read_label(const char *dir, struct dbp_case_label *l, struct dbp_err *err);

/* Case directories under root that have a label.json, sorted by name
 * (caller frees each name and the array).  A missing root is 0 cases. */
int dbp_cases_list(const char *root, char ***names, size_t *n, struct dbp_err *err);
void dbp_cases_list_free(char **names, size_t n);

/*
 * Dataset statistics in the shape of the original's /api/training/stats
 * (reference §6.2): {"normal", "anomaly", "anomaly_types": {type: n},
 * "total_samples", "normal_ratio", "anomaly_ratio", "is_balanced"}, counted
 * in metrics.json entries like the original, plus "cases", "cases_by_type"
 * and "fault_types" (root-cause pairs per type).  Caller owns *out.
 */
int dbp_dataset_stats(const char *root, cJSON **out, struct dbp_err *err);

/* ---- the training matrix ---------------------------------------------- */

/* One diagnosis instance: the windows of every node of a case at the same
 * sample positions (rows first_row .. first_row + nnodes - 1). */
struct dbp_ds_instance {
    int group; /* case index */
    int nnodes;
    size_t first_row;
    double *w; /* nnodes * nnodes edge weights (dbp_rank_edge_weights) */
};

struct dbp_dataset {
    size_t dim; /* features per row */
    int nclasses;
    char (*classes)[DBP_LABEL_STR_MAX];
    size_t rows, cap, max_rows;
    size_t ntrain;      /* rows [0, ntrain) train, [ntrain, rows) test */
    float *X;           /* rows * dim */
    unsigned char *Y;   /* rows * nclasses, 0/1 */
    int *group;         /* case index of the row */
    int *inst;          /* instance index of the row */
    int *rule_type;     /* rule baseline's class for the row, -1 = none */
    double *rule_score; /* and its |z| */
    struct dbp_ds_instance *insts;
    size_t ninst, icap;
    int ngroups;
    char (*group_names)[DBP_CASE_NAME_MAX];
    char (*group_scenario)[DBP_LABEL_STR_MAX];
    bool *group_test;
};

/* Empty dataset for rows of dim features and the given classes (copied). */
void dbp_dataset_init(struct dbp_dataset *ds, size_t dim, const char *const *classes, int nclasses,
                      size_t max_rows);
void dbp_dataset_release(struct dbp_dataset *ds);
/* Register a group (case); returns its index. */
int dbp_dataset_add_group(struct dbp_dataset *ds, const char *name, const char *scenario,
                          bool test);
/* Append one row (x: dim floats, y: nclasses 0/1, both copied).
 * DBP_ETOOBIG past max_rows, DBP_ENOMEM. */
int dbp_dataset_add_row(struct dbp_dataset *ds, int group, int inst, const float *x,
                        const unsigned char *y, int rule_type, double rule_score);
/* Open an instance of nnodes rows that the next nnodes add_row calls fill;
 * w (nnodes^2) is copied.  Returns its index or a DBP_E* code. */
int dbp_dataset_add_instance(struct dbp_dataset *ds, int group, int nnodes, const double *w);

/*
 * Seeded, stratified split of groups (cases) into train and test: groups
 * are bucketed by their stratum key (the case's set of fault types, e.g.
 * "cpu_stress+io_bottleneck" or "normal"); in each bucket, shuffled with a
 * splitmix64 stream from seed, round(test_fraction * n) groups go to test
 * (at least 1 when the bucket has 2 or more, none when it has 1).  Whole
 * groups move, never single rows: windows of one case overlap in time and
 * look alike, and splitting them would leak test data into training.
 * Same keys, fraction and seed -> same split.
 */
void dbp_split_groups(const char *const *keys, int ngroups, double test_fraction,
                      unsigned long long seed, bool *is_test);

/* Reorder rows so that rows of groups with group_test[] false come first
 * (stable) and set ntrain.  Instances stay contiguous. */
int dbp_dataset_partition(struct dbp_dataset *ds);

/* Stratum key of a case label: sorted, '+'-joined distinct fault types
 * ("normal" when none). */
void dbp_case_stratum(const struct dbp_case_label *l, char *out, size_t outsz);

struct dbp_build_opts {
    int window;           /* W samples per window */
    int stride;           /* samples between window starts (default W) */
    int rule_history;     /* samples before the window end used by the rule z (60) */
    double test_fraction; /* 0.2 */
    unsigned long long seed;
    size_t max_rows; /* bound on rows (DBP_ETOOBIG beyond) */
    /* Classes: NULL = the sorted union of fault types in the cases. */
    const char *const *classes;
    int nclasses;
    /* Progress 0..100 (may be NULL); nonzero return cancels (DBP_EBUSY). */
    int (*progress)(void *cls, double pct, const char *msg);
    void *cls;
};

struct dbp_build_report {
    int cases_total, cases_used, cases_skipped;
    cJSON *skipped; /* [{"case", "reason"}] (caller owns; may be NULL) */
};

/*
 * Read every case under root (mapping metrics through cat), choose the
 * classes, split the cases (dbp_split_groups), and build the dataset:
 * per case, windows of W samples every stride samples, aligned across the
 * case's nodes by sample position; each window position is one instance
 * (edge weights from dbp_rank_edge_weights) and each node's window one row
 * (features via dbp_features_node; y = is (node, type) a root cause of the
 * case and the fault active in the window: at least half of its samples
 * inside the label's [start_time, end_time], so samples recorded before the
 * injection or after the revert are negatives; rule baseline from
 * dbp_rule_zscore over up to rule_history samples ending with the window).  Train cases are added
 * first, so the result is already partitioned.  Cases with a fault type outside the classes, a
 * label node matching no node, or fewer than W samples are skipped (see
 * report).  The split is decided from the labels, before metrics.json is
 * read (one pass over the data): a case skipped while reading leaves the
 * side it was drawn for one case short.  ds is initialised here.
 */
int dbp_dataset_build(const char *root, const struct dbp_catalog *cat,
                      const struct dbp_build_opts *o, struct dbp_dataset *ds,
                      struct dbp_build_report *rep, struct dbp_err *err);

/*
 * Append the rows of one in-memory case to ds (the building block of
 * dbp_dataset_build, usable by campaigns).  categories: the catalog's
 * category of each metric (for the rule baseline).  Returns the number of
 * rows added or a DBP_E* code.
 */
int dbp_dataset_add_case(struct dbp_dataset *ds, const struct dbp_case *c,
                         const char *const *categories, int group, int window, int stride,
                         int rule_history);

#endif
