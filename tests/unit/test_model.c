/*
 * test_model.c - boosters per type through the XGBoost C API: training on a
 * separable synthetic dataset, evaluation, save/load, corrupt models, list.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/dataset.h"
#include "dbp/features.h"
#include "dbp/model.h"
#include "dbp/rank.h"
#include "dbp/util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { M = 8, W = 6, N = 3, WIN_PER_CASE = 10, CASES_PER_TYPE = 6, NORMAL_CASES = 2 };

static const char *classes[3] = {"cpu_stress", "io_bottleneck", "network_bottleneck"};
static const char *mnames[M] = {"cpu_a", "cpu_b", "io_a", "io_b", "net_a", "net_b", "trx", "mem"};
static const char *mcats[M] = {"cpu",     "cpu",     "io",           "io",
                               "network", "network", "transactions", "memory"};
static char tmp[256];
static struct dbp_dataset ds;
static struct dbp_model *trained;

static double rnd(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/*
 * One node window: every metric ~100 +- 5 %; a fault multiplies its
 * category's two metrics by 3 and gives them a rising slope; the faulty
 * node's metrics also move with a shared wave (correlated nodes).
 */
static void window(unsigned long long *s, int fault, double *win)
{
    for (int m = 0; m < M; m++)
        for (int k = 0; k < W; k++) {
            double v = 100 + 10 * m + 5 * (rnd(s) - 0.5) * 2;
            if (fault >= 0 && m / 2 == fault)
                v = v * 3 + 20 * k;
            win[m * W + k] = v;
        }
}

/* ~600 windows: 6 cases per type + 2 normal cases, 10 instances of 3 nodes. */
static void make_dataset(struct dbp_dataset *d, unsigned long long seed)
{
    unsigned long long s = seed;
    dbp_dataset_init(d, dbp_features_dim(M), classes, 3, 0);
    int ncases = 3 * CASES_PER_TYPE + NORMAL_CASES;
    const char *keys[3 * CASES_PER_TYPE + NORMAL_CASES];
    bool test[3 * CASES_PER_TYPE + NORMAL_CASES];
    for (int c = 0; c < ncases; c++)
        keys[c] = c < 3 * CASES_PER_TYPE ? classes[c / CASES_PER_TYPE] : "normal";
    dbp_split_groups(keys, ncases, 0.34, 1314, test);
    for (int c = 0; c < ncases; c++) {
        char name[32];
        snprintf(name, sizeof(name), "case_%02d", c);
        int g = dbp_dataset_add_group(d, name, c < 3 * CASES_PER_TYPE ? "A" : "", test[c]);
        int type = c < 3 * CASES_PER_TYPE ? c / CASES_PER_TYPE : -1;
        int bad = c % N; /* the faulty node varies */
        for (int w = 0; w < WIN_PER_CASE; w++) {
            double win[N * M * W], wts[N * N];
            for (int n = 0; n < N; n++)
                window(&s, n == bad ? type : -1, win + n * M * W);
            dbp_rank_edge_weights(win, N, M, W, wts, NULL);
            int in = dbp_dataset_add_instance(d, g, N, wts);
            for (int n = 0; n < N; n++) {
                float x[M * DBP_FEAT_PER_METRIC];
                unsigned char y[3] = {0, 0, 0};
                double z[M];
                dbp_features_node(win + n * M * W, M, W, x);
                if (n == bad && type >= 0)
                    y[type] = 1;
                for (int m = 0; m < M; m++)
                    z[m] = dbp_rule_zscore(win + n * M * W + m * W, W);
                double rs;
                int rt = dbp_rule_node(z, mcats, M, classes, 3, &rs);
                assert_int_equal(dbp_dataset_add_row(d, g, in, x, y, rt, rs), 0);
            }
        }
    }
    assert_int_equal(dbp_dataset_partition(d), 0);
}

static struct dbp_model_spec spec = {
    .catalog = "synthetic",
    .nmetrics = M,
    .metric_names = mnames,
    .metric_categories = mcats,
    .window = W,
    .stride = W,
    .data_dir = "/nowhere",
};

static int progress_calls;
static double last_pct;

static int progress(void *cls, double pct, const char *msg)
{
    (void)cls;
    assert_true(pct >= last_pct);
    assert_true(pct <= 100);
    assert_non_null(strstr(msg, "round"));
    last_pct = pct;
    progress_calls++;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/dbp-model-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    make_dataset(&ds, 42);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    dbp_model_unref(trained);
    dbp_dataset_release(&ds);
    return 0;
}

static struct dbp_model_params params(void)
{
    struct dbp_model_params p;
    dbp_model_params_default(&p);
    p.rounds = 20;
    return p;
}

static void split_is_reproducible(void **state)
{
    (void)state;
    struct dbp_dataset d2;
    make_dataset(&d2, 42);
    assert_int_equal(d2.rows, ds.rows);
    assert_int_equal(d2.ntrain, ds.ntrain);
    assert_memory_equal(d2.X, ds.X, ds.rows * ds.dim * sizeof(float));
    assert_int_equal(ds.rows, (3 * CASES_PER_TYPE + NORMAL_CASES) * WIN_PER_CASE * N);
    /* whole cases per side; every type on both sides */
    int pos_train[3] = {0}, pos_test[3] = {0};
    for (size_t r = 0; r < ds.rows; r++)
        for (int l = 0; l < 3; l++)
            (r < ds.ntrain ? pos_train : pos_test)[l] += ds.Y[r * 3 + (size_t)l];
    for (int l = 0; l < 3; l++) {
        assert_true(pos_train[l] > 0);
        assert_true(pos_test[l] >= WIN_PER_CASE * 2); /* round(0.34 * 6) = 2 cases */
    }
    dbp_dataset_release(&d2);
}

static void train_and_evaluate(void **state)
{
    (void)state;
    struct dbp_model_params p = params();
    struct dbp_err err = {0};
    progress_calls = 0;
    last_pct = 0;
    assert_int_equal(dbp_model_train(&ds, &spec, &p, progress, NULL, &trained, &err), 0);
    assert_true(progress_calls >= 3 * p.rounds);
    assert_true(last_pct == 100);
    assert_int_equal(dbp_model_nclasses(trained), 3);
    assert_int_equal(dbp_model_dim(trained), dbp_features_dim(M));

    const cJSON *ev = dbp_model_eval(trained);
    assert_non_null(ev);
    const cJSON *pt = cJSON_GetObjectItem(ev, "per_type");
    for (int l = 0; l < 3; l++) {
        const cJSON *t = cJSON_GetObjectItem(pt, classes[l]);
        double f1 = cJSON_GetObjectItem(t, "f1")->valuedouble;
        if (!(f1 > 0.9))
            fail_msg("F1 of %s is %.3f", classes[l], f1);
        assert_true(cJSON_GetObjectItem(t, "support")->valueint >= 20);
        assert_non_null(cJSON_GetObjectItem(t, "precision"));
        assert_non_null(cJSON_GetObjectItem(t, "recall"));
    }
    assert_non_null(cJSON_GetObjectItem(ev, "per_type_rule"));
    const cJSON *ak = cJSON_GetObjectItem(ev, "ac_at_k");
    assert_int_equal(cJSON_GetObjectItem(ak, "instances")->valueint,
                     cJSON_GetObjectItem(pt, classes[0]) ? 6 * WIN_PER_CASE : 0);
    const cJSON *me = cJSON_GetObjectItem(ak, "methods");
    for (int k = 0; k < 3; k++) {
        const char *meth[3] = {"graph", "xgboost", "rule"};
        const cJSON *mo = cJSON_GetObjectItem(me, meth[k]);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(mo, "AC@1")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(mo, "AC@5")));
    }
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(me, "graph"), "AC@1")->valuedouble >= 0.9);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(me, "xgboost"), "AC@1")->valuedouble >=
                0.9);
    /* one fault per case on one node: all test instances are single_node */
    const cJSON *sn = cJSON_GetObjectItem(cJSON_GetObjectItem(ak, "by_group"), "single_node");
    assert_int_equal(cJSON_GetObjectItem(sn, "instances")->valueint, 6 * WIN_PER_CASE);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(ak, "by_scenario"), "A"));

    /* predictions are probabilities and separate the faulty node */
    double probs[3 * 3];
    size_t r0 = ds.ntrain;
    assert_int_equal(dbp_model_predict(trained, ds.X + r0 * ds.dim, 3, probs, &err), 0);
    for (int i = 0; i < 9; i++)
        assert_true(probs[i] >= 0 && probs[i] <= 1);
}

static void reproducible_training(void **state)
{
    (void)state;
    struct dbp_model_params p = params();
    struct dbp_model *m2 = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_model_train(&ds, &spec, &p, NULL, NULL, &m2, &err), 0);
    double a[9], b[9];
    dbp_model_predict(trained, ds.X, 3, a, &err);
    dbp_model_predict(m2, ds.X, 3, b, &err);
    assert_memory_equal(a, b, sizeof(a));
    dbp_model_unref(m2);
}

static int cancel_at_half(void *cls, double pct, const char *msg)
{
    (void)cls;
    (void)msg;
    return pct >= 50;
}

static void cancel_training(void **state)
{
    (void)state;
    struct dbp_model_params p = params();
    struct dbp_model *m2 = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_model_train(&ds, &spec, &p, cancel_at_half, NULL, &m2, &err), DBP_EBUSY);
    assert_null(m2);
    assert_string_equal(err.msg, "cancelled");
    p.rounds = 0;
    assert_int_equal(dbp_model_train(&ds, &spec, &p, NULL, NULL, &m2, &err), DBP_EINVAL);
}

static cJSON *read_json(const char *path)
{
    char *txt = NULL;
    size_t len = 0;
    assert_int_equal(dbp_read_file(path, 64u << 20, &txt, &len), 0);
    const char *end;
    cJSON *o = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
    free(txt);
    assert_non_null(o);
    return o;
}

static void save_load_same_predictions(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    char models[300], path[600];
    snprintf(models, sizeof(models), "%s/models", tmp);
    assert_int_equal(dbp_model_save(trained, models, NULL, &err), 0);
    const char *name = dbp_model_name(trained);
    assert_true(dbp_model_name_ok(name));
    assert_int_equal(strncmp(name, "dist-diagnosis-model_", 21), 0);
    assert_int_equal(strlen(name), strlen("dist-diagnosis-model_20251128_032000"));

    /* files */
    const char *files[] = {"booster_cpu_stress.json",
                           "booster_io_bottleneck.json",
                           "booster_network_bottleneck.json",
                           "meta.json",
                           "evaluation.json",
                           "config.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", models, name, files[i]);
        assert_int_equal(access(path, R_OK), 0);
    }
    /* the staging directory was renamed, not left behind (M7: it is synced
     * before the rename, models_dir after) */
    {
        DIR *d = opendir(models);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)))
            if (!strncmp(de->d_name, ".tmp-", 5))
                fail_msg("staging directory left: %s", de->d_name);
        closedir(d);
    }
    /* the boosters are XGBoost JSON */
    snprintf(path, sizeof(path), "%s/%s/booster_cpu_stress.json", models, name);
    cJSON *b = read_json(path);
    assert_non_null(cJSON_GetObjectItem(b, "learner"));
    cJSON_Delete(b);
    /* meta.json */
    snprintf(path, sizeof(path), "%s/%s/meta.json", models, name);
    cJSON *meta = read_json(path);
    assert_string_equal(cJSON_GetObjectItem(meta, "name")->valuestring, name);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(meta, "classes")), 3);
    assert_int_equal(cJSON_GetObjectItem(meta, "window")->valueint, W);
    assert_string_equal(cJSON_GetObjectItem(meta, "catalog")->valuestring, "synthetic");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(meta, "metrics")), M);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(meta, "feature_names")),
                     M * DBP_FEAT_PER_METRIC);
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "feature_names"), 5)->valuestring,
        "cpu_a:slope");
    assert_int_equal(cJSON_GetObjectItem(meta, "seed")->valueint, 1314);
    const cJSON *pj = cJSON_GetObjectItem(meta, "params");
    assert_string_equal(cJSON_GetObjectItem(pj, "objective")->valuestring, "binary:logistic");
    assert_string_equal(cJSON_GetObjectItem(pj, "tree_method")->valuestring, "hist");
    assert_int_equal(cJSON_GetObjectItem(pj, "rounds")->valueint, 20);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "train"), "rows")->valueint,
                     (int)ds.ntrain);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "test"), "rows")->valueint,
                     (int)(ds.rows - ds.ntrain));
    assert_non_null(cJSON_GetObjectItem(meta, "created_at"));
    assert_string_equal(cJSON_GetObjectItem(meta, "pagerank")->valuestring, "normalised");
    cJSON_Delete(meta);
    snprintf(path, sizeof(path), "%s/%s/evaluation.json", models, name);
    cJSON *ev = read_json(path);
    assert_non_null(cJSON_GetObjectItem(ev, "ac_at_k"));
    cJSON_Delete(ev);

    struct dbp_model *m2 = NULL;
    assert_int_equal(dbp_model_load(models, name, &m2, &err), 0);
    assert_string_equal(dbp_model_name(m2), name);
    assert_int_equal(dbp_model_window(m2), W);
    assert_string_equal(dbp_model_metric(m2, 2), "io_a");
    assert_string_equal(dbp_model_metric_category(m2, 2), "io");
    assert_non_null(dbp_model_eval(m2));
    size_t R = ds.rows - ds.ntrain;
    double *a = dbp_xmalloc(R * 3 * sizeof(double)), *bb = dbp_xmalloc(R * 3 * sizeof(double));
    assert_int_equal(dbp_model_predict(trained, ds.X + ds.ntrain * ds.dim, R, a, &err), 0);
    assert_int_equal(dbp_model_predict(m2, ds.X + ds.ntrain * ds.dim, R, bb, &err), 0);
    for (size_t i = 0; i < R * 3; i++)
        assert_true(fabs(a[i] - bb[i]) < 1e-6);
    free(a);
    free(bb);
    dbp_model_unref(m2);

    /* a second save in the same second gets a suffix; list is newest first */
    assert_int_equal(dbp_model_save(trained, models, NULL, &err), 0);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(dbp_model_list(models, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], dbp_model_name(trained));
    assert_true(strcmp(names[0], names[1]) > 0);
    dbp_cases_list_free(names, n);
    assert_int_equal(dbp_model_save(trained, models, dbp_model_name(trained), &err), DBP_EBUSY);
}

static void copy_model(const char *models, const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp -r '%s/%s' '%s/%s'", models, from, models, to);
    assert_int_equal(system(cmd), 0);
}

static void corrupt_models_fail_clearly(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    struct dbp_model *m = NULL;
    char models[300], path[700];
    snprintf(models, sizeof(models), "%s/models", tmp);
    const char *good = dbp_model_name(trained);

    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_nope", &m, &err), DBP_ENOTFOUND);
    assert_int_equal(dbp_model_load(models, "../etc", &m, &err), DBP_ENOTFOUND);

    copy_model(models, good, "dist-diagnosis-model_missing_booster");
    snprintf(path, sizeof(path),
             "%s/dist-diagnosis-model_missing_booster/booster_io_bottleneck.json", models);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_missing_booster", &m, &err),
                     DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "booster_io_bottleneck.json is missing"));

    copy_model(models, good, "dist-diagnosis-model_garbage");
    snprintf(path, sizeof(path), "%s/dist-diagnosis-model_garbage/booster_cpu_stress.json", models);
    assert_int_equal(dbp_write_file_atomic(path, "{\"learner\": 1", 13, 0644), 0);
    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_garbage", &m, &err), DBP_EXGB);
    assert_non_null(strstr(err.msg, "booster_cpu_stress.json"));

    copy_model(models, good, "dist-diagnosis-model_no_meta");
    snprintf(path, sizeof(path), "%s/dist-diagnosis-model_no_meta/meta.json", models);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_no_meta", &m, &err), DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "meta.json is missing"));

    copy_model(models, good, "dist-diagnosis-model_bad_meta");
    snprintf(path, sizeof(path), "%s/dist-diagnosis-model_bad_meta/meta.json", models);
    const char *bad = "{\"classes\": [\"cpu_stress\"], \"window\": 6, \"metrics\": [{\"name\": "
                      "\"a\"}], \"dim\": 99, \"feature_names\": []}";
    assert_int_equal(dbp_write_file_atomic(path, bad, strlen(bad), 0644), 0);
    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_bad_meta", &m, &err),
                     DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "dim"));

    /* a booster trained for other features */
    copy_model(models, good, "dist-diagnosis-model_dims");
    snprintf(path, sizeof(path), "%s/dist-diagnosis-model_dims/meta.json", models);
    cJSON *meta = read_json(path);
    cJSON *ms = cJSON_GetObjectItem(meta, "metrics"),
          *fn = cJSON_GetObjectItem(meta, "feature_names");
    cJSON_DeleteItemFromArray(ms, 0);
    for (int i = 0; i < DBP_FEAT_PER_METRIC; i++)
        cJSON_DeleteItemFromArray(fn, 0);
    cJSON_ReplaceItemInObject(meta, "dim", cJSON_CreateNumber((M - 1) * DBP_FEAT_PER_METRIC));
    char *txt = cJSON_Print(meta);
    assert_int_equal(dbp_write_file_atomic(path, txt, strlen(txt), 0644), 0);
    free(txt);
    cJSON_Delete(meta);
    assert_int_equal(dbp_model_load(models, "dist-diagnosis-model_dims", &m, &err), DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "features"));
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_is_reproducible),      cmocka_unit_test(train_and_evaluate),
        cmocka_unit_test(reproducible_training),      cmocka_unit_test(cancel_training),
        cmocka_unit_test(save_load_same_predictions), cmocka_unit_test(corrupt_models_fail_clearly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
