/*
 * models_api.c - diagnosis routes: /api/models/... (reference §2.6), the
 * training trigger and status of /api/training (§2.5 rows 8-9), the
 * ranking and compound views of /api/anomaly (§2.2 rows 5-6), and
 * POST /api/diagnosis for a time range.  Thin adapters over ml.h.
 *
 * Scores are PageRank x probability without the original's softmax: the
 * softmax over N x L products in [0, 1] flattened every score to about
 * 1/(L*N), so no threshold could separate a root cause from a bystander.
 */
#define _GNU_SOURCE
#include "dbp/app.h"
#include "dbp/ml.h"
#include "dbp/model.h"
#include "dbp/rank.h"
#include "dbp/rooter.h"
#include "dbp/util.h"
#include "api_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static int need(struct dbp_req *req, struct dbp_ml **out)
{
    *out = req->app->ml;
    if (!*out)
        return dbp_err_set(&req->err, DBP_EUNAVAIL, "the diagnosis module is not running");
    return 0;
}

static int threshold_param(struct dbp_req *req, double *out)
{
    const char *v = dbp_req_query(req, "threshold");
    *out = 0.001;
    if (v && (dbp_parse_double(v, out) || !isfinite(*out) || *out < 0))
        return dbp_err_set(&req->err, DBP_ESCHEMA,
                           "query parameter 'threshold' must be a number >= 0");
    return 0;
}

/* languages=English&languages=Chinese, languages[]=..., or comma-separated. */
static int langs_param(struct dbp_req *req, int *out)
{
    const char *v[16];
    int n = dbp_req_query_all(req, "languages", v, 8);
    n += dbp_req_query_all(req, "languages[]", v + n, 8);
    *out = 0;
    for (int i = 0; i < n; i++) {
        char buf[256];
        dbp_strlcpy(buf, v[i], sizeof(buf));
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            int f = dbp_lang_from_name(t);
            if (!f)
                return dbp_err_set(&req->err, DBP_ESCHEMA,
                                   "language '%s' is not supported (English, Chinese)", t);
            *out |= f;
        }
    }
    if (!*out)
        *out = DBP_LANG_EN | DBP_LANG_ZH; /* the original's default: ["Chinese", "English"] */
    return 0;
}

static int h_list(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_ml *ml;
    cJSON *o = NULL;
    int rc = need(req, &ml);
    if (rc || (rc = dbp_ml_models_list(ml, &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_active(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_ml *ml;
    int rc = need(req, &ml);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_ml_status_json(ml));
    return 0;
}

static int h_performance(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_ml *ml;
    cJSON *o = NULL;
    int rc = need(req, &ml);
    if (rc || (rc = dbp_ml_model_performance(ml, dbp_req_param(req, "model_name"), &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_validate(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"model_name", NULL};
    struct dbp_ml *ml;
    const cJSON *body = NULL;
    const char *name = NULL;
    cJSON *o = NULL;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, true, &body)) ||
        (rc = dbp_json_only(req, body, fields)) ||
        (rc = dbp_json_str(req, body, "model_name", true, DBP_MODEL_NAME_MAX, &name)) ||
        (rc = need(req, &ml)) || (rc = dbp_ml_model_validate(ml, name, &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

/* GET /api/models/ranks?model_names=a&model_names=b&threshold=0.001 */
static int h_model_ranks(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"model_names", "model_names[]", "threshold", NULL};
    struct dbp_ml *ml;
    const char *names[32];
    double thr;
    int rc;
    /* The query is checked before the service. */
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    if ((rc = need(req, &ml)))
        return rc;
    if ((rc = threshold_param(req, &thr)))
        return rc;
    int n = dbp_req_query_all(req, "model_names", names, 16);
    n += dbp_req_query_all(req, "model_names[]", names + n, 16);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < (n ? n : 1); i++) {
        struct dbp_ml_diag_req rq;
        cJSON *d = NULL;
        struct dbp_err e = {0};
        dbp_ml_diag_req_init(&rq);
        rq.model = n ? names[i] : NULL;
        rq.threshold = thr;
        rq.publish = n == 0;
        rc = dbp_ml_diagnose(ml, &rq, &d, &e);
        if (rc == DBP_ENOTFOUND && n) {
            cJSON *x = cJSON_AddObjectToObject(o, names[i]);
            cJSON_AddStringToObject(x, "error", e.msg);
            cJSON_AddArrayToObject(x, "ranks");
            continue;
        }
        if (rc) {
            cJSON_Delete(o);
            req->err = e;
            return rc;
        }
        const char *key = n ? names[i] : cJSON_GetStringValue(cJSON_GetObjectItem(d, "model"));
        cJSON *x = cJSON_AddObjectToObject(o, key ? key : "default");
        cJSON_AddItemToObject(x, "ranks", cJSON_DetachItemFromObject(d, "all_ranked_anomalies"));
        cJSON_AddItemToObject(x, "propagation_graph",
                              cJSON_DetachItemFromObject(d, "propagation_graph"));
        cJSON_AddItemToObject(x, "node_names", cJSON_DetachItemFromObject(d, "node_names"));
        cJSON_AddItemToObject(x, "baselines", cJSON_DetachItemFromObject(d, "baselines"));
        cJSON_AddItemToObject(x, "timestamp", cJSON_DetachItemFromObject(d, "timestamp"));
        cJSON_Delete(d);
    }
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int node_required(struct dbp_req *req, const char **node)
{
    *node = dbp_req_query(req, "node");
    if (!*node || !**node)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "query parameter 'node' is required");
    return 0;
}

/* model_name is accepted and ignored, like the original: MetricRooter
 * works on the metrics, not on a model. */
static int h_metrics_ranks(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"node", "model_name", "languages", "languages[]", NULL};
    struct dbp_ml *ml;
    const char *node;
    int langs, rc;
    cJSON *o = NULL;
    /* The query is checked before the service. */
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    if ((rc = need(req, &ml)))
        return rc;
    if ((rc = node_required(req, &node)) || (rc = langs_param(req, &langs)) ||
        (rc = dbp_ml_metrics_ranks(ml, node, langs, &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_metrics_summary(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"node", "model_name", "languages", "languages[]", NULL};
    struct dbp_ml *ml;
    const char *node;
    int langs, rc;
    cJSON *o = NULL;
    /* The query is checked before the service. */
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    if ((rc = need(req, &ml)))
        return rc;
    if ((rc = node_required(req, &node)) || (rc = langs_param(req, &langs)) ||
        (rc = dbp_ml_metrics_ranks(ml, node, langs, &o, &req->err)))
        return rc;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddItemToObject(s, "summary", cJSON_DetachItemFromObject(o, "summary"));
    cJSON_AddItemToObject(s, "actions", cJSON_DetachItemFromObject(o, "actions"));
    cJSON_AddItemToObject(s, "node", cJSON_DetachItemFromObject(o, "node"));
    cJSON_AddStringToObject(s, "generator", "template");
    cJSON_Delete(o);
    dbp_resp_json(resp, 200, s);
    return 0;
}

static int h_train(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"window",  "stride",        "rounds",  "max_depth",
                                         "eta",     "test_fraction", "seed",    "pagerank",
                                         "classes", "max_windows",   "nthread", NULL};
    struct dbp_ml *ml;
    const cJSON *body = NULL;
    long long v;
    const char *cls[64];
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, false, &body)) ||
        (rc = dbp_json_only(req, body, fields)))
        return rc;
    struct dbp_ml_train_req rq = {.test_fraction = -1, .seed = -1, .pagerank = -1};
    v = 0;
    if ((rc = dbp_json_int(req, body, "window", false, 2, 720, &v)))
        return rc;
    rq.window = (int)v;
    v = 0;
    if ((rc = dbp_json_int(req, body, "stride", false, 1, 720, &v)))
        return rc;
    rq.stride = (int)v;
    v = 0;
    if ((rc = dbp_json_int(req, body, "rounds", false, 1, 5000, &v)))
        return rc;
    rq.rounds = (int)v;
    v = 0;
    if ((rc = dbp_json_int(req, body, "max_depth", false, 1, 20, &v)))
        return rc;
    rq.max_depth = (int)v;
    v = 0;
    if ((rc = dbp_json_int(req, body, "nthread", false, 1, 16, &v)))
        return rc;
    rq.nthread = (int)v;
    v = -1;
    if ((rc = dbp_json_int(req, body, "seed", false, 0, 4294967295LL, &v)))
        return rc;
    rq.seed = v;
    v = 0;
    if ((rc = dbp_json_int(req, body, "max_windows", false, 1, 2000000, &v)))
        return rc;
    rq.max_rows = (size_t)v;
    if ((rc = dbp_json_num(req, body, "eta", false, 1e-6, 1, &rq.eta)) ||
        (rc = dbp_json_num(req, body, "test_fraction", false, 0, 0.9, &rq.test_fraction)))
        return rc;
    const char *pr = NULL;
    if ((rc = dbp_json_str(req, body, "pagerank", false, 32, &pr)))
        return rc;
    if (pr && (rq.pagerank = dbp_pr_form_from_name(pr)) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'pagerank' must be normalised or paper");
    const cJSON *ca = body ? cJSON_GetObjectItemCaseSensitive(body, "classes") : NULL;
    if (ca && !cJSON_IsNull(ca)) {
        if (!cJSON_IsArray(ca) || cJSON_GetArraySize(ca) < 1 || cJSON_GetArraySize(ca) > 64)
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'classes' must be an array of 1..64 anomaly types");
        const cJSON *c;
        cJSON_ArrayForEach (c, ca) {
            if (!cJSON_IsString(c) || !dbp_label_type_ok(c->valuestring))
                return dbp_err_set(&req->err, DBP_ESCHEMA,
                                   "field 'classes' must hold anomaly type names");
            cls[rq.nclasses++] = c->valuestring;
        }
        rq.classes = cls;
    }
    char id[DBP_JOB_ID_LEN];
    if ((rc = need(req, &ml)) || (rc = dbp_ml_train_submit(ml, &rq, id, &req->err)))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "accepted");
    cJSON_AddStringToObject(o, "message", "Training started in the background");
    dbp_resp_accepted(resp, id, o);
    return 0;
}

static int h_train_status(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_ml *ml;
    int rc = need(req, &ml);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_ml_training_status(ml));
    return 0;
}

static int current(struct dbp_req *req, struct dbp_ml *ml, double thr, cJSON **out)
{
    struct dbp_ml_diag_req rq;
    dbp_ml_diag_req_init(&rq);
    rq.threshold = thr;
    rq.publish = true;
    return dbp_ml_diagnose(ml, &rq, out, &req->err);
}

static int h_anomaly_ranks(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"threshold", NULL};
    struct dbp_ml *ml;
    double thr;
    cJSON *d = NULL;
    int rc;
    /* The query is checked before the service. */
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    if ((rc = need(req, &ml)))
        return rc;
    if ((rc = threshold_param(req, &thr)) || (rc = current(req, ml, thr, &d)))
        return rc;
    dbp_resp_json(resp, 200, cJSON_DetachItemFromObject(d, "all_ranked_anomalies"));
    cJSON_Delete(d);
    return 0;
}

static int h_compound(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const q[] = {"threshold", NULL};
    struct dbp_ml *ml;
    double thr;
    cJSON *d = NULL;
    int rc;
    /* The query is checked before the service. */
    if (dbp_req_unknown_query(req, q))
        return DBP_ESCHEMA;
    if ((rc = need(req, &ml)))
        return rc;
    if ((rc = threshold_param(req, &thr)) || (rc = current(req, ml, thr, &d)))
        return rc;
    dbp_resp_json(resp, 200, cJSON_DetachItemFromObject(d, "compound"));
    cJSON_Delete(d);
    return 0;
}

static int time_field(struct dbp_req *req, const cJSON *body, const char *f, double *out)
{
    const cJSON *v = body ? cJSON_GetObjectItemCaseSensitive(body, f) : NULL;
    *out = NAN;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        *out = v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && dbp_parse_time(v->valuestring, out) == 0)
        return 0;
    return dbp_err_set(&req->err, DBP_ESCHEMA,
                       "field '%s' must be an ISO-8601 time or unix seconds", f);
}

static int h_diagnosis(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"start",     "end",      "model_name", "source",
                                         "threshold", "pagerank", NULL};
    struct dbp_ml *ml;
    const cJSON *body = NULL;
    struct dbp_ml_diag_req rq;
    const char *src = NULL, *pr = NULL;
    cJSON *o = NULL;
    int rc;
    dbp_ml_diag_req_init(&rq);
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, true, &body)) ||
        (rc = dbp_json_only(req, body, fields)) ||
        (rc = time_field(req, body, "start", &rq.start)) ||
        (rc = time_field(req, body, "end", &rq.end)) ||
        (rc = dbp_json_str(req, body, "model_name", false, DBP_MODEL_NAME_MAX, &rq.model)) ||
        (rc = dbp_json_str(req, body, "source", false, 16, &src)) ||
        (rc = dbp_json_str(req, body, "pagerank", false, 16, &pr)) ||
        (rc = dbp_json_num(req, body, "threshold", false, 0, 1e9, &rq.threshold)))
        return rc;
    if (src) {
        if (!strcmp(src, "ring"))
            rq.source = DBP_SRC_RING;
        else if (!strcmp(src, "prometheus"))
            rq.source = DBP_SRC_PROMETHEUS;
        else if (strcmp(src, "auto"))
            return dbp_err_set(&req->err, DBP_ESCHEMA,
                               "field 'source' must be ring, prometheus or auto");
    }
    if (pr && (rq.pagerank = dbp_pr_form_from_name(pr)) < 0)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field 'pagerank' must be normalised or paper");
    if (isfinite(rq.start) && isfinite(rq.end) && rq.start > rq.end)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "'start' is after 'end'");
    /* Without 'end' the range ends now (dbp_ml_diagnose). */
    if (isfinite(rq.start) && !isfinite(rq.end) && rq.start > dbp_wall_s())
        return dbp_err_set(&req->err, DBP_ESCHEMA, "'start' is in the future");
    if ((rc = need(req, &ml)) || (rc = dbp_ml_diagnose(ml, &rq, &o, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, o);
    return 0;
}

static int h_continuous_get(struct dbp_req *req, struct dbp_resp *resp)
{
    struct dbp_ml *ml;
    int rc = need(req, &ml);
    if (rc)
        return rc;
    dbp_resp_json(resp, 200, dbp_ml_continuous_state(ml));
    return 0;
}

static int h_continuous_set(struct dbp_req *req, struct dbp_resp *resp)
{
    static const char *const fields[] = {"enabled", "interval_s", NULL};
    struct dbp_ml *ml;
    const cJSON *body = NULL;
    bool on = false;
    double iv = 10;
    cJSON *st = NULL;
    int rc;
    /* The request is checked before the service: a bad body is a 4xx
     * whether or not the module runs. */
    if ((rc = dbp_json_body_object(req, true, &body)) ||
        (rc = dbp_json_only(req, body, fields)) ||
        (rc = dbp_json_bool(req, body, "enabled", true, &on)) ||
        (rc = dbp_json_num(req, body, "interval_s", false, 1, 3600, &iv)) ||
        (rc = need(req, &ml)) || (rc = dbp_ml_continuous(ml, on, iv, &st, &req->err)))
        return rc;
    dbp_resp_json(resp, 200, st);
    return 0;
}

#define JB DBP_R_JSON_BODY

const struct dbp_route dbp_api_models_routes[] = {
    {DBP_GET, "/api/models/list", h_list, 0, 0, "Trained models, newest first", "models"},
    {DBP_GET, "/api/models/active", h_active, 0, 0,
     "The active model, training status and continuous diagnosis state", "models"},
    {DBP_GET, "/api/models/{model_name}/performance", h_performance, 0, 0,
     "Evaluation of a model: precision/recall/F1 per type, AC@1/3/5 vs baselines", "models"},
    {DBP_POST, "/api/models/validate", h_validate, JB | DBP_R_MUTATES | DBP_R_BODY_REQUIRED, 4096,
     "Load and check a model ({model_name})", "models"},
    {DBP_GET, "/api/models/ranks", h_model_ranks, 0, 0,
     "Ranked <node, type> root causes of the current window per model "
     "(?model_names=&threshold=)",
     "models"},
    {DBP_GET, "/api/models/metrics_ranks", h_metrics_ranks, 0, 0,
     "MetricRooter: anomalous metrics of a node ranked by weighted PageRank (?node=)", "models"},
    {DBP_GET, "/api/models/metrics_summary", h_metrics_summary, 0, 0,
     "Plain-text summary and actions for a node's anomalous metrics (?node=&languages=)", "models"},
    {DBP_POST, "/api/models/train", h_train, JB | DBP_R_MUTATES | DBP_R_ASYNC, 16384,
     "Train boosters on the case directories of training.data_dir", "models"},
    {DBP_POST, "/api/training/train", h_train, JB | DBP_R_MUTATES | DBP_R_ASYNC, 16384,
     "Train boosters on the recorded cases (the original's path)", "training"},
    {DBP_GET, "/api/training/training-status", h_train_status, 0, 0,
     "TrainingStatus {stage, progress, message, error, stats}", "training"},
    {DBP_GET, "/api/anomaly/ranks", h_anomaly_ranks, 0, 0,
     "Ranked <node, type> root causes of the current window (?threshold=)", "anomaly"},
    {DBP_GET, "/api/anomaly/compound", h_compound, 0, 0,
     "Compound anomalies: high-ranked pairs, propagation graph", "anomaly"},
    {DBP_POST, "/api/diagnosis", h_diagnosis, JB | DBP_R_MUTATES | DBP_R_BODY_REQUIRED, 4096,
     "Diagnose a time range ({start, end, model_name, source: ring|prometheus|auto})", "diagnosis"},
    {DBP_GET, "/api/diagnosis/continuous", h_continuous_get, 0, 0,
     "State of the continuous diagnosis", "diagnosis"},
    {DBP_POST, "/api/diagnosis/continuous", h_continuous_set,
     JB | DBP_R_MUTATES | DBP_R_BODY_REQUIRED, 4096,
     "Turn continuous diagnosis on/off ({enabled, interval_s})", "diagnosis"},
};
const size_t dbp_api_models_nroutes =
    sizeof(dbp_api_models_routes) / sizeof(dbp_api_models_routes[0]);
