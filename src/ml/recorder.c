/*
 * recorder.c - training cases from the live pipeline (recorder.h).
 *
 * The collector thread hands each cycle to on_cycle(), which copies it into
 * the open case under r->lock and returns: no I/O there.  Closing a case
 * detaches it from r->lock first and labels and writes it afterwards, on
 * whichever thread closed it (an HTTP handler, the recorder's own timer
 * thread, or stop).  r->lock is never held across a call into another
 * module, so the original's deadlock (a lock taken twice on /normal/stop)
 * has no equivalent here.
 */
#include "dbp/recorder.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbp/anomaly.h"
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/dataset.h"
#include "dbp/log.h"
#include "dbp/util.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

struct rcase {
    bool normal;
    char declared_type[DBP_LABEL_STR_MAX];
    char declared_node[DBP_LABEL_STR_MAX];
    char subtypes[DBP_REC_MAX_SUBTYPES][DBP_LABEL_STR_MAX];
    int nsubtypes;
    char nodes[DBP_REC_MAX_NODES][DBP_LABEL_STR_MAX];
    int nnodes;
    char scenario[DBP_LABEL_STR_MAX];
    char split[8];
    char dir[DBP_PATH_MAX];
    double start, deadline; /* deadline NaN = none */
    long cycles;
    struct dbp_case c;
};

struct dbp_recorder {
    pthread_mutex_t lock;
    /* Held around choosing a case's directory name and writing it, so two
     * cases closed at once cannot pick the same directory.  A leaf lock:
     * never taken with r->lock held, never held while taking it. */
    pthread_mutex_t wlock;
    int saving; /* cases detached and not yet written */
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stopping, listening;
    struct dbp_collector *col;
    struct dbp_anomalies *an;
    const struct dbp_catalog *cat;

    char data_dir[DBP_PATH_MAX];
    int case_duration_s, post_s, max_case_samples;

    struct rcase *cur; /* the open case, NULL when none */
    char last_case[DBP_CASE_NAME_MAX];
    char last_error[DBP_ERR_MSG_MAX];
    double last_update;
    unsigned long cases_written;
};

static void copy_cfg(struct dbp_recorder *r, const struct dbp_config *cfg)
{
    dbp_strlcpy(r->data_dir, cfg->training_dir, sizeof(r->data_dir));
    r->case_duration_s = cfg->case_duration_s > 0 ? cfg->case_duration_s : 180;
    r->post_s = cfg->post_s >= 0 ? cfg->post_s : 30;
    r->max_case_samples = cfg->max_case_samples > 0 ? cfg->max_case_samples : 3600;
}

static void rcase_free(struct rcase *k)
{
    if (!k)
        return;
    dbp_case_release(&k->c);
    free(k);
}

/* ---- the collector's side ---------------------------------------------------- */

static void on_cycle(void *cls, const struct dbp_cycle *cy)
{
    struct dbp_recorder *r = cls;
    pthread_mutex_lock(&r->lock);
    struct rcase *k = r->cur;
    if (k && cy->ts >= k->start && k->cycles < r->max_case_samples) {
        /* Every node gets a sample every cycle (NaN when it was not read),
         * so windows stay aligned across nodes by sample position. */
        for (int i = 0; i < cy->nnodes; i++) {
            double ts = isnan(cy->node_ts[i]) ? cy->ts : cy->node_ts[i];
            dbp_case_add_sample(&k->c, cy->names[i], ts, cy->vals + (size_t)i * (size_t)cy->nmetrics);
        }
        k->cycles++;
        r->last_update = dbp_wall_s();
        if (k->cycles >= r->max_case_samples)
            pthread_cond_broadcast(&r->cond); /* full: the timer thread saves it */
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- labels from the registry ------------------------------------------------ */

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* A part counts once the executor applied it: it ran, whatever came after. */
static bool part_applied(const char *st)
{
    return !strcmp(st, "applied") || !strcmp(st, "reverting") || !strcmp(st, "reverted") ||
           !strcmp(st, "revert_failed");
}

void dbp_recorder_label(const cJSON *snapshot, double from, double to, struct dbp_case_label *l,
                        double *fault_end, cJSON *injections)
{
    double fs = INFINITY, fe = -INFINITY;
    const cJSON *inj;
    cJSON_ArrayForEach (inj, snapshot) {
        double s = jnum(inj, "start"), e = jnum(inj, "end");
        if (isnan(s) || s >= to)
            continue;
        if (isnan(e))
            e = to; /* still active */
        if (e <= from)
            continue;
        bool any = false;
        const cJSON *p;
        cJSON_ArrayForEach (p, cJSON_GetObjectItemCaseSensitive(inj, "parts")) {
            if (!part_applied(jstr(p, "status")))
                continue;
            const char *t = jstr(p, "type"), *n = jstr(p, "node");
            if (!dbp_label_type_ok(t) || !*n)
                continue;
            bool dup = false;
            for (int i = 0; i < l->nfaults; i++)
                dup |= !strcmp(l->faults[i].type, t) && !strcmp(l->faults[i].node, n);
            if (!dup)
                dbp_case_label_add(l, t, n);
            any = true;
        }
        if (!any)
            continue;
        fs = fmin(fs, fmax(s, from));
        fe = fmax(fe, fmin(e, to));
        if (injections) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", jstr(inj, "id"));
            cJSON_AddStringToObject(o, "name", jstr(inj, "name"));
            cJSON_AddItemToArray(injections, o);
        }
    }
    l->type[0] = '\0';
    l->node[0] = '\0';
    if (l->nfaults == 0) {
        dbp_strlcpy(l->type, "normal", sizeof(l->type));
        l->start_time = from;
        l->end_time = to;
        *fault_end = NAN;
        return;
    }
    /* The original's type/node fields (dbp_case_label_json adds
     * "subtypes" and "nodes" from the faults). */
    bool one_type = true, one_node = true;
    for (int i = 1; i < l->nfaults; i++) {
        one_type &= !strcmp(l->faults[i].type, l->faults[0].type);
        one_node &= !strcmp(l->faults[i].node, l->faults[0].node);
    }
    dbp_strlcpy(l->type, one_type ? l->faults[0].type : "compound", sizeof(l->type));
    if (one_node)
        dbp_strlcpy(l->node, l->faults[0].node, sizeof(l->node));
    l->start_time = fs;
    l->end_time = fe;
    *fault_end = fe;
}

/* ---- closing a case -------------------------------------------------------------- */

static cJSON *declared_json(const struct rcase *k)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", k->normal ? "normal" : k->declared_type);
    if (k->declared_node[0])
        cJSON_AddStringToObject(d, "node", k->declared_node);
    if (k->nsubtypes) {
        cJSON *a = cJSON_AddArrayToObject(d, "subtypes");
        for (int i = 0; i < k->nsubtypes; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(k->subtypes[i]));
    }
    if (k->nnodes) {
        cJSON *a = cJSON_AddArrayToObject(d, "nodes");
        for (int i = 0; i < k->nnodes; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(k->nodes[i]));
    }
    return d;
}

/* Does the registry's truth cover what the request declared? */
static void compare_declared(const struct rcase *k, const struct dbp_case_label *l, cJSON *warn)
{
    char msg[256];
    if (k->normal) {
        if (l->nfaults)
            cJSON_AddItemToArray(warn, cJSON_CreateString(
                                           "faults were injected during this normal collection; "
                                           "the case is labelled with them"));
        return;
    }
    if (!l->nfaults) {
        snprintf(msg, sizeof(msg),
                 "no fault was applied during the collection (declared '%s'); the case is saved "
                 "as a normal case",
                 k->declared_type);
        cJSON_AddItemToArray(warn, cJSON_CreateString(msg));
        return;
    }
    const char *types[DBP_REC_MAX_SUBTYPES + 1];
    int nt = 0;
    if (k->nsubtypes)
        for (int i = 0; i < k->nsubtypes; i++)
            types[nt++] = k->subtypes[i];
    else if (k->declared_type[0] && strcmp(k->declared_type, "compound"))
        types[nt++] = k->declared_type;
    for (int i = 0; i < nt; i++) {
        bool found = false;
        for (int f = 0; f < l->nfaults; f++)
            found |= !strcmp(l->faults[f].type, types[i]) &&
                     (!k->declared_node[0] || !strcmp(l->faults[f].node, k->declared_node));
        if (!found) {
            int w = snprintf(msg, sizeof(msg),
                             "declared %s%s%s was not applied according to the fault registry; "
                             "the label holds what was",
                             types[i], k->declared_node[0] ? " on " : "", k->declared_node);
            (void)w;
            cJSON_AddItemToArray(warn, cJSON_CreateString(msg));
        }
    }
}

static int finish(struct dbp_recorder *r, struct rcase *k, double end, bool save_post,
                  cJSON **out, struct dbp_err *err)
{
    cJSON *snap = NULL, *inj = cJSON_CreateArray(), *warn = cJSON_CreateArray();
    double fault_end = NAN;
    if (r->an)
        dbp_anomalies_snapshot(r->an, &snap);
    struct dbp_case_label *l = &k->c.label;
    dbp_recorder_label(snap, k->start, end, l, &fault_end, inj);
    cJSON_Delete(snap);
    compare_declared(k, l, warn);
    if (!save_post && !isnan(fault_end)) {
        /* Cut what was recorded after the last fault ended. */
        for (int i = 0; i < k->c.nnodes; i++)
            while (k->c.nsamples[i] > 0 && k->c.ts[i][k->c.nsamples[i] - 1] > fault_end)
                k->c.nsamples[i]--;
        end = fault_end;
    }
    long entries = 0;
    for (int i = 0; i < k->c.nnodes; i++)
        entries += k->c.nsamples[i];
    l->metrics_count = entries;
    dbp_strlcpy(l->scenario, k->scenario, sizeof(l->scenario));
    dbp_strlcpy(l->split, k->split, sizeof(l->split));
    l->extra = cJSON_CreateObject();
    cJSON_AddItemToObject(l->extra, "declared", declared_json(k));
    char iso[40];
    dbp_iso8601(k->start, iso, sizeof(iso));
    cJSON_AddStringToObject(l->extra, "recorded_from", iso);
    dbp_iso8601(end, iso, sizeof(iso));
    cJSON_AddStringToObject(l->extra, "recorded_to", iso);
    cJSON_AddStringToObject(l->extra, "label_source", "fault registry");
    cJSON_AddItemToObject(l->extra, "injections", cJSON_Duplicate(inj, 1));
    if (!r->an)
        cJSON_AddItemToArray(warn, cJSON_CreateString(
                                       "no fault registry in this daemon: labelled normal"));

    /* The name follows the label the registry gave (the original named
     * cases after the declared type). */
    dbp_case_dirname(l, k->start, k->c.name, sizeof(k->c.name));
    int rc = 0;
    pthread_mutex_lock(&r->wlock);
    if (k->c.nnodes == 0 || entries == 0) {
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "the case recorded no samples (is the collector running?); nothing saved");
    } else {
        char path[DBP_PATH_MAX + DBP_CASE_NAME_MAX];
        snprintf(path, sizeof(path), "%s/%s", k->dir, k->c.name);
        if (!access(path, F_OK)) { /* same second, same label: do not collide */
            size_t len = strlen(k->c.name);
            for (int s = 2; s < 1000 && !access(path, F_OK); s++) {
                k->c.name[len] = '\0';
                char suf[12];
                snprintf(suf, sizeof(suf), "_%d", s);
                if (len + strlen(suf) < sizeof(k->c.name))
                    memcpy(k->c.name + len, suf, strlen(suf) + 1);
                snprintf(path, sizeof(path), "%s/%s", k->dir, k->c.name);
            }
        }
        rc = dbp_case_write(k->dir, &k->c, r->cat, err);
    }
    pthread_mutex_unlock(&r->wlock);
    pthread_mutex_lock(&r->lock);
    r->saving--;
    if (rc) {
        dbp_strlcpy(r->last_error, err->msg, sizeof(r->last_error));
    } else {
        r->cases_written++;
        dbp_strlcpy(r->last_case, k->c.name, sizeof(r->last_case));
        r->last_error[0] = '\0';
    }
    pthread_mutex_unlock(&r->lock);
    if (rc)
        DBP_WARN("recorder", "case %s not saved: %s", k->c.name, err->msg);
    else
        DBP_INFO("recorder", "saved case %s (%ld entries, %d nodes, %d faults)", k->c.name, entries,
                 k->c.nnodes, l->nfaults);
    if (out && !rc) {
        cJSON *o = cJSON_CreateObject();
        char path[DBP_PATH_MAX + DBP_CASE_NAME_MAX];
        snprintf(path, sizeof(path), "%s/%s", k->dir, k->c.name);
        cJSON_AddStringToObject(o, "case", k->c.name);
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddItemToObject(o, "label", dbp_case_label_json(l));
        cJSON_AddNumberToObject(o, "samples", (double)(k->c.nnodes ? k->c.nsamples[0] : 0));
        cJSON_AddNumberToObject(o, "nodes", k->c.nnodes);
        cJSON_AddItemToObject(o, "warnings", warn);
        warn = NULL;
        *out = o;
    }
    cJSON_Delete(warn);
    cJSON_Delete(inj);
    rcase_free(k);
    return rc;
}

/* Take the open case out of r (under the lock); NULL when none matches. */
static struct rcase *detach(struct dbp_recorder *r, enum dbp_rec_which which)
{
    pthread_mutex_lock(&r->lock);
    struct rcase *k = r->cur;
    if (k && ((which == DBP_REC_ANOMALY && k->normal) || (which == DBP_REC_NORMAL && !k->normal)))
        k = NULL;
    if (k)
        r->cur = NULL;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return k;
}

/* detach() for a case that will be written: counted in "saving" until
 * finish() has written it, so a client never sees it in neither place. */
static struct rcase *detach_for_save(struct dbp_recorder *r, enum dbp_rec_which which)
{
    pthread_mutex_lock(&r->lock);
    struct rcase *k = r->cur;
    if (k && ((which == DBP_REC_ANOMALY && k->normal) || (which == DBP_REC_NORMAL && !k->normal)))
        k = NULL;
    if (k) {
        r->cur = NULL;
        r->saving++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return k;
}

int dbp_recorder_end(struct dbp_recorder *r, enum dbp_rec_which which, bool save_post,
                     cJSON **out, struct dbp_err *err)
{
    if (out)
        *out = NULL;
    struct rcase *k = detach_for_save(r, which);
    if (!k)
        return dbp_err_set(err, DBP_ENOTFOUND, "no %scollection is in progress",
                           which == DBP_REC_NORMAL    ? "normal state "
                           : which == DBP_REC_ANOMALY ? "anomaly "
                                                      : "");
    return finish(r, k, dbp_wall_s(), save_post, out, err);
}

/* ---- the timer thread ---------------------------------------------------------- */

static void *timer_main(void *arg)
{
    struct dbp_recorder *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct rcase *k = r->cur;
        double now = dbp_wall_s();
        if (k && ((!isnan(k->deadline) && now >= k->deadline) ||
                  k->cycles >= r->max_case_samples)) {
            r->cur = NULL;
            r->saving++;
            pthread_mutex_unlock(&r->lock);
            struct dbp_err e = {0};
            (void)finish(r, k, fmin(now, isnan(k->deadline) ? now : k->deadline), true, NULL, &e);
            pthread_mutex_lock(&r->lock);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int dbp_recorder_new(const struct dbp_config *cfg, struct dbp_collector *collector,
                     struct dbp_anomalies *anomalies, struct dbp_recorder **out,
                     struct dbp_err *err)
{
    (void)err;
    struct dbp_recorder *r = dbp_xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->wlock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->col = collector;
    r->an = anomalies;
    r->cat = collector ? dbp_collector_catalog(collector) : NULL;
    copy_cfg(r, cfg);
    *out = r;
    return 0;
}

int dbp_recorder_start(struct dbp_recorder *r, struct dbp_err *err)
{
    if (pthread_create(&r->thread, NULL, timer_main, r))
        return dbp_err_set(err, DBP_EINTERNAL, "cannot start the recorder thread");
    r->started = true;
    if (r->col) {
        dbp_collector_set_listener(r->col, on_cycle, r);
        r->listening = true;
    }
    return 0;
}

void dbp_recorder_stop(struct dbp_recorder *r)
{
    if (!r)
        return;
    if (r->listening) {
        dbp_collector_set_listener(r->col, NULL, NULL);
        r->listening = false;
    }
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (r->started) {
        pthread_join(r->thread, NULL);
        r->started = false;
    }
    /* Never lose what was recorded: save the open case as it is. */
    struct rcase *k = detach_for_save(r, DBP_REC_ANY);
    if (k) {
        struct dbp_err e = {0};
        (void)finish(r, k, dbp_wall_s(), true, NULL, &e);
    }
}

void dbp_recorder_free(struct dbp_recorder *r)
{
    if (!r)
        return;
    dbp_recorder_stop(r);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->wlock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

void dbp_recorder_reload(struct dbp_recorder *r, const struct dbp_config *cfg)
{
    pthread_mutex_lock(&r->lock);
    copy_cfg(r, cfg);
    pthread_mutex_unlock(&r->lock);
}

/* ---- API ----------------------------------------------------------------------- */

int dbp_recorder_begin(struct dbp_recorder *r, const struct dbp_rec_req *rq, cJSON **out,
                       struct dbp_err *err)
{
    if (out)
        *out = NULL;
    if (!r->col || !r->cat)
        return dbp_err_set(err, DBP_EUNAVAIL,
                           "the metrics collector is not running: there is nothing to record");
    if (rq->nsubtypes > DBP_REC_MAX_SUBTYPES || rq->nnodes > DBP_REC_MAX_NODES)
        return dbp_err_set(err, DBP_ESCHEMA, "too many subtypes or nodes");
    struct rcase *k = dbp_xcalloc(1, sizeof(*k));
    k->normal = rq->normal;
    dbp_strlcpy(k->declared_type, rq->normal ? "normal" : (rq->type ? rq->type : ""),
                sizeof(k->declared_type));
    dbp_strlcpy(k->declared_node, rq->node ? rq->node : "", sizeof(k->declared_node));
    for (int i = 0; i < rq->nsubtypes; i++)
        dbp_strlcpy(k->subtypes[k->nsubtypes++], rq->subtypes[i], DBP_LABEL_STR_MAX);
    for (int i = 0; i < rq->nnodes; i++)
        dbp_strlcpy(k->nodes[k->nnodes++], rq->nodes[i], DBP_LABEL_STR_MAX);
    dbp_strlcpy(k->scenario, rq->scenario ? rq->scenario : "", sizeof(k->scenario));
    dbp_strlcpy(k->split, rq->split ? rq->split : "", sizeof(k->split));
    dbp_case_init(&k->c, r->cat->nmetrics);
    k->start = dbp_wall_s();

    pthread_mutex_lock(&r->lock);
    if (r->cur) {
        bool normal = r->cur->normal;
        pthread_mutex_unlock(&r->lock);
        rcase_free(k);
        return dbp_err_set(err, DBP_EBUSY, "%s collection is already in progress",
                           normal ? "a normal state" : "an anomaly");
    }
    if (r->stopping) {
        pthread_mutex_unlock(&r->lock);
        rcase_free(k);
        return dbp_err_set(err, DBP_EUNAVAIL, "the daemon is stopping");
    }
    double dur = rq->duration_s > 0 ? rq->duration_s : rq->normal ? NAN : r->case_duration_s;
    k->deadline = isnan(dur) ? NAN : k->start + dur;
    dbp_strlcpy(k->dir, rq->dir && *rq->dir ? rq->dir : r->data_dir, sizeof(k->dir));
    r->cur = k;
    r->last_update = k->start;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);

    if (out) {
        cJSON *o = cJSON_CreateObject();
        char iso[40];
        dbp_iso8601(k->start, iso, sizeof(iso));
        cJSON_AddStringToObject(o, "type", k->declared_type);
        if (k->declared_node[0])
            cJSON_AddStringToObject(o, "node", k->declared_node);
        else
            cJSON_AddNullToObject(o, "node");
        cJSON_AddStringToObject(o, "start_time", iso);
        if (isnan(dur))
            cJSON_AddNullToObject(o, "expected_duration");
        else
            cJSON_AddNumberToObject(o, "expected_duration", dur);
        *out = o;
    }
    return 0;
}

void dbp_recorder_reset(struct dbp_recorder *r, cJSON **out)
{
    struct rcase *k = detach(r, DBP_REC_ANY);
    if (out) {
        *out = cJSON_CreateObject();
        cJSON_AddBoolToObject(*out, "anomaly_collection", k && !k->normal);
        cJSON_AddBoolToObject(*out, "normal_collection", k && k->normal);
    }
    if (k)
        DBP_INFO("recorder", "dropped the open case (%ld cycles) on reset", k->cycles);
    rcase_free(k);
}

bool dbp_recorder_open(struct dbp_recorder *r, enum dbp_rec_which which)
{
    pthread_mutex_lock(&r->lock);
    bool open = r->cur && (which == DBP_REC_ANY || (which == DBP_REC_NORMAL) == r->cur->normal);
    pthread_mutex_unlock(&r->lock);
    return open;
}

long dbp_recorder_samples(struct dbp_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    long n = r->cur ? r->cur->cycles : 0;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void dbp_recorder_data_dir(struct dbp_recorder *r, char *out, size_t outsz)
{
    pthread_mutex_lock(&r->lock);
    dbp_strlcpy(out, r->data_dir, outsz);
    pthread_mutex_unlock(&r->lock);
}

static void add_iso_or_null(cJSON *o, const char *k, double t)
{
    if (isnan(t) || t <= 0) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    char iso[40];
    dbp_iso8601(t, iso, sizeof(iso));
    cJSON_AddStringToObject(o, k, iso);
}

cJSON *dbp_recorder_status_json(struct dbp_recorder *r)
{
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&r->lock);
    const struct rcase *k = r->cur;
    cJSON_AddBoolToObject(o, "is_collecting_normal", k && k->normal);
    cJSON_AddBoolToObject(o, "is_collecting_anomaly", k && !k->normal);
    if (k)
        cJSON_AddStringToObject(o, "current_type", k->normal ? "normal" : k->declared_type);
    else
        cJSON_AddNullToObject(o, "current_type");
    if (k) {
        cJSON *co = cJSON_AddObjectToObject(o, "collection_options");
        cJSON_AddBoolToObject(co, "pre_collect", false);
        cJSON_AddBoolToObject(co, "post_collect", true);
        cJSON_AddStringToObject(o, "collection_phase", k->normal ? "normal" : "anomaly");
    } else {
        cJSON_AddNullToObject(o, "collection_options");
        cJSON_AddNullToObject(o, "collection_phase");
    }
    add_iso_or_null(o, "last_update_time", r->last_update > 0 ? r->last_update : dbp_wall_s());
    add_iso_or_null(o, "collection_start_time", k ? k->start : NAN);
    if (k && !isnan(k->deadline))
        cJSON_AddNumberToObject(o, "collection_duration", k->deadline - k->start);
    else if (k)
        cJSON_AddNullToObject(o, "collection_duration");
    else
        cJSON_AddNumberToObject(o, "collection_duration", r->case_duration_s);
    cJSON *d = cJSON_AddObjectToObject(o, "debug_info");
    cJSON_AddNumberToObject(d, "metrics_buffer_size", k && !k->normal ? (double)k->cycles : 0);
    cJSON_AddNumberToObject(d, "normal_buffer_size", k && k->normal ? (double)k->cycles : 0);
    cJSON_AddBoolToObject(d, "has_current_case", k != NULL);
    cJSON_AddBoolToObject(d, "has_current_anomaly", k && !k->normal);
    if (k) {
        cJSON_AddStringToObject(o, "case_dir", k->dir);
        if (k->scenario[0])
            cJSON_AddStringToObject(o, "scenario", k->scenario);
    }
    cJSON_AddNumberToObject(o, "samples", k ? (double)k->cycles : 0);
    cJSON_AddNumberToObject(o, "cases_written", (double)r->cases_written);
    cJSON_AddNumberToObject(o, "saving", r->saving);
    if (r->last_case[0])
        cJSON_AddStringToObject(o, "last_case", r->last_case);
    else
        cJSON_AddNullToObject(o, "last_case");
    if (r->last_error[0])
        cJSON_AddStringToObject(o, "last_error", r->last_error);
    else
        cJSON_AddNullToObject(o, "last_error");
    cJSON_AddStringToObject(o, "data_dir", r->data_dir);
    pthread_mutex_unlock(&r->lock);
    return o;
}
