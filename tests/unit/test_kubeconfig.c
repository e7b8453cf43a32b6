/* SPDX-License-Identifier: Apache-2.0 */
/* test_kubeconfig.c: kubeconfig parser (lib/kube/kubeconfig.c; spec istio-cni.md §2.5, §4.4). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kube/kubeconfig.h"
#include "base/macro.h"

/* "Y2EtcGVt" = base64("ca-pem"), "Y2VydA==" = "cert", "a2V5" = "key". */
#define ISTIO_KC                                                       \
        "apiVersion: v1\n"                                             \
        "clusters:\n"                                                  \
        "- cluster:\n"                                                 \
        "    certificate-authority-data: Y2EtcGVt\n"                   \
        "    server: https://10.96.0.1:443\n"                          \
        "  name: local\n"                                              \
        "contexts:\n"                                                  \
        "- context:\n"                                                 \
        "    cluster: local\n"                                         \
        "    user: istio-cni\n"                                        \
        "  name: istio-cni-context\n"                                  \
        "current-context: istio-cni-context\n"                         \
        "kind: Config\n"                                               \
        "users:\n"                                                     \
        "- name: istio-cni\n"                                          \
        "  user:\n"                                                    \
        "    token: eyJhbGciOi.J9-x_y\n"

START_TEST(test_istio_layout) {
        struct kubeconfig k = {};
        char err[256];
        ck_assert_int_eq(kubeconfig_parse(ISTIO_KC, strlen(ISTIO_KC), "/etc/x", &k, err, sizeof err), 0);
        ck_assert_str_eq(k.server, "https://10.96.0.1:443");
        ck_assert_str_eq(k.context, "istio-cni-context");
        ck_assert_str_eq(k.cluster_name, "local");
        ck_assert_str_eq(k.user_name, "istio-cni");
        ck_assert_uint_eq(k.ca_data_len, 6);
        ck_assert(memcmp(k.ca_data, "ca-pem", 6) == 0);
        ck_assert_str_eq(k.token, "eyJhbGciOi.J9-x_y");
        ck_assert(!k.insecure_skip_tls_verify);
        ck_assert_ptr_null(k.token_file);
        kubeconfig_done(&k);
        kubeconfig_done(&k); /* idempotent */
}
END_TEST

/* kubectl's own style: indented sequences, quotes, comments, several entries, CRLF. */
START_TEST(test_kubectl_style) {
        static const char y[] =
                "# written by hand\r\n"
                "---\r\n"
                "apiVersion: v1\r\n"
                "kind: Config\r\n"
                "preferences: {}\r\n"
                "clusters:\r\n"
                "  - name: other\r\n"
                "    cluster:\r\n"
                "      server: https://1.2.3.4\r\n"
                "  - name: \"kind-kind\"   # quoted name\r\n"
                "    cluster:\r\n"
                "      server: 'https://[fd00::1]:6443/'\r\n"
                "      insecure-skip-tls-verify: true\r\n"
                "      tls-server-name: kubernetes.default.svc\r\n"
                "contexts:\r\n"
                "  - context: {cluster: kind-kind, user: admin}\r\n"
                "    name: x\r\n"
                "current-context: x\r\n";
        struct kubeconfig k = {};
        char err[256];
        /* A flow mapping inside block style; the user it names is missing. */
        ck_assert_int_eq(kubeconfig_parse(y, strlen(y), NULL, &k, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "users 'admin' not found"), "%s", err);

        static const char y2[] =
                "# written by hand\r\n"
                "---\r\n"
                "apiVersion: v1\r\n"
                "kind: Config\r\n"
                "preferences: {}\r\n"
                "clusters:\r\n"
                "  - name: other\r\n"
                "    cluster:\r\n"
                "      server: https://1.2.3.4\r\n"
                "  - name: \"kind-kind\"   # quoted name\r\n"
                "    cluster:\r\n"
                "      server: 'https://[fd00::1]:6443/'\r\n"
                "      insecure-skip-tls-verify: true\r\n"
                "      tls-server-name: kubernetes.default.svc\r\n"
                "contexts:\r\n"
                "  - context:\r\n"
                "      cluster: kind-kind\r\n"
                "      user: \"ad\\u006din\"\r\n"
                "    name: x\r\n"
                "current-context: x\r\n"
                "users:\r\n"
                "- name: admin\r\n"
                "  user:\r\n"
                "    client-certificate: certs/c.pem\r\n"
                "    client-key: /abs/k.pem\r\n"
                "    tokenFile: tok\r\n"
                "    token: ''\r\n";
        ck_assert_int_eq(kubeconfig_parse(y2, strlen(y2), "/base/dir", &k, err, sizeof err), 0);
        ck_assert_str_eq(k.server, "https://[fd00::1]:6443");
        ck_assert(k.insecure_skip_tls_verify);
        ck_assert_str_eq(k.tls_server_name, "kubernetes.default.svc");
        ck_assert_str_eq(k.user_name, "admin");
        ck_assert_str_eq(k.client_cert_file, "/base/dir/certs/c.pem");
        ck_assert_str_eq(k.client_key_file, "/abs/k.pem");
        ck_assert_str_eq(k.token_file, "/base/dir/tok");
        ck_assert_ptr_null(k.token);
        kubeconfig_done(&k);
}
END_TEST

START_TEST(test_json) {
        static const char j[] =
                "{\"kind\":\"Config\",\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\",\"context\":"
                "{\"cluster\":\"k\",\"user\":\"u\"}}],\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":"
                "\"http://127.0.0.1:8080\"}}],\"users\":[{\"name\":\"u\",\"user\":{\"client-certificate-data\":"
                "\"Y2VydA==\",\"client-key-data\":\"a2V5\"}}]}\n";
        struct kubeconfig k = {};
        char err[256];
        ck_assert_int_eq(kubeconfig_parse(j, strlen(j), NULL, &k, err, sizeof err), 0);
        ck_assert_str_eq(k.server, "http://127.0.0.1:8080");
        ck_assert_uint_eq(k.client_cert_data_len, 4);
        ck_assert_str_eq((char *)k.client_cert_data, "cert");
        ck_assert_str_eq((char *)k.client_key_data, "key");
        kubeconfig_done(&k);
}
END_TEST

/* Bad inputs: each must fail with the given errno and a message containing the given text. */
static const struct bad_case {
        const char *name;
        const char *text;
        int r;
        const char *msg;
} bad_cases[] = {
        { "empty", "", -EINVAL, "empty" },
        { "comments only", "# nothing\n\n", -EINVAL, "empty" },
        { "no current-context", "clusters: []\n", -EINVAL, "no current-context" },
        { "unknown context", "current-context: nope\ncontexts:\n- name: a\n  context:\n    cluster: x\n", -EINVAL,
          "contexts 'nope' not found" },
        { "unknown cluster", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n", -EINVAL,
          "clusters 'x' not found" },
        { "unknown user",
          "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n    user: u\n"
          "clusters:\n- name: x\n  cluster:\n    server: https://h\n",
          -EINVAL, "users 'u' not found" },
        { "no server", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n"
                       "clusters:\n- name: x\n  cluster:\n    insecure-skip-tls-verify: true\n",
          -EINVAL, "no server" },
        { "bad scheme", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n"
                        "clusters:\n- name: x\n  cluster:\n    server: ftp://h\n",
          -EINVAL, "not an http(s) URL" },
        { "bad base64", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n"
                        "clusters:\n- name: x\n  cluster:\n    server: https://h\n"
                        "    certificate-authority-data: Y2E*\n",
          -EINVAL, "not valid base64" },
        { "insecure with CA", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n"
                              "clusters:\n- name: x\n  cluster:\n    server: https://h\n"
                              "    certificate-authority: ca.crt\n    insecure-skip-tls-verify: true\n",
          -EINVAL, "mutually exclusive" },
        { "insecure not bool", "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n"
                               "clusters:\n- name: x\n  cluster:\n    server: https://h\n"
                               "    insecure-skip-tls-verify: \"true\"\n",
          -EINVAL, "must be a boolean" },
        { "exec plugin",
          "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n    user: u\n"
          "clusters:\n- name: x\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n"
          "      command: aws\n",
          -EOPNOTSUPP, "'exec' is not supported" },
        { "cert without key",
          "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n    user: u\n"
          "clusters:\n- name: x\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n"
          "    client-certificate-data: Y2VydA==\n",
          -EINVAL, "together" },
        { "auth-provider",
          "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n    user: u\n"
          "clusters:\n- name: x\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    auth-provider:\n"
          "      name: azure\n      config: {tenant-id: t}\n",
          -EOPNOTSUPP, "'auth-provider' is not supported" },
        { "flow exec", "{current-context: a, contexts: [{name: a, context: {cluster: x, user: u}}], clusters: [{name: x, "
                       "cluster: {server: 'https://h'}}], users: [{name: u, user: {exec: {command: aws}}}]}",
          -EOPNOTSUPP, "user 'u': 'exec' is not supported" },
        /* Syntax errors: libyaml's words, with the line and column. */
        { "tab indent", "current-context: a\n\tcontexts: []\n", -EINVAL,
          "line 2, column 1: found a tab character that violates indentation" },
        { "bad block header", "current-context: |x\n  x\n", -EINVAL,
          "line 1, column 19: did not find expected comment or line break" },
        { "block header junk", "current-context: |- x\n  x\n", -EINVAL,
          "line 1, column 21: did not find expected comment" },
        { "block bad indent", "a:\n  b: |\n     x\n    c: 1\n", -EINVAL,
          "line 4, column 5: did not find expected key" },
        { "after doc end", "a: 1\n...\nb: 2\n", -EINVAL,
          "line 3, column 1: did not find expected <document start>" },
        { "doc end junk", "a: 1\n... x\n", -EINVAL, "line 2, column 5: did not find expected <document start>" },
        { "bad indent", "a:\n    b: 1\n  c: 2\n", -EINVAL, "line 3, column 3: did not find expected key" },
        { "unterminated quote", "current-context: \"abc\n", -EINVAL,
          "found unexpected end of stream (while scanning a quoted scalar at line 1, column 18)" },
        { "bad escape", "current-context: \"a\\qb\"\n", -EINVAL, "line 1, column 20: found unknown escape character" },
        { "colon in plain", "current-context: a: b\n", -EINVAL, "line 1, column 19: mapping values are not allowed" },
        { "trailing junk", "current-context: 'a' b\n", -EINVAL, "line 1, column 22: did not find expected key" },
        { "no colon", "current-context\n", -EINVAL, "not a mapping" },
        { "no colon in map", "a: b\ncurrent-context\n", -EINVAL,
          "could not find expected ':' (while scanning a simple key at line 2, column 1)" },
        { "bad utf-8", "current-context: \xff\n", -EINVAL, "line 1, column 18: invalid leading UTF-8 octet" },
        { "yaml 2.0", "%YAML 2.0\n---\na: b\n", -EINVAL, "line 1, column 1: found incompatible YAML document" },
        { "bad json", "{\"current-context\": \n\"x\",,}", -EINVAL, "line 2, column 5: did not find expected node content" },
        { "json trailing", "{\"a\":1} x", -EINVAL, "line 1, column 9: did not find expected <document start>" },
        /* What libyaml accepts but the tree refuses. */
        { "duplicate key", "current-context: a\ncurrent-context: b\n", -EINVAL,
          "line 2, column 1: duplicate key 'current-context'" },
        { "duplicate flow key", "x: {a: 1, a: 2}\n", -EINVAL, "line 1, column 11: duplicate key 'a'" },
        { "two docs", "a: 1\n---\nb: 2\n", -EINVAL, "line 2, column 1: a second document ('---') is not supported" },
        { "unknown alias", "a: b\ncurrent-context: *a\n", -EINVAL, "line 2, column 18: unknown anchor 'a'" },
        { "recursive alias", "a: &a [*a]\n", -EINVAL, "line 1, column 8: unknown anchor 'a'" },
        { "local tag", "current-context: !foo x\n", -EINVAL, "line 1, column 18: tag '!foo' is not supported" },
        { "bad bool", "current-context: !!bool x\n", -EINVAL, "line 1, column 18: 'x' is not a valid bool" },
        { "set tag", "current-context: !!set {a}\n", -EINVAL, "tag 'tag:yaml.org,2002:set' is not supported" },
        { "complex key", "? [a]\n: b\n", -EINVAL, "line 1, column 3: a mapping key must be a scalar" },
        { "alias key", "a: &m {x: 1}\n*m : b\n", -EINVAL, "line 2, column 1: a mapping key must be a string" },
        { "null key", "~: b\n", -EINVAL, "line 1, column 1: a mapping key must not be null" },
        { "merge scalar", "a: {<<: x}\n", -EINVAL, "line 1, column 5: a merge key ('<<') needs a mapping" },
        { "merge alias scalar", "s: &s x\na: {<<: *s}\n", -EINVAL, "line 2, column 5: a merge key ('<<') needs a mapping" },
        { "merge list of scalars", "a: {<<: [{}, x]}\n", -EINVAL, "line 1, column 5: a merge key ('<<') needs a mapping" },
        { "deep flow", "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", -EINVAL,
          "line 1, column 35: nesting deeper than 32 levels" },
        { "deep alias", "a: &a [[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]\nb: [[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]\n", -EINVAL,
          "line 2, column 20: nesting deeper than 32 levels" },
        { "nul scalar", "current-context: \"a\\0b\"\n", -EINVAL, "line 1, column 18: NUL character in a scalar" },
        { "nul", "current-context: a\0\n", -EINVAL, "line 1: NUL byte" },
};

/* Kubeconfigs as the tools write them, and the YAML they may use. "Y2EtcGVt" = base64("ca-pem"),
 * "Y2VydA==" = "cert", "a2V5" = "key". */
#define KIND_KC                                                                                \
        "apiVersion: v1\n"                                                                     \
        "clusters:\n"                                                                          \
        "- cluster:\n"                                                                         \
        "    certificate-authority-data: Y2EtcGVt\n"                                           \
        "    server: https://127.0.0.1:36277\n"                                                \
        "  name: kind-kind\n"                                                                  \
        "contexts:\n"                                                                          \
        "- context:\n"                                                                         \
        "    cluster: kind-kind\n"                                                             \
        "    user: kind-kind\n"                                                                \
        "  name: kind-kind\n"                                                                  \
        "current-context: kind-kind\n"                                                         \
        "kind: Config\n"                                                                       \
        "preferences: {}\n"                                                                    \
        "users:\n"                                                                             \
        "- name: kind-kind\n"                                                                  \
        "  user:\n"                                                                            \
        "    client-certificate-data: Y2VydA==\n"                                              \
        "    client-key-data: a2V5\n"

/* `kubectl config view --raw` of a minikube + GKE + EKS + AKS merge: extensions, namespaces, a
 * multi-line plain installHint, names with ':' and '/', an AKS "|2" block with a leading empty
 * line. The current context is minikube's. */
#define MULTI_KC                                                                                     \
        "apiVersion: v1\n"                                                                           \
        "clusters:\n"                                                                                \
        "- cluster:\n"                                                                               \
        "    certificate-authority-data: Y2EtcGVt\n"                                                 \
        "    server: https://35.0.0.1\n"                                                             \
        "  name: gke_proj_us-central1_c1\n"                                                          \
        "- cluster:\n"                                                                               \
        "    certificate-authority-data: Y2EtcGVt\n"                                                 \
        "    server: https://ABCDEF.gr7.us-west-2.eks.amazonaws.com\n"                               \
        "  name: arn:aws:eks:us-west-2:123456789012:cluster/demo\n"                                  \
        "- cluster:\n"                                                                               \
        "    certificate-authority-data: Y2EtcGVt\n"                                                 \
        "    server: https://aks1-dns-12345678.hcp.westeurope.azmk8s.io:443\n"                       \
        "  name: aks1\n"                                                                             \
        "- cluster:\n"                                                                               \
        "    certificate-authority: /home/u/.minikube/ca.crt\n"                                      \
        "    extensions:\n"                                                                          \
        "    - extension:\n"                                                                         \
        "        last-update: Fri, 04 Dec 2026 10:00:00 UTC\n"                                       \
        "        provider: minikube.sigs.k8s.io\n"                                                   \
        "        version: v1.32.0\n"                                                                 \
        "      name: cluster_info\n"                                                                 \
        "    server: https://192.168.49.2:8443\n"                                                    \
        "  name: minikube\n"                                                                         \
        "contexts:\n"                                                                                \
        "- context:\n"                                                                               \
        "    cluster: gke_proj_us-central1_c1\n"                                                     \
        "    user: gke_proj_us-central1_c1\n"                                                        \
        "  name: gke_proj_us-central1_c1\n"                                                          \
        "- context:\n"                                                                               \
        "    cluster: arn:aws:eks:us-west-2:123456789012:cluster/demo\n"                             \
        "    namespace: istio-system\n"                                                              \
        "    user: arn:aws:eks:us-west-2:123456789012:cluster/demo\n"                                \
        "  name: arn:aws:eks:us-west-2:123456789012:cluster/demo\n"                                  \
        "- context:\n"                                                                               \
        "    cluster: aks1\n"                                                                        \
        "    user: clusterUser_rg_aks1\n"                                                            \
        "  name: aks1\n"                                                                             \
        "- context:\n"                                                                               \
        "    cluster: minikube\n"                                                                    \
        "    extensions:\n"                                                                          \
        "    - extension:\n"                                                                         \
        "        provider: minikube.sigs.k8s.io\n"                                                   \
        "      name: context_info\n"                                                                 \
        "    namespace: default\n"                                                                   \
        "    user: minikube\n"                                                                       \
        "  name: minikube\n"                                                                         \
        "current-context: minikube\n"                                                                \
        "kind: Config\n"                                                                             \
        "preferences: {}\n"                                                                          \
        "users:\n"                                                                                   \
        "- name: gke_proj_us-central1_c1\n"                                                          \
        "  user:\n"                                                                                  \
        "    exec:\n"                                                                                \
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"                                   \
        "      command: gke-gcloud-auth-plugin\n"                                                    \
        "      installHint: Install gke-gcloud-auth-plugin for use with kubectl by following\n"      \
        "        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin\n" \
        "      provideClusterInfo: true\n"                                                           \
        "- name: arn:aws:eks:us-west-2:123456789012:cluster/demo\n"                                  \
        "  user:\n"                                                                                  \
        "    exec:\n"                                                                                \
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"                                   \
        "      args:\n"                                                                              \
        "      - --region\n"                                                                         \
        "      - us-west-2\n"                                                                        \
        "      - eks\n"                                                                              \
        "      - get-token\n"                                                                        \
        "      - --cluster-name\n"                                                                   \
        "      - demo\n"                                                                             \
        "      command: aws\n"                                                                       \
        "      env:\n"                                                                               \
        "      - name: AWS_PROFILE\n"                                                                \
        "        value: prod\n"                                                                      \
        "      interactiveMode: IfAvailable\n"                                                       \
        "      provideClusterInfo: false\n"                                                          \
        "- name: clusterUser_rg_aks1\n"                                                              \
        "  user:\n"                                                                                  \
        "    exec:\n"                                                                                \
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"                                   \
        "      args:\n"                                                                              \
        "      - get-token\n"                                                                        \
        "      - --server-id\n"                                                                      \
        "      - 6dae42f8-4368-4678-94ff-3960e28e3630\n"                                             \
        "      command: kubelogin\n"                                                                 \
        "      env: null\n"                                                                          \
        "      installHint: |2\n"                                                                    \
        "\n"                                                                                         \
        "        kubelogin is not installed which is required to connect to AAD enabled cluster.\n"  \
        "\n"                                                                                         \
        "        To learn more, please go to https://aka.ms/aks/kubelogin\n"                         \
        "      provideClusterInfo: false\n"                                                          \
        "- name: minikube\n"                                                                         \
        "  user:\n"                                                                                  \
        "    client-certificate: /home/u/.minikube/profiles/minikube/client.crt\n"                   \
        "    client-key: /home/u/.minikube/profiles/minikube/client.key\n"

/* The same file with each cloud context made current: the exec plugin is named. */
static char *with_context(const char *ctx) {
        char *s = NULL;
        const char *cur = strstr(MULTI_KC, "current-context: minikube\n");
        ck_assert_ptr_nonnull(cur);
        ck_assert_int_ge(asprintf(&s, "%.*scurrent-context: %s\n%s", (int)(cur - MULTI_KC), MULTI_KC, ctx,
                                  cur + strlen("current-context: minikube\n")), 0);
        return s;
}

START_TEST(test_real_world) {
        struct kubeconfig k = {};
        char err[256];

        ck_assert_msg(kubeconfig_parse(KIND_KC, strlen(KIND_KC), NULL, &k, err, sizeof err) == 0, "%s", err);
        ck_assert_str_eq(k.server, "https://127.0.0.1:36277");
        ck_assert_str_eq(k.user_name, "kind-kind");
        ck_assert_str_eq((char *)k.ca_data, "ca-pem");
        ck_assert_str_eq((char *)k.client_cert_data, "cert");
        ck_assert_str_eq((char *)k.client_key_data, "key");
        kubeconfig_done(&k);

        ck_assert_msg(kubeconfig_parse(MULTI_KC, strlen(MULTI_KC), NULL, &k, err, sizeof err) == 0, "%s", err);
        ck_assert_str_eq(k.server, "https://192.168.49.2:8443");
        ck_assert_str_eq(k.ca_file, "/home/u/.minikube/ca.crt");
        ck_assert_str_eq(k.client_key_file, "/home/u/.minikube/profiles/minikube/client.key");
        kubeconfig_done(&k);

        static const char *const clouds[] = { "gke_proj_us-central1_c1", "arn:aws:eks:us-west-2:123456789012:cluster/demo",
                                              "aks1" };
        for (size_t i = 0; i < ELEMENTSOF(clouds); i++) {
                _cleanup_free_ char *y = with_context(clouds[i]);
                int r = kubeconfig_parse(y, strlen(y), NULL, &k, err, sizeof err);
                ck_assert_msg(r == -EOPNOTSUPP && strstr(err, "'exec' is not supported"), "%s: %d %s", clouds[i], r, err);
        }

        /* The AKS installHint block: "|2" keeps the leading empty line. */
        cJSON *root = NULL;
        ck_assert_msg(kubeconfig_yaml_parse(MULTI_KC, strlen(MULTI_KC), &root, err, sizeof err) == 0, "%s", err);
        const cJSON *aks = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "users"), 2);
        const cJSON *exec = cJSON_GetObjectItem(cJSON_GetObjectItem(aks, "user"), "exec");
        ck_assert_str_eq(cJSON_GetObjectItem(exec, "installHint")->valuestring,
                         "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n"
                         "To learn more, please go to https://aka.ms/aks/kubelogin\n");
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(exec, "env")));
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(exec, "provideClusterInfo")));
        const cJSON *gke = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "users"), 0), "user");
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(gke, "exec"), "installHint")->valuestring,
                         "Install gke-gcloud-auth-plugin for use with kubectl by following "
                         "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin");
        cJSON_Delete(root);
}
END_TEST

/* Valid YAML beyond the block style kubectl writes; each must resolve to server S, token T (or
 * NULL) and the insecure flag. */
static const struct {
        const char *name, *text, *server, *token;
        bool insecure;
} yaml_cases[] = {
        { "flow document",
          "{apiVersion: v1, kind: Config, current-context: c,\n"
          " contexts: [{name: c, context: {cluster: k, user: u}}],\n"
          " clusters: [{name: k, cluster: {server: 'https://h:6443', insecure-skip-tls-verify: true}}],\n"
          " users: [{name: u, user: {token: \"t0k\"}}]}\n",
          "https://h:6443", "t0k", true },
        { "flow in block",
          "current-context: c\ncontexts:\n- {name: c, context: {cluster: k, user: u}}\n"
          "clusters: [ {name: k, cluster: {server: \"https://h\"}} ]\nusers:\n- name: u\n  user: {token: x}\n",
          "https://h", "x", false },
        { "folded and literal scalars",
          "current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
          "clusters:\n- name: k\n  cluster:\n    server: >-\n      https://h\n"
          "    certificate-authority-data: |\n      Y2Et\n      cGVt\n"
          "users:\n- name: u\n  user:\n    token: >\n      a\n      b\n\n      c\n",
          "https://h", "a b\nc\n", false },
        { "chomping",
          "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
          "clusters: [{name: k, cluster: {server: https://h}}]\nusers:\n- name: u\n  user:\n    token: |+\n      x\n\n",
          "https://h", "x\n\n", false },
        { "anchors and aliases",
          "current-context: c\n"
          "clusters:\n- name: k\n  cluster: &prod\n    server: https://prod:443\n    insecure-skip-tls-verify: true\n"
          "- name: k2\n  cluster: *prod\n"
          "contexts:\n- name: c\n  context: {cluster: &cl k2, user: *cl}\n"
          "users:\n- name: k2\n  user: {token: &t s3cret}\n- name: other\n  user: {token: *t}\n",
          "https://prod:443", "s3cret", true },
        { "merge key",
          "base: &base {server: https://base, insecure-skip-tls-verify: true}\n"
          "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
          "clusters:\n- name: k\n  cluster:\n    <<: *base\n    server: https://mine\n"
          "users: [{name: u, user: {<<: {token: merged}}}]\n",
          "https://mine", "merged", true },
        /* go-yaml v2: keys apply in document order, so a merge after a key replaces it. */
        { "merge after key",
          "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
          "clusters:\n- name: k\n  cluster:\n    server: https://mine\n    <<: {server: https://merged}\n",
          "https://merged", NULL, false },
        /* ...and of a list of merged mappings the first wins. */
        { "merge list",
          "a: &a {server: https://a}\nb: &b {server: https://b, insecure-skip-tls-verify: yes}\n"
          "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
          "clusters: [{name: k, cluster: {<<: [*a, *b]}}]\n",
          "https://a", NULL, true },
        { "merge tag and anchored merge value",
          "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
          "clusters:\n- name: k\n  cluster:\n    !!merge <<: &m {server: https://m}\n- name: j\n  cluster: *m\n",
          "https://m", NULL, false },
        /* Plain scalars that go-yaml reads as numbers or booleans stay the text where a string belongs. */
        { "typed plain scalars",
          "current-context: yes\ncontexts:\n- name: yes\n  context: {cluster: 'on', user: true, namespace: false}\n"
          "clusters: [{name: 'on', cluster: {server: https://h:6443, insecure-skip-tls-verify: On}}]\n"
          "users: [{name: true, user: {token: 0123}}]\n",
          "https://h:6443", "0123", true },
        { "numbers and null",
          "current-context: 1.0\ncontexts: [{name: 1.0, context: {cluster: 0x1f, user: ~}}]\n"
          "clusters: [{name: 0x1f, cluster: {server: http://10.0.0.1:80, tls-server-name: null}}]\n",
          "http://10.0.0.1:80", NULL, false },
        { "quoted escapes and tags",
          "current-context: \"c\\u00e9\"\ncontexts: [{name: 'c\xc3\xa9', context: {cluster: \"k\\tx\", user: !!str u}}]\n"
          "clusters: [{name: \"k\\x09x\", cluster: {server: \"https://h\\\n  /p\", insecure-skip-tls-verify: !!bool \"true\"}}]\n"
          "users: [{name: u, user: {token: ! 12}}]\n",
          "https://h/p", "12", true },
        { "comments, markers, directive",
          "%YAML 1.1\n# top\n--- # start\ncurrent-context: c # trailing\n# between\ncontexts: # x\n- name: c\n"
          "  context:\n    cluster: k\nclusters:\n- name: k\n  cluster:\n    server: 'https://h' #c\n...\n# after\n",
          "https://h", NULL, false },
        { "multi-line scalars",
          "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
          "clusters: [{name: k, cluster: {server: https://h}}]\nusers:\n- name: u\n  user:\n    token: abc\n      def\n",
          "https://h", "abc def", false },
        { "ten aliases of a cluster",
          "c: &c {server: https://h, insecure-skip-tls-verify: true}\ncurrent-context: c\n"
          "contexts: [{name: c, context: {cluster: k9}}]\n"
          "clusters: [{name: k0, cluster: *c}, {name: k1, cluster: *c}, {name: k2, cluster: *c}, {name: k3, cluster: *c},"
          " {name: k4, cluster: *c}, {name: k5, cluster: *c}, {name: k6, cluster: *c}, {name: k7, cluster: *c},"
          " {name: k8, cluster: *c}, {name: k9, cluster: *c}]\n",
          "https://h", NULL, true },
};

START_TEST(test_yaml) {
        struct kubeconfig k = {};
        char err[256] = "";
        const char *t = yaml_cases[_i].text;

        ck_assert_msg(kubeconfig_parse(t, strlen(t), NULL, &k, err, sizeof err) == 0, "%s: %s", yaml_cases[_i].name, err);
        ck_assert_msg(streq(k.server, yaml_cases[_i].server), "%s: server %s", yaml_cases[_i].name, k.server);
        if (yaml_cases[_i].token)
                ck_assert_msg(k.token && streq(k.token, yaml_cases[_i].token), "%s: token [%s]", yaml_cases[_i].name, k.token);
        else
                ck_assert_ptr_null(k.token);
        ck_assert_msg(k.insecure_skip_tls_verify == yaml_cases[_i].insecure, "%s", yaml_cases[_i].name);
        kubeconfig_done(&k);
}
END_TEST

/* Billion laughs: each level ten aliases of the last. Refused quickly, whatever the depth. */
START_TEST(test_billion_laughs) {
        char y[2048], err[256];
        size_t n = 0;
        struct kubeconfig k = {};

        n += (size_t)snprintf(y + n, sizeof y - n, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 10; i++) {
                n += (size_t)snprintf(y + n, sizeof y - n, "l%d: &l%d [*l%d", i, i, i - 1);
                for (int j = 1; j < 10; j++)
                        n += (size_t)snprintf(y + n, sizeof y - n, ", *l%d", i - 1);
                n += (size_t)snprintf(y + n, sizeof y - n, "]\n");
        }
        ck_assert_uint_lt(n, sizeof y - 1);
        ck_assert_int_eq(kubeconfig_parse(y, n, NULL, &k, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "aliases and merge keys expand to more than 4194304 bytes"), "%s", err);

        /* The same through merge keys, each level merging the last twice. */
        n = (size_t)snprintf(y, sizeof y, "m0: &m0 {a: lol, b: lol}\n");
        for (int i = 1; i < 24; i++)
                n += (size_t)snprintf(y + n, sizeof y - n, "m%d: &m%d {<<: [*m%d, {x%d: *m%d}], y: *m%d}\n", i, i,
                                      i - 1, i, i - 1, i - 1);
        ck_assert_uint_lt(n, sizeof y - 1);
        ck_assert_int_eq(kubeconfig_parse(y, n, NULL, &k, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "expand to more than"), "%s", err);
}
END_TEST

/* kubeconfig_yaml_parse for install-cni's AMBIENT_ENABLEMENT_SELECTOR: block, flow or JSON. */
START_TEST(test_yaml_generic) {
        static const char *const texts[] = {
                "- matchLabels:\n    istio.io/dataplane-mode: ambient\n",
                "[{matchLabels: {istio.io/dataplane-mode: ambient}}]",
                "[{\"matchLabels\": {\"istio.io/dataplane-mode\": \"ambient\"}}]",
        };
        char err[256];
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                cJSON *j = NULL;
                ck_assert_msg(kubeconfig_yaml_parse(texts[i], strlen(texts[i]), &j, err, sizeof err) == 0, "%s", err);
                _cleanup_free_ char *p = cJSON_PrintUnformatted(j);
                ck_assert_str_eq(p, "[{\"matchLabels\":{\"istio.io/dataplane-mode\":\"ambient\"}}]");
                cJSON_Delete(j);
        }
        cJSON *j = NULL;
        ck_assert_int_eq(kubeconfig_yaml_parse("# nothing\n", 10, &j, err, sizeof err), 0);
        ck_assert(cJSON_IsNull(j));
        cJSON_Delete(j);
        ck_assert_int_eq(kubeconfig_yaml_parse("[a, b", 5, &j, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "line 2, column 1: did not find expected ',' or ']'"), "%s", err);
}
END_TEST

/* Literal block scalars (YAML 1.1 §9.2 as go-yaml v2 writes them): chomping, an indentation
 * indicator, and content lines that look like comments, keys or markers. */
static const struct {
        const char *text, *want;
} block_cases[] = {
        { "a:\n  t: |\n    abc\n", "abc\n" },
        { "a:\n  t: |-\n    abc\n", "abc" },
        { "a:\n  t: |+\n    abc\n\n\n...\n", "abc\n\n\n" },
        { "a:\n  t: |\n    abc\n\n\nb: 1\n", "abc\n" },
        { "a:\n  t: |-\n    a\n\n    b\n  u: x\n", "a\n\nb" },
        { "t: |2\n   lead\n  x\n", " lead\nx\n" },
        { "t: |+2\n\n  x\n\n", "\nx\n\n" },
        { "t: |\n  # not a comment\n  k: v\n  - i\n# a comment\n", "# not a comment\nk: v\n- i\n" },
        { "t: |   # header comment\n  x  \n", "x  \n" },
        { "t: |\r\n  x\r\n", "x\n" },
        { "t: |\nu: 1\n", "" },
        { "t: |+\n\n\nu: 1\n", "\n\n" },
        { "t: |\n  x", "x" }, /* no line break at the end of the stream: none to clip */
        { "t: |-\n    a\n      b\n    c\n", "a\n  b\nc" },
};

START_TEST(test_block_scalar) {
        cJSON *root = NULL;
        char err[256] = "";
        const char *t = block_cases[_i].text;

        ck_assert_msg(kubeconfig_yaml_parse(t, strlen(t), &root, err, sizeof err) == 0, "case %d: %s", _i, err);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "t");
        if (!v)
                v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "a"), "t");
        ck_assert_msg(cJSON_IsString(v) && streq(v->valuestring, block_cases[_i].want), "case %d: got [%s] want [%s]", _i,
                      cJSON_IsString(v) ? v->valuestring : "(none)", block_cases[_i].want);
        cJSON_Delete(root);
}
END_TEST

START_TEST(test_bad) {
        const struct bad_case *c = &bad_cases[_i];
        struct kubeconfig k = {};
        char err[256] = "unset";
        size_t len = strlen(c->text);
        if (streq(c->name, "nul"))
                len += 2;
        int r = kubeconfig_parse(c->text, len, NULL, &k, err, sizeof err);
        ck_assert_msg(r == c->r, "%s: r=%d (%s), want %d", c->name, r, err, c->r);
        ck_assert_msg(strstr(err, c->msg), "%s: message '%s' lacks '%s'", c->name, err, c->msg);
        ck_assert_ptr_null(k.server);
}
END_TEST

START_TEST(test_base64) {
        void *p;
        size_t n;
        ck_assert_int_eq(kubeconfig_base64_decode("aGVsbG8=", 8, &p, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(p, "hello");
        free(p);
        ck_assert_int_eq(kubeconfig_base64_decode("aGVs\nbG8", 8, &p, &n), 0); /* unpadded, wrapped */
        ck_assert_str_eq(p, "hello");
        free(p);
        ck_assert_int_eq(kubeconfig_base64_decode("", 0, &p, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(p);
        ck_assert_int_eq(kubeconfig_base64_decode("a", 1, &p, &n), -EINVAL);
        ck_assert_int_eq(kubeconfig_base64_decode("aGVsbG8=x", 9, &p, &n), -EINVAL);
        ck_assert_int_eq(kubeconfig_base64_decode("aGVsbG9=", 8, &p, &n), -EINVAL); /* non-zero pad bits */
        ck_assert_int_eq(kubeconfig_base64_decode("aGVsbG8===", 10, &p, &n), -EINVAL);
        ck_assert_int_eq(kubeconfig_base64_decode("a-_b", 4, &p, &n), -EINVAL); /* URL alphabet */
}
END_TEST

/* kubeconfig_load: relative paths resolve against the file's directory; missing file → -ENOENT. */
START_TEST(test_load) {
        char dir[] = "/tmp/cnibox-kc-XXXXXX", path[128], err[512];
        struct kubeconfig k = {};
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/kc", dir);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: x\n    user: u\n"
              "clusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\n"
              "    certificate-authority: ca.crt\n"
              "users:\n- name: u\n  user:\n    tokenFile: ../tok\n",
              f);
        fclose(f);
        ck_assert_int_eq(kubeconfig_load(path, &k, err, sizeof err), 0);
        char want[160];
        snprintf(want, sizeof want, "%s/ca.crt", dir);
        ck_assert_str_eq(k.ca_file, want);
        snprintf(want, sizeof want, "%s/../tok", dir);
        ck_assert_str_eq(k.token_file, want);
        kubeconfig_done(&k);
        unlink(path);
        ck_assert_int_eq(kubeconfig_load(path, &k, err, sizeof err), -ENOENT);
        ck_assert_msg(strstr(err, path), "%s", err);
        ck_assert_int_eq(kubeconfig_load(dir, &k, err, sizeof err), -EINVAL); /* a directory */
        rmdir(dir);
}
END_TEST

/* The exact files tests/apiserver/gen-kubeconfig.sh writes (the install-cni layout), incl. "{}". */
START_TEST(test_gen_kubeconfig_empty_user) {
        static const char y[] =
                "apiVersion: v1\nclusters:\n- cluster:\n    insecure-skip-tls-verify: true\n"
                "    server: https://127.0.0.1:6443\n  name: local\ncontexts:\n- context:\n    cluster: local\n"
                "    user: istio-cni\n  name: istio-cni-context\ncurrent-context: istio-cni-context\nkind: Config\n"
                "users:\n- name: istio-cni\n  user:\n    {}\n";
        struct kubeconfig k = {};
        char err[256];
        ck_assert_int_eq(kubeconfig_parse(y, strlen(y), NULL, &k, err, sizeof err), 0);
        ck_assert(k.insecure_skip_tls_verify);
        ck_assert_ptr_null(k.token);
        kubeconfig_done(&k);
}
END_TEST


/* Fidelity: a kubeconfig written by the real kubectl parses (skipped when kubectl is absent). */
static int kubectl_out(const char *kc, const char *out, char *const args[]) {
        pid_t p = fork();
        if (p == 0) {
                char *argv[16] = { "kubectl", "config" };
                int n = 2;
                for (; args[n - 2] && n < 15; n++)
                        argv[n] = args[n - 2];
                argv[n] = NULL;
                setenv("KUBECONFIG", kc, 1);
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                int fo = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : fd;
                dup2(fo, 1);
                dup2(fd, 2);
                execvp("kubectl", argv);
                _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int kubectl(const char *kc, char *const args[]) {
        return kubectl_out(kc, NULL, args);
}

START_TEST(test_kubectl_written) {
        char dir[] = "/tmp/cnibox-kc-XXXXXX", kc[128], err[512];
        struct kubeconfig k = {};
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(kc, sizeof kc, "%s/config", dir);
        int r = kubectl(kc, (char *[]){ "set-cluster", "local", "--server=https://127.0.0.1:6443",
                                        "--tls-server-name=kubernetes", NULL });
        if (r == 127) {
                rmdir(dir);
                return; /* no kubectl */
        }
        ck_assert_int_eq(r, 0);
        /* kubectl stores a path under the kubeconfig's directory relative to it ("certs/c.pem"),
         * which we must resolve back against that directory, not the cwd. */
        char certopt[200], keyopt[200];
        snprintf(certopt, sizeof certopt, "--client-certificate=%s/certs/c.pem", dir);
        snprintf(keyopt, sizeof keyopt, "--client-key=%s/certs/k.pem", dir);
        ck_assert_int_eq(kubectl(kc, (char *[]){ "set-credentials", "u", "--token=s3cr3t", certopt, keyopt,
                                                 NULL }), 0);
        ck_assert_int_eq(kubectl(kc, (char *[]){ "set-context", "c", "--cluster=local", "--user=u",
                                                 "--namespace=x", NULL }), 0);
        ck_assert_int_eq(kubectl(kc, (char *[]){ "use-context", "c", NULL }), 0);
        ck_assert_int_eq(kubectl(kc, (char *[]){ "set-cluster", "other", "--server=https://[::1]:1",
                                                 "--insecure-skip-tls-verify=true", NULL }), 0);
        r = kubeconfig_load(kc, &k, err, sizeof err);
        ck_assert_msg(r == 0, "%s", err);
        ck_assert_str_eq(k.server, "https://127.0.0.1:6443");
        ck_assert_str_eq(k.tls_server_name, "kubernetes");
        ck_assert_str_eq(k.token, "s3cr3t");
        char want[160];
        snprintf(want, sizeof want, "%s/certs/c.pem", dir);
        ck_assert_str_eq(k.client_cert_file, want);
        kubeconfig_done(&k);

        /* `kubectl config view --raw` of it, in YAML and in JSON, loads the same. */
        char view[160];
        snprintf(view, sizeof view, "%s/view", dir);
        static const char *const outs[] = { "yaml", "json" };
        for (size_t i = 0; i < ELEMENTSOF(outs); i++) {
                char fmt[16];
                snprintf(fmt, sizeof fmt, "-o=%s", outs[i]);
                ck_assert_int_eq(kubectl_out(kc, view, (char *[]){ "view", "--raw", fmt, NULL }), 0);
                r = kubeconfig_load(view, &k, err, sizeof err);
                ck_assert_msg(r == 0, "%s: %s", outs[i], err);
                ck_assert_str_eq(k.token, "s3cr3t");
                ck_assert_str_eq(k.tls_server_name, "kubernetes");
                kubeconfig_done(&k);
        }
        unlink(view);

        /* An exec plugin as kubectl writes it (the shape of `aws eks update-kubeconfig`'s). */
        ck_assert_int_eq(kubectl(kc, (char *[]){ "set-credentials", "eks", "--exec-command=aws", "--exec-arg=eks",
                                                 "--exec-arg=get-token",
                                                 "--exec-api-version=client.authentication.k8s.io/v1beta1",
                                                 "--exec-env=AWS_PROFILE=prod", NULL }), 0);
        ck_assert_int_eq(kubectl(kc, (char *[]){ "set-context", "c", "--user=eks", NULL }), 0);
        r = kubeconfig_load(kc, &k, err, sizeof err);
        ck_assert_msg(r == -EOPNOTSUPP && strstr(err, "user 'eks': 'exec' is not supported"), "%d %s", r, err);
        unlink(kc);
        rmdir(dir);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("kubeconfig");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_istio_layout);
        tcase_add_test(tc, test_kubectl_style);
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_real_world);
        tcase_add_loop_test(tc, test_yaml, 0, ELEMENTSOF(yaml_cases));
        tcase_add_test(tc, test_billion_laughs);
        tcase_add_test(tc, test_yaml_generic);
        tcase_add_loop_test(tc, test_block_scalar, 0, ELEMENTSOF(block_cases));
        tcase_add_loop_test(tc, test_bad, 0, ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_base64);
        tcase_add_test(tc, test_load);
        tcase_add_test(tc, test_gen_kubeconfig_empty_user);
        tcase_add_test(tc, test_kubectl_written);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
