/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics.c: the agent's metrics registry (lib/agent/metrics.c; spec istio-cni.md §4.10,
 * Prometheus text format 0.0.4). `test_metrics --render-sample` prints a sample registry for
 * tests/e2e/agent/metrics-promparse.test.sh, which reads it back with prometheus_client's parser. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/metrics.h"
#include "base/macro.h"

static const double LAT_BUCKETS[] = { 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1 };

/* Builds the sample registry without check's asserts (it also runs outside a test). */
#define S(expr) do { if ((expr) != 0) goto fail; } while (0)
static struct metrics *sample(void) {
        struct metrics *m;
        if (metrics_new(&m) < 0)
                return NULL;
        S(metrics_declare(m, "istio_cni_install_ready", METRICS_GAUGE,
                  "Whether the CNI plugin installation is ready or not", NULL, 0));
        S(metrics_declare(m, "istio_cni_installs_total", METRICS_COUNTER,
                  "Total number of CNI plugins installed by the Istio CNI installer", NULL, 0));
        S(metrics_declare(m, "cnibox_plugin_add_stage_seconds", METRICS_HISTOGRAM,
                  "Per-stage time of the plugin's ADD\nas reported \\ over the log socket",
                  LAT_BUCKETS, ELEMENTSOF(LAT_BUCKETS)));
        S(metrics_declare(m, "cnibox_install_pass_seconds", METRICS_HISTOGRAM, NULL, NULL, 0));
        S(metrics_gauge_set(m, "istio_cni_install_ready", NULL, 1));
        S(metrics_counter_add(m, "istio_cni_installs_total", "result=\"SUCCESS\"", 2));
        S(metrics_counter_add(m, "istio_cni_installs_total", "result=\"COPY_BINARIES_FAILURE\"", 1));
        S(metrics_counter_add(m, "istio_cni_installs_total", "result=\"SUCCESS\"", 1));
        S(metrics_histogram_observe(m, "cnibox_plugin_add_stage_seconds", "stage=\"rules\"", 0.004));
        S(metrics_histogram_observe(m, "cnibox_plugin_add_stage_seconds", "stage=\"rules\"", 0.0005));
        S(metrics_histogram_observe(m, "cnibox_plugin_add_stage_seconds", "stage=\"rules\"", 3));
        S(metrics_histogram_observe(m, "cnibox_plugin_add_stage_seconds",
                  "stage=\"pod \\\"lookup\\\"\\n\\\\\"", 0.01));
        S(metrics_histogram_observe(m, "cnibox_install_pass_seconds", "", 0.125));
        return m;
fail:
        return metrics_free(m);
}

static const char SAMPLE_TEXT[] =
        "# HELP istio_cni_install_ready Whether the CNI plugin installation is ready or not\n"
        "# TYPE istio_cni_install_ready gauge\n"
        "istio_cni_install_ready 1\n"
        "# HELP istio_cni_installs_total Total number of CNI plugins installed by the Istio CNI installer\n"
        "# TYPE istio_cni_installs_total counter\n"
        "istio_cni_installs_total{result=\"COPY_BINARIES_FAILURE\"} 1\n"
        "istio_cni_installs_total{result=\"SUCCESS\"} 3\n"
        "# HELP cnibox_plugin_add_stage_seconds Per-stage time of the plugin's ADD\\nas reported \\\\ over the log socket\n"
        "# TYPE cnibox_plugin_add_stage_seconds histogram\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.001\"} 0\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.0025\"} 0\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.005\"} 0\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.01\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.05\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"0.25\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"1\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"pod \\\"lookup\\\"\\n\\\\\",le=\"+Inf\"} 1\n"
        "cnibox_plugin_add_stage_seconds_sum{stage=\"pod \\\"lookup\\\"\\n\\\\\"} 0.01\n"
        "cnibox_plugin_add_stage_seconds_count{stage=\"pod \\\"lookup\\\"\\n\\\\\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.001\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.0025\"} 1\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.005\"} 2\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.01\"} 2\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.05\"} 2\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"0.25\"} 2\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"1\"} 2\n"
        "cnibox_plugin_add_stage_seconds_bucket{stage=\"rules\",le=\"+Inf\"} 3\n"
        "cnibox_plugin_add_stage_seconds_sum{stage=\"rules\"} 3.0045\n"
        "cnibox_plugin_add_stage_seconds_count{stage=\"rules\"} 3\n"
        "# TYPE cnibox_install_pass_seconds histogram\n"
        "cnibox_install_pass_seconds_bucket{le=\"+Inf\"} 1\n"
        "cnibox_install_pass_seconds_sum 0.125\n"
        "cnibox_install_pass_seconds_count 1\n";

/* Compares line by line, so a failure names the first line that differs. */
START_TEST(test_render_format) {
        struct metrics *m = sample();
        ck_assert_ptr_nonnull(m);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        ck_assert_int_eq(metrics_render(m, &text, &len), 0);
        ck_assert_uint_eq(len, strlen(text));
        const char *a = text, *b = SAMPLE_TEXT;
        int line = 1;
        while (*a || *b) {
                const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');
                ck_assert_msg((ea - a) == (eb - b) && memcmp(a, b, (size_t)(ea - a)) == 0,
                              "line %d:\n got: %.*s\nwant: %.*s", line, (int)(ea - a), a, (int)(eb - b), b);
                ck_assert_msg(*ea == *eb, "line %d: newline mismatch", line);
                a = *ea ? ea + 1 : ea;
                b = *eb ? eb + 1 : eb;
                line++;
        }
        ck_assert(text[len - 1] == '\n');
        metrics_free(m);
}
END_TEST

START_TEST(test_empty) {
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;
        size_t len = 99;
        ck_assert_int_eq(metrics_render(m, &t1, &len), 0);
        ck_assert_str_eq(t1, "");
        ck_assert_uint_eq(len, 0);
        /* A declared family with no series: HELP and TYPE only. */
        ck_assert_int_eq(metrics_declare(m, "c_total", METRICS_COUNTER, "h", NULL, 0), 0);
        ck_assert_int_eq(metrics_render(m, &t2, NULL), 0);
        ck_assert_str_eq(t2, "# HELP c_total h\n# TYPE c_total counter\n");
        ck_assert_ptr_null(metrics_free(m));
        ck_assert_ptr_null(metrics_free(NULL));
}
END_TEST

/* One series per label set, whatever the order of its pairs. */
START_TEST(test_label_order) {
        struct metrics *m;
        double v;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "r_total", METRICS_COUNTER, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_counter_add(m, "r_total", "type=\"repair\",result=\"success\"", 1), 0);
        ck_assert_int_eq(metrics_counter_add(m, "r_total", "result=\"success\",type=\"repair\"", 2), 0);
        ck_assert_int_eq(metrics_get(m, "r_total", "type=\"repair\",result=\"success\"", &v), 0);
        ck_assert(v == 3);
        _cleanup_free_ char *t = NULL;
        ck_assert_int_eq(metrics_render(m, &t, NULL), 0);
        ck_assert_str_eq(t, "# TYPE r_total counter\nr_total{result=\"success\",type=\"repair\"} 3\n");
        ck_assert_int_eq(metrics_get(m, "r_total", NULL, &v), -ENOENT);
        ck_assert_int_eq(metrics_get(m, "nope", NULL, &v), -ENOENT);
        metrics_free(m);
}
END_TEST

START_TEST(test_histogram) {
        static const double b[] = { 1, 2, 5 };
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, b, ELEMENTSOF(b)), 0);
        /* A value equal to a bound belongs to that bucket (le = less or equal). */
        static const double obs[] = { 0, 1, 1.5, 2, 2, 5, 5.0001, 100, -3 };
        for (size_t i = 0; i < ELEMENTSOF(obs); i++)
                ck_assert_int_eq(metrics_histogram_observe(m, "h", NULL, obs[i]), 0);
        uint64_t count;
        double sum, v;
        ck_assert_int_eq(metrics_histogram_get(m, "h", NULL, &count, &sum), 0);
        ck_assert_uint_eq(count, ELEMENTSOF(obs));
        ck_assert_double_eq_tol(sum, 113.5001, 1e-9);
        ck_assert_int_eq(metrics_get(m, "h", NULL, &v), -EINVAL);
        _cleanup_free_ char *t = NULL;
        ck_assert_int_eq(metrics_render(m, &t, NULL), 0);
        ck_assert_str_eq(t, "# TYPE h histogram\n"
                            "h_bucket{le=\"1\"} 3\n"
                            "h_bucket{le=\"2\"} 6\n"
                            "h_bucket{le=\"5\"} 7\n"
                            "h_bucket{le=\"+Inf\"} 9\n"
                            "h_sum 113.5001\n"
                            "h_count 9\n");
        ck_assert_int_eq(metrics_histogram_observe(m, "h", NULL, NAN), -EINVAL);
        ck_assert_int_eq(metrics_histogram_observe(m, "h", NULL, INFINITY), -EINVAL);
        ck_assert_int_eq(metrics_histogram_observe(m, "h", "le=\"1\"", 1), -EINVAL);
        ck_assert_int_eq(metrics_counter_add(m, "h", NULL, 1), -EINVAL);
        metrics_free(m);
}
END_TEST

START_TEST(test_values) {
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "g", METRICS_GAUGE, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_declare(m, "c", METRICS_COUNTER, NULL, NULL, 0), 0);
        static const struct { double v; const char *text; } cases[] = {
                /* Go's strconv.FormatFloat(v, 'g', -1, 64), as client_golang prints values: %e from an
                 * exponent of 6 up, so 250 is "250" (C's shortest %g would say "2.5e+02"). */
                { 0, "0" }, { -0.5, "-0.5" }, { 0.1, "0.1" }, { 1e21, "1e+21" }, { 123456789, "1.23456789e+08" },
                { 250, "250" }, { 123456, "123456" }, { 1e6, "1e+06" }, { 0.0001, "0.0001" }, { 1e-5, "1e-05" },
                { 1.0 / 3, "0.3333333333333333" }, { 5e-324, "5e-324" },
                { INFINITY, "+Inf" }, { -INFINITY, "-Inf" }, { NAN, "NaN" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ck_assert_int_eq(metrics_gauge_set(m, "g", NULL, cases[i].v), 0);
                _cleanup_free_ char *t = NULL;
                char want[128];
                ck_assert_int_eq(metrics_render(m, &t, NULL), 0);
                snprintf(want, sizeof want, "# TYPE g gauge\ng %s\n# TYPE c counter\n", cases[i].text);
                ck_assert_str_eq(t, want);
        }
        ck_assert_int_eq(metrics_counter_add(m, "c", NULL, -1), -EINVAL);
        ck_assert_int_eq(metrics_counter_add(m, "c", NULL, NAN), -EINVAL);
        ck_assert_int_eq(metrics_counter_add(m, "c", NULL, INFINITY), -EINVAL);
        ck_assert_int_eq(metrics_counter_add(m, "c", NULL, 0), 0);
        ck_assert_int_eq(metrics_gauge_set(m, "c", NULL, 1), -EINVAL);
        ck_assert_int_eq(metrics_counter_add(m, "g", NULL, 1), -EINVAL);
        metrics_free(m);
}
END_TEST

static const struct {
        const char *labels;
        int want;
} label_cases[] = {
        { "result=\"SUCCESS\"", 0 },
        { "a=\"\"", 0 },
        { "_a1=\"x\",b=\"y\"", 0 },
        { "a=\"\\\\\\\"\\n\"", 0 },
        { "a=\"h\xc3\xa9\"", 0 },
        { "a=\"\xf0\x9f\x98\x80\"", 0 },
        { "{a=\"1\"}", -EINVAL },               /* braces are not part of the argument */
        { "a=1", -EINVAL },
        { "a=\"1", -EINVAL },
        { "a=\"1\",", -EINVAL },
        { ",a=\"1\"", -EINVAL },
        { "a=\"1\" ", -EINVAL },
        { "a =\"1\"", -EINVAL },
        { "a=\"1\",,b=\"2\"", -EINVAL },
        { "a=\"1\"b=\"2\"", -EINVAL },
        { "1a=\"1\"", -EINVAL },
        { "a-b=\"1\"", -EINVAL },
        { "a:b=\"1\"", -EINVAL },               /* colons are for metric names only */
        { "__name__=\"x\"", -EINVAL },
        { "a=\"1\",a=\"2\"", -EINVAL },
        { "a=\"\\t\"", -EINVAL },
        { "a=\"\\\"", -EINVAL },
        { "a=\"x\ny\"", -EINVAL },
        { "a=\"\xc3\"", -EINVAL },
        { "a=\"\xc0\xaf\"", -EINVAL },          /* overlong '/' */
        { "a=\"\xed\xa0\x80\"", -EINVAL },      /* surrogate */
        { "a=\"\xf4\x90\x80\x80\"", -EINVAL },  /* past U+10FFFF */
        { "=\"1\"", -EINVAL },
};

START_TEST(test_bad_labels) {
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "c", METRICS_COUNTER, NULL, NULL, 0), 0);
        int r = metrics_counter_add(m, "c", label_cases[_i].labels, 1);
        ck_assert_msg(r == label_cases[_i].want, "%s: got %d want %d", label_cases[_i].labels, r, label_cases[_i].want);
        double v;
        if (r == 0) {
                ck_assert_int_eq(metrics_get(m, "c", label_cases[_i].labels, &v), 0);
                ck_assert(v == 1);
        } else {
                _cleanup_free_ char *t = NULL;
                ck_assert_int_eq(metrics_render(m, &t, NULL), 0);
                ck_assert_str_eq(t, "# TYPE c counter\n");    /* nothing was created */
        }
        metrics_free(m);
}
END_TEST

START_TEST(test_declare) {
        static const double asc[] = { 0.1, 1 }, dup[] = { 1, 1 }, desc[] = { 2, 1 }, inf[] = { 1, INFINITY };
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "", METRICS_COUNTER, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, NULL, METRICS_COUNTER, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "1abc", METRICS_COUNTER, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "a-b", METRICS_COUNTER, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "a b", METRICS_COUNTER, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "ns:sub_total", METRICS_COUNTER, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_declare(m, "ns:sub_total", METRICS_GAUGE, NULL, NULL, 0), -EEXIST);
        ck_assert_int_eq(metrics_declare(m, "g", METRICS_GAUGE, NULL, asc, 2), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "g", METRICS_GAUGE, "bad \xff utf-8", NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, dup, 2), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, desc, 2), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, inf, 2), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, NULL, 2), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", (enum metrics_type)7, NULL, NULL, 0), -EINVAL);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, asc, 2), 0);
        /* A histogram's sample names clash with families of those names, both ways round. */
        ck_assert_int_eq(metrics_declare(m, "h_sum", METRICS_GAUGE, NULL, NULL, 0), -EEXIST);
        ck_assert_int_eq(metrics_declare(m, "h_bucket", METRICS_GAUGE, NULL, NULL, 0), -EEXIST);
        ck_assert_int_eq(metrics_declare(m, "x_count", METRICS_GAUGE, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_declare(m, "x", METRICS_HISTOGRAM, NULL, NULL, 0), -EEXIST);
        ck_assert_int_eq(metrics_declare(m, "h_summary", METRICS_GAUGE, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_gauge_set(m, "undeclared", NULL, 1), -ENOENT);
        metrics_free(m);
}
END_TEST

START_TEST(test_cardinality) {
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "g", METRICS_GAUGE, NULL, NULL, 0), 0);
        char l[64];
        for (int i = 0; i < METRICS_MAX_SERIES; i++) {
                snprintf(l, sizeof l, "pod=\"p%d\"", i);
                ck_assert_int_eq(metrics_gauge_set(m, "g", l, i), 0);
        }
        ck_assert_int_eq(metrics_gauge_set(m, "g", "pod=\"one-too-many\"", 1), -E2BIG);
        /* Existing series still update. */
        ck_assert_int_eq(metrics_gauge_set(m, "g", "pod=\"p7\"", 70), 0);
        double v;
        ck_assert_int_eq(metrics_get(m, "g", "pod=\"p7\"", &v), 0);
        ck_assert(v == 70);
        metrics_free(m);
}
END_TEST

START_TEST(test_label_escape) {
        static const struct { const char *in, *out; } cases[] = {
                { "", "" }, { "plain", "plain" }, { "a\\b", "a\\\\b" }, { "q\"q", "q\\\"q" },
                { "l1\nl2", "l1\\nl2" }, { "tab\tok", "tab\tok" }, { "h\xc3\xa9", "h\xc3\xa9" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = NULL;
                ck_assert_int_eq(metrics_label_escape(cases[i].in, &e), 0);
                ck_assert_str_eq(e, cases[i].out);
        }
        char *e = NULL;
        ck_assert_int_eq(metrics_label_escape("bad\xff", &e), -EINVAL);
        ck_assert_ptr_null(e);

        /* What the escape produces is accepted as a label value and round-trips. */
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "c", METRICS_COUNTER, NULL, NULL, 0), 0);
        _cleanup_free_ char *esc = NULL, *labels = NULL;
        ck_assert_int_eq(metrics_label_escape("/etc/cni/net.d/\"10\"\\x\n", &esc), 0);
        ck_assert_int_gt(asprintf(&labels, "file=\"%s\"", esc), 0);
        ck_assert_int_eq(metrics_counter_add(m, "c", labels, 1), 0);
        metrics_free(m);
}
END_TEST

#define N_THREADS 8
#define N_ADDS 100000

static void *adder(void *arg) {
        struct metrics *m = arg;
        for (int i = 0; i < N_ADDS; i++) {
                if (metrics_counter_add(m, "c_total", (i & 1) ? "r=\"odd\"" : "r=\"even\"", 1) < 0 ||
                    metrics_counter_add(m, "c_total", NULL, 0.5) < 0 ||
                    metrics_histogram_observe(m, "h", NULL, (i % 4) * 0.5) < 0)
                        return (void *)1;
                if (i % 5000 == 0) {
                        /* Renders race with the updates; the text must stay well-formed. */
                        char *t = NULL;
                        if (metrics_render(m, &t, NULL) < 0 || !strstr(t, "# TYPE h histogram\n"))
                                return (void *)1;
                        free(t);
                }
        }
        return NULL;
}

START_TEST(test_concurrency) {
        static const double b[] = { 0.5, 1 };
        struct metrics *m;
        ck_assert_int_eq(metrics_new(&m), 0);
        ck_assert_int_eq(metrics_declare(m, "c_total", METRICS_COUNTER, NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_declare(m, "h", METRICS_HISTOGRAM, NULL, b, 2), 0);
        pthread_t t[N_THREADS];
        for (int i = 0; i < N_THREADS; i++)
                ck_assert_int_eq(pthread_create(&t[i], NULL, adder, m), 0);
        for (int i = 0; i < N_THREADS; i++) {
                void *res;
                ck_assert_int_eq(pthread_join(t[i], &res), 0);
                ck_assert_ptr_null(res);
        }
        double odd, even;
        ck_assert_int_eq(metrics_get(m, "c_total", "r=\"odd\"", &odd), 0);
        ck_assert_int_eq(metrics_get(m, "c_total", "r=\"even\"", &even), 0);
        ck_assert(odd == N_THREADS * N_ADDS / 2);
        ck_assert(even == N_THREADS * N_ADDS / 2);
        ck_assert_int_eq(metrics_get(m, "c_total", NULL, &odd), 0);
        ck_assert(odd == N_THREADS * N_ADDS * 0.5);
        uint64_t count;
        double sum;
        ck_assert_int_eq(metrics_histogram_get(m, "h", NULL, &count, &sum), 0);
        ck_assert_uint_eq(count, N_THREADS * N_ADDS);
        ck_assert(sum == N_THREADS * (N_ADDS / 4) * (0 + 0.5 + 1 + 1.5));
        _cleanup_free_ char *text = NULL;
        char want[256];
        ck_assert_int_eq(metrics_render(m, &text, NULL), 0);
        snprintf(want, sizeof want, "h_bucket{le=\"0.5\"} %d\nh_bucket{le=\"1\"} %d\nh_bucket{le=\"+Inf\"} %d\n",
                 N_THREADS * N_ADDS / 2, N_THREADS * N_ADDS * 3 / 4, N_THREADS * N_ADDS);
        ck_assert_msg(strstr(text, want), "%s", text);
        metrics_free(m);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("registry");
        tcase_add_test(tc, test_render_format);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_label_order);
        tcase_add_test(tc, test_histogram);
        tcase_add_test(tc, test_values);
        tcase_add_loop_test(tc, test_bad_labels, 0, ELEMENTSOF(label_cases));
        tcase_add_test(tc, test_declare);
        tcase_add_test(tc, test_cardinality);
        tcase_add_test(tc, test_label_escape);
        tcase_add_test(tc, test_concurrency);
        suite_add_tcase(s, tc);
        return s;
}

int main(int argc, char **argv) {
        if (argc == 2 && streq(argv[1], "--render-sample")) {
                struct metrics *m = sample();
                char *t = NULL;
                if (!m)
                        return EXIT_FAILURE;
                size_t len;
                if (metrics_render(m, &t, &len) < 0)
                        return EXIT_FAILURE;
                fwrite(t, 1, len, stdout);
                free(t);
                metrics_free(m);
                return EXIT_SUCCESS;
        }
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
