/*
 * fake_k8s.c - TEST DOUBLE "fake Kubernetes API server" (see fake_k8s.h).
 *
 * One mutex guards everything; MHD runs a thread per connection so a
 * stalled request does not block the others.  Stalls sleep in slices and
 * end early when the server stops.
 */
#define _GNU_SOURCE
#include "fake_k8s.h"

#include "dbp/util.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CM_PREFIX "/apis/chaos-mesh.org/v1alpha1/namespaces/"
#define POD_PREFIX "/api/v1/namespaces/"

struct fake_k8s {
    struct MHD_Daemon *mhd;
    int port;
    char url[64];
    bool require_client_cert;
    atomic_bool stopping;

    pthread_mutex_t lock;
    char *token;
    cJSON *pods;    /* array of Pod objects */
    cJSON *objects; /* "plural/ns/name" -> object */
    cJSON *log;     /* array of recorded requests */
    unsigned uid_seq;
    int fail_n, fail_status;
    char fail_method[8], fail_reason[64], fail_message[512];
    int stall_n, stall_ms;
    char stall_method[8];
};

struct conn {
    struct dbp_buf body;
};

static const struct {
    const char *plural, *kind;
} kinds[] = {{"stresschaos", "StressChaos"}, {"networkchaos", "NetworkChaos"},
             {"iochaos", "IOChaos"}};

static const char *kind_of(const char *plural)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].plural, plural) == 0)
            return kinds[i].kind;
    return NULL;
}

/* "k=v,k2=v2" matches labels (a JSON map) when every term is equal. */
static bool labels_match(const cJSON *labels, const char *sel)
{
    if (!sel || !*sel)
        return true;
    char *copy = dbp_xstrdup(sel), *save = NULL;
    bool ok = true;
    for (char *t = strtok_r(copy, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            ok = false;
            break;
        }
        *eq = '\0';
        const char *v = eq[1] == '=' ? eq + 2 : eq + 1;
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(labels, t);
        ok = cJSON_IsString(have) && strcmp(have->valuestring, v) == 0;
    }
    free(copy);
    return ok;
}

static cJSON *labels_from(const char *s)
{
    cJSON *m = cJSON_CreateObject();
    char *copy = dbp_xstrdup(s ? s : ""), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (eq) {
            *eq = '\0';
            cJSON_AddStringToObject(m, t, eq + 1);
        }
    }
    free(copy);
    return m;
}

static void iso_now(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *key_of(const char *plural, const char *ns, const char *name)
{
    return dbp_xasprintf("%s/%s/%s", plural, ns, name);
}

/* ---- responses */

static enum MHD_Result send_json(struct MHD_Connection *c, int status, cJSON *doc)
{
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_status(struct MHD_Connection *c, int code, const char *reason,
                                   const char *message)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "Status");
    cJSON_AddStringToObject(s, "apiVersion", "v1");
    cJSON_AddObjectToObject(s, "metadata");
    cJSON_AddStringToObject(s, "status", "Failure");
    cJSON_AddStringToObject(s, "message", message);
    cJSON_AddStringToObject(s, "reason", reason);
    cJSON_AddNumberToObject(s, "code", code);
    return send_json(c, code, s);
}

/* ---- TLS peer certificates, through gnutls symbols MHD already loaded
 * (the test build does not link gnutls itself). */

typedef const void *(*get_peers_fn)(void *session, unsigned int *n);

static int client_cert_count(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    get_peers_fn fn;
    void *sym = dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
    if (!sym)
        return -1;
    memcpy(&fn, &sym, sizeof(fn));
    unsigned int n = 0;
    return fn(ci->tls_session, &n) ? (int)n : 0;
}

/* ---- recording */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    cJSON *rec = cls;
    if (strcasecmp(key, "Authorization") == 0)
        cJSON_ReplaceItemInObject(rec, "authorization", cJSON_CreateString(value));
    else if (strcasecmp(key, "Content-Type") == 0)
        cJSON_ReplaceItemInObject(rec, "content_type", cJSON_CreateString(value));
    return MHD_YES;
}

static void record(struct fake_k8s *f, struct MHD_Connection *c, const char *method,
                   const char *url, const char *lsel, const char *body, int certs)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "method", method);
    cJSON_AddStringToObject(rec, "path", url);
    cJSON_AddStringToObject(rec, "label_selector", lsel ? lsel : "");
    cJSON_AddStringToObject(rec, "authorization", "");
    cJSON_AddStringToObject(rec, "content_type", "");
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, rec);
    cJSON *parsed = body && *body ? cJSON_ParseWithLength(body, strlen(body)) : NULL;
    cJSON_AddItemToObject(rec, "body", parsed ? parsed : cJSON_CreateNull());
    cJSON_AddStringToObject(rec, "raw_body", body ? body : "");
    cJSON_AddNumberToObject(rec, "client_certs", certs);
    cJSON_AddItemToArray(f->log, rec);
}

/* ---- routes (called with f->lock held) */

static enum MHD_Result pods_list(struct fake_k8s *f, struct MHD_Connection *c, const char *ns,
                                 const char *lsel)
{
    cJSON *list = cJSON_CreateObject(), *it;
    cJSON_AddStringToObject(list, "kind", "PodList");
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion", "1");
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    cJSON_ArrayForEach(it, f->pods)
    {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(it, "metadata");
        const cJSON *pns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
        if (strcmp(pns->valuestring, ns) == 0 &&
            labels_match(cJSON_GetObjectItemCaseSensitive(md, "labels"), lsel))
            cJSON_AddItemToArray(items, cJSON_Duplicate(it, true));
    }
    return send_json(c, 200, list);
}

static enum MHD_Result objects_list(struct fake_k8s *f, struct MHD_Connection *c, const char *ns,
                                    const char *plural, const char *lsel)
{
    cJSON *list = cJSON_CreateObject(), *it;
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/%s/", plural, ns);
    cJSON_AddStringToObject(list, "apiVersion", "chaos-mesh.org/v1alpha1");
    char *k = dbp_xasprintf("%sList", kind_of(plural));
    cJSON_AddStringToObject(list, "kind", k);
    free(k);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion", "1");
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    cJSON_ArrayForEach(it, f->objects)
    {
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(it, "metadata"), "labels");
        if (strncmp(it->string, prefix, strlen(prefix)) == 0 && labels_match(labels, lsel))
            cJSON_AddItemToArray(items, cJSON_Duplicate(it, true));
    }
    return send_json(c, 200, list);
}

/* Fill server-side metadata of a new object. */
static void stamp(struct fake_k8s *f, cJSON *obj, const char *ns)
{
    char ts[32], uid[64], rv[32];
    cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!md)
        md = cJSON_AddObjectToObject(obj, "metadata");
    iso_now(ts, sizeof(ts));
    f->uid_seq++;
    snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012u", f->uid_seq);
    snprintf(rv, sizeof(rv), "%u", 1000 + f->uid_seq);
    cJSON_DeleteItemFromObjectCaseSensitive(md, "namespace");
    cJSON_AddStringToObject(md, "namespace", ns);
    cJSON_AddStringToObject(md, "uid", uid);
    cJSON_AddStringToObject(md, "resourceVersion", rv);
    cJSON_AddNumberToObject(md, "generation", 1);
    cJSON_AddStringToObject(md, "creationTimestamp", ts);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.'))
            return false;
    return s[0] != '-' && s[n - 1] != '-';
}

static enum MHD_Result object_create(struct fake_k8s *f, struct MHD_Connection *c, const char *ns,
                                     const char *plural, const char *ctype, const char *body)
{
    char msg[512];
    if (!ctype || strncmp(ctype, "application/json", 16) != 0)
        return send_status(c, 415, "UnsupportedMediaType", "the body of the request was in an "
                           "unknown format - accepted media types include: application/json");
    cJSON *obj = cJSON_ParseWithLength(body, strlen(body));
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return send_status(c, 400, "BadRequest", "the object provided is unrecognized");
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    const cJSON *ons = cJSON_GetObjectItemCaseSensitive(md, "namespace");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, kind_of(plural)) != 0 ||
        !cJSON_IsString(av) || strcmp(av->valuestring, "chaos-mesh.org/v1alpha1") != 0) {
        cJSON_Delete(obj);
        return send_status(c, 400, "BadRequest", "kind or apiVersion does not match the URL");
    }
    if (ons && (!cJSON_IsString(ons) || strcmp(ons->valuestring, ns) != 0)) {
        cJSON_Delete(obj);
        return send_status(c, 400, "BadRequest", "the namespace of the provided object does not "
                           "match the namespace sent on the request");
    }
    if (!cJSON_IsString(name) || !name_ok(name->valuestring)) {
        cJSON_Delete(obj);
        return send_status(c, 422, "Invalid", "metadata.name: Invalid value");
    }
    char *key = key_of(plural, ns, name->valuestring);
    if (cJSON_GetObjectItemCaseSensitive(f->objects, key)) {
        snprintf(msg, sizeof(msg), "%s.chaos-mesh.org \"%s\" already exists", plural,
                 name->valuestring);
        free(key);
        cJSON_Delete(obj);
        return send_status(c, 409, "AlreadyExists", msg);
    }
    stamp(f, obj, ns);
    cJSON_AddItemToObject(f->objects, key, cJSON_Duplicate(obj, true));
    free(key);
    return send_json(c, 201, obj);
}

static enum MHD_Result object_one(struct fake_k8s *f, struct MHD_Connection *c, const char *method,
                                  const char *ns, const char *plural, const char *name,
                                  const char *body)
{
    char msg[600];
    char *key = key_of(plural, ns, name);
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(f->objects, key);
    enum MHD_Result ret;
    if (!obj) {
        snprintf(msg, sizeof(msg), "%s.chaos-mesh.org \"%s\" not found", plural, name);
        ret = send_status(c, 404, "NotFound", msg);
    } else if (strcmp(method, "GET") == 0) {
        ret = send_json(c, 200, cJSON_Duplicate(obj, true));
    } else if (strcmp(method, "DELETE") == 0) {
        cJSON *opts = body && *body ? cJSON_ParseWithLength(body, strlen(body)) : NULL;
        const cJSON *pu = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(opts, "preconditions"), "uid");
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");
        if (cJSON_IsString(pu) && strcmp(pu->valuestring, uid->valuestring) != 0) {
            snprintf(msg, sizeof(msg),
                     "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                     pu->valuestring, uid->valuestring);
            ret = send_status(c, 409, "Conflict", msg);
        } else {
            cJSON *gone = cJSON_DetachItemFromObjectCaseSensitive(f->objects, key);
            char ts[32];
            iso_now(ts, sizeof(ts));
            cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(gone, "metadata"),
                                    "deletionTimestamp", ts);
            ret = send_json(c, 200, gone);
        }
        cJSON_Delete(opts);
    } else {
        ret = send_status(c, 405, "MethodNotAllowed", "the server does not allow this method");
    }
    free(key);
    return ret;
}

/* Split "a/b/c" after a prefix into up to 3 segments (pointers into buf). */
static int split(char *buf, char **seg, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return max + 1;
        seg[n++] = t;
    }
    return n;
}

static enum MHD_Result route(struct fake_k8s *f, struct MHD_Connection *c, const char *method,
                             const char *url, const char *lsel, const char *ctype,
                             const char *body)
{
    char buf[512], *seg[4];
    if (strncmp(url, POD_PREFIX, strlen(POD_PREFIX)) == 0) {
        dbp_strlcpy(buf, url + strlen(POD_PREFIX), sizeof(buf));
        if (split(buf, seg, 3) == 2 && strcmp(seg[1], "pods") == 0 && strcmp(method, "GET") == 0)
            return pods_list(f, c, seg[0], lsel);
    } else if (strncmp(url, CM_PREFIX, strlen(CM_PREFIX)) == 0) {
        dbp_strlcpy(buf, url + strlen(CM_PREFIX), sizeof(buf));
        int n = split(buf, seg, 3);
        if ((n == 2 || n == 3) && kind_of(seg[1])) {
            if (n == 3)
                return object_one(f, c, method, seg[0], seg[1], seg[2], body);
            if (strcmp(method, "GET") == 0)
                return objects_list(f, c, seg[0], seg[1], lsel);
            if (strcmp(method, "POST") == 0)
                return object_create(f, c, seg[0], seg[1], ctype, body);
            return send_status(c, 405, "MethodNotAllowed", "the server does not allow this method");
        }
    }
    return send_status(c, 404, "NotFound", "the server could not find the requested resource");
}

static void stall(struct fake_k8s *f, int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(&f->stopping); i++)
        usleep(10000);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fake_k8s *f = cls;
    struct conn *cc = *con_cls;
    if (!cc) {
        cc = dbp_xcalloc(1, sizeof(*cc));
        dbp_buf_init(&cc->body, 4u << 20);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (dbp_buf_append(&cc->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    const char *body = cc->body.len ? cc->body.data : "";
    const char *lsel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    int certs = client_cert_count(c);
    int stall_ms = 0, fail = 0;
    char reason[64], message[512];

    pthread_mutex_lock(&f->lock);
    record(f, c, method, url, lsel, body, certs);
    if (f->stall_n > 0 && (!f->stall_method[0] || strcmp(f->stall_method, method) == 0)) {
        f->stall_n--;
        stall_ms = f->stall_ms;
    }
    if (f->fail_n > 0 && (!f->fail_method[0] || strcmp(f->fail_method, method) == 0)) {
        f->fail_n--;
        fail = f->fail_status;
        dbp_strlcpy(reason, f->fail_reason, sizeof(reason));
        dbp_strlcpy(message, f->fail_message, sizeof(message));
    }
    pthread_mutex_unlock(&f->lock);

    if (stall_ms)
        stall(f, stall_ms);
    if (fail)
        return send_status(c, fail, reason, message);
    if (f->require_client_cert && certs <= 0)
        return send_status(c, 401, "Unauthorized", "Unauthorized");
    pthread_mutex_lock(&f->lock);
    enum MHD_Result ret;
    bool authed = true;
    if (f->token) {
        char *want = dbp_xasprintf("Bearer %s", f->token);
        authed = auth && strcmp(auth, want) == 0;
        free(want);
    }
    if (!authed)
        ret = send_status(c, 401, "Unauthorized", "Unauthorized");
    else
        ret = route(f, c, method, url, lsel, ctype, body);
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct conn *cc = *con_cls;
    if (cc) {
        dbp_buf_release(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

struct fake_k8s *fake_k8s_start(const struct fake_k8s_tls *tls)
{
    struct fake_k8s *f = dbp_xcalloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->pods = cJSON_CreateArray();
    f->objects = cJSON_CreateObject();
    f->log = cJSON_CreateArray();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (tls) {
        flags |= MHD_USE_TLS;
        f->require_client_cert = tls->require_client_cert;
        if (tls->trust_pem)
            f->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &sa,
                                      MHD_OPTION_NOTIFY_COMPLETED, completed, f,
                                      MHD_OPTION_HTTPS_MEM_CERT, tls->cert_pem,
                                      MHD_OPTION_HTTPS_MEM_KEY, tls->key_pem,
                                      MHD_OPTION_HTTPS_MEM_TRUST, tls->trust_pem, MHD_OPTION_END);
        else
            f->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &sa,
                                      MHD_OPTION_NOTIFY_COMPLETED, completed, f,
                                      MHD_OPTION_HTTPS_MEM_CERT, tls->cert_pem,
                                      MHD_OPTION_HTTPS_MEM_KEY, tls->key_pem, MHD_OPTION_END);
    } else {
        f->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, completed, f, MHD_OPTION_END);
    }
    if (!f->mhd) {
        fprintf(stderr, "fake_k8s: MHD_start_daemon failed\n");
        fake_k8s_stop(f);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT);
    f->port = di ? di->port : 0;
    snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", tls ? "https" : "http", f->port);
    return f;
}

void fake_k8s_stop(struct fake_k8s *f)
{
    if (!f)
        return;
    atomic_store(&f->stopping, true);
    if (f->mhd)
        MHD_stop_daemon(f->mhd);
    cJSON_Delete(f->pods);
    cJSON_Delete(f->objects);
    cJSON_Delete(f->log);
    free(f->token);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_k8s_url(const struct fake_k8s *f) { return f->url; }
int fake_k8s_port(const struct fake_k8s *f) { return f->port; }

void fake_k8s_expect_token(struct fake_k8s *f, const char *token)
{
    pthread_mutex_lock(&f->lock);
    free(f->token);
    f->token = token ? dbp_xstrdup(token) : NULL;
    pthread_mutex_unlock(&f->lock);
}

void fake_k8s_add_pod(struct fake_k8s *f, const char *ns, const char *name, const char *labels,
                      const char *phase)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "kind", "Pod");
    cJSON_AddStringToObject(p, "apiVersion", "v1");
    cJSON *md = cJSON_AddObjectToObject(p, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", ns);
    cJSON_AddItemToObject(md, "labels", labels_from(labels));
    cJSON *st = cJSON_AddObjectToObject(p, "status");
    cJSON_AddStringToObject(st, "phase", phase ? phase : "Running");
    cJSON_AddStringToObject(st, "podIP", "10.0.0.1");
    pthread_mutex_lock(&f->lock);
    cJSON_AddItemToArray(f->pods, p);
    pthread_mutex_unlock(&f->lock);
}

void fake_k8s_fail_next(struct fake_k8s *f, const char *method, int n, int status,
                        const char *reason, const char *message)
{
    pthread_mutex_lock(&f->lock);
    dbp_strlcpy(f->fail_method, method ? method : "", sizeof(f->fail_method));
    f->fail_n = n;
    f->fail_status = status;
    dbp_strlcpy(f->fail_reason, reason ? reason : "", sizeof(f->fail_reason));
    dbp_strlcpy(f->fail_message, message ? message : "", sizeof(f->fail_message));
    pthread_mutex_unlock(&f->lock);
}

void fake_k8s_stall_next(struct fake_k8s *f, const char *method, int n, int ms)
{
    pthread_mutex_lock(&f->lock);
    dbp_strlcpy(f->stall_method, method ? method : "", sizeof(f->stall_method));
    f->stall_n = n;
    f->stall_ms = ms;
    pthread_mutex_unlock(&f->lock);
}

void fake_k8s_put_object(struct fake_k8s *f, const char *ns, const char *plural, cJSON *obj)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");
    pthread_mutex_lock(&f->lock);
    stamp(f, obj, ns);
    char *key = key_of(plural, ns, name->valuestring);
    cJSON_DeleteItemFromObjectCaseSensitive(f->objects, key);
    cJSON_AddItemToObject(f->objects, key, obj);
    free(key);
    pthread_mutex_unlock(&f->lock);
}

cJSON *fake_k8s_get_object(struct fake_k8s *f, const char *ns, const char *plural,
                           const char *name)
{
    char *key = key_of(plural, ns, name);
    pthread_mutex_lock(&f->lock);
    cJSON *o = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(f->objects, key), true);
    pthread_mutex_unlock(&f->lock);
    free(key);
    return o;
}

bool fake_k8s_set_status(struct fake_k8s *f, const char *ns, const char *plural, const char *name,
                         cJSON *status)
{
    char *key = key_of(plural, ns, name);
    pthread_mutex_lock(&f->lock);
    cJSON *o = cJSON_GetObjectItemCaseSensitive(f->objects, key);
    if (o) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
        cJSON_AddItemToObject(o, "status", status);
    }
    pthread_mutex_unlock(&f->lock);
    free(key);
    if (!o)
        cJSON_Delete(status);
    return o != NULL;
}

size_t fake_k8s_count(struct fake_k8s *f, const char *plural)
{
    size_t n = 0, len = strlen(plural);
    const cJSON *it;
    pthread_mutex_lock(&f->lock);
    cJSON_ArrayForEach(it, f->objects)
    {
        if (strncmp(it->string, plural, len) == 0 && it->string[len] == '/')
            n++;
    }
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fake_k8s_nrequests(struct fake_k8s *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = (size_t)cJSON_GetArraySize(f->log);
    pthread_mutex_unlock(&f->lock);
    return n;
}

cJSON *fake_k8s_request(struct fake_k8s *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    cJSON *r = cJSON_Duplicate(cJSON_GetArrayItem(f->log, (int)i), true);
    pthread_mutex_unlock(&f->lock);
    return r;
}

void fake_k8s_clear_requests(struct fake_k8s *f)
{
    pthread_mutex_lock(&f->lock);
    cJSON_Delete(f->log);
    f->log = cJSON_CreateArray();
    pthread_mutex_unlock(&f->lock);
}
