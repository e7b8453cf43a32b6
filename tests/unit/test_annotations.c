/* SPDX-License-Identifier: Apache-2.0 */
/* test_annotations.c: Pod → decisions (§2.4 step 12) and annotations → capture_config (§2.7). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/annotations.h"
#include "rules/config.h"
#include "base/macro.h"

/* A pod with containers [test, istio-proxy]; extra JSON snippets fill annotations, labels, env,
 * securityContext and args. */
static cJSON *pod(const char *annotations, const char *labels, const char *proxy_extra, const char *extra_containers) {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"annotations\":{%s},\"labels\":{%s}},"
                 "\"spec\":{\"containers\":[{\"name\":\"test\"},{\"name\":\"istio-proxy\"%s%s}%s]}}",
                 annotations, labels, proxy_extra[0] ? "," : "", proxy_extra, extra_containers);
        cJSON *j = cJSON_Parse(buf);
        ck_assert_msg(j != NULL, "bad fixture %s", buf);
        return j;
}

static enum annotations_decision decide(cJSON *j) {
        struct annotations_pod p;
        const char *reason;
        ck_assert_int_eq(annotations_pod_info(j, &p), 0);
        enum annotations_decision d = annotations_decide(&p, &reason);
        ck_assert_ptr_nonnull(reason);
        cJSON_Delete(j);
        return d;
}

#define ST "\"sidecar.istio.io/status\":\"x\""

START_TEST(test_decisions) {
        ck_assert_int_eq(decide(pod(ST, "", "", "")), ANNOTATIONS_CAPTURE);
        ck_assert_int_eq(decide(pod("", "", "", "")), ANNOTATIONS_SKIP_NO_STATUS);
        ck_assert_int_eq(decide(pod(ST, "", "", ",{\"name\":\"istio-init\"}")), ANNOTATIONS_SKIP_ISTIO_INIT);
        ck_assert_int_eq(decide(pod(ST, "", "\"env\":[{\"name\":\"DISABLE_ENVOY\",\"value\":\"true\"}]", "")),
                         ANNOTATIONS_SKIP_DISABLE_ENVOY);
        ck_assert_int_eq(decide(pod(ST, "", "\"args\":[\"proxy\",\"router\"]", "")), ANNOTATIONS_SKIP_PROXY_TYPE);
        ck_assert_int_eq(decide(pod(ST, "", "\"args\":[\"proxy\",\"sidecar\"]", "")), ANNOTATIONS_CAPTURE);
        ck_assert_int_eq(decide(pod(ST ",\"sidecar.istio.io/inject\":\"false\"", "", "", "")), ANNOTATIONS_SKIP_INJECT_FALSE);
        /* the label overrides the annotation, even empty */
        ck_assert_int_eq(decide(pod(ST ",\"sidecar.istio.io/inject\":\"false\"", "\"sidecar.istio.io/inject\":\"\"", "", "")),
                         ANNOTATIONS_CAPTURE);
        ck_assert_int_eq(decide(pod(ST, "\"sidecar.istio.io/inject\":\"false\"", "", "")), ANNOTATIONS_SKIP_INJECT_FALSE);
        /* unparsable inject value is ignored */
        ck_assert_int_eq(decide(pod(ST ",\"sidecar.istio.io/inject\":\"enabled\"", "", "", "")), ANNOTATIONS_CAPTURE);
        cJSON *np = cJSON_Parse("{\"metadata\":{\"annotations\":{" ST "}},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
        ck_assert_int_eq(decide(np), ANNOTATIONS_SKIP_NO_PROXY);
        /* native sidecar: istio-proxy as an init container */
        cJSON *ns = cJSON_Parse("{\"metadata\":{\"annotations\":{" ST "}},\"spec\":{\"initContainers\":"
                                "[{\"name\":\"istio-proxy\",\"restartPolicy\":\"Always\"}],\"containers\":[{\"name\":\"a\"}]}}");
        ck_assert_int_eq(decide(ns), ANNOTATIONS_CAPTURE);
}
END_TEST

static int build(cJSON *j, char *const *envp, struct capture_config *c, struct annotations_error *err) {
        struct annotations_pod p;
        ck_assert_int_eq(annotations_pod_info(j, &p), 0);
        config_init(c);
        int r = annotations_to_config(&p, envp, c, err, NULL);
        return r;
}

START_TEST(test_defaults) {
        char *env[] = { NULL };
        struct capture_config c;
        struct annotations_error err = { 0 };
        cJSON *j = pod(ST, "", "\"securityContext\":{\"runAsUser\":0}", "");
        ck_assert_int_eq(build(j, env, &c, &err), 0);
        ck_assert(c.include_all);
        ck_assert(c.inbound_all);
        ck_assert(!c.tproxy);
        ck_assert_int_eq(c.proxy_uid.n, 1);
        ck_assert_int_eq(c.proxy_uid.v[0].id, 1337);
        ck_assert_int_eq(c.proxy_gid.v[0].id, 1337);
        ck_assert_int_eq(c.inbound_exclude_ports.n, 3);
        ck_assert_int_eq(c.inbound_exclude_ports.v[0], 15020);
        ck_assert_int_eq(c.inbound_exclude_ports.v[2], 15090);
        ck_assert_int_eq(c.outbound_exclude_ports.n, 1);
        ck_assert_int_eq(c.outbound_exclude_ports.v[0], 15020);
        ck_assert_int_eq(c.outbound_ports.n, 0);
        ck_assert(c.owner_groups_all);
        config_done(&c);
        cJSON_Delete(j);
}
END_TEST

START_TEST(test_values) {
        char *env[] = { "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE=10,20", "ISTIO_META_DNS_CAPTURE=true", NULL };
        struct capture_config c;
        struct annotations_error err = { 0 };
        cJSON *j = pod(ST ",\"sidecar.istio.io/interceptionMode\":\"TPROXY\","
                          "\"traffic.sidecar.istio.io/includeOutboundIPRanges\":\"127.0.0.0/8,fd00::/8\","
                          "\"traffic.sidecar.istio.io/excludeOutboundIPRanges\":\"10.0.0.0/8\","
                          "\"traffic.sidecar.istio.io/excludeInboundPorts\":\"3306, 15020\","
                          "\"traffic.sidecar.istio.io/includeInboundPorts\":\"\","
                          "\"traffic.sidecar.istio.io/excludeOutboundPorts\":\"\","
                          "\"traffic.sidecar.istio.io/includeOutboundPorts\":\"443\","
                          "\"traffic.sidecar.istio.io/excludeInterfaces\":\"eth1, net1\","
                          "\"traffic.sidecar.istio.io/kubevirtInterfaces\":\"k0\"",
                       "", "\"securityContext\":{\"runAsUser\":1000670000,\"runAsGroup\":1000670001},"
                           "\"env\":[{\"name\":\"ISTIO_META_DNS_CAPTURE\",\"value\":\"true\"},{\"name\":\"INVALID_DROP\",\"value\":\"bogus\"}]", "");
        ck_assert_int_eq(build(j, env, &c, &err), 0);
        ck_assert(c.tproxy);
        ck_assert(!c.include_all);
        ck_assert_int_eq(c.include[0].n, 1);
        ck_assert_int_eq(c.include[1].n, 1);
        ck_assert(c.include_has_loopback);
        ck_assert_int_eq(c.exclude[0].n, 1);
        ck_assert_int_eq(c.inbound_exclude_ports.n, 4);
        ck_assert_int_eq(c.inbound_exclude_ports.v[0], 3306);
        ck_assert_int_eq(c.inbound_exclude_ports.v[1], 15020);
        ck_assert_int_eq(c.inbound_exclude_ports.v[3], 15090);
        ck_assert(!c.inbound_all);
        ck_assert_int_eq(c.inbound_ports.n, 0);
        ck_assert_int_eq(c.outbound_exclude_ports.n, 0);
        ck_assert_int_eq(c.outbound_ports.v[0], 443);
        ck_assert_int_eq(c.exclude_ifaces.n, 2);
        ck_assert_str_eq(c.exclude_ifaces.v[1], "net1");
        ck_assert_str_eq(c.virt_ifaces.v[0], "k0");
        ck_assert_int_eq(c.proxy_uid.v[0].id, 1000670000);
        ck_assert_int_eq(c.proxy_gid.v[0].id, 1000670001);
        ck_assert(c.redirect_dns && c.capture_all_dns);
        ck_assert(!c.drop_invalid);
        ck_assert_int_eq(c.owner_groups_exclude.n, 2);
        config_done(&c);
        cJSON_Delete(j);
}
END_TEST

static void expect_bad(const char *annotations, const char *name) {
        char *env[] = { NULL };
        struct capture_config c;
        struct annotations_error err = { 0 };
        cJSON *j = pod(annotations, "", "", "");
        ck_assert_int_eq(build(j, env, &c, &err), -EINVAL);
        ck_assert_str_eq(err.annotation, name);
        ck_assert_ptr_nonnull(strstr(err.msg, name));
        config_done(&c);
        cJSON_Delete(j);
}

START_TEST(test_bad) {
        expect_bad(ST ",\"traffic.sidecar.istio.io/excludeInterfaces\":\"eth0 -j ACCEPT\"", "traffic.sidecar.istio.io/excludeInterfaces");
        expect_bad(ST ",\"traffic.sidecar.istio.io/excludeInterfaces\":\"0eth\"", "traffic.sidecar.istio.io/excludeInterfaces");
        expect_bad(ST ",\"traffic.sidecar.istio.io/excludeOutboundIPRanges\":\"10.0.0.0/8garbage\"", "traffic.sidecar.istio.io/excludeOutboundIPRanges");
        expect_bad(ST ",\"traffic.sidecar.istio.io/excludeOutboundIPRanges\":\"*\"", "traffic.sidecar.istio.io/excludeOutboundIPRanges");
        expect_bad(ST ",\"traffic.sidecar.istio.io/includeOutboundIPRanges\":\"10.0.0.0/8, 11.0.0.0/8\"", "traffic.sidecar.istio.io/includeOutboundIPRanges");
        expect_bad(ST ",\"traffic.sidecar.istio.io/includeInboundPorts\":\"65536\"", "traffic.sidecar.istio.io/includeInboundPorts");
        expect_bad(ST ",\"traffic.sidecar.istio.io/includeInboundPorts\":\"80,\"", "traffic.sidecar.istio.io/includeInboundPorts");
        expect_bad(ST ",\"traffic.sidecar.istio.io/excludeOutboundPorts\":\"1;2\"", "traffic.sidecar.istio.io/excludeOutboundPorts");
        expect_bad(ST ",\"sidecar.istio.io/interceptionMode\":\"NONE\"", "sidecar.istio.io/interceptionMode");
        expect_bad(ST ",\"sidecar.istio.io/interceptionMode\":\"redirect\"", "sidecar.istio.io/interceptionMode");
        expect_bad(ST ",\"istio.io/reroute-virtual-interfaces\":\"a/b\"", "istio.io/reroute-virtual-interfaces");
        /* validation order: interceptionMode is reported before a bad port */
        expect_bad(ST ",\"traffic.sidecar.istio.io/includeInboundPorts\":\"x\",\"sidecar.istio.io/interceptionMode\":\"NONE\"",
                   "sidecar.istio.io/interceptionMode");
}
END_TEST

int main(void) {
        Suite *s = suite_create("annotations");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_decisions);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_bad);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
