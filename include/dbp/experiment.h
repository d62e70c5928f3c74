/*
 * experiment.h - diagnosis campaigns: scenario groups of faults injected on
 * the live cluster under a background workload, each recorded as a case,
 * then a model trained on some repetitions and measured on the others.
 *
 * A campaign is planned from a request into scenarios like the paper's
 * Table 2 (reference §6.9), built from the campaign's fault types:
 *
 *   A<i>  single_node            type i on one random node
 *   B<i>  multi_node             type i on two random nodes
 *   C<j>  single_node_compound   pair j (two types) on one random node
 *   W<j>  multi_node_compound    pair j, each type on a different random node
 *
 * Each scenario runs `repetitions` times with nodes drawn from a seeded
 * generator; the last `test_repetitions` of every scenario are labelled
 * "split": "test" and never trained on.  A repetition is one recorded case:
 * pre_s of normal load, the injection (fault_s), post_s of recovery; the
 * label comes from the fault registry (recorder.h).  A normal case of
 * normal_s is recorded before the first scenario and after every
 * `normal_every` repetitions.  Then the model is trained (ml.h) on the
 * campaign's own case directory and the report is written next to it:
 *
 *   <training.experiments_dir>/<id>/request.json   the campaign as planned
 *   <training.experiments_dir>/<id>/cases/         its case directories
 *   <training.experiments_dir>/<id>/report.json    see dbp_exp_report_json
 *   <training.experiments_dir>/<id>/report.md      AC@1/3/5 per group and
 *                                                  scenario, method vs
 *                                                  baselines vs chance
 *
 * The campaign runs as a job (jobs.h, kind "experiment"; its id is the job
 * id), one at a time.  Cancelling stops the injection in flight (and waits
 * for its revert), drops the open case and stops the workload it started.
 *
 * Threads: thread-safe; the module borrows the other modules, which must
 * outlive it (stop it before them).
 */
#ifndef DBP_EXPERIMENT_H
#define DBP_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"
#include "dbp/jobs.h"

struct dbp_config;
struct dbp_recorder;
struct dbp_anomalies;
struct dbp_workloads;
struct dbp_ml;
struct dbp_collector;
struct dbp_experiments;

#define DBP_EXP_MAX_TYPES 8
#define DBP_EXP_MAX_PAIRS 8

enum dbp_exp_group {
    DBP_EXP_SINGLE = 1,
    DBP_EXP_MULTI = 2,
    DBP_EXP_SINGLE_COMPOUND = 4,
    DBP_EXP_MULTI_COMPOUND = 8,
};

struct dbp_exp_req {
    char name[64];
    unsigned groups; /* enum dbp_exp_group bits; 0 = all four */
    char types[DBP_EXP_MAX_TYPES][32];
    int ntypes;
    char pairs[DBP_EXP_MAX_PAIRS][2][32]; /* compound pairs; 0 = the default */
    int npairs;
    int repetitions, test_repetitions;
    int pre_s, fault_s, post_s, normal_s, normal_every;
    char severity[8];
    unsigned long long seed;
    bool workload;        /* run a sysbench load in the background */
    int workload_threads; /* its client threads */
    int window, stride, rounds; /* training */
};

/* Defaults: every group, cpu_stress / io_bottleneck / network_bottleneck /
 * cache_bottleneck, the paper's pairs, 3 repetitions of which 1 is held
 * out, pre 5 s, fault 30 s, post 5 s, normal 20 s every 4 repetitions,
 * medium, seed 1314, workload on with 4 threads, window = training.window,
 * stride 1, 100 rounds. */
void dbp_exp_req_defaults(struct dbp_exp_req *rq);
/* Parse a JSON body into rq (defaults first); DBP_ESCHEMA naming the field. */
int dbp_exp_req_parse(const cJSON *body, struct dbp_exp_req *rq, struct dbp_err *err);

struct dbp_exp_deps {
    struct dbp_jobs *jobs;
    struct dbp_recorder *recorder;
    struct dbp_anomalies *anomalies;
    struct dbp_workloads *workloads; /* may be NULL: no background load */
    struct dbp_ml *ml;
    struct dbp_collector *collector;
};

int dbp_experiments_new(const struct dbp_config *cfg, const struct dbp_exp_deps *deps,
                        struct dbp_experiments **out, struct dbp_err *err);
/* Cancel a running campaign and wait for it (bounded by the job's own
 * clean-up: the revert of the fault in flight). */
void dbp_experiments_stop(struct dbp_experiments *x);
void dbp_experiments_free(struct dbp_experiments *x);
void dbp_experiments_reload(struct dbp_experiments *x, const struct dbp_config *cfg);

/* Plan and queue a campaign.  DBP_EBUSY when one runs; DBP_ESCHEMA for a
 * plan that cannot run (unknown type, fewer nodes than a group needs, no
 * executor for a type); DBP_EUNAVAIL without collector / registry / ML.
 * *plan (may be NULL) = {"id", "scenarios": [...], "cases", "estimated_s"}. */
int dbp_experiments_submit(struct dbp_experiments *x, const struct dbp_exp_req *rq,
                           char id[DBP_JOB_ID_LEN], cJSON **plan, struct dbp_err *err);
/* [{id, name, status, progress, started_at, finished_at, summary}] newest
 * first: the campaigns of this process and those found on disk. */
cJSON *dbp_experiments_list(struct dbp_experiments *x);
/* One campaign: job state + plan + report when finished.  DBP_ENOTFOUND. */
int dbp_experiments_get(struct dbp_experiments *x, const char *id, cJSON **out,
                        struct dbp_err *err);
/* report.md of a finished campaign (caller frees).  DBP_ENOTFOUND. */
int dbp_experiments_report_md(struct dbp_experiments *x, const char *id, char **out,
                              size_t *len, struct dbp_err *err);
/* Cancel a running campaign.  DBP_ENOTFOUND / DBP_EBUSY (already ended). */
int dbp_experiments_cancel(struct dbp_experiments *x, const char *id, struct dbp_err *err);

/*
 * Expected Precision@k of a uniformly random ranking of P = nodes x
 * classes pairs of which r are root causes: (k r / P) / min(k, r), capped
 * at 1.  The "chance" line of the report.
 */
double dbp_exp_chance_at_k(int nodes, int classes, int r, int k);

/* The Markdown report from report.json's object (caller frees). */
char *dbp_exp_report_markdown(const cJSON *report);

#endif
