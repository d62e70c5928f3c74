/*
 * test_workload_parse.c - the output parsers on real captured output:
 * sysbench 1.0.20 oltp_read_write / oltp_point_select against MariaDB
 * 10.11 (interval lines and the final report), the project's TPC-C and
 * TPC-H Lua scripts (scripts/lua, same sysbench), and tpcc-mysql's lines
 * in the format its main.c prints (printf "%4d, %d(%d):%.3f|%.3f, ..."
 * and "<TpmC>" / "%.3f TpmC"; tpcc-mysql is not packaged for Debian, so
 * those lines are built from its format strings, not captured).
 */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/workload.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/* Captured: sysbench oltp_read_write --threads=4 --report-interval=1. */
static const char *const sysbench_rw[] = {
    "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)",
    "",
    "Running the test with following options:",
    "Number of threads: 4",
    "Report intermediate results every 1 second(s)",
    "Initializing random number generator from current time",
    "",
    "",
    "Initializing worker threads...",
    "",
    "Threads started!",
    "",
    "[ 1s ] thds: 4 tps: 2503.29 qps: 50107.59 (r/w/o: 35083.89/10013.14/5010.56) lat (ms,95%): "
    "2.39 err/s: 0.00 reconn/s: 0.00",
    "[ 2s ] thds: 4 tps: 2524.58 qps: 50508.58 (r/w/o: 35357.11/10101.32/5050.16) lat (ms,95%): "
    "3.02 err/s: 1.00 reconn/s: 0.00",
    "[ 3s ] thds: 4 tps: 2240.02 qps: 44810.39 (r/w/o: 31371.27/8959.08/4480.04) lat (ms,95%): "
    "2.35 err/s: 0.00 reconn/s: 0.00",
    "SQL statistics:",
    "    queries performed:",
    "        read:                            174272",
    "        write:                           49788",
    "        other:                           24894",
    "        total:                           248954",
    "    transactions:                        12446  (2487.32 per sec.)",
    "    queries:                             248954 (49753.26 per sec.)",
    "    ignored errors:                      2      (0.40 per sec.)",
    "    reconnects:                          0      (0.00 per sec.)",
    "",
    "General statistics:",
    "    total time:                          5.0031s",
    "    total number of events:              12446",
    "",
    "Latency (ms):",
    "         min:                                    0.50",
    "         avg:                                    1.61",
    "         max:                                   15.10",
    "         95th percentile:                        2.57",
    "         sum:                                19990.72",
    "",
    "Threads fairness:",
    "    events (avg/stddev):           3111.5000/209.95",
    "    execution time (avg/stddev):   4.9977/0.00",
};

static void sysbench_interval_lines(void **state)
{
    (void)state;
    struct dbp_wl_sample s;
    int n = 0;
    for (size_t i = 0; i < sizeof(sysbench_rw) / sizeof(sysbench_rw[0]); i++)
        if (dbp_wl_parse_interval(sysbench_rw[i], &s))
            n++;
    assert_int_equal(n, 3);

    assert_true(dbp_wl_parse_interval(sysbench_rw[13], &s));
    NEAR(s.t_s, 2);
    assert_int_equal(s.threads, 4);
    NEAR(s.tps, 2524.58);
    NEAR(s.qps, 50508.58);
    NEAR(s.reads, 35357.11);
    NEAR(s.writes, 10101.32);
    NEAR(s.other, 5050.16);
    assert_int_equal(s.lat_pct, 95);
    NEAR(s.lat_ms, 3.02);
    NEAR(s.err_s, 1.00);
    NEAR(s.reconn_s, 0);
    assert_true(s.tpmc < 0);

    /* Captured: oltp_point_select (five-digit tps, zero writes). */
    assert_true(dbp_wl_parse_interval(
        "[ 2s ] thds: 2 tps: 101608.27 qps: 101608.27 (r/w/o: 101608.27/0.00/0.00) lat (ms,95%): "
        "0.02 err/s: 0.00 reconn/s: 0.00",
        &s));
    NEAR(s.tps, 101608.27);
    NEAR(s.writes, 0);
    NEAR(s.lat_ms, 0.02);

    /* Another percentile is reported as such, not as p95. */
    assert_true(dbp_wl_parse_interval(
        "[ 10s ] thds: 8 tps: 10.00 qps: 200.00 (r/w/o: 140.00/40.00/20.00) lat (ms,99%): 45.79 "
        "err/s: 0.00 reconn/s: 0.50",
        &s));
    assert_int_equal(s.lat_pct, 99);
    NEAR(s.reconn_s, 0.5);

    /* Not interval lines. */
    assert_false(dbp_wl_parse_interval("Threads started!", &s));
    assert_false(dbp_wl_parse_interval("[ 5s ] tpmC: 23382.38 tpmTotal: 51467.63", &s));
    assert_false(dbp_wl_parse_interval("[ xs ] thds: 4 tps: 1", &s));
    assert_false(dbp_wl_parse_interval("", &s));
    assert_false(dbp_wl_parse_interval("[ 1s ] thds: 4 tps: nan", &s));
}

static void sysbench_summary(void **state)
{
    (void)state;
    struct dbp_wl_summary sum;
    dbp_wl_summary_clear(&sum);
    for (size_t i = 0; i < sizeof(sysbench_rw) / sizeof(sysbench_rw[0]); i++)
        dbp_wl_parse_summary_line(sysbench_rw[i], &sum);
    assert_true(sum.has_sysbench);
    NEAR(sum.transactions, 12446);
    NEAR(sum.tps, 2487.32);
    NEAR(sum.queries, 248954);
    NEAR(sum.qps, 49753.26);
    NEAR(sum.ignored_errors, 2);
    NEAR(sum.errors_s, 0.40);
    NEAR(sum.reconnects, 0);
    NEAR(sum.total_time_s, 5.0031);
    NEAR(sum.events, 12446);
    NEAR(sum.lat_min_ms, 0.50);
    NEAR(sum.lat_avg_ms, 1.61);
    NEAR(sum.lat_max_ms, 15.10);
    assert_int_equal(sum.lat_pct, 95);
    NEAR(sum.lat_pct_ms, 2.57);
    NEAR(sum.lat_sum_ms, 19990.72);
    assert_false(sum.has_tpmc);
}

/* Captured: scripts/lua/tpcc.lua run, 1 warehouse, 4 threads. */
static const char *const tpcc_lua[] = {
    "[ 5s ] thds: 4 tps: 857.79 qps: 21871.34 (r/w/o: 11705.79/8449.17/1716.39) lat (ms,95%): "
    "12.75 err/s: 0.00 reconn/s: 0.00",
    "[ 5s ] tpmC: 23382.38 tpmTotal: 51467.63",
    "[ 10s ] thds: 4 tps: 971.99 qps: 24514.46 (r/w/o: 13215.13/9355.35/1943.99) lat (ms,95%): "
    "11.24 err/s: 0.00 reconn/s: 0.00",
    "[ 10s ] tpmC: 27239.85 tpmTotal: 58319.68",
    "",
    "TPC-C results: warehouses: 1 threads: 4 elapsed: 20.01",
    "TpmC: 26807.77",
    "TpmTotal: 58719.21",
    "NewOrder: 8940, Payment: 8318, OrderStatus: 768, Delivery: 776, StockLevel: 780",
    "Failed: NewOrder: 0, Payment: 0, OrderStatus: 0, Delivery: 0, StockLevel: 0",
    "Rollbacks: 78, Errors: 0, Reconnects: 0",
};

static void tpcc_lua_lines(void **state)
{
    (void)state;
    struct dbp_wl_sample s;
    double t, tpmc;
    assert_true(dbp_wl_parse_interval(tpcc_lua[0], &s));
    NEAR(s.tps, 857.79);
    assert_false(dbp_wl_parse_tpmc_interval(tpcc_lua[0], &t, &tpmc));
    assert_true(dbp_wl_parse_tpmc_interval(tpcc_lua[1], &t, &tpmc));
    NEAR(t, 5);
    NEAR(tpmc, 23382.38);
    assert_true(dbp_wl_parse_tpmc_interval(tpcc_lua[3], &t, &tpmc));
    NEAR(t, 10);
    NEAR(tpmc, 27239.85);
    /* "TpmTotal:" and "tpmTotal:" are not TpmC. */
    assert_false(dbp_wl_parse_tpmc_interval("[ 5s ] tpmTotal: 51467.63", &t, &tpmc));

    struct dbp_wl_summary sum;
    dbp_wl_summary_clear(&sum);
    for (size_t i = 0; i < sizeof(tpcc_lua) / sizeof(tpcc_lua[0]); i++)
        dbp_wl_parse_summary_line(tpcc_lua[i], &sum);
    assert_true(sum.has_tpmc);
    NEAR(sum.tpmc, 26807.77);
}

static void tpcc_mysql_lines(void **state)
{
    (void)state;
    char line[512];
    struct dbp_wl_sample s;
    /* main.c alarm_handler: "%4d, %d(%d):%.3f|%.3f, ..." x5 */
    snprintf(line, sizeof(line),
             "%4d, %d(%d):%.3f|%.3f, %d(%d):%.3f|%.3f, %d(%d):%.3f|%.3f, %d(%d):%.3f|%.3f, "
             "%d(%d):%.3f|%.3f",
             10, 1233, 0, 0.462, 0.917, 1229, 0, 0.206, 0.508, 123, 0, 0.083, 0.218, 124, 0,
             1.038, 1.264, 122, 0, 2.212, 2.745);
    assert_true(dbp_wl_parse_tpcc_mysql_interval(line, 10, &s));
    NEAR(s.t_s, 10);
    NEAR(s.tpmc, 1233 * 6.0);
    NEAR(s.tps, (1233 + 1229 + 123 + 124 + 122) / 10.0);
    assert_false(dbp_wl_parse_tpcc_mysql_interval("RAMP-UP TIME.(10 sec.)", 10, &s));
    assert_false(dbp_wl_parse_tpcc_mysql_interval("  [0] sc:1 lt:0  rt:0  fl:0 ", 10, &s));

    /* The final block: "<TpmC>" then "                 %.3f TpmC". */
    const char *final[] = {"",
                           "<Raw Results>",
                           "  [0] sc:7392  lt:0  rt:0  fl:0 ",
                           " in 60 sec.",
                           "<TpmC>",
                           "                 7392.000 TpmC"};
    struct dbp_wl_summary sum;
    dbp_wl_summary_clear(&sum);
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        dbp_wl_parse_summary_line(final[i], &sum);
    assert_true(sum.has_tpmc);
    NEAR(sum.tpmc, 7392.0);
    /* "x TpmC" outside the block is not the result. */
    dbp_wl_summary_clear(&sum);
    assert_false(dbp_wl_parse_summary_line("   12.000 TpmC", &sum));
    assert_false(sum.has_tpmc);
}

/* Captured: scripts/lua/tpch.lua run at SF 0.01. */
static void tpch_lines(void **state)
{
    (void)state;
    int q;
    double secs;
    assert_true(dbp_wl_parse_query("Query 14 completed - Time: 0.007s stream: 0 rows: 1", &q,
                                   &secs));
    assert_int_equal(q, 14);
    NEAR(secs, 0.007);
    assert_true(dbp_wl_parse_query("Query 9 completed - Time: 0.117s stream: 0 rows: 168", &q,
                                   &secs));
    assert_int_equal(q, 9);
    NEAR(secs, 0.117);
    /* The shape given in the original's parser (no stream suffix). */
    assert_true(dbp_wl_parse_query("Query 22 completed - Time: 1.50s", &q, &secs));
    assert_int_equal(q, 22);
    NEAR(secs, 1.5);
    assert_false(dbp_wl_parse_query("Query 23 completed - Time: 1.0s", &q, &secs));
    assert_false(dbp_wl_parse_query("Query 0 completed - Time: 1.0s", &q, &secs));
    assert_false(dbp_wl_parse_query(
        "Query 3 failed - Time: 0.100s stream: 0 errno: 1969 Query execution was interrupted", &q,
        &secs));
    assert_false(dbp_wl_parse_query("Q17 count: 1 failed: 0 avg: 0.001 min: 0.001 max: 0.001",
                                    &q, &secs));
    assert_false(dbp_wl_parse_query("Stream 0 completed - Time: 0.697s queries: 22 failed: 0", &q,
                                    &secs));
}

/*
 * L5: hostile or broken tool output.  Before, `(int)v` of a huge thread
 * count and sscanf's %d on out-of-range numbers were undefined (in
 * practice: wrapped values accepted as real samples).
 */
static void huge_numbers_rejected(void **state)
{
    (void)state;
    struct dbp_wl_sample s;
    assert_true(dbp_wl_parse_interval("[ 1s ] thds: 1e300 tps: 5.00 qps: 9.00", &s));
    assert_int_equal(s.threads, -1); /* unknown, not INT_MIN */
    NEAR(s.tps, 5.0);
    assert_true(dbp_wl_parse_interval("[ 1s ] thds: 99999999999 tps: 5.00", &s));
    assert_int_equal(s.threads, -1);
    assert_true(
        dbp_wl_parse_interval("[ 1s ] thds: 4 tps: 5.00 lat (ms,99999999999%): 3.5 err/s: 0", &s));
    assert_int_equal(s.lat_pct, 0); /* the latency is dropped, the rest stays */
    assert_true(s.lat_ms < 0);
    assert_int_equal(s.threads, 4);
    assert_true(dbp_wl_parse_interval("[ 1s ] thds: 4 tps: 5.00 lat (ms,95%): 3.5", &s));
    assert_int_equal(s.lat_pct, 95);
    NEAR(s.lat_ms, 3.5);

    const char *bad[] = {
        "99999999999, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2",
        "10, 99999999999(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2",
        "10, 1(99999999999):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2",
        "10, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, "
        "-5(0):0.1|0.2",
        "10, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (dbp_wl_parse_tpcc_mysql_interval(bad[i], 10, &s))
            fail_msg("accepted: %s", bad[i]);
    assert_true(dbp_wl_parse_tpcc_mysql_interval(
        "2147483647, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2, 1(0):0.1|0.2", 10,
        &s));

    struct dbp_wl_summary sum;
    dbp_wl_summary_clear(&sum);
    assert_false(dbp_wl_parse_summary_line("   99999999999th percentile:   2.57", &sum));
    assert_true(dbp_wl_parse_summary_line("   99th percentile:   2.57", &sum));
    assert_int_equal(sum.lat_pct, 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sysbench_interval_lines),
        cmocka_unit_test(sysbench_summary),
        cmocka_unit_test(tpcc_lua_lines),
        cmocka_unit_test(tpcc_mysql_lines),
        cmocka_unit_test(tpch_lines),
        cmocka_unit_test(huge_numbers_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
