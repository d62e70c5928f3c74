/* test_router.c - route table validation and matching. */
#include "cmocka_all.h"

#include "dbp/http.h"

#include <stdlib.h>
#include <string.h>

static int h(struct dbp_req *req, struct dbp_resp *resp)
{
    (void)req;
    (void)resp;
    return 0;
}

static const struct dbp_route table[] = {
    {DBP_GET, "/api/workload/tasks/{task_id}", h, 0, 0, "task", NULL},
    {DBP_GET, "/api/workload/tasks/active", h, 0, 0, "active tasks", NULL},
    {DBP_POST, "/api/workload/{id}/stop", h, 0, 0, "stop", NULL},
    {DBP_GET, "/api/workload/{id}/status", h, 0, 0, "status", NULL},
    {DBP_DELETE, "/api/workload/tasks/{task_id}", h, 0, 0, "delete task", NULL},
    {DBP_GET, "/", h, 0, 0, "root", NULL},
    {DBP_GET, "/health", h, 0, 0, "health", NULL},
};

static struct dbp_router *make(void)
{
    const struct dbp_route *t[] = {table};
    size_t c[] = {sizeof(table) / sizeof(table[0])};
    struct dbp_router *r = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_router_new(t, c, 1, &r, &err), 0);
    return r;
}

static enum dbp_match m(struct dbp_router *r, int method, const char *path, struct dbp_req *req,
                        int *allow)
{
    struct dbp_err err = {0};
    memset(req, 0, sizeof(*req));
    return dbp_router_match(r, method, path, req, allow, &err);
}

static void literal_beats_capture(void **state)
{
    (void)state;
    struct dbp_router *r = make();
    struct dbp_req req;
    int allow;
    /* The literal route is declared second but must win. */
    assert_int_equal(m(r, DBP_GET, "/api/workload/tasks/active", &req, &allow), DBP_MATCH_OK);
    assert_string_equal(req.route->pattern, "/api/workload/tasks/active");
    assert_int_equal(req.nparams, 0);
    assert_int_equal(m(r, DBP_GET, "/api/workload/tasks/t42", &req, &allow), DBP_MATCH_OK);
    assert_string_equal(req.route->pattern, "/api/workload/tasks/{task_id}");
    assert_string_equal(dbp_req_param(&req, "task_id"), "t42");
    dbp_req_params_free(&req);
    /* DELETE on the literal path falls back to the capture route. */
    assert_int_equal(m(r, DBP_DELETE, "/api/workload/tasks/active", &req, &allow), DBP_MATCH_OK);
    assert_string_equal(req.route->pattern, "/api/workload/tasks/{task_id}");
    assert_string_equal(dbp_req_param(&req, "task_id"), "active");
    dbp_req_params_free(&req);
    dbp_router_free(r);
}

static void not_found_vs_method(void **state)
{
    (void)state;
    struct dbp_router *r = make();
    struct dbp_req req;
    int allow;
    assert_int_equal(m(r, DBP_GET, "/nope", &req, &allow), DBP_MATCH_NOTFOUND);
    assert_int_equal(allow, 0);
    assert_int_equal(m(r, DBP_POST, "/health", &req, &allow), DBP_MATCH_METHOD);
    assert_int_equal(allow, DBP_GET);
    assert_int_equal(m(r, DBP_PUT, "/api/workload/tasks/x", &req, &allow), DBP_MATCH_METHOD);
    assert_int_equal(allow, DBP_GET | DBP_DELETE);
    assert_int_equal(m(r, DBP_GET, "/", &req, &allow), DBP_MATCH_OK);
    dbp_router_free(r);
}

static void bad_paths(void **state)
{
    (void)state;
    struct dbp_router *r = make();
    struct dbp_req req;
    int allow;
    static const char *bad[] = {
        "/api//workload", "/api/../health", "/api/./x", "/api/%2e%2e/x", "/api/%2E/x",
        "/api/%zz", "/api/%4", "/api/a%00b", "health", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(m(r, DBP_GET, bad[i], &req, &allow), DBP_MATCH_BADPATH);
    char long_path[DBP_MAX_PATH + 10];
    memset(long_path, 'a', sizeof(long_path));
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    assert_int_equal(m(r, DBP_GET, long_path, &req, &allow), DBP_MATCH_BADPATH);
    char many[200] = "";
    for (int i = 0; i < DBP_MAX_SEGMENTS + 1; i++)
        strcat(many, "/a");
    assert_int_equal(m(r, DBP_GET, many, &req, &allow), DBP_MATCH_BADPATH);
    dbp_router_free(r);
}

static void encoded_slash_stays_in_segment(void **state)
{
    (void)state;
    struct dbp_router *r = make();
    struct dbp_req req;
    int allow;
    /* %2F must not split the segment: still the {id}/status route. */
    assert_int_equal(m(r, DBP_GET, "/api/workload/a%2Fb/status", &req, &allow), DBP_MATCH_OK);
    assert_string_equal(req.route->pattern, "/api/workload/{id}/status");
    assert_string_equal(dbp_req_param(&req, "id"), "a/b");
    dbp_req_params_free(&req);
    assert_int_equal(m(r, DBP_GET, "/api/workload/a%20b/status", &req, &allow), DBP_MATCH_OK);
    assert_string_equal(dbp_req_param(&req, "id"), "a b");
    dbp_req_params_free(&req);
    dbp_router_free(r);
}

static void rejects_ambiguous_tables(void **state)
{
    (void)state;
    static const struct dbp_route dup[] = {
        {DBP_GET, "/a/{x}", h, 0, 0, "one", NULL},
        {DBP_GET, "/a/{y}", h, 0, 0, "two", NULL},
    };
    static const struct dbp_route nohandler[] = {{DBP_GET, "/a", NULL, 0, 0, "x", NULL}};
    static const struct dbp_route samemethodsame[] = {
        {DBP_GET, "/a", h, 0, 0, "x", NULL},
        {DBP_GET, "/a", h, 0, 0, "y", NULL},
    };
    static const struct dbp_route ok[] = {
        {DBP_GET, "/a", h, 0, 0, "x", NULL},
        {DBP_POST, "/a", h, 0, 0, "y", NULL},
    };
    struct dbp_router *r = NULL;
    struct dbp_err err = {0};
    const struct dbp_route *t[1];
    size_t c[1];
    t[0] = dup, c[0] = 2;
    assert_int_equal(dbp_router_new(t, c, 1, &r, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "ambiguous"));
    t[0] = nohandler, c[0] = 1;
    assert_int_equal(dbp_router_new(t, c, 1, &r, &err), DBP_EINVAL);
    t[0] = samemethodsame, c[0] = 2;
    assert_int_equal(dbp_router_new(t, c, 1, &r, &err), DBP_EINVAL);
    t[0] = ok, c[0] = 2;
    assert_int_equal(dbp_router_new(t, c, 1, &r, &err), 0);
    dbp_router_free(r);
}

static void percent_decode(void **state)
{
    (void)state;
    char *s = dbp_percent_decode("a%41%62c", 8);
    assert_string_equal(s, "aAbc");
    free(s);
    assert_null(dbp_percent_decode("%", 1));
    assert_null(dbp_percent_decode("%4", 2));
    assert_null(dbp_percent_decode("%g1", 3));
    assert_null(dbp_percent_decode("%00", 3));
    s = dbp_percent_decode("", 0);
    assert_string_equal(s, "");
    free(s);
}

/* The daemon's real table must validate (no duplicates, no ambiguity). */
#include "dbp/app.h"
static void daemon_table_valid(void **state)
{
    (void)state;
    const struct dbp_route *const *t;
    const size_t *c;
    int n = dbp_app_routes(&t, &c);
    struct dbp_router *r = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_router_new(t, c, n, &r, &err), 0);
    assert_true(dbp_router_count(r) > 5);
    for (size_t i = 0; i < dbp_router_count(r); i++) {
        const struct dbp_route *rt = dbp_router_at(r, i);
        assert_non_null(rt->summary);
        assert_true(strlen(rt->summary) > 3);
        /* Every mutating method must be declared as such. */
        if (rt->method != DBP_GET && strcmp(rt->pattern, "/api/echo") != 0)
            assert_true(rt->flags & DBP_R_MUTATES);
    }
    dbp_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_beats_capture),
        cmocka_unit_test(not_found_vs_method),
        cmocka_unit_test(bad_paths),
        cmocka_unit_test(encoded_slash_stays_in_segment),
        cmocka_unit_test(rejects_ambiguous_tables),
        cmocka_unit_test(percent_decode),
        cmocka_unit_test(daemon_table_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
