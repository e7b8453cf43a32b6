/* SPDX-License-Identifier: Apache-2.0 */
/* test_install.c: the installer passes (lib/agent/install.c; spec istio-cni.md §4.3–§4.8, §4.11) in
 * temp dirs, no root: a pass installs binary, kubeconfig and entry; a second pass writes nothing;
 * the check notices a removed entry, a removed binary and a rewrite by someone else; a chained
 * install without a primary is -EAGAIN; the twin lookup; the re-target DECISION; cleanup. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/install.h"
#include "base/fileio.h"
#include "base/macro.h"

static char top[64], net[128], src[128], dst[128], run[128], sa[128];

static void put(const char *path, const char *text, mode_t mode) {
        ck_assert_int_eq(fileio_write_atomic(path, text, strlen(text), mode), 0);
}

static char *slurp(const char *path) {
        char *s = NULL;
        size_t n = 0;
        if (fileio_read_file(path, 1 << 20, &s, &n) < 0)
                return NULL;
        return s;
}

static void setup(void) {
        char p[256];
        snprintf(top, sizeof top, "/tmp/cnibox-install.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(top));
        snprintf(net, sizeof net, "%s/net.d", top);
        snprintf(src, sizeof src, "%s/src", top);
        snprintf(dst, sizeof dst, "%s/bin", top);
        snprintf(run, sizeof run, "%s/run", top);
        snprintf(sa, sizeof sa, "%s/sa", top);
        mkdir(net, 0755), mkdir(src, 0755), mkdir(dst, 0755), mkdir(sa, 0755);
        snprintf(p, sizeof p, "%s/istio-cni", src);
        put(p, "#!/bin/sh\nexit 0\n", 0755);
        snprintf(p, sizeof p, "%s/token", sa);
        put(p, "tok-123", 0600);
        snprintf(p, sizeof p, "%s/ca.crt", sa);
        put(p, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0644);
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
        ck_assert_int_eq(system(cmd), 0);
}

static struct installer *mk(const char *conf_name, bool chained) {
        struct install_config cfg = {
                .net_dir = net, .conf_name = conf_name, .chained = chained, .run_dir = run,
                .kubeconfig_mode = 0600, .bin_source_dir = src, .bin_target_dir = dst, .sa_dir = sa,
                .k8s_host = "10.96.0.1", .k8s_port = "443",
                .entry = { .plugin_log_level = "info", .cni_agent_run_dir = run, .pod_namespace = "istio-system" },
        };
        struct installer *in = NULL;
        ck_assert_int_eq(install_new(&cfg, NULL, NULL, &in), 0);
        return in;
}

static const char *const calico =
        "{\"name\":\"k8s-pod-network\",\"cniVersion\":\"0.3.1\",\"plugins\":[{\"type\":\"calico\"},{\"type\":\"portmap\"}]}";

static bool holds_istio(const char *path) {
        _cleanup_free_ char *s = slurp(path);
        return s && strstr(s, "\"type\": \"istio-cni\"");
}

START_TEST(test_pass_and_check) {
        char conf[256], kc[256], bin[256], err[512] = "", why[512] = "";
        enum install_result res;
        bool valid, rival;
        struct stat st1, st2;
        struct installer *in = mk("", true);

        snprintf(conf, sizeof conf, "%s/10-calico.conflist", net);
        snprintf(kc, sizeof kc, "%s/istio-cni-kubeconfig", run);
        snprintf(bin, sizeof bin, "%s/istio-cni", dst);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), -EAGAIN); /* no primary yet */
        ck_assert_int_eq(res, INSTALL_CREATE_CNI_CONFIG_FAILURE);
        put(conf, calico, 0644);
        ck_assert_msg(install_all(in, &res, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(res, INSTALL_SUCCESS);
        ck_assert(holds_istio(conf));
        ck_assert_str_eq(install_conf_path(in), conf);
        ck_assert_int_eq(stat(conf, &st1), 0);
        ck_assert_int_eq(st1.st_mode & 07777, 0644); /* the primary's mode is kept */
        ck_assert_int_eq(stat(kc, &st1), 0);
        ck_assert_int_eq(st1.st_mode & 07777, 0600);
        ck_assert_int_eq(stat(bin, &st1), 0);
        ck_assert_int_eq(st1.st_mode & 07777, 0755);

        /* A second pass rewrites nothing. */
        ck_assert_int_eq(stat(conf, &st1), 0);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(stat(conf, &st2), 0);
        ck_assert_int_eq(st1.st_ino, st2.st_ino);
        ck_assert_int_eq(install_check(in, &valid, &rival, why, sizeof why), 0);
        ck_assert(valid && !rival);

        /* Someone else rewrites it without our entry: invalid, and a rival. */
        put(conf, calico, 0644);
        ck_assert_int_eq(install_check(in, &valid, &rival, why, sizeof why), 0);
        ck_assert(!valid && rival);
        ck_assert_ptr_nonnull(strstr(why, "modified"));
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert(holds_istio(conf));

        /* The binary goes missing: invalid, and the next pass restores it. */
        ck_assert_int_eq(unlink(bin), 0);
        ck_assert_int_eq(install_check(in, &valid, &rival, why, sizeof why), 0);
        ck_assert(!valid && !rival);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(access(bin, X_OK), 0);

        ck_assert_msg(install_cleanup(in, err, sizeof err) == 0, "%s", err);
        ck_assert(!holds_istio(conf));
        ck_assert_int_eq(access(kc, F_OK), -1);
        ck_assert_int_eq(access(bin, F_OK), -1);
        install_free(in);
}
END_TEST

START_TEST(test_retarget_and_twin) {
        char a[256], b[256], conf[256], list[256], err[512] = "";
        enum install_result res;
        struct installer *in = mk("", true);

        snprintf(a, sizeof a, "%s/10-calico.conflist", net);
        snprintf(b, sizeof b, "%s/05-new.conflist", net);
        put(a, calico, 0644);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        put(b, calico, 0600);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert(holds_istio(b));
        ck_assert(!holds_istio(a)); /* moved, not copied */
        install_free(in);

        /* An explicit .conf name found as its .conflist twin. */
        in = mk("20-x.conf", true);
        snprintf(conf, sizeof conf, "%s/20-x.conflist", net);
        put(conf, calico, 0644);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert(holds_istio(conf));
        install_free(in);

        /* An explicit .conf is converted to a .conflist by rename. */
        in = mk("30-bridge.conf", true);
        snprintf(conf, sizeof conf, "%s/30-bridge.conf", net);
        snprintf(list, sizeof list, "%s/30-bridge.conflist", net);
        put(conf, "{\"cniVersion\":\"0.3.0\",\"name\":\"br\",\"type\":\"bridge\"}", 0644);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(access(conf, F_OK), -1);
        ck_assert(holds_istio(list));
        install_free(in);
}
END_TEST

START_TEST(test_failures_name_the_path) {
        char conf[256], err[512] = "";
        enum install_result res;
        struct installer *in = mk("", true);
        struct install_config cfg = { 0 };

        snprintf(conf, sizeof conf, "%s/10-calico.conflist", net);
        put(conf, calico, 0644);
        {
                char p[256];
                snprintf(p, sizeof p, "%s/istio-cni", src);
                ck_assert_int_eq(unlink(p), 0);
                ck_assert_int_eq(rmdir(src), 0);
        }
        ck_assert_int_lt(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(res, INSTALL_COPY_BINARIES_FAILURE);
        ck_assert_ptr_nonnull(strstr(err, src));
        install_free(in);

        mkdir(src, 0755);
        {
                char p[256];
                snprintf(p, sizeof p, "%s/istio-cni", src);
                put(p, "x", 0755);
                snprintf(p, sizeof p, "%s/token", sa);
                unlink(p);
        }
        in = mk("", true);
        ck_assert_int_lt(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(res, INSTALL_CREATE_KUBECONFIG_FAILURE);
        ck_assert_ptr_nonnull(strstr(err, "token"));
        install_free(in);

        cfg = (struct install_config){ .net_dir = net, .run_dir = run, .bin_source_dir = src, .bin_target_dir = dst,
                                       .sa_dir = sa, .chained = true };
        ck_assert_int_eq(install_new(&cfg, NULL, NULL, &in), 0);
        ck_assert_int_lt(install_all(in, &res, err, sizeof err), 0);
        ck_assert_ptr_nonnull(strstr(err, "KUBERNETES_SERVICE_HOST not set"));
        install_free(in);
}
END_TEST

START_TEST(test_standalone) {
        char p[256], err[512] = "";
        enum install_result res;
        struct stat st;
        struct installer *in = mk("", false);

        snprintf(p, sizeof p, "%s/" INSTALL_STANDALONE_NAME, net);
        ck_assert_int_eq(install_all(in, &res, err, sizeof err), 0);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(install_cleanup(in, err, sizeof err), 0);
        ck_assert_int_eq(access(p, F_OK), -1);
        install_free(in);
}
END_TEST

static Suite *install_suite(void) {
        Suite *s = suite_create("install");
        TCase *tc = tcase_create("install");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_pass_and_check);
        tcase_add_test(tc, test_retarget_and_twin);
        tcase_add_test(tc, test_failures_name_the_path);
        tcase_add_test(tc, test_standalone);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(install_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
