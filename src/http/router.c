/*
 * router.c - route table validation and matching.
 *
 * DESIGN: patterns are split into segments once at start-up.  Matching
 * splits the raw path on '/' BEFORE percent-decoding each segment, so an
 * encoded slash (%2F) stays inside one segment and can never change which
 * route matches.  Routes are sorted by specificity (more literal segments
 * first, then later first capture), so `GET /api/workload/tasks/active`
 * beats `GET /api/workload/tasks/{task_id}` whatever the declaration order.
 * A linear scan is plenty for ~100 routes and keeps the code obvious.
 */
#include "dbp/http.h"
#include "dbp/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

struct cseg {
    char *text;   /* literal text or capture name */
    bool capture;
};

struct croute {
    const struct dbp_route *route;
    struct cseg segs[DBP_MAX_SEGMENTS];
    int nsegs;
    int nliteral;
    int first_capture;
};

struct dbp_router {
    struct croute *routes;
    size_t n;
};

static const struct {
    int m;
    const char *name;
} methods[] = {
    {DBP_GET, "GET"}, {DBP_POST, "POST"}, {DBP_PUT, "PUT"}, {DBP_DELETE, "DELETE"}, {DBP_PATCH, "PATCH"},
};

const char *dbp_method_name(int method)
{
    for (size_t i = 0; i < DBP_ARRAY_SIZE(methods); i++)
        if (methods[i].m == method)
            return methods[i].name;
    return "?";
}

int dbp_method_from_name(const char *name)
{
    for (size_t i = 0; i < DBP_ARRAY_SIZE(methods); i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].m;
    return 0;
}

void dbp_methods_str(int mask, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < DBP_ARRAY_SIZE(methods); i++)
        if (mask & methods[i].m) {
            int n = snprintf(out + o, outsz - o, "%s%s", o ? ", " : "", methods[i].name);
            if (n < 0 || (size_t)n >= outsz - o)
                break;
            o += (size_t)n;
        }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dbp_percent_decode(const char *src, size_t n)
{
    char *out = dbp_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            int h = i + 2 < n ? hexval(src[i + 1]) : -1;
            int l = i + 2 < n ? hexval(src[i + 2]) : -1;
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static void croute_release(struct croute *c)
{
    for (int i = 0; i < c->nsegs; i++)
        free(c->segs[i].text);
}

static int compile(const struct dbp_route *rt, struct croute *c, struct dbp_err *err)
{
    memset(c, 0, sizeof(*c));
    c->route = rt;
    c->first_capture = DBP_MAX_SEGMENTS;
    if (!rt->handler || !rt->pattern || rt->pattern[0] != '/' || !rt->summary || !rt->method)
        return dbp_err_set(err, DBP_EINVAL, "route '%s': missing handler, summary or method",
                           rt->pattern ? rt->pattern : "(null)");
    const char *p = rt->pattern + 1;
    if (!*p)
        return 0; /* "/" */
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (!len || c->nsegs >= DBP_MAX_SEGMENTS) {
            croute_release(c);
            return dbp_err_set(err, DBP_EINVAL, "route '%s': bad pattern", rt->pattern);
        }
        struct cseg *s = &c->segs[c->nsegs];
        if (p[0] == '{' && p[len - 1] == '}' && len > 2) {
            s->capture = true;
            s->text = dbp_xstrndup(p + 1, len - 2);
            if (c->first_capture == DBP_MAX_SEGMENTS)
                c->first_capture = c->nsegs;
        } else {
            s->text = dbp_xstrndup(p, len);
            c->nliteral++;
        }
        c->nsegs++;
        p += len;
        if (*p == '/')
            p++;
    }
    return 0;
}

static int cmp_spec(const void *a, const void *b)
{
    const struct croute *x = a, *y = b;
    if (x->nliteral != y->nliteral)
        return y->nliteral - x->nliteral;
    if (x->first_capture != y->first_capture)
        return y->first_capture - x->first_capture;
    return strcmp(x->route->pattern, y->route->pattern);
}

/* Could some path match both patterns?  Same length and every segment
 * pair compatible (equal literals, or at least one capture). */
static bool overlap(const struct croute *a, const struct croute *b)
{
    if (a->nsegs != b->nsegs)
        return false;
    for (int i = 0; i < a->nsegs; i++)
        if (!a->segs[i].capture && !b->segs[i].capture &&
            strcmp(a->segs[i].text, b->segs[i].text) != 0)
            return false;
    /* Specificity ordering resolves literal-vs-capture overlaps; only an
     * identical shape is ambiguous. */
    for (int i = 0; i < a->nsegs; i++)
        if (a->segs[i].capture != b->segs[i].capture)
            return false;
    return true;
}

int dbp_router_new(const struct dbp_route *const *tables, const size_t *counts, int ntables,
                   struct dbp_router **out, struct dbp_err *err)
{
    size_t total = 0;
    for (int t = 0; t < ntables; t++)
        total += counts[t];
    struct dbp_router *r = dbp_xcalloc(1, sizeof(*r));
    r->routes = dbp_xcalloc(total ? total : 1, sizeof(*r->routes));
    for (int t = 0; t < ntables; t++)
        for (size_t i = 0; i < counts[t]; i++) {
            int rc = compile(&tables[t][i], &r->routes[r->n], err);
            if (rc) {
                dbp_router_free(r);
                return rc;
            }
            r->n++;
        }
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = i + 1; j < r->n; j++)
            if ((r->routes[i].route->method & r->routes[j].route->method) &&
                overlap(&r->routes[i], &r->routes[j])) {
                int rc = dbp_err_set(err, DBP_EINVAL, "routes '%s %s' and '%s' are ambiguous",
                                     dbp_method_name(r->routes[i].route->method),
                                     r->routes[i].route->pattern, r->routes[j].route->pattern);
                dbp_router_free(r);
                return rc;
            }
    qsort(r->routes, r->n, sizeof(*r->routes), cmp_spec);
    *out = r;
    return 0;
}

void dbp_router_free(struct dbp_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        croute_release(&r->routes[i]);
    free(r->routes);
    free(r);
}

size_t dbp_router_count(const struct dbp_router *r)
{
    return r->n;
}

const struct dbp_route *dbp_router_at(const struct dbp_router *r, size_t i)
{
    return i < r->n ? r->routes[i].route : NULL;
}

size_t dbp_router_index(const struct dbp_router *r, const struct dbp_route *route)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->routes[i].route == route)
            return i;
    return r->n;
}

void dbp_req_params_free(struct dbp_req *req)
{
    for (int i = 0; i < req->nparams; i++)
        DBP_FREE(req->params[i].value);
    req->nparams = 0;
}

enum dbp_match dbp_router_match(const struct dbp_router *r, int method, const char *path,
                                struct dbp_req *req, int *allow, struct dbp_err *err)
{
    const char *seg[DBP_MAX_SEGMENTS];
    size_t seglen[DBP_MAX_SEGMENTS];
    char *dec[DBP_MAX_SEGMENTS] = {0};
    int nseg = 0;
    enum dbp_match res = DBP_MATCH_NOTFOUND;
    size_t plen = strlen(path);

    *allow = 0;
    if (plen == 0 || path[0] != '/') {
        dbp_err_set(err, DBP_EINVAL, "path must start with '/'");
        return DBP_MATCH_BADPATH;
    }
    if (plen > DBP_MAX_PATH) {
        dbp_err_set(err, DBP_EINVAL, "path longer than %d bytes", DBP_MAX_PATH);
        return DBP_MATCH_BADPATH;
    }
    const char *p = path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0) {
            dbp_err_set(err, DBP_EINVAL, "empty path segment");
            res = DBP_MATCH_BADPATH;
            goto out;
        }
        if (nseg >= DBP_MAX_SEGMENTS) {
            dbp_err_set(err, DBP_EINVAL, "more than %d path segments", DBP_MAX_SEGMENTS);
            res = DBP_MATCH_BADPATH;
            goto out;
        }
        dec[nseg] = dbp_percent_decode(p, len);
        if (!dec[nseg]) {
            dbp_err_set(err, DBP_EINVAL, "bad percent-encoding in path");
            res = DBP_MATCH_BADPATH;
            goto out;
        }
        if (strcmp(dec[nseg], ".") == 0 || strcmp(dec[nseg], "..") == 0) {
            dbp_err_set(err, DBP_EINVAL, "'.' and '..' segments are not allowed");
            nseg++;
            res = DBP_MATCH_BADPATH;
            goto out;
        }
        seg[nseg] = p;
        seglen[nseg] = len;
        nseg++;
        p += len;
        if (*p == '/')
            p++;
    }
    (void)seg;
    (void)seglen;

    const struct croute *found = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const struct croute *c = &r->routes[i];
        if (c->nsegs != nseg)
            continue;
        bool ok = true;
        for (int k = 0; k < nseg && ok; k++)
            if (!c->segs[k].capture && strcmp(c->segs[k].text, dec[k]) != 0)
                ok = false;
        if (!ok)
            continue;
        /* A literal route that matches the path shadows capture routes for
         * the methods it serves, but other methods still reach the
         * capture route; collect Allow from every matching shape. */
        if (c->route->method & method) {
            if (!found)
                found = c;
        }
        *allow |= c->route->method;
    }
    if (!found) {
        res = *allow ? DBP_MATCH_METHOD : DBP_MATCH_NOTFOUND;
        if (res == DBP_MATCH_NOTFOUND)
            dbp_err_set(err, DBP_ENOTFOUND, "no route for '%s'", path);
        goto out;
    }
    req->route = found->route;
    req->nparams = 0;
    for (int k = 0; k < nseg; k++)
        if (found->segs[k].capture && req->nparams < DBP_MAX_PARAMS) {
            struct dbp_param *pa = &req->params[req->nparams++];
            dbp_strlcpy(pa->name, found->segs[k].text, sizeof(pa->name));
            pa->value = dec[k];
            dec[k] = NULL;
        }
    res = DBP_MATCH_OK;
out:
    for (int k = 0; k < nseg; k++)
        free(dec[k]);
    return res;
}
