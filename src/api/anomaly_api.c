/*
 * anomaly_api.c - /api/anomaly: the original's routes (reference §2.2:
 * nodes, inject, clear, active, stop-all, stream) with their shapes, proper
 * status codes and honoured severity/duration, plus the refactor branch's
 * /anomalies resource and /types (§2.8).  Handlers validate and hand the
 * work to the fault registry (anomaly.h), waiting a bounded time for its
 * worker to apply or revert.
 */
#define _GNU_SOURCE
#include "dbp/anomaly.h"
#include "dbp/app.h"
#include "dbp/recorder.h"
#include "dbp/config.h"
#include "dbp/util.h"
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define INJECT_WAIT_MS 10000 /* applies are quick (spawn, SQL); compound ones may take longer */
#define STOP_WAIT_MS 30000

static int need(struct dbp_req *req, struct dbp_anomalies **out)
{
    *out = req->app->anomalies;
    if (!*out)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "the fault registry is not running");
    return 0;
}

/* A string or an array of strings (each at most maxlen): appended to out. */
static int str_list(struct dbp_req *req, const cJSON *v, const char *field, size_t maxlen,
                    const char *out[], int *n, int max)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v)) {
        if (*n >= max)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "too many values in '%s'", field);
        if (strlen(v->valuestring) > maxlen)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' is longer than %zu characters",
                               field, maxlen);
        if (v->valuestring[0])
            out[(*n)++] = v->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(v))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field '%s' must be a string or a list of strings", field);
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it))
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must list strings", field);
        int rc = str_list(req, it, field, maxlen, out, n, max);
        if (rc)
            return rc;
    }
    return 0;
}

/* Node names cannot be longer than a configured name: longer ones are
 * unknown nodes (404), not schema errors. */
static int node_list(struct dbp_req *req, const cJSON *v, const char *field, const char *out[],
                     int *n)
{
    int rc = str_list(req, v, field, 4096, out, n, DBP_ANOMALY_MAX_PARTS);
    for (int i = 0; !rc && i < *n; i++)
        if (strlen(out[i]) >= DBP_NAME_MAX)
            rc = dbp_err_set(&req->err, DBP_ENOTFOUND, "unknown node '%.64s...'", out[i]);
    return rc;
}

static int add_part(struct dbp_req *req, struct dbp_anomaly_req *r, const char *type,
                    const char *node, const char *sev)
{
    if (r->nparts >= DBP_ANOMALY_MAX_PARTS)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "at most %d faults (type x node) in one request",
                           DBP_ANOMALY_MAX_PARTS);
    struct dbp_anomaly_part_req *p = &r->parts[r->nparts++];
    dbp_strlcpy(p->type, type, sizeof(p->type));
    dbp_strlcpy(p->node, node ? node : "", sizeof(p->node));
    dbp_strlcpy(p->severity, sev ? sev : "", sizeof(p->severity));
    return 0;
}

/*
 * AnomalyRequest (and the refactor branch's body): type | anomaly_type
 * (string or list), target_node | node (string, list or null), severity,
 * duration, experiment_name, collect_training_data, save_post_data, and
 * optionally parts: [{type, node | target_node, severity}].  Several types
 * and/or nodes make one compound injection (every type on every node).
 */
static int parse_request(struct dbp_req *req, struct dbp_anomaly_req *r)
{
    const cJSON *b;
    int rc = dbp_json_body_object(req, true, &b);
    if (rc)
        return rc;
    memset(r, 0, sizeof(*r));
    const char *types[DBP_ANOMALY_MAX_PARTS], *nodes[DBP_ANOMALY_MAX_PARTS];
    int nt = 0, nn = 0;
    const char *sev = NULL, *name = NULL;
    long long duration = 0;
    bool flag;

    if ((rc = str_list(req, cJSON_GetObjectItemCaseSensitive(b, "type"), "type", 31, types, &nt,
                       DBP_ANOMALY_MAX_PARTS)))
        return rc;
    if (!nt && (rc = str_list(req, cJSON_GetObjectItemCaseSensitive(b, "anomaly_type"),
                              "anomaly_type", 31, types, &nt, DBP_ANOMALY_MAX_PARTS)))
        return rc;
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(b, "target_node");
    if (!tn || cJSON_IsNull(tn))
        tn = cJSON_GetObjectItemCaseSensitive(b, "node"); /* legacy alias */
    if ((rc = node_list(req, tn, "target_node", nodes, &nn)))
        return rc;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(b, "severity");
    if (sv && !cJSON_IsNull(sv) && !cJSON_IsString(sv))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'severity' must be \"low\", \"medium\" or \"high\"");
    if ((rc = dbp_json_str(req, b, "severity", false, 7, &sev)))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'severity' must be \"low\", \"medium\" or \"high\"");
    if (sev && dbp_anomaly_severity_index(sev) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'severity' must be \"low\", \"medium\" or \"high\", not '%s'", sev);
    struct dbp_config *cfg = dbp_app_config(req->app);
    int maxd = cfg && cfg->max_duration_s > 0 ? cfg->max_duration_s : 3600;
    dbp_config_unref(cfg);
    if ((rc = dbp_json_int(req, b, "duration", false, 1, maxd, &duration)))
        return rc;
    if ((rc = dbp_json_str(req, b, "experiment_name", false, DBP_ANOMALY_NAME_MAX - 1, &name)))
        return rc;
    flag = false;
    if ((rc = dbp_json_bool(req, b, "collect_training_data", false, &flag)))
        return rc;
    r->collect_training_data = flag;
    flag = true;
    if ((rc = dbp_json_bool(req, b, "save_post_data", false, &flag)))
        return rc;
    r->save_post_data = flag;

    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(b, "parts");
    if (parts && !cJSON_IsNull(parts)) {
        if (!cJSON_IsArray(parts) || nt)
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'parts' must be a list of {type, node, severity} and "
                               "excludes 'type'");
        const cJSON *po;
        cJSON_ArrayForEach(po, parts)
        {
            const char *pt = NULL, *ps = NULL, *pn[DBP_ANOMALY_MAX_PARTS];
            int npn = 0;
            if (!cJSON_IsObject(po))
                return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'parts' must list objects");
            if ((rc = dbp_json_str(req, po, "type", true, 31, &pt)) ||
                (rc = dbp_json_str(req, po, "severity", false, 7, &ps)))
                return rc;
            const cJSON *pnv = cJSON_GetObjectItemCaseSensitive(po, "node");
            if (!pnv || cJSON_IsNull(pnv))
                pnv = cJSON_GetObjectItemCaseSensitive(po, "target_node");
            if ((rc = node_list(req, pnv, "parts.node", pn, &npn)))
                return rc;
            if (npn > 1)
                return dbp_err_set(&req->err, DBP_ESCHEMA, "a part names one node");
            if ((rc = add_part(req, r, pt, npn ? pn[0] : NULL, ps)))
                return rc;
        }
        if (!r->nparts)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'parts' is empty");
    } else {
        if (!nt)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'type' is required");
        for (int t = 0; t < nt; t++)
            for (int k = 0; k < (nn ? nn : 1); k++)
                if ((rc = add_part(req, r, types[t], nn ? nodes[k] : NULL, NULL)))
                    return rc;
    }
    dbp_strlcpy(r->severity, sev ? sev : "medium", sizeof(r->severity));
    r->duration_s = (int)duration;
    if (name)
        dbp_strlcpy(r->name, name, sizeof(r->name));
    return 0;
}

static const char *jget_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* "node2", or "node1, node2" from the record's nodes. */
static void nodes_text(const cJSON *rec, char *out, size_t outsz)
{
    const cJSON *it;
    out[0] = '\0';
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "nodes"))
    {
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? ", " : "", it->valuestring);
    }
}

static void types_text(const cJSON *rec, char *out, size_t outsz)
{
    const cJSON *it;
    out[0] = '\0';
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "types"))
    {
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? "+" : "", it->valuestring);
    }
}

/* The wait ran out before the injection was applied (or before a failed
 * one finished undoing its parts). */
static bool still_pending(const cJSON *rec)
{
    const char *st = jget_str(rec, "status");
    return !strcmp(st, "pending") ||
           (!strcmp(st, "reverting") && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "start_ts")));
}

static bool any_chosen(const struct dbp_anomaly_req *r)
{
    for (int i = 0; i < r->nparts; i++)
        if (!r->parts[i].node[0])
            return true;
    return false;
}

static int h_inject(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    struct dbp_anomaly_req r;
    cJSON *rec = NULL;
    int rc = need(req, &a);
    if (rc || (rc = parse_request(req, &r)))
        return rc;
    /* collect_training_data: the case opens before the fault so that it
     * holds the moments before it, and closes post_s after the fault ends
     * (save_post_data) or with it; the label comes from the registry. */
    cJSON *training = NULL;
    if (r.collect_training_data) {
        if (!req->app->recorder)
            return dbp_err_set(&req->err, DBP_EUNAVAIL, "the training recorder is not running");
        struct dbp_config *cfg = dbp_app_config(req->app);
        int dur = r.duration_s > 0 ? r.duration_s : cfg ? cfg->default_duration_s : 180;
        int post = cfg ? cfg->post_s : 30;
        dbp_config_unref(cfg);
        struct dbp_rec_req rr = {0};
        bool multi = false;
        for (int i = 0; i < r.nparts; i++) {
            bool dup = false;
            for (int k = 0; k < rr.nsubtypes; k++)
                dup |= !strcmp(rr.subtypes[k], r.parts[i].type);
            if (!dup && rr.nsubtypes < DBP_REC_MAX_SUBTYPES)
                rr.subtypes[rr.nsubtypes++] = r.parts[i].type;
            multi |= strcmp(r.parts[i].node, r.parts[0].node) != 0;
        }
        rr.type = rr.nsubtypes > 1 ? "compound" : r.parts[0].type;
        if (rr.nsubtypes < 2)
            rr.nsubtypes = 0;
        rr.node = !multi && r.parts[0].node[0] ? r.parts[0].node : NULL;
        for (int i = 0; multi && i < r.nparts && rr.nnodes < DBP_REC_MAX_NODES; i++)
            rr.nodes[rr.nnodes++] = r.parts[i].node;
        rr.duration_s = dur + (r.save_post_data ? post : 0) + 1;
        if ((rc = dbp_recorder_begin(req->app->recorder, &rr, &training, &req->err)))
            return rc;
    }
    rc = dbp_anomalies_inject(a, &r, INJECT_WAIT_MS, &rec, &req->err);
    if (rc) {
        if (training) {
            /* Keep the case only if a part was applied after all (no
             * record: refused before it was queued, nothing ran). */
            cJSON *res = NULL;
            struct dbp_err e = {0};
            bool applied = false;
            const cJSON *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rec, "parts"))
            {
                const char *ps = jget_str(p, "status");
                applied |= !strcmp(ps, "applied") || !strcmp(ps, "reverting") ||
                           !strcmp(ps, "reverted") || !strcmp(ps, "revert_failed");
            }
            if (!applied)
                dbp_recorder_reset(req->app->recorder, NULL);
            else
                (void)dbp_recorder_end(req->app->recorder, DBP_REC_ANOMALY, true, &res, &e);
            cJSON_Delete(res);
            cJSON_Delete(training);
        }
        cJSON_Delete(rec);
        return rc;
    }
    char nodes[512], types[256], msg[1024];
    nodes_text(rec, nodes, sizeof(nodes));
    types_text(rec, types, sizeof(types));
    bool pending = still_pending(rec);
    snprintf(msg, sizeof(msg), "%s %s anomaly into node %s%s", pending ? "Injecting" : "Injected",
             types, nodes, any_chosen(&r) ? " (chosen: no target_node given)" : "");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", pending ? "pending" : "success");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddStringToObject(o, "id", jget_str(rec, "id"));
    cJSON_AddStringToObject(o, "name", jget_str(rec, "name"));
    cJSON_AddItemToObject(o, "anomaly", rec);
    if (training)
        cJSON_AddItemToObject(o, "training_collection", training);
    dbp_resp_json(resp, pending ? 202 : 200, o);
    return 0;
}

static int h_clear(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    const cJSON *b;
    const char *type = NULL, *name = NULL;
    int rc = need(req, &a);
    if (rc || (rc = dbp_json_body_object(req, true, &b)) ||
        (rc = dbp_json_str(req, b, "type", false, 31, &type)) ||
        (rc = dbp_json_str(req, b, "experiment_name", false, DBP_ANOMALY_NAME_MAX - 1, &name)))
        return rc;
    bool collect = false, save_post = true;
    if ((rc = dbp_json_bool(req, b, "collect_training_data", false, &collect)) ||
        (rc = dbp_json_bool(req, b, "save_post_data", false, &save_post)))
        return rc;
    if (type && !type[0])
        type = NULL;
    if (name && !name[0])
        name = NULL;
    if (!type && !name)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "Either type or experiment_name must be provided");
    cJSON *deleted = cJSON_CreateArray();
    if (name) {
        bool stopped = false;
        cJSON *rec = NULL;
        rc = dbp_anomalies_stop_one(a, name, STOP_WAIT_MS, &stopped, &rec, &req->err);
        if (rc) {
            cJSON_Delete(deleted);
            return rc;
        }
        if (stopped)
            cJSON_AddItemToArray(deleted, cJSON_CreateString(jget_str(rec, "name")));
        cJSON_Delete(rec);
    } else {
        if (dbp_anomaly_type_index(type) < 0) {
            cJSON_Delete(deleted);
            return dbp_err_set(&req->err, DBP_ESCHEMA, "unknown anomaly type '%.40s'", type);
        }
        cJSON *names = NULL;
        dbp_anomalies_stop_all(a, type, STOP_WAIT_MS, NULL, &names);
        cJSON_Delete(deleted);
        deleted = names;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", cJSON_GetArraySize(deleted)
                                              ? "Cleared anomaly successfully"
                                              : "No matching active anomaly");
    cJSON_AddItemToObject(o, "deleted", deleted);
    /* collect_training_data: close the anomaly case too (the original
     * called a method that did not exist and answered 500). */
    if (collect && req->app->recorder) {
        cJSON *res = NULL;
        struct dbp_err e = {0};
        if (dbp_recorder_end(req->app->recorder, DBP_REC_ANOMALY, save_post, &res, &e) == 0)
            cJSON_AddItemToObject(o, "training_case", res);
        else
            cJSON_AddStringToObject(o, "training_case_error", e.msg);
    }
    dbp_resp_json(resp, 200, o);
    return 0;
}

static void no_cache(struct dbp_resp *resp)
{
    dbp_resp_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
    dbp_resp_header(resp, "Pragma", "no-cache");
}

static int h_active(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON *list = dbp_anomalies_list_json(a, true);
    /* The original dashboard (anomalyService.js) reads an array or
     * {data: [...]}; dbpecker's own clients read {anomalies: [...]}. */
    cJSON_AddItemToObject(o, "data", cJSON_Duplicate(list, true));
    cJSON_AddItemToObject(o, "anomalies", list);
    dbp_resp_json(resp, 200, o);
    no_cache(resp);
    return 0;
}

static int h_stop_all(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    cJSON *ids = NULL;
    dbp_anomalies_stop_all(a, NULL, STOP_WAIT_MS, &ids, NULL);
    int n = cJSON_GetArraySize(ids);
    char msg[64];
    snprintf(msg, sizeof(msg), "Stopped all anomalies (%d total)", n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNumberToObject(o, "deleted_count", n);
    cJSON_AddItemToObject(o, "deleted", ids);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_nodes(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_anomalies_nodes_json(a));
    return 0;
}

static int h_types(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_anomalies_types_json(a));
    return 0;
}

/* ---- SSE ----------------------------------------------------------------------- */

/* "anomaly_update" with the active list whenever it changes (and once at
 * the start); a comment line as keep-alive every 15 s.  Each call blocks at
 * most ~1 s so the server can end the stream promptly at shutdown. */
struct stream {
    struct dbp_anomalies *a;
    unsigned long seen;
    char *last;
    double last_send;
    bool first;
};

static int stream_next(void *cls, struct dbp_buf *out)
{
    struct stream *st = cls;
    int rc = 0;
    unsigned long v = st->first ? dbp_anomalies_version(st->a)
                                : dbp_anomalies_wait_change(st->a, st->seen, 1000);
    if (st->first)
        rc |= dbp_buf_puts(out, "retry: 5000\n\n");
    if (st->first || v != st->seen) {
        st->seen = v;
        cJSON *list = dbp_anomalies_list_json(st->a, true);
        char *text = cJSON_PrintUnformatted(list);
        cJSON_Delete(list);
        if (!text)
            return -1;
        if (!st->last || strcmp(text, st->last) != 0) {
            rc |= dbp_buf_printf(out, "event: anomaly_update\ndata: %s\n\n", text);
            free(st->last);
            st->last = text;
            st->last_send = dbp_wall_s();
        } else {
            free(text);
        }
    }
    st->first = false;
    if (!rc && dbp_wall_s() - st->last_send >= 15) {
        rc = dbp_buf_puts(out, ": keep-alive\n\n");
        st->last_send = dbp_wall_s();
    }
    return rc ? -1 : 0;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    free(st->last);
    free(st);
}

static int h_stream(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    struct stream *st = dbp_xcalloc(1, sizeof(*st));
    st->a = a;
    st->first = true;
    dbp_resp_sse(resp, stream_next, st, stream_free);
    return 0;
}

/* ---- the /anomalies resource (refactor branch) -------------------------------------- */

static int h_create(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    struct dbp_anomaly_req r;
    cJSON *rec = NULL;
    int rc = need(req, &a);
    if (rc || (rc = parse_request(req, &r)))
        return rc;
    rc = dbp_anomalies_inject(a, &r, INJECT_WAIT_MS, &rec, &req->err);
    if (rc) {
        cJSON_Delete(rec);
        return rc;
    }
    bool pending = still_pending(rec);
    char loc[128];
    snprintf(loc, sizeof(loc), "/api/anomaly/anomalies/%s", jget_str(rec, "id"));
    cJSON *list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, rec);
    dbp_resp_json(resp, pending ? 202 : 201, list);
    dbp_resp_header(resp, "Location", loc);
    return 0;
}

static int h_list(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"active", NULL};
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    const char *act = dbp_req_query(req, "active");
    if (act && strcmp(act, "true") && strcmp(act, "false"))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'active' must be true or false");
    dbp_resp_json(resp, 200, dbp_anomalies_list_json(a, act && !strcmp(act, "true")));
    no_cache(resp);
    return 0;
}

static int h_delete_all(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    cJSON *ids = NULL;
    dbp_anomalies_stop_all(a, NULL, STOP_WAIT_MS, &ids, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "deleted", ids);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_get(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    const char *id = dbp_req_param(req, "id");
    cJSON *o = dbp_anomalies_get_json(a, id);
    if (!o)
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "no anomaly '%.64s'", id);
    dbp_resp_json(resp, 200, o);
    no_cache(resp);
    return 0;
}

static int h_delete(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_anomalies *a;
    int rc = need(req, &a);
    if (rc)
        return rc;
    const char *id = dbp_req_param(req, "id");
    bool stopped = false;
    cJSON *rec = NULL;
    rc = dbp_anomalies_stop_one(a, id, STOP_WAIT_MS, &stopped, &rec, &req->err);
    if (rc)
        return rc;
    const char *st = jget_str(rec, "status");
    bool done = !strcmp(st, "reverted") || !strcmp(st, "failed");
    cJSON *o = cJSON_CreateObject(), *del = cJSON_AddArrayToObject(o, "deleted");
    if (stopped)
        cJSON_AddItemToArray(del, cJSON_CreateString(jget_str(rec, "id")));
    cJSON_AddStringToObject(o, "status", st);
    cJSON_AddItemToObject(o, "anomaly", rec);
    dbp_resp_json(resp, done ? 200 : 202, o);
    return 0;
}

#define BODY (DBP_R_JSON_BODY | DBP_R_BODY_REQUIRED | DBP_R_MUTATES)

const struct dbp_route dbp_api_anomaly_routes[] = {
    {DBP_GET, "/api/anomaly/nodes", h_nodes, 0, 0, "Node names faults can target", "anomaly"},
    {DBP_POST, "/api/anomaly/inject", h_inject, BODY, 0,
     "Inject a fault (AnomalyRequest: type, target_node, severity, duration; several types "
     "and/or nodes make one compound injection)",
     "anomaly"},
    {DBP_POST, "/api/anomaly/clear", h_clear, BODY, 0,
     "Revert the active faults of a type, or one by experiment_name (name or id)", "anomaly"},
    {DBP_GET, "/api/anomaly/active", h_active, 0, 0,
     "Active injections: {anomalies: [AnomalyRecord], data: (the same, for the dashboard)}",
     "anomaly"},
    {DBP_POST, "/api/anomaly/stop-all", h_stop_all, DBP_R_MUTATES, 0,
     "Revert every active fault and wait for the reverts", "anomaly"},
    {DBP_GET, "/api/anomaly/stream", h_stream, DBP_R_SSE, 0,
     "Server-Sent Events: anomaly_update with the active list whenever it changes", "anomaly"},
    {DBP_GET, "/api/anomaly/types", h_types, 0, 0,
     "Fault types: description, severity tables, which executor runs each on which node",
     "anomaly"},
    {DBP_POST, "/api/anomaly/anomalies", h_create, BODY, 0,
     "Create an injection ({anomaly_type|type, target_node, severity, duration}); 201 [record]",
     "anomaly"},
    {DBP_GET, "/api/anomaly/anomalies", h_list, 0, 0,
     "Every injection kept, newest first (?active=true: only live ones)", "anomaly"},
    {DBP_DELETE, "/api/anomaly/anomalies", h_delete_all, DBP_R_MUTATES, 0,
     "Revert every active injection: {deleted: [ids]}", "anomaly"},
    {DBP_GET, "/api/anomaly/anomalies/{id}", h_get, 0, 0,
     "One injection (id or name): status, parts, executor state, evidence", "anomaly"},
    {DBP_DELETE, "/api/anomaly/anomalies/{id}", h_delete, DBP_R_MUTATES, 0,
     "Revert one injection and wait for it: {deleted: [id], anomaly}", "anomaly"},
};
const size_t dbp_api_anomaly_nroutes =
    sizeof(dbp_api_anomaly_routes) / sizeof(dbp_api_anomaly_routes[0]);
