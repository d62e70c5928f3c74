/*
 * metrics_api.c - the /api/metrics routes: the original's paths and shapes
 * (reference §2.3) without its 30-second memo: reads reflect the last
 * completed cycle.  Plus nodes, catalog and history.
 */
#define _GNU_SOURCE
#include "dbp/app.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/prom.h"
#include "dbp/util.h"
#include "api_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static int need(struct dbp_req *req, struct dbp_collector **out)
{
    *out = req->app->collector;
    if (!*out)
        return dbp_err_set(&req->err, DBP_EUNAVAIL,
                           "the metrics collector is not running (no database nodes configured)");
    return 0;
}

static int h_latest(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"tenant", NULL};
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    dbp_resp_json(resp, 200, dbp_collector_latest_json(c, dbp_req_query(req, "tenant"), NULL, NULL));
    return 0;
}

static int h_fluct(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"tenant", NULL};
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    int fl = 0, tot = 0;
    cJSON *o = dbp_collector_latest_json(c, dbp_req_query(req, "tenant"), &fl, &tot);
    cJSON *s = cJSON_AddObjectToObject(o, "summary");
    cJSON_AddNumberToObject(s, "total_metrics", tot);
    cJSON_AddNumberToObject(s, "fluctuating_metrics", fl);
    cJSON_AddBoolToObject(s, "has_fluctuations", fl > 0);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static const char *node_param(struct dbp_req *req)
{
    const char *n = dbp_req_query(req, "node_ip");
    return n ? n : dbp_req_query(req, "node");
}

static int h_detailed(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"node_ip", "node", "category", "tenant", NULL};
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    const char *node = node_param(req), *cat = dbp_req_query(req, "category");
    if (!node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'node_ip' is required");
    if (!cat)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'category' is required");
    cJSON *o = NULL;
    rc = dbp_collector_detailed_json(c, node, dbp_req_query(req, "tenant"), cat, NULL, &o,
                                     &req->err);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, o);
    dbp_resp_header(resp, "Deprecation", "true");
    return 0;
}

static int h_selected(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"node_ip", "node", "metrics", "tenant", NULL};
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    const char *node = node_param(req), *ms = dbp_req_query(req, "metrics");
    if (!node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'node_ip' is required");
    if (!ms)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'metrics' is required");
    const char *end = NULL;
    cJSON *sel = cJSON_ParseWithLengthOpts(ms, strlen(ms) + 1, &end, 1);
    if (!sel)
        return dbp_err_set(&req->err, DBP_EINVAL, "Invalid JSON in metrics parameter");
    if (!cJSON_IsObject(sel)) {
        cJSON_Delete(sel);
        return dbp_err_set(&req->err, DBP_EINVAL, "metrics parameter must be a JSON object");
    }
    cJSON *o = NULL;
    rc = dbp_collector_detailed_json(c, node, dbp_req_query(req, "tenant"), NULL, sel, &o,
                                     &req->err);
    cJSON_Delete(sel);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_start(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    bool was = dbp_collector_set_collecting(c, true);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "started");
    cJSON_AddBoolToObject(o, "was_running", was);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_stop(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    bool was = dbp_collector_set_collecting(c, false);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "stopped");
    cJSON_AddBoolToObject(o, "was_running", was);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_nodes(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "collecting", dbp_collector_collecting(c));
    cJSON_AddItemToObject(o, "nodes", dbp_collector_nodes_json(c));
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_catalog(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_collector_catalog_json(c));
    return 0;
}

static int time_param(struct dbp_req *req, const char *name, double def, double *out)
{
    const char *v = dbp_req_query(req, name);
    if (!v) {
        *out = def;
        return 0;
    }
    if (dbp_parse_time(v, out))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "query parameter '%s' must be ISO-8601 or unix seconds", name);
    return 0;
}

/*
 * History: from the ring when it covers the range start, else from
 * Prometheus (which scrapes dbpecker_metric_value), falling back to the
 * ring with "partial": true when Prometheus is not configured.
 */
static int h_history(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"node", "node_ip", "metric", "tenant", "start", "end", "step",
                                    "source", NULL};
    struct dbp_collector *c;
    int rc = need(req, &c);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    const char *node = node_param(req), *metric = dbp_req_query(req, "metric");
    const char *tenant = dbp_req_query(req, "tenant"), *source = dbp_req_query(req, "source");
    if (!node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'node' is required");
    if (!metric)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'metric' is required");
    if (source && strcmp(source, "ring") && strcmp(source, "prometheus") && strcmp(source, "auto"))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "'source' must be ring, prometheus or auto");
    double now = dbp_wall_s(), start, end, step = 0;
    if ((rc = time_param(req, "end", now, &end)) || (rc = time_param(req, "start", end - 3600, &start)))
        return rc;
    const char *st = dbp_req_query(req, "step");
    if (st && (dbp_parse_double(st, &step) || step <= 0 || step > 86400))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "'step' must be seconds in (0, 86400]");
    if (start > end)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "'start' is after 'end'");

    double *ts = NULL, *vals = NULL, oldest;
    size_t n = 0;
    rc = dbp_collector_history(c, node, tenant, metric, start, end, &ts, &vals, &n, &oldest,
                               &req->err);
    if (rc)
        return rc;
    struct dbp_config *cfg = dbp_app_config(req->app);
    bool want_prom = source ? strcmp(source, "prometheus") == 0
                            : (start < oldest && cfg && cfg->prom_url[0]);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", node);
    cJSON_AddStringToObject(o, "metric", metric);
    cJSON_AddStringToObject(o, "tenant", tenant ? tenant : "default");
    cJSON *pts = NULL;
    if (want_prom) {
        struct dbp_buf pq;
        dbp_buf_init(&pq, 4096);
        char nodename[64] = "";
        int idx = dbp_collector_node_index(c, node);
        char (*names)[64] = dbp_xcalloc(DBP_MAX_NODES, 64);
        int nn = dbp_collector_node_names(c, names, DBP_MAX_NODES);
        if (idx >= 0 && idx < nn)
            dbp_strlcpy(nodename, names[idx], sizeof(nodename));
        free(names);
        const struct dbp_cat_metric *cm = dbp_catalog_find(dbp_collector_catalog(c), metric);
        int prc = dbp_buf_puts(&pq, "dbpecker_metric_value{node=");
        prc |= dbp_promql_string(&pq, nodename);
        prc |= dbp_buf_puts(&pq, ",metric=");
        prc |= dbp_promql_string(&pq, cm ? cm->name : metric);
        prc |= dbp_buf_puts(&pq, ",tenant=");
        prc |= dbp_promql_string(&pq, tenant && *tenant ? tenant : "default");
        prc |= dbp_buf_puts(&pq, "}");
        struct dbp_prom_series *ser = NULL;
        size_t nser = 0;
        double pstep = step > 0 ? step : fmax(1.0, ceil((end - start) / 1000.0));
        if (prc)
            rc = dbp_err_set(&req->err, DBP_ETOOBIG, "query too long");
        else
            rc = dbp_prom_query_range(cfg ? cfg->prom_url : "", pq.data, start, end, pstep,
                                      cfg ? cfg->prom_timeout_ms : 5000, &ser, &nser, &req->err);
        dbp_buf_release(&pq);
        if (rc) {
            cJSON_Delete(o);
            free(ts);
            free(vals);
            dbp_config_unref(cfg);
            return rc;
        }
        cJSON_AddStringToObject(o, "source", "prometheus");
        cJSON_AddNumberToObject(o, "step", pstep);
        pts = cJSON_AddArrayToObject(o, "points");
        for (size_t s = 0; s < nser && s < 1; s++)
            for (size_t k = 0; k < ser[s].npoints; k++) {
                char iso[40];
                cJSON *p = cJSON_CreateObject();
                dbp_iso8601(ser[s].points[k].ts, iso, sizeof(iso));
                cJSON_AddStringToObject(p, "timestamp", iso);
                cJSON_AddNumberToObject(p, "value", ser[s].points[k].value);
                cJSON_AddItemToArray(pts, p);
            }
        dbp_prom_series_free(ser, nser);
    } else {
        cJSON_AddStringToObject(o, "source", "ring");
        cJSON_AddBoolToObject(o, "partial", start < oldest && n > 0);
        pts = cJSON_AddArrayToObject(o, "points");
        double last = -INFINITY;
        for (size_t k = 0; k < n; k++) {
            if (step > 0 && ts[k] < last + step)
                continue; /* thin to at most one point per step */
            char iso[40];
            cJSON *p = cJSON_CreateObject();
            dbp_iso8601(ts[k], iso, sizeof(iso));
            cJSON_AddStringToObject(p, "timestamp", iso);
            cJSON_AddNumberToObject(p, "value", vals[k]);
            cJSON_AddItemToArray(pts, p);
            last = ts[k];
        }
    }
    dbp_config_unref(cfg);
    free(ts);
    free(vals);
    dbp_resp_json(resp, 200, o);
    return 0;
}

const struct dbp_route dbp_api_metrics_routes[] = {
    {DBP_GET, "/api/metrics", h_latest, 0, 0,
     "Newest point of every series with z-score and fluctuation flag", "metrics"},
    {DBP_GET, "/api/metrics/detailed", h_detailed, 0, 0,
     "History of one node and category (deprecated; ?node_ip=&category=)", "metrics"},
    {DBP_GET, "/api/metrics/detailed/selected", h_selected, 0, 0,
     "History of selected metrics of one node (?node_ip=&metrics={json})", "metrics"},
    {DBP_GET, "/api/metrics/fluctuations", h_fluct, 0, 0,
     "Newest points plus a fluctuation summary", "metrics"},
    {DBP_POST, "/api/metrics/start", h_start, DBP_R_MUTATES, 0, "Resume collection", "metrics"},
    {DBP_POST, "/api/metrics/stop", h_stop, DBP_R_MUTATES, 0, "Pause collection", "metrics"},
    {DBP_GET, "/api/metrics/nodes", h_nodes, 0, 0,
     "Nodes: state, last success, last error, tenants", "metrics"},
    {DBP_GET, "/api/metrics/catalog", h_catalog, 0, 0,
     "The metric catalog in use: metrics, categories, kinds, units, SQL", "metrics"},
    {DBP_GET, "/api/metrics/history", h_history, 0, 0,
     "One series over a range (?node=&metric=&start=&end=&step=), ring or Prometheus", "metrics"},
};
const size_t dbp_api_metrics_nroutes = sizeof(dbp_api_metrics_routes) / sizeof(dbp_api_metrics_routes[0]);
