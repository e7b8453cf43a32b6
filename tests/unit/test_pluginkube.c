/* SPDX-License-Identifier: Apache-2.0 */
/* test_pluginkube.c: the plugin's kubeconfig (lib/agent/pluginkube.c; spec istio-cni.md §4.4).
 * Istio's goldens are read from $SRCDIR/../shared/conformance/install (or $INSTALL_CONFORMANCE_DIR). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pluginkube.h"
#include "base/fileio.h"
#include "base/macro.h"
#include "kube/kubeconfig.h"

static char *conformance_read(const char *rel, size_t *len) {
        const char *env = getenv("INSTALL_CONFORMANCE_DIR"), *src = getenv("SRCDIR");
        _cleanup_free_ char *p = NULL;
        char *buf = NULL;
        int r;

        if (env && *env)
                ck_assert_int_ge(asprintf(&p, "%s/%s", env, rel), 0);
        else
                ck_assert_int_ge(asprintf(&p, "%s/../shared/conformance/install/%s", src ? src : ".", rel), 0);
        r = fileio_read_file(p, 1 << 20, &buf, len);
        if (r == -ENOENT) {
                fprintf(stderr, "SKIP: %s not found: Istio's install-cni conformance data is absent "
                                "(set INSTALL_CONFORMANCE_DIR or put shared/ beside the repo)\n", p);
                return NULL;
        }
        ck_assert_msg(r == 0, "reading %s: %s", p, strerror(-r));
        return buf;
}

static const char token[] = "service_account_token_string";

START_TEST(test_golden_tls) {
        _cleanup_free_ char *ca = NULL, *want = NULL, *got = NULL, *server = NULL;
        size_t ca_len, wlen;

        ca = conformance_read("kubeconfig/kube-ca.crt", &ca_len);
        want = conformance_read("kubeconfig/kubeconfig-tls", &wlen);
        if (!ca || !want)
                return;
        ck_assert_int_eq(pluginkube_server_url(NULL, "10.96.0.1", "443", &server), 0);
        struct pluginkube_input in = { .server = server, .ca = ca, .ca_len = ca_len, .token = token, .token_len = strlen(token) };
        ck_assert_int_eq(pluginkube_render(&in, &got), 0);
        ck_assert_msg(strlen(got) == wlen && memcmp(got, want, wlen) == 0, "got\n%s\nwant\n%s", got, want);
}
END_TEST

START_TEST(test_golden_skip_tls) {
        _cleanup_free_ char *ca = NULL, *want = NULL, *got = NULL, *server = NULL;
        size_t ca_len, wlen;

        ca = conformance_read("kubeconfig/kube-ca.crt", &ca_len);
        want = conformance_read("kubeconfig/kubeconfig-skip-tls", &wlen);
        if (!ca || !want)
                return;
        ck_assert_int_eq(pluginkube_server_url("", "10.96.0.1", "443", &server), 0);
        /* A CA given along with skip-TLS is left out, as Istio does. */
        struct pluginkube_input in = { .server = server, .ca = ca, .ca_len = ca_len, .skip_tls_verify = true,
                                       .token = token, .token_len = strlen(token) };
        ck_assert_int_eq(pluginkube_render(&in, &got), 0);
        ck_assert_msg(strlen(got) == wlen && memcmp(got, want, wlen) == 0, "got\n%s\nwant\n%s", got, want);
}
END_TEST

/* Our own kubeconfig reader (the plugin's) reads back what we write. */
START_TEST(test_roundtrip) {
        static const char ca[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        static const char jwt[] = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2ln-_x";
        _cleanup_free_ char *server = NULL, *y = NULL, *red = NULL;
        struct kubeconfig k = {};
        char err[256];

        ck_assert_int_eq(pluginkube_server_url("https", "fd00:10:96::1", "443", &server), 0);
        struct pluginkube_input in = { .server = server, .ca = ca, .ca_len = strlen(ca), .token = jwt, .token_len = strlen(jwt) };
        ck_assert_int_eq(pluginkube_render(&in, &y), 0);
        ck_assert_msg(kubeconfig_parse(y, strlen(y), "/x", &k, err, sizeof err) == 0, "%s\n%s", err, y);
        ck_assert_str_eq(k.server, "https://[fd00:10:96::1]:443");
        ck_assert_str_eq(k.token, jwt);
        ck_assert_uint_eq(k.ca_data_len, strlen(ca));
        ck_assert(memcmp(k.ca_data, ca, strlen(ca)) == 0);
        ck_assert_str_eq(k.context, "istio-cni-context");
        kubeconfig_done(&k);

        ck_assert_int_eq(pluginkube_render_redacted(&in, &red), 0);
        ck_assert_ptr_null(strstr(red, jwt));
        ck_assert_ptr_null(strstr(red, "LS0t"));
        ck_assert_ptr_nonnull(strstr(red, "    token: REDACTED\n"));
        ck_assert_ptr_nonnull(strstr(red, "    certificate-authority-data: REDACTED\n"));
        ck_assert_ptr_nonnull(strstr(red, "    server: https://[fd00:10:96::1]:443\n"));
}
END_TEST

START_TEST(test_empty_token) {
        _cleanup_free_ char *y = NULL;
        struct pluginkube_input in = { .server = "https://h:1" };

        /* clientcmd's omitempty: no token and no CA, an empty user map. */
        ck_assert_int_eq(pluginkube_render(&in, &y), 0);
        ck_assert_str_eq(y, "apiVersion: v1\nclusters:\n- cluster:\n    server: https://h:1\n  name: local\n"
                            "contexts:\n- context:\n    cluster: local\n    user: istio-cni\n  name: istio-cni-context\n"
                            "current-context: istio-cni-context\nkind: Config\nusers:\n- name: istio-cni\n  user: {}\n");
        in.token_len = 3;
        ck_assert_int_eq(pluginkube_render(&in, &y), -EINVAL);
}
END_TEST

static const struct { const char *proto, *host, *port, *want; } url_cases[] = {
        { NULL, "10.96.0.1", "443", "https://10.96.0.1:443" },
        { "", "kubernetes.default.svc", "6443", "https://kubernetes.default.svc:6443" },
        { "http", "127.0.0.1", "8080", "http://127.0.0.1:8080" },
        { NULL, "fd00::1", "443", "https://[fd00::1]:443" },
        { NULL, "fe80::1%eth0", "443", "https://[fe80::1%eth0]:443" },
        { NULL, "[fd00::1]", "443", "https://[fd00::1]:443" },
        { NULL, "", "443", NULL },
        { NULL, "10.96.0.1", "", NULL },
        { NULL, NULL, "443", NULL },
        { NULL, "10.96.0.1 ", "443", NULL },
        { NULL, "a/b", "443", NULL },
        { NULL, "a@b", "443", NULL },
        { NULL, "h", "44\n3", NULL },
        { "ht:tp", "h", "443", NULL },
};

START_TEST(test_server_url) {
        char *url = NULL;
        int r = pluginkube_server_url(url_cases[_i].proto, url_cases[_i].host, url_cases[_i].port, &url);

        if (!url_cases[_i].want) {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_ptr_null(url);
                return;
        }
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(url, url_cases[_i].want);
        free(url);
}
END_TEST

/* go-yaml v2 scalar styles for a value under a key at column 4 ("    token: "). */
static const struct { const char *in; size_t len; const char *want; } scalar_cases[] = {
#define S(x) x, sizeof(x) - 1
        { S("service_account_token_string"), "service_account_token_string\n" },
        { S("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.a-_b"), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.a-_b\n" },
        { S("https://[fd00::1]:443"), "https://[fd00::1]:443\n" },
        { S("it's"), "it's\n" },
        { S(":x"), ":x\n" },
        { S("-a"), "-a\n" },
        { S("a:b"), "a:b\n" },
        { S("a#b"), "a#b\n" },
        { S("YeS"), "YeS\n" },
        { S("0x"), "0x\n" },
        { S("1.2.3"), "1.2.3\n" },
        { S("1e400"), "1e400\n" },
        { S("\xc2\xa0x"), "\xc2\xa0x\n" },
        { S("h\xc3\xa9"), "h\xc3\xa9\n" },
        /* would read back as something else: double-quoted */
        { S(""), "\"\"\n" },
        { S("true"), "\"true\"\n" },
        { S("yes"), "\"yes\"\n" },
        { S("Off"), "\"Off\"\n" },
        { S("y"), "\"y\"\n" },
        { S("~"), "\"~\"\n" },
        { S("null"), "\"null\"\n" },
        { S("123"), "\"123\"\n" },
        { S("-12"), "\"-12\"\n" },
        { S("+1"), "\"+1\"\n" },
        { S("1_000"), "\"1_000\"\n" },
        { S("0x1F"), "\"0x1F\"\n" },
        { S("0o17"), "\"0o17\"\n" },
        { S("-0b101"), "\"-0b101\"\n" },
        { S("09"), "\"09\"\n" },
        { S("1.5"), "\"1.5\"\n" },
        { S(".5"), "\".5\"\n" },
        { S(".5_5"), "\".5_5\"\n" },
        { S("._5"), "._5\n" },
        { S(".5e999"), ".5e999\n" },
        { S(".x"), ".x\n" },
        { S("1e3"), "\"1e3\"\n" },
        { S(".inf"), "\".inf\"\n" },
        /* "<<" is in the map but its first byte has no hint in v2's resolve table: plain */
        { S("<<"), "<<\n" },
        { S("2001-12-14"), "\"2001-12-14\"\n" },
        { S("2001-12-14t21:59:43.10-05:00"), "\"2001-12-14t21:59:43.10-05:00\"\n" },
        { S("1:20"), "\"1:20\"\n" },
        { S("99999999999999999999999"), "\"99999999999999999999999\"\n" },
        /* indicators, leading/trailing spaces: single-quoted */
        { S("- a"), "'- a'\n" },
        { S("-"), "'-'\n" },
        { S("a: b"), "'a: b'\n" },
        { S("a #b"), "'a #b'\n" },
        { S("#x"), "'#x'\n" },
        { S("'x"), "'''x'\n" },
        { S("@x"), "'@x'\n" },
        { S("%x"), "'%x'\n" },
        { S("*x"), "'*x'\n" },
        { S("---x"), "'---x'\n" },
        { S(" lead"), "' lead'\n" },
        { S("trail "), "'trail '\n" },
        { S("2001-13-14"), "2001-13-14\n" },
        /* non-printable: double-quoted with escapes */
        { S("tab\there"), "\"tab\\there\"\n" },
        { S("nul\0x"), "\"nul\\0x\"\n" },
        { S("a\x7f"), "\"a\\x7F\"\n" },
        { S("a\rb"), "\"a\\rb\"\n" },
        { S("\xf0\x9f\x98\x80"), "\"\\U0001F600\"\n" },
        { S("\xef\xbb\xbfx"), "\"\\uFEFFx\"\n" },
        { S("a \nb"), "\"a \\nb\"\n" },
        { S("trail \n"), "\"trail \\n\"\n" },
        { S("q\"\\\x01"), "\"q\\\"\\\\\\x01\"\n" },
        /* invalid UTF-8 went through JSON: U+FFFD, printable */
        { S("\xff" "abc"), "\xef\xbf\xbd" "abc\n" },
        /* a newline: literal block, content at the key's column + 2 */
        { S("a\nb"), "|-\n      a\n      b\n" },
        { S("abc\n"), "|\n      abc\n" },
#undef S
};

START_TEST(test_scalar) {
        _cleanup_free_ char *out = NULL;

        ck_assert_int_eq(pluginkube_yaml_scalar(scalar_cases[_i].in, scalar_cases[_i].len, 4, 11, &out), 0);
        ck_assert_msg(streq(out, scalar_cases[_i].want), "case %d: got [%s] want [%s]", _i, out, scalar_cases[_i].want);
}
END_TEST

/* A token that needs quoting is quoted in the whole document, and the document still parses. */
START_TEST(test_quoted_token) {
        _cleanup_free_ char *y = NULL;
        struct kubeconfig k = {};
        char err[256];
        struct pluginkube_input in = { .server = "https://h:1", .token = "true", .token_len = 4 };

        ck_assert_int_eq(pluginkube_render(&in, &y), 0);
        ck_assert_ptr_nonnull(strstr(y, "\n    token: \"true\"\n"));
        ck_assert_msg(kubeconfig_parse(y, strlen(y), "/x", &k, err, sizeof err) == 0, "%s", err);
        ck_assert_str_eq(k.token, "true");
        kubeconfig_done(&k);
}
END_TEST

/* A token file ending in newlines: a literal block, and with '+' chomping go-yaml ends the stream
 * with "..." (emitterc.go: block_scalar_hints sets open_ended, STREAM-END writes the marker). */
START_TEST(test_literal_token) {
        _cleanup_free_ char *y = NULL, *y2 = NULL;
        struct pluginkube_input in = { .server = "https://h:1", .token = "abc\n", .token_len = 4 };

        ck_assert_int_eq(pluginkube_render(&in, &y), 0);
        ck_assert_msg(strstr(y, "  user:\n    token: |\n      abc\n") && y[strlen(y) - 2] == 'c', "%s", y);
        in.token = "abc\n\n";
        in.token_len = 5;
        ck_assert_int_eq(pluginkube_render(&in, &y2), 0);
        ck_assert_msg(strstr(y2, "  user:\n    token: |+\n      abc\n\n...\n") != NULL, "%s", y2);
}
END_TEST

/* Every token install-cni can write reads back as the same bytes through the plugin's parser
 * (kubeconfig_parse): literal blocks with clip, strip and keep chomping, and the "..." go-yaml
 * ends a '+' stream with. */
static const char *const roundtrip_tokens[] = {
        "abc\n", "abc\n\n", "abc\n\n\n", "a\nb", "a\nb\n", "a\n\nb\n\n", "\nabc", "\n\nabc\n",
        " lead\n", "tail  \n", "a\n#not-a-comment\n", "x\n...\n", "a: b\n- c\n",
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrIn0.c2ln-_x\n",
};

START_TEST(test_token_roundtrip) {
        const char *tok = roundtrip_tokens[_i];
        _cleanup_free_ char *y = NULL;
        struct kubeconfig k = {};
        char err[256];
        struct pluginkube_input in = { .server = "https://h:1", .token = tok, .token_len = strlen(tok) };

        ck_assert_int_eq(pluginkube_render(&in, &y), 0);
        ck_assert_msg(kubeconfig_parse(y, strlen(y), "/x", &k, err, sizeof err) == 0, "case %d: %s\n%s", _i, err, y);
        ck_assert_msg(k.token && streq(k.token, tok), "case %d: got [%s] want [%s]\n%s", _i, k.token, tok, y);
        kubeconfig_done(&k);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("pluginkube");
        TCase *tc = tcase_create("pluginkube");
        tcase_add_test(tc, test_golden_tls);
        tcase_add_test(tc, test_golden_skip_tls);
        tcase_add_test(tc, test_roundtrip);
        tcase_add_test(tc, test_empty_token);
        tcase_add_loop_test(tc, test_server_url, 0, ELEMENTSOF(url_cases));
        tcase_add_loop_test(tc, test_scalar, 0, ELEMENTSOF(scalar_cases));
        tcase_add_test(tc, test_quoted_token);
        tcase_add_test(tc, test_literal_token);
        tcase_add_loop_test(tc, test_token_roundtrip, 0, ELEMENTSOF(roundtrip_tokens));
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
