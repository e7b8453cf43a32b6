/* SPDX-License-Identifier: Apache-2.0 */
/* test_kubeconfig_incluster.c: kubeconfig_in_cluster (lib/kube/kubeconfig.c), the in-cluster
 * credentials of client-go's rest.InClusterConfig that cni-podcache, install-cni and the repair
 * controller use when no kubeconfig is given (spec istio-cni.md §4.4). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeconfig.h"

static int in_cluster(const char *host, const char *port, const char *sa_dir, struct kubeconfig *k, char *err) {
        if (host)
                setenv("KUBERNETES_SERVICE_HOST", host, 1);
        else
                unsetenv("KUBERNETES_SERVICE_HOST");
        if (port)
                setenv("KUBERNETES_SERVICE_PORT", port, 1);
        else
                unsetenv("KUBERNETES_SERVICE_PORT");
        err[0] = 0;
        return kubeconfig_in_cluster(sa_dir, k, err, 256);
}

START_TEST(test_in_cluster) {
        struct kubeconfig k = {};
        char err[256];

        ck_assert_int_eq(in_cluster("10.96.0.1", "443", NULL, &k, err), 0);
        ck_assert_str_eq(k.server, "https://10.96.0.1:443");
        ck_assert_str_eq(k.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
        ck_assert_str_eq(k.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
        ck_assert_ptr_null(k.token);
        kubeconfig_done(&k);
        ck_assert_int_eq(in_cluster("fd00::1", "6443", "/sa", &k, err), 0);
        ck_assert_str_eq(k.server, "https://[fd00::1]:6443");
        ck_assert_str_eq(k.token_file, "/sa/token");
        ck_assert_str_eq(k.ca_file, "/sa/ca.crt");
        kubeconfig_done(&k);
        ck_assert_int_eq(in_cluster("kubernetes.default.svc", "443", NULL, &k, err), 0);
        ck_assert_str_eq(k.server, "https://kubernetes.default.svc:443");
        kubeconfig_done(&k);

        /* not in a cluster: a message, and *ret untouched */
        k.server = (char *)"untouched";
        ck_assert_int_eq(in_cluster(NULL, "443", NULL, &k, err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err, "KUBERNETES_SERVICE_HOST"));
        ck_assert_int_eq(in_cluster("10.0.0.1", "", NULL, &k, err), -ENOENT);
        ck_assert_int_eq(in_cluster("", "443", NULL, &k, err), -ENOENT);
        /* values that cannot be part of a URL */
        ck_assert_int_eq(in_cluster("10.0.0.1/x", "443", NULL, &k, err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "10.0.0.1/x"));
        ck_assert_int_eq(in_cluster("a@b", "443", NULL, &k, err), -EINVAL);
        ck_assert_int_eq(in_cluster("10.0.0.1", "44x", NULL, &k, err), -EINVAL);
        ck_assert_int_eq(in_cluster("10.0.0.1", "443443", NULL, &k, err), -EINVAL);
        ck_assert_str_eq(k.server, "untouched");
        ck_assert_int_eq(kubeconfig_in_cluster(NULL, &k, NULL, 0), -EINVAL); /* no err buffer is fine */
}
END_TEST

int main(void) {
        Suite *su = suite_create("kubeconfig_in_cluster");
        TCase *tc = tcase_create("env");
        tcase_add_test(tc, test_in_cluster);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
