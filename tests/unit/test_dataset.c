/*
 * test_dataset.c - case directories in the original's format, labels, exact
 * node matching, the seeded stratified split and the training matrix.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/catalog.h"
#include "dbp/dataset.h"
#include "dbp/features.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dbp_catalog *mariadb, *ob4;
static char tmp[256];

static int setup(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    char dir[512];
    const char *src = getenv("DBP_SOURCE_DIR");
    snprintf(dir, sizeof(dir), "%s/config/catalog", src ? src : DBP_SOURCE_DIR);
    if (dbp_catalog_load(dir, "mariadb", &mariadb, &err) ||
        dbp_catalog_load(dir, "oceanbase4", &ob4, &err)) {
        fprintf(stderr, "catalog: %s\n", err.msg);
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "/tmp/dbp-ds-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", tmp);
    dbp_catalog_free(mariadb);
    dbp_catalog_free(ob4);
    return 0;
}

static cJSON *parse(const char *s)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(s, strlen(s), &end, 0);
    assert_non_null(o);
    return o;
}

static void label_formats(void **state)
{
    (void)state;
    struct dbp_case_label l;
    struct dbp_err err = {0};

    /* the original's real single label (reference §6.1) */
    cJSON *o =
        parse("{\"type\": \"cpu_stress\", \"node\": \"obcluster\", \"start_time\": "
              "\"2025-03-05T17:55:46.544985\", \"end_time\": \"2025-03-05T17:58:46.566211\", "
              "\"metrics_count\": 87}");
    assert_int_equal(dbp_case_label_parse(o, &l, &err), 0);
    assert_string_equal(l.type, "cpu_stress");
    assert_int_equal(l.nfaults, 1);
    assert_string_equal(l.faults[0].type, "cpu_stress");
    assert_string_equal(l.faults[0].node, "obcluster");
    assert_int_equal(l.metrics_count, 87);
    assert_true(fabs(l.end_time - l.start_time - 180.021226) < 1e-6);
    dbp_case_label_release(&l);
    cJSON_Delete(o);

    /* normal */
    o = parse("{\"type\": \"normal\", \"start_time\": \"2025-02-20T03:40:15.386913\"}");
    assert_int_equal(dbp_case_label_parse(o, &l, &err), 0);
    assert_int_equal(l.nfaults, 0);
    assert_true(isnan(l.end_time));
    dbp_case_label_release(&l);
    cJSON_Delete(o);

    /* the original's compound: every subtype on the node */
    o = parse("{\"type\": \"compound\", \"subtypes\": [\"cpu_stress\", \"io_bottleneck\"], "
              "\"node\": \"n1\"}");
    assert_int_equal(dbp_case_label_parse(o, &l, &err), 0);
    assert_int_equal(l.nfaults, 2);
    assert_string_equal(l.faults[1].type, "io_bottleneck");
    assert_string_equal(l.faults[1].node, "n1");
    char key[128];
    dbp_case_stratum(&l, key, sizeof(key));
    assert_string_equal(key, "cpu_stress+io_bottleneck");
    dbp_case_label_release(&l);
    cJSON_Delete(o);

    /* multi-node compound: subtypes x nodes */
    o = parse("{\"type\": \"compound\", \"subtypes\": [\"network_bottleneck\"], "
              "\"nodes\": [\"n1\", \"n3\"]}");
    assert_int_equal(dbp_case_label_parse(o, &l, &err), 0);
    assert_int_equal(l.nfaults, 2);
    assert_string_equal(l.faults[1].node, "n3");
    dbp_case_label_release(&l);
    cJSON_Delete(o);

    /* explicit per-node list wins over the rest */
    o = parse("{\"type\": \"compound\", \"subtypes\": [\"x\"], \"node\": \"n9\", \"scenario\": "
              "\"W1\", \"anomalies\": [{\"type\": \"cpu_stress\", \"node\": \"n1\"}, "
              "{\"type\": \"workload_surge\", \"node\": \"*\"}]}");
    assert_int_equal(dbp_case_label_parse(o, &l, &err), 0);
    assert_int_equal(l.nfaults, 2);
    assert_string_equal(l.faults[1].node, "*");
    assert_string_equal(l.scenario, "W1");
    dbp_case_stratum(&l, key, sizeof(key));
    assert_string_equal(key, "cpu_stress+workload_surge");
    /* and survives a round trip through label.json */
    cJSON *j = dbp_case_label_json(&l);
    struct dbp_case_label l2;
    assert_int_equal(dbp_case_label_parse(j, &l2, &err), 0);
    assert_int_equal(l2.nfaults, 2);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "compound");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "subtypes")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "nodes")), 2);
    dbp_case_label_release(&l2);
    cJSON_Delete(j);
    dbp_case_label_release(&l);
    cJSON_Delete(o);

    /* bad input names the field */
    const char *bad[] = {
        "[]",
        "{\"node\": \"n1\"}",
        "{\"type\": \"compound\", \"node\": \"n1\"}",
        "{\"type\": \"cpu_stress\", \"node\": \"['a', 'b']\"}",
        "{\"type\": \"cpu_stress\", \"start_time\": \"yesterday\"}",
        "{\"type\": \"cpu_stress\", \"anomalies\": [{\"type\": \"cpu_stress\"}]}",
    };
    const char *field[] = {"object", "type", "subtypes", "node", "start_time", "anomalies[0]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = parse(bad[i]);
        assert_int_equal(dbp_case_label_parse(o, &l, &err), DBP_ESCHEMA);
        if (!strstr(err.msg, field[i]))
            fail_msg("'%s': error '%s' does not name '%s'", bad[i], err.msg, field[i]);
        cJSON_Delete(o);
    }
}

/* The original's real excerpt (§6.1), OceanBase names, "latest" timestamps,
 * raw values, and the node_relationships pseudo-category. */
static void original_excerpt_parses(void **state)
{
    (void)state;
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/case_cpu_stress_obcluster_20250305175546", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *label = "{\"type\": \"cpu_stress\", \"node\": \"obcluster\", \"start_time\": "
                        "\"2025-03-05T17:55:46.544985\", \"end_time\": "
                        "\"2025-03-05T17:58:46.566211\", \"metrics_count\": 87}";
    const char *metrics =
        "[{\"timestamp\": \"latest\", \"node\": \"10.244.1.14\",\n"
        "  \"metrics\": {\n"
        "   \"cpu\": {\"cpu usage\": 54.0, \"worker time\": 8906540519473.0, \"cpu time\": "
        "241219480000.0},\n"
        "   \"memory\": {\"active memstore used\": 109051904.0, \"total memstore used\": "
        "109051904.0,\n"
        "              \"memstore limit\": 2147483640.0, \"memory usage\": 2591113216.0,\n"
        "              \"observer memory hold size\": 4228710400.0},\n"
        "   \"io\": {\"row cache hit\": 88074.0, \"row cache miss\": 636570.0, \"io read count\": "
        "1821128.0,\n"
        "          \"io read delay\": 74104478785.0},\n"
        "   \"network\": {\"rpc packet in\": 113023860.0, \"rpc packet in bytes\": "
        "70277929529.0},\n"
        "   \"transactions\": {\"request queue time\": 10681733273.0, \"trans commit count\": "
        "6727099.0, \"DB time\": 5.0},\n"
        "   \"node_relationships\": {\"10.244.3.17\": {\"overall\": 0.9, \"categories\": {}}}}},\n"
        " {\"timestamp\": \"latest\", \"node\": \"10.244.3.17\", \"metrics\": {\"cpu\": {\"cpu "
        "usage\": 12.0}}},\n"
        " {\"timestamp\": \"latest\", \"node\": \"10.244.2.16\", \"metrics\": {\"cpu usage\": 7}}]";
    snprintf(path, sizeof(path), "%s/label.json", dir);
    assert_int_equal(dbp_write_file_atomic(path, label, strlen(label), 0644), 0);
    snprintf(path, sizeof(path), "%s/metrics.json", dir);
    assert_int_equal(dbp_write_file_atomic(path, metrics, strlen(metrics), 0644), 0);

    struct dbp_case c;
    struct dbp_err err = {0};
    assert_int_equal(dbp_case_read(dir, ob4, &c, &err), 0);
    assert_string_equal(c.name, "case_cpu_stress_obcluster_20250305175546");
    assert_int_equal(c.nnodes, 3);
    assert_string_equal(c.nodes[0], "10.244.1.14");
    assert_int_equal(c.nsamples[0], 1);
    assert_true(isnan(c.ts[0][0])); /* "latest" */
    const struct dbp_cat_metric *cu = dbp_catalog_find(ob4, "cpu usage");
    const struct dbp_cat_metric *db = dbp_catalog_find(ob4, "db time");
    const struct dbp_cat_metric *rq = dbp_catalog_find(ob4, "request queue time");
    assert_non_null(cu);
    assert_true(c.vals[0][cu->index] == 54.0);
    assert_true(c.vals[0][db->index] == 5.0);
    assert_true(c.vals[0][rq->index] == 10681733273.0);
    assert_true(c.vals[1][cu->index] == 12.0);
    assert_true(c.vals[2][cu->index] == 7.0); /* flat {name: value} */
    assert_true(isnan(c.vals[1][db->index])); /* absent = missing, not 0 */
    /* exact node matching: "obcluster" is no node of the case, so the case's
     * truth is unknown (the original marked every node anomalous) */
    assert_string_equal(dbp_case_unmatched_node(&c), "obcluster");
    for (int i = 0; i < 3; i++)
        assert_false(dbp_case_truth(&c, i, "cpu_stress"));
    dbp_case_release(&c);

    /* and the builder skips it with that reason */
    struct dbp_dataset ds;
    struct dbp_build_report rep;
    struct dbp_build_opts o = {.window = 2, .test_fraction = 0.2, .seed = 1};
    assert_int_not_equal(dbp_dataset_build(tmp, ob4, &o, &ds, &rep, &err), 0);
    assert_int_equal(rep.cases_skipped, 1);
    const cJSON *s0 = cJSON_GetArrayItem(rep.skipped, 0);
    assert_non_null(strstr(cJSON_GetObjectItem(s0, "reason")->valuestring, "obcluster"));
    cJSON_Delete(rep.skipped);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void exact_node_matching(void **state)
{
    (void)state;
    struct dbp_case c;
    dbp_case_init(&c, 2);
    double v[2] = {1, 2};
    dbp_case_add_sample(&c, "n1", 0, v);
    dbp_case_add_sample(&c, "n10", 0, v);
    dbp_case_add_sample(&c, "obcluster-1-zone1", 0, v);
    dbp_case_label_add(&c.label, "cpu_stress", "n1");
    assert_true(dbp_case_truth(&c, 0, "cpu_stress"));
    assert_false(dbp_case_truth(&c, 1, "cpu_stress")); /* n10 contains n1: no */
    assert_false(dbp_case_truth(&c, 0, "io_bottleneck"));
    assert_null(dbp_case_unmatched_node(&c));
    dbp_case_label_add(&c.label, "io_bottleneck", "obcluster");
    assert_false(dbp_case_truth(&c, 2, "io_bottleneck")); /* no substring match */
    assert_string_equal(dbp_case_unmatched_node(&c), "obcluster");
    dbp_case_label_add(&c.label, "workload_surge", "*");
    for (int i = 0; i < 3; i++)
        assert_true(dbp_case_truth(&c, i, "workload_surge"));
    dbp_case_release(&c);
}

/* Write then read: the original's layout, values exact, NaN as absent. */
static void round_trip(void **state)
{
    (void)state;
    size_t M = mariadb->nmetrics;
    struct dbp_case c;
    struct dbp_err err = {0};
    dbp_case_init(&c, M);
    double *v = dbp_xmalloc(M * sizeof(double));
    const char *nodes[3] = {"n1", "n2", "n3"};
    double t0 = 1764300000.25;
    for (int s = 0; s < 10; s++)
        for (int i = 0; i < 3; i++) {
            for (size_t m = 0; m < M; m++)
                v[m] = (m + (size_t)s) % 7 == 0 ? NAN : (double)m * 1.1 + s * 0.1 + i / 3.0;
            dbp_case_add_sample(&c, nodes[i], t0 + 5 * s, v);
        }
    dbp_case_label_add(&c.label, "cpu_stress", "n2");
    dbp_case_label_add(&c.label, "io_bottleneck", "n3");
    c.label.start_time = t0;
    c.label.end_time = t0 + 45;
    dbp_case_dirname(&c.label, t0, c.name, sizeof(c.name));
    assert_string_equal(c.name, "case_compound_cpu_stress_plus_io_bottleneck_multi_20251128032000");
    assert_int_equal(dbp_case_write(tmp, &c, mariadb, &err), 0);
    assert_int_equal(dbp_case_write(tmp, &c, mariadb, &err), DBP_EBUSY);

    /* the file is the original's shape */
    char path[600], *txt = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s/metrics.json", tmp, c.name);
    assert_int_equal(dbp_read_file(path, 64u << 20, &txt, &len), 0);
    cJSON *arr = parse(txt);
    free(txt);
    assert_int_equal(cJSON_GetArraySize(arr), 30);
    const cJSON *e0 = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(e0, "node")->valuestring, "n1");
    assert_non_null(
        strstr(cJSON_GetObjectItem(e0, "timestamp")->valuestring, "2025-11-28T03:20:00.250"));
    const cJSON *cats = cJSON_GetObjectItem(e0, "metrics");
    const cJSON *cat1 = cJSON_GetObjectItem(cats, mariadb->metrics[1].category);
    assert_true(cJSON_IsObject(cat1));
    assert_non_null(cJSON_GetObjectItem(cat1, mariadb->metrics[1].name)); /* m=1: not NaN at s=0 */
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cats, mariadb->metrics[0].category),
                                    mariadb->metrics[0].name)); /* m=0 is NaN at s=0: absent */
    cJSON_Delete(arr);

    struct dbp_case r;
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, c.name);
    assert_int_equal(dbp_case_read(dir, mariadb, &r, &err), 0);
    assert_int_equal(r.nnodes, 3);
    assert_int_equal(r.label.nfaults, 2);
    assert_int_equal(r.label.metrics_count, 30);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.nodes[i], nodes[i]);
        assert_int_equal(r.nsamples[i], 10);
        for (int s = 0; s < 10; s++) {
            assert_true(fabs(r.ts[i][s] - c.ts[i][s]) < 1e-3);
            for (size_t m = 0; m < M; m++) {
                double a = c.vals[i][(size_t)s * M + m], b = r.vals[i][(size_t)s * M + m];
                if (isnan(a))
                    assert_true(isnan(b));
                else
                    assert_true(a == b);
            }
        }
    }
    assert_true(dbp_case_truth(&r, 1, "cpu_stress"));
    assert_false(dbp_case_truth(&r, 0, "cpu_stress"));
    assert_true(dbp_case_truth(&r, 2, "io_bottleneck"));
    dbp_case_release(&r);

    /* list and stats */
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(dbp_cases_list(tmp, &names, &n, &err), 0);
    assert_int_equal(n, 1);
    dbp_cases_list_free(names, n);
    cJSON *st = NULL;
    assert_int_equal(dbp_dataset_stats(tmp, &st, &err), 0);
    assert_int_equal(cJSON_GetObjectItem(st, "anomaly")->valueint, 30);
    assert_int_equal(cJSON_GetObjectItem(st, "normal")->valueint, 0);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(st, "anomaly_types"), "compound")->valueint, 30);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(st, "fault_types"), "io_bottleneck")->valueint, 1);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(st, "is_balanced")));
    cJSON_Delete(st);
    free(v);
    dbp_case_release(&c);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void split_seeded_stratified(void **state)
{
    (void)state;
    enum { G = 33 };
    const char *keys[G];
    for (int i = 0; i < G; i++)
        keys[i] = i < 10 ? "cpu_stress" : i < 20 ? "io_bottleneck" : i < 32 ? "normal" : "rare";
    bool a[G], b[G], c[G];
    dbp_split_groups(keys, G, 0.2, 1314, a);
    dbp_split_groups(keys, G, 0.2, 1314, b);
    assert_memory_equal(a, b, sizeof(a));
    int per[4] = {0};
    for (int i = 0; i < G; i++)
        per[i < 10 ? 0 : i < 20 ? 1 : i < 32 ? 2 : 3] += a[i];
    assert_int_equal(per[0], 2); /* 20 % of 10 */
    assert_int_equal(per[1], 2);
    assert_int_equal(per[2], 2); /* round(2.4) */
    assert_int_equal(per[3], 0); /* a lone case trains */
    /* another seed picks other cases (same counts) */
    bool differs = false;
    for (unsigned long long s = 1; s < 5 && !differs; s++) {
        dbp_split_groups(keys, G, 0.2, s, c);
        differs = memcmp(a, c, sizeof(a)) != 0;
    }
    assert_true(differs);
    /* a new stratum does not reshuffle the others */
    const char *keys2[G + 1];
    memcpy(keys2, keys, sizeof(keys));
    keys2[G] = "new_type";
    bool d[G + 1];
    dbp_split_groups(keys2, G + 1, 0.2, 1314, d);
    assert_memory_equal(a, d, sizeof(a));
    /* two cases: one each side */
    const char *two[2] = {"x", "x"};
    bool t[2];
    dbp_split_groups(two, 2, 0.2, 7, t);
    assert_int_equal(t[0] + t[1], 1);
}

/* Synthetic cases on disk -> windows -> rows, train cases first. */
static void build_from_cases(void **state)
{
    (void)state;
    char root[300];
    struct dbp_err err = {0};
    snprintf(root, sizeof(root), "%s/cases", tmp);
    size_t M = mariadb->nmetrics;
    double *v = dbp_xmalloc(M * sizeof(double));
    const char *types[3] = {"cpu_stress", "io_bottleneck", NULL};
    int ncases = 0;
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 5; k++) {
            struct dbp_case c;
            dbp_case_init(&c, M);
            for (int s = 0; s < 13; s++)
                for (int i = 0; i < 3; i++) {
                    for (size_t m = 0; m < M; m++)
                        v[m] = 100 + (double)((m * 7 + (size_t)s * 3 + (size_t)i) % 11);
                    char node[8];
                    snprintf(node, sizeof(node), "n%d", i + 1);
                    dbp_case_add_sample(&c, node, 1764300000 + 5 * s, v);
                }
            if (types[t])
                dbp_case_label_add(&c.label, types[t], k % 2 ? "n2" : "n1");
            snprintf(c.name, sizeof(c.name), "case_%d_%d", t, k);
            assert_int_equal(dbp_case_write(root, &c, mariadb, &err), 0);
            dbp_case_release(&c);
            ncases++;
        }
    /* one case on an unknown node, one too short, one with a type outside
     * the requested classes */
    const char *extra[3][2] = {
        {"cpu_stress", "n9"}, {"cpu_stress", "n1"}, {"lock_contention", "n1"}};
    for (int x = 0; x < 3; x++) {
        struct dbp_case c;
        dbp_case_init(&c, M);
        for (int s = 0; s < (x == 1 ? 3 : 13); s++)
            for (int i = 0; i < 3; i++) {
                for (size_t m = 0; m < M; m++)
                    v[m] = 1;
                char node[8];
                snprintf(node, sizeof(node), "n%d", i + 1);
                dbp_case_add_sample(&c, node, 1764300000 + 5 * s, v);
            }
        dbp_case_label_add(&c.label, extra[x][0], extra[x][1]);
        snprintf(c.name, sizeof(c.name), "case_extra_%d", x);
        assert_int_equal(dbp_case_write(root, &c, mariadb, &err), 0);
        dbp_case_release(&c);
    }
    free(v);

    const char *cls[2] = {"cpu_stress", "io_bottleneck"};
    struct dbp_build_opts o = {.window = 4,
                               .stride = 3,
                               .test_fraction = 0.4,
                               .seed = 1314,
                               .classes = cls,
                               .nclasses = 2};
    struct dbp_dataset ds;
    struct dbp_build_report rep;
    assert_int_equal(dbp_dataset_build(root, mariadb, &o, &ds, &rep, &err), 0);
    assert_int_equal(rep.cases_total, 18);
    assert_int_equal(rep.cases_used, 15);
    assert_int_equal(rep.cases_skipped, 3);
    /* 13 samples, W 4, stride 3: windows at 0 3 6 9 -> 4 instances x 3 nodes */
    assert_int_equal(ds.rows, 15 * 4 * 3);
    assert_int_equal(ds.ninst, 15 * 4);
    assert_int_equal(ds.dim, dbp_features_dim(M));
    assert_int_equal(ds.nclasses, 2);
    /* whole cases on each side, every stratum represented in the test set
     * (skipped cases may have taken a test slot: the split is decided on
     * the labels, before the metrics are read) */
    int test_groups = 0;
    bool strat_test[3] = {false, false, false};
    for (int g = 0; g < ds.ngroups; g++) {
        test_groups += ds.group_test[g];
        if (ds.group_test[g])
            strat_test[ds.group_names[g][5] - '0'] = true;
    }
    assert_true(strat_test[0] && strat_test[1] && strat_test[2]);
    assert_int_equal(ds.rows - ds.ntrain, (size_t)test_groups * 4 * 3);
    for (size_t r = 0; r < ds.rows; r++)
        assert_int_equal(ds.group_test[ds.group[r]], r >= ds.ntrain);
    /* labels: exactly the faulty node's rows of its type */
    size_t pos[2] = {0, 0};
    for (size_t r = 0; r < ds.rows; r++)
        for (int l = 0; l < 2; l++)
            pos[l] += ds.Y[r * 2 + (size_t)l];
    assert_int_equal(pos[0], 5 * 4);
    assert_int_equal(pos[1], 5 * 4);
    /* instances: 3 contiguous rows of one group, symmetric weights */
    for (size_t i = 0; i < ds.ninst; i++) {
        const struct dbp_ds_instance *in = &ds.insts[i];
        assert_int_equal(in->nnodes, 3);
        for (int n = 0; n < 3; n++)
            assert_int_equal(ds.group[in->first_row + (size_t)n], in->group);
        assert_true(in->w[1] == in->w[3]);
        assert_true(in->w[0] == 0);
    }
    cJSON_Delete(rep.skipped);
    dbp_dataset_release(&ds);

    /* same data, seed and fraction -> same matrix */
    struct dbp_dataset d1, d2;
    assert_int_equal(dbp_dataset_build(root, mariadb, &o, &d1, &rep, &err), 0);
    cJSON_Delete(rep.skipped);
    assert_int_equal(dbp_dataset_build(root, mariadb, &o, &d2, &rep, &err), 0);
    cJSON_Delete(rep.skipped);
    assert_int_equal(d1.rows, d2.rows);
    assert_memory_equal(d1.X, d2.X, d1.rows * d1.dim * sizeof(float));
    dbp_dataset_release(&d1);
    dbp_dataset_release(&d2);

    /* classes from the data: the sorted union of fault types */
    o.classes = NULL;
    o.nclasses = 0;
    assert_int_equal(dbp_dataset_build(root, mariadb, &o, &ds, &rep, &err), 0);
    assert_int_equal(ds.nclasses, 3);
    assert_string_equal(ds.classes[0], "cpu_stress");
    assert_string_equal(ds.classes[2], "lock_contention");
    cJSON_Delete(rep.skipped);
    dbp_dataset_release(&ds);

    /* no cases at all */
    char empty[320];
    snprintf(empty, sizeof(empty), "%s/none", tmp);
    assert_int_equal(dbp_dataset_build(empty, mariadb, &o, &ds, &rep, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "no anomaly cases"));
    cJSON_Delete(rep.skipped);
}

/* partition() moves test groups behind train groups, keeping instances whole. */
static void partition_rows(void **state)
{
    (void)state;
    const char *cls[1] = {"t"};
    struct dbp_dataset ds;
    dbp_dataset_init(&ds, 2, cls, 1, 100);
    int g0 = dbp_dataset_add_group(&ds, "a", "", true);
    int g1 = dbp_dataset_add_group(&ds, "b", "", false);
    double w[4] = {0, 0.5, 0.5, 0};
    for (int g = 0; g < 2; g++) {
        int in = dbp_dataset_add_instance(&ds, g ? g1 : g0, 2, w);
        for (int n = 0; n < 2; n++) {
            float x[2] = {(float)g, (float)n};
            unsigned char y = (unsigned char)n;
            assert_int_equal(dbp_dataset_add_row(&ds, g ? g1 : g0, in, x, &y, -1, 0), 0);
        }
    }
    assert_int_equal(dbp_dataset_partition(&ds), 0);
    assert_int_equal(ds.ntrain, 2);
    assert_true(ds.X[0] == 1 && ds.X[1] == 0); /* group b first */
    assert_true(ds.X[4] == 0 && ds.X[5] == 0);
    assert_int_equal(ds.insts[0].first_row, 2);
    assert_int_equal(ds.insts[1].first_row, 0);
    dbp_dataset_release(&ds);

    /* max_rows bounds the matrix */
    dbp_dataset_init(&ds, 2, cls, 1, 3);
    float x[2] = {0, 0};
    unsigned char y = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(dbp_dataset_add_row(&ds, 0, 0, x, &y, -1, 0), 0);
    assert_int_equal(dbp_dataset_add_row(&ds, 0, 0, x, &y, -1, 0), DBP_ETOOBIG);
    dbp_dataset_release(&ds);
}

/* Windows before the injection (label start_time) are negatives. */
static void fault_time_bounds(void **state)
{
    (void)state;
    const char *cls[1] = {"cpu_stress"};
    const char *cats[2] = {"cpu", "io"};
    struct dbp_case c;
    dbp_case_init(&c, 2);
    double t0 = 1764300000;
    for (int s = 0; s < 12; s++)
        for (int i = 0; i < 2; i++) {
            double v[2] = {s < 6 || i ? 1.0 + (s % 2) * 0.01 : 50.0 + s, 2};
            dbp_case_add_sample(&c, i ? "n2" : "n1", t0 + 5 * s, v);
        }
    dbp_case_label_add(&c.label, "cpu_stress", "n1");
    c.label.start_time = t0 + 30; /* sample 6 */
    c.label.end_time = NAN;
    struct dbp_dataset ds;
    dbp_dataset_init(&ds, dbp_features_dim(2), cls, 1, 0);
    int g = dbp_dataset_add_group(&ds, "c", "", false);
    /* W 4, stride 2: windows at 0 2 4 6 8 -> samples in fault 0 0 2 4 4 */
    assert_int_equal(dbp_dataset_add_case(&ds, &c, cats, g, 4, 2, 60), 5 * 2);
    const unsigned char want[5] = {0, 0, 1, 1, 1};
    for (int w = 0; w < 5; w++) {
        assert_int_equal(ds.Y[(size_t)w * 2], want[w]); /* n1 */
        assert_int_equal(ds.Y[(size_t)w * 2 + 1], 0);   /* n2 never */
    }
    /* the rule sees the jump against the pre-fault past of n1 */
    assert_int_equal(ds.rule_type[2 * 2], 0);
    assert_true(ds.rule_score[2 * 2] > 3);
    /* and an end time closes it again */
    c.label.end_time = t0 + 40; /* samples 6..8 */
    dbp_dataset_release(&ds);
    dbp_dataset_init(&ds, dbp_features_dim(2), cls, 1, 0);
    g = dbp_dataset_add_group(&ds, "c", "", false);
    dbp_dataset_add_case(&ds, &c, cats, g, 4, 2, 60);
    const unsigned char want2[5] = {0, 0, 1, 1, 0};
    for (int w = 0; w < 5; w++)
        assert_int_equal(ds.Y[(size_t)w * 2], want2[w]);
    dbp_dataset_release(&ds);
    dbp_case_release(&c);
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[700];
    assert_int_equal(dbp_mkdir_p(dir, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_int_equal(dbp_write_file_atomic(p, text, strlen(text), 0644), 0);
}

/*
 * M8: the stats count a case's entries from label.json's metrics_count and
 * never parse its metrics.json (here not even JSON); only an old case
 * without metrics_count is counted from its metrics.json.
 */
static void stats_from_labels(void **state)
{
    (void)state;
    char root[400], dir[500];
    struct dbp_err err = {0};
    snprintf(root, sizeof(root), "%s/stats", tmp);
    snprintf(dir, sizeof(dir), "%s/case_cpu_stress_n1_20261204000000", root);
    put(dir, "metrics.json", "[this is not JSON and would count as 0");
    put(dir, "label.json",
        "{\"type\": \"cpu_stress\", \"node\": \"n1\", \"metrics_count\": 42}");
    snprintf(dir, sizeof(dir), "%s/case_normal_20261204000100", root);
    put(dir, "metrics.json", "[{}, {}, {}]");
    put(dir, "label.json", "{\"type\": \"normal\", \"node\": null}");
    cJSON *o = NULL;
    assert_int_equal(dbp_dataset_stats(root, &o, &err), 0);
    assert_int_equal((int)cJSON_GetObjectItem(o, "cases")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(o, "anomaly")->valuedouble, 42);
    assert_int_equal((int)cJSON_GetObjectItem(o, "normal")->valuedouble, 3);
    assert_int_equal(
        (int)cJSON_GetObjectItem(cJSON_GetObjectItem(o, "anomaly_types"), "cpu_stress")
            ->valuedouble,
        42);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_formats),           cmocka_unit_test(original_excerpt_parses),
        cmocka_unit_test(exact_node_matching),     cmocka_unit_test(round_trip),
        cmocka_unit_test(split_seeded_stratified), cmocka_unit_test(build_from_cases),
        cmocka_unit_test(partition_rows),          cmocka_unit_test(fault_time_bounds),
        cmocka_unit_test(stats_from_labels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
