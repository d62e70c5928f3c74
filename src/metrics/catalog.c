/*
 * catalog.c - load a metric catalog from YAML into immutable structs.
 */
#define _GNU_SOURCE
#include "dbp/catalog.h"
#include "dbp/util.h"
#include "dbp/ydom.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dbp/banned.h" /* last: poisons what no file may use */


static int bad(struct dbp_err *err, const char *file, const struct dbp_ynode *n, const char *what)
{
    return dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: %s", file, n ? n->line : 0, n ? n->col : 0,
                       what);
}

static int scalar(const char *file, const struct dbp_ynode *map, const char *key, bool required,
                  char **out, struct dbp_err *err)
{
    const struct dbp_ynode *v = dbp_ymap_get(map, key);
    char msg[128];
    if (!v) {
        if (!required)
            return 0;
        snprintf(msg, sizeof(msg), "missing key '%s'", key);
        return bad(err, file, map, msg);
    }
    if (v->type != DBP_Y_SCALAR) {
        snprintf(msg, sizeof(msg), "'%s' must be a scalar", key);
        return bad(err, file, v, msg);
    }
    *out = dbp_xstrdup(v->value);
    return 0;
}

static int column(const char *file, const struct dbp_ynode *cols, const char *key, int *out,
                  struct dbp_err *err)
{
    const struct dbp_ynode *v = dbp_ymap_get(cols, key);
    int64_t x;
    *out = -1;
    if (!v)
        return 0;
    if (v->type != DBP_Y_SCALAR || dbp_parse_i64(v->value, 0, 63, &x))
        return bad(err, file, v, "column index must be 0..63");
    *out = (int)x;
    return 0;
}

static int check_keys(const char *file, const struct dbp_ynode *map, const char *const *allowed,
                      struct dbp_err *err)
{
    for (size_t i = 0; i + 1 < map->nitems; i += 2) {
        const struct dbp_ynode *k = map->items[i];
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = k->type == DBP_Y_SCALAR && strcmp(k->value, *a) == 0;
        if (!ok) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown key '%s'", k->type == DBP_Y_SCALAR ? k->value : "?");
            return bad(err, file, k, msg);
        }
    }
    return 0;
}

static int parse_query(const char *file, const struct dbp_ynode *m, struct dbp_cat_query *q,
                       struct dbp_err *err)
{
    static const char *const keys[] = {"id", "scope", "sql", "columns", "kind_values", "keep",
                                       "description", NULL};
    char *scope = NULL, *keep = NULL;
    int rc;
    if (m->type != DBP_Y_MAP)
        return bad(err, file, m, "a query must be a mapping");
    if ((rc = check_keys(file, m, keys, err)))
        return rc;
    if ((rc = scalar(file, m, "id", true, &q->id, err)) ||
        (rc = scalar(file, m, "sql", true, &q->sql, err)) ||
        (rc = scalar(file, m, "scope", false, &scope, err)) ||
        (rc = scalar(file, m, "keep", false, &keep, err)))
        goto out;
    q->scope = DBP_SCOPE_NODE;
    if (scope && strcmp(scope, "cluster") == 0)
        q->scope = DBP_SCOPE_CLUSTER;
    else if (scope && strcmp(scope, "node") != 0) {
        rc = bad(err, file, dbp_ymap_get(m, "scope"), "scope must be node or cluster");
        goto out;
    }
    q->keep_all = keep && strcmp(keep, "all") == 0;
    if (keep && !q->keep_all && strcmp(keep, "listed") != 0) {
        rc = bad(err, file, dbp_ymap_get(m, "keep"), "keep must be listed or all");
        goto out;
    }
    const struct dbp_ynode *cols = dbp_ymap_get(m, "columns");
    if (!cols || cols->type != DBP_Y_MAP) {
        rc = bad(err, file, cols ? cols : m, "'columns' mapping required");
        goto out;
    }
    if ((rc = column(file, cols, "tenant", &q->col_tenant, err)) ||
        (rc = column(file, cols, "node_host", &q->col_host, err)) ||
        (rc = column(file, cols, "node_port", &q->col_port, err)) ||
        (rc = column(file, cols, "metric", &q->col_metric, err)) ||
        (rc = column(file, cols, "value", &q->col_value, err)) ||
        (rc = column(file, cols, "kind", &q->col_kind, err)))
        goto out;
    if (q->col_metric < 0 || q->col_value < 0) {
        rc = bad(err, file, cols, "columns 'metric' and 'value' are required");
        goto out;
    }
    if (q->scope == DBP_SCOPE_CLUSTER && q->col_host < 0) {
        rc = bad(err, file, cols, "a cluster-scope query needs a 'node_host' column");
        goto out;
    }
    const struct dbp_ynode *kv = dbp_ymap_get(m, "kind_values");
    if (kv) {
        if (kv->type != DBP_Y_MAP) {
            rc = bad(err, file, kv, "kind_values must be a mapping");
            goto out;
        }
        if ((rc = scalar(file, kv, "counter", false, &q->kind_counter, err)) ||
            (rc = scalar(file, kv, "gauge", false, &q->kind_gauge, err)))
            goto out;
    }
out:
    free(scope);
    free(keep);
    return rc;
}

static bool valid_category(const char *c)
{
    if (!*c || strlen(c) > 31)
        return false;
    for (const char *p = c; *p; p++)
        if (!islower((unsigned char)*p) && *p != '_' && !isdigit((unsigned char)*p))
            return false;
    return true;
}

static int parse_metric(const char *file, const struct dbp_ynode *m, struct dbp_cat_metric *mt,
                        bool host, struct dbp_err *err)
{
    static const char *const keys[] = {"name",          "category", "kind",      "unit",
                                       "stat_id",       "help",     "source",    "note",
                                       "kind_override", "optional", "value_map", "value_type",
                                       "original",      NULL};
    char *kind = NULL, *sid = NULL, *source = NULL, *ovr = NULL, *opt = NULL;
    int rc;
    if (m->type != DBP_Y_MAP)
        return bad(err, file, m, "a metric must be a mapping");
    if ((rc = check_keys(file, m, keys, err)))
        return rc;
    if ((rc = scalar(file, m, "name", true, &mt->name, err)) ||
        (rc = scalar(file, m, "category", true, &mt->category, err)) ||
        (rc = scalar(file, m, "kind", true, &kind, err)) ||
        (rc = scalar(file, m, "unit", false, &mt->unit, err)) ||
        (rc = scalar(file, m, "help", false, &mt->help, err)) ||
        (rc = scalar(file, m, "stat_id", false, &sid, err)) ||
        (rc = scalar(file, m, "source", host, &source, err)) ||
        (rc = scalar(file, m, "kind_override", false, &ovr, err)) ||
        (rc = scalar(file, m, "optional", false, &opt, err)))
        goto out;
    mt->kind_override = ovr && strcmp(ovr, "true") == 0;
    mt->optional = opt && strcmp(opt, "true") == 0;
    const struct dbp_ynode *vm = dbp_ymap_get(m, "value_map");
    if (vm) {
        if (vm->type != DBP_Y_MAP) {
            rc = bad(err, file, vm, "value_map must be a mapping of text to numbers");
            goto out;
        }
        size_t nm = vm->nitems / 2;
        mt->map_keys = dbp_xcalloc(nm ? nm : 1, sizeof(char *));
        mt->map_vals = dbp_xcalloc(nm ? nm : 1, sizeof(double));
        for (size_t i = 0; i < nm; i++) {
            const struct dbp_ynode *k = vm->items[2 * i], *v = vm->items[2 * i + 1];
            if (k->type != DBP_Y_SCALAR || v->type != DBP_Y_SCALAR ||
                dbp_parse_double(v->value, &mt->map_vals[mt->nmap])) {
                rc = bad(err, file, v, "value_map values must be numbers");
                goto out;
            }
            mt->map_keys[mt->nmap++] = dbp_xstrdup(k->value);
        }
    }
    if (!mt->unit)
        mt->unit = dbp_xstrdup("");
    if (!mt->help)
        mt->help = dbp_xstrdup("");
    if (!*mt->name || strlen(mt->name) > 127) {
        rc = bad(err, file, m, "metric name must be 1..127 characters");
        goto out;
    }
    if (!valid_category(mt->category)) {
        rc = bad(err, file, dbp_ymap_get(m, "category"), "category must be lower-case [a-z0-9_]");
        goto out;
    }
    if (strcmp(kind, "counter") == 0)
        mt->kind = DBP_METRIC_COUNTER;
    else if (strcmp(kind, "gauge") == 0)
        mt->kind = DBP_METRIC_GAUGE;
    else {
        rc = bad(err, file, dbp_ymap_get(m, "kind"), "kind must be counter or gauge");
        goto out;
    }
    if (sid) {
        int64_t x;
        if (dbp_parse_i64(sid, 0, 100000000, &x)) {
            rc = bad(err, file, dbp_ymap_get(m, "stat_id"), "stat_id must be a number");
            goto out;
        }
        mt->stat_id = (long)x;
    }
    mt->host = host;
    if (host) {
        static const struct {
            const char *name;
            enum dbp_host_source s;
        } src[] = {{"proc_stat_cpu", DBP_HOST_PROC_CPU},
                   {"proc_io_read", DBP_HOST_PROC_IO_READ},
                   {"proc_io_write", DBP_HOST_PROC_IO_WRITE},
                   {"proc_rss", DBP_HOST_PROC_RSS},
                   {"cgroup_cpu_throttled", DBP_HOST_CG_THROTTLED}};
        size_t i;
        for (i = 0; i < DBP_ARRAY_SIZE(src); i++)
            if (strcmp(src[i].name, source) == 0)
                break;
        if (i == DBP_ARRAY_SIZE(src)) {
            rc = bad(err, file, dbp_ymap_get(m, "source"), "unknown host source");
            goto out;
        }
        mt->source = src[i].s;
    }
out:
    free(kind);
    free(sid);
    free(source);
    free(ovr);
    free(opt);
    return rc;
}

static int cmp_metric(const void *a, const void *b)
{
    const struct dbp_cat_metric *x = *(struct dbp_cat_metric *const *)a;
    const struct dbp_cat_metric *y = *(struct dbp_cat_metric *const *)b;
    return strcasecmp(x->name, y->name);
}

/* tenants / discovery: {sql, columns: {name: index...}}; cols[i] gets the
 * index of colnames[i] (default defaults[i]). */
static int parse_sql_block(const char *file, const struct dbp_ynode *root, const char *key,
                           char **out, const char *const *colnames, int **cols,
                           const int *defaults, struct dbp_err *err)
{
    static const char *const keys[] = {"sql", "columns", "description", NULL};
    const struct dbp_ynode *b = dbp_ymap_get(root, key);
    for (int i = 0; colnames[i]; i++)
        *cols[i] = defaults[i];
    if (!b)
        return 0;
    if (b->type != DBP_Y_MAP)
        return bad(err, file, b, "must be a mapping with 'sql'");
    int rc = check_keys(file, b, keys, err);
    if (rc)
        return rc;
    const struct dbp_ynode *cm = dbp_ymap_get(b, "columns");
    if (cm) {
        if (cm->type != DBP_Y_MAP)
            return bad(err, file, cm, "'columns' must be a mapping");
        for (size_t i = 0; i + 1 < cm->nitems; i += 2) {
            const struct dbp_ynode *k = cm->items[i];
            int j;
            for (j = 0; colnames[j]; j++)
                if (k->type == DBP_Y_SCALAR && strcmp(k->value, colnames[j]) == 0)
                    break;
            if (!colnames[j])
                return bad(err, file, k, "unknown column name");
            if ((rc = column(file, cm, colnames[j], cols[j], err)))
                return rc;
        }
    }
    return scalar(file, b, "sql", true, out, err);
}

/* aliases: [{name: "cpu usage", metric: "process cpu seconds"}, ...]; the
 * target must be a metric of this catalog, the alias must not be one. */
static int parse_aliases(const char *file, struct dbp_catalog *c, const struct dbp_ynode *as,
                         struct dbp_err *err)
{
    static const char *const keys[] = {"name", "metric", NULL};
    if (!as)
        return 0;
    if (as->type != DBP_Y_SEQ)
        return bad(err, file, as, "'aliases' must be a list");
    c->aliases = dbp_xcalloc(as->nitems ? as->nitems : 1, sizeof(*c->aliases));
    for (size_t i = 0; i < as->nitems; i++) {
        const struct dbp_ynode *a = as->items[i];
        char *name = NULL, *target = NULL;
        int rc;
        if (a->type != DBP_Y_MAP)
            return bad(err, file, a, "an alias must be a mapping {name, metric}");
        if ((rc = check_keys(file, a, keys, err)) ||
            (rc = scalar(file, a, "name", true, &name, err)) ||
            (rc = scalar(file, a, "metric", true, &target, err))) {
            free(name);
            free(target);
            return rc;
        }
        const struct dbp_cat_metric *m = dbp_catalog_find(c, target);
        free(target);
        if (!m || dbp_catalog_find(c, name) || dbp_catalog_resolve(c, name)) {
            free(name);
            return bad(err, file, a, m ? "alias names a metric of the catalog or is declared twice"
                                       : "alias target is not a metric of this catalog");
        }
        c->aliases[c->naliases].name = name;
        c->aliases[c->naliases++].metric = m;
    }
    return 0;
}

int dbp_catalog_parse(const char *file, const char *text, size_t len, struct dbp_catalog **out,
                      struct dbp_err *err)
{
    static const char *const keys[] = {"name",    "description", "match_version", "tenants",
                                       "discovery", "queries",   "metrics",       "host",
                                       "aliases",   "notes",     NULL};
    struct dbp_ynode *root = NULL;
    struct dbp_catalog *c = dbp_xcalloc(1, sizeof(*c));
    int rc = dbp_ydom_parse(file, (const unsigned char *)text, len, &root, err);
    if (rc)
        goto out;
    if (!root || root->type != DBP_Y_MAP) {
        rc = bad(err, file, root, "a catalog must be a mapping");
        goto out;
    }
    if ((rc = check_keys(file, root, keys, err)) ||
        (rc = scalar(file, root, "name", true, &c->name, err)) ||
        (rc = scalar(file, root, "description", false, &c->description, err)) ||
        (rc = scalar(file, root, "match_version", false, &c->match_version, err)) ||
        (rc = parse_sql_block(file, root, "tenants", &c->tenants_sql,
                              (const char *const[]){"id", "name", NULL},
                              (int *[]){&c->tcol_id, &c->tcol_name}, (const int[]){0, 1}, err)) ||
        (rc = parse_sql_block(file, root, "discovery", &c->discovery_sql,
                              (const char *const[]){"host", "port", "rpc_port", "zone", "status",
                                                    NULL},
                              (int *[]){&c->dcol_host, &c->dcol_port, &c->dcol_rpc_port,
                                        &c->dcol_zone, &c->dcol_status},
                              (const int[]){0, 1, -1, -1, -1}, err)))
        goto out;

    const struct dbp_ynode *qs = dbp_ymap_get(root, "queries");
    if (!qs || qs->type != DBP_Y_SEQ || qs->nitems == 0) {
        rc = bad(err, file, qs ? qs : root, "'queries' must be a non-empty list");
        goto out;
    }
    c->queries = dbp_xcalloc(qs->nitems, sizeof(*c->queries));
    c->qcap = qs->nitems;
    for (size_t i = 0; i < qs->nitems; i++) {
        if ((rc = parse_query(file, qs->items[i], &c->queries[i], err)))
            goto out;
        c->nqueries++;
    }

    const struct dbp_ynode *ms = dbp_ymap_get(root, "metrics");
    const struct dbp_ynode *hs = dbp_ymap_get(root, "host");
    if (!ms || ms->type != DBP_Y_SEQ) {
        rc = bad(err, file, ms ? ms : root, "'metrics' must be a list");
        goto out;
    }
    if (hs && hs->type != DBP_Y_SEQ) {
        rc = bad(err, file, hs, "'host' must be a list");
        goto out;
    }
    size_t total = ms->nitems + (hs ? hs->nitems : 0);
    c->metrics = dbp_xcalloc(total ? total : 1, sizeof(*c->metrics));
    c->mcap = total;
    for (size_t i = 0; i < total; i++) {
        bool host = i >= ms->nitems;
        const struct dbp_ynode *m = host ? hs->items[i - ms->nitems] : ms->items[i];
        struct dbp_cat_metric *mt = &c->metrics[c->nmetrics];
        if ((rc = parse_metric(file, m, mt, host, err)))
            goto out;
        mt->index = (int)c->nmetrics;
        c->nmetrics++;
    }
    c->sorted = dbp_xcalloc(c->nmetrics ? c->nmetrics : 1, sizeof(*c->sorted));
    for (size_t i = 0; i < c->nmetrics; i++)
        c->sorted[i] = &c->metrics[i];
    qsort(c->sorted, c->nmetrics, sizeof(*c->sorted), cmp_metric);
    for (size_t i = 1; i < c->nmetrics; i++)
        if (strcasecmp(c->sorted[i - 1]->name, c->sorted[i]->name) == 0) {
            rc = dbp_err_set(err, DBP_EINVAL, "%s: metric '%s' is declared twice", file,
                             c->sorted[i]->name);
            goto out;
        }
    if ((rc = parse_aliases(file, c, dbp_ymap_get(root, "aliases"), err)))
        goto out;
out:
    dbp_ynode_free(root);
    if (rc) {
        dbp_catalog_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int dbp_catalog_load(const char *dir, const char *name, struct dbp_catalog **out,
                     struct dbp_err *err)
{
    char path[1024];
    char *text = NULL;
    size_t len = 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return dbp_err_set(err, DBP_EINVAL, "bad catalog name '%s'", name);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.yaml", dir, name) >= sizeof(path))
        return dbp_err_set(err, DBP_EINVAL, "catalog path too long");
    int rc = dbp_read_file(path, 4 << 20, &text, &len);
    if (rc)
        return dbp_err_set(err, DBP_EINVAL, "cannot read catalog '%s': %s", path,
                           dbp_strerror(rc));
    rc = dbp_catalog_parse(path, text, len, out, err);
    free(text);
    if (!rc && strcmp((*out)->name, name) != 0) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s: name '%s' does not match the file name", path,
                         (*out)->name);
        dbp_catalog_free(*out);
        *out = NULL;
    }
    return rc;
}

const struct dbp_cat_metric *dbp_catalog_resolve(const struct dbp_catalog *c, const char *name)
{
    const struct dbp_cat_metric *m = dbp_catalog_find(c, name);
    for (size_t i = 0; !m && name && i < c->naliases; i++)
        if (strcasecmp(c->aliases[i].name, name) == 0)
            m = c->aliases[i].metric;
    return m;
}

void dbp_catalog_free(struct dbp_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->naliases; i++)
        free(c->aliases[i].name);
    free(c->aliases);
    for (size_t i = 0; i < c->qcap; i++) {
        struct dbp_cat_query *q = &c->queries[i];
        free(q->id);
        free(q->sql);
        free(q->kind_counter);
        free(q->kind_gauge);
    }
    for (size_t i = 0; i < c->mcap; i++) {
        struct dbp_cat_metric *m = &c->metrics[i];
        free(m->name);
        free(m->category);
        free(m->unit);
        free(m->help);
        for (size_t k = 0; k < m->nmap; k++)
            free(m->map_keys[k]);
        free(m->map_keys);
        free(m->map_vals);
    }
    free(c->queries);
    free(c->metrics);
    free(c->sorted);
    free(c->name);
    free(c->description);
    free(c->match_version);
    free(c->tenants_sql);
    free(c->discovery_sql);
    free(c);
}

const struct dbp_cat_metric *dbp_catalog_find(const struct dbp_catalog *c, const char *name)
{
    char key[160];
    while (*name == ' ' || *name == '\t')
        name++;
    size_t n = dbp_strlcpy(key, name, sizeof(key));
    if (n >= sizeof(key))
        return NULL;
    while (n && (key[n - 1] == ' ' || key[n - 1] == '\t'))
        key[--n] = '\0';
    size_t lo = 0, hi = c->nmetrics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcasecmp(key, c->sorted[mid]->name);
        if (r == 0)
            return c->sorted[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t dbp_catalog_ncategories(const struct dbp_catalog *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nmetrics; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->metrics[i].category, c->metrics[j].category) == 0;
        if (!seen)
            n++;
    }
    return n;
}

const char *dbp_catalog_category(const struct dbp_catalog *c, size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nmetrics; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->metrics[i].category, c->metrics[j].category) == 0;
        if (!seen && n++ == k)
            return c->metrics[i].category;
    }
    return NULL;
}

bool dbp_catalog_map_value(const struct dbp_cat_metric *m, const char *text, double *out)
{
    for (size_t i = 0; i < m->nmap; i++)
        if (strcasecmp(m->map_keys[i], text) == 0) {
            *out = m->map_vals[i];
            return true;
        }
    return false;
}
