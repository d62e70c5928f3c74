/*
 * exec_chaosmesh.c - the `chaosmesh` fault executor: one Chaos Mesh object
 * (chaos-mesh.org/v1alpha1) per fault, through the Kubernetes REST API.
 *
 * DESIGN
 * - apply(): resolve the pod (node.pod, else the node name), check its
 *   syntax before any request, check it is among the pods the API lists
 *   with the configured label selector, then POST the object.  That check
 *   is what keeps a fault on the database's pods: when spec.selector.pods
 *   is set, Chaos Mesh takes exactly those pods and ignores the namespace
 *   and label selectors, which are still written, as the original did, and
 *   which do select the peer in NetworkChaos's target (no pods there).
 * - Names are "dbp-<type>-<id8>-<n>": a 409 AlreadyExists moves to n+1
 *   (a compound injection may put the same type on two pods under one id);
 *   a 409 "is being deleted" waits with backoff for the old object's
 *   finalizer, bounded by conflict_budget_ms.
 * - spec.duration is always set: if dbpecker dies and its journal is lost,
 *   Chaos Mesh itself recovers the fault after the duration.  Objects also
 *   carry app.kubernetes.io/managed-by=dbpecker so dbp_chaosmesh_cleanup_all
 *   can find leftovers.
 * - revert() deletes by name with a UID precondition (so a same-named object
 *   created later by someone else is never deleted); 404 and a failed
 *   precondition both mean "our object is gone" = success.
 * - The context is immutable after construction; the k8s client is
 *   thread-safe, so every method may run on any thread.
 */
#define _GNU_SOURCE
#include "dbp/chaosmesh.h"
#include "dbp/config.h"
#include "dbp/fault.h"
#include "dbp/k8s.h"
#include "dbp/log.h"
#include "dbp/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define CM_GROUP_VERSION "chaos-mesh.org/v1alpha1"
#define CM_MANAGED_BY "app.kubernetes.io/managed-by"
#define CM_CONFLICT_BUDGET_MS 10000
#define CM_MAX_NAMES 8
#define CM_DEFAULT_VOLUME "/home/admin/data-file" /* ob-operator's data volume mount */

struct cm_kind {
    const char *type;
    const char *kind;
    const char *plural;
};

static const struct cm_kind cm_kinds[] = {
    {"cpu_stress", "StressChaos", "stresschaos"},
    {"io_bottleneck", "IOChaos", "iochaos"},
    {"network_bottleneck", "NetworkChaos", "networkchaos"},
};

/* Severity rows (low, medium, high).  cpu and network are the original's
 * tables (reference §3.2); io has no original Chaos Mesh row, see
 * docs/chaosmesh.md for why these values. */
static const int cpu_workers[3] = {32, 48, 64};
static const int cpu_load[3] = {100, 100, 100};
static const char *const net_loss[3] = {"50", "80", "100"};
static const char *const io_delay[3] = {"10ms", "50ms", "100ms"};
static const int io_percent[3] = {50, 80, 100};

struct cm_ctx {
    struct dbp_k8s *k8s;
    char selector[DBP_HOST_MAX]; /* raw "k=v,k2=v2", for the pod list query */
    cJSON *labels;               /* the same, parsed */
    int conflict_budget_ms;
    int max_names;
};

static const struct cm_kind *kind_of_type(const char *type)
{
    for (size_t i = 0; type && i < DBP_ARRAY_SIZE(cm_kinds); i++)
        if (strcmp(cm_kinds[i].type, type) == 0)
            return &cm_kinds[i];
    return NULL;
}

static const struct cm_kind *kind_of_plural(const char *plural)
{
    for (size_t i = 0; plural && i < DBP_ARRAY_SIZE(cm_kinds); i++)
        if (strcmp(cm_kinds[i].plural, plural) == 0)
            return &cm_kinds[i];
    return NULL;
}

static int severity_index(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "low") == 0)
        return 0;
    if (strcmp(s, "medium") == 0)
        return 1;
    if (strcmp(s, "high") == 0)
        return 2;
    return -1;
}

static const char *pod_of(const struct dbp_node_cfg *node)
{
    return node->pod[0] ? node->pod : node->name;
}

/* Percent-encode a query value (RFC 3986 unreserved kept). */
static char *query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = dbp_xmalloc(strlen(s) * 3 + 1), *p = o;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~') {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return o;
}

static char *objects_path(const struct cm_ctx *c, const struct cm_kind *k)
{
    return dbp_xasprintf("/apis/" CM_GROUP_VERSION "/namespaces/%s/%s", dbp_k8s_namespace(c->k8s),
                         k->plural);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------------- supports */

static bool cm_supports(void *vctx, const char *type, const struct dbp_node_cfg *node, char *why,
                        size_t whysz)
{
    (void)vctx;
    static const char *const sql_only[] = {"cache_bottleneck", "too_many_indexes",
                                           "lock_contention", "connection_storm"};
    if (!kind_of_type(type)) {
        for (size_t i = 0; type && i < DBP_ARRAY_SIZE(sql_only); i++) {
            if (strcmp(type, sql_only[i]) == 0) {
                snprintf(why, whysz, "'%s' is a SQL fault (sql executor), not a Chaos Mesh one",
                         type);
                return false;
            }
        }
        if (type && strcmp(type, "workload_surge") == 0)
            snprintf(why, whysz, "'workload_surge' is extra benchmark load, not a Chaos Mesh fault");
        else
            snprintf(why, whysz, "chaosmesh has no fault '%s'", type ? type : "(null)");
        return false;
    }
    if (!node) {
        snprintf(why, whysz, "'%s' through Chaos Mesh needs a target node (pod)", type);
        return false;
    }
    if (!dbp_k8s_is_dns1123_subdomain(pod_of(node))) {
        snprintf(why, whysz, "node '%s': '%s' is not a valid pod name", node->name, pod_of(node));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ params */

/* Overrides from the registry's severity row.  Keys this executor does not
 * know are ignored: the row may carry other executors' parameters. */
static int param_int(const cJSON *params, const char *key, int def, int min, int max, int *out,
                     struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    *out = def;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
        v->valuedouble < min || v->valuedouble > max)
        return dbp_err_set(err, DBP_ESCHEMA, "param '%s' must be an integer %d..%d", key, min,
                           max);
    *out = (int)v->valuedouble;
    return 0;
}

/* A percentage as Chaos Mesh's netem fields want it: a decimal string. */
static int param_percent_str(const cJSON *params, const char *key, const char *def, char *out,
                             size_t outsz, struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    double d;
    if (!v) {
        dbp_strlcpy(out, def, outsz);
        return 0;
    }
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (!cJSON_IsString(v) || dbp_parse_double(v->valuestring, &d))
        d = -1;
    if (!(d >= 0 && d <= 100))
        return dbp_err_set(err, DBP_ESCHEMA, "param '%s' must be a percentage 0..100", key);
    snprintf(out, outsz, "%g", d);
    return 0;
}

/* Go duration as Chaos Mesh parses it, restricted to one number + unit. */
static bool go_duration_ok(const char *s)
{
    size_t i = 0, digits = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return false;
    const char *u = s + i;
    return strcmp(u, "ns") == 0 || strcmp(u, "us") == 0 || strcmp(u, "ms") == 0 ||
           strcmp(u, "s") == 0 || strcmp(u, "m") == 0 || strcmp(u, "h") == 0;
}

static bool abs_path_ok(const char *s)
{
    if (s[0] != '/' || strlen(s) > 1024 || strstr(s, "/../") || strstr(s, "/.."))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int param_str(const cJSON *params, const char *key, const char *def, bool (*ok)(const char *),
                     const char **out, struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    *out = def;
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !ok(v->valuestring))
        return dbp_err_set(err, DBP_ESCHEMA, "param '%s' has a bad value", key);
    *out = v->valuestring;
    return 0;
}

/* ---------------------------------------------------------------- objects */

static cJSON *selector_json(const struct cm_ctx *c, const char *pod)
{
    const char *ns = dbp_k8s_namespace(c->k8s);
    cJSON *sel = cJSON_CreateObject();
    cJSON *nss = cJSON_AddArrayToObject(sel, "namespaces");
    cJSON_AddItemToArray(nss, cJSON_CreateString(ns));
    if (cJSON_GetArraySize(c->labels) > 0)
        cJSON_AddItemToObject(sel, "labelSelectors", cJSON_Duplicate(c->labels, true));
    if (pod) {
        cJSON *pods = cJSON_AddObjectToObject(sel, "pods");
        cJSON *list = cJSON_AddArrayToObject(pods, ns);
        cJSON_AddItemToArray(list, cJSON_CreateString(pod));
    }
    return sel;
}

/* The spec for one fault (caller owns), or NULL with err set. */
static cJSON *build_spec(const struct cm_ctx *c, const struct cm_kind *k, int sev,
                         const struct dbp_fault_spec *f, const char *pod, struct dbp_err *err)
{
    cJSON *spec = cJSON_CreateObject();
    const cJSON *params = cJSON_IsObject(f->params) ? f->params : NULL;
    const char *container = NULL;
    char dur[32];

    cJSON_AddStringToObject(spec, "mode", "one");
    cJSON_AddItemToObject(spec, "selector", selector_json(c, pod));
    if (param_str(params, "container", NULL, dbp_k8s_is_dns1123_label, &container, err))
        goto fail;

    if (strcmp(k->type, "cpu_stress") == 0) {
        int workers, load;
        if (param_int(params, "workers", cpu_workers[sev], 1, 8192, &workers, err) ||
            param_int(params, "load", cpu_load[sev], 0, 100, &load, err))
            goto fail;
        cJSON *cpu = cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "stressors"), "cpu");
        cJSON_AddNumberToObject(cpu, "workers", workers);
        cJSON_AddNumberToObject(cpu, "load", load);
    } else if (strcmp(k->type, "io_bottleneck") == 0) {
        /* IOChaos needs the mount point of a volume; the node's datadir is
         * that path in the lab config, else ob-operator's data volume. */
        const char *vol = f->node && f->node->datadir[0] ? f->node->datadir : CM_DEFAULT_VOLUME;
        const char *delay, *path = NULL;
        int percent;
        if (param_str(params, "volume_path", vol, abs_path_ok, &vol, err) ||
            param_str(params, "path", NULL, abs_path_ok, &path, err) ||
            param_str(params, "delay", io_delay[sev], go_duration_ok, &delay, err) ||
            param_int(params, "percent", io_percent[sev], 1, 100, &percent, err))
            goto fail;
        if (!abs_path_ok(vol)) {
            dbp_err_set(err, DBP_ESCHEMA, "volume path '%s' is not an absolute path", vol);
            goto fail;
        }
        char *glob = path ? dbp_xstrdup(path) : dbp_xasprintf("%s/**/*", vol);
        cJSON_AddStringToObject(spec, "action", "latency");
        cJSON_AddStringToObject(spec, "volumePath", vol);
        cJSON_AddStringToObject(spec, "path", glob);
        cJSON_AddStringToObject(spec, "delay", delay);
        cJSON_AddNumberToObject(spec, "percent", percent);
        free(glob);
    } else { /* network_bottleneck */
        char loss[16], corr[16];
        if (param_percent_str(params, "loss", net_loss[sev], loss, sizeof(loss), err) ||
            param_percent_str(params, "correlation", "0", corr, sizeof(corr), err))
            goto fail;
        cJSON_AddStringToObject(spec, "action", "loss");
        cJSON *l = cJSON_AddObjectToObject(spec, "loss");
        cJSON_AddStringToObject(l, "loss", loss);
        cJSON_AddStringToObject(l, "correlation", corr);
        cJSON_AddStringToObject(spec, "direction", "both");
        /* As the original: loss between the pod and one other database pod. */
        cJSON *target = cJSON_AddObjectToObject(spec, "target");
        cJSON_AddItemToObject(target, "selector", selector_json(c, NULL));
        cJSON_AddStringToObject(target, "mode", "one");
    }
    if (container && strcmp(k->kind, "NetworkChaos") != 0) {
        cJSON *names = cJSON_AddArrayToObject(spec, "containerNames");
        cJSON_AddItemToArray(names, cJSON_CreateString(container));
    }
    snprintf(dur, sizeof(dur), "%ds", f->duration_s);
    cJSON_AddStringToObject(spec, "duration", dur);
    return spec;
fail:
    cJSON_Delete(spec);
    return NULL;
}

static cJSON *build_object(const struct cm_ctx *c, const struct cm_kind *k,
                           const struct dbp_fault_spec *f, const char *name, const cJSON *spec)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", CM_GROUP_VERSION);
    cJSON_AddStringToObject(o, "kind", k->kind);
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", dbp_k8s_namespace(c->k8s));
    cJSON *labels = cJSON_AddObjectToObject(md, "labels");
    cJSON_AddStringToObject(labels, CM_MANAGED_BY, "dbpecker");
    cJSON_AddStringToObject(labels, "dbpecker/injection", f->id);
    cJSON_AddStringToObject(labels, "dbpecker/type", f->type);
    cJSON_AddStringToObject(labels, "dbpecker/severity", f->severity);
    if (f->node) {
        cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
        cJSON_AddStringToObject(ann, "dbpecker/node", f->node->name);
    }
    cJSON_AddItemToObject(o, "spec", cJSON_Duplicate(spec, true));
    return o;
}

/* 0 when `pod` is among the pods the API lists with the label selector. */
static int check_pod(struct cm_ctx *c, const char *pod, struct dbp_err *err)
{
    char *q = c->selector[0] ? query_escape(c->selector) : NULL;
    char *path = dbp_xasprintf("/api/v1/namespaces/%s/pods%s%s", dbp_k8s_namespace(c->k8s),
                               q ? "?labelSelector=" : "", q ? q : "");
    cJSON *list = NULL;
    long st;
    int rc = dbp_k8s_request(c->k8s, "GET", path, NULL, &st, &list, err);
    if (rc)
        goto out;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *it;
    if (!cJSON_IsArray(items)) {
        rc = dbp_err_set(err, DBP_EUPSTREAM, "Kubernetes API: pod list has no items");
        goto out;
    }
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(it, "metadata"), "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, pod) == 0) {
            const cJSON *ph = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(it, "status"), "phase");
            if (cJSON_IsString(ph) && strcmp(ph->valuestring, "Running") != 0)
                DBP_WARN("chaosmesh", "pod '%s' is %s: Chaos Mesh may select nothing", pod,
                         ph->valuestring);
            goto out;
        }
    }
    rc = dbp_err_set(err, DBP_ENOTFOUND, "unknown pod '%s' (not among the pods labelled '%s' in "
                     "namespace '%s')", pod, c->selector, dbp_k8s_namespace(c->k8s));
out:
    cJSON_Delete(list);
    free(path);
    free(q);
    return rc;
}

static const char *status_message(const cJSON *resp)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp, "message");
    return cJSON_IsString(m) ? m->valuestring : "";
}

static int delete_object(struct cm_ctx *c, const char *plural, const char *name, const char *uid,
                         struct dbp_err *err)
{
    char *path = dbp_xasprintf("/apis/" CM_GROUP_VERSION "/namespaces/%s/%s/%s",
                               dbp_k8s_namespace(c->k8s), plural, name);
    cJSON *opts = NULL, *resp = NULL;
    long st;
    if (uid && *uid) {
        opts = cJSON_CreateObject();
        cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
        cJSON_AddStringToObject(opts, "apiVersion", "v1");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", uid);
    }
    int rc = dbp_k8s_request(c->k8s, "DELETE", path, opts, &st, &resp, err);
    if (rc == DBP_ENOTFOUND) {
        rc = 0; /* already gone: expired and collected, or deleted by hand */
        dbp_err_clear(err);
    } else if (rc == DBP_EBUSY && strstr(status_message(resp), "recondition")) {
        rc = 0; /* the name now belongs to a newer object: ours is gone */
        dbp_err_clear(err);
    }
    cJSON_Delete(resp);
    cJSON_Delete(opts);
    free(path);
    return rc;
}

/* POST with the naming and conflict rules of the DESIGN note. */
static int create_object(struct cm_ctx *c, const struct cm_kind *k, const struct dbp_fault_spec *f,
                         const cJSON *spec, char *name, size_t namesz, char *uid, size_t uidsz,
                         struct dbp_err *err)
{
    char *path = objects_path(c, k);
    uint64_t t0 = dbp_now_ns();
    int n = 1, backoff_ms = 200, rc;

    for (;;) {
        cJSON *obj = NULL, *resp = NULL;
        long st;
        if (dbp_k8s_chaos_name(f->type, f->id, n, name, namesz)) {
            rc = dbp_err_set(err, DBP_EINVAL, "cannot name a '%s' object for id '%s'", f->type,
                             f->id);
            break;
        }
        obj = build_object(c, k, f, name, spec);
        rc = dbp_k8s_request(c->k8s, "POST", path, obj, &st, &resp, err);
        cJSON_Delete(obj);
        if (rc == 0) {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(resp, "metadata"), "uid");
            dbp_strlcpy(uid, cJSON_IsString(u) ? u->valuestring : "", uidsz);
            cJSON_Delete(resp);
            break;
        }
        if (rc == DBP_EBUSY && strstr(status_message(resp), "is being deleted")) {
            int spent = (int)((dbp_now_ns() - t0) / 1000000u);
            cJSON_Delete(resp);
            if (spent + backoff_ms > c->conflict_budget_ms) {
                rc = dbp_err_set(err, DBP_EBUSY, "%s '%s' is still being deleted after %d ms",
                                 k->kind, name, spent);
                break;
            }
            sleep_ms(backoff_ms);
            backoff_ms *= 2;
            continue;
        }
        cJSON_Delete(resp);
        if (rc == DBP_EBUSY) {
            if (++n > c->max_names) {
                rc = dbp_err_set(err, DBP_EBUSY, "no free %s name after %d tries (last '%s')",
                                 k->kind, c->max_names, name);
                break;
            }
            continue;
        }
        if (rc == DBP_ETIMEOUT) {
            /* The POST may have landed after we gave up: do not leave a fault
             * running that nobody journaled. */
            struct dbp_err e2 = {0};
            if (delete_object(c, k->plural, name, NULL, &e2))
                DBP_WARN("chaosmesh", "could not remove '%s' after a timed-out create: %s "
                         "(Chaos Mesh expires it after %ds)", name, e2.msg, f->duration_s);
        }
        break;
    }
    free(path);
    return rc;
}

/* ------------------------------------------------------------------- apply */

static int cm_apply(void *vctx, const struct dbp_fault_spec *f, cJSON **state, struct dbp_err *err)
{
    struct cm_ctx *c = vctx;
    const struct cm_kind *k = kind_of_type(f->type);
    int sev = severity_index(f->severity);
    char name[64], uid[128];
    cJSON *spec = NULL;
    int rc;

    *state = NULL;
    if (!k)
        return dbp_err_set(err, DBP_EINVAL, "chaosmesh cannot apply '%s'",
                           f->type ? f->type : "(null)");
    if (sev < 0)
        return dbp_err_set(err, DBP_EINVAL, "severity '%s' is not low|medium|high",
                           f->severity ? f->severity : "(null)");
    if (!f->node)
        return dbp_err_set(err, DBP_EINVAL, "'%s' through Chaos Mesh needs a target node", f->type);
    if (f->duration_s <= 0)
        return dbp_err_set(err, DBP_EINVAL, "duration must be positive");
    if (!f->id || !*f->id || !dbp_k8s_is_label_value(f->id))
        return dbp_err_set(err, DBP_EINVAL, "injection id '%s' is not a Kubernetes label value",
                           f->id ? f->id : "");
    const char *pod = pod_of(f->node);
    /* Checked before any request: the name goes into a URL and an object. */
    if (!dbp_k8s_is_dns1123_subdomain(pod))
        return dbp_err_set(err, DBP_EINVAL, "node '%s': '%s' is not a valid pod name",
                           f->node->name, pod);
    spec = build_spec(c, k, sev, f, pod, err);
    if (!spec)
        return err ? err->code : DBP_ESCHEMA;
    rc = check_pod(c, pod, err);
    if (rc)
        goto out;
    rc = create_object(c, k, f, spec, name, sizeof(name), uid, sizeof(uid), err);
    if (rc)
        goto out;
    DBP_INFO("chaosmesh", "created %s %s/%s on pod '%s' (%s %s, %ds)", k->kind,
             dbp_k8s_namespace(c->k8s), name, pod, f->type, f->severity, f->duration_s);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "executor", "chaosmesh");
    cJSON_AddStringToObject(s, "api", dbp_k8s_server(c->k8s));
    cJSON_AddStringToObject(s, "apiVersion", CM_GROUP_VERSION);
    cJSON_AddStringToObject(s, "kind", k->kind);
    cJSON_AddStringToObject(s, "plural", k->plural);
    cJSON_AddStringToObject(s, "namespace", dbp_k8s_namespace(c->k8s));
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddStringToObject(s, "uid", uid);
    cJSON_AddStringToObject(s, "pod", pod);
    *state = s;
out:
    cJSON_Delete(spec);
    return rc;
}

/* --------------------------------------------------------- revert/evidence */

struct cm_ref {
    const struct cm_kind *kind;
    const char *ns, *name, *uid;
};

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The state is read back from a journal: check it before it becomes a URL. */
static int parse_state(const struct cm_ctx *c, const cJSON *state, struct cm_ref *r,
                       struct dbp_err *err)
{
    r->kind = kind_of_plural(jstr(state, "plural"));
    r->ns = jstr(state, "namespace");
    r->name = jstr(state, "name");
    r->uid = jstr(state, "uid");
    if (!r->kind || !dbp_k8s_is_dns1123_label(r->ns) || !dbp_k8s_is_dns1123_subdomain(r->name))
        return dbp_err_set(err, DBP_EINVAL, "chaosmesh state lacks a valid plural/namespace/name");
    if (strcmp(r->ns, dbp_k8s_namespace(c->k8s)) != 0)
        return dbp_err_set(err, DBP_EINVAL,
                           "chaosmesh state is for namespace '%s', the executor manages '%s'",
                           r->ns, dbp_k8s_namespace(c->k8s));
    const char *api = jstr(state, "api");
    if (api && strcmp(api, dbp_k8s_server(c->k8s)) != 0)
        DBP_WARN("chaosmesh", "'%s' was created through %s, reverting through %s", r->name, api,
                 dbp_k8s_server(c->k8s));
    return 0;
}

static int cm_revert(void *vctx, const cJSON *state, struct dbp_err *err)
{
    struct cm_ctx *c = vctx;
    struct cm_ref r;
    int rc = parse_state(c, state, &r, err);
    if (rc)
        return rc;
    rc = delete_object(c, r.kind->plural, r.name, r.uid, err);
    if (!rc)
        DBP_INFO("chaosmesh", "deleted %s %s/%s", r.kind->kind, r.ns, r.name);
    return rc;
}

/* "True" -> true, "False" -> false, anything else -> null. */
static cJSON *cond_bool(const char *status)
{
    if (status && strcmp(status, "True") == 0)
        return cJSON_CreateTrue();
    if (status && strcmp(status, "False") == 0)
        return cJSON_CreateFalse();
    return cJSON_CreateNull();
}

static cJSON *cm_evidence(void *vctx, const cJSON *state)
{
    struct cm_ctx *c = vctx;
    struct cm_ref r;
    struct dbp_err err = {0};
    cJSON *obj = NULL, *ev = cJSON_CreateObject();
    long st;

    cJSON_AddStringToObject(ev, "executor", "chaosmesh");
    if (parse_state(c, state, &r, &err)) {
        cJSON_AddStringToObject(ev, "error", err.msg);
        return ev;
    }
    cJSON_AddStringToObject(ev, "kind", r.kind->kind);
    cJSON_AddStringToObject(ev, "name", r.name);
    char *path = dbp_xasprintf("/apis/" CM_GROUP_VERSION "/namespaces/%s/%s/%s", r.ns,
                               r.kind->plural, r.name);
    int rc = dbp_k8s_request(c->k8s, "GET", path, NULL, &st, &obj, &err);
    free(path);
    if (rc == DBP_ENOTFOUND) {
        cJSON_AddBoolToObject(ev, "exists", false);
        cJSON_AddBoolToObject(ev, "took_effect", false);
        goto out;
    }
    if (rc) {
        cJSON_AddNullToObject(ev, "exists");
        cJSON_AddStringToObject(ev, "error", err.msg);
        goto out;
    }
    cJSON_AddBoolToObject(ev, "exists", true);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON_AddBoolToObject(ev, "deleting",
                          cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") != NULL);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(status, "experiment");
    const char *dp = jstr(exp, "desiredPhase");
    if (dp)
        cJSON_AddStringToObject(ev, "desired_phase", dp);
    else
        cJSON_AddNullToObject(ev, "desired_phase");

    static const struct {
        const char *type, *key;
    } conds[] = {{"Selected", "selected"},
                 {"AllInjected", "all_injected"},
                 {"AllRecovered", "all_recovered"},
                 {"Paused", "paused"}};
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(status, "conditions"), *it;
    cJSON *out_conds = cJSON_AddArrayToObject(ev, "conditions");
    const char *found[DBP_ARRAY_SIZE(conds)] = {NULL};
    cJSON_ArrayForEach(it, list)
    {
        const char *t = jstr(it, "type"), *s = jstr(it, "status"), *why = jstr(it, "reason");
        if (!t)
            continue;
        cJSON *oc = cJSON_CreateObject();
        cJSON_AddStringToObject(oc, "type", t);
        cJSON_AddStringToObject(oc, "status", s ? s : "Unknown");
        if (why && *why)
            cJSON_AddStringToObject(oc, "reason", why);
        cJSON_AddItemToArray(out_conds, oc);
        for (size_t i = 0; i < DBP_ARRAY_SIZE(conds); i++)
            if (strcmp(t, conds[i].type) == 0)
                found[i] = s ? s : "Unknown";
    }
    for (size_t i = 0; i < DBP_ARRAY_SIZE(conds); i++)
        cJSON_AddItemToObject(ev, conds[i].key, cond_bool(found[i]));
    cJSON *recs = cJSON_AddArrayToObject(ev, "records");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(exp, "containerRecords"))
    {
        cJSON *o = cJSON_CreateObject();
        const char *id = jstr(it, "id"), *ph = jstr(it, "phase");
        cJSON_AddStringToObject(o, "id", id ? id : "");
        cJSON_AddStringToObject(o, "phase", ph ? ph : "");
        cJSON_AddItemToArray(recs, o);
    }
    cJSON_AddBoolToObject(ev, "took_effect", found[1] && strcmp(found[1], "True") == 0);
out:
    cJSON_Delete(obj);
    return ev;
}

/* ------------------------------------------------------------ construction */

static void cm_free(void *vctx)
{
    struct cm_ctx *c = vctx;
    if (!c)
        return;
    dbp_k8s_free(c->k8s);
    cJSON_Delete(c->labels);
    free(c);
}

static int ctx_new(const struct dbp_config *cfg, const struct dbp_chaosmesh_opts *opts,
                   struct cm_ctx **out, struct dbp_err *err)
{
    struct cm_ctx *c = dbp_xcalloc(1, sizeof(*c));
    int rc = dbp_k8s_parse_label_selector(cfg->k8s_label_selector, &c->labels, err);
    if (rc)
        goto fail;
    dbp_strlcpy(c->selector, cfg->k8s_label_selector, sizeof(c->selector));
    c->conflict_budget_ms =
        opts && opts->conflict_budget_ms > 0 ? opts->conflict_budget_ms : CM_CONFLICT_BUDGET_MS;
    c->max_names = opts && opts->max_names > 0 ? opts->max_names : CM_MAX_NAMES;
    rc = dbp_k8s_new(cfg, opts ? &opts->k8s : NULL, &c->k8s, err);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    cm_free(c);
    return rc;
}

int dbp_exec_chaosmesh_new_opts(const struct dbp_config *cfg, const struct dbp_chaosmesh_opts *opts,
                                struct dbp_executor *out, struct dbp_err *err)
{
    struct cm_ctx *c = NULL;
    int rc = ctx_new(cfg, opts, &c, err);
    if (rc)
        return rc;
    DBP_INFO("chaosmesh", "Kubernetes API %s (%s, auth %s), namespace '%s', pods '%s'",
             dbp_k8s_server(c->k8s), dbp_k8s_source(c->k8s), dbp_k8s_auth(c->k8s),
             dbp_k8s_namespace(c->k8s), c->selector);
    memset(out, 0, sizeof(*out));
    out->name = "chaosmesh";
    out->ctx = c;
    out->supports = cm_supports;
    out->apply = cm_apply;
    out->revert = cm_revert;
    out->evidence = cm_evidence;
    out->free_ctx = cm_free;
    return 0;
}

int dbp_exec_chaosmesh_new(const struct dbp_config *cfg, struct dbp_executor *out,
                           struct dbp_err *err)
{
    return dbp_exec_chaosmesh_new_opts(cfg, NULL, out, err);
}

int dbp_chaosmesh_cleanup_all_opts(const struct dbp_config *cfg,
                                   const struct dbp_chaosmesh_opts *opts, struct dbp_err *err)
{
    struct cm_ctx *c = NULL;
    int rc = ctx_new(cfg, opts, &c, err), deleted = 0;
    if (rc)
        return rc;
    for (size_t i = 0; i < DBP_ARRAY_SIZE(cm_kinds) && !rc; i++) {
        char *base = objects_path(c, &cm_kinds[i]);
        char *path = dbp_xasprintf("%s?labelSelector=%s%%3Ddbpecker", base,
                                   "app.kubernetes.io%2Fmanaged-by");
        cJSON *list = NULL, *it;
        long st;
        rc = dbp_k8s_request(c->k8s, "GET", path, NULL, &st, &list, err);
        if (rc == DBP_ENOTFOUND) {
            /* The CRD is not installed: nothing of this kind can exist. */
            rc = 0;
            dbp_err_clear(err);
        }
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
        {
            if (rc)
                break;
            const char *name = jstr(cJSON_GetObjectItemCaseSensitive(it, "metadata"), "name");
            if (!dbp_k8s_is_dns1123_subdomain(name))
                continue;
            rc = delete_object(c, cm_kinds[i].plural, name, NULL, err);
            if (!rc) {
                deleted++;
                DBP_INFO("chaosmesh", "cleaned up leftover %s %s/%s", cm_kinds[i].kind,
                         dbp_k8s_namespace(c->k8s), name);
            }
        }
        cJSON_Delete(list);
        free(path);
        free(base);
    }
    cm_free(c);
    return rc ? rc : deleted;
}

int dbp_chaosmesh_cleanup_all(const struct dbp_config *cfg, struct dbp_err *err)
{
    return dbp_chaosmesh_cleanup_all_opts(cfg, NULL, err);
}
