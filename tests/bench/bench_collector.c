/*
 * bench_collector.c - cost of one collection cycle as the cluster grows:
 * N nodes x 500 metrics of a synthetic source pushed through the real
 * series store (rate + Welford + ring + locking), then the readers a
 * dashboard and Prometheus hit: GET /api/metrics JSON and /metrics text.
 *
 *   bench_collector [cycles]              one line per cluster size (3, 30, 300)
 *   bench_collector --rss DIR NAME NODES  fill NODES x the real catalog NAME
 *                                         for 720 cycles, print the RSS growth
 */
#define _GNU_SOURCE
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NMETRICS 500

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static struct dbp_catalog *catalog(void)
{
    struct dbp_buf b;
    static const char *cats[] = {"cpu", "memory", "io", "network", "transactions"};
    dbp_buf_init(&b, 0);
    dbp_buf_puts(&b, "name: synthetic\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\n"
                     "metrics:\n");
    for (int i = 0; i < NMETRICS; i++)
        dbp_buf_printf(&b, "  - {name: metric %03d, category: %s, kind: %s, unit: count}\n", i,
                       cats[i % 5], i % 4 == 0 ? "gauge" : "counter");
    struct dbp_catalog *c = NULL;
    struct dbp_err err = {0};
    if (dbp_catalog_parse("synthetic", b.data, b.len, &c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    dbp_buf_release(&b);
    return c;
}

static int rss_mode(const char *dir, const char *name, int nodes)
{
    struct dbp_catalog *cat = NULL;
    struct dbp_err err = {0};
    if (dbp_catalog_load(dir, name, &cat, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int nm = (int)cat->nmetrics;
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    dbp_config_defaults(cfg);
    cfg->nnodes = nodes;
    for (int i = 0; i < nodes; i++) {
        snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "node%d", i + 1);
        dbp_strlcpy(cfg->nodes[i].host, "127.0.0.1", sizeof(cfg->nodes[i].host));
        cfg->nodes[i].port = 3306;
    }
    long rss0 = rss_kb();
    struct dbp_collector *c = NULL;
    if (dbp_collector_new(cfg, cat, &c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t = 1e9;
    for (int k = 0; k < 721; k++) {
        t += 5;
        for (int i = 0; i < nodes; i++)
            for (int m = 0; m < nm; m++)
                dbp_collector_ingest(c, i, NULL, m, t, 1e6 + (double)k * (10 + m) + (double)(rand() % 5));
    }
    printf("store: %d nodes x %d metrics (catalog %s) x 720 points: RSS +%.1f MB\n", nodes, nm,
           name, (double)(rss_kb() - rss0) / 1024.0);
    printf("process RSS: %.1f MB\n", (double)rss_kb() / 1024.0);
    dbp_collector_free(c);
    free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--rss") == 0)
        return rss_mode(argv[2], argv[3], (int)strtol(argv[4], NULL, 10));
    int cycles = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 120;
    static const int sizes[] = {3, 30, 300};
    printf("%-8s %-8s %14s %14s %14s %16s %12s\n", "nodes", "series", "cycle_cpu_ms",
           "ns_per_sample", "api_json_ms", "prom_text_ms", "rss_MB");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int n = sizes[s];
        struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
        dbp_config_defaults(cfg);
        cfg->nnodes = n > DBP_MAX_NODES ? DBP_MAX_NODES : n;
        /* DBP_MAX_NODES bounds the config; for 300 nodes use several
         * collectors of 100 (same per-sample work). */
        int groups = (n + DBP_MAX_NODES - 1) / DBP_MAX_NODES;
        int per = n / groups;
        cfg->nnodes = per;
        for (int i = 0; i < per; i++) {
            snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "node%d", i);
            snprintf(cfg->nodes[i].host, sizeof(cfg->nodes[i].host), "10.0.%d.%d", i / 250, i % 250);
            cfg->nodes[i].port = 2881;
        }
        struct dbp_collector **cs = dbp_xcalloc((size_t)groups, sizeof(*cs));
        struct dbp_err err = {0};
        for (int g = 0; g < groups; g++)
            if (dbp_collector_new(cfg, catalog(), &cs[g], &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        double t = 1e9, total = 0;
        long rss0 = rss_kb();
        for (int k = 0; k < cycles; k++) {
            t += 5.0;
            double c0 = cpu_s();
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < per; i++)
                    for (int m = 0; m < NMETRICS; m++)
                        dbp_collector_ingest(cs[g], i, NULL, m, t,
                                             1e9 + (double)k * (100 + m) + (double)(rand() % 50));
            total += cpu_s() - c0;
        }
        double c0 = cpu_s();
        cJSON *j = dbp_collector_latest_json(cs[0], NULL, NULL, NULL);
        char *text = cJSON_PrintUnformatted(j);
        double json_ms = (cpu_s() - c0) * 1000 * groups;
        free(text);
        cJSON_Delete(j);
        struct dbp_buf b;
        dbp_buf_init(&b, 0);
        c0 = cpu_s();
        for (int g = 0; g < groups; g++)
            dbp_collector_render_prom(cs[g], &b);
        double prom_ms = (cpu_s() - c0) * 1000;
        dbp_buf_release(&b);
        double per_cycle = total / cycles;
        printf("%-8d %-8d %14.3f %14.1f %14.2f %16.2f %12.1f\n", n, n * NMETRICS,
               per_cycle * 1000, per_cycle * 1e9 / (n * NMETRICS), json_ms, prom_ms,
               (double)(rss_kb() - rss0) / 1024.0);
        for (int g = 0; g < groups; g++)
            dbp_collector_free(cs[g]);
        free(cs);
        free(cfg);
    }
    printf("(history %d points per series; rss_MB = growth while the store filled)\n", 720);
    return 0;
}
