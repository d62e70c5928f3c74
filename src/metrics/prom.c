/* prom.c - Prometheus HTTP API client and exposition escaping. */
#define _GNU_SOURCE
#include "dbp/prom.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    return dbp_buf_append(ud, p, sz * n) ? 0 : sz * n;
}

void dbp_prom_series_free(struct dbp_prom_series *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].labels_json);
        free(s[i].points);
    }
    free(s);
}

int dbp_prom_query_range(const char *base, const char *promql, double start, double end,
                         double step, int timeout_ms, struct dbp_prom_series **out, size_t *nout,
                         struct dbp_err *err)
{
    CURL *c = NULL;
    char *q = NULL;
    struct dbp_buf url, body;
    cJSON *doc = NULL;
    int rc = 0;
    long status = 0;

    *out = NULL;
    *nout = 0;
    if (!base || !*base)
        return dbp_err_set(err, DBP_EUNAVAIL, "no Prometheus configured (prometheus.url)");
    if (!(step > 0) || end < start)
        return dbp_err_set(err, DBP_EINVAL, "bad range: start <= end and step > 0 required");
    if ((end - start) / step > 11000)
        return dbp_err_set(err, DBP_EINVAL, "too many points (Prometheus allows 11000): raise step");
    dbp_buf_init(&url, 64 * 1024);
    dbp_buf_init(&body, 64u << 20);
    c = curl_easy_init();
    if (!c) {
        rc = dbp_err_set(err, DBP_ENOMEM, "curl_easy_init failed");
        goto out;
    }
    q = curl_easy_escape(c, promql, 0);
    const char *slash = base[strlen(base) - 1] == '/' ? "" : "/";
    if (!q || dbp_buf_printf(&url, "%s%sapi/v1/query_range?query=%s&start=%.3f&end=%.3f&step=%g",
                             base, slash, q, start, end, step)) {
        rc = dbp_err_set(err, DBP_ETOOBIG, "query too long");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 2000 ? timeout_ms : 2000));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = dbp_err_set(err,
                         cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
                                 cc == CURLE_COULDNT_RESOLVE_HOST
                             ? DBP_EUNAVAIL
                             : DBP_EUPSTREAM,
                         "Prometheus at %s: %s", base, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    doc = body.len ? cJSON_ParseWithLength(body.data, body.len) : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");
    if (status != 200 || !cJSON_IsString(st) || strcmp(st->valuestring, "success") != 0) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
        rc = dbp_err_set(err, status == 400 ? DBP_EINVAL : DBP_EUPSTREAM,
                         "Prometheus answered %ld: %s", status,
                         cJSON_IsString(e) ? e->valuestring : "unexpected body");
        goto out;
    }
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "data"), "result");
    if (!cJSON_IsArray(result)) {
        rc = dbp_err_set(err, DBP_EUPSTREAM, "Prometheus answer has no data.result");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(result), k = 0;
    struct dbp_prom_series *s = dbp_xcalloc(n ? n : 1, sizeof(*s));
    const cJSON *ser;
    cJSON_ArrayForEach(ser, result)
    {
        const cJSON *metric = cJSON_GetObjectItemCaseSensitive(ser, "metric");
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(ser, "values");
        s[k].labels_json = metric ? cJSON_PrintUnformatted(metric) : dbp_xstrdup("{}");
        size_t nv = cJSON_IsArray(values) ? (size_t)cJSON_GetArraySize(values) : 0;
        s[k].points = dbp_xcalloc(nv ? nv : 1, sizeof(*s[k].points));
        const cJSON *pair;
        cJSON_ArrayForEach(pair, values)
        {
            const cJSON *t = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);
            double val;
            if (!cJSON_IsNumber(t) || !cJSON_IsString(v) || dbp_parse_double(v->valuestring, &val))
                continue; /* NaN/Inf samples are skipped */
            s[k].points[s[k].npoints].ts = t->valuedouble;
            s[k].points[s[k].npoints].value = val;
            s[k].npoints++;
        }
        k++;
    }
    *out = s;
    *nout = k;
out:
    cJSON_Delete(doc);
    curl_free(q);
    curl_easy_cleanup(c);
    dbp_buf_release(&url);
    dbp_buf_release(&body);
    return rc;
}

int dbp_prom_escape(struct dbp_buf *b, const char *v)
{
    char tmp[512];
    size_t o = 0;
    int rc = 0;
    for (const char *p = v; *p && !rc; p++) {
        if (o + 3 >= sizeof(tmp)) {
            rc = dbp_buf_append(b, tmp, o);
            o = 0;
        }
        if (*p == '\\' || *p == '"') {
            tmp[o++] = '\\';
            tmp[o++] = *p;
        } else if (*p == '\n') {
            tmp[o++] = '\\';
            tmp[o++] = 'n';
        } else {
            tmp[o++] = *p;
        }
    }
    return rc ? rc : dbp_buf_append(b, tmp, o);
}

void dbp_prom_sanitize(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < outsz; p++)
        out[o++] = (isalnum((unsigned char)*p) || *p == '_' || *p == ':') ? *p : '_';
    out[o] = '\0';
}

int dbp_promql_string(struct dbp_buf *b, const char *v)
{
    int rc = dbp_buf_puts(b, "\"");
    for (const char *p = v; *p && !rc; p++) {
        if (*p == '\\' || *p == '"')
            rc = dbp_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            rc = dbp_buf_puts(b, "\\n");
        else
            rc = dbp_buf_append(b, p, 1);
    }
    return rc ? rc : dbp_buf_puts(b, "\"");
}
