/*
 * bench_diagnosis.c - what diagnosis and training cost, on synthetic data
 * shaped like the mariadb catalog (its ~120 metrics, W = 6 samples).
 *
 *   bench_diagnosis CATALOG_DIR [--quick]
 *
 * 1. Training: for 1k and 10k node windows (3 fault types + normal, cases
 *    of 10 windows x 3 nodes, 20 % held out), each in a fresh child process
 *    so its peak RSS is its own: time to train the 3 boosters (100 rounds,
 *    depth 6, hist, 1 thread; BENCH_NTHREAD=2 for two) and to evaluate,
 *    peak RSS, and the held-out accuracy of the method and its baselines
 *    (a sanity check: the synthetic patterns are easy).
 * 2. Diagnosis latency for 3, 9 and 30 nodes with the 1k model, as CPU time
 *    of the calling thread (prediction runs on that thread; wall time on a
 *    shared 2-core machine mostly measures the neighbours):
 *    core = features + predict + Pearson edges + PageRank + ranking (both
 *    baselines included), and end to end = dbp_ml_diagnose() on a collector
 *    fed with the same windows (ring copy, mapping, JSON result).
 * --quick: 1k windows only and fewer repetitions (smoke run).
 */
#define _GNU_SOURCE
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/dataset.h"
#include "dbp/features.h"
#include "dbp/ml.h"
#include "dbp/model.h"
#include "dbp/rank.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { W = 6, TYPES = 3 };
static const char *classes[TYPES] = {"cpu_stress", "io_bottleneck", "network_bottleneck"};
static const char *fault_cat[TYPES] = {"cpu", "io", "network"};

static struct dbp_catalog *cat;
static size_t M;
static const char **mnames, **mcats;
static unsigned long long rng = 1;

static double rnd(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Process CPU time (all threads): a figure that a busy machine does not
 * inflate the way it inflates wall time. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256], fmt[64];
    long kb = 0;
    snprintf(fmt, sizeof(fmt), "%s: %%ld kB", key);
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* One node's series (metric-major, M x len): rates around a per-metric
 * level; from sample fault_from on, a fault makes its category's metrics
 * 3x and rising. */
static void node_series(int fault, int len, int fault_from, double *out)
{
    for (size_t m = 0; m < M; m++)
        for (int k = 0; k < len; k++) {
            double base = 10 + (double)(m % 23) * 4;
            double v = base * (1 + 0.1 * (rnd() - 0.5));
            if (fault >= 0 && k >= fault_from && !strcmp(mcats[m], fault_cat[fault]))
                v = base * 3 + 5 * (k - fault_from) + base * 0.2 * (rnd() - 0.5);
            if (m % 13 == 7)
                v = NAN; /* some metrics absent, as on a real server */
            out[m * (size_t)len + (size_t)k] = v;
        }
}

static void node_window(int fault, double *win)
{
    node_series(fault, W, 0, win);
}

/* The rule baseline's past: 24 normal samples before the window. */
enum { PAST = 24, LEN = PAST + W };

static void build(struct dbp_dataset *ds, size_t rows)
{
    int per_case = 10, nodes = 3;
    int ncases = (int)(rows / (size_t)(per_case * nodes));
    const char **keys = dbp_xcalloc((size_t)ncases, sizeof(char *));
    bool *test = dbp_xcalloc((size_t)ncases, sizeof(bool));
    for (int c = 0; c < ncases; c++)
        keys[c] = c % 4 == 3 ? "normal" : classes[c % 4];
    dbp_split_groups(keys, ncases, 0.2, 1314, test);
    dbp_dataset_init(ds, dbp_features_dim(M), classes, TYPES, rows + 64);
    double *win = dbp_xmalloc((size_t)nodes * M * W * sizeof(double));
    double *ser = dbp_xmalloc(M * LEN * sizeof(double));
    double *z = dbp_xmalloc(M * sizeof(double));
    float *x = dbp_xmalloc(dbp_features_dim(M) * sizeof(float));
    double w[9];
    for (int c = 0; c < ncases; c++) {
        int type = c % 4 == 3 ? -1 : c % 4, bad = c % nodes;
        int g = dbp_dataset_add_group(ds, "case", "", test[c]);
        for (int k = 0; k < per_case; k++) {
            double rs[3];
            int rt[3];
            for (int n = 0; n < nodes; n++) {
                node_series(n == bad ? type : -1, LEN, PAST, ser);
                for (size_t m = 0; m < M; m++) {
                    memcpy(win + (size_t)n * M * W + m * W, ser + m * LEN + PAST,
                           W * sizeof(double));
                    z[m] = dbp_rule_zscore(ser + m * LEN, LEN);
                }
                rt[n] = dbp_rule_node(z, mcats, (int)M, classes, TYPES, &rs[n]);
            }
            dbp_rank_edge_weights(win, nodes, (int)M, W, w, NULL);
            int in = dbp_dataset_add_instance(ds, g, nodes, w);
            for (int n = 0; n < nodes; n++) {
                unsigned char y[TYPES] = {0};
                if (n == bad && type >= 0)
                    y[type] = 1;
                dbp_features_node(win + (size_t)n * M * W, M, W, x);
                dbp_dataset_add_row(ds, g, in, x, y, rt[n], rs[n]);
            }
        }
    }
    dbp_dataset_partition(ds);
    free(keys);
    free(test);
    free(win);
    free(ser);
    free(z);
    free(x);
}

static double ac(const cJSON *ev, const char *method, const char *k)
{
    const cJSON *me = cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "ac_at_k"), "methods");
    return cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(me, method), k));
}

/* Child: train on `rows` windows, print one line, save the model if asked. */
static int train_child(size_t rows, const char *save_dir)
{
    struct dbp_dataset ds;
    struct dbp_err err = {0};
    long rss0 = rss_kb("VmRSS");
    double t0 = dbp_wall_s();
    build(&ds, rows);
    double t1 = dbp_wall_s();
    long rss_ds = rss_kb("VmRSS");
    struct dbp_model_params p;
    dbp_model_params_default(&p);
    if (getenv("BENCH_NTHREAD"))
        p.nthread = atoi(getenv("BENCH_NTHREAD"));
    struct dbp_model_spec spec = {.catalog = cat->name,
                                  .nmetrics = M,
                                  .metric_names = mnames,
                                  .metric_categories = mcats,
                                  .window = W,
                                  .stride = W};
    struct dbp_model *m = NULL;
    double c1 = cpu_s();
    if (dbp_model_train(&ds, &spec, &p, NULL, NULL, &m, &err)) {
        fprintf(stderr, "train: %s\n", err.msg);
        return 1;
    }
    double t2 = dbp_wall_s(), c2 = cpu_s();
    const cJSON *ev = dbp_model_eval(m);
    printf("train %6zu windows x %4zu features: build %.2f s, train+eval %.2f s wall / %.2f s "
           "CPU (%.1f ms CPU/round/booster), peak RSS %.0f MB (dataset %.0f MB)\n",
           ds.rows, ds.dim, t1 - t0, t2 - t1, c2 - c1, (c2 - c1) * 1000 / (p.rounds * TYPES),
           rss_kb("VmHWM") / 1024.0, (rss_ds - rss0) / 1024.0);
    printf("      held out: %zu windows, macro F1 xgboost %.3f / rule %.3f; "
           "AC@1/3/5 graph %.2f/%.2f/%.2f xgboost %.2f/%.2f/%.2f rule %.2f/%.2f/%.2f\n",
           ds.rows - ds.ntrain, cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "macro_f1")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "macro_f1_rule")), ac(ev, "graph", "AC@1"),
           ac(ev, "graph", "AC@3"), ac(ev, "graph", "AC@5"), ac(ev, "xgboost", "AC@1"),
           ac(ev, "xgboost", "AC@3"), ac(ev, "xgboost", "AC@5"), ac(ev, "rule", "AC@1"),
           ac(ev, "rule", "AC@3"), ac(ev, "rule", "AC@5"));
    fflush(stdout);
    if (save_dir && dbp_model_save(m, save_dir, NULL, &err)) {
        fprintf(stderr, "save: %s\n", err.msg);
        return 1;
    }
    dbp_model_unref(m);
    dbp_dataset_release(&ds);
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Features + predict + edges + PageRank + rankings (method and baselines). */
static double core_once(struct dbp_model *m, int N, const double *win)
{
    size_t dim = dbp_model_dim(m);
    float *X = dbp_xmalloc((size_t)N * dim * sizeof(float));
    double *probs = dbp_xmalloc((size_t)N * TYPES * sizeof(double));
    double *w = dbp_xmalloc((size_t)N * (size_t)N * sizeof(double));
    double *pr = dbp_xmalloc((size_t)N * sizeof(double));
    double *z = dbp_xmalloc(M * sizeof(double));
    struct dbp_rank_item *items = dbp_xmalloc((size_t)N * TYPES * sizeof(*items));
    struct dbp_err err = {0};
    double t0 = thread_cpu_s();
    for (int n = 0; n < N; n++) {
        dbp_features_node(win + (size_t)n * M * W, M, W, X + (size_t)n * dim);
        for (size_t mm = 0; mm < M; mm++)
            z[mm] = dbp_rule_zscore(win + (size_t)n * M * W + mm * W, W);
        double rs;
        (void)dbp_rule_node(z, mcats, (int)M, classes, TYPES, &rs);
    }
    if (dbp_model_predict(m, X, (size_t)N, probs, &err))
        fprintf(stderr, "predict: %s\n", err.msg);
    dbp_rank_edge_weights(win, N, (int)M, W, w, NULL);
    dbp_pagerank(w, N, DBP_PR_DAMPING, DBP_PR_NORMALISED, DBP_PR_TOL, DBP_PR_MAXIT, pr, NULL);
    dbp_rank_pairs(probs, pr, N, TYPES, items);
    dbp_rank_pairs(probs, NULL, N, TYPES, items);
    double t = thread_cpu_s() - t0;
    free(X);
    free(probs);
    free(w);
    free(pr);
    free(z);
    free(items);
    return t;
}

static void latency(const char *models_dir, int reps)
{
    char **names = NULL;
    size_t n = 0;
    struct dbp_err err = {0};
    struct dbp_model *m = NULL;
    if (dbp_model_list(models_dir, &names, &n, &err) || n == 0 ||
        dbp_model_load(models_dir, names[0], &m, &err)) {
        fprintf(stderr, "no model: %s\n", err.msg);
        exit(1);
    }
    const int sizes[3] = {3, 9, 30};
    for (int s = 0; s < 3; s++) {
        int N = sizes[s];
        double *win = dbp_xmalloc((size_t)N * M * W * sizeof(double));
        for (int i = 0; i < N; i++)
            node_window(i == 1 ? 1 : -1, win + (size_t)i * M * W);
        double *t = dbp_xmalloc((size_t)reps * sizeof(double));
        for (int r = 0; r < reps; r++)
            t[r] = core_once(m, N, win);
        qsort(t, (size_t)reps, sizeof(double), cmp_d);
        double core_med = t[reps / 2], core_p99 = t[(int)(reps * 0.99)];

        /* end to end: a paused collector holding the same windows */
        struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
        dbp_config_defaults(cfg);
        cfg->nnodes = N;
        for (int i = 0; i < N; i++) {
            snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "node%02d", i);
            snprintf(cfg->nodes[i].host, sizeof(cfg->nodes[i].host), "127.0.0.1");
            cfg->nodes[i].port = 9;
        }
        dbp_strlcpy(cfg->models_dir, models_dir, sizeof(cfg->models_dir));
        struct dbp_catalog *c2 = NULL;
        char dir[512];
        snprintf(dir, sizeof(dir), "%s", getenv("BENCH_CATALOG_DIR"));
        if (dbp_catalog_load(dir, "mariadb", &c2, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        struct dbp_collector *col = NULL;
        struct dbp_ml *ml = NULL;
        if (dbp_collector_new(cfg, c2, &col, &err) || dbp_ml_new(cfg, col, NULL, &ml, &err) ||
            dbp_ml_start(ml, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        double now = dbp_wall_s();
        double *acc = dbp_xcalloc((size_t)N * M, sizeof(double));
        for (int k = 0; k < 60; k++)
            for (int i = 0; i < N; i++) {
                node_window(i == 1 && k >= 54 ? 1 : -1, win + (size_t)i * M * W);
                for (size_t mm = 0; mm < M; mm++) {
                    double v = win[(size_t)i * M * W + mm * W];
                    if (!isfinite(v))
                        continue;
                    /* counters are fed as running totals so the rate is v */
                    double *a = &acc[(size_t)i * M + mm];
                    *a = c2->metrics[mm].kind == DBP_METRIC_COUNTER ? *a + 5.0 * v : v;
                    dbp_collector_ingest(col, i, "", (int)mm, now - (59 - k) * 5.0, *a);
                }
            }
        free(acc);
        int reps2 = reps / 4 > 5 ? reps / 4 : 5;
        double *t2 = dbp_xmalloc((size_t)reps2 * sizeof(double));
        for (int r = 0; r < reps2; r++) {
            struct dbp_ml_diag_req rq;
            cJSON *out = NULL;
            dbp_ml_diag_req_init(&rq);
            double a = thread_cpu_s();
            if (dbp_ml_diagnose(ml, &rq, &out, &err))
                fprintf(stderr, "diagnose: %s\n", err.msg);
            t2[r] = thread_cpu_s() - a;
            cJSON_Delete(out);
        }
        qsort(t2, (size_t)reps2, sizeof(double), cmp_d);
        printf("diagnose %2d nodes x %zu metrics x W=%d (CPU time): core median %.2f ms "
               "(p99 %.2f ms), end to end median %.2f ms (p99 %.2f ms)\n",
               N, M, W, core_med * 1e3, core_p99 * 1e3, t2[reps2 / 2] * 1e3,
               t2[(int)(reps2 * 0.99)] * 1e3);
        fflush(stdout);
        dbp_ml_free(ml);
        dbp_collector_free(col);
        free(cfg);
        free(t);
        free(t2);
        free(win);
    }
    dbp_model_unref(m);
    dbp_cases_list_free(names, n);
}

int main(int argc, char **argv)
{
    struct dbp_err err = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: %s CATALOG_DIR [--quick]\n", argv[0]);
        return 2;
    }
    bool quick = argc > 2 && !strcmp(argv[2], "--quick");
    setenv("BENCH_CATALOG_DIR", argv[1], 1);
    if (dbp_catalog_load(argv[1], "mariadb", &cat, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    M = cat->nmetrics;
    mnames = dbp_xcalloc(M, sizeof(char *));
    mcats = dbp_xcalloc(M, sizeof(char *));
    for (size_t i = 0; i < M; i++) {
        mnames[i] = cat->metrics[i].name;
        mcats[i] = cat->metrics[i].category;
    }
    char models[] = "/tmp/dbp-bench-models-XXXXXX";
    if (!mkdtemp(models)) {
        perror("mkdtemp");
        return 1;
    }
    printf("catalog %s: %zu metrics, %zu features per node window (W = %d)\n", cat->name, M,
           dbp_features_dim(M), W);
    const size_t sizes[2] = {1000, 10000};
    for (int i = 0; i < (quick ? 1 : 2); i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(train_child(sizes[i], i == 0 ? models : NULL));
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "training child failed\n");
            return 1;
        }
    }
    latency(models, quick ? 20 : 200);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", models);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", models);
    dbp_catalog_free(cat);
    free(mnames);
    free(mcats);
    return 0;
}
