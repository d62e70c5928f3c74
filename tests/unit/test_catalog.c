/* test_catalog.c - the catalog loader and the shipped catalogs. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char good[] =
    "name: t\n"
    "description: test\n"
    "tenants: {sql: \"SELECT 1, 'sys'\"}\n"
    "queries:\n"
    "  - id: q\n"
    "    scope: cluster\n"
    "    sql: SELECT a, b, c, d, e, f FROM x\n"
    "    columns: {tenant: 0, node_host: 1, node_port: 2, metric: 3, value: 4, kind: 5}\n"
    "    kind_values: {counter: ADD_VALUE, gauge: SET_VALUE}\n"
    "metrics:\n"
    "  - {name: cpu usage, category: cpu, kind: gauge, unit: percent_x100, stat_id: 140006}\n"
    "  - {name: sql select count, category: transactions, kind: counter, unit: count}\n"
    "host:\n"
    "  - {name: process cpu seconds, category: cpu, kind: counter, source: proc_stat_cpu}\n";

static void parses_and_finds(void **state)
{
    (void)state;
    struct dbp_catalog *c = NULL;
    struct dbp_err err = {0};
    if (dbp_catalog_parse("t.yaml", good, strlen(good), &c, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(c->name, "t");
    assert_int_equal(c->nqueries, 1);
    assert_int_equal(c->queries[0].scope, DBP_SCOPE_CLUSTER);
    assert_int_equal(c->queries[0].col_kind, 5);
    assert_string_equal(c->queries[0].kind_counter, "ADD_VALUE");
    assert_int_equal(c->nmetrics, 3);
    const struct dbp_cat_metric *m = dbp_catalog_find(c, "  CPU Usage ");
    assert_non_null(m);
    assert_int_equal(m->kind, DBP_METRIC_GAUGE);
    assert_int_equal(m->stat_id, 140006);
    assert_int_equal(m->index, 0);
    m = dbp_catalog_find(c, "process cpu seconds");
    assert_non_null(m);
    assert_true(m->host);
    assert_int_equal(m->source, DBP_HOST_PROC_CPU);
    assert_null(dbp_catalog_find(c, "cpu"));
    assert_int_equal(dbp_catalog_ncategories(c), 2);
    assert_string_equal(dbp_catalog_category(c, 1), "transactions");
    dbp_catalog_free(c);
}

static void errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"name: t\nqueries: []\nmetrics: []\n", "non-empty list"},
        {"name: t\nbogus: 1\n", "t.yaml:2:1: unknown key 'bogus'"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0}}\nmetrics: []\n",
         "'metric' and 'value' are required"},
        {"name: t\nqueries:\n  - {id: q, sql: x, scope: cluster, columns: {metric: 0, value: 1}}\n"
         "metrics: []\n",
         "needs a 'node_host' column"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\n"
         "metrics:\n  - {name: a, category: cpu, kind: rate}\n",
         "kind must be counter or gauge"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\n"
         "metrics:\n  - {name: a, category: CPU, kind: gauge}\n",
         "category must be lower-case"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\n"
         "metrics:\n  - {name: a, category: cpu, kind: gauge}\n  - {name: A, category: io, kind: gauge}\n",
         "declared twice"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 99}}\nmetrics: []\n",
         "column index"},
        {"name: t\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\nmetrics: []\n"
         "host:\n  - {name: h, category: cpu, kind: gauge, source: nope}\n",
         "unknown host source"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dbp_catalog *c = NULL;
        struct dbp_err err = {0};
        if (dbp_catalog_parse("t.yaml", cases[i].yaml, strlen(cases[i].yaml), &c, &err) == 0)
            fail_msg("case %zu accepted", i);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
    }
}

/* The 58 metric names of the original's OceanBase catalogue (reference
 * §4.2), with the kinds OceanBase itself gives them. */
static const char *const ob58[] = {
    "cpu usage", "worker time", "cpu time", "total memstore used", "active memstore used",
    "memstore limit", "memory usage", "observer memory hold size", "palf write io count to disk",
    "palf write size to disk", "clog trans log total size", "io read count", "io write count",
    "io read delay", "io write delay", "blockscaned data micro block count",
    "accessed data micro block count", "data micro block cache hit", "index micro block cache hit",
    "row cache miss", "row cache hit", "rpc packet in", "rpc packet in bytes", "rpc packet out",
    "rpc packet out bytes", "rpc deliver fail", "rpc net delay", "rpc net frame delay",
    "mysql packet in", "mysql packet in bytes", "mysql packet out", "mysql packet out bytes",
    "mysql deliver fail", "trans commit count", "trans timeout count", "sql update count",
    "active sessions", "sql select count", "trans system trans count", "trans rollback count",
    "sql fail count", "request queue time", "trans user trans count", "commit log replay count",
    "sql delete count", "sql other count", "ps prepare count", "ps execute count",
    "sql inner insert count", "sql inner update count", "memstore write lock succ count",
    "memstore write lock fail count", "DB time", "local trans total used time",
    "distributed trans total used time", "sql local count", "sql remote count",
    "sql distributed count",
};

static void aliases(void **state)
{
    (void)state;
    char text[2048];
    struct dbp_catalog *c = NULL;
    struct dbp_err err = {0};
    snprintf(text, sizeof(text), "%saliases:\n  - {name: CPU Time, metric: process cpu seconds}\n",
             good);
    if (dbp_catalog_parse("t.yaml", text, strlen(text), &c, &err))
        fail_msg("%s", err.msg);
    assert_null(dbp_catalog_find(c, "cpu time")); /* not a metric of its own */
    const struct dbp_cat_metric *m = dbp_catalog_resolve(c, "cpu time");
    assert_non_null(m);
    assert_string_equal(m->name, "process cpu seconds");
    assert_ptr_equal(dbp_catalog_resolve(c, "cpu usage"), dbp_catalog_find(c, "cpu usage"));
    assert_null(dbp_catalog_resolve(c, "nothing"));
    dbp_catalog_free(c);
    static const char *const bad_aliases[] = {
        "aliases:\n  - {name: x, metric: no such metric}\n",
        "aliases:\n  - {name: cpu usage, metric: sql select count}\n",
        "aliases:\n  - {name: x, metric: cpu usage}\n  - {name: X, metric: cpu usage}\n",
        "aliases:\n  - {name: x}\n",
        "aliases:\n  - {name: x, metric: cpu usage, colour: red}\n",
        "aliases: {name: x}\n",
    };
    for (size_t i = 0; i < sizeof(bad_aliases) / sizeof(bad_aliases[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", good, bad_aliases[i]);
        c = NULL;
        if (dbp_catalog_parse("t.yaml", text, strlen(text), &c, &err) == 0)
            fail_msg("accepted: %s", bad_aliases[i]);
        assert_non_null(strstr(err.msg, "t.yaml:"));
    }
}

static void shipped(void **state)
{
    (void)state;
    const char *src = getenv("DBP_SOURCE_DIR");
    char dir[512];
    if (!src)
        skip();
    snprintf(dir, sizeof(dir), "%s/config/catalog", src);
    static const char *const names[] = {"mariadb", "oceanbase4", "oceanbase3"};
    for (size_t i = 0; i < 3; i++) {
        struct dbp_catalog *c = NULL;
        struct dbp_err err = {0};
        if (dbp_catalog_load(dir, names[i], &c, &err))
            fail_msg("%s", err.msg);
        assert_true(c->nmetrics > 20);
        if (i > 0) {
            assert_int_equal(sizeof(ob58) / sizeof(ob58[0]), 58);
            for (size_t k = 0; k < 58; k++)
                if (!dbp_catalog_find(c, ob58[k]))
                    fail_msg("%s lacks '%s'", names[i], ob58[k]);
            /* The original's name heuristic got these wrong. */
            assert_int_equal(dbp_catalog_find(c, "palf write size to disk")->kind, DBP_METRIC_COUNTER);
            assert_int_equal(dbp_catalog_find(c, "rpc deliver fail")->kind, DBP_METRIC_COUNTER);
            assert_int_equal(dbp_catalog_find(c, "mysql deliver fail")->kind, DBP_METRIC_COUNTER);
            assert_int_equal(dbp_catalog_find(c, "active sessions")->kind, DBP_METRIC_GAUGE);
            assert_int_equal(dbp_catalog_find(c, "cpu usage")->kind, DBP_METRIC_GAUGE);
            assert_int_equal(dbp_catalog_find(c, "total memstore used")->kind, DBP_METRIC_GAUGE);
            assert_int_equal(dbp_catalog_find(c, "sql select count")->kind, DBP_METRIC_COUNTER);
        } else {
            assert_non_null(dbp_catalog_find(c, "Com_select"));
            assert_non_null(dbp_catalog_find(c, "wsrep_received_bytes"));
        }
        /* The original dashboard's five default charts have an answer in
         * every shipped catalog (its own name or an alias). */
        static const char *const dash[] = {"cpu usage", "total memstore used", "io read count",
                                           "rpc net delay", "trans commit count"};
        for (size_t k = 0; k < 5; k++)
            if (!dbp_catalog_resolve(c, dash[k]))
                fail_msg("%s cannot answer the dashboard's '%s'", names[i], dash[k]);
        dbp_catalog_free(c);
    }
    struct dbp_catalog *c = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_catalog_load(dir, "../etc/passwd", &c, &err), DBP_EINVAL);
    assert_int_equal(dbp_catalog_load(dir, "nope", &c, &err), DBP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_finds),
        cmocka_unit_test(errors),
        cmocka_unit_test(aliases),
        cmocka_unit_test(shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
