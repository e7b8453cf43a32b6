/* SPDX-License-Identifier: Apache-2.0 */
/* test_toml.c: the TOML subset of lib/agent/toml.c (the keys doctor reads from containerd and
 * CRI-O configs) and lib/agent/runtimecfg.c's key paths per containerd config version. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/runtimecfg.h"
#include "base/macro.h"
#include "agent/toml.h"

#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })

static struct toml_doc *parse_ok(const char *text) {
        struct toml_doc *d = NULL;
        char err[256] = "";
        int r = toml_parse(text, strlen(text), &d, err, sizeof err);
        ck_assert_msg(r == 0, "parse failed: %d %s", r, err);
        return d;
}

START_TEST(test_tables_and_keys) {
        struct toml_doc *d = parse_ok(
                "# comment\n"
                "version = 2\r\n"
                "root = \"/var/lib/containerd\"  # trailing\n"
                "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
                "  bin_dir = '/opt/cni/bin'\n"
                "  conf_dir = \"/etc/cni/\\u006eet.d\"\n"
                "  max_conf_num = 1\n"
                "[plugins . 'x.y' ]\n"
                "a.b.\"c d\" = [ \"one\", 'two',\n  # inside\n  \"three\", ]\n"
                "mixed = [1, \"a\"]\n"
                "empty = []\n"
                "on = true\n"
                "when = 1979-05-27 07:32:00Z\n"
                "tbl = { x = 1, y = [\"z\"] }\n"
                "ml = \"\"\"\nline\n\"\"\"\n"
                "[[arr]]\nname = \"ignored\"\n"
                "[after]\nk = \"v\"\n");
        const char *s;
        char *const *v;
        int64_t i;

        ck_assert_int_eq(toml_get_int(d, P("version"), &i), 0);
        ck_assert_int_eq(i, 2);
        ck_assert_int_eq(toml_get_string(d, P("root"), &s), 0);
        ck_assert_str_eq(s, "/var/lib/containerd");
        ck_assert_int_eq(toml_get_string(d, P("plugins", "io.containerd.grpc.v1.cri", "cni", "bin_dir"), &s), 0);
        ck_assert_str_eq(s, "/opt/cni/bin");
        ck_assert_int_eq(toml_get_string(d, P("plugins", "io.containerd.grpc.v1.cri", "cni", "conf_dir"), &s), 0);
        ck_assert_str_eq(s, "/etc/cni/net.d");
        ck_assert_int_eq(toml_get_strv(d, P("plugins", "x.y", "a", "b", "c d"), &v), 0);
        ck_assert_str_eq(v[0], "one");
        ck_assert_str_eq(v[1], "two");
        ck_assert_str_eq(v[2], "three");
        ck_assert_ptr_null(v[3]);
        ck_assert_int_eq(toml_get_strv(d, P("plugins", "x.y", "mixed"), &v), -EMEDIUMTYPE);
        ck_assert_int_eq(toml_get_strv(d, P("plugins", "x.y", "empty"), &v), 0);
        ck_assert_ptr_null(v[0]);
        ck_assert_int_eq(toml_get_string(d, P("plugins", "x.y", "on"), &s), -EMEDIUMTYPE);
        ck_assert_int_eq(toml_get_string(d, P("plugins", "x.y", "when"), &s), -EMEDIUMTYPE);
        ck_assert_int_eq(toml_get_string(d, P("plugins", "x.y", "tbl"), &s), -EMEDIUMTYPE);
        ck_assert_int_eq(toml_get_string(d, P("plugins", "x.y", "ml"), &s), -EMEDIUMTYPE);
        ck_assert_int_eq(toml_get_string(d, P("arr", "name"), &s), -ENOENT);
        ck_assert_int_eq(toml_get_string(d, P("after", "k"), &s), 0);
        ck_assert_str_eq(s, "v");
        ck_assert_int_eq(toml_get_string(d, P("plugins", "nope"), &s), -ENOENT);
        toml_free(d);
}
END_TEST

static const struct {
        const char *text, *err;
} bad[] = {
        { "a = \"x\nb = 1\n", "line 1: unterminated string" },
        { "a = 1\na = 2\n", "line 2: key \"a\" defined twice" },
        { "[t\n", "line 1: expected ']' after a table name" },
        { "a\n", "line 1: expected '=' after a key" },
        { "a = [\"x\"\n", "line 1: unterminated array" },
        { "a = \"\\q\"\n", "line 1: bad escape '\\q'" },
        { "a = 1 2\n", "line 1: unexpected '2' after the value" },
        { "a = \n", "line 1: expected a value" },
        { "a = \"\\ud800\"\n", "line 1: escape \\u names no Unicode scalar value" },
        { "\n\n= 1\n", "line 3: unexpected '=' in a key" },
        { "a = \"x\x01\"\n", "line 1: control character 0x01 in a string" },
        { "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", "deeper than" },
};

START_TEST(test_bad) {
        struct toml_doc *d = NULL;
        char err[256] = "";
        int r = toml_parse(bad[_i].text, strlen(bad[_i].text), &d, err, sizeof err);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_msg(strstr(err, bad[_i].err), "case %d: got \"%s\", want \"%s\"", _i, err, bad[_i].err);
        ck_assert_ptr_null(d);
}
END_TEST

static void rt_init(struct runtimecfg *rt) {
        *rt = (struct runtimecfg){ .conf_dir = strdup("/etc/cni/net.d"), .bin_dirs = calloc(2, sizeof(char *)) };
        rt->bin_dirs[0] = strdup("/opt/cni/bin");
}

static void rt_done(struct runtimecfg *rt) {
        free(rt->conf_dir);
        for (size_t i = 0; rt->bin_dirs[i]; i++)
                free(rt->bin_dirs[i]);
        free(rt->bin_dirs);
        free(rt->netns_dir);
}

static const struct {
        const char *text, *conf, *bin;
} containerd[] = {
        /* version 2: the grpc.v1.cri table */
        { "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\nbin_dir = \"/b/\"\nconf_dir = \"/c\"\n", "/c", "/b" },
        /* version 2 ignores the version 3 table */
        { "version = 2\n[plugins.\"io.containerd.cri.v1.runtime\".cni]\nconf_dir = \"/c\"\n", "/etc/cni/net.d", "/opt/cni/bin" },
        /* version 3: cri.v1.runtime, bin_dirs wins over bin_dir */
        { "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\nbin_dir = \"/old\"\nbin_dirs = [\"/x\", \"/y\"]\n"
          "conf_dir = \"/c3\"\n", "/c3", "/x" },
        /* version 1 (no version key): plugins.cri.cni */
        { "[plugins.cri.cni]\nbin_dir = \"/v1\"\n", "/etc/cni/net.d", "/v1" },
        /* dotted keys at the root */
        { "version = 2\nplugins.\"io.containerd.grpc.v1.cri\".cni.conf_dir = \"/dotted\"\n", "/dotted", "/opt/cni/bin" },
};

START_TEST(test_containerd) {
        struct runtimecfg rt;
        char err[256] = "";
        rt_init(&rt);
        ck_assert_int_eq(runtimecfg_containerd_apply(containerd[_i].text, strlen(containerd[_i].text), &rt, err, sizeof err), 0);
        ck_assert_str_eq(rt.conf_dir, containerd[_i].conf);
        ck_assert_str_eq(rt.bin_dirs[0], containerd[_i].bin);
        rt_done(&rt);
}
END_TEST

START_TEST(test_crio) {
        struct runtimecfg rt;
        char err[256] = "";
        const char *t = "[crio.runtime]\nnamespaces_dir = \"/run\"\n[crio.network]\nnetwork_dir = \"/etc/cni/net.d/\"\n"
                        "plugin_dirs = [\"/usr/libexec/cni/\", \"/opt/cni/bin/\"]\n";
        rt_init(&rt);
        ck_assert_int_eq(runtimecfg_crio_apply(t, strlen(t), &rt, err, sizeof err), 0);
        ck_assert_str_eq(rt.conf_dir, "/etc/cni/net.d");
        ck_assert_str_eq(rt.bin_dirs[0], "/usr/libexec/cni");
        ck_assert_str_eq(rt.bin_dirs[1], "/opt/cni/bin");
        ck_assert_str_eq(rt.netns_dir, "/run/netns");
        rt_done(&rt);
}
END_TEST

int main(void) {
        Suite *s = suite_create("toml");
        TCase *tc = tcase_create("toml");
        tcase_add_test(tc, test_tables_and_keys);
        tcase_add_loop_test(tc, test_bad, 0, ELEMENTSOF(bad));
        tcase_add_loop_test(tc, test_containerd, 0, ELEMENTSOF(containerd));
        tcase_add_test(tc, test_crio);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
