/* SPDX-License-Identifier: Apache-2.0 */
/* test_cniconf.c: CNI config discovery, entry, merge, removal and check (lib/agent/cniconf.c) and
 * the Go-compatible JSON underneath (lib/agent/gojson.c); spec istio-cni.md §4.5-§4.8, §4.11, §4.12.
 * The merge goldens are Istio's, read from $SRCDIR/../shared/conformance/install (or
 * $INSTALL_CONFORMANCE_DIR) at test time. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cniconf.h"
#include "agent/gojson.h"
#include "base/fileio.h"
#include "base/macro.h"

/* ---- helpers ---- */

static char *conformance_path(const char *rel) {
        const char *env = getenv("INSTALL_CONFORMANCE_DIR"), *src = getenv("SRCDIR");
        char *p = NULL;

        if (env && *env)
                ck_assert_int_ge(asprintf(&p, "%s/%s", env, rel), 0);
        else
                ck_assert_int_ge(asprintf(&p, "%s/../shared/conformance/install/%s", src ? src : ".", rel), 0);
        return p;
}

/* Reads a conformance file; NULL (and a SKIP line once) when the data set is absent. */
static char *conformance_read(const char *rel, size_t *len) {
        _cleanup_free_ char *p = conformance_path(rel);
        char *buf = NULL;
        int r = fileio_read_file(p, 1 << 20, &buf, len);

        if (r == -ENOENT) {
                fprintf(stderr, "SKIP: %s not found: Istio's install-cni conformance data is absent "
                                "(set INSTALL_CONFORMANCE_DIR or put shared/ beside the repo)\n", p);
                return NULL;
        }
        ck_assert_msg(r == 0, "reading %s: %s", p, strerror(-r));
        return buf;
}

static const struct cniconf_entry readme_entry = {
        .plugin_log_level = "debug",
        .cni_agent_run_dir = "/path/to/kubeconfig",
        .pod_namespace = "my-namespace",
};

/* ---- goldens ---- */

static const char *const merge_cases[] = { "list.conflist", "list-with-istio.conflist", "bridge.conf" };

START_TEST(test_merge_golden) {
        _cleanup_free_ char *entry = NULL, *in = NULL, *want = NULL, *got = NULL, *golden = NULL, *rendered = NULL,
                            *got2 = NULL;
        size_t elen, ilen, wlen;
        char err[256] = "";

        entry = conformance_read("merge/istio-cni.conf", &elen);
        if (!entry)
                return;
        ck_assert_int_ge(asprintf(&golden, "merge/%s", merge_cases[_i]), 0);
        in = conformance_read(golden, &ilen);
        free(golden);
        ck_assert_int_ge(asprintf(&golden, "merge/%s.golden", merge_cases[_i]), 0);
        want = conformance_read(golden, &wlen);
        ck_assert_ptr_nonnull(in);
        ck_assert_ptr_nonnull(want);

        ck_assert_msg(cniconf_insert(in, ilen, entry, &got, err, sizeof err) == 0, "%s: %s", merge_cases[_i], err);
        ck_assert_msg(strlen(got) == wlen && memcmp(got, want, wlen) == 0, "%s: got\n%s\nwant\n%s", merge_cases[_i], got, want);

        /* The same from our own rendering of the README's parameters, compact and pretty. */
        ck_assert_int_eq(cniconf_entry_render(&readme_entry, false, &rendered), 0);
        ck_assert_int_eq(cniconf_insert(in, ilen, rendered, &got2, err, sizeof err), 0);
        ck_assert_str_eq(got2, want);
}
END_TEST

START_TEST(test_entry_golden) {
        _cleanup_free_ char *want = NULL, *got = NULL, *compact = NULL, *a = NULL, *b = NULL;
        _cleanup_gojson_ gojson *x = NULL, *y = NULL;
        size_t wlen;

        want = conformance_read("merge/istio-cni.conf", &wlen);
        if (!want)
                return;
        ck_assert_int_eq(cniconf_entry_render(&readme_entry, true, &got), 0);
        /* Byte-wise: the golden is the standalone format (struct order, 2-space, newline). */
        ck_assert_msg(strlen(got) == wlen && memcmp(got, want, wlen) == 0, "got\n%s\nwant\n%s", got, want);

        /* Semantically too, from the compact form. */
        ck_assert_int_eq(cniconf_entry_render(&readme_entry, false, &compact), 0);
        ck_assert_ptr_null(strchr(compact, '\n'));
        ck_assert_int_eq(gojson_parse(compact, strlen(compact), 0, &x, NULL, 0), 0);
        ck_assert_int_eq(gojson_parse(want, wlen, 0, &y, NULL, 0), 0);
        ck_assert_int_eq(gojson_format(x, GOJSON_SORT, &a, NULL), 0);
        ck_assert_int_eq(gojson_format(y, GOJSON_SORT, &b, NULL), 0);
        ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_entry_fields) {
        char *ns[] = { "istio-system", "kube-<system>" };
        struct cniconf_entry e = {
                .plugin_log_level = "info",
                .cni_agent_run_dir = "/var/run/istio-cni",
                .ambient_enabled = true,
                .enablement_selectors_json = "[{\"matchLabels\":{\"istio.io/dataplane-mode\":\"ambient\"}}]",
                .exclude_namespaces = ns,
                .n_exclude_namespaces = 2,
                .pod_namespace = "istio-system",
                .native_nftables = true,
                .enable_ambient_detection_retry = true,
        };
        _cleanup_free_ char *got = NULL, *bad = NULL;

        ck_assert_int_eq(cniconf_entry_render(&e, false, &got), 0);
        ck_assert_str_eq(got,
                         "{\"cniVersion\":\"0.3.1\",\"name\":\"istio-cni\",\"type\":\"istio-cni\",\"ipam\":{},\"dns\":{},"
                         "\"plugin_log_level\":\"info\",\"cni_agent_run_dir\":\"/var/run/istio-cni\",\"ambient_enabled\":true,"
                         "\"enablement_selectors\":[{\"matchLabels\":{\"istio.io/dataplane-mode\":\"ambient\"}}],"
                         "\"exclude_namespaces\":[\"istio-system\",\"kube-\\u003csystem\\u003e\"],"
                         "\"pod_namespace\":\"istio-system\",\"native_nftables\":true,\"enable_ambient_detection_retry\":true}");
        e.enablement_selectors_json = "{\"matchLabels\":{}}";
        ck_assert_int_eq(cniconf_entry_render(&e, false, &bad), -EINVAL);
        e.enablement_selectors_json = "[";
        ck_assert_int_eq(cniconf_entry_render(&e, false, &bad), -EINVAL);
        ck_assert_ptr_null(bad);
}
END_TEST

/* ---- gojson ---- */

static const struct { const char *in, *out; } number_cases[] = {
        { "1500", "1500" },
        { "3.0", "3" },
        { "0.1", "0.1" },
        { "123.456", "123.456" },
        { "-0", "-0" },
        { "0", "0" },
        { "1E2", "100" },
        { "1e20", "100000000000000000000" },
        { "1e21", "1e+21" },
        { "123456789012345678901234", "1.2345678901234569e+23" },
        { "9007199254740993", "9007199254740992" },
        { "0.000001", "0.000001" },
        { "0.0000012", "0.0000012" },
        { "1e-7", "1e-7" },
        { "1.5e-7", "1.5e-7" },
        { "-1.25e-10", "-1.25e-10" },
        { "5e-324", "5e-324" },
        { "1.7976931348623157e308", "1.7976931348623157e+308" },
        { "1e-400", "0" },
        { "[1,2.5,-3e-9]", "[1,2.5,-3e-9]" },
};

START_TEST(test_numbers) {
        _cleanup_gojson_ gojson *v = NULL;
        _cleanup_free_ char *out = NULL;
        char err[128];

        ck_assert_msg(gojson_parse(number_cases[_i].in, strlen(number_cases[_i].in), 0, &v, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(gojson_format(v, 0, &out, NULL), 0);
        ck_assert_str_eq(out, number_cases[_i].out);
}
END_TEST

static const struct { const char *in, *out; } string_cases[] = {
        { "\"<a href=\\\"x\\\">&</a>\"", "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"" },
        { "\"\\u2028\\u2029\"", "\"\\u2028\\u2029\"" },
        /* Go's Unmarshal turns invalid UTF-8 into U+FFFD, which Marshal then writes as is. */
        { "\"\xff\"", "\"\xef\xbf\xbd\"" },
        { "\"a\xc3\"", "\"a\xef\xbf\xbd\"" },
        { "\"\\b\\f\\n\\r\\t\"", "\"\\b\\f\\n\\r\\t\"" },
        { "\"\\u0001\\u001f\\u0000\"", "\"\\u0001\\u001f\\u0000\"" },
        { "\"\x7f\"", "\"\x7f\"" },
        { "\"\\/\"", "\"/\"" },
        { "\"\\ud800x\"", "\"\xef\xbf\xbdx\"" },
        { "\"\\ud800\\u0041\"", "\"\xef\xbf\xbd" "A\"" },
        { "\"\\udc00\"", "\"\xef\xbf\xbd\"" },
        { "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
        { "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\"\xc0\xaf\"", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\"h\xc3\xa9\"", "\"h\xc3\xa9\"" },
        { "{\"b\":1,\"a\":2,\"b\":3,\"B\":4}", "{\"B\":4,\"a\":2,\"b\":3}" },
        { "{\"\\u0000\":1,\"\":2}", "{\"\":2,\"\\u0000\":1}" },
};

START_TEST(test_strings) {
        _cleanup_gojson_ gojson *v = NULL;
        _cleanup_free_ char *out = NULL;
        char err[128];

        ck_assert_msg(gojson_parse(string_cases[_i].in, strlen(string_cases[_i].in), 0, &v, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(gojson_format(v, GOJSON_SORT, &out, NULL), 0);
        ck_assert_str_eq(out, string_cases[_i].out);
}
END_TEST

static const struct { const char *in, *err; } parse_errors[] = {
        { "", "unexpected end" },
        { "   ", "unexpected end" },
        { "{", "unexpected end" },
        { "[1,]", "looking for beginning of value" },
        { "{\"a\":1,}", "object key" },
        { "01", "after top-level value" },
        { "1.", "end of JSON input" },
        { "1.x", "after decimal point" },
        { "-", "end of JSON input" },
        { "+1", "looking for beginning of value" },
        { "1e", "end of JSON input" },
        { "tru", "literal true" },
        { "nul!", "literal null" },
        { "\"a\tb\"", "in string literal" },
        { "\"\\x\"", "escape code" },
        { "\"\\u12\"", "\\u escape" },
        { "{} x", "after top-level value" },
        { "\xef\xbb\xbf{}", "byte 0xef" },
        { "'a'", "'''" },
        { "[1 2]", "after array element" },
        { "{\"a\" 1}", "after object key" },
        { "{1:2}", "object key string" },
        { "NaN", "'N'" },
        { "1e400", "out of range" },
        { "-1e400", "out of range" },
        { "\"abc", "unexpected end" },
};

START_TEST(test_parse_errors) {
        _cleanup_gojson_ gojson *v = NULL;
        char err[256] = "";

        ck_assert_int_eq(gojson_parse(parse_errors[_i].in, strlen(parse_errors[_i].in), 0, &v, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(err, parse_errors[_i].err), "%s: %s", parse_errors[_i].in, err);
        ck_assert_msg(strncmp(err, "offset ", 7) == 0, "%s", err);
}
END_TEST

START_TEST(test_depth) {
        size_t n = 100000;
        _cleanup_free_ char *deep = malloc(2 * n + 1);
        _cleanup_gojson_ gojson *v = NULL;
        char err[256];

        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = '\0';
        ck_assert_int_eq(gojson_parse(deep, 2 * n, 0, &v, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "nested deeper than 1000"), "%s", err);
        /* 1000 levels are fine, and print back the same. */
        _cleanup_free_ char *out = NULL;
        ck_assert_int_eq(gojson_parse(deep + n - 1000, 2000, 0, &v, err, sizeof err), 0);
        ck_assert_uint_eq(gojson_depth(v), 1000);
        ck_assert_int_eq(gojson_format(v, GOJSON_SORT, &out, NULL), 0);
        ck_assert_uint_eq(strlen(out), 2000);

        /* The merge refuses a .conf so deep that the converted list (two levels deeper) would not
         * read back; one level less is fine, and our own check reads the result (fuzz finding). */
        _cleanup_free_ char *conf = NULL, *merged = NULL;
        bool has = false;
        ck_assert_int_ge(asprintf(&conf, "{\"type\":\"x\",\"a\":%.*s%.*s}", 998, deep, 998, deep + n), 0);
        ck_assert_int_eq(cniconf_insert(conf, strlen(conf), "{\"type\":\"istio-cni\"}", &merged, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "nested deeper than 1000"), "%s", err);
        free(conf);
        ck_assert_int_ge(asprintf(&conf, "{\"type\":\"x\",\"a\":%.*s%.*s}", 997, deep, 997, deep + n), 0);
        ck_assert_msg(cniconf_insert(conf, strlen(conf), "{\"type\":\"istio-cni\"}", &merged, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(cniconf_has_istio(merged, strlen(merged), true, &has, err, sizeof err), 0);
        ck_assert_msg(has, "%s", err);
}
END_TEST

/* Strings we build (not parsed) may hold invalid UTF-8: the writer escapes it as \ufffd. */
START_TEST(test_write_invalid_utf8) {
        _cleanup_gojson_ gojson *v = gojson_new_string("a\xff\xc3(\xe2\x80\xa8\0<", 9);
        _cleanup_free_ char *out = NULL;

        ck_assert_int_eq(gojson_format(v, 0, &out, NULL), 0);
        ck_assert_str_eq(out, "\"a\\ufffd\\ufffd(\\u2028\\u0000\\u003c\"");
}
END_TEST

START_TEST(test_indent) {
        static const char in[] = "{\"z\":[],\"a\":{},\"m\":[1,{\"y\":null,\"x\":true}],\"s\":\"v\"}";
        _cleanup_gojson_ gojson *v = NULL;
        _cleanup_free_ char *out = NULL, *doc = NULL;

        ck_assert_int_eq(gojson_parse(in, strlen(in), 0, &v, NULL, 0), 0);
        ck_assert_int_eq(gojson_format(v, GOJSON_SORT | GOJSON_INDENT | GOJSON_NEWLINE, &out, NULL), 0);
        ck_assert_str_eq(out, "{\n  \"a\": {},\n  \"m\": [\n    1,\n    {\n      \"x\": true,\n      \"y\": null\n    }\n  ],\n"
                              "  \"s\": \"v\",\n  \"z\": []\n}\n");
        /* Document order without GOJSON_SORT. */
        ck_assert_int_eq(gojson_format(v, 0, &doc, NULL), 0);
        ck_assert_str_eq(doc, in);
}
END_TEST

/* ---- §4.5 validity ---- */

static const struct {
        const char *name;
        bool conflist;
        const char *content;
        const char *reason; /* NULL: valid */
} validity_cases[] = {
        { "non-JSON .conf", false, "this is not json", "error parsing configuration" },
        { ".conf without type", false, "{\"cniVersion\":\"0.3.1\",\"name\":\"x\"}", "perhaps this is a .conflist" },
        { ".conf with empty type", false, "{\"type\":\"\"}", "missing 'type'" },
        { ".conf, type folded", false, "{\"TYPE\":\"bridge\"}", NULL },
        { ".conf, later folded type empties it", false, "{\"type\":\"bridge\",\"Type\":\"\"}", "missing 'type'" },
        { ".conf, type null then string", false, "{\"type\":null,\"tYpe\":\"b\"}", NULL },
        { ".conf, ipam not an object", false, "{\"type\":\"b\",\"ipam\":\"host-local\"}", "ipam" },
        { ".conf, dns nameservers not strings", false, "{\"type\":\"b\",\"dns\":{\"nameservers\":[1]}}", "nameservers" },
        { ".conf, capabilities not bools", false, "{\"type\":\"b\",\"capabilities\":{\"portMappings\":\"yes\"}}", "capabilities" },
        { ".conf, name not a string", false, "{\"type\":\"b\",\"name\":5}", "name" },
        { ".conf, prevResult a list", false, "{\"type\":\"b\",\"prevResult\":[]}", "prevResult" },
        { ".conf, unknown keys of any type", false, "{\"type\":\"b\",\"x\":[1,{}],\"ipam\":{\"subnet\":5}}", NULL },
        { ".conf, top-level list", false, "[{\"type\":\"b\"}]", "not an object" },
        { ".conf, null", false, "null", "not an object" },
        { "conflist", true, "{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"bridge\"},{\"type\":\"portmap\"}]}", NULL },
        { "conflist without name", true, "{\"cniVersion\":\"0.3.1\",\"plugins\":[{\"type\":\"bridge\"}]}", "no name" },
        { "conflist, name not a string", true, "{\"name\":1,\"plugins\":[{\"type\":\"bridge\"}]}", "invalid name type" },
        { "conflist, cniVersion a number", true, "{\"name\":\"n\",\"cniVersion\":1,\"plugins\":[{\"type\":\"b\"}]}", "cniVersion" },
        { "conflist without plugins", true, "{\"name\":\"n\",\"cniVersion\":\"0.3.1\"}", "no plugin configs found" },
        { "conflist, empty plugins", true, "{\"name\":\"n\",\"plugins\":[]}", "no plugins in list" },
        { "conflist, pugins typo", true, "{\"name\":\"n\",\"pugins\":[{\"type\":\"bridge\"}]}", "no plugin configs found" },
        { "conflist, plugins an object", true, "{\"name\":\"n\",\"plugins\":{\"type\":\"b\"}}", "invalid 'plugins' type" },
        { "conflist, plugin without type", true, "{\"name\":\"n\",\"plugins\":[{\"type\":\"b\"},{\"name\":\"x\"}]}", "plugin config 1" },
        { "conflist, plugin null", true, "{\"name\":\"n\",\"plugins\":[null]}", "plugin config 0" },
        { "conflist, duplicate type: the last counts", true, "{\"name\":\"n\",\"plugins\":[{\"type\":\"b\",\"type\":\"\"}]}", "missing 'type'" },
        { "conflist, cniVersions", true, "{\"name\":\"n\",\"cniVersions\":[\"1.0.0\",\"0.4\",\"2.0.0\"],\"plugins\":[{\"type\":\"b\"}]}", NULL },
        { "conflist, bad cniVersions entry", true, "{\"name\":\"n\",\"cniVersions\":[\"1.0.0\",\"a.b\"],\"plugins\":[{\"type\":\"b\"}]}", "cniVersions entry" },
        { "conflist, cniVersions not a list", true, "{\"name\":\"n\",\"cniVersions\":\"1.0.0\",\"plugins\":[{\"type\":\"b\"}]}", "cniVersions" },
        { "conflist, bad cniVersion with cniVersions", true, "{\"name\":\"n\",\"cniVersion\":\"1.0.0.0\",\"cniVersions\":[],\"plugins\":[{\"type\":\"b\"}]}", "invalid cniVersion" },
        { "conflist, disableCheck \"TRUE\"", true, "{\"name\":\"n\",\"disableCheck\":\"TRUE\",\"plugins\":[{\"type\":\"b\"}]}", NULL },
        { "conflist, disableCheck \"yes\"", true, "{\"name\":\"n\",\"disableCheck\":\"yes\",\"plugins\":[{\"type\":\"b\"}]}", "disableCheck" },
        { "conflist, disableGC 1", true, "{\"name\":\"n\",\"disableGC\":1,\"plugins\":[{\"type\":\"b\"}]}", "disableGC" },
        { "conflist, loadOnlyInlinedPlugins without plugins", true, "{\"name\":\"n\",\"loadOnlyInlinedPlugins\":true}", "no 'plugins' key" },
        { "conflist, not JSON", true, "{\"name\":", "error parsing configuration list" },
};

START_TEST(test_validity) {
        char err[512] = "";
        int r = cniconf_check_content(validity_cases[_i].content, strlen(validity_cases[_i].content),
                                      validity_cases[_i].conflist, NULL, err, sizeof err);
        if (!validity_cases[_i].reason) {
                ck_assert_msg(r == 1, "%s: %s", validity_cases[_i].name, err);
                return;
        }
        ck_assert_msg(r == 0, "%s: valid?", validity_cases[_i].name);
        ck_assert_msg(strstr(err, validity_cases[_i].reason), "%s: %s", validity_cases[_i].name, err);
}
END_TEST

struct skips {
        char text[4096];
};

static void on_skip(void *userdata, const char *name, const char *reason) {
        struct skips *s = userdata;
        size_t n = strlen(s->text);
        snprintf(s->text + n, sizeof s->text - n, "%s: %s\n", name, reason);
}

static char tmpdir[64];

static void mkfile(const char *rel, const char *content) {
        _cleanup_free_ char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, rel), 0);
        ck_assert_int_eq(fileio_write_atomic(p, content, strlen(content), 0644), 0);
}

static void mkd(const char *rel) {
        _cleanup_free_ char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, rel), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void rm_rf_tmpdir(void) {
        _cleanup_free_ char *cmd = NULL;
        if (!tmpdir[0])
                return;
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", tmpdir), 0);
        ck_assert_int_eq(system(cmd), 0);
        tmpdir[0] = '\0';
}

START_TEST(test_list_valid) {
        static const char plugin[] = "{\"type\":\"bridge\"}";
        _cleanup_strv_free_ char **names = NULL;
        struct skips sk = {};
        size_t n = 99;

        strcpy(tmpdir, "/tmp/cniconf-test.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        mkfile("00-non_json.conf", "not json");
        mkfile("01-bad_minikube.conf", "{\"cniVersion\":\"0.3.1\",\"name\":\"k8s\"}");
        mkfile("02-noname.conflist", "{\"plugins\":[{\"type\":\"bridge\"}]}");
        mkfile("03-noplugins.conflist", "{\"name\":\"np\",\"cniVersion\":\"0.3.1\"}");
        mkfile("04-empty.conflist", "{\"name\":\"e\",\"plugins\":[]}");
        mkfile("05-pugins.conflist", "{\"name\":\"p\",\"pugins\":[{\"type\":\"bridge\"}]}");
        mkfile("06-ignored.json", plugin);
        mkfile("07-ignored.conf.bak", plugin);
        mkd("08-a-dir.conf");
        mkfile("10-calico.conflist", "{\"name\":\"k8s-pod-network\",\"plugins\":[{\"type\":\"calico\"}]}");
        mkfile("20-minikube.conf", plugin);
        mkfile("B.conf", plugin);
        mkfile("_x.conf", plugin);
        mkfile("a.conf", plugin);
        /* Inline plugin directories (libcni v1.3): */
        mkfile("30-inline.conflist", "{\"name\":\"inl\"}");
        mkd("inl");
        mkfile("inl/p.conf", "{\"type\":\"bridge\"}");
        mkfile("inl/ignored.json", "garbage");
        mkfile("31-only-inlined.conflist", "{\"name\":\"inl\",\"loadOnlyInlinedPlugins\":true}");
        mkfile("32-inlined-bad.conflist", "{\"name\":\"bad\",\"plugins\":[{\"type\":\"x\"}]}");
        mkd("bad");
        mkfile("bad/q.conf", "{\"name\":\"no type\"}");
        mkfile("33-only-inlined-bad.conflist", "{\"name\":\"bad\",\"loadOnlyInlinedPlugins\":\"true\",\"plugins\":[{\"type\":\"x\"}]}");
        mkfile("34-name-is-a-file.conflist", "{\"name\":\"B.conf\"}");
        /* A FIFO must not hang the scan; a symlink to a directory is read and fails. */
        _cleanup_free_ char *fifo = NULL, *link = NULL, *target = NULL;
        ck_assert_int_ge(asprintf(&fifo, "%s/40-fifo.conf", tmpdir), 0);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        ck_assert_int_ge(asprintf(&link, "%s/41-link.conf", tmpdir), 0);
        ck_assert_int_ge(asprintf(&target, "%s/inl", tmpdir), 0);
        ck_assert_int_eq(symlink(target, link), 0);

        ck_assert_int_eq(cniconf_list_valid(tmpdir, on_skip, &sk, &names, &n), 0);
        ck_assert_uint_eq(n, 7);
        static const char *const want[] = { "10-calico.conflist", "20-minikube.conf", "30-inline.conflist",
                                            "33-only-inlined-bad.conflist", "B.conf", "_x.conf", "a.conf", NULL };
        /* Byte-wise order: digits < upper case < '_' < lower case. */
        for (size_t i = 0; want[i]; i++)
                ck_assert_str_eq(names[i], want[i]);
        ck_assert_ptr_null(names[7]);
        ck_assert_msg(strstr(sk.text, "00-non_json.conf: error parsing configuration"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "01-bad_minikube.conf: error parsing configuration: missing 'type' (perhaps this is a .conflist?)"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "02-noname.conflist: error parsing configuration list: no name"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "03-noplugins.conflist: no plugin configs found"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "04-empty.conflist: error parsing configuration list: no plugins in list"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "05-pugins.conflist: no plugin configs found"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "31-only-inlined.conflist: error parsing configuration list: `loadOnlyInlinedPlugins` is true"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "32-inlined-bad.conflist: plugin config file ") && strstr(sk.text, "bad/q.conf"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "34-name-is-a-file.conflist: failed to read plugin config files"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "40-fifo.conf: cannot read: not a regular file"), "%s", sk.text);
        ck_assert_msg(strstr(sk.text, "41-link.conf: cannot read: Is a directory"), "%s", sk.text);
        /* Neither the .json, the .bak nor the directory is considered at all. */
        ck_assert_ptr_null(strstr(sk.text, "ignored"));
        ck_assert_ptr_null(strstr(sk.text, "08-a-dir"));
        rm_rf_tmpdir();
}
END_TEST

START_TEST(test_list_missing_dir) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 99;

        ck_assert_int_eq(cniconf_list_valid("/nonexistent/cni/net.d", NULL, NULL, &names, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_nonnull(names);
        ck_assert_ptr_null(names[0]);
        ck_assert_int_eq(cniconf_list_valid("/etc/hostname", NULL, NULL, &names, &n), -ENOTDIR);
}
END_TEST

/* ---- insert / remove / has ---- */

static const char istio_entry[] = "{\"cniVersion\":\"0.3.1\",\"name\":\"istio-cni\",\"type\":\"istio-cni\",\"plugin_log_level\":\"info\"}";

static char *insert_ok(const char *in) {
        char *out = NULL, err[256] = "";
        ck_assert_msg(cniconf_insert(in, strlen(in), istio_entry, &out, err, sizeof err) == 0, "%s", err);
        return out;
}

/* Counts istio-cni plugins and whether the last plugin is one. */
static size_t count_istio(const char *conf, bool *last) {
        _cleanup_gojson_ gojson *v = NULL;
        size_t n = 0;

        ck_assert_int_eq(gojson_parse(conf, strlen(conf), 0, &v, NULL, 0), 0);
        gojson *p = gojson_get(v, "plugins");
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < p->n_items; i++)
                if (gojson_is_str(gojson_get(p->items[i], "type"), "istio-cni"))
                        n++;
        *last = p->n_items > 0 && gojson_is_str(gojson_get(p->items[p->n_items - 1], "type"), "istio-cni");
        return n;
}

START_TEST(test_insert_remove) {
        static const char list[] = "{\"name\":\"dbnet\",\"cniVersion\":\"1.0.0\",\"x-unknown\":{\"k\":\"a<b\"},"
                                   "\"plugins\":[{\"type\":\"bridge\",\"mtu\":1500},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}";
        _cleanup_free_ char *once = insert_ok(list), *twice = insert_ok(once), *removed = NULL, *plain = NULL;
        char err[256];
        bool last;

        ck_assert_uint_eq(count_istio(once, &last), 1);
        ck_assert(last);
        ck_assert_str_eq(once, twice);
        ck_assert_ptr_nonnull(strstr(once, "\"k\": \"a\\u003cb\""));
        ck_assert_ptr_nonnull(strstr(once, "\"mtu\": 1500"));
        ck_assert_ptr_null(strstr(once, "\"cniVersion\": \"0.3.1\""));

        /* remove(insert(x)) is x re-serialised: the other plugins and keys stay. */
        ck_assert_int_eq(cniconf_remove(once, strlen(once), &removed, err, sizeof err), 0);
        ck_assert_int_eq(cniconf_remove(list, strlen(list), &plain, err, sizeof err), 0);
        ck_assert_str_eq(removed, plain);
        ck_assert_uint_eq(count_istio(removed, &last), 0);
        ck_assert_ptr_nonnull(strstr(removed, "\"portmap\""));
}
END_TEST

START_TEST(test_insert_dedups) {
        static const char list[] = "{\"name\":\"n\",\"plugins\":[{\"type\":\"istio-cni\",\"old\":1},{\"type\":\"bridge\"},"
                                   "{\"type\":\"istio-cni\",\"old\":2}]}";
        _cleanup_free_ char *out = insert_ok(list), *removed = NULL;
        char err[256];
        bool last;

        ck_assert_uint_eq(count_istio(out, &last), 1);
        ck_assert(last);
        ck_assert_ptr_null(strstr(out, "\"old\""));
        ck_assert_ptr_nonnull(strstr(out, "\"bridge\""));
        /* Cleanup removes only the first one (Istio's cleanup), here the only one. */
        ck_assert_int_eq(cniconf_remove(list, strlen(list), &removed, err, sizeof err), 0);
        ck_assert_ptr_null(strstr(removed, "\"old\": 1"));
        ck_assert_ptr_nonnull(strstr(removed, "\"old\": 2"));
}
END_TEST

START_TEST(test_insert_conf) {
        static const char conf[] = "{\"cniVersion\":\"1.0.0\",\"name\":\"mynet\",\"type\":\"ptp\",\"ipam\":{\"type\":\"host-local\"}}";
        _cleanup_free_ char *out = insert_ok(conf), *removed = NULL, *again = NULL;
        char err[256];
        bool last;

        ck_assert_str_eq(out, "{\n"
                              "  \"cniVersion\": \"0.3.1\",\n"
                              "  \"name\": \"k8s-pod-network\",\n"
                              "  \"plugins\": [\n"
                              "    {\n"
                              "      \"ipam\": {\n"
                              "        \"type\": \"host-local\"\n"
                              "      },\n"
                              "      \"name\": \"mynet\",\n"
                              "      \"type\": \"ptp\"\n"
                              "    },\n"
                              "    {\n"
                              "      \"name\": \"istio-cni\",\n"
                              "      \"plugin_log_level\": \"info\",\n"
                              "      \"type\": \"istio-cni\"\n"
                              "    }\n"
                              "  ]\n"
                              "}\n");
        /* Cleanup leaves a list (not the .conf back), as Istio does. */
        ck_assert_int_eq(cniconf_remove(out, strlen(out), &removed, err, sizeof err), 0);
        ck_assert_uint_eq(count_istio(removed, &last), 0);
        ck_assert_ptr_nonnull(strstr(removed, "\"name\": \"k8s-pod-network\""));
        ck_assert_ptr_nonnull(strstr(removed, "\"type\": \"ptp\""));
        /* Re-inserting into the converted list keeps it a list. */
        again = insert_ok(removed);
        ck_assert_str_eq(again, out);
}
END_TEST

static const struct { const char *in, *err; } insert_errors[] = {
        { "{\"name\":\"n\",\"plugins\":\"bridge\"}", "\"plugins\" is a string, not an array" },
        { "{\"name\":\"n\",\"plugins\":null}", "\"plugins\" is null, not an array" },
        { "{\"name\":\"n\",\"plugins\":[{\"type\":\"b\"},7]}", "plugin 1 is a number, not an object" },
        { "{\"name\":\"n\"}", "no \"plugins\" list" },
        { "not json", "error loading existing CNI config (JSON error)" },
        { "", "JSON error" },
        { "[]", "the top level is an array, not an object" },
        { "null", "the top level is null" },
};

START_TEST(test_insert_errors) {
        char *out = NULL, err[256] = "";

        ck_assert_int_eq(cniconf_insert(insert_errors[_i].in, strlen(insert_errors[_i].in), istio_entry, &out, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(err, insert_errors[_i].err), "%s: %s", insert_errors[_i].in, err);
        err[0] = '\0';
        ck_assert_int_eq(cniconf_remove(insert_errors[_i].in, strlen(insert_errors[_i].in), &out, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, insert_errors[_i].err), "%s: %s", insert_errors[_i].in, err);
        ck_assert_int_eq(cniconf_insert("{\"name\":\"n\",\"plugins\":[]}", strlen("{\"name\":\"n\",\"plugins\":[]}"), "[1]", &out, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "istio-cni plugin entry is an array"), "%s", err);
}
END_TEST

static const struct {
        const char *in;
        bool chained, want;
        const char *reason;
} has_cases[] = {
        { "{\"plugins\":[{\"type\":\"bridge\"},{\"type\":\"istio-cni\"}]}", true, true, NULL },
        { "{\"plugins\":[{\"type\":\"bridge\"}]}", true, false, "no plugin of type \"istio-cni\"" },
        { "{\"plugins\":\"x\"}", true, false, "\"plugins\" is a string" },
        { "{\"plugins\":[{\"type\":\"istio-cni\"},3]}", true, false, "plugin 1 is a number" },
        /* Other plugins' types are not judged (Istio's check): neither a number nor a missing
         * "type" (libcni reads "Type" too; a fuzz finding) is an error. */
        { "{\"plugins\":[{\"type\":1},{\"type\":\"istio-cni\"}]}", true, true, NULL },
        { "{\"plugins\":[{\"type\":[\"istio-cni\"]}]}", true, false, "no plugin of type \"istio-cni\"" },
        { "{\"plugins\":[{\"Type\":\"flannel\"},{\"type\":\"istio-cni\"}]}", true, true, NULL },
        { "{\"type\":\"istio-cni\"}", true, false, "no \"plugins\"" },
        { "{\"plugins\":[{\"type\":\"istio-cni\"}],", true, false, "JSON error" },
        { "{\"type\":\"istio-cni\"}", false, true, NULL },
        { "{\"type\":\"bridge\"}", false, false, "\"bridge\", not \"istio-cni\"" },
        { "{\"type\":[]}", false, false, "an array, not \"istio-cni\"" },
        { "{}", false, false, "missing, not \"istio-cni\"" },
        { "garbage", false, false, "JSON error" },
};

START_TEST(test_has_istio) {
        char err[256] = "";
        bool has = !has_cases[_i].want;

        ck_assert_int_eq(cniconf_has_istio(has_cases[_i].in, strlen(has_cases[_i].in), has_cases[_i].chained, &has, err, sizeof err), 0);
        ck_assert_msg(has == has_cases[_i].want, "%s", has_cases[_i].in);
        if (has_cases[_i].reason)
                ck_assert_msg(strstr(err, has_cases[_i].reason), "%s: %s", has_cases[_i].in, err);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("cniconf");
        TCase *tc = tcase_create("cniconf");
        tcase_add_loop_test(tc, test_merge_golden, 0, ELEMENTSOF(merge_cases));
        tcase_add_test(tc, test_entry_golden);
        tcase_add_test(tc, test_entry_fields);
        tcase_add_loop_test(tc, test_numbers, 0, ELEMENTSOF(number_cases));
        tcase_add_loop_test(tc, test_strings, 0, ELEMENTSOF(string_cases));
        tcase_add_loop_test(tc, test_parse_errors, 0, ELEMENTSOF(parse_errors));
        tcase_add_test(tc, test_depth);
        tcase_add_test(tc, test_indent);
        tcase_add_test(tc, test_write_invalid_utf8);
        tcase_add_loop_test(tc, test_validity, 0, ELEMENTSOF(validity_cases));
        tcase_add_test(tc, test_list_valid);
        tcase_add_test(tc, test_list_missing_dir);
        tcase_add_test(tc, test_insert_remove);
        tcase_add_test(tc, test_insert_dedups);
        tcase_add_test(tc, test_insert_conf);
        tcase_add_loop_test(tc, test_insert_errors, 0, ELEMENTSOF(insert_errors));
        tcase_add_loop_test(tc, test_has_istio, 0, ELEMENTSOF(has_cases));
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
