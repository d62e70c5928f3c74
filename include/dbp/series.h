/*
 * series.h - per-series processing: counters to rates, sliding-window
 * statistics, fluctuation detection and a compact history ring.
 *
 * Pure computation: no I/O, no logging, no locks, no globals.  One
 * struct dbp_series per (node, tenant, metric).  The caller feeds it one
 * raw sample per collection cycle with dbp_series_push() and gets back a
 * processed struct dbp_sample (rate or gauge value, z-score, percent
 * change, fluctuation flag).
 *
 * Thread-safety: none.  A series has exactly one owner (the collector
 * thread).  Readers on other threads (HTTP handlers, /metrics) must copy
 * data out under the owning module's lock with dbp_series_copy() /
 * dbp_series_last(); nothing here may be called concurrently on the same
 * series.  Different series are independent.
 *
 * Fluctuation rule (transcribed from the original's get_last_metric_point,
 * reference §4.4), evaluated for each new point `cur` against the up to
 * window-1 points before it; L = number of points in the series incl. cur:
 *   L < min_history                 -> no statistics (has_stats = false)
 *   mean, std (population, 0 if n<2) of the window before cur
 *   |std| < std_eps                 -> z = 0, pct = 0
 *   else rel_std = std/|mean| (0 if |mean| <= mean_eps)
 *        z = (cur-mean)/std, clamped to min(z, mono_z_cap) when
 *        rel_std < mono_rel_std and mean > mono_min_mean and the last
 *        min(monotonic_points, L-2) points (incl. cur) are non-decreasing
 *        pct = (cur-mean)/mean (0 if |mean| <= mean_eps)
 *   fluctuation = |z| >= z_threshold and
 *                 (|pct| > pct_threshold or |cur-mean| > max(abs_floor, abs_rel*mean))
 * Statistics are kept at full precision; rounding for output (z to 2 dp,
 * pct to 4 dp) is the API layer's business.
 */
#ifndef DBP_SERIES_H
#define DBP_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbp/err.h"

/* ------------------------------------------------------------------ */
/* Sliding-window mean/variance (shifted Welford)                      */
/* ------------------------------------------------------------------ */

/*
 * Welford's mean/M2 recurrence over shifted values x - k, with removal
 * ("pop") so it can slide over a window.  The shift k is a value close to
 * the data (the first value pushed, or the window mean after an exact
 * rebuild), so for data like 1e12 + noise the recurrence works on the
 * noise, not on 1e12, and keeps the precision a two-pass computation has.
 *
 * Add/remove recurrences accumulate rounding error proportional to the
 * magnitude of everything that ever went through them, not to the current
 * variance.  `energy` tracks that magnitude (sum of (x-k)^2 over every push
 * and pop since the last exact rebuild); dbp_welford_needs_rebuild() says
 * when the current M2 has become too small relative to it to be trusted
 * (typically: a large outlier just left the window), and the owner of the
 * window's values then calls dbp_welford_assign() to recompute exactly.
 *
 * The struct holds no resources: _init only, no _release.  Fields are
 * public so it can be embedded and copied, but use the functions.
 */
struct dbp_welford {
    double k;      /* shift: the recurrence runs on x - k */
    double mean;   /* mean of (x - k) */
    double m2;     /* sum of squared deviations from the mean */
    double energy; /* sum of (x - k)^2 over pushes and pops since the last assign */
    size_t n;      /* values currently in the set */
};

/* Empty set. */
void dbp_welford_init(struct dbp_welford *w);

/* Add x.  The first value into an empty set becomes the shift. */
void dbp_welford_push(struct dbp_welford *w, double x);

/* Remove x, which must be bit-identical to a value pushed earlier and still
 * in the set (not checked).  Removing the last value yields an exactly
 * empty set. */
void dbp_welford_pop(struct dbp_welford *w, double x);

/* Replace the state by an exact three-pass computation over the values
 * a[0..na) followed by b[0..nb) (two spans so a ring buffer needs no copy;
 * either may be NULL when its count is 0).  The shift becomes the mean of
 * the values, so a constant window gives m2 == 0 exactly. */
void dbp_welford_assign(struct dbp_welford *w, const double *a, size_t na,
                        const double *b, size_t nb);

/* Mean (0 for an empty set). */
double dbp_welford_mean(const struct dbp_welford *w);

/* Population variance M2/n (0 when n < 2; never negative). */
double dbp_welford_var(const struct dbp_welford *w);

/* x - mean, computed as (x - k) - mean(x - k) so that no rounded mean of
 * the size of x is ever formed: for x ~ 1e12 this is exact to ~1e-16
 * relative to the spread, where x - dbp_welford_mean() is off by ~1e-4. */
double dbp_welford_dev(const struct dbp_welford *w, double x);

/* True when rounding error accumulated by push/pop may exceed ~1e-11 of
 * the current M2 (M2 < 1e-4 * energy), i.e. when the caller should
 * dbp_welford_assign().  Always true after popping a value that made up
 * almost all of the variance. */
bool dbp_welford_needs_rebuild(const struct dbp_welford *w);

/* ------------------------------------------------------------------ */
/* Series                                                              */
/* ------------------------------------------------------------------ */

enum dbp_metric_kind {
    DBP_METRIC_GAUGE = 0,  /* value kept as is */
    DBP_METRIC_COUNTER = 1 /* monotonic total; turned into delta and rate */
};

/* What a counter sample whose value went down (delta < 0) produces. */
enum dbp_reset_policy {
    /* No rate for that sample (valid = false, reset = true); the new raw
     * value becomes the baseline and the next sample has a normal rate.
     * Default: a drop is not always a restart from zero (tenant recreated,
     * racy aggregation that dips by a few units, failover to a node with a
     * lower total), and in those cases raw/elapsed would be a huge spike. */
    DBP_RESET_SKIP = 0,
    /* Assume the counter restarted from 0 within the interval: delta = raw,
     * rate = raw/elapsed.  For a true restart this under-estimates the
     * interval's activity (what happened before the restart is lost), so it
     * never spikes; for a drop that is not a restart it can.  raw < 0
     * falls back to SKIP. */
    DBP_RESET_FROM_ZERO = 1
};

/* Tunables; dbp_series_params_default() gives the original's constants. */
struct dbp_series_params {
    int window;           /* 60: baseline = the window-1 points before cur; >= 2 */
    int min_history;      /* 5: points (incl. cur) needed for statistics; >= 2 */
    int monotonic_points; /* 4: points checked by the huge-counter clamp; >= 1 */
    double z_threshold;   /* 2.0 */
    double std_eps;       /* 1e-9: |std| below -> z = pct = 0 */
    double mean_eps;      /* 1e-9: |mean| at or below -> rel_std = pct = 0 */
    double mono_rel_std;  /* 1e-4: clamp only when rel_std is below */
    double mono_min_mean; /* 1e6: clamp only when mean is above */
    double mono_z_cap;    /* 1.0: z = min(z, cap) when the clamp applies */
    double pct_threshold; /* 0.001: material if |pct| is above */
    double abs_floor;     /* 1.0: material if |cur-mean| > max(abs_floor, */
    double abs_rel;       /* 0.01:                             abs_rel*mean) */
    enum dbp_reset_policy reset_policy; /* DBP_RESET_SKIP */
};

#define DBP_SERIES_DEFAULT_HISTORY 720

/* Processed result of one push (and what dbp_series_last() returns). */
struct dbp_sample {
    double ts;    /* the caller's timestamp, exact */
    double raw;   /* the caller's raw value */
    double value; /* counter: rate per second; gauge: raw.  0 when !valid */
    double delta; /* counter: increase over the interval; gauge: 0 */
    bool valid;   /* value is meaningful and entered history/window.  False
                     for a counter's first sample, the first sample after
                     dbp_series_mark_gap(), and a SKIPped reset */
    bool reset;   /* counter went down on this sample */
    bool has_stats; /* z/pct/mean/std/fluctuation are set (L >= min_history) */
    bool fluctuation;
    double z;
    double pct;
    double mean; /* of the window before this point */
    double std;  /* population std of that window */
};

struct dbp_point {
    double ts; /* 1 ms resolution (see dbp_series_copy) */
    double value;
};

/*
 * One series.  Embeddable: the caller owns the struct (array element,
 * member of a bigger struct), dbp_series_init() allocates the history ring
 * and dbp_series_release() frees it.  Members are private; use the API.
 *
 * History ring, structure of arrays: one double per point for the value
 * (the window is rebuilt from these, so they must be the exact values that
 * went through the Welford state) and one uint32 per point for the
 * milliseconds since the previous point.  12 bytes per point instead of 16
 * for a double timestamp; the exact timestamp of the newest sample is kept
 * separately for rate computation.  A gap between two points of more than
 * UINT32_MAX ms (~49.7 days) clears the history and the window.
 */
struct dbp_series {
    struct dbp_series_params p;
    enum dbp_metric_kind kind;

    /* raw-sample state (all kinds) */
    bool have_ts;      /* some sample has been accepted */
    bool have_base;    /* counter: last_raw is a usable baseline */
    double last_ts;    /* ts of the last accepted sample */
    double last_raw;   /* raw of the last accepted sample */

    /* ring of valid points */
    double *val;       /* [cap] values */
    uint32_t *dt_ms;   /* [cap] ms since the previous point */
    size_t cap;        /* physical capacity = max(history, window-1) */
    size_t history;    /* logical capacity reported by len/copy */
    size_t head;       /* slot of the next write */
    size_t count;      /* points stored, <= cap */
    double base_ts;    /* origin of the ms offsets */
    int64_t newest_ms; /* offset of the newest point from base_ts */
    uint64_t npoints;  /* valid points since init / history clear (L - 1) */
    uint64_t run;      /* non-decreasing run ending at the newest point */

    /* sliding window of the last window-1 points */
    struct dbp_welford win;
    size_t since_rebuild;

    struct dbp_sample last; /* last valid sample */
    bool have_last;
};

/* Fill *p with the defaults listed in struct dbp_series_params. */
void dbp_series_params_default(struct dbp_series_params *p);

/*
 * Prepare *s.  history = number of points kept (>= 1; 0 means
 * DBP_SERIES_DEFAULT_HISTORY); p may be NULL for the defaults and is
 * copied.  Returns 0, DBP_EINVAL (bad kind, params or history) or
 * DBP_ENOMEM.  On failure *s is left zeroed, so dbp_series_release() on it
 * is harmless.
 */
int dbp_series_init(struct dbp_series *s, enum dbp_metric_kind kind, size_t history,
                    const struct dbp_series_params *p);

/* Free the ring and zero *s.  Safe on a zeroed or already released series. */
void dbp_series_release(struct dbp_series *s);

/*
 * Feed one raw sample taken at ts (monotonic seconds).  out may be NULL.
 * Returns 0, or DBP_EINVAL when ts or raw is not finite or ts is not after
 * the previous accepted sample (elapsed <= 0); a rejected sample changes
 * nothing.  A processed value that is not finite or exceeds 1e150 in
 * magnitude yields valid = false (its square would overflow the window).
 * O(1) amortised: the window is recomputed exactly from the ring (O(window))
 * every max(window-1, 8) points and when dbp_welford_needs_rebuild() says
 * so, which takes an outlier leaving the window.
 */
int dbp_series_push(struct dbp_series *s, double ts, double raw, struct dbp_sample *out);

/* The node was unreachable: the next counter sample only re-establishes
 * the baseline (no rate across the gap, so no spike after a restart).
 * History and window are kept.  No effect on gauges' values. */
void dbp_series_mark_gap(struct dbp_series *s);

/* Points in history (<= history given at init). */
size_t dbp_series_len(const struct dbp_series *s);

/*
 * Copy the points with since_ts <= ts <= until_ts into out[0..max),
 * oldest first (pass -INFINITY / INFINITY for everything).  When more than
 * max points match, the newest max are copied.  Returns the number of
 * points written; with max == 0 (out may then be NULL) nothing is written
 * and the number of matching points is returned.  Timestamps are
 * reconstructed from 1 ms offsets, so they may differ from the pushed ones
 * by up to 0.5 ms.
 */
size_t dbp_series_copy(const struct dbp_series *s, double since_ts, double until_ts,
                       struct dbp_point *out, size_t max);

/* Copy the last valid sample (value, z, pct, flag...) into *out; false
 * when there is none yet. */
bool dbp_series_last(const struct dbp_series *s, struct dbp_sample *out);

/* Bytes used by the series: the struct plus its ring. */
size_t dbp_series_mem_bytes(const struct dbp_series *s);

#endif
