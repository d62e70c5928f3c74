/* rooter.c - MetricRooter (definitions in rooter.h). */
#define _GNU_SOURCE
#include "dbp/rooter.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static int cmp_metric(const void *a, const void *b)
{
    const struct dbp_rooter_metric *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->z != y->z)
        return x->z > y->z ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void dbp_rooter_run(const double *hist, int nmetrics, int h, double z_threshold, double p_threshold,
                    struct dbp_rooter_result *out)
{
    memset(out, 0, sizeof(*out));
    out->samples = h;
    out->metrics = dbp_xcalloc((size_t)(nmetrics > 0 ? nmetrics : 1), sizeof(*out->metrics));
    for (int m = 0; m < nmetrics; m++) {
        const double *s = hist + (size_t)m * (size_t)h;
        double sum = 0, last[3];
        int n = 0, nl = 0;
        for (int k = 0; k < h; k++)
            if (isfinite(s[k])) {
                sum += s[k];
                n++;
            }
        if (n < 2)
            continue;
        out->analysed++;
        double mean = sum / n, ss = 0, latest = NAN;
        for (int k = h - 1; k >= 0; k--)
            if (isfinite(s[k])) {
                if (isnan(latest))
                    latest = s[k];
                if (nl < 3)
                    last[nl++] = s[k];
                ss += (s[k] - mean) * (s[k] - mean);
            }
        double std = sqrt(ss / n), sm = 0;
        for (int i = 0; i < nl; i++)
            sm += last[i];
        sm /= nl;
        double z = std > 0 ? fabs(sm - mean) / std : 0;
        if (!(z > z_threshold))
            continue;
        out->metrics[out->n++] = (struct dbp_rooter_metric){m, z, mean, std, latest, sm, 0, 0};
    }

    int n = out->n;
    if (n <= 0)
        return;
    double *w = dbp_xcalloc((size_t)n * (size_t)n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const double *x = hist + (size_t)out->metrics[i].index * (size_t)h;
            const double *y = hist + (size_t)out->metrics[j].index * (size_t)h;
            int mm = 0;
            for (int k = 0; k < h; k++)
                mm += isfinite(x[k]) && isfinite(y[k]);
            double r = dbp_pearson(x, y, h);
            if (isnan(r) || mm < 3)
                continue;
            double p;
            if (fabs(r) >= 1) {
                p = 0;
            } else {
                double fz = atanh(r) * sqrt((double)(mm - 3));
                p = erfc(fabs(fz) / sqrt(2.0));
            }
            if (!(p < p_threshold))
                continue;
            double wt = 1.0 / fmax(p, 1e-10);
            w[(size_t)i * (size_t)n + (size_t)j] = w[(size_t)j * (size_t)n + (size_t)i] = wt;
            out->edges = dbp_xrealloc(out->edges, (size_t)(out->nedges + 1) * sizeof(*out->edges));
            out->edges[out->nedges++] = (struct dbp_rooter_edge){i, j, r, p, wt};
            out->metrics[i].degree++;
            out->metrics[j].degree++;
        }
    double *pr = dbp_xcalloc((size_t)n, sizeof(double));
    (void)dbp_pagerank(w, n, DBP_PR_DAMPING, DBP_PR_NORMALISED, DBP_PR_TOL, DBP_PR_MAXIT, pr,
                       &out->pr);
    for (int i = 0; i < n; i++)
        out->metrics[i].score = pr[i] / n; /* normalised PR has mean 1: sum 1 here */
    /* Edges refer to positions in metrics[]: sort a copy of the order and
     * remap them. */
    int *pos = dbp_xcalloc((size_t)n, sizeof(int));
    struct dbp_rooter_metric *sorted = dbp_xcalloc((size_t)n, sizeof(*sorted));
    memcpy(sorted, out->metrics, (size_t)n * sizeof(*sorted));
    qsort(sorted, (size_t)n, sizeof(*sorted), cmp_metric);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (out->metrics[j].index == sorted[i].index)
                pos[j] = i;
    for (int e = 0; e < out->nedges; e++) {
        out->edges[e].a = pos[out->edges[e].a];
        out->edges[e].b = pos[out->edges[e].b];
    }
    memcpy(out->metrics, sorted, (size_t)n * sizeof(*sorted));
    free(sorted);
    free(pos);
    free(pr);
    free(w);
}

void dbp_rooter_result_release(struct dbp_rooter_result *r)
{
    if (!r)
        return;
    free(r->metrics);
    free(r->edges);
    memset(r, 0, sizeof(*r));
}

int dbp_lang_from_name(const char *s)
{
    if (!s)
        return 0;
    if (!strcasecmp(s, "english") || !strcasecmp(s, "en"))
        return DBP_LANG_EN;
    if (!strcasecmp(s, "chinese") || !strcasecmp(s, "zh") || !strcasecmp(s, "zh-cn"))
        return DBP_LANG_ZH;
    return 0;
}

static const struct {
    const char *category, *en, *zh;
} actions[] = {
    {"cpu",
     "Check CPU saturation on %s: running threads, expensive statements (processlist, slow log), "
     "other processes on the host and cgroup CPU limits.",
     "检查节点 %s 的 CPU 饱和：运行中的线程、高开销语句（processlist、慢日志）、同机其他进程以及 "
     "cgroup CPU 限制。"},
    {"memory",
     "Check memory and caches on %s: buffer pool size and hit ratio, dirty pages, memory limits.",
     "检查节点 %s 的内存与缓存：缓冲池大小与命中率、脏页、内存限制。"},
    {"io",
     "Check disk I/O on %s: device utilisation and latency, flush and fsync rates, competing I/O "
     "on the data disk.",
     "检查节点 %s 的磁盘 I/O：设备利用率与延迟、刷盘与 fsync 速率、数据盘上的其他 I/O。"},
    {"network",
     "Check the network of %s: loss, latency and bandwidth to the other nodes, replication queues "
     "and flow control.",
     "检查节点 %s 的网络：到其他节点的丢包、延迟与带宽，复制队列与流控。"},
    {"transactions",
     "Check the workload on %s: transaction and statement rates, lock waits, rollbacks and "
     "long-running transactions.",
     "检查节点 %s 的负载：事务与语句速率、锁等待、回滚以及长事务。"},
    {"cluster",
     "Check cluster state on %s: membership, certification failures, conflicts and flow control.",
     "检查节点 %s 的集群状态：成员关系、认证失败、冲突与流控。"},
};

static const char *action_for(const char *cat, int lang)
{
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (!strcasecmp(actions[i].category, cat))
            return lang == DBP_LANG_ZH ? actions[i].zh : actions[i].en;
    return lang == DBP_LANG_ZH ? "检查节点 %s 上与这些指标相关的组件。"
                               : "Check the component behind these metrics on %s.";
}

#define TOPN 5

/* Distinct categories among the top metrics, most frequent first. */
static int top_categories(const struct dbp_rooter_result *r, const char *const *cats,
                          const char *out[TOPN], int cnt[TOPN])
{
    int nc = 0;
    for (int i = 0; i < r->n && i < TOPN; i++) {
        const char *c = cats[r->metrics[i].index];
        int k = 0;
        while (k < nc && strcmp(out[k], c))
            k++;
        if (k == nc) {
            out[nc] = c;
            cnt[nc++] = 0;
        }
        cnt[k]++;
    }
    for (int i = 1; i < nc; i++)
        for (int k = i; k > 0 && cnt[k] > cnt[k - 1]; k--) {
            int t = cnt[k];
            const char *s = out[k];
            cnt[k] = cnt[k - 1];
            out[k] = out[k - 1];
            cnt[k - 1] = t;
            out[k - 1] = s;
        }
    return nc;
}

static void summary_lang(struct dbp_buf *b, const struct dbp_rooter_result *r, const char *node,
                         const char *const *names, const char *const *cats, int lang)
{
    bool zh = lang == DBP_LANG_ZH;
    if (r->n == 0) {
        dbp_buf_printf(
            b,
            zh ? "节点 %s 的指标级分析（最近 %d 个采样，%d 个指标）：没有指标偏离其均值超过 "
                 "%.1f 个标准差。"
               : "MetricRooter analysis of node %s over the last %d samples: none of "
                 "its %d metrics deviates from its mean by more than %.1f standard "
                 "deviations.",
            node, r->samples, r->analysed, DBP_ROOTER_Z);
        return;
    }
    dbp_buf_printf(
        b,
        zh ? "节点 %s 的指标级分析（最近 %d 个采样）：%d 个指标中有 %d 个异常（z > %.1f）。"
             "主要根因指标："
           : "MetricRooter analysis of node %s over the last %d samples: %d of %d "
             "metrics are anomalous (z > %.1f). Key metrics:",
        node, r->samples, r->n, r->analysed, DBP_ROOTER_Z);
    for (int i = 0; i < r->n && i < TOPN; i++) {
        const struct dbp_rooter_metric *m = &r->metrics[i];
        bool up = m->smoothed >= m->mean;
        if (zh)
            dbp_buf_printf(
                b, "%s%s（%s）%s至 %.4g（均值 %.4g，偏离 %.1f 个标准差，关联 %d 个异常指标）",
                i ? "；" : "", names[m->index], cats[m->index], up ? "上升" : "下降", m->latest,
                m->mean, m->z, m->degree);
        else
            dbp_buf_printf(b,
                           "%s %s (%s) %s to %.4g from a mean of %.4g (%.1f sigma, linked to "
                           "%d other anomalous metric%s)",
                           i ? ";" : "", names[m->index], cats[m->index], up ? "rose" : "fell",
                           m->latest, m->mean, m->z, m->degree, m->degree == 1 ? "" : "s");
    }
    const char *tc[TOPN];
    int cnt[TOPN];
    int nc = top_categories(r, cats, tc, cnt);
    dbp_buf_puts(b, zh ? "。受影响最大的类别：" : ". Most affected: ");
    for (int k = 0; k < nc; k++)
        dbp_buf_printf(b, zh ? "%s%s（前 %d 中 %d 个）" : "%s%s (%d of the top %d)",
                       k ? (zh ? "、" : ", ") : "", tc[k],
                       zh ? (r->n < TOPN ? r->n : TOPN) : cnt[k],
                       zh ? cnt[k] : (r->n < TOPN ? r->n : TOPN));
    dbp_buf_puts(b, zh ? "。" : ".");
}

void dbp_rooter_summary(const struct dbp_rooter_result *r, const char *node,
                        const char *const *names, const char *const *cats, int langs,
                        char **summary, cJSON **actions_out)
{
    struct dbp_buf b;
    int order[2] = {DBP_LANG_EN, DBP_LANG_ZH};
    if (!langs)
        langs = DBP_LANG_EN;
    dbp_buf_init(&b, 1u << 20);
    bool first = true;
    for (int i = 0; i < 2; i++)
        if (langs & order[i]) {
            if (!first)
                dbp_buf_puts(&b, "\n\n");
            summary_lang(&b, r, node, names, cats, order[i]);
            first = false;
        }
    size_t len;
    *summary = dbp_buf_detach(&b, &len);
    if (!*summary)
        *summary = dbp_xstrdup("");

    cJSON *a = cJSON_CreateArray();
    const char *tc[TOPN];
    int cnt[TOPN];
    int nc = top_categories(r, cats, tc, cnt);
    for (int k = 0; k <= nc; k++) {
        if (k == nc && nc < 2)
            break;
        struct dbp_buf ab;
        dbp_buf_init(&ab, 4096);
        bool f = true;
        for (int i = 0; i < 2; i++) {
            if (!(langs & order[i]))
                continue;
            if (!f)
                dbp_buf_puts(&ab, "\n");
            f = false;
            if (k < nc) {
                /* The templates hold one "%s" for the node: splice it in
                 * without using a non-literal format. */
                const char *t = action_for(tc[k], order[i]), *ph = strstr(t, "%s");
                dbp_buf_append(&ab, t, ph ? (size_t)(ph - t) : strlen(t));
                if (ph) {
                    dbp_buf_puts(&ab, node);
                    dbp_buf_puts(&ab, ph + 2);
                }
            } else {
                dbp_buf_puts(
                    &ab,
                    order[i] == DBP_LANG_ZH
                        ? "多个类别同时异常：先寻找驱动它们的共同原因（例如负载变化），再逐项调优。"
                        : "Several categories move together: look for one cause "
                          "that drives them (for example a workload change) "
                          "before tuning each one.");
            }
        }
        char *s = dbp_buf_detach(&ab, &len);
        cJSON_AddItemToArray(a, cJSON_CreateString(s ? s : ""));
        free(s);
    }
    if (r->n == 0)
        cJSON_AddItemToArray(a, cJSON_CreateString((langs & DBP_LANG_EN)
                                                       ? "No action needed at the metric level."
                                                       : "指标层面无需处理。"));
    *actions_out = a;
}

cJSON *dbp_rooter_json(const struct dbp_rooter_result *r, const char *node,
                       const char *const *names, const char *const *cats, int langs)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
    cJSON *g = cJSON_CreateObject();
    cJSON *gn = cJSON_AddArrayToObject(g, "nodes");
    cJSON *gl = cJSON_AddArrayToObject(g, "links");
    for (int i = 0; i < r->n; i++) {
        const struct dbp_rooter_metric *m = &r->metrics[i];
        char *key = dbp_xasprintf("%s:%s", cats[m->index], names[m->index]);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "key", key);
        cJSON_AddStringToObject(e, "category", cats[m->index]);
        cJSON_AddStringToObject(e, "name", names[m->index]);
        cJSON_AddNumberToObject(e, "z_score", m->z);
        cJSON_AddNumberToObject(e, "latest_value", m->latest);
        cJSON_AddNumberToObject(e, "mean", m->mean);
        cJSON_AddNumberToObject(e, "std", m->std);
        cJSON_AddNumberToObject(e, "score", m->score);
        cJSON *d = cJSON_AddObjectToObject(e, "details");
        cJSON_AddNumberToObject(d, "pagerank", m->score);
        cJSON_AddNumberToObject(d, "z_score", m->z);
        cJSON_AddNumberToObject(d, "connections", m->degree);
        cJSON_AddItemToArray(ms, e);
        cJSON *gnode = cJSON_CreateObject();
        cJSON_AddStringToObject(gnode, "id", key);
        cJSON_AddStringToObject(gnode, "name", names[m->index]);
        cJSON_AddStringToObject(gnode, "category", cats[m->index]);
        cJSON_AddNumberToObject(gnode, "score", m->score);
        cJSON_AddNumberToObject(gnode, "z_score", m->z);
        cJSON_AddItemToArray(gn, gnode);
        free(key);
    }
    for (int e = 0; e < r->nedges; e++) {
        const struct dbp_rooter_edge *ed = &r->edges[e];
        int a = r->metrics[ed->a].index, b = r->metrics[ed->b].index;
        char *ka = dbp_xasprintf("%s:%s", cats[a], names[a]);
        char *kb = dbp_xasprintf("%s:%s", cats[b], names[b]);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "source", ka);
        cJSON_AddStringToObject(l, "target", kb);
        cJSON_AddNumberToObject(l, "weight", ed->weight);
        cJSON_AddNumberToObject(l, "correlation", ed->r);
        cJSON_AddNumberToObject(l, "p_value", ed->p);
        cJSON_AddItemToArray(gl, l);
        free(ka);
        free(kb);
    }
    char *summary = NULL;
    cJSON *acts = NULL;
    dbp_rooter_summary(r, node, names, cats, langs, &summary, &acts);
    cJSON_AddStringToObject(o, "summary", summary);
    cJSON_AddItemToObject(o, "actions", acts);
    free(summary);
    cJSON_AddBoolToObject(o, "summary_pending", false);
    cJSON_AddStringToObject(o, "node", node);
    cJSON_AddItemToObject(o, "graph", g);
    cJSON_AddNumberToObject(o, "anomaly_count", r->n);
    cJSON_AddNumberToObject(o, "metric_count", r->analysed);
    cJSON_AddNumberToObject(o, "samples", r->samples);
    cJSON *pr = cJSON_AddObjectToObject(o, "pagerank");
    cJSON_AddStringToObject(pr, "form", "normalised");
    cJSON_AddBoolToObject(pr, "weighted", true);
    cJSON_AddNumberToObject(pr, "iterations", r->pr.iterations);
    cJSON_AddBoolToObject(pr, "converged", r->pr.converged || r->n <= 1);
    return o;
}
