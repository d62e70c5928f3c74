/* test_jobs.c - the background job queue. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/jobs.h"
#include "dbp/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int freed;

static void free_arg(void *p)
{
    atomic_fetch_add(&freed, 1);
    free(p);
}

static int ok_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    (void)err;
    int *n = arg;
    dbp_job_progress(job, 50, "half way through %d", *n);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "n", *n);
    dbp_job_set_result(job, r);
    return 0;
}

static int fail_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    (void)job;
    (void)arg;
    return dbp_err_set(err, DBP_EDB, "database said no");
}

/* Set by slow_job once it runs, so tests wait on a fact, not a sleep. */
static atomic_bool slow_started;

static int slow_job(struct dbp_job *job, void *arg, struct dbp_err *err)
{
    (void)arg;
    atomic_store(&slow_started, true);
    for (int i = 0; i < 500; i++) {
        if (dbp_job_cancelled(job))
            return dbp_err_set(err, DBP_EBUSY, "cancelled");
        usleep(10 * 1000);
    }
    return 0;
}

/* Poll with a generous deadline (sanitizers, loaded CI). */
static void wait_slow_started(void)
{
    for (int i = 0; i < 3000 && !atomic_load(&slow_started); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&slow_started));
}

static cJSON *wait_done(struct dbp_jobs *js, const char *id)
{
    for (int i = 0; i < 500; i++) {
        cJSON *o = dbp_jobs_get_json(js, id);
        const char *st = cJSON_GetObjectItem(o, "status")->valuestring;
        if (strcmp(st, "queued") && strcmp(st, "running"))
            return o;
        cJSON_Delete(o);
        usleep(10 * 1000);
    }
    fail_msg("job %s did not finish", id);
    return NULL;
}

static void run_succeed_fail(void **state)
{
    (void)state;
    struct dbp_jobs *js = dbp_jobs_new(2, 10);
    char id1[DBP_JOB_ID_LEN], id2[DBP_JOB_ID_LEN];
    int *n = malloc(sizeof(*n));
    *n = 7;
    atomic_store(&freed, 0);
    assert_int_equal(dbp_jobs_start(js), 0);
    assert_int_equal(dbp_jobs_submit(js, "test", ok_job, n, free_arg, id1), 0);
    assert_int_equal(dbp_jobs_submit(js, "test", fail_job, NULL, NULL, id2), 0);
    cJSON *o = wait_done(js, id1);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "succeeded");
    assert_int_equal(cJSON_GetObjectItem(o, "progress")->valuedouble, 100);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "result"), "n")->valueint, 7);
    cJSON_Delete(o);
    o = wait_done(js, id2);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "failed");
    cJSON *e = cJSON_GetObjectItem(o, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "detail")->valuestring, "database said no");
    assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "database_error");
    cJSON_Delete(o);
    assert_int_equal(atomic_load(&freed), 1);
    assert_null(dbp_jobs_get_json(js, "0000000000000000"));
    assert_int_equal(dbp_jobs_cancel(js, id1), DBP_EBUSY);
    assert_int_equal(dbp_jobs_cancel(js, "nope"), DBP_ENOTFOUND);
    dbp_jobs_free(js);
}

static void cancel_running_and_queued(void **state)
{
    (void)state;
    struct dbp_jobs *js = dbp_jobs_new(1, 10);
    char a[DBP_JOB_ID_LEN], b[DBP_JOB_ID_LEN];
    atomic_store(&freed, 0);
    atomic_store(&slow_started, false);
    assert_int_equal(dbp_jobs_start(js), 0);
    assert_int_equal(dbp_jobs_submit(js, "slow", slow_job, NULL, NULL, a), 0);
    int *n = malloc(sizeof(*n));
    *n = 1;
    assert_int_equal(dbp_jobs_submit(js, "slow", ok_job, n, free_arg, b), 0);
    assert_int_equal(dbp_jobs_active(js, "slow"), 2);
    wait_slow_started(); /* one worker: a runs, so b is certainly queued */
    assert_int_equal(dbp_jobs_cancel(js, b), 0); /* still queued */
    assert_int_equal(atomic_load(&freed), 1);
    assert_int_equal(dbp_jobs_cancel(js, a), 0); /* running */
    cJSON *o = wait_done(js, a);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "cancelled");
    cJSON_Delete(o);
    o = wait_done(js, b);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "cancelled");
    cJSON_Delete(o);
    dbp_jobs_free(js);
}

static void eviction_keeps_newest(void **state)
{
    (void)state;
    struct dbp_jobs *js = dbp_jobs_new(1, 3);
    char ids[6][DBP_JOB_ID_LEN];
    assert_int_equal(dbp_jobs_start(js), 0);
    for (int i = 0; i < 6; i++) {
        int *n = malloc(sizeof(*n));
        *n = i;
        assert_int_equal(dbp_jobs_submit(js, "t", ok_job, n, free, ids[i]), 0);
        cJSON_Delete(wait_done(js, ids[i]));
    }
    cJSON *all = dbp_jobs_list_json(js);
    assert_int_equal(cJSON_GetArraySize(all), 3);
    cJSON_Delete(all);
    assert_null(dbp_jobs_get_json(js, ids[0]));
    cJSON *o = dbp_jobs_get_json(js, ids[5]);
    assert_non_null(o);
    cJSON_Delete(o);
    dbp_jobs_free(js);
}

static void stop_cancels_queued(void **state)
{
    (void)state;
    struct dbp_jobs *js = dbp_jobs_new(1, 10);
    char a[DBP_JOB_ID_LEN], b[DBP_JOB_ID_LEN];
    atomic_store(&freed, 0);
    assert_int_equal(dbp_jobs_start(js), 0);
    assert_int_equal(dbp_jobs_submit(js, "slow", slow_job, NULL, NULL, a), 0);
    int *n = malloc(sizeof(*n));
    *n = 2;
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, n, free_arg, b), 0);
    dbp_jobs_stop(js); /* must return promptly: the slow job sees cancel */
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, NULL, NULL, b), DBP_EUNAVAIL);
    dbp_jobs_free(js);
    assert_int_equal(atomic_load(&freed), 1);
}

/*
 * A free_arg that calls back into the queue, as the module callbacks may
 * (they take their module lock, and a module may call dbp_jobs_* under it).
 * Before the fix free_arg ran under the jobs lock and this self-deadlocked;
 * the alarm turns a regression into a failure instead of a hang.
 */
static struct dbp_jobs *reentrant_js;
static char reentrant_id[DBP_JOB_ID_LEN];
static atomic_int reentrant_calls;

static void reentrant_free(void *p)
{
    (void)dbp_jobs_active(reentrant_js, NULL);
    cJSON_Delete(dbp_jobs_get_json(reentrant_js, reentrant_id));
    cJSON_Delete(dbp_jobs_list_json(reentrant_js));
    atomic_fetch_add(&reentrant_calls, 1);
    free(p);
}

static void free_arg_may_reenter(void **state)
{
    (void)state;
    alarm(60);
    struct dbp_jobs *js = dbp_jobs_new(1, 2);
    reentrant_js = js;
    atomic_store(&reentrant_calls, 0);
    atomic_store(&slow_started, false);
    assert_int_equal(dbp_jobs_start(js), 0);
    /* worker path: the job ran */
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, calloc(1, sizeof(int)), reentrant_free,
                                     reentrant_id), 0);
    cJSON_Delete(wait_done(js, reentrant_id));
    for (int i = 0; i < 3000 && atomic_load(&reentrant_calls) < 1; i++)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(&reentrant_calls), 1);
    /* cancel path: cancelled while queued behind a running job */
    char a[DBP_JOB_ID_LEN], b[DBP_JOB_ID_LEN], c[DBP_JOB_ID_LEN];
    assert_int_equal(dbp_jobs_submit(js, "slow", slow_job, NULL, NULL, a), 0);
    wait_slow_started();
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, calloc(1, sizeof(int)), reentrant_free, b),
                     0);
    assert_int_equal(dbp_jobs_cancel(js, b), 0);
    assert_int_equal(atomic_load(&reentrant_calls), 2);
    /* stop path: still queued at shutdown */
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, calloc(1, sizeof(int)), reentrant_free, c),
                     0);
    dbp_jobs_stop(js);
    assert_int_equal(atomic_load(&reentrant_calls), 3);
    dbp_jobs_free(js);
    alarm(0);
}

/* The queue is bounded: past DBP_JOBS_MAX_QUEUED waiting jobs, EBUSY. */
static void queue_cap_refuses(void **state)
{
    (void)state;
    alarm(60);
    struct dbp_jobs *js = dbp_jobs_new(1, 4);
    char id[DBP_JOB_ID_LEN], running[DBP_JOB_ID_LEN];
    atomic_store(&freed, 0);
    atomic_store(&slow_started, false);
    assert_int_equal(dbp_jobs_start(js), 0);
    assert_int_equal(dbp_jobs_submit(js, "slow", slow_job, NULL, NULL, running), 0);
    wait_slow_started(); /* the running job does not count against the cap */
    for (int i = 0; i < DBP_JOBS_MAX_QUEUED; i++)
        assert_int_equal(dbp_jobs_submit(js, "t", ok_job, calloc(1, sizeof(int)), free, id), 0);
    int *n = calloc(1, sizeof(*n));
    assert_int_equal(dbp_jobs_submit(js, "t", ok_job, n, free_arg, id), DBP_EBUSY);
    assert_int_equal(atomic_load(&freed), 1); /* the refused argument is released */
    assert_int_equal(dbp_jobs_active(js, NULL), DBP_JOBS_MAX_QUEUED + 1);
    dbp_jobs_free(js);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_succeed_fail),
        cmocka_unit_test(cancel_running_and_queued),
        cmocka_unit_test(eviction_keeps_newest),
        cmocka_unit_test(stop_cancels_queued),
        cmocka_unit_test(free_arg_may_reenter),
        cmocka_unit_test(queue_cap_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
