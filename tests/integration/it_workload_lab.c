/*
 * it_workload_lab.c - workloads end to end on the lab (scripts/lab.sh):
 * sysbench prepare -> run with progress visible over the API -> stop ->
 * cleanup; TPC-C at 1 warehouse reports TpmC; TPC-H at SF 0.01 runs all 22
 * queries on tables whose row counts match the specification; a child
 * killed from outside is reported; stopping a run that is gone is 404;
 * stop-all leaves no child process (checked in /proc); the password never
 * appears in a child's argv or in a run log.
 *
 * Skips (exit 77) unless the lab answers.  Any lab-like directory works:
 * DBPECKER_LAB_DIR=/path with nodes.yaml, lab.env and secrets/.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"
#include "dbp/util.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct it_daemon it;
static char password[256];

static int setup(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof(path), "%s/secrets/bench.password", it_lab_dir());
    char *pw = NULL;
    size_t len = 0;
    if (dbp_read_file(path, sizeof(password) - 1, &pw, &len) == 0) {
        while (len && (pw[len - 1] == '\n' || pw[len - 1] == '\r'))
            pw[--len] = '\0';
        dbp_strlcpy(password, pw, sizeof(password));
        free(pw);
    }
    /* The secrecy checks below must always run: the lab always has a
     * benchmark password, so an empty one is a broken lab, not a skip. */
    if (!password[0]) {
        fprintf(stderr, "%s: no benchmark password; the lab is incomplete\n", path);
        return -1;
    }
    return it_start(&it, it_lab_yaml());
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    return 0;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* POST an async workload action, wait for its job; returns the job. */
static cJSON *job(const char *path, const char *body, int timeout_s)
{
    struct it_resp r = it_post_json(&it, path, body);
    if (r.status != 202)
        fail_msg("%s %s: %ld %s", path, body, r.status, r.body);
    char id[64];
    dbp_strlcpy(id, str(r.json, "job_id"), sizeof(id));
    it_resp_free(&r);
    cJSON *j = it_wait_job(&it, id, timeout_s);
    if (!j)
        fail_msg("job %s (%s) did not finish in %d s", id, body, timeout_s);
    return j;
}

static void job_ok(const char *path, const char *body, int timeout_s, cJSON **result)
{
    cJSON *j = job(path, body, timeout_s);
    if (strcmp(str(j, "status"), "succeeded") != 0) {
        char *txt = cJSON_PrintUnformatted(j);
        fail_msg("job %s %s: %s", path, body, txt);
    }
    if (result)
        *result = cJSON_DetachItemFromObjectCaseSensitive(j, "result");
    cJSON_Delete(j);
}

static void start(const char *body, char id[64], int *pid)
{
    struct it_resp r = it_post_json(&it, "/api/workload/start", body);
    if (r.status != 200)
        fail_msg("start %s: %ld %s", body, r.status, r.body);
    assert_string_equal(str(r.json, "status"), "running");
    dbp_strlcpy(id, str(r.json, "workload_id"), 64);
    if (pid)
        *pid = (int)num(r.json, "pid");
    it_resp_free(&r);
}

static cJSON *status(const char *id)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/workload/%s/status?lines=2000", id);
    struct it_resp r = it_get(&it, path);
    if (r.status != 200)
        fail_msg("status %s: %ld %s", id, r.status, r.body);
    cJSON *j = r.json;
    r.json = NULL;
    it_resp_free(&r);
    return j;
}

/* Wait until a run has ended; returns its status. */
static cJSON *wait_end(const char *id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        cJSON *s = status(id);
        if (strcmp(str(s, "status"), "running") != 0)
            return s;
        cJSON_Delete(s);
        usleep(200 * 1000);
    }
    fail_msg("run %s did not end in %d s", id, timeout_s);
    return NULL;
}

/* Stop a run and check the answer: 200 with status "stopped", or the
 * expected error (404 once it is gone); anything else fails. */
static void stop(const char *id, long want)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/workload/%s/stop", id);
    struct it_resp r = it_post_json(&it, path, NULL);
    if (r.status != want)
        fail_msg("stop %s: expected %ld, got %ld: %s", id, want, r.status,
                 r.body ? r.body : "");
    if (want == 200)
        assert_string_equal(str(r.json, "status"), "stopped");
    it_resp_free(&r);
}

static int children_of_me(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
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
                n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

static bool file_has(const char *path, const char *needle, size_t nlen)
{
    char *data = NULL;
    size_t len = 0;
    if (dbp_read_file(path, 64u << 20, &data, &len) != 0)
        return false;
    bool hit = memmem(data, len, needle, nlen) != NULL;
    free(data);
    return hit;
}

static void sysbench_prepare_run_stop_cleanup(void **state)
{
    (void)state;
    cJSON *res = NULL;
    const char *shape = "\"options\":{\"tables\":2,\"tableSize\":10000";

    job_ok("/api/workload/cleanup", "{\"type\":\"sysbench\"}", 120, NULL);
    char body[512];
    snprintf(body, sizeof(body), "{\"type\":\"sysbench\",\"threads\":2,%s}}", shape);
    job_ok("/api/workload/prepare", body, 300, &res);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "already_prepared")));
    assert_int_equal((int)num(res, "tables"), 2);
    assert_int_equal((int)num(res, "rows_sbtest1"), 10000);
    cJSON_Delete(res);

    /* Again: nothing to do.  Another shape without force: refused, kept. */
    job_ok("/api/workload/prepare", body, 120, &res);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "already_prepared")));
    cJSON_Delete(res);
    cJSON *j = job("/api/workload/prepare",
                   "{\"type\":\"sysbench\",\"options\":{\"tables\":2,\"tableSize\":500}}", 120);
    assert_string_equal(str(j, "status"), "failed");
    assert_non_null(strstr(str(cJSON_GetObjectItemCaseSensitive(j, "error"), "detail"),
                           "options.force"));
    cJSON_Delete(j);

    /* Run until stopped, with progress every second. */
    char id[64];
    int pid = 0;
    snprintf(body, sizeof(body),
             "{\"type\":\"sysbench\",\"threads\":2,\"task_name\":\"lab-sysbench\",%s,"
             "\"reportInterval\":1,\"time\":0,\"script\":\"oltp_read_write\"}}",
             shape);
    start(body, id, &pid);
    assert_non_null(strstr(id, "sysbench-"));
    assert_true(pid > 0);

    /* No password in its argv; its option file is 0600. */
    char path[600];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    assert_false(file_has(path, password, strlen(password)));
    snprintf(path, sizeof(path), "%s/data/runs/%s.cnf", it.dir, id);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* Progress visible over the API for 10 s. */
    double last_t = 0;
    int seen = 0;
    for (int i = 0; i < 10; i++) {
        sleep(1);
        char p[160];
        snprintf(p, sizeof(p), "/api/workload/%s/progress", id);
        struct it_resp r = it_get(&it, p);
        assert_int_equal(r.status, 200);
        const cJSON *latest = cJSON_GetObjectItemCaseSensitive(r.json, "latest");
        if (cJSON_IsObject(latest)) {
            double t = num(latest, "t");
            assert_true(t >= last_t);
            if (t > last_t)
                seen++;
            last_t = t;
            assert_true(num(latest, "tps") > 0);
            assert_true(num(latest, "qps") > 0);
            assert_true(num(latest, "latency_p95_ms") >= 0);
            assert_true(num(latest, "errors_per_s") >= 0);
        }
        it_resp_free(&r);
    }
    assert_true(seen >= 5);
    struct it_resp r = it_get(&it, "/api/workload/active");
    assert_non_null(strstr(r.body, id));
    /* the original dashboard's Nodes column reads a string "node" */
    bool found = false;
    const cJSON *item, *list = r.json;
    cJSON_ArrayForEach(item, list)
    {
        const cJSON *iid = cJSON_GetObjectItem(item, "id"), *nd = cJSON_GetObjectItem(item, "node");
        if (cJSON_IsString(iid) && strcmp(iid->valuestring, id) == 0) {
            found = true;
            assert_true(cJSON_IsString(nd) && nd->valuestring[0]);
            assert_non_null(strstr(nd->valuestring, "node"));
        }
    }
    assert_true(found);
    it_resp_free(&r);
    r = it_get(&it, "/metrics");
    char needle[160];
    snprintf(needle, sizeof(needle), "dbpecker_workload_tps{run=\"%s\",type=\"sysbench\"} ", id);
    assert_non_null(strstr(r.body, needle));
    snprintf(needle, sizeof(needle), "dbpecker_workload_running{run=\"%s\",type=\"sysbench\"} 1",
             id);
    assert_non_null(strstr(r.body, needle));
    it_resp_free(&r);
    r = it_get(&it, "/api/workload/tasks/active");
    assert_non_null(strstr(r.body, id));
    it_resp_free(&r);
    /* The database is in use: prepare and cleanup are conflicts. */
    r = it_post_json(&it, "/api/workload/cleanup", "{\"type\":\"sysbench\"}");
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "stop them first"));
    it_resp_free(&r);
    r = it_post_json(&it, "/api/workload/prepare", "{\"type\":\"sysbench\"}");
    assert_int_equal(r.status, 409);
    it_resp_free(&r);

    stop(id, 200);
    stop(id, 404); /* gone */
    cJSON *st = status(id);
    assert_string_equal(str(st, "status"), "stopped");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(st, "summary");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sum, "final")));
    assert_true(num(sum, "intervals") >= 8);
    assert_true(num(sum, "avg_tps") > 0);
    cJSON_Delete(st);
    snprintf(path, sizeof(path), "%s/data/runs/%s.cnf", it.dir, id);
    assert_int_not_equal(access(path, F_OK), 0); /* option file removed */
    r = it_get(&it, "/api/workload/tasks");
    assert_non_null(strstr(r.body, "\"status\":\"stopped\""));
    it_resp_free(&r);

    job_ok("/api/workload/cleanup", "{\"type\":\"sysbench\"}", 120, &res);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "dropped")));
    cJSON_Delete(res);
    /* Cleaned up: a start is now refused as not prepared, nothing started. */
    r = it_post_json(&it, "/api/workload/start", "{\"type\":\"sysbench\"}");
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "not prepared"));
    it_resp_free(&r);
}

static void tpcc_one_warehouse_reports_tpmc(void **state)
{
    (void)state;
    cJSON *res = NULL;
    job_ok("/api/workload/prepare",
           "{\"type\":\"tpcc\",\"threads\":2,\"options\":{\"warehouses\":1,\"force\":true}}", 540,
           &res);
    const cJSON *check = cJSON_GetObjectItemCaseSensitive(res, "check");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(check, "passed")));
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(res, "rows");
    assert_int_equal((int)num(rows, "warehouse"), 1);
    assert_int_equal((int)num(rows, "district"), 10);
    assert_int_equal((int)num(rows, "customer"), 30000);
    assert_int_equal((int)num(rows, "item"), 100000);
    assert_int_equal((int)num(rows, "stock"), 100000);
    cJSON_Delete(res);

    char id[64];
    start("{\"type\":\"tpcc\",\"threads\":2,\"options\":{\"warehouses\":1,\"reportInterval\":2,"
          "\"time\":12}}",
          id, NULL);
    cJSON *st = wait_end(id, 120);
    assert_string_equal(str(st, "state"), "finished");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(st, "summary");
    fprintf(stderr, "TPC-C 1 warehouse, 2 threads, 12 s: TpmC %.1f (%s), avg tps %.1f\n",
            num(sum, "tpmc"), str(sum, "tpmc_source"), num(sum, "avg_tps"));
    assert_true(num(sum, "tpmc") > 0);
    assert_string_equal(str(sum, "tpmc_source"), "tool");
    assert_true(num(sum, "max_interval_tpmc") > 0);
    cJSON_Delete(st);
}

static void tpch_sf001_runs_22_queries(void **state)
{
    (void)state;
    cJSON *res = NULL;
    job_ok("/api/workload/prepare",
           "{\"type\":\"tpch\",\"threads\":2,\"options\":{\"scale\":0.01,\"force\":true}}", 540,
           &res);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(res, "spec");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "all_ok")));
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(res, "rows");
    /* TPC-H clause 4.2.5 at SF 0.01. */
    assert_int_equal((int)num(rows, "region"), 5);
    assert_int_equal((int)num(rows, "nation"), 25);
    assert_int_equal((int)num(rows, "supplier"), 100);
    assert_int_equal((int)num(rows, "customer"), 1500);
    assert_int_equal((int)num(rows, "part"), 2000);
    assert_int_equal((int)num(rows, "partsupp"), 8000);
    assert_int_equal((int)num(rows, "orders"), 15000);
    double li = num(rows, "lineitem");
    assert_true(li >= 60012 * 0.95 && li <= 60012 * 1.05);
    cJSON_Delete(res);

    char id[64];
    start("{\"type\":\"tpch\",\"threads\":1,\"options\":{\"scale\":0.01,\"reportInterval\":5}}",
          id, NULL);
    cJSON *st = wait_end(id, 300);
    assert_string_equal(str(st, "state"), "finished");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(st, "summary");
    assert_int_equal((int)num(sum, "queries_completed"), 22);
    assert_int_equal((int)num(sum, "queries_failed"), 0);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(sum, "queries");
    for (int i = 1; i <= 22; i++) {
        char k[8];
        snprintf(k, sizeof(k), "%d", i);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(q, k);
        if (!e)
            fail_msg("query %d has no time", i);
        assert_true(num(e, "last_s") >= 0);
        fprintf(stderr, "Q%-2d %.3f s\n", i, num(e, "last_s"));
    }
    cJSON_Delete(st);
    struct it_resp r = it_get(&it, "/metrics");
    char needle[160];
    snprintf(needle, sizeof(needle),
             "dbpecker_workload_query_seconds{run=\"%s\",type=\"tpch\",query=\"q22\"} ", id);
    assert_non_null(strstr(r.body, needle));
    it_resp_free(&r);
}

static void killed_outside_gone_404_stop_all_leaves_nothing(void **state)
{
    (void)state;
    job_ok("/api/workload/prepare",
           "{\"type\":\"sysbench\",\"options\":{\"tables\":1,\"tableSize\":1000,\"force\":true}}",
           300, NULL);
    const char *body = "{\"type\":\"sysbench\",\"threads\":1,\"options\":{\"tables\":1,"
                       "\"tableSize\":1000,\"reportInterval\":1,\"script\":\"oltp_read_only\"}}";

    /* Killed from outside: noticed and reported. */
    char id[64];
    int pid = 0;
    start(body, id, &pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    cJSON *st = wait_end(id, 30);
    assert_string_equal(str(st, "status"), "error");
    assert_string_equal(str(st, "state"), "failed");
    assert_non_null(strstr(str(st, "message"), "killed by signal 9"));
    assert_non_null(strstr(str(st, "message"), "outside dbpecker"));
    assert_int_equal((int)num(st, "signal"), 9);
    cJSON_Delete(st);
    stop(id, 404); /* already gone */

    /* Several runs of the same type at once, unique ids; stop-all. */
    char a[64], b[64];
    start(body, a, NULL);
    start(body, b, NULL);
    assert_string_not_equal(a, b);
    assert_true(children_of_me() >= 2);
    struct it_resp r = it_post_json(&it, "/api/workload/stop-all", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, a));
    assert_non_null(strstr(r.body, b));
    it_resp_free(&r);
    int left = 0;
    for (int i = 0; i < 50 && (left = children_of_me()) > 0; i++)
        usleep(100 * 1000);
    assert_int_equal(left, 0);
    r = it_get(&it, "/api/workload/active");
    assert_int_equal(cJSON_GetArraySize(r.json), 0);
    it_resp_free(&r);
    stop(a, 404);

    /* No run log holds the password. */
    {
        char runs[600];
        snprintf(runs, sizeof(runs), "%s/data/runs", it.dir);
        DIR *d = opendir(runs);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            char p[900];
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", runs, e->d_name);
            assert_null(strstr(e->d_name, ".cnf")); /* none left */
            if (file_has(p, password, strlen(password)))
                fail_msg("password found in %s", p);
        }
        closedir(d);
    }
    job_ok("/api/workload/cleanup", "{\"type\":\"sysbench\"}", 120, NULL);
}

int main(void)
{
    if (!it_lab_up()) {
        fprintf(stderr, "lab not running (%s): skipped\n", it_lab_dir());
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sysbench_prepare_run_stop_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(tpcc_one_warehouse_reports_tpmc, setup, teardown),
        cmocka_unit_test_setup_teardown(tpch_sf001_runs_22_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(killed_outside_gone_404_stop_all_leaves_nothing, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
