/*
 * it_training_api.c - /api/training collection routes and /api/experiments
 * end to end, in-process: validation codes, a normal case recorded from
 * synthetic collector cycles (dbp_collector_ingest + _commit, the collector
 * paused) and written to disk, declared faults (single and compound) that
 * were never injected (saved as normal, with a warning), an injection the
 * registry refuses or fails leaving no case behind, - when stress-ng is
 * installed - a real local cpu_stress injection labelled from the fault
 * registry and the collect_training_data hook of /api/anomaly/inject and
 * /clear, a case closed by its duration (the recorder's timer thread),
 * reset, auto_balance, the campaign routes' 4xx, and the daemon's stop
 * path cancelling a campaign whose fault is active (H3).
 *
 * Nodes: "local1" = 127.0.0.1:1 (this host, nothing listens: the local
 * executor runs stress-ng itself without a cgroup), "n2" = 127.0.0.2:1,
 * "n3" = 127.0.0.3:1.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"
#include "dbp/app.h"
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/daemon.h"
#include "dbp/experiment.h"
#include "dbp/jobs.h"
#include "dbp/spawn.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NNODES 3

static struct it_daemon it;
static bool have_stress;
static double last_ts; /* every cycle is later than the one before */
static double *raw;    /* running totals of counters, NNODES * nmetrics */
static int cases_on_disk; /* cases written so far (stats.cases) */

static int setup(void **state)
{
    (void)state;
    char yaml[2048], path[512];
    have_stress = dbp_spawn_which("stress-ng", NULL, path, sizeof(path)) == 0;
    snprintf(yaml, sizeof(yaml),
             "database:\n"
             "  catalog: mariadb\n"
             "  catalog_dir: %s/config/catalog\n"
             "  user: nobody\n"
             "  connect_timeout_s: 1\n"
             "  nodes:\n"
             "    - {name: local1, host: 127.0.0.1, port: 1}\n"
             "    - {name: n2, host: 127.0.0.2, port: 1}\n"
             "    - {name: n3, host: 127.0.0.3, port: 1}\n"
             "collector:\n"
             "  autostart: false\n"
             "  interval_ms: 5000\n"
             "anomaly:\n"
             "  max_duration_s: 600\n",
             it_source_dir());
    if (it_start(&it, yaml))
        return -1;
    struct dbp_app *app = dbp_daemon_app(it.d);
    if (!app->collector || !app->recorder || !app->experiments) {
        fprintf(stderr, "collector, recorder or experiments missing\n");
        return -1;
    }
    raw = dbp_xcalloc((size_t)NNODES * dbp_collector_catalog(app->collector)->nmetrics,
                      sizeof(double));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    free(raw);
    return 0;
}

/* Check the status (and a part of "detail" for errors), then free r. */
static void expect(struct it_resp *r, long status, const char *detail_part)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body ? r->body : "");
    if (detail_part) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->json, "detail");
        if (!cJSON_IsString(d) || !strstr(d->valuestring, detail_part))
            fail_msg("detail lacks '%s': %s", detail_part, r->body ? r->body : "");
    }
    it_resp_free(r);
}

/* o["a"]["b"]... for a dotted path (NULL when absent). */
static const cJSON *jp(const cJSON *o, const char *path)
{
    char buf[256];
    dbp_strlcpy(buf, path, sizeof(buf));
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

static const char *js(const cJSON *o, const char *path)
{
    const cJSON *v = jp(o, path);
    if (!cJSON_IsString(v))
        fail_msg("'%s' is not a string", path);
    return v->valuestring;
}

static bool jtrue(const cJSON *o, const char *path)
{
    const cJSON *v = jp(o, path);
    if (!cJSON_IsBool(v))
        fail_msg("'%s' is not a boolean", path);
    return cJSON_IsTrue(v);
}

static double jnum(const cJSON *o, const char *path)
{
    const cJSON *v = jp(o, path);
    if (!cJSON_IsNumber(v))
        fail_msg("'%s' is not a number", path);
    return v->valuedouble;
}

/*
 * n synthetic collector cycles: every metric of every node, counters as
 * growing totals, at the wall clock (strictly increasing), each cycle
 * committed so the recorder's listener gets it.
 */
static void feed(int n)
{
    struct dbp_collector *c = dbp_daemon_app(it.d)->collector;
    const struct dbp_catalog *cat = dbp_collector_catalog(c);
    size_t M = cat->nmetrics;
    for (int k = 0; k < n; k++) {
        double ts = fmax(dbp_wall_s(), last_ts + 0.05);
        last_ts = ts;
        for (int i = 0; i < NNODES; i++)
            for (size_t m = 0; m < M; m++) {
                double v = 10 + (double)(m % 13) + i;
                double *acc = &raw[(size_t)i * M + m];
                *acc = cat->metrics[m].kind == DBP_METRIC_COUNTER ? *acc + v : v;
                assert_int_equal(dbp_collector_ingest(c, i, "", (int)m, ts, *acc), 0);
            }
        dbp_collector_ingest_commit(c, ts);
    }
}

static void training_root(char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/data/training", it.dir);
}

static bool is_file(const char *dir, const char *name)
{
    char p[1024];
    struct stat st;
    if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
        return false;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static cJSON *read_json(const char *dir, const char *name)
{
    char p[1024], *s = NULL;
    size_t n = 0;
    if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
        fail_msg("path too long: %s/%s", dir, name);
    if (dbp_read_file(p, 64u << 20, &s, &n))
        fail_msg("cannot read %s", p);
    cJSON *o = cJSON_ParseWithLength(s, n);
    free(s);
    if (!o)
        fail_msg("%s is not JSON", p);
    return o;
}

/* Nothing open, as /collection-status and /process-status tell. */
static void expect_idle(void)
{
    struct it_resp r = it_get(&it, "/api/training/collection-status");
    assert_int_equal(r.status, 200);
    assert_false(jtrue(r.json, "is_collecting_normal"));
    assert_false(jtrue(r.json, "is_collecting_anomaly"));
    assert_true(cJSON_IsNull(jp(r.json, "current_type")));
    assert_int_equal((int)jnum(r.json, "samples"), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/training/process-status");
    assert_int_equal(r.status, 200);
    assert_false(jtrue(r.json, "anomaly_collection_in_progress"));
    assert_false(jtrue(r.json, "normal_collection_in_progress"));
    assert_false(jtrue(r.json, "experiment_in_progress"));
    it_resp_free(&r);
}

/* Wait (bounded) until /api/anomaly/anomalies/{id} is reverted or failed,
 * feeding a cycle every ~0.5 s; returns the final status. */
static void wait_reverted(const char *id, char *status, size_t statussz)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/anomaly/anomalies/%s", id);
    status[0] = '\0';
    for (int i = 0; i < 120; i++) {
        feed(1);
        usleep(500 * 1000);
        struct it_resp r = it_get(&it, path);
        assert_int_equal(r.status, 200);
        dbp_strlcpy(status, js(r.json, "status"), statussz);
        it_resp_free(&r);
        if (!strcmp(status, "reverted") || !strcmp(status, "failed"))
            return;
    }
}

/* ---- tests ------------------------------------------------------------------------- */

static void validation(void **state)
{
    (void)state;
    static const struct {
        const char *path, *body;
        long status;
        const char *detail;
    } cases[] = {
        {"/api/training/collect", "{}", 422, "type"},
        {"/api/training/collect", "{\"node\":\"n2\"}", 422, "type"},
        {"/api/training/collect", "{\"type\":\"memory_leak\",\"node\":\"n2\"}", 422, "memory_leak"},
        {"/api/training/collect", "{\"type\":7}", 422, "type"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"node\":\"nope\"}", 404, "nope"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"target_node\":\"../x\"}", 404,
         "unknown node"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"inject\":true}", 422, "node"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"node\":\"n2\",\"colour\":1}", 422,
         "colour"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"severity\":\"extreme\"}", 422,
         "severity"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"duration\":5}", 422, "duration"},
        {"/api/training/collect", "{\"type\":\"cpu_stress\",\"scenario\":\"a b\"}", 422,
         "scenario"},
        {"/api/training/collect", "[1]", 422, NULL},
        {"/api/training/stop", NULL, 409, "No anomaly collection"},
        {"/api/training/normal/stop", NULL, 409, "not in progress"},
        {"/api/training/stop", "{\"bogus\":true}", 422, "bogus"},
        {"/api/training/normal/start", "{\"duration\":1}", 422, "duration"},
        {"/api/training/normal/start", "{\"bogus\":1}", 422, "bogus"},
        {"/api/training/compound", "{\"anomaly_types\":[\"cpu_stress\"]}", 422, "anomaly_types"},
        {"/api/training/compound", "{\"anomaly_types\":[\"cpu_stress\",\"cpu_stress\"]}", 422,
         "repeats"},
        {"/api/training/compound", "{\"anomaly_types\":[\"cpu_stress\",\"nope\"]}", 422, "nope"},
        {"/api/training/compound", "{\"anomaly_types\":\"cpu_stress\"}", 422, "anomaly_types"},
        {"/api/training/compound",
         "{\"anomaly_types\":[\"cpu_stress\",\"io_bottleneck\"],\"node\":\"nope\"}", 404, "nope"},
        {"/api/training/compound",
         "{\"anomaly_types\":[\"cpu_stress\",\"io_bottleneck\"],\"inject\":true}", 422, "node"},
        {"/api/training/auto_balance", "{\"types\":[\"nope\"]}", 422, "nope"},
        {"/api/training/auto_balance", "{\"bogus\":1}", 422, "bogus"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_resp r = it_post_json(&it, cases[i].path, cases[i].body);
        if (r.status != cases[i].status)
            fail_msg("case %zu %s %s: expected %ld, got %ld: %s", i, cases[i].path,
                     cases[i].body ? cases[i].body : "", cases[i].status, r.status,
                     r.body ? r.body : "");
        expect(&r, cases[i].status, cases[i].detail);
    }
    /* a body is required to collect */
    struct it_resp r = it_post_json(&it, "/api/training/collect", NULL);
    assert_true(r.status >= 400 && r.status < 500);
    it_resp_free(&r);
    /* a GET on a POST route */
    r = it_get(&it, "/api/training/collect");
    assert_int_equal(r.status, 405);
    it_resp_free(&r);
    /* nothing was opened, nothing injected */
    expect_idle();
    r = it_get(&it, "/api/anomaly/anomalies");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/training/stats");
    assert_int_equal(r.status, 200);
    assert_int_equal((int)jnum(r.json, "stats.cases"), 0);
    it_resp_free(&r);
}

static void normal_case(void **state)
{
    (void)state;
    feed(2); /* cycles before the case are not part of it */
    struct it_resp r = it_post_json(&it, "/api/training/normal/start", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "status"), "success");
    assert_string_equal(js(r.json, "collection.type"), "normal");
    assert_true(cJSON_IsNull(jp(r.json, "collection.expected_duration")));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/normal/start", NULL);
    expect(&r, 409, "already in progress");
    r = it_post_json(&it, "/api/training/collect", "{\"type\":\"cpu_stress\",\"node\":\"n2\"}");
    expect(&r, 409, "already in progress");
    r = it_post_json(&it, "/api/training/compound",
                     "{\"anomaly_types\":[\"cpu_stress\",\"io_bottleneck\"]}");
    expect(&r, 409, "already in progress");
    r = it_post_json(&it, "/api/training/auto_balance", "{}");
    expect(&r, 409, "in progress");
    /* the anomaly side is not open */
    r = it_post_json(&it, "/api/training/stop", NULL);
    expect(&r, 409, NULL);

    feed(8);
    r = it_get(&it, "/api/training/collection-status");
    assert_int_equal(r.status, 200);
    assert_true(jtrue(r.json, "is_collecting_normal"));
    assert_false(jtrue(r.json, "is_collecting_anomaly"));
    assert_string_equal(js(r.json, "current_type"), "normal");
    assert_string_equal(js(r.json, "collection_phase"), "normal");
    assert_int_equal((int)jnum(r.json, "samples"), 8);
    assert_int_equal((int)jnum(r.json, "debug_info.normal_buffer_size"), 8);
    assert_int_equal((int)jnum(r.json, "debug_info.metrics_buffer_size"), 0);
    assert_true(cJSON_IsString(jp(r.json, "collection_start_time")));
    it_resp_free(&r);
    r = it_get(&it, "/api/training/process-status");
    assert_int_equal(r.status, 200);
    assert_true(jtrue(r.json, "normal_collection_in_progress"));
    assert_false(jtrue(r.json, "anomaly_collection_in_progress"));
    assert_false(jtrue(r.json, "training_in_progress"));
    assert_false(jtrue(r.json, "experiment_in_progress"));
    it_resp_free(&r);

    r = it_post_json(&it, "/api/training/normal/stop", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "status"), "success");
    assert_string_equal(js(r.json, "case.label.type"), "normal");
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "case.label.anomalies")), 0);
    assert_int_equal((int)jnum(r.json, "case.label.metrics_count"), NNODES * 8);
    assert_int_equal((int)jnum(r.json, "case.samples"), 8);
    assert_int_equal((int)jnum(r.json, "case.nodes"), NNODES);
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "case.warnings")), 0);
    assert_string_equal(js(r.json, "case.label.label_source"), "fault registry");
    char case_name[256];
    dbp_strlcpy(case_name, js(r.json, "case.case"), sizeof(case_name));
    assert_true(!strncmp(case_name, "case_normal_", 12));
    char root[512], dir[1024];
    training_root(root, sizeof(root));
    snprintf(dir, sizeof(dir), "%s", js(r.json, "case.path"));
    assert_true(!strncmp(dir, root, strlen(root)));
    assert_non_null(strstr(dir, case_name));
    it_resp_free(&r);

    assert_true(is_file(dir, "metrics.json"));
    assert_true(is_file(dir, "label.json"));
    cJSON *m = read_json(dir, "metrics.json");
    assert_true(cJSON_IsArray(m));
    assert_int_equal(cJSON_GetArraySize(m), NNODES * 8);
    int per_node[NNODES] = {0};
    const char *names[NNODES] = {"local1", "n2", "n3"};
    const cJSON *e;
    cJSON_ArrayForEach(e, m)
    {
        assert_true(cJSON_IsString(jp(e, "timestamp")));
        assert_true(cJSON_IsObject(jp(e, "metrics")));
        for (int i = 0; i < NNODES; i++)
            per_node[i] += !strcmp(js(e, "node"), names[i]);
    }
    for (int i = 0; i < NNODES; i++)
        assert_int_equal(per_node[i], 8);
    cJSON_Delete(m);
    cJSON *l = read_json(dir, "label.json");
    assert_string_equal(js(l, "type"), "normal");
    assert_true(cJSON_IsString(jp(l, "start_time")));
    assert_true(cJSON_IsString(jp(l, "end_time")));
    assert_string_equal(js(l, "declared.type"), "normal");
    cJSON_Delete(l);

    r = it_get(&it, "/api/training/stats");
    assert_int_equal(r.status, 200);
    assert_int_equal((int)jnum(r.json, "stats.normal"), NNODES * 8);
    assert_int_equal((int)jnum(r.json, "stats.anomaly"), 0);
    assert_int_equal((int)jnum(r.json, "stats.cases"), 1);
    it_resp_free(&r);
    cases_on_disk = 1;
    r = it_get(&it, "/api/training/collection-status");
    assert_int_equal((int)jnum(r.json, "cases_written"), 1);
    assert_string_equal(js(r.json, "last_case"), case_name);
    it_resp_free(&r);
    expect_idle();
    r = it_post_json(&it, "/api/training/normal/stop", NULL);
    expect(&r, 409, "not in progress");
}

static void declared_but_not_injected(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/training/collect",
                                    "{\"type\":\"io_bottleneck\",\"node\":\"n2\","
                                    "\"scenario\":\"X1\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "type"), "io_bottleneck");
    assert_string_equal(js(r.json, "node"), "n2");
    assert_string_equal(js(r.json, "collection.type"), "io_bottleneck");
    assert_true(jnum(r.json, "collection.expected_duration") > 0);
    assert_null(jp(r.json, "anomaly")); /* nothing injected without "inject" */
    it_resp_free(&r);
    r = it_get(&it, "/api/training/collection-status");
    assert_true(jtrue(r.json, "is_collecting_anomaly"));
    assert_string_equal(js(r.json, "current_type"), "io_bottleneck");
    assert_string_equal(js(r.json, "scenario"), "X1");
    it_resp_free(&r);
    r = it_get(&it, "/api/training/process-status");
    assert_true(jtrue(r.json, "anomaly_collection_in_progress"));
    assert_false(jtrue(r.json, "normal_collection_in_progress"));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/normal/stop", NULL);
    expect(&r, 409, NULL);

    feed(3);
    r = it_post_json(&it, "/api/training/stop", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "case.label.type"), "normal");
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "case.label.anomalies")), 0);
    assert_string_equal(js(r.json, "case.label.declared.type"), "io_bottleneck");
    assert_string_equal(js(r.json, "case.label.declared.node"), "n2");
    assert_string_equal(js(r.json, "case.label.scenario"), "X1");
    assert_true(!strncmp(js(r.json, "case.case"), "case_normal_", 12));
    const cJSON *w = jp(r.json, "case.warnings");
    assert_true(cJSON_GetArraySize(w) >= 1);
    bool said = false;
    const cJSON *s;
    cJSON_ArrayForEach(s, w) said |= cJSON_IsString(s) && strstr(s->valuestring, "no fault");
    if (!said)
        fail_msg("no 'no fault' warning: %s", r.body);
    it_resp_free(&r);
    expect_idle();
    r = it_get(&it, "/api/training/stats");
    assert_int_equal((int)jnum(r.json, "stats.cases"), 2);
    assert_int_equal((int)jnum(r.json, "stats.normal"), NNODES * 8 + NNODES * 3);
    it_resp_free(&r);
    cases_on_disk = 2;
}

/* A compound case with nothing injected: saved as normal, the declared
 * subtypes kept, a warning. */
static void compound_not_injected(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/training/compound",
                                    "{\"anomaly_types\":[\"cpu_stress\",\"io_bottleneck\"],"
                                    "\"node\":\"n2\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "types")), 2);
    assert_string_equal(js(r.json, "node"), "n2");
    assert_int_equal((int)jnum(r.json, "expected_duration"), 270);
    assert_string_equal(js(r.json, "collection.type"), "compound");
    it_resp_free(&r);
    r = it_get(&it, "/api/training/collection-status");
    assert_true(jtrue(r.json, "is_collecting_anomaly"));
    assert_string_equal(js(r.json, "current_type"), "compound");
    it_resp_free(&r);
    feed(2);
    r = it_post_json(&it, "/api/training/stop", "{\"save_post_data\":false}");
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "case.label.type"), "normal");
    assert_string_equal(js(r.json, "case.label.declared.type"), "compound");
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "case.label.declared.subtypes")), 2);
    assert_int_equal((int)jnum(r.json, "case.samples"), 2); /* nothing cut: no fault */
    assert_true(cJSON_GetArraySize(jp(r.json, "case.warnings")) >= 1);
    it_resp_free(&r);
    cases_on_disk++;
    expect_idle();
}

/* An injection refused by the registry (nothing queued, nothing applied)
 * leaves no case, no error and no trace in the recorder. */
static void rejected_inject_leaves_no_case(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/training/collection-status");
    int before = (int)jnum(r.json, "cases_written");
    assert_true(cJSON_IsNull(jp(r.json, "last_error")));
    it_resp_free(&r);
    /* the registry refuses a name with control characters */
    r = it_post_json(&it, "/api/anomaly/inject",
                     "{\"type\":\"cpu_stress\",\"target_node\":\"local1\","
                     "\"experiment_name\":\"bad\\u0001name\",\"collect_training_data\":true}");
    expect(&r, 422, "control characters");
    r = it_get(&it, "/api/training/collection-status");
    assert_false(jtrue(r.json, "is_collecting_anomaly"));
    assert_int_equal((int)jnum(r.json, "cases_written"), before);
    if (!cJSON_IsNull(jp(r.json, "last_error")))
        fail_msg("a refused injection left an error behind: %s", r.body);
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/anomalies");
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    /* queued but failed without applying anything (nothing listens on the
     * node's port): no case either */
    r = it_post_json(&it, "/api/anomaly/inject",
                     "{\"type\":\"connection_storm\",\"target_node\":\"local1\","
                     "\"duration\":30,\"collect_training_data\":true}");
    expect(&r, 502, "cannot connect");
    r = it_get(&it, "/api/training/collection-status");
    assert_false(jtrue(r.json, "is_collecting_anomaly"));
    assert_int_equal((int)jnum(r.json, "cases_written"), before);
    if (!cJSON_IsNull(jp(r.json, "last_error")))
        fail_msg("a failed injection left an error behind: %s", r.body);
    it_resp_free(&r);
    expect_idle();
}

/*
 * A case closes by itself when its duration is up (the recorder's timer
 * thread).  With stress-ng, "inject": true also injects the declared fault
 * (for 80 % of the case) and the registry labels it.
 */
static void case_closes_by_itself(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/training/collection-status");
    int before = (int)jnum(r.json, "cases_written");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/collect",
                     have_stress ? "{\"type\":\"cpu_stress\",\"node\":\"local1\",\"duration\":10,"
                                   "\"inject\":true,\"severity\":\"low\"}"
                                 : "{\"type\":\"network_bottleneck\",\"node\":\"n3\","
                                   "\"duration\":10}");
    if (r.status != 200)
        fail_msg("collect: %ld %s", r.status, r.body);
    assert_int_equal((int)jnum(r.json, "collection.expected_duration"), 10);
    char id[64] = "";
    if (have_stress) {
        dbp_strlcpy(id, js(r.json, "anomaly.id"), sizeof(id));
        assert_string_equal(js(r.json, "anomaly.status"), "active");
    }
    it_resp_free(&r);
    /* The case leaves the status (is_collecting_anomaly false) before it
     * is written; cases_written moves once it is on disk. */
    bool done = false;
    for (int i = 0; i < 240 && !done; i++) { /* bounded: 60 s */
        feed(1);
        usleep(250 * 1000);
        r = it_get(&it, "/api/training/collection-status");
        done = (int)jnum(r.json, "cases_written") > before ||
               cJSON_IsString(jp(r.json, "last_error"));
        it_resp_free(&r);
    }
    assert_true(done);
    r = it_get(&it, "/api/training/collection-status");
    assert_int_equal((int)jnum(r.json, "cases_written"), before + 1);
    if (!cJSON_IsNull(jp(r.json, "last_error")))
        fail_msg("the case was not saved: %s", r.body);
    assert_false(jtrue(r.json, "is_collecting_anomaly"));
    char name[256], root[512], dir[1024];
    dbp_strlcpy(name, js(r.json, "last_case"), sizeof(name));
    it_resp_free(&r);
    cases_on_disk++;
    training_root(root, sizeof(root));
    snprintf(dir, sizeof(dir), "%s/%s", root, name);
    cJSON *l = read_json(dir, "label.json");
    if (have_stress) {
        assert_true(!strncmp(name, "case_cpu_stress_local1_", 23));
        assert_string_equal(js(l, "type"), "cpu_stress");
        assert_string_equal(js(l, "node"), "local1");
        char status[32];
        wait_reverted(id, status, sizeof(status));
        assert_string_equal(status, "reverted");
    } else {
        assert_true(!strncmp(name, "case_normal_", 12));
        assert_string_equal(js(l, "type"), "normal");
        assert_string_equal(js(l, "declared.type"), "network_bottleneck");
    }
    cJSON_Delete(l);
    cJSON *m = read_json(dir, "metrics.json");
    assert_true(cJSON_GetArraySize(m) >= NNODES);
    assert_int_equal(cJSON_GetArraySize(m) % NNODES, 0);
    cJSON_Delete(m);
    expect_idle();
}

static void real_injection_labelled(void **state)
{
    (void)state;
    if (!have_stress)
        skip();
    struct it_resp r = it_post_json(&it, "/api/training/collect",
                                    "{\"type\":\"cpu_stress\",\"node\":\"local1\"}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    feed(3);
    r = it_post_json(&it, "/api/anomaly/inject",
                     "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"severity\":\"low\","
                     "\"duration\":2}");
    if (r.status != 200)
        fail_msg("inject: %ld %s", r.status, r.body);
    char id[64], status[32];
    dbp_strlcpy(id, js(r.json, "id"), sizeof(id));
    assert_null(jp(r.json, "training_collection"));
    it_resp_free(&r);
    wait_reverted(id, status, sizeof(status));
    assert_string_equal(status, "reverted");
    feed(3);
    r = it_post_json(&it, "/api/training/stop", NULL);
    assert_int_equal(r.status, 200);
    const cJSON *an = jp(r.json, "case.label.anomalies");
    assert_int_equal(cJSON_GetArraySize(an), 1);
    assert_string_equal(js(cJSON_GetArrayItem(an, 0), "type"), "cpu_stress");
    assert_string_equal(js(cJSON_GetArrayItem(an, 0), "node"), "local1");
    assert_string_equal(js(r.json, "case.label.type"), "cpu_stress");
    assert_string_equal(js(r.json, "case.label.node"), "local1");
    assert_true(cJSON_IsString(jp(r.json, "case.label.start_time")));
    assert_true(cJSON_IsString(jp(r.json, "case.label.end_time")));
    assert_true(!strncmp(js(r.json, "case.case"), "case_cpu_stress_local1_", 23));
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "case.warnings")), 0);
    /* the injection behind the label */
    const cJSON *inj = jp(r.json, "case.label.injections");
    assert_int_equal(cJSON_GetArraySize(inj), 1);
    assert_string_equal(js(cJSON_GetArrayItem(inj, 0), "id"), id);
    /* the fault's span lies inside the recording */
    double ls, le, rf, rt;
    assert_int_equal(dbp_parse_time(js(r.json, "case.label.start_time"), &ls), 0);
    assert_int_equal(dbp_parse_time(js(r.json, "case.label.end_time"), &le), 0);
    assert_int_equal(dbp_parse_time(js(r.json, "case.label.recorded_from"), &rf), 0);
    assert_int_equal(dbp_parse_time(js(r.json, "case.label.recorded_to"), &rt), 0);
    assert_true(ls <= le);
    assert_true(rf <= ls + 1 && le <= rt + 1);
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", js(r.json, "case.path"));
    it_resp_free(&r);
    cJSON *l = read_json(dir, "label.json");
    assert_string_equal(js(l, "type"), "cpu_stress");
    assert_string_equal(js(l, "node"), "local1");
    cJSON_Delete(l);
    cases_on_disk++;
    expect_idle();
    r = it_get(&it, "/api/training/stats");
    assert_int_equal((int)jnum(r.json, "stats.cases"), cases_on_disk);
    assert_int_equal((int)jnum(r.json, "stats.fault_types.cpu_stress"), 1);
    assert_int_equal((int)jnum(r.json, "stats.fault_types_by_node.cpu_stress.local1"), 1);
    assert_true(jnum(r.json, "stats.anomaly_types.cpu_stress") > 0);
    it_resp_free(&r);
}

static void inject_collects_training_data(void **state)
{
    (void)state;
    if (!have_stress)
        skip();
    feed(1);
    struct it_resp r = it_post_json(&it, "/api/anomaly/inject",
                                    "{\"type\":\"cpu_stress\",\"target_node\":\"local1\","
                                    "\"severity\":\"low\",\"duration\":2,"
                                    "\"collect_training_data\":true}");
    if (r.status != 200)
        fail_msg("inject: %ld %s", r.status, r.body);
    assert_true(cJSON_IsObject(jp(r.json, "training_collection")));
    assert_string_equal(js(r.json, "training_collection.type"), "cpu_stress");
    assert_string_equal(js(r.json, "training_collection.node"), "local1");
    char id[64];
    dbp_strlcpy(id, js(r.json, "id"), sizeof(id));
    it_resp_free(&r);
    r = it_get(&it, "/api/training/collection-status");
    assert_true(jtrue(r.json, "is_collecting_anomaly"));
    assert_false(jtrue(r.json, "is_collecting_normal"));
    assert_string_equal(js(r.json, "current_type"), "cpu_stress");
    it_resp_free(&r);
    /* a second collection cannot start meanwhile */
    r = it_post_json(&it, "/api/training/normal/start", NULL);
    expect(&r, 409, "in progress");
    feed(2);
    r = it_post_json(&it, "/api/anomaly/clear",
                     "{\"type\":\"cpu_stress\",\"collect_training_data\":true}");
    assert_int_equal(r.status, 200);
    if (!cJSON_IsObject(jp(r.json, "training_case")))
        fail_msg("no training_case: %s", r.body);
    assert_string_equal(js(r.json, "training_case.label.type"), "cpu_stress");
    const cJSON *an = jp(r.json, "training_case.label.anomalies");
    assert_int_equal(cJSON_GetArraySize(an), 1);
    assert_string_equal(js(cJSON_GetArrayItem(an, 0), "node"), "local1");
    assert_true(jnum(r.json, "training_case.samples") >= 2);
    it_resp_free(&r);
    cases_on_disk++;
    expect_idle();
    /* the fault is gone (expired or cleared) */
    char status[32];
    wait_reverted(id, status, sizeof(status));
    assert_string_equal(status, "reverted");

    /* clearing again: no case open, said so in the body */
    r = it_post_json(&it, "/api/anomaly/clear",
                     "{\"type\":\"cpu_stress\",\"collect_training_data\":true}");
    assert_int_equal(r.status, 200);
    assert_null(jp(r.json, "training_case"));
    assert_true(cJSON_IsString(jp(r.json, "training_case_error")));
    it_resp_free(&r);
}

static void reset_routes(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/training/normal/start", "{\"scenario\":\"N\"}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    feed(2);
    r = it_post_json(&it, "/api/training/reset", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "status"), "success");
    assert_true(jtrue(r.json, "previous_state.normal_collection"));
    assert_false(jtrue(r.json, "previous_state.anomaly_collection"));
    it_resp_free(&r);
    expect_idle();
    /* nothing was written */
    r = it_get(&it, "/api/training/stats");
    assert_int_equal((int)jnum(r.json, "stats.cases"), cases_on_disk);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/normal/stop", NULL);
    expect(&r, 409, NULL);

    /* force-reset of an anomaly case */
    r = it_post_json(&it, "/api/training/collect", "{\"type\":\"cpu_stress\",\"node\":\"n3\"}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/force-reset", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "status"), "success");
    assert_true(jtrue(r.json, "previous_state.anomaly_collection"));
    assert_false(jtrue(r.json, "previous_state.normal_collection"));
    assert_false(jtrue(r.json, "current_state.anomaly_collection"));
    assert_false(jtrue(r.json, "current_state.normal_collection"));
    it_resp_free(&r);
    expect_idle();
    /* and with nothing open */
    r = it_post_json(&it, "/api/training/force-reset", NULL);
    assert_int_equal(r.status, 200);
    assert_false(jtrue(r.json, "previous_state.anomaly_collection"));
    assert_false(jtrue(r.json, "previous_state.normal_collection"));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/reset", NULL);
    assert_int_equal(r.status, 200);
    assert_false(jtrue(r.json, "previous_state.normal_collection"));
    it_resp_free(&r);
}

static void auto_balance(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/training/auto_balance", "{}");
    assert_int_equal(r.status, 200);
    const char *action = js(r.json, "action_taken.action");
    assert_true(!strcmp(action, "normal_collection") || !strcmp(action, "anomaly_collection") ||
                !strcmp(action, "none"));
    assert_true(cJSON_IsObject(jp(r.json, "stats")));
    assert_null(jp(r.json, "action_taken.anomaly")); /* not injected without "inject" */
    bool normal = !strcmp(action, "normal_collection");
    bool anomaly = !strcmp(action, "anomaly_collection");
    if (anomaly) {
        assert_true(cJSON_IsString(jp(r.json, "action_taken.type")));
        assert_true(cJSON_IsString(jp(r.json, "action_taken.node")));
    }
    it_resp_free(&r);
    r = it_get(&it, "/api/training/collection-status");
    assert_true(jtrue(r.json, "is_collecting_normal") == normal);
    assert_true(jtrue(r.json, "is_collecting_anomaly") == anomaly);
    it_resp_free(&r);
    if (normal || anomaly) {
        r = it_post_json(&it, "/api/training/auto_balance", "{}");
        expect(&r, 409, "in progress");
    }
    r = it_post_json(&it, "/api/training/reset", NULL);
    assert_int_equal(r.status, 200);
    assert_true(jtrue(r.json, "previous_state.normal_collection") == normal);
    assert_true(jtrue(r.json, "previous_state.anomaly_collection") == anomaly);
    it_resp_free(&r);
    expect_idle();
}

static void experiments_routes(void **state)
{
    (void)state;
    static const struct {
        const char *body, *detail;
    } bad[] = {
        {"{\"bogus\":1}", "bogus"},
        {"{\"repetitions\":2,\"test_repetitions\":2}", "test_repetitions"},
        {"{\"types\":[\"nope\"]}", "nope"},
        {"{\"groups\":[\"bogus\"]}", "groups"},
        {"{\"pairs\":[[\"cpu_stress\",\"cpu_stress\"]]}", "pairs"},
        {"[1]", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_resp r = it_post_json(&it, "/api/experiments", bad[i].body);
        if (r.status != 422)
            fail_msg("%s: expected 422, got %ld: %s", bad[i].body, r.status, r.body);
        expect(&r, 422, bad[i].detail);
    }
    struct it_resp r = it_get(&it, "/api/experiments");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsArray(jp(r.json, "experiments")));
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "experiments")), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/experiments/exp000000000000");
    expect(&r, 404, NULL);
    r = it_get(&it, "/api/experiments/exp000000000000/report");
    expect(&r, 404, NULL);
    r = it_delete(&it, "/api/experiments/exp000000000000");
    expect(&r, 404, NULL);
    r = it_get(&it, "/api/experiments/../etc");
    assert_true(r.status == 404 || r.status == 400);
    it_resp_free(&r);
    r = it_get(&it, "/api/experiments/..%2Fetc");
    assert_true(r.status == 404 || r.status == 400);
    it_resp_free(&r);
    r = it_get(&it, "/api/experiments/EXP.x");
    expect(&r, 404, NULL);
    r = it_delete(&it, "/api/experiments/..%2F..%2Ftmp");
    assert_true(r.status == 404 || r.status == 400);
    it_resp_free(&r);

    /* a valid campaign is refused while a training collection is open
     * (checked before anything is created or injected) */
    r = it_post_json(&it, "/api/training/normal/start", NULL);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/experiments",
                     "{\"groups\":[\"single_node\"],\"types\":[\"cpu_stress\"],"
                     "\"repetitions\":2,\"test_repetitions\":1,\"workload\":false}");
    if (r.status == 202) {
        /* must not happen: cancel the campaign at once */
        char path[128];
        snprintf(path, sizeof(path), "/api/experiments/%s", js(r.json, "id"));
        struct it_resp d = it_delete(&it, path);
        it_resp_free(&d);
        fail_msg("a campaign started during a training collection: %s", r.body);
    }
    expect(&r, 409, "training collection");
    r = it_post_json(&it, "/api/training/reset", NULL);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    r = it_get(&it, "/api/experiments");
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "experiments")), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/training/process-status");
    assert_false(jtrue(r.json, "experiment_in_progress"));
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/active");
    assert_int_equal(cJSON_GetArraySize(jp(r.json, "anomalies")), 0);
    it_resp_free(&r);
}

/*
 * L9: a campaign never takes over an existing directory.  The directories
 * for this second and the next ten exist already (as if other campaigns
 * had just started); the new campaign gets a fresh one next to them.
 * Before the fix it slept through 5 seconds of taken ids and then reused
 * the last one.
 */
static void campaign_id_never_reused(void **state)
{
    (void)state;
    char root[600], taken[12][700];
    snprintf(root, sizeof(root), "%s/data/experiments", it.dir);
    assert_int_equal(dbp_mkdir_p(root, 0755), 0);
    time_t now = time(NULL);
    for (int i = 0; i < 12; i++) {
        char stamp[32];
        struct tm tm;
        time_t t = now + i - 1;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        snprintf(taken[i], sizeof(taken[i]), "%s/exp%.12s", root, stamp + 2);
        assert_int_equal(mkdir(taken[i], 0755), 0);
    }
    struct it_resp r = it_post_json(
        &it, "/api/experiments",
        "{\"groups\":[\"single_node\"],\"types\":[\"cpu_stress\"],\"repetitions\":1,"
        "\"test_repetitions\":0,\"pre_s\":0,\"fault_s\":600,\"post_s\":0,\"normal_s\":0,"
        "\"workload\":false,\"window\":2,\"seed\":3,\"severity\":\"low\"}");
    if (r.status != 202)
        fail_msg("campaign: %ld %s", r.status, r.body);
    char cid[64], dir[700], path[800];
    dbp_strlcpy(cid, js(r.json, "id"), sizeof(cid));
    dbp_strlcpy(dir, js(r.json, "plan.dir"), sizeof(dir));
    it_resp_free(&r);
    for (int i = 0; i < 12; i++) {
        if (!strcmp(taken[i], dir))
            fail_msg("the campaign reused %s", dir);
        assert_false(is_file(taken[i], "request.json"));
    }
    assert_true(is_file(dir, "request.json"));
    /* cancel it (it is still warming up) and wait until it has ended */
    snprintf(path, sizeof(path), "/api/experiments/%s", cid);
    r = it_delete(&it, path);
    assert_true(r.status >= 200 && r.status < 300);
    it_resp_free(&r);
    bool busy = true;
    for (int i = 0; i < 240 && busy; i++) {
        r = it_get(&it, "/api/training/process-status");
        busy = jtrue(r.json, "experiment_in_progress");
        it_resp_free(&r);
        if (busy)
            usleep(250 * 1000);
    }
    assert_false(busy);
    for (int i = 0; i < 12; i++)
        assert_int_equal(rmdir(taken[i]), 0);
}

/*
 * H3: the daemon's stop path (dbp_experiments_stop) while a campaign's
 * fault is active must cancel the campaign's JOB and return once it has
 * ended, with the fault reverted.  Before the fix it cancelled the
 * campaign id (unknown to the jobs module) and returned after 60 s with the
 * job still running and the fault in place.  Seed 3 puts the single
 * cpu_stress step on local1 (the node this host runs stress-ng for).
 */
static void stop_during_campaign(void **state)
{
    (void)state;
    if (!have_stress)
        skip();
    struct dbp_app *app = dbp_daemon_app(it.d);
    struct it_resp r = it_post_json(
        &it, "/api/experiments",
        "{\"groups\":[\"single_node\"],\"types\":[\"cpu_stress\"],\"repetitions\":1,"
        "\"test_repetitions\":0,\"pre_s\":0,\"fault_s\":600,\"post_s\":0,\"normal_s\":0,"
        "\"workload\":false,\"window\":2,\"seed\":3,\"severity\":\"low\"}");
    if (r.status != 202)
        fail_msg("campaign: %ld %s", r.status, r.body);
    char cid[64], path[160];
    dbp_strlcpy(cid, js(r.json, "id"), sizeof(cid));
    const cJSON *st0 = cJSON_GetArrayItem(jp(r.json, "plan.steps"), 0);
    assert_non_null(st0);
    assert_string_equal(js(cJSON_GetArrayItem(jp(st0, "faults"), 0), "node"), "local1");
    it_resp_free(&r);
    snprintf(path, sizeof(path), "/api/experiments/%s", cid);
    r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    char jid[64];
    dbp_strlcpy(jid, js(r.json, "job_id"), sizeof(jid));
    assert_true(jid[0]);
    it_resp_free(&r);

    /* wait (generously: 20 s of warm-up come first) for the step's fault */
    char inj[64] = "";
    for (int i = 0; i < 240 && !inj[0]; i++) {
        usleep(500 * 1000);
        r = it_get(&it, "/api/anomaly/active");
        assert_int_equal(r.status, 200);
        const cJSON *a;
        cJSON_ArrayForEach (a, jp(r.json, "anomalies"))
            if (!strncmp(js(a, "name"), "exp-", 4) && !strcmp(js(a, "status"), "active"))
                dbp_strlcpy(inj, js(a, "id"), sizeof(inj));
        it_resp_free(&r);
    }
    if (!inj[0])
        fail_msg("the campaign's fault never became active");

    dbp_experiments_stop(app->experiments);

    /* it returned after the job ended, cancelled, and the fault is gone */
    cJSON *j = dbp_jobs_get_json(app->jobs, jid);
    assert_non_null(j);
    assert_string_equal(js(j, "status"), "cancelled");
    cJSON_Delete(j);
    snprintf(path, sizeof(path), "/api/anomaly/anomalies/%s", inj);
    r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    assert_string_equal(js(r.json, "status"), "reverted");
    it_resp_free(&r);
    r = it_get(&it, "/api/training/process-status");
    assert_false(jtrue(r.json, "experiment_in_progress"));
    it_resp_free(&r);
    /* a second stop has nothing to do */
    dbp_experiments_stop(app->experiments);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validation),
        cmocka_unit_test(normal_case),
        cmocka_unit_test(declared_but_not_injected),
        cmocka_unit_test(compound_not_injected),
        cmocka_unit_test(rejected_inject_leaves_no_case),
        cmocka_unit_test(real_injection_labelled),
        cmocka_unit_test(inject_collects_training_data),
        cmocka_unit_test(case_closes_by_itself),
        cmocka_unit_test(reset_routes),
        cmocka_unit_test(auto_balance),
        cmocka_unit_test(experiments_routes),
        cmocka_unit_test(campaign_id_never_reused),
        cmocka_unit_test(stop_during_campaign),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
