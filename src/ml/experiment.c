/*
 * experiment.c - diagnosis campaigns (experiment.h).
 *
 * The campaign is one job.  It only sleeps, calls the other modules'
 * public functions and writes files; it holds x->lock only to read or
 * publish its own bookkeeping, never across a call into another module.
 */
#include "dbp/experiment.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbp/anomaly.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/dataset.h"
#include "dbp/log.h"
#include "dbp/ml.h"
#include "dbp/recorder.h"
#include "dbp/util.h"
#include "dbp/workload.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

#define MAX_STEPS 1024

static const char *const group_names[4] = {"single_node", "multi_node", "single_node_compound",
                                           "multi_node_compound"};
static const char group_letter[4] = {'A', 'B', 'C', 'W'};

struct dbp_experiments {
    pthread_mutex_t lock;
    struct dbp_exp_deps d;
    char dir[DBP_PATH_MAX];
    int interval_ms;
    int window; /* training.window */
    char running[DBP_JOB_ID_LEN]; /* id of the campaign in flight, "" none */
    /* Its job's id (the jobs module knows only these), "" until queued:
     * the shutdown path cancels by it. */
    char job[DBP_JOB_ID_LEN];
};

/* How long dbp_experiments_stop waits for the campaign to notice the
 * cancel and revert its fault.  The daemon's whole stop has to fit in
 * systemd's TimeoutStopSec=60: up to 10 s of HTTP grace come before, the
 * registry's own reverts of anything left come after. */
#define STOP_WAIT_NS (20ull * 1000000000ull)

/* One planned repetition (or normal period). */
struct step {
    int group; /* 0..3, -1 = normal period */
    char scenario[16];
    char types[2][32];
    char nodes[2][64];
    int nparts;
    bool test;
};

struct run {
    struct dbp_experiments *x;
    struct dbp_exp_req rq;
    char id[DBP_JOB_ID_LEN];
    char dir[DBP_PATH_MAX + 32];
    char cases[DBP_PATH_MAX + 48];
    struct step *steps;
    int nsteps;
    int nnodes;
    cJSON *plan;
};

/* ---- requests ------------------------------------------------------------------ */

static const char *const default_types[4] = {"cpu_stress", "io_bottleneck", "network_bottleneck",
                                             "cache_bottleneck"};

void dbp_exp_req_defaults(struct dbp_exp_req *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->groups = 0;
    for (int i = 0; i < 4; i++)
        dbp_strlcpy(rq->types[i], default_types[i], sizeof(rq->types[i]));
    rq->ntypes = 4;
    rq->repetitions = 3;
    rq->test_repetitions = 1;
    rq->pre_s = 5;
    rq->fault_s = 30;
    rq->post_s = 5;
    rq->normal_s = 20;
    rq->normal_every = 4;
    dbp_strlcpy(rq->severity, "medium", sizeof(rq->severity));
    rq->seed = 1314;
    rq->workload = true;
    rq->workload_threads = 4;
    rq->window = 0;
    rq->stride = 1;
    rq->rounds = 100;
}

static int jint(const cJSON *b, const char *k, long lo, long hi, int *out, struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, k);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return dbp_err_set(err, DBP_ESCHEMA, "field '%s' must be an integer in %ld..%ld", k, lo,
                           hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int type_ok(const char *t, struct dbp_err *err, const char *field)
{
    if (dbp_anomaly_type_index(t) < 0)
        return dbp_err_set(err, DBP_ESCHEMA, "field '%s': unknown anomaly type '%s'", field, t);
    return 0;
}

int dbp_exp_req_parse(const cJSON *b, struct dbp_exp_req *rq, struct dbp_err *err)
{
    static const char *const allowed[] = {
        "name",     "groups",   "types",  "pairs",        "repetitions", "test_repetitions",
        "pre_s",    "fault_s",  "post_s", "normal_s",     "normal_every", "severity",
        "seed",     "workload", "workload_threads",       "window",      "stride",
        "rounds",   NULL};
    int rc;
    dbp_exp_req_defaults(rq);
    if (!b || cJSON_IsNull(b))
        return 0;
    if (!cJSON_IsObject(b))
        return dbp_err_set(err, DBP_ESCHEMA, "the body must be a JSON object");
    const cJSON *it;
    cJSON_ArrayForEach (it, b) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok |= !strcmp(allowed[i], it->string);
        if (!ok)
            return dbp_err_set(err, DBP_ESCHEMA, "unknown field '%s'", it->string);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "name");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || !dbp_label_type_ok(v->valuestring))
            return dbp_err_set(err, DBP_ESCHEMA,
                               "field 'name' must be 1..63 characters of [A-Za-z0-9_.:-]");
        dbp_strlcpy(rq->name, v->valuestring, sizeof(rq->name));
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "groups");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
            return dbp_err_set(err, DBP_ESCHEMA,
                               "field 'groups' must list single_node, multi_node, "
                               "single_node_compound, multi_node_compound");
        cJSON_ArrayForEach (it, v) {
            int g = -1;
            for (int i = 0; i < 4; i++)
                if (cJSON_IsString(it) && !strcmp(it->valuestring, group_names[i]))
                    g = i;
            if (g < 0)
                return dbp_err_set(err, DBP_ESCHEMA,
                                   "field 'groups': each is one of single_node, multi_node, "
                                   "single_node_compound, multi_node_compound");
            rq->groups |= 1u << g;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "types");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
            cJSON_GetArraySize(v) > DBP_EXP_MAX_TYPES)
            return dbp_err_set(err, DBP_ESCHEMA, "field 'types' must list 1..%d anomaly types",
                               DBP_EXP_MAX_TYPES);
        rq->ntypes = 0;
        cJSON_ArrayForEach (it, v) {
            if (!cJSON_IsString(it))
                return dbp_err_set(err, DBP_ESCHEMA, "field 'types' must list type names");
            if ((rc = type_ok(it->valuestring, err, "types")))
                return rc;
            for (int i = 0; i < rq->ntypes; i++)
                if (!strcmp(rq->types[i], it->valuestring))
                    return dbp_err_set(err, DBP_ESCHEMA, "field 'types' repeats '%s'",
                                       it->valuestring);
            dbp_strlcpy(rq->types[rq->ntypes++], it->valuestring, 32);
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "pairs");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
            cJSON_GetArraySize(v) > DBP_EXP_MAX_PAIRS)
            return dbp_err_set(err, DBP_ESCHEMA,
                               "field 'pairs' must list 1..%d pairs [type, type]",
                               DBP_EXP_MAX_PAIRS);
        cJSON_ArrayForEach (it, v) {
            const cJSON *a = cJSON_GetArrayItem(it, 0), *c = cJSON_GetArrayItem(it, 1);
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(a) ||
                !cJSON_IsString(c) || !strcmp(a->valuestring, c->valuestring))
                return dbp_err_set(err, DBP_ESCHEMA,
                                   "field 'pairs' must list pairs of two different types");
            if ((rc = type_ok(a->valuestring, err, "pairs")) ||
                (rc = type_ok(c->valuestring, err, "pairs")))
                return rc;
            dbp_strlcpy(rq->pairs[rq->npairs][0], a->valuestring, 32);
            dbp_strlcpy(rq->pairs[rq->npairs][1], c->valuestring, 32);
            rq->npairs++;
        }
    }
    if ((rc = jint(b, "repetitions", 1, 100, &rq->repetitions, err)) ||
        (rc = jint(b, "test_repetitions", 0, 99, &rq->test_repetitions, err)) ||
        (rc = jint(b, "pre_s", 0, 600, &rq->pre_s, err)) ||
        (rc = jint(b, "fault_s", 5, 3600, &rq->fault_s, err)) ||
        (rc = jint(b, "post_s", 0, 600, &rq->post_s, err)) ||
        (rc = jint(b, "normal_s", 0, 3600, &rq->normal_s, err)) ||
        (rc = jint(b, "normal_every", 1, 1000, &rq->normal_every, err)) ||
        (rc = jint(b, "workload_threads", 1, 64, &rq->workload_threads, err)) ||
        (rc = jint(b, "window", 2, 720, &rq->window, err)) ||
        (rc = jint(b, "stride", 1, 720, &rq->stride, err)) ||
        (rc = jint(b, "rounds", 1, 5000, &rq->rounds, err)))
        return rc;
    if (rq->test_repetitions >= rq->repetitions)
        return dbp_err_set(err, DBP_ESCHEMA,
                           "field 'test_repetitions' must be smaller than 'repetitions' (some "
                           "repetitions must be left to train on)");
    v = cJSON_GetObjectItemCaseSensitive(b, "severity");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || dbp_anomaly_severity_index(v->valuestring) < 0)
            return dbp_err_set(err, DBP_ESCHEMA,
                               "field 'severity' must be \"low\", \"medium\" or \"high\"");
        dbp_strlcpy(rq->severity, v->valuestring, sizeof(rq->severity));
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "seed");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4294967295.0 ||
            v->valuedouble != floor(v->valuedouble))
            return dbp_err_set(err, DBP_ESCHEMA, "field 'seed' must be an integer in 0..2^32-1");
        rq->seed = (unsigned long long)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(b, "workload");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            return dbp_err_set(err, DBP_ESCHEMA, "field 'workload' must be true or false");
        rq->workload = cJSON_IsTrue(v);
    }
    return 0;
}

/* ---- planning -------------------------------------------------------------------- */

static unsigned long long mix(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int pick(unsigned long long *s, int n)
{
    return (int)(mix(s) % (unsigned long long)n);
}

/* The paper's compound pairs (C1 cpu+io, C2 cpu+network, C3 io+network,
 * C4 cache+io) when the types allow them, else every pair in order. */
static int default_pairs(const struct dbp_exp_req *rq, char out[][2][32])
{
    static const char *const paper[4][2] = {{"cpu_stress", "io_bottleneck"},
                                            {"cpu_stress", "network_bottleneck"},
                                            {"io_bottleneck", "network_bottleneck"},
                                            {"cache_bottleneck", "io_bottleneck"}};
    int n = 0;
    for (int p = 0; p < 4; p++) {
        bool a = false, b = false;
        for (int i = 0; i < rq->ntypes; i++) {
            a |= !strcmp(rq->types[i], paper[p][0]);
            b |= !strcmp(rq->types[i], paper[p][1]);
        }
        if (a && b) {
            dbp_strlcpy(out[n][0], paper[p][0], 32);
            dbp_strlcpy(out[n][1], paper[p][1], 32);
            n++;
        }
    }
    if (n)
        return n;
    for (int i = 0; i < rq->ntypes && n < DBP_EXP_MAX_PAIRS; i++)
        for (int j = i + 1; j < rq->ntypes && n < DBP_EXP_MAX_PAIRS; j++) {
            dbp_strlcpy(out[n][0], rq->types[i], 32);
            dbp_strlcpy(out[n][1], rq->types[j], 32);
            n++;
        }
    return n;
}

static int plan(struct run *ru, char (*names)[64], int nn, struct dbp_err *err)
{
    struct dbp_exp_req *rq = &ru->rq;
    unsigned groups = rq->groups ? rq->groups : 15u;
    if ((groups & (DBP_EXP_MULTI | DBP_EXP_MULTI_COMPOUND)) && nn < 2)
        return dbp_err_set(err, DBP_ESCHEMA,
                           "multi-node groups need at least 2 nodes; the collector has %d", nn);
    if (nn < 1)
        return dbp_err_set(err, DBP_EUNAVAIL, "the collector has no nodes");
    if (!rq->npairs)
        rq->npairs = default_pairs(rq, rq->pairs);
    if ((groups & (DBP_EXP_SINGLE_COMPOUND | DBP_EXP_MULTI_COMPOUND)) && !rq->npairs)
        return dbp_err_set(err, DBP_ESCHEMA,
                           "compound groups need two types (field 'types' or 'pairs')");
    unsigned long long s = rq->seed;
    ru->steps = dbp_xcalloc(MAX_STEPS, sizeof(*ru->steps));
    ru->nsteps = 0;
    int since_normal = 0, rep_index = 0;
#define ADD_NORMAL(is_test)                                                                        \
    do {                                                                                           \
        if (rq->normal_s > 0 && ru->nsteps < MAX_STEPS) {                                          \
            struct step *n_ = &ru->steps[ru->nsteps++];                                            \
            n_->group = -1;                                                                        \
            dbp_strlcpy(n_->scenario, "N", sizeof(n_->scenario));                                  \
            n_->test = (is_test);                                                                  \
        }                                                                                          \
    } while (0)
    ADD_NORMAL(false);
    /* Repetition-major order: every scenario once, then again, so a
     * cancelled campaign still covers every scenario. */
    for (int rep = 0; rep < rq->repetitions; rep++) {
        bool test = rep >= rq->repetitions - rq->test_repetitions;
        for (int g = 0; g < 4; g++) {
            if (!(groups & (1u << g)))
                continue;
            int nsc = g < 2 ? rq->ntypes : rq->npairs;
            for (int k = 0; k < nsc; k++) {
                if (ru->nsteps >= MAX_STEPS)
                    return dbp_err_set(err, DBP_ESCHEMA, "the campaign has more than %d steps",
                                       MAX_STEPS);
                struct step *st = &ru->steps[ru->nsteps++];
                st->group = g;
                st->test = test;
                snprintf(st->scenario, sizeof(st->scenario), "%c%d", group_letter[g], k + 1);
                int a = pick(&s, nn), b = (a + 1 + pick(&s, nn > 1 ? nn - 1 : 1)) % nn;
                switch (g) {
                case 0:
                    dbp_strlcpy(st->types[0], rq->types[k], 32);
                    dbp_strlcpy(st->nodes[0], names[a], 64);
                    st->nparts = 1;
                    break;
                case 1:
                    dbp_strlcpy(st->types[0], rq->types[k], 32);
                    dbp_strlcpy(st->types[1], rq->types[k], 32);
                    dbp_strlcpy(st->nodes[0], names[a], 64);
                    dbp_strlcpy(st->nodes[1], names[b], 64);
                    st->nparts = 2;
                    break;
                case 2:
                    dbp_strlcpy(st->types[0], rq->pairs[k][0], 32);
                    dbp_strlcpy(st->types[1], rq->pairs[k][1], 32);
                    dbp_strlcpy(st->nodes[0], names[a], 64);
                    dbp_strlcpy(st->nodes[1], names[a], 64);
                    st->nparts = 2;
                    break;
                default:
                    dbp_strlcpy(st->types[0], rq->pairs[k][0], 32);
                    dbp_strlcpy(st->types[1], rq->pairs[k][1], 32);
                    dbp_strlcpy(st->nodes[0], names[a], 64);
                    dbp_strlcpy(st->nodes[1], names[b], 64);
                    st->nparts = 2;
                    break;
                }
                rep_index++;
                if (++since_normal >= rq->normal_every) {
                    ADD_NORMAL(test);
                    since_normal = 0;
                }
            }
        }
    }
#undef ADD_NORMAL
    (void)rep_index;
    return 0;
}

static cJSON *step_json(const struct step *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "scenario", st->scenario);
    cJSON_AddStringToObject(o, "group", st->group < 0 ? "normal" : group_names[st->group]);
    cJSON_AddStringToObject(o, "split", st->test ? "test" : "train");
    cJSON *parts = cJSON_AddArrayToObject(o, "faults");
    for (int i = 0; i < st->nparts; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", st->types[i]);
        cJSON_AddStringToObject(p, "node", st->nodes[i]);
        cJSON_AddItemToArray(parts, p);
    }
    return o;
}

static cJSON *req_json(const struct dbp_exp_req *rq)
{
    cJSON *o = cJSON_CreateObject();
    if (rq->name[0])
        cJSON_AddStringToObject(o, "name", rq->name);
    cJSON *g = cJSON_AddArrayToObject(o, "groups");
    for (int i = 0; i < 4; i++)
        if ((rq->groups ? rq->groups : 15u) & (1u << i))
            cJSON_AddItemToArray(g, cJSON_CreateString(group_names[i]));
    cJSON *t = cJSON_AddArrayToObject(o, "types");
    for (int i = 0; i < rq->ntypes; i++)
        cJSON_AddItemToArray(t, cJSON_CreateString(rq->types[i]));
    cJSON *p = cJSON_AddArrayToObject(o, "pairs");
    for (int i = 0; i < rq->npairs; i++) {
        cJSON *pp = cJSON_CreateArray();
        cJSON_AddItemToArray(pp, cJSON_CreateString(rq->pairs[i][0]));
        cJSON_AddItemToArray(pp, cJSON_CreateString(rq->pairs[i][1]));
        cJSON_AddItemToArray(p, pp);
    }
    cJSON_AddNumberToObject(o, "repetitions", rq->repetitions);
    cJSON_AddNumberToObject(o, "test_repetitions", rq->test_repetitions);
    cJSON_AddNumberToObject(o, "pre_s", rq->pre_s);
    cJSON_AddNumberToObject(o, "fault_s", rq->fault_s);
    cJSON_AddNumberToObject(o, "post_s", rq->post_s);
    cJSON_AddNumberToObject(o, "normal_s", rq->normal_s);
    cJSON_AddNumberToObject(o, "normal_every", rq->normal_every);
    cJSON_AddStringToObject(o, "severity", rq->severity);
    cJSON_AddNumberToObject(o, "seed", (double)rq->seed);
    cJSON_AddBoolToObject(o, "workload", rq->workload);
    cJSON_AddNumberToObject(o, "workload_threads", rq->workload_threads);
    cJSON_AddNumberToObject(o, "window", rq->window);
    cJSON_AddNumberToObject(o, "stride", rq->stride);
    cJSON_AddNumberToObject(o, "rounds", rq->rounds);
    return o;
}

/* ---- running ------------------------------------------------------------------------ */

/* Sleep s seconds in short naps; false when the campaign was cancelled. */
static bool nap(struct dbp_job *job, double s)
{
    double until = dbp_wall_s() + s;
    while (!dbp_job_cancelled(job)) {
        double left = until - dbp_wall_s();
        if (left <= 0)
            return true;
        struct timespec ts = {0, (long)(fmin(left, 0.2) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return false;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Wait until injection id has ended (reverted or failed); false on cancel
 * or when it does not end within limit_s. */
static bool wait_ended(struct run *ru, struct dbp_job *job, const char *id, double limit_s)
{
    double until = dbp_wall_s() + limit_s;
    while (dbp_wall_s() < until) {
        cJSON *r = dbp_anomalies_get_json(ru->x->d.anomalies, id);
        const char *st = r ? jstr(r, "status") : "reverted";
        bool done = !strcmp(st, "reverted") || !strcmp(st, "failed");
        cJSON_Delete(r);
        if (done)
            return true;
        if (!nap(job, 0.25))
            return false;
    }
    return false;
}

static void stop_injection(struct run *ru, const char *id)
{
    bool stopped = false;
    struct dbp_err e = {0};
    (void)dbp_anomalies_stop_one(ru->x->d.anomalies, id, 30000, &stopped, NULL, &e);
}

/* One repetition: record pre_s, inject, wait for the end, record post_s. */
static int run_fault(struct run *ru, struct dbp_job *job, const struct step *st, int idx,
                     cJSON *out)
{
    struct dbp_rec_req rr = {0};
    rr.type = st->nparts > 1 && strcmp(st->types[0], st->types[1]) ? "compound" : st->types[0];
    rr.node = st->nparts == 1 || !strcmp(st->nodes[0], st->nodes[1]) ? st->nodes[0] : NULL;
    if (!strcmp(rr.type, "compound")) {
        rr.subtypes[rr.nsubtypes++] = st->types[0];
        rr.subtypes[rr.nsubtypes++] = st->types[1];
    }
    if (!rr.node)
        for (int i = 0; i < st->nparts; i++)
            rr.nodes[rr.nnodes++] = st->nodes[i];
    rr.scenario = st->scenario;
    rr.split = st->test ? "test" : "train";
    rr.duration_s = ru->rq.pre_s + ru->rq.fault_s + ru->rq.post_s + 120;
    rr.dir = ru->cases;
    struct dbp_err e = {0};
    cJSON *res = NULL, *rec = NULL;
    /* Before any jump to cancelled:, which reads it. */
    char inj_id[64] = "";
    struct dbp_anomaly_req ar;
    const cJSON *w;
    int rc = dbp_recorder_begin(ru->x->d.recorder, &rr, NULL, &e);
    if (rc) {
        cJSON_AddStringToObject(out, "error", e.msg);
        return rc;
    }
    if (!nap(job, ru->rq.pre_s))
        goto cancelled;

    memset(&ar, 0, sizeof(ar));
    for (int i = 0; i < st->nparts; i++) {
        dbp_strlcpy(ar.parts[i].type, st->types[i], sizeof(ar.parts[i].type));
        dbp_strlcpy(ar.parts[i].node, st->nodes[i], sizeof(ar.parts[i].node));
    }
    ar.nparts = st->nparts;
    dbp_strlcpy(ar.severity, ru->rq.severity, sizeof(ar.severity));
    ar.duration_s = ru->rq.fault_s;
    snprintf(ar.name, sizeof(ar.name), "exp-%s-%d", ru->id, idx);
    rc = dbp_anomalies_inject(ru->x->d.anomalies, &ar, 30000, &rec, &e);
    if (rec)
        dbp_strlcpy(inj_id, jstr(rec, "id"), sizeof(inj_id));
    if (rc) {
        /* The case is still saved: the registry labels whatever part was
         * applied (none: a normal case); the report lists the failure. */
        cJSON_AddStringToObject(out, "inject_error", e.msg);
        DBP_WARN("experiment", "%s: %s: injection failed: %s", ru->id, st->scenario, e.msg);
    }
    cJSON_AddStringToObject(out, "injection", inj_id);
    cJSON_Delete(rec);
    if (inj_id[0] && !wait_ended(ru, job, inj_id, ru->rq.fault_s + 90.0)) {
        stop_injection(ru, inj_id);
        if (dbp_job_cancelled(job))
            goto cancelled;
        cJSON_AddStringToObject(out, "warning", "the injection outlived its duration; stopped");
    }
    if (!nap(job, ru->rq.post_s))
        goto cancelled;
    rc = dbp_recorder_end(ru->x->d.recorder, DBP_REC_ANOMALY, true, &res, &e);
    if (rc) {
        cJSON_AddStringToObject(out, "error", e.msg);
        return rc;
    }
    cJSON_AddStringToObject(out, "case", jstr(res, "case"));
    cJSON_AddItemToObject(out, "label",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(res, "label"), 1));
    w = cJSON_GetObjectItemCaseSensitive(res, "warnings");
    if (cJSON_GetArraySize(w))
        cJSON_AddItemToObject(out, "warnings", cJSON_Duplicate(w, 1));
    cJSON_Delete(res);
    return 0;
cancelled:
    if (inj_id[0])
        stop_injection(ru, inj_id);
    dbp_recorder_reset(ru->x->d.recorder, NULL);
    return DBP_EBUSY;
}

static int run_normal(struct run *ru, struct dbp_job *job, const struct step *st, cJSON *out)
{
    struct dbp_rec_req rr = {0};
    rr.normal = true;
    rr.scenario = "N";
    rr.split = st->test ? "test" : "train";
    rr.duration_s = ru->rq.normal_s + 120;
    rr.dir = ru->cases;
    struct dbp_err e = {0};
    cJSON *res = NULL;
    int rc = dbp_recorder_begin(ru->x->d.recorder, &rr, NULL, &e);
    if (rc) {
        cJSON_AddStringToObject(out, "error", e.msg);
        return rc;
    }
    if (!nap(job, ru->rq.normal_s)) {
        dbp_recorder_reset(ru->x->d.recorder, NULL);
        return DBP_EBUSY;
    }
    rc = dbp_recorder_end(ru->x->d.recorder, DBP_REC_NORMAL, true, &res, &e);
    if (rc) {
        cJSON_AddStringToObject(out, "error", e.msg);
        return rc;
    }
    cJSON_AddStringToObject(out, "case", jstr(res, "case"));
    cJSON_Delete(res);
    return 0;
}

double dbp_exp_chance_at_k(int nodes, int classes, int r, int k)
{
    int P = nodes * classes;
    if (P <= 0 || r <= 0)
        return 0;
    if (k > P)
        k = P;
    double hits = (double)k * (double)r / (double)P;
    int den = k < r ? k : r;
    double p = hits / (double)den;
    return p > 1 ? 1 : p;
}

static const cJSON *path2(const cJSON *o, const char *a, const char *b)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* report.json: the plan, the cases, the model and AC@k per group and per
 * scenario for graph / xgboost / rule, with the chance level. */
static cJSON *build_report(struct run *ru, cJSON *cases, const cJSON *train, const char *train_err,
                           double started, int nclasses, const char *status)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", ru->id);
    if (ru->rq.name[0])
        cJSON_AddStringToObject(r, "name", ru->rq.name);
    cJSON_AddStringToObject(r, "status", status);
    char iso[40];
    dbp_iso8601(started, iso, sizeof(iso));
    cJSON_AddStringToObject(r, "started_at", iso);
    dbp_iso8601(dbp_wall_s(), iso, sizeof(iso));
    cJSON_AddStringToObject(r, "finished_at", iso);
    cJSON_AddNumberToObject(r, "duration_s", round(dbp_wall_s() - started));
    cJSON_AddItemToObject(r, "request", req_json(&ru->rq));
    cJSON_AddNumberToObject(r, "nodes", ru->nnodes);
    cJSON_AddItemToObject(r, "cases", cases);
    if (train_err)
        cJSON_AddStringToObject(r, "error", train_err);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(train, "evaluation");
    if (train) {
        cJSON *m = cJSON_AddObjectToObject(r, "model");
        cJSON_AddStringToObject(m, "name", jstr(train, "model"));
        const cJSON *stt = cJSON_GetObjectItemCaseSensitive(train, "stats");
        static const char *const keep[] = {"windows", "train_windows", "test_windows", "cases_used",
                                           "cases_skipped", "classes", "window", NULL};
        for (int i = 0; keep[i]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(stt, keep[i]);
            if (v)
                cJSON_AddItemToObject(m, keep[i], cJSON_Duplicate(v, 1));
        }
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(stt, "skipped");
        if (cJSON_GetArraySize(sk))
            cJSON_AddItemToObject(m, "skipped", cJSON_Duplicate(sk, 1));
        if (ev) {
            cJSON_AddNumberToObject(m, "macro_f1", num(ev, "macro_f1"));
            cJSON_AddNumberToObject(m, "macro_f1_rule", num(ev, "macro_f1_rule"));
            const cJSON *pt = cJSON_GetObjectItemCaseSensitive(ev, "per_type");
            if (pt)
                cJSON_AddItemToObject(m, "per_type", cJSON_Duplicate(pt, 1));
        }
    }
    /* Chance per group: the mean over the group's test cases of the
     * expected Precision@k of a random ranking. */
    cJSON *acc = cJSON_AddObjectToObject(r, "accuracy");
    const cJSON *ak = cJSON_GetObjectItemCaseSensitive(ev, "ac_at_k");
    cJSON_AddNumberToObject(acc, "test_instances", num(ak, "instances"));
    cJSON *overall = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ak, "methods"), 1);
    cJSON_AddItemToObject(acc, "overall", overall ? overall : cJSON_CreateObject());
    cJSON *bg = cJSON_AddObjectToObject(acc, "by_group");
    cJSON *bs = cJSON_AddObjectToObject(acc, "by_scenario");
    int L = nclasses > 0 ? nclasses : 1;
    double ch_all[3] = {0, 0, 0};
    int n_all = 0;
    for (int g = 0; g < 4; g++) {
        double ch[3] = {0, 0, 0};
        int n = 0;
        const cJSON *c;
        cJSON_ArrayForEach (c, cases) {
            if (strcmp(jstr(c, "group"), group_names[g]) || strcmp(jstr(c, "split"), "test"))
                continue;
            int rr = cJSON_GetArraySize(path2(c, "label", "anomalies"));
            if (rr <= 0)
                continue;
            for (int k = 0; k < 3; k++) {
                ch[k] += dbp_exp_chance_at_k(ru->nnodes, L, rr, (int[]){1, 3, 5}[k]);
                ch_all[k] += dbp_exp_chance_at_k(ru->nnodes, L, rr, (int[]){1, 3, 5}[k]);
            }
            n++;
            n_all++;
        }
        const cJSON *m = path2(ak, "by_group", group_names[g]);
        if (!m && !n)
            continue;
        cJSON *go = m ? cJSON_Duplicate(m, 1) : cJSON_CreateObject();
        cJSON *co = cJSON_AddObjectToObject(go, "chance");
        for (int k = 0; k < 3; k++) {
            char key[8];
            snprintf(key, sizeof(key), "AC@%d", (int[]){1, 3, 5}[k]);
            cJSON_AddNumberToObject(co, key, n ? round(ch[k] / n * 1000) / 1000 : 0);
        }
        cJSON_AddNumberToObject(go, "test_cases", n);
        cJSON_AddItemToObject(bg, group_names[g], go);
    }
    cJSON *co = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(acc, "overall"), "chance");
    for (int k = 0; k < 3; k++) {
        char key[8];
        snprintf(key, sizeof(key), "AC@%d", (int[]){1, 3, 5}[k]);
        cJSON_AddNumberToObject(co, key, n_all ? round(ch_all[k] / n_all * 1000) / 1000 : 0);
    }
    const cJSON *sc;
    cJSON_ArrayForEach (sc, cJSON_GetObjectItemCaseSensitive(ak, "by_scenario"))
        cJSON_AddItemToObject(bs, sc->string, cJSON_Duplicate(sc, 1));
    /* What each scenario was. */
    cJSON *desc = cJSON_AddObjectToObject(r, "scenarios");
    for (int i = 0; i < ru->nsteps; i++) {
        const struct step *st = &ru->steps[i];
        if (st->group < 0 || cJSON_GetObjectItemCaseSensitive(desc, st->scenario))
            continue;
        char d[160];
        int w;
        if (st->group == 0)
            w = snprintf(d, sizeof(d), "%s on one node", st->types[0]);
        else if (st->group == 1)
            w = snprintf(d, sizeof(d), "%s on two nodes", st->types[0]);
        else if (st->group == 2)
            w = snprintf(d, sizeof(d), "%s + %s on one node", st->types[0], st->types[1]);
        else
            w = snprintf(d, sizeof(d), "%s + %s on two different nodes", st->types[0],
                         st->types[1]);
        (void)w;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "group", group_names[st->group]);
        cJSON_AddStringToObject(o, "description", d);
        cJSON_AddItemToObject(desc, st->scenario, o);
    }
    return r;
}

/* An integer field for the report text, 0 when absent: casting NaN (a
 * missing field) to int is undefined behaviour. */
static int inum(const cJSON *o, const char *k)
{
    double v = num(o, k);
    return isfinite(v) && fabs(v) < 2e9 ? (int)v : 0;
}

static void fmt3(char *out, size_t n, const cJSON *m)
{
    double a = num(m, "AC@1"), b = num(m, "AC@3"), c = num(m, "AC@5");
    if (isnan(a))
        snprintf(out, n, "–");
    else
        snprintf(out, n, "%.2f / %.2f / %.2f", a, b, c);
}

char *dbp_exp_report_markdown(const cJSON *r)
{
    struct dbp_buf b;
    char x[64], y[64], z[64], w[64];
    dbp_buf_init(&b, 0);
    dbp_buf_printf(&b, "# Diagnosis campaign %s%s%s\n\n", jstr(r, "id"),
                   *jstr(r, "name") ? " — " : "", jstr(r, "name"));
    dbp_buf_printf(&b, "Status: %s. %s → %s (%.0f s), %d nodes.\n\n", jstr(r, "status"),
                   jstr(r, "started_at"), jstr(r, "finished_at"), num(r, "duration_s"),
                   inum(r, "nodes"));
    if (*jstr(r, "error"))
        dbp_buf_printf(&b, "**Error:** %s\n\n", jstr(r, "error"));
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(r, "request");
    dbp_buf_printf(&b,
                   "Plan: %d repetitions per scenario (%d held out for testing), pre %d s, "
                   "fault %d s, post %d s, severity %s, seed %.0f, background workload %s.\n\n",
                   inum(rq, "repetitions"), inum(rq, "test_repetitions"),
                   inum(rq, "pre_s"), inum(rq, "fault_s"), inum(rq, "post_s"),
                   jstr(rq, "severity"), num(rq, "seed"),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rq, "workload")) ? "on" : "off");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "model");
    if (m)
        dbp_buf_printf(&b,
                       "Model `%s`: %d train / %d test windows from %d cases (%d skipped), "
                       "window %d; macro F1 %.2f (rule %.2f).\n\n",
                       jstr(m, "name"), inum(m, "train_windows"), inum(m, "test_windows"),
                       inum(m, "cases_used"), inum(m, "cases_skipped"),
                       inum(m, "window"), num(m, "macro_f1"), num(m, "macro_f1_rule"));
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(r, "accuracy");
    dbp_buf_printf(&b,
                   "AC@1 / AC@3 / AC@5 on held-out cases (instances = test windows with a "
                   "fault):\n\n"
                   "| Group | Instances | Graph (PR × P) | XGBoost only | Rule (z-score) | "
                   "Chance |\n|---|---|---|---|---|---|\n");
    const cJSON *g;
    cJSON_ArrayForEach (g, cJSON_GetObjectItemCaseSensitive(acc, "by_group")) {
        fmt3(x, sizeof(x), cJSON_GetObjectItemCaseSensitive(g, "graph"));
        fmt3(y, sizeof(y), cJSON_GetObjectItemCaseSensitive(g, "xgboost"));
        fmt3(z, sizeof(z), cJSON_GetObjectItemCaseSensitive(g, "rule"));
        fmt3(w, sizeof(w), cJSON_GetObjectItemCaseSensitive(g, "chance"));
        dbp_buf_printf(&b, "| %s | %d | %s | %s | %s | %s |\n", g->string,
                       (int)(isnan(num(g, "instances")) ? 0 : num(g, "instances")), x, y, z, w);
    }
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(acc, "overall");
    fmt3(x, sizeof(x), cJSON_GetObjectItemCaseSensitive(ov, "graph"));
    fmt3(y, sizeof(y), cJSON_GetObjectItemCaseSensitive(ov, "xgboost"));
    fmt3(z, sizeof(z), cJSON_GetObjectItemCaseSensitive(ov, "rule"));
    fmt3(w, sizeof(w), cJSON_GetObjectItemCaseSensitive(ov, "chance"));
    dbp_buf_printf(&b, "| **all** | %d | %s | %s | %s | %s |\n\n",
                   (int)(isnan(num(acc, "test_instances")) ? 0 : num(acc, "test_instances")), x,
                   y, z, w);
    dbp_buf_printf(&b, "Per scenario:\n\n| Scenario | What | Instances | Graph | XGBoost | Rule "
                       "|\n|---|---|---|---|---|---|\n");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(r, "scenarios");
    cJSON_ArrayForEach (g, cJSON_GetObjectItemCaseSensitive(acc, "by_scenario")) {
        fmt3(x, sizeof(x), cJSON_GetObjectItemCaseSensitive(g, "graph"));
        fmt3(y, sizeof(y), cJSON_GetObjectItemCaseSensitive(g, "xgboost"));
        fmt3(z, sizeof(z), cJSON_GetObjectItemCaseSensitive(g, "rule"));
        dbp_buf_printf(&b, "| %s | %s | %d | %s | %s | %s |\n", g->string,
                       jstr(cJSON_GetObjectItemCaseSensitive(desc, g->string), "description"),
                       inum(g, "instances"), x, y, z);
    }
    int failed = 0, ncase = 0;
    const cJSON *c;
    cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(r, "cases")) {
        ncase++;
        failed += *jstr(c, "inject_error") || *jstr(c, "error");
    }
    dbp_buf_printf(&b, "\n%d steps recorded, %d with an injection or recording error (see "
                       "report.json).\n",
                   ncase, failed);
    char *s = dbp_buf_detach(&b, NULL);
    return s ? s : dbp_xstrdup("");
}

static int write_json(const char *dir, const char *name, const cJSON *o, struct dbp_err *err)
{
    char path[DBP_PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *s = cJSON_Print(o);
    int rc = dbp_write_file_atomic(path, s, strlen(s), 0644);
    free(s);
    if (rc)
        return dbp_err_set(err, DBP_EIO, "cannot write %s", path);
    return 0;
}

static int exp_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    struct run *ru = arg;
    struct dbp_experiments *x = ru->x;
    double started = dbp_wall_s();
    cJSON *cases = cJSON_CreateArray();
    char wl_id[DBP_WL_ID_MAX] = "";
    int rc = 0;
    bool cancelled = false;

    if (ru->rq.workload && x->d.workloads) {
        struct dbp_wl_request wr;
        dbp_wl_request_defaults(&wr);
        wr.type = DBP_WL_SYSBENCH;
        wr.threads = ru->rq.workload_threads;
        wr.tables = 2;
        wr.table_size = 10000;
        wr.time_s = 0;
        wr.prepare_db = true;
        wr.report_interval = 5;
        struct dbp_err e = {0};
        dbp_job_progress(job, 1, "starting the background workload (sysbench oltp_read_write)");
        if (dbp_workloads_run(x->d.workloads, &wr, wl_id, &e)) {
            DBP_WARN("experiment", "%s: no background workload: %s", ru->id, e.msg);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "group", "workload");
            cJSON_AddStringToObject(o, "error", e.msg);
            cJSON_AddItemToArray(cases, o);
            wl_id[0] = '\0';
        }
    }
    /* Let the collector fill a window (and the workload's prepare end)
     * before the first recording. */
    int W = ru->rq.window;
    double warm = fmax(10.0, (W + 2) * x->interval_ms / 1000.0);
    dbp_job_progress(job, 2, "warming up for %.0f s", warm);
    if (!nap(job, warm))
        cancelled = true;

    for (int i = 0; i < ru->nsteps && !cancelled; i++) {
        const struct step *st = &ru->steps[i];
        dbp_job_progress(job, 2 + 88.0 * i / ru->nsteps, "step %d/%d: %s %s", i + 1, ru->nsteps,
                         st->scenario, st->group < 0 ? "normal period" : group_names[st->group]);
        cJSON *o = step_json(st);
        cJSON_AddItemToArray(cases, o);
        int r = st->group < 0 ? run_normal(ru, job, st, o) : run_fault(ru, job, st, i, o);
        if (r && dbp_job_cancelled(job))
            cancelled = true;
        /* A short unrecorded gap lets the cluster settle between cases. */
        if (!cancelled && !nap(job, fmax(2.0, x->interval_ms / 1000.0)))
            cancelled = true;
    }
    if (wl_id[0]) {
        struct dbp_err e = {0};
        (void)dbp_workloads_stop_run(x->d.workloads, wl_id, &e);
    }

    cJSON *train = NULL;
    char train_err[DBP_ERR_MSG_MAX] = "";
    if (!cancelled) {
        dbp_job_progress(job, 90, "training on the campaign's cases");
        struct dbp_ml_train_req tr = {.test_fraction = 0.2, .seed = (long long)ru->rq.seed,
                                      .pagerank = -1};
        tr.window = W;
        tr.stride = ru->rq.stride;
        tr.rounds = ru->rq.rounds;
        tr.data_dir = ru->cases;
        const char *cls[DBP_EXP_MAX_TYPES];
        for (int i = 0; i < ru->rq.ntypes; i++)
            cls[i] = ru->rq.types[i];
        tr.classes = cls;
        tr.nclasses = ru->rq.ntypes;
        struct dbp_err e = {0};
        if (dbp_ml_train_run(x->d.ml, &tr, NULL, NULL, &train, &e))
            dbp_strlcpy(train_err, e.msg, sizeof(train_err));
    }
    cJSON *rep = build_report(ru, cases, train, train_err[0] ? train_err : NULL, started,
                              ru->rq.ntypes, cancelled ? "cancelled" : train_err[0] ? "failed" : "completed");
    cJSON_Delete(train);
    struct dbp_err e = {0};
    char *md = dbp_exp_report_markdown(rep);
    char path[sizeof(ru->dir) + 16];
    snprintf(path, sizeof(path), "%s/report.md", ru->dir);
    if (write_json(ru->dir, "report.json", rep, &e) ||
        dbp_write_file_atomic(path, md, strlen(md), 0644))
        DBP_WARN("experiment", "%s: cannot write the report: %s", ru->id, e.msg);
    free(md);
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(summary, "status", jstr(rep, "status"));
    cJSON_AddStringToObject(summary, "report", ru->dir);
    cJSON_AddItemToObject(summary, "accuracy",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rep, "accuracy"), 1));
    dbp_job_set_result(job, summary);
    cJSON_Delete(rep);
    pthread_mutex_lock(&x->lock);
    x->running[0] = '\0';
    x->job[0] = '\0';
    pthread_mutex_unlock(&x->lock);
    if (cancelled)
        rc = dbp_err_set(err, DBP_EBUSY, "cancelled");
    else if (train_err[0])
        rc = dbp_err_set(err, DBP_EUNAVAIL, "training failed: %s", train_err);
    else
        dbp_job_progress(job, 100, "campaign completed");
    return rc;
}

static void run_free(void *arg)
{
    struct run *ru = arg;
    if (!ru)
        return;
    /* A job cancelled before it ran never cleared the flag. */
    pthread_mutex_lock(&ru->x->lock);
    if (!strcmp(ru->x->running, ru->id)) {
        ru->x->running[0] = '\0';
        ru->x->job[0] = '\0';
    }
    pthread_mutex_unlock(&ru->x->lock);
    free(ru->steps);
    cJSON_Delete(ru->plan);
    free(ru);
}

/* ---- module -------------------------------------------------------------------------- */

int dbp_experiments_new(const struct dbp_config *cfg, const struct dbp_exp_deps *deps,
                        struct dbp_experiments **out, struct dbp_err *err)
{
    (void)err;
    struct dbp_experiments *x = dbp_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->lock, NULL);
    x->d = *deps;
    dbp_experiments_reload(x, cfg);
    *out = x;
    return 0;
}

void dbp_experiments_reload(struct dbp_experiments *x, const struct dbp_config *cfg)
{
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(x->dir, cfg->experiments_dir, sizeof(x->dir));
    x->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : 5000;
    x->window = cfg->feature_window > 1 ? cfg->feature_window : 6;
    pthread_mutex_unlock(&x->lock);
}

/* Whether job id is still queued or running (unknown counts as ended). */
static bool job_live(struct dbp_experiments *x, const char *id)
{
    cJSON *j = dbp_jobs_get_json(x->d.jobs, id);
    const char *st = j ? jstr(j, "status") : "";
    bool live = !strcmp(st, "queued") || !strcmp(st, "running");
    cJSON_Delete(j);
    return live;
}

void dbp_experiments_stop(struct dbp_experiments *x)
{
    if (!x)
        return;
    char job[DBP_JOB_ID_LEN] = "", cid[DBP_JOB_ID_LEN] = "";
    bool asked = false;
    uint64_t until = dbp_now_ns() + STOP_WAIT_NS;
    /* The job id is published just after the job is queued; until it is,
     * keep looking.  Once cancelled, the campaign reverts its fault in
     * flight (every nap polls the cancel flag); wait until its job has
     * ended, bounded. */
    while (dbp_now_ns() < until) {
        pthread_mutex_lock(&x->lock);
        bool busy = x->running[0] != '\0';
        if (!asked) {
            dbp_strlcpy(job, x->job, sizeof(job));
            dbp_strlcpy(cid, x->running, sizeof(cid));
        }
        pthread_mutex_unlock(&x->lock);
        if (!asked && !busy)
            return;
        if (!asked && job[0]) {
            int rc = dbp_jobs_cancel(x->d.jobs, job);
            if (rc && rc != DBP_EBUSY)
                DBP_WARN("experiment", "%s: cannot cancel job %s: %s", cid, job,
                         dbp_strerror(rc));
            DBP_INFO("experiment", "%s: cancelled for shutdown; waiting for its fault's revert",
                     cid);
            asked = true;
        }
        if (asked && !busy && !job_live(x, job))
            return;
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    DBP_WARN("experiment", "%s: still running after %llu s; the registry reverts what is left",
             cid[0] ? cid : "campaign", STOP_WAIT_NS / 1000000000ull);
}

void dbp_experiments_free(struct dbp_experiments *x)
{
    if (!x)
        return;
    pthread_mutex_destroy(&x->lock);
    free(x);
}

int dbp_experiments_submit(struct dbp_experiments *x, const struct dbp_exp_req *rq,
                           char id[DBP_JOB_ID_LEN], cJSON **plan_out, struct dbp_err *err)
{
    if (plan_out)
        *plan_out = NULL;
    if (!x->d.collector || !x->d.recorder || !x->d.anomalies || !x->d.ml)
        return dbp_err_set(err, DBP_EUNAVAIL,
                           "campaigns need the collector, the fault registry and the diagnosis "
                           "module (configure database nodes)");
    char(*names)[64] = dbp_xcalloc(DBP_MAX_NODES, 64);
    int nn = dbp_collector_node_names(x->d.collector, names, DBP_MAX_NODES);
    struct run *ru = dbp_xcalloc(1, sizeof(*ru));
    ru->x = x;
    ru->rq = *rq;
    ru->nnodes = nn;
    if (ru->rq.window <= 0) {
        pthread_mutex_lock(&x->lock);
        ru->rq.window = x->window;
        pthread_mutex_unlock(&x->lock);
    }
    int rc = plan(ru, names, nn, err);
    free(names);
    if (rc) {
        run_free(ru);
        return rc;
    }
    pthread_mutex_lock(&x->lock);
    if (x->running[0]) {
        char busy[DBP_JOB_ID_LEN];
        dbp_strlcpy(busy, x->running, sizeof(busy));
        pthread_mutex_unlock(&x->lock);
        run_free(ru);
        return dbp_err_set(err, DBP_EBUSY, "campaign %s is running; cancel it or wait", busy);
    }
    if (dbp_recorder_open(x->d.recorder, DBP_REC_ANY)) {
        pthread_mutex_unlock(&x->lock);
        run_free(ru);
        return dbp_err_set(err, DBP_EBUSY,
                           "a training collection is in progress; stop it before a campaign");
    }
    char root[DBP_PATH_MAX];
    dbp_strlcpy(root, x->dir, sizeof(root));
    int interval = x->interval_ms;
    x->running[0] = '*'; /* reserved while the job is queued */
    x->running[1] = '\0';
    pthread_mutex_unlock(&x->lock);

    /* The id is the job's; directories are made once it is known. */
    ru->plan = cJSON_CreateObject();
    cJSON_AddItemToObject(ru->plan, "request", req_json(&ru->rq));
    cJSON *steps = cJSON_AddArrayToObject(ru->plan, "steps");
    double est = 30;
    int nfault = 0;
    for (int i = 0; i < ru->nsteps; i++) {
        cJSON_AddItemToArray(steps, step_json(&ru->steps[i]));
        if (ru->steps[i].group < 0) {
            est += ru->rq.normal_s + 3;
        } else {
            est += ru->rq.pre_s + ru->rq.fault_s + ru->rq.post_s + 8;
            nfault++;
        }
    }
    est += fmax(10.0, (ru->rq.window + 2) * interval / 1000.0);
    cJSON_AddNumberToObject(ru->plan, "cases", ru->nsteps);
    cJSON_AddNumberToObject(ru->plan, "fault_cases", nfault);
    cJSON_AddNumberToObject(ru->plan, "estimated_s", round(est));

    /* The campaign's id names its directory; the job id is kept in it. */
    char jid[DBP_JOB_ID_LEN];
    /* exp + UTC yymmddHHMMSS, sortable; a second campaign in the same
     * second gets a letter after it (the id stays < DBP_JOB_ID_LEN and
     * [0-9a-z]).  mkdir's EEXIST decides: a directory is never reused. */
    {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        if (dbp_mkdir_p(root, 0755)) {
            rc = dbp_err_set(err, DBP_EIO, "cannot create %s", root);
            goto fail;
        }
        bool made = false;
        for (int k = 0; k <= 26 && !made; k++) {
            snprintf(ru->id, sizeof(ru->id), "exp%.12s%.*s", stamp + 2, k ? 1 : 0,
                     &"-abcdefghijklmnopqrstuvwxyz"[k]);
            if (snprintf(ru->dir, sizeof(ru->dir), "%s/%s", root, ru->id) >=
                (int)sizeof(ru->dir)) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "training.experiments_dir is too long");
                goto fail;
            }
            if (mkdir(ru->dir, 0755) == 0)
                made = true;
            else if (errno != EEXIST) {
                rc = dbp_err_set(err, DBP_EIO, "cannot create %s: %s", ru->dir, strerror(errno));
                goto fail;
            }
        }
        if (!made) {
            rc = dbp_err_set(err, DBP_EBUSY,
                             "27 campaigns were started within second %s; try again", stamp);
            goto fail;
        }
    }
    snprintf(ru->cases, sizeof(ru->cases), "%s/cases", ru->dir);
    if (dbp_mkdir_p(ru->cases, 0755)) {
        rc = dbp_err_set(err, DBP_EIO, "cannot create %s", ru->cases);
        goto fail;
    }
    cJSON_AddStringToObject(ru->plan, "id", ru->id);
    cJSON_AddStringToObject(ru->plan, "dir", ru->dir);
    if ((rc = write_json(ru->dir, "request.json", ru->plan, err)))
        goto fail;
    if (plan_out)
        *plan_out = cJSON_Duplicate(ru->plan, 1);
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(x->running, ru->id, sizeof(x->running));
    pthread_mutex_unlock(&x->lock);
    {
        char rid[DBP_JOB_ID_LEN];
        dbp_strlcpy(rid, ru->id, sizeof(rid));
        rc = dbp_jobs_submit(x->d.jobs, "experiment", exp_job, ru, run_free, jid);
        if (rc) {
            pthread_mutex_lock(&x->lock);
            x->running[0] = '\0';
            pthread_mutex_unlock(&x->lock);
            if (plan_out) {
                cJSON_Delete(*plan_out);
                *plan_out = NULL;
            }
            return dbp_err_set(err, rc, "cannot queue the campaign");
        }
        /* The campaign is known by its directory name; remember the job. */
        pthread_mutex_lock(&x->lock);
        if (!strcmp(x->running, rid))
            dbp_strlcpy(x->job, jid, sizeof(x->job));
        pthread_mutex_unlock(&x->lock);
        char p[DBP_PATH_MAX + 32];
        snprintf(p, sizeof(p), "%s/%s/job", root, rid);
        (void)dbp_write_file_atomic(p, jid, strlen(jid), 0644);
        dbp_strlcpy(id, rid, DBP_JOB_ID_LEN);
    }
    return 0;
fail:
    pthread_mutex_lock(&x->lock);
    x->running[0] = '\0';
    pthread_mutex_unlock(&x->lock);
    run_free(ru);
    return rc;
}

static bool id_ok(const char *id)
{
    if (!id || !*id || strlen(id) >= DBP_JOB_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
            return false;
    return true;
}

static cJSON *read_json_file(const char *path)
{
    char *s = NULL;
    size_t n = 0;
    if (dbp_read_file(path, 64u << 20, &s, &n))
        return NULL;
    cJSON *o = cJSON_ParseWithLength(s, n);
    free(s);
    return o;
}

/* The job of a campaign directory (NULL when unknown or forgotten). */
static cJSON *job_of(struct dbp_experiments *x, const char *dir)
{
    char p[DBP_PATH_MAX + 32], *s = NULL;
    size_t n = 0;
    snprintf(p, sizeof(p), "%s/job", dir);
    if (dbp_read_file(p, 64, &s, &n))
        return NULL;
    char jid[DBP_JOB_ID_LEN];
    dbp_strlcpy(jid, s, n + 1 < sizeof(jid) ? n + 1 : sizeof(jid));
    free(s);
    return dbp_jobs_get_json(x->d.jobs, jid);
}

static cJSON *summary_of(struct dbp_experiments *x, const char *root, const char *id, bool full)
{
    char dir[DBP_PATH_MAX + 32], p[DBP_PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/%s", root, id);
    snprintf(p, sizeof(p), "%s/request.json", dir);
    cJSON *plan = read_json_file(p);
    if (!plan)
        return NULL;
    snprintf(p, sizeof(p), "%s/report.json", dir);
    cJSON *rep = read_json_file(p);
    cJSON *job = job_of(x, dir);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(plan, "request");
    if (*jstr(req, "name"))
        cJSON_AddStringToObject(o, "name", jstr(req, "name"));
    const char *status = rep ? jstr(rep, "status") : job ? jstr(job, "status") : "interrupted";
    if (!rep && job && !strcmp(status, "succeeded"))
        status = "completed";
    cJSON_AddStringToObject(o, "status", status);
    if (job) {
        cJSON_AddItemToObject(o, "progress", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(job, "progress"), 1));
        cJSON_AddStringToObject(o, "message", jstr(job, "message"));
        cJSON_AddStringToObject(o, "job_id", jstr(job, "id"));
    }
    cJSON_AddStringToObject(o, "dir", dir);
    cJSON_AddNumberToObject(o, "cases", num(plan, "cases"));
    cJSON_AddNumberToObject(o, "estimated_s", num(plan, "estimated_s"));
    if (rep) {
        cJSON_AddStringToObject(o, "finished_at", jstr(rep, "finished_at"));
        cJSON_AddItemToObject(
            o, "accuracy",
            cJSON_Duplicate(path2(cJSON_GetObjectItemCaseSensitive(rep, "accuracy"), "overall",
                                  "graph")
                                ? cJSON_GetObjectItemCaseSensitive(
                                      cJSON_GetObjectItemCaseSensitive(rep, "accuracy"), "overall")
                                : NULL,
                            1));
    }
    if (full) {
        cJSON_AddItemToObject(o, "plan", plan);
        plan = NULL;
        if (rep) {
            cJSON_AddItemToObject(o, "report", rep);
            rep = NULL;
        }
    }
    cJSON_Delete(plan);
    cJSON_Delete(rep);
    cJSON_Delete(job);
    return o;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

cJSON *dbp_experiments_list(struct dbp_experiments *x)
{
    char root[DBP_PATH_MAX];
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(root, x->dir, sizeof(root));
    pthread_mutex_unlock(&x->lock);
    cJSON *arr = cJSON_CreateArray();
    DIR *d = opendir(root);
    if (!d)
        return arr;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!id_ok(e->d_name) || strncmp(e->d_name, "exp", 3))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = dbp_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = dbp_xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_desc);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = summary_of(x, root, names[i], false);
        if (o)
            cJSON_AddItemToArray(arr, o);
        free(names[i]);
    }
    free(names);
    return arr;
}

int dbp_experiments_get(struct dbp_experiments *x, const char *id, cJSON **out,
                        struct dbp_err *err)
{
    char root[DBP_PATH_MAX];
    if (!id_ok(id))
        return dbp_err_set(err, DBP_ENOTFOUND, "no campaign '%s'", id ? id : "");
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(root, x->dir, sizeof(root));
    pthread_mutex_unlock(&x->lock);
    *out = summary_of(x, root, id, true);
    if (!*out)
        return dbp_err_set(err, DBP_ENOTFOUND, "no campaign '%s'", id);
    return 0;
}

int dbp_experiments_report_md(struct dbp_experiments *x, const char *id, char **out, size_t *len,
                              struct dbp_err *err)
{
    char root[DBP_PATH_MAX], p[DBP_PATH_MAX + 64];
    if (!id_ok(id))
        return dbp_err_set(err, DBP_ENOTFOUND, "no campaign '%s'", id ? id : "");
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(root, x->dir, sizeof(root));
    pthread_mutex_unlock(&x->lock);
    snprintf(p, sizeof(p), "%s/%s/report.md", root, id);
    if (dbp_read_file(p, 16u << 20, out, len))
        return dbp_err_set(err, DBP_ENOTFOUND, "campaign '%s' has no report (yet)", id);
    return 0;
}

int dbp_experiments_cancel(struct dbp_experiments *x, const char *id, struct dbp_err *err)
{
    char root[DBP_PATH_MAX], dir[DBP_PATH_MAX + 32];
    if (!id_ok(id))
        return dbp_err_set(err, DBP_ENOTFOUND, "no campaign '%s'", id ? id : "");
    pthread_mutex_lock(&x->lock);
    dbp_strlcpy(root, x->dir, sizeof(root));
    bool running = !strcmp(x->running, id);
    pthread_mutex_unlock(&x->lock);
    snprintf(dir, sizeof(dir), "%s/%s", root, id);
    cJSON *job = job_of(x, dir);
    if (!job) {
        if (access(dir, F_OK))
            return dbp_err_set(err, DBP_ENOTFOUND, "no campaign '%s'", id);
        return dbp_err_set(err, DBP_EBUSY, "campaign '%s' is not running", id);
    }
    int rc = dbp_jobs_cancel(x->d.jobs, jstr(job, "id"));
    cJSON_Delete(job);
    if (rc == DBP_EBUSY || (!running && rc == 0))
        return dbp_err_set(err, DBP_EBUSY, "campaign '%s' has already ended", id);
    if (rc)
        return dbp_err_set(err, rc, "cannot cancel campaign '%s'", id);
    return 0;
}
