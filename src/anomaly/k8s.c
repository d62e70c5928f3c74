/*
 * k8s.c - Kubernetes REST client for the chaosmesh executor.
 *
 * DESIGN
 * - Configuration is resolved once in dbp_k8s_new() (see k8s.h for the
 *   order); afterwards the client is immutable except for a token read
 *   from a file, which is re-read under `lock` at most once a minute so a
 *   rotated service-account token is picked up without a restart.
 * - Every request uses a fresh curl easy handle: requests are rare (a few
 *   per injection) and this keeps the client trivially thread-safe.
 * - Secrets (token, client key) only ever live in this struct, in the
 *   per-request header list and in curl; they are wiped on free and are
 *   never formatted into a log line or an error.
 */
#define _GNU_SOURCE
#include "dbp/k8s.h"
#include "dbp/config.h"
#include "dbp/log.h"
#include "dbp/util.h"
#include "dbp/ydom.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#define K8S_TIMEOUT_MS 10000
#define K8S_CONNECT_TIMEOUT_MS 3000
#define K8S_MAX_RESPONSE (32u << 20) /* a pod list of a big namespace fits */
#define K8S_MAX_FILE (1u << 20)      /* kubeconfig, certificates, tokens */
#define K8S_TOKEN_REREAD_NS (60ull * 1000000000ull)

struct dbp_k8s {
    char *server; /* base URL without a trailing '/' */
    char *ns;
    const char *source;
    const char *auth;

    pthread_mutex_t lock; /* guards token, token_read_ns */
    char *token;
    char *token_file; /* NULL when the token is static */
    uint64_t token_read_ns;

    char *ca_file;
    unsigned char *ca_blob, *cert_blob, *key_blob;
    size_t ca_len, cert_len, key_len;
    bool insecure;

    int timeout_ms, connect_timeout_ms;
};

/* ------------------------------------------------------------------ names */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One dot-free part of a DNS-1123 name, of length n. */
static bool dns_part_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool dbp_k8s_is_dns1123_label(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n <= 63 && dns_part_ok(s, n);
}

bool dbp_k8s_is_dns1123_subdomain(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!dns_part_ok(p, len))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

/* The "name" part of a label key and a non-empty label value share a rule. */
static bool label_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool dbp_k8s_is_label_key(const char *s)
{
    if (!s)
        return false;
    const char *slash = strchr(s, '/');
    if (!slash)
        return label_name_ok(s, strlen(s));
    size_t plen = (size_t)(slash - s);
    if (plen == 0 || plen > 253)
        return false;
    char prefix[254];
    memcpy(prefix, s, plen);
    prefix[plen] = '\0';
    return dbp_k8s_is_dns1123_subdomain(prefix) && label_name_ok(slash + 1, strlen(slash + 1));
}

bool dbp_k8s_is_label_value(const char *s)
{
    return s && (*s == '\0' || label_name_ok(s, strlen(s)));
}

static char *trim_dup(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    return dbp_xstrndup(b, (size_t)(e - b));
}

int dbp_k8s_parse_label_selector(const char *sel, cJSON **out, struct dbp_err *err)
{
    cJSON *map = NULL;
    char *key = NULL, *val = NULL;
    int rc = 0;

    *out = NULL;
    if (!sel)
        sel = "";
    if (strpbrk(sel, "()!"))
        return dbp_err_set(err, DBP_EINVAL,
                           "label selector '%s': only k=v terms are supported (Chaos Mesh "
                           "labelSelectors is a map)", sel);
    map = cJSON_CreateObject();
    const char *p = sel;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (!*p)
        goto done; /* "" selects everything: {} */
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            rc = dbp_err_set(err, DBP_EINVAL,
                             "label selector '%s': term without '=' (existence and set-based "
                             "terms are not supported)", sel);
            goto out;
        }
        key = trim_dup(p, eq);
        const char *v = eq + 1;
        if (v < end && *v == '=')
            v++; /* "k==v" is the same as "k=v" */
        val = trim_dup(v, end);
        if (!dbp_k8s_is_label_key(key) || !dbp_k8s_is_label_value(val) || strchr(val, '=')) {
            rc = dbp_err_set(err, DBP_EINVAL, "label selector '%s': bad term '%s=%s'", sel, key,
                             val);
            goto out;
        }
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(map, key);
        if (prev && strcmp(prev->valuestring, val) != 0) {
            rc = dbp_err_set(err, DBP_EINVAL, "label selector '%s': '%s' given twice", sel, key);
            goto out;
        }
        if (!prev)
            cJSON_AddStringToObject(map, key, val);
        DBP_FREE(key);
        DBP_FREE(val);
        if (!*end)
            break;
        p = end + 1;
    }
done:
    *out = map;
    map = NULL;
out:
    free(key);
    free(val);
    cJSON_Delete(map);
    return rc;
}

int dbp_k8s_chaos_name(const char *type, const char *id, int n, char *out, size_t outsz)
{
    char t[64], id8[9];
    size_t k = 0;

    if (!type || !id || n < 1 || !*type || strlen(type) >= sizeof(t))
        return DBP_EINVAL;
    for (size_t i = 0; type[i]; i++) {
        char c = type[i];
        if (c == '_')
            c = '-';
        if (!is_lower_alnum(c) && c != '-')
            return DBP_EINVAL;
        t[i] = c;
        t[i + 1] = '\0';
    }
    /* Registry ids may be UUIDs or carry upper case: keep what DNS allows. */
    for (const char *p = id; *p && k < 8; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (is_lower_alnum(c))
            id8[k++] = c;
    }
    id8[k] = '\0';
    if (k == 0)
        return DBP_EINVAL;
    int len = snprintf(out, outsz, "dbp-%s-%s-%d", t, id8, n);
    if (len < 0 || (size_t)len >= outsz || !dbp_k8s_is_dns1123_label(out))
        return DBP_EINVAL;
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int dbp_k8s_base64_decode(const char *in, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(in);
    unsigned char *buf = dbp_xmalloc(n / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    bool pad = false;

    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (isspace(*p))
            continue;
        if (*p == '=') {
            pad = true;
            continue;
        }
        int v = b64val(*p);
        if (v < 0 || pad) { /* data after padding is not base64 either */
            free(buf);
            return DBP_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6) { /* a lone 6-bit group cannot end a valid encoding */
        free(buf);
        return DBP_EINVAL;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

/* ----------------------------------------------------------- construction */

static void wipe_free(void *p, size_t n)
{
    if (!p)
        return;
    explicit_bzero(p, n);
    free(p);
}

static void wipe_str(char *s)
{
    if (s)
        wipe_free(s, strlen(s));
}

void dbp_k8s_free(struct dbp_k8s *k)
{
    if (!k)
        return;
    free(k->server);
    free(k->ns);
    wipe_str(k->token);
    free(k->token_file);
    free(k->ca_file);
    wipe_free(k->ca_blob, k->ca_len);
    wipe_free(k->cert_blob, k->cert_len);
    wipe_free(k->key_blob, k->key_len);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

const char *dbp_k8s_server(const struct dbp_k8s *k) { return k->server; }
const char *dbp_k8s_namespace(const struct dbp_k8s *k) { return k->ns; }
const char *dbp_k8s_source(const struct dbp_k8s *k) { return k->source; }
const char *dbp_k8s_auth(const struct dbp_k8s *k) { return k->auth; }

/* Read a small file whole; maps -errno to DBP_EIO with the path (never the content). */
static int read_small(const char *what, const char *path, char **out, size_t *len,
                      struct dbp_err *err)
{
    *out = NULL;
    *len = 0;
    int rc = dbp_read_file(path, K8S_MAX_FILE, out, len);
    if (rc == DBP_ETOOBIG)
        return dbp_err_set(err, DBP_ETOOBIG, "%s '%s' is larger than %u bytes", what, path,
                           K8S_MAX_FILE);
    if (rc)
        return dbp_err_set(err, DBP_EIO, "cannot read %s '%s': %s", what, path,
                           rc < 0 && rc > -4096 ? strerror(-rc) : dbp_strerror(rc));
    if (!*out)
        *out = dbp_xstrdup(""); /* empty file: the buffer never grew */
    return 0;
}

/* A token goes into a header: strip the trailing newline, refuse control bytes. */
static int read_token(const char *path, char **out, struct dbp_err *err)
{
    char *t = NULL;
    size_t len;
    int rc = read_small("token file", path, &t, &len, err);
    if (rc)
        return rc;
    while (len && isspace((unsigned char)t[len - 1]))
        t[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f) {
            wipe_free(t, len);
            return dbp_err_set(err, DBP_EINVAL, "token file '%s' holds control characters", path);
        }
    }
    if (!len) {
        free(t);
        return dbp_err_set(err, DBP_EINVAL, "token file '%s' is empty", path);
    }
    *out = t;
    return 0;
}

static int check_token(const char *t, const char *what, struct dbp_err *err)
{
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return dbp_err_set(err, DBP_EINVAL, "%s holds control characters", what);
    return 0;
}

static int set_server(struct dbp_k8s *k, const char *url, const char *what, struct dbp_err *err)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return dbp_err_set(err, DBP_EINVAL, "%s '%s' is not an http(s) URL", what, url);
    if (strpbrk(url, " \t\r\n?#"))
        return dbp_err_set(err, DBP_EINVAL, "%s '%s' must be a base URL", what, url);
    free(k->server);
    k->server = dbp_xstrdup(url);
    size_t n = strlen(k->server);
    while (n > 8 && k->server[n - 1] == '/')
        k->server[--n] = '\0';
    return 0;
}

/* Path relative to the kubeconfig's directory, as kubectl resolves them. */
static char *resolve_rel(const char *base_file, const char *p)
{
    if (p[0] == '/')
        return dbp_xstrdup(p);
    const char *slash = strrchr(base_file, '/');
    if (!slash)
        return dbp_xstrdup(p);
    return dbp_xasprintf("%.*s/%s", (int)(slash - base_file), base_file, p);
}

static const char *yscalar(const struct dbp_ynode *map, const char *key)
{
    const struct dbp_ynode *n = map && map->type == DBP_Y_MAP ? dbp_ymap_get(map, key) : NULL;
    return n && n->type == DBP_Y_SCALAR ? n->value : NULL;
}

/* The `what` map of the entry named `name` in a kubeconfig list
 * (clusters, contexts, users). */
static const struct dbp_ynode *ynamed(const struct dbp_ynode *root, const char *list,
                                      const char *name, const char *what)
{
    const struct dbp_ynode *seq = dbp_ymap_get(root, list);
    if (!seq || seq->type != DBP_Y_SEQ)
        return NULL;
    for (size_t i = 0; i < seq->nitems; i++) {
        const char *n = yscalar(seq->items[i], "name");
        if (n && strcmp(n, name) == 0) {
            const struct dbp_ynode *m = dbp_ymap_get(seq->items[i], what);
            return m && m->type == DBP_Y_MAP ? m : seq->items[i];
        }
    }
    return NULL;
}

/* base64 "-data" field or a file path field into a blob. */
static int load_blob(const char *kc, const struct dbp_ynode *map, const char *datakey,
                     const char *filekey, unsigned char **blob, size_t *len, bool *found,
                     struct dbp_err *err)
{
    const char *data = yscalar(map, datakey);
    const char *file = yscalar(map, filekey);
    *found = false;
    if (data && *data) {
        if (dbp_k8s_base64_decode(data, blob, len))
            return dbp_err_set(err, DBP_EINVAL, "%s: '%s' is not base64", kc, datakey);
        *found = true;
        return 0;
    }
    if (file && *file) {
        char *path = resolve_rel(kc, file), *text = NULL;
        size_t n;
        int rc = read_small(filekey, path, &text, &n, err);
        free(path);
        if (rc)
            return rc;
        *blob = (unsigned char *)text;
        *len = n;
        *found = true;
    }
    return 0;
}

static int load_kubeconfig(struct dbp_k8s *k, const char *kc, struct dbp_err *err)
{
    char *text = NULL;
    size_t len;
    struct dbp_ynode *root = NULL;
    int rc = read_small("kubeconfig", kc, &text, &len, err);
    if (rc)
        return rc;
    rc = dbp_ydom_parse(kc, (const unsigned char *)text, len, &root, err);
    if (rc)
        goto out;
    if (!root || root->type != DBP_Y_MAP) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s: not a kubeconfig (no top-level mapping)", kc);
        goto out;
    }
    const char *cur = yscalar(root, "current-context");
    if (!cur || !*cur) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s: no current-context", kc);
        goto out;
    }
    const struct dbp_ynode *ctx = ynamed(root, "contexts", cur, "context");
    if (!ctx) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s: context '%s' not found", kc, cur);
        goto out;
    }
    const char *cname = yscalar(ctx, "cluster"), *uname = yscalar(ctx, "user");
    const char *cns = yscalar(ctx, "namespace");
    const struct dbp_ynode *cl = cname ? ynamed(root, "clusters", cname, "cluster") : NULL;
    if (!cl) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s:%d: cluster '%s' of context '%s' not found", kc,
                         ctx->line, cname ? cname : "", cur);
        goto out;
    }
    const char *server = yscalar(cl, "server");
    if (!server || !*server) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s:%d: cluster '%s' has no server", kc, cl->line,
                         cname);
        goto out;
    }
    rc = set_server(k, server, "kubeconfig server", err);
    if (rc)
        goto out;
    bool found;
    rc = load_blob(kc, cl, "certificate-authority-data", "certificate-authority", &k->ca_blob,
                   &k->ca_len, &found, err);
    if (rc)
        goto out;
    const char *insecure = yscalar(cl, "insecure-skip-tls-verify");
    k->insecure = insecure && strcmp(insecure, "true") == 0;
    if (cns && *cns && !k->ns)
        k->ns = dbp_xstrdup(cns);

    const struct dbp_ynode *u = uname && *uname ? ynamed(root, "users", uname, "user") : NULL;
    if (uname && *uname && !u) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s:%d: user '%s' of context '%s' not found", kc,
                         ctx->line, uname, cur);
        goto out;
    }
    if (u && (dbp_ymap_get(u, "exec") || dbp_ymap_get(u, "auth-provider"))) {
        /* Running the plugin would run whatever program the file names. */
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "%s: user '%s' uses an exec/auth-provider plugin, which dbpecker does "
                         "not run; give it a token or a client certificate", kc, uname);
        goto out;
    }
    if (u && (yscalar(u, "username") || yscalar(u, "password"))) {
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "%s: user '%s' uses basic auth, which Kubernetes removed; give it a "
                         "token or a client certificate", kc, uname);
        goto out;
    }
    const char *tok = yscalar(u, "token"), *tokfile = yscalar(u, "tokenFile");
    bool have_cert = false, have_key = false;
    rc = load_blob(kc, u, "client-certificate-data", "client-certificate", &k->cert_blob,
                   &k->cert_len, &have_cert, err);
    if (!rc)
        rc = load_blob(kc, u, "client-key-data", "client-key", &k->key_blob, &k->key_len,
                       &have_key, err);
    if (rc)
        goto out;
    if (have_cert != have_key) {
        rc = dbp_err_set(err, DBP_EINVAL, "%s: user '%s' has a client %s without its %s", kc,
                         uname, have_cert ? "certificate" : "key",
                         have_cert ? "key" : "certificate");
        goto out;
    }
    if (tok && *tok) {
        rc = check_token(tok, "kubeconfig token", err);
        if (rc)
            goto out;
        k->token = dbp_xstrdup(tok);
    } else if (tokfile && *tokfile) {
        k->token_file = resolve_rel(kc, tokfile);
    }
    k->auth = have_cert ? "client-cert" : (k->token || k->token_file) ? "token" : "none";
    k->source = "kubeconfig";
out:
    dbp_ynode_free(root);
    wipe_free(text, len);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dbp_k8s_new(const struct dbp_config *cfg, const struct dbp_k8s_opts *opts,
                struct dbp_k8s **out, struct dbp_err *err)
{
    struct dbp_k8s *k = dbp_xcalloc(1, sizeof(*k));
    const char *sa = opts && opts->sa_dir ? opts->sa_dir : DBP_K8S_SA_DIR;
    char *sa_token = dbp_xasprintf("%s/token", sa), *sa_ca = dbp_xasprintf("%s/ca.crt", sa);
    char *sa_ns = dbp_xasprintf("%s/namespace", sa);
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *envkc = getenv("KUBECONFIG");
    char *envkc1 = NULL;
    int rc = 0;

    *out = NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : K8S_TIMEOUT_MS;
    k->connect_timeout_ms =
        opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : K8S_CONNECT_TIMEOUT_MS;
    if (cfg->k8s_namespace[0])
        k->ns = dbp_xstrdup(cfg->k8s_namespace);

    if (cfg->k8s_kubeconfig[0]) {
        rc = load_kubeconfig(k, cfg->k8s_kubeconfig, err);
        if (!rc && cfg->k8s_api[0])
            rc = set_server(k, cfg->k8s_api, "anomaly.k8s_api", err);
    } else if (cfg->k8s_api[0]) {
        rc = set_server(k, cfg->k8s_api, "anomaly.k8s_api", err);
        if (rc)
            goto out;
        k->source = "api-url";
        const char *t = getenv("DBPECKER_K8S_TOKEN"), *tf = getenv("DBPECKER_K8S_TOKEN_FILE");
        const char *ca = getenv("DBPECKER_K8S_CA_FILE");
        if (t && *t) {
            rc = check_token(t, "$DBPECKER_K8S_TOKEN", err);
            if (rc)
                goto out;
            k->token = dbp_xstrdup(t);
        } else if (tf && *tf) {
            k->token_file = dbp_xstrdup(tf);
        } else if (file_exists(sa_token)) {
            k->token_file = dbp_xstrdup(sa_token);
        }
        if (ca && *ca)
            k->ca_file = dbp_xstrdup(ca);
        else if (file_exists(sa_ca))
            k->ca_file = dbp_xstrdup(sa_ca);
        k->auth = k->token || k->token_file ? "token" : "none";
    } else if (host && *host && port && *port && file_exists(sa_token)) {
        bool v6 = strchr(host, ':') != NULL;
        char *url = dbp_xasprintf("https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
        rc = set_server(k, url, "in-cluster API", err);
        free(url);
        if (rc)
            goto out;
        k->source = "in-cluster";
        k->auth = "token";
        k->token_file = dbp_xstrdup(sa_token);
        if (file_exists(sa_ca))
            k->ca_file = dbp_xstrdup(sa_ca);
        if (!k->ns && file_exists(sa_ns)) {
            char *text = NULL;
            size_t len;
            if (read_small("namespace file", sa_ns, &text, &len, NULL) == 0) {
                while (len && isspace((unsigned char)text[len - 1]))
                    text[--len] = '\0';
                if (dbp_k8s_is_dns1123_label(text))
                    k->ns = text;
                else
                    free(text);
            }
        }
    } else if (envkc && *envkc) {
        const char *colon = strchr(envkc, ':');
        envkc1 = colon ? dbp_xstrndup(envkc, (size_t)(colon - envkc)) : dbp_xstrdup(envkc);
        rc = load_kubeconfig(k, envkc1, err);
    } else {
        rc = dbp_err_set(err, DBP_EUNAVAIL,
                         "no Kubernetes API configured (anomaly.kubeconfig, anomaly.k8s_api, "
                         "in-cluster service account or $KUBECONFIG)");
    }
    if (rc)
        goto out;
    if (k->token_file) {
        /* Fail now rather than on the first injection. */
        rc = read_token(k->token_file, &k->token, err);
        if (rc)
            goto out;
        k->token_read_ns = dbp_now_ns();
    }
    if (!k->ns || !dbp_k8s_is_dns1123_label(k->ns)) {
        rc = dbp_err_set(err, DBP_EINVAL, "Kubernetes namespace '%s' is not a DNS-1123 label",
                         k->ns ? k->ns : "");
        goto out;
    }
    if (k->insecure)
        DBP_WARN("k8s", "TLS verification of %s is off (insecure-skip-tls-verify)", k->server);
    *out = k;
    k = NULL;
out:
    dbp_k8s_free(k);
    free(sa_token);
    free(sa_ca);
    free(sa_ns);
    free(envkc1);
    return rc;
}

/* --------------------------------------------------------------- requests */

struct sink {
    struct dbp_buf b;
    bool toobig;
};

static size_t sink_write(char *p, size_t sz, size_t n, void *ud)
{
    struct sink *s = ud;
    if (dbp_buf_append(&s->b, p, sz * n)) {
        s->toobig = true;
        return 0;
    }
    return sz * n;
}

/* "Authorization: Bearer <token>" (caller wipes and frees) or NULL. */
static char *auth_header(struct dbp_k8s *k)
{
    char *h = NULL;
    pthread_mutex_lock(&k->lock);
    if (k->token_file && dbp_now_ns() - k->token_read_ns > K8S_TOKEN_REREAD_NS) {
        char *t = NULL;
        struct dbp_err e = {0};
        if (read_token(k->token_file, &t, &e) == 0) {
            wipe_str(k->token);
            k->token = t;
        } else {
            DBP_WARN("k8s", "keeping the previous token: %s", e.msg);
        }
        k->token_read_ns = dbp_now_ns();
    }
    if (k->token)
        h = dbp_xasprintf("Authorization: Bearer %s", k->token);
    pthread_mutex_unlock(&k->lock);
    return h;
}

static int map_status(long st)
{
    switch (st) {
    case 401:
        return DBP_EAUTH;
    case 403:
        return DBP_EFORBIDDEN;
    case 404:
        return DBP_ENOTFOUND;
    case 409:
        return DBP_EBUSY;
    case 429:
        return DBP_EUNAVAIL;
    default:
        return DBP_EUPSTREAM;
    }
}

static int map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return DBP_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return DBP_EUNAVAIL;
    default:
        return DBP_EUPSTREAM;
    }
}

int dbp_k8s_request(struct dbp_k8s *k, const char *method, const char *path, const cJSON *body,
                    long *status, cJSON **resp, struct dbp_err *err)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    char *url = NULL, *auth = NULL, *payload = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    struct sink s = {.toobig = false};
    cJSON *doc = NULL;
    long st = 0;
    int rc = 0;

    dbp_buf_init(&s.b, K8S_MAX_RESPONSE);
    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (path[0] != '/')
        return dbp_err_set(err, DBP_EINTERNAL, "k8s path '%s' must start with '/'", path);
    c = curl_easy_init();
    if (!c) {
        rc = dbp_err_set(err, DBP_ENOMEM, "curl_easy_init failed");
        goto out;
    }
    url = dbp_xasprintf("%s%s", k->server, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(k->connect_timeout_ms < k->timeout_ms ? k->connect_timeout_ms
                                                                  : k->timeout_ms));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
#ifdef DBP_VERSION
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dbpecker/" DBP_VERSION);
#endif
    if (k->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (k->ca_blob) {
        struct curl_blob b = {.data = k->ca_blob, .len = k->ca_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
    } else if (k->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
    }
    if (k->cert_blob) {
        struct curl_blob cb = {.data = k->cert_blob, .len = k->cert_len,
                               .flags = CURL_BLOB_NOCOPY};
        struct curl_blob kb = {.data = k->key_blob, .len = k->key_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    auth = auth_header(k);
    if (auth)
        hdrs = curl_slist_append(hdrs, auth);
    if (!hdrs) {
        rc = dbp_err_set(err, DBP_ENOMEM, "curl_slist_append failed");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        payload = cJSON_PrintUnformatted(body);
        if (!payload) {
            rc = dbp_err_set(err, DBP_ENOMEM, "cannot serialise the request body");
            goto out;
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    if (strcmp(method, "GET") != 0 && !(body && strcmp(method, "POST") == 0))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (s.toobig) {
            rc = dbp_err_set(err, DBP_ETOOBIG, "Kubernetes API %s %s: answer larger than %u bytes",
                             method, path, K8S_MAX_RESPONSE);
        } else {
            rc = map_curl(cc);
            dbp_err_set(err, rc, "Kubernetes API %s %s at %s: %s", method, path, k->server,
                        ebuf[0] ? ebuf : curl_easy_strerror(cc));
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    if (status)
        *status = st;
    if (s.b.len)
        doc = cJSON_ParseWithLength(s.b.data, s.b.len);
    if (st < 200 || st > 299) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "message");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "reason");
        rc = map_status(st);
        dbp_err_set(err, rc, "Kubernetes API %s %s: %ld %s", method, path, st,
                    cJSON_IsString(m)   ? m->valuestring
                    : cJSON_IsString(r) ? r->valuestring
                                        : "(no message)");
    } else if (s.b.len && !doc) {
        rc = dbp_err_set(err, DBP_EUPSTREAM, "Kubernetes API %s %s: answer is not JSON", method,
                         path);
    }
    if (resp) {
        *resp = doc;
        doc = NULL;
    }
out:
    cJSON_Delete(doc);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    wipe_str(auth);
    free(url);
    cJSON_free(payload);
    dbp_buf_release(&s.b);
    return rc;
}
