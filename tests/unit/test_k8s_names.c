/* test_k8s_names.c - Kubernetes name rules, label selectors, chaos object names, base64. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/err.h"
#include "dbp/k8s.h"

#include <stdlib.h>
#include <string.h>

static void dns_labels(void **state)
{
    (void)state;
    assert_true(dbp_k8s_is_dns1123_label("a"));
    assert_true(dbp_k8s_is_dns1123_label("oceanbase"));
    assert_true(dbp_k8s_is_dns1123_label("dbp-cpu-stress-1a2b3c4d-1"));
    assert_true(dbp_k8s_is_dns1123_label("0abc9"));
    assert_false(dbp_k8s_is_dns1123_label(""));
    assert_false(dbp_k8s_is_dns1123_label(NULL));
    assert_false(dbp_k8s_is_dns1123_label("-a"));
    assert_false(dbp_k8s_is_dns1123_label("a-"));
    assert_false(dbp_k8s_is_dns1123_label("A"));
    assert_false(dbp_k8s_is_dns1123_label("a_b"));
    assert_false(dbp_k8s_is_dns1123_label("a.b"));
    char s64[65];
    memset(s64, 'a', 64);
    s64[64] = '\0';
    assert_false(dbp_k8s_is_dns1123_label(s64));
    s64[63] = '\0';
    assert_true(dbp_k8s_is_dns1123_label(s64));
}

static void dns_subdomains(void **state)
{
    (void)state;
    assert_true(dbp_k8s_is_dns1123_subdomain("obcluster-1-zone1-7f9c4d8b5-x2x9q"));
    assert_true(dbp_k8s_is_dns1123_subdomain("a.b.c"));
    assert_false(dbp_k8s_is_dns1123_subdomain("a..b"));
    assert_false(dbp_k8s_is_dns1123_subdomain(".a"));
    assert_false(dbp_k8s_is_dns1123_subdomain("a."));
    assert_false(dbp_k8s_is_dns1123_subdomain("n1; rm -rf /"));
    assert_false(dbp_k8s_is_dns1123_subdomain("../etc"));
    assert_false(dbp_k8s_is_dns1123_subdomain("a/b"));
    assert_false(dbp_k8s_is_dns1123_subdomain("a b"));
    assert_false(dbp_k8s_is_dns1123_subdomain("Pod"));
    assert_false(dbp_k8s_is_dns1123_subdomain("a%2Fb"));
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(dbp_k8s_is_dns1123_subdomain(big));
    big[253] = '\0';
    assert_true(dbp_k8s_is_dns1123_subdomain(big));
}

static void label_keys_values(void **state)
{
    (void)state;
    assert_true(dbp_k8s_is_label_key("ref-obcluster"));
    assert_true(dbp_k8s_is_label_key("app.kubernetes.io/managed-by"));
    assert_true(dbp_k8s_is_label_key("dbpecker/injection"));
    assert_true(dbp_k8s_is_label_key("A_b.c"));
    assert_false(dbp_k8s_is_label_key(""));
    assert_false(dbp_k8s_is_label_key("/x"));
    assert_false(dbp_k8s_is_label_key("a/"));
    assert_false(dbp_k8s_is_label_key("Bad_Prefix/x"));
    assert_false(dbp_k8s_is_label_key("a/b/c"));
    assert_false(dbp_k8s_is_label_key("-x"));
    assert_true(dbp_k8s_is_label_value(""));
    assert_true(dbp_k8s_is_label_value("obcluster"));
    assert_true(dbp_k8s_is_label_value("cpu_stress"));
    assert_false(dbp_k8s_is_label_value("a b"));
    assert_false(dbp_k8s_is_label_value("_x"));
    assert_false(dbp_k8s_is_label_value("x/y"));
}

static void selectors(void **state)
{
    (void)state;
    cJSON *m = NULL;
    struct dbp_err err = {0};
    assert_int_equal(dbp_k8s_parse_label_selector("ref-obcluster=obcluster", &m, &err), 0);
    assert_int_equal(cJSON_GetArraySize(m), 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "ref-obcluster")->valuestring,
                        "obcluster");
    cJSON_Delete(m);

    assert_int_equal(dbp_k8s_parse_label_selector(" app = db , tier==backend,x/y=", &m, &err), 0);
    char *s = cJSON_PrintUnformatted(m);
    assert_string_equal(s, "{\"app\":\"db\",\"tier\":\"backend\",\"x/y\":\"\"}");
    free(s);
    cJSON_Delete(m);

    assert_int_equal(dbp_k8s_parse_label_selector("", &m, &err), 0);
    assert_int_equal(cJSON_GetArraySize(m), 0);
    cJSON_Delete(m);
    assert_int_equal(dbp_k8s_parse_label_selector("a=1,a=1", &m, &err), 0);
    cJSON_Delete(m);

    static const char *const bad[] = {"a!=b",     "env in (a,b)", "a",     "a=b,",
                                      ",a=b",     "a=1,a=2",      "a=b=c", "bad key=v",
                                      "k=bad v",  "!a",           "=v",    "a=b;c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = (cJSON *)1;
        assert_int_equal(dbp_k8s_parse_label_selector(bad[i], &m, &err), DBP_EINVAL);
        assert_null(m);
        assert_true(strstr(err.msg, "label selector") != NULL);
    }
}

static void chaos_names(void **state)
{
    (void)state;
    char n[64];
    assert_int_equal(dbp_k8s_chaos_name("cpu_stress", "1A2B3C4D5E6F", 1, n, sizeof(n)), 0);
    assert_string_equal(n, "dbp-cpu-stress-1a2b3c4d-1");
    assert_int_equal(dbp_k8s_chaos_name("network_bottleneck", "inj-0f3e", 12, n, sizeof(n)), 0);
    assert_string_equal(n, "dbp-network-bottleneck-inj0f3e-12");
    /* UUID: dashes are dropped, first 8 alnum kept. */
    assert_int_equal(
        dbp_k8s_chaos_name("io_bottleneck", "6f1c-2d_9a:77b3e0", 3, n, sizeof(n)), 0);
    assert_string_equal(n, "dbp-io-bottleneck-6f1c2d9a-3");
    assert_true(dbp_k8s_is_dns1123_label(n));
    assert_int_equal(dbp_k8s_chaos_name("cpu_stress", "---", 1, n, sizeof(n)), DBP_EINVAL);
    assert_int_equal(dbp_k8s_chaos_name("cpu_stress", "", 1, n, sizeof(n)), DBP_EINVAL);
    assert_int_equal(dbp_k8s_chaos_name("Cpu", "abc", 1, n, sizeof(n)), DBP_EINVAL);
    assert_int_equal(dbp_k8s_chaos_name("cpu stress", "abc", 1, n, sizeof(n)), DBP_EINVAL);
    assert_int_equal(dbp_k8s_chaos_name("cpu_stress", "abc", 0, n, sizeof(n)), DBP_EINVAL);
    assert_int_equal(dbp_k8s_chaos_name("cpu_stress", "abc", 1, n, 10), DBP_EINVAL);
    /* Longer than 63 chars is refused, never truncated into a clash. */
    assert_int_equal(dbp_k8s_chaos_name("a_very_long_fault_type_name_that_goes_on_and_on_x",
                                        "abcdef12", 1, n, sizeof(n)),
                     DBP_EINVAL);
}

static void base64(void **state)
{
    (void)state;
    unsigned char *o = NULL;
    size_t n;
    assert_int_equal(dbp_k8s_base64_decode("aGVsbG8gd29ybGQ=", &o, &n), 0);
    assert_int_equal(n, 11);
    assert_memory_equal(o, "hello world", 11);
    free(o);
    assert_int_equal(dbp_k8s_base64_decode("aGVs\nbG8=\n", &o, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(o, "hello", 5);
    free(o);
    assert_int_equal(dbp_k8s_base64_decode("aGVsbG8", &o, &n), 0); /* padding optional */
    assert_int_equal(n, 5);
    free(o);
    assert_int_equal(dbp_k8s_base64_decode("", &o, &n), 0);
    assert_int_equal(n, 0);
    free(o);
    assert_int_equal(dbp_k8s_base64_decode("aGV*bG8=", &o, &n), DBP_EINVAL);
    assert_int_equal(dbp_k8s_base64_decode("aGVsbG8=x", &o, &n), DBP_EINVAL);
    assert_int_equal(dbp_k8s_base64_decode("a", &o, &n), DBP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dns_labels),        cmocka_unit_test(dns_subdomains),
        cmocka_unit_test(label_keys_values), cmocka_unit_test(selectors),
        cmocka_unit_test(chaos_names),       cmocka_unit_test(base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
