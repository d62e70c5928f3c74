/*
 * features.h - the one feature extraction used by training and diagnosis.
 *
 * A node's input is a window of W consecutive samples of every catalog
 * metric, as the collector serves them (rates for counters, values for
 * gauges).  Each metric's W values become DBP_FEAT_PER_METRIC statistics;
 * the node's feature vector is those blocks concatenated in the catalog's
 * metric order, so its dimension is nmetrics * DBP_FEAT_PER_METRIC whatever
 * data is present (the original's refactor branch built vectors from the
 * metrics present, in dict order: unstable dimension).  Training cases are
 * windows of recorded samples too, so there is no train/serve skew (the
 * original trained on single snapshots repeated W times).
 *
 * Per-metric features, in this order (index: name = definition).  "valid"
 * means not NaN and finite; statistics use the valid values only, keeping
 * their positions k = 0..W-1 in the window; "diffs" are the differences of
 * consecutive valid values (x[k'] - x[k] for neighbouring valid k < k'):
 *    0 mean        arithmetic mean
 *    1 std         population standard deviation (divide by n)
 *    2 min
 *    3 max
 *    4 median      middle value (mean of the two middle ones when n is even)
 *    5 slope       least-squares slope of value over position k, per sample
 *    6 last        newest valid value
 *    7 diff_mean   mean of the diffs
 *    8 diff_std    population std of the diffs
 *    9 diff_min
 *   10 diff_max
 *   11 diff_last   newest diff
 *   12 mean_last3  mean of the newest 3 valid values (all when fewer)
 *   13 range       max - min
 *   14 cv          std / |mean| (0 when |mean| < 1e-12)
 *   15 z_last      (last - mean) / std (0 when std < 1e-12)
 * With no valid value every feature is 0; with one valid value the
 * location features (mean, min, max, median, last, mean_last3) are that
 * value and the others 0; slope needs 2 values, diff statistics 1 diff.
 * Any result that is NaN or +-Inf becomes 0 (a rate that overflowed is no
 * signal the model can use, and XGBoost would treat NaN as "missing" in a
 * way the training data never showed).
 *
 * Pure functions: no allocation, no locks; thread-safe.
 */
#ifndef DBP_FEATURES_H
#define DBP_FEATURES_H

#include <stddef.h>

#define DBP_FEAT_PER_METRIC 16

enum dbp_feat {
    DBP_FEAT_MEAN = 0,
    DBP_FEAT_STD,
    DBP_FEAT_MIN,
    DBP_FEAT_MAX,
    DBP_FEAT_MEDIAN,
    DBP_FEAT_SLOPE,
    DBP_FEAT_LAST,
    DBP_FEAT_DIFF_MEAN,
    DBP_FEAT_DIFF_STD,
    DBP_FEAT_DIFF_MIN,
    DBP_FEAT_DIFF_MAX,
    DBP_FEAT_DIFF_LAST,
    DBP_FEAT_MEAN_LAST3,
    DBP_FEAT_RANGE,
    DBP_FEAT_CV,
    DBP_FEAT_Z_LAST,
};

/* Longest window accepted (config training.window is 2..720). */
#define DBP_FEAT_MAX_WINDOW 720

/* Feature vector length of a node with nmetrics metrics. */
size_t dbp_features_dim(size_t nmetrics);

/* Short name of per-metric feature i ("mean", "slope", ...); NULL when out
 * of range.  Static strings. */
const char *dbp_features_name(int i);

/*
 * The DBP_FEAT_PER_METRIC features of one metric's window of w values
 * (oldest first, NaN = missing) into out[0..DBP_FEAT_PER_METRIC).
 * w is clamped to 0..DBP_FEAT_MAX_WINDOW (more is truncated to the newest).
 */
void dbp_features_extract(const double *window, int w, double *out);

/*
 * A node's feature vector: win holds nmetrics windows of w values each,
 * metric-major (win[m * w + k], the layout of dbp_collector_window() for
 * one node), in the catalog's metric order; out receives
 * dbp_features_dim(nmetrics) floats (the XGBoost input type).
 */
void dbp_features_node(const double *win, size_t nmetrics, int w, float *out);

#endif
