/*
 * jobs.h - background job queue for long actions (prepare a database,
 * train a model, run a campaign).  HTTP handlers submit and answer 202 with
 * the job id; clients poll GET /api/jobs/{id}.
 *
 * Workers are owned by struct dbp_jobs and joined by dbp_jobs_stop().  A
 * job function runs on a worker thread and reports progress with
 * dbp_job_progress(); it should poll dbp_job_cancelled() at safe points.
 * Finished jobs are kept (the newest `keep` ones) for status queries.
 * All functions are thread-safe.
 */
#ifndef DBP_JOBS_H
#define DBP_JOBS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"

#define DBP_JOB_ID_LEN 17

/*
 * At most this many jobs wait in the queue (running ones not counted); a
 * further dbp_jobs_submit() is refused with DBP_EBUSY.  Every long action
 * is also guarded by its module (one prepare per database, one training,
 * one campaign), so a full queue means a client is flooding.
 */
#define DBP_JOBS_MAX_QUEUED 32

struct dbp_jobs;
struct dbp_job;

/* Returns 0 on success or a DBP_E* code with err filled. */
typedef int (*dbp_job_fn)(struct dbp_job *job, void *arg, struct dbp_err *err);

struct dbp_jobs *dbp_jobs_new(int workers, int keep);
int dbp_jobs_start(struct dbp_jobs *jobs);
/* Cancels queued jobs, asks running ones to stop, joins the workers. */
void dbp_jobs_stop(struct dbp_jobs *jobs);
void dbp_jobs_free(struct dbp_jobs *jobs);

/*
 * Queue fn(arg).  free_arg (may be NULL) is called exactly once: after the
 * job ran, when it was cancelled before running, or at once when the submit
 * is refused.  It is never called with the jobs lock held, so it may take
 * its own locks and call any dbp_jobs_* / dbp_job_* function.  id_out
 * receives the job id.  Returns 0, DBP_EBUSY when DBP_JOBS_MAX_QUEUED jobs
 * are already queued, or DBP_EUNAVAIL after dbp_jobs_stop().
 */
int dbp_jobs_submit(struct dbp_jobs *jobs, const char *kind, dbp_job_fn fn, void *arg,
                    void (*free_arg)(void *), char id_out[DBP_JOB_ID_LEN]);

/* From inside a job function. */
void dbp_job_progress(struct dbp_job *job, double percent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool dbp_job_cancelled(const struct dbp_job *job);
/* Attach a result object (consumed). */
void dbp_job_set_result(struct dbp_job *job, cJSON *result);
const char *dbp_job_id(const struct dbp_job *job);

/* Snapshot of one job as JSON (caller owns) or NULL when unknown. */
cJSON *dbp_jobs_get_json(struct dbp_jobs *jobs, const char *id);
/* All kept jobs, newest first (caller owns). */
cJSON *dbp_jobs_list_json(struct dbp_jobs *jobs);
/* Ask a job to stop: DBP_ENOTFOUND, DBP_EBUSY (already finished) or 0. */
int dbp_jobs_cancel(struct dbp_jobs *jobs, const char *id);
/* Number of queued + running jobs of a kind (NULL = all). */
int dbp_jobs_active(struct dbp_jobs *jobs, const char *kind);

#endif
