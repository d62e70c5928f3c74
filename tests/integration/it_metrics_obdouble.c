/*
 * it_metrics_obdouble.c - the OceanBase catalogs' SQL and the collector's
 * processing, against the OceanBase test double (an `oceanbase` schema on
 * MariaDB with OceanBase's view and column names, tests/data/ob_double):
 * cluster-scope rows routed to nodes by SVR_IP, per-tenant series named
 * from DBA_OB_TENANTS, counter vs gauge from VALUE_TYPE (and the catalog's
 * overrides), rates, and a counter reset that yields no negative value and
 * no spike.  Needs one MariaDB: the lab's node 1.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"

#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/daemon.h"
#include "dbp/db.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char host[128], port[16], cnf[600], pwfile[600];

static void mysql_source(const char *file)
{
    char src[700], h[160], p[32], e[800];
    snprintf(src, sizeof(src), "%s/tests/data/ob_double/%s", it_source_dir(), file);
    snprintf(h, sizeof(h), "--host=%s", host);
    snprintf(p, sizeof(p), "--port=%s", port);
    snprintf(e, sizeof(e), "source %s", src);
    const char *argv[] = {"mysql", cnf, h, p, "-e", e, NULL};
    char out[4096];
    if (it_run(argv, out, sizeof(out)) != 0)
        fail_msg("loading %s failed: %s", file, out);
}

static struct dbp_db *admin(void)
{
    char *pw = NULL;
    size_t len;
    assert_int_equal(dbp_read_file(pwfile, 256, &pw, &len), 0);
    struct dbp_db_opts o = {.host = host, .port = atoi(port), .user = "dbpecker",
                            .password = pw, .connect_timeout_s = 3, .read_timeout_s = 10};
    struct dbp_db *db = dbp_db_new(&o);
    free(pw);
    struct dbp_err err = {0};
    if (dbp_db_ensure(db, &err))
        fail_msg("%s", err.msg);
    return db;
}

static struct dbp_collector *collector(const char *catalog)
{
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    struct dbp_err err = {0};
    dbp_config_defaults(cfg);
    dbp_strlcpy(cfg->db_host, host, sizeof(cfg->db_host));
    cfg->db_port = atoi(port);
    dbp_strlcpy(cfg->db_user, "dbpecker", sizeof(cfg->db_user));
    dbp_strlcpy(cfg->db_password_file, pwfile, sizeof(cfg->db_password_file));
    cfg->nnodes = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "obs%d", i + 1);
        snprintf(cfg->nodes[i].host, sizeof(cfg->nodes[i].host), "10.0.0.%d", i + 1);
        cfg->nodes[i].port = 2881; /* SQL port; the views say 2882 (RPC) */
    }
    if (dbp_config_finish(cfg, &err))
        fail_msg("%s", err.msg);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/config/catalog", it_source_dir());
    struct dbp_catalog *cat = NULL;
    if (dbp_catalog_load(dir, catalog, &cat, &err))
        fail_msg("%s", err.msg);
    struct dbp_collector *c = NULL;
    if (dbp_collector_new(cfg, cat, &c, &err))
        fail_msg("%s", err.msg);
    free(cfg);
    return c;
}

static const cJSON *point(const cJSON *latest, const char *node, const char *cat, const char *m)
{
    return cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(latest, "metrics"), node), cat),
        m);
}

static double num(const cJSON *p, const char *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, f);
    if (!cJSON_IsNumber(v))
        fail_msg("field '%s' missing or not a number", f);
    return v->valuedouble;
}

static const char *str(const cJSON *p, const char *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, f);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double db_value(struct dbp_db *db, const char *sql)
{
    char out[64];
    struct dbp_err err = {0};
    if (dbp_db_scalar(db, sql, out, sizeof(out), &err))
        fail_msg("%s", err.msg);
    return strtod(out, NULL);
}

static void tick_and_cycle(struct dbp_db *db, struct dbp_collector *c)
{
    struct dbp_err err = {0};
    if (dbp_db_exec(db, "CALL oceanbase.dbp_double_tick()", NULL, &err))
        fail_msg("%s", err.msg);
    usleep(300 * 1000);
    dbp_collector_cycle(c);
}

static void oceanbase4(void **state)
{
    (void)state;
    mysql_source("schema4.sql");
    mysql_source("tick.sql");
    struct dbp_db *db = admin();
    struct dbp_collector *c = collector("oceanbase4");
    dbp_collector_cycle(c);
    for (int i = 0; i < 5; i++)
        tick_and_cycle(db, c);

    /* tenants named from DBA_OB_TENANTS; META and internal tenants filtered */
    cJSON *nodes = dbp_collector_nodes_json(c);
    char *text = cJSON_PrintUnformatted(nodes);
    assert_non_null(strstr(text, "\"state\":\"up\""));
    assert_non_null(strstr(text, "\"sys\""));
    assert_non_null(strstr(text, "\"t1\""));
    assert_null(strstr(text, "META"));
    assert_null(strstr(text, "\"500\""));
    free(text);
    cJSON_Delete(nodes);

    cJSON *latest = dbp_collector_latest_json(c, "sys", NULL, NULL);
    /* counter from VALUE_TYPE=ADD_VALUE: a positive rate = delta / elapsed */
    const cJSON *p = point(latest, "obs2", "transactions", "sql select count");
    assert_non_null(p);
    assert_string_equal(str(p, "kind"), "counter");
    assert_true(num(p, "value") > 0);
    assert_true(num(p, "delta") > 0);
    assert_true(fabs(num(p, "value") - num(p, "delta") / 0.3) < num(p, "delta") / 0.3 * 0.5);
    /* the raw value is what the view holds */
    double raw = db_value(db, "SELECT VALUE FROM oceanbase.GV$SYSSTAT WHERE CON_ID=1 AND "
                              "SVR_IP='10.0.0.2' AND NAME='sql select count'");
    assert_true(num(p, "raw") == raw);
    /* gauge from SET_VALUE: the value as is */
    p = point(latest, "obs1", "memory", "memory usage");
    assert_non_null(p);
    assert_string_equal(str(p, "kind"), "gauge");
    raw = db_value(db, "SELECT VALUE FROM oceanbase.GV$SYSSTAT WHERE CON_ID=1 AND "
                       "SVR_IP='10.0.0.1' AND NAME='memory usage'");
    assert_true(num(p, "value") == raw);
    /* the catalog's overrides beat VALUE_TYPE */
    assert_string_equal(str(point(latest, "obs1", "transactions", "active sessions"), "kind"),
                        "gauge");
    assert_string_equal(str(point(latest, "obs1", "cpu", "worker time"), "kind"), "counter");
    /* z-scores appear once min_history points exist */
    assert_non_null(cJSON_GetObjectItem(point(latest, "obs3", "transactions", "sql select count"),
                                        "z_score"));
    double before = num(point(latest, "obs2", "transactions", "sql select count"), "value");
    cJSON_Delete(latest);

    /* user tenant t1 has its own series */
    latest = dbp_collector_latest_json(c, "t1", NULL, NULL);
    assert_non_null(point(latest, "obs1", "transactions", "sql select count"));
    cJSON_Delete(latest);

    /* observer 10.0.0.2 restarts: counters drop.  No negative, no spike. */
    struct dbp_err err = {0};
    if (dbp_db_exec(db, "CALL oceanbase.dbp_double_restart('10.0.0.2')", NULL, &err))
        fail_msg("%s", err.msg);
    usleep(300 * 1000);
    dbp_collector_cycle(c);
    latest = dbp_collector_latest_json(c, "sys", NULL, NULL);
    p = point(latest, "obs2", "transactions", "sql select count");
    const cJSON *v = cJSON_GetObjectItem(p, "value");
    assert_true(cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                                    v->valuedouble <= 3 * before));
    cJSON_Delete(latest);
    tick_and_cycle(db, c);
    latest = dbp_collector_latest_json(c, "sys", NULL, NULL);
    p = point(latest, "obs2", "transactions", "sql select count");
    assert_true(num(p, "value") > 0);
    assert_true(num(p, "value") <= 3 * before);
    cJSON_Delete(latest);

    /* every point of every series stays >= 0 (rates never go negative) */
    double *ts = NULL, *vals = NULL, oldest;
    size_t n = 0;
    assert_int_equal(dbp_collector_history(c, "obs2", "sys", "sql select count", -INFINITY,
                                           INFINITY, &ts, &vals, &n, &oldest, &err),
                     0);
    assert_true(n >= 5);
    for (size_t k = 0; k < n; k++)
        assert_true(vals[k] >= 0);
    free(ts);
    free(vals);
    dbp_collector_free(c);
    dbp_db_free(db);
}

static void oceanbase3(void **state)
{
    (void)state;
    mysql_source("schema3.sql");
    mysql_source("tick.sql");
    struct dbp_db *db = admin();
    struct dbp_collector *c = collector("oceanbase3");
    dbp_collector_cycle(c);
    for (int i = 0; i < 3; i++)
        tick_and_cycle(db, c);
    cJSON *latest = dbp_collector_latest_json(c, "sys", NULL, NULL);
    const cJSON *p = point(latest, "obs1", "transactions", "sql select count");
    assert_non_null(p);
    assert_string_equal(str(p, "kind"), "counter"); /* 3.x: kind from the catalog */
    assert_true(num(p, "value") > 0);
    /* optional metrics that a 3.x observer lacks are absent, not zero */
    assert_null(point(latest, "obs1", "io", "palf write size to disk"));
    cJSON_Delete(latest);
    dbp_collector_free(c);
    struct dbp_err err = {0};
    dbp_db_exec(db, "DROP DATABASE IF EXISTS oceanbase", NULL, &err);
    dbp_db_free(db);
}

int main(void)
{
    if (!it_lab_up()) {
        fprintf(stderr, "SKIP: the lab is not running (scripts/lab.sh start)\n");
        return 77;
    }
    it_lab_env("LAB_NODE1_HOST", host, sizeof(host));
    it_lab_env("LAB_NODE1_PORT", port, sizeof(port));
    snprintf(cnf, sizeof(cnf), "--defaults-extra-file=%s/secrets/client.cnf", it_lab_dir());
    snprintf(pwfile, sizeof(pwfile), "%s/secrets/dbpecker.password", it_lab_dir());
    struct dbp_err err = {0};
    dbp_daemon_global_init(&err);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oceanbase4),
        cmocka_unit_test(oceanbase3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
