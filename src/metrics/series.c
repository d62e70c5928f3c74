/*
 * series.c - per-series processing (see include/dbp/series.h).
 *
 * DESIGN
 *
 * Data flow of one dbp_series_push():
 *   raw sample -> (counter) delta/rate -> if valid: evaluate the
 *   fluctuation rule for the new point against the window *before* it ->
 *   append the point to the ring -> slide the window (pop the point that
 *   falls out, push the new one) -> maybe rebuild the window exactly.
 * The rule is evaluated before the point enters the window, so the window
 * never contains cur (the original's history[-60:-1]).
 *
 * Counters.  rate = (raw - prev)/(ts - prev_ts), delta = raw - prev.  No
 * rate is produced for a counter's first sample, for the first sample
 * after dbp_series_mark_gap() (a rate across a node outage would average
 * the restart into one bogus point) and, under the default DBP_RESET_SKIP,
 * for a sample whose value went down.  Such samples update the baseline
 * but do not become points: history and window only ever hold real rates,
 * never a placeholder 0 that would drag the mean and fake a fluctuation.
 *
 * Window statistics.  A shifted Welford state (struct dbp_welford) slides
 * over the last window-1 points in O(1): pop the leaving value, push the
 * new one.  The shift keeps 1e12-sized values with tiny variance exact
 * (x - k is exact by Sterbenz when x and k are within a factor of 2, and
 * the recurrence then works on the noise).  Add/remove still accumulates
 * rounding error proportional to the magnitude of what went through it, so
 * the window is recomputed exactly from the ring (three passes over
 * window-1 doubles) every max(window-1, 8) points - amortised O(1), about
 * three flops per push - and immediately when dbp_welford_needs_rebuild()
 * reports that M2 collapsed relative to that magnitude (a big outlier left
 * a quiet window: without this, a constant window after a spike would show
 * std ~ 1e-8 * spike instead of 0, and the |std| < 1e-9 guard would fail).
 * The rebuild re-anchors the shift at the window mean, so a slowly
 * drifting level never gets far from k.
 *
 * z and pct use dbp_welford_dev(cur) = (cur - k) - mean(x - k) rather than
 * cur - mean: the rounded mean of a 1e12 series is off by ~1e-4, which
 * next to a std of 1e-2 would move z by 1e-2.
 *
 * Monotonic check.  The clamp needs "the last min(monotonic_points, L-2)
 * points incl. cur are non-decreasing" (the original's index arithmetic
 * checks 4 points, 3 when L == 5).  Instead of reading the ring we keep
 * the length of the non-decreasing run ending at the newest point.
 *
 * Ring.  Structure of arrays, one allocation: double values (must be the
 * exact values that went through the window, or pops would drift) and
 * uint32 ms since the previous point - 12 bytes per point, 8640 bytes at
 * history 720.  Absolute offsets are rounded once (llround of ts-base in
 * ms) and deltas are taken between rounded offsets, so reconstructed
 * timestamps never drift.  The physical capacity is max(history, window-1)
 * because the window's leaving value is read back from the ring.
 *
 * Not thread-safe; one owner.  No allocation after init.
 */
#include "dbp/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

/* Rebuild when M2 < energy * this.  Push/pop rounding error in M2 is a few
 * ulps of energy (energy >= M2 always), so this bounds M2's relative error
 * to ~1e-11 (observed worst over 100k-point random runs: 6e-12, for
 * windows sliding across 18-decade regime shifts; 2e-15 for stationary
 * data at window 60).  In a 60-point window only an
 * outlier some 80 std away leaving it triggers a rebuild. */
#define WELFORD_REBUILD_RATIO 1e-4

/* Points whose processed value exceeds this never enter the window: their
 * squares would overflow and poison the state with inf/NaN for good. */
#define SERIES_MAX_ABS 1e150

#define SERIES_MAX_WINDOW 1000000
#define SERIES_MIN_REBUILD_PERIOD 8

/* ------------------------------------------------------------------ */
/* Welford                                                             */
/* ------------------------------------------------------------------ */

void dbp_welford_init(struct dbp_welford *w)
{
    memset(w, 0, sizeof(*w));
}

void dbp_welford_push(struct dbp_welford *w, double x)
{
    double y, d;

    if (w->n == 0) {
        /* Anchor at the first value: it and its neighbours subtract exactly. */
        w->k = x;
        w->mean = 0.0;
        w->m2 = 0.0;
        w->energy = 0.0;
        w->n = 1;
        return;
    }
    y = x - w->k;
    w->n++;
    d = y - w->mean;
    w->mean += d / (double)w->n;
    w->m2 += d * (y - w->mean);
    w->energy += y * y;
}

void dbp_welford_pop(struct dbp_welford *w, double x)
{
    double y, d;
    size_t n1;

    if (w->n == 0)
        return;
    if (w->n == 1) {
        /* Exactly empty, whatever rounding happened before. */
        w->n = 0;
        w->mean = 0.0;
        w->m2 = 0.0;
        w->energy = 0.0;
        return;
    }
    y = x - w->k;
    n1 = w->n - 1;
    d = y - w->mean;
    w->mean -= d / (double)n1;
    w->m2 -= d * (y - w->mean);
    if (w->m2 < 0.0)
        w->m2 = 0.0; /* cancellation; needs_rebuild() will fire */
    w->energy += y * y;
    w->n = n1;
}

static double span_sum_dev(const double *a, size_t na, double k)
{
    double s = 0.0;

    for (size_t i = 0; i < na; i++)
        s += a[i] - k;
    return s;
}

static void span_sq(const double *a, size_t na, double k, double md, double *m2, double *e)
{
    for (size_t i = 0; i < na; i++) {
        double y = a[i] - k;
        double d = y - md;

        *m2 += d * d;
        *e += y * y;
    }
}

void dbp_welford_assign(struct dbp_welford *w, const double *a, size_t na, const double *b,
                        size_t nb)
{
    size_t n = na + nb;
    double k0, k, md, m2 = 0.0, e = 0.0;

    if (n == 0) {
        dbp_welford_init(w);
        return;
    }
    /* Pass 1: anchor at the mean, computed relative to the first value so
     * that a constant window gives k == that value exactly. */
    k0 = na ? a[0] : b[0];
    k = k0 + (span_sum_dev(a, na, k0) + span_sum_dev(b, nb, k0)) / (double)n;
    /* Pass 2: the (tiny) mean of x - k left by rounding k. */
    md = (span_sum_dev(a, na, k) + span_sum_dev(b, nb, k)) / (double)n;
    /* Pass 3: textbook two-pass M2 on the shifted values. */
    span_sq(a, na, k, md, &m2, &e);
    span_sq(b, nb, k, md, &m2, &e);

    w->k = k;
    w->mean = md;
    w->m2 = m2;
    w->energy = e;
    w->n = n;
}

double dbp_welford_mean(const struct dbp_welford *w)
{
    return w->n ? w->k + w->mean : 0.0;
}

double dbp_welford_var(const struct dbp_welford *w)
{
    if (w->n < 2)
        return 0.0;
    return w->m2 / (double)w->n;
}

double dbp_welford_dev(const struct dbp_welford *w, double x)
{
    if (w->n == 0)
        return x;
    return (x - w->k) - w->mean;
}

bool dbp_welford_needs_rebuild(const struct dbp_welford *w)
{
    return w->m2 < w->energy * WELFORD_REBUILD_RATIO;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

void dbp_series_params_default(struct dbp_series_params *p)
{
    memset(p, 0, sizeof(*p));
    p->window = 60;
    p->min_history = 5;
    p->monotonic_points = 4;
    p->z_threshold = 2.0;
    p->std_eps = 1e-9;
    p->mean_eps = 1e-9;
    p->mono_rel_std = 1e-4;
    p->mono_min_mean = 1e6;
    p->mono_z_cap = 1.0;
    p->pct_threshold = 0.001;
    p->abs_floor = 1.0;
    p->abs_rel = 0.01;
    p->reset_policy = DBP_RESET_SKIP;
}

static bool params_ok(const struct dbp_series_params *p)
{
    const double nonneg[] = { p->z_threshold, p->std_eps, p->mean_eps, p->mono_rel_std,
                              p->pct_threshold, p->abs_floor, p->abs_rel };

    if (p->window < 2 || p->window > SERIES_MAX_WINDOW)
        return false;
    if (p->min_history < 2 || p->monotonic_points < 1)
        return false;
    for (size_t i = 0; i < sizeof(nonneg) / sizeof(nonneg[0]); i++)
        if (!isfinite(nonneg[i]) || nonneg[i] < 0.0)
            return false;
    if (!isfinite(p->mono_min_mean) || !isfinite(p->mono_z_cap))
        return false;
    return p->reset_policy == DBP_RESET_SKIP || p->reset_policy == DBP_RESET_FROM_ZERO;
}

/* ------------------------------------------------------------------ */
/* Series                                                              */
/* ------------------------------------------------------------------ */

int dbp_series_init(struct dbp_series *s, enum dbp_metric_kind kind, size_t history,
                    const struct dbp_series_params *p)
{
    struct dbp_series_params def;
    size_t w1, cap;
    double *block;

    if (!s)
        return DBP_EINVAL;
    memset(s, 0, sizeof(*s));
    if (!p) {
        dbp_series_params_default(&def);
        p = &def;
    }
    if (kind != DBP_METRIC_GAUGE && kind != DBP_METRIC_COUNTER)
        return DBP_EINVAL;
    if (!params_ok(p))
        return DBP_EINVAL;
    if (history == 0)
        history = DBP_SERIES_DEFAULT_HISTORY;
    w1 = (size_t)p->window - 1;
    cap = history > w1 ? history : w1;
    if (cap > SIZE_MAX / (sizeof(double) + sizeof(uint32_t)))
        return DBP_EINVAL;

    /* One block: doubles first so both arrays are naturally aligned. */
    block = calloc(cap, sizeof(double) + sizeof(uint32_t));
    if (!block)
        return DBP_ENOMEM;

    s->p = *p;
    s->kind = kind;
    s->val = block;
    s->dt_ms = (uint32_t *)(block + cap);
    s->cap = cap;
    s->history = history;
    dbp_welford_init(&s->win);
    return 0;
}

void dbp_series_release(struct dbp_series *s)
{
    if (!s)
        return;
    free(s->val);
    memset(s, 0, sizeof(*s));
}

void dbp_series_mark_gap(struct dbp_series *s)
{
    if (s)
        s->have_base = false;
}

/* Slot of the j-th newest point (0 = newest); requires j < count. */
static size_t slot_back(const struct dbp_series *s, size_t j)
{
    return (s->head + s->cap - 1 - j) % s->cap;
}

/* Forget every point (the timestamp offsets no longer fit). */
static void clear_history(struct dbp_series *s)
{
    s->head = 0;
    s->count = 0;
    s->npoints = 0;
    s->run = 0;
    s->newest_ms = 0;
    s->since_rebuild = 0;
    dbp_welford_init(&s->win);
}

static void ring_append(struct dbp_series *s, double ts, double v)
{
    uint32_t dt = 0;

    if (s->count == 0) {
        s->base_ts = ts;
        s->newest_ms = 0;
    } else {
        int64_t ms = llround((ts - s->base_ts) * 1000.0);

        /* ts increases, and so does its rounded offset; the caller checked
         * that the difference fits. */
        dt = (uint32_t)(ms - s->newest_ms);
        s->newest_ms = ms;
    }
    s->val[s->head] = v;
    s->dt_ms[s->head] = dt;
    s->head = (s->head + 1) % s->cap;
    if (s->count < s->cap)
        s->count++;
}

/* Recompute the window exactly from its n newest ring values. */
static void rebuild_window(struct dbp_series *s)
{
    size_t n = s->win.n;
    size_t start = (s->head + s->cap - n) % s->cap;

    if (start + n <= s->cap)
        dbp_welford_assign(&s->win, s->val + start, n, NULL, 0);
    else
        dbp_welford_assign(&s->win, s->val + start, s->cap - start, s->val,
                           start + n - s->cap);
    s->since_rebuild = 0;
}

/* The rule of series.h for cur, with L points (incl. cur) in the series and
 * a non-decreasing run of `run` points ending at cur. */
static void eval_rule(const struct dbp_series_params *p, const struct dbp_welford *w, double cur,
                      uint64_t L, uint64_t run, struct dbp_sample *out)
{
    double mean = dbp_welford_mean(w);
    double std = w->n > 1 ? sqrt(dbp_welford_var(w)) : 0.0;
    double dev = dbp_welford_dev(w, cur);
    double z, pct;

    if (fabs(std) < p->std_eps) {
        z = 0.0;
        pct = 0.0;
    } else {
        double rel = fabs(mean) > p->mean_eps ? std / fabs(mean) : 0.0;

        z = dev / std;
        if (rel < p->mono_rel_std && mean > p->mono_min_mean) {
            uint64_t k = L >= 2 ? L - 2 : 0;

            if (k > (uint64_t)p->monotonic_points)
                k = (uint64_t)p->monotonic_points;
            /* Fewer than 2 points to compare: vacuously monotonic, as
             * Python's all() of an empty range. */
            if (k <= 1 || run >= k)
                z = fmin(z, p->mono_z_cap);
        }
        pct = fabs(mean) > p->mean_eps ? dev / mean : 0.0;
    }
    out->has_stats = true;
    out->mean = mean;
    out->std = std;
    out->z = z;
    out->pct = pct;
    out->fluctuation = fabs(z) >= p->z_threshold &&
                       (fabs(pct) > p->pct_threshold ||
                        fabs(dev) > fmax(p->abs_floor, p->abs_rel * mean));
}

static void add_point(struct dbp_series *s, double ts, struct dbp_sample *smp)
{
    size_t w1 = (size_t)s->p.window - 1;
    size_t period = w1 > SERIES_MIN_REBUILD_PERIOD ? w1 : SERIES_MIN_REBUILD_PERIOD;
    double v = smp->value;
    double leaving = 0.0;
    bool full;
    uint64_t L, run;

    if (s->count > 0 && (ts - s->base_ts) * 1000.0 - (double)s->newest_ms > (double)UINT32_MAX)
        clear_history(s);

    L = s->npoints + 1;
    run = (s->count > 0 && v >= s->val[slot_back(s, 0)]) ? s->run + 1 : 1;
    if (L >= (uint64_t)s->p.min_history && s->win.n > 0)
        eval_rule(&s->p, &s->win, v, L, run, smp);

    /* Read the leaving value before the append may overwrite its slot. */
    full = s->win.n == w1;
    if (full)
        leaving = s->val[slot_back(s, w1 - 1)];
    ring_append(s, ts, v);
    if (full)
        dbp_welford_pop(&s->win, leaving);
    dbp_welford_push(&s->win, v);
    if (++s->since_rebuild >= period || dbp_welford_needs_rebuild(&s->win))
        rebuild_window(s);

    s->run = run;
    s->npoints = L;
    s->last = *smp;
    s->have_last = true;
}

static void counter_step(struct dbp_series *s, double raw, double elapsed, struct dbp_sample *smp)
{
    double d;

    if (!s->have_base)
        return; /* first sample, or first after a gap: baseline only */
    d = raw - s->last_raw;
    if (d >= 0.0) {
        smp->delta = d;
        smp->value = d / elapsed;
        smp->valid = true;
        return;
    }
    smp->reset = true;
    if (s->p.reset_policy == DBP_RESET_FROM_ZERO && raw >= 0.0) {
        smp->delta = raw;
        smp->value = raw / elapsed;
        smp->valid = true;
    }
}

int dbp_series_push(struct dbp_series *s, double ts, double raw, struct dbp_sample *out)
{
    struct dbp_sample smp;
    double elapsed = 0.0;

    if (!s || !s->val || !isfinite(ts) || !isfinite(raw))
        return DBP_EINVAL;
    if (s->have_ts) {
        elapsed = ts - s->last_ts;
        if (!(elapsed > 0.0))
            return DBP_EINVAL;
    }

    memset(&smp, 0, sizeof(smp));
    smp.ts = ts;
    smp.raw = raw;
    if (s->kind == DBP_METRIC_GAUGE) {
        smp.value = raw;
        smp.valid = true;
    } else {
        counter_step(s, raw, elapsed, &smp);
        s->have_base = true;
    }
    if (smp.valid && !(fabs(smp.value) <= SERIES_MAX_ABS)) {
        smp.valid = false;
        smp.value = 0.0;
        smp.delta = 0.0;
    }

    s->have_ts = true;
    s->last_ts = ts;
    s->last_raw = raw;
    if (smp.valid)
        add_point(s, ts, &smp);
    if (out)
        *out = smp;
    return 0;
}

size_t dbp_series_len(const struct dbp_series *s)
{
    if (!s)
        return 0;
    return s->count < s->history ? s->count : s->history;
}

size_t dbp_series_copy(const struct dbp_series *s, double since_ts, double until_ts,
                       struct dbp_point *out, size_t max)
{
    size_t len = dbp_series_len(s);
    size_t matched = 0, written;
    int64_t ms;

    if (len == 0 || (!out && max))
        return 0;
    /* Walk newest to oldest: offsets are stored as deltas from the
     * predecessor, and the newest points are the ones kept when out is
     * too small.  Matches fill out from its end, then move to the front. */
    ms = s->newest_ms;
    for (size_t j = 0; j < len; j++) {
        size_t slot = slot_back(s, j);
        double ts = s->base_ts + (double)ms / 1000.0;

        if (ts < since_ts)
            break;
        if (ts <= until_ts) {
            if (matched < max) {
                out[max - 1 - matched].ts = ts;
                out[max - 1 - matched].value = s->val[slot];
            }
            matched++;
        }
        ms -= s->dt_ms[slot];
    }
    if (max == 0)
        return matched;
    written = matched < max ? matched : max;
    if (written < max)
        memmove(out, out + (max - written), written * sizeof(*out));
    return written;
}

bool dbp_series_last(const struct dbp_series *s, struct dbp_sample *out)
{
    if (!s || !s->have_last)
        return false;
    if (out)
        *out = s->last;
    return true;
}

size_t dbp_series_mem_bytes(const struct dbp_series *s)
{
    if (!s)
        return 0;
    return sizeof(*s) + s->cap * (sizeof(double) + sizeof(uint32_t));
}
