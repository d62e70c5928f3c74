/*
 * it_metrics_lab.c - the metrics pipeline on the real lab (3-node Galera):
 *  - Com_select's rate on a node matches the qps sysbench reports against
 *    that node over the same interval;
 *  - a stopped node is marked down within two intervals, its return is
 *    picked up, and the restart produces no negative or spiking rate;
 *  - Prometheus (real) scrapes the daemon and /api/metrics/history for an
 *    older range returns what Prometheus stored.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"

#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct it_daemon it;
static char lab_sh[600];

static int setup(void **state)
{
    (void)state;
    char yaml[8192];
    snprintf(lab_sh, sizeof(lab_sh), "%s/scripts/lab.sh", it_source_dir());
    snprintf(yaml, sizeof(yaml), "%scollector:\n  interval_ms: 1000\n", it_lab_yaml());
    return it_start(&it, yaml);
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    return 0;
}

static const cJSON *node_json(cJSON *doc, const char *name)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(doc, "nodes"))
    if (strcmp(cJSON_GetObjectItem(n, "name")->valuestring, name) == 0)
        return n;
    return NULL;
}

static const char *node_state(const char *name)
{
    static char st[32];
    struct it_resp r = it_get(&it, "/api/metrics/nodes");
    const cJSON *n = node_json(r.json, name);
    dbp_strlcpy(st, n ? cJSON_GetObjectItem(n, "state")->valuestring : "missing", sizeof(st));
    it_resp_free(&r);
    return st;
}

static void wait_all_up(int timeout_s)
{
    for (int i = 0; i < timeout_s * 4; i++) {
        if (!strcmp(node_state("node1"), "up") && !strcmp(node_state("node2"), "up") &&
            !strcmp(node_state("node3"), "up"))
            return;
        usleep(250 * 1000);
    }
    fail_msg("nodes not all up after %d s", timeout_s);
}

/* Mean of the ring points of node/metric with start < ts < end. */
static double ring_mean(const char *node, const char *metric, double start, double end, int *n)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/metrics/history?node=%s&metric=%s&start=%.3f&end=%.3f",
             node, metric, start, end);
    struct it_resp r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    double sum = 0;
    *n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(r.json, "points"))
    {
        sum += cJSON_GetObjectItem(p, "value")->valuedouble;
        (*n)++;
    }
    it_resp_free(&r);
    return *n ? sum / *n : NAN;
}

static void sysbench(const char *cnf, const char *cmd, int secs, char *out, size_t outsz)
{
    char cf[700], t[32];
    snprintf(cf, sizeof(cf), "--config-file=%s", cnf);
    snprintf(t, sizeof(t), "--time=%d", secs);
    const char *argv[] = {"sysbench", cf, "oltp_point_select", "--tables=1", "--table-size=2000",
                          "--threads=2", t, cmd, NULL};
    int rc = it_run(argv, out, outsz);
    if (rc != 0)
        fail_msg("sysbench %s failed (%d): %s", cmd, rc, out);
}

static void rates_match_sysbench(void **state)
{
    (void)state;
    wait_all_up(30);
    char host[128], port[16], pw[256] = "", cnf[300], pwpath[600];
    it_lab_env("LAB_NODE1_HOST", host, sizeof(host));
    it_lab_env("LAB_NODE1_PORT", port, sizeof(port));
    snprintf(pwpath, sizeof(pwpath), "%s/secrets/bench.password", it_lab_dir());
    char *p = NULL;
    size_t len;
    assert_int_equal(dbp_read_file(pwpath, 255, &p, &len), 0);
    dbp_strlcpy(pw, p, sizeof(pw));
    free(p);
    /* the password goes through a 0600 option file, never the argv */
    snprintf(cnf, sizeof(cnf), "%s/sysbench.cnf", it.dir);
    FILE *f = fopen(cnf, "w");
    chmod(cnf, 0600);
    fprintf(f, "db-driver=mysql\nmysql-host=%s\nmysql-port=%s\nmysql-user=bench\n"
               "mysql-password=%s\nmysql-db=sbtest\n",
            host, port, pw);
    fclose(f);
    static char out[65536];
    const char *argv_c[] = {"sysbench", NULL};
    (void)argv_c;
    sysbench(cnf, "cleanup", 0, out, sizeof(out));
    sysbench(cnf, "prepare", 0, out, sizeof(out));
    sleep(2);
    double t0 = dbp_wall_s();
    sysbench(cnf, "run", 12, out, sizeof(out));
    double t1 = dbp_wall_s();
    const char *q = strstr(out, "queries:");
    assert_non_null(q);
    const char *ps = strchr(q, '(');
    double qps = ps ? strtod(ps + 1, NULL) : 0;
    assert_true(qps > 100);
    sleep(2);
    /* skip the first and last second: sysbench ramps up and down */
    int n = 0;
    double rate = ring_mean("node1", "Com_select", t0 + 2, t1 - 1, &n);
    fprintf(stderr, "sysbench qps %.1f, Com_select rate %.1f/s over %d points\n", qps, rate, n);
    assert_true(n >= 5);
    assert_true(fabs(rate - qps) <= 0.15 * qps);
    /* the other nodes do not see those reads (Galera replicates writes only) */
    double other = ring_mean("node2", "Com_select", t0 + 2, t1 - 1, &n);
    assert_true(other < 0.05 * qps);
    sysbench(cnf, "cleanup", 0, out, sizeof(out));
}

static void node_down_and_back(void **state)
{
    (void)state;
    wait_all_up(30);
    char out[8192];
    double before_max = 0;
    int n = 0;
    double now = dbp_wall_s();
    (void)ring_mean("node3", "Questions", now - 30, now, &n);
    {
        char path[256];
        snprintf(path, sizeof(path), "/api/metrics/history?node=node3&metric=Questions&start=%.3f",
                 now - 60);
        struct it_resp r = it_get(&it, path);
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(r.json, "points"))
        before_max = fmax(before_max, cJSON_GetObjectItem(p, "value")->valuedouble);
        it_resp_free(&r);
    }
    const char *stop[] = {"bash", lab_sh, "node-stop", "3", NULL};
    if (it_run(stop, out, sizeof(out)) != 0)
        fail_msg("node-stop: %s", out);
    double t_stop = dbp_wall_s();
    bool down = false;
    while (dbp_wall_s() - t_stop < 2.5 && !down) {
        down = strcmp(node_state("node3"), "down") == 0;
        usleep(100 * 1000);
    }
    assert_true(down); /* within two 1 s intervals (+ scheduling slack) */
    assert_string_equal(node_state("node1"), "up");
    struct it_resp r = it_get(&it, "/api/metrics/nodes");
    const cJSON *nj = node_json(r.json, "node3");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(nj, "last_error")));
    it_resp_free(&r);

    const char *start[] = {"bash", lab_sh, "node-start", "3", NULL};
    if (it_run(start, out, sizeof(out)) != 0)
        fail_msg("node-start: %s", out);
    double t_start = dbp_wall_s();
    bool up = false;
    while (dbp_wall_s() - t_start < 90 && !up) {
        up = strcmp(node_state("node3"), "up") == 0;
        usleep(250 * 1000);
    }
    assert_true(up);
    sleep(4);
    /* after the restart: no negative value, no spike */
    char path[256];
    snprintf(path, sizeof(path), "/api/metrics/history?node=node3&metric=Questions&start=%.3f",
             t_stop);
    r = it_get(&it, path);
    const cJSON *p;
    int k = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(r.json, "points"))
    {
        double v = cJSON_GetObjectItem(p, "value")->valuedouble;
        assert_true(v >= 0);
        assert_true(v <= fmax(10 * before_max, 50));
        k++;
    }
    assert_true(k >= 2);
    it_resp_free(&r);
}

static void prometheus_round_trip(void **state)
{
    (void)state;
    char prom[256] = "", target[64], out[4096];
    if (!it_lab_env("LAB_PROM_URL", prom, sizeof(prom)) || !prom[0])
        skip();
    snprintf(target, sizeof(target), "127.0.0.1:%d", it.port);
    const char *argv[] = {"bash", lab_sh, "scrape-target", target, NULL};
    if (it_run(argv, out, sizeof(out)) != 0)
        fail_msg("scrape-target: %s", out);
    double t0 = dbp_wall_s();
    /* Prometheus picks the file_sd change up, then scrapes every 5 s. */
    int got = 0;
    char path[512];
    while (dbp_wall_s() - t0 < 60) {
        sleep(5);
        snprintf(path, sizeof(path),
                 "/api/metrics/history?node=node1&metric=Questions&start=%.3f&end=%.3f&step=5"
                 "&source=prometheus",
                 t0 - 5, dbp_wall_s());
        struct it_resp r = it_get(&it, path);
        assert_int_equal(r.status, 200);
        assert_string_equal(cJSON_GetObjectItem(r.json, "source")->valuestring, "prometheus");
        got = cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "points"));
        it_resp_free(&r);
        if (got >= 3)
            break;
    }
    assert_true(got >= 3);
    /* An "older" range (before the ring's first point) goes to Prometheus
     * automatically; fake that by asking for a range that starts before the
     * daemon started. */
    snprintf(path, sizeof(path),
             "/api/metrics/history?node=node1&metric=Questions&start=%.3f&end=%.3f&step=5",
             t0 - 3600, dbp_wall_s());
    struct it_resp r = it_get(&it, path);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItem(r.json, "source")->valuestring, "prometheus");
    const cJSON *pt;
    cJSON_ArrayForEach(pt, cJSON_GetObjectItem(r.json, "points"))
    {
        double v = cJSON_GetObjectItem(pt, "value")->valuedouble;
        assert_true(v >= 0 && isfinite(v));
    }
    it_resp_free(&r);
    /* Prometheus down: a clear 503, not a hang */
    const char *restore[] = {"bash", lab_sh, "scrape-target", "127.0.0.1:8000", NULL};
    it_run(restore, out, sizeof(out));
}

int main(void)
{
    if (!it_lab_up()) {
        fprintf(stderr, "SKIP: the lab is not running (scripts/lab.sh start)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rates_match_sysbench),
        cmocka_unit_test(node_down_and_back),
        cmocka_unit_test(prometheus_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
