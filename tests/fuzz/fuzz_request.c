/*
 * fuzz_request.c - libFuzzer target for the request path: method + raw
 * path through the daemon's real route table, query-string decoding, and
 * the JSON body decoder with the handlers' field readers.
 *
 * Input layout: "METHOD PATH[?QUERY]\n<body bytes>".
 */
#include "dbp/app.h"
#include "dbp/http.h"
#include "dbp/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct dbp_router *router;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router) {
        const struct dbp_route *const *t;
        const size_t *c;
        int n = dbp_app_routes(&t, &c);
        struct dbp_err err = {0};
        if (dbp_router_new(t, c, n, &router, &err))
            abort();
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - data) : size;
    char *line = dbp_xstrndup((const char *)data, head);
    if (strlen(line) != head) { /* embedded NUL: not a request line */
        free(line);
        return 0;
    }
    char *sp = strchr(line, ' ');
    if (sp) {
        *sp = '\0';
        char *path = sp + 1;
        char *q = strchr(path, '?');
        if (q)
            *q++ = '\0';
        int method = dbp_method_from_name(line);
        struct dbp_req req;
        struct dbp_err err = {0};
        int allow = 0;
        memset(&req, 0, sizeof(req));
        enum dbp_match m = dbp_router_match(router, method ? method : DBP_GET, path, &req, &allow,
                                            &err);
        if (m == DBP_MATCH_OK) {
            for (int i = 0; i < req.nparams; i++)
                if (!req.params[i].value || strlen(req.params[i].value) > strlen(path))
                    abort();
            dbp_req_params_free(&req);
        }
        /* query string: a=b&c=d, each part percent-decoded */
        for (char *part = q; part && *part;) {
            char *amp = strchr(part, '&');
            size_t len = amp ? (size_t)(amp - part) : strlen(part);
            char *dec = dbp_percent_decode(part, len);
            free(dec);
            part = amp ? amp + 1 : NULL;
        }
    }
    free(line);

    if (nl) {
        const char *body = (const char *)nl + 1;
        size_t blen = size - head - 1;
        char *copy = dbp_xmalloc(blen + 1);
        memcpy(copy, body, blen);
        copy[blen] = '\0';
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(copy, blen + 1, &end, 1);
        if (j) {
            struct dbp_req req;
            memset(&req, 0, sizeof(req));
            req.body = j;
            const cJSON *obj = NULL;
            const char *s;
            long long ll;
            double d;
            bool b;
            static const char *const allowed[] = {"type", "threads", "options", NULL};
            if (dbp_json_body_object(&req, true, &obj) == 0) {
                dbp_json_str(&req, obj, "type", false, 64, &s);
                dbp_json_int(&req, obj, "threads", false, 1, 1024, &ll);
                dbp_json_num(&req, obj, "scale", false, 0.01, 1, &d);
                dbp_json_bool(&req, obj, "force", false, &b);
                dbp_json_only(&req, obj, allowed);
            }
            char *out = cJSON_PrintUnformatted(j);
            free(out);
            cJSON_Delete(j);
        }
        free(copy);
    }
    return 0;
}
