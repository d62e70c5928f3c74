/*
 * k8s.h - a small Kubernetes REST client (libcurl + cJSON) and the name
 * rules the chaosmesh executor needs.
 *
 * Where the API and the credentials come from (first match wins):
 *   1. anomaly.kubeconfig: current-context -> cluster (server,
 *      certificate-authority[-data], insecure-skip-tls-verify) and user
 *      (token, tokenFile, or client-certificate[-data] + client-key[-data]).
 *      anomaly.k8s_api, when also set, replaces the cluster's server.
 *   2. anomaly.k8s_api: that base URL; bearer token from $DBPECKER_K8S_TOKEN
 *      or the file named by $DBPECKER_K8S_TOKEN_FILE, CA bundle from
 *      $DBPECKER_K8S_CA_FILE; without those, the in-cluster service-account
 *      token and CA when present.
 *   3. in-cluster: $KUBERNETES_SERVICE_HOST / $KUBERNETES_SERVICE_PORT, the
 *      service-account token (re-read every minute: bound tokens rotate),
 *      its ca.crt, and its namespace file when anomaly.k8s_namespace is "".
 *   4. $KUBECONFIG (its first file) as in 1.
 * Exec credential plugins and auth-provider entries are refused: running
 * them would mean running a program the kubeconfig names.
 *
 * Credentials never reach a log line or an error message.  Certificate and
 * key data stay in memory (CURLOPT_*_BLOB) and are wiped on free.
 *
 * Thread-safety: one client may be used from several threads at once (each
 * request has its own curl handle; the token refresh takes a mutex).
 */
#ifndef DBP_K8S_H
#define DBP_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"

struct dbp_config;
struct dbp_k8s;

#define DBP_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct dbp_k8s_opts {
    int timeout_ms;         /* whole request; 0 = 10000 */
    int connect_timeout_ms; /* 0 = 3000 */
    const char *sa_dir;     /* service-account dir; NULL = DBP_K8S_SA_DIR (tests point it elsewhere) */
};

/**
 * Build a client from the config (copied) and the environment.
 * opts may be NULL.  Returns 0 and *out (free with dbp_k8s_free), or
 * DBP_EUNAVAIL when no API is configured, DBP_EINVAL for a bad kubeconfig,
 * DBP_EIO when a referenced file cannot be read.
 */
int dbp_k8s_new(const struct dbp_config *cfg, const struct dbp_k8s_opts *opts,
                struct dbp_k8s **out, struct dbp_err *err);
void dbp_k8s_free(struct dbp_k8s *k);

/* Borrowed strings, valid until dbp_k8s_free. */
const char *dbp_k8s_server(const struct dbp_k8s *k);    /* "https://10.0.0.1:443" */
const char *dbp_k8s_namespace(const struct dbp_k8s *k); /* resolved namespace */
/* "kubeconfig", "api-url", "in-cluster" */
const char *dbp_k8s_source(const struct dbp_k8s *k);
/* "token", "client-cert", "none" */
const char *dbp_k8s_auth(const struct dbp_k8s *k);

/**
 * One request.  path starts with '/' and is already escaped; body (may be
 * NULL) is sent as application/json.  *status gets the HTTP status (0 when
 * none arrived); *resp (may be NULL) the parsed JSON answer or NULL (caller
 * frees), also on failure, so callers can read a Status object.
 * Returns 0 for 2xx, else: 401 DBP_EAUTH, 403 DBP_EFORBIDDEN, 404
 * DBP_ENOTFOUND, 409 DBP_EBUSY, 429 DBP_EUNAVAIL, other statuses
 * DBP_EUPSTREAM (err has the API's message); no connection DBP_EUNAVAIL;
 * deadline DBP_ETIMEOUT.
 */
int dbp_k8s_request(struct dbp_k8s *k, const char *method, const char *path, const cJSON *body,
                    long *status, cJSON **resp, struct dbp_err *err);

/* --- name rules (pure functions) --- */

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars. */
bool dbp_k8s_is_dns1123_label(const char *s);
/* RFC 1123 subdomain (pod and object names): labels joined by '.', <= 253. */
bool dbp_k8s_is_dns1123_subdomain(const char *s);
/* Label key ([prefix/]name) and value rules of the Kubernetes API. */
bool dbp_k8s_is_label_key(const char *s);
bool dbp_k8s_is_label_value(const char *s);

/**
 * Parse an equality label selector "k=v,k2==v2" into a JSON object
 * {"k":"v","k2":"v2"} (caller owns).  Set-based forms (in, notin, !=,
 * bare keys) are refused with DBP_EINVAL: Chaos Mesh's labelSelectors is a
 * plain map.  An empty selector gives {}.
 */
int dbp_k8s_parse_label_selector(const char *sel, cJSON **out, struct dbp_err *err);

/**
 * Chaos object name "dbp-<type with '_'->'-'>-<id8>-<n>": id8 = the first
 * 8 [a-z0-9] chars of the lower-cased id.  Returns 0, or DBP_EINVAL when
 * the result would not be a DNS-1123 label (empty id8, too long, bad
 * type).
 */
int dbp_k8s_chaos_name(const char *type, const char *id, int n, char *out, size_t outsz);

/* Standard base64 (whitespace ignored) into a malloc'd buffer. */
int dbp_k8s_base64_decode(const char *in, unsigned char **out, size_t *outlen);

#endif
