/*
 * config.c - YAML -> small DOM with line numbers -> key table -> struct.
 *
 * DESIGN: libyaml gives an event stream; we build a tiny DOM (scalar,
 * sequence, mapping) that remembers line:col for every node, as h2o's yoml
 * does, then walk it against keytab[].  Every key is declared once in
 * keytab[] with its type, bounds, default and help; the same table drives
 * parsing, environment overrides (DBPECKER_SECTION_KEY) and --dump-keys, so
 * documentation and code cannot disagree about which keys exist.
 */
#define _GNU_SOURCE
#include "dbp/config.h"
#include "dbp/log.h"
#include "dbp/util.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dbp/ydom.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

/* ---- key table ---------------------------------------------------------- */

enum ktype { K_STR, K_SECRET, K_INT, K_LONG, K_DOUBLE, K_BOOL, K_ENUM, K_PATH, K_STRLIST, K_NODES };

struct key {
    const char *path;
    enum ktype type;
    size_t off;
    size_t size;
    const char *def;
    double min, max;
    const char *choices; /* K_ENUM: "a|b|c" */
    const char *env;     /* extra compatible env name (OB_HOST...) */
    const char *help;
};

#define F(field) offsetof(struct dbp_config, field), sizeof(((struct dbp_config *)0)->field)

static const struct key keytab[] = {
    {"server.listen", K_STR, F(listen), "127.0.0.1", 0, 0, NULL, NULL,
     "address to bind; anything but loopback requires server.token"},
    {"server.port", K_INT, F(port), "8000", 0, 65535, NULL, NULL, "TCP port (0 = any free port)"},
    {"server.threads", K_INT, F(threads), "4", 1, 64, NULL, NULL, "HTTP worker threads"},
    {"server.token", K_SECRET, F(token), "", 0, 0, NULL, NULL,
     "bearer token required by every mutating route (empty = none, loopback only)"},
    {"server.token_file", K_PATH, F(token_file), "", 0, 0, NULL, NULL,
     "file holding the bearer token (mode 0600); wins over server.token"},
    {"server.cors_origins", K_STRLIST, F(cors), "", 0, DBP_MAX_CORS, NULL, NULL,
     "origins allowed by CORS (exact match, or \"*\")"},
    {"server.max_body", K_LONG, F(max_body), "1048576", 1024, 64 * 1024 * 1024, NULL, NULL,
     "default request body limit in bytes"},
    {"server.connection_timeout_s", K_INT, F(conn_timeout_s), "30", 1, 3600, NULL, NULL,
     "idle connection timeout"},
    {"server.connection_limit", K_INT, F(conn_limit), "256", 4, 65536, NULL, NULL,
     "maximum concurrent connections"},
    {"server.docs_dir", K_PATH, F(docs_dir), "", 0, 0, NULL, NULL,
     "directory of swagger-ui-dist for GET /docs (empty = built-in page only)"},
    {"log.level", K_ENUM, F(log_level), "info", 0, 0, "error|warn|info|debug", NULL,
     "log threshold"},
    {"data_dir", K_PATH, F(data_dir), "data", 0, 0, NULL, NULL,
     "state directory (journals, runs, cases, models)"},
    {"database.catalog", K_ENUM, F(catalog), "mariadb", 0, 0, "mariadb|oceanbase4|oceanbase3", NULL,
     "metric catalog (config/catalog/<name>.yaml)"},
    {"database.catalog_dir", K_PATH, F(catalog_dir), "catalog", 0, 0, NULL, NULL,
     "directory of catalog files"},
    {"database.host", K_STR, F(db_host), "127.0.0.1", 0, 0, NULL, "OB_HOST",
     "default host for nodes without one, and the cluster endpoint (obproxy)"},
    {"database.port", K_INT, F(db_port), "3306", 1, 65535, NULL, "OB_PORT",
     "port of database.host"},
    {"database.user", K_STR, F(db_user), "root", 0, 0, NULL, "OB_USER", "monitoring user"},
    {"database.password", K_SECRET, F(db_password), "", 0, 0, NULL, "OB_PASSWORD",
     "password (prefer password_file)"},
    {"database.password_file", K_PATH, F(db_password_file), "", 0, 0, NULL, NULL,
     "file holding the password; wins over database.password"},
    {"database.database", K_STR, F(db_name), "", 0, 0, NULL, "OB_DATABASE",
     "default schema (empty = none)"},
    {"database.nodes_file", K_PATH, F(nodes_file), "", 0, 0, NULL, NULL,
     "YAML list of nodes (same shape as database.nodes), e.g. written by scripts/lab.sh"},
    {"database.nodes", K_NODES, F(nodes), "", 0, DBP_MAX_NODES, NULL, NULL,
     "static node list: [{name, host, port, datadir, pid_file, netns, iface, cgroup, zone, pod}]"},
    {"database.discover", K_BOOL, F(discover), "false", 0, 0, NULL, NULL,
     "discover nodes from the database (DBA_OB_SERVERS / wsrep_incoming_addresses)"},
    {"database.connect_timeout_s", K_INT, F(connect_timeout_s), "3", 1, 300, NULL, NULL,
     "connect timeout per node"},
    {"database.read_timeout_s", K_INT, F(read_timeout_s), "5", 1, 3600, NULL, NULL,
     "read/write timeout per query"},
    {"collector.autostart", K_BOOL, F(collector_autostart), "true", 0, 0, NULL, NULL,
     "start collecting at daemon start"},
    {"collector.interval_ms", K_INT, F(interval_ms), "5000", 1000, 3600000, NULL, NULL,
     "collection interval"},
    {"collector.history_points", K_INT, F(history_points), "720", 10, 1000000, NULL, NULL,
     "ring size per series"},
    {"collector.window", K_INT, F(window), "60", 2, 100000, NULL, NULL,
     "fluctuation window (points, including the current one)"},
    {"collector.min_history", K_INT, F(min_history), "5", 2, 100000, NULL, NULL,
     "points needed before z-scores are reported"},
    {"collector.z_threshold", K_DOUBLE, F(z_threshold), "2.0", 0.1, 100, NULL, NULL,
     "|z| at or above which a point fluctuates"},
    {"prometheus.url", K_STR, F(prom_url), "", 0, 0, NULL, "PROMETHEUS_URL",
     "Prometheus base URL for history and post-incident diagnosis (empty = none)"},
    {"prometheus.timeout_ms", K_INT, F(prom_timeout_ms), "5000", 100, 600000, NULL, NULL,
     "query timeout"},
    {"workload.sysbench", K_STR, F(sysbench_path), "sysbench", 0, 0, NULL, NULL,
     "sysbench executable"},
    {"workload.lua_dir", K_PATH, F(lua_dir), "../scripts/lua", 0, 0, NULL, NULL,
     "directory of the project's TPC-C / TPC-H Lua scripts"},
    {"workload.tpcc_dir", K_PATH, F(tpcc_dir), "", 0, 0, NULL, NULL,
     "tpcc-mysql directory with tpcc_load/tpcc_start (empty = not available)"},
    {"workload.user", K_STR, F(bench_user), "", 0, 0, NULL, NULL,
     "benchmark user (empty = database.user)"},
    {"workload.password_file", K_PATH, F(bench_password_file), "", 0, 0, NULL, NULL,
     "benchmark user's password file (empty = the database password)"},
    {"workload.max_runs", K_INT, F(max_runs), "16", 1, 256, NULL, NULL,
     "concurrent workload runs"},
    {"anomaly.executor", K_ENUM, F(executor), "auto", 0, 0, "auto|local|chaosmesh|sql", NULL,
     "how faults are applied (auto = chaosmesh when k8s is configured, else local+sql)"},
    {"anomaly.default_duration_s", K_INT, F(default_duration_s), "180", 1, 86400, NULL, NULL,
     "fault duration when a request gives none"},
    {"anomaly.max_duration_s", K_INT, F(max_duration_s), "3600", 1, 604800, NULL, NULL,
     "longest accepted fault duration"},
    {"anomaly.k8s_namespace", K_STR, F(k8s_namespace), "oceanbase", 0, 0, NULL,
     "OCEANBASE_NAMESPACE", "namespace of the database pods"},
    {"anomaly.k8s_api", K_STR, F(k8s_api), "", 0, 0, NULL, NULL,
     "Kubernetes API URL (empty = in-cluster or kubeconfig)"},
    {"anomaly.kubeconfig", K_PATH, F(k8s_kubeconfig), "", 0, 0, NULL, NULL, "kubeconfig file"},
    {"anomaly.k8s_label_selector", K_STR, F(k8s_label_selector), "ref-obcluster=obcluster", 0, 0,
     NULL, NULL, "label selector of the database pods"},
    {"training.data_dir", K_PATH, F(training_dir), "data/training", 0, 0, NULL,
     "TRAINING_DATA_DIR", "case directories"},
    {"training.models_dir", K_PATH, F(models_dir), "data/models", 0, 0, NULL, NULL,
     "trained models"},
    {"training.window", K_INT, F(feature_window), "6", 2, 720, NULL, "METRICS_TIME_WINDOW",
     "feature window W in samples"},
    {"training.case_duration_s", K_INT, F(case_duration_s), "180", 10, 86400, NULL, NULL,
     "an anomaly case stops by itself after this long (the original's 180 s)"},
    {"training.post_s", K_INT, F(post_s), "30", 0, 3600, NULL, NULL,
     "recording kept after a fault ends when /api/anomaly/inject collects training data"},
    {"training.max_case_samples", K_INT, F(max_case_samples), "3600", 10, 1000000, NULL, NULL,
     "cycles one case may hold; a longer case is saved and closed"},
    {"training.experiments_dir", K_PATH, F(experiments_dir), "data/experiments", 0, 0, NULL,
     NULL, "campaign reports and their cases"},
};

#undef F

static const struct key *key_find(const char *path)
{
    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++)
        if (strcmp(keytab[i].path, path) == 0)
            return &keytab[i];
    return NULL;
}

static bool key_is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++)
        if (strncmp(keytab[i].path, prefix, n) == 0 && keytab[i].path[n] == '.')
            return true;
    return false;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *t[] = {"true", "yes", "on", "1"};
    static const char *f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* Store one scalar value; where = "file:line:col" for messages. */
static int set_scalar(struct dbp_config *cfg, const struct key *k, const char *v,
                      const char *where, struct dbp_err *err)
{
    char *dst = (char *)cfg + k->off;
    switch (k->type) {
    case K_STR:
    case K_SECRET:
    case K_PATH:
    case K_ENUM:
        if (strlen(v) >= k->size)
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' is longer than %zu characters", where,
                               k->path, k->size - 1);
        if (k->type == K_ENUM && !choice_ok(k->choices, v))
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be one of %s, not '%s'", where,
                               k->path, k->choices, v);
        dbp_strlcpy(dst, v, k->size);
        return 0;
    case K_INT:
    case K_LONG: {
        int64_t x;
        if (dbp_parse_i64(v, (int64_t)k->min, (int64_t)k->max, &x))
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be an integer in %.0f..%.0f", where,
                               k->path, k->min, k->max);
        if (k->type == K_INT)
            *(int *)(void *)dst = (int)x;
        else
            *(long *)(void *)dst = (long)x;
        return 0;
    }
    case K_DOUBLE: {
        double x;
        if (dbp_parse_double(v, &x) || x < k->min || x > k->max)
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be a number in %g..%g", where,
                               k->path, k->min, k->max);
        *(double *)(void *)dst = x;
        return 0;
    }
    case K_BOOL: {
        bool b;
        if (!parse_bool(v, &b))
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be true or false", where, k->path);
        *(bool *)(void *)dst = b;
        return 0;
    }
    case K_STRLIST: {
        /* from the environment: comma separated */
        cfg->ncors = 0;
        char tmp[DBP_HOST_MAX * 4];
        dbp_strlcpy(tmp, v, sizeof(tmp));
        char *save = NULL;
        for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (!*tok)
                continue;
            if (cfg->ncors >= DBP_MAX_CORS || strlen(tok) >= DBP_HOST_MAX)
                return dbp_err_set(err, DBP_EINVAL, "%s: '%s' has too many or too long entries",
                                   where, k->path);
            dbp_strlcpy(cfg->cors[cfg->ncors++], tok, DBP_HOST_MAX);
        }
        return 0;
    }
    case K_NODES:
        return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be a YAML list", where, k->path);
    }
    return DBP_EINTERNAL;
}

static bool valid_node_name(const char *s)
{
    if (!*s || strlen(s) >= DBP_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.' && *p != ':')
            return false;
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int parse_nodes(struct dbp_config *cfg, const char *name, const struct dbp_ynode *seq,
                       struct dbp_err *err)
{
    static const struct {
        const char *key;
        size_t off, size;
        bool is_port;
    } nk[] = {
#define N(f) offsetof(struct dbp_node_cfg, f), sizeof(((struct dbp_node_cfg *)0)->f)
        {"name", N(name), false},     {"host", N(host), false},     {"port", N(port), true},
        {"datadir", N(datadir), false}, {"pid_file", N(pid_file), false},
        {"netns", N(netns), false},   {"iface", N(iface), false},   {"cgroup", N(cgroup), false},
        {"zone", N(zone), false},     {"pod", N(pod), false},
#undef N
    };
    if (seq->type != DBP_Y_SEQ)
        return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: 'database.nodes' must be a list", name,
                           seq->line, seq->col);
    cfg->nnodes = 0;
    for (size_t i = 0; i < seq->nitems; i++) {
        const struct dbp_ynode *m = seq->items[i];
        if (m->type != DBP_Y_MAP)
            return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: a node must be a mapping", name,
                               m->line, m->col);
        if (cfg->nnodes >= DBP_MAX_NODES)
            return dbp_err_set(err, DBP_ETOOBIG, "%s:%d:%d: more than %d nodes", name, m->line,
                               m->col, DBP_MAX_NODES);
        struct dbp_node_cfg *nd = &cfg->nodes[cfg->nnodes];
        memset(nd, 0, sizeof(*nd));
        for (size_t j = 0; j + 1 < m->nitems; j += 2) {
            const struct dbp_ynode *kn = m->items[j], *vn = m->items[j + 1];
            size_t x;
            for (x = 0; x < DBP_ARRAY_SIZE(nk); x++)
                if (kn->type == DBP_Y_SCALAR && strcmp(kn->value, nk[x].key) == 0)
                    break;
            if (x == DBP_ARRAY_SIZE(nk))
                return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: unknown node key '%s'", name,
                                   kn->line, kn->col, kn->type == DBP_Y_SCALAR ? kn->value : "?");
            if (vn->type != DBP_Y_SCALAR)
                return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: node key '%s' must be a scalar",
                                   name, vn->line, vn->col, nk[x].key);
            if (nk[x].is_port) {
                int64_t p;
                if (dbp_parse_i64(vn->value, 1, 65535, &p))
                    return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: node port must be 1..65535",
                                       name, vn->line, vn->col);
                nd->port = (int)p;
            } else {
                if (strlen(vn->value) >= nk[x].size)
                    return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: node '%s' is too long", name,
                                       vn->line, vn->col, nk[x].key);
                dbp_strlcpy((char *)nd + nk[x].off, vn->value, nk[x].size);
            }
        }
        if (!valid_node_name(nd->name))
            return dbp_err_set(err, DBP_EINVAL,
                               "%s:%d:%d: node name must be 1-63 of [A-Za-z0-9._:-]", name,
                               m->line, m->col);
        for (int k = 0; k < cfg->nnodes; k++)
            if (strcmp(cfg->nodes[k].name, nd->name) == 0)
                return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: duplicate node name '%s'", name,
                                   m->line, m->col, nd->name);
        cfg->nnodes++;
    }
    return 0;
}

static int walk_map(struct dbp_config *cfg, const char *name, const struct dbp_ynode *map,
                    const char *prefix, struct dbp_err *err)
{
    char where[DBP_PATH_MAX + 32];
    if (map->type != DBP_Y_MAP)
        return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: expected a mapping", name, map->line,
                           map->col);
    for (size_t i = 0; i + 1 < map->nitems; i += 2) {
        const struct dbp_ynode *kn = map->items[i], *vn = map->items[i + 1];
        char path[128];
        if (kn->type != DBP_Y_SCALAR)
            return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: keys must be scalars", name, kn->line,
                               kn->col);
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
                             kn->value) >= sizeof(path))
            return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: key too long", name, kn->line, kn->col);
        snprintf(where, sizeof(where), "%s:%d:%d", name, vn->line, vn->col);
        const struct key *k = key_find(path);
        if (!k) {
            if (vn->type == DBP_Y_MAP && key_is_section(path)) {
                int rc = walk_map(cfg, name, vn, path, err);
                if (rc)
                    return rc;
                continue;
            }
            return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: unknown key '%s'", name, kn->line,
                               kn->col, path);
        }
        if (k->type == K_NODES) {
            int rc = parse_nodes(cfg, name, vn, err);
            if (rc)
                return rc;
            continue;
        }
        if (k->type == K_STRLIST) {
            if (vn->type == DBP_Y_SCALAR) {
                int rc = set_scalar(cfg, k, vn->value, where, err);
                if (rc)
                    return rc;
                continue;
            }
            if (vn->type != DBP_Y_SEQ)
                return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be a list", where, path);
            cfg->ncors = 0;
            for (size_t j = 0; j < vn->nitems; j++) {
                const struct dbp_ynode *it = vn->items[j];
                if (it->type != DBP_Y_SCALAR || strlen(it->value) >= DBP_HOST_MAX ||
                    cfg->ncors >= DBP_MAX_CORS)
                    return dbp_err_set(err, DBP_EINVAL,
                                       "%s:%d:%d: '%s' entries must be short strings (at most %d)",
                                       name, it->line, it->col, path, DBP_MAX_CORS);
                dbp_strlcpy(cfg->cors[cfg->ncors++], it->value, DBP_HOST_MAX);
            }
            continue;
        }
        if (vn->type != DBP_Y_SCALAR)
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' must be a scalar", where, path);
        int rc = set_scalar(cfg, k, vn->value, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

void dbp_config_defaults(struct dbp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++) {
        const struct key *k = &keytab[i];
        if (k->type == K_NODES || (k->type == K_STRLIST && !*k->def))
            continue;
        /* Defaults are compiled in and known to be valid. */
        (void)set_scalar(cfg, k, k->def, "default", NULL);
    }
}

int dbp_config_parse(const char *name, const char *text, size_t len, struct dbp_config *cfg,
                     struct dbp_err *err)
{
    struct dbp_ynode *root = NULL;
    int rc = dbp_ydom_parse(name, (const unsigned char *)text, len, &root, err);
    if (rc)
        return rc;
    if (root && !(root->type == DBP_Y_SCALAR && !*root->value))
        rc = walk_map(cfg, name, root, "", err);
    dbp_ynode_free(root);
    return rc;
}

static int resolve_path(const struct dbp_config *cfg, char *p, size_t size)
{
    char tmp[DBP_PATH_MAX * 2];
    if (!*p || p[0] == '/' || !*cfg->base_dir)
        return 0;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cfg->base_dir, p) >= size)
        return DBP_ETOOBIG;
    dbp_strlcpy(p, tmp, size);
    return 0;
}

static int read_secret(const char *path, char *out, size_t outsz, struct dbp_err *err)
{
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    /* A secret other users can read is not a secret: refuse it, as ssh does
     * with a private key (the README promises mode 0600). */
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        return dbp_err_set(err, DBP_EINVAL,
                           "secret file '%s' has mode %04o: it must not be readable by group or "
                           "others (chmod 600)",
                           path, (unsigned)(st.st_mode & 07777));
    int rc = dbp_read_file(path, outsz - 1, &data, &len);
    if (rc)
        return dbp_err_set(err, DBP_EINVAL, "cannot read secret file '%s': %s", path,
                           dbp_strerror(rc));
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    dbp_strlcpy(out, data, outsz);
    free(data);
    return 0;
}

static void env_name(const char *path, char *out, size_t outsz)
{
    size_t o = (size_t)snprintf(out, outsz, "DBPECKER_");
    for (const char *p = path; *p && o + 1 < outsz; p++)
        out[o++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[o] = '\0';
}

int dbp_config_finish(struct dbp_config *cfg, struct dbp_err *err)
{
    char where[160];
    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++) {
        const struct key *k = &keytab[i];
        char en[96];
        const char *v = NULL;
        if (k->type == K_NODES)
            continue;
        env_name(k->path, en, sizeof(en));
        if (k->env && getenv(k->env))
            v = getenv(k->env), dbp_strlcpy(en, k->env, sizeof(en));
        if (getenv(en))
            v = getenv(en);
        if (!v)
            continue;
        snprintf(where, sizeof(where), "environment %s", en);
        int rc = set_scalar(cfg, k, v, where, err);
        if (rc)
            return rc;
    }
    /* DBPECKER_TOKEN is the short name everybody expects. */
    if (getenv("DBPECKER_TOKEN")) {
        if (strlen(getenv("DBPECKER_TOKEN")) >= sizeof(cfg->token))
            return dbp_err_set(err, DBP_EINVAL, "DBPECKER_TOKEN is too long");
        dbp_strlcpy(cfg->token, getenv("DBPECKER_TOKEN"), sizeof(cfg->token));
    }

    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++)
        if (keytab[i].type == K_PATH) {
            char *p = (char *)cfg + keytab[i].off;
            if (resolve_path(cfg, p, keytab[i].size))
                return dbp_err_set(err, DBP_EINVAL, "'%s' is too long once resolved",
                                   keytab[i].path);
        }

    if (*cfg->token_file) {
        int rc = read_secret(cfg->token_file, cfg->token, sizeof(cfg->token), err);
        if (rc)
            return rc;
    }
    if (*cfg->db_password_file) {
        int rc = read_secret(cfg->db_password_file, cfg->db_password, sizeof(cfg->db_password),
                             err);
        if (rc)
            return rc;
    }
    if (*cfg->nodes_file) {
        char *text = NULL;
        size_t len = 0;
        int rc = dbp_read_file(cfg->nodes_file, 1 << 20, &text, &len);
        if (rc)
            return dbp_err_set(err, DBP_EINVAL, "cannot read database.nodes_file '%s': %s",
                               cfg->nodes_file, dbp_strerror(rc));
        struct dbp_ynode *root = NULL;
        rc = dbp_ydom_parse(cfg->nodes_file, (const unsigned char *)text, len, &root, err);
        free(text);
        if (rc)
            return rc;
        if (!root)
            return dbp_err_set(err, DBP_EINVAL, "%s: empty node list", cfg->nodes_file);
        rc = parse_nodes(cfg, cfg->nodes_file, root, err);
        dbp_ynode_free(root);
        if (rc)
            return rc;
    }
    for (int i = 0; i < cfg->nnodes; i++) {
        if (!*cfg->nodes[i].host)
            dbp_strlcpy(cfg->nodes[i].host, cfg->db_host, sizeof(cfg->nodes[i].host));
        if (!cfg->nodes[i].port)
            cfg->nodes[i].port = cfg->db_port;
    }
    if (cfg->min_history > cfg->window)
        return dbp_err_set(err, DBP_EINVAL, "collector.min_history (%d) exceeds collector.window (%d)",
                           cfg->min_history, cfg->window);
    if (cfg->window > cfg->history_points)
        return dbp_err_set(err, DBP_EINVAL,
                           "collector.window (%d) exceeds collector.history_points (%d)",
                           cfg->window, cfg->history_points);
    if (*cfg->prom_url && strncmp(cfg->prom_url, "http://", 7) != 0 &&
        strncmp(cfg->prom_url, "https://", 8) != 0)
        return dbp_err_set(err, DBP_EINVAL, "prometheus.url must start with http:// or https://");
    for (int i = 0; i < cfg->ncors; i++)
        if (strcmp(cfg->cors[i], "*") != 0 && strncmp(cfg->cors[i], "http://", 7) != 0 &&
            strncmp(cfg->cors[i], "https://", 8) != 0)
            return dbp_err_set(err, DBP_EINVAL,
                               "server.cors_origins entry '%s' must be \"*\" or an http(s) origin",
                               cfg->cors[i]);
    if (!dbp_config_is_loopback(cfg) && !*cfg->token)
        return dbp_err_set(err, DBP_EINVAL,
                           "server.listen is '%s' (not loopback): a bearer token is mandatory "
                           "(server.token, server.token_file or DBPECKER_TOKEN)",
                           cfg->listen);
    return 0;
}

bool dbp_config_is_loopback(const struct dbp_config *cfg)
{
    return strncmp(cfg->listen, "127.", 4) == 0 || strcmp(cfg->listen, "::1") == 0 ||
           strcmp(cfg->listen, "localhost") == 0;
}

/* ---- snapshots ---------------------------------------------------------- */

struct holder {
    atomic_int refs;
    struct dbp_config cfg;
};

static struct holder *holder_of(struct dbp_config *cfg)
{
    return (struct holder *)(void *)((char *)cfg - offsetof(struct holder, cfg));
}

int dbp_config_load(const char *path, struct dbp_config **out, struct dbp_err *err)
{
    struct holder *h = dbp_xcalloc(1, sizeof(*h));
    struct dbp_config *cfg = &h->cfg;
    int rc = 0;

    atomic_init(&h->refs, 1);
    dbp_config_defaults(cfg);
    if (path) {
        char *text = NULL;
        size_t len = 0;
        rc = dbp_read_file(path, 4 << 20, &text, &len);
        if (rc) {
            rc = dbp_err_set(err, DBP_EINVAL, "cannot read config '%s': %s", path,
                             dbp_strerror(rc));
            goto out;
        }
        dbp_strlcpy(cfg->path, path, sizeof(cfg->path));
        char *real = realpath(path, NULL);
        if (real) {
            char *slash = strrchr(real, '/');
            if (slash)
                *slash = '\0';
            dbp_strlcpy(cfg->base_dir, *real ? real : "/", sizeof(cfg->base_dir));
            free(real);
        }
        rc = dbp_config_parse(path, text, len, cfg, err);
        free(text);
        if (rc)
            goto out;
    }
    rc = dbp_config_finish(cfg, err);
out:
    if (rc) {
        free(h);
        return rc;
    }
    *out = cfg;
    return 0;
}

struct dbp_config *dbp_config_ref(struct dbp_config *cfg)
{
    if (cfg)
        atomic_fetch_add(&holder_of(cfg)->refs, 1);
    return cfg;
}

void dbp_config_unref(struct dbp_config *cfg)
{
    if (cfg && atomic_fetch_sub(&holder_of(cfg)->refs, 1) == 1) {
        /* Wipe secrets before the memory goes back to malloc. */
        explicit_bzero(cfg->token, sizeof(cfg->token));
        explicit_bzero(cfg->db_password, sizeof(cfg->db_password));
        free(holder_of(cfg));
    }
}

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dbp_config *current;

struct dbp_config *dbp_config_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    struct dbp_config *c = dbp_config_ref(current);
    pthread_mutex_unlock(&current_lock);
    return c;
}

void dbp_config_publish(struct dbp_config *cfg)
{
    pthread_mutex_lock(&current_lock);
    struct dbp_config *old = current;
    current = cfg;
    pthread_mutex_unlock(&current_lock);
    dbp_config_unref(old);
}

void dbp_config_dump_keys(void)
{
    for (size_t i = 0; i < DBP_ARRAY_SIZE(keytab); i++) {
        char en[96];
        env_name(keytab[i].path, en, sizeof(en));
        printf("%-32s default=%-12s env=%s%s%s  %s\n", keytab[i].path,
               keytab[i].type == K_SECRET ? "(secret)" : keytab[i].def, en,
               keytab[i].env ? "," : "", keytab[i].env ? keytab[i].env : "", keytab[i].help);
    }
}

const struct dbp_node_cfg *dbp_config_node(const struct dbp_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nnodes; i++)
        if (strcmp(cfg->nodes[i].name, name) == 0)
            return &cfg->nodes[i];
    return NULL;
}

const char *dbp_config_key_path(size_t i)
{
    return i < DBP_ARRAY_SIZE(keytab) ? keytab[i].path : NULL;
}
