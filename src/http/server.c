/*
 * server.c - libmicrohttpd glue: the three-phase access handler, the
 * response builder, request metrics and the access log.
 *
 * DESIGN
 * - Threading: MHD_USE_THREAD_PER_CONNECTION.  It lets a Server-Sent
 *   Events producer block (briefly, in a loop) on its own thread without
 *   stalling other clients, which a fixed pool cannot; the connection limit
 *   bounds the thread count.
 * - Phases (see MHD's largepost example): first call allocates struct
 *   conn_state, matches the route and refuses what can be refused without
 *   the body (404/405/413/401/415); body calls append to a bounded buffer;
 *   the final call parses JSON once, runs the handler and queues exactly
 *   one response.  NOTIFY_COMPLETED frees everything, aborts included.
 * - The URL is not unescaped by MHD (identity unescape callback): the
 *   router splits the raw path before decoding so %2F cannot forge
 *   segments; query values are decoded on demand.
 * - Shutdown: quiesce (stop accepting), wait for in-flight requests up to
 *   the grace period, then stop the daemon.  SSE producers watch
 *   `stopping` so they end promptly.
 */
#define _GNU_SOURCE
#include "dbp/http.h"
#include "dbp/log.h"
#include "dbp/util.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT_T;
#else
typedef enum MHD_Result MHD_RESULT_T;
#endif

/* Status codes we count individually; anything else lands in "other". */
static const int counted_status[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409,
                                     413, 415, 422, 500, 502, 503, 504};
#define NSTATUS (DBP_ARRAY_SIZE(counted_status) + 1)
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,   5,    10};
#define NBUCKETS DBP_ARRAY_SIZE(buckets)

struct route_stats {
    atomic_ulong by_status[NSTATUS];
    atomic_ulong bucket[NBUCKETS];
    atomic_ulong count;
    atomic_ullong sum_ns;
};

struct dbp_server {
    struct dbp_app *app;
    struct dbp_router *router;
    struct MHD_Daemon *mhd;
    char listen[256];
    int port;
    int conn_timeout_s;
    int conn_limit;
    size_t max_body;

    pthread_mutex_t sec_lock; /* guards token and cors */
    char token[256];
    char cors[16][256];
    int ncors;

    atomic_int inflight;
    atomic_bool stopping;
    struct route_stats *stats; /* router count + 1 (unmatched) */
};

struct conn_state {
    struct dbp_req req;
    struct dbp_buf body;
    bool too_big;
    bool rejected; /* response already queued in phase 1 */
    uint64_t start_ns;
    int status;
    size_t resp_bytes;
    size_t route_idx;
    char **decoded; /* query strings decoded for this request (grows: no silent cap) */
    int ndecoded, capdecoded;
    /* SSE */
    dbp_sse_fn sse;
    void *sse_cls;
    void (*sse_free)(void *);
    struct dbp_buf sse_buf;
    size_t sse_off;
    struct dbp_server *srv;
};

/* ---- request accessors --------------------------------------------------- */

const char *dbp_req_param(const struct dbp_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

static const char *keep_decoded(struct dbp_req *req, const char *raw)
{
    struct conn_state *cs = req->priv;
    if (!raw)
        return NULL;
    char *d = dbp_percent_decode(raw, strlen(raw));
    if (!d)
        return NULL;
    if (!cs) {
        free(d);
        return NULL;
    }
    if (cs->ndecoded == cs->capdecoded) {
        /* The query string is bounded by MHD's connection memory limit, so
         * this cannot grow without bound. */
        cs->capdecoded = cs->capdecoded ? 2 * cs->capdecoded : 8;
        cs->decoded = dbp_xrealloc(cs->decoded, (size_t)cs->capdecoded * sizeof(*cs->decoded));
    }
    cs->decoded[cs->ndecoded++] = d;
    return d;
}

const char *dbp_req_query(struct dbp_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return NULL;
    return keep_decoded(req, raw);
}

struct qall {
    struct dbp_req *req;
    const char *name;
    const char **out;
    int max, n;
};

static MHD_RESULT_T qall_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct qall *q = cls;
    (void)kind;
    if (strcmp(key, q->name) == 0 && q->n < q->max) {
        const char *d = keep_decoded(q->req, value ? value : "");
        if (d)
            q->out[q->n++] = d;
    }
    return MHD_YES;
}

int dbp_req_query_all(struct dbp_req *req, const char *name, const char **out, int max)
{
    struct qall q = {req, name, out, max, 0};
    if (req->conn)
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, qall_cb, &q);
    return q.n;
}

struct qunk {
    const char *const *allowed;
    char bad[64];
};

static MHD_RESULT_T qunk_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct qunk *q = cls;
    (void)kind;
    (void)value;
    for (const char *const *a = q->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    dbp_strlcpy(q->bad, key, sizeof(q->bad));
    return MHD_NO;
}

bool dbp_req_unknown_query(struct dbp_req *req, const char *const *allowed)
{
    struct qunk q = {allowed, ""};
    if (!req->conn)
        return false;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, qunk_cb, &q);
    if (!q.bad[0])
        return false;
    dbp_err_set(&req->err, DBP_ESCHEMA, "unknown query parameter '%s'", q.bad);
    return true;
}

const char *dbp_req_header(const struct dbp_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- responses ----------------------------------------------------------- */

static void resp_clear_body(struct dbp_resp *resp)
{
    cJSON_Delete(resp->json);
    resp->json = NULL;
    DBP_FREE(resp->body);
    resp->len = 0;
}

void dbp_resp_json(struct dbp_resp *resp, int status, cJSON *body)
{
    resp_clear_body(resp);
    resp->status = status;
    resp->json = body;
    resp->ctype = "application/json";
}

void dbp_resp_text(struct dbp_resp *resp, int status, const char *ctype, char *body, size_t len)
{
    resp_clear_body(resp);
    resp->status = status;
    resp->body = body;
    resp->len = len;
    resp->ctype = ctype;
}

void dbp_resp_header(struct dbp_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders < DBP_RESP_MAX_HEADERS) {
        resp->headers[resp->nheaders].name = name;
        resp->headers[resp->nheaders].value = dbp_xstrdup(value);
        resp->nheaders++;
    }
}

void dbp_resp_sse(struct dbp_resp *resp, dbp_sse_fn fn, void *cls, void (*free_cls)(void *))
{
    resp_clear_body(resp);
    resp->status = 200;
    resp->sse = fn;
    resp->sse_cls = cls;
    resp->sse_free = free_cls;
    resp->ctype = "text/event-stream";
}

void dbp_resp_accepted(struct dbp_resp *resp, const char *job_id, cJSON *extra)
{
    cJSON *o = extra ? extra : cJSON_CreateObject();
    char url[96];
    snprintf(url, sizeof(url), "/api/jobs/%s", job_id);
    cJSON_AddStringToObject(o, "job_id", job_id);
    if (!cJSON_GetObjectItemCaseSensitive(o, "status"))
        cJSON_AddStringToObject(o, "status", "queued");
    cJSON_AddStringToObject(o, "status_url", url);
    dbp_resp_json(resp, 202, o);
    dbp_resp_header(resp, "Location", url);
}

static void resp_release(struct dbp_resp *resp)
{
    resp_clear_body(resp);
    for (int i = 0; i < resp->nheaders; i++)
        free(resp->headers[i].value);
    resp->nheaders = 0;
    if (resp->sse_free && resp->sse_cls)
        resp->sse_free(resp->sse_cls);
    resp->sse_cls = NULL;
}

static void resp_error(struct dbp_resp *resp, int code, const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "detail", detail && *detail ? detail : dbp_strerror(code));
    cJSON_AddStringToObject(o, "code", dbp_errname(code));
    dbp_resp_json(resp, dbp_err_http_status(code), o);
}

/* ---- metrics -------------------------------------------------------------- */

static void stats_record(struct dbp_server *s, size_t idx, int status, double secs)
{
    struct route_stats *st = &s->stats[idx];
    size_t k = NSTATUS - 1;
    for (size_t i = 0; i < DBP_ARRAY_SIZE(counted_status); i++)
        if (counted_status[i] == status) {
            k = i;
            break;
        }
    atomic_fetch_add(&st->by_status[k], 1);
    for (size_t b = 0; b < NBUCKETS; b++)
        if (secs <= buckets[b]) {
            atomic_fetch_add(&st->bucket[b], 1);
            break;
        }
    atomic_fetch_add(&st->count, 1);
    atomic_fetch_add(&st->sum_ns, (unsigned long long)(secs * 1e9));
}

static const char *route_label(struct dbp_server *s, size_t idx)
{
    const struct dbp_route *r = dbp_router_at(s->router, idx);
    return r ? r->pattern : "unmatched";
}

int dbp_server_render_metrics(struct dbp_server *s, struct dbp_buf *out)
{
    size_t n = dbp_router_count(s->router) + 1;
    int rc = 0;
    rc |= dbp_buf_puts(out, "# HELP dbpecker_http_requests_total HTTP requests by route pattern, "
                            "method and status.\n# TYPE dbpecker_http_requests_total counter\n");
    for (size_t i = 0; i < n && !rc; i++) {
        const struct dbp_route *r = dbp_router_at(s->router, i);
        const char *method = r ? dbp_method_name(r->method) : "any";
        for (size_t k = 0; k < NSTATUS; k++) {
            unsigned long v = atomic_load(&s->stats[i].by_status[k]);
            if (!v)
                continue;
            char code[8];
            if (k < DBP_ARRAY_SIZE(counted_status))
                snprintf(code, sizeof(code), "%d", counted_status[k]);
            else
                snprintf(code, sizeof(code), "other");
            rc |= dbp_buf_printf(out,
                                 "dbpecker_http_requests_total{route=\"%s\",method=\"%s\","
                                 "status=\"%s\"} %lu\n",
                                 route_label(s, i), method, code, v);
        }
    }
    rc |= dbp_buf_puts(out, "# HELP dbpecker_http_request_duration_seconds Time from the first "
                            "byte of a request to its response being queued.\n"
                            "# TYPE dbpecker_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned long count = atomic_load(&s->stats[i].count);
        if (!count)
            continue;
        const char *label = route_label(s, i);
        unsigned long cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&s->stats[i].bucket[b]);
            rc |= dbp_buf_printf(out,
                                 "dbpecker_http_request_duration_seconds_bucket{route=\"%s\","
                                 "le=\"%g\"} %lu\n",
                                 label, buckets[b], cum);
        }
        rc |= dbp_buf_printf(out,
                             "dbpecker_http_request_duration_seconds_bucket{route=\"%s\","
                             "le=\"+Inf\"} %lu\n"
                             "dbpecker_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                             "dbpecker_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
                             label, count, label,
                             (double)atomic_load(&s->stats[i].sum_ns) / 1e9, label, count);
    }
    rc |= dbp_buf_printf(out,
                         "# HELP dbpecker_http_requests_in_flight Requests being handled.\n"
                         "# TYPE dbpecker_http_requests_in_flight gauge\n"
                         "dbpecker_http_requests_in_flight %d\n",
                         atomic_load(&s->inflight));
    return rc ? DBP_ENOMEM : 0;
}

/* ---- SSE ------------------------------------------------------------------ */

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct conn_state *cs = cls;
    (void)pos;
    for (;;) {
        if (cs->sse_off < cs->sse_buf.len) {
            size_t n = cs->sse_buf.len - cs->sse_off;
            if (n > max)
                n = max;
            memcpy(buf, cs->sse_buf.data + cs->sse_off, n);
            cs->sse_off += n;
            return (ssize_t)n;
        }
        dbp_buf_reset(&cs->sse_buf);
        cs->sse_off = 0;
        if (atomic_load(&cs->srv->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (cs->sse(cs->sse_cls, &cs->sse_buf) < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

/* ---- access handler --------------------------------------------------------- */

static MHD_RESULT_T queue(struct dbp_server *s, struct MHD_Connection *c, struct conn_state *cs,
                          struct dbp_resp *resp)
{
    struct MHD_Response *r;
    char *text = NULL;
    size_t len = 0;

    if (resp->sse) {
        cs->sse = resp->sse;
        cs->sse_cls = resp->sse_cls;
        cs->sse_free = resp->sse_free;
        resp->sse_cls = NULL; /* ownership moves to the connection */
        resp->sse_free = NULL;
        dbp_buf_init(&cs->sse_buf, 1 << 20);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_reader, cs, NULL);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    } else {
        if (resp->json) {
            text = cJSON_PrintUnformatted(resp->json);
            if (!text) {
                resp_error(resp, DBP_ENOMEM, "cannot serialise the response");
                text = cJSON_PrintUnformatted(resp->json);
            }
            len = text ? strlen(text) : 0;
        } else if (resp->body) {
            text = resp->body;
            len = resp->len;
            resp->body = NULL;
        }
        if (text)
            r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        else
            r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (resp->ctype)
        MHD_add_response_header(r, "Content-Type", resp->ctype);
    MHD_add_response_header(r, "X-Request-Id", cs->req.id);
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);

    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin) {
        pthread_mutex_lock(&s->sec_lock);
        for (int i = 0; i < s->ncors; i++)
            if (strcmp(s->cors[i], "*") == 0 || strcmp(s->cors[i], origin) == 0) {
                MHD_add_response_header(r, "Access-Control-Allow-Origin",
                                        strcmp(s->cors[i], "*") == 0 ? "*" : origin);
                MHD_add_response_header(r, "Vary", "Origin");
                MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                        "X-Request-Id, Location");
                break;
            }
        pthread_mutex_unlock(&s->sec_lock);
    }
    cs->status = resp->status;
    cs->resp_bytes = len;
    MHD_RESULT_T ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static MHD_RESULT_T reject(struct dbp_server *s, struct MHD_Connection *c, struct conn_state *cs,
                           int code, const char *detail, int allow)
{
    struct dbp_resp resp = {0};
    resp_error(&resp, code, detail);
    if (allow) {
        char a[64];
        dbp_methods_str(allow, a, sizeof(a));
        dbp_resp_header(&resp, "Allow", a);
    }
    if (code == DBP_EAUTH)
        dbp_resp_header(&resp, "WWW-Authenticate", "Bearer");
    cs->rejected = true;
    MHD_RESULT_T ret = queue(s, c, cs, &resp);
    resp_release(&resp);
    return ret;
}

static bool token_ok(struct dbp_server *s, const char *auth)
{
    bool ok;
    pthread_mutex_lock(&s->sec_lock);
    if (!s->token[0]) {
        ok = true;
    } else if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        ok = false;
    } else {
        /* Constant-time over the token's length. */
        const char *given = auth + 7;
        size_t tl = strlen(s->token), gl = strlen(given);
        unsigned char diff = (unsigned char)(tl != gl);
        for (size_t i = 0; i < tl; i++)
            diff |= (unsigned char)(s->token[i] ^ (i < gl ? given[i] : 0));
        ok = diff == 0;
    }
    pthread_mutex_unlock(&s->sec_lock);
    return ok;
}

/* Largest body a body-less route accepts (it must be empty JSON). */
#define NOBODY_MAX 64

/* Whitespace, "{}", "null" or "[]" (with whitespace): nothing to ignore. */
static bool empty_json_body(const char *p, size_t n)
{
    char t[NOBODY_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k < NOBODY_MAX; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            t[k++] = p[i];
    t[k] = '\0';
    return k == 0 || strcmp(t, "{}") == 0 || strcmp(t, "null") == 0 || strcmp(t, "[]") == 0;
}

static bool is_json_ctype(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}


/* ---- request guards: cross-site requests and DNS rebinding ------------------
 *
 * A browser sends a "simple" cross-site request (GET/HEAD/POST with no
 * custom header and a form content type, or none) without asking the
 * server first; a page on any site could thus drive a token-less daemon on
 * loopback.  Three checks close that:
 *  - Host: without a token only loopback names are served (a DNS-rebinding
 *    page reaches us under its own name), as redis' protected mode does;
 *  - Origin / Sec-Fetch-Site on mutating routes: a cross-site request is
 *    refused unless its origin is listed in server.cors_origins;
 *  - a mutating POST must carry something only a preflighted request can
 *    carry: Content-Type application/json (even with no body), an
 *    Authorization header or X-Requested-With.  A listed origin (the
 *    dashboard) is exempt: the browser already enforces CORS for it.
 */

/* Copy the host part of an authority ("h:port", "[v6]:port") into out. */
static void authority_host(const char *auth, char *out, size_t outsz)
{
    size_t n;
    if (auth[0] == '[') {
        const char *e = strchr(auth, ']');
        auth++;
        n = e ? (size_t)(e - auth) : strlen(auth);
    } else {
        const char *e = strchr(auth, ':');
        n = e ? (size_t)(e - auth) : strlen(auth);
    }
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, auth, n);
    out[n] = '\0';
}

static bool host_is_loopback(const char *hostport)
{
    char h[256];
    struct in_addr a4;
    struct in6_addr a6;
    authority_host(hostport, h, sizeof(h));
    size_t n = strlen(h);
    if (n && h[n - 1] == '.') /* "localhost." is the same name */
        h[--n] = '\0';
    if (strcasecmp(h, "localhost") == 0)
        return true;
    /* RFC 6761: *.localhost never leaves the machine */
    if (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0)
        return true;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* 1: the origin is listed (exactly), 2: "*" is listed, 0: not listed. */
static int origin_listed(struct dbp_server *s, const char *origin)
{
    int r = 0;
    pthread_mutex_lock(&s->sec_lock);
    for (int i = 0; i < s->ncors && r != 1; i++) {
        if (strcmp(s->cors[i], origin) == 0)
            r = 1;
        else if (strcmp(s->cors[i], "*") == 0)
            r = 2;
    }
    pthread_mutex_unlock(&s->sec_lock);
    return r;
}

/* Same origin: the Origin's authority is the Host the request was sent to. */
static bool same_origin(const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");
    return p && host && strcasecmp(p + 3, host) == 0;
}

static bool has_token(struct dbp_server *s)
{
    pthread_mutex_lock(&s->sec_lock);
    bool t = s->token[0] != '\0';
    pthread_mutex_unlock(&s->sec_lock);
    return t;
}

/* 0, or a DBP_E* code with the detail in d. */
static int guard(struct dbp_server *s, struct MHD_Connection *c, const struct dbp_route *rt,
                 int method, char *d, size_t dsz)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && !has_token(s) && !host_is_loopback(host)) {
        snprintf(d, dsz, "Host '%.64s' is not a loopback name and server.token is not set "
                 "(set a token to serve other names)", host);
        return DBP_EFORBIDDEN;
    }
    if (!rt || !(rt->flags & DBP_R_MUTATES))
        return 0;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    int listed = origin ? origin_listed(s, origin) : 0;
    bool same = origin && same_origin(origin, host);
    if (origin && !listed && !same) {
        snprintf(d, dsz, "cross-site request refused: Origin '%.64s' is not in "
                 "server.cors_origins", origin);
        return DBP_EFORBIDDEN;
    }
    if (site && (strcmp(site, "cross-site") == 0 || strcmp(site, "same-site") == 0) && !listed) {
        snprintf(d, dsz, "cross-site request refused (Sec-Fetch-Site: %.16s, origin not in "
                 "server.cors_origins)", site);
        return DBP_EFORBIDDEN;
    }
    if (method == DBP_POST && listed != 1) {
        bool json =
            is_json_ctype(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
        if (!json && !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") &&
            !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Requested-With")) {
            snprintf(d, dsz, "a mutating request must carry Content-Type: application/json "
                     "(even with no body) or an X-Requested-With header");
            return DBP_EMEDIA;
        }
    }
    return 0;
}

static MHD_RESULT_T preflight(struct dbp_server *s, struct MHD_Connection *c,
                              struct conn_state *cs, int allow)
{
    struct dbp_resp resp = {0};
    char a[64];
    dbp_resp_text(&resp, 204, NULL, NULL, 0);
    dbp_methods_str(allow, a, sizeof(a));
    dbp_resp_header(&resp, "Allow", a);
    dbp_resp_header(&resp, "Access-Control-Allow-Methods", a);
    /* Answer the headers the browser asks for when they are plain header
     * names (the original allowed "*"; the dashboard asks for Cache-Control,
     * Pragma and Expires).  Allowing a header name grants nothing by itself:
     * the guards above still judge the real request. */
    char hdrs[512] = "Authorization, Content-Type, X-Requested-With";
    const char *want =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
    for (const char *p = want; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        bool ok = n > 0 && n < 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                 (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_';
        size_t l = strlen(hdrs);
        if (ok && l + n + 3 < sizeof(hdrs)) {
            memcpy(hdrs + l, ", ", 2);
            memcpy(hdrs + l + 2, p, n);
            hdrs[l + 2 + n] = '\0';
        }
        p += n;
    }
    dbp_resp_header(&resp, "Access-Control-Allow-Headers", hdrs);
    dbp_resp_header(&resp, "Access-Control-Max-Age", "600");
    cs->rejected = true;
    MHD_RESULT_T ret = queue(s, c, cs, &resp);
    resp_release(&resp);
    return ret;
}

static MHD_RESULT_T handle(void *cls, struct MHD_Connection *c, const char *url,
                           const char *method, const char *version, const char *upload_data,
                           size_t *upload_data_size, void **req_cls)
{
    struct dbp_server *s = cls;
    struct conn_state *cs = *req_cls;
    (void)version;

    if (!cs) {
        /* Phase 1: headers are in. */
        cs = dbp_xcalloc(1, sizeof(*cs));
        *req_cls = cs;
        cs->srv = s;
        cs->start_ns = dbp_now_ns();
        cs->route_idx = dbp_router_count(s->router);
        cs->req.priv = cs;
        cs->req.conn = c;
        cs->req.app = s->app;
        cs->req.path = url;
        cs->req.method_str = method;
        dbp_random_hex(cs->req.id, 16);
        atomic_fetch_add(&s->inflight, 1);

        bool head = strcmp(method, "HEAD") == 0;
        bool options = strcmp(method, "OPTIONS") == 0;
        int m = head ? DBP_GET : dbp_method_from_name(method);
        int allow = 0;
        struct dbp_err err = {0};
        if (!m && !options)
            return reject(s, c, cs, DBP_EMETHOD, "unsupported method", 0);
        char gd[DBP_ERR_MSG_MAX];
        int g = guard(s, c, NULL, m, gd, sizeof(gd)); /* Host, before anything is revealed */
        if (g)
            return reject(s, c, cs, g, gd, 0);
        enum dbp_match mr =
            dbp_router_match(s->router, options ? DBP_GET : m, url, &cs->req, &allow, &err);
        if (options) {
            if (mr == DBP_MATCH_BADPATH)
                return reject(s, c, cs, DBP_EINVAL, err.msg, 0);
            if (!allow)
                return reject(s, c, cs, DBP_ENOTFOUND, err.msg, 0);
            dbp_req_params_free(&cs->req);
            return preflight(s, c, cs, allow);
        }
        cs->req.method = m;
        switch (mr) {
        case DBP_MATCH_BADPATH:
            return reject(s, c, cs, DBP_EINVAL, err.msg, 0);
        case DBP_MATCH_NOTFOUND:
            return reject(s, c, cs, DBP_ENOTFOUND, err.msg, 0);
        case DBP_MATCH_METHOD: {
            char d[128];
            snprintf(d, sizeof(d), "method %s is not allowed here", method);
            return reject(s, c, cs, DBP_EMETHOD, d, allow);
        }
        case DBP_MATCH_OK:
            break;
        }
        cs->route_idx = dbp_router_index(s->router, cs->req.route);
        const struct dbp_route *rt = cs->req.route;
        if ((rt->flags & DBP_R_MUTATES) &&
            !token_ok(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
            return reject(s, c, cs, DBP_EAUTH, "missing or invalid bearer token", 0);
        if ((g = guard(s, c, rt, m, gd, sizeof(gd))))
            return reject(s, c, cs, g, gd, 0);

        size_t limit = rt->max_body ? rt->max_body : s->max_body;
        /* A route without a body still accepts a small empty JSON body
         * (clients send "{}" with every POST); phase 3 checks it is empty. */
        if (!(rt->flags & DBP_R_JSON_BODY))
            limit = NOBODY_MAX;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            int64_t n;
            if (dbp_parse_i64(cl, 0, INT64_MAX, &n))
                return reject(s, c, cs, DBP_EINVAL, "bad Content-Length", 0);
            if ((uint64_t)n > limit) {
                char d[128];
                snprintf(d, sizeof(d), "request body larger than %zu bytes", limit);
                return reject(s, c, cs, DBP_ETOOBIG,
                              (rt->flags & DBP_R_JSON_BODY) ? d : "this route takes no body", 0);
            }
            if (n > 0 && (rt->flags & DBP_R_JSON_BODY) &&
                !is_json_ctype(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
                return reject(s, c, cs, DBP_EMEDIA, "Content-Type must be application/json", 0);
        }
        dbp_buf_init(&cs->body, limit ? limit : 1);
        return MHD_YES;
    }

    if (cs->rejected) {
        /* Response already queued; discard whatever body arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (*upload_data_size) {
        /* Phase 2: body chunks (chunked uploads have no Content-Length). */
        if (!cs->too_big && dbp_buf_append(&cs->body, upload_data, *upload_data_size) != 0)
            cs->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* Phase 3: run the handler. */
    const struct dbp_route *rt = cs->req.route;
    if (cs->too_big)
        return reject(s, c, cs, DBP_ETOOBIG, "request body too large", 0);
    if ((rt->flags & DBP_R_JSON_BODY) && cs->body.len > 0) {
        if (!is_json_ctype(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
            return reject(s, c, cs, DBP_EMEDIA, "Content-Type must be application/json", 0);
        const char *end = NULL;
        /* cJSON's require_null_terminated wants the NUL inside the length;
         * dbp_buf keeps one after the data. */
        cs->req.body = cJSON_ParseWithLengthOpts(cs->body.data, cs->body.len + 1, &end, true);
        if (!cs->req.body) {
            char d[128];
            size_t off = end ? (size_t)(end - cs->body.data) : 0;
            snprintf(d, sizeof(d), "malformed JSON body near byte %zu", off);
            return reject(s, c, cs, DBP_EINVAL, d, 0);
        }
        cs->req.raw_body = cs->body.data;
        cs->req.raw_len = cs->body.len;
    } else if (cs->body.len > 0 && !empty_json_body(cs->body.data, cs->body.len)) {
        return reject(s, c, cs, DBP_ESCHEMA, "this route takes no body (an empty {} is accepted)",
                      0);
    }
    if ((rt->flags & DBP_R_BODY_REQUIRED) && !cs->req.body)
        return reject(s, c, cs, DBP_ESCHEMA, "a JSON body is required", 0);

    struct dbp_resp resp = {0};
    resp.status = 200;
    int rc = rt->handler(&cs->req, &resp);
    if (rc < 0) {
        char detail[DBP_ERR_MSG_MAX];
        dbp_strlcpy(detail, cs->req.err.msg, sizeof(detail));
        resp_release(&resp);
        resp_error(&resp, rc, detail);
        if (rc == DBP_EAUTH)
            dbp_resp_header(&resp, "WWW-Authenticate", "Bearer");
    } else if (!resp.json && !resp.body && !resp.sse && resp.status != 204) {
        resp_error(&resp, DBP_EINTERNAL, "handler produced no response");
    }
    MHD_RESULT_T ret = queue(s, c, cs, &resp);
    resp_release(&resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct dbp_server *s = cls;
    struct conn_state *cs = *req_cls;
    (void)c;
    if (!cs)
        return;
    double secs = (double)(dbp_now_ns() - cs->start_ns) / 1e9;
    int status = cs->status ? cs->status : 499; /* client went away */
    stats_record(s, cs->route_idx, status, secs);
    const struct dbp_route *rt = cs->req.route;
    dbp_log(status >= 500 ? DBP_LOG_WARN : DBP_LOG_INFO, "http",
            "[%s] %s %s %d %zuB %.3fms%s", cs->req.id, cs->req.method_str,
            rt ? rt->pattern : "-", status, cs->resp_bytes, secs * 1000,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    cJSON_Delete(cs->req.body);
    dbp_req_params_free(&cs->req);
    dbp_buf_release(&cs->body);
    dbp_buf_release(&cs->sse_buf);
    for (int i = 0; i < cs->ndecoded; i++)
        free(cs->decoded[i]);
    free(cs->decoded);
    if (cs->sse_free && cs->sse_cls)
        cs->sse_free(cs->sse_cls);
    atomic_fetch_sub(&s->inflight, 1);
    free(cs);
    *req_cls = NULL;
}

/* Identity: the router decodes segments itself (see DESIGN). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* MHD hands us its own format strings; they are trusted library text. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dbp_log(DBP_LOG_DEBUG, "mhd", "%s", msg);
}
#pragma GCC diagnostic pop

/* ---- lifecycle ---------------------------------------------------------------- */

int dbp_server_new(struct dbp_app *app, struct dbp_router *router,
                   const struct dbp_server_opts *opts, struct dbp_server **out,
                   struct dbp_err *err)
{
    struct dbp_server *s = dbp_xcalloc(1, sizeof(*s));
    s->app = app;
    s->router = router;
    if (dbp_strlcpy(s->listen, opts->listen, sizeof(s->listen)) >= sizeof(s->listen)) {
        free(s);
        return dbp_err_set(err, DBP_EINVAL, "listen address too long");
    }
    s->port = opts->port;
    s->conn_timeout_s = opts->conn_timeout_s > 0 ? opts->conn_timeout_s : 30;
    s->conn_limit = opts->conn_limit > 0 ? opts->conn_limit : 256;
    s->max_body = opts->max_body ? opts->max_body : 1 << 20;
    pthread_mutex_init(&s->sec_lock, NULL);
    dbp_server_set_security(s, opts->token ? opts->token : "", opts->cors, opts->ncors);
    s->stats = dbp_xcalloc(dbp_router_count(router) + 1, sizeof(*s->stats));
    *out = s;
    return 0;
}

void dbp_server_set_security(struct dbp_server *s, const char *token, const char (*cors)[256],
                             int ncors)
{
    pthread_mutex_lock(&s->sec_lock);
    dbp_strlcpy(s->token, token ? token : "", sizeof(s->token));
    s->ncors = 0;
    for (int i = 0; i < ncors && i < 16; i++)
        dbp_strlcpy(s->cors[s->ncors++], cors[i], sizeof(s->cors[0]));
    pthread_mutex_unlock(&s->sec_lock);
}

int dbp_server_start(struct dbp_server *s, struct dbp_err *err)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it to stop accepting at once
     * (microhttpd.h); without it quiesce fails and we would keep accepting
     * during the shutdown grace period. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;

    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    const char *addr = strcmp(s->listen, "localhost") == 0 ? "127.0.0.1" : s->listen;
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)s->port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)s->port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        return dbp_err_set(err, DBP_EINVAL, "server.listen '%s' is not an IP address", s->listen);
    }
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->port, NULL, NULL, handle, s,
                              MHD_OPTION_SOCK_ADDR, sa,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                              MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->conn_timeout_s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->conn_limit,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
                              MHD_OPTION_END);
    if (!s->mhd)
        return dbp_err_set(err, DBP_EUNAVAIL, "cannot listen on %s:%d (in use or not permitted)",
                           s->listen, s->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        s->port = info->port;
    return 0;
}

int dbp_server_port(const struct dbp_server *s)
{
    return s->port;
}

bool dbp_server_stopping(const struct dbp_server *s)
{
    return atomic_load(&s->stopping);
}

const struct dbp_router *dbp_server_router(const struct dbp_server *s)
{
    return s->router;
}

void dbp_server_stop(struct dbp_server *s, int grace_ms)
{
    if (!s || !s->mhd)
        return;
    atomic_store(&s->stopping, true);
    /* The quiesced listen socket is ours to close, but only after
     * MHD_stop_daemon: MHD's polling thread may still hold the fd number,
     * which a concurrent open() elsewhere could otherwise reuse. */
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < grace_ms; waited += 20)
        usleep(20 * 1000);
    MHD_stop_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    s->mhd = NULL;
}

void dbp_server_free(struct dbp_server *s)
{
    if (!s)
        return;
    dbp_server_stop(s, 0);
    pthread_mutex_destroy(&s->sec_lock);
    explicit_bzero(s->token, sizeof(s->token));
    free(s->stats);
    free(s);
}
