/* test_features.c - per-metric window features against hand-computed values. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/features.h"

#include <math.h>
#include <string.h>

#define EPS 1e-9

static void expect_feats(const double *got, const double *want)
{
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        if (fabs(got[i] - want[i]) > EPS * fmax(1, fabs(want[i])))
            fail_msg("feature %d (%s): got %.12g, want %.12g", i, dbp_features_name(i), got[i],
                     want[i]);
}

/* The textbook window: mean 5, population std 2. */
static void full_window(void **state)
{
    (void)state;
    const double w[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    double f[DBP_FEAT_PER_METRIC];
    dbp_features_extract(w, 8, f);
    const double want[DBP_FEAT_PER_METRIC] = {
        5,               /* mean */
        2,               /* std */
        2,               /* min */
        9,               /* max */
        4.5,             /* median: (4 + 5) / 2 */
        34.0 / 42.0,     /* slope: sxy 34 / sxx 42 */
        9,               /* last */
        1,               /* diff mean: diffs 2 0 0 1 0 2 2 */
        sqrt(6.0 / 7.0), /* diff std */
        0,               /* diff min */
        2,               /* diff max */
        2,               /* diff last */
        7,               /* mean of 5 7 9 */
        7,               /* range */
        0.4,             /* cv = 2 / 5 */
        2,               /* z_last = (9 - 5) / 2 */
    };
    expect_feats(f, want);
}

/* NaN marks a missing sample: statistics skip it, slope keeps positions. */
static void missing_values(void **state)
{
    (void)state;
    const double w[4] = {1, NAN, 3, 5};
    double f[DBP_FEAT_PER_METRIC];
    dbp_features_extract(w, 4, f);
    double sd = sqrt(8.0 / 3.0);
    const double want[DBP_FEAT_PER_METRIC] = {
        3, sd, 1,      5,      3, 54.0 / 42.0, /* positions 0, 2, 3: sxy 6 / sxx 42/9 */
        5, 2,  0,      2,      2, 2,           /* diffs between consecutive valid values: 2, 2 */
        3, 4,  sd / 3, 2 / sd,
    };
    expect_feats(f, want);

    /* Inf counts as missing too. */
    const double w2[4] = {1, INFINITY, 3, 5};
    double f2[DBP_FEAT_PER_METRIC];
    dbp_features_extract(w2, 4, f2);
    expect_feats(f2, want);
}

static void degenerate_windows(void **state)
{
    (void)state;
    double f[DBP_FEAT_PER_METRIC];
    const double none[3] = {NAN, NAN, NAN};
    dbp_features_extract(none, 3, f);
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        assert_true(f[i] == 0);

    const double one[3] = {NAN, 7, NAN};
    dbp_features_extract(one, 3, f);
    const double want1[DBP_FEAT_PER_METRIC] = {7, 0, 7, 7, 7, 0, 7, 0, 0, 0, 0, 0, 7, 0, 0, 0};
    expect_feats(f, want1);

    /* constant: std 0 -> cv and z 0, not NaN */
    const double c[4] = {3, 3, 3, 3};
    dbp_features_extract(c, 4, f);
    const double wantc[DBP_FEAT_PER_METRIC] = {3, 0, 3, 3, 3, 0, 3, 0, 0, 0, 0, 0, 3, 0, 0, 0};
    expect_feats(f, wantc);

    /* mean 0 with spread: cv is 0 (undefined), z defined */
    const double z[2] = {-1, 1};
    dbp_features_extract(z, 2, f);
    assert_true(f[DBP_FEAT_CV] == 0);
    assert_true(fabs(f[DBP_FEAT_Z_LAST] - 1) < EPS);

    /* overflowing statistics become 0, never NaN/Inf */
    const double big[3] = {1e308, -1e308, 1e308};
    dbp_features_extract(big, 3, f);
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        assert_true(isfinite(f[i]));

    dbp_features_extract(NULL, 0, f);
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        assert_true(f[i] == 0);
}

static void names_and_dimension(void **state)
{
    (void)state;
    assert_int_equal(DBP_FEAT_PER_METRIC, 16);
    assert_int_equal(dbp_features_dim(0), 0);
    assert_int_equal(dbp_features_dim(58), 928); /* the original's 58 x 16 */
    assert_int_equal(dbp_features_dim(122), 122 * 16);
    assert_string_equal(dbp_features_name(DBP_FEAT_MEAN), "mean");
    assert_string_equal(dbp_features_name(DBP_FEAT_SLOPE), "slope");
    assert_string_equal(dbp_features_name(DBP_FEAT_Z_LAST), "z_last");
    assert_null(dbp_features_name(16));
    assert_null(dbp_features_name(-1));
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        for (int j = i + 1; j < DBP_FEAT_PER_METRIC; j++)
            assert_true(strcmp(dbp_features_name(i), dbp_features_name(j)) != 0);
}

/* A node vector is the per-metric blocks in catalog order, whatever is
 * missing: the dimension never depends on the data. */
static void node_vector_layout(void **state)
{
    (void)state;
    enum { M = 3, W = 4 };
    const double win[M * W] = {
        1,   2,   3,   4,     /* metric 0 */
        NAN, NAN, NAN, NAN,   /* metric 1: absent */
        10,  10,  10,  1e300, /* metric 2: beyond float range */
    };
    float out[M * DBP_FEAT_PER_METRIC];
    memset(out, 0xff, sizeof(out));
    dbp_features_node(win, M, W, out);
    double f0[DBP_FEAT_PER_METRIC];
    dbp_features_extract(win, W, f0);
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++) {
        assert_true(out[i] == (float)f0[i]);
        assert_true(out[DBP_FEAT_PER_METRIC + i] == 0);
        assert_true(isfinite(out[2 * DBP_FEAT_PER_METRIC + i]));
    }
    assert_true(out[DBP_FEAT_MEAN] == 2.5f);
    assert_true(out[2 * DBP_FEAT_PER_METRIC + DBP_FEAT_LAST] == 3e38f);
}

/* Windows longer than the maximum keep the newest values. */
static void long_window_truncated(void **state)
{
    (void)state;
    static double w[DBP_FEAT_MAX_WINDOW + 10];
    for (int i = 0; i < DBP_FEAT_MAX_WINDOW + 10; i++)
        w[i] = i < 10 ? 1e6 : 1;
    double f[DBP_FEAT_PER_METRIC];
    dbp_features_extract(w, DBP_FEAT_MAX_WINDOW + 10, f);
    assert_true(f[DBP_FEAT_MAX] == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_window),        cmocka_unit_test(missing_values),
        cmocka_unit_test(degenerate_windows), cmocka_unit_test(names_and_dimension),
        cmocka_unit_test(node_vector_layout), cmocka_unit_test(long_window_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
