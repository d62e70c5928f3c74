/*
 * model.c - XGBoost boosters per anomaly type: train, predict, evaluate,
 * save, load, list.  File formats and the thread-safety argument: model.h.
 *
 * DESIGN
 * - Training builds one DMatrix of the training rows and reuses it for
 *   every class, changing only its "label" field: the hist method's
 *   quantised index is computed once per DMatrix and shared, which cuts
 *   training time and memory by the number of classes.
 * - Every XGBoost call goes through xgb(), which copies XGBGetLastError()
 *   into the caller's struct dbp_err at the failure site.
 * - m->lock serialises calls on m's boosters (leaf lock; held only around
 *   XGBoost calls and the copies of their results).
 */
#define _GNU_SOURCE
#include "dbp/model.h"

#include "dbp/features.h"
#include "dbp/log.h"
#include "dbp/util.h"
#include "durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xgboost/c_api.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

/*
 * Under ThreadSanitizer XGBoost runs on one thread: its OpenMP workers
 * synchronise inside libgomp, which TSan cannot see, and reporting (even
 * suppressing) their millions of apparent races makes a training take
 * minutes.  Our own threads are what that build checks.
 */
#if defined(__SANITIZE_THREAD__)
#define XGB_THREADS(n) ((void)(n), 1)
#else
#define XGB_THREADS(n) ((n) > 0 ? (n) : 1)
#endif

/* Bins per feature of the hist method (XGBoost's default); the quantile
 * matrix and the boosters must agree on it. */
#define QMAX_BIN 256

struct dbp_model {
    atomic_int refs;
    pthread_mutex_t lock;
    char name[DBP_MODEL_NAME_MAX];
    int nclasses;
    char (*classes)[DBP_LABEL_STR_MAX];
    BoosterHandle *boosters;
    int window, stride;
    char catalog[64];
    size_t nmetrics, dim;
    char **metric_names, **metric_cats;
    struct dbp_model_params params;
    cJSON *meta, *eval;
};

/* The one checked call site of the XGBoost C API. */
static int xgb(int rc, struct dbp_err *err, const char *what)
{
    if (rc == 0)
        return 0;
    const char *e = XGBGetLastError();
    return dbp_err_set(err, DBP_EXGB, "xgboost %s: %s", what, e && *e ? e : "unknown error");
}

/* snprintf into a path buffer; DBP_ETOOBIG instead of a truncated path. */
static int pathf(char *out, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t sz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sz, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sz ? DBP_ETOOBIG : 0;
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void xgb_log(const char *msg)
{
    DBP_INFO("xgboost", "%s", msg);
}

/* XGBoost prints warnings on stdout by default; route them to our log. */
static void log_init(void)
{
    (void)XGBRegisterLogCallback(xgb_log);
}

void dbp_model_params_default(struct dbp_model_params *p)
{
    *p = (struct dbp_model_params){
        .rounds = 100,
        .max_depth = 6,
        .eta = 0.3,
        .min_child_weight = 1,
        .subsample = 1,
        .scale_pos_weight = 1,
        .seed = 1314,
        .nthread = 1,
        .threshold = 0.5,
        .test_fraction = 0.2,
        .pagerank = DBP_PR_NORMALISED,
    };
}

static struct dbp_model *model_alloc(void)
{
    struct dbp_model *m = dbp_xcalloc(1, sizeof(*m));
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void model_free(struct dbp_model *m)
{
    for (int i = 0; m->boosters && i < m->nclasses; i++)
        if (m->boosters[i])
            (void)XGBoosterFree(m->boosters[i]);
    free(m->boosters);
    free(m->classes);
    for (size_t i = 0; i < m->nmetrics; i++) {
        free(m->metric_names ? m->metric_names[i] : NULL);
        free(m->metric_cats ? m->metric_cats[i] : NULL);
    }
    free(m->metric_names);
    free(m->metric_cats);
    cJSON_Delete(m->meta);
    cJSON_Delete(m->eval);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

struct dbp_model *dbp_model_ref(struct dbp_model *m)
{
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void dbp_model_unref(struct dbp_model *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        model_free(m);
}

static int set_params(BoosterHandle b, const struct dbp_model_params *p, struct dbp_err *err)
{
    char v[64];
    int rc;
    if ((rc = xgb(XGBoosterSetParam(b, "objective", "binary:logistic"), err, "set objective")) ||
        (rc = xgb(XGBoosterSetParam(b, "eval_metric", "logloss"), err, "set eval_metric")) ||
        (rc = xgb(XGBoosterSetParam(b, "tree_method", "hist"), err, "set tree_method")))
        return rc;
    snprintf(v, sizeof(v), "%d", p->max_depth);
    if ((rc = xgb(XGBoosterSetParam(b, "max_depth", v), err, "set max_depth")))
        return rc;
    snprintf(v, sizeof(v), "%.17g", p->eta);
    if ((rc = xgb(XGBoosterSetParam(b, "eta", v), err, "set eta")))
        return rc;
    snprintf(v, sizeof(v), "%.17g", p->min_child_weight);
    if ((rc = xgb(XGBoosterSetParam(b, "min_child_weight", v), err, "set min_child_weight")))
        return rc;
    snprintf(v, sizeof(v), "%.17g", p->subsample);
    if ((rc = xgb(XGBoosterSetParam(b, "subsample", v), err, "set subsample")))
        return rc;
    snprintf(v, sizeof(v), "%.17g", p->scale_pos_weight);
    if ((rc = xgb(XGBoosterSetParam(b, "scale_pos_weight", v), err, "set scale_pos_weight")))
        return rc;
    /* XGBoost's seed is an int; fold the 64-bit seed. */
    snprintf(v, sizeof(v), "%d", (int)((p->seed ^ (p->seed >> 32)) & 0x7fffffff));
    if ((rc = xgb(XGBoosterSetParam(b, "seed", v), err, "set seed")))
        return rc;
    snprintf(v, sizeof(v), "%d", QMAX_BIN);
    if ((rc = xgb(XGBoosterSetParam(b, "max_bin", v), err, "set max_bin")))
        return rc;
    snprintf(v, sizeof(v), "%d", XGB_THREADS(p->nthread));
    return xgb(XGBoosterSetParam(b, "nthread", v), err, "set nthread");
}

/*
 * The training matrix as a QuantileDMatrix fed by an iterator over row
 * batches of X (XGBoost >= 1.7 on CPU): XGBoost keeps only the quantised
 * bin index (1 byte per value), not a CSR copy of the data (8 bytes per
 * value, plus the growth of its vector while it is built), which more than
 * halves the peak memory of a training.  The batches point into X: no copy
 * on our side either.
 */
#define QBATCH 4096

struct qiter {
    const float *x;
    size_t rows, dim, pos;
    DMatrixHandle proxy;
    int failed;
};

static int qnext(DataIterHandle h)
{
    struct qiter *it = h;
    char iface[256];
    if (it->pos >= it->rows)
        return 0;
    size_t n = it->rows - it->pos < QBATCH ? it->rows - it->pos : QBATCH;
    snprintf(iface, sizeof(iface),
             "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (uintptr_t)(it->x + it->pos * it->dim), n, it->dim);
    if (XGProxyDMatrixSetDataDense(it->proxy, iface) != 0) {
        it->failed = 1;
        return 0;
    }
    it->pos += n;
    return 1;
}

static void qreset(DataIterHandle h)
{
    ((struct qiter *)h)->pos = 0;
}

static int train_matrix(const float *x, size_t rows, size_t dim, int nthread, DMatrixHandle *out,
                        struct dbp_err *err)
{
    struct qiter it = {x, rows, dim, 0, NULL, 0};
    char cfg[128];
    int rc = xgb(XGProxyDMatrixCreate(&it.proxy), err, "create proxy matrix");
    if (rc)
        return rc;
    snprintf(cfg, sizeof(cfg), "{\"missing\": NaN, \"nthread\": %d, \"max_bin\": %d}",
             XGB_THREADS(nthread), QMAX_BIN);
    rc = xgb(XGQuantileDMatrixCreateFromCallback(&it, it.proxy, NULL, qreset, qnext, cfg, out), err,
             "create training matrix");
    (void)XGDMatrixFree(it.proxy);
    if (!rc && it.failed) {
        (void)XGDMatrixFree(*out);
        *out = NULL;
        rc = dbp_err_set(err, DBP_EXGB, "xgboost rejected a batch of the training matrix: %s",
                         XGBGetLastError());
    }
    return rc;
}

/* Copy out the probabilities of booster b for dmat (rows values). */
static int predict_locked(BoosterHandle b, DMatrixHandle d, size_t rows, double *out, size_t stride,
                          struct dbp_err *err)
{
    bst_ulong len = 0;
    const float *res = NULL;
    int rc = xgb(XGBoosterPredict(b, d, 0, 0, 0, &len, &res), err, "predict");
    if (rc)
        return rc;
    if (len != rows)
        return dbp_err_set(err, DBP_EXGB, "xgboost predict returned %lu values for %zu rows",
                           (unsigned long)len, rows);
    /* res is library-owned and thread-local: copy before the next call. */
    for (size_t r = 0; r < rows; r++)
        out[r * stride] = res[r];
    return 0;
}

/*
 * Diagnosis predicts a few dozen rows: OpenMP's fork/join costs more than
 * it saves there, and on a busy 2-core machine a descheduled worker turns
 * a 0.1 ms prediction into 10 ms.  Shared models predict on one thread
 * (training used params.nthread).
 */
static int predict_single_thread(struct dbp_model *m, struct dbp_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (int l = 0; l < m->nclasses && !rc; l++)
        rc = xgb(XGBoosterSetParam(m->boosters[l], "nthread", "1"), err, "set nthread");
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int dbp_model_predict(struct dbp_model *m, const float *x, size_t rows, double *probs,
                      struct dbp_err *err)
{
    DMatrixHandle d = NULL;
    int rc = 0;
    if (rows == 0)
        return 0;
    pthread_mutex_lock(&m->lock);
    rc = xgb(XGDMatrixCreateFromMat_omp(x, rows, m->dim, NAN, &d, 1), err, "create matrix");
    for (int l = 0; !rc && l < m->nclasses; l++)
        rc = predict_locked(m->boosters[l], d, rows, probs + l, (size_t)m->nclasses, err);
    if (d)
        (void)XGDMatrixFree(d);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void fill_metrics(struct dbp_model *m, const struct dbp_model_spec *s)
{
    m->nmetrics = s->nmetrics;
    m->dim = dbp_features_dim(s->nmetrics);
    m->metric_names = dbp_xcalloc(s->nmetrics ? s->nmetrics : 1, sizeof(char *));
    m->metric_cats = dbp_xcalloc(s->nmetrics ? s->nmetrics : 1, sizeof(char *));
    for (size_t i = 0; i < s->nmetrics; i++) {
        m->metric_names[i] = dbp_xstrdup(s->metric_names[i]);
        m->metric_cats[i] = dbp_xstrdup(
            s->metric_categories && s->metric_categories[i] ? s->metric_categories[i] : "other");
    }
}

static cJSON *split_json(const struct dbp_dataset *ds, size_t r0, size_t r1, bool test)
{
    cJSON *o = cJSON_CreateObject();
    int cases = 0;
    for (int g = 0; g < ds->ngroups; g++)
        cases += ds->group_test[g] == test;
    cJSON_AddNumberToObject(o, "rows", (double)(r1 - r0));
    cJSON_AddNumberToObject(o, "cases", cases);
    cJSON *pos = cJSON_AddObjectToObject(o, "positives");
    for (int l = 0; l < ds->nclasses; l++) {
        size_t n = 0;
        for (size_t r = r0; r < r1; r++)
            n += ds->Y[r * (size_t)ds->nclasses + (size_t)l];
        cJSON_AddNumberToObject(pos, ds->classes[l], (double)n);
    }
    return o;
}

static cJSON *build_meta(const struct dbp_model *m, const struct dbp_dataset *ds,
                         const struct dbp_model_spec *s)
{
    cJSON *o = cJSON_CreateObject();
    char iso[40];
    int ma = 0, mi = 0, pa = 0;
    cJSON_AddStringToObject(o, "format", "dbpecker-model/1");
    cJSON_AddStringToObject(o, "name", "");
    dbp_iso8601(dbp_wall_s(), iso, sizeof(iso));
    cJSON_AddStringToObject(o, "created_at", iso);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int l = 0; l < m->nclasses; l++)
        cJSON_AddItemToArray(cl, cJSON_CreateString(m->classes[l]));
    cJSON_AddNumberToObject(o, "window", m->window);
    cJSON_AddNumberToObject(o, "stride", m->stride);
    cJSON_AddStringToObject(o, "catalog", m->catalog);
    cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
    for (size_t i = 0; i < m->nmetrics; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", m->metric_names[i]);
        cJSON_AddStringToObject(e, "category", m->metric_cats[i]);
        cJSON_AddItemToArray(ms, e);
    }
    cJSON *fp = cJSON_AddArrayToObject(o, "features_per_metric");
    for (int f = 0; f < DBP_FEAT_PER_METRIC; f++)
        cJSON_AddItemToArray(fp, cJSON_CreateString(dbp_features_name(f)));
    cJSON *fn = cJSON_AddArrayToObject(o, "feature_names");
    for (size_t i = 0; i < m->nmetrics; i++)
        for (int f = 0; f < DBP_FEAT_PER_METRIC; f++) {
            char *s2 = dbp_xasprintf("%s:%s", m->metric_names[i], dbp_features_name(f));
            cJSON_AddItemToArray(fn, cJSON_CreateString(s2));
            free(s2);
        }
    cJSON_AddNumberToObject(o, "dim", (double)m->dim);
    const struct dbp_model_params *p = &m->params;
    cJSON *pj = cJSON_AddObjectToObject(o, "params");
    cJSON_AddStringToObject(pj, "objective", "binary:logistic");
    cJSON_AddStringToObject(pj, "eval_metric", "logloss");
    cJSON_AddStringToObject(pj, "tree_method", "hist");
    cJSON_AddNumberToObject(pj, "max_bin", QMAX_BIN);
    cJSON_AddNumberToObject(pj, "rounds", p->rounds);
    cJSON_AddNumberToObject(pj, "max_depth", p->max_depth);
    cJSON_AddNumberToObject(pj, "eta", p->eta);
    cJSON_AddNumberToObject(pj, "min_child_weight", p->min_child_weight);
    cJSON_AddNumberToObject(pj, "subsample", p->subsample);
    cJSON_AddNumberToObject(pj, "scale_pos_weight", p->scale_pos_weight);
    cJSON_AddNumberToObject(pj, "nthread", p->nthread);
    cJSON_AddNumberToObject(pj, "threshold", p->threshold);
    cJSON_AddNumberToObject(pj, "test_fraction", p->test_fraction);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON_AddStringToObject(o, "pagerank", dbp_pr_form_name(p->pagerank));
    cJSON_AddItemToObject(o, "train", split_json(ds, 0, ds->ntrain, false));
    cJSON_AddItemToObject(o, "test", split_json(ds, ds->ntrain, ds->rows, true));
    cJSON *bj = cJSON_AddObjectToObject(o, "boosters");
    for (int l = 0; l < m->nclasses; l++) {
        char *f = dbp_xasprintf("booster_%s.json", m->classes[l]);
        cJSON_AddStringToObject(bj, m->classes[l], f);
        free(f);
    }
    XGBoostVersion(&ma, &mi, &pa);
    char ver[32];
    snprintf(ver, sizeof(ver), "%d.%d.%d", ma, mi, pa);
    cJSON_AddStringToObject(o, "xgboost_version", ver);
    if (s->data_dir)
        cJSON_AddStringToObject(o, "data_dir", s->data_dir);
    return o;
}

int dbp_model_train(const struct dbp_dataset *ds, const struct dbp_model_spec *spec,
                    const struct dbp_model_params *p, dbp_progress_fn progress, void *cls,
                    struct dbp_model **out, struct dbp_err *err)
{
    struct dbp_model *m = NULL;
    DMatrixHandle dtrain = NULL;
    float *lab = NULL;
    int rc = 0;
    long total = 0, step = 0; /* boosting rounds, for the progress */

    *out = NULL;
    pthread_once(&log_once, log_init);
    if (ds->nclasses < 1)
        return dbp_err_set(err, DBP_EINVAL, "no classes to train");
    if (ds->ntrain == 0)
        return dbp_err_set(err, DBP_EINVAL, "no training rows");
    if (ds->dim != dbp_features_dim(spec->nmetrics))
        return dbp_err_set(err, DBP_EINVAL, "dataset has %zu features, the spec implies %zu",
                           ds->dim, dbp_features_dim(spec->nmetrics));
    if (p->rounds < 1 || p->rounds > 10000 || p->max_depth < 1 || p->max_depth > 32 ||
        !(p->eta > 0 && p->eta <= 1))
        return dbp_err_set(err, DBP_EINVAL, "bad training parameters");

    m = model_alloc();
    m->params = *p;
    m->nclasses = ds->nclasses;
    m->classes = dbp_xcalloc((size_t)ds->nclasses, sizeof(*m->classes));
    memcpy(m->classes, ds->classes, (size_t)ds->nclasses * sizeof(*m->classes));
    m->boosters = dbp_xcalloc((size_t)ds->nclasses, sizeof(BoosterHandle));
    m->window = spec->window;
    m->stride = spec->stride;
    dbp_strlcpy(m->catalog, spec->catalog ? spec->catalog : "", sizeof(m->catalog));
    fill_metrics(m, spec);

    if ((rc = train_matrix(ds->X, ds->ntrain, ds->dim, p->nthread, &dtrain, err)))
        goto out;
    lab = malloc(ds->ntrain * sizeof(float));
    if (!lab) {
        rc = dbp_err_set(err, DBP_ENOMEM, "out of memory for labels");
        goto out;
    }
    total = (long)ds->nclasses * p->rounds;
    for (int l = 0; l < ds->nclasses && !rc; l++) {
        for (size_t r = 0; r < ds->ntrain; r++)
            lab[r] = ds->Y[r * (size_t)ds->nclasses + (size_t)l];
        if ((rc =
                 xgb(XGDMatrixSetFloatInfo(dtrain, "label", lab, ds->ntrain), err, "set labels")) ||
            (rc = xgb(XGBoosterCreate(&dtrain, 1, &m->boosters[l]), err, "create booster")) ||
            (rc = set_params(m->boosters[l], p, err)))
            break;
        for (int it = 0; it < p->rounds; it++) {
            if ((rc = xgb(XGBoosterUpdateOneIter(m->boosters[l], it, dtrain), err,
                          "boosting round")))
                break;
            step++;
            /* Every round: it is also where a cancel is noticed. */
            if (progress) {
                char msg[160];
                snprintf(msg, sizeof(msg), "Training %s: round %d of %d (booster %d of %d)",
                         m->classes[l], it + 1, p->rounds, l + 1, ds->nclasses);
                if (progress(cls, 100.0 * (double)step / (double)total, msg)) {
                    rc = dbp_err_set(err, DBP_EBUSY, "cancelled");
                    break;
                }
            }
        }
    }
    if (rc)
        goto out;
    m->meta = build_meta(m, ds, spec);
    if (ds->rows > ds->ntrain)
        rc = dbp_model_evaluate(m, ds, ds->ntrain, ds->rows, p->pagerank, &m->eval, err);
    if (!rc)
        rc = predict_single_thread(m, err);
out:
    free(lab);
    if (dtrain)
        (void)XGDMatrixFree(dtrain);
    if (rc) {
        dbp_model_unref(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- evaluation ----------------------------------------------------------- */

struct ack {
    double sum[3][3]; /* method x k */
    int n;
};

static const int kvals[3] = {1, 3, 5};
static const char *const methods[3] = {"graph", "xgboost", "rule"};

static void ack_add(struct ack *a, const double p[3][3])
{
    for (int me = 0; me < 3; me++)
        for (int k = 0; k < 3; k++)
            a->sum[me][k] += p[me][k];
    a->n++;
}

static cJSON *ack_json(const struct ack *a, bool with_count)
{
    cJSON *o = cJSON_CreateObject();
    if (with_count)
        cJSON_AddNumberToObject(o, "instances", a->n);
    for (int me = 0; me < 3; me++) {
        cJSON *mo = cJSON_AddObjectToObject(o, methods[me]);
        for (int k = 0; k < 3; k++) {
            char key[8];
            snprintf(key, sizeof(key), "AC@%d", kvals[k]);
            if (a->n)
                cJSON_AddNumberToObject(mo, key, a->sum[me][k] / a->n);
            else
                cJSON_AddNullToObject(mo, key);
        }
    }
    return o;
}

static cJSON *prf_json(long tp, long fp, long fn, long tn, double *f1_out)
{
    cJSON *o = cJSON_CreateObject();
    double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    double rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    cJSON_AddNumberToObject(o, "precision", prec);
    cJSON_AddNumberToObject(o, "recall", rec);
    cJSON_AddNumberToObject(o, "f1", f1);
    cJSON_AddNumberToObject(o, "support", (double)(tp + fn));
    cJSON_AddNumberToObject(o, "tp", (double)tp);
    cJSON_AddNumberToObject(o, "fp", (double)fp);
    cJSON_AddNumberToObject(o, "fn", (double)fn);
    cJSON_AddNumberToObject(o, "tn", (double)tn);
    *f1_out = f1;
    return o;
}

/* |z| the rule baseline needs to call a row anomalous in per-type scores. */
#define RULE_Z_POSITIVE 3.0

int dbp_model_evaluate(struct dbp_model *m, const struct dbp_dataset *ds, size_t r0, size_t r1,
                       enum dbp_pr_form form, cJSON **out, struct dbp_err *err)
{
    size_t R = r1 > r0 ? r1 - r0 : 0, L = (size_t)ds->nclasses;
    double *probs = NULL;
    int rc;

    *out = NULL;
    if (ds->nclasses != m->nclasses || ds->dim != m->dim)
        return dbp_err_set(err, DBP_EINVAL, "dataset does not match model '%s'", m->name);
    for (int l = 0; l < m->nclasses; l++)
        if (strcmp(ds->classes[l], m->classes[l]))
            return dbp_err_set(err, DBP_EINVAL, "dataset class %d is '%s', model's is '%s'", l,
                               ds->classes[l], m->classes[l]);
    probs = malloc((R ? R : 1) * L * sizeof(double));
    if (!probs)
        return dbp_err_set(err, DBP_ENOMEM, "out of memory for predictions");
    if ((rc = dbp_model_predict(m, ds->X + r0 * ds->dim, R, probs, err))) {
        free(probs);
        return rc;
    }

    cJSON *o = cJSON_CreateObject();
    int cases = 0;
    for (int g = 0; g < ds->ngroups; g++) {
        bool any = false;
        for (size_t r = r0; r < r1 && !any; r++)
            any = ds->group[r] == g;
        cases += any;
    }
    cJSON_AddNumberToObject(o, "rows", (double)R);
    cJSON_AddNumberToObject(o, "cases", cases);
    cJSON_AddNumberToObject(o, "threshold", m->params.threshold);
    cJSON_AddStringToObject(o, "per_type_note",
                            "node-level decisions of the boosters at the threshold: the graph "
                            "re-ranks <node, type> pairs (see ac_at_k), it does not change them");

    cJSON *pt = cJSON_AddObjectToObject(o, "per_type");
    cJSON *ptr = cJSON_CreateObject();
    double f1sum = 0, f1rsum = 0;
    for (size_t l = 0; l < L; l++) {
        long c[2][4] = {{0}}; /* [xgb|rule][tp fp fn tn] */
        for (size_t r = 0; r < R; r++) {
            bool y = ds->Y[(r0 + r) * L + l];
            bool px = probs[r * L + l] >= m->params.threshold;
            bool pr = ds->rule_type[r0 + r] == (int)l && ds->rule_score[r0 + r] >= RULE_Z_POSITIVE;
            c[0][y ? (px ? 0 : 2) : (px ? 1 : 3)]++;
            c[1][y ? (pr ? 0 : 2) : (pr ? 1 : 3)]++;
        }
        double f1;
        cJSON_AddItemToObject(pt, ds->classes[l],
                              prf_json(c[0][0], c[0][1], c[0][2], c[0][3], &f1));
        f1sum += f1;
        cJSON_AddItemToObject(ptr, ds->classes[l],
                              prf_json(c[1][0], c[1][1], c[1][2], c[1][3], &f1));
        f1rsum += f1;
    }
    cJSON_AddNumberToObject(o, "macro_f1", L ? f1sum / (double)L : 0);
    cJSON_AddItemToObject(o, "per_type_rule", ptr);
    cJSON_AddNumberToObject(o, "macro_f1_rule", L ? f1rsum / (double)L : 0);
    cJSON_AddNumberToObject(o, "rule_z_positive", RULE_Z_POSITIVE);

    /* AC@k over the instances inside [r0, r1). */
    static const char *const gnames[4] = {"single_node", "multi_node", "single_node_compound",
                                          "multi_node_compound"};
    struct ack all, bygroup[4];
    memset(&all, 0, sizeof(all));
    memset(bygroup, 0, sizeof(bygroup));
    cJSON *bysc = cJSON_CreateObject();
    struct ack *sc = dbp_xcalloc((size_t)(ds->ngroups > 0 ? ds->ngroups : 1), sizeof(*sc));
    int ninst = 0;
    for (size_t i = 0; i < ds->ninst; i++) {
        const struct dbp_ds_instance *in = &ds->insts[i];
        int N = in->nnodes;
        if (N < 1 || in->first_row < r0 || in->first_row + (size_t)N > r1)
            continue;
        ninst++;
        bool *truth = dbp_xcalloc((size_t)N * L, sizeof(bool));
        int nt = 0, tnodes = 0;
        bool *tt = dbp_xcalloc(L ? L : 1, sizeof(bool));
        for (int n = 0; n < N; n++) {
            bool any = false;
            for (size_t l = 0; l < L; l++) {
                truth[(size_t)n * L + l] = ds->Y[(in->first_row + (size_t)n) * L + l];
                if (truth[(size_t)n * L + l]) {
                    nt++;
                    any = true;
                    tt[l] = true;
                }
            }
            tnodes += any;
        }
        int ntypes = 0;
        for (size_t l = 0; l < L; l++)
            ntypes += tt[l];
        free(tt);
        if (nt == 0) {
            free(truth);
            continue; /* normal: nothing to find */
        }
        double *pr = dbp_xcalloc((size_t)N, sizeof(double));
        struct dbp_rank_item *items = dbp_xcalloc((size_t)N * L, sizeof(*items));
        const double *pp = probs + (in->first_row - r0) * L;
        double p[3][3];
        (void)dbp_pagerank(in->w, N, DBP_PR_DAMPING, form, DBP_PR_TOL, DBP_PR_MAXIT, pr, NULL);
        int ni = dbp_rank_pairs(pp, pr, N, (int)L, items);
        for (int k = 0; k < 3; k++)
            p[0][k] = dbp_precision_at_k(items, ni, truth, N, (int)L, kvals[k]);
        ni = dbp_rank_pairs(pp, NULL, N, (int)L, items);
        for (int k = 0; k < 3; k++)
            p[1][k] = dbp_precision_at_k(items, ni, truth, N, (int)L, kvals[k]);
        ni = 0;
        for (int n = 0; n < N; n++) {
            size_t r = in->first_row + (size_t)n;
            if (ds->rule_type[r] >= 0)
                items[ni++] = (struct dbp_rank_item){n, ds->rule_type[r], ds->rule_score[r], 0, 1};
        }
        dbp_rank_sort(items, ni);
        for (int k = 0; k < 3; k++)
            p[2][k] = dbp_precision_at_k(items, ni, truth, N, (int)L, kvals[k]);
        ack_add(&all, p);
        int gk = (tnodes > 1 ? 1 : 0) + (ntypes > 1 ? 2 : 0);
        ack_add(&bygroup[gk], p);
        if (in->group >= 0 && in->group < ds->ngroups && ds->group_scenario[in->group][0])
            ack_add(&sc[in->group], p);
        free(pr);
        free(items);
        free(truth);
    }
    cJSON_AddNumberToObject(o, "instances", ninst);
    cJSON *ak = cJSON_AddObjectToObject(o, "ac_at_k");
    cJSON_AddNumberToObject(ak, "instances", all.n);
    cJSON_AddStringToObject(ak, "pagerank", dbp_pr_form_name(form));
    cJSON_AddItemToObject(ak, "methods", ack_json(&all, false));
    cJSON *bg = cJSON_AddObjectToObject(ak, "by_group");
    for (int g = 0; g < 4; g++)
        if (bygroup[g].n)
            cJSON_AddItemToObject(bg, gnames[g], ack_json(&bygroup[g], true));
    /* merge groups (cases) of the same scenario */
    for (int g = 0; g < ds->ngroups; g++) {
        if (!sc[g].n)
            continue;
        struct ack a = sc[g];
        for (int h = g + 1; h < ds->ngroups; h++)
            if (sc[h].n && !strcmp(ds->group_scenario[h], ds->group_scenario[g])) {
                for (int me = 0; me < 3; me++)
                    for (int k = 0; k < 3; k++)
                        a.sum[me][k] += sc[h].sum[me][k];
                a.n += sc[h].n;
                sc[h].n = 0;
            }
        cJSON_AddItemToObject(bysc, ds->group_scenario[g], ack_json(&a, true));
    }
    cJSON_AddItemToObject(ak, "by_scenario", bysc);
    free(sc);
    free(probs);
    *out = o;
    return 0;
}

/* ---- save / load / list ------------------------------------------------------ */

bool dbp_model_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < strlen(DBP_MODEL_PREFIX) || n >= DBP_MODEL_NAME_MAX ||
        strncmp(name, DBP_MODEL_PREFIX, strlen(DBP_MODEL_PREFIX)))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

static int io_err(struct dbp_err *err, int rc, const char *what, const char *path)
{
    if (rc == DBP_ETOOBIG)
        return dbp_err_set(err, DBP_ETOOBIG, "%s '%s': too large", what, path);
    return dbp_err_set(err, DBP_EIO, "%s '%s': %s", what, path, strerror(rc < 0 ? -rc : rc));
}

static int write_json(const char *dir, const char *file, const cJSON *o, struct dbp_err *err)
{
    char path[PATH_MAX];
    (void)pathf(path, sizeof(path), "%s/%s", dir, file);
    char *txt = cJSON_Print(o);
    if (!txt)
        return dbp_err_set(err, DBP_ENOMEM, "cannot serialise %s", file);
    int rc = dbp_write_file_atomic(path, txt, strlen(txt), 0644);
    free(txt);
    return rc ? io_err(err, rc, "cannot write", path) : 0;
}

static void rm_tree_shallow(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[PATH_MAX];
            if (pathf(p, sizeof(p), "%s/%s", dir, de->d_name) == 0)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int dbp_model_save(struct dbp_model *m, const char *models_dir, const char *name,
                   struct dbp_err *err)
{
    char final[PATH_MAX], tmp[PATH_MAX], nm[DBP_MODEL_NAME_MAX], rnd[9];
    struct stat st;
    cJSON *cfg;
    int rc;

    if ((rc = dbp_mkdir_p(models_dir, 0755)))
        return io_err(err, rc, "cannot create", models_dir);
    if (name) {
        if (!dbp_model_name_ok(name))
            return dbp_err_set(err, DBP_EINVAL, "bad model name '%s'", name);
        dbp_strlcpy(nm, name, sizeof(nm));
        (void)pathf(final, sizeof(final), "%s/%s", models_dir, nm);
        if (stat(final, &st) == 0)
            return dbp_err_set(err, DBP_EBUSY, "model '%s' already exists", nm);
    } else {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm);
        for (int k = 1;; k++) {
            if (k == 1)
                snprintf(nm, sizeof(nm), "%s_%s", DBP_MODEL_PREFIX, stamp);
            else
                snprintf(nm, sizeof(nm), "%s_%s_%d", DBP_MODEL_PREFIX, stamp, k);
            (void)pathf(final, sizeof(final), "%s/%s", models_dir, nm);
            if (stat(final, &st) != 0)
                break;
        }
    }
    dbp_random_hex(rnd, 8);
    (void)pathf(tmp, sizeof(tmp), "%s/.tmp-%s-%s", models_dir, nm, rnd);
    if (mkdir(tmp, 0755) != 0)
        return dbp_err_set(err, DBP_EIO, "cannot create '%s': %s", tmp, strerror(errno));

    cJSON_ReplaceItemInObjectCaseSensitive(m->meta, "name", cJSON_CreateString(nm));
    pthread_mutex_lock(&m->lock);
    for (int l = 0; l < m->nclasses; l++) {
        char path[PATH_MAX];
        (void)pathf(path, sizeof(path), "%s/booster_%s.json", tmp, m->classes[l]);
        if ((rc = xgb(XGBoosterSaveModel(m->boosters[l], path), err, "save model")))
            break;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc)
        goto fail;
    if ((rc = write_json(tmp, "meta.json", m->meta, err)))
        goto fail;
    if (m->eval && (rc = write_json(tmp, "evaluation.json", m->eval, err)))
        goto fail;
    cfg = cJSON_CreateObject();
    cJSON_AddNumberToObject(cfg, "num_classifier", m->nclasses);
    cJSON_AddItemReferenceToObject(cfg, "classes", cJSON_GetObjectItem(m->meta, "classes"));
    cJSON_AddNumberToObject(cfg, "time_window", m->window);
    rc = write_json(tmp, "config.json", cfg, err);
    cJSON_Delete(cfg);
    if (rc)
        goto fail;
    /* The boosters (written by XGBoost, unsynced) and the directory's
     * entries reach the disk before the rename publishes the directory. */
    if ((rc = dbp_ml_fsync_tree(tmp))) {
        rc = io_err(err, rc, "cannot sync", tmp);
        goto fail;
    }
    /* No replace: two trainings finishing in the same second must not
     * overwrite each other. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) != 0) {
        rc = errno == EEXIST
                 ? dbp_err_set(err, DBP_EBUSY, "model '%s' already exists", nm)
                 : dbp_err_set(err, DBP_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    /* ...and the rename itself is durable once models_dir is synced. */
    if ((rc = dbp_ml_fsync_path(models_dir)))
        DBP_WARN("model", "cannot sync '%s': %s", models_dir, strerror(-rc));
    rc = 0;
    dbp_strlcpy(m->name, nm, sizeof(m->name));
    return 0;
fail:
    rm_tree_shallow(tmp);
    return rc;
}

static int read_json_file(const char *path, size_t max, cJSON **out, struct dbp_err *err)
{
    char *txt = NULL;
    size_t len = 0;
    int rc = dbp_read_file(path, max, &txt, &len);
    if (rc)
        return rc == -ENOENT ? dbp_err_set(err, DBP_ENOTFOUND, "'%s' is missing", path)
                             : io_err(err, rc, "cannot read", path);
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
    free(txt);
    if (!*out)
        return dbp_err_set(err, DBP_ESCHEMA, "'%s' is not valid JSON", path);
    return 0;
}

int dbp_model_load(const char *models_dir, const char *name, struct dbp_model **out,
                   struct dbp_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    struct dbp_model *m = NULL;
    cJSON *meta = NULL;
    float *zero = NULL;
    double *pz = NULL;
    int rc;

    *out = NULL;
    pthread_once(&log_once, log_init);
    if (!dbp_model_name_ok(name))
        return dbp_err_set(err, DBP_ENOTFOUND, "Model '%s' not found", name);
    (void)pathf(dir, sizeof(dir), "%s/%s", models_dir, name);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return dbp_err_set(err, DBP_ENOTFOUND, "Model '%s' not found", name);
    (void)pathf(path, sizeof(path), "%s/meta.json", dir);
    if ((rc = read_json_file(path, 64u << 20, &meta, err)))
        return rc == DBP_ENOTFOUND
                   ? dbp_err_set(err, DBP_ESCHEMA, "model '%s' is incomplete: meta.json is missing",
                                 name)
                   : rc;

    m = model_alloc();
    dbp_strlcpy(m->name, name, sizeof(m->name));
    m->meta = meta;
    const cJSON *cl = cJSON_GetObjectItem(meta, "classes");
    const cJSON *win = cJSON_GetObjectItem(meta, "window");
    const cJSON *ms = cJSON_GetObjectItem(meta, "metrics");
    const cJSON *dim = cJSON_GetObjectItem(meta, "dim");
    const cJSON *fn = cJSON_GetObjectItem(meta, "feature_names");
    const cJSON *cat = cJSON_GetObjectItem(meta, "catalog");
    const cJSON *stride = cJSON_GetObjectItem(meta, "stride");
    const cJSON *prf = cJSON_GetObjectItem(meta, "pagerank");
    if (!cJSON_IsArray(cl) || cJSON_GetArraySize(cl) < 1 || cJSON_GetArraySize(cl) > 64 ||
        !cJSON_IsNumber(win) || win->valueint < 2 || win->valueint > DBP_FEAT_MAX_WINDOW ||
        !cJSON_IsArray(ms) || cJSON_GetArraySize(ms) < 1 || !cJSON_IsNumber(dim) ||
        !cJSON_IsArray(fn)) {
        rc = dbp_err_set(err, DBP_ESCHEMA,
                         "model '%s': meta.json lacks valid 'classes', 'window', 'metrics', "
                         "'dim' or 'feature_names'",
                         name);
        goto fail;
    }
    {
        m->window = win->valueint;
        m->stride = cJSON_IsNumber(stride) ? stride->valueint : m->window;
        dbp_strlcpy(m->catalog, cJSON_IsString(cat) ? cat->valuestring : "", sizeof(m->catalog));
        dbp_model_params_default(&m->params);
        int pf = dbp_pr_form_from_name(cJSON_IsString(prf) ? prf->valuestring : NULL);
        m->params.pagerank = pf < 0 ? DBP_PR_NORMALISED : (enum dbp_pr_form)pf;
        const cJSON *pj = cJSON_GetObjectItem(meta, "params");
        const cJSON *th = cJSON_GetObjectItem(pj, "threshold");
        if (cJSON_IsNumber(th))
            m->params.threshold = th->valuedouble;

        size_t nm = (size_t)cJSON_GetArraySize(ms);
        const char **names = dbp_xcalloc(nm, sizeof(char *));
        const char **cats = dbp_xcalloc(nm, sizeof(char *));
        size_t i = 0;
        const cJSON *e;
        bool bad = false;
        cJSON_ArrayForEach (e, ms) {
            const cJSON *n = cJSON_GetObjectItem(e, "name");
            const cJSON *c = cJSON_GetObjectItem(e, "category");
            if (!cJSON_IsString(n))
                bad = true;
            names[i] = cJSON_IsString(n) ? n->valuestring : "";
            cats[i] = cJSON_IsString(c) ? c->valuestring : "other";
            i++;
        }
        struct dbp_model_spec spec = {
            .nmetrics = nm, .metric_names = names, .metric_categories = cats};
        fill_metrics(m, &spec);
        free(names);
        free(cats);
        if (bad || (size_t)dim->valuedouble != m->dim || (size_t)cJSON_GetArraySize(fn) != m->dim) {
            rc = dbp_err_set(err, DBP_ESCHEMA,
                             "model '%s': meta.json has %zu metrics (%zu features) but "
                             "dim %.0f and %d feature names",
                             name, nm, m->dim, dim->valuedouble, cJSON_GetArraySize(fn));
            goto fail;
        }

        m->nclasses = cJSON_GetArraySize(cl);
        m->classes = dbp_xcalloc((size_t)m->nclasses, sizeof(*m->classes));
        m->boosters = dbp_xcalloc((size_t)m->nclasses, sizeof(BoosterHandle));
        int l = 0;
        cJSON_ArrayForEach (e, cl) {
            if (!cJSON_IsString(e) || !dbp_label_type_ok(e->valuestring)) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "model '%s': bad class name in meta.json", name);
                goto fail;
            }
            dbp_strlcpy(m->classes[l], e->valuestring, DBP_LABEL_STR_MAX);
            (void)pathf(path, sizeof(path), "%s/booster_%s.json", dir, m->classes[l]);
            if (stat(path, &st) != 0) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "model '%s': booster_%s.json is missing", name,
                                 m->classes[l]);
                goto fail;
            }
            bst_ulong nf = 0;
            struct dbp_err xe = {0};
            if (xgb(XGBoosterCreate(NULL, 0, &m->boosters[l]), &xe, "create booster") ||
                xgb(XGBoosterLoadModel(m->boosters[l], path), &xe, "load") ||
                xgb(XGBoosterGetNumFeature(m->boosters[l], &nf), &xe, "feature count")) {
                rc = dbp_err_set(err, DBP_EXGB, "model '%s': booster_%s.json: %s", name,
                                 m->classes[l], xe.msg);
                goto fail;
            }
            if ((size_t)nf != m->dim) {
                rc = dbp_err_set(err, DBP_ESCHEMA,
                                 "model '%s': booster_%s.json has %lu features, meta.json %zu",
                                 name, m->classes[l], (unsigned long)nf, m->dim);
                goto fail;
            }
            l++;
        }
        if ((rc = predict_single_thread(m, err)))
            goto fail;
        /* The first prediction after a load configures the learner: do it here,
         * once, before the model is shared. */
        zero = dbp_xcalloc(m->dim, sizeof(float));
        pz = dbp_xcalloc((size_t)m->nclasses, sizeof(double));
        if ((rc = dbp_model_predict(m, zero, 1, pz, err)))
            goto fail;
        (void)pathf(path, sizeof(path), "%s/evaluation.json", dir);
        if (read_json_file(path, 64u << 20, &m->eval, NULL))
            m->eval = NULL;
        free(zero);
        free(pz);
        *out = m;
        return 0;
    }
fail:
    free(zero);
    free(pz);
    dbp_model_unref(m);
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

int dbp_model_list(const char *models_dir, char ***names, size_t *n, struct dbp_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(models_dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return dbp_err_set(err, DBP_EIO, "cannot open '%s': %s", models_dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        char p[PATH_MAX];
        if (!dbp_model_name_ok(de->d_name))
            continue;
        if (pathf(p, sizeof(p), "%s/%s", models_dir, de->d_name) || stat(p, &st) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = dbp_xrealloc(*names, cap * sizeof(char *));
        }
        (*names)[(*n)++] = dbp_xstrdup(de->d_name);
    }
    closedir(d);
    /* Names embed the UTC creation time (and _2, _3 for the same second),
     * so name order is creation order. */
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), cmp_desc);
    return 0;
}

const char *dbp_model_name(const struct dbp_model *m)
{
    return m->name;
}
int dbp_model_nclasses(const struct dbp_model *m)
{
    return m->nclasses;
}
const char *dbp_model_class(const struct dbp_model *m, int i)
{
    return i >= 0 && i < m->nclasses ? m->classes[i] : NULL;
}
int dbp_model_window(const struct dbp_model *m)
{
    return m->window;
}
size_t dbp_model_dim(const struct dbp_model *m)
{
    return m->dim;
}
size_t dbp_model_nmetrics(const struct dbp_model *m)
{
    return m->nmetrics;
}
const char *dbp_model_metric(const struct dbp_model *m, size_t i)
{
    return i < m->nmetrics ? m->metric_names[i] : NULL;
}
const char *dbp_model_metric_category(const struct dbp_model *m, size_t i)
{
    return i < m->nmetrics ? m->metric_cats[i] : NULL;
}
const char *dbp_model_catalog(const struct dbp_model *m)
{
    return m->catalog;
}
enum dbp_pr_form dbp_model_pagerank(const struct dbp_model *m)
{
    return m->params.pagerank;
}
const cJSON *dbp_model_meta(const struct dbp_model *m)
{
    return m->meta;
}
const cJSON *dbp_model_eval(const struct dbp_model *m)
{
    return m->eval;
}
