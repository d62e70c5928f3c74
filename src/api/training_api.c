/*
 * training_api.c - the /api/training collection routes (reference §2.5) over
 * recorder.h, and the /api/experiments campaigns over experiment.h.
 *
 * The original answered conflicts ("already in progress", "nothing to
 * stop") with 200 and a "pending"/"warning" status; here they are 409 with
 * the same sentence in "detail", so a client can tell them from success.
 * Success bodies keep the original's fields.
 */
#include "dbp/anomaly.h"
#include "dbp/app.h"
#include "dbp/config.h"
#include "dbp/dataset.h"
#include "dbp/experiment.h"
#include "dbp/jobs.h"
#include "dbp/ml.h"
#include "dbp/recorder.h"
#include "dbp/util.h"
#include "api_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static int need(struct dbp_req *req, struct dbp_recorder **out)
{
    *out = req->app->recorder;
    if (!*out)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "the training recorder is not running");
    return 0;
}

static bool node_known(struct dbp_req *req, const char *node)
{
    if (!req->app->anomalies)
        return true;
    cJSON *nodes = dbp_anomalies_nodes_json(req->app->anomalies);
    bool ok = false;
    const cJSON *n;
    cJSON_ArrayForEach (n, nodes)
        ok |= cJSON_IsString(n) && !strcmp(n->valuestring, node);
    cJSON_Delete(nodes);
    return ok;
}

static int check_type(struct dbp_req *req, const char *field, const char *t)
{
    if (dbp_anomaly_type_index(t) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s': unknown anomaly type '%.40s'",
                           field, t);
    return 0;
}

static int check_node(struct dbp_req *req, const char *field, const char *n)
{
    if (n && !node_known(req, n))
        return dbp_err_set(&req->err, DBP_ENOTFOUND, "field '%s': unknown node '%.60s'", field, n);
    return 0;
}

/* Optional: inject what the collection is about (the original never did;
 * "inject": true makes one call of the two). */
static int maybe_inject(struct dbp_req *req, bool inject, const char *const *types, int ntypes,
                        const char *node, const char *severity, int duration, cJSON *o)
{
    if (!inject)
        return 0;
    if (!req->app->anomalies)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "the fault registry is not running");
    struct dbp_anomaly_req ar;
    memset(&ar, 0, sizeof(ar));
    for (int i = 0; i < ntypes && i < DBP_ANOMALY_MAX_PARTS; i++) {
        dbp_strlcpy(ar.parts[i].type, types[i], sizeof(ar.parts[i].type));
        dbp_strlcpy(ar.parts[i].node, node ? node : "", sizeof(ar.parts[i].node));
        ar.nparts++;
    }
    dbp_strlcpy(ar.severity, severity ? severity : "medium", sizeof(ar.severity));
    ar.duration_s = duration;
    cJSON *rec = NULL;
    int rc = dbp_anomalies_inject(req->app->anomalies, &ar, 15000, &rec, &req->err);
    if (rec)
        cJSON_AddItemToObject(o, "anomaly", rec);
    return rc;
}

/*
 * POST /api/training/collect: AnomalyRequest {type, node | target_node,
 * severity, duration, inject, scenario}.  Opens an anomaly case; the label
 * is taken from the fault registry when it closes.
 */
static int h_collect(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"type",     "anomaly_type", "node",
                                         "target_node", "severity",  "duration",
                                         "inject",   "scenario",     "collect_training_data",
                                         "save_post_data", "experiment_name", NULL};
    struct dbp_recorder *r;
    const cJSON *b;
    const char *type = NULL, *node = NULL, *sev = NULL, *scen = NULL;
    long long dur = 0;
    bool inject = false;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, true, &b)) || (rc = dbp_json_only(req, b, fields)) ||
        (rc = dbp_json_str(req, b, "type", false, 31, &type)))
        return rc;
    if (!type && (rc = dbp_json_str(req, b, "anomaly_type", false, 31, &type)))
        return rc;
    if (!type)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'type' is required");
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(b, "node");
    if ((rc = dbp_json_str(req, b, nv && !cJSON_IsNull(nv) ? "node" : "target_node", false, 63,
                           &node)) ||
        (rc = dbp_json_str(req, b, "severity", false, 7, &sev)) ||
        (rc = dbp_json_str(req, b, "scenario", false, 63, &scen)) ||
        (rc = dbp_json_int(req, b, "duration", false, 10, 86400, &dur)) ||
        (rc = dbp_json_bool(req, b, "inject", false, &inject)) || (rc = check_type(req, "type", type)))
        return rc;
    if (node && !*node)
        node = NULL;
    if ((rc = check_node(req, "node", node)))
        return rc;
    if (sev && dbp_anomaly_severity_index(sev) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'severity' must be \"low\", \"medium\" or \"high\"");
    if (scen && !dbp_label_type_ok(scen))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'scenario' must be 1..63 characters of [A-Za-z0-9_.:-]");
    if (inject && !node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'node' is required with inject: true");
    struct dbp_rec_req rq = {0};
    rq.type = type;
    rq.node = node;
    rq.scenario = scen;
    rq.duration_s = (double)dur;
    cJSON *o = NULL;
    if ((rc = need(req, &r)) || (rc = dbp_recorder_begin(r, &rq, &o, &req->err)))
        return rc;
    cJSON *out = cJSON_CreateObject();
    char msg[160];
    snprintf(msg, sizeof(msg), "Started collecting training data for %s", type);
    cJSON_AddStringToObject(out, "status", "success");
    cJSON_AddStringToObject(out, "message", msg);
    cJSON_AddStringToObject(out, "type", type);
    if (node)
        cJSON_AddStringToObject(out, "node", node);
    else
        cJSON_AddNullToObject(out, "node");
    cJSON_AddItemToObject(out, "collection", o);
    /* The fault ends before the case so that the case holds its recovery. */
    double left = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "expected_duration"));
    int fault_s = (int)fmax(5, isnan(left) ? 60 : left * 0.8);
    const char *types[1] = {type};
    if ((rc = maybe_inject(req, inject, types, 1, node, sev, fault_s, out))) {
        /* Nothing was applied: do not leave an open case behind. */
        dbp_recorder_reset(r, NULL);
        cJSON_Delete(out);
        return rc;
    }
    cJSON_AddStringToObject(out, "labels",
                            "taken from the fault registry when the case closes: inject the "
                            "fault with POST /api/anomaly/inject (or \"inject\": true)");
    dbp_resp_json(resp, 200, out);
    return 0;
}

/* POST /api/training/compound {anomaly_types: [>= 2], node, duration, inject} */
static int h_compound(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"anomaly_types", "types",    "node",     "target_node",
                                         "duration",      "inject",   "severity", "scenario",
                                         NULL};
    struct dbp_recorder *r;
    const cJSON *b;
    const char *node = NULL, *sev = NULL, *scen = NULL;
    long long dur = 0;
    bool inject = false;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, true, &b)) || (rc = dbp_json_only(req, b, fields)))
        return rc;
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(b, "anomaly_types");
    if (!ta || cJSON_IsNull(ta))
        ta = cJSON_GetObjectItemCaseSensitive(b, "types");
    if (!cJSON_IsArray(ta) || cJSON_GetArraySize(ta) < 2 ||
        cJSON_GetArraySize(ta) > DBP_REC_MAX_SUBTYPES)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'anomaly_types' must list 2..%d anomaly types",
                           DBP_REC_MAX_SUBTYPES);
    struct dbp_rec_req rq = {0};
    const cJSON *t;
    cJSON_ArrayForEach (t, ta) {
        if (!cJSON_IsString(t))
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'anomaly_types' must list names");
        if ((rc = check_type(req, "anomaly_types", t->valuestring)))
            return rc;
        for (int i = 0; i < rq.nsubtypes; i++)
            if (!strcmp(rq.subtypes[i], t->valuestring))
                return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'anomaly_types' repeats '%.40s'",
                                   t->valuestring);
        rq.subtypes[rq.nsubtypes++] = t->valuestring;
    }
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(b, "node");
    if ((rc = dbp_json_str(req, b, nv && !cJSON_IsNull(nv) ? "node" : "target_node", false, 63,
                           &node)) ||
        (rc = dbp_json_str(req, b, "severity", false, 7, &sev)) ||
        (rc = dbp_json_str(req, b, "scenario", false, 63, &scen)) ||
        (rc = dbp_json_int(req, b, "duration", false, 10, 86400, &dur)) ||
        (rc = dbp_json_bool(req, b, "inject", false, &inject)))
        return rc;
    if (node && !*node)
        node = NULL;
    if ((rc = check_node(req, "node", node)))
        return rc;
    if (sev && dbp_anomaly_severity_index(sev) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'severity' must be \"low\", \"medium\" or \"high\"");
    if (scen && !dbp_label_type_ok(scen))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'scenario' must be 1..63 characters of [A-Za-z0-9_.:-]");
    if (inject && !node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'node' is required with inject: true");
    rq.type = "compound";
    rq.node = node;
    rq.scenario = scen;
    /* The original announced 270 s (180 s + 50 %) for compound cases. */
    rq.duration_s = dur ? (double)dur : 270;
    cJSON *o = NULL;
    if ((rc = need(req, &r)) || (rc = dbp_recorder_begin(r, &rq, &o, &req->err)))
        return rc;
    cJSON *out = cJSON_CreateObject();
    char msg[160];
    snprintf(msg, sizeof(msg), "Started compound anomaly collection with %d anomaly types",
             rq.nsubtypes);
    cJSON_AddStringToObject(out, "status", "success");
    cJSON_AddStringToObject(out, "message", msg);
    cJSON *tl = cJSON_AddArrayToObject(out, "types");
    for (int i = 0; i < rq.nsubtypes; i++)
        cJSON_AddItemToArray(tl, cJSON_CreateString(rq.subtypes[i]));
    cJSON_AddStringToObject(out, "node", node ? node : "from the fault registry");
    cJSON_AddNumberToObject(out, "expected_duration", rq.duration_s);
    cJSON_AddStringToObject(out, "note",
                            "Collection period is extended by 50% for compound anomalies to "
                            "ensure sufficient data");
    cJSON_AddItemToObject(out, "collection", o);
    if ((rc = maybe_inject(req, inject, rq.subtypes, rq.nsubtypes, node, sev,
                           (int)fmax(5, rq.duration_s * 0.8), out))) {
        dbp_recorder_reset(r, NULL);
        cJSON_Delete(out);
        return rc;
    }
    dbp_resp_json(resp, 200, out);
    return 0;
}

static int end_case(struct dbp_req *req, struct dbp_resp *resp, enum dbp_rec_which which,
                    const char *ok_msg)
{
    static const char *const fields[] = {"save_post_data", NULL};
    struct dbp_recorder *r;
    const cJSON *b = NULL;
    bool save_post = true;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, false, &b)) ||
        (b && (rc = dbp_json_only(req, b, fields))) ||
        (b && (rc = dbp_json_bool(req, b, "save_post_data", false, &save_post))) ||
        (rc = need(req, &r)))
        return rc;
    cJSON *res = NULL;
    rc = dbp_recorder_end(r, which, save_post, &res, &req->err);
    if (rc == DBP_ENOTFOUND)
        return dbp_err_set(&req->err, DBP_EBUSY, "%s",
                           which == DBP_REC_NORMAL ? "Normal state collection is not in progress"
                                                   : "No anomaly collection was in progress");
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", ok_msg);
    cJSON_AddItemToObject(o, "case", res);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_stop(struct dbp_req *req, struct dbp_resp *resp)
{
    return end_case(req, resp, DBP_REC_ANOMALY, "Stopped training data collection");
}

static int h_normal_stop(struct dbp_req *req, struct dbp_resp *resp)
{
    return end_case(req, resp, DBP_REC_NORMAL, "Stopped normal state data collection");
}

static int h_normal_start(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"duration", "scenario", NULL};
    struct dbp_recorder *r;
    const cJSON *b = NULL;
    const char *scen = NULL;
    long long dur = 0;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, false, &b)) ||
        (b && (rc = dbp_json_only(req, b, fields))) ||
        (b && (rc = dbp_json_int(req, b, "duration", false, 10, 86400, &dur))) ||
        (b && (rc = dbp_json_str(req, b, "scenario", false, 63, &scen))))
        return rc;
    if (scen && !dbp_label_type_ok(scen))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "field 'scenario' must be 1..63 characters of [A-Za-z0-9_.:-]");
    if ((rc = need(req, &r)))
        return rc;
    struct dbp_rec_req rq = {0};
    rq.normal = true;
    rq.scenario = scen;
    rq.duration_s = (double)dur;
    cJSON *c = NULL;
    if ((rc = dbp_recorder_begin(r, &rq, &c, &req->err)))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", "Started normal state data collection");
    cJSON_AddItemToObject(o, "collection", c);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_collection_status(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_recorder *r;
    int rc = need(req, &r);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_recorder_status_json(r));
    return 0;
}

static int h_stats(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_recorder *r;
    int rc = need(req, &r);
    if (rc)
        return rc;
    char dir[DBP_PATH_MAX];
    dbp_recorder_data_dir(r, dir, sizeof(dir));
    cJSON *st = NULL;
    if ((rc = dbp_dataset_stats(dir, &st, &req->err)))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddItemToObject(o, "stats", st);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_reset(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_recorder *r;
    int rc = need(req, &r);
    if (rc)
        return rc;
    cJSON *prev = NULL;
    dbp_recorder_reset(r, &prev);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", "Training state reset successfully");
    cJSON_AddItemToObject(o, "previous_state", prev);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_force_reset(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_recorder *r;
    int rc = need(req, &r);
    if (rc)
        return rc;
    cJSON *prev = NULL;
    dbp_recorder_reset(r, &prev);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", "Collection state forcefully reset");
    cJSON_AddItemToObject(o, "previous_state", prev);
    cJSON *cur = cJSON_AddObjectToObject(o, "current_state");
    cJSON_AddBoolToObject(cur, "anomaly_collection", false);
    cJSON_AddBoolToObject(cur, "normal_collection", false);
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_process_status(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_recorder *r;
    int rc = need(req, &r);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "training_in_progress",
                          req->app->jobs && dbp_jobs_active(req->app->jobs, "train") > 0);
    cJSON_AddBoolToObject(o, "anomaly_collection_in_progress",
                          dbp_recorder_open(r, DBP_REC_ANOMALY));
    cJSON_AddBoolToObject(o, "normal_collection_in_progress", dbp_recorder_open(r, DBP_REC_NORMAL));
    cJSON_AddBoolToObject(o, "experiment_in_progress",
                          req->app->jobs && dbp_jobs_active(req->app->jobs, "experiment") > 0);
    dbp_resp_json(resp, 200, o);
    return 0;
}

/*
 * POST /api/training/auto_balance {inject: false}: the original's decision
 * (reference §6.3) on the recorded cases - a normal collection when normal
 * data is under 30 %, else an anomaly collection of the least represented
 * type on the node it was least recorded on.  With "inject": true the
 * chosen fault is also injected (otherwise the collection waits for one).
 */
static int h_auto_balance(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"inject", "duration", "types", NULL};
    struct dbp_recorder *r;
    const cJSON *b = NULL;
    bool inject = false;
    long long dur = 0;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, false, &b)) ||
        (b && (rc = dbp_json_only(req, b, fields))) ||
        (b && (rc = dbp_json_bool(req, b, "inject", false, &inject))) ||
        (b && (rc = dbp_json_int(req, b, "duration", false, 10, 86400, &dur))))
        return rc;
    const char *types[16];
    int ntypes = 0;
    const cJSON *ta = b ? cJSON_GetObjectItemCaseSensitive(b, "types") : NULL;
    if (ta && !cJSON_IsNull(ta)) {
        const cJSON *t;
        if (!cJSON_IsArray(ta) || cJSON_GetArraySize(ta) < 1 || cJSON_GetArraySize(ta) > 16)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'types' must list 1..16 types");
        cJSON_ArrayForEach (t, ta) {
            if (!cJSON_IsString(t) || (rc = check_type(req, "types", t->valuestring)))
                return rc ? rc : dbp_err_set(&req->err, DBP_ESCHEMA, "field 'types' must list names");
            types[ntypes++] = t->valuestring;
        }
    } else {
        /* The original's five experiment types. */
        static const char *const five[] = {"cpu_stress", "io_bottleneck", "network_bottleneck",
                                           "cache_bottleneck", "too_many_indexes"};
        for (int i = 0; i < 5; i++)
            types[ntypes++] = five[i];
    }
    if ((rc = need(req, &r)))
        return rc;
    if (dbp_recorder_open(r, DBP_REC_ANY))
        return dbp_err_set(&req->err, DBP_EBUSY, "Collection already in progress");
    char dir[DBP_PATH_MAX];
    dbp_recorder_data_dir(r, dir, sizeof(dir));
    cJSON *st = NULL;
    if ((rc = dbp_dataset_stats(dir, &st, &req->err)))
        return rc;
    double normal_ratio = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "normal_ratio"));
    double total = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "total_samples"));
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(st, "anomaly_types");
    cJSON *o = cJSON_CreateObject();
    cJSON *action = cJSON_AddObjectToObject(o, "action_taken");
    if (total > 0 && normal_ratio < 0.3) {
        struct dbp_rec_req rq = {0};
        rq.normal = true;
        rq.duration_s = dur ? (double)dur : 180;
        cJSON *c = NULL;
        if ((rc = dbp_recorder_begin(r, &rq, &c, &req->err))) {
            cJSON_Delete(o);
            cJSON_Delete(st);
            return rc;
        }
        cJSON_AddStringToObject(action, "action", "normal_collection");
        cJSON_AddItemToObject(action, "collection", c);
        cJSON_AddStringToObject(o, "status", "success");
        cJSON_AddStringToObject(o, "message", "Started normal collection: normal data is under 30%");
    } else {
        /* The least represented type (fewest entries), ties in list order. */
        int best = -1;
        double bestn = INFINITY;
        for (int i = 0; i < ntypes; i++) {
            double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(at, types[i]));
            if (isnan(n))
                n = 0;
            if (n < bestn) {
                bestn = n;
                best = i;
            }
        }
        double anomalies = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "anomaly"));
        double min_target = fmax(10, (isnan(anomalies) ? 0 : anomalies) / (ntypes * 2.0));
        if (best < 0 || bestn >= min_target * 3) {
            cJSON_AddStringToObject(action, "action", "none");
            cJSON_AddStringToObject(o, "status", "success");
            cJSON_AddStringToObject(o, "message", "Dataset is already well-balanced");
        } else {
            /* The node this type was recorded on least often. */
            const char *node = NULL;
            cJSON *nodes = req->app->anomalies ? dbp_anomalies_nodes_json(req->app->anomalies)
                                               : cJSON_CreateArray();
            const cJSON *per = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(st, "fault_types_by_node"), types[best]);
            double fewest = INFINITY;
            const cJSON *n;
            cJSON_ArrayForEach (n, nodes) {
                double c = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(per, n->valuestring));
                if (isnan(c))
                    c = 0;
                if (c < fewest) {
                    fewest = c;
                    node = n->valuestring;
                }
            }
            struct dbp_rec_req rq = {0};
            rq.type = types[best];
            rq.node = node;
            rq.duration_s = (double)dur;
            cJSON *c = NULL;
            if ((rc = dbp_recorder_begin(r, &rq, &c, &req->err))) {
                cJSON_Delete(nodes);
                cJSON_Delete(o);
                cJSON_Delete(st);
                return rc;
            }
            double left = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "expected_duration"));
            cJSON_AddStringToObject(action, "action", "anomaly_collection");
            cJSON_AddStringToObject(action, "type", types[best]);
            if (node)
                cJSON_AddStringToObject(action, "node", node);
            cJSON_AddItemToObject(action, "collection", c);
            const char *one[1] = {types[best]};
            if (inject && node &&
                (rc = maybe_inject(req, true, one, 1, node, NULL,
                                   (int)fmax(5, isnan(left) ? 60 : left * 0.8), action))) {
                dbp_recorder_reset(r, NULL);
                cJSON_Delete(nodes);
                cJSON_Delete(o);
                cJSON_Delete(st);
                return rc;
            }
            char msg[200];
            snprintf(msg, sizeof(msg), "Started anomaly collection for underrepresented type %s%s",
                     types[best], inject ? " and injected it" : "; inject it to label the case");
            cJSON_AddStringToObject(o, "status", inject ? "success" : "warning");
            cJSON_AddStringToObject(o, "message", msg);
            cJSON_Delete(nodes);
        }
    }
    cJSON_AddItemToObject(o, "stats", st);
    dbp_resp_json(resp, 200, o);
    return 0;
}

/* ---- /api/experiments ------------------------------------------------------------ */

static int need_x(struct dbp_req *req, struct dbp_experiments **out)
{
    *out = req->app->experiments;
    if (!*out)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "campaigns are not available in this daemon");
    return 0;
}

static int h_exp_submit(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_experiments *x;
    const cJSON *b = NULL;
    struct dbp_exp_req rq;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, false, &b)) ||
        (rc = dbp_exp_req_parse(b, &rq, &req->err)) || (rc = need_x(req, &x)))
        return rc;
    char id[DBP_JOB_ID_LEN];
    cJSON *plan = NULL;
    if ((rc = dbp_experiments_submit(x, &rq, id, &plan, &req->err)))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "accepted");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "message", "Campaign started in the background");
    cJSON_AddItemToObject(o, "plan", plan);
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/experiments/%s", id);
    dbp_resp_header(resp, "Location", loc);
    dbp_resp_json(resp, 202, o);
    return 0;
}

static int h_exp_list(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_experiments *x;
    int rc = need_x(req, &x);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "experiments", dbp_experiments_list(x));
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_exp_get(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_experiments *x;
    cJSON *o = NULL;
    int rc = need_x(req, &x);
    if (rc || (rc = dbp_experiments_get(x, dbp_req_param(req, "id"), &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_exp_report(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_experiments *x;
    char *md = NULL;
    size_t len = 0;
    int rc = need_x(req, &x);
    if (rc || (rc = dbp_experiments_report_md(x, dbp_req_param(req, "id"), &md, &len, &req->err)))
        return rc;
    dbp_resp_text(resp, 200, "text/markdown; charset=utf-8", md, len);
    return 0;
}

static int h_exp_cancel(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_experiments *x;
    int rc = need_x(req, &x);
    if (rc || (rc = dbp_experiments_cancel(x, dbp_req_param(req, "id"), &req->err)))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message",
                            "Campaign cancelled: the fault in flight is being reverted");
    dbp_resp_json(resp, 202, o);
    return 0;
}

/*
 * The original's /api/anomaly aliases of the training routes (reference
 * §2.2 rows 7-14): 307 keeps the method and body, so the dashboard's calls
 * land on /api/training/... unchanged.
 */
static const struct {
    const char *from, *to;
} aliases[] = {
    {"/api/anomaly/train", "/api/training/train"},
    {"/api/anomaly/normal/start", "/api/training/normal/start"},
    {"/api/anomaly/normal/stop", "/api/training/normal/stop"},
    {"/api/anomaly/collection-status", "/api/training/collection-status"},
    {"/api/anomaly/training/stats", "/api/training/stats"},
    {"/api/anomaly/training/auto_balance", "/api/training/auto_balance"},
    {"/api/anomaly/training/collect", "/api/training/collect"},
    {"/api/anomaly/training/stop", "/api/training/stop"},
};

static int h_alias(struct dbp_req *req, struct dbp_resp *resp)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (!strcmp(req->route->pattern, aliases[i].from)) {
            dbp_resp_header(resp, "Location", aliases[i].to);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "detail", "moved to the /api/training route");
            cJSON_AddStringToObject(o, "location", aliases[i].to);
            dbp_resp_json(resp, 307, o);
            return 0;
        }
    return dbp_err_set(&req->err, DBP_EINTERNAL, "no alias for %s", req->route->pattern);
}

#define JB DBP_R_JSON_BODY
const struct dbp_route dbp_api_training_routes[] = {
    {DBP_POST, "/api/anomaly/train", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384, "307 to /api/training/train (the original's alias)",
     "training"},
    {DBP_POST, "/api/anomaly/normal/start", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384, "307 to /api/training/normal/start",
     "training"},
    {DBP_POST, "/api/anomaly/normal/stop", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384, "307 to /api/training/normal/stop",
     "training"},
    {DBP_GET, "/api/anomaly/collection-status", h_alias, 0, 0,
     "307 to /api/training/collection-status", "training"},
    {DBP_GET, "/api/anomaly/training/stats", h_alias, 0, 0, "307 to /api/training/stats",
     "training"},
    {DBP_POST, "/api/anomaly/training/auto_balance", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384,
     "307 to /api/training/auto_balance", "training"},
    {DBP_POST, "/api/anomaly/training/collect", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384, "307 to /api/training/collect",
     "training"},
    {DBP_POST, "/api/anomaly/training/stop", h_alias, DBP_R_JSON_BODY | DBP_R_MUTATES, 16384, "307 to /api/training/stop",
     "training"},
    {DBP_POST, "/api/training/collect", h_collect, JB | DBP_R_MUTATES | DBP_R_BODY_REQUIRED, 4096,
     "Open an anomaly case (labels come from the fault registry; inject: true also injects)",
     "training"},
    {DBP_POST, "/api/training/stop", h_stop, JB | DBP_R_MUTATES, 1024,
     "Close the anomaly case, label it from the fault registry and save it ({save_post_data})",
     "training"},
    {DBP_POST, "/api/training/normal/start", h_normal_start, JB | DBP_R_MUTATES, 1024,
     "Open a normal-state case ({duration, scenario})", "training"},
    {DBP_POST, "/api/training/normal/stop", h_normal_stop, JB | DBP_R_MUTATES, 1024,
     "Close and save the normal-state case", "training"},
    {DBP_POST, "/api/training/compound", h_compound, JB | DBP_R_MUTATES | DBP_R_BODY_REQUIRED, 4096,
     "Open a compound case ({anomaly_types: [>= 2], node, duration, inject})", "training"},
    {DBP_GET, "/api/training/stats", h_stats, 0, 0,
     "Dataset statistics of training.data_dir (normal/anomaly entries, per type)", "training"},
    {DBP_POST, "/api/training/auto_balance", h_auto_balance, JB | DBP_R_MUTATES, 4096,
     "Start the collection the dataset lacks most ({inject, duration, types})", "training"},
    {DBP_GET, "/api/training/collection-status", h_collection_status, 0, 0,
     "The open case, its samples, the last case written", "training"},
    {DBP_POST, "/api/training/reset", h_reset, JB | DBP_R_MUTATES, 1024,
     "Drop the open case without saving it", "training"},
    {DBP_POST, "/api/training/force-reset", h_force_reset, JB | DBP_R_MUTATES, 1024,
     "Drop the open case; previous and current state", "training"},
    {DBP_GET, "/api/training/process-status", h_process_status, 0, 0,
     "Training, collection and campaign flags", "training"},
    {DBP_POST, "/api/experiments", h_exp_submit, JB | DBP_R_MUTATES | DBP_R_ASYNC, 8192,
     "Run a diagnosis campaign (scenario groups x repetitions, train, report)", "experiments"},
    {DBP_GET, "/api/experiments", h_exp_list, 0, 0, "Campaigns, newest first", "experiments"},
    {DBP_GET, "/api/experiments/{id}", h_exp_get, 0, 0,
     "One campaign: progress, plan, report (AC@k per group, baselines, chance)", "experiments"},
    {DBP_GET, "/api/experiments/{id}/report", h_exp_report, DBP_R_TEXT, 0,
     "The campaign's Markdown report", "experiments"},
    {DBP_DELETE, "/api/experiments/{id}", h_exp_cancel, DBP_R_MUTATES, 0,
     "Cancel a campaign (the fault in flight is reverted)", "experiments"},
};
const size_t dbp_api_training_nroutes =
    sizeof(dbp_api_training_routes) / sizeof(dbp_api_training_routes[0]);
