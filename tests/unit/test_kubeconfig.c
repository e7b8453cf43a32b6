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
                "    name: x\r\n";
        struct kubeconfig k = {};
        char err[256];
        /* flow maps with content are outside the subset */
        ck_assert_int_eq(kubeconfig_parse(y, strlen(y), NULL, &k, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "line 16") && strstr(err, "flow"), "%s", err);

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
        { "tab indent", "current-context: a\n\tcontexts: []\n", -EINVAL, "line 2: tabs are not allowed" },
        { "tab after colon", "current-context:\ta\n", -EINVAL, "line 1: tab" },
        { "anchor", "current-context: &a x\n", -EINVAL, "line 1: anchors" },
        { "alias", "a: b\ncurrent-context: *a\n", -EINVAL, "line 2: anchors" },
        { "tag", "current-context: !!str x\n", -EINVAL, "line 1: tags" },
        { "flow map", "current-context: x\nusers: {a: 1}\n", -EINVAL, "line 2: flow" },
        { "flow seq", "current-context: x\nusers: [a]\n", -EINVAL, "line 2: flow" },
        { "folded scalar", "current-context: >\n  x\n", -EINVAL, "line 1: folded block scalars" },
        { "folded keep", "a: 1\ncurrent-context: >+\n  x\n", -EINVAL, "line 2: folded block scalars" },
        { "block scalar key", "|\n  x\n", -EINVAL, "line 1: block scalars are only supported as a mapping value" },
        { "block scalar item", "a:\n- |\n  x\n", -EINVAL, "line 2: block scalars are only supported" },
        { "bad block header", "current-context: |x\n  x\n", -EINVAL, "line 1: bad block scalar header" },
        { "block header junk", "current-context: |- x\n  x\n", -EINVAL, "line 1: unexpected characters" },
        { "block bad indent", "a:\n  b: |\n     x\n    c: 1\n", -EINVAL, "line 4: bad indentation" },
        { "after doc end", "a: 1\n...\nb: 2\n", -EINVAL, "line 3: content after the document end marker (line 2)" },
        { "doc end junk", "a: 1\n... x\n", -EINVAL, "line 2: content after '...'" },
        { "multi-line plain", "current-context: x\n  y\n", -EINVAL, "line 2: bad indentation" },
        { "bad indent", "a:\n    b: 1\n  c: 2\n", -EINVAL, "line 3: bad indentation" },
        { "duplicate key", "current-context: a\ncurrent-context: b\n", -EINVAL, "line 2: duplicate key" },
        { "two docs", "a: 1\n---\nb: 2\n", -EINVAL, "line 2: multiple documents" },
        { "unterminated quote", "current-context: \"abc\n", -EINVAL, "line 1: unterminated" },
        { "bad escape", "current-context: \"a\\qb\"\n", -EINVAL, "line 1: unsupported escape" },
        { "colon in plain", "current-context: a: b\n", -EINVAL, "line 1: unexpected ': '" },
        { "trailing junk", "current-context: 'a' b\n", -EINVAL, "line 1: unexpected characters" },
        { "no colon", "current-context\n", -EINVAL, "not a mapping" },
        { "no colon in map", "a: b\ncurrent-context\n", -EINVAL, "line 2: expected" },
        { "scalar doc", "hello\n", -EINVAL, "not a mapping" },
        { "seq doc", "- a\n- b\n", -EINVAL, "not a mapping" },
        { "bad json", "{\"current-context\": \n\"x\",,}", -EINVAL, "line 2: invalid JSON" },
        { "json trailing", "{\"a\":1} x", -EINVAL, "trailing data" },
        { "contexts not list", "current-context: a\ncontexts: x\n", -EINVAL, "not a list" },
        { "directive", "%YAML 1.2\n---\na: b\n", -EINVAL, "line 1: directives" },
        { "nul", "current-context: a\0\n", -EINVAL, "NUL" },
};

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
        { "t: |\n  x", "x\n" },
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
static int kubectl(const char *kc, char *const args[]) {
        pid_t p = fork();
        if (p == 0) {
                char *argv[16] = { "kubectl", "config" };
                int n = 2;
                for (; args[n - 2] && n < 15; n++)
                        argv[n] = args[n - 2];
                argv[n] = NULL;
                setenv("KUBECONFIG", kc, 1);
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(fd, 1);
                dup2(fd, 2);
                execvp("kubectl", argv);
                _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
