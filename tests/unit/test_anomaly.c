/*
 * test_anomaly.c - the fault registry without real faults: the type and
 * severity tables, request validation, journal-before-apply, expiry, stop,
 * all-or-nothing compound injections, revert retries, and the replay of a
 * journal left by a crashed process.
 *
 * The executors are replaced through dbp_anomalies_set_executor() by
 * fake_exec, a TEST DOUBLE that records its calls and changes nothing.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/anomaly.h"
#include "dbp/config.h"
#include "dbp/util.h"

#include <dirent.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fake_exec: the test double ---------------------------------------------- */

struct fake {
    pthread_mutex_t lock;
    int applies, reverts, intents;
    int fail_apply_type;   /* type index whose apply fails, -1 none */
    int fail_reverts;      /* this many reverts fail first */
    int journal_seen;      /* apply found its part "applying" on disk */
    char dir[600];         /* the journal directory */
    cJSON *last_revert;    /* copy of the last state given to revert */
    /* blocking, controlled by the test through `cond` */
    int block_type;        /* type index whose apply blocks until release, -1 none */
    int blocked;           /* applies blocked right now */
    int release;           /* set by the test: blocked applies return (applied) */
    int cancel_seen;       /* a blocked apply saw spec->stop set */
    int block_evidence;    /* evidence() blocks until ev_release */
    int ev_blocked, ev_release;
    char revert_order[256]; /* "type@node;" per revert, in order */
};

static struct fake fk = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_cond_t fk_cond = PTHREAD_COND_INITIALIZER;

/* Wait on fk_cond (fk.lock held) for at most 10 ms. */
static void fk_wait(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&fk_cond, &fk.lock, &ts);
}

static void fk_set(int *field, int v)
{
    pthread_mutex_lock(&fk.lock);
    *field = v;
    pthread_cond_broadcast(&fk_cond);
    pthread_mutex_unlock(&fk.lock);
}

static bool fake_supports(void *ctx, const char *type, const struct dbp_node_cfg *n, char *why,
                          size_t wsz)
{
    (void)ctx;
    /* node "n3" cannot run host faults: exercises the "no executor" path */
    if (!strcmp(n->name, "n3") && !strcmp(type, "cpu_stress")) {
        snprintf(why, wsz, "fake: n3 has no cgroup");
        return false;
    }
    return true;
}

/* The registry must have written "applying" for this part before apply. */
static bool journal_says_applying(const char *id, const char *type)
{
    char path[700], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s.json", fk.dir, id);
    if (dbp_read_file(path, 1 << 20, &text, &len))
        return false;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    bool ok = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(o, "parts"))
    if (!strcmp(cJSON_GetObjectItem(p, "type")->valuestring, type) &&
        !strcmp(cJSON_GetObjectItem(p, "status")->valuestring, "applying"))
        ok = true;
    cJSON_Delete(o);
    return ok;
}

static int fake_apply(void *ctx, const struct dbp_fault_spec *sp, cJSON **state,
                      struct dbp_err *err)
{
    (void)ctx;
    bool seen = journal_says_applying(sp->id, sp->type);
    pthread_mutex_lock(&fk.lock);
    fk.applies++;
    fk.journal_seen = seen;
    bool fail = dbp_anomaly_type_index(sp->type) == fk.fail_apply_type;
    if (dbp_anomaly_type_index(sp->type) == fk.block_type) {
        /* a slow apply (too_many_indexes at 128 DDLs): held until the test
         * releases it; it notes whether the registry asked it to stop */
        fk.blocked++;
        pthread_cond_broadcast(&fk_cond);
        while (!fk.release) {
            if (sp->stop && atomic_load(sp->stop) && !fk.cancel_seen) {
                fk.cancel_seen = 1;
                pthread_cond_broadcast(&fk_cond);
            }
            fk_wait();
        }
        fk.blocked--;
    }
    pthread_mutex_unlock(&fk.lock);
    if (fail)
        return dbp_err_set(err, DBP_EDB, "fake: %s refused", sp->type);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", sp->type);
    cJSON_AddStringToObject(s, "node", sp->node->name);
    cJSON_AddStringToObject(s, "marker", "made-by-fake");
    cJSON_AddNumberToObject(s, "duration", sp->duration_s);
    cJSON_AddItemToObject(s, "params", cJSON_Duplicate(sp->params, 1));
    *state = s;
    return 0;
}

static int fake_revert(void *ctx, const cJSON *state, struct dbp_err *err)
{
    (void)ctx;
    pthread_mutex_lock(&fk.lock);
    fk.reverts++;
    const cJSON *rt = cJSON_GetObjectItem(state, "type"), *rn = cJSON_GetObjectItem(state, "node");
    size_t ol = strlen(fk.revert_order);
    snprintf(fk.revert_order + ol, sizeof(fk.revert_order) - ol, "%s@%s;",
             cJSON_IsString(rt) ? rt->valuestring : "?", cJSON_IsString(rn) ? rn->valuestring : "?");
    if (cJSON_IsTrue(cJSON_GetObjectItem(state, "intent")))
        fk.intents++;
    cJSON_Delete(fk.last_revert);
    fk.last_revert = cJSON_Duplicate(state, 1);
    bool fail = fk.fail_reverts > 0;
    if (fail)
        fk.fail_reverts--;
    pthread_mutex_unlock(&fk.lock);
    return fail ? dbp_err_set(err, DBP_EDB, "fake: revert refused") : 0;
}

static cJSON *fake_evidence(void *ctx, const cJSON *state)
{
    (void)ctx;
    (void)state;
    pthread_mutex_lock(&fk.lock);
    if (fk.block_evidence) { /* e.g. `ip netns exec ... tc` hanging */
        fk.ev_blocked++;
        pthread_cond_broadcast(&fk_cond);
        while (!fk.ev_release)
            fk_wait();
        fk.ev_blocked--;
    }
    pthread_mutex_unlock(&fk.lock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", true);
    return o;
}

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.applies = fk.reverts = fk.intents = 0;
    fk.fail_apply_type = -1;
    fk.fail_reverts = 0;
    fk.journal_seen = 0;
    fk.block_type = -1;
    fk.blocked = fk.release = fk.cancel_seen = 0;
    fk.block_evidence = fk.ev_blocked = fk.ev_release = 0;
    fk.revert_order[0] = '\0';
    cJSON_Delete(fk.last_revert);
    fk.last_revert = NULL;
    pthread_mutex_unlock(&fk.lock);
}

static int fake_count(int *field)
{
    pthread_mutex_lock(&fk.lock);
    int v = *field;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

/* ---- fixtures ------------------------------------------------------------------ */

struct fx {
    char tmp[64];
    struct dbp_config *cfg;
    struct dbp_anomalies *a;
};

static struct dbp_anomalies *make_registry(struct fx *f, bool start)
{
    struct dbp_err err = {0};
    struct dbp_anomalies *a = NULL;
    assert_int_equal(dbp_anomalies_new(f->cfg, NULL, &a, &err), 0);
    static const char *const names[] = {"local", "sql"};
    for (int i = 0; i < 2; i++) {
        struct dbp_executor ex = {.name = names[i], .supports = fake_supports,
                                  .apply = fake_apply, .revert = fake_revert,
                                  .evidence = fake_evidence};
        assert_int_equal(dbp_anomalies_set_executor(a, &ex), 0);
    }
    if (start)
        assert_int_equal(dbp_anomalies_start(a, &err), 0);
    return a;
}

static int setup(void **state)
{
    struct fx *f = dbp_xcalloc(1, sizeof(*f));
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/dbp-anom-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    f->cfg = dbp_xcalloc(1, sizeof(*f->cfg));
    dbp_config_defaults(f->cfg);
    snprintf(f->cfg->data_dir, sizeof(f->cfg->data_dir), "%s", f->tmp);
    f->cfg->nnodes = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(f->cfg->nodes[i].name, sizeof(f->cfg->nodes[i].name), "n%d", i + 1);
        snprintf(f->cfg->nodes[i].host, sizeof(f->cfg->nodes[i].host), "192.0.2.%d", i + 1);
        f->cfg->nodes[i].port = 3306;
    }
    f->cfg->max_duration_s = 600;
    snprintf(fk.dir, sizeof(fk.dir), "%s/anomaly", f->tmp);
    fake_reset();
    f->a = make_registry(f, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dbp_anomalies_free(f->a);
    const char *argv[] = {"rm", "-rf", f->tmp, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    free(f->cfg);
    free(f);
    fake_reset();
    return 0;
}

static void req1(struct dbp_anomaly_req *r, const char *type, const char *node, int duration)
{
    memset(r, 0, sizeof(*r));
    r->nparts = 1;
    snprintf(r->parts[0].type, sizeof(r->parts[0].type), "%s", type);
    snprintf(r->parts[0].node, sizeof(r->parts[0].node), "%s", node);
    r->duration_s = duration;
}

static const char *status_of(const cJSON *rec)
{
    return cJSON_GetObjectItem(rec, "status")->valuestring;
}

static char *wait_status(struct dbp_anomalies *a, const char *id, const char *want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        cJSON *o = dbp_anomalies_get_json(a, id);
        bool done = o && !strcmp(status_of(o), want);
        cJSON_Delete(o);
        if (done)
            return NULL;
        usleep(20 * 1000);
    }
    cJSON *o = dbp_anomalies_get_json(a, id);
    char *s = o ? cJSON_PrintUnformatted(o) : dbp_xstrdup("(gone)");
    cJSON_Delete(o);
    return s;
}

static int journal_files(const char *tmp)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/anomaly", tmp);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strlen(e->d_name) > 5 && !strcmp(e->d_name + strlen(e->d_name) - 5, ".json");
    if (d)
        closedir(d);
    return n;
}

/* ---- the tables ------------------------------------------------------------------ */

static void test_type_table(void **state)
{
    (void)state;
    static const char *const want[] = {"cpu_stress",       "io_bottleneck",  "network_bottleneck",
                                       "cache_bottleneck", "too_many_indexes", "workload_surge",
                                       "lock_contention",  "connection_storm"};
    assert_int_equal(dbp_anomaly_ntypes(), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(dbp_anomaly_type_index(want[i]), (int)i);
        for (int s = 0; s < 3; s++) {
            static const char *const sev[] = {"low", "medium", "high"};
            for (int e = 0; e < 3; e++) {
                static const char *const ex[] = {"local", "sql", "chaosmesh"};
                cJSON *p = dbp_anomaly_params(want[i], sev[s], ex[e], 2);
                assert_non_null(p);
                assert_true(cJSON_IsObject(p));
                cJSON_Delete(p);
            }
        }
    }
    assert_int_equal(dbp_anomaly_type_index("memory_leak"), -1);
    assert_null(dbp_anomaly_params("memory_leak", "low", "local", 2));
    assert_null(dbp_anomaly_params("cpu_stress", "extreme", "local", 2));
    assert_int_equal(dbp_anomaly_severity_index("high"), 2);
    assert_int_equal(dbp_anomaly_severity_index("HIGH"), -1);
}

static int param_int(const char *type, const char *sev, const char *ex, int ncpu, const char *k)
{
    cJSON *p = dbp_anomaly_params(type, sev, ex, ncpu);
    const cJSON *v = cJSON_GetObjectItem(p, k);
    int r = cJSON_IsNumber(v) ? v->valueint : -1;
    if (cJSON_IsString(v))
        r = (int)strtol(v->valuestring, NULL, 10);
    cJSON_Delete(p);
    return r;
}

static void test_severity_tables(void **state)
{
    (void)state;
    /* The original's table (reference §3.2), handed to the Chaos Mesh executor. */
    assert_int_equal(param_int("network_bottleneck", "low", "chaosmesh", 2, "loss"), 50);
    assert_int_equal(param_int("network_bottleneck", "medium", "chaosmesh", 2, "loss"), 80);
    assert_int_equal(param_int("network_bottleneck", "high", "chaosmesh", 2, "loss"), 100);
    assert_int_equal(param_int("cpu_stress", "low", "chaosmesh", 2, "workers"), 32);
    assert_int_equal(param_int("cpu_stress", "high", "chaosmesh", 2, "workers"), 64);
    assert_int_equal(param_int("cache_bottleneck", "low", "sql", 2, "memstore_limit_percentage"), 8);
    assert_int_equal(param_int("cache_bottleneck", "medium", "sql", 2, "memstore_limit_percentage"),
                     6);
    assert_int_equal(param_int("cache_bottleneck", "high", "sql", 2, "memstore_limit_percentage"), 4);
    /* Lab rows: cpu workers scale with the CPUs; every table grows with severity. */
    assert_int_equal(param_int("cpu_stress", "low", "local", 2, "workers"), 1);
    assert_int_equal(param_int("cpu_stress", "medium", "local", 2, "workers"), 2);
    assert_int_equal(param_int("cpu_stress", "high", "local", 2, "workers"), 4);
    assert_int_equal(param_int("cpu_stress", "high", "local", 32, "workers"), 64);
    static const struct {
        const char *type, *key;
    } grow[] = {{"network_bottleneck", "loss_pct"}, {"io_bottleneck", "workers"},
                {"workload_surge", "threads"},      {"lock_contention", "holders"},
                {"connection_storm", "connections"}};
    for (size_t i = 0; i < DBP_ARRAY_SIZE(grow); i++) {
        int lo = param_int(grow[i].type, "low", "local", 2, grow[i].key);
        int me = param_int(grow[i].type, "medium", "local", 2, grow[i].key);
        int hi = param_int(grow[i].type, "high", "local", 2, grow[i].key);
        assert_true(lo > 0 && lo < me && me < hi);
    }
}

/* ---- validation --------------------------------------------------------------------- */

static void test_bad_requests_inject_nothing(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;

    req1(&r, "memory_leak", "n1", 10);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "memory_leak"));
    req1(&r, "cpu_stress", "n1; rm -rf /", 10);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ENOTFOUND);
    req1(&r, "cpu_stress", "../x", 10);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ENOTFOUND);
    req1(&r, "cpu_stress", "N1", 10); /* names match exactly */
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ENOTFOUND);
    req1(&r, "cpu_stress", "n1", -5);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    req1(&r, "cpu_stress", "n1", 601);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    req1(&r, "cpu_stress", "n1", 10);
    snprintf(r.severity, sizeof(r.severity), "extreme");
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    req1(&r, "cpu_stress", "n3", 10); /* no executor can run it there */
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    assert_non_null(strstr(err.msg, "no cgroup"));
    req1(&r, "cpu_stress", "n1", 10); /* the same part twice */
    r.nparts = 2;
    r.parts[1] = r.parts[0];
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);
    r.nparts = 0;
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec, &err), DBP_ESCHEMA);

    assert_null(rec);
    assert_int_equal(fake_count(&fk.applies), 0);
    cJSON *l = dbp_anomalies_list_json(f->a, false);
    assert_int_equal(cJSON_GetArraySize(l), 0);
    cJSON_Delete(l);
    assert_int_equal(journal_files(f->tmp), 0);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void test_journal_before_apply_then_stop(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "cache_bottleneck", "n2", 120);
    snprintf(r.severity, sizeof(r.severity), "high");
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    assert_string_equal(status_of(rec), "active");
    assert_true(fake_count(&fk.journal_seen));
    char id[32];
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(rec, "id")->valuestring);
    /* the severity row reached the executor */
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "parts"), 0);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "params"),
                                         "memstore_limit_percentage")->valueint, 4);
    assert_string_equal(cJSON_GetObjectItem(p0, "executor")->valuestring, "sql");
    cJSON_Delete(rec);
    assert_int_equal(journal_files(f->tmp), 1);

    /* evidence: the executor's "ok" makes took_effect true (measured by
     * the registry's evidence lane, so poll for it) */
    bool took = false;
    for (int i = 0; i < 1000 && !took; i++) {
        rec = dbp_anomalies_get_json(f->a, id);
        took = cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "effective"),
                                                "took_effect"));
        cJSON_Delete(rec);
        if (!took)
            usleep(20 * 1000);
    }
    assert_true(took);

    /* the same type on the same node is refused while active */
    cJSON *rec2 = NULL;
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 1000, &rec2, &err), DBP_EBUSY);
    assert_null(rec2);

    struct dbp_buf b;
    dbp_buf_init(&b, 1 << 20);
    assert_int_equal(dbp_anomalies_render_prom(f->a, &b), 0);
    char line[128];
    snprintf(line, sizeof(line), "dbpecker_anomaly_active{type=\"cache_bottleneck\",node=\"n2\",id=\"%s\"} 1", id);
    assert_non_null(strstr(b.data, line));
    dbp_buf_release(&b);

    bool stopped = false;
    assert_int_equal(dbp_anomalies_stop_one(f->a, id, 5000, &stopped, &rec, &err), 0);
    assert_true(stopped);
    assert_string_equal(status_of(rec), "reverted");
    cJSON_Delete(rec);
    pthread_mutex_lock(&fk.lock);
    assert_string_equal(cJSON_GetObjectItem(fk.last_revert, "marker")->valuestring, "made-by-fake");
    assert_int_equal(fk.reverts, 1);
    pthread_mutex_unlock(&fk.lock);
    /* a second stop is a no-op */
    assert_int_equal(dbp_anomalies_stop_one(f->a, id, 1000, &stopped, NULL, &err), 0);
    assert_false(stopped);
    assert_int_equal(fake_count(&fk.reverts), 1);
    assert_int_equal(dbp_anomalies_stop_one(f->a, "0123456789abcdef", 100, &stopped, NULL, &err),
                     DBP_ENOTFOUND);
}

static void test_expiry(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "lock_contention", "n1", 1);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    char id[32];
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(rec, "id")->valuestring);
    cJSON_Delete(rec);
    char *bad = wait_status(f->a, id, "reverted", 5000);
    if (bad)
        fail_msg("not expired: %s", bad);
    assert_int_equal(fake_count(&fk.reverts), 1);
    /* ended injections stay visible, for GET and for training labels */
    cJSON *snap = NULL;
    assert_int_equal(dbp_anomalies_snapshot(f->a, &snap), 0);
    assert_int_equal(cJSON_GetArraySize(snap), 1);
    cJSON *s0 = cJSON_GetArrayItem(snap, 0);
    assert_string_equal(cJSON_GetObjectItem(s0, "status")->valuestring, "reverted");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(s0, "nodes"), 0)->valuestring, "n1");
    assert_true(cJSON_GetObjectItem(s0, "end")->valuedouble >
                cJSON_GetObjectItem(s0, "start")->valuedouble);
    cJSON_Delete(snap);
}

static void test_compound_all_or_nothing(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    memset(&r, 0, sizeof(r));
    r.nparts = 3;
    snprintf(r.parts[0].type, sizeof(r.parts[0].type), "cpu_stress");
    snprintf(r.parts[0].node, sizeof(r.parts[0].node), "n1");
    snprintf(r.parts[1].type, sizeof(r.parts[1].type), "cpu_stress");
    snprintf(r.parts[1].node, sizeof(r.parts[1].node), "n2");
    snprintf(r.parts[2].type, sizeof(r.parts[2].type), "network_bottleneck");
    snprintf(r.parts[2].node, sizeof(r.parts[2].node), "n2");
    r.duration_s = 60;
    pthread_mutex_lock(&fk.lock);
    fk.fail_apply_type = dbp_anomaly_type_index("network_bottleneck");
    pthread_mutex_unlock(&fk.lock);
    int rc = dbp_anomalies_inject(f->a, &r, 5000, &rec, &err);
    assert_int_equal(rc, DBP_EDB);
    assert_non_null(strstr(err.msg, "refused"));
    assert_string_equal(status_of(rec), "failed");
    assert_string_equal(cJSON_GetObjectItem(rec, "type")->valuestring, "compound");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rec, "compound")));
    /* both cpu parts were applied, then reverted */
    assert_int_equal(fake_count(&fk.applies), 3);
    assert_int_equal(fake_count(&fk.reverts), 2);
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(rec, "parts"))
    {
        const char *st = cJSON_GetObjectItem(p, "status")->valuestring;
        assert_true(!strcmp(st, "reverted") || !strcmp(st, "failed"));
    }
    cJSON_Delete(rec);

    /* a compound that works, stopped as a whole */
    pthread_mutex_lock(&fk.lock);
    fk.fail_apply_type = -1;
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    assert_string_equal(status_of(rec), "active");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(rec, "nodes")), 2);
    cJSON_Delete(rec);
    cJSON *ids = NULL;
    assert_int_equal(dbp_anomalies_stop_all(f->a, "network_bottleneck", 5000, &ids, NULL), 0);
    assert_int_equal(cJSON_GetArraySize(ids), 1);
    cJSON_Delete(ids);
    assert_int_equal(fake_count(&fk.reverts), 5);
}

static void test_no_target_picks_a_node(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "cpu_stress", "", 60);
    char seen[3][8] = {"", "", ""};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
        snprintf(seen[i], sizeof(seen[i]), "%s", cJSON_GetObjectItem(rec, "node")->valuestring);
        cJSON_Delete(rec);
    }
    /* two different nodes, never n3 (unsupported there) */
    assert_string_not_equal(seen[0], seen[1]);
    assert_string_not_equal(seen[0], "n3");
    assert_string_not_equal(seen[1], "n3");
    /* every node that can run it is busy now */
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), DBP_EBUSY);
}

static void test_stop_reverts_everything(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "connection_storm", "n1", 300);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    cJSON_Delete(rec);
    req1(&r, "workload_surge", "n2", 300);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    cJSON_Delete(rec);
    dbp_anomalies_stop(f->a); /* SIGTERM path */
    assert_int_equal(fake_count(&fk.reverts), 2);
    cJSON *l = dbp_anomalies_list_json(f->a, false);
    const cJSON *it;
    cJSON_ArrayForEach(it, l) assert_string_equal(status_of(it), "reverted");
    cJSON_Delete(l);
    /* and refuses new work */
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 100, &rec, &err), DBP_EUNAVAIL);
}

static void test_revert_retried(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "too_many_indexes", "n3", 300);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    char id[32];
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(rec, "id")->valuestring);
    cJSON_Delete(rec);
    pthread_mutex_lock(&fk.lock);
    fk.fail_reverts = 1;
    pthread_mutex_unlock(&fk.lock);
    bool stopped;
    assert_int_equal(dbp_anomalies_stop_one(f->a, id, 500, &stopped, &rec, &err), 0);
    assert_string_equal(status_of(rec), "reverting");
    cJSON_Delete(rec);
    char *bad = wait_status(f->a, id, "reverted", 10000);
    if (bad)
        fail_msg("revert not retried: %s", bad);
    assert_int_equal(fake_count(&fk.reverts), 2);
}

/* ---- crash recovery --------------------------------------------------------------------- */

static void write_journal(const char *tmp, const char *id, const char *part_status, bool state)
{
    char dir[128], path[200], text[2048];
    snprintf(dir, sizeof(dir), "%s/anomaly", tmp);
    assert_int_equal(dbp_mkdir_p(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s.json", dir, id);
    int n = snprintf(text, sizeof(text),
                     "{\"id\":\"%s\",\"name\":\"crash-%s\",\"severity\":\"low\",\"duration\":60,"
                     "\"status\":\"active\",\"created_ts\":%.3f,\"start_ts\":%.3f,"
                     "\"planned_end_ts\":%.3f,\"parts\":[{\"type\":\"cpu_stress\",\"node\":\"n1\","
                     "\"severity\":\"low\",\"executor\":\"local\",\"status\":\"%s\","
                     "\"params\":{\"workers\":1},\"state\":%s}]}",
                     id, id, dbp_wall_s() - 10, dbp_wall_s() - 9, dbp_wall_s() + 50, part_status,
                     state ? "{\"marker\":\"left-by-crash\"}" : "null");
    assert_int_equal(dbp_write_file_atomic(path, text, (size_t)n, 0600), 0);
}

static void test_replay_after_crash(void **state)
{
    struct fx *f = *state;
    dbp_anomalies_free(f->a); /* a clean registry on the same data_dir */
    fake_reset();
    write_journal(f->tmp, "00000000000000a1", "applied", true);
    write_journal(f->tmp, "00000000000000a2", "applying", false);
    /* an interrupted atomic write is removed */
    char junk[200];
    snprintf(junk, sizeof(junk), "%s/anomaly/00000000000000a3.json.tmp-1234abcd", f->tmp);
    assert_int_equal(dbp_write_file_atomic(junk, "{", 1, 0600), 0);

    f->a = make_registry(f, true);
    for (int i = 0; i < 2; i++) {
        const char *id = i ? "00000000000000a2" : "00000000000000a1";
        char *bad = wait_status(f->a, id, "reverted", 5000);
        if (bad)
            fail_msg("leftover %s not reverted: %s", id, bad);
        cJSON *rec = dbp_anomalies_get_json(f->a, id);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rec, "recovered")));
        cJSON_Delete(rec);
    }
    assert_int_equal(fake_count(&fk.reverts), 2);
    assert_int_equal(fake_count(&fk.intents), 1); /* the "applying" part */
    assert_int_equal(journal_files(f->tmp), 2);
    assert_int_equal(access(junk, F_OK), -1);

    /* what the journal says now survives another restart, with nothing to redo */
    dbp_anomalies_free(f->a);
    fake_reset();
    f->a = make_registry(f, true);
    /* stop() joins every lane after the start-up replay and the shutdown
     * reverts: had anything been left to redo, it would have been tried */
    dbp_anomalies_stop(f->a);
    assert_int_equal(fake_count(&fk.reverts), 0);
    cJSON *rec = dbp_anomalies_get_json(f->a, "crash-00000000000000a1");
    assert_non_null(rec);
    assert_string_equal(status_of(rec), "reverted");
    cJSON_Delete(rec);
}

static void test_journal_survives_crash_mid_injection(void **state)
{
    struct fx *f = *state;
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "workload_surge", "n1", 300);
    assert_int_equal(dbp_anomalies_inject(f->a, &r, 5000, &rec, &err), 0);
    char id[32], path[200];
    snprintf(id, sizeof(id), "%s", cJSON_GetObjectItem(rec, "id")->valuestring);
    cJSON_Delete(rec);
    /* Keep the journal as a crash would have left it (active, with state)... */
    snprintf(path, sizeof(path), "%s/anomaly/%s.json", f->tmp, id);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dbp_read_file(path, 1 << 20, &text, &len), 0);
    dbp_anomalies_free(f->a); /* the clean stop reverts it */
    /* ...and put it back, as if that stop had never happened. */
    assert_int_equal(dbp_write_file_atomic(path, text, len, 0600), 0);
    free(text);
    fake_reset();
    f->a = make_registry(f, true);
    char *bad = wait_status(f->a, id, "reverted", 5000);
    if (bad)
        fail_msg("not reverted after restart: %s", bad);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.intents, 0);
    assert_string_equal(cJSON_GetObjectItem(fk.last_revert, "marker")->valuestring, "made-by-fake");
    pthread_mutex_unlock(&fk.lock);
}

/* ---- lanes: no slow apply delays another fault (M2) -------------------------- */

/* Poll *field (under fk.lock) until it reaches want or ~20 s pass. */
static bool fk_until(int *field, int want)
{
    bool ok = false;
    pthread_mutex_lock(&fk.lock);
    for (int i = 0; i < 2000 && !(ok = *field >= want); i++)
        fk_wait();
    pthread_mutex_unlock(&fk.lock);
    return ok;
}

static char *inject_id(struct dbp_anomalies *a, const char *type, const char *node, int dur,
                       int wait_ms)
{
    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, type, node, dur);
    assert_int_equal(dbp_anomalies_inject(a, &r, wait_ms, &rec, &err), 0);
    char *id = dbp_xstrdup(cJSON_GetObjectItem(rec, "id")->valuestring);
    cJSON_Delete(rec);
    return id;
}

static void test_slow_apply_does_not_delay_others(void **state)
{
    struct fx *f = *state;
    fk_set(&fk.block_type, dbp_anomaly_type_index("too_many_indexes"));
    char *slow = inject_id(f->a, "too_many_indexes", "n1", 600, 0);
    assert_true(fk_until(&fk.blocked, 1)); /* the slow apply is in the executor */

    /* Another fault on another node is applied, expires and is reverted
     * while the slow apply is still blocked. */
    char *quick = inject_id(f->a, "cpu_stress", "n2", 1, 10000);
    char *bad = wait_status(f->a, quick, "reverted", 20000);
    if (bad)
        fail_msg("cpu_stress not expired while a slow apply runs: %s", bad);
    /* And one stopped by a user is reverted at once. */
    char *stopme = inject_id(f->a, "workload_surge", "n2", 600, 10000);
    bool stopped = false;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    assert_int_equal(dbp_anomalies_stop_one(f->a, stopme, 10000, &stopped, &rec, &err), 0);
    assert_true(stopped);
    assert_string_equal(status_of(rec), "reverted");
    cJSON_Delete(rec);

    /* the slow one is still being applied: both reverts happened meanwhile */
    assert_int_equal(fake_count(&fk.blocked), 1);
    rec = dbp_anomalies_get_json(f->a, slow);
    assert_string_equal(status_of(rec), "pending");
    cJSON_Delete(rec);
    assert_int_equal(fake_count(&fk.reverts), 2);

    fk_set(&fk.release, 1);
    bad = wait_status(f->a, slow, "active", 20000);
    if (bad)
        fail_msg("slow apply not active once released: %s", bad);
    free(slow);
    free(quick);
    free(stopme);
}

static void *stop_thread(void *arg)
{
    dbp_anomalies_stop(arg);
    return NULL;
}

static void test_stop_during_blocked_apply(void **state)
{
    struct fx *f = *state;
    char *other = inject_id(f->a, "cpu_stress", "n2", 600, 10000);
    fk_set(&fk.block_type, dbp_anomaly_type_index("too_many_indexes"));
    char *slow = inject_id(f->a, "too_many_indexes", "n1", 600, 0);
    assert_true(fk_until(&fk.blocked, 1));

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_thread, f->a), 0);
    /* the blocked apply is told to stop, and the other fault is reverted
     * in parallel, not behind it */
    assert_true(fk_until(&fk.cancel_seen, 1));
    assert_true(fk_until(&fk.reverts, 1));
    assert_int_equal(fake_count(&fk.blocked), 1);
    pthread_mutex_lock(&fk.lock);
    assert_string_equal(fk.revert_order, "cpu_stress@n2;");
    pthread_mutex_unlock(&fk.lock);

    /* released: what it applied is reverted before stop() returns */
    fk_set(&fk.release, 1);
    pthread_join(t, NULL);
    assert_int_equal(fake_count(&fk.reverts), 2);
    pthread_mutex_lock(&fk.lock);
    assert_string_equal(fk.revert_order, "cpu_stress@n2;too_many_indexes@n1;");
    pthread_mutex_unlock(&fk.lock);
    cJSON *rec = dbp_anomalies_get_json(f->a, slow);
    assert_string_equal(status_of(rec), "reverted");
    cJSON_Delete(rec);
    rec = dbp_anomalies_get_json(f->a, other);
    assert_string_equal(status_of(rec), "reverted");
    cJSON_Delete(rec);
    free(slow);
    free(other);
}

/* ---- evidence is measured off the request path (M3) ---------------------------- */

struct reader {
    struct dbp_anomalies *a;
    atomic_int done;
    int n;
};

static void *reader_thread(void *arg)
{
    struct reader *r = arg;
    cJSON *l = dbp_anomalies_list_json(r->a, true); /* GET /api/anomaly/active */
    r->n = cJSON_GetArraySize(l);
    cJSON_Delete(l);
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_reads_do_not_run_evidence(void **state)
{
    struct fx *f = *state;
    fk_set(&fk.block_evidence, 1);
    char *id = inject_id(f->a, "cpu_stress", "n1", 600, 10000);
    assert_true(fk_until(&fk.ev_blocked, 1)); /* the evidence lane is stuck in evidence() */

    struct reader r = {.a = f->a};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
    bool answered = false;
    for (int i = 0; i < 1000 && !(answered = atomic_load(&r.done)); i++)
        usleep(20 * 1000);
    /* the reader still answered with evidence() blocked, and a get too */
    bool still_blocked = fake_count(&fk.ev_blocked) == 1;
    cJSON *rec = answered ? dbp_anomalies_get_json(f->a, id) : NULL;
    fk_set(&fk.ev_release, 1); /* unblock whatever happens, so the test ends */
    pthread_join(t, NULL);
    assert_true(answered);
    assert_true(still_blocked);
    assert_int_equal(r.n, 1);
    assert_non_null(rec);
    assert_string_equal(status_of(rec), "active");
    cJSON_Delete(rec);
    free(id);
}

/* ---- a journal that cannot be written refuses the apply ----------------------- */

static void test_journal_write_failure_refuses_apply(void **state)
{
    struct fx *f = *state;
    /* Replace the journal directory by a regular file: every write into it
     * fails (ENOTDIR), even for root, for whom a read-only mode would not. */
    char dir[128], moved[140];
    snprintf(dir, sizeof(dir), "%s/anomaly", f->tmp);
    snprintf(moved, sizeof(moved), "%s/anomaly.moved", f->tmp);
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(dbp_write_file_atomic(dir, "x", 1, 0600), 0);

    struct dbp_anomaly_req r;
    struct dbp_err err = {0};
    cJSON *rec = NULL;
    req1(&r, "cpu_stress", "n1", 60);
    int rc = dbp_anomalies_inject(f->a, &r, 10000, &rec, &err);
    unlink(dir);
    assert_int_equal(rename(moved, dir), 0);
    assert_int_equal(rc, DBP_EIO);
    assert_non_null(strstr(err.msg, "journal"));
    assert_int_equal(fake_count(&fk.applies), 0);
    assert_non_null(rec);
    assert_string_equal(status_of(rec), "failed");
    cJSON_Delete(rec);
}

/* ---- L7: an unreadable benchmark password file is an error, not "" ------------ */

static void test_bench_password_file_unreadable(void **state)
{
    (void)state;
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    dbp_config_defaults(cfg);
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "/tmp");
    cfg->nnodes = 1;
    snprintf(cfg->nodes[0].name, sizeof(cfg->nodes[0].name), "n1");
    snprintf(cfg->nodes[0].host, sizeof(cfg->nodes[0].host), "192.0.2.1");
    cfg->nodes[0].port = 3306;
    snprintf(cfg->sysbench_path, sizeof(cfg->sysbench_path), "/bin/true"); /* "installed" */
    snprintf(cfg->bench_password_file, sizeof(cfg->bench_password_file),
             "/nonexistent/dbp-bench-password");
    struct dbp_executor ex;
    struct dbp_err err = {0};
    assert_int_equal(dbp_exec_local_new(cfg, &ex, &err), 0);
    char why[256] = "";
    assert_false(ex.supports(ex.ctx, "workload_surge", &cfg->nodes[0], why, sizeof(why)));
    assert_non_null(strstr(why, "workload.password_file"));
    assert_non_null(strstr(why, "/nonexistent/dbp-bench-password"));
    ex.free_ctx(ex.ctx);
    free(cfg);
}

/* ---- M7: the journal's own schema; a version-1 journal still replays ---------- */

static void test_v1_journal_replayed(void **state)
{
    struct fx *f = *state;
    dbp_anomalies_free(f->a);
    fake_reset();
    const char *src = getenv("DBP_SOURCE_DIR");
    assert_non_null(src);
    char from[600], to[200], *text = NULL;
    size_t len = 0;
    snprintf(from, sizeof(from), "%s/tests/data/anomaly/00000000000000b1.json", src);
    snprintf(to, sizeof(to), "%s/anomaly/00000000000000b1.json", f->tmp);
    assert_int_equal(dbp_read_file(from, 1 << 20, &text, &len), 0);
    assert_int_equal(dbp_write_file_atomic(to, text, len, 0600), 0);
    free(text);

    f->a = make_registry(f, true);
    char *bad = wait_status(f->a, "00000000000000b1", "reverted", 20000);
    if (bad)
        fail_msg("v1 journal not reverted: %s", bad);
    /* both parts reverted from their journaled state, newest part first */
    pthread_mutex_lock(&fk.lock);
    assert_string_equal(fk.revert_order, "cpu_stress@n1;cache_bottleneck@n2;");
    assert_string_equal(cJSON_GetObjectItem(fk.last_revert, "marker")->valuestring,
                        "v1-fixture-sql");
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(fake_count(&fk.intents), 0);
    cJSON *rec = dbp_anomalies_get_json(f->a, "v1-compound");
    assert_non_null(rec);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rec, "recovered")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rec, "collect_training_data")));
    assert_int_equal(cJSON_GetObjectItem(rec, "duration")->valueint, 120);
    cJSON_Delete(rec);

    /* rewritten in version 2, which is not the API record */
    assert_int_equal(dbp_read_file(to, 1 << 20, &text, &len), 0);
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    assert_int_equal(cJSON_GetObjectItem(o, "journal_version")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(o, "duration_s")->valueint, 120);
    assert_null(cJSON_GetObjectItem(o, "effective"));
    assert_null(cJSON_GetObjectItem(o, "start_time"));
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "reverted");
    cJSON_Delete(o);

    /* and the version-2 file replays with nothing to redo */
    dbp_anomalies_free(f->a);
    fake_reset();
    f->a = make_registry(f, true);
    dbp_anomalies_stop(f->a);
    assert_int_equal(fake_count(&fk.reverts), 0);
    rec = dbp_anomalies_get_json(f->a, "00000000000000b1");
    assert_non_null(rec);
    assert_string_equal(status_of(rec), "reverted");
    assert_int_equal(cJSON_GetObjectItem(rec, "duration")->valueint, 120);
    cJSON_Delete(rec);
}

/* A journal from a newer release is left alone, not misread. */
static void test_newer_journal_ignored(void **state)
{
    struct fx *f = *state;
    dbp_anomalies_free(f->a);
    fake_reset();
    char to[200];
    snprintf(to, sizeof(to), "%s/anomaly/00000000000000c1.json", f->tmp);
    const char *doc = "{\"journal_version\":3,\"id\":\"00000000000000c1\",\"status\":\"active\","
                      "\"parts\":[{\"type\":\"cpu_stress\",\"node\":\"n1\",\"status\":\"applied\"}]}";
    assert_int_equal(dbp_write_file_atomic(to, doc, strlen(doc), 0600), 0);
    f->a = make_registry(f, true);
    dbp_anomalies_stop(f->a);
    assert_int_equal(fake_count(&fk.reverts), 0);
    assert_null(dbp_anomalies_get_json(f->a, "00000000000000c1"));
    assert_int_equal(access(to, F_OK), 0); /* kept for the release that wrote it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_severity_tables),
        cmocka_unit_test(test_bench_password_file_unreadable),
        cmocka_unit_test_setup_teardown(test_bad_requests_inject_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_before_apply_then_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compound_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_target_picks_a_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_reverts_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revert_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_survives_crash_mid_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_apply_does_not_delay_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_blocked_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_do_not_run_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_write_failure_refuses_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_journal_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_journal_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
