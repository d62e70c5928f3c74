/*
 * prom.h - a small Prometheus HTTP API client (libcurl) and exposition
 * helpers.
 *
 * The client is thread-safe (one easy handle per call) and never blocks
 * longer than timeout_ms.  Errors: Prometheus unreachable -> DBP_EUNAVAIL
 * (503 to API users); an answer that is not a success -> DBP_EUPSTREAM (502).
 */
#ifndef DBP_PROM_H
#define DBP_PROM_H

#include <stddef.h>

#include "dbp/err.h"
#include "dbp/util.h"

struct dbp_prom_point {
    double ts;
    double value;
};

/* One series of a range query: its labels as a JSON object text. */
struct dbp_prom_series {
    char *labels_json;
    struct dbp_prom_point *points;
    size_t npoints;
};

/* GET <base>/api/v1/query_range.  *out is an array of *nout series (free
 * with dbp_prom_series_free).  step in seconds (> 0). */
int dbp_prom_query_range(const char *base, const char *promql, double start, double end,
                         double step, int timeout_ms, struct dbp_prom_series **out, size_t *nout,
                         struct dbp_err *err);
void dbp_prom_series_free(struct dbp_prom_series *s, size_t n);

/* Append a label value escaped for the exposition format (\\, \", \n). */
int dbp_prom_escape(struct dbp_buf *b, const char *value);
/* Metric-name-safe copy: [a-zA-Z0-9_:] kept, anything else becomes '_'. */
void dbp_prom_sanitize(const char *in, char *out, size_t outsz);
/* Append a PromQL string literal (double-quoted, escaped). */
int dbp_promql_string(struct dbp_buf *b, const char *value);

#endif
