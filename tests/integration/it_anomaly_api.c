/*
 * it_anomaly_api.c - /api/anomaly without the lab: bad input gets its 4xx
 * and injects nothing, duration bounds, failure paths (502 with a failed
 * record), codes of clear/stop/delete, /types and /nodes, and - on a node
 * that runs on this host without a cgroup, where the local executor runs
 * stress-ng itself - a real short injection: record, /metrics ground truth,
 * SSE events, DELETE, expiry, and nothing left behind.
 *
 * Nodes: "local1" = 127.0.0.1:1 (nothing listens: SQL faults fail at once),
 * "far" = 192.0.2.1 (TEST-NET, not this host, no cgroup: host faults are
 * refused).  max_duration_s is 600.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"
#include "dbp/spawn.h"
#include "dbp/util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct it_daemon it;
static bool have_stress;

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
             "    - {name: far, host: 192.0.2.1, port: 3306}\n"
             "collector:\n"
             "  autostart: false\n"
             "anomaly:\n"
             "  max_duration_s: 600\n",
             it_source_dir());
    return it_start(&it, yaml);
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    return 0;
}

static void expect(struct it_resp *r, long status, const char *detail_part)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body ? r->body : "");
    if (status >= 400) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->json, "detail");
        assert_true(cJSON_IsString(d));
        if (detail_part && !strstr(d->valuestring, detail_part))
            fail_msg("detail '%s' lacks '%s'", d->valuestring, detail_part);
    }
}

static int journal_files(void)
{
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/data/anomaly", it.dir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strlen(e->d_name) > 5 && !strcmp(e->d_name + strlen(e->d_name) - 5, ".json");
    if (d)
        closedir(d);
    return n;
}

/* Processes whose command line mentions s (the injection id is in every
 * argv the local executor builds). */
static int procs_with(const char *s)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        char p[300], buf[4096];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(p, "re");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[len] = '\0';
        n += strstr(buf, s) != NULL;
    }
    if (d)
        closedir(d);
    return n;
}

static void types_and_nodes(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/anomaly/types");
    expect(&r, 200, NULL);
    assert_true(cJSON_IsArray(r.json));
    assert_int_equal(cJSON_GetArraySize(r.json), 8);
    const cJSON *t;
    cJSON_ArrayForEach(t, r.json)
    {
        assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "type")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "description")));
        const cJSON *sev = cJSON_GetObjectItem(t, "severities");
        assert_non_null(cJSON_GetObjectItem(sev, "low"));
        assert_non_null(cJSON_GetObjectItem(sev, "high"));
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(t, "executors")));
        const cJSON *far = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "nodes"), "far");
        assert_non_null(far);
        if (!strcmp(cJSON_GetObjectItem(t, "type")->valuestring, "cpu_stress")) {
            /* not this host and no cgroup: refused, with the reason */
            assert_false(cJSON_IsTrue(cJSON_GetObjectItem(far, "supported")));
            assert_non_null(strstr(cJSON_GetObjectItem(far, "reason")->valuestring, "cgroup"));
        }
        if (!strcmp(cJSON_GetObjectItem(t, "type")->valuestring, "cache_bottleneck"))
            assert_string_equal(cJSON_GetObjectItem(far, "executor")->valuestring, "sql");
    }
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/nodes");
    expect(&r, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(r.json), 2);
    assert_string_equal(cJSON_GetArrayItem(r.json, 0)->valuestring, "local1");
    it_resp_free(&r);
}

static void bad_input_is_4xx_and_injects_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *path, *body;
        long status;
        const char *detail;
    } cases[] = {
        {"/api/anomaly/inject", "{\"type\":\"memory_leak\",\"target_node\":\"local1\"}", 422,
         "memory_leak"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"n1; rm -rf /\"}", 404,
         "unknown node"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"../x\"}", 404,
         "unknown node"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"node\":[\"local1\",\"../x\"]}", 404,
         "../x"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"LOCAL1\"}", 404, NULL},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
         404, NULL},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":-5}",
         422, "duration"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":0}",
         422, "duration"},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":601}", 422, "1..600"},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":1e300}", 422, "duration"},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":2.5}", 422, "duration"},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":\"10\"}", 422, "duration"},
        {"/api/anomaly/inject",
         "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"severity\":\"extreme\"}", 422,
         "severity"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"severity\":5}",
         422, "severity"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",\"target_node\":\"far\"}", 422, "far"},
        {"/api/anomaly/inject", "{\"target_node\":\"local1\"}", 422, "type"},
        {"/api/anomaly/inject", "{\"type\":123}", 422, "type"},
        {"/api/anomaly/inject", "{\"type\":[\"cpu_stress\",\"cpu_stress\"],\"target_node\":\"local1\"}",
         422, "twice"},
        {"/api/anomaly/inject", "{\"type\":\"cpu_stress\",", 400, NULL},
        {"/api/anomaly/inject", "[1,2]", 422, NULL},
        {"/api/anomaly/anomalies", "{\"anomaly_type\":\"nope\",\"target_node\":\"local1\"}", 422,
         "nope"},
        {"/api/anomaly/anomalies", "{\"anomaly_type\":\"cpu_stress\",\"target_node\":\"'; DROP--\"}",
         404, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_resp r = it_post_json(&it, cases[i].path, cases[i].body);
        if (r.status != cases[i].status)
            fail_msg("case %zu %s: expected %ld, got %ld: %s", i, cases[i].body, cases[i].status,
                     r.status, r.body ? r.body : "");
        expect(&r, cases[i].status, cases[i].detail);
        it_resp_free(&r);
    }
    /* an empty body */
    struct it_resp r;
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/inject", "application/json", "", 0, NULL,
                            &r), 0);
    assert_true(r.status >= 400 && r.status < 500);
    it_resp_free(&r);

    r = it_get(&it, "/api/anomaly/anomalies");
    expect(&r, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    assert_int_equal(journal_files(), 0);
    r = it_get(&it, "/metrics");
    assert_null(strstr(r.body, "dbpecker_anomaly_active{"));
    assert_non_null(strstr(r.body, "dbpecker_anomaly_injections_total{type=\"cpu_stress\","
                                   "result=\"applied\"} 0"));
    it_resp_free(&r);
}

static void failed_apply_is_502_with_a_failed_record(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/anomaly/inject",
                                    "{\"type\":\"connection_storm\",\"target_node\":\"local1\","
                                    "\"duration\":30,\"experiment_name\":\"storm-1\"}");
    expect(&r, 502, "cannot connect");
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/anomalies/storm-1");
    expect(&r, 200, NULL);
    assert_string_equal(cJSON_GetObjectItem(r.json, "status")->valuestring, "failed");
    assert_string_equal(cJSON_GetObjectItem(r.json, "executor")->valuestring, "sql");
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/active");
    expect(&r, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "anomalies")), 0);
    /* the original dashboard reads {data: [...]} */
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r.json, "data")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "data")), 0);
    it_resp_free(&r);
}

static void clear_stop_delete_codes(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/anomaly/clear", "{}");
    expect(&r, 422, "experiment_name");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/anomaly/clear", "{\"experiment_name\":\"nope\"}");
    expect(&r, 404, NULL);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/anomaly/clear", "{\"type\":\"bogus\"}");
    expect(&r, 422, "bogus");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/anomaly/clear", "{\"type\":\"cpu_stress\"}");
    expect(&r, 200, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "deleted")), 0);
    it_resp_free(&r);
    r = it_delete(&it, "/api/anomaly/anomalies/0123456789abcdef");
    expect(&r, 404, NULL);
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/anomalies/0123456789abcdef");
    expect(&r, 404, NULL);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/anomaly/stop-all", NULL);
    expect(&r, 200, NULL);
    assert_string_equal(cJSON_GetObjectItem(r.json, "message")->valuestring,
                        "Stopped all anomalies (0 total)");
    assert_int_equal(cJSON_GetObjectItem(r.json, "deleted_count")->valueint, 0);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r.json, "deleted")));
    it_resp_free(&r);
    r = it_delete(&it, "/api/anomaly/anomalies");
    expect(&r, 200, NULL);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r.json, "deleted")));
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/anomalies?colour=blue");
    expect(&r, 422, "colour");
    it_resp_free(&r);
}

/* ---- a real injection on this host (local executor, stress-ng) --------------------- */

static void real_local_injection(void **state)
{
    (void)state;
    if (!have_stress)
        skip();
    struct it_resp r = it_post_json(&it, "/api/anomaly/anomalies",
                                    "{\"anomaly_type\":\"cpu_stress\",\"target_node\":\"local1\","
                                    "\"severity\":\"low\",\"duration\":60}");
    expect(&r, 201, NULL);
    assert_true(cJSON_IsArray(r.json));
    const cJSON *rec = cJSON_GetArrayItem(r.json, 0);
    char id[32], path[96], line[256];
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(rec, "id")->valuestring);
    assert_string_equal(cJSON_GetObjectItem(rec, "status")->valuestring, "active");
    assert_int_equal(cJSON_GetObjectItem(rec, "duration")->valueint, 60);
    assert_string_equal(cJSON_GetObjectItem(rec, "severity")->valuestring, "low");
    it_resp_free(&r);
    assert_true(procs_with(id) >= 1);
    assert_int_equal(journal_files(), 2); /* + the failed storm */

    /* the same type on the same node again: 409 */
    r = it_post_json(&it, "/api/anomaly/inject",
                     "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"duration\":10}");
    expect(&r, 409, id);
    it_resp_free(&r);

    r = it_get(&it, "/metrics");
    snprintf(line, sizeof(line),
             "dbpecker_anomaly_active{type=\"cpu_stress\",node=\"local1\",id=\"%s\"} 1", id);
    assert_non_null(strstr(r.body, line));
    it_resp_free(&r);
    r = it_get(&it, "/api/anomaly/active");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "anomalies")), 1);
    it_resp_free(&r);

    snprintf(path, sizeof(path), "/api/anomaly/anomalies/%s", id);
    r = it_delete(&it, path);
    expect(&r, 200, NULL);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "deleted"), 0)->valuestring,
                        id);
    assert_string_equal(cJSON_GetObjectItem(r.json, "status")->valuestring, "reverted");
    it_resp_free(&r);
    assert_int_equal(procs_with(id), 0);
    r = it_get(&it, "/metrics");
    snprintf(line, sizeof(line),
             "dbpecker_anomaly_active{type=\"cpu_stress\",node=\"local1\",id=\"%s\"} 0", id);
    assert_non_null(strstr(r.body, line));
    it_resp_free(&r);

    /* expiry: a 2 s fault ends by itself */
    r = it_post_json(&it, "/api/anomaly/inject",
                     "{\"type\":\"cpu_stress\",\"target_node\":\"local1\",\"severity\":\"low\","
                     "\"duration\":2,\"experiment_name\":\"short-one\"}");
    expect(&r, 200, NULL);
    assert_string_equal(cJSON_GetObjectItem(r.json, "message")->valuestring,
                        "Injected cpu_stress anomaly into node local1");
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(r.json, "id")->valuestring);
    it_resp_free(&r);
    const char *st = "";
    for (int i = 0; i < 50; i++) {
        usleep(200 * 1000);
        r = it_get(&it, "/api/anomaly/anomalies/short-one");
        st = strcmp(cJSON_GetObjectItem(r.json, "status")->valuestring, "reverted") ? "" : "reverted";
        it_resp_free(&r);
        if (st[0])
            break;
    }
    assert_string_equal(st, "reverted");
    assert_int_equal(procs_with(id), 0);
}

struct sse {
    struct dbp_buf buf;
    char url[128];
};

static size_t sse_write(char *p, size_t sz, size_t n, void *ud)
{
    struct sse *s = ud;
    return dbp_buf_append(&s->buf, p, sz * n) ? 0 : sz * n;
}

static void *sse_reader(void *arg)
{
    struct sse *s = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 7L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    return NULL;
}

static void sse_stream_sends_updates(void **state)
{
    (void)state;
    struct sse s;
    pthread_t th;
    dbp_buf_init(&s.buf, 1 << 20);
    snprintf(s.url, sizeof(s.url), "%s/api/anomaly/stream", it.base);
    assert_int_equal(pthread_create(&th, NULL, sse_reader, &s), 0);
    usleep(800 * 1000);
    char id[32] = "no-injection";
    if (have_stress) {
        struct it_resp r = it_post_json(&it, "/api/anomaly/inject",
                                        "{\"type\":\"cpu_stress\",\"target_node\":\"local1\","
                                        "\"severity\":\"low\",\"duration\":2}");
        expect(&r, 200, NULL);
        snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(r.json, "id")->valuestring);
        it_resp_free(&r);
    }
    pthread_join(th, NULL);
    const char *text = s.buf.data ? s.buf.data : "";
    assert_non_null(strstr(text, "retry: 5000"));
    int events = 0;
    for (const char *p = strstr(text, "event: anomaly_update\ndata: "); p;
         p = strstr(p + 1, "event: anomaly_update\ndata: "))
        events++;
    assert_true(events >= 1);
    assert_non_null(strstr(text, "event: anomaly_update\ndata: []")); /* nothing active at first */
    if (have_stress) {
        /* it appeared (pending/active), then left the active list on expiry */
        assert_true(events >= 3);
        assert_non_null(strstr(text, id));
        const char *last = text, *p;
        while ((p = strstr(last + 1, "event: anomaly_update")))
            last = p;
        assert_non_null(strstr(last, "data: []"));
    }
    dbp_buf_release(&s.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(types_and_nodes),
        cmocka_unit_test(bad_input_is_4xx_and_injects_nothing),
        cmocka_unit_test(failed_apply_is_502_with_a_failed_record),
        cmocka_unit_test(clear_stop_delete_codes),
        cmocka_unit_test(real_local_injection),
        cmocka_unit_test(sse_stream_sends_updates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
