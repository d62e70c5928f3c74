/*
 * it_chaosmesh.c - the chaosmesh executor and its Kubernetes client against
 * the TEST DOUBLE "fake Kubernetes API server" (helpers/fake_k8s.c), never
 * a real cluster: the exact objects sent per type x severity, the bearer
 * token, the selector, pod validation, revert and its idempotence, the
 * 401/403/404/409/500 answers, timeouts, kubeconfig (token and client
 * certificate over TLS), in-cluster detection, evidence, leftover cleanup.
 * The TLS cases need the openssl command to make certificates; without it
 * they are skipped (the rest still runs).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_k8s.h"
#include "ithelp.h"

#include "dbp/chaosmesh.h"
#include "dbp/config.h"
#include "dbp/fault.h"
#include "dbp/k8s.h"
#include "dbp/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS "oceanbase"
#define POD1 "obcluster-1-zone1-abc"
#define POD2 "obcluster-2-zone2-def"
#define TOKEN "test-token-0123456789"
#define ID "AbCdEf1234567"
#define TIMEOUT_MS 1000

struct env {
    struct fake_k8s *fk;
    struct dbp_config *cfg;
    struct dbp_chaosmesh_opts opts;
    struct dbp_executor ex;
    struct dbp_node_cfg n1, n2;
    char tmp[64];
};

static char tmpdir[64]; /* per process: certificates and kubeconfigs */
static bool have_tls;
static char *ca_pem, *srv_pem, *srv_key, *cli_pem, *cli_key;

/* ------------------------------------------------------------- utilities */

static char *slurp(const char *path)
{
    char *s = NULL;
    size_t n;
    if (dbp_read_file(path, 1 << 20, &s, &n))
        return NULL;
    return s;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *b64(const char *s)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *o = dbp_xmalloc(n / 3 * 4 + 5), *p = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        *p++ = tab[(v >> 18) & 63];
        *p++ = tab[(v >> 12) & 63];
        *p++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *p = '\0';
    return o;
}

static double elapsed_ms(uint64_t t0)
{
    return (double)(dbp_now_ns() - t0) / 1e6;
}

/* Certificates for the TLS cases: a CA, a server cert for 127.0.0.1, a
 * client cert; all made here with the openssl command (argv, no shell). */
static bool make_certs(void)
{
    char p[16][320];
    const char *names[] = {"ca.key", "ca.crt", "srv.key", "srv.csr", "srv.crt", "cli.key",
                           "cli.csr", "cli.crt", "ext.cnf"};
    for (int i = 0; i < 9; i++)
        snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, names[i]);
    spit(p[8], "subjectAltName=IP:127.0.0.1\n");
    const char *ca[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        p[0], "-out", p[1], "-days", "2", "-subj", "/CN=fake-k8s-ca", NULL};
    const char *sreq[] = {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p[2],
                          "-out", p[3], "-subj", "/CN=127.0.0.1", NULL};
    const char *ssign[] = {"openssl", "x509", "-req", "-in", p[3], "-CA", p[1], "-CAkey", p[0],
                           "-CAcreateserial", "-out", p[4], "-days", "2", "-extfile", p[8],
                           NULL};
    const char *creq[] = {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p[5],
                          "-out", p[6], "-subj", "/CN=dbpecker/O=system:masters", NULL};
    const char *csign[] = {"openssl", "x509", "-req", "-in", p[6], "-CA", p[1], "-CAkey", p[0],
                           "-CAcreateserial", "-out", p[7], "-days", "2", NULL};
    const char *const *steps[] = {ca, sreq, ssign, creq, csign};
    for (size_t i = 0; i < 5; i++) {
        char out[2048];
        if (it_run(steps[i], out, sizeof(out)) != 0) {
            fprintf(stderr, "openssl step %zu failed (TLS cases skipped): %s\n", i, out);
            return false;
        }
    }
    ca_pem = slurp(p[1]);
    srv_key = slurp(p[2]);
    srv_pem = slurp(p[4]);
    cli_key = slurp(p[5]);
    cli_pem = slurp(p[7]);
    return ca_pem && srv_key && srv_pem && cli_key && cli_pem;
}

static void clear_env(void)
{
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("DBPECKER_K8S_TOKEN");
    unsetenv("DBPECKER_K8S_TOKEN_FILE");
    unsetenv("DBPECKER_K8S_CA_FILE");
}

static struct dbp_config *base_cfg(void)
{
    struct dbp_config *cfg = dbp_xcalloc(1, sizeof(*cfg));
    dbp_config_defaults(cfg);
    dbp_strlcpy(cfg->k8s_namespace, NS, sizeof(cfg->k8s_namespace));
    dbp_strlcpy(cfg->k8s_label_selector, "ref-obcluster=obcluster",
                sizeof(cfg->k8s_label_selector));
    cfg->k8s_api[0] = cfg->k8s_kubeconfig[0] = '\0';
    return cfg;
}

static void base_opts(struct dbp_chaosmesh_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->k8s.timeout_ms = TIMEOUT_MS;
    o->k8s.connect_timeout_ms = 500;
    o->k8s.sa_dir = "/nonexistent-dbp-sa"; /* never the host's own service account */
    o->conflict_budget_ms = 1500;
}

static void add_pods(struct fake_k8s *fk)
{
    fake_k8s_add_pod(fk, NS, POD1, "ref-obcluster=obcluster,app=observer", "Running");
    fake_k8s_add_pod(fk, NS, POD2, "ref-obcluster=obcluster,app=observer", "Running");
    fake_k8s_add_pod(fk, NS, "unrelated-pod", "app=other", "Running");
    fake_k8s_add_pod(fk, "default", "obcluster-9-zone1-xyz", "ref-obcluster=obcluster", "Running");
}

static int setup(void **state)
{
    struct env *e = dbp_xcalloc(1, sizeof(*e));
    clear_env();
    e->fk = fake_k8s_start(NULL);
    if (!e->fk)
        return -1;
    add_pods(e->fk);
    fake_k8s_expect_token(e->fk, TOKEN);
    setenv("DBPECKER_K8S_TOKEN", TOKEN, 1);
    e->cfg = base_cfg();
    dbp_strlcpy(e->cfg->k8s_api, fake_k8s_url(e->fk), sizeof(e->cfg->k8s_api));
    base_opts(&e->opts);
    dbp_strlcpy(e->n1.name, "n1", sizeof(e->n1.name));
    dbp_strlcpy(e->n1.pod, POD1, sizeof(e->n1.pod));
    dbp_strlcpy(e->n2.name, POD2, sizeof(e->n2.name)); /* no pod: the name is the pod */
    struct dbp_err err = {0};
    if (dbp_exec_chaosmesh_new_opts(e->cfg, &e->opts, &e->ex, &err)) {
        fprintf(stderr, "executor: %s\n", err.msg);
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->ex.free_ctx)
        e->ex.free_ctx(e->ex.ctx);
    fake_k8s_stop(e->fk);
    free(e->cfg);
    free(e);
    clear_env();
    return 0;
}

static struct dbp_fault_spec fault(const char *type, const char *sev,
                                   const struct dbp_node_cfg *node)
{
    struct dbp_fault_spec f = {.id = ID, .type = type, .severity = sev, .duration_s = 120,
                               .node = node, .params = NULL};
    return f;
}

/* The last recorded request with this method (caller frees) or NULL. */
static cJSON *last_req(struct fake_k8s *fk, const char *method)
{
    for (size_t i = fake_k8s_nrequests(fk); i-- > 0;) {
        cJSON *r = fake_k8s_request(fk, i);
        if (strcmp(cJSON_GetObjectItem(r, "method")->valuestring, method) == 0)
            return r;
        cJSON_Delete(r);
    }
    return NULL;
}

static const char *rs(const cJSON *r, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void assert_json_equal(const cJSON *want, const cJSON *got)
{
    if (!cJSON_Compare(want, got, true)) {
        char *a = cJSON_Print(want), *b = cJSON_Print(got);
        fail_msg("JSON differs\nwant: %s\ngot:  %s", a, b);
    }
}

/* ----------------------------------------------------- objects per type */

static const char *const sevs[3] = {"low", "medium", "high"};

#define META(kind, type)                                                                     \
    "{\"apiVersion\":\"chaos-mesh.org/v1alpha1\",\"kind\":\"" kind "\","                     \
    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"oceanbase\",\"labels\":{"                 \
    "\"app.kubernetes.io/managed-by\":\"dbpecker\",\"dbpecker/injection\":\"" ID "\","        \
    "\"dbpecker/type\":\"" type "\",\"dbpecker/severity\":\"%s\"},"                          \
    "\"annotations\":{\"dbpecker/node\":\"n1\"}},"
#define SELECTOR                                                                             \
    "\"selector\":{\"namespaces\":[\"oceanbase\"],\"labelSelectors\":{\"ref-obcluster\":"    \
    "\"obcluster\"},\"pods\":{\"oceanbase\":[\"" POD1 "\"]}}"

static cJSON *expected(const char *type, int sev, const char *name)
{
    static const int workers[3] = {32, 48, 64};
    static const char *const loss[3] = {"50", "80", "100"};
    static const char *const delay[3] = {"10ms", "50ms", "100ms"};
    static const int percent[3] = {50, 80, 100};
    char buf[4096];
    if (strcmp(type, "cpu_stress") == 0)
        snprintf(buf, sizeof(buf),
                 META("StressChaos", "cpu_stress") "\"spec\":{\"mode\":\"one\"," SELECTOR ","
                 "\"stressors\":{\"cpu\":{\"workers\":%d,\"load\":100}},"
                 "\"duration\":\"120s\"}}",
                 name, sevs[sev], workers[sev]);
    else if (strcmp(type, "io_bottleneck") == 0)
        snprintf(buf, sizeof(buf),
                 META("IOChaos", "io_bottleneck") "\"spec\":{\"mode\":\"one\"," SELECTOR ","
                 "\"action\":\"latency\",\"volumePath\":\"/home/admin/data-file\","
                 "\"path\":\"/home/admin/data-file/**/*\",\"delay\":\"%s\",\"percent\":%d,"
                 "\"duration\":\"120s\"}}",
                 name, sevs[sev], delay[sev], percent[sev]);
    else
        snprintf(buf, sizeof(buf),
                 META("NetworkChaos", "network_bottleneck") "\"spec\":{\"mode\":\"one\","
                 SELECTOR ",\"action\":\"loss\",\"loss\":{\"loss\":\"%s\",\"correlation\":\"0\"},"
                 "\"direction\":\"both\",\"target\":{\"selector\":{\"namespaces\":[\"oceanbase\"],"
                 "\"labelSelectors\":{\"ref-obcluster\":\"obcluster\"}},\"mode\":\"one\"},"
                 "\"duration\":\"120s\"}}",
                 name, sevs[sev], loss[sev]);
    cJSON *j = cJSON_ParseWithLength(buf, strlen(buf));
    if (!j)
        fail_msg("bad expected JSON: %s", buf);
    return j;
}

static void objects_per_type_and_severity(void **state)
{
    struct env *e = *state;
    static const struct {
        const char *type, *plural, *kind;
    } types[] = {{"cpu_stress", "stresschaos", "StressChaos"},
                 {"io_bottleneck", "iochaos", "IOChaos"},
                 {"network_bottleneck", "networkchaos", "NetworkChaos"}};
    for (size_t t = 0; t < 3; t++) {
        for (int s = 0; s < 3; s++) {
            struct dbp_err err = {0};
            cJSON *st = NULL;
            struct dbp_fault_spec f = fault(types[t].type, sevs[s], &e->n1);
            fake_k8s_clear_requests(e->fk);
            if (e->ex.apply(e->ex.ctx, &f, &st, &err))
                fail_msg("%s/%s: %s", types[t].type, sevs[s], err.msg);
            char name[64];
            snprintf(name, sizeof(name), "dbp-%s-abcdef12-1",
                     strcmp(types[t].type, "cpu_stress") == 0      ? "cpu-stress"
                     : strcmp(types[t].type, "io_bottleneck") == 0 ? "io-bottleneck"
                                                                   : "network-bottleneck");
            /* Two requests: the pod list, then the create. */
            assert_int_equal(fake_k8s_nrequests(e->fk), 2);
            cJSON *list = fake_k8s_request(e->fk, 0), *post = fake_k8s_request(e->fk, 1);
            assert_string_equal(rs(list, "method"), "GET");
            assert_string_equal(rs(list, "path"), "/api/v1/namespaces/oceanbase/pods");
            assert_string_equal(rs(list, "label_selector"), "ref-obcluster=obcluster");
            assert_string_equal(rs(post, "method"), "POST");
            char path[160];
            snprintf(path, sizeof(path), "/apis/chaos-mesh.org/v1alpha1/namespaces/oceanbase/%s",
                     types[t].plural);
            assert_string_equal(rs(post, "path"), path);
            assert_string_equal(rs(post, "authorization"), "Bearer " TOKEN);
            assert_string_equal(rs(list, "authorization"), "Bearer " TOKEN);
            assert_string_equal(rs(post, "content_type"), "application/json");
            cJSON *want = expected(types[t].type, s, name);
            assert_json_equal(want, cJSON_GetObjectItem(post, "body"));
            cJSON_Delete(want);

            /* State: what revert needs, nothing secret. */
            assert_string_equal(rs(st, "executor"), "chaosmesh");
            assert_string_equal(rs(st, "plural"), types[t].plural);
            assert_string_equal(rs(st, "kind"), types[t].kind);
            assert_string_equal(rs(st, "name"), name);
            assert_string_equal(rs(st, "namespace"), NS);
            assert_string_equal(rs(st, "api"), fake_k8s_url(e->fk));
            assert_string_equal(rs(st, "pod"), POD1);
            assert_true(strlen(rs(st, "uid")) > 0);
            char *dump = cJSON_PrintUnformatted(st);
            assert_null(strstr(dump, TOKEN));
            free(dump);
            assert_int_equal(fake_k8s_count(e->fk, types[t].plural), 1);

            /* Revert: DELETE with the uid as precondition. */
            assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
            cJSON *del = last_req(e->fk, "DELETE");
            assert_non_null(del);
            char dpath[256];
            snprintf(dpath, sizeof(dpath), "%s/%s", path, name);
            assert_string_equal(rs(del, "path"), dpath);
            assert_string_equal(rs(del, "authorization"), "Bearer " TOKEN);
            const cJSON *pre = cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(del, "body"), "preconditions"), "uid");
            assert_string_equal(pre->valuestring, rs(st, "uid"));
            assert_int_equal(fake_k8s_count(e->fk, types[t].plural), 0);
            cJSON_Delete(del);
            cJSON_Delete(list);
            cJSON_Delete(post);
            cJSON_Delete(st);
        }
    }
}

static void params_override_and_node_datadir(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL;

    /* cpu: the registry's row may carry other executors' keys: ignored. */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "workers", 8);
    cJSON_AddNumberToObject(p, "load", 50);
    cJSON_AddStringToObject(p, "stress-ng-params", "--cpu 80 -t 180");
    cJSON_AddStringToObject(p, "container", "observer");
    struct dbp_fault_spec f = fault("cpu_stress", "high", &e->n1);
    f.params = p;
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    cJSON *post = last_req(e->fk, "POST");
    const cJSON *spec = cJSON_GetObjectItem(cJSON_GetObjectItem(post, "body"), "spec");
    const cJSON *cpu = cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "stressors"), "cpu");
    assert_int_equal(cJSON_GetObjectItem(cpu, "workers")->valueint, 8);
    assert_int_equal(cJSON_GetObjectItem(cpu, "load")->valueint, 50);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(spec, "containerNames"), 0)
                            ->valuestring, "observer");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON_Delete(post);
    cJSON_Delete(st);
    cJSON_Delete(p);

    /* io: the node's datadir is the volume. */
    struct dbp_node_cfg n = e->n1;
    dbp_strlcpy(n.datadir, "/data/ob", sizeof(n.datadir));
    f = fault("io_bottleneck", "low", &n);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    post = last_req(e->fk, "POST");
    spec = cJSON_GetObjectItem(cJSON_GetObjectItem(post, "body"), "spec");
    assert_string_equal(cJSON_GetObjectItem(spec, "volumePath")->valuestring, "/data/ob");
    assert_string_equal(cJSON_GetObjectItem(spec, "path")->valuestring, "/data/ob/**/*");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON_Delete(post);
    cJSON_Delete(st);

    /* network: a numeric loss is sent as Chaos Mesh's string. */
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "loss", 25);
    f = fault("network_bottleneck", "low", &e->n1);
    f.params = p;
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    post = last_req(e->fk, "POST");
    spec = cJSON_GetObjectItem(cJSON_GetObjectItem(post, "body"), "spec");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "loss"), "loss")->valuestring,
                        "25");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON_Delete(post);
    cJSON_Delete(st);
    cJSON_Delete(p);

    /* Bad values are refused before any request. */
    static const char *const bad[] = {"{\"workers\":\"lots\"}", "{\"workers\":0}",
                                      "{\"load\":101}",        "{\"container\":\"a b\"}"};
    for (size_t i = 0; i < 4; i++) {
        p = cJSON_ParseWithLength(bad[i], strlen(bad[i]));
        f = fault("cpu_stress", "low", &e->n1);
        f.params = p;
        fake_k8s_clear_requests(e->fk);
        st = NULL;
        assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ESCHEMA);
        assert_null(st);
        assert_int_equal(fake_k8s_nrequests(e->fk), 0);
        cJSON_Delete(p);
    }
    static const char *const badio[] = {"{\"delay\":\"10 ms\"}", "{\"delay\":\"fast\"}",
                                        "{\"volume_path\":\"relative\"}",
                                        "{\"volume_path\":\"/a/../etc\"}", "{\"percent\":0}"};
    for (size_t i = 0; i < 5; i++) {
        p = cJSON_ParseWithLength(badio[i], strlen(badio[i]));
        f = fault("io_bottleneck", "low", &e->n1);
        f.params = p;
        assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ESCHEMA);
        cJSON_Delete(p);
    }
}

/* ------------------------------------------------------------ validation */

static void supports_and_pods(void **state)
{
    struct env *e = *state;
    char why[256];
    struct dbp_err err = {0};
    cJSON *st = NULL;

    assert_true(e->ex.supports(e->ex.ctx, "cpu_stress", &e->n1, why, sizeof(why)));
    assert_true(e->ex.supports(e->ex.ctx, "io_bottleneck", &e->n1, why, sizeof(why)));
    assert_true(e->ex.supports(e->ex.ctx, "network_bottleneck", &e->n2, why, sizeof(why)));
    static const char *const no[] = {"cache_bottleneck", "too_many_indexes", "lock_contention",
                                     "connection_storm", "workload_surge", "memory_leak"};
    for (size_t i = 0; i < 6; i++) {
        why[0] = '\0';
        assert_false(e->ex.supports(e->ex.ctx, no[i], &e->n1, why, sizeof(why)));
        assert_true(strlen(why) > 0);
    }
    assert_false(e->ex.supports(e->ex.ctx, "cpu_stress", NULL, why, sizeof(why)));

    /* A hostile pod name never reaches the API. */
    struct dbp_node_cfg evil = {0};
    dbp_strlcpy(evil.name, "n1; rm -rf /", sizeof(evil.name));
    assert_false(e->ex.supports(e->ex.ctx, "cpu_stress", &evil, why, sizeof(why)));
    fake_k8s_clear_requests(e->fk);
    struct dbp_fault_spec f = fault("cpu_stress", "low", &evil);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
    assert_non_null(strstr(err.msg, "not a valid pod name"));
    dbp_strlcpy(evil.pod, "../../api/v1/secrets", sizeof(evil.pod));
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
    assert_int_equal(fake_k8s_nrequests(e->fk), 0);
    assert_null(st);

    /* Unknown pod, a pod without the label, a pod in another namespace. */
    static const char *const unknown[] = {"obcluster-7-zone1-zzz", "unrelated-pod",
                                          "obcluster-9-zone1-xyz"};
    for (size_t i = 0; i < 3; i++) {
        struct dbp_node_cfg n = {0};
        dbp_strlcpy(n.name, "nx", sizeof(n.name));
        dbp_strlcpy(n.pod, unknown[i], sizeof(n.pod));
        f = fault("network_bottleneck", "medium", &n);
        fake_k8s_clear_requests(e->fk);
        assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ENOTFOUND);
        assert_non_null(strstr(err.msg, "unknown pod"));
        assert_int_equal(fake_k8s_nrequests(e->fk), 1); /* the list only, no create */
    }
    assert_int_equal(fake_k8s_count(e->fk, "networkchaos"), 0);

    /* Without node.pod the node name is the pod. */
    f = fault("cpu_stress", "low", &e->n2);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    assert_string_equal(rs(st, "pod"), POD2);
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON_Delete(st);

    /* Bad spec fields. */
    f = fault("cpu_stress", "extreme", &e->n1);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
    f = fault("cache_bottleneck", "low", &e->n1);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
    f = fault("cpu_stress", "low", NULL);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
    f = fault("cpu_stress", "low", &e->n1);
    f.id = "bad id!";
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EINVAL);
}

/* ---------------------------------------------------------------- revert */

static void revert_is_idempotent(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL;
    struct dbp_fault_spec f = fault("network_bottleneck", "high", &e->n1);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    fake_k8s_clear_requests(e->fk);
    /* Already gone: the DELETE answers 404, which is success. */
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON *del = last_req(e->fk, "DELETE");
    assert_non_null(del);
    cJSON_Delete(del);

    /* The name was taken again by a newer object: the uid precondition
     * fails, ours is gone, the newer one stays. */
    cJSON *other = cJSON_CreateObject();
    cJSON_AddStringToObject(other, "apiVersion", "chaos-mesh.org/v1alpha1");
    cJSON_AddStringToObject(other, "kind", "NetworkChaos");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(other, "metadata"), "name", rs(st, "name"));
    fake_k8s_put_object(e->fk, NS, "networkchaos", other);
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    assert_int_equal(fake_k8s_count(e->fk, "networkchaos"), 1);

    /* From state alone, in a new executor (a restarted daemon). */
    struct dbp_executor ex2;
    assert_int_equal(dbp_exec_chaosmesh_new_opts(e->cfg, &e->opts, &ex2, &err), 0);
    cJSON *st2 = cJSON_Duplicate(st, true);
    cJSON_DeleteItemFromObject(st2, "uid"); /* an older journal without uid */
    assert_int_equal(ex2.revert(ex2.ctx, st2, &err), 0);
    assert_int_equal(fake_k8s_count(e->fk, "networkchaos"), 0);
    ex2.free_ctx(ex2.ctx);
    cJSON_Delete(st2);

    /* A corrupt journal entry never becomes a URL. */
    static const char *const bad[] = {
        "{}",
        "{\"plural\":\"pods\",\"namespace\":\"oceanbase\",\"name\":\"x\"}",
        "{\"plural\":\"stresschaos\",\"namespace\":\"oceanbase\",\"name\":\"../x\"}",
        "{\"plural\":\"stresschaos\",\"namespace\":\"kube-system\",\"name\":\"x\"}"};
    fake_k8s_clear_requests(e->fk);
    for (size_t i = 0; i < 4; i++) {
        cJSON *b = cJSON_ParseWithLength(bad[i], strlen(bad[i]));
        assert_int_equal(e->ex.revert(e->ex.ctx, b, &err), DBP_EINVAL);
        cJSON_Delete(b);
    }
    assert_int_equal(fake_k8s_nrequests(e->fk), 0);
    cJSON_Delete(st);
}

/* ----------------------------------------------------------- API errors */

static void api_errors(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL;
    struct dbp_fault_spec f = fault("cpu_stress", "medium", &e->n1);

    /* 401 with the API's message. */
    fake_k8s_fail_next(e->fk, NULL, 1, 401, "Unauthorized", "Unauthorized");
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EAUTH);
    assert_non_null(strstr(err.msg, "401 Unauthorized"));
    assert_null(strstr(err.msg, TOKEN));

    /* A wrong token gets the server's own 401. */
    fake_k8s_expect_token(e->fk, "another-token");
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EAUTH);
    fake_k8s_expect_token(e->fk, TOKEN);

    /* 403 on the create (RBAC lacks chaos-mesh.org). */
    fake_k8s_fail_next(e->fk, "POST", 1, 403, "Forbidden",
                       "stresschaos.chaos-mesh.org is forbidden: User "
                       "\"system:serviceaccount:oceanbase:dbpecker\" cannot create resource "
                       "\"stresschaos\" in API group \"chaos-mesh.org\"");
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "cannot create resource"));
    assert_int_equal(fake_k8s_count(e->fk, "stresschaos"), 0);

    /* 404 on the create: Chaos Mesh's CRDs are not installed. */
    fake_k8s_fail_next(e->fk, "POST", 1, 404, "NotFound",
                       "the server could not find the requested resource");
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ENOTFOUND);

    /* 500 (e.g. the admission webhook is down). */
    fake_k8s_fail_next(e->fk, "POST", 1, 500, "InternalError",
                       "Internal error occurred: failed calling webhook "
                       "\"mstresschaos.kb.io\"");
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EUPSTREAM);
    assert_non_null(strstr(err.msg, "failed calling webhook"));

    /* 403 and 500 on revert are errors (the registry retries); 404 is not. */
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    fake_k8s_fail_next(e->fk, "DELETE", 1, 403, "Forbidden", "cannot delete");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), DBP_EFORBIDDEN);
    fake_k8s_fail_next(e->fk, "DELETE", 1, 500, "InternalError", "etcd timeout");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), DBP_EUPSTREAM);
    assert_int_equal(fake_k8s_count(e->fk, "stresschaos"), 1);
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    assert_int_equal(fake_k8s_count(e->fk, "stresschaos"), 0);
    cJSON_Delete(st);

    /* Nothing listening. */
    struct dbp_config *cfg = base_cfg();
    dbp_strlcpy(cfg->k8s_api, "http://127.0.0.1:1", sizeof(cfg->k8s_api));
    struct dbp_executor ex2;
    assert_int_equal(dbp_exec_chaosmesh_new_opts(cfg, &e->opts, &ex2, &err), 0);
    st = NULL;
    assert_int_equal(ex2.apply(ex2.ctx, &f, &st, &err), DBP_EUNAVAIL);
    ex2.free_ctx(ex2.ctx);
    free(cfg);
}

static void conflicts(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL, *st2 = NULL;
    struct dbp_fault_spec f = fault("cpu_stress", "low", &e->n1);

    /* Same id on two pods (a compound injection): the second takes -2. */
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    struct dbp_fault_spec f2 = fault("cpu_stress", "low", &e->n2);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f2, &st2, &err), 0);
    assert_string_equal(rs(st, "name"), "dbp-cpu-stress-abcdef12-1");
    assert_string_equal(rs(st2, "name"), "dbp-cpu-stress-abcdef12-2");
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    assert_int_equal(e->ex.revert(e->ex.ctx, st2, &err), 0);
    cJSON_Delete(st);
    cJSON_Delete(st2);

    /* "is being deleted": same name again after a backoff. */
    fake_k8s_fail_next(e->fk, "POST", 2, 409, "AlreadyExists",
                       "object is being deleted: stresschaos.chaos-mesh.org "
                       "\"dbp-cpu-stress-abcdef12-1\" already exists");
    fake_k8s_clear_requests(e->fk);
    uint64_t t0 = dbp_now_ns();
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    assert_true(elapsed_ms(t0) >= 550); /* 200 + 400 ms of backoff */
    assert_string_equal(rs(st, "name"), "dbp-cpu-stress-abcdef12-1");
    assert_int_equal(fake_k8s_nrequests(e->fk), 4); /* list + 3 creates */
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    cJSON_Delete(st);

    /* ... bounded by the budget (1.5 s here, 10 s by default). */
    fake_k8s_fail_next(e->fk, "POST", 1000, 409, "AlreadyExists",
                       "object is being deleted: stresschaos.chaos-mesh.org \"x\" already exists");
    fake_k8s_clear_requests(e->fk);
    st = NULL;
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EBUSY);
    /* it gave up on the budget, not on the fake's 1000 failures (no wall-
     * clock upper bound: that flakes under sanitizers) */
    assert_true(fake_k8s_nrequests(e->fk) < 100);
    assert_non_null(strstr(err.msg, "still being deleted"));
    assert_null(st);
    fake_k8s_fail_next(e->fk, NULL, 0, 0, NULL, NULL);

    /* AlreadyExists on every name: bounded number of names. */
    fake_k8s_fail_next(e->fk, "POST", 1000, 409, "AlreadyExists",
                       "stresschaos.chaos-mesh.org \"x\" already exists");
    fake_k8s_clear_requests(e->fk);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_EBUSY);
    assert_int_equal(fake_k8s_nrequests(e->fk), 1 + 8);
    assert_non_null(strstr(err.msg, "no free"));
    fake_k8s_fail_next(e->fk, NULL, 0, 0, NULL, NULL);
}

static void timeouts(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL;
    struct dbp_fault_spec f = fault("io_bottleneck", "high", &e->n1);

    /* A stalled pod list: DBP_ETIMEOUT within the configured bound. */
    fake_k8s_stall_next(e->fk, "GET", 1, 4000);
    uint64_t t0 = dbp_now_ns();
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ETIMEOUT);
    double ms = elapsed_ms(t0);
    /* ETIMEOUT, not the stalled answer 4 s later, shows the bound held;
     * the lower bound shows it waited the configured timeout */
    assert_true(ms >= TIMEOUT_MS - 50);
    assert_null(st);

    /* A stalled create: timeout, then a best-effort delete of the name in
     * case the create landed late; at most two request timeouts. */
    fake_k8s_stall_next(e->fk, "POST", 1, 2500);
    fake_k8s_clear_requests(e->fk);
    t0 = dbp_now_ns();
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), DBP_ETIMEOUT);
    cJSON *del = last_req(e->fk, "DELETE");
    assert_non_null(del);
    assert_non_null(strstr(rs(del, "path"), "/iochaos/dbp-io-bottleneck-abcdef12-1"));
    cJSON_Delete(del);

    /* A stalled evidence read reports the error rather than hanging. */
    fake_k8s_stall_next(e->fk, NULL, 0, 0);
    usleep(1700 * 1000); /* let the stalled create finish on the server */
    cJSON *fake_state = cJSON_CreateObject();
    cJSON_AddStringToObject(fake_state, "plural", "iochaos");
    cJSON_AddStringToObject(fake_state, "namespace", NS);
    cJSON_AddStringToObject(fake_state, "name", "dbp-io-bottleneck-abcdef12-1");
    fake_k8s_stall_next(e->fk, "GET", 1, 3000);
    cJSON *ev = e->ex.evidence(e->ex.ctx, fake_state);
    assert_non_null(ev);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev, "exists")));
    assert_non_null(strstr(rs(ev, "error"), "imed out"));
    cJSON_Delete(ev);
    /* The late create (the race the delete cannot close) is removed by revert. */
    assert_int_equal(e->ex.revert(e->ex.ctx, fake_state, &err), 0);
    assert_int_equal(fake_k8s_count(e->fk, "iochaos"), 0);
    cJSON_Delete(fake_state);
}

/* -------------------------------------------------------------- evidence */

static cJSON *conds(const char *injected, const char *reason, const char *phase)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"conditions\":[{\"type\":\"Selected\",\"status\":\"True\",\"reason\":\"\"},"
             "{\"type\":\"AllInjected\",\"status\":\"%s\",\"reason\":\"%s\"},"
             "{\"type\":\"AllRecovered\",\"status\":\"False\",\"reason\":\"\"},"
             "{\"type\":\"Paused\",\"status\":\"False\",\"reason\":\"\"}],"
             "\"experiment\":{\"desiredPhase\":\"%s\",\"containerRecords\":[{\"id\":"
             "\"oceanbase/" POD1 "/observer\",\"selectorKey\":\".\",\"phase\":\"%s\","
             "\"injectedCount\":1,\"recoveredCount\":0}]}}",
             injected, reason, phase, strcmp(injected, "True") == 0 ? "Injected" : "Not Injected");
    return cJSON_ParseWithLength(buf, strlen(buf));
}

static void evidence(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    cJSON *st = NULL;
    struct dbp_fault_spec f = fault("network_bottleneck", "medium", &e->n1);
    assert_int_equal(e->ex.apply(e->ex.ctx, &f, &st, &err), 0);
    const char *name = rs(st, "name");

    /* Just created: no status yet. */
    cJSON *ev = e->ex.evidence(e->ex.ctx, st);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev, "exists")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "took_effect")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev, "all_injected")));
    cJSON_Delete(ev);

    assert_true(fake_k8s_set_status(e->fk, NS, "networkchaos", name, conds("True", "", "Run")));
    ev = e->ex.evidence(e->ex.ctx, st);
    assert_string_equal(rs(ev, "kind"), "NetworkChaos");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev, "took_effect")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev, "all_injected")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev, "selected")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "all_recovered")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "paused")));
    assert_string_equal(rs(ev, "desired_phase"), "Run");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "conditions")), 4);
    const cJSON *rec = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "records"), 0);
    assert_string_equal(rs(rec, "phase"), "Injected");
    cJSON_Delete(ev);

    /* Injection failed: reported with Chaos Mesh's reason. */
    assert_true(fake_k8s_set_status(e->fk, NS, "networkchaos", name,
                                    conds("False", "Failed to inject: tc not found", "Run")));
    ev = e->ex.evidence(e->ex.ctx, st);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "took_effect")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "all_injected")));
    const cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "conditions"), 1);
    assert_string_equal(rs(c1, "reason"), "Failed to inject: tc not found");
    cJSON_Delete(ev);

    /* Expired (desiredPhase Stop) and reverted. */
    assert_true(fake_k8s_set_status(e->fk, NS, "networkchaos", name, conds("False", "", "Stop")));
    ev = e->ex.evidence(e->ex.ctx, st);
    assert_string_equal(rs(ev, "desired_phase"), "Stop");
    cJSON_Delete(ev);
    assert_int_equal(e->ex.revert(e->ex.ctx, st, &err), 0);
    ev = e->ex.evidence(e->ex.ctx, st);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "exists")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "took_effect")));
    cJSON_Delete(ev);
    cJSON_Delete(st);
}

/* --------------------------------------------------------------- cleanup */

static void put_chaos(struct fake_k8s *fk, const char *plural, const char *kind,
                      const char *name, bool ours)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "chaos-mesh.org/v1alpha1");
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON *l = cJSON_AddObjectToObject(md, "labels");
    cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", ours ? "dbpecker" : "someone");
    fake_k8s_put_object(fk, NS, plural, o);
}

static void cleanup_all(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    put_chaos(e->fk, "stresschaos", "StressChaos", "dbp-cpu-stress-11111111-1", true);
    put_chaos(e->fk, "stresschaos", "StressChaos", "dbp-cpu-stress-22222222-1", true);
    put_chaos(e->fk, "networkchaos", "NetworkChaos", "dbp-network-bottleneck-3333-1", true);
    put_chaos(e->fk, "stresschaos", "StressChaos", "someone-elses-experiment", false);
    fake_k8s_clear_requests(e->fk);
    assert_int_equal(dbp_chaosmesh_cleanup_all_opts(e->cfg, &e->opts, &err), 3);
    assert_int_equal(fake_k8s_count(e->fk, "stresschaos"), 1);
    assert_int_equal(fake_k8s_count(e->fk, "networkchaos"), 0);
    cJSON *r = fake_k8s_request(e->fk, 0);
    assert_string_equal(rs(r, "label_selector"), "app.kubernetes.io/managed-by=dbpecker");
    cJSON_Delete(r);
    assert_int_equal(dbp_chaosmesh_cleanup_all_opts(e->cfg, &e->opts, &err), 0);
    fake_k8s_fail_next(e->fk, NULL, 1, 403, "Forbidden", "cannot list");
    assert_int_equal(dbp_chaosmesh_cleanup_all_opts(e->cfg, &e->opts, &err), DBP_EFORBIDDEN);
}

/* ------------------------------------------------------- kubeconfig, TLS */

static int new_client(struct dbp_config *cfg, struct dbp_k8s **k, struct dbp_err *err)
{
    struct dbp_k8s_opts o = {.timeout_ms = TIMEOUT_MS, .connect_timeout_ms = 500,
                             .sa_dir = "/nonexistent-dbp-sa"};
    return dbp_k8s_new(cfg, &o, k, err);
}

static int pods_get(struct dbp_k8s *k, struct dbp_err *err)
{
    long st;
    cJSON *resp = NULL;
    int rc = dbp_k8s_request(k, "GET", "/api/v1/namespaces/oceanbase/pods", NULL, &st, &resp, err);
    /* Every caller asserts rc; both outcomes are checked here: a success
     * carries the fake's three pods, a failure a reason. */
    if (rc == 0)
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(resp, "items")), 3);
    else
        assert_true(err->msg[0] != '\0');
    cJSON_Delete(resp);
    return rc;
}

static void kubeconfig_token(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    struct dbp_k8s *k = NULL;
    char kc[320], yaml[2048], tokf[320];
    unsetenv("DBPECKER_K8S_TOKEN");
    snprintf(kc, sizeof(kc), "%s/kubeconfig-token", tmpdir);
    snprintf(yaml, sizeof(yaml),
             "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
             "clusters:\n- name: other\n  cluster:\n    server: http://127.0.0.1:1\n"
             "- name: fake\n  cluster:\n    server: %s/\n"
             "contexts:\n- name: unused\n  context: {cluster: other, user: nobody}\n"
             "- name: lab\n  context:\n    cluster: fake\n    user: admin\n    namespace: ctxns\n"
             "users:\n- name: admin\n  user:\n    token: kc-token-abc\n",
             fake_k8s_url(e->fk));
    spit(kc, yaml);
    struct dbp_config *cfg = base_cfg();
    dbp_strlcpy(cfg->k8s_kubeconfig, kc, sizeof(cfg->k8s_kubeconfig));
    fake_k8s_expect_token(e->fk, "kc-token-abc");
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_string_equal(dbp_k8s_server(k), fake_k8s_url(e->fk)); /* trailing '/' dropped */
    assert_string_equal(dbp_k8s_source(k), "kubeconfig");
    assert_string_equal(dbp_k8s_auth(k), "token");
    assert_string_equal(dbp_k8s_namespace(k), NS); /* the config wins over the context */
    fake_k8s_clear_requests(e->fk);
    assert_int_equal(pods_get(k, &err), 0);
    cJSON *r = last_req(e->fk, "GET");
    assert_string_equal(rs(r, "authorization"), "Bearer kc-token-abc");
    cJSON_Delete(r);
    dbp_k8s_free(k);

    /* Empty anomaly.k8s_namespace: the context's namespace. */
    cfg->k8s_namespace[0] = '\0';
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_string_equal(dbp_k8s_namespace(k), "ctxns");
    dbp_k8s_free(k);
    dbp_strlcpy(cfg->k8s_namespace, NS, sizeof(cfg->k8s_namespace));

    /* tokenFile relative to the kubeconfig. */
    snprintf(tokf, sizeof(tokf), "%s/kc.token", tmpdir);
    spit(tokf, "file-token-xyz\n");
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster: {server: '%s'}\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user: {tokenFile: kc.token}\n",
             fake_k8s_url(e->fk));
    spit(kc, yaml);
    fake_k8s_expect_token(e->fk, "file-token-xyz");
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_int_equal(pods_get(k, &err), 0);
    dbp_k8s_free(k);

    /* anomaly.k8s_api overrides the kubeconfig's server. */
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster: {server: 'http://127.0.0.1:1'}\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user: {tokenFile: kc.token}\n");
    spit(kc, yaml);
    dbp_strlcpy(cfg->k8s_api, fake_k8s_url(e->fk), sizeof(cfg->k8s_api));
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_int_equal(pods_get(k, &err), 0);
    dbp_k8s_free(k);
    cfg->k8s_api[0] = '\0';

    /* Refused kubeconfigs. */
    static const char *const bad[] = {
        "current-context: c\nclusters: []\ncontexts:\n- name: c\n  context: {cluster: f, user: u}\n",
        "clusters: []\n",
        "current-context: c\nclusters:\n- name: f\n  cluster: {server: ftp://x}\n"
        "contexts:\n- name: c\n  context: {cluster: f}\n",
        "current-context: c\nclusters:\n- name: f\n  cluster: {server: 'https://x'}\n"
        "contexts:\n- name: c\n  context: {cluster: f, user: u}\nusers:\n- name: u\n  user:\n"
        "    exec: {command: /bin/sh, args: ['-c', 'id']}\n",
        "current-context: c\nclusters:\n- name: f\n  cluster: {server: 'https://x'}\n"
        "contexts:\n- name: c\n  context: {cluster: f, user: u}\nusers:\n- name: u\n  user:\n"
        "    client-certificate-data: aGVsbG8=\n",
        "current-context: c\nclusters:\n- name: f\n  cluster: {server: 'https://x', "
        "certificate-authority-data: '***'}\ncontexts:\n- name: c\n  context: {cluster: f}\n",
        "current-context: c\nclusters:\n- name: f\n  cluster: {server: 'https://x', "
        "certificate-authority: missing-ca.crt}\ncontexts:\n- name: c\n  context: {cluster: f}\n",
        "[not, a, map]\n",
    };
    static const int want[] = {DBP_EINVAL, DBP_EINVAL, DBP_EINVAL, DBP_EUNAVAIL,
                               DBP_EINVAL, DBP_EINVAL, DBP_EIO,    DBP_EINVAL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        spit(kc, bad[i]);
        k = NULL;
        int rc = new_client(cfg, &k, &err);
        if (rc != want[i])
            fail_msg("kubeconfig %zu: got %d (%s), want %d", i, rc, err.msg, want[i]);
        assert_null(k);
    }
    fake_k8s_expect_token(e->fk, TOKEN);
    setenv("DBPECKER_K8S_TOKEN", TOKEN, 1);
    free(cfg);
}

static void api_url_token_file(void **state)
{
    struct env *e = *state;
    struct dbp_err err = {0};
    struct dbp_k8s *k = NULL;
    char tokf[320];
    snprintf(tokf, sizeof(tokf), "%s/api.token", tmpdir);
    spit(tokf, "env-file-token\n");
    unsetenv("DBPECKER_K8S_TOKEN");
    setenv("DBPECKER_K8S_TOKEN_FILE", tokf, 1);
    struct dbp_config *cfg = base_cfg();
    dbp_strlcpy(cfg->k8s_api, fake_k8s_url(e->fk), sizeof(cfg->k8s_api));
    fake_k8s_expect_token(e->fk, "env-file-token");
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_string_equal(dbp_k8s_source(k), "api-url");
    assert_int_equal(pods_get(k, &err), 0);
    dbp_k8s_free(k);
    /* A token with a newline in the middle would split the header. */
    setenv("DBPECKER_K8S_TOKEN", "abc\r\nX-Evil: 1", 1);
    assert_int_equal(new_client(cfg, &k, &err), DBP_EINVAL);
    unsetenv("DBPECKER_K8S_TOKEN");
    unsetenv("DBPECKER_K8S_TOKEN_FILE");
    /* No API anywhere. */
    cfg->k8s_api[0] = '\0';
    assert_int_equal(new_client(cfg, &k, &err), DBP_EUNAVAIL);
    free(cfg);
    fake_k8s_expect_token(e->fk, TOKEN);
    setenv("DBPECKER_K8S_TOKEN", TOKEN, 1);
}

static void kubeconfig_client_cert_tls(void **state)
{
    (void)state;
    if (!have_tls)
        skip();
    struct fake_k8s_tls tls = {.cert_pem = srv_pem, .key_pem = srv_key, .trust_pem = ca_pem,
                               .require_client_cert = true};
    struct fake_k8s *fk = fake_k8s_start(&tls);
    assert_non_null(fk);
    add_pods(fk);
    struct dbp_err err = {0};
    struct dbp_k8s *k = NULL;
    char kc[320], yaml[16384];
    char *ca64 = b64(ca_pem), *cert64 = b64(cli_pem), *key64 = b64(cli_key);
    snprintf(kc, sizeof(kc), "%s/kubeconfig-cert", tmpdir);
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster:\n    server: %s\n"
             "    certificate-authority-data: %s\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user:\n    client-certificate-data: %s\n"
             "    client-key-data: %s\n",
             fake_k8s_url(fk), ca64, cert64, key64);
    spit(kc, yaml);
    struct dbp_config *cfg = base_cfg();
    dbp_strlcpy(cfg->k8s_kubeconfig, kc, sizeof(cfg->k8s_kubeconfig));
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_string_equal(dbp_k8s_auth(k), "client-cert");
    assert_string_equal(dbp_k8s_server(k), fake_k8s_url(fk));
    if (pods_get(k, &err))
        fail_msg("TLS request: %s", err.msg);
    cJSON *r = last_req(fk, "GET");
    assert_true(cJSON_GetObjectItem(r, "client_certs")->valueint >= 1);
    assert_string_equal(rs(r, "authorization"), ""); /* no bearer token in this mode */
    cJSON_Delete(r);
    dbp_k8s_free(k);

    /* Files instead of data, relative to the kubeconfig. */
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster:\n    server: %s\n"
             "    certificate-authority: ca.crt\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user:\n    client-certificate: cli.crt\n"
             "    client-key: %s/cli.key\n",
             fake_k8s_url(fk), tmpdir);
    spit(kc, yaml);
    assert_int_equal(new_client(cfg, &k, &err), 0);
    if (pods_get(k, &err))
        fail_msg("TLS request (files): %s", err.msg);
    dbp_k8s_free(k);

    /* No CA: the server's certificate is not trusted. */
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster:\n    server: %s\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user:\n    client-certificate-data: %s\n"
             "    client-key-data: %s\n",
             fake_k8s_url(fk), cert64, key64);
    spit(kc, yaml);
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_int_equal(pods_get(k, &err), DBP_EUNAVAIL);
    dbp_k8s_free(k);

    /* ... unless told to skip verification. */
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster:\n    server: %s\n"
             "    insecure-skip-tls-verify: true\n"
             "contexts:\n- name: c\n  context: {cluster: f, user: u}\n"
             "users:\n- name: u\n  user:\n    client-certificate-data: %s\n"
             "    client-key-data: %s\n",
             fake_k8s_url(fk), cert64, key64);
    spit(kc, yaml);
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_int_equal(pods_get(k, &err), 0);
    dbp_k8s_free(k);

    /* Without a client certificate this server says 401. */
    snprintf(yaml, sizeof(yaml),
             "current-context: c\nclusters:\n- name: f\n  cluster:\n    server: %s\n"
             "    certificate-authority-data: %s\n"
             "contexts:\n- name: c\n  context: {cluster: f}\n",
             fake_k8s_url(fk), ca64);
    spit(kc, yaml);
    assert_int_equal(new_client(cfg, &k, &err), 0);
    assert_string_equal(dbp_k8s_auth(k), "none");
    assert_int_equal(pods_get(k, &err), DBP_EAUTH);
    dbp_k8s_free(k);

    free(ca64);
    free(cert64);
    free(key64);
    free(cfg);
    fake_k8s_stop(fk);
}

static void in_cluster(void **state)
{
    (void)state;
    struct dbp_err err = {0};
    struct dbp_k8s *k = NULL;
    char sa[320], p[400];
    struct fake_k8s *fk = NULL;
    snprintf(sa, sizeof(sa), "%s/serviceaccount", tmpdir);
    mkdir(sa, 0700);
    snprintf(p, sizeof(p), "%s/token", sa);
    spit(p, "sa-token-1\n");
    snprintf(p, sizeof(p), "%s/namespace", sa);
    spit(p, "oceanbase\n");
    snprintf(p, sizeof(p), "%s/ca.crt", sa);
    spit(p, have_tls ? ca_pem : "not a certificate\n");

    if (have_tls) {
        struct fake_k8s_tls tls = {.cert_pem = srv_pem, .key_pem = srv_key};
        fk = fake_k8s_start(&tls);
        assert_non_null(fk);
        add_pods(fk);
        fake_k8s_expect_token(fk, "sa-token-1");
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", fk ? fake_k8s_port(fk) : 1);
    unsetenv("DBPECKER_K8S_TOKEN");
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    struct dbp_config *cfg = base_cfg();
    cfg->k8s_namespace[0] = '\0'; /* from the service account's namespace file */
    struct dbp_k8s_opts o = {.timeout_ms = TIMEOUT_MS, .sa_dir = sa};
    assert_int_equal(dbp_k8s_new(cfg, &o, &k, &err), 0);
    char want[64];
    snprintf(want, sizeof(want), "https://127.0.0.1:%s", port);
    assert_string_equal(dbp_k8s_server(k), want);
    assert_string_equal(dbp_k8s_source(k), "in-cluster");
    assert_string_equal(dbp_k8s_auth(k), "token");
    assert_string_equal(dbp_k8s_namespace(k), "oceanbase");
    if (fk) {
        assert_int_equal(pods_get(k, &err), 0);
        cJSON *r = last_req(fk, "GET");
        assert_string_equal(rs(r, "authorization"), "Bearer sa-token-1");
        cJSON_Delete(r);
    }
    dbp_k8s_free(k);

    /* IPv6 service host. */
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(dbp_k8s_new(cfg, &o, &k, &err), 0);
    snprintf(want, sizeof(want), "https://[fd00::1]:%s", port);
    assert_string_equal(dbp_k8s_server(k), want);
    dbp_k8s_free(k);

    /* The executor itself, in-cluster. */
    if (fk) {
        setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
        struct dbp_chaosmesh_opts co;
        base_opts(&co);
        co.k8s.sa_dir = sa;
        struct dbp_executor ex;
        assert_int_equal(dbp_exec_chaosmesh_new_opts(cfg, &co, &ex, &err), 0);
        struct dbp_node_cfg n = {0};
        dbp_strlcpy(n.name, POD1, sizeof(n.name));
        struct dbp_fault_spec f = fault("cpu_stress", "high", &n);
        cJSON *st = NULL;
        if (ex.apply(ex.ctx, &f, &st, &err))
            fail_msg("in-cluster apply: %s", err.msg);
        assert_int_equal(fake_k8s_count(fk, "stresschaos"), 1);
        assert_int_equal(ex.revert(ex.ctx, st, &err), 0);
        assert_int_equal(fake_k8s_count(fk, "stresschaos"), 0);
        cJSON_Delete(st);
        ex.free_ctx(ex.ctx);
    }

    /* No token file: not in-cluster, and nothing else is configured. */
    snprintf(p, sizeof(p), "%s/token", sa);
    unlink(p);
    assert_int_equal(dbp_k8s_new(cfg, &o, &k, &err), DBP_EUNAVAIL);
    free(cfg);
    fake_k8s_stop(fk);
    clear_env();
    setenv("DBPECKER_K8S_TOKEN", TOKEN, 1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/dbp-it-k8s-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    have_tls = make_certs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(objects_per_type_and_severity, setup, teardown),
        cmocka_unit_test_setup_teardown(params_override_and_node_datadir, setup, teardown),
        cmocka_unit_test_setup_teardown(supports_and_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(revert_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(api_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(cleanup_all, setup, teardown),
        cmocka_unit_test_setup_teardown(kubeconfig_token, setup, teardown),
        cmocka_unit_test_setup_teardown(api_url_token_file, setup, teardown),
        cmocka_unit_test(kubeconfig_client_cert_tls),
        cmocka_unit_test(in_cluster),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    const char *rm[] = {"rm", "-rf", tmpdir, NULL};
    it_run(rm, NULL, 0);
    free(ca_pem);
    free(srv_pem);
    free(srv_key);
    free(cli_pem);
    free(cli_key);
    curl_global_cleanup();
    return rc;
}
