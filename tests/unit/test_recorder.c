/*
 * test_recorder.c - labels of recorded cases from a fault registry
 * snapshot (dbp_recorder_label), the label's "split" and extra fields, and
 * the campaign helpers: chance level, request parsing, Markdown report.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/dataset.h"
#include "dbp/experiment.h"
#include "dbp/recorder.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *parse(const char *s)
{
    cJSON *o = cJSON_Parse(s);
    if (!o)
        fail_msg("bad JSON in the test: %s", s);
    return o;
}

static void label_init(struct dbp_case_label *l)
{
    memset(l, 0, sizeof(*l));
    dbp_case_label_release(l); /* NaN times, metrics_count -1 */
}

/* Label snapshot s over [from, to]; the caller releases l and frees *inj. */
static void label_of(const char *s, double from, double to, struct dbp_case_label *l,
                     double *fault_end, cJSON **inj)
{
    cJSON *snap = parse(s);
    label_init(l);
    *inj = cJSON_CreateArray();
    *fault_end = -1;
    dbp_recorder_label(snap, from, to, l, fault_end, *inj);
    cJSON_Delete(snap);
}

static bool has_fault(const struct dbp_case_label *l, const char *type, const char *node)
{
    for (int i = 0; i < l->nfaults; i++)
        if (!strcmp(l->faults[i].type, type) && !strcmp(l->faults[i].node, node))
            return true;
    return false;
}

/* ---- dbp_recorder_label ---------------------------------------------------------- */

static void label_injection_inside(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    label_of("[{\"id\":\"a1\",\"name\":\"first\",\"start\":1100,\"end\":1200,"
             "\"parts\":[{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 1);
    assert_true(has_fault(&l, "cpu_stress", "n1"));
    assert_string_equal(l.type, "cpu_stress");
    assert_string_equal(l.node, "n1");
    assert_true(l.start_time == 1100);
    assert_true(l.end_time == 1200);
    assert_true(fe == 1200);
    assert_int_equal(cJSON_GetArraySize(inj), 1);
    const cJSON *o = cJSON_GetArrayItem(inj, 0);
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "a1");
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "first");
    cJSON_Delete(inj);
    dbp_case_label_release(&l);
}

static void label_overlap_is_clipped(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    /* started before the recording: clipped to from */
    label_of("[{\"id\":\"a\",\"name\":\"a\",\"start\":900,\"end\":1050,"
             "\"parts\":[{\"type\":\"io_bottleneck\",\"node\":\"n2\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 1);
    assert_string_equal(l.type, "io_bottleneck");
    assert_true(l.start_time == 1000);
    assert_true(l.end_time == 1050);
    assert_true(fe == 1050);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* still running at the end (no end, or a planned end later): clipped to to */
    label_of("[{\"id\":\"b\",\"name\":\"b\",\"start\":1200,\"end\":null,"
             "\"parts\":[{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"applied\"}]},"
             "{\"id\":\"c\",\"name\":\"c\",\"start\":1250,\"end\":5000,"
             "\"parts\":[{\"type\":\"cpu_stress\",\"node\":\"n3\",\"status\":\"applied\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 2);
    assert_true(l.start_time == 1200);
    assert_true(l.end_time == 1300);
    assert_true(fe == 1300);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);
}

static void label_ignores_unapplied_and_outside(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    label_of("["
             /* parts that never ran */
             "{\"id\":\"f\",\"name\":\"f\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"failed\"},"
             "{\"type\":\"io_bottleneck\",\"node\":\"n1\",\"status\":\"pending\"}]},"
             /* entirely before */
             "{\"id\":\"b\",\"name\":\"b\",\"start\":800,\"end\":900,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n2\",\"status\":\"reverted\"}]},"
             /* ends exactly at from */
             "{\"id\":\"e\",\"name\":\"e\",\"start\":900,\"end\":1000,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n2\",\"status\":\"reverted\"}]},"
             /* entirely after */
             "{\"id\":\"a\",\"name\":\"a\",\"start\":1400,\"end\":1500,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n3\",\"status\":\"reverted\"}]},"
             /* never started */
             "{\"id\":\"p\",\"name\":\"p\",\"start\":null,\"end\":null,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n3\",\"status\":\"pending\"}]}"
             "]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 0);
    assert_string_equal(l.type, "normal");
    assert_string_equal(l.node, "");
    assert_true(l.start_time == 1000);
    assert_true(l.end_time == 1300);
    assert_true(isnan(fe));
    assert_int_equal(cJSON_GetArraySize(inj), 0);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* one failed part next to an applied one: only the applied one counts */
    label_of("[{\"id\":\"m\",\"name\":\"m\",\"start\":1100,\"end\":1200,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"failed\"},"
             "{\"type\":\"io_bottleneck\",\"node\":\"n1\",\"status\":\"revert_failed\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 1);
    assert_true(has_fault(&l, "io_bottleneck", "n1"));
    assert_string_equal(l.type, "io_bottleneck");
    cJSON_Delete(inj);
    dbp_case_label_release(&l);
}

static void label_empty_snapshot_is_normal(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    label_of("[]", 1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 0);
    assert_string_equal(l.type, "normal");
    assert_true(l.start_time == 1000);
    assert_true(l.end_time == 1300);
    assert_true(isnan(fe));
    cJSON *j = dbp_case_label_json(&l);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "normal");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "anomalies")), 0);
    cJSON_Delete(j);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* a NULL snapshot (no registry) is the same */
    label_init(&l);
    fe = 0;
    dbp_recorder_label(NULL, 5, 10, &l, &fe, NULL);
    assert_string_equal(l.type, "normal");
    assert_true(isnan(fe));
    dbp_case_label_release(&l);
}

static void label_two_injections(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    /* different types, different nodes: compound, no single node */
    label_of("[{\"id\":\"x\",\"name\":\"x\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"}]},"
             "{\"id\":\"y\",\"name\":\"y\",\"start\":1120,\"end\":1250,\"parts\":["
             "{\"type\":\"io_bottleneck\",\"node\":\"n2\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 2);
    assert_true(has_fault(&l, "cpu_stress", "n1"));
    assert_true(has_fault(&l, "io_bottleneck", "n2"));
    assert_string_equal(l.type, "compound");
    assert_string_equal(l.node, "");
    assert_true(l.start_time == 1100);
    assert_true(l.end_time == 1250);
    assert_true(fe == 1250);
    assert_int_equal(cJSON_GetArraySize(inj), 2);
    cJSON *j = dbp_case_label_json(&l);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "compound");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "subtypes")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "nodes")), 2);
    assert_null(cJSON_GetObjectItem(j, "node"));
    cJSON_Delete(j);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* same type on two nodes: that type, no single node */
    label_of("[{\"id\":\"x\",\"name\":\"x\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"}]},"
             "{\"id\":\"y\",\"name\":\"y\",\"start\":1120,\"end\":1250,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n2\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 2);
    assert_string_equal(l.type, "cpu_stress");
    assert_string_equal(l.node, "");
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* two types on one node: compound on that node */
    label_of("[{\"id\":\"x\",\"name\":\"x\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"},"
             "{\"type\":\"io_bottleneck\",\"node\":\"n1\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 2);
    assert_string_equal(l.type, "compound");
    assert_string_equal(l.node, "n1");
    assert_int_equal(cJSON_GetArraySize(inj), 1);
    cJSON_Delete(inj);
    dbp_case_label_release(&l);
}

static void label_dedups_faults(void **state)
{
    (void)state;
    struct dbp_case_label l;
    double fe;
    cJSON *inj;
    /* the same (type, node) twice: once in one injection, again in a second */
    label_of("[{\"id\":\"x\",\"name\":\"x\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"},"
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"}]},"
             "{\"id\":\"y\",\"name\":\"y\",\"start\":1200,\"end\":1220,\"parts\":["
             "{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 1);
    assert_string_equal(l.type, "cpu_stress");
    assert_string_equal(l.node, "n1");
    assert_true(l.start_time == 1100);
    assert_true(l.end_time == 1220);
    assert_int_equal(cJSON_GetArraySize(inj), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(inj, 1), "id")->valuestring, "y");
    cJSON_Delete(inj);
    dbp_case_label_release(&l);

    /* bad names in a part are not labels */
    label_of("[{\"id\":\"x\",\"name\":\"x\",\"start\":1100,\"end\":1150,\"parts\":["
             "{\"type\":\"cpu stress\",\"node\":\"n1\",\"status\":\"reverted\"},"
             "{\"type\":\"cpu_stress\",\"node\":\"\",\"status\":\"reverted\"},"
             "{\"node\":\"n1\",\"status\":\"reverted\"}]}]",
             1000, 1300, &l, &fe, &inj);
    assert_int_equal(l.nfaults, 0);
    assert_string_equal(l.type, "normal");
    cJSON_Delete(inj);
    dbp_case_label_release(&l);
}

/* ---- label "split" and extra fields -------------------------------------------- */

static void label_split_round_trip(void **state)
{
    (void)state;
    const char *sides[2] = {"train", "test"};
    for (int i = 0; i < 2; i++) {
        struct dbp_case_label l, back;
        struct dbp_err err = {0};
        label_init(&l);
        dbp_case_label_add(&l, "cpu_stress", "n1");
        l.start_time = 1764300000;
        l.end_time = 1764300060;
        dbp_strlcpy(l.split, sides[i], sizeof(l.split));
        l.extra = cJSON_CreateObject();
        cJSON_AddStringToObject(l.extra, "label_source", "fault registry");
        cJSON *decl = cJSON_AddObjectToObject(l.extra, "declared");
        cJSON_AddStringToObject(decl, "type", "io_bottleneck");
        /* an extra key never overrides a field of the label */
        cJSON_AddStringToObject(l.extra, "type", "bogus");
        cJSON *j = dbp_case_label_json(&l);
        assert_string_equal(cJSON_GetObjectItem(j, "split")->valuestring, sides[i]);
        assert_string_equal(cJSON_GetObjectItem(j, "label_source")->valuestring,
                            "fault registry");
        assert_string_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "declared"), "type")->valuestring,
            "io_bottleneck");
        assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "cpu_stress");
        assert_int_equal(dbp_case_label_parse(j, &back, &err), 0);
        assert_string_equal(back.split, sides[i]);
        assert_string_equal(back.type, "cpu_stress");
        assert_int_equal(back.nfaults, 1);
        assert_null(back.extra); /* not read back */
        dbp_case_label_release(&back);
        cJSON_Delete(j);
        dbp_case_label_release(&l);
    }
    /* no split: no field, and parsed back as "" */
    struct dbp_case_label l, back;
    struct dbp_err err = {0};
    label_init(&l);
    cJSON *j = dbp_case_label_json(&l);
    assert_null(cJSON_GetObjectItem(j, "split"));
    assert_int_equal(dbp_case_label_parse(j, &back, &err), 0);
    assert_string_equal(back.split, "");
    dbp_case_label_release(&back);
    cJSON_Delete(j);
    dbp_case_label_release(&l);

    /* invalid values */
    const char *bad[] = {"{\"type\":\"normal\",\"split\":\"x\"}",
                         "{\"type\":\"normal\",\"split\":1}",
                         "{\"type\":\"normal\",\"split\":\"\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *o = parse(bad[i]);
        memset(&err, 0, sizeof(err));
        assert_int_equal(dbp_case_label_parse(o, &back, &err), DBP_ESCHEMA);
        assert_non_null(strstr(err.msg, "split"));
        dbp_case_label_release(&back);
        cJSON_Delete(o);
    }
    /* null is absent */
    cJSON *o = parse("{\"type\":\"normal\",\"split\":null}");
    assert_int_equal(dbp_case_label_parse(o, &back, &err), 0);
    assert_string_equal(back.split, "");
    dbp_case_label_release(&back);
    cJSON_Delete(o);
}

/* ---- dbp_exp_chance_at_k ------------------------------------------------------------ */

static void chance_at_k(void **state)
{
    (void)state;
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 1, 1) - 1.0 / 12) < 1e-12);
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 2, 1) - 2.0 / 12) < 1e-12);
    /* k = 3, r = 1: 3 chances in 12 */
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 1, 3) - 3.0 / 12) < 1e-12);
    /* k = 3, r = 2: (3 * 2 / 12) / 2 */
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 2, 3) - 0.25) < 1e-12);
    /* k beyond P is capped at P: every pair is ranked, a sure hit */
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 1, 100) - 1.0) < 1e-12);
    assert_true(fabs(dbp_exp_chance_at_k(3, 4, 1, 12) - 1.0) < 1e-12);
    assert_true(dbp_exp_chance_at_k(3, 4, 1, 100) <= 1.0);
    assert_true(dbp_exp_chance_at_k(1, 1, 5, 5) <= 1.0);
    /* nothing to find, or nothing to rank */
    assert_true(dbp_exp_chance_at_k(3, 4, 0, 1) == 0);
    assert_true(dbp_exp_chance_at_k(0, 4, 1, 1) == 0);
    assert_true(dbp_exp_chance_at_k(3, 0, 1, 1) == 0);
}

/* ---- dbp_exp_req_parse -------------------------------------------------------------- */

static int parse_req(const char *body, struct dbp_exp_req *rq, struct dbp_err *err)
{
    cJSON *b = parse(body);
    memset(err, 0, sizeof(*err));
    int rc = dbp_exp_req_parse(b, rq, err);
    cJSON_Delete(b);
    return rc;
}

static void expect_bad(const char *body, const char *msg_part)
{
    struct dbp_exp_req rq;
    struct dbp_err err;
    int rc = parse_req(body, &rq, &err);
    if (rc != DBP_ESCHEMA)
        fail_msg("%s: expected DBP_ESCHEMA, got %d (%s)", body, rc, err.msg);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("%s: message '%s' lacks '%s'", body, err.msg, msg_part);
}

static void req_parse_defaults(void **state)
{
    (void)state;
    struct dbp_exp_req rq, def;
    struct dbp_err err = {0};
    memset(&rq, 0x5a, sizeof(rq));
    assert_int_equal(dbp_exp_req_parse(NULL, &rq, &err), 0);
    dbp_exp_req_defaults(&def);
    assert_memory_equal(&rq, &def, sizeof(rq));
    assert_int_equal(rq.groups, 0);
    assert_int_equal(rq.ntypes, 4);
    assert_string_equal(rq.types[0], "cpu_stress");
    assert_string_equal(rq.types[1], "io_bottleneck");
    assert_string_equal(rq.types[2], "network_bottleneck");
    assert_string_equal(rq.types[3], "cache_bottleneck");
    assert_int_equal(rq.npairs, 0);
    assert_int_equal(rq.repetitions, 3);
    assert_int_equal(rq.test_repetitions, 1);
    assert_int_equal(rq.pre_s, 5);
    assert_int_equal(rq.fault_s, 30);
    assert_int_equal(rq.post_s, 5);
    assert_int_equal(rq.normal_s, 20);
    assert_int_equal(rq.normal_every, 4);
    assert_string_equal(rq.severity, "medium");
    assert_true(rq.seed == 1314);
    assert_true(rq.workload);
    assert_int_equal(rq.workload_threads, 4);
    assert_int_equal(rq.window, 0);
    assert_int_equal(rq.stride, 1);
    assert_int_equal(rq.rounds, 100);
    /* an empty object and JSON null are the defaults too */
    assert_int_equal(parse_req("{}", &rq, &err), 0);
    assert_memory_equal(&rq, &def, sizeof(rq));
    assert_int_equal(parse_req("null", &rq, &err), 0);
    assert_memory_equal(&rq, &def, sizeof(rq));
}

static void req_parse_errors(void **state)
{
    (void)state;
    expect_bad("{\"bogus\": 1}", "bogus");
    expect_bad("{\"repetitions\": 2, \"frobnicate\": true}", "frobnicate");
    expect_bad("[1]", NULL);
    expect_bad("{\"groups\": [\"bogus\"]}", "groups");
    expect_bad("{\"groups\": []}", "groups");
    expect_bad("{\"groups\": \"single_node\"}", "groups");
    expect_bad("{\"groups\": [\"single_node\", 3]}", "groups");
    expect_bad("{\"repetitions\": 2, \"test_repetitions\": 2}", "test_repetitions");
    expect_bad("{\"repetitions\": 2, \"test_repetitions\": 3}", "test_repetitions");
    expect_bad("{\"test_repetitions\": 3}", "test_repetitions"); /* default repetitions 3 */
    expect_bad("{\"repetitions\": 0}", "repetitions");
    expect_bad("{\"repetitions\": 2.5}", "repetitions");
    expect_bad("{\"repetitions\": \"3\"}", "repetitions");
    expect_bad("{\"types\": [\"cpu_stress\", \"nope\"]}", "nope");
    expect_bad("{\"types\": [\"cpu_stress\", \"cpu_stress\"]}", "repeats");
    expect_bad("{\"types\": []}", "types");
    expect_bad("{\"types\": [1]}", "types");
    expect_bad("{\"pairs\": [[\"cpu_stress\", \"cpu_stress\"]]}", "pairs");
    expect_bad("{\"pairs\": [[\"cpu_stress\"]]}", "pairs");
    expect_bad("{\"pairs\": [[\"cpu_stress\", \"io_bottleneck\", \"cache_bottleneck\"]]}",
               "pairs");
    expect_bad("{\"pairs\": [\"cpu_stress\"]}", "pairs");
    expect_bad("{\"pairs\": [{\"a\": \"cpu_stress\", \"b\": \"io_bottleneck\"}]}", "pairs");
    expect_bad("{\"pairs\": [[\"cpu_stress\", \"nope\"]]}", "nope");
    expect_bad("{\"severity\": \"extreme\"}", "severity");
    expect_bad("{\"seed\": -1}", "seed");
    expect_bad("{\"seed\": 1.5}", "seed");
    expect_bad("{\"workload\": 1}", "workload");
    expect_bad("{\"name\": \"a b\"}", "name");
    expect_bad("{\"fault_s\": 1}", "fault_s");
    expect_bad("{\"window\": 1}", "window");
}

static void req_parse_full(void **state)
{
    (void)state;
    struct dbp_exp_req rq;
    struct dbp_err err;
    int rc = parse_req("{\"name\": \"ci-run\", \"groups\": [\"single_node\", \"multi_node_compound\"],"
                       " \"types\": [\"cpu_stress\", \"io_bottleneck\", \"cache_bottleneck\"],"
                       " \"pairs\": [[\"cpu_stress\", \"io_bottleneck\"],"
                       "            [\"cache_bottleneck\", \"io_bottleneck\"]],"
                       " \"repetitions\": 4, \"test_repetitions\": 2, \"pre_s\": 3,"
                       " \"fault_s\": 20, \"post_s\": 4, \"normal_s\": 15, \"normal_every\": 6,"
                       " \"severity\": \"high\", \"seed\": 42, \"workload\": false,"
                       " \"workload_threads\": 8, \"window\": 12, \"stride\": 2,"
                       " \"rounds\": 50}",
                       &rq, &err);
    if (rc)
        fail_msg("parse: %s", err.msg);
    assert_string_equal(rq.name, "ci-run");
    assert_int_equal(rq.groups, DBP_EXP_SINGLE | DBP_EXP_MULTI_COMPOUND);
    assert_int_equal(rq.ntypes, 3);
    assert_string_equal(rq.types[0], "cpu_stress");
    assert_string_equal(rq.types[1], "io_bottleneck");
    assert_string_equal(rq.types[2], "cache_bottleneck");
    assert_int_equal(rq.npairs, 2);
    assert_string_equal(rq.pairs[0][0], "cpu_stress");
    assert_string_equal(rq.pairs[0][1], "io_bottleneck");
    assert_string_equal(rq.pairs[1][0], "cache_bottleneck");
    assert_string_equal(rq.pairs[1][1], "io_bottleneck");
    assert_int_equal(rq.repetitions, 4);
    assert_int_equal(rq.test_repetitions, 2);
    assert_int_equal(rq.pre_s, 3);
    assert_int_equal(rq.fault_s, 20);
    assert_int_equal(rq.post_s, 4);
    assert_int_equal(rq.normal_s, 15);
    assert_int_equal(rq.normal_every, 6);
    assert_string_equal(rq.severity, "high");
    assert_true(rq.seed == 42);
    assert_false(rq.workload);
    assert_int_equal(rq.workload_threads, 8);
    assert_int_equal(rq.window, 12);
    assert_int_equal(rq.stride, 2);
    assert_int_equal(rq.rounds, 50);

    /* test_repetitions 0 is allowed; nulls keep the defaults */
    rc = parse_req("{\"repetitions\": 1, \"test_repetitions\": 0, \"types\": null, \"seed\": null}",
                   &rq, &err);
    if (rc)
        fail_msg("parse: %s", err.msg);
    assert_int_equal(rq.repetitions, 1);
    assert_int_equal(rq.test_repetitions, 0);
    assert_int_equal(rq.ntypes, 4);
    assert_true(rq.seed == 1314);
}

/* ---- dbp_exp_report_markdown --------------------------------------------------------- */

static void report_markdown(void **state)
{
    (void)state;
    cJSON *r = parse(
        "{\"id\": \"exp250101000000\", \"name\": \"unit\", \"status\": \"completed\","
        " \"started_at\": \"2025-01-01T00:00:00Z\", \"finished_at\": \"2025-01-01T00:10:00Z\","
        " \"duration_s\": 600, \"nodes\": 3,"
        " \"request\": {\"repetitions\": 3, \"test_repetitions\": 1, \"pre_s\": 5,"
        "  \"fault_s\": 30, \"post_s\": 5, \"severity\": \"medium\", \"seed\": 1314,"
        "  \"workload\": true},"
        " \"model\": {\"name\": \"m1\", \"train_windows\": 100, \"test_windows\": 30,"
        "  \"cases_used\": 12, \"cases_skipped\": 1, \"window\": 6, \"macro_f1\": 0.8,"
        "  \"macro_f1_rule\": 0.5},"
        " \"accuracy\": {\"test_instances\": 30,"
        "  \"overall\": {\"graph\": {\"AC@1\": 0.5, \"AC@3\": 0.8, \"AC@5\": 0.9},"
        "               \"chance\": {\"AC@1\": 0.083, \"AC@3\": 0.25, \"AC@5\": 0.417}},"
        "  \"by_group\": {\"single_node\": {\"instances\": 12,"
        "     \"graph\": {\"AC@1\": 0.75, \"AC@3\": 1, \"AC@5\": 1},"
        "     \"xgboost\": {\"AC@1\": 0.5, \"AC@3\": 0.9, \"AC@5\": 1},"
        "     \"rule\": {\"AC@1\": 0.25, \"AC@3\": 0.5, \"AC@5\": 0.75},"
        "     \"chance\": {\"AC@1\": 0.083, \"AC@3\": 0.25, \"AC@5\": 0.417}}},"
        "  \"by_scenario\": {\"A1\": {\"instances\": 3,"
        "     \"graph\": {\"AC@1\": 1, \"AC@3\": 1, \"AC@5\": 1}}}},"
        " \"scenarios\": {\"A1\": {\"group\": \"single_node\","
        "  \"description\": \"cpu_stress on one node\"}},"
        " \"cases\": [{\"scenario\": \"A1\"}, {\"scenario\": \"A2\", \"inject_error\": \"boom\"}]}");
    char *md = dbp_exp_report_markdown(r);
    assert_non_null(md);
    assert_non_null(strstr(md, "exp250101000000"));
    assert_non_null(strstr(md, "| single_node |"));
    assert_non_null(strstr(md, "Chance"));
    assert_non_null(strstr(md, "0.75 / 1.00 / 1.00"));
    assert_non_null(strstr(md, "| A1 | cpu_stress on one node |"));
    assert_non_null(strstr(md, "| **all** |"));
    assert_non_null(strstr(md, "2 steps recorded, 1 with an injection or recording error"));
    assert_null(strstr(md, "nan"));
    free(md);
    cJSON_Delete(r);

    /* missing fields: a report still comes out, without garbage numbers */
    const char *sparse[] = {"{}", "[]", "{\"accuracy\": {\"by_group\": {\"multi_node\": {}},"
                                        " \"by_scenario\": {\"B1\": {}}}}"};
    for (size_t i = 0; i < sizeof(sparse) / sizeof(sparse[0]); i++) {
        cJSON *e = parse(sparse[i]);
        md = dbp_exp_report_markdown(e);
        assert_non_null(md);
        assert_non_null(strstr(md, "Chance"));
        assert_null(strstr(md, "-2147483648"));
        free(md);
        cJSON_Delete(e);
    }
    md = dbp_exp_report_markdown(NULL);
    assert_non_null(md);
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_injection_inside),
        cmocka_unit_test(label_overlap_is_clipped),
        cmocka_unit_test(label_ignores_unapplied_and_outside),
        cmocka_unit_test(label_empty_snapshot_is_normal),
        cmocka_unit_test(label_two_injections),
        cmocka_unit_test(label_dedups_faults),
        cmocka_unit_test(label_split_round_trip),
        cmocka_unit_test(chance_at_k),
        cmocka_unit_test(req_parse_defaults),
        cmocka_unit_test(req_parse_errors),
        cmocka_unit_test(req_parse_full),
        cmocka_unit_test(report_markdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
