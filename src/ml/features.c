/* features.c - per-metric window statistics (definitions in features.h). */
#include "dbp/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static const char *const names[DBP_FEAT_PER_METRIC] = {
    "mean",     "std",      "min",      "max",       "median",     "slope", "last", "diff_mean",
    "diff_std", "diff_min", "diff_max", "diff_last", "mean_last3", "range", "cv",   "z_last",
};

size_t dbp_features_dim(size_t nmetrics)
{
    return nmetrics * DBP_FEAT_PER_METRIC;
}

const char *dbp_features_name(int i)
{
    return i >= 0 && i < DBP_FEAT_PER_METRIC ? names[i] : NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and population std, two passes (windows are short; the second pass
 * keeps large rates with small spread exact). */
static void mean_std(const double *v, int n, double *mean, double *std)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    double m = s / n, ss = 0;
    for (int i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = sqrt(ss / n);
}

void dbp_features_extract(const double *window, int w, double *out)
{
    double val[DBP_FEAT_MAX_WINDOW], pos[DBP_FEAT_MAX_WINDOW], diff[DBP_FEAT_MAX_WINDOW];
    double sorted[DBP_FEAT_MAX_WINDOW];
    int n = 0;

    memset(out, 0, DBP_FEAT_PER_METRIC * sizeof(*out));
    if (w > DBP_FEAT_MAX_WINDOW) {
        window += w - DBP_FEAT_MAX_WINDOW;
        w = DBP_FEAT_MAX_WINDOW;
    }
    for (int k = 0; k < w; k++)
        if (isfinite(window[k])) {
            val[n] = window[k];
            pos[n] = k;
            n++;
        }
    if (n == 0)
        return;

    double mean, std;
    mean_std(val, n, &mean, &std);
    memcpy(sorted, val, (size_t)n * sizeof(double));
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    out[DBP_FEAT_MEAN] = mean;
    out[DBP_FEAT_STD] = std;
    out[DBP_FEAT_MIN] = sorted[0];
    out[DBP_FEAT_MAX] = sorted[n - 1];
    out[DBP_FEAT_MEDIAN] = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    out[DBP_FEAT_LAST] = val[n - 1];
    out[DBP_FEAT_RANGE] = sorted[n - 1] - sorted[0];
    int l3 = n < 3 ? n : 3;
    double s3 = 0;
    for (int i = n - l3; i < n; i++)
        s3 += val[i];
    out[DBP_FEAT_MEAN_LAST3] = s3 / l3;
    out[DBP_FEAT_CV] = fabs(mean) < 1e-12 ? 0 : std / fabs(mean);
    out[DBP_FEAT_Z_LAST] = std < 1e-12 ? 0 : (val[n - 1] - mean) / std;

    if (n >= 2) {
        /* Slope over the true positions, so a missing sample in the middle
         * does not compress time. */
        double pm, ps;
        mean_std(pos, n, &pm, &ps);
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++) {
            sxy += (pos[i] - pm) * (val[i] - mean);
            sxx += (pos[i] - pm) * (pos[i] - pm);
        }
        out[DBP_FEAT_SLOPE] = sxx > 0 ? sxy / sxx : 0;

        int nd = n - 1;
        double dmin = INFINITY, dmax = -INFINITY;
        for (int i = 0; i < nd; i++) {
            diff[i] = val[i + 1] - val[i];
            dmin = fmin(dmin, diff[i]);
            dmax = fmax(dmax, diff[i]);
        }
        double dmean, dstd;
        mean_std(diff, nd, &dmean, &dstd);
        out[DBP_FEAT_DIFF_MEAN] = dmean;
        out[DBP_FEAT_DIFF_STD] = dstd;
        out[DBP_FEAT_DIFF_MIN] = dmin;
        out[DBP_FEAT_DIFF_MAX] = dmax;
        out[DBP_FEAT_DIFF_LAST] = diff[nd - 1];
    }
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        if (!isfinite(out[i]))
            out[i] = 0;
}

void dbp_features_node(const double *win, size_t nmetrics, int w, float *out)
{
    double f[DBP_FEAT_PER_METRIC];
    for (size_t m = 0; m < nmetrics; m++) {
        dbp_features_extract(win + m * (size_t)w, w, f);
        for (int i = 0; i < DBP_FEAT_PER_METRIC; i++) {
            /* Rates beyond float range would become Inf in the float vector. */
            double v = f[i];
            if (v > 3e38)
                v = 3e38;
            else if (v < -3e38)
                v = -3e38;
            out[m * DBP_FEAT_PER_METRIC + (size_t)i] = (float)v;
        }
    }
}
