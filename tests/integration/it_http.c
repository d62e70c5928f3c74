/*
 * it_http.c - the HTTP core end to end: the real daemon in-process on
 * 127.0.0.1:0, driven with libcurl and raw sockets.  Every bad input gets
 * its 4xx with a detail; nothing crashes or answers 5xx.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ithelp.h"
#include "dbp/app.h"
#include "dbp/config.h"
#include "dbp/daemon.h"
#include "dbp/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct it_daemon it;

static int setup(void **state)
{
    (void)state;
    return it_start(&it, "server:\n"
                         "  token: t0ken-for-tests\n"
                         "  max_body: 4096\n"
                         "  cors_origins: [\"http://dash.example:3000\"]\n");
}

static int teardown(void **state)
{
    (void)state;
    it_stop(&it);
    return 0;
}

static void expect_error(struct it_resp *r, long status, const char *code, const char *detail_part)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body);
    assert_non_null(r->json);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->json, "detail");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "code");
    assert_true(cJSON_IsString(d) && strlen(d->valuestring) > 0);
    assert_true(cJSON_IsString(c));
    assert_string_equal(c->valuestring, code);
    if (detail_part && !strstr(d->valuestring, detail_part))
        fail_msg("detail '%s' lacks '%s'", d->valuestring, detail_part);
}

static void health_root_and_ids(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/health");
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItem(r.json, "status")->valuestring, "healthy");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "services"), "http"));
    char id1[64], id2[64], ct[128];
    assert_true(it_header(&r, "X-Request-Id", id1, sizeof(id1)));
    assert_true(it_header(&r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/json");
    it_resp_free(&r);
    r = it_get(&it, "/");
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItem(r.json, "name")->valuestring, "dbpecker");
    assert_true(it_header(&r, "X-Request-Id", id2, sizeof(id2)));
    assert_string_not_equal(id1, id2);
    it_resp_free(&r);
    /* HEAD works like GET without a body. */
    assert_int_equal(it_req(&it, "HEAD", "/health", NULL, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    it_resp_free(&r);
}

static void not_found_and_method(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/api/nothing/here");
    expect_error(&r, 404, "not_found", "no route");
    it_resp_free(&r);
    r = it_post_json(&it, "/health", NULL);
    expect_error(&r, 405, "method_not_allowed", "POST");
    char allow[64];
    assert_true(it_header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET");
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "BREW", "/health", NULL, NULL, 0, NULL, &r), 0);
    assert_true(r.status == 405 || r.status == 400 || r.status == 501);
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "PUT", "/api/jobs/0123456789abcdef", NULL, NULL, 0, NULL, &r), 0);
    expect_error(&r, 405, "method_not_allowed", NULL);
    assert_true(it_header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET, DELETE");
    it_resp_free(&r);
}

static void paths_and_encoding(void **state)
{
    (void)state;
    static const char *bad[] = {"/api/../health", "/api/%2e%2e/health", "/api//jobs",
                                "/api/jobs/%zz", "/api/jobs/a%00b", "/./health"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_resp r = it_get(&it, bad[i]);
        expect_error(&r, 400, "bad_request", NULL);
        it_resp_free(&r);
    }
    char longp[5000];
    memset(longp, 'a', sizeof(longp));
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    struct it_resp r;
    assert_int_equal(it_req(&it, "GET", longp, NULL, NULL, 0, NULL, &r), 0);
    assert_true(r.status == 400 || r.status == 414 || r.status == 431);
    it_resp_free(&r);
    /* An encoded slash does not reach another route. */
    r = it_get(&it, "/api/jobs/..%2Fhealth");
    expect_error(&r, 404, "not_found", NULL);
    it_resp_free(&r);
    r = it_get(&it, "/api/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd");
    expect_error(&r, 404, "not_found", NULL);
    it_resp_free(&r);
    r = it_get(&it, "/health?x=%zz&y=1");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
}

static void bodies(void **state)
{
    (void)state;
    struct it_resp r = it_post_json(&it, "/api/echo", "{\"a\": [1, 2, {\"b\": null}]}");
    assert_int_equal(r.status, 200);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "body"), "a")));
    it_resp_free(&r);

    r = it_post_json(&it, "/api/echo", "{\"a\": ");
    expect_error(&r, 400, "bad_request", "malformed JSON");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/echo", "{\"a\": 1} trailing");
    expect_error(&r, 400, "bad_request", "malformed JSON");
    it_resp_free(&r);
    r = it_post_json(&it, "/api/echo", "\xff\xfe{}");
    expect_error(&r, 400, "bad_request", NULL);
    it_resp_free(&r);

    assert_int_equal(it_req(&it, "POST", "/api/echo", "text/plain", "{}", 2, NULL, &r), 0);
    expect_error(&r, 415, "unsupported_media_type", "application/json");
    it_resp_free(&r);
    assert_int_equal(
        it_req(&it, "POST", "/api/echo", "application/json; charset=utf-8", "{}", 2, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);

    /* 413 from Content-Length, before the body is read. */
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = '\0';
    r = it_post_json(&it, "/api/echo", big);
    expect_error(&r, 413, "payload_too_large", "4096");
    it_resp_free(&r);
    /* Chunked upload without Content-Length: caught while reading. */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/echo", "application/json", big, n, chunked, &r), 0);
    expect_error(&r, 413, "payload_too_large", NULL);
    it_resp_free(&r);
    free(big);

    /* A body on a route that takes none: an empty one is accepted (clients
     * send "{}" with every POST), anything else is refused. */
    assert_int_equal(it_req(&it, "GET", "/health", "application/json", "{}", 2, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "GET", "/health", "application/json", "{\"a\":1}", 7, NULL, &r),
                     0);
    expect_error(&r, 422, "validation_error", "no body");
    it_resp_free(&r);
    char pad[200];
    memset(pad, ' ', sizeof(pad));
    pad[0] = '{';
    pad[sizeof(pad) - 1] = '}';
    assert_int_equal(it_req(&it, "GET", "/health", "application/json", pad, sizeof(pad), NULL, &r),
                     0);
    expect_error(&r, 413, "payload_too_large", "no body");
    it_resp_free(&r);
}

/* More than 32 query values: none is silently dropped (review L2). */
static void many_query_values(void **state)
{
    (void)state;
    char path[2048] = "/api/echo?";
    for (int i = 0; i < 40; i++)
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "q=v%d&", i);
    strcat(path, "last=%41x");
    struct it_resp r = it_post_json(&it, path, "{}");
    assert_int_equal(r.status, 200);
    const cJSON *q = cJSON_GetObjectItem(r.json, "q");
    assert_int_equal(cJSON_GetArraySize(q), 40);
    assert_string_equal(cJSON_GetArrayItem(q, 39)->valuestring, "v39");
    const cJSON *last = cJSON_GetObjectItem(r.json, "last");
    assert_true(cJSON_IsString(last));
    assert_string_equal(last->valuestring, "Ax");
    it_resp_free(&r);
}

static void token_guards_mutations(void **state)
{
    (void)state;
    struct it_resp r = it_delete(&it, "/api/jobs/0123456789abcdef");
    expect_error(&r, 401, "unauthorized", "token");
    char www[64];
    assert_true(it_header(&r, "WWW-Authenticate", www, sizeof(www)));
    it_resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer nope", NULL};
    assert_int_equal(it_req(&it, "DELETE", "/api/jobs/0123456789abcdef", NULL, NULL, 0, wrong, &r), 0);
    expect_error(&r, 401, "unauthorized", NULL);
    it_resp_free(&r);
    const char *prefix[] = {"Authorization: Bearer t0ken-for-test", NULL};
    assert_int_equal(it_req(&it, "DELETE", "/api/jobs/0123456789abcdef", NULL, NULL, 0, prefix, &r), 0);
    expect_error(&r, 401, "unauthorized", NULL);
    it_resp_free(&r);
    const char *right[] = {"Authorization: Bearer t0ken-for-tests", NULL};
    assert_int_equal(it_req(&it, "DELETE", "/api/jobs/0123456789abcdef", NULL, NULL, 0, right, &r), 0);
    expect_error(&r, 404, "not_found", NULL);
    it_resp_free(&r);
    /* Reads need no token. */
    r = it_get(&it, "/api/jobs");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
}

static void cors(void **state)
{
    (void)state;
    struct it_resp r;
    char v[128];
    const char *good[] = {"Origin: http://dash.example:3000", NULL};
    const char *evil[] = {"Origin: http://evil.example", NULL};
    assert_int_equal(it_req(&it, "GET", "/health", NULL, NULL, 0, good, &r), 0);
    assert_true(it_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    assert_string_equal(v, "http://dash.example:3000");
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "GET", "/health", NULL, NULL, 0, evil, &r), 0);
    assert_false(it_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "OPTIONS", "/api/jobs/abc", NULL, NULL, 0, good, &r), 0);
    assert_int_equal(r.status, 204);
    assert_true(it_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)));
    assert_string_equal(v, "GET, DELETE");
    assert_true(it_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)));
    it_resp_free(&r);
    /* The original dashboard's preflights ask for cache headers. */
    const char *dash[] = {"Origin: http://dash.example:3000",
                          "Access-Control-Request-Method: GET",
                          "Access-Control-Request-Headers: cache-control,pragma, expires", NULL};
    assert_int_equal(it_req(&it, "OPTIONS", "/api/jobs", NULL, NULL, 0, dash, &r), 0);
    assert_int_equal(r.status, 204);
    assert_true(it_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)));
    assert_non_null(strstr(v, "cache-control"));
    assert_non_null(strstr(v, "pragma"));
    assert_non_null(strstr(v, "expires"));
    assert_non_null(strstr(v, "Authorization"));
    it_resp_free(&r);
    const char *odd[] = {"Origin: http://dash.example:3000",
                         "Access-Control-Request-Headers: x-ok, bad\"name", NULL};
    assert_int_equal(it_req(&it, "OPTIONS", "/api/jobs", NULL, NULL, 0, odd, &r), 0);
    assert_true(it_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)));
    assert_non_null(strstr(v, "x-ok"));
    assert_null(strstr(v, "bad"));
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "OPTIONS", "/nowhere", NULL, NULL, 0, good, &r), 0);
    assert_int_equal(r.status, 404);
    it_resp_free(&r);
}

static void metrics_text(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/metrics");
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_true(it_header(&r, "Content-Type", ct, sizeof(ct)));
    assert_non_null(strstr(ct, "text/plain"));
    assert_non_null(strstr(r.body, "dbpecker_build_info{version=\"test\"} 1"));
    assert_non_null(strstr(r.body, "process_resident_memory_bytes"));
    assert_non_null(strstr(r.body, "dbpecker_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}"));
    assert_non_null(strstr(r.body, "dbpecker_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"}"));
    /* promtool (Debian's prometheus package) validates the exposition. */
    char path[300];
    snprintf(path, sizeof(path), "%s/metrics.txt", it.dir);
    FILE *f = fopen(path, "w");
    fwrite(r.body, 1, r.len, f);
    fclose(f);
    it_resp_free(&r);
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char out[4096];
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        const char *argv[] = {"sh", "-c", cmd, NULL};
        int rc = it_run(argv, out, sizeof(out));
        if (rc != 0)
            fail_msg("promtool check metrics failed: %s", out);
    } else {
        fprintf(stderr, "promtool not installed: exposition format not checked\n");
    }
}

static void openapi_matches_routes(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/openapi.json");
    assert_int_equal(r.status, 200);
    const cJSON *paths = cJSON_GetObjectItem(r.json, "paths");
    assert_non_null(paths);
    const struct dbp_route *const *t;
    const size_t *c;
    int n = dbp_app_routes(&t, &c);
    size_t nroutes = 0, nops = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < c[i]; j++) {
            const struct dbp_route *rt = &t[i][j];
            char m[16];
            size_t k;
            for (k = 0; dbp_method_name(rt->method)[k]; k++)
                m[k] = (char)(dbp_method_name(rt->method)[k] | 0x20);
            m[k] = '\0';
            const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, rt->pattern);
            if (!item || !cJSON_GetObjectItemCaseSensitive(item, m))
                fail_msg("route %s %s missing from /openapi.json", m, rt->pattern);
            nroutes++;
        }
    const cJSON *item;
    cJSON_ArrayForEach(item, paths)
    {
        const cJSON *op;
        cJSON_ArrayForEach(op, item) nops++;
    }
    assert_int_equal(nroutes, nops);
    it_resp_free(&r);
}

static void docs_page(void **state)
{
    (void)state;
    struct it_resp r = it_get(&it, "/docs");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "/openapi.json"));
    assert_non_null(strstr(r.body, "<title>dbpecker API</title>"));
    it_resp_free(&r);
}

/* Raw bytes that are not valid HTTP must not crash or hang the daemon. */
static void raw_garbage(void **state)
{
    (void)state;
    static const char *inputs[] = {
        "GARBAGE\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\nBad header without colon\r\n\r\n",
        "GET /health HTTP/9.9\r\n\r\n",
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\x00\x01\x02\x03",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)it.port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        size_t len = i == 5 ? 4 : strlen(inputs[i]);
        assert_true(write(fd, inputs[i], len) == (ssize_t)len);
        shutdown(fd, SHUT_WR);
        char buf[2048];
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t got = read(fd, buf, sizeof(buf) - 1);
        /* Every input but the non-HTTP bytes gets an answer (a 4xx). */
        if (i != 0 && i != 5 && got <= 0)
            fail_msg("input %zu: the connection closed without an answer", i);
        if (got > 0) {
            buf[got] = '\0';
            /* libmicrohttpd answers an unknown protocol version with 505,
             * the code RFC 9110 defines for exactly that; any other 5xx
             * would be a server failure. */
            if (i != 2)
                assert_null(strstr(buf, "HTTP/1.1 5"));
        }
        close(fd);
    }
    /* A huge header is refused, not buffered forever. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)it.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char *head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ";
    assert_true(write(fd, head, strlen(head)) > 0);
    char chunk[4096];
    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 64; i++)
        if (write(fd, chunk, sizeof(chunk)) < 0)
            break;
    close(fd);

    struct it_resp r = it_get(&it, "/health");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
}

/* SSE: the stream sends the job list at once and ends at shutdown. */
static int sse_rc;

static void *sse_client(void *arg)
{
    char *out = arg;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/jobs/stream", it.base);
    /* curl exits 28 when its own --max-time ends the transfer: the server
     * did not close the stream at shutdown. */
    const char *argv[] = {"curl", "-sN", "--max-time", "60", url, NULL};
    sse_rc = it_run(argv, out, 4096);
    return NULL;
}

static void sse_stream(void **state)
{
    (void)state;
    char out[4096] = "";
    pthread_t th;
    pthread_create(&th, NULL, sse_client, out);
    sleep(2);
    struct it_resp r;
    const char *hdr[] = {"Accept: text/event-stream", NULL};
    /* the content type is announced */
    assert_int_equal(it_req(&it, "HEAD", "/api/jobs/stream", NULL, NULL, 0, hdr, &r), 0);
    it_resp_free(&r);
    it_stop(&it); /* must end the stream (not wait for the client) */
    pthread_join(th, NULL);
    assert_int_not_equal(sse_rc, 28);
    assert_non_null(strstr(out, "event: jobs\ndata: ["));
    assert_int_equal(it_start(&it, "server:\n  token: t0ken-for-tests\n"), 0);
}



/* SIGHUP semantics (review H1): a reload may change the token, but may not
 * drop it while the socket is bound beyond loopback; a listen change is
 * refused until a restart and the published config says what is bound. */
static void reload_keeps_auth(void **state)
{
    (void)state;
    it_stop(&it);
    assert_int_equal(it_start(&it, "server:\n  listen: 0.0.0.0\n  token: first-token\n"), 0);
    struct it_resp r;
    const char *first[] = {"Authorization: Bearer first-token", NULL};
    const char *second[] = {"Authorization: Bearer second-token", NULL};
    r = it_post_json(&it, "/api/anomaly/stop-all", NULL);
    expect_error(&r, 401, "unauthorized", NULL);
    it_resp_free(&r);

    /* The file now says loopback and no token: refused as a whole. */
    struct dbp_config *ncfg = NULL;
    struct dbp_err err = {0};
    FILE *f = fopen(it.cfg_path, "w");
    fprintf(f, "data_dir: %s/data\nserver:\n  listen: 127.0.0.1\n", it.dir);
    fclose(f);
    assert_int_equal(dbp_config_load(it.cfg_path, &ncfg, &err), 0); /* valid on its own */
    assert_int_equal(dbp_daemon_reload(it.d, ncfg, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "0.0.0.0"));
    r = it_post_json(&it, "/api/anomaly/stop-all", NULL);
    expect_error(&r, 401, "unauthorized", NULL);
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", "application/json", NULL, 0,
                            first, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);

    /* A new token (and a listen change, which needs a restart) is taken. */
    f = fopen(it.cfg_path, "w");
    fprintf(f, "data_dir: %s/data\nserver:\n  listen: 127.0.0.1\n  token: second-token\n",
            it.dir);
    fclose(f);
    assert_int_equal(dbp_config_load(it.cfg_path, &ncfg, &err), 0);
    assert_int_equal(dbp_daemon_reload(it.d, ncfg, &err), 0);
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", "application/json", NULL, 0,
                            first, &r), 0);
    expect_error(&r, 401, "unauthorized", NULL);
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", "application/json", NULL, 0,
                            second, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    struct dbp_config *now = dbp_config_acquire();
    assert_string_equal(now->listen, "0.0.0.0"); /* still bound there */
    dbp_config_unref(now);
    /* Bound to 0.0.0.0 with a token: the token now refuses a token-less
     * reload too, whatever the file's listen says. */
    f = fopen(it.cfg_path, "w");
    fprintf(f, "data_dir: %s/data\n", it.dir);
    fclose(f);
    assert_int_equal(dbp_config_load(it.cfg_path, &ncfg, &err), 0);
    assert_int_equal(dbp_daemon_reload(it.d, ncfg, &err), DBP_EINVAL);
    it_stop(&it);
    assert_int_equal(setup(NULL), 0);
}

/* Cross-site requests and DNS rebinding against a token-less daemon on
 * loopback (review H2): a form POST from another site, a rebinding Host. */
static void csrf_and_host(void **state)
{
    (void)state;
    it_stop(&it);
    assert_int_equal(it_start(&it, "server:\n"
                                   "  cors_origins: [\"http://dash.example:3000\"]\n"),
                     0);
    struct it_resp r;
    char host[64];
    /* A browser form POST: no preflight, urlencoded, empty, evil Origin. */
    const char *evil[] = {"Origin: http://evil.example", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all",
                            "application/x-www-form-urlencoded", "", 0, evil, &r), 0);
    expect_error(&r, 403, "forbidden", "evil.example");
    it_resp_free(&r);
    /* The same without an Origin (an old browser): no JSON, no custom header. */
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all",
                            "application/x-www-form-urlencoded", "", 0, NULL, &r), 0);
    expect_error(&r, 415, "unsupported_media_type", "application/json");
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "POST", "/api/models/train", "text/plain", "", 0, NULL, &r), 0);
    expect_error(&r, 415, "unsupported_media_type", NULL);
    it_resp_free(&r);
    /* Fetch metadata says cross-site although no Origin was sent. */
    const char *site[] = {"Sec-Fetch-Site: cross-site", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", "application/json", "", 0, site,
                            &r), 0);
    expect_error(&r, 403, "forbidden", "cross-site");
    it_resp_free(&r);
    /* DELETE cannot be sent cross-site without a preflight, but a listed
     * Origin is still required when one is given. */
    assert_int_equal(it_req(&it, "DELETE", "/api/anomaly/anomalies", NULL, NULL, 0, evil, &r), 0);
    expect_error(&r, 403, "forbidden", NULL);
    it_resp_free(&r);
    /* What a real client sends still works: JSON with or without a body. */
    r = it_post_json(&it, "/api/anomaly/stop-all", NULL);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    r = it_post_json(&it, "/api/anomaly/stop-all", "{}");
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    const char *xrw[] = {"X-Requested-With: XMLHttpRequest", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", NULL, NULL, 0, xrw, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    /* The dashboard (a listed origin; axios sends no Content-Type without
     * data) keeps working: the browser enforces CORS for it. */
    const char *dash[] = {"Origin: http://dash.example:3000", "Sec-Fetch-Site: same-site", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", NULL, NULL, 0, dash, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    /* Same origin (a page served by the daemon itself). */
    char same[128];
    snprintf(same, sizeof(same), "Origin: http://127.0.0.1:%d", it.port);
    const char *so[] = {same, "Sec-Fetch-Site: same-origin", NULL};
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/stop-all", "application/json", "", 0, so,
                            &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
    /* DNS rebinding: any route, read or write, under a foreign Host. */
    const char *rebind[] = {"Host: rebind.attacker.example", NULL};
    assert_int_equal(it_req(&it, "GET", "/api/anomaly/active", NULL, NULL, 0, rebind, &r), 0);
    expect_error(&r, 403, "forbidden", "loopback");
    it_resp_free(&r);
    assert_int_equal(it_req(&it, "POST", "/api/anomaly/inject", "application/json",
                            "{\"type\":\"cpu_stress\"}", 20, rebind, &r), 0);
    expect_error(&r, 403, "forbidden", NULL);
    it_resp_free(&r);
    static const char *const fine[] = {"localhost", "LOCALHOST.", "127.0.0.2", "[::1]",
                                       "app.localhost"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        char h[128];
        snprintf(h, sizeof(h), "Host: %s:%d", fine[i], it.port);
        const char *hh[] = {h, NULL};
        assert_int_equal(it_req(&it, "GET", "/health", NULL, NULL, 0, hh, &r), 0);
        if (r.status != 200)
            fail_msg("Host %s: %ld %s", fine[i], r.status, r.body);
        it_resp_free(&r);
    }
    static const char *const foreign[] = {"127.0.0.1.nip.example", "10.213.0.1", "[::2]",
                                          "localhost.evil.example"};
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        snprintf(host, sizeof(host), "Host: %s", foreign[i]);
        const char *hh[] = {host, NULL};
        assert_int_equal(it_req(&it, "GET", "/health", NULL, NULL, 0, hh, &r), 0);
        if (r.status != 403)
            fail_msg("Host %s: %ld, expected 403", foreign[i], r.status);
        it_resp_free(&r);
    }
    it_stop(&it);
    assert_int_equal(setup(NULL), 0);
    /* With a token any Host is served (the token is the guard). */
    const char *hh[] = {"Host: dbpecker.example", NULL};
    assert_int_equal(it_req(&it, "GET", "/health", NULL, NULL, 0, hh, &r), 0);
    assert_int_equal(r.status, 200);
    it_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_root_and_ids),   cmocka_unit_test(not_found_and_method),
        cmocka_unit_test(paths_and_encoding),    cmocka_unit_test(bodies),
        cmocka_unit_test(token_guards_mutations), cmocka_unit_test(cors),
        cmocka_unit_test(metrics_text),          cmocka_unit_test(openapi_matches_routes),
        cmocka_unit_test(docs_page),             cmocka_unit_test(raw_garbage),
        cmocka_unit_test(many_query_values),     cmocka_unit_test(csrf_and_host),
        cmocka_unit_test(reload_keeps_auth),
        cmocka_unit_test(sse_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
