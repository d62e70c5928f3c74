/*
 * it_workload_api.c - /api/workload without a database: every bad input is
 * a 4xx naming the field, an unknown id is 404, a missing tool or a
 * database that is down is 503 with a clear detail, and a refused request
 * leaves nothing behind (no run, no job, no child, no option file).
 *
 * The "database" is a node on 127.0.0.1:1, where nothing listens.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct it_daemon it;

static const char *yaml(const char *sysbench, const char *lua_dir)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "database:\n"
             "  catalog: mariadb\n"
             "  catalog_dir: %s/config/catalog\n"
             "  user: nobody\n"
             "  connect_timeout_s: 1\n"
             "  nodes:\n"
             "    - name: node1\n"
             "      host: 127.0.0.1\n"
             "      port: 1\n"
             "    - name: node2\n"
             "      host: 127.0.0.1\n"
             "      port: 1\n"
             "collector:\n"
             "  autostart: false\n"
             "workload:\n"
             "  sysbench: %s\n"
             "  lua_dir: %s\n"
             "  user: bench\n",
             it_source_dir(), sysbench, lua_dir);
    return buf;
}

static int setup_default(void **state)
{
    (void)state;
    char lua[512];
    snprintf(lua, sizeof(lua), "%s/scripts/lua", it_source_dir());
    return it_start(&it, yaml("sysbench", lua));
}

static int setup_no_tool(void **state)
{
    (void)state;
    return it_start(&it, yaml("/nonexistent/bin/sysbench", "/nonexistent/lua"));
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    return 0;
}

static void expect(struct it_resp *r, long status, const char *code, const char *detail_part)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body ? r->body : "");
    assert_non_null(r->json);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->json, "detail");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "code");
    assert_true(cJSON_IsString(d) && d->valuestring[0]);
    if (code) {
        assert_true(cJSON_IsString(c));
        assert_string_equal(c->valuestring, code);
    }
    if (detail_part && !strstr(d->valuestring, detail_part))
        fail_msg("detail '%s' lacks '%s'", d->valuestring, detail_part);
}

static void post_expect(const char *path, const char *body, long status, const char *code,
                        const char *detail_part)
{
    struct it_resp r = it_post_json(&it, path, body);
    expect(&r, status, code, detail_part);
    it_resp_free(&r);
}

/* Nothing half-started: no run listed, no job queued, no child process,
 * no option file. */
static void assert_nothing_left(void)
{
    struct it_resp r = it_get(&it, "/api/workload/runs");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsArray(r.json));
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/active");
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    r = it_get(&it, "/api/jobs");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "jobs")), 0);
    it_resp_free(&r);

    char runs[600];
    snprintf(runs, sizeof(runs), "%s/data/runs", it.dir);
    DIR *d = opendir(runs);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strstr(e->d_name, ".cnf"))
                fail_msg("option file left behind: %s", e->d_name);
        closedir(d);
    }
    /* No child of this process. */
    d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            char *rp = strrchr(buf, ')');
            int ppid = 0;
            char st;
            if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == getpid())
                fail_msg("child process %s left behind", e->d_name);
        }
        fclose(f);
    }
    closedir(d);
}

static void bad_input_is_4xx(void **state)
{
    (void)state;
    const char *s = "/api/workload/start";
    post_expect(s, "{", 400, NULL, NULL);
    post_expect(s, "[]", 422, "validation_error", "object");
    post_expect(s, "{}", 422, "validation_error", "'type'");
    post_expect(s, "{\"type\":\"unknown\"}", 422, "validation_error", "unknown workload type 'unknown'");
    post_expect(s, "{\"type\":7}", 422, "validation_error", "'type'");
    post_expect(s, "{\"type\":\"sysbench\",\"threads\":0}", 422, "validation_error", "'threads'");
    post_expect(s, "{\"type\":\"sysbench\",\"threads\":-3}", 422, "validation_error", "'threads'");
    post_expect(s, "{\"type\":\"sysbench\",\"threads\":100000}", 422, "validation_error", "'threads'");
    post_expect(s, "{\"type\":\"sysbench\",\"threads\":1.5}", 422, "validation_error", "'threads'");
    post_expect(s, "{\"type\":\"sysbench\",\"threads\":\"4\"}", 422, "validation_error", "'threads'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"tables\":-1}}", 422, "validation_error",
                "'options.tables'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"tables\":1000000}}", 422, "validation_error",
                "'options.tables'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"tableSize\":1e12}}", 422, "validation_error",
                "'options.tableSize'");
    post_expect(s, "{\"type\":\"tpcc\",\"options\":{\"warehouses\":0}}", 422, "validation_error",
                "'options.warehouses'");
    post_expect(s, "{\"type\":\"tpch\",\"options\":{\"scale\":5}}", 422, "validation_error",
                "'options.scale'");
    post_expect(s, "{\"type\":\"tpch\",\"options\":{\"scale\":0.001}}", 422, "validation_error",
                "'options.scale'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"randType\":\"zipf\"}}", 422, "validation_error",
                "'options.randType'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"reportInterval\":0}}", 422, "validation_error",
                "'options.reportInterval'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"time\":-1}}", 422, "validation_error",
                "'options.time'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"rate\":-5}}", 422, "validation_error",
                "'options.rate'");
    post_expect(s, "{\"type\":\"sysbench\",\"bogus\":1}", 422, "validation_error", "'bogus'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"foo\":1}}", 422, "validation_error",
                "'options.foo'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":[]}", 422, "validation_error", "'options'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"script\":\"../../etc/passwd\"}}", 422,
                "validation_error", "'options.script'");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"script\":\"oltp_nope\"}}", 422,
                "validation_error", "unknown sysbench script 'oltp_nope'");
    post_expect(s, "{\"type\":\"tpcc\",\"options\":{\"script\":\"oltp_read_only\"}}", 422,
                "validation_error", "sysbench only");
    post_expect(s, "{\"type\":\"sysbench\",\"options\":{\"tool\":\"tpcc-mysql\"}}", 422,
                "validation_error", "tpcc only");
    post_expect(s, "{\"type\":\"tpcc\",\"options\":{\"tool\":\"hammerdb\"}}", 422, "validation_error",
                "'options.tool'");
    post_expect(s, "{\"type\":\"sysbench\",\"nodes\":\"node1\"}", 422, "validation_error", "'nodes'");
    post_expect(s, "{\"type\":\"sysbench\",\"nodes\":[\"node9\"]}", 422, "validation_error",
                "unknown node 'node9' (known: node1, node2)");
    post_expect(s, "{\"type\":\"sysbench\",\"nodes\":[\"node1\",\"node1\"]}", 422, "validation_error",
                "twice");
    post_expect(s, "{\"type\":\"sysbench\",\"nodes\":[\"\"]}", 422, "validation_error", "'nodes[0]'");
    post_expect(s, "{\"type\":\"sysbench\",\"task_name\":5}", 422, "validation_error", "'task_name'");
    /* tpcc-mysql not configured: the tool is missing, 503. */
    post_expect(s, "{\"type\":\"tpcc\",\"options\":{\"tool\":\"tpcc-mysql\"}}", 503,
                "unavailable", "tpcc-mysql is not configured");
    /* The same validation on prepare and cleanup. */
    post_expect("/api/workload/prepare", "{\"type\":\"tpcc\",\"threads\":-1}", 422, "validation_error",
                "'threads'");
    post_expect("/api/workload/cleanup", "{\"type\":\"nope\"}", 422, "validation_error", "'type'");
    post_expect("/api/workload/create-task", "{\"type\":\"sysbench\"}", 422, "validation_error",
                "'task_name'");
    /* Wrong method, unknown query parameter. */
    struct it_resp r = it_get(&it, "/api/workload/start");
    assert_int_equal(r.status, 405);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/x-1/status?foo=1");
    assert_int_equal(r.status, 422);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/x-1/status?lines=-4");
    assert_int_equal(r.status, 422);
    it_resp_free(&r);
    assert_nothing_left();
}

static void database_down_is_503(void **state)
{
    (void)state;
    post_expect("/api/workload/start", "{\"type\":\"sysbench\",\"threads\":4}", 503,
                "unavailable", "database unavailable: node node1");
    post_expect("/api/workload/start",
                "{\"type\":\"sysbench\",\"nodes\":[\"node2\"],\"task_name\":\"t1\"}", 503,
                "unavailable", "node2");
    post_expect("/api/workload/start", "{\"type\":\"tpch\",\"options\":{\"scale\":0.01}}", 503,
                "unavailable", "database unavailable");
    post_expect("/api/workload/prepare", "{\"type\":\"tpcc\",\"options\":{\"warehouses\":1}}", 503,
                "unavailable", "database unavailable");
    post_expect("/api/workload/cleanup", "{\"type\":\"sysbench\"}", 503, "unavailable",
                "database unavailable");
    struct it_resp r = it_get(&it, "/api/workload/tasks");
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(r.json), 0); /* the task of a refused start is gone */
    it_resp_free(&r);
    assert_nothing_left();
}

static void unknown_ids_are_404(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/workload/sysbench-0000beef/stop", NULL);
    expect(&r, 404, "not_found", "not found or already stopped");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/workload/sysbench_4/stop", NULL); /* the original's id shape */
    expect(&r, 404, "not_found", NULL);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/sysbench-0000beef/status");
    expect(&r, 404, "not_found", "not found");
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/sysbench-0000beef/progress");
    expect(&r, 404, "not_found", NULL);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/%2e%2e/status");
    assert_true(r.status == 400 || r.status == 404);
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/tasks/0b0e8e7c-0000-4000-8000-000000000000");
    expect(&r, 404, "not_found", "Task not found");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/workload/tasks/0b0e8e7c-0000-4000-8000-000000000000/stop", NULL);
    expect(&r, 404, "not_found", "Task not found");
    it_resp_free(&r);
    post_expect("/api/workload/create-task",
                "{\"type\":\"sysbench\",\"task_name\":\"x\",\"workload_id\":\"sysbench-1\"}", 404,
                "not_found", "Workload with ID sysbench-1 not found");
}

static void shapes_of_empty_state(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/workload/active");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsArray(r.json));
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/tasks/active");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsArray(r.json));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/workload/tasks/cleanup", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.json, "removed_count")->valueint, 0);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/workload/stop-all", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.json, "status")->valuestring,
                        "success");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "stopped")), 0);
    it_resp_free(&r);

    r = it_get(&it, "/api/workload/scripts");
    assert_int_equal(r.status, 200);
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(r.json, "sysbench");
    const cJSON *installed = cJSON_GetObjectItemCaseSensitive(sb, "installed");
    if (cJSON_IsTrue(installed)) {
        /* The installed OLTP scripts are listed; the shared library is not. */
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(sb, "scripts");
        bool rw = false, common = false;
        const cJSON *it2;
        cJSON_ArrayForEach(it2, list)
        {
            rw |= strcmp(it2->valuestring, "oltp_read_write") == 0;
            common |= strcmp(it2->valuestring, "oltp_common") == 0;
        }
        assert_true(rw);
        assert_false(common);
    }
    it_resp_free(&r);

    r = it_get(&it, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "# TYPE dbpecker_workload_running gauge\n"));
    assert_non_null(strstr(r.body, "# TYPE dbpecker_workload_tps gauge\n"));
    assert_non_null(strstr(r.body, "dbpecker_workload_runs_started_total 0\n"));
    it_resp_free(&r);
    r = it_get(&it, "/health");
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(r.json, "services");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(svc, "workloads");
    assert_non_null(w);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(w, "state")->valuestring, "running");
    it_resp_free(&r);
}

static void tool_missing_is_503(void **state)
{
    (void)state;
    post_expect("/api/workload/start", "{\"type\":\"sysbench\",\"threads\":2}", 503,
                "unavailable", "sysbench is not installed: cannot execute '/nonexistent/bin/sysbench'");
    post_expect("/api/workload/prepare", "{\"type\":\"sysbench\"}", 503, "unavailable",
                "sysbench is not installed");
    post_expect("/api/workload/start", "{\"type\":\"tpcc\"}", 503, "unavailable",
                "sysbench is not installed");
    struct it_resp r = it_get(&it, "/api/workload/scripts");
    assert_int_equal(r.status, 200);
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(r.json, "sysbench");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(sb, "installed")));
    const cJSON *lua = cJSON_GetObjectItemCaseSensitive(r.json, "lua");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(lua, "tpcc")));
    it_resp_free(&r);
    r = it_get(&it, "/health");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r.json, "services"), "workloads");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(w, "detail")->valuestring,
                           "not found"));
    it_resp_free(&r);
    assert_nothing_left();
}

/*
 * M9: logs of runs no longer known are deleted at start once older than a
 * day; a young one (a post-mortem of the last crash) stays, and so does
 * anything that is not a run log.
 */
static void stale_logs_removed_at_start(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbp-itlog-XXXXXX", runs[300], p[400];
    assert_non_null(mkdtemp(dir));
    snprintf(runs, sizeof(runs), "%s/runs", dir);
    assert_int_equal(mkdir(runs, 0700), 0);
    const char *names[] = {"sysbench-0badc0de.log", "prepare-11111111.log",
                           "sysbench-fresh000.log", "notes.txt"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", runs, names[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("log line\n", f);
        fclose(f);
        if (i < 2 || i == 3) { /* two days old */
            struct timespec ts[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
            assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
        }
    }
    char lua[512], y[3072];
    snprintf(lua, sizeof(lua), "%s/scripts/lua", it_source_dir());
    snprintf(y, sizeof(y), "data_dir: %s\n%s", dir, yaml("sysbench", lua));
    assert_int_equal(it_start(&it, y), 0);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", runs, names[i]);
        bool want = i >= 2;
        if ((access(p, F_OK) == 0) != want)
            fail_msg("%s: expected %s", names[i], want ? "kept" : "deleted");
    }
    it_stop(&it);
    const char *argv[] = {"rm", "-rf", dir, NULL};
    it_run(argv, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_input_is_4xx, setup_default, teardown),
        cmocka_unit_test_setup_teardown(database_down_is_503, setup_default, teardown),
        cmocka_unit_test_setup_teardown(unknown_ids_are_404, setup_default, teardown),
        cmocka_unit_test_setup_teardown(shapes_of_empty_state, setup_default, teardown),
        cmocka_unit_test_setup_teardown(tool_missing_is_503, setup_no_tool, teardown),
        cmocka_unit_test(stale_logs_removed_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
