/*
 * http.h - the HTTP core: a declarative route table on libmicrohttpd.
 *
 * Handlers are plain functions `int h(struct dbp_req *, struct dbp_resp *)`.
 * They read the request through the accessors below, and either fill resp
 * (dbp_resp_json / dbp_resp_text / dbp_resp_sse) and return 0, or return a
 * negative DBP_E* code with req->err filled; the router, not the handler,
 * maps codes to statuses and writes the one error envelope
 * {"detail": "...", "code": "..."}.
 *
 * Before calling a handler the router has already: matched the path
 * (literal segments beat captures; 404 vs 405 with Allow), refused an
 * oversized body with 413 before reading it, checked the bearer token for
 * DBP_R_MUTATES routes, checked the content type and parsed the JSON body
 * once for DBP_R_JSON_BODY routes (400 on malformed JSON), and assigned a
 * request id.  Handlers run on MHD threads, in parallel: they may only call
 * module functions documented as thread-safe, and must not block on long
 * work (submit a job instead, see jobs.h).
 */
#ifndef DBP_HTTP_H
#define DBP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"
#include "dbp/util.h"

struct dbp_app;
struct dbp_server;

enum dbp_method {
    DBP_GET = 1 << 0,
    DBP_POST = 1 << 1,
    DBP_PUT = 1 << 2,
    DBP_DELETE = 1 << 3,
    DBP_PATCH = 1 << 4,
};

enum dbp_route_flags {
    DBP_R_JSON_BODY = 1 << 0, /* parse the body as JSON (may be absent unless BODY_REQUIRED) */
    DBP_R_MUTATES = 1 << 1,   /* needs the bearer token when one is configured */
    DBP_R_ASYNC = 1 << 2,     /* answers 202 with a job id (documentation) */
    DBP_R_SSE = 1 << 3,       /* Server-Sent Events stream */
    DBP_R_TEXT = 1 << 4,      /* non-JSON response (documentation) */
    DBP_R_BODY_REQUIRED = 1 << 5,
};

struct dbp_req;
struct dbp_resp;
typedef int (*dbp_handler_fn)(struct dbp_req *req, struct dbp_resp *resp);

struct dbp_route {
    int method;
    const char *pattern;  /* "/api/workload/{id}/stop" */
    dbp_handler_fn handler;
    unsigned flags;
    size_t max_body;      /* 0 = server default (server.max_body) */
    const char *summary;  /* one line, for --dump-routes, OpenAPI and README */
    const char *tag;      /* group in OpenAPI */
};

#define DBP_MAX_PARAMS 8
#define DBP_MAX_PATH 2048
#define DBP_MAX_SEGMENTS 16

struct dbp_param {
    char name[32];
    char *value; /* decoded, owned by the request */
};

struct dbp_req {
    char id[17];
    int method;
    const char *method_str;
    const char *path;              /* raw path as received */
    const struct dbp_route *route; /* never NULL inside a handler */
    struct dbp_param params[DBP_MAX_PARAMS];
    int nparams;
    cJSON *body;                   /* parsed JSON body or NULL (borrowed) */
    const char *raw_body;
    size_t raw_len;
    struct dbp_app *app;
    struct dbp_err err;            /* handlers fill this when returning < 0 */
    void *conn;                    /* struct MHD_Connection *, private */
    void *priv;                    /* router's per-request state, private */
};

/* Deferred responses carry either JSON, raw bytes, or an SSE producer. */
#define DBP_RESP_MAX_HEADERS 8

/*
 * An SSE producer is called repeatedly on the connection's thread.  It may
 * block (up to ~1 s at a time, so shutdown is prompt) waiting for an event;
 * it appends zero or more complete events ("event: x\ndata: ...\n\n") to
 * out and returns 0, or returns < 0 to end the stream.
 */
typedef int (*dbp_sse_fn)(void *cls, struct dbp_buf *out);

struct dbp_resp {
    int status;
    cJSON *json;
    char *body;
    size_t len;
    const char *ctype;
    struct {
        const char *name; /* static string */
        char *value;
    } headers[DBP_RESP_MAX_HEADERS];
    int nheaders;
    dbp_sse_fn sse;
    void *sse_cls;
    void (*sse_free)(void *cls);
};

/* Route parameter ({name}) or NULL. */
const char *dbp_req_param(const struct dbp_req *req, const char *name);
/* Percent-decoded query parameter (first occurrence) or NULL.  The string
 * lives as long as the request. */
const char *dbp_req_query(struct dbp_req *req, const char *name);
/* Every value of a repeated query parameter; returns the count (<= max). */
int dbp_req_query_all(struct dbp_req *req, const char *name, const char **out, int max);
/* Request header or NULL. */
const char *dbp_req_header(const struct dbp_req *req, const char *name);
/* Returns true if any query parameter not in the NULL-terminated list is
 * present, and names it in req->err (422). */
bool dbp_req_unknown_query(struct dbp_req *req, const char *const *allowed);

/* Responses.  The body arguments are consumed (ownership moves to resp). */
void dbp_resp_json(struct dbp_resp *resp, int status, cJSON *body);
void dbp_resp_text(struct dbp_resp *resp, int status, const char *ctype, char *body, size_t len);
void dbp_resp_header(struct dbp_resp *resp, const char *name, const char *value);
void dbp_resp_sse(struct dbp_resp *resp, dbp_sse_fn fn, void *cls, void (*free_cls)(void *));
/* Convenience: 202 {"job_id": id, "status": "queued", "status_url": ...}. */
void dbp_resp_accepted(struct dbp_resp *resp, const char *job_id, cJSON *extra);

/* ---- router (pure, unit-testable) ------------------------------------- */

struct dbp_router;

/* Validates the table: no duplicates, no two patterns matching the same
 * paths with the same method, handlers non-NULL.  Sorts by specificity. */
int dbp_router_new(const struct dbp_route *const *tables, const size_t *counts, int ntables,
                   struct dbp_router **out, struct dbp_err *err);
void dbp_router_free(struct dbp_router *r);

enum dbp_match { DBP_MATCH_OK, DBP_MATCH_NOTFOUND, DBP_MATCH_METHOD, DBP_MATCH_BADPATH };

/*
 * Match a raw path (not yet percent-decoded).  Fills req->route and
 * req->params (decoded values, heap: free with dbp_req_params_free) on OK;
 * *allow receives the methods accepted for the path (for 405 and OPTIONS).
 * BADPATH: empty / dot segments, NUL, too long, bad escapes (detail in err).
 */
enum dbp_match dbp_router_match(const struct dbp_router *r, int method, const char *path,
                                struct dbp_req *req, int *allow, struct dbp_err *err);
void dbp_req_params_free(struct dbp_req *req);

size_t dbp_router_count(const struct dbp_router *r);
const struct dbp_route *dbp_router_at(const struct dbp_router *r, size_t i);
/* Index of a route in the router's table (for per-route metrics). */
size_t dbp_router_index(const struct dbp_router *r, const struct dbp_route *route);

const char *dbp_method_name(int method);
int dbp_method_from_name(const char *name);
/* "GET, POST" into out. */
void dbp_methods_str(int mask, char *out, size_t outsz);

/* Percent-decode src[0..n) into a new string; NULL on a bad escape or NUL. */
char *dbp_percent_decode(const char *src, size_t n);

/* ---- server ------------------------------------------------------------- */

struct dbp_server_opts {
    const char *listen;   /* "127.0.0.1" */
    int port;             /* 0 = any */
    int threads;          /* unused with thread-per-connection; kept for config */
    int conn_timeout_s;
    int conn_limit;
    size_t max_body;
    const char *token;    /* "" = none */
    const char (*cors)[256];
    int ncors;
};

int dbp_server_new(struct dbp_app *app, struct dbp_router *router,
                   const struct dbp_server_opts *opts, struct dbp_server **out,
                   struct dbp_err *err);
int dbp_server_start(struct dbp_server *s, struct dbp_err *err);
/* The bound port (after start). */
int dbp_server_port(const struct dbp_server *s);
/* Stop accepting, let in-flight requests finish (up to grace_ms), close. */
void dbp_server_stop(struct dbp_server *s, int grace_ms);
void dbp_server_free(struct dbp_server *s);
bool dbp_server_stopping(const struct dbp_server *s);
/* Swap token and CORS list at runtime (SIGHUP).  Thread-safe. */
void dbp_server_set_security(struct dbp_server *s, const char *token, const char (*cors)[256],
                             int ncors);
/* Append the request metrics in Prometheus text format. */
int dbp_server_render_metrics(struct dbp_server *s, struct dbp_buf *out);
const struct dbp_router *dbp_server_router(const struct dbp_server *s);

/* ---- JSON helpers for handlers ------------------------------------------ */

/*
 * Field readers fill req->err with a 422 naming the field and return
 * DBP_ESCHEMA when a present field has the wrong type or range; absent
 * fields leave *out untouched and return 0 unless required.
 */
int dbp_json_str(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 size_t maxlen, const char **out);
int dbp_json_int(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 long long min, long long max, long long *out);
int dbp_json_num(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 double min, double max, double *out);
int dbp_json_bool(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                  bool *out);
/* Unknown fields: 422 naming the first field not in the NULL-terminated
 * allowed list. */
int dbp_json_only(struct dbp_req *req, const cJSON *obj, const char *const *allowed);
/* The body must be an object (or absent when !required); returns it. */
int dbp_json_body_object(struct dbp_req *req, bool required, const cJSON **out);

#endif
