/* SPDX-License-Identifier: Apache-2.0 */
/* test_cni.c: CNI protocol units: env, CNI_ARGS, stdin config, prevResult versions, errors.
 * Spec: istio-cni.md §2.1–§2.3, §2.11, §7. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"
#include "base/macro.h"

START_TEST(test_version_reply) {
        ck_assert_str_eq(cni_version_reply(),
                         "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\","
                         "\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
        enum cni_version v;
        ck_assert_int_eq(cni_version_parse("0.4.0", &v), 0);
        ck_assert_int_eq(v, CNI_V040);
        ck_assert_int_lt(cni_version_parse("0.4", &v), 0);
        ck_assert_int_lt(cni_version_parse("2.0.0", &v), 0);
}
END_TEST

START_TEST(test_env) {
        struct cni_env e;
        struct cni_error err = { 0 };
        char *ok[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc", "CNI_NETNS=/proc/1/ns/net", "CNI_IFNAME=eth0",
                       "CNI_PATH=/opt/cni/bin", NULL };
        ck_assert_int_eq(cni_env_load(ok, &e, &err), 0);
        ck_assert_int_eq(e.command, CNI_CMD_ADD);
        ck_assert_str_eq(e.ifname, "eth0");

        char *missing[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0", NULL };
        ck_assert_int_lt(cni_env_load(missing, &e, &err), 0);
        ck_assert_int_eq(err.code, 4);
        ck_assert_str_eq(err.msg, "required env variables [CNI_NETNS,CNI_PATH] missing");

        char *del[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL };
        ck_assert_int_eq(cni_env_load(del, &e, &err), 0);

        char *none[] = { "CNI_PATH=/x", NULL };
        ck_assert_int_eq(cni_env_load(none, &e, &err), 0);
        ck_assert_int_eq(e.command, CNI_CMD_NONE);

        char *unk[] = { "CNI_COMMAND=FROB", NULL };
        ck_assert_int_lt(cni_env_load(unk, &e, &err), 0);
        ck_assert_int_eq(err.code, 4);
        ck_assert_str_eq(err.msg, "unknown CNI_COMMAND: FROB");

        char *badid[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=-x;rm", "CNI_NETNS=/n", "CNI_IFNAME=eth0",
                          "CNI_PATH=/x", NULL };
        ck_assert_int_lt(cni_env_load(badid, &e, &err), 0);
        ck_assert_int_eq(err.code, 4);
        ck_assert_str_eq(err.msg, "invalid characters in containerID");

        ck_assert_int_lt(cni_validate_ifname("eth0:1", &err), 0);
        ck_assert_int_lt(cni_validate_ifname("0123456789abcdef", &err), 0);
        ck_assert_int_lt(cni_validate_ifname("..", &err), 0);
        ck_assert_int_lt(cni_validate_ifname("a b", &err), 0);
        ck_assert_int_eq(cni_validate_ifname("0123456789abcde", &err), 0);
        ck_assert_int_lt(cni_validate_containerid("", &err), 0);
        ck_assert_int_eq(err.code, 3);

        char *ovr[] = { "CNI_COMMAND=VERSION", "CNI_NETNS_OVERRIDE=TRUE", NULL };
        ck_assert_int_eq(cni_env_load(ovr, &e, &err), 0);
        ck_assert(e.netns_override);
}
END_TEST

START_TEST(test_args) {
        struct cni_args a;
        struct cni_error err = { 0 };

        ck_assert_int_eq(cni_args_parse("", &a, &err), 0);
        ck_assert_ptr_null(a.pod_name);
        ck_assert_int_eq(cni_args_parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;"
                                        "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u;FOO=bar", &a, &err), 0);
        ck_assert_str_eq(a.pod_name, "p");
        ck_assert_str_eq(a.pod_namespace, "ns");
        ck_assert_str_eq(a.pod_uid, "u");
        cni_args_done(&a);

        ck_assert_int_lt(cni_args_parse("K8S_POD_NAME=p;FOO=bar", &a, &err), 0);
        ck_assert_int_eq(err.code, 999);
        ck_assert_str_eq(err.msg, "failed to load args: ARGS: unknown args [\"FOO\"]");
        ck_assert_int_lt(cni_args_parse("K8S_POD_NAME=p;", &a, &err), 0);
        ck_assert_str_eq(err.msg, "failed to load args: ARGS: invalid pair \"\"");
        ck_assert_int_lt(cni_args_parse("K8S_POD_NAME=a=b", &a, &err), 0);
        ck_assert_int_lt(cni_args_parse("K8S_POD_NAME", &a, &err), 0);
        ck_assert_int_lt(cni_args_parse("IgnoreUnknown=yes", &a, &err), 0);
        ck_assert_int_eq(cni_args_parse("IgnoreUnknown=TRUE;X=1", &a, &err), 0);
        /* case-sensitive keys: a lowercase key is unknown */
        ck_assert_int_lt(cni_args_parse("k8s_pod_name=p", &a, &err), 0);
        ck_assert_int_eq(cni_args_parse("K8S_POD_NAME=;K8S_POD_NAMESPACE=x", &a, &err), 0);
        ck_assert_str_eq(a.pod_name, "");
        cni_args_done(&a);
}
END_TEST

static struct cni_error conf_err(const char *json, enum cni_command cmd) {
        struct cni_conf c;
        struct cni_error err = { 0 };
        ck_assert_int_lt(cni_conf_parse(json, strlen(json), cmd, &c, &err), 0);
        return err;
}

START_TEST(test_conf_errors) {
        ck_assert_int_eq(conf_err("garbage", CNI_CMD_ADD).code, 6);
        ck_assert_int_eq(conf_err("[1]", CNI_CMD_ADD).code, 6);
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"1.0.0\"}", CNI_CMD_ADD).code, 7);
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"a b\"}", CNI_CMD_ADD).code, 7);
        struct cni_error e = conf_err("{\"cniVersion\":\"9.9.9\",\"name\":\"n\"}", CNI_CMD_ADD);
        ck_assert_int_eq(e.code, 1);
        ck_assert_str_eq(e.msg, "incompatible CNI versions");
        ck_assert_str_eq(e.details, "config is \"9.9.9\", plugin supports [0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]");
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}", CNI_CMD_CHECK).code, 1);
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_CMD_STATUS).code, 1);
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", CNI_CMD_GC).code, 1);
        ck_assert_int_eq(conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"exclude_namespaces\":\"x\"}", CNI_CMD_ADD).code, 999);
        e = conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"cniVersion\":\"0.4.0\"}}", CNI_CMD_ADD);
        ck_assert_int_eq(e.code, 999);
        ck_assert_str_eq(e.msg, "could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is \"0.4.0\"");
        e = conf_err("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"cniVersion\":\"1.0.0\","
                     "\"ips\":[{\"address\":\"10.0.0.300/24\"}]}}", CNI_CMD_ADD);
        ck_assert_int_eq(e.code, 999);
}
END_TEST

START_TEST(test_conf_fields) {
        const char *j = "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\",\"type\":\"istio-cni\","
                        "\"plugin_log_level\":\"debug\",\"cni_agent_run_dir\":\"/var/run/istio-cni\","
                        "\"exclude_namespaces\":[\"kube-system\",\"istio-system\"],\"pod_namespace\":\"istio-system\","
                        "\"native_nftables\":true,\"unknown\":{\"x\":1},"
                        "\"kubernetes\":{\"exclude_namespaces\":[\"old\"],\"kubeconfig\":\"/etc/k\",\"intercept_type\":\"iptables\"}}";
        struct cni_conf c;
        struct cni_error err = { 0 };
        ck_assert_int_eq(cni_conf_parse(j, strlen(j), CNI_CMD_ADD, &c, &err), 0);
        ck_assert_int_eq(c.version, CNI_V100);
        ck_assert_str_eq(c.plugin_log_level, "debug");
        ck_assert_str_eq(c.cni_agent_run_dir, "/var/run/istio-cni");
        ck_assert_str_eq(c.exclude_namespaces[0], "kube-system");
        ck_assert_str_eq(c.exclude_namespaces[1], "istio-system");
        ck_assert_ptr_null(c.exclude_namespaces[2]);
        ck_assert_str_eq(c.pod_namespace, "istio-system");
        ck_assert(c.native_nftables);
        ck_assert_str_eq(c.kubeconfig, "/etc/k");
        ck_assert_ptr_null(c.prev_result);
        cni_conf_done(&c);

        /* legacy only: kubernetes.exclude_namespaces and log_level are honoured */
        const char *l = "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"log_level\":\"warn\","
                        "\"kubernetes\":{\"exclude_namespaces\":[\"old\"]}}";
        ck_assert_int_eq(cni_conf_parse(l, strlen(l), CNI_CMD_ADD, &c, &err), 0);
        ck_assert_str_eq(c.exclude_namespaces[0], "old");
        ck_assert_str_eq(c.plugin_log_level, "warn");
        cni_conf_done(&c);

        /* missing cniVersion is 0.1.0 */
        const char *m = "{\"name\":\"n\"}";
        ck_assert_int_eq(cni_conf_parse(m, strlen(m), CNI_CMD_DEL, &c, &err), 0);
        ck_assert_int_eq(c.version, CNI_V010);
        cni_conf_done(&c);
}
END_TEST

static char *roundtrip(const char *conf_version, const char *prev, const char *out_version) {
        char json[4096];
        struct cni_conf c;
        struct cni_error err = { 0 };
        enum cni_version ov;
        snprintf(json, sizeof json, "{\"cniVersion\":\"%s\",\"name\":\"n\",\"prevResult\":%s}", conf_version, prev);
        ck_assert_msg(cni_conf_parse(json, strlen(json), CNI_CMD_ADD, &c, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(cni_version_parse(out_version, &ov), 0);
        char *s = cni_result_format(c.prev_result, ov, &err);
        cni_conf_done(&c);
        return s;
}

START_TEST(test_result_versions) {
        const char *p100 = "{\"cniversion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/tmp\",\"x\":1}],"
                           "\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\",\"interface\":0}],\"routes\":[],"
                           "\"dns\":{}}";
        _cleanup_free_ char *a = roundtrip("1.0.0", p100, "1.0.0");
        ck_assert_ptr_nonnull(a);
        ck_assert_str_eq(a, "{\n    \"cniVersion\": \"1.0.0\",\n    \"interfaces\": [\n        {\n"
                            "            \"name\": \"eth0\",\n            \"sandbox\": \"/tmp\"\n        }\n    ],\n"
                            "    \"ips\": [\n        {\n            \"address\": \"10.0.0.2/24\",\n"
                            "            \"gateway\": \"10.0.0.1\",\n            \"interface\": 0\n        }\n    ]\n}");

        const char *p031 = "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"sandbox\":\"/n\"}],"
                           "\"ips\":[{\"version\":\"4\",\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\",\"interface\":0},"
                           "{\"version\":\"6\",\"address\":\"fd00::2/64\",\"interface\":0}],"
                           "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}],\"dns\":{\"nameservers\":[\"10.0.0.10\"]}}";
        _cleanup_free_ char *b = roundtrip("0.3.1", p031, "0.3.1");
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_nonnull(strstr(b, "\"version\": \"6\",\n            \"interface\": 0,\n            \"address\": \"fd00::2/64\""));
        ck_assert_ptr_nonnull(strstr(b, "\"dns\": {\n        \"nameservers\": [\n            \"10.0.0.10\"\n        ]\n    }"));
        /* 0.3.x→1.1.0: version dropped */
        _cleanup_free_ char *c = roundtrip("0.4.0", p031, "1.1.0");
        ck_assert_ptr_null(strstr(c, "\"version\""));
        ck_assert_ptr_nonnull(strstr(c, "\"mac\": \"aa:bb:cc:dd:ee:ff\""));
        /* →0.2.0 */
        _cleanup_free_ char *d = roundtrip("0.3.0", p031, "0.2.0");
        ck_assert_ptr_nonnull(strstr(d, "\"ip4\": {\n        \"ip\": \"10.0.0.2/24\",\n        \"gateway\": \"10.0.0.1\",\n"
                                         "        \"routes\": [\n"));
        ck_assert_ptr_nonnull(strstr(d, "\"ip6\": {\n        \"ip\": \"fd00::2/64\"\n    }"));

        const char *p020 = "{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.5/16\",\"gateway\":\"10.1.0.1\","
                           "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]},\"dns\":{}}";
        _cleanup_free_ char *e = roundtrip("0.2.0", p020, "0.2.0");
        ck_assert_str_eq(e, "{\n    \"cniVersion\": \"0.2.0\",\n    \"ip4\": {\n        \"ip\": \"10.1.0.5/16\",\n"
                            "        \"gateway\": \"10.1.0.1\",\n        \"routes\": [\n            {\n"
                            "                \"dst\": \"0.0.0.0/0\"\n            }\n        ]\n    },\n    \"dns\": {}\n}");

        struct cni_error err = { 0 };
        _cleanup_free_ char *empty = cni_result_format(NULL, CNI_V031, &err);
        ck_assert_str_eq(empty, "{\n    \"cniVersion\": \"0.3.1\",\n    \"dns\": {}\n}");
        _cleanup_free_ char *empty1 = cni_result_format(NULL, CNI_V100, &err);
        ck_assert_str_eq(empty1, "{\n    \"cniVersion\": \"1.0.0\"\n}");
        ck_assert_ptr_null(cni_result_format(NULL, CNI_V020, &err));
        ck_assert_ptr_nonnull(strstr(err.msg, "no valid IP addresses"));
}
END_TEST

START_TEST(test_error_format) {
        struct cni_error err = { 0 };
        cni_error_set(&err, 4, NULL, "required env variables [%s] missing", "CNI_PATH");
        _cleanup_free_ char *s = cni_error_format(&err, "1.0.0");
        ck_assert_str_eq(s, "{\n    \"cniVersion\": \"1.0.0\",\n    \"code\": 4,\n    \"msg\": \"required env variables [CNI_PATH] missing\"\n}");
        cni_error_set(&err, 999, "a\"b<", "x");
        _cleanup_free_ char *t = cni_error_format(&err, NULL);
        ck_assert_ptr_nonnull(strstr(t, "\"details\": \"a\\\"b\\u003c\""));
}
END_TEST


/* Allocation-failure injection (issue 11 A9): cJSON's allocator fails after `budget` calls. The
 * conversion must then either fail with an error or produce exactly the result it produces with
 * a working allocator: never a "successful" result with parts (IPs, routes, DNS) missing. */
static long oom_budget = -1, oom_failed;
static void *oom_malloc(size_t n) {
        if (oom_budget >= 0 && oom_budget-- == 0) {
                oom_failed++;
                return NULL;
        }
        return malloc(n);
}

static void oom_hooks(bool on) {
        cJSON_Hooks h = { .malloc_fn = oom_malloc, .free_fn = free };
        cJSON_InitHooks(on ? &h : NULL);
}

static const char *const oom_inputs[] = {
        "{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\"}]},"
        "\"ip6\":{\"ip\":\"fd00::5/64\",\"routes\":[{\"dst\":\"::/0\"}]},\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"search\":[\"a.svc\",\"svc\"],\"domain\":\"x\"}}",
        "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"sandbox\":\"/var/run/netns/x\"},{\"name\":\"cni0\"}],"
        "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\"},{\"version\":\"6\",\"address\":\"fd00::5/64\"}],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\"},{\"dst\":\"::/0\"}],\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"options\":[\"ndots:5\"]}}",
        "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mtu\":1500}],\"ips\":[{\"interface\":0,\"address\":\"10.1.0.5/24\"},"
        "{\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"priority\":10}],\"dns\":{\"nameservers\":[\"1.1.1.1\"]}}",
};

START_TEST(test_result_oom) {
        cJSON *in = cJSON_Parse(oom_inputs[_i]);
        enum cni_version from;
        ck_assert_ptr_nonnull(in);
        ck_assert_int_eq(cni_version_parse(cJSON_GetObjectItem(in, "cniVersion")->valuestring, &from), 0);
        for (enum cni_version to = CNI_V010; to < CNI_V_MAX; to++) {
                struct cni_error err = { 0 };
                cJSON *ref = cni_result_parse(in, from, &err);
                ck_assert_msg(ref, "%s", err.msg);
                char *want = cni_result_format(ref, to, &err);
                char *want_model = cni_json_print(ref, 0);
                ck_assert_ptr_nonnull(want_model);
                unsigned ok_runs = 0, fail_runs = 0;
                for (long n = 0;; n++) {
                        struct cni_error e2 = { 0 };
                        char *got = NULL, *model = NULL;
                        oom_failed = 0;
                        oom_budget = n;
                        oom_hooks(true);
                        cJSON *res = cni_result_parse(in, from, &e2);
                        if (res)
                                got = cni_result_format(res, to, &e2);
                        oom_hooks(false);
                        oom_budget = -1;
                        if (res)
                                model = cni_json_print(res, 0);
                        if (!res || !got) {
                                /* An error, and it says so. */
                                ck_assert_msg(e2.msg[0], "n=%ld: failed without an error message", n);
                                if (want)
                                        ck_assert_msg(oom_failed || !res, "n=%ld: failed without an allocation failure: %s", n, e2.msg);
                                fail_runs++;
                        } else {
                                ck_assert_msg(want, "n=%ld: a result where none is expected (%s)", n, err.msg);
                                ck_assert_msg(streq(got, want), "n=%ld (%s → %s): incomplete result:\n%s\nwanted:\n%s", n,
                                              cni_version_to_string(from), cni_version_to_string(to), got, want);
                                ck_assert_str_eq(model, want_model);
                                ok_runs++;
                        }
                        free(got);
                        free(model);
                        cJSON_Delete(res);
                        if (!oom_failed)
                                break; /* every allocation of the conversion has been failed once */
                        ck_assert_int_lt(n, 10000);
                }
                ck_assert_uint_gt(fail_runs + ok_runs, 5);
                free(want);
                free(want_model);
                cJSON_Delete(ref);
        }
        cJSON_Delete(in);
}
END_TEST

int main(void) {
        Suite *s = suite_create("cni");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_version_reply);
        tcase_add_test(tc, test_env);
        tcase_add_test(tc, test_args);
        tcase_add_test(tc, test_conf_errors);
        tcase_add_test(tc, test_conf_fields);
        tcase_add_test(tc, test_result_versions);
        tcase_add_test(tc, test_error_format);
        tcase_add_loop_test(tc, test_result_oom, 0, ELEMENTSOF(oom_inputs));
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
