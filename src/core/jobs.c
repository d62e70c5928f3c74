/*
 * jobs.c - a FIFO job queue served by a few worker threads.
 *
 * DESIGN: one mutex guards the job list and every job's mutable fields;
 * workers take the oldest queued job, run it without the lock, then publish
 * the outcome under the lock (libuv's work/after-work split, in thread
 * form).  Job structs stay in the list until evicted (only finished jobs
 * beyond `keep` are evicted), so a worker's pointer stays valid while it
 * runs.  Lock order: jobs->lock is a leaf (nothing else is taken inside).
 * That includes the free_arg callbacks: they take their module's lock
 * (workload, experiment, ml), and a module may call into jobs while holding
 * it, so an argument is detached under the lock and freed after unlocking;
 * evicted jobs are unlinked under the lock and freed after it too.
 * The core does not log (STYLE §12): a job's outcome stays in its record.
 */
#define _GNU_SOURCE
#include "dbp/jobs.h"
#include "dbp/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

enum jstate { J_QUEUED, J_RUNNING, J_SUCCEEDED, J_FAILED, J_CANCELLED };
static const char *jstate_name[] = {"queued", "running", "succeeded", "failed", "cancelled"};

struct dbp_job {
    struct dbp_jobs *owner;
    char id[DBP_JOB_ID_LEN];
    char kind[32];
    enum jstate state;
    double progress;
    char message[256];
    struct dbp_err err;
    cJSON *result;
    double created, started, finished;
    atomic_bool cancel;
    dbp_job_fn fn;
    void *arg;
    void (*free_arg)(void *);
    struct dbp_job *next; /* newest first */
};

struct dbp_jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct dbp_job *head;
    int nworkers;
    int keep;
    pthread_t *threads;
    int started;
    bool stop;
};

/* Called without the lock: free_arg may take other locks. */
static void job_free(struct dbp_job *j)
{
    if (j->free_arg && j->arg)
        j->free_arg(j->arg);
    cJSON_Delete(j->result);
    free(j);
}

static void job_free_list(struct dbp_job *j)
{
    while (j) {
        struct dbp_job *next = j->next;
        job_free(j);
        j = next;
    }
}

/* An argument taken out of a job under the lock, to be freed after it. */
struct detached {
    void *arg;
    void (*free_arg)(void *);
};

static struct detached detach_arg(struct dbp_job *j)
{
    struct detached d = {j->arg, j->free_arg};
    j->arg = NULL;
    return d;
}

static void detached_free(struct detached d)
{
    if (d.free_arg && d.arg)
        d.free_arg(d.arg);
}

/*
 * Unlink finished jobs beyond `keep` and return them as a list for
 * job_free_list() after the lock is released.  Called with the lock held.
 */
static struct dbp_job *evict(struct dbp_jobs *js)
{
    int finished = 0;
    struct dbp_job *out = NULL;
    struct dbp_job **pp = &js->head;
    while (*pp) {
        struct dbp_job *j = *pp;
        if (j->state >= J_SUCCEEDED && ++finished > js->keep) {
            *pp = j->next;
            j->next = out;
            out = j;
            continue;
        }
        pp = &j->next;
    }
    return out;
}

static int queued_count(const struct dbp_jobs *js)
{
    int n = 0;
    for (const struct dbp_job *j = js->head; j; j = j->next)
        if (j->state == J_QUEUED)
            n++;
    return n;
}

static struct dbp_job *oldest_queued(struct dbp_jobs *js)
{
    struct dbp_job *found = NULL;
    for (struct dbp_job *j = js->head; j; j = j->next)
        if (j->state == J_QUEUED)
            found = j;
    return found;
}

static void *worker(void *arg)
{
    struct dbp_jobs *js = arg;
    pthread_mutex_lock(&js->lock);
    for (;;) {
        struct dbp_job *j;
        while (!js->stop && !(j = oldest_queued(js)))
            pthread_cond_wait(&js->cond, &js->lock);
        if (js->stop)
            break;
        j->state = J_RUNNING;
        j->started = dbp_wall_s();
        pthread_mutex_unlock(&js->lock);

        struct dbp_err err = {0};
        int rc = j->fn(j, j->arg, &err);

        pthread_mutex_lock(&js->lock);
        j->finished = dbp_wall_s();
        if (rc == 0) {
            j->state = J_SUCCEEDED;
            j->progress = 100;
        } else {
            j->state = atomic_load(&j->cancel) ? J_CANCELLED : J_FAILED;
            j->err = err;
            if (!j->err.code)
                j->err.code = rc;
            if (!j->err.msg[0])
                dbp_strlcpy(j->err.msg, dbp_strerror(rc), sizeof(j->err.msg));
        }
        struct detached d = detach_arg(j);
        struct dbp_job *gone = evict(js);
        pthread_mutex_unlock(&js->lock);
        detached_free(d);
        job_free_list(gone);
        pthread_mutex_lock(&js->lock);
    }
    pthread_mutex_unlock(&js->lock);
    return NULL;
}

struct dbp_jobs *dbp_jobs_new(int workers, int keep)
{
    struct dbp_jobs *js = dbp_xcalloc(1, sizeof(*js));
    pthread_mutex_init(&js->lock, NULL);
    pthread_cond_init(&js->cond, NULL);
    js->nworkers = workers > 0 ? workers : 1;
    js->keep = keep > 0 ? keep : 1;
    js->threads = dbp_xcalloc((size_t)js->nworkers, sizeof(*js->threads));
    return js;
}

int dbp_jobs_start(struct dbp_jobs *js)
{
    for (int i = 0; i < js->nworkers; i++) {
        if (pthread_create(&js->threads[i], NULL, worker, js) != 0) {
            dbp_jobs_stop(js);
            return DBP_ENOMEM;
        }
        pthread_setname_np(js->threads[i], "dbp-job");
        js->started++;
    }
    return 0;
}

void dbp_jobs_stop(struct dbp_jobs *js)
{
    if (!js)
        return;
    /* Arguments of never-run jobs, freed once the lock is dropped. */
    struct dbp_job *dropped = NULL;
    pthread_mutex_lock(&js->lock);
    js->stop = true;
    for (struct dbp_job *j = js->head; j; j = j->next) {
        atomic_store(&j->cancel, true);
        if (j->state == J_QUEUED) {
            j->state = J_CANCELLED;
            j->finished = dbp_wall_s();
            dbp_strlcpy(j->err.msg, "cancelled at shutdown", sizeof(j->err.msg));
            if (j->arg) {
                struct dbp_job *h = dbp_xcalloc(1, sizeof(*h));
                h->arg = j->arg;
                h->free_arg = j->free_arg;
                h->next = dropped;
                dropped = h;
                j->arg = NULL;
            }
        }
    }
    pthread_cond_broadcast(&js->cond);
    pthread_mutex_unlock(&js->lock);
    job_free_list(dropped);
    for (int i = 0; i < js->started; i++)
        pthread_join(js->threads[i], NULL);
    js->started = 0;
}

void dbp_jobs_free(struct dbp_jobs *js)
{
    if (!js)
        return;
    dbp_jobs_stop(js);
    while (js->head) {
        struct dbp_job *j = js->head;
        js->head = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&js->lock);
    pthread_cond_destroy(&js->cond);
    free(js->threads);
    free(js);
}

int dbp_jobs_submit(struct dbp_jobs *js, const char *kind, dbp_job_fn fn, void *arg,
                    void (*free_arg)(void *), char id_out[DBP_JOB_ID_LEN])
{
    struct dbp_job *j = dbp_xcalloc(1, sizeof(*j));
    j->owner = js;
    dbp_random_hex(j->id, DBP_JOB_ID_LEN - 1);
    dbp_strlcpy(j->kind, kind, sizeof(j->kind));
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    j->created = dbp_wall_s();
    dbp_strlcpy(j->message, "queued", sizeof(j->message));
    pthread_mutex_lock(&js->lock);
    int refuse = js->stop ? DBP_EUNAVAIL
                 : queued_count(js) >= DBP_JOBS_MAX_QUEUED ? DBP_EBUSY
                                                           : 0;
    if (refuse) {
        pthread_mutex_unlock(&js->lock);
        j->arg = NULL;
        free(j);
        if (free_arg && arg)
            free_arg(arg);
        return refuse;
    }
    j->next = js->head;
    js->head = j;
    memcpy(id_out, j->id, DBP_JOB_ID_LEN);
    pthread_cond_signal(&js->cond);
    pthread_mutex_unlock(&js->lock);
    return 0;
}

void dbp_job_progress(struct dbp_job *job, double percent, const char *fmt, ...)
{
    va_list ap;
    char msg[256];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&job->owner->lock);
    if (percent >= 0)
        job->progress = percent > 100 ? 100 : percent;
    dbp_strlcpy(job->message, msg, sizeof(job->message));
    pthread_mutex_unlock(&job->owner->lock);
}

bool dbp_job_cancelled(const struct dbp_job *job)
{
    return atomic_load(&((struct dbp_job *)job)->cancel);
}

void dbp_job_set_result(struct dbp_job *job, cJSON *result)
{
    pthread_mutex_lock(&job->owner->lock);
    cJSON_Delete(job->result);
    job->result = result;
    pthread_mutex_unlock(&job->owner->lock);
}

const char *dbp_job_id(const struct dbp_job *job)
{
    return job->id;
}

static cJSON *job_json(const struct dbp_job *j)
{
    char ts[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "kind", j->kind);
    cJSON_AddStringToObject(o, "status", jstate_name[j->state]);
    cJSON_AddNumberToObject(o, "progress", j->progress);
    cJSON_AddStringToObject(o, "message", j->message);
    dbp_iso8601(j->created, ts, sizeof(ts));
    cJSON_AddStringToObject(o, "created_at", ts);
    if (j->started > 0) {
        dbp_iso8601(j->started, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "started_at", ts);
    } else {
        cJSON_AddNullToObject(o, "started_at");
    }
    if (j->finished > 0) {
        dbp_iso8601(j->finished, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "finished_at", ts);
    } else {
        cJSON_AddNullToObject(o, "finished_at");
    }
    if (j->state == J_FAILED || j->state == J_CANCELLED) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "detail", j->err.msg);
        cJSON_AddStringToObject(e, "code", dbp_errname(j->err.code ? j->err.code : DBP_EINTERNAL));
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    if (j->result)
        cJSON_AddItemToObject(o, "result", cJSON_Duplicate(j->result, true));
    else
        cJSON_AddNullToObject(o, "result");
    return o;
}

cJSON *dbp_jobs_get_json(struct dbp_jobs *js, const char *id)
{
    cJSON *o = NULL;
    pthread_mutex_lock(&js->lock);
    for (struct dbp_job *j = js->head; j; j = j->next)
        if (strcmp(j->id, id) == 0) {
            o = job_json(j);
            break;
        }
    pthread_mutex_unlock(&js->lock);
    return o;
}

cJSON *dbp_jobs_list_json(struct dbp_jobs *js)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&js->lock);
    for (struct dbp_job *j = js->head; j; j = j->next)
        cJSON_AddItemToArray(a, job_json(j));
    pthread_mutex_unlock(&js->lock);
    return a;
}

int dbp_jobs_cancel(struct dbp_jobs *js, const char *id)
{
    int rc = DBP_ENOTFOUND;
    struct detached d = {0};
    pthread_mutex_lock(&js->lock);
    for (struct dbp_job *j = js->head; j; j = j->next)
        if (strcmp(j->id, id) == 0) {
            if (j->state >= J_SUCCEEDED) {
                rc = DBP_EBUSY;
            } else {
                atomic_store(&j->cancel, true);
                if (j->state == J_QUEUED) {
                    j->state = J_CANCELLED;
                    j->finished = dbp_wall_s();
                    dbp_strlcpy(j->err.msg, "cancelled before it started", sizeof(j->err.msg));
                    j->err.code = DBP_EBUSY;
                    d = detach_arg(j);
                }
                rc = 0;
            }
            break;
        }
    pthread_mutex_unlock(&js->lock);
    detached_free(d);
    return rc;
}

int dbp_jobs_active(struct dbp_jobs *js, const char *kind)
{
    int n = 0;
    pthread_mutex_lock(&js->lock);
    for (struct dbp_job *j = js->head; j; j = j->next)
        if (j->state <= J_RUNNING && (!kind || strcmp(kind, j->kind) == 0))
            n++;
    pthread_mutex_unlock(&js->lock);
    return n;
}
