/* json.c - field readers for handlers: every failure names the field (422). */
#include "dbp/http.h"

#include <math.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "invalid";
}

static const cJSON *field_get(struct dbp_req *req, const cJSON *obj, const char *field,
                              bool required, int *rc)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, field) : NULL;
    *rc = 0;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            *rc = dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' is required", field);
        return NULL;
    }
    return v;
}

int dbp_json_str(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 size_t maxlen, const char **out)
{
    int rc;
    const cJSON *v = field_get(req, obj, field, required, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsString(v))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be a string, not %s", field,
                           type_name(v));
    if (maxlen && strlen(v->valuestring) > maxlen)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' is longer than %zu characters",
                           field, maxlen);
    *out = v->valuestring;
    return 0;
}

int dbp_json_int(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 long long min, long long max, long long *out)
{
    int rc;
    const cJSON *v = field_get(req, obj, field, required, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be an integer, not %s", field,
                           cJSON_IsNumber(v) ? "a fraction" : type_name(v));
    if (v->valuedouble < (double)min || v->valuedouble > (double)max)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be in %lld..%lld", field, min,
                           max);
    *out = (long long)v->valuedouble;
    return 0;
}

int dbp_json_num(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                 double min, double max, double *out)
{
    int rc;
    const cJSON *v = field_get(req, obj, field, required, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be a number, not %s", field,
                           type_name(v));
    if (v->valuedouble < min || v->valuedouble > max)
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be in %g..%g", field, min, max);
    *out = v->valuedouble;
    return 0;
}

int dbp_json_bool(struct dbp_req *req, const cJSON *obj, const char *field, bool required,
                  bool *out)
{
    int rc;
    const cJSON *v = field_get(req, obj, field, required, &rc);
    if (!v)
        return rc;
    if (!cJSON_IsBool(v))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "field '%s' must be a boolean, not %s", field,
                           type_name(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

int dbp_json_only(struct dbp_req *req, const cJSON *obj, const char *const *allowed)
{
    const cJSON *it;
    if (!obj)
        return 0;
    cJSON_ArrayForEach(it, obj)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = it->string && strcmp(*a, it->string) == 0;
        if (!ok)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "unknown field '%s'",
                               it->string ? it->string : "?");
    }
    return 0;
}

int dbp_json_body_object(struct dbp_req *req, bool required, const cJSON **out)
{
    if (!req->body) {
        if (required)
            return dbp_err_set(&req->err, DBP_ESCHEMA, "a JSON object body is required");
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsObject(req->body))
        return dbp_err_set(&req->err, DBP_ESCHEMA, "the body must be a JSON object, not %s",
                           type_name(req->body));
    *out = req->body;
    return 0;
}
