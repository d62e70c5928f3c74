/*
 * openapi.c - the OpenAPI 3 document, generated from the route table so the
 * two cannot drift (tests/unit/test_openapi.c checks both directions).
 */
#include "dbp/http.h"
#include "dbp/util.h"
#include "api_int.h"

#include <ctype.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static void lower(const char *in, char *out, size_t n)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void op_id(const struct dbp_route *r, char *out, size_t n)
{
    size_t o = 0;
    lower(dbp_method_name(r->method), out, n);
    o = strlen(out);
    for (const char *p = r->pattern; *p && o + 1 < n; p++) {
        if (isalnum((unsigned char)*p))
            out[o++] = *p;
        else if (o && out[o - 1] != '_')
            out[o++] = '_';
    }
    while (o && out[o - 1] == '_')
        o--;
    out[o] = '\0';
}

static cJSON *ref(const char *to)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "$ref", to);
    return o;
}

static cJSON *error_response(const char *desc)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "description", desc);
    cJSON *c = cJSON_AddObjectToObject(r, "content");
    cJSON *j = cJSON_AddObjectToObject(c, "application/json");
    cJSON_AddItemToObject(j, "schema", ref("#/components/schemas/Error"));
    return r;
}

cJSON *dbp_openapi_build(const struct dbp_router *r, const char *version)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "openapi", "3.0.3");
    cJSON *info = cJSON_AddObjectToObject(doc, "info");
    cJSON_AddStringToObject(info, "title", "dbpecker");
    cJSON_AddStringToObject(info, "version", version);
    cJSON_AddStringToObject(info, "description",
                            "Anomaly diagnosis for distributed relational databases. Mutating "
                            "routes need 'Authorization: Bearer <token>' when a token is set.");
    cJSON *paths = cJSON_AddObjectToObject(doc, "paths");

    for (size_t i = 0; i < dbp_router_count(r); i++) {
        const struct dbp_route *rt = dbp_router_at(r, i);
        cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, rt->pattern);
        if (!item)
            item = cJSON_AddObjectToObject(paths, rt->pattern);
        char m[16], id[160];
        lower(dbp_method_name(rt->method), m, sizeof(m));
        op_id(rt, id, sizeof(id));
        cJSON *op = cJSON_AddObjectToObject(item, m);
        cJSON_AddStringToObject(op, "operationId", id);
        cJSON_AddStringToObject(op, "summary", rt->summary);
        cJSON *tags = cJSON_AddArrayToObject(op, "tags");
        cJSON_AddItemToArray(tags, cJSON_CreateString(rt->tag ? rt->tag : "default"));

        cJSON *params = cJSON_AddArrayToObject(op, "parameters");
        for (const char *p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
            const char *e = strchr(p, '}');
            if (!e)
                break;
            char name[64];
            size_t len = (size_t)(e - p - 1);
            if (len >= sizeof(name))
                len = sizeof(name) - 1;
            memcpy(name, p + 1, len);
            name[len] = '\0';
            cJSON *pa = cJSON_CreateObject();
            cJSON_AddStringToObject(pa, "name", name);
            cJSON_AddStringToObject(pa, "in", "path");
            cJSON_AddBoolToObject(pa, "required", 1);
            cJSON *sc = cJSON_AddObjectToObject(pa, "schema");
            cJSON_AddStringToObject(sc, "type", "string");
            cJSON_AddItemToArray(params, pa);
        }
        if (rt->flags & DBP_R_JSON_BODY) {
            cJSON *rb = cJSON_AddObjectToObject(op, "requestBody");
            cJSON_AddBoolToObject(rb, "required", (rt->flags & DBP_R_BODY_REQUIRED) != 0);
            cJSON *c = cJSON_AddObjectToObject(rb, "content");
            cJSON *j = cJSON_AddObjectToObject(c, "application/json");
            cJSON *sc = cJSON_AddObjectToObject(j, "schema");
            cJSON_AddStringToObject(sc, "type", "object");
        }
        if (rt->flags & DBP_R_MUTATES) {
            cJSON *sec = cJSON_AddArrayToObject(op, "security");
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToObject(b, "bearer", cJSON_CreateArray());
            cJSON_AddItemToArray(sec, b);
        }
        cJSON *resps = cJSON_AddObjectToObject(op, "responses");
        cJSON *ok = cJSON_CreateObject();
        cJSON_AddStringToObject(ok, "description",
                                (rt->flags & DBP_R_ASYNC) ? "accepted: a job was queued" : "success");
        cJSON *c = cJSON_AddObjectToObject(ok, "content");
        const char *ct = (rt->flags & DBP_R_SSE)    ? "text/event-stream"
                         : (rt->flags & DBP_R_TEXT) ? "text/plain"
                                                    : "application/json";
        cJSON *ctn = cJSON_AddObjectToObject(c, ct);
        cJSON *sc = cJSON_AddObjectToObject(ctn, "schema");
        cJSON_AddStringToObject(sc, "type", (rt->flags & (DBP_R_SSE | DBP_R_TEXT)) ? "string" : "object");
        cJSON_AddItemToObject(resps, (rt->flags & DBP_R_ASYNC) ? "202" : "200", ok);
        if (rt->flags & DBP_R_JSON_BODY) {
            cJSON_AddItemToObject(resps, "400", error_response("malformed JSON"));
            cJSON_AddItemToObject(resps, "413", error_response("body too large"));
            cJSON_AddItemToObject(resps, "415", error_response("not application/json"));
            cJSON_AddItemToObject(resps, "422", error_response("a field is invalid"));
        }
        if (rt->flags & DBP_R_MUTATES)
            cJSON_AddItemToObject(resps, "401", error_response("missing or invalid token"));
        cJSON_AddItemToObject(resps, "default", error_response("error envelope"));
    }

    cJSON *comp = cJSON_AddObjectToObject(doc, "components");
    cJSON *schemas = cJSON_AddObjectToObject(comp, "schemas");
    cJSON *err = cJSON_AddObjectToObject(schemas, "Error");
    cJSON_AddStringToObject(err, "type", "object");
    cJSON *req = cJSON_AddArrayToObject(err, "required");
    cJSON_AddItemToArray(req, cJSON_CreateString("detail"));
    cJSON_AddItemToArray(req, cJSON_CreateString("code"));
    cJSON *props = cJSON_AddObjectToObject(err, "properties");
    cJSON *d = cJSON_AddObjectToObject(props, "detail");
    cJSON_AddStringToObject(d, "type", "string");
    cJSON *co = cJSON_AddObjectToObject(props, "code");
    cJSON_AddStringToObject(co, "type", "string");
    cJSON *ss = cJSON_AddObjectToObject(comp, "securitySchemes");
    cJSON *bearer = cJSON_AddObjectToObject(ss, "bearer");
    cJSON_AddStringToObject(bearer, "type", "http");
    cJSON_AddStringToObject(bearer, "scheme", "bearer");
    return doc;
}
