/*
 * it_models_api.c - the diagnosis routes end to end, in-process: 503s
 * without a model or a collector; training from synthetic case directories
 * through the API job (progress, cancel, conflict); list, performance,
 * validate; ranking of the current window where one node carries a planted
 * I/O pattern (fed with dbp_collector_ingest, the collector paused);
 * range diagnosis, compound view, MetricRooter, /metrics, continuous mode.
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
#include "dbp/dataset.h"
#include "dbp/util.h"

#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct it_daemon it;
static char model_name[160];
static char keep[64];
static const char *nodes[3] = {"n1", "n2", "n3"};

static void expect(struct it_resp *r, long status, const char *detail_part)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body);
    if (detail_part) {
        const cJSON *d = cJSON_GetObjectItem(r->json, "detail");
        if (!cJSON_IsString(d) || !strstr(d->valuestring, detail_part))
            fail_msg("detail lacks '%s': %s", detail_part, r->body);
    }
    it_resp_free(r);
}

/* ---- synthetic data: one generator for cases and live samples ------------ */

static unsigned long long rng = 7; /* the test thread's; the double has its own */

static double noise(unsigned long long *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*st >> 11) / 9007199254740992.0 - 0.5;
}

static const char *fault_category(const char *type)
{
    if (!type)
        return NULL;
    if (!strcmp(type, "cpu_stress"))
        return "cpu";
    if (!strcmp(type, "io_bottleneck"))
        return "io";
    return "network";
}

/* Per-second rate of metric m: a base level with 5 % noise; the faulty
 * category's metrics are 4x and rising. */
static double rate_r(unsigned long long *st, const struct dbp_catalog *cat, size_t m,
                     const char *fault, int s)
{
    double base = 10 + (double)(m % 17) * 3;
    double v = base * (1 + 0.1 * noise(st));
    const char *fc = fault_category(fault);
    if (fc && !strcmp(cat->metrics[m].category, fc))
        v = base * 4 + 2 * s + base * 0.2 * noise(st);
    return v;
}

static double rate(const struct dbp_catalog *cat, size_t m, const char *fault, int s)
{
    return rate_r(&rng, cat, m, fault, s);
}

static void write_cases(const struct dbp_catalog *cat)
{
    char root[512];
    struct dbp_err err = {0};
    const char *types[4] = {"cpu_stress", "io_bottleneck", "network_bottleneck", NULL};
    size_t M = cat->nmetrics;
    double *v = dbp_xmalloc(M * sizeof(double));
    snprintf(root, sizeof(root), "%s/data/training", it.dir);
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < (types[t] ? 4 : 2); k++) {
            struct dbp_case c;
            dbp_case_init(&c, M);
            int bad = k % 3;
            for (int s = 0; s < 30; s++)
                for (int i = 0; i < 3; i++) {
                    for (size_t m = 0; m < M; m++)
                        v[m] = rate(cat, m, i == bad ? types[t] : NULL, s);
                    dbp_case_add_sample(&c, nodes[i], 1764300000 + 5.0 * s, v);
                }
            if (types[t])
                dbp_case_label_add(&c.label, types[t], nodes[bad]);
            dbp_case_dirname(&c.label, 1764300000 + k * 1000 + t * 100, c.name, sizeof(c.name));
            assert_int_equal(dbp_case_write(root, &c, cat, &err), 0);
            dbp_case_release(&c);
        }
    free(v);
}

/* 40 cycles of live samples; n2 carries the I/O pattern in the last 10. */
static void feed_collector(struct dbp_collector *c)
{
    const struct dbp_catalog *cat = dbp_collector_catalog(c);
    size_t M = cat->nmetrics;
    double *raw = dbp_xcalloc(3 * M, sizeof(double));
    double now = dbp_wall_s();
    for (int k = 0; k < 40; k++) {
        double ts = now - (39 - k) * 5.0;
        for (int i = 0; i < 3; i++)
            for (size_t m = 0; m < M; m++) {
                double r = rate(cat, m, (i == 1 && k >= 30) ? "io_bottleneck" : NULL, k - 30);
                /* counters are fed as totals, so the series' rate is r */
                double *acc = &raw[(size_t)i * M + m];
                *acc = cat->metrics[m].kind == DBP_METRIC_COUNTER ? *acc + r * 5.0 : r;
                assert_int_equal(dbp_collector_ingest(c, i, "", (int)m, ts, *acc), 0);
            }
    }
    free(raw);
}

/* ---- tests ------------------------------------------------------------------ */

/* Without database nodes: no collector, no model. */
static void no_collector_no_model(void **state)
{
    (void)state;
    assert_int_equal(it_start(&it, NULL), 0);
    struct it_resp r = it_get(&it, "/api/anomaly/ranks");
    expect(&r, 503, "no model trained yet");
    r = it_get(&it, "/api/anomaly/compound");
    expect(&r, 503, "no model");
    r = it_get(&it, "/api/models/ranks");
    expect(&r, 503, "no model");
    r = it_post_json(&it, "/api/diagnosis", "{}");
    expect(&r, 503, "no model");
    r = it_get(&it, "/api/models/metrics_ranks?node=n1");
    expect(&r, 503, "collector is not running");
    /* A bad request is a 4xx before the 503 of a missing model or
     * collector: a body is required ("{}" is the current window), and a
     * range that starts in the future is refused. */
    r = it_post_json(&it, "/api/diagnosis", NULL);
    expect(&r, 422, "body is required");
    {
        char b[96];
        snprintf(b, sizeof(b), "{\"start\": %.0f}", dbp_wall_s() + 3600);
        r = it_post_json(&it, "/api/diagnosis", b);
        expect(&r, 422, "future");
    }
    r = it_post_json(&it, "/api/training/collect", "{\"bogus\": 1}");
    expect(&r, 422, "bogus");
    r = it_get(&it, "/api/models/metrics_ranks?node=n1&bogus=1");
    expect(&r, 422, "bogus");
    r = it_get(&it, "/api/models/list");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/training/training-status");
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItem(r.json, "stage")->valuestring, "idle");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r.json, "error")));
    it_resp_free(&r);
    /* no cases to learn from: the job fails with a reason */
    r = it_post_json(&it, "/api/training/train", NULL);
    assert_int_equal(r.status, 202);
    char id[64];
    dbp_strlcpy(id, cJSON_GetObjectItem(r.json, "job_id")->valuestring, sizeof(id));
    assert_string_equal(cJSON_GetObjectItem(r.json, "status")->valuestring, "accepted");
    it_resp_free(&r);
    cJSON *j = it_wait_job(&it, id, 30);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "failed");
    cJSON_Delete(j);
    r = it_get(&it, "/api/training/training-status");
    assert_string_equal(cJSON_GetObjectItem(r.json, "stage")->valuestring, "failed");
    assert_non_null(cJSON_GetObjectItem(r.json, "error")->valuestring);
    it_resp_free(&r);
    it_stop(&it);
}

static void start_with_collector(void **state)
{
    (void)state;
    char yaml[2048];
    /* nodes on port 9 (nothing listens); the collector stays paused, the
     * test feeds it with dbp_collector_ingest() */
    snprintf(yaml, sizeof(yaml),
             "database:\n"
             "  catalog: mariadb\n"
             "  catalog_dir: %s/config/catalog\n"
             "  nodes:\n"
             "    - {name: n1, host: 127.0.0.1, port: 9}\n"
             "    - {name: n2, host: 127.0.0.2, port: 9}\n"
             "    - {name: n3, host: 127.0.0.3, port: 9}\n"
             "collector:\n"
             "  autostart: false\n"
             "  interval_ms: 5000\n",
             it_source_dir());
    assert_int_equal(it_start(&it, yaml), 0);
    struct it_resp r = it_get(&it, "/api/anomaly/ranks");
    expect(&r, 503, "no model trained yet");
    r = it_get(&it, "/api/models/dist-diagnosis-model_20250101_000000/performance");
    expect(&r, 404, "not found");
    r = it_post_json(&it, "/api/models/validate", "{\"model_name\": \"dist-diagnosis-model_x\"}");
    expect(&r, 404, "not found");
    r = it_post_json(&it, "/api/models/validate", "{}");
    expect(&r, 422, "model_name");
    r = it_post_json(&it, "/api/models/validate", "{\"model_name\": 3}");
    expect(&r, 422, "model_name");
    r = it_post_json(&it, "/api/models/train", "{\"rounds\": 0}");
    expect(&r, 422, "rounds");
    r = it_post_json(&it, "/api/models/train", "{\"nthread\": 0}");
    expect(&r, 422, "nthread");
    r = it_post_json(&it, "/api/models/train", "{\"bogus\": 1}");
    expect(&r, 422, "bogus");
    r = it_post_json(&it, "/api/models/train", "{\"pagerank\": \"other\"}");
    expect(&r, 422, "pagerank");
    r = it_post_json(&it, "/api/models/train", "{\"classes\": [\"a b\"]}");
    expect(&r, 422, "classes");
    r = it_post_json(&it, "/api/models/train", "[1]");
    expect(&r, 422, NULL);
}

static void train_through_the_api(void **state)
{
    (void)state;
    struct dbp_app *app = dbp_daemon_app(it.d);
    write_cases(dbp_collector_catalog(app->collector));

    /* a long training, a conflicting second one, a cancel */
    struct it_resp r = it_post_json(&it, "/api/models/train", "{\"rounds\": 5000}");
    assert_int_equal(r.status, 202);
    char id[64], path[256];
    dbp_strlcpy(id, cJSON_GetObjectItem(r.json, "job_id")->valuestring, sizeof(id));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/training/train", NULL);
    expect(&r, 409, "already in progress");
    /* real progress while it runs */
    bool saw_training = false;
    for (int i = 0; i < 100 && !saw_training; i++) {
        r = it_get(&it, "/api/training/training-status");
        saw_training = !strcmp(cJSON_GetObjectItem(r.json, "stage")->valuestring, "training") &&
                       cJSON_GetObjectItem(r.json, "progress")->valuedouble >= 30;
        it_resp_free(&r);
        if (!saw_training)
            usleep(50 * 1000);
    }
    assert_true(saw_training);
    snprintf(path, sizeof(path), "/api/jobs/%s", id);
    r = it_delete(&it, path);
    assert_true(r.status == 200 || r.status == 202);
    it_resp_free(&r);
    cJSON *j = it_wait_job(&it, id, 60);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "cancelled");
    cJSON_Delete(j);
    r = it_get(&it, "/api/training/training-status");
    assert_string_equal(cJSON_GetObjectItem(r.json, "stage")->valuestring, "failed");
    assert_non_null(strstr(cJSON_GetObjectItem(r.json, "error")->valuestring, "cancelled"));
    it_resp_free(&r);
    r = it_get(&it, "/api/models/list");
    assert_int_equal(cJSON_GetArraySize(r.json), 0); /* nothing half-written */
    it_resp_free(&r);

    /* the real one */
    r = it_post_json(&it, "/api/training/train", "{\"rounds\": 40, \"window\": 6, \"seed\": 1314}");
    assert_int_equal(r.status, 202);
    dbp_strlcpy(id, cJSON_GetObjectItem(r.json, "job_id")->valuestring, sizeof(id));
    it_resp_free(&r);
    j = it_wait_job(&it, id, 120);
    assert_non_null(j);
    if (strcmp(cJSON_GetObjectItem(j, "status")->valuestring, "succeeded"))
        fail_msg("training: %s", cJSON_PrintUnformatted(j));
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    dbp_strlcpy(model_name, cJSON_GetObjectItem(res, "model")->valuestring, sizeof(model_name));
    const cJSON *stats = cJSON_GetObjectItem(res, "stats");
    assert_int_equal(cJSON_GetObjectItem(stats, "cases_used")->valueint, 14);
    assert_int_equal(cJSON_GetObjectItem(stats, "windows")->valueint, 14 * 5 * 3);
    cJSON_Delete(j);

    r = it_get(&it, "/api/training/training-status");
    assert_string_equal(cJSON_GetObjectItem(r.json, "stage")->valuestring, "completed");
    assert_true(cJSON_GetObjectItem(r.json, "progress")->valuedouble == 100);
    assert_string_equal(cJSON_GetObjectItem(r.json, "model")->valuestring, model_name);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "stats"), "evaluation"));
    it_resp_free(&r);

    r = it_get(&it, "/api/models/list");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(r.json), 1);
    assert_string_equal(cJSON_GetArrayItem(r.json, 0)->valuestring, model_name);
    it_resp_free(&r);

    snprintf(path, sizeof(path), "/api/models/%s/performance", model_name);
    r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    const cJSON *pt = cJSON_GetObjectItem(r.json, "per_type");
    assert_int_equal(cJSON_GetArraySize(pt), 3);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(pt, "io_bottleneck"), "f1"));
    const cJSON *me = cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "ac_at_k"), "methods");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(me, "graph"), "AC@1"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(me, "rule"), "AC@3"));
    it_resp_free(&r);

    char body[256];
    snprintf(body, sizeof(body), "{\"model_name\": \"%s\"}", model_name);
    r = it_post_json(&it, "/api/models/validate", body);
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "valid")));
    const cJSON *det = cJSON_GetObjectItem(r.json, "details");
    assert_int_equal(cJSON_GetObjectItem(det, "classifiers")->valueint, 3);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(det, "feature_info"), "window")->valueint, 6);
    it_resp_free(&r);

    r = it_get(&it, "/health");
    const cJSON *dg = cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "services"), "diagnosis");
    assert_string_equal(cJSON_GetObjectItem(dg, "state")->valuestring, "ready");
    it_resp_free(&r);
}

static void no_samples_yet(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/anomaly/ranks");
    expect(&r, 503, "no metric samples");
}

static void ranks_planted_anomaly(void **state)
{
    (void)state;
    feed_collector(dbp_daemon_app(it.d)->collector);

    struct it_resp r = it_get(&it, "/api/anomaly/ranks");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_GetArraySize(r.json) >= 1);
    const cJSON *top = cJSON_GetArrayItem(r.json, 0);
    if (strcmp(cJSON_GetObjectItem(top, "node")->valuestring, "n2") ||
        strcmp(cJSON_GetObjectItem(top, "type")->valuestring, "io_bottleneck"))
        fail_msg("top pair is not n2/io_bottleneck: %s", r.body);
    /* RankItem shape */
    const char *keys[] = {"node",           "type",           "score", "positive_prob_score",
                          "pagerank_score", "related_metrics"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(cJSON_GetObjectItem(top, keys[i]));
    double s = cJSON_GetObjectItem(top, "score")->valuedouble;
    double p = cJSON_GetObjectItem(top, "positive_prob_score")->valuedouble;
    double pr = cJSON_GetObjectItem(top, "pagerank_score")->valuedouble;
    assert_true(fabs(s - p * pr) < 1e-9); /* no softmax */
    assert_true(p > 0.5);
    const cJSON *rm = cJSON_GetObjectItem(top, "related_metrics");
    assert_true(cJSON_GetArraySize(rm) >= 1 && cJSON_GetArraySize(rm) <= 5);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rm, 0), "category")->valuestring,
                        "io");
    it_resp_free(&r);

    r = it_get(&it, "/api/anomaly/ranks?threshold=2");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/ranks?threshold=abc");
    expect(&r, 422, "threshold");

    r = it_get(&it, "/api/models/ranks");
    assert_int_equal(r.status, 200);
    const cJSON *mr = cJSON_GetObjectItem(r.json, model_name);
    assert_non_null(mr);
    const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "ranks"), 0);
    assert_string_equal(cJSON_GetObjectItem(t0, "node")->valuestring, "n2");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(mr, "node_names")), 3);
    const cJSON *pg = cJSON_GetObjectItem(mr, "propagation_graph");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(pg, "n1"), "n2")));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(mr, "baselines"), "rule"));
    it_resp_free(&r);

    char path[300];
    snprintf(path, sizeof(path),
             "/api/models/ranks?model_names=%s&model_names=dist-diagnosis-model_nope", model_name);
    r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    assert_non_null(cJSON_GetObjectItem(r.json, model_name));
    const cJSON *nope = cJSON_GetObjectItem(r.json, "dist-diagnosis-model_nope");
    assert_non_null(strstr(cJSON_GetObjectItem(nope, "error")->valuestring, "not found"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(nope, "ranks")), 0);
    it_resp_free(&r);

    /* the scores are on /metrics */
    r = it_get(&it, "/metrics");
    assert_non_null(strstr(r.body, "dbpecker_diagnosis_score{node=\"n2\",type=\"io_bottleneck\"}"));
    assert_non_null(strstr(r.body, "# TYPE dbpecker_diagnosis_score gauge"));
    assert_non_null(strstr(r.body, "dbpecker_model_info{model=\""));
    /* and the exposition stays valid (promtool, Debian's prometheus package) */
    char file[300];
    snprintf(file, sizeof(file), "%s/metrics.txt", it.dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fwrite(r.body, 1, r.len, f);
    fclose(f);
    it_resp_free(&r);
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char out[4096], cmd[400];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", file);
        const char *argv[] = {"sh", "-c", cmd, NULL};
        if (it_run(argv, out, sizeof(out)) != 0)
            fail_msg("promtool check metrics failed: %s", out);
    }
}

static void diagnosis_and_compound(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/diagnosis", "{}");
    assert_int_equal(r.status, 200);
    const char *keys[] = {"timestamp",
                          "model",
                          "scores",
                          "node_predictions",
                          "propagation_graph",
                          "all_ranked_anomalies",
                          "node_names",
                          "baselines",
                          "pagerank",
                          "window",
                          "compound"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!cJSON_GetObjectItem(r.json, keys[i]))
            fail_msg("no '%s' in %s", keys[i], r.body);
    assert_string_equal(cJSON_GetObjectItem(r.json, "source")->valuestring, "ring");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(r.json, "node_predictions"), "n2")),
                     3);
    const cJSON *bl = cJSON_GetObjectItem(r.json, "baselines");
    const cJSON *x0 = cJSON_GetArrayItem(cJSON_GetObjectItem(bl, "xgboost"), 0);
    assert_string_equal(cJSON_GetObjectItem(x0, "node")->valuestring, "n2");
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(bl, "rule"), 0);
    assert_string_equal(cJSON_GetObjectItem(r0, "node")->valuestring, "n2");
    assert_string_equal(cJSON_GetObjectItem(r0, "type")->valuestring, "io_bottleneck");
    assert_true(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "pagerank"), "converged")));
    it_resp_free(&r);

    /* a range from the ring: windows tiled back from the end */
    char body[256];
    double now = dbp_wall_s();
    snprintf(body, sizeof(body),
             "{\"start\": %.3f, \"end\": %.3f, \"source\": \"ring\", "
             "\"pagerank\": \"paper\"}",
             now - 120, now);
    r = it_post_json(&it, "/api/diagnosis", body);
    assert_int_equal(r.status, 200);
    const cJSON *w = cJSON_GetObjectItem(r.json, "windows");
    assert_true(cJSON_GetArraySize(w) >= 3);
    const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "all_ranked_anomalies"), 0);
    assert_string_equal(cJSON_GetObjectItem(top, "node")->valuestring, "n2");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "pagerank"), "form")->valuestring, "paper");
    it_resp_free(&r);
    /* an ISO range long before the ring: nothing there */
    r = it_post_json(&it, "/api/diagnosis",
                     "{\"start\": \"2020-01-01T00:00:00Z\", \"end\": \"2020-01-01T00:10:00Z\", "
                     "\"source\": \"ring\"}");
    expect(&r, 503, "no metric samples");

    r = it_post_json(&it, "/api/diagnosis", "{\"source\": \"prometheus\"}");
    expect(&r, 503, "Prometheus");
    r = it_post_json(&it, "/api/diagnosis", "{\"source\": \"bogus\"}");
    expect(&r, 422, "source");
    r = it_post_json(&it, "/api/diagnosis", "{\"start\": \"yesterday\"}");
    expect(&r, 422, "start");
    r = it_post_json(&it, "/api/diagnosis", "{\"start\": 100, \"end\": 50}");
    expect(&r, 422, "after");
    r = it_post_json(&it, "/api/diagnosis", "{\"model_name\": \"dist-diagnosis-model_nope\"}");
    expect(&r, 404, "not found");
    r = it_post_json(&it, "/api/diagnosis", "{\"extra\": 1}");
    expect(&r, 422, "extra");
    r = it_post_json(&it, "/api/diagnosis", "{bad json");
    expect(&r, 400, NULL);

    r = it_get(&it, "/api/anomaly/compound");
    assert_int_equal(r.status, 200);
    const char *ck[] = {"anomalies",  "compound_anomalies",     "propagation_graph",
                        "node_names", "has_compound_anomalies", "timestamp"};
    for (size_t i = 0; i < sizeof(ck) / sizeof(ck[0]); i++)
        assert_non_null(cJSON_GetObjectItem(r.json, ck[i]));
    const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "anomalies"), 0);
    assert_string_equal(cJSON_GetObjectItem(a0, "node")->valuestring, "n2");
    assert_non_null(cJSON_GetObjectItem(a0, "contribution"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "compound_anomalies"), "n2"));
    const cJSON *e = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "propagation_graph"), "n1"), "n2");
    assert_non_null(cJSON_GetObjectItem(e, "correlation"));
    assert_non_null(cJSON_GetObjectItem(e, "compound_path"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "node_names")), 3);
    it_resp_free(&r);
}

static void metric_level(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/models/metrics_ranks?node=n2");
    assert_int_equal(r.status, 200);
    const cJSON *ms = cJSON_GetObjectItem(r.json, "metrics");
    assert_true(cJSON_GetArraySize(ms) >= 2);
    int io = 0;
    for (int i = 0; i < 5 && i < cJSON_GetArraySize(ms); i++)
        io +=
            !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(ms, i), "category")->valuestring, "io");
    assert_true(io >= 4);
    assert_true(cJSON_GetObjectItem(r.json, "metric_count")->valueint > 50);
    assert_true(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "graph"), "links")) > 0);
    assert_string_equal(cJSON_GetObjectItem(r.json, "node")->valuestring, "n2");
    it_resp_free(&r);

    r = it_get(&it, "/api/models/metrics_summary?node=n2&languages=English");
    assert_int_equal(r.status, 200);
    const char *s = cJSON_GetObjectItem(r.json, "summary")->valuestring;
    assert_non_null(strstr(s, "node n2"));
    assert_non_null(strstr(s, "io"));
    assert_null(strstr(s, "节点"));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "actions")) >= 1);
    assert_non_null(strstr(
        cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "actions"), 0)->valuestring, "disk I/O"));
    it_resp_free(&r);
    r = it_get(&it, "/api/models/metrics_summary?node=n2");
    assert_non_null(strstr(cJSON_GetObjectItem(r.json, "summary")->valuestring, "节点 n2"));
    it_resp_free(&r);

    r = it_get(&it, "/api/models/metrics_ranks?node=nope");
    expect(&r, 404, "nope");
    r = it_get(&it, "/api/models/metrics_ranks");
    expect(&r, 422, "node");
    r = it_get(&it, "/api/models/metrics_summary?node=n2&languages=Klingon");
    expect(&r, 422, "Klingon");
}

static void continuous_mode(void **state)
{
    (void)state;
    struct it_resp r =
        it_post_json(&it, "/api/diagnosis/continuous", "{\"enabled\": true, \"interval_s\": 1}");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "enabled")));
    it_resp_free(&r);
    usleep(1500 * 1000);
    r = it_get(&it, "/api/diagnosis/continuous");
    assert_true(cJSON_GetObjectItem(r.json, "runs")->valueint >= 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r.json, "last_error")));
    it_resp_free(&r);
    r = it_get(&it, "/metrics");
    assert_non_null(strstr(r.body, "dbpecker_diagnosis_continuous 1"));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/diagnosis/continuous", "{\"enabled\": false}");
    assert_int_equal(r.status, 200);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "enabled")));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/diagnosis/continuous", "{\"interval_s\": 5}");
    expect(&r, 422, "enabled");
    r = it_post_json(&it, "/api/diagnosis/continuous", "{\"enabled\": true, \"interval_s\": 0}");
    expect(&r, 422, "interval_s");

    /* left running: daemon stop must join it */
    r = it_post_json(&it, "/api/diagnosis/continuous", "{\"enabled\": true, \"interval_s\": 1}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    r = it_get(&it, "/api/models/active");
    assert_string_equal(cJSON_GetObjectItem(r.json, "active_model")->valuestring, model_name);
    it_resp_free(&r);
    /* keep the models for the restart test (it_stop removes the temp dir) */
    snprintf(keep, sizeof(keep), "/tmp/dbp-it-models-XXXXXX");
    assert_non_null(mkdtemp(keep));
    char src[320];
    snprintf(src, sizeof(src), "%s/data/models/.", it.dir);
    const char *argv[] = {"cp", "-r", src, keep, NULL};
    assert_int_equal(it_run(argv, NULL, 0), 0);
    it_stop(&it);
}

/* A restart loads the newest model of training.models_dir that loads,
 * skipping a corrupt newer one. */
static void model_survives_restart(void **state)
{
    (void)state;
    char yaml[512], corrupt[160], body[256];
    snprintf(yaml, sizeof(yaml), "training:\n  models_dir: %s\n", keep);
    snprintf(corrupt, sizeof(corrupt), "%s/dist-diagnosis-model_29990101_000000", keep);
    assert_int_equal(dbp_mkdir_p(corrupt, 0755), 0);
    assert_int_equal(it_start(&it, yaml), 0);
    struct it_resp r = it_get(&it, "/api/models/active");
    assert_string_equal(cJSON_GetObjectItem(r.json, "active_model")->valuestring, model_name);
    it_resp_free(&r);
    r = it_get(&it, "/api/models/list");
    assert_int_equal(cJSON_GetArraySize(r.json), 2);
    assert_string_equal(cJSON_GetArrayItem(r.json, 0)->valuestring,
                        "dist-diagnosis-model_29990101_000000");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/models/validate",
                     "{\"model_name\": \"dist-diagnosis-model_29990101_000000\"}");
    assert_int_equal(r.status, 200);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "valid")));
    assert_non_null(strstr(cJSON_GetObjectItem(r.json, "error")->valuestring, "meta.json"));
    it_resp_free(&r);
    snprintf(body, sizeof(body), "/api/models/%s/performance",
             "dist-diagnosis-model_29990101_000000");
    r = it_get(&it, body);
    expect(&r, 404, "No performance metrics");
    it_stop(&it);
    const char *argv[] = {"rm", "-rf", keep, NULL};
    it_run(argv, NULL, 0);
}

/* ---- a Prometheus test double ------------------------------------------------
 * Answers /api/v1/query_range for dbpecker_metric_value{node="nX",...} with
 * the generator's rates on the requested grid: n2 carries the I/O pattern
 * in the last 60 s of the range.  (Real Prometheus is covered by the lab
 * tests of the metrics routes.) */

/* cls: the double's own catalog copy, loaded before it starts. */
static enum MHD_Result prom_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **req_cls)
{
    const struct dbp_catalog *prom_cat = cls;
    unsigned long long st_rng = 11;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req_cls;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "query");
    const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "start");
    const char *en = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "end");
    const char *sp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "step");
    cJSON *o = cJSON_CreateObject();
    if (strcmp(url, "/api/v1/query_range") || !q || !st || !en || !sp) {
        cJSON_AddStringToObject(o, "status", "error");
        cJSON_AddStringToObject(o, "error", "bad request");
    } else {
        const char *np = strstr(q, "node=\"");
        char node[16] = "";
        if (np)
            sscanf(np + 6, "%15[^\"]", node);
        double start = atof(st), end = atof(en), step = atof(sp);
        cJSON_AddStringToObject(o, "status", "success");
        cJSON *d = cJSON_AddObjectToObject(o, "data");
        cJSON_AddStringToObject(d, "resultType", "matrix");
        cJSON *res = cJSON_AddArrayToObject(d, "result");
        for (size_t m = 0; m < prom_cat->nmetrics; m++) {
            cJSON *ser = cJSON_CreateObject();
            cJSON *lab = cJSON_AddObjectToObject(ser, "metric");
            cJSON_AddStringToObject(lab, "__name__", "dbpecker_metric_value");
            cJSON_AddStringToObject(lab, "node", node);
            cJSON_AddStringToObject(lab, "tenant", "default");
            cJSON_AddStringToObject(lab, "category", prom_cat->metrics[m].category);
            cJSON_AddStringToObject(lab, "metric", prom_cat->metrics[m].name);
            cJSON *vals = cJSON_AddArrayToObject(ser, "values");
            for (double t = start; t <= end + 1e-6; t += step) {
                bool bad = !strcmp(node, "n2") && t > end - 60;
                char v[40];
                snprintf(v, sizeof(v), "%.6f",
                         rate_r(&st_rng, prom_cat, m, bad ? "io_bottleneck" : NULL,
                                (int)((t - end) / step)));
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(t));
                cJSON_AddItemToArray(pair, cJSON_CreateString(v));
                cJSON_AddItemToArray(vals, pair);
            }
            cJSON_AddItemToArray(res, ser);
        }
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Post-incident diagnosis from Prometheus: the ring is empty (fresh
 * daemon), the range is answered by the double. */
static void diagnosis_from_prometheus(void **state)
{
    (void)state;
    char yaml[2048], body[256], dir[512];
    struct dbp_catalog *pc = NULL;
    struct dbp_err err = {0};
    snprintf(dir, sizeof(dir), "%s/config/catalog", it_source_dir());
    assert_int_equal(dbp_catalog_load(dir, "mariadb", &pc, &err), 0);
    struct MHD_Daemon *pd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
                                             NULL, NULL, prom_handler, pc, MHD_OPTION_END);
    assert_non_null(pd);
    int port = MHD_get_daemon_info(pd, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(yaml, sizeof(yaml),
             "database:\n"
             "  catalog: mariadb\n"
             "  catalog_dir: %s/config/catalog\n"
             "  nodes:\n"
             "    - {name: n1, host: 127.0.0.1, port: 9}\n"
             "    - {name: n2, host: 127.0.0.2, port: 9}\n"
             "    - {name: n3, host: 127.0.0.3, port: 9}\n"
             "collector:\n"
             "  autostart: false\n"
             "prometheus:\n"
             "  url: http://127.0.0.1:%d\n"
             "training:\n"
             "  models_dir: %s\n",
             it_source_dir(), port, keep);
    assert_int_equal(it_start(&it, yaml), 0);
    double now = dbp_wall_s();
    const char *srcs[2] = {"prometheus", "auto"};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof(body), "{\"start\": %.0f, \"end\": %.0f, \"source\": \"%s\"}",
                 now - 600, now, srcs[i]);
        struct it_resp r = it_post_json(&it, "/api/diagnosis", body);
        if (r.status != 200)
            fail_msg("%s: %ld %s", srcs[i], r.status, r.body);
        assert_string_equal(cJSON_GetObjectItem(r.json, "source")->valuestring, "prometheus");
        const cJSON *top =
            cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "all_ranked_anomalies"), 0);
        assert_string_equal(cJSON_GetObjectItem(top, "node")->valuestring, "n2");
        assert_string_equal(cJSON_GetObjectItem(top, "type")->valuestring, "io_bottleneck");
        assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "windows")) >= 10);
        assert_true(cJSON_GetObjectItem(r.json, "metrics_mapped")->valueint > 100);
        it_resp_free(&r);
    }
    /* the current window from Prometheus too */
    struct it_resp r = it_post_json(&it, "/api/diagnosis", "{\"source\": \"prometheus\"}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    it_stop(&it);
    MHD_stop_daemon(pd);
    dbp_catalog_free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_collector_no_model),
        cmocka_unit_test(start_with_collector),
        cmocka_unit_test(train_through_the_api),
        cmocka_unit_test(no_samples_yet),
        cmocka_unit_test(ranks_planted_anomaly),
        cmocka_unit_test(diagnosis_and_compound),
        cmocka_unit_test(metric_level),
        cmocka_unit_test(continuous_mode),
        cmocka_unit_test(diagnosis_from_prometheus),
        cmocka_unit_test(model_survives_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
