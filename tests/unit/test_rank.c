/* test_rank.c - PageRank, Pearson edge weights, pair ranking, AC@k, rule baseline. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/rank.h"

#include <math.h>
#include <string.h>

#define NEAR(a, b, eps)                                                                            \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.12g, want %.12g", #a, a_, b_);                                        \
    } while (0)

/* Star 1-2, 1-3 with unit weights, normalised form, worked by hand:
 *   PR2 = 0.05 + 0.85 * PR1 / 2,  PR1 = 0.05 + 0.85 * (PR2 + PR3)
 *   => PR1 = 0.135 / 0.2775, PR2 = PR3 = 0.05 + 0.425 * PR1
 * reported scaled by N = 3. */
static void pagerank_star_by_hand(void **state)
{
    (void)state;
    const double w[9] = {0, 1, 1, 1, 0, 0, 1, 0, 0};
    double pr[3];
    struct dbp_pr_info info;
    assert_int_equal(dbp_pagerank(w, 3, 0.85, DBP_PR_NORMALISED, 1e-12, 1000, pr, &info), 0);
    double p1 = 0.135 / 0.2775, p2 = 0.05 + 0.425 * p1;
    NEAR(pr[0], 3 * p1, 1e-9);
    NEAR(pr[1], 3 * p2, 1e-9);
    NEAR(pr[2], 3 * p2, 1e-9);
    NEAR(pr[0] + pr[1] + pr[2], 3, 1e-9);
    assert_true(info.converged);
    assert_true(info.iterations > 1 && info.iterations < 1000);
}

/* Paper form on the same star with weights 0.5 (w^2 = 0.25):
 *   PR1 = 0.15 + 0.2125 (PR2 + PR3), PR2 = PR3 = 0.15 + 0.2125 PR1 */
static void pagerank_paper_by_hand(void **state)
{
    (void)state;
    const double w[9] = {0, 0.5, 0.5, 0.5, 0, 0, 0.5, 0, 0};
    double pr[3];
    struct dbp_pr_info info;
    dbp_pagerank(w, 3, 0.85, DBP_PR_PAPER, 1e-12, 1000, pr, &info);
    double p1 = (0.15 + 0.425 * 0.15) / (1 - 0.425 * 0.2125), p2 = 0.15 + 0.2125 * p1;
    NEAR(pr[0], p1, 1e-9);
    NEAR(pr[1], p2, 1e-9);
    assert_true(info.converged);
}

/* The paper's form diverges when d * rho(W∘W) >= 1: three fully correlated
 * nodes (rho = 2).  It is reported, not hidden; the default form converges. */
static void pagerank_paper_diverges(void **state)
{
    (void)state;
    const double w[9] = {0, 1, 1, 1, 0, 1, 1, 1, 0};
    double pr[3];
    struct dbp_pr_info info;
    dbp_pagerank(w, 3, 0.85, DBP_PR_PAPER, 1e-10, 1000, pr, &info);
    assert_false(info.converged);
    dbp_pagerank(w, 3, 0.85, DBP_PR_NORMALISED, 1e-10, 1000, pr, &info);
    assert_true(info.converged);
    for (int i = 0; i < 3; i++)
        NEAR(pr[i], 1, 1e-9); /* symmetric graph: uniform */
}

/* Node 3 has no edge: it spreads its rank evenly (dangling node):
 *   PR3 = 0.05 + 0.85 PR3 / 3, PR1 = PR2 = (1 - PR3) / 2 */
static void pagerank_dangling_and_edge_cases(void **state)
{
    (void)state;
    const double w[9] = {0, 1, 0, 1, 0, 0, 0, 0, 0};
    double pr[3];
    dbp_pagerank(w, 3, 0.85, DBP_PR_NORMALISED, 1e-12, 1000, pr, NULL);
    double p3 = 0.05 / (1 - 0.85 / 3);
    NEAR(pr[2], 3 * p3, 1e-9);
    NEAR(pr[0], 3 * (1 - p3) / 2, 1e-9);

    /* no edges at all, negative and NaN weights ignored: uniform */
    const double bad[4] = {5, -1, NAN, 0};
    double pr2[2];
    dbp_pagerank(bad, 2, 0.85, DBP_PR_NORMALISED, 1e-12, 1000, pr2, NULL);
    NEAR(pr2[0], 1, 1e-12);
    NEAR(pr2[1], 1, 1e-12);
    double one;
    assert_int_equal(dbp_pagerank(bad, 1, 0.85, DBP_PR_NORMALISED, 1e-12, 1000, &one, NULL), 0);
    NEAR(one, 1, 1e-12);
    assert_int_equal(dbp_pagerank(bad, 0, 0.85, DBP_PR_NORMALISED, 1e-12, 10, &one, NULL), -1);

    /* a heavier edge pulls rank: 1-2 strong, 2-3 weak */
    const double w3[9] = {0, 0.9, 0, 0.9, 0, 0.1, 0, 0.1, 0};
    dbp_pagerank(w3, 3, 0.85, DBP_PR_NORMALISED, 1e-12, 1000, pr, NULL);
    assert_true(pr[1] > pr[0] && pr[0] > pr[2]);

    assert_string_equal(dbp_pr_form_name(DBP_PR_PAPER), "paper");
    assert_int_equal(dbp_pr_form_from_name("normalised"), DBP_PR_NORMALISED);
    assert_int_equal(dbp_pr_form_from_name("paper"), DBP_PR_PAPER);
    assert_int_equal(dbp_pr_form_from_name("x"), -1);
}

static void pearson(void **state)
{
    (void)state;
    const double x[4] = {1, 2, 3, 4}, up[4] = {2, 4, 6, 8}, down[4] = {4, 3, 2, 1};
    const double flat[4] = {5, 5, 5, 5}, zero_r[4] = {1, -1, -1, 1};
    NEAR(dbp_pearson(x, up, 4), 1, 1e-12);
    NEAR(dbp_pearson(x, down, 4), -1, 1e-12);
    NEAR(dbp_pearson(x, zero_r, 4), 0, 1e-12);
    assert_true(isnan(dbp_pearson(x, flat, 4)));
    const double gap[4] = {1, NAN, 3, 4}, ygap[4] = {2, 100, 6, 8};
    NEAR(dbp_pearson(gap, ygap, 4), 1, 1e-12); /* position 1 skipped on both */
    const double two[4] = {1, NAN, NAN, 4};
    assert_true(isnan(dbp_pearson(two, up, 4))); /* fewer than 3 common points */
    /* a huge constant level with rounding noise is still constant */
    const double big[4] = {1e15, 1e15, 1e15, 1e15};
    assert_true(isnan(dbp_pearson(big, x, 4)));
}

/* Two nodes, three metrics, W = 4: r = 1, r = 0 and a metric constant on
 * one node (skipped) -> w = (1 + 0) / 2. */
static void edge_weights(void **state)
{
    (void)state;
    const double win[2 * 3 * 4] = {
        1, 2, 3, 4, 1, 2,  3,  4, 7, 7, 7, 7, /* node 0 */
        2, 4, 6, 8, 1, -1, -1, 1, 1, 2, 3, 4, /* node 1 */
    };
    double w[4];
    int used[4];
    dbp_rank_edge_weights(win, 2, 3, 4, w, used);
    NEAR(w[0], 0, 0);
    NEAR(w[1], 0.5, 1e-12);
    NEAR(w[2], 0.5, 1e-12);
    assert_int_equal(used[1], 2);
    /* a node whose metrics are all constant has no edge */
    const double flat[2 * 1 * 4] = {1, 2, 3, 4, 5, 5, 5, 5};
    dbp_rank_edge_weights(flat, 2, 1, 4, w, used);
    NEAR(w[1], 0, 0);
    assert_int_equal(used[1], 0);
}

static void ranking_order(void **state)
{
    (void)state;
    /* 3 nodes x 2 types */
    const double probs[6] = {0.9, 0.1, 0.5, 0.5, 0.2, 0.8};
    const double pr[3] = {0.5, 1.5, 1.0};
    struct dbp_rank_item it[6];
    int n = dbp_rank_pairs(probs, pr, 3, 2, it);
    assert_int_equal(n, 6);
    /* scores: n0 .45 .05, n1 .75 .75, n2 .2 .8 */
    assert_int_equal(it[0].node, 2);
    assert_int_equal(it[0].type, 1); /* .8 */
    /* tie .75/.75 on node 1, same prob: type order */
    assert_int_equal(it[1].node, 1);
    assert_int_equal(it[1].type, 0);
    assert_int_equal(it[2].node, 1);
    assert_int_equal(it[2].type, 1);
    assert_int_equal(it[3].node, 0);
    NEAR(it[3].score, 0.45, 1e-12);
    NEAR(it[3].prob, 0.9, 0);
    NEAR(it[3].pr, 0.5, 0);
    /* equal score, higher probability first */
    const double p2[2] = {0.4, 0.8};
    const double r2[2] = {1.0, 0.5};
    n = dbp_rank_pairs(p2, r2, 2, 1, it);
    assert_int_equal(it[0].node, 1);
    /* the xgboost baseline: PageRank 1 everywhere */
    n = dbp_rank_pairs(probs, NULL, 3, 2, it);
    assert_int_equal(it[0].node, 0);
    NEAR(it[0].score, 0.9, 0);
    NEAR(it[0].pr, 1, 0);
}

/* Precision@k = hits in top k / min(k, |R|), from the paper's definition. */
static void precision_at_k(void **state)
{
    (void)state;
    /* 3 nodes x 2 types; truth: (0, 1) */
    bool truth[6] = {false, true, false, false, false, false};
    struct dbp_rank_item r[3] = {{1, 0, 0.9, 0, 0}, {0, 1, 0.8, 0, 0}, {2, 0, 0.1, 0, 0}};
    NEAR(dbp_precision_at_k(r, 3, truth, 3, 2, 1), 0, 0);
    NEAR(dbp_precision_at_k(r, 3, truth, 3, 2, 3), 1, 0);
    NEAR(dbp_precision_at_k(r, 3, truth, 3, 2, 5), 1, 0);
    /* compound truth: (0,0) and (2,1) */
    bool comp[6] = {true, false, false, false, false, true};
    struct dbp_rank_item good[4] = {
        {0, 0, 4, 0, 0}, {1, 1, 3, 0, 0}, {2, 1, 2, 0, 0}, {1, 0, 1, 0, 0}};
    NEAR(dbp_precision_at_k(good, 4, comp, 3, 2, 1), 1, 0);
    NEAR(dbp_precision_at_k(good, 4, comp, 3, 2, 3), 1, 0); /* 2 hits / min(3, 2) */
    struct dbp_rank_item bad[4] = {
        {1, 0, 4, 0, 0}, {0, 0, 3, 0, 0}, {1, 1, 2, 0, 0}, {2, 1, 1, 0, 0}};
    NEAR(dbp_precision_at_k(bad, 4, comp, 3, 2, 1), 0, 0);
    NEAR(dbp_precision_at_k(bad, 4, comp, 3, 2, 3), 0.5, 0);
    NEAR(dbp_precision_at_k(bad, 4, comp, 3, 2, 5), 1, 0);
    /* a list shorter than k (the rule baseline has one pair per node) */
    NEAR(dbp_precision_at_k(bad, 1, comp, 3, 2, 5), 0, 0);
    /* no root cause: undefined, left out of AC@k */
    bool none[6] = {false};
    assert_true(isnan(dbp_precision_at_k(good, 4, none, 3, 2, 1)));
}

static void rule_baseline(void **state)
{
    (void)state;
    assert_string_equal(dbp_rule_type_for_category("cpu"), "cpu_stress");
    assert_string_equal(dbp_rule_type_for_category("IO"), "io_bottleneck");
    assert_string_equal(dbp_rule_type_for_category("network"), "network_bottleneck");
    assert_string_equal(dbp_rule_type_for_category("memory"), "cache_bottleneck");
    assert_string_equal(dbp_rule_type_for_category("transactions"), "workload_surge");
    assert_string_equal(dbp_rule_type_for_category("cluster"), "lock_contention");
    assert_null(dbp_rule_type_for_category("other"));
    assert_null(dbp_rule_type_for_category(NULL));

    /* last 3 = 1 2 3 (mean 2) against 1 2 1 2 1 2 (mean 1.5, std 0.5) */
    const double s1[9] = {1, 2, 1, 2, 1, 2, 1, 2, 3};
    NEAR(dbp_rule_zscore(s1, 9), 1, 1e-12);
    /* a constant baseline that moves: capped */
    const double s2[9] = {1, 1, 1, 1, 1, 1, 5, 5, 5};
    NEAR(dbp_rule_zscore(s2, 9), DBP_RULE_ZCAP, 0);
    /* short series: baseline = everything (MetricRooter's definition) */
    const double s3[3] = {0, 0, 3};
    double m = 1, sd = sqrt(2.0);
    NEAR(dbp_rule_zscore(s3, 3), fabs((0 + 3) / 2.0 - m) / sd, 1e-12);
    const double s4[3] = {NAN, 4, NAN};
    NEAR(dbp_rule_zscore(s4, 3), 0, 0);

    const double z[3] = {3, 5, 9};
    const char *cats[3] = {"cpu", "io", "other"};
    const char *cls2[2] = {"cpu_stress", "io_bottleneck"};
    double score;
    assert_int_equal(dbp_rule_node(z, cats, 3, cls2, 2, &score), 1);
    NEAR(score, 5, 0);
    const char *cls1[2] = {"cpu_stress", "network_bottleneck"};
    assert_int_equal(dbp_rule_node(z, cats, 3, cls1, 2, &score), 0);
    NEAR(score, 3, 0);
    const double zz[3] = {0, 0, 0};
    assert_int_equal(dbp_rule_node(zz, cats, 3, cls2, 2, &score), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pagerank_star_by_hand),
        cmocka_unit_test(pagerank_paper_by_hand),
        cmocka_unit_test(pagerank_paper_diverges),
        cmocka_unit_test(pagerank_dangling_and_edge_cases),
        cmocka_unit_test(pearson),
        cmocka_unit_test(edge_weights),
        cmocka_unit_test(ranking_order),
        cmocka_unit_test(precision_at_k),
        cmocka_unit_test(rule_baseline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
