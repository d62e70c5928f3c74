/*
 * test_collector.c - the collector's node list growing (discovery) while
 * readers copy out of it (review H4).  Discovery appends nodes under the
 * store lock on the collector thread; every reader must take the node
 * count in the same critical section as the rows it copies.  Run under
 * ASan (a block sized from a stale count is overflowed) and TSan (an
 * unlocked read of the count is a race); both builds run the unit label.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/err.h"
#include "dbp/util.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMETRICS 64
#define WINDOW 30

static struct dbp_catalog *catalog(void)
{
    struct dbp_buf b;
    dbp_buf_init(&b, 0);
    dbp_buf_puts(&b, "name: synthetic\nqueries:\n  - {id: q, sql: x, columns: {metric: 0, value: 1}}\n"
                     "metrics:\n");
    for (int i = 0; i < NMETRICS; i++)
        dbp_buf_printf(&b, "  - {name: metric %03d, category: cpu, kind: gauge, unit: count}\n", i);
    struct dbp_catalog *c = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_catalog_parse("synthetic", b.data, b.len, &c, &err), 0);
    dbp_buf_release(&b);
    return c;
}

static struct dbp_collector *collector_one_node(void)
{
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    dbp_config_defaults(cfg);
    cfg->nnodes = 1;
    dbp_strlcpy(cfg->nodes[0].name, "seed", sizeof(cfg->nodes[0].name));
    dbp_strlcpy(cfg->nodes[0].host, "10.9.0.1", sizeof(cfg->nodes[0].host));
    cfg->nodes[0].port = 2881;
    struct dbp_collector *c = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_collector_new(cfg, catalog(), &c, &err), 0);
    free(cfg);
    /* a full window on the seed node, so the reader copies real points */
    for (int k = 0; k < WINDOW; k++)
        for (int m = 0; m < NMETRICS; m++)
            assert_int_equal(dbp_collector_ingest(c, 0, NULL, m, 1e9 + k, (double)(k * 100 + m)),
                             0);
    return c;
}

struct race {
    struct dbp_collector *c;
    atomic_bool done;
    atomic_int windows;
    int bad; /* a reader saw something impossible */
};

static void *reader(void *arg)
{
    struct race *r = arg;
    int last = 0;
    while (!atomic_load(&r->done) || atomic_load(&r->windows) < 50) {
        int nn = -1, nm = -1;
        double ts = 0;
        double *w = dbp_collector_window(r->c, WINDOW, &nn, &nm, &ts);
        /* The count only grows and each row is either fully copied or
         * absent; the seed's values are what was ingested. */
        if (nn < last || nn < 1 || nn > DBP_MAX_NODES || nm != NMETRICS)
            r->bad++;
        else if (w[(size_t)(NMETRICS - 1) * WINDOW + WINDOW - 1] !=
                 (double)((WINDOW - 1) * 100 + NMETRICS - 1))
            r->bad++;
        for (int i = 1; i < nn; i++) /* discovered nodes: no samples yet */
            if (!isnan(w[((size_t)i * NMETRICS + NMETRICS - 1) * WINDOW + WINDOW - 1]))
                r->bad++;
        last = nn;
        free(w);
        char names[DBP_MAX_NODES][64];
        int k = dbp_collector_node_names(r->c, names, DBP_MAX_NODES);
        if (k < nn)
            r->bad++;
        cJSON *nodes = dbp_collector_nodes_json(r->c);
        if (cJSON_GetArraySize(nodes) < nn)
            r->bad++;
        cJSON_Delete(nodes);
        int nf = 0, nt = 0;
        cJSON_Delete(dbp_collector_latest_json(r->c, "", &nf, &nt));
        struct dbp_buf b;
        dbp_buf_init(&b, 0);
        dbp_collector_render_prom(r->c, &b);
        dbp_buf_release(&b);
        atomic_fetch_add(&r->windows, 1);
    }
    return NULL;
}

static void *discoverer(void *arg)
{
    struct race *r = arg;
    for (int i = 2; i <= DBP_MAX_NODES; i++) {
        char host[32];
        snprintf(host, sizeof(host), "10.9.0.%d", i);
        if (dbp_collector_discovered(r->c, host, 2881, 2882, "z1") != 0)
            r->bad++;
        /* the new node gets samples too (the cycle would push them) */
        char spec[64];
        snprintf(spec, sizeof(spec), "%s:2881", host);
        if (dbp_collector_node_index(r->c, spec) != i - 1)
            r->bad++;
        sched_yield();
    }
    atomic_store(&r->done, true);
    return NULL;
}

/* Discovery fills the node list to DBP_MAX_NODES while two threads read
 * windows, names, node records, the latest values and the /metrics text. */
static void discovery_with_concurrent_readers(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        struct race r = {.c = collector_one_node()};
        atomic_init(&r.done, false);
        atomic_init(&r.windows, 0);
        pthread_t rd[2], wr;
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&rd[i], NULL, reader, &r), 0);
        assert_int_equal(pthread_create(&wr, NULL, discoverer, &r), 0);
        pthread_join(wr, NULL);
        for (int i = 0; i < 2; i++)
            pthread_join(rd[i], NULL);
        assert_int_equal(r.bad, 0);
        int nn = 0, nm = 0;
        double ts = 0;
        free(dbp_collector_window(r.c, WINDOW, &nn, &nm, &ts));
        assert_int_equal(nn, DBP_MAX_NODES);
        dbp_collector_free(r.c);
    }
}

/* A row for a known node refreshes it; bad rows and a full list are refused. */
static void discovered_rows(void **state)
{
    (void)state;
    struct dbp_collector *c = collector_one_node();
    assert_int_equal(dbp_collector_discovered(c, "10.9.0.1", 2881, 2882, "zone-a"), 0);
    char names[4][64];
    assert_int_equal(dbp_collector_node_names(c, names, 4), 1);
    assert_string_equal(names[0], "seed");
    assert_int_equal(dbp_collector_discovered(c, "10.9.0.2", 0, 0, NULL), DBP_EINVAL);
    assert_int_equal(dbp_collector_discovered(c, "10.9.0.2", 70000, 0, NULL), DBP_EINVAL);
    assert_int_equal(dbp_collector_discovered(c, NULL, 2881, 0, NULL), DBP_EINVAL);
    assert_int_equal(dbp_collector_discovered(c, "10.9.0.2", 2881, 2882, NULL), 0);
    assert_int_equal(dbp_collector_node_names(c, names, 4), 2);
    assert_string_equal(names[1], "10.9.0.2:2881");
    assert_int_equal(dbp_collector_node_index(c, "10.9.0.2:2881"), 1);
    for (int i = 3; i <= DBP_MAX_NODES; i++) {
        char host[32];
        snprintf(host, sizeof(host), "10.9.1.%d", i);
        assert_int_equal(dbp_collector_discovered(c, host, 2881, 0, NULL), 0);
    }
    assert_int_equal(dbp_collector_discovered(c, "10.9.2.1", 2881, 0, NULL), DBP_ETOOBIG);
    /* ingest checks the node index against the grown list */
    assert_int_equal(dbp_collector_ingest(c, DBP_MAX_NODES - 1, NULL, 0, 2e9, 1), 0);
    assert_int_equal(dbp_collector_ingest(c, DBP_MAX_NODES, NULL, 0, 2e9, 1), DBP_EINVAL);
    dbp_collector_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discovery_with_concurrent_readers),
        cmocka_unit_test(discovered_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
