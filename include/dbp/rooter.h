/*
 * rooter.h - MetricRooter: which metrics of one node are the root of its
 * anomaly (reference §6.8, FluxInfer-style), with a plain-text summary and
 * actions built from the data (the original asked an Ollama model and fell
 * back to a template; no language model is needed or used here).
 *
 *  1. For every metric with at least 2 valid points in the node's history:
 *     mean and population std over all points; smoothed = mean of the last
 *     3 valid points; z = |smoothed - mean| / std (0 when std = 0).
 *     Anomalous when z > z_threshold (1.5).
 *  2. Graph over the anomalous metrics: for each pair, Pearson r over the
 *     positions where both have values (m >= 3 of them); when |r| < 1,
 *     Fisher z = atanh(r) * sqrt(m - 3) and p = 2 (1 - Phi(|z|)) =
 *     erfc(|z| / sqrt 2); |r| = 1 gives p = 0.  Edge when p < p_threshold
 *     (0.05), weight = 1 / max(p, 1e-10).
 *  3. Weighted PageRank (d = 0.85, normalised form of rank.h, squared
 *     weights as the original intended) that really uses the weights: the
 *     original passed a callable as networkx's `weight`, which networkx
 *     does not call, so its ranking was unweighted.  Scores sum to 1.
 *     Fewer than 2 anomalous metrics: no edges, scores 1/n.
 *  4. Sorted by score, then z, then metric index.
 * "metric_count" is the number of metrics analysed (the original counted
 * categories under that name).
 *
 * Pure computation; thread-safe.
 */
#ifndef DBP_ROOTER_H
#define DBP_ROOTER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "dbp/rank.h"

#define DBP_ROOTER_Z 1.5
#define DBP_ROOTER_P 0.05

struct dbp_rooter_metric {
    int index; /* metric index in the caller's arrays */
    double z, mean, std, latest, smoothed;
    double score; /* PageRank, sums to 1 over the anomalous metrics */
    int degree;   /* edges in the graph */
};

struct dbp_rooter_edge {
    int a, b; /* indices into metrics[] */
    double r, p, weight;
};

struct dbp_rooter_result {
    int analysed; /* metrics with >= 2 valid points ("metric_count") */
    int samples;  /* history length H */
    int n;        /* anomalous metrics */
    struct dbp_rooter_metric *metrics;
    int nedges;
    struct dbp_rooter_edge *edges;
    struct dbp_pr_info pr;
};

/*
 * hist: nmetrics series of h points each, metric-major (hist[m * h + k],
 * oldest first, NaN = missing; the layout of dbp_collector_window() for one
 * node).  Fills *out (release with dbp_rooter_result_release).
 */
void dbp_rooter_run(const double *hist, int nmetrics, int h, double z_threshold, double p_threshold,
                    struct dbp_rooter_result *out);
void dbp_rooter_result_release(struct dbp_rooter_result *r);

/* Languages of the summary. */
enum dbp_lang { DBP_LANG_EN = 1 << 0, DBP_LANG_ZH = 1 << 1 };
/* "English"/"en", "Chinese"/"zh" (case-insensitive) -> flag, 0 unknown. */
int dbp_lang_from_name(const char *s);

/*
 * Summary and actions from the result: the anomalous share, the top 5
 * metrics with category, direction (rose/fell), latest value, mean and z,
 * the dominant categories, and one canned action per category present in
 * the top 5 (plus a joint-cause action when several are).  langs = OR of
 * enum dbp_lang (0 = English); several languages are joined, in the order
 * English, Chinese.  *summary: caller frees; *actions: JSON array of
 * strings, caller owns.
 */
void dbp_rooter_summary(const struct dbp_rooter_result *r, const char *node,
                        const char *const *names, const char *const *cats, int langs,
                        char **summary, cJSON **actions);

/*
 * The original's response shape (§6.8): {"metrics": [{key, category, name,
 * z_score, latest_value, mean, std, score, details: {pagerank, z_score,
 * connections}}], "summary", "summary_pending": false, "node",
 * "graph": {"nodes": [{id, name, category, score, z_score}],
 *           "links": [{source, target, weight, correlation, p_value}]},
 * "anomaly_count", "metric_count", "samples", "pagerank": {...}}.
 * key/id = "<category>:<name>".  Caller owns.
 */
cJSON *dbp_rooter_json(const struct dbp_rooter_result *r, const char *node,
                       const char *const *names, const char *const *cats, int langs);

#endif
