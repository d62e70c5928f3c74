/*
 * workload_api.c - the /api/workload routes: the original's paths, field names and
 * response shapes (WorkloadRequest, WorkloadResponse, WorkloadInfo, Task),
 * with proper status codes and a few additions (runs, progress, scripts,
 * cleanup).  Handlers decode and validate JSON into struct dbp_wl_request
 * and call the workload module; they never touch processes or databases.
 */
#define _GNU_SOURCE
#include "dbp/app.h"
#include "dbp/workload.h"
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define OUTPUT_LINES_DEFAULT 200
#define OUTPUT_LINES_MAX 2000
#define TASK_MAX_AGE_S (12 * 3600.0)

static struct dbp_workloads *module(struct dbp_req *req)
{
    return req->app ? req->app->workloads : NULL;
}

#define NEED_MODULE(req, wl)                                                                    \
    struct dbp_workloads *wl = module(req);                                                     \
    if (!wl)                                                                                    \
    return dbp_err_set(&(req)->err, DBP_EUNAVAIL, "the workload module is not running")

/* A field error inside "options" names it as options.<field>. */
static int in_options(struct dbp_req *req, int rc)
{
    static const char *const prefixes[] = {"field '", "unknown field '"};
    for (size_t i = 0; rc && i < DBP_ARRAY_SIZE(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(req->err.msg, prefixes[i], n) == 0) {
            char msg[DBP_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%soptions.%.200s", prefixes[i], req->err.msg + n);
            dbp_strlcpy(req->err.msg, msg, sizeof(req->err.msg));
            break;
        }
    }
    return rc;
}

/* WorkloadRequest -> struct dbp_wl_request.  Known options that do not
 * apply to the type are ignored (the dashboard sends every option with its
 * default); the new ones that cannot apply (script, tool) are refused. */
static int decode_request(struct dbp_req *req, struct dbp_wl_request *r)
{
    static const char *const top[] = {"type", "threads", "options", "task_name", "nodes", NULL};
    static const char *const opts[] = {"prepare_db", "reportInterval", "tables", "tableSize",
                                       "randType",   "warehouses",     "warmupTime", "runningTime",
                                       "script",     "time",           "rate",       "scale",
                                       "force",      "tool",           NULL};
    const cJSON *body = NULL;
    const char *s = NULL;
    long long v;
    double d;
    int rc;

    dbp_wl_request_defaults(r);
    if ((rc = dbp_json_body_object(req, true, &body)) || (rc = dbp_json_only(req, body, top)))
        return rc;
    if ((rc = dbp_json_str(req, body, "type", true, 32, &s)))
        return rc;
    int type = dbp_wl_type_from_name(s);
    if (type < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'type': unknown workload type '%.32s' (expected sysbench, tpcc "
                           "or tpch)",
                           s);
    r->type = (enum dbp_wl_type)type;
    v = r->threads;
    if ((rc = dbp_json_int(req, body, "threads", false, 1, DBP_WL_MAX_THREADS, &v)))
        return rc;
    r->threads = (int)v;
    s = NULL;
    if ((rc = dbp_json_str(req, body, "task_name", false, sizeof(r->task_name) - 1, &s)))
        return rc;
    if (s)
        dbp_strlcpy(r->task_name, s, sizeof(r->task_name));

    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(body, "nodes");
    if (nodes && !cJSON_IsNull(nodes)) {
        if (!cJSON_IsArray(nodes))
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'nodes' must be an array of node names");
        int n = cJSON_GetArraySize(nodes);
        if (n > DBP_MAX_NODES)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'nodes' lists more than %d nodes",
                               DBP_MAX_NODES);
        for (int i = 0; i < n; i++) {
            const cJSON *it = cJSON_GetArrayItem(nodes, i);
            if (!cJSON_IsString(it) || !it->valuestring[0] ||
                strlen(it->valuestring) >= DBP_NAME_MAX)
                return dbp_err_set(&req->err, DBP_ESCHEMA,
                                   "field 'nodes[%d]' must be a node name (1..%d characters)", i,
                                   DBP_NAME_MAX - 1);
            dbp_strlcpy(r->nodes[i], it->valuestring, sizeof(r->nodes[i]));
        }
        r->nnodes = n;
    }

    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, "options");
    if (!o || cJSON_IsNull(o))
        return 0;
    if (!cJSON_IsObject(o))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'options' must be an object");
    if ((rc = in_options(req, dbp_json_only(req, o, opts))))
        return rc;

    if ((rc = in_options(req, dbp_json_bool(req, o, "prepare_db", false, &r->prepare_db))) ||
        (rc = in_options(req, dbp_json_bool(req, o, "force", false, &r->force))))
        return rc;
    v = r->report_interval;
    if ((rc = in_options(req, dbp_json_int(req, o, "reportInterval", false, 1, 3600, &v))))
        return rc;
    r->report_interval = (int)v;
    v = r->tables;
    if ((rc = in_options(req, dbp_json_int(req, o, "tables", false, 1, DBP_WL_MAX_TABLES, &v))))
        return rc;
    r->tables = (int)v;
    v = r->table_size;
    if ((rc = in_options(req, dbp_json_int(req, o, "tableSize", false, 1, DBP_WL_MAX_TABLE_SIZE,
                                           &v))))
        return rc;
    r->table_size = v;
    v = r->warehouses;
    if ((rc = in_options(req, dbp_json_int(req, o, "warehouses", false, 1, DBP_WL_MAX_WAREHOUSES,
                                           &v))))
        return rc;
    r->warehouses = (int)v;
    v = r->warmup_s;
    if ((rc = in_options(req, dbp_json_int(req, o, "warmupTime", false, 0, 3600, &v))))
        return rc;
    r->warmup_s = (int)v;
    v = r->running_min;
    if ((rc = in_options(req, dbp_json_int(req, o, "runningTime", false, 1, DBP_WL_MAX_TIME / 60,
                                           &v))))
        return rc;
    r->running_min = (int)v;
    v = -1;
    if ((rc = in_options(req, dbp_json_int(req, o, "time", false, 0, DBP_WL_MAX_TIME, &v))))
        return rc;
    r->time_s = (int)v;
    v = r->rate;
    if ((rc = in_options(req, dbp_json_int(req, o, "rate", false, 0, DBP_WL_MAX_RATE, &v))))
        return rc;
    r->rate = (int)v;
    d = r->scale;
    if ((rc = in_options(req, dbp_json_num(req, o, "scale", false, 0.01, 1.0, &d))))
        return rc;
    r->scale = d;
    s = NULL;
    if ((rc = in_options(req, dbp_json_str(req, o, "randType", false, 15, &s))))
        return rc;
    if (s) {
        if (strcmp(s, "uniform") && strcmp(s, "gaussian") && strcmp(s, "special") &&
            strcmp(s, "pareto"))
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'options.randType' must be uniform, gaussian, special or "
                               "pareto, not '%.15s'",
                               s);
        dbp_strlcpy(r->rand_type, s, sizeof(r->rand_type));
    }
    s = NULL;
    if ((rc = in_options(req, dbp_json_str(req, o, "script", false, DBP_WL_SCRIPT_MAX - 1, &s))))
        return rc;
    if (s) {
        if (r->type != DBP_WL_SYSBENCH)
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'options.script' applies to type sysbench only");
        /* A name, never a path: checked against the installed scripts later. */
        for (const char *p = s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                return dbp_err_set(&req->err, DBP_ESCHEMA,
                                   "field 'options.script' must be a script name such as "
                                   "oltp_read_write, not '%.40s'",
                                   s);
        if (!*s)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'options.script' is empty");
        dbp_strlcpy(r->script, s, sizeof(r->script));
    }
    s = NULL;
    if ((rc = in_options(req, dbp_json_str(req, o, "tool", false, 16, &s))))
        return rc;
    if (s) {
        if (strcmp(s, "sysbench") == 0) {
            r->tool = DBP_WL_TOOL_SYSBENCH;
        } else if (strcmp(s, "tpcc-mysql") == 0) {
            if (r->type != DBP_WL_TPCC)
                return dbp_err_set(&req->err, DBP_ESCHEMA,
                                   "field 'options.tool': tpcc-mysql runs type tpcc only");
            r->tool = DBP_WL_TOOL_TPCC_MYSQL;
        } else {
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'options.tool' must be sysbench or tpcc-mysql, not '%.16s'",
                               s);
        }
    }
    return 0;
}

/* WorkloadResponse. */
static cJSON *wl_response(const char *id, const char *status, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workload_id", id);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddNullToObject(o, "output");
    return o;
}

static int h_prepare(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    struct dbp_wl_request r;
    char job[DBP_JOB_ID_LEN];
    int rc = decode_request(req, &r);
    if (rc)
        return rc;
    if ((rc = dbp_workloads_prepare(wl, &r, job, &req->err)))
        return rc;
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "message", "Database preparation started");
    cJSON_AddStringToObject(extra, "type", dbp_wl_type_name(r.type));
    dbp_resp_accepted(resp, job, extra);
    return 0;
}

static int h_cleanup(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    struct dbp_wl_request r;
    char job[DBP_JOB_ID_LEN];
    int rc = decode_request(req, &r);
    if (rc)
        return rc;
    if ((rc = dbp_workloads_cleanup(wl, &r, job, &req->err)))
        return rc;
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "message", "Database cleanup started");
    cJSON_AddStringToObject(extra, "type", dbp_wl_type_name(r.type));
    dbp_resp_accepted(resp, job, extra);
    return 0;
}

static int h_start(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    struct dbp_wl_request r;
    char id[DBP_WL_ID_MAX];
    int rc = decode_request(req, &r);
    if (rc)
        return rc;
    if ((rc = dbp_workloads_run(wl, &r, id, &req->err)))
        return rc;
    cJSON *o = wl_response(id, "running", "Workload started successfully");
    cJSON *st = dbp_workloads_status_json(wl, id, 0);
    if (st) {
        /* Extensions the dashboard ignores: where it runs and how. */
        static const char *const ext[] = {"type", "threads", "pid", "start_time", "state", "step",
                                          "tool", "script", "database", "nodes", "task_id"};
        for (size_t i = 0; i < DBP_ARRAY_SIZE(ext); i++) {
            cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(st, ext[i]);
            if (it)
                cJSON_AddItemToObject(o, ext[i], it);
        }
        cJSON_Delete(st);
    }
    dbp_resp_json(resp, 200, o);
    return 0;
}

static bool valid_id(const char *id, size_t max)
{
    if (!id || !*id || strlen(id) >= max)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

static int h_stop(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    const char *id = dbp_req_param(req, "workload_id");
    if (!valid_id(id, DBP_WL_ID_MAX))
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "workload '%.60s' not found or already stopped",
                           id ? id : "");
    int rc = dbp_workloads_stop_run(wl, id, &req->err);
    if (rc)
        return rc;
    cJSON *o = wl_response(id, "stopped", "Workload stopped successfully");
    cJSON *st = dbp_workloads_status_json(wl, id, 0);
    if (st) {
        static const char *const ext[] = {"state", "exit_code", "signal", "summary"};
        for (size_t i = 0; i < DBP_ARRAY_SIZE(ext); i++) {
            cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(st, ext[i]);
            if (it)
                cJSON_AddItemToObject(o, ext[i], it);
        }
        cJSON_Delete(st);
    }
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_status(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    static const char *const allowed[] = {"lines", NULL};
    const char *id = dbp_req_param(req, "workload_id");
    if (dbp_req_unknown_query(req, allowed))
        return DBP_ESCHEMA;
    int64_t lines = OUTPUT_LINES_DEFAULT;
    const char *q = dbp_req_query(req, "lines");
    if (q && dbp_parse_i64(q, 0, OUTPUT_LINES_MAX, &lines))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query 'lines' must be 0..%d",
                           OUTPUT_LINES_MAX);
    cJSON *o = valid_id(id, DBP_WL_ID_MAX) ? dbp_workloads_status_json(wl, id, (int)lines) : NULL;
    if (!o)
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "workload '%.60s' not found", id ? id : "");
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_progress(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    const char *id = dbp_req_param(req, "workload_id");
    cJSON *o = valid_id(id, DBP_WL_ID_MAX) ? dbp_workloads_progress_json(wl, id) : NULL;
    if (!o)
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "workload '%.60s' not found", id ? id : "");
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_active(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    dbp_resp_json(resp, 200, dbp_workloads_list_json(wl, true));
    return 0;
}

static int h_runs(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    dbp_resp_json(resp, 200, dbp_workloads_list_json(wl, false));
    return 0;
}

static int h_scripts(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    dbp_resp_json(resp, 200, dbp_workloads_scripts_json(wl));
    return 0;
}

static int h_stop_all(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    cJSON *ids = NULL;
    int rc = dbp_workloads_stop_all(wl, &ids, &req->err);
    if (rc) {
        cJSON_Delete(ids);
        return rc;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", "All workloads stopped successfully");
    cJSON_AddItemToObject(o, "stopped", ids);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_create_task(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    static const char *const allowed[] = {"type", "task_name", "workload_id", "anomalies", NULL};
    const cJSON *body = NULL;
    const char *type = NULL, *name = NULL, *wid = NULL;
    int rc;
    if ((rc = dbp_json_body_object(req, true, &body)) || (rc = dbp_json_only(req, body, allowed)) ||
        (rc = dbp_json_str(req, body, "type", true, 32, &type)) ||
        (rc = dbp_json_str(req, body, "task_name", true, 127, &name)) ||
        (rc = dbp_json_str(req, body, "workload_id", true, DBP_WL_ID_MAX - 1, &wid)))
        return rc;
    if (dbp_wl_type_from_name(type) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'type': unknown workload type '%.32s' (expected sysbench, tpcc "
                           "or tpch)",
                           type);
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(body, "anomalies");
    if (an && !cJSON_IsNull(an)) {
        if (!cJSON_IsArray(an))
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'anomalies' must be an array");
        const cJSON *it;
        cJSON_ArrayForEach(it, an) if (!cJSON_IsObject(it)) return dbp_err_set(
            &req->err, DBP_ESCHEMA, "field 'anomalies' must be an array of objects");
    }
    cJSON *out = NULL;
    rc = dbp_workloads_task_create(wl, name, wid,
                                   an && cJSON_IsArray(an) ? cJSON_Duplicate(an, true) : NULL,
                                   &out, &req->err);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, out);
    return 0;
}

static int h_tasks(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    dbp_resp_json(resp, 200, dbp_workloads_tasks_json(wl, false));
    return 0;
}

static int h_tasks_active(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    dbp_resp_json(resp, 200, dbp_workloads_tasks_json(wl, true));
    return 0;
}

static int h_tasks_cleanup(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    int n = dbp_workloads_tasks_cleanup(wl, TASK_MAX_AGE_S);
    cJSON *o = cJSON_CreateObject();
    char msg[64];
    snprintf(msg, sizeof(msg), "Cleaned up %d old tasks", n);
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNumberToObject(o, "removed_count", n);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_task_get(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    const char *id = dbp_req_param(req, "task_id");
    cJSON *o = valid_id(id, 40) ? dbp_workloads_task_json(wl, id) : NULL;
    if (!o)
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "Task not found");
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_task_stop(struct dbp_req *req, struct dbp_resp *resp)
{
    NEED_MODULE(req, wl);
    const char *id = dbp_req_param(req, "task_id");
    cJSON *o = NULL;
    if (!valid_id(id, 40))
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "Task not found");
    int rc = dbp_workloads_task_stop(wl, id, &o, &req->err);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

#define WL_BODY (DBP_R_JSON_BODY | DBP_R_BODY_REQUIRED | DBP_R_MUTATES)

const struct dbp_route dbp_api_workload_routes[] = {
    {DBP_POST, "/api/workload/prepare", h_prepare, WL_BODY | DBP_R_ASYNC, 16384,
     "Prepare a benchmark database as a background job; never drops data unless options.force",
     "workload"},
    {DBP_POST, "/api/workload/cleanup", h_cleanup, WL_BODY | DBP_R_ASYNC, 16384,
     "Drop a benchmark's tables as a background job", "workload"},
    {DBP_POST, "/api/workload/start", h_start, WL_BODY, 16384,
     "Start a sysbench / TPC-C / TPC-H run (WorkloadRequest); answers its unique id", "workload"},
    {DBP_POST, "/api/workload/stop-all", h_stop_all, DBP_R_MUTATES, 0,
     "Stop every active run (SIGTERM, grace, SIGKILL) and mark running tasks stopped",
     "workload"},
    {DBP_POST, "/api/workload/create-task", h_create_task, WL_BODY, 16384,
     "Create a task for an active run (CreateTaskRequest)", "workload"},
    {DBP_GET, "/api/workload/active", h_active, 0, 0, "Active runs (WorkloadInfo list)",
     "workload"},
    {DBP_GET, "/api/workload/runs", h_runs, 0, 0,
     "Every run kept in memory, finished ones included, newest first", "workload"},
    {DBP_GET, "/api/workload/scripts", h_scripts, 0, 0,
     "Installed sysbench OLTP scripts, Lua TPC-C/TPC-H scripts and tpcc-mysql", "workload"},
    {DBP_POST, "/api/workload/{workload_id}/stop", h_stop, DBP_R_MUTATES, 0,
     "Stop one run; 404 when unknown or already ended", "workload"},
    {DBP_GET, "/api/workload/{workload_id}/status", h_status, 0, 0,
     "WorkloadResponse with the last output lines (?lines=N) and the summary", "workload"},
    {DBP_GET, "/api/workload/{workload_id}/progress", h_progress, 0, 0,
     "Per-interval figures (tps, qps, p95, errors, reconnects, TpmC, query times) and summary",
     "workload"},
    {DBP_GET, "/api/workload/tasks", h_tasks, 0, 0, "All tasks", "workload"},
    {DBP_GET, "/api/workload/tasks/active", h_tasks_active, 0, 0, "Running tasks", "workload"},
    {DBP_POST, "/api/workload/tasks/cleanup", h_tasks_cleanup, DBP_R_MUTATES, 0,
     "Remove tasks that ended more than 12 h ago", "workload"},
    {DBP_GET, "/api/workload/tasks/{task_id}", h_task_get, 0, 0, "One task", "workload"},
    {DBP_POST, "/api/workload/tasks/{task_id}/stop", h_task_stop, DBP_R_MUTATES, 0,
     "Stop a task and its run", "workload"},
};
const size_t dbp_api_workload_nroutes =
    sizeof(dbp_api_workload_routes) / sizeof(dbp_api_workload_routes[0]);
