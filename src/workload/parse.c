/*
 * parse.c - parsers for what the benchmark tools print (see workload.h).
 *
 * Pure functions over one line at a time, so they run on the process
 * runner's thread as lines arrive and are unit-tested on captured output.
 * They look for labelled fields ("tps:", "err/s:") rather than fixed
 * columns, because sysbench, the project's Lua scripts and tpcc-mysql each
 * print slightly different lines and a missing field must not derail the
 * others.
 */
#define _GNU_SOURCE
#include "dbp/workload.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

void dbp_wl_sample_clear(struct dbp_wl_sample *s)
{
    s->t_s = -1;
    s->threads = -1;
    s->tps = s->qps = s->reads = s->writes = s->other = -1;
    s->lat_ms = -1;
    s->lat_pct = 0;
    s->err_s = s->reconn_s = -1;
    s->tpmc = -1;
}

void dbp_wl_summary_clear(struct dbp_wl_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->lat_min_ms = s->lat_avg_ms = s->lat_max_ms = s->lat_pct_ms = s->lat_sum_ms = -1;
}

/* Number right after `key` (spaces skipped); false when the key is absent
 * or not followed by a finite number. */
static bool field(const char *line, const char *key, double *out)
{
    const char *p = strstr(line, key);
    if (!p)
        return false;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/*
 * A decimal integer at *pp in [min, max] (leading blanks skipped), *pp
 * moved past it.  sscanf's %d is undefined behaviour on a value out of
 * int range, and a hostile or broken tool may print anything.
 */
static bool int_at(const char **pp, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(*pp, &end, 10);
    if (end == *pp || errno == ERANGE || v < min || v > max)
        return false;
    *out = (int)v;
    *pp = end;
    return true;
}

/* A finite double at *pp (leading blanks skipped), *pp moved past it. */
static bool double_at(const char **pp, double *out)
{
    char *end;
    double v = strtod(*pp, &end);
    if (end == *pp || !isfinite(v))
        return false;
    *out = v;
    *pp = end;
    return true;
}

/* The literal c at *pp, after blanks when `blanks`. */
static bool lit(const char **pp, char c, bool blanks)
{
    const char *p = *pp;
    if (blanks)
        while (isspace((unsigned char)*p))
            p++;
    if (*p != c)
        return false;
    *pp = p + 1;
    return true;
}

/* "[ 10s ]" at the start of a line: the time and the rest. */
static const char *time_prefix(const char *line, double *t)
{
    const char *p = line;
    while (*p == ' ')
        p++;
    if (*p++ != '[')
        return NULL;
    while (*p == ' ')
        p++;
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || v < 0 || *end != 's')
        return NULL;
    p = end + 1;
    while (*p == ' ')
        p++;
    if (*p != ']')
        return NULL;
    *t = v;
    return p + 1;
}

bool dbp_wl_parse_interval(const char *line, struct dbp_wl_sample *out)
{
    double t, v;
    const char *rest = time_prefix(line, &t);
    if (!rest || !strstr(rest, "thds:") || !field(rest, "tps:", &v))
        return false;
    dbp_wl_sample_clear(out);
    out->t_s = t;
    out->tps = v;
    /* (int) of a double beyond INT_MAX is undefined: range-check first. */
    if (field(rest, "thds:", &v) && v >= 0 && v <= INT_MAX)
        out->threads = (int)v;
    if (field(rest, "qps:", &v))
        out->qps = v;
    const char *rwo = strstr(rest, "(r/w/o:");
    if (rwo) {
        double r, w, o;
        if (sscanf(rwo, "(r/w/o: %lf/%lf/%lf)", &r, &w, &o) == 3) {
            out->reads = r;
            out->writes = w;
            out->other = o;
        }
    }
    const char *lat = strstr(rest, "lat (ms,");
    if (lat) {
        int pct;
        double ms;
        const char *p = lat + strlen("lat (ms,");
        if (int_at(&p, 0, 100, &pct) && lit(&p, '%', false) && lit(&p, ')', false) &&
            lit(&p, ':', false) && double_at(&p, &ms)) {
            out->lat_pct = pct;
            out->lat_ms = ms;
        }
    }
    if (field(rest, "err/s:", &v))
        out->err_s = v;
    if (field(rest, "reconn/s:", &v))
        out->reconn_s = v;
    if (field(rest, "tpmC:", &v))
        out->tpmc = v;
    return true;
}

bool dbp_wl_parse_tpmc_interval(const char *line, double *t_s, double *tpmc)
{
    double t, v;
    const char *rest = time_prefix(line, &t);
    if (!rest || strstr(rest, "thds:") || !field(rest, "tpmC:", &v))
        return false;
    *t_s = t;
    *tpmc = v;
    return true;
}

bool dbp_wl_parse_tpcc_mysql_interval(const char *line, int interval_s,
                                      struct dbp_wl_sample *out)
{
    /* "%4d, %d(%d):%.3f|%.3f, ..." five times (main.c alarm_handler). */
    int t, n[5], late[5];
    double rt[5], mx[5];
    const char *p = line;
    if (interval_s <= 0 || !int_at(&p, 1, INT_MAX, &t))
        return false;
    for (int i = 0; i < 5; i++)
        if (!lit(&p, ',', true) || !int_at(&p, 0, INT_MAX, &n[i]) || !lit(&p, '(', false) ||
            !int_at(&p, 0, INT_MAX, &late[i]) || !lit(&p, ')', false) ||
            !lit(&p, ':', false) || !double_at(&p, &rt[i]) || !lit(&p, '|', false) ||
            !double_at(&p, &mx[i]))
            return false;
    dbp_wl_sample_clear(out);
    double all = 0;
    for (int i = 0; i < 5; i++) {
        if (n[i] < 0)
            return false;
        all += n[i];
    }
    out->t_s = t;
    out->tps = all / interval_s;
    out->tpmc = (double)n[0] * 60.0 / interval_s;
    return true;
}

bool dbp_wl_parse_query(const char *line, int *query, double *seconds)
{
    const char *q = strstr(line, "Query ");
    if (!q)
        return false;
    char *end;
    long n = strtol(q + 6, &end, 10);
    if (end == q + 6 || n < 1 || n > DBP_WL_NQUERIES)
        return false;
    if (!strstr(end, "completed"))
        return false;
    double s;
    if (!field(end, "Time:", &s) || s < 0)
        return false;
    *query = (int)n;
    *seconds = s;
    return true;
}

/* "    transactions:      12446  (2487.32 per sec.)" -> value and rate. */
static bool kv(const char *line, const char *key, double *val, double *rate)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t kl = strlen(key);
    if (strncmp(p, key, kl) != 0)
        return false;
    p += kl;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v))
        return false;
    *val = v;
    if (rate) {
        const char *r = strchr(end, '(');
        double rv;
        if (r && sscanf(r, "(%lf per sec.)", &rv) == 1)
            *rate = rv;
    }
    return true;
}

bool dbp_wl_parse_summary_line(const char *line, struct dbp_wl_summary *s)
{
    double v, r = -1;
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;

    /* tpcc-mysql: "<TpmC>" then "                 812.400 TpmC". */
    if (strncmp(p, "<TpmC>", 6) == 0) {
        s->in_tpmc_block = true;
        return true;
    }
    if (s->in_tpmc_block) {
        char *end;
        v = strtod(p, &end);
        if (end != p && isfinite(v) && strncmp(end, " TpmC", 5) == 0) {
            s->has_tpmc = true;
            s->tpmc = v;
            s->in_tpmc_block = false;
            return true;
        }
    }
    /* The Lua TPC-C script: "TpmC: 812.40". */
    if (strncmp(p, "TpmC:", 5) == 0 && field(p, "TpmC:", &v)) {
        s->has_tpmc = true;
        s->tpmc = v;
        return true;
    }
    if (strncmp(p, "SQL statistics:", 15) == 0) {
        s->has_sysbench = true;
        return true;
    }
    if (kv(line, "transactions:", &v, &r)) {
        s->transactions = v;
        s->tps = r;
        return true;
    }
    if (kv(line, "queries:", &v, &r)) {
        s->queries = v;
        s->qps = r;
        return true;
    }
    if (kv(line, "ignored errors:", &v, &r)) {
        s->ignored_errors = v;
        s->errors_s = r;
        return true;
    }
    if (kv(line, "reconnects:", &v, &r)) {
        s->reconnects = v;
        s->reconnects_s = r;
        return true;
    }
    if (kv(line, "total time:", &v, NULL)) {
        s->total_time_s = v;
        return true;
    }
    if (kv(line, "total number of events:", &v, NULL)) {
        s->events = v;
        return true;
    }
    if (kv(line, "min:", &v, NULL)) {
        s->lat_min_ms = v;
        return true;
    }
    if (kv(line, "avg:", &v, NULL)) {
        s->lat_avg_ms = v;
        return true;
    }
    if (kv(line, "max:", &v, NULL)) {
        s->lat_max_ms = v;
        return true;
    }
    if (kv(line, "sum:", &v, NULL)) {
        s->lat_sum_ms = v;
        return true;
    }
    /* "95th percentile:" */
    int pct;
    const char *q = p;
    if (int_at(&q, 0, 100, &pct) && isalpha((unsigned char)q[0]) &&
        isalpha((unsigned char)q[1]) && strncmp(q + 2, " percentile:", 12) == 0) {
        q += 14;
        if (double_at(&q, &v)) {
            s->lat_pct = pct;
            s->lat_pct_ms = v;
            return true;
        }
    }
    return false;
}
