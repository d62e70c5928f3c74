/*
 * fake_k8s.h - TEST DOUBLE: "fake Kubernetes API server".
 *
 * Not Kubernetes and not Chaos Mesh.  A loopback HTTP(S) server
 * (libmicrohttpd on 127.0.0.1:0) that implements just the endpoints the
 * chaosmesh executor uses, with the status codes and Status objects the
 * real API server answers:
 *   GET    /api/v1/namespaces/{ns}/pods[?labelSelector=k=v,...]
 *   GET    /apis/chaos-mesh.org/v1alpha1/namespaces/{ns}/{plural}[?labelSelector=...]
 *   POST   /apis/chaos-mesh.org/v1alpha1/namespaces/{ns}/{plural}       201 / 409 AlreadyExists
 *   GET    /apis/chaos-mesh.org/v1alpha1/namespaces/{ns}/{plural}/{name} 200 / 404
 *   DELETE /apis/chaos-mesh.org/v1alpha1/namespaces/{ns}/{plural}/{name} 200 / 404 /
 *          409 when DeleteOptions.preconditions.uid does not match
 * for plural in stresschaos, networkchaos, iochaos.  It records every
 * request, can fail or stall the next N requests, and lets a test set an
 * object's status (Chaos Mesh's controller is not there to do it).
 * No admission webhook: spec fields are stored as sent, never validated.
 */
#ifndef DBP_FAKE_K8S_H
#define DBP_FAKE_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct fake_k8s;

struct fake_k8s_tls {
    const char *cert_pem;  /* server certificate */
    const char *key_pem;   /* its key */
    const char *trust_pem; /* CA for client certificates (NULL = do not ask for one) */
    bool require_client_cert; /* 401 when the client presented none */
};

/* Start on 127.0.0.1:0; tls NULL = plain HTTP.  NULL on failure (printed). */
struct fake_k8s *fake_k8s_start(const struct fake_k8s_tls *tls);
void fake_k8s_stop(struct fake_k8s *f);
/* "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" (borrowed). */
const char *fake_k8s_url(const struct fake_k8s *f);
int fake_k8s_port(const struct fake_k8s *f);

/* Answer 401 unless "Authorization: Bearer <token>" (NULL = accept anything). */
void fake_k8s_expect_token(struct fake_k8s *f, const char *token);
/* A pod; labels "k=v,k2=v2"; phase "Running"... */
void fake_k8s_add_pod(struct fake_k8s *f, const char *ns, const char *name, const char *labels,
                      const char *phase);
/* The next n requests with this method (NULL = any) answer `status` with
 * a Status object (reason, message). */
void fake_k8s_fail_next(struct fake_k8s *f, const char *method, int n, int status,
                        const char *reason, const char *message);
/* The next n requests with this method (NULL = any) get no answer for ms
 * milliseconds; then they are served normally (as a slow server would). */
void fake_k8s_stall_next(struct fake_k8s *f, const char *method, int n, int ms);

/* Objects (plural "stresschaos"...).  put consumes obj (adds uid etc.). */
void fake_k8s_put_object(struct fake_k8s *f, const char *ns, const char *plural, cJSON *obj);
/* A copy of the stored object (caller frees) or NULL. */
cJSON *fake_k8s_get_object(struct fake_k8s *f, const char *ns, const char *plural,
                           const char *name);
/* Replace the object's .status (consumes status); false if no such object. */
bool fake_k8s_set_status(struct fake_k8s *f, const char *ns, const char *plural, const char *name,
                         cJSON *status);
size_t fake_k8s_count(struct fake_k8s *f, const char *plural);

/* Recorded requests, oldest first.  fake_k8s_request(i) returns (caller
 * frees) {"method","path","label_selector","authorization","content_type",
 * "body": parsed JSON or null, "raw_body", "client_certs"} or NULL. */
size_t fake_k8s_nrequests(struct fake_k8s *f);
cJSON *fake_k8s_request(struct fake_k8s *f, size_t i);
void fake_k8s_clear_requests(struct fake_k8s *f);

#endif
