/*
 * core_api.c - /health, /, /metrics, /openapi.json, /docs, /api/jobs.
 */
#define _GNU_SOURCE
#include "dbp/app.h"
#include "dbp/config.h"
#include "dbp/jobs.h"
#include "dbp/util.h"
#include "api_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#ifndef DBP_VERSION
#define DBP_VERSION "0.0.0"
#endif

static int h_health(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_app *app = req->app;
    cJSON *o = cJSON_CreateObject();
    bool degraded = false;
    cJSON_AddStringToObject(o, "status", "healthy");
    cJSON_AddStringToObject(o, "version", app->version ? app->version : DBP_VERSION);
    cJSON_AddNumberToObject(o, "uptime_s", dbp_wall_s() - app->started_at);
    cJSON *svc = cJSON_AddObjectToObject(o, "services");
    cJSON *http = cJSON_AddObjectToObject(svc, "http");
    cJSON_AddStringToObject(http, "state", "running");
    cJSON *jobs = cJSON_AddObjectToObject(svc, "jobs");
    cJSON_AddStringToObject(jobs, "state", app->jobs ? "running" : "stopped");
    if (app->jobs)
        cJSON_AddNumberToObject(jobs, "active", dbp_jobs_active(app->jobs, NULL));
    for (int i = 0; i < app->nservices; i++) {
        char detail[256] = "";
        const char *state = app->services[i].fn(app->services[i].cls, detail, sizeof(detail));
        cJSON *s = cJSON_AddObjectToObject(svc, app->services[i].name);
        cJSON_AddStringToObject(s, "state", state);
        if (detail[0])
            cJSON_AddStringToObject(s, "detail", detail);
        if (strcmp(state, "failed") == 0 || strcmp(state, "degraded") == 0)
            degraded = true;
    }
    if (degraded)
        cJSON_ReplaceItemInObject(o, "status", cJSON_CreateString("degraded"));
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_root(struct dbp_req *req, struct dbp_resp *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "dbpecker");
    cJSON_AddStringToObject(o, "version", req->app->version ? req->app->version : DBP_VERSION);
    cJSON_AddStringToObject(o, "message", "DBPecker API is running");
    cJSON_AddStringToObject(o, "docs", "/docs");
    cJSON_AddStringToObject(o, "openapi", "/openapi.json");
    dbp_resp_json(resp, 200, o);
    return 0;
}

/* Process CPU seconds and RSS from /proc/self (no allocation per field). */
static void proc_self(double *cpu_s, double *rss_bytes, int *threads, int *fds)
{
    char buf[1024];
    *cpu_s = *rss_bytes = 0;
    *threads = *fds = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    if (f) {
        if (fgets(buf, sizeof(buf), f)) {
            const char *p = strrchr(buf, ')');
            unsigned long ut = 0, st = 0;
            long nthreads = 0, rss = 0;
            /* fields after ')': state(3) ... utime(14) stime(15) ... num_threads(20) ... rss(24) */
            if (p && sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld "
                            "%*d %*u %*u %ld",
                            &ut, &st, &nthreads, &rss) == 4) {
                long tck = sysconf(_SC_CLK_TCK);
                *cpu_s = (double)(ut + st) / (double)(tck > 0 ? tck : 100);
                *rss_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
                *threads = (int)nthreads;
            }
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                (*fds)++;
        closedir(d);
        (*fds)--; /* the directory stream itself */
    }
}

static int h_metrics(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_app *app = req->app;
    struct dbp_buf b;
    double cpu, rss;
    int threads, fds;
    int rc = 0;

    dbp_buf_init(&b, 256u << 20);
    proc_self(&cpu, &rss, &threads, &fds);
    rc |= dbp_buf_printf(&b,
                         "# HELP dbpecker_build_info Build information.\n"
                         "# TYPE dbpecker_build_info gauge\n"
                         "dbpecker_build_info{version=\"%s\"} 1\n"
                         "# HELP dbpecker_start_time_seconds Daemon start, unix seconds.\n"
                         "# TYPE dbpecker_start_time_seconds gauge\n"
                         "dbpecker_start_time_seconds %.3f\n"
                         "# HELP process_cpu_seconds_total User and system CPU time.\n"
                         "# TYPE process_cpu_seconds_total counter\n"
                         "process_cpu_seconds_total %.2f\n"
                         "# HELP process_resident_memory_bytes Resident set size.\n"
                         "# TYPE process_resident_memory_bytes gauge\n"
                         "process_resident_memory_bytes %.0f\n"
                         "# HELP process_threads Threads of the daemon.\n"
                         "# TYPE process_threads gauge\n"
                         "process_threads %d\n"
                         "# HELP process_open_fds Open file descriptors.\n"
                         "# TYPE process_open_fds gauge\n"
                         "process_open_fds %d\n",
                         app->version ? app->version : DBP_VERSION, app->started_at, cpu, rss,
                         threads, fds);
    if (!rc && app->http)
        rc = dbp_server_render_metrics(app->http, &b);
    for (int i = 0; i < app->nexporters && !rc; i++)
        rc = app->exporters[i].fn(app->exporters[i].cls, &b);
    if (rc) {
        dbp_buf_release(&b);
        return dbp_err_set(&req->err, rc, "cannot render metrics");
    }
    size_t len;
    char *text = dbp_buf_detach(&b, &len);
    dbp_resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return 0;
}

static int h_openapi(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_app *app = req->app;
    if (!app->http)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "server not running");
    dbp_resp_json(resp, 200,
                  dbp_openapi_build(dbp_server_router(app->http),
                                    app->version ? app->version : DBP_VERSION));
    return 0;
}

static int h_docs(struct dbp_req *req, struct dbp_resp *resp)
{
    (void)req;
    dbp_resp_text(resp, 200, "text/html; charset=utf-8", dbp_xstrdup(dbp_docs_html),
                  strlen(dbp_docs_html));
    dbp_resp_header(resp, "Content-Security-Policy",
                    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                    "style-src 'self' 'unsafe-inline'; connect-src 'self'");
    return 0;
}

static int h_jobs_list(struct dbp_req *req, struct dbp_resp *resp)
{
    if (!req->app->jobs)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "job queue not running");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "jobs", dbp_jobs_list_json(req->app->jobs));
    dbp_resp_json(resp, 200, o);
    return 0;
}

static bool valid_job_id(const char *id)
{
    if (!id || strlen(id) != DBP_JOB_ID_LEN - 1)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int h_job_get(struct dbp_req *req, struct dbp_resp *resp)
{
    const char *id = dbp_req_param(req, "id");
    if (!req->app->jobs)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "job queue not running");
    cJSON *o = valid_job_id(id) ? dbp_jobs_get_json(req->app->jobs, id) : NULL;
    if (!o)
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "no job '%.40s'", id);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_job_cancel(struct dbp_req *req, struct dbp_resp *resp)
{
    const char *id = dbp_req_param(req, "id");
    if (!req->app->jobs)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "job queue not running");
    int rc = valid_job_id(id) ? dbp_jobs_cancel(req->app->jobs, id) : DBP_ENOTFOUND;
    if (rc == DBP_ENOTFOUND)
        return dbp_err_set(&req->err, rc, "no job '%.40s'", id);
    if (rc == DBP_EBUSY)
        return dbp_err_set(&req->err, rc, "job '%s' has already finished", id);
    dbp_resp_json(resp, 200, dbp_jobs_get_json(req->app->jobs, id));
    return 0;
}

/* SSE: "jobs" events whenever the job list changes, a comment line as a
 * keep-alive every 15 s.  The producer blocks at most ~1 s per call so the
 * connection ends promptly at shutdown (server.c checks `stopping`). */
struct jobs_stream {
    struct dbp_jobs *jobs;
    char *last;
    double last_send;
    bool first;
};

static int jobs_stream_next(void *cls, struct dbp_buf *out)
{
    struct jobs_stream *st = cls;
    if (!st->first)
        usleep(1000 * 1000);
    st->first = false;
    cJSON *list = dbp_jobs_list_json(st->jobs);
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    if (!text)
        return -1;
    int rc = 0;
    if (!st->last || strcmp(text, st->last) != 0) {
        rc = dbp_buf_printf(out, "event: jobs\ndata: %s\n\n", text);
        free(st->last);
        st->last = text;
        st->last_send = dbp_wall_s();
    } else {
        free(text);
        if (dbp_wall_s() - st->last_send >= 15) {
            rc = dbp_buf_puts(out, ": keep-alive\n\n");
            st->last_send = dbp_wall_s();
        }
    }
    return rc ? -1 : 0;
}

static void jobs_stream_free(void *cls)
{
    struct jobs_stream *st = cls;
    free(st->last);
    free(st);
}

static int h_jobs_stream(struct dbp_req *req, struct dbp_resp *resp)
{
    if (!req->app->jobs)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "job queue not running");
    struct jobs_stream *st = dbp_xcalloc(1, sizeof(*st));
    st->jobs = req->app->jobs;
    st->first = true;
    dbp_resp_sse(resp, jobs_stream_next, st, jobs_stream_free);
    return 0;
}

/* Echo: lets clients, proxies and benchmarks exercise the JSON request path
 * (body limit, content type, parsing) without side effects. */
static int h_echo(struct dbp_req *req, struct dbp_resp *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "request_id", req->id);
    cJSON_AddItemToObject(o, "body", req->body ? cJSON_Duplicate(req->body, true)
                                               : cJSON_CreateNull());
    /* Query values too (?q= repeated, ?last=): a proxy that mangles them shows. */
    const char *qs[64];
    int nq = dbp_req_query_all(req, "q", qs, 64);
    cJSON *ql = cJSON_AddArrayToObject(o, "q");
    for (int i = 0; i < nq; i++)
        cJSON_AddItemToArray(ql, cJSON_CreateString(qs[i]));
    const char *last = dbp_req_query(req, "last");
    cJSON_AddItemToObject(o, "last", last ? cJSON_CreateString(last) : cJSON_CreateNull());
    dbp_resp_json(resp, 200, o);
    return 0;
}

const struct dbp_route dbp_api_core_routes[] = {
    {DBP_GET, "/health", h_health, 0, 0, "Liveness and the state of each service", "core"},
    {DBP_GET, "/", h_root, 0, 0, "Name and version", "core"},
    {DBP_GET, "/metrics", h_metrics, DBP_R_TEXT, 0,
     "Prometheus exposition: requests, process, collected series, faults, workloads", "core"},
    {DBP_GET, "/openapi.json", h_openapi, 0, 0, "OpenAPI 3 description of every route", "core"},
    {DBP_GET, "/docs", h_docs, DBP_R_TEXT, 0, "Interactive API page", "core"},
    {DBP_GET, "/api/jobs", h_jobs_list, 0, 0, "Background jobs, newest first", "jobs"},
    {DBP_GET, "/api/jobs/stream", h_jobs_stream, DBP_R_SSE, 0,
     "Server-Sent Events: the job list whenever it changes", "jobs"},
    {DBP_GET, "/api/jobs/{id}", h_job_get, 0, 0, "One background job: status, progress, result",
     "jobs"},
    {DBP_DELETE, "/api/jobs/{id}", h_job_cancel, DBP_R_MUTATES, 0, "Cancel a background job",
     "jobs"},
    {DBP_POST, "/api/echo", h_echo, DBP_R_JSON_BODY, 0,
     "Echo a JSON body with the request id (client and proxy diagnostics)", "core"},
};
const size_t dbp_api_core_nroutes = sizeof(dbp_api_core_routes) / sizeof(dbp_api_core_routes[0]);
