/* test_config.c - YAML parsing, key table, file:line errors, environment. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/config.h"
#include "dbp/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(const char *yaml, struct dbp_config *cfg, struct dbp_err *err)
{
    dbp_config_defaults(cfg);
    return dbp_config_parse("t.yaml", yaml, strlen(yaml), cfg, err);
}

static void defaults_are_sane(void **state)
{
    (void)state;
    struct dbp_config *cfg = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_config_load(NULL, &cfg, &err), 0);
    assert_string_equal(cfg->listen, "127.0.0.1");
    assert_int_equal(cfg->port, 8000);
    assert_int_equal(cfg->interval_ms, 5000);
    assert_int_equal(cfg->history_points, 720);
    assert_int_equal(cfg->window, 60);
    assert_int_equal(cfg->min_history, 5);
    assert_true(cfg->z_threshold == 2.0);
    assert_int_equal(cfg->default_duration_s, 180);
    assert_true(dbp_config_is_loopback(cfg));
    dbp_config_unref(cfg);
}

static void values_and_nodes(void **state)
{
    (void)state;
    struct dbp_config cfg;
    struct dbp_err err = {0};
    const char *y = "server:\n"
                    "  port: 9001\n"
                    "  cors_origins: [\"http://localhost:3000\", \"*\"]\n"
                    "collector:\n"
                    "  interval_ms: 1000\n"
                    "  z_threshold: 2.5\n"
                    "database:\n"
                    "  catalog: oceanbase4\n"
                    "  nodes:\n"
                    "    - name: n1\n"
                    "      host: 10.0.0.1\n"
                    "      port: 2881\n"
                    "    - {name: n2, zone: zone2}\n";
    assert_int_equal(parse(y, &cfg, &err), 0);
    assert_int_equal(cfg.port, 9001);
    assert_int_equal(cfg.ncors, 2);
    assert_string_equal(cfg.cors[1], "*");
    assert_int_equal(cfg.interval_ms, 1000);
    assert_true(cfg.z_threshold == 2.5);
    assert_string_equal(cfg.catalog, "oceanbase4");
    assert_int_equal(cfg.nnodes, 2);
    assert_string_equal(cfg.nodes[0].host, "10.0.0.1");
    assert_int_equal(cfg.nodes[0].port, 2881);
    assert_string_equal(cfg.nodes[1].zone, "zone2");
    /* finish fills node defaults from database.host/port */
    assert_int_equal(dbp_config_finish(&cfg, &err), 0);
    assert_string_equal(cfg.nodes[1].host, "127.0.0.1");
    assert_int_equal(cfg.nodes[1].port, 3306);
    assert_non_null(dbp_config_node(&cfg, "n2"));
    assert_null(dbp_config_node(&cfg, "n3"));
}

static void errors_name_file_line(void **state)
{
    (void)state;
    struct dbp_config cfg;
    struct dbp_err err = {0};
    assert_int_equal(parse("server:\n  prot: 1\n", &cfg, &err), DBP_EINVAL);
    assert_string_equal(err.msg, "t.yaml:2:3: unknown key 'server.prot'");
    assert_int_equal(parse("server:\n  port: 70000\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "t.yaml:2:9: 'server.port' must be an integer in 0..65535"));
    assert_int_equal(parse("collector:\n  interval_ms: fast\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "t.yaml:2:16"));
    assert_int_equal(parse("log:\n  level: loud\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "must be one of error|warn|info|debug"));
    assert_int_equal(parse("server: [1, 2]\n", &cfg, &err), DBP_EINVAL);
    assert_int_equal(parse("server:\n  port: [1]\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "must be a scalar"));
    assert_int_equal(parse("a: b: c\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "t.yaml:1:"));
    assert_int_equal(parse("x: &a 1\ny: *a\n", &cfg, &err), DBP_EINVAL);
    assert_int_equal(parse("database:\n  nodes:\n    - {name: \"a;b\"}\n", &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "node name"));
    assert_int_equal(parse("database:\n  nodes:\n    - {name: a}\n    - {name: a}\n", &cfg, &err),
                     DBP_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate node name"));
    assert_int_equal(parse("database:\n  nodes:\n    - {name: a, colour: red}\n", &cfg, &err),
                     DBP_EINVAL);
    assert_non_null(strstr(err.msg, "unknown node key 'colour'"));
    assert_int_equal(parse("", &cfg, &err), 0); /* empty file = defaults */
}

static void environment_overrides(void **state)
{
    (void)state;
    struct dbp_config cfg;
    struct dbp_err err = {0};
    dbp_config_defaults(&cfg);
    setenv("OB_HOST", "db.example", 1);
    setenv("OB_PORT", "2883", 1);
    setenv("OB_PASSWORD", "s3cret", 1);
    setenv("PROMETHEUS_URL", "http://127.0.0.1:9090", 1);
    setenv("DBPECKER_COLLECTOR_INTERVAL_MS", "2000", 1);
    assert_int_equal(dbp_config_finish(&cfg, &err), 0);
    assert_string_equal(cfg.db_host, "db.example");
    assert_int_equal(cfg.db_port, 2883);
    assert_string_equal(cfg.db_password, "s3cret");
    assert_string_equal(cfg.prom_url, "http://127.0.0.1:9090");
    assert_int_equal(cfg.interval_ms, 2000);
    setenv("OB_PORT", "notaport", 1);
    assert_int_equal(dbp_config_finish(&cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "environment OB_PORT"));
    unsetenv("OB_HOST");
    unsetenv("OB_PORT");
    unsetenv("OB_PASSWORD");
    unsetenv("PROMETHEUS_URL");
    unsetenv("DBPECKER_COLLECTOR_INTERVAL_MS");
}

static void token_required_beyond_loopback(void **state)
{
    (void)state;
    struct dbp_config cfg;
    struct dbp_err err = {0};
    assert_int_equal(parse("server:\n  listen: 0.0.0.0\n", &cfg, &err), 0);
    assert_int_equal(dbp_config_finish(&cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "bearer token is mandatory"));
    assert_int_equal(parse("server:\n  listen: 0.0.0.0\n  token: abc\n", &cfg, &err), 0);
    assert_int_equal(dbp_config_finish(&cfg, &err), 0);
}

static void cross_field_rules(void **state)
{
    (void)state;
    struct dbp_config cfg;
    struct dbp_err err = {0};
    assert_int_equal(parse("collector:\n  window: 10\n  min_history: 20\n", &cfg, &err), 0);
    assert_int_equal(dbp_config_finish(&cfg, &err), DBP_EINVAL);
    assert_int_equal(parse("prometheus:\n  url: ftp://x\n", &cfg, &err), 0);
    assert_int_equal(dbp_config_finish(&cfg, &err), DBP_EINVAL);
    assert_int_equal(parse("server:\n  cors_origins: [evil]\n", &cfg, &err), 0);
    assert_int_equal(dbp_config_finish(&cfg, &err), DBP_EINVAL);
}

static void files_and_relative_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbp-cfg-XXXXXX";
    char path[256], pw[256], nodes[256];
    assert_non_null(mkdtemp(dir));
    snprintf(pw, sizeof(pw), "%s/pw", dir);
    snprintf(nodes, sizeof(nodes), "%s/nodes.yaml", dir);
    snprintf(path, sizeof(path), "%s/d.yaml", dir);
    FILE *f = fopen(pw, "w");
    fputs("hunter2\n", f);
    fclose(f);
    /* A secret readable by others is refused (it used to be read). */
    chmod(pw, 0644);
    f = fopen(path, "w");
    fputs("database:\n  password_file: pw\n", f);
    fclose(f);
    struct dbp_config *bad = NULL;
    struct dbp_err berr = {0};
    assert_int_equal(dbp_config_load(path, &bad, &berr), DBP_EINVAL);
    assert_non_null(strstr(berr.msg, "chmod 600"));
    assert_null(strstr(berr.msg, "hunter2"));
    chmod(pw, 0600);
    f = fopen(nodes, "w");
    fputs("- name: node1\n  host: 10.213.0.11\n  port: 3306\n  netns: dbp-node1\n"
          "- name: node2\n  host: 10.213.0.12\n  port: 3306\n",
          f);
    fclose(f);
    f = fopen(path, "w");
    fputs("database:\n  password_file: pw\n  nodes_file: nodes.yaml\n", f);
    fclose(f);
    struct dbp_config *cfg = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_config_load(path, &cfg, &err), 0);
    assert_string_equal(cfg->db_password, "hunter2");
    assert_int_equal(cfg->nnodes, 2);
    assert_string_equal(cfg->nodes[0].netns, "dbp-node1");
    /* data_dir "data" resolved next to the file */
    assert_non_null(strstr(cfg->data_dir, "/data"));
    assert_int_equal(strncmp(cfg->data_dir, "/", 1), 0);
    dbp_config_unref(cfg);
    unlink(pw);
    assert_int_equal(dbp_config_load(path, &cfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "cannot read secret file"));
    unlink(nodes);
    unlink(path);
    rmdir(dir);
    assert_int_equal(dbp_config_load("/nonexistent/x.yaml", &cfg, &err), DBP_EINVAL);
}

/* The shipped configs must parse (they document every key). */
static void shipped_configs_parse(void **state)
{
    (void)state;
    const char *src = getenv("DBP_SOURCE_DIR");
    char path[512];
    struct dbp_config *cfg = NULL;
    struct dbp_err err = {0};
    if (!src)
        skip();
    snprintf(path, sizeof(path), "%s/config/dbpecker.yaml", src);
    if (dbp_config_load(path, &cfg, &err))
        fail_msg("%s", err.msg);
    dbp_config_unref(cfg);
    snprintf(path, sizeof(path), "%s/config/lab.yaml", src);
    struct dbp_config c2;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dbp_read_file(path, 1 << 20, &text, &len), 0);
    dbp_config_defaults(&c2);
    if (dbp_config_parse(path, text, len, &c2, &err))
        fail_msg("%s", err.msg);
    free(text);

    /* Every key of the table is documented in config/dbpecker.yaml. */
    snprintf(path, sizeof(path), "%s/config/dbpecker.yaml", src);
    assert_int_equal(dbp_read_file(path, 1 << 20, &text, &len), 0);
    for (size_t i = 0; dbp_config_key_path(i); i++) {
        const char *k = dbp_config_key_path(i);
        const char *leaf = strrchr(k, '.');
        char needle[96];
        snprintf(needle, sizeof(needle), "%s:", leaf ? leaf + 1 : k);
        if (!strstr(text, needle))
            fail_msg("key '%s' is not documented in config/dbpecker.yaml", k);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_sane),
        cmocka_unit_test(values_and_nodes),
        cmocka_unit_test(errors_name_file_line),
        cmocka_unit_test(environment_overrides),
        cmocka_unit_test(token_required_beyond_loopback),
        cmocka_unit_test(cross_field_rules),
        cmocka_unit_test(files_and_relative_paths),
        cmocka_unit_test(shipped_configs_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
