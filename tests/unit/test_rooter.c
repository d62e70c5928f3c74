/* test_rooter.c - MetricRooter: z selection, Fisher-z edges, weighted PageRank, summary. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/rank.h"
#include "dbp/rooter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M = 6, H = 30 };

static const char *names[M] = {"Cpu_time",   "cpu_busy",   "Innodb_data_writes",
                               "Bytes_sent", "Com_select", "Memory_used"};
static const char *cats[M] = {"cpu", "cpu", "io", "network", "transactions", "memory"};

/* Deterministic noise in [-1, 1]. */
static double noise(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 32767.5 - 1.0;
}

/*
 * Metric 0: flat noise, then a step of +10 in the last 5 points (anomalous).
 * Metric 1: 2 * metric 0 + 3 (r = 1 with metric 0 -> p = 0, weight 1e10).
 * Metric 2: its own noise and a +15 step in the last 3 points (anomalous;
 *           r ~ 0.7 with metrics 0 and 1 over 30 points -> p ~ 1e-5, a
 *           weight ~ 1e5, far below 1e10).
 * Metrics 3-5: periodic, their newest 3 points near their mean.
 */
static void fill(double *hist)
{
    unsigned s = 42;
    for (int k = 0; k < H; k++) {
        double a = 100 + noise(&s) + (k >= H - 5 ? 10 : 0);
        hist[0 * H + k] = a;
        hist[1 * H + k] = 2 * a + 3;
        hist[2 * H + k] = 100 + 2 * noise(&s) + (k >= H - 3 ? 15 : 0);
        hist[3 * H + k] = 50 + (k % 2);
        hist[4 * H + k] = 70 + (k % 3);
        hist[5 * H + k] = k % 11 == 5 ? NAN : 20 + (k % 2) * 2;
    }
}

static double zscore(const double *s, int n)
{
    double sum = 0, ss = 0;
    int c = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(s[k])) {
            sum += s[k];
            c++;
        }
    double mean = sum / c;
    for (int k = 0; k < n; k++)
        if (isfinite(s[k]))
            ss += (s[k] - mean) * (s[k] - mean);
    double sd = sqrt(ss / c), last = (s[n - 1] + s[n - 2] + s[n - 3]) / 3;
    return sd > 0 ? fabs(last - mean) / sd : 0;
}

static int find(const struct dbp_rooter_result *r, int idx)
{
    for (int i = 0; i < r->n; i++)
        if (r->metrics[i].index == idx)
            return i;
    return -1;
}

static void selects_and_ranks(void **state)
{
    (void)state;
    double hist[M * H];
    fill(hist);
    struct dbp_rooter_result r;
    dbp_rooter_run(hist, M, H, DBP_ROOTER_Z, DBP_ROOTER_P, &r);
    assert_int_equal(r.analysed, M);
    assert_int_equal(r.samples, H);
    /* exactly the metrics whose hand-computed z exceeds 1.5 */
    for (int m = 0; m < M; m++) {
        double z = zscore(hist + m * H, H);
        int i = find(&r, m);
        if (z > 1.5) {
            assert_true(i >= 0);
            assert_true(fabs(r.metrics[i].z - z) < 1e-9);
        } else {
            assert_int_equal(i, -1);
        }
    }
    assert_true(find(&r, 0) >= 0 && find(&r, 1) >= 0 && find(&r, 2) >= 0);
    assert_int_equal(find(&r, 3), -1);

    /* edges: Fisher z on the common points, weight 1/max(p, 1e-10) */
    double sum = 0;
    bool saw01 = false;
    for (int e = 0; e < r.nedges; e++) {
        const struct dbp_rooter_edge *ed = &r.edges[e];
        int a = r.metrics[ed->a].index, b = r.metrics[ed->b].index;
        double rr = dbp_pearson(hist + a * H, hist + b * H, H);
        assert_true(fabs(rr - ed->r) < 1e-12);
        double p = fabs(rr) >= 1 ? 0 : erfc(fabs(atanh(rr) * sqrt(H - 3.0)) / sqrt(2.0));
        assert_true(fabs(p - ed->p) < 1e-12);
        assert_true(p < 0.05);
        assert_true(fabs(ed->weight - 1 / fmax(p, 1e-10)) <= 1e-9 * ed->weight);
        if ((a == 0 && b == 1) || (a == 1 && b == 0)) {
            saw01 = true;
            assert_true(ed->weight == 1e10);
        }
    }
    assert_true(saw01);

    /* scores: PageRank over the weights, summing to 1, sorted */
    for (int i = 0; i < r.n; i++) {
        sum += r.metrics[i].score;
        if (i)
            assert_true(r.metrics[i - 1].score >= r.metrics[i].score);
    }
    assert_true(fabs(sum - 1) < 1e-9);
    assert_true(r.pr.converged);

    /* The weights matter: metrics 0 and 1 share a 1e10 edge, metric 2 hangs
     * on weaker ones, so it ranks last among the three.  Unweighted (what the
     * original's networkx call computed) the triangle would tie. */
    int i0 = find(&r, 0), i1 = find(&r, 1), i2 = find(&r, 2);
    assert_true(r.metrics[i2].score < r.metrics[i0].score);
    assert_true(r.metrics[i2].score < r.metrics[i1].score);
    assert_int_equal(r.metrics[i0].degree, r.metrics[i2].degree);
    dbp_rooter_result_release(&r);
}

static void nothing_anomalous(void **state)
{
    (void)state;
    double hist[2 * 10];
    for (int k = 0; k < 10; k++) {
        hist[k] = 5;          /* constant: std 0 -> z 0 */
        hist[10 + k] = k % 2; /* alternating: smoothed near the mean */
    }
    struct dbp_rooter_result r;
    dbp_rooter_run(hist, 2, 10, DBP_ROOTER_Z, DBP_ROOTER_P, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.nedges, 0);
    assert_int_equal(r.analysed, 2);
    const char *n2[2] = {"a", "b"}, *c2[2] = {"cpu", "io"};
    cJSON *o = dbp_rooter_json(&r, "n1", n2, c2, DBP_LANG_EN);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "metrics")), 0);
    assert_int_equal(cJSON_GetObjectItem(o, "anomaly_count")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(o, "metric_count")->valueint, 2);
    assert_non_null(strstr(cJSON_GetObjectItem(o, "summary")->valuestring, "none of"));
    cJSON_Delete(o);
    dbp_rooter_result_release(&r);

    /* one anomalous metric: no graph, score 1 */
    double h1[2 * 10];
    for (int k = 0; k < 10; k++) {
        h1[k] = k < 7 ? 1 + (k % 2) * 0.1 : 9;
        h1[10 + k] = 3;
    }
    dbp_rooter_run(h1, 2, 10, DBP_ROOTER_Z, DBP_ROOTER_P, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.nedges, 0);
    assert_true(fabs(r.metrics[0].score - 1) < 1e-12);
    dbp_rooter_result_release(&r);
}

/* The original's response shape, and a summary built from the data. */
static void json_and_summary(void **state)
{
    (void)state;
    double hist[M * H];
    fill(hist);
    struct dbp_rooter_result r;
    dbp_rooter_run(hist, M, H, DBP_ROOTER_Z, DBP_ROOTER_P, &r);
    cJSON *o = dbp_rooter_json(&r, "n2", names, cats, DBP_LANG_EN | DBP_LANG_ZH);
    const cJSON *ms = cJSON_GetObjectItem(o, "metrics");
    assert_int_equal(cJSON_GetArraySize(ms), r.n);
    const cJSON *m0 = cJSON_GetArrayItem(ms, 0);
    const char *keys[] = {"key",  "category", "name",  "z_score", "latest_value",
                          "mean", "std",      "score", "details"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(cJSON_GetObjectItem(m0, keys[i]));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(m0, "details"), "connections"));
    char key[64];
    snprintf(key, sizeof(key), "%s:%s", cJSON_GetObjectItem(m0, "category")->valuestring,
             cJSON_GetObjectItem(m0, "name")->valuestring);
    assert_string_equal(cJSON_GetObjectItem(m0, "key")->valuestring, key);
    const cJSON *g = cJSON_GetObjectItem(o, "graph");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(g, "nodes")), r.n);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(g, "links")), r.nedges);
    const cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "links"), 0);
    assert_non_null(cJSON_GetObjectItem(l0, "source"));
    assert_non_null(cJSON_GetObjectItem(l0, "weight"));
    assert_non_null(cJSON_GetObjectItem(l0, "correlation"));
    assert_int_equal(cJSON_GetObjectItem(o, "metric_count")->valueint,
                     M); /* metrics, not categories */
    assert_int_equal(cJSON_GetObjectItem(o, "anomaly_count")->valueint, r.n);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(o, "summary_pending")));
    assert_string_equal(cJSON_GetObjectItem(o, "node")->valuestring, "n2");

    const char *sum = cJSON_GetObjectItem(o, "summary")->valuestring;
    assert_non_null(strstr(sum, "node n2"));
    assert_non_null(strstr(sum, "rose"));                    /* the step goes up */
    assert_non_null(strstr(sum, names[r.metrics[0].index])); /* the top metric, named */
    assert_non_null(strstr(sum, "cpu"));                     /* its category */
    assert_non_null(strstr(sum, "节点 n2"));                 /* and in Chinese */
    const cJSON *acts = cJSON_GetObjectItem(o, "actions");
    assert_true(cJSON_GetArraySize(acts) >= 2); /* cpu and io, plus the joint one */
    bool cpu = false, joint = false;
    const cJSON *a;
    cJSON_ArrayForEach (a, acts) {
        cpu |= strstr(a->valuestring, "CPU saturation on n2") != NULL;
        joint |= strstr(a->valuestring, "Several categories") != NULL;
    }
    assert_true(cpu && joint);
    cJSON_Delete(o);

    char *s = NULL;
    cJSON *ac = NULL;
    dbp_rooter_summary(&r, "n2", names, cats, DBP_LANG_ZH, &s, &ac);
    assert_null(strstr(s, "MetricRooter"));
    assert_non_null(strstr(s, "上升"));
    free(s);
    cJSON_Delete(ac);
    dbp_rooter_result_release(&r);

    assert_int_equal(dbp_lang_from_name("English"), DBP_LANG_EN);
    assert_int_equal(dbp_lang_from_name("chinese"), DBP_LANG_ZH);
    assert_int_equal(dbp_lang_from_name("Klingon"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selects_and_ranks),
        cmocka_unit_test(nothing_anomalous),
        cmocka_unit_test(json_and_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
