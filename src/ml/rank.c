/* rank.c - PageRank, Pearson edge weights, pair ranking, AC@k, rule baseline. */
#include "dbp/rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

const char *dbp_pr_form_name(enum dbp_pr_form f)
{
    return f == DBP_PR_PAPER ? "paper" : "normalised";
}

int dbp_pr_form_from_name(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "normalised") || !strcmp(s, "normalized"))
        return DBP_PR_NORMALISED;
    if (!strcmp(s, "paper"))
        return DBP_PR_PAPER;
    return -1;
}

static double wsq(const double *w, int n, int i, int j)
{
    double v = w[(size_t)i * (size_t)n + (size_t)j];
    return (i == j || !(v > 0) || !isfinite(v)) ? 0 : v * v;
}

int dbp_pagerank(const double *w, int n, double d, enum dbp_pr_form form, double tol, int maxit,
                 double *pr, struct dbp_pr_info *info)
{
    if (n < 1)
        return -1;
    double *next = calloc((size_t)n, sizeof(double));
    double *rowsum = calloc((size_t)n, sizeof(double));
    struct dbp_pr_info inf = {0, false, INFINITY};
    if (!next || !rowsum) {
        free(next);
        free(rowsum);
        return -1;
    }
    for (int j = 0; j < n; j++)
        for (int k = 0; k < n; k++)
            rowsum[j] += wsq(w, n, j, k);
    for (int i = 0; i < n; i++)
        pr[i] = form == DBP_PR_PAPER ? 1.0 - d : 1.0 / n;

    while (inf.iterations < maxit) {
        double dangling = 0;
        if (form == DBP_PR_NORMALISED)
            for (int j = 0; j < n; j++)
                if (rowsum[j] == 0)
                    dangling += pr[j];
        double delta = 0;
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                double x = wsq(w, n, i, j);
                if (x == 0)
                    continue;
                s += form == DBP_PR_PAPER ? pr[j] * x : pr[j] * x / rowsum[j];
            }
            next[i] = form == DBP_PR_PAPER ? (1 - d) + d * s : (1 - d) / n + d * (s + dangling / n);
            delta = fmax(delta, fabs(next[i] - pr[i]));
        }
        memcpy(pr, next, (size_t)n * sizeof(double));
        inf.iterations++;
        inf.delta = delta;
        if (!isfinite(delta))
            break;
        if (delta < tol) {
            inf.converged = true;
            break;
        }
    }
    if (form == DBP_PR_NORMALISED)
        for (int i = 0; i < n; i++)
            pr[i] *= n; /* mean 1: PR * P stays on P's scale at any N */
    free(next);
    free(rowsum);
    if (info)
        *info = inf;
    return 0;
}

double dbp_pearson(const double *x, const double *y, int n)
{
    double sx = 0, sy = 0;
    int m = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(x[k]) && isfinite(y[k])) {
            sx += x[k];
            sy += y[k];
            m++;
        }
    if (m < 3)
        return NAN;
    double mx = sx / m, my = sy / m, sxy = 0, sxx = 0, syy = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(x[k]) && isfinite(y[k])) {
            double a = x[k] - mx, b = y[k] - my;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
    /* Constant on either side (relative to its level): no correlation is
     * defined, and rounding noise must not pass for one. */
    if (sxx <= 1e-24 * (1 + mx * mx) * m || syy <= 1e-24 * (1 + my * my) * m)
        return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

void dbp_rank_edge_weights(const double *win, int nnodes, int nmetrics, int w, double *out,
                           int *used)
{
    size_t nn = (size_t)nnodes;
    for (size_t i = 0; i < nn * nn; i++) {
        out[i] = 0;
        if (used)
            used[i] = 0;
    }
    for (int i = 0; i < nnodes; i++)
        for (int j = i + 1; j < nnodes; j++) {
            double sum = 0;
            int cnt = 0;
            for (int m = 0; m < nmetrics; m++) {
                const double *x = win + (((size_t)i * (size_t)nmetrics) + (size_t)m) * (size_t)w;
                const double *y = win + (((size_t)j * (size_t)nmetrics) + (size_t)m) * (size_t)w;
                double r = dbp_pearson(x, y, w);
                if (isnan(r))
                    continue;
                sum += fabs(r);
                cnt++;
            }
            double v = cnt ? sum / cnt : 0;
            out[(size_t)i * nn + (size_t)j] = out[(size_t)j * nn + (size_t)i] = v;
            if (used)
                used[(size_t)i * nn + (size_t)j] = used[(size_t)j * nn + (size_t)i] = cnt;
        }
}

static int cmp_item(const void *a, const void *b)
{
    const struct dbp_rank_item *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->prob != y->prob)
        return x->prob > y->prob ? -1 : 1;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return (x->type > y->type) - (x->type < y->type);
}

void dbp_rank_sort(struct dbp_rank_item *items, int n)
{
    if (n > 1)
        qsort(items, (size_t)n, sizeof(*items), cmp_item);
}

int dbp_rank_pairs(const double *probs, const double *pr, int nnodes, int ntypes,
                   struct dbp_rank_item *items)
{
    int n = 0;
    for (int i = 0; i < nnodes; i++)
        for (int l = 0; l < ntypes; l++) {
            double p = probs[(size_t)i * (size_t)ntypes + (size_t)l];
            double r = pr ? pr[i] : 1.0;
            if (!isfinite(p))
                p = 0;
            if (!isfinite(r))
                r = 0;
            items[n++] = (struct dbp_rank_item){i, l, r * p, p, r};
        }
    dbp_rank_sort(items, n);
    return n;
}

double dbp_precision_at_k(const struct dbp_rank_item *ranked, int nitems, const bool *truth,
                          int nnodes, int ntypes, int k)
{
    int nt = 0;
    for (int i = 0; i < nnodes * ntypes; i++)
        nt += truth[i];
    if (nt == 0 || k < 1)
        return NAN;
    int hits = 0;
    for (int r = 0; r < k && r < nitems; r++) {
        const struct dbp_rank_item *it = &ranked[r];
        if (it->node >= 0 && it->node < nnodes && it->type >= 0 && it->type < ntypes &&
            truth[it->node * ntypes + it->type])
            hits++;
    }
    return (double)hits / (k < nt ? k : nt);
}

/* ---- rule baseline --------------------------------------------------------- */

static const struct {
    const char *category, *type;
} rule_map[] = {
    {"cpu", "cpu_stress"},
    {"io", "io_bottleneck"},
    {"network", "network_bottleneck"},
    {"memory", "cache_bottleneck"},
    {"transactions", "workload_surge"},
    {"cluster", "lock_contention"},
};

const char *dbp_rule_type_for_category(const char *category)
{
    if (!category)
        return NULL;
    for (size_t i = 0; i < sizeof(rule_map) / sizeof(rule_map[0]); i++)
        if (!strcasecmp(rule_map[i].category, category))
            return rule_map[i].type;
    return NULL;
}

double dbp_rule_zscore(const double *series, int n)
{
    int nv = 0, last3 = 0;
    for (int k = 0; k < n; k++)
        nv += isfinite(series[k]);
    if (nv < 2)
        return 0;
    /* The newest min(3, nv-1) valid values are "now"; the rest the baseline,
     * unless the baseline would be shorter than 3 points. */
    int nnow = nv - 1 < 3 ? nv - 1 : 3;
    int nbase = nv - nnow;
    bool base_all = nbase < 3;
    double snow = 0, sb = 0;
    int cb = 0, seen = 0;
    for (int k = 0; k < n; k++) {
        if (!isfinite(series[k]))
            continue;
        seen++;
        bool is_now = seen > nv - nnow;
        if (is_now) {
            snow += series[k];
            last3++;
        }
        if (!is_now || base_all) {
            sb += series[k];
            cb++;
        }
    }
    double mnow = snow / last3, mb = sb / cb, ss = 0;
    seen = 0;
    for (int k = 0; k < n; k++) {
        if (!isfinite(series[k]))
            continue;
        seen++;
        if (seen <= nv - nnow || base_all)
            ss += (series[k] - mb) * (series[k] - mb);
    }
    double sd = sqrt(ss / cb);
    double floor_ = fmax(1e-9, 1e-3 * fabs(mb));
    double z = fabs(mnow - mb) / fmax(sd, floor_);
    if (!isfinite(z))
        return 0;
    return z > DBP_RULE_ZCAP ? DBP_RULE_ZCAP : z;
}

int dbp_rule_node(const double *z, const char *const *categories, int nmetrics,
                  const char *const *classes, int nclasses, double *score)
{
    int best = -1;
    double bz = 0;
    for (int m = 0; m < nmetrics; m++) {
        if (!(z[m] > bz))
            continue;
        const char *t = dbp_rule_type_for_category(categories[m]);
        if (!t)
            continue;
        for (int c = 0; c < nclasses; c++)
            if (!strcmp(classes[c], t)) {
                best = c;
                bz = z[m];
                break;
            }
    }
    *score = bz;
    return best;
}
