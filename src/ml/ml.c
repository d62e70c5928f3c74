/*
 * ml.c - the diagnosis service (see ml.h).
 *
 * DESIGN
 * - Data in: a "grid" of N nodes x M model metrics x K samples, oldest
 *   first, right-aligned by sample count (the layout and alignment of
 *   dbp_collector_window()).  It comes from the collector's ring (the
 *   current window, or the points inside a range) or from Prometheus
 *   (dbpecker_metric_value{node=...}, step = collector interval).  Metrics
 *   are mapped by name from the model's feature order to the source, so a
 *   model keeps working when the catalog gains or reorders metrics.
 * - One window -> features (features.h) -> probabilities (model.h) ->
 *   Pearson edges, PageRank, ranking (rank.h) -> JSON.  Nodes without a
 *   single sample in the window are left out and listed as missing: zero
 *   features would otherwise look like a very quiet node.
 * - Training: a job (jobs.h) runs dbp_ml_train_run(); the new model is
 *   saved, then swapped in as the active model under ml->lock; requests
 *   that hold a reference to the old one finish with it.
 * - Locks: ml->lock guards the fields below it; it is never held across a
 *   collector, Prometheus, file or XGBoost call.  The continuous thread
 *   waits on ml->cond.
 */
#define _GNU_SOURCE
#include "dbp/ml.h"
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/dataset.h"
#include "dbp/features.h"
#include "dbp/log.h"
#include "dbp/model.h"
#include "dbp/prom.h"
#include "dbp/rank.h"
#include "dbp/rooter.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define RULE_HISTORY 60         /* samples behind the window end used for z */
#define MAX_WINDOWS 60          /* windows tiled over a diagnosed range */
#define ROOTER_MAX_SAMPLES 2880 /* MetricRooter: 4 h at the default 5 s interval */
#define NODE_NAME 64

struct snapshot {
    bool have;
    double ts;
    char model[DBP_MODEL_NAME_MAX];
    int N, L;
    char (*nodes)[NODE_NAME];
    char (*classes)[DBP_LABEL_STR_MAX];
    double *score, *prob, *pr;
};

struct train_status {
    char stage[16];
    double progress;
    char message[256];
    char error[DBP_ERR_MSG_MAX];
    cJSON *stats;
    char job_id[DBP_JOB_ID_LEN];
    double started, finished;
    char model[DBP_MODEL_NAME_MAX];
};

struct dbp_ml {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct dbp_collector *collector; /* borrowed */
    struct dbp_jobs *jobs;           /* borrowed */
    struct dbp_catalog *own_cat;     /* loaded when there is no collector */
    const struct dbp_catalog *cat;   /* collector's or own_cat (immutable) */
    char (*cfg_nodes)[NODE_NAME];    /* node names for Prometheus without a collector */
    int ncfg_nodes;

    /* guarded by lock */
    char training_dir[DBP_PATH_MAX], models_dir[DBP_PATH_MAX];
    char prom_url[DBP_HOST_MAX];
    int prom_timeout_ms;
    double step_s;
    int feature_window;
    int history_points;
    struct dbp_model *model; /* active, one reference */
    bool training, stopping;
    struct train_status ts;
    struct snapshot snap;
    /* continuous diagnosis */
    pthread_t cthread;
    bool crunning, cstop;
    double cinterval;
    unsigned long cruns;
    char clast_err[DBP_ERR_MSG_MAX];
    double clast;
};

/* ---- small helpers -------------------------------------------------------- */

static void iso(double t, char *out, size_t n)
{
    if (isfinite(t))
        dbp_iso8601(t, out, n);
    else
        dbp_strlcpy(out, "", n);
}

static void copy_cfg(struct dbp_ml *ml, const struct dbp_config *cfg)
{
    dbp_strlcpy(ml->training_dir, cfg->training_dir, sizeof(ml->training_dir));
    dbp_strlcpy(ml->models_dir, cfg->models_dir, sizeof(ml->models_dir));
    dbp_strlcpy(ml->prom_url, cfg->prom_url, sizeof(ml->prom_url));
    ml->prom_timeout_ms = cfg->prom_timeout_ms;
    ml->step_s = cfg->interval_ms / 1000.0;
    ml->feature_window = cfg->feature_window;
    ml->history_points = cfg->history_points;
}

static void status_set(struct dbp_ml *ml, const char *stage, double pct, const char *msg)
{
    pthread_mutex_lock(&ml->lock);
    dbp_strlcpy(ml->ts.stage, stage, sizeof(ml->ts.stage));
    ml->ts.progress = pct;
    dbp_strlcpy(ml->ts.message, msg, sizeof(ml->ts.message));
    pthread_mutex_unlock(&ml->lock);
}

static struct dbp_model *active_ref(struct dbp_ml *ml)
{
    pthread_mutex_lock(&ml->lock);
    struct dbp_model *m = dbp_model_ref(ml->model);
    pthread_mutex_unlock(&ml->lock);
    return m;
}

static void paths(struct dbp_ml *ml, char *models, char *training)
{
    pthread_mutex_lock(&ml->lock);
    if (models)
        dbp_strlcpy(models, ml->models_dir, DBP_PATH_MAX);
    if (training)
        dbp_strlcpy(training, ml->training_dir, DBP_PATH_MAX);
    pthread_mutex_unlock(&ml->lock);
}

/* A model by name (the active one when name is NULL or its name). */
static int model_get(struct dbp_ml *ml, const char *name, struct dbp_model **out,
                     struct dbp_err *err)
{
    char models[DBP_PATH_MAX];
    struct dbp_model *m = active_ref(ml);
    if (!name || !*name) {
        if (!m)
            return dbp_err_set(err, DBP_EUNAVAIL,
                               "no model trained yet: train one with POST /api/models/train");
        *out = m;
        return 0;
    }
    if (m && !strcmp(dbp_model_name(m), name)) {
        *out = m;
        return 0;
    }
    dbp_model_unref(m);
    paths(ml, models, NULL);
    return dbp_model_load(models, name, out, err);
}

/* ---- lifecycle ----------------------------------------------------------- */

int dbp_ml_new(const struct dbp_config *cfg, struct dbp_collector *collector, struct dbp_jobs *jobs,
               struct dbp_ml **out, struct dbp_err *err)
{
    struct dbp_ml *ml = dbp_xcalloc(1, sizeof(*ml));
    (void)err;
    pthread_mutex_init(&ml->lock, NULL);
    pthread_cond_init(&ml->cond, NULL);
    ml->collector = collector;
    ml->jobs = jobs;
    copy_cfg(ml, cfg);
    dbp_strlcpy(ml->ts.stage, "idle", sizeof(ml->ts.stage));
    if (collector) {
        ml->cat = dbp_collector_catalog(collector);
    } else {
        struct dbp_err e = {0};
        if (dbp_catalog_load(cfg->catalog_dir, cfg->catalog, &ml->own_cat, &e) == 0)
            ml->cat = ml->own_cat;
        else
            DBP_WARN("ml", "no catalog for training (%s): training needs database.catalog", e.msg);
    }
    ml->ncfg_nodes = cfg->nnodes;
    ml->cfg_nodes = dbp_xcalloc((size_t)(cfg->nnodes > 0 ? cfg->nnodes : 1), NODE_NAME);
    for (int i = 0; i < cfg->nnodes; i++)
        dbp_strlcpy(ml->cfg_nodes[i], cfg->nodes[i].name, NODE_NAME);
    *out = ml;
    return 0;
}

int dbp_ml_start(struct dbp_ml *ml, struct dbp_err *err)
{
    char models[DBP_PATH_MAX], **names = NULL;
    size_t n = 0;
    (void)err;
    paths(ml, models, NULL);
    struct dbp_err e = {0};
    if (dbp_model_list(models, &names, &n, &e))
        DBP_WARN("ml", "cannot list models: %s", e.msg);
    for (size_t i = 0; i < n; i++) {
        struct dbp_model *m = NULL;
        if (dbp_model_load(models, names[i], &m, &e) == 0) {
            pthread_mutex_lock(&ml->lock);
            ml->model = m;
            pthread_mutex_unlock(&ml->lock);
            DBP_INFO("ml", "active model %s (%d classes, window %d)", names[i],
                     dbp_model_nclasses(m), dbp_model_window(m));
            break;
        }
        DBP_WARN("ml", "skipping model %s: %s", names[i], e.msg);
    }
    if (n == 0)
        DBP_INFO("ml", "no model in %s yet: diagnosis answers 503 until one is trained", models);
    dbp_cases_list_free(names, n);
    return 0;
}

void dbp_ml_stop(struct dbp_ml *ml)
{
    if (!ml)
        return;
    pthread_mutex_lock(&ml->lock);
    ml->stopping = true;
    bool join = ml->crunning;
    ml->cstop = true;
    pthread_cond_broadcast(&ml->cond);
    pthread_mutex_unlock(&ml->lock);
    if (join)
        pthread_join(ml->cthread, NULL);
    pthread_mutex_lock(&ml->lock);
    ml->crunning = false;
    pthread_mutex_unlock(&ml->lock);
}

static void snap_release(struct snapshot *s)
{
    free(s->nodes);
    free(s->classes);
    free(s->score);
    free(s->prob);
    free(s->pr);
    memset(s, 0, sizeof(*s));
}

void dbp_ml_free(struct dbp_ml *ml)
{
    if (!ml)
        return;
    dbp_ml_stop(ml);
    dbp_model_unref(ml->model);
    cJSON_Delete(ml->ts.stats);
    snap_release(&ml->snap);
    dbp_catalog_free(ml->own_cat);
    free(ml->cfg_nodes);
    pthread_mutex_destroy(&ml->lock);
    pthread_cond_destroy(&ml->cond);
    free(ml);
}

void dbp_ml_reload(struct dbp_ml *ml, const struct dbp_config *cfg)
{
    pthread_mutex_lock(&ml->lock);
    copy_cfg(ml, cfg);
    pthread_mutex_unlock(&ml->lock);
}

/* ---- models ---------------------------------------------------------------- */

int dbp_ml_models_list(struct dbp_ml *ml, cJSON **out, struct dbp_err *err)
{
    char models[DBP_PATH_MAX], **names = NULL;
    size_t n = 0;
    paths(ml, models, NULL);
    int rc = dbp_model_list(models, &names, &n, err);
    if (rc)
        return rc;
    *out = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(*out, cJSON_CreateString(names[i]));
    dbp_cases_list_free(names, n);
    return 0;
}

static bool model_dir_exists(struct dbp_ml *ml, const char *name)
{
    char models[DBP_PATH_MAX], **names = NULL;
    size_t n = 0;
    bool found = false;
    if (!dbp_model_name_ok(name))
        return false;
    paths(ml, models, NULL);
    if (dbp_model_list(models, &names, &n, NULL) == 0)
        for (size_t i = 0; i < n && !found; i++)
            found = !strcmp(names[i], name);
    dbp_cases_list_free(names, n);
    return found;
}

int dbp_ml_model_performance(struct dbp_ml *ml, const char *name, cJSON **out, struct dbp_err *err)
{
    char models[DBP_PATH_MAX], path[DBP_PATH_MAX + DBP_MODEL_NAME_MAX + 32];
    if (!model_dir_exists(ml, name))
        return dbp_err_set(err, DBP_ENOTFOUND, "Model '%s' not found", name);
    paths(ml, models, NULL);
    snprintf(path, sizeof(path), "%s/%s/evaluation.json", models, name);
    char *txt = NULL;
    size_t len = 0;
    if (dbp_read_file(path, 64u << 20, &txt, &len))
        return dbp_err_set(err, DBP_ENOTFOUND, "No performance metrics found for model '%s'", name);
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
    free(txt);
    if (!*out)
        return dbp_err_set(err, DBP_EIO, "evaluation.json of model '%s' is not valid JSON", name);
    return 0;
}

int dbp_ml_model_validate(struct dbp_ml *ml, const char *name, cJSON **out, struct dbp_err *err)
{
    char models[DBP_PATH_MAX];
    struct dbp_model *m = NULL;
    struct dbp_err e = {0};
    if (!model_dir_exists(ml, name))
        return dbp_err_set(err, DBP_ENOTFOUND, "Model '%s' not found", name);
    paths(ml, models, NULL);
    cJSON *o = cJSON_CreateObject();
    if (dbp_model_load(models, name, &m, &e)) {
        cJSON_AddBoolToObject(o, "valid", false);
        cJSON_AddStringToObject(o, "error", e.msg);
        *out = o;
        return 0;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "Model %s is valid", name);
    cJSON_AddBoolToObject(o, "valid", true);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON *d = cJSON_AddObjectToObject(o, "details");
    cJSON_AddNumberToObject(d, "classifiers", dbp_model_nclasses(m));
    cJSON *fi = cJSON_AddObjectToObject(d, "feature_info");
    cJSON_AddNumberToObject(fi, "dim", (double)dbp_model_dim(m));
    cJSON_AddNumberToObject(fi, "window", dbp_model_window(m));
    cJSON_AddNumberToObject(fi, "features_per_metric", DBP_FEAT_PER_METRIC);
    cJSON_AddNumberToObject(fi, "metrics", (double)dbp_model_nmetrics(m));
    cJSON_AddStringToObject(fi, "catalog", dbp_model_catalog(m));
    cJSON *cl = cJSON_AddArrayToObject(fi, "classes");
    for (int l = 0; l < dbp_model_nclasses(m); l++)
        cJSON_AddItemToArray(cl, cJSON_CreateString(dbp_model_class(m, l)));
    cJSON_AddBoolToObject(d, "evaluation", dbp_model_eval(m) != NULL);
    dbp_model_unref(m);
    *out = o;
    return 0;
}

static cJSON *training_status_locked(struct dbp_ml *ml)
{
    char t[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stage", ml->ts.stage);
    cJSON_AddNumberToObject(o, "progress", round(ml->ts.progress * 10) / 10);
    cJSON_AddStringToObject(o, "message", ml->ts.message);
    if (ml->ts.error[0])
        cJSON_AddStringToObject(o, "error", ml->ts.error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddItemToObject(o, "stats",
                          ml->ts.stats ? cJSON_Duplicate(ml->ts.stats, 1) : cJSON_CreateObject());
    cJSON_AddBoolToObject(o, "in_progress", ml->training);
    if (ml->ts.job_id[0])
        cJSON_AddStringToObject(o, "job_id", ml->ts.job_id);
    iso(ml->ts.started, t, sizeof(t));
    if (t[0])
        cJSON_AddStringToObject(o, "started_at", t);
    iso(ml->ts.finished, t, sizeof(t));
    if (t[0])
        cJSON_AddStringToObject(o, "finished_at", t);
    if (ml->ts.model[0])
        cJSON_AddStringToObject(o, "model", ml->ts.model);
    return o;
}

cJSON *dbp_ml_training_status(struct dbp_ml *ml)
{
    pthread_mutex_lock(&ml->lock);
    cJSON *o = training_status_locked(ml);
    pthread_mutex_unlock(&ml->lock);
    return o;
}

cJSON *dbp_ml_status_json(struct dbp_ml *ml)
{
    cJSON *o = cJSON_CreateObject();
    struct dbp_model *m = active_ref(ml);
    if (m) {
        cJSON_AddStringToObject(o, "active_model", dbp_model_name(m));
        cJSON *cl = cJSON_AddArrayToObject(o, "classes");
        for (int l = 0; l < dbp_model_nclasses(m); l++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(dbp_model_class(m, l)));
        cJSON_AddNumberToObject(o, "window", dbp_model_window(m));
        cJSON_AddStringToObject(o, "catalog", dbp_model_catalog(m));
        cJSON_AddStringToObject(o, "pagerank", dbp_pr_form_name(dbp_model_pagerank(m)));
    } else {
        cJSON_AddNullToObject(o, "active_model");
    }
    dbp_model_unref(m);
    cJSON_AddItemToObject(o, "training", dbp_ml_training_status(ml));
    cJSON_AddItemToObject(o, "continuous", dbp_ml_continuous_state(ml));
    return o;
}

/* ---- training -------------------------------------------------------------- */

struct prog {
    struct dbp_ml *ml;
    int (*user)(void *, double, const char *);
    void *cls;
    const char *stage;
    double base, span;
};

static int prog_cb(void *cls, double pct, const char *msg)
{
    struct prog *p = cls;
    double v = p->base + p->span * pct / 100.0;
    status_set(p->ml, p->stage, v, msg);
    return p->user ? p->user(p->cls, v, msg) : 0;
}

static cJSON *eval_summary(const cJSON *ev)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *mf = cJSON_GetObjectItem(ev, "macro_f1");
    if (cJSON_IsNumber(mf))
        cJSON_AddNumberToObject(o, "macro_f1", mf->valuedouble);
    const cJSON *mr = cJSON_GetObjectItem(ev, "macro_f1_rule");
    if (cJSON_IsNumber(mr))
        cJSON_AddNumberToObject(o, "macro_f1_rule", mr->valuedouble);
    const cJSON *ak = cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "ac_at_k"), "methods");
    if (ak)
        cJSON_AddItemToObject(o, "ac_at_k", cJSON_Duplicate(ak, 1));
    return o;
}

int dbp_ml_train_run(struct dbp_ml *ml, const struct dbp_ml_train_req *rq,
                     int (*progress)(void *cls, double pct, const char *msg), void *cls,
                     cJSON **result, struct dbp_err *err)
{
    char models[DBP_PATH_MAX], training[DBP_PATH_MAX];
    struct dbp_dataset ds;
    struct dbp_build_report rep = {0};
    struct dbp_model *m = NULL;
    struct dbp_model_params p;
    const char **mnames = NULL, **mcats = NULL;
    int rc, W;

    memset(&ds, 0, sizeof(ds));
    if (result)
        *result = NULL;
    paths(ml, models, training);
    if (rq->data_dir && *rq->data_dir)
        dbp_strlcpy(training, rq->data_dir, sizeof(training));
    pthread_mutex_lock(&ml->lock);
    W = rq->window > 0 ? rq->window : ml->feature_window;
    ml->ts.started = dbp_wall_s();
    ml->ts.finished = NAN;
    ml->ts.error[0] = '\0';
    ml->ts.model[0] = '\0';
    cJSON_Delete(ml->ts.stats);
    ml->ts.stats = NULL;
    pthread_mutex_unlock(&ml->lock);
    status_set(ml, "preprocessing", 0, "Loading training data from disk...");

    if (!ml->cat) {
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "no metric catalog loaded (database.catalog): cannot map case metrics");
        goto out;
    }
    dbp_model_params_default(&p);
    if (rq->rounds > 0)
        p.rounds = rq->rounds;
    if (rq->max_depth > 0)
        p.max_depth = rq->max_depth;
    if (rq->nthread > 0)
        p.nthread = rq->nthread;
    if (rq->eta > 0)
        p.eta = rq->eta;
    if (rq->test_fraction >= 0)
        p.test_fraction = rq->test_fraction;
    if (rq->seed >= 0)
        p.seed = (unsigned long long)rq->seed;
    if (rq->pagerank >= 0)
        p.pagerank = (enum dbp_pr_form)rq->pagerank;

    {
        struct prog pg = {ml, progress, cls, "preprocessing", 0, 30};
        struct dbp_build_opts bo = {
            .window = W,
            .stride = rq->stride > 0 ? rq->stride : W,
            .rule_history = RULE_HISTORY,
            .test_fraction = p.test_fraction,
            .seed = p.seed,
            .max_rows = rq->max_rows ? rq->max_rows : 200000,
            .classes = rq->classes,
            .nclasses = rq->nclasses,
            .progress = prog_cb,
            .cls = &pg,
        };
        if ((rc = dbp_dataset_build(training, ml->cat, &bo, &ds, &rep, err)))
            goto out;
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "Processing training data: %zu windows from %d cases (%zu train, "
                 "%zu test)",
                 ds.rows, rep.cases_used, ds.ntrain, ds.rows - ds.ntrain);
        status_set(ml, "training", 30, msg);
        if (progress && progress(cls, 30, msg)) {
            rc = dbp_err_set(err, DBP_EBUSY, "cancelled");
            goto out;
        }

        size_t M = ml->cat->nmetrics;
        mnames = dbp_xcalloc(M ? M : 1, sizeof(char *));
        mcats = dbp_xcalloc(M ? M : 1, sizeof(char *));
        for (size_t i = 0; i < M; i++) {
            mnames[i] = ml->cat->metrics[i].name;
            mcats[i] = ml->cat->metrics[i].category;
        }
        struct dbp_model_spec spec = {
            .catalog = ml->cat->name,
            .nmetrics = M,
            .metric_names = mnames,
            .metric_categories = mcats,
            .window = W,
            .stride = bo.stride,
            .data_dir = training,
        };
        pg.stage = "training";
        pg.base = 30;
        pg.span = 60;
        if ((rc = dbp_model_train(&ds, &spec, &p, prog_cb, &pg, &m, err)))
            goto out;
        status_set(ml, "saving", 95, "Saving model...");
        if ((rc = dbp_model_save(m, models, NULL, err)))
            goto out;

        cJSON *stats = cJSON_CreateObject();
        cJSON_AddStringToObject(stats, "model", dbp_model_name(m));
        cJSON_AddNumberToObject(stats, "windows", (double)ds.rows);
        cJSON_AddNumberToObject(stats, "train_windows", (double)ds.ntrain);
        cJSON_AddNumberToObject(stats, "test_windows", (double)(ds.rows - ds.ntrain));
        cJSON_AddNumberToObject(stats, "cases", rep.cases_total);
        cJSON_AddNumberToObject(stats, "cases_used", rep.cases_used);
        cJSON_AddNumberToObject(stats, "cases_skipped", rep.cases_skipped);
        cJSON_AddItemToObject(stats, "skipped", cJSON_Duplicate(rep.skipped, 1));
        cJSON *cl = cJSON_AddArrayToObject(stats, "classes");
        for (int l = 0; l < ds.nclasses; l++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(ds.classes[l]));
        cJSON_AddNumberToObject(stats, "window", W);
        if (dbp_model_eval(m))
            cJSON_AddItemToObject(stats, "evaluation", eval_summary(dbp_model_eval(m)));

        pthread_mutex_lock(&ml->lock);
        struct dbp_model *old = ml->model;
        ml->model = dbp_model_ref(m);
        dbp_strlcpy(ml->ts.model, dbp_model_name(m), sizeof(ml->ts.model));
        ml->ts.stats = cJSON_Duplicate(stats, 1);
        pthread_mutex_unlock(&ml->lock);
        dbp_model_unref(old);
        status_set(ml, "completed", 100, "Model training completed successfully");
        DBP_INFO("ml", "trained %s: %zu windows, %d classes; now the active model",
                 dbp_model_name(m), ds.rows, ds.nclasses);
        if (result) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "model", dbp_model_name(m));
            cJSON_AddItemToObject(r, "stats", stats);
            if (dbp_model_eval(m))
                cJSON_AddItemToObject(r, "evaluation", cJSON_Duplicate(dbp_model_eval(m), 1));
            *result = r;
        } else {
            cJSON_Delete(stats);
        }
    }
out:
    pthread_mutex_lock(&ml->lock);
    ml->ts.finished = dbp_wall_s();
    if (rc) {
        dbp_strlcpy(ml->ts.stage, "failed", sizeof(ml->ts.stage));
        ml->ts.progress = 0;
        char full[DBP_ERR_MSG_MAX + 32];
        snprintf(full, sizeof(full), "Training failed: %s", err ? err->msg : dbp_strerror(rc));
        dbp_strlcpy(ml->ts.message, full, sizeof(ml->ts.message));
        dbp_strlcpy(ml->ts.error, err ? err->msg : dbp_strerror(rc), sizeof(ml->ts.error));
        if (!ml->ts.stats && rep.skipped) {
            ml->ts.stats = cJSON_CreateObject();
            cJSON_AddNumberToObject(ml->ts.stats, "cases", rep.cases_total);
            cJSON_AddItemToObject(ml->ts.stats, "skipped", cJSON_Duplicate(rep.skipped, 1));
        }
    }
    pthread_mutex_unlock(&ml->lock);
    free(mnames);
    free(mcats);
    cJSON_Delete(rep.skipped);
    dbp_model_unref(m);
    dbp_dataset_release(&ds);
    return rc;
}

struct train_arg {
    struct dbp_ml *ml;
    struct dbp_ml_train_req rq;
    char (*classes)[DBP_LABEL_STR_MAX];
    const char **clsp;
};

static int job_progress(void *cls, double pct, const char *msg)
{
    struct dbp_job *job = cls;
    dbp_job_progress(job, pct, "%s", msg);
    return dbp_job_cancelled(job);
}

static int train_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    struct train_arg *a = arg;
    cJSON *res = NULL;
    int rc = dbp_ml_train_run(a->ml, &a->rq, job_progress, job, &res, err);
    if (rc == 0)
        dbp_job_set_result(job, res);
    return rc;
}

static void train_free(void *arg)
{
    struct train_arg *a = arg;
    pthread_mutex_lock(&a->ml->lock);
    a->ml->training = false;
    /* Cancelled before it ran: say so instead of staying "queued". */
    if (!strcmp(a->ml->ts.stage, "queued")) {
        dbp_strlcpy(a->ml->ts.stage, "failed", sizeof(a->ml->ts.stage));
        dbp_strlcpy(a->ml->ts.error, "cancelled before it started", sizeof(a->ml->ts.error));
        dbp_strlcpy(a->ml->ts.message, "Training cancelled", sizeof(a->ml->ts.message));
    }
    pthread_mutex_unlock(&a->ml->lock);
    free(a->classes);
    free(a->clsp);
    free(a);
}

int dbp_ml_train_submit(struct dbp_ml *ml, const struct dbp_ml_train_req *rq,
                        char job_id[DBP_JOB_ID_LEN], struct dbp_err *err)
{
    if (!ml->jobs)
        return dbp_err_set(err, DBP_EUNAVAIL, "no job workers");
    pthread_mutex_lock(&ml->lock);
    if (ml->stopping) {
        pthread_mutex_unlock(&ml->lock);
        return dbp_err_set(err, DBP_EUNAVAIL, "the daemon is stopping");
    }
    if (ml->training) {
        pthread_mutex_unlock(&ml->lock);
        return dbp_err_set(err, DBP_EBUSY, "Training is already in progress, please wait (job %s)",
                           ml->ts.job_id);
    }
    ml->training = true;
    dbp_strlcpy(ml->ts.stage, "queued", sizeof(ml->ts.stage));
    ml->ts.progress = 0;
    dbp_strlcpy(ml->ts.message, "Training queued", sizeof(ml->ts.message));
    ml->ts.error[0] = '\0';
    pthread_mutex_unlock(&ml->lock);

    struct train_arg *a = dbp_xcalloc(1, sizeof(*a));
    a->ml = ml;
    a->rq = *rq;
    a->rq.data_dir = NULL; /* not owned: the job trains on training.data_dir */
    if (rq->classes && rq->nclasses > 0) {
        a->classes = dbp_xcalloc((size_t)rq->nclasses, sizeof(*a->classes));
        a->clsp = dbp_xcalloc((size_t)rq->nclasses, sizeof(char *));
        for (int i = 0; i < rq->nclasses; i++) {
            dbp_strlcpy(a->classes[i], rq->classes[i], DBP_LABEL_STR_MAX);
            a->clsp[i] = a->classes[i];
        }
        a->rq.classes = a->clsp;
    } else {
        a->rq.classes = NULL;
        a->rq.nclasses = 0;
    }
    char id[DBP_JOB_ID_LEN];
    int rc = dbp_jobs_submit(ml->jobs, "train", train_job, a, train_free, id);
    if (rc)
        return dbp_err_set(err, rc, "cannot queue the training job");
    pthread_mutex_lock(&ml->lock);
    dbp_strlcpy(ml->ts.job_id, id, sizeof(ml->ts.job_id));
    pthread_mutex_unlock(&ml->lock);
    memcpy(job_id, id, DBP_JOB_ID_LEN);
    return 0;
}

/* ---- data acquisition -------------------------------------------------------- */

struct grid {
    int N, M, K;
    char (*nodes)[NODE_NAME];
    double *v; /* ((n * M) + m) * K + k; NaN = missing */
    double *t; /* K sample times (NaN when unknown) */
    const char *source;
    int mapped; /* model metrics found in the source */
};

static void grid_release(struct grid *g)
{
    free(g->nodes);
    free(g->v);
    free(g->t);
    memset(g, 0, sizeof(*g));
}

static void grid_alloc(struct grid *g, int N, int M, int K)
{
    g->N = N;
    g->M = M;
    g->K = K;
    g->nodes = dbp_xcalloc((size_t)(N > 0 ? N : 1), NODE_NAME);
    g->v = dbp_xmalloc((size_t)(N > 0 ? N : 1) * (size_t)M * (size_t)K * sizeof(double));
    for (size_t i = 0; i < (size_t)N * (size_t)M * (size_t)K; i++)
        g->v[i] = NAN;
    g->t = dbp_xmalloc((size_t)K * sizeof(double));
    for (int k = 0; k < K; k++)
        g->t[k] = NAN;
}

/* Model metric i -> index in the collector's catalog (-1 = absent). */
static int *metric_map(const struct dbp_catalog *cat, const struct dbp_model *m, int *mapped)
{
    size_t M = dbp_model_nmetrics(m);
    int *map = dbp_xcalloc(M ? M : 1, sizeof(int));
    *mapped = 0;
    for (size_t i = 0; i < M; i++) {
        const struct dbp_cat_metric *cm = dbp_catalog_find(cat, dbp_model_metric(m, i));
        map[i] = cm ? cm->index : -1;
        *mapped += cm != NULL;
    }
    return map;
}

static int need_collector(struct dbp_ml *ml, struct dbp_err *err)
{
    if (!ml->collector)
        return dbp_err_set(err, DBP_EUNAVAIL,
                           "the metrics collector is not running (no database nodes configured)");
    return 0;
}

/* The newest K samples of every node from the ring. */
static int grid_ring_now(struct dbp_ml *ml, const struct dbp_model *m, int K, struct grid *g,
                         struct dbp_err *err)
{
    int rc = need_collector(ml, err), nn = 0, nm = 0, mapped = 0;
    double ts_last = NAN, step;
    if (rc)
        return rc;
    pthread_mutex_lock(&ml->lock);
    step = ml->step_s;
    pthread_mutex_unlock(&ml->lock);
    const struct dbp_catalog *cat = dbp_collector_catalog(ml->collector);
    int *map = metric_map(cat, m, &mapped);
    double *win = dbp_collector_window(ml->collector, K, &nn, &nm, &ts_last);
    int M = (int)dbp_model_nmetrics(m);
    grid_alloc(g, nn, M, K);
    g->source = "ring";
    g->mapped = mapped;
    char(*names)[64] = dbp_xcalloc((size_t)(nn > 0 ? nn : 1), 64);
    int got = dbp_collector_node_names(ml->collector, names, nn);
    for (int i = 0; i < nn; i++)
        dbp_strlcpy(g->nodes[i], i < got ? names[i] : "?", NODE_NAME);
    free(names);
    for (int i = 0; i < nn; i++)
        for (int mm = 0; mm < M; mm++)
            if (map[mm] >= 0)
                memcpy(g->v + (((size_t)i * (size_t)M) + (size_t)mm) * (size_t)K,
                       win + (((size_t)i * (size_t)nm) + (size_t)map[mm]) * (size_t)K,
                       (size_t)K * sizeof(double));
    /* One sample per cycle: the ring's newest cycle time, stepped back. */
    for (int k = 0; k < K; k++)
        g->t[k] = ts_last > 0 ? ts_last - (K - 1 - k) * step : NAN;
    free(win);
    free(map);
    return 0;
}

/* Right-align n points (oldest first) into K slots. */
static void place(double *dst, int K, const double *vals, size_t n)
{
    size_t take = n < (size_t)K ? n : (size_t)K;
    for (size_t k = 0; k < take; k++)
        dst[(size_t)K - take + k] = vals[n - take + k];
}

static int grid_ring_range(struct dbp_ml *ml, const struct dbp_model *m, double start, double end,
                           int Kmax, struct grid *g, double *oldest_out, struct dbp_err *err)
{
    int rc = need_collector(ml, err), mapped = 0;
    if (rc)
        return rc;
    const struct dbp_catalog *cat = dbp_collector_catalog(ml->collector);
    int *map = metric_map(cat, m, &mapped);
    char(*names)[64] = dbp_xcalloc(DBP_MAX_NODES, 64);
    int nn = dbp_collector_node_names(ml->collector, names, DBP_MAX_NODES);
    int M = (int)dbp_model_nmetrics(m);
    grid_alloc(g, nn, M, Kmax);
    g->source = "ring";
    g->mapped = mapped;
    double oldest = INFINITY;
    int kmax_seen = 0;
    for (int i = 0; i < nn && !rc; i++) {
        dbp_strlcpy(g->nodes[i], names[i], NODE_NAME);
        for (int mm = 0; mm < M && !rc; mm++) {
            if (map[mm] < 0)
                continue;
            double *ts = NULL, *vals = NULL, old;
            size_t n = 0;
            rc = dbp_collector_history(ml->collector, names[i], NULL, cat->metrics[map[mm]].name,
                                       start, end, &ts, &vals, &n, &old, err);
            if (rc == 0) {
                place(g->v + (((size_t)i * (size_t)M) + (size_t)mm) * (size_t)Kmax, Kmax, vals, n);
                if ((int)n > kmax_seen) {
                    kmax_seen = (int)n;
                    for (int k = 0; k < Kmax; k++)
                        g->t[k] = NAN;
                    place(g->t, Kmax, ts, n);
                }
                oldest = fmin(oldest, old);
            }
            free(ts);
            free(vals);
        }
    }
    free(names);
    free(map);
    if (oldest_out)
        *oldest_out = oldest;
    return rc;
}

static int grid_prometheus(struct dbp_ml *ml, const struct dbp_model *m, double start, double end,
                           int Kmax, struct grid *g, struct dbp_err *err)
{
    char url[DBP_HOST_MAX];
    int timeout_ms, rc = 0;
    double step;
    pthread_mutex_lock(&ml->lock);
    dbp_strlcpy(url, ml->prom_url, sizeof(url));
    timeout_ms = ml->prom_timeout_ms;
    step = ml->step_s;
    pthread_mutex_unlock(&ml->lock);
    if (!url[0])
        return dbp_err_set(err, DBP_EUNAVAIL, "no Prometheus configured (prometheus.url)");

    char(*names)[64] = dbp_xcalloc(DBP_MAX_NODES, 64);
    int nn;
    if (ml->collector) {
        nn = dbp_collector_node_names(ml->collector, names, DBP_MAX_NODES);
    } else {
        nn = ml->ncfg_nodes;
        for (int i = 0; i < nn; i++)
            dbp_strlcpy(names[i], ml->cfg_nodes[i], 64);
    }
    if (nn == 0) {
        free(names);
        return dbp_err_set(err, DBP_EUNAVAIL, "no nodes configured to query Prometheus for");
    }
    int M = (int)dbp_model_nmetrics(m);
    grid_alloc(g, nn, M, Kmax);
    g->source = "prometheus";
    bool *seen = dbp_xcalloc((size_t)M, sizeof(bool));
    /* Keep the query within Prometheus' 11000-point limit and our grid. */
    double qstart = fmax(start, end - (Kmax - 1) * step);
    int kmax_seen = 0;
    for (int i = 0; i < nn && !rc; i++) {
        struct dbp_buf q;
        struct dbp_prom_series *ser = NULL;
        size_t nser = 0;
        dbp_strlcpy(g->nodes[i], names[i], NODE_NAME);
        dbp_buf_init(&q, 4096);
        int prc = dbp_buf_puts(&q, "dbpecker_metric_value{node=");
        prc |= dbp_promql_string(&q, names[i]);
        prc |= dbp_buf_puts(&q, ",tenant=\"default\"}");
        rc = prc ? dbp_err_set(err, DBP_ETOOBIG, "query too long")
                 : dbp_prom_query_range(url, q.data, qstart, end, step, timeout_ms, &ser, &nser,
                                        err);
        dbp_buf_release(&q);
        for (size_t s = 0; s < nser && !rc; s++) {
            const char *e2 = NULL;
            cJSON *lab = ser[s].labels_json
                             ? cJSON_ParseWithLengthOpts(ser[s].labels_json,
                                                         strlen(ser[s].labels_json), &e2, 0)
                             : NULL;
            const cJSON *mn = cJSON_GetObjectItem(lab, "metric");
            int mm = -1;
            for (int k = 0; cJSON_IsString(mn) && k < M && mm < 0; k++)
                if (!strcasecmp(dbp_model_metric(m, (size_t)k), mn->valuestring))
                    mm = k;
            cJSON_Delete(lab);
            if (mm < 0)
                continue;
            seen[mm] = true;
            double *vals = dbp_xmalloc((ser[s].npoints ? ser[s].npoints : 1) * sizeof(double));
            double *ts = dbp_xmalloc((ser[s].npoints ? ser[s].npoints : 1) * sizeof(double));
            for (size_t k = 0; k < ser[s].npoints; k++) {
                vals[k] = ser[s].points[k].value;
                ts[k] = ser[s].points[k].ts;
            }
            place(g->v + (((size_t)i * (size_t)M) + (size_t)mm) * (size_t)Kmax, Kmax, vals,
                  ser[s].npoints);
            if ((int)ser[s].npoints > kmax_seen) {
                kmax_seen = (int)ser[s].npoints;
                place(g->t, Kmax, ts, ser[s].npoints);
            }
            free(vals);
            free(ts);
        }
        dbp_prom_series_free(ser, nser);
    }
    for (int k = 0; k < M; k++)
        g->mapped += seen[k];
    free(seen);
    free(names);
    return rc;
}

/* ---- one window -------------------------------------------------------------- */

struct wres {
    int N;     /* nodes used */
    int *node; /* grid node index of each used node */
    int L, M;
    double *probs;  /* N * L */
    double *w;      /* N * N */
    double *pr;     /* N */
    double *z;      /* N * M */
    double *last;   /* N * M newest value in the window */
    int *rule_type; /* N */
    double *rule_score;
    struct dbp_pr_info pri;
    enum dbp_pr_form form;
    struct dbp_rank_item *graph, *xgb, *rule;
    int ngraph, nxgb, nrule;
    int kend; /* window = grid samples [kend - W, kend) */
};

static void wres_release(struct wres *r)
{
    free(r->node);
    free(r->probs);
    free(r->w);
    free(r->pr);
    free(r->z);
    free(r->last);
    free(r->rule_type);
    free(r->rule_score);
    free(r->graph);
    free(r->xgb);
    free(r->rule);
    memset(r, 0, sizeof(*r));
}

static int diag_window(struct dbp_model *m, const struct grid *g, int kend, enum dbp_pr_form form,
                       struct wres *r, struct dbp_err *err)
{
    int W = dbp_model_window(m), M = g->M, K = g->K, L = dbp_model_nclasses(m);
    size_t dim = dbp_model_dim(m);
    int rc = 0;

    memset(r, 0, sizeof(*r));
    r->kend = kend;
    r->L = L;
    r->M = M;
    r->form = form;
    r->node = dbp_xcalloc((size_t)(g->N > 0 ? g->N : 1), sizeof(int));
    for (int i = 0; i < g->N; i++) {
        const double *v = g->v + (size_t)i * (size_t)M * (size_t)K;
        bool any = false;
        for (int mm = 0; mm < M && !any; mm++)
            for (int k = kend - W; k < kend && !any; k++)
                any = isfinite(v[(size_t)mm * (size_t)K + (size_t)k]);
        if (any)
            r->node[r->N++] = i;
    }
    int N = r->N;
    if (N == 0)
        return dbp_err_set(err, DBP_EUNAVAIL, "no metric samples in the diagnosis window");

    size_t per = (size_t)M * (size_t)W;
    double *win = dbp_xmalloc((size_t)N * per * sizeof(double));
    float *X = dbp_xmalloc((size_t)N * dim * sizeof(float));
    const char **cats = dbp_xcalloc((size_t)M, sizeof(char *));
    const char **cls = dbp_xcalloc((size_t)L, sizeof(char *));
    for (int mm = 0; mm < M; mm++)
        cats[mm] = dbp_model_metric_category(m, (size_t)mm);
    for (int l = 0; l < L; l++)
        cls[l] = dbp_model_class(m, l);
    r->probs = dbp_xcalloc((size_t)N * (size_t)L, sizeof(double));
    r->w = dbp_xcalloc((size_t)N * (size_t)N, sizeof(double));
    r->pr = dbp_xcalloc((size_t)N, sizeof(double));
    r->z = dbp_xcalloc((size_t)N * (size_t)M, sizeof(double));
    r->last = dbp_xcalloc((size_t)N * (size_t)M, sizeof(double));
    r->rule_type = dbp_xcalloc((size_t)N, sizeof(int));
    r->rule_score = dbp_xcalloc((size_t)N, sizeof(double));
    int h0 = kend - RULE_HISTORY < 0 ? 0 : kend - RULE_HISTORY;
    for (int n = 0; n < N; n++) {
        const double *v = g->v + (size_t)r->node[n] * (size_t)M * (size_t)K;
        for (int mm = 0; mm < M; mm++) {
            const double *s = v + (size_t)mm * (size_t)K;
            memcpy(win + (size_t)n * per + (size_t)mm * (size_t)W, s + kend - W,
                   (size_t)W * sizeof(double));
            r->z[(size_t)n * (size_t)M + (size_t)mm] = dbp_rule_zscore(s + h0, kend - h0);
            double lv = NAN;
            for (int k = kend - 1; k >= kend - W && isnan(lv); k--)
                if (isfinite(s[k]))
                    lv = s[k];
            r->last[(size_t)n * (size_t)M + (size_t)mm] = lv;
        }
        dbp_features_node(win + (size_t)n * per, (size_t)M, W, X + (size_t)n * dim);
        r->rule_type[n] =
            dbp_rule_node(r->z + (size_t)n * (size_t)M, cats, M, cls, L, &r->rule_score[n]);
    }
    if ((rc = dbp_model_predict(m, X, (size_t)N, r->probs, err)))
        goto out;
    dbp_rank_edge_weights(win, N, M, W, r->w, NULL);
    (void)dbp_pagerank(r->w, N, DBP_PR_DAMPING, form, DBP_PR_TOL, DBP_PR_MAXIT, r->pr, &r->pri);
    r->graph = dbp_xcalloc((size_t)N * (size_t)L, sizeof(*r->graph));
    r->xgb = dbp_xcalloc((size_t)N * (size_t)L, sizeof(*r->xgb));
    r->rule = dbp_xcalloc((size_t)N, sizeof(*r->rule));
    r->ngraph = dbp_rank_pairs(r->probs, r->pr, N, L, r->graph);
    r->nxgb = dbp_rank_pairs(r->probs, NULL, N, L, r->xgb);
    for (int n = 0; n < N; n++)
        if (r->rule_type[n] >= 0)
            r->rule[r->nrule++] =
                (struct dbp_rank_item){n, r->rule_type[n], r->rule_score[n], 0, 1};
    dbp_rank_sort(r->rule, r->nrule);
out:
    free(win);
    free(X);
    free(cats);
    free(cls);
    return rc;
}

/* Categories whose metrics explain a fault type (for related_metrics). */
static const struct {
    const char *type;
    const char *cats[3];
} type_cats[] = {
    {"cpu_stress", {"cpu", NULL, NULL}},
    {"io_bottleneck", {"io", NULL, NULL}},
    {"network_bottleneck", {"network", NULL, NULL}},
    {"cache_bottleneck", {"memory", "io", NULL}},
    {"workload_surge", {"transactions", NULL, NULL}},
    {"too_many_indexes", {"io", "transactions", NULL}},
    {"lock_contention", {"transactions", "cluster", NULL}},
    {"connection_storm", {"network", "transactions", NULL}},
};

static bool cat_related(const char *type, const char *cat)
{
    for (size_t i = 0; i < sizeof(type_cats) / sizeof(type_cats[0]); i++)
        if (!strcmp(type_cats[i].type, type)) {
            for (int k = 0; k < 3 && type_cats[i].cats[k]; k++)
                if (!strcasecmp(type_cats[i].cats[k], cat))
                    return true;
            return false;
        }
    return true; /* a type we have no map for: every category may explain it */
}

/* Top 5 metrics of the type's categories by |z| (the original sorted raw
 * values of different units, and found none in time series anyway). */
static cJSON *related_metrics(const struct dbp_model *m, const struct wres *r, int n,
                              const char *type)
{
    cJSON *a = cJSON_CreateArray();
    int best[5], nb = 0, M = r->M;
    const double *z = r->z + (size_t)n * (size_t)M;
    for (int mm = 0; mm < M; mm++) {
        if (!(z[mm] > 0) || !cat_related(type, dbp_model_metric_category(m, (size_t)mm)))
            continue;
        int pos = nb < 5 ? nb++ : 5;
        while (pos > 0 && z[best[pos - 1]] < z[mm]) {
            if (pos < 5)
                best[pos] = best[pos - 1];
            pos--;
        }
        if (pos < 5)
            best[pos] = mm;
    }
    for (int i = 0; i < nb; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", dbp_model_metric(m, (size_t)best[i]));
        cJSON_AddStringToObject(o, "category", dbp_model_metric_category(m, (size_t)best[i]));
        double lv = r->last[(size_t)n * (size_t)M + (size_t)best[i]];
        if (isfinite(lv))
            cJSON_AddNumberToObject(o, "value", lv);
        else
            cJSON_AddNullToObject(o, "value");
        cJSON_AddNumberToObject(o, "z_score", round(z[best[i]] * 100) / 100);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* RankItem = {node, type, score, positive_prob_score, pagerank_score,
 * related_metrics}.  score = PR x P, no softmax (see rank.h). */
static cJSON *rank_item(const struct dbp_model *m, const struct grid *g, const struct wres *r,
                        const struct dbp_rank_item *it, bool related)
{
    cJSON *o = cJSON_CreateObject();
    const char *type = dbp_model_class(m, it->type);
    cJSON_AddStringToObject(o, "node", g->nodes[r->node[it->node]]);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddNumberToObject(o, "score", it->score);
    cJSON_AddNumberToObject(o, "positive_prob_score", it->prob);
    cJSON_AddNumberToObject(o, "pagerank_score", it->pr);
    if (related)
        cJSON_AddItemToObject(o, "related_metrics", related_metrics(m, r, it->node, type));
    return o;
}

static cJSON *window_json(const struct grid *g, int kend, int W, double step)
{
    char a[40], b[40];
    cJSON *o = cJSON_CreateObject();
    double t1 = g->t[kend - 1], t0 = g->t[kend - W];
    iso(isfinite(t0) ? t0 : t1 - (W - 1) * step, a, sizeof(a));
    iso(t1, b, sizeof(b));
    if (a[0])
        cJSON_AddStringToObject(o, "start", a);
    else
        cJSON_AddNullToObject(o, "start");
    if (b[0])
        cJSON_AddStringToObject(o, "end", b);
    else
        cJSON_AddNullToObject(o, "end");
    cJSON_AddNumberToObject(o, "samples", W);
    cJSON_AddNumberToObject(o, "step_s", step);
    return o;
}

static cJSON *result_json(struct dbp_model *m, const struct grid *g, const struct wres *r,
                          double threshold, double step)
{
    int N = r->N, L = r->L, W = dbp_model_window(m);
    cJSON *o = cJSON_CreateObject();
    char ts[40];
    double t1 = g->t[r->kend - 1];
    iso(isfinite(t1) ? t1 : dbp_wall_s(), ts, sizeof(ts));
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddStringToObject(o, "model", dbp_model_name(m));
    cJSON_AddStringToObject(o, "source", g->source);
    cJSON_AddItemToObject(o, "window", window_json(g, r->kend, W, step));
    cJSON *sc = cJSON_AddObjectToObject(o, "scores");
    for (int n = 0; n < N; n++)
        cJSON_AddNumberToObject(sc, g->nodes[r->node[n]], r->pr[n]);
    cJSON *np = cJSON_AddObjectToObject(o, "node_predictions");
    for (int n = 0; n < N; n++) {
        cJSON *a = cJSON_AddArrayToObject(np, g->nodes[r->node[n]]);
        for (int i = 0; i < r->ngraph; i++)
            if (r->graph[i].node == n)
                cJSON_AddItemToArray(a, rank_item(m, g, r, &r->graph[i], false));
    }
    cJSON *pg = cJSON_AddObjectToObject(o, "propagation_graph");
    for (int i = 0; i < N; i++) {
        cJSON *row = cJSON_AddObjectToObject(pg, g->nodes[r->node[i]]);
        for (int j = 0; j < N; j++)
            if (j != i)
                cJSON_AddNumberToObject(row, g->nodes[r->node[j]],
                                        r->w[(size_t)i * (size_t)N + (size_t)j]);
    }
    cJSON *all = cJSON_AddArrayToObject(o, "all_ranked_anomalies");
    for (int i = 0; i < r->ngraph; i++)
        if (r->graph[i].score > threshold)
            cJSON_AddItemToArray(all, rank_item(m, g, r, &r->graph[i], true));
    cJSON *nn = cJSON_AddArrayToObject(o, "node_names");
    for (int n = 0; n < N; n++)
        cJSON_AddItemToArray(nn, cJSON_CreateString(g->nodes[r->node[n]]));
    cJSON *miss = cJSON_AddArrayToObject(o, "missing_nodes");
    for (int i = 0; i < g->N; i++) {
        bool used = false;
        for (int n = 0; n < N && !used; n++)
            used = r->node[n] == i;
        if (!used)
            cJSON_AddItemToArray(miss, cJSON_CreateString(g->nodes[i]));
    }
    cJSON *pr = cJSON_AddObjectToObject(o, "pagerank");
    cJSON_AddStringToObject(pr, "form", dbp_pr_form_name(r->form));
    cJSON_AddNumberToObject(pr, "damping", DBP_PR_DAMPING);
    cJSON_AddNumberToObject(pr, "iterations", r->pri.iterations);
    cJSON_AddBoolToObject(pr, "converged", r->pri.converged);
    cJSON_AddNumberToObject(o, "metrics_mapped", g->mapped);
    cJSON_AddNumberToObject(o, "metrics_model", g->M);

    cJSON *bl = cJSON_AddObjectToObject(o, "baselines");
    cJSON *bx = cJSON_AddArrayToObject(bl, "xgboost");
    for (int i = 0; i < r->nxgb; i++)
        if (r->xgb[i].score > threshold)
            cJSON_AddItemToArray(bx, rank_item(m, g, r, &r->xgb[i], false));
    cJSON *br = cJSON_AddArrayToObject(bl, "rule");
    for (int i = 0; i < r->nrule; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "node", g->nodes[r->node[r->rule[i].node]]);
        cJSON_AddStringToObject(it, "type", dbp_model_class(m, r->rule[i].type));
        cJSON_AddNumberToObject(it, "score", r->rule[i].score);
        cJSON_AddItemToArray(br, it);
    }
    (void)L;
    return o;
}

static void publish(struct dbp_ml *ml, struct dbp_model *m, const struct grid *g,
                    const struct wres *r)
{
    struct snapshot s = {0};
    s.have = true;
    double t1 = g->t[r->kend - 1];
    s.ts = isfinite(t1) ? t1 : dbp_wall_s();
    dbp_strlcpy(s.model, dbp_model_name(m), sizeof(s.model));
    s.N = r->N;
    s.L = r->L;
    s.nodes = dbp_xcalloc((size_t)(r->N > 0 ? r->N : 1), NODE_NAME);
    s.classes = dbp_xcalloc((size_t)(r->L > 0 ? r->L : 1), DBP_LABEL_STR_MAX);
    s.score = dbp_xcalloc((size_t)r->N * (size_t)r->L + 1, sizeof(double));
    s.prob = dbp_xcalloc((size_t)r->N * (size_t)r->L + 1, sizeof(double));
    s.pr = dbp_xcalloc((size_t)r->N + 1, sizeof(double));
    for (int n = 0; n < r->N; n++) {
        dbp_strlcpy(s.nodes[n], g->nodes[r->node[n]], NODE_NAME);
        s.pr[n] = r->pr[n];
        for (int l = 0; l < r->L; l++) {
            s.prob[n * r->L + l] = r->probs[n * r->L + l];
            s.score[n * r->L + l] = r->probs[n * r->L + l] * r->pr[n];
        }
    }
    for (int l = 0; l < r->L; l++)
        dbp_strlcpy(s.classes[l], dbp_model_class(m, l), DBP_LABEL_STR_MAX);
    pthread_mutex_lock(&ml->lock);
    struct snapshot old = ml->snap;
    ml->snap = s;
    pthread_mutex_unlock(&ml->lock);
    snap_release(&old);
}

void dbp_ml_diag_req_init(struct dbp_ml_diag_req *rq)
{
    *rq = (struct dbp_ml_diag_req){NAN, NAN, NULL, DBP_SRC_AUTO, 0.001, -1, false};
}

int dbp_ml_diagnose(struct dbp_ml *ml, const struct dbp_ml_diag_req *rq, cJSON **out,
                    struct dbp_err *err)
{
    struct dbp_model *m = NULL;
    struct grid g = {0};
    struct wres best = {0};
    cJSON *timeline = NULL;
    int rc;
    double step;

    *out = NULL;
    if ((rc = model_get(ml, rq->model, &m, err)))
        return rc;
    pthread_mutex_lock(&ml->lock);
    step = ml->step_s;
    pthread_mutex_unlock(&ml->lock);
    int W = dbp_model_window(m);
    enum dbp_pr_form form =
        rq->pagerank >= 0 ? (enum dbp_pr_form)rq->pagerank : dbp_model_pagerank(m);
    bool range = isfinite(rq->start) || isfinite(rq->end);

    if (!range) {
        if (rq->source == DBP_SRC_PROMETHEUS) {
            double now = dbp_wall_s();
            int K = W + RULE_HISTORY;
            rc = grid_prometheus(ml, m, now - (K - 1) * step, now, K, &g, err);
        } else {
            rc = grid_ring_now(ml, m, W > RULE_HISTORY ? W : RULE_HISTORY, &g, err);
        }
    } else {
        double end = isfinite(rq->end) ? rq->end : dbp_wall_s();
        double start = isfinite(rq->start) ? rq->start : end - (W - 1) * step;
        if (start > end) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "'start' is after 'end'");
            goto out;
        }
        /* Room for the windows of the range plus the rule's baseline. */
        int K = (int)fmin((end - start) / step + 1, MAX_WINDOWS * W) + RULE_HISTORY;
        if (K < W)
            K = W;
        enum dbp_ml_source src = rq->source;
        if (src == DBP_SRC_AUTO) {
            double oldest = INFINITY;
            src = DBP_SRC_RING;
            if (ml->collector) {
                rc = grid_ring_range(ml, m, start - RULE_HISTORY * step, end, K, &g, &oldest, err);
                char url[DBP_HOST_MAX];
                pthread_mutex_lock(&ml->lock);
                dbp_strlcpy(url, ml->prom_url, sizeof(url));
                pthread_mutex_unlock(&ml->lock);
                /* The ring does not reach back to the start: ask Prometheus. */
                if (!rc && !(oldest <= start) && url[0]) {
                    grid_release(&g);
                    src = DBP_SRC_PROMETHEUS;
                }
            } else {
                src = DBP_SRC_PROMETHEUS;
            }
            if (src == DBP_SRC_PROMETHEUS)
                rc = grid_prometheus(ml, m, start - RULE_HISTORY * step, end, K, &g, err);
        } else if (src == DBP_SRC_RING) {
            rc = grid_ring_range(ml, m, start - RULE_HISTORY * step, end, K, &g, NULL, err);
        } else {
            rc = grid_prometheus(ml, m, start - RULE_HISTORY * step, end, K, &g, err);
        }
    }
    if (rc)
        goto out;
    if (g.mapped == 0) {
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "model '%s' was trained on catalog '%s', whose metrics the %s source "
                         "does not have",
                         dbp_model_name(m), dbp_model_catalog(m), g.source);
        goto out;
    }

    if (!range) {
        if ((rc = diag_window(m, &g, g.K, form, &best, err)))
            goto out;
    } else {
        /* Tile windows of W from the newest sample inside the range back to
         * the start; keep the one whose top pair scores highest. */
        double end = isfinite(rq->end) ? rq->end : dbp_wall_s();
        double start = isfinite(rq->start) ? rq->start : -INFINITY;
        int kend = g.K;
        while (kend > 0 && isfinite(g.t[kend - 1]) && g.t[kend - 1] > end + step / 2)
            kend--;
        timeline = cJSON_CreateArray();
        for (int j = 0; j < MAX_WINDOWS && kend - W >= 0; j++, kend -= W) {
            if (isfinite(g.t[kend - 1]) && g.t[kend - 1] < start)
                break;
            struct wres r;
            struct dbp_err e = {0};
            if (diag_window(m, &g, kend, form, &r, &e)) {
                wres_release(&r);
                continue; /* no samples in this window */
            }
            cJSON *t = window_json(&g, kend, W, step);
            if (r.ngraph > 0)
                cJSON_AddItemToObject(t, "top", rank_item(m, &g, &r, &r.graph[0], false));
            cJSON_AddItemToArray(timeline, t);
            if (!best.graph || (r.ngraph > 0 && r.graph[0].score > best.graph[0].score)) {
                wres_release(&best);
                best = r;
            } else {
                wres_release(&r);
            }
        }
        if (!best.graph) {
            rc = dbp_err_set(err, DBP_EUNAVAIL,
                             "no metric samples between start and end (source %s)", g.source);
            goto out;
        }
    }
    *out = result_json(m, &g, &best, rq->threshold, step);
    cJSON_AddItemToObject(*out, "compound", dbp_ml_compound_view(*out, rq->threshold));
    if (timeline) {
        cJSON_AddItemToObject(*out, "windows", timeline);
        timeline = NULL;
    }
    if (rq->publish && !range)
        publish(ml, m, &g, &best);
out:
    cJSON_Delete(timeline);
    wres_release(&best);
    grid_release(&g);
    dbp_model_unref(m);
    return rc;
}

/* ---- compound view ------------------------------------------------------------ */

#define HIGH_PROB 0.5

cJSON *dbp_ml_compound_view(const cJSON *d, double threshold)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *all = cJSON_GetObjectItem(d, "all_ranked_anomalies");
    const cJSON *nn = cJSON_GetObjectItem(d, "node_names");
    const cJSON *pg = cJSON_GetObjectItem(d, "propagation_graph");
    const cJSON *scores = cJSON_GetObjectItem(d, "scores");
    int nnodes = cJSON_GetArraySize(nn);
    double *total = dbp_xcalloc((size_t)(nnodes > 0 ? nnodes : 1), sizeof(double));
    int *count = dbp_xcalloc((size_t)(nnodes > 0 ? nnodes : 1), sizeof(int));
    int high = 0;
    const cJSON *it;

    cJSON_ArrayForEach (it, all) {
        double p = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "positive_prob_score"));
        double s = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "score"));
        const char *node = cJSON_GetStringValue(cJSON_GetObjectItem(it, "node"));
        if (!(p >= HIGH_PROB && s > threshold) || !node)
            continue;
        for (int i = 0; i < nnodes; i++)
            if (!strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(nn, i)), node)) {
                total[i] += s;
                count[i]++;
            }
        high++;
    }
    /* anomalies: high pairs, nodes by total score, each pair's share of its
     * node's total as "contribution" (the original's post-processing) */
    cJSON *an = cJSON_AddArrayToObject(o, "anomalies");
    cJSON *ca = cJSON_AddObjectToObject(o, "compound_anomalies");
    int *order = dbp_xcalloc((size_t)(nnodes > 0 ? nnodes : 1), sizeof(int));
    for (int i = 0; i < nnodes; i++)
        order[i] = i;
    for (int i = 1; i < nnodes; i++)
        for (int k = i; k > 0 && total[order[k]] > total[order[k - 1]]; k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (int oi = 0; oi < nnodes; oi++) {
        int i = order[oi];
        if (!count[i])
            continue;
        const char *node = cJSON_GetStringValue(cJSON_GetArrayItem(nn, i));
        cJSON *ent = cJSON_AddObjectToObject(ca, node);
        cJSON_AddNumberToObject(ent, "total_score", total[i]);
        cJSON_AddNumberToObject(ent, "anomaly_count", count[i]);
        cJSON *lst = cJSON_AddArrayToObject(ent, "anomalies");
        cJSON_ArrayForEach (it, all) {
            double p = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "positive_prob_score"));
            double s = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "score"));
            const char *n2 = cJSON_GetStringValue(cJSON_GetObjectItem(it, "node"));
            if (!(p >= HIGH_PROB && s > threshold) || !n2 || strcmp(n2, node))
                continue;
            cJSON *c = cJSON_Duplicate(it, 1);
            cJSON_AddNumberToObject(c, "contribution", total[i] > 0 ? s / total[i] * 100 : 0);
            cJSON_AddItemToArray(an, c);
            cJSON *short_ = cJSON_CreateObject();
            cJSON_AddStringToObject(short_, "type",
                                    cJSON_GetStringValue(cJSON_GetObjectItem(it, "type")));
            cJSON_AddNumberToObject(short_, "score", s);
            cJSON_AddNumberToObject(short_, "contribution", total[i] > 0 ? s / total[i] * 100 : 0);
            cJSON_AddItemToArray(lst, short_);
        }
    }
    /* graph: edges as {correlation, compound_path}; a path joins two nodes
     * that both carry high pairs (a fault that may propagate) */
    cJSON *g = cJSON_AddObjectToObject(o, "propagation_graph");
    for (int i = 0; i < nnodes; i++) {
        const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(nn, i));
        cJSON *row = cJSON_AddObjectToObject(g, a);
        for (int j = 0; j < nnodes; j++) {
            if (j == i)
                continue;
            const char *b = cJSON_GetStringValue(cJSON_GetArrayItem(nn, j));
            cJSON *e = cJSON_AddObjectToObject(row, b);
            cJSON_AddNumberToObject(
                e, "correlation",
                cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(pg, a), b)));
            cJSON_AddBoolToObject(e, "compound_path", count[i] > 0 && count[j] > 0);
        }
    }
    cJSON *na = cJSON_AddObjectToObject(o, "node_annotations");
    for (int i = 0; i < nnodes; i++) {
        const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(nn, i));
        cJSON *e = cJSON_AddObjectToObject(na, a);
        cJSON_AddBoolToObject(e, "has_compound_anomaly", count[i] >= 2 || (count[i] && high >= 2));
        cJSON_AddNumberToObject(e, "compound_score", total[i]);
        cJSON_AddNumberToObject(e, "anomaly_count", count[i]);
        cJSON_AddNumberToObject(e, "pagerank",
                                cJSON_GetNumberValue(cJSON_GetObjectItem(scores, a)));
    }
    cJSON_AddItemToObject(o, "node_names", cJSON_Duplicate(nn, 1));
    cJSON_AddBoolToObject(o, "has_compound_anomalies", high >= 2);
    cJSON_AddNumberToObject(o, "high_pairs", high);
    cJSON_AddNumberToObject(o, "probability_threshold", HIGH_PROB);
    const cJSON *ts = cJSON_GetObjectItem(d, "timestamp");
    cJSON_AddStringToObject(o, "timestamp", cJSON_IsString(ts) ? ts->valuestring : "");
    const cJSON *mo = cJSON_GetObjectItem(d, "model");
    if (cJSON_IsString(mo))
        cJSON_AddStringToObject(o, "model", mo->valuestring);
    free(total);
    free(count);
    free(order);
    return o;
}

/* ---- MetricRooter over the ring -------------------------------------------------- */

int dbp_ml_metrics_ranks(struct dbp_ml *ml, const char *node, int langs, cJSON **out,
                         struct dbp_err *err)
{
    int rc = need_collector(ml, err);
    if (rc)
        return rc;
    int idx = dbp_collector_node_index(ml->collector, node);
    if (idx < 0)
        return dbp_err_set(err, DBP_ENOTFOUND, "Node %s not found in metrics data", node);
    char(*names)[64] = dbp_xcalloc(DBP_MAX_NODES, 64);
    int nn = dbp_collector_node_names(ml->collector, names, DBP_MAX_NODES);
    char name[64];
    dbp_strlcpy(name, idx < nn ? names[idx] : node, sizeof(name));
    free(names);
    const struct dbp_catalog *cat = dbp_collector_catalog(ml->collector);
    int M = (int)cat->nmetrics, H;
    pthread_mutex_lock(&ml->lock);
    H = ml->history_points;
    pthread_mutex_unlock(&ml->lock);
    if (H > ROOTER_MAX_SAMPLES)
        H = ROOTER_MAX_SAMPLES; /* the newest ones: bounds memory and the O(n^2 H) graph */
    double *hist = dbp_xmalloc((size_t)M * (size_t)H * sizeof(double));
    const char **mn = dbp_xcalloc((size_t)M, sizeof(char *)),
               **mc = dbp_xcalloc((size_t)M, sizeof(char *));
    int have = 0;
    for (int m = 0; m < M; m++) {
        double *ts = NULL, *vals = NULL, old;
        size_t n = 0;
        mn[m] = cat->metrics[m].name;
        mc[m] = cat->metrics[m].category;
        for (int k = 0; k < H; k++)
            hist[(size_t)m * (size_t)H + (size_t)k] = NAN;
        if (dbp_collector_history(ml->collector, name, NULL, cat->metrics[m].name, -INFINITY,
                                  INFINITY, &ts, &vals, &n, &old, NULL) == 0) {
            place(hist + (size_t)m * (size_t)H, H, vals, n);
            have += n > 0;
        }
        free(ts);
        free(vals);
    }
    if (!have) {
        rc = dbp_err_set(err, DBP_EUNAVAIL, "No metrics data available for node %s yet", name);
    } else {
        struct dbp_rooter_result r;
        dbp_rooter_run(hist, M, H, DBP_ROOTER_Z, DBP_ROOTER_P, &r);
        *out = dbp_rooter_json(&r, name, mn, mc, langs);
        dbp_rooter_result_release(&r);
    }
    free(hist);
    free(mn);
    free(mc);
    return rc;
}

/* ---- continuous diagnosis --------------------------------------------------------- */

static void *continuous_main(void *arg)
{
    struct dbp_ml *ml = arg;
    pthread_mutex_lock(&ml->lock);
    while (!ml->cstop) {
        double iv = ml->cinterval;
        pthread_mutex_unlock(&ml->lock);
        struct dbp_ml_diag_req rq;
        dbp_ml_diag_req_init(&rq);
        rq.publish = true;
        cJSON *res = NULL;
        struct dbp_err e = {0};
        int rc = dbp_ml_diagnose(ml, &rq, &res, &e);
        cJSON_Delete(res);
        pthread_mutex_lock(&ml->lock);
        ml->cruns++;
        ml->clast = dbp_wall_s();
        dbp_strlcpy(ml->clast_err, rc ? e.msg : "", sizeof(ml->clast_err));
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = (double)until.tv_sec + until.tv_nsec / 1e9 + iv;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        while (!ml->cstop && pthread_cond_timedwait(&ml->cond, &ml->lock, &until) == 0)
            ; /* woken: re-check stop, else keep waiting until the deadline */
    }
    pthread_mutex_unlock(&ml->lock);
    return NULL;
}

static cJSON *continuous_locked(struct dbp_ml *ml)
{
    char t[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", ml->crunning && !ml->cstop);
    cJSON_AddNumberToObject(o, "interval_s", ml->cinterval);
    cJSON_AddNumberToObject(o, "runs", (double)ml->cruns);
    iso(ml->clast > 0 ? ml->clast : NAN, t, sizeof(t));
    if (t[0])
        cJSON_AddStringToObject(o, "last_run", t);
    else
        cJSON_AddNullToObject(o, "last_run");
    if (ml->clast_err[0])
        cJSON_AddStringToObject(o, "last_error", ml->clast_err);
    else
        cJSON_AddNullToObject(o, "last_error");
    return o;
}

cJSON *dbp_ml_continuous_state(struct dbp_ml *ml)
{
    pthread_mutex_lock(&ml->lock);
    cJSON *o = continuous_locked(ml);
    pthread_mutex_unlock(&ml->lock);
    return o;
}

int dbp_ml_continuous(struct dbp_ml *ml, bool on, double interval_s, cJSON **state,
                      struct dbp_err *err)
{
    bool join = false;
    pthread_mutex_lock(&ml->lock);
    if (on) {
        if (ml->stopping) {
            pthread_mutex_unlock(&ml->lock);
            return dbp_err_set(err, DBP_EUNAVAIL, "the daemon is stopping");
        }
        ml->cinterval = interval_s;
        if (!ml->crunning) {
            ml->cstop = false;
            if (pthread_create(&ml->cthread, NULL, continuous_main, ml) != 0) {
                pthread_mutex_unlock(&ml->lock);
                return dbp_err_set(err, DBP_ENOMEM, "cannot start the diagnosis thread");
            }
            pthread_setname_np(ml->cthread, "dbp-diagnosis");
            ml->crunning = true;
        }
        pthread_cond_broadcast(&ml->cond);
    } else if (ml->crunning) {
        ml->cstop = true;
        pthread_cond_broadcast(&ml->cond);
        join = true;
    }
    pthread_mutex_unlock(&ml->lock);
    if (join) {
        pthread_join(ml->cthread, NULL);
        pthread_mutex_lock(&ml->lock);
        ml->crunning = false;
        pthread_mutex_unlock(&ml->lock);
    }
    if (state)
        *state = dbp_ml_continuous_state(ml);
    return 0;
}

/* ---- exporter / health --------------------------------------------------------------- */

int dbp_ml_render_prom(void *arg, struct dbp_buf *b)
{
    struct dbp_ml *ml = arg;
    int rc = 0;
    pthread_mutex_lock(&ml->lock);
    const struct snapshot *s = &ml->snap;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"dbpecker_diagnosis_score",
         "PageRank x probability of each <node, type> pair in the last diagnosis of the current "
         "window."},
        {"dbpecker_diagnosis_probability",
         "Booster probability of each anomaly type per node in the last diagnosis."},
    };
    for (int f = 0; f < 2 && !rc; f++) {
        rc |= dbp_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help,
                             fam[f].name);
        for (int n = 0; s->have && n < s->N && !rc; n++)
            for (int l = 0; l < s->L && !rc; l++) {
                rc |= dbp_buf_printf(b, "%s{node=\"", fam[f].name);
                rc |= dbp_prom_escape(b, s->nodes[n]);
                rc |= dbp_buf_puts(b, "\",type=\"");
                rc |= dbp_prom_escape(b, s->classes[l]);
                rc |= dbp_buf_printf(b, "\"} %.17g\n",
                                     f == 0 ? s->score[n * s->L + l] : s->prob[n * s->L + l]);
            }
    }
    rc |= dbp_buf_puts(b, "# HELP dbpecker_diagnosis_pagerank Weighted PageRank of each node in "
                          "the last diagnosis (mean 1).\n# TYPE dbpecker_diagnosis_pagerank "
                          "gauge\n");
    for (int n = 0; s->have && n < s->N && !rc; n++) {
        rc |= dbp_buf_puts(b, "dbpecker_diagnosis_pagerank{node=\"");
        rc |= dbp_prom_escape(b, s->nodes[n]);
        rc |= dbp_buf_printf(b, "\"} %.17g\n", s->pr[n]);
    }
    rc |= dbp_buf_puts(b, "# HELP dbpecker_diagnosis_timestamp_seconds End of the window of the "
                          "last diagnosis.\n# TYPE dbpecker_diagnosis_timestamp_seconds gauge\n");
    if (s->have)
        rc |= dbp_buf_printf(b, "dbpecker_diagnosis_timestamp_seconds %.3f\n", s->ts);
    rc |= dbp_buf_puts(b, "# HELP dbpecker_model_info The active diagnosis model.\n"
                          "# TYPE dbpecker_model_info gauge\n");
    if (ml->model) {
        rc |= dbp_buf_puts(b, "dbpecker_model_info{model=\"");
        rc |= dbp_prom_escape(b, dbp_model_name(ml->model));
        rc |= dbp_buf_printf(b, "\",window=\"%d\",classes=\"%d\"} 1\n", dbp_model_window(ml->model),
                             dbp_model_nclasses(ml->model));
    }
    rc |= dbp_buf_printf(b,
                         "# HELP dbpecker_training_in_progress 1 while a model is trained.\n"
                         "# TYPE dbpecker_training_in_progress gauge\n"
                         "dbpecker_training_in_progress %d\n"
                         "# HELP dbpecker_diagnosis_continuous 1 while continuous diagnosis "
                         "runs.\n# TYPE dbpecker_diagnosis_continuous gauge\n"
                         "dbpecker_diagnosis_continuous %d\n",
                         ml->training ? 1 : 0, ml->crunning && !ml->cstop ? 1 : 0);
    pthread_mutex_unlock(&ml->lock);
    return rc ? DBP_ENOMEM : 0;
}

const char *dbp_ml_state(void *arg, char *detail, size_t detailsz)
{
    struct dbp_ml *ml = arg;
    const char *st;
    pthread_mutex_lock(&ml->lock);
    if (ml->model) {
        snprintf(detail, detailsz, "model %s%s", dbp_model_name(ml->model),
                 ml->training ? ", training a new one" : "");
        st = "ready";
    } else {
        snprintf(detail, detailsz, "no model trained yet%s", ml->training ? " (training)" : "");
        st = ml->training ? "training" : "no_model";
    }
    pthread_mutex_unlock(&ml->lock);
    return st;
}
