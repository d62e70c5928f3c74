/*
 * test_collector.c - the collector's node list growing (discovery) while
 * readers copy out of it (review H4).  Discovery appends nodes under the
 * store lock on the collector thread; every reader must take the node
 * count in the same critical section as the rows it copies.  Run under
 * ASan (a block sized from a stale count is overflowed) and TSan (an
 * unlocked read of the count is a race); both builds run the unit label.
 *
 * Also: nodes that hang (a listener that never sends the MySQL greeting,
 * as a partitioned node does) cost the cycle nothing, since each node is
 * polled on its own thread, and are marked down long before their client
 * timeout.  Judged by counts (cycles completed against connections the
 * nodes received), not by clocks.
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/err.h"
#include "dbp/util.h"

#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
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

/* A TCP listener that takes connections and never says a word. */
struct blackhole {
    int lfd, port;
    int fds[256];
    atomic_int n;
    atomic_bool stop;
    pthread_t th;
};

static void *bh_main(void *arg)
{
    struct blackhole *b = arg;
    while (!atomic_load(&b->stop)) {
        struct pollfd p = {.fd = b->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(b->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int k = atomic_load(&b->n);
        if (k < 256) {
            b->fds[k] = fd;
            atomic_store(&b->n, k + 1);
        } else
            close(fd);
    }
    return NULL;
}

static void bh_start(struct blackhole *b)
{
    memset(b, 0, sizeof(*b));
    b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(b->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(b->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(b->lfd, 64), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&a, &len), 0);
    b->port = ntohs(a.sin_port);
    atomic_init(&b->n, 0);
    atomic_init(&b->stop, false);
    assert_int_equal(pthread_create(&b->th, NULL, bh_main, b), 0);
}

/* Close everything: the hung clients get EOF and give up at once. */
static void bh_stop(struct blackhole *b)
{
    atomic_store(&b->stop, true);
    pthread_join(b->th, NULL);
    for (int k = 0; k < atomic_load(&b->n); k++)
        close(b->fds[k]);
    close(b->lfd);
}

static unsigned long prom_value(struct dbp_collector *c, const char *name)
{
    struct dbp_buf b;
    dbp_buf_init(&b, 0);
    dbp_collector_render_prom(c, &b);
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(b.data, key);
    unsigned long v = p ? strtoul(p + strlen(key), NULL, 10) : 0;
    dbp_buf_release(&b);
    return v;
}

static int nodes_down(struct dbp_collector *c)
{
    cJSON *nodes = dbp_collector_nodes_json(c);
    int down = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        const cJSON *st = cJSON_GetObjectItem(n, "state");
        down += cJSON_IsString(st) && strcmp(st->valuestring, "down") == 0;
    }
    cJSON_Delete(nodes);
    return down;
}

/* Three nodes that hang for their whole 20 s connect timeout: cycles go on
 * at the interval meanwhile (a serial cycle would need all three connects
 * to time out, i.e. three connections per cycle), and all three are down
 * while their first connect still hangs. */
static void hung_nodes_cost_the_cycle_nothing(void **state)
{
    (void)state;
    struct blackhole bh;
    bh_start(&bh);
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    dbp_config_defaults(cfg);
    cfg->nnodes = 3;
    cfg->interval_ms = 200;
    cfg->connect_timeout_s = 20;
    cfg->read_timeout_s = 20;
    for (int i = 0; i < 3; i++) {
        snprintf(cfg->nodes[i].name, sizeof(cfg->nodes[i].name), "hung%d", i + 1);
        dbp_strlcpy(cfg->nodes[i].host, "127.0.0.1", sizeof(cfg->nodes[i].host));
        cfg->nodes[i].port = bh.port;
    }
    struct dbp_collector *c = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_collector_new(cfg, catalog(), &c, &err), 0);
    free(cfg);
    assert_int_equal(dbp_collector_start(c, true, &err), 0);
    /* Until 10 cycles are done or the nodes have connected twice each. */
    unsigned long cycles = 0;
    int conns = 0, down = 0;
    for (int k = 0; k < 1200; k++) { /* 60 s: only a bound on a broken build */
        cycles = prom_value(c, "dbpecker_collector_cycles_total");
        conns = atomic_load(&bh.n);
        down = nodes_down(c);
        if ((cycles >= 10 && down == 3) || conns > 3)
            break;
        usleep(50 * 1000);
    }
    fprintf(stderr, "hung nodes: %lu cycles, %d down, %d connections\n", cycles, down, conns);
    bh_stop(&bh); /* first: the hung connects end at once */
    dbp_collector_stop(c);
    assert_true(conns <= 3);
    assert_true(cycles >= 10);
    assert_int_equal(down, 3);
    dbp_collector_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discovery_with_concurrent_readers),
        cmocka_unit_test(discovered_rows),
        cmocka_unit_test(hung_nodes_cost_the_cycle_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
